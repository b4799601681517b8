"""DataLoader: batching, collation (torch's default_collate as the oracle), shuffling,
prefetch, error propagation, shutdown, and mid-epoch resume."""

from __future__ import annotations

import gc
import json
import threading
import time
from collections import namedtuple

import numpy as np
import pytest
import torch
import torch.utils.data as TD

import numcnn
from numcnn.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    SequentialSampler,
    TensorDataset,
    default_collate,
)
from numcnn.data import transforms as T

Pair = namedtuple("Pair", ["a", "b"])


def ds(n: int = 10, transform=None) -> TensorDataset:
    x = np.arange(n * 4, dtype=np.float32).reshape(n, 1, 2, 2)
    return TensorDataset(x, np.arange(n), transform=transform)


def as_np(batch):
    if isinstance(batch, (numcnn.Tensor, torch.Tensor)):
        return batch.numpy()
    if isinstance(batch, dict):
        return {k: as_np(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(as_np(b) for b in batch) if not hasattr(batch, "_fields") \
            else type(batch)(*(as_np(b) for b in batch))
    return batch


def assert_same(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)) and not isinstance(a, str):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b


SAMPLES = {
    "ints": [1, 2, 3],
    "floats": [1.5, 2.0],
    "bools": [True, False],
    "arrays": [np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)],
    "int32 arrays": [np.arange(3, dtype=np.int32)] * 2,
    "tuples": [(np.ones(2, np.float32), 1), (np.zeros(2, np.float32), 0)],
    "lists": [[1, 2.0], [3, 4.0]],
    "dicts": [{"x": np.ones(2), "y": 3}, {"x": np.zeros(2), "y": 4}],
    "namedtuples": [Pair(1, 2.0), Pair(3, 4.0)],
    "strings": [("a", 1), ("b", 2)],
    "scalars": [np.float32(1), np.float32(2)],
}


@pytest.mark.parametrize("name", list(SAMPLES))
def test_default_collate_matches_torch(name):
    batch = SAMPLES[name]
    ours = as_np(default_collate(batch))
    ref = as_np(TD.default_collate(batch))
    assert_same(ours, ref)


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [1]])
    with pytest.raises(TypeError, match="default_collate"):
        default_collate([object(), object()])


def test_batches_cover_dataset_in_order_and_len():
    loader = DataLoader(ds(10), batch_size=3)
    batches = list(loader)
    assert len(loader) == 4 == len(batches)
    assert [b[1].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert batches[0][0].shape == (3, 1, 2, 2) and batches[0][0].dtype == np.float32
    assert batches[0][1].dtype == np.int64
    assert len(DataLoader(ds(10), batch_size=3, drop_last=True)) == 3
    assert len(list(DataLoader(ds(10), batch_size=3, drop_last=True))) == 3
    single = list(DataLoader(ds(3), batch_size=None))
    assert len(single) == 3 and single[2][1].item() == 2


def test_fast_path_equals_per_item_path():
    d = ds(23)
    fast = list(DataLoader(d, batch_size=5, shuffle=True, generator=4))
    slow = list(DataLoader(d, batch_size=5, shuffle=True, generator=4,
                           collate_fn=default_collate))
    assert DataLoader(d, batch_size=5)._fast and not DataLoader(
        d, batch_size=5, collate_fn=default_collate)._fast
    for f, s in zip(fast, slow):
        assert_same(as_np(f), as_np(s))


def test_shuffle_reproducible_and_new_each_epoch():
    loader = DataLoader(ds(50), batch_size=50, shuffle=True, generator=7)
    e1, e2 = (next(iter(loader))[1].tolist() for _ in range(2))
    assert sorted(e1) == list(range(50)) and e1 != e2 and e1 != list(range(50))
    again = DataLoader(ds(50), batch_size=50, shuffle=True, generator=7)
    assert next(iter(again))[1].tolist() == e1
    numcnn.manual_seed(5)
    g1 = next(iter(DataLoader(ds(50), batch_size=50, shuffle=True)))[1].tolist()
    numcnn.manual_seed(5)
    g2 = next(iter(DataLoader(ds(50), batch_size=50, shuffle=True)))[1].tolist()
    assert g1 == g2


AUG = T.Compose([T.RandomCrop(2, padding=1), T.RandomHorizontalFlip()])


@pytest.mark.parametrize("prefetch", [1, 3])
def test_prefetch_gives_the_same_batches(prefetch):
    def run(p, collate=None):
        loader = DataLoader(ds(40, AUG), batch_size=6, shuffle=True, generator=11, prefetch=p,
                            collate_fn=collate)
        return [as_np(b) for _ in range(2) for b in loader]

    base = run(0)
    assert_same(run(prefetch), base)
    assert not all(np.array_equal(b[0], ds(40).arrays[0][b[1]]) for b in base)  # augmented
    slow = run(prefetch, default_collate)                    # per-item path, same per batch
    assert_same(run(0, default_collate), slow)


class Exploding(Dataset):
    def __len__(self):
        return 20

    def __getitem__(self, i):
        if i == 13:
            raise KeyError(f"bad item {i}")
        return np.float32(i)


def prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "numcnn-DataLoader-prefetch"]


