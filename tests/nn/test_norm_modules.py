"""Normalisation modules against torch.nn: training steps (outputs, gradients, running stats,
num_batches_tracked for momentum 0.1, 0.5 and None), eval mode, state_dict keys and dtypes,
loading torch's state, reprs and the input checks."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from tests.helpers import assert_close, random_array

import numcnn
import numcnn.nn as nn


def to_torch_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: torch.tensor(np.array(v.array)) for k, v in module.state_dict().items()}


def load_from_torch(module: nn.Module, tmod: torch.nn.Module) -> None:
    module.load_state_dict({k: v.detach().numpy() for k, v in tmod.state_dict().items()})


def randomise(tmod: torch.nn.Module, seed: int) -> None:
    """Non-trivial affine parameters (the defaults 1 and 0 would hide mistakes)."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in tmod.parameters():
            p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape))))


def check_same_state(mod: nn.Module, tmod: torch.nn.Module, what: str = "") -> None:
    ours, theirs = mod.state_dict(), tmod.state_dict()
    assert list(ours) == list(theirs), what
    for k in theirs:
        assert_close(ours[k], theirs[k], what=f"{what} {k}")


def run_step(mod, tmod, x: np.ndarray, seed: int):
    """One forward/backward in both; compare output and the input's gradient."""
    xn = numcnn.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yn, yt = mod(xn), tmod(xt)
    assert_close(yn, yt, what="output")
    g = random_array(x.shape, x.dtype, seed=seed)
    yn.backward(numcnn.tensor(g))
    yt.backward(torch.tensor(g))
    assert_close(xn.grad, xt.grad, what="input grad")


BN = [(nn.BatchNorm1d, torch.nn.BatchNorm1d, (6, 3)), (nn.BatchNorm1d, torch.nn.BatchNorm1d,
                                                       (4, 3, 5)),
      (nn.BatchNorm2d, torch.nn.BatchNorm2d, (3, 3, 5, 4)),
      (nn.BatchNorm3d, torch.nn.BatchNorm3d, (2, 3, 3, 2, 3))]


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("ncls,tcls,shape", BN)
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_training_steps_then_eval(ncls, tcls, shape, momentum, affine, dtype):
    tmod = tcls(3, eps=1e-4, momentum=momentum, affine=affine)
    tmod = tmod.double() if dtype == np.float64 else tmod
    randomise(tmod, 0)
    mod = ncls(3, eps=1e-4, momentum=momentum, affine=affine, dtype=dtype)
    load_from_torch(mod, tmod)
    for step in range(3):
        x = random_array(shape, dtype, seed=10 + step) * (step + 1) + step
        run_step(mod, tmod, x, seed=20 + step)
        check_same_state(mod, tmod, f"step {step}")
    assert int(mod.num_batches_tracked.item()) == 3
    assert mod.num_batches_tracked.dtype == np.int64 and mod.num_batches_tracked.shape == ()
    if affine:                                         # accumulated over the 3 steps
        assert_close(mod.weight.grad, tmod.weight.grad, what="weight grad")
        assert_close(mod.bias.grad, tmod.bias.grad, what="bias grad")
    mod.eval()
    tmod.eval()
    x = random_array(shape, dtype, seed=30)
    run_step(mod, tmod, x, seed=31)                    # eval: running statistics
    check_same_state(mod, tmod, "eval leaves the buffers alone")


def test_momentum_none_is_cumulative_average():
    mod = nn.BatchNorm1d(2, momentum=None)
    xs = [random_array((5, 2), np.float32, seed=s) + s for s in range(4)]
    for x in xs:
        mod(numcnn.tensor(x))
    means = np.mean([x.mean(axis=0) for x in xs], axis=0)
    variances = np.mean([x.var(axis=0, ddof=1) for x in xs], axis=0)
    # the initial (0, 1) counts with weight 0: the first batch replaces it entirely
    np.testing.assert_allclose(mod.running_mean.array, means, rtol=1e-5)
    np.testing.assert_allclose(mod.running_var.array, variances, rtol=1e-5)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_without_running_stats(training):
    tmod = torch.nn.BatchNorm2d(3, track_running_stats=False)
    randomise(tmod, 1)
    mod = nn.BatchNorm2d(3, track_running_stats=False)
    load_from_torch(mod, tmod)
    assert mod.running_mean is None and mod.num_batches_tracked is None
    assert list(mod.state_dict()) == ["weight", "bias"]
    mod.train(training)
    tmod.train(training)
    run_step(mod, tmod, random_array((2, 3, 4, 3), np.float32, seed=2), seed=3)


def test_eval_with_batch_of_one():
    mod, tmod = nn.BatchNorm1d(4).eval(), torch.nn.BatchNorm1d(4).eval()
    run_step(mod, tmod, random_array((1, 4), np.float32, seed=4), seed=5)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        mod.train()(numcnn.randn(1, 4))


