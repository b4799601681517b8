"""Indexing, scatter and rearranging functions of the tensor API, as `torch.*` has them.

Each function takes `input` first, checks its arguments with PyTorch's error types (an index
out of range is a RuntimeError, except `take`'s, an IndexError, as in torch) and calls a
kernel of `numcnn.ops.index`.  The in-place forms (`masked_fill_`, `scatter_`, ...) compute
the out-of-place result and write it back through `_write_back`.
"""

from __future__ import annotations

import builtins
import importlib
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from numcnn.functions._args import check_tensor, norm_dim, norm_dims
from numcnn.ops import index as K
from numcnn.ops import math as M
from numcnn.ops import shape as S

# the module, not the `numcnn.tensor` factory function that `numcnn` exports under that name
_t = importlib.import_module("numcnn.tensor")

if TYPE_CHECKING:
    from numcnn.tensor import Tensor

_SCATTER_REDUCE = ("sum", "prod", "mean", "amax", "amin")


# --------------------------------------------------------------------- argument checks
def _index_arg(index: Any, fn: str, position: int = 3) -> np.ndarray:
    """The index tensor as an int64 array (int32 and int64 accepted, as in torch)."""
    check_tensor(index, fn, "index", position)
    if index.dtype not in (np.int64, np.int32):
        raise RuntimeError(f"{fn}(): Expected dtype int32/int64 for index, got {index.dtype}")
    return index.array.astype(np.int64, copy=False)


def _check_bounds(idx: np.ndarray, size: int, dim: int, fn: str) -> None:
    if idx.size and (idx.min() < 0 or idx.max() >= size):
        bad = idx[(idx < 0) | (idx >= size)].flat[0]
        raise RuntimeError(
            f"{fn}(): index {bad} is out of bounds for dimension {dim} with size {size}"
        )


def _at_least_1d(x: Tensor) -> Tensor:
    """A 0-d tensor as a 1-element vector (torch treats a scalar as 1-d in these ops)."""
    return x.reshape(1) if x.ndim == 0 else x


def _scatter_args(input: Tensor, dim: int, index: Any, src: Tensor | None,
                  fn: str) -> tuple[Tensor, int, np.ndarray]:
    """Check a gather/scatter call: same rank, index no larger than input (but along dim) and
    than src, indices in range.  Returns (input as >= 1-d, dim, index as >= 1-d int64)."""
    check_tensor(input, fn, "input")
    idx = np.atleast_1d(_index_arg(index, fn))
    x = _at_least_1d(input)
    d = norm_dim(dim, x.ndim)
    if idx.ndim != x.ndim:
        raise RuntimeError(f"{fn}(): Index tensor must have the same number of dimensions as "
                           f"input tensor ({idx.ndim} vs {x.ndim})")
    if src is not None and src.ndim and src.ndim != idx.ndim:
        raise RuntimeError(f"{fn}(): Index tensor must have the same number of dimensions as "
                           f"src tensor ({idx.ndim} vs {src.ndim})")
    src_shape = _at_least_1d(src).shape if src is not None else None
    if any(k != d and i > n for k, (i, n) in enumerate(zip(idx.shape, x.shape))) or (
            src_shape is not None and any(i > n for i, n in zip(idx.shape, src_shape))):
        extra = f" and to be no larger size than src {list(src_shape)}" if src_shape else ""
        raise RuntimeError(f"{fn}(): Expected index {list(idx.shape)} to be no larger than self "
                           f"{list(x.shape)} apart from dimension {d}{extra}")
    _check_bounds(idx, x.shape[d], d, fn)
    return x, d, idx


def _same_dtype(input: Tensor, src: Tensor, fn: str) -> None:
    if src.dtype != input.dtype:
        raise RuntimeError(f"{fn}(): Expected self.dtype to be equal to src.dtype (got "
                           f"{input.dtype} and {src.dtype})")


def _write_back(self: Tensor, result: Tensor) -> Tensor:
    """The in-place forms: write an out-of-place result into `self`'s storage, recorded as
    every in-place op is (`Tensor._inplace_from`: self's history becomes the result's)."""
    return self._inplace_from(result)


# --------------------------------------------------------------------- gather / scatter
def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """Values of `input` picked along `dim` by `index`.

    out[i][j][k] = input[index[i][j][k]][j][k]  (dim=0; likewise for the other dims).

    Shape:
        index has input's rank and is no larger than input on the other dims;
        output has index's shape.  The gradient scatter-adds back to the picked places.
    """
    x, d, idx = _scatter_args(input, dim, index, None, "gather")
    out = K.Gather.apply(x, dim=d, index=idx)
    return out.reshape(index.shape) if index.ndim == 0 else out


