"""numcnn.onnx.export, op by op: each small model is exported, passes onnx.checker (full check:
types and shape inference), and ONNX Runtime's output equals numcnn's (float32, rtol 1e-4
atol 1e-5) at opsets 13, 17 and the newest; with a dynamic batch axis it is traced at batch 2
and run at batch 3.  Where PyTorch defines the convention ONNX differs from (LRN's window,
pooling's ceil_mode, interpolate's coordinates), torch is a second oracle."""

from __future__ import annotations

import io
import os
from typing import Any, Callable

import numpy as np
import pytest

import numcnn
import numcnn.nn.functional as F
from numcnn import nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from numcnn.onnx import (  # noqa: E402  (after the importorskip of the optional package)
    OnnxExporterError,
    UnsupportedOperatorError,
    export,
)
from numcnn.onnx.export import max_opset  # noqa: E402

OPSETS = [13, 17, max_opset()]


class Fn(nn.Module):
    """A module whose forward is `fn(x, *rest)` (the functional ops under test)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *xs: Any) -> Any:
        return self.fn(*xs)


def ort_run(proto: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(proto.SerializeToString(), so,
                                providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def numcnn_run(model: nn.Module, xs: list[np.ndarray]) -> list[np.ndarray]:
    with numcnn.no_grad():
        out = model(*[numcnn.from_numpy(x) for x in xs])
    return [o.array for o in (out if isinstance(out, (tuple, list)) else [out])]


def rand(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def check(model: nn.Module, shapes: list[tuple[int, ...]], opset: int = 17,
          dynamic: bool = True, rtol: float = 1e-4, atol: float = 1e-5) -> Any:
    """Export at batch 2 (dynamic batch unless told otherwise), check, and compare ORT with
    numcnn at batch 3 (dynamic) or 2; returns the model proto."""
    model.eval()
    xs = [rand(s, seed=i) for i, s in enumerate(shapes)]
    names = ["input"] + [f"input_{i}" for i in range(1, len(xs))]
    axes = {n: [0] for n in names} if dynamic else None
    if axes is not None:
        axes["output"] = [0]
    buf = io.BytesIO()
    proto = export(model, tuple(numcnn.from_numpy(x) for x in xs), buf, opset_version=opset,
                   dynamic_axes=axes)
    assert buf.getvalue() == proto.SerializeToString()
    onnx.checker.check_model(proto, full_check=True)
    if dynamic:
        xs = [rand((3,) + s[1:], seed=10 + i) for i, s in enumerate(shapes)]
    got = ort_run(proto, dict(zip(names, xs)))
    want = numcnn_run(model, xs)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)
    return proto


# ----------------------------------------------------------------------------- op cases
CASES: dict[str, tuple[Callable[[], nn.Module], list[tuple[int, ...]]]] = {
    # convolutions
    "conv1d": (lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1, dilation=2), [(2, 3, 11)]),
    "conv2d_groups": (lambda: nn.Conv2d(4, 6, 3, padding=2, groups=2, dilation=2),
                      [(2, 4, 9, 8)]),
    "conv2d_same": (lambda: nn.Conv2d(3, 4, (4, 3), padding="same", bias=False),
                    [(2, 3, 7, 6)]),
    "conv2d_reflect": (lambda: nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"),
                       [(2, 3, 6, 6)]),
    "conv2d_circular": (lambda: nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular"),
                        [(2, 3, 6, 6)]),
    "conv3d": (lambda: nn.Conv3d(2, 3, 3, stride=(1, 2, 2), padding=1), [(2, 2, 4, 6, 6)]),
    "depthwise": (lambda: nn.Conv2d(4, 8, 3, groups=4, stride=2), [(2, 4, 9, 9)]),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1,
                                                    output_padding=1), [(2, 4, 5, 5)]),
    "conv_transpose1d_groups": (lambda: nn.ConvTranspose1d(4, 6, 4, stride=3, groups=2,
                                                           dilation=2), [(2, 4, 5)]),
    # linear algebra
    "linear": (lambda: nn.Linear(5, 3), [(2, 5)]),
    "linear_3d": (lambda: nn.Linear(5, 3), [(2, 4, 5)]),
    "linear_nobias": (lambda: nn.Linear(5, 3, bias=False), [(2, 5)]),
    "matmul": (lambda: Fn(lambda a, b: numcnn.matmul(a, b)), [(2, 3, 4), (2, 4, 5)]),
    # normalisation
    "batchnorm2d": (lambda: _bn_with_stats(nn.BatchNorm2d(3)), [(2, 3, 4, 4)]),
    "batchnorm1d_noaffine": (lambda: _bn_with_stats(nn.BatchNorm1d(3, affine=False)),
                             [(2, 3)]),
    "instancenorm": (lambda: nn.InstanceNorm2d(3, affine=True), [(2, 3, 4, 5)]),
    "layernorm": (lambda: nn.LayerNorm([4, 5]), [(2, 3, 4, 5)]),
    "groupnorm": (lambda: nn.GroupNorm(2, 4), [(2, 4, 3, 3)]),
    "lrn_odd": (lambda: nn.LocalResponseNorm(3, alpha=0.1, beta=0.75, k=2.0), [(2, 6, 3, 3)]),
    "lrn_even": (lambda: nn.LocalResponseNorm(4, alpha=0.2, beta=0.6, k=1.5), [(2, 6, 3, 3)]),
    # pooling
    "maxpool2d": (lambda: nn.MaxPool2d(3, stride=2, padding=1), [(2, 3, 7, 7)]),
    "maxpool_ceil": (lambda: nn.MaxPool2d(3, stride=2, ceil_mode=True), [(2, 3, 8, 8)]),
    "maxpool_dilation": (lambda: nn.MaxPool2d(2, stride=1, dilation=2), [(2, 3, 6, 6)]),
    "maxpool1d": (lambda: nn.MaxPool1d(2), [(2, 3, 9)]),
    "avgpool_pad": (lambda: nn.AvgPool2d(3, stride=2, padding=1), [(2, 3, 7, 7)]),
    "avgpool_nopad_count": (lambda: nn.AvgPool2d(3, stride=2, padding=1,
                                                 count_include_pad=False), [(2, 3, 7, 7)]),
    "avgpool_ceil": (lambda: nn.AvgPool2d(2, stride=2, ceil_mode=True), [(2, 3, 7, 7)]),
    "avgpool_divisor": (lambda: nn.AvgPool2d(2, divisor_override=3), [(2, 3, 6, 6)]),
    "adaptive_avg_global": (lambda: nn.AdaptiveAvgPool2d(1), [(2, 3, 5, 5)]),
    "adaptive_avg_divides": (lambda: nn.AdaptiveAvgPool2d((2, 3)), [(2, 3, 4, 6)]),
    "adaptive_avg_uneven": (lambda: nn.AdaptiveAvgPool2d((3, 7)), [(2, 3, 5, 4)]),
    "adaptive_max_global": (lambda: nn.AdaptiveMaxPool2d(1), [(2, 3, 5, 5)]),
    "adaptive_max_divides": (lambda: nn.AdaptiveMaxPool2d(2), [(2, 3, 4, 6)]),
    "adaptive_max_uneven": (lambda: nn.AdaptiveMaxPool2d((3, 2)), [(2, 3, 5, 5)]),
    # activations
    "relu": (lambda: nn.ReLU(), [(2, 3, 4)]),
    "relu_inplace": (lambda: nn.Sequential(nn.Conv1d(3, 3, 1), nn.ReLU(inplace=True)),
                     [(2, 3, 4)]),
    "relu6": (lambda: nn.ReLU6(), [(2, 3, 4)]),
    "hardtanh": (lambda: nn.Hardtanh(-0.5, 0.7), [(2, 3, 4)]),
    "leaky_relu": (lambda: nn.LeakyReLU(0.2), [(2, 3, 4)]),
    "elu": (lambda: nn.ELU(0.7), [(2, 3, 4)]),
    "selu": (lambda: nn.SELU(), [(2, 3, 4)]),
    "celu": (lambda: nn.CELU(1.5), [(2, 3, 4)]),
    "gelu": (lambda: nn.GELU(), [(2, 3, 4)]),
    "gelu_tanh": (lambda: nn.GELU(approximate="tanh"), [(2, 3, 4)]),
    "sigmoid": (lambda: nn.Sigmoid(), [(2, 3, 4)]),
    "tanh": (lambda: nn.Tanh(), [(2, 3, 4)]),
    "softplus": (lambda: nn.Softplus(), [(2, 3, 4)]),
    "softplus_beta": (lambda: nn.Softplus(beta=2.0), [(2, 3, 4)]),
    "hardsigmoid": (lambda: nn.Hardsigmoid(), [(2, 3, 4)]),
    "hardswish": (lambda: nn.Hardswish(), [(2, 3, 4)]),
    "silu": (lambda: nn.SiLU(), [(2, 3, 4)]),
    "mish": (lambda: nn.Mish(), [(2, 3, 4)]),
    "prelu": (lambda: _prelu(), [(2, 3, 4, 4)]),
    "prelu_single": (lambda: nn.PReLU(), [(2, 3, 4)]),
    "logsigmoid": (lambda: nn.LogSigmoid(), [(2, 3, 4)]),
    "threshold": (lambda: nn.Threshold(0.1, -2.0), [(2, 3, 4)]),
    "softmax": (lambda: nn.Softmax(dim=1), [(2, 3, 4)]),
    "logsoftmax": (lambda: nn.LogSoftmax(dim=-1), [(2, 3, 4)]),
    "dropout_eval": (lambda: nn.Sequential(nn.Dropout(0.5), nn.Linear(4, 2)), [(2, 4)]),
    # arithmetic
    "add_sub_mul_div": (lambda: Fn(lambda a, b: (a + b) * 2.0 - b / (a.abs() + 1.0)),
                        [(2, 3, 4), (2, 3, 4)]),
    "broadcast_scalars": (lambda: Fn(lambda a: 3.0 - a * 0.5 + 1), [(2, 3)]),
    "pow_neg_exp_log_sqrt": (lambda: Fn(lambda a: (-(a.abs() + 0.5).log()).exp()
                                        + (a * a + 1.0).sqrt() ** 1.5), [(2, 3, 4)]),
    "clamp": (lambda: Fn(lambda a: numcnn.clamp(a, -0.5, 0.3) + a.clamp(min=0.1)),
              [(2, 3, 4)]),
    "maximum_minimum": (lambda: Fn(lambda a, b: numcnn.maximum(a, b) - numcnn.minimum(a, b)),
                        [(2, 3), (2, 3)]),
    "inplace_add": (lambda: Fn(_inplace_arith), [(2, 3)]),
    "erf": (lambda: Fn(lambda a: numcnn.erf(a)), [(2, 3)]),
    "trilinear": (lambda: nn.Upsample(scale_factor=2, mode="trilinear"), [(2, 2, 2, 3, 2)]),
    # shapes
    "flatten": (lambda: nn.Flatten(), [(2, 3, 4, 5)]),
    "view": (lambda: Fn(lambda a: a.view(a.shape[0], 4, -1).sum(dim=2)), [(2, 4, 3, 2)]),
    "permute": (lambda: Fn(lambda a: a.permute(0, 2, 3, 1) * 1.0), [(2, 3, 4, 5)]),
    "transpose": (lambda: Fn(lambda a: a.transpose(1, 2) + 0.0), [(2, 3, 4)]),
    "expand": (lambda: Fn(lambda a: a[:, :, :1].expand(-1, -1, 5) + a), [(2, 3, 5)]),
    "slices": (lambda: Fn(lambda a: a[:, 1:3, ::2, -2:]), [(2, 4, 5, 6)]),
    "integer_index": (lambda: Fn(lambda a: a[:, 2, None, 1:]), [(2, 4, 5)]),
    "cat": (lambda: Fn(lambda a, b: numcnn.cat([a, b, a], dim=1)), [(2, 3, 4), (2, 2, 4)]),
    "stack": (lambda: Fn(lambda a, b: numcnn.stack([a, b], dim=1)), [(2, 3), (2, 3)]),
    "channel_shuffle": (lambda: nn.ChannelShuffle(3), [(2, 6, 2, 3)]),
    "pixel_shuffle": (lambda: nn.PixelShuffle(2), [(2, 8, 3, 2)]),
    "flip": (lambda: Fn(lambda a: numcnn.flip(a, [1, 2])), [(2, 3, 4)]),
    "pad_constant": (lambda: Fn(lambda a: F.pad(a, (1, 2, 0, 3), value=0.5)), [(2, 3, 4, 4)]),
    "pad_reflect": (lambda: nn.ReflectionPad2d((1, 2, 2, 1)), [(2, 3, 4, 4)]),
    "pad_replicate": (lambda: nn.ReplicationPad2d(2), [(2, 3, 4, 4)]),
    "pad_crop": (lambda: Fn(lambda a: F.pad(a, (-1, 1))), [(2, 3, 5)]),
    "upsample_nearest": (lambda: nn.Upsample(scale_factor=2), [(2, 3, 3, 4)]),
    "upsample_nearest_size": (lambda: nn.Upsample(size=(5, 7)), [(2, 3, 3, 4)]),
    "upsample_bilinear": (lambda: nn.Upsample(scale_factor=2, mode="bilinear"),
                          [(2, 3, 3, 4)]),
    "upsample_bilinear_ac": (lambda: nn.Upsample(size=(5, 6), mode="bilinear",
                                                 align_corners=True), [(2, 3, 3, 4)]),
    "mean_sum": (lambda: Fn(lambda a: a.mean(dim=(2, 3), keepdim=True) + a.sum(dim=1,
                                                                                 keepdim=True)),
                 [(2, 3, 4, 5)]),
    "mean_all": (lambda: Fn(lambda a: a[:1].mean() + a), [(2, 3)]),
    "var": (lambda: Fn(lambda a: a.var(dim=1)), [(2, 5, 3)]),
    "amax": (lambda: Fn(lambda a: numcnn.amax(a, dim=1)), [(2, 5, 3)]),
    "clone_cast": (lambda: Fn(lambda a: a.clone().double().float()), [(2, 3)]),
}


def _bn_with_stats(bn: nn.Module) -> nn.Module:
    """A batch norm whose running statistics and affine are not the trivial ones."""
    rng = np.random.default_rng(3)
    c = bn.running_mean.shape[0]
    bn.running_mean.array[...] = rng.standard_normal(c)
    bn.running_var.array[...] = rng.uniform(0.5, 2.0, c)
    if bn.weight is not None:
        bn.weight.array[...] = rng.uniform(0.5, 1.5, c)
        bn.bias.array[...] = rng.standard_normal(c)
    return bn


def _prelu() -> nn.Module:
    m = nn.PReLU(3)
    m.weight.array[...] = np.array([0.1, -0.3, 0.7], dtype=np.float32)
    return m


def _inplace_arith(a: Any) -> Any:
    y = a * 2.0
    y += a
    y.mul_(3.0)
    z = F.hardtanh(y, -1.0, 1.0, inplace=True)
    return z + y


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_op_dynamic_batch(case: str, opset: int) -> None:
    make, shapes = CASES[case]
    numcnn.manual_seed(0)
    check(make(), shapes, opset=opset)


@pytest.mark.parametrize("case", ["conv2d_same", "maxpool_ceil", "upsample_bilinear",
                                  "adaptive_avg_uneven", "lrn_even"])
def test_op_static(case: str) -> None:
    make, shapes = CASES[case]
    numcnn.manual_seed(0)
    proto = check(make(), shapes, dynamic=False)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == list(shapes[0])


def test_where_condition_is_a_constant() -> None:
    """numcnn's comparisons are not traced ops: the mask of the traced run is written."""
    mask = numcnn.from_numpy(np.array([[True, False, True]]))
    m = Fn(lambda a, b: numcnn.where(mask, a, b))
    xs = [rand((2, 3)), rand((2, 3), 1)]
    proto = export(m, tuple(numcnn.from_numpy(x) for x in xs), io.BytesIO())
    got = ort_run(proto, {"input": xs[0], "input_1": xs[1]})[0]
    np.testing.assert_array_equal(got, np.where(mask.array, xs[0], xs[1]))


