"""DataLoader worker processes: what runs in a worker, and the pool the main process keeps.

A worker is a process (multiprocessing; 'fork' by default on Linux, 'spawn' and 'forkserver'
work when the dataset, collate_fn and worker_init_fn can be pickled). It receives tasks
(iteration id, batch number k, indices, base_seed) on its own queue, loads batch k with the
same `fetch` the main process would use — under the generator seeded by (base_seed, k), so a
batch's random transforms do not depend on which worker loads it, nor on how many there are —
and puts (iteration id, k, worker id, OK or ERR, result) on the shared result queue. Results
travel through a pipe, pickled by multiprocessing's queue: measured by
bench/dataloader_workers.py, a 1.5 MB batch costs less that way than through a fresh
`multiprocessing.shared_memory` block per batch.

Seeding, as torch's: worker i of an iteration whose base seed is s seeds `random` and
`numcnn.random` with s + i and NumPy's legacy global state with SeedSequence([s, i]), so code
in a dataset that draws from those (rather than from the transforms' installed generator) is
reproducible too. `get_worker_info()` tells the dataset, inside a worker, which one it is.

A worker stops when it reads None, when its parent process is gone, or when the `done`
event is set; an exception while loading is sent back (pickled when it can be, with its
formatted traceback) for the main process to raise.
"""

from __future__ import annotations

import os
import pickle
import queue
import random
import signal
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from numcnn import random as nrandom

__all__ = ["WorkerInfo", "get_worker_info", "WorkerPool", "WorkerError", "raise_worker_error"]

_OK, _ERR = 0, 1
_POLL_S = 0.1                      # how often a waiting process checks on the other side


@dataclass(frozen=True)
class WorkerInfo:
    """Inside a DataLoader worker: its `id` (0 .. num_workers-1), `num_workers`, the `seed`
    its global generators were seeded with (base_seed + id) and its copy of the `dataset`."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """The `WorkerInfo` of the DataLoader worker process this runs in; None in the main
    process (torch.utils.data.get_worker_info)."""
    return _info


def _seed_worker(seed: int, base_seed: int, worker_id: int) -> None:
    random.seed(seed)
    nrandom.manual_seed(seed)
    np.random.seed(np.random.SeedSequence([base_seed, worker_id]).generate_state(4))


def _error_payload(exc: BaseException) -> tuple[bytes | None, str, str]:
    """(the pickled exception if it survives a round trip, its type name, the traceback)."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    data: bytes | None
    try:
        data = pickle.dumps(exc)
        pickle.loads(data)  # noqa: S301 - our own bytes, from this process, just made
    except Exception:
        data = None
    return data, type(exc).__name__, text


def _worker_loop(worker_id: int, num_workers: int, fetch: Any,
                 init_fn: Callable[[int], None] | None, base_seed: int,
                 tasks: Any, results: Any, done: Any) -> None:
    """The body of worker `worker_id` (runs in the child process)."""
    global _info
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl-C is the main process's
    except ValueError:
        pass
    parent = os.getppid()
    seed = base_seed + worker_id
    _seed_worker(seed, base_seed, worker_id)
    _info = WorkerInfo(worker_id, num_workers, seed, fetch.dataset)
    if init_fn is not None:
        try:
            init_fn(worker_id)
        except Exception as exc:
            results.put((-1, -1, worker_id, _ERR, _error_payload(exc)))
            return
    while not done.is_set():
        try:
            task = tasks.get(timeout=_POLL_S)
        except queue.Empty:
            if os.getppid() != parent:                   # the main process is gone
                return
            continue
        if task is None:
            return
        iteration, k, idx, seed_k = task
        try:
            msg = (iteration, k, worker_id, _OK, fetch(k, idx, seed_k))
        except Exception as exc:
            msg = (iteration, k, worker_id, _ERR, _error_payload(exc))
        results.put(msg)
    # Told to stop: exit normally, so that the queue's feeder thread finishes writing what was
    # put (the main process drains the results while it waits in WorkerPool.shutdown).  With
    # cancel_join_thread the process could exit halfway through writing a batch to the pipe,
    # and the main process's next read would wait forever for the rest of that message.


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class WorkerError(RuntimeError):
    """A DataLoader worker process exited while the main process waited for it."""


