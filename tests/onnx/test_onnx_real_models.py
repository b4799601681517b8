"""ONNX's "real model" conformance tests on numcnn: nine classic CNNs converted from Caffe2
(AlexNet, ZFNet-512, VGG-19, GoogLeNet = Inception v1, Inception v2, ResNet-50, SqueezeNet,
ShuffleNet, DenseNet-121) at opset 9.

The onnx package ships them as "light" models (onnx/backend/test/data/light): the full graph,
with every weight made by a ConstantOfShape node instead of stored, and the output that ONNX's
reference implementation computed on its deterministic dummy input.  onnx.backend.test runs them
on our backend with that stored output as the oracle (rtol 1e-3, atol 1e-7, ONNX's own
tolerances).  They are networks numcnn did not export, written by another framework's converter:
Caffe2's padding and pooling attributes, Sum instead of Add, Reshape with a 0 dim, Gemm with
broadcast bias, LRN, Softmax at opset 9 (which flattens).

With every weight constant, the stored outputs are (nearly) uniform class probabilities, which
checks that the graphs run and their shapes, not much of their arithmetic.  So the same nine
graphs are also run with random weights (each ConstantOfShape weight replaced by a seeded random
initialiser, the final Softmax dropped so the logits are compared) against ONNX Runtime.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")

import onnx.backend.test  # noqa: E402

import numcnn  # noqa: E402
from numcnn.onnx.backend import NumcnnBackend  # noqa: E402

ort = pytest.importorskip("onnxruntime")
LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"

MODELS = ["bvlc_alexnet", "zfnet512", "vgg19", "inception_v1", "inception_v2", "resnet50",
          "squeezenet", "shufflenet", "densenet121"]


@pytest.fixture(autouse=True)
def _onnx_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner writes the dummy inputs it makes under $ONNX_HOME/models/light: keep that
    in pytest's temporary folder, not in the user's ~/.onnx."""
    monkeypatch.setenv("ONNX_HOME", str(tmp_path_factory.mktemp("onnx_home")))
    monkeypatch.delenv("ONNX_MODELS", raising=False)


with warnings.catch_warnings():   # onnx's node-case generators warn about their own inputs
    warnings.simplefilter("ignore")
    backend_test = onnx.backend.test.BackendTest(NumcnnBackend, __name__)
for _name in MODELS:
    backend_test.include(f"^test_{_name}_cpu$")


def _real_model_cases() -> dict[str, type]:
    """The generated unittest class with only the included CPU cases of the real models."""
    classes = {name: cls for name, cls in backend_test.test_cases.items()
               if "RealModel" in name}
    assert classes, "onnx.backend.test has no real-model cases any more"
    for cls in classes.values():
        for attr in [a for a in vars(cls) if a.startswith("test_")]:
            if attr.removeprefix("test_").removesuffix("_cpu") not in MODELS \
                    or not attr.endswith("_cpu"):
                delattr(cls, attr)
    return classes


globals().update(_real_model_cases())


def test_all_nine_real_models_are_collected() -> None:
    names = {a for cls in _real_model_cases().values() for a in vars(cls)
             if a.startswith("test_")}
    assert names == {f"test_{m}_cpu" for m in MODELS}


def _random_weight(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """He-initialised conv/FC weights (std sqrt(2 / fan_in)), small 1-D vectors around 0."""
    if len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        std = np.float32(np.sqrt(2.0 / fan_in))
    else:
        std = np.float32(0.1)
    return rng.standard_normal(shape, dtype=np.float32) * std


def _with_random_weights(name: str) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """The light model `name` with random weights and no final Softmax, and the inputs to
    feed: the image (N(0, 1)) and every other graph input the Caffe2 converter left as an
    input (batch-norm scales, shifts and statistics: positive scales and variances)."""
    from onnx import numpy_helper

    model = onnx.load(str(LIGHT / f"light_{name}.onnx"))
    g = model.graph
    rng = np.random.default_rng(0)
    shapes = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    # batch norms' scales and variances: positive, around 1
    positive = {n.input[i] for n in g.node if n.op_type == "BatchNormalization" for i in (1, 4)}
    nodes, weights = [], []
    for node in g.node:
        if node.op_type == "ConstantOfShape" and node.input[0] in shapes:
            shape = tuple(int(d) for d in shapes[node.input[0]])
            value = (rng.uniform(0.5, 1.5, shape).astype(np.float32)
                     if node.output[0] in positive else _random_weight(rng, shape))
            weights.append(numpy_helper.from_array(value, node.output[0]))
        else:
            nodes.append(node)
    if nodes[-1].op_type == "Softmax":                 # compare logits, not saturated softmax
        softmax = nodes.pop()
        for node in nodes:
            node.output[:] = [softmax.output[0] if o == softmax.input[0] else o
                              for o in node.output]
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend(weights)
    model.ir_version = max(model.ir_version, 4)   # IR 3 wants every initialiser a graph input
    feeds = {}
    initialised = {t.name for t in g.initializer}
    for i, value in enumerate(v for v in g.input if v.name not in initialised):
        shape = tuple(d.dim_value for d in value.type.tensor_type.shape.dim)
        if i == 0:
            feeds[value.name] = rng.normal(0.0, 1.0, shape).astype(np.float32)
        elif value.name in positive:
            feeds[value.name] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        else:
            feeds[value.name] = rng.normal(0.0, 0.1, shape).astype(np.float32)
    return model, feeds


# VGG-19's 143M random weights take ~20 s to make, check and run twice on 2 cores: -m slow
@pytest.mark.parametrize("name", [pytest.param(m, marks=pytest.mark.slow) if m == "vgg19" else m
                                  for m in MODELS])
def test_real_model_with_random_weights_matches_onnxruntime(name: str) -> None:
    model, feeds = _with_random_weights(name)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3          # not the IR-3 "initializer in graph inputs" notes
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    (want,) = session.run(None, feeds)
    net = numcnn.onnx.load(model).eval()
    with numcnn.no_grad():
        got = net(*[numcnn.from_numpy(feeds[n]) for n in net.input_names])
    assert got.shape == want.shape
    assert np.std(want) > 1e-3, "random weights should give logits that differ"
    # float32 sums in another order through 8 to 120 layers: atol relative to the logits' size
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
