"""ONNX forms of numcnn's primitives, for `numcnn.onnx.export`: one table `EMITTERS`, numcnn op
name (the `Function` class name the trace records) -> a function that appends the op's nodes
to a `Graph` and returns the name of its output.

This module exists only with the optional `onnx` package (numcnn[onnx]); `export` imports it
inside the call.  Each emitter's docstring names the ONNX operator and, where the two differ,
the formula that bridges PyTorch's definition (which numcnn follows) and ONNX's.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from numcnn.analysis.summary import OpCall
from numcnn.onnx._export_graph import INT64_MAX, INT64_MIN, Graph, tensor_type
from numcnn.ops.pool import adaptive_windows, pool_output_size
from numcnn.tensor import Tensor

__all__ = ["EMITTERS", "DYNAMIC_KWARGS"]

Emitter = Callable[[Graph, OpCall], str]


def _arr(v: Any) -> np.ndarray:
    return v.array if isinstance(v, Tensor) else np.asarray(v)


def _dtype(op: OpCall) -> np.dtype:
    return op.output.array.dtype


def _x(g: Graph, op: OpCall) -> str:
    return g.input(op, 0)


def _scalar(g: Graph, op: OpCall, value: float) -> str:
    """A 0-d constant in the output's dtype."""
    return g.const(np.asarray(value, dtype=_dtype(op)))


# ----------------------------------------------------------------------------- elementwise
def _unary(op_type: str, **attrs: Any) -> Emitter:
    def emit(g: Graph, op: OpCall) -> str:
        return g.node(op_type, [_x(g, op)], **attrs)
    emit.__doc__ = f"{op_type}(x)"
    return emit


def _binary(op_type: str) -> Emitter:
    def emit(g: Graph, op: OpCall) -> str:
        dt = _dtype(op)
        return g.node(op_type, [g.input(op, 0, dt), g.input(op, 1, dt)])
    emit.__doc__ = f"{op_type}(a, b), both operands in the result's dtype (numcnn promoted them)"
    return emit


def _inplace_method(g: Graph, op: OpCall) -> str:
    """add_/sub_/mul_/div_: the Add/Sub/... the trace recorded just before did the work, and
    the in-place write rebound the tensor to its result; nothing more to emit."""
    return g.name_of(op.inputs[0])


def _relu(g: Graph, op: OpCall) -> str:
    """Relu(x) = max(x, 0)."""
    return g.node("Relu", [_x(g, op)])


def _hardtanh(g: Graph, op: OpCall) -> str:
    """Clip(x, min_val, max_val) (relu6 = Clip(x, 0, 6))."""
    kw = op.kwargs
    return g.node("Clip", [_x(g, op), _scalar(g, op, kw["min_val"]),
                           _scalar(g, op, kw["max_val"])])


def _clamp(g: Graph, op: OpCall) -> str:
    """clamp(a, min, max): Clip for scalar bounds, Max / Min for tensor bounds."""
    y = _x(g, op)
    dt = _dtype(op)
    lo, hi = op.kwargs.get("min"), op.kwargs.get("max")
    if all(b is None or np.ndim(_arr(b)) == 0 for b in (lo, hi)):
        bounds = [_scalar(g, op, float(_arr(b))) if b is not None else "" for b in (lo, hi)]
        while bounds and bounds[-1] == "":
            bounds.pop()
        return g.node("Clip", [y, *bounds])
    if lo is not None:
        y = g.node("Max", [y, g.name_of(lo, dt)])
    if hi is not None:
        y = g.node("Min", [y, g.name_of(hi, dt)])
    return y


def _leaky_relu(g: Graph, op: OpCall) -> str:
    """LeakyRelu(x, alpha=negative_slope)."""
    return g.node("LeakyRelu", [_x(g, op)], alpha=float(op.kwargs["negative_slope"]))


def _elu(g: Graph, op: OpCall) -> str:
    """y = scale x (x > 0), scale alpha (exp(input_scale x) - 1) (x <= 0) covers ELU, SELU and
    CELU: Elu(alpha) (scale = input_scale = 1), Selu(alpha, gamma=scale) (input_scale = 1),
    Celu(alpha) (scale = 1, input_scale = 1/alpha); otherwise scale * (Relu(x) + alpha *
    (exp(input_scale * min(x, 0)) - 1))."""
    kw = op.kwargs
    alpha, scale, inner = float(kw["alpha"]), float(kw["scale"]), float(kw["input_scale"])
    x = _x(g, op)
    if inner == 1.0:
        if scale == 1.0:
            return g.node("Elu", [x], alpha=alpha)
        return g.node("Selu", [x], alpha=alpha, gamma=scale)
    if scale == 1.0 and np.float32(inner * alpha) == np.float32(1.0):
        return g.node("Celu", [x], alpha=alpha)
    neg = g.node("Min", [x, _scalar(g, op, 0.0)])
    e = g.node("Exp", [g.node("Mul", [neg, _scalar(g, op, inner)])])
    e = g.node("Mul", [g.node("Sub", [e, _scalar(g, op, 1.0)]), _scalar(g, op, alpha)])
    y = g.node("Add", [g.node("Relu", [x]), e])
    return y if scale == 1.0 else g.node("Mul", [y, _scalar(g, op, scale)])


