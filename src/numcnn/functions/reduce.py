"""Reductions with PyTorch's signatures: sum, mean, prod, var/std, max/min, norms, logsumexp,
cumulative sums and products, all/any and counts.

`dim` is an int, a tuple of ints or None (all dimensions); NumPy's `axis`/`keepdims` are
accepted for `dim`/`keepdim`, as PyTorch accepts them.
"""

from __future__ import annotations

import builtins
import importlib
from collections import namedtuple
from typing import TYPE_CHECKING, Any

import numpy as np

from numcnn import dtypes
from numcnn.functions._args import check_tensor, norm_dim, norm_dims, numpy_names
from numcnn.ops import reduce as R

# the module, not the `numcnn.tensor` factory that `numcnn` exports under that name
_t = importlib.import_module("numcnn.tensor")

if TYPE_CHECKING:
    from numcnn.tensor import Tensor

# the (values, indices) pairs, named as torch.return_types.max / .min
_MaxResult = namedtuple("max", ["values", "indices"])  # type: ignore[name-match]
_MinResult = namedtuple("min", ["values", "indices"])  # type: ignore[name-match]


def _accumulate_dtype(x: Tensor, dtype: Any) -> Tensor:
    """sum/prod/cumsum accumulate integers and bools in int64 unless a dtype is given."""
    if dtype is not None:
        return x.to(dtypes.as_dtype(dtype))
    return x.to(dtypes.int64) if x.dtype.kind in "iub" else x


@numpy_names
def sum(input: Tensor, dim: Any = None, keepdim: builtins.bool = False, *,  # noqa: A001
        dtype: Any = None) -> Tensor:
    """Sum over `dim` (all dims when None); integers and bools sum in int64."""
    x = _accumulate_dtype(check_tensor(input, "sum"), dtype)
    return R.Sum.apply(x, axis=norm_dims(dim, x.ndim), keepdim=keepdim)


@numpy_names
def mean(input: Tensor, dim: Any = None, keepdim: builtins.bool = False, *,
         dtype: Any = None) -> Tensor:
    """Mean over `dim` (all dims when None); the input must be floating (or `dtype` given)."""
    x = check_tensor(input, "mean")
    x = x if dtype is None else x.to(dtypes.as_dtype(dtype))
    if x.dtype.kind not in "fc":
        raise RuntimeError(
            f"mean(): could not infer output dtype. Input dtype must be either a floating "
            f"point or complex dtype. Got: {dtypes.torch_type_name(x.dtype)}"
        )
    return R.Mean.apply(x, axis=norm_dims(dim, x.ndim), keepdim=keepdim)


@numpy_names
def prod(input: Tensor, dim: Any = None, keepdim: builtins.bool = False, *,
         dtype: Any = None) -> Tensor:
    """Product over one `dim` (all elements when None).  The gradient is exact with zeros in
    the input: a slice with one zero sends the product of the others to that zero."""
    x = _accumulate_dtype(check_tensor(input, "prod"), dtype)
    if isinstance(dim, (tuple, list)):
        raise TypeError("prod(): argument 'dim' must be int, not " + type(dim).__name__)
    axis = None if dim is None else (norm_dim(dim, x.ndim),)
    return R.Prod.apply(x, axis=axis, keepdim=keepdim if dim is not None else False)


def _cumulative(kernel: Any, input: Tensor, dim: Any, dtype: Any, name: str) -> Tensor:
    x = _accumulate_dtype(check_tensor(input, name), dtype)
    return kernel.apply(x, axis=norm_dim(dim, x.ndim))


@numpy_names
def cumsum(input: Tensor, dim: builtins.int, *, dtype: Any = None) -> Tensor:
    """Running sums along `dim`: y_i = x_0 + ... + x_i."""
    return _cumulative(R.Cumsum, input, dim, dtype, "cumsum")


@numpy_names
def cumprod(input: Tensor, dim: builtins.int, *, dtype: Any = None) -> Tensor:
    """Running products along `dim`: y_i = x_0 * ... * x_i (gradient exact with zeros)."""
    return _cumulative(R.Cumprod, input, dim, dtype, "cumprod")


@numpy_names
def logsumexp(input: Tensor, dim: Any, keepdim: builtins.bool = False) -> Tensor:
    """log(sum(exp(input))) over `dim`, computed stably (the maximum is taken out first);
    integer inputs give the default float dtype."""
    x = check_tensor(input, "logsumexp")
    x = x if x.dtype.kind in "fc" else x.to(dtypes.get_default_dtype())
    axis = norm_dims(dim, x.ndim)
    if axis == ():
        axis = None
    return R.LogSumExp.apply(x, axis=axis, keepdim=keepdim)


def _logical(fn: Any, input: Tensor, dim: Any, keepdim: builtins.bool, name: str) -> Tensor:
    x = check_tensor(input, name)
    out = np.asarray(fn(x.array, axis=norm_dims(dim, x.ndim), keepdims=keepdim))
    return _t.Tensor(out.astype(np.uint8) if x.dtype == np.uint8 else out)


