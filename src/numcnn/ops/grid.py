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

Backward: the input gradient scatters gy * weight onto the taps (sorted by pixel, then summed
run by run: a vectorised scatter-add, no `np.add.at`, see `_segment_sum`); the grid gradient is
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
    """Fold u into [low, high] by reflecting at both ends (low = twice_low / 2, high =
    twice_high / 2), and the slope (+1 or -1).

    With span = high - low, the reflections repeat every 2 span: the distance |u - low| leaves
    extra = |u - low| mod 2 span, which lands at low + extra on the way out (extra <= span) and
    at low + 2 span - extra on the way back.  The slope is sign(u - low), negated on the way
    back.  (The remainder is taken as |u - low| - floor(|u - low| / 2 span) 2 span, as PyTorch
    does, so even absurdly far points fold to the same place as there.)
    """
    if twice_low == twice_high:
        return np.zeros_like(u), np.zeros_like(u)
    low = u.dtype.type(twice_low / 2)
    span = u.dtype.type((twice_high - twice_low) / 2)
    period = u.dtype.type(twice_high - twice_low)
    rel = u - low
    dist = np.abs(rel)
    extra = dist - np.floor(dist / period) * period
    out = np.fmin(extra, period - extra) + low
    slope = np.where(rel < 0, -1, 1) * np.where(extra > span, -1, 1)
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


# ----------------------------------------------------------------------------- taps
class _Sampler:
    """Where every output point reads x, for one call: the taps of `mode` and their weights.

    x is read channels-last as rows: `rows(x)` is (N*S + 1, C) with S = prod(spatial), row
    n*S + s holding x[n, :, s] and a last row of zeros that every out-of-bounds tap reads (so a
    nan weight still gives nan, as in PyTorch, while a masked tap never reads x).  A tap is
    (weight (N, P) or None for nearest, row index (N, P), d weight / d t_k per coordinate); the
    chain factors d t_k / d grid_k (unnormalising slope times padding slope) are `dt_dc`.
    """

    def __init__(self, x_shape: Sequence[int], grid: np.ndarray, mode: str, padding_mode: str,
                 align_corners: bool) -> None:
        self.n, self.c = int(x_shape[0]), int(x_shape[1])
        spatial = tuple(int(v) for v in x_shape[2:])                    # (H, W) or (D, H, W)
        self.d = d = len(spatial)
        self.size = [spatial[d - 1 - k] for k in range(d)]              # x, y, z order
        self.stride = [int(np.prod(spatial[d - k:], dtype=np.int64)) for k in range(d)]
        self.numel = int(np.prod(spatial, dtype=np.int64))
        self.mode = mode
        coords = _points(grid)                                          # (N, P, d)
        self.p = coords.shape[1]
        self.base = (np.arange(self.n, dtype=np.intp) * self.numel)[:, None]
        self.dt_dc: list[np.ndarray | float] = []
        us = []
        for k in range(d):
            u, scale = unnormalize(coords[..., k], self.size[k], align_corners)
            if mode != "bicubic":                 # bicubic pads each tap, not the point
                u, slope = apply_padding(u, self.size[k], padding_mode, align_corners)
                if slope is not None:
                    self.dt_dc.append(slope * u.dtype.type(scale))
                    us.append(u)
                    continue
            self.dt_dc.append(scale)
            us.append(u)
        if mode == "nearest":
            self.pos = [np.rint(u) for u in us]
            return
        self.lo = [np.floor(u) for u in us]
        self.t = [u - f for u, f in zip(us, self.lo)]
        if mode == "bicubic":
            self.cubic_pos = [[apply_padding(f + (a - 1), self.size[k], padding_mode,
                                             align_corners)[0] for a in range(4)]
                              for k, f in enumerate(self.lo)]

    def rows(self, x: np.ndarray) -> np.ndarray:
        """(N, C, *spatial) -> (N*S + 1, C): channels-last rows plus one row of zeros."""
        r = np.empty((self.n * self.numel + 1, self.c), dtype=x.dtype)
        np.copyto(r[:-1].reshape(self.n, self.numel, self.c),
                  x.reshape(self.n, self.c, self.numel).transpose(0, 2, 1))
        r[-1] = 0
        return r

    def index(self, pos: Sequence[np.ndarray]) -> np.ndarray:
        """Integer-valued float positions (x, y[, z]), each (N, P) -> row index (N, P); a tap
        outside the input (or at nan/inf) gets the zero row N*S."""
        idx = self.base.copy()
        valid = None
        for k, q in enumerate(pos):
            ok = (q >= 0) & (q <= self.size[k] - 1)        # False for nan
            valid = ok if valid is None else valid & ok
            idx = idx + np.where(ok, q, 0).astype(np.intp) * self.stride[k]
        return np.where(valid, idx, self.n * self.numel) if valid is not None else idx

    def taps(self, slopes: bool = False):
        """Yield (weight, row index, [d weight / d t_k for k < d] if slopes else None)."""
        if self.mode == "nearest":
            yield None, self.index(self.pos), None
        elif self.mode == "bilinear":
            for bits in itertools.product((0, 1), repeat=self.d):
                f = [tk if b else 1 - tk for tk, b in zip(self.t, bits)]   # per-axis factors
                w = _product(f)
                idx = self.index([lo + b for lo, b in zip(self.lo, bits)])
                dw = None
                if slopes:      # d/dt_k: the other factors, signed by the corner's side
                    dw = [_product(f[:k] + f[k + 1:]) * (1 if b else -1)
                          for k, b in enumerate(bits)]
                yield w, idx, dw
        else:
            wx, wy = (cubic_weights(t) for t in self.t)
            sx, sy = (cubic_weight_slopes(t) for t in self.t) if slopes else ([], [])
            px, py = self.cubic_pos
            for b in range(4):
                for a in range(4):
                    idx = self.index([px[a], py[b]])
                    yield wx[a] * wy[b], idx, [sx[a] * wy[b], wx[a] * sy[b]] if slopes \
                        else None


