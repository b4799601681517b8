"""Normalisation: batch_norm, instance_norm, layer_norm, group_norm, local_response_norm.

Thin, validated wrappers with torch.nn.functional's names, signatures and defaults; the math
(and its derivation) lives in `numcnn.ops.norm`.  Shape legend: N batch, C channels, * any
number of spatial dims (L of them flattened), G groups.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from numcnn.dtypes import get_default_dtype
from numcnn.nn.functional._checks import check_bool, check_int, check_number, check_tensor
from numcnn.ops import norm as K
from numcnn.tensor import Tensor

__all__ = ["batch_norm", "instance_norm", "layer_norm", "group_norm", "local_response_norm"]


# ----------------------------------------------------------------------------- checks
def _check_input(input: object, fname: str) -> Tensor:
    check_tensor(input, "input", fname)
    assert isinstance(input, Tensor)  # for the type checker: check_tensor raised otherwise
    return input


def _check_floating(input: Tensor, fname: str) -> None:
    """PyTorch raises NotImplementedError (a RuntimeError) for integer inputs."""
    if input.dtype.kind != "f":
        raise NotImplementedError(
            f"{fname}(): expected a floating point input (float32 or float64), got {input.dtype}"
        )


def _channel_vector(t: Tensor | None, name: str, channels: int, fname: str) -> Tensor | None:
    """A per-channel tensor (weight, bias, running stats) with exactly C elements, as (C,)."""
    if t is None:
        return None
    if not isinstance(t, Tensor):
        raise TypeError(f"{fname}(): argument '{name}' must be a Tensor or None, not "
                        f"{type(t).__name__}")
    if name.startswith("running") and t.ndim != 1:
        raise RuntimeError(f"{fname}(): {name} must be 1-D of shape ({channels},), got shape "
                           f"{tuple(t.shape)}")
    if t.numel() != channels:
        raise RuntimeError(
            f"{fname}(): {name} should contain {channels} elements (one per channel of the "
            f"input) not {t.numel()}, got {name} of shape {tuple(t.shape)}"
        )
    return t


def _flat(t: Tensor | None) -> Tensor | None:
    """(C, 1, ...) -> (C,) through the graph, so the gradient keeps the caller's shape."""
    return t if t is None or t.ndim == 1 else t.reshape(-1)


def _verify_batch_size(size: Sequence[int]) -> None:
    """Training statistics need more than one value per channel: N * prod(spatial) > 1."""
    prod = size[0]
    for s in size[2:]:
        prod *= s
    if prod == 1:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size "
            f"{list(size)}"
        )


def _verify_spatial_size(size: Sequence[int]) -> None:
    prod = 1
    for s in size[2:]:
        prod *= s
    if prod == 1:
        raise ValueError(
            f"Expected more than 1 spatial element when training, got input size {list(size)}"
        )


def _check_eps(eps: float, training: bool, fname: str) -> None:
    if training and eps <= 0.0:
        raise ValueError(f"{fname} eps must be positive during training, but got {eps}")
    if eps < 0.0:
        raise ValueError(f"{fname} eps must be non-negative, but got {eps}")


