"""Gradient clipping: rescale gradients by their total norm, or clamp them elementwise.

    total_norm = ‖(‖g_1‖_p, ‖g_2‖_p, ...)‖_p        (= the p-norm of all gradients concatenated)
    g_i ← g_i · min(max_norm / (total_norm + 1e-6), 1)

The p-norm of a vector x: (Σ |x_j|^p)^(1/p); p = inf: max |x_j|; p = -inf: min |x_j|;
p = 0: the number of non-zero entries.
"""

from __future__ import annotations

import math
import types
import warnings
from typing import Iterable, Union

import numpy as np

from numcnn import dtypes
from numcnn.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]

_tensor_or_tensors = Union[Tensor, Iterable[Tensor]]


def _vector_norm(x: np.ndarray, p: float) -> np.ndarray:
    """The p-norm of all entries of x, as a 0-d array of x's dtype."""
    a = np.abs(x)
    if p == math.inf:
        r = a.max() if a.size else np.zeros((), x.dtype)
    elif p == -math.inf:
        r = a.min() if a.size else np.full((), math.inf, x.dtype)
    elif p == 0:
        r = np.count_nonzero(x)
    elif p == 1:
        r = a.sum()
    elif p == 2:
        r = np.sqrt(np.sum(a * a))
    else:
        r = np.sum(a ** p) ** (1.0 / p)
    return np.asarray(r, dtype=x.dtype)


def _as_list(tensors: _tensor_or_tensors) -> list[Tensor]:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def get_total_norm(tensors: _tensor_or_tensors, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """The p-norm of the norms of `tensors`, i.e. of all their entries viewed as one vector.

    Args:
        tensors: a tensor or an iterable of tensors.
        norm_type: p; may be `inf` (or the string "inf").
        error_if_nonfinite: raise if the norm is nan or ±inf.
        foreach: accepted for PyTorch compatibility and ignored.

    Returns:
        A 0-d tensor of the tensors' (promoted) dtype; 0 for no tensors.
    """
    arrays = [t.array for t in _as_list(tensors)]
    p = float(norm_type)
    if not arrays:
        return Tensor(np.zeros((), dtype=dtypes.get_default_dtype()))
    dtype = np.result_type(*arrays)
    norms = np.stack([_vector_norm(a, p) for a in arrays]).astype(dtype, copy=False)
    total = _vector_norm(norms, p)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {p} for gradients from `parameters` is non-finite, so it "
            "cannot be clipped. To disable this error and scale the gradients by the non-finite "
            "norm anyway, set `error_if_nonfinite=False`"
        )
    return Tensor(total)


def clip_grads_with_norm_(parameters: _tensor_or_tensors, max_norm: float,
                          total_norm: Tensor, foreach: bool | None = None) -> None:
    """Scale every gradient in place by min(max_norm / (total_norm + 1e-6), 1).

    Args:
        parameters: a tensor or an iterable of tensors whose `.grad` is scaled.
        max_norm: the largest allowed total norm.
        total_norm: the total norm of the gradients (e.g. from `get_total_norm`).
        foreach: accepted for PyTorch compatibility and ignored.
    """
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    t = total_norm.array if isinstance(total_norm, Tensor) else np.asarray(total_norm)
    coef = np.minimum(float(max_norm) / (t + 1e-6), 1.0)   # in total_norm's dtype
    with np.errstate(invalid="ignore"):    # a nan/inf norm scales to nan, silently as in torch
        for g in grads:
            g.array *= coef.astype(g.dtype)


def clip_grad_norm_(parameters: _tensor_or_tensors, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Clip the gradients of `parameters` in place so that their total norm is at most max_norm.

        total_norm = ‖(‖g_1‖_p, ..., ‖g_n‖_p)‖_p
        g_i ← g_i · min(max_norm / (total_norm + 1e-6), 1)

    Args:
        parameters: a tensor or an iterable of tensors (those without `.grad` are skipped).
        max_norm: the largest allowed total norm.
        norm_type: p of the p-norm (default 2); `inf` gives the largest absolute entry.
        error_if_nonfinite: raise RuntimeError if the total norm is nan or ±inf (otherwise the
            gradients are scaled by it anyway, as in PyTorch).
        foreach: accepted for PyTorch compatibility and ignored.

    Returns:
        The total norm of the gradients before clipping, as a 0-d Tensor.
    """
    if isinstance(parameters, Tensor):
        params = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        params = list(parameters)
        if is_generator and not params:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.",
                          stacklevel=2)
    grads = [p.grad for p in params if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(params, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_value_(parameters: _tensor_or_tensors, clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every gradient entry in place to [-clip_value, clip_value].

    Args:
        parameters: a tensor or an iterable of tensors (those without `.grad` are skipped).
        clip_value: the largest allowed absolute value of a gradient entry.
        foreach: accepted for PyTorch compatibility and ignored.
    """
    c = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            np.clip(p.grad.array, -c, c, out=p.grad.array)
