"""Grid sampling (numcnn.ops.grid via numcnn.nn.functional): three oracles, edge cases, errors.

1. PyTorch: grid_sample forward and the gradients of input AND grid for every mode x
   padding_mode x align_corners, float32 and float64, 4-D and 5-D, with grid points inside, on
   and outside the border (exact -1/1, pixel edges and centres, far outside); affine_grid
   forward and theta gradient, 2-D and 3-D, unit-size axes; non-finite grid values; empty
   batches, channels and grids; affine_grid + grid_sample end to end.
2. gradcheck in float64 (random points, which stay off the kinks).
3. Naive per-pixel loops written from the formulas (reflection as repeated folding, bicubic
   from the piecewise cubic kernel), forward and input gradient; affine_grid from
   x_j = (2j + 1)/W - 1 or -1 + 2j/(W - 1); identity and one-pixel-shift spatial transformers.
"""

from __future__ import annotations

import inspect
import itertools
import math
import warnings

import numpy as np
import pytest
import torch
from tests.helpers import assert_close, compare, raises_like_torch, random_array

import numcnn
import numcnn.nn.functional as NF
from numcnn.autograd import gradcheck

TF = torch.nn.functional
DTYPES = [np.float32, np.float64]
MODES = ["bilinear", "nearest", "bicubic"]
PADDINGS = ["zeros", "border", "reflection"]


def special_grid(shape: tuple[int, ...], in_sizes: tuple[int, ...], dtype, seed: int = 0,
                 spread: float = 1.7) -> np.ndarray:
    """Random points in [-spread, spread], a third of the coordinates replaced by special
    values: the ends -1 and 1, pixel centres and edges next to them (for both align_corners
    conventions), the centre and points far outside.  in_sizes: the lengths along x, y[, z]."""
    rng = np.random.default_rng(seed)
    g = rng.uniform(-spread, spread, shape)
    for k, n in enumerate(in_sizes):
        specials = np.array([-1.0, 1.0, 0.0, 1 - 1 / n, -1 + 1 / n, 1 + 1 / n, -1 - 1 / n,
                             1 - 2 / max(n - 1, 1), -1 + 2 / max(n - 1, 1), 3.25, -2.75, 9.0])
        pick = rng.random(shape[:-1]) < 1 / 3
        g[..., k] = np.where(pick, rng.choice(specials, size=shape[:-1]), g[..., k])
    return g.astype(dtype)


# ----------------------------------------------------------------------------- torch: 4-D
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
def test_grid_sample_2d_matches_torch(mode, padding_mode, align_corners, dtype):
    x = random_array((2, 3, 5, 7), dtype, seed=1)
    g = special_grid((2, 6, 9, 2), (7, 5), dtype, seed=2)
    compare(lambda F, a, b: F.grid_sample(a, b, mode, padding_mode, align_corners), [x, g])


@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("in_hw", [(1, 1), (1, 6), (4, 1), (2, 2)])
def test_grid_sample_2d_unit_and_tiny_inputs(in_hw, mode, padding_mode, align_corners):
    x = random_array((1, 2) + in_hw, seed=3)
    g = special_grid((1, 5, 4, 2), in_hw[::-1], np.float64, seed=4)
    compare(lambda F, a, b: F.grid_sample(a, b, mode, padding_mode, align_corners), [x, g])


# ----------------------------------------------------------------------------- torch: 5-D
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_grid_sample_3d_matches_torch(mode, padding_mode, align_corners, dtype):
    x = random_array((2, 2, 3, 4, 5), dtype, seed=5)
    g = special_grid((2, 3, 2, 5, 3), (5, 4, 3), dtype, seed=6)
    compare(lambda F, a, b: F.grid_sample(a, b, mode, padding_mode, align_corners), [x, g])


