"""numcnn.onnx.load on hand-built graphs (onnx.helper): outputs against ONNX Runtime, gradients
and a few SGD steps against the same network written in torch, BatchNormalization's training
mode against the ONNX formula, state_dict naming, and the one error for everything
unsupported."""

from __future__ import annotations

import io

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import numcnn  # noqa: E402
import numcnn.models  # noqa: E402
import numcnn.onnx  # noqa: E402
from numcnn.onnx import OnnxImportError  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5                 # float32
RTOL64 = 1e-7                           # float64


def _model(nodes, inputs, outputs, inits=(), opset=17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs,
                              [numpy_helper.from_array(v, k) for k, v in dict(inits).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    del model.graph.output[:]
    for o in inferred.graph.output:                           # declared as inferred, or (where
        model.graph.output.append(o if o.type.HasField("tensor_type")    # inference cannot,
                                  else _vi(o.name, [None] * 4))     # GroupNormalization) 4-D
    return model


def _vi(name: str, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def _out(name: str):
    """A graph output whose type shape inference fills in."""
    return helper.make_empty_tensor_value_info(name)


def _ort(model: onnx.ModelProto, feeds: dict) -> list:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


# ---------------------------------------------------------------- against ONNX Runtime

R = np.random.default_rng(0)
X = R.standard_normal((2, 4, 9, 8)).astype(np.float32)
W = R.standard_normal((6, 2, 3, 3)).astype(np.float32)
B = R.standard_normal(6).astype(np.float32)

# name -> (nodes, extra initialisers, output shape), all on x: (2, 4, 9, 8)
CASES = {
    "conv_asymmetric_pads_groups": (
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 0, 2, 1], strides=[2, 1],
                          dilations=[1, 2], group=2)], {"w": W, "b": B}),
    "conv_same_lower": (
        [helper.make_node("Conv", ["x", "w"], ["y"], auto_pad="SAME_LOWER", strides=[2, 2],
                          group=2)], {"w": W}),
    "conv_transpose_output_shape": (
        [helper.make_node("ConvTranspose", ["x", "wt"], ["y"], strides=[2, 3],
                          output_shape=[18, 21])],
        {"wt": R.standard_normal((4, 3, 3, 2)).astype(np.float32)}),
    "maxpool_ceil_dilated_indices": (
        [helper.make_node("MaxPool", ["x"], ["y", "i"], kernel_shape=[3, 2], strides=[2, 2],
                          pads=[1, 0, 1, 1], ceil_mode=1, dilations=[1, 2])], {}),
    "avgpool_ceil_exclude_pad": (
        [helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                          pads=[1, 1, 0, 1], ceil_mode=1, count_include_pad=0)], {}),
    "avgpool_include_pad_same_upper": (
        [helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[2, 3], strides=[2, 2],
                          auto_pad="SAME_UPPER", count_include_pad=1)], {}),
    "global_lp_pool": ([helper.make_node("GlobalLpPool", ["x"], ["y"], p=3)], {}),
    "lp_pool": ([helper.make_node("LpPool", ["x"], ["y"], kernel_shape=[2, 2], p=2,
                                  strides=[1, 2], pads=[1, 1, 0, 0])], {}),
    "lrn": ([helper.make_node("LRN", ["x"], ["y"], size=3, alpha=0.01, beta=0.6,
                              bias=2.0)], {}),
    "pad_reflect_edge": (
        [helper.make_node("Pad", ["x", "p"], ["t"], mode="reflect"),
         helper.make_node("Pad", ["t", "p2"], ["y"], mode="edge")],
        {"p": np.array([0, 0, 2, 3, 0, 0, 1, 0], np.int64),
         "p2": np.array([0, 1, 0, 2, 0, 0, 3, 1], np.int64)}),
    "resize_linear_half_pixel": (
        [helper.make_node("Resize", ["x", "", "s"], ["y"], mode="linear")],
        {"s": np.array([1, 1, 1.7, 0.6], np.float32)}),
    "resize_nearest_sizes_asymmetric": (
        [helper.make_node("Resize", ["x", "", "", "sz"], ["y"], mode="nearest",
                          coordinate_transformation_mode="asymmetric", nearest_mode="ceil")],
        {"sz": np.array([2, 4, 13, 5], np.int64)}),
    "resize_cubic_align_corners": (
        [helper.make_node("Resize", ["x", "", "s"], ["y"], mode="cubic",
                          coordinate_transformation_mode="align_corners")],
        {"s": np.array([1, 1, 2, 1.5], np.float32)}),
    "shape_arithmetic_reshape": (
        [helper.make_node("Shape", ["x"], ["s"]),
         helper.make_node("Gather", ["s", "i0"], ["n"], axis=0),
         helper.make_node("Unsqueeze", ["n", "ax"], ["n1"]),
         helper.make_node("Concat", ["n1", "m1"], ["shape"], axis=0),
         helper.make_node("Reshape", ["x", "shape"], ["f"]),
         helper.make_node("Softmax", ["f"], ["y"], axis=1)],
        {"i0": np.array(0, np.int64), "ax": np.array([0], np.int64),
         "m1": np.array([-1], np.int64)}),
    "slice_negative_steps_then_split": (
        [helper.make_node("Slice", ["x", "st", "en", "axes", "steps"], ["t"]),
         helper.make_node("Split", ["t"], ["y", "z"], axis=1, num_outputs=2)],
        {"st": np.array([-1, 7], np.int64), "en": np.array([-100, 0], np.int64),
         "axes": np.array([2, 3], np.int64), "steps": np.array([-2, -3], np.int64)}),
    "instance_and_group_norm": (
        [helper.make_node("InstanceNormalization", ["x", "g4", "b4"], ["t"], epsilon=1e-3),
         helper.make_node("GroupNormalization", ["t", "g4", "b4"], ["y"], num_groups=2)],
        {"g4": R.standard_normal(4).astype(np.float32),
         "b4": R.standard_normal(4).astype(np.float32)}),
    "reduce_l2_argmax": (
        [helper.make_node("ReduceL2", ["x", "ax2"], ["y"], keepdims=0),
         helper.make_node("ArgMax", ["x"], ["z"], axis=2, select_last_index=1)],
        {"ax2": np.array([1, -1], np.int64)}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hand_built_graph_matches_onnxruntime(name: str) -> None:
    nodes, inits = CASES[name]
    outs = [o for n in nodes[-1:] for o in n.output] if name != "reduce_l2_argmax" else ["y", "z"]
    if name == "maxpool_ceil_dilated_indices":
        outs = ["y", "i"]
    model = _model(nodes, [_vi("x", [None, 4, 9, 8])], [_out(o) for o in outs], inits,
                   opset=21 if "group_norm" in name else 18)
    want = _ort(model, {"x": X})
    with numcnn.no_grad():
        got = numcnn.onnx.load(model)(X)
    got = got if isinstance(got, tuple) else (got,)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g.numpy(), w, rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------- gradients: fine-tuning


def _small_cnn(dtype=np.float64):
    """Conv -> BatchNormalization -> Relu -> MaxPool -> GlobalAveragePool -> Flatten -> Gemm,
    the same weights as a torch nn.Sequential."""
    rng = np.random.default_rng(1)
    p = {"conv.weight": rng.standard_normal((5, 3, 3, 3)) * 0.3,
         "conv.bias": rng.standard_normal(5) * 0.1,
         "bn.weight": rng.random(5) + 0.5, "bn.bias": rng.standard_normal(5) * 0.1,
         "bn.running_mean": rng.standard_normal(5) * 0.1, "bn.running_var": rng.random(5) + 0.5,
         "fc.weight": rng.standard_normal((4, 5)) * 0.5, "fc.bias": rng.standard_normal(4) * 0.1}
    p = {k: v.astype(dtype) for k, v in p.items()}
    elem = TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT
    nodes = [helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], pads=[1] * 4),
             helper.make_node("BatchNormalization", ["c", "bn.weight", "bn.bias",
                                                     "bn.running_mean", "bn.running_var"],
                              ["n"], epsilon=1e-5, momentum=0.8),
             helper.make_node("Relu", ["n"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["m"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("GlobalAveragePool", ["m"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], transB=1)]
    model = _model(nodes, [_vi("x", [None, 3, 8, 8], elem)], [_vi("y", [None, 4], elem)], p)

    tn = torch.nn
    tnet = tn.Sequential(tn.Conv2d(3, 5, 3, padding=1), tn.BatchNorm2d(5), tn.ReLU(),
                         tn.MaxPool2d(2), tn.AdaptiveAvgPool2d(1), tn.Flatten(),
                         tn.Linear(5, 4)).to(torch.float64)
    with torch.no_grad():
        for value, key in zip(tnet.state_dict().values(), [
                "conv.weight", "conv.bias", "bn.weight", "bn.bias", "bn.running_mean",
                "bn.running_var", None, "fc.weight", "fc.bias"]):
            if key is not None:
                value.copy_(torch.from_numpy(p[key]))
    return model, tnet.eval(), p


def test_gradients_and_sgd_steps_match_torch() -> None:
    """The loaded graph is trainable: parameters get torch's gradients, and three SGD steps
    move them as torch's do (float64), so the loss falls the same way."""
    model, tnet, p = _small_cnn()
    net = numcnn.onnx.load(model)
    assert {k for k, _ in net.named_parameters()} == {
        "conv.weight", "conv.bias", "bn.weight", "bn.bias", "fc.weight", "fc.bias"}
    assert {k for k, _ in net.named_buffers()} == {"bn.running_mean", "bn.running_var"}
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 3, 8, 8))
    target = rng.integers(0, 4, 6)
    opt = numcnn.optim.SGD(net.parameters(), lr=0.5)
    topt = torch.optim.SGD(tnet.parameters(), lr=0.5)
    losses = []
    for _ in range(3):
        loss = numcnn.nn.functional.cross_entropy(net(x), numcnn.from_numpy(target))
        tloss = torch.nn.functional.cross_entropy(tnet(torch.from_numpy(x)),
                                                  torch.from_numpy(target))
        opt.zero_grad()
        topt.zero_grad()
        loss.backward()
        tloss.backward()
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=RTOL64)
        tgrads = dict(tnet.named_parameters())
        for ours, theirs in [("conv.weight", "0.weight"), ("bn.weight", "1.weight"),
                             ("fc.weight", "6.weight"), ("fc.bias", "6.bias")]:
            np.testing.assert_allclose(net.get_parameter(ours).grad.detach().numpy(),
                                       tgrads[theirs].grad.numpy(), rtol=RTOL64, atol=1e-12)
        opt.step()
        topt.step()
        losses.append(loss.item())
    assert losses[2] < losses[0]
    moved = net.get_parameter("conv.weight").detach().numpy()
    assert not np.allclose(moved, p["conv.weight"])
    np.testing.assert_allclose(moved,
                               tnet[0].weight.detach().numpy(), rtol=RTOL64)


