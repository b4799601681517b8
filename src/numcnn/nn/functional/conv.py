"""Convolutions, transposed convolutions, unfold and fold, with torch.nn.functional's signatures.

Each wrapper checks every argument before any work and raises the error type PyTorch raises for
the same mistake (RuntimeError for bad values and shapes, TypeError for wrong types), with a
message naming the argument, the value given and what is allowed.  The math lives in
`numcnn.ops.conv`.

Axis legend: N batch, C_in/C_out channels, G groups, (D, H, W) spatial sizes, k kernel size,
s stride, p padding, d dilation, op output_padding.
"""

from __future__ import annotations

from typing import Any, Union

from numcnn.nn.functional._checks import check_tensor, is_int, ntuple
from numcnn.ops.conv import (
    ConvNd,
    ConvTransposeNd,
    Fold,
    Unfold,
    conv_output_size,
    conv_transpose_output_size,
    same_padding,
)
from numcnn.tensor import Tensor

__all__ = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "unfold",
    "fold",
]

_size_1_t = Union[int, tuple[int]]
_size_2_t = Union[int, tuple[int, int]]
_size_3_t = Union[int, tuple[int, int, int]]
_size_any_t = Union[int, tuple[int, ...]]


# ----------------------------------------------------------------------------- argument checks


def _positive(values: tuple[int, ...], name: str, fn: str) -> None:
    if any(v <= 0 for v in values):
        raise RuntimeError(f"{fn}(): non-positive {name} is not supported: got {name}="
                           f"{values}, every entry must be >= 1")


def _non_negative(values: tuple[int, ...], name: str, fn: str) -> None:
    if any(v < 0 for v in values):
        raise RuntimeError(f"{fn}(): negative {name} is not supported: got {name}={values}, "
                           f"every entry must be >= 0")


def _check_dtypes(input: Tensor, weight: Tensor, bias: Tensor | None, fn: str) -> None:
    if input.dtype != weight.dtype:
        raise RuntimeError(f"{fn}(): input type ({input.dtype}) and weight type "
                           f"({weight.dtype}) should be the same")
    if bias is not None and bias.dtype != input.dtype:
        raise RuntimeError(f"{fn}(): input type ({input.dtype}) and bias type ({bias.dtype}) "
                           f"should be the same")


def _check_ranks(input: Tensor, weight: Tensor, nd: int, fn: str) -> None:
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"{fn}(): expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input, but got "
            f"input of size: {list(input.shape)}"
        )
    if weight.ndim != nd + 2:
        raise RuntimeError(
            f"{fn}(): expected weight to be {nd + 2}-D (out_channels, in_channels/groups, "
            f"{nd} kernel sizes), but got weight of size {list(weight.shape)}"
        )


def _check_groups(groups: Any, fn: str) -> int:
    if not is_int(groups):
        raise TypeError(f"{fn}(): argument 'groups' must be an int, not "
                        f"{type(groups).__name__} ({groups!r})")
    if groups <= 0:
        raise RuntimeError(f"{fn}(): non-positive groups is not supported: got groups={groups}")
    return int(groups)


def _check_bias(bias: Tensor | None, n: int, weight: Tensor, fn: str) -> None:
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != n):
        raise RuntimeError(
            f"{fn}(): given weight of size {list(weight.shape)}, expected bias to be 1-dimensional "
            f"with {n} elements, but got bias of size {list(bias.shape)} instead"
        )


def _fmt(sizes: Any) -> str:
    return " x ".join(str(s) for s in sizes)


# ----------------------------------------------------------------------------- convolution


def conv_pads(padding: Any, kernel_size: tuple[int, ...], stride: tuple[int, ...],
              dilation: tuple[int, ...], fn: str) -> tuple[tuple[int, int], ...]:
    """A convolution's `padding` argument as (lo, hi) per spatial dim: an int or tuple pads
    both sides, 'valid' nothing, 'same' keeps the size (stride 1 only; `same_padding`)."""
    nd = len(kernel_size)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            if any(v != 1 for v in stride):
                raise RuntimeError(f"{fn}(): padding='same' is not supported for strided "
                                   f"convolutions: got stride={stride}, expected all 1")
            return tuple(same_padding(k, dd) for k, dd in zip(kernel_size, dilation))
        raise RuntimeError(f"{fn}(): invalid padding string {padding!r}, expected 'same' "
                           f"or 'valid'")
    p = ntuple(padding, nd, "padding", fn)
    _non_negative(p, "padding", fn)
    return tuple((v, v) for v in p)


