"""Every model of the zoo travels: exported by numcnn.onnx.export with a dynamic batch axis
(traced at batch 1), accepted by onnx.checker (full check), run by ONNX Runtime at batch 2 with
numcnn's outputs, and loaded back by numcnn.onnx.load with numcnn's outputs and the original
parameter names.

Every CI run covers 52 of the 64 models; 12 VGG variants run with -m slow (see
VGG_IN_EVERY_RUN).  Inputs are as small as each model accepts (the adaptive pools make that
work; sizes found by running each model at decreasing sizes), to keep this file fast.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest

import numcnn
from numcnn.models import get_model, input_size, list_models

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from numcnn.onnx import export, load  # noqa: E402  (after the optional packages' skip)

# the smallest square input (H = W) each model runs at, where it is not the default 8
SMALLEST = {
    "alexnet": 64, "alexnet_original": 227, "zfnet": 224, "dogs_vs_cats_cnn": 150,
    "inception_v3": 75, "lenet5": 32, "lenet5_classic": 32, "fmnist_cnn": 28, "mlp": 28,
    "squeezenet1_0": 24, "squeezenet1_1": 24, "googlenet": 16, "unet": 16,
    "densenet121": 32, "densenet161": 32, "densenet169": 32, "densenet201": 32,
    "nin": 4, "densenet_bc_100": 4,
}
for _name in list_models():
    if _name.startswith("vgg"):
        SMALLEST[_name] = 32


def _sizes(name: str) -> tuple[int, int]:
    return input_size(name)[0], SMALLEST.get(name, 8)


def _tolerances(ref: np.ndarray, rtol: float) -> dict[str, float]:
    """rtol, and an atol scaled to the output's magnitude: the zoo's randomly initialised
    networks give outputs from 1e-22 (mobilenet_v1, whose activations shrink layer after layer)
    to 1e8 (inception_v3, whose grow), and float32 rounding over ~100 layers is relative to the
    largest activations, not to each output value; so atol = rtol * max|ref|."""
    return {"rtol": rtol, "atol": rtol * float(np.abs(ref).max())}


def _ort_session(data: bytes) -> Any:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL   # faster start
    so.log_severity_level = 3
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])


def test_every_model_is_covered() -> None:
    assert len(list_models()) == 68          # 64 + MNASNet 0.5, 0.75, 1.0, 1.3 (issue 16)
    assert set(SMALLEST) <= set(list_models())


# The VGGs carry 130-144M parameters (530-575 MB) each, and moving that through export, the
# checker, ONNX Runtime and load takes 13-20 s per variant on the 2-core CI machine: 14
# variants would be half of this file's time.  Every CI run keeps vgg16_bn (conv, BN, pools,
# the 7x7 adaptive pool and the classifier every variant shares) and vgg_a_lrn (LRN); the 12
# others, which differ from them only in depth, run with -m slow.
VGG_IN_EVERY_RUN = {"vgg16_bn", "vgg_a_lrn"}


def _case(name: str) -> Any:
    if name.startswith("vgg") and name not in VGG_IN_EVERY_RUN:
        return pytest.param(name, marks=pytest.mark.slow)
    return name


@pytest.mark.parametrize("name", [_case(n) for n in list_models()])
def test_zoo_model_exports_runs_and_loads_back(name: str) -> None:
    numcnn.manual_seed(0)
    model = get_model(name).eval()
    channels, size = _sizes(name)
    rng = np.random.default_rng(0)
    x1 = rng.standard_normal((1, channels, size, size)).astype(np.float32)
    x2 = rng.standard_normal((2, channels, size, size)).astype(np.float32)

    buf = io.BytesIO()
    proto = export(model, numcnn.from_numpy(x1), buf,
                   dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    data = buf.getvalue()
    onnx.checker.check_model(data, full_check=True)
    batch = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param == "batch"

    with numcnn.no_grad():
        want = model(numcnn.from_numpy(x2)).array
    got = _ort_session(data).run(None, {"input": x2})[0]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, **_tolerances(want, 1e-4))

    loaded = load(proto)
    with numcnn.no_grad():
        back = loaded(numcnn.from_numpy(x2)).array
    np.testing.assert_allclose(back, want, **_tolerances(want, 1e-5))
    params = {k for k, _ in model.named_parameters()}
    assert params <= set(loaded.state_dict())
