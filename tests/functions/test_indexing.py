"""Indexing, scatter and rearranging functions (numcnn.functions.indexing): values, dtypes and
gradients against PyTorch, finite differences in float64, naive loops, and torch's error types."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from tests.helpers import assert_close, compare, random_array

import numcnn
from numcnn import functions as NF
from numcnn.autograd.gradcheck import gradcheck

DTYPES = [np.float32, np.float64]


def lib(x):
    """The library whose tensors these are: numcnn's functions or torch."""
    return NF if isinstance(x, numcnn.Tensor) else torch


def ints(a) -> np.ndarray:
    return np.asarray(a, dtype=np.int64)


def same_error(fn, *arrays):
    """torch raises; numcnn raises an exception of the same type (IndexError vs RuntimeError
    matters: that is what users catch)."""
    t_in = [torch.tensor(a) if isinstance(a, np.ndarray) else a for a in arrays]
    n_in = [numcnn.tensor(a) if isinstance(a, np.ndarray) else a for a in arrays]
    with pytest.raises(Exception) as t_err:
        fn(torch, *t_in)
    with pytest.raises(type(t_err.value)):
        fn(NF, *n_in)


def check_grad(fn, *arrays):
    """gradcheck in float64 on the floating arrays (integer arrays pass as tensors)."""
    ts = [numcnn.tensor(a, requires_grad=a.dtype.kind == "f") if isinstance(a, np.ndarray)
          else a for a in arrays]
    assert gradcheck(fn, ts)


# ----------------------------------------------------------------------------- gather
GATHER_CASES = [
    ((3, 4), 1, ints([[0, 3], [2, 2], [1, 0]])),            # index narrower than input
    ((3, 4), 0, ints([[0, 1, 2, 0], [2, 2, 2, 2]])),
    ((3, 4), -1, ints([[3], [0], [1]])),
    ((2, 3, 5), 1, ints(np.random.default_rng(0).integers(0, 3, (2, 4, 3)))),
    ((2, 3, 5), -3, ints(np.random.default_rng(1).integers(0, 2, (1, 2, 5)))),
    ((4,), 0, ints([3, 3, 0, 1, 2, 3])),
    ((3, 4), 1, np.zeros((0, 2), np.int64)),               # empty index
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim,index", GATHER_CASES)
def test_gather_matches_torch(shape, dim, index, dtype):
    x = random_array(shape, dtype, seed=2)
    compare(lambda F, x, i: lib(x).gather(x, dim, i), [x, index])


def test_gather_naive_loop_and_gradcheck():
    x = random_array((2, 3, 4), seed=3)
    index = ints(np.random.default_rng(4).integers(0, 3, (2, 5, 4)))
    y = NF.gather(numcnn.tensor(x), 1, numcnn.tensor(index))
    ref = np.empty(index.shape)
    for i, j, k in np.ndindex(*index.shape):
        ref[i, j, k] = x[i, index[i, j, k], k]
    assert_close(y, ref)
    check_grad(lambda x, i: NF.gather(x, 1, i), x, index)


def test_gather_int32_index_int_input_and_0d():
    x = np.arange(12).reshape(3, 4)
    index = np.array([[1, 0], [3, 3], [2, 1]], np.int32)
    compare(lambda F, x, i: lib(x).gather(x, 1, i), [x, index])
    compare(lambda F, x, i: lib(x).gather(x, 0, i), [np.array(5.0), ints([0, 0])])
    compare(lambda F, x, i: lib(x).gather(x, 0, i), [np.array(5.0), ints(0)])


@pytest.mark.parametrize("fn,index", [
    (lambda F, x, i: F.gather(x, 1, i), ints([[0, 3]])),            # out of range
    (lambda F, x, i: F.gather(x, 1, i), ints([[0, -1]])),           # negative
    (lambda F, x, i: F.gather(x, 1, i), ints([0, 1])),              # rank differs
    (lambda F, x, i: F.gather(x, 1, i), ints([[0], [0], [0]])),     # larger than input
    (lambda F, x, i: F.gather(x, 1, i), np.array([[0.0]])),         # float index
    (lambda F, x, i: F.gather(x, 2, i), ints([[0]])),               # dim out of range
])
def test_gather_errors_like_torch(fn, index):
    same_error(fn, random_array((2, 3)), index)


# ----------------------------------------------------------------------------- scatter
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim,index,src_shape", [
    (1, ints([[0, 3], [2, 1]]), (2, 2)),
    (0, ints([[2, 0, 1, 0], [1, 2, 0, 2]]), (3, 5)),   # src larger than index: leading block
    (-1, ints([[1], [0], [3]]), (3, 1)),
])
def test_scatter_src_matches_torch(dim, index, src_shape, dtype):
    # unique targets: torch leaves the winner of repeated places unspecified
    x, src = random_array((3, 4), dtype, seed=5), random_array(src_shape, dtype, seed=6)
    # torch's backward fails when src is larger than index (it returns an index-shaped
    # gradient for src): compare gradients only where torch can; gradcheck covers the rest
    compare(lambda F, x, i, s: lib(x).scatter(x, dim, i, s), [x, index, src],
            grad=src.shape == index.shape)
    check_grad(lambda x, i, s: NF.scatter(x, dim, i, s), x.astype(np.float64), index,
               src.astype(np.float64))


