"""DataLoader with worker processes: the same batches as without, seeding, worker info, errors,
dead and slow workers, persistent workers, resume, the 'spawn' context, and torch's argument
errors (torch as the oracle for those)."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import time

import numpy as np
import pytest
import torch.utils.data as TD

import numcnn
from numcnn.data import DataLoader, Dataset, TensorDataset, default_collate, get_worker_info
from numcnn.data import transforms as T
from numcnn.data.dataset import LabelledImages

N = 37                                                 # odd: a short last batch


def cifar_like(n: int = N, seed: int = 0) -> np.ndarray:
    """CIFAR-shaped HWC uint8 images."""
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3)).astype(np.uint8)


AUG = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                 T.Normalize([0.49, 0.48, 0.45], [0.25, 0.24, 0.26])])


class Images(LabelledImages):
    """A CIFAR-like reader: uint8 (N, 32, 32, 3) images, int64 labels (module level, so that
    'spawn' can pickle it)."""

    def __init__(self, transform=AUG, n: int = N) -> None:
        self.data, self.targets = cifar_like(n), np.arange(n, dtype=np.int64) % 10
        self.transform, self.target_transform = transform, None


def as_np(batch):
    return [b.numpy() if hasattr(b, "numpy") else b for b in batch]


def same(a, b) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for u, v in zip(as_np(x), as_np(y)):
            assert u.dtype == v.dtype and u.shape == v.shape
            np.testing.assert_array_equal(u, v)


def epochs(loader: DataLoader, n: int = 2) -> list:
    return [b for _ in range(n) for b in loader]


def children() -> list:
    return [p for p in multiprocessing.active_children() if p.name.startswith("numcnn-")]


def wait_no_children(seconds: float = 5.0) -> None:
    deadline = time.time() + seconds
    while children() and time.time() < deadline:
        time.sleep(0.02)
    assert not children()


# ----------------------------------------------------------------------------- same batches
@pytest.mark.parametrize("num_workers", [1, 2, 3])
@pytest.mark.parametrize("per_item", [False, True])
def test_workers_give_exactly_the_batches_of_num_workers_0(num_workers, per_item):
    collate = default_collate if per_item else None
    make = lambda w, **kw: DataLoader(Images(), batch_size=5, shuffle=True, generator=11,  # noqa: E731
                                      num_workers=w, collate_fn=collate, **kw)
    base = epochs(make(0))
    assert len(base) == 16 and base[3][0].shape == (5, 3, 32, 32) and base[7][0].shape[0] == 2
    assert base[3][0].dtype == np.float32
    same(epochs(make(num_workers)), base)
    same(epochs(make(num_workers, prefetch_factor=1, persistent_workers=True)), base)
    same(epochs(make(num_workers, pin_memory=True, prefetch=6)), base)
    wait_no_children()


def test_augmentation_is_real_and_seeded_per_batch():
    ds = Images()
    x, y = next(iter(DataLoader(ds, batch_size=N, num_workers=2, generator=0)))
    plain = (ds.data.transpose(0, 3, 1, 2) / np.float32(255) - np.float32(0.49)) / 0.25
    assert not np.allclose(x.numpy()[:, 0], plain[:, 0], atol=1e-3)          # cropped/flipped
    np.testing.assert_array_equal(y.numpy(), ds.targets)


def test_reproducible_across_runs_with_manual_seed():
    def run(w):
        numcnn.manual_seed(1234)
        return epochs(DataLoader(Images(), batch_size=8, shuffle=True, num_workers=w))

    first = run(2)
    same(run(2), first)
    same(run(0), first)
    numcnn.manual_seed(4321)
    other = epochs(DataLoader(Images(), batch_size=8, shuffle=True, num_workers=2))
    assert not np.array_equal(other[0][1].numpy(), first[0][1].numpy())


# ----------------------------------------------------------------------------- worker info
class WhoLoads(Dataset):
    """Each item tells which worker loaded it and what its global generators draw."""

    def __init__(self, n: int = 8) -> None:
        self.n, self.offset = n, 0

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        info = get_worker_info()
        assert info is not None and info.dataset is not self or info.dataset.n == self.n
        return np.array([i, info.id, info.num_workers, info.seed % 2**31, self.offset,
                         numcnn.random.generator().integers(0, 2**31), random.getrandbits(31),
                         np.random.randint(0, 2**31), os.getpid()], dtype=np.int64)


def init_offset(worker_id: int) -> None:
    info = get_worker_info()
    assert info is not None and info.id == worker_id
    info.dataset.offset = 100 + worker_id


def test_worker_info_seeds_and_worker_init_fn():
    assert get_worker_info() is None
    loader = DataLoader(WhoLoads(), batch_size=1, num_workers=2, generator=5,
                        worker_init_fn=init_offset)
    rows = np.concatenate([b.numpy() for b in loader])
    base_seed = loader.state_dict()["base_seed"]
    np.testing.assert_array_equal(rows[:, 0], np.arange(8))
    np.testing.assert_array_equal(rows[:, 1], np.arange(8) % 2)               # round robin
    assert set(rows[:, 2]) == {2}
    np.testing.assert_array_equal(rows[:, 3], (base_seed + rows[:, 1]) % 2**31)
    np.testing.assert_array_equal(rows[:, 4], 100 + rows[:, 1])
    assert len(set(rows[:, 8])) == 2 and os.getpid() not in set(rows[:, 8])
    # worker i's global generators are seeded with base_seed + i, as in torch
    for wid in (0, 1):
        numcnn.manual_seed(base_seed + wid)
        random.seed(base_seed + wid)
        mine = rows[rows[:, 1] == wid]
        expect = numcnn.random.generator().integers(0, 2**31, size=len(mine))
        np.testing.assert_array_equal(mine[:, 5], expect)
        np.testing.assert_array_equal(mine[:, 6], [random.getrandbits(31) for _ in mine])
    again = DataLoader(WhoLoads(), batch_size=1, num_workers=2, generator=5,
                       worker_init_fn=init_offset)
    rows2 = np.concatenate([b.numpy() for b in again])
    np.testing.assert_array_equal(rows2[:, :8], rows[:, :8])                  # numpy too


# ----------------------------------------------------------------------------- failures
class Exploding(Dataset):
    def __init__(self, bad: int = 13, how: str = "raise") -> None:
        self.bad, self.how = bad, how

    def __len__(self) -> int:
        return 20

    def __getitem__(self, i):
        if i == self.bad:
            if self.how == "raise":
                raise KeyError(f"bad item {i}")
            if self.how == "unpicklable":
                raise Unpicklable(lambda: i)
            if self.how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if self.how == "sleep":
                time.sleep(3.0)
        return np.float32(i)


class Unpicklable(Exception):
    def __init__(self, fn):
        super().__init__("cannot travel")
        self.fn = fn


class SlowThenFailing(Dataset):
    """Batch 1 (items 4..7) fails at once; batch 0 takes a while, so the error reaches the
    consumer before the batch that comes before it."""

    def __len__(self) -> int:
        return 12

    def __getitem__(self, i):
        if 4 <= i < 8:
            raise KeyError(f"bad item {i}")
        if i < 4:
            time.sleep(0.3)
        return np.float32(i)


def test_a_batch_error_waits_for_the_batches_before_it():
    # torch yields batch 0 and only then raises batch 1's error, whatever arrives first
    for loader in (TD.DataLoader(SlowThenFailing(), batch_size=4, num_workers=2),
                   DataLoader(SlowThenFailing(), batch_size=4, num_workers=2)):
        got = []
        with pytest.raises(KeyError, match="bad item 4") as info:
            for b in loader:
                got.append(np.asarray(b).tolist())
        assert got == [[0.0, 1.0, 2.0, 3.0]]
        if isinstance(loader, DataLoader):
            assert "worker process 1 while loading batch 1" in "\n".join(info.value.__notes__)
    wait_no_children()


def test_worker_exception_names_the_worker_and_the_original_traceback():
    loader = DataLoader(Exploding(), batch_size=4, num_workers=2)
    got = []
    with pytest.raises(KeyError, match="bad item 13") as info:
        for b in loader:
            got.append(b)
    assert len(got) == 3
    note = "\n".join(info.value.__notes__)
    assert "Caught KeyError in DataLoader worker process 1 while loading batch 3" in note
    assert "Original Traceback (most recent call last)" in note and "__getitem__" in note
    wait_no_children()
    with pytest.raises(RuntimeError, match="(?s)Unpicklable.*worker process 1.*cannot travel"):
        list(DataLoader(Exploding(how="unpicklable"), batch_size=4, num_workers=2))
    wait_no_children()


def test_killed_worker_is_an_error_not_a_hang():
    t0 = time.time()
    with pytest.raises(RuntimeError, match=r"worker 1 \(pid \d+\) exited unexpectedly "
                                           r"\(killed by signal SIGKILL\)"):
        list(DataLoader(Exploding(bad=5, how="kill"), batch_size=1, num_workers=2))
    assert time.time() - t0 < 10
    wait_no_children()


def test_timeout():
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.3 seconds"):
        list(DataLoader(Exploding(bad=1, how="sleep"), batch_size=1, num_workers=1,
                        timeout=0.3))
    wait_no_children()


def failing_init(worker_id: int) -> None:
    raise ValueError(f"no init for {worker_id}")


def test_worker_init_fn_error():
    with pytest.raises(ValueError, match="no init for") as info:
        list(DataLoader(Exploding(), batch_size=2, num_workers=2, worker_init_fn=failing_init))
    assert "worker_init_fn" in "\n".join(info.value.__notes__)
    wait_no_children()


def test_break_stops_workers_and_persistent_workers_are_kept():
    loader = DataLoader(Images(), batch_size=4, num_workers=2)
    for k, _ in enumerate(loader):
        if k == 1:
            break
    wait_no_children()
    ds = WhoLoads(16)
    pers = DataLoader(ds, batch_size=2, num_workers=2, persistent_workers=True, generator=2)
    pids = {int(p) for b in pers for p in b.numpy()[:, 8]}
    it = iter(pers)
    next(it)                                                      # abandoned mid-epoch
    rows = np.concatenate([b.numpy() for b in pers])
    assert {int(p) for p in rows[:, 8]} == pids and len(pids) == 2
    np.testing.assert_array_equal(rows[:, 0], np.arange(16))     # nothing stale
    del pers, it
    wait_no_children()


@pytest.mark.parametrize("shuffle", [True, False])
def test_resume_mid_epoch_with_workers(shuffle):
    def make(w):
        return DataLoader(Images(n=23), batch_size=4, shuffle=shuffle, generator=3,
                          num_workers=w)

    full = epochs(make(0), 3)
    first = make(2)
    list(first)
    it = iter(first)
    next(it), next(it)
    state = json.loads(json.dumps(first.state_dict()))
    del it
    resumed = make(2)
    resumed.load_state_dict(state)
    same(list(resumed), full[6 + 2:12])
    same(list(resumed), full[12:])
    wait_no_children()


# ----------------------------------------------------------------------------- spawn
HWC_TF = T.Compose([T.RandomResizedCrop(24), T.RandomHorizontalFlip(), T.ToTensor()])


def test_spawn_context_gives_the_same_batches():
    ds = Images(transform=HWC_TF, n=12)
    base = epochs(DataLoader(ds, batch_size=5, shuffle=True, generator=1), 1)
    spawn = DataLoader(ds, batch_size=5, shuffle=True, generator=1, num_workers=2,
                       multiprocessing_context="spawn")
    same(epochs(spawn, 1), base)
    with pytest.raises(TypeError, match="'spawn'.*module level"):
        list(DataLoader(ds, batch_size=5, num_workers=1, multiprocessing_context="spawn",
                        collate_fn=lambda b: b))
    wait_no_children()


# ----------------------------------------------------------------------------- arguments
BAD = [
    dict(num_workers=-1),
    dict(num_workers=0, prefetch_factor=2),
    dict(num_workers=0, persistent_workers=True),
    dict(num_workers=0, timeout=-1),
    dict(num_workers=2, multiprocessing_context="bogus"),
    dict(num_workers=0, multiprocessing_context="spawn"),
]


@pytest.mark.parametrize("kwargs", BAD, ids=[str(k) for k in BAD])
def test_argument_errors_match_torch(kwargs):
    with pytest.raises(Exception) as ref:
        TD.DataLoader(list(range(4)), **kwargs)
    with pytest.raises(type(ref.value)) as ours:
        DataLoader(TensorDataset(np.zeros(4)), **kwargs)
    words = [w for w in str(ref.value).split() if w.isalpha() and len(w) > 3][:4]
    assert all(w.lower() in str(ours.value).lower() for w in words), (ours.value, ref.value)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(TensorDataset(np.zeros(4)), num_workers=1, prefetch_factor=0)
