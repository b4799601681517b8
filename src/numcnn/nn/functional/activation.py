"""Activation functions with the names, signatures and defaults of torch.nn.functional.

Each wrapper validates its arguments and calls one fused kernel from `numcnn.ops.activation`.

In-place variants (`inplace=True`, `relu_` ...) write the result into the input and return the
input, as PyTorch: inside the graph too, where the input's history is rebased onto the op
(see `Tensor._inplace_from`).  A leaf that requires grad is refused, as in PyTorch, and a
tensor that some backward still needs is reported at backward by its version counter.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from numcnn import dtypes
from numcnn.nn.functional._checks import check_tensor
from numcnn.ops import activation as A
from numcnn.tensor import Tensor, _norm_dim

__all__ = [
    "celu", "celu_", "elu", "elu_", "gelu", "hardsigmoid", "hardswish", "hardtanh", "hardtanh_",
    "leaky_relu", "leaky_relu_", "log_softmax", "logsigmoid", "mish", "prelu", "relu", "relu6",
    "relu_", "selu", "selu_", "sigmoid", "silu", "softmax", "softmin", "softplus", "tanh",
    "threshold", "threshold_",
]

# SELU's constants (Klambauer et al., 2017), to PyTorch's precision.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


# ----------------------------------------------------------------------------- helpers
def _check_float(input: Any, fname: str) -> None:
    check_tensor(input, "input", fname)
    if input.dtype.kind != "f":
        raise TypeError(
            f"{fname}(): expected a floating point input tensor, got dtype {input.dtype} "
            "(convert with .float() or .double())"
        )


def _promote_float(input: Tensor) -> Tensor:
    """Integer/bool tensors -> the default float dtype (as torch.sigmoid/tanh do)."""
    return input if input.dtype.kind == "f" else input.to(dtypes.get_default_dtype())


def _finish(input: Tensor, out: Tensor, inplace: bool) -> Tensor:
    """Honour `inplace`: write the result into the input (see the module docstring)."""
    return input._inplace_from(out) if inplace else out


def _check_inplace(input: Tensor, inplace: bool) -> None:
    if inplace:
        input._check_inplace_allowed()


# ----------------------------------------------------------------------------- piecewise linear
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """Rectified linear unit, y = max(x, 0) elementwise (gradient 0 at x = 0).

    Args:
        input: any tensor.
        inplace: write the result into `input` (see the module docstring).

    Shape:
        input (*) -> output (*), same shape.
    """
    check_tensor(input, "input", "relu")
    _check_inplace(input, inplace)
    return _finish(input, A.ReLU.apply(input, inplace=inplace), inplace)


def relu_(input: Tensor) -> Tensor:
    """In-place `relu`."""
    return relu(input, inplace=True)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """y = min(max(x, min_val), max_val); gradient 1 strictly inside, 0 at and beyond the edges.

    Args:
        input: any tensor.
        min_val: lower end of the linear region.
        max_val: upper end of the linear region (must be >= min_val).
        inplace: write the result into `input`.

    Shape:
        input (*) -> output (*).
    """
    check_tensor(input, "input", "hardtanh")
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    _check_inplace(input, inplace)
    return _finish(input, A.Hardtanh.apply(input, min_val=min_val, max_val=max_val), inplace)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """In-place `hardtanh`."""
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """y = min(max(x, 0), 6) = hardtanh(x, 0, 6) (gradient 0 at x = 0 and x = 6).

    Shape:
        input (*) -> output (*).
    """
    check_tensor(input, "input", "relu6")
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """y = x for x > 0, negative_slope * x otherwise (the gradient at 0 is negative_slope).

    Args:
        input: a floating tensor.
        negative_slope: slope for x <= 0.
        inplace: write the result into `input`.

    Shape:
        input (*) -> output (*).
    """
    _check_float(input, "leaky_relu")
    _check_inplace(input, inplace)
    return _finish(input, A.LeakyReLU.apply(input, negative_slope=negative_slope), inplace)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """In-place `leaky_relu`."""
    return leaky_relu(input, negative_slope, inplace=True)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """y = x where x > threshold, else value (the gradient is 0 at and below the threshold).

    Shape:
        input (*) -> output (*).
    """
    return _threshold(input, threshold, value, inplace)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """In-place `threshold`."""
    return _threshold(input, threshold, value, True)


def _threshold(input: Tensor, th: float, value: float, inplace: bool) -> Tensor:
    check_tensor(input, "input", "threshold")
    _check_inplace(input, inplace)
    return _finish(input, A.Threshold.apply(input, threshold=th, value=value), inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """Hard swish (MobileNetV3): y = x * relu6(x + 3) / 6.

    The derivative is 0 for x <= -3, (2x + 3) / 6 for -3 < x < 3 and 1 for x >= 3.

    Shape:
        input (*) -> output (*).
    """
    _check_float(input, "hardswish")
    _check_inplace(input, inplace)
    return _finish(input, A.Hardswish.apply(input), inplace)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """Hard sigmoid: y = relu6(x + 3) / 6 (derivative 1/6 for -3 < x < 3, else 0).

    Shape:
        input (*) -> output (*).
    """
    _check_float(input, "hardsigmoid")
    _check_inplace(input, inplace)
    return _finish(input, A.Hardsigmoid.apply(input), inplace)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """Parametric ReLU: y = x for x > 0, weight * x otherwise, one slope per channel (axis 1).

    Args:
        input: a floating tensor (N, C, *) (or any shape when `weight` has one element).
        weight: learnable slopes, shape (C,) or a single element.

    Shape:
        input (N, C, *), weight (C,) or (1,) -> output (N, C, *).
    """
    _check_float(input, "prelu")
    if not isinstance(weight, Tensor):
        raise TypeError(f"prelu(): argument 'weight' (position 2) must be Tensor, not "
                        f"{type(weight).__name__}")
    if weight.ndim > 1:
        raise RuntimeError(
            f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight.ndim}"
        )
    channels = input.shape[1] if input.ndim >= 2 else 1
    if weight.numel() != 1 and weight.numel() != channels:
        raise RuntimeError(
            f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
            f"{weight.numel()} and channel size = {channels}."
        )
    return A.PReLU.apply(input, weight)


# ----------------------------------------------------------------------------- exponential family
def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """Exponential linear unit: y = x for x > 0, alpha (exp(x) - 1) otherwise.

    Shape:
        input (*) -> output (*).
    """
    _check_float(input, "elu")
    _check_inplace(input, inplace)
    out = A.ELU.apply(input, alpha=alpha, scale=1.0, input_scale=1.0)
    return _finish(input, out, inplace)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place `elu`."""
    return elu(input, alpha, inplace=True)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """Scaled ELU: y = scale * (x for x > 0, alpha (exp(x) - 1) otherwise),
    alpha = 1.6732632423543772, scale = 1.0507009873554805.

    Shape:
        input (*) -> output (*).
    """
    _check_float(input, "selu")
    _check_inplace(input, inplace)
    out = A.ELU.apply(input, alpha=_SELU_ALPHA, scale=_SELU_SCALE, input_scale=1.0)
    return _finish(input, out, inplace)


