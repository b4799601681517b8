"""dtype names as in PyTorch (`numcnn.float32` ...), which are NumPy dtypes underneath."""

from __future__ import annotations

from typing import Any

import numpy as np

float16 = half = np.dtype(np.float16)
float32 = float = np.dtype(np.float32)  # noqa: A001  (PyTorch's names)
float64 = double = np.dtype(np.float64)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
int16 = short = np.dtype(np.int16)
int32 = int = np.dtype(np.int32)  # noqa: A001
int64 = long = np.dtype(np.int64)
bool = np.dtype(np.bool_)  # noqa: A001

_default_dtype = [float32]


def get_default_dtype() -> np.dtype:
    """The dtype of floating tensors made from Python numbers (float32 unless changed)."""
    return _default_dtype[0]


def set_default_dtype(d: Any) -> None:
    """Set the default floating dtype (float32 or float64)."""
    d = np.dtype(d)
    if d not in (float32, float64):
        raise TypeError(f"only float32 and float64 are supported as default dtype, got {d}")
    _default_dtype[0] = d


def as_dtype(d: Any) -> np.dtype:
    """Normalise a dtype given as a numcnn/NumPy dtype, a NumPy type or a name."""
    try:
        return np.dtype(d)
    except TypeError:
        raise TypeError(f"invalid dtype {d!r}: expected e.g. numcnn.float32 or 'float64'") from None