def _conv(input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any, padding: Any,
          dilation: Any, groups: Any, nd: int) -> Tensor:
    fn = f"conv{nd}d"
    check_tensor(input, "input", fn)
    check_tensor(weight, "weight", fn)
    check_tensor(bias, "bias", fn, optional=True)
    _check_ranks(input, weight, nd, fn)
    s = ntuple(stride, nd, "stride", fn)
    d = ntuple(dilation, nd, "dilation", fn)
    g = _check_groups(groups, fn)
    _positive(s, "stride", fn)
    _positive(d, "dilation", fn)
    K = tuple(weight.shape[2:])
    pads = conv_pads(padding, K, s, d, fn)
    C_out, C_in = weight.shape[0], input.shape[-nd - 1]
    if C_out < 1 or C_out % g:
        raise RuntimeError(
            f"{fn}(): given groups={g}, expected weight to be at least {g} and divisible by {g} "
            f"at dimension 0, but got weight of size {list(weight.shape)} instead"
        )
    if C_in != weight.shape[1] * g:
        raise RuntimeError(
            f"{fn}(): given groups={g}, weight of size {list(weight.shape)}, expected "
            f"input{list(input.shape)} to have {weight.shape[1] * g} channels, but got {C_in} "
            f"channels instead"
        )
    if any(k <= 0 for k in K):
        raise RuntimeError(f"{fn}(): kernel size must be positive, but got weight of size "
                           f"{list(weight.shape)}")
    _check_bias(bias, C_out, weight, fn)
    _check_dtypes(input, weight, bias, fn)
    S = input.shape[-nd:]
    padded = [n + lo + hi for n, (lo, hi) in zip(S, pads)]
    reach = [dd * (k - 1) + 1 for k, dd in zip(K, d)]
    if any(r > q for r, q in zip(reach, padded)):
        raise RuntimeError(
            f"{fn}(): calculated padded input size per channel: ({_fmt(padded)}). Kernel size "
            f"(dilated): ({_fmt(reach)}). Kernel size can't be greater than actual input size"
        )
    return ConvNd.apply(input, weight, bias, stride=s, padding=pads, dilation=d, groups=g)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _size_1_t = 1,
           padding: _size_1_t | str = 0, dilation: _size_1_t = 1, groups: int = 1) -> Tensor:
    """1-D convolution (cross-correlation) over an input signal of several channels.

    y[n, o, i] = bias[o] + sum_{c, a} weight[o, c, a] * x_pad[n, g*C_in/G + c, i*s + a*d]

    Args:
        input: (N, C_in, W) or unbatched (C_in, W).
        weight: (C_out, C_in/groups, kW).
        bias: (C_out,) or None.
        stride, dilation: int or 1-tuple, >= 1.
        padding: int or 1-tuple >= 0 (zeros on both sides), or 'valid' (none) or 'same'
            (output size = input size, stride 1 only; an odd total puts the extra zero right).
        groups: splits channels into groups convolved separately; divides C_in and C_out.

    Shape:
        input (N, C_in, W) -> output (N, C_out, W_out),
        W_out = floor((W + 2*padding - dilation*(kW - 1) - 1) / stride) + 1
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _size_2_t = 1,
           padding: _size_2_t | str = 0, dilation: _size_2_t = 1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation) over an input image of several channels.

    y[n, o, i, j] = bias[o] + sum_{c, a, b} weight[o, c, a, b] * x_pad[n, g*C_in/G + c,
                                                                   i*s_h + a*d_h, j*s_w + b*d_w]

    Args:
        input: (N, C_in, H, W) or unbatched (C_in, H, W).
        weight: (C_out, C_in/groups, kH, kW).
        bias: (C_out,) or None.
        stride, dilation: int or pair, >= 1.
        padding: int or pair >= 0 (zeros on both sides), or 'valid' (none) or 'same'
            (output size = input size, stride 1 only; an odd total puts the extra zero
            right/bottom, as PyTorch does).
        groups: splits channels into groups convolved separately (groups = C_in: depthwise).

    Shape:
        input (N, C_in, H, W) -> output (N, C_out, H_out, W_out),
        H_out = floor((H + 2*padding[0] - dilation[0]*(kH - 1) - 1) / stride[0]) + 1, same for W.
        Lecture form without dilation: (N - F + 2P) / S + 1.
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2)


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _size_3_t = 1,
           padding: _size_3_t | str = 0, dilation: _size_3_t = 1, groups: int = 1) -> Tensor:
    """3-D convolution (cross-correlation) over an input volume of several channels.

    y[n, o, i, j, l] = bias[o] + sum_{c, a, b, e} weight[o, c, a, b, e] *
                       x_pad[n, g*C_in/G + c, i*s_d + a*d_d, j*s_h + b*d_h, l*s_w + e*d_w]

    Args:
        input: (N, C_in, D, H, W) or unbatched (C_in, D, H, W).
        weight: (C_out, C_in/groups, kD, kH, kW).
        bias: (C_out,) or None.
        stride, dilation: int or triple, >= 1.
        padding: int or triple >= 0, or 'valid' or 'same' (stride 1 only).
        groups: splits channels into groups convolved separately.

    Shape:
        input (N, C_in, D, H, W) -> output (N, C_out, D_out, H_out, W_out),
        D_out = floor((D + 2*padding[0] - dilation[0]*(kD - 1) - 1) / stride[0]) + 1, same for
        H and W.
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 3)