# ----------------------------------------------------------------------------- batch norm
def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-05) -> Tensor:
    """Batch normalisation of each channel over the batch and the spatial positions.

    For each channel c, over its M = N * L values (L = prod of the spatial sizes):

        training:  mu, var = mean and BIASED variance of the batch,
                   y = (x - mu) / sqrt(var + eps) * weight + bias,
                   running_mean <- (1 - momentum) running_mean + momentum mu,
                   running_var  <- (1 - momentum) running_var + momentum var * M / (M - 1)
        eval:      y = (x - running_mean) / sqrt(running_var + eps) * weight + bias

    The running statistics are updated in place (no gradient flows into them).

    Args:
        input: the batch, (N, C, *).
        running_mean: (C,) running mean or None (training only; required in eval).
        running_var: (C,) running variance or None (with `running_mean`).
        weight: (C,) scale gamma, or None for 1.
        bias: (C,) shift beta, or None for 0.
        training: use batch statistics (and update the running ones) if True.
        momentum: weight of the new batch in the running averages.
        eps: added to the variance for numerical stability.

    Shape:
        input (N, C, *) -> output (N, C, *), same shape and dtype.

    Raises:
        ValueError: a single value per channel when training, or a non-positive eps.
        RuntimeError: a per-channel tensor with the wrong number of elements, or missing
            running statistics in eval mode.
    """
    fname = "batch_norm"
    _check_input(input, fname)
    training = check_bool(training, "training", fname)
    momentum = check_number(momentum, "momentum", fname)
    eps = check_number(eps, "eps", fname)
    if input.ndim < 2:
        raise IndexError(
            f"batch_norm(): expected an input of shape (N, C, *) with at least 2 dimensions, "
            f"got a {input.ndim}-D input of shape {tuple(input.shape)}"
        )
    if training:
        _verify_batch_size(input.shape)
    _check_eps(eps, training, fname)
    _check_floating(input, fname)
    c = input.shape[1]
    if not training:
        if running_mean is None:
            raise RuntimeError("running_mean must be defined in evaluation mode")
        if running_var is None:
            raise RuntimeError("running_var must be defined in evaluation mode")
    elif (running_mean is None) != (running_var is None):
        raise ValueError(
            "running_mean and running_var must either both be None or neither be None"
        )
    rm = _channel_vector(running_mean, "running_mean", c, fname)
    rv = _channel_vector(running_var, "running_var", c, fname)
    weight = _flat(_channel_vector(weight, "weight", c, fname))
    bias = _flat(_channel_vector(bias, "bias", c, fname))
    if training and input.numel() == 0:
        rm = rv = None                                          # nothing to average (as torch)
    return K.BatchNorm.apply(
        input, weight, bias,
        running_mean=None if rm is None else rm.array,
        running_var=None if rv is None else rv.array,
        training=training, momentum=momentum, eps=eps,
    )


# ----------------------------------------------------------------------------- instance norm
def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-05) -> Tensor:
    """Instance normalisation: each channel of each sample over its own spatial positions.

    With `use_input_stats` (the default), for every (n, c) over its L spatial values:

        y[n, c] = (x[n, c] - mu[n, c]) / sqrt(var[n, c] + eps) * weight[c] + bias[c]

    (biased var), and given running statistics move toward the batch averages:
    running_mean <- (1 - momentum) running_mean + momentum mean_n(mu[n, :]), likewise
    running_var with the unbiased var * L / (L - 1).  Without it the running statistics
    normalise every sample (exactly batch norm in eval mode).

    Args:
        input: (N, C, *).
        running_mean: (C,) or None.
        running_var: (C,) or None (both or neither).
        weight: (C,) or None.
        bias: (C,) or None.
        use_input_stats: normalise with each instance's statistics if True.
        momentum: weight of the new statistics in the running averages.
        eps: added to the variance.

    Shape:
        input (N, C, *) -> output (N, C, *).

    Raises:
        ValueError: only one spatial element with `use_input_stats`; one running statistic
            without the other.
        RuntimeError: missing running statistics without `use_input_stats`; per-channel
            tensors of the wrong size.
    """
    fname = "instance_norm"
    _check_input(input, fname)
    use_input_stats = check_bool(use_input_stats, "use_input_stats", fname)
    momentum = check_number(momentum, "momentum", fname)
    eps = check_number(eps, "eps", fname)
    if use_input_stats:
        _verify_spatial_size(input.shape)
    if input.ndim < 2:
        raise IndexError(
            f"instance_norm(): expected an input of shape (N, C, *) with at least 2 "
            f"dimensions, got a {input.ndim}-D input of shape {tuple(input.shape)}"
        )
    _check_floating(input, fname)
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError(
            "Expected running_mean and running_var to be defined when use_input_stats is false"
        )
    if (running_mean is None) != (running_var is None):
        raise ValueError(
            "running_mean and running_var must either both be None or neither be None"
        )
    c = input.shape[1]
    rm = _channel_vector(running_mean, "running_mean", c, fname)
    rv = _channel_vector(running_var, "running_var", c, fname)
    weight = _flat(_channel_vector(weight, "weight", c, fname))
    bias = _flat(_channel_vector(bias, "bias", c, fname))
    if not use_input_stats:                                     # checked above: both given
        assert rm is not None and rv is not None
        return K.BatchNorm.apply(input, weight, bias, running_mean=rm.array,
                                 running_var=rv.array, training=False, eps=eps)
    if input.numel() == 0:
        rm = rv = None
    return K.InstanceNorm.apply(
        input, weight, bias,
        running_mean=None if rm is None else rm.array,
        running_var=None if rv is None else rv.array,
        momentum=momentum, eps=eps,
    )


