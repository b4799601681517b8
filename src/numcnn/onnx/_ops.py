"""The ONNX operators numcnn runs: one function per op_type, and OPS, the table of them.

Each function takes (ctx, inputs, attrs) and returns one Tensor or a tuple of Tensors (the
node's outputs in order; the caller keeps as many as the node names).  `inputs` holds numcnn
Tensors (None for an omitted optional input); `attrs` the node's attributes as plain Python
values (ints, floats, str, lists, ndarrays for tensors).  Float maths goes through numcnn's
ops, so a loaded graph has gradients; shape arithmetic (Shape, Reshape's target, Slice's
starts...) reads int64 arrays without autograd.  The semantics are the ONNX operator spec's
(`onnx.defs.get_schema(op_type, opset).doc`), for every opset from 6 on where an op's
signature changed (e.g. axes as an attribute, later as an input).

Axis legend: N batch, C channels, S spatial dims (1 to 3), K kernel size, s stride, d dilation.
This module never imports onnx: load.py turns the protobuf into these plain values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import numcnn
import numcnn.nn.functional as F
from numcnn.tensor import Tensor

Attrs = dict[str, Any]
Inputs = list[Any]
Op = Callable[["OpContext", Inputs, Attrs], Any]

# ONNX TensorProto.DataType codes (fixed by the spec) -> the numcnn dtype that holds them
DTYPES: dict[int, Any] = {
    1: numcnn.float32, 2: numcnn.uint8, 3: numcnn.int8, 5: numcnn.int16, 6: numcnn.int32,
    7: numcnn.int64, 9: numcnn.bool, 11: numcnn.float64,
}


@dataclass
class OpContext:
    """What an op may need besides its inputs: the default domain's opset, whether the module
    is in training mode, and how many outputs the node asks for."""

    opset: int
    training: bool
    n_outputs: int


# ---------------------------------------------------------------- small helpers


def _const(a: Any) -> Tensor:
    """A constant (no gradient) Tensor holding the ndarray `a`."""
    a = np.asarray(a)
    return numcnn.from_numpy(a if a.flags.c_contiguous else a.copy())


def _ints(t: Any) -> list[int]:
    """The int values of a shape-like input (a Tensor or a list)."""
    if isinstance(t, Tensor):
        return [int(v) for v in np.asarray(t.array).reshape(-1)]
    return [int(v) for v in t]


def _scalar(t: Any) -> Any:
    return np.asarray(t.array).reshape(-1)[0].item()


def _axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def _axes_arg(ctx: OpContext, x: Inputs, a: Attrs, input_from: int) -> list[int] | None:
    """Axes given as attribute (opset < input_from) or as the second input (from then on)."""
    if ctx.opset >= input_from:
        return _ints(x[1]) if len(x) > 1 and x[1] is not None else None
    return a.get("axes")


def _float(x: Tensor) -> Tensor:
    return x if x.is_floating_point() else x.to(numcnn.get_default_dtype())


# ---------------------------------------------------------------- padding and windows

# numcnn's functions by the number of spatial axes (1, 2, 3)
_CONV: tuple[Callable[..., Tensor], ...] = (F.conv1d, F.conv2d, F.conv3d)
_CONV_T: tuple[Callable[..., Tensor], ...] = (F.conv_transpose1d, F.conv_transpose2d,
                                              F.conv_transpose3d)
_MAX_POOL: tuple[Callable[..., Any], ...] = (F.max_pool1d, F.max_pool2d, F.max_pool3d)


def _auto_pads(a: Attrs, sizes: list[int], kernel: list[int], strides: list[int],
               dils: list[int]) -> list[tuple[int, int]]:
    """(begin, end) padding per spatial axis.  SAME_*: out = ceil(in / s), total padding
    (out - 1) s + (K - 1) d + 1 - in, the odd pixel at the end (UPPER) or start (LOWER)."""
    auto = a.get("auto_pad", "NOTSET")
    nd = len(sizes)
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pairs = []
        for n, k, s, d in zip(sizes, kernel, strides, dils):
            total = max(0, (-(-n // s) - 1) * s + (k - 1) * d + 1 - n)
            small, big = total // 2, total - total // 2
            pairs.append((small, big) if auto == "SAME_UPPER" else (big, small))
        return pairs
    if auto == "VALID":
        return [(0, 0)] * nd
    if auto != "NOTSET":
        raise ValueError(f"auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got {auto!r}")
    pads = a.get("pads") or [0] * (2 * nd)
    return [(int(pads[i]), int(pads[i + nd])) for i in range(nd)]


def _pad_spatial(x: Tensor, pairs: list[tuple[int, int]], value: float = 0.0) -> Tensor:
    """Pad the trailing len(pairs) axes of x by (begin, end) each (negative crops)."""
    if not any(b or e for b, e in pairs):
        return x
    flat = [v for b, e in reversed(pairs) for v in (b, e)]
    return F.pad(x, flat, mode="constant", value=value)


def _window(x: Tensor, a: Attrs, kernel: list[int]) -> tuple[list[int], list[int],
                                                              list[tuple[int, int]], list[int]]:
    """strides, dilations, pads and output sizes of a pooling window over x's spatial axes.

    out = floor((in + b + e - ((K - 1) d + 1)) / s) + 1 (ceil with ceil_mode, dropping a last
    window that would start in the end padding); SAME_*: ceil(in / s)."""
    nd = len(kernel)
    sizes = list(x.shape[2:])
    strides = a.get("strides") or [1] * nd
    dils = a.get("dilations") or [1] * nd
    pairs = _auto_pads(a, sizes, kernel, strides, dils)
    auto = a.get("auto_pad", "NOTSET")
    outs = []
    for n, k, s, d, (b, e) in zip(sizes, kernel, strides, dils, pairs):
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            outs.append(-(-n // s))
            continue
        span = n + b + e - ((k - 1) * d + 1)
        out = (-(-span // s) if a.get("ceil_mode", 0) else span // s) + 1
        if a.get("ceil_mode", 0) and (out - 1) * s >= n + b:
            out -= 1
        outs.append(out)
    return strides, dils, pairs, outs


def _padded_for(x: Tensor, pairs: list[tuple[int, int]], outs: list[int], kernel: list[int],
                strides: list[int], dils: list[int], value: float) -> Tensor:
    """x padded by `pairs` plus what the last (ceil_mode) windows need at the end."""
    full = []
    for n, k, s, d, (b, e), o in zip(x.shape[2:], kernel, strides, dils, pairs, outs):
        need = (o - 1) * s + (k - 1) * d + 1
        full.append((b, max(e, need - n - b)))
    return _pad_spatial(x, full, value)


def _crop_out(y: Tensor, outs: list[int]) -> Tensor:
    if list(y.shape[2:]) == outs:
        return y
    return y[tuple([slice(None), slice(None), *[slice(0, o) for o in outs]])]


def _sum_pool(x: Tensor, kernel: list[int], strides: list[int], dils: list[int]) -> Tensor:
    """Sum over every window of an already padded x (no padding, no ceil): a convolution of
    each channel with a kernel of ones (dilation-aware)."""
    nd = len(kernel)
    n, c = x.shape[0], x.shape[1]
    ones = _const(np.ones((1, 1, *kernel), dtype=x.array.dtype))
    conv: Callable[..., Tensor] = _CONV[nd - 1]
    y = conv(x.reshape(n * c, 1, *x.shape[2:]), ones, None, strides, 0, dils)
    return y.reshape(n, c, *y.shape[2:])


def _spatial_rank(x: Tensor, op: str) -> int:
    nd = x.ndim - 2
    if nd not in (1, 2, 3):
        raise ValueError(f"{op}: input must be (N, C, *S) with 1 to 3 spatial axes, "
                         f"got shape {tuple(x.shape)}")
    return nd


# ---------------------------------------------------------------- convolutions


def conv(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Conv: y = b + sum w * x_pad (cross-correlation), groups, dilations, any padding."""
    inp, w, b = x[0], x[1], x[2] if len(x) > 2 else None
    nd = _spatial_rank(inp, "Conv")
    kernel = list(w.shape[2:])
    strides = a.get("strides") or [1] * nd
    dils = a.get("dilations") or [1] * nd
    pairs = _auto_pads(a, list(inp.shape[2:]), kernel, strides, dils)
    padding: Any = 0
    if all(bb == e for bb, e in pairs):
        padding = [bb for bb, _ in pairs]
    else:
        inp = _pad_spatial(inp, pairs)
    fn: Callable[..., Tensor] = _CONV[nd - 1]
    return fn(inp, w, b, strides, padding, dils, a.get("group", 1))


