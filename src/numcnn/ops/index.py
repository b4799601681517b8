"""Indexing kernels: gather/scatter along a dim, index_select/index_add/index_copy, masked
select, take, roll, repeat_interleave, triangles and diagonals.

Axis legend: `dim` is the axis an index runs along; on every other axis the index and the
tensors it reads or writes are matched position by position (p = (p_0, ..., p_dim, ...)).
Indices reaching the kernels are int64, non-negative and in range (the public layer checks).

Every scatter-add here, forward or backward, goes through `segment_sum` (np.bincount for
floats, a sort + np.add.reduceat otherwise): no np.add.at.
"""

from __future__ import annotations

import numpy as np

from numcnn.autograd.function import Context, Function


# --------------------------------------------------------------------- helpers
def strides_of(shape: tuple[int, ...]) -> list[int]:
    """C-order element strides of `shape`: stride[d] = prod(shape[d+1:])."""
    out = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        out[d] = out[d + 1] * shape[d + 1]
    return out


def scatter_targets(shape: tuple[int, ...], dim: int, index: np.ndarray) -> np.ndarray:
    """Flat positions, in an array of `shape`, that `index` points at along `dim`.

    target[p] = ravel(p with p[dim] replaced by index[p]); same shape as `index`, whose sizes
    may be smaller than `shape`'s on the other axes (only the leading block is addressed).
    """
    st = strides_of(shape)
    lin = index.astype(np.int64) * st[dim]
    for d in range(index.ndim):
        if d != dim and index.shape[d] > 1:
            along = np.arange(index.shape[d], dtype=np.int64) * st[d]
            lin = lin + along.reshape([-1 if k == d else 1 for k in range(index.ndim)])
    return np.broadcast_to(lin, index.shape)


