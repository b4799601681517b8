"""Binary-weight networks and XNOR-Net, trained with the straight-through estimator and run on
packed bits.

Rastegari, Ordonez, Redmon, Farhadi, "XNOR-Net: ImageNet Classification Using Binary
Convolutional Neural Networks", ECCV 2016.

Binary weights (BWN, the paper's section 3.1).  Each output filter W (n = C_in/G * kh * kw
values, or in_features for a Linear) is replaced by

    W ~ alpha * B,   B = sign(W),   alpha = ||W||_l1 / n = mean |W|

(the paper's optimum of ||W - alpha B||^2).  sign(0) is taken as +1, so that every weight is
one bit: 1 for w >= 0, 0 for w < 0.

XNOR-Net (section 3.2).  The layer's input I is binarised too: sign(I), with the scaling
matrix K = A * k, A = mean over the channels of |I| (N, 1, H, W) and k the box filter of the
kernel's size (every entry 1 / (kh kw)), applied with the convolution's stride, padding and
dilation (the paper's Fig. 2).  Then

    I * W ~ (sign(I) (*) sign(W)) . K alpha          (conv of signs, scaled per position)

For a Linear layer K is one number per sample: beta = mean over the features of |x|.

Training (the paper's section 3.1-3.2).  The real-valued weights are kept and updated; the
forward binarises them on every call.  sign has the straight-through estimator as its
gradient: d sign(r) / dr := 1_{|r| <= 1}.  For the weights we use the full chain rule through
alpha = mean |W| with that estimator (what autograd gives for alpha * sign_ste(W)):

    dC/dW_i = alpha * g_i * 1_{|W_i| <= 1} + sign(W_i) / n * sum_j g_j sign(W_j)

where g = dC/dW~.  (The paper writes dC/dW_i = g_i (1/n + alpha 1_{|W_i|<=1}), which keeps
only the j = i term of the sum; we keep the whole sum, which is the exact gradient of the
forward under the estimator.)  For XNOR layers the input's gradient flows through sign(I) by
the estimator and through K exactly (d|I|/dI = sign(I), the box filter and channel mean are
linear).

The block.  The paper orders a binary block BN -> BinActiv -> BinConv -> Pool: a ReLU
directly before sign would make every input +1.  `binarize(mode="xnor")` therefore gives an
XNOR layer its own BatchNorm on its input (`input_norm`) unless the layer already follows a
BatchNorm in the same Sequential (only max/avg pooling, dropout, flatten or identity between
them, which keep the sign of their input informative).  A converted block of the seed CNN
reads: ... -> ReLU -> BN -> [sign -> binary conv . K alpha + b] -> ReLU -> BN -> pool -> ...,
i.e. the float model's own BN serves as the paper's BN; the model's ReLUs are kept.

Packed inference.  In eval mode, when no gradient is needed (under `numcnn.no_grad()`, or
neither the input nor the parameters require a gradient), the layers run on packed bits:

- XNOR layers: sign bits of the input and of the weights packed 8 per byte along the
  channels, im2col on the bytes (rows of kh*kw*ceil(C/8) bytes, padded to 64-bit words), and
  the dot product of two +-1 vectors of length n computed as

      a . b = n - 2 * popcount(a XOR b)        (np.bitwise_count on uint64 words)

  Padding bits of a row are 0 in both operands, so they never count.  The convolution's zero
  padding is not +-1: it is corrected exactly by counting, per output position, only the
  kernel offsets inside the image (n_valid) and subtracting the weight bits that met padding.
  The result equals the float convolution of sign(I) with sign(W) exactly (integers).
- Binary-weight layers (float inputs): the packed weight bits are unpacked to a +-1 float
  matrix for each call and used in an ordinary float GEMM, then scaled by alpha (the weights
  stay 32x smaller in memory and on disk; the arithmetic is the float GEMM's; see
  bench/bench_binary.py for the cost of the unpacking).

The packed weights are computed on the first packed call (or by `pack(model)`), and again
after a training-mode call or `load_state_dict`; call `pack(model)` after editing the weights
of an eval-mode model by hand.

Compressed checkpoint (METHOD = "binary"): per binary layer its sign bits packed 8 per byte
(uint8, one row per output filter, in PyTorch's weight order) and alpha per filter (the
weight's dtype, float32 by default); every other entry of the state_dict (biases, batch norm,
the float first and last layers) as it is.

Axis legend: N batch, C input channels, O output channels, H/W input height/width, Ho/Wo output
height/width, K kernel size (kh, kw), KK = kh*kw, n bits per filter, Kw 64-bit words per row,
M = N*Ho*Wo GEMM rows.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

import numcnn.nn as nn
import numcnn.nn.functional as F
from numcnn.analysis.summary import OpCall, register_op_cost
from numcnn.autograd import grad_mode
from numcnn.autograd.function import Context, Function
from numcnn.compress import checkpoint
from numcnn.nn.module import Module
from numcnn.ops.conv import ConvNd, conv_output_size, pad_crop, sliding_windows
from numcnn.tensor import Tensor

__all__ = [
    "METHOD", "binarize", "pack", "to_checkpoint", "from_checkpoint",
    "BinaryConv2d", "BinaryLinear", "XNORConv2d", "XNORLinear",
    "SignSTE", "BinarizeWeight", "PackedXNORConv2d", "PackedXNORLinear",
    "PackedBinaryConv2d", "PackedBinaryLinear",
    "sign_bits", "pack_rows", "unpack_rows", "popcount_xor_gemm", "binary_matmul",
]

METHOD = "binary"
MODES = ("weights", "xnor")


# ----------------------------------------------------------------------------- bits
def sign_bits(x: np.ndarray) -> np.ndarray:
    """The sign of every value as a bit: True for x >= 0 (+1), False for x < 0 (-1)."""
    return np.asarray(x) >= 0


def pack_rows(bits: np.ndarray, word_bytes: int = 8) -> np.ndarray:
    """Pack the last axis of a bool array 8 bits per byte (little bit order), padded with 0
    bits to whole words of `word_bytes` bytes.

    Shape:
        bits (*, n) -> uint8 (*, ceil(n / 8)) when word_bytes == 1, otherwise
        uint64 (*, ceil(n / 64)) for word_bytes == 8.
    """
    packed = np.packbits(bits, axis=-1, bitorder="little")            # (*, ceil(n/8))
    nb = packed.shape[-1]
    width = -(-nb // word_bytes) * word_bytes
    if width != nb or not packed.flags.c_contiguous:
        out = np.zeros((*packed.shape[:-1], width), dtype=np.uint8)
        out[..., :nb] = packed
        packed = out
    return packed if word_bytes == 1 else packed.view(np.uint64)


def unpack_rows(packed: np.ndarray, n: int, dtype: Any = np.float32) -> np.ndarray:
    """The +-1 values of bits packed by `pack_rows` (uint8 or uint64 rows), as `dtype`.

    Shape:
        packed (*, words) -> (*, n)
    """
    as_bytes = np.ascontiguousarray(packed).view(np.uint8)
    bits = np.unpackbits(as_bytes, axis=-1, count=n, bitorder="little")   # (*, n) of 0/1
    out = bits.astype(dtype)
    out *= 2
    out -= 1
    return out


#: rows of the popcount GEMM handled at once (keeps the (rows, O) temporaries in cache)
GEMM_CHUNK = 1024


def popcount_xor_gemm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """c[m, o] = sum_w popcount(a[m, w] XOR b[o, w]): the number of differing bits of every
    row pair.  One XOR + np.bitwise_count + add of an (m, O) block per 64-bit word (a loop
    over the reduction axis, never over rows).

    Shape:
        a uint64 (M, Kw), b uint64 (O, Kw) -> int32 (M, O)
    """
    M, Kw = a.shape
    O = b.shape[0]
    acc_dtype = np.uint16 if Kw * 64 <= np.iinfo(np.uint16).max else np.int32
    out = np.empty((M, O), dtype=np.int32)
    bT = np.ascontiguousarray(b.T)                                      # (Kw, O)
    rows = min(M, GEMM_CHUNK)
    t = np.empty((rows, O), dtype=np.uint64)
    c = np.empty((rows, O), dtype=np.uint8)
    acc = np.empty((rows, O), dtype=acc_dtype)
    for lo in range(0, M, rows):
        m = min(rows, M - lo)
        a_blk = a[lo:lo + m]
        acc[:m] = 0
        for w in range(Kw):
            np.bitwise_xor(a_blk[:, w, None], bT[None, w], out=t[:m])
            np.bitwise_count(t[:m], out=c[:m])
            np.add(acc[:m], c[:m], out=acc[:m])
        out[lo:lo + m] = acc[:m]
    return out


def binary_matmul(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """The dot products of +-1 vectors held as packed bits: a . b = n - 2 popcount(a XOR b).

    Shape:
        a uint64 (M, Kw), b uint64 (O, Kw) (n bits each, 0-padded) -> int32 (M, O)
    """
    return n - 2 * popcount_xor_gemm(a, b)


# ----------------------------------------------------------------------------- autograd
def _sign(x: np.ndarray) -> np.ndarray:
    """+1 where x >= 0, -1 elsewhere, in x's dtype."""
    return np.where(x >= 0, 1, -1).astype(x.dtype, copy=False)


