"""Argument checks shared by every family of `nn.functional`.

Each raises the error type PyTorch raises for the same mistake, with a message that names the
function, the argument, the value given and what is allowed.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from numcnn.tensor import Tensor


def is_int(value: Any) -> bool:
    """A Python or NumPy integer, and not a bool."""
    return isinstance(value, (numbers.Integral, np.integer)) and \
        not isinstance(value, (bool, np.bool_))


def check_tensor(value: Any, name: str, fn: str, optional: bool = False) -> None:
    """`value` is a Tensor (or None when `optional`)."""
    if optional and value is None:
        return
    if not isinstance(value, Tensor):
        raise TypeError(f"{fn}(): argument '{name}' must be Tensor, not {type(value).__name__}")


def check_floating(value: Tensor, name: str, fn: str) -> None:
    """`value` holds floating-point numbers."""
    if value.dtype.kind != "f":
        raise TypeError(f"{fn}(): argument '{name}' must be a floating point tensor (float32 or "
                        f"float64), got dtype {value.dtype}")


def check_int(value: Any, name: str, fn: str) -> int:
    if not is_int(value):
        raise TypeError(f"{fn}(): argument '{name}' must be int, not {type(value).__name__}")
    return int(value)


def check_bool(value: Any, name: str, fn: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fn}(): argument '{name}' must be bool, not {type(value).__name__} "
                        f"({value!r})")
    return bool(value)


def check_number(value: Any, name: str, fn: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.number)):
        raise TypeError(f"{fn}(): argument '{name}' must be float, not {type(value).__name__}")
    return float(value)


def ntuple(value: Any, n: int, name: str, fn: str) -> tuple[int, ...]:
    """An int, or a sequence of 1 or n ints -> a tuple of n ints (PyTorch's `_ntuple`).

    A sequence of the wrong length is a RuntimeError, anything else that is not ints a
    TypeError, as in PyTorch.
    """
    if is_int(value):
        return (int(value),) * n
    if isinstance(value, (tuple, list)):
        if not all(is_int(v) for v in value):
            raise TypeError(f"{fn}(): argument '{name}' must be an int or a tuple of {n} ints, "
                            f"but got {value!r}")
        if len(value) == 1:
            return (int(value[0]),) * n
        if len(value) != n:
            raise RuntimeError(f"{fn}(): expected {name} to be a single int or a tuple of {n} "
                               f"ints, but got {name}={list(value)}")
        return tuple(int(v) for v in value)
    raise TypeError(f"{fn}(): argument '{name}' must be an int or a tuple of {n} ints, "
                    f"not {type(value).__name__} ({value!r})")
