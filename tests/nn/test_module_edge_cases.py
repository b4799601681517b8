"""Module edge cases that real PyTorch code meets, each checked against torch: old checkpoints,
name clashes, deleting from containers, deepcopy, hooks (deprecated, full, pre), apply/init,
devices and dtypes, zero_grad and the lookup helpers."""

from __future__ import annotations

import copy
import warnings
from collections import OrderedDict

import numpy as np
import pytest
import torch
from tests.helpers import assert_close

import numcnn
import numcnn.nn as nn


def _both(fn):
    return fn(nn, numcnn), fn(torch.nn, torch)


# ----------------------------------------------------------------------------- state_dict
@pytest.mark.parametrize("count", [0, 5])
def test_batch_norm_checkpoint_without_num_batches_tracked(count):
    """A plain dict (no _metadata: version None) may lack num_batches_tracked: the module keeps
    its count, as torch; a dict from state_dict() (version 2) must have it."""
    results = []
    for N, L in ((nn, numcnn), (torch.nn, torch)):
        bn = N.BatchNorm2d(3)
        bn.num_batches_tracked.fill_(count)
        src = N.BatchNorm2d(3)
        with L.no_grad():
            src.running_mean.fill_(0.5)
        sd = {k: v for k, v in src.state_dict().items() if k != "num_batches_tracked"}
        assert repr(bn.load_state_dict(sd)) == "<All keys matched successfully>"
        results.append((int(bn.num_batches_tracked), float(bn.running_mean[1])))
        full = src.state_dict()
        del full["num_batches_tracked"]
        with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: '
                                               '"num_batches_tracked"'):
            bn.load_state_dict(full)
    assert results[0] == results[1] == (count, 0.5)


def test_state_dict_metadata_matches_torch():
    n, t = _both(lambda N, L: N.Sequential(N.Conv2d(1, 2, 3), N.BatchNorm2d(2)).state_dict())
    assert dict(n._metadata) == dict(t._metadata)


def test_load_state_dict_errors_like_torch():
    n, t = _both(lambda N, L: N.Linear(2, 3))
    with pytest.raises(TypeError):
        n.load_state_dict([("weight", 1)])
    with pytest.raises(TypeError):
        t.load_state_dict([("weight", 1)])
    sd = {"weight": np.zeros((3, 2), np.float32), "bias": np.zeros(3, np.float32),
          "extra": np.zeros(1, np.float32)}
    with pytest.raises(RuntimeError, match='Unexpected key\\(s\\) in state_dict: "extra"'):
        n.load_state_dict(sd)
    res = n.load_state_dict(sd, strict=False)
    assert res.missing_keys == [] and res.unexpected_keys == ["extra"]
    res = n.load_state_dict({"weight": np.ones((3, 2), np.float32)}, strict=False)
    assert res.missing_keys == ["bias"]
    np.testing.assert_array_equal(n.weight.detach().numpy(), np.ones((3, 2), np.float32))
    with pytest.raises(RuntimeError, match="size mismatch for weight"):
        n.load_state_dict({"weight": np.ones((2, 2), np.float32)}, strict=False)


# ----------------------------------------------------------------------------- name clashes
def _clash(what, m, N, L):
    if what == "buffer_over_param":
        m.register_buffer("weight", L.zeros(1))
    elif what == "param_over_buffer":
        m.register_parameter("buf", N.Parameter(L.zeros(1)))
    elif what == "module_over_param":
        m.add_module("weight", N.ReLU())
    elif what == "buffer_over_module":
        m.register_buffer("sub", L.zeros(1))
    else:
        m.register_parameter("plain", N.Parameter(L.zeros(1)))


@pytest.mark.parametrize("what", ["buffer_over_param", "param_over_buffer", "module_over_param",
                                  "buffer_over_module", "param_over_attr"])
def test_register_with_another_kinds_name_raises_key_error(what):
    for N, L in ((nn, numcnn), (torch.nn, torch)):
        m = N.Linear(2, 3)
        m.register_buffer("buf", L.zeros(1))
        m.sub = N.ReLU()
        m.plain = 3
        with pytest.raises(KeyError, match="already exists"):
            _clash(what, m, N, L)
        assert sorted(m.state_dict()) == ["bias", "buf", "weight"]


def test_register_same_kind_again_replaces():
    m = nn.Linear(2, 3)
    m.register_parameter("weight", nn.Parameter(numcnn.zeros(3, 2)))
    m.register_buffer("b2", numcnn.zeros(1))
    m.register_buffer("b2", numcnn.ones(1), persistent=False)
    assert list(m.state_dict()) == ["weight", "bias"]
    with pytest.raises(TypeError, match="buffer 'b3'"):
        m.register_buffer("b3", 3)


