"""numcnn.compress.prune_channels: structured pruning that physically removes channels.

The oracle of every model test: the ORIGINAL model with the removed channels' weights set to
zero (conv filter and bias, batch norm gamma and beta, Linear rows), written here from the
plan's output masks only; the pruned model, whose layers are sliced (input channels too),
must give the same output in eval mode, float64, rtol 1e-7.  A wrong coupling (an add group
losing different channels, a concat offset, a flatten block) makes the two differ or fails
to run.  Batch norm statistics and affine parameters are randomised first, so that a removed
channel would NOT be zero after its batch norm unless gamma and beta are both zeroed.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import numcnn
import numcnn.models as M
from numcnn import nn
from numcnn.analysis.summary import summary
from numcnn.compress import channels as C
from numcnn.nn.modules.conv import _ConvNd
from numcnn.nn.modules.norm import _BatchNorm
from numcnn.tensor import Tensor

RTOL, ATOL = 1e-7, 1e-10


# ----------------------------------------------------------------------------- helpers
def randomise_norms(model: nn.Module, seed: int = 0) -> nn.Module:
    """Batch norms with non-trivial statistics and affine parameters (float64)."""
    rng = np.random.default_rng(seed)
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            n = m.num_features
            m.running_mean.array[...] = rng.normal(0.0, 0.2, n)
            m.running_var.array[...] = rng.uniform(0.5, 1.5, n)
            m.weight.array[...] = rng.uniform(0.5, 1.5, n)
            m.bias.array[...] = rng.normal(0.0, 0.2, n)
    return model


def prepared(model: nn.Module) -> nn.Module:
    model.double()
    randomise_norms(model)
    return model.eval()


def zeroed(model: nn.Module, plan: C.ChannelPlan) -> nn.Module:
    """The original with the removed output channels' weights zeroed (the oracle)."""
    ref = copy.deepcopy(model)
    named = dict(ref.named_modules())
    for name, keep in plan.keep_out.items():
        gone = ~keep
        m = named[name]
        for p in (m.weight, m.bias):
            if p is not None:
                p.array[gone] = 0.0
    return ref


