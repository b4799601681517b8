"""Dropout layers mirroring torch.nn: Dropout, Dropout1d/2d/3d, AlphaDropout,
FeatureAlphaDropout.  Active in training mode, the identity in eval mode.

Shape legend: N batch, C channels, L length, H height, W width, D depth.
"""

from __future__ import annotations

import numbers

from numcnn.nn import functional as F
from numcnn.nn.module import Module
from numcnn.tensor import Tensor

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
           "FeatureAlphaDropout"]


class _DropoutNd(Module):
    """Holds `p` and `inplace`; repr `Dropout(p=0.5, inplace=False)`."""

    p: float
    inplace: bool

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real):
            raise TypeError(f"{type(self).__name__}: p must be a float in [0, 1], got "
                            f"{type(p).__name__}")
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Inverted dropout (Srivastava et al. 2014) in training mode, identity in eval mode:

        y = x * m / (1 - p),  m ~ Bernoulli(1 - p) elementwise

    Args:
        p: probability of an element being zeroed.
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        input (*) -> output (*), same shape.
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Zeroes whole channels of (N, C, L) / (C, L) inputs: y = x * m[n, c] / (1 - p).

    Args: as `Dropout` (p is the probability of a channel being zeroed).

    Shape:
        input (N, C, L) or (C, L) -> output of the same shape.
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zeroes whole channels of (N, C, H, W) inputs: y = x * m[n, c] / (1 - p).

    As in PyTorch, a 3-D input is read as (N, C, L) (with a warning).

    Args: as `Dropout` (p is the probability of a channel being zeroed).

    Shape:
        input (N, C, H, W) -> output (N, C, H, W).
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Zeroes whole channels of (N, C, D, H, W) / (C, D, H, W): y = x * m[n, c] / (1 - p).

    Args: as `Dropout` (p is the probability of a channel being zeroed).

    Shape:
        input (N, C, D, H, W) or (C, D, H, W) -> output of the same shape.
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout3d(input, self.p, self.training, self.inplace)


class AlphaDropout(_DropoutNd):
    """Alpha dropout (Klambauer et al. 2017) for SELU networks; keeps mean 0 and variance 1:

        y = a * m * x + alpha' * a * (m - 1 + p),  a = 1/sqrt((alpha'^2 p + 1)(1 - p))

    Args: as `Dropout`.

    Shape:
        input (*) -> output (*), same shape.
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels: one m per (n, c), broadcast over the spatial dims.

    Args: as `Dropout` (p is the probability of a channel being dropped).

    Shape:
        input (N, C, *) -> output (N, C, *).
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.feature_alpha_dropout(input, self.p, self.training)
