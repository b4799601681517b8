"""Reductions: sum, mean, max/min (over all elements or along one axis), var.

`axis` is None (all axes) or a tuple of non-negative axes; `keepdim` as in PyTorch.
"""

from __future__ import annotations

import numpy as np

from numcnn.autograd.function import Context, Function


def _expand_back(gy: np.ndarray, shape: tuple[int, ...], axis, keepdim: bool) -> np.ndarray:
    """Re-insert the reduced axes of `gy` so that it broadcasts against the input `shape`."""
    if axis is None:
        return np.reshape(gy, (1,) * len(shape))
    if not keepdim:
        gy = np.expand_dims(gy, axis)
    return gy


def _expand_back_graph(gy, shape: tuple[int, ...], axis, keepdim: bool):
    """`_expand_back` for a recorded gradient (create_graph=True)."""
    if axis is None:
        return gy.reshape((1,) * len(shape))
    if not keepdim:
        for ax in sorted(axis):
            gy = gy.unsqueeze(ax)
    return gy


class Sum(Function):
    """y = sum_axis a;  da = gy broadcast over the reduced axes."""

    @staticmethod
    def forward(ctx: Context, a, *, axis=None, keepdim=False):
        ctx.shape, ctx.axis, ctx.keepdim = a.shape, axis, keepdim
        return np.asarray(np.sum(a, axis=axis, keepdims=keepdim))

    @staticmethod
    def backward(ctx: Context, gy):
        g = _expand_back(gy, ctx.shape, ctx.axis, ctx.keepdim)
        return (np.broadcast_to(g, ctx.shape),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        return (_expand_back_graph(gy, ctx.shape, ctx.axis, ctx.keepdim).expand(ctx.shape),)


class Mean(Function):
    """y = mean_axis a;  da = gy / n broadcast over the reduced axes (n = reduced count)."""

    @staticmethod
    def forward(ctx: Context, a, *, axis=None, keepdim=False):
        ctx.shape, ctx.axis, ctx.keepdim = a.shape, axis, keepdim
        ctx.count = a.size if axis is None else int(np.prod([a.shape[i] for i in axis]))
        return np.asarray(np.mean(a, axis=axis, keepdims=keepdim))

    @staticmethod
    def backward(ctx: Context, gy):
        g = _expand_back(gy, ctx.shape, ctx.axis, ctx.keepdim) / ctx.count
        return (np.broadcast_to(g, ctx.shape),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        g = _expand_back_graph(gy, ctx.shape, ctx.axis, ctx.keepdim) / ctx.count
        return (g.expand(ctx.shape),)


class Var(Function):
    """y = sum (a - mean)^2 / (n - correction);  da = gy * 2 (a - mean) / (n - correction)."""

    @staticmethod
    def forward(ctx: Context, a, *, axis=None, correction=1, keepdim=False):
        n = a.size if axis is None else int(np.prod([a.shape[i] for i in axis]))
        centered = a - np.mean(a, axis=axis, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            denom = np.asarray(max(n - correction, 0), dtype=a.dtype)
            y = np.sum(centered * centered, axis=axis, keepdims=keepdim) / denom
        ctx.save_for_backward(centered, a)                     # a: for the graph
        ctx.shape, ctx.axis, ctx.keepdim, ctx.denom = a.shape, axis, keepdim, denom
        return np.asarray(y)

    @staticmethod
    def backward(ctx: Context, gy):
        centered = ctx.saved[0]
        g = _expand_back(gy, ctx.shape, ctx.axis, ctx.keepdim)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (g * (2 / ctx.denom) * centered,)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        a = saved[1]                                           # centred again, recorded
        centered = a - a.mean(ctx.axis, keepdim=True)
        g = _expand_back_graph(gy, ctx.shape, ctx.axis, ctx.keepdim)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (g * centered * (2 / ctx.denom),)


class MaxAll(Function):
    """y = max (or min) over `axis` (all axes when None), as `amax`/`amin` and full `max()`.

    The gradient is shared evenly among the elements equal to the maximum (as PyTorch):
    da = gy * [a == y] / count(a == y), the count taken per reduced slice.
    """

    @staticmethod
    def forward(ctx: Context, a, *, largest=True, axis=None, keepdim=False):
        y = np.max(a, axis=axis, keepdims=True) if largest else np.min(a, axis=axis, keepdims=True)
        mask = a == y
        ctx.save_for_backward(mask)
        ctx.shape, ctx.axis, ctx.keepdim = a.shape, axis, keepdim
        if not keepdim:
            y = y.reshape(()) if axis is None else np.squeeze(y, axis)
        return np.asarray(y)

    @staticmethod
    def backward(ctx: Context, gy):
        (mask,) = ctx.saved
        count = np.count_nonzero(mask, axis=ctx.axis, keepdims=True)
        g = _expand_back(gy, ctx.shape, ctx.axis, ctx.keepdim)
        return (mask * (g / count).astype(gy.dtype, copy=False),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        (mask,) = saved
        count = np.count_nonzero(mask.array, axis=ctx.axis, keepdims=True).astype(gy.dtype)
        return (_expand_back_graph(gy, ctx.shape, ctx.axis, ctx.keepdim) * (mask / count),)


class MaxDim(Function):
    """(values, indices) = max (or min) along one axis;  the gradient goes to the chosen index."""

    @staticmethod
    def forward(ctx: Context, a, *, axis: int, keepdim=False, largest=True):
        idx = np.argmax(a, axis=axis) if largest else np.argmin(a, axis=axis)
        idx = np.expand_dims(idx, axis)
        values = np.take_along_axis(a, idx, axis=axis)
        ctx.save_for_backward(idx)
        ctx.shape, ctx.axis, ctx.keepdim = a.shape, axis, keepdim
        if not keepdim:
            values, idx = values.squeeze(axis), idx.squeeze(axis)
        return values, idx.astype(np.int64)

    @staticmethod
    def backward(ctx: Context, gy):
        (idx,) = ctx.saved
        g = gy if ctx.keepdim else np.expand_dims(gy, ctx.axis)
        ga = np.zeros(ctx.shape, dtype=gy.dtype)
        np.put_along_axis(ga, idx, g, axis=ctx.axis)
        return (ga,)


class Std(Function):
    """y = sqrt(sum (a - mean)^2 / (n - correction));
    da = gy (a - mean) / (y (n - correction)), and 0 where y = 0 (as PyTorch, not nan)."""

    @staticmethod
    def forward(ctx: Context, a, *, axis=None, correction=1, keepdim=False):
        n = a.size if axis is None else int(np.prod([a.shape[i] for i in axis]))
        centered = a - np.mean(a, axis=axis, keepdims=True)
        denom = np.asarray(max(n - correction, 0), dtype=a.dtype)
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.sqrt(np.sum(centered * centered, axis=axis, keepdims=True) / denom)
        ctx.save_for_backward(centered, y, a)                  # a: for the graph
        ctx.shape, ctx.axis, ctx.keepdim, ctx.denom = a.shape, axis, keepdim, denom
        if not keepdim:
            y = y.reshape(()) if axis is None else np.squeeze(y, axis)
        return np.asarray(y)

    @staticmethod
    def backward(ctx: Context, gy):
        centered, y = ctx.saved[:2]
        g = _expand_back(gy, ctx.shape, ctx.axis, ctx.keepdim)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(y == 0, 0, g / (y * ctx.denom)).astype(gy.dtype, copy=False)
        return (scale * centered,)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        # y and the centred values recomputed from a, recorded; 0 where y == 0 (a constant
        # slice), with y replaced by 1 there so that no 0 * inf enters the graph
        a, live = saved[2], saved[1].array != 0
        centered = a - a.mean(ctx.axis, keepdim=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            var = (centered * centered).sum(ctx.axis, keepdim=True) / ctx.denom
            y = var.where(live, 1.0).sqrt()
            scale = (_expand_back_graph(gy, ctx.shape, ctx.axis, ctx.keepdim)
                     / (y * ctx.denom)).where(live, 0.0)
        return (scale * centered,)


class Prod(Function):
    """y = prod over `axis` (one axis or all) of a.

    da_i = gy * prod_{j != i} a_j, computed per reduced slice as
      y / a_i                       when the slice has no zero,
      prod of the nonzeros at the zero, 0 elsewhere     when it has exactly one zero,
      0                             when it has two or more.
    """

    @staticmethod
    def forward(ctx: Context, a, *, axis=None, keepdim=False):
        ctx.save_for_backward(a)
        ctx.axis, ctx.keepdim = axis, keepdim
        return np.asarray(np.prod(a, axis=axis, keepdims=keepdim))

    @staticmethod
    def backward(ctx: Context, gy):
        (a,) = ctx.saved
        g = _expand_back(gy, a.shape, ctx.axis, ctx.keepdim)
        zero = a == 0
        n_zero = np.count_nonzero(zero, axis=ctx.axis, keepdims=True)
        others = np.prod(np.where(zero, 1, a), axis=ctx.axis, keepdims=True)   # nonzeros
        with np.errstate(divide="ignore", invalid="ignore"):
            no_zero = others / np.where(zero, 1, a)
        ga = np.where(n_zero == 0, no_zero, np.where((n_zero == 1) & zero, others, 0))
        return ((g * ga).astype(gy.dtype, copy=False),)


class Cumsum(Function):
    """y_i = sum_{j <= i} a_j along `axis`;  da_j = sum_{i >= j} gy_i (a reversed cumsum)."""

    @staticmethod
    def forward(ctx: Context, a, *, axis):
        ctx.axis = axis
        return np.cumsum(a, axis=axis) if a.ndim else a.copy()

    @staticmethod
    def backward(ctx: Context, gy):
        if gy.ndim == 0:
            return (gy,)
        rev = np.flip(gy, ctx.axis)
        return (np.flip(np.cumsum(rev, axis=ctx.axis), ctx.axis),)


class Cumprod(Function):
    """y_i = prod_{j <= i} a_j along `axis`.

    da_k = sum_{i >= k} gy_i prod_{j <= i, j != k} a_j.  Without zeros that is
    (reversed cumsum of gy * y)_k / a_k.  A slice with zeros is done exactly, one k at a time
    (a loop over the length of `axis`, O(n^2) work, only when some a is 0).
    """

    @staticmethod
    def forward(ctx: Context, a, *, axis):
        y = np.cumprod(a, axis=axis) if a.ndim else a.copy()
        ctx.save_for_backward(a, y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx: Context, gy):
        a, y = ctx.saved
        if a.ndim == 0:
            return (gy,)
        ax = ctx.axis
        if not np.any(a == 0):
            s = np.flip(np.cumsum(np.flip(gy * y, ax), axis=ax), ax)
            return (s / a,)
        ga = np.empty_like(gy)
        n = a.shape[ax]
        for k in range(n):                           # prod over j <= i, j != k: a_k set to 1
            ak = np.array(a, copy=True)
            np.moveaxis(ak, ax, 0)[k] = 1
            part = np.moveaxis(np.cumprod(ak, axis=ax) * gy, ax, 0)[k:]
            np.moveaxis(ga, ax, 0)[k] = part.sum(axis=0)
        return (ga,)


class LogSumExp(Function):
    """y = m + log sum exp(a - m), m = max over `axis` (finite m only: all -inf gives -inf);
    da = gy * exp(a - y)  (the softmax of a)."""

    @staticmethod
    def forward(ctx: Context, a, *, axis=None, keepdim=False):
        if a.size == 0:
            m = np.zeros(np.sum(a, axis=axis, keepdims=True).shape, dtype=a.dtype)
        else:
            m = np.max(a, axis=axis, keepdims=True)
            m = np.where(np.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):
            y = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
        ctx.save_for_backward(a, y)
        ctx.axis, ctx.keepdim = axis, keepdim
        if not keepdim:
            y = y.reshape(()) if axis is None else np.squeeze(y, axis)
        return np.asarray(y)

    @staticmethod
    def backward(ctx: Context, gy):
        a, y = ctx.saved
        g = _expand_back(gy, a.shape, ctx.axis, ctx.keepdim)
        return (g * np.exp(a - y),)


class Norm(Function):
    """y = (sum |a|^p)^(1/p) over `axis`; p = inf: max |a|, -inf: min |a|, 0: count of a != 0.

    da = gy sign(a) |a|^(p-1) / y^(p-1)   (p = 2: gy a / y;  p = 1: gy sign(a)),
    0 where y = 0 or a = 0 (as PyTorch);  p = +-inf: gy sign(a) shared evenly by the |a|
    equal to y;  p = 0: da = 0.
    """

    @staticmethod
    def forward(ctx: Context, a, *, p, axis=None, keepdim=False):
        z = np.abs(a)
        if p == np.inf:
            y = np.max(z, axis=axis, keepdims=True, initial=0)
        elif p == -np.inf:
            y = np.min(z, axis=axis, keepdims=True)
        elif p == 0:
            y = np.sum(z != 0, axis=axis, keepdims=True).astype(a.dtype)
        elif p == 1:
            y = np.sum(z, axis=axis, keepdims=True)
        elif p == 2:
            y = np.sqrt(np.sum(z * z, axis=axis, keepdims=True))
        else:
            with np.errstate(divide="ignore"):     # p < 0 with a zero: |0|^p = inf, y = 0
                y = np.sum(z ** p, axis=axis, keepdims=True) ** (1.0 / p)
        ctx.save_for_backward(a, y)
        ctx.p, ctx.axis, ctx.keepdim = p, axis, keepdim
        if not keepdim:
            y = y.reshape(()) if axis is None else np.squeeze(y, axis)
        return np.asarray(y, dtype=a.dtype)

    @staticmethod
    def backward(ctx: Context, gy):
        a, y = ctx.saved
        p = ctx.p
        g = _expand_back(gy, a.shape, ctx.axis, ctx.keepdim)
        if p == 0:
            return (np.zeros(a.shape, dtype=gy.dtype),)
        if p == 1:
            return (g * np.sign(a),)
        if np.isinf(p):
            hit = np.abs(a) == y
            count = np.count_nonzero(hit, axis=ctx.axis, keepdims=True)
            return ((g * np.sign(a) * hit / np.maximum(count, 1)).astype(gy.dtype, copy=False),)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 2:
                scale = a / y
            else:                                  # 0 at a = 0, also for p < 1 (as PyTorch)
                scale = np.where(a == 0, 0, np.sign(a) * np.abs(a) ** (p - 1) / y ** (p - 1))
            ga = np.where(y == 0, 0, g * scale)
        return (ga.astype(gy.dtype, copy=False),)
