"""Normalisation layers mirroring torch.nn: BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, LayerNorm,
GroupNorm, LocalResponseNorm.

Parameter and buffer names, shapes, defaults, `state_dict` keys and reprs follow PyTorch:
batch/instance norm own `weight`, `bias` (C,) and the buffers `running_mean` (C,) zeros,
`running_var` (C,) ones and `num_batches_tracked` (an int64 scalar).

Shape legend: N batch, C channels, L length, H height, W width, D depth.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any, Sequence

import numpy as np

from numcnn import dtypes
from numcnn.nn import functional as F
from numcnn.nn import init
from numcnn.nn.module import Module
from numcnn.nn.parameter import Parameter
from numcnn.tensor import Tensor

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d",
           "InstanceNorm3d", "LayerNorm", "GroupNorm", "LocalResponseNorm"]


def _float_dtype(dtype: Any) -> np.dtype:
    return dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)


def _register_affine(module: Module, shape: tuple[int, ...], affine: bool, bias: bool,
                     dt: np.dtype) -> None:
    """The learnable gamma (`weight`) and beta (`bias`) of a normalisation layer, or None."""
    if affine:
        module.weight = Parameter(np.empty(shape, dtype=dt))
        if bias:
            module.bias = Parameter(np.empty(shape, dtype=dt))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def _reset_affine(module: Module) -> None:
    """gamma <- 1, beta <- 0 (the identity transform), where they exist."""
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _NormBase(Module):
    """Shared state of batch and instance norm: affine parameters and running statistics."""

    _version = 2
    num_features: int
    eps: float
    momentum: float | None
    affine: bool
    track_running_stats: bool
    weight: Parameter | None
    bias: Parameter | None
    running_mean: Tensor | None
    running_var: Tensor | None
    num_batches_tracked: Tensor | None

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, numbers.Integral) \
                or num_features < 0:
            raise TypeError(f"{type(self).__name__}: num_features must be a non-negative int, "
                            f"got {num_features!r}")
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        dt = _float_dtype(dtype)
        _register_affine(self, (self.num_features,), affine, bias, dt)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(self.num_features, dtype=dt)))
            self.register_buffer("running_var", Tensor(np.ones(self.num_features, dtype=dt)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """running_mean <- 0, running_var <- 1, num_batches_tracked <- 0."""
        for buf, value in ((self.running_mean, 0), (self.running_var, 1),
                           (self.num_batches_tracked, 0)):
            if buf is not None:
                buf.array[...] = value

    def reset_parameters(self) -> None:
        """Running statistics reset; weight <- 1, bias <- 0."""
        self.reset_running_stats()
        _reset_affine(self)

    def _check_input_dim(self, input: Tensor) -> None:
        raise NotImplementedError

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str,
                              local_metadata: dict[str, Any], strict: bool,
                              missing_keys: list[str], unexpected_keys: list[str],
                              error_msgs: list[str], assign: bool = False) -> None:
        """A checkpoint of version < 2 (or without metadata, e.g. a plain dict) may lack
        `num_batches_tracked`: as PyTorch, the module keeps its current count (0 if none)."""
        version = local_metadata.get("version")
        key = prefix + "num_batches_tracked"
        if (version is None or version < 2) and self.track_running_stats \
                and key not in state_dict:
            state_dict[key] = self.num_batches_tracked if self.num_batches_tracked is not None \
                else Tensor(np.array(0, dtype=np.int64))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs, assign)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


def _check_tensor(module: Module, input: object) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{type(module).__name__}.forward expected a Tensor, got "
                        f"{type(input).__name__}")
    return input


class _BatchNorm(_NormBase):
    """Batch normalisation (Ioffe & Szegedy 2015), PyTorch's `_BatchNorm.forward` logic:

    training: normalise with the batch statistics; with `track_running_stats`, increment
    `num_batches_tracked` and update the running statistics with factor `momentum`, or with
    1 / num_batches_tracked (a cumulative moving average) when `momentum` is None.
    eval: normalise with the running statistics (batch statistics when not tracked).
    """

    def _count_batch(self) -> float:
        """In training with tracked statistics, count this batch (num_batches_tracked += 1);
        return the running-average factor: `momentum`, or 1 / num_batches_tracked when
        `momentum` is None (a cumulative moving average)."""
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.array += 1                 # in place, int64 scalar
            if self.momentum is None:                          # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.array)
        return factor

    def forward(self, input: Tensor) -> Tensor:
        _check_tensor(self, input)
        self._check_input_dim(input)
        factor = self._count_batch()
        if self.training:
            bn_training = True
        else:
            bn_training = self.running_mean is None and self.running_var is None
        use_buffers = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if use_buffers else None,
            self.running_var if use_buffers else None,
            self.weight, self.bias, bn_training, factor, self.eps,
        )


class BatchNorm1d(_BatchNorm):
    """Batch norm over a 2-D (N, C) or 3-D (N, C, L) input; statistics per channel over N (, L).

        y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta

    Args:
        num_features: C.
        eps: added to the variance.
        momentum: running-average factor, or None for a cumulative average.
        affine: learn gamma (`weight`) and beta (`bias`).
        track_running_stats: keep running statistics (used in eval mode).
        device: accepted for PyTorch compatibility ("cpu").
        dtype: dtype of the parameters and running statistics (default float32).
        bias: learn beta (when `affine`).

    Shape:
        input (N, C) or (N, C, L) -> output of the same shape.
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.ndim}D input)")