@numpy_names
def all(input: Tensor, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:  # noqa: A001
    """True where every element along `dim` is nonzero (uint8 inputs give uint8, as PyTorch)."""
    return _logical(np.all, input, dim, keepdim, "all")


@numpy_names
def any(input: Tensor, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:  # noqa: A001
    """True where some element along `dim` is nonzero (uint8 inputs give uint8, as PyTorch)."""
    return _logical(np.any, input, dim, keepdim, "any")


@numpy_names
def count_nonzero(input: Tensor, dim: Any = None) -> Tensor:
    """The number of nonzero elements along `dim` (all when None), as int64."""
    x = check_tensor(input, "count_nonzero")
    return _t.Tensor(np.asarray(np.count_nonzero(x.array, axis=norm_dims(dim, x.ndim)),
                                dtype=np.int64))


def _correction(unbiased: Any, correction: Any, name: str) -> Any:
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}() received an invalid combination of arguments: pass either "
                        f"unbiased or correction, not both")
    if correction is not None:
        return correction
    return 0 if unbiased is False else 1


def _var_args(input: Tensor, dim: Any, unbiased: Any, name: str) -> tuple[Tensor, Any, Any]:
    """PyTorch's var(input, unbiased) overload: a bool second argument is `unbiased`."""
    x = check_tensor(input, name)
    if isinstance(dim, builtins.bool):
        dim, unbiased = None, dim
    if x.dtype.kind not in "fc":
        raise RuntimeError(f"{name}(): input dtype should be either floating point or complex. "
                           f"Got {dtypes.torch_type_name(x.dtype)} instead.")
    return x, dim, unbiased


@numpy_names
def var(input: Tensor, dim: Any = None, unbiased: builtins.bool | None = None,
        keepdim: builtins.bool = False, *, correction: Any = None) -> Tensor:
    """sum (x - mean)^2 / (N - correction) over `dim` (correction 1 unless unbiased=False)."""
    x, dim, unbiased = _var_args(input, dim, unbiased, "var")
    return R.Var.apply(x, axis=norm_dims(dim, x.ndim),
                       correction=_correction(unbiased, correction, "var"), keepdim=keepdim)


@numpy_names
def std(input: Tensor, dim: Any = None, unbiased: builtins.bool | None = None,
        keepdim: builtins.bool = False, *, correction: Any = None) -> Tensor:
    """sqrt(var); the gradient is 0 (not nan) where the standard deviation is 0, as PyTorch."""
    x, dim, unbiased = _var_args(input, dim, unbiased, "std")
    return R.Std.apply(x, axis=norm_dims(dim, x.ndim),
                       correction=_correction(unbiased, correction, "std"), keepdim=keepdim)


@numpy_names
def var_mean(input: Tensor, dim: Any = None, unbiased: builtins.bool | None = None,
             keepdim: builtins.bool = False, *, correction: Any = None) -> tuple[Tensor, Tensor]:
    """(var, mean) over `dim`."""
    x, dim, unbiased = _var_args(input, dim, unbiased, "var_mean")
    return (var(x, dim, unbiased, keepdim, correction=correction), mean(x, dim, keepdim))


@numpy_names
def std_mean(input: Tensor, dim: Any = None, unbiased: builtins.bool | None = None,
             keepdim: builtins.bool = False, *, correction: Any = None) -> tuple[Tensor, Tensor]:
    """(std, mean) over `dim`."""
    x, dim, unbiased = _var_args(input, dim, unbiased, "std_mean")
    return (std(x, dim, unbiased, keepdim, correction=correction), mean(x, dim, keepdim))


def _maxmin(input: Tensor, dim: Any, keepdim: builtins.bool, largest: builtins.bool) -> Any:
    name = "max" if largest else "min"
    x = check_tensor(input, name)
    if isinstance(dim, _t.Tensor):               # max(input, other): the elementwise form
        from numcnn.functions.math import maximum, minimum
        return maximum(x, dim) if largest else minimum(x, dim)
    if dim is None:
        if x.numel() == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                               f"input.numel() == 0. Specify the reduction dim with the 'dim' "
                               f"argument.")
        return R.MaxAll.apply(x, largest=largest)
    axis = norm_dim(dim, x.ndim)
    if x.ndim and x.shape[axis] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size.")
    values, indices = R.MaxDim.apply(x, axis=axis, keepdim=keepdim, largest=largest)
    return (_MaxResult if largest else _MinResult)(values, indices)


@numpy_names
def max(input: Tensor, dim: Any = None, keepdim: builtins.bool = False) -> Any:  # noqa: A001
    """The largest element (dim None), (values, indices) along `dim`, or, with a tensor as the
    second argument, the elementwise maximum.  Along a dim the gradient goes to the returned
    index; over all elements ties share it evenly (as PyTorch)."""
    return _maxmin(input, dim, keepdim, True)


