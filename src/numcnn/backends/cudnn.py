"""`numcnn.backends.cudnn`: cuDNN's flags as plain, settable module attributes.

numcnn has no cuDNN: `is_available()` is False and `version()` None.  `enabled`,
`benchmark`, `deterministic`, `allow_tf32` and `benchmark_limit` start at the values of
PyTorch's CPU build and can be set (scripts do, for speed or reproducibility); numcnn ignores
them: its CPU kernels give the same numbers whatever the flags say.
"""

from __future__ import annotations

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True
benchmark_limit: int | None = None


def is_available() -> bool:
    """False: numcnn has no cuDNN."""
    return False


def version() -> None:
    """None: numcnn has no cuDNN."""
    return None
