"""Pooling: numcnn against PyTorch (forward, indices, input gradients), finite differences, naive
loops written from the lecture formulas, the seeds' worked examples, and the argument checks."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from tests.helpers import assert_close, compare, raises_like_torch, random_array

import numcnn
import numcnn.nn.functional as F
from numcnn.autograd.gradcheck import gradcheck

DTYPES = [np.float32, np.float64]


# ----------------------------------------------------------------------------- naive oracles


def naive_pool2d(x: np.ndarray, k: int, s: int, p: int = 0, d: int = 1, ceil_mode: bool = False,
                 mode: str = "max", count_include_pad: bool = True) -> np.ndarray:
    """Loops straight from the definition: window (i, j) reads x[i*s - p + a*d, j*s - p + b*d].

    Output size: floor((H + 2p - d(k-1) - 1)/s) + 1 (ceil with ceil_mode, dropping a last
    window that starts in the right padding).  Average: divide by the window's cells inside
    the padded input (count_include_pad) or inside the input only.
    """
    n, c, h, w = x.shape

    def out_len(size: int) -> int:
        num = size + 2 * p - d * (k - 1) - 1
        o = (math.ceil(num / s) if ceil_mode else num // s) + 1
        if ceil_mode and (o - 1) * s >= size + p:
            o -= 1
        return o

    ho, wo = out_len(h), out_len(w)
    y = np.zeros((n, c, ho, wo), dtype=x.dtype)
    for b_, c_, i, j in itertools.product(range(n), range(c), range(ho), range(wo)):
        vals, padded_cells = [], 0
        for a, b in itertools.product(range(k), range(k)):
            r, q = i * s - p + a * d, j * s - p + b * d
            if 0 <= r < h and 0 <= q < w:
                vals.append(x[b_, c_, r, q])
            elif -p <= r < h + p and -p <= q < w + p:
                padded_cells += 1
        if mode == "max":
            y[b_, c_, i, j] = max(vals)
        else:
            y[b_, c_, i, j] = sum(vals) / (len(vals) + (padded_cells if count_include_pad else 0))
    return y


# ----------------------------------------------------------------------------- seed examples


def test_seed000_patch_max_is_200_and_average_is_90():
    patch = np.array([[200, 150, 150], [100, 50, 100], [25, 25, 10]], dtype=np.float32)
    x = numcnn.tensor(patch[None, None])
    assert F.max_pool2d(x, 3).item() == 200.0
    assert F.avg_pool2d(x, 3).item() == pytest.approx(90.0)


def test_seed001_4x4_max_pool_2x2_stride_2():
    x = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=np.float32)
    y = F.max_pool2d(numcnn.tensor(x[None, None]), kernel_size=2, stride=2)
    np.testing.assert_array_equal(y.numpy()[0, 0], [[6, 8], [3, 4]])
    # and the backward pass of the lecture: the gradient goes to the winners only
    xt = numcnn.tensor(x[None, None], requires_grad=True)
    F.max_pool2d(xt, 2).sum().backward()
    expected = np.zeros((4, 4), np.float32)
    expected[1, 1] = expected[1, 3] = expected[2, 0] = expected[3, 3] = 1
    np.testing.assert_array_equal(xt.grad.numpy()[0, 0], expected)


NAIVE_CFGS = [dict(k=2, s=2), dict(k=3, s=2, p=1), dict(k=2, s=3),
              dict(k=3, s=2, p=1, ceil_mode=True), dict(k=2, s=2, p=1, ceil_mode=True)]


@pytest.mark.parametrize("cfg,mode", [(c, m) for c in NAIVE_CFGS + [dict(k=3, s=1, p=1, d=2)]
                                      for m in ("max", "avg", "avg_nopad")
                                      if m == "max" or "d" not in c])
def test_against_naive_loops(cfg, mode):
    x = random_array((2, 2, 7, 6), seed=3)
    include = mode != "avg_nopad"
    want = naive_pool2d(x, mode="max" if mode == "max" else "avg", count_include_pad=include,
                        **cfg)
    xt = numcnn.tensor(x)
    if mode == "max":
        got = F.max_pool2d(xt, cfg["k"], cfg["s"], cfg.get("p", 0), cfg.get("d", 1),
                           cfg.get("ceil_mode", False))
    else:
        got = F.avg_pool2d(xt, cfg["k"], cfg["s"], cfg.get("p", 0), cfg.get("ceil_mode", False),
                           count_include_pad=include)
    assert_close(got, want)


# ----------------------------------------------------------------------------- max pooling


MAX2D = [
    ((2, 3, 8, 8), dict(kernel_size=2)),
    ((1, 1, 7, 5), dict(kernel_size=3, stride=2)),                  # odd sizes, batch 1, 1 ch
    ((2, 2, 9, 7), dict(kernel_size=2, stride=3)),                  # stride > kernel
    ((2, 2, 9, 9), dict(kernel_size=3, stride=1, padding=1)),       # overlapping windows
    ((1, 2, 10, 9), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(2, 3))),
    ((2, 1, 7, 7), dict(kernel_size=2, stride=2, ceil_mode=True)),  # last window overhangs
    ((2, 1, 6, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 1, 5, 5), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True)),  # would start in pad
    ((1, 2, 5, 8), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True, dilation=2)),
    ((3, 4, 5), dict(kernel_size=2, stride=1)),                     # unbatched
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,kw", MAX2D)
def test_max_pool2d_matches_torch(shape, kw, dtype):
    x = random_array(shape, dtype, seed=1)
    compare(lambda F_, t: F_.max_pool2d(t, **kw, return_indices=True), [x])
    compare(lambda F_, t: F_.max_pool2d(t, **kw), [x])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,kw", [
    ((2, 3, 11), dict(kernel_size=3, stride=2, padding=1)),
    ((1, 1, 7), dict(kernel_size=2, stride=2, ceil_mode=True)),
    ((2, 2, 10), dict(kernel_size=3, stride=1, dilation=3, padding=1)),
    ((3, 6), dict(kernel_size=4, stride=5)),
])
def test_max_pool1d_matches_torch(shape, kw, dtype):
    compare(lambda F_, t: F_.max_pool1d(t, **kw, return_indices=True),
            [random_array(shape, dtype, seed=2)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,kw", [
    ((2, 2, 5, 6, 7), dict(kernel_size=2)),
    ((1, 1, 5, 5, 5), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 2, 6, 5, 7), dict(kernel_size=(2, 3, 2), stride=(1, 2, 3), dilation=(2, 1, 2))),
    ((2, 4, 4, 4), dict(kernel_size=2, stride=1)),
])
def test_max_pool3d_matches_torch(shape, kw, dtype):
    compare(lambda F_, t: F_.max_pool3d(t, **kw, return_indices=True),
            [random_array(shape, dtype, seed=3)])


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                                dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=2, stride=1, dilation=2)])
def test_max_pool2d_ties_first_maximum_wins_like_torch(kw):
    """All-equal inputs and integer-valued inputs with repeated maxima: indices and the routing
    of the gradient must be torch's (the first maximum in row-major window order)."""
    equal = np.full((1, 2, 6, 6), 3.0)
    repeated = np.random.default_rng(0).integers(0, 3, (2, 2, 7, 7)).astype(np.float64)
    for x in (equal, repeated, repeated.astype(np.float32)):
        compare(lambda F_, t: F_.max_pool2d(t, **kw, return_indices=True), [x])
    compare(lambda F_, t: F_.max_pool1d(t, 3, 1, 1, return_indices=True),
            [np.random.default_rng(1).integers(0, 2, (2, 3, 9)).astype(np.float64)])
    compare(lambda F_, t: F_.max_pool3d(t, 2, 1, return_indices=True),
            [np.random.default_rng(2).integers(0, 2, (1, 2, 4, 4, 4)).astype(np.float64)])


