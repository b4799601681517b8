"""numcnn.compress.quantize.int8 against torch.ao.quantization (x86 engine, eager mode).

Oracles: torch's observers on the same data (scale and zero point equal), torch's quantised
modules with numcnn's scales and zero points forced into them (every integer output within one
quantum), torch's eager fuse/prepare/convert on the same float weights (same qparams up to
float32 rounding, same predictions), torch's fuse_conv_bn_eval in float64, and a plain loop for
the exact integer accumulation.
"""

from __future__ import annotations

import numpy as np
import pytest

import numcnn
import numcnn.nn as nn
from numcnn.compress.quantize import int8
from numcnn.tensor import Tensor

torch = pytest.importorskip("torch")
tq = torch.ao.quantization
nnq = torch.ao.nn.quantized
nniq = torch.ao.nn.intrinsic.quantized

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")   # torch.ao's deprecations


@pytest.fixture(autouse=True)
def _x86_engine():
    old = torch.backends.quantized.engine
    torch.backends.quantized.engine = "x86"
    yield
    torch.backends.quantized.engine = old


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))


def _tq(q: np.ndarray, scale: float, zero_point: int) -> torch.Tensor:
    """A torch quint8 tensor with integer values q."""
    return torch._make_per_tensor_quantized_tensor(_t(q), scale, zero_point)


def _copy_params(src: nn.Module, dst: torch.nn.Module) -> None:
    """numcnn module's parameters and buffers into the torch module of the same layout."""
    sd = {k: _t(v.array.copy()) for k, v in src.state_dict().items()}
    dst.load_state_dict(sd, strict=False)


def _random_bn(bn: nn.Module, rng: np.random.Generator) -> None:
    c = bn.num_features
    bn.running_mean.array[...] = rng.standard_normal(c) * 0.3
    bn.running_var.array[...] = rng.uniform(0.5, 2.0, c)
    bn.weight.array[...] = rng.uniform(0.5, 1.5, c)
    bn.bias.array[...] = rng.standard_normal(c) * 0.2


# ----------------------------------------------------------------------------- quantising
def test_quantize_per_tensor_matches_torch_including_ties():
    x = _rng().standard_normal(20000).astype(np.float32) * 4
    ties = (np.arange(-40, 40) * 0.5).astype(np.float32)          # x / s lands on .5
    for data, s, z in ((x, 0.05, 128), (x, 0.1, 3), (ties, 1.0, 30), (ties, 0.5, 0)):
        want = torch.quantize_per_tensor(_t(data), s, z, torch.quint8).int_repr().numpy()
        np.testing.assert_array_equal(int8.quantize_per_tensor(data, s, z), want)


def test_quantize_per_channel_matches_torch():
    w = _rng(1).standard_normal((6, 3, 3, 3)).astype(np.float32)
    s = np.abs(w).reshape(6, -1).max(1) / 127.5
    want = torch.quantize_per_channel(_t(w), _t(s.astype(np.float64)), torch.zeros(6,
                                      dtype=torch.int64), 0, torch.qint8).int_repr().numpy()
    np.testing.assert_array_equal(int8.quantize_per_channel(w, s, np.zeros(6), 0), want)


def test_quantize_argument_errors():
    with pytest.raises(ValueError, match="dtype must be"):
        int8.quantize_per_tensor(np.zeros(3), 1.0, 0, dtype="int4")
    with pytest.raises(ValueError, match="scale must be positive"):
        int8.quantize_per_tensor(np.zeros(3), 0.0, 0)
    with pytest.raises(ValueError, match="zero_point must be in"):
        int8.quantize_per_tensor(np.zeros(3), 1.0, 300)
    with pytest.raises(ValueError, match="scales and zero_points must have 2"):
        int8.quantize_per_channel(np.zeros((2, 3)), [1.0], [0], 0)


