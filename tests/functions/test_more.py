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


# ================================================================= second batch
# ----------------------------------------------------------------- elementwise
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,low,high", [("asinh", -3, 3), ("acosh", 1.1, 4),
                                           ("atanh", -0.9, 0.9), ("arcsinh", -3, 3),
                                           ("arccosh", 1.1, 4), ("arctanh", -0.9, 0.9),
                                           ("deg2rad", -200, 200), ("rad2deg", -4, 4)])
def test_unary_float_functions_match_torch(dtype, name, low, high):
    x = random_array((3, 5), dtype, 1, low=low, high=high)
    compare(lambda F, x: getattr(lib(x), name)(x), [x])
    compare(lambda F, x: getattr(x, name)(), [x])
    assert gradcheck(getattr(numcnn, name), [leaf(x.astype(np.float64))])
    compare(lambda F, x: getattr(lib(x), name)(x), [np.arange(1, 4)], grad=False)  # int -> f32


def test_unary_inplace_forms_and_domain_edges():
    x = random_array((2, 3), seed=2, low=-0.9, high=0.9)
    for name in ("asin_", "acos_", "atan_", "atanh_", "asinh_", "sinh_", "cosh_", "exp2_",
                 "deg2rad_", "rad2deg_"):
        n, t = numcnn.tensor(x.copy()), torch.tensor(x.copy())
        assert getattr(n, name)() is n
        getattr(t, name)()
        assert_close(n, t, what=name)
    edges = np.array([-1.0, 1.0, 2.0, 0.5, -np.inf, np.inf, NAN])
    for name in ("atanh", "acosh", "asinh"):
        compare(lambda F, x, name=name: getattr(lib(x), name)(x), [edges], grad=False)
    raises_like_torch(lambda F, x: x.acos_(), [np.arange(3)])    # float result into int64


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_fmod_fmax_fmin_match_torch(dtype):
    a = (random_array((4, 5), np.float64, 1) * 5).astype(dtype)
    b = (random_array((5,), np.float64, 2) * 3).astype(dtype)
    b[b == 0] = 2
    compare(lambda F, a, b: lib(a).fmod(a, b), [a, b])
    compare(lambda F, a: a.fmod(1.5 if a.dtype.is_floating_point else 3), [a])
    c = a.copy()
    if dtype != np.int64:
        c[0, 0], c[1, 1], b[2] = NAN, NAN, NAN
        b2 = np.broadcast_to(b, c.shape).copy()
        b2[1, 1] = NAN                                                  # both NaN: NaN
        b2[3, 3] = c[3, 3]                                              # a tie
        compare(lambda F, a, b: lib(a).fmax(a, b), [c, b2])
        compare(lambda F, a, b: a.fmin(b), [c, b2])
    else:
        compare(lambda F, a, b: lib(a).fmax(a, b), [c, b], grad=False)


def test_fmod_naive_gradcheck_errors():
    a, b = random_array((3, 4), seed=3) * 4, random_array((4,), seed=4, low=0.5, high=2)
    assert_close(numcnn.fmod(numcnn.tensor(a), numcnn.tensor(b)).numpy(), np.fmod(a, b))
    assert gradcheck(numcnn.fmod, [leaf(a), leaf(b)])
    raises_like_torch(lambda F, a, b: lib(a).fmod(a, b), [np.arange(3), np.array([1, 0, 2])])
    x = numcnn.tensor(a.copy())
    x.fmod_(2.0)
    assert_close(x.numpy(), np.fmod(a, 2.0))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["logaddexp", "logaddexp2"])
def test_logaddexp_matches_torch(dtype, name):
    a, b = random_array((3, 4), dtype, 5) * 4, random_array((4,), dtype, 6) * 4
    compare(lambda F, a, b: getattr(lib(a), name)(a, b), [a, b])
    big = np.array([1000.0, -1000.0, 0.0, -np.inf], dtype=dtype)
    compare(lambda F, a, b: getattr(a, name)(b), [big, big[::-1].copy()])
    assert gradcheck(getattr(numcnn, name), [leaf(a.astype(np.float64)),
                                             leaf(b.astype(np.float64))])
    raises_like_torch(lambda F, a: getattr(lib(a), name)(a, a), [np.arange(3)])


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_to_num_matches_torch(dtype):
    x = np.array([[1.0, NAN, np.inf], [-np.inf, -2.0, 0.5]], dtype=dtype)
    compare(lambda F, x: lib(x).nan_to_num(x), [x])
    compare(lambda F, x: x.nan_to_num(nan=1.5, posinf=9.0, neginf=-9.0), [x])
    compare(lambda F, x: lib(x).nan_to_num(x, 2.0), [np.arange(3)], grad=False)
    n = numcnn.tensor(x.copy())
    n.nan_to_num_(0.0, 1.0, -1.0)
    assert n.tolist() == [[1.0, 0.0, 1.0], [-1.0, -2.0, 0.5]]


