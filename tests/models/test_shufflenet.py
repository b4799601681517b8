"""ShuffleNet v1/v2: torchvision's layout for v2, torch oracles written from the papers, the
channel shuffle against a naive permutation, counts from the papers, forward/backward, init."""

from __future__ import annotations

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
from numcnn.models.shufflenet import MODELS, ShuffleUnit, shufflenet_v1

V2_NAMES = ["shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5",
            "shufflenet_v2_x2_0"]
V2_COUNTS = [1_366_792, 2_278_604, 3_503_624, 7_393_996]
V1_NAMES = ["shufflenet_v1_g1", "shufflenet_v1_g2", "shufflenet_v1_g3", "shufflenet_v1_g4",
            "shufflenet_v1_g8"]

# Zhang et al. 2018, Table 1: output channels of stages 2-4 at 1x, and complexity (MFLOPs,
# i.e. multiply-adds) at 224x224
V1_TABLE = {1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960), 4: (272, 544, 1088),
            8: (384, 768, 1536)}
V1_COMPLEXITY = {1: 143, 2: 140, 3: 137, 4: 133, 8: 137}
V1_REPEATS = (4, 8, 4)


def naive_shuffle(x: np.ndarray, g: int) -> np.ndarray:
    """The paper's channel shuffle, channel by channel: with the C channels seen as g groups of
    n = C/g, output channel j*g + i is channel j of group i, i.e. input channel i*n + j."""
    n = x.shape[1] // g
    out = np.empty_like(x)
    for i in range(g):
        for j in range(n):
            out[:, j * g + i] = x[:, i * n + j]
    return out


def torch_shuffle(x: torch.Tensor, g: int) -> torch.Tensor:
    perm = naive_shuffle(np.arange(x.shape[1])[None, :], g)[0]
    return x[:, torch.from_numpy(perm)]


# ---------------------------------------------------------------------------------------------
# Channel shuffle
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("groups, channels", [(2, 8), (3, 12), (4, 8), (8, 24), (1, 5)])
def test_channel_shuffle_is_the_papers_permutation(groups: int, channels: int) -> None:
    x = np.random.default_rng(0).standard_normal((2, channels, 3, 2)).astype(np.float32)
    ours = nn.ChannelShuffle(groups)(numcnn.tensor(x)).numpy()
    np.testing.assert_array_equal(ours, naive_shuffle(x, groups))


def test_shuffle_lets_every_group_see_every_group() -> None:
    # Fig. 1(b): after the shuffle, each of the g groups holds one channel from every group
    g, n = 3, 6
    origin = np.repeat(np.arange(g), n)[None, :, None, None].astype(np.float32)  # group of each
    shuffled = nn.ChannelShuffle(g)(numcnn.tensor(origin)).numpy()[0, :, 0, 0]
    for group in shuffled.reshape(g, n):
        assert set(group.tolist()) == set(range(g))


# ---------------------------------------------------------------------------------------------
# ShuffleNet v2 (torchvision)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, count", list(zip(V2_NAMES, V2_COUNTS)))
def test_v2_torchvision_layout(name: str, count: int) -> None:
    model = MODELS[name]()
    assert_torchvision_layout(model, name)
    assert trainable_params(model) == count


