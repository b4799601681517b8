"""nn.Module and the containers against torch.nn.Module: the same module tree is built in both
libraries (from the same class definitions, parametrised by library) and compared."""

from __future__ import annotations

from collections import OrderedDict
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from tests.helpers import assert_close

import numcnn
import numcnn.nn as nn


def make_lib(L):
    """The same small module family written against `L` (numcnn or torch)."""
    N = L.nn

    class Affine(N.Module):
        def __init__(self, fin, fout, bias=True):
            super().__init__()
            self.fin, self.fout = fin, fout
            w = np.arange(fin * fout, dtype=np.float32).reshape(fout, fin) / 10 - 0.5
            self.weight = N.Parameter(L.tensor(w))
            if bias:
                self.bias = N.Parameter(L.tensor(np.linspace(-1, 1, fout, dtype=np.float32)))
            else:
                self.register_parameter("bias", None)
            self.register_buffer("count", L.zeros(1))
            self.register_buffer("scratch", L.zeros(2), persistent=False)

        def forward(self, x):
            y = x @ self.weight.T
            return y if self.bias is None else y + self.bias

        def extra_repr(self):
            return f"fin={self.fin}, fout={self.fout}, bias={self.bias is not None}"

    class Act(N.Module):
        def forward(self, x):
            return x * x

    class Block(N.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = Affine(3, 4)
            self.act = Act()
            self.fc2 = Affine(4, 3, bias=False)
            self.gain = N.Parameter(L.ones(1) * 0.5)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x))) * self.gain + x

    class Net(N.Module):
        def __init__(self):
            super().__init__()
            self.stem = Affine(3, 3)
            self.blocks = N.Sequential(Block(), Block())
            self.heads = N.ModuleList([Affine(3, 2), Affine(3, 2), Act()])
            self.extra = N.ModuleDict({"b": Affine(2, 1), "a": Act()})
            self.shared = self.stem                       # the same module twice
            self.register_buffer("steps", L.zeros(()))
            self.none_child = None

        def forward(self, x):
            h = self.blocks(self.shared(self.stem(x)))
            h = self.heads[0](h) + self.heads[1](h)
            return self.extra["b"](self.extra["a"](h))

    return SimpleNamespace(Affine=Affine, Act=Act, Block=Block, Net=Net, L=L, nn=N)


NC, TH = make_lib(numcnn), make_lib(torch)
X = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)


def nets():
    return NC.Net(), TH.Net()


def shapes(it):
    return [(name, tuple(t.shape)) for name, t in it]


def test_forward_same_values() -> None:
    n, t = nets()
    assert_close(n(numcnn.tensor(X)), t(torch.tensor(X)))


def test_traversal_order_and_names() -> None:
    n, t = nets()
    assert shapes(n.named_parameters()) == shapes(t.named_parameters())
    assert [tuple(p.shape) for p in n.parameters()] == [tuple(p.shape) for p in t.parameters()]
    assert shapes(n.named_buffers()) == shapes(t.named_buffers())
    assert len(list(n.buffers())) == len(list(t.buffers()))
    assert [type(m).__name__ for m in n.children()] == [type(m).__name__ for m in t.children()]
    assert [k for k, _ in n.named_children()] == [k for k, _ in t.named_children()]
    assert [type(m).__name__ for m in n.modules()] == [type(m).__name__ for m in t.modules()]
    assert [k for k, _ in n.named_modules()] == [k for k, _ in t.named_modules()]
    assert [k for k, _ in n.named_modules(remove_duplicate=False)] == \
        [k for k, _ in t.named_modules(remove_duplicate=False)]
    assert shapes(n.named_parameters(prefix="net", recurse=True)) == \
        shapes(t.named_parameters(prefix="net", recurse=True))
    assert shapes(n.stem.named_parameters(recurse=False)) == \
        shapes(t.stem.named_parameters(recurse=False))
    assert shapes(n.named_parameters(remove_duplicate=False)) == \
        shapes(t.named_parameters(remove_duplicate=False))
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in n.parameters())


def test_state_dict_keys_and_values() -> None:
    n, t = nets()
    sn, st = n.state_dict(), t.state_dict()
    assert list(sn) == list(st)                       # non-persistent buffers left out
    for k in st:
        assert_close(sn[k], st[k], what=k)
        assert not sn[k].requires_grad
    assert list(n.state_dict(prefix="m.")) == list(t.state_dict(prefix="m."))
    kept = n.state_dict(keep_vars=True)
    assert kept["stem.weight"] is n.stem.weight


