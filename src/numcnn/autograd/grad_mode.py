"""Grad mode: whether ops record the graph.  `no_grad()` turns recording off, `enable_grad()` on."""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])

_grad_enabled = True


def is_grad_enabled() -> bool:
    """True when ops record the graph for backward (the default)."""
    return _grad_enabled


def set_grad_enabled(mode: bool) -> None:
    global _grad_enabled
    _grad_enabled = bool(mode)


class _GradMode:
    """Context manager and decorator that sets grad mode and restores it on exit."""

    _mode = True

    def __enter__(self) -> None:
        self._prev = is_grad_enabled()
        set_grad_enabled(self._mode)

    def __exit__(self, *exc: object) -> None:
        set_grad_enabled(self._prev)

    def __call__(self, fn: _F) -> _F:
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = is_grad_enabled()
            set_grad_enabled(mode)
            try:
                return fn(*args, **kwargs)
            finally:
                set_grad_enabled(prev)

        return wrapper  # type: ignore[return-value]


class no_grad(_GradMode):
    """Inside `with numcnn.no_grad():` (or a function decorated with it) nothing is recorded."""

    _mode = False


class enable_grad(_GradMode):
    """Turns recording back on inside a `no_grad` region."""

    _mode = True
