"""SqueezeNet 1.0/1.1: torchvision's layout, a torchvision state_dict through safetensors against
an independent torch forward, forward+backward, and torchvision's initialisation.

`assert_forward_backward` is shared with the other model-family tests of this folder.
"""

from __future__ import annotations

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
    trainable_params,
)

import numcnn
from numcnn.models import get_model
from numcnn.models.squeezenet import MODELS, Fire, squeezenet1_0, squeezenet1_1

TF = torch.nn.functional


def torch_squeezenet(sd: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """SqueezeNet from the paper with torch.nn.functional: conv1 (stride 2) - ReLU, then Fire
    modules with 3x3/2 ceil-mode max pools wherever torchvision's Sequential has a pool (the
    indices without weights), then dropout (identity in eval) - conv10 - ReLU - global mean."""
    x = TF.relu(TF.conv2d(x, sd["features.0.weight"], sd["features.0.bias"], stride=2))
    for i in range(2, 13):
        p = f"features.{i}."
        if p + "squeeze.weight" not in sd:
            x = TF.max_pool2d(x, 3, 2, ceil_mode=True)
            continue
        s = TF.relu(TF.conv2d(x, sd[p + "squeeze.weight"], sd[p + "squeeze.bias"]))
        e1 = TF.relu(TF.conv2d(s, sd[p + "expand1x1.weight"], sd[p + "expand1x1.bias"]))
        e3 = TF.relu(TF.conv2d(s, sd[p + "expand3x3.weight"], sd[p + "expand3x3.bias"],
                               padding=1))
        x = torch.cat([e1, e3], 1)
    x = TF.relu(TF.conv2d(x, sd["classifier.1.weight"], sd["classifier.1.bias"]))
    return x.mean(dim=(2, 3))


@pytest.mark.parametrize("name", ["squeezenet1_0", "squeezenet1_1"])
def test_layout_matches_torchvision(name: str) -> None:
    assert_torchvision_layout(MODELS[name](), name)


def test_parameter_counts_by_hand() -> None:
    # a Fire(i, s, e1, e3) has i*s + s (squeeze) + s*e1 + e1 (1x1) + 9*s*e3 + e3 (3x3)
    def fire(i: int, s: int, e1: int, e3: int) -> int:
        return i * s + s + s * e1 + e1 + 9 * s * e3 + e3

    fires = [fire(96, 16, 64, 64), fire(128, 16, 64, 64), fire(128, 32, 128, 128),
             fire(256, 32, 128, 128), fire(256, 48, 192, 192), fire(384, 48, 192, 192),
             fire(384, 64, 256, 256), fire(512, 64, 256, 256)]
    conv10 = 512 * 1000 + 1000
    assert 3 * 96 * 49 + 96 + sum(fires) + conv10 == 1_248_424
    assert trainable_params(squeezenet1_0()) == 1_248_424
    # 1.1: conv1 is 3x3/64, so fire2 sees 64 channels
    assert 3 * 64 * 9 + 64 + fire(64, 16, 64, 64) + sum(fires[1:]) + conv10 == 1_235_496
    assert trainable_params(squeezenet1_1()) == 1_235_496
    assert trainable_params(squeezenet1_0(num_classes=10)) == 1_248_424 - 990 * 513


@pytest.mark.parametrize("name", ["squeezenet1_0", "squeezenet1_1"])
def test_torchvision_weights_give_torchs_outputs(name: str, tmp_path: Any) -> None:
    sd = random_torchvision_state_dict(name, seed=1)
    model = load_through_safetensors(MODELS[name](), sd, tmp_path).eval()
    x = np.random.default_rng(2).standard_normal((1, 3, 64, 64)).astype(np.float32)
    with numcnn.no_grad():
        ours = model(numcnn.tensor(x))
    assert_matches_oracle(ours, torch_squeezenet(sd, torch.from_numpy(x)))


@pytest.mark.parametrize("name", ["squeezenet1_0", "squeezenet1_1"])
def test_forward_backward(name: str) -> None:
    assert_forward_backward(get_model(name, num_classes=7), (2, 3, 64, 64), 7)


def test_in_channels_and_bad_version() -> None:
    model = squeezenet1_1(num_classes=5, in_channels=1)
    assert tuple(model.features[0].weight.shape) == (64, 1, 3, 3)
    with numcnn.no_grad():
        assert tuple(model.eval()(numcnn.zeros(1, 1, 48, 48)).shape) == (1, 5)
    with pytest.raises(ValueError, match="version"):
        from numcnn.models.squeezenet import SqueezeNet
        SqueezeNet("1_2")


def test_fire_module_shape() -> None:
    fire = Fire(96, 16, 64, 48)
    assert tuple(fire(numcnn.zeros(2, 96, 9, 7)).shape) == (2, 112, 9, 7)


def test_initialisation_follows_torchvision() -> None:
    numcnn.manual_seed(0)
    model = squeezenet1_0()
    # kaiming_uniform_(a=0, fan_in): U(-b, b), b = sqrt(6 / fan_in), std sqrt(2 / fan_in)
    w = model.features[12].expand3x3.weight.detach().numpy()            # 256 x 64 x 3 x 3
    fan_in = 64 * 9
    assert abs(w.std() / np.sqrt(2 / fan_in) - 1) < 0.02
    assert np.abs(w).max() <= np.sqrt(6 / fan_in)
    assert np.abs(w).max() > 0.99 * np.sqrt(6 / fan_in)
    # the final conv: N(0, 0.01)
    w10 = model.classifier[1].weight.detach().numpy()                    # 1000 x 512 x 1 x 1
    assert abs(w10.std() / 0.01 - 1) < 0.02 and abs(w10.mean()) < 1e-4
    for name, p in model.named_parameters():
        if name.endswith("bias"):
            assert not p.detach().numpy().any(), name
