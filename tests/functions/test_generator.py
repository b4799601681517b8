"""numcnn.Generator (torch.Generator's methods) and `generator=` on the random factories,
`normal`, the in-place fills and the data samplers: a generator's draws are a function of its
seed alone and leave the global generator untouched; bad generators raise TypeError as torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import numcnn
import numcnn.data as ND


def draws(g):
    return [numcnn.rand(3, generator=g).numpy(), numcnn.randn(2, 2, generator=g).numpy(),
            numcnn.randint(0, 10, (4,), generator=g).numpy(),
            numcnn.randint(5, size=(3,), generator=g).numpy(),
            numcnn.randperm(6, generator=g).numpy(),
            numcnn.normal(0.0, 1.0, (2,), generator=g).numpy(),
            numcnn.normal(numcnn.zeros(3), 2.0, generator=g).numpy(),
            numcnn.empty(3).uniform_(2, 3, generator=g).numpy(),
            numcnn.empty(3).normal_(generator=g).numpy(),
            numcnn.empty(5).bernoulli_(0.5, generator=g).numpy()]


def test_generator_is_its_own_stream() -> None:
    numcnn.manual_seed(0)
    expected_global = numcnn.rand(4).numpy()
    numcnn.manual_seed(0)
    a = draws(numcnn.Generator().manual_seed(7))
    assert np.array_equal(numcnn.rand(4).numpy(), expected_global)   # global untouched
    b = draws(numcnn.Generator().manual_seed(7))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    c = draws(numcnn.Generator().manual_seed(8))
    assert any(not np.array_equal(x, y) for x, y in zip(a, c))
    assert a[4].tolist() != [] and sorted(a[4].tolist()) == list(range(6))
    assert a[2].dtype == np.int64 and ((a[7] >= 2) & (a[7] < 3)).all()


def test_generator_methods_as_torch() -> None:
    g, t = numcnn.Generator(), torch.Generator()
    assert g.manual_seed(5) is g and t.manual_seed(5) is t
    assert g.initial_seed() == t.initial_seed() == 5
    state = g.get_state()
    first = numcnn.rand(3, generator=g).numpy()
    assert g.set_state(state) is g
    np.testing.assert_array_equal(numcnn.rand(3, generator=g).numpy(), first)
    s = g.seed()
    assert g.initial_seed() == s
    assert numcnn.Generator().initial_seed() == torch.Generator().initial_seed()
    assert numcnn.Generator(device="cpu").device == "cpu"
    with pytest.raises(RuntimeError):
        numcnn.Generator(device="cuda")
    for bad in [3, np.random.default_rng(0)]:
        with pytest.raises(TypeError):
            numcnn.rand(2, generator=bad)
    with pytest.raises(TypeError):
        torch.rand(2, generator=3)
    with pytest.raises(ValueError):
        g.manual_seed(-1)


def test_samplers_and_loaders_take_a_generator() -> None:
    idx = list(range(10))
    a = list(ND.SubsetRandomSampler(idx, generator=numcnn.Generator().manual_seed(1)))
    b = list(ND.SubsetRandomSampler(idx, generator=numcnn.Generator().manual_seed(1)))
    assert a == b and sorted(a) == idx
    w = ND.WeightedRandomSampler([1.0, 2.0], 5, generator=numcnn.Generator().manual_seed(2))
    assert len(list(w)) == 5
    ds = ND.TensorDataset(numcnn.arange(8))
    l1 = [x[0].tolist() for x in ND.DataLoader(ds, 3, shuffle=True,
                                                generator=numcnn.Generator().manual_seed(4))]
    l2 = [x[0].tolist() for x in ND.DataLoader(ds, 3, shuffle=True,
                                                generator=numcnn.Generator().manual_seed(4))]
    assert l1 == l2