def _points(grid: np.ndarray) -> np.ndarray:
    """(N, *out, d) -> (N, P, d), P = prod(out) (which may be 0)."""
    return grid.reshape(grid.shape[0], int(np.prod(grid.shape[1:-1], dtype=np.int64)),
                        grid.shape[-1])


def _product(factors: Sequence[np.ndarray]) -> np.ndarray:
    out = factors[0]
    for f in factors[1:]:
        out = out * f
    return out


def _segment_sum(keys: np.ndarray, vals: np.ndarray, size: int, direct: int = 8) -> np.ndarray:
    """out[k] = sum of the rows vals[j] with keys[j] == k, for k < size (larger keys dropped).

    keys: (M,), vals: (M, C) -> (size, C).  After sorting, equal keys form runs; the first
    `direct` rows of every run are added with one vectorised step per offset (a loop over the
    offsets, never the elements, as `resample._scatter_sorted`), and whatever is left of longer
    runs (many points on one pixel: a clamped border, a strong zoom-out) with one
    np.add.reduceat.  A scatter-add with no np.add.at, ~4x faster here than np.bincount.
    """
    out = np.zeros((size, vals.shape[1]), dtype=vals.dtype)
    if keys.size == 0:
        return out
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    starts = np.flatnonzero(np.diff(k, prepend=-1))            # first row of each run
    lengths = np.diff(starts, append=k.size)
    acc = np.take(vals, order[starts], axis=0)                  # (runs, C)
    longest = int(lengths.max())
    for j in range(1, min(longest, direct)):
        longer = np.flatnonzero(lengths > j)
        acc[longer] += np.take(vals, order[starts[longer] + j], axis=0)
    if longest > direct:                                        # the tails of the long runs
        longer = np.flatnonzero(lengths > direct)
        count = lengths[longer] - direct
        first = np.cumsum(count) - count                        # each tail's start in `pos`
        pos = np.repeat(starts[longer] + direct - first, count) + np.arange(count.sum())
        acc[longer] += np.add.reduceat(np.take(vals, order[pos], axis=0), first, axis=0)
    keep = k[starts] < size
    out[k[starts][keep]] = acc[keep]
    return out


