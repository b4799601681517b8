"""Lazy layers mirroring torch.nn: the input size is inferred on the first forward.

`LazyLinear(out_features)`, `LazyConv2d(out_channels, kernel_size)`, `LazyBatchNorm2d()` ...
take every argument of their plain layer except the one that depends on the input
(`in_features`, `in_channels`, `num_features`).  Until the first call their parameters are
`UninitializedParameter`s (and batch norm's running statistics `UninitializedBuffer`s): they are
already in `module.parameters()`, so an optimizer can be built first.  The first forward reads
the size from the input, materialises those same objects in place (the optimizer keeps
working on them), initialises them as the plain layer does, and turns the module into the plain
class (`type(m) is Conv2d` afterwards, PyTorch's `cls_to_become`).

`load_state_dict` into an uninitialised lazy module materialises the parameters with the
checkpoint's shapes (the module becomes the plain class at its next forward, as in PyTorch);
unlike PyTorch it also sets `in_features`/`in_channels`/`num_features` from those shapes.

Shape legend: N batch, C channels, L length, H height, W width, D depth.
"""

from __future__ import annotations

import itertools
from typing import Any

from numcnn.nn.module import Module
from numcnn.nn.modules.conv import (
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
    _ConvNd,
)
from numcnn.nn.modules.linear import Linear
from numcnn.nn.modules.norm import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    _NormBase,
)
from numcnn.nn.parameter import UninitializedBuffer, UninitializedParameter, is_lazy
from numcnn.tensor import Tensor

__all__ = ["LazyModuleMixin", "LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d",
           "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d",
           "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyInstanceNorm1d",
           "LazyInstanceNorm2d", "LazyInstanceNorm3d"]


class LazyModuleMixin:
    """Shared machinery of the lazy layers (as `torch.nn.modules.lazy.LazyModuleMixin`).

    A forward pre-hook calls `initialize_parameters(*args, **kwargs)` before the first forward,
    then removes itself and sets the class to `cls_to_become`.
    """

    cls_to_become: type[Module] | None = None
    _parameters: dict[str, Any]
    _buffers: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(  # type: ignore[attr-defined]
            self._infer_parameters, with_kwargs=True)

    def has_uninitialized_params(self) -> bool:
        """Whether some parameter or buffer is still an uninitialised placeholder."""
        return any(is_lazy(t) for t in itertools.chain(self._parameters.values(),
                                                        self._buffers.values()))

    def initialize_parameters(self, *args: Any, **kwargs: Any) -> None:
        """Materialise the parameters from the first forward's arguments."""
        raise NotImplementedError(f"initialize_parameters is not implemented for "
                                  f"{type(self).__name__}")

    def _infer_parameters(self, module: Module, args: tuple[Any, ...],
                          kwargs: dict[str, Any]) -> None:
        self.initialize_parameters(*args, **kwargs)
        if self.has_uninitialized_params():
            raise RuntimeError(f"module {type(self).__name__} has not been fully initialized")
        self._initialize_hook.remove()
        del self._initialize_hook
        if self.cls_to_become is not None:
            self.__class__ = self.cls_to_become  # type: ignore[assignment]

    def _infer_from_loaded(self, shapes: dict[str, tuple[int, ...]]) -> None:
        """Set the input-dependent attribute from the shapes of a loaded checkpoint."""

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str,
                              local_metadata: dict[str, Any], strict: bool,
                              missing_keys: list[str], unexpected_keys: list[str],
                              error_msgs: list[str], assign: bool = False) -> None:
        """Materialise every placeholder that the checkpoint has a value for, then load."""
        shapes: dict[str, tuple[int, ...]] = {}
        for name, t in itertools.chain(self._parameters.items(), self._buffers.items()):
            value = state_dict.get(prefix + name)
            if is_lazy(t) and value is not None and not is_lazy(value):
                shape = tuple(value.shape)
                t.materialize(shape)
                shapes[name] = shape
        if shapes:
            self._infer_from_loaded(shapes)
        super()._load_from_state_dict(  # type: ignore[misc]
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
            error_msgs, assign)


# --------------------------------------------------------------------------- linear
class LazyLinear(LazyModuleMixin, Linear):
    """`Linear` whose `in_features` is the last dim of the first input: y = x W^T + b.

    Args:
        out_features: size of each output sample (O).
        bias: learn an additive bias.
        device: accepted for PyTorch compatibility ("cpu" only).
        dtype: parameter dtype (default: numcnn's default dtype).

    Shape:
        input (*, I) -> output (*, O); weight (O, I) once I is known.
    """

    cls_to_become = Linear
    weight: Any
    bias: Any

    def __init__(self, out_features: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(0, 0, False)
        self.weight = UninitializedParameter(dtype=dtype)
        self.out_features = int(out_features)
        if bias:
            self.bias = UninitializedParameter(dtype=dtype)

    def reset_parameters(self) -> None:
        """As `Linear.reset_parameters`, once the shapes are known."""
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: Tensor, *args: Any, **kwargs: Any) -> None:
        if self.has_uninitialized_params():
            self.in_features = int(input.shape[-1])
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.reset_parameters()

    def _infer_from_loaded(self, shapes: dict[str, tuple[int, ...]]) -> None:
        if "weight" in shapes:
            self.in_features = shapes["weight"][1]


