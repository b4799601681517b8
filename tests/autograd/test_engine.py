"""The backward engine and grad mode, against PyTorch's behaviour."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from tests.helpers import assert_close, random_array

import numcnn


def pair(arr: np.ndarray) -> tuple[numcnn.Tensor, torch.Tensor]:
    return (numcnn.tensor(arr.copy(), requires_grad=True),
            torch.tensor(arr.copy(), requires_grad=True))


def test_non_scalar_backward_needs_gradient() -> None:
    x = numcnn.ones(3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="scalar outputs"):
        y.backward()
    with pytest.raises(RuntimeError):
        (torch.ones(3, requires_grad=True) * 2).backward()
    y.backward(numcnn.tensor([1.0, 2.0, 3.0]))
    assert x.grad.tolist() == [2.0, 4.0, 6.0]
    (x * 3).backward(np.array([1.0, 1.0, 1.0]))      # an ndarray gradient is accepted too
    assert x.grad.tolist() == [5.0, 7.0, 9.0]


def test_gradient_shape_mismatch() -> None:
    x = numcnn.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(numcnn.ones(3, 2))
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(numcnn.ones(3))


def test_backward_on_tensor_without_grad() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        numcnn.ones(2).sum().backward()


def test_accumulation_across_calls() -> None:
    a = random_array((3,), seed=1)
    n, t = pair(a)
    for _ in range(3):
        (n * n).sum().backward()
        (t * t).sum().backward()
    assert_close(n.grad, t.grad)
    assert_close(n.grad, 6 * a)


def test_retain_graph_and_freed_graph_error() -> None:
    a = random_array((4,), seed=2)
    n, t = pair(a)
    yn, yt = n.exp().sum(), t.exp().sum()
    yn.backward(retain_graph=True)
    yt.backward(retain_graph=True)
    yn.backward()
    yt.backward()
    assert_close(n.grad, t.grad)
    assert_close(n.grad, 2 * np.exp(a))
    with pytest.raises(RuntimeError, match="second time"):
        yn.backward()
    with pytest.raises(RuntimeError, match="second time"):
        yt.backward()


def test_detach() -> None:
    x = numcnn.tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    y = x * d                                         # d is a constant for autograd
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]
    d2 = x.detach()
    assert np.shares_memory(d2.array, x.array)          # as torch: same storage
    y = (x * 2)
    y.detach_()
    assert y.grad_fn is None and not y.requires_grad


def test_retain_grad_on_non_leaf() -> None:
    a = random_array((2, 3), seed=3)
    n, t = pair(a)
    hn, ht = n * 2 + 1, t * 2 + 1
    hn.retain_grad()
    ht.retain_grad()
    gn, gt = hn.exp(), ht.exp()
    gn.retain_grad()
    gt.retain_grad()
    assert hn.retains_grad and not n.retains_grad
    (gn * gn).sum().backward()
    (gt * gt).sum().backward()
    assert_close(hn.grad, ht.grad)
    assert_close(gn.grad, gt.grad)
    assert_close(n.grad, t.grad)
    m = n * 3                                          # without retain_grad: no .grad
    m.sum().backward()
    assert m.grad is None
    with pytest.raises(RuntimeError):
        numcnn.ones(2).retain_grad()


def test_retain_grad_on_root() -> None:
    x = numcnn.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.backward(numcnn.tensor([3.0, 4.0]))
    assert y.grad.tolist() == [3.0, 4.0]


def test_register_hook_leaf_and_non_leaf() -> None:
    a = random_array((3,), seed=4)
    n, t = pair(a)
    seen_n, seen_t = [], []
    hn = n.register_hook(lambda g: seen_n.append(g.numpy().copy()))
    t.register_hook(lambda g: seen_t.append(g.numpy().copy()))
    mn, mt = n * 3, t * 3
    mn.register_hook(lambda g: g * 10)                 # replaces the gradient flowing on
    mt.register_hook(lambda g: g * 10)
    # n is used twice: its hook sees the summed gradient, once (as torch's AccumulateGrad)
    (mn * n).sum().backward()
    (mt * t).sum().backward()
    assert len(seen_n) == len(seen_t) == 1
    np.testing.assert_allclose(seen_n[0], seen_t[0], rtol=1e-12)
    assert_close(n.grad, t.grad)
    hn.remove()
    n.grad = None
    (n * 2).sum().backward()
    assert len(seen_n) == 1 and n.grad.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(RuntimeError):
        numcnn.ones(2).register_hook(lambda g: g)


def test_leaf_hook_can_replace_gradient() -> None:
    x = numcnn.tensor([1.0, -2.0], requires_grad=True)
    x.register_hook(lambda g: g.clamp(-0.5, 0.5))
    (x * 4 + x * 4).sum().backward()                   # summed first (8), then clipped
    assert x.grad.tolist() == [0.5, 0.5]


def test_grad_mode_context_managers() -> None:
    x = numcnn.ones(2, requires_grad=True)
    assert numcnn.is_grad_enabled()
    with numcnn.no_grad():
        assert not numcnn.is_grad_enabled()
        y = x * 2
        with numcnn.enable_grad():
            assert numcnn.is_grad_enabled()
            z = x * 2
        assert not numcnn.is_grad_enabled()
    assert numcnn.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None
    with numcnn.set_grad_enabled(False):
        assert not numcnn.is_grad_enabled()
    assert numcnn.is_grad_enabled()
    numcnn.set_grad_enabled(False)                     # also a plain function, as in torch
    assert not numcnn.is_grad_enabled()
    numcnn.set_grad_enabled(True)
    assert numcnn.is_grad_enabled()
    nested = numcnn.no_grad()                          # one instance entered twice
    with nested:
        with nested:
            pass
        assert not numcnn.is_grad_enabled()
    assert numcnn.is_grad_enabled()


def test_grad_mode_restored_after_exception() -> None:
    with pytest.raises(ValueError):
        with numcnn.no_grad():
            raise ValueError
    assert numcnn.is_grad_enabled()


def test_grad_mode_decorators() -> None:
    x = numcnn.ones(2, requires_grad=True)

    @numcnn.no_grad()
    def off(t):
        return t * 2, numcnn.is_grad_enabled()

    @numcnn.enable_grad()
    def on(t):
        return t * 2

    @numcnn.set_grad_enabled(False)
    def off2(t):
        return t * 2

    assert numcnn.is_grad_enabled()                    # decorating changes nothing
    y, mode = off(x)
    assert not y.requires_grad and not mode and numcnn.is_grad_enabled()
    with numcnn.no_grad():
        assert on(x).requires_grad
        assert not numcnn.is_grad_enabled()
    assert not off2(x).requires_grad and numcnn.is_grad_enabled()
    assert off.__name__ == "off"


def test_diamond_graph() -> None:
    a = random_array((2, 3), seed=5)
    b = random_array((3,), seed=6)

    def f(x, w):
        h = x * w
        left, right = h.exp(), h * 3
        return (left * right + left.sqrt()).mean()

    xn, xt = pair(a)
    wn, wt = pair(b)
    f(xn, wn).backward()
    f(xt, wt).backward()
    assert_close(xn.grad, xt.grad)
    assert_close(wn.grad, wt.grad)


def test_deep_chain_is_iterative() -> None:
    limit = sys.getrecursionlimit()
    x = numcnn.tensor([1.0, 2.0], dtype=numcnn.float64, requires_grad=True)
    y = x
    for _ in range(10000):
        y = y * 1.0001 + 0.0
    try:
        sys.setrecursionlimit(200)                    # any recursion would overflow
        y.sum().backward()
    finally:
        sys.setrecursionlimit(limit)
    np.testing.assert_allclose(x.grad.array, [1.0001**10000] * 2, rtol=1e-9)


def test_only_needed_inputs_get_grads() -> None:
    x = numcnn.ones(2, requires_grad=True)
    c = numcnn.ones(2)
    (x * c).sum().backward()
    assert c.grad is None and x.grad is not None
    y = x * 2
    assert not y.is_leaf and y.grad_fn.name() == "MulBackward"


def test_integer_results_carry_no_grad() -> None:
    x = numcnn.tensor([1.5, 2.0], requires_grad=True)
    for y in (x.long(), x.int(), x.bool(), x > 1, x.argmax(), x.max(0).indices):
        assert not y.requires_grad and y.grad_fn is None
    assert x.double().requires_grad


def test_no_graph_when_nothing_requires_grad() -> None:
    y = numcnn.ones(2) * 2
    assert y.grad_fn is None and not y.requires_grad


def test_requires_grad_flags() -> None:
    x = numcnn.ones(2)
    assert x.requires_grad_() is x and x.requires_grad
    y = x * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)
    with pytest.raises(RuntimeError, match="floating point"):
        numcnn.tensor([1, 2]).requires_grad_()


def test_custom_function_wrong_gradient_shape_is_reported() -> None:
    class Bad(numcnn.autograd.Function):
        on_arrays = True      # numcnn's contract: forward/backward on ndarrays

        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, gy):
            return (np.ones((5, 5)),)

    class WrongCount(numcnn.autograd.Function):
        on_arrays = True      # numcnn's contract: forward/backward on ndarrays

        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, gy):
            return gy, gy

    x = numcnn.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="invalid gradient"):
        Bad.apply(x).sum().backward()
    with pytest.raises(RuntimeError, match="returned 2 gradients"):
        WrongCount.apply(x).sum().backward()


def test_broadcast_gradient_summed_by_engine() -> None:
    class Scale(numcnn.autograd.Function):
        on_arrays = True      # numcnn's contract: forward/backward on ndarrays

        @staticmethod
        def forward(ctx, a, s):
            ctx.save_for_backward(a, s)
            return a * s

        @staticmethod
        def backward(ctx, gy):
            a, s = ctx.saved
            return gy * s, gy * a                      # gs in the broadcast shape

    x = numcnn.tensor(random_array((3, 4), seed=7), requires_grad=True)
    s = numcnn.tensor(random_array((4,), seed=8), requires_grad=True)
    Scale.apply(x, s).sum().backward()
    assert_close(s.grad, x.array.sum(0))


def test_multi_output_function_extras_have_no_grad() -> None:
    class MaxWithIndex(numcnn.autograd.Function):
        on_arrays = True      # numcnn's contract: forward/backward on ndarrays

        @staticmethod
        def forward(ctx, a):
            i = np.argmax(a)
            ctx.i, ctx.shape = i, a.shape
            return a.max(), np.int64(i)

        @staticmethod
        def backward(ctx, gy):
            g = np.zeros(ctx.shape)
            g.reshape(-1)[ctx.i] = gy
            return (g,)

    x = numcnn.tensor([1.0, 5.0, 2.0], requires_grad=True)
    v, i = MaxWithIndex.apply(x)
    assert v.requires_grad and not i.requires_grad and i.item() == 1
    v.backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]