def torch_shufflenet_v2(sd: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Ma et al. 2018, Fig. 3 (c)/(d) and Table 5, on torchvision's key names."""
    eps = 1e-5

    def cbr(h: torch.Tensor, p: str, i: int, stride: int = 1, depthwise: bool = False,
            relu: bool = True) -> torch.Tensor:
        h = torch_bn(conv(h, sd, f"{p}.{i}", stride, depthwise), sd, f"{p}.{i + 1}", eps)
        return TF.relu(h) if relu else h

    def branch2(h: torch.Tensor, p: str, stride: int) -> torch.Tensor:
        h = cbr(h, p, 0)                                               # 1x1, BN, ReLU
        h = cbr(h, p, 3, stride, depthwise=True, relu=False)           # 3x3 DW, BN
        return cbr(h, p, 5)                                            # 1x1, BN, ReLU

    x = TF.max_pool2d(cbr(x, "conv1", 0, stride=2), 3, 2, 1)
    for stage, repeats in zip((2, 3, 4), (4, 8, 4)):
        for i in range(repeats):
            p = f"stage{stage}.{i}"
            if i == 0:                                                 # Fig. 3(d), stride 2
                left = cbr(x, f"{p}.branch1", 0, 2, depthwise=True, relu=False)
                left = cbr(left, f"{p}.branch1", 2)
                x = torch.cat([left, branch2(x, f"{p}.branch2", 2)], 1)
            else:                                                      # Fig. 3(c): split
                c = x.shape[1] // 2
                x = torch.cat([x[:, :c], branch2(x[:, c:], f"{p}.branch2", 1)], 1)
            x = torch_shuffle(x, 2)
    x = cbr(x, "conv5", 0).mean((2, 3))
    return TF.linear(x, sd["fc.weight"], sd["fc.bias"])


@pytest.mark.parametrize("name", V2_NAMES)
def test_v2_torchvision_weights_give_torch_outputs(name: str, tmp_path: Path) -> None:
    assert_torchvision_weights_match(name, torch_shufflenet_v2, tmp_path)


def test_v2_mac_counts_match_paper() -> None:
    # Ma et al. 2018, Table 5: 41 / 146 / 299 / 591 MFLOPs; our conv+fc count is 1-1.5% lower
    # (the paper's count evidently includes more than the convolutions and the classifier).
    for name, paper in zip(V2_NAMES, (41, 146, 299, 591)):
        assert conv_linear_macs(MODELS[name]()) / 1e6 == pytest.approx(paper, rel=0.02), name


# ---------------------------------------------------------------------------------------------
# ShuffleNet v1
# ---------------------------------------------------------------------------------------------

def v1_params_by_hand(g: int, num_classes: int = 1000) -> int:
    """Trainable parameters from Table 1 and Sec. 3.3: conv1 3x3x3x24; per unit a 1x1 GConv to
    C/4 channels (not grouped in the first unit of stage 2), a 3x3 depthwise conv, a 1x1 GConv to
    C (C - C_in in a stride-2 unit, whose shortcut is concatenated); BN (gamma, beta) after each;
    an FC layer with bias."""
    total = 3 * 3 * 3 * 24 + 2 * 24
    c_in = 24
    for stage, (c_out, repeats) in enumerate(zip(V1_TABLE[g], V1_REPEATS)):
        for i in range(repeats):
            mid = c_out // 4
            branch = c_out - c_in if i == 0 else c_out
            g1 = 1 if stage == 0 and i == 0 else g
            total += c_in * mid // g1 + 2 * mid           # 1x1 GConv + BN
            total += 3 * 3 * mid + 2 * mid                # 3x3 DWConv + BN
            total += mid * branch // g + 2 * branch       # 1x1 GConv + BN
            c_in = c_out
    return total + c_in * num_classes + num_classes


@pytest.mark.parametrize("g, count", [(1, 1_531_936), (2, 1_733_848), (3, 1_865_728),
                                      (4, 1_968_344), (8, 2_434_768)])
def test_v1_parameter_counts(g: int, count: int) -> None:
    assert v1_params_by_hand(g) == count
    assert trainable_params(MODELS[f"shufflenet_v1_g{g}"]()) == count
    assert trainable_params(shufflenet_v1(groups=g)) == count


@pytest.mark.parametrize("g", sorted(V1_TABLE))
def test_v1_complexity_matches_table_1(g: int) -> None:
    # Table 1's complexity counts the convolutions (not the FC layer): e.g. g = 3 gives
    # 136.5M conv multiply-adds + 0.96M for the FC.
    model = shufflenet_v1(groups=g)
    fc = V1_TABLE[g][2] * 1000
    assert (conv_linear_macs(model) - fc) / 1e6 == pytest.approx(V1_COMPLEXITY[g], abs=0.5)


def test_v1_layout() -> None:
    model = shufflenet_v1(groups=3)
    sd = model.state_dict()
    assert tuple(sd["conv1.0.weight"].shape) == (24, 3, 3, 3)
    assert tuple(sd["stage2.0.gconv1.weight"].shape) == (60, 24, 1, 1)      # not grouped
    assert tuple(sd["stage2.0.dwconv.weight"].shape) == (60, 1, 3, 3)
    assert tuple(sd["stage2.0.gconv2.weight"].shape) == (216, 20, 1, 1)     # 240 - 24 out
    assert tuple(sd["stage2.1.gconv1.weight"].shape) == (60, 80, 1, 1)      # grouped, g = 3
    assert tuple(sd["stage3.0.gconv2.weight"].shape) == (240, 40, 1, 1)     # 480 - 240 out
    assert tuple(sd["stage4.3.bn3.running_var"].shape) == (960,)
    assert tuple(sd["fc.weight"].shape) == (1000, 960)
    assert [len(s) for s in (model.stage2, model.stage3, model.stage4)] == [4, 8, 4]


def torch_shufflenet_v1(sd: dict[str, torch.Tensor], x: torch.Tensor, g: int) -> torch.Tensor:
    """Zhang et al. 2018, Fig. 2(b)/(c) and Table 1, on numcnn's key names."""
    eps = 1e-5
    x = TF.relu(torch_bn(conv(x, sd, "conv1.0", 2), sd, "conv1.1", eps))
    x = TF.max_pool2d(x, 3, 2, 1)
    for stage, repeats in zip((2, 3, 4), V1_REPEATS):
        for i in range(repeats):
            p = f"stage{stage}.{i}"
            stride = 2 if i == 0 else 1
            g1 = 1 if stage == 2 and i == 0 else g
            h = TF.conv2d(x, sd[f"{p}.gconv1.weight"], groups=g1)
            h = TF.relu(torch_bn(h, sd, f"{p}.bn1", eps))
            h = torch_shuffle(h, g)
            h = torch_bn(conv(h, sd, f"{p}.dwconv", stride, depthwise=True), sd, f"{p}.bn2", eps)
            h = torch_bn(TF.conv2d(h, sd[f"{p}.gconv2.weight"], groups=g), sd, f"{p}.bn3", eps)
            if stride == 2:
                x = TF.relu(torch.cat([TF.avg_pool2d(x, 3, 2, 1), h], 1))
            else:
                x = TF.relu(x + h)
    x = x.mean((2, 3))
    return TF.linear(x, sd["fc.weight"], sd["fc.bias"])


@pytest.mark.parametrize("g, width_mult", [(3, 0.5), (8, 0.25), (2, 0.5)])
def test_v1_matches_torch_forward(g: int, width_mult: float) -> None:
    numcnn.manual_seed(5)
    model = shufflenet_v1(groups=g, width_mult=width_mult, num_classes=10).eval()
    rng = np.random.default_rng(6)
    sd = randomised_torch_state(model, rng)
    x = rng.standard_normal((2, 3, 64, 64)).astype(np.float32)
    with numcnn.no_grad():
        ours = model(numcnn.tensor(x))
    with torch.no_grad():
        ref = torch_shufflenet_v1(sd, torch.from_numpy(x), g)
    assert_matches_oracle(ours, ref)


def test_v1_width_multiplier() -> None:
    # "ShuffleNet s x": filters scaled by s; stage widths stay multiples of 4g
    model = shufflenet_v1(groups=3, width_mult=0.5)
    assert model.conv1[0].out_channels == 12
    assert [s[0].gconv1.out_channels * 4 for s in (model.stage2, model.stage3, model.stage4)] \
        == [120, 240, 480]
    assert model.fc.in_features == 480


def test_v1_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="groups"):
        shufflenet_v1(groups=5)
    with pytest.raises(ValueError, match="width_mult"):
        shufflenet_v1(width_mult=-1)
    with pytest.raises(ValueError, match="multiple of groups"):
        ShuffleUnit(24, 100, groups=3, stride=2)
    with pytest.raises(ValueError, match="in_channels"):
        ShuffleUnit(24, 48, groups=3, stride=1)