@pytest.mark.parametrize("fn", [lambda a: numcnn.where(a > 0, a, a * 0.1),
                                lambda a: a.masked_fill(a < 0, 0.0),
                                lambda a: numcnn.fmax(a, a * a - 0.5)],
                         ids=["where", "masked_fill", "fmax"])
def test_where_condition_from_the_input_is_refused(fn: Any) -> None:
    """A mask computed from the input would be written as the traced run's constant, giving
    a graph that computes something else on other inputs: refused, before anything is
    written."""
    buf = io.BytesIO()
    with pytest.raises(OnnxExporterError, match="depends on the input"):
        export(Fn(fn), numcnn.from_numpy(rand((2, 3))), buf)
    assert buf.getvalue() == b""


def test_float64_model() -> None:
    numcnn.manual_seed(0)
    # (ONNX Runtime's CPU provider has no float64 Conv, so this model has none)
    m = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Tanh(), nn.Linear(3, 2)).double()
    m.eval()
    x = numcnn.from_numpy(np.random.default_rng(0).standard_normal((2, 4)))
    proto = export(m, x, io.BytesIO())
    got = ort_run(proto, {"input": x.array})[0]
    np.testing.assert_allclose(got, numcnn_run(m, [x.array])[0], rtol=1e-7, atol=1e-12)


