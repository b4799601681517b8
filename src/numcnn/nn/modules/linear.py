"""Fully connected layers mirroring torch.nn: Identity, Linear, Bilinear.

Default initialisation is PyTorch's: for Linear, weight ~ kaiming_uniform_(a=sqrt(5)), which
is U(-1/sqrt(in_features), 1/sqrt(in_features)), and bias ~ the same uniform; for Bilinear,
weight and bias ~ U(-1/sqrt(in1_features), 1/sqrt(in1_features)).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from numcnn import dtypes
from numcnn.nn import functional as F
from numcnn.nn import init
from numcnn.nn.module import Module
from numcnn.nn.parameter import Parameter
from numcnn.tensor import Tensor

__all__ = ["Bilinear", "Identity", "Linear"]


def _dtype(dtype: Any) -> np.dtype:
    return dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)


def _check_features(**features: Any) -> None:
    for name, value in features.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}")


class Identity(Module):
    """A placeholder layer that returns its input; any constructor arguments are ignored.

    Shape:
        input (*) -> output (*), the same tensor.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Linear(Module):
    """y = x W^T + b.

    Args:
        in_features: size of each input sample (I).
        out_features: size of each output sample (O).
        bias: learn an additive bias.
        device: accepted for PyTorch compatibility ("cpu" only).
        dtype: parameter dtype (default: numcnn's default dtype).

    Attributes:
        weight: (out_features, in_features).
        bias: (out_features,) or None.

    Shape:
        input (*, I) -> output (*, O).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        _check_features(in_features=in_features, out_features=out_features)
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        dt = _dtype(dtype)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dt))
        if bias:
            self.bias = Parameter(np.empty((self.out_features,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """weight ~ U(-1/sqrt(I), 1/sqrt(I)) via kaiming_uniform_(a=sqrt(5)); bias the same."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Bilinear(Module):
    """y = x1^T W x2 + b, one bilinear form per output feature.

    Attributes:
        weight: (out_features, in1_features, in2_features).
        bias: (out_features,) or None.

    Shape:
        input1 (*, I1), input2 (*, I2) -> output (*, O).
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        _check_features(in1_features=in1_features, in2_features=in2_features,
                        out_features=out_features)
        self.in1_features = int(in1_features)
        self.in2_features = int(in2_features)
        self.out_features = int(out_features)
        dt = _dtype(dtype)
        self.weight = Parameter(
            np.empty((self.out_features, self.in1_features, self.in2_features), dtype=dt)
        )
        if bias:
            self.bias = Parameter(np.empty((self.out_features,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """weight, bias ~ U(-1/sqrt(in1_features), 1/sqrt(in1_features))."""
        bound = 1 / math.sqrt(self.weight.shape[1]) if self.weight.shape[1] > 0 else 0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