def segment_sum(lin: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """out[t] = sum of values[p] over the p with lin[p] == t, for t < size (a flat scatter-add)."""
    lin, v = lin.reshape(-1), values.reshape(-1)
    if v.dtype.kind == "f":
        return np.bincount(lin, weights=v, minlength=size).astype(v.dtype, copy=False)
    out = np.zeros(size, dtype=v.dtype)
    red, targets = segment_reduce(np.add, lin, v)
    out[targets] = red
    return out


def segment_reduce(ufunc: np.ufunc, lin: np.ndarray, values: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(reduced, targets): ufunc-reduction of the values sharing each target position.

    Sort the flat targets (stably), find where runs start, and reduce each run with
    `ufunc.reduceat`; `targets` lists each distinct position once, in increasing order.
    """
    lin, v = lin.reshape(-1), values.reshape(-1)
    if lin.size == 0:
        return v[:0], lin[:0]
    order = np.argsort(lin, kind="stable")
    s = lin[order]
    starts = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
    return ufunc.reduceat(v[order], starts), s[starts]


def leading_block(index_shape: tuple[int, ...]) -> tuple[slice, ...]:
    """The slice of a `src` tensor that a scatter reads: its first index.shape[d] entries."""
    return tuple(slice(0, n) for n in index_shape)


def along(index: np.ndarray, dim: int, shape: tuple[int, ...]) -> np.ndarray:
    """A 1-D index laid along `dim` and broadcast to `shape` (index_select/index_add as a
    gather/scatter: position p uses index[p[dim]])."""
    return np.broadcast_to(index.reshape([-1 if k == dim else 1 for k in range(len(shape))]),
                           shape)


# --------------------------------------------------------------------- gather / scatter
class Gather(Function):
    """y[p] = a[p with p[dim] -> index[p]];  da = scatter-add of gy to the same places."""

    @staticmethod
    def forward(ctx: Context, a, *, dim, index):
        # a: (..., N_dim, ...), index: (..., K, ...) -> y: index.shape
        lin = scatter_targets(a.shape, dim, index)
        ctx.save_for_backward(lin)
        ctx.shape = a.shape
        return np.take(a, lin)

    @staticmethod
    def backward(ctx: Context, gy):
        (lin,) = ctx.saved
        return (segment_sum(lin, gy, int(np.prod(ctx.shape))).reshape(ctx.shape),)


class Scatter(Function):
    """y = a, then y[p with p[dim] -> index[p]] = src[p] (or the scalar `src`).

    When an index repeats a place, the last write wins (as PyTorch's CPU kernel; PyTorch
    leaves the order unspecified).  da = gy with the written places zeroed;
    dsrc[p] = gy[target of p] (a gather).
    """

    @staticmethod
    def forward(ctx: Context, a, src, *, dim, index):
        lin = scatter_targets(a.shape, dim, index)
        y = np.array(a, copy=True)
        value = src[leading_block(index.shape)] if isinstance(src, np.ndarray) else src
        y.reshape(-1)[lin.reshape(-1)] = np.broadcast_to(value, lin.shape).reshape(-1)
        ctx.save_for_backward(lin)
        ctx.src_shape = src.shape if isinstance(src, np.ndarray) else None
        return y

    @staticmethod
    def backward(ctx: Context, gy):
        (lin,) = ctx.saved
        ga = None
        if ctx.needs_input_grad[0]:
            ga = np.array(gy, copy=True)
            ga.reshape(-1)[lin.reshape(-1)] = 0
        gsrc = None
        if ctx.needs_input_grad[1]:
            gsrc = np.zeros(ctx.src_shape, dtype=gy.dtype)
            gsrc[leading_block(lin.shape)] = np.take(gy, lin)
        return ga, gsrc


class ScatterReduce(Function):
    """y[t] = reduce(a[t] (when include_self), src[p] for every p whose target is t); other
    places keep a.  reduce: "sum", "prod", "mean", "amax", "amin".

    Gradients (PyTorch's): sum: da = gy (0 at targets without include_self), dsrc = gy[t];
    mean: both get gy[t] / count[t]; amax/amin: gy[t] shared evenly by the contributors equal
    to y[t]; prod: gy[t] * (product of the other contributors of t).
    """

    @staticmethod
    def forward(ctx: Context, a, src, *, dim, index, reduce, include_self):
        lin = scatter_targets(a.shape, dim, index)
        v = src[leading_block(index.shape)]
        flat_a = a.reshape(-1)
        y = np.array(flat_a, copy=True)
        count = None
        if reduce in ("sum", "mean"):
            total = segment_sum(lin, v, flat_a.size)
            hit = segment_sum(lin, np.ones(lin.shape, np.int64), flat_a.size)
            if not include_self:
                y[hit > 0] = 0
            y = y + total
            if reduce == "mean":
                count = hit + 1 if include_self else np.maximum(hit, 1)
                y = y // count if y.dtype.kind in "iu" else y / count
        else:
            ufunc = {"prod": np.multiply, "amax": np.maximum, "amin": np.minimum}[reduce]
            red, targets = segment_reduce(ufunc, lin, v)
            y[targets] = ufunc(y[targets], red) if include_self else red
        y = y.astype(a.dtype, copy=False).reshape(a.shape)
        ctx.save_for_backward(lin, a, v, y, count)
        ctx.reduce, ctx.include_self, ctx.src_shape = reduce, include_self, src.shape
        return y

    @staticmethod
    def backward(ctx: Context, gy):
        lin, a, v, y, count = ctx.saved
        flat_gy, n = gy.reshape(-1), gy.size
        if ctx.reduce == "sum":
            ga, gv = np.array(flat_gy, copy=True), np.take(flat_gy, lin)
            if not ctx.include_self:
                ga[lin.reshape(-1)] = 0
        elif ctx.reduce == "mean":
            per = flat_gy / count
            ga, gv = np.array(flat_gy, copy=True), np.take(per, lin)
            ga[lin.reshape(-1)] = 0 if not ctx.include_self else per[lin.reshape(-1)]
        elif ctx.reduce in ("amax", "amin"):
            flat_y = y.reshape(-1)
            src_wins = v == np.take(flat_y, lin)
            self_wins = a.reshape(-1) == flat_y
            hit = segment_sum(lin, np.ones(lin.shape, np.int64), n) > 0
            if not ctx.include_self:
                self_wins = self_wins & ~hit
            ties = segment_sum(lin, src_wins.astype(np.int64), n) + self_wins * hit
            share = flat_gy / np.maximum(ties, 1)
            ga = np.where(hit, self_wins * share, flat_gy)
            gv = src_wins * np.take(share, lin)
        else:  # prod: product of the other contributors, without dividing by zero
            flat_a = a.reshape(-1)
            hit = segment_sum(lin, np.ones(lin.shape, np.int64), n) > 0
            self_in = hit & ctx.include_self
            zeros = segment_sum(lin, (v == 0).astype(np.int64), n) + (self_in & (flat_a == 0))
            nonzero_prod = np.ones(n, dtype=gy.dtype)
            red, targets = segment_reduce(np.multiply, lin, np.where(v == 0, 1, v))
            nonzero_prod[targets] = red
            nonzero_prod = np.where(self_in & (flat_a != 0), nonzero_prod * flat_a, nonzero_prod)

            def others(x: np.ndarray, t: np.ndarray) -> np.ndarray:
                z, p = zeros[t], nonzero_prod[t]
                with np.errstate(divide="ignore", invalid="ignore"):
                    return np.where(x == 0, (z == 1) * p, np.where(z == 0, p / x, 0))

            ga = np.where(self_in, flat_gy * others(flat_a, np.arange(n)), flat_gy)
            ga = np.where(hit & ~self_in, 0, ga)
            gv = np.take(flat_gy, lin) * others(v, lin)
        gsrc = np.zeros(ctx.src_shape, dtype=gy.dtype)
        gsrc[leading_block(lin.shape)] = gv
        return ga.reshape(gy.shape).astype(gy.dtype, copy=False), gsrc


# --------------------------------------------------------------------- index_* along one dim
class IndexSelect(Function):
    """y = a taken at `index` along `dim` (index 1-D);  da = gy rows added back to their rows."""

    @staticmethod
    def forward(ctx: Context, a, *, dim, index):
        ctx.shape, ctx.dim, ctx.index = a.shape, dim, index
        return np.take(a, index, axis=dim)

    @staticmethod
    def backward(ctx: Context, gy):
        lin = scatter_targets(ctx.shape, ctx.dim, along(ctx.index, ctx.dim, gy.shape))
        return (segment_sum(lin, gy, int(np.prod(ctx.shape))).reshape(ctx.shape),)


class IndexAdd(Function):
    """y = a;  y[.., index[i], ..] += alpha * src[.., i, ..] along `dim` (repeats add up).

    da = gy;  dsrc = alpha * gy taken at `index` along `dim`.
    """

    @staticmethod
    def forward(ctx: Context, a, src, *, dim, index, alpha):
        lin = scatter_targets(a.shape, dim, along(index, dim, src.shape))
        added = segment_sum(lin, src * alpha if alpha != 1 else src, a.size).reshape(a.shape)
        ctx.dim, ctx.index, ctx.alpha = dim, index, alpha
        return (a + added).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, gy):
        gsrc = np.take(gy, ctx.index, axis=ctx.dim)
        return gy, (gsrc * ctx.alpha if ctx.alpha != 1 else gsrc)


class IndexCopy(Function):
    """y = a;  y[.., index[i], ..] = src[.., i, ..] along `dim` (a repeated index: last wins).

    da = gy with the copied rows zeroed;  dsrc = gy taken at `index` along `dim`.
    """

    @staticmethod
    def forward(ctx: Context, a, src, *, dim, index):
        y = np.array(a, copy=True)
        sel = (slice(None),) * dim + (index,)
        y[sel] = src
        ctx.sel, ctx.dim, ctx.index = sel, dim, index
        return y

    @staticmethod
    def backward(ctx: Context, gy):
        ga = np.array(gy, copy=True)
        ga[ctx.sel] = 0
        return ga, np.take(gy, ctx.index, axis=ctx.dim)


# --------------------------------------------------------------------- masks and flat indices
class MaskedSelect(Function):
    """y = the elements of a where mask (1-D, row-major order);  da = gy put back there, 0
    elsewhere.  `a` and `mask` have the same shape (the public layer broadcasts)."""

    @staticmethod
    def forward(ctx: Context, a, *, mask):
        ctx.mask = mask
        return a[mask]

    @staticmethod
    def backward(ctx: Context, gy):
        ga = np.zeros(ctx.mask.shape, dtype=gy.dtype)
        ga[ctx.mask] = gy
        return (ga,)


class Take(Function):
    """y = a.flatten()[index] (shape of index);  da = gy scatter-added to those places."""

    @staticmethod
    def forward(ctx: Context, a, *, index):
        ctx.shape, ctx.index = a.shape, index
        return np.take(a.reshape(-1), index)

    @staticmethod
    def backward(ctx: Context, gy):
        n = int(np.prod(ctx.shape))
        return (segment_sum(ctx.index, gy, n).reshape(ctx.shape),)


# --------------------------------------------------------------------- rearrangements
class Roll(Function):
    """y[i] = a[(i - shift) mod n] on each rolled axis (all flattened when axes is None);
    da = gy rolled back by -shift."""

    @staticmethod
    def forward(ctx: Context, a, *, shifts, axes):
        ctx.shifts, ctx.axes = shifts, axes
        return np.roll(a, shifts, axes)

    @staticmethod
    def backward(ctx: Context, gy):
        back = -ctx.shifts if isinstance(ctx.shifts, int) else tuple(-s for s in ctx.shifts)
        return (np.roll(gy, back, ctx.axes),)


class RepeatInterleave(Function):
    """y = each slice of a along `axis` repeated repeats[i] times (np.repeat);
    da[i] = sum of the repeats[i] slices of gy that copy it (0 when repeats[i] == 0)."""

    @staticmethod
    def forward(ctx: Context, a, *, repeats, axis):
        ctx.shape, ctx.repeats, ctx.axis = a.shape, repeats, axis
        return np.repeat(a, repeats, axis=axis)

    @staticmethod
    def backward(ctx: Context, gy):
        ax, n = ctx.axis, ctx.shape[ctx.axis]
        if isinstance(ctx.repeats, int):
            # gy: (..., n * r, ...) -> (..., n, r, ...) summed over r
            split = ctx.shape[:ax] + (n, ctx.repeats) + ctx.shape[ax + 1:]
            return (gy.reshape(split).sum(axis=ax + 1),)
        r = ctx.repeats
        ga = np.zeros(ctx.shape, dtype=gy.dtype)
        keep = r > 0
        if keep.any():
            starts = (np.cumsum(r) - r)[keep]
            sel = (slice(None),) * ax + (keep,)
            ga[sel] = np.add.reduceat(gy, starts, axis=ax)
        return (ga,)


class Triangle(Function):
    """y = a with the elements above (tril) or below (triu) diagonal k of the last two axes
    zeroed;  da = gy masked the same way."""

    @staticmethod
    def forward(ctx: Context, a, *, diagonal, upper):
        ctx.diagonal, ctx.upper = diagonal, upper
        return np.triu(a, diagonal) if upper else np.tril(a, diagonal)

    @staticmethod
    def backward(ctx: Context, gy):
        return (np.triu(gy, ctx.diagonal) if ctx.upper else np.tril(gy, ctx.diagonal),)


def _diagonal_coords(n: int, diagonal: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of the n elements on diagonal k (k > 0 above the main one)."""
    i = np.arange(n)
    return i + max(-diagonal, 0), i + max(diagonal, 0)


class Diag(Function):
    """1-D a -> the square matrix with a on diagonal k;  2-D a -> its diagonal k (1-D).

    The backward goes the other way: the diagonal of gy, or gy placed on the diagonal.
    """

    @staticmethod
    def forward(ctx: Context, a, *, diagonal):
        ctx.shape, ctx.diagonal = a.shape, diagonal
        if a.ndim == 1:
            return np.diag(a, diagonal)
        return np.array(np.diagonal(a, diagonal), copy=True)

    @staticmethod
    def backward(ctx: Context, gy):
        if len(ctx.shape) == 1:
            return (np.array(np.diagonal(gy, ctx.diagonal), copy=True),)
        ga = np.zeros(ctx.shape, dtype=gy.dtype)
        ga[_diagonal_coords(gy.shape[0], ctx.diagonal)] = gy
        return (ga,)
