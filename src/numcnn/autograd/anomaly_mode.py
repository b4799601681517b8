"""Anomaly detection: find the forward op whose backward produced NaN, and where it was called.

    with numcnn.autograd.detect_anomaly():
        loss = model(x).sqrt().sum()
        loss.backward()      # RuntimeError: Function 'SqrtBackward' returned nan values in its
                             # 0th output.  (a warning first shows where sqrt was called)

While anomaly mode is on, two things happen (as in `torch.autograd`):

1. Every node that `Function.apply` records keeps the call stack of its forward call
   (`record_forward`): file, line and function of each frame, without the innermost frames of
   numcnn's op machinery (tensor methods, `nn.functional`, ops, autograd), so that it ends at
   the line that asked for the op. Source lines are looked up only when a trace is shown.
2. The engine runs each node's backward through `checked_backward`: when a returned gradient
   holds NaN (with `check_nan`; infinities are let through, as PyTorch does), it raises
   RuntimeError("Function 'XBackward' returned nan values in its i-th output."). For that error,
   and for any other that the backward raises, a warning "Error detected in XBackward" first
   shows the forward call's stack.

When anomaly mode is off nothing is recorded or checked: the hooks in `Function.apply` and in the
engine cost one function call each.
"""

from __future__ import annotations

import functools
import sys
import traceback
import warnings
import weakref
from types import FrameType
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import numpy as np

if TYPE_CHECKING:
    from numcnn.autograd.function import Node

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled", "record_forward", "checked_backward"]

_F = TypeVar("_F", bound=Callable[..., Any])
_Frame = tuple[str, int, str]            # (file name, line number, function name)

_enabled = False
_check_nan = True
# the forward stack of each node recorded while anomaly mode was on; an entry lives as long as
# its node does
_forward_stacks: weakref.WeakKeyDictionary[Node, list[_Frame]] = weakref.WeakKeyDictionary()
# modules whose frames are the op machinery between a user's line and the recorded node
_MACHINERY = ("numcnn.autograd", "numcnn.ops", "numcnn.tensor", "numcnn.functions",
              "numcnn.nn.functional")
_MAX_FRAMES = 100


def is_anomaly_enabled() -> bool:
    """True while anomaly detection is on (`detect_anomaly` / `set_detect_anomaly`)."""
    return _enabled


def is_anomaly_check_nan_enabled() -> bool:
    """True when anomaly detection (if on) checks backward outputs for NaN (the default)."""
    return _check_nan


def _set(mode: Any, check_nan: Any) -> None:
    global _enabled, _check_nan
    for name, value in (("mode", mode), ("check_nan", check_nan)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"set_detect_anomaly: {name} must be a bool, "
                            f"got {type(value).__name__}")
    _enabled, _check_nan = bool(mode), bool(check_nan)


class detect_anomaly:
    """Context manager (and decorator) that turns anomaly detection on for its block.

    Inside it, every recorded op keeps the stack of its forward call, and a backward that
    returns a gradient with NaN raises RuntimeError naming the op, after a warning that shows
    where the op was called in the forward pass. It slows every op down: use it to debug.

    Args:
        check_nan: also check every backward output for NaN (default True); False keeps only
            the forward stacks, shown when a backward raises.

    Example:
        >>> with detect_anomaly():
        ...     loss = f(x)
        ...     loss.backward()
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.prev = is_anomaly_enabled()
        self.prev_check_nan = is_anomaly_check_nan_enabled()
        self.check_nan = check_nan
        warnings.warn("anomaly detection is on: every op records its forward call stack and "
                      "every backward output is checked, which is slow; use it for debugging",
                      UserWarning, stacklevel=2)

    def __enter__(self) -> None:
        _set(True, self.check_nan)

    def __exit__(self, *exc: object) -> None:
        _set(self.prev, self.prev_check_nan)

    def __call__(self, fn: _F) -> _F:
        check_nan = self.check_nan

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = (is_anomaly_enabled(), is_anomaly_check_nan_enabled())
            _set(True, check_nan)
            try:
                return fn(*args, **kwargs)
            finally:
                _set(*prev)

        return wrapper  # type: ignore[return-value]


class set_detect_anomaly:
    """Turn anomaly detection on or off: at once when called, and back to the previous setting
    when the `with` block it is used as ends.

    Args:
        mode: True turns anomaly detection on, False off.
        check_nan: while on, check every backward output for NaN (default True).

    Raises:
        TypeError: when `mode` or `check_nan` is not a bool.
    """

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.prev = is_anomaly_enabled()
        self.prev_check_nan = is_anomaly_check_nan_enabled()
        _set(mode, check_nan)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        _set(self.prev, self.prev_check_nan)


# ----------------------------------------------------------------------------- engine hooks
def _is_machinery(frame: FrameType) -> bool:
    module = frame.f_globals.get("__name__", "")
    return any(module == m or module.startswith(m + ".") for m in _MACHINERY)


def _caller_frame() -> FrameType | None:
    """The innermost frame outside numcnn's op machinery (None if every frame is inside)."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and _is_machinery(frame):
        frame = frame.f_back
    return frame


def record_forward(node: Node) -> None:
    """Keep the stack of the forward call that recorded `node` (called by `Function.apply`
    while anomaly mode is on): (file, line, function) per frame, outermost first."""
    frame: FrameType | None = _caller_frame() or sys._getframe(1)
    frames: list[_Frame] = []
    while frame is not None and len(frames) < _MAX_FRAMES:
        frames.append((frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name))
        frame = frame.f_back
    frames.reverse()
    _forward_stacks[node] = frames


def forward_trace(node: Node) -> str | None:
    """The recorded forward stack of `node`, formatted as a traceback; None if none was kept."""
    frames = _forward_stacks.get(node)
    if frames is None:
        return None
    summary = traceback.StackSummary.from_list([(f, n, name, None) for f, n, name in frames])
    return "".join(summary.format())


def _warn_forward_trace(node: Node) -> None:
    trace = forward_trace(node)
    if trace is None:
        text = (f"Error detected in {node.name()}. No forward call stack was recorded for it: "
                "turn anomaly detection on during the forward pass as well to see where the op "
                "was called.")
    else:
        text = (f"Error detected in {node.name()}. Traceback of forward call that caused the "
                f"error:\n{trace}")
    # point the warning at the user's line that called backward(): count the frames up to it
    caller = _caller_frame()
    probe: FrameType | None = sys._getframe(0)
    depth = 1
    while caller is not None and probe is not None and probe is not caller:
        probe, depth = probe.f_back, depth + 1
    warnings.warn(text, UserWarning, stacklevel=depth if probe is not None else 2)


def checked_backward(node: Node, grad: np.ndarray) -> Any:
    """`node`'s backward on `grad`, checked (called by the engine while anomaly mode is on).

    Raises:
        RuntimeError: "Function 'XBackward' returned nan values in its i-th output." when the
            i-th gradient returned holds NaN and the NaN check is on. This error, and any other
            the backward raises, is preceded by a warning showing the forward call's stack.
    """
    try:
        grads = node.fn.backward_arrays(node.ctx, grad)
        if _check_nan:
            for i, g in enumerate(grads if isinstance(grads, tuple) else (grads,)):
                if g is not None and np.isnan(np.asarray(g)).any():
                    raise RuntimeError(
                        f"Function '{node.name()}' returned nan values in its {i}th output.")
    except Exception:
        _warn_forward_trace(node)
        raise
    return grads
