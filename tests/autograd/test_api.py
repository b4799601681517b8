"""autograd.grad / backward(inputs=, create_graph=), custom Functions with PyTorch's contract,
grad-mode decorators, next_functions and Variable, each against torch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import numcnn
from numcnn import autograd


def _both(*arrays: np.ndarray, grad: bool = True) -> tuple[list[Any], list[Any]]:
    return ([numcnn.tensor(a, requires_grad=grad) for a in arrays],
            [torch.tensor(a, requires_grad=grad) for a in arrays])


def _close(a: Any, b: Any, rtol: float = 1e-10) -> None:
    np.testing.assert_allclose(np.asarray(a.detach().numpy()), b.detach().numpy(), rtol=rtol,
                               atol=1e-12)


RNG = np.random.default_rng(0)
XA, WA, VA = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 5)), RNG.standard_normal((3, 4))


# ------------------------------------------------------------------ autograd.grad
def test_grad_returns_without_touching_dot_grad() -> None:
    (x, w), (tx, tw) = _both(XA, WA)
    out = ((x @ w).tanh() * 2).sum()
    tout = ((tx @ tw).tanh() * 2).sum()
    gx, gw = autograd.grad(out, (x, w))
    tgx, tgw = torch.autograd.grad(tout, (tx, tw))
    _close(gx, tgx)
    _close(gw, tgw)
    assert x.grad is None and w.grad is None and not gx.requires_grad


def test_grad_with_respect_to_an_intermediate_tensor() -> None:
    (x,), (tx,) = _both(XA)
    h, th = x.exp() * 2, tx.exp() * 2
    out, tout = (h.sigmoid() * x).sum(), (th.sigmoid() * tx).sum()
    (gh,) = autograd.grad(out, h, retain_graph=True)
    (tgh,) = torch.autograd.grad(tout, th, retain_graph=True)
    _close(gh, tgh)
    gx, gh2 = autograd.grad(out, [x, h])          # both, in one walk
    tgx, tgh2 = torch.autograd.grad(tout, [tx, th])
    _close(gx, tgx)
    _close(gh2, tgh2)


def test_grad_outputs_several_outputs_and_unused_inputs() -> None:
    (x, w, u), (tx, tw, tu) = _both(XA, WA, VA)
    y1, y2 = x @ w, (x * x).sum(1)
    t1, t2 = tx @ tw, (tx * tx).sum(1)
    g1, g2 = RNG.standard_normal((3, 5)), RNG.standard_normal(3)
    with pytest.raises(RuntimeError, match="appears to not have been used"):
        autograd.grad([y1, y2], [x, u], [numcnn.tensor(g1), numcnn.tensor(g2)],
                      retain_graph=True)
    gx, gu = autograd.grad([y1, y2], [x, u], [numcnn.tensor(g1), numcnn.tensor(g2)],
                           allow_unused=True, retain_graph=True)
    tgx, tgu = torch.autograd.grad([t1, t2], [tx, tu], [torch.tensor(g1), torch.tensor(g2)],
                                   allow_unused=True)
    _close(gx, tgx)
    assert gu is None and tgu is None
    _, gz = autograd.grad([y1, y2], [x, u], [numcnn.tensor(g1), numcnn.tensor(g2)],
                          materialize_grads=True)
    assert gz.shape == (3, 4) and not np.any(gz.numpy())


def test_grad_errors_as_torch() -> None:
    x = numcnn.tensor(XA, requires_grad=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        autograd.grad((x * 2).sum(), numcnn.tensor(XA))
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        autograd.grad(x * 2, x)
    y = (x * x).sum()
    autograd.grad(y, x)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        autograd.grad(y, x)


def test_backward_inputs_accumulates_only_there() -> None:
    (x, w), (tx, tw) = _both(XA, WA)
    (x @ w).sum().backward(inputs=[w])
    (tx @ tw).sum().backward(inputs=[tw])
    assert x.grad is None and tx.grad is None
    _close(w.grad, tw.grad)
    h, th = x * 3, tx * 3
    h.retain_grad()
    th.retain_grad()
    (h * h).sum().backward(inputs=[h])
    (th * th).sum().backward(inputs=[th])
    _close(h.grad, th.grad)
    assert x.grad is None


# ------------------------------------------------------------------ create_graph
def test_double_backward_through_elementwise_and_matmul() -> None:
    def prog(lib: Any, x: Any, w: Any, v: Any) -> Any:
        h = (x @ w).tanh()
        y = (h.exp() * h.sigmoid()).sum() + (x * x * x).mean() + (x / (x * x + 1)).sum()
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        return (g * v).sum() + (g * g).sum()
    (x, w), (tx, tw) = _both(XA, WA)
    out = prog(numcnn, x, w, numcnn.tensor(VA))
    tout = prog(torch, tx, tw, torch.tensor(VA))
    _close(out, tout)
    out.backward()
    tout.backward()
    _close(x.grad, tx.grad, rtol=1e-9)
    _close(w.grad, tw.grad, rtol=1e-9)


def test_backward_create_graph_then_grad_of_grad() -> None:
    x = numcnn.tensor(XA, requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    np.testing.assert_allclose(g.detach().numpy(), 3 * XA ** 2, rtol=1e-12)
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * XA, rtol=1e-12)


def test_hessian_vector_product_matches_finite_differences() -> None:
    w = numcnn.tensor(WA, requires_grad=True)
    x = numcnn.tensor(XA)
    v = RNG.standard_normal(WA.shape)

    def loss(wt: Any) -> Any:
        return ((x @ wt).sigmoid() ** 2).sum() + (wt * wt * wt).sum() * 0.1

    (g,) = autograd.grad(loss(w), w, create_graph=True)
    (hv,) = autograd.grad((g * numcnn.tensor(v)).sum(), w)
    eps = 1e-6

    def grad_at(a: np.ndarray) -> np.ndarray:
        t = numcnn.tensor(a, requires_grad=True)
        return autograd.grad(loss(t), t)[0].numpy()
    fd = (grad_at(WA + eps * v) - grad_at(WA - eps * v)) / (2 * eps)
    np.testing.assert_allclose(hv.numpy(), fd, rtol=1e-6, atol=1e-8)


def test_an_op_without_a_differentiable_backward_says_so() -> None:
    class Square(autograd.Function):
        on_arrays = True                         # a backward on arrays only

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, gy):
            (x,) = ctx.saved
            return (2 * x * gy,)
    x = numcnn.tensor(XA, requires_grad=True)
    with pytest.raises(RuntimeError, match="cannot differentiate SquareBackward twice"):
        autograd.grad(Square.apply(x).sum(), x, create_graph=True)


# ------------------------------------------------------------------ custom Functions
def _my_relu(lib: Any) -> Any:
    class MyReLU(lib.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return input.clamp(min=0)

        @staticmethod
        def backward(ctx, grad_output):
            (input,) = ctx.saved_tensors
            grad_input = grad_output.clone()
            grad_input[input < 0] = 0
            return grad_input
    return MyReLU


def _scale_shift(lib: Any) -> Any:
    class ScaleShift(lib.autograd.Function):
        @staticmethod
        def forward(x, w, shift):                # the setup_context style
            return x * w + shift

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, w, _ = inputs
            ctx.save_for_backward(x, w)

        @staticmethod
        def backward(ctx, g):
            x, w = ctx.saved_tensors
            gx = g * w if ctx.needs_input_grad[0] else None
            gw = (g * x).sum(0) if ctx.needs_input_grad[1] else None
            return gx, gw, None
    return ScaleShift


def test_torch_style_custom_functions() -> None:
    (x, w), (tx, tw) = _both(XA, XA[0] + 0.5)
    out = _scale_shift(numcnn).apply(_my_relu(numcnn).apply(x * 2), w, 0.5)
    tout = _scale_shift(torch).apply(_my_relu(torch).apply(tx * 2), tw, 0.5)
    _close(out, tout)
    g = RNG.standard_normal((3, 4))
    out.backward(numcnn.tensor(g))
    tout.backward(torch.tensor(g))
    _close(x.grad, tx.grad)
    _close(w.grad, tw.grad)
    assert out.grad_fn.name() == "ScaleShiftBackward"


def test_custom_function_double_backward_and_version_check() -> None:
    class Cube(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x * x * g
    x = numcnn.tensor(XA, requires_grad=True)
    (g,) = autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * XA, rtol=1e-12)
    h = x * 1.0
    y = Cube.apply(h)
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_array_contract_still_available() -> None:
    class Square(autograd.Function):
        on_arrays = True

        @staticmethod
        def forward(ctx, x):
            assert isinstance(x, np.ndarray)
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, gy):
            (x,) = ctx.saved
            return (2 * x * gy,)
    z = numcnn.randn(3, dtype=numcnn.float64, requires_grad=True)
    assert autograd.gradcheck(Square.apply, (z,))


# ------------------------------------------------------------------ grad mode, graph objects
def test_no_grad_as_bare_decorator_and_on_generators() -> None:
    x = numcnn.ones(2, requires_grad=True)

    @numcnn.no_grad
    def f(t: Any) -> Any:
        return t * 2

    @numcnn.no_grad()
    def gen(t: Any) -> Any:
        for _ in range(2):
            yield t * 3
    assert not f(x).requires_grad
    assert [y.requires_grad for y in gen(x)] == [False, False]
    assert (x * 2).requires_grad                 # restored between and after steps
    with autograd.inference_mode():
        assert not (x * 2).requires_grad and autograd.is_inference_mode_enabled()
    with autograd.inference_mode(False):
        assert (x * 2).requires_grad

    @autograd.inference_mode()
    def g(t: Any) -> Any:
        return t * 2
    assert not g(x).requires_grad


def test_next_functions_and_variable() -> None:
    x, w = numcnn.ones(2, requires_grad=True), numcnn.ones(2, requires_grad=True)
    y = (x * w + 1).sum()
    tx, tw = torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    ty = (tx * tw + 1).sum()
    nf, tnf = y.grad_fn.next_functions, ty.grad_fn.next_functions
    assert len(nf) == len(tnf) == 1
    add = nf[0][0]
    mul = add.next_functions[0][0]
    leaves = mul.next_functions
    assert leaves[0][0].variable is x and leaves[1][0].variable is w
    assert [type(f).__name__ for f, _ in leaves] == ["AccumulateGrad"] * 2
    assert [type(f).__name__ for f, _ in
            ty.grad_fn.next_functions[0][0].next_functions[0][0].next_functions] == \
        ["AccumulateGrad"] * 2
    a = numcnn.ones(3)
    v = autograd.Variable(a, requires_grad=True)
    assert v.requires_grad and not a.requires_grad and v.is_leaf
    v.add_(1) if not v.requires_grad else None


def _sincos(lib: Any) -> Any:
    class SinCos(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin(), x.cos()

        @staticmethod
        def backward(ctx, g_sin, g_cos):
            (x,) = ctx.saved_tensors
            return g_sin * x.cos() - g_cos * x.sin()
    return SinCos


def _max_with_index(lib: Any) -> Any:
    class MaxWithIndex(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            values, idx = x.max(1)
            ctx.save_for_backward(idx)
            ctx.shape = x.shape
            ctx.mark_non_differentiable(idx)
            return values, idx

        @staticmethod
        def backward(ctx, g, g_idx):
            (idx,) = ctx.saved_tensors
            out = g.new_zeros(ctx.shape)
            out.scatter_(1, idx.unsqueeze(1), g.unsqueeze(1))
            return out
    return MaxWithIndex


def test_custom_functions_with_several_outputs() -> None:
    (x,), (tx,) = _both(XA)
    s, c = _sincos(numcnn).apply(x * 1.0)
    ts, tc = _sincos(torch).apply(tx * 1.0)
    assert s.grad_fn is not None and c.grad_fn is not None
    ((s * 2.0).sum() + (c * c).sum()).backward()
    ((ts * 2.0).sum() + (tc * tc).sum()).backward()
    _close(x.grad, tx.grad)
    x.grad, tx.grad = None, None
    _sincos(numcnn).apply(x)[1].sum().backward()          # one output unused: zeros for it
    _sincos(torch).apply(tx)[1].sum().backward()
    _close(x.grad, tx.grad)
    (g,) = autograd.grad(sum(o.sum() for o in _sincos(numcnn).apply(x * 1.0)), x,
                         create_graph=True)
    (tg,) = torch.autograd.grad(sum(o.sum() for o in _sincos(torch).apply(tx * 1.0)), tx,
                                create_graph=True)
    _close(g, tg)
    x.grad, tx.grad = None, None
    (g * g).sum().backward()
    (tg * tg).sum().backward()
    _close(x.grad, tx.grad)
    x.grad, tx.grad = None, None
    v, i = _max_with_index(numcnn).apply(x * 3.0)
    tv, ti = _max_with_index(torch).apply(tx * 3.0)
    assert not i.requires_grad and i.tolist() == ti.tolist()
    (v * v).sum().backward()
    (tv * tv).sum().backward()
    _close(x.grad, tx.grad)
