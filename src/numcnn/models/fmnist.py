"""The models of seed 004's worked examples (EE 541, "Convolutional neural networks").

- `fmnist_cnn`: the Keras "fmnist_cnn.py" block CNN for Fashion-MNIST (~93.5% test accuracy),
  two blocks [conv3x3-ReLU-BN-conv3x3-ReLU-BN-maxpool2-dropout(0.25)] of 32 and 64 filters and a
  512-unit dense layer;
- `mlp`: the multilayer perceptron it is compared with ("~88% with MLP");
- `dogs_vs_cats_cnn`: the "Cats and Dogs - CNN.ipynb" network whose feature maps the seed
  visualises (150x150 RGB input, one logit: dog or cat).

Parameter counts, from the seed's tables (Keras counts BN's moving mean and variance as
non-trainable parameters; PyTorch keeps them as buffers):

    fmnist_cnn at 1x28x28:  convs 320 + 9,248 + 18,496 + 36,928, dense 3136*512+512 = 1,606,144
        and 5,130, BN weight+bias 2*(32+32+64+64+512) = 1,408: 1,677,674 trainable;
        + the same 1,408 running statistics = 1,679,082 (the Keras total).
    mlp at 1x28x28: 784*512+512 + 512*512+512 + 512*10+10 = 669,706.
    dogs_vs_cats_cnn at 3x150x150: 23,214,017.

Axes: N batch, C channels, S the side of the square input.
"""

from __future__ import annotations

from typing import Callable

import numcnn.nn as nn
from numcnn.tensor import Tensor

__all__ = ["FashionCNN", "MLP", "DogsVsCatsCNN", "fmnist_cnn", "mlp", "dogs_vs_cats_cnn",
           "MODELS"]


def conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    """3x3 convolution, padding 1 ("same"): keeps H and W."""
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)


class FashionCNN(nn.Module):
    """Seed 004's Fashion-MNIST CNN (the Keras model "fmnist_cnn.py", ~93.5% test accuracy).

    Two blocks [Conv3x3-ReLU-BN-Conv3x3-ReLU-BN-MaxPool2-Dropout(0.25)] of 32 and 64 channels,
    then Flatten-Linear(64*(S/4)^2, 512)-ReLU-BN-Dropout(0.5)-Linear(512, classes).

    Args:
        in_channels: input image channels (1 for Fashion-MNIST).
        num_classes: output classes.
        image_size: side S of the square input, divisible by 4.

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
        """The seed's "CNN building block": conv, BN, conv, BN, max pool (2,2), dropout 0.25."""
        return [conv3x3(in_channels, out_channels), nn.ReLU(), nn.BatchNorm2d(out_channels),
                conv3x3(out_channels, out_channels), nn.ReLU(), nn.BatchNorm2d(out_channels),
                nn.MaxPool2d(2), nn.Dropout(0.25)]

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


class MLP(nn.Module):
    """Flatten-Linear(C*S*S, 512)-ReLU-Dropout-Linear(512, 512)-ReLU-Dropout-Linear(512, classes)
    (seed 004's "~88% with MLP" baseline).

    Args:
        in_channels: input image channels.
        num_classes: output classes.
        image_size: side S of the square input.
        hidden: units of each of the two hidden layers.
        dropout: dropout probability after each hidden layer.

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


class DogsVsCatsCNN(nn.Module):
    """Seed 004's dogs-vs-cats CNN ("Cats and Dogs - CNN.ipynb"), layer for layer its table:

        Conv2d-1   [32, 150, 150]      896     Conv2d-8   [512, 37, 37]   1,180,160
        Conv2d-2   [64, 150, 150]   18,496     MaxPool-9  [512, 18, 18]           0
        MaxPool-3  [64, 75, 75]          0     Conv2d-10  [512, 18, 18]   2,359,808
        Conv2d-4   [128, 75, 75]    73,856     Conv2d-11  [512, 18, 18]   2,359,808
        Conv2d-5   [128, 75, 75]   147,584     MaxPool-12 [512, 8, 8]             0
        MaxPool-6  [128, 37, 37]         0     Dropout-13 [32768]                 0
        Conv2d-7   [256, 37, 37]   295,168     Linear-14  [512]          16,777,728
                                               Linear-15  [1]                   513

    Every convolution is 3x3 with padding 1 and is followed by a ReLU (the table lists modules
    only). The first three pools are 2x2 with stride 2; the last takes 18 to 8, which a 3x3
    window with stride 2 does ((18 - 3) // 2 + 1 = 8), so that is what it is here. The dropout
    acts on the flattened features, as the table's shape shows; its rate is not given, 0.5 here.
    One output logit (train with BCEWithLogitsLoss).

    Args:
        in_channels: input image channels.
        num_classes: output logits (1: dog vs cat).
        image_size: side S of the square input (150 in the seed).
        dropout: dropout probability before the first linear layer.

    Shape:
        (N, C, S, S) -> (N, 512, F, F), F = (S//8 - 3) // 2 + 1 -> (N, num_classes)
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 1, image_size: int = 150,
                 dropout: float = 0.5) -> None:
        super().__init__()
        side = (image_size // 2 // 2 // 2 - 3) // 2 + 1
        if side <= 0:
            raise ValueError(f"dogs_vs_cats_cnn needs an image_size of at least 24, "
                             f"got {image_size}")
        self.features = nn.Sequential(
            conv3x3(in_channels, 32), nn.ReLU(), conv3x3(32, 64), nn.ReLU(), nn.MaxPool2d(2),
            conv3x3(64, 128), nn.ReLU(), conv3x3(128, 128), nn.ReLU(), nn.MaxPool2d(2),
            conv3x3(128, 256), nn.ReLU(), conv3x3(256, 512), nn.ReLU(), nn.MaxPool2d(2),
            conv3x3(512, 512), nn.ReLU(), conv3x3(512, 512), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(512 * side * side, 512), nn.ReLU(),
            nn.Linear(512, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


def fmnist_cnn(in_channels: int = 1, num_classes: int = 10, image_size: int = 28) -> FashionCNN:
    """Seed 004's Fashion-MNIST CNN (EE 541 "fmnist_cnn.py", ~93.5% test accuracy).

    1,677,674 trainable parameters at 1x28x28 and 10 classes; 1,679,082 counting batch norm's
    running mean and variance as Keras does.
    """
    return FashionCNN(in_channels, num_classes, image_size)


def mlp(in_channels: int = 1, num_classes: int = 10, image_size: int = 28) -> MLP:
    """The MLP seed 004 compares its Fashion-MNIST CNN with (~88% test accuracy).

    669,706 parameters at 1x28x28 and 10 classes.
    """
    return MLP(in_channels, num_classes, image_size)


def dogs_vs_cats_cnn(in_channels: int = 3, num_classes: int = 1, image_size: int = 150
                     ) -> DogsVsCatsCNN:
    """Seed 004's dogs-vs-cats CNN (EE 541 "Cats and Dogs - CNN.ipynb", Kaggle's Dogs vs. Cats).

    23,214,017 parameters at 3x150x150 and one output logit.
    """
    return DogsVsCatsCNN(in_channels, num_classes, image_size)


MODELS: dict[str, Callable[..., nn.Module]] = {
    "fmnist_cnn": fmnist_cnn,
    "mlp": mlp,
    "dogs_vs_cats_cnn": dogs_vs_cats_cnn,
}