class BatchNorm2d(_BatchNorm):
    """Batch norm over a 4-D (N, C, H, W) input; statistics per channel over (N, H, W).

        y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta

    Args: as `BatchNorm1d`.

    Shape:
        input (N, C, H, W) -> output (N, C, H, W).
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim != 4:
            raise ValueError(f"expected 4D input (got {input.ndim}D input)")


class BatchNorm3d(_BatchNorm):
    """Batch norm over a 5-D (N, C, D, H, W) input; statistics per channel over (N, D, H, W).

        y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta

    Args: as `BatchNorm1d`.

    Shape:
        input (N, C, D, H, W) -> output (N, C, D, H, W).
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim != 5:
            raise ValueError(f"expected 5D input (got {input.ndim}D input)")


class _InstanceNorm(_NormBase):
    """Instance normalisation (Ulyanov et al. 2016), PyTorch's `_InstanceNorm` logic.

    Every (n, c) plane is normalised with its own statistics in training mode or when
    running statistics are not tracked; otherwise (eval with `track_running_stats`) with the
    running ones.  An input without the batch dim is treated as a batch of one.
    """

    _no_batch_dim = 0

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)

    def _apply_instance_norm(self, input: Tensor) -> Tensor:
        return F.instance_norm(
            input, self.running_mean, self.running_var, self.weight, self.bias,
            self.training or not self.track_running_stats,
            self.momentum if self.momentum is not None else 0.0, self.eps,
        )

    def forward(self, input: Tensor) -> Tensor:
        _check_tensor(self, input)
        self._check_input_dim(input)
        feature_dim = input.ndim - self._no_batch_dim
        if input.shape[feature_dim] != self.num_features:
            if self.affine:
                raise ValueError(
                    f"expected input's size at dim={feature_dim} to match num_features "
                    f"({self.num_features}), but got: {input.shape[feature_dim]}."
                )
            warnings.warn(
                f"input's size at dim={feature_dim} does not match num_features. You can "
                "silence this warning by not passing in num_features, which is not used "
                "because affine=False", stacklevel=2,
            )
        if input.ndim == self._no_batch_dim:
            return self._apply_instance_norm(input.unsqueeze(0)).squeeze(0)
        return self._apply_instance_norm(input)


class InstanceNorm1d(_InstanceNorm):
    """Instance norm of (N, C, L) or unbatched (C, L): each (n, c) over its L values.

        y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta

    Args:
        num_features: C.
        eps: added to the variance.
        momentum: running-average factor (None counts as 0: the running stats stay put).
        affine: learn gamma and beta (default False).
        track_running_stats: keep running statistics and use them in eval (default False).
        device: accepted for PyTorch compatibility ("cpu").
        dtype: dtype of the parameters and running statistics.
        bias: learn beta (when `affine`).

    Shape:
        input (N, C, L) or (C, L) -> output of the same shape.
    """

    _no_batch_dim = 2

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.ndim}D input)")


