"""IterableDataset (DataLoader with num_workers=0: batching, drop_last, batch_size=None, len,
errors), ChainDataset, SubsetRandomSampler and WeightedRandomSampler against torch.utils.data
2.13: the same batches for the streams; for the random samplers, what torch guarantees
(a permutation of the subset; frequencies proportional to the weights; no repeats without
replacement), seeding from numcnn's generator, and torch's errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.utils.data as TD
from tests.helpers import assert_close

import numcnn
import numcnn.data as ND


def stream(lib, n: int, start: int = 0):
    base = ND.IterableDataset if lib is ND else TD.IterableDataset
    mod = numcnn if lib is ND else torch

    class Stream(base):  # type: ignore[valid-type,misc]
        def __iter__(self):
            for i in range(start, start + n):
                yield mod.tensor([float(i), i * 0.5]), i

    return Stream()


def sized(lib, n: int):
    s = stream(lib, n)
    type(s).__len__ = lambda self: n
    return s


@pytest.mark.parametrize("n,batch_size,drop_last", [(7, 3, False), (7, 3, True), (6, 2, False),
                                                    (0, 2, False), (2, 5, False), (2, 5, True),
                                                    (4, None, False)])
def test_iterable_dataset_batches_as_torch(n, batch_size, drop_last) -> None:
    got = list(ND.DataLoader(stream(ND, n), batch_size=batch_size, drop_last=drop_last))
    exp = list(TD.DataLoader(stream(TD, n), batch_size=batch_size, drop_last=drop_last))
    assert len(got) == len(exp)
    for (gx, gy), (ex, ey) in zip(got, exp):
        assert_close(gx, ex)
        assert_close(gy, ey)
    if n:
        assert len(ND.DataLoader(sized(ND, n), batch_size=batch_size, drop_last=drop_last)) \
            == len(TD.DataLoader(sized(TD, n), batch_size=batch_size, drop_last=drop_last))


def test_iterable_dataset_errors_and_len() -> None:
    for kwargs in [{"shuffle": True}, {"sampler": [0, 1]}, {"batch_sampler": [[0]]}]:
        with pytest.raises(ValueError):
            TD.DataLoader(stream(TD, 3), **kwargs)
        with pytest.raises(ValueError):
            ND.DataLoader(stream(ND, 3), **kwargs)
    ND.DataLoader(stream(ND, 3), shuffle=False)                 # False is "unspecified" too
    with pytest.raises(TypeError):
        len(TD.DataLoader(stream(TD, 3)))
    with pytest.raises(TypeError):
        len(ND.DataLoader(stream(ND, 3)))
    with pytest.raises(NotImplementedError, match="num_workers"):
        ND.DataLoader(stream(ND, 3), num_workers=2)
    with pytest.raises(NotImplementedError):
        iter(ND.IterableDataset())


def test_iterable_dataset_collate_and_reiteration() -> None:
    loader = ND.DataLoader(stream(ND, 5), batch_size=2, collate_fn=lambda b: [y for _, y in b])
    assert list(loader) == [[0, 1], [2, 3], [4]]
    assert list(loader) == [[0, 1], [2, 3], [4]]               # a second epoch, the same


def test_chain_dataset() -> None:
    got = list(ND.ChainDataset([stream(ND, 2), stream(ND, 3, start=10)]))
    exp = list(TD.ChainDataset([stream(TD, 2), stream(TD, 3, start=10)]))
    assert [y for _, y in got] == [y for _, y in exp] == [0, 1, 10, 11, 12]
    plus = stream(ND, 2) + stream(ND, 1, start=5)
    assert isinstance(plus, ND.ChainDataset)
    assert [y for _, y in plus] == [0, 1, 5]
    assert len(ND.ChainDataset([sized(ND, 2), sized(ND, 4)])) == 6
    batches = list(ND.DataLoader(plus, batch_size=2))
    assert [b[1].tolist() for b in batches] == [[0, 1], [5]]
    bad = ND.ChainDataset([stream(ND, 1), ND.TensorDataset(numcnn.ones(2))])
    with pytest.raises(TypeError):
        list(bad)
    with pytest.raises(AssertionError):        # numcnn: TypeError (docs/compat.md)
        list(TD.ChainDataset([stream(TD, 1), TD.TensorDataset(torch.ones(2))]))


def test_subset_random_sampler() -> None:
    idx = [3, 9, 4, 20, 7]
    s = ND.SubsetRandomSampler(idx, generator=5)
    orders = [list(s) for _ in range(4)]
    for o in orders:
        assert sorted(o) == sorted(idx) and len(s) == 5
    assert len({tuple(o) for o in orders}) > 1                  # a new order every epoch
    a, b = ND.SubsetRandomSampler(idx, generator=1), ND.SubsetRandomSampler(idx, generator=1)
    assert [list(a) for _ in range(3)] == [list(b) for _ in range(3)]     # seeded: repeatable
    numcnn.manual_seed(3)
    first = list(ND.SubsetRandomSampler(idx))
    numcnn.manual_seed(3)
    assert list(ND.SubsetRandomSampler(idx)) == first          # from numcnn's generator
    assert list(ND.SubsetRandomSampler([])) == [] == list(TD.SubsetRandomSampler([]))
    # in a DataLoader: the subset's samples, each once per epoch
    ds = ND.TensorDataset(numcnn.arange(30))
    got = np.concatenate([b[0].numpy() for b in ND.DataLoader(
        ds, batch_size=2, sampler=ND.SubsetRandomSampler(idx, generator=0))])
    assert sorted(got.tolist()) == sorted(idx)


@pytest.mark.parametrize("replacement", [True, False])
def test_weighted_random_sampler_frequencies(replacement) -> None:
    w = np.array([1.0, 0.0, 3.0, 6.0, 0.5])
    if replacement:
        s = ND.WeightedRandomSampler(w, 40000, replacement=True, generator=0)
        counts = np.bincount(list(s), minlength=5) / 40000
        np.testing.assert_allclose(counts, w / w.sum(), atol=0.01)
        assert counts[1] == 0
    else:
        firsts = [list(ND.WeightedRandomSampler(w, 4, replacement=False, generator=k))
                  for k in range(4000)]
        for o in firsts:
            assert len(set(o)) == 4 and 1 not in o                # no repeats, no zero weight
        first = np.bincount([o[0] for o in firsts], minlength=5) / 4000
        np.testing.assert_allclose(first, w / w.sum(), atol=0.03)  # first draw ∝ weights
        tw = list(TD.WeightedRandomSampler(torch.tensor(w), 4, replacement=False))
        assert len(set(tw)) == 4 and 1 not in tw


def test_weighted_random_sampler_seeding_and_errors() -> None:
    w = [0.2, 0.4, 0.4]
    a = ND.WeightedRandomSampler(w, 6, generator=3)
    b = ND.WeightedRandomSampler(numcnn.tensor(w), 6, generator=3)
    assert [list(a) for _ in range(3)] == [list(b) for _ in range(3)]
    assert len(a) == 6 == len(TD.WeightedRandomSampler(w, 6))
    numcnn.manual_seed(0)
    first = list(ND.WeightedRandomSampler(w, 10))
    numcnn.manual_seed(0)
    assert list(ND.WeightedRandomSampler(w, 10)) == first
    for args, kwargs in [((w, 0), {}), ((w, 2.5), {}), ((w, 3), {"replacement": 1}),
                         (([[1.0, 2.0]], 2), {})]:
        with pytest.raises(ValueError):
            TD.WeightedRandomSampler(*args, **kwargs)
        with pytest.raises(ValueError):
            ND.WeightedRandomSampler(*args, **kwargs)
    for args, kwargs in [(([1.0, -1.0], 2), {}), (([0.0, 0.0], 2), {}),
                         (([1.0, 0.0, 2.0], 4), {"replacement": False}),
                         (([1.0, float("nan")], 2), {}), (([1.0, float("inf")], 2), {})]:
        with pytest.raises(RuntimeError):
            list(TD.WeightedRandomSampler(*args, **kwargs))
        with pytest.raises(RuntimeError):
            list(ND.WeightedRandomSampler(*args, **kwargs))


def test_weighted_without_replacement_zero_weights_last() -> None:
    """As torch: once the positive weights are drawn, the zero-weight indices follow."""
    w = [1.0, 0.0, 2.0, 0.0]
    for k in range(50):
        o = list(ND.WeightedRandomSampler(w, 4, replacement=False, generator=k))
        assert sorted(o[:2]) == [0, 2] and sorted(o[2:]) == [1, 3]
    t = list(TD.WeightedRandomSampler(w, 4, replacement=False))
    assert sorted(t[:2]) == [0, 2] and sorted(t[2:]) == [1, 3]


def test_weighted_sampler_in_a_dataloader_resumes() -> None:
    ds = ND.TensorDataset(numcnn.arange(10))
    sampler = ND.WeightedRandomSampler([1.0] * 5 + [4.0] * 5, 12, generator=7)
    loader = ND.DataLoader(ds, batch_size=4, sampler=sampler)
    it = iter(loader)
    first = next(it)[0].tolist()
    state = loader.state_dict()
    rest = [b[0].tolist() for b in it]
    again = ND.DataLoader(ds, batch_size=4, sampler=ND.WeightedRandomSampler(
        [1.0] * 5 + [4.0] * 5, 12, generator=7))
    again.load_state_dict(state)
    assert [b[0].tolist() for b in again] == rest
    assert len(first) == 4 and len(rest) == 2
