"""`DataLoader`: batches from a dataset, optionally shuffled, prefetched and resumable.

    loader = DataLoader(dataset, batch_size=128, shuffle=True, generator=0, prefetch=2)
    for x, y in loader: ...

One epoch, from the start of iteration:
1. In the calling thread, the epoch's seeds are drawn from `generator` (or
   numcnn.random.generator()): `base_seed`, and the sampler's permutation seed for a shuffled
   loader. The whole epoch's batches of indices are laid out as slices of one index array.
2. Batch k is loaded by `fetch(k, indices)`: with the generator seeded by (base_seed, k)
   installed for random transforms (`transforms.batch.using_generator`), either
   `dataset.get_batch(indices)` (one fancy index per field — the fast path for array-backed
   datasets, used when no `collate_fn` is given), or `collate_fn([dataset[i] for i in indices])`.
   Batch k's augmentation therefore depends only on (base_seed, k): the same with or without
   prefetch, and after a resume.
3. With `prefetch=p > 0`, a background thread runs step 2 up to p batches ahead, so that
   loading and augmentation overlap the training step (NumPy releases the GIL in its array
   loops). Breaking out of the loop, `close()`, or dropping the iterator stops the thread; an
   exception in it is re-raised in the consumer, the original exception object with its
   original traceback, plus a note naming the batch.

With `num_workers=w > 0`, step 2 runs in w worker processes (`numcnn.data._worker`): the
main process still draws the seeds and lays out the batches, sends batch k's indices to worker
k mod w (counting from the first batch still to load), keeps `prefetch_factor * w` batches in
flight and hands them out in order. Since batch k's augmentation depends only on
(base_seed, k), the batches are exactly those of num_workers=0, whatever w. Each worker also
seeds its global generators as torch's do (`random` and `numcnn.random` with base_seed + i,
NumPy's legacy global state from (base_seed, i)) for code that draws from them directly;
such draws, and a transform given its own `generator=` (each worker has a copy), do depend on
w, as in torch. A worker's exception is re-raised in the consumer (same type and message, with
a note naming the worker and holding its traceback); a worker that dies, or (with `timeout`)
no batch in time, is a RuntimeError, never a hang. `pin_memory` is accepted and does nothing
(there is no GPU to pin for).

`state_dict()` records the epoch's seeds and how many batches the consumer has received;
after `load_state_dict()`, the next iteration yields exactly the remaining batches of that
epoch (then later epochs continue as they would have, given the same generator state).
"""

from __future__ import annotations

import collections.abc
import itertools
import multiprocessing
import queue
import threading
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from numcnn.data._worker import _ERR as _WORKER_ERR
from numcnn.data._worker import WorkerPool, get_worker_info, raise_worker_error
from numcnn.data.dataset import (
    Dataset,
    GeneratorLike,
    IterableDataset,
    as_generator,
    has_get_batch,
)
from numcnn.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler
from numcnn.data.transforms.batch import using_generator
from numcnn.tensor import Tensor

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]


# ----------------------------------------------------------------------------- collation
def _stack(arrays: Sequence[np.ndarray]) -> Tensor:
    shape = arrays[0].shape
    for i, a in enumerate(arrays):
        if a.shape != shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(shape)} at entry 0 "
                f"and {list(a.shape)} at entry {i}"
            )
    return Tensor(np.stack(arrays))


