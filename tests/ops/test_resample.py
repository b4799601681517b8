"""Resampling (numcnn.ops.resample via numcnn.nn.functional): three oracles and the errors.

1. PyTorch: forward and input gradient of channel_shuffle, pixel_shuffle/unshuffle and
   interpolate (nearest, nearest-exact, linear, bilinear, trilinear; size= and scale_factor=;
   up- and downsampling with odd ratios; align_corners both ways; recompute_scale_factor),
   float32 and float64; the nearest source index for every size pair up to 24 -> 50.
2. gradcheck in float64.
3. Naive loops from the index formulas: channel shuffle y[:, k*G + g] = x[:, g*K + k], pixel
   shuffle y[c, h*r + i, w*r + j] = x[c*r*r + i*r + j, h, w], and bilinear interpolation
   pixel by pixel (four corners and their weights), forward and its scatter backward.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tests.helpers import compare, raises_like_torch, random_array

import numcnn
import numcnn.nn.functional as NF
from numcnn.autograd import gradcheck

DTYPES = [np.float32, np.float64]


# ----------------------------------------------------------------------------- shuffles
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,groups", [((2, 6, 3, 5), 2), ((2, 6, 3, 5), 3),
                                          ((1, 6, 4), 6), ((3, 4, 1, 2, 3), 2),
                                          ((2, 5, 3, 3), 1), ((1, 12, 1, 1), 4)])
def test_channel_shuffle_matches_torch(shape, groups, dtype):
    compare(lambda F, x: F.channel_shuffle(x, groups), [random_array(shape, dtype)])


def test_channel_shuffle_naive_loops():
    n, g, k, h = 2, 3, 4, 2
    x = random_array((n, g * k, h))
    y = NF.channel_shuffle(numcnn.tensor(x), g).array
    for b in range(n):
        for gi in range(g):
            for ki in range(k):
                np.testing.assert_array_equal(y[b, ki * g + gi], x[b, gi * k + ki])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,r", [((2, 8, 3, 5), 2), ((1, 9, 2, 1), 3), ((4, 3, 3), 1),
                                     ((2, 3, 4, 3, 2), 2), ((5, 4, 1, 1), 2)])
def test_pixel_shuffle_matches_torch(shape, r, dtype):
    compare(lambda F, x: F.pixel_shuffle(x, r), [random_array(shape, dtype)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,r", [((2, 2, 4, 6), 2), ((1, 1, 3, 9), 3), ((3, 3, 4), 1),
                                     ((2, 3, 1, 6, 4), 2)])
def test_pixel_unshuffle_matches_torch(shape, r, dtype):
    compare(lambda F, x: F.pixel_unshuffle(x, r), [random_array(shape, dtype)])


def test_pixel_shuffle_naive_loops_and_roundtrip():
    c, r, h, w = 2, 3, 2, 4
    x = random_array((1, c * r * r, h, w))
    y = NF.pixel_shuffle(numcnn.tensor(x), r).array
    assert y.shape == (1, c, h * r, w * r)
    for ci in range(c):
        for hi in range(h):
            for wi in range(w):
                for i in range(r):
                    for j in range(r):
                        assert y[0, ci, hi * r + i, wi * r + j] == x[0, ci * r * r + i * r + j,
                                                                     hi, wi]
    back = NF.pixel_unshuffle(numcnn.tensor(y), r).array
    np.testing.assert_array_equal(back, x)


def test_shuffles_gradcheck():
    x = numcnn.tensor(random_array((2, 8, 2, 3)), requires_grad=True)
    assert gradcheck(lambda t: NF.channel_shuffle(t, 4), [x])
    assert gradcheck(lambda t: NF.pixel_shuffle(t, 2), [x])
    assert gradcheck(lambda t: NF.pixel_unshuffle(t, 2), [numcnn.tensor(
        random_array((1, 2, 4, 6)), requires_grad=True)])


# ----------------------------------------------------------------------------- interpolate
INTERP_CASES = [
    # (input shape, kwargs)
    ((2, 3, 5, 7), dict(size=(8, 11), mode="bilinear")),
    ((2, 3, 5, 7), dict(size=(8, 11), mode="bilinear", align_corners=True)),
    ((2, 3, 5, 7), dict(size=(3, 4), mode="bilinear")),                 # downsampling
    ((2, 3, 5, 7), dict(size=(3, 4), mode="bilinear", align_corners=True)),
    ((1, 2, 6, 6), dict(scale_factor=2, mode="bilinear")),
    ((1, 2, 5, 7), dict(scale_factor=1.7, mode="bilinear")),
    ((1, 2, 5, 7), dict(scale_factor=(0.6, 2.3), mode="bilinear")),
    ((1, 2, 5, 7), dict(scale_factor=(0.6, 2.3), mode="bilinear", align_corners=True)),
    ((1, 2, 5, 7), dict(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True)),
    ((1, 1, 5, 7), dict(size=1, mode="bilinear", align_corners=True)),
    ((1, 1, 5, 7), dict(size=1, mode="bilinear")),
    ((1, 1, 1, 1), dict(size=(3, 2), mode="bilinear")),
    ((2, 2, 9), dict(size=4, mode="linear")),
    ((2, 2, 4), dict(size=13, mode="linear", align_corners=True)),
    ((2, 2, 4), dict(scale_factor=2.5, mode="linear")),
    ((1, 2, 3, 4, 5), dict(size=(5, 3, 7), mode="trilinear")),
    ((1, 2, 3, 4, 5), dict(size=(5, 3, 7), mode="trilinear", align_corners=True)),
    ((2, 3, 5, 7), dict(size=(8, 11))),
    ((2, 3, 5, 7), dict(size=(3, 4))),
    ((2, 3, 4, 4), dict(scale_factor=2)),
    ((2, 3, 5, 7), dict(scale_factor=0.7)),
    ((2, 3, 5, 7), dict(scale_factor=1.3)),
    ((2, 3, 5, 7), dict(scale_factor=1.3, recompute_scale_factor=True)),
    ((2, 3, 9), dict(size=4)),
    ((2, 3, 9), dict(scale_factor=3)),
    ((1, 2, 3, 4, 5), dict(scale_factor=(2, 0.5, 1.5))),
    ((1, 2, 3, 4, 5), dict(size=(1, 7, 2))),
    ((2, 3, 5, 7), dict(size=(8, 11), mode="nearest-exact")),
    ((2, 3, 5, 7), dict(scale_factor=0.6, mode="nearest-exact")),
    ((2, 3, 5), dict(size=12, mode="nearest-exact")),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,kwargs", INTERP_CASES,
                         ids=[f"{s}-{sorted(k.items())}" for s, k in INTERP_CASES])
def test_interpolate_matches_torch(shape, kwargs, dtype):
    compare(lambda F, x: F.interpolate(x, **kwargs), [random_array(shape, dtype)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_nearest_source_index_every_size_pair(mode, dtype):
    """Exact outputs for every (L_in, L_out): PyTorch's index rounding, bit for bit."""
    for li in range(1, 25):
        x = np.arange(li, dtype=dtype).reshape(1, 1, li)
        xt, xn = torch.tensor(x), numcnn.tensor(x)
        for lo in range(1, 51):
            want = torch.nn.functional.interpolate(xt, size=lo, mode=mode).numpy()
            got = NF.interpolate(xn, size=lo, mode=mode).array
            np.testing.assert_array_equal(got, want, err_msg=f"{li} -> {lo}")
        for sf in (0.3, 0.7, 1.3, 1.5, 2.0, 2.6, 1 / 3):
            if math.floor(li * sf) < 1:
                continue
            want = torch.nn.functional.interpolate(xt, scale_factor=sf, mode=mode).numpy()
            got = NF.interpolate(xn, scale_factor=sf, mode=mode).array
            np.testing.assert_array_equal(got, want, err_msg=f"{li} * {sf}")