class InstanceNorm2d(_InstanceNorm):
    """Instance norm of (N, C, H, W) or unbatched (C, H, W): each (n, c) over its H*W values.

        y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta

    Args: as `InstanceNorm1d`.

    Shape:
        input (N, C, H, W) or (C, H, W) -> output of the same shape.
    """

    _no_batch_dim = 3

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim not in (3, 4):
            raise ValueError(f"expected 3D or 4D input (got {input.ndim}D input)")


class InstanceNorm3d(_InstanceNorm):
    """Instance norm of (N, C, D, H, W) or unbatched (C, D, H, W), each (n, c) over D*H*W.

        y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta

    Args: as `InstanceNorm1d`.

    Shape:
        input (N, C, D, H, W) or (C, D, H, W) -> output of the same shape.
    """

    _no_batch_dim = 4

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim not in (4, 5):
            raise ValueError(f"expected 4D or 5D input (got {input.ndim}D input)")


class LayerNorm(Module):
    """Layer normalisation (Ba et al. 2016) over the trailing `normalized_shape` dims.

        y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta,  statistics per leading index

    Args:
        normalized_shape: an int or the trailing shape to normalise over.
        eps: added to the variance.
        elementwise_affine: learn gamma (ones) and beta (zeros) of shape `normalized_shape`.
        bias: learn beta (when `elementwise_affine`).
        device: accepted for PyTorch compatibility ("cpu").
        dtype: dtype of the parameters.

    Shape:
        input (*, *normalized_shape) -> output of the same shape.
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _register_affine(self, self.normalized_shape, elementwise_affine, bias,
                         _float_dtype(dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Group normalisation (Wu & He 2018): C channels in `num_groups` groups, statistics per
    (sample, group) over its C/G channels and all positions, affine per channel.

        y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta

    Args:
        num_groups: G, which must divide `num_channels`.
        num_channels: C.
        eps: added to the variance.
        affine: learn per-channel gamma (ones) and beta (zeros).
        device: accepted for PyTorch compatibility ("cpu").
        dtype: dtype of the parameters.
        bias: learn beta (when `affine`).

    Shape:
        input (N, C, *) -> output (N, C, *).

    Raises:
        ValueError: `num_channels` not divisible by `num_groups`.
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        if num_groups == 0 or num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _register_affine(self, (num_channels,), affine, bias, _float_dtype(dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
                f"affine={self.affine}, bias={self.bias is not None}")


class LocalResponseNorm(Module):
    """Local response normalisation across channels (AlexNet):

        y[n, c] = x[n, c] / (k + alpha / size * sum_{c' in window(c)} x[n, c']^2)^beta

    with the window [c - size//2, c + (size-1)//2], zero-padded at the edges.

    Args:
        size: number of neighbouring channels used for normalisation.
        alpha: multiplicative factor.
        beta: exponent.
        k: additive factor.

    Shape:
        input (N, C, *) -> output (N, C, *).
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75,
                 k: float = 1.0) -> None:
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input: Tensor) -> Tensor:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class RMSNorm(Module):
    """Root-mean-square normalisation (Zhang & Sennrich, 2019) over the trailing dims:

        y = x / sqrt(mean(x^2) + eps) * gamma

    Args:
        normalized_shape: an int or the trailing shape to normalise over.
        eps: added to the mean square; None means the machine epsilon of the input's dtype.
        elementwise_affine: learn gamma (ones) of shape `normalized_shape`.
        device: accepted for PyTorch compatibility ("cpu").
        dtype: dtype of the parameter.

    Shape:
        input (*, *normalized_shape) -> output of the same shape.
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float | None = None,
                 elementwise_affine: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(np.empty(self.normalized_shape, dtype=_float_dtype(dtype)))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, x: Tensor) -> Tensor:
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


__all__ += ["RMSNorm"]