def run(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with numcnn.no_grad():
        return np.asarray(model(Tensor(x)).array)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def check_model(model: nn.Module, shape: tuple[int, ...], amount: float = 0.3,
                criterion: str = "l1") -> tuple[nn.Module, C.ChannelPlan]:
    """Prune `model` and assert pruned == zeroed original; returns (pruned, plan)."""
    x = np.random.default_rng(1).standard_normal(shape)
    state = {k: v.array.copy() for k, v in model.state_dict().items()}
    plan = C.channel_plan(model, x, amount, criterion)
    small = C.apply_channel_plan(model, plan)
    assert sum(plan.removed) > 0
    assert n_params(small) < n_params(model)
    np.testing.assert_allclose(run(small, x), run(zeroed(model, plan), x), rtol=RTOL,
                               atol=ATOL)
    for k, v in model.state_dict().items():                       # the original untouched
        np.testing.assert_array_equal(v.array, state[k])
    for g, n in zip(plan.groups, plan.removed):                    # floor(amount * P) each
        assert n == math.floor(amount * g.prunable + 1e-9)
    return small, plan


# ----------------------------------------------------------------------------- the zoo
def small_vgg11_bn() -> nn.Module:
    """vgg11_bn's feature extractor, 7x7 adaptive average pool and flatten, with a narrow
    classifier: the full one has 120M weights (too slow for the default suite; the slow
    test prunes the full model)."""
    return nn.Sequential(M.vgg.make_layers(M.vgg.cfgs["A"], batch_norm=True),
                         nn.AdaptiveAvgPool2d((7, 7)), nn.Flatten(),
                         nn.Linear(512 * 7 * 7, 32), nn.ReLU(True), nn.Dropout(),
                         nn.Linear(32, 24), nn.ReLU(True), nn.Dropout(), nn.Linear(24, 10))


ZOO = [
    ("fmnist_cnn", lambda: M.fmnist_cnn(), (2, 1, 28, 28)),
    ("lenet5", lambda: M.lenet5(), (2, 1, 32, 32)),
    ("vgg11_bn", small_vgg11_bn, (1, 3, 32, 32)),
    ("resnet18", lambda: M.resnet18(num_classes=10), (1, 3, 32, 32)),
    ("resnet20", lambda: M.resnet20(), (2, 3, 32, 32)),
    ("mobilenet_v2", lambda: M.mobilenet_v2(num_classes=10), (2, 3, 32, 32)),
    ("densenet121", lambda: M.densenet121(num_classes=10), (1, 3, 32, 32)),
    ("shufflenet_v2_x0_5", lambda: M.shufflenet_v2_x0_5(num_classes=10), (2, 3, 32, 32)),
    ("googlenet", lambda: M.googlenet(num_classes=10), (1, 3, 32, 32)),
    ("squeezenet1_0", lambda: M.squeezenet1_0(num_classes=10), (2, 3, 64, 64)),
    ("mobilenet_v3_small", lambda: M.mobilenet_v3_small(num_classes=10), (1, 3, 32, 32)),
]


@pytest.mark.parametrize("name,factory,shape", ZOO, ids=[z[0] for z in ZOO])
def test_pruned_equals_zeroed_original(name, factory, shape):
    numcnn.manual_seed(0)
    check_model(prepared(factory()), shape)


def test_bn_scale_on_resnet20_equals_zeroed_original():
    numcnn.manual_seed(0)
    check_model(prepared(M.resnet20()), (2, 3, 16, 16), amount=0.5, criterion="bn_scale")


# ----------------------------------------------------------------------------- criteria
def fmnist() -> nn.Module:
    numcnn.manual_seed(3)
    return prepared(M.fmnist_cnn())


def test_l1_removes_the_filters_with_the_smallest_l1_norms():
    model = fmnist()
    x = np.zeros((1, 1, 28, 28))
    plan = C.channel_plan(model, x, 0.4)
    small = C.prune_channels(model, x, 0.4)
    for name in ("features.0", "features.3", "features.8", "features.11", "classifier.1"):
        w = dict(model.named_modules())[name].weight.array
        norms = np.array([np.sum(np.abs(w[c])) for c in range(w.shape[0])])   # plain loop
        n = math.floor(0.4 * w.shape[0])
        kept = np.sort(np.argsort(norms)[n:])
        np.testing.assert_array_equal(np.flatnonzero(plan.keep_out[name]), kept)
        # the kept filters, in order, with their removed input channels sliced away
        w_small = dict(small.named_modules())[name].weight.array
        np.testing.assert_array_equal(w_small, w[kept][:, plan.keep_in[name]])


def test_bn_scale_removes_the_channels_with_the_smallest_gamma():
    model = fmnist()
    x = np.zeros((1, 1, 28, 28))
    plan = C.channel_plan(model, x, 0.5, criterion="bn_scale")
    named = dict(model.named_modules())
    for conv, bn in (("features.0", "features.2"), ("features.11", "features.13"),
                     ("classifier.1", "classifier.3")):
        gamma = np.abs(named[bn].weight.array)
        n = math.floor(0.5 * gamma.size)
        kept = np.sort(np.argsort(gamma)[n:])
        np.testing.assert_array_equal(np.flatnonzero(plan.keep_out[conv]), kept)
        np.testing.assert_array_equal(plan.keep_out[bn], plan.keep_out[conv])


def test_l1_of_a_residual_group_sums_the_coupled_filters():
    numcnn.manual_seed(4)
    model = prepared(M.resnet20())
    plan = C.channel_plan(model, np.zeros((1, 3, 16, 16)), 0.25)
    named = dict(model.named_modules())
    # every conv writing the 16-channel stream of stage 1 (and the first 16 channels of the
    # wider streams, which the zero-padded shortcuts carry on)
    writers = ["conv1"] + [f"layer{s}.{b}.conv2" for s in (1, 2, 3) for b in range(3)]
    total = sum(np.abs(named[w].weight.array[:16]).reshape(16, -1).sum(axis=1)
                for w in writers)
    kept = np.sort(np.argsort(total)[4:])
    for w in writers:
        np.testing.assert_array_equal(np.flatnonzero(plan.keep_out[w][:16]), kept)
        assert plan.keep_out[w][16:].all()                 # padded channels stay
    np.testing.assert_allclose(plan.scores["conv1"], total, rtol=1e-12)


# ----------------------------------------------------------------------------- structure
def test_sizes_are_updated_and_the_model_trains():
    model = fmnist()
    small = C.prune_channels(model, np.zeros((1, 1, 28, 28)), 0.5)
    conv0, bn0, conv3 = (dict(small.named_modules())[n]
                         for n in ("features.0", "features.2", "features.3"))
    assert (conv0.out_channels, bn0.num_features, conv3.in_channels) == (16, 16, 16)
    assert conv0.weight.shape == (16, 1, 3, 3) and conv3.weight.shape[1] == 16
    fc = dict(small.named_modules())["classifier.1"]
    assert fc.in_features == 32 * 7 * 7 and fc.out_features == 256  # 64*7*7 -> 32 channels
    small.train()
    opt = numcnn.optim.SGD(small.parameters(), lr=0.1)
    x = Tensor(np.random.default_rng(0).standard_normal((4, 1, 28, 28)))
    loss = nn.functional.cross_entropy(small(x), Tensor(np.array([0, 1, 2, 3])))
    loss.backward()
    opt.step()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in small.parameters())