def test_predicates_positive_isin_is_nonzero():
    x = np.array([-1.0, -0.0, 0.0, 2.0, np.inf, -np.inf, NAN])
    for name in ("signbit", "isposinf", "isneginf"):
        compare(lambda F, x, name=name: getattr(lib(x), name)(x), [x], grad=False)
        compare(lambda F, x, name=name: getattr(x, name)(), [np.array([-2, 0, 3])], grad=False)
    compare(lambda F, x: lib(x).positive(x), [x])
    p = numcnn.tensor(x)
    assert numcnn.positive(p) is p
    raises_like_torch(lambda F, x: lib(x).positive(x), [np.array([True])])
    e, t = np.array([[1, 2], [3, 4]]), np.array([2, 4, 6])
    compare(lambda F, e, t: lib(e).isin(e, t), [e, t], grad=False)
    compare(lambda F, e, t: lib(e).isin(e, t, invert=True), [e, t], grad=False)
    compare(lambda F, e: lib(e).isin(e, 3), [e], grad=False)
    compare(lambda F, t: lib(t).isin(4, t), [t], grad=False)
    assert numcnn.is_nonzero(numcnn.tensor([0.5])) is True
    assert numcnn.tensor([[0]]).is_nonzero() is False
    raises_like_torch(lambda F, x: lib(x).is_nonzero(x), [np.ones(2)])
    raises_like_torch(lambda F, x: lib(x).is_nonzero(x), [np.ones(0)])


# ----------------------------------------------------------------- products
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, -2.0), (0, 1)])
def test_addmv_addr_addbmm_match_torch(dtype, beta, alpha):
    kw = {"beta": beta, "alpha": alpha}
    m, v, c = random_array((4, 3), dtype, 1), random_array((3,), dtype, 2), random_array(
        (4,), dtype, 3)
    compare(lambda F, c, m, v: lib(c).addmv(c, m, v, **kw), [c, m, v])
    compare(lambda F, c, m, v: c.addmv(m, v, **kw), [np.asarray(c[0]), m, v])
    v1, v2, c2 = random_array((4,), dtype, 4), random_array((5,), dtype, 5), random_array(
        (1, 5), dtype, 6)
    compare(lambda F, c, a, b: lib(c).addr(c, a, b, **kw), [c2, v1, v2])
    b1, b2, c3 = random_array((3, 4, 2), dtype, 7), random_array((3, 2, 5), dtype, 8), \
        random_array((4, 5), dtype, 9)
    compare(lambda F, c, a, b: lib(c).addbmm(c, a, b, **kw), [c3, b1, b2])
    n = numcnn.tensor(c3.copy())
    t = torch.tensor(c3.copy())
    n.addbmm_(numcnn.tensor(b1), numcnn.tensor(b2), **kw)
    t.addbmm_(torch.tensor(b1), torch.tensor(b2), **kw)
    assert_close(n, t)


def test_products_naive_gradcheck_errors():
    b1, b2, c = random_array((3, 4, 2), seed=1), random_array((3, 2, 5), seed=2), \
        random_array((4, 5), seed=3)
    naive = c + sum(b1[i] @ b2[i] for i in range(3))
    assert_close(numcnn.addbmm(*map(numcnn.tensor, (c, b1, b2))).numpy(), naive)
    assert gradcheck(lambda c, a, b: numcnn.addbmm(c, a, b, beta=0.5, alpha=2), [
        leaf(c), leaf(b1), leaf(b2)])
    m, v = random_array((4, 3), seed=4), random_array((3,), seed=5)
    assert gradcheck(lambda c, m, v: numcnn.addmv(c, m, v), [leaf(c[:, 0].copy()), leaf(m),
                                                            leaf(v)])
    raises_like_torch(lambda F, c, m, v: lib(c).addmv(c, m, v), [c[:, 0].copy(), m, m])
    raises_like_torch(lambda F, c, a, b: lib(c).addbmm(c, a, b), [c, b1, b1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sa,sb,dims", [((3, 4, 5), (4, 5, 2), 2), ((3, 4), (4, 2), 1),
                                        ((2, 3, 4), (4, 3, 5), ([1, 2], [1, 0])),
                                        ((3, 2), (2, 3), 0), ((3, 4), (5, 3), ([0], [1])),
                                        ((2, 3), (3, 2), ([-1], [0]))])
def test_tensordot_matches_torch(dtype, sa, sb, dims):
    a, b = random_array(sa, dtype, 1), random_array(sb, dtype, 2)
    compare(lambda F, a, b: lib(a).tensordot(a, b, dims=dims), [a, b])


