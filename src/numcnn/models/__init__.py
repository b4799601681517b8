"""numcnn.models: the architectures of the lectures, from LeNet-5 to ShuffleNet.

One module per family (lenet, fmnist, nin, alexnet, vgg, resnet, cifar_resnet, googlenet,
inception, densenet, squeezenet, mobilenet, shufflenet, mnasnet, unet), each with its classes and
one factory per variant whose docstring cites the paper and states the parameter count. Where
torchvision has the model, the factory has torchvision's name and the model exactly
torchvision's state_dict keys, shapes and buffers, so torchvision weights saved as safetensors
load with strict=True:

    model = numcnn.models.resnet18()
    numcnn.io.load_into(model, "resnet18.safetensors")      # strict=True

`MODELS` maps every name to its factory; `list_models()` gives the names and
`get_model(name, **kwargs)` builds one, e.g. get_model("resnet20", num_classes=100);
`input_size(name)` is the (C, H, W) it is built for.

Pretrained weights (`numcnn.models.weights`): every torchvision-named factory takes
`weights=` and `progress=` as torchvision's, e.g. `resnet50(weights="DEFAULT")` or
`get_model("resnet50", weights=ResNet50_Weights.IMAGENET1K_V2)`; `get_weight(full_name)` and
`get_model_weights(name_or_factory)` find the enums.
"""

from __future__ import annotations

from typing import Any, Callable

from numcnn.models.alexnet import MODELS as _ALEXNET
from numcnn.models.alexnet import alexnet, alexnet_original, zfnet
from numcnn.models.cifar_resnet import (
    MODELS as _CIFAR_RESNET,
)
from numcnn.models.cifar_resnet import (
    plain20,
    plain32,
    plain44,
    plain56,
    plain110,
    resnet20,
    resnet32,
    resnet44,
    resnet56,
    resnet110,
)
from numcnn.models.densenet import (
    MODELS as _DENSENET,
)
from numcnn.models.densenet import (
    densenet121,
    densenet161,
    densenet169,
    densenet201,
    densenet_bc_100,
)
from numcnn.models.fmnist import MODELS as _FMNIST
from numcnn.models.fmnist import dogs_vs_cats_cnn, fmnist_cnn, mlp
from numcnn.models.googlenet import MODELS as _GOOGLENET
from numcnn.models.googlenet import googlenet
from numcnn.models.inception import MODELS as _INCEPTION
from numcnn.models.inception import inception_v3
from numcnn.models.lenet import MODELS as _LENET
from numcnn.models.lenet import lenet5, lenet5_classic
from numcnn.models.mnasnet import MODELS as _MNASNET
from numcnn.models.mnasnet import mnasnet0_5, mnasnet0_75, mnasnet1_0, mnasnet1_3
from numcnn.models.mobilenet import (
    MODELS as _MOBILENET,
)
from numcnn.models.mobilenet import (
    mobilenet_v1,
    mobilenet_v2,
    mobilenet_v3_large,
    mobilenet_v3_small,
)
from numcnn.models.nin import MODELS as _NIN
from numcnn.models.nin import nin
from numcnn.models.resnet import (
    MODELS as _RESNET,
)
from numcnn.models.resnet import (
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
    resnext50_32x4d,
    wide_resnet50_2,
)
from numcnn.models.shufflenet import (
    MODELS as _SHUFFLENET,
)
from numcnn.models.shufflenet import (
    shufflenet_v1,
    shufflenet_v1_g1,
    shufflenet_v1_g2,
    shufflenet_v1_g3,
    shufflenet_v1_g4,
    shufflenet_v1_g8,
    shufflenet_v2_x0_5,
    shufflenet_v2_x1_0,
    shufflenet_v2_x1_5,
    shufflenet_v2_x2_0,
)
from numcnn.models.squeezenet import MODELS as _SQUEEZENET
from numcnn.models.squeezenet import squeezenet1_0, squeezenet1_1
from numcnn.models.unet import MODELS as _UNET
from numcnn.models.unet import unet
from numcnn.models.vgg import (
    MODELS as _VGG,
)
from numcnn.models.vgg import (
    vgg11,
    vgg11_bn,
    vgg13,
    vgg13_bn,
    vgg16,
    vgg16_bn,
    vgg19,
    vgg19_bn,
    vgg_a,
    vgg_a_lrn,
    vgg_b,
    vgg_c,
    vgg_d,
    vgg_e,
)
from numcnn.models.weights import *  # the *_Weights enums
from numcnn.models.weights import (
    WEIGHTS,
    Weights,
    WeightsEnum,
    get_model_weights,
    get_weight,
    handle_legacy_pretrained,
)
from numcnn.models.weights import __all__ as _WEIGHTS_ALL
from numcnn.nn.module import Module