def conv_transpose(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """ConvTranspose.  Full output (in - 1) s + (K - 1) d + 1, then output_padding added at the
    end and pads cropped: out = s (in - 1) + output_padding + (K - 1) d + 1 - b - e.  With
    output_shape, total padding = that full size minus output_shape, split as the spec says
    (the odd pixel at the start unless auto_pad is SAME_UPPER)."""
    inp, w, b = x[0], x[1], x[2] if len(x) > 2 else None
    nd = _spatial_rank(inp, "ConvTranspose")
    kernel = list(w.shape[2:])
    strides = a.get("strides") or [1] * nd
    dils = a.get("dilations") or [1] * nd
    opad = a.get("output_padding") or [0] * nd
    sizes = list(inp.shape[2:])
    full = [(n - 1) * s + (k - 1) * d + 1 for n, s, k, d in zip(sizes, strides, kernel, dils)]
    auto = a.get("auto_pad", "NOTSET")
    if a.get("output_shape") is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
        target = list(a["output_shape"])[-nd:] if a.get("output_shape") is not None else \
            [n * s for n, s in zip(sizes, strides)]
        pairs = []
        for f, op, t in zip(full, opad, target):
            total = f + op - t
            small, big = total // 2, total - total // 2
            pairs.append((small, big) if auto == "SAME_UPPER" else (big, small))
    elif auto == "VALID":
        pairs = [(0, 0)] * nd
    else:
        pads = a.get("pads") or [0] * (2 * nd)
        pairs = [(int(pads[i]), int(pads[i + nd])) for i in range(nd)]
    fn: Callable[..., Tensor] = _CONV_T[nd - 1]
    y = fn(inp, w, None, strides, 0, 0, a.get("group", 1), dils)
    y = _pad_spatial(y, [(-bb, op - e) for (bb, e), op in zip(pairs, opad)])
    if b is not None:
        y = y + b.reshape(1, -1, *[1] * nd)
    return y


# ---------------------------------------------------------------- pooling


def max_pool(ctx: OpContext, x: Inputs, a: Attrs) -> Any:
    """MaxPool: y = max over each window; padded cells (-inf) never win.  Indices (the
    optional second output) index the flattened input, row-major (storage_order 0) or
    column-major over the spatial axes (storage_order 1)."""
    inp = x[0]
    nd = _spatial_rank(inp, "MaxPool")
    kernel = list(a["kernel_shape"])
    strides, dils, pairs, outs = _window(inp, a, kernel)
    padded = _padded_for(inp, pairs, outs, kernel, strides, dils, -math.inf)
    fn: Callable[..., Any] = _MAX_POOL[nd - 1]
    if ctx.n_outputs < 2:
        return _crop_out(fn(padded, kernel, strides, 0, dils), outs)
    y, idx = fn(padded, kernel, strides, 0, dils, return_indices=True)
    y, idx = _crop_out(y, outs), _crop_out(idx, outs)
    return y, _const(_input_indices(np.asarray(idx.array), inp.shape, padded.shape, pairs,
                                    a.get("storage_order", 0)))


def _input_indices(idx: np.ndarray, shape: Any, padded: Any, pairs: list[tuple[int, int]],
                   storage_order: int) -> np.ndarray:
    """Indices into the padded (n, c) plane -> indices into the flattened input tensor."""
    coords = np.unravel_index(idx, tuple(padded[2:]))
    coords = tuple(c - b for c, (b, _) in zip(coords, pairs))
    spatial = tuple(shape[2:])
    if storage_order:
        flat = np.ravel_multi_index(coords[::-1], spatial[::-1])
    else:
        flat = np.ravel_multi_index(coords, spatial)
    plane = int(np.prod(spatial))
    nc = np.arange(shape[0] * shape[1]).reshape(shape[0], shape[1], *[1] * len(spatial))
    return (flat + nc * plane).astype(np.int64)


def _pool_divisor(inp: Tensor, pairs: list[tuple[int, int]], outs: list[int], kernel: list[int],
                  strides: list[int], dils: list[int], include_pad: bool) -> Tensor:
    """How many cells each window averages: the real input cells (count_include_pad=0) or
    those of the padded input (1); cells beyond the padding (ceil_mode) never count."""
    spatial = tuple(inp.shape[2:])
    if include_pad:
        spatial = tuple(n + b + e for n, (b, e) in zip(spatial, pairs))
        pairs = [(0, 0)] * len(pairs)
    ones = _const(np.ones((1, 1, *spatial), dtype=inp.array.dtype))
    mask = _padded_for(ones, pairs, outs, kernel, strides, dils, 0.0)
    return _crop_out(_sum_pool(mask, kernel, strides, dils), outs)


def average_pool(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """AveragePool: y = (sum over the window of x_pad) / count, count as `_pool_divisor`."""
    inp = x[0]
    _spatial_rank(inp, "AveragePool")
    kernel = list(a["kernel_shape"])
    strides, dils, pairs, outs = _window(inp, a, kernel)
    include_pad = bool(a.get("count_include_pad", 0))
    fast = _plain_avg_pool(inp, kernel, strides, dils, pairs, outs, include_pad)
    if fast is not None:
        return fast
    padded = _padded_for(inp, pairs, outs, kernel, strides, dils, 0.0)
    total = _crop_out(_sum_pool(padded, kernel, strides, dils), outs)
    count = _pool_divisor(inp, pairs, outs, kernel, strides, dils, include_pad)
    return total / count


_AVG_POOLS = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def _plain_avg_pool(inp: Tensor, kernel: list[int], strides: list[int], dils: list[int],
                    pairs: list[tuple[int, int]], outs: list[int],
                    include_pad: bool) -> Tensor | None:
    """The window as numcnn's own average pool (F.avg_poolNd, which torch's semantics share
    with ONNX's here) where it is one: no dilation, the same padding at both ends and at
    most half the kernel, and the floor-mode output size; None otherwise."""
    if (any(d != 1 for d in dils) or any(b != e or 2 * b > k for (b, e), k in zip(pairs, kernel))
            or not inp.is_floating_point()):
        return None
    natural = [(n + 2 * b - k) // s + 1
               for n, k, s, (b, _) in zip(inp.shape[2:], kernel, strides, pairs)]
    if natural != list(outs):
        return None
    return _AVG_POOLS[len(kernel)](inp, kernel, strides, [b for b, _ in pairs],
                                   count_include_pad=include_pad)


def lp_pool(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """LpPool: y = (sum over the window of |x|^p)^(1/p), zero padding."""
    inp = x[0]
    _spatial_rank(inp, "LpPool")
    p = float(a.get("p", 2))
    kernel = list(a["kernel_shape"])
    strides, dils, pairs, outs = _window(inp, a, kernel)
    padded = _padded_for(inp.abs() ** p, pairs, outs, kernel, strides, dils, 0.0)
    return _crop_out(_sum_pool(padded, kernel, strides, dils), outs) ** (1.0 / p)


def global_average_pool(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """GlobalAveragePool: the mean over all spatial axes, kept as size 1."""
    return x[0].mean(dim=tuple(range(2, x[0].ndim)), keepdim=True)


def global_max_pool(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """GlobalMaxPool: the max over all spatial axes, kept as size 1."""
    return numcnn.amax(x[0], dim=tuple(range(2, x[0].ndim)), keepdim=True)


def global_lp_pool(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """GlobalLpPool: (sum over the spatial axes of |x|^p)^(1/p)."""
    p = float(a.get("p", 2))
    return ((x[0].abs() ** p).sum(dim=tuple(range(2, x[0].ndim)), keepdim=True)) ** (1.0 / p)


# ---------------------------------------------------------------- normalisation


def _channel(v: Tensor, rank: int) -> Tensor:
    return v.reshape(1, -1, *[1] * (rank - 2))


def batch_norm(ctx: OpContext, x: Inputs, a: Attrs) -> Any:
    """BatchNormalization.  Inference: y = (x - mean) / sqrt(var + eps) * scale + B.
    Training (training_mode=1, or the module in .train()): the batch's mean and biased
    variance over (N, *S), and the running statistics move with ONNX's convention
    running = running * momentum + batch * (1 - momentum) (torch's momentum is 1 - this one).
    Returns (Y, running_mean, running_var, batch_mean, batch_var)."""
    inp, scale, bias, mean, var = x[:5]
    eps = float(a.get("epsilon", 1e-5))
    if not (a.get("training_mode", 0) or ctx.training):
        y = F.batch_norm(inp, mean, var, scale, bias, False, 0.0, eps)
        return y, mean, var
    axes = tuple(i for i in range(inp.ndim) if i != 1)
    mu = inp.mean(dim=axes, keepdim=True)
    centred = inp - mu
    bvar = (centred * centred).mean(dim=axes, keepdim=True)
    y = centred / (bvar + eps).sqrt() * _channel(scale, inp.ndim) + _channel(bias, inp.ndim)
    m = float(a.get("momentum", 0.9))
    mu1, var1 = mu.detach().reshape(-1), bvar.detach().reshape(-1)
    new_mean = mean.detach() * m + mu1 * (1 - m)
    new_var = var.detach() * m + var1 * (1 - m)
    return y, new_mean, new_var, mu1, var1


def instance_norm(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """InstanceNormalization: each (n, c) over its spatial cells, y = (x - mu) /
    sqrt(var + eps) * scale[c] + B[c] (biased var)."""
    return F.instance_norm(x[0], weight=x[1], bias=x[2], eps=float(a.get("epsilon", 1e-5)))


def _normalise(x: Tensor, axes: tuple[int, ...], eps: float) -> tuple[Tensor, Tensor, Tensor]:
    mu = x.mean(dim=axes, keepdim=True)
    centred = x - mu
    inv_std = 1.0 / ((centred * centred).mean(dim=axes, keepdim=True) + eps).sqrt()
    return centred * inv_std, mu, inv_std


def layer_norm(ctx: OpContext, x: Inputs, a: Attrs) -> Any:
    """LayerNormalization: over the axes from `axis` on, y = (x - mu) / sqrt(var + eps) *
    Scale + B; also returns Mean and InvStdDev (kept dims)."""
    inp = x[0]
    axis = _axis(int(a.get("axis", -1)), inp.ndim)
    y, mu, inv_std = _normalise(inp, tuple(range(axis, inp.ndim)), float(a.get("epsilon", 1e-5)))
    y = y * x[1]
    if len(x) > 2 and x[2] is not None:
        y = y + x[2]
    return y, mu, inv_std


def group_norm(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """GroupNormalization: the channels in num_groups groups, each (n, group) normalised over
    its channels and cells; scale/bias per channel (opset 21) or per group (opset 18)."""
    inp, scale, bias = x[0], x[1], x[2]
    g = int(a["num_groups"])
    n, c = inp.shape[0], inp.shape[1]
    grouped = inp.reshape(n, g, -1)
    y, _, _ = _normalise(grouped, (2,), float(a.get("epsilon", 1e-5)))
    if scale.shape[0] == g and g != c:                 # opset 18: one scale per group
        y = y * scale.reshape(1, g, 1) + bias.reshape(1, g, 1)
        return y.reshape(inp.shape)
    y = y.reshape(inp.shape)
    return y * _channel(scale, inp.ndim) + _channel(bias, inp.ndim)


def lrn(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """LRN: y = x / (bias + alpha / size * sum of x^2 over channels
    [c - floor((size-1)/2), c + ceil((size-1)/2)])^beta, zero outside."""
    inp = x[0]
    size = int(a["size"])
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    sq = inp * inp
    c = inp.shape[1]
    flat = sq.reshape(inp.shape[0], 1, c, -1)                     # (N, 1, C, L)
    padded = F.pad(flat, (0, 0, lo, hi))
    acc = padded[:, :, 0:c]
    for k in range(1, size):                                      # loop over window offsets
        acc = acc + padded[:, :, k:k + c]
    acc = acc.reshape(inp.shape)
    denom = (float(a.get("bias", 1.0)) + float(a.get("alpha", 1e-4)) / size * acc)
    return inp / denom ** float(a.get("beta", 0.75))


# ---------------------------------------------------------------- dense


def gemm(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Gemm: Y = alpha * A' @ B' + beta * C, A' = A^T with transA, B' likewise."""
    A, B = x[0], x[1]
    if a.get("transA", 0):
        A = A.transpose(0, 1)
    if a.get("transB", 0):
        B = B.transpose(0, 1)
    y = numcnn.matmul(A, B)
    alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
    if alpha != 1.0:
        y = y * alpha
    if len(x) > 2 and x[2] is not None:
        y = y + (x[2] * beta if beta != 1.0 else x[2])
    return y


def matmul(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """MatMul: numpy.matmul semantics (batched, broadcast)."""
    return numcnn.matmul(x[0], x[1])


def einsum(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Einsum: the equation over the inputs, numpy.einsum semantics."""
    return numcnn.einsum(a["equation"], *x)


# ---------------------------------------------------------------- activations


def _unary(fn: Callable[[Tensor], Tensor]) -> Op:
    def op(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
        return fn(x[0])
    return op


def leaky_relu(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """LeakyRelu: y = x (x >= 0), alpha x otherwise; alpha 0.01."""
    return F.leaky_relu(x[0], float(a.get("alpha", 0.01)))


def prelu(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """PRelu: y = x (x >= 0), slope * x otherwise; slope broadcast to x (before opset 7 a
    1-D slope is one per channel)."""
    v, slope = x[0], x[1]
    if ctx.opset < 7 and slope.ndim == 1 and v.ndim > 2 and slope.shape[0] == v.shape[1]:
        slope = _channel(slope, v.ndim)
    return numcnn.where(v >= 0, v, v * slope)


def elu(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Elu: y = x (x >= 0), alpha (exp(x) - 1) otherwise."""
    return F.elu(x[0], float(a.get("alpha", 1.0)))


def selu(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Selu: y = gamma x (x > 0), gamma alpha (exp(x) - 1) otherwise."""
    alpha = float(a.get("alpha", 1.67326319217681884765625))
    gamma = float(a.get("gamma", 1.05070102214813232421875))
    return F.elu(x[0], alpha) * gamma


def celu(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Celu: y = max(0, x) + min(0, alpha (exp(x / alpha) - 1))."""
    return F.celu(x[0], float(a.get("alpha", 1.0)))


def hard_sigmoid(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """HardSigmoid: y = max(0, min(1, alpha x + beta)); alpha 0.2, beta 0.5."""
    return numcnn.clamp(x[0] * float(a.get("alpha", 0.2)) + float(a.get("beta", 0.5)), 0.0, 1.0)


def thresholded_relu(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """ThresholdedRelu: y = x (x > alpha), 0 otherwise; alpha 1."""
    return F.threshold(x[0], float(a.get("alpha", 1.0)), 0.0)


def shrink(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Shrink: y = x + bias (x < -lambd), x - bias (x > lambd), 0 otherwise."""
    lambd, bias = float(a.get("lambd", 0.5)), float(a.get("bias", 0.0))
    v = x[0]
    zero = numcnn.zeros_like(v)
    return numcnn.where(v < -lambd, v + bias, numcnn.where(v > lambd, v - bias, zero))


def gelu(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Gelu: y = x Phi(x) (approximate 'none') or its tanh approximation ('tanh')."""
    return F.gelu(x[0], approximate=a.get("approximate", "none"))


def clip(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Clip: y = min(max(x, min), max); bounds as attributes (opset < 11) or inputs."""
    if ctx.opset < 11:
        lo, hi = a.get("min"), a.get("max")
    else:
        lo = _scalar(x[1]) if len(x) > 1 and x[1] is not None else None
        hi = _scalar(x[2]) if len(x) > 2 and x[2] is not None else None
    if lo is None and hi is None:
        return x[0]
    return numcnn.clamp(x[0], lo, hi)


def _softmax_like(fn: Callable[..., Tensor]) -> Op:
    def op(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
        """Softmax / LogSoftmax over `axis`; before opset 13 the input is first flattened to
        2-D at `axis` (default 1) and normalised over the second dimension."""
        v = x[0]
        if ctx.opset >= 13:
            return fn(v, dim=int(a.get("axis", -1)))
        axis = _axis(int(a.get("axis", 1)), v.ndim)
        rows = int(np.prod(v.shape[:axis], dtype=np.int64))
        return fn(v.reshape(rows, -1), dim=1).reshape(v.shape)
    return op


def dropout(ctx: OpContext, x: Inputs, a: Attrs) -> Any:
    """Dropout: the identity (mask all True) at inference; in training (training_mode input
    or the module in .train()) y = x * mask / (1 - ratio), mask = uniform >= ratio."""
    v = x[0]
    if ctx.opset >= 12:
        ratio = float(_scalar(x[1])) if len(x) > 1 and x[1] is not None else 0.5
        train = bool(_scalar(x[2])) if len(x) > 2 and x[2] is not None else False
    else:
        ratio, train = float(a.get("ratio", 0.5)), False
    if (train or ctx.training) and ratio > 0:
        keep = numcnn.rand(*v.shape, dtype=v.dtype) >= ratio
        return v * keep.to(v.dtype) / (1.0 - ratio), keep
    return v, _const(np.ones(tuple(v.shape), dtype=bool))


# ---------------------------------------------------------------- elementwise arithmetic


def _operands(ctx: OpContext, x: Inputs, a: Attrs) -> tuple[Tensor, Tensor]:
    """The two operands, broadcast as numpy does (opset >= 7); before opset 7, with
    broadcast=1 and `axis`, B's dims line up with A's from `axis` on."""
    lhs, rhs = x[0], x[1]
    if ctx.opset < 7 and a.get("broadcast", 0) and "axis" in a:
        axis = _axis(int(a["axis"]), lhs.ndim)
        rhs = rhs.reshape(*rhs.shape, *[1] * (lhs.ndim - axis - rhs.ndim))
    return lhs, rhs


def _binary(fn: Callable[[Any, Any], Tensor]) -> Op:
    def op(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
        return fn(*_operands(ctx, x, a))
    return op


def div(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Div: a / b with multidirectional broadcasting; integers truncate toward zero."""
    lhs, rhs = _operands(ctx, x, a)
    if lhs.is_floating_point():
        return lhs / rhs
    return numcnn.div(lhs, rhs, rounding_mode="trunc").to(lhs.dtype)


def pow_(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Pow: x ** y, the result in x's type."""
    base, e = _operands(ctx, x, a)
    if e.dtype != base.dtype:
        e = e.to(base.dtype)
    return numcnn.pow(base, e)


def mod(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Mod: the sign of the divisor (fmod=0) or of the dividend (fmod=1)."""
    return (numcnn.fmod if a.get("fmod", 0) else numcnn.remainder)(x[0], x[1])


def _variadic(fn: Callable[[Any, Any], Tensor]) -> Op:
    def op(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
        y = x[0]
        for other in x[1:]:
            y = fn(y, other)
        return y
    return op


def mean(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Mean: the elementwise mean of the (broadcast) inputs."""
    return _variadic(numcnn.add)(ctx, x, a) / len(x)


_compare = _binary


def where(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Where: x1 where cond else x2, broadcast."""
    return numcnn.where(x[0].to(numcnn.bool), x[1], x[2])


def not_(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    return numcnn.logical_not(x[0])


# ---------------------------------------------------------------- shapes and tensors


def identity(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    return x[0]


def concat(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Concat along `axis`."""
    parts = [v for v in x if v is not None]
    return numcnn.cat(parts, dim=int(a["axis"]))


def split(ctx: OpContext, x: Inputs, a: Attrs) -> tuple[Tensor, ...]:
    """Split along `axis` into the given sizes (attribute before opset 13, input from 13),
    else into n_outputs (or num_outputs) parts, the last one smaller if uneven (opset 18)."""
    v = x[0]
    axis = _axis(int(a.get("axis", 0)), v.ndim)
    sizes = _axes_arg(ctx, x, {"axes": a.get("split")}, 13)
    n = v.shape[axis]
    if not sizes:
        parts = int(a.get("num_outputs", ctx.n_outputs))
        step = -(-n // parts)
        sizes = [min(step, n - i * step) for i in range(parts)]
    return tuple(v.split(list(sizes), dim=axis))


def flatten(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Flatten: (d0 ... d_{axis-1}, d_axis ... d_n) -> (prod of the first, prod of the rest)."""
    v = x[0]
    axis = _axis(int(a.get("axis", 1)), v.ndim)
    rows = int(np.prod(v.shape[:axis], dtype=np.int64))
    return v.reshape(rows, int(np.prod(v.shape[axis:], dtype=np.int64)))


def reshape(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Reshape: 0 copies the input's dim (unless allowzero=1), -1 is inferred."""
    v = x[0]
    shape = _ints(x[1]) if ctx.opset >= 5 else list(a["shape"])
    if not a.get("allowzero", 0):
        shape = [v.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return v.reshape(*shape)


def transpose(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Transpose by `perm` (default: reversed axes)."""
    perm = a.get("perm") or list(range(x[0].ndim))[::-1]
    return x[0].permute(*perm)


def squeeze(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Squeeze the given axes (all size-1 axes when none given)."""
    v = x[0]
    axes = _axes_arg(ctx, x, a, 13)
    if axes is None:
        axes = [i for i, d in enumerate(v.shape) if d == 1]
    keep = [d for i, d in enumerate(v.shape) if i not in {_axis(ax, v.ndim) for ax in axes}]
    return v.reshape(*keep)


def unsqueeze(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Unsqueeze: insert size-1 axes at the given positions of the OUTPUT."""
    v = x[0]
    axes = _axes_arg(ctx, x, a, 13) or []
    rank = v.ndim + len(axes)
    new = sorted(_axis(ax, rank) for ax in axes)
    dims = iter(v.shape)
    return v.reshape(*[1 if i in new else next(dims) for i in range(rank)])


def expand(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Expand: broadcast x with `shape` (bidirectionally, as numpy)."""
    shape = np.broadcast_shapes(tuple(x[0].shape), tuple(_ints(x[1])))
    return numcnn.broadcast_to(x[0], shape)


def tile(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Tile: repeat x repeats[i] times along axis i."""
    return x[0].repeat(*_ints(x[1]))


def _edge_index(n: int, b: int, e: int, mode: str) -> np.ndarray:
    """Input index read by each output cell of one axis padded (b, e) in `mode`."""
    t = np.arange(-b, n + e)
    if mode == "edge":
        return np.clip(t, 0, n - 1)
    if mode == "wrap":
        return np.mod(t, n)
    period = 2 * (n - 1)                                        # reflect: mirror, edge once
    if period == 0:
        return np.zeros_like(t)
    t = np.mod(t, period)
    return np.where(t >= n, period - t, t)


def pad(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Pad: pads = [x1_begin, x2_begin, ..., x1_end, ...] (attribute before opset 11, input
    from 11, optional axes from 18); mode constant (value), reflect, edge or wrap."""
    v = x[0]
    mode = a.get("mode", "constant")
    if ctx.opset < 11:
        pads, value, axes = list(a["pads"]), float(a.get("value", 0.0)), None
    else:
        pads = _ints(x[1])
        value = _scalar(x[2]) if len(x) > 2 and x[2] is not None else 0
        axes = _ints(x[3]) if len(x) > 3 and x[3] is not None else None
    axes = [_axis(ax, v.ndim) for ax in axes] if axes is not None else list(range(v.ndim))
    k = len(axes)
    pairs = {ax: (pads[i], pads[i + k]) for i, ax in enumerate(axes)}
    if mode == "constant":
        return _pad_spatial(v, [pairs.get(i, (0, 0)) for i in range(v.ndim)], value)
    if mode not in ("reflect", "edge", "wrap"):
        raise ValueError(f"Pad: mode must be constant, reflect, edge or wrap, got {mode!r}")
    for ax, (b, e) in pairs.items():
        if b or e:
            v = v.index_select(ax, _const(_edge_index(v.shape[ax], b, e, mode)))
    return v


def depth_to_space(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """DepthToSpace: (N, C, H, W) -> (N, C / b^2, H b, W b); DCR (default) or CRD order."""
    v, b = x[0], int(a["blocksize"])
    n, c, h, w = v.shape
    if a.get("mode", "DCR") == "DCR":
        t = v.reshape(n, b, b, c // (b * b), h, w).permute(0, 3, 4, 1, 5, 2)
    else:
        t = v.reshape(n, c // (b * b), b, b, h, w).permute(0, 1, 4, 2, 5, 3)
    return t.reshape(n, c // (b * b), h * b, w * b)


def space_to_depth(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """SpaceToDepth: (N, C, H, W) -> (N, C b^2, H / b, W / b), the inverse of DepthToSpace
    in the same mode (DCR: block offsets outermost in the channels; CRD: innermost)."""
    v, b = x[0], int(a["blocksize"])
    n, c, h, w = v.shape
    t = v.reshape(n, c, h // b, b, w // b, b)
    t = t.permute(0, 3, 5, 1, 2, 4) if a.get("mode", "DCR") == "DCR" else \
        t.permute(0, 1, 3, 5, 2, 4)
    return t.reshape(n, c * b * b, h // b, w // b)


def constant(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Constant: value (a tensor), value_float(s) (float32), value_int(s) (int64)."""
    if "value" in a:
        return _const(a["value"])
    if "value_float" in a:
        return _const(np.array(a["value_float"], dtype=np.float32))
    if "value_floats" in a:
        return _const(np.array(a["value_floats"], dtype=np.float32))
    if "value_int" in a:
        return _const(np.array(a["value_int"], dtype=np.int64))
    if "value_ints" in a:
        return _const(np.array(a["value_ints"], dtype=np.int64))
    raise ValueError(f"Constant: needs one of value, value_float(s), value_int(s); got "
                     f"{sorted(a)}")


def constant_of_shape(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """ConstantOfShape: a tensor of the given shape filled with `value` (float32 0)."""
    fill = a.get("value", np.zeros(1, dtype=np.float32))
    return _const(np.full(tuple(_ints(x[0])), fill.reshape(-1)[0], dtype=fill.dtype))


def shape(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Shape: x's dims (int64), sliced [start:end] (opset 15)."""
    dims = list(x[0].shape)
    rank = len(dims)
    start = min(max(_axis(int(a.get("start", 0)), rank), 0), rank)
    end = min(max(_axis(int(a.get("end", rank)), rank), 0), rank)
    return _const(np.array(dims[start:end], dtype=np.int64))


def size(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Size: the number of elements (int64 scalar)."""
    return _const(np.array(int(np.prod(x[0].shape, dtype=np.int64)), dtype=np.int64))


def gather(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Gather: out[.., i_1..i_q, ..] = x[.., indices[i_1..i_q], ..] along `axis`; negative
    indices count from the end."""
    v = x[0]
    axis = _axis(int(a.get("axis", 0)), v.ndim)
    idx = np.asarray(x[1].array).astype(np.int64)
    idx = np.where(idx < 0, idx + v.shape[axis], idx)
    y = v.index_select(axis, _const(idx.reshape(-1)))
    return y.reshape(*v.shape[:axis], *idx.shape, *v.shape[axis + 1:])


def _slice_bounds(start: int, end: int, step: int, n: int) -> slice:
    """ONNX Slice clamping: negatives add n; step > 0 clamps to [0, n], step < 0 start to
    [0, n - 1] and end to [-1, n - 1] (-1: past the first element)."""
    start = start + n if start < 0 else start
    end = end + n if end < 0 else end
    if step > 0:
        return slice(min(max(start, 0), n), min(max(end, 0), n), step)
    start = min(max(start, 0), n - 1)
    end = min(max(end, -1), n - 1)
    return slice(start, None if end < 0 else end, step)


def slice_(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Slice: starts/ends/axes (attributes before opset 10), then inputs with steps."""
    v = x[0]
    if ctx.opset < 10:
        starts, ends, axes, steps = a["starts"], a["ends"], a.get("axes"), None
    else:
        starts, ends = _ints(x[1]), _ints(x[2])
        axes = _ints(x[3]) if len(x) > 3 and x[3] is not None else None
        steps = _ints(x[4]) if len(x) > 4 and x[4] is not None else None
    axes = axes if axes is not None else list(range(len(starts)))
    steps = steps or [1] * len(starts)
    index: list[Any] = [slice(None)] * v.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        ax = _axis(int(ax), v.ndim)
        index[ax] = _slice_bounds(int(s), int(e), int(st), v.shape[ax])
    return v[tuple(index)]


def cast(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Cast to the type `to` (float -> int truncates toward zero, as numpy)."""
    return x[0].to(DTYPES[int(a["to"])])


def cast_like(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """CastLike: cast to the type of the second input."""
    return x[0].to(x[1].dtype)


def range_(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Range: start, start + delta, ... below limit; max(ceil((limit - start) / delta), 0)."""
    start, limit, delta = (np.asarray(v.array).reshape(()) for v in x[:3])
    n = max(int(np.ceil((limit - start) / delta)), 0)
    return _const((start + np.arange(n) * delta).astype(start.dtype))


def arg_max(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    return _arg(ctx, x, a, numcnn.argmax)


def arg_min(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    return _arg(ctx, x, a, numcnn.argmin)


def _arg(ctx: OpContext, x: Inputs, a: Attrs, fn: Callable[..., Tensor]) -> Tensor:
    """ArgMax / ArgMin along `axis` (int64), the first (or with select_last_index the last)
    position of the extremum."""
    v = x[0]
    axis = _axis(int(a.get("axis", 0)), v.ndim)
    keep = bool(a.get("keepdims", 1))
    if a.get("select_last_index", 0):
        flipped = v.flip(axis)
        return (v.shape[axis] - 1) - fn(flipped, dim=axis, keepdim=keep)
    return fn(v, dim=axis, keepdim=keep)


# ---------------------------------------------------------------- reductions


# reduce name -> (how it reduces over `dims`, the value of an empty reduction)
_REDUCERS: dict[str, tuple[Callable[[Tensor, tuple[int, ...], bool], Tensor], float]] = {
    "ReduceSum": (lambda v, d, k: v.sum(dim=d, keepdim=k), 0.0),
    "ReduceMean": (lambda v, d, k: v.mean(dim=d, keepdim=k), math.nan),
    "ReduceMax": (lambda v, d, k: numcnn.amax(v, dim=d, keepdim=k), -math.inf),
    "ReduceMin": (lambda v, d, k: numcnn.amin(v, dim=d, keepdim=k), math.inf),
    "ReduceProd": (lambda v, d, k: _prod(v, d, k), 1.0),
    "ReduceL1": (lambda v, d, k: v.abs().sum(dim=d, keepdim=k), 0.0),
    "ReduceL2": (lambda v, d, k: (v * v).sum(dim=d, keepdim=k).sqrt(), 0.0),
    "ReduceSumSquare": (lambda v, d, k: (v * v).sum(dim=d, keepdim=k), 0.0),
    "ReduceLogSum": (lambda v, d, k: v.sum(dim=d, keepdim=k).log(), -math.inf),
    "ReduceLogSumExp": (lambda v, d, k: numcnn.logsumexp(v, dim=d, keepdim=k), -math.inf),
}


def _prod(v: Tensor, dims: tuple[int, ...], keep: bool) -> Tensor:
    for d in sorted(dims, reverse=True):
        v = numcnn.prod(v, dim=d, keepdim=keep)
    return v


def _identity(value: float, dtype: np.dtype) -> Any:
    """The empty reduction's value in `dtype` (+-inf become the type's extremes)."""
    if dtype == np.bool_:
        return value > 0
    if np.issubdtype(dtype, np.integer) and math.isinf(value):
        info = np.iinfo(dtype)
        return info.max if value > 0 else info.min
    return value


def _reduce(name: str) -> Op:
    fn, empty = _REDUCERS[name]
    axes_input = 13 if name == "ReduceSum" else 18

    def op(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
        """Reduce over `axes` (attribute, or input from opset 13/18; none: all axes unless
        noop_with_empty_axes); keepdims keeps them as size 1."""
        v = x[0]
        axes = _axes_arg(ctx, x, a, axes_input)
        keep = bool(a.get("keepdims", 1))
        if not axes:
            if a.get("noop_with_empty_axes", 0):
                return v
            axes = list(range(v.ndim))
        dims = tuple(sorted(_axis(int(ax), v.ndim) for ax in axes))
        if any(v.shape[d] == 0 for d in dims):            # the reduction's identity value
            out = [1 if i in dims else n for i, n in enumerate(v.shape)]
            if not keep:
                out = [n for i, n in enumerate(v.shape) if i not in dims]
            return _const(np.full(out, _identity(empty, v.array.dtype), dtype=v.array.dtype))
        return fn(v, dims, keep)
    return op


# ---------------------------------------------------------------- resampling


def _source_coords(mode: str, n_out: int, n_in: int, scale: float) -> np.ndarray:
    """Input coordinate of each output index (Resize's coordinate_transformation_mode)."""
    i = np.arange(n_out, dtype=np.float64)
    length = scale * n_in                                    # the unrounded output length
    if mode == "half_pixel":
        return (i + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (i + 0.5) / scale - 0.5 if length > 1 else np.zeros_like(i)
    if mode == "align_corners":
        return np.zeros_like(i) if length == 1 else i * (n_in - 1) / (length - 1)
    if mode == "asymmetric":
        return i / scale
    if mode == "tf_half_pixel_for_nn":
        return (i + 0.5) / scale
    if mode == "half_pixel_symmetric":
        offset = n_in / 2 * (1 - n_out / length)
        return offset + (i + 0.5) / scale - 0.5
    raise ValueError(f"Resize: coordinate_transformation_mode must be half_pixel, "
                     f"pytorch_half_pixel, align_corners, asymmetric, tf_half_pixel_for_nn or "
                     f"half_pixel_symmetric, got {mode!r}")


_ROUNDING: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "round_prefer_floor": lambda c: np.ceil(c - 0.5),
    "round_prefer_ceil": lambda c: np.floor(c + 0.5),
    "floor": np.floor,
    "ceil": np.ceil,
}


def _cubic_weights(r: np.ndarray, A: float) -> list[np.ndarray]:
    """Keys' cubic convolution weights of the taps at floor - 1 ... floor + 2 for the
    fractional offset r."""
    def near(t: np.ndarray) -> np.ndarray:       # |t| <= 1
        return ((A + 2) * t - (A + 3)) * t * t + 1

    def far(t: np.ndarray) -> np.ndarray:        # 1 < |t| < 2
        return ((A * t - 5 * A) * t + 8 * A) * t - 4 * A
    return [far(r + 1), near(r), near(1 - r), far(2 - r)]


def _resize_axis(v: Tensor, axis: int, n_out: int, scale: float, a: Attrs) -> Tensor:
    """Resample one axis: gather the neighbour taps and weight them (separable)."""
    n_in = v.shape[axis]
    coords = _source_coords(a["coordinate_transformation_mode"], n_out, n_in, scale)
    mode = a["mode"]
    if mode == "nearest":
        idx = _ROUNDING[a["nearest_mode"]](coords)
        return v.index_select(axis, _const(np.clip(idx, 0, n_in - 1).astype(np.int64)))
    base = np.floor(coords)
    r = coords - base
    if mode == "linear":
        offsets, weights = [0, 1], [1 - r, r]
    elif mode == "cubic":
        offsets, weights = [-1, 0, 1, 2], _cubic_weights(r, float(a.get("cubic_coeff_a", -0.75)))
    else:
        raise ValueError(f"Resize: mode must be nearest, linear or cubic, got {mode!r}")
    taps = [base.astype(np.int64) + o for o in offsets]
    if a.get("exclude_outside", 0):
        weights = [np.where((t < 0) | (t >= n_in), 0.0, w) for t, w in zip(taps, weights)]
        total = sum(weights)
        weights = [w / total for w in weights]
    shape = [1] * v.ndim
    shape[axis] = n_out
    y = None
    for t, w in zip(taps, weights):
        part = v.index_select(axis, _const(np.clip(t, 0, n_in - 1)))
        term = part * _const(w.astype(v.array.dtype).reshape(shape))
        y = term if y is None else y + term
    assert y is not None
    return y


def resize(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Resize (opset 10: X, scales; 11 on: X, roi, scales, sizes; 18: axes,
    keep_aspect_ratio_policy).  Output size floor(in * scale) or `sizes`; each axis resampled
    by nearest (nearest_mode rounding), linear or cubic interpolation at the source coordinate
    of the coordinate_transformation_mode (opset 10: asymmetric, nearest rounding floor)."""
    v = x[0]
    opts = {"mode": a.get("mode", "nearest"),
            "coordinate_transformation_mode": a.get("coordinate_transformation_mode",
                                                    "half_pixel"),
            "nearest_mode": a.get("nearest_mode", "round_prefer_floor"),
            "cubic_coeff_a": a.get("cubic_coeff_a", -0.75),
            "exclude_outside": a.get("exclude_outside", 0)}
    if ctx.opset < 11:
        opts.update(coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        scales_t, sizes_t = x[1], None
    else:
        scales_t = x[2] if len(x) > 2 and x[2] is not None and x[2].numel() else None
        sizes_t = x[3] if len(x) > 3 and x[3] is not None and x[3].numel() else None
    if opts["coordinate_transformation_mode"] == "tf_crop_and_resize":
        raise ValueError("Resize: coordinate_transformation_mode 'tf_crop_and_resize' is not "
                         "supported (allowed: half_pixel, pytorch_half_pixel, align_corners, "
                         "asymmetric, tf_half_pixel_for_nn, half_pixel_symmetric)")
    if a.get("antialias", 0):
        raise ValueError("Resize: antialias=1 is not supported (allowed: 0)")
    axes = [_axis(ax, v.ndim) for ax in (a.get("axes") or range(v.ndim))]
    ins = [v.shape[ax] for ax in axes]
    if sizes_t is not None:
        sizes = _ints(sizes_t)
        policy = a.get("keep_aspect_ratio_policy", "stretch")
        if policy == "stretch":
            scales = [o / n for o, n in zip(sizes, ins)]
        else:
            pick = min if policy == "not_larger" else max
            common = pick(o / n for o, n in zip(sizes, ins))
            scales = [common] * len(ins)
            sizes = [int(math.floor(common * n + 0.5)) for n in ins]
    else:
        scales = [float(s) for s in np.asarray(scales_t.array).reshape(-1)]
        sizes = [int(math.floor(n * s)) for n, s in zip(ins, scales)]
    for ax, n_in, n_out, s in zip(axes, ins, sizes, scales):
        if n_out != n_in or s != 1.0:
            v = _resize_axis(v, ax, n_out, s, opts)
    return v


def upsample(ctx: OpContext, x: Inputs, a: Attrs) -> Tensor:
    """Upsample (opset 7: scales attribute; 9: scales input): Resize with asymmetric
    coordinates, nearest rounding down."""
    scales = a["scales"] if ctx.opset < 9 else np.asarray(x[1].array).reshape(-1)
    v = x[0]
    opts = {"mode": a.get("mode", "nearest"), "coordinate_transformation_mode": "asymmetric",
            "nearest_mode": "floor"}
    for ax, s in enumerate(scales):
        if float(s) != 1.0:
            v = _resize_axis(v, ax, int(math.floor(v.shape[ax] * float(s))), float(s), opts)
    return v


# ---------------------------------------------------------------- the table

# op_type (default domain "ai.onnx") -> its function
OPS: dict[str, Op] = {
    "Conv": conv, "ConvTranspose": conv_transpose,
    "MaxPool": max_pool, "AveragePool": average_pool, "LpPool": lp_pool,
    "GlobalAveragePool": global_average_pool, "GlobalMaxPool": global_max_pool,
    "GlobalLpPool": global_lp_pool,
    "BatchNormalization": batch_norm, "InstanceNormalization": instance_norm,
    "LayerNormalization": layer_norm, "GroupNormalization": group_norm, "LRN": lrn,
    "Gemm": gemm, "MatMul": matmul, "Einsum": einsum,
    "Relu": _unary(F.relu), "LeakyRelu": leaky_relu, "PRelu": prelu, "Elu": elu, "Selu": selu,
    "Celu": celu, "Sigmoid": _unary(numcnn.sigmoid), "HardSigmoid": hard_sigmoid,
    "HardSwish": _unary(F.hardswish), "Tanh": _unary(numcnn.tanh),
    "Softplus": _unary(F.softplus), "Softsign": _unary(F.softsign), "Gelu": gelu,
    "Mish": _unary(F.mish), "Erf": _unary(numcnn.erf), "ThresholdedRelu": thresholded_relu,
    "Shrink": shrink, "Clip": clip,
    "Softmax": _softmax_like(F.softmax), "LogSoftmax": _softmax_like(F.log_softmax),
    "Dropout": dropout, "Identity": identity,
    "Add": _binary(numcnn.add), "Sub": _binary(numcnn.sub), "Mul": _binary(numcnn.mul),
    "Div": div, "Pow": pow_, "Mod": mod,
    "Neg": _unary(numcnn.neg), "Abs": _unary(numcnn.abs), "Exp": _unary(numcnn.exp),
    "Log": _unary(numcnn.log), "Sqrt": _unary(numcnn.sqrt),
    "Reciprocal": _unary(numcnn.reciprocal), "Floor": _unary(numcnn.floor),
    "Ceil": _unary(numcnn.ceil), "Sign": _unary(numcnn.sign),
    "Sum": _variadic(numcnn.add), "Mean": mean, "Max": _variadic(numcnn.maximum),
    "Min": _variadic(numcnn.minimum),
    "Equal": _compare(numcnn.eq), "Less": _compare(numcnn.lt), "Greater": _compare(numcnn.gt),
    "LessOrEqual": _compare(numcnn.le), "GreaterOrEqual": _compare(numcnn.ge),
    "And": _compare(numcnn.logical_and), "Or": _compare(numcnn.logical_or),
    "Xor": _compare(numcnn.logical_xor), "Not": not_, "Where": where,
    "Concat": concat, "Split": split, "Flatten": flatten, "Reshape": reshape,
    "Transpose": transpose, "Squeeze": squeeze, "Unsqueeze": unsqueeze, "Expand": expand,
    "Tile": tile, "Pad": pad, "Resize": resize, "Upsample": upsample,
    "DepthToSpace": depth_to_space, "SpaceToDepth": space_to_depth,
    "Constant": constant, "ConstantOfShape": constant_of_shape, "Shape": shape, "Size": size,
    "Gather": gather, "Slice": slice_, "Cast": cast, "CastLike": cast_like, "Range": range_,
    "ArgMax": arg_max, "ArgMin": arg_min,
    **{name: _reduce(name) for name in _REDUCERS},
}

# op_type -> input positions that take no gradient (statistics, shapes, sizes, flags): a
# float initialiser used only there becomes a buffer, not a Parameter
NON_TRAINABLE_INPUTS: dict[str, tuple[int, ...]] = {
    "BatchNormalization": (3, 4), "Resize": (1, 2, 3), "Upsample": (1,), "Dropout": (1, 2),
    "Clip": (1, 2), "Pad": (1, 2, 3), "Reshape": (1,), "Expand": (1,), "Tile": (1,),
    "Slice": (1, 2, 3, 4), "Squeeze": (1,), "Unsqueeze": (1,), "Split": (1,),
    "Range": (0, 1, 2), "ConstantOfShape": (0,), "Gather": (1,),
}

# op_type -> {input position: output position}: running state a node updates in training
STATE_UPDATES: dict[str, dict[int, int]] = {"BatchNormalization": {3: 1, 4: 2}}
