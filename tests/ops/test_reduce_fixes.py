"""Silent wrong numbers that issue 11 found, each against torch 2.13: norm for every p (inf,
-inf, 0, fractional, negative), tuples of dims, keepdim, empty inputs; the gradients of norm
at zero and of std/var at a constant input; clamp of an integer tensor with a float bound;
`t().contiguous()` being a copy."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
import torch
from tests.helpers import assert_close

import numcnn
from numcnn.autograd import gradcheck

INF = float("inf")
PS = [2, 1, 3, 0.5, -1, INF, -INF, 0, "fro", 2.5]


def _pair(a: np.ndarray, grad: bool = True) -> tuple[numcnn.Tensor, torch.Tensor]:
    return (numcnn.tensor(a.copy(), requires_grad=grad),
            torch.tensor(a.copy(), requires_grad=grad))


def _both(fn: Any, a: np.ndarray, seed: int = 1) -> None:
    """fn(x) in numcnn and torch: equal values and equal gradients for one random upstream."""
    n, t = _pair(a)
    yn, yt = fn(n), fn(t)
    assert_close(yn, yt, what="forward")
    g = np.random.default_rng(seed).standard_normal(tuple(yt.shape)).astype(a.dtype)
    yn.backward(numcnn.tensor(g))
    yt.backward(torch.tensor(g))
    if t.grad is None:                      # torch: no gradient reaches x (p = 0)
        assert n.grad is None or not np.any(n.grad.numpy())
    else:
        assert_close(n.grad, t.grad, what="grad")


def _naive_norm(a: np.ndarray, p: Any) -> float:
    """The definitions, one element at a time."""
    vals = [abs(float(v)) for v in a.ravel()]
    if p == INF:
        return max(vals)
    if p == -INF:
        return min(vals)
    if p == 0:
        return float(sum(1 for v in vals if v != 0))
    q = 2 if p == "fro" else p
    if q < 0 and 0.0 in vals:
        return 0.0                             # |0|^q = inf, so the sum is inf and inf^(1/q) 0
    return sum(v ** q for v in vals) ** (1.0 / q)


# ------------------------------------------------------------------------------- norm


@pytest.mark.parametrize("p", PS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_norm_every_p_as_torch(p: Any, dtype: Any) -> None:
    a = np.random.default_rng(0).standard_normal((3, 5)).astype(dtype)
    a[0, 1] = 0.0                              # a zero, which p = 0 and negative p must see
    _both(lambda x: x.norm(p=p), a)
    _both(lambda x: x.norm(p), a)
    np.testing.assert_allclose(numcnn.tensor(a).norm(p).item(), _naive_norm(a, p),
                               rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_norm_inf_is_not_one() -> None:
    """The bug: x.norm(p=float('inf')) returned 1.0."""
    x = numcnn.tensor([[-3.0, 1.0], [2.0, 0.5]])
    assert x.norm(p=INF).item() == 3.0 and x.norm(p=-INF).item() == 0.5
    assert x.norm(p=0).item() == 4.0


@pytest.mark.parametrize("p", [2, 1, 3, INF, -INF, 0, "fro"])
@pytest.mark.parametrize("dim, keepdim", [
    (0, False), (-1, True), ((0, 2), False), ((-1, 0), True), ((1,), False), ([0, 1, 2], True),
    (2, False),
])
def test_norm_dims_and_keepdim_as_torch(p: Any, dim: Any, keepdim: bool) -> None:
    a = np.random.default_rng(2).standard_normal((2, 3, 4))
    if p == "fro" and len(dim) == 3 if isinstance(dim, list) else False:
        # torch reads 'fro' over 3 dims as a matrix norm and refuses; numcnn: the 2-norm
        with pytest.raises(RuntimeError):
            torch.tensor(a).norm(p, dim)
        p = 2
    _both(lambda x: x.norm(p=p, dim=dim, keepdim=keepdim), a)
    _both(lambda x: x.norm(p, dim, keepdim), a)


def test_norm_naive_along_a_dim() -> None:
    a = np.random.default_rng(3).standard_normal((3, 4))
    for p in (1, 3, INF, -INF, 0):
        got = numcnn.tensor(a).norm(p=p, dim=1).numpy()
        np.testing.assert_allclose(got, [_naive_norm(row, p) for row in a], rtol=1e-12)


@pytest.mark.parametrize("p", [2, 1, 3, 0.5, INF, -INF, 0])
def test_norm_gradient_at_zero_is_zero_as_torch(p: Any) -> None:
    """The bug: the gradient of norm at an all-zero input was nan (torch: 0)."""
    a = np.zeros((2, 3))
    _both(lambda x: x.norm(p=p), a)
    _both(lambda x: x.norm(p=p, dim=1), a)
    n = numcnn.zeros(2, 3, dtype=numcnn.float64, requires_grad=True)
    n.norm(p=p).backward()
    assert n.grad is None or np.array_equal(n.grad.numpy(), np.zeros((2, 3)))


def test_norm_gradient_zero_only_in_the_zero_rows() -> None:
    a = np.array([[0.0, 0.0, 0.0], [3.0, -4.0, 0.0]])
    _both(lambda x: x.norm(dim=1), a)
    n = numcnn.tensor(a, requires_grad=True)
    n.norm(dim=1).sum().backward()
    np.testing.assert_allclose(n.grad.numpy(), [[0, 0, 0], [0.6, -0.8, 0]], rtol=1e-15)


@pytest.mark.parametrize("p", [INF, -INF])
def test_norm_inf_ties_as_torch(p: Any) -> None:
    a = np.array([[2.0, -2.0, 1.0], [0.5, -0.5, 0.5]])
    _both(lambda x: x.norm(p=p), a)
    _both(lambda x: x.norm(p=p, dim=1), a)


@pytest.mark.parametrize("p", [2, 1, 3, 0])
def test_norm_of_empty_as_torch(p: Any) -> None:
    a = np.zeros((0, 3))
    _both(lambda x: x.norm(p=p), a)
    _both(lambda x: x.norm(p=p, dim=0), a)
    _both(lambda x: x.norm(p=p, dim=1), a)


@pytest.mark.parametrize("p", [INF, -INF])
def test_norm_inf_of_empty_raises_as_torch(p: Any) -> None:
    """max/min over nothing has no value: torch refuses (numcnn returned 0)."""
    for lib in (torch, numcnn):
        x = lib.zeros(0, 3)
        with pytest.raises(RuntimeError, match="does not have an identity"):
            x.norm(p=p)
        with pytest.raises(RuntimeError, match="does not have an identity"):
            x.norm(p=p, dim=0)
        assert tuple(x.norm(p=p, dim=1).shape) == (0,)      # nothing reduced over is empty


@pytest.mark.parametrize("p", [2, 1, 3, 0.5, INF, -INF])
def test_norm_gradcheck(p: Any) -> None:
    a = np.random.default_rng(4).standard_normal((3, 4))
    a[np.abs(a) < 0.1] = 0.5                  # away from |x|'s kink
    if p in (INF, -INF):
        a = np.arange(12.0).reshape(3, 4) - 5.5   # distinct |values|: no ties
    x = numcnn.tensor(a, requires_grad=True)
    assert gradcheck(lambda x: x.norm(p=p), (x,))
    assert gradcheck(lambda x: x.norm(p=p, dim=(0,), keepdim=True), (x,))


def test_norm_of_integer_input_raises_as_torch() -> None:
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2]).norm()
    with pytest.raises(RuntimeError, match="floating point"):
        numcnn.tensor([1, 2]).norm()


# ------------------------------------------------------------------------------- std / var


@pytest.mark.parametrize("fn", ["std", "var"])
@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1), -1])
@pytest.mark.parametrize("correction", [0, 1])
def test_std_var_gradient_at_constant_input_as_torch(fn: str, dim: Any, correction: int) -> None:
    """The bug: the gradient of std at a constant input was nan (torch: 0)."""
    a = np.full((3, 4), 2.5)
    _both(lambda x: getattr(x, fn)(dim=dim, correction=correction), a)
    n = numcnn.tensor(a, requires_grad=True)
    getattr(n, fn)(dim=dim, correction=correction).sum().backward()
    assert np.array_equal(n.grad.numpy(), np.zeros((3, 4)))


def test_std_gradient_zero_only_in_the_constant_rows() -> None:
    a = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]])
    _both(lambda x: x.std(dim=1), a)
    n = numcnn.tensor(a, requires_grad=True)
    n.std(dim=1).sum().backward()
    assert np.array_equal(n.grad.numpy()[0], np.zeros(3)) and np.all(n.grad.numpy()[1] != 0)


@pytest.mark.parametrize("fn", ["std", "var"])
def test_std_var_of_one_element_is_nan_as_torch(fn: str) -> None:
    """n - correction = 0: the value and the gradient are nan, in torch as in numcnn."""
    with pytest.warns(UserWarning):
        t = torch.tensor([1.5], dtype=torch.float64, requires_grad=True)
        getattr(t, fn)().backward()
    n = numcnn.tensor([1.5], dtype=numcnn.float64, requires_grad=True)
    y = getattr(n, fn)()
    y.backward()
    assert np.isnan(y.item()) and np.isnan(n.grad.numpy()).all()
    assert np.isnan(t.grad.numpy()).all()


@pytest.mark.parametrize("fn", ["std", "var"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_std_var_values_and_gradients_as_torch(fn: str, dtype: Any) -> None:
    a = np.random.default_rng(5).standard_normal((3, 4, 5)).astype(dtype)
    for dim, keepdim, unbiased in itertools.product([None, 1, (0, 2), -1], [False, True],
                                                    [True, False]):
        _both(lambda x, d=dim, u=unbiased, k=keepdim: getattr(x, fn)(d, u, k), a)


@pytest.mark.parametrize("fn", ["std", "var"])
def test_std_var_gradcheck(fn: str) -> None:
    x = numcnn.tensor(np.random.default_rng(6).standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda x: getattr(x, fn)(), (x,))
    assert gradcheck(lambda x: getattr(x, fn)(dim=1, correction=0, keepdim=True), (x,))


def test_std_naive() -> None:
    a = np.random.default_rng(7).standard_normal((4, 6))
    want = []
    for row in a:
        m = sum(row) / len(row)
        want.append((sum((v - m) ** 2 for v in row) / (len(row) - 1)) ** 0.5)
    np.testing.assert_allclose(numcnn.tensor(a).std(dim=1).numpy(), want, rtol=1e-12)


# ------------------------------------------------------------------------------- clamp


@pytest.mark.parametrize("lo, hi", [(1.5, None), (None, 2.5), (0.5, 2.5), (1, 2), (1, None),
                                    (None, -1.0), (3.5, 1.5), (0, 1)])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_clamp_of_an_integer_tensor_as_torch(lo: Any, hi: Any, dtype: Any) -> None:
    """The bug: an int tensor clamped with a float bound stayed int (torch: float32)."""
    a = np.array([0, 1, 2, 3], dtype=dtype) if dtype != np.bool_ else np.array([True, False])
    n, t = numcnn.tensor(a).clamp(lo, hi), torch.tensor(a).clamp(lo, hi)
    assert str(n.dtype) == str(t.dtype).replace("torch", "numcnn")
    assert_close(n, t)
    n2, t2 = numcnn.tensor(a).clamp(min=lo, max=hi), torch.clamp(torch.tensor(a), min=lo, max=hi)
    assert str(n2.dtype) == str(t2.dtype).replace("torch", "numcnn")
    assert_close(n2, t2)


def test_clamp_uint8_by_a_negative_int_raises() -> None:
    """torch wraps -1 to 255 and clamps every uint8 to 255; numcnn refuses (docs/compat.md)."""
    a = np.array([0, 1, 2], dtype=np.uint8)
    assert torch.tensor(a).clamp(-1).tolist() == [255, 255, 255]
    with pytest.raises(OverflowError):
        numcnn.tensor(a).clamp(-1)


def test_clamp_int_by_float_gives_default_dtype() -> None:
    x = numcnn.tensor([1, 2, 3])
    y = x.clamp(min=1.5)
    assert y.dtype is numcnn.float32 and y.tolist() == [1.5, 2.0, 3.0]
    try:
        numcnn.set_default_dtype(numcnn.float64)
        assert x.clamp(max=2.5).dtype is numcnn.float64
    finally:
        numcnn.set_default_dtype(numcnn.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clamp_float_values_and_gradients_as_torch(dtype: Any) -> None:
    a = np.array([[-2.0, -1.0, 0.0], [0.5, 1.0, 3.0]], dtype=dtype)   # bounds hit exactly
    for lo, hi in [(-1.0, 1.0), (None, 0.5), (0.0, None), (1.0, -1.0), (2, None)]:
        _both(lambda x, lo=lo, hi=hi: x.clamp(lo, hi), a)
        _both(lambda x, lo=lo, hi=hi: x.clamp(min=lo, max=hi), a)


def test_clamp_needs_a_bound_as_torch() -> None:
    with pytest.raises(RuntimeError):
        torch.zeros(2).clamp()
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max'"):
        numcnn.zeros(2).clamp()


# ------------------------------------------------------------------------------- contiguous


def test_t_contiguous_is_a_copy_as_torch() -> None:
    """The bug: x.t().contiguous() returned an alias, so writing to it changed x."""
    for lib in (torch, numcnn):
        x = lib.arange(6.0).reshape(2, 3)
        y = x.t()
        assert not y.is_contiguous()
        z = y.contiguous()
        assert tuple(z.shape) == (3, 2) and z.tolist() == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
        z[0, 0] = 100.0
        assert x[0, 0].item() == 0.0 and y[0, 0].item() == 0.0, lib.__name__
    c = numcnn.arange(6.0).reshape(2, 3)
    assert c.contiguous() is c                 # already contiguous: itself, as torch


def test_t_contiguous_is_row_major_so_view_works_as_torch() -> None:
    for lib in (torch, numcnn):
        z = lib.arange(6.0).reshape(2, 3).t().contiguous()
        assert z.is_contiguous() and tuple(z.stride()) == (2, 1), lib.__name__
        assert z.view(6).tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