# ----------------------------------------------------------------------------- torch oracles
torch = pytest.importorskip("torch")


def _torch_vs_ort(tmodel: Any, model: nn.Module, shape: tuple[int, ...]) -> None:
    x = rand(shape, seed=5)
    proto = export(model.eval(), numcnn.from_numpy(x), io.BytesIO())
    got = ort_run(proto, {"input": x})[0]
    with torch.no_grad():
        want = tmodel.eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("size", [2, 3, 4, 5])
def test_lrn_window_matches_torch(size: int) -> None:
    """ONNX's LRN window is centred the other way for even sizes than torch's."""
    kw = {"alpha": 0.3, "beta": 0.75, "k": 1.5}
    _torch_vs_ort(torch.nn.LocalResponseNorm(size, **kw), nn.LocalResponseNorm(size, **kw),
                  (2, 7, 3, 3))


@pytest.mark.parametrize("kw", [{"kernel_size": 3, "stride": 2, "ceil_mode": True},
                                {"kernel_size": 3, "stride": 2, "padding": 1,
                                 "ceil_mode": True},
                                {"kernel_size": 2, "stride": 3, "ceil_mode": True}])
def test_pools_ceil_mode_match_torch(kw: dict[str, Any]) -> None:
    _torch_vs_ort(torch.nn.MaxPool2d(**kw), nn.MaxPool2d(**kw), (2, 3, 8, 8))
    _torch_vs_ort(torch.nn.AvgPool2d(**kw), nn.AvgPool2d(**kw), (2, 3, 8, 8))