def test_tensordot_inner_vdot_dist_naive_gradcheck_errors():
    a, b = random_array((2, 3, 4), seed=1), random_array((3, 4, 5), seed=2)
    assert_close(numcnn.tensordot(numcnn.tensor(a), numcnn.tensor(b)).numpy(),
                 np.tensordot(a, b))
    assert gradcheck(lambda a, b: numcnn.tensordot(a, b, ([1], [0])), [leaf(a), leaf(b)])
    c, d = random_array((2, 4), seed=3), random_array((3, 5, 4), seed=4)
    compare(lambda F, c, d: lib(c).inner(c, d), [c, d])
    compare(lambda F, c: c.inner(c), [np.asarray(c[0])])
    compare(lambda F, c, s: lib(c).inner(c, s), [c, np.array(2.5)])
    assert gradcheck(numcnn.inner, [leaf(c), leaf(d)])
    compare(lambda F, x, y: lib(x).vdot(x, y), [c[0].copy(), c[1].copy()])
    for p in (2, 1, 3.5, float("inf")):
        compare(lambda F, x, y, p=p: lib(x).dist(x, y, p), [c, np.asarray(c[1] * 0.5)])
    # p = 0 (a count): torch's own backward fails there, so values only
    compare(lambda F, x, y: lib(x).dist(x, y, 0), [c, np.asarray(c[1] * 0.5)], grad=False)
    raises_like_torch(lambda F, a, b: lib(a).tensordot(a, b, dims=1), [a, a])
    raises_like_torch(lambda F, a, b: lib(a).tensordot(a, b), [a, b.astype(np.float32)])
    raises_like_torch(lambda F, a, b: lib(a).inner(a, b), [c, a])
    raises_like_torch(lambda F, a, b: lib(a).vdot(a, b), [c, c])


# ----------------------------------------------------------------- shapes
@pytest.mark.parametrize("fn,shape,spec", [("hsplit", (4, 6), 3), ("hsplit", (6,), [1, 4]),
                                           ("vsplit", (4, 6), 2), ("vsplit", (5, 2), [2]),
                                           ("dsplit", (2, 3, 4), 2), ("dsplit", (2, 3, 4), [1, 3])])
def test_hsplit_vsplit_dsplit_match_torch(fn, shape, spec):
    x = random_array(shape, seed=1)
    compare(lambda F, x: getattr(lib(x), fn)(x, spec), [x])
    compare(lambda F, x: getattr(x, fn)(spec), [x])


def test_split_errors():
    raises_like_torch(lambda F, x: lib(x).hsplit(x, 4), [np.ones((3, 6))])     # 6 % 4
    raises_like_torch(lambda F, x: lib(x).vsplit(x, 2), [np.ones(4)])
    raises_like_torch(lambda F, x: lib(x).dsplit(x, 2), [np.ones((2, 2))])
    raises_like_torch(lambda F, x: lib(x).hsplit(x, 2), [np.array(1.0)])


@pytest.mark.parametrize("dim,index", [(0, 1), (1, -1), (-1, 0), (2, 3)])
def test_select_ravel_unflatten_match_torch(dim, index):
    x = random_array((2, 3, 4), seed=2)
    compare(lambda F, x: lib(x).select(x, dim, index), [x])
    compare(lambda F, x: x.select(dim, index), [x])
    compare(lambda F, x: lib(x).ravel(x.transpose(0, 2)), [x])
    compare(lambda F, x: lib(x).unflatten(x, 2, (2, -1)), [x])


def test_select_is_a_view_and_errors():
    x = numcnn.zeros(2, 3)
    numcnn.select(x, 1, 2).fill_(5.0)
    assert x.tolist() == [[0, 0, 5], [0, 0, 5]]
    raises_like_torch(lambda F, x: lib(x).select(x, 0, 2), [np.ones((2, 3))])
    raises_like_torch(lambda F, x: lib(x).select(x, 2, 0), [np.ones((2, 3))])


@pytest.mark.parametrize("dim", [None, 0, 1, -1])
def test_take_along_dim_matches_torch(dim):
    x = random_array((3, 4), seed=3)
    if dim is None:
        idx = np.array([[0, 11], [5, 5]])
    elif dim == 0:
        idx = np.array([[2, 0, 1, 1]])                                   # broadcasts over dim 1
    else:
        idx = np.argsort(x, axis=1)[:, :2]
    compare(lambda F, x, i: lib(x).take_along_dim(x, i, dim), [x, idx])
    compare(lambda F, x, i: x.take_along_dim(i, dim=dim), [x, idx])
    assert gradcheck(lambda t: numcnn.take_along_dim(t, numcnn.tensor(idx), dim), [leaf(x)])
    raises_like_torch(lambda F, x, i: lib(x).take_along_dim(x, i, 0), [x, np.array([0])])


@pytest.mark.parametrize("fn", ["atleast_1d", "atleast_2d", "atleast_3d"])
def test_atleast_match_torch(fn):
    for shape in [(), (3,), (2, 3), (2, 3, 4), (1, 2, 3, 4)]:
        compare(lambda F, x: getattr(lib(x), fn)(x), [np.asarray(random_array(shape, seed=4))])
    xs = [np.asarray(random_array(s, seed=5)) for s in [(), (3,), (2, 3)]]
    compare(lambda F, a, b, c: getattr(lib(a), fn)(a, b, c), xs)
    compare(lambda F, a, b, c: getattr(lib(a), fn)([a, b, c]), xs)


def test_column_stack_dstack_match_torch():
    xs = [random_array(s, seed=6) for s in [(3,), (3, 2), ()]][:2]
    compare(lambda F, a, b: lib(a).column_stack([a, b]), xs)
    compare(lambda F, a, b: lib(a).column_stack((a, b)), [np.array(1.0), np.array([2.0])])
    compare(lambda F, a, b: lib(a).dstack([a, b]), [random_array((2, 3)),
                                                    random_array((2, 3), seed=1)])
    compare(lambda F, a, b: lib(a).dstack([a, b]), [random_array((3,)), random_array((3,))])