def naive_bilinear(x, out_h, out_w, align_corners):
    """Pixel by pixel: the source point, its four neighbours, their weights (PyTorch's rules).

    Returns y and, for the backward, the list of (dst, src, weight) contributions.
    """
    n, c, h, w = x.shape

    def source(dst, li, lo):
        if align_corners:
            return dst * (li - 1) / (lo - 1) if lo > 1 else 0.0
        return max((dst + 0.5) * li / lo - 0.5, 0.0)

    y = np.zeros((n, c, out_h, out_w))
    taps = []
    for i in range(out_h):
        sy = source(i, h, out_h)
        y0 = min(int(math.floor(sy)), h - 1)
        y1, ly = min(y0 + 1, h - 1), sy - y0
        for j in range(out_w):
            sx = source(j, w, out_w)
            x0 = min(int(math.floor(sx)), w - 1)
            x1, lx = min(x0 + 1, w - 1), sx - x0
            for (yy, xx, wt) in ((y0, x0, (1 - ly) * (1 - lx)), (y0, x1, (1 - ly) * lx),
                                 (y1, x0, ly * (1 - lx)), (y1, x1, ly * lx)):
                y[:, :, i, j] += wt * x[:, :, yy, xx]
                taps.append(((i, j), (yy, xx), wt))
    return y, taps