def test_depthwise_convs_are_pruned_through():
    numcnn.manual_seed(0)
    model = prepared(M.mobilenet_v2(num_classes=10))
    small = C.prune_channels(model, np.zeros((1, 3, 32, 32)), 0.5)
    for m in small.modules():
        if isinstance(m, _ConvNd) and m.groups > 1:
            assert m.groups == m.in_channels == m.out_channels
    dw = dict(small.named_modules())["features.1.conv.0.0"]
    assert dw.groups == 16                                         # 32 -> 16


def test_grouped_convs_are_left_out():
    numcnn.manual_seed(0)
    model = prepared(M.resnext50_32x4d(num_classes=10))
    plan = C.channel_plan(model, np.zeros((1, 3, 16, 16)), 0.5)
    for name, m in model.named_modules():
        if isinstance(m, _ConvNd) and 1 < m.groups < m.in_channels:
            assert plan.keep_in[name].all() and plan.keep_out[name].all()
    assert sum(plan.removed) > 0


def test_channel_groups_of_a_residual_network():
    numcnn.manual_seed(0)
    groups = C.channel_groups(M.resnet18(num_classes=10), np.zeros((1, 3, 32, 32)))
    stream = groups[0]
    assert stream.producers[:3] == ["conv1", "layer1.0.conv2", "layer1.1.conv2"]
    assert stream.channels == stream.prunable == 64
    assert "layer1.0.conv1" in stream.consumers and "bn1" in stream.norms
    assert "layer2.0.downsample.0" in stream.consumers
    text = str(stream)
    assert text.startswith("group 0: 64 channels, 64 prunable") and "written by: conv1" in text
    # the classifier's outputs never go
    fc = [g for g in groups if g.producers == ["fc"]][0]
    assert fc.prunable == 0 and "model output" in fc.reasons


