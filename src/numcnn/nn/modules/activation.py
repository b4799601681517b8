"""Activation layers mirroring torch.nn: each calls its `numcnn.nn.functional` counterpart.

Attribute names, defaults and `extra_repr` follow PyTorch (e.g. `ReLU(inplace=True)`,
`LeakyReLU(negative_slope=0.01)`), so printed models read the same.  About `inplace=True` see
`numcnn.nn.functional.activation`: the result is always the return value.
"""

from __future__ import annotations

import warnings

import numpy as np

from numcnn import dtypes
from numcnn.nn import functional as F
from numcnn.nn.module import Module
from numcnn.nn.parameter import Parameter
from numcnn.tensor import Tensor

__all__ = [
    "CELU", "ELU", "GELU", "Hardsigmoid", "Hardswish", "Hardtanh", "LeakyReLU", "LogSigmoid",
    "LogSoftmax", "Mish", "PReLU", "ReLU", "ReLU6", "SELU", "SiLU", "Sigmoid", "Softmax",
    "Softmin", "Softplus", "Tanh", "Threshold",
]


def _inplace_str(inplace: bool, lead: str = "") -> str:
    return (lead + "inplace=True") if inplace else ""


class ReLU(Module):
    """y = max(x, 0).

    Shape:
        input (*) -> output (*).
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace)


class Hardtanh(Module):
    """y = min(max(x, min_val), max_val).

    Shape:
        input (*) -> output (*).
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False,
                 min_value: float | None = None, max_value: float | None = None) -> None:
        super().__init__()
        # min_value / max_value: PyTorch's deprecated spellings, accepted with its warning
        if min_value is not None:
            warnings.warn("keyword argument `min_value` is deprecated and renamed to `min_val`",
                          FutureWarning, stacklevel=2)
            min_val = min_value
        if max_value is not None:
            warnings.warn("keyword argument `max_value` is deprecated and renamed to `max_val`",
                          FutureWarning, stacklevel=2)
            max_val = max_value
        if max_val <= min_val:
            raise ValueError(f"Hardtanh: max_val ({max_val}) must be greater than min_val "
                             f"({min_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + _inplace_str(self.inplace, ", ")


class ReLU6(Hardtanh):
    """y = min(max(x, 0), 6).

    Shape:
        input (*) -> output (*).
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace)


class LeakyReLU(Module):
    """y = x for x > 0, negative_slope * x otherwise.

    Shape:
        input (*) -> output (*).
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + _inplace_str(self.inplace, ", ")


class Threshold(Module):
    """y = x where x > threshold, else value.

    Shape:
        input (*) -> output (*).
    """

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        return (f"threshold={self.threshold}, value={self.value}"
                + _inplace_str(self.inplace, ", "))


class ELU(Module):
    """y = x for x > 0, alpha (exp(x) - 1) otherwise.

    Shape:
        input (*) -> output (*).
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + _inplace_str(self.inplace, ", ")


class CELU(Module):
    """y = x for x > 0, alpha (exp(x / alpha) - 1) otherwise.

    Shape:
        input (*) -> output (*).
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.celu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + _inplace_str(self.inplace, ", ")


class SELU(Module):
    """y = scale (x for x > 0, alpha (exp(x) - 1) otherwise), the self-normalising constants.

    Shape:
        input (*) -> output (*).
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.selu(input, self.inplace)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace)


class GELU(Module):
    """y = x Phi(x) (approximate='none') or its tanh approximation (approximate='tanh').

    Shape:
        input (*) -> output (*).
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Sigmoid(Module):
    """y = 1 / (1 + exp(-x)).

    Shape:
        input (*) -> output (*).
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.sigmoid(input)


class Tanh(Module):
    """y = tanh x.

    Shape:
        input (*) -> output (*).
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.tanh(input)


class LogSigmoid(Module):
    """y = log sigmoid(x).

    Shape:
        input (*) -> output (*).
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.logsigmoid(input)


class Softplus(Module):
    """y = log(1 + exp(beta x)) / beta (x where beta x > threshold).

    Shape:
        input (*) -> output (*).
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class SiLU(Module):
    """y = x sigmoid(x).

    Shape:
        input (*) -> output (*).
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.silu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace)


class Mish(Module):
    """y = x tanh(softplus(x)).

    Shape:
        input (*) -> output (*).
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.mish(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace)


class Hardswish(Module):
    """y = x relu6(x + 3) / 6 (MobileNetV3).  (PyTorch prints no `inplace` for this layer.)

    Shape:
        input (*) -> output (*).
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.hardswish(input, self.inplace)


class Hardsigmoid(Module):
    """y = relu6(x + 3) / 6.  (PyTorch prints no `inplace` for this layer.)

    Shape:
        input (*) -> output (*).
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.hardsigmoid(input, self.inplace)


class PReLU(Module):
    """y = x for x > 0, a * x otherwise, with learnable slopes `weight`: (num_parameters,),
    one per channel (axis 1) or a single shared one, initialised to `init`.

    Shape:
        input (N, C, *) -> output (N, C, *);  num_parameters is 1 or C.
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: object = None,
                 dtype: object = None) -> None:
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        dt = dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)
        self.weight = Parameter(np.full((num_parameters,), init, dtype=dt))

    def reset_parameters(self) -> None:
        self.weight.array[...] = self.init

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class _AlongDim(Module):
    """Base of the activations taken along one dimension: holds `dim`, prints `dim=...`."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_AlongDim):
    """Softmax along `dim` (rows sum to 1).

    Shape:
        input (*) -> output (*).
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, self.dim, _stacklevel=5)


class LogSoftmax(_AlongDim):
    """log(softmax(x)) along `dim`, computed stably.

    Shape:
        input (*) -> output (*).
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, self.dim, _stacklevel=5)


class Softmin(_AlongDim):
    """softmax(-x) along `dim`.

    Shape:
        input (*) -> output (*).
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.softmin(input, self.dim, _stacklevel=5)


class GLU(Module):
    """Gated linear unit: the input split in halves a, b along `dim`, y = a * sigmoid(b).

    Shape:
        input (*, 2n, *) -> output (*, n, *).
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softsign(Module):
    """y = x / (1 + |x|).

    Shape:
        input (*) -> output (*).
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.softsign(input)


class Tanhshrink(Module):
    """y = x - tanh(x).

    Shape:
        input (*) -> output (*).
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.tanhshrink(input)


class Hardshrink(Module):
    """y = x where |x| > lambd, else 0.

    Shape:
        input (*) -> output (*).
    """

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        return F.hardshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    """y = x - lambd for x > lambd, x + lambd for x < -lambd, else 0.

    Shape:
        input (*) -> output (*).
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.softshrink(input, self.lambd)


class Softmax2d(Module):
    """Softmax over the channels at each location: dim -3 of a (N, C, H, W) or (C, H, W) input.

    Raises:
        ValueError: for an input that is not 3-D or 4-D (as torch).
    """

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (3, 4):
            raise ValueError(
                f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D instead"
            )
        return F.softmax(input, -3)


__all__ += ["GLU", "Hardshrink", "Softmax2d", "Softshrink", "Softsign", "Tanhshrink"]


class RReLU(Module):
    """Randomised leaky ReLU: y = x for x >= 0, a * x otherwise, with a ~ U(lower, upper) per
    element in training and a = (lower + upper) / 2 in evaluation (see `F.rrelu`).

    Shape:
        input (*) -> output (*).
    """

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
                 inplace: bool = False) -> None:
        super().__init__()
        self.lower = lower
        self.upper = upper
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}" + _inplace_str(self.inplace, ", ")


__all__ += ["RReLU"]
