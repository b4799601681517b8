"""Pooling layers mirroring torch.nn: max, average, adaptive and power-average pooling.

Axis legend: N batch, C channels, D/H/W depth/height/width (L for 1-D).  Pooling layers own no
parameters; each stores its arguments under PyTorch's attribute names and calls the matching
`numcnn.nn.functional` function, which validates them and documents the output-size formula.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numcnn.nn.functional.pool as F
from numcnn.nn.module import Module
from numcnn.tensor import Tensor

__all__ = [
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "LPPool1d",
    "LPPool2d",
    "LPPool3d",
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "MaxUnpool1d",
    "MaxUnpool2d",
    "MaxUnpool3d",
]

_size = Any    # an int or a tuple of ints, as torch's _size_any_t


def _ntuple(value: Any, n: int) -> tuple[Any, ...]:
    """torch's _single/_pair/_triple: an int repeated n times; a sequence kept as a tuple."""
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value,) * n


# ----------------------------------------------------------------------------- max pooling


class _MaxPoolNd(Module):
    _fn: Any = None

    def __init__(self, kernel_size: _size, stride: _size | None = None, padding: _size = 0,
                 dilation: _size = 1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Any:
        return type(self)._fn(input, self.kernel_size, self.stride, self.padding, self.dilation,
                              ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling; see `numcnn.nn.functional.max_pool1d`.

    Shape:
        (N, C, L) -> (N, C, L_out),
        L_out = floor((L + 2*padding - dilation*(kernel_size-1) - 1) / stride) + 1
        (ceil with ceil_mode).
    """

    _fn = staticmethod(F.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """2-D max pooling, the lecture's F x F window with stride S; see
    `numcnn.nn.functional.max_pool2d`.

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out),
        H_out = floor((H + 2*padding - dilation*(kH-1) - 1) / stride) + 1  (ceil with ceil_mode),
        W_out likewise.
    """

    _fn = staticmethod(F.max_pool2d)


class MaxPool3d(_MaxPoolNd):
    """3-D max pooling; see `numcnn.nn.functional.max_pool3d`.

    Shape:
        (N, C, D, H, W) -> (N, C, D_out, H_out, W_out), each as in `MaxPool2d`.
    """

    _fn = staticmethod(F.max_pool3d)


class _MaxUnpoolNd(Module):
    _fn: Any = None
    _n = 0

    def __init__(self, kernel_size: _size, stride: _size | None = None,
                 padding: _size = 0) -> None:
        super().__init__()
        n = type(self)._n
        self.kernel_size = _ntuple(kernel_size, n)
        self.stride = _ntuple(stride if stride is not None else kernel_size, n)
        self.padding = _ntuple(padding, n)

    def forward(self, input: Tensor, indices: Tensor,
                output_size: Sequence[int] | None = None) -> Tensor:
        return type(self)._fn(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """Partial inverse of `MaxPool1d`: zeros except at `indices`.

    Shape:
        (N, C, L_in) -> (N, C, L_out), L_out = (L_in - 1)*stride - 2*padding + kernel_size
        (or `output_size`).
    """

    _fn = staticmethod(F.max_unpool1d)
    _n = 1


class MaxUnpool2d(_MaxUnpoolNd):
    """Partial inverse of `MaxPool2d`: zeros except at `indices`.

    Shape:
        (N, C, H_in, W_in) -> (N, C, H_out, W_out), H_out = (H_in - 1)*stride - 2*padding + kH
        (W_out likewise, or `output_size`).
    """

    _fn = staticmethod(F.max_unpool2d)
    _n = 2


class MaxUnpool3d(_MaxUnpoolNd):
    """Partial inverse of `MaxPool3d`: zeros except at `indices`.

    Shape:
        (N, C, D_in, H_in, W_in) -> (N, C, D_out, H_out, W_out), each as in `MaxUnpool2d`.
    """

    _fn = staticmethod(F.max_unpool3d)
    _n = 3


# ----------------------------------------------------------------------------- average pooling


class AvgPool1d(Module):
    """1-D average pooling; see `numcnn.nn.functional.avg_pool1d`.

    Shape:
        (N, C, L) -> (N, C, L_out), L_out = floor((L + 2*padding - K) / stride) + 1
        (ceil with ceil_mode).
    """

    def __init__(self, kernel_size: _size, stride: _size | None = None, padding: _size = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size = _ntuple(kernel_size, 1)
        self.stride = _ntuple(stride if stride is not None else kernel_size, 1)
        self.padding = _ntuple(padding, 1)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AvgPoolNd(Module):
    _fn: Any = None

    def __init__(self, kernel_size: _size, stride: _size | None = None, padding: _size = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                              self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """2-D average pooling; see `numcnn.nn.functional.avg_pool2d` for the divisor rules.

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out), H_out = floor((H + 2*padding - kH) / stride) + 1
        (ceil with ceil_mode), W_out likewise.
    """

    _fn = staticmethod(F.avg_pool2d)


class AvgPool3d(_AvgPoolNd):
    """3-D average pooling; see `numcnn.nn.functional.avg_pool3d`.

    Shape:
        (N, C, D, H, W) -> (N, C, D_out, H_out, W_out), each as in `AvgPool2d`.
    """

    _fn = staticmethod(F.avg_pool3d)


# ----------------------------------------------------------------------------- adaptive pooling


class _AdaptiveAvgPoolNd(Module):
    _fn: Any = None

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Average pooling to a fixed length: window i = [floor(i*L/O), ceil((i+1)*L/O)).

    Shape:
        (N, C, L) -> (N, C, O), O = output_size.
    """

    _fn = staticmethod(F.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Average pooling to a fixed size (output_size=1: global average pooling).

    Shape:
        (N, C, H, W) -> (N, C, Ho, Wo), (Ho, Wo) = output_size (None keeps that axis).
    """

    _fn = staticmethod(F.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """Average pooling to a fixed size over (D, H, W).

    Shape:
        (N, C, D, H, W) -> (N, C, Do, Ho, Wo) = output_size (None keeps that axis).
    """

    _fn = staticmethod(F.adaptive_avg_pool3d)


class _AdaptiveMaxPoolNd(Module):
    _fn: Any = None

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Any:
        return type(self)._fn(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Max pooling to a fixed length; windows as in `AdaptiveAvgPool1d`.

    Shape:
        (N, C, L) -> (N, C, O), O = output_size.
    """

    _fn = staticmethod(F.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Max pooling to a fixed size; windows as in `AdaptiveAvgPool2d`.

    Shape:
        (N, C, H, W) -> (N, C, Ho, Wo), (Ho, Wo) = output_size (None keeps that axis).
    """

    _fn = staticmethod(F.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """Max pooling to a fixed size over (D, H, W).

    Shape:
        (N, C, D, H, W) -> (N, C, Do, Ho, Wo) = output_size (None keeps that axis).
    """

    _fn = staticmethod(F.adaptive_max_pool3d)


# ----------------------------------------------------------------------------- power-average


class _LPPoolNd(Module):
    _fn: Any = None

    def __init__(self, norm_type: float, kernel_size: _size, stride: _size | None = None,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, float(self.norm_type), self.kernel_size, self.stride,
                              self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """Power-average pooling y = (sum over the window of x^p)^(1/p), p = norm_type.

    Shape:
        (N, C, L) -> (N, C, L_out), L_out = floor((L - K) / stride) + 1  (ceil with ceil_mode).
    """

    _fn = staticmethod(F.lp_pool1d)


class LPPool2d(_LPPoolNd):
    """Power-average pooling over a 2-D window (p = 1: sum pooling, p = inf: max pooling).

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out), H_out = floor((H - kH) / stride) + 1
        (ceil with ceil_mode), W_out likewise.
    """

    _fn = staticmethod(F.lp_pool2d)


class LPPool3d(_LPPoolNd):
    """Power-average pooling over a 3-D window.

    Shape:
        (N, C, D, H, W) -> (N, C, D_out, H_out, W_out), each as in `LPPool2d`.
    """

    _fn = staticmethod(F.lp_pool3d)