def selu_(input: Tensor) -> Tensor:
    """In-place `selu`."""
    return selu(input, inplace=True)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """Continuously differentiable ELU: y = x for x > 0, alpha (exp(x / alpha) - 1) otherwise.

    Shape:
        input (*) -> output (*).
    """
    _check_float(input, "celu")
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    _check_inplace(input, inplace)
    out = A.ELU.apply(input, alpha=alpha, scale=1.0, input_scale=1.0 / alpha)
    return _finish(input, out, inplace)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place `celu`."""
    return celu(input, alpha, inplace=True)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit, y = x Phi(x) with Phi the standard normal CDF.

    Args:
        input: a floating tensor.
        approximate: 'none' (exact, via erfc) or 'tanh':
            y = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

    Shape:
        input (*) -> output (*).
    """
    _check_float(input, "gelu")
    if approximate not in ("none", "tanh"):
        raise RuntimeError(
            f"approximate argument must be either none or tanh. (got {approximate!r})"
        )
    return A.GELU.apply(input, approximate=approximate)


def sigmoid(input: Tensor) -> Tensor:
    """Logistic sigmoid, y = 1 / (1 + exp(-x)), exact and finite for any |x|.

    Shape:
        input (*) -> output (*); integer input gives the default float dtype.
    """
    check_tensor(input, "input", "sigmoid")
    return A.Sigmoid.apply(_promote_float(input))


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent, y = tanh x (derivative 1 - y^2).

    Shape:
        input (*) -> output (*); integer input gives the default float dtype.
    """
    check_tensor(input, "input", "tanh")
    return A.Tanh.apply(_promote_float(input))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """y = log(1 + exp(beta x)) / beta, and y = x where beta x > threshold.

    Shape:
        input (*) -> output (*).
    """
    _check_float(input, "softplus")
    return A.Softplus.apply(input, beta=beta, threshold=threshold)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """Sigmoid linear unit (swish), y = x sigmoid(x).

    Shape:
        input (*) -> output (*).
    """
    _check_float(input, "silu")
    _check_inplace(input, inplace)
    return _finish(input, A.SiLU.apply(input), inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """Mish, y = x tanh(softplus(x)).

    Shape:
        input (*) -> output (*).
    """
    _check_float(input, "mish")
    _check_inplace(input, inplace)
    return _finish(input, A.Mish.apply(input), inplace)


def logsigmoid(input: Tensor) -> Tensor:
    """y = log(1 / (1 + exp(-x))) = min(x, 0) - log1p(exp(-|x|)), finite for any x.

    Shape:
        input (*) -> output (*).
    """
    _check_float(input, "logsigmoid")
    return A.LogSigmoid.apply(input)


# ----------------------------------------------------------------------------- softmax family
def _softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
        "dim=X as an argument.", UserWarning, stacklevel=stacklevel,
    )
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_like(fn: Any, name: str, input: Tensor, dim: int | None, stacklevel: int,
                  dtype: Any) -> Tensor:
    check_tensor(input, "input", name)
    if dim is None:
        dim = _softmax_dim(name, input.ndim, stacklevel + 1)
    axis = _norm_dim(dim, input.ndim)
    if dtype is not None:
        input = input.to(dtype)
    if input.dtype.kind != "f":
        raise TypeError(f"{name}(): expected a floating point input tensor (or a floating "
                        f"`dtype=`), got dtype {input.dtype}")
    if input.ndim == 0:
        return fn.apply(input.reshape(1), dim=0).reshape(())
    return fn.apply(input, dim=axis)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> Tensor:
    """y_i = exp(x_i) / sum_j exp(x_j) along `dim` (max-subtracted: finite for any logits).

    Args:
        input: a tensor.
        dim: the axis that sums to 1.  If None, PyTorch's deprecated implicit choice (0 for
            0-, 1- and 3-D input, else 1) is used with a warning.
        dtype: cast the input to this dtype first.

    Shape:
        input (*) -> output (*).
    """
    return _softmax_like(A.Softmax, "softmax", input, dim, _stacklevel, dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype: Any = None) -> Tensor:
    """y_i = x_i - log sum_j exp(x_j) along `dim` (max-subtracted; finite for any logits).

    Shape:
        input (*) -> output (*).
    """
    return _softmax_like(A.LogSoftmax, "log_softmax", input, dim, _stacklevel, dtype)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> Tensor:
    """y = softmax(-x) along `dim`.

    Shape:
        input (*) -> output (*).
    """
    check_tensor(input, "input", "softmin")
    if dim is None:
        dim = _softmax_dim("softmin", input.ndim, _stacklevel)
    if dtype is not None:
        input = input.to(dtype)
    return softmax(-input, dim)


# ----------------------------------------------------------------------------- composite
# Written with differentiable tensor ops, so their gradients (and double backward) come from
# those ops' kernels.
def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: input split in halves a, b along `dim`, y = a * sigmoid(b).

    Shape:
        input (*, 2n, *) -> output (*, n, *).

    Raises:
        RuntimeError: for a 0-d input or an odd size along `dim` (as torch).
    """
    check_tensor(input, "input", "glu")
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = _norm_dim(dim, input.ndim)
    n = input.shape[d]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {n}")
    a, b = input.split(n // 2, d) if n else (input, input)
    return a * sigmoid(b)


def softsign(input: Tensor) -> Tensor:
    """y = x / (1 + |x|)  (dy/dx = 1 / (1 + |x|)^2)."""
    _check_float(input, "softsign")
    return input / (input.abs() + 1)


def tanhshrink(input: Tensor) -> Tensor:
    """y = x - tanh(x)."""
    _check_float(input, "tanhshrink")
    return input - tanh(input)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """y = x where |x| > lambd, else 0 (gradient 1 there, 0 elsewhere)."""
    _check_float(input, "hardshrink")
    return input * (input.abs() > lambd)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """y = x - lambd for x > lambd, x + lambd for x < -lambd, else 0.

    Raises:
        RuntimeError: for lambd < 0 (as torch).
    """
    _check_float(input, "softshrink")
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return (input - input.detach().sign() * lambd) * (input.abs() > lambd)


__all__ += ["glu", "hardshrink", "softshrink", "softsign", "tanhshrink"]


# ----------------------------------------------------------------------------- stochastic
__all__ += ["gumbel_softmax", "rrelu", "rrelu_"]


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """Randomised leaky ReLU (Xu et al., 2015): y = x for x >= 0, a * x otherwise.

    In training a ~ U(lower, upper) is drawn per element from `numcnn.random.generator()`
    (so `numcnn.manual_seed` reproduces it); in evaluation a = (lower + upper) / 2.
    The gradient is 1 for x >= 0 and the same a otherwise.

    Shape:
        input (*) -> output (*).
    """
    from numcnn.random import generator

    _check_float(input, "rrelu")
    if not lower <= upper:
        raise ValueError(
            f"rrelu: lower bound must be less than or equal to upper bound, got lower={lower}, "
            f"upper={upper}"
        )
    _check_inplace(input, inplace)
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    x = input.array
    slopes = generator().uniform(lower, upper, size=x.shape).astype(x.dtype, copy=False)
    noise = np.where(x >= 0, np.ones((), x.dtype), slopes)
    return _finish(input, input * Tensor(noise), inplace)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
           training: bool = False) -> Tensor:
    """In-place `rrelu`."""
    return rrelu(input, lower, upper, training, inplace=True)


