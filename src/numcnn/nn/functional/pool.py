"""Pooling with torch.nn.functional's names, signatures and defaults.

Axis legend: N batch, C channels, D/H/W depth/height/width (L for 1-D), K kernel size.
Every function also takes an unbatched input ((C, L), (C, H, W) or (C, D, H, W)).

The window geometry shared by max, average and power-average pooling, per spatial axis:

    out = floor((L + 2*padding - dilation*(K-1) - 1) / stride) + 1     (ceil with ceil_mode;
    with ceil_mode a last window that would start in the right padding is dropped)

The arguments are checked here, before any work, and a mistake raises the error type PyTorch
raises for it (mostly RuntimeError; TypeError for a wrong argument type; ValueError for a bad
unpooling `output_size`) with a message naming the argument, the value and what is allowed.
The kernels live in `numcnn.ops.pool`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Union

import numpy as np

from numcnn import dtypes
from numcnn.nn.functional._checks import check_bool, check_tensor, is_int, ntuple
from numcnn.ops import pool as P
from numcnn.tensor import Tensor

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d",
    "adaptive_max_pool2d_with_indices",
    "adaptive_max_pool3d",
    "adaptive_max_pool3d_with_indices",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "lp_pool1d",
    "lp_pool2d",
    "lp_pool3d",
    "max_pool1d",
    "max_pool1d_with_indices",
    "max_pool2d",
    "max_pool2d_with_indices",
    "max_pool3d",
    "max_pool3d_with_indices",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
]

_size_1 = Union[int, Sequence[int]]
_size_2 = Union[int, Sequence[int]]
_size_3 = Union[int, Sequence[int]]
_size_opt = Union[int, None, Sequence[Union[int, None]]]

_INTS = (int, np.integer)


# ----------------------------------------------------------------------------- argument checks


def _check_input(input: Any, nd: int, fn: str) -> None:
    """A Tensor of rank nd+1 (unbatched) or nd+2 whose non-batch axes are all non-empty."""
    check_tensor(input, "input", fn)
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"{fn}: expected a {nd + 1}D (unbatched) or {nd + 2}D (batched) input, got "
            f"{input.ndim}D input of shape {tuple(input.shape)}"
        )
    first = 1 if input.ndim == nd + 2 else 0
    if any(s == 0 for s in input.shape[first:]):
        raise RuntimeError(
            f"{fn}: expected non-empty channel and spatial axes (only the batch axis may be 0), "
            f"got input of shape {tuple(input.shape)}"
        )


def _window_args(fn: str, input: Tensor, nd: int, kernel_size: Any, stride: Any, padding: Any,
                 dilation: Any, ceil_mode: Any) -> tuple[tuple[int, ...], ...]:
    """Check kernel_size/stride/padding/dilation/ceil_mode; return them with the output size."""
    _check_input(input, nd, fn)
    kernel = ntuple(kernel_size, nd, "kernel_size", fn)
    stride_t = kernel if stride is None or (isinstance(stride, (list, tuple)) and not stride) \
        else ntuple(stride, nd, "stride", fn)
    pad = ntuple(padding, nd, "padding", fn)
    dil = ntuple(dilation, nd, "dilation", fn)
    ceil = check_bool(ceil_mode, "ceil_mode", fn)
    if any(s <= 0 for s in stride_t):
        raise RuntimeError(f"{fn}: stride must be greater than zero, got stride={stride_t}"
                           + (" (it defaults to kernel_size)" if stride is None else ""))
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"{fn}: kernel_size must be greater than zero, got {kernel}")
    if any(d <= 0 for d in dil):
        raise RuntimeError(f"{fn}: dilation must be greater than zero, got {dil}")
    if any(p < 0 for p in pad):
        raise RuntimeError(f"{fn}: padding must be non-negative, got {pad}")
    if any(p > k // 2 for p, k in zip(pad, kernel)):
        raise RuntimeError(
            f"{fn}: padding should be at most half of kernel_size, got padding={pad} and "
            f"kernel_size={kernel} (allowed: padding <= kernel_size // 2)"
        )
    spatial = tuple(input.shape[input.ndim - nd:])
    out = tuple(P.pool_output_size(L, k, s, p, d, ceil)
                for L, k, s, p, d in zip(spatial, kernel, stride_t, pad, dil))
    if any(o < 1 for o in out):
        raise RuntimeError(
            f"{fn}: the window is bigger than the padded input: input size {spatial}, "
            f"kernel_size={kernel}, stride={stride_t}, padding={pad}, dilation={dil}, "
            f"ceil_mode={ceil} give output size {out}; every output size must be >= 1"
        )
    return kernel, stride_t, pad, dil, out


def _adaptive_size(fn: str, input: Tensor, nd: int, output_size: Any) -> tuple[int, ...]:
    """output_size: an int or a tuple of nd ints (None entries keep the input's size)."""
    _check_input(input, nd, fn)
    spatial = input.shape[input.ndim - nd:]
    if is_int(output_size):
        size: tuple[Any, ...] = (int(output_size),) * nd
    elif isinstance(output_size, (tuple, list)):
        if len(output_size) != nd:
            raise RuntimeError(
                f"{fn}: output_size must have {nd} entries, got {len(output_size)}: "
                f"{output_size!r}"
            )
        size = tuple(output_size)
    else:
        raise TypeError(
            f"{fn}(): argument 'output_size' must be an int or a tuple of {nd} ints"
            + (" (None entries keep the input size)" if nd > 1 else "")
            + f", got {type(output_size).__name__} {output_size!r}"
        )
    result = []
    for s, L in zip(size, spatial):
        if s is None and nd > 1:
            result.append(int(L))
        elif is_int(s):
            result.append(int(s))
        else:
            raise TypeError(f"{fn}(): output_size entries must be ints"
                            + (" or None" if nd > 1 else "") + f", got {output_size!r}")
    if any(s < 0 for s in result):
        raise RuntimeError(
            f"{fn}: elements of output_size must be greater than or equal to 0, got {result}"
        )
    return tuple(result)


def _check_float(input: Tensor, fn: str) -> None:
    if input.dtype.kind != "f":
        raise NotImplementedError(f"{fn}: not implemented for dtype {input.dtype} "
                                  "(use a floating point input)")


# ----------------------------------------------------------------------------- max pooling


def _max_pool(fn: str, nd: int, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
              dilation: Any, ceil_mode: Any, return_indices: Any) -> Any:
    kernel, stride_t, pad, dil, out = _window_args(fn, input, nd, kernel_size, stride, padding,
                                                   dilation, ceil_mode)
    with_idx = check_bool(return_indices, "return_indices", fn)
    return P.MaxPoolNd.apply(input, kernel_size=kernel, stride=stride_t, padding=pad,
                             dilation=dil, out_size=out, return_indices=with_idx)


def max_pool1d(input: Tensor, kernel_size: _size_1, stride: _size_1 | None = None,
               padding: _size_1 = 0, dilation: _size_1 = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """Max pooling over a 1-D window: y[n, c, i] = max_k x[n, c, i*stride - padding + k*dilation].

    Padded positions never win (they read as -inf).  Ties go to the first maximum in the
    window; NaN propagates.

    Args:
        input: (N, C, L) or (C, L).
        kernel_size: window length K.
        stride: window step; defaults to kernel_size.
        padding: implicit -inf padding on both sides, at most K // 2.
        dilation: spacing between window taps.
        ceil_mode: round the output length up (a last window must start inside the input
            or the left padding).
        return_indices: also return the flat position in L of each maximum (for max_unpool1d).

    Shape:
        input (N, C, L) -> output (N, C, L_out),
        L_out = floor((L + 2*padding - dilation*(K-1) - 1) / stride) + 1  (ceil with ceil_mode)
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(input: Tensor, kernel_size: _size_2, stride: _size_2 | None = None,
               padding: _size_2 = 0, dilation: _size_2 = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """Max pooling over a 2-D window (the lecture's F x F pooling with stride S).

    y[n, c, i, j] = max over (a, b) of x[n, c, i*sH - pH + a*dH, j*sW - pW + b*dW].
    Padded positions never win; ties go to the first maximum in row-major window order, as
    in PyTorch (so indices and gradients match); NaN propagates.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size: window size, an int or (kH, kW).
        stride: window step; defaults to kernel_size.
        padding: implicit -inf padding on both sides, at most kernel_size // 2.
        dilation: spacing between window taps.
        ceil_mode: round the output size up (a last window must start inside the input or
            the left padding).
        return_indices: also return each maximum's flat position h*W + w (for max_unpool2d).

    Shape:
        input (N, C, H, W) -> output (N, C, H_out, W_out),
        H_out = floor((H + 2*padding - dilation*(kH-1) - 1) / stride) + 1  (ceil with ceil_mode),
        W_out likewise.
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool3d(input: Tensor, kernel_size: _size_3, stride: _size_3 | None = None,
               padding: _size_3 = 0, dilation: _size_3 = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """Max pooling over a 3-D window; see `max_pool2d`.  Indices are flat d*H*W + h*W + w.

    Shape:
        input (N, C, D, H, W) -> output (N, C, D_out, H_out, W_out),
        D_out = floor((D + 2*padding - dilation*(kD-1) - 1) / stride) + 1  (ceil with ceil_mode),
        H_out, W_out likewise.
    """
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool1d_with_indices(input: Tensor, kernel_size: _size_1, stride: _size_1 | None = None,
                            padding: _size_1 = 0, dilation: _size_1 = 1, ceil_mode: bool = False,
                            return_indices: bool = True) -> tuple[Tensor, Tensor]:
    """`max_pool1d` returning (output, indices)."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     True)


def max_pool2d_with_indices(input: Tensor, kernel_size: _size_2, stride: _size_2 | None = None,
                            padding: _size_2 = 0, dilation: _size_2 = 1, ceil_mode: bool = False,
                            return_indices: bool = True) -> tuple[Tensor, Tensor]:
    """`max_pool2d` returning (output, indices)."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     True)


def max_pool3d_with_indices(input: Tensor, kernel_size: _size_3, stride: _size_3 | None = None,
                            padding: _size_3 = 0, dilation: _size_3 = 1, ceil_mode: bool = False,
                            return_indices: bool = True) -> tuple[Tensor, Tensor]:
    """`max_pool3d` returning (output, indices)."""
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     True)


# ----------------------------------------------------------------------------- max unpooling


def _max_unpool(fn: str, nd: int, input: Tensor, indices: Any, kernel_size: Any, stride: Any,
                padding: Any, output_size: Any) -> Tensor:
    _check_input(input, nd, fn)
    kernel = ntuple(kernel_size, nd, "kernel_size", fn)
    stride_t = kernel if stride is None else ntuple(stride, nd, "stride", fn)
    pad = ntuple(padding, nd, "padding", fn)
    if not isinstance(indices, Tensor):
        raise TypeError(f"{fn}(): argument 'indices' must be Tensor, not "
                        f"{type(indices).__name__}")
    if indices.dtype != np.int64:
        raise RuntimeError(f"{fn}: elements in indices should be type int64, got {indices.dtype}")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"{fn}: indices must have the shape of the input "
                           f"{tuple(input.shape)}, got {tuple(indices.shape)}")
    spatial = input.shape[input.ndim - nd:]
    default = [(L - 1) * s + k - 2 * p for L, s, k, p in zip(spatial, stride_t, kernel, pad)]
    if output_size is None:
        out = default
    else:
        size = list(output_size) if isinstance(output_size, (tuple, list)) else None
        if size is None or not all(is_int(v) for v in size):
            raise TypeError(f"{fn}(): output_size must be a sequence of ints, got "
                            f"{output_size!r}")
        if len(size) == nd + 2:
            size = size[2:]
        if len(size) != nd:
            raise ValueError(f"{fn}: output_size should be a sequence containing {nd} or "
                             f"{nd + 2} elements, but it has a length of {len(size)}")
        for d in range(nd):
            lo, hi = default[d] - stride_t[d], default[d] + stride_t[d]
            if not lo < size[d] < hi:
                raise ValueError(f"{fn}: invalid output_size {tuple(output_size)} (dim {d} "
                                 f"must be between {lo} and {hi}, exclusive)")
        out = [int(v) for v in size]
    if any(o < 0 for o in out):
        raise ValueError(f"{fn}: the output size {tuple(out)} must not be negative "
                         f"(kernel_size={kernel}, stride={stride_t}, padding={pad})")
    plane = math.prod(out)
    idx = indices.array
    if idx.size and (idx.min() < 0 or idx.max() >= plane):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise RuntimeError(f"{fn}: found an invalid max index {bad}: indices must lie in "
                           f"[0, {plane}) for output spatial size {tuple(out)}")
    return P.MaxUnpoolNd.apply(input, indices=idx, out_size=tuple(out))


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size: _size_1,
                 stride: _size_1 | None = None, padding: _size_1 = 0,
                 output_size: Sequence[int] | None = None) -> Tensor:
    """Partial inverse of `max_pool1d`: zeros everywhere but at `indices`, which get the input.

    Shape:
        input, indices (N, C, L_in) -> output (N, C, L_out),
        L_out = (L_in - 1)*stride - 2*padding + kernel_size, or `output_size` (which must lie
        strictly within stride of that).
    """
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size: _size_2,
                 stride: _size_2 | None = None, padding: _size_2 = 0,
                 output_size: Sequence[int] | None = None) -> Tensor:
    """Partial inverse of `max_pool2d`: y.flat_per_plane[indices] = input, zeros elsewhere.

    Shape:
        input, indices (N, C, H_in, W_in) -> output (N, C, H_out, W_out),
        H_out = (H_in - 1)*stride - 2*padding + kH (W_out likewise), or `output_size`
        ((H, W) or (N, C, H, W); each within stride of the default).
    """
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size: _size_3,
                 stride: _size_3 | None = None, padding: _size_3 = 0,
                 output_size: Sequence[int] | None = None) -> Tensor:
    """Partial inverse of `max_pool3d`; see `max_unpool2d`.

    Shape:
        input, indices (N, C, D_in, H_in, W_in) -> output (N, C, D_out, H_out, W_out),
        D_out = (D_in - 1)*stride - 2*padding + kD (H_out, W_out likewise), or `output_size`.
    """
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding,
                       output_size)