@pytest.mark.parametrize("size", [(7, 9), (3, 2), (5, 6), (1, 4)])
@pytest.mark.parametrize("align_corners", [False, True])
def test_bilinear_naive_loops(size, align_corners):
    x = random_array((2, 2, 5, 6), seed=3)
    gy = random_array((2, 2) + size, seed=4)
    want, taps = naive_bilinear(x, *size, align_corners)
    t = numcnn.tensor(x, requires_grad=True)
    y = NF.interpolate(t, size=size, mode="bilinear", align_corners=align_corners)
    np.testing.assert_allclose(y.array, want, rtol=1e-12, atol=1e-14)
    y.backward(numcnn.tensor(gy))
    gx = np.zeros_like(x)
    for (i, j), (yy, xx), wt in taps:             # scatter: each tap sends wt * gy back
        gx[:, :, yy, xx] += wt * gy[:, :, i, j]
    np.testing.assert_allclose(t.grad.array, gx, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("shape,kwargs", [
    ((1, 2, 3, 4), dict(size=(5, 3), mode="bilinear")),
    ((1, 2, 3, 4), dict(size=(5, 7), mode="bilinear", align_corners=True)),
    ((2, 1, 5), dict(scale_factor=1.5, mode="linear")),
    ((1, 1, 2, 3, 2), dict(size=(3, 2, 4), mode="trilinear")),
    ((1, 2, 3, 4), dict(size=(7, 3))),
    ((1, 2, 5), dict(scale_factor=0.5, mode="nearest-exact")),
])
def test_interpolate_gradcheck(shape, kwargs):
    x = numcnn.tensor(random_array(shape), requires_grad=True)
    assert gradcheck(lambda t: NF.interpolate(t, **kwargs), [x])


def test_interpolate_keeps_float32_and_integer_nearest():
    y = NF.interpolate(numcnn.randn(1, 2, 3, 3), scale_factor=2, mode="bilinear")
    assert y.dtype == numcnn.float32
    xi = np.arange(12, dtype=np.uint8).reshape(1, 1, 3, 4)
    compare(lambda F, x: F.interpolate(x, size=(5, 5)), [xi], grad=False)


def test_upsample_aliases_warn():
    x = random_array((1, 2, 3, 3), np.float64)
    with pytest.warns(UserWarning, match="deprecated"):
        compare(lambda F, t: F.upsample(t, scale_factor=2), [x], grad=False)
    with pytest.warns(UserWarning, match="deprecated"):
        compare(lambda F, t: F.upsample_bilinear(t, size=(4, 5)), [x], grad=False)
    with pytest.warns(UserWarning, match="deprecated"):
        compare(lambda F, t: F.upsample_nearest(t, size=5), [x], grad=False)


# ----------------------------------------------------------------------------- errors
X4 = random_array((2, 3, 4, 4), np.float32)


@pytest.mark.parametrize("case", [
    lambda F, x: F.interpolate(x, scale_factor=2, mode="foo"),
    lambda F, x: F.interpolate(x, scale_factor=2, size=3),
    lambda F, x: F.interpolate(x),
    lambda F, x: F.interpolate(x, scale_factor=2, align_corners=True),
    lambda F, x: F.interpolate(x, scale_factor=2, mode="nearest-exact", align_corners=False),
    lambda F, x: F.interpolate(x, scale_factor=2, mode="linear"),
    lambda F, x: F.interpolate(x, scale_factor=2, mode="trilinear"),
    lambda F, x: F.interpolate(x[0], scale_factor=2, mode="bilinear"),
    lambda F, x: F.interpolate(x, size=(3,), mode="bilinear"),
    lambda F, x: F.interpolate(x, scale_factor=(2, 2, 2)),
    lambda F, x: F.interpolate(x[0, 0], scale_factor=2),
    lambda F, x: F.interpolate(x, size=0),
    lambda F, x: F.interpolate(x, scale_factor=0.1),
    lambda F, x: F.interpolate(x, size=(2.5, 3)),
    lambda F, x: F.interpolate(x, size=3, recompute_scale_factor=True),
    lambda F, x: F.channel_shuffle(x, 2),
    lambda F, x: F.channel_shuffle(x, 0),
    lambda F, x: F.channel_shuffle(x[0, 0], 1),
    lambda F, x: F.pixel_shuffle(x, 2),
    lambda F, x: F.pixel_shuffle(x[0, 0], 2),
    lambda F, x: F.pixel_shuffle(x, 0),
    lambda F, x: F.pixel_unshuffle(x, 3),
    lambda F, x: F.pixel_unshuffle(x[..., :3], 2),
    lambda F, x: F.pixel_unshuffle(x, -1),
])
def test_errors_like_torch(case):
    assert raises_like_torch(case, [X4]) is not None


def test_error_messages():
    x = numcnn.randn(2, 3, 4, 4)
    with pytest.raises(RuntimeError, match="Got 3 channels and 2 groups"):
        NF.channel_shuffle(x, 2)
    with pytest.raises(NotImplementedError, match="numcnn implements nearest"):
        NF.interpolate(x, scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        NF.interpolate(x, size=3, scale_factor=2)