def test_concatenation_offsets_in_densenet_style_blocks():
    class Dense(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv2d(3, 6, 3, padding=1)
            self.b = nn.Conv2d(6, 4, 3, padding=1)
            self.bn = nn.BatchNorm2d(10)
            self.c = nn.Conv2d(10, 5, 1)
            self.fc = nn.Linear(5 * 4 * 4, 3)

        def forward(self, x: Tensor) -> Tensor:
            a = self.a(x)
            y = numcnn.cat([a, self.b(a)], dim=1)          # channels: a (0..5), b (6..9)
            y = self.c(nn.functional.relu(self.bn(y)))
            return self.fc(nn.functional.max_pool2d(y, 2).flatten(1))

    numcnn.manual_seed(0)
    model = prepared(Dense())
    small, plan = check_model(model, (2, 3, 8, 8), amount=0.5)
    np.testing.assert_array_equal(plan.keep_out["bn"],
                                  np.concatenate([plan.keep_out["a"], plan.keep_out["b"]]))
    np.testing.assert_array_equal(plan.keep_in["c"], plan.keep_out["bn"])
    assert plan.removed == [3, 2, 2, 0]                            # a, b, c, fc (output)
    assert small.fc.in_features == 3 * 16                          # flatten block of 4x4


def test_gates_and_sigmoids():
    """A squeeze-and-excitation gate x * sigmoid(fc2(relu(fc1(pool(x))))) is pruned with x
    (0 * 0.5 = 0); a sigmoid output read by a conv stays (a removed channel would read as
    sigmoid(0) = 0.5, not 0)."""
    class Gated(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.fc1 = nn.Conv2d(8, 4, 1)
            self.fc2 = nn.Conv2d(4, 8, 1)
            self.mid = nn.Conv2d(8, 6, 1)
            self.head = nn.Conv2d(6, 2, 1)

        def forward(self, x: Tensor) -> Tensor:
            x = self.conv(x)
            gate = nn.functional.adaptive_avg_pool2d(x, 1)
            x = x * nn.functional.sigmoid(self.fc2(nn.functional.relu(self.fc1(gate))))
            return self.head(nn.functional.sigmoid(self.mid(x))).mean((2, 3))

    numcnn.manual_seed(0)
    model = prepared(Gated())
    with pytest.raises(ValueError, match="unsupported Mean"):
        C.channel_plan(model, np.zeros((1, 3, 6, 6)), 0.5)
    model.forward = lambda x: nn.functional.adaptive_avg_pool2d(   # type: ignore[method-assign]
        model.head(nn.functional.sigmoid(model.mid(
            model.conv(x) * nn.functional.sigmoid(model.fc2(nn.functional.relu(model.fc1(
                nn.functional.adaptive_avg_pool2d(model.conv(x), 1)))))))), 1).flatten(1)
    small, plan = check_model(model, (2, 3, 6, 6), amount=0.5)
    np.testing.assert_array_equal(plan.keep_out["conv"], plan.keep_out["fc2"])
    assert not plan.keep_out["conv"].all() and not plan.keep_out["fc1"].all()
    assert plan.keep_out["mid"].all()
    mid = [g for g in plan.groups if g.producers == ["mid"]][0]
    assert mid.prunable == 0 and any("f(0) != 0" in r for r in mid.reasons)


def test_ignore_keeps_the_named_modules_channels():
    model = fmnist()
    x = np.zeros((1, 1, 28, 28))
    plan = C.channel_plan(model, x, 0.5, ignore=["features.0", model.classifier[1]])
    assert plan.keep_out["features.0"].all() and plan.keep_out["classifier.1"].all()
    assert not plan.keep_out["features.3"].all()


# ----------------------------------------------------------------------------- errors
def test_argument_errors():
    model = M.lenet5()
    x = np.zeros((1, 1, 32, 32), dtype=np.float32)
    for amount in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"amount must be in \[0, 1\)"):
            C.prune_channels(model, x, amount)
    with pytest.raises(TypeError, match="amount must be a float"):
        C.prune_channels(model, x, "0.3")
    with pytest.raises(ValueError, match="criterion must be one of l1, bn_scale"):
        C.prune_channels(model, x, 0.3, criterion="l2")
    with pytest.raises(ValueError, match="ignore: the model has no module named 'conv9'"):
        C.prune_channels(model, x, 0.3, ignore=["conv9"])
    with pytest.raises(ValueError, match="criterion 'bn_scale' needs a batch norm"):
        C.prune_channels(model, x, 0.3, criterion="bn_scale")
    with pytest.raises(TypeError, match="example_input must be a Tensor"):
        C.prune_channels(model, [[0.0]], 0.3)
    with pytest.raises(TypeError, match="model must be a numcnn.nn.Module"):
        C.prune_channels("lenet5", x, 0.3)


def test_unsupported_op_is_named():
    class Permuting(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 1)

        def forward(self, x: Tensor) -> Tensor:
            return self.conv(x).permute(0, 2, 3, 1)

    x = np.zeros((1, 3, 4, 4), dtype=np.float32)
    with pytest.raises(ValueError, match=r"^prune_channels: unsupported Permute"):
        C.prune_channels(Permuting(), x, 0.5)


def test_a_module_the_input_does_not_reach_is_named():
    model = M.googlenet(num_classes=10, aux_logits=True)
    with pytest.raises(ValueError, match="module 'aux1.conv.conv' does not run"):
        C.channel_groups(model, np.zeros((1, 3, 32, 32), dtype=np.float32))


# ----------------------------------------------------------------------------- accounting
def test_summary_macs_follow_the_pruning():
    model = M.fmnist_cnn()
    small = C.prune_channels(model, np.zeros((1, 1, 28, 28), dtype=np.float32), 0.5)
    # plain count: conv MACs = H*W*C_out*C_in*9 per layer, linear = in*out, BN = numel
    def expected(c1: int, c2: int, c3: int, c4: int, f: int) -> int:
        convs = 28 * 28 * (c1 * 1 + c2 * c1) * 9 + 14 * 14 * (c3 * c2 + c4 * c3) * 9
        norms = 28 * 28 * (c1 + c2) + 14 * 14 * (c3 + c4) + f
        return convs + norms + 7 * 7 * c4 * f + f * 10
    assert summary(model, (1, 28, 28)).macs == expected(32, 32, 64, 64, 512)
    assert summary(small, (1, 28, 28)).macs == expected(16, 16, 32, 32, 256)


# ----------------------------------------------------------------------------- checkpoints
def test_checkpoint_round_trip_is_smaller_and_equal(tmp_path):
    numcnn.manual_seed(5)
    model = M.resnet20().eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 16, 16)).astype(np.float32)
    small = C.prune_channels(model, x, 0.5)
    numcnn.compress.save(small, tmp_path / "small.safetensors")
    numcnn.save(model.state_dict(), tmp_path / "full.safetensors")
    assert (tmp_path / "small.safetensors").stat().st_size < \
        0.8 * (tmp_path / "full.safetensors").stat().st_size
    loaded = numcnn.compress.load(tmp_path / "small.safetensors", M.resnet20())
    assert numcnn.compress.method_of(loaded) == "channels"
    np.testing.assert_array_equal(run(loaded, x), run(small.eval(), x))
    assert n_params(loaded) == n_params(small)
    # saved again from the loaded model: the same spec
    assert C.to_checkpoint(loaded)[1] == C.to_checkpoint(small)[1]