MODELS: dict[str, Callable[..., Module]] = {
    **_LENET, **_FMNIST, **_NIN, **_ALEXNET, **_VGG, **_RESNET, **_CIFAR_RESNET, **_GOOGLENET,
    **_INCEPTION, **_DENSENET, **_SQUEEZENET, **_MOBILENET, **_SHUFFLENET, **_MNASNET, **_UNET,
}


def _accept_pretrained() -> None:
    """Every factory with weights also takes torchvision's deprecated pretrained=True/False
    (`weights.handle_legacy_pretrained`): here, in MODELS and in its family's module."""
    import sys

    for name in WEIGHTS:
        original = MODELS[name]
        wrapped = handle_legacy_pretrained(original, name)
        family = sys.modules[original.__module__]
        MODELS[name] = family.MODELS[name] = wrapped
        globals()[name] = wrapped
        setattr(family, name, wrapped)


_accept_pretrained()

# The input each model is built for, (C, H, W), where it is not ImageNet's (3, 224, 224): what
# `numcnn summary` and `numcnn rf` feed it unless told otherwise.
INPUT_SIZES: dict[str, tuple[int, int, int]] = {
    "lenet5": (1, 32, 32), "lenet5_classic": (1, 32, 32),                # LeCun et al. 1998
    "fmnist_cnn": (1, 28, 28), "mlp": (1, 28, 28),                      # Fashion-MNIST
    "dogs_vs_cats_cnn": (3, 150, 150),                                   # seed 004's example
    "nin": (3, 32, 32), "densenet_bc_100": (3, 32, 32),                  # CIFAR
    **{name: (3, 32, 32) for name in _CIFAR_RESNET},                     # resnet20.., plain20..
    "alexnet_original": (3, 227, 227),   # Krizhevsky et al. 2012 (the arithmetic needs 227)
    "inception_v3": (3, 299, 299),       # Szegedy et al. 2016
    "unet": (1, 572, 572),               # Ronneberger et al. 2015
}

__all__ = ["MODELS", "INPUT_SIZES", "list_models", "get_model", "input_size", *MODELS,
           *(n for n in _WEIGHTS_ALL if n.endswith("_Weights")), "Weights", "WeightsEnum",
           "get_weight", "get_model_weights"]


def list_models() -> list[str]:
    """The names `get_model` accepts, sorted."""
    return sorted(MODELS)


def get_model(name: str, weights: Any = None, **kwargs: Any) -> Module:
    """Build the model `name` (see `list_models()`), passing `kwargs` to its factory
    (e.g. num_classes=10), and `weights` (None, "DEFAULT", a member name or member of its
    `*_Weights` enum) to those that have pretrained weights.

    Raises:
        ValueError: for an unknown name, listing the known ones, or weights for a model that
            has none.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}")
    if weights is not None:
        if name not in WEIGHTS:
            raise ValueError(f"model {name!r} has no pretrained weights; models with weights: "
                             f"{', '.join(sorted(WEIGHTS))}")
        kwargs["weights"] = weights
    return MODELS[name](**kwargs)


def input_size(name: str) -> tuple[int, int, int]:
    """The (C, H, W) input the model `name` is built for (`INPUT_SIZES`, else 3x224x224)."""
    return INPUT_SIZES.get(name, (3, 224, 224))
