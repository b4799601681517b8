"""`DistributedSampler`: each of `num_replicas` processes visits its own shard of a data set.

PyTorch's semantics (torch.utils.data.DistributedSampler), for a data set of n items and
p = num_replicas:

    num_samples = ceil(n / p)                      (drop_last=False, or n divisible by p)
                = ceil((n - p) / p)                (drop_last=True and n not divisible by p)
    total_size  = num_samples * p

One epoch's order is a permutation of 0..n-1 (or 0..n-1 itself without `shuffle`); it is
padded to total_size by repeating its head (as often as needed, when the padding is longer
than n), or cut to total_size with `drop_last`.  Rank r takes every p-th index starting at r:

    shard(r) = order[r : total_size : p]

so the shards are disjoint, of equal length, and together cover every item exactly once per
epoch plus the padding (or minus the dropped tail).

The permutation is numcnn's own: a NumPy PCG64 generator seeded with `seed + epoch`.  Every
rank computes the same order from the same seed and epoch, so no communication is needed;
`set_epoch(e)` before each epoch gives a new order, the same on every rank and on every run.
PyTorch draws its permutation with `torch.randperm`, which NumPy cannot reproduce bit for bit:
with `shuffle=True` the index lists differ from PyTorch's (all the properties above hold);
with `shuffle=False` they are equal.
"""

from __future__ import annotations

import math
from typing import Iterator, Sized

import numpy as np

from numcnn.data.sampler import Sampler

__all__ = ["DistributedSampler"]


def _world_rank_and_size() -> tuple[int, int]:
    """This process's rank and the world size (0 and 1 without MPI)."""
    import numcnn.distributed as dist
    return dist.get_rank(), dist.get_world_size()


def _check_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"DistributedSampler: {name} must be an int, got {value!r}")
    return int(value)


class DistributedSampler(Sampler[int]):
    """Restrict a DataLoader to this process's shard of the data set (see the module docstring).

    Args:
        dataset: the data set (only its length is used; it must not change).
        num_replicas: the number of processes (default: numcnn.distributed.get_world_size()).
        rank: this process's rank in [0, num_replicas) (default: numcnn.distributed.get_rank()).
        shuffle: a new seeded permutation every epoch (else 0, 1, ..., n-1).
        seed: the shuffling seed; must be the same on every rank.
        drop_last: drop the tail so that the shards are equal, instead of padding.

    Example:
        sampler = DistributedSampler(train_set)
        loader = DataLoader(train_set, batch_size=64, sampler=sampler)
        for epoch in range(epochs):
            sampler.set_epoch(epoch)        # before iterating, or every epoch is the same
            for x, y in loader: ...
    """

    def __init__(self, dataset: Sized, num_replicas: int | None = None,
                 rank: int | None = None, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            world_rank, world_size = _world_rank_and_size()
            num_replicas = world_size if num_replicas is None else num_replicas
            rank = world_rank if rank is None else rank
        num_replicas, rank = _check_int("num_replicas", num_replicas), _check_int("rank", rank)
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be >= 1, got {num_replicas}")
        if rank >= num_replicas or rank < 0:
            raise ValueError(
                f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]"
            )
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = bool(drop_last)
        self.shuffle = bool(shuffle)
        self.seed = _check_int("seed", seed)
        n = len(dataset)
        if self.drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def epoch_order(self) -> np.ndarray:
        """The whole epoch's order before sharding: n indices (a permutation seeded with
        seed + epoch, or 0..n-1), padded by repeating its head or cut, to total_size."""
        n = len(self.dataset)
        if self.shuffle:
            rng = np.random.Generator(np.random.PCG64(self.seed + self.epoch))
            order = rng.permutation(n).astype(np.int64)
        else:
            order = np.arange(n, dtype=np.int64)
        if self.drop_last:
            return order[: self.total_size]
        padding = self.total_size - n
        if padding > 0:
            order = np.concatenate([order, np.resize(order, padding)])   # resize repeats
        return order

    def index_array(self, seed: int | None = None) -> np.ndarray:
        """This rank's indices for the current epoch as one int64 array (what a DataLoader
        slices into batches).  `seed` is ignored: the order is fixed by `seed + epoch`."""
        return self.epoch_order()[self.rank: self.total_size: self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self.index_array().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use `epoch` for the next orders: with `shuffle`, every epoch gets its own
        permutation (the same on every rank).  Call it before each epoch's DataLoader loop."""
        self.epoch = _check_int("epoch", epoch)