def test_batchnorm_training_mode_uses_batch_statistics_and_onnx_momentum() -> None:
    """In .train(): y = torch's training-mode batch norm of the batch (biased variance), and
    the running buffers move by ONNX's rule running * momentum + batch * (1 - momentum)
    (biased batch variance), checked against numpy."""
    model, tnet, p = _small_cnn()
    net = numcnn.onnx.load(model).train()
    x = np.random.default_rng(4).standard_normal((5, 3, 8, 8))
    y = net(x)
    tnet.train()
    want = tnet(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(y.detach().numpy(), want, rtol=RTOL64, atol=1e-12)
    with torch.no_grad():
        c = tnet[0](torch.from_numpy(x)).numpy()
    mean, var = c.mean(axis=(0, 2, 3)), c.var(axis=(0, 2, 3))
    np.testing.assert_allclose(net.bn.running_mean.numpy(),
                               p["bn.running_mean"] * 0.8 + mean * 0.2, rtol=RTOL64)
    np.testing.assert_allclose(net.bn.running_var.numpy(),
                               p["bn.running_var"] * 0.8 + var * 0.2, rtol=RTOL64)


def test_loaded_module_starts_in_eval_mode_and_dropout_drops_in_train() -> None:
    model = _model([helper.make_node("Dropout", ["x", "r"], ["y"])],
                   [_vi("x", [1000])], [_vi("y", [1000])], {"r": np.array(0.5, np.float32)})
    net = numcnn.onnx.load(model)
    x = np.ones(1000, np.float32)
    assert not net.training
    np.testing.assert_array_equal(net(x).numpy(), x)
    numcnn.manual_seed(0)
    y = net.train()(x).numpy()
    assert set(np.unique(y)) == {0.0, 2.0}
    assert 400 < (y == 0).sum() < 600


# ---------------------------------------------------------------- names and state


def test_state_dict_keys_follow_dotted_names_and_sanitise_the_rest() -> None:
    inits = {"features.0.weight": np.ones((2, 1, 1, 1), np.float32),
             "layer1.0.bn1.running_mean": np.zeros(2, np.float32),
             "layer1.0.bn1.running_var": np.ones(2, np.float32),
             "layer1.0.bn1.weight": np.ones(2, np.float32),
             "layer1.0.bn1.bias": np.zeros(2, np.float32),
             "onnx::Mul_7": np.full(2, 3.0, np.float32).reshape(1, 2, 1, 1),
             "shape": np.array([0, -1], np.int64)}
    nodes = [helper.make_node("Conv", ["x", "features.0.weight"], ["c"]),
             helper.make_node("BatchNormalization", ["c", "layer1.0.bn1.weight",
                                                     "layer1.0.bn1.bias",
                                                     "layer1.0.bn1.running_mean",
                                                     "layer1.0.bn1.running_var"], ["n"]),
             helper.make_node("Mul", ["n", "onnx::Mul_7"], ["m"]),
             helper.make_node("Reshape", ["m", "shape"], ["y"])]
    model = _model(nodes, [_vi("x", ["N", 1, 2, 2])], [_out("y")], inits)
    net = numcnn.onnx.load(model)
    assert set(net.state_dict()) == {"features.0.weight", "layer1.0.bn1.running_mean",
                                     "layer1.0.bn1.running_var", "layer1.0.bn1.weight",
                                     "layer1.0.bn1.bias", "onnx__Mul_7"}
    # an integer constant is a buffer of the graph, left out of the state_dict
    assert dict(net.named_buffers())["shape"].tolist() == [0, -1]
    assert {k for k, _ in net.named_parameters()} == {"features.0.weight",
                                                      "layer1.0.bn1.weight",
                                                      "layer1.0.bn1.bias", "onnx__Mul_7"}
    assert net.input_shapes == [(None, 1, 2, 2)]
    x = np.random.default_rng(0).standard_normal((3, 1, 2, 2)).astype(np.float32)
    with numcnn.no_grad():
        np.testing.assert_allclose(net(x).numpy(), _ort(model, {"x": x})[0], rtol=RTOL, atol=ATOL)
        net.get_parameter("features.0.weight").mul_(2.0)   # the graph reads the module's state
        np.testing.assert_allclose(net(x).numpy(), 2 * _ort(model, {"x": x})[0],
                                   rtol=RTOL, atol=ATOL)


def test_numcnn_exported_resnet18_loads_back_into_the_zoo_model(tmp_path) -> None:
    """export -> load keeps the state_dict keys, so the loaded weights load into
    numcnn.models.resnet18 (strict=False: ONNX has no num_batches_tracked) and give its
    outputs."""
    numcnn.manual_seed(0)
    src = numcnn.models.resnet18(num_classes=10).eval()
    path = tmp_path / "r18.onnx"
    numcnn.onnx.export(src, (numcnn.randn(1, 3, 32, 32),), str(path))
    loaded = numcnn.onnx.load(str(path))
    dst = numcnn.models.resnet18(num_classes=10).eval()
    result = dst.load_state_dict(loaded.state_dict(), strict=False)
    assert all(k.endswith("num_batches_tracked") for k in result.missing_keys)
    extra = loaded.state_dict()          # beyond the model's keys: the exporter's int constants
    assert all(not extra[k].is_floating_point() for k in result.unexpected_keys)
    assert {k for k in extra if extra[k].is_floating_point()} == {
        k for k in src.state_dict() if not k.endswith("num_batches_tracked")}
    x = numcnn.randn(1, 3, 32, 32)                       # exported with a static batch of 1
    with numcnn.no_grad():
        want = src(x).numpy()
        np.testing.assert_allclose(dst(x).numpy(), want, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(loaded(x).numpy(), want, rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------- what cannot run


def test_lrn_even_size_follows_the_onnx_window() -> None:
    """LRN with an even size sums channels [c - floor((size-1)/2), c + ceil((size-1)/2)]
    (ONNX Runtime refuses even sizes, torch centres the window differently): a plain loop."""
    size, alpha, beta, bias = 4, 0.01, 0.6, 2.0
    model = _model([helper.make_node("LRN", ["x"], ["y"], size=size, alpha=alpha, beta=beta,
                                     bias=bias)], [_vi("x", [None, 4, 9, 8])], [_out("y")])
    x = X.astype(np.float64)
    want = np.empty_like(x)
    for c in range(x.shape[1]):
        lo, hi = max(0, c - (size - 1) // 2), min(x.shape[1] - 1, c + size // 2)
        sq = (x[:, lo:hi + 1] ** 2).sum(axis=1)
        want[:, c] = x[:, c] / (bias + alpha / size * sq) ** beta
    with numcnn.no_grad():
        got = numcnn.onnx.load(model)(X).numpy()
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def test_unsupported_everything_is_listed_in_one_error() -> None:
    """Every unsupported operator (subgraphs included, with counts), foreign domain and
    tensor type is named in one OnnxImportError, raised before anything runs."""
    then_g = helper.make_graph([helper.make_node("Hardmax", ["x"], ["t"])], "then", [],
                               [_vi("t", None)])
    else_g = helper.make_graph([helper.make_node("Hardmax", ["x"], ["e"])], "else", [],
                               [_vi("e", None)])
    nodes = [helper.make_node("TopK", ["x", "k"], ["v", "i"]),
             helper.make_node("TopK", ["v", "k"], ["v2", "i2"]),
             helper.make_node("If", ["c"], ["z"], then_branch=then_g, else_branch=else_g),
             helper.make_node("Scaler", ["x"], ["s"], domain="ai.onnx.ml"),
             helper.make_node("Cast", ["x"], ["h"], to=TensorProto.FLOAT16),
             helper.make_node("Relu", ["x"], ["y"])]
    model = helper.make_model(
        helper.make_graph(nodes, "g", [_vi("x", [2]), _vi("c", [], TensorProto.BOOL)],
                          [_vi("y", [2]), _vi("z", None)],
                          [numpy_helper.from_array(np.array([1], np.int64), "k")]),
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])
    with pytest.raises(OnnxImportError) as err:
        numcnn.onnx.OnnxModule(model)
    msg = str(err.value)
    for part in ("Hardmax (2)", "TopK (2)", "ai.onnx.ml::Scaler (1)", "FLOAT16 (1)"):
        assert part in msg
    assert "Relu" not in msg and "If" not in msg


def test_unsupported_opset_is_refused() -> None:
    model = _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", [2])], [_vi("y", [2])],
                   opset=5)
    with pytest.raises(OnnxImportError, match="opset 5"):
        numcnn.onnx.OnnxModule(model)


def test_forward_checks_the_number_of_inputs() -> None:
    model = _model([helper.make_node("Add", ["a", "b"], ["y"])],
                   [_vi("a", [2]), _vi("b", [2])], [_vi("y", [2])])
    net = numcnn.onnx.load(model)
    with pytest.raises(ValueError, match="expected 2 inputs"):
        net(np.ones(2, np.float32))


# ---------------------------------------------------------------- load cost


def test_read_model_hands_the_checker_the_bytes_it_read(tmp_path, monkeypatch) -> None:
    """onnx.checker gets the file's own bytes (a path), the bytes given, or one
    serialisation of a ModelProto -- never a second serialisation of what was parsed; a model
    whose external data was read in is checked as the ModelProto it became."""
    seen: list = []
    real = onnx.checker.check_model
    monkeypatch.setattr(onnx.checker, "check_model", lambda m, *a, **k: (seen.append(m),
                                                                          real(m, *a, **k)))
    model = _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", [2])], [_vi("y", [2])],
                   {"w": np.arange(4096, dtype=np.float32)})
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    numcnn.onnx.read_model(str(path))
    numcnn.onnx.read_model(model)
    numcnn.onnx.read_model(path.read_bytes())
    assert [type(m) for m in seen] == [bytes] * 3
    assert seen[0] == seen[1] == seen[2] == path.read_bytes()
    onnx.save_model(model, str(tmp_path / "ext.onnx"), save_as_external_data=True,
                    location="ext.bin", size_threshold=0)
    got = numcnn.onnx.read_model(str(tmp_path / "ext.onnx"))
    assert seen[3] is got and got.graph.initializer[0].HasField("raw_data")


def test_initialisers_become_writable_arrays_of_their_own() -> None:
    """Each stored form (raw_data, float_data, int64_data; float, int64, bool) gives the
    values onnx.numpy_helper reads, in a writable array that the ModelProto does not share."""
    values = {"raw.w": np.arange(6, dtype=np.float32).reshape(2, 3),
              "shape": np.array([3, 2], np.int64), "flag": np.array([True, False])}
    model = _model([helper.make_node("Mul", ["x", "raw.w"], ["m"]),
                    helper.make_node("Add", ["m", "typed.b"], ["a"]),
                    helper.make_node("Reshape", ["a", "shape"], ["r"]),
                    helper.make_node("Where", ["flag", "r", "r"], ["y"])],
                   [_vi("x", [2, 3])], [_out("y")], values)
    model.graph.initializer.append(helper.make_tensor("typed.b", TensorProto.FLOAT, [3],
                                                      [0.5, -1.0, 2.0]))      # float_data
    net = numcnn.onnx.load(model)
    state = {k: v.detach() for k, v in [*net.named_parameters(), *net.named_buffers()]}
    for t in model.graph.initializer:
        key = t.name.replace("::", "__")
        want = numpy_helper.to_array(t)
        assert state[key].array.flags.writeable
        np.testing.assert_array_equal(state[key].numpy(), want)
        assert state[key].array.dtype == want.dtype
    with numcnn.no_grad():
        net.get_parameter("raw.w").mul_(2.0)
    np.testing.assert_array_equal(numpy_helper.to_array(model.graph.initializer[0]),
                                  values["raw.w"])
    x = np.ones((2, 3), np.float32)
    with numcnn.no_grad():
        np.testing.assert_array_equal(net(x).numpy(),
                                      (2 * values["raw.w"] + [0.5, -1.0, 2.0]).reshape(3, 2))


def test_batchnorm_statistics_held_by_the_root_move_in_training() -> None:
    """Running statistics a node does not own (names that are not dotted, so they stay at
    the root) are still updated by ONNX's momentum rule in .train()."""
    r = np.random.default_rng(5)
    p = {"scale": r.standard_normal(3), "bias": r.standard_normal(3),
         "mean": r.standard_normal(3), "var": r.random(3) + 0.5}
    model = _model([helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"],
                                     ["y"], momentum=0.7)],
                   [_vi("x", [None, 3, 4, 4], TensorProto.DOUBLE)],
                   [_vi("y", [None, 3, 4, 4], TensorProto.DOUBLE)], p)
    net = numcnn.onnx.load(model).train()
    assert {k for k, _ in net.named_buffers()} == {"mean", "var"}
    x = r.standard_normal((4, 3, 4, 4))
    net(x)
    np.testing.assert_allclose(net.mean.numpy(), p["mean"] * 0.7 + x.mean(axis=(0, 2, 3)) * 0.3,
                               rtol=RTOL64)
    np.testing.assert_allclose(net.var.numpy(), p["var"] * 0.7 + x.var(axis=(0, 2, 3)) * 0.3,
                               rtol=RTOL64)