# ----------------------------------------------------------------------------- average pooling


def _check_avg3d_size(fn: str, nd: int, input: Tensor, kernel: tuple[int, ...]) -> None:
    """PyTorch's 3-D average pooling wants every input axis >= the kernel, padding aside."""
    if nd == 3 and any(L < k for L, k in zip(input.shape[-3:], kernel)):
        raise RuntimeError(f"{fn}: input image {tuple(input.shape[-3:])} is smaller than "
                           f"kernel_size {kernel} (3-D average pooling does not count the "
                           "padding here, as in torch)")


def _avg_pool(fn: str, nd: int, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
              ceil_mode: Any, count_include_pad: Any, divisor_override: Any) -> Tensor:
    kernel, stride_t, pad, _, out = _window_args(fn, input, nd, kernel_size, stride, padding, 1,
                                                 ceil_mode)
    include = check_bool(count_include_pad, "count_include_pad", fn)
    if divisor_override is not None:
        if not is_int(divisor_override):
            raise TypeError(f"{fn}(): argument 'divisor_override' must be int or None, got "
                            f"{type(divisor_override).__name__} {divisor_override!r}")
        if divisor_override == 0:
            raise RuntimeError(f"{fn}: divisor_override must not be zero, got 0")
        divisor_override = int(divisor_override)
    _check_avg3d_size(fn, nd, input, kernel)
    return P.AvgPoolNd.apply(input, kernel_size=kernel, stride=stride_t, padding=pad,
                             out_size=out, count_include_pad=include,
                             divisor_override=divisor_override)