def test_load_state_dict_from_torch() -> None:
    n, t = nets()
    with torch.no_grad():
        for p in t.parameters():
            p.mul_(-1.5).add_(0.25)
        t.steps.fill_(7)
    storage = n.blocks[0].fc1.weight.array
    result = n.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert n.blocks[0].fc1.weight.array is storage     # copied in place, as torch's copy_
    assert n.steps.item() == 7.0
    assert_close(n(numcnn.tensor(X)), t(torch.tensor(X)))
    assert n.stem.weight.dtype == numcnn.float32


def _bad_state(lib_net, lib):
    sd = OrderedDict((k, v) for k, v in lib_net.state_dict().items() if k != "stem.bias")
    sd["extra.c.weight"] = lib.zeros(1)
    sd["blocks.0.fc1.weight"] = lib.zeros(5, 5)
    return sd


def test_load_state_dict_strict_errors() -> None:
    n, t = nets()
    with pytest.raises(RuntimeError) as nerr:
        n.load_state_dict(_bad_state(n, numcnn))
    with pytest.raises(RuntimeError) as terr:
        t.load_state_dict(_bad_state(t, torch))
    msg = str(nerr.value)
    assert msg.startswith("Error(s) in loading state_dict for Net:")
    for piece in ('Missing key(s) in state_dict: "stem.bias"',
                  'Unexpected key(s) in state_dict: "extra.c.weight"',
                  "size mismatch for blocks.0.fc1.weight"):
        assert piece in msg and piece in str(terr.value), piece
    # torch raises on a size mismatch even with strict=False; so does numcnn
    with pytest.raises(RuntimeError, match="size mismatch"):
        n.load_state_dict(_bad_state(n, numcnn), strict=False)


def test_load_state_dict_non_strict_result() -> None:
    n, t = nets()

    def partial(net):
        sd = OrderedDict((k, v) for k, v in net.state_dict().items() if not k.startswith("stem"))
        sd["unknown"] = sd["steps"]
        return sd

    rn = n.load_state_dict(partial(n), strict=False)
    rt = t.load_state_dict(partial(t), strict=False)
    assert rn.missing_keys == rt.missing_keys and rn.unexpected_keys == rt.unexpected_keys
    assert repr(rn) == repr(rt)
    assert repr(n.load_state_dict(n.state_dict())) == repr(t.load_state_dict(t.state_dict()))


def test_train_eval_propagate() -> None:
    n, t = nets()
    assert all(m.training for m in n.modules())
    assert n.eval() is n
    t.eval()
    assert [m.training for m in n.modules()] == [m.training for m in t.modules()]
    n.blocks.train()
    t.blocks.train()
    assert [m.training for m in n.modules()] == [m.training for m in t.modules()]
    with pytest.raises(ValueError):
        n.train("yes")


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none: bool) -> None:
    n, _ = nets()
    n(numcnn.tensor(X)).sum().backward()
    assert all(p.grad is not None for p in n.parameters())
    n.zero_grad(set_to_none=set_to_none)
    for p in n.parameters():
        if set_to_none:
            assert p.grad is None
        else:
            assert p.grad is not None and not np.any(p.grad.array)
    n.zero_grad()                                      # default: set_to_none=True as torch
    assert all(p.grad is None for p in n.parameters())


def test_apply_order() -> None:
    n, t = nets()
    seen_n, seen_t = [], []
    assert n.apply(lambda m: seen_n.append(type(m).__name__)) is n
    t.apply(lambda m: seen_t.append(type(m).__name__))
    assert seen_n == seen_t


def test_to_float64() -> None:
    n, t = nets()
    assert n.to(numcnn.float64) is n
    t.to(torch.float64)
    assert all(p.dtype == numcnn.float64 for p in n.parameters())
    assert all(b.dtype == numcnn.float64 for b in n.buffers())
    x = X.astype(np.float64)
    assert_close(n(numcnn.tensor(x)), t(torch.tensor(x)))
    n.float()
    assert all(p.dtype == numcnn.float32 for p in n.parameters())
    assert n.to("cpu") is n and n.double().stem.weight.dtype == numcnn.float64
    with pytest.raises(TypeError):
        n.to(numcnn.int64)


def test_repr_like_torch() -> None:
    n, t = nets()
    assert repr(n) == repr(t)
    assert "(0-1): 2 x Affine(fin=3, fout=2, bias=True)" in repr(n)
    assert repr(NC.nn.ModuleList()) == repr(TH.nn.ModuleList())
    assert repr(NC.Act()) == repr(TH.Act())