def test_sequential_models_keep_their_index_keys() -> None:
    """A numcnn Sequential ("features.0.weight", "0.weight" at the root) exported and loaded
    back has the model's state_dict keys (num_batches_tracked aside: ONNX has no counter), and
    that state loads into a fresh model with the same outputs."""
    def flat() -> numcnn.nn.Module:
        return numcnn.nn.Sequential(numcnn.nn.Conv2d(1, 4, 3), numcnn.nn.ReLU(),
                                    numcnn.nn.Flatten(), numcnn.nn.Linear(4 * 26 * 26, 3))

    x = numcnn.randn(2, 1, 28, 28)
    for factory in (numcnn.models.fmnist_cnn, flat):
        numcnn.manual_seed(0)
        net = factory().eval()
        buf = io.BytesIO()
        numcnn.onnx.export(net, x, buf)
        back = numcnn.onnx.load(buf.getvalue())
        want = {k for k in net.state_dict() if not k.endswith("num_batches_tracked")}
        assert set(back.state_dict()) == want
        numcnn.manual_seed(1)
        fresh = factory().eval()
        missing, unexpected = fresh.load_state_dict(back.state_dict(), strict=False)
        assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing)
        with numcnn.no_grad():
            np.testing.assert_allclose(fresh(x).numpy(), net(x).numpy(), rtol=1e-6)
            np.testing.assert_allclose(back(x).numpy(), net(x).numpy(), rtol=1e-5, atol=1e-6)