def test_max_pool_nan_propagates_like_torch():
    x = np.array([[[[1.0, np.nan, 0.0], [np.nan, 2.0, 5.0], [1.0, 1.0, 1.0]]]])
    compare(lambda F_, t: F_.max_pool2d(t, 2, 1, return_indices=True), [x], grad=False)


def test_max_pool_all_minus_inf_with_padding_reports_first_real_cell():
    x = np.full((1, 1, 3, 3), -np.inf)
    compare(lambda F_, t: F_.max_pool2d(t, 2, 1, 1, return_indices=True), [x], grad=False)


def test_max_pool_integer_input_like_torch():
    x = np.arange(50, dtype=np.int64).reshape(1, 2, 5, 5) % 7
    compare(lambda F_, t: F_.max_pool2d(t, 2, return_indices=True), [x], grad=False)
    compare(lambda F_, t: F_.avg_pool2d(t, 2, ceil_mode=True), [x - 3], grad=False)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", [dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=2),
                                dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=(3, 2), stride=(1, 2), dilation=(2, 1))])
def test_max_pool_many_planes_layout_matches_torch(kw, dtype):
    """More planes (N*C) than output columns: the kernel pools a spatial-first copy and returns
    views of it.  Ties, NaNs, -inf and a channels-last input all go through that path here."""
    rng = np.random.default_rng(4)
    x = rng.integers(0, 3, (4, 6, 7, 8)).astype(dtype)              # many repeated maxima
    x[0, 0, 1, 2] = x[1, 3, 4, 4] = x[1, 3, 4, 5] = np.nan
    x[2, 1] = -np.inf
    compare(lambda F_, t: F_.max_pool2d(t, **kw, return_indices=True), [x], grad=False)
    ties = rng.integers(0, 3, (4, 6, 7, 8)).astype(dtype)
    compare(lambda F_, t: F_.max_pool2d(t, **kw, return_indices=True), [ties])
    cl = np.moveaxis(np.ascontiguousarray(np.moveaxis(ties, 1, -1)), -1, 1)  # NCHW view of NHWC
    compare(lambda F_, t: F_.max_pool2d(t, **kw), [cl])
    compare(lambda F_, t: F_.max_pool1d(t, 3, 2, 1, return_indices=True), [ties[0]])


