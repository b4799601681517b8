"""Spatial-transformer sampling: affine grids and sampling an input at grid points.

Axis legend: N batch, C channels, D/H/W input depth/height/width, P the number of output points
(Ho*Wo, or Do*Ho*Wo), d the number of spatial axes (2 or 3).  A grid's last axis holds the
coordinates (x, y[, z]) in [-1, 1]: x runs along W, y along H, z along D -- the REVERSE of the
array's axis order.  Coordinate k therefore indexes input axis 2 + d - 1 - k.

Coordinates (PyTorch's rules, per axis of size L):

    unnormalise:  align_corners=True:   u = (c + 1) / 2 * (L - 1)       (-1, 1 -> pixel centres
                                                                          0, L - 1)
                  align_corners=False:  u = ((c + 1) L - 1) / 2          (-1, 1 -> pixel edges
                                                                          -0.5, L - 0.5)
    padding:      'zeros':      u as is; taps outside [0, L) read 0
                  'border':     u = clip(u, 0, L - 1)
                  'reflection': u reflected about the two ends (0 and L - 1 with align_corners,
                                -0.5 and L - 0.5 without), then clipped to [0, L - 1]

    du/dc = (L - 1) / 2 or L / 2, times the padding's slope: 1 strictly inside (0, L - 1) and 0 on
    or beyond the ends for the clip, +-1 for each reflection.  Bicubic applies the padding to each
    of its 16 taps' integer positions instead of to u, so its coordinate has no padding slope.

Sampling at u (one axis shown; 2-D and 3-D take products of the 1-D weights):

    nearest:   y = x[rint(u)]                   (round half to even; grid gradient 0)
    bilinear:  i = floor(u), t = u - i,  y = (1 - t) x[i] + t x[i + 1]
    bicubic:   y = sum_{a=0..3} w_a(t) x[i - 1 + a],  with the cubic-convolution kernel
               (A = -0.75)  W(s) = (A+2)|s|^3 - (A+3)|s|^2 + 1        for |s| <= 1
                            W(s) = A|s|^3 - 5A|s|^2 + 8A|s| - 4A      for 1 < |s| < 2
               w_a(t) = W(t + 1 - a)

Backward: the input gradient scatters gy * weight onto the taps (`np.bincount` over flat
indices: one vectorised scatter-add, no `np.add.at`); the grid gradient is
sum_c gy * sum_taps x[tap] * d(weight)/dt, times du/dc.  Every loop runs over the 2^d corners or
the 4 x 4 bicubic taps (a kernel's offsets), never over points or batch items.
"""

from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np

from numcnn.autograd.function import Context, Function

CUBIC_A = -0.75


# ----------------------------------------------------------------------------- affine grid
def base_coordinates(n: int, align_corners: bool, dtype: np.dtype) -> np.ndarray:
    """The n normalised coordinates of one grid axis: linspace(-1, 1, n), scaled by (n - 1)/n
    without align_corners (pixel centres of n cells spanning [-1, 1]); [0] when n == 1."""
    if n <= 1:
        return np.zeros(n, dtype=dtype)
    c = np.linspace(-1.0, 1.0, n, dtype=dtype)
    if not align_corners:
        c = c * dtype.type((n - 1) / n)
    return c


def base_grid(spatial: Sequence[int], align_corners: bool, dtype: np.dtype) -> np.ndarray:
    """Homogeneous base grid (P, d + 1): rows (x, y[, z], 1) for every output point, with
    spatial = (H, W) or (D, H, W) and the points in C order over `spatial`."""
    d = len(spatial)
    axes = [base_coordinates(n, align_corners, dtype) for n in spatial]     # D, H, W order
    mesh = np.meshgrid(*axes, indexing="ij")                                # each (*spatial)
    cols = [mesh[d - 1 - k].reshape(-1) for k in range(d)]                  # x, y, z order
    cols.append(np.ones(int(np.prod(spatial, dtype=np.int64)), dtype=dtype))
    return np.stack(cols, axis=1)


class AffineGrid(Function):
    """grid[n, p] = theta[n] @ (x_p, y_p[, z_p], 1): a (N, *spatial, d) sampling grid.

    theta: (N, d, d + 1);  base B: (P, d + 1).  grid = B theta^T,  gtheta[n] = gy[n]^T B.
    """

    @staticmethod
    def forward(ctx: Context, theta, *, spatial: tuple[int, ...], align_corners: bool):
        base = base_grid(spatial, align_corners, theta.dtype)              # (P, d + 1)
        ctx.base = base
        n, d = theta.shape[0], theta.shape[1]
        grid = np.matmul(base, theta.transpose(0, 2, 1))                    # (N, P, d)
        return grid.reshape((n,) + tuple(spatial) + (d,))

    @staticmethod
    def backward(ctx: Context, gy):
        n, d = gy.shape[0], gy.shape[-1]
        g = gy.reshape(n, -1, d).transpose(0, 2, 1)                         # (N, d, P)
        return (np.matmul(g, ctx.base),)                                    # (N, d, d + 1)


