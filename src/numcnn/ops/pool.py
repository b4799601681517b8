"""Pooling kernels: max, average, adaptive and power-average pooling, and max-unpooling.

Axis legend: N batch, C channels, D/H/W depth/height/width; S the spatial sizes (L in 1-D),
O the output sizes, K the kernel size, s the stride, p the padding, d the dilation.  The
kernels pool over the LAST `len(kernel_size)` axes and treat every leading axis as a batch
axis, so (C, H, W) and (N, C, H, W) inputs need no reshaping.

Window geometry (PyTorch's, per spatial axis):

    O = floor((L + 2p - d(K-1) - 1) / s) + 1                      (ceil instead with ceil_mode;
    with ceil_mode the last window must start inside the input or the left padding)
    window i reads input positions  i*s - p + k*d,  k = 0..K-1

Every kernel loops over the K*K kernel offsets only: offset k reads one strided slice of the
input for all windows at once (`_offset_slices`).  Padded cells are never materialised; an
offset simply skips the windows for which it lands in the padding.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from numcnn.autograd.function import Context, Function
from numcnn.autograd.linear_map import linear_map

# ----------------------------------------------------------------------------- geometry


def pool_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int,
                     ceil_mode: bool) -> int:
    """PyTorch's pooled length along one axis (may be < 1; the caller rejects that).

    O = floor((L + 2p - d(K-1) - 1 [+ s-1 with ceil_mode]) / s) + 1, and with ceil_mode the last
    window is dropped when it would start in the right padding: (O-1)*s >= L + p.
    """
    span = size + 2 * padding - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = span // stride + 1                     # floor division rounds towards -inf, as torch
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _offset_slices(size: int, out: int, stride: int, padding: int, dilation: int,
                   k: int) -> tuple[slice, slice]:
    """For kernel offset k along one axis: (output slice, input slice) of the windows whose
    k-th tap lands inside the input.  Window i reads position i*s - p + k*d, valid in [0, L)."""
    shift = k * dilation - padding                        # position read by window 0
    lo = max(0, -(shift // stride) if shift < 0 else 0)   # first i with i*s + shift >= 0
    hi = min(out, (size - 1 - shift) // stride + 1) if size - 1 - shift >= 0 else 0
    if hi <= lo:
        return slice(0, 0), slice(0, 0)
    start = lo * stride + shift
    return slice(lo, hi), slice(start, start + (hi - lo - 1) * stride + 1, stride)


class _Geometry:
    """Per-axis slices of every kernel offset, in row-major (PyTorch's scan) order.

    The slices index arrays laid out (..., *S) or, with `spatial_first`, (*S, ...)."""

    def __init__(self, spatial: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
                 padding: Sequence[int], dilation: Sequence[int], out: Sequence[int],
                 spatial_first: bool = False) -> None:
        self.spatial, self.kernel, self.stride = tuple(spatial), tuple(kernel), tuple(stride)
        self.padding, self.dilation, self.out = tuple(padding), tuple(dilation), tuple(out)
        per_axis = [
            [_offset_slices(L, o, s, p, d, k) for k in range(K)]
            for L, o, s, p, d, K in zip(spatial, out, stride, padding, dilation, kernel)
        ]
        # offsets: list of (flat offset t, output slices, input slices), skipping empty ones
        self.offsets: list[tuple[int, tuple[Any, ...], tuple[Any, ...]]] = []
        for t, combo in enumerate(itertools.product(*per_axis)):
            oslc = tuple(c[0] for c in combo)
            if any(sl.stop <= sl.start for sl in oslc):
                continue
            islc = tuple(c[1] for c in combo)
            if spatial_first:
                self.offsets.append((t, (*oslc, Ellipsis), (*islc, Ellipsis)))
            else:
                self.offsets.append((t, (Ellipsis, *oslc), (Ellipsis, *islc)))
        self.spatial_first = spatial_first
        # windows never overlap when every stride covers the dilated kernel extent
        self.disjoint = all(s >= d * (K - 1) + 1 for s, d, K in zip(stride, dilation, kernel))

    def full(self, oslc: tuple[Any, ...]) -> bool:
        """True when an output slice covers every window."""
        slices = oslc[:-1] if self.spatial_first else oslc[1:]
        return all(sl.start == 0 and sl.stop == o for sl, o in zip(slices, self.out))

    def out_shape(self, lead: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of an output whose batch axes are `lead`, in this geometry's layout."""
        return self.out + lead if self.spatial_first else lead + self.out


def _axis_view(v: np.ndarray, axis: int, nd: int) -> np.ndarray:
    """A 1-D array along spatial axis `axis` of `nd`, shaped to broadcast over (..., *O)."""
    shape = [1] * nd
    shape[axis] = v.shape[0]
    return v.reshape(shape)


# ----------------------------------------------------------------------------- max pooling


def _max_pool_forward(x: np.ndarray, g: _Geometry) -> tuple[np.ndarray, np.ndarray]:
    """y[..., i] = max_k x[..., i*s - p + k*d]; arg[..., i] = the winning flat kernel offset.

    PyTorch's scan: taps in row-major order, a tap wins when x > best (the FIRST maximum
    wins ties) or when x is NaN (NaN propagates; the LAST NaN wins).  Windows start at -inf
    with their first in-bounds tap as the index.  Vectorised per tap t:
        win = x_t > y;  y = maximum(y, x_t);  arg = maximum(arg, win * t)
    (the last works because every in-bounds tap t is >= the window's current arg).
    """
    nd = len(g.out)
    lead = x.shape[nd:] if g.spatial_first else x.shape[: x.ndim - nd]
    out_shape = g.out_shape(lead)
    area = math.prod(g.kernel)
    arg_dtype = np.int16 if area < 2**15 else np.int32
    has_nan = x.dtype.kind == "f" and x.size > 0 and bool(np.isnan(np.max(x)))
    offsets = g.offsets
    if offsets and offsets[0][0] == 0 and g.full(offsets[0][1]):
        y = x[offsets[0][2]].copy()                       # (..., *O): tap 0 is always in bounds
        arg = np.zeros(out_shape, dtype=arg_dtype)
        offsets = offsets[1:]
    else:
        low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        y = np.full(out_shape, low, dtype=x.dtype)
        first = _first_tap(g)
        if g.spatial_first:
            first = first.reshape(g.out + (1,) * len(lead))
        arg = np.broadcast_to(first, out_shape).astype(arg_dtype, order="C")
    for t, oslc, islc in offsets:
        xs, yr, ar = x[islc], y[oslc], arg[oslc]
        win = np.greater(xs, yr)
        if has_nan:
            win |= np.isnan(xs)
        np.maximum(yr, xs, out=yr)                        # NaN propagates, as in torch
        np.maximum(ar, np.multiply(win, t, dtype=arg_dtype), out=ar)
    return y, arg


def _first_tap_per_axis(g: _Geometry) -> list[np.ndarray]:
    """k_first[i] = the first tap of window i inside the input: ceil((p - i*s)/d), clipped at 0."""
    return [np.maximum(0, -((np.arange(o) * s - p) // d)) for o, s, p, d in
            zip(g.out, g.stride, g.padding, g.dilation)]


def _first_tap(g: _Geometry) -> np.ndarray:
    """Flat kernel offset of every window's first in-bounds tap, shape O (clipped into the
    kernel for windows that have none: those stay at -inf and pass no gradient)."""
    nd, flat = len(g.out), np.zeros(g.out, dtype=np.int64)
    kstride = math.prod(g.kernel)
    for a, (kf, K) in enumerate(zip(_first_tap_per_axis(g), g.kernel)):
        kstride //= K
        flat = flat + _axis_view(np.minimum(kf, K - 1), a, nd) * kstride
    return flat


def _max_pool_indices(arg: np.ndarray, g: _Geometry) -> np.ndarray:
    """Flat per-plane input index of each winner (PyTorch's `indices`): sum_a pos_a * stride_a,
    pos_a = i_a*s_a - p_a + k_a*d_a with k_a unravelled from the flat kernel offset."""
    nd = len(g.out)
    idx = np.zeros(arg.shape, dtype=np.int64)
    kstride, pstride = math.prod(g.kernel), math.prod(g.spatial)
    for a, (kf, L, K, s, p, d, o) in enumerate(zip(_first_tap_per_axis(g), g.spatial, g.kernel,
                                                   g.stride, g.padding, g.dilation, g.out)):
        kstride //= K
        pstride //= L
        k = (arg // kstride) % K
        base = np.arange(o) * s - p
        pos = _axis_view(base, a, nd) + k * d
        if np.any(kf >= K):                                  # windows with no in-bounds tap:
            empty = _axis_view(kf >= K, a, nd)               # torch reports the first position
            pos = np.where(empty, _axis_view(base + kf * d, a, nd), pos)  # at or after 0
        idx += pos * pstride
    return idx


def _max_pool_backward(gy: np.ndarray, arg: np.ndarray, g: _Geometry,
                       x_shape: tuple[int, ...]) -> np.ndarray:
    """gx = gy scattered to the winners: one masked slice-add per kernel offset."""
    gx = np.zeros(x_shape, dtype=gy.dtype)
    for t, oslc, islc in g.offsets:
        hit = arg[oslc] == t                                  # (..., *O slice) bool
        if g.disjoint:                                        # each input cell has one window
            np.multiply(gy[oslc], hit, out=gx[islc])
        else:
            view = gx[islc]
            view += np.multiply(gy[oslc], hit)
    return gx


def _max_pool_gather(gx: np.ndarray, arg: np.ndarray, g: _Geometry) -> np.ndarray:
    """The adjoint of `_max_pool_backward`: each window reads gx at its winner."""
    out = np.zeros(arg.shape, dtype=gx.dtype)
    for t, oslc, islc in g.offsets:
        out[oslc] += gx[islc] * (arg[oslc] == t)
    return out


def _spatial_first(a: np.ndarray, nd: int) -> np.ndarray:
    """(..., *S) -> (*S, ...), C-contiguous: a copy, unless `a` is a view of such an array."""
    return np.ascontiguousarray(np.moveaxis(a, range(a.ndim - nd, a.ndim), range(nd)))


def _spatial_last(a: np.ndarray, nd: int) -> np.ndarray:
    """(*S, ...) -> (..., *S), a view."""
    return np.moveaxis(a, range(nd), range(a.ndim - nd, a.ndim))


class MaxPoolNd(Function):
    """y[..., i] = max over window i (padding reads as -inf);  the gradient of each window goes
    to the one input that won it (first maximum in row-major scan order, as PyTorch).

    forward(x, kernel_size, stride, padding, dilation, out_size, return_indices) returns y,
    or (y, indices) with indices the flat per-plane position of each winner (int64).

    Layout: a tap's slice of a (..., H, W) array runs along W in rows of only W_out values, so
    NumPy spends its time starting inner loops.  When there are more planes (N*C) than that,
    the kernel works on a spatial-first copy (*S, ...), whose rows hold every plane, and returns
    y and gx as (..., *S) views of spatial-first arrays.
    """

    @staticmethod
    def forward(ctx: Context, x, *, kernel_size, stride, padding, dilation, out_size,
                return_indices=False):
        # x: (..., *S) -> y: (..., *O)
        nd = len(kernel_size)
        first = math.prod(x.shape[: x.ndim - nd]) > out_size[-1]
        if first:
            x = _spatial_first(x, nd)                         # (*S, ...)
        spatial = x.shape[:nd] if first else x.shape[x.ndim - nd:]
        g = _Geometry(spatial, kernel_size, stride, padding, dilation, out_size, first)
        y, arg = _max_pool_forward(x, g)
        ctx.geometry, ctx.x_shape = g, x.shape
        ctx.save_for_backward(arg)                            # keep the minimum: the winners
        if first:
            y, arg = _spatial_last(y, nd), _spatial_last(arg, nd)
        if return_indices:
            return y, _max_pool_indices(arg, g)
        return y

    @staticmethod
    def backward(ctx: Context, gy):
        (arg,) = ctx.saved
        g = ctx.geometry
        nd = len(g.out)
        if g.spatial_first:
            gx = _max_pool_backward(_spatial_first(gy, nd), arg, g, ctx.x_shape)
            return (_spatial_last(gx, nd),)
        return (_max_pool_backward(gy, arg, g, ctx.x_shape),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        # with the winners fixed, max pooling is linear: gx = A^T gy scatters, A gathers
        (arg,) = ctx.saved
        g = ctx.geometry
        nd = len(g.out)
        x_shape = ctx.x_shape
        if g.spatial_first:
            def scatter(h):
                return _spatial_last(_max_pool_backward(_spatial_first(h, nd), arg, g, x_shape),
                                     nd)

            def gather(h):
                return _spatial_last(_max_pool_gather(_spatial_first(h, nd), arg, g), nd)
        else:
            def scatter(h):
                return _max_pool_backward(h, arg, g, x_shape)

            def gather(h):
                return _max_pool_gather(h, arg, g)
        return (linear_map(gy, scatter, gather),)


# ----------------------------------------------------------------------------- max unpooling


class MaxUnpoolNd(Function):
    """y = zeros(..., *O) with y[..., indices] = x: the partial inverse of max pooling.
    Backward gathers: gx = gy[..., indices].  (Repeated indices: the last write wins.)"""

    @staticmethod
    def forward(ctx: Context, x, *, indices, out_size):
        # x, indices: (..., *I) -> y: (..., *O); planes flattened to (P, prod(I)) / (P, prod(O))
        nd = len(out_size)
        lead = x.shape[: x.ndim - nd]
        planes = math.prod(lead)
        idx = np.asarray(indices).reshape(planes, -1)
        y = np.zeros((planes, math.prod(out_size)), dtype=x.dtype)
        rows = np.arange(planes)[:, None]
        y[rows, idx] = x.reshape(planes, -1)
        ctx.idx, ctx.rows, ctx.x_shape = idx, rows, x.shape
        return y.reshape(lead + tuple(out_size))

    @staticmethod
    def backward(ctx: Context, gy):
        g2 = gy.reshape(ctx.rows.shape[0], -1)
        return (g2[ctx.rows, ctx.idx].reshape(ctx.x_shape),)


# ----------------------------------------------------------------------------- average pooling


def _avg_divisor(g: _Geometry, count_include_pad: bool, divisor_override: int | None,
                 dtype: np.dtype) -> np.ndarray | float:
    """PyTorch's divisor per window, a product over axes of per-axis counts:
    start = i*s - p, end = min(start + K, L + p): count_include_pad counts end - start
    (padding included, the part past L + p excluded), otherwise only the cells inside [0, L)."""
    if divisor_override is not None:
        return float(divisor_override)
    nd, div = len(g.out), np.ones((1,) * len(g.out), dtype=dtype)
    for a, (L, o, K, s, p) in enumerate(zip(g.spatial, g.out, g.kernel, g.stride, g.padding)):
        start = np.arange(o) * s - p
        end = np.minimum(start + K, L + p)
        n = end - start if count_include_pad else np.minimum(end, L) - np.maximum(start, 0)
        div = div * _axis_view(n.astype(dtype), a, nd)
    return div


def _avg_pool_forward(x: np.ndarray, g: _Geometry, div: np.ndarray | float) -> np.ndarray:
    """y[..., i] = (sum of the in-bounds taps of window i) / divisor (padding adds zeros)."""
    lead = x.shape[: x.ndim - len(g.out)]
    offsets = g.offsets
    if offsets and offsets[0][0] == 0 and g.full(offsets[0][1]):
        acc = x[offsets[0][2]].copy()                     # (..., *O)
        offsets = offsets[1:]
    else:
        acc = np.zeros(lead + g.out, dtype=x.dtype)
    for _, oslc, islc in offsets:
        acc[oslc] += x[islc]
    if acc.dtype.kind != "f":                             # integer input: truncate, as torch
        return np.trunc(acc / div).astype(acc.dtype)
    acc /= div
    return acc


def _avg_pool_backward(gy: np.ndarray, g: _Geometry, div: np.ndarray | float,
                       x_shape: tuple[int, ...]) -> np.ndarray:
    """gx[..., j] = sum over the windows i containing j of gy[..., i] / divisor[i]."""
    gd = gy / div
    gx = np.zeros(x_shape, dtype=gy.dtype)
    for _, oslc, islc in g.offsets:
        if g.disjoint:
            gx[islc] = gd[oslc]
        else:
            gx[islc] += gd[oslc]
    return gx


class AvgPoolNd(Function):
    """y[..., i] = sum over window i / divisor (zero padding; PyTorch's divisor rules);
    gx = gy / divisor added back to every cell of the window."""

    @staticmethod
    def forward(ctx: Context, x, *, kernel_size, stride, padding, out_size,
                count_include_pad=True, divisor_override=None):
        # x: (..., *S) -> y: (..., *O)
        nd = len(kernel_size)
        g = _Geometry(x.shape[x.ndim - nd:], kernel_size, stride, padding, (1,) * nd, out_size)
        div = _avg_divisor(g, count_include_pad, divisor_override, x.dtype)
        ctx.geometry, ctx.div, ctx.x_shape = g, div, x.shape
        return _avg_pool_forward(x, g, div)

    @staticmethod
    def backward(ctx: Context, gy):
        return (_avg_pool_backward(gy, ctx.geometry, ctx.div, ctx.x_shape),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        g, div, x_shape = ctx.geometry, ctx.div, ctx.x_shape
        return (linear_map(gy, lambda h: _avg_pool_backward(h, g, div, x_shape),
                           lambda h: _avg_pool_forward(np.ascontiguousarray(h), g, div)),)


class LPPoolNd(Function):
    """y = (K_area * avg_pool(x^p))^(1/p)  (= (sum over the window of x^p)^(1/p)), PyTorch's
    lp_pool with padding 0 and count_include_pad; the gradient is 0 where avg_pool(x^p) == 0.

    dy/da = K_area/p * (K_area a)^(1/p - 1) for a = avg_pool(x^p);  dx = avg_pool'(.) * p x^(p-1).
    """

    @staticmethod
    def forward(ctx: Context, x, *, norm_type, kernel_size, stride, out_size, out_dtype):
        # x: (..., *S) -> y: (..., *O); integer x pools in integers (as torch), y is out_dtype
        nd = len(kernel_size)
        g = _Geometry(x.shape[x.ndim - nd:], kernel_size, stride, (0,) * nd, (1,) * nd, out_size)
        area = math.prod(kernel_size)
        with np.errstate(all="ignore"):
            xp = np.power(x, norm_type)
            a = _avg_pool_forward(xp, g, _avg_divisor(g, True, None, xp.dtype))
            y = np.power(a * area, 1.0 / norm_type)
        ctx.geometry, ctx.p, ctx.area = g, norm_type, area
        ctx.save_for_backward(x, a)
        return y.astype(x.dtype if x.dtype.kind == "f" else out_dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, gy):
        x, a = ctx.saved
        p, area, g = ctx.p, ctx.area, ctx.geometry
        with np.errstate(all="ignore"):
            # d y / d a = area/p * (area a)^(1/p - 1);  0 where a == 0 (torch's rule)
            ga = np.where(a != 0, gy * area / p * np.power(a * area, 1.0 / p - 1.0), 0)
            gxp = _avg_pool_backward(ga.astype(gy.dtype, copy=False), g,
                                     _avg_divisor(g, True, None, gy.dtype), x.shape)
            gx = gxp * (p * np.power(x, p - 1)) if p != 1 else gxp
        return (gx.astype(gy.dtype, copy=False),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        # the formulas above in recorded ops, a = avg_pool(x^p) recomputed from x; avg_pool is
        # linear (its adjoint is _avg_pool_backward); where a == 0 the gradient is 0
        x = saved[0]
        p, area, g = ctx.p, ctx.area, ctx.geometry
        div = _avg_divisor(g, True, None, x.array.dtype)
        shape = tuple(x.shape)
        a = linear_map(x ** p, lambda h: _avg_pool_forward(np.ascontiguousarray(h), g, div),
                       lambda h: _avg_pool_backward(h, g, div, shape))
        live = a.array != 0
        safe = a.where(live, 1.0)                              # keeps 0 * inf out of the graph
        ga = (gy * (area / p) * (safe * area) ** (1.0 / p - 1.0)).where(live, 0.0)
        gxp = linear_map(ga, lambda h: _avg_pool_backward(h, g, div, shape),
                         lambda h: _avg_pool_forward(np.ascontiguousarray(h), g, div))
        return (gxp * (p * x ** (p - 1)) if p != 1 else gxp,)


# ----------------------------------------------------------------------------- adaptive pooling


def adaptive_windows(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's adaptive windows on one axis: start_i = floor(i*L/O), end_i = ceil((i+1)*L/O)."""
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def _adaptive_avg_matrix(size: int, out: int, dtype: np.dtype) -> np.ndarray:
    """P (L, O) with P[j, i] = 1/len_i for j in window i: averaging along an axis is x @ P."""
    start, end = adaptive_windows(size, out)
    j = np.arange(size)[:, None]
    inside = (j >= start) & (j < end)                       # (L, O)
    return (inside / (end - start)).astype(dtype)


def _along_axis(v: np.ndarray, m: np.ndarray, axis: int) -> np.ndarray:
    """Contract axis `axis` (negative) of v with the rows of m: v (..., L, *T) -> (..., M, *T)
    for m (L, M).  The last axis is a plain matmul; others go through a (pre, L, post) view."""
    if axis == -1:
        return v @ m
    shape = v.shape
    pre, length, post = shape[:axis], shape[axis], shape[axis + 1:]
    out = m.T @ v.reshape(-1, length, math.prod(post))     # (M, L) @ (B, L, T) -> (B, M, T)
    return out.reshape(pre + (m.shape[1],) + post)


class AdaptiveAvgPoolNd(Function):
    """y[..., i] = mean of x over window i, windows from `adaptive_windows`.  A box average is
    separable, so each axis is one matmul with its averaging matrix P; gx applies P^T back."""

    @staticmethod
    def forward(ctx: Context, x, *, out_size):
        # x: (..., *S) -> y: (..., *O)
        nd = len(out_size)
        mats = [_adaptive_avg_matrix(L, o, x.dtype)
                for L, o in zip(x.shape[x.ndim - nd:], out_size)]
        y = x
        for a, m in enumerate(mats):
            y = _along_axis(y, m, a - nd)
        ctx.mats = mats
        return np.ascontiguousarray(y)

    @staticmethod
    def backward(ctx: Context, gy):
        nd, gx = len(ctx.mats), gy
        for a, m in enumerate(ctx.mats):
            gx = _along_axis(gx, m.T, a - nd)
        return (gx,)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        mats = ctx.mats

        def pool(h):
            for a, m in enumerate(mats):
                h = _along_axis(h, m, a - len(mats))
            return np.ascontiguousarray(h)
        return (linear_map(gy, lambda h: AdaptiveAvgPoolNd.backward(ctx, h)[0], pool),)


class AdaptiveMaxPoolNd(Function):
    """y[..., i] = max over adaptive window i with its flat per-plane index (first maximum in
    row-major order wins, NaN propagates, as PyTorch).  The windows vary in length, so each
    tap k gathers position min(start + k, L-1) and only counts where k < end - start.
    Backward adds gy at the saved indices (one bincount over all planes)."""

    @staticmethod
    def forward(ctx: Context, x, *, out_size, return_indices=False):
        # x: (..., *S) -> y, indices: (..., *O)
        nd = len(out_size)
        spatial = x.shape[x.ndim - nd:]
        lead = x.shape[: x.ndim - nd]
        has_nan = x.dtype.kind == "f" and x.size > 0 and bool(np.isnan(np.max(x)))
        wins = [adaptive_windows(L, o) for L, o in zip(spatial, out_size)]
        taps = [int((e - s).max()) if len(s) else 0 for s, e in wins]
        pstrides = [math.prod(spatial[a + 1:]) for a in range(nd)]
        y: Any = None
        idx: Any = None
        for combo in itertools.product(*[range(t) for t in taps]):
            pos = [np.minimum(s + k, L - 1) for (s, _), k, L in zip(wins, combo, spatial)]
            vals = x[(Ellipsis,) + tuple(np.ix_(*pos))]       # (..., *O)
            flat = sum(_axis_view(q * ps, a, nd) for a, (q, ps) in enumerate(zip(pos, pstrides)))
            if y is None:                                     # tap 0 is inside every window
                y = vals.copy()
                idx = np.broadcast_to(flat, vals.shape).copy()
                continue
            valid = np.ones((1,) * nd, dtype=bool)
            for a, ((s, e), k) in enumerate(zip(wins, combo)):
                valid = valid & _axis_view(k < e - s, a, nd)
            win = vals > y
            if has_nan:
                win |= np.isnan(vals)
            win &= valid
            np.copyto(y, vals, where=win)
            np.copyto(idx, np.broadcast_to(flat, vals.shape), where=win)
        if y is None:                                          # an output size of 0
            y = np.zeros(lead + tuple(out_size), dtype=x.dtype)
            idx = np.zeros(y.shape, dtype=np.int64)
        ctx.idx, ctx.x_shape, ctx.nd = idx, x.shape, nd
        return (y, idx) if return_indices else y

    @staticmethod
    def backward(ctx: Context, gy):
        idx, x_shape, nd = ctx.idx, ctx.x_shape, ctx.nd
        planes = math.prod(x_shape[: len(x_shape) - nd])
        per_plane = math.prod(x_shape[len(x_shape) - nd:])
        keys = (np.arange(planes)[:, None] * per_plane + idx.reshape(planes, -1)).ravel()
        gx = np.bincount(keys, weights=gy.reshape(-1), minlength=planes * per_plane)
        return (gx.astype(gy.dtype, copy=False).reshape(x_shape),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        idx, x_shape, nd = ctx.idx, ctx.x_shape, ctx.nd
        planes = math.prod(x_shape[: len(x_shape) - nd])

        def gather(h):                                # each window reads h at its winner
            flat = np.ascontiguousarray(h).reshape(planes, -1)
            return np.take_along_axis(flat, idx.reshape(planes, -1), axis=1).reshape(idx.shape)
        return (linear_map(gy, lambda h: AdaptiveMaxPoolNd.backward(ctx, h)[0], gather),)