def default_collate(batch: Sequence[Any]) -> Any:
    """Stack a list of samples into one batch, field by field (PyTorch's rules).

    Tensors, ndarrays and NumPy scalars -> one stacked Tensor (dtype kept); Python ints ->
    int64, floats -> float64, bools -> bool Tensors; strings -> the batch as given; dicts ->
    a dict of collated values; tuples and lists -> a list of collated fields (a namedtuple
    stays one).
    """
    if len(batch) == 0:
        raise ValueError("default_collate: the batch is empty")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack([b.array for b in batch])
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "SUOV":
            raise TypeError(
                f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                f"lists; found an array of dtype {elem.dtype}"
            )
        return _stack([np.asarray(b) for b in batch])
    if isinstance(elem, np.generic):
        return Tensor(np.array(batch))
    if isinstance(elem, bool):
        return Tensor(np.array(batch, dtype=np.bool_))
    if isinstance(elem, int):
        return Tensor(np.array(batch, dtype=np.int64))
    if isinstance(elem, float):
        return Tensor(np.array(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(s) for s in zip(*batch)]
    raise TypeError(
        f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        f"found {type(elem)}"
    )


def default_convert(data: Any) -> Any:
    """Arrays (and arrays inside tuples/lists/dicts) -> Tensors, without stacking.

    Also turns a `get_batch` result into the structure `default_collate` would have made:
    a tuple becomes a list, a namedtuple stays one.
    """
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        if data.dtype.kind in "SUOV":
            return data
        return Tensor(data)
    if isinstance(data, np.generic):
        return Tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return {key: default_convert(v) for key, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (tuple, list)):
        return [default_convert(d) for d in data]
    return data


# ----------------------------------------------------------------------------- the worker
_OK, _ERR, _END = 0, 1, 2


def _put(q: queue.Queue, item: Any, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def _prefetch_worker(fetch: Callable[[int, Any], Any], jobs: list[tuple[int, Any]],
                     q: queue.Queue, stop: threading.Event) -> None:
    """Load `jobs` in order into `q`; end with _END, or _ERR and the exception.

    Holds no reference to the iterator, so dropping the iterator runs its cleanup.
    """
    k = -1
    try:
        for k, idx in jobs:
            if stop.is_set():
                return
            if not _put(q, (_OK, fetch(k, idx), k), stop):
                return
    except BaseException as exc:      # handed to the consumer, which re-raises it
        _put(q, (_ERR, exc, k), stop)
        return
    _put(q, (_END, None, k), stop)


def _batch_generator(base_seed: int, k: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([base_seed, k])))


class _Fetcher:
    """fetch(k, indices) -> batch k, with batch k's generator installed for transforms."""

    def __init__(self, dataset: Any, collate_fn: Callable[[Any], Any], fast: bool,
                 auto_batch: bool, base_seed: int) -> None:
        self.dataset, self.collate_fn, self.fast = dataset, collate_fn, fast
        self.auto_batch, self.base_seed = auto_batch, base_seed

    def __call__(self, k: int, idx: Any, base_seed: int | None = None) -> Any:
        seed = self.base_seed if base_seed is None else base_seed
        with using_generator(_batch_generator(seed, k)):
            if not self.auto_batch:
                return self.collate_fn(self.dataset[int(idx)])
            if self.fast:
                return default_convert(self.dataset.get_batch(idx))
            return self.collate_fn([self.dataset[i] for i in np.asarray(idx).tolist()])


class _DataLoaderIter:
    """One pass over the remaining batches of an epoch (in this or a prefetch thread)."""

    def __init__(self, loader: DataLoader, jobs: list[tuple[int, Any]], fetch: _Fetcher,
                 token: object) -> None:
        self._loader, self._token = loader, token
        self._jobs = iter(jobs)
        self._fetch = fetch
        self._thread: threading.Thread | None = None
        self._done = False
        if loader.prefetch > 0 and jobs:
            self._queue: queue.Queue = queue.Queue(maxsize=loader.prefetch)
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=_prefetch_worker, args=(fetch, jobs, self._queue, self._stop),
                name="numcnn-DataLoader-prefetch", daemon=True)
            self._thread.start()

    def __iter__(self) -> _DataLoaderIter:
        return self

    def __len__(self) -> int:
        return len(self._loader)

    def _next_prefetched(self) -> Any:
        assert self._thread is not None
        while True:
            try:
                kind, value, k = self._queue.get(timeout=1.0)
                break
            except queue.Empty:
                if not self._thread.is_alive():          # died without a word: never hang
                    self.close()
                    raise RuntimeError("DataLoader prefetch thread exited unexpectedly") \
                        from None
        if kind == _END:
            self.close()
            raise StopIteration
        if kind == _ERR:
            self.close()
            if hasattr(value, "add_note"):
                value.add_note(f"(raised in the DataLoader prefetch thread while loading "
                               f"batch {k} of the epoch)")
            raise value
        return value

    def __next__(self) -> Any:
        if self._done:
            raise StopIteration
        if self._thread is not None:
            batch = self._next_prefetched()
        else:
            try:
                k, idx = next(self._jobs)
            except StopIteration:
                self._done = True
                raise
            batch = self._fetch(k, idx)
        if self._loader._token is self._token:
            self._loader._consumed += 1
        return batch

    def close(self) -> None:
        """Stop the prefetch thread (if any) and wait for it; further `next` stops."""
        self._done = True
        if self._thread is not None:
            self._stop.set()
            try:
                while True:
                    self._queue.get_nowait()
            except queue.Empty:
                pass
            if self._thread is not threading.current_thread():
                self._thread.join(timeout=10.0)
            self._thread = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:     # interpreter shutdown: nothing left to clean
            pass


