"""`numcnn.cuda`: PyTorch's CUDA queries, answered for a library that runs on the CPU only.

`is_available()` is False and `device_count()` 0, so scripts that choose their device with
`"cuda" if torch.cuda.is_available() else "cpu"` take the CPU path.  The seeding functions
(`manual_seed`, `manual_seed_all`, `seed`, `seed_all`) are no-ops: there is no CUDA generator,
and numcnn's one generator is seeded by `numcnn.manual_seed`.  `empty_cache`,
`reset_peak_memory_stats` do nothing and the memory counters are 0, as on PyTorch's CPU build.
What needs a GPU (`synchronize`, `current_device`, `set_device`, `get_device_name`,
`get_device_capability`) raises RuntimeError saying so.
"""

from __future__ import annotations

from typing import Any, NoReturn

from numcnn.devices import NO_DEVICE

_NO_CUDA = NO_DEVICE.format("cuda")


def _no_cuda() -> NoReturn:
    raise RuntimeError(_NO_CUDA)


def is_available() -> bool:
    """False: numcnn has no CUDA backend."""
    return False


def is_initialized() -> bool:
    """False: CUDA is never initialised."""
    return False


def device_count() -> int:
    """0: no CUDA devices."""
    return 0


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """False: no CUDA device."""
    return False


def manual_seed(seed: int) -> None:
    """A no-op (there is no CUDA generator); seed numcnn with `numcnn.manual_seed`."""
    int(seed)                                   # as PyTorch, the seed must be a number


def manual_seed_all(seed: int) -> None:
    """A no-op (there is no CUDA generator); seed numcnn with `numcnn.manual_seed`."""
    int(seed)


def seed() -> None:
    """A no-op (there is no CUDA generator)."""


def seed_all() -> None:
    """A no-op (there is no CUDA generator)."""


def empty_cache() -> None:
    """A no-op: there is no CUDA memory cache to free."""


def memory_allocated(device: Any = None) -> int:
    """0: no tensor lives in CUDA memory."""
    return 0


def max_memory_allocated(device: Any = None) -> int:
    """0: no tensor ever lived in CUDA memory."""
    return 0


def memory_reserved(device: Any = None) -> int:
    """0: no CUDA memory is reserved."""
    return 0


def max_memory_reserved(device: Any = None) -> int:
    """0: no CUDA memory was ever reserved."""
    return 0


def reset_peak_memory_stats(device: Any = None) -> None:
    """A no-op: there are no CUDA memory statistics."""


def synchronize(device: Any = None) -> NoReturn:
    """Raises RuntimeError: there is no CUDA device to wait for."""
    _no_cuda()


def current_device() -> NoReturn:
    """Raises RuntimeError: there is no CUDA device."""
    _no_cuda()


def set_device(device: Any) -> NoReturn:
    """Raises RuntimeError: there is no CUDA device."""
    _no_cuda()


def get_device_name(device: Any = None) -> NoReturn:
    """Raises RuntimeError: there is no CUDA device."""
    _no_cuda()


def get_device_capability(device: Any = None) -> NoReturn:
    """Raises RuntimeError: there is no CUDA device."""
    _no_cuda()