def _gelu(g: Graph, op: OpCall) -> str:
    """Gelu at opset >= 20; before: x/2 (1 + erf(x / sqrt 2)), or with approximate='tanh'
    x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    approximate = op.kwargs["approximate"]
    x = _x(g, op)
    if g.opset >= 20:
        return g.node("Gelu", [x], approximate=approximate)
    if approximate == "tanh":
        cube = g.node("Mul", [g.node("Mul", [x, x]), x])
        inner = g.node("Add", [x, g.node("Mul", [cube, _scalar(g, op, 0.044715)])])
        t = g.node("Tanh", [g.node("Mul", [inner, _scalar(g, op, math.sqrt(2 / math.pi))])])
    else:
        t = g.node("Erf", [g.node("Div", [x, _scalar(g, op, math.sqrt(2.0))])])
    half = g.node("Mul", [x, _scalar(g, op, 0.5)])
    return g.node("Mul", [half, g.node("Add", [t, _scalar(g, op, 1.0)])])


def _softplus(g: Graph, op: OpCall) -> str:
    """softplus(x) = log(1 + exp(beta x)) / beta -> Softplus(beta x) / beta.  PyTorch returns x
    itself where beta x > threshold; ONNX has no threshold, and the two differ there by less
    than exp(-threshold) relatively (2e-9 for the default 20), below float32's resolution."""
    beta = float(op.kwargs["beta"])
    x = _x(g, op)
    if beta == 1.0:
        return g.node("Softplus", [x])
    y = g.node("Softplus", [g.node("Mul", [x, _scalar(g, op, beta)])])
    return g.node("Div", [y, _scalar(g, op, beta)])


def _hardsigmoid(g: Graph, op: OpCall) -> str:
    """PyTorch's relu6(x + 3) / 6 = HardSigmoid(x, alpha=1/6, beta=1/2)."""
    return g.node("HardSigmoid", [_x(g, op)], alpha=1.0 / 6.0, beta=0.5)