class _WorkerIter:
    """One pass over the remaining batches of an epoch, loaded by worker processes.

    Job j (the j-th remaining batch, batch number k) goes to worker j % num_workers; up to
    `window` jobs are in flight; results may arrive in any order and are handed out in the
    sampler's order. Results of an earlier, abandoned pass (persistent workers) are dropped.
    """

    def __init__(self, loader: DataLoader, jobs: list[tuple[int, Any]], pool: WorkerPool,
                 iteration: int, base_seed: int, token: object, owns_pool: bool) -> None:
        self._loader, self._jobs, self._pool = loader, jobs, pool
        self._iteration, self._base_seed, self._token = iteration, base_seed, token
        self._owns_pool = owns_pool
        self._window = max(loader.prefetch_factor * pool.num_workers, loader.prefetch)  # type: ignore[operator]
        self._sent = self._next = 0
        self._ready: dict[int, Any] = {}                 # batch number k -> batch
        self._done = False
        while self._sent < min(self._window, len(jobs)):
            self._submit()

    def __iter__(self) -> _WorkerIter:
        return self

    def __len__(self) -> int:
        return len(self._loader)

    def _submit(self) -> None:
        k, idx = self._jobs[self._sent]
        self._pool.submit(self._sent % self._pool.num_workers,
                          (self._iteration, k, idx, self._base_seed))
        self._sent += 1

    def __next__(self) -> Any:
        if self._done:
            raise StopIteration
        if self._next >= len(self._jobs):
            self.close()
            raise StopIteration
        want = self._jobs[self._next][0]
        while want not in self._ready:
            try:
                iteration, k, worker_id, kind, value = self._pool.get(self._loader.timeout)
            except RuntimeError:                          # a worker died, or timeout
                self.close(broken=True)
                raise
            if kind == _WORKER_ERR and k < 0:                    # worker_init_fn failed
                self.close(broken=True)
                raise_worker_error(value, worker_id, k)
            if iteration != self._iteration:              # from an abandoned pass
                continue
            # a batch's error waits its turn, as torch does: the batches before it come first
            self._ready[k] = (kind, worker_id, value)
        kind, worker_id, batch = self._ready.pop(want)
        if kind == _WORKER_ERR:
            self.close()
            raise_worker_error(batch, worker_id, want)
        self._next += 1
        if self._sent < len(self._jobs):
            self._submit()
        if self._loader._token is self._token:
            self._loader._consumed += 1
        return batch

    def close(self, broken: bool = False) -> None:
        """End the pass; its own (non-persistent) workers are stopped, and persistent ones
        too when `broken` (a worker died): the next epoch then starts fresh ones."""
        if self._done:
            return
        self._done = True
        self._ready.clear()
        if self._owns_pool or broken:
            self._pool.shutdown()
            if self._loader._pool is self._pool:
                self._loader._pool = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:     # interpreter shutdown: nothing left to clean
            pass