# --------------------------------------------------------------------------- convolution
class _LazyConvMixin(LazyModuleMixin):
    """in_channels = input.shape[1] (input.shape[0] unbatched); weight as the plain layer."""

    in_channels: int
    out_channels: int
    groups: int
    kernel_size: tuple[int, ...]
    transposed: bool
    _nd: int
    weight: Any
    bias: Any

    def _lazy_init(self, out_channels: int, bias: bool, dtype: Any) -> None:
        self.weight = UninitializedParameter(dtype=dtype)
        self.out_channels = int(out_channels)
        if bias:
            self.bias = UninitializedParameter(dtype=dtype)

    def reset_parameters(self) -> None:
        """As the plain layer's `reset_parameters`, once the shapes are known."""
        if not self.has_uninitialized_params() and self.in_channels != 0:
            _ConvNd.reset_parameters(self)  # type: ignore[arg-type]

    def initialize_parameters(self, input: Tensor, *args: Any, **kwargs: Any) -> None:
        if not self.has_uninitialized_params():
            return
        nd = self._nd
        if input.ndim not in (nd + 1, nd + 2):
            raise RuntimeError(
                f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to "
                f"{type(self).__name__}, but got input of size: {tuple(input.shape)}"
            )
        in_channels = int(input.shape[1] if input.ndim == nd + 2 else input.shape[0])
        if in_channels % self.groups != 0:
            raise ValueError(f"in_channels must be divisible by groups, got in_channels="
                             f"{in_channels} and groups={self.groups}")
        self.in_channels = in_channels
        if self.transposed:
            shape = (in_channels, self.out_channels // self.groups, *self.kernel_size)
        else:
            shape = (self.out_channels, in_channels // self.groups, *self.kernel_size)
        self.weight.materialize(shape)
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))
        self.reset_parameters()

    def _infer_from_loaded(self, shapes: dict[str, tuple[int, ...]]) -> None:
        if "weight" in shapes:
            w = shapes["weight"]
            self.in_channels = w[0] if self.transposed else w[1] * self.groups


class _LazyConv(_LazyConvMixin):
    def __init__(self, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups,  # type: ignore
                         False, padding_mode)
        self._lazy_init(out_channels, bias, dtype)


class _LazyConvTranspose(_LazyConvMixin):
    def __init__(self, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(0, 0, kernel_size, stride, padding,  # type: ignore[call-arg]
                         output_padding, groups, False, dilation, padding_mode)
        self._lazy_init(out_channels, bias, dtype)


class LazyConv1d(_LazyConv, Conv1d):
    """`Conv1d` whose `in_channels` is the input's channel count C_in.

    Args: as `Conv1d`, without `in_channels`.

    Shape:
        input (N, C_in, L) or (C_in, L) -> output as `Conv1d`; weight (C_out, C_in/groups, k).
    """

    cls_to_become = Conv1d


class LazyConv2d(_LazyConv, Conv2d):
    """`Conv2d` whose `in_channels` is the input's channel count C_in.

    Args: as `Conv2d`, without `in_channels`.

    Shape:
        input (N, C_in, H, W) or (C_in, H, W) -> output as `Conv2d`;
        weight (C_out, C_in/groups, kH, kW).
    """

    cls_to_become = Conv2d


class LazyConv3d(_LazyConv, Conv3d):
    """`Conv3d` whose `in_channels` is the input's channel count C_in.

    Args: as `Conv3d`, without `in_channels`.

    Shape:
        input (N, C_in, D, H, W) or (C_in, D, H, W) -> output as `Conv3d`;
        weight (C_out, C_in/groups, kD, kH, kW).
    """

    cls_to_become = Conv3d


class LazyConvTranspose1d(_LazyConvTranspose, ConvTranspose1d):
    """`ConvTranspose1d` whose `in_channels` is the input's channel count C_in.

    Args: as `ConvTranspose1d`, without `in_channels`.

    Shape:
        input (N, C_in, L) -> output as `ConvTranspose1d`; weight (C_in, C_out/groups, k).
    """

    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyConvTranspose, ConvTranspose2d):
    """`ConvTranspose2d` whose `in_channels` is the input's channel count C_in.

    Args: as `ConvTranspose2d`, without `in_channels`.

    Shape:
        input (N, C_in, H, W) -> output as `ConvTranspose2d`; weight (C_in, C_out/groups, kH, kW).
    """

    cls_to_become = ConvTranspose2d


