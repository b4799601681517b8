"""Datasets and samplers; PyTorch's torch.utils.data as the oracle for deterministic parts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.utils.data as TD

import numcnn
from numcnn.data import (
    BatchSampler,
    ConcatDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
)
from numcnn.data import transforms as T


def arange_ds(n: int = 10) -> TensorDataset:
    return TensorDataset(np.arange(n * 2, dtype=np.float32).reshape(n, 2), np.arange(n))


def test_tensor_dataset_items_and_errors():
    ds = arange_ds()
    x, y = ds[3]
    assert isinstance(x, numcnn.Tensor) and x.tolist() == [6.0, 7.0] and y.item() == 3
    assert len(ds) == 10
    ds2 = TensorDataset(numcnn.tensor([[1.0], [2.0]]), numcnn.tensor([0, 1]))
    assert ds2[1][0].tolist() == [2.0]
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(TypeError, match="Tensors or ndarrays"):
        TensorDataset([1, 2, 3])


def test_get_batch_equals_collated_items():
    ds = arange_ds()
    idx = np.array([7, 2, 2, 9])
    fast = ds.get_batch(idx)
    slow = default_collate([ds[i] for i in idx.tolist()])
    for f, s in zip(fast, slow):
        np.testing.assert_array_equal(f, s.numpy())
        assert f.dtype == s.dtype
    tds = TensorDataset(np.zeros((4, 1, 3, 3), np.float32), np.arange(4),
                        transform=T.RandomHorizontalFlip(1.0))
    xb, _ = tds.get_batch(np.arange(4))
    assert xb.shape == (4, 1, 3, 3)


def test_subset_and_concat():
    ds = arange_ds()
    sub = Subset(ds, [5, 1, 8])
    assert len(sub) == 3 and sub[1][1].item() == 1
    np.testing.assert_array_equal(sub.get_batch(np.array([2, 0]))[1], [8, 5])
    cat = ConcatDataset([arange_ds(3), arange_ds(4)])
    assert len(cat) == 7 and cat.cumulative_sizes == [3, 7]
    assert cat[3][1].item() == 0 and cat[-1][1].item() == 3 and cat[2][1].item() == 2
    labels = cat.get_batch(np.array([4, 0, 6, 2, 3]))[1]
    np.testing.assert_array_equal(labels, [1, 0, 3, 2, 0])
    assert len(arange_ds(2) + arange_ds(3)) == 5
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])
    with pytest.raises(ValueError, match="exceed"):
        cat[-8]


@pytest.mark.parametrize("lengths", [[0.3, 0.3, 0.4], [0.5, 0.5], [0.33, 0.33, 0.34],
                                     [3, 14], [0.1] * 10])
def test_random_split_lengths_match_torch_and_partition(lengths):
    n = 17
    ours = random_split(arange_ds(n), lengths, generator=0)
    ref = TD.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in ref]
    idx = np.concatenate([np.asarray(s.indices) for s in ours])
    assert sorted(idx.tolist()) == list(range(n))


def test_random_split_seeding_and_errors():
    ds = arange_ds(20)
    a = random_split(ds, [5, 15], generator=3)
    b = random_split(ds, [5, 15], generator=np.random.default_rng(3))
    assert a[0].indices == b[0].indices
    numcnn.manual_seed(1)
    c = random_split(ds, [5, 15])
    numcnn.manual_seed(1)
    d = random_split(ds, [5, 15])
    assert c[0].indices == d[0].indices
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(ds, [5, 5])
    with pytest.raises(TypeError, match="generator"):
        random_split(ds, [5, 15], generator="x")  # type: ignore[arg-type]


def test_samplers():
    ds = arange_ds(10)
    assert list(SequentialSampler(ds)) == list(range(10))
    perm = list(RandomSampler(ds, generator=0))
    assert sorted(perm) == list(range(10)) and perm != list(range(10))
    s = RandomSampler(ds, generator=1)
    assert list(s) != list(s)                         # a new order every epoch
    r = list(RandomSampler(ds, replacement=True, num_samples=50, generator=0))
    assert len(r) == 50 and set(r) <= set(range(10))
    rep = list(RandomSampler(ds, num_samples=25, generator=0))
    assert sorted(rep[:10]) == sorted(rep[10:20]) == list(range(10)) and len(rep) == 25
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(ds, num_samples=0)


@pytest.mark.parametrize("n,bs,drop", [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False)])
def test_batch_sampler_matches_torch(n, bs, drop):
    ours = BatchSampler(SequentialSampler(range(n)), bs, drop)
    ref = TD.BatchSampler(TD.SequentialSampler(range(n)), bs, drop)
    assert list(ours) == list(ref) and len(ours) == len(ref)
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(SequentialSampler(range(n)), 0, drop)
