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
        ctx.save_for_backward(centered)
        ctx.shape, ctx.axis, ctx.keepdim, ctx.denom = a.shape, axis, keepdim, denom
        return np.asarray(y)

    @staticmethod
    def backward(ctx: Context, gy):
        (centered,) = ctx.saved
        g = _expand_back(gy, ctx.shape, ctx.axis, ctx.keepdim)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (g * (2 / ctx.denom) * centered,)


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