# ----------------------------------------------------------------------------- layer norm
def layer_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-05) -> Tensor:
    """Layer normalisation over the last len(normalized_shape) dimensions.

    For every leading index r (the D = prod(normalized_shape) values x[r, ...]):

        y[r] = (x[r] - mu[r]) / sqrt(var[r] + eps) * weight + bias      (biased var)

    Args:
        input: (*, normalized_shape[0], ..., normalized_shape[-1]).
        normalized_shape: the trailing shape to normalise over (a tuple or list of ints).
        weight: elementwise scale of shape `normalized_shape`, or None.
        bias: elementwise shift of shape `normalized_shape`, or None.
        eps: added to the variance.

    Shape:
        input (*, *normalized_shape) -> output of the same shape.

    Raises:
        TypeError: `normalized_shape` not a sequence of ints.
        RuntimeError: empty `normalized_shape`, an input whose trailing shape differs, or a
            weight/bias of another shape.
    """
    fname = "layer_norm"
    _check_input(input, fname)
    if isinstance(normalized_shape, (str, bytes)) or not isinstance(normalized_shape,
                                                                     (tuple, list)):
        raise TypeError(
            f"layer_norm(): argument 'normalized_shape' must be tuple of ints, not "
            f"{type(normalized_shape).__name__}"
        )
    shape = tuple(check_int(s, "normalized_shape", fname) for s in normalized_shape)
    eps = check_number(eps, "eps", fname)
    if not shape:
        raise RuntimeError(
            "Expected normalized_shape to be at least 1-dimensional, i.e., containing at "
            "least one element, but got normalized_shape = []"
        )
    k = len(shape)
    if input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(map(str, shape))}], but got input of size{list(input.shape)}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (not isinstance(t, Tensor) or tuple(t.shape) != shape):
            got = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
            raise RuntimeError(
                f"Expected {name} to be of same shape as normalized_shape, but got {name} of "
                f"shape {list(got) if isinstance(got, tuple) else got} and normalized_shape = "
                f"{list(shape)}"
            )
    _check_floating(input, fname)
    return K.LayerNorm.apply(input, weight, bias, normalized_ndim=k, eps=eps)


