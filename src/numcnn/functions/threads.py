"""`set_num_threads` / `get_num_threads`, as torch's.

numcnn's parallelism is NumPy's BLAS, whose thread pool is sized when NumPy loads (from
OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS) and cannot be resized afterwards
without a library such as threadpoolctl, which numcnn does not depend on.  So the number set
here is stored and returned by `get_num_threads`, and exported to those environment variables
for processes started later (DataLoader workers, for example); it does not resize the pool of
the running process (docs/compat.md, "Deliberate differences").
"""

from __future__ import annotations

import os

_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _initial() -> int:
    for name in _ENV:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return os.cpu_count() or 1


_state = {"threads": _initial()}


def set_num_threads(int: int) -> None:  # noqa: A002  (torch's parameter name)
    """Set the number of threads for intra-op work (stored; see the module docstring).

    Raises:
        TypeError: for a non-int.
        RuntimeError: for a number below 1 (as torch).
    """
    import builtins
    if not isinstance(int, builtins.int) or isinstance(int, bool):
        raise TypeError(f"set_num_threads(): argument 'int' (position 1) must be int, not "
                        f"{type(int).__name__}")
    if int <= 0:
        raise RuntimeError("Number of threads must be positive")
    _state["threads"] = int
    for name in _ENV:
        os.environ[name] = str(int)


def get_num_threads() -> int:
    """The number of threads set by `set_num_threads` (at start: from OMP_NUM_THREADS and
    the like, else the number of CPUs)."""
    return _state["threads"]