class SignSTE(Function):
    """Binary activation (the paper's BinActiv): y = sign(x) (+1 for x >= 0, else -1).

    Backward, the straight-through estimator: gx = gy * 1_{|x| <= 1}.  With ste=False the
    derivative of sign where it exists (0) is used instead (for gradient checks).

    Shape: any -> the same.
    """

    @staticmethod
    def forward(ctx: Context, x, *, ste=True):
        ctx.save_for_backward(x)
        ctx.ste = ste
        return _sign(x)

    @staticmethod
    def backward(ctx: Context, gy):
        (x,) = ctx.saved
        if not ctx.ste:
            return (np.zeros_like(gy),)
        return (gy * (np.abs(x) <= 1),)


class BinarizeWeight(Function):
    """W~ = alpha * sign(W) per output filter, alpha = mean |W| over the filter (paper eq. 4).

    Backward (g = dC/dW~, n values per filter, sums over the filter):
        dC/dW = alpha * g * 1_{|W| <= 1}  +  sign(W) * mean(g * sign(W))
    the first term through sign (straight-through estimator), the second through alpha
    (d alpha / dW_i = sign(W_i) / n).  With ste=False the first term is 0 (sign's derivative
    where it exists), which makes backward the exact derivative, for gradient checks.

    Shape:
        weight (O, *) -> (O, *)
    """

    @staticmethod
    def forward(ctx: Context, w, *, ste=True):
        axes = tuple(range(1, w.ndim))
        s = _sign(w)
        alpha = np.abs(w).mean(axis=axes, keepdims=True)              # (O, 1, ...)
        ctx.save_for_backward(w, s, alpha)
        ctx.ste = ste
        return alpha * s

    @staticmethod
    def backward(ctx: Context, g):
        w, s, alpha = ctx.saved
        axes = tuple(range(1, w.ndim))
        gw = s * (g * s).mean(axis=axes, keepdims=True)               # through alpha
        if ctx.ste:
            gw += alpha * g * (np.abs(w) <= 1)                        # through sign
        return (gw,)


