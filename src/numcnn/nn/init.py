"""Weight initialisers with `torch.nn.init`'s names, arguments and formulas.

Every initialiser fills its tensor in place (under `no_grad`, so parameters can be filled),
draws from `numcnn.random.generator()` unless a generator is given, and returns the tensor.

Fans (for a weight of shape (out, in, *kernel)):
    fan_in = in * prod(kernel),  fan_out = out * prod(kernel)

Axis legend: O output features/channels, I input features/channels, K kernel extent.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable, Literal

import numpy as np

from numcnn.autograd.grad_mode import no_grad
from numcnn.random import generator as _global_generator
from numcnn.tensor import Tensor

__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "zeros_", "ones_",
    "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
    "orthogonal_",
]

_FanMode = Literal["fan_in", "fan_out"]
_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
               "conv_transpose3d")


def _rng(generator: np.random.Generator | None) -> np.random.Generator:
    return _global_generator() if generator is None else generator


def _fill(tensor: Tensor, values: Any) -> Tensor:
    """Write `values` into `tensor` in place (cast to its dtype), without recording a graph."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"expected a numcnn Tensor, got {type(tensor).__name__}")
    with no_grad():
        if tensor.array.flags.writeable:
            tensor.array[...] = values
        else:  # a read-only view (e.g. broadcast): replace the storage
            tensor.array = np.array(np.broadcast_to(values, tensor.shape), dtype=tensor.dtype)
    return tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (the factor that keeps activations' variance).

    =================  ====================================================
    nonlinearity       gain
    =================  ====================================================
    linear / conv*     1
    sigmoid            1
    tanh               5/3
    relu               sqrt(2)
    leaky_relu         sqrt(2 / (1 + negative_slope^2)), slope = param or 0.01
    selu               3/4
    =================  ====================================================

    Args:
        nonlinearity: the name of the nonlinear function (as `torch.nn.functional` names it).
        param: the negative slope of `leaky_relu` (default 0.01).

    Raises:
        ValueError: for an unknown nonlinearity or a non-numeric `param`.
    """
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"Unsupported nonlinearity {nonlinearity!r}; expected one of "
        f"{', '.join(_LINEAR_FNS)}, sigmoid, tanh, relu, leaky_relu, selu"
    )


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (O, I, *K): (I * prod K, O * prod K).

    Raises:
        ValueError: for a tensor with fewer than 2 dimensions.
    """
    if tensor.ndim < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
            f"(got shape {tuple(tensor.shape)})"
        )
    receptive_field_size = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    fan_in = tensor.shape[1] * receptive_field_size
    fan_out = tensor.shape[0] * receptive_field_size
    return fan_in, fan_out


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower() if isinstance(mode, str) else mode
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


_CHUNK = 1 << 18       # values drawn per step when filling a big tensor (2 MiB of float64)


def _fill_drawn(tensor: Tensor, draw: Callable[[int], np.ndarray]) -> Tensor:
    """Fill `tensor` with `draw(n)` (float64 samples, consumed in order), chunk by chunk.

    The generator's stream is consumed exactly as one `draw(tensor.numel())` would, so the
    values are the same; drawing a chunk at a time only avoids a float64 copy of the whole
    tensor (for VGG's 100M-value first Linear that copy alone takes longer than the sampling).
    """
    n = tensor.numel()
    if n <= _CHUNK or not (isinstance(tensor, Tensor) and tensor.array.flags.c_contiguous
                           and tensor.array.flags.writeable):
        return _fill(tensor, draw(n).reshape(tensor.shape))
    flat = tensor.array.reshape(-1)                      # a view: c-contiguous
    with no_grad():
        for start in range(0, n, _CHUNK):
            stop = min(start + _CHUNK, n)
            flat[start:stop] = draw(stop - start)
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0,
             generator: np.random.Generator | None = None) -> Tensor:
    """Fill `tensor` with samples from U(a, b)."""
    rng = _rng(generator)
    return _fill_drawn(tensor, lambda k: rng.uniform(a, b, k))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0,
            generator: np.random.Generator | None = None) -> Tensor:
    """Fill `tensor` with samples from N(mean, std^2)."""
    rng = _rng(generator)
    return _fill_drawn(tensor, lambda k: rng.normal(mean, std, k))


