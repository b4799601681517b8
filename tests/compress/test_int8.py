"""numcnn.compress.quantize.int8 against torch.ao.quantization (eager mode, fbgemm kernels).

Oracles: torch's observers on the same data (scale and zero point equal); torch's quantised
modules with numcnn's scales and zero points forced into them (every integer output EQUAL on the
"fbgemm" engine; on the "x86" engine, whose convolutions run on oneDNN on AVX512-VNNI CPUs, within
one quantum on a few values per million); torch's eager fuse/prepare/convert of fmnist_cnn,
lenet5 and a conv-BN chain on the same float weights and calibration data (same qparams up to
float32 rounding; with numcnn's forced in: every layer's integers and every prediction equal);
torch's fuse_conv_bn_eval in float64; plain integer loops for the exact accumulation and for
round-half-even on exact ties.
"""

from __future__ import annotations

from pathlib import Path

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

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"),        # torch.ao's
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]  # deprecations


@pytest.fixture(autouse=True)
def _engine():
    """fbgemm: the kernels numcnn computes (torch's "x86" engine runs linear layers on them too,
    and convolutions when the CPU has no AVX512-VNNI); tests of "x86" set it themselves."""
    old = torch.backends.quantized.engine
    torch.backends.quantized.engine = "fbgemm"
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
    """Activations as torch's x86 qconfig calibrates them (reduce_range: 0..127), so that
    fbgemm's AVX2 16-bit pair sums cannot saturate."""
    return rng.integers(0, hi, shape).astype(np.uint8)


def _qweight(w: np.ndarray, scales: np.ndarray) -> torch.Tensor:
    return torch.quantize_per_channel(_t(w), _t(scales.astype(np.float64)),
                                      torch.zeros(len(w), dtype=torch.int64), 0, torch.qint8)


def _torch_conv(ours: int8.QuantizedConv2d, conv: nn.Conv2d) -> torch.nn.Module:
    """torch's quantised conv with numcnn's int8 weights, float bias and qparams forced in."""
    cls = nniq.ConvReLU2d if ours.relu else nnq.Conv2d
    theirs = cls(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                 padding=conv.padding, dilation=conv.dilation, groups=conv.groups)
    w = ours.weight.array.astype(np.float32) * ours.weight_scale.array.reshape(-1, 1, 1, 1)
    qw = _qweight(w, ours.weight_scale.array)
    np.testing.assert_array_equal(qw.int_repr().numpy(), ours.weight.array)
    theirs.set_weight_bias(qw, _t(ours.bias.array))
    theirs.scale, theirs.zero_point = int8._qp(ours)
    return theirs


def _int32_bias_requantize(acc, ours) -> np.ndarray:
    """What numcnn computed before: the bias rounded to int32, requantised in float64."""
    (s_x, _), (s_y, z_y) = int8._qp(ours, "input_"), int8._qp(ours)
    s_w = ours.weight_scale.array.astype(np.float64).reshape(-1, 1, 1)
    q_b = np.rint(ours.bias.array.reshape(-1, 1, 1) / (s_x * s_w))
    y = np.rint((acc + q_b) * (s_x * s_w / s_y)) + z_y
    return np.clip(y, z_y if ours.relu else 0, 255)


# (C, O, kernel, stride, padding, dilation, groups, relu)
_CONVS = [(4, 6, 3, 1, 1, 1, 1, True), (4, 6, 3, 2, 0, 1, 1, False), (4, 6, 3, 1, 2, 1, 2, True),
          (8, 8, 3, 1, 1, 1, 8, False), (6, 4, 5, 1, 2, 2, 1, True), (16, 8, 1, 1, 0, 1, 1, False),
          (32, 64, 5, 1, 2, 1, 1, False), (256, 4, 3, 1, 1, 1, 1, True)]


def _conv_case(case, seed):
    c, o, k, stride, padding, dilation, groups, relu = case
    rng = _rng(seed)
    conv = nn.Conv2d(c, o, k, stride=stride, padding=padding, dilation=dilation, groups=groups)
    conv.bias.array[...] = rng.standard_normal(o).astype(np.float32) * 0.5
    in_qp, out_qp = (0.05, 20), (0.04, 0 if relu else 90)
    ours = int8.QuantizedConv2d.from_float(conv, in_qp, out_qp, relu)
    x = _uint8((4, c, 11, 11), rng)
    return conv, ours, x, in_qp