@pytest.mark.parametrize("k", [-3, -1, 0, 1, 2, 3, 5])
@pytest.mark.parametrize("dims", [(0, 1), (1, 0), (-1, 0), (1, 2)])
def test_rot90_matches_torch(k, dims):
    x = random_array((2, 3, 4), seed=7)
    compare(lambda F, x: lib(x).rot90(x, k, dims), [x])
    compare(lambda F, x: x.rot90(k, dims), [x])


def test_rot90_naive_and_errors():
    x = np.arange(6.0).reshape(2, 3)
    assert numcnn.rot90(numcnn.tensor(x)).tolist() == np.rot90(x).tolist()
    raises_like_torch(lambda F, x: lib(x).rot90(x, 1, (0, 0)), [x])
    raises_like_torch(lambda F, x: lib(x).rot90(x, 1, (0,)), [x])
    raises_like_torch(lambda F, x: lib(x).rot90(x), [np.ones(3)])


@pytest.mark.parametrize("shape", [(3,), (2, 4), (2, 3, 2)])
@pytest.mark.parametrize("offset,dim1,dim2", [(0, -2, -1), (1, 0, 1), (-2, -1, 0), (2, 1, -1)])
def test_diag_embed_matches_torch(shape, offset, dim1, dim2):
    x = random_array(shape, seed=8)
    if len(shape) == 1 and (dim1 - dim2) % 2 == 0:                    # the same dim of 2
        raises_like_torch(lambda F, x: lib(x).diag_embed(x, offset, dim1, dim2), [x])
        return
    compare(lambda F, x: lib(x).diag_embed(x, offset, dim1, dim2), [x])
    if shape == (2, 4):
        assert gradcheck(lambda t: t.diag_embed(offset, dim1, dim2), [leaf(x)])


@pytest.mark.parametrize("offset", [0, 2, -1])
def test_diagflat_block_diag_match_torch(offset):
    compare(lambda F, x: lib(x).diagflat(x, offset), [random_array((2, 2), seed=9)])
    compare(lambda F, x: x.diagflat(offset), [random_array((3,), seed=9)])
    xs = [random_array((2, 3), seed=10), np.array(5.0), random_array((4,), seed=11),
          random_array((1, 2), seed=12)]
    compare(lambda F, a, b, c, d: lib(a).block_diag(a, b, c, d), xs)
    compare(lambda F, a, b: lib(a).block_diag(a, b), [np.arange(4).reshape(2, 2),
                                                      np.ones((1, 1), np.float32)], grad=False)
    raises_like_torch(lambda F, a: lib(a).block_diag(a), [np.ones((1, 2, 2))])


def test_cartesian_prod_combinations_match_torch():
    a, b, c = np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0]), np.array([6.0])
    compare(lambda F, a, b, c: lib(a).cartesian_prod(a, b, c), [a, b, c])
    compare(lambda F, a: lib(a).cartesian_prod(a), [a])
    x = random_array((5,), seed=13)
    for r in (0, 1, 2, 3, 6):
        for rep in (False, True):
            compare(lambda F, x, r=r, rep=rep: lib(x).combinations(x, r, rep), [x])
    raises_like_torch(lambda F, x: lib(x).combinations(x), [np.ones((2, 2))])


@pytest.mark.parametrize("row,col,offset", [(3, 3, 0), (4, 2, 1), (2, 5, -1), (0, 3, 0),
                                            (3, 4, 10), (3, 4, -10)])
def test_tril_triu_indices_logspace_match_torch(row, col, offset):
    for fn in ("tril_indices", "triu_indices"):
        assert_close(getattr(numcnn, fn)(row, col, offset), getattr(torch, fn)(row, col, offset))
    assert_close(numcnn.tril_indices(row, col, offset, dtype=numcnn.int32),
                 torch.tril_indices(row, col, offset, dtype=torch.int32))


def test_logspace_matches_torch():
    for args, kw in [((0, 3, 4), {}), ((-2, 2, 5), {"base": 2.0}), ((1, 0, 1), {}),
                     ((0, 1, 0), {}), ((0, 2, 5), {"dtype": "float64"})]:
        tkw = {k: getattr(torch, v) if k == "dtype" else v for k, v in kw.items()}
        nkw = {k: getattr(numcnn, v) if k == "dtype" else v for k, v in kw.items()}
        assert_close(numcnn.logspace(*args, **nkw), torch.logspace(*args, **tkw))
    assert numcnn.logspace(0, 2, 3, dtype=numcnn.int64).tolist() == [1, 10, 100]