# ----------------------------------------------------------------------------- containers
def _names(N):
    return N.Sequential(OrderedDict(a=N.ReLU(), b=N.Tanh(), c=N.Sigmoid(), d=N.ELU()))


@pytest.mark.parametrize("idx", [0, -1, 2, slice(1, 3), slice(None, None, 2)])
def test_sequential_del_renumbers_as_torch(idx):
    n, t = _both(lambda N, L: _names(N))
    del n[idx]
    del t[idx]
    assert list(n._modules) == list(t._modules)
    assert [type(m).__name__ for m in n] == [type(m).__name__ for m in t]
    assert type(n[0]).__name__ == type(t[0]).__name__
    assert repr(n) == repr(t)
    x = np.linspace(-2, 2, 5)
    assert_close(n(numcnn.tensor(x)), t(torch.tensor(x)))


@pytest.mark.parametrize("idx", [0, -2, slice(1, 3)])
def test_module_list_del_renumbers_as_torch(idx):
    n, t = _both(lambda N, L: N.ModuleList([N.ReLU(), N.Tanh(), N.Sigmoid(), N.ELU()]))
    del n[idx]
    del t[idx]
    assert list(n._modules) == list(t._modules)
    assert [type(m).__name__ for m in n] == [type(m).__name__ for m in t]
    assert type(n[-1]).__name__ == type(t[-1]).__name__


def test_del_out_of_range_raises_index_error():
    for N in (nn, torch.nn):
        with pytest.raises(IndexError):
            del N.Sequential(N.ReLU())[3]
        with pytest.raises(IndexError):
            del N.ModuleList([N.ReLU()])[-2]


# ----------------------------------------------------------------------------- deepcopy
def _net(N):
    return N.Sequential(N.Conv2d(1, 2, 3), N.BatchNorm2d(2), N.ReLU(), N.Flatten(),
                        N.Linear(8, 3))


def test_deepcopy_gives_an_independent_model():
    m = _net(nn)
    calls = []
    m[4].register_forward_hook(lambda mod, args, out: calls.append(mod))
    x = numcnn.randn(2, 1, 4, 4)
    m(x).sum().backward()
    c = copy.deepcopy(m)
    # equal values, distinct objects; gradients are not copied (as torch's Parameter)
    for (k, p), (k2, q) in zip(m.state_dict(keep_vars=True).items(),
                               c.state_dict(keep_vars=True).items()):
        assert k == k2 and p is not q and type(p) is type(q)
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
        assert not np.shares_memory(p.array, q.array)
    assert all(p.grad is None and p.requires_grad for p in c.parameters())
    assert c[4].weight is not m[4].weight
    # hooks are copied, bound to the copy
    calls.clear()
    c(x)
    assert calls == [c[4]]
    # changing one leaves the other alone
    with numcnn.no_grad():
        c[0].weight.fill_(0.0)
    c.train()(x)
    assert float(m[0].weight.abs().sum()) > 0
    assert int(m[1].num_batches_tracked) == 1 and int(c[1].num_batches_tracked) == 3
    torch_c = copy.deepcopy(_net(torch.nn))
    assert type(torch_c[0].weight) is torch.nn.Parameter and torch_c[0].weight.grad is None


def test_deepcopy_keeps_shared_parameters_shared_and_works_on_the_zoo():
    lin = nn.Linear(3, 3)
    m = nn.Sequential(lin, nn.ReLU(), lin)
    c = copy.deepcopy(m)
    assert c[0] is c[2] and c[0] is not lin
    assert len(list(c.parameters())) == 2
    from numcnn import models
    for name in ("lenet5", "resnet18"):
        net = models.get_model(name) if hasattr(models, "get_model") else None
        if net is None:
            continue
        twin = copy.deepcopy(net).eval()
        net.eval()
        x = numcnn.randn(1, *models.input_size(name))
        np.testing.assert_array_equal(net(x).detach().numpy(), twin(x).detach().numpy())


def test_shallow_copy_shares_state_as_torch():
    for N in (nn, torch.nn):
        m = N.Linear(2, 2)
        c = copy.copy(m)
        assert c is not m and c.weight is m.weight and c._parameters is m._parameters


