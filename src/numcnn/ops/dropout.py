"""Dropout kernels: inverted dropout, alpha dropout, and their feature (whole-channel) forms.

Axis legend: N batch, C channels, * the remaining (spatial) dims.

Inverted dropout (Srivastava et al. 2014) keeps each value with probability q = 1 - p and
scales the survivors by 1/q, so that E[y] = x and evaluation is the identity:

    m ~ Bernoulli(q),   y = x * m / q,   dx = gy * m / q

Feature dropout draws one m per (n, c) and broadcasts it over the spatial dims, zeroing whole
channels (dropout1d/2d/3d).  Alpha dropout (Klambauer et al. 2017, for SELU networks) sets
dropped values to the SELU saturation value -alpha' and then applies the affine map that keeps
mean 0 and variance 1 (PyTorch's constants):

    a = 1 / sqrt((alpha'^2 p + 1) q),   alpha' = 1.7580993408473766
    y = x * (a m) + alpha' a (m - 1 + p)    (kept: a x + alpha' a p;  dropped: -alpha' a q)
    dx = gy * a * m

Every mask is drawn from `numcnn.random.generator()`, so `numcnn.manual_seed` reproduces it.
"""

from __future__ import annotations

import numpy as np

from numcnn.autograd.function import Context, Function
from numcnn.random import generator

SELU_ALPHA_PRIME = 1.7580993408473766  # -alpha' = SELU's lambda * alpha, the saturation value


def bernoulli_mask(shape: tuple[int, ...], keep: float, dtype: np.dtype) -> np.ndarray:
    """An array of 0/1 in `dtype`, each entry 1 with probability `keep` (global generator)."""
    draw_dtype = np.float32 if np.dtype(dtype) == np.float32 else np.float64
    u = generator().random(shape, dtype=draw_dtype)
    return (u < keep).astype(dtype)


def noise_shape(shape: tuple[int, ...], feature: bool) -> tuple[int, ...]:
    """The mask's shape: the input's, or (N, C, 1, ..., 1) for feature (channel) dropout."""
    if not feature:
        return shape
    return shape[:2] + (1,) * (len(shape) - 2)


class Dropout(Function):
    """y = x * noise, noise = m / (1 - p) (broadcast for feature dropout);  dx = gy * noise."""

    @staticmethod
    def forward(ctx: Context, x, *, noise):
        ctx.noise = noise                                      # (N, C, *) or (N, C, 1, ...)
        return x * noise

    @staticmethod
    def backward(ctx: Context, gy):
        return (gy * ctx.noise,)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        return (gy * ctx.noise,)                               # the mask is a constant


class AlphaDropout(Function):
    """y = x * scale + shift with scale = a m, shift = alpha' a (m - 1 + p);  dx = gy * scale."""

    @staticmethod
    def forward(ctx: Context, x, *, scale, shift):
        ctx.scale = scale
        y = x * scale
        y += shift
        return y

    @staticmethod
    def backward(ctx: Context, gy):
        return (gy * ctx.scale,)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        return (gy * ctx.scale,)


def dropout_noise(shape: tuple[int, ...], p: float, dtype: np.dtype,
                  feature: bool = False) -> np.ndarray:
    """m / (1 - p) with m ~ Bernoulli(1 - p), in the mask shape (see `noise_shape`).

    p == 1 gives all zeros (no division by zero).
    """
    nshape = noise_shape(shape, feature)
    if p >= 1.0:
        return np.zeros(nshape, dtype=dtype)
    m = bernoulli_mask(nshape, 1.0 - p, dtype)
    m *= np.asarray(1.0 / (1.0 - p), dtype=dtype)
    return m


def alpha_dropout_affine(shape: tuple[int, ...], p: float, dtype: np.dtype,
                         feature: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(scale, shift) of alpha dropout for a fresh mask m ~ Bernoulli(1 - p)."""
    nshape = noise_shape(shape, feature)
    m = bernoulli_mask(nshape, 1.0 - p, dtype)
    a = 1.0 / np.sqrt((SELU_ALPHA_PRIME ** 2 * p + 1.0) * (1.0 - p))
    shift = (m - 1.0) * (SELU_ALPHA_PRIME * a) + SELU_ALPHA_PRIME * a * p
    scale = m * a
    return scale.astype(dtype, copy=False), shift.astype(dtype, copy=False)