# ----------------------------------------------------------------------------- coordinates
def unnormalize(c: np.ndarray, size: int, align_corners: bool) -> tuple[np.ndarray, float]:
    """Grid coordinate in [-1, 1] -> pixel coordinate u, and the slope du/dc."""
    one = c.dtype.type(1)
    if align_corners:
        return (c + one) / c.dtype.type(2) * c.dtype.type(size - 1), (size - 1) / 2
    return ((c + one) * c.dtype.type(size) - one) / c.dtype.type(2), size / 2


def clip(u: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """u clipped to [0, L - 1] (nan -> 0), and its slope: 1 strictly inside, else 0."""
    hi = u.dtype.type(size - 1)
    slope = ((u > 0) & (u < hi)).astype(u.dtype)
    return np.fmin(np.fmax(u, u.dtype.type(0)), hi), slope


def reflect(u: np.ndarray, twice_low: int, twice_high: int) -> tuple[np.ndarray, np.ndarray]:
    """Fold u into [low, high] by reflecting at the ends (low = twice_low / 2, ...), and the
    slope (+1 or -1): distance |u - low| = flips * span + extra; an even number of flips lands
    at low + extra, an odd one at high - extra."""
    if twice_low == twice_high:
        return np.zeros_like(u), np.zeros_like(u)
    low = u.dtype.type(twice_low / 2)
    span = u.dtype.type((twice_high - twice_low) / 2)
    rel = u - low
    dist = np.abs(rel)
    extra = np.fmod(dist, span)
    odd = np.fmod(np.floor(dist / span), 2) == 1
    out = np.where(odd, span - extra + low, extra + low)
    slope = np.where(rel < 0, -1, 1) * np.where(odd, -1, 1)
    return out, slope.astype(u.dtype)


def apply_padding(u: np.ndarray, size: int, padding_mode: str,
                  align_corners: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Pixel coordinate -> the coordinate sampled under `padding_mode`, and its slope (None for
    'zeros', whose coordinate is unchanged)."""
    if padding_mode == "zeros":
        return u, None
    slope: np.ndarray | None = None
    if padding_mode == "reflection":
        if align_corners:
            u, slope = reflect(u, 0, 2 * (size - 1))
        else:
            u, slope = reflect(u, -1, 2 * size - 1)
    u, s = clip(u, size)
    return u, s if slope is None else s * slope


def in_bounds(i: np.ndarray, size: int) -> np.ndarray:
    """Integer-valued float positions that lie in [0, L) (nan and inf never do)."""
    return (i >= 0) & (i <= size - 1)


def cubic_weights(t: np.ndarray) -> list[np.ndarray]:
    """w_a(t) = W(t + 1 - a), a = 0..3: the weights of taps i - 1, i, i + 1, i + 2."""
    a = CUBIC_A

    def near(s):      # W on |s| <= 1
        return ((a + 2) * s - (a + 3)) * s * s + 1

    def far(s):       # W on 1 < |s| < 2
        return ((a * s - 5 * a) * s + 8 * a) * s - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def cubic_weight_slopes(t: np.ndarray) -> list[np.ndarray]:
    """d w_a / dt:  W'(s) = (3(A+2)s - 2(A+3)) s  (|s| <= 1),  (3A s - 10A) s + 8A  (1 < |s| < 2),
    with the chain-rule sign of s = t + 1 - a (+1 for taps 0, 1 and -1 for taps 2, 3)."""
    a = CUBIC_A

    def near(s):
        return (3 * (a + 2) * s - 2 * (a + 3)) * s

    def far(s):
        return (3 * a * s - 10 * a) * s + 8 * a

    return [far(t + 1), near(t), -near(1 - t), -far(2 - t)]


# ----------------------------------------------------------------------------- gather/scatter
class _Taps:
    """Flat tap indices into x viewed as (N, C, S) with S = prod(spatial): index arithmetic and
    the gather/scatter shared by the three modes."""

    def __init__(self, spatial: Sequence[int]) -> None:
        self.spatial = tuple(spatial)                         # (H, W) or (D, H, W)
        self.d = len(spatial)
        self.size = [self.spatial[self.d - 1 - k] for k in range(self.d)]   # x, y, z order
        strides = np.cumprod((1,) + self.spatial[::-1])[:-1]              # W-stride first
        self.stride = [int(s) for s in strides]                            # x, y, z order
        self.numel = int(np.prod(self.spatial, dtype=np.int64))

    def flat(self, pos: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Float tap positions per coordinate (each (N, P)) -> (flat index (N, P) int64, valid
        (N, P) bool); invalid taps get index 0 (their value is masked to 0 by the caller)."""
        valid = in_bounds(pos[0], self.size[0])
        for k in range(1, self.d):
            valid &= in_bounds(pos[k], self.size[k])
        idx = np.zeros(valid.shape, dtype=np.int64)
        for k in range(self.d):
            idx += np.where(valid, pos[k], 0).astype(np.int64) * self.stride[k]
        return idx, valid

    @staticmethod
    def gather(xf: np.ndarray, idx: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """v[n, c, p] = x[n, c, idx[n, p]] where valid, else 0.   xf: (N, C, S) -> (N, C, P)."""
        v = np.take_along_axis(xf, idx[:, None, :], axis=2)
        return np.where(valid[:, None, :], v, xf.dtype.type(0))

    def scatter(self, weighted: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                n: int, c: int, dtype: np.dtype) -> np.ndarray:
        """gx[n, c, s] = sum over taps and points with idx[n, p] == s of g[n, c, p] (valid taps
        only).  `weighted` holds (idx, valid, g) per tap with g: (N, C, P).  One np.bincount
        over flat (n, c, s) indices does the scatter-add."""
        if n * c == 0 or not weighted:
            return np.zeros((n, c, self.numel), dtype=dtype)
        rows = (np.arange(n * c, dtype=np.int64) * self.numel).reshape(n, c, 1)
        keys = []
        vals = []
        for idx, valid, g in weighted:
            keys.append((rows + idx[:, None, :]).reshape(-1))
            vals.append(np.where(valid[:, None, :], g, 0).reshape(-1))
        gx = np.bincount(np.concatenate(keys), weights=np.concatenate(vals),
                         minlength=n * c * self.numel)
        return gx.astype(dtype, copy=False).reshape(n, c, self.numel)


# ----------------------------------------------------------------------------- grid sample
class GridSample(Function):
    """y[n, c, p] = x[n, c] sampled at grid[n, p] (see the module docstring for the formulas).

    x: (N, C, *spatial) with spatial = (H, W) or (D, H, W);  grid: (N, *out, d), d = len(spatial)
    -> y: (N, C, *out).  Bicubic is 2-D only.
    """

    @staticmethod
    def forward(ctx: Context, x, grid, *, mode: str, padding_mode: str, align_corners: bool):
        n, c = x.shape[:2]
        taps = _Taps(x.shape[2:])
        out = grid.shape[1:-1]
        xf = x.reshape(n, c, taps.numel)
        coords = grid.reshape(n, -1, taps.d)                                # (N, P, d)
        y = np.zeros((n, c, coords.shape[1]), dtype=x.dtype)
        for weight, idx, valid in _taps_of(coords, taps, mode, padding_mode, align_corners):
            v = taps.gather(xf, idx, valid)                                 # (N, C, P)
            y += v if weight is None else weight[:, None, :] * v
        ctx.save_for_backward(x, grid)
        ctx.params = (mode, padding_mode, align_corners)
        return y.reshape((n, c) + tuple(out))

    @staticmethod
    def backward(ctx: Context, gy):
        x, grid = ctx.saved
        mode, padding_mode, align_corners = ctx.params
        n, c = x.shape[:2]
        taps = _Taps(x.shape[2:])
        coords = grid.reshape(n, -1, taps.d)
        p = coords.shape[1]
        g = gy.reshape(n, c, p)
        need_x, need_grid = ctx.needs_input_grad
        gx = ggrid = None
        if need_x:
            weighted = [(idx, valid, g if w is None else g * w[:, None, :])
                        for w, idx, valid in _taps_of(coords, taps, mode, padding_mode,
                                                      align_corners)]
            gx = taps.scatter(weighted, n, c, x.dtype).reshape(x.shape)
        if need_grid:
            if mode == "nearest":                 # piecewise constant: zero, as PyTorch
                ggrid = np.zeros_like(grid)
            else:
                xf = x.reshape(n, c, taps.numel)
                gu = _coordinate_grad(xf, g, coords, taps, mode, padding_mode, align_corners)
                ggrid = gu.reshape(grid.shape)
        return gx, ggrid


def _sample_positions(coords: np.ndarray, taps: _Taps, padding_mode: str,
                      align_corners: bool) -> tuple[list[np.ndarray], list[np.ndarray | None],
                                                    list[float]]:
    """Per coordinate k: the padded pixel coordinate u_k (N, P), its padding slope (None for
    zeros) and the unnormalising slope du/dc."""
    us, slopes, scales = [], [], []
    for k in range(taps.d):
        u, scale = unnormalize(coords[..., k], taps.size[k], align_corners)
        u, slope = apply_padding(u, taps.size[k], padding_mode, align_corners)
        us.append(u)
        slopes.append(slope)
        scales.append(scale)
    return us, slopes, scales


def _taps_of(coords: np.ndarray, taps: _Taps, mode: str, padding_mode: str,
             align_corners: bool):
    """Yield (weight (N, P) or None, flat index (N, P), valid (N, P)) for every tap of `mode`."""
    if mode == "bicubic":
        yield from _cubic_taps(coords, taps, padding_mode, align_corners)
        return
    us, _, _ = _sample_positions(coords, taps, padding_mode, align_corners)
    if mode == "nearest":
        idx, valid = taps.flat([np.rint(u) for u in us])
        yield None, idx, valid
        return
    lo = [np.floor(u) for u in us]
    t = [u - f for u, f in zip(us, lo)]
    for bits in itertools.product((0, 1), repeat=taps.d):
        weight = _corner_weight(t, bits)
        idx, valid = taps.flat([f + b for f, b in zip(lo, bits)])
        yield weight, idx, valid


def _corner_weight(t: list[np.ndarray], bits: Sequence[int], skip: int = -1) -> np.ndarray:
    """prod_k (t_k if bit_k else 1 - t_k), leaving out factor `skip`."""
    factors = [tk if b else 1 - tk for k, (tk, b) in enumerate(zip(t, bits)) if k != skip]
    w = factors[0]
    for f in factors[1:]:
        w = w * f
    return w


def _cubic_taps(coords: np.ndarray, taps: _Taps, padding_mode: str, align_corners: bool):
    """The 16 bicubic taps (2-D): weight w_a(t_x) w_b(t_y) at (i_x - 1 + a, i_y - 1 + b), each
    tap position padded on its own."""
    us = [unnormalize(coords[..., k], taps.size[k], align_corners)[0] for k in range(2)]
    lo = [np.floor(u) for u in us]
    wx, wy = (cubic_weights(u - f) for u, f in zip(us, lo))
    px = [apply_padding(lo[0] + (a - 1), taps.size[0], padding_mode, align_corners)[0]
          for a in range(4)]
    py = [apply_padding(lo[1] + (b - 1), taps.size[1], padding_mode, align_corners)[0]
          for b in range(4)]
    for b in range(4):
        for a in range(4):
            idx, valid = taps.flat([px[a], py[b]])
            yield wx[a] * wy[b], idx, valid


def _coordinate_grad(xf: np.ndarray, g: np.ndarray, coords: np.ndarray, taps: _Taps,
                     mode: str, padding_mode: str, align_corners: bool) -> np.ndarray:
    """d loss / d grid, (N, P, d): sum_c g * sum_taps x[tap] dw/dt_k, times du_k/dc_k."""
    n, p = coords.shape[:2]
    gu = np.zeros((n, p, taps.d), dtype=coords.dtype)
    if mode == "bicubic":
        us, scales = [], []
        for k in range(2):
            u, scale = unnormalize(coords[..., k], taps.size[k], align_corners)
            us.append(u)
            scales.append(scale)
        t = [u - np.floor(u) for u in us]
        wx, wy = cubic_weights(t[0]), cubic_weights(t[1])
        sx, sy = cubic_weight_slopes(t[0]), cubic_weight_slopes(t[1])
        for k_tap, (_, idx, valid) in enumerate(_cubic_taps(coords, taps, padding_mode,
                                                            align_corners)):
            b, a = divmod(k_tap, 4)
            s = np.einsum("ncp,ncp->np", g, taps.gather(xf, idx, valid))   # (N, P)
            gu[..., 0] += s * sx[a] * wy[b]
            gu[..., 1] += s * wx[a] * sy[b]
        for k in range(2):
            gu[..., k] *= gu.dtype.type(scales[k])
        return gu
    us, slopes, scales = _sample_positions(coords, taps, padding_mode, align_corners)
    lo = [np.floor(u) for u in us]
    t = [u - f for u, f in zip(us, lo)]
    for bits in itertools.product((0, 1), repeat=taps.d):
        idx, valid = taps.flat([f + b for f, b in zip(lo, bits)])
        s = np.einsum("ncp,ncp->np", g, taps.gather(xf, idx, valid))        # (N, P)
        for k in range(taps.d):
            dw = _corner_weight(t, bits, skip=k)
            gu[..., k] += s * dw if bits[k] else -(s * dw)
    for k in range(taps.d):
        gu[..., k] *= gu.dtype.type(scales[k])
        slope = slopes[k]
        if slope is not None:
            gu[..., k] *= slope
    return gu