# ----------------------------------------------------------------------------- observers
def _batches(seed: int) -> list[np.ndarray]:
    rng = _rng(seed)
    return [(rng.standard_normal((8, 4, 6, 6)) * (i + 1) + 0.4 * i).astype(np.float32)
            for i in range(3)]


@pytest.mark.parametrize("reduce_range,qscheme", [
    (False, "per_tensor_affine"), (True, "per_tensor_affine"), (False, "per_tensor_symmetric")])
def test_minmax_observer_equals_torch(reduce_range, qscheme):
    ours = int8.MinMaxObserver(reduce_range=reduce_range, qscheme=qscheme)
    theirs = tq.MinMaxObserver(reduce_range=reduce_range,
                               qscheme=getattr(torch, qscheme))
    for x in _batches(0):
        ours(x)
        theirs(_t(x))
    s, z = theirs.calculate_qparams()
    got_s, got_z = ours.calculate_qparams()
    assert got_s[0] == np.float32(s.item()) and got_z[0] == z.item()


def test_observer_argument_errors():
    with pytest.raises(ValueError, match="reduce_range cannot be used with a symmetric"):
        int8.MinMaxObserver(reduce_range=True, qscheme="per_tensor_symmetric")
    with pytest.raises(ValueError, match="qscheme must be"):
        int8.MinMaxObserver(qscheme="per_channel_affine")
    with pytest.raises(ValueError, match="percentile must be in"):
        int8.PercentileObserver(percentile=40)
    with pytest.raises(ValueError, match="has seen no data"):
        int8.PerChannelMinMaxObserver().calculate_qparams()


def test_per_channel_observer_equals_torch():
    ours, theirs = int8.PerChannelMinMaxObserver(), tq.PerChannelMinMaxObserver(
        dtype=torch.qint8, qscheme=torch.per_channel_symmetric)
    for x in _batches(1):
        ours(x.transpose(1, 0, 2, 3))
        theirs(_t(x.transpose(1, 0, 2, 3)))
    s, z = theirs.calculate_qparams()
    got_s, got_z = ours.calculate_qparams()
    np.testing.assert_array_equal(got_s, s.numpy())
    np.testing.assert_array_equal(got_z, z.numpy())


@pytest.mark.parametrize("reduce_range", [False, True])
def test_histogram_observer_equals_torch(reduce_range):
    """Several batches with growing ranges (the histogram is re-binned each time) and one batch
    with an outlier (the L2 search clips it): histogram, range and qparams equal torch's."""
    rng = _rng(2)
    outlier = rng.standard_normal((64, 100)).astype(np.float32)
    outlier[0, 0] = 30.0
    for batches in (_batches(3), [outlier]):
        ours = int8.HistogramObserver(reduce_range=reduce_range)
        theirs = tq.HistogramObserver(reduce_range=reduce_range)
        for x in batches:
            ours(x)
            theirs(_t(x))
        np.testing.assert_array_equal(ours.histogram, theirs.histogram.numpy())
        s, z = theirs.calculate_qparams()
        got_s, got_z = ours.calculate_qparams()
        assert got_s[0] == np.float32(s.item()) and got_z[0] == z.item()
    assert (ours.quant_max - got_z[0]) * got_s[0] < 30     # the outlier was clipped


def test_percentile_observer_clips_the_tails():
    x = _rng(4).standard_normal(100000).astype(np.float32)
    obs = int8.PercentileObserver(percentile=99.0, reduce_range=False)
    obs(x)
    s, z = obs.calculate_qparams()
    lo, hi = -z[0] * s[0], (255 - z[0]) * s[0]
    q1, q99 = np.percentile(x, [1, 99])
    width = (x.max() - x.min()) / 2048
    assert abs(lo - q1) < 2 * width + s[0] and abs(hi - q99) < 2 * width + s[0]


