"""numcnn.models as a whole: the name table, get_model, and every factory's documented promise
(num_classes, the paper, and the parameter count it states, checked against the built model)."""

from __future__ import annotations

import inspect
import re

import pytest

import numcnn
from numcnn.models import MODELS, get_model, list_models

SEED_004_MODELS = {"fmnist_cnn", "mlp", "dogs_vs_cats_cnn"}   # from the lecture, not a paper


def test_names_and_get_model() -> None:
    assert list_models() == sorted(MODELS) and len(MODELS) >= 60
    for name in ("alexnet", "vgg16_bn", "resnet50", "resnet20", "googlenet", "inception_v3",
                 "densenet121", "squeezenet1_1", "mobilenet_v3_small", "shufflenet_v2_x1_0",
                 "lenet5", "fmnist_cnn", "nin", "unet", "zfnet", "vgg_c", "plain56",
                 "densenet_bc_100", "mobilenet_v1", "shufflenet_v1_g8", "alexnet_original"):
        assert name in MODELS, name
    assert numcnn.models.resnet18 is MODELS["resnet18"]
    model = get_model("lenet5", num_classes=7)
    assert model(numcnn.zeros(1, 1, 32, 32)).shape == (1, 7)
    with pytest.raises(ValueError, match="unknown model 'resnet19'.*resnet18"):
        get_model("resnet19")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_factory_takes_num_classes_and_cites_its_source(name: str) -> None:
    factory = MODELS[name]
    assert "num_classes" in inspect.signature(factory).parameters
    doc = inspect.getdoc(factory) or ""
    assert re.search(r"\d{1,3}(,\d{3})+", doc), f"{name}: no parameter count in the docstring"
    if name not in SEED_004_MODELS:
        assert re.search(r"\b(19|20)\d\d\b", doc), f"{name}: no paper year in the docstring"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_docstring_states_the_built_models_count(name: str) -> None:
    model = MODELS[name]()
    count = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert f"{count:,}" in (inspect.getdoc(MODELS[name]) or ""), \
        f"{name}: {count:,} trainable parameters, not stated in its docstring"