@pytest.mark.parametrize("mode,ac", [("nearest", None), ("nearest-exact", None),
                                     ("bilinear", False), ("bilinear", True)])
def test_interpolate_matches_torch(mode: str, ac: bool | None) -> None:
    def up(f: Any) -> Callable[[Any], Any]:
        return lambda x: f(x, scale_factor=(1.5, 2.0), mode=mode, align_corners=ac)
    _torch_vs_ort(Fn(up(torch.nn.functional.interpolate)), Fn(up(F.interpolate)),
                  (2, 3, 4, 5))


# ----------------------------------------------------------------------------- model-level
def test_names_dynamic_axes_and_state_dict_keys() -> None:
    numcnn.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    x = numcnn.from_numpy(rand((1, 3, 6, 6)))
    proto = export(m, (x,), io.BytesIO(), input_names=["image"], output_names=["logits"],
                   dynamic_axes={"image": {0: "batch", 2: "h", 3: "w"}, "logits": [0]})
    g = proto.graph
    assert [i.name for i in g.input] == ["image"] and [o.name for o in g.output] == ["logits"]
    dims = g.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 3, "h", "w"]
    assert g.output[0].type.tensor_type.shape.dim[0].dim_param == "logits_dynamic_axes_1"
    keys = {k for k, v in m.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert keys <= {t.name for t in g.initializer}
    assert "BatchNormalization" in {n.op_type for n in g.node}     # not folded
    y = ort_run(proto, {"image": rand((5, 3, 9, 7))})[0]
    np.testing.assert_allclose(y, numcnn_run(m.eval(), [rand((5, 3, 9, 7))])[0],
                               rtol=1e-4, atol=1e-5)


def test_modes_restored_and_default_names() -> None:
    m = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5), nn.BatchNorm1d(3))
    m.train()
    m[1].eval()
    proto = export(m, (numcnn.from_numpy(rand((4, 3))),) * 1, io.BytesIO())
    assert m.training and m[0].training and not m[1].training and m[2].training
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["output"]


