"""Order statistics, NaN-ignoring reductions, running extremes and counting, as `torch.*`:
median, nanmedian, kthvalue, mode, nansum, nanmean, cummax, cummin, logcumsumexp, histc,
bincount, unique, unique_consecutive, searchsorted, bucketize.

Orders follow `sort` (functions/sorting.py): NaN counts as larger than every number and equal
values keep their original order.  The selecting functions (median, kthvalue, mode, cummax,
cummin) pick indices on ndarrays and then `gather` the values, so the gradient of each output
goes back to the one input it was taken from.
"""

from __future__ import annotations

import builtins
import importlib
from collections import namedtuple
from typing import TYPE_CHECKING, Any

import numpy as np

from numcnn import dtypes
from numcnn.functions._args import check_tensor, norm_dim, numpy_names
from numcnn.functions.indexing import gather
from numcnn.functions.reduce import sum as _sum
from numcnn.ops import extra as X
from numcnn.ops.sort import sort_order

# the module, not the `numcnn.tensor` factory that `numcnn` exports under that name
_t = importlib.import_module("numcnn.tensor")

if TYPE_CHECKING:
    from numcnn.tensor import Tensor

# (values, indices) pairs, named as torch.return_types.*
_Median = namedtuple("median", ["values", "indices"])  # type: ignore[name-match]
_NanMedian = namedtuple("nanmedian", ["values", "indices"])  # type: ignore[name-match]
_KthValue = namedtuple("kthvalue", ["values", "indices"])  # type: ignore[name-match]
_Mode = namedtuple("mode", ["values", "indices"])  # type: ignore[name-match]
_CumMax = namedtuple("cummax", ["values", "indices"])  # type: ignore[name-match]
_CumMin = namedtuple("cummin", ["values", "indices"])  # type: ignore[name-match]


def _pick(input: Tensor, idx: np.ndarray, d: builtins.int, keepdim: builtins.bool,
          result: Any) -> Any:
    """(values, indices) of the entries at `idx` (input's shape with size 1 at `d`)."""
    x = input.reshape(1) if input.ndim == 0 else input
    values = gather(x, d, _t.Tensor(idx))
    indices = _t.Tensor(idx.astype(np.int64, copy=False))
    if input.ndim == 0:
        return result(values.reshape(()), indices.reshape(()))
    if not keepdim:
        values, indices = values.squeeze(d), indices.squeeze(d)
    return result(values, indices)


def _check_nonempty(x: Tensor, d: builtins.int, name: str) -> None:
    if x.ndim and x.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


def _median(input: Tensor, dim: Any, keepdim: builtins.bool, ignore_nan: builtins.bool,
            name: str, result: Any) -> Any:
    """The lower median: with c counted values along dim, the ((c - 1) // 2)-th smallest.
    median: a slice holding NaN gives NaN (its first NaN); nanmedian counts non-NaN only."""
    x = check_tensor(input, name)
    if dim is None:
        flat = x.reshape(-1)
        if flat.numel() == 0:
            return _t.Tensor(np.array(np.nan, dtype=x.dtype)) if x.dtype.kind == "f" else \
                _t.Tensor(np.zeros((), x.dtype))
        return _median(flat, 0, False, ignore_nan, name, result).values
    x1 = x.reshape(1) if x.ndim == 0 else x
    d = norm_dim(dim, x1.ndim)
    _check_nonempty(x1, d, name)
    a = x1.array
    order = sort_order(a, d, False)                        # NaN last
    nan = np.isnan(a) if a.dtype.kind == "f" else np.zeros(a.shape, bool)
    n_nan = nan.sum(axis=d, keepdims=True)
    count = a.shape[d] - n_nan if ignore_nan else np.full_like(n_nan, a.shape[d])
    k = np.maximum(count - 1, 0) // 2
    idx = np.take_along_axis(order, k, axis=d)
    if not ignore_nan:                                     # a NaN anywhere: its first one
        idx = np.where(n_nan > 0, np.argmax(nan, axis=d, keepdims=True), idx)
    return _pick(x, idx, d, keepdim, result)