def test_scatter_value_form_and_repeated_places():
    x = random_array((3, 4), seed=7)
    index = ints([[0, 0], [3, 1], [2, 2]])
    compare(lambda F, x, i: lib(x).scatter(x, 1, i, 2.5), [x, index])
    compare(lambda F, x, i: lib(x).scatter(x, 1, i, value=-1.0), [x, index])
    # repeated place: last write wins, as torch's CPU kernel
    y = NF.scatter(numcnn.ones(3), 0, numcnn.tensor(ints([0, 0])), numcnn.tensor([1.0, 2.0]))
    assert y.tolist() == torch.ones(3).scatter(0, torch.tensor([0, 0]),
                                               torch.tensor([1.0, 2.0])).tolist() == [2, 1, 1]
    # an integer tensor with a float value truncates, as torch
    xi = np.arange(6).reshape(2, 3)
    compare(lambda F, x, i: lib(x).scatter(x, 1, i, 5.5), [xi, ints([[0, 1]])])


@pytest.mark.parametrize("reduce", ["add", "multiply"])
def test_scatter_deprecated_reduce(reduce):
    x = random_array((2, 3), seed=8)
    index = ints([[0, 0, 2], [1, 1, 1]])
    src = random_array((2, 3), seed=9)
    with warnings.catch_warnings():             # torch: "reduce ... is deprecated"
        warnings.simplefilter("ignore")
        t = torch.tensor(x).scatter(1, torch.tensor(index), torch.tensor(src), reduce=reduce)
        t3 = torch.tensor(x).scatter(1, torch.tensor(index), 3.0, reduce=reduce)
    n = NF.scatter(numcnn.tensor(x), 1, numcnn.tensor(index), numcnn.tensor(src), reduce=reduce)
    assert_close(n, t)
    t = t3
    assert_close(NF.scatter(numcnn.tensor(x), 1, numcnn.tensor(index), 3.0, reduce=reduce), t)


def test_scatter_errors_like_torch():
    x, index = random_array((2, 3)), ints([[0, 1]])
    same_error(lambda F, x, i: F.scatter(x, 1, i, 5.0), x, ints([[0, 3]]))
    same_error(lambda F, x, i, s: F.scatter(x, 1, i, s), x, ints([[0, 1, 2]]),
               random_array((1, 2)))
    same_error(lambda F, x, i, s: F.scatter(x, 1, i, s), x, index, ints([[7, 8]]))  # dtypes
    same_error(lambda F, x, i: F.scatter(x, 1, i, 2.0, reduce="mean"), x, index)