def test_checkpoint_for_another_architecture_is_refused():
    small = C.prune_channels(M.lenet5(), np.zeros((1, 1, 32, 32), dtype=np.float32), 0.5)
    tensors, spec = C.to_checkpoint(small)
    with pytest.raises(numcnn.compress.CompressedCheckpointError,
                       match="no module named|bad sizes"):
        C.from_checkpoint(M.fmnist_cnn(), tensors, spec)
    with pytest.raises(numcnn.compress.CompressedCheckpointError, match="no module named"):
        C.from_checkpoint(M.resnet20(), tensors, spec)
    bad = {"modules": {k: {**v, "groups": 0} if "groups" in v else v
                       for k, v in spec["modules"].items()}}
    with pytest.raises(numcnn.compress.CompressedCheckpointError, match="bad sizes"):
        C.from_checkpoint(M.lenet5(), tensors, bad)


def test_pruning_twice_saves_and_loads(tmp_path):
    numcnn.manual_seed(6)
    x = np.random.default_rng(0).standard_normal((2, 1, 32, 32)).astype(np.float32)
    once = C.prune_channels(M.lenet5().eval(), x, 0.3)
    twice = C.prune_channels(once, x, 0.3)
    assert n_params(twice) < n_params(once)
    numcnn.compress.save(twice, tmp_path / "twice.safetensors")
    loaded = numcnn.compress.load(tmp_path / "twice.safetensors", M.lenet5())
    np.testing.assert_array_equal(run(loaded, x), run(twice.eval(), x))
