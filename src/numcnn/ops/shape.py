"""Shape and indexing ops: reshape, permute, expand, indexing, cat, stack, flip.

Each moves values around without changing them, so each backward moves the gradient back.
"""

from __future__ import annotations

import numpy as np

from numcnn.autograd.function import Context, Function


class Reshape(Function):
    """y = a viewed with a new shape;  da = gy reshaped back."""

    may_return_view = True

    @staticmethod
    def forward(ctx: Context, a, *, shape):
        ctx.shape = a.shape
        return np.reshape(a, shape)

    @staticmethod
    def backward(ctx: Context, gy):
        return (np.reshape(gy, ctx.shape),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        return (gy.reshape(ctx.shape),)


class Permute(Function):
    """y = a with axes reordered by `dims`;  da = gy with the inverse permutation."""

    may_return_view = True

    @staticmethod
    def forward(ctx: Context, a, *, dims):
        ctx.dims = dims
        return np.transpose(a, dims)

    @staticmethod
    def backward(ctx: Context, gy):
        return (np.transpose(gy, np.argsort(ctx.dims)),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        return (gy.permute(*np.argsort(ctx.dims).tolist()),)


class Expand(Function):
    """y = a broadcast to `shape` (a view);  da = gy summed over the broadcast axes (engine)."""

    may_return_view = True

    @staticmethod
    def forward(ctx: Context, a, *, shape):
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx: Context, gy):
        return (gy,)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        return (gy,)


def _is_basic(index) -> bool:
    """True when `index` selects by slices/ints/None/Ellipsis only (no element repeats)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(
        i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer)) for i in items
    )


def _place(gy: np.ndarray, shape: tuple[int, ...], index) -> np.ndarray:
    """zeros of `shape` with gy added at `index` (repeated elements add up)."""
    ga = np.zeros(shape, dtype=gy.dtype)
    if _is_basic(index):
        ga[index] = gy
    else:
        np.add.at(ga, index, gy)
    return ga


class Index(Function):
    """y = a[index] (basic or advanced);  da = zeros with gy added back at the indexed places.

    Basic indexing never repeats an element, so a plain assignment suffices; integer-array
    indexing may repeat elements, whose gradients must add up (np.add.at, off the hot path).
    Basic indexing gives a view of `a` (even down to one element), as in PyTorch.
    """

    may_return_view = True

    @staticmethod
    def forward(ctx: Context, a, *, index):
        ctx.shape, ctx.index = a.shape, index
        if _is_basic(index):
            items = index if isinstance(index, tuple) else (index,)
            if Ellipsis not in items:
                return a[items + (Ellipsis,)]      # a 0-d view, not a NumPy scalar
        return np.asarray(a[index])

    @staticmethod
    def backward(ctx: Context, gy):
        return (_place(gy, ctx.shape, ctx.index),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        return (IndexBackward.apply(gy, shape=ctx.shape, index=ctx.index),)


class IndexBackward(Function):
    """y = zeros of `shape` with gy added at `index` (Index's backward, recorded for
    create_graph=True);  dgy = gy2[index]."""

    @staticmethod
    def forward(ctx: Context, gy, *, shape, index):
        ctx.index = index
        return _place(gy, shape, index)

    @staticmethod
    def backward(ctx: Context, g2):
        return (np.asarray(g2[ctx.index]),)

    @staticmethod
    def backward_graph(ctx: Context, g2, saved):
        return (Index.apply(g2, index=ctx.index),)


class Cat(Function):
    """y = concatenate(a_1..a_k, axis);  da_i = the matching slice of gy."""

    @staticmethod
    def forward(ctx: Context, *arrays, axis):
        ctx.axis = axis
        ctx.sizes = [a.shape[axis] for a in arrays]
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx: Context, gy):
        bounds = np.cumsum(ctx.sizes)[:-1]
        return tuple(np.split(gy, bounds, axis=ctx.axis))

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        return tuple(gy.split(ctx.sizes, ctx.axis))


class Stack(Function):
    """y = stack(a_1..a_k, axis) (a new axis);  da_i = gy taken at position i of that axis."""

    @staticmethod
    def forward(ctx: Context, *arrays, axis):
        ctx.axis = axis
        return np.stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx: Context, gy):
        return tuple(np.moveaxis(gy, ctx.axis, 0))

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        lead = (slice(None),) * ctx.axis
        return tuple(gy[lead + (i,)] for i in range(gy.shape[ctx.axis]))


class Flip(Function):
    """y = a reversed along `axes` (a copy, as PyTorch's flip);  da = gy reversed back."""

    @staticmethod
    def forward(ctx: Context, a, *, axes):
        ctx.axes = axes
        return np.flip(a, axes).copy()

    @staticmethod
    def backward(ctx: Context, gy):
        return (np.flip(gy, ctx.axes),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        return (gy.flip(ctx.axes),)

