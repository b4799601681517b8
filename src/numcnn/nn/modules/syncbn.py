"""`SyncBatchNorm`: batch norm whose statistics are those of the GLOBAL batch of all ranks.

Data parallelism splits a batch of N samples over p processes; plain batch norm would then
normalise each rank's N/p samples by their own mean and variance, and the model would learn
something other than what one process on the whole batch learns.  SyncBatchNorm makes every
rank use the statistics of the whole batch.  For one channel, with M_r values on rank r and
M = sum_r M_r (allreduce sums, written "sum_all"):

    mu    = sum_all(sum_i x_i) / M                          allreduce 1: (C + 1) numbers
    var   = sum_all(sum_i (x_i - mu)^2) / M   (biased)      allreduce 2: C numbers
    xhat  = (x - mu) / sqrt(var + eps),   y = w * xhat + b

(two passes, as the one-process kernel, rather than E[x^2] - mu^2, which loses digits.)
The running statistics move toward mu and the unbiased global variance var * M / (M - 1).

Backward.  mu and var depend on every rank's x, so the input gradient needs two per-channel
sums over the global batch (gy = dL/dy):

    dx = (w / (M sqrt(var + eps))) * (M gy - sum_all(gy) - xhat * sum_all(gy * xhat))

    allreduce 3: 2C numbers, (sum(gy), sum(gy * xhat)).

The parameter gradients dw = sum(gy * xhat), db = sum(gy) are returned as this rank's LOCAL
sums, as PyTorch does: DistributedDataParallel averages parameter gradients over the ranks
anyway, and reducing them here too would count them twice.

With one process (world size 1), or in eval mode, SyncBatchNorm is exactly BatchNorm.

Shape legend: N batch, C channels, * any spatial dimensions, M values per channel.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numcnn.autograd.function import Context, Function
from numcnn.nn.module import Module
from numcnn.nn.modules.norm import _BatchNorm, _check_tensor
from numcnn.ops.norm import _update_running
from numcnn.tensor import Tensor

__all__ = ["SyncBatchNorm"]


def _group_size(group: Any) -> int:
    """How many processes synchronise: group's size once numcnn.distributed is initialised,
    else 1 (as torch, an uninitialised process normalises on its own)."""
    import numcnn.distributed as dist
    return dist.get_world_size(group) if dist.is_initialized() else 1


def _allreduce_sum(a: np.ndarray, group: Any) -> np.ndarray:
    """The elementwise sum of `a` over the ranks of `group` (None: the world); `a` is a
    temporary of the caller's and is overwritten."""
    import numcnn.distributed as dist
    return dist.allreduce_array(a, group=group)


