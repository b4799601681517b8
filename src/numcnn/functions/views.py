"""Views and copies of a tensor's layout: clone, broadcast_to / broadcast_tensors, tile,
movedim (moveaxis), diagonal.  Each is written with the shape methods of `Tensor` (expand,
repeat, permute) except `diagonal`, whose view is a strided walk along two dims.

Axis legend: d1, d2 the two dims of the diagonal; L its length.
"""

from __future__ import annotations

import builtins
import importlib
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from numcnn.autograd.function import Context, Function
from numcnn.functions._args import check_tensor, norm_dim

_t = importlib.import_module("numcnn.tensor")

if TYPE_CHECKING:
    from numcnn.tensor import Tensor


class _MemoryFormat:
    """A memory-format token (`numcnn.contiguous_format`, ...), as `torch.memory_format`."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"numcnn.{self.name}"


memory_format = _MemoryFormat
contiguous_format = _MemoryFormat("contiguous_format")
preserve_format = _MemoryFormat("preserve_format")
channels_last = _MemoryFormat("channels_last")
channels_last_3d = _MemoryFormat("channels_last_3d")


def check_memory_format(memory_format: Any, allowed: tuple[_MemoryFormat, ...], name: str
                        ) -> None:
    """Refuse what is not a memory format, and the formats numcnn does not lay out."""
    if not isinstance(memory_format, _MemoryFormat):
        raise TypeError(f"{name}(): argument 'memory_format' must be numcnn.memory_format, "
                        f"not {type(memory_format).__name__}")
    if memory_format not in allowed:
        raise NotImplementedError(
            f"{name}(): memory_format={memory_format!r} is not supported: numcnn lays tensors "
            f"out row-major only ({', '.join(map(repr, allowed))})"
        )


def clone(input: Tensor, *, memory_format: _MemoryFormat = preserve_format) -> Tensor:
    """A copy of input with its own storage; the gradient flows back unchanged.

    `memory_format`: `numcnn.preserve_format` (default) or `numcnn.contiguous_format`.
    """
    x = check_tensor(input, "clone")
    return x.clone(memory_format=memory_format)


def broadcast_to(input: Tensor, size: Sequence[builtins.int]) -> Tensor:
    """input expanded to `size` by broadcasting (a view; -1 keeps a size), as `expand`."""
    return check_tensor(input, "broadcast_to").expand(tuple(size))


def broadcast_tensors(*tensors: Tensor) -> tuple[Tensor, ...]:
    """Every tensor expanded to their common broadcast shape (views).

    Raises:
        RuntimeError: when the shapes do not broadcast.
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    ts = [check_tensor(x, "broadcast_tensors", "tensors") for x in tensors]
    try:
        shape = np.broadcast_shapes(*(x.shape for x in ts))
    except ValueError:
        raise RuntimeError(
            "shape mismatch: objects cannot be broadcast to a single shape: "
            + ", ".join(str(list(x.shape)) for x in ts)
        ) from None
    return tuple(x.expand(shape) for x in ts)


def tile(input: Tensor, dims: Sequence[builtins.int]) -> Tensor:
    """input repeated `dims[i]` times along each dim; fewer `dims` than input dims are padded
    with leading 1s (unlike `repeat`, which refuses that)."""
    x = check_tensor(input, "tile")
    reps = (dims,) if isinstance(dims, (builtins.int, np.integer)) else tuple(dims)
    reps = (1,) * (x.ndim - len(reps)) + tuple(builtins.int(r) for r in reps)
    if builtins.any(r < 0 for r in reps):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(reps)}")
    return x.repeat(reps)


def movedim(input: Tensor, source: Any, destination: Any) -> Tensor:
    """input with dims `source` moved to positions `destination` (the others keep their order).

    Raises:
        RuntimeError: when source and destination differ in length or repeat a dim.
    """
    x = check_tensor(input, "movedim")
    src = [source] if isinstance(source, (builtins.int, np.integer)) else list(source)
    dst = [destination] if isinstance(destination, (builtins.int, np.integer)) \
        else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({src} dims) should contain "
            f"the same number of dims as destination ({dst} dims)"
        )
    n = builtins.max(x.ndim, 1)
    src = [norm_dim(d, n) for d in src]
    dst = [norm_dim(d, n) for d in dst]
    if len(set(src)) != len(src):
        raise RuntimeError(f"movedim: repeated dim in `source` ({source})")
    if len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: repeated dim in `destination` ({destination})")
    if x.ndim == 0:
        return x.reshape(())
    order: list[builtins.int | None] = [None] * x.ndim
    for s, d in zip(src, dst):
        order[d] = builtins.int(s)
    rest = iter(d for d in range(x.ndim) if d not in src)
    return x.permute([next(rest) if o is None else o for o in order])