def test_attribute_registration_errors() -> None:
    n = NC.Affine(2, 2)
    with pytest.raises(TypeError):
        n.weight = numcnn.zeros(2, 2)                  # a plain tensor for a parameter
    n.weight = None
    assert "weight" not in dict(n.named_parameters())
    with pytest.raises(KeyError):
        n.register_buffer("a.b", numcnn.zeros(1))
    with pytest.raises(AttributeError):
        _ = n.missing
    n.count = numcnn.ones(1)                           # a buffer is replaced by a tensor
    assert n.count.item() == 1.0 and "count" in dict(n.named_buffers())
    del n.count
    assert "count" not in dict(n.named_buffers())


def test_forward_hooks() -> None:
    results = []
    for lib in (NC, TH):
        net = lib.Affine(3, 2)
        calls = []

        def pre(mod, args, calls=calls):
            calls.append("pre")
            return (args[0] * 2,)

        def post(mod, args, out, calls=calls):
            calls.append("post")
            return out + 1

        h1 = net.register_forward_pre_hook(pre)
        h2 = net.register_forward_hook(post)
        x = lib.L.tensor(X)
        hooked = net(x)
        h1.remove()
        h2.remove()
        plain = net(x)
        results.append((hooked.detach().numpy(), plain.detach().numpy(), calls))
    (hn, pn, cn), (ht, pt, ct) = results
    np.testing.assert_allclose(hn, ht, rtol=1e-6)
    np.testing.assert_allclose(pn, pt, rtol=1e-6)
    assert cn == ct == ["pre", "post"]


class NScale(numcnn.autograd.Function):
    @staticmethod
    def forward(ctx, a, s):
        ctx.save_for_backward(a, s)
        return a * s

    @staticmethod
    def backward(ctx, gy):
        a, s = ctx.saved
        return gy * s, (gy * a).sum(0)


class TScale(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, s):
        ctx.save_for_backward(a, s)
        return a * s

    @staticmethod
    def backward(ctx, gy):
        a, s = ctx.saved_tensors
        return gy * s, (gy * a).sum(0)