def median(input: Tensor, dim: Any = None, keepdim: builtins.bool = False) -> Any:
    """The lower median of `input` (of all elements when dim is None, else along `dim`).

    With n values the ((n - 1) // 2)-th smallest (of 1, 2, 3, 4: 2); NaN propagates.

    Returns:
        dim None: a 0-d tensor.  Else median(values, indices), indices int64.
    """
    return _median(input, dim, keepdim, False, "median", _Median)


def nanmedian(input: Tensor, dim: Any = None, keepdim: builtins.bool = False) -> Any:
    """`median` that ignores NaN (NaN only where a slice is all NaN)."""
    return _median(input, dim, keepdim, True, "nanmedian", _NanMedian)


def kthvalue(input: Tensor, k: builtins.int, dim: builtins.int = -1,
             keepdim: builtins.bool = False) -> Any:
    """The k-th smallest entry (k from 1) along `dim` and its index.

    Returns:
        kthvalue(values, indices), indices int64.
    """
    x = check_tensor(input, "kthvalue")
    x1 = x.reshape(1) if x.ndim == 0 else x
    d = norm_dim(dim, x1.ndim)
    if not isinstance(k, (builtins.int, np.integer)) or not 1 <= k <= x1.shape[d]:
        raise IndexError(f"kthvalue(): selected number k out of range for dimension {d}")
    order = sort_order(x1.array, d, False)
    idx = np.take(order, [builtins.int(k) - 1], axis=d)
    return _pick(x, idx, d, keepdim, _KthValue)


def mode(input: Tensor, dim: builtins.int = -1, keepdim: builtins.bool = False) -> Any:
    """The most frequent value along `dim` (the smallest among equally frequent ones) and the
    last index where it occurs.

    Returns:
        mode(values, indices), indices int64.
    """
    x = check_tensor(input, "mode")
    x1 = x.reshape(1) if x.ndim == 0 else x
    d = norm_dim(dim, x1.ndim)
    _check_nonempty(x1, d, "mode")
    a = np.moveaxis(x1.array, d, -1)                        # (..., n)
    n = a.shape[-1]
    order = np.argsort(a, axis=-1, kind="stable")
    s = np.take_along_axis(a, order, axis=-1)
    # run starts in the sorted rows; run length at each position = end of its run - start
    new = np.ones(s.shape, bool)
    new[..., 1:] = s[..., 1:] != s[..., :-1]
    pos = np.arange(n)
    start = np.maximum.accumulate(np.where(new, pos, 0), axis=-1)
    end = np.flip(np.minimum.accumulate(np.flip(np.where(
        np.concatenate([new[..., 1:], np.ones(s.shape[:-1] + (1,), bool)], axis=-1), pos, n),
        -1), axis=-1), -1)
    length = end - start + 1
    best = np.argmax(length, axis=-1)[..., None]            # first longest run: smallest value
    last = np.take_along_axis(end, best, axis=-1)           # its last sorted position
    idx = np.take_along_axis(order, last, axis=-1)          # stable: the last original index
    return _pick(x, np.moveaxis(idx, -1, d), d, keepdim, _Mode)


# --------------------------------------------------------------- NaN-ignoring reductions
@numpy_names
def nansum(input: Tensor, dim: Any = None, keepdim: builtins.bool = False, *,
           dtype: Any = None) -> Tensor:
    """Sum over `dim` with NaN counted as zero (their gradient is zero)."""
    x = check_tensor(input, "nansum")
    if x.dtype.kind == "f":
        x = X.NanToZero.apply(x)
    return _sum(x, dim, keepdim, dtype=dtype)