# ----------------------------------------------------------------------------- scatter_add
@pytest.mark.parametrize("dtype", DTYPES)
def test_scatter_add_repeats_add_up(dtype):
    x = random_array((3, 5), dtype, seed=10)
    index = ints(np.random.default_rng(11).integers(0, 5, (3, 7)))[:2]   # many repeats
    src = random_array((2, 8), dtype, seed=12)      # larger than index: its leading block
    compare(lambda F, x, i, s: lib(x).scatter_add(x, 1, i, s), [x, index, src[:, :7]])
    compare(lambda F, x, i, s: lib(x).scatter_add(x, 1, i, s), [x, index, src], grad=False)
    ref = x.astype(np.float64).copy()
    for r, c in np.ndindex(*index.shape):
        ref[r, index[r, c]] += src[r, c]
    assert_close(NF.scatter_add(numcnn.tensor(x), 1, numcnn.tensor(index), numcnn.tensor(src)),
                 ref.astype(dtype))
    check_grad(lambda x, i, s: NF.scatter_add(x, 1, i, s), x.astype(np.float64), index,
               src.astype(np.float64))


def test_scatter_add_integers_exact():
    x = np.full((2, 3), 2**53, np.int64)              # float64 accumulation would round
    index, src = ints([[0, 0, 1], [2, 2, 2]]), ints([[1, 1, 3], [1, 2, 3]])
    compare(lambda F, x, i, s: lib(x).scatter_add(x, 1, i, s), [x, index, src])


# ----------------------------------------------------------------------------- scatter_reduce
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce_matches_torch(reduce, include_self):
    rng = np.random.default_rng(13)
    x = rng.integers(-3, 4, (3, 5)).astype(np.float64)      # small integers: ties and zeros
    if not include_self:
        x += 0.5        # see test_scatter_reduce_amax_ties_without_self: torch counts self
    src = rng.integers(-3, 4, (3, 6)).astype(np.float64)
    src[0, :3] = 0.0                                         # several zeros at one place
    index = ints(rng.integers(0, 4, (3, 6)))                 # column 4 is never written
    index[0, :3] = 1
    compare(lambda F, x, i, s: lib(x).scatter_reduce(x, 1, i, s, reduce,
                                                     include_self=include_self),
            [x, index, src])
    xs = random_array((3, 5), seed=14)
    check_grad(lambda x, i, s: NF.scatter_reduce(x, 1, i, s, reduce, include_self=include_self),
               xs, index, random_array((3, 6), seed=15))


def test_scatter_reduce_amax_ties_without_self():
    """A deliberate difference: with include_self=False, torch still counts self among the
    tied maxima when it equals the result (and then gives it nothing), so part of the
    gradient is lost; numcnn shares gy among the src entries that tie, so it adds up."""
    x = numcnn.tensor([2.0, 0.0], requires_grad=True)
    src = numcnn.tensor([2.0, 2.0, 1.0], requires_grad=True)
    y = NF.scatter_reduce(x, 0, numcnn.tensor(ints([0, 0, 0])), src, "amax", include_self=False)
    y.backward(numcnn.tensor([1.0, 1.0]))
    assert y.tolist() == [2.0, 0.0]
    assert x.grad.tolist() == [0.0, 1.0] and src.grad.tolist() == [0.5, 0.5, 0.0]


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce_integers(reduce, include_self):
    x, src = ints([[-3, 0, 5], [7, 1, -2]]), ints([[4, -7, 2], [3, 3, 9]])
    index = ints([[0, 0, 1], [2, 2, 0]])
    compare(lambda F, x, i, s: lib(x).scatter_reduce(x, 1, i, s, reduce,
                                                         include_self=include_self),
                [x, index, src])


def test_scatter_reduce_errors():
    same_error(lambda F, x, i, s: F.scatter_reduce(x, 0, i, s, "max2"), random_array((3,)),
               ints([0]), random_array((1,)))


# ----------------------------------------------------------------------------- index_*
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim,index", [
    ((3, 4), 1, ints([2, 0, 2, 3, 3])),
    ((3, 4), -2, ints([1])),
    ((2, 3, 4), 2, ints([3, 0])),
    ((5,), 0, ints([4, 4, 4])),
    ((3, 4), 0, np.zeros(0, np.int64)),
    ((3, 4), 1, ints(2)),                                 # 0-d index
])
def test_index_select_matches_torch(shape, dim, index, dtype):
    compare(lambda F, x, i: lib(x).index_select(x, dim, i),
            [random_array(shape, dtype, seed=16), index])