# ----------------------------------------------------------------------------- transposed


def _conv_transpose(input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any,
                    padding: Any, output_padding: Any, groups: Any, dilation: Any,
                    nd: int) -> Tensor:
    fn = f"conv_transpose{nd}d"
    check_tensor(input, "input", fn)
    check_tensor(weight, "weight", fn)
    check_tensor(bias, "bias", fn, optional=True)
    if isinstance(padding, str):
        raise TypeError(f"{fn}(): argument 'padding' must be an int or a tuple of {nd} ints, "
                        f"not str ({padding!r}); 'same'/'valid' exist only for convolutions")
    _check_ranks(input, weight, nd, fn)
    s = ntuple(stride, nd, "stride", fn)
    p = ntuple(padding, nd, "padding", fn)
    op = ntuple(output_padding, nd, "output_padding", fn)
    d = ntuple(dilation, nd, "dilation", fn)
    g = _check_groups(groups, fn)
    _positive(s, "stride", fn)
    _positive(d, "dilation", fn)
    _non_negative(p, "padding", fn)
    _non_negative(op, "output_padding", fn)
    if any(o >= ss and o >= dd for o, ss, dd in zip(op, s, d)):
        raise RuntimeError(f"{fn}(): output padding must be smaller than either stride or "
                           f"dilation, but got output_padding={op}, stride={s}, dilation={d}")
    C_in = input.shape[-nd - 1]
    if weight.shape[0] < 1 or weight.shape[0] % g:
        raise RuntimeError(
            f"{fn}(): given groups={g}, expected weight to be at least {g} and divisible by {g} "
            f"at dimension 0, but got weight of size {list(weight.shape)} instead"
        )
    if C_in != weight.shape[0]:
        raise RuntimeError(
            f"{fn}(): given transposed=1, weight of size {list(weight.shape)}, expected "
            f"input{list(input.shape)} to have {weight.shape[0]} channels, but got {C_in} "
            f"channels instead"
        )
    K = tuple(weight.shape[2:])
    if any(k <= 0 for k in K):
        raise RuntimeError(f"{fn}(): kernel size must be positive, but got weight of size "
                           f"{list(weight.shape)}")
    _check_bias(bias, weight.shape[1] * g, weight, fn)
    _check_dtypes(input, weight, bias, fn)
    S = input.shape[-nd:]
    out = [conv_transpose_output_size(S[i], K[i], s[i], p[i], op[i], d[i]) for i in range(nd)]
    if any(o <= 0 for o in out):
        raise RuntimeError(f"{fn}(): given input size per channel: ({_fmt(S)}). Calculated "
                           f"output size per channel: ({_fmt(out)}). Output size is too small")
    return ConvTransposeNd.apply(input, weight, bias, stride=s, padding=p, output_padding=op,
                                 dilation=d, groups=g)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: _size_1_t = 1, padding: _size_1_t = 0,
                     output_padding: _size_1_t = 0, groups: int = 1,
                     dilation: _size_1_t = 1) -> Tensor:
    """1-D transposed convolution (the gradient of conv1d with respect to its input).

    Each input value scatters a scaled copy of the kernel:
    y[n, g*C_out/G + o, i*s + a*d - p] += x[n, g*C_in/G + c, i] * weight[g*C_in/G + c, o, a]

    Args:
        input: (N, C_in, W) or (C_in, W).
        weight: (C_in, C_out/groups, kW).
        bias: (C_out,) or None.
        stride, dilation: >= 1.  padding: >= 0, removed from both ends of the output.
        output_padding: extra size added at the end; must be < stride or < dilation.
        groups: divides C_in and C_out.

    Shape:
        input (N, C_in, W) -> output (N, C_out, W_out),
        W_out = (W - 1)*stride - 2*padding + dilation*(kW - 1) + output_padding + 1
    """
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                           dilation, 1)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: _size_2_t = 1, padding: _size_2_t = 0,
                     output_padding: _size_2_t = 0, groups: int = 1,
                     dilation: _size_2_t = 1) -> Tensor:
    """2-D transposed convolution ("deconvolution"; conv2d's gradient w.r.t. its input).

    y[n, g*C_out/G + o, i*s_h + a*d_h - p_h, j*s_w + b*d_w - p_w]
        += x[n, g*C_in/G + c, i, j] * weight[g*C_in/G + c, o, a, b],   plus bias[o]

    Args:
        input: (N, C_in, H, W) or (C_in, H, W).
        weight: (C_in, C_out/groups, kH, kW).
        bias: (C_out,) or None.
        stride, dilation: >= 1.  padding: >= 0, removed from both ends of each output dim.
        output_padding: extra rows/columns at the bottom/right; < stride or < dilation.
        groups: divides C_in and C_out.

    Shape:
        input (N, C_in, H, W) -> output (N, C_out, H_out, W_out),
        H_out = (H - 1)*stride[0] - 2*padding[0] + dilation[0]*(kH - 1) + output_padding[0] + 1
    """
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                           dilation, 2)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: _size_3_t = 1, padding: _size_3_t = 0,
                     output_padding: _size_3_t = 0, groups: int = 1,
                     dilation: _size_3_t = 1) -> Tensor:
    """3-D transposed convolution (conv3d's gradient w.r.t. its input).

    y[n, g*C_out/G + o, i*s + a*d - p (per dim)] += x[n, g*C_in/G + c, i] * weight[g*C_in/G + c,
    o, a], plus bias[o], with i and a running over (depth, height, width).

    Args:
        input: (N, C_in, D, H, W) or (C_in, D, H, W).
        weight: (C_in, C_out/groups, kD, kH, kW).
        bias: (C_out,) or None.
        stride, dilation: >= 1.  padding: >= 0.  output_padding: < stride or < dilation.
        groups: divides C_in and C_out.

    Shape:
        input (N, C_in, D, H, W) -> output (N, C_out, D_out, H_out, W_out),
        D_out = (D - 1)*stride[0] - 2*padding[0] + dilation[0]*(kD - 1) + output_padding[0] + 1
    """
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                           dilation, 3)


