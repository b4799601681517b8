"""Convolution layers mirroring torch.nn: Conv1d/2d/3d and ConvTranspose1d/2d/3d.

Parameters have PyTorch's names and shapes:
    Conv:          weight (C_out, C_in/groups, *kernel_size),  bias (C_out,)
    ConvTranspose: weight (C_in, C_out/groups, *kernel_size),  bias (C_out,)
and PyTorch's default initialisation: weight ~ kaiming_uniform_(a=sqrt(5)), which is
U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), with
fan_in = weight.shape[1] * prod(kernel_size).

Parameter count of a convolution (lecture: N * (k1*k2*C + 1)):
    C_out * (C_in/groups * prod(kernel_size) + 1)   e.g. Conv2d(3, 10, 5) has 760.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from numcnn import dtypes
from numcnn.nn import functional as F
from numcnn.nn import init
from numcnn.nn.module import Module
from numcnn.nn.parameter import Parameter
from numcnn.tensor import Tensor

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
           "ConvTranspose3d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _ntuple(value: Any, n: int) -> tuple[Any, ...]:
    """PyTorch's `_ntuple`: a sequence is kept as it is, anything else repeated n times."""
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value,) * n


class _ConvNd(Module):
    """Shared construction, initialisation and repr of the convolution layers."""

    _nd = 0
    _fn: Callable[..., Tensor]

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any,
                 padding: Any, dilation: Any, transposed: bool, output_padding: Any,
                 groups: int, bias: bool, padding_mode: str, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        nd = self._nd
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"{name} must be a non-negative int, got {v!r}")
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups <= 0:
            raise ValueError(f"groups must be a positive integer, got groups={groups!r}")
        if in_channels % groups != 0:
            raise ValueError(f"in_channels must be divisible by groups, got in_channels="
                             f"{in_channels} and groups={groups}")
        if out_channels % groups != 0:
            raise ValueError(f"out_channels must be divisible by groups, got out_channels="
                             f"{out_channels} and groups={groups}")
        kernel_size = _ntuple(kernel_size, nd)
        stride = _ntuple(stride, nd)
        dilation = _ntuple(dilation, nd)
        if isinstance(padding, str):
            if transposed:
                raise ValueError(f"padding={padding!r} is not supported by "
                                 f"{type(self).__name__}; give an int or a tuple of ints")
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 f"{{'same', 'valid'}}")
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError(f"padding='same' is not supported for strided convolutions "
                                 f"(got stride={stride})")
        else:
            padding = _ntuple(padding, nd)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {set(_PADDING_MODES)}, but got "
                             f"padding_mode={padding_mode!r}")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = _ntuple(output_padding, nd)
        self.groups = int(groups)
        self.padding_mode = padding_mode
        # F.pad's argument for the non-zeros padding modes: last dim first, (lo, hi) each
        if isinstance(padding, str):
            pairs = [(0, 0)] * nd
            if padding == "same":
                pairs = [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
                         for k, d in zip(kernel_size, dilation)]
        else:
            pairs = [(p, p) for p in padding]
        self._reversed_padding_repeated_twice = [v for pair in reversed(pairs) for v in pair]
        dt = dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)
        if transposed:
            shape = (self.in_channels, self.out_channels // self.groups, *kernel_size)
        else:
            shape = (self.out_channels, self.in_channels // self.groups, *kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=dt))
        if bias:
            self.bias = Parameter(np.empty((self.out_channels,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """weight ~ kaiming_uniform_(a=sqrt(5)); bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if isinstance(self.padding, str) or self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         False, 0, groups, bias, padding_mode, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        if self.padding_mode != "zeros":
            return type(self)._fn(F.pad(input, self._reversed_padding_repeated_twice,
                                        mode=self.padding_mode),
                                  self.weight, self.bias, self.stride, 0, self.dilation,
                                  self.groups)
        return type(self)._fn(input, self.weight, self.bias, self.stride, self.padding,
                              self.dilation, self.groups)


class Conv1d(_Conv):
    """1-D convolution layer: y[n, o, i] = b[o] + sum_{c, a} w[o, c, a] x_pad[n, c, i*s + a*d].

    Args:
        in_channels, out_channels: C_in, C_out (both divisible by `groups`).
        kernel_size, stride, dilation: int or 1-tuple.
        padding: int or 1-tuple, or 'same' / 'valid'.
        groups: channel groups convolved separately (C_in for depthwise).
        bias: learn an additive bias.
        padding_mode: 'zeros', 'reflect', 'replicate' or 'circular'.
        device: accepted for PyTorch compatibility ("cpu" only).
        dtype: parameter dtype (default: numcnn's default dtype).

    Attributes:
        weight: (C_out, C_in/groups, kW).  bias: (C_out,) or None.

    Shape:
        input (N, C_in, W) or (C_in, W) -> output (N, C_out, W_out),
        W_out = floor((W + 2*padding - dilation*(kW - 1) - 1) / stride) + 1
    """

    _nd = 1
    _fn = staticmethod(F.conv1d)


class Conv2d(_Conv):
    """2-D convolution layer: a bank of C_out learned filters slid over the image.

    y[n, o, i, j] = b[o] + sum_{c, a, b} w[o, c, a, b] x_pad[n, c, i*s_h + a*d_h, j*s_w + b*d_w]

    Args:
        in_channels, out_channels: C_in, C_out (both divisible by `groups`).
        kernel_size, stride, dilation: int or pair.
        padding: int or pair, or 'same' (keep the size; stride 1) / 'valid' (no padding).
        groups: channel groups convolved separately (groups = C_in: depthwise).
        bias: learn an additive bias.
        padding_mode: 'zeros', 'reflect', 'replicate' or 'circular'.
        device: accepted for PyTorch compatibility ("cpu" only).
        dtype: parameter dtype (default: numcnn's default dtype).

    Attributes:
        weight: (C_out, C_in/groups, kH, kW).  bias: (C_out,) or None.
        Conv2d(3, 10, 5) has 10 * (5*5*3 + 1) = 760 parameters.

    Shape:
        input (N, C_in, H, W) or (C_in, H, W) -> output (N, C_out, H_out, W_out),
        H_out = floor((H + 2*padding[0] - dilation[0]*(kH - 1) - 1) / stride[0]) + 1, same for W
    """

    _nd = 2
    _fn = staticmethod(F.conv2d)


class Conv3d(_Conv):
    """3-D convolution layer over volumes (or video: time, height, width).

    y[n, o, i] = b[o] + sum_{c, a} w[o, c, a] x_pad[n, c, i*s + a*d],  i and a in 3-D.

    Args:
        in_channels, out_channels: C_in, C_out (both divisible by `groups`).
        kernel_size, stride, dilation: int or triple.
        padding: int or triple, or 'same' / 'valid'.
        groups, bias, padding_mode, device, dtype: as for Conv2d.

    Attributes:
        weight: (C_out, C_in/groups, kD, kH, kW).  bias: (C_out,) or None.

    Shape:
        input (N, C_in, D, H, W) or (C_in, D, H, W) -> output (N, C_out, D_out, H_out, W_out),
        D_out = floor((D + 2*padding[0] - dilation[0]*(kD - 1) - 1) / stride[0]) + 1, same for
        H and W
    """

    _nd = 3
    _fn = staticmethod(F.conv3d)


class _ConvTranspose(_ConvNd):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}'
                             f", got padding_mode={padding_mode!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         True, output_padding, groups, bias, padding_mode, device, dtype)

    def _output_padding(self, input: Tensor, output_size: Sequence[int] | None) -> tuple[int, ...]:
        """output_padding that makes the output exactly `output_size` (PyTorch's rule)."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        non_spatial = 2 if input.ndim == nd + 2 else 1
        output_size = [int(v) for v in output_size]
        if len(output_size) == non_spatial + nd:
            output_size = output_size[non_spatial:]
        if len(output_size) != nd:
            raise ValueError(f"ConvTranspose{nd}D: for {input.ndim}D input, output_size must "
                             f"have {nd} or {non_spatial + nd} elements (got "
                             f"{len(output_size)})")
        S = input.shape[non_spatial:]
        lo = [(S[i] - 1) * self.stride[i] - 2 * self.padding[i]
              + self.dilation[i] * (self.kernel_size[i] - 1) + 1 for i in range(nd)]
        hi = [lo[i] + self.stride[i] - 1 for i in range(nd)]
        if any(not lo[i] <= output_size[i] <= hi[i] for i in range(nd)):
            raise ValueError(f"requested an output size of {output_size}, but valid sizes range "
                             f"from {lo} to {hi} (for an input of {list(S)})")
        return tuple(output_size[i] - lo[i] for i in range(nd))

    def forward(self, input: Tensor, output_size: Sequence[int] | None = None) -> Tensor:
        op = self._output_padding(input, output_size)
        return type(self)._fn(input, self.weight, self.bias, self.stride, self.padding, op,
                              self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution layer (the gradient of Conv1d w.r.t. its input).

    Args:
        in_channels, out_channels: C_in, C_out (both divisible by `groups`).
        kernel_size, stride, padding, output_padding, dilation: int or 1-tuple.
        groups, bias, device, dtype: as for Conv1d; padding_mode must be 'zeros'.

    Attributes:
        weight: (C_in, C_out/groups, kW).  bias: (C_out,) or None.

    Shape:
        input (N, C_in, W) -> output (N, C_out, W_out),
        W_out = (W - 1)*stride - 2*padding + dilation*(kW - 1) + output_padding + 1;
        forward(input, output_size) picks output_padding to hit output_size.
    """

    _nd = 1
    _fn = staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution layer ("deconvolution", learned upsampling).

    Args:
        in_channels, out_channels: C_in, C_out (both divisible by `groups`).
        kernel_size, stride, padding, output_padding, dilation: int or pair.
        groups, bias, device, dtype: as for Conv2d; padding_mode must be 'zeros'.

    Attributes:
        weight: (C_in, C_out/groups, kH, kW).  bias: (C_out,) or None.

    Shape:
        input (N, C_in, H, W) -> output (N, C_out, H_out, W_out),
        H_out = (H - 1)*stride[0] - 2*padding[0] + dilation[0]*(kH - 1) + output_padding[0] + 1;
        forward(input, output_size) picks output_padding to hit output_size.
    """

    _nd = 2
    _fn = staticmethod(F.conv_transpose2d)


class ConvTranspose3d(_ConvTranspose):
    """3-D transposed convolution layer.

    Args:
        in_channels, out_channels: C_in, C_out (both divisible by `groups`).
        kernel_size, stride, padding, output_padding, dilation: int or triple.
        groups, bias, device, dtype: as for Conv3d; padding_mode must be 'zeros'.

    Attributes:
        weight: (C_in, C_out/groups, kD, kH, kW).  bias: (C_out,) or None.

    Shape:
        input (N, C_in, D, H, W) -> output (N, C_out, D_out, H_out, W_out),
        D_out = (D - 1)*stride[0] - 2*padding[0] + dilation[0]*(kD - 1) + output_padding[0] + 1
    """

    _nd = 3
    _fn = staticmethod(F.conv_transpose3d)