# ----------------------------------------------------------------------------- group norm
def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-05) -> Tensor:
    """Group normalisation: the C channels split into `num_groups` groups of C/G channels.

    For every sample n and group g, over its (C/G) * L values:

        y[n, c] = (x[n, c] - mu[n, g]) / sqrt(var[n, g] + eps) * weight[c] + bias[c]

    (biased var).  G = 1 is layer norm over (C, *) with a per-channel affine; G = C is
    instance norm.

    Args:
        input: (N, C, *).
        num_groups: G, which must divide C.
        weight: (C,) per-channel scale, or None.
        bias: (C,) per-channel shift, or None.
        eps: added to the variance.

    Shape:
        input (N, C, *) -> output (N, C, *).

    Raises:
        RuntimeError: an input with fewer than 2 dims, C not divisible by G, or a
            weight/bias without C elements.
        ValueError: num_groups < 1, or one value per group.
    """
    fname = "group_norm"
    _check_input(input, fname)
    num_groups = check_int(num_groups, "num_groups", fname)
    eps = check_number(eps, "eps", fname)
    if input.ndim < 2:
        raise RuntimeError(
            f"Expected at least 2 dimensions for input tensor but received {input.ndim}"
        )
    if num_groups < 1:
        raise ValueError(f"group_norm(): num_groups must be a positive int, got {num_groups}")
    n, c = input.shape[0], input.shape[1]
    _verify_batch_size([n * c // num_groups, num_groups] + list(input.shape[2:]))
    if c % num_groups != 0:
        raise RuntimeError(
            f"Expected number of channels in input to be divisible by num_groups, but got "
            f"input of shape {list(input.shape)} and num_groups={num_groups}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (not isinstance(t, Tensor) or t.ndim != 1 or t.shape[0] != c):
            got = list(t.shape) if isinstance(t, Tensor) else type(t).__name__
            raise RuntimeError(
                f"Expected {name} to be a vector of size equal to the number of channels in "
                f"input, but got {name} of shape {got} and input of shape {list(input.shape)}"
            )
    _check_floating(input, fname)
    return K.GroupNorm.apply(input, weight, bias, num_groups=num_groups, eps=eps)


# ----------------------------------------------------------------------------- LRN
def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """Local response normalisation across channels (AlexNet, Krizhevsky et al. 2012).

    PyTorch's formula, with the channel window zero-padded and always averaged over `size`:

        y[n, c] = x[n, c] / (k + alpha / size * sum_{j=c-size//2}^{c+(size-1)//2} x[n, j]^2)^beta

    Args:
        input: (N, C, *) with at least one spatial dim.
        size: number of neighbouring channels in the window.
        alpha: multiplicative factor.
        beta: exponent.
        k: additive factor.

    Shape:
        input (N, C, *) -> output (N, C, *).

    Raises:
        ValueError: an input with fewer than 3 dimensions.
        RuntimeError: size < 1.
    """
    fname = "local_response_norm"
    _check_input(input, fname)
    size = check_int(size, "size", fname)
    alpha = check_number(alpha, "alpha", fname)
    beta = check_number(beta, "beta", fname)
    k = check_number(k, "k", fname)
    if input.ndim < 3:
        raise ValueError(
            f"Expected 3D or higher dimensionality input (got {input.ndim} dimensions)"
        )
    if input.numel() == 0:
        return input
    if size < 1:
        raise RuntimeError(f"local_response_norm(): size should be greater than zero, but got "
                           f"{size}")
    if input.dtype.kind != "f":                                 # as torch: ints give floats
        input = input.to(get_default_dtype())
    return K.LocalResponseNorm.apply(input, size=size, alpha=alpha, beta=beta, k=k)


# ----------------------------------------------------------------------------- RMS norm
__all__ += ["rms_norm"]


def rms_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """Root-mean-square normalisation (Zhang & Sennrich, 2019) over the last
    len(normalized_shape) dimensions, with no centring and no bias:

        y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * weight

    Written with differentiable tensor ops (so double backward comes free).

    Args:
        input: (*, normalized_shape[0], ..., normalized_shape[-1]).
        normalized_shape: the trailing shape to normalise over.
        weight: elementwise scale of shape `normalized_shape`, or None.
        eps: added to the mean square; None means the machine epsilon of the input's dtype.

    Shape:
        input (*, *normalized_shape) -> output of the same shape.
    """
    fname = "rms_norm"
    _check_input(input, fname)
    if isinstance(normalized_shape, int) and not isinstance(normalized_shape, bool):
        normalized_shape = (normalized_shape,)
    if isinstance(normalized_shape, (str, bytes)) or not isinstance(normalized_shape,
                                                                     (tuple, list)):
        raise TypeError(
            f"rms_norm(): argument 'normalized_shape' must be tuple of ints, not "
            f"{type(normalized_shape).__name__}"
        )
    shape = tuple(check_int(s, "normalized_shape", fname) for s in normalized_shape)
    k = len(shape)
    if input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(map(str, shape))}], but got input of size{list(input.shape)}"
        )
    if weight is not None and (not isinstance(weight, Tensor) or tuple(weight.shape) != shape):
        got = list(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__
        raise RuntimeError(
            f"Expected weight to be of same shape as normalized_shape, but got weight of shape "
            f"{got} and normalized_shape = {list(shape)}"
        )
    _check_floating(input, fname)
    e = float(np.finfo(input.dtype).eps) if eps is None else check_number(eps, "eps", fname)
    dims = tuple(range(input.ndim - k, input.ndim))
    y = input * ((input * input).mean(dims, keepdim=True) + e).rsqrt() if dims else input * (
        input * input + e).rsqrt()
    return y if weight is None else y * weight