@numpy_names
def min(input: Tensor, dim: Any = None, keepdim: builtins.bool = False) -> Any:  # noqa: A001
    """The smallest element, (values, indices) along `dim`, or the elementwise minimum."""
    return _maxmin(input, dim, keepdim, False)


def _amaxmin(input: Tensor, dim: Any, keepdim: builtins.bool, largest: builtins.bool) -> Tensor:
    name = "amax" if largest else "amin"
    x = check_tensor(input, name)
    dims = norm_dims(dim, x.ndim)
    if dims == ():
        dims = None                            # torch: dim=() reduces over all dims
    reduced = x.shape if dims is None else [x.shape[d] for d in dims]
    if x.ndim and 0 in reduced:
        raise IndexError(f"{name}(): Expected reduction dim to have non-zero size.")
    return R.MaxAll.apply(x, largest=largest, axis=dims, keepdim=keepdim)


@numpy_names
def amax(input: Tensor, dim: Any = (), keepdim: builtins.bool = False) -> Tensor:
    """Maximum over `dim` (an int, a tuple, or all); ties share the gradient evenly."""
    return _amaxmin(input, dim, keepdim, True)


@numpy_names
def amin(input: Tensor, dim: Any = (), keepdim: builtins.bool = False) -> Tensor:
    """Minimum over `dim` (an int, a tuple, or all); ties share the gradient evenly."""
    return _amaxmin(input, dim, keepdim, False)


def _argmaxmin(fn: Any, input: Tensor, dim: Any, keepdim: builtins.bool, name: str) -> Tensor:
    x = check_tensor(input, name)
    if x.numel() == 0 and (dim is None or x.shape[norm_dim(dim, x.ndim)] == 0):
        raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() "
                         f"== 0." if dim is None else
                         f"{name}(): Expected reduction dim {dim} to have non-zero size.")
    if dim is None:
        out = np.asarray(fn(x.array))
        return _t.Tensor(out.reshape((1,) * x.ndim) if keepdim else out.astype(np.int64))
    d = norm_dim(dim, x.ndim)
    return _t.Tensor(np.asarray(fn(x.array, axis=d if x.ndim else None, keepdims=keepdim),
                                dtype=np.int64))


@numpy_names
def argmax(input: Tensor, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
    """The index of the first maximum (of the flattened input when dim is None), int64."""
    return _argmaxmin(np.argmax, input, dim, keepdim, "argmax")


@numpy_names
def argmin(input: Tensor, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
    """The index of the first minimum (of the flattened input when dim is None), int64."""
    return _argmaxmin(np.argmin, input, dim, keepdim, "argmin")


@numpy_names
def norm(input: Tensor, p: Any = "fro", dim: Any = None, keepdim: builtins.bool = False,
         dtype: Any = None) -> Tensor:
    """The vector p-norm over `dim` (all elements when None): (sum |x|^p)^(1/p); p = inf is
    max |x|, -inf min |x|, 0 the count of nonzeros, 'fro' the 2-norm.  The gradient is 0 where
    the norm is 0 (as PyTorch); for p = +-inf ties share it evenly."""
    x = check_tensor(input, "norm")
    if dtype is not None:
        x = x.to(dtypes.as_dtype(dtype))
    if x.dtype.kind not in "fc":
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {dtypes.torch_type_name(x.dtype)}")
    if p == "fro":
        p = 2
    elif isinstance(p, str):
        raise NotImplementedError(f"norm: p={p!r} (a matrix norm) is not supported; use 'fro' "
                                  f"or a number")
    axis = norm_dims(dim, x.ndim)
    if axis == ():
        axis = None
    reduced = x.shape if axis is None else [x.shape[d] for d in axis]
    if builtins.float(p) in (np.inf, -np.inf) and 0 in reduced:
        raise RuntimeError(f"linalg.vector_norm cannot compute the {p} norm on an empty tensor "
                           f"because the operation does not have an identity")
    return R.Norm.apply(x, p=builtins.float(p), axis=axis, keepdim=keepdim)


_AminmaxResult = namedtuple("aminmax", ["min", "max"])  # type: ignore[name-match]


def aminmax(input: Tensor, *, dim: builtins.int | None = None,
            keepdim: builtins.bool = False) -> Any:
    """(amin, amax) over `dim` (all elements when None) in one call.

    Returns:
        aminmax(min, max).
    """
    x = check_tensor(input, "aminmax")
    if x.numel() == 0 and (dim is None or x.ndim == 0 or x.shape[norm_dim(dim, x.ndim)] == 0):
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                           "operation has no identity.")
    if dim is None:
        lo, hi = amin(x.reshape(-1), 0), amax(x.reshape(-1), 0)
        if keepdim:
            lo, hi = lo.reshape((1,) * x.ndim), hi.reshape((1,) * x.ndim)
        return _AminmaxResult(lo, hi)
    return _AminmaxResult(amin(x, dim, keepdim), amax(x, dim, keepdim))
