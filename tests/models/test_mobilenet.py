"""MobileNet v1/v2/v3: torchvision's layout, a torch oracle written from the papers' tables,
parameter and multiply-add counts from the papers, forward/backward, initialisation."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests.models.zoo import (
    assert_forward_backward,
    assert_matches_oracle,
    assert_std,
    assert_torchvision_layout,
    assert_torchvision_weights_match,
    conv,
    conv_linear_macs,
    randomised_torch_state,
    torch_bn,
    trainable_params,
)

import numcnn
from numcnn import nn
from numcnn.models import get_model, list_models
from numcnn.models.mobilenet import (
    MODELS,
    mobilenet_v1,
    mobilenet_v2,
    mobilenet_v3_large,
    mobilenet_v3_small,
)

TORCHVISION_NAMES = ["mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large"]


# ---------------------------------------------------------------------------------------------
# Independent torch forwards, from the papers' tables and torchvision's key names
# ---------------------------------------------------------------------------------------------

V2_TABLE = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
            (6, 160, 3, 2), (6, 320, 1, 1)]                  # t, c, n, s (Sandler et al. Table 2)


def torch_mobilenet_v2(sd: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    def cbr6(h: torch.Tensor, p: str, stride: int = 1, depthwise: bool = False) -> torch.Tensor:
        return TF.relu6(torch_bn(conv(h, sd, f"{p}.0", stride, depthwise), sd, f"{p}.1", 1e-5))

    x = cbr6(x, "features.0", stride=2)
    c_in, i = 32, 1
    for t, c, n, s in V2_TABLE:
        for j in range(n):
            stride = s if j == 0 else 1
            p = f"features.{i}.conv"
            h, k = x, 0
            if t != 1:                                          # 1x1 expansion
                h, k = cbr6(h, f"{p}.0"), 1
            h = cbr6(h, f"{p}.{k}", stride, depthwise=True)     # 3x3 depthwise
            # linear bottleneck: no activation after the projection
            h = torch_bn(conv(h, sd, f"{p}.{k + 1}"), sd, f"{p}.{k + 2}", 1e-5)
            x = x + h if stride == 1 and c_in == c else h
            c_in, i = c, i + 1
    x = cbr6(x, f"features.{i}")
    x = x.mean((2, 3))
    return TF.linear(x, sd["classifier.1.weight"], sd["classifier.1.bias"])


# in, kernel, exp, out, SE, NL, stride (Howard et al. 2019, Tables 1 and 2)
V3_LARGE = [(16, 3, 16, 16, False, "RE", 1), (16, 3, 64, 24, False, "RE", 2),
            (24, 3, 72, 24, False, "RE", 1), (24, 5, 72, 40, True, "RE", 2),
            (40, 5, 120, 40, True, "RE", 1), (40, 5, 120, 40, True, "RE", 1),
            (40, 3, 240, 80, False, "HS", 2), (80, 3, 200, 80, False, "HS", 1),
            (80, 3, 184, 80, False, "HS", 1), (80, 3, 184, 80, False, "HS", 1),
            (80, 3, 480, 112, True, "HS", 1), (112, 3, 672, 112, True, "HS", 1),
            (112, 5, 672, 160, True, "HS", 2), (160, 5, 960, 160, True, "HS", 1),
            (160, 5, 960, 160, True, "HS", 1)]
V3_SMALL = [(16, 3, 16, 16, True, "RE", 2), (16, 3, 72, 24, False, "RE", 2),
            (24, 3, 88, 24, False, "RE", 1), (24, 5, 96, 40, True, "HS", 2),
            (40, 5, 240, 40, True, "HS", 1), (40, 5, 240, 40, True, "HS", 1),
            (40, 5, 120, 48, True, "HS", 1), (48, 5, 144, 48, True, "HS", 1),
            (48, 5, 288, 96, True, "HS", 2), (96, 5, 576, 96, True, "HS", 1),
            (96, 5, 576, 96, True, "HS", 1)]


def torch_mobilenet_v3(sd: dict[str, torch.Tensor], x: torch.Tensor,
                       table: list[tuple[int, int, int, int, bool, str, int]]) -> torch.Tensor:
    eps = 1e-3                                                 # torchvision's v3 BatchNorm

    def cbn(h: torch.Tensor, p: str, stride: int = 1, depthwise: bool = False) -> torch.Tensor:
        return torch_bn(conv(h, sd, f"{p}.0", stride, depthwise), sd, f"{p}.1", eps)

    x = TF.hardswish(cbn(x, "features.0", stride=2))
    for i, (c_in, _, exp, c_out, se, nl, s) in enumerate(table, start=1):
        act = TF.hardswish if nl == "HS" else TF.relu
        p = f"features.{i}.block"
        h, k = x, 0
        if exp != c_in:
            h, k = act(cbn(h, f"{p}.0")), 1
        h = act(cbn(h, f"{p}.{k}", s, depthwise=True))
        if se:
            k += 1
            z = h.mean((2, 3), keepdim=True)
            z = TF.relu(TF.conv2d(z, sd[f"{p}.{k}.fc1.weight"], sd[f"{p}.{k}.fc1.bias"]))
            z = TF.hardsigmoid(TF.conv2d(z, sd[f"{p}.{k}.fc2.weight"], sd[f"{p}.{k}.fc2.bias"]))
            h = h * z
        h = cbn(h, f"{p}.{k + 1}")
        x = x + h if s == 1 and c_in == c_out else h
    x = TF.hardswish(cbn(x, f"features.{len(table) + 1}"))
    x = x.mean((2, 3))
    x = TF.hardswish(TF.linear(x, sd["classifier.0.weight"], sd["classifier.0.bias"]))
    return TF.linear(x, sd["classifier.3.weight"], sd["classifier.3.bias"])


def torch_forward(name: str, sd: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    if name == "mobilenet_v2":
        return torch_mobilenet_v2(sd, x)
    return torch_mobilenet_v3(sd, x, V3_LARGE if name == "mobilenet_v3_large" else V3_SMALL)


# ---------------------------------------------------------------------------------------------
# torchvision models
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", TORCHVISION_NAMES)
def test_torchvision_layout(name: str) -> None:
    assert_torchvision_layout(MODELS[name](), name)


def test_torchvision_counts() -> None:
    assert trainable_params(mobilenet_v2()) == 3_504_872
    assert trainable_params(mobilenet_v3_small()) == 2_542_856
    assert trainable_params(mobilenet_v3_large()) == 5_483_032


@pytest.mark.parametrize("name", TORCHVISION_NAMES)
def test_torchvision_weights_give_torch_outputs(name: str, tmp_path: Path) -> None:
    assert_torchvision_weights_match(name, partial(torch_forward, name), tmp_path)


def test_v2_residuals_only_where_shapes_match() -> None:
    # Table 2: a shortcut in every repeat after the first of each row except [1, 16, 1, 1]
    blocks = list(mobilenet_v2().features)[1:-1]
    assert [b.use_res_connect for b in blocks] == [
        False, False, True, False, True, True, False, True, True, True, False, True, True,
        False, True, True, False]


def test_v3_uses_hardswish_hardsigmoid_and_se() -> None:
    model = mobilenet_v3_large()
    kinds = {type(m).__name__ for m in model.modules()}
    assert {"Hardswish", "Hardsigmoid", "SqueezeExcitation", "ReLU"} <= kinds
    assert model.features[4].block[2].fc1.out_channels == 24     # 72 // 4 -> multiple of 8
    bn_layer = model.features[0][1]
    assert bn_layer.eps == 1e-3 and bn_layer.momentum == 0.01


def test_mac_counts_match_papers() -> None:
    # Sandler et al. Table 4: 300M multiply-adds; Howard et al. 2019 Table 3: 219M / 56M
    # (our count leaves out the SE rescaling and the activations, hence 2%).
    assert conv_linear_macs(mobilenet_v2()) / 1e6 == pytest.approx(300, abs=1)
    assert conv_linear_macs(mobilenet_v3_large()) / 1e6 == pytest.approx(219, rel=0.02)
    assert conv_linear_macs(mobilenet_v3_small()) / 1e6 == pytest.approx(56, rel=0.02)


# ---------------------------------------------------------------------------------------------
# MobileNet v1 (no torchvision model)
# ---------------------------------------------------------------------------------------------

# (M, N) of the 13 depthwise-separable layers of Howard et al. 2017, Table 1
V1_PAIRS = ([(32, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 512)]
            + [(512, 512)] * 5 + [(512, 1024), (1024, 1024)])


def test_mobilenet_v1_parameter_count_by_hand() -> None:
    conv1 = 3 * 3 * 3 * 32 + 2 * 32                        # standard conv, no bias; BN gamma/beta
    separable = sum(3 * 3 * m + 2 * m                     # depthwise 3x3 + BN
                    + m * n + 2 * n                       # pointwise 1x1 + BN
                    for m, n in V1_PAIRS)
    fc = 1024 * 1000 + 1000
    assert conv1 + separable + fc == 4_231_976
    assert trainable_params(mobilenet_v1()) == 4_231_976
    bn_stats = 2 * (32 + sum(m + n for m, n in V1_PAIRS))  # running mean/var (non-trainable)
    model = mobilenet_v1()
    n_state = sum(int(np.prod(v.shape)) for k, v in model.state_dict().items()
                  if not k.endswith("num_batches_tracked"))
    assert n_state == 4_231_976 + bn_stats == 4_253_864     # Keras's MobileNet "Total params"


@pytest.mark.parametrize("alpha, mult_adds, params", [
    (1.0, 569, 4.2), (0.75, 325, 2.6), (0.5, 149, 1.3), (0.25, 41, 0.5)])
def test_mobilenet_v1_width_multiplier_matches_paper(alpha: float, mult_adds: int,
                                                     params: float) -> None:
    # Howard et al. 2017, Table 6 (224x224, millions)
    model = mobilenet_v1(width_mult=alpha)
    assert round(conv_linear_macs(model) / 1e6) == mult_adds
    assert round(trainable_params(model) / 1e6, 1) == params


def test_mobilenet_v1_layout() -> None:
    model = mobilenet_v1(num_classes=10)
    sd = model.state_dict()
    assert tuple(sd["features.0.0.weight"].shape) == (32, 3, 3, 3)
    assert tuple(sd["features.1.depthwise.0.weight"].shape) == (32, 1, 3, 3)
    assert tuple(sd["features.1.pointwise.0.weight"].shape) == (64, 32, 1, 1)
    assert tuple(sd["features.13.pointwise.0.weight"].shape) == (1024, 1024, 1, 1)
    assert tuple(sd["classifier.1.weight"].shape) == (10, 1024)
    strides = [b.depthwise[0].stride[0] for b in list(model.features)[1:]]
    assert strides == [s for s in (1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1)]


def test_mobilenet_v1_matches_torch_conv_stack() -> None:
    """Forward against torch: conv-BN-ReLU, then (depthwise, pointwise) pairs from Table 1."""
    numcnn.manual_seed(3)
    model = mobilenet_v1(num_classes=7, width_mult=0.25).eval()
    rng = np.random.default_rng(4)
    sd = randomised_torch_state(model, rng)
    x = rng.standard_normal((2, 3, 64, 64)).astype(np.float32)
    strides = (1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1)
    with torch.no_grad():
        h = torch.from_numpy(x)
        h = TF.relu(torch_bn(conv(h, sd, "features.0.0", 2), sd, "features.0.1", 1e-5))
        for i, s in enumerate(strides, start=1):
            p = f"features.{i}"
            h = TF.relu(torch_bn(conv(h, sd, f"{p}.depthwise.0", s, depthwise=True), sd,
                           f"{p}.depthwise.1", 1e-5))
            h = TF.relu(torch_bn(conv(h, sd, f"{p}.pointwise.0"), sd, f"{p}.pointwise.1", 1e-5))
        ref = TF.linear(h.mean((2, 3)), sd["classifier.1.weight"], sd["classifier.1.bias"])
    with numcnn.no_grad():
        ours = model(numcnn.tensor(x))
    assert_matches_oracle(ours, ref)


def test_width_mult_validated() -> None:
    with pytest.raises(ValueError, match="width_mult"):
        mobilenet_v1(width_mult=0)


# ---------------------------------------------------------------------------------------------
# All models: registry, forward and backward, initialisation
# ---------------------------------------------------------------------------------------------

def test_models_dict_and_registry() -> None:
    assert set(MODELS) == {"mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small",
                           "mobilenet_v3_large"}
    assert set(MODELS) <= set(list_models())
    model = get_model("mobilenet_v3_small", num_classes=10, in_channels=1)
    assert tuple(model.state_dict()["features.0.0.weight"].shape) == (16, 1, 3, 3)
    for factory in MODELS.values():
        assert factory.__doc__ and "trainable parameters" in factory.__doc__


@pytest.mark.parametrize("name", sorted(MODELS))
def test_forward_backward(name: str) -> None:
    kwargs = {"width_mult": 0.5} if name == "mobilenet_v1" else {}
    assert_forward_backward(MODELS[name](num_classes=10, **kwargs), (2, 3, 32, 32), 10)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_torchvision_initialisation(name: str) -> None:
    numcnn.manual_seed(0)
    model = MODELS[name]()
    for mod_name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            if m.bias is not None:                           # the SE layers' 1x1 convs
                assert not m.bias.detach().numpy().any(), mod_name
        elif isinstance(m, nn.BatchNorm2d):
            assert (m.weight.detach().numpy() == 1).all(), mod_name
            assert not m.bias.detach().numpy().any(), mod_name
        elif isinstance(m, nn.Linear):
            assert not m.bias.detach().numpy().any(), mod_name
    # kaiming_normal_(mode="fan_out"): std = sqrt(2 / (C_out k_h k_w)), also for depthwise convs
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    biggest = max(convs, key=lambda m: m.weight.numel())
    depthwise = max((m for m in convs if m.groups > 1), key=lambda m: m.weight.numel())
    for m in (biggest, depthwise):
        c_out, _, kh, kw = m.weight.shape
        assert_std(m.weight, np.sqrt(2.0 / (c_out * kh * kw)))
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert_std(max(linears, key=lambda m: m.weight.numel()).weight, 0.01)
