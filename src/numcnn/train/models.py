"""The small models the `numcnn` command line trains, built from `numcnn.models`.

    fmnist-cnn  seed 004's Fashion-MNIST block CNN (1,677,674 trainable parameters at 28x28)
    mlp         a two-hidden-layer perceptron (669,706 parameters at 28x28)
    lenet5      LeNet-5 with a padded C1 for 28x28 inputs (61,706 parameters)

Every factory takes `in_channels`, `num_classes` and `image_size` (the square input's side), so
that a checkpoint's metadata — the model's name and these arguments — rebuilds the model. The
names and `state_dict` keys are those the command line has always written, so old checkpoints
load.
"""

from __future__ import annotations

from typing import Callable

import numcnn.nn as nn
from numcnn.models.fmnist import MLP, FashionCNN, fmnist_cnn, mlp
from numcnn.models.lenet import LeNet5

__all__ = ["FashionCNN", "MLP", "LeNet5", "fmnist_cnn", "mlp", "lenet5", "MODELS"]


def lenet5(in_channels: int = 1, num_classes: int = 10, image_size: int = 28) -> LeNet5:
    """LeNet-5 (LeCun et al., 1998), ReLU and max pooling, C1 padded by 2 so that a 28x28 image
    meets C3 as the paper's 32x32 does; 61,706 parameters at 1x28x28, 10 classes."""
    return LeNet5(in_channels, num_classes, image_size, padding=2)


MODELS: dict[str, Callable[..., nn.Module]] = {
    "fmnist-cnn": fmnist_cnn,
    "mlp": mlp,
    "lenet5": lenet5,
}