# ----------------------------------------------------------------------------- folding
def test_fold_bn_equals_torch_in_float64():
    rng = _rng(5)
    conv = nn.Conv2d(3, 5, 3, padding=1, stride=2).double()
    bn = nn.BatchNorm2d(5).double()
    _random_bn(bn, rng)
    tconv, tbn = torch.nn.Conv2d(3, 5, 3, padding=1, stride=2).double(), \
        torch.nn.BatchNorm2d(5).double()
    _copy_params(conv, tconv)
    _copy_params(bn, tbn)
    tconv.eval()
    tbn.eval()
    fused, want = int8.fold_bn(conv, bn), torch.nn.utils.fusion.fuse_conv_bn_eval(tconv, tbn)
    np.testing.assert_allclose(fused.weight.array, want.weight.detach().numpy(), rtol=1e-7)
    np.testing.assert_allclose(fused.bias.array, want.bias.detach().numpy(), rtol=1e-7)
    x = rng.standard_normal((2, 3, 9, 9))
    np.testing.assert_allclose(fused(Tensor(x)).array,
                               tbn(tconv(_t(x))).detach().numpy(), rtol=1e-7, atol=1e-12)
    lin, bn1 = nn.Linear(7, 4, bias=False).double(), nn.BatchNorm1d(4).double()
    _random_bn(bn1, rng)
    tlin, tbn1 = torch.nn.Linear(7, 4, bias=False).double(), torch.nn.BatchNorm1d(4).double()
    tlin.eval()
    _copy_params(lin, tlin)
    _copy_params(bn1, tbn1)
    x = rng.standard_normal((3, 7))
    np.testing.assert_allclose(int8.fold_bn(lin, bn1)(Tensor(x)).array,
                               tbn1.eval()(tlin(_t(x))).detach().numpy(), rtol=1e-7, atol=1e-12)


def test_fuse_modules_keeps_the_function():
    rng = _rng(6)
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 4 * 4, 3), nn.ReLU())
    _random_bn(model[1], rng)
    model.eval()
    fused = int8.fuse_modules(model, [["0", "1", "2"], ["4", "5"]])
    assert isinstance(fused[0], int8.ConvReLU2d) and isinstance(fused[1], nn.Identity)
    assert isinstance(fused[4], int8.LinearReLU) and isinstance(model[1], nn.BatchNorm2d)
    x = Tensor(rng.standard_normal((3, 2, 6, 6)).astype(np.float32))
    np.testing.assert_allclose(fused(x).array, model(x).array, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="cannot fuse"):
        int8.fuse_modules(model, [["2", "0"]])
    with pytest.raises(ValueError, match="modules_to_fuse"):
        int8.fuse_modules(model, [["0", "nope"]])


# ----------------------------------------------------------------------------- layers vs torch
def _uint8(shape, rng, hi=128):
    return rng.integers(0, hi, shape).astype(np.uint8)


def _close_to_torch(ours: np.ndarray, theirs: np.ndarray) -> None:
    """Integer outputs within one quantum, and nearly all equal."""
    diff = np.abs(ours.astype(np.int64) - theirs.astype(np.int64))
    assert ours.shape == theirs.shape and diff.max() <= 1
    assert (diff > 0).mean() < 0.02


@pytest.mark.parametrize("relu,stride,padding,groups", [
    (True, 1, 1, 1), (False, 2, 0, 1), (True, 1, 2, 2)])
def test_quantized_conv_within_one_quantum_of_torch(relu, stride, padding, groups):
    rng = _rng(7)
    conv = nn.Conv2d(4, 6, 3, stride=stride, padding=padding, groups=groups)
    in_qp, out_qp = (0.05, 20), (0.04, 0 if relu else 90)
    ours = int8.QuantizedConv2d.from_float(conv, in_qp, out_qp, relu)
    cls = nniq.ConvReLU2d if relu else nnq.Conv2d
    theirs = cls(4, 6, 3, stride=stride, padding=padding, groups=groups)
    w = conv.weight.array
    qw = torch.quantize_per_channel(_t(w), _t(ours.weight_scale.array.astype(np.float64)),
                                    torch.zeros(6, dtype=torch.int64), 0, torch.qint8)
    np.testing.assert_array_equal(ours.weight.array, qw.int_repr().numpy())
    theirs.set_weight_bias(qw, _t(conv.bias.array))
    theirs.scale, theirs.zero_point = out_qp
    x = _uint8((3, 4, 9, 9), rng)
    y = ours(Tensor(x)).array
    _close_to_torch(y, theirs(_tq(x, *in_qp)).int_repr().numpy())
    assert y.dtype == np.uint8 and (not relu or y.min() >= out_qp[1])


