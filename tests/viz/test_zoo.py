"""Every numcnn.viz method on the models of the zoo: any model, any layer name.

The default suite runs a few small, structurally different models (plain, residual, dense,
depthwise, channel shuffle, fire modules, inception, an MLP); `-m slow` runs every model of
`numcnn.models.list_models()` at the input size it is built for. The values themselves are
checked against torch and plain loops in the other test files; here each method must run, give
its documented shape, finite values, and agree with itself across methods where it must
(Grad-CAM maps scaled to [0, 1]; saliency >= 0; the feature map of the last conv layer is the
one Grad-CAM weighs).
"""

from __future__ import annotations

import numpy as np
import pytest

import numcnn
import numcnn.models as zoo
from numcnn.viz import feature_maps, filters, grad_cam, occlusion, saliency
from numcnn.viz._common import conv_layer_names

# small inputs where a model accepts them (the viz code does not care about size)
SMALL_INPUT = {"resnet20": (3, 32, 32), "densenet_bc_100": (3, 32, 32), "nin": (3, 32, 32),
               "squeezenet1_1": (3, 64, 64), "mobilenet_v3_small": (3, 64, 64),
               "shufflenet_v2_x0_5": (3, 64, 64), "googlenet": (3, 64, 64),
               "lenet5": (1, 32, 32), "mlp": (1, 28, 28)}
DEFAULT = sorted(SMALL_INPUT)


def _check_model(name: str, size: tuple[int, ...]) -> None:
    numcnn.manual_seed(0)
    kwargs = {"aux_logits": False} if name in ("googlenet", "inception_v3") else {}
    model = zoo.get_model(name, **kwargs)
    x = numcnn.randn(2, *size)
    convs = conv_layer_names(model)
    if not convs:                                    # an MLP: the methods say what is missing
        with pytest.raises(ValueError, match="must output feature maps"):
            grad_cam(model, x, [n for n, _ in model.named_modules() if n][0])
        sal = saliency(model, x)
        assert sal.shape == (2, *size[1:]) and np.all(sal >= 0)
        return
    maps = feature_maps(model, x)
    assert maps and all(np.isfinite(m).all() for m in maps.values())
    last = convs[-1]
    cam = grad_cam(model, x, last)
    assert cam.shape == (2, *size[1:])
    assert np.isfinite(cam).all() and cam.min() >= 0 and cam.max() < 1
    raw = grad_cam(model, x, last, upsample=False)
    assert raw.shape == (2, *feature_maps(model, x, layers=[last])[last].shape[2:])
    sal = saliency(model, x)
    assert sal.shape == (2, *size[1:]) and np.isfinite(sal).all() and np.all(sal >= 0)
    tiles = filters(model.get_submodule(convs[0]))
    assert tiles.min() >= 0 and tiles.max() <= 1


@pytest.mark.parametrize("name", DEFAULT)
def test_viz_methods_on_small_zoo_models(name: str) -> None:
    _check_model(name, SMALL_INPUT[name])


def test_occlusion_on_a_residual_zoo_model() -> None:
    numcnn.manual_seed(0)
    model = zoo.get_model("resnet20")
    drop = occlusion(model, numcnn.randn(1, 3, 32, 32), window=8, stride=8)
    assert drop.shape == (1, 4, 4) and np.isfinite(drop).all()


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in zoo.list_models() if n not in SMALL_INPUT])
def test_viz_methods_on_every_zoo_model(name: str) -> None:
    _check_model(name, tuple(zoo.input_size(name)))
