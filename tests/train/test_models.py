"""numcnn.train.models: the command line's model table, here its CIFAR ResNet-20 and plain-20
entries (factory signature, parameter counts from the architecture, shortcuts, `numcnn train`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import numcnn
from numcnn.models.cifar_resnet import PlainBlock, ShortcutA
from numcnn.models.resnet import BasicBlock
from numcnn.train.cli import main
from numcnn.train.models import MODELS, plain20, resnet20
from numcnn.train.run import model_from, read_checkpoint


def cifar20_parameters(in_channels: int, num_classes: int) -> int:
    """Counted from He et al.'s table: conv3x3 (no bias) + BN (2 per channel) for the stem and
    for the 18 convolutions of three stages (16, 32, 64 channels), then Linear(64, K)."""
    total = 9 * in_channels * 16 + 2 * 16
    inplanes = 16
    for planes in (16, 32, 64):
        for _ in range(3):                    # 3 blocks of 2 convolutions
            total += 9 * inplanes * planes + 2 * planes + 9 * planes * planes + 2 * planes
            inplanes = planes
    return total + 64 * num_classes + num_classes


@pytest.mark.parametrize("name", ["resnet20", "plain20"])
def test_cifar20_in_the_table_with_the_cli_signature(name: str) -> None:
    factory = MODELS[name]
    model = factory(in_channels=1, num_classes=10, image_size=28)
    n = sum(p.array.size for p in model.parameters() if p.requires_grad)
    assert n == cifar20_parameters(1, 10) == 269_434
    assert f"{n:,}" in (factory.__doc__ or "")
    model.eval()
    assert model(numcnn.zeros(2, 1, 28, 28)).shape == (2, 10)
    other = factory(in_channels=3, num_classes=7, image_size=32)
    assert sum(p.array.size for p in other.parameters()) == cifar20_parameters(3, 7)
    other.eval()
    assert other(numcnn.zeros(1, 3, 32, 32)).shape == (1, 7)


def test_resnet20_has_shortcuts_and_plain20_has_none() -> None:
    res, plain = resnet20(), plain20()
    kinds_res = [type(m) for m in res.modules()]
    kinds_plain = [type(m) for m in plain.modules()]
    assert kinds_res.count(BasicBlock) == 9 and kinds_res.count(ShortcutA) == 2
    assert kinds_plain.count(PlainBlock) == 9 and BasicBlock not in kinds_plain
    # same parameter names and shapes: a landscape comparison perturbs the same tensors
    assert {k: v.shape for k, v in res.state_dict().items() if "num_batches" not in k} == \
        {k: v.shape for k, v in plain.state_dict().items() if "num_batches" not in k}


@pytest.mark.parametrize("name", ["resnet20", "plain20"])
def test_numcnn_train_model_cifar20(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    name: str) -> None:
    out = tmp_path / name
    assert main(["train", "--data", "synthetic", "--model", name, "--limit", "48", "--epochs",
                 "1", "--batch-size", "16", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    ckpt = read_checkpoint(str(out / "last.safetensors"))
    model, config = model_from(ckpt)
    k = len(config["classes"])                     # SyntheticShapes has its own class count
    assert f"training {name} ({cifar20_parameters(1, k):,} trainable parameters)" in text
    assert config["model"] == name and type(model).__name__ == "CifarResNet"
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.array, np.asarray(ckpt["model"][key]))
