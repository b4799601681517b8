"""ResNet-18/34/50/101/152, ResNeXt-50 32x4d, Wide ResNet-50-2: torchvision's layout, a
torchvision state_dict through safetensors against an independent torch forward, parameter
counts derived by hand, forward+backward, torchvision's initialisation, and stochastic depth
(Huang et al. 2016): the survival rule, the test-time expectation, the drop rate, gradients."""

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
from numcnn.models.resnet import (
    MODELS,
    BasicBlock,
    Bottleneck,
    ResNet,
    resnet18,
    resnet50,
    survival_probabilities,
)

TF = torch.nn.functional

# name: (bottleneck?, blocks per stage, groups, width per group) from the papers' tables
CONFIGS = {
    "resnet18": (False, (2, 2, 2, 2), 1, 64),
    "resnet34": (False, (3, 4, 6, 3), 1, 64),
    "resnet50": (True, (3, 4, 6, 3), 1, 64),
    "resnet101": (True, (3, 4, 23, 3), 1, 64),
    "resnet152": (True, (3, 8, 36, 3), 1, 64),
    "resnext50_32x4d": (True, (3, 4, 6, 3), 32, 4),
    "wide_resnet50_2": (True, (3, 4, 6, 3), 1, 128),
}
COUNTS = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
          "resnet101": 44_549_160, "resnet152": 60_192_808, "resnext50_32x4d": 25_028_904,
          "wide_resnet50_2": 68_883_240}


def count_by_hand(bottleneck: bool, blocks: tuple[int, ...], groups: int, width_per_group: int,
                  classes: int = 1000) -> int:
    """Stem: conv 7x7 3->64 and BN(64).  A stage of base width w (64, 128, 256, 512) and output
    c = w (basic) or 4w (bottleneck):
      basic block c_in -> w:   9 c_in w + 9 w^2 + 2 BN(w)
      bottleneck c_in -> 4w, inner width d = w * width_per_group / 64 * groups:
                               c_in d + 9 d^2 / groups + d 4w + BN(d), BN(d), BN(4w)
      a projection shortcut where the shape changes: c_in c + BN(c).
    Head: Linear(c, classes)."""
    total = 3 * 64 * 49 + 2 * 64
    c_in = 64
    for stage, n in enumerate(blocks):
        w = 64 * 2 ** stage
        c = 4 * w if bottleneck else w
        for b in range(n):
            if bottleneck:
                d = w * width_per_group // 64 * groups
                total += c_in * d + 9 * d * d // groups + d * c + 2 * (d + d + c)
            else:
                total += 9 * c_in * w + 9 * w * w + 2 * (w + w)
            if b == 0 and (stage > 0 or c_in != c):
                total += c_in * c + 2 * c
            c_in = c
    return total + c_in * classes + classes


def test_resnet18_count_worked_by_hand() -> None:
    # stem 9408 + 128; layer1: 2 x (2 x 36864 + 256) = 147968;
    # layer2: 73728 + 147456 + 512 + (8192 + 256) + 147456 + 147456 + 512 = 525568;
    # layer3: 294912 + 589824 + 1024 + (32768 + 512) + 2 x 589824 + 1024 = 2099712;
    # layer4: 1179648 + 2359296 + 2048 + (131072 + 1024) + 2 x 2359296 + 2048 = 8393728;
    # fc: 512 x 1000 + 1000 = 513000
    total = 9408 + 128 + 147968 + 525568 + 2099712 + 8393728 + 513000
    assert total == 11_689_512 == count_by_hand(False, (2, 2, 2, 2), 1, 64)


# forward+backward of the deeper models takes ~30 s on a loaded 2-core machine: marked slow;
# the three below cover every kind of block (basic, bottleneck, grouped bottleneck)
DEEP = ["resnet34", "resnet101", "resnet152", "wide_resnet50_2"]


def _layout_count_forward_backward(name: str, backward: bool) -> None:
    model = MODELS[name]()
    assert_torchvision_layout(model, name)
    assert trainable_params(model) == COUNTS[name] == count_by_hand(*CONFIGS[name])
    if backward:
        # batch 2: at 32x32 layer4 works on 1x1 maps, where training-mode BN needs N > 1
        assert_forward_backward(model, (2, 3, 32, 32), 1000)