def test_two_inputs_two_outputs() -> None:
    m = Fn(lambda a, b: (a + b, a * b))
    xs = (numcnn.from_numpy(rand((2, 3))), numcnn.from_numpy(rand((2, 3), 1)))
    proto = export(m, xs, io.BytesIO())
    assert [i.name for i in proto.graph.input] == ["input", "input_1"]
    assert [o.name for o in proto.graph.output] == ["output", "output_1"]
    got = ort_run(proto, {"input": xs[0].array, "input_1": xs[1].array})
    np.testing.assert_allclose(got[0], xs[0].array + xs[1].array, rtol=1e-6)
    np.testing.assert_allclose(got[1], xs[0].array * xs[1].array, rtol=1e-6)


def test_shared_parameter_is_one_initializer() -> None:
    lin = nn.Linear(3, 3)
    m = nn.Sequential(lin, nn.ReLU(), lin)
    proto = export(m, numcnn.from_numpy(rand((2, 3))), io.BytesIO())
    names = [t.name for t in proto.graph.initializer]
    assert sorted(names) == ["0.bias", "0.weight"]


# ----------------------------------------------------------------------------- errors
class _Unsupported(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)

    def forward(self, x: Any) -> Any:
        return numcnn.cumsum(self.conv(x), dim=1).sin()


