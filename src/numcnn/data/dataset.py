"""Datasets: `Dataset`, `IterableDataset`, `TensorDataset`, `Subset`, `ConcatDataset`,
`ChainDataset`, `random_split`.

The API is `torch.utils.data`'s. One addition makes loading fast: a dataset backed by arrays
may define

    get_batch(indices: np.ndarray) -> the collated batch (a tuple/list/dict of arrays)

which returns a whole batch with one fancy index per field (and vectorised transforms) instead
of a Python loop over items. `DataLoader` uses it when no `collate_fn` is given; its result
must equal `default_collate([dataset[i] for i in indices])` up to random augmentation draws.
"""

from __future__ import annotations

import bisect
import math
import warnings
from typing import Any, Callable, Generic, Iterable, Iterator, Sequence, TypeVar, Union

import numpy as np

from numcnn import random as nrandom
from numcnn.tensor import Tensor

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset",
           "ChainDataset", "random_split", "has_get_batch", "as_generator"]

T_co = TypeVar("T_co", covariant=True)
GeneratorLike = Union[np.random.Generator, int, None]


def as_generator(generator: GeneratorLike) -> np.random.Generator:
    """A np.random.Generator from a Generator (as is), a numcnn.Generator (the one it wraps),
    an int seed, or None (the global one)."""
    if generator is None:
        return nrandom.generator()
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, nrandom.Generator):       # numcnn.Generator, as torch.Generator
        return generator.numpy_generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        if generator < 0:
            raise ValueError(f"generator seed must be non-negative, got {generator}")
        return np.random.Generator(np.random.PCG64(int(generator)))
    raise TypeError(
        f"generator must be a numpy.random.Generator, an int seed or None, "
        f"got {type(generator).__name__}"
    )


def has_get_batch(dataset: Any) -> bool:
    """Whether `dataset` can return a collated batch in one call (`get_batch`)."""
    fn = getattr(dataset, "get_batch", None)
    if fn is None:
        return False
    ok = getattr(dataset, "supports_get_batch", True)
    return bool(ok() if callable(ok) else ok)


class Dataset(Generic[T_co]):
    """A map-style dataset: `dataset[i]` for 0 <= i < len(dataset)."""

    def __getitem__(self, index: int) -> T_co:
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other: Dataset[Any]) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co]):
    """A stream of samples: subclasses write `__iter__` (and may write `__len__`).

    A DataLoader reads it in order, `batch_size` samples to a batch; it takes no sampler and
    no shuffle.  In a worker process, `get_worker_info()` tells `__iter__` which share of the
    stream to yield (PyTorch's sharding idiom).  `a + b` chains two streams (`ChainDataset`).
    """

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")

    def __add__(self, other: Dataset[Any]) -> ChainDataset:  # type: ignore[override]
        return ChainDataset([self, other])


def _array(t: Any) -> np.ndarray:
    if isinstance(t, Tensor):
        return t.array
    if isinstance(t, np.ndarray):
        return t
    raise TypeError(f"TensorDataset expects Tensors or ndarrays, got {type(t).__name__}")


def _apply_transform(transform: Callable[[Any], Any], x: np.ndarray | Tensor) -> Any:
    """A transform on a batch: its vectorised `batch` if it has one, else item by item."""
    vec = getattr(transform, "batch", None)
    if vec is not None and getattr(transform, "has_batch", True):
        return vec(x)
    items = [transform(x[k]) for k in range(len(x))]
    arrs = [i.array if isinstance(i, Tensor) else np.asarray(i) for i in items]
    return np.stack(arrs)


class LabelledImages(Dataset[tuple[Any, Any]]):
    """Base of the image datasets held in memory as arrays: `data` (images) and `targets`
    (int64 labels), with torchvision's `transform` / `target_transform`.

    Subclasses fill `data`, `targets`, `transform` and `target_transform` in `__init__`.
    """

    data: np.ndarray
    targets: np.ndarray
    transform: Callable[[Any], Any] | None
    target_transform: Callable[[Any], Any] | None

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img: Any = self.data[index]
        target: Any = int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def get_batch(self, indices: np.ndarray) -> tuple[Any, Any]:
        """(images, targets (B,)) with one fancy index each; transforms run batched."""
        imgs: Any = self.data[indices]
        targets: Any = self.targets[indices]
        if self.transform is not None:
            imgs = _apply_transform(self.transform, imgs)
        if self.target_transform is not None:
            targets = np.asarray([self.target_transform(int(t)) for t in targets])
        return imgs, targets


class TensorDataset(Dataset[tuple[Any, ...]]):
    """Samples are the rows of the tensors: dataset[i] = tuple(t[i] for t in tensors).

    Args:
        *tensors: Tensors or ndarrays with equal first dimension.
        transform: numcnn extension (keyword-only): applied to the first field of every
            sample (vectorised through its `batch` method when the DataLoader loads a batch).
    """

    def __init__(self, *tensors: Any, transform: Callable[[Any], Any] | None = None) -> None:
        arrays = [_array(t) for t in tensors]
        if not arrays:
            raise ValueError("TensorDataset needs at least one tensor")
        if any(a.ndim == 0 for a in arrays) or any(
                a.shape[0] != arrays[0].shape[0] for a in arrays):
            raise ValueError(
                f"Size mismatch between tensors: first dimensions "
                f"{[a.shape[0] if a.ndim else None for a in arrays]}"
            )
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in tensors)
        self.arrays = arrays
        self.transform = transform

    def __getitem__(self, index: Any) -> tuple[Any, ...]:
        fields = [Tensor(a[index]) for a in self.arrays]
        if self.transform is not None:
            fields[0] = self.transform(fields[0])
        return tuple(fields)

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def get_batch(self, indices: np.ndarray) -> tuple[Any, ...]:
        """(x[indices] for every field) — one fancy index each; the transform vectorised."""
        fields: list[Any] = [a[indices] for a in self.arrays]
        if self.transform is not None:      # as Tensors, as the items are: (N, C, H, W)
            fields[0] = _apply_transform(self.transform, Tensor(fields[0]))
        return tuple(fields)


