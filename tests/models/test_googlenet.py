"""GoogLeNet: torchvision's layout with and without the auxiliary classifiers, a torchvision
state_dict through safetensors against an independent torch forward (eval, and training with
the auxiliary heads), the parameter count by hand, forward+backward, torchvision's init."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from tests.helpers import assert_close
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
from numcnn.models.googlenet import MODELS, GoogLeNet, GoogLeNetOutputs, googlenet

TF = torch.nn.functional

# The paper's Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj
TABLE1 = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128), "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


def test_parameter_count_by_hand() -> None:
    def conv_bn(i: int, o: int, k: int) -> int:            # conv without bias + BN's 2o
        return i * o * k * k + 2 * o

    total = conv_bn(3, 64, 7) + conv_bn(64, 64, 1) + conv_bn(64, 192, 3)
    channels = 192
    for c1, c3r, c3, c5r, c5, pp in TABLE1.values():
        # torchvision's "5x5" branch is a 3x3 convolution
        total += (conv_bn(channels, c1, 1) + conv_bn(channels, c3r, 1) + conv_bn(c3r, c3, 3)
                  + conv_bn(channels, c5r, 1) + conv_bn(c5r, c5, 3) + conv_bn(channels, pp, 1))
        channels = c1 + c3 + c5 + pp
    assert channels == 1024
    total += 1024 * 1000 + 1000
    assert total == trainable_params(googlenet()) == 6_624_904

    def aux(i: int) -> int:                                 # conv 128, FC 2048-1024, FC 1000
        return conv_bn(i, 128, 1) + 2048 * 1024 + 1024 + 1024 * 1000 + 1000

    assert total + aux(512) + aux(528) == trainable_params(googlenet(aux_logits=True)) \
        == 13_004_888


@pytest.mark.parametrize("aux", [False, True])
def test_layout_matches_torchvision(aux: bool) -> None:
    name = "googlenet(aux_logits=True)" if aux else "googlenet"
    assert_torchvision_layout(googlenet(aux_logits=aux), name)


def _conv_bn_relu(sd: dict[str, torch.Tensor], p: str, x: torch.Tensor, training: bool,
                  stride: int = 1) -> torch.Tensor:
    w = sd[p + "conv.weight"]
    x = TF.conv2d(x, w, stride=stride, padding=w.shape[-1] // 2)      # every conv is "same"
    x = TF.batch_norm(x, sd[p + "bn.running_mean"].clone(), sd[p + "bn.running_var"].clone(),
                      sd[p + "bn.weight"], sd[p + "bn.bias"], training=training, eps=1e-3)
    return TF.relu(x)


def torch_googlenet(sd: dict[str, torch.Tensor], x: torch.Tensor, training: bool = False,
                    transform_input: bool = False) -> list[torch.Tensor]:
    """GoogLeNet in torch.nn.functional; returns [logits] and, when the state dict has the
    auxiliary classifiers and `training`, [logits, aux2, aux1].  No dropout (p = 0)."""
    def cbr(p: str, x: torch.Tensor, stride: int = 1) -> torch.Tensor:
        return _conv_bn_relu(sd, p, x, training, stride)

    def inception(p: str, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([cbr(p + "branch1.", x),
                          cbr(p + "branch2.1.", cbr(p + "branch2.0.", x)),
                          cbr(p + "branch3.1.", cbr(p + "branch3.0.", x)),
                          cbr(p + "branch4.1.", TF.max_pool2d(x, 3, 1, 1, ceil_mode=True))], 1)

    def aux(p: str, x: torch.Tensor) -> torch.Tensor:
        x = cbr(p + "conv.", TF.adaptive_avg_pool2d(x, 4)).flatten(1)
        x = TF.relu(TF.linear(x, sd[p + "fc1.weight"], sd[p + "fc1.bias"]))
        return TF.linear(x, sd[p + "fc2.weight"], sd[p + "fc2.bias"])

    if transform_input:             # ImageNet normalisation undone, then (x - 0.5) / 0.5
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        x = (x * std + mean - 0.5) / 0.5
    x = TF.max_pool2d(cbr("conv1.", x, stride=2), 3, 2, ceil_mode=True)
    x = TF.max_pool2d(cbr("conv3.", cbr("conv2.", x)), 3, 2, ceil_mode=True)
    auxes = []
    for name in TABLE1:
        x = inception(f"inception{name}.", x)
        if name == "3b":
            x = TF.max_pool2d(x, 3, 2, ceil_mode=True)
        if name == "4e":
            x = TF.max_pool2d(x, 2, 2, ceil_mode=True)
        if training and "aux1.fc1.weight" in sd and name in ("4a", "4d"):
            auxes.insert(0, aux("aux1." if name == "4a" else "aux2.", x))
    logits = TF.linear(x.mean(dim=(2, 3)), sd["fc.weight"], sd["fc.bias"])
    return [logits, *auxes]


@pytest.mark.parametrize("transform_input", [False, True])
def test_torchvision_weights_give_torchs_outputs(transform_input: bool, tmp_path: Any) -> None:
    sd = random_torchvision_state_dict("googlenet", seed=1)
    model = googlenet(transform_input=transform_input)
    load_through_safetensors(model, sd, tmp_path).eval()
    x = np.random.default_rng(2).standard_normal((1, 3, 64, 64)).astype(np.float32)
    with numcnn.no_grad():
        ours = model(numcnn.tensor(x))
    (theirs,) = torch_googlenet(sd, torch.from_numpy(x), transform_input=transform_input)
    assert_matches_oracle(ours, theirs)


def test_training_outputs_with_aux_match_torch(tmp_path: Any) -> None:
    """Training mode (batch statistics), dropout off: logits, aux_logits2, aux_logits1.

    In float64: batch statistics over 2 images of 2x2 maps (inception 5b at 64x64) amplify
    float32 rounding to ~4e-4 in both numcnn and torch alike (each that far from float64)."""
    name = "googlenet(aux_logits=True)"
    sd = random_torchvision_state_dict(name, seed=5)
    model = googlenet(aux_logits=True, dropout=0.0, dropout_aux=0.0)
    load_through_safetensors(model, sd, tmp_path).double().train()
    x = np.random.default_rng(6).standard_normal((2, 3, 64, 64))
    with numcnn.no_grad():
        ours = model(numcnn.tensor(x))
    assert isinstance(ours, GoogLeNetOutputs)
    sd64 = {k: v.double() if v.is_floating_point() else v for k, v in sd.items()}
    theirs = torch_googlenet(sd64, torch.from_numpy(x), training=True)
    for field, a, b in zip(GoogLeNetOutputs._fields, ours, theirs):
        assert_close(a, b, rtol=1e-7, atol=1e-9, what=field)
    with numcnn.no_grad():                                  # eval: the logits alone
        assert isinstance(model.eval()(numcnn.tensor(x)), numcnn.Tensor)


@pytest.mark.parametrize("aux", [False, True])
def test_forward_backward(aux: bool) -> None:
    model = get_model("googlenet", num_classes=6, aux_logits=aux)
    assert_forward_backward(model, (2, 3, 64, 64), 6, n_outputs=3 if aux else 1)


def test_arguments() -> None:
    model = googlenet(num_classes=4, in_channels=1)
    assert tuple(model.conv1.conv.weight.shape) == (64, 1, 7, 7)
    with pytest.raises(ValueError, match="transform_input"):
        googlenet(in_channels=1, transform_input=True)
    assert GoogLeNet().aux1 is not None           # torchvision's class default keeps the aux
    assert googlenet().aux1 is None and "aux1.fc1.weight" not in googlenet().state_dict()
    assert MODELS["googlenet"] is googlenet


def test_initialisation_follows_torchvision() -> None:
    numcnn.manual_seed(0)
    model = googlenet(aux_logits=True)
    # conv and Linear weights ~ N(0, 0.01) (truncated at +-2, i.e. not at all)
    for w in (model.inception5b.branch2[1].conv.weight, model.fc.weight, model.aux2.fc1.weight):
        a = w.detach().numpy()
        assert abs(a.std() / 0.01 - 1) < 0.02 and abs(a.mean()) < 5e-4
    # Linear biases keep torch's default U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    b = model.aux1.fc1.bias.detach().numpy()                          # fan_in 2048
    assert np.abs(b).max() <= 1 / np.sqrt(2048) and abs(b.std() * np.sqrt(3 * 2048) - 1) < 0.1
    for name, p in model.named_parameters():
        if ".bn." in name:
            assert (p.detach().numpy() == (1.0 if name.endswith("weight") else 0.0)).all(), name
    # init_weights=False keeps the defaults: kaiming_uniform_(a=sqrt 5), std 1/sqrt(3 fan_in)
    w = googlenet(init_weights=False).inception5b.branch2[1].conv.weight.detach().numpy()
    assert abs(w.std() * np.sqrt(3 * 192 * 9) - 1) < 0.02
