"""The CIFAR ResNets (He et al. 2016, Section 4.2) and their plain twins: parameter counts derived
by hand, the option-A shortcut, an independent torch forward, forward+backward of every model,
the initialisation, stochastic depth on CIFAR (Huang et al. 2016), and (slow) ResNet-20
learning SyntheticShapes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tests.models.zoo import (
    assert_forward_backward,
    assert_matches_oracle,
    torch_bn,
    trainable_params,
)

import numcnn
import numcnn.nn.functional as F
from numcnn.data import DataLoader
from numcnn.data.synthetic import SyntheticShapes
from numcnn.models import get_model
from numcnn.models.cifar_resnet import (
    MODELS,
    CifarResNet,
    PlainBlock,
    ShortcutA,
    plain20,
    resnet20,
    resnet56,
)
from numcnn.models.resnet import BasicBlock

TF = torch.nn.functional

DEPTHS = {20: 3, 32: 5, 44: 7, 56: 9, 110: 18}          # depth 6n + 2 -> n
PAPER_COUNTS = {20: 0.27e6, 32: 0.46e6, 44: 0.66e6, 56: 0.85e6, 110: 1.7e6}   # Table 6


def count_by_hand(n: int, classes: int = 10) -> int:
    """conv3x3 a->b without bias has 9ab weights, BN(b) has 2b.
      stem:    9*3*16 + 2*16                                     =    464
      stage 1: n blocks of 2 x (9*16*16 + 32)                    = 4,672 n
      stage 2: 9*16*32 + 9*32*32 + 2*64  = 13,952, then (n-1) x 2 x (9*32*32 + 64) = 18,560 each
      stage 3: 9*32*64 + 9*64*64 + 2*128 = 55,552, then (n-1) x 2 x (9*64*64 + 128) = 73,984 each
      fc:      64 * classes + classes
    Option-A shortcuts add nothing, so a plain network has the same count."""
    return (464 + 4672 * n + 13952 + 18560 * (n - 1) + 55552 + 73984 * (n - 1)
            + 64 * classes + classes)


def test_counts_by_hand() -> None:
    # ResNet-20, every term: 464 + 14,016 + (13,952 + 37,120) + (55,552 + 147,968) + 650
    assert 464 + 14016 + 13952 + 37120 + 55552 + 147968 + 650 == 269_722 == count_by_hand(3)
    expected = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962}
    for depth, n in DEPTHS.items():
        assert 6 * n + 2 == depth
        assert count_by_hand(n) == expected[depth]
        assert abs(expected[depth] - PAPER_COUNTS[depth]) < 0.01e6 + 0.03e6 * (depth == 110)
        assert trainable_params(MODELS[f"resnet{depth}"]()) == expected[depth]
        assert trainable_params(MODELS[f"plain{depth}"]()) == expected[depth]
    assert trainable_params(resnet20(num_classes=100, in_channels=1)) == \
        count_by_hand(3, 100) - 9 * 2 * 16


def test_layout() -> None:
    sd = resnet20().state_dict()
    # 19 conv + BN pairs (the stem and 9 blocks of 2): a conv weight, BN's weight, bias,
    # running_mean, running_var, num_batches_tracked; then the fc's weight and bias
    assert len(sd) == 19 * (1 + 5) + 2
    assert tuple(sd["conv1.weight"].shape) == (16, 3, 3, 3)
    assert tuple(sd["layer2.0.conv1.weight"].shape) == (32, 16, 3, 3)
    assert tuple(sd["layer3.2.conv2.weight"].shape) == (64, 64, 3, 3)
    assert tuple(sd["fc.weight"].shape) == (10, 64)
    assert not any("downsample" in k for k in sd)
    assert list(sd) == list(plain20().state_dict())     # the same layers, only the sums differ
    model = resnet20()
    assert isinstance(model.layer2[0].downsample, ShortcutA)
    assert model.layer1[0].downsample is None and model.layer2[1].downsample is None
    assert all(isinstance(b, PlainBlock) for b in plain20().layer3)


def test_shortcut_a_subsamples_and_pads_zero_channels() -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5)).astype(np.float32)
    y = ShortcutA(4, stride=2)(numcnn.tensor(x)).numpy()
    assert y.shape == (2, 7, 3, 3)                      # ceil(5 / 2) = 3
    for i in range(3):
        for j in range(3):
            np.testing.assert_array_equal(y[:, :3, i, j], x[:, :, 2 * i, 2 * j])
    assert not y[:, 3:].any()
    assert not list(ShortcutA(4).parameters())
    with pytest.raises(ValueError, match="extra_channels"):
        ShortcutA(-1)


def torch_cifar_resnet(sd: dict[str, torch.Tensor], x: torch.Tensor, n: int, residual: bool,
                       survival: list[float] | None = None) -> torch.Tensor:
    """Section 4.2 in torch.nn.functional: 3x3 conv, three stages of n two-conv blocks, stride 2
    opening stages 2 and 3; the shortcut x[:, :, ::2, ::2] concatenated with zero channels where
    the width grows.  `survival` scales block l's residual by p_l (stochastic depth, test)."""
    x = TF.relu(torch_bn(TF.conv2d(x, sd["conv1.weight"], padding=1), sd, "bn1"))
    l = 0
    for stage in range(1, 4):
        for b in range(n):
            p = f"layer{stage}.{b}."
            s = 2 if stage > 1 and b == 0 else 1
            h = TF.conv2d(x, sd[p + "conv1.weight"], stride=s, padding=1)
            h = TF.relu(torch_bn(h, sd, p + "bn1"))
            h = torch_bn(TF.conv2d(h, sd[p + "conv2.weight"], padding=1), sd, p + "bn2")
            if residual:
                shortcut = x[:, :, ::s, ::s]
                grow = h.shape[1] - shortcut.shape[1]
                if grow:
                    zeros = shortcut.new_zeros((shortcut.shape[0], grow) + shortcut.shape[2:])
                    shortcut = torch.cat([shortcut, zeros], 1)
                if survival is not None:
                    h = h * survival[l]
                h = h + shortcut
            x = TF.relu(h)
            l += 1
    return TF.linear(x.mean(dim=(2, 3)), sd["fc.weight"], sd["fc.bias"])