@pytest.mark.parametrize("case", _CONVS,
                         ids=lambda c: "C{}-O{}-k{}-s{}-p{}-d{}-g{}-relu{}".format(*c))
def test_quantized_conv_equals_fbgemm(case):
    """Every integer output equal: ReLU, stride, padding, dilation, groups, depthwise (fbgemm's
    depthwise kernel), 1x1, and sums past 2^24 (the float64 GEMM; the last case)."""
    conv, ours, x, in_qp = _conv_case(case, 7)
    theirs = _torch_conv(ours, conv)
    y = ours(Tensor(x)).array
    np.testing.assert_array_equal(y, theirs(_tq(x, *in_qp)).int_repr().numpy())
    assert y.dtype == np.uint8 and (not ours.relu or y.min() >= int8._qp(ours)[1])
    if case[0] == 256:
        assert int8._gemm_dtype(ours.weight.array, in_qp[1]) is np.float64


def test_int32_bias_differs_from_fbgemm_and_the_float_bias_does_not():
    """The test above can tell the two requantisations apart: rounding the bias to int32 first
    (numcnn before) moves some outputs by one quantum against fbgemm; the float bias none."""
    conv, ours, x, in_qp = _conv_case(_CONVS[6], 8)
    want = _torch_conv(ours, conv)(_tq(x, *in_qp)).int_repr().numpy()
    acc = int8.conv_accumulate(x, ours.weight.array, in_qp[1], (1, 1), ((2, 2), (2, 2)),
                               (1, 1), 1)
    old = _int32_bias_requantize(acc.astype(np.float64), ours)
    assert 0 < np.count_nonzero(old != want) and np.abs(old - want).max() == 1
    np.testing.assert_array_equal(ours(Tensor(x)).array, want)


def test_requantize_rounds_exact_ties_half_to_even():
    """Power-of-two scales put half the outputs exactly on .5: s_x * s_w = 2^-10 and
    M = 2^-10 / 2^-9 = 1/2, so q_y = round_half_even((acc + b / 2^-10) / 2) + z_y. Oracle: the
    same in integers (a plain loop for the sums) and torch."""
    rng = _rng(16)
    q_w = rng.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8)
    s_w = np.full(4, 2.0**-6, np.float32)
    b_units = np.array([0, 3, -5, 8])
    bias = (b_units * 2.0**-10).astype(np.float32)
    in_qp, out_qp = (2.0**-4, 9), (2.0**-9, 100)
    ours = int8.QuantizedConv2d(q_w, s_w, bias, in_qp, out_qp, False, (1, 1),
                                ((1, 1), (1, 1)), (1, 1), 1)
    x = _uint8((4, 3, 8, 8), rng)
    xp = np.pad(x.astype(np.int64) - 9, ((0, 0), (0, 0), (1, 1), (1, 1)))
    k = np.zeros((4, 4, 8, 8), np.int64) + b_units.reshape(-1, 1, 1)
    for i in range(3):
        for j in range(3):
            k += np.einsum("nchw,oc->nohw", xp[:, :, i:i + 8, j:j + 8], q_w[:, :, i, j])
    half = k // 2                                   # floor; k odd: a tie, to the even neighbour
    want = np.clip(half + ((k % 2 == 1) & (half % 2 == 1)) + 100, 0, 255)
    assert np.count_nonzero(k % 2) > 500
    got = ours(Tensor(x)).array
    np.testing.assert_array_equal(got, want)
    conv = nn.Conv2d(3, 4, 3, padding=1)
    np.testing.assert_array_equal(got, _torch_conv(ours, conv)(_tq(x, *in_qp)).int_repr().numpy())


def test_quantized_conv_within_one_quantum_of_x86_onednn():
    """torch's "x86" engine gives convolutions to oneDNN on AVX512-VNNI CPUs (fbgemm otherwise),
    whose requantisation rounds in another order: at most one quantum, on a few values per
    million (those within ~1e-7 of a rounding boundary)."""
    torch.backends.quantized.engine = "x86"
    diffs, total = 0, 0
    for seed, case in enumerate(_CONVS):
        conv, ours, x, in_qp = _conv_case(case, 30 + seed)
        want = _torch_conv(ours, conv)(_tq(x, *in_qp)).int_repr().numpy().astype(np.int64)
        d = np.abs(ours(Tensor(x)).array.astype(np.int64) - want)
        assert d.max() <= 1
        diffs, total = diffs + np.count_nonzero(d), total + d.size
    assert diffs <= 1e-4 * total


