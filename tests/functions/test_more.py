"""More torch-level functions (functions/statistics.py and the additions to math, blas, other):
against PyTorch (values, dtypes, indices, gradients), gradcheck in float64, naive references,
errors of the same type as torch's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.helpers import assert_close, compare, raises_like_torch, random_array

import numcnn
from numcnn.autograd.gradcheck import gradcheck

DTYPES = [np.float32, np.float64]
NAN = float("nan")


def lib(x):
    return numcnn if isinstance(x, numcnn.Tensor) else torch


def ties(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).integers(-2, 3, shape).astype(dtype)


def leaf(a):
    return numcnn.tensor(a, requires_grad=True)


# ----------------------------------------------------------------- addcmul, addcdiv
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("value", [1, 0.5, -2])
def test_addcmul_addcdiv_broadcast_match_torch(dtype, value):
    a, b = random_array((3, 1, 4), dtype, 1), random_array((5, 1), dtype, 2)
    c = random_array((4,), dtype, 3, low=0.5, high=2.0)
    compare(lambda F, a, b, c: lib(a).addcmul(a, b, c, value=value), [a, b, c])
    compare(lambda F, a, b, c: lib(a).addcdiv(a, b, c, value=value), [a, b, c])
    assert gradcheck(lambda a, b, c: numcnn.addcdiv(a, b, c, value=value),
                     [leaf(x.astype(np.float64)) for x in (a, b, c)])
    assert gradcheck(lambda a, b, c: a.addcmul(b, c, value=value),
                     [leaf(x.astype(np.float64)) for x in (a, b, c)])


def test_addcmul_dtypes_inplace_and_errors():
    i = np.arange(6).reshape(2, 3)
    n = numcnn.addcmul(numcnn.tensor(i), numcnn.tensor(i), numcnn.tensor(i), value=2)
    assert n.dtype == numcnn.int64 and n.tolist() == (i + 2 * i * i).tolist()
    f = numcnn.addcmul(numcnn.tensor(i), numcnn.tensor(i.astype(np.float32)), numcnn.tensor(i))
    assert f.dtype == numcnn.float32
    x = numcnn.tensor(random_array((2, 3)))
    t = torch.tensor(x.numpy().copy())
    y, z = random_array((2, 3), seed=4), random_array((2, 3), seed=5, low=1, high=2)
    assert x.addcmul_(numcnn.tensor(y), numcnn.tensor(z), value=3) is x
    t.addcmul_(torch.tensor(y), torch.tensor(z), value=3)
    x.addcdiv_(numcnn.tensor(y), numcnn.tensor(z))
    t.addcdiv_(torch.tensor(y), torch.tensor(z))
    assert_close(x, t)
    raises_like_torch(lambda F, a: lib(a).addcdiv(a, a, a), [i])          # integer division
    compare(lambda F, a: lib(a).addcmul(a, a, a, value=0.5), [i], grad=False)  # value -> 0


# ----------------------------------------------------------------- cross, cdist, trace, kron
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sa,sb,dim", [((4, 3), (4, 3), 1), ((3, 5), (3, 1), 0),
                                       ((2, 3, 4), (1, 3, 4), -2), ((2, 3), (2, 3), None)])
@pytest.mark.filterwarnings("ignore:Using torch.cross without specifying the dim")
def test_cross_matches_torch(dtype, sa, sb, dim):
    a, b = random_array(sa, dtype, 1), random_array(sb, dtype, 2)
    compare(lambda F, a, b: lib(a).cross(a, b, dim=dim), [a, b])


def test_cross_naive_gradcheck_errors():
    a, b = random_array((5, 3), seed=3), random_array((5, 3), seed=4)
    assert_close(numcnn.cross(numcnn.tensor(a), numcnn.tensor(b), dim=1).numpy(),
                 np.cross(a, b))
    assert gradcheck(lambda a, b: numcnn.cross(a, b, dim=-1), [leaf(a), leaf(b)])
    raises_like_torch(lambda F, a, b: lib(a).cross(a, b, dim=1), [a[:, :2], b[:, :2]])
    raises_like_torch(lambda F, a, b: lib(a).cross(a, b, dim=-1), [a, b[0]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, float("inf"), 0.0])
@pytest.mark.parametrize("s1,s2", [((5, 3), (4, 3)), ((2, 1, 3, 4), (3, 2, 4)), ((0, 3), (2, 3))])
def test_cdist_matches_torch(dtype, p, s1, s2):
    a, b = random_array(s1, dtype, 1), random_array(s2, dtype, 2)
    # torch uses |a|^2 + |b|^2 - 2ab for p = 2 on large inputs; these are small: the direct form
    compare(lambda F, a, b: lib(a).cdist(a, b, p=p), [a, b])


def test_cdist_zero_distance_gradient_naive_and_gradcheck():
    a = random_array((4, 3), seed=1)
    b = np.concatenate([a[:2], random_array((2, 3), seed=2)])       # equal rows: d = 0
    for p in (2.0, 1.0, 3.0, float("inf")):
        compare(lambda F, a, b, p=p: lib(a).cdist(a, b, p=p), [a, b])
    naive = np.array([[np.sum(np.abs(x - y) ** 3) ** (1 / 3) for y in b] for x in a])
    assert_close(numcnn.cdist(numcnn.tensor(a), numcnn.tensor(b), p=3).numpy(), naive)
    c = random_array((3, 3), seed=5)
    for p in (2.0, 1.5, 3.0):
        assert gradcheck(lambda x, y, p=p: numcnn.cdist(x, y, p=p), [leaf(a), leaf(c)])
    raises_like_torch(lambda F, a, b: lib(a).cdist(a, b), [a, random_array((2, 4))])
    raises_like_torch(lambda F, a, b: lib(a).cdist(a, b, p=-1.0), [a, c])


@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (5, 2), (0, 3)])
def test_trace_matches_torch(shape):
    compare(lambda F, x: lib(x).trace(x), [random_array(shape)])
    i = np.arange(np.prod(shape), dtype=np.int32).reshape(shape)
    compare(lambda F, x: x.trace(), [i], grad=False)                     # int32 -> int64
    raises_like_torch(lambda F, x: lib(x).trace(x), [random_array((2, 2, 2))])


@pytest.mark.parametrize("sa,sb", [((2, 3), (4, 5)), ((3,), (2, 2)), ((2, 1, 3), (3,)),
                                   ((), (3,)), ((0, 2), (2, 2))])
def test_kron_matches_torch_and_numpy(sa, sb):
    a, b = random_array(sa, seed=1), random_array(sb, seed=2)
    compare(lambda F, a, b: lib(a).kron(a, b), [a, b])
    assert_close(numcnn.kron(numcnn.tensor(a), numcnn.tensor(b)).numpy(), np.kron(a, b))
    if a.size and b.size:
        assert gradcheck(numcnn.kron, [leaf(a), leaf(b)])


# ----------------------------------------------------------------- diff, tensor_split
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,dim", [(1, -1), (2, 0), (3, 1), (0, 0), (7, -1)])
def test_diff_matches_torch(dtype, n, dim):
    x = random_array((4, 5), dtype, 1)
    compare(lambda F, x: lib(x).diff(x, n=n, dim=dim), [x])
    pre, app = random_array((4, 2), dtype, 2), random_array((4, 1), dtype, 3)
    if dim != 0:
        compare(lambda F, x, p, a: lib(x).diff(x, n=n, dim=dim, prepend=p, append=a),
                [x, pre, app])


def test_diff_bool_int_naive_gradcheck_errors():
    b = np.array([True, True, False, True])
    compare(lambda F, x: lib(x).diff(x), [b], grad=False)
    compare(lambda F, x: x.diff(n=2), [np.array([1, 4, 9, 16, 25])], grad=False)
    x = random_array((3, 6))
    assert_close(numcnn.diff(numcnn.tensor(x), n=2).numpy(), np.diff(x, n=2))
    assert gradcheck(lambda x: numcnn.diff(x, n=2, dim=1), [leaf(x)])
    raises_like_torch(lambda F, x: lib(x).diff(x), [np.array(1.0)])
    raises_like_torch(lambda F, x: lib(x).diff(x, n=-1), [x])


@pytest.mark.parametrize("spec", [1, 3, 4, 9, [1, 4], [2, 2, -1], [0], [8, 10], []])
@pytest.mark.parametrize("dim", [0, -1])
def test_tensor_split_matches_torch(spec, dim):
    x = random_array((7, 7), seed=1)
    compare(lambda F, x: lib(x).tensor_split(x, spec, dim=dim), [x])
    compare(lambda F, x: x.tensor_split(spec, dim), [x])


def test_tensor_split_views_tensor_spec_errors():
    x = numcnn.arange(10.0)
    parts = numcnn.tensor_split(x, numcnn.tensor([2, 5]))
    assert [p.tolist() for p in parts] == [[0, 1], [2, 3, 4], [5, 6, 7, 8, 9]]
    parts[1][0] = 100.0                                                   # views: x sees it
    assert x[2].item() == 100.0
    raises_like_torch(lambda F, x: lib(x).tensor_split(x, 0), [np.ones(4)])
    raises_like_torch(lambda F, x: lib(x).tensor_split(x, 2), [np.array(1.0)])


# ----------------------------------------------------------------- median, kthvalue, mode
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim", [((7,), 0), ((4, 6), 1), ((4, 5), 0), ((2, 3, 4), -2),
                                       ((3, 1), 1)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_median_dim_matches_torch(dtype, shape, dim, keepdim):
    x = random_array(shape, dtype, 1)                                    # distinct: indices fixed
    compare(lambda F, x: lib(x).median(x, dim, keepdim), [x])
    compare(lambda F, x: lib(x).nanmedian(x, dim, keepdim=keepdim), [x])


def test_median_lower_of_even_count_ties_nan_and_all():
    x = np.array([[4.0, 1.0, 3.0, 2.0], [2.0, 2.0, 2.0, 5.0], [1.0, NAN, 0.0, NAN],
                  [NAN, NAN, NAN, NAN]])
    n, t = numcnn.tensor(x), torch.tensor(x)
    mv, tv = numcnn.median(n, 1), torch.median(t, 1)
    assert_close(mv.values, tv.values)                                  # 2 = lower median, NaN
    assert mv.values[0].item() == 2.0
    assert mv.indices[2].item() == 1 == tv.indices[2].item()            # the first NaN
    assert x[1, mv.indices[1].item()] == 2.0
    nv, tnv = numcnn.nanmedian(n, 1), torch.nanmedian(t, 1)
    assert_close(nv.values, tnv.values)
    assert_close(nv.indices[:3], tnv.indices[:3])
    compare(lambda F, x: lib(x).median(x), [x], grad=False)             # NaN over all
    compare(lambda F, x: lib(x).nanmedian(x), [x], grad=False)
    y = random_array((5, 4), seed=3)
    compare(lambda F, x: lib(x).median(x), [y])
    compare(lambda F, x: x.nanmedian(), [y])
    compare(lambda F, x: lib(x).median(x), [np.array(3.0)])
    compare(lambda F, x: lib(x).median(x, 0), [np.array(3.0)])
    compare(lambda F, x: lib(x).median(x), [np.array([3, 1, 2, 7])], grad=False)
    assert gradcheck(lambda x: numcnn.median(x, 1).values, [leaf(y)])
    raises_like_torch(lambda F, x: lib(x).median(x, 1), [np.ones((2, 0))])


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("keepdim", [False, True])
def test_kthvalue_matches_torch_and_naive(k, keepdim):
    x = random_array((4, 5), seed=2)
    compare(lambda F, x: lib(x).kthvalue(x, k, 1, keepdim), [x])
    compare(lambda F, x: x.kthvalue(k, dim=0), [random_array((5, 3), seed=3)])
    n = numcnn.kthvalue(numcnn.tensor(x), k).values.numpy()
    assert_close(n, np.sort(x, axis=1)[:, k - 1])
    assert gradcheck(lambda x: numcnn.kthvalue(x, k, 1).values, [leaf(x)])
    raises_like_torch(lambda F, x: lib(x).kthvalue(x, 6), [x])
    raises_like_torch(lambda F, x: lib(x).kthvalue(x, 0), [x])


@pytest.mark.parametrize("keepdim", [False, True])
def test_mode_matches_torch_with_ties(keepdim):
    x = ties((6, 9), seed=4)
    compare(lambda F, x: lib(x).mode(x, 1, keepdim), [x])
    compare(lambda F, x: lib(x).mode(x, 0, keepdim), [x])
    compare(lambda F, x: x.mode(), [np.array([3, 1, 3, 1, 2], dtype=np.int64)], grad=False)
    compare(lambda F, x: lib(x).mode(x), [np.array(5.0)])
    naive = [max(sorted(set(r)), key=lambda v: (list(r).count(v), -v)) for r in x]
    assert numcnn.mode(numcnn.tensor(x)).values.tolist() == naive


# ----------------------------------------------------------------- nansum, nanmean
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim,keepdim", [(None, False), (1, False), ((0, 1), True), (-1, True)])
def test_nansum_nanmean_match_torch(dtype, dim, keepdim):
    x = random_array((4, 5), dtype, 1)
    x[0, 1] = x[2, 3] = x[2, 4] = NAN
    kw = {} if dim is None else {"dim": dim, "keepdim": keepdim}
    compare(lambda F, x: lib(x).nansum(x, **kw), [x])
    compare(lambda F, x: lib(x).nanmean(x, **kw), [x])
    y = x.copy()
    y[1] = NAN
    compare(lambda F, x: x.nanmean(dim=1), [y])                          # an all-NaN row: NaN
    i = np.arange(6, dtype=np.int32).reshape(2, 3)
    compare(lambda F, x: lib(x).nansum(x, 1), [i], grad=False)          # int32 -> int64
    raises_like_torch(lambda F, x: lib(x).nanmean(x), [i])
    mask = ~np.isnan(x)
    nan = numcnn.tensor(np.full(x.shape, NAN))
    cond = numcnn.tensor(mask)
    assert gradcheck(lambda t: numcnn.nanmean(numcnn.where(cond, t, nan), 1),
                     [leaf(np.nan_to_num(x).astype(np.float64))])
    assert gradcheck(lambda t: numcnn.nansum(numcnn.where(cond, t, nan)),
                     [leaf(np.nan_to_num(x).astype(np.float64))])
    z = random_array((3, 4))
    z[1, 2] = NAN
    n = leaf(z)
    numcnn.nanmean(n, 0).sum().backward()
    t = torch.tensor(z, requires_grad=True)
    torch.nanmean(t, 0).sum().backward()
    assert_close(n.grad, t.grad)


# ----------------------------------------------------------------- cummax, cummin, logcumsumexp
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn", ["cummax", "cummin"])
@pytest.mark.parametrize("shape,dim", [((9,), 0), ((4, 7), 1), ((4, 7), 0), ((2, 3, 4), -1),
                                       ((0, 3), 0), ((), 0)])
def test_cummax_cummin_match_torch_with_ties(dtype, fn, shape, dim):
    x = ties(shape, seed=5, dtype=dtype)                               # ties: the latest index
    compare(lambda F, x: getattr(lib(x), fn)(x, dim), [x])


def test_cummax_nan_naive_and_gradcheck():
    x = np.array([1.0, NAN, 3.0, NAN, 0.0])
    for fn in ("cummax", "cummin"):
        compare(lambda F, x, fn=fn: getattr(x, fn)(0), [x])
    y = random_array((3, 6), seed=6)
    v = numcnn.cummax(numcnn.tensor(y), 1).values.numpy()
    assert_close(v, np.maximum.accumulate(y, axis=1))
    assert gradcheck(lambda t: numcnn.cummin(t, 1).values, [leaf(y)])
    i = np.array([3, 1, 4, 1, 5], dtype=np.int32)
    compare(lambda F, x: lib(x).cummax(x, 0), [i], grad=False)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim", [((9,), 0), ((4, 7), 1), ((4, 7), -2), ((0, 3), 1),
                                       ((), 0)])
def test_logcumsumexp_matches_torch(dtype, shape, dim):
    x = np.asarray(random_array(shape, dtype, 7) * 3)
    compare(lambda F, x: lib(x).logcumsumexp(x, dim), [x])


def test_logcumsumexp_large_values_naive_gradcheck():
    x = np.array([[1000.0, 1001.0, -1000.0, 999.0], [-5.0, 0.0, 2.0, -np.inf]])
    compare(lambda F, x: x.logcumsumexp(1), [x])                       # no overflow
    y = random_array((3, 5), seed=8)
    naive = np.log(np.cumsum(np.exp(y), axis=1))
    assert_close(numcnn.logcumsumexp(numcnn.tensor(y), 1).numpy(), naive)
    assert gradcheck(lambda t: numcnn.logcumsumexp(t, 1), [leaf(y)])
    raises_like_torch(lambda F, x: lib(x).logcumsumexp(x, 0), [np.arange(3)])


# ----------------------------------------------------------------- histc, bincount
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bins,lo,hi", [(10, 0, 0), (7, -1, 1), (5, 0.0, 3.0), (1, 0, 0)])
def test_histc_matches_torch(dtype, bins, lo, hi):
    x = random_array((50,), dtype, 9)
    compare(lambda F, x: lib(x).histc(x, bins, lo, hi), [x], grad=False)


def test_histc_edges_constant_naive_errors():
    x = np.array([0.0, 1.0, 1.0, 2.0, 3.0, 4.0])                        # max lands in last bin
    compare(lambda F, x: x.histc(4, 0, 4), [x], grad=False)
    compare(lambda F, x: x.histc(3), [np.full(5, 2.0)], grad=False)     # constant: [1, 3]
    compare(lambda F, x: x.histc(3), [np.zeros(0)], grad=False)
    y = random_array((40,), seed=10)
    counts, _ = np.histogram(y, bins=6, range=(-1.0, 1.0))
    assert numcnn.histc(numcnn.tensor(y), 6, -1, 1).tolist() == counts.tolist()
    raises_like_torch(lambda F, x: lib(x).histc(x, 3, 2, 1), [y])
    raises_like_torch(lambda F, x: lib(x).histc(x), [np.arange(3)])


@pytest.mark.parametrize("minlength", [0, 3, 12])
def test_bincount_matches_torch(minlength):
    x = np.array([0, 3, 3, 1, 7, 3], dtype=np.int64)
    compare(lambda F, x: lib(x).bincount(x, minlength=minlength), [x], grad=False)
    for wd in (np.float32, np.float64, np.int64):
        w = np.arange(6).astype(wd)
        compare(lambda F, x, w: x.bincount(w, minlength), [x, w], grad=False)
    compare(lambda F, x: lib(x).bincount(x, minlength=minlength),
            [np.zeros(0, dtype=np.int64)], grad=False)


def test_bincount_errors():
    for bad in (np.array([1, -1]), np.array([[1, 2]]), np.array([1.0, 2.0])):
        raises_like_torch(lambda F, x: lib(x).bincount(x), [bad])
    raises_like_torch(lambda F, x, w: lib(x).bincount(x, w), [np.array([1, 2]), np.ones(3)])


# ----------------------------------------------------------------- unique, unique_consecutive
@pytest.mark.parametrize("return_inverse", [False, True])
@pytest.mark.parametrize("return_counts", [False, True])
@pytest.mark.parametrize("dim", [None, 0, 1])
def test_unique_matches_torch(return_inverse, return_counts, dim):
    x = ties((6, 4), seed=11).astype(np.int64)
    x[3] = x[1]
    x[:, 2] = x[:, 0]
    kw = {"return_inverse": return_inverse, "return_counts": return_counts, "dim": dim}
    compare(lambda F, x: lib(x).unique(x, **kw), [x], grad=False)
    compare(lambda F, x: x.unique(sorted=True, **kw), [x.astype(np.float32)], grad=False)
    compare(lambda F, x: lib(x).unique_consecutive(x, **kw), [x], grad=False)


def test_unique_consecutive_runs_empty_and_naive():
    x = np.array([1, 1, 2, 2, 3, 1, 1, 2])
    compare(lambda F, x: x.unique_consecutive(return_inverse=True, return_counts=True), [x],
            grad=False)
    out, counts = numcnn.unique_consecutive(numcnn.tensor(x), return_counts=True)
    assert out.tolist() == [1, 2, 3, 1, 2] and counts.tolist() == [2, 2, 1, 2, 1]
    compare(lambda F, x: lib(x).unique(x, return_inverse=True), [np.zeros(0)], grad=False)
    compare(lambda F, x: lib(x).unique_consecutive(x), [np.zeros(0)], grad=False)
    compare(lambda F, x: lib(x).unique(x, return_counts=True), [np.array(4.0)], grad=False)


# ----------------------------------------------------------------- searchsorted, bucketize
@pytest.mark.parametrize("right", [False, True])
@pytest.mark.parametrize("out_int32", [False, True])
def test_searchsorted_bucketize_match_torch(right, out_int32):
    seq = np.array([1.0, 2.0, 2.0, 4.0, 7.0])
    v = np.array([[0.0, 2.0, 3.0], [4.0, 7.0, 9.0]])
    kw = {"right": right, "out_int32": out_int32}
    compare(lambda F, s, v: lib(s).searchsorted(s, v, **kw), [seq, v], grad=False)
    compare(lambda F, s, v: lib(s).bucketize(v, s, **kw), [seq, v], grad=False)
    batched = np.sort(random_array((2, 3, 6), seed=12), axis=-1)
    vals = random_array((2, 3, 4), seed=13)
    vals[0, 0, 0] = batched[0, 0, 2]                                    # an exact tie
    compare(lambda F, s, v: lib(s).searchsorted(s, v, **kw), [batched, vals], grad=False)
    compare(lambda F, s, v: lib(s).searchsorted(s, v, side="right" if right else "left"),
            [seq, v], grad=False)


def test_searchsorted_scalar_sorter_naive_errors():
    seq = np.array([5.0, 1.0, 3.0])
    sorter = np.argsort(seq)
    compare(lambda F, s, o: lib(s).searchsorted(s, 3.0, sorter=o), [seq, sorter], grad=False)
    s = np.sort(random_array((20,), seed=14))
    v = random_array((7,), seed=15)
    n = numcnn.searchsorted(numcnn.tensor(s), numcnn.tensor(v)).tolist()
    assert n == [sum(1 for e in s if e < x) for x in v]
    raises_like_torch(lambda F, s, v: lib(s).searchsorted(s, v),
                      [np.ones((2, 3)), np.ones((3, 3))])
    raises_like_torch(lambda F, s, v: lib(s).searchsorted(s, v, right=True, side="left"),
                      [np.ones(3), np.ones(2)])
    raises_like_torch(lambda F, s, v: lib(s).bucketize(v, s), [np.ones((2, 2)), np.ones(2)])