@numpy_names
def nanmean(input: Tensor, dim: Any = None, keepdim: builtins.bool = False, *,
            dtype: Any = None) -> Tensor:
    """Mean over `dim` of the non-NaN entries: nansum / (number of non-NaN); floating only."""
    x = check_tensor(input, "nanmean")
    x = x if dtype is None else x.to(dtypes.as_dtype(dtype))
    if x.dtype.kind != "f":
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex "
                           f"dtype but got {dtypes.torch_type_name(x.dtype)}")
    count = _sum((~x.isnan()).to(x.dtype), dim, keepdim)
    return nansum(x, dim, keepdim) / count


# --------------------------------------------------------------- running extremes
def _cum_extreme(input: Tensor, dim: builtins.int, largest: builtins.bool, name: str,
                 result: Any) -> Any:
    """Running max (min) and the index it came from; among equal values the latest index,
    and a NaN, once met, stays (with the index of the latest NaN), as PyTorch."""
    x = check_tensor(input, name)
    x1 = x.reshape(1) if x.ndim == 0 else x
    d = norm_dim(dim, x1.ndim)
    a = x1.array
    if a.size == 0:
        return result(x.clone(), _t.Tensor(np.zeros(x.shape, np.int64)))
    run = (np.maximum if largest else np.minimum).accumulate(a, axis=d)
    hit = a == run
    if a.dtype.kind == "f":
        hit |= np.isnan(a)
    pos = np.arange(a.shape[d]).reshape([-1 if i == d else 1 for i in range(a.ndim)])
    idx = np.maximum.accumulate(np.where(hit, pos, 0), axis=d)
    values = gather(x1, d, _t.Tensor(idx))
    indices = _t.Tensor(idx.astype(np.int64, copy=False))
    if x.ndim == 0:
        return result(values.reshape(()), indices.reshape(()))
    return result(values, indices)


def cummax(input: Tensor, dim: builtins.int) -> Any:
    """Running maximum along `dim`: values_i = max_{j <= i} x_j, indices = where it was.

    Returns:
        cummax(values, indices), both of input's shape; indices int64.
    """
    return _cum_extreme(input, dim, True, "cummax", _CumMax)


def cummin(input: Tensor, dim: builtins.int) -> Any:
    """Running minimum along `dim` (see `cummax`)."""
    return _cum_extreme(input, dim, False, "cummin", _CumMin)


def logcumsumexp(input: Tensor, dim: builtins.int) -> Tensor:
    """y_i = log sum_{j <= i} exp(x_j) along `dim`, without overflow; floating inputs only."""
    x = check_tensor(input, "logcumsumexp")
    if x.dtype.kind != "f":
        raise RuntimeError(f"\"logcumsumexp_out_cpu\" not implemented for "
                           f"'{dtypes.torch_type_name(x.dtype)}'")
    return X.LogCumSumExp.apply(x, axis=norm_dim(dim, x.ndim))


# --------------------------------------------------------------- counting
def histc(input: Tensor, bins: builtins.int = 100, min: Any = 0, max: Any = 0) -> Tensor:
    """Histogram of `bins` equal-width bins over [min, max] (the data's range when min = max);
    elements outside are ignored, and max itself falls in the last bin.  Same dtype as input."""
    x = check_tensor(input, "histc")
    if x.dtype.kind != "f":
        raise RuntimeError(f"\"histogram_histc_cpu\" not implemented for "
                           f"'{dtypes.torch_type_name(x.dtype)}'")
    if bins <= 0:
        raise RuntimeError(f"torch.histc(): bins must be > 0, but got {bins} for bins")
    a = x.array.reshape(-1)
    lo, hi = builtins.float(min), builtins.float(max)
    if lo > hi:
        raise RuntimeError(f"torch.histc(): max must be larger than min, but got min {lo} "
                           f"max {hi}")
    if lo == hi and a.size:
        lo, hi = builtins.float(a.min()), builtins.float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"torch.histc(): range of [{lo}, {hi}] is not finite")
    keep = a[(a >= lo) & (a <= hi)]
    pos = ((keep - lo) * bins / (hi - lo)).astype(np.int64)
    pos = np.minimum(pos, bins - 1)
    return _t.Tensor(np.bincount(pos, minlength=bins).astype(x.dtype))