def gumbel_softmax(logits: Tensor, tau: float = 1, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1) -> Tensor:
    """A sample from the Gumbel-softmax (Concrete) distribution (Jang et al., 2016):
    y = softmax((logits + g) / tau, dim), g = -log(E), E ~ Exp(1) i.i.d. (drawn from
    `numcnn.random.generator()`).

    With `hard`, the forward value is the one-hot of argmax(y) along `dim` and the gradient is
    that of the soft y (straight-through: y_hard - y.detach() + y).  `eps` is unused, as in
    PyTorch.

    Shape:
        logits (*) -> output (*).
    """
    from numcnn.random import generator

    _check_float(logits, "gumbel_softmax")
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", UserWarning,
                      stacklevel=2)
    x = logits.array
    gumbels = -np.log(generator().standard_exponential(size=x.shape).astype(x.dtype))
    if logits.ndim == 0:
        y_soft = ((logits + Tensor(gumbels)) / tau).reshape(1).softmax(0).reshape(())
    else:
        y_soft = ((logits + Tensor(gumbels)) / tau).softmax(_norm_dim(dim, logits.ndim))
    if not hard:
        return y_soft
    axis = _norm_dim(dim, max(logits.ndim, 1))
    ys = y_soft.array if logits.ndim else y_soft.array.reshape(1)
    index = np.expand_dims(ys.argmax(axis), axis)
    one_hot = np.zeros_like(ys)
    np.put_along_axis(one_hot, index, 1, axis)
    y_hard = Tensor(one_hot.reshape(x.shape))
    return y_hard - y_soft.detach() + y_soft
