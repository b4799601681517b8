"""numcnn.utils: PyTorch's `torch.utils` names that CNN code imports.

`numcnn.utils.data` is `numcnn.data` (so `from numcnn.utils.data import DataLoader` works as
`from torch.utils.data import DataLoader` does). Importing `numcnn.utils` loads nothing; the
submodule is loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["data"]


def __getattr__(name: str) -> Any:
    if name == "data":
        return importlib.import_module("numcnn.utils.data")
    raise AttributeError(f"module 'numcnn.utils' has no attribute {name!r}")