class Subset(Dataset[T_co]):
    """The items of `dataset` at `indices`, in that order."""

    def __init__(self, dataset: Dataset[T_co], indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices
        self._idx = np.asarray(indices, dtype=np.int64).reshape(-1)

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]  # type: ignore[index]
        return self.dataset[int(self._idx[idx])]

    def __len__(self) -> int:
        return len(self._idx)

    def supports_get_batch(self) -> bool:
        return has_get_batch(self.dataset)

    def get_batch(self, indices: np.ndarray) -> Any:
        return self.dataset.get_batch(self._idx[indices])  # type: ignore[attr-defined]


def _map_structure(fn: Callable[..., Any], *trees: Any) -> Any:
    first = trees[0]
    if isinstance(first, dict):
        return {k: _map_structure(fn, *(t[k] for t in trees)) for k in first}
    if isinstance(first, (tuple, list)):
        out = [_map_structure(fn, *items) for items in zip(*trees)]
        return type(first)(out) if not hasattr(first, "_fields") else type(first)(*out)
    return fn(*trees)


class ConcatDataset(Dataset[T_co]):
    """The datasets one after another: indices [0, len(d0)) are d0's, and so on."""

    def __init__(self, datasets: Iterable[Dataset[Any]]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("datasets should not be an empty iterable")
        self.cumulative_sizes: list[int] = []
        total = 0
        for d in self.datasets:
            total += len(d)  # type: ignore[arg-type]
            self.cumulative_sizes.append(total)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> Any:
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        d = bisect.bisect_right(self.cumulative_sizes, idx)
        offset = idx if d == 0 else idx - self.cumulative_sizes[d - 1]
        return self.datasets[d][offset]

    def supports_get_batch(self) -> bool:
        return all(has_get_batch(d) for d in self.datasets)

    def get_batch(self, indices: np.ndarray) -> Any:
        """Each member's part in one `get_batch`, reassembled in the requested order."""
        idx = np.asarray(indices, dtype=np.int64)
        which = np.searchsorted(self.cumulative_sizes, idx, side="right")   # (B,)
        starts = np.concatenate([[0], self.cumulative_sizes[:-1]])
        parts, order = [], []
        for d in np.unique(which):
            sel = np.flatnonzero(which == d)
            parts.append(self.datasets[d].get_batch(idx[sel] - starts[d]))  # type: ignore
            order.append(sel)
        if len(parts) == 1:
            return parts[0]
        inverse = np.argsort(np.concatenate(order), kind="stable")
        return _map_structure(
            lambda *xs: np.concatenate([x.array if isinstance(x, Tensor) else x for x in xs]
                                       )[inverse], *parts)


class ChainDataset(IterableDataset[Any]):
    """Iterable datasets one after the other, as one stream (built lazily, on iteration).

    Raises:
        TypeError: at iteration or len(), for a member that is not an IterableDataset (as
            PyTorch).
    """

    def __init__(self, datasets: Iterable[Dataset[Any]]) -> None:
        super().__init__()
        self.datasets = datasets

    def __iter__(self) -> Iterator[Any]:
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only supports IterableDataset, got "
                                f"{type(d).__name__}")
            yield from d

    def __len__(self) -> int:
        total = 0
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only supports IterableDataset, got "
                                f"{type(d).__name__}")
            total += len(d)  # type: ignore[arg-type]
        return total


def random_split(dataset: Dataset[T_co], lengths: Sequence[int | float],
                 generator: GeneratorLike = None) -> list[Subset[T_co]]:
    """Split into non-overlapping random subsets of the given lengths (or fractions).

    Fractions summing to 1 become floor(n * f) items each, the remainder handed out one by one
    round-robin (as PyTorch). `generator`: a np.random.Generator, an int seed, or None
    (numcnn.random.generator()).
    """
    n = len(dataset)  # type: ignore[arg-type]
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        subset_lengths: list[int] = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            subset_lengths.append(int(math.floor(n * frac)))
        remainder = n - sum(subset_lengths)
        for i in range(remainder):
            subset_lengths[i % len(subset_lengths)] += 1
        for i, length in enumerate(subset_lengths):
            if length == 0:
                warnings.warn(f"Length of split at index {i} is 0. "
                              f"This might result in an empty dataset.", stacklevel=2)
        lengths = subset_lengths  # type: ignore[assignment]
    if any(int(x) != x or x < 0 for x in lengths):
        raise ValueError(f"lengths must be non-negative ints or fractions summing to 1, "
                         f"got {lengths}")
    if sum(lengths) != n:
        raise ValueError(
            "Sum of input lengths does not equal the length of the input dataset!"
        )
    perm = as_generator(generator).permutation(n)
    out, offset = [], 0
    for size in lengths:
        out.append(Subset(dataset, perm[offset:offset + int(size)].tolist()))
        offset += int(size)
    return out