# ----------------------------------------------------------------- aminmax, cov, corrcoef
@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (0, False), (-1, True)])
def test_aminmax_matches_torch(dim, keepdim):
    x = ties((3, 4), seed=14)
    n = numcnn.aminmax(numcnn.tensor(x), dim=dim, keepdim=keepdim)
    t = torch.aminmax(torch.tensor(x), dim=dim, keepdim=keepdim)
    assert_close(n.min, t.min)
    assert_close(n.max, t.max)
    compare(lambda F, x: x.aminmax(dim=dim, keepdim=keepdim), [random_array((3, 4), seed=15)])
    raises_like_torch(lambda F, x: lib(x).aminmax(x), [np.ones(0)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("correction", [1, 0, 2])
def test_cov_corrcoef_match_torch(dtype, correction):
    x = random_array((3, 6), dtype, 16)
    compare(lambda F, x: lib(x).cov(x, correction=correction), [x])
    compare(lambda F, x: x.cov(correction=correction), [np.asarray(x[0])])
    fw = np.array([1, 2, 1, 3, 1, 1])
    aw = random_array((6,), dtype, 17, low=0.2, high=1.5)
    compare(lambda F, x, f, a: lib(x).cov(x, correction=correction, fweights=f, aweights=a),
            [x, fw, aw], grad=False)
    compare(lambda F, x, a: lib(x).cov(x, aweights=a), [x, aw])
    compare(lambda F, x: lib(x).corrcoef(x), [x])
    compare(lambda F, x: x.corrcoef(), [np.arange(12).reshape(3, 4)], grad=False)


def test_cov_naive_gradcheck_errors():
    x = random_array((4, 7), seed=18)
    assert_close(numcnn.cov(numcnn.tensor(x)).numpy(), np.cov(x))
    assert_close(numcnn.corrcoef(numcnn.tensor(x)).numpy(), np.corrcoef(x))
    assert gradcheck(numcnn.cov, [leaf(x)])
    assert gradcheck(numcnn.corrcoef, [leaf(x)])
    raises_like_torch(lambda F, x: lib(x).cov(x), [np.ones((2, 2, 2))])
    raises_like_torch(lambda F, x, f: lib(x).cov(x, fweights=f), [x, np.ones(7)])
    raises_like_torch(lambda F, x, f: lib(x).cov(x, fweights=f), [x, -np.ones(7, np.int64)])


# ================================================================= third batch
@pytest.mark.parametrize("dtype", DTYPES)
def test_erfc_matches_torch_in_the_tails(dtype):
    x = np.array([-30.0, -5.0, -1.0, -0.3, 0.0, 0.2, 0.7, 2.0, 5.0, 9.0, 26.0, np.inf, -np.inf,
                  NAN], dtype=dtype)
    compare(lambda F, x: lib(x).erfc(x), [x], grad=False)
    y = random_array((3, 4), dtype, 1) * 2
    compare(lambda F, x: x.erfc(), [y])
    assert gradcheck(numcnn.erfc, [leaf(y.astype(np.float64))])
    n, t = numcnn.tensor(y.copy()), torch.tensor(y.copy())
    n.erfc_()
    t.erfc_()
    assert_close(n, t)


def test_can_cast_matches_torch():
    names = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
    for a in names:
        for b in names:
            assert numcnn.can_cast(getattr(numcnn, a), getattr(numcnn, b)) == \
                torch.can_cast(getattr(torch, a), getattr(torch, b)), (a, b)


@pytest.mark.parametrize("shape,args", [((2, 7), (1, 3, 2)), ((8,), (0, 2, 2)),
                                        ((3, 5, 4), (-2, 2, 1)), ((4, 6), (0, 4, 3)),
                                        ((5,), (0, 5, 1)), ((5,), (0, 0, 1)), ((), (0, 1, 1))])
def test_tensor_unfold_matches_torch(shape, args):
    x = np.asarray(random_array(shape, seed=2))
    compare(lambda F, x: x.unfold(*args), [x])
    if x.size:
        assert gradcheck(lambda t: t.unfold(*args), [leaf(x)])


def test_tensor_unfold_patches_naive_and_errors():
    img = random_array((2, 3, 6, 6), seed=3)                            # CNN patches, 3x3 stride 3
    p = numcnn.tensor(img).unfold(2, 3, 3).unfold(3, 3, 3).numpy()
    assert p.shape == (2, 3, 2, 2, 3, 3)
    assert_close(p[1, 2, 1, 0], img[1, 2, 3:6, 0:3])
    raises_like_torch(lambda F, x: x.unfold(0, 5, 1), [np.ones(3)])
    raises_like_torch(lambda F, x: x.unfold(0, 2, 0), [np.ones(3)])


def test_adjoint_mh_h_is_signed_casts():
    x = random_array((2, 3, 4), seed=4)
    compare(lambda F, x: lib(x).adjoint(x), [x])
    compare(lambda F, x: x.mH, [x])
    compare(lambda F, x: x.adjoint(), [x])
    compare(lambda F, x: x.H, [x[0].copy()])
    raises_like_torch(lambda F, x: x.H, [x])
    raises_like_torch(lambda F, x: lib(x).adjoint(x), [np.ones(3)])
    v = numcnn.tensor(x)
    v.mH[0, 0, 0] = 99.0                                                # a view
    assert v[0, 0, 0].item() == 99.0
    for d in ["bool", "uint8", "int8", "int16", "int64", "float32", "float64"]:
        a = np.zeros(2, dtype=d)
        assert numcnn.tensor(a).is_signed() == torch.tensor(a).is_signed(), d
    f = np.array([-1.7, 2.5, 300.0])
    for m in ("byte", "char", "short"):
        n, t = getattr(numcnn.tensor(f[:2]), m)(), getattr(torch.tensor(f[:2]), m)()
        assert_close(n, t)


@pytest.mark.parametrize("shape,size", [((2, 3, 4), (3, 1)), ((2, 3, 4), (1, 3, 4)),
                                        ((2, 3, 4), (2, 3, 4)), ((3, 1), (1,)), ((4,), ())])
def test_sum_to_size_matches_torch(shape, size):
    x = random_array(shape, seed=5)
    compare(lambda F, x: x.sum_to_size(size), [x])
    if size:
        compare(lambda F, x: x.sum_to_size(*size), [x])


def test_sum_to_size_errors():
    raises_like_torch(lambda F, x: x.sum_to_size(3, 3), [np.ones((2, 3))])


@pytest.mark.parametrize("dim,index", [(0, [1]), (1, [0, 2, 2]), (-1, [-1]), (1, [])])
def test_index_fill_matches_torch(dim, index):
    x = random_array((3, 4), seed=6)
    idx = np.array(index, dtype=np.int64)
    compare(lambda F, x, i: x.index_fill(dim, i, -1.5), [x, idx])
    if not (idx < 0).any():            # torch's tensor-value form fails on negative indices
        compare(lambda F, x, i, v: x.index_fill(dim, i, v), [x, idx, np.array(2.0)])
    n, t = numcnn.tensor(x.copy()), torch.tensor(x.copy())
    assert n.index_fill_(dim, numcnn.tensor(idx), 7) is n
    t.index_fill_(dim, torch.tensor(idx), 7)
    assert_close(n, t)
    raises_like_torch(lambda F, x, i: x.index_fill(dim, i, 0.0), [x, idx.astype(np.int32)])
    raises_like_torch(lambda F, x, i: x.index_fill(0, i, 0.0), [x, np.array([3])])
    raises_like_torch(lambda F, x, i: x.index_fill(0, i, 0.0), [x, np.array([-4])])


@pytest.mark.parametrize("accumulate", [False, True])
def test_put_matches_torch(accumulate):
    x = random_array((3, 4), seed=7)
    idx = np.array([[0, 5], [-1, 7]], dtype=np.int64)
    src = random_array((4,), seed=8)
    compare(lambda F, x, i, s: x.put(i, s, accumulate), [x, idx, src])
    dup = np.array([2, 2, 3], dtype=np.int64)
    n, t = numcnn.tensor(x.copy()), torch.tensor(x.copy())
    n.put_(numcnn.tensor(dup), numcnn.tensor(src[:3]), accumulate=True)
    t.put_(torch.tensor(dup), torch.tensor(src[:3]), accumulate=True)
    assert_close(n, t)
    raises_like_torch(lambda F, x, i, s: x.put(i, s), [x, np.array([12]), src[:1].copy()])
    raises_like_torch(lambda F, x, i, s: x.put(i, s), [x, np.array([1, 2]), src[:1].copy()])


@pytest.mark.parametrize("shape", [(3, 3), (5, 3), (3, 5), (7, 2), (2, 2, 2)])
@pytest.mark.parametrize("wrap", [False, True])
def test_fill_diagonal_matches_torch(shape, wrap):
    x = random_array(shape, seed=9)
    n, t = numcnn.tensor(x.copy()), torch.tensor(x.copy())
    assert n.fill_diagonal_(-4.0, wrap=wrap) is n
    t.fill_diagonal_(-4.0, wrap=wrap)
    assert_close(n, t)
    raises_like_torch(lambda F, x: x.clone().fill_diagonal_(1.0), [np.ones((2, 3, 2))])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p,dim,maxnorm", [(2, 0, 1.0), (1, 1, 2.0), (3, -1, 0.5), (2, 1, 100.0)])
def test_renorm_matches_torch(dtype, p, dim, maxnorm):
    x = random_array((3, 4, 2), dtype, 10) * 2
    compare(lambda F, x: lib(x).renorm(x, p, dim, maxnorm), [x])
    compare(lambda F, x: x.renorm(p, dim, maxnorm), [x])
    if dtype == np.float64:
        assert gradcheck(lambda t: t.renorm(p, dim, maxnorm), [leaf(x)])
    n, t = numcnn.tensor(x.copy()), torch.tensor(x.copy())
    n.renorm_(p, dim, maxnorm)
    t.renorm_(p, dim, maxnorm)
    assert_close(n, t)
    raises_like_torch(lambda F, x: lib(x).renorm(x, 0, 0, 1.0), [x])
    raises_like_torch(lambda F, x: lib(x).renorm(x, 2, 0, 1.0), [np.ones(3)])


def test_unravel_index_matches_torch():
    idx = np.array([[0, 5], [-1, 23], [24, -25]], dtype=np.int64)     # wraps around
    for shape in [(2, 3, 4), (24,), 24, (4, 6)]:
        n = numcnn.unravel_index(numcnn.tensor(idx), shape)
        t = torch.unravel_index(torch.tensor(idx), shape)
        assert len(n) == len(t)
        for a, b in zip(n, t):
            assert_close(a, b)
    err = _torch_error(lambda: torch.unravel_index(torch.tensor([1.0]), (2,)))
    with pytest.raises(type(err)):
        numcnn.unravel_index(numcnn.tensor([1.0]), (2,))


def _torch_error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        return e
    raise AssertionError("torch did not raise")


# ================================================================= fourth batch
def test_bernoulli_poisson_distributions_seeds_and_errors():
    numcnn.manual_seed(0)
    p = numcnn.tensor(np.array([0.0, 0.2, 0.9, 1.0], dtype=np.float32)).expand(20000, 4)
    draws = numcnn.bernoulli(p)
    assert draws.dtype == numcnn.float32
    freq = draws.numpy().mean(axis=0)
    assert freq[0] == 0 and freq[3] == 1
    assert abs(freq[1] - 0.2) < 0.015 and abs(freq[2] - 0.9) < 0.015   # 5 sigma
    numcnn.manual_seed(3)
    a = p.bernoulli(0.5)
    numcnn.manual_seed(3)
    assert (a.numpy() == numcnn.bernoulli(p, 0.5).numpy()).all()
    raises_like_torch(lambda F, x: lib(x).bernoulli(x), [np.array([1.5])])
    lam = numcnn.tensor(np.array([0.0, 3.0, 50.0])).expand(20000, 3)
    counts = numcnn.poisson(lam).numpy()
    assert counts[:, 0].max() == 0
    assert abs(counts[:, 1].mean() - 3) < 0.07 and abs(counts[:, 2].var() - 50) < 3.0
    raises_like_torch(lambda F, x: lib(x).poisson(x), [np.array([-1.0])])


@pytest.mark.parametrize("replacement", [False, True])
def test_multinomial_frequencies_shapes_and_errors(replacement):
    numcnn.manual_seed(1)
    w = np.array([[1.0, 0.0, 3.0, 6.0], [0.0, 0.0, 2.0, 2.0]])
    n = 1 if not replacement else 20000
    if replacement:
        s = numcnn.multinomial(numcnn.tensor(w), n, replacement=True).numpy()
        assert s.shape == (2, n) and s.dtype == np.int64
        f = np.stack([np.bincount(r, minlength=4) / n for r in s])
        np.testing.assert_allclose(f, w / w.sum(1, keepdims=True), atol=0.015)
    else:
        firsts = np.stack([numcnn.tensor(w).multinomial(2).numpy() for _ in range(4000)])
        assert firsts.shape == (4000, 2, 2)
        assert (firsts[:, :, 0] != firsts[:, :, 1]).all()               # no repeats
        assert not np.isin(firsts[:, 1], [0, 1]).any()                  # zero weight: never
        f = np.bincount(firsts[:, 0, 0], minlength=4) / 4000            # first draw ~ w
        np.testing.assert_allclose(f, w[0] / w[0].sum(), atol=0.03)
    assert tuple(numcnn.multinomial(numcnn.tensor(w[0]), 3, True).shape) == (3,)
    raises_like_torch(lambda F, x: lib(x).multinomial(x, 5), [w])       # 4 categories
    raises_like_torch(lambda F, x: lib(x).multinomial(x, 1), [-w])
    raises_like_torch(lambda F, x: lib(x).multinomial(x, 1), [np.ones((2, 2, 2))])


def test_randint_like_range_dtype_seed():
    x = numcnn.zeros(3, 500, dtype=numcnn.float32)
    numcnn.manual_seed(2)
    a = numcnn.randint_like(x, 3, 7)
    assert a.dtype == numcnn.float32 and a.shape == x.shape
    assert set(np.unique(a.numpy()).tolist()) == {3.0, 4.0, 5.0, 6.0}
    numcnn.manual_seed(2)
    assert (numcnn.randint_like(x, 3, 7).numpy() == a.numpy()).all()
    b = numcnn.randint_like(x, 5, dtype=numcnn.int64)
    assert b.dtype == numcnn.int64 and b.numpy().min() >= 0 and b.numpy().max() <= 4
    with pytest.raises(RuntimeError):
        numcnn.randint_like(x, 4, 4)


def test_top_level_relu_hardshrink_prelu_and_contains():
    x = random_array((2, 3, 4), seed=20)
    compare(lambda F, x: lib(x).hardshrink(x, 0.7), [x])
    compare(lambda F, x: x.hardshrink(), [x])
    compare(lambda F, x, w: lib(x).prelu(x, w), [x, np.array([0.1, -0.2, 0.3])])
    compare(lambda F, x, w: x.prelu(w), [x, np.array([0.25])])
    n, t = numcnn.tensor(x.copy()), torch.tensor(x.copy())
    assert numcnn.relu_(n) is n
    torch.relu_(t)
    assert_close(n, t)
    v = numcnn.tensor([[1.0, 2.0], [3.0, NAN]])
    assert 3.0 in v and 3 in v and numcnn.tensor(2.0) in v
    assert 5.0 not in v and NAN not in v
    with pytest.raises(RuntimeError):
        "a" in v  # noqa: B015


# ----------------------------------------------------------------- process-wide settings
def test_deterministic_and_precision_settings_round_trip_as_torch():
    from numcnn.functions import settings
    saved = dict(settings._state)
    t_saved = (torch.are_deterministic_algorithms_enabled(),
               torch.is_deterministic_algorithms_warn_only_enabled(),
               torch.get_float32_matmul_precision())
    try:
        for mode, warn in [(True, False), (True, True), (False, False)]:
            numcnn.use_deterministic_algorithms(mode, warn_only=warn)
            torch.use_deterministic_algorithms(mode, warn_only=warn)
            assert numcnn.are_deterministic_algorithms_enabled() == \
                torch.are_deterministic_algorithms_enabled()
            assert numcnn.is_deterministic_algorithms_warn_only_enabled() == \
                torch.is_deterministic_algorithms_warn_only_enabled()
            assert numcnn.get_deterministic_debug_mode() == torch.get_deterministic_debug_mode()
        for m in ("warn", 2, "default"):
            numcnn.set_deterministic_debug_mode(m)
            torch.set_deterministic_debug_mode(m)
            assert numcnn.get_deterministic_debug_mode() == torch.get_deterministic_debug_mode()
            assert numcnn.are_deterministic_algorithms_enabled() == \
                torch.are_deterministic_algorithms_enabled()
        for p in ("high", "medium", "highest"):
            numcnn.set_float32_matmul_precision(p)
            torch.set_float32_matmul_precision(p)
            assert numcnn.get_float32_matmul_precision() == torch.get_float32_matmul_precision()
        with pytest.warns(UserWarning, match="no effect"):
            numcnn.set_float32_matmul_precision("low")                   # torch: warns only
        assert numcnn.get_float32_matmul_precision() == "highest"
        for bad in (lambda lib: lib.set_deterministic_debug_mode(3),
                    lambda lib: lib.use_deterministic_algorithms(1)):
            with pytest.raises(type(_torch_error(lambda bad=bad: bad(torch)))):
                bad(numcnn)
    finally:
        settings._state.update(saved)
        torch.use_deterministic_algorithms(t_saved[0], warn_only=t_saved[1])
        torch.set_float32_matmul_precision(t_saved[2])


def test_other_settings():
    from numcnn.functions import settings
    saved = dict(settings._state)
    try:
        numcnn.set_warn_always(True)
        assert numcnn.is_warn_always_enabled() is True
        numcnn.set_warn_always(False)
        assert numcnn.is_warn_always_enabled() is False
        assert numcnn.get_num_interop_threads() >= 1
        numcnn.set_num_interop_threads(2)
        assert numcnn.get_num_interop_threads() == 2
        with pytest.raises(RuntimeError):
            numcnn.set_num_interop_threads(3)                          # once only, as torch
        settings._state["interop_set"] = False
        with pytest.raises(RuntimeError):
            numcnn.set_num_interop_threads(0)
        assert numcnn.init_num_threads() is None
        assert str(numcnn.get_default_device()) == str(torch.get_default_device()) == "cpu"
        numcnn.set_default_device("cpu")
        numcnn.set_default_device(None)
        with pytest.raises(RuntimeError):
            numcnn.set_default_device("cuda")
        assert numcnn.set_flush_denormal(True) is False
        assert numcnn.is_inference_mode_enabled() is False
        with numcnn.autograd.inference_mode():
            assert numcnn.is_inference_mode_enabled() is True
    finally:
        settings._state.update(saved)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", [{"bins": 7}, {"bins": 4, "range": (-1.0, 1.0)},
                                {"bins": 5, "density": True}, {"bins": 1}])