def _context(context: Any) -> Any:
    """multiprocessing_context -> a multiprocessing context (None: the default one)."""
    if context is None:
        return multiprocessing.get_context()
    if isinstance(context, str):
        methods = multiprocessing.get_all_start_methods()
        if context not in methods:
            raise ValueError(
                f"multiprocessing_context option should specify a valid start method in "
                f"{methods!r}, but got multiprocessing_context={context!r}"
            )
        return multiprocessing.get_context(context)
    if not hasattr(context, "Process") or not hasattr(context, "get_start_method"):
        raise TypeError(
            f"multiprocessing_context option should be a valid context object or a string "
            f"specifying the start method, but got multiprocessing_context={context!r}"
        )
    return context


# ----------------------------------------------------------------------------- the loader
class DataLoader:
    """Iterate over a dataset in batches (torch.utils.data.DataLoader's arguments).

    Args:
        dataset: a map-style dataset (`__getitem__`, `__len__`; optionally `get_batch`).
        batch_size: samples per batch; None disables batching (samples are converted only).
        shuffle: a new random order every epoch.
        sampler: the order of indices (excludes `shuffle`).
        batch_sampler: yields lists of indices (excludes batch_size, shuffle, sampler,
            drop_last).
        num_workers: worker processes that load batches (0: load in this process). The
            batches, and their order, are exactly those of num_workers=0 with the same seed
            (see the module docstring).
        collate_fn: list of samples -> batch (default `default_collate`). Giving one turns off
            the `get_batch` fast path.
        pin_memory: accepted for PyTorch compatibility; numcnn runs on the CPU, where pinned
            memory means nothing, so it changes nothing.
        drop_last: drop the last, incomplete batch.
        timeout: with workers, seconds to wait for a batch before raising RuntimeError
            (0: no limit; a dead worker is reported within 0.1 s either way).
        worker_init_fn: called with the worker id in each worker, after its seeding.
        multiprocessing_context: 'fork', 'spawn', 'forkserver' or a multiprocessing context
            (default: multiprocessing's default; 'spawn' and 'forkserver' need a picklable
            dataset, collate_fn and worker_init_fn, and a script guarded by
            `if __name__ == "__main__":`).
        generator: np.random.Generator or int seed for the shuffling and the augmentation
            seeds (default numcnn.random.generator()).
        prefetch_factor: batches in flight per worker (default 2 with workers; must be None
            without).
        persistent_workers: keep the worker processes from one epoch to the next.
        pin_memory_device: accepted and ignored (see pin_memory).
        in_order: accepted; batches always come in the sampler's order.
        prefetch: numcnn: without workers, how many batches a background thread prepares
            ahead (0: none); with workers, the least number of batches in flight.
    """

    def __init__(self, dataset: Dataset[Any], batch_size: int | None = 1,
                 shuffle: bool | None = None, sampler: Sampler[Any] | None = None,
                 batch_sampler: Any = None, num_workers: int = 0,
                 collate_fn: Callable[[Any], Any] | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context: Any = None, generator: GeneratorLike = None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True, prefetch: int = 0
                 ) -> None:
        if not isinstance(num_workers, int) or isinstance(num_workers, bool) or num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; use num_workers=0 to disable "
                "multiprocessing."
            )
        if not isinstance(timeout, (int, float)) or timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0:
            if prefetch_factor is not None:
                raise ValueError(
                    "prefetch_factor option could only be specified in multiprocessing. Let "
                    "num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor "
                    "to None."
                )
            if persistent_workers:
                raise ValueError("persistent_workers option needs num_workers > 0")
            if multiprocessing_context is not None:
                raise ValueError(
                    f"multiprocessing_context can only be used with multi-process loading "
                    f"(num_workers > 0), but got num_workers={num_workers}"
                )
        else:
            if prefetch_factor is None:
                prefetch_factor = 2
            if not isinstance(prefetch_factor, int) or isinstance(prefetch_factor, bool) \
                    or prefetch_factor < 1:
                raise ValueError(
                    f"prefetch_factor should be a positive int, got {prefetch_factor!r}"
                )
            multiprocessing_context = _context(multiprocessing_context)
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError(f"worker_init_fn should be callable, got {worker_init_fn!r}")
        if not isinstance(prefetch, int) or isinstance(prefetch, bool) or prefetch < 0:
            raise ValueError(f"prefetch must be a non-negative int, got {prefetch!r}")
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            for name, value in (("shuffle", shuffle or None), ("sampler", sampler),
                                ("batch_sampler", batch_sampler)):
                if value is not None:
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                     f"{name} option, but got {name}={value}")
            if num_workers > 0:
                raise NotImplementedError(
                    "DataLoader with an IterableDataset and num_workers > 0 is not supported by "
                    "numcnn: use num_workers=0"
                )
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive with "
                "drop_last"
            )
        self.dataset = dataset
        self.generator = as_generator(generator) if generator is not None else None
        if sampler is None and not self._iterable:
            sampler = (RandomSampler(dataset, generator=self.generator) if shuffle  # type: ignore
                       else SequentialSampler(dataset))  # type: ignore[arg-type]
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)  # type: ignore[arg-type]
        self.sampler: Any = sampler              # None for an IterableDataset
        self.batch_sampler = batch_sampler
        self.batch_size, self.drop_last = batch_size, drop_last
        self.num_workers, self.prefetch = num_workers, prefetch
        self.pin_memory, self.pin_memory_device = bool(pin_memory), pin_memory_device
        self.timeout, self.worker_init_fn = float(timeout), worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.prefetch_factor, self.persistent_workers = prefetch_factor, bool(persistent_workers)
        self.in_order = in_order
        self._pool: WorkerPool | None = None       # persistent workers, between epochs
        self._iteration = 0
        self._auto_batch = batch_sampler is not None or (self._iterable and batch_size is not None)
        if collate_fn is None:
            collate_fn = default_collate if self._auto_batch else default_convert
            self._fast = self._auto_batch and has_get_batch(dataset) and not self._iterable
        else:
            self._fast = False
        self.collate_fn = collate_fn
        # position: the epoch in progress (-1: none yet), batches handed out, its seeds
        self._epoch = -1
        self._consumed = 0
        self._base_seed: int | None = None
        self._sampler_seed: int | None = None
        self._resume: dict[str, Any] | None = None
        self._token: object = object()

    def __len__(self) -> int:
        if self._iterable:                   # the stream's own length, if it has one
            n = len(self.dataset)  # type: ignore[arg-type]
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self._auto_batch:
            return len(self.batch_sampler)
        return len(self.sampler)  # type: ignore[arg-type]

    def _seeded_sampler(self) -> Any:
        """The sampler whose epoch is a function of a seed (a RandomSampler), or None."""
        inner = self.batch_sampler.sampler if isinstance(self.batch_sampler, BatchSampler) \
            else (self.sampler if not self._auto_batch else None)
        return inner if hasattr(inner, "draw_seed") else None

    def _epoch_jobs(self, sampler_seed: int | None) -> list[tuple[int, Any]]:
        if isinstance(self.batch_sampler, BatchSampler):
            batches: Any = self.batch_sampler.batches(sampler_seed)
        elif self._auto_batch:
            batches = (np.asarray(b, dtype=np.int64) for b in self.batch_sampler)
        elif hasattr(self.sampler, "index_array"):
            batches = iter(self.sampler.index_array(sampler_seed).tolist())
        else:
            batches = iter(self.sampler)
        return list(enumerate(batches))

    def _iter_stream(self) -> Iterator[Any]:
        """An IterableDataset read in order: batch_size samples collated per batch (the last
        shorter unless drop_last), or each sample converted without batching."""
        stream = iter(self.dataset)  # type: ignore[call-overload]
        if not self._auto_batch:
            for sample in stream:
                yield self.collate_fn(sample)
            return
        while True:
            batch = list(itertools.islice(stream, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):  # type: ignore
                return
            yield self.collate_fn(batch)

    def __iter__(self) -> Any:
        if self._iterable:
            return self._iter_stream()
        resume, self._resume = self._resume, None
        seeded = self._seeded_sampler()
        if resume is not None:
            epoch, start = resume["epoch"], resume["batches_consumed"]
            base_seed, sampler_seed = resume["base_seed"], resume["sampler_seed"]
        else:
            epoch, start = self._epoch + 1, 0
            gen = self.generator if self.generator is not None else as_generator(None)
            base_seed = int(gen.integers(0, 2**63 - 1))
            sampler_seed = seeded.draw_seed() if seeded is not None else None
        jobs = self._epoch_jobs(sampler_seed)[start:]
        self._epoch, self._consumed = epoch, start
        self._base_seed, self._sampler_seed = base_seed, sampler_seed
        self._token = object()
        fetch = _Fetcher(self.dataset, self.collate_fn, self._fast, self._auto_batch, base_seed)
        if self.num_workers == 0:
            return _DataLoaderIter(self, jobs, fetch, self._token)
        self._iteration += 1
        pool = self._pool
        if pool is None or pool.closed:
            pool = WorkerPool(self.num_workers, fetch, self.worker_init_fn, base_seed,
                              self.multiprocessing_context)
            if self.persistent_workers:
                self._pool = pool
        return _WorkerIter(self, jobs, pool, self._iteration, base_seed, self._token,
                           owns_pool=not self.persistent_workers)

    def __del__(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            try:
                pool.shutdown()
            except Exception:     # interpreter shutdown: nothing left to clean
                pass

    # ------------------------------------------------------------------ checkpointing
    def state_dict(self) -> dict[str, Any]:
        """The loader's position: plain ints and dicts (JSON-serialisable).

        Keys: epoch (0-based index of the epoch in progress, -1 before the first),
        batches_consumed (batches handed out in it), num_batches, base_seed, sampler_seed,
        generator_state (the loader's own generator, None when it uses the global one),
        sampler_generator_state (a RandomSampler's own generator, if it has a separate one).
        """
        seeded = self._seeded_sampler()
        sgen = getattr(seeded, "generator", None)
        return {
            "epoch": self._epoch,
            "batches_consumed": self._consumed,
            "num_batches": len(self),
            "base_seed": self._base_seed,
            "sampler_seed": self._sampler_seed,
            "generator_state": (self.generator.bit_generator.state
                                if self.generator is not None else None),
            "sampler_generator_state": (sgen.bit_generator.state
                                        if sgen is not None and sgen is not self.generator
                                        else None),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a position: the next iteration yields the rest of the saved epoch."""
        keys = {"epoch", "batches_consumed", "num_batches", "base_seed", "sampler_seed",
                "generator_state", "sampler_generator_state"}
        missing = keys - set(state_dict)
        if missing:
            raise KeyError(f"DataLoader state_dict is missing keys {sorted(missing)}")
        if state_dict["num_batches"] != len(self):
            raise ValueError(
                f"DataLoader state_dict was saved with {state_dict['num_batches']} batches per "
                f"epoch, this loader has {len(self)} (another dataset or batch size?)"
            )
        if state_dict["generator_state"] is not None:
            if self.generator is None:
                raise ValueError("state_dict has a generator state but this DataLoader has no "
                                 "generator (pass generator= as when it was saved)")
            self.generator.bit_generator.state = state_dict["generator_state"]
        sgen = getattr(self._seeded_sampler(), "generator", None)
        if state_dict["sampler_generator_state"] is not None and sgen is not None:
            sgen.bit_generator.state = state_dict["sampler_generator_state"]
        self._epoch = int(state_dict["epoch"])
        self._consumed = int(state_dict["batches_consumed"])
        self._base_seed, self._sampler_seed = state_dict["base_seed"], state_dict["sampler_seed"]
        in_progress = self._epoch >= 0 and self._consumed < state_dict["num_batches"]
        self._resume = dict(state_dict) if in_progress else None
        self._token = object()
