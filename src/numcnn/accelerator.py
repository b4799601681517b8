"""`numcnn.accelerator`: PyTorch's device-agnostic accelerator API, for a CPU-only library.

As on PyTorch's CPU build: `is_available()` is False, `current_accelerator()` None (with or
without `check_available`), `device_count()` 0, and what needs an accelerator
(`synchronize`, `empty_cache`, `current_device_index`, `set_device_index`,
`memory_allocated`) raises RuntimeError.
"""

from __future__ import annotations

from typing import Any, NoReturn

from numcnn.devices import device

_NONE = "Cannot access accelerator device when none is available."


def _none() -> NoReturn:
    raise RuntimeError(_NONE)


def is_available() -> bool:
    """False: numcnn has no accelerator."""
    return False


def current_accelerator(check_available: bool = False) -> device | None:
    """None: there is no accelerator (whether or not `check_available` is set)."""
    return None


def device_count() -> int:
    """0: no accelerator devices."""
    return 0


def current_device_index() -> NoReturn:
    """Raises RuntimeError: there is no accelerator."""
    _none()


current_device_idx = current_device_index


def set_device_index(device: Any, /) -> NoReturn:
    """Raises RuntimeError: there is no accelerator."""
    _none()


set_device_idx = set_device_index


def synchronize(device: Any = None, /) -> NoReturn:
    """Raises RuntimeError: there is no accelerator."""
    _none()


def empty_cache() -> NoReturn:
    """Raises RuntimeError: there is no accelerator."""
    _none()


def memory_allocated(device_index: Any = None, /) -> NoReturn:
    """Raises RuntimeError: there is no accelerator."""
    _none()