def _standard_truncated_normal(rng: np.random.Generator, lo: float, hi: float,
                               n: int) -> np.ndarray:
    """n samples of N(0, 1) conditioned on lo <= z <= hi, by exact rejection sampling.

    The proposal is chosen so that each round accepts about a third of the draws or more
    (Robert 1995, "Simulation of truncated normal variables"):
      - the interval contains 0 and is at least 1 wide: z ~ N(0, 1), keep z in [lo, hi];
      - otherwise, narrow intervals: z ~ U(lo, hi), keep with prob. exp((m^2 - z^2) / 2),
        m = the point of [lo, hi] closest to 0;
      - wide one-sided tails (lo > 0, mirrored for hi < 0): z = lo + Exp(alpha),
        alpha = (lo + sqrt(lo^2 + 4)) / 2, keep with prob. exp(-(z - alpha)^2 / 2) and z <= hi.
    """
    if lo > 0 or hi < 0:
        flip = hi < 0
        if flip:
            lo, hi = -hi, -lo
    else:
        flip = False
    alpha = (lo + math.sqrt(lo * lo + 4)) / 2 if lo > 0 else 0.0
    if lo <= 0 <= hi and hi - lo >= 1:
        method = "normal"
    elif lo > 0 and hi - lo > 1 / alpha:
        method = "exponential"
    else:
        method = "uniform"
    m = 0.0 if lo <= 0 <= hi else lo
    # draws per wanted sample: 1/P(lo <= z <= hi) for the normal proposal (about 1.05 for
    # torchvision's +-2 std cut-offs), 2 for the others (acceptance is a third or more)
    per = (2 / (math.erf(hi / math.sqrt(2)) - math.erf(lo / math.sqrt(2))) * 1.01
           if method == "normal" else 2.0)
    out = np.empty(n)
    filled = 0
    while filled < n:
        k = int(per * (n - filled)) + 16
        if method == "normal":
            z = rng.standard_normal(k)
            z = z[(z >= lo) & (z <= hi)]
        elif method == "uniform":
            z = rng.uniform(lo, hi, k)
            z = z[rng.random(k) <= np.exp((m * m - z * z) / 2)]
        else:
            z = lo + rng.exponential(1 / alpha, k)
            z = z[(rng.random(k) <= np.exp(-((z - alpha) ** 2) / 2)) & (z <= hi)]
        take = min(z.size, n - filled)
        out[filled:filled + take] = z[:take]
        filled += take
    return -out if flip else out


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator: np.random.Generator | None = None) -> Tensor:
    """Fill `tensor` with N(mean, std^2) samples conditioned on a <= x <= b.

    Unlike PyTorch (inverse-CDF sampling, then a clamp) the samples come from exact rejection
    sampling; the distribution is the same truncated normal, and stays exact when `mean` is
    far outside [a, b] (where PyTorch warns that its values may be incorrect).

    Args:
        tensor: the tensor to fill.
        mean: the mean of the untruncated normal.
        std: its standard deviation (> 0).
        a: the lower cut-off.
        b: the upper cut-off (> a).
    """
    if not std > 0:
        raise ValueError(f"trunc_normal_: std must be positive, got {std}")
    if not a < b:
        raise ValueError(f"trunc_normal_: expected a < b, got a={a}, b={b}")
    z = _standard_truncated_normal(_rng(generator), (a - mean) / std, (b - mean) / std,
                                   tensor.numel())
    x = np.clip(mean + std * z, a, b)      # the clip only guards against rounding
    return _fill(tensor, x.reshape(tensor.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill `tensor` with `val`."""
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill `tensor` with 0."""
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill `tensor` with 1."""
    return _fill(tensor, 1)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D `tensor` with the identity (ones on the main diagonal, zeros elsewhere).

    Raises:
        ValueError: if `tensor` is not 2-D.
    """
    if tensor.ndim != 2:
        raise ValueError(
            f"Only tensors with 2 dimensions are supported (got shape {tuple(tensor.shape)})"
        )
    return _fill(tensor, np.eye(tensor.shape[0], tensor.shape[1]))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a (O, I, *K) conv weight with the Dirac delta: the convolution copies its input.

    w[g * O/groups + d, d, centre of K] = 1 for d < min(O/groups, I), 0 elsewhere.

    Raises:
        ValueError: if `tensor` is not 3-, 4- or 5-D, or O is not divisible by `groups`.
    """
    if tensor.ndim not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported "
                         f"(got shape {tuple(tensor.shape)})")
    sizes = tensor.shape
    if groups <= 0 or sizes[0] % groups != 0:
        raise ValueError(f"dim 0 must be divisible by groups (got size {sizes[0]}, "
                         f"groups={groups})")
    out_per_group = sizes[0] // groups
    min_dim = min(out_per_group, sizes[1])
    w = np.zeros(sizes)
    centre = tuple(s // 2 for s in sizes[2:])
    d = np.arange(min_dim)
    for g in range(groups):
        w[(g * out_per_group + d, d) + centre] = 1
    return _fill(tensor, w)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0,
                    generator: np.random.Generator | None = None) -> Tensor:
    """Glorot & Bengio (2010): U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0,
                   generator: np.random.Generator | None = None) -> Tensor:
    """Glorot & Bengio (2010): N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float | None:
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    return gain / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: _FanMode = "fan_in",
                     nonlinearity: str = "leaky_relu",
                     generator: np.random.Generator | None = None) -> Tensor:
    """He et al. (2015): U(-bound, bound), bound = gain * sqrt(3 / fan).

    Args:
        tensor: the weight, at least 2-D.
        a: the negative slope of the rectifier after this layer (leaky_relu only).
        mode: "fan_in" keeps the forward variance, "fan_out" the backward variance.
        nonlinearity: the activation after this layer, as for `calculate_gain`.
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: _FanMode = "fan_in",
                    nonlinearity: str = "leaky_relu",
                    generator: np.random.Generator | None = None) -> Tensor:
    """He et al. (2015): N(0, std^2), std = gain / sqrt(fan).  Arguments as `kaiming_uniform_`."""
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0,
                generator: np.random.Generator | None = None) -> Tensor:
    """Saxe et al. (2013): a (semi-)orthogonal matrix, from the QR of a Gaussian, times `gain`.

    The tensor is viewed as (rows, cols) = (shape[0], numel / shape[0]).  Q's columns are
    multiplied by sign(diag R), which makes Q uniformly (Haar) distributed, as in PyTorch.
    Rows are orthonormal when rows <= cols, columns otherwise.

    Raises:
        ValueError: for a tensor with fewer than 2 dimensions.
    """
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported "
                         f"(got shape {tuple(tensor.shape)})")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = _rng(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)                      # q: (max, min), r: (min, min)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tensor.shape))