# ----------------------------------------------------------------------------- packed kernels
class _InferenceOnly(Function):
    """A packed kernel: forward only (bits have no gradient); training uses the float path."""

    @staticmethod
    def backward(ctx: Context, grad):
        raise RuntimeError("packed binary kernels are inference-only; put the model in "
                           "training mode (model.train()) to compute gradients")


def _pairs(padding: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """F.pad's (w_lo, w_hi, h_lo, h_hi) -> ((h_lo, h_hi), (w_lo, w_hi))."""
    return (padding[2], padding[3]), (padding[0], padding[1])


def _out_size(S: Sequence[int], K: Sequence[int], stride: Sequence[int],
              pads: Sequence[tuple[int, int]], dilation: Sequence[int]) -> tuple[int, int]:
    return tuple(conv_output_size(S[i] + pads[i][0] + pads[i][1], K[i], stride[i], 0,
                                  dilation[i]) for i in range(2))  # type: ignore[return-value]


def _valid_offsets(S, K, stride, pads, dilation) -> np.ndarray:
    """valid[(i, j), a] = 1 where kernel offset a of output position (i, j) is inside the
    image (not padding).  Shape: (Ho*Wo, KK) int64."""
    inside = np.zeros((S[0] + sum(pads[0]), S[1] + sum(pads[1])), dtype=np.int64)
    inside[pads[0][0]:pads[0][0] + S[0], pads[1][0]:pads[1][0] + S[1]] = 1
    So = _out_size(S, K, stride, pads, dilation)
    win = sliding_windows(inside, K, stride, dilation, So, axis=0)      # (Ho, Wo, kh, kw)
    return win.reshape(So[0] * So[1], K[0] * K[1])


def _box_filter(a: np.ndarray, K, stride, pads, dilation) -> np.ndarray:
    """k (*) a with k = 1/(kh kw) everywhere: the mean of a over every receptive field, zeros
    in the padding (the paper's K = A * k).  a (N, H, W) -> (N, Ho, Wo); a loop over the
    kernel's offsets."""
    ap = pad_crop(a, pads, 1)
    So = _out_size(a.shape[1:], K, stride, pads, dilation)
    win = sliding_windows(ap, K, stride, dilation, So, axis=1)          # (N, Ho, Wo, kh, kw)
    out = np.zeros((a.shape[0], *So), dtype=a.dtype)
    for i in range(K[0]):
        for j in range(K[1]):
            out += win[:, :, :, i, j]
    return out / (K[0] * K[1])


def _xnor_conv_counts(x: np.ndarray, wbits: np.ndarray, ones: np.ndarray, K, stride, pads,
                      dilation) -> np.ndarray:
    """sign(x) (*) sign(W) with zero padding, exactly, on packed bits.

    x (N, C, H, W) float, wbits uint64 (O, Kw) (rows laid out (kh, kw, ceil(C/8) bytes)),
    ones (O, KK) = number of +1 weights at each kernel offset -> int32 (N, Ho, Wo, O).
    """
    N, C, H, W = x.shape
    Cb = -(-C // 8)
    bits = np.ascontiguousarray(np.moveaxis(sign_bits(x), 1, -1))      # (N, H, W, C) bool
    xb = pad_crop(np.packbits(bits, axis=-1, bitorder="little"), pads, 1)  # (N, Hp, Wp, Cb)
    So = _out_size((H, W), K, stride, pads, dilation)
    KK = K[0] * K[1]
    win = sliding_windows(xb, K, stride, dilation, So, axis=1)          # (N, Ho, Wo, kh, kw, Cb)
    M = N * So[0] * So[1]
    Kw = wbits.shape[1]
    cols = np.zeros((M, Kw * 8), dtype=np.uint8)
    cols[:, :KK * Cb].reshape(N, *So, *K, Cb)[...] = win                # im2col on bytes
    mism = popcount_xor_gemm(cols.view(np.uint64), wbits)               # (M, O)
    counts = mism.reshape(N, So[0] * So[1], -1)                         # in place below
    if any(p for pair in pads for p in pair):
        valid = _valid_offsets((H, W), K, stride, pads, dilation)       # (HoWo, KK)
        n_valid = (C * valid.sum(axis=1)).astype(np.int32)              # (HoWo,)
        at_pad = ((1 - valid) @ ones.T).astype(np.int32)                # (HoWo, O)
        counts -= at_pad                                                # n_valid - 2 (mism -
        counts *= -2                                                    #   at_pad)
        counts += n_valid[:, None]
    else:
        counts *= -2
        counts += C * KK
    return counts.reshape(N, *So, -1)                                   # (N, Ho, Wo, O)


class PackedXNORConv2d(_InferenceOnly):
    """XNOR convolution on packed bits (inference):

        y[n, o, i, j] = (sign(x) (*) sign(W))[n, o, i, j] * alpha[o] * K[n, i, j] + b[o]
        K = box filter (1/(kh kw)) of A = mean_c |x|, with the conv's stride/padding/dilation
        sign(x) (*) sign(W) = n_valid - 2 popcount(x_bits XOR w_bits)  (padding corrected)

    Shape:
        x (N, C, H, W), wbits uint64 (O, Kw), ones (O, KK), alpha (O,), bias (O,) or None
        -> y (N, O, Ho, Wo)
    """

    @staticmethod
    def forward(ctx: Context, x, wbits, ones, alpha, bias, *, kernel_size, stride, padding,
                dilation):
        pads = _pairs(padding)
        counts = _xnor_conv_counts(x, wbits, ones, kernel_size, stride, pads, dilation)
        k = _box_filter(np.abs(x).mean(axis=1), kernel_size, stride, pads, dilation)
        y = counts.astype(x.dtype) * alpha                              # (N, Ho, Wo, O)
        y *= k[..., None]
        if bias is not None:
            y += bias
        return np.moveaxis(y, -1, 1)                                    # (N, O, Ho, Wo) view


class PackedXNORLinear(_InferenceOnly):
    """XNOR linear layer on packed bits (inference):

        y = (sign(x) . sign(W)^T) * beta * alpha + b,   beta = mean |x| over the features,
        sign(x) . sign(w) = n - 2 popcount(x_bits XOR w_bits)

    Shape:
        x (M, I), wbits uint64 (O, Kw), alpha (O,), bias (O,) or None -> y (M, O)
    """

    @staticmethod
    def forward(ctx: Context, x, wbits, alpha, bias):
        n = x.shape[-1]
        counts = binary_matmul(pack_rows(sign_bits(x)), wbits, n)       # (M, O)
        beta = np.abs(x).mean(axis=-1, keepdims=True)                   # (M, 1)
        y = counts.astype(x.dtype) * alpha
        y *= beta
        if bias is not None:
            y += bias
        return y


class PackedBinaryConv2d(_InferenceOnly):
    """Binary-weight convolution from packed weights (inference): the bits are unpacked to a
    +-1 float kernel B, then y = (x (*) B) * alpha[o] + b[o] by the float convolution.

    Shape:
        x (N, C, H, W), wbits uint8 (O, ceil(n/8)), alpha (O,), bias (O,) or None
        -> y (N, O, Ho, Wo)
    """

    @staticmethod
    def forward(ctx: Context, x, wbits, alpha, bias, *, weight_shape, stride, padding,
                dilation, groups):
        B = unpack_rows(wbits, math.prod(weight_shape[1:]), x.dtype).reshape(weight_shape)
        y = ConvNd.forward(Context((False, False, False)), x, B, None, stride=stride,
                           padding=_pairs(padding), dilation=dilation, groups=groups)
        y = y * alpha[:, None, None]
        if bias is not None:
            y += bias[:, None, None]
        return y


class PackedBinaryLinear(_InferenceOnly):
    """Binary-weight linear layer from packed weights (inference): y = (x B^T) * alpha + b,
    B the +-1 matrix unpacked from the bits for the float GEMM.

    Shape:
        x (M, I), wbits uint8 (O, ceil(I/8)), alpha (O,), bias (O,) or None -> y (M, O)
    """

    @staticmethod
    def forward(ctx: Context, x, wbits, alpha, bias):
        B = unpack_rows(wbits, x.shape[-1], x.dtype)                    # (O, I)
        y = x @ B.T
        y *= alpha
        if bias is not None:
            y += bias
        return y


# MACs of the packed kernels: one binary multiply-add (an XNOR + popcount bit) is counted as
# one MAC, as a float one, so that the table compares layer shapes; FLOPs = 2 * MACs.
def _conv_cost(op: OpCall) -> tuple[int, int]:
    x = op.inputs[0].array if isinstance(op.inputs[0], Tensor) else np.asarray(op.inputs[0])
    K = op.kwargs.get("kernel_size") or op.kwargs["weight_shape"][2:]
    groups = op.kwargs.get("groups", 1)
    macs = op.output.array.size * (x.shape[1] // groups) * math.prod(K)
    return macs, 2 * macs


def _linear_cost(op: OpCall) -> tuple[int, int]:
    x = op.inputs[0].array if isinstance(op.inputs[0], Tensor) else np.asarray(op.inputs[0])
    macs = op.output.array.size * x.shape[-1]
    return macs, 2 * macs


register_op_cost("PackedXNORConv2d", _conv_cost)
register_op_cost("PackedBinaryConv2d", _conv_cost)
register_op_cost("PackedXNORLinear", _linear_cost)
register_op_cost("PackedBinaryLinear", _linear_cost)
register_op_cost("SignSTE", lambda op: (0, op.output.array.size))
register_op_cost("BinarizeWeight", lambda op: (0, 0))    # weight preprocessing, per call


# ----------------------------------------------------------------------------- layers
@dataclass
class PackedWeights:
    """A binary layer's weights in packed form.

    bits: uint8 (O, ceil(n/8)), sign bits of each filter in PyTorch's weight order (what the
        checkpoint stores, and what binary-weight layers unpack);
    alpha: (O,) mean |W| per filter;
    words: uint64 (O, Kw), XNOR layers only: the bits laid out as the packed input's rows
        ((kh, kw, channel bytes) for a conv);
    ones: (O, KK), XNOR convs only: +1 weights per kernel offset (for the padding correction);
    source: the weight array these were computed from.
    """

    bits: np.ndarray
    alpha: np.ndarray
    words: np.ndarray | None
    ones: np.ndarray | None
    source: Any


class _Binary:
    """What the four binary layers share: the packed weights and the choice of path."""

    weight: Any                     # a Parameter (declared by nn.Conv2d / nn.Linear)
    bias: Any
    training: bool
    xnor = False
    _packed: PackedWeights | None = None

    def _packed_weights(self) -> PackedWeights:
        """The packed weights of the current `weight` (computed again when it changed)."""
        p = self._packed
        if p is None or p.source is not self.weight.array:
            w = self.weight.array
            p = self._pack_from_signs(sign_bits(w), _alpha(w))
            self._packed = p
        return p

    def _pack_from_signs(self, signs: np.ndarray, alpha: np.ndarray) -> PackedWeights:
        """PackedWeights from the sign bits (the weight's shape) and alpha (O,)."""
        O = signs.shape[0]
        bits = pack_rows(signs.reshape(O, -1), word_bytes=1)
        words = ones = None
        if self.xnor:
            if signs.ndim == 4:                                         # (O, C, kh, kw)
                cl = np.moveaxis(signs, 1, -1)                          # (O, kh, kw, C)
                words = _conv_words(cl)
                ones = cl.sum(axis=-1).reshape(O, -1).astype(np.int64)  # (O, KK)
            else:
                words = pack_rows(signs)
        return PackedWeights(bits, alpha, words, ones, self.weight.array)

    def set_packed(self, bits: np.ndarray, alpha: np.ndarray) -> None:
        """Load packed weights (as `to_checkpoint` stores them): the float weight becomes
        alpha * sign and the packed form is kept exactly as given."""
        shape = self.weight.shape
        signs = unpack_rows(bits, math.prod(shape[1:]), np.int8).reshape(shape) > 0
        dt = self.weight.array.dtype
        alpha = np.asarray(alpha, dtype=dt)
        self.weight.array[...] = np.where(signs, 1, -1).astype(dt) * \
            alpha.reshape(-1, *(1,) * (len(shape) - 1))
        self._packed = self._pack_from_signs(signs, alpha)

    def _use_packed(self, x: Tensor) -> bool:
        """Packed path: eval mode and no gradient wanted."""
        if self.training:
            self._packed = None
            return False
        wants_grad = x.requires_grad or self.weight.requires_grad or \
            (self.bias is not None and self.bias.requires_grad)
        return not (grad_mode.is_grad_enabled() and wants_grad)

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        self._packed = None
        super()._load_from_state_dict(*args, **kwargs)  # type: ignore[misc]


def _alpha(w: np.ndarray) -> np.ndarray:
    """alpha[o] = mean |W[o]| (paper eq. 4): (O, *) -> (O,)."""
    return np.abs(w).reshape(w.shape[0], -1).mean(axis=1)


def _conv_words(cl: np.ndarray) -> np.ndarray:
    """Sign bits of a conv weight, channels last (O, kh, kw, C), as the packed input's rows:
    each offset's C bits in ceil(C/8) bytes, the row padded to 64-bit words -> (O, Kw)."""
    O = cl.shape[0]
    per_pixel = np.packbits(cl, axis=-1, bitorder="little").reshape(O, -1)   # (O, KK*Cb)
    nb = per_pixel.shape[1]
    out = np.zeros((O, -(-nb // 8) * 8), dtype=np.uint8)
    out[:, :nb] = per_pixel
    return out.view(np.uint64)


def _check_zeros_padding(padding_mode: str) -> None:
    if padding_mode != "zeros":
        raise ValueError(f"padding_mode must be 'zeros' for a binary convolution, got "
                         f"{padding_mode!r}")


class BinaryConv2d(_Binary, nn.Conv2d):
    """Conv2d with binary weights (BWN): y = x (*) (alpha * sign(W)) + b, alpha = mean |W| per
    output filter (Rastegari et al. 2016, section 3.1).

    Same arguments, parameters and state_dict as `nn.Conv2d` (`weight` holds the real-valued
    weights that training updates); padding_mode 'zeros' only.  Training mode: the float
    convolution with `BinarizeWeight` (straight-through estimator).  Eval mode without
    gradients: `PackedBinaryConv2d` on the packed weights.

    Shape:
        input (N, C_in, H, W) -> output (N, C_out, H_out, W_out), as `nn.Conv2d`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _check_zeros_padding(self.padding_mode)

    @classmethod
    def from_float(cls, layer: nn.Conv2d, **kwargs: Any) -> BinaryConv2d:
        """A binary layer with `layer`'s configuration, weights, bias and training mode."""
        new = cls(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                  layer.padding, layer.dilation, layer.groups, layer.bias is not None,
                  layer.padding_mode, dtype=layer.weight.dtype, **kwargs)
        _copy_parameters(layer, new)
        return new

    def forward(self, input: Tensor) -> Tensor:
        if self._use_packed(input):
            p = self._packed_weights()
            return PackedBinaryConv2d.apply(
                input, p.bits, p.alpha, self.bias, weight_shape=self.weight.shape,
                stride=self.stride, padding=tuple(self._reversed_padding_repeated_twice),
                dilation=self.dilation, groups=self.groups)
        return F.conv2d(input, BinarizeWeight.apply(self.weight), self.bias, self.stride,
                        self.padding, self.dilation, self.groups)


class XNORConv2d(BinaryConv2d):
    """XNOR-Net convolution (Rastegari et al. 2016, section 3.2, Fig. 2): binary weights and
    binary inputs,

        y = (sign(I) (*) sign(W)) . K alpha + b,   K = (mean_c |I|) (*) k,  k = 1/(kh kw)

    with I the input after `input_norm` (a BatchNorm2d on the input, the paper's BN before
    BinActiv; None when the layer already follows a BatchNorm).  Training mode: float
    convolution of `SignSTE(I)` with `BinarizeWeight(W)`, times K (differentiable).  Eval mode
    without gradients: `PackedXNORConv2d` (XNOR + popcount on packed bits).  groups 1 only.

    Args:
        *args, **kwargs: those of `nn.Conv2d`.
        input_norm: put a BatchNorm2d(in_channels) before the binarisation of the input.

    Shape:
        input (N, C_in, H, W) -> output (N, C_out, H_out, W_out), as `nn.Conv2d`.
    """

    xnor = True

    def __init__(self, *args: Any, input_norm: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.groups != 1:
            raise ValueError(f"groups must be 1 for an XNOR convolution, got {self.groups}")
        self.input_norm = (nn.BatchNorm2d(self.in_channels, dtype=self.weight.dtype)
                           if input_norm else None)

    def forward(self, input: Tensor) -> Tensor:
        x = input if self.input_norm is None else self.input_norm(input)
        unbatched = x.ndim == 3
        if unbatched:
            x = x.unsqueeze(0)
        if self._use_packed(x):
            p = self._packed_weights()
            y = PackedXNORConv2d.apply(
                x, p.words, p.ones, p.alpha, self.bias, kernel_size=self.kernel_size,
                stride=self.stride, padding=tuple(self._reversed_padding_repeated_twice),
                dilation=self.dilation)
        else:
            y = self._float_forward(x)
        return y.squeeze(0) if unbatched else y

    def _float_forward(self, x: Tensor) -> Tensor:
        """(SignSTE(x) (*) BinarizeWeight(W)) . K + b with zero padding, differentiable."""
        pads = self._reversed_padding_repeated_twice
        kh, kw = self.kernel_size
        y = F.conv2d(_zero_pad(SignSTE.apply(x), pads), BinarizeWeight.apply(self.weight),
                     None, self.stride, 0, self.dilation)
        box = Tensor(np.full((1, 1, kh, kw), 1.0 / (kh * kw), dtype=x.dtype))
        k = F.conv2d(_zero_pad(x.abs().mean(1, keepdim=True), pads), box, None, self.stride,
                     0, self.dilation)                                  # (N, 1, Ho, Wo)
        y = y * k
        return y if self.bias is None else y + self.bias.reshape(1, -1, 1, 1)


def _zero_pad(x: Tensor, pads: Sequence[int]) -> Tensor:
    return F.pad(x, list(pads)) if any(pads) else x


class BinaryLinear(_Binary, nn.Linear):
    """Linear layer with binary weights (BWN): y = x (alpha * sign(W))^T + b, alpha = mean |W|
    per output row (Rastegari et al. 2016, section 3.1).  Same arguments, parameters and
    state_dict as `nn.Linear`; training and packed paths as `BinaryConv2d`.

    Shape:
        input (*, I) -> output (*, O).
    """

    @classmethod
    def from_float(cls, layer: nn.Linear, **kwargs: Any) -> BinaryLinear:
        """A binary layer with `layer`'s configuration, weights, bias and training mode."""
        new = cls(layer.in_features, layer.out_features, layer.bias is not None,
                  dtype=layer.weight.dtype, **kwargs)
        _copy_parameters(layer, new)
        return new

    def forward(self, input: Tensor) -> Tensor:
        if self._use_packed(input):
            p = self._packed_weights()
            y = PackedBinaryLinear.apply(input.reshape(-1, self.in_features), p.bits, p.alpha,
                                         self.bias)
            return y.reshape(*input.shape[:-1], self.out_features)
        return F.linear(input, BinarizeWeight.apply(self.weight), self.bias)


class XNORLinear(BinaryLinear):
    """XNOR-Net linear layer: y = (sign(x) sign(W)^T) . beta alpha + b, beta = mean |x| over
    the features (the convolution's K for a 1x1 "image"), x after `input_norm` (a
    BatchNorm1d(in_features), or None).  Training and packed paths as `XNORConv2d`.

    Shape:
        input (N, I) -> output (N, O) (any leading dims without `input_norm`).
    """

    xnor = True

    def __init__(self, *args: Any, input_norm: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.input_norm = (nn.BatchNorm1d(self.in_features, dtype=self.weight.dtype)
                           if input_norm else None)

    def forward(self, input: Tensor) -> Tensor:
        x = input if self.input_norm is None else self.input_norm(input)
        if self._use_packed(x):
            p = self._packed_weights()
            y = PackedXNORLinear.apply(x.reshape(-1, self.in_features), p.words, p.alpha,
                                       self.bias)
            return y.reshape(*x.shape[:-1], self.out_features)
        y = F.linear(SignSTE.apply(x), BinarizeWeight.apply(self.weight))
        y = y * x.abs().mean(-1, keepdim=True)
        return y if self.bias is None else y + self.bias


def _copy_parameters(src: Module, dst: Module) -> None:
    """dst gets src's weight and bias values, requires_grad flags and training mode."""
    for name in ("weight", "bias"):
        a, b = getattr(src, name), getattr(dst, name)
        if a is not None:
            b.array[...] = a.array
            b.requires_grad_(a.requires_grad)
    dst.train(src.training)


LAYERS: dict[str, type[Module]] = {
    "BinaryConv2d": BinaryConv2d, "XNORConv2d": XNORConv2d,
    "BinaryLinear": BinaryLinear, "XNORLinear": XNORLinear,
}


# ----------------------------------------------------------------------------- conversion
# modules between a BatchNorm and an XNOR layer that keep the sign of their input informative
_SIGN_KEEPING = (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool2d,
                 nn.AdaptiveMaxPool2d, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Flatten,
                 nn.Identity)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


def _parent(model: Module, name: str) -> tuple[Module, str]:
    """The module holding `name` (dotted) and the child's own name."""
    path, _, child = name.rpartition(".")
    return (model.get_submodule(path) if path else model), child


def follows_batchnorm(model: Module, name: str) -> bool:
    """True when the module `name` runs right after a BatchNorm: in the Sequential holding it
    (and in enclosing Sequentials, whose order is the order of execution), walking back over
    pooling, dropout, flatten and identity modules reaches a BatchNorm1d/2d first."""
    while name:
        parent, child = _parent(model, name)
        if not isinstance(parent, nn.Sequential):
            return False
        keys = list(parent._modules)
        for key in reversed(keys[:keys.index(child)]):
            m = parent._modules[key]
            if isinstance(m, _NORMS):
                return True
            if not isinstance(m, _SIGN_KEEPING):
                return False
        name = name.rpartition(".")[0]
    return False


def _eligible(m: Module, mode: str) -> bool:
    if type(m) is nn.Linear:
        return True
    if type(m) is nn.Conv2d:
        return m.padding_mode == "zeros" and (mode == "weights" or m.groups == 1)
    return False


def binarize(model: Module, mode: str = "weights", keep_first: bool = True,
             keep_last: bool = True, modules: Sequence[str] | None = None,
             input_norm: bool | str = "auto") -> Module:
    """A new model whose Conv2d/Linear layers have binary weights (mode="weights", BWN) or
    binary weights and inputs (mode="xnor", XNOR-Net); Rastegari et al., ECCV 2016.

    W ~ alpha * sign(W) per output filter, alpha = mean |W| (the paper's optimum); XNOR layers
    also binarise their input: (sign(I) (*) sign(W)) . K alpha, K = mean_c |I| box-filtered.
    The new model keeps the real-valued weights and is trainable (straight-through estimator;
    fine-tune it with any optimizer); in eval mode under `numcnn.no_grad()` it runs on packed
    bits.  It is marked "binary" for `numcnn.compress.save`.  `model` is not changed.

    Args:
        model: a float model.
        mode: "weights" (BinaryConv2d/BinaryLinear) or "xnor" (XNORConv2d/XNORLinear).
        keep_first: keep the first Conv2d/Linear (in module order) in float, as the paper.
        keep_last: keep the last Conv2d/Linear in float, as the paper.
        modules: names of the layers to binarise (then keep_first/keep_last are ignored);
            default: every Conv2d (padding_mode 'zeros'; groups 1 for "xnor") and Linear.
        input_norm: XNOR only: True gives every XNOR layer a BatchNorm on its input, False
            none, "auto" one unless the layer follows a BatchNorm (`follows_batchnorm`).

    Returns:
        The binarised copy of `model`, in `model`'s training mode.

    Raises:
        ValueError: an unknown mode or input_norm, or a name in `modules` that is not a
            Conv2d/Linear layer that can be binarised.
    """
    if not isinstance(model, Module):
        raise TypeError(f"model must be a numcnn.nn.Module, got {type(model).__name__}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if input_norm not in (True, False, "auto"):
        raise ValueError(f"input_norm must be True, False or 'auto', got {input_norm!r}")
    new = copy.deepcopy(model)
    found = dict(new.named_modules())
    if modules is None:
        layers = [n for n, m in found.items() if type(m) in (nn.Conv2d, nn.Linear)]
        names = layers[1 if keep_first else 0:len(layers) - 1 if keep_last else None]
        names = [n for n in names if _eligible(found[n], mode)]
    else:
        if isinstance(modules, str):
            raise TypeError("modules must be a list of layer names, not a string")
        names = list(modules)
        for n in names:
            if n not in found or not _eligible(found[n], mode):
                groups = " and groups 1" if mode == "xnor" else ""
                raise ValueError(f"modules: {n!r} is not a layer that can be binarised "
                                 f"(Conv2d with padding_mode 'zeros'{groups}, or Linear)")
    for n in names:
        _replace(new, n, _layer_type(found[n], mode),
                 mode == "xnor" and (input_norm is True or
                                     (input_norm == "auto" and not follows_batchnorm(new, n))))
    return checkpoint.mark(new, METHOD)


def _layer_type(m: Module, mode: str) -> str:
    conv = isinstance(m, nn.Conv2d)
    return ("XNOR" if mode == "xnor" else "Binary") + ("Conv2d" if conv else "Linear")


def _replace(model: Module, name: str, kind: str, input_norm: bool) -> Module:
    """Put a `kind` layer built from the float layer `name` in its place."""
    parent, child = _parent(model, name)
    old = getattr(parent, child)
    cls = LAYERS[kind]
    kwargs = {"input_norm": input_norm} if kind.startswith("XNOR") else {}
    new = cls.from_float(old, **kwargs)  # type: ignore[attr-defined]
    setattr(parent, child, new)
    return new


def binary_layers(model: Module) -> dict[str, Module]:
    """The binary layers of `model` by name (BinaryConv2d, XNORConv2d, BinaryLinear,
    XNORLinear)."""
    return {n: m for n, m in model.named_modules() if isinstance(m, _Binary)}


def pack(model: Module) -> Module:
    """Compute the packed weights (sign bits and alpha) of every binary layer of `model` now,
    from its current weights (they are otherwise computed on the first packed call, and
    again after training-mode calls or load_state_dict).  Returns `model`."""
    for m in binary_layers(model).values():
        m._packed_weights()  # type: ignore[attr-defined]
    return model


# ----------------------------------------------------------------------------- checkpoint
def to_checkpoint(model: Module) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The compact tensors and spec of a binarised model: per binary layer `name`,
    "name.weight_bits" (uint8 (O, ceil(n/8)), sign bits of each filter, PyTorch weight
    order, little bit order) and "name.weight_alpha" ((O,), mean |W|); every other state_dict
    entry as it is.  spec: {"layers": {name: layer type}, "input_norm": {name: bool}}."""
    layers = binary_layers(model)
    tensors: dict[str, np.ndarray] = {}
    for name, m in layers.items():
        p = m._packed_weights()  # type: ignore[attr-defined]
        tensors[f"{name}.weight_bits"] = p.bits
        tensors[f"{name}.weight_alpha"] = p.alpha
    skip = {f"{name}.weight" for name in layers}
    for key, value in model.state_dict().items():
        if key not in skip:
            tensors[key] = value.array if isinstance(value, Tensor) else np.asarray(value)
    spec = {"layers": {n: type(m).__name__ for n, m in layers.items()},
            "input_norm": {n: getattr(m, "input_norm", None) is not None
                           for n, m in layers.items()}}
    return tensors, spec


def from_checkpoint(model: Module, tensors: dict[str, np.ndarray], spec: dict[str, Any]
                    ) -> Module:
    """The binarised model saved by `to_checkpoint`, rebuilt on `model` (a freshly built float
    model of the same architecture, changed in place): its layers are replaced as the spec
    says, the float entries loaded, and each binary layer's packed weights set exactly as
    stored (its float weight becomes alpha * sign).  Returned in eval mode."""
    kinds = spec.get("layers")
    norms = spec.get("input_norm") or {}
    if not isinstance(kinds, dict):
        raise checkpoint.CompressedCheckpointError("binary checkpoint: the spec has no layers")
    found = dict(model.named_modules())
    for name, kind in kinds.items():
        if kind not in LAYERS:
            raise checkpoint.CompressedCheckpointError(
                f"binary checkpoint: unknown layer type {kind!r} for {name!r}; known: "
                f"{', '.join(LAYERS)}")
        if name not in found or type(found[name]) not in (nn.Conv2d, nn.Linear):
            raise checkpoint.CompressedCheckpointError(
                f"binary checkpoint: the model has no Conv2d/Linear layer {name!r}")
    for name, kind in kinds.items():
        _replace(model, name, kind, bool(norms.get(name, False)))
    packed = {}
    state = dict(tensors)
    for name, m in binary_layers(model).items():
        bits = state.pop(f"{name}.weight_bits", None)
        alpha = state.pop(f"{name}.weight_alpha", None)
        O, n = m.weight.shape[0], math.prod(m.weight.shape[1:])
        if bits is None or alpha is None or bits.dtype != np.uint8 or \
                bits.shape != (O, -(-n // 8)) or alpha.shape != (O,):
            raise checkpoint.CompressedCheckpointError(
                f"binary checkpoint: {name!r} needs weight_bits uint8 {(O, -(-n // 8))} and "
                f"weight_alpha {(O,)}")
        packed[name] = (bits, alpha)
        state[f"{name}.weight"] = m.weight.array          # replaced by set_packed below
    model.load_state_dict(state)
    layers = binary_layers(model)
    for name, (bits, alpha) in packed.items():
        layers[name].set_packed(bits, alpha)  # type: ignore[attr-defined]
    checkpoint.mark(model, METHOD)
    return model.eval()