def test_max_pool_keeps_float32():
    y = F.max_pool2d(numcnn.tensor(np.ones((1, 1, 4, 4), np.float32)), 2)
    assert y.dtype == np.float32


def test_max_pool_empty_batch():
    compare(lambda F_, t: F_.max_pool2d(t, 2), [np.zeros((0, 2, 4, 4))], grad=False)


# ----------------------------------------------------------------------------- unpooling


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd,shape,kw,out", [
    (1, (2, 3, 9), dict(kernel_size=3, stride=2), None),
    (2, (2, 2, 6, 6), dict(kernel_size=2), None),
    (2, (1, 1, 7, 5), dict(kernel_size=2), (7, 5)),                       # recover odd sizes
    (2, (1, 2, 6, 7), dict(kernel_size=3, stride=2, padding=1), (1, 2, 6, 7)),
    (2, (2, 5, 5), dict(kernel_size=2, stride=1), None),                   # unbatched
    (3, (1, 2, 4, 5, 4), dict(kernel_size=2), (4, 5, 4)),
])
def test_max_unpool_round_trip_matches_torch(nd, shape, kw, out, dtype):
    x = random_array(shape, dtype, seed=4)

    def run(F_, t):
        pool = getattr(F_, f"max_pool{nd}d")
        unpool = getattr(F_, f"max_unpool{nd}d")
        y, idx = pool(t, **kw, return_indices=True)
        return unpool(y * 2.0, idx, **kw, output_size=out), idx

    compare(run, [x])


def test_max_unpool_gradient_is_gather():
    y = numcnn.tensor(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), requires_grad=True)
    idx = numcnn.tensor(np.array([[[[0, 3], [9, 15]]]]))
    out = F.max_unpool2d(y, idx, 2)
    np.testing.assert_array_equal(out.detach().numpy().reshape(-1)[[0, 3, 9, 15]], [1, 2, 3, 4])
    g = np.arange(16.0).reshape(1, 1, 4, 4)
    out.backward(numcnn.tensor(g))
    np.testing.assert_array_equal(y.grad.numpy(), [[[[0, 3], [9, 15]]]])


# ----------------------------------------------------------------------------- average pooling