# ----------------------------------------------------------------------------- unfold / fold


def _block_args(kernel_size: Any, dilation: Any, padding: Any, stride: Any,
                fn: str) -> tuple[tuple[int, ...], ...]:
    args = []
    for name, v in (("kernel_size", kernel_size), ("dilation", dilation), ("padding", padding),
                    ("stride", stride)):
        if isinstance(v, (tuple, list)) and len(v) != 2:
            raise RuntimeError(f"{fn}(): it is expected {name} equals to 2, but got size "
                               f"{len(v)} ({v!r})")
        args.append(ntuple(v, 2, name, fn))
    k, d, p, s = args
    for name, v in (("kernel size", k), ("dilation", d), ("stride", s)):
        if any(x <= 0 for x in v):
            raise RuntimeError(f"{fn}(): {name} should be greater than zero, but got {v}")
    if any(x < 0 for x in p):
        raise RuntimeError(f"{fn}(): padding should be non-negative, but got {p}")
    return k, d, p, s


def unfold(input: Tensor, kernel_size: _size_any_t, dilation: _size_any_t = 1,
           padding: _size_any_t = 0, stride: _size_any_t = 1) -> Tensor:
    """Extract sliding local blocks from a batched image (im2col in PyTorch's layout).

    out[n, c*kH*kW + a*kW + b, i*W_out + j] = x_pad[n, c, i*s_h + a*d_h, j*s_w + b*d_w]

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size, dilation, padding, stride: int or pair (2-D only, as in PyTorch).

    Shape:
        input (N, C, H, W) -> output (N, C*kH*kW, L),  L = H_out * W_out,
        H_out = floor((H + 2*padding - dilation*(kH - 1) - 1) / stride) + 1
    """
    fn = "unfold"
    check_tensor(input, "input", fn)
    if input.ndim not in (3, 4):
        raise RuntimeError(f"{fn}(): expected 3D or 4D (batch mode) tensor for input, but got "
                           f"input of size {list(input.shape)}")
    k, d, p, s = _block_args(kernel_size, dilation, padding, stride, fn)
    S = input.shape[-2:]
    So = [conv_output_size(S[i], k[i], s[i], p[i], d[i]) for i in range(2)]
    if any(o < 1 for o in So):
        raise RuntimeError(
            f"{fn}(): given input with spatial size {tuple(S)}, kernel_size={k}, dilation={d}, "
            f"padding={p}, calculated shape of the array of sliding blocks as {tuple(So)}, but "
            f"its components must be at least one"
        )
    return Unfold.apply(input, kernel_size=k, dilation=d, padding=p, stride=s)


