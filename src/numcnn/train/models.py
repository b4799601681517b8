"""The small models the `numcnn` command line trains, built from `numcnn.models`.

    fmnist-cnn  seed 004's Fashion-MNIST block CNN (1,677,674 trainable parameters at 28x28)
    mlp         a two-hidden-layer perceptron (669,706 parameters at 28x28)
    lenet5      LeNet-5 with a padded C1 for 28x28 inputs (61,706 parameters)
    resnet20    He et al.'s CIFAR ResNet-20, option-A shortcuts (269,434 parameters at 1x28x28)
    plain20     the same 20 layers without shortcuts (269,434 parameters at 1x28x28)

Every factory takes `in_channels`, `num_classes` and `image_size` (the square input's side), so
that a checkpoint's metadata — the model's name and these arguments — rebuilds the model. The
names and `state_dict` keys are those the command line has always written, so old checkpoints
load.

Besides these five, `MODELS` has every classification model of the zoo (`numcnn.models`: all
but the segmentation U-Net) under its zoo name, wrapped to the same signature (`image_size` is
passed on where the zoo factory takes it; GoogLeNet and Inception-v3 are built without their
auxiliary classifiers, which the command line does not train). `build(name, **model_args)`
builds any of them.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import numcnn.nn as nn
from numcnn import models as zoo
from numcnn.models import cifar_resnet
from numcnn.models.cifar_resnet import CifarResNet
from numcnn.models.fmnist import MLP, FashionCNN, fmnist_cnn, mlp
from numcnn.models.lenet import LeNet5

__all__ = ["FashionCNN", "MLP", "LeNet5", "fmnist_cnn", "mlp", "lenet5", "resnet20", "plain20",
           "MODELS", "CLI_MODELS", "ZOO_EXCLUDED", "build"]


def lenet5(in_channels: int = 1, num_classes: int = 10, image_size: int = 28) -> LeNet5:
    """LeNet-5 (LeCun et al., 1998), ReLU and max pooling, C1 padded by 2 so that a 28x28 image
    meets C3 as the paper's 32x32 does; 61,706 parameters at 1x28x28, 10 classes."""
    return LeNet5(in_channels, num_classes, image_size, padding=2)


def resnet20(in_channels: int = 1, num_classes: int = 10, image_size: int = 28) -> CifarResNet:
    """ResNet-20 of He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition"
    (CVPR 2016), Section 4.2: conv3x3(16), three stages of 3 residual blocks (16, 32, 64
    channels), global average pooling, Linear(64, num_classes); 6n + 2 = 20 weighted layers.

    269,434 trainable parameters at 1x28x28 and 10 classes (269,722 with 3 input channels).
    The global average pooling makes the network independent of `image_size` (28 -> 28, 14, 7
    per stage), which is kept for the command line's common factory signature.
    """
    return cifar_resnet.resnet20(num_classes=num_classes, in_channels=in_channels)


def plain20(in_channels: int = 1, num_classes: int = 10, image_size: int = 28) -> CifarResNet:
    """The 20-layer plain network of He et al. (CVPR 2016), Section 4.2: ResNet-20 without its
    shortcuts (seed 003's degradation experiment; Li et al. 2018 compare the two networks'
    loss landscapes).

    269,434 trainable parameters at 1x28x28 and 10 classes, as ResNet-20 (option-A shortcuts
    have none). `image_size` is unused (global average pooling), kept for the common signature.
    """
    return cifar_resnet.plain20(num_classes=num_classes, in_channels=in_channels)


CLI_MODELS: dict[str, Callable[..., nn.Module]] = {
    "fmnist-cnn": fmnist_cnn,
    "mlp": mlp,
    "lenet5": lenet5,
    "resnet20": resnet20,
    "plain20": plain20,
}

# zoo models the command line does not train: U-Net segments, it does not classify
ZOO_EXCLUDED = ("unet",)
# zoo models built without their auxiliary classifiers (training mode would return a tuple)
_NO_AUX = ("googlenet", "inception_v3")


def _zoo_factory(name: str) -> Callable[..., nn.Module]:
    """The zoo's factory `name` with the command line's signature."""
    factory = zoo.MODELS[name]
    takes_size = "image_size" in inspect.signature(factory).parameters

    def make(in_channels: int = 3, num_classes: int = 1000, image_size: int = 224,
             **kwargs: Any) -> nn.Module:
        if name in _NO_AUX:
            kwargs.setdefault("aux_logits", False)
        if takes_size:
            kwargs["image_size"] = image_size
        return factory(in_channels=in_channels, num_classes=num_classes, **kwargs)

    make.__name__ = name
    make.__doc__ = factory.__doc__
    return make


MODELS: dict[str, Callable[..., nn.Module]] = {
    **{name: _zoo_factory(name) for name in zoo.MODELS if name not in ZOO_EXCLUDED},
    **CLI_MODELS,
}


def build(name: str, **model_args: Any) -> nn.Module:
    """The model `name` of `MODELS`, built with `model_args` (in_channels, num_classes,
    image_size, and any further keyword of the zoo factory).

    Raises:
        ValueError: an unknown name, listing the known ones.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    return MODELS[name](**model_args)