AVG2D = [
    ((2, 3, 8, 8), dict(kernel_size=2)),
    ((1, 1, 7, 5), dict(kernel_size=3, stride=2)),
    ((2, 2, 9, 7), dict(kernel_size=2, stride=3)),
    ((2, 2, 7, 7), dict(kernel_size=3, stride=1, padding=1)),
    ((2, 2, 7, 7), dict(kernel_size=3, stride=1, padding=1, count_include_pad=False)),
    ((1, 2, 6, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 2, 6, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                        count_include_pad=False)),
    ((1, 1, 5, 5), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True)),
    ((2, 1, 5, 4), dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 1), ceil_mode=True)),
    ((1, 2, 7, 6), dict(kernel_size=3, stride=2, padding=1, divisor_override=4)),
    ((1, 2, 7, 6), dict(kernel_size=2, ceil_mode=True, divisor_override=3)),
    ((3, 5, 5), dict(kernel_size=2, stride=1)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,kw", AVG2D)
def test_avg_pool2d_matches_torch(shape, kw, dtype):
    compare(lambda F_, t: F_.avg_pool2d(t, **kw), [random_array(shape, dtype, seed=5)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,kw", [
    ((2, 3, 11), dict(kernel_size=3, stride=2, padding=1)),
    ((2, 3, 11), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ((1, 1, 7), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True)),
    ((3, 6), dict(kernel_size=2)),
])
def test_avg_pool1d_matches_torch(shape, kw, dtype):
    compare(lambda F_, t: F_.avg_pool1d(t, **kw), [random_array(shape, dtype, seed=6)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,kw", [
    ((2, 2, 5, 6, 7), dict(kernel_size=2)),
    ((1, 1, 5, 5, 5), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 1, 5, 5, 5), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ((1, 2, 4, 5, 6), dict(kernel_size=(2, 3, 2), stride=(1, 2, 3), divisor_override=5)),
])
def test_avg_pool3d_matches_torch(shape, kw, dtype):
    compare(lambda F_, t: F_.avg_pool3d(t, **kw), [random_array(shape, dtype, seed=7)])


# ----------------------------------------------------------------------------- adaptive pooling


ADAPTIVE = [
    (1, (2, 3, 10), 4), (1, (1, 1, 7), 7), (1, (2, 5), (3,)), (1, (1, 2, 3), 5),
    (2, (2, 3, 7, 9), (3, 4)), (2, (1, 1, 8, 8), 1), (2, (2, 5, 6), (None, 4)),
    (2, (1, 2, 3, 5), (7, 2)),                                 # upsampling: windows repeat
    (3, (1, 2, 5, 6, 7), (2, 3, 4)), (3, (2, 4, 4, 4), (None, 3, 1)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd,shape,out", ADAPTIVE)
def test_adaptive_avg_pool_matches_torch(nd, shape, out, dtype):
    compare(lambda F_, t: getattr(F_, f"adaptive_avg_pool{nd}d")(t, out),
            [random_array(shape, dtype, seed=8)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd,shape,out", ADAPTIVE)
def test_adaptive_max_pool_matches_torch(nd, shape, out, dtype):
    compare(lambda F_, t: getattr(F_, f"adaptive_max_pool{nd}d")(t, out, return_indices=True),
            [random_array(shape, dtype, seed=9)])


@pytest.mark.parametrize("nd,shape,out", ADAPTIVE)
def test_adaptive_max_pool_ties_like_torch(nd, shape, out):
    x = np.random.default_rng(3).integers(0, 2, shape).astype(np.float64)
    compare(lambda F_, t: getattr(F_, f"adaptive_max_pool{nd}d")(t, out, return_indices=True),
            [x])


def test_adaptive_output_size_zero_gives_empty():
    compare(lambda F_, t: F_.adaptive_avg_pool2d(t, 0), [random_array((1, 2, 4, 4))], grad=False)
    compare(lambda F_, t: F_.adaptive_max_pool1d(t, 0), [random_array((1, 2, 4))], grad=False)


def test_adaptive_avg_pool_global_average_is_the_mean():
    x = random_array((2, 3, 5, 7), seed=11)
    y = F.adaptive_avg_pool2d(numcnn.tensor(x), 1)
    assert_close(y, x.mean(axis=(2, 3), keepdims=True))


# ----------------------------------------------------------------------------- lp pooling


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd,shape,kw", [
    (1, (2, 3, 9), dict(norm_type=2, kernel_size=3, stride=2)),
    (1, (1, 2, 8), dict(norm_type=3, kernel_size=3, ceil_mode=True)),
    (2, (2, 2, 7, 6), dict(norm_type=2, kernel_size=2)),
    (2, (1, 2, 7, 7), dict(norm_type=1.5, kernel_size=(3, 2), stride=(2, 1), ceil_mode=True)),
    (2, (1, 2, 6, 6), dict(norm_type=1, kernel_size=3, stride=1)),
    (2, (1, 2, 6, 6), dict(norm_type=float("inf"), kernel_size=2)),
    (3, (1, 2, 4, 5, 4), dict(norm_type=2, kernel_size=2, stride=1)),
])
def test_lp_pool_matches_torch(nd, shape, kw, dtype):
    x = random_array(shape, dtype, seed=12)
    p = kw["norm_type"]
    if math.isfinite(p) and p != int(p):
        x = np.abs(x) + 0.1                        # x^p with a fractional p needs x >= 0
    compare(lambda F_, t: getattr(F_, f"lp_pool{nd}d")(t, **kw), [x])


def test_lp_pool_zero_window_has_zero_gradient_like_torch():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 2:, 2:] = [[1.0, 2.0], [3.0, -1.0]]
    compare(lambda F_, t: F_.lp_pool2d(t, 2, 2), [x])


# ----------------------------------------------------------------------------- gradcheck


def _g(shape, seed=0):
    # distinct values (a permutation) so max pooling has no ties for finite differences to cross
    rng = np.random.default_rng(seed)
    vals = rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1 + rng.uniform(0, 0.01, shape)
    return numcnn.tensor(vals, requires_grad=True)


@pytest.mark.parametrize("name,fn,shape", [
    ("max_pool1d", lambda x: F.max_pool1d(x, 3, 2, 1, 2, True), (1, 2, 9)),
    ("max_pool2d", lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), (1, 2, 6, 5)),
    ("max_pool3d", lambda x: F.max_pool3d(x, 2, 1), (1, 1, 3, 3, 4)),
    ("avg_pool1d", lambda x: F.avg_pool1d(x, 3, 2, 1, True, False), (1, 2, 8)),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 3, 2, 1, True), (1, 2, 6, 5)),
    ("avg_pool2d_div", lambda x: F.avg_pool2d(x, 2, 1, divisor_override=3), (1, 1, 4, 4)),
    ("avg_pool3d", lambda x: F.avg_pool3d(x, 2, 1, 1, count_include_pad=False), (1, 1, 3, 3, 3)),
    ("adaptive_avg_pool1d", lambda x: F.adaptive_avg_pool1d(x, 4), (1, 2, 7)),
    ("adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, (3, 2)), (1, 2, 5, 7)),
    ("adaptive_avg_pool3d", lambda x: F.adaptive_avg_pool3d(x, 2), (1, 1, 3, 4, 3)),
    ("adaptive_max_pool1d", lambda x: F.adaptive_max_pool1d(x, 4), (1, 2, 7)),
    ("adaptive_max_pool2d", lambda x: F.adaptive_max_pool2d(x, (3, 2)), (1, 2, 5, 7)),
    ("adaptive_max_pool3d", lambda x: F.adaptive_max_pool3d(x, 2), (1, 1, 3, 4, 3)),
    ("lp_pool1d", lambda x: F.lp_pool1d(x, 2, 3, 2), (1, 2, 8)),
    ("lp_pool2d", lambda x: F.lp_pool2d(x, 3, 2, ceil_mode=True), (1, 2, 5, 5)),
    ("lp_pool3d", lambda x: F.lp_pool3d(x, 2, 2), (1, 1, 4, 4, 4)),
])
def test_gradcheck(name, fn, shape):
    assert gradcheck(fn, (_g(shape),))


