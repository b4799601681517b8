"""The floating-point dtype a model computes in, for casting the inputs it is shown."""

from __future__ import annotations

from typing import Any

import numpy as np

from numcnn.nn.module import Module

__all__ = ["param_dtype"]


def param_dtype(model: Module, default: Any = None) -> Any:
    """The dtype of `model`'s first floating-point parameter, or `default` (as given: None, or
    a dtype such as np.float32) when it has none: inputs are cast to it, so that a float64
    array can be shown to a float32 model."""
    dtype = next((p.array.dtype for p in model.parameters() if p.array.dtype.kind == "f"), None)
    return np.dtype(default) if dtype is None and default is not None else dtype