def avg_pool1d(input: Tensor, kernel_size: _size_1, stride: _size_1 | None = None,
               padding: _size_1 = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Average pooling over a 1-D window: y[n, c, i] = sum of the window / divisor.

    The divisor is the window length clipped to the padded input (count_include_pad=True) or
    the number of real (non-padding) cells in it (count_include_pad=False), as PyTorch.

    Shape:
        input (N, C, L) -> output (N, C, L_out),
        L_out = floor((L + 2*padding - K) / stride) + 1  (ceil with ceil_mode)
    """
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def avg_pool2d(input: Tensor, kernel_size: _size_2, stride: _size_2 | None = None,
               padding: _size_2 = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Average pooling over a 2-D window: y[n, c, i, j] = (1/divisor) * sum over the window.

    Zero padding.  The divisor is `divisor_override` when given; else, per window with
    start = i*stride - padding and end = min(start + K, size + padding) on each axis, the
    product over axes of (end - start) with count_include_pad=True, or of the number of real
    input cells in [start, end) with count_include_pad=False.  ceil_mode windows that overhang
    the padded input are thus divided by their clipped size, as in PyTorch.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size: window size, an int or (kH, kW).
        stride: window step; defaults to kernel_size.
        padding: implicit zero padding on both sides, at most kernel_size // 2.
        ceil_mode: round the output size up.
        count_include_pad: whether padding cells count in the divisor.
        divisor_override: a fixed divisor (non-zero int) for every window.

    Shape:
        input (N, C, H, W) -> output (N, C, H_out, W_out),
        H_out = floor((H + 2*padding - kH) / stride) + 1  (ceil with ceil_mode), W_out likewise.
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool3d(input: Tensor, kernel_size: _size_3, stride: _size_3 | None = None,
               padding: _size_3 = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Average pooling over a 3-D window; see `avg_pool2d`.  Like PyTorch, every input axis
    must be at least as long as the kernel (padding does not count for this check).

    Shape:
        input (N, C, D, H, W) -> output (N, C, D_out, H_out, W_out),
        D_out = floor((D + 2*padding - kD) / stride) + 1  (ceil with ceil_mode), H/W likewise.
    """
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


# ----------------------------------------------------------------------------- adaptive pooling


def _adaptive_avg(fn: str, nd: int, input: Tensor, output_size: Any) -> Tensor:
    out = _adaptive_size(fn, input, nd, output_size)
    _check_float(input, fn)
    return P.AdaptiveAvgPoolNd.apply(input, out_size=out)


def adaptive_avg_pool1d(input: Tensor, output_size: _size_1) -> Tensor:
    """Average pooling to a fixed output length: window i covers [floor(i*L/O), ceil((i+1)*L/O)).

    Shape:
        input (N, C, L) -> output (N, C, O), O = output_size.
    """
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: Tensor, output_size: _size_opt) -> Tensor:
    """Average pooling to a fixed output size (e.g. 1 for global average pooling).

    Window (i, j) covers rows [floor(i*H/Ho), ceil((i+1)*H/Ho)) and the matching columns;
    windows may overlap when the sizes do not divide.

    Shape:
        input (N, C, H, W) -> output (N, C, Ho, Wo), (Ho, Wo) = output_size (None keeps H or W).
    """
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input: Tensor, output_size: _size_opt) -> Tensor:
    """Average pooling to a fixed output size over (D, H, W); see `adaptive_avg_pool2d`.

    Shape:
        input (N, C, D, H, W) -> output (N, C, Do, Ho, Wo) = output_size (None keeps the size).
    """
    return _adaptive_avg("adaptive_avg_pool3d", 3, input, output_size)