class LazyConvTranspose3d(_LazyConvTranspose, ConvTranspose3d):
    """`ConvTranspose3d` whose `in_channels` is the input's channel count C_in.

    Args: as `ConvTranspose3d`, without `in_channels`.

    Shape:
        input (N, C_in, D, H, W) -> output as `ConvTranspose3d`;
        weight (C_in, C_out/groups, kD, kH, kW).
    """

    cls_to_become = ConvTranspose3d


# --------------------------------------------------------------------------- normalisation
class _LazyNormBase(LazyModuleMixin):
    """num_features = the input's channel count; gamma, beta, running mean and variance (C,)."""

    num_features: int
    affine: bool
    track_running_stats: bool
    weight: Any
    bias: Any
    running_mean: Any
    running_var: Any
    num_batches_tracked: Any

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__(0, eps, momentum, False, False)  # type: ignore[call-arg]
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = UninitializedParameter(dtype=dtype)
            if bias:
                self.bias = UninitializedParameter(dtype=dtype)
        if track_running_stats:
            self.running_mean = UninitializedBuffer(dtype=dtype)
            self.running_var = UninitializedBuffer(dtype=dtype)
            self.num_batches_tracked = Tensor(0)

    def reset_parameters(self) -> None:
        """Running statistics 0 and 1, gamma 1, beta 0, once the shapes are known."""
        if not self.has_uninitialized_params() and self.num_features != 0:
            _NormBase.reset_parameters(self)  # type: ignore[arg-type]

    def _feature_dim(self, input: Tensor) -> int:
        return 1

    def initialize_parameters(self, input: Tensor, *args: Any, **kwargs: Any) -> None:
        if not self.has_uninitialized_params():
            return
        if not isinstance(input, Tensor):
            raise TypeError(f"{type(self).__name__}.forward expected a Tensor, got "
                            f"{type(input).__name__}")
        self._check_input_dim(input)  # type: ignore[attr-defined]
        self.num_features = int(input.shape[self._feature_dim(input)])
        for t in (self.weight, self.bias, self.running_mean, self.running_var):
            if is_lazy(t):
                t.materialize((self.num_features,))
        self.reset_parameters()

    def _infer_from_loaded(self, shapes: dict[str, tuple[int, ...]]) -> None:
        self.num_features = next(iter(shapes.values()))[0]


class _LazyInstanceNormBase(_LazyNormBase):
    """Instance norm's feature dim: 1 batched, 0 unbatched (PyTorch's lazy instance norm reads
    dim 1 even for an unbatched input and then fails; numcnn reads the channel dim)."""

    _no_batch_dim: int

    def _feature_dim(self, input: Tensor) -> int:
        return input.ndim - self._no_batch_dim


class LazyBatchNorm1d(_LazyNormBase, BatchNorm1d):
    """`BatchNorm1d` whose `num_features` is the input's C.

    Args: as `BatchNorm1d`, without `num_features`.

    Shape:
        input (N, C) or (N, C, L) -> output of the same shape.
    """

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyNormBase, BatchNorm2d):
    """`BatchNorm2d` whose `num_features` is the input's C.

    Args: as `BatchNorm2d`, without `num_features`.

    Shape:
        input (N, C, H, W) -> output of the same shape.
    """

    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyNormBase, BatchNorm3d):
    """`BatchNorm3d` whose `num_features` is the input's C.

    Args: as `BatchNorm3d`, without `num_features`.

    Shape:
        input (N, C, D, H, W) -> output of the same shape.
    """

    cls_to_become = BatchNorm3d


class LazyInstanceNorm1d(_LazyInstanceNormBase, InstanceNorm1d):
    """`InstanceNorm1d` whose `num_features` is the input's C.  As PyTorch, the lazy form
    defaults to affine=True and track_running_stats=True (the plain one to False).

    Shape:
        input (N, C, L) or (C, L) -> output of the same shape.
    """

    cls_to_become = InstanceNorm1d


class LazyInstanceNorm2d(_LazyInstanceNormBase, InstanceNorm2d):
    """`InstanceNorm2d` whose `num_features` is the input's C (affine=True and
    track_running_stats=True by default, as PyTorch's lazy form).

    Shape:
        input (N, C, H, W) or (C, H, W) -> output of the same shape.
    """

    cls_to_become = InstanceNorm2d


class LazyInstanceNorm3d(_LazyInstanceNormBase, InstanceNorm3d):
    """`InstanceNorm3d` whose `num_features` is the input's C (affine=True and
    track_running_stats=True by default, as PyTorch's lazy form).

    Shape:
        input (N, C, D, H, W) or (C, D, H, W) -> output of the same shape.
    """

    cls_to_become = InstanceNorm3d

