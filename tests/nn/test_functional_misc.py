"""F.one_hot and F.normalize against torch.nn.functional, gradcheck and a naive reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests.helpers import assert_close, compare, random_array

import numcnn
import numcnn.nn.functional as F
from numcnn.autograd import gradcheck


# ----------------------------------------------------------------------------- one_hot
@pytest.mark.parametrize("values,n", [([0, 2, 1], -1), ([[0], [3]], -1), ([[0], [3]], 6),
                                      ([], 4), ([[], []], 3), (2, -1), ([1, 1, 1], 2)])
def test_one_hot_matches_torch(values, n):
    a = np.array(values, dtype=np.int64)
    out = F.one_hot(numcnn.tensor(a), n)
    exp = TF.one_hot(torch.tensor(a), n)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.numpy(), exp.numpy())
    # naive reference
    c = out.shape[-1]
    ref = np.zeros(a.shape + (c,), np.int64)
    for idx in np.ndindex(a.shape):
        ref[idx + (a[idx],)] = 1
    np.testing.assert_array_equal(out.numpy(), ref)


@pytest.mark.parametrize("values,dtype,n,msg", [
    ([0, -1], np.int64, -1, "non-negative"),
    ([0, 3], np.int64, 3, "smaller than num_classes"),
    ([1], np.int64, 0, "smaller than num_classes"),
    ([0], np.int64, -2, "smaller than num_classes"),
    ([], np.int64, -1, "empty tensor"),
    ([[], []], np.int64, 0, "empty tensor"),
    ([0, 1], np.float32, -1, "LongTensor"),
    ([0], np.int32, 2, "LongTensor"),
])
def test_one_hot_errors_match_torch(values, dtype, n, msg):
    a = np.array(values, dtype=dtype)
    with pytest.raises(RuntimeError, match=msg):
        TF.one_hot(torch.tensor(a), n)
    with pytest.raises(RuntimeError, match=msg):
        F.one_hot(numcnn.tensor(a), n)


def test_one_hot_argument_types():
    with pytest.raises(TypeError):
        F.one_hot([0, 1])
    with pytest.raises(TypeError):
        F.one_hot(numcnn.tensor([0, 1]), 2.0)


# ----------------------------------------------------------------------------- normalize
def _with_zero_row(shape, dtype, seed=0):
    x = random_array(shape, dtype, seed)
    x[(0,) * (len(shape) - 1)] = 0                   # an all-zero fiber along the last dim
    x.reshape(-1)[: shape[-1]] = 0
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, math.inf, -math.inf, 0.0])
@pytest.mark.parametrize("shape,dim", [((4, 5), 1), ((3, 4, 5), -1), ((2, 3, 4), 0),
                                       ((2, 3, 4), (1, 2)), ((5,), 0), ((3, 0), 1),
                                       ((0, 3), 1)])
def test_normalize_matches_torch(dtype, p, shape, dim):
    x = _with_zero_row(shape, dtype) if 0 not in shape else np.zeros(shape, dtype)
    if 0 in shape and math.isinf(p) and shape[dim] == 0:      # no identity for max/min
        with pytest.raises(RuntimeError, match="dimension is empty"):
            TF.normalize(torch.tensor(x), p=p, dim=dim)
        with pytest.raises(RuntimeError, match="dimension is empty"):
            F.normalize(numcnn.tensor(x), p=p, dim=dim)
        return
    compare(lambda L, t: L.normalize(t, p=p, dim=dim), [x])


def test_normalize_ties_and_eps():
    x = np.array([[1.0, -2.0, 2.0], [0.0, 0.0, 0.0], [1e-13, 0.0, 0.0]])
    for p in (math.inf, 2.0):
        compare(lambda L, t, p=p: L.normalize(t, p=p), [x])
    compare(lambda L, t: L.normalize(t, eps=0.5), [x])
    compare(lambda L, t: L.normalize(t, p=2, dim=0, eps=3.0), [x])


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, math.inf])
def test_normalize_gradcheck(p):
    # (an all-zero row sits on the clamp's kink, where finite differences cannot go: its
    # gradient 1/eps is checked against torch above)
    x = numcnn.tensor(random_array((3, 4), np.float64, seed=3), requires_grad=True)
    assert gradcheck(lambda t: F.normalize(t, p=p, dim=1), [x])
    y = numcnn.tensor(random_array((2, 3, 4), np.float64, seed=4), requires_grad=True)
    assert gradcheck(lambda t: F.normalize(t, p=p, dim=(0, 2)), [y])


def test_normalize_naive_reference_and_default_dim():
    x = random_array((3, 4, 2), np.float64, seed=5)
    out = F.normalize(numcnn.tensor(x)).numpy()
    ref = np.empty_like(x)
    for i in range(3):
        for k in range(2):
            v = x[i, :, k]
            ref[i, :, k] = v / max(math.sqrt(sum(e * e for e in v)), 1e-12)
    np.testing.assert_allclose(out, ref, rtol=1e-12)


def test_normalize_errors_match_torch():
    with pytest.raises(IndexError):
        TF.normalize(torch.randn(3))
    with pytest.raises(IndexError):
        F.normalize(numcnn.randn(3))
    with pytest.raises(RuntimeError, match="floating point"):
        TF.normalize(torch.tensor([[1, 2], [3, 4]]))
    with pytest.raises(RuntimeError, match="floating point"):
        F.normalize(numcnn.tensor([[1, 2], [3, 4]]))
    with pytest.raises(TypeError):
        F.normalize(np.ones((2, 2)))
    x = np.ones((2, 2), np.float32)
    assert_close(F.normalize(numcnn.tensor(x)), TF.normalize(torch.tensor(x)))
