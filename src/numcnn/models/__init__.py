"""numcnn.models: the architectures of the lectures (torchvision's names and state_dict keys).

Each family module (alexnet.py, vgg.py, resnet.py, ...) defines its classes, one factory per
variant, and a plain dict `MODELS` mapping model names to those factories; this package merges
them. `list_models()` gives the names, `get_model(name, **kwargs)` builds one.

(Under construction: the family modules are imported from the list below as they are written.)
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from numcnn.nn.module import Module

__all__ = ["list_models", "get_model"]

_FAMILIES = ("lenet", "fmnist", "nin", "alexnet", "vgg", "resnet", "cifar_resnet", "googlenet",
             "inception", "densenet", "squeezenet", "mobilenet", "shufflenet", "unet")


def _models() -> dict[str, Callable[..., Module]]:
    merged: dict[str, Callable[..., Module]] = {}
    for family in _FAMILIES:
        try:
            module = importlib.import_module(f"numcnn.models.{family}")
        except ModuleNotFoundError as e:
            if e.name != f"numcnn.models.{family}":
                raise
            continue
        merged.update(module.MODELS)
    return merged


def list_models() -> list[str]:
    """The names `get_model` accepts, sorted."""
    return sorted(_models())


def get_model(name: str, **kwargs: Any) -> Module:
    """Build the model `name` (see `list_models()`), passing `kwargs` to its factory
    (e.g. num_classes=10).

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    models = _models()
    if name not in models:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(sorted(models))}")
    return models[name](**kwargs)
