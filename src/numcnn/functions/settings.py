"""Process-wide switches of torch's top level that training scripts set: deterministic
algorithms, float32 matmul precision, inter-op threads, warn-always, the default device,
flush-denormal.

numcnn's kernels are deterministic whatever the switch says (NumPy on the CPU: equal inputs give
equal outputs), and its float32 products are computed in float32 (what torch calls "highest").
So these calls validate their arguments as torch does and store the setting, which the getters
return; they change no computation (docs/compat.md, "Deliberate differences").
"""

from __future__ import annotations

import builtins
import warnings
from typing import Any

# torch has it at top level too; numcnn's lives in autograd (grad modes)
from numcnn.autograd import is_inference_mode_enabled as is_inference_mode_enabled
from numcnn.devices import check_device, device

_state: dict[str, Any] = {"deterministic": False, "warn_only": False, "debug_mode": 0,
                          "matmul_precision": "highest", "interop_threads": 1,
                          "warn_always": False, "interop_set": False}
_DEBUG_MODES = {"default": 0, "warn": 1, "error": 2}


def use_deterministic_algorithms(mode: builtins.bool, *, warn_only: builtins.bool = False
                                 ) -> None:
    """Ask for deterministic algorithms (numcnn's always are; the flag is stored)."""
    if not isinstance(mode, builtins.bool):
        raise TypeError(f"use_deterministic_algorithms(): argument 'mode' (position 1) must be "
                        f"bool, not {type(mode).__name__}")
    _state["deterministic"], _state["warn_only"] = mode, builtins.bool(warn_only)
    _state["debug_mode"] = (1 if warn_only else 2) if mode else 0


def are_deterministic_algorithms_enabled() -> builtins.bool:
    """The flag set by `use_deterministic_algorithms`."""
    return builtins.bool(_state["deterministic"])


def is_deterministic_algorithms_warn_only_enabled() -> builtins.bool:
    """The `warn_only` flag set by `use_deterministic_algorithms`."""
    return builtins.bool(_state["warn_only"])


def set_deterministic_debug_mode(debug_mode: builtins.str | builtins.int) -> None:
    """0/"default", 1/"warn", 2/"error": the same as use_deterministic_algorithms(False),
    (True, warn_only=True) and (True)."""
    if isinstance(debug_mode, builtins.str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError(f"invalid value of debug_mode, expected one of `default`, `warn`, "
                               f"`error`, but got {debug_mode}")
        debug_mode = _DEBUG_MODES[debug_mode]
    if not isinstance(debug_mode, builtins.int) or isinstance(debug_mode, builtins.bool):
        raise TypeError(f"debug_mode must be str or int, but got {type(debug_mode)}")
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got "
                           f"{debug_mode}")
    use_deterministic_algorithms(debug_mode > 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode() -> builtins.int:
    """0, 1 or 2 (see `set_deterministic_debug_mode`)."""
    return builtins.int(_state["debug_mode"])


def set_float32_matmul_precision(precision: builtins.str) -> None:
    """"highest", "high" or "medium" (stored; numcnn multiplies float32 in float32).  Any
    other value warns and changes nothing, as torch."""
    if precision not in ("highest", "high", "medium"):
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      f"set_float32_matmul_precision call has no effect.", stacklevel=2)
        return
    _state["matmul_precision"] = precision


def get_float32_matmul_precision() -> builtins.str:
    """The precision set by `set_float32_matmul_precision` ("highest" at start)."""
    return builtins.str(_state["matmul_precision"])


def set_num_interop_threads(int: builtins.int) -> None:  # noqa: A002  (torch's name)
    """The inter-op thread count (stored: numcnn runs ops one after another).  As torch, it may
    be set once, and must be positive."""
    if not isinstance(int, builtins.int) or isinstance(int, builtins.bool):
        raise TypeError(f"set_num_interop_threads(): argument 'int' (position 1) must be int, "
                        f"not {type(int).__name__}")
    if int <= 0:
        raise RuntimeError("Number of threads must be positive")
    if _state["interop_set"]:
        raise RuntimeError("Error: cannot set number of interop threads after parallel work "
                           "has started or set_num_interop_threads called")
    _state["interop_threads"], _state["interop_set"] = int, True


def get_num_interop_threads() -> builtins.int:
    """The inter-op thread count (1: numcnn runs ops one after another)."""
    return builtins.int(_state["interop_threads"])


def init_num_threads() -> None:
    """Nothing to do: numcnn's thread settings take effect without initialisation."""


def set_warn_always(b: builtins.bool) -> None:
    """Ask for warnings that normally show once to show every time (stored)."""
    _state["warn_always"] = builtins.bool(b)


def is_warn_always_enabled() -> builtins.bool:
    """The flag set by `set_warn_always`."""
    return builtins.bool(_state["warn_always"])


def get_default_device() -> device:
    """The device new tensors go to: always the CPU."""
    return device("cpu")


def set_default_device(device: Any) -> None:
    """Accepts the CPU (or None) only; any other device raises, as numcnn runs on the CPU."""
    check_device(device)


def set_flush_denormal(mode: builtins.bool) -> builtins.bool:
    """Whether flushing denormals to zero could be set: False, as NumPy has no such switch
    (torch also returns False where the CPU does not support it)."""
    return False
