"""Seed 004's models: the Fashion-MNIST CNN against the seed's Keras summary (layer by layer,
trainable and Keras totals derived by hand) and an independent torch forward, the MLP, the
dogs-vs-cats CNN against the seed's layer table, forward+backward, and the `numcnn train` layout
(old checkpoints load)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.helpers import assert_close
from tests.models.zoo import assert_forward_backward, randomize_batch_norm, trainable_params

import numcnn
import numcnn.nn as nn
from numcnn.models import get_model
from numcnn.models.fmnist import MODELS, dogs_vs_cats_cnn, fmnist_cnn, mlp
from numcnn.train.models import MODELS as TRAIN_MODELS

TF = torch.nn.functional


def test_models_dict() -> None:
    assert MODELS == {"fmnist_cnn": fmnist_cnn, "mlp": mlp, "dogs_vs_cats_cnn": dogs_vs_cats_cnn}
    assert TRAIN_MODELS["fmnist-cnn"] is fmnist_cnn and TRAIN_MODELS["mlp"] is mlp


# ----------------------------------------------------------------------------- fmnist_cnn
def conv(k: int, c_in: int, c_out: int) -> int:
    return k * k * c_in * c_out + c_out


def dense(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def test_fmnist_cnn_counts_by_hand() -> None:
    convs = conv(3, 1, 32) + conv(3, 32, 32) + conv(3, 32, 64) + conv(3, 64, 64)
    dense_ = dense(64 * 7 * 7, 512) + dense(512, 10)
    bn_channels = 32 + 32 + 64 + 64 + 512
    trainable = convs + dense_ + 2 * bn_channels          # BN: gamma, beta
    keras = trainable + 2 * bn_channels                   # + moving mean, moving variance
    assert (trainable, keras) == (1_677_674, 1_679_082)
    model = fmnist_cnn()
    assert trainable_params(model) == trainable
    stats = sum(b.numpy().size for name, b in model.named_buffers()
                if name.endswith(("running_mean", "running_var")))
    assert trainable_params(model) + stats == keras


def test_fmnist_cnn_keras_summary_table() -> None:
    """The seed's Keras summary, row by row for the layers with parameters (Keras counts the
    four vectors of a batch norm layer), and the output shapes (NCHW here, NHWC in Keras)."""
    keras = [("Conv2d", (32, 28, 28), 320), ("BatchNorm2d", (32, 28, 28), 128),
             ("Conv2d", (32, 28, 28), 9248), ("BatchNorm2d", (32, 28, 28), 128),
             ("Conv2d", (64, 14, 14), 18496), ("BatchNorm2d", (64, 14, 14), 256),
             ("Conv2d", (64, 14, 14), 36928), ("BatchNorm2d", (64, 14, 14), 256),
             ("Linear", (512,), 1606144), ("BatchNorm1d", (512,), 2048),
             ("Linear", (10,), 5130)]
    model = fmnist_cnn()
    model.eval()
    rows = []
    x = numcnn.zeros(1, 1, 28, 28)
    for layer in [*model.features, *model.classifier]:
        x = layer(x)
        n = sum(v.numpy().size for k, v in layer.state_dict().items()
                if not k.endswith("num_batches_tracked"))
        if n:
            rows.append((type(layer).__name__, tuple(x.shape[1:]), n))
    assert rows == keras


def test_fmnist_cnn_train_layout_unchanged() -> None:
    """The keys `numcnn train` has always written: the blocks' convs at features.0/3/8/11, their
    batch norms at 2/5/10/13, dense-ReLU-BN-dropout-dense at classifier.1/3/5."""
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    expected = []
    for i, j in ((0, 2), (3, 5), (8, 10), (11, 13)):
        expected += [f"features.{i}.weight", f"features.{i}.bias"]
        expected += [f"features.{j}.{b}" for b in bn]
    expected += ["classifier.1.weight", "classifier.1.bias"]
    expected += [f"classifier.3.{b}" for b in bn]
    expected += ["classifier.5.weight", "classifier.5.bias"]
    sd = TRAIN_MODELS["fmnist-cnn"]().state_dict()
    assert list(sd) == expected and len(sd) == 37
    assert tuple(sd["classifier.1.weight"].shape) == (512, 3136)
    assert tuple(TRAIN_MODELS["fmnist-cnn"](3, 5, 32).state_dict()["classifier.1.weight"].shape) \
        == (512, 64 * 8 * 8)


def torch_fmnist_cnn(sd: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Eval-mode forward from the seed's block description, in torch.nn.functional."""
    def bn(x: torch.Tensor, p: str) -> torch.Tensor:
        return TF.batch_norm(x, sd[p + ".running_mean"], sd[p + ".running_var"],
                             sd[p + ".weight"], sd[p + ".bias"], training=False, eps=1e-5)

    for conv_a, bn_a, conv_b, bn_b in (("0", "2", "3", "5"), ("8", "10", "11", "13")):
        x = bn(TF.relu(TF.conv2d(x, sd[f"features.{conv_a}.weight"],
                                 sd[f"features.{conv_a}.bias"], padding=1)), f"features.{bn_a}")
        x = bn(TF.relu(TF.conv2d(x, sd[f"features.{conv_b}.weight"],
                                 sd[f"features.{conv_b}.bias"], padding=1)), f"features.{bn_b}")
        x = TF.max_pool2d(x, 2)
    x = TF.relu(TF.linear(x.flatten(1), sd["classifier.1.weight"], sd["classifier.1.bias"]))
    x = bn(x, "classifier.3")
    return TF.linear(x, sd["classifier.5.weight"], sd["classifier.5.bias"])


