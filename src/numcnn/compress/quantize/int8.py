"""Post-training static int8 quantisation, computed on integers (torch.ao.quantization's eager
mode on the x86/fbgemm engine), with fbgemm's arithmetic: the same integers out, bit for bit.

Jacob et al., "Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-Only
Inference" (CVPR 2018): a real value r is stored as an integer q with a scale s and a zero point z,

    r = s * (q - z),        q = clamp(round(r / s) + z, q_min, q_max)

(round half to even, as torch).  A convolution or linear layer with int8 weights q_w (per output
channel o: scale s_w[o], zero point 0) on uint8 activations q_x (s_x, z_x) accumulates

    acc[o] = sum_k q_w[o, k] * (q_x[k] - z_x)                       (exact integers)

and requantises it to the output's (s_y, z_y) with the layer's float32 bias b, as fbgemm's
ReQuantizeOutput does when torch hands it a float bias (every step one float32 rounding):

    a[o] = s_x * s_w[o],    M[o] = a[o] / s_y,
    q_y  = clamp(round((float32(acc) + b[o] / a[o]) * M[o]) + z_y, lo, 255),
    lo   = z_y when a ReLU is fused (the ReLU is the clamp), else 0.

How `quantize_static` gets there (torch's eager-mode recipe, automated for chains of modules):

1. trace one forward to find the chain of modules (a model with branches is refused);
2. fuse: BatchNorm folded into the conv/linear before it (`fold_bn`), a ReLU after a
   conv/linear/BN fused into it;
3. calibrate: run the fused float chain on a few hundred images, with an observer on the input
   and on the output of every layer that requantises (`MinMaxObserver`, `HistogramObserver` or
   `PercentileObserver`; weights: `PerChannelMinMaxObserver`, symmetric int8);
4. convert: int8 weights, float32 biases, and one integer kernel per layer; max pooling, flatten
   and dropout run on the uint8 tensor as they are; the output is dequantised.

The integer accumulations run as BLAS GEMMs on floats holding integers (`conv_accumulate`):
exact while every partial sum stays below 2^24 in float32 (checked per layer from its weights:
sum |w[o]| * max |x - z_x|; true for 3x3 convolutions up to ~32 input channels) and below 2^53
in float64 (always, here).  NumPy's int64 matmul has no BLAS and was 5x slower than float64 and
10x slower than float32 on a conv-shaped GEMM (bench/bench_int8.py).

Agreement with torch (tests/compress/test_int8.py): with the same scales and zero points, every
conv, linear, batch norm, pooling and (de)quantisation output equals torch's on the "fbgemm"
engine.  torch's "x86" engine runs linear layers on fbgemm but hands a convolution to oneDNN when
the CPU has AVX512-VNNI (torch's `should_use_onednn_quant`); oneDNN rounds the requantisation
differently in the last float32 bit, which moves a value that lies within ~1e-7 of a rounding
boundary by one quantum (a few values per million).  Activations default to torch's x86
qconfig: quint8 with reduce_range (0..127 while calibrating), which keeps fbgemm's AVX2 16-bit
pair sums from saturating; numcnn's sums are exact either way.

Axes: N batch, C input channels, O output channels, H/W height/width, F features.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Iterable, Sequence

import numpy as np

import numcnn.nn as nn
import numcnn.nn.functional as F
from numcnn.analysis.summary import OpCall, register_op_cost
from numcnn.autograd.function import Context, Function
from numcnn.autograd.grad_mode import no_grad
from numcnn.compress import checkpoint
from numcnn.nn.module import Module
from numcnn.ops.conv import ConvNd, same_padding
from numcnn.tensor import Tensor

__all__ = [
    "METHOD", "quantize_static", "fuse_modules", "fold_bn", "ConvReLU2d", "LinearReLU",
    "MinMaxObserver", "PerChannelMinMaxObserver", "HistogramObserver", "PercentileObserver",
    "quantize_per_tensor", "quantize_per_channel", "dequantize", "conv_accumulate", "trace_chain",
    "Quantize", "DeQuantize", "QuantizedConv2d", "QuantizedLinear", "QuantizedBatchNorm",
    "QuantizedReLU", "QuantizedAvgPool2d", "QuantizedAdaptiveAvgPool2d", "QuantizedSequential",
    "to_checkpoint", "from_checkpoint", "requantize", "count_parameters",
]

METHOD = "int8"

# dtype name -> (smallest, largest integer, NumPy type), as torch.quint8 / torch.qint8
_QTYPES: dict[str, tuple[int, int, type[np.integer[Any]]]] = {
    "quint8": (0, 255, np.uint8), "qint8": (-128, 127, np.int8),
}
_EPS = float(np.finfo(np.float32).eps)
_f32 = np.float32


def _qtype(dtype: str) -> tuple[int, int, type[np.integer[Any]]]:
    if dtype not in _QTYPES:
        raise ValueError(f"dtype must be 'quint8' or 'qint8', got {dtype!r}")
    return _QTYPES[dtype]


def _array(x: Any) -> np.ndarray:
    return x.array if isinstance(x, Tensor) else np.asarray(x)


# ----------------------------------------------------------------------------- (de)quantising
def _fma32(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """float32(a * b + c) with ONE rounding, as a fused multiply-add: a, b, c float32, a * b
    exact in float64 (<= 48 significant bits); the float64 sum is rounded to odd (its error,
    found by Knuth's TwoSum, sets the last bit), and a round-to-odd result with 29 more bits than
    float32 rounds to float32 correctly (Boldo & Melquiond, "Emulation of FMA and correctly
    rounded sums: proved algorithms using rounding to odd", IEEE TC 2008)."""
    p = a.astype(np.float64) * b.astype(np.float64)
    c64 = np.broadcast_to(np.asarray(c, np.float64), p.shape)
    s = p + c64
    bb = s - p
    err = (p - (s - bb)) + (c64 - bb)                          # s + err = p + c exactly
    even = (s.view(np.int64) & 1) == 0
    s = np.where((err != 0) & even, np.nextafter(s, np.copysign(np.inf, err)), s)
    return s.astype(np.float32)


def quantize_per_tensor(input: Any, scale: float, zero_point: int, dtype: str = "quint8"
                        ) -> np.ndarray:
    """q = clamp(round(x / scale) + zero_point, q_min, q_max), round half to even (torch's
    `torch.quantize_per_tensor`, computed as fbgemm does: round(x * (1/scale) + zero_point)
    with 1/scale in float32 and one rounding of the multiply-add to float32).

    Args:
        input: float array or Tensor.
        scale: positive step between two levels.
        zero_point: the integer that stands for 0.0, within the dtype's range.
        dtype: "quint8" (0..255, uint8) or "qint8" (-128..127, int8).

    Returns:
        The integer array (uint8 or int8), same shape as `input`.
    """
    qmin, qmax, np_type = _qtype(dtype)
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if not qmin <= int(zero_point) <= qmax:
        raise ValueError(f"zero_point must be in [{qmin}, {qmax}] for {dtype}, got {zero_point}")
    inv = _f32(1.0) / _f32(scale)
    # fbgemm: round(fma(x, 1/s, z)) in float32
    v = _fma32(_array(input).astype(np.float32), np.asarray(inv), np.asarray(_f32(zero_point)))
    return np.clip(np.rint(v), qmin, qmax).astype(np_type)


def quantize_per_channel(input: Any, scales: Any, zero_points: Any, axis: int = 0,
                         dtype: str = "qint8") -> np.ndarray:
    """q[..., c, ...] = clamp(round(x / scales[c]) + zero_points[c], q_min, q_max) along `axis`
    (torch's `torch.quantize_per_channel`; round half to even, x * (1/scale) in float32).

    Args:
        input: float array or Tensor.
        scales: one positive scale per channel of `axis`.
        zero_points: one zero point per channel.
        axis: the channel axis (0: a weight's output channels).
        dtype: "qint8" or "quint8".

    Returns:
        The integer array, same shape as `input`.
    """
    qmin, qmax, np_type = _qtype(dtype)
    x = _array(input)
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis must be in [{-x.ndim}, {x.ndim}) for a {x.ndim}-D input, "
                         f"got {axis}")
    s = np.asarray(scales, dtype=np.float32).ravel()
    z = np.asarray(zero_points, dtype=np.int64).ravel()
    if s.size != x.shape[axis] or z.size != x.shape[axis]:
        raise ValueError(f"scales and zero_points must have {x.shape[axis]} entries (the size "
                         f"of axis {axis}), got {s.size} and {z.size}")
    if not np.all(s > 0):
        raise ValueError("scales must all be positive")
    shape = [1] * x.ndim
    shape[axis] = -1
    inv = (_f32(1.0) / s).reshape(shape)                        # as quantize_per_tensor
    v = _fma32(x.astype(np.float32), inv, z.reshape(shape).astype(np.float32))
    return np.clip(np.rint(v), qmin, qmax).astype(np_type)


def dequantize(q: Any, scale: Any, zero_point: Any, axis: int | None = None) -> np.ndarray:
    """r = scale * (q - zero_point) in float32, per tensor or per channel along `axis`."""
    qa = _array(q).astype(np.float32)
    s = np.asarray(scale, dtype=np.float32)
    z = np.asarray(zero_point, dtype=np.float32)
    if axis is not None:
        shape = [1] * qa.ndim
        shape[axis] = -1
        s, z = s.reshape(shape), z.reshape(shape)
    return ((qa - z) * s).astype(np.float32)


# ----------------------------------------------------------------------------- observers
class _Observer:
    """Shared part of the observers: the integer range and torch's qparams formula."""

    def __init__(self, dtype: str = "quint8", qscheme: str = "per_tensor_affine",
                 reduce_range: bool = False, quant_min: int | None = None,
                 quant_max: int | None = None, eps: float = _EPS) -> None:
        lo, hi, _ = _qtype(dtype)
        schemes = ("per_tensor_affine", "per_tensor_symmetric", "per_channel_affine",
                   "per_channel_symmetric")
        if qscheme not in schemes:
            raise ValueError(f"qscheme must be one of {', '.join(schemes)}, got {qscheme!r}")
        self.custom_range = quant_min is not None and quant_max is not None
        if self.custom_range:
            assert quant_min is not None and quant_max is not None
            if not lo <= quant_min < quant_max <= hi:
                raise ValueError(f"quant_min/quant_max must satisfy {lo} <= quant_min < "
                                 f"quant_max <= {hi}, got {quant_min}, {quant_max}")
            lo, hi = quant_min, quant_max
        if reduce_range:
            if dtype == "quint8" and qscheme.endswith("symmetric"):
                raise ValueError("reduce_range cannot be used with a symmetric quint8 scheme "
                                 "(as torch); use per_tensor_affine or reduce_range=False")
            lo, hi = lo // 2, hi // 2
        self.dtype, self.qscheme, self.reduce_range = dtype, qscheme, reduce_range
        self.quant_min, self.quant_max, self.eps = lo, hi, eps

    def _qparams(self, min_val: Any, max_val: Any) -> tuple[np.ndarray, np.ndarray]:
        """torch's formula, in float32:

        affine:    s = (max(x_max, 0) - min(x_min, 0)) / (q_max - q_min),
                   z = clamp(q_min - round(min(x_min, 0) / s), q_min, q_max)
        symmetric: s = max(-min(x_min, 0), max(x_max, 0)) / ((q_max - q_min) / 2),
                   z = 0 (qint8) or 128 (quint8); s >= eps in both.
        """
        min_val = np.atleast_1d(np.asarray(min_val, dtype=np.float32))
        max_val = np.atleast_1d(np.asarray(max_val, dtype=np.float32))
        if np.all(min_val == np.inf) and np.all(max_val == -np.inf):   # never observed
            return np.ones(1, np.float32), np.zeros(1, np.int64)
        min_neg = np.minimum(min_val, _f32(0))
        max_pos = np.maximum(max_val, _f32(0))
        qmin, qmax = self.quant_min, self.quant_max
        if self.qscheme.endswith("symmetric"):
            bound = np.maximum(-min_neg, max_pos)
            scale = np.maximum(bound / _f32((qmax - qmin) / 2), _f32(self.eps))
            mid = 0 if self.dtype == "qint8" else (
                (qmin + qmax) // 2 if self.custom_range else 128)
            zero_point = np.full(scale.shape, mid, np.int64)
        else:
            scale = np.maximum((max_pos - min_neg) / _f32(qmax - qmin), _f32(self.eps))
            zero_point = qmin - np.rint(min_neg / scale).astype(np.int64)
            zero_point = np.clip(zero_point, qmin, qmax)
        return scale.astype(np.float32), zero_point


class MinMaxObserver(_Observer):
    """Running min and max of everything observed (torch.ao.quantization.MinMaxObserver).

    s = (max(x_max, 0) - min(x_min, 0)) / (q_max - q_min), z = q_min - round(min(x_min, 0) / s)
    (affine; see `_Observer._qparams` for the symmetric scheme).

    Args:
        dtype: "quint8" (activations) or "qint8".
        qscheme: "per_tensor_affine" or "per_tensor_symmetric".
        reduce_range: halve the integer range (0..127 for quint8), as torch's x86 qconfig does.
        quant_min, quant_max: a custom integer range.
        eps: the smallest scale.
    """

    def __init__(self, dtype: str = "quint8", qscheme: str = "per_tensor_affine",
                 reduce_range: bool = False, quant_min: int | None = None,
                 quant_max: int | None = None, eps: float = _EPS) -> None:
        if qscheme not in ("per_tensor_affine", "per_tensor_symmetric"):
            raise ValueError(f"qscheme must be 'per_tensor_affine' or 'per_tensor_symmetric', "
                             f"got {qscheme!r}")
        super().__init__(dtype, qscheme, reduce_range, quant_min, quant_max, eps)
        self.min_val = np.float32(np.inf)
        self.max_val = np.float32(-np.inf)

    def __call__(self, x: Any) -> Any:
        a = _array(x)
        if a.size:
            a = a.astype(np.float32, copy=False)
            self.min_val = min(self.min_val, np.float32(a.min()))
            self.max_val = max(self.max_val, np.float32(a.max()))
        return x

    def calculate_qparams(self) -> tuple[np.ndarray, np.ndarray]:
        """(scale (1,) float32, zero_point (1,) int64)."""
        return self._qparams(self.min_val, self.max_val)


class PerChannelMinMaxObserver(_Observer):
    """Running min and max per channel of `ch_axis` (torch's PerChannelMinMaxObserver); the
    default, per-channel symmetric int8, is what torch's x86 qconfig uses for weights:
    s[o] = max(|w[o]|) / 127.5, z[o] = 0.

    Args:
        ch_axis: the channel axis (0: output channels of a weight).
        dtype: "qint8" or "quint8".
        qscheme: "per_channel_symmetric" or "per_channel_affine".
        reduce_range, quant_min, quant_max, eps: as `MinMaxObserver`.
    """

    def __init__(self, ch_axis: int = 0, dtype: str = "qint8",
                 qscheme: str = "per_channel_symmetric", reduce_range: bool = False,
                 quant_min: int | None = None, quant_max: int | None = None,
                 eps: float = _EPS) -> None:
        if qscheme not in ("per_channel_affine", "per_channel_symmetric"):
            raise ValueError(f"qscheme must be 'per_channel_symmetric' or 'per_channel_affine', "
                             f"got {qscheme!r}")
        super().__init__(dtype, qscheme, reduce_range, quant_min, quant_max, eps)
        self.ch_axis = ch_axis
        self.min_val: np.ndarray | None = None
        self.max_val: np.ndarray | None = None

    def __call__(self, x: Any) -> Any:
        a = np.moveaxis(_array(x).astype(np.float32, copy=False), self.ch_axis, 0)
        a = a.reshape(a.shape[0], -1)
        lo, hi = a.min(axis=1), a.max(axis=1)
        if self.min_val is None or self.max_val is None:
            self.min_val, self.max_val = lo, hi
        else:
            self.min_val = np.minimum(self.min_val, lo)
            self.max_val = np.maximum(self.max_val, hi)
        return x

    def calculate_qparams(self) -> tuple[np.ndarray, np.ndarray]:
        """(scales (C,) float32, zero_points (C,) int64)."""
        if self.min_val is None or self.max_val is None:
            raise ValueError("observer has seen no data: call it on a tensor first")
        return self._qparams(self.min_val, self.max_val)


def _histc(x: np.ndarray, bins: int, lo: np.float32, hi: np.float32) -> np.ndarray:
    """torch.histc in float32: bin = floor((x - lo) * bins / (hi - lo)), x == hi in the last
    bin, values outside [lo, hi] dropped."""
    if lo == hi:                                       # torch widens an empty range by 1
        lo, hi = _f32(lo - 1), _f32(hi + 1)
    x = x[(x >= lo) & (x <= hi)]
    pos = ((x - lo) * _f32(bins) / (hi - lo)).astype(np.int64)
    return np.bincount(np.minimum(pos, bins - 1), minlength=bins).astype(np.float32)


def _linspace32(start: np.float32, end: np.float32, steps: int) -> np.ndarray:
    """torch.linspace in float32: the first half start + i*step, the second end - (n-1-i)*step,
    each a fused multiply-add (one rounding; in float64 the product is exact)."""
    step = np.float64((end - start) / _f32(steps - 1))
    i = np.arange(steps)
    return np.where(i < steps // 2, np.float64(start) + step * i,
                    np.float64(end) - step * (steps - 1 - i)).astype(np.float32)


class HistogramObserver(_Observer):
    """A running histogram of the values, and the clipping range that minimises the L2
    quantisation error over it (torch.ao.quantization.HistogramObserver, after caffe2's
    NormMinimization; the default activation observer of torch's x86 qconfig).

    The search narrows [min, max] one histogram bin at a time from the side holding less
    probability mass (steps of 1e-5 in cumulative mass) while the estimated error
        E(a, b) = sum_bins density * integral (x - Q(x))^2 dx   (uniform within a bin)
    keeps falling, and returns the scale and zero point of the best range (as MinMaxObserver).
    A histogram re-binned to a wider range spreads each old bin over 16 sub-bins first.

    Args:
        bins: histogram bins.
        dtype, qscheme, reduce_range, quant_min, quant_max, eps: as `MinMaxObserver`.
    """

    upsample_rate = 16

    def __init__(self, bins: int = 2048, dtype: str = "quint8",
                 qscheme: str = "per_tensor_affine", reduce_range: bool = False,
                 quant_min: int | None = None, quant_max: int | None = None,
                 eps: float = _EPS) -> None:
        if qscheme not in ("per_tensor_affine", "per_tensor_symmetric"):
            raise ValueError(f"qscheme must be 'per_tensor_affine' or 'per_tensor_symmetric', "
                             f"got {qscheme!r}")
        if not isinstance(bins, int) or bins < 1:
            raise ValueError(f"bins must be a positive int, got {bins!r}")
        super().__init__(dtype, qscheme, reduce_range, quant_min, quant_max, eps)
        self.bins = bins
        self.dst_nbins = 256
        self.histogram = np.zeros(bins, np.float32)
        self.min_val = np.float32(np.inf)
        self.max_val = np.float32(-np.inf)

    def __call__(self, x: Any) -> Any:
        a = _array(x).astype(np.float32, copy=False).ravel()
        a = a[np.isfinite(a)]
        if not a.size:
            return x
        x_min, x_max = np.float32(a.min()), np.float32(a.max())
        if self.min_val == np.inf:
            self.min_val, self.max_val = x_min, x_max
            self.histogram = _histc(a, self.bins, x_min, x_max)
            return x
        new_min, new_max = min(self.min_val, x_min), max(self.max_val, x_max)
        update = _histc(a, self.bins, new_min, new_max)
        if new_min == self.min_val and new_max == self.max_val:
            self.histogram = self.histogram + update
        else:
            self.histogram = update + self._rebin(new_min, new_max)
            self.min_val, self.max_val = new_min, new_max
        return x

    def _rebin(self, new_min: np.float32, new_max: np.float32) -> np.ndarray:
        """The current histogram on the bins of [new_min, new_max]: each old bin split in
        `upsample_rate` equal parts, each part moved to the new bin holding its midpoint."""
        lo, hi, r = self.min_val, self.max_val, self.upsample_rate
        if lo == hi:
            return _histc(np.array([lo], np.float32), self.bins, new_min, new_max) \
                * self.histogram.sum(dtype=np.float32)
        parts = np.repeat(self.histogram, r) / _f32(r)
        width = (hi - lo) / _f32(self.bins * r)
        mids = _linspace32(lo, hi, self.bins * r + 1)[:-1] + _f32(0.5) * width
        edges = _linspace32(new_min, new_max, self.bins + 1)
        where = np.clip(np.searchsorted(edges, mids, side="right") - 1, 0, self.bins - 1)
        return np.bincount(where, weights=parts, minlength=self.bins).astype(np.float32)

    def _error(self, start: int, end: int) -> float:
        """E for the clipping range of bins [start, end] quantised to dst_nbins levels, in
        float32 as torch: per source bin, the squared error of its values against the
        centres of the destination bins it covers, norm(a, b) = density * (b^3 - a^3) / 3."""
        bin_width = (float(self.max_val) - float(self.min_val)) / self.bins
        dst = bin_width * (end - start + 1) / self.dst_nbins
        if dst == 0.0:
            return 0.0
        bw, d, half = _f32(bin_width), _f32(dst), _f32(dst / 2)
        begin = (np.arange(self.bins) - start).astype(np.float32) * bw
        stop = begin + bw
        dst_begin = np.clip(np.floor_divide(begin, d), 0, self.dst_nbins - 1)
        dst_end = np.clip(np.floor_divide(stop, d), 0, self.dst_nbins - 1)
        density = self.histogram / bw

        def norm(a: Any, b: Any) -> Any:
            return density * ((b * b * b - a * a * a) / _f32(3))

        err = norm(begin - (dst_begin + _f32(0.5)) * d, np.ones(self.bins, np.float32) * half)
        err = err + (dst_end - dst_begin - _f32(1)) * norm(_f32(-dst / 2), half)
        err = err + norm(_f32(-dst / 2), stop - (dst_end * d + half))
        return float(err.sum(dtype=np.float32))

    def _search(self) -> tuple[np.float32, np.float32]:
        """torch's `_non_linear_param_search`: the (min, max) of the best clipping range."""
        csum = np.cumsum(self.histogram, dtype=np.float64).astype(np.float32).tolist()
        total = float(self.histogram.sum(dtype=np.float64).astype(np.float32))
        step, alpha, beta = 1e-5, 0.0, 1.0
        start, end = 0, self.bins - 1
        best = math.inf
        while alpha < beta:
            next_alpha, next_beta = alpha + step, beta - step
            low, high = float(_f32(next_alpha * total)), float(_f32(next_beta * total))
            left, right = start, end
            while left < end and csum[left] < low:
                left += 1
            while right > start and csum[right] > high:
                right -= 1
            new_start, new_end = start, end
            if left - start > end - right:
                new_start, alpha = left, next_alpha
            else:
                new_end, beta = right, next_beta
            if new_start == start and new_end == end:
                continue
            err = self._error(new_start, new_end)
            if err > best:
                break
            best, start, end = err, new_start, new_end
        width = (self.max_val - self.min_val) / _f32(self.bins)
        return self.min_val + width * _f32(start), self.min_val + width * _f32(end + 1)

    def calculate_qparams(self) -> tuple[np.ndarray, np.ndarray]:
        """(scale (1,) float32, zero_point (1,) int64) of the L2-best clipping range."""
        if self.min_val == np.inf:
            return self._qparams(np.float32(np.inf), np.float32(-np.inf))
        return self._qparams(*self._search())


class PercentileObserver(HistogramObserver):
    """Clip at percentiles of the running histogram instead of searching: the range holds all
    but (100 - percentile)% of the mass on each side (a cheap alternative to the L2 search;
    e.g. McKinstry et al. 2019, Wu et al. 2020 "Integer quantization ... principles").

    Args:
        percentile: in (50, 100]; 99.99 keeps all but 0.01% of the values at each end.
        bins, dtype, qscheme, reduce_range, quant_min, quant_max, eps: as `HistogramObserver`.
    """

    def __init__(self, percentile: float = 99.99, bins: int = 2048, dtype: str = "quint8",
                 qscheme: str = "per_tensor_affine", reduce_range: bool = False,
                 quant_min: int | None = None, quant_max: int | None = None,
                 eps: float = _EPS) -> None:
        if not 50 < percentile <= 100:
            raise ValueError(f"percentile must be in (50, 100], got {percentile}")
        super().__init__(bins, dtype, qscheme, reduce_range, quant_min, quant_max, eps)
        self.percentile = percentile

    def _search(self) -> tuple[np.float32, np.float32]:
        csum = np.cumsum(self.histogram, dtype=np.float64)
        tail = csum[-1] * (1 - self.percentile / 100)
        start = int(np.searchsorted(csum, tail, side="right"))
        end = int(np.searchsorted(csum, csum[-1] - tail, side="left"))
        start, end = min(start, self.bins - 1), max(min(end, self.bins - 1), start)
        width = (self.max_val - self.min_val) / _f32(self.bins)
        return self.min_val + width * _f32(start), self.min_val + width * _f32(end + 1)


_OBSERVERS: dict[str, type[_Observer]] = {
    "minmax": MinMaxObserver, "histogram": HistogramObserver, "percentile": PercentileObserver,
}


# ----------------------------------------------------------------------------- fusion
class ConvReLU2d(nn.Sequential):
    """Conv2d then ReLU as one module (torch.ao.nn.intrinsic.ConvReLU2d): quantised, the ReLU
    becomes the requantisation's lower clamp."""


class LinearReLU(nn.Sequential):
    """Linear then ReLU as one module (torch.ao.nn.intrinsic.LinearReLU)."""


def fold_bn(layer: Module, bn: Module) -> Module:
    """A copy of `layer` (Conv2d or Linear) with the eval-mode BatchNorm `bn` that follows it
    folded in (Jacob et al. 2018, Sec. 3.2; torch's fuse_conv_bn_eval):

        w'[o] = w[o] * gamma[o] / sqrt(var[o] + eps)
        b'[o] = (b[o] - mean[o]) * gamma[o] / sqrt(var[o] + eps) + beta[o]     (b = 0 if none)

    so layer'(x) = bn(layer(x)) with bn's running statistics.

    Args:
        layer: nn.Conv2d (then bn is BatchNorm2d) or nn.Linear (BatchNorm1d).
        bn: the batch norm right after it, with running statistics.

    Returns:
        A new layer of the same type with a bias; `layer` and `bn` are unchanged.
    """
    if not isinstance(layer, (nn.Conv2d, nn.Linear)):
        raise TypeError(f"layer must be an nn.Conv2d or nn.Linear, got {type(layer).__name__}")
    want = nn.BatchNorm2d if isinstance(layer, nn.Conv2d) else nn.BatchNorm1d
    if not isinstance(bn, want):
        raise TypeError(f"bn must be an nn.{want.__name__} after an nn.{type(layer).__name__}, "
                        f"got {type(bn).__name__}")
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("bn must track running statistics (track_running_stats=True)")
    out = copy.deepcopy(layer)
    w = layer.weight.array
    mean, var = bn.running_mean.array.astype(w.dtype), bn.running_var.array.astype(w.dtype)
    gamma = bn.weight.array.astype(w.dtype) if bn.weight is not None else np.ones_like(mean)
    beta = bn.bias.array.astype(w.dtype) if bn.bias is not None else np.zeros_like(mean)
    b = layer.bias.array if layer.bias is not None else np.zeros_like(mean)
    inv_std = 1 / np.sqrt(var + w.dtype.type(bn.eps))
    w_new = w * (gamma * inv_std).reshape((-1,) + (1,) * (w.ndim - 1))
    b_new = (b - mean) * inv_std * gamma + beta
    out.weight = nn.Parameter(Tensor(w_new.astype(w.dtype)))
    out.bias = nn.Parameter(Tensor(b_new.astype(w.dtype)))
    return out


def _fuse_group(mods: list[Module], names: list[str]) -> Module:
    """One fused module for [conv|linear, (bn), (relu)] or [bn, relu]."""
    kinds = [type(m).__name__ for m in mods]
    head, rest = mods[0], mods[1:]
    if isinstance(head, (nn.Conv2d, nn.Linear)):
        if rest and isinstance(rest[0], (nn.BatchNorm1d, nn.BatchNorm2d)):
            head, rest = fold_bn(head, rest[0]), rest[1:]
        else:
            head = copy.deepcopy(head)
        if not rest:
            return head
        if len(rest) == 1 and isinstance(rest[0], nn.ReLU):
            return ConvReLU2d(head, nn.ReLU()) if isinstance(head, nn.Conv2d) \
                else LinearReLU(head, nn.ReLU())
    elif isinstance(head, (nn.BatchNorm1d, nn.BatchNorm2d)) and len(rest) == 1 \
            and isinstance(rest[0], nn.ReLU):
        return nn.Sequential(copy.deepcopy(head), nn.ReLU())
    raise ValueError(f"modules_to_fuse: cannot fuse {names} ({', '.join(kinds)}); allowed: "
                     "[Conv2d, BatchNorm2d], [Conv2d, BatchNorm2d, ReLU], [Conv2d, ReLU], "
                     "[Linear, BatchNorm1d], [Linear, ReLU], [BatchNorm, ReLU]")


def fuse_modules(model: Module, modules_to_fuse: Sequence[Sequence[str]],
                 inplace: bool = False) -> Module:
    """Fuse groups of consecutive modules, named by their dotted names (torch.ao.quantization
    .fuse_modules, eval mode): BatchNorm folded into the conv/linear before it (`fold_bn`), a
    ReLU fused with it (`ConvReLU2d`, `LinearReLU`). The first name of a group gets the fused
    module, the others become nn.Identity.

    Args:
        model: the float model, in eval mode for BN folding to mean what it computes.
        modules_to_fuse: e.g. [["features.0", "features.1", "features.2"], ...]; groups:
            [conv, bn], [conv, bn, relu], [conv, relu], [linear, bn1d], [linear, relu],
            [bn, relu].
        inplace: change `model` itself instead of a copy.

    Returns:
        The fused model (a deep copy unless `inplace`).
    """
    out = model if inplace else copy.deepcopy(model)
    for group in modules_to_fuse:
        if isinstance(group, str) or len(group) < 2:
            raise ValueError(f"modules_to_fuse: each entry must be a list of 2 or 3 module "
                             f"names, got {group!r}")
        try:
            mods = [out.get_submodule(n) for n in group]
        except AttributeError as err:
            raise ValueError(f"modules_to_fuse: {err}") from None
        fused = _fuse_group(mods, list(group))
        out.set_submodule(group[0], fused)
        for n in group[1:]:
            out.set_submodule(n, nn.Identity())
    return out


# ----------------------------------------------------------------------------- integer kernels
def _no_backward(name: str) -> None:
    raise RuntimeError(f"{name} is an inference-only integer kernel: it has no backward")


def _requantize(acc: np.ndarray, multiplier: Any, zero_point: int, lo: int, hi: int
                ) -> np.ndarray:
    """q = clamp(round_half_even(acc * multiplier) + zero_point, lo, hi) as uint8."""
    y = np.rint(acc * multiplier)
    y += zero_point
    return np.clip(y, lo, hi, out=y).astype(np.uint8)


class QuantizeFn(Function):
    """q = clamp(round(x / s) + z, 0, 255): float -> uint8."""

    @staticmethod
    def forward(ctx: Context, x, *, scale, zero_point):
        return quantize_per_tensor(x, scale, zero_point, "quint8")

    @staticmethod
    def backward(ctx: Context, gy):
        _no_backward("QuantizeFn")


class DequantizeFn(Function):
    """r = s * (q - z): uint8 -> float32."""

    @staticmethod
    def forward(ctx: Context, q, *, scale, zero_point):
        return dequantize(q, scale, zero_point)

    @staticmethod
    def backward(ctx: Context, gy):
        _no_backward("DequantizeFn")


def _gemm_dtype(weight: np.ndarray, zero_point: int) -> type[np.floating[Any]]:
    """float32 when every partial sum of sum_k w[o,k] * (x[k] - z) is an integer below 2^24
    (bounded by sum_k |w[o,k]| * max |x - z|, x in 0..255), else float64 (exact below 2^53)."""
    bound = int(np.abs(weight.astype(np.int64)).reshape(len(weight), -1).sum(1).max()) \
        * max(zero_point, 255 - zero_point)
    return np.float32 if bound < 2**24 else np.float64


def conv_accumulate(x: np.ndarray, weight: np.ndarray, zero_point: int,
                    stride: tuple[int, int], padding: tuple[tuple[int, int], ...],
                    dilation: tuple[int, int], groups: int) -> np.ndarray:
    """acc[n,o,i,j] = sum_{c,a} w[o,c,a] * (xp[n,c,(i,j)*s+a*d] - z_x), exactly (xp: x padded
    with z_x, a real zero): the integers go through numcnn's convolution (im2col + BLAS GEMM),
    exact while every partial sum is an integer the float type holds exactly: float32 when
    sum |w[o]| * max |x - z_x| is below 2^24 (e.g. 3x3 convolutions up to ~32 input channels),
    float64 (2^53) otherwise.

    Shape:
        x uint8 (N, C, H, W), weight int8 (O, C/G, KH, KW)
        -> acc (N, O, Ho, Wo), float32 or float64, holding the exact integer sums.
    """
    dtype = _gemm_dtype(weight, zero_point)
    xf = x.astype(dtype)
    xf -= dtype(zero_point)                                   # (N, C, H, W), real 0 = 0.0
    return ConvNd.forward(Context((False, False, False)), xf, weight.astype(dtype), None,
                          stride=stride, padding=padding, dilation=dilation, groups=groups)


def requantize(acc: Any, bias: Any, in_scale: float, weight_scale: Any, out_scale: float,
               out_zero_point: int, relu: bool = False) -> np.ndarray:
    """Integer sums of a conv/linear layer -> its uint8 output, as fbgemm's ReQuantizeOutput
    with a float bias (torch's quantized conv/linear on the fbgemm engine), each step one
    float32 rounding, in this order:

        a[o] = s_x * s_w[o]                     (torch's act_times_w_scale)
        M[o] = a[o] / s_y                       (torch's output_multiplier_float)
        v    = float32(acc) + b[o] / a[o]       (the float bias in units of a[o])
        q_y  = clamp(round_half_even(v * M[o]) + z_y, z_y if relu else 0, 255)

    (Jacob et al. 2018, Eq. 7 with the bias kept in float: q_y = z_y + M (acc + b / a).)

    Args:
        acc: the exact integer sums, any integer or float array with the output channels on
            axis 1, e.g. (N, O) or (N, O, H, W) (`conv_accumulate`); converted to float32
            (rounded to nearest even above 2^24, as fbgemm's int32 -> float).
        bias: (O,) float bias (float32).
        in_scale: s_x, the input's scale.
        weight_scale: (O,) per-output-channel weight scales s_w.
        out_scale: s_y, the output's scale.
        out_zero_point: z_y, in 0..255.
        relu: fuse a ReLU (clamp below at z_y).

    Returns:
        uint8 array of acc's shape.
    """
    acc = np.asarray(acc)
    s_w = np.asarray(weight_scale, np.float32).ravel()
    b = np.asarray(bias, np.float32).ravel()
    if acc.ndim < 2 or acc.shape[1] != s_w.size or b.size != s_w.size:
        raise ValueError(f"acc must have the output channels on axis 1 and bias and "
                         f"weight_scale one entry each per channel, got acc {acc.shape}, bias "
                         f"{b.size}, weight_scale {s_w.size}")
    if not 0 <= int(out_zero_point) <= 255:
        raise ValueError(f"out_zero_point must be in [0, 255], got {out_zero_point}")
    shape = (1, -1) + (1,) * (acc.ndim - 2)
    a = (_f32(in_scale) * s_w).reshape(shape)                # float32 products
    m = a / _f32(out_scale)
    v = acc.astype(np.float32)
    v += b.reshape(shape) / a
    v *= m
    y = np.rint(v, out=v)
    y += _f32(out_zero_point)
    lo = int(out_zero_point) if relu else 0
    return np.clip(y, lo, 255, out=y).astype(np.uint8)


class Int8Conv2d(Function):
    """y = requantize(sum_{c,a} w[o,c,a] * (xp[n,c,i*s+a*d] - z_x), b) (see `requantize`), xp
    padded with z_x (a real zero).  x uint8 (N, C, H, W), w int8 (O, C/G, KH, KW), b float32
    (O,), weight_scale float32 (O,) -> y uint8 (N, O, Ho, Wo).  The sums are exact."""

    @staticmethod
    def forward(ctx: Context, x, weight, bias, weight_scale, *, in_scale, in_zero_point,
                out_scale, out_zero_point, relu, stride, padding, dilation, groups):
        acc = conv_accumulate(x, weight, in_zero_point, stride, padding, dilation, groups)
        return requantize(acc, bias, in_scale, weight_scale, out_scale, out_zero_point, relu)

    @staticmethod
    def backward(ctx: Context, gy):
        _no_backward("Int8Conv2d")


class Int8Linear(Function):
    """y = requantize(sum_f w[o,f] * (x[n,f] - z_x), b); x uint8 (N, F), w int8 (O, F),
    b float32 (O,) -> y uint8 (N, O); the sum is a float32 or float64 GEMM, exact (as
    `conv_accumulate`)."""

    @staticmethod
    def forward(ctx: Context, x, weight, bias, weight_scale, *, in_scale, in_zero_point,
                out_scale, out_zero_point, relu):
        dtype = _gemm_dtype(weight, in_zero_point)
        xf = x.astype(dtype)
        xf -= dtype(in_zero_point)
        acc = xf @ weight.astype(dtype).T                       # (N, O), exact
        return requantize(acc, bias, in_scale, weight_scale, out_scale, out_zero_point, relu)

    @staticmethod
    def backward(ctx: Context, gy):
        _no_backward("Int8Linear")


class Int8BatchNorm(Function):
    """y = clamp(round(fma(alpha[c], q - z_x, beta[c])) + z_y, lo, 255) in float32 with one
    rounding for the multiply-add (torch's quantized batch_norm kernel uses a vector FMA);
    alpha, beta from `QuantizedBatchNorm`: dequantise, normalise, requantise in one step.
    Computed once per channel for the 256 possible inputs, then looked up:
    x uint8 (N, C, ...) -> y uint8 (N, C, ...)."""

    @staticmethod
    def forward(ctx: Context, x, alpha, beta, *, in_zero_point, out_zero_point, lo, hi):
        v = np.arange(256, dtype=np.float32) - _f32(in_zero_point)      # exact small integers
        table = _fma32(alpha.reshape(-1, 1), v.reshape(1, -1), beta.reshape(-1, 1))
        table = _requantize(table, _f32(1), out_zero_point, lo, hi)      # (C, 256) uint8
        shape = (1, -1) + (1,) * (x.ndim - 2)
        rows = (np.arange(len(alpha), dtype=np.intp) * 256).reshape(shape)
        return np.take(table, x + rows)                                  # x + rows: intp

    @staticmethod
    def backward(ctx: Context, gy):
        _no_backward("Int8BatchNorm")


class Int8ReLU(Function):
    """y = max(q, z): ReLU on the integers (the real zero is z)."""

    @staticmethod
    def forward(ctx: Context, x, *, zero_point):
        return np.maximum(x, np.uint8(zero_point))

    @staticmethod
    def backward(ctx: Context, gy):
        _no_backward("Int8ReLU")


class Int8AvgPool(Function):
    """y = round(mean over the window of (q - z)) + z (scale and zero point kept), computed as
    numcnn's average pooling of (q - z) in float64 (sums of integers: exact) and rounded half to
    even.  `pool` is "avg" (kernel_size, stride, padding, ceil_mode, count_include_pad,
    divisor_override) or "adaptive" (output_size)."""

    @staticmethod
    def forward(ctx: Context, x, *, zero_point, pool, config):
        xf = Tensor(x.astype(np.float64) - zero_point)
        with no_grad():
            avg = F.avg_pool2d(xf, **config) if pool == "avg" \
                else F.adaptive_avg_pool2d(xf, **config)
        return _requantize(avg.array, 1.0, zero_point, 0, 255)

    @staticmethod
    def backward(ctx: Context, gy):
        _no_backward("Int8AvgPool")


def _numel(t: Any) -> int:
    return int(np.prod(_array(t).shape))


def _conv_cost(op: OpCall) -> tuple[int, int]:
    w = _array(op.inputs[1])
    macs = _numel(op.output) * int(np.prod(w.shape[1:]))     # C/G * KH * KW per output
    return macs, 2 * macs


def _linear_cost(op: OpCall) -> tuple[int, int]:
    macs = _numel(op.output) * _array(op.inputs[1]).shape[1]
    return macs, 2 * macs


def _elementwise_cost(op: OpCall) -> tuple[int, int]:
    return 0, _numel(op.output)


def _batchnorm_cost(op: OpCall) -> tuple[int, int]:
    return _numel(op.output), 2 * _numel(op.output)


register_op_cost("Int8Conv2d", _conv_cost)
register_op_cost("Int8Linear", _linear_cost)
register_op_cost("Int8BatchNorm", _batchnorm_cost)
for _name in ("QuantizeFn", "DequantizeFn", "Int8ReLU", "Int8AvgPool"):
    register_op_cost(_name, _elementwise_cost)


# ----------------------------------------------------------------------------- modules
def _scalar_buffers(module: Module, prefix: str, scale: Any, zero_point: Any) -> None:
    module.register_buffer(f"{prefix}scale", Tensor(np.asarray(scale, np.float32).reshape(1)))
    module.register_buffer(f"{prefix}zero_point",
                           Tensor(np.asarray(zero_point, np.int32).reshape(1)))


def _qp(module: Module, prefix: str = "") -> tuple[float, int]:
    """(scale, zero point) of a module's buffers `{prefix}scale` / `{prefix}zero_point`."""
    return (float(getattr(module, f"{prefix}scale").array[0]),
            int(getattr(module, f"{prefix}zero_point").array[0]))


class Quantize(Module):
    """Float input -> uint8 with the calibrated input scale and zero point (torch's QuantStub,
    converted)."""

    def __init__(self, scale: float, zero_point: int) -> None:
        super().__init__()
        _scalar_buffers(self, "", scale, zero_point)

    def forward(self, input: Tensor) -> Tensor:
        s, z = _qp(self)
        return QuantizeFn.apply(input, scale=s, zero_point=z)

    def extra_repr(self) -> str:
        return "scale={:.6g}, zero_point={}".format(*_qp(self))


class DeQuantize(Module):
    """uint8 -> float32: r = s * (q - z) with the last layer's output scale and zero point."""

    def __init__(self, scale: float, zero_point: int) -> None:
        super().__init__()
        _scalar_buffers(self, "", scale, zero_point)

    def forward(self, input: Tensor) -> Tensor:
        s, z = _qp(self)
        return DequantizeFn.apply(input, scale=s, zero_point=z)


class _QuantizedLayer(Module):
    """int8 weights (per output channel scales, zero point 0), the float32 bias (fbgemm adds it
    in float inside the requantisation), input and output scale/zero point as buffers; `relu`
    fuses a ReLU into the output clamp."""

    def __init__(self, weight: np.ndarray, weight_scale: np.ndarray, bias: np.ndarray,
                 in_qparams: tuple[float, int], out_qparams: tuple[float, int],
                 relu: bool) -> None:
        super().__init__()
        self.register_buffer("weight", Tensor(np.asarray(weight, np.int8)))
        self.register_buffer("weight_scale", Tensor(np.asarray(weight_scale, np.float32)))
        self.register_buffer("bias", Tensor(np.asarray(bias, np.float32)))
        _scalar_buffers(self, "input_", *in_qparams)
        _scalar_buffers(self, "", *out_qparams)
        self.relu = relu

    @staticmethod
    def _quantize_params(layer: Module) -> tuple[np.ndarray, ...]:
        """int8 weights (per-channel symmetric, PerChannelMinMaxObserver), their scales, and
        the float32 bias (zeros when the layer has none)."""
        w = layer.weight.array.astype(np.float32)
        obs = PerChannelMinMaxObserver()
        obs(w)
        s_w, z_w = obs.calculate_qparams()
        q_w = quantize_per_channel(w, s_w, z_w, 0, "qint8")
        b = layer.bias.array if layer.bias is not None else np.zeros(w.shape[0])
        return q_w, s_w, b.astype(np.float32)

    def _kernel_args(self) -> dict[str, Any]:
        (s_x, z_x), (s_y, z_y) = _qp(self, "input_"), _qp(self)
        return dict(in_scale=s_x, in_zero_point=z_x, out_scale=s_y, out_zero_point=z_y,
                    relu=self.relu)

    def extra_spec(self) -> dict[str, Any]:
        return {"relu": self.relu}


class QuantizedConv2d(_QuantizedLayer):
    """A Conv2d on integers (torch.ao.nn.quantized.Conv2d / ConvReLU2d on fbgemm):
    uint8 (N, C, H, W) -> uint8 (N, O, Ho, Wo); see `Int8Conv2d` for the formula.

    Build it with `QuantizedConv2d.from_float(conv, in_qparams, out_qparams, relu)`.
    """

    def __init__(self, weight: np.ndarray, weight_scale: np.ndarray, bias: np.ndarray,
                 in_qparams: tuple[float, int], out_qparams: tuple[float, int], relu: bool,
                 stride: tuple[int, int], padding: tuple[tuple[int, int], ...],
                 dilation: tuple[int, int], groups: int) -> None:
        super().__init__(weight, weight_scale, bias, in_qparams, out_qparams, relu)
        self.stride, self.padding = tuple(stride), tuple(tuple(p) for p in padding)
        self.dilation, self.groups = tuple(dilation), groups

    @classmethod
    def from_float(cls, conv: Module, in_qparams: tuple[float, int],
                   out_qparams: tuple[float, int], relu: bool = False) -> QuantizedConv2d:
        """Quantise a float nn.Conv2d (BN already folded) for input/output (scale, zp)."""
        q_w, s_w, b = cls._quantize_params(conv)
        return cls(q_w, s_w, b, in_qparams, out_qparams, relu, *_conv_geometry(conv))

    def forward(self, input: Tensor) -> Tensor:
        return Int8Conv2d.apply(input, self.weight.array, self.bias.array,
                                self.weight_scale.array, stride=self.stride, padding=self.padding,
                                dilation=self.dilation, groups=self.groups,
                                **self._kernel_args())

    def extra_repr(self) -> str:
        o, c, kh, kw = self.weight.shape
        return (f"{c * self.groups}, {o}, kernel_size=({kh}, {kw}), stride={self.stride}, "
                f"scale={_qp(self)[0]:.6g}, zero_point={_qp(self)[1]}, relu={self.relu}")


class QuantizedLinear(_QuantizedLayer):
    """A Linear on integers (torch.ao.nn.quantized.Linear / LinearReLU on fbgemm):
    uint8 (N, F) -> uint8 (N, O); see `Int8Linear`.

    Build it with `QuantizedLinear.from_float(linear, in_qparams, out_qparams, relu)`.
    """

    @classmethod
    def from_float(cls, linear: Module, in_qparams: tuple[float, int],
                   out_qparams: tuple[float, int], relu: bool = False) -> QuantizedLinear:
        """Quantise a float nn.Linear (BN already folded) for input/output (scale, zp)."""
        q_w, s_w, b = cls._quantize_params(linear)
        return cls(q_w, s_w, b, in_qparams, out_qparams, relu)

    def forward(self, input: Tensor) -> Tensor:
        return Int8Linear.apply(input, self.weight.array, self.bias.array,
                                self.weight_scale.array, **self._kernel_args())

    def extra_repr(self) -> str:
        o, f = self.weight.shape
        return (f"in_features={f}, out_features={o}, scale={_qp(self)[0]:.6g}, "
                f"zero_point={_qp(self)[1]}, relu={self.relu}")


class QuantizedBatchNorm(Module):
    """BatchNorm (1d or 2d, eval) on integers between two (scale, zero point) pairs
    (torch.ao.nn.quantized.BatchNorm2d); see `Int8BatchNorm`. The four per-channel vectors stay
    float32 (they are C values each)."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, running_mean: np.ndarray,
                 running_var: np.ndarray, eps: float, in_qparams: tuple[float, int],
                 out_qparams: tuple[float, int], relu: bool) -> None:
        super().__init__()
        for name, v in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                        ("running_var", running_var)):
            self.register_buffer(name, Tensor(np.asarray(v, np.float32)))
        _scalar_buffers(self, "input_", *in_qparams)
        _scalar_buffers(self, "", *out_qparams)
        self.eps, self.relu = float(eps), relu

    @classmethod
    def from_float(cls, bn: Module, in_qparams: tuple[float, int],
                   out_qparams: tuple[float, int], relu: bool = False) -> QuantizedBatchNorm:
        """From a float BatchNorm1d/2d with running statistics."""
        c = bn.running_mean.array.shape[0]
        gamma = bn.weight.array if bn.weight is not None else np.ones(c)
        beta = bn.bias.array if bn.bias is not None else np.zeros(c)
        return cls(gamma, beta, bn.running_mean.array, bn.running_var.array, bn.eps,
                   in_qparams, out_qparams, relu)

    def alpha_beta(self) -> tuple[np.ndarray, np.ndarray]:
        """The kernel's per-channel float32 factors, rounded as torch's quantized batch norm
        computes them (float32 unless a double operand is named):

            inv   = float32(1.0 / sqrt(var + eps))      (sqrt in float32, 1.0 / it in double)
            alpha = float32(inv * gamma * (s_x / s_y))  (s_x / s_y in double)
            beta  = float32((beta - mean * inv * gamma) / s_y)   (the division in double)
        """
        s_x, s_y = _qp(self, "input_")[0], _qp(self)[0]
        root = np.sqrt(self.running_var.array + _f32(self.eps))        # float32
        inv = (1.0 / root.astype(np.float64)).astype(np.float32)
        g = inv * self.weight.array
        alpha = (g.astype(np.float64) * (s_x / s_y)).astype(np.float32)
        shift = self.bias.array - self.running_mean.array * inv * self.weight.array
        return alpha, (shift.astype(np.float64) / s_y).astype(np.float32)

    def forward(self, input: Tensor) -> Tensor:
        z_x, z_y = _qp(self, "input_")[1], _qp(self)[1]
        alpha, beta = self.alpha_beta()
        return Int8BatchNorm.apply(input, alpha, beta, in_zero_point=z_x, out_zero_point=z_y,
                                   lo=z_y if self.relu else 0, hi=255)

    def extra_spec(self) -> dict[str, Any]:
        return {"relu": self.relu, "eps": self.eps}


class QuantizedReLU(Module):
    """ReLU on integers: max(q, z); scale and zero point unchanged."""

    def __init__(self, zero_point: int) -> None:
        super().__init__()
        self.zero_point = int(zero_point)

    def forward(self, input: Tensor) -> Tensor:
        return Int8ReLU.apply(input, zero_point=self.zero_point)

    def extra_spec(self) -> dict[str, Any]:
        return {"zero_point": self.zero_point}


class QuantizedAvgPool2d(Module):
    """AvgPool2d on integers (scale and zero point unchanged); see `Int8AvgPool`."""

    pool = "avg"

    def __init__(self, zero_point: int, config: dict[str, Any]) -> None:
        super().__init__()
        self.zero_point, self.config = int(zero_point), dict(config)

    def forward(self, input: Tensor) -> Tensor:
        return Int8AvgPool.apply(input, zero_point=self.zero_point, pool=self.pool,
                                 config=self.config)

    def extra_spec(self) -> dict[str, Any]:
        return {"zero_point": self.zero_point}


class QuantizedAdaptiveAvgPool2d(QuantizedAvgPool2d):
    """AdaptiveAvgPool2d on integers (scale and zero point unchanged)."""

    pool = "adaptive"


class QuantizedSequential(nn.Sequential):
    """The quantised chain: Quantize, integer layers (and max pool / flatten / dropout run on
    uint8 as they are), DeQuantize.  `sources[i]` names the float model's modules that layer i
    stands for (several when fused), so the chain can be rebuilt from a checkpoint."""

    def __init__(self, layers: list[Module], sources: list[list[str]]) -> None:
        super().__init__(*layers)
        self.sources = [list(s) for s in sources]


# ----------------------------------------------------------------------------- the chain
_KEPT = (nn.MaxPool2d, nn.Flatten, nn.Dropout, nn.Identity)   # run on uint8 as they are
_SUPPORTED = (nn.Conv2d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU, nn.AvgPool2d,
              nn.AdaptiveAvgPool2d, *_KEPT)
_SUPPORTED_NAMES = ", ".join(t.__name__ for t in _SUPPORTED)


def _conv_geometry(conv: Module) -> tuple[Any, ...]:
    """(stride, ((lo, hi), (lo, hi)) padding, dilation, groups) of a zero-padded nn.Conv2d."""
    if getattr(conv, "padding_mode", "zeros") != "zeros":
        raise ValueError(f"only padding_mode='zeros' convolutions can be quantised, got "
                         f"{conv.padding_mode!r}")
    k, d = conv.kernel_size, conv.dilation
    if conv.padding == "same":
        pads = tuple(same_padding(k[i], d[i]) for i in range(2))
    elif conv.padding == "valid":
        pads = ((0, 0), (0, 0))
    else:
        pads = tuple((int(p), int(p)) for p in conv.padding)
    return tuple(conv.stride), pads, tuple(d), int(conv.groups)


def _batches(calibration_batches: Iterable[Any]) -> Iterable[np.ndarray]:
    for batch in calibration_batches:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        a = _array(x)
        if a.dtype.kind != "f":
            raise TypeError(f"calibration_batches must yield float arrays or Tensors (or (x, y) "
                            f"pairs), got dtype {a.dtype}")
        yield a


def trace_chain(model: Module, example: np.ndarray) -> list[tuple[str, Module]]:
    """The leaf modules of `model` in call order, checked to form a chain: each one's input is
    the output of the one before, the first takes the model's input, the last gives its output.

    Raises:
        ValueError: a branch (residual addition, concatenation, an operation outside a module),
            a module called twice, or a module type that cannot be quantised, each named.
    """
    names = {id(m): n for n, m in model.named_modules()}
    calls: list[tuple[str, Module, Any, Any]] = []

    def hook(mod: Module, args: tuple[Any, ...], out: Any) -> None:
        calls.append((names[id(mod)], mod, args[0] if args else None, out))

    leaves = [m for _, m in model.named_modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    x = Tensor(example)
    try:
        with no_grad():
            out = model(x)
    finally:
        for h in handles:
            h.remove()
    chain: list[tuple[str, Module]] = []
    previous: Any = x
    seen: set[int] = set()
    for name, mod, inp, res in calls:
        if not isinstance(mod, _SUPPORTED):
            raise ValueError(f"cannot quantise module {name!r} ({type(mod).__name__}); "
                             f"supported: {_SUPPORTED_NAMES}")
        if id(mod) in seen:
            raise ValueError(f"module {name!r} is called twice: only chains of modules can be "
                             "quantised")
        if inp is not previous:
            raise ValueError(f"the input of module {name!r} is not the output of the module "
                             "before it (a branch: residual addition, concatenation or an "
                             "operation outside a module); only chains of modules can be "
                             "quantised")
        seen.add(id(mod))
        chain.append((name, mod))
        previous = res
    if out is not previous:
        raise ValueError("the model's output is not its last module's output (an operation "
                         "after it, or a branch); only chains of modules can be quantised")
    return chain


class _Step:
    """One layer of the fused float chain: `kind` in conv, linear, bn, relu, avg, adaptive,
    kept; `module` the float module (BN folded into conv/linear); `relu` fused."""

    def __init__(self, kind: str, names: list[str], module: Module, relu: bool = False
                 ) -> None:
        self.kind, self.names, self.module, self.relu = kind, names, module, relu
        self.observer: Any = None

    @property
    def requantizes(self) -> bool:
        return self.kind in ("conv", "linear", "bn")

    def float_forward(self, h: Tensor) -> Tensor:
        h = self.module(h)
        return F.relu(h) if self.relu else h


def _fuse_chain(chain: list[tuple[str, Module]]) -> list[_Step]:
    """[conv|linear, (bn), (relu)] and [bn, (relu)] become one step each."""
    steps: list[_Step] = []
    i = 0
    while i < len(chain):
        name, mod = chain[i]
        names, nxt = [name], chain[i + 1][1] if i + 1 < len(chain) else None
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            want = nn.BatchNorm2d if isinstance(mod, nn.Conv2d) else nn.BatchNorm1d
            if isinstance(nxt, want):
                mod = fold_bn(mod, nxt)
                names.append(chain[i + 1][0])
            kind = "conv" if isinstance(mod, nn.Conv2d) else "linear"
        elif isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            if mod.running_mean is None:
                raise ValueError(f"module {name!r}: BatchNorm without running statistics "
                                 "cannot be quantised")
            kind = "bn"
        elif isinstance(mod, nn.ReLU):
            kind = "relu"
        elif isinstance(mod, nn.AvgPool2d):
            kind = "avg"
        elif isinstance(mod, nn.AdaptiveAvgPool2d):
            kind = "adaptive"
        else:
            kind = "kept"
        i += len(names)
        relu = kind in ("conv", "linear", "bn") and i < len(chain) \
            and isinstance(chain[i][1], nn.ReLU)
        if relu:
            names.append(chain[i][0])
            i += 1
        steps.append(_Step(kind, names, mod, relu))
    return steps


def _make_observer(observer: str, reduce_range: bool, **kwargs: Any) -> Any:
    if observer not in _OBSERVERS:
        raise ValueError(f"observer must be one of {', '.join(_OBSERVERS)}, got {observer!r}")
    return _OBSERVERS[observer](reduce_range=reduce_range, **kwargs)


def _convert_step(step: _Step, qp: tuple[float, int]) -> tuple[Module, tuple[float, int]]:
    """The quantised module of one step, given its input (scale, zp); and its output's."""
    if step.requantizes:
        s, z = step.observer.calculate_qparams()
        out_qp = (float(s[0]), int(z[0]))
        cls: dict[str, Any] = {"conv": QuantizedConv2d, "linear": QuantizedLinear,
                               "bn": QuantizedBatchNorm}
        return cls[step.kind].from_float(step.module, qp, out_qp, step.relu), out_qp
    m = step.module
    if step.kind == "relu":
        return QuantizedReLU(qp[1]), qp
    if step.kind == "avg":
        return QuantizedAvgPool2d(qp[1], _avg_config(m)), qp
    if step.kind == "adaptive":
        return QuantizedAdaptiveAvgPool2d(qp[1], {"output_size": m.output_size}), qp
    return copy.deepcopy(m), qp


def _avg_config(m: Module) -> dict[str, Any]:
    return {"kernel_size": m.kernel_size, "stride": m.stride, "padding": m.padding,
            "ceil_mode": m.ceil_mode, "count_include_pad": m.count_include_pad,
            "divisor_override": m.divisor_override}


def quantize_static(model: Module, calibration_batches: Iterable[Any],
                    observer: str = "histogram", reduce_range: bool = True,
                    observer_kwargs: dict[str, Any] | None = None) -> QuantizedSequential:
    """Post-training static int8 quantisation of a chain of modules (torch.ao.quantization's
    eager mode: fuse, prepare, calibrate, convert, on the x86 engine's default qconfig).

    BatchNorm after a conv/linear is folded into it (`fold_bn`); a ReLU after a conv, linear or
    BatchNorm is fused into its output clamp; a BatchNorm after a ReLU (seed 004's fmnist_cnn)
    becomes an integer `QuantizedBatchNorm`.  Weights: per-output-channel symmetric int8.
    Activations: per-tensor affine uint8, calibrated by `observer` on the fused float model's
    outputs.  The result computes on integers (see the module docstring for the formulas).

    Args:
        model: a float model whose forward is a chain of Conv2d, Linear, BatchNorm1d/2d, ReLU,
            MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten, Dropout, Identity (fmnist_cnn,
            lenet5, mlp, VGG/AlexNet-style features + classifier). Left unchanged.
        calibration_batches: an iterable of float input batches (arrays or Tensors, or (x, y)
            pairs such as a DataLoader gives): a few hundred training images.
        observer: "histogram" (torch's x86 default: L2-optimal clipping), "minmax", or
            "percentile" (clip at `observer_kwargs["percentile"]`, default 99.99).
        reduce_range: calibrate activations on 0..127 as torch's x86 qconfig does.
        observer_kwargs: more keyword arguments for the activation observers (e.g. bins).

    Returns:
        A new `QuantizedSequential` in eval mode: float input -> float32 output, integers in
        between; marked as compressed by "int8" (save it with numcnn.compress.save).

    Raises:
        ValueError: the model is not a chain of supported modules (the module is named), or no
            calibration batch was given.
    """
    if not isinstance(model, Module):
        raise TypeError(f"model must be a numcnn Module, got {type(model).__name__}")
    kwargs = dict(observer_kwargs or {})
    was_training = model.training
    model.eval()
    try:
        steps: list[_Step] | None = None
        in_obs = _make_observer(observer, reduce_range, **kwargs)
        with no_grad():
            for x in _batches(calibration_batches):
                if steps is None:
                    steps = _fuse_chain(trace_chain(model, x))
                    for st in steps:
                        if st.requantizes:
                            st.observer = _make_observer(observer, reduce_range, **kwargs)
                in_obs(x)
                h = Tensor(x.astype(np.float32, copy=False))
                for st in steps:
                    h = st.float_forward(h)
                    if st.observer is not None:
                        st.observer(h)
    finally:
        model.train(was_training)
    if steps is None:
        raise ValueError("calibration_batches is empty: give a few hundred input images")
    s, z = in_obs.calculate_qparams()
    qp = (float(s[0]), int(z[0]))
    layers: list[Module] = [Quantize(*qp)]
    sources: list[list[str]] = [[]]
    for st in steps:
        layer, qp = _convert_step(st, qp)
        layers.append(layer)
        sources.append(st.names)
    layers.append(DeQuantize(*qp))
    sources.append([])
    out = QuantizedSequential(layers, sources)
    out.eval()
    checkpoint.mark(out, METHOD)
    return out


# ----------------------------------------------------------------------------- checkpoints
_KINDS = {Quantize: "quantize", DeQuantize: "dequantize", QuantizedConv2d: "conv",
          QuantizedLinear: "linear", QuantizedBatchNorm: "bn", QuantizedReLU: "relu",
          QuantizedAvgPool2d: "avg", QuantizedAdaptiveAvgPool2d: "adaptive"}


def to_checkpoint(model: Module) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The int8 model's tensors (int8 weights, float32 biases, float32 scales, int32 zero points,
    float32 BN vectors), keyed "{layer index}.{buffer}", and its chain as JSON: one entry per
    layer with its kind, the float model's module names it stands for, and its flags."""
    if not isinstance(model, QuantizedSequential):
        raise TypeError(f"model must be a QuantizedSequential made by quantize_static, got "
                        f"{type(model).__name__}")
    tensors: dict[str, np.ndarray] = {}
    chain = []
    for i, (layer, source) in enumerate(zip(model, model.sources)):
        kind = _KINDS.get(type(layer), "kept")
        entry: dict[str, Any] = {"kind": kind, "source": source}
        if hasattr(layer, "extra_spec"):
            entry.update(layer.extra_spec())
        chain.append(entry)
        for name, buf in layer.named_buffers():
            tensors[f"{i}.{name}"] = buf.array
    return tensors, {"chain": chain}


def _qparams_of(tensors: dict[str, np.ndarray], key: str) -> tuple[float, int]:
    return float(tensors[f"{key}scale"][0]), int(tensors[f"{key}zero_point"][0])


def _layer_from(entry: dict[str, Any], i: int, tensors: dict[str, np.ndarray],
                float_model: Module) -> Module:
    kind, source = entry.get("kind"), list(entry.get("source") or [])
    t = {k[len(f"{i}."):]: v for k, v in tensors.items() if k.startswith(f"{i}.")}
    if kind in ("quantize", "dequantize"):
        return (Quantize if kind == "quantize" else DeQuantize)(*_qparams_of(t, ""))
    if not source:
        raise checkpoint.CompressedCheckpointError(f"int8 checkpoint: layer {i} names no module")
    try:
        float_mod = float_model.get_submodule(source[0])
    except AttributeError:
        raise checkpoint.CompressedCheckpointError(
            f"int8 checkpoint: the model has no module {source[0]!r} (another architecture?)"
        ) from None
    io = (_qparams_of(t, "input_"), _qparams_of(t, "")) if kind in ("conv", "linear", "bn") \
        else None
    if kind in ("conv", "linear") and t["bias"].dtype != np.float32:
        raise checkpoint.CompressedCheckpointError(
            f"int8 checkpoint: layer {i} has a {t['bias'].dtype} bias (an older int8 format "
            "that rounded the bias to int32); quantise the float model again")
    if kind == "conv" and io:
        return QuantizedConv2d(t["weight"], t["weight_scale"], t["bias"], *io,
                               bool(entry["relu"]), *_conv_geometry(float_mod))
    if kind == "linear" and io:
        return QuantizedLinear(t["weight"], t["weight_scale"], t["bias"], *io,
                               bool(entry["relu"]))
    if kind == "bn" and io:
        return QuantizedBatchNorm(t["weight"], t["bias"], t["running_mean"], t["running_var"],
                                  float(entry["eps"]), *io, bool(entry["relu"]))
    if kind == "relu":
        return QuantizedReLU(int(entry["zero_point"]))
    if kind == "avg":
        return QuantizedAvgPool2d(int(entry["zero_point"]), _avg_config(float_mod))
    if kind == "adaptive":
        return QuantizedAdaptiveAvgPool2d(int(entry["zero_point"]),
                                          {"output_size": float_mod.output_size})
    if kind == "kept":
        return copy.deepcopy(float_mod)
    raise checkpoint.CompressedCheckpointError(f"int8 checkpoint: unknown layer kind {kind!r}")


def count_parameters(model: Module) -> tuple[int, int]:
    """(weight values, non-zero weight values) of an int8 model: the int8 weights and float32
    biases of every conv and linear layer, and the weight and bias vectors of every integer
    BatchNorm (its running statistics are bookkeeping, as numcnn.compress.workflow counts a
    float model).  Equals the float model's count after BatchNorm folding (a folded BN adds no
    values; a conv without a bias gains one); a weight that rounds to integer 0 is a zero.
    numcnn.compress.workflow.count_parameters calls it for models marked "int8"."""
    if not isinstance(model, QuantizedSequential):
        raise TypeError(f"model must be a QuantizedSequential made by quantize_static, got "
                        f"{type(model).__name__}")
    total = nonzero = 0
    for layer in model:
        if isinstance(layer, (_QuantizedLayer, QuantizedBatchNorm)):
            for v in (layer.weight.array, layer.bias.array):
                total += v.size
                nonzero += int(np.count_nonzero(v))
    return total, nonzero


def from_checkpoint(model: Module, tensors: dict[str, np.ndarray], spec: dict[str, Any]
                    ) -> Module:
    """The int8 model saved by `to_checkpoint`, rebuilt on `model` (a freshly built float model
    of the same architecture: it gives the layers' geometry and the pooling/flatten/dropout
    modules; its weights do not matter)."""
    chain = spec.get("chain")
    if not isinstance(chain, list) or not chain:
        raise checkpoint.CompressedCheckpointError("int8 checkpoint: the spec has no chain")
    layers = [_layer_from(dict(e), i, tensors, model) for i, e in enumerate(chain)]
    out = QuantizedSequential(layers, [list(e.get("source") or []) for e in chain])
    out.eval()
    return checkpoint.mark(out, METHOD)