def bincount(input: Tensor, weights: Tensor | None = None, minlength: builtins.int = 0) -> Tensor:
    """Counts of each value 0 .. max(input) of a 1-d non-negative integer tensor (or the sums
    of `weights` falling there); length max(max(input) + 1, minlength).  int64 without
    weights; with weights their dtype (float32 stays float32, other dtypes give float64)."""
    x = check_tensor(input, "bincount")
    if x.ndim != 1 or x.dtype.kind not in "iub" or x.dtype == np.bool_:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    a = x.array
    if a.size and a.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is None:
        return _t.Tensor(np.bincount(a, minlength=minlength).astype(np.int64))
    w = check_tensor(weights, "bincount", "weights", 2)
    if w.shape != x.shape:
        raise RuntimeError("weights should be 1-d and have the same length as input")
    out_dtype = np.float32 if w.dtype == np.float32 else np.float64
    return _t.Tensor(np.bincount(a, weights=w.array, minlength=minlength).astype(out_dtype))


def unique(input: Tensor, sorted: builtins.bool = True, return_inverse: builtins.bool = False,
           return_counts: builtins.bool = False, dim: builtins.int | None = None) -> Any:
    """The distinct values of `input` in ascending order (of all elements when dim is None,
    else the distinct slices along `dim`, ordered lexicographically).

    Returns:
        output, plus inverse indices (input's shape, or (size of dim,)) when return_inverse,
        plus counts when return_counts; indices and counts int64.
    """
    x = check_tensor(input, "unique")
    a = x.array
    if dim is None:
        out, inv, cnt = np.unique(a.reshape(-1), return_inverse=True, return_counts=True)
        inv = inv.reshape(a.shape)
    else:
        d = norm_dim(dim, a.ndim)
        if a.shape[d] == 0:
            out, inv, cnt = a, np.zeros(0, np.int64), np.zeros(0, np.int64)
        else:
            out, inv, cnt = np.unique(a, return_inverse=True, return_counts=True, axis=d)
            inv = inv.reshape(-1)
    return _with_extras(_t.Tensor(out.astype(a.dtype, copy=False)), inv, cnt,
                        return_inverse, return_counts)


def _with_extras(out: Tensor, inv: np.ndarray, cnt: np.ndarray, return_inverse: builtins.bool,
                 return_counts: builtins.bool) -> Any:
    res: list[Tensor] = [out]
    if return_inverse:
        res.append(_t.Tensor(inv.astype(np.int64, copy=False)))
    if return_counts:
        res.append(_t.Tensor(cnt.astype(np.int64, copy=False)))
    return res[0] if len(res) == 1 else tuple(res)


def unique_consecutive(input: Tensor, return_inverse: builtins.bool = False,
                       return_counts: builtins.bool = False,
                       dim: builtins.int | None = None) -> Any:
    """Each run of equal consecutive values (or slices along `dim`) reduced to one.

    Returns:
        output, plus inverse indices when return_inverse, plus run lengths when return_counts.
    """
    x = check_tensor(input, "unique_consecutive")
    a = x.array
    if dim is None:
        a, d = a.reshape(-1), 0
    else:
        d = norm_dim(dim, a.ndim)
    n = a.shape[d]
    rows = np.moveaxis(a, d, 0).reshape(n, -1) if n else np.zeros((0, 1))  # (n, rest)
    new = np.ones(n, bool)
    if n > 1:
        new[1:] = np.any(rows[1:] != rows[:-1], axis=1)
    starts = np.flatnonzero(new)
    out = np.take(a, starts, axis=d)
    inv = np.cumsum(new) - 1
    cnt = np.diff(np.append(starts, n))
    if dim is None:
        inv = inv.reshape(x.shape)
    return _with_extras(_t.Tensor(out), inv, cnt, return_inverse, return_counts)


