"""Sorting kernels: sort and topk along one axis, returning (values, indices).

Both move values without changing them, so both share one backward: the gradient of each
output value goes back to the place it came from (da = zeros with gy put at `indices`).
Orders follow PyTorch: NaN counts as larger than every number (last ascending, first
descending), and equal values keep their original order (a stable sort, also when
descending).
"""

from __future__ import annotations

import numpy as np

from numcnn.autograd.function import Context, Function


def sort_order(a: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Stable argsort along `axis`; descending keeps ties in their original order too.

    Descending = ascending order of the reversed array, reversed again: ties, reversed twice,
    come out in their original order, and NaN (last ascending) comes first.
    """
    if not descending:
        return np.argsort(a, axis=axis, kind="stable")
    n = a.shape[axis]
    rev = np.argsort(np.flip(a, axis), axis=axis, kind="stable")
    return (n - 1) - np.flip(rev, axis)


class _Reordered(Function):
    """Base of sort/topk: y = a taken at `indices` along `axis`;  da = gy put back there."""

    @staticmethod
    def backward(ctx: Context, gy):
        (idx,) = ctx.saved
        ga = np.zeros(ctx.shape, dtype=gy.dtype)
        np.put_along_axis(ga, idx, gy, axis=ctx.axis)
        return (ga,)


class Sort(_Reordered):
    """(values, indices) = a sorted along `axis` (stable; see `sort_order`)."""

    @staticmethod
    def forward(ctx: Context, a, *, axis, descending):
        idx = sort_order(a, axis, descending)
        ctx.save_for_backward(idx)
        ctx.shape, ctx.axis = a.shape, axis
        return np.take_along_axis(a, idx, axis=axis), idx.astype(np.int64, copy=False)


class TopK(_Reordered):
    """(values, indices) of the k largest (smallest) entries along `axis`, largest first
    (smallest first): the first k of the stable sort, so ties go to the lower index."""

    @staticmethod
    def forward(ctx: Context, a, *, k, axis, largest):
        idx = sort_order(a, axis, largest)
        idx = np.take(idx, np.arange(k), axis=axis)
        ctx.save_for_backward(idx)
        ctx.shape, ctx.axis = a.shape, axis
        return np.take_along_axis(a, idx, axis=axis), idx.astype(np.int64, copy=False)