@pytest.mark.parametrize("channels", [16, 64])
def test_int8_conv_accumulates_exactly(channels):
    """The float32 (16 channels: sums bounded below 2^24) or float64 GEMM (64 channels) gives
    the exact integer sum (a plain loop over offsets in int64)."""
    rng = _rng(8)
    x = rng.integers(0, 256, (2, channels, 5, 5)).astype(np.uint8)
    w = rng.integers(-128, 128, (3, channels, 3, 3)).astype(np.int8)
    x[0, :, :4, :4], w[1] = 255, -128                  # a sum near -2^24: beyond float32
    b = rng.integers(-1000, 1000, 3).astype(np.int32)
    acc = np.zeros((2, 3, 3, 3), np.int64) + b[:, None, None]
    for i in range(3):
        for j in range(3):
            patch = x[:, :, i:i + 3, j:j + 3].astype(np.int64) - 7       # (N, C, 3, 3)
            acc[:, :, i, j] += np.einsum("ncab,ocab->no", patch, w.astype(np.int64))
    got = int8.conv_accumulate(x, w, b, 7, (1, 1), ((0, 0), (0, 0)), (1, 1), 1)
    assert np.abs(acc).max() > (2**24 if channels == 64 else 2**22)
    np.testing.assert_array_equal(got, acc)


@pytest.mark.parametrize("relu", [True, False])
def test_quantized_linear_within_one_quantum_of_torch(relu):
    rng = _rng(9)
    lin = nn.Linear(50, 7)
    in_qp, out_qp = (0.03, 10), (0.02, 0 if relu else 64)
    ours = int8.QuantizedLinear.from_float(lin, in_qp, out_qp, relu)
    theirs = (nniq.LinearReLU if relu else nnq.Linear)(50, 7)
    qw = torch.quantize_per_channel(_t(lin.weight.array),
                                    _t(ours.weight_scale.array.astype(np.float64)),
                                    torch.zeros(7, dtype=torch.int64), 0, torch.qint8)
    theirs.set_weight_bias(qw, _t(lin.bias.array))
    theirs.scale, theirs.zero_point = out_qp
    x = _uint8((200, 50), rng)
    _close_to_torch(ours(Tensor(x)).array, theirs(_tq(x, *in_qp)).int_repr().numpy())


def test_quantized_batchnorm_within_one_quantum_of_torch():
    rng = _rng(10)
    bn2, bn1 = nn.BatchNorm2d(5), nn.BatchNorm1d(5)
    _random_bn(bn2, rng)
    _random_bn(bn1, rng)
    in_qp, out_qp = (0.02, 5), (0.03, 70)
    x = _uint8((4, 5, 6, 6), rng)
    theirs = nnq.BatchNorm2d(5)
    _copy_params(bn2, theirs)
    theirs.scale, theirs.zero_point = torch.tensor(out_qp[0]), torch.tensor(out_qp[1])
    theirs.eval()
    ours = int8.QuantizedBatchNorm.from_float(bn2, in_qp, out_qp)
    _close_to_torch(ours(Tensor(x)).array, theirs(_tq(x, *in_qp)).int_repr().numpy())
    x1 = _uint8((64, 5), rng)
    want = torch.ops.quantized.batch_norm1d(
        _tq(x1, *in_qp), _t(bn1.weight.array), _t(bn1.bias.array), _t(bn1.running_mean.array),
        _t(bn1.running_var.array), bn1.eps, *out_qp).int_repr().numpy()
    ours1 = int8.QuantizedBatchNorm.from_float(bn1, in_qp, out_qp)
    _close_to_torch(ours1(Tensor(x1)).array, want)