def _sorted_positions(seq: np.ndarray, v: np.ndarray, right: builtins.bool) -> np.ndarray:
    """For each v, the number of entries of its row of `seq` that are < v (<= v when right).
    1-d seq: binary search; batched seq (..., n) with v (..., m): a comparison count."""
    if seq.ndim == 1:
        return np.searchsorted(seq, v, side="right" if right else "left")
    if right:
        return np.sum(seq[..., None, :] <= v[..., :, None], axis=-1)
    return np.sum(seq[..., None, :] < v[..., :, None], axis=-1)


def searchsorted(sorted_sequence: Tensor, input: Any, *, out_int32: builtins.bool = False,
                 right: builtins.bool = False, side: str | None = None,
                 sorter: Tensor | None = None) -> Tensor:
    """Where each value of `input` would go in `sorted_sequence` to keep it sorted: the first
    such place (left), or the last (right=True or side="right").

    Shape:
        sorted_sequence (n,) with input of any shape, or (*, n) with input (*, m).
    """
    seq = check_tensor(sorted_sequence, "searchsorted", "sorted_sequence").array
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but "
                               f"got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, "
                               "got side of left while right was True")
        right = side == "right"
    if sorter is not None:
        seq = np.take_along_axis(seq, check_tensor(sorter, "searchsorted", "sorter").array,
                                 axis=-1)
    v = input.array if isinstance(input, _t.Tensor) else np.asarray(input)
    if seq.ndim == 0:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should have positive "
                           "dimension, but got 0 dimension")
    if seq.ndim > 1 and (v.ndim != seq.ndim or v.shape[:-1] != seq.shape[:-1]):
        raise RuntimeError(
            f"torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
            f"dimensions of boundaries tensor and input value tensor must match, but we got "
            f"boundaries tensor {list(seq.shape)} and input value tensor {list(v.shape)}")
    pos = _sorted_positions(seq, v, builtins.bool(right))
    return _t.Tensor(np.asarray(pos).astype(np.int32 if out_int32 else np.int64))


def bucketize(input: Any, boundaries: Tensor, *, out_int32: builtins.bool = False,
              right: builtins.bool = False) -> Tensor:
    """The bucket of each value: i with boundaries[i-1] < x <= boundaries[i] (right=False) or
    boundaries[i-1] <= x < boundaries[i] (right=True); `boundaries` is 1-d ascending."""
    b = check_tensor(boundaries, "bucketize", "boundaries", 2)
    if b.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({b.ndim})")
    return searchsorted(b, input, out_int32=out_int32, right=right)


# --------------------------------------------------------------- covariance
def cov(input: Tensor, *, correction: builtins.int = 1, fweights: Tensor | None = None,
        aweights: Tensor | None = None) -> Tensor:
    """Covariance of the variables in the rows of `input` (observations in the columns).

    With weights w = fweights * aweights (ones when absent), mean m = sum_j w_j x_j / sum w and
    c_ab = sum_j w_j (x_aj - m_a)(x_bj - m_b) / (sum w - correction * sum(w * aweights) / sum w)
    (without aweights the denominator is sum w - correction).

    Shape:
        (V, N) -> (V, V);  (N,) -> ()
    """
    x = check_tensor(input, "cov")
    if x.ndim > 2:
        raise ValueError(f"cov(): expected input to have two or fewer dimensions but got an "
                         f"input with {x.ndim} dimensions")
    x2 = x.reshape(1, -1) if x.ndim < 2 else x
    if x2.dtype.kind not in "f":
        x2 = x2.to(dtypes.get_default_dtype())
    n = x2.shape[1]
    w: Tensor | None = None
    for name, wt in (("fweights", fweights), ("aweights", aweights)):
        if wt is None:
            continue
        wt = check_tensor(wt, "cov", name)
        if wt.ndim > 1 or wt.numel() != n:
            raise ValueError(f"cov(): expected {name} to have one dimension and {n} elements "
                             f"but got {wt.ndim} dimensions and {wt.numel()} elements")
        if name == "fweights" and wt.dtype.kind not in "iu":
            raise ValueError(f"cov(): expected fweights to have integral dtype but got "
                             f"{dtypes.torch_type_name(wt.dtype)}")
        if name == "aweights" and wt.dtype.kind != "f":
            raise ValueError(f"cov(): expected aweights to have floating point dtype but got "
                             f"{dtypes.torch_type_name(wt.dtype)}")
        if bool(np.any(wt.array < 0)):
            raise ValueError(f"cov(): {name} cannot be negative")
        wt = wt.reshape(-1).to(x2.dtype)
        w = wt if w is None else w * wt
    if w is None:
        w_sum = _t.Tensor(np.asarray(n, dtype=x2.dtype))
        avg = x2.mean(1)
        norm = w_sum - correction
    else:
        w_sum = w.sum()
        avg = (x2 * w).sum(1) / w_sum
        if aweights is None or correction == 0:
            norm = w_sum - correction
        else:
            aw = aweights.reshape(-1).to(x2.dtype)
            norm = w_sum - correction * (w * aw).sum() / w_sum
    norm = norm.clamp_min(0)
    xm = x2 - avg.unsqueeze(1)
    c = (xm if w is None else xm * w) @ xm.t() / norm
    return c.reshape(()) if x.ndim < 2 else c


