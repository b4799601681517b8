"""Grad mode: whether ops record the graph.  `no_grad()` turns recording off, `enable_grad()` on."""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])

_grad_enabled = True


def is_grad_enabled() -> bool:
    """True when ops record the graph for backward (the default)."""
    return _grad_enabled


def _set_mode(mode: bool) -> None:
    global _grad_enabled
    _grad_enabled = bool(mode)


class _GradMode:
    """Context manager and decorator that sets grad mode and restores it on exit.

    As in PyTorch it decorates with or without parentheses (`@no_grad()` and `@no_grad`),
    and a decorated generator runs each of its steps in the mode.
    """

    _mode = True

    def __new__(cls, orig_func: Any = None, *args: Any, **kwargs: Any) -> Any:
        if callable(orig_func) and cls in (no_grad, enable_grad, inference_mode):
            return cls()(orig_func)                # used as a bare decorator
        return super().__new__(cls)

    def __init__(self, orig_func: Any = None) -> None:
        self._prev: list[bool] = []   # a stack, so one instance can be entered re-entrantly

    def __enter__(self) -> None:
        self._prev.append(is_grad_enabled())
        _set_mode(self._mode)

    def __exit__(self, *exc: object) -> None:
        _set_mode(self._prev.pop())

    def __call__(self, fn: _F) -> _F:
        mode = self._mode

        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def generator(*args: Any, **kwargs: Any) -> Any:
                gen = fn(*args, **kwargs)
                sent: Any = None
                while True:
                    prev = is_grad_enabled()
                    _set_mode(mode)
                    try:
                        item = gen.send(sent)
                    except StopIteration as stop:
                        return stop.value
                    finally:
                        _set_mode(prev)
                    sent = yield item

            return generator  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = is_grad_enabled()
            _set_mode(mode)
            try:
                return fn(*args, **kwargs)
            finally:
                _set_mode(prev)

        return wrapper  # type: ignore[return-value]

    def clone(self) -> _GradMode:
        return self.__class__()


class no_grad(_GradMode):
    """Inside `with numcnn.no_grad():` (or a function decorated with it) nothing is recorded."""

    _mode = False


class enable_grad(_GradMode):
    """Turns recording back on inside a `no_grad` region."""

    _mode = True


class inference_mode(_GradMode):
    """`with numcnn.inference_mode():` - PyTorch's faster no_grad for inference.  numcnn has
    no separate inference tensors: this is `no_grad` (mode=True) or nothing (mode=False)."""

    _mode = False

    def __init__(self, mode: Any = True) -> None:
        super().__init__()
        self._active = bool(mode)

    def __enter__(self) -> None:
        self._prev.append(is_grad_enabled())
        if self._active:
            _set_mode(False)

    def __call__(self, fn: _F) -> _F:
        return super().__call__(fn) if self._active else fn


def is_inference_mode_enabled() -> bool:
    """True inside `inference_mode()` - here: whenever recording is off."""
    return not _grad_enabled


class set_grad_enabled(_GradMode):
    """Set grad mode to `mode`: at once when called, and back to the previous mode on leaving
    a `with` block (as `torch.set_grad_enabled`, usable as a function, a context manager and a
    decorator)."""

    def __new__(cls, mode: bool) -> Any:
        return object.__new__(cls)

    def __init__(self, mode: bool) -> None:
        super().__init__()
        self._mode = bool(mode)
        self._prev_at_call = is_grad_enabled()
        _set_mode(mode)

    def __enter__(self) -> None:
        # the mode was already set in __init__; leaving restores the mode from before the call
        self._prev.append(self._prev_at_call)

    def __call__(self, fn: _F) -> _F:
        _set_mode(self._prev_at_call)          # used as a decorator: do not change the mode now
        return super().__call__(fn)
