"""`Parameter`: a leaf tensor that a `Module` registers as trainable."""

from __future__ import annotations

from typing import Any

import numpy as np

from numcnn.tensor import Tensor


class Parameter(Tensor):
    """A tensor that is a module's learnable parameter (`requires_grad=True` by default)."""

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = np.empty(0, dtype=np.float32)
        arr = data.array if isinstance(data, Tensor) else np.asarray(data)
        super().__init__(arr, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol: Any) -> Any:  # never pickled by numcnn itself
        raise TypeError("numcnn tensors are saved with numcnn.save (safetensors), not pickle")