def test_gradcheck_max_unpool():
    x = _g((1, 2, 3, 3))
    idx = F.max_pool2d(numcnn.tensor(random_array((1, 2, 6, 6))), 2, return_indices=True)[1]
    assert gradcheck(lambda t: F.max_unpool2d(t, idx, 2), (x,))


# ----------------------------------------------------------------------------- argument checks


X4 = np.zeros((2, 3, 5, 5), np.float32)
X3 = np.zeros((2, 3, 5), np.float32)
BAD_CALLS = [
    ("kernel 0", lambda F_, t: F_.max_pool2d(t, 0), X4, RuntimeError),
    ("kernel < 0", lambda F_, t: F_.max_pool2d(t, -1), X4, RuntimeError),
    ("stride 0", lambda F_, t: F_.max_pool2d(t, 2, 0), X4, RuntimeError),
    ("dilation 0", lambda F_, t: F_.max_pool2d(t, 2, 1, 0, 0), X4, RuntimeError),
    ("padding > kernel/2", lambda F_, t: F_.max_pool2d(t, 2, 1, 2), X4, RuntimeError),
    ("padding > kernel/2 dilated", lambda F_, t: F_.max_pool2d(t, 3, 1, 2, 2), X4, RuntimeError),
    ("padding < 0", lambda F_, t: F_.max_pool2d(t, 2, 1, -1), X4, RuntimeError),
    ("window too big", lambda F_, t: F_.max_pool2d(t, 6), X4, RuntimeError),
    ("rank 2", lambda F_, t: F_.max_pool2d(t, 2), np.zeros((5, 5)), RuntimeError),
    ("rank 5", lambda F_, t: F_.max_pool2d(t, 2), np.zeros((1, 1, 1, 5, 5)), RuntimeError),
    ("3 kernel sizes", lambda F_, t: F_.max_pool2d(t, (2, 2, 2)), X4, RuntimeError),
    ("float kernel", lambda F_, t: F_.max_pool2d(t, 2.0), X4, TypeError),
    ("bool kernel", lambda F_, t: F_.max_pool2d(t, True), X4, TypeError),
    ("int ceil_mode", lambda F_, t: F_.max_pool2d(t, 2, ceil_mode=2), X4, TypeError),
    ("empty channels", lambda F_, t: F_.max_pool2d(t, 2), np.zeros((2, 0, 5, 5)), RuntimeError),
    ("max1d rank 1", lambda F_, t: F_.max_pool1d(t, 2), np.zeros(5), RuntimeError),
    ("max1d too big", lambda F_, t: F_.max_pool1d(t, 6), X3, RuntimeError),
    ("avg pad", lambda F_, t: F_.avg_pool2d(t, 2, 1, 2), X4, RuntimeError),
    ("avg too big", lambda F_, t: F_.avg_pool2d(t, 6), X4, RuntimeError),
    ("avg divisor 0", lambda F_, t: F_.avg_pool2d(t, 2, divisor_override=0), X4, RuntimeError),
    ("avg divisor float", lambda F_, t: F_.avg_pool2d(t, 2, divisor_override=2.0), X4, TypeError),
    ("avg int count_include_pad", lambda F_, t: F_.avg_pool2d(t, 2, count_include_pad=0), X4,
     TypeError),
    ("avg1d rank 1", lambda F_, t: F_.avg_pool1d(t, 2), np.zeros(5), RuntimeError),
    ("avg3d input < kernel", lambda F_, t: F_.avg_pool3d(t, (1, 3, 1), padding=(0, 1, 0)),
     np.zeros((1, 1, 3, 2, 3)), RuntimeError),
    ("adaptive None", lambda F_, t: F_.adaptive_avg_pool2d(t, None), X4, TypeError),
    ("adaptive float", lambda F_, t: F_.adaptive_avg_pool2d(t, 2.0), X4, TypeError),
    ("adaptive negative", lambda F_, t: F_.adaptive_avg_pool2d(t, -1), X4, RuntimeError),
    ("adaptive 3 sizes", lambda F_, t: F_.adaptive_avg_pool2d(t, (1, 2, 3)), X4, RuntimeError),
    ("adaptive1d 2 sizes", lambda F_, t: F_.adaptive_avg_pool1d(t, (2, 3)), X3, RuntimeError),
    ("adaptive1d None", lambda F_, t: F_.adaptive_max_pool1d(t, None), X3, TypeError),
    ("adaptive max negative", lambda F_, t: F_.adaptive_max_pool2d(t, -2), X4, RuntimeError),
    ("adaptive rank", lambda F_, t: F_.adaptive_max_pool2d(t, 2), np.zeros((5, 5)), RuntimeError),
    ("adaptive empty H", lambda F_, t: F_.adaptive_avg_pool2d(t, 2), np.zeros((1, 2, 0, 5)),
     RuntimeError),
    ("adaptive integer input", lambda F_, t: F_.adaptive_avg_pool2d(t, 2),
     np.zeros((1, 5, 5), np.int64), NotImplementedError),
    ("lp kernel 0", lambda F_, t: F_.lp_pool2d(t, 2, 0), X4, RuntimeError),
]


