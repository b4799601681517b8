"""Dropout modules against torch.nn: reprs, eval = identity, training behaviour, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.helpers import random_array

import numcnn
import numcnn.nn as nn

NAMES = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
         "FeatureAlphaDropout"]
SHAPES = {"Dropout1d": (4, 6, 5), "Dropout3d": (4, 6, 2, 3, 2)}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kwargs", [{}, {"p": 0.2}, {"p": 1.0, "inplace": True}, {"p": 0}])
def test_repr_and_state_match_torch(name, kwargs):
    mod, tmod = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(mod) == repr(tmod)
    assert list(mod.state_dict()) == [] and list(mod.parameters()) == []


@pytest.mark.parametrize("name", NAMES)
def test_eval_is_identity_and_train_drops(name):
    x = numcnn.tensor(random_array(SHAPES.get(name, (4, 6, 3, 5)), np.float32, seed=0) + 5)
    mod = getattr(nn, name)(0.5)
    assert mod.eval()(x) is x
    numcnn.manual_seed(0)
    y = mod.train()(x)
    assert y.shape == x.shape and y.dtype == np.float32
    assert not np.array_equal(y.array, x.array)


@pytest.mark.parametrize("name", ["Dropout", "Dropout2d"])
def test_scale_of_survivors(name):
    numcnn.manual_seed(1)
    x = numcnn.ones(32, 16, 4, 4)
    y = getattr(nn, name)(0.25)(x).array
    np.testing.assert_allclose(np.unique(y), [0.0, 1 / 0.75], rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_bad_p_raises_value_error_like_torch(name, p):
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        getattr(torch.nn, name)(p)
    with pytest.raises(ValueError, match=f"dropout probability has to be between 0 and 1, "
                                         f"but got {p}"):
        getattr(nn, name)(p)


def test_p1_and_p0_match_torch():
    x = random_array((3, 4, 5), np.float32, seed=2)
    for p in (0.0, 1.0):
        for name in ("Dropout", "Dropout1d", "AlphaDropout"):
            y = getattr(nn, name)(p)(numcnn.tensor(x))
            ty = getattr(torch.nn, name)(p)(torch.tensor(x))
            np.testing.assert_array_equal(y.array, ty.numpy())


def test_dropout1d_rank_error_like_torch():
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input"):
        torch.nn.Dropout1d()(torch.zeros(2, 3, 4, 5))
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input"):
        nn.Dropout1d()(numcnn.zeros(2, 3, 4, 5))