@pytest.mark.parametrize("engine", ["fbgemm", "x86"])
@pytest.mark.parametrize("relu,features,out", [(True, 50, 7), (False, 50, 7), (True, 400, 120),
                                               (False, 3136, 16)])
def test_quantized_linear_equals_fbgemm(engine, relu, features, out):
    """Equal integers on both engines (torch's x86 engine runs linear layers on fbgemm); 3136
    features: sums past 2^24, the float64 GEMM."""
    torch.backends.quantized.engine = engine
    rng = _rng(9)
    lin = nn.Linear(features, out)
    lin.bias.array[...] = rng.standard_normal(out).astype(np.float32) * 0.3
    in_qp, out_qp = (0.03, 10), (0.02, 0 if relu else 64)
    ours = int8.QuantizedLinear.from_float(lin, in_qp, out_qp, relu)
    theirs = (nniq.LinearReLU if relu else nnq.Linear)(features, out)
    w = ours.weight.array.astype(np.float32) * ours.weight_scale.array.reshape(-1, 1)
    theirs.set_weight_bias(_qweight(w, ours.weight_scale.array), _t(ours.bias.array))
    theirs.scale, theirs.zero_point = out_qp
    x = _uint8((200, features), rng)
    np.testing.assert_array_equal(ours(Tensor(x)).array,
                                  theirs(_tq(x, *in_qp)).int_repr().numpy())
    if features == 3136:
        assert int8._gemm_dtype(ours.weight.array, in_qp[1]) is np.float64


def test_requantize_argument_errors():
    with pytest.raises(ValueError, match="acc must have the output channels on axis 1"):
        int8.requantize(np.zeros((2, 3)), np.zeros(4), 0.1, np.ones(4), 0.1, 0)
    with pytest.raises(ValueError, match="out_zero_point must be in"):
        int8.requantize(np.zeros((2, 3)), np.zeros(3), 0.1, np.ones(3), 0.1, 256)


@pytest.mark.parametrize("channels", [16, 64])
def test_int8_conv_accumulates_exactly(channels):
    """The float32 (16 channels: sums bounded below 2^24) or float64 GEMM (64 channels) gives
    the exact integer sum (a plain loop over offsets in int64)."""
    rng = _rng(8)
    x = rng.integers(0, 256, (2, channels, 5, 5)).astype(np.uint8)
    w = rng.integers(-128, 128, (3, channels, 3, 3)).astype(np.int8)
    x[0, :, :4, :4], w[1] = 255, -128                  # a sum near -2^24: beyond float32
    acc = np.zeros((2, 3, 3, 3), np.int64)
    for i in range(3):
        for j in range(3):
            patch = x[:, :, i:i + 3, j:j + 3].astype(np.int64) - 7       # (N, C, 3, 3)
            acc[:, :, i, j] += np.einsum("ncab,ocab->no", patch, w.astype(np.int64))
    got = int8.conv_accumulate(x, w, 7, (1, 1), ((0, 0), (0, 0)), (1, 1), 1)
    assert np.abs(acc).max() > (2**24 if channels == 64 else 2**22)
    np.testing.assert_array_equal(got, acc)


@pytest.mark.parametrize("channels", [5, 64])
@pytest.mark.parametrize("relu", [False, True])
def test_quantized_batchnorm_equals_torch(channels, relu):
    """BatchNorm2d and BatchNorm1d, with and without a fused ReLU: equal integers. 64 channels
    go through torch's vector FMA, 5 through its scalar tail."""
    rng = _rng(10)
    bn2, bn1 = nn.BatchNorm2d(channels), nn.BatchNorm1d(channels)
    _random_bn(bn2, rng)
    _random_bn(bn1, rng)
    in_qp, out_qp = (0.02, 5), (0.0123, 0 if relu else 70)
    ops = torch.ops.quantized
    for bn, x, op in ((bn2, _uint8((4, channels, 6, 6), rng, 256),
                       ops.batch_norm2d_relu if relu else ops.batch_norm2d),
                      (bn1, _uint8((64, channels), rng, 256),
                       ops.batch_norm1d_relu if relu else ops.batch_norm1d)):
        want = op(_tq(x, *in_qp), _t(bn.weight.array), _t(bn.bias.array),
                  _t(bn.running_mean.array), _t(bn.running_var.array), bn.eps,
                  *out_qp).int_repr().numpy()
        got = int8.QuantizedBatchNorm.from_float(bn, in_qp, out_qp, relu)(Tensor(x)).array
        np.testing.assert_array_equal(got, want)