def test_unsupported_ops_listed_before_writing(tmp_path: Any) -> None:
    path = tmp_path / "m.onnx"
    with pytest.raises(UnsupportedOperatorError) as e:
        export(_Unsupported(), numcnn.from_numpy(rand((1, 1, 2, 2))), path)
    msg = str(e.value)
    assert "2 operator(s)" in msg and "Cumsum" in msg and "Sin" in msg and "'<model>'" in msg
    assert not path.exists()


def test_dynamic_axis_that_cannot_stay_dynamic() -> None:
    m = Fn(lambda a: a.reshape(a.shape[2], -1))     # two dynamic sizes moved elsewhere
    with pytest.raises(OnnxExporterError, match="Reshape"):
        export(m, numcnn.from_numpy(rand((2, 3, 4))), io.BytesIO(),
               dynamic_axes={"input": [0, 2]})
    fixed = nn.Sequential(nn.Flatten(), nn.Linear(12, 2))   # the Linear needs 12 features
    with pytest.raises(OnnxExporterError, match="cannot be dynamic"):
        export(fixed, numcnn.from_numpy(rand((2, 3, 4))), io.BytesIO(),
               dynamic_axes={"input": {2: "w"}})
    m = Fn(lambda a: a[:, : a.shape[0]])      # a slice bound computed from the batch size
    with pytest.raises(OnnxExporterError, match="'index'"):
        export(m, numcnn.from_numpy(rand((2, 5))), io.BytesIO(), dynamic_axes={"input": [0]})


def test_file_path_written_atomically(tmp_path: Any) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    proto = export(nn.Linear(3, 2), numcnn.from_numpy(rand((1, 3))), str(path))
    assert path.read_bytes() == proto.SerializeToString()
    assert onnx.load(str(path)) == proto
    with pytest.raises(UnsupportedOperatorError):
        export(_Unsupported(), numcnn.from_numpy(rand((1, 1, 2, 2))), path)
    assert path.read_bytes() == proto.SerializeToString()
    assert sorted(os.listdir(tmp_path)) == ["m.onnx"]         # no temporary file left


@pytest.mark.parametrize("kwargs,error,match", [
    ({"opset_version": 12}, ValueError, "opset_version"),
    ({"opset_version": 99}, ValueError, "opset_version"),
    ({"opset_version": "17"}, ValueError, "opset_version"),
    ({"input_names": ["a", "b"]}, ValueError, "input_names"),
    ({"input_names": "x"}, TypeError, "input_names"),
    ({"output_names": [""]}, TypeError, "output_names"),
    ({"input_names": ["y"], "output_names": ["y"]}, ValueError, "distinct"),
    ({"dynamic_axes": {"nope": [0]}}, ValueError, "dynamic_axes"),
    ({"dynamic_axes": {"input": [5]}}, ValueError, "axis"),
    ({"dynamic_axes": {"input": {0: 3}}}, TypeError, "dynamic_axes"),
    ({"dynamic_axes": [0]}, TypeError, "dynamic_axes"),
])
def test_argument_errors(kwargs: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        export(nn.Linear(3, 2), numcnn.from_numpy(rand((1, 3))), io.BytesIO(), **kwargs)


def test_model_args_and_f_errors() -> None:
    x = numcnn.from_numpy(rand((1, 3)))
    with pytest.raises(TypeError, match="model"):
        export(lambda t: t, x, io.BytesIO())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="args"):
        export(nn.Linear(3, 2), x.array, io.BytesIO())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="trailing dict"):
        export(nn.Linear(3, 2), (x, {"k": 1}), io.BytesIO())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="f must be"):
        export(nn.Linear(3, 2), x, 42)  # type: ignore[arg-type]