@pytest.mark.parametrize("ncls,tcls", [(nn.BatchNorm2d, torch.nn.BatchNorm2d),
                                       (nn.InstanceNorm2d, torch.nn.InstanceNorm2d)])
@pytest.mark.parametrize("kwargs", [{}, {"affine": False}, {"affine": True, "bias": False},
                                    {"track_running_stats": False},
                                    {"track_running_stats": True, "affine": True}])
def test_state_dict_keys_shapes_dtypes_match_torch(ncls, tcls, kwargs):
    mod, tmod = ncls(5, **kwargs), tcls(5, **kwargs)
    ours, theirs = mod.state_dict(), tmod.state_dict()
    assert list(ours) == list(theirs)
    for k in theirs:
        assert_close(ours[k], theirs[k], what=k)     # values, shapes and dtypes (int64 too)
    assert [n for n, _ in mod.named_parameters()] == [n for n, _ in tmod.named_parameters()]
    assert [n for n, _ in mod.named_buffers()] == [n for n, _ in tmod.named_buffers()]


def test_load_torch_state_gives_torch_outputs():
    tmod = torch.nn.BatchNorm2d(4)
    tmod.train()
    for s in range(3):                                 # move the running stats away from 0/1
        tmod(torch.tensor(random_array((3, 4, 5, 5), np.float32, seed=s) * 2 + 1))
    tmod.eval()
    randomise(tmod, 6)
    mod = nn.BatchNorm2d(4)
    load_from_torch(mod, tmod)
    mod.eval()
    x = random_array((2, 4, 3, 3), np.float32, seed=7)
    assert_close(mod(numcnn.tensor(x)), tmod(torch.tensor(x)))


def test_reset_and_to_double():
    mod = nn.BatchNorm2d(3)
    mod(numcnn.randn(4, 3, 2, 2) * 3 + 1)
    mod.reset_running_stats()
    np.testing.assert_array_equal(mod.running_mean.array, 0)
    np.testing.assert_array_equal(mod.running_var.array, 1)
    assert int(mod.num_batches_tracked.item()) == 0
    mod.to(numcnn.float64)
    assert mod.running_mean.dtype == np.float64 and mod.num_batches_tracked.dtype == np.int64
    y = mod(numcnn.randn(4, 3, 2, 2).double())
    assert y.dtype == np.float64 and mod.running_var.dtype == np.float64


@pytest.mark.parametrize("ncls,bad", [(nn.BatchNorm1d, (2, 3, 4, 5)), (nn.BatchNorm1d, (3,)),
                                      (nn.BatchNorm2d, (2, 3, 4)), (nn.BatchNorm3d, (2, 3, 4, 5)),
                                      (nn.InstanceNorm1d, (2, 3, 4, 5)),
                                      (nn.InstanceNorm2d, (3, 4)),
                                      (nn.InstanceNorm3d, (2, 3, 4))])
def test_wrong_rank_raises_value_error_like_torch(ncls, bad):
    tcls = getattr(torch.nn, ncls.__name__)
    with pytest.raises(ValueError) as theirs:
        tcls(3)(torch.zeros(bad))
    with pytest.raises(ValueError) as ours:
        ncls(3)(numcnn.zeros(bad))
    assert str(ours.value) == str(theirs.value)


def test_wrong_channel_count():
    with pytest.raises(RuntimeError, match="running_mean should contain 4 elements .* not 3"):
        nn.BatchNorm2d(3)(numcnn.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match="to match num_features"):
        nn.InstanceNorm2d(3, affine=True)(numcnn.randn(2, 4, 3, 3))
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm2d(3)(numcnn.randn(2, 4, 3, 3))


# ----------------------------------------------------------------------------- instance norm
IN = [(nn.InstanceNorm1d, torch.nn.InstanceNorm1d, (3, 2, 5)),
      (nn.InstanceNorm1d, torch.nn.InstanceNorm1d, (2, 6)),          # unbatched
      (nn.InstanceNorm2d, torch.nn.InstanceNorm2d, (2, 2, 3, 4)),
      (nn.InstanceNorm2d, torch.nn.InstanceNorm2d, (2, 3, 3)),       # unbatched
      (nn.InstanceNorm3d, torch.nn.InstanceNorm3d, (2, 2, 2, 3, 2))]