def test_index_select_gradcheck_and_errors():
    check_grad(lambda x, i: NF.index_select(x, 1, i), random_array((2, 3)), ints([0, 2, 0]))
    x = random_array((2, 3))
    same_error(lambda F, x, i: F.index_select(x, 1, i), x, ints([[0, 1]]))   # IndexError
    same_error(lambda F, x, i: F.index_select(x, 1, i), x, ints([3]))
    same_error(lambda F, x, i: F.index_select(x, 1, i), x, ints([-1]))
    same_error(lambda F, x, i: F.index_select(x, 1, i), x, np.array([1.0]))
    same_error(lambda F, x, i: F.index_select(x, 0, i), np.array(5.0), ints([0, 0]))
    compare(lambda F, x, i: lib(x).index_select(x, 0, i), [np.array(5.0), ints([0])])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", [1, 2.5])
def test_index_add_matches_torch(dtype, alpha):
    x, src = random_array((3, 4), dtype, seed=17), random_array((3, 5), dtype, seed=18)
    index = ints([0, 3, 0, 0, 2])
    compare(lambda F, x, i, s: lib(x).index_add(x, 1, i, s, alpha=alpha), [x, index, src])
    check_grad(lambda x, i, s: NF.index_add(x, 1, i, s, alpha=alpha), x.astype(np.float64),
               index, src.astype(np.float64))


def test_index_copy_matches_torch():
    x, src = random_array((4, 3), seed=19), random_array((2, 3), seed=20)
    compare(lambda F, x, i, s: lib(x).index_copy(x, 0, i, s), [x, ints([3, 1]), src])
    check_grad(lambda x, i, s: NF.index_copy(x, 0, i, s), x, ints([3, 1]), src)


def test_index_add_copy_errors():
    x = random_array((2, 3))
    same_error(lambda F, x, i, s: F.index_add(x, 1, i, s), x, ints([0, 0]), random_array((2, 3)))
    same_error(lambda F, x, i, s: F.index_add(x, 1, i, s), x, ints([0, 3]), random_array((2, 2)))
    same_error(lambda F, x, i, s: F.index_add(x, 1, i, s), x, ints([0, 1]),
               random_array((2, 2), np.float32))
    same_error(lambda F, x, i, s: F.index_copy(x, 1, i, s), x, ints([0]), random_array((3, 1)))


# ----------------------------------------------------------------------------- masks
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask_shape", [(2, 3), (3,), (2, 1), (1, 2, 3)])
def test_masked_fill_matches_torch(dtype, mask_shape):
    x = random_array((2, 3), dtype, seed=21)
    mask = random_array(mask_shape, seed=22) > 0
    compare(lambda F, x, m: lib(x).masked_fill(x, m, -7.5), [x, mask])
    # a 0-d value tensor gets the gradient of the places it filled
    compare(lambda F, x, m, v: lib(x).masked_fill(x, m, v), [x, mask, np.array(3.0, dtype)])


def test_masked_fill_dtypes_and_errors():
    xi = np.arange(3)
    m = np.array([True, False, True])
    compare(lambda F, x, m: lib(x).masked_fill(x, m, 9.7), [xi, m])       # stays int64
    compare(lambda F, x, m, v: lib(x).masked_fill(x, m, v), [xi, m, np.array(9.5)], grad=False)
    x = random_array((2, 3))
    same_error(lambda F, x, m: F.masked_fill(x, m, 1.0), x, ints([1, 0, 1]))
    same_error(lambda F, x, m, v: F.masked_fill(x, m, v), x, m, np.array([1.0]))
    same_error(lambda F, x, m: F.masked_fill(x, m, 1.0), x, np.ones(4, bool))


def test_masked_fill_inplace():
    x = random_array((2, 3))
    m = np.array([[True], [False]])
    n, t = numcnn.tensor(x.copy()), torch.tensor(x.copy())
    out = NF.masked_fill_(n, numcnn.tensor(m), 4.0)
    t.masked_fill_(torch.tensor(m), 4.0)
    assert out is n
    assert_close(n, t)
    with pytest.raises(RuntimeError):                       # result would not fit in place
        NF.masked_fill_(n, numcnn.tensor(np.ones((1, 2, 3), bool)), 1.0)
    with pytest.raises(RuntimeError):                       # a leaf that requires grad
        NF.masked_fill_(numcnn.tensor(x, requires_grad=True), numcnn.tensor(m), 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape,mask_shape", [((2, 3), (2, 3)), ((2, 3), (1, 2, 1)),
                                                ((3,), (2, 3)), ((2, 3), (3,))])
