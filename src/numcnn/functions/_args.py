"""What every public function shares: PyTorch's type promotion, argument checks, and NumPy's
argument names (`axis`, `keepdims`) that PyTorch accepts for `dim`, `keepdim`.

Type promotion (PyTorch's "Type promotion" rules).  Operands fall into three priority groups:
tensors with at least one dimension, 0-d tensors, and Python numbers.  Each group's dtype is
the promotion of its members (a Python float counts as the default dtype, an int as int64);
a lower-priority group changes the result only when it is of a higher *category*
(bool < integer < floating):  float32 tensor * 0-d float64 tensor -> float32,
int64 tensor + 2.5 -> float32 (the default dtype), int32 tensor + 0-d float64 tensor -> float64.
A NumPy array counts as a tensor (its dtype and dimensions matter); a NumPy scalar counts as a
Python number.
"""

from __future__ import annotations

import builtins
import functools
import importlib
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import numpy as np

from numcnn import dtypes

# the module, not the `numcnn.tensor` factory function that `numcnn` exports under that name
_t = importlib.import_module("numcnn.tensor")

if TYPE_CHECKING:
    from numcnn.tensor import Tensor

_Fn = TypeVar("_Fn", bound=Callable[..., Any])
_UNDEFINED = None


def _category(d: np.dtype | None) -> int:
    if d is None:
        return -1
    return {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}[d.kind]


def promote_types(type1: Any, type2: Any) -> np.dtype:
    """The smallest dtype to which both may be cast (PyTorch's table, not NumPy's: a floating
    type meeting an integer keeps its size, float16 + int32 -> float16)."""
    a, b = dtypes.as_dtype(type1), dtypes.as_dtype(type2)
    ca, cb = _category(a), _category(b)
    if ca != cb:
        hi, lo = (a, b) if ca > cb else (b, a)
        if hi.kind == "c" or hi.kind == "f" or lo.kind == "b":
            return hi
        return hi                                  # integer over bool
    return np.promote_types(a, b)


def _combine(higher: np.dtype | None, lower: np.dtype | None) -> np.dtype | None:
    """Let a lower-priority group's dtype in only if it is of a higher category."""
    if higher is None:
        return lower
    if lower is None or _category(higher) >= _category(lower):
        return higher
    return promote_types(higher, lower)


def _wrapped_dtype(x: Any) -> np.dtype:
    """A Python number's dtype for promotion (a NumPy bool scalar counts as a float, as torch
    reads it)."""
    if isinstance(x, builtins.bool):
        return dtypes.bool
    if isinstance(x, (builtins.int, np.integer)):
        return dtypes.int64
    if isinstance(x, (builtins.complex, np.complexfloating)):
        return np.dtype(np.complex128 if dtypes.get_default_dtype() == dtypes.float64
                        else np.complex64)
    return dtypes.get_default_dtype()


def result_dtype(*operands: Any) -> np.dtype:
    """The dtype PyTorch gives an elementwise op on `operands` (tensors, arrays, numbers;
    None entries are skipped)."""
    groups: list[np.dtype | None] = [None, None, None]     # dimensioned, 0-d, numbers
    for x in operands:
        if x is None:
            continue
        if isinstance(x, (_t.Tensor, np.ndarray)):
            g, d = (0 if x.ndim else 1), x.dtype
        elif isinstance(x, (builtins.bool, builtins.int, builtins.float, builtins.complex,
                            np.generic)):
            g, d = 2, _wrapped_dtype(x)
        else:
            raise TypeError(f"expected a Tensor or a number, got {type(x).__name__}")
        groups[g] = d if groups[g] is None else promote_types(groups[g], d)
    out = _combine(groups[0], _combine(groups[1], groups[2]))
    if out is None:
        raise TypeError("result_type needs at least one operand")
    return out


def result_type(tensor: Any, other: Any) -> np.dtype:
    """The dtype of an arithmetic op on `tensor` and `other` (PyTorch's `result_type`)."""
    return result_dtype(tensor, other)


def cast(x: Any, dtype: np.dtype) -> Any:
    """An operand as `dtype`: tensors through the differentiable cast (no copy when equal),
    arrays and numbers as ndarrays (integers wrap around, as PyTorch's do)."""
    if isinstance(x, _t.Tensor):
        return x if x.array.dtype == dtype else x.to(dtype)
    if isinstance(x, np.ndarray):
        return x.astype(dtype, copy=False)
    if isinstance(x, np.generic):
        x = x.item()
    if dtype.kind in "iu" and isinstance(x, builtins.int):
        return np.array(x).astype(dtype)
    return np.asarray(x, dtype=dtype)


def float_dtype(d: np.dtype) -> np.dtype:
    """Integer and bool inputs of float-valued ops (exp, sin, true division) give the default
    floating dtype."""
    return d if d.kind in "fc" else dtypes.get_default_dtype()


def check_tensor(x: Any, fn: str, name: str = "input", position: int = 1) -> Tensor:
    """PyTorch's TypeError when an argument that must be a Tensor is not."""
    if not isinstance(x, _t.Tensor):
        raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be Tensor, "
                        f"not {type(x).__name__}")
    return x


def as_operand(x: Any, fn: str, name: str = "other", position: int = 2) -> Any:
    """A tensor, a number or an ndarray operand (lists are refused, as PyTorch does)."""
    if isinstance(x, (_t.Tensor, np.ndarray, np.generic, builtins.bool, builtins.int,
                      builtins.float, builtins.complex)):
        return x
    raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be Tensor or "
                    f"Number, not {type(x).__name__}")


def numpy_names(fn: _Fn) -> _Fn:
    """Accept NumPy's `axis`/`keepdims` for `dim`/`keepdim`, as PyTorch's functions do."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for np_name, name in (("axis", "dim"), ("keepdims", "keepdim")):
            if np_name in kwargs:
                if name in kwargs:
                    raise TypeError(f"{fn.__name__}() got both '{np_name}' and '{name}'")
                kwargs[name] = kwargs.pop(np_name)
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def norm_dim(dim: Any, ndim: int) -> int:
    """`dim` as a non-negative axis of an `ndim`-dimensional tensor (a 0-d tensor accepts 0
    and -1), or PyTorch's IndexError."""
    lo, hi = (-ndim, ndim - 1) if ndim else (-1, 0)
    if not isinstance(dim, (builtins.int, np.integer)) or isinstance(dim, builtins.bool):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    if not lo <= dim <= hi:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})"
        )
    return builtins.int(dim) % builtins.max(ndim, 1)


def norm_dims(dim: Any, ndim: int) -> tuple[int, ...] | None:
    """An int, a tuple/list of ints or None as a tuple of distinct axes (None stays None)."""
    if dim is None:
        return None
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    out = tuple(norm_dim(d, ndim) for d in dims)
    if len(set(out)) != len(out):
        raise RuntimeError(f"dim {dim} appears multiple times in the list of dims")
    return out