class SyncBatchNormFunction(Function):
    """Batch norm over the global batch of all ranks; the module docstring has the formulas."""

    @staticmethod
    def forward(ctx: Context, x, weight, bias, *, running_mean=None, running_var=None,
                momentum=0.1, eps=1e-5, group=None):
        shape, c = x.shape, x.shape[1]
        x = x.reshape(shape[0], c, int(np.prod(shape[2:])))    # (N, C, L), L = prod(*)
        w = None if weight is None else np.asarray(weight, dtype=x.dtype)
        b = None if bias is None else np.asarray(bias, dtype=x.dtype)
        # allreduce 1: per-channel sums and the value count -> the global mean
        local = np.concatenate([x.sum(axis=(0, 2)), [x.size // c]]).astype(x.dtype)  # (C+1,)
        total = _allreduce_sum(local, group)
        m = total[c]                                           # M, the global count
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = total[:c] / m                               # (C,)
            xc = x - mean[:, None]                             # (N, C, L), x - mu
            # allreduce 2: per-channel sums of squared deviations -> the global variance
            var = _allreduce_sum(np.einsum("ncl,ncl->c", xc, xc), group) / m   # biased
            inv_std = 1.0 / np.sqrt(var + eps)                 # (C,)
            _update_running(running_mean, mean, momentum)
            if running_var is not None:
                unbiased = var * (m / (m - 1)) if m > 1 else np.full_like(var, np.nan)
                _update_running(running_var, unbiased, momentum)
            xhat = xc * inv_std[:, None]
        y = xhat if w is None else xhat * w[:, None]
        if b is not None:
            y = y + b[:, None]
        ctx.save_for_backward(xhat, inv_std, w)
        ctx.count, ctx.group, ctx.shape = m, group, shape
        return y.reshape(shape)

    @staticmethod
    def backward(ctx: Context, gy):
        need_x, need_w, need_b = ctx.needs_input_grad
        xhat, inv_std, w = ctx.saved
        m = ctx.count
        gy = gy.reshape(xhat.shape)                            # (N, C, L), as x
        sum_gy = gy.sum(axis=(0, 2))                           # (C,), this rank's db
        sum_gy_xhat = np.einsum("ncl,ncl->c", gy, xhat)        # (C,), this rank's dw
        gx = None
        if need_x:
            # allreduce 3: the two sums over the global batch
            c = sum_gy.shape[0]
            both = _allreduce_sum(np.concatenate([sum_gy, sum_gy_xhat]), ctx.group)
            all_gy, all_gy_xhat = both[:c], both[c:]
            k = inv_std if w is None else w * inv_std         # (C,), w / sqrt(var + eps)
            with np.errstate(divide="ignore", invalid="ignore"):
                gx = (k / m)[:, None] * (m * gy - all_gy[:, None] - xhat * all_gy_xhat[:, None])
            gx = gx.reshape(ctx.shape)
        return gx, (sum_gy_xhat if need_w else None), (sum_gy if need_b else None)


class SyncBatchNorm(_BatchNorm):
    """Batch norm with the statistics of the whole batch across all ranks (PyTorch's
    torch.nn.SyncBatchNorm); see the module docstring for the formulas and what is reduced.

        y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta,   E, Var over all ranks' batches

    In training mode with more than one process, the mean and variance are those of the global
    batch, the running statistics are updated with them (the unbiased global variance), and
    the input gradient is that of one process holding the whole batch; the weight and bias
    gradients are each rank's own share (DistributedDataParallel sums and averages them).
    With one process, or in eval mode, it computes exactly what BatchNorm1d/2d/3d computes.
    Every rank must call forward (and backward) the same number of times: the reductions are
    collective.

    Args:
        num_features: C.
        eps: added to the variance.
        momentum: running-average factor, or None for a cumulative average.
        affine: learn gamma (`weight`) and beta (`bias`).
        track_running_stats: keep running statistics (used in eval mode).
        process_group: the ranks to synchronise over (None: all of them).
        device: accepted for PyTorch compatibility ("cpu").
        dtype: dtype of the parameters and running statistics (default float32).
        bias: learn beta (when `affine`).

    Shape:
        input (N, C, *) -> output of the same shape.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 process_group: Any = None, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats,
                         device=device, dtype=dtype, bias=bias)
        self.process_group = process_group

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim < 2:
            raise ValueError(f"expected at least 2D input (got {input.ndim}D input)")

    def forward(self, input: Tensor) -> Tensor:
        _check_tensor(self, input)
        self._check_input_dim(input)
        if input.shape[1] == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")
        need_sync = self.training and _group_size(self.process_group) > 1
        if not need_sync:                     # one process, or eval: plain batch norm
            return super().forward(input)
        if input.dtype.kind != "f":
            raise TypeError(f"SyncBatchNorm expects a floating-point input, got {input.dtype}")
        factor = self._count_batch()
        track = self.track_running_stats and self.num_batches_tracked is not None
        running_mean = self.running_mean if track else None
        running_var = self.running_var if track else None
        return SyncBatchNormFunction.apply(
            input, self.weight, self.bias,
            running_mean=None if running_mean is None else running_mean.array,
            running_var=None if running_var is None else running_var.array,
            momentum=factor, eps=self.eps, group=self.process_group,
        )

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """Replace every BatchNorm1d/2d/3d in `module` (and `module` itself, if it is one) by a
        SyncBatchNorm that shares its parameters and buffers and keeps its training flag.

        Returns:
            `module` with its batch norms replaced, or a new SyncBatchNorm when `module` itself
            is a batch norm.
        """
        out = module
        if isinstance(module, _BatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group,
                      bias=module.bias is not None)
            if module.affine:
                out.weight = module.weight
                out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
            if hasattr(module, "qconfig"):
                out.qconfig = module.qconfig
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out