def test_masked_select_matches_torch(dtype, x_shape, mask_shape):
    x = random_array(x_shape, dtype, seed=23)
    mask = random_array(mask_shape, seed=24) > -0.3
    compare(lambda F, x, m: lib(x).masked_select(x, m), [x, mask])


def test_masked_select_gradcheck_and_errors():
    check_grad(lambda x, m: NF.masked_select(x, m), random_array((2, 3)),
               np.array([True, False, True]))
    same_error(lambda F, x, m: F.masked_select(x, m), random_array((2, 3)), np.ones(3))
    same_error(lambda F, x, m: F.masked_select(x, m), random_array((2, 3)), np.ones(2, bool))


@pytest.mark.parametrize("arr", [
    np.array([[0, 1.5, 0], [2, 0, -1]]), np.zeros((2, 3)), np.array(3.0), np.array(0.0),
    np.array([True, False, True]), np.arange(24).reshape(2, 3, 4) % 5, np.zeros((0, 3)),
])
def test_nonzero_and_argwhere_match_torch(arr):
    compare(lambda F, x: lib(x).nonzero(x), [arr], grad=False)
    compare(lambda F, x: lib(x).argwhere(x), [arr], grad=False)
    n = NF.nonzero(numcnn.tensor(arr), as_tuple=True)
    t = torch.nonzero(torch.tensor(arr), as_tuple=True)
    assert len(n) == len(t)
    for a, b in zip(n, t):
        assert_close(a, b)


def test_take_matches_torch():
    x = random_array((3, 4), seed=25)
    compare(lambda F, x, i: lib(x).take(x, i), [x, ints([[11, -12, 0], [5, 5, -1]])])
    compare(lambda F, x, i: lib(x).take(x, i), [x, np.zeros(0, np.int64)])
    check_grad(lambda x, i: NF.take(x, i), x, ints([1, 1, -1, 4]))
    same_error(lambda F, x, i: F.take(x, i), x, ints([12]))           # IndexError
    same_error(lambda F, x, i: F.take(x, i), x, ints([-13]))


# ----------------------------------------------------------------------------- rearranging
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shifts,dims", [(1, None), (-4, None), ((7,), None), (1, 0),
                                         ((1, 2), (0, 1)), ((-1, 5), (-1, 0)), (2, -2),
                                         ((1, 1), (1, 1))])
def test_roll_matches_torch(dtype, shifts, dims):
    compare(lambda F, x: lib(x).roll(x, shifts, dims), [random_array((3, 4), dtype, seed=26)])


def test_roll_naive_gradcheck_and_errors():
    x = random_array((5,), seed=27)
    y = NF.roll(numcnn.tensor(x), 2)
    assert_close(y, np.array([x[(i - 2) % 5] for i in range(5)]))
    check_grad(lambda x: NF.roll(x, (1, -2), (0, 1)), random_array((2, 3)))
    compare(lambda F, x: lib(x).roll(x, 1, 0), [np.zeros((0, 3))])
    a = random_array((2, 3))
    same_error(lambda F, x: F.roll(x, (1, 2), 0), a)
    same_error(lambda F, x: F.roll(x, (1, 2)), a)
    same_error(lambda F, x: F.roll(x, 1, (0, 1)), a)
    same_error(lambda F, x: F.roll(x, 1, 2), a)                     # IndexError
    same_error(lambda F, x: F.roll(x, (), ()), a)


@pytest.mark.parametrize("dim,start,length", [(1, -2, 2), (1, 0, 3), (0, 1, 1), (1, 3, 0),
                                              (-1, 1, 2)])
def test_narrow_matches_torch(dim, start, length):
    compare(lambda F, x: lib(x).narrow(x, dim, start, length), [random_array((2, 3), seed=28)])


