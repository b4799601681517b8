"""LeNet-5: the paper's sizes and parameter count by hand, both variants against an independent
torch forward, the `numcnn train` layout (old checkpoints load), forward+backward, PyTorch's
default initialisation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tests.helpers import assert_close
from tests.models.zoo import assert_forward_backward, trainable_params

import numcnn
import numcnn.nn as nn
from numcnn.models import get_model
from numcnn.models.lenet import MODELS, LeNet5, lenet5, lenet5_classic
from numcnn.train.models import MODELS as TRAIN_MODELS

TF = torch.nn.functional

# the layout `numcnn train` has always written (checkpoints hold these keys and shapes)
TRAIN_LAYOUT = [
    ("features.0.weight", (6, 1, 5, 5)), ("features.0.bias", (6,)),
    ("features.3.weight", (16, 6, 5, 5)), ("features.3.bias", (16,)),
    ("classifier.1.weight", (120, 400)), ("classifier.1.bias", (120,)),
    ("classifier.3.weight", (84, 120)), ("classifier.3.bias", (84,)),
    ("classifier.5.weight", (10, 84)), ("classifier.5.bias", (10,)),
]


def layout(model: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


def test_models_dict() -> None:
    assert MODELS == {"lenet5": lenet5, "lenet5_classic": lenet5_classic}
    assert get_model("lenet5").variant == "modern"
    assert get_model("lenet5_classic").variant == "classic"


@pytest.mark.parametrize("name", ["lenet5", "lenet5_classic"])
def test_parameter_count_by_hand(name: str) -> None:
    c1 = 6 * (5 * 5 * 1 + 1)          # 156
    c3 = 16 * (5 * 5 * 6 + 1)         # 2,416 (full connection table)
    c5 = 120 * (16 * 5 * 5 + 1)       # 48,120
    f6 = 84 * (120 + 1)               # 10,164
    out = 10 * (84 + 1)               # 850
    assert c1 + c3 + c5 + f6 + out == 61_706
    assert trainable_params(get_model(name)) == 61_706


def test_paper_figure_sizes() -> None:
    """32x32 -> C1 6@28x28 -> S2 6@14x14 -> C3 16@10x10 -> S4 16@5x5 -> 120 -> 84 -> 10."""
    model = lenet5_classic()
    x = numcnn.zeros(1, 1, 32, 32)
    sizes = []
    for layer in model.features:
        x = layer(x)
        sizes.append(tuple(x.shape[1:]))
    assert sizes == [(6, 28, 28), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 10, 10),
                     (16, 5, 5)]
    for layer in model.classifier:
        x = layer(x)
        sizes.append(tuple(x.shape[1:]))
    assert sizes[6:] == [(400,), (120,), (120,), (84,), (84,), (10,)]


def test_variants_layers() -> None:
    classic, modern = lenet5_classic(), lenet5()
    kinds = [type(m) for m in classic.modules()]
    assert kinds.count(nn.Tanh) == 4 and kinds.count(nn.AvgPool2d) == 2
    assert nn.ReLU not in kinds and nn.MaxPool2d not in kinds
    kinds = [type(m) for m in modern.modules()]
    assert kinds.count(nn.ReLU) == 4 and kinds.count(nn.MaxPool2d) == 2
    # a distinct activation module at each site
    acts = [m for m in modern.modules() if isinstance(m, nn.ReLU)]
    assert len({id(a) for a in acts}) == 4
    assert layout(classic) == layout(modern) == TRAIN_LAYOUT


def test_train_layout_unchanged_and_interchangeable() -> None:
    """`numcnn train`'s lenet5 (28x28, C1 padded by 2) keeps its keys and shapes, which are also
    those of the zoo's 32x32 lenet5: a checkpoint of one loads into the other."""
    trained = TRAIN_MODELS["lenet5"]()
    assert isinstance(trained, LeNet5) and trained.features[0].padding == (2, 2)
    assert layout(trained) == TRAIN_LAYOUT
    zoo = lenet5()
    zoo.load_state_dict(trained.state_dict(), strict=True)
    x28 = np.random.default_rng(0).standard_normal((1, 1, 28, 28)).astype(np.float32)
    x32 = np.zeros((1, 1, 32, 32), np.float32)
    x32[:, :, 2:30, 2:30] = x28        # the zoo model sees the padding as part of the image
    assert_close(zoo(numcnn.tensor(x32)), trained(numcnn.tensor(x28)), rtol=1e-5, atol=1e-6)
    # other sizes, as checkpoints record them
    assert layout(TRAIN_MODELS["lenet5"](in_channels=3, num_classes=5, image_size=32))[4] == \
        ("classifier.1.weight", (120, 16 * 6 * 6))


def torch_lenet(sd: dict[str, torch.Tensor], x: torch.Tensor, classic: bool) -> torch.Tensor:
    """LeNet-5 in torch.nn.functional, from the paper's figure."""
    act = torch.tanh if classic else TF.relu
    pool = TF.avg_pool2d if classic else TF.max_pool2d
    x = pool(act(TF.conv2d(x, sd["features.0.weight"], sd["features.0.bias"])), 2)   # C1, S2
    x = pool(act(TF.conv2d(x, sd["features.3.weight"], sd["features.3.bias"])), 2)   # C3, S4
    x = act(TF.linear(x.flatten(1), sd["classifier.1.weight"], sd["classifier.1.bias"]))
    x = act(TF.linear(x, sd["classifier.3.weight"], sd["classifier.3.bias"]))
    return TF.linear(x, sd["classifier.5.weight"], sd["classifier.5.bias"])


@pytest.mark.parametrize("variant", ["classic", "modern"])
def test_against_torch(variant: str) -> None:
    numcnn.manual_seed(0)
    model = lenet5(variant=variant)   # type: ignore[arg-type]
    model.eval()
    sd = {k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()}
    x = np.random.default_rng(1).standard_normal((2, 1, 32, 32)).astype(np.float32)
    assert_close(model(numcnn.tensor(x)), torch_lenet(sd, torch.tensor(x), variant == "classic"),
                 rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["lenet5", "lenet5_classic"])
def test_forward_backward(name: str) -> None:
    assert_forward_backward(get_model(name), (2, 1, 32, 32), 10)
    assert_forward_backward(get_model(name, in_channels=3, num_classes=5, image_size=36),
                            (2, 3, 36, 36), 5)


def test_default_init_is_pytorchs() -> None:
    """nn.Linear/Conv2d's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), std bound/sqrt(3)."""
    numcnn.manual_seed(0)
    w = lenet5().classifier[1].weight.detach().numpy()    # C5: 120 x 400
    bound = 1 / math.sqrt(400)
    assert np.abs(w).max() <= bound * (1 + 1e-6)   # float32 rounding
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.03)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="variant"):
        lenet5(variant="lecun")   # type: ignore[arg-type]
    with pytest.raises(ValueError, match="image_size of at least 16"):
        lenet5(image_size=15)
    with pytest.raises(ValueError, match="image_size of at least 12"):
        TRAIN_MODELS["lenet5"](image_size=11)
