"""LeNet-5 (LeCun, Bottou, Bengio and Haffner, "Gradient-based learning applied to document
recognition", Proc. IEEE 1998): the network on the first slides of seed 002.

The paper's figure, layer by layer, for a 32x32 image (the sizes follow from (N - F)/S + 1):

    INPUT 1@32x32 -> C1 conv 6@5x5 -> 6@28x28 -> S2 subsample 2x2 -> 6@14x14
    -> C3 conv 16@5x5 -> 16@10x10 -> S4 subsample 2x2 -> 16@5x5
    -> C5 120 (a 5x5 convolution on a 5x5 map: a fully connected layer) -> F6 84 -> OUTPUT 10

Two variants with the same layers and the same `state_dict`:

- ``"classic"``: the paper's squashing function (tanh) and average-pooling subsampling;
- ``"modern"``: ReLU and max pooling, the way LeNet is usually written today (the default, and
  the `numcnn train` model).

Simplifications of the paper kept by every common reimplementation: C3 connects to all six S2
maps (the paper's connection table gives 1,516 instead of 2,416 parameters), S2/S4 have no
trainable coefficient and bias, and the output layer is a linear layer instead of Euclidean RBF
units. C5 is written as Flatten + Linear(16*5*5, 120), which is the same function as the
paper's 5x5 convolution on a 5x5 map and lets other image sizes work too.

Parameters at 1@32x32 and 10 classes, by layer:
C1 6*(5*5*1+1) = 156, C3 16*(5*5*6+1) = 2,416, C5 120*(400+1) = 48,120, F6 84*(120+1) = 10,164,
OUTPUT 10*(84+1) = 850; 61,706 in total (both variants).

Axes: N batch, C channels, S the side of the square input.
"""

from __future__ import annotations

from typing import Callable, Literal

import numcnn.nn as nn
from numcnn.tensor import Tensor

__all__ = ["LeNet5", "lenet5", "lenet5_classic", "MODELS"]

Variant = Literal["classic", "modern"]


class LeNet5(nn.Module):
    """LeNet-5: two convolution/subsampling stages, then 120-84-`num_classes` fully connected.

    Args:
        in_channels: input image channels (1 in the paper).
        num_classes: output classes (10 digits in the paper).
        image_size: side S of the square input (32 in the paper).
        padding: zero padding of C1. 0 is the paper's (a 32x32 image); 2 lets a 28x28 MNIST
            image meet C3 with the same 14x14 maps (the `numcnn train` layout).
        variant: ``"modern"`` (ReLU, max pooling) or ``"classic"`` (tanh, average pooling).

    Shape:
        (N, C, S, S) -> C1 (N, 6, S1, S1), S1 = S + 2*padding - 4 -> S2 (N, 6, S1/2, S1/2)
        -> C3 (N, 16, S1/2 - 4, ...) -> S4 (N, 16, F, F), F = (S1/2 - 4) / 2 (floors)
        -> C5 (N, 120) -> F6 (N, 84) -> (N, num_classes).  F = 5 at S = 32, padding 0.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 32,
                 padding: int = 0, variant: Variant = "modern") -> None:
        super().__init__()
        if variant not in ("classic", "modern"):
            raise ValueError(f"variant must be 'classic' or 'modern', got {variant!r}")
        side = ((image_size + 2 * padding - 4) // 2 - 4) // 2
        if side <= 0:
            raise ValueError(f"lenet5 needs an image_size of at least {16 - 2 * padding} with "
                             f"padding={padding}, got {image_size}")
        self.variant = variant
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=padding),   # C1
            self._activation(), self._subsample(),                       # S2
            nn.Conv2d(6, 16, kernel_size=5),                             # C3
            self._activation(), self._subsample(),                       # S4
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * side * side, 120), self._activation(),   # C5
            nn.Linear(120, 84), self._activation(),                               # F6
            nn.Linear(84, num_classes),                                           # OUTPUT
        )

    def _activation(self) -> nn.Module:
        return nn.Tanh() if self.variant == "classic" else nn.ReLU()

    def _subsample(self) -> nn.Module:
        return nn.AvgPool2d(2) if self.variant == "classic" else nn.MaxPool2d(2)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


def lenet5(in_channels: int = 1, num_classes: int = 10, image_size: int = 32, padding: int = 0,
           variant: Variant = "modern") -> LeNet5:
    """LeNet-5 from LeCun et al., "Gradient-based learning applied to document recognition"
    (1998), with ReLU and max pooling by default (``variant="classic"`` for tanh and average
    pooling).

    61,706 parameters at 1x32x32 and 10 classes (also at 1x28x28 with padding=2).
    """
    return LeNet5(in_channels, num_classes, image_size, padding, variant)


def lenet5_classic(in_channels: int = 1, num_classes: int = 10, image_size: int = 32,
                   padding: int = 0) -> LeNet5:
    """LeNet-5 from LeCun et al., "Gradient-based learning applied to document recognition"
    (1998) as the paper computes it: tanh squashing and average-pooling subsampling.

    61,706 parameters at 1x32x32 and 10 classes.
    """
    return LeNet5(in_channels, num_classes, image_size, padding, variant="classic")


MODELS: dict[str, Callable[..., nn.Module]] = {
    "lenet5": lenet5,
    "lenet5_classic": lenet5_classic,
}
