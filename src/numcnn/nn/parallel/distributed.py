"""`DistributedDataParallel`: data-parallel training over MPI, with torch's semantics.

Every rank (process) holds a full copy of the model and sees its own slice of the batch.  After
each backward pass every rank must hold the same gradient: the average over ranks of the local
gradients,

    g = (1/p) * sum_r g_r          (p = world size, g_r = rank r's gradient of its own loss)

so that identical optimizer steps keep the copies identical.  With a per-rank mean loss over
equal slices this g is exactly the gradient of the mean loss over the global batch.

How the averaging overlaps the backward pass (as torch's Reducer):

- At wrap time the parameters are split into buckets of about `bucket_cap_mb` megabytes
  (torch's assignment: walk the parameters in registration order, close a bucket once its bytes
  reach the cap, one dtype per bucket) and the buckets are reduced in reverse order, since the
  backward pass produces the last layers' gradients first.
- Each parameter's post-accumulate-grad hook marks it ready.  When every parameter of the next
  bucket in line is ready, the bucket's gradients are copied into one flat array, divided by p,
  and a non-blocking all-reduce (MPI_Iallreduce, sum) is started at once; the backward pass goes
  on computing the earlier layers while the messages travel.  Buckets start strictly in order,
  so every rank issues the same collectives in the same order.
- A callback queued on the backward pass (`numcnn.autograd.queue_callback`) runs when it ends:
  it waits for every bucket and writes the averaged values back into each `.grad`, so the
  optimizer step sees them.

The synchronisation decision is made at forward time (as torch): a forward under `no_sync()`
arms no reduction, so its backward only accumulates locally; the first forward/backward outside
`no_sync()` averages the accumulated gradients.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from typing import Any, Sequence

import numpy as np

from numcnn.nn.module import Module
from numcnn.tensor import Tensor

_MB_TO_BYTES = 1024 * 1024
_DEFAULT_BUCKET_CAP_MB = 25.0
_DEFAULT_FIRST_BUCKET_BYTES = 1024 * 1024       # torch's smaller first bucket, with the default cap


def _dist() -> Any:
    from numcnn import distributed  # imports mpi4py only when launched by MPI
    return distributed


def _assign_buckets(params: Sequence[Tensor], limits: Sequence[int]) -> list[list[int]]:
    """Indices of `params` grouped into buckets, in the order they will be reduced.

    Walks `params` in registration order, one open bucket per dtype; a bucket is closed once its
    bytes reach the current limit (`limits[0]` for the first bucket closed, then `limits[1]`,
    ..., the last limit repeating).  The list is returned reversed: last layers first.
    """
    closed: list[list[int]] = []
    open_: dict[Any, tuple[list[int], int]] = {}
    limit_pos: dict[Any, int] = {}
    for i, p in enumerate(params):
        key = p.array.dtype
        members, size = open_.get(key, ([], 0))
        members.append(i)
        size += p.array.nbytes
        pos = limit_pos.get(key, 0)
        if size >= limits[min(pos, len(limits) - 1)]:
            closed.append(members)
            limit_pos[key] = pos + 1
            open_.pop(key, None)
        else:
            open_[key] = (members, size)
    closed.extend(members for members, _ in open_.values())
    closed.sort(key=min)
    return list(reversed(closed))


class _Bucket:
    """Parameters reduced together: their positions, offsets in one flat array, the request."""

    def __init__(self, indices: list[int], params: Sequence[Tensor]) -> None:
        self.indices = indices
        self.offsets: list[int] = []
        total = 0
        for i in indices:
            self.offsets.append(total)
            total += params[i].array.size
        self.dtype = params[indices[0]].array.dtype
        self.size = total
        self.flat: np.ndarray | None = None
        self.work: Any = None                 # the request of the all-reduce in flight
        self.pending = len(indices)           # parameters not yet ready in this pass
        self.used: np.ndarray | None = None   # per parameter: 1 if it had a gradient here


class _DoneWork:
    """A request that is already complete (the world of one process)."""

    def wait(self) -> bool:
        return True

    def is_completed(self) -> bool:
        return True


class DistributedDataParallel(Module):
    """Wraps `module` for data-parallel training: gradients are averaged over all ranks.

    Each rank runs the same script on its own part of the data; call `numcnn.distributed.init()`
    first (without MPI, or under a plain `python`, the world is one process and the wrapper
    changes nothing).

    Args:
        module: the module to replicate (registered as the submodule "module", so state-dict
            keys begin with "module.", as torch's).
        device_ids, output_device: accepted for code written for GPUs and ignored (CPU only,
            both become None as in torch for a CPU module); more than one device id is an error.
        dim: accepted and unused (the batch is split by the data loader, not by the wrapper).
        broadcast_buffers: before each forward (that follows a synchronised one), copy rank 0's
            buffers (batch-norm running statistics) to every rank.
        process_group: must be None (the world communicator) in numcnn.
        bucket_cap_mb: bucket size in MiB; the default is 25, with a first bucket of 1 MiB
            (torch's defaults).  A given value applies to every bucket.
        find_unused_parameters: parameters that get no gradient in a backward pass count as
            zero gradients (their `.grad` is left untouched where no rank used them).  Without
            it such a parameter is an error, raised at the end of that backward pass.
        init_sync: broadcast rank 0's parameters and buffers at wrap time (torch's default).
        check_reduction, gradient_as_bucket_view, static_graph: accepted for compatibility;
            they change nothing here.

    Attributes:
        module: the wrapped module.
        require_backward_grad_sync: False inside `no_sync()`.

    Example:
        >>> dist.init(); model = DistributedDataParallel(net)
        >>> loss = loss_fn(model(x_local), y_local); loss.backward(); opt.step()
    """

    def __init__(self, module: Module, device_ids: Sequence[Any] | None = None,
                 output_device: Any = None, dim: int = 0, broadcast_buffers: bool = True,
                 process_group: Any = None, bucket_cap_mb: float | None = None,
                 find_unused_parameters: bool = False, check_reduction: bool = False,
                 gradient_as_bucket_view: bool = False, static_graph: bool = False,
                 init_sync: bool = True) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(
                f"DistributedDataParallel expects an nn.Module, got {type(module).__name__}")
        if device_ids is not None and len(device_ids) > 1:
            raise ValueError("device_ids can only be None or contain a single element.")
        if process_group is not None:
            raise ValueError("process_group must be None: numcnn runs on MPI's world "
                             "communicator (numcnn.distributed.init())")
        if bucket_cap_mb is not None and not bucket_cap_mb > 0:
            raise ValueError(f"bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.module = module
        self.device_ids = None
        self.output_device = None
        self.dim = dim
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.gradient_as_bucket_view = bool(gradient_as_bucket_view)
        self.static_graph = bool(static_graph)
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True

        ignore = set(getattr(module, "_ddp_params_and_buffers_to_ignore", ()))
        named = [(n, p) for n, p in module.named_parameters() if n not in ignore]
        if not any(p.requires_grad for _, p in named):
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't "
                               "have any parameter that requires a gradient.")
        self._param_names = [n for n, p in named if p.requires_grad]
        self._params = [p for _, p in named if p.requires_grad]
        self._buffers_to_sync = [b for n, b in module.named_buffers()
                                 if n not in ignore and b is not None]
        self.bucket_bytes_cap = int((bucket_cap_mb if bucket_cap_mb is not None
                                     else _DEFAULT_BUCKET_CAP_MB) * _MB_TO_BYTES)
        first = _DEFAULT_FIRST_BUCKET_BYTES if bucket_cap_mb is None else self.bucket_bytes_cap
        self._buckets = [_Bucket(ix, self._params)
                         for ix in _assign_buckets(self._params, [first, self.bucket_bytes_cap])]
        self._bucket_of: dict[int, tuple[int, int]] = {}   # param index -> (bucket, position)
        for b, bucket in enumerate(self._buckets):
            for j, i in enumerate(bucket.indices):
                self._bucket_of[i] = (b, j)

        dist = _dist()
        self._world_size = int(dist.get_world_size())
        self._rank = int(dist.get_rank())
        if init_sync and self._world_size > 1:
            self._broadcast_from_rank0([p for _, p in named] + self._buffers_to_sync)

        # per backward pass
        self._armed = False                 # a forward with sync asked for a reduction
        self._started = False               # some hook fired: the final callback is queued
        self._ready = [False] * len(self._params)
        self._next_bucket = 0
        self._unused: list[int] = []        # found unused by the forward's graph search
        self.launched: list[int] = []       # buckets started by the backward of the latest
        #                                     forward, in order (for inspection and tests)

        me = weakref.ref(self)
        self._hook_handles: list[Any] = []
        for i, p in enumerate(self._params):
            def hook(param: Tensor, i: int = i) -> None:
                ddp = me()
                if ddp is not None:
                    ddp._on_grad_ready(i)
            self._hook_handles.append(p.register_post_accumulate_grad_hook(hook))

    # ----------------------------------------------------------------------------- forward
    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        from numcnn.autograd import grad_mode

        if self._armed and self._started:
            self._armed = self._started = False     # reported once; the next forward may go on
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a "
                "new one: the previous backward pass was interrupted before its gradients were "
                "averaged.")
        if (self.broadcast_buffers and self.require_forward_param_sync
                and self._world_size > 1 and self._buffers_to_sync):
            self._broadcast_from_rank0(self._buffers_to_sync)
        output = self.module(*inputs, **kwargs)
        if grad_mode.is_grad_enabled() and self.require_backward_grad_sync:
            self.require_forward_param_sync = True
            self._prepare_for_backward(output)
        else:
            self.require_forward_param_sync = False
            self._armed = False
            self.launched = []
        return output

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Within this context gradients only accumulate locally (no communication); the first
        forward and backward after it average everything accumulated.  Gradient accumulation
        over k micro-batches: k-1 of them inside `no_sync()`, the last one outside."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    # ---------------------------------------------------------------------------- reducer
    def _prepare_for_backward(self, output: Any) -> None:
        self._armed = True
        self._started = False
        self._ready = [False] * len(self._params)
        self._next_bucket = 0
        self.launched = []
        for bucket in self._buckets:
            bucket.pending = len(bucket.indices)
            bucket.work = None
            bucket.flat = None
            bucket.used = np.ones(len(bucket.indices), dtype=bucket.dtype)
        self._unused = (self._search_unused(output) if self.find_unused_parameters else [])

    def _search_unused(self, output: Any) -> list[int]:
        """Parameters the output's graph does not reach (torch's find_unused_parameters)."""
        from numcnn.autograd.function import Node

        stack: list[Any] = [t.grad_fn if t.grad_fn is not None else t
                            for t in _find_tensors(output) if t.requires_grad]
        seen: set[int] = set()
        reached: set[int] = set()
        while stack:
            item = stack.pop()
            if id(item) in seen:
                continue
            seen.add(id(item))
            if isinstance(item, Node):
                stack.extend(e for e in item.inputs if e is not None)
            else:
                reached.add(id(item))
        return [i for i, p in enumerate(self._params) if id(p) not in reached]

    def _on_grad_ready(self, i: int) -> None:
        if not self._armed:
            return
        if not self._started:
            from numcnn.autograd import queue_callback

            self._started = True
            queue_callback(self._finalize_backward)
            for j in self._unused:           # count as ready (zero gradient) at once
                self._mark_ready(j, used=False)
        if not self._ready[i]:
            self._mark_ready(i, used=True)

    def _mark_ready(self, i: int, used: bool) -> None:
        self._ready[i] = True
        b, j = self._bucket_of[i]
        bucket = self._buckets[b]
        assert bucket.used is not None
        bucket.used[j] = 1 if used else 0
        bucket.pending -= 1
        while (self._next_bucket < len(self._buckets)
               and self._buckets[self._next_bucket].pending == 0):
            self._launch(self._next_bucket)
            self._next_bucket += 1

    def _launch(self, b: int) -> None:
        """Copy bucket b's gradients into one flat array, / p, and start its all-reduce.
        The flat array carries one more entry per parameter: 1 where it had a gradient, so
        the sum says which parameters no rank used."""
        bucket = self._buckets[b]
        assert bucket.used is not None
        flat = np.empty(bucket.size + len(bucket.indices), dtype=bucket.dtype)
        for j, (i, off) in enumerate(zip(bucket.indices, bucket.offsets)):
            p = self._params[i]
            n = p.array.size
            if p.grad is None or not bucket.used[j]:
                flat[off:off + n] = 0
            else:
                flat[off:off + n] = p.grad.array.reshape(-1)
        flat[bucket.size:] = bucket.used
        flat[:bucket.size] /= self._world_size
        bucket.flat = flat
        if self._world_size > 1:
            bucket.work = _dist().iallreduce_array(flat)
        else:
            bucket.work = _DoneWork()
        self.launched.append(b)

    def _finalize_backward(self) -> None:
        """End of the backward pass: every bucket reduced, averages written into `.grad`."""
        missing = [i for i, r in enumerate(self._ready) if not r]
        if missing and not self.find_unused_parameters:
            self._wait_launched()
            self._armed = self._started = False
            names = ", ".join(self._param_names[i] for i in missing)
            raise RuntimeError(
                "DistributedDataParallel: parameters that did not receive a gradient in this "
                f"backward pass on rank {self._rank}: {names}.  Every parameter must take part "
                "in computing the loss, or pass find_unused_parameters=True to "
                "DistributedDataParallel (then they count as zero gradients).")
        for i in missing:                   # used by the forward but got no gradient
            self._mark_ready(i, used=False)
        self._wait_launched()
        for bucket in self._buckets:
            flat = bucket.flat
            assert flat is not None
            used = flat[bucket.size:]
            for j, (i, off) in enumerate(zip(bucket.indices, bucket.offsets)):
                p = self._params[i]
                if used[j] == 0:             # no rank used it: .grad stays as it was
                    continue
                avg = flat[off:off + p.array.size].reshape(p.array.shape)
                if p.grad is None:
                    p.grad = Tensor(avg.copy())
                else:
                    p.grad.array = avg.copy()
            bucket.flat = None
            bucket.work = None
        self._armed = self._started = False

    def _wait_launched(self) -> None:
        for bucket in self._buckets:
            if bucket.work is not None:
                bucket.work.wait()

    def _broadcast_from_rank0(self, tensors: Sequence[Tensor]) -> None:
        dist = _dist()
        for t in tensors:
            dist.broadcast(t, src=0)


def _find_tensors(obj: Any) -> list[Tensor]:
    """The tensors inside an output: itself, or those in lists, tuples and dict values."""
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for item in obj for t in _find_tensors(item)]
    if isinstance(obj, dict):
        return [t for item in obj.values() for t in _find_tensors(item)]
    return []


__all__ = ["DistributedDataParallel"]