def make_scale(lib, fn):
    class Scale(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.s = lib.nn.Parameter(lib.L.tensor(np.array([2.0, -1.0, 0.5], np.float32)))

        def forward(self, x):
            return fn.apply(x, self.s)

    return Scale()


@pytest.mark.parametrize("modify", [False, True])
def test_full_backward_hook(modify: bool) -> None:
    out = []
    for lib, fn in ((NC, NScale), (TH, TScale)):
        mod = make_scale(lib, fn)
        seen = {}

        def hook(m, grad_input, grad_output, seen=seen):
            seen["in"] = [None if g is None else g.detach().numpy().copy() for g in grad_input]
            seen["out"] = [g.detach().numpy().copy() for g in grad_output]
            if modify:
                return (grad_input[0] * 10,)
            return None

        mod.register_full_backward_hook(hook)
        x = lib.L.tensor(X, requires_grad=True)
        y = mod(x)
        (y * y).sum().backward()
        out.append((seen, x.grad.numpy(), mod.s.grad.numpy()))
    (sn, xn, gn), (st, xt, gt) = out
    assert len(sn["in"]) == len(st["in"]) == 1 and len(sn["out"]) == len(st["out"]) == 1
    np.testing.assert_allclose(sn["in"][0], st["in"][0], rtol=1e-6)
    np.testing.assert_allclose(sn["out"][0], st["out"][0], rtol=1e-6)
    np.testing.assert_allclose(xn, xt, rtol=1e-6)
    np.testing.assert_allclose(gn, gt, rtol=1e-6)


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_full_backward_hook_input_without_grad() -> None:
    """With no input requiring grad, torch calls the hook with grad_input = (None,)."""
    out = []
    for lib, fn in ((NC, NScale), (TH, TScale)):
        mod = make_scale(lib, fn)
        seen = {}
        mod.register_full_backward_hook(
            lambda m, gi, go, seen=seen: seen.update(gi=gi, go=go[0].detach().numpy().copy()))
        mod(lib.L.tensor(X)).sum().backward()
        out.append(seen)
    assert out[0]["gi"] == out[1]["gi"] == (None,)
    np.testing.assert_allclose(out[0]["go"], out[1]["go"])


# ------------------------------------------------------------------------------- containers


def test_sequential_like_torch() -> None:
    for lib in (NC, TH):
        seq = lib.nn.Sequential(lib.Affine(3, 3), lib.Act(), lib.Affine(3, 2))
        lib.seq = seq
    n, t = NC.seq, TH.seq
    assert len(n) == len(t) == 3
    assert type(n[-1]).__name__ == "Affine" and n[1] is list(n)[1]
    assert [k for k, _ in n[1:].named_children()] == [k for k, _ in t[1:].named_children()]
    assert isinstance(n[:2], nn.Sequential) and len(n[::2]) == 2
    assert_close(n(numcnn.tensor(X)), t(torch.tensor(X)))
    n.append(NC.Act())
    t.append(TH.Act())
    assert [k for k, _ in n.named_children()] == [k for k, _ in t.named_children()]
    assert repr(n) == repr(t)
    with pytest.raises(IndexError):
        n[10]
    named = nn.Sequential(OrderedDict([("first", NC.Act()), ("second", NC.Affine(3, 1))]))
    assert [k for k, _ in named.named_children()] == ["first", "second"]
    assert named.second is named[1]
    del n[0]
    assert len(n) == 3


def test_module_list_like_torch() -> None:
    n = nn.ModuleList([NC.Act(), NC.Affine(2, 2)])
    t = torch.nn.ModuleList([TH.Act(), TH.Affine(2, 2)])
    n.append(NC.Affine(2, 3))
    t.append(TH.Affine(2, 3))
    n.extend([NC.Act()])
    t.extend([TH.Act()])
    n.insert(1, NC.Act())
    t.insert(1, TH.Act())
    assert len(n) == len(t) == 5
    assert [type(m).__name__ for m in n] == [type(m).__name__ for m in t]
    assert [type(m).__name__ for m in n[1:3]] == [type(m).__name__ for m in t[1:3]]
    assert type(n[-2]).__name__ == "Affine"
    assert shapes(n.named_parameters()) == shapes(t.named_parameters())
    assert repr(n) == repr(t)
    with pytest.raises(IndexError):
        n[5]


def test_module_dict_like_torch() -> None:
    n = nn.ModuleDict({"z": NC.Act(), "a": NC.Affine(2, 2)})
    t = torch.nn.ModuleDict({"z": TH.Act(), "a": TH.Affine(2, 2)})
    n["m"] = NC.Affine(2, 1)
    t["m"] = TH.Affine(2, 1)
    assert list(n) == list(t) == list(n.keys()) == ["z", "a", "m"]
    assert len(n) == 3 and "a" in n and "q" not in n
    assert [type(m).__name__ for m in n.values()] == [type(m).__name__ for m in t.values()]
    assert shapes(n.named_parameters()) == shapes(t.named_parameters())
    assert repr(n) == repr(t)
    n.pop("z")
    assert list(n) == ["a", "m"]


def test_parameter_list_and_dict() -> None:
    pl = nn.ParameterList([nn.Parameter(numcnn.ones(2)), numcnn.zeros(3)])
    assert len(pl) == 2 and pl[1].shape == (3,) and isinstance(pl[1], nn.Parameter)
    assert [k for k, _ in pl.named_parameters()] == ["0", "1"]
    pd = nn.ParameterDict({"w": numcnn.ones(2)})
    assert list(pd.keys()) == ["w"] and isinstance(pd["w"], nn.Parameter)


def test_parameter_repr_and_defaults() -> None:
    p = nn.Parameter(numcnn.tensor([1.0, 2.0]))
    assert repr(p) == repr(torch.nn.Parameter(torch.tensor([1.0, 2.0])))
    assert p.requires_grad and p.is_leaf
    assert not nn.Parameter(numcnn.ones(1), requires_grad=False).requires_grad


@pytest.mark.parametrize("b_grad", [True, False])
def test_full_backward_hook_two_inputs_replaced(b_grad: bool) -> None:
    """Both entries of grad_input are seen together and both replacements take effect."""
    out = []
    b_np = X[::-1].copy() + 0.5
    for lib in (NC, TH):
        class Mix(lib.nn.Module):
            def forward(self, a, b):
                return a * b + a

        mod = Mix()
        seen = {}

        def hook(m, gi, go, seen=seen):
            seen["gi"] = [None if g is None else g.detach().numpy().copy() for g in gi]
            return tuple(None if g is None else g * (k + 2) for k, g in enumerate(gi))

        mod.register_full_backward_hook(hook)
        a = lib.L.tensor(X, requires_grad=True)
        b = lib.L.tensor(b_np, requires_grad=b_grad)
        (mod(a, b) ** 2).sum().backward()
        out.append((seen["gi"], a.grad.numpy(), None if b.grad is None else b.grad.numpy()))
    (gn, an, bn), (gt, at, bt) = out
    assert [g is None for g in gn] == [g is None for g in gt]
    for x, y in zip(gn, gt):
        if x is not None:
            np.testing.assert_allclose(x, y, rtol=1e-6)
    np.testing.assert_allclose(an, at, rtol=1e-6)
    assert (bn is None) == (bt is None)
    if bn is not None:
        np.testing.assert_allclose(bn, bt, rtol=1e-6)
