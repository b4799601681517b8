"""Collectives on the default group: torch.distributed's names, MPI's operations underneath.

    all_reduce(t, op)      MPI_Iallreduce(IN_PLACE, t)       every rank gets op over all ranks
    broadcast(t, src)      MPI_Ibcast(t, root=src)           every rank gets rank src's values
    all_gather(ts, t)      MPI_Iallgather(t, stack)          ts[r] gets rank r's t
    barrier()              MPI_Ibarrier

Tensor collectives work in place on the tensor's array, as PyTorch's do (and are not recorded by
autograd); `allreduce_array` / `iallreduce_array` are the same on a bare ndarray, for the layers
that reduce their own buffers (DistributedDataParallel's buckets, SyncBatchNorm's sums).  With
`async_op=True` a collective returns a `Work` whose `wait()` finishes it; otherwise it returns
None once done.  `ReduceOp.AVG` is a SUM divided by the world size when the sum is complete.

With one process (no MPI) every collective leaves its input as it is: the sum, average, maximum,
minimum or product over one process is the value itself.
"""

from __future__ import annotations

import enum
import time
from typing import Any

import numpy as np

from numcnn.distributed.process_group import _check_group, _default, _Group

__all__ = ["ReduceOp", "Work", "all_reduce", "broadcast", "all_gather", "barrier",
           "allreduce_array", "iallreduce_array"]


