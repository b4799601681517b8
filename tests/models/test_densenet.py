"""DenseNet-121/161/169/201 and DenseNet-BC-100: torchvision's layout, a torchvision state_dict
through safetensors against an independent torch forward, parameter counts derived by hand,
forward+backward, and torchvision's initialisation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from tests.models.zoo import (
    assert_forward_backward,
    assert_matches_oracle,
    assert_torchvision_layout,
    load_through_safetensors,
    random_torchvision_state_dict,
    torch_bn,
    trainable_params,
)

import numcnn
from numcnn.models import get_model
from numcnn.models.densenet import MODELS, DenseNet, densenet121, densenet_bc_100

TF = torch.nn.functional

# name: (growth rate k, layers per block, stem channels), the paper's Table 1
IMAGENET = {
    "densenet121": (32, (6, 12, 24, 16), 64),
    "densenet161": (48, (6, 12, 36, 24), 96),
    "densenet169": (32, (6, 12, 32, 32), 64),
    "densenet201": (32, (6, 12, 48, 32), 64),
}
COUNTS = {"densenet121": 7_978_856, "densenet161": 28_681_000, "densenet169": 14_149_480,
          "densenet201": 20_013_928}


def count_by_hand(k: int, blocks: tuple[int, ...], stem: int, classes: int,
                  small_inputs: bool = False) -> int:
    """Parameters of a DenseNet-BC: each layer on c channels has BN(c) 2c, Conv1x1 c*4k,
    BN(4k) 8k, Conv3x3 4k*k*9; a transition on m channels BN 2m and Conv1x1 m*floor(m/2)."""
    total = 3 * stem * 9 if small_inputs else 3 * stem * 49 + 2 * stem
    c = stem
    for b, n in enumerate(blocks):
        for _ in range(n):
            total += 2 * c + c * 4 * k + 8 * k + 4 * k * k * 9
            c += k
        if b < len(blocks) - 1:
            total += 2 * c + c * (c // 2)
            c //= 2
    return total + 2 * c + c * classes + classes          # norm5, classifier


def test_densenet_bc_100_count_by_hand() -> None:
    # depth 100 = 3 blocks x 16 layers x 2 convs + stem + 2 transitions + classifier
    assert 3 * 16 * 2 + 4 == 100
    # channels: 24 -> +192 = 216 -> 108 -> +192 = 300 -> 150 -> +192 = 342
    # one layer on c channels: 2c + 48c + 96 + 5184 = 50c + 5280; block sums of c over the
    # 16 layers: 16*24 + 12*120 = 1824, 16*108 + 1440 = 3168, 16*150 + 1440 = 3840
    blocks = 50 * (1824 + 3168 + 3840) + 3 * 16 * 5280
    transitions = (2 * 216 + 216 * 108) + (2 * 300 + 300 * 150)
    total = 3 * 24 * 9 + blocks + transitions + 2 * 342 + 342 * 10 + 10
    assert total == 769_162
    assert count_by_hand(12, (16, 16, 16), 24, 10, small_inputs=True) == total
    assert trainable_params(densenet_bc_100()) == 769_162
    assert trainable_params(densenet_bc_100(num_classes=100)) == 800_032


@pytest.mark.parametrize("name", list(IMAGENET))
def test_layout_and_count(name: str) -> None:
    model = MODELS[name]()
    assert_torchvision_layout(model, name)
    assert trainable_params(model) == COUNTS[name] == count_by_hand(*IMAGENET[name], 1000)


def torch_densenet(sd: dict[str, torch.Tensor], x: torch.Tensor, blocks: tuple[int, ...],
                   small_inputs: bool = False) -> torch.Tensor:
    """DenseNet-BC in torch.nn.functional, written as a running concatenation
    x <- [x, H_l(x)] (torchvision keeps a list and concatenates it in every layer)."""
    if small_inputs:
        x = TF.conv2d(x, sd["features.conv0.weight"], padding=1)
    else:
        x = TF.conv2d(x, sd["features.conv0.weight"], stride=2, padding=3)
        x = TF.max_pool2d(TF.relu(torch_bn(x, sd, "features.norm0")), 3, 2, 1)
    for b, n in enumerate(blocks, 1):
        for layer in range(1, n + 1):
            p = f"features.denseblock{b}.denselayer{layer}."
            h = TF.conv2d(TF.relu(torch_bn(x, sd, p + "norm1")), sd[p + "conv1.weight"])
            h = TF.conv2d(TF.relu(torch_bn(h, sd, p + "norm2")), sd[p + "conv2.weight"], padding=1)
            x = torch.cat([x, h], 1)
        if b < len(blocks):
            p = f"features.transition{b}."
            h = TF.conv2d(TF.relu(torch_bn(x, sd, p + "norm")), sd[p + "conv.weight"])
            x = TF.avg_pool2d(h, 2)
    x = TF.relu(torch_bn(x, sd, "features.norm5")).mean(dim=(2, 3))
    return TF.linear(x, sd["classifier.weight"], sd["classifier.bias"])


@pytest.mark.parametrize("name,side", [("densenet121", 64), ("densenet161", 32),
                                       ("densenet169", 32), ("densenet201", 32)])
def test_torchvision_weights_give_torchs_outputs(name: str, side: int, tmp_path: Any) -> None:
    sd = random_torchvision_state_dict(name, seed=3)
    model = load_through_safetensors(MODELS[name](), sd, tmp_path).eval()
    x = np.random.default_rng(4).standard_normal((1, 3, side, side)).astype(np.float32)
    with numcnn.no_grad():
        ours = model(numcnn.tensor(x))
    assert_matches_oracle(ours, torch_densenet(sd, torch.from_numpy(x), IMAGENET[name][1]))


def test_densenet_bc_100_matches_torch() -> None:
    numcnn.manual_seed(5)
    model = densenet_bc_100()
    rng = np.random.default_rng(5)
    sd = {}
    for key, value in model.state_dict().items():          # kaiming convs; random BN too
        arr = value.numpy()
        if key.endswith(("running_var", "norm1.weight", "norm2.weight", "norm.weight")):
            arr = rng.uniform(0.5, 1.5, arr.shape).astype(arr.dtype)
        elif key.endswith(("running_mean", "bias")):
            arr = rng.normal(0, 0.1, arr.shape).astype(arr.dtype)
        sd[key] = torch.from_numpy(np.array(arr))
    model.load_state_dict({k: numcnn.tensor(v.numpy()) for k, v in sd.items()})
    x = rng.standard_normal((2, 3, 32, 32)).astype(np.float32)
    with numcnn.no_grad():
        ours = model.eval()(numcnn.tensor(x))
    assert_matches_oracle(ours, torch_densenet(sd, torch.from_numpy(x), (16, 16, 16), True))


@pytest.mark.parametrize("name", list(MODELS))
def test_forward_backward(name: str) -> None:
    # batch 2: at 32x32 the ImageNet models end on 1x1 maps, where training-mode BN needs N > 1
    assert_forward_backward(get_model(name, num_classes=5), (2, 3, 32, 32), 5)


def test_dropout_and_in_channels() -> None:
    model = densenet_bc_100(num_classes=3, in_channels=1, growth_rate=4, drop_rate=0.2)
    assert tuple(model.features.conv0.weight.shape) == (8, 1, 3, 3)
    assert_forward_backward(model, (2, 1, 16, 16), 3)
    with pytest.raises(ValueError, match="compression"):
        DenseNet(compression=0.0)


def test_initialisation_follows_torchvision() -> None:
    numcnn.manual_seed(0)
    model = densenet121()
    # kaiming_normal_(fan_in, gain sqrt 2): std sqrt(2 / fan_in)
    w = model.features.transition3.conv.weight.detach().numpy()        # 512 x 1024 x 1 x 1
    assert abs(w.std() / math.sqrt(2 / 1024) - 1) < 0.01 and abs(w.mean()) < 1e-3
    # the Linear keeps its default U(-1/sqrt(fan_in), 1/sqrt(fan_in)) weight, bias 0
    fc = model.classifier.weight.detach().numpy()                      # 1000 x 1024
    assert abs(fc.std() / (1 / math.sqrt(3 * 1024)) - 1) < 0.01
    assert np.abs(fc).max() <= 1 / math.sqrt(1024)
    assert not model.classifier.bias.detach().numpy().any()
    for name, p in model.named_parameters():
        if ".norm" in name:
            assert (p.detach().numpy() == (1.0 if name.endswith("weight") else 0.0)).all(), name