def _adaptive_max(fn: str, nd: int, input: Tensor, output_size: Any, return_indices: Any) -> Any:
    out = _adaptive_size(fn, input, nd, output_size)
    with_idx = check_bool(return_indices, "return_indices", fn)
    _check_float(input, fn)
    return P.AdaptiveMaxPoolNd.apply(input, out_size=out, return_indices=with_idx)


def adaptive_max_pool1d(input: Tensor, output_size: _size_1, return_indices: bool = False) -> Any:
    """Max pooling to a fixed output length; windows as in `adaptive_avg_pool1d`.

    Shape:
        input (N, C, L) -> output (N, C, O); indices (flat positions in L) likewise.
    """
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input: Tensor, output_size: _size_opt,
                        return_indices: bool = False) -> Any:
    """Max pooling to a fixed output size; windows as in `adaptive_avg_pool2d`.  Ties go to
    the first maximum in row-major order, as PyTorch.

    Shape:
        input (N, C, H, W) -> output (N, C, Ho, Wo); indices (flat h*W + w) likewise.
    """
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool3d(input: Tensor, output_size: _size_opt,
                        return_indices: bool = False) -> Any:
    """Max pooling to a fixed output size over (D, H, W); see `adaptive_max_pool2d`.

    Shape:
        input (N, C, D, H, W) -> output (N, C, Do, Ho, Wo); indices likewise.
    """
    return _adaptive_max("adaptive_max_pool3d", 3, input, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input: Tensor, output_size: _size_1,
                                     return_indices: bool = True) -> tuple[Tensor, Tensor]:
    """`adaptive_max_pool1d` returning (output, indices)."""
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, True)