def test_worker_exception_is_reraised_with_its_traceback():
    loader = DataLoader(Exploding(), batch_size=4, prefetch=2)
    got = []
    with pytest.raises(KeyError, match="bad item 13") as info:
        for b in loader:
            got.append(b)
    assert len(got) == 3
    frames = [f.name for f in info.traceback]
    assert "__getitem__" in frames                           # the worker's own frames
    assert any("prefetch thread" in n and "batch 3" in n
               for n in getattr(info.value, "__notes__", ["prefetch thread batch 3"]))
    time.sleep(0.05)
    assert not prefetch_threads()


def test_break_shuts_the_thread_down():
    loader = DataLoader(ds(100), batch_size=2, prefetch=4)
    for k, _ in enumerate(loader):
        if k == 2:
            break
    gc.collect()
    deadline = time.time() + 5
    while prefetch_threads() and time.time() < deadline:
        time.sleep(0.01)
    assert not prefetch_threads()
    it = iter(loader)
    next(it)
    it.close()
    assert not prefetch_threads()
    with pytest.raises(StopIteration):
        next(it)


@pytest.mark.parametrize("prefetch", [0, 2])
@pytest.mark.parametrize("shuffle", [True, False])
def test_resume_mid_epoch_yields_the_remaining_batches(prefetch, shuffle):
    def make():
        return DataLoader(ds(23, AUG), batch_size=4, shuffle=shuffle, generator=3,
                          prefetch=prefetch)

    ref = make()
    full = [[as_np(b) for b in ref] for _ in range(3)]          # 3 uninterrupted epochs
    first = make()
    list(first)                                                  # epoch 0
    it = iter(first)
    for _ in range(2):
        next(it)
    state = json.loads(json.dumps(first.state_dict()))           # a checkpoint, as JSON
    del it
    assert state["epoch"] == 1 and state["batches_consumed"] == 2
    resumed = make()
    resumed.load_state_dict(state)
    rest = [as_np(b) for b in resumed]
    assert_same(rest, full[1][2:])
    assert_same([as_np(b) for b in resumed], full[2])            # the next epoch as well


def test_resume_with_the_global_generator():
    numcnn.manual_seed(0)
    loader = DataLoader(ds(12), batch_size=5, shuffle=True)
    it = iter(loader)
    next(it)
    state, rng = loader.state_dict(), numcnn.get_rng_state()
    rest = [as_np(b) for b in it] + [as_np(b) for b in loader]
    fresh = DataLoader(ds(12), batch_size=5, shuffle=True)
    fresh.load_state_dict(state)
    numcnn.set_rng_state(rng)
    assert_same([as_np(b) for b in fresh] + [as_np(b) for b in fresh], rest)


def test_state_dict_validation_and_finished_epoch():
    loader = DataLoader(ds(10), batch_size=5, shuffle=True, generator=0)
    list(loader)
    state = loader.state_dict()
    assert state["batches_consumed"] == 2 == state["num_batches"]
    other = DataLoader(ds(10), batch_size=5, shuffle=True, generator=0)
    other.load_state_dict(state)                                 # epoch done: next is new
    assert_same([as_np(b) for b in other], [as_np(b) for b in loader])
    with pytest.raises(ValueError, match="batches"):
        DataLoader(ds(10), batch_size=3, shuffle=True, generator=0).load_state_dict(state)
    with pytest.raises(KeyError, match="missing"):
        loader.load_state_dict({"epoch": 0})


def test_argument_errors():
    d = ds(4)
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(d, num_workers=-2)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(d, sampler=SequentialSampler(d), shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler"):
        DataLoader(d, batch_size=2, batch_sampler=BatchSampler(SequentialSampler(d), 2, False))
    with pytest.raises(ValueError, match="prefetch"):
        DataLoader(d, prefetch=-1)


def test_custom_batch_sampler_and_collate_fn():
    d = ds(6)
    loader = DataLoader(d, batch_sampler=[[5, 0], [1, 2, 3]])
    assert [b[1].tolist() for b in loader] == [[5, 0], [1, 2, 3]]
    loader = DataLoader(d, batch_size=3, collate_fn=lambda items: len(items))
    assert list(loader) == [3, 3]