def test_quantized_pooling_and_relu_match_torch():
    rng = _rng(11)
    x = _uint8((3, 4, 7, 7), rng, hi=256)
    qx = _tq(x, 0.1, 40)
    avg = int8.QuantizedAvgPool2d(40, {"kernel_size": 2, "stride": 2, "padding": 1,
                                       "ceil_mode": False, "count_include_pad": True,
                                       "divisor_override": None})
    _close_to_torch(avg(Tensor(x)).array,
                    torch.nn.functional.avg_pool2d(qx, 2, 2, 1).int_repr().numpy())
    ada = int8.QuantizedAdaptiveAvgPool2d(40, {"output_size": 3})
    _close_to_torch(ada(Tensor(x)).array,
                    torch.nn.functional.adaptive_avg_pool2d(qx, 3).int_repr().numpy())
    np.testing.assert_array_equal(int8.QuantizedReLU(40)(Tensor(x)).array,
                                  torch.relu(qx).int_repr().numpy())
    np.testing.assert_array_equal(nn.MaxPool2d(2)(Tensor(x)).array,
                                  torch.nn.functional.max_pool2d(qx, 2).int_repr().numpy())


def test_integer_kernels_have_no_backward():
    q = int8.QuantizedLinear.from_float(nn.Linear(3, 2), (0.1, 0), (0.1, 0))
    with pytest.raises(RuntimeError, match="no backward"):
        int8.Int8Linear.backward(None, np.zeros((1, 2)))
    assert not q(Tensor(np.zeros((1, 3), np.uint8))).requires_grad


# ----------------------------------------------------------------------------- whole models
def _chain_pair(rng):
    """The same chain in numcnn and torch (QuantStub/DeQuantStub around it): conv-BN-ReLU,
    conv-ReLU-BN (BN after ReLU, seed 004's order), max pool, dropout, flatten, linear-ReLU,
    linear."""
    def body(m):
        return [m.Conv2d(1, 6, 3, padding=1), m.BatchNorm2d(6), m.ReLU(),
                m.Conv2d(6, 8, 3, padding=1, stride=2), m.ReLU(), m.BatchNorm2d(8),
                m.MaxPool2d(2), m.Dropout(0.25), m.Flatten(), m.Linear(8 * 4 * 4, 24), m.ReLU(),
                m.Linear(24, 5)]

    ours = nn.Sequential(*body(nn))
    _random_bn(ours[1], rng)
    _random_bn(ours[5], rng)

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
            self.body = torch.nn.Sequential(*body(torch.nn))

        def forward(self, x):
            return self.dequant(self.body(self.quant(x)))

    theirs = TorchNet()
    _copy_params(ours, theirs.body)
    return ours.eval(), theirs.eval()


def _torch_quantized(theirs, batches):
    theirs.qconfig = tq.QConfig(activation=tq.MinMaxObserver.with_args(reduce_range=True),
                                weight=tq.default_per_channel_weight_observer)
    fused = tq.fuse_modules(theirs, [["body.0", "body.1", "body.2"], ["body.3", "body.4"],
                                     ["body.9", "body.10"]])
    prepared = tq.prepare(fused)
    with torch.no_grad():
        for x in batches:
            prepared(_t(x))
    return tq.convert(prepared)