def adaptive_max_pool2d_with_indices(input: Tensor, output_size: _size_opt,
                                     return_indices: bool = True) -> tuple[Tensor, Tensor]:
    """`adaptive_max_pool2d` returning (output, indices)."""
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, True)


def adaptive_max_pool3d_with_indices(input: Tensor, output_size: _size_opt,
                                     return_indices: bool = True) -> tuple[Tensor, Tensor]:
    """`adaptive_max_pool3d` returning (output, indices)."""
    return _adaptive_max("adaptive_max_pool3d", 3, input, output_size, True)


# ----------------------------------------------------------------------------- power-average


def _lp_pool(fn: str, nd: int, input: Tensor, norm_type: Any, kernel_size: Any, stride: Any,
             ceil_mode: Any) -> Tensor:
    if isinstance(norm_type, (bool, np.bool_)) or not isinstance(norm_type, (int, float,
                                                                             np.number)):
        raise TypeError(f"{fn}(): argument 'norm_type' must be a number, got "
                        f"{type(norm_type).__name__} {norm_type!r}")
    if norm_type == 0:
        raise ValueError(f"{fn}: norm_type must be non-zero (the result is a 1/norm_type "
                         f"power), got {norm_type!r}")
    kernel, stride_t, _, _, out = _window_args(fn, input, nd, kernel_size, stride, 0, 1,
                                               ceil_mode)
    _check_avg3d_size(fn, nd, input, kernel)
    if math.isinf(norm_type):                       # the p -> +-inf limits: max / min of |x|
        ceil = bool(ceil_mode)
        mp = [max_pool1d, max_pool2d, max_pool3d][nd - 1]
        if norm_type > 0:
            return mp(input.abs(), kernel, stride_t, 0, 1, ceil)
        return -mp(-input.abs(), kernel, stride_t, 0, 1, ceil)
    return P.LPPoolNd.apply(input, norm_type=norm_type, kernel_size=kernel, stride=stride_t,
                            out_size=out, out_dtype=dtypes.get_default_dtype())


