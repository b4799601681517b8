"""Samplers: which indices a DataLoader visits, in which order, grouped into which batches.

`SequentialSampler` and `RandomSampler` can also hand out a whole epoch's order as one array
(`index_array`), which the DataLoader slices into batches without a Python loop per index.
A `RandomSampler` epoch is a function of one seed (`index_array(seed)`), drawn at the start of
the epoch from its generator (or numcnn.random.generator()); that seed is what a DataLoader
checkpoint stores to resume mid-epoch.
"""

from __future__ import annotations

from typing import Any, Generic, Iterable, Iterator, Sequence, Sized, TypeVar

import numpy as np

from numcnn.data.dataset import GeneratorLike, as_generator

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]

T_co = TypeVar("T_co", covariant=True)


class Sampler(Generic[T_co]):
    """Base class: iterating yields indices (or, for a batch sampler, lists of indices)."""

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError


class SequentialSampler(Sampler[int]):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)

    def index_array(self, seed: int | None = None) -> np.ndarray:
        """The epoch's indices as one int64 array."""
        return np.arange(len(self.data_source), dtype=np.int64)


class RandomSampler(Sampler[int]):
    """A random permutation (or, with `replacement`, uniform draws with replacement).

    Args:
        data_source: the dataset (only its length is used).
        replacement: draw with replacement.
        num_samples: how many indices per epoch (default len(data_source)); without
            replacement, more than the length repeats whole permutations (as PyTorch).
        generator: np.random.Generator or int seed; each epoch draws one seed from it
            (None: from numcnn.random.generator()).
    """

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None, generator: GeneratorLike = None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        if not isinstance(replacement, bool):
            raise TypeError(
                f"replacement should be a boolean value, but got replacement={replacement}"
            )
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(
                f"num_samples should be a positive integer value, but got "
                f"num_samples={self.num_samples}"
            )
        self.generator = as_generator(generator) if generator is not None else None
        self.seed: int | None = None        # the seed of the latest epoch

    @property
    def num_samples(self) -> int:
        if self._num_samples is None:
            return len(self.data_source)
        return self._num_samples

    def __len__(self) -> int:
        return self.num_samples

    def draw_seed(self) -> int:
        """A fresh epoch seed from the generator (or numcnn.random.generator())."""
        gen = self.generator if self.generator is not None else as_generator(None)
        return int(gen.integers(0, 2**63 - 1))

    def index_array(self, seed: int | None = None) -> np.ndarray:
        """The epoch's indices for `seed` (a fresh one drawn when None) as one int64 array."""
        if seed is None:
            seed = self.draw_seed()
        self.seed = int(seed)
        rng = np.random.Generator(np.random.PCG64(self.seed))
        n, k = len(self.data_source), self.num_samples
        if self.replacement:
            return rng.integers(0, n, size=k, dtype=np.int64)
        perms = [rng.permutation(n) for _ in range(k // n)]
        if k % n:
            perms.append(rng.permutation(n)[: k % n])
        return np.concatenate(perms).astype(np.int64, copy=False)

    def __iter__(self) -> Iterator[int]:
        return iter(self.index_array().tolist())


class _SeededSampler(Sampler[int]):
    """An epoch that is a function of one seed drawn from `generator` (as RandomSampler's),
    so a DataLoader can checkpoint and resume it."""

    generator: np.random.Generator | None
    seed: int | None

    def draw_seed(self) -> int:
        """A fresh epoch seed from the generator (or numcnn.random.generator())."""
        gen = self.generator if self.generator is not None else as_generator(None)
        return int(gen.integers(0, 2**63 - 1))

    def index_array(self, seed: int | None = None) -> np.ndarray:
        """The epoch's indices for `seed` (a fresh one drawn when None) as one int64 array."""
        if seed is None:
            seed = self.draw_seed()
        self.seed = int(seed)
        return self._draw(np.random.Generator(np.random.PCG64(self.seed)))

    def _draw(self, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def __iter__(self) -> Iterator[int]:
        return iter(self.index_array().tolist())


class SubsetRandomSampler(_SeededSampler):
    """The given indices in a random order (a new permutation every epoch).

    Args:
        indices: the indices to visit (any sequence of ints).
        generator: np.random.Generator or int seed; each epoch draws one seed from it
            (None: from numcnn.random.generator()).
    """

    def __init__(self, indices: Sequence[int], generator: GeneratorLike = None) -> None:
        self.indices = indices
        self.generator = as_generator(generator) if generator is not None else None
        self.seed: int | None = None

    def _draw(self, rng: np.random.Generator) -> np.ndarray:
        order = rng.permutation(len(self.indices))
        return np.asarray([self.indices[i] for i in order.tolist()], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(_SeededSampler):
    """`num_samples` indices in [0, len(weights)), index i drawn with probability
    weights[i] / sum(weights): independently with `replacement`, else without repeats (each
    draw among the indices not drawn yet, in proportion to their weights; zero weights last).

    Args:
        weights: a 1-D sequence of non-negative weights (need not sum to 1).
        num_samples: how many indices per epoch.
        replacement: draw with replacement (default True).
        generator: np.random.Generator or int seed; each epoch draws one seed from it
            (None: from numcnn.random.generator()).

    Raises:
        ValueError: for num_samples not a positive int, replacement not a bool, or weights
            that are not 1-D (as PyTorch).
        RuntimeError: at iteration, for negative, nan, infinite or all-zero weights, or
            num_samples > len(weights) without replacement (as torch.multinomial; without
            replacement, zero-weight indices come after all positive ones, as in torch).
    """

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator: GeneratorLike = None) -> None:
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) \
                or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        w = np.asarray(weights.array if hasattr(weights, "array") else weights,  # type: ignore
                       dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape "
                             f"{tuple(w.shape)}")
        self.weights: Any = w
        self.num_samples, self.replacement = num_samples, replacement
        self.generator = as_generator(generator) if generator is not None else None
        self.seed: int | None = None

    def _draw(self, rng: np.random.Generator) -> np.ndarray:
        w = self.weights
        if w.size == 0 or not np.all(w >= 0):              # also catches nan
            raise RuntimeError("invalid multinomial distribution (encountering probability "
                               "entry < 0)")
        if not np.isfinite(w.sum()) or w.sum() <= 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)"
                               if w.sum() <= 0 else
                               "invalid multinomial distribution (sum of probabilities is inf)")
        if self.replacement:
            return rng.choice(w.size, size=self.num_samples, p=w / w.sum()).astype(np.int64)
        if self.num_samples > w.size:
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                               "replacement")
        # an exponential race: index i finishes at E_i / w_i (E_i ~ Exp(1)); the order of
        # finishing is a weighted draw without replacement.  Zero weights never finish: as in
        # torch, they come last (in random order), once the positive weights are used up.
        with np.errstate(divide="ignore"):
            finish = rng.standard_exponential(w.size) / w
        order = np.lexsort((rng.random(w.size), finish))
        return order[: self.num_samples].astype(np.int64)

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[list[int]]):
    """Group a sampler's indices into lists of `batch_size` (the last one shorter unless
    `drop_last`)."""

    def __init__(self, sampler: Sampler[int] | Iterable[int], batch_size: int,
                 drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(
                f"batch_size should be a positive integer value, but got batch_size={batch_size}"
            )
        if not isinstance(drop_last, bool):
            raise ValueError(
                f"drop_last should be a boolean value, but got drop_last={drop_last}"
            )
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self) -> Iterator[list[int]]:
        for b in self.batches():
            yield b.tolist()

    def batches(self, seed: int | None = None) -> Iterator[np.ndarray]:
        """The batches as int64 arrays: slices of one epoch array when the sampler has
        `index_array` (its `seed`), else gathered from iterating it."""
        if hasattr(self.sampler, "index_array"):
            idx = self.sampler.index_array(seed)
        else:
            idx = np.fromiter(iter(self.sampler), dtype=np.int64)
        stop = len(idx) - len(idx) % self.batch_size if self.drop_last else len(idx)
        for start in range(0, stop, self.batch_size):
            yield idx[start:start + self.batch_size]

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