def scatter(input: Tensor, dim: int, index: Tensor, src: Tensor | builtins.float | None = None,
            *, value: builtins.float | None = None, reduce: str | None = None) -> Tensor:
    """A copy of `input` with `src` (a tensor, or the scalar `value`) written at `index`.

    out[index[i][j][k]][j][k] = src[i][j][k]  (dim=0; likewise for the other dims).

    Where an index repeats a place PyTorch leaves the winner unspecified; here (as on
    torch's CPU) the last write wins.  The deprecated `reduce="add"`/`"multiply"` maps to
    `scatter_reduce(..., "sum"/"prod", include_self=True)` (PyTorch has no gradient there;
    numcnn gives scatter_reduce's).

    Shape:
        index has input's rank, no larger than input off `dim` and than src; out: input's.
    """
    if src is None:
        if value is None:
            raise TypeError("scatter() missing required argument: 'src' or 'value'")
        src = value
    if reduce is not None:
        if reduce not in ("add", "multiply"):
            raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce}")
        full: Tensor = src if isinstance(src, _t.Tensor) \
            else _t.Tensor(np.full(np.shape(index), src, dtype=input.dtype))
        return scatter_reduce(input, dim, index, full, "sum" if reduce == "add" else "prod")
    tsrc = src if isinstance(src, _t.Tensor) else None
    x, d, idx = _scatter_args(input, dim, index, tsrc, "scatter")
    if tsrc is not None:
        _same_dtype(input, tsrc, "scatter")
        s: Any = _at_least_1d(tsrc)
    elif isinstance(src, (builtins.int, builtins.float, builtins.bool, np.generic)):
        s = np.asarray(src).astype(input.dtype).item()
    else:
        raise TypeError(f"scatter(): argument 'src' must be Tensor or a number, not "
                        f"{type(src).__name__}")
    out = K.Scatter.apply(x, s, dim=d, index=idx)
    return out.reshape(input.shape)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """A copy of `input` with `src` added at `index` (repeated places add up).

    out[index[i][j][k]][j][k] += src[i][j][k]  (dim=0; likewise for the other dims).
    """
    return scatter_reduce(input, dim, index, src, "sum")


def scatter_reduce(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                   include_self: builtins.bool = True) -> Tensor:
    """Reduce `src` into a copy of `input` at `index` with "sum", "prod", "mean", "amax" or
    "amin"; with `include_self=False` the places written ignore input's value there.

    out[t] = reduce(input[t] (when include_self), src[p] for every p with target t), where the
    target of p is p with p[dim] replaced by index[p].  An integer "mean" rounds down.
    """
    if reduce not in _SCATTER_REDUCE:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    check_tensor(src, "scatter_reduce", "src", 4)
    x, d, idx = _scatter_args(input, dim, index, src, "scatter_reduce")
    _same_dtype(input, src, "scatter_reduce")
    out = K.ScatterReduce.apply(x, _at_least_1d(src), dim=d, index=idx, reduce=reduce,
                                include_self=builtins.bool(include_self))
    return out.reshape(input.shape)


def scatter_(input: Tensor, dim: int, index: Tensor, src: Any = None, *, value: Any = None,
             reduce: str | None = None) -> Tensor:
    """In-place `scatter`."""
    return _write_back(input, scatter(input, dim, index, src, value=value, reduce=reduce))