def test_quantized_pooling_and_relu_match_torch():
    rng = _rng(11)
    x = _uint8((3, 4, 7, 7), rng, hi=256)
    qx = _tq(x, 0.1, 40)
    avg = int8.QuantizedAvgPool2d(40, {"kernel_size": 2, "stride": 2, "padding": 1,
                                       "ceil_mode": False, "count_include_pad": True,
                                       "divisor_override": None})
    np.testing.assert_array_equal(avg(Tensor(x)).array,
                                  torch.nn.functional.avg_pool2d(qx, 2, 2, 1).int_repr().numpy())
    ada = int8.QuantizedAdaptiveAvgPool2d(40, {"output_size": 3})
    np.testing.assert_array_equal(ada(Tensor(x)).array,
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
class _Chain(nn.Module):
    """conv-BN-ReLU (BN folded), conv-ReLU-BN (BN after ReLU, seed 004's order), max pool,
    dropout, flatten, linear-ReLU, linear."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
            nn.Conv2d(6, 8, 3, padding=1, stride=2), nn.ReLU(), nn.BatchNorm2d(8),
            nn.MaxPool2d(2), nn.Dropout(0.25))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(8 * 4 * 4, 24), nn.ReLU(),
                                        nn.Linear(24, 5))

    def forward(self, x):
        return self.classifier(self.features(x))


# model -> (numcnn factory, input size, torch's fuse groups)
_MODELS = {
    "fmnist_cnn": (numcnn.models.fmnist_cnn, 28, [
        ["features.0", "features.1"], ["features.3", "features.4"], ["features.8", "features.9"],
        ["features.11", "features.12"], ["classifier.1", "classifier.2"]]),
    "lenet5": (lambda: numcnn.models.lenet5(image_size=28, padding=2), 28, [
        ["features.0", "features.1"], ["features.3", "features.4"],
        ["classifier.1", "classifier.2"], ["classifier.3", "classifier.4"]]),
    "chain": (_Chain, 16, [["features.0", "features.1", "features.2"],
                           ["features.3", "features.4"], ["classifier.1", "classifier.2"]]),
}


def _torch_layer(m: nn.Module) -> torch.nn.Module:
    if isinstance(m, nn.Conv2d):
        return torch.nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride,
                               m.padding, m.dilation, m.groups, m.bias is not None)
    if isinstance(m, nn.Linear):
        return torch.nn.Linear(m.in_features, m.out_features, m.bias is not None)
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        cls = torch.nn.BatchNorm2d if isinstance(m, nn.BatchNorm2d) else torch.nn.BatchNorm1d
        return cls(m.num_features, m.eps)
    if isinstance(m, nn.MaxPool2d):
        return torch.nn.MaxPool2d(m.kernel_size, m.stride)
    if isinstance(m, nn.Dropout):
        return torch.nn.Dropout(m.p)
    return {nn.ReLU: torch.nn.ReLU, nn.Flatten: torch.nn.Flatten}[type(m)]()


class _Twin(torch.nn.Module):
    """The torch copy of a numcnn model made of `features` and `classifier`, between
    QuantStub and DeQuantStub, with the same state dict."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
        self.features = torch.nn.Sequential(*[_torch_layer(m) for m in model.features])
        self.classifier = torch.nn.Sequential(*[_torch_layer(m) for m in model.classifier])
        _copy_params(model, self)
        self.eval()

    def forward(self, x):
        return self.dequant(self.classifier(self.features(self.quant(x))))


class _QBatchNorm1d(nnq.modules.batchnorm._BatchNorm):
    """torch has quantized::batch_norm1d but no eager-mode module for it: this one."""

    _NNI_BN_RELU_MODULE = None

    def forward(self, x):
        return torch.ops.quantized.batch_norm1d(x, self.weight, self.bias, self.running_mean,
                                                self.running_var, self.eps, float(self.scale),
                                                int(self.zero_point))

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        return nnq.modules.batchnorm._BatchNorm.from_float(cls, mod)


def _trained_like(name: str, rng: np.random.Generator, calib: list[np.ndarray]) -> nn.Module:
    """The model with its default init, BN running statistics measured on the calibration
    images (as training leaves them) and random BN affine parameters, a last layer with larger
    weights; eval mode. The init is seeded from `rng`, so the model does not depend on which
    tests ran before."""
    numcnn.manual_seed(int(rng.integers(2**31)))
    model = _MODELS[name][0]()
    # a classifier whose logits differ by more than the init's few hundredths, so that the
    # predictions compared below are not one constant class
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    fan_in = last.weight.shape[1]
    last.weight.array[...] = rng.standard_normal(last.weight.shape) * 4 / np.sqrt(fan_in)
    bns = [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    for bn in bns:
        bn.momentum = None                              # cumulative average over the batches
        bn.weight.array[...] = rng.uniform(0.5, 1.5, bn.num_features)
        bn.bias.array[...] = rng.standard_normal(bn.num_features) * 0.2
    model.train()
    with numcnn.no_grad():
        for x in calib:
            model(Tensor(x))
    return model.eval()


def _torch_quantized(model: nn.Module, groups, calib, observer: str) -> torch.nn.Module:
    """torch's eager mode on the twin: fuse, prepare, calibrate on `calib`, convert (on the
    current engine), with torch's x86 default qconfig or its min-max variant."""
    twin = _Twin(model)
    act = tq.HistogramObserver if observer == "histogram" else tq.MinMaxObserver
    twin.qconfig = tq.QConfig(activation=act.with_args(reduce_range=True),
                              weight=tq.default_per_channel_weight_observer)
    fused = tq.fuse_modules(twin, groups)
    allow = tq.get_default_qconfig_propagation_list() | {torch.nn.BatchNorm1d}
    prepared = tq.prepare(fused, allow_list=allow)
    with torch.no_grad():
        for x in calib:
            prepared(_t(x))
    mapping = {**tq.get_default_static_quant_module_mappings(), torch.nn.BatchNorm1d: _QBatchNorm1d}
    return tq.convert(prepared, mapping=mapping)


def _pairs(q: int8.QuantizedSequential, tqm: torch.nn.Module):
    """(numcnn layer, torch module) for every layer but the final DeQuantize."""
    for layer, source in zip(q, q.sources):
        if isinstance(layer, int8.Quantize):
            yield layer, tqm.quant
        elif source:
            yield layer, tqm.get_submodule(source[0])


def _force_qparams(q: int8.QuantizedSequential, tqm: torch.nn.Module) -> None:
    """numcnn's scales and zero points into torch's converted model, after checking that torch
    calibrated the same ones (up to float32 rounding of the float forward); int8 weights and
    float biases of layers with a folded BN too (folded in another float32 order)."""
    for layer, theirs in _pairs(q, tqm):
        if not hasattr(layer, "scale"):
            continue
        s, z = int8._qp(layer)
        np.testing.assert_allclose(s, float(theirs.scale), rtol=1e-3)
        assert abs(z - int(theirs.zero_point)) <= 1
        if isinstance(layer, int8.Quantize):
            theirs.scale, theirs.zero_point = torch.tensor([s]), torch.tensor([z])
        elif isinstance(layer, int8.QuantizedBatchNorm):
            theirs.scale, theirs.zero_point = torch.tensor(s), torch.tensor(z)
        else:
            theirs.scale, theirs.zero_point = s, z
            folded = isinstance(theirs, (nniq.ConvReLU2d, nnq.Conv2d)) and \
                len([n for n in q.sources[list(q).index(layer)]]) == 3
            if folded:
                shape = (-1,) + (1,) * (layer.weight.array.ndim - 1)
                w = layer.weight.array.astype(np.float32) * layer.weight_scale.array.reshape(shape)
                theirs.set_weight_bias(_qweight(w, layer.weight_scale.array),
                                       _t(layer.bias.array))
            else:                                       # the same float weights: same integers
                np.testing.assert_array_equal(theirs.weight().int_repr().numpy(),
                                              layer.weight.array)
                np.testing.assert_array_equal(theirs.bias().detach().numpy(), layer.bias.array)


def _outputs(q: int8.QuantizedSequential, tqm: torch.nn.Module, x: np.ndarray):
    """Every layer's integer output in numcnn and torch, and the dequantised logits."""
    ours: list[np.ndarray] = []
    theirs: list[np.ndarray] = []
    pairs = list(_pairs(q, tqm))
    handles = [a.register_forward_hook(lambda m, i, o: ours.append(o.array.copy()))
               for a, _ in pairs]
    handles_t = [b.register_forward_hook(lambda m, i, o: theirs.append(o.int_repr().numpy()))
                 for _, b in pairs]
    try:
        y = q(Tensor(x)).array
        with torch.no_grad():
            want = tqm(_t(x)).numpy()
    finally:
        for h in handles + handles_t:
            h.remove()
    return [type(a).__name__ for a, _ in pairs], ours, theirs, y, want


def _images(rng, n: int, size: int) -> np.ndarray:
    """Smooth random images, normalised as Fashion-MNIST (mean 0.286, std 0.353)."""
    coarse = rng.random((n, 1, size // 4, size // 4)).astype(np.float32)
    img = np.repeat(np.repeat(coarse, 4, axis=2), 4, axis=3)
    img = img * (rng.random((n, 1, 1, 1)) < 0.5) + rng.random(img.shape) * 0.2
    return ((img - 0.286) / 0.353).astype(np.float32)


@pytest.mark.parametrize("name,observer", [("fmnist_cnn", "histogram"), ("lenet5", "minmax"),
                                           ("chain", "minmax")])
def test_quantize_static_equals_torch_eager_mode(name, observer):
    """numcnn's quantize_static and torch's fuse/prepare/convert on the same trained-like float
    weights and the same calibration images calibrate the same qparams (up to float32
    rounding of the float forward); with numcnn's forced into torch, every layer's integer
    output is equal on 200 images, so are the predictions, and the dequantised logits agree
    to float32 rounding (torch dequantises with an FMA)."""
    rng = _rng(12)
    size, groups = _MODELS[name][1], _MODELS[name][2]
    calib = [_images(rng, 64, size) for _ in range(2)]
    model = _trained_like(name, rng, calib)
    q = int8.quantize_static(model, calib, observer=observer)
    tqm = _torch_quantized(model, groups, calib, observer)
    _force_qparams(q, tqm)
    x = _images(rng, 200, size)
    names, ours, theirs, y, want = _outputs(q, tqm, x)
    for i, (kind, a, b) in enumerate(zip(names, ours, theirs)):
        assert a.shape == b.shape, f"layer {i} ({kind})"
        np.testing.assert_array_equal(a, b, err_msg=f"layer {i} ({kind})")
    np.testing.assert_array_equal(y.argmax(1), want.argmax(1))
    step = int8._qp(q[-1])[0]
    np.testing.assert_allclose(y, want, rtol=0, atol=1e-6 * step * 256)
    assert len(set(want.argmax(1).tolist())) > 1                 # not one constant class
    # random weights leave small top-2 margins: int8 follows float on most images, not all
    assert (y.argmax(1) == model(Tensor(x)).array.argmax(1)).mean() >= 0.7


@pytest.mark.parametrize("name", ["fmnist_cnn", "chain"])
def test_count_parameters_equals_the_folded_float_model(name):
    """Totals: the parameters of torch's fused float twin (BN folded where it follows a conv;
    BN after a ReLU keeps its weight and bias). Non-zeros: torch's converted integer weights,
    float biases and BN vectors. numcnn.compress.workflow.count_parameters dispatches here."""
    from numcnn.compress import workflow
    rng = _rng(17)
    size, groups = _MODELS[name][1], _MODELS[name][2]
    calib = [_images(rng, 32, size)]
    model = _trained_like(name, rng, calib)
    q = int8.quantize_static(model, calib, observer="minmax")
    fused = tq.fuse_modules(_Twin(model), groups)
    want_total = sum(p.numel() for p in fused.parameters())
    tqm = _torch_quantized(model, groups, calib, "minmax")
    want_nonzero = 0
    for m in tqm.modules():
        if isinstance(m, (nnq.Conv2d, nnq.Linear)):
            want_nonzero += int(m.weight().int_repr().count_nonzero() + m.bias().count_nonzero())
        elif isinstance(m, nnq.modules.batchnorm._BatchNorm):
            want_nonzero += int(m.weight.count_nonzero() + m.bias.count_nonzero())
    assert int8.count_parameters(q) == (want_total, want_nonzero)
    assert workflow.count_parameters(q) == int8.count_parameters(q)
    if name == "fmnist_cnn":                   # no BN to fold: the float model's own count
        assert want_total == workflow.count_parameters(model)[0]
    with pytest.raises(TypeError, match="QuantizedSequential"):
        int8.count_parameters(model)


_RUN = Path("/work/runs/default/best.safetensors")


@pytest.mark.slow
def test_trained_run_predictions_equal_torch_on_the_whole_test_set():
    """The trained seed CNN (/work/runs/default), calibrated on 512 training images with the
    histogram observer: predictions equal torch's fbgemm model on all 10,000 Fashion-MNIST
    test images; against torch's "x86" engine (oneDNN convolutions on AVX512-VNNI CPUs) the
    differing images are counted and printed."""
    from numcnn.train import run
    if not _RUN.exists():
        pytest.skip(f"no trained run at {_RUN} (train one with `numcnn train`)")
    model, config = run.load_run(_RUN)
    try:
        test, train = run.load_test_set(config), run.load_split(config, True)
    except run.RunError as err:
        pytest.skip(f"Fashion-MNIST is missing: {err}")
    train.transform = test.transform

    def batch(ds, lo, hi):
        return np.asarray(int8._array(ds.get_batch(np.arange(lo, hi))[0]), np.float32)

    calib = [batch(train, 0, 256), batch(train, 256, 512)]
    q = int8.quantize_static(model, calib)
    preds: dict[str, list[np.ndarray]] = {"numcnn": [], "fbgemm": [], "x86": []}
    models = {}
    for engine in ("fbgemm", "x86"):
        torch.backends.quantized.engine = engine
        models[engine] = _torch_quantized(model, _MODELS["fmnist_cnn"][2], calib, "histogram")
        _force_qparams(q, models[engine])
    for lo in range(0, len(test), 1000):
        x = batch(test, lo, min(lo + 1000, len(test)))
        preds["numcnn"].append(q(Tensor(x)).array.argmax(1))
        for engine, tqm in models.items():
            torch.backends.quantized.engine = engine
            with torch.no_grad():
                preds[engine].append(tqm(_t(x)).numpy().argmax(1))
    p = {k: np.concatenate(v) for k, v in preds.items()}
    x86_differ = int(np.count_nonzero(p["numcnn"] != p["x86"]))
    print(f"int8 accuracy {np.mean(p['numcnn'] == np.asarray(test.targets)):.4f}; images "
          f"predicted differently from torch fbgemm: "
          f"{int(np.count_nonzero(p['numcnn'] != p['fbgemm']))}, from torch x86: {x86_differ}")
    assert len(p["numcnn"]) == 10000
    np.testing.assert_array_equal(p["numcnn"], p["fbgemm"])
    assert x86_differ <= 10                     # one-quantum oneDNN roundings, a few per million


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
    assert back[1].bias.array.dtype == np.float32
    assert small.stat().st_size < 0.3 * big.stat().st_size
    with pytest.raises(numcnn.compress.CompressedCheckpointError):
        numcnn.compress.load(big, numcnn.models.fmnist_cnn())
    tensors, spec = int8.to_checkpoint(q)
    tensors["1.bias"] = np.zeros_like(tensors["1.bias"], dtype=np.int32)   # the old format
    with pytest.raises(numcnn.compress.CompressedCheckpointError, match="int32 bias"):
        int8.from_checkpoint(numcnn.models.fmnist_cnn(), tensors, spec)


def test_summary_counts_the_integer_macs():
    from numcnn.analysis.summary import summary
    rng = _rng(15)
    model = numcnn.models.lenet5().eval()
    q = int8.quantize_static(model, [rng.standard_normal((8, 1, 32, 32)).astype(np.float32)],
                             observer="minmax")
    s_float, s_q = summary(model, (1, 32, 32)), summary(q, (1, 32, 32))
    assert s_q.macs == s_float.macs and not s_q.uncounted