# ----------------------------------------------------------------------------- grid sample
class GridSample(Function):
    """y[n, c, p] = sum over the taps of weight * x[n, c, tap]  (module docstring: the taps).

    x: (N, C, *spatial) with spatial = (H, W) or (D, H, W);  grid: (N, *out, d), d = len(spatial)
    -> y: (N, C, *out).  Bicubic is 2-D only.
    gx[n, c, s] = sum over taps reading s of weight * gy[n, c, p];
    ggrid[n, p, k] = sum_c gy[n, c, p] sum_taps x[n, c, tap] d weight/d t_k * d t_k/d grid_k.
    """

    @staticmethod
    def forward(ctx: Context, x, grid, *, mode: str, padding_mode: str, align_corners: bool):
        ctx.save_for_backward(x, grid)
        ctx.params = (mode, padding_mode, align_corners)
        with np.errstate(invalid="ignore"):      # nan/inf points give nan as in PyTorch
            sampler = _Sampler(x.shape, grid, mode, padding_mode, align_corners)
            xr = sampler.rows(x)                                            # (N*S + 1, C)
            y = np.zeros((sampler.n, sampler.p, sampler.c), dtype=x.dtype)  # (N, P, C)
            for w, idx, _ in sampler.taps():
                v = np.take(xr, idx, axis=0)                                # (N, P, C)
                if w is not None:
                    np.multiply(v, w[..., None], out=v)
                y += v
        out = y.reshape((sampler.n,) + grid.shape[1:-1] + (sampler.c,))
        # contiguous NC(D)HW as PyTorch's, so that `.view` on the result works as there
        return np.ascontiguousarray(np.moveaxis(out, -1, 1))

    @staticmethod
    def backward(ctx: Context, gy):
        x, grid = ctx.saved
        mode, padding_mode, align_corners = ctx.params
        need_x, need_grid = ctx.needs_input_grad
        need_grid = need_grid and mode != "nearest"   # piecewise constant: zero, as PyTorch
        with np.errstate(invalid="ignore"):
            sampler = _Sampler(x.shape, grid, mode, padding_mode, align_corners)
            n, c, p = sampler.n, sampler.c, sampler.p
            g = np.ascontiguousarray(np.moveaxis(gy.reshape(n, c, p), 1, 2))   # (N, P, C)
            xr = sampler.rows(x) if need_grid else None
            keys, vals = [], []                   # per tap: row index (N*P,), gy * w (N*P, C)
            gt = [np.zeros((n, p), dtype=grid.dtype) for _ in range(sampler.d)]
            for w, idx, dw in sampler.taps(slopes=need_grid):
                if need_x:
                    keys.append(idx.reshape(-1))
                    vals.append((g if w is None else g * w[..., None]).reshape(n * p, c))
                if need_grid and xr is not None and dw is not None:
                    v = np.take(xr, idx, axis=0)                            # (N, P, C)
                    s = np.einsum("npc,npc->np", g, v)                      # (N, P)
                    for k in range(sampler.d):
                        gt[k] += s * dw[k]
        gx = ggrid = None
        if need_x:       # scatter-add onto channels-last rows; the zero row's share dropped
            rows = _segment_sum(np.concatenate(keys), np.concatenate(vals), n * sampler.numel)
            gx = np.moveaxis(rows.reshape((n,) + x.shape[2:] + (c,)), -1, 1)
        if ctx.needs_input_grad[1]:
            if need_grid:
                ggrid = np.stack([gt[k] * sampler.dt_dc[k] for k in range(sampler.d)], axis=-1)
                ggrid = ggrid.astype(grid.dtype, copy=False).reshape(grid.shape)
            else:
                ggrid = np.zeros_like(grid)
        return gx, ggrid
