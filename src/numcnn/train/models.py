"""The small models the `numcnn` command line trains (temporary: they move to numcnn.models).

    fmnist-cnn  seed 004's Fashion-MNIST block CNN (1,677,674 trainable parameters at 28x28)
    mlp         a two-hidden-layer perceptron (669,706 parameters at 28x28)
    lenet5      LeNet-5 for 28x28 inputs (61,706 parameters)

Every factory takes `in_channels`, `num_classes` and `image_size` (the square input's side), so
that a checkpoint's metadata — the model's name and these arguments — rebuilds the model.
"""

from __future__ import annotations

from typing import Callable

import numcnn.nn as nn
from numcnn.tensor import Tensor

__all__ = ["FashionCNN", "MLP", "LeNet5", "fmnist_cnn", "mlp", "lenet5", "MODELS"]


def conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    """3x3 convolution, padding 1: keeps H and W."""
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)


class FashionCNN(nn.Module):
    """Seed 004's Fashion-MNIST CNN (the Keras model "fmnist_cnn.py", ~93.5% test accuracy).

    Two blocks [Conv3x3-ReLU-BN-Conv3x3-ReLU-BN-MaxPool2-Dropout(0.25)] of 32 and 64 channels,
    then Flatten-Linear(64*(S/4)^2, 512)-ReLU-BN-Dropout(0.5)-Linear(512, classes).

    Shape:
        (N, C, S, S) -> (N, 32, S/2, S/2) -> (N, 64, S/4, S/4) -> (N, num_classes); S % 4 == 0.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28
                 ) -> None:
        super().__init__()
        if image_size % 4 != 0 or image_size <= 0:
            raise ValueError(f"fmnist-cnn needs an image_size divisible by 4, got {image_size}")
        self.features = nn.Sequential(
            *self._block(in_channels, 32), *self._block(32, 64),
        )
        side = image_size // 4
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * side * side, 512), nn.ReLU(), nn.BatchNorm1d(512),
            nn.Dropout(0.5), nn.Linear(512, num_classes),
        )

    @staticmethod
    def _block(in_channels: int, out_channels: int) -> list[nn.Module]:
        return [conv3x3(in_channels, out_channels), nn.ReLU(), nn.BatchNorm2d(out_channels),
                conv3x3(out_channels, out_channels), nn.ReLU(), nn.BatchNorm2d(out_channels),
                nn.MaxPool2d(2), nn.Dropout(0.25)]

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


class MLP(nn.Module):
    """Flatten-Linear(C*S*S, 512)-ReLU-Dropout-Linear(512, 512)-ReLU-Dropout-Linear(512, classes)
    (seed 004's "~88% with MLP" baseline).

    Shape:
        (N, C, S, S) -> (N, num_classes)
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28,
                 hidden: int = 512, dropout: float = 0.2) -> None:
        super().__init__()
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(in_channels * image_size * image_size, hidden), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(x)


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al., 1998) for 28x28 inputs: the first convolution pads by 2 so that
    a 28x28 image meets the network as the paper's 32x32 does; ReLU and max pooling.

    Shape:
        (N, C, S, S) -> conv 6@5x5 pad 2 -> (N, 6, S, S) -> pool -> (N, 6, S/2, S/2)
        -> conv 16@5x5 -> (N, 16, S/2-4, S/2-4) -> pool -> (N, 16, F, F), F = (S/2-4)/2
        -> 120 -> 84 -> num_classes.  At S = 28: F = 5.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28
                 ) -> None:
        super().__init__()
        side = (image_size // 2 - 4) // 2
        if side <= 0:
            raise ValueError(f"lenet5 needs an image_size of at least 12, got {image_size}")
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * side * side, 120), nn.ReLU(), nn.Linear(120, 84),
            nn.ReLU(), nn.Linear(84, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


def fmnist_cnn(in_channels: int = 1, num_classes: int = 10, image_size: int = 28) -> FashionCNN:
    """Seed 004's Fashion-MNIST CNN; 1,677,674 trainable parameters at 1x28x28, 10 classes."""
    return FashionCNN(in_channels, num_classes, image_size)


def mlp(in_channels: int = 1, num_classes: int = 10, image_size: int = 28) -> MLP:
    """The MLP baseline; 669,706 parameters at 1x28x28, 10 classes."""
    return MLP(in_channels, num_classes, image_size)


def lenet5(in_channels: int = 1, num_classes: int = 10, image_size: int = 28) -> LeNet5:
    """LeNet-5 (LeCun et al., 1998); 61,706 parameters at 1x28x28, 10 classes."""
    return LeNet5(in_channels, num_classes, image_size)


MODELS: dict[str, Callable[..., nn.Module]] = {
    "fmnist-cnn": fmnist_cnn,
    "mlp": mlp,
    "lenet5": lenet5,
}