def lp_pool1d(input: Tensor, norm_type: float, kernel_size: int, stride: _size_1 | None = None,
              ceil_mode: bool = False) -> Tensor:
    """Power-average pooling: y = (sum over the window of x^p)^(1/p), p = norm_type.

    Computed as PyTorch does: (K * avg_pool1d(x^p))^(1/p) with no padding (so a ceil_mode
    window that overhangs the input is scaled up by K / its real length); the gradient is 0
    where the window's sum is 0.  p = inf gives max pooling of |x|.

    Shape:
        input (N, C, L) -> output (N, C, L_out),
        L_out = floor((L - K) / stride) + 1  (ceil with ceil_mode)
    """
    return _lp_pool("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size: _size_2,
              stride: _size_2 | None = None, ceil_mode: bool = False) -> Tensor:
    """Power-average pooling over a 2-D window: y = (sum over the window of x^p)^(1/p).

    Computed as PyTorch does: (kH*kW * avg_pool2d(x^p))^(1/p), no padding; the gradient is 0
    where the window's sum is 0.  p = 1 is sum pooling, p = inf max pooling of |x|.

    Shape:
        input (N, C, H, W) -> output (N, C, H_out, W_out),
        H_out = floor((H - kH) / stride) + 1  (ceil with ceil_mode), W_out likewise.
    """
    return _lp_pool("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input: Tensor, norm_type: float, kernel_size: _size_3,
              stride: _size_3 | None = None, ceil_mode: bool = False) -> Tensor:
    """Power-average pooling over a 3-D window; see `lp_pool2d`.

    Shape:
        input (N, C, D, H, W) -> output (N, C, D_out, H_out, W_out),
        D_out = floor((D - kD) / stride) + 1  (ceil with ceil_mode), H/W likewise.
    """
    return _lp_pool("lp_pool3d", 3, input, norm_type, kernel_size, stride, ceil_mode)
