"""Tensor constructors: `tensor`, `zeros`, `ones`, `randn`, ... with PyTorch's signatures."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from numcnn import dtypes
from numcnn.devices import check_device
from numcnn.random import generator as _rng
from numcnn.tensor import Tensor, _as_array, _shape_args


def _float_dtype(dtype: Any) -> np.dtype:
    return dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)


def _make(arr: np.ndarray, requires_grad: builtins.bool) -> Tensor:
    return Tensor(arr, requires_grad=requires_grad)


def tensor(data: Any, dtype: Any = None, requires_grad: builtins.bool = False,
           device: Any = None) -> Tensor:
    """A new tensor holding a copy of `data` (floats -> float32 by default, ints -> int64)."""
    check_device(device)
    return _make(_as_array(data, dtype).copy(), requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Like `tensor`, but shares memory with an ndarray of the right dtype."""
    check_device(device)
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or np.dtype(dtype) == data.dtype):
        return Tensor(data)
    return Tensor(_as_array(data, dtype))


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with `array`."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    return Tensor(array)


def zeros(*size: Any, dtype: Any = None, requires_grad: builtins.bool = False,
          device: Any = None) -> Tensor:
    check_device(device)
    return _make(np.zeros(_shape_args(size), dtype=_float_dtype(dtype)), requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: builtins.bool = False,
         device: Any = None) -> Tensor:
    check_device(device)
    return _make(np.ones(_shape_args(size), dtype=_float_dtype(dtype)), requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: builtins.bool = False,
          device: Any = None) -> Tensor:
    check_device(device)
    return _make(np.empty(_shape_args(size), dtype=_float_dtype(dtype)), requires_grad)


def full(size: Any, fill_value: Any, dtype: Any = None,
         requires_grad: builtins.bool = False, device: Any = None) -> Tensor:
    check_device(device)
    if dtype is None:
        dtype = _as_array(fill_value).dtype
    return _make(np.full(_shape_args((size,)), fill_value, dtype=dtypes.as_dtype(dtype)),
                 requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None,
        requires_grad: builtins.bool = False, device: Any = None) -> Tensor:
    check_device(device)
    return _make(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad)


def arange(start: Any, end: Any = None, step: Any = 1, dtype: Any = None,
           requires_grad: builtins.bool = False, device: Any = None) -> Tensor:
    """Values from `start` up to (not including) `end`; int64 unless a bound is a float."""
    check_device(device)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        is_float = any(isinstance(v, builtins.float) for v in (start, end, step))
        dtype = dtypes.get_default_dtype() if is_float else dtypes.int64
    return _make(np.arange(start, end, step).astype(dtypes.as_dtype(dtype)), requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None,
             requires_grad: builtins.bool = False, device: Any = None) -> Tensor:
    check_device(device)
    return _make(np.linspace(start, end, steps, dtype=_float_dtype(dtype)), requires_grad)


def randn(*size: Any, generator: Any = None, dtype: Any = None,
          requires_grad: builtins.bool = False, device: Any = None) -> Tensor:
    """Standard normal samples from the global generator (or `generator`)."""
    check_device(device)
    d = _float_dtype(dtype)
    return _make(_rng(generator, "randn").standard_normal(_shape_args(size)).astype(d),
                 requires_grad)


def rand(*size: Any, generator: Any = None, dtype: Any = None,
         requires_grad: builtins.bool = False, device: Any = None) -> Tensor:
    """Uniform samples on [0, 1) from the global generator (or `generator`)."""
    check_device(device)
    d = _float_dtype(dtype)
    return _make(_rng(generator, "rand").random(_shape_args(size)).astype(d), requires_grad)


def randint(low: int, high: int | None = None, size: Any = (), *, generator: Any = None,
            dtype: Any = None, device: Any = None) -> Tensor:
    """Integers uniform on [low, high) (int64), from the global generator (or `generator`)."""
    check_device(device)
    if high is None:
        low, high = 0, low
    d = dtypes.int64 if dtype is None else dtypes.as_dtype(dtype)
    return Tensor(_rng(generator, "randint").integers(low, high, _shape_args((size,)))
                  .astype(d))


def randperm(n: int, *, generator: Any = None, dtype: Any = None, device: Any = None
             ) -> Tensor:
    """A random permutation of 0..n-1 (int64), from the global generator (or `generator`)."""
    check_device(device)
    d = dtypes.int64 if dtype is None else dtypes.as_dtype(dtype)
    return Tensor(_rng(generator, "randperm").permutation(n).astype(d))


def _like(t: Tensor, dtype: Any) -> tuple[tuple[int, ...], np.dtype]:
    return t.shape, (t.dtype if dtype is None else dtypes.as_dtype(dtype))


def zeros_like(input: Tensor, dtype: Any = None, requires_grad: builtins.bool = False,
               device: Any = None) -> Tensor:
    check_device(device)
    shape, d = _like(input, dtype)
    return _make(np.zeros(shape, dtype=d), requires_grad)


def ones_like(input: Tensor, dtype: Any = None, requires_grad: builtins.bool = False,
              device: Any = None) -> Tensor:
    check_device(device)
    shape, d = _like(input, dtype)
    return _make(np.ones(shape, dtype=d), requires_grad)


def empty_like(input: Tensor, dtype: Any = None, requires_grad: builtins.bool = False,
               device: Any = None) -> Tensor:
    check_device(device)
    shape, d = _like(input, dtype)
    return _make(np.empty(shape, dtype=d), requires_grad)


def full_like(input: Tensor, fill_value: Any, dtype: Any = None,
              requires_grad: builtins.bool = False, device: Any = None) -> Tensor:
    check_device(device)
    shape, d = _like(input, dtype)
    return _make(np.full(shape, fill_value, dtype=d), requires_grad)


def randn_like(input: Tensor, dtype: Any = None, requires_grad: builtins.bool = False,
               device: Any = None) -> Tensor:
    check_device(device)
    shape, d = _like(input, dtype)
    return _make(_rng().standard_normal(shape).astype(d), requires_grad)


def rand_like(input: Tensor, dtype: Any = None, requires_grad: builtins.bool = False,
              device: Any = None) -> Tensor:
    check_device(device)
    shape, d = _like(input, dtype)
    return _make(_rng().random(shape).astype(d), requires_grad)