def test_narrow_tensor_start_and_errors():
    x = random_array((2, 3))
    assert_close(NF.narrow(numcnn.tensor(x), 1, numcnn.tensor(1), 2), x[:, 1:3])
    same_error(lambda F, x: F.narrow(x, 1, 2, 2), x)
    same_error(lambda F, x: F.narrow(x, 1, -4, 0), x)               # IndexError
    same_error(lambda F, x: F.narrow(x, 1, 0, -1), x)
    same_error(lambda F, x: F.narrow(x, 0, 0, 1), np.array(5.0))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_unbind_matches_torch(dim):
    compare(lambda F, x: lib(x).unbind(x, dim), [random_array((2, 3, 2), seed=29)])


def test_unbind_errors():
    same_error(lambda F, x: F.unbind(x), np.array(5.0))             # IndexError
    same_error(lambda F, x: F.unbind(x, 2), random_array((2, 3)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("repeats,dim", [(2, None), (3, 0), (2, -1), (0, 1),
                                         (ints([1, 0, 3]), 1), (ints([2]), 0), (ints(2), None),
                                         (ints([0, 0, 0]), 1), (ints([1, 2, 0, 1, 1, 3]), None)])
def test_repeat_interleave_matches_torch(dtype, repeats, dim):
    x = random_array((2, 3), dtype, seed=30)
    if isinstance(repeats, np.ndarray):
        compare(lambda F, x, r: lib(x).repeat_interleave(x, r, dim), [x, repeats])
    else:
        compare(lambda F, x: lib(x).repeat_interleave(x, repeats, dim), [x])


def test_repeat_interleave_naive_gradcheck_one_argument_and_errors():
    x = random_array((3,), seed=31)
    y = NF.repeat_interleave(numcnn.tensor(x), numcnn.tensor(ints([2, 0, 1])))
    assert_close(y, np.array([x[0], x[0], x[2]]))
    check_grad(lambda x, r: NF.repeat_interleave(x, r, 1), random_array((2, 3)),
               ints([2, 0, 3]))
    check_grad(lambda x: NF.repeat_interleave(x, 2), random_array((2, 3)))
    compare(lambda F, r: lib(r).repeat_interleave(r), [ints([1, 2, 0, 1])], grad=False)
    compare(lambda F, x: lib(x).repeat_interleave(x, 2), [np.array(3.0)])
    compare(lambda F, x: lib(x).repeat_interleave(x, 2, 0, output_size=4),
            [random_array((2, 3))])
    x = np.arange(4).reshape(2, 2)
    same_error(lambda F, x, r: F.repeat_interleave(x, r, 0), x, ints([1, 2, 3]))
    same_error(lambda F, x, r: F.repeat_interleave(x, r, 0), x, ints([-1, 2]))
    same_error(lambda F, x: F.repeat_interleave(x, -1, 0), x)
    same_error(lambda F, x, r: F.repeat_interleave(x, r, 0), x, ints([[1, 2]]))
    same_error(lambda F, x: F.repeat_interleave(x, 2, 0, output_size=5), x)


@pytest.mark.parametrize("dtype", DTYPES)
def test_flips_match_torch(dtype):
    x = random_array((2, 3, 4), dtype, seed=32)
    compare(lambda F, x: lib(x).flip(x, (0, -1)), [x])
    compare(lambda F, x: lib(x).flip(x, [1]), [x])
    compare(lambda F, x: lib(x).fliplr(x), [x])
    compare(lambda F, x: lib(x).flipud(x), [x])
    assert_close(NF.flip(numcnn.tensor(x), 0, 2), np.flip(x, (0, 2)))   # the method's form
    same_error(lambda F, x: F.flip(x, (0, -2)), random_array((2, 2)))
    same_error(lambda F, x: F.fliplr(x), random_array((3,)))
    same_error(lambda F, x: F.flipud(x), np.array(1.0))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (2, 5, 3), (0, 3)])
@pytest.mark.parametrize("diagonal", [0, 1, -2, 7])
def test_tril_triu_match_torch(dtype, shape, diagonal):
    x = random_array(shape, dtype, seed=33)
    compare(lambda F, x: lib(x).tril(x, diagonal), [x])
    compare(lambda F, x: lib(x).triu(x, diagonal), [x])