def test_ema_update_through_data():
    """The EMA idiom: ema = deepcopy(model); ema_p.data.mul_(d).add_(p.data, alpha=1-d)."""
    m = nn.Linear(2, 2)
    ema = copy.deepcopy(m)
    with numcnn.no_grad():
        for p in m.parameters():
            p.add_(1.0)
    before = [p.detach().numpy().copy() for p in ema.parameters()]
    for e, p in zip(ema.parameters(), m.parameters()):
        e.data.mul_(0.9).add_(p.data, alpha=0.1)
    for e, b, p in zip(ema.parameters(), before, m.parameters()):
        np.testing.assert_allclose(e.detach().numpy(), 0.9 * b + 0.1 * p.detach().numpy(),
                                   rtol=1e-6)


# ----------------------------------------------------------------------------- backward hooks
def _hooked(N, kind):
    m = N.Linear(3, 2)
    seen = []
    if kind == "old":
        m.register_backward_hook(lambda mod, gi, go: seen.append(("old", gi, go)))
    else:
        m.register_full_backward_pre_hook(lambda mod, go: seen.append(("pre", go)))
        m.register_full_backward_hook(lambda mod, gi, go: seen.append(("full", gi, go)))
    return m, seen


def _shapes(seen):
    return [(k,) + tuple(None if g is None else tuple(g.shape) for part in rest for g in part)
            for k, *rest in seen]


def test_full_hooks_fire_without_grad_inputs_as_torch():
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    out = []
    for N, L in ((nn, numcnn), (torch.nn, torch)):
        m, seen = _hooked(N, "full")
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            m(L.tensor(x)).sum().backward()
        assert any("Full backward hook is firing" in str(i.message) for i in w)
        out.append(seen)
    assert _shapes(out[0]) == _shapes(out[1]) == [("pre", (4, 2)), ("full", None, (4, 2))]


def test_full_pre_hook_replaces_grad_output():
    class Mul(numcnn.nn.Module):
        def forward(self, a, b):
            return a * b * 2

    class TMul(torch.nn.Module):
        def forward(self, a, b):
            return a * b * 2

    grads = []
    for M, L in ((Mul, numcnn), (TMul, torch)):
        m, seen = M(), []
        m.register_full_backward_pre_hook(lambda mod, go: (go[0] * 10,))
        m.register_full_backward_hook(lambda mod, gi, go, s=seen: s.append((gi, go)))
        a = L.tensor([1.0, 2.0], requires_grad=True)
        b = L.tensor([3.0, 4.0])
        m(a, b).sum().backward()
        (gi, go), = seen
        grads.append((a.grad.numpy().copy(), gi[0].numpy().copy(), gi[1].numpy().copy(),
                      go[0].numpy().copy()))
    for n, t in zip(*grads):
        np.testing.assert_array_equal(n, t)
    np.testing.assert_array_equal(grads[0][0], [60.0, 80.0])


def test_deprecated_backward_hook_warns_and_fires_like_torch():
    x = np.random.default_rng(1).standard_normal((3,)).astype(np.float32)
    results = []
    for N, L in ((nn, numcnn), (torch.nn, torch)):
        r = N.ReLU()
        seen = []
        r.register_backward_hook(lambda mod, gi, go, s=seen: s.append((gi, go)))
        xt = L.tensor(x, requires_grad=True)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            y_leaf = r(xt)                          # a leaf input: torch warns
        assert [i.category for i in w] == [FutureWarning]
        assert "non-full backward hook" in str(w[0].message)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            y = r(xt * 2)                           # one node fed by the input: no warning
        assert w == []
        (y.sum() + y_leaf.sum()).backward()
        results.append([(gi[0].numpy().copy(), go[0].numpy().copy()) for gi, go in seen])
    for (ngi, ngo), (tgi, tgo) in zip(*results):
        np.testing.assert_array_equal(ngi, tgi)
        np.testing.assert_array_equal(ngo, tgo)


def test_deprecated_hook_return_replaces_grad_input_and_kinds_do_not_mix():
    for N, L in ((nn, numcnn), (torch.nn, torch)):
        r = N.ReLU()
        r.register_backward_hook(lambda mod, gi, go: (gi[0] * 0 + 7,))
        x = L.tensor([1.0, -1.0], requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r(x * 1).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [7.0, 7.0])
        with pytest.raises(RuntimeError, match="Cannot use both regular backward hooks"):
            r.register_full_backward_hook(lambda *a: None)
        f = N.ReLU()
        f.register_full_backward_hook(lambda *a: None)
        with pytest.raises(RuntimeError, match="Cannot use both regular backward hooks"):
            f.register_backward_hook(lambda *a: None)