def test_histogram_matches_torch(dtype, kw):
    x = random_array((40,), dtype, 21)
    n = numcnn.histogram(numcnn.tensor(x), **kw)
    t = torch.histogram(torch.tensor(x), **kw)
    assert_close(n.hist, t.hist)
    assert_close(n.bin_edges, t.bin_edges)
    w = random_array((40,), dtype, 22, low=0, high=2)
    n = numcnn.tensor(x).histogram(kw["bins"], weight=numcnn.tensor(w))
    t = torch.tensor(x).histogram(kw["bins"], weight=torch.tensor(w))
    assert_close(n.hist, t.hist)


def test_histogram_edges_constant_input_and_errors():
    x = np.array([0.0, 0.5, 1.0, 1.0, 2.5, 3.0])
    edges = np.array([0.0, 1.0, 2.0, 3.0])                               # 3.0 in the last bin
    n = numcnn.histogram(numcnn.tensor(x), numcnn.tensor(edges))
    t = torch.histogram(torch.tensor(x), torch.tensor(edges))
    assert n.hist.tolist() == t.hist.tolist() == [2.0, 2.0, 2.0]
    c = np.full(4, 2.0)
    n, t = numcnn.histogram(numcnn.tensor(c), 3), torch.histogram(torch.tensor(c), 3)
    assert_close(n.hist, t.hist)
    assert_close(n.bin_edges, t.bin_edges)
    raises_like_torch(lambda F, x: lib(x).histogram(x, 3, range=(2.0, 1.0)), [x])
    raises_like_torch(lambda F, x: lib(x).histogram(x, 3), [np.arange(3)])
