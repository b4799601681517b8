"""Sorting functions of the tensor API: sort, argsort, msort, topk, as `torch.*` has them.

`sort` and `topk` return (values, indices) named tuples, as torch's `torch.return_types`.
Order: NaN is larger than every number; equal values keep their original order, also when
descending (numcnn's sort is always stable; torch guarantees that only with stable=True).
`topk` returns the first k of that order, so among ties the lower index is taken first
(torch leaves the choice among ties unspecified).
"""

from __future__ import annotations

import builtins
import importlib
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from numcnn.functions._args import check_tensor, norm_dim
from numcnn.ops import sort as K

# the module, not the `numcnn.tensor` factory function that `numcnn` exports under that name
_t = importlib.import_module("numcnn.tensor")

if TYPE_CHECKING:
    from numcnn.tensor import Tensor


class SortResult(NamedTuple):
    """What `sort` returns (torch.return_types.sort)."""

    values: Tensor
    indices: Tensor


class TopKResult(NamedTuple):
    """What `topk` returns (torch.return_types.topk)."""

    values: Tensor
    indices: Tensor


def _last_dims(input: Tensor, dim: builtins.int, fn: str) -> tuple[Tensor, builtins.int]:
    """(input as >= 1-d, dim as a non-negative axis): a 0-d tensor sorts as one element."""
    check_tensor(input, fn, "input")
    x = input.reshape(1) if input.ndim == 0 else input
    return x, norm_dim(dim, x.ndim)


def sort(input: Tensor, dim: builtins.int = -1, descending: builtins.bool = False, *,
         stable: builtins.bool | None = False) -> SortResult:
    """`input` sorted along `dim`, with the index each value came from.

    values = input taken at indices along dim; the gradient goes back to those places.

    Returns:
        SortResult(values, indices), both of input's shape; indices int64.
    """
    x, d = _last_dims(input, dim, "sort")
    values, indices = K.Sort.apply(x, axis=d, descending=builtins.bool(descending))
    if input.ndim == 0:
        values, indices = values.reshape(()), indices.reshape(())
    return SortResult(values, indices)


def argsort(input: Tensor, dim: builtins.int = -1, descending: builtins.bool = False, *,
            stable: builtins.bool = False) -> Tensor:
    """The indices that sort `input` along `dim` (`sort(...).indices`)."""
    x, d = _last_dims(input, dim, "argsort")
    idx = K.sort_order(x.array, d, builtins.bool(descending)).astype(np.int64, copy=False)
    return _t.Tensor(idx.reshape(input.shape))


def msort(input: Tensor) -> Tensor:
    """`input` sorted along its first dim: sort(input, dim=0).values."""
    return sort(input, 0).values


def topk(input: Tensor, k: builtins.int, dim: builtins.int = -1,
         largest: builtins.bool = True, sorted: builtins.bool = True) -> TopKResult:
    """The `k` largest (or smallest) entries of `input` along `dim`, and their indices.

    Always returned sorted (largest first, or smallest first), which `sorted=False` allows.

    Returns:
        TopKResult(values, indices), input's shape with size k at dim; indices int64.
    """
    x, d = _last_dims(input, dim, "topk")
    if input.dtype == np.bool_:
        raise RuntimeError("topk does not support bool dtypes")
    if not 0 <= k <= x.shape[d]:
        raise RuntimeError(f"selected index k out of range (k = {k}, size of dim {d} = "
                           f"{x.shape[d]})")
    values, indices = K.TopK.apply(x, k=builtins.int(k), axis=d, largest=builtins.bool(largest))
    if input.ndim == 0:
        values, indices = values.reshape(()), indices.reshape(())
    return TopKResult(values, indices)
