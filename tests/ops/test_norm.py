"""Normalisation ops (numcnn.ops.norm via numcnn.nn.functional): three oracles and the errors.

1. PyTorch: forward, every gradient (input, weight, bias) and the running statistics, over
   grids of shapes (odd sizes, batch 1, one channel, 1-D/2-D/3-D), affine on/off, dtypes.
2. gradcheck in float64 for every op and mode.
3. A naive-loop batch norm written from the lecture's Algorithm 1, with a per-element
   chain-rule backward (the paper's derivation, not the closed form the kernel uses).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from tests.helpers import assert_close, compare, raises_like_torch, random_array

import numcnn
import numcnn.nn.functional as NF
from numcnn.autograd import gradcheck

DTYPES = [np.float32, np.float64]


def const(F, arr):
    """A tensor of `arr` that needs no gradient, in the library `F` belongs to."""
    if arr is None:
        return None
    return numcnn.tensor(arr.copy()) if F is NF else torch.tensor(arr.copy())


def t64(arr, grad=True):
    return numcnn.tensor(arr, dtype=numcnn.float64, requires_grad=grad)


# ----------------------------------------------------------------------------- naive oracle
def naive_batch_norm(x, gamma, beta, eps):
    """Algorithm 1 with explicit loops: per channel c, over every (n, spatial) value."""
    n, c = x.shape[0], x.shape[1]
    spatial = list(itertools.product(*[range(s) for s in x.shape[2:]]))
    m = n * len(spatial)
    y = np.zeros_like(x)
    mus, vars_ = np.zeros(c), np.zeros(c)
    for ch in range(c):
        mu = 0.0
        for i in range(n):
            for s in spatial:
                mu += x[(i, ch) + s]
        mu /= m
        var = 0.0
        for i in range(n):
            for s in spatial:
                var += (x[(i, ch) + s] - mu) ** 2
        var /= m
        for i in range(n):
            for s in spatial:
                xhat = (x[(i, ch) + s] - mu) / math.sqrt(var + eps)
                y[(i, ch) + s] = gamma[ch] * xhat + beta[ch]
        mus[ch], vars_[ch] = mu, var
    return y, mus, vars_


def naive_batch_norm_backward(x, gamma, gy, eps):
    """The chain rule element by element, through xhat, var and mu (Ioffe & Szegedy, sec. 3):

    dxhat_i = dy_i gamma
    dvar    = sum_i dxhat_i (x_i - mu) (-1/2) (var + eps)^(-3/2)
    dmu     = sum_i dxhat_i (-1/sqrt(var + eps)) + dvar sum_i (-2 (x_i - mu)) / m
    dx_i    = dxhat_i / sqrt(var + eps) + dvar 2 (x_i - mu) / m + dmu / m
    dgamma  = sum_i dy_i xhat_i,   dbeta = sum_i dy_i
    """
    n, c = x.shape[0], x.shape[1]
    spatial = list(itertools.product(*[range(s) for s in x.shape[2:]]))
    idx = [(i,) + s for i in range(n) for s in spatial]
    m = len(idx)
    gx = np.zeros_like(x)
    dgamma, dbeta = np.zeros(c), np.zeros(c)
    for ch in range(c):
        vals = [x[(i[0], ch) + i[1:]] for i in idx]
        mu = sum(vals) / m
        var = sum((v - mu) ** 2 for v in vals) / m
        dxhat = [gy[(i[0], ch) + i[1:]] * gamma[ch] for i in idx]
        dvar = sum(d * (v - mu) * -0.5 * (var + eps) ** -1.5 for d, v in zip(dxhat, vals))
        dmu = sum(d * -1 / math.sqrt(var + eps) for d in dxhat) \
            + dvar * sum(-2 * (v - mu) for v in vals) / m
        for d, v, i in zip(dxhat, vals, idx):
            gx[(i[0], ch) + i[1:]] = d / math.sqrt(var + eps) + dvar * 2 * (v - mu) / m + dmu / m
            xhat = (v - mu) / math.sqrt(var + eps)
            dgamma[ch] += gy[(i[0], ch) + i[1:]] * xhat
            dbeta[ch] += gy[(i[0], ch) + i[1:]]
    return gx, dgamma, dbeta


@pytest.mark.parametrize("shape", [(3, 2, 4, 5), (2, 3), (1, 2, 5), (2, 1, 2, 3, 2)])
def test_batch_norm_against_naive_loops(shape):
    x = random_array(shape, seed=1) * 3 + 1.5
    c = shape[1]
    gamma, beta = random_array((c,), seed=2), random_array((c,), seed=3)
    gy = random_array(shape, seed=4)
    eps = 1e-5
    y_ref, mu_ref, var_ref = naive_batch_norm(x, gamma, beta, eps)
    gx_ref, gg_ref, gb_ref = naive_batch_norm_backward(x, gamma, gy, eps)

    xt, gt, bt = t64(x), t64(gamma), t64(beta)
    rm, rv = numcnn.zeros(c, dtype=numcnn.float64), numcnn.ones(c, dtype=numcnn.float64)
    y = NF.batch_norm(xt, rm, rv, gt, bt, training=True, momentum=1.0, eps=eps)
    y.backward(numcnn.tensor(gy))
    np.testing.assert_allclose(y.array, y_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xt.grad.array, gx_ref, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(gt.grad.array, gg_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bt.grad.array, gb_ref, rtol=1e-10, atol=1e-12)
    # momentum 1: the running stats ARE the batch mean and the UNBIASED batch variance
    m = x.size // c
    np.testing.assert_allclose(rm.array, mu_ref, rtol=1e-12)
    np.testing.assert_allclose(rv.array, var_ref * m / (m - 1), rtol=1e-12)


def test_batch_norm_lecture_example_mean_shape():
    """Lecture: the mean of a (b x c x h x w) volume is (1 x c x 1 x 1): one per channel."""
    x = np.zeros((2, 3, 2, 2))
    x[:, 1] = 5.0
    x[:, 2] = np.arange(8).reshape(2, 2, 2)
    rm = numcnn.zeros(3, dtype=numcnn.float64)
    rv = numcnn.ones(3, dtype=numcnn.float64)
    y = NF.batch_norm(numcnn.tensor(x), rm, rv, training=True, momentum=1.0)
    np.testing.assert_allclose(rm.array, [0.0, 5.0, 3.5])
    np.testing.assert_allclose(rv.array, [0.0, 0.0, np.var(np.arange(8), ddof=1)])
    np.testing.assert_allclose(y.array[:, :2], 0.0)          # constant channels -> 0
    np.testing.assert_allclose(y.array[:, 2].mean(), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.array[:, 2].var(), 5.25 / (5.25 + 1e-5), rtol=1e-12)  # biased


# ----------------------------------------------------------------------------- torch: batch
BN_SHAPES = [(4, 3), (5, 1), (3, 2, 7), (1, 3, 5), (2, 3, 5, 7), (1, 1, 3, 3), (2, 2, 3, 2, 3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training_matches_torch(shape, affine, dtype):
    c = shape[1]
    x = random_array(shape, dtype, seed=5) * 2 + 0.5
    w = random_array((c,), dtype, seed=6) if affine else None
    b = random_array((c,), dtype, seed=7) if affine else None
    rm0 = random_array((c,), dtype, seed=8)
    rv0 = random_array((c,), dtype, seed=9, low=0.5, high=2.0)
    stats = {}

    def fn(F, x, w, b):
        rm, rv = const(F, rm0), const(F, rv0)
        stats[F is NF] = (rm, rv)
        return F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.3, eps=1e-3)

    compare(fn, [x, w, b])
    for i in range(2):
        assert_close(stats[True][i], stats[False][i], what=f"running stat {i}")
        assert stats[True][i].dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 3), (1, 3, 5), (2, 3, 5, 7), (2, 2, 3, 2, 3)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_eval_matches_torch(shape, affine, dtype):
    c = shape[1]
    x = random_array(shape, dtype, seed=10)
    w = random_array((c,), dtype, seed=11) if affine else None
    b = random_array((c,), dtype, seed=12) if affine else None
    rm0 = random_array((c,), dtype, seed=13)
    rv0 = random_array((c,), dtype, seed=14, low=0.5, high=2.0)
    stats = {}

    def fn(F, x, w, b):
        rm, rv = const(F, rm0), const(F, rv0)
        stats[F is NF] = (rm, rv)
        return F.batch_norm(x, rm, rv, w, b, training=False)

    compare(fn, [x, w, b])
    assert_close(stats[True][0], rm0)                   # eval leaves the running stats alone
    assert_close(stats[True][1], rv0)


def test_batch_norm_training_without_running_stats_and_2d_weight():
    x = random_array((3, 4, 5), seed=15)
    w, b = random_array((4,), seed=16), random_array((4,), seed=17)
    compare(lambda F, x, w, b: F.batch_norm(x, None, None, w, b, training=True), [x, w, b])
    # torch accepts a (C, 1) weight in forward (its backward then fails); numcnn does both,
    # and the weight's gradient keeps the weight's shape
    w2 = w.reshape(4, 1)
    compare(lambda F, x, w, b: F.batch_norm(x, None, None, w, b, training=True), [x, w2, b],
            grad=False)
    wt = t64(w2)
    NF.batch_norm(t64(x), None, None, wt, None, training=True).sum().backward()
    assert wt.grad.shape == (4, 1)


def test_batch_norm_keeps_float32_and_large_mean():
    """float32 in, float32 out, and no cancellation trouble with a large mean."""
    x = (random_array((8, 3, 6, 6), np.float32, seed=18) + 1000).astype(np.float32)
    w, b = random_array((3,), np.float32, seed=19), random_array((3,), np.float32, seed=20)
    out, _ = compare(lambda F, x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                     [x, w, b], rtol=1e-3, atol=1e-3)
    assert out.dtype == np.float32


def test_batch_norm_empty_batch_leaves_running_stats():
    rm, rv = numcnn.zeros(3), numcnn.ones(3)
    y = NF.batch_norm(numcnn.zeros((0, 3, 4)), rm, rv, training=True)
    assert y.shape == (0, 3, 4)
    assert np.all(rm.array == 0) and np.all(rv.array == 1)


# ----------------------------------------------------------------------------- torch: instance
IN_SHAPES = [(2, 3, 5), (1, 1, 4), (3, 2, 3, 4), (2, 2, 2, 3, 2)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", IN_SHAPES)
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("running", [True, False])
def test_instance_norm_matches_torch(shape, affine, running, dtype):
    c = shape[1]
    x = random_array(shape, dtype, seed=21) * 1.5 - 0.3
    w = random_array((c,), dtype, seed=22) if affine else None
    b = random_array((c,), dtype, seed=23) if affine else None
    rm0 = random_array((c,), dtype, seed=24)
    rv0 = random_array((c,), dtype, seed=25, low=0.5, high=2.0)
    stats = {}

    def fn(F, x, w, b):
        rm = const(F, rm0) if running else None
        rv = const(F, rv0) if running else None
        stats[F is NF] = (rm, rv)
        return F.instance_norm(x, rm, rv, w, b, use_input_stats=True, momentum=0.4)

    compare(fn, [x, w, b])
    if running:
        for i in range(2):
            assert_close(stats[True][i], stats[False][i], what=f"running stat {i}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_instance_norm_with_running_stats_only(dtype):
    x = random_array((2, 3, 4, 5), dtype, seed=26)
    w, b = random_array((3,), dtype, seed=27), random_array((3,), dtype, seed=28)
    rm0 = random_array((3,), dtype, seed=29)
    rv0 = random_array((3,), dtype, seed=30, low=0.5, high=2.0)
    compare(lambda F, x, w, b: F.instance_norm(x, const(F, rm0), const(F, rv0), w, b,
                                               use_input_stats=False), [x, w, b])


# ----------------------------------------------------------------------------- torch: group
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,groups", [((2, 6, 5), 1), ((2, 6, 5), 2), ((2, 6, 5), 3),
                                          ((2, 6, 5), 6), ((1, 4, 3, 3), 2), ((3, 4), 2),
                                          ((2, 3, 2, 3, 2), 3), ((1, 1, 7), 1)])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_matches_torch(shape, groups, affine, dtype):
    c = shape[1]
    x = random_array(shape, dtype, seed=31) * 2 + 1
    w = random_array((c,), dtype, seed=32) if affine else None
    b = random_array((c,), dtype, seed=33) if affine else None
    compare(lambda F, x, w, b: F.group_norm(x, groups, w, b, eps=1e-4), [x, w, b])


# ----------------------------------------------------------------------------- torch: layer
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,norm", [((3, 5), (5,)), ((2, 3, 4), (3, 4)), ((7,), (7,)),
                                        ((2, 3, 4, 5), (3, 4, 5)), ((1, 1), (1,)),
                                        ((2, 3, 5, 4), (4,))])
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_layer_norm_matches_torch(shape, norm, affine, dtype):
    x = random_array(shape, dtype, seed=34) * 3
    w = random_array(norm, dtype, seed=35) if affine != "none" else None
    b = random_array(norm, dtype, seed=36) if affine == "both" else None
    compare(lambda F, x, w, b: F.layer_norm(x, list(norm), w, b, eps=1e-5), [x, w, b])


# ----------------------------------------------------------------------------- torch: LRN
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 7, 5), (1, 5, 3, 4), (2, 6, 2, 3, 2), (1, 1, 3)])
@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 9])
def test_local_response_norm_matches_torch(shape, size, dtype):
    x = random_array(shape, dtype, seed=37) * 2
    compare(lambda F, x: F.local_response_norm(x, size, alpha=0.3, beta=0.75, k=1.5), [x])


def test_local_response_norm_alexnet_defaults_and_naive_formula():
    """AlexNet-style numbers, checked against the formula written per element."""
    x = random_array((2, 8, 3, 3), seed=38) * 4
    size, alpha, beta, k = 5, 1e-2, 0.75, 2.0
    y = NF.local_response_norm(numcnn.tensor(x), size, alpha, beta, k).array
    ref = np.zeros_like(x)
    for n, c, i, j in itertools.product(*[range(s) for s in x.shape]):
        lo, hi = max(0, c - size // 2), min(x.shape[1] - 1, c + (size - 1) // 2)
        s = sum(x[n, cc, i, j] ** 2 for cc in range(lo, hi + 1))
        ref[n, c, i, j] = x[n, c, i, j] / (k + alpha / size * s) ** beta
    np.testing.assert_allclose(y, ref, rtol=1e-12)
    compare(lambda F, x: F.local_response_norm(x, 5), [x])


# ----------------------------------------------------------------------------- gradcheck
def test_gradcheck_batch_norm_training_and_eval():
    x, w, b = (t64(random_array(s, seed=40 + i)) for i, s in enumerate([(3, 2, 3), (2,), (2,)]))
    assert gradcheck(lambda x, w, b: NF.batch_norm(x, None, None, w, b, training=True),
                     (x, w, b))
    rm = numcnn.tensor(random_array((2,), seed=44))
    rv = numcnn.tensor(random_array((2,), seed=45, low=0.5, high=2))
    assert gradcheck(lambda x, w, b: NF.batch_norm(x, rm, rv, w, b, training=False), (x, w, b))
    assert gradcheck(lambda x: NF.batch_norm(x, None, None, training=True), (x,))


def test_gradcheck_instance_group_layer_lrn():
    x = t64(random_array((2, 4, 3), seed=46))
    w, b = t64(random_array((4,), seed=47)), t64(random_array((4,), seed=48))
    assert gradcheck(lambda x, w, b: NF.instance_norm(x, weight=w, bias=b), (x, w, b))
    assert gradcheck(lambda x, w, b: NF.group_norm(x, 2, w, b), (x, w, b))
    lw, lb = t64(random_array((4, 3), seed=49)), t64(random_array((4, 3), seed=50))
    assert gradcheck(lambda x, w, b: NF.layer_norm(x, (4, 3), w, b), (x, lw, lb))
    assert gradcheck(lambda x: NF.local_response_norm(x, 3, alpha=0.5, beta=0.75, k=1.0), (x,))
    assert gradcheck(lambda x: NF.local_response_norm(x, 2, alpha=0.5, beta=1.3, k=0.7), (x,))


# ----------------------------------------------------------------------------- errors
def _bn(F, x, rm=None, rv=None, w=None, b=None, **kw):
    return F.batch_norm(x, const(F, rm), const(F, rv), const(F, w), const(F, b), **kw)


X = random_array((2, 3, 4), seed=60)
ONES3, ONES4 = np.ones(3), np.ones(4)
ERROR_CASES = [
    ("bn one value per channel", lambda F, x: _bn(F, x, training=True), [random_array((1, 3))]),
    ("bn batch 1 spatial 1", lambda F, x: _bn(F, x, training=True), [random_array((1, 3, 1))]),
    ("bn eval without stats", lambda F, x: _bn(F, x, training=False), [X]),
    ("bn eval without var", lambda F, x: _bn(F, x, ONES3, training=False), [X]),
    ("bn mean without var", lambda F, x: _bn(F, x, ONES3, training=True), [X]),
    ("bn wrong running size", lambda F, x: _bn(F, x, ONES4, ONES4, training=True), [X]),
    ("bn wrong weight size", lambda F, x: _bn(F, x, w=ONES4, training=True), [X]),
    ("bn wrong bias size", lambda F, x: _bn(F, x, b=ONES4, training=True), [X]),
    ("bn 1-D input", lambda F, x: _bn(F, x, training=True), [random_array((5,))]),
    ("bn eps 0 training", lambda F, x: _bn(F, x, training=True, eps=0.0), [X]),
    ("bn eps negative", lambda F, x: _bn(F, x, ONES3, ONES3, eps=-1.0), [X]),
    ("bn integer input", lambda F, x: _bn(F, x, training=True),
     [np.ones((2, 3), dtype=np.int64)]),
    ("in one spatial element", lambda F, x: F.instance_norm(x), [random_array((2, 3, 1))]),
    ("in 2-D input", lambda F, x: F.instance_norm(x), [random_array((2, 3))]),
    ("in no stats", lambda F, x: F.instance_norm(x, use_input_stats=False), [X]),
    ("in mean only", lambda F, x: F.instance_norm(x, const(F, ONES3)), [X]),
    ("in wrong weight", lambda F, x: F.instance_norm(x, weight=const(F, ONES4)), [X]),
    ("ln shape mismatch", lambda F, x: F.layer_norm(x, (3,)), [X]),
    ("ln too long", lambda F, x: F.layer_norm(x, (1, 2, 3, 4)), [X]),
    ("ln empty", lambda F, x: F.layer_norm(x, ()), [X]),
    ("ln int shape", lambda F, x: F.layer_norm(x, 4), [X]),
    ("ln weight shape", lambda F, x: F.layer_norm(x, (3, 4), const(F, np.ones(12))), [X]),
    ("gn not dividing", lambda F, x: F.group_norm(x, 2), [X]),
    ("gn 1-D", lambda F, x: F.group_norm(x, 1), [random_array((6,))]),
    ("gn one value per group", lambda F, x: F.group_norm(x, 3), [random_array((1, 3))]),
    ("gn weight size", lambda F, x: F.group_norm(x, 3, const(F, ONES4)), [X]),
    ("gn float groups", lambda F, x: F.group_norm(x, 1.0), [X]),
    ("lrn 2-D", lambda F, x: F.local_response_norm(x, 2), [random_array((2, 3))]),
    ("lrn size 0", lambda F, x: F.local_response_norm(x, 0), [X]),
]


@pytest.mark.parametrize("name,fn,arrays", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_errors_like_torch(name, fn, arrays):
    err = raises_like_torch(fn, arrays)
    assert err is not None, f"{name}: torch accepted it"
    with pytest.raises(Exception) as info:                  # and the same error type
        fn(NF, *[numcnn.tensor(a) if isinstance(a, np.ndarray) else a for a in arrays])
    assert type(info.value) is type(err), f"{name}: {info.value!r} vs torch's {err!r}"


def test_error_messages_are_clear():
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        NF.batch_norm(numcnn.randn(1, 3), None, None, training=True)
    with pytest.raises(RuntimeError, match="running_mean should contain 3 elements"):
        NF.batch_norm(numcnn.randn(2, 3), numcnn.zeros(4), numcnn.ones(4), training=True)
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        NF.group_norm(numcnn.randn(2, 3, 4), 2)
    with pytest.raises(RuntimeError, match=r"normalized_shape=\[5\]"):
        NF.layer_norm(numcnn.randn(2, 3, 4), [5])
    with pytest.raises(TypeError, match="'input' must be Tensor"):
        NF.batch_norm(np.ones((2, 3)), None, None, training=True)


@pytest.mark.parametrize("shape", [(2, 3), (1, 3, 1)])
def test_batch_of_one_is_fine_in_eval(shape):
    x = random_array(shape, seed=61)
    compare(lambda F, x: F.batch_norm(x, const(F, ONES3 * 0.5), const(F, ONES3 * 2.0)), [x])


def test_lrn_empty_input_is_returned():
    x = numcnn.zeros((0, 4, 3))
    assert NF.local_response_norm(x, 2) is x


# ----------------------------------------------------------------------------- memory layouts
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(3, 4, 5, 6), (2, 3, 4), (2, 3, 2, 3, 4)])
def test_batch_norm_channels_last_memory(training, shape):
    """An NCHW view of NHWC memory is worked on in place of a copy, with the same results,
    and the output keeps the channels-last layout."""
    c = shape[1]
    last = random_array((shape[0], *shape[2:], c), seed=70) * 2 + 1    # (N, *, C) memory
    x_view = np.moveaxis(last, -1, 1)                                   # (N, C, *) view
    assert not x_view.flags.c_contiguous
    w, b = random_array((c,), seed=71), random_array((c,), seed=72)
    rm0, rv0 = random_array((c,), seed=73), random_array((c,), seed=74, low=0.5, high=2)
    gy = random_array(shape, seed=75)
    results = []
    for x in (x_view, np.ascontiguousarray(x_view)):
        xt, wt, bt = numcnn.Tensor(x, requires_grad=True), t64(w), t64(b)
        rm, rv = numcnn.tensor(rm0), numcnn.tensor(rv0)
        y = NF.batch_norm(xt, rm, rv, wt, bt, training=training)
        y.backward(numcnn.tensor(gy))
        results.append((y.array, xt.grad.array, wt.grad.array, bt.grad.array, rm.array, rv.array))
    for a, e in zip(*results):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)
    assert np.moveaxis(results[0][0], 1, -1).flags.c_contiguous      # layout kept
    compare(lambda F, x, w, b: F.batch_norm(x, const(F, rm0), const(F, rv0), w, b,
                                            training=training), [x_view, w, b])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(8, 16, 12, 12), (3, 16, 5, 5), (4, 24, 7, 6), (64, 8)])
def test_batch_norm_channels_last_wide_rows(shape, dtype):
    """Channels-last input is worked on as rows about 512 values wide (k = 32 rows of 16
    channels folded into one for (8, 16, 12, 12); none for 75 rows): against torch, training."""
    c = shape[1]
    last = random_array((shape[0], *shape[2:], c), dtype, seed=80) * 3 + 2
    x = np.moveaxis(last, -1, 1) if len(shape) > 2 else last
    w, b = random_array((c,), dtype, seed=81), random_array((c,), dtype, seed=82)
    rm0, rv0 = random_array((c,), dtype, seed=83), random_array((c,), dtype, seed=84, low=0.5,
                                                                  high=2)
    compare(lambda F, x, w, b: F.batch_norm(x, const(F, rm0), const(F, rv0), w, b,
                                            training=True, momentum=0.2), [x, w, b])
