"""Dropout: dropout, alpha_dropout, feature_alpha_dropout, dropout1d, dropout2d, dropout3d.

Validated wrappers with torch.nn.functional's names, signatures and defaults (note that, as
in PyTorch, `alpha_dropout` and `feature_alpha_dropout` default to ``training=False``).  Masks
come from `numcnn.random.generator()`; the kernels are in `numcnn.ops.dropout`.

``inplace=True`` is accepted for compatibility, but numcnn never overwrites an input that the
autograd graph may still need: the result is always a new tensor (use the return value).

Shape legend: N batch, C channels, L / (H, W) / (D, H, W) spatial dims.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from numcnn.ops import dropout as K
from numcnn.tensor import Tensor

__all__ = ["dropout", "alpha_dropout", "feature_alpha_dropout", "dropout1d", "dropout2d",
           "dropout3d"]


def _check_args(input: object, p: object, training: object, fname: str) -> float:
    if not isinstance(input, Tensor):
        raise TypeError(f"{fname}(): argument 'input' must be a Tensor, not "
                        f"{type(input).__name__}")
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"{fname}(): argument 'p' must be a float in [0, 1], not "
                        f"{type(p).__name__}")
    if float(p) < 0.0 or float(p) > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"{fname}(): argument 'training' must be bool, not "
                        f"{type(training).__name__}")
    return float(p)


def _apply(input: Tensor, p: float, training: bool, *, feature: bool, alpha: bool,
           batched: bool = True) -> Tensor:
    """The shared body of every variant (PyTorch's `_dropout_impl`).

    Identity when p == 0, in eval mode or on an empty input; all zeros when p == 1;
    otherwise a fresh mask, one per element or one per (n, c) channel when `feature`.
    An unbatched input (`batched=False`) is treated as a batch of one.
    """
    if p == 0.0 or not training or input.numel() == 0:
        return input
    if p == 1.0:
        return K.Dropout.apply(input, noise=np.zeros((), dtype=input.dtype))
    shape = input.shape if batched else (1, *input.shape)
    if feature and len(shape) < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if input.dtype.kind != "f":
        raise RuntimeError(
            f"dropout of an integer input: the scaled result (a float) can't be cast to "
            f"{input.dtype}; convert the input to a floating dtype first"
        )
    if alpha:
        scale, shift = K.alpha_dropout_affine(shape, p, input.dtype, feature=feature)
        if not batched:
            scale, shift = scale[0], shift[0]
        return K.AlphaDropout.apply(input, scale=scale, shift=shift)
    noise = K.dropout_noise(shape, p, input.dtype, feature=feature)
    if not batched:
        noise = noise[0]
    return K.Dropout.apply(input, noise=noise)


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Inverted dropout: zero each element with probability p, scale the rest by 1/(1-p).

        m ~ Bernoulli(1 - p) elementwise,   y = x * m / (1 - p)   (training)
        y = x                                                      (eval)

    so E[y] = x and the gradient is dx = gy * m / (1 - p).

    Args:
        input: any shape.
        p: probability of an element being zeroed, in [0, 1].
        training: apply dropout if True, else return the input unchanged.
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        input (*) -> output (*), same shape.

    Raises:
        ValueError: p outside [0, 1].
    """
    p = _check_args(input, p, training, "dropout")
    return _apply(input, p, bool(training), feature=False, alpha=False)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                  inplace: bool = False) -> Tensor:
    """Alpha dropout for self-normalising (SELU) networks: keeps mean 0 and variance 1.

    Dropped elements are set to SELU's saturation value -alpha', then an affine map
    restores the moments (a = 1/sqrt((alpha'^2 p + 1)(1 - p)), alpha' = 1.7580993408473766):

        y = a * m * x + alpha' * a * (m - 1 + p),   m ~ Bernoulli(1 - p)

    Args:
        input: any shape.
        p: probability of an element being dropped, in [0, 1].
        training: apply alpha dropout if True (default False, as in PyTorch).
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        input (*) -> output (*), same shape.

    Raises:
        ValueError: p outside [0, 1].
    """
    p = _check_args(input, p, training, "alpha_dropout")
    return _apply(input, p, bool(training), feature=False, alpha=True)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                          inplace: bool = False) -> Tensor:
    """Alpha dropout of whole channels: one m per (n, c), broadcast over the spatial dims.

    Same formula as `alpha_dropout` with m of shape (N, C, 1, ..., 1).

    Args:
        input: (N, C, *).
        p: probability of a channel being dropped, in [0, 1].
        training: apply it if True (default False, as in PyTorch).
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        input (N, C, *) -> output (N, C, *).

    Raises:
        ValueError: p outside [0, 1].
        RuntimeError: an input with fewer than 2 dimensions (when dropping).
    """
    p = _check_args(input, p, training, "feature_alpha_dropout")
    return _apply(input, p, bool(training), feature=True, alpha=True)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of a 1-D signal: one m per (n, c), y = x * m / (1 - p).

    Args:
        input: (N, C, L) or unbatched (C, L).
        p: probability of a channel being zeroed, in [0, 1].
        training: apply dropout if True.
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        input (N, C, L) or (C, L) -> output of the same shape.

    Raises:
        ValueError: p outside [0, 1].
        RuntimeError: an input that is not 2-D or 3-D.
    """
    p = _check_args(input, p, training, "dropout1d")
    if input.ndim not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input. "
            "Note that dropout1d exists to provide channel-wise dropout on inputs with 1 "
            "spatial dimension, a channel dimension, and an optional batch dimension "
            "(i.e. 2D or 3D inputs)."
        )
    return _apply(input, p, bool(training), feature=True, alpha=False,
                  batched=input.ndim == 3)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of a 2-D feature map: one m per (n, c), y = x * m / (1 - p).

    As in PyTorch, a 3-D input is read as (N, C, L) (channel-wise 1-D dropout, with a
    warning), and other ranks warn and drop along dim 1.

    Args:
        input: (N, C, H, W).
        p: probability of a channel being zeroed, in [0, 1].
        training: apply dropout if True.
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        input (N, C, H, W) -> output (N, C, H, W).

    Raises:
        ValueError: p outside [0, 1].
        RuntimeError: a 1-D input (when dropping).
    """
    p = _check_args(input, p, training, "dropout2d")
    if input.ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is deprecated "
            "and will result in an error in a future release. To retain the behavior "
            "and silence this warning, please use dropout instead. Note that dropout2d "
            "exists to provide channel-wise dropout on inputs with 2 spatial dimensions, "
            "a channel dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
            stacklevel=2,
        )
    if input.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
            "1D dropout behavior is desired - input is interpreted as shape (N, C, L), where C "
            "is the channel dim. This behavior will change in a future release to interpret "
            "the input as one without a batch dimension, i.e. shape (C, H, W). To maintain the "
            "1D channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
    return _apply(input, p, bool(training), feature=True, alpha=False)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of a 3-D volume: one m per (n, c), y = x * m / (1 - p).

    Args:
        input: (N, C, D, H, W) or unbatched (C, D, H, W).
        p: probability of a channel being zeroed, in [0, 1].
        training: apply dropout if True.
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        input (N, C, D, H, W) or (C, D, H, W) -> output of the same shape.

    Raises:
        ValueError: p outside [0, 1].
    """
    p = _check_args(input, p, training, "dropout3d")
    if input.ndim not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {input.ndim}-D input to dropout3d, which is deprecated "
            "and will result in an error in a future release. To retain the behavior "
            "and silence this warning, please use dropout instead. Note that dropout3d "
            "exists to provide channel-wise dropout on inputs with 3 spatial dimensions, "
            "a channel dimension, and an optional batch dimension (i.e. 4D or 5D inputs).",
            stacklevel=2,
        )
    return _apply(input, p, bool(training), feature=True, alpha=False,
                  batched=input.ndim == 5)