def random_state(model: numcnn.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """The model's own conv weights (kaiming) with random BN statistics and affine terms, loaded
    back into the model; returned as torch tensors for the oracle."""
    rng = np.random.default_rng(seed)
    sd = {}
    for key, value in model.state_dict().items():
        arr = np.array(value.numpy())
        is_bn = ".bn" in key or key.startswith("bn")
        if key.endswith("running_var") or (is_bn and key.endswith("weight")):
            arr = rng.uniform(0.5, 1.5, arr.shape).astype(arr.dtype)
        elif key.endswith(("running_mean", "bias")):
            arr = rng.normal(0, 0.1, arr.shape).astype(arr.dtype)
        sd[key] = torch.from_numpy(arr)
    model.load_state_dict({k: numcnn.tensor(v.numpy()) for k, v in sd.items()})
    return sd


@pytest.mark.parametrize("residual,p_last", [(True, None), (False, None), (True, 0.5)])
def test_matches_an_independent_torch_forward(residual: bool, p_last: float | None) -> None:
    numcnn.manual_seed(1)
    model = CifarResNet(3, residual, stochastic_depth_p_last=p_last)
    sd = random_state(model, seed=2)
    x = np.random.default_rng(3).standard_normal((2, 3, 32, 32)).astype(np.float32)
    with numcnn.no_grad():
        ours = model.eval()(numcnn.tensor(x))
        again = model(numcnn.tensor(x))
    np.testing.assert_array_equal(ours.numpy(), again.numpy())     # eval is deterministic
    survival = None if p_last is None else [1 - l / 9 * (1 - p_last) for l in range(1, 10)]
    assert_matches_oracle(ours, torch_cifar_resnet(sd, torch.from_numpy(x), 3, residual,
                                                   survival))


@pytest.mark.parametrize("name", list(MODELS))
def test_forward_backward(name: str) -> None:
    assert_forward_backward(get_model(name, num_classes=5), (2, 3, 16, 16), 5)


def test_in_channels_and_errors() -> None:
    model = resnet20(num_classes=4, in_channels=1)
    assert tuple(model.conv1.weight.shape) == (16, 1, 3, 3)
    assert_forward_backward(model, (2, 1, 12, 12), 4)
    with pytest.raises(ValueError, match="residual"):
        CifarResNet(3, residual=False, stochastic_depth_p_last=0.5)
    with pytest.raises(ValueError, match="n "):
        CifarResNet(0)
    with pytest.raises(ValueError, match="p_last"):
        resnet20(stochastic_depth_p_last=-0.1)


def test_initialisation() -> None:
    numcnn.manual_seed(0)
    model = resnet56()
    # kaiming_normal_(fan_out, relu) on layer3.0.conv1, 64 x 32 x 3 x 3: fan_out 576, fan_in 288
    w = model.layer3[0].conv1.weight.detach().numpy()
    assert abs(w.std() / math.sqrt(2 / 576) - 1) < 0.03 and abs(w.mean()) < 2e-3
    fc = model.fc.weight.detach().numpy()                    # default Linear: U(+-1/8)
    assert np.abs(fc).max() <= 1 / 8
    for name, p in model.named_parameters():
        if ".bn" in name or name.startswith("bn"):
            assert (p.detach().numpy() == (1.0 if name.endswith("weight") else 0.0)).all(), name


# --- stochastic depth --------------------------------------------------------------------------

def test_stochastic_depth_survival_and_drop_rates() -> None:
    numcnn.manual_seed(7)
    model = resnet20(stochastic_depth_p_last=0.5).train()
    blocks = [m for m in model.modules() if isinstance(m, BasicBlock)]
    # L = 9 blocks: p_l = 1 - l/9 * 0.5
    expected = [1 - l / 18 for l in range(1, 10)]
    assert [b.survival_prob for b in blocks] == pytest.approx(expected)
    assert blocks[0].survival_prob == pytest.approx(17 / 18) and blocks[-1].survival_prob == 0.5
    counts = [0] * 9
    for i, block in enumerate(blocks):
        block.conv1.register_forward_hook(lambda m, inp, out, i=i: counts.__setitem__(
            i, counts[i] + 1))
    x = numcnn.tensor(np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32))
    trials = 300
    with numcnn.no_grad():
        for _ in range(trials):
            model(x)
    for i, p in enumerate(expected):
        sd = math.sqrt(trials * p * (1 - p))
        assert abs(counts[i] - trials * p) < 4 * sd + 1, (i, counts[i], trials * p)
    # overall, the expected depth: sum p_l of 9 blocks = 9 - 0.5 * 45 / 9 = 6.5
    assert abs(sum(counts) / trials - 6.5) < 0.25
    # the last blocks are dropped clearly more often than the first ones
    assert counts[-1] < counts[0] - 50


