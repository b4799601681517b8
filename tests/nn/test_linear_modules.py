"""Identity, Linear and Bilinear (numcnn.nn.modules.linear) against torch.nn: parameter names,
shapes and dtypes, default initialisation (distribution and reproducibility), repr, and the
outputs and gradients with a torch state_dict loaded."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tests.helpers import assert_close, random_array

import numcnn
import numcnn.nn as nn


def load_from_torch(m, tm):
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_matches_torch(bias, dtype):
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    m = nn.Linear(5, 3, bias=bias, dtype=dtype)
    tm = torch.nn.Linear(5, 3, bias=bias, dtype=tdt)
    assert repr(m) == repr(tm)
    assert list(m.state_dict()) == list(tm.state_dict())
    assert m.weight.shape == (3, 5) and m.weight.dtype == dtype
    assert (m.bias is None) == (not bias)
    load_from_torch(m, tm)
    x = random_array((2, 4, 5), dtype)
    a, t = numcnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = m(a), tm(t)
    assert_close(y, ty)
    g = random_array(ty.shape, dtype, seed=1)
    y.backward(numcnn.tensor(g))
    ty.backward(torch.tensor(g))
    assert_close(a.grad, t.grad)
    for (n, p), (tn, tp) in zip(m.named_parameters(), tm.named_parameters()):
        assert n == tn
        assert_close(p.grad, tp.grad, what=n)


def test_linear_default_init_is_torchs_distribution():
    numcnn.manual_seed(0)
    m = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)        # kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), ..)
    w, b = m.weight.array, m.bias.array
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound   # U(-c, c) has std c/sqrt 3
    assert abs(w.mean()) < 0.01 * bound
    assert np.abs(b).max() > 0.9 * bound
    numcnn.manual_seed(0)
    again = nn.Linear(400, 300)
    np.testing.assert_array_equal(again.weight.array, w)
    np.testing.assert_array_equal(again.bias.array, b)


def test_linear_reset_and_arguments():
    m = nn.Linear(3, 2)
    m.weight.array[...] = 0
    m.reset_parameters()
    assert np.any(m.weight.array != 0)
    assert m.in_features == 3 and m.out_features == 2
    with pytest.warns(UserWarning, match="zero-element"):   # torch warns the same
        z = nn.Linear(0, 2)                  # no inputs: bias bound 0, as torch
    assert np.all(z.bias.array == 0)
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(-1, 2)
    with pytest.raises(RuntimeError, match=r"input shape \(2, 4\), weight shape \(2, 3\)"):
        m(numcnn.randn(2, 4))


def test_identity():
    m = nn.Identity(54, unused="x")
    x = numcnn.randn(2, 3)
    assert m(x) is x
    assert repr(m) == repr(torch.nn.Identity(54)) == "Identity()"
    assert list(m.parameters()) == []


@pytest.mark.parametrize("bias", [True, False])
def test_bilinear_matches_torch(bias):
    m, tm = nn.Bilinear(3, 4, 2, bias=bias), torch.nn.Bilinear(3, 4, 2, bias=bias)
    assert repr(m) == repr(tm)
    assert list(m.state_dict()) == list(tm.state_dict())
    bound = 1 / math.sqrt(3)
    assert np.abs(m.weight.array).max() <= bound
    load_from_torch(m, tm)
    x1, x2 = random_array((5, 3), np.float32), random_array((5, 4), np.float32, seed=1)
    y = m(numcnn.tensor(x1), numcnn.tensor(x2))
    assert_close(y, tm(torch.tensor(x1), torch.tensor(x2)))