@pytest.mark.parametrize("ncls,tcls,shape", IN)
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("track", [False, True])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_instance_norm_modules_match_torch(ncls, tcls, shape, affine, track, momentum):
    c = shape[0] if len(shape) == ncls._no_batch_dim else shape[1]
    tmod = tcls(c, affine=affine, track_running_stats=track, momentum=momentum).double()
    randomise(tmod, 8)
    mod = ncls(c, affine=affine, track_running_stats=track, momentum=momentum,
               dtype=numcnn.float64)
    load_from_torch(mod, tmod)
    for step in range(2):
        run_step(mod, tmod, random_array(shape, seed=40 + step) * 2 + step, seed=50 + step)
        check_same_state(mod, tmod, f"step {step}")
    mod.eval()
    tmod.eval()
    run_step(mod, tmod, random_array(shape, seed=60), seed=61)
    if affine:
        assert_close(mod.weight.grad, tmod.weight.grad, what="weight grad")
        assert_close(mod.bias.grad, tmod.bias.grad, what="bias grad")


# ----------------------------------------------------------------------------- layer / group
@pytest.mark.parametrize("shape,norm", [((3, 5), 5), ((2, 3, 4), (3, 4)), ((2, 3, 4, 5), [5])])
@pytest.mark.parametrize("kwargs", [{}, {"elementwise_affine": False}, {"bias": False},
                                    {"eps": 1e-3}])
def test_layer_norm_module(shape, norm, kwargs):
    tmod = torch.nn.LayerNorm(norm, **kwargs)
    randomise(tmod, 9)
    mod = nn.LayerNorm(norm, **kwargs)
    load_from_torch(mod, tmod)
    check_same_state(mod, tmod)
    assert repr(mod) == repr(tmod)
    run_step(mod, tmod, random_array(shape, np.float32, seed=10), seed=11)
    for p, tp in zip(mod.parameters(), tmod.parameters()):
        assert_close(p.grad, tp.grad)


@pytest.mark.parametrize("groups,channels", [(1, 6), (2, 6), (3, 6), (6, 6)])
@pytest.mark.parametrize("kwargs", [{}, {"affine": False}, {"bias": False}])
def test_group_norm_module(groups, channels, kwargs):
    tmod = torch.nn.GroupNorm(groups, channels, **kwargs)
    randomise(tmod, 12)
    mod = nn.GroupNorm(groups, channels, **kwargs)
    load_from_torch(mod, tmod)
    check_same_state(mod, tmod)
    assert repr(mod) == repr(tmod)
    run_step(mod, tmod, random_array((2, channels, 3, 4), np.float32, seed=13), seed=14)
    for p, tp in zip(mod.parameters(), tmod.parameters()):
        assert_close(p.grad, tp.grad)


def test_group_norm_channels_not_divisible():
    with pytest.raises(ValueError, match=r"num_channels \(5\) must be divisible by num_groups"):
        nn.GroupNorm(2, 5)


@pytest.mark.parametrize("size", [1, 2, 5])
def test_local_response_norm_module(size):
    tmod, mod = torch.nn.LocalResponseNorm(size, 0.1, 0.6, 2.0), nn.LocalResponseNorm(size, 0.1,
                                                                                       0.6, 2.0)
    assert repr(mod) == repr(tmod)
    assert list(mod.state_dict()) == []
    run_step(mod, tmod, random_array((2, 6, 3, 3), np.float32, seed=15), seed=16)


@pytest.mark.parametrize("make", [
    lambda m: m.BatchNorm1d(7), lambda m: m.BatchNorm2d(32), lambda m: m.BatchNorm3d(2),
    lambda m: m.BatchNorm2d(3, eps=1e-3, momentum=None, affine=False),
    lambda m: m.BatchNorm2d(3, track_running_stats=False, bias=False),
    lambda m: m.InstanceNorm1d(4), lambda m: m.InstanceNorm2d(4, affine=True),
    lambda m: m.InstanceNorm3d(4, track_running_stats=True, momentum=0.3),
    lambda m: m.LayerNorm([3, 4]), lambda m: m.LayerNorm(10, elementwise_affine=False),
    lambda m: m.GroupNorm(2, 4), lambda m: m.GroupNorm(1, 3, affine=False),
    lambda m: m.LocalResponseNorm(5), lambda m: m.LocalResponseNorm(2, 1e-3, 0.5, 2),
])
def test_repr_matches_torch(make):
    assert repr(make(nn)) == repr(make(torch.nn))


def test_modules_in_a_network_train_like_torch():
    """Conv-free mini network: BatchNorm1d -> LayerNorm -> GroupNorm on the same data."""
    tnet = torch.nn.Sequential(torch.nn.BatchNorm1d(4), torch.nn.LayerNorm(4),
                               torch.nn.BatchNorm1d(4, momentum=None))
    net = nn.Sequential(nn.BatchNorm1d(4), nn.LayerNorm(4), nn.BatchNorm1d(4, momentum=None))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        randomise(tnet, 17)
    load_from_torch(net, tnet)
    for s in range(2):
        run_step(net, tnet, random_array((5, 4), np.float32, seed=70 + s), seed=80 + s)
    check_same_state(net, tnet)