class WorkerPool:
    """`num_workers` worker processes with one task queue each and one result queue.

    Args:
        num_workers: how many processes.
        fetch: fetch(k, indices, base_seed) -> batch (picklable for 'spawn').
        init_fn: worker_init_fn, called with the worker id in each worker.
        base_seed: the seed the workers' global generators derive from.
        context: a multiprocessing context.
    """

    def __init__(self, num_workers: int, fetch: Any, init_fn: Callable[[int], None] | None,
                 base_seed: int, context: Any) -> None:
        self.num_workers = num_workers
        self.results = context.Queue()
        self.done = context.Event()
        self.tasks = [context.Queue() for _ in range(num_workers)]
        self.processes: list[Any] = []
        try:
            for i in range(num_workers):
                p = context.Process(
                    target=_worker_loop, name=f"numcnn-DataLoader-worker-{i}",
                    args=(i, num_workers, fetch, init_fn, base_seed, self.tasks[i],
                          self.results, self.done),
                    daemon=True)
                p.start()
                self.processes.append(p)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            self.shutdown()
            raise TypeError(
                f"DataLoader: cannot send the dataset, collate_fn and worker_init_fn to the "
                f"worker processes of the {context.get_start_method()!r} context ({exc}); "
                f"define them at module level (no lambdas or local functions), or use the "
                f"'fork' context"
            ) from exc
        self.closed = False

    def submit(self, worker_id: int, task: tuple[int, int, Any, int]) -> None:
        self.tasks[worker_id].put(task)

    def check_alive(self) -> None:
        """Raise WorkerError if a worker has exited."""
        for i, p in enumerate(self.processes):
            if p.exitcode is not None:
                raise WorkerError(
                    f"DataLoader worker {i} (pid {p.pid}) exited unexpectedly "
                    f"({_exit_reason(p.exitcode)})"
                )

    def get(self, timeout: float) -> tuple[int, int, int, int, Any]:
        """The next result; waits at most `timeout` seconds (0: no limit), checking that the
        workers are alive every 0.1 s.

        Raises:
            WorkerError: a worker died.
            TimeoutError: nothing came within `timeout` (a RuntimeError, as torch's).
        """
        deadline = time.monotonic() + timeout if timeout > 0 else None
        while True:
            wait = _POLL_S if deadline is None else min(_POLL_S, deadline - time.monotonic())
            try:
                return self.results.get(timeout=max(wait, 0.0))  # type: ignore[no-any-return]
            except queue.Empty:
                self.check_alive()
                if deadline is not None and time.monotonic() >= deadline:
                    raise _Timeout(f"DataLoader timed out after {timeout} seconds") from None

    def shutdown(self) -> None:
        """Stop every worker: ask, wait up to 5 s (emptying the result queue meanwhile, so
        that none blocks on a full pipe), then terminate what is left."""
        if getattr(self, "closed", False):
            return
        self.closed = True
        self.done.set()
        for q, p in zip(self.tasks, self.processes):
            if p.exitcode is None:
                try:
                    q.put(None)
                except (OSError, ValueError):
                    pass
        deadline = time.monotonic() + 5.0
        while any(p.is_alive() for p in self.processes) and time.monotonic() < deadline:
            try:
                while True:
                    self.results.get_nowait()
            except (queue.Empty, OSError, ValueError, EOFError):
                pass
            for p in self.processes:
                p.join(timeout=0.02)
        for p in self.processes:
            if p.is_alive():
                p.terminate()
                p.join(timeout=1.0)
        for q in (*self.tasks, self.results):
            q.cancel_join_thread()
            q.close()


class _Timeout(RuntimeError):
    """No batch within the DataLoader's `timeout`."""


def raise_worker_error(payload: tuple[bytes | None, str, str], worker_id: int, k: int) -> None:
    """Raise, in the main process, the exception a worker sent: the same type and message
    (when it pickles; else a RuntimeError), with a note naming the worker and the batch and
    holding the worker's original traceback."""
    data, name, text = payload
    where = (f"in worker_init_fn of DataLoader worker process {worker_id}" if k < 0 else
             f"in DataLoader worker process {worker_id} while loading batch {k} of the epoch")
    note = f"Caught {name} {where}.\nOriginal {text.rstrip()}"
    exc: BaseException | None = None
    if data is not None:
        try:
            exc = pickle.loads(data)  # noqa: S301 - sent by our own worker process
        except Exception:
            exc = None
    if exc is None or not hasattr(exc, "add_note"):
        raise RuntimeError(note)
    exc.add_note(note)
    raise exc
