"""numcnn.data.DistributedSampler against torch.utils.data.DistributedSampler's semantics.

torch draws its shuffled permutation with torch.randperm, which numcnn does not reproduce: with
shuffle=True the tests check the properties torch's sampler has (shard sizes, padding, exact
coverage, disjointness, determinism per seed+epoch) on both samplers; with shuffle=False the
index lists must equal torch's exactly.
"""

from __future__ import annotations

import collections

import numpy as np
import pytest

import numcnn
from numcnn.data import DataLoader, TensorDataset
from numcnn.data.distributed import DistributedSampler

torch = pytest.importorskip("torch")
from torch.utils.data import DistributedSampler as TorchDistributedSampler  # noqa: E402


class _Sized:
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n


# (n, num_replicas): divisible, a short tail, padding longer than the data set, n < p
CASES = [(12, 3), (10, 3), (10, 4), (7, 2), (3, 5), (1, 4), (2, 7), (100, 8), (0, 2)]


def _shards(cls, n, p, **kw):
    return [list(cls(_Sized(n), num_replicas=p, rank=r, **kw)) for r in range(p)]


@pytest.mark.parametrize("n,p", CASES)
@pytest.mark.parametrize("drop_last", [False, True])
def test_unshuffled_lists_equal_torch(n, p, drop_last):
    ours = _shards(DistributedSampler, n, p, shuffle=False, drop_last=drop_last)
    theirs = _shards(TorchDistributedSampler, n, p, shuffle=False, drop_last=drop_last)
    assert ours == theirs
    for r in range(p):
        s = DistributedSampler(_Sized(n), num_replicas=p, rank=r, shuffle=False,
                               drop_last=drop_last)
        t = TorchDistributedSampler(_Sized(n), num_replicas=p, rank=r, shuffle=False,
                                    drop_last=drop_last)
        assert (len(s), s.num_samples, s.total_size) == (len(t), t.num_samples, t.total_size)


def _check_epoch(shards, n, p, drop_last):
    """What torch's sampler promises for one epoch, stated from n and p alone."""
    if drop_last:
        per_rank = n // p
    else:
        per_rank = -(-n // p)
    assert [len(s) for s in shards] == [per_rank] * p
    counts = collections.Counter(i for s in shards for i in s)
    assert all(0 <= i < n for i in counts)
    if drop_last:                               # distinct items, n % p of them left out
        assert all(c == 1 for c in counts.values())
        assert len(counts) == n - n % p
    else:                                       # every item once, plus p*per_rank - n repeats
        assert set(counts) == set(range(n))
        extra = p * per_rank - n
        assert sum(counts.values()) - n == extra
        # the padding repeats the order's head cyclically: no item more than once per full
        # pass of the data set
        assert max(counts.values(), default=0) <= 1 + -(-extra // max(n, 1))


@pytest.mark.parametrize("n,p", CASES)
@pytest.mark.parametrize("drop_last", [False, True])
def test_shuffled_epoch_has_torchs_properties(n, p, drop_last):
    for epoch in (0, 3):
        ours, theirs = [], []
        for r in range(p):
            s = DistributedSampler(_Sized(n), num_replicas=p, rank=r, seed=5,
                                   drop_last=drop_last)
            t = TorchDistributedSampler(_Sized(n), num_replicas=p, rank=r, seed=5,
                                        drop_last=drop_last)
            s.set_epoch(epoch)
            t.set_epoch(epoch)
            ours.append(list(s))
            theirs.append(list(t))
        _check_epoch(theirs, n, p, drop_last)   # the oracle satisfies the statement ...
        _check_epoch(ours, n, p, drop_last)     # ... and so does numcnn
        assert [len(s) for s in ours] == [len(t) for t in theirs]


def test_shards_are_strided_slices_of_one_padded_order():
    # n=10, p=4: total 12, the padding is the first two of the permutation
    shards = _shards(DistributedSampler, 10, 4, seed=1)
    order = [None] * 12
    for r, s in enumerate(shards):
        order[r::4] = s
    assert sorted(order[:10]) == list(range(10))
    assert order[10:] == order[:2]


def test_padding_longer_than_the_data_set_repeats_it_cyclically():
    # n=2, p=7: total 7, the order is repeated 3.5 times
    shards = _shards(DistributedSampler, 2, 7, seed=3)
    order = [s[0] for s in shards]
    assert sorted(order[:2]) == [0, 1]
    assert order == (order[:2] * 4)[:7]


def test_set_epoch_reshuffles_deterministically():
    def epoch_lists(epoch, seed=0):
        out = []
        for r in range(3):
            s = DistributedSampler(_Sized(50), num_replicas=3, rank=r, seed=seed)
            s.set_epoch(epoch)
            out.append(list(s))
        return out

    e0, e1 = epoch_lists(0), epoch_lists(1)
    assert e0 == epoch_lists(0)                  # same seed and epoch: same shards
    assert e0 != e1                              # a new epoch: a new order
    assert epoch_lists(1, seed=0) == epoch_lists(0, seed=1)   # the order is f(seed + epoch)
    assert epoch_lists(0, seed=7) != e0
    s = DistributedSampler(_Sized(50), num_replicas=3, rank=1)
    assert list(s) == list(s)                    # without set_epoch every pass is the same
    first = list(s)
    s.set_epoch(1)
    assert list(s) == e1[1] and first == e0[1]
    # the permutation is the documented one: PCG64 seeded with seed + epoch
    perm = np.random.Generator(np.random.PCG64(0 + 1)).permutation(50)
    full = np.concatenate([perm, perm[:1]])
    assert e1 == [full[r::3].tolist() for r in range(3)]


def test_defaults_come_from_the_world_and_args_are_checked():
    s = DistributedSampler(_Sized(5))
    assert (s.num_replicas, s.rank, s.shuffle, s.seed, s.drop_last) == (1, 0, True, 0, False)
    assert sorted(s) == list(range(5))
    with pytest.raises(ValueError,
                       match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(_Sized(5), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="Invalid rank -1"):
        DistributedSampler(_Sized(5), num_replicas=2, rank=-1)
    with pytest.raises(ValueError, match="num_replicas must be >= 1"):
        DistributedSampler(_Sized(5), num_replicas=0, rank=0)
    with pytest.raises(TypeError, match="num_replicas must be an int"):
        DistributedSampler(_Sized(5), num_replicas=2.0, rank=0)


def test_works_as_a_dataloader_sampler():
    x = numcnn.tensor(np.arange(22, dtype=np.float64).reshape(11, 2))
    y = numcnn.tensor(np.arange(11, dtype=np.int64))
    ds = TensorDataset(x, y)
    seen = []
    for r in range(2):
        sampler = DistributedSampler(ds, num_replicas=2, rank=r, seed=4)
        sampler.set_epoch(2)
        loader = DataLoader(ds, batch_size=4, sampler=sampler)
        assert len(loader) == 2                  # 6 samples per rank -> 4 + 2
        got = [yb.numpy().tolist() for _, yb in loader]
        flat = [i for b in got for i in b]
        assert flat == list(sampler)             # the loader visits the sampler's order
        xb = np.concatenate([xb.numpy() for xb, _ in loader])
        np.testing.assert_array_equal(xb, x.numpy()[flat])
        seen += flat
    assert sorted(set(seen)) == list(range(11)) and len(seen) == 12

