"""numcnn.functions.reduce against torch 2.13: sum/mean/prod/cumsum/cumprod/logsumexp,
var/std (and _mean), max/min/amax/amin/argmax/argmin, norm, all/any/count_nonzero; values,
dtypes, gradients (zeros in prod/cumprod, ties, std at a constant, norm at 0), gradcheck,
NumPy's axis/keepdims names, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.helpers import assert_close, compare, random_array

import numcnn
from numcnn.autograd import gradcheck


def lib(F):
    return torch if F is torch.nn.functional else numcnn


DTYPES = [np.float32, np.float64]
DIMS = [None, 0, -1, (0, 2), 1]


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "amax", "amin", "logsumexp"])
def test_multi_dim_reductions(name, dtype, keepdim, dim) -> None:
    a = random_array((3, 4, 5), dtype, seed=1)
    if name in ("logsumexp",) and dim is None:
        dim = (0, 1, 2)
    if dim is None:
        compare(lambda F, x: getattr(lib(F), name)(x), [a])
        compare(lambda F, x: getattr(x, name)(), [a])
    else:
        compare(lambda F, x: getattr(lib(F), name)(x, dim, keepdim=keepdim), [a])
        compare(lambda F, x: getattr(x, name)(dim, keepdim=keepdim), [a])


@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("dtype", DTYPES)
def test_prod_with_and_without_zeros(dtype, dim) -> None:
    base = random_array((4, 5), dtype, seed=2, low=0.5, high=1.5)
    one_zero = base.copy()
    one_zero[1, 2] = 0
    two_zeros = base.copy()
    two_zeros[1, 2] = two_zeros[1, 4] = two_zeros[3, 2] = 0
    for a in (base, one_zero, two_zeros):
        if dim is None:
            compare(lambda F, x: lib(F).prod(x), [a])
        else:
            compare(lambda F, x: lib(F).prod(x, dim), [a])
            compare(lambda F, x: x.prod(dim, keepdim=True), [a])


def test_prod_gradcheck_and_dtypes() -> None:
    a = random_array((3, 4), seed=3)
    a[0, 1] = 0.0
    x = numcnn.tensor(a, requires_grad=True)
    assert gradcheck(lambda t: numcnn.prod(t, 1), (x,))
    assert gradcheck(lambda t: numcnn.prod(t), (x,))
    for d in (np.int32, np.bool_, np.uint8):
        v = np.array([[1, 2], [3, 0]]).astype(d)
        assert_close(numcnn.prod(numcnn.tensor(v), 0), torch.prod(torch.from_numpy(v), 0))
        assert_close(numcnn.sum(numcnn.tensor(v)), torch.sum(torch.from_numpy(v)))
    assert_close(numcnn.prod(numcnn.tensor([1, 2]), dtype=numcnn.float64),
                 torch.prod(torch.tensor([1, 2]), dtype=torch.float64))


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cumsum_cumprod(dtype, dim) -> None:
    a = random_array((4, 5), dtype, seed=4, low=0.5, high=1.5)
    compare(lambda F, x: lib(F).cumsum(x, dim), [a])
    compare(lambda F, x: x.cumsum(dim), [a])
    compare(lambda F, x: lib(F).cumprod(x, dim), [a])
    z = a.copy()
    z[1, 1] = 0
    z[2, 3] = 0
    z[3, 1] = 0
    compare(lambda F, x: lib(F).cumprod(x, dim), [z])         # zeros: the exact path


def test_cumulative_details() -> None:
    for v in (np.array([1, 2, 3]), np.array([True, False, True]), np.array(2.5)):
        assert_close(numcnn.cumsum(numcnn.tensor(v), 0), torch.cumsum(torch.tensor(v), 0))
    assert_close(numcnn.cumsum(numcnn.tensor([1, 2]), 0, dtype=numcnn.float32),
                 torch.cumsum(torch.tensor([1, 2]), 0, dtype=torch.float32))
    e = np.zeros((0, 3))
    assert_close(numcnn.cumsum(numcnn.tensor(e), 0), torch.cumsum(torch.tensor(e), 0))
    x = numcnn.tensor(np.array([[1.0, 0.0, 2.0, 0.0], [0.5, 3.0, -1.0, 2.0]]), requires_grad=True)
    assert gradcheck(lambda t: numcnn.cumprod(t, 1), (x,))
    assert gradcheck(lambda t: numcnn.cumsum(t, 0), (x,))
    with pytest.raises(IndexError):
        numcnn.cumsum(numcnn.ones(2, 3), 2)


def test_logsumexp_extremes() -> None:
    a = np.array([[1000.0, 1000.0, -np.inf], [-np.inf, -np.inf, -np.inf], [0.0, 1.0, 2.0]])
    compare(lambda F, x: lib(F).logsumexp(x, 1), [a], grad=False)
    b = np.array([[1000.0, 999.0], [0.0, 1.0]])
    compare(lambda F, x: lib(F).logsumexp(x, 1, keepdim=True), [b])
    assert_close(numcnn.logsumexp(numcnn.tensor([[1, 2]]), 1),
                 torch.logsumexp(torch.tensor([[1, 2]]), 1))           # int -> float32
    x = numcnn.tensor(random_array((3, 4), seed=5), requires_grad=True)
    assert gradcheck(lambda t: numcnn.logsumexp(t, (0, 1)), (x,))


@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_all_any_count_nonzero(dim, keepdim) -> None:
    a = np.array([[0.0, 1.0, 2.0], [0.0, 0.0, 3.0]])
    for name in ("all", "any"):
        for v in (a, a > 0, a.astype(np.uint8)):
            if dim is None:
                compare(lambda F, x, f=name: getattr(lib(F), f)(x), [v], grad=False)
            elif not isinstance(dim, tuple):
                compare(lambda F, x, f=name: getattr(x, f)(dim, keepdim), [v], grad=False)
                compare(lambda F, x, f=name: getattr(lib(F), f)(x, dim=dim, keepdim=keepdim),
                        [v], grad=False)
    compare(lambda F, x: lib(F).count_nonzero(x, dim), [a], grad=False)
    e = np.zeros((0, 2))
    compare(lambda F, x: lib(F).all(x, 0), [e], grad=False)
    compare(lambda F, x: lib(F).any(x), [e], grad=False)


@pytest.mark.parametrize("dtype", DTYPES)
def test_var_std_forms(dtype) -> None:
    a = random_array((4, 6), dtype, seed=6)
    compare(lambda F, x: lib(F).var(x, 1, unbiased=False), [a])
    compare(lambda F, x: lib(F).std(x, 0, correction=0), [a])
    compare(lambda F, x: lib(F).std(x, (0, 1), correction=2, keepdim=True), [a])
    compare(lambda F, x: lib(F).var(x, False), [a])                    # the var(input, unbiased)
    compare(lambda F, x: lib(F).var_mean(x, 1), [a])
    compare(lambda F, x: lib(F).std_mean(x, 0, keepdim=True), [a])
    compare(lambda F, x: x.std(1, keepdim=True), [a])


def test_std_gradient_at_constant_is_zero_as_torch() -> None:
    a = np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])
    compare(lambda F, x: lib(F).std(x, 1), [a])
    x = numcnn.tensor(a, requires_grad=True)
    numcnn.std(x, 1).sum().backward()
    assert np.all(np.isfinite(x.grad.array)) and np.all(x.grad.array[0] == 0)
    y = numcnn.tensor(a[1:], requires_grad=True)
    assert gradcheck(lambda t: numcnn.std(t, 1), (y,))


def test_var_errors() -> None:
    with pytest.raises(RuntimeError):
        numcnn.var(numcnn.tensor([1, 2]))
    with pytest.raises(TypeError):
        torch.var(torch.ones(3), 0, unbiased=True, correction=1)
    with pytest.raises(TypeError):
        numcnn.var(numcnn.ones(3), 0, unbiased=True, correction=1)


@pytest.mark.parametrize("largest", [True, False])
def test_max_min_forms_and_ties(largest) -> None:
    name = "max" if largest else "min"
    a = np.array([[1.0, 3.0, 3.0], [2.0, -1.0, 2.0], [5.0, 5.0, 5.0]])
    compare(lambda F, x: getattr(lib(F), name)(x), [a])                  # ties share evenly
    for dim in (0, 1, -1):
        n_out, t_out = compare(lambda F, x, d=dim: getattr(lib(F), name)(x, d), [a])
        assert type(n_out).__name__ == type(t_out).__name__.split(".")[-1]   # max / min
        assert_close(n_out.indices, t_out.indices)
        compare(lambda F, x, d=dim: getattr(x, name)(d, keepdim=True), [a])
        compare(lambda F, x, d=dim: getattr(lib(F), name)(x, axis=d), [a])       # NumPy's names
    b = random_array((3, 3), seed=7)
    compare(lambda F, x, y: getattr(lib(F), name)(x, y), [a, b])           # elementwise form


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin(name) -> None:
    a = np.array([[1.0, 3.0, 3.0], [2.0, -1.0, 2.0]])                   # ties: the first
    for dim in (None, 0, 1, -1):
        for keepdim in (False, True):
            compare(lambda F, x, d=dim, k=keepdim: getattr(lib(F), name)(x, d, k), [a],
                    grad=False)
    compare(lambda F, x: getattr(x, name)(axis=1), [a], grad=False)
    compare(lambda F, x: getattr(lib(F), name)(x, axis=0, keepdims=True), [a], grad=False)
    compare(lambda F, x: getattr(lib(F), name)(x), [np.array(3.0)], grad=False)
    with pytest.raises(IndexError):
        torch.argmax(torch.ones(0, 2), 0)
    with pytest.raises(IndexError):
        getattr(numcnn, name)(numcnn.ones(0, 2), 0)


def test_empty_reductions() -> None:
    e = np.zeros((0, 3))
    for name in ("sum", "prod", "mean"):
        compare(lambda F, x, f=name: getattr(lib(F), f)(x, 0), [e])
    with pytest.raises(RuntimeError):
        numcnn.max(numcnn.ones(0))
    with pytest.raises(IndexError):
        numcnn.max(numcnn.ones(0, 2), 0)
    with pytest.raises(IndexError):
        numcnn.amax(numcnn.ones(0, 2), 0)
    compare(lambda F, x: lib(F).amax(x, 1), [e])


P_VALUES = [2, 1, 3, 0.5, 0, float("inf"), float("-inf"), "fro"]


@pytest.mark.parametrize("p", P_VALUES)
@pytest.mark.parametrize("dim", [None, 1, (0, 1)])
def test_norm(p, dim) -> None:
    a = np.array([[3.0, -4.0, 0.0], [1.0, 2.0, -2.0]])
    if p == "fro" and dim == 1:
        dim = (1,)
    compare(lambda F, x: lib(F).norm(x, p, dim), [a])
    compare(lambda F, x: x.norm(p, dim, keepdim=True), [a])


def test_norm_issue_cases() -> None:
    assert numcnn.tensor([3.0, -4.0]).norm(p=float("inf")).item() == 4.0
    z = np.zeros((2, 3))
    compare(lambda F, x: lib(F).norm(x), [z])                           # gradient 0, not nan
    compare(lambda F, x: lib(F).norm(x, 2, 1), [z])
    compare(lambda F, x: lib(F).norm(x, 3, 1), [z])
    x = numcnn.tensor(random_array((3, 4), seed=8), requires_grad=True)
    for p in (2, 1, 3, 0.5):
        assert gradcheck(lambda t, q=p: numcnn.norm(t, q, 1), (x,))
    with pytest.raises(RuntimeError):
        numcnn.norm(numcnn.tensor([1, 2]))
    with pytest.raises(NotImplementedError):
        numcnn.norm(numcnn.ones(2, 2), "nuc")


def test_mean_of_integer_raises_and_dtype_argument() -> None:
    with pytest.raises(RuntimeError):
        torch.mean(torch.tensor([1, 2]))
    with pytest.raises(RuntimeError):
        numcnn.mean(numcnn.tensor([1, 2]))
    assert_close(numcnn.mean(numcnn.tensor([1, 2]), dtype=numcnn.float64),
                 torch.mean(torch.tensor([1, 2]), dtype=torch.float64))
    assert_close(numcnn.sum(numcnn.ones(2, 3), axis=1, keepdims=True),
                 torch.sum(torch.ones(2, 3), axis=1, keepdims=True))


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "var", "std", "logsumexp"])
def test_reduction_gradcheck(name) -> None:
    x = numcnn.tensor(random_array((3, 4, 2), seed=9), requires_grad=True)
    assert gradcheck(lambda t: getattr(numcnn, name)(t, (0, 2)), (x,))