def test_tril_triu_naive_and_errors():
    x = random_array((3, 4), seed=34)
    ref = np.array([[x[i, j] if j - i <= 1 else 0.0 for j in range(4)] for i in range(3)])
    assert_close(NF.tril(numcnn.tensor(x), 1), ref)
    check_grad(lambda x: NF.triu(x, -1), x)
    same_error(lambda F, x: F.tril(x), random_array((3,)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,diagonal", [((3,), 0), ((3,), 2), ((3,), -1), ((3, 4), 0),
                                            ((3, 4), 2), ((3, 4), -2), ((3, 4), 5),
                                            ((4, 2), -1)])
def test_diag_matches_torch(dtype, shape, diagonal):
    compare(lambda F, x: lib(x).diag(x, diagonal), [random_array(shape, dtype, seed=35)])


def test_diag_gradcheck_and_errors():
    check_grad(lambda x: NF.diag(x, 1), random_array((3, 4)))
    check_grad(lambda x: NF.diag(x, -1), random_array((3,)))
    same_error(lambda F, x: F.diag(x), random_array((2, 2, 2)))
    same_error(lambda F, x: F.diag(x), np.array(1.0))


# ----------------------------------------------------------------------------- in place
@pytest.mark.parametrize("name,args", [
    ("scatter_", (1, ints([[0, 2]]), 9.0)),
    ("scatter_add_", (1, ints([[0, 0]]), np.array([[1.0, 2.0]]))),
    ("scatter_reduce_", (1, ints([[0, 0]]), np.array([[1.0, 2.0]]), "amax")),
    ("index_add_", (0, ints([1, 1]), np.ones((2, 3)))),
    ("index_copy_", (0, ints([1]), np.ones((1, 3)))),
])
def test_inplace_forms_match_torch(name, args):
    x = random_array((2, 3), seed=36)
    n, t = numcnn.tensor(x.copy()), torch.tensor(x.copy())
    n_args = [numcnn.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
    t_args = [torch.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
    assert getattr(NF, name)(n, *n_args) is n
    getattr(t, name)(*t_args)
    assert_close(n, t)


# ----------------------------------------------------------------------------- API surface
NAMES = ["gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "index_add",
         "index_copy", "masked_fill", "masked_select", "nonzero", "argwhere", "take", "roll",
         "narrow", "unbind", "repeat_interleave", "flip", "fliplr", "flipud", "tril", "triu",
         "diag", "scatter_", "scatter_add_", "scatter_reduce_", "index_add_", "index_copy_",
         "masked_fill_"]


@pytest.mark.parametrize("name", NAMES)
def test_top_level_and_method_forms_exist_as_in_torch(name):
    assert getattr(numcnn, name) is getattr(NF, name)
    assert callable(getattr(numcnn.Tensor, name)) and hasattr(torch.Tensor, name)
    if not name.endswith("_"):
        assert hasattr(torch, name)


def test_method_forms_match_torch():
    x = random_array((3, 4), seed=37)
    i = ints([[0, 3], [1, 1], [2, 0]])
    m = x > 0
    compare(lambda F, x, i: x.gather(1, i), [x, i])
    compare(lambda F, x, i, s: x.scatter_add(1, i, s), [x, i, random_array((3, 2), seed=38)])
    compare(lambda F, x, i: x.index_select(0, i), [x, ints([2, 2, 0])])
    compare(lambda F, x, m: x.masked_fill(m, 0.5), [x, m])
    compare(lambda F, x, m: x.masked_select(m), [x, m])
    compare(lambda F, x: x.roll(1, 0).flip(0, 1).tril(1).narrow(1, 1, 2), [x])
    compare(lambda F, x: x.repeat_interleave(2, dim=1).unbind(1), [x])
    compare(lambda F, x: (x.fliplr().flipud(), x.diag(1), x.take(x.nonzero()[:, 0])), [x])
    # where(condition) alone is nonzero(as_tuple=True)
    for a, b in zip(numcnn.where(numcnn.tensor(m)), torch.where(torch.tensor(m))):
        assert_close(a, b)