@pytest.mark.parametrize("what,fn,x,err", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_arguments_raise_torchs_error_type(what, fn, x, err):
    t_err = raises_like_torch(fn, [x])
    assert isinstance(t_err, err), f"torch raised {t_err!r}"
    with pytest.raises(err):
        fn(F, numcnn.tensor(x))


def test_error_messages_name_the_argument_and_value():
    x = numcnn.tensor(X4)
    with pytest.raises(RuntimeError, match=r"padding.*\(2, 2\).*kernel_size // 2"):
        F.max_pool2d(x, 2, 1, 2)
    with pytest.raises(RuntimeError, match=r"bigger than the padded input.*\(5, 5\)"):
        F.max_pool2d(x, 6)
    with pytest.raises(RuntimeError, match=r"stride.*\(0, 0\)"):
        F.avg_pool2d(x, 2, 0)
    with pytest.raises(TypeError, match="kernel_size"):
        F.max_pool2d(x, 2.5)
    with pytest.raises(RuntimeError, match=r"output_size.*-1"):
        F.adaptive_avg_pool2d(x, -1)
    with pytest.raises(TypeError, match="input.*Tensor"):
        F.max_pool2d(X4, 2)
    with pytest.raises(ValueError, match="norm_type"):
        F.lp_pool2d(x, 0, 2)


def test_max_unpool_bad_arguments_like_torch():
    y = numcnn.tensor(np.ones((1, 1, 2, 2)))
    ty = torch.ones((1, 1, 2, 2))
    good = np.array([[[[0, 1], [2, 3]]]])
    cases = [
        (np.array([[[[0, 1], [2, 100]]]]), {}, RuntimeError),           # index out of range
        (np.array([[[[0, 1], [2, -1]]]]), {}, RuntimeError),
        (good.astype(np.float32), {}, RuntimeError),                      # not int64
        (np.array([[[[0, 1, 2]]]]), {}, RuntimeError),                    # shape mismatch
        (good, dict(output_size=(7, 7)), ValueError),                     # beyond default +- s
        (good, dict(output_size=(4, 4, 4)), ValueError),                  # wrong length
    ]
    for idx, kw, err in cases:
        with pytest.raises(err):
            torch.nn.functional.max_unpool2d(ty, torch.tensor(idx), 2, **kw)
        with pytest.raises(err):
            F.max_unpool2d(y, numcnn.tensor(idx), 2, **kw)


def test_max_pool_window_with_no_tap_inside_the_input():
    """H=1, k=2, s=2, p=1, d=3, ceil_mode: the only window reads rows -1 and 2, both outside.
    torch gives -inf with index 2 (its backward then writes out of bounds); numcnn gives the
    same forward and passes no gradient."""
    x = random_array((1, 2, 1, 5), seed=13)
    kw = dict(kernel_size=(2, 1), stride=(2, 1), padding=(1, 0), dilation=(3, 1), ceil_mode=True)
    compare(lambda F_, t: F_.max_pool2d(t, **kw, return_indices=True), [x], grad=False)
    xt = numcnn.tensor(x, requires_grad=True)
    y = F.max_pool2d(xt, **kw)
    assert np.all(np.isneginf(y.detach().numpy()))
    y.sum().backward()
    np.testing.assert_array_equal(xt.grad.numpy(), np.zeros_like(x))
