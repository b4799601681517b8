"""numcnn.autograd.gradcheck: passes correct gradients, catches wrong ones (full Jacobian for
small outputs, a random projection for large ones), and insists on float64."""

from __future__ import annotations

import numpy as np
import pytest

import numcnn
from numcnn.autograd import Function, GradcheckError, gradcheck


def t64(shape, seed: int = 0, positive: bool = False) -> numcnn.Tensor:
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, shape) if positive else rng.standard_normal(shape)
    return numcnn.tensor(a, requires_grad=True)


class Cube(Function):
    """y = a^3;  da = 3 a^2 gy."""

    on_arrays = True      # numcnn's contract: forward/backward on ndarrays

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a**3

    @staticmethod
    def backward(ctx, gy):
        (a,) = ctx.saved
        return (3 * a**2 * gy,)


class Bilinear(Function):
    """y = a @ W b (a: (n, i), W: (i, j), b: (n, j)) -> (n,);  two-input, one-output."""

    on_arrays = True      # numcnn's contract: forward/backward on ndarrays

    @staticmethod
    def forward(ctx, a, w, b):
        ctx.save_for_backward(a, w, b)
        return np.einsum("ni,ij,nj->n", a, w, b)

    @staticmethod
    def backward(ctx, gy):
        a, w, b = ctx.saved
        ga = gy[:, None] * (b @ w.T)
        gw = np.einsum("n,ni,nj->ij", gy, a, b)
        gb = gy[:, None] * (a @ w)
        return ga, gw, gb


class CubeWrongOffDiagonal(Function):
    """y_i = a_i^3 + a_{i+1} (cyclic), but backward forgets the a_{i+1} term: only some
    Jacobian entries are wrong."""

    on_arrays = True      # numcnn's contract: forward/backward on ndarrays

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a**3 + np.roll(a, -1)

    @staticmethod
    def backward(ctx, gy):
        (a,) = ctx.saved
        return (3 * a**2 * gy,)


class Swapped(Function):
    """y = (a0 * a1, a0 + a1) with gradients of the two outputs swapped: the sums agree for
    an all-ones upstream gradient, so only a per-entry check exposes it."""

    on_arrays = True      # numcnn's contract: forward/backward on ndarrays

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.stack([a[0] * a[1], a[0] + a[1]])

    @staticmethod
    def backward(ctx, gy):
        (a,) = ctx.saved
        g = np.zeros_like(a)
        g[0] = gy[0] * 1 + gy[1] * a[1]     # should be gy[0] * a[1] + gy[1]
        g[1] = gy[0] * 1 + gy[1] * a[0]     # should be gy[0] * a[0] + gy[1]
        return (g,)


def test_builtin_ops_pass() -> None:
    x, w = t64((3, 4), 1), t64((4, 2), 2)
    assert gradcheck(lambda a, b: ((a @ b).exp() * 2 - a.sum(1, keepdim=True)).var(0), (x, w))
    p = t64((2, 3), 3, positive=True)
    assert gradcheck(lambda a: (a.log() + a.sqrt() / a) ** 1.5, (p,))
    assert gradcheck(lambda a: a.reshape(3, 2).permute(1, 0)[:, [0, 0, 2]].std(), (p,))


def test_custom_functions_pass() -> None:
    assert gradcheck(Cube.apply, (t64((2, 3), 4),))
    assert gradcheck(Bilinear.apply, (t64((3, 2), 5), t64((2, 4), 6), t64((3, 4), 7)))


def test_inputs_not_requiring_grad_are_left_alone() -> None:
    x = t64((3,), 8)
    c = numcnn.tensor(np.array([1.0, 2.0, 3.0]))
    assert gradcheck(lambda a, b, k: Cube.apply(a) * b * k, (x, c, 2.0))
    assert x.grad is None


def test_multiple_outputs() -> None:
    x = t64((2, 2), 9)
    assert gradcheck(lambda a: (a.exp(), a * 3, a.sum()), (x,))


def test_wrong_backward_raises() -> None:
    with pytest.raises(GradcheckError, match="Jacobian mismatch for input 0"):
        gradcheck(CubeWrongOffDiagonal.apply, (t64((5,), 10),))
    assert gradcheck(CubeWrongOffDiagonal.apply, (t64((5,), 10),), raise_exception=False) \
        is False


def test_full_jacobian_catches_errors_a_sum_hides() -> None:
    x = numcnn.tensor(np.array([2.0, 2.0]), requires_grad=True)  # a0 = a1: a sum would agree
    with pytest.raises(GradcheckError, match=r"d\(output element"):
        gradcheck(Swapped.apply, (x,))


def test_wrong_backward_caught_by_projection_for_large_outputs() -> None:
    x = t64((300,), 11)
    with pytest.raises(GradcheckError, match="random projection"):
        gradcheck(CubeWrongOffDiagonal.apply, (x,))
    assert gradcheck(Cube.apply, (t64((300,), 12),))


def test_float32_rejected() -> None:
    x = numcnn.randn(3, requires_grad=True)
    with pytest.raises(TypeError, match="float64"):
        gradcheck(Cube.apply, (x,))


def test_needs_an_input_requiring_grad() -> None:
    with pytest.raises(ValueError):
        gradcheck(lambda a: a * 2, (numcnn.tensor(np.ones(2)),))


def test_non_contiguous_input() -> None:
    x = numcnn.tensor(np.random.default_rng(13).standard_normal((4, 3)).T, requires_grad=True)
    x.array = np.asarray(x.array.T).T                      # a transposed (Fortran-order) view
    assert gradcheck(lambda a: Cube.apply(a).sum(0), (x,))