@pytest.mark.parametrize("name", [n for n in CONFIGS if n not in DEEP])
def test_layout_count_and_forward_backward(name: str) -> None:
    _layout_count_forward_backward(name, backward=True)


@pytest.mark.parametrize("name", DEEP)
def test_layout_and_count(name: str) -> None:
    _layout_count_forward_backward(name, backward=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", DEEP)
def test_forward_backward_deep(name: str) -> None:
    _layout_count_forward_backward(name, backward=True)


def torch_resnet(sd: dict[str, torch.Tensor], x: torch.Tensor,
                 survival: list[float] | None = None) -> torch.Tensor:
    """The ResNet of the paper's Table 1 in torch.nn.functional, read off the state_dict: a
    block with conv3 is a bottleneck (stride on its 3x3, groups = channels / weight's in-dim),
    a block with downsample.* has a projection shortcut; stride 2 opens stages 2-4.  With
    `survival`, block l's residual is scaled by p_l (stochastic depth at test time)."""
    x = TF.conv2d(x, sd["conv1.weight"], stride=2, padding=3)
    x = TF.max_pool2d(TF.relu(torch_bn(x, sd, "bn1")), 3, 2, 1)
    l = 0
    for stage in range(1, 5):
        b = 0
        while f"layer{stage}.{b}.conv1.weight" in sd:
            p = f"layer{stage}.{b}."
            s = 2 if stage > 1 and b == 0 else 1
            shortcut = x
            if p + "downsample.0.weight" in sd:
                projected = TF.conv2d(x, sd[p + "downsample.0.weight"], stride=s)
                shortcut = torch_bn(projected, sd, p + "downsample.1")
            if p + "conv3.weight" in sd:
                h = TF.relu(torch_bn(TF.conv2d(x, sd[p + "conv1.weight"]), sd, p + "bn1"))
                w2 = sd[p + "conv2.weight"]
                h = TF.conv2d(h, w2, stride=s, padding=1, groups=h.shape[1] // w2.shape[1])
                h = TF.relu(torch_bn(h, sd, p + "bn2"))
                h = torch_bn(TF.conv2d(h, sd[p + "conv3.weight"]), sd, p + "bn3")
            else:
                h = TF.conv2d(x, sd[p + "conv1.weight"], stride=s, padding=1)
                h = TF.relu(torch_bn(h, sd, p + "bn1"))
                h = torch_bn(TF.conv2d(h, sd[p + "conv2.weight"], padding=1), sd, p + "bn2")
            if survival is not None:
                h = h * survival[l]
            x = TF.relu(h + shortcut)
            b, l = b + 1, l + 1
    return TF.linear(x.mean(dim=(2, 3)), sd["fc.weight"], sd["fc.bias"])


def tame_state_dict(name: str, seed: int) -> dict[str, torch.Tensor]:
    """A random torchvision state_dict whose residual branches are small (last BN weight
    x0.2), so that even 50 stacked blocks keep their activations in a float32-friendly range."""
    sd = random_torchvision_state_dict(name, seed=seed)
    last_bn = "bn3.weight" if CONFIGS[name][0] else "bn2.weight"
    for k in sd:
        if k.startswith("layer") and k.endswith(last_bn):
            sd[k] = sd[k] * 0.2
    return sd


def _oracle_case(name: str, tmp_path: Any) -> None:
    sd = tame_state_dict(name, seed=3)
    model = load_through_safetensors(MODELS[name](), sd, tmp_path).eval()
    x = np.random.default_rng(4).standard_normal((1, 3, 64, 64)).astype(np.float32)
    with numcnn.no_grad():
        ours = model(numcnn.tensor(x))
    assert_matches_oracle(ours, torch_resnet(sd, torch.from_numpy(x)))


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnext50_32x4d"])
def test_torchvision_weights_give_torchs_outputs(name: str, tmp_path: Any) -> None:
    _oracle_case(name, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", DEEP)
def test_torchvision_weights_give_torchs_outputs_deep(name: str, tmp_path: Any) -> None:
    _oracle_case(name, tmp_path)


def test_initialisation_follows_torchvision() -> None:
    numcnn.manual_seed(0)
    model = resnet50()
    # kaiming_normal_(fan_out, relu): std sqrt(2 / fan_out); layer4.0.conv3 is 2048 x 512 x 1 x 1,
    # so fan_out = 2048 and fan_in = 512 tell the two modes apart (a factor of 2 in std)
    w = model.layer4[0].conv3.weight.detach().numpy()
    assert abs(w.std() / math.sqrt(2 / 2048) - 1) < 0.01 and abs(w.mean()) < 1e-4
    # the stem: 64 x 3 x 7 x 7, fan_out = 64 * 49
    w = model.conv1.weight.detach().numpy()
    assert abs(w.std() / math.sqrt(2 / (64 * 49)) - 1) < 0.03
    # torchvision leaves the Linear at its default: weight and bias U(+-1/sqrt(fan_in))
    fc = model.fc.weight.detach().numpy()                           # 1000 x 2048
    assert abs(fc.std() / (1 / math.sqrt(3 * 2048)) - 1) < 0.01
    assert np.abs(fc).max() <= 1 / math.sqrt(2048)
    bias = model.fc.bias.detach().numpy()
    assert np.abs(bias).max() <= 1 / math.sqrt(2048) and bias.std() > 0
    for name, p in model.named_parameters():
        if ".bn" in name or name.startswith("bn") or "downsample.1" in name:
            assert (p.detach().numpy() == (1.0 if name.endswith("weight") else 0.0)).all(), name


def test_zero_init_residual() -> None:
    basic = resnet18(zero_init_residual=True)
    bottle = resnet50(zero_init_residual=True)
    for model, last in ((basic, "bn2"), (bottle, "bn3")):
        for name, m in model.named_modules():
            if isinstance(m, (BasicBlock, Bottleneck)):
                assert not getattr(m, last).weight.detach().numpy().any(), name
                assert (m.bn1.weight.detach().numpy() == 1).all(), name
    # every block starts as ReLU(shortcut(x)): a block without projection is the identity on x>=0
    x = numcnn.tensor(np.random.default_rng(0).random((2, 64, 8, 8)).astype(np.float32))
    with numcnn.no_grad():
        y = basic.layer1[0].eval()(x)
    np.testing.assert_array_equal(y.numpy(), x.numpy())


def test_options_and_errors() -> None:
    model = resnet50(num_classes=7, in_channels=1, replace_stride_with_dilation=[False, True, True])
    assert tuple(model.conv1.weight.shape) == (64, 1, 7, 7)
    assert model.layer4[0].conv2.stride == (1, 1) and model.layer4[1].conv2.dilation == (4, 4)
    with numcnn.no_grad():
        out = model.eval()(numcnn.zeros(1, 1, 32, 32))
    assert tuple(out.shape) == (1, 7)
    assert set(MODELS) <= set(numcnn.models.list_models())
    assert isinstance(get_model("resnext50_32x4d", num_classes=3), ResNet)
    with pytest.raises(ValueError, match="groups=1"):
        BasicBlock(8, 8, groups=2)
    with pytest.raises(ValueError, match="p_last"):
        resnet18(stochastic_depth_p_last=0.0)
    with pytest.raises(ValueError, match="p_last"):
        resnet18(stochastic_depth_p_last=1.5)
    with pytest.raises(ValueError, match="4 stage"):
        ResNet(BasicBlock, [2, 2, 2])


# --- stochastic depth --------------------------------------------------------------------------

def test_survival_probabilities_linear_decay() -> None:
    # L = 4, p_L = 0.5: p_l = 1 - l/8
    assert survival_probabilities(4, 0.5) == [0.875, 0.75, 0.625, 0.5]
    assert survival_probabilities(3, 1.0) == [1.0, 1.0, 1.0]
    # ResNet-50 has L = 3 + 4 + 6 + 3 = 16 blocks; block l (1-based, in forward order)
    model = resnet50(stochastic_depth_p_last=0.5)
    blocks = [m for m in model.modules() if isinstance(m, Bottleneck)]
    assert len(blocks) == 16
    for l, block in enumerate(blocks, 1):
        assert block.survival_prob == pytest.approx(1 - l / 16 * 0.5)
    assert blocks[-1].survival_prob == 0.5
    # off by default: every block always survives, nothing is scaled
    assert all(m.survival_prob == 1.0 for m in resnet18().modules() if isinstance(m, BasicBlock))


def test_stochastic_depth_eval_is_the_expectation(tmp_path: Any) -> None:
    # test time: H_l = ReLU(p_l F_l(H_{l-1}) + shortcut(H_{l-1})), deterministic
    sd = tame_state_dict("resnet18", seed=6)
    model = load_through_safetensors(resnet18(stochastic_depth_p_last=0.5), sd, tmp_path).eval()
    x = np.random.default_rng(7).standard_normal((1, 3, 32, 32)).astype(np.float32)
    with numcnn.no_grad():
        first = model(numcnn.tensor(x)).numpy()
        second = model(numcnn.tensor(x)).numpy()
    np.testing.assert_array_equal(first, second)
    expected = torch_resnet(sd, torch.from_numpy(x), survival_probabilities(8, 0.5))
    assert_matches_oracle(numcnn.tensor(first), expected)
    # and it differs from the network without stochastic depth
    assert not np.allclose(first, torch_resnet(sd, torch.from_numpy(x)).numpy(), rtol=1e-3)


def test_stochastic_depth_drops_blocks_at_rate_1_minus_p() -> None:
    numcnn.manual_seed(11)
    block = BasicBlock(4, 4, survival_prob=0.25).train()
    calls: list[int] = []
    block.conv1.register_forward_hook(lambda m, i, o: calls.append(1))
    x = numcnn.tensor(np.random.default_rng(0).random((2, 4, 3, 3)).astype(np.float32))
    dropped_outputs_are_the_identity = True
    trials = 400
    for _ in range(trials):
        before = len(calls)
        y = block(x)
        if len(calls) == before:                  # dropped: ReLU(x) = x for x >= 0
            dropped_outputs_are_the_identity &= bool(np.array_equal(y.numpy(), x.numpy()))
    survived = len(calls)
    # Binomial(400, 0.25): mean 100, sd 8.7; seeded, so this is a fixed number within 3 sd
    assert abs(survived - 100) < 26, survived
    assert dropped_outputs_are_the_identity
    # eval: always computed, never random
    block.eval()
    before = len(calls)
    with numcnn.no_grad():
        a, b = block(x).numpy(), block(x).numpy()
    assert len(calls) == before + 2 and np.array_equal(a, b)


def test_stochastic_depth_gradients_flow() -> None:
    numcnn.manual_seed(3)
    model = ResNet(BasicBlock, [1, 1, 1, 1], num_classes=3, stochastic_depth_p_last=0.5).train()
    blocks = [m for m in model.modules() if isinstance(m, BasicBlock)]
    ran: set[int] = set()
    for i, block in enumerate(blocks):
        block.conv1.register_forward_hook(lambda m, inp, out, i=i: ran.add(i))
    x = numcnn.tensor(np.random.default_rng(1).standard_normal((2, 3, 16, 16)).astype(np.float32),
                      requires_grad=True)
    saw_drop = False
    for _ in range(5):
        model.zero_grad()
        x.grad = None
        ran.clear()
        model(x).sum().backward()
        assert x.grad is not None and np.isfinite(x.grad.numpy()).all() and x.grad.numpy().any()
        for i, block in enumerate(blocks):
            shortcut = set() if block.downsample is None else \
                {id(q) for q in block.downsample.parameters()}
            grads = [p.grad for p in block.parameters() if id(p) not in shortcut]
            if i in ran:
                assert all(g is not None and np.isfinite(g.numpy()).all() for g in grads)
            else:       # a dropped residual branch takes no part in the graph
                saw_drop = True
                assert all(g is None or not g.numpy().any() for g in grads)
        assert model.fc.weight.grad is not None and model.conv1.weight.grad is not None
    assert saw_drop