class ReduceOp(enum.Enum):
    """How `all_reduce` combines the ranks' values (torch.distributed.ReduceOp's members)."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"

    def __repr__(self) -> str:
        return f"<ReduceOp.{self.name}>"


def _as_op(op: Any) -> ReduceOp:
    if isinstance(op, ReduceOp):
        return op
    if isinstance(op, str) and op.upper() in ReduceOp.__members__:
        return ReduceOp[op.upper()]
    raise ValueError(f"op must be one of ReduceOp.{', ReduceOp.'.join(ReduceOp.__members__)}, "
                     f"got {op!r}")


def _mpi_op(op: ReduceOp) -> Any:
    from mpi4py import MPI

    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
            ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX}[op]


# dtypes MPI has no type for travel as a wider copy: float16 as float32, bool as uint8
_WIRE: dict[np.dtype, np.dtype] = {np.dtype(np.float16): np.dtype(np.float32),
                                   np.dtype(np.bool_): np.dtype(np.uint8)}


def _wire_buffer(arr: np.ndarray) -> np.ndarray:
    """The contiguous array MPI reads and writes: `arr` itself when it can be, else a copy that
    `Work` writes back into `arr` when the operation completes."""
    wire = _WIRE.get(arr.dtype)
    if wire is not None:
        return np.ascontiguousarray(arr, dtype=wire)
    if arr.flags.c_contiguous and arr.flags.writeable:
        return arr
    return np.ascontiguousarray(arr)


class Work:
    """A collective in flight (torch.distributed's Work): `wait()` completes it, writes the
    result where it belongs, and returns True; `is_completed()` asks without blocking."""

    def __init__(self, request: Any, what: str, group: _Group,
                 finish: Any = None) -> None:
        self._request = request
        self._what = what
        self._group = group
        self._finish = finish            # run once, after completion (copy back, AVG's divide)
        self._done = request is None
        if self._done:
            self._complete()

    def _complete(self) -> None:
        finish, self._finish = self._finish, None
        if finish is not None:
            finish()

    def is_completed(self) -> bool:
        if not self._done and self._request.Test():
            self._done = True
            self._complete()
        return self._done

    def wait(self, timeout: Any = None) -> bool:
        """Block until done.  With the group's timeout (or this one, seconds or a timedelta),
        raise RuntimeError when it has not completed in time."""
        if self._done:
            return True
        from numcnn.distributed.process_group import _seconds

        limit = _seconds(timeout) if timeout is not None else self._group.timeout
        if limit is None:
            self._request.Wait()
        else:
            deadline = time.monotonic() + limit
            pause = 0.0
            while not self._request.Test():
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"numcnn.distributed: {self._what} on rank {self._group.rank} did not "
                        f"complete within {limit:g} s (a peer stopped or is far behind)")
                time.sleep(pause)
                pause = min(0.001, pause + 0.0001)
        self._done = True
        self._complete()
        return True

    def result(self) -> list[Any]:
        self.wait()
        return []


def _launch(arr: np.ndarray, what: str, start: Any, after: Any = None) -> Work:
    """Start `start(comm, buf)` on the wire buffer of `arr`; the Work copies it back (and runs
    `after(arr)`) once complete."""
    group = _default()
    if group.comm is None:
        if after is not None:
            after(arr)
        return Work(None, what, group)
    buf = _wire_buffer(arr)

    def finish() -> None:
        if buf is not arr:
            arr[...] = buf.astype(arr.dtype, copy=False)
        if after is not None:
            after(arr)
    return Work(start(group.comm, buf), what, group, finish)


def _check_array(arr: Any, name: str) -> np.ndarray:
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(arr).__name__}")
    if not arr.flags.writeable:
        raise ValueError(f"{name} must be writeable: the collective writes its result into it")
    return arr


def iallreduce_array(arr: np.ndarray, op: Any = ReduceOp.SUM, group: Any = None) -> Work:
    """Start reducing `arr` over all ranks, in place (MPI_Iallreduce with MPI_IN_PLACE).  Read
    `arr` only after the returned Work's `wait()`.

    Raises:
        TypeError/ValueError: `arr` not a writeable ndarray; an unknown op; AVG on integers.
    """
    _check_group(group)
    _check_array(arr, "arr")
    rop = _as_op(op)
    if rop is ReduceOp.AVG and not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"ReduceOp.AVG needs a floating-point array, got {arr.dtype}")
    size = _default().size
    after = None
    if rop is ReduceOp.AVG and size > 1:
        def after(a: np.ndarray) -> None:
            a /= size

    def start(comm: Any, buf: np.ndarray) -> Any:
        from mpi4py import MPI

        return comm.Iallreduce(MPI.IN_PLACE, buf, _mpi_op(rop))
    return _launch(arr, f"all_reduce({rop.name})", start, after)


def allreduce_array(arr: np.ndarray, op: Any = ReduceOp.SUM, group: Any = None) -> np.ndarray:
    """Reduce `arr` over all ranks, in place, and return it (`iallreduce_array(...).wait()`)."""
    iallreduce_array(arr, op, group).wait()
    return arr


def _array_of(tensor: Any, name: str) -> np.ndarray:
    from numcnn.tensor import Tensor

    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name} must be a numcnn Tensor, got {type(tensor).__name__}")
    return tensor.array


def _touched(tensor: Any) -> None:
    tensor._version_counter.value += 1      # an in-place write, as autograd counts them


def all_reduce(tensor: Any, op: Any = ReduceOp.SUM, group: Any = None,
               async_op: bool = False) -> Work | None:
    """Reduce `tensor` over all ranks, in place: afterwards every rank holds op(values of all
    ranks) (torch.distributed.all_reduce).  Returns a Work with `async_op`, else None."""
    work = iallreduce_array(_array_of(tensor, "tensor"), op, group)
    _touched(tensor)
    if async_op:
        return work
    work.wait()
    return None


def broadcast(tensor: Any, src: int = 0, group: Any = None,
              async_op: bool = False) -> Work | None:
    """Overwrite `tensor` on every rank with rank `src`'s values, in place
    (torch.distributed.broadcast)."""
    _check_group(group)
    arr = _array_of(tensor, "tensor")
    size = _default().size
    if isinstance(src, bool) or not isinstance(src, (int, np.integer)) or not 0 <= src < size:
        raise ValueError(f"src must be a rank in [0, {size}), got {src!r}")

    def start(comm: Any, buf: np.ndarray) -> Any:
        return comm.Ibcast(buf, root=int(src))
    work = _launch(arr, f"broadcast(src={src})", start)
    _touched(tensor)
    if async_op:
        return work
    work.wait()
    return None


def all_gather(tensor_list: list[Any], tensor: Any, group: Any = None,
               async_op: bool = False) -> Work | None:
    """Fill `tensor_list[r]` (one tensor per rank, each of `tensor`'s shape and dtype) with
    rank r's `tensor`, in place (torch.distributed.all_gather)."""
    _check_group(group)
    arr = _array_of(tensor, "tensor")
    size = _default().size
    if not isinstance(tensor_list, (list, tuple)) or len(tensor_list) != size:
        given = len(tensor_list) if isinstance(tensor_list, (list, tuple)) else tensor_list
        raise ValueError(f"tensor_list must hold one tensor per rank ({size}), got {given!r}")
    outs = [_array_of(t, f"tensor_list[{r}]") for r, t in enumerate(tensor_list)]
    for r, out in enumerate(outs):
        if out.shape != arr.shape or out.dtype != arr.dtype:
            raise ValueError(f"tensor_list[{r}] has shape {out.shape} and dtype {out.dtype}; "
                             f"all_gather needs {arr.shape} and {arr.dtype}, as tensor")
    stack = np.empty((size,) + arr.shape, dtype=arr.dtype)

    def scatter(_: np.ndarray) -> None:
        for out, t, part in zip(outs, tensor_list, stack):
            out[...] = part
            _touched(t)

    group_ = _default()
    if group_.comm is None:
        stack[0] = arr
        work = Work(None, "all_gather", group_, lambda: scatter(stack))
    else:
        send = _wire_buffer(np.array(arr, copy=True))
        recv = np.empty((size,) + send.shape, dtype=send.dtype)

        def finish() -> None:
            stack[...] = recv.astype(arr.dtype, copy=False)
            scatter(stack)
        work = Work(group_.comm.Iallgather(send, recv), "all_gather", group_, finish)
    if async_op:
        return work
    work.wait()
    return None


def barrier(group: Any = None, async_op: bool = False, device_ids: Any = None) -> Work | None:
    """Wait until every rank has reached this call (torch.distributed.barrier)."""
    _check_group(group)
    group_ = _default()
    work = Work(None if group_.comm is None else group_.comm.Ibarrier(), "barrier", group_)
    if async_op:
        return work
    work.wait()
    return None