# ----------------------------------------------------------------------------- apply / init
def test_apply_with_a_typical_init_function():
    def init_fn(N):
        def fn(m):
            name = type(m).__name__
            if name.startswith("Conv"):
                m.weight.data.normal_(0.0, 0.02)
            elif name.startswith("BatchNorm"):
                m.weight.data.normal_(1.0, 0.02)
                m.bias.data.fill_(0)
            elif name == "Linear":
                N.init.xavier_uniform_(m.weight)
                N.init.zeros_(m.bias)
        return fn

    numcnn.manual_seed(0)
    m = _net(nn)
    assert m.apply(init_fn(nn)) is m
    w = m[0].weight.detach().numpy()
    assert abs(w.std() - 0.02) < 0.015 and abs(w.mean()) < 0.03
    assert np.all(m[1].bias.detach().numpy() == 0)
    bound = np.sqrt(6 / (8 + 3))
    assert np.all(np.abs(m[4].weight.detach().numpy()) <= bound)
    assert np.all(m[4].bias.detach().numpy() == 0)
    assert all(p.requires_grad and p.is_leaf for p in m.parameters())
    order = []
    m.apply(lambda mod: order.append(type(mod).__name__))
    t_order = []
    _net(torch.nn).apply(lambda mod: t_order.append(type(mod).__name__))
    assert order == t_order


# ----------------------------------------------------------------------------- devices, dtypes
@pytest.mark.parametrize("arg", ["cpu", "cpu:0", torch.device("cpu"), numcnn.float64, "float64",
                                 (("cpu",), {"dtype": numcnn.float64}), (("cpu", True), {})])
def test_to_accepts_torch_like_arguments(arg):
    m = nn.Linear(2, 2)
    if isinstance(arg, tuple):
        args, kwargs = arg
        assert m.to(*args, **kwargs) is m
    else:
        assert m.to(arg) is m
    assert m.cpu() is m
    m.to(device="cpu")
    m.to(numcnn.zeros(1, dtype=numcnn.float64))
    assert m.weight.dtype == np.float64


@pytest.mark.parametrize("bad", ["cuda", "cuda:0", 0, "mps", torch.device("meta")])
def test_to_another_device_says_numcnn_runs_on_the_cpu(bad):
    m = nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match="numcnn runs on the CPU"):
        m.to(bad)
    with pytest.raises(RuntimeError, match="numcnn runs on the CPU"):
        m.to(device=bad)
    with pytest.raises(RuntimeError, match="numcnn runs on the CPU"):
        m.cuda()


def test_to_integer_dtype_raises_type_error_and_casts():
    for N, L in ((nn, numcnn), (torch.nn, torch)):
        with pytest.raises(TypeError, match="only accepts floating point"):
            N.Linear(2, 2).to(L.int64)
    n, t = _both(lambda N, L: N.BatchNorm1d(2))
    for a, b in ((n.double(), t.double()), (n.half(), t.half()), (n.float(), t.float())):
        assert [str(v.dtype).replace("numcnn.", "") for v in a.state_dict().values()] == \
            [str(v.dtype).replace("torch.", "") for v in b.state_dict().values()]
    m = nn.Linear(2, 2)
    m(numcnn.randn(1, 2)).sum().backward()
    m.double()
    assert m.weight.grad.dtype == np.float64


def test_zero_grad_lookups_and_requires_grad_like_torch():
    n, t = _both(lambda N, L: N.Sequential(N.Linear(2, 2), N.Sequential(N.Linear(2, 1))))
    for m, L in ((n, numcnn), (t, torch)):
        m(L.ones(1, 2)).sum().backward()
        g = m[0].weight.grad
        m.zero_grad(set_to_none=False)
        assert m[0].weight.grad is g and float(g.abs().sum()) == 0
        m.zero_grad()
        assert m[0].weight.grad is None
        assert m.get_submodule("1.0") is m[1][0]
        assert m.get_parameter("1.0.bias") is m[1][0].bias
        with pytest.raises(AttributeError):
            m.get_submodule("1.5")
        with pytest.raises(AttributeError):
            m.get_parameter("1.0.nope")
        assert m.requires_grad_(False) is m
        assert not any(p.requires_grad for p in m.parameters())
    shared = nn.Linear(1, 1)
    ts = torch.nn.Linear(1, 1)
    ns, tt = nn.Sequential(shared, shared), torch.nn.Sequential(ts, ts)
    for dup in (True, False):
        assert [k for k, _ in ns.named_modules(remove_duplicate=dup)] == \
            [k for k, _ in tt.named_modules(remove_duplicate=dup)]
    assert [k for k, _ in ns.named_modules(prefix="net")] == \
        [k for k, _ in tt.named_modules(prefix="net")]
    assert repr(nn.Conv2d(1, 2, 3, bias=False)) == repr(torch.nn.Conv2d(1, 2, 3, bias=False))