# ----------------------------------------------------------------------------- special values
def test_nearest_rounds_half_to_even():
    # W = 4 without align_corners: u = ((c + 1) 4 - 1) / 2, so c = -0.5, 0, 0.5 give u = 0.5,
    # 1.5, 2.5, which round (half to even) to 0, 2, 2.
    x = np.array([10.0, 11.0, 12.0, 13.0]).reshape(1, 1, 1, 4)
    g = np.array([[-0.5, 0.0], [0.0, 0.0], [0.5, 0.0]]).reshape(1, 1, 3, 2)
    n_out, _ = compare(lambda F, a, b: F.grid_sample(a, b, "nearest", align_corners=False),
                       [x, g])
    np.testing.assert_array_equal(n_out.array.ravel(), [10.0, 12.0, 12.0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
def test_non_finite_grid_values_match_torch(mode, padding_mode, align_corners, dtype):
    # nan / inf coordinates, and points so far out that only PyTorch's folding rule decides
    # where reflection puts them; bilinear and bicubic weights of nan are nan.
    x = np.arange(1.0, 13.0).reshape(1, 1, 3, 4).astype(dtype)
    g = np.array([[np.nan, 0.0], [np.inf, 0.0], [-np.inf, 0.3], [1e30, 0.0], [0.2, np.nan],
                  [-1e30, 0.5], [0.1, -np.inf]]).reshape(1, 1, 7, 2).astype(dtype)
    xn, gn = numcnn.tensor(x, requires_grad=True), numcnn.tensor(g, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")         # no NumPy 'invalid value' warnings either
        y = NF.grid_sample(xn, gn, mode, padding_mode, align_corners)
        y.sum().backward()
    n = y.array
    t = TF.grid_sample(torch.tensor(x), torch.tensor(g), mode, padding_mode,
                       align_corners).numpy()
    np.testing.assert_array_equal(np.isnan(n), np.isnan(t))
    np.testing.assert_allclose(n, t, rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shapes", [((0, 3, 4, 5), (0, 2, 3, 2)), ((2, 0, 4, 5), (2, 2, 3, 2)),
                                    ((2, 3, 4, 5), (2, 0, 3, 2)), ((2, 3, 4, 5), (2, 3, 0, 2))])
def test_empty_tensors(mode, shapes):
    xs, gs = shapes
    compare(lambda F, a, b: F.grid_sample(a, b, mode, "border", False),
            [random_array(xs), random_array(gs)])


def test_empty_tensors_3d():
    compare(lambda F, a, b: F.grid_sample(a, b, "bilinear", "zeros", True),
            [random_array((1, 2, 3, 4, 5)), random_array((1, 2, 0, 3, 3))])


def test_only_one_input_requires_grad():
    x = random_array((1, 2, 4, 5), seed=7)
    g = special_grid((1, 3, 3, 2), (5, 4), np.float64, seed=8)
    for wants in ((True, False), (False, True)):
        nx = numcnn.tensor(x, requires_grad=wants[0])
        ng = numcnn.tensor(g, requires_grad=wants[1])
        tx = torch.tensor(x, requires_grad=wants[0])
        tg = torch.tensor(g, requires_grad=wants[1])
        NF.grid_sample(nx, ng, "bicubic", "reflection", False).sum().backward()
        TF.grid_sample(tx, tg, "bicubic", "reflection", False).sum().backward()
        for a, b in ((nx, tx), (ng, tg)):
            if b.grad is None:
                assert a.grad is None
            else:
                assert_close(a.grad, b.grad)


# ----------------------------------------------------------------------------- gradcheck
@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
def test_grid_sample_2d_gradcheck(mode, padding_mode, align_corners):
    x = numcnn.tensor(random_array((1, 2, 3, 4), seed=9), requires_grad=True)
    g = numcnn.tensor(random_array((1, 3, 2, 2), seed=10, low=-1.4, high=1.4),
                      requires_grad=True)
    assert gradcheck(lambda a, b: NF.grid_sample(a, b, mode, padding_mode, align_corners),
                     [x, g])


@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_grid_sample_3d_gradcheck(mode, padding_mode, align_corners):
    x = numcnn.tensor(random_array((1, 2, 2, 3, 4), seed=11), requires_grad=True)
    g = numcnn.tensor(random_array((1, 2, 2, 2, 3), seed=12, low=-1.4, high=1.4),
                      requires_grad=True)
    assert gradcheck(lambda a, b: NF.grid_sample(a, b, mode, padding_mode, align_corners),
                     [x, g])


def test_nearest_grid_gradient_is_zero():
    x = numcnn.tensor(random_array((1, 1, 3, 3)), requires_grad=True)
    g = numcnn.tensor(random_array((1, 2, 2, 2), low=-1, high=1), requires_grad=True)
    (NF.grid_sample(x, g, "nearest", align_corners=False) * 3).sum().backward()
    assert g.grad is not None
    np.testing.assert_array_equal(g.grad.array, 0.0)


# ----------------------------------------------------------------------------- naive loops
def _naive_unnormalize(c: float, n: int, align_corners: bool) -> float:
    # -1 and 1 are the corner pixels' centres (0 and n - 1) or their outer edges (-0.5, n - 0.5)
    if align_corners:
        return (c + 1) * (n - 1) / 2
    return (c + 1) * n / 2 - 0.5


def _naive_reflect(u: float, lo: float, hi: float) -> float:
    # fold the point back into [lo, hi] one mirror at a time
    if hi == lo:
        return lo
    while u < lo or u > hi:
        u = 2 * lo - u if u < lo else 2 * hi - u
    return u


def _naive_pad(u: float, n: int, padding_mode: str, align_corners: bool) -> float:
    if padding_mode == "reflection":
        u = _naive_reflect(u, 0.0, n - 1.0) if align_corners else _naive_reflect(u, -0.5, n - 0.5)
    if padding_mode in ("border", "reflection"):
        u = min(max(u, 0.0), n - 1.0)
    return u


def _cubic(s: float, a: float = -0.75) -> float:
    s = abs(s)
    if s <= 1:
        return (a + 2) * s**3 - (a + 3) * s**2 + 1
    if s < 2:
        return a * s**3 - 5 * a * s**2 + 8 * a * s - 4 * a
    return 0.0


def _naive_taps(gx: float, gy: float, w: int, h: int, mode: str, padding_mode: str,
                align_corners: bool) -> list[tuple[float, int, int]]:
    """(weight, row, col) of every input pixel the point (gx, gy) reads."""
    ux = _naive_unnormalize(gx, w, align_corners)
    uy = _naive_unnormalize(gy, h, align_corners)
    out = []
    if mode == "bicubic":                  # padding applies to each tap's position
        x0, y0 = math.floor(ux), math.floor(uy)
        for j in range(y0 - 1, y0 + 3):
            for i in range(x0 - 1, x0 + 3):
                weight = _cubic(ux - i) * _cubic(uy - j)
                ii = int(_naive_pad(float(i), w, padding_mode, align_corners))
                jj = int(_naive_pad(float(j), h, padding_mode, align_corners))
                out.append((weight, jj, ii))
        return [t for t in out if 0 <= t[1] < h and 0 <= t[2] < w]
    ux = _naive_pad(ux, w, padding_mode, align_corners)
    uy = _naive_pad(uy, h, padding_mode, align_corners)
    if mode == "nearest":
        out = [(1.0, round(uy), round(ux))]            # Python's round: half to even
    else:
        x0, y0 = math.floor(ux), math.floor(uy)
        for j in (y0, y0 + 1):
            for i in (x0, x0 + 1):
                out.append(((1 - abs(ux - i)) * (1 - abs(uy - j)), j, i))
    return [t for t in out if 0 <= t[1] < h and 0 <= t[2] < w]


@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
def test_grid_sample_2d_naive_loops(mode, padding_mode, align_corners):
    n, c, h, w = 2, 2, 3, 4
    x = random_array((n, c, h, w), seed=13)
    g = random_array((n, 3, 5, 2), seed=14, low=-2.6, high=2.6)
    gy = random_array((n, c, 3, 5), seed=15)
    y_ref = np.zeros((n, c, 3, 5))
    gx_ref = np.zeros_like(x)
    for b in range(n):
        for i in range(3):
            for j in range(5):
                taps = _naive_taps(g[b, i, j, 0], g[b, i, j, 1], w, h, mode, padding_mode,
                                   align_corners)
                for weight, r, col in taps:
                    y_ref[b, :, i, j] += weight * x[b, :, r, col]
                    gx_ref[b, :, r, col] += weight * gy[b, :, i, j]
    xt = numcnn.tensor(x, requires_grad=True)
    y = NF.grid_sample(xt, numcnn.tensor(g), mode, padding_mode, align_corners)
    np.testing.assert_allclose(y.array, y_ref, rtol=1e-12, atol=1e-12)
    (y * numcnn.tensor(gy)).sum().backward()
    np.testing.assert_allclose(xt.grad.array, gx_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("padding_mode", PADDINGS)
def test_grid_sample_3d_trilinear_naive_loops(padding_mode, align_corners):
    d, h, w = 2, 3, 4
    x = random_array((1, 1, d, h, w), seed=16)
    g = random_array((1, 2, 2, 2, 3), seed=17, low=-1.8, high=1.8)
    y = NF.grid_sample(numcnn.tensor(x), numcnn.tensor(g), "bilinear", padding_mode,
                       align_corners).array
    for p in itertools.product(range(2), range(2), range(2)):
        u = [_naive_pad(_naive_unnormalize(g[(0,) + p + (k,)], s, align_corners), s,
                        padding_mode, align_corners) for k, s in enumerate((w, h, d))]
        ref = 0.0
        for corner in itertools.product(*[(math.floor(v), math.floor(v) + 1) for v in u]):
            i, j, k = corner                       # x, y, z
            if 0 <= i < w and 0 <= j < h and 0 <= k < d:
                weight = (1 - abs(u[0] - i)) * (1 - abs(u[1] - j)) * (1 - abs(u[2] - k))
                ref += weight * x[0, 0, k, j, i]
        assert y[(0, 0) + p] == pytest.approx(ref, rel=1e-12, abs=1e-12)


# ----------------------------------------------------------------------------- affine_grid
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("size", [(2, 3, 4, 5), (1, 1, 1, 7), (3, 2, 6, 1), (1, 1, 1, 1),
                                  (2, 1, 3, 4, 5), (1, 2, 1, 3, 1), (1, 1, 1, 1, 1)])
def test_affine_grid_matches_torch(size, align_corners, dtype):
    d = len(size) - 2
    theta = random_array((size[0], d, d + 1), dtype, seed=18)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # the unit-size warning, tested below
        compare(lambda F, t: F.affine_grid(t, size, align_corners), [theta])


@pytest.mark.parametrize("align_corners", [True, False])
def test_affine_grid_naive_loops(align_corners):
    n, h, w = 2, 3, 5
    theta = random_array((n, 2, 3), seed=19)

    def coord(i, size):
        if size == 1:
            return 0.0
        return -1 + 2 * i / (size - 1) if align_corners else (2 * i + 1) / size - 1

    grid = NF.affine_grid(numcnn.tensor(theta), (n, 1, h, w), align_corners).array
    for b in range(n):
        for i in range(h):
            for j in range(w):
                ref = theta[b] @ np.array([coord(j, w), coord(i, h), 1.0])
                np.testing.assert_allclose(grid[b, i, j], ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("size", [(2, 1, 3, 4), (1, 1, 2, 3, 2)])
def test_affine_grid_gradcheck(size):
    d = len(size) - 2
    theta = numcnn.tensor(random_array((size[0], d, d + 1), seed=20), requires_grad=True)
    assert gradcheck(lambda t: NF.affine_grid(t, size, False), [theta])


# ----------------------------------------------------------------------------- transformers
@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("mode", MODES)
def test_identity_transform_reproduces_input(mode, align_corners):
    x = random_array((2, 3, 5, 6), seed=21)
    theta = np.tile(np.eye(2, 3), (2, 1, 1))
    grid = NF.affine_grid(numcnn.tensor(theta), x.shape, align_corners)
    y = NF.grid_sample(numcnn.tensor(x), grid, mode, "zeros", align_corners)
    np.testing.assert_allclose(y.array, x, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("align_corners", [True, False])
def test_identity_transform_reproduces_input_3d(align_corners):
    x = random_array((1, 2, 3, 4, 5), seed=22)
    grid = NF.affine_grid(numcnn.tensor(np.eye(3, 4)[None]), x.shape, align_corners)
    y = NF.grid_sample(numcnn.tensor(x), grid, "bilinear", "zeros", align_corners)
    np.testing.assert_allclose(y.array, x, rtol=1e-12, atol=1e-12)


def test_one_pixel_shift():
    # with align_corners=True one pixel is 2 / (W - 1): y[..., j] = x[..., j + 1], zeros after
    x = random_array((1, 2, 3, 5), seed=23)
    theta = np.array([[[1.0, 0.0, 2 / 4], [0.0, 1.0, 0.0]]])
    grid = NF.affine_grid(numcnn.tensor(theta), x.shape, True)
    y = NF.grid_sample(numcnn.tensor(x), grid, "bilinear", "zeros", True).array
    np.testing.assert_allclose(y[..., :-1], x[..., 1:], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y[..., -1], 0.0, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_spatial_transformer_end_to_end_matches_torch(mode, dtype):
    x = random_array((2, 3, 6, 5), dtype, seed=24)
    theta = (np.tile(np.eye(2, 3), (2, 1, 1)) + 0.3 * random_array((2, 2, 3), seed=25)) \
        .astype(dtype)
    compare(lambda F, a, t: F.grid_sample(a, F.affine_grid(t, (2, 3, 4, 7), False), mode,
                                          "border", False), [x, theta])


# ----------------------------------------------------------------------------- errors
GOOD_X = random_array((2, 3, 4, 5))
GOOD_G = random_array((2, 3, 3, 2), low=-1, high=1)


@pytest.mark.parametrize("call,arrays", [
    (lambda F, x, g: F.grid_sample(x, g, "area", align_corners=False), [GOOD_X, GOOD_G]),
    (lambda F, x, g: F.grid_sample(x, g, padding_mode="wrap", align_corners=False),
     [GOOD_X, GOOD_G]),
    (lambda F, x, g: F.grid_sample(x, g, align_corners=1), [GOOD_X, GOOD_G]),
    (lambda F, x, g: F.grid_sample(x, g, align_corners=False),
     [GOOD_X, GOOD_G.astype(np.float32)]),
    (lambda F, x, g: F.grid_sample(x, g, align_corners=False), [GOOD_X, GOOD_G[:1]]),
    (lambda F, x, g: F.grid_sample(x, g, align_corners=False), [GOOD_X, GOOD_G[..., :1]]),
    (lambda F, x, g: F.grid_sample(x, g, align_corners=False), [GOOD_X[0], GOOD_G[0]]),
    (lambda F, x, g: F.grid_sample(x, g, align_corners=False),
     [GOOD_X[:, :, :0], GOOD_G]),
    (lambda F, x, g: F.grid_sample(x, g, align_corners=False),
     [GOOD_X.astype(np.int64), GOOD_G.astype(np.int64)]),
    (lambda F, x, g: F.grid_sample(x, g, "bicubic", align_corners=False),
     [GOOD_X[:, :, None], random_array((2, 1, 3, 3, 3))]),
    (lambda F, x, g: F.grid_sample(x, g, align_corners=False),
     [GOOD_X[:, :, None], random_array((2, 1, 3, 3, 2))]),
    (lambda F, x, g: F.grid_sample(x, g, align_corners=False),
     [GOOD_X, random_array((2, 1, 3, 3, 2))]),
])
def test_grid_sample_errors_like_torch(call, arrays):
    assert raises_like_torch(call, arrays) is not None


def test_grid_sample_error_types_and_messages():
    x, g = numcnn.tensor(GOOD_X), numcnn.tensor(GOOD_G)
    with pytest.raises(ValueError, match="expected mode to be 'bilinear', 'nearest' or "
                                         "'bicubic', but got: 'area'"):
        NF.grid_sample(x, g, "area", align_corners=False)
    with pytest.raises(ValueError, match="padding_mode.*but got: 'wrap'"):
        NF.grid_sample(x, g, padding_mode="wrap", align_corners=False)
    with pytest.raises(TypeError, match="align_corners"):
        NF.grid_sample(x, g, align_corners=1)
    with pytest.raises(TypeError, match="'input' must be Tensor"):
        NF.grid_sample(GOOD_X, g, align_corners=False)
    with pytest.raises(RuntimeError, match="same dtype.*float64.*float32"):
        NF.grid_sample(x, numcnn.tensor(GOOD_G.astype(np.float32)), align_corners=False)
    with pytest.raises(RuntimeError, match="same batch size"):
        NF.grid_sample(x, numcnn.tensor(GOOD_G[:1]), align_corners=False)
    with pytest.raises(RuntimeError, match="size 2 in last dimension"):
        NF.grid_sample(x, numcnn.tensor(GOOD_G[..., :1]), align_corners=False)
    with pytest.raises(RuntimeError, match="dimension 2 being empty"):
        NF.grid_sample(numcnn.tensor(GOOD_X[:, :, :0]), g, align_corners=False)
    with pytest.raises(RuntimeError, match="bicubic interpolation only supports 4D input"):
        NF.grid_sample(numcnn.tensor(GOOD_X[:, :, None]),
                       numcnn.tensor(random_array((2, 1, 3, 3, 3))), "bicubic",
                       align_corners=False)
    with pytest.raises(NotImplementedError, match="floating point"):
        NF.grid_sample(numcnn.tensor(GOOD_X.astype(np.int64)),
                       numcnn.tensor(GOOD_G.astype(np.int64)), align_corners=False)


def test_align_corners_none_warns_and_means_false():
    x, g = numcnn.tensor(GOOD_X), numcnn.tensor(GOOD_G)
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        y = NF.grid_sample(x, g)
    np.testing.assert_array_equal(y.array, NF.grid_sample(x, g, align_corners=False).array)
    theta = numcnn.tensor(np.eye(2, 3)[None].repeat(2, 0))
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        grid = NF.affine_grid(theta, (2, 1, 3, 4))
    np.testing.assert_array_equal(grid.array,
                                  NF.affine_grid(theta, (2, 1, 3, 4), False).array)
    with warnings.catch_warnings():
        warnings.simplefilter("error")         # explicit align_corners: silent
        NF.grid_sample(x, g, align_corners=True)
        NF.affine_grid(theta, (2, 1, 3, 4), align_corners=True)


def test_affine_grid_errors():
    theta = numcnn.tensor(np.eye(2, 3)[None])
    with pytest.raises(ValueError, match="floating point type"):
        NF.affine_grid(numcnn.tensor(np.zeros((1, 2, 3), np.int64)), (1, 1, 2, 2), False)
    with pytest.raises(ValueError, match="shape Nx2x3"):
        NF.affine_grid(numcnn.tensor(np.zeros((1, 3, 4))), (1, 1, 2, 2), False)
    with pytest.raises(ValueError, match="shape Nx3x4"):
        NF.affine_grid(theta, (1, 1, 2, 2, 2), False)
    with pytest.raises(NotImplementedError, match="only supports 4D and 5D sizes"):
        NF.affine_grid(theta, (1, 1, 2), False)
    with pytest.raises(ValueError, match="non-zero, positive output size"):
        NF.affine_grid(theta, (1, 0, 2, 2), False)
    with pytest.raises(ValueError, match="non-zero, positive output size"):
        NF.affine_grid(theta, (1, 1, 0, 2), True)
    with pytest.raises(RuntimeError, match="theta holds 1 matrices"):
        NF.affine_grid(theta, (3, 1, 2, 2), False)
    with pytest.raises(TypeError, match="size"):
        NF.affine_grid(theta, (1, 1, 2.0, 2), False)
    with pytest.warns(UserWarning, match="unit-size grids when align_corners=True"):
        NF.affine_grid(theta, (1, 1, 1, 4), True)
    for bad, arrays in [((1, 1, 2), [np.eye(2, 3)[None]]), ((3, 1, 2, 2), [np.eye(2, 3)[None]]),
                        ((1, 1, 2, 2, 2), [np.eye(2, 3)[None]]),
                        ((1, 1, 2, 0), [np.eye(2, 3)[None]])]:
        assert raises_like_torch(lambda F, t, s=bad: F.affine_grid(t, s, False), arrays)


@pytest.mark.parametrize("name", ["grid_sample", "affine_grid"])
def test_signatures_match_torch(name):
    def params(fn):
        return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]

    assert params(getattr(NF, name)) == params(getattr(TF, name))


@pytest.mark.parametrize("spread", [1, 3, 40, 5000])
def test_segment_sum_against_add_at(spread):
    # the input gradient's scatter-add: short runs (direct offsets) and long ones (reduceat),
    # keys past the end dropped (the zero row of out-of-bounds taps)
    from numcnn.ops.grid import _segment_sum

    rng = np.random.default_rng(spread)
    keys = rng.integers(0, spread + 1, 3000)
    vals = rng.standard_normal((3000, 3))
    ref = np.zeros((spread + 1, 3))
    np.add.at(ref, keys, vals)
    np.testing.assert_allclose(_segment_sum(keys, vals, spread), ref[:-1], rtol=1e-12,
                               atol=1e-12)


def test_output_is_contiguous_like_torch():
    # PyTorch code views the result directly (x.view(N, -1)); that needs a contiguous result
    x = numcnn.tensor(random_array((2, 3, 4, 5)))
    g = numcnn.tensor(random_array((2, 6, 7, 2), low=-1, high=1))
    y = NF.grid_sample(x, g, align_corners=False)
    assert y.array.flags.c_contiguous
    assert y.view(2, -1).shape == (2, 3 * 6 * 7)