def scatter_add_(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """In-place `scatter_add`."""
    return _write_back(input, scatter_add(input, dim, index, src))


def scatter_reduce_(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                    include_self: builtins.bool = True) -> Tensor:
    """In-place `scatter_reduce`."""
    return _write_back(input, scatter_reduce(input, dim, index, src, reduce,
                                             include_self=include_self))


# --------------------------------------------------------------------- index_* along one dim
def _vector_index(input: Tensor, dim: int, index: Any, fn: str) -> tuple[Tensor, int, np.ndarray]:
    """Check a 0-d/1-d index along `dim`; returns (input as >= 1-d, dim, index as 1-d)."""
    check_tensor(input, fn, "input")
    idx = _index_arg(index, fn)
    if idx.ndim > 1:
        raise IndexError(f"{fn}(): Index is supposed to be a vector, got {idx.ndim} dims")
    x = _at_least_1d(input)
    d = norm_dim(dim, x.ndim)
    idx = idx.reshape(-1)
    _check_bounds(idx, x.shape[d], d, fn)
    return x, d, idx


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The slices of `input` along `dim` listed by the 1-D `index` (repeats allowed).

    Shape:
        output = input's with size len(index) at `dim`.
    """
    x, d, idx = _vector_index(input, dim, index, "index_select")
    if input.ndim == 0 and idx.size != 1:
        raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got "
                           f"{idx.size} value(s)")
    out = K.IndexSelect.apply(x, dim=d, index=idx)
    return out.reshape(()) if input.ndim == 0 else out


def _index_source(input: Tensor, dim: int, index: Any, source: Any,
                  fn: str) -> tuple[Tensor, int, np.ndarray, Tensor]:
    x, d, idx = _vector_index(input, dim, index, fn)
    check_tensor(source, fn, "source", 4)
    s = _at_least_1d(source)
    if s.ndim != x.ndim or s.shape[d] != idx.size or any(
            a != b for k, (a, b) in enumerate(zip(s.shape, x.shape)) if k != d):
        raise RuntimeError(f"{fn}(): source {list(s.shape)} must match self {list(x.shape)} "
                           f"except at dimension {d}, where it must equal the number of indices "
                           f"({idx.size})")
    if source.dtype != input.dtype:
        raise RuntimeError(f"{fn}(): self ({input.dtype}) and source ({source.dtype}) must have "
                           f"the same scalar type")
    return x, d, idx, s


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *,
              alpha: Any = 1) -> Tensor:
    """A copy of `input` with alpha * source's slices added at the rows `index` names along
    `dim` (repeated rows add up):  out[.., index[i], ..] += alpha * source[.., i, ..]."""
    x, d, idx, s = _index_source(input, dim, index, source, "index_add")
    return K.IndexAdd.apply(x, s, dim=d, index=idx, alpha=alpha).reshape(input.shape)


def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """A copy of `input` with source's slices written at the rows `index` names along `dim`:
    out[.., index[i], ..] = source[.., i, ..] (a repeated row: the last one wins, as torch's
    CPU; torch leaves it unspecified)."""
    x, d, idx, s = _index_source(input, dim, index, source, "index_copy")
    return K.IndexCopy.apply(x, s, dim=d, index=idx).reshape(input.shape)


def index_add_(input: Tensor, dim: int, index: Tensor, source: Tensor, *,
               alpha: Any = 1) -> Tensor:
    """In-place `index_add`."""
    return _write_back(input, index_add(input, dim, index, source, alpha=alpha))


def index_copy_(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """In-place `index_copy`."""
    return _write_back(input, index_copy(input, dim, index, source))


# --------------------------------------------------------------------- masks and flat indices
def _bool_mask(mask: Any, fn: str) -> np.ndarray:
    check_tensor(mask, fn, "mask", 2)
    if mask.dtype != np.bool_:
        raise RuntimeError(f"{fn} only supports boolean masks, but got mask with dtype "
                           f"{mask.dtype}")
    return mask.array


def _broadcast_shape(input: Tensor, mask: Tensor, fn: str) -> tuple[builtins.int, ...]:
    try:
        return np.broadcast_shapes(input.shape, mask.shape)
    except ValueError:
        raise RuntimeError(f"{fn}(): the size of mask {list(mask.shape)} must be "
                           f"broadcastable with input {list(input.shape)}") from None


def masked_fill(input: Tensor, mask: Tensor, value: Any) -> Tensor:
    """`input` with `value` (a number or a 0-d tensor, which gets a gradient) where `mask`.

    out = where(mask, value, input), in input's dtype.

    Shape:
        mask broadcasts with input; output: the broadcast shape.
    """
    check_tensor(input, "masked_fill", "input")
    m = _bool_mask(mask, "masked_fill_")
    if isinstance(value, _t.Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but "
                               f"got tensor with {value.ndim} dimension(s).")
        v: Any = value.to(input.dtype)
    else:
        v = np.asarray(value).astype(input.dtype)
    _broadcast_shape(input, mask, "masked_fill")
    return M.Where.apply(v, input, cond=m)


def masked_fill_(input: Tensor, mask: Tensor, value: Any) -> Tensor:
    """In-place `masked_fill` (mask must broadcast to input's shape)."""
    return _write_back(input, masked_fill(input, mask, value))


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The elements of `input` where `mask`, as a 1-D tensor in row-major order.

    Shape:
        input and mask broadcast together; output (number of True in the broadcast mask,).
    """
    check_tensor(input, "masked_select", "input")
    check_tensor(mask, "masked_select", "mask", 2)
    if mask.dtype != np.bool_:
        raise RuntimeError(f"masked_select: expected BoolTensor for mask, got {mask.dtype}")
    shape = _broadcast_shape(input, mask, "masked_select")
    x = input if input.shape == shape else S.Expand.apply(input, shape=shape)
    return K.MaskedSelect.apply(x, mask=np.broadcast_to(mask.array, shape))


def nonzero(input: Tensor, *, as_tuple: builtins.bool = False) -> Any:
    """Indices of the nonzero elements of `input`, in row-major order.

    Returns:
        as_tuple=False: an int64 tensor (number of nonzeros, input.ndim), one row per element;
        as_tuple=True: a tuple of input.ndim 1-D int64 tensors, one per dim (a 0-d input
        counts as 1-d), as numpy.nonzero.
    """
    check_tensor(input, "nonzero", "input")
    if as_tuple:
        return tuple(_t.Tensor(i.astype(np.int64, copy=False))
                     for i in np.nonzero(np.atleast_1d(input.array)))
    return _t.Tensor(np.argwhere(input.array).astype(np.int64, copy=False))


def argwhere(input: Tensor) -> Tensor:
    """Same as `nonzero(input)`: one row of indices per nonzero element."""
    return nonzero(input)


def take(input: Tensor, index: Tensor) -> Tensor:
    """`input` read as 1-D at `index` (negative indices count from the end).

    Shape:
        output has index's shape.
    """
    check_tensor(input, "take", "input")
    idx = _index_arg(index, "take", 2)
    n = input.numel()
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx[(idx < -n) | (idx >= n)].flat[0]
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} "
                         f"elements.")
    return K.Take.apply(input, index=idx % builtins.max(n, 1))


# --------------------------------------------------------------------- rearrangements
def _int_tuple(v: Any) -> tuple[builtins.int, ...]:
    return tuple(builtins.int(s) for s in v) if isinstance(v, (tuple, list)) \
        else (builtins.int(v),)


def roll(input: Tensor, shifts: builtins.int | Sequence[builtins.int],
         dims: builtins.int | Sequence[builtins.int] | None = None) -> Tensor:
    """`input` shifted cyclically by `shifts` along `dims` (flattened, then restored, when
    dims is None):  out[(i + shift) mod n] = input[i]."""
    check_tensor(input, "roll", "input")
    s = _int_tuple(shifts)
    if not s:
        raise RuntimeError("roll(): `shifts` required")
    if dims is None:
        if len(s) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(s)}, dims:0")
        return K.Roll.apply(input, shifts=s[0], axes=None)
    ds = _int_tuple(dims)
    if len(s) != len(ds):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(s)}, "
                           f"dims:{len(ds)}")
    axes = tuple(norm_dim(d, input.ndim) for d in ds)
    return K.Roll.apply(input, shifts=s, axes=axes)


def narrow(input: Tensor, dim: builtins.int, start: Any, length: builtins.int) -> Tensor:
    """The `length` entries of `input` from `start` along `dim` (start < 0 counts from the
    end; start may be a 0-d integer tensor):  input[..., start:start + length, ...]."""
    check_tensor(input, "narrow", "input")
    if input.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = norm_dim(dim, input.ndim)
    n = input.shape[d]
    start = builtins.int(start)
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but "
                         f"got {start})")
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if start < 0:
        start += n
    if start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return input[(slice(None),) * d + (slice(start, start + length),)]


def unbind(input: Tensor, dim: builtins.int = 0) -> tuple[Tensor, ...]:
    """The slices of `input` along `dim`, that dim removed: (input[.., 0, ..], ...)."""
    check_tensor(input, "unbind", "input")
    if input.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = norm_dim(dim, input.ndim)
    return tuple(input[(slice(None),) * d + (i,)] for i in range(input.shape[d]))


def repeat_interleave(input: Tensor, repeats: Tensor | builtins.int | None = None,
                      dim: builtins.int | None = None, *,
                      output_size: builtins.int | None = None) -> Tensor:
    """Each slice of `input` along `dim` repeated `repeats` times in place (dim=None: the
    flattened input).  `repeats` is an int or a 0-d/1-d integer tensor with one count per
    slice.  With `repeats` omitted, `input` is the counts and the result repeats each
    position: repeat_interleave(tensor([1, 2])) = tensor([0, 1, 1]).

    Shape:
        output = input's with size sum(repeats) at dim (1-D when dim is None).
    """
    check_tensor(input, "repeat_interleave", "input")
    if repeats is None:
        if input.ndim > 1 or input.dtype.kind not in "iu":
            raise RuntimeError("repeat_interleave(): repeats must be a 0-dim or 1-dim integer "
                               "tensor")
        counts = input.array.reshape(-1)
        if counts.size and counts.min() < 0:
            raise RuntimeError("repeats can not be negative")
        return _t.Tensor(np.repeat(np.arange(counts.size, dtype=np.int64), counts))
    x = input.reshape(-1) if dim is None else _at_least_1d(input)
    d = 0 if dim is None else norm_dim(dim, x.ndim)
    n = x.shape[d]
    r: Any
    if isinstance(repeats, _t.Tensor):
        if repeats.dtype.kind not in "iu":
            raise RuntimeError(f"repeat_interleave(): repeats must be an integer tensor, got "
                               f"{repeats.dtype}")
        if repeats.ndim > 1:
            raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
        r = repeats.array.astype(np.int64).reshape(-1)
        if r.size and r.min() < 0:
            raise RuntimeError("repeats can not be negative")
        if r.size == 1:
            r = builtins.int(r[0])
        elif r.size != n:
            raise RuntimeError(f"repeats must have the same size as input along dim, but got "
                               f"repeats.size(0) = {r.size} and input.size({d}) = {n}")
    else:
        r = builtins.int(repeats)
        if r < 0:
            raise RuntimeError("Repeats must be non-negative")
    total = n * r if isinstance(r, builtins.int) else builtins.int(r.sum())
    if output_size is not None and output_size != total:
        raise RuntimeError(f"repeat_interleave: Invalid output_size, expected {total} but got "
                           f"{output_size}")
    return K.RepeatInterleave.apply(x, repeats=r, axis=d)


def flip(input: Tensor, dims: builtins.int | Sequence[builtins.int],
         *more_dims: builtins.int) -> Tensor:
    """`input` reversed along `dims` (a tuple, or ints as separate arguments as the method
    form takes them):  out[i] = input[n - 1 - i] on each flipped dim."""
    check_tensor(input, "flip", "input")
    ds = _int_tuple(dims) + tuple(builtins.int(d) for d in more_dims)
    return S.Flip.apply(input, axes=norm_dims(ds, input.ndim))


def fliplr(input: Tensor) -> Tensor:
    """`input` reversed left to right (along dim 1); needs at least 2 dims."""
    if check_tensor(input, "fliplr", "input").ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return S.Flip.apply(input, axes=(1,))


def flipud(input: Tensor) -> Tensor:
    """`input` reversed upside down (along dim 0); needs at least 1 dim."""
    if check_tensor(input, "flipud", "input").ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return S.Flip.apply(input, axes=(0,))


def _triangle(input: Tensor, diagonal: builtins.int, upper: builtins.bool) -> Tensor:
    name = "triu" if upper else "tril"
    if check_tensor(input, name, "input").ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    return K.Triangle.apply(input, diagonal=builtins.int(diagonal), upper=upper)


def tril(input: Tensor, diagonal: builtins.int = 0) -> Tensor:
    """The lower triangle of the last two dims: out[..., i, j] = input[..., i, j] if
    j - i <= diagonal else 0."""
    return _triangle(input, diagonal, False)


def triu(input: Tensor, diagonal: builtins.int = 0) -> Tensor:
    """The upper triangle of the last two dims: out[..., i, j] = input[..., i, j] if
    j - i >= diagonal else 0."""
    return _triangle(input, diagonal, True)


def diag(input: Tensor, diagonal: builtins.int = 0) -> Tensor:
    """1-D input: the square matrix with input on diagonal k (k > 0 above the main one);
    2-D input: its diagonal k as a 1-D tensor (empty when k lies outside).

    Shape:
        (n,) -> (n + |k|, n + |k|);  (m, n) -> (length of diagonal k,)
    """
    if check_tensor(input, "diag", "input").ndim not in (1, 2):
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")
    return K.Diag.apply(input, diagonal=builtins.int(diagonal))