def test_quantize_static_matches_torch_eager_mode():
    rng = _rng(12)
    ours, theirs = _chain_pair(rng)
    calib = [rng.standard_normal((64, 1, 16, 16)).astype(np.float32) for _ in range(4)]
    q = int8.quantize_static(ours, calib, observer="minmax")
    tqm = _torch_quantized(theirs, calib)
    # the same scales and zero points (up to float32 rounding of the float forward)
    pairs = [(q[0], tqm.quant), (q[1], tqm.body[0]), (q[2], tqm.body[3]), (q[3], tqm.body[5]),
             (q[7], tqm.body[9]), (q[8], tqm.body[11])]
    for mine, torchs in pairs:
        s, z = int8._qp(mine)
        np.testing.assert_allclose(s, torchs.scale, rtol=1e-5)
        assert abs(z - torchs.zero_point) <= 1
    x = rng.standard_normal((300, 1, 16, 16)).astype(np.float32)
    y = q(Tensor(x)).array
    with torch.no_grad():
        want = tqm(_t(x)).numpy()
    step = tqm.body[11].scale
    assert np.abs(y - want).max() <= 3 * step + 1e-6
    top2 = np.sort(want, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 6 * step          # not decided by a rounding
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(y.argmax(1)[clear], want.argmax(1)[clear])
    assert (y.argmax(1) == want.argmax(1)).mean() >= 0.98
    assert (y.argmax(1) == ours(Tensor(x)).array.argmax(1)).mean() >= 0.9   # close to float


def test_quantize_static_leaves_the_model_and_marks_the_result():
    rng = _rng(13)
    model = numcnn.models.lenet5(image_size=28, padding=2)
    before = {k: v.array.copy() for k, v in model.state_dict().items()}
    model.train()
    q = int8.quantize_static(model, [(rng.standard_normal((16, 1, 28, 28)).astype(np.float32),
                                      np.zeros(16))], observer="histogram")
    assert model.training
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.array, before[k])
    assert numcnn.compress.method_of(q) == "int8" and not q.training


def test_quantize_static_refuses_branches_and_unknown_modules():
    x = [np.zeros((2, 3, 32, 32), np.float32)]
    with pytest.raises(ValueError, match="branch"):
        int8.quantize_static(numcnn.models.resnet20(), x, observer="minmax")
    with pytest.raises(ValueError, match=r"module 'features.1' \(Tanh\)"):
        int8.quantize_static(numcnn.models.lenet5_classic(), [np.zeros((2, 1, 32, 32),
                                                                       np.float32)])
    with pytest.raises(ValueError, match="calibration_batches is empty"):
        int8.quantize_static(numcnn.models.mlp(), [])
    with pytest.raises(ValueError, match="observer must be one of"):
        int8.quantize_static(numcnn.models.mlp(), [np.zeros((2, 1, 28, 28), np.float32)],
                             observer="kl")


def test_checkpoint_round_trip_is_identical_and_smaller(tmp_path):
    rng = _rng(14)
    model = numcnn.models.fmnist_cnn()
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            _random_bn(m, rng)
    model.eval()
    calib = [rng.standard_normal((32, 1, 28, 28)).astype(np.float32)]
    q = int8.quantize_static(model, calib, observer="minmax")
    small, big = tmp_path / "int8.safetensors", tmp_path / "float.safetensors"
    numcnn.compress.save(q, small)
    numcnn.save(model.state_dict(), big)
    back = numcnn.compress.load(small, numcnn.models.fmnist_cnn())
    assert type(back) is int8.QuantizedSequential and back.sources == q.sources
    x = Tensor(rng.standard_normal((20, 1, 28, 28)).astype(np.float32))
    np.testing.assert_array_equal(back(x).array, q(x).array)
    assert small.stat().st_size < 0.3 * big.stat().st_size
    with pytest.raises(numcnn.compress.CompressedCheckpointError):
        numcnn.compress.load(big, numcnn.models.fmnist_cnn())


def test_summary_counts_the_integer_macs():
    from numcnn.analysis.summary import summary
    rng = _rng(15)
    model = numcnn.models.lenet5().eval()
    q = int8.quantize_static(model, [rng.standard_normal((8, 1, 32, 32)).astype(np.float32)],
                             observer="minmax")
    s_float, s_q = summary(model, (1, 32, 32)), summary(q, (1, 32, 32))
    assert s_q.macs == s_float.macs and not s_q.uncounted