def _hardswish(g: Graph, op: OpCall) -> str:
    """HardSwish (opset >= 14) = x * hardsigmoid(x); the product before."""
    x = _x(g, op)
    if g.opset >= 14:
        return g.node("HardSwish", [x])
    return g.node("Mul", [x, g.node("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)])


def _silu(g: Graph, op: OpCall) -> str:
    """silu(x) = x * sigmoid(x)."""
    x = _x(g, op)
    return g.node("Mul", [x, g.node("Sigmoid", [x])])


def _mish(g: Graph, op: OpCall) -> str:
    """Mish (opset >= 18) = x * tanh(softplus(x)); the product before."""
    x = _x(g, op)
    if g.opset >= 18:
        return g.node("Mish", [x])
    return g.node("Mul", [x, g.node("Tanh", [g.node("Softplus", [x])])])


def _log_sigmoid(g: Graph, op: OpCall) -> str:
    """log sigmoid(x) = -softplus(-x)."""
    return g.node("Neg", [g.node("Softplus", [g.node("Neg", [_x(g, op)])])])


def _threshold(g: Graph, op: OpCall) -> str:
    """y = x where x > threshold, else value: Where(Greater(x, threshold), x, value)."""
    x = _x(g, op)
    above = g.node("Greater", [x, _scalar(g, op, float(op.kwargs["threshold"]))])
    return g.node("Where", [above, x, _scalar(g, op, float(op.kwargs["value"]))])


def _prelu(g: Graph, op: OpCall) -> str:
    """PRelu(x, slope): the slope (C,) is read along the channel axis 1, so for x of rank r > 2
    it is reshaped to (C, 1, ..., 1) (ONNX broadcasts from the right)."""
    x, w = _x(g, op), g.input(op, 1)
    rank, size = _arr(op.inputs[0]).ndim, _arr(op.inputs[1]).size
    if rank > 2 and size > 1:
        w = g.node("Reshape", [w, g.ints([size] + [1] * (rank - 2))])
    return g.node("PRelu", [x, w])


def _softmax(op_type: str) -> Emitter:
    def emit(g: Graph, op: OpCall) -> str:
        return g.node(op_type, [_x(g, op)], axis=int(op.kwargs["dim"]))
    emit.__doc__ = f"{op_type}(x, axis=dim) (one axis, the opset >= 13 definition)"
    return emit


def _identity(g: Graph, op: OpCall) -> str:
    """Identity (a copy; dropout in eval)."""
    return g.node("Identity", [_x(g, op)])


def _dropout(g: Graph, op: OpCall) -> str:
    """Dropout in eval is the identity; a recorded mask (training mode) cannot be exported."""
    if op.kwargs.get("noise") is not None:
        raise g.fail("dropout with a random mask (training mode) has no deterministic form")
    return _identity(g, op)


def _cast(g: Graph, op: OpCall) -> str:
    """Cast(x, to=dtype)."""
    return g.node("Cast", [_x(g, op)], to=tensor_type(_dtype(op)))


def _where(g: Graph, op: OpCall) -> str:
    """Where(cond, a, b).  numcnn's comparisons are not traced ops, so the condition is the
    mask recorded in the traced run, written as a constant (export refuses the model when the
    mask depends on the input: export._check_where_conditions)."""
    dt = _dtype(op)
    cond = g.name_of(op.kwargs["cond"], np.bool_)
    return g.node("Where", [cond, g.input(op, 0, dt), g.input(op, 1, dt)])


# ----------------------------------------------------------------------------- linear algebra
def _linear(g: Graph, op: OpCall) -> str:
    """y = x W^T + b: Gemm(x, W, b, transB=1) for 2-D x; MatMul(x, Transpose(W)) (+ b) for
    other ranks (the weight keeps its (out, in) initializer and state_dict name)."""
    x, w = _x(g, op), g.input(op, 1)
    bias = op.inputs[2] if len(op.inputs) > 2 else None
    b = g.input(op, 2) if bias is not None else None
    if _arr(op.inputs[0]).ndim == 2:
        return g.node("Gemm", [x, w] + ([b] if b else []), transB=1)
    y = g.node("MatMul", [x, g.node("Transpose", [w], perm=[1, 0])])
    return g.node("Add", [y, b]) if b else y


def _matmul(g: Graph, op: OpCall) -> str:
    """MatMul(a, b) (NumPy's matmul, as torch.matmul)."""
    dt = _dtype(op)
    return g.node("MatMul", [g.input(op, 0, dt), g.input(op, 1, dt)])


# ----------------------------------------------------------------------------- convolution
def _conv_attrs(op: OpCall) -> dict[str, Any]:
    kw = op.kwargs
    pads = [lo for lo, _ in kw["padding"]] + [hi for _, hi in kw["padding"]]
    return {"strides": list(kw["stride"]), "pads": pads, "dilations": list(kw["dilation"]),
            "group": int(kw["groups"])}


def _conv(g: Graph, op: OpCall) -> str:
    """Conv(x, W, b; strides, pads [begins..., ends...], dilations, group), the cross-correlation
    PyTorch calls convolution; the weight layout (C_out, C_in/G, *K) is the same."""
    ins = [_x(g, op), g.input(op, 1)] + ([g.input(op, 2)] if op.inputs[2] is not None else [])
    return g.node("Conv", ins, **_conv_attrs(op))


def _conv_transpose(g: Graph, op: OpCall) -> str:
    """ConvTranspose(x, W, b; strides, pads, output_padding, dilations, group); W (C_in,
    C_out/G, *K) as PyTorch.  L_out = (L-1) s - 2p + d (K-1) + output_padding + 1."""
    kw = op.kwargs
    pads = [int(p) for p in kw["padding"]] * 2
    ins = [_x(g, op), g.input(op, 1)] + ([g.input(op, 2)] if op.inputs[2] is not None else [])
    return g.node("ConvTranspose", ins, strides=list(kw["stride"]), pads=pads,
                  dilations=list(kw["dilation"]), group=int(kw["groups"]),
                  output_padding=list(kw["output_padding"]))


# ----------------------------------------------------------------------------- pooling
def _ceil_mode(op: OpCall, dilation: Any) -> int:
    """numcnn records the output size, not ceil_mode: it was on when the size exceeds floor's."""
    kw = op.kwargs
    x = _arr(op.inputs[0])
    nd = len(kw["kernel_size"])
    floor = [pool_output_size(L, k, s, p, d, False) for L, k, s, p, d in zip(
        x.shape[x.ndim - nd:], kw["kernel_size"], kw["stride"], kw["padding"], dilation)]
    return int(any(o > f for o, f in zip(kw["out_size"], floor)))


def _pool_attrs(op: OpCall, dilation: Any) -> dict[str, Any]:
    kw = op.kwargs
    return {"kernel_shape": list(kw["kernel_size"]), "strides": list(kw["stride"]),
            "pads": list(kw["padding"]) * 2, "ceil_mode": _ceil_mode(op, dilation)}


def _max_pool(g: Graph, op: OpCall) -> str:
    """MaxPool(x; kernel_shape, strides, pads, dilations, ceil_mode) (padding reads as -inf in
    both); indices, when asked for, are not exported."""
    if op.kwargs.get("return_indices"):
        raise g.fail("max pooling with return_indices=True has no export (ONNX's indices "
                     "count over the whole tensor, numcnn's per plane)")
    attrs = _pool_attrs(op, op.kwargs["dilation"])
    return g.node("MaxPool", [_x(g, op)], dilations=list(op.kwargs["dilation"]), **attrs)


def _avg_pool(g: Graph, op: OpCall) -> str:
    """AveragePool(x; kernel_shape, strides, pads, ceil_mode, count_include_pad).  With
    divisor_override D: sum / D = AveragePool(count_include_pad=1) * prod(K) / D."""
    kw = op.kwargs
    nd = len(kw["kernel_size"])
    attrs = _pool_attrs(op, (1,) * nd)
    div = kw.get("divisor_override")
    if div is not None and attrs["ceil_mode"]:
        raise g.fail("avg pooling with both ceil_mode and divisor_override has no ONNX form")
    include = int(bool(kw.get("count_include_pad", True)) or div is not None)
    y = g.node("AveragePool", [_x(g, op)], count_include_pad=include, **attrs)
    if div is None:
        return y
    return g.node("Mul", [y, _scalar(g, op, math.prod(kw["kernel_size"]) / div)])


def _adaptive_axes(g: Graph, op: OpCall) -> tuple[list[int], list[int], int]:
    x = _arr(op.inputs[0])
    out = list(op.kwargs["out_size"])
    nd = len(out)
    sizes = list(x.shape[x.ndim - nd:])
    if any(a >= x.ndim - nd for a in g.dynamic(op.inputs[0])) and any(o != 1 for o in out):
        raise g.fail("adaptive pooling to a size other than 1 over a dynamic spatial axis "
                     "has no fixed ONNX form")
    return sizes, out, x.ndim - nd


def _adaptive_as_pool(g: Graph, x: str, sizes: list[int], out: list[int],
                      kind: str) -> str | None:
    """Global{kind}Pool for output 1, {kind}Pool (kernel = stride = L/O) when every axis
    divides; None otherwise."""
    if all(o == 1 for o in out):
        return g.node(f"Global{kind}Pool", [x])
    if all(L % o == 0 for L, o in zip(sizes, out)):
        k = [L // o for L, o in zip(sizes, out)]
        return g.node(f"{kind}Pool", [x], kernel_shape=k, strides=k)
    return None


def _adaptive_avg_pool(g: Graph, op: OpCall) -> str:
    """Adaptive average pooling: GlobalAveragePool for output 1, AveragePool (kernel = stride
    = L/O) when every axis divides, else exact: along each axis a MatMul with the averaging
    matrix P (L, O), P[j, i] = 1/len_i for j in window i (windows floor(iL/O) .. ceil((i+1)L/O))."""
    sizes, out, first = _adaptive_axes(g, op)
    x = _x(g, op)
    plain = _adaptive_as_pool(g, x, sizes, out, "Average")
    if plain is not None:
        return plain
    rank = first + len(out)
    for a, (L, o) in enumerate(zip(sizes, out)):
        if L == o:
            continue
        start, end = adaptive_windows(L, o)
        j = np.arange(L)[:, None]
        p = ((j >= start) & (j < end)) / (end - start)
        axis = first + a
        perm = list(range(rank))
        perm[axis], perm[-1] = perm[-1], perm[axis]
        moved = x if axis == rank - 1 else g.node("Transpose", [x], perm=perm)
        x = g.node("MatMul", [moved, g.const(p, _dtype(op))])
        if axis != rank - 1:
            x = g.node("Transpose", [x], perm=perm)
    return x


def _adaptive_max_pool(g: Graph, op: OpCall) -> str:
    """Adaptive max pooling: GlobalMaxPool for output 1, MaxPool (kernel = stride = L/O) when
    every axis divides, else per axis one ReduceMax over each window's Slice, concatenated
    (max is separable, so axis by axis is exact)."""
    if op.kwargs.get("return_indices"):
        raise g.fail("adaptive max pooling with return_indices=True has no export")
    sizes, out, first = _adaptive_axes(g, op)
    x = _x(g, op)
    plain = _adaptive_as_pool(g, x, sizes, out, "Max")
    if plain is not None:
        return plain
    for a, (L, o) in enumerate(zip(sizes, out)):
        if L == o:
            continue
        axis = first + a
        parts = [g.reduce("ReduceMax", g.node("Slice", [x, g.ints([s]), g.ints([e]),
                                                        g.ints([axis])]), [axis], True)
                 for s, e in zip(*adaptive_windows(L, o))]
        x = g.node("Concat", parts, axis=axis)
    return x


# ----------------------------------------------------------------------------- normalisation
def _affine_or(g: Graph, op: OpCall, i: int, fill: float, size: int) -> str:
    v = op.inputs[i] if len(op.inputs) > i else None
    if v is None:
        return g.const(np.full(size, fill, dtype=_dtype(op)))
    return g.input(op, i, _dtype(op))


def _batch_norm(g: Graph, op: OpCall) -> str:
    """BatchNormalization(x, scale, B, mean, var; epsilon, momentum) with the running
    statistics (eval).  ONNX's momentum weighs the old statistic: momentum_onnx = 1 - torch's.
    Kept as a node (not folded into the convolution) so an imported model can be fine-tuned."""
    kw = op.kwargs
    x = _arr(op.inputs[0])
    if kw.get("training") or kw.get("running_mean") is None:
        return _batch_norm_batch_stats(g, op)
    c = x.shape[1]
    ins = [_x(g, op), _affine_or(g, op, 1, 1.0, c), _affine_or(g, op, 2, 0.0, c),
           g.name_of(kw["running_mean"]), g.name_of(kw["running_var"])]
    attrs: dict[str, Any] = {"epsilon": float(kw["eps"])}
    if kw.get("momentum") is not None:
        attrs["momentum"] = 1.0 - float(kw["momentum"])
    return g.node("BatchNormalization", ins, **attrs)


def _normalise(g: Graph, op: OpCall, x: str, axes: list[int], eps: float) -> str:
    """(x - mean) / sqrt(var + eps) over `axes`, biased variance."""
    centred = g.node("Sub", [x, g.reduce("ReduceMean", x, axes, True)])
    var = g.reduce("ReduceMean", g.node("Mul", [centred, centred]), axes, True)
    std = g.node("Sqrt", [g.node("Add", [var, _scalar(g, op, eps)])])
    return g.node("Div", [centred, std])


def _channel_affine(g: Graph, op: OpCall, y: str, rank: int) -> str:
    """y * w[c] + b[c] with w, b (C,) read along axis 1 (reshaped to (C, 1, ..., 1))."""
    for i, op_type in ((1, "Mul"), (2, "Add")):
        if len(op.inputs) > i and op.inputs[i] is not None:
            c = _arr(op.inputs[i]).size
            v = g.node("Reshape", [g.input(op, i, _dtype(op)), g.ints([c] + [1] * (rank - 2))])
            y = g.node(op_type, [y, v])
    return y


def _batch_norm_batch_stats(g: Graph, op: OpCall) -> str:
    """Batch norm with the batch's own statistics (no running statistics): the mean and the
    biased variance over every axis but the channels, then the affine."""
    rank = _arr(op.inputs[0]).ndim
    y = _normalise(g, op, _x(g, op), [0] + list(range(2, rank)), float(op.kwargs["eps"]))
    return _channel_affine(g, op, y, rank)


def _instance_norm(g: Graph, op: OpCall) -> str:
    """InstanceNormalization(x, scale, B; epsilon): each (n, c) plane with its own statistics."""
    c = _arr(op.inputs[0]).shape[1]
    ins = [_x(g, op), _affine_or(g, op, 1, 1.0, c), _affine_or(g, op, 2, 0.0, c)]
    return g.node("InstanceNormalization", ins, epsilon=float(op.kwargs["eps"]))


def _group_norm(g: Graph, op: OpCall) -> str:
    """Group norm, decomposed (ONNX's GroupNormalization changed meaning between opsets 18 and
    21): x (N, C, *S) -> (N, G, C/G * prod S) -> InstanceNormalization with unit scale ->
    back to x's shape (Shape(x), so N and S may be dynamic) -> * w[c] + b[c]."""
    x_arr = _arr(op.inputs[0])
    groups = int(op.kwargs["num_groups"])
    x = _x(g, op)
    grouped = g.node("Reshape", [x, g.ints([0, groups, -1])])
    ones = g.const(np.ones(groups, dtype=_dtype(op)))
    zeros = g.const(np.zeros(groups, dtype=_dtype(op)))
    y = g.node("InstanceNormalization", [grouped, ones, zeros], epsilon=float(op.kwargs["eps"]))
    y = g.node("Reshape", [y, g.node("Shape", [x])])
    return _channel_affine(g, op, y, x_arr.ndim)


def _layer_norm(g: Graph, op: OpCall) -> str:
    """LayerNormalization(x, scale, B; axis=-k, epsilon) at opset >= 17 (stash_type float32);
    before: the mean and biased variance over the last k axes, then * w + b."""
    k = int(op.kwargs["normalized_ndim"])
    eps = float(op.kwargs["eps"])
    x_arr = _arr(op.inputs[0])
    shape = x_arr.shape[x_arr.ndim - k:]
    if g.opset >= 17:
        ins = [_x(g, op), _affine_or(g, op, 1, 1.0, 0) if op.inputs[1] is not None
               else g.const(np.ones(shape, dtype=_dtype(op)))]
        if op.inputs[2] is not None:
            ins.append(g.input(op, 2, _dtype(op)))
        return g.node("LayerNormalization", ins, axis=-k, epsilon=eps)
    y = _normalise(g, op, _x(g, op), list(range(x_arr.ndim - k, x_arr.ndim)), eps)
    if op.inputs[1] is not None:
        y = g.node("Mul", [y, g.input(op, 1, _dtype(op))])
    if op.inputs[2] is not None:
        y = g.node("Add", [y, g.input(op, 2, _dtype(op))])
    return y


def _local_response_norm(g: Graph, op: OpCall) -> str:
    """y = x / (k + alpha/n * sum_{c' in window(c)} x[c']^2)^beta.  PyTorch's window runs from
    c - n//2 to c + (n-1)//2, ONNX LRN's from c - floor((n-1)/2) to c + ceil((n-1)/2): the same
    for odd n, so LRN(size=n, alpha, beta, bias=k).  For even n, PyTorch's own way: the mean of
    x^2 over the window as an AveragePool (count_include_pad) along the channel axis of an
    (N, 1, C, rest) view padded by (n//2, (n-1)//2)."""
    kw = op.kwargs
    n, alpha, beta, k = int(kw["size"]), float(kw["alpha"]), float(kw["beta"]), float(kw["k"])
    x = _x(g, op)
    if n % 2 == 1:
        return g.node("LRN", [x], size=n, alpha=alpha, beta=beta, bias=k)
    c = _arr(op.inputs[0]).shape[1]
    sq = g.node("Reshape", [g.node("Mul", [x, x]), g.ints([0, 1, c, -1])])
    mean = g.node("AveragePool", [sq], kernel_shape=[n, 1], pads=[n // 2, 0, (n - 1) // 2, 0],
                  count_include_pad=1)
    mean = g.node("Reshape", [mean, g.node("Shape", [x])])
    denom = g.node("Add", [g.node("Mul", [mean, _scalar(g, op, alpha)]), _scalar(g, op, k)])
    return g.node("Div", [x, g.node("Pow", [denom, _scalar(g, op, beta)])])


# ----------------------------------------------------------------------------- shapes
def _shape_target(g: Graph, op: OpCall, shape: tuple[int, ...], fill: int) -> list[int]:
    """The constant target of Reshape (fill=0: copy the input's dim) or Expand (fill=1: keep
    it): a traced size on a dynamic axis is replaced by `fill` where the input has the same
    dynamic size at that position, and (Reshape only) by -1 at one other place."""
    x = op.inputs[0]
    x_shape = _arr(x).shape
    dyn_in, dyn_out = g.dynamic(x), g.dynamic(op.output)
    target = [int(s) for s in shape]
    if not dyn_out:
        return target
    other_in = g.shapes2.get(id(x), x_shape)
    other_out = g.shapes2[id(op.output)]
    if fill == 1:                                      # Expand aligns shapes from the right
        offset = len(target) - len(x_shape)
    else:
        offset = 0
    free = []
    for a in sorted(dyn_out):
        i = a - offset
        if 0 <= i < len(x_shape) and i in dyn_in and x_shape[i] == target[a] \
                and other_in[i] == other_out[a]:
            target[a] = fill
        else:
            free.append(a)
    if fill == 0 and len(free) == 1 and -1 not in target:
        target[free[0]] = -1
    elif free:
        raise g.fail(f"the target shape {list(shape)} has sizes on the dynamic axes {free} that "
                     "are not copies of the input's; they would be baked into the model")
    return target


def _reshape(g: Graph, op: OpCall) -> str:
    """Reshape(x, shape) (view, flatten...); with dynamic axes, 0 copies the input's dim and -1
    takes what is left, so no traced batch size is written (see `_shape_target`)."""
    target = _shape_target(g, op, tuple(op.output.array.shape), 0)
    return g.node("Reshape", [_x(g, op), g.ints(target)])


def _expand(g: Graph, op: OpCall) -> str:
    """Expand(x, shape): a 1 in the target keeps the input's dim (so dynamic dims stay)."""
    target = _shape_target(g, op, tuple(op.output.array.shape), 1)
    return g.node("Expand", [_x(g, op), g.ints(target)])


def _permute(g: Graph, op: OpCall) -> str:
    """Transpose(x, perm=dims)."""
    rank = _arr(op.inputs[0]).ndim
    return g.node("Transpose", [_x(g, op)], perm=[int(d) % rank for d in op.kwargs["dims"]])


def _flip(g: Graph, op: OpCall) -> str:
    """Slice with step -1 from the end to before the start on every flipped axis."""
    axes = list(op.kwargs["axes"]) if isinstance(op.kwargs["axes"], (tuple, list)) \
        else [op.kwargs["axes"]]
    n = len(axes)
    return g.node("Slice", [_x(g, op), g.ints([-1] * n), g.ints([INT64_MIN] * n),
                            g.ints(axes), g.ints([-1] * n)])


def _cat(g: Graph, op: OpCall) -> str:
    """Concat(inputs, axis)."""
    dt = _dtype(op)
    return g.node("Concat", [g.name_of(v, dt) for v in op.inputs], axis=int(op.kwargs["axis"]))


def _stack(g: Graph, op: OpCall) -> str:
    """Stack = Unsqueeze every input at `axis`, then Concat along it."""
    dt = _dtype(op)
    axis = int(op.kwargs["axis"]) % op.output.array.ndim
    parts = [g.unsqueeze(g.name_of(v, dt), [axis]) for v in op.inputs]
    return g.node("Concat", parts, axis=axis)


def _index(g: Graph, op: OpCall) -> str:
    """x[index]: the slices as one Slice node (None bounds to the ends), then each integer as
    a Gather (which drops its axis), None as Unsqueeze; a single integer array as a Gather."""
    index = op.kwargs["index"]
    items = list(index) if isinstance(index, tuple) else [index]
    rank = _arr(op.inputs[0]).ndim
    if Ellipsis in items:
        at = items.index(Ellipsis)
        fill = rank - sum(1 for it in items if it is not None and it is not Ellipsis)
        items[at:at + 1] = [slice(None)] * fill
    x = _x(g, op)
    starts, ends, axes, steps = [], [], [], []
    gathers: list[tuple[int, Any]] = []
    news: list[int] = []                  # positions of the new axes in the output
    axis = out_axis = 0
    for it in items:
        if it is None:
            news.append(out_axis)
            out_axis += 1
            continue
        if isinstance(it, slice):
            out_axis += 1
            if it != slice(None):
                step = 1 if it.step is None else int(it.step)
                starts.append(int(it.start) if it.start is not None
                              else (0 if step > 0 else INT64_MAX))
                ends.append(int(it.stop) if it.stop is not None
                            else (INT64_MAX if step > 0 else INT64_MIN))
                axes.append(axis)
                steps.append(step)
        elif isinstance(it, (int, np.integer)) or (isinstance(it, np.ndarray) and it.ndim <= 1
                                                   and it.dtype.kind in "iu"):
            gathers.append((axis, it))
            out_axis += np.ndim(it)
        else:
            raise g.fail(f"indexing with {type(it).__name__} has no export here (slices, "
                         "integers, None, ... and one integer array are supported)")
        axis += 1
    if any(isinstance(v, np.ndarray) for _, v in gathers) and len(gathers) > 1:
        raise g.fail("indexing with an integer array together with other integers has no "
                     "export here")
    if axes:
        x = g.node("Slice", [x, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    for removed, (a, v) in enumerate(gathers):
        x = g.node("Gather", [x, g.const(np.asarray(v, dtype=np.int64))], axis=a - removed)
    if news:
        x = g.unsqueeze(x, news)
    return x


def _channel_shuffle(g: Graph, op: OpCall) -> str:
    """channel_shuffle: (N, C, *S) -> (N, G, C/G, L) -> swap the group axes -> Shape(x)."""
    x = _x(g, op)
    groups = int(op.kwargs["groups"])
    c = _arr(op.inputs[0]).shape[1]
    y = g.node("Reshape", [x, g.ints([0, groups, c // groups, -1])])
    y = g.node("Transpose", [y], perm=[0, 2, 1, 3])
    return g.node("Reshape", [y, g.node("Shape", [x])])


def _pixel_shuffle(g: Graph, op: OpCall) -> str:
    """pixel_shuffle (N, C r^2, H, W) -> (N, C, H r, W r) is DepthToSpace(blocksize=r,
    mode='CRD') (channel c r^2 + i r + j goes to position (i, j) of channel c's block)."""
    if _arr(op.inputs[0]).ndim != 4:
        raise g.fail("pixel_shuffle of a tensor that is not 4-D has no DepthToSpace form")
    return g.node("DepthToSpace", [_x(g, op)], blocksize=int(op.kwargs["upscale_factor"]),
                  mode="CRD")


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
              "circular": "wrap"}


def _pad(g: Graph, op: OpCall) -> str:
    """Pad(x, pads, value; mode).  PyTorch's pad lists (lo, hi) pairs from the last axis
    backwards; ONNX's pads are all the begins, then all the ends, for every axis.  Negative
    pads crop.  circular is ONNX's 'wrap' (opset >= 19)."""
    kw = op.kwargs
    mode = kw.get("mode", "constant")
    rank = _arr(op.inputs[0]).ndim
    pairs = [(int(kw["pad"][i]), int(kw["pad"][i + 1])) for i in range(0, len(kw["pad"]), 2)]
    begins, ends = [0] * rank, [0] * rank
    for j, (lo, hi) in enumerate(pairs):
        begins[rank - 1 - j], ends[rank - 1 - j] = lo, hi
    if mode == "circular" and g.opset < 19:
        return _pad_circular(g, op, begins, ends)
    ins = [_x(g, op), g.ints(begins + ends)]
    if mode == "constant":
        ins.append(_scalar(g, op, float(kw.get("value", 0.0))))
    return g.node("Pad", ins, mode=_PAD_MODES[mode])


def _pad_circular(g: Graph, op: OpCall, begins: list[int], ends: list[int]) -> str:
    """Circular padding before opset 19 (no 'wrap'): per axis, Concat(x[-lo:], x, x[:hi])."""
    x = _x(g, op)
    for axis, (lo, hi) in enumerate(zip(begins, ends)):
        if lo < 0 or hi < 0:
            raise g.fail("circular padding with negative pads has no export before opset 19")
        parts = []
        if lo:
            parts.append(g.node("Slice", [x, g.ints([-lo]), g.ints([INT64_MAX]), g.ints([axis])]))
        parts.append(x)
        if hi:
            parts.append(g.node("Slice", [x, g.ints([0]), g.ints([hi]), g.ints([axis])]))
        if len(parts) > 1:
            x = g.node("Concat", parts, axis=axis)
    return x


_RESIZE_MODES = {"nearest": ("nearest", "asymmetric", "floor"),
                 "nearest-exact": ("nearest", "half_pixel", "round_prefer_ceil"),
                 "linear": ("linear", None, None), "bilinear": ("linear", None, None),
                 "trilinear": ("linear", None, None)}


def _interpolate(g: Graph, op: OpCall) -> str:
    """Resize(x, roi, scales | sizes).  nearest: src = floor(dst / scale) ('asymmetric',
    'floor'); nearest-exact: floor((dst + 0.5) / scale) ('half_pixel', round half up);
    (bi/tri)linear: 'align_corners' or 'pytorch_half_pixel'.
    A recorded scale_factor is written as scales (so dynamic spatial sizes stay dynamic);
    otherwise the sizes, with N and C taken from Shape(x)."""
    kw = op.kwargs
    mode, coord, nearest = _RESIZE_MODES[kw["mode"]]
    if coord is None:
        coord = "align_corners" if kw.get("align_corners") else "pytorch_half_pixel"
    attrs: dict[str, Any] = {"mode": mode, "coordinate_transformation_mode": coord}
    if nearest is not None:
        attrs["nearest_mode"] = nearest
    x = _x(g, op)
    scales = kw["scales"]
    if all(s is not None for s in scales):
        full = g.const(np.asarray([1.0, 1.0] + [float(s) for s in scales], dtype=np.float32))
        return g.node("Resize", [x, "", full], **attrs)
    if any(a >= 2 for a in g.dynamic(op.inputs[0])):
        raise g.fail("interpolate to a fixed size over a dynamic spatial axis: give "
                     "scale_factor instead")
    sizes = g.node("Concat", [g.shape_slice(x, 0, 2), g.ints(kw["size"])], axis=0)
    return g.node("Resize", [x, "", "", sizes], **attrs)


# ----------------------------------------------------------------------------- reductions
def _reduction(op_type: str) -> Emitter:
    def emit(g: Graph, op: OpCall) -> str:
        axis = op.kwargs.get("axis")
        axes = None if axis is None else ([axis] if isinstance(axis, int) else list(axis))
        return g.reduce(op_type, _x(g, op), axes, bool(op.kwargs.get("keepdim", False)))
    emit.__doc__ = f"{op_type}(x, axes, keepdims) (axes as an input from opset 18 / 13 Sum)"
    return emit


def _max_all(g: Graph, op: OpCall) -> str:
    """max / min (largest=False) over axes: ReduceMax / ReduceMin."""
    op_type = "ReduceMax" if op.kwargs.get("largest", True) else "ReduceMin"
    return _reduction(op_type)(g, op)


def _var(g: Graph, op: OpCall) -> str:
    """var = sum((x - mean)^2) / (n - correction) over the axes, n their (static) size."""
    kw = op.kwargs
    x_arr = _arr(op.inputs[0])
    axis = kw.get("axis")
    axes = list(range(x_arr.ndim)) if axis is None else (
        [axis] if isinstance(axis, int) else list(axis))
    axes = [a % x_arr.ndim for a in axes]
    if set(axes) & g.dynamic(op.inputs[0]):
        raise g.fail("a variance over a dynamic axis would bake its size in")
    n = math.prod(x_arr.shape[a] for a in axes)
    x = _x(g, op)
    centred = g.node("Sub", [x, g.reduce("ReduceMean", x, axes, True)])
    total = g.reduce("ReduceSum", g.node("Mul", [centred, centred]), axes,
                     bool(kw.get("keepdim", False)))
    return g.node("Div", [total, _scalar(g, op, n - kw.get("correction", 1))])


EMITTERS: dict[str, Emitter] = {
    # activations
    "ReLU": _relu, "Hardtanh": _hardtanh, "LeakyReLU": _leaky_relu, "ELU": _elu, "GELU": _gelu,
    "Sigmoid": _unary("Sigmoid"), "Tanh": _unary("Tanh"), "Softplus": _softplus,
    "Hardsigmoid": _hardsigmoid, "Hardswish": _hardswish, "SiLU": _silu, "Mish": _mish,
    "PReLU": _prelu, "LogSigmoid": _log_sigmoid, "Threshold": _threshold,
    "Softmax": _softmax("Softmax"), "LogSoftmax": _softmax("LogSoftmax"),
    "Dropout": _dropout, "Clone": _identity, "Cast": _cast,
    # arithmetic
    "Add": _binary("Add"), "Sub": _binary("Sub"), "Mul": _binary("Mul"), "Div": _binary("Div"),
    "Pow": _binary("Pow"), "Maximum": _binary("Max"), "Minimum": _binary("Min"),
    "Neg": _unary("Neg"), "Exp": _unary("Exp"), "Log": _unary("Log"), "Sqrt": _unary("Sqrt"),
    "Abs": _unary("Abs"), "Erf": _unary("Erf"), "Clamp": _clamp, "Where": _where,
    "add_": _inplace_method, "sub_": _inplace_method, "mul_": _inplace_method,
    "div_": _inplace_method,
    # linear algebra and convolution
    "Linear": _linear, "MatMul": _matmul, "ConvNd": _conv, "ConvTransposeNd": _conv_transpose,
    # pooling
    "MaxPoolNd": _max_pool, "AvgPoolNd": _avg_pool, "AdaptiveAvgPoolNd": _adaptive_avg_pool,
    "AdaptiveMaxPoolNd": _adaptive_max_pool,
    # normalisation
    "BatchNorm": _batch_norm, "InstanceNorm": _instance_norm, "GroupNorm": _group_norm,
    "LayerNorm": _layer_norm, "LocalResponseNorm": _local_response_norm,
    # shapes
    "Reshape": _reshape, "Expand": _expand, "Permute": _permute, "Flip": _flip, "Cat": _cat,
    "Stack": _stack, "Index": _index, "ChannelShuffle": _channel_shuffle,
    "PixelShuffle": _pixel_shuffle, "Pad": _pad, "Interpolate": _interpolate,
    # reductions
    "Sum": _reduction("ReduceSum"), "Mean": _reduction("ReduceMean"),
    "MaxAll": _max_all, "Var": _var,
}

# op arguments that may change with the dynamic axes because their emitter writes them in a
# size-free way (or checks them itself); any other changed argument is an error
DYNAMIC_KWARGS: dict[str, set[str]] = {
    "Reshape": {"shape"}, "Expand": {"shape"}, "MaxPoolNd": {"out_size"},
    "AvgPoolNd": {"out_size"}, "Interpolate": {"size"},
}
