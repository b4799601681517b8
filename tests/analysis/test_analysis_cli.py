"""`numcnn summary MODEL` and `numcnn rf MODEL`: a model registered for the test, and (when
numcnn.models has them) real model names."""

from __future__ import annotations

import pytest
from tests.analysis import nets

import numcnn.models
import numcnn.nn as nn
from numcnn.train.cli import main


def tiny_vgg(num_classes: int = 10, in_channels: int = 3) -> nn.Module:
    """conv3-8, pool, conv3-16, pool, global pool, fc: 224 + 1,168 + 170 = 1,562 parameters at
    3 channels and 10 classes (3*9*8 + 8, 8*9*16 + 16, 16*10 + 10)."""
    return nn.Sequential(nn.Conv2d(in_channels, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, num_classes))


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(numcnn.models.MODELS, "tiny_vgg", tiny_vgg)
    monkeypatch.setitem(numcnn.models.INPUT_SIZES, "tiny_vgg", (3, 16, 16))
    monkeypatch.setitem(numcnn.models.MODELS, "tiny_block",
                        lambda num_classes=10: nets.BasicBlock(3, 4))


def test_summary_command(registered, capsys):
    assert main(["summary", "tiny_vgg"]) == 0
    out = capsys.readouterr().out
    assert "tiny_vgg on input [1, 3, 16, 16]" in out          # its INPUT_SIZES entry
    assert "Total params: 1,562" in out                      # 224 + 1,168 + 170
    assert "[1, 16, 4, 4]" in out
    assert main(["summary", "tiny_vgg", "--num-classes", "5", "--batch-size", "2",
                 "--input-size", "1", "8", "8", "--depth", "0"]) == 0
    out = capsys.readouterr().out
    assert "tiny_vgg on input [2, 1, 8, 8]" in out
    assert "Total params: 1,333" in out                      # 80 + 1,168 + 85
    assert "Conv2d" not in out                               # depth 0: the model only


def test_rf_command(registered, capsys):
    assert main(["rf", "tiny_vgg"]) == 0
    out = capsys.readouterr().out
    # conv3 r 3; pool r 4 j 2; conv3 r 8; pool r 10 j 4
    assert "Largest field of a feature map: r = 10 at 5 (jump 4)" in out
    assert "along: 0 -> 2 -> 3 -> 5" in out
    assert main(["rf", "tiny_block", "--input-size", "3", "12", "12"]) == 0
    out = capsys.readouterr().out
    assert "add" in out and "conv2" in out


def test_unknown_model_is_one_line(registered, capsys):
    assert main(["summary", "no_such_net"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert err.startswith("numcnn summary: error: unknown model 'no_such_net'; known models:")
    assert "tiny_vgg" in err
    assert main(["rf", "no_such_net"]) == 1
    assert "known models" in capsys.readouterr().err
    assert main(["summary", "tiny_vgg", "--input-size", "3", "0", "4"]) == 2


def test_train_spelling_names_the_zoo_model(capsys):
    """`numcnn train --model fmnist-cnn` spells it with a hyphen; summary takes both."""
    assert main(["summary", "fmnist-cnn", "--depth", "0"]) == 0
    hyphen = capsys.readouterr().out
    assert main(["summary", "fmnist_cnn", "--depth", "0"]) == 0
    assert hyphen.split("\n", 1)[1] == capsys.readouterr().out.split("\n", 1)[1]
    assert "Total params: 1,677,674" in hyphen


def test_default_input_sizes():
    size = numcnn.models.input_size
    assert size("vgg16") == (3, 224, 224)
    assert size("inception_v3") == (3, 299, 299)
    assert size("alexnet_original") == (3, 227, 227)
    assert size("unet") == (1, 572, 572)
    assert size("resnet56") == (3, 32, 32)
    assert size("resnet18") == (3, 224, 224)
    assert size("densenet_bc_100") == (3, 32, 32)
    assert size("fmnist_cnn") == (1, 28, 28)
    assert size("dogs_vs_cats_cnn") == (3, 150, 150)
    # every model runs at its size with its factory's defaults (channels included) and only
    # the non-ImageNet ones are listed
    assert set(numcnn.models.INPUT_SIZES) <= set(numcnn.models.MODELS)
    assert all(s != (3, 224, 224) for s in numcnn.models.INPUT_SIZES.values())


@pytest.mark.parametrize("name", ["alexnet", "squeezenet1_1", "resnet20", "fmnist_cnn",
                                  "shufflenet_v2_x0_5", "densenet_bc_100"])
def test_real_models(name, capsys):
    if name not in numcnn.models.list_models():
        pytest.skip(f"{name} is not in numcnn.models yet")
    assert main(["summary", name, "--depth", "1"]) == 0
    assert "Total params" in capsys.readouterr().out
    assert main(["rf", name, "--depth", "1"]) == 0
    assert "Largest field" in capsys.readouterr().out


@pytest.mark.slow
def test_every_model(capsys):
    for name in numcnn.models.list_models():
        assert main(["summary", name, "--depth", "1"]) == 0, name
        assert main(["rf", name, "--depth", "1"]) == 0, name
    capsys.readouterr()