def test_fmnist_cnn_against_torch() -> None:
    numcnn.manual_seed(0)
    model = fmnist_cnn()
    rng = np.random.default_rng(0)
    randomize_batch_norm(model, rng)
    model.eval()
    sd = {k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()}
    x = rng.standard_normal((2, 1, 28, 28)).astype(np.float32)
    expected = torch_fmnist_cnn(sd, torch.tensor(x))
    assert_close(model(numcnn.tensor(x)), expected, rtol=1e-4,
                 atol=1e-5 * max(1.0, float(expected.abs().max())))


# ----------------------------------------------------------------------------- mlp
def test_mlp_count_by_hand() -> None:
    assert trainable_params(mlp()) == dense(784, 512) + dense(512, 512) + dense(512, 10) \
        == 669_706


# ----------------------------------------------------------------------------- dogs vs cats
DOGS_TABLE = [  # the seed's torchsummary table: (layer, output shape, parameters)
    ("Conv2d", (32, 150, 150), 896), ("Conv2d", (64, 150, 150), 18_496),
    ("MaxPool2d", (64, 75, 75), 0),
    ("Conv2d", (128, 75, 75), 73_856), ("Conv2d", (128, 75, 75), 147_584),
    ("MaxPool2d", (128, 37, 37), 0),
    ("Conv2d", (256, 37, 37), 295_168), ("Conv2d", (512, 37, 37), 1_180_160),
    ("MaxPool2d", (512, 18, 18), 0),
    ("Conv2d", (512, 18, 18), 2_359_808), ("Conv2d", (512, 18, 18), 2_359_808),
    ("MaxPool2d", (512, 8, 8), 0),
    ("Dropout", (32768,), 0), ("Linear", (512,), 16_777_728), ("Linear", (1,), 513),
]


def test_dogs_vs_cats_counts_by_hand() -> None:
    by_hand = [conv(3, 3, 32), conv(3, 32, 64), conv(3, 64, 128), conv(3, 128, 128),
               conv(3, 128, 256), conv(3, 256, 512), conv(3, 512, 512), conv(3, 512, 512),
               dense(512 * 8 * 8, 512), dense(512, 1)]
    assert by_hand == [n for _, _, n in DOGS_TABLE if n]
    assert sum(by_hand) == 23_214_017 == trainable_params(dogs_vs_cats_cnn())


def test_dogs_vs_cats_layer_table() -> None:
    """Every row of the seed's table at 3x150x150 (ReLU and Flatten rows, which the table
    leaves out, skipped)."""
    model = dogs_vs_cats_cnn()
    model.eval()
    assert numcnn.models.input_size("dogs_vs_cats_cnn") == (3, 150, 150)
    rows = []
    x = numcnn.zeros(1, 3, 150, 150)
    with numcnn.no_grad():
        for layer in [*model.features, *model.classifier]:
            x = layer(x)
            if not isinstance(layer, (nn.ReLU, nn.Flatten)):
                rows.append((type(layer).__name__, tuple(x.shape[1:]),
                             sum(p.numpy().size for p in layer.parameters())))
    assert rows == DOGS_TABLE


# ----------------------------------------------------------------------------- all
@pytest.mark.parametrize("name, shape, kwargs, classes", [
    ("fmnist_cnn", (2, 1, 28, 28), {}, 10),
    ("fmnist_cnn", (2, 3, 32, 32), {"in_channels": 3, "num_classes": 5, "image_size": 32}, 5),
    ("mlp", (2, 1, 28, 28), {}, 10),
    ("dogs_vs_cats_cnn", (2, 3, 48, 48), {"image_size": 48}, 1),
])
def test_forward_backward(name: str, shape: tuple[int, ...], kwargs: dict[str, int],
                          classes: int) -> None:
    numcnn.manual_seed(0)
    assert_forward_backward(get_model(name, **kwargs), shape, classes)


def test_bad_sizes() -> None:
    with pytest.raises(ValueError, match="divisible by 4"):
        fmnist_cnn(image_size=30)
    with pytest.raises(ValueError, match="at least 24"):
        dogs_vs_cats_cnn(image_size=23)
    assert dogs_vs_cats_cnn(image_size=24)(numcnn.zeros(1, 3, 24, 24)).shape == (1, 1)
