"""Lazy layers against torch's: placeholders before the first forward, the plain class and the
same shapes after it, the same parameter objects throughout (so an optimizer built first keeps
working), state_dict loading, and a textbook model of lazy layers trained side by side."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from tests.helpers import assert_close

import numcnn
import numcnn.nn as nn
from numcnn.nn.parameter import UninitializedBuffer, UninitializedParameter

# (class name, constructor args, kwargs, input shape)
CASES = [
    ("LazyLinear", (3,), {}, (4, 5)),
    ("LazyLinear", (3,), {"bias": False}, (2, 6, 7)),
    ("LazyConv1d", (4, 3), {"stride": 2}, (2, 3, 9)),
    ("LazyConv2d", (4, 3), {"padding": 1}, (2, 3, 7, 6)),
    ("LazyConv2d", (6, (3, 2)), {"groups": 3, "bias": False}, (1, 9, 5, 5)),
    ("LazyConv2d", (4, 3), {}, (3, 6, 6)),                       # unbatched
    ("LazyConv3d", (2, 2), {}, (1, 3, 4, 5, 3)),
    ("LazyConvTranspose1d", (4, 3), {"stride": 2, "output_padding": 1}, (2, 3, 5)),
    ("LazyConvTranspose2d", (4, 3), {"groups": 2}, (2, 6, 5, 4)),
    ("LazyConvTranspose3d", (2, 2), {}, (1, 3, 3, 2, 3)),
    ("LazyBatchNorm1d", (), {}, (4, 5)),
    ("LazyBatchNorm1d", (), {"affine": False}, (4, 5, 3)),
    ("LazyBatchNorm2d", (), {"momentum": None}, (3, 2, 4, 4)),
    ("LazyBatchNorm2d", (), {"track_running_stats": False}, (3, 2, 4, 4)),
    ("LazyBatchNorm3d", (), {"bias": False}, (2, 3, 2, 3, 2)),
    ("LazyInstanceNorm1d", (), {}, (2, 3, 7)),
    ("LazyInstanceNorm2d", (), {"affine": False}, (2, 3, 4, 5)),
    ("LazyInstanceNorm3d", (), {"track_running_stats": False}, (2, 3, 2, 3, 4)),
]


def _ids(case):
    return f"{case[0]}-{case[2]}-{case[3]}"


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_lazy_layer_matches_torch(case):
    name, args, kwargs, shape = case
    n_mod = getattr(nn, name)(*args, **kwargs)
    t_mod = getattr(torch.nn, name)(*args, **kwargs)
    assert repr(n_mod) == repr(t_mod)
    assert list(n_mod.state_dict()) == list(t_mod.state_dict())
    n_params = list(n_mod.parameters())
    assert [type(p).__name__ for p in n_params] == \
        [type(p).__name__ for p in t_mod.parameters()]
    assert all(isinstance(p, UninitializedParameter) for p in n_params)
    assert n_mod.has_uninitialized_params()

    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    n_mod(numcnn.tensor(x))
    t_mod(torch.tensor(x))
    # the plain class, the same repr and shapes, the same Parameter objects
    assert type(n_mod).__name__ == type(t_mod).__name__
    assert type(n_mod) is getattr(nn, type(t_mod).__name__)
    assert repr(n_mod) == repr(t_mod)
    assert [p is q for p, q in zip(n_params, n_mod.parameters())] == [True] * len(n_params)
    assert all(type(p) is nn.Parameter for p in n_params)
    n_sd, t_sd = n_mod.state_dict(), t_mod.state_dict()
    assert list(n_sd) == list(t_sd)
    for k in n_sd:
        assert n_sd[k].shape == tuple(t_sd[k].shape), k
        assert n_sd[k].dtype == np.dtype(str(t_sd[k].dtype).replace("torch.", "")), k

    # with torch's weights, the materialised layer computes what torch's does
    fresh_t = getattr(torch.nn, name)(*args, **kwargs)
    fresh_t(torch.tensor(x))
    n_mod.load_state_dict({k: v.detach().numpy() for k, v in fresh_t.state_dict().items()})
    xn, xt = numcnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yn, yt = n_mod(xn), fresh_t(xt)
    assert_close(yn, yt)
    yn.sum().backward()
    yt.sum().backward()
    assert_close(xn.grad, xt.grad)
    for (k, p), (k2, q) in zip(n_mod.named_parameters(), fresh_t.named_parameters()):
        assert k == k2
        assert_close(p.grad, q.grad, what=k)


@pytest.mark.parametrize("name,args,fan_in", [("LazyLinear", (7,), 5),
                                              ("LazyConv2d", (4, 3), 3 * 9),
                                              ("LazyConvTranspose2d", (4, 3), 2 * 9)])
def test_lazy_layer_is_initialised_as_the_plain_layer(name, args, fan_in):
    x = numcnn.tensor(np.ones((2, 5) if name == "LazyLinear" else (2, 3, 6, 6), np.float32))
    numcnn.manual_seed(0)
    m = getattr(nn, name)(*args)
    m(x)
    bound = 1 / math.sqrt(fan_in)
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert np.all(np.abs(w) <= bound) and np.all(np.abs(b) <= bound)
    assert w.std() > bound / 4                          # drawn, not left empty/zero
    # equal seeds give the plain layer's draws
    numcnn.manual_seed(0)
    plain = getattr(nn, name[4:])(*(((5,) if name == "LazyLinear" else (3,)) + args))
    np.testing.assert_array_equal(plain.weight.detach().numpy(), w)
    np.testing.assert_array_equal(plain.bias.detach().numpy(), b)


def test_lazy_batch_norm_statistics_start_at_zero_and_one():
    m = nn.LazyBatchNorm2d()
    assert isinstance(m.running_mean, UninitializedBuffer)
    assert int(m.num_batches_tracked) == 0
    m.eval()
    x = numcnn.randn(2, 3, 4, 4)
    y = m(x)
    np.testing.assert_array_equal(m.running_mean.numpy(), np.zeros(3, np.float32))
    np.testing.assert_array_equal(m.running_var.numpy(), np.ones(3, np.float32))
    np.testing.assert_array_equal(m.weight.detach().numpy(), np.ones(3, np.float32))
    assert_close(y, x.detach().numpy() / np.sqrt(np.float32(1 + 1e-5)))
    assert type(m.running_mean) is numcnn.Tensor


def test_uninitialized_parameter_errors_and_dtype():
    m = nn.LazyLinear(3, dtype=numcnn.float64)
    w = m.weight
    assert w.dtype == np.float64 and w.requires_grad and w.is_leaf
    assert repr(w) == "<UninitializedParameter>"
    for use in (w.numel, lambda: w + 1, lambda: w.sum(), lambda: w.data, w.dim):
        with pytest.raises(ValueError, match="uninitialized parameter"):
            use()
    with pytest.raises(RuntimeError, match="shape of an uninitialized"):
        _ = w.shape
    with pytest.raises(ValueError, match="uninitialized parameter"):
        sum(p.numel() for p in m.parameters())
    m(numcnn.randn(2, 4).double())
    assert m.weight.dtype == np.float64 and m.weight.shape == (3, 4)
    # .double() before the first forward changes the placeholder's dtype
    m2 = nn.LazyConv2d(2, 1).double()
    assert isinstance(m2.weight, UninitializedParameter) and m2.weight.dtype == np.float64


def test_lazy_input_errors():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.LazyConv2d(4, 3, groups=2)(numcnn.randn(2, 3, 8, 8))
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\)"):
        nn.LazyConv2d(4, 3)(numcnn.randn(2, 3, 4, 4, 4))
    m = nn.LazyBatchNorm2d()
    with pytest.raises(ValueError, match="expected 4D input"):
        m(numcnn.randn(3, 7, 2))
    assert m.has_uninitialized_params() and type(m) is nn.LazyBatchNorm2d   # still lazy
    with pytest.raises(IndexError):
        nn.LazyLinear(3)(numcnn.tensor(1.0))


def test_unbatched_lazy_instance_norm_reads_the_channel_dim():
    # torch's lazy instance norm reads dim 1 even unbatched and then fails; numcnn reads C
    m = nn.LazyInstanceNorm1d()
    x = numcnn.randn(3, 7)
    y = m(x)
    assert m.num_features == 3 and m.weight.shape == (3,)
    t = torch.nn.InstanceNorm1d(3, affine=True, track_running_stats=True)
    assert_close(y, t(torch.tensor(x.numpy())))


def test_optimizer_built_before_the_first_forward_updates_the_materialised_parameters():
    m = nn.LazyLinear(2)
    opt = numcnn.optim.SGD(m.parameters(), lr=0.5)
    opt.step()                                      # nothing to do yet: no gradients
    x = numcnn.randn(3, 4)
    m(x).sum().backward()
    before = m.weight.detach().numpy().copy()
    g = m.weight.grad.numpy().copy()
    opt.step()
    np.testing.assert_allclose(m.weight.detach().numpy(), before - 0.5 * g, rtol=1e-6)
    assert opt.param_groups[0]["params"][0] is m.weight


def test_load_state_dict_materialises_the_same_objects():
    src = nn.Conv2d(3, 4, 3, groups=1)
    m = nn.LazyConv2d(4, 3)
    w, b = m.weight, m.bias
    assert repr(m.load_state_dict(src.state_dict())) == "<All keys matched successfully>"
    assert m.weight is w and m.bias is b and type(w) is nn.Parameter
    assert m.in_channels == 3 and not m.has_uninitialized_params()
    np.testing.assert_array_equal(w.detach().numpy(), src.weight.detach().numpy())
    assert type(m) is nn.LazyConv2d                 # as torch: the class changes on forward
    x = numcnn.randn(1, 3, 5, 5)
    np.testing.assert_array_equal(m(x).detach().numpy(), src(x).detach().numpy())
    assert type(m) is nn.Conv2d

    bn = nn.LazyBatchNorm1d()
    bn.load_state_dict(nn.BatchNorm1d(7).state_dict())
    assert bn.num_features == 7 and bn.running_var.shape == (7,)
    # as torch, the checkpoint's shapes win (even against out_features)
    n_odd, t_odd = nn.LazyLinear(3), torch.nn.LazyLinear(3)
    n_odd.load_state_dict(nn.Linear(5, 4).state_dict())
    t_odd.load_state_dict(torch.nn.Linear(5, 4).state_dict())
    assert n_odd.weight.shape == tuple(t_odd.weight.shape) == (4, 5)


def test_deepcopy_of_a_lazy_module_is_independent():
    m = nn.LazyLinear(3)
    c = copy.deepcopy(m)
    c(numcnn.randn(2, 4))
    assert type(c) is nn.Linear and c.weight.shape == (3, 4)
    assert type(m) is nn.LazyLinear and isinstance(m.weight, UninitializedParameter)
    m(numcnn.randn(2, 6))
    assert m.weight.shape == (3, 6)


def _textbook_net(N):
    """d2l-style LeNet with batch norm, every size inferred."""
    return N.Sequential(
        N.LazyConv2d(6, kernel_size=5, padding=2), N.LazyBatchNorm2d(), N.Sigmoid(),
        N.AvgPool2d(kernel_size=2, stride=2),
        N.LazyConv2d(16, kernel_size=5), N.LazyBatchNorm2d(), N.Sigmoid(),
        N.AvgPool2d(kernel_size=2, stride=2), N.Flatten(),
        N.LazyLinear(120), N.LazyBatchNorm1d(), N.Sigmoid(),
        N.LazyLinear(84), N.LazyBatchNorm1d(), N.Sigmoid(),
        N.LazyLinear(10),
    )


def test_textbook_lazy_model_trains_as_torch():
    """Optimizers built before the first forward in both libraries; numcnn materialises by a
    forward, torch by loading numcnn's weights; then 3 SGD steps agree in float64."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 8, 1, 28, 28))
    Y = rng.integers(0, 10, size=(4, 8))

    n_net = _textbook_net(nn)
    t_net = _textbook_net(torch.nn).double()
    n_net.double()
    n_opt = numcnn.optim.SGD(n_net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    t_opt = torch.optim.SGD(t_net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    n_params = list(n_net.parameters())
    assert len(n_params) == len(list(t_net.parameters())) == 18

    n_net(numcnn.tensor(X[0]))                      # materialise (training mode, as d2l)
    assert [type(m).__name__ for m in n_net] == [
        "Conv2d", "BatchNorm2d", "Sigmoid", "AvgPool2d", "Conv2d", "BatchNorm2d", "Sigmoid",
        "AvgPool2d", "Flatten", "Linear", "BatchNorm1d", "Sigmoid", "Linear", "BatchNorm1d",
        "Sigmoid", "Linear"]
    assert all(p is q for p, q in zip(n_params, n_net.parameters()))
    t_net.load_state_dict({k: torch.tensor(v.numpy()) for k, v in n_net.state_dict().items()})

    for step in range(1, 4):
        xn, xt = numcnn.tensor(X[step]), torch.tensor(X[step])
        n_loss = nn.functional.cross_entropy(n_net(xn), numcnn.tensor(Y[step]))
        t_loss = torch.nn.functional.cross_entropy(t_net(xt), torch.tensor(Y[step]))
        assert_close(n_loss, t_loss, what=f"loss at step {step}")
        n_opt.zero_grad()
        t_opt.zero_grad()
        n_loss.backward()
        t_loss.backward()
        n_opt.step()
        t_opt.step()
        for (k, p), q in zip(n_net.named_parameters(), t_net.parameters()):
            assert_close(p.grad, q.grad, what=f"grad {k} at step {step}")
            assert_close(p, q, what=f"{k} after step {step}")
    for k, v in t_net.state_dict().items():
        assert_close(n_net.state_dict()[k], v, what=k)
    assert type(t_net[0]) is torch.nn.Conv2d
    assert all(p is q for p, q in zip(n_params, n_opt.param_groups[0]["params"]))