def corrcoef(input: Tensor) -> Tensor:
    """Pearson correlation coefficients of the rows: cov_ab / sqrt(cov_aa cov_bb), clipped to
    [-1, 1].

    Shape:
        (V, N) -> (V, V);  (N,) -> ()
    """
    c = cov(check_tensor(input, "corrcoef"))
    if c.ndim == 0:
        return c / c
    s = c.diagonal().sqrt()
    return (c / s.unsqueeze(1) / s.unsqueeze(0)).clamp(-1, 1)


_Histogram = namedtuple("histogram", ["hist", "bin_edges"])  # type: ignore[name-match]


def histogram(input: Tensor, bins: Any = 100, *, range: Any = None,
              weight: Tensor | None = None, density: builtins.bool = False) -> Any:
    """Histogram of input's values: `bins` equal bins over `range` (the data's min and max by
    default), or the given increasing bin edges; the last bin includes its right edge.

    Returns:
        histogram(hist, bin_edges), both of input's dtype; hist (bins,), edges (bins + 1,);
        with density, hist / (total * bin width).
    """
    x = check_tensor(input, "histogram")
    if x.dtype.kind != "f":
        raise RuntimeError(f"torch.histogram: input tensor and bins tensors should have the "
                           f"same dtype, but got input {x.dtype}")
    a = x.array.reshape(-1)
    w = None
    if weight is not None:
        wt = check_tensor(weight, "histogram", "weight")
        if wt.shape != x.shape:
            raise RuntimeError("torch.histogram: if weight tensor is provided it should have "
                               "the same shape as the input tensor")
        w = wt.array.reshape(-1)
    if isinstance(bins, _t.Tensor):
        edges = bins.array.astype(x.dtype)
        if edges.ndim != 1 or edges.size < 2:
            raise RuntimeError("torch.histogram: bins tensor should have one dimension and at "
                               "least 2 elements")
        hist, _ = np.histogram(a, bins=edges, weights=w, density=density)
    else:
        if builtins.int(bins) <= 0:
            raise RuntimeError("torch.histogram(): bins must be > 0")
        if range is not None:
            lo, hi = builtins.float(range[0]), builtins.float(range[1])
            if lo > hi:
                raise RuntimeError(f"torch.histogram: min should not exceed max, but got min "
                                   f"{lo} max {hi}")
        elif a.size:
            lo, hi = builtins.float(a.min()), builtins.float(a.max())
        else:
            lo, hi = 0.0, 0.0
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, builtins.int(bins) + 1).astype(x.dtype)
        hist, _ = np.histogram(a, bins=edges, weights=w, density=density)
    return _Histogram(_t.Tensor(hist.astype(x.dtype)), _t.Tensor(edges))