# ---------------------------------------------------------------------------------------------
# All models: registry, forward and backward, initialisation
# ---------------------------------------------------------------------------------------------

def test_models_dict_and_registry() -> None:
    assert set(MODELS) == set(V1_NAMES) | set(V2_NAMES) | {"shufflenet_v1"}
    assert set(MODELS) <= set(list_models())
    model = get_model("shufflenet_v1", groups=8, num_classes=10, in_channels=1)
    assert tuple(model.state_dict()["conv1.0.weight"].shape) == (24, 1, 3, 3)
    for factory in MODELS.values():
        assert factory.__doc__ and "trainable parameters" in factory.__doc__


@pytest.mark.parametrize("name", sorted(MODELS))
def test_forward_backward(name: str) -> None:
    assert_forward_backward(MODELS[name](num_classes=10), (2, 3, 32, 32), 10)


@pytest.mark.parametrize("name", ["shufflenet_v2_x1_0", "shufflenet_v2_x2_0"])
def test_v2_default_initialisation(name: str) -> None:
    # torchvision's ShuffleNetV2 keeps the layers' own defaults: conv and linear weights
    # U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (std bound/sqrt(3)), linear bias likewise, BN 1/0.
    numcnn.manual_seed(0)
    model = MODELS[name]()
    for m in (model.conv5[0], model.stage4[0].branch1[2], model.fc):
        w = m.weight.detach().numpy()
        bound = 1 / np.sqrt(np.prod(w.shape[1:]))
        assert np.abs(w).max() <= bound * (1 + 1e-6)   # float32 rounding
        assert_std(m.weight, bound / np.sqrt(3))
    b = model.fc.bias.detach().numpy()
    assert np.abs(b).max() <= 1 / np.sqrt(model.fc.in_features) and b.std() > 0
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert (m.weight.detach().numpy() == 1).all()
            assert not m.bias.detach().numpy().any()


def test_v1_initialisation() -> None:
    # MobileNet's (torchvision) scheme: kaiming_normal_ fan_out, BN 1/0, Linear N(0, 0.01)
    numcnn.manual_seed(0)
    model = shufflenet_v1(groups=3)
    for m in (model.stage4[0].gconv2, model.stage4[1].gconv1, model.stage4[1].dwconv):
        c_out, _, kh, kw = m.weight.shape
        assert_std(m.weight, np.sqrt(2.0 / (c_out * kh * kw)))
    assert_std(model.fc.weight, 0.01)
    assert not model.fc.bias.detach().numpy().any()
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all((m.weight.detach().numpy() == 1).all() for m in bns)