def fold(input: Tensor, output_size: _size_any_t, kernel_size: _size_any_t,
         dilation: _size_any_t = 1, padding: _size_any_t = 0,
         stride: _size_any_t = 1) -> Tensor:
    """Combine an array of sliding local blocks into an image, summing overlaps (col2im).

    out[n, c, i*s_h + a*d_h - p_h, j*s_w + b*d_w - p_w] += x[n, c*kH*kW + a*kW + b, i*W_o + j]

    Args:
        input: (N, C*kH*kW, L) or (C*kH*kW, L).
        output_size: (H, W) of the result.
        kernel_size, dilation, padding, stride: int or pair, as for `unfold`.

    Shape:
        input (N, C*kH*kW, L) -> output (N, C, H, W),  L must equal H_o * W_o where
        H_o = floor((H + 2*padding - dilation*(kH - 1) - 1) / stride) + 1
    """
    fn = "fold"
    check_tensor(input, "input", fn)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"{fn}(): expected 2D or 3D (batch mode) tensor for input, but got "
                           f"input of size {list(input.shape)}")
    if isinstance(output_size, (tuple, list)) and len(output_size) != 2:
        raise RuntimeError(f"{fn}(): it is expected output_size equals to 2, but got size "
                           f"{len(output_size)}")
    out = ntuple(output_size, 2, "output_size", fn)
    k, d, p, s = _block_args(kernel_size, dilation, padding, stride, fn)
    CK, L = input.shape[-2], input.shape[-1]
    kk = k[0] * k[1]
    if CK % kk:
        raise RuntimeError(f"{fn}(): expected size of input's dimension {input.ndim - 2} to be "
                           f"divisible by the product of kernel_size, but got "
                           f"input.size({input.ndim - 2})={CK} and kernel_size={k}")
    So = [conv_output_size(out[i], k[i], s[i], p[i], d[i]) for i in range(2)]
    if any(o < 1 for o in So) or So[0] * So[1] != L:
        raise RuntimeError(
            f"{fn}(): given output_size={out}, kernel_size={k}, dilation={d}, padding={p}, "
            f"stride={s}, expected size of input's dimension {input.ndim - 1} to match the "
            f"calculated number of sliding blocks {So[0]} * {So[1]} = {So[0] * So[1]}, but got "
            f"input.size({input.ndim - 1})={L}"
        )
    return Fold.apply(input, output_size=out, kernel_size=k, dilation=d, padding=p, stride=s)