def test_stochastic_depth_gradients_flow_through_dropped_blocks() -> None:
    numcnn.manual_seed(2)
    model = resnet20(stochastic_depth_p_last=0.2).train()
    x = numcnn.tensor(np.random.default_rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32),
                      requires_grad=True)
    for _ in range(3):
        model.zero_grad()
        x.grad = None
        model(x).sum().backward()
        # the identity paths carry the gradient to the input and the stem whatever was dropped
        assert x.grad is not None and np.isfinite(x.grad.numpy()).all() and x.grad.numpy().any()
        for p in (model.conv1.weight, model.bn1.weight, model.fc.weight):
            assert p.grad is not None and np.isfinite(p.grad.numpy()).all()


@pytest.mark.slow
def test_resnet20_learns_synthetic_shapes() -> None:
    """A few hundred SGD steps of ResNet-20 on 32x32 SyntheticShapes: the loss falls clearly."""
    numcnn.manual_seed(0)
    data = SyntheticShapes(n=1024, size=32, seed=0)
    loader = DataLoader(data, batch_size=16, shuffle=True, drop_last=True, generator=0)
    model = resnet20(num_classes=len(data.classes), in_channels=1).train()
    optimizer = numcnn.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    losses: list[float] = []
    while len(losses) < 300:
        for images, labels in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(images), labels)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.item()))
            if len(losses) == 300:
                break
    first, last = np.mean(losses[:20]), np.mean(losses[-30:])
    assert first > 1.3                                    # about ln 5 = 1.61 at the start
    assert last < 0.5 * first, (first, last)