moveaxis = movedim


def _diagonal_view(a: np.ndarray, offset: int, d1: int, d2: int) -> np.ndarray:
    """The diagonal of `a` over dims d1, d2 as a strided view, moved to the last axis:
    shape (*other dims, L), L = max(0, min(n1 + min(offset, 0), n2 - max(offset, 0)))."""
    n1, n2 = a.shape[d1], a.shape[d2]
    L = builtins.max(0, builtins.min(n1 + builtins.min(offset, 0), n2 - builtins.max(offset, 0)))
    keep = [i for i in range(a.ndim) if i not in (d1, d2)]
    start = [slice(None)] * a.ndim
    if L:                                   # move the start to the first diagonal element
        start[d1 if offset < 0 else d2] = slice(builtins.abs(offset), None)
    b = a[tuple(start)]
    shape = tuple(a.shape[i] for i in keep) + (L,)
    strides = tuple(a.strides[i] for i in keep) + (a.strides[d1] + a.strides[d2],)
    return np.lib.stride_tricks.as_strided(b, shape, strides, writeable=a.flags.writeable)


def _diagonal_scatter(a: np.ndarray, shape: tuple[int, ...], offset: int, d1: int, d2: int
                      ) -> np.ndarray:
    """zeros(shape) with `a` (shape (*other dims, L)) written on the diagonal over d1, d2."""
    y = np.zeros(shape, dtype=a.dtype)
    _diagonal_view(y, offset, d1, d2)[...] = a
    return y


class Diagonal(Function):
    """y[..., k] = a[..., i + k, j + k] over dims (dim1, dim2), i = max(-offset, 0),
    j = max(offset, 0) (a view);  da = zeros with gy written on that diagonal."""

    may_return_view = True

    @staticmethod
    def forward(ctx: Context, a, *, offset, dim1, dim2):
        ctx.shape, ctx.offset, ctx.dim1, ctx.dim2 = a.shape, offset, dim1, dim2
        return _diagonal_view(a, offset, dim1, dim2)

    @staticmethod
    def backward(ctx: Context, gy):
        return (_diagonal_scatter(gy, ctx.shape, ctx.offset, ctx.dim1, ctx.dim2),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        return (DiagonalScatter.apply(gy, shape=ctx.shape, offset=ctx.offset, dim1=ctx.dim1,
                                      dim2=ctx.dim2),)


class DiagonalScatter(Function):
    """The adjoint of `Diagonal`: y = zeros(shape) with a written on the diagonal;
    da = the diagonal of gy."""

    @staticmethod
    def forward(ctx: Context, a, *, shape, offset, dim1, dim2):
        ctx.offset, ctx.dim1, ctx.dim2 = offset, dim1, dim2
        return _diagonal_scatter(a, shape, offset, dim1, dim2)

    @staticmethod
    def backward(ctx: Context, gy):
        return (np.ascontiguousarray(_diagonal_view(gy, ctx.offset, ctx.dim1, ctx.dim2)),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        return (Diagonal.apply(gy, offset=ctx.offset, dim1=ctx.dim1, dim2=ctx.dim2),)


def diagonal(input: Tensor, offset: builtins.int = 0, dim1: builtins.int = 0,
             dim2: builtins.int = 1) -> Tensor:
    """The diagonal over dims (dim1, dim2), as a view appended as the last dim.

    Shape:
        input (*, n1, *, n2, *) -> output (*, L), L = max(0, min(n1 + min(offset, 0),
        n2 - max(offset, 0)));  offset > 0 is above the main diagonal, < 0 below.

    Raises:
        IndexError: for a dim out of range.
        RuntimeError: for dim1 == dim2.
    """
    x = check_tensor(input, "diagonal")
    d1, d2 = norm_dim(dim1, x.ndim), norm_dim(dim2, x.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return Diagonal.apply(x, offset=builtins.int(offset), dim1=d1, dim2=d2)
