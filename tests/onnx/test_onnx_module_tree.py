"""The structure and cost of a loaded ONNX graph: one child module per node (so
`numcnn.analysis.summary` and `numcnn summary FILE.onnx` show a row per node with its
parameters, MACs and activation memory), module paths and state_dict keys, and the values
forward frees after their last use.

Oracles: the original numcnn model's own summary and outputs (a zoo model exported and loaded
back), ONNX Runtime for hand-built graphs, analytic gradients and byte counts."""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from tests.helpers import run_cli  # noqa: E402

import numcnn  # noqa: E402
import numcnn.models  # noqa: E402
import numcnn.onnx  # noqa: E402
from numcnn.analysis import summary  # noqa: E402
from numcnn.onnx.load import OnnxNode  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5                 # float32
RTOL64 = 1e-7                           # float64

# the numcnn layer kinds whose parameters an ONNX node carries, and that node's op_type
_LAYERS = {"Conv2d": "Conv", "BatchNorm2d": "BatchNormalization", "Linear": "Gemm"}


def _vi(name: str, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def _model(nodes, inputs, outputs, inits=(), opset=17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs,
                              [numpy_helper.from_array(v, k) for k, v in dict(inits).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


# ---------------------------------------------------------------- zoo models, exported and back


@pytest.fixture(scope="module", params=[
    "resnet18", "mobilenet_v2", "densenet121"])
def round_trip(request, tmp_path_factory):
    """(name, original model, loaded module, the original's summary, the loaded one's) at a
    small 3x32x32 input."""
    name = request.param
    numcnn.manual_seed(0)
    model = numcnn.models.get_model(name).eval()
    path = tmp_path_factory.mktemp("zoo") / f"{name}.onnx"
    numcnn.onnx.export(model, numcnn.randn(1, 3, 32, 32), str(path))
    loaded = numcnn.onnx.load(str(path))
    return name, model, loaded, summary(model, (3, 32, 32)), summary(loaded, (3, 32, 32))


def test_one_row_per_node_with_the_layers_parameters(round_trip) -> None:
    """Every conv / batch norm / linear layer of the original is the loaded module's node at
    the same path: a row with that layer's parameter count, output shape and MACs."""
    _, _, loaded, want, got = round_trip
    rows = {r.name: r for r in got.leaf_rows()}
    layers = [r for r in want.leaf_rows() if r.kind in _LAYERS]
    assert len(layers) > 20
    for r in layers:
        row = rows[r.name]
        assert row.kind == _LAYERS[r.kind], r.name
        assert (row.params, row.trainable_params, row.buffers) == (
            r.params, r.trainable_params, r.buffers), r.name
        assert row.output_shapes == r.output_shapes, r.name
        assert row.macs == r.macs, r.name
    # one module call per node: as many leaf rows as the graph has nodes
    assert len(got.leaf_rows()) == len(loaded.nodes)
    assert all(isinstance(m, OnnxNode) for m in loaded.nodes)


def test_totals_equal_the_original_summary(round_trip) -> None:
    """Parameters and MACs equal the original's.  Two documented differences: ONNX's
    AveragePool runs as a convolution with a kernel of ones (its window sums are counted as
    MACs: DenseNet's transitions), and numcnn's ReLU(inplace=True) writes into its input
    (no new memory in the original's summary) where the graph's Relu makes a new array --
    the forward activation memory differs by exactly those Relu outputs."""
    _, _, _, want, got = round_trip
    assert (got.total_params, got.trainable_params) == (want.total_params, want.trainable_params)
    pool_macs = sum(r.macs for r in got.leaf_rows() if r.kind == "AveragePool")
    assert got.macs - pool_macs == want.macs
    original = {r.name: r for r in want.leaf_rows()}
    inplace = sum(r.new_bytes for r in got.leaf_rows() if r.kind == "Relu"
                  and r.name in original and original[r.name].new_bytes == 0)
    assert got.forward_bytes - inplace == want.forward_bytes
    assert got.input_bytes == want.input_bytes


def test_state_dict_keys_and_outputs_are_the_originals(round_trip) -> None:
    """The dotted state_dict keys are exactly the original's parameters and buffers
    (num_batches_tracked aside: ONNX has none); what else there is are the exporter's
    constants (not dotted).  Outputs equal the original's."""
    _, model, loaded, _, _ = round_trip
    keys = {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    ours = loaded.state_dict()
    assert {k for k in ours if "." in k} == keys
    assert {k for k, _ in loaded.named_parameters()} == {k for k, _ in model.named_parameters()}
    for k in keys:
        np.testing.assert_array_equal(ours[k].numpy(), model.state_dict()[k].numpy())
    x = numcnn.randn(1, 3, 32, 32)
    with numcnn.no_grad():
        np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), rtol=RTOL, atol=ATOL)


def test_numcnn_summary_of_the_file_has_a_row_per_node(capsys, tmp_path) -> None:
    """`numcnn summary FILE.onnx`: the rows of resnet18's nodes with their parameter counts
    (3*64*7*7 = 9,408 for conv1; 64*64*3*3 = 36,864 for layer1.0.conv1)."""
    path = tmp_path / "r18.onnx"
    numcnn.onnx.export(numcnn.models.resnet18().eval(), numcnn.randn(1, 3, 32, 32), str(path))
    code, out, err = run_cli(capsys, "summary", str(path))
    assert code == 0, err
    lines = out.splitlines()
    assert any(line.split()[:3] == ["conv1", "(Conv)", "[1,"] and "9,408" in line
               for line in lines)
    assert sum("conv1 (Conv)" in line and "36,864" in line for line in lines) == 2  # layer1.*
    assert sum("(BatchNormalization)" in line for line in lines) == 20


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
def test_torch_export_rows_carry_torchs_layer_parameters(tmp_path) -> None:
    """A torch network exported by torch.onnx.export (TrainingMode.PRESERVE keeps the
    BatchNormalization nodes and every state_dict name): its conv, batch norm and linear
    layers are the rows at their torch paths with torch's parameter counts; the nodes
    without state take torch's scope names ("block.relu", the second call "block.relu_1",
    the residual sum "block.add")."""
    torch = pytest.importorskip("torch")
    tnn = torch.nn

    class Block(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1, self.bn1 = tnn.Conv2d(8, 8, 3, padding=1), tnn.BatchNorm2d(8)
            self.conv2, self.relu = tnn.Conv2d(8, 8, 3, padding=1, bias=False), tnn.ReLU()

        def forward(self, x):
            return self.relu(self.conv2(self.relu(self.bn1(self.conv1(x)))) + x)

    class Net(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem, self.block, self.fc = tnn.Conv2d(3, 8, 3, padding=1), Block(), \
                tnn.Linear(8 * 6 * 6, 5)

        def forward(self, x):
            return self.fc(self.block(self.stem(x)).flatten(1))

    torch.manual_seed(0)
    net = Net().eval()
    bn = net.block.bn1                  # statistics unlike the weights: torch would share
    with torch.no_grad():               # equal constants (fresh ones, zeros) between them
        for t in (bn.weight, bn.bias, bn.running_mean):
            t.copy_(torch.randn(8))
        bn.running_var.copy_(torch.rand(8) + 0.5)
    path = tmp_path / "t.onnx"
    torch.onnx.export(net, torch.zeros(1, 3, 6, 6), str(path), dynamo=False, opset_version=17,
                      training=torch.onnx.TrainingMode.PRESERVE)
    loaded = numcnn.onnx.load(str(path))
    got = {r.name: r for r in summary(loaded, (3, 6, 6)).leaf_rows()}
    layers = {name: m for name, m in net.named_modules()
              if isinstance(m, (tnn.Conv2d, tnn.BatchNorm2d, tnn.Linear))}
    assert {name: got[name].params for name in layers} == {
        name: sum(p.numel() for p in m.parameters()) for name, m in layers.items()}
    assert {name: got[name].kind for name in layers} == {
        "stem": "Conv", "block.conv1": "Conv", "block.bn1": "BatchNormalization",
        "block.conv2": "Conv", "fc": "Gemm"}
    assert {"block.relu", "block.relu_1", "block.add"} <= set(got)
    assert got["block.relu_1"].kind == "Relu" and got["block.add"].kind == "Add"
    x = np.random.default_rng(4).standard_normal((1, 3, 6, 6)).astype(np.float32)
    with numcnn.no_grad(), torch.no_grad():
        np.testing.assert_allclose(loaded(x).numpy(), net(torch.from_numpy(x)).numpy(),
                                   rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------- paths, names, ownership


def _named_graph():
    """A small block named as torch names scopes, with shared and non-dotted initialisers."""
    r = np.random.default_rng(0)
    inits = {"layer1.0.conv1.weight": r.standard_normal((4, 3, 3, 3)).astype(np.float32),
             "layer1.0.conv1.bias": r.standard_normal(4).astype(np.float32),
             "layer1.0.conv2.weight": r.standard_normal((4, 4, 1, 1)).astype(np.float32),
             "onnx::Conv_9": r.standard_normal(4).astype(np.float32),      # not dotted
             "shared.scale": r.standard_normal((1, 4, 1, 1)).astype(np.float32)}  # 2 readers
    nodes = [
        helper.make_node("Conv", ["x", "layer1.0.conv1.weight", "layer1.0.conv1.bias"],
                         ["c1"], name="/layer1/layer1.0/conv1/Conv", pads=[1, 1, 1, 1],
                         kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c1"], ["r1"], name="/layer1/layer1.0/relu/Relu"),
        helper.make_node("Conv", ["r1", "layer1.0.conv2.weight", "onnx::Conv_9"], ["c2"],
                         name="/layer1/layer1.0/conv2/Conv"),
        helper.make_node("Mul", ["c2", "shared.scale"], ["m1"], name="/layer1/layer1.0/Mul"),
        helper.make_node("Add", ["m1", "c1"], ["a"], name="/layer1/layer1.0/Add"),
        helper.make_node("Relu", ["a"], ["r2"], name="/layer1/layer1.0/relu/Relu_1"),
        helper.make_node("Mul", ["r2", "shared.scale"], ["m2"], name=""),
        helper.make_node("Sigmoid", ["m2"], ["y"], name="/Sigmoid")]
    return _model(nodes, [_vi("x", [None, 3, 5, 5])], [_vi("y", [None, 4, 5, 5])], inits)


def test_nodes_own_their_dotted_state_and_take_their_scope_names() -> None:
    model = _named_graph()
    net = numcnn.onnx.load(model)
    paths = {name: type(m).__name__ for name, m in net.named_modules()
             if isinstance(m, OnnxNode)}
    assert paths == {"layer1.0.conv1": "Conv", "layer1.0.relu": "Relu",
                     "layer1.0.conv2": "Conv", "layer1.0.mul": "Mul", "layer1.0.add": "Add",
                     "layer1.0.relu_1": "Relu", "Mul_6": "Mul", "Sigmoid_7": "Sigmoid"}
    conv1 = net.get_submodule("layer1.0.conv1")
    assert set(dict(conv1.named_parameters())) == {"weight", "bias"}
    assert set(dict(net.get_submodule("layer1.0.conv2").named_parameters())) == {"weight"}
    # state_dict keys are the ONNX names (sanitised where not dotted), as before
    assert set(net.state_dict()) == {"layer1.0.conv1.weight", "layer1.0.conv1.bias",
                                     "layer1.0.conv2.weight", "onnx__Conv_9", "shared.scale"}
    assert repr(conv1) == "Conv(kernel_shape=[3, 3], pads=[1, 1, 1, 1])"
    assert conv1.inputs == ["x", "layer1.0.conv1.weight", "layer1.0.conv1.bias"]
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 5)).astype(np.float32)
    (want,) = ort.InferenceSession(model.SerializeToString(),
                                   providers=["CPUExecutionProvider"]).run(None, {"x": x})
    with numcnn.no_grad():
        np.testing.assert_allclose(net(x).numpy(), want, rtol=RTOL, atol=ATOL)
        conv1.weight.mul_(0.0)                   # the node reads its own (the module's) state
        conv1.bias.mul_(0.0)
        assert not np.allclose(net(x).numpy(), want, rtol=RTOL, atol=ATOL)


def test_owned_initialiser_given_as_a_graph_input_is_overridden() -> None:
    """An initialiser that is also a graph input may be passed to forward (all graph inputs
    given): the owning node uses the value given, as ONNX Runtime does."""
    w = np.ones((2, 3, 1, 1), np.float32)
    model = _model([helper.make_node("Conv", ["x", "conv.weight"], ["y"], name="/conv/Conv")],
                   [_vi("x", [1, 3, 2, 2]), _vi("conv.weight", [2, 3, 1, 1])],
                   [_vi("y", [1, 2, 2, 2])], {"conv.weight": w})
    net = numcnn.onnx.load(model)
    assert isinstance(net.conv, OnnxNode) and net.input_names == ["x"]
    r = np.random.default_rng(2)
    x = r.standard_normal((1, 3, 2, 2)).astype(np.float32)
    w2 = r.standard_normal((2, 3, 1, 1)).astype(np.float32)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    with numcnn.no_grad():
        np.testing.assert_allclose(net(x, w2).numpy(),
                                   sess.run(None, {"x": x, "conv.weight": w2})[0],
                                   rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(net(x).numpy(), sess.run(None, {"x": x})[0],
                                   rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------- freeing intermediates


def _chain(n: int, width: int) -> onnx.ModelProto:
    """x -> Neg -> Relu -> Neg -> ... (n nodes) -> y, plus a skip: the first value is read
    again by the last node (Add), so it must live to the end."""
    nodes = [helper.make_node("Neg" if i % 2 == 0 else "Relu", [f"v{i}"], [f"v{i + 1}"])
             for i in range(n)]
    nodes.append(helper.make_node("Add", [f"v{n}", "v1"], ["y"]))
    nodes[0].input[0] = "x"
    return _model(nodes, [_vi("x", [1, width])], [_vi("y", [1, width])])


def test_intermediates_are_freed_after_their_last_reader() -> None:
    """Under no_grad, while node k runs, every value whose readers have all run is gone (its
    weakref is dead); the value the last node still reads (v1) and the inputs of node k are
    alive; after the call only the output is."""
    n = 12
    net = numcnn.onnx.load(_chain(n, 8))
    made: dict[str, weakref.ref] = {}
    alive_at: dict[int, set[str]] = {}

    def record(module, args, out):
        made[module.outputs[0]] = weakref.ref(out)

    def check(k):
        def pre(module, args):
            gc.collect()
            alive_at[k] = {name for name, ref in made.items() if ref() is not None}
        return pre

    for k, node in enumerate(net.nodes):
        node.register_forward_hook(record)
        node.register_forward_pre_hook(check(k))
    x = numcnn.randn(1, 8)
    with numcnn.no_grad():
        y = net(x)
    for k in range(2, n):
        assert alive_at[k] == {"v1", f"v{k}"}, k       # the skip value and node k's input
    assert alive_at[n] == {"v1", f"v{n}"}              # the Add reads both
    gc.collect()
    assert {name for name, ref in made.items() if ref() is not None} == {"y"}
    assert made["y"]() is y
    v = -x.numpy()                                     # the chain by hand
    skip = v
    for i in range(1, n):
        v = np.maximum(v, 0) if i % 2 else -v
    np.testing.assert_allclose(y.numpy(), v + skip, rtol=RTOL, atol=ATOL)


def test_peak_memory_of_a_long_chain_is_a_few_activations() -> None:
    """40 elementwise nodes on 4 MB values: the peak traced allocation of a no_grad forward
    stays near the live values (the input, v1 kept for the skip, one node's input and output,
    the output; < 8 activations), where keeping every value would need 40."""
    width = 1 << 20
    net = numcnn.onnx.load(_chain(40, width))
    x = numcnn.randn(1, width)
    one = x.array.nbytes
    tracemalloc.start()
    try:
        with numcnn.no_grad():
            y = net(x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert y.shape == (1, width)
    assert peak < 8 * one, peak / one


def test_gradients_flow_through_freed_values() -> None:
    """Autograd keeps what backward needs: d/dx sum(Neg(Relu(Neg(x))) ... + Neg(x)) of the
    chain equals the analytic gradient (float64)."""
    net = numcnn.onnx.load(_chain(5, 6))
    x = numcnn.tensor(np.random.default_rng(3).standard_normal((1, 6)), requires_grad=True)
    net(x).sum().backward()
    # v1 = -x, v2 = relu(v1), v3 = -v2, v4 = relu(v3) = 0, v5 = -v4 = 0, y = v5 + v1
    want = -np.ones(6)
    np.testing.assert_allclose(x.grad.numpy(), want.reshape(1, 6), rtol=RTOL64)
