"""Dropout ops (numcnn.ops.dropout via numcnn.nn.functional).

Masks are random, so PyTorch is an oracle only where the result is deterministic (p = 0,
p = 1, eval mode, errors); elsewhere the tests check the defining properties on large
tensors: the fraction dropped ~ p, survivors scaled by exactly 1/(1-p), E[y] = x, whole
channels for the feature variants, alpha dropout's mean 0 / variance 1, reproducibility under
`numcnn.manual_seed`, and a gradient equal to mask * scale.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from tests.helpers import compare, raises_like_torch, random_array

import numcnn
import numcnn.nn.functional as NF
from numcnn.autograd import gradcheck

SELU_ALPHA_PRIME = 1.7580993408473766


def sigma_tol(p: float, n: int, k: float = 6.0) -> float:
    """k standard deviations of the fraction of n Bernoulli(p) draws."""
    return k * np.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_fraction_scale_and_expectation(p, dtype):
    numcnn.manual_seed(0)
    x = numcnn.tensor(np.full((200, 500), 2.0, dtype=dtype))
    y = NF.dropout(x, p).array
    assert y.dtype == dtype
    dropped = y == 0
    assert abs(dropped.mean() - p) < sigma_tol(p, y.size)
    np.testing.assert_allclose(y[~dropped], 2.0 / (1 - p), rtol=1e-6)   # inverted scaling
    # E[y] = x: the mean of y is 2 within its standard error
    se = 2.0 * np.sqrt(p / (1 - p) / y.size)
    assert abs(y.mean() - 2.0) < 6 * se


def test_dropout_gradient_is_mask_times_scale():
    numcnn.manual_seed(1)
    x = numcnn.tensor(random_array((30, 40), seed=1), requires_grad=True)
    y = NF.dropout(x, 0.3)
    g = random_array((30, 40), seed=2)
    y.backward(numcnn.tensor(g))
    kept = y.array != 0
    np.testing.assert_allclose(x.grad.array, g * kept / 0.7, rtol=1e-12)
    np.testing.assert_allclose(y.array, x.array * kept / 0.7, rtol=1e-12)


def test_dropout_reproducible_under_manual_seed():
    x = numcnn.tensor(random_array((8, 3, 5, 5), np.float32, seed=3))
    outs = []
    for _ in range(2):
        numcnn.manual_seed(123)
        outs.append([NF.dropout(x, 0.4).array, NF.dropout2d(x, 0.4).array,
                     NF.alpha_dropout(x, 0.4, True).array,
                     NF.feature_alpha_dropout(x, 0.4, True).array])
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
    numcnn.manual_seed(124)
    assert not np.array_equal(NF.dropout(x, 0.4).array, outs[0][0])


@pytest.mark.parametrize("fn", ["dropout", "dropout1d", "dropout2d", "dropout3d",
                                "alpha_dropout", "feature_alpha_dropout"])
def test_eval_mode_is_identity(fn):
    shape = {"dropout1d": (2, 3, 4), "dropout3d": (2, 3, 2, 2, 2)}.get(fn, (2, 3, 4, 5))
    x = numcnn.tensor(random_array(shape, seed=4), requires_grad=True)
    assert getattr(NF, fn)(x, 0.5, training=False) is x


@pytest.mark.parametrize("fn,shape", [("dropout", (3, 4, 5)), ("dropout1d", (3, 4, 5)),
                                      ("dropout1d", (4, 5)), ("dropout2d", (2, 3, 4, 5)),
                                      ("dropout3d", (2, 3, 2, 3, 2)), ("dropout3d", (3, 2, 3, 2)),
                                      ("alpha_dropout", (3, 4, 5)),
                                      ("feature_alpha_dropout", (2, 3, 4, 5))])
@pytest.mark.parametrize("p", [0.0, 1.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_p0_and_p1_match_torch(fn, shape, p, dtype):
    x = random_array(shape, dtype, seed=5)
    compare(lambda F, x: getattr(F, fn)(x, p, True), [x])


def test_functional_defaults_match_torch():
    """dropout* train by default; alpha_dropout and feature_alpha_dropout do not."""
    x = numcnn.tensor(random_array((4, 3, 5), seed=6))
    assert NF.alpha_dropout(x, 0.5) is x
    assert NF.feature_alpha_dropout(x, 0.5) is x
    numcnn.manual_seed(2)
    assert not np.array_equal(NF.dropout(x).array, x.array)


@pytest.mark.parametrize("fn,shape,chan_axes", [
    ("dropout2d", (16, 32, 5, 6), (2, 3)),
    ("dropout1d", (16, 32, 7), (2,)),
    ("dropout1d", (64, 9), (1,)),                   # unbatched (C, L)
    ("dropout3d", (8, 16, 3, 4, 2), (2, 3, 4)),
    ("dropout3d", (32, 3, 4, 2), (1, 2, 3)),        # unbatched (C, D, H, W)
    ("dropout2d", (16, 32, 7), (2,)),               # 3-D: read as (N, C, L), as torch
])
def test_feature_dropout_zeroes_whole_channels(fn, shape, chan_axes):
    numcnn.manual_seed(3)
    x = numcnn.tensor(np.abs(random_array(shape, seed=7)) + 0.5, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = getattr(NF, fn)(x, 0.4)
    zero = y.array == 0
    per_channel = zero.all(axis=chan_axes)
    assert np.array_equal(per_channel, zero.any(axis=chan_axes))   # all or nothing per channel
    assert abs(per_channel.mean() - 0.4) < sigma_tol(0.4, per_channel.size)
    np.testing.assert_allclose(y.array[~zero], x.array[~zero] / 0.6, rtol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.array, np.where(zero, 0.0, 1 / 0.6), rtol=1e-12)


def test_dropout2d_warns_like_torch():
    x = numcnn.randn(4, 3, 5)
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        NF.dropout2d(x, 0.5)
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        NF.dropout2d(numcnn.randn(4, 5), 0.5)


@pytest.mark.parametrize("p", [0.05, 0.2, 0.5])
def test_alpha_dropout_keeps_zero_mean_unit_variance(p):
    numcnn.manual_seed(4)
    x = numcnn.tensor(np.random.default_rng(8).standard_normal((400, 500)))
    y = NF.alpha_dropout(x, p, training=True).array
    assert abs(y.mean()) < 0.02
    assert abs(y.var() - 1.0) < 0.02
    # and exactly the affine map of the formula: dropped -> -alpha' a (1 - p)
    a = 1 / np.sqrt((SELU_ALPHA_PRIME ** 2 * p + 1) * (1 - p))
    dropped_value = -SELU_ALPHA_PRIME * a * (1 - p)
    dropped = np.isclose(y, dropped_value, rtol=0, atol=1e-12)
    assert abs(dropped.mean() - p) < sigma_tol(p, y.size)
    np.testing.assert_allclose(y[~dropped], a * x.array[~dropped] + SELU_ALPHA_PRIME * a * p,
                               rtol=1e-12, atol=1e-12)


def test_alpha_dropout_gradient_and_gradcheck():
    numcnn.manual_seed(5)
    x = numcnn.tensor(random_array((20, 30), seed=9), requires_grad=True)
    y = NF.alpha_dropout(x, 0.3, training=True)
    a = 1 / np.sqrt((SELU_ALPHA_PRIME ** 2 * 0.3 + 1) * 0.7)
    dropped = np.isclose(y.array, -SELU_ALPHA_PRIME * a * 0.7, rtol=0, atol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.array, np.where(dropped, 0.0, a), rtol=1e-12)


def test_feature_alpha_dropout_whole_channels():
    numcnn.manual_seed(6)
    x = numcnn.tensor(random_array((16, 24, 4, 3), seed=10))
    y = NF.feature_alpha_dropout(x, 0.5, training=True).array
    a = 1 / np.sqrt((SELU_ALPHA_PRIME ** 2 * 0.5 + 1) * 0.5)
    dropped = np.isclose(y, -SELU_ALPHA_PRIME * a * 0.5, rtol=0, atol=1e-12)
    per_channel = dropped.all(axis=(2, 3))
    assert np.array_equal(per_channel, dropped.any(axis=(2, 3)))
    assert abs(per_channel.mean() - 0.5) < sigma_tol(0.5, per_channel.size)


@pytest.mark.parametrize("fn", ["dropout", "dropout2d", "alpha_dropout"])
def test_gradcheck_with_a_fixed_mask(fn):
    """The mask is redrawn each call, so fix the seed inside the function under test."""
    x = numcnn.tensor(random_array((3, 4, 2, 2), seed=11), requires_grad=True)

    def f(x):
        numcnn.manual_seed(7)
        return getattr(NF, fn)(x, 0.4, True)

    assert gradcheck(f, (x,))


ERRORS = [
    ("p > 1", lambda F, x: F.dropout(x, 1.5), [random_array((3, 4))]),
    ("p < 0", lambda F, x: F.dropout(x, -0.1), [random_array((3, 4))]),
    ("alpha p > 1", lambda F, x: F.alpha_dropout(x, 1.01, True), [random_array((3, 4))]),
    ("2d p < 0", lambda F, x: F.dropout2d(x, -1.0), [random_array((2, 3, 4, 4))]),
    ("dropout1d 4-D", lambda F, x: F.dropout1d(x, 0.5), [random_array((2, 3, 4, 4))]),
    ("dropout1d 1-D", lambda F, x: F.dropout1d(x, 0.5), [random_array((4,))]),
    ("dropout2d 1-D", lambda F, x: F.dropout2d(x, 0.5), [random_array((4,))]),
    ("feature alpha 1-D", lambda F, x: F.feature_alpha_dropout(x, 0.5, True),
     [random_array((4,))]),
    ("integer input", lambda F, x: F.dropout(x, 0.5), [np.ones((3, 4), dtype=np.int64)]),
    ("p a string", lambda F, x: F.dropout(x, "a"), [random_array((3,))]),
    ("training None", lambda F, x: F.dropout(x, 0.5, None), [random_array((3,))]),
]


@pytest.mark.parametrize("name,fn,arrays", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_like_torch(name, fn, arrays):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        err = raises_like_torch(fn, arrays)
        assert err is not None
        with pytest.raises(Exception) as info:
            fn(NF, *[numcnn.tensor(a) for a in arrays])
    assert type(info.value) is type(err), f"{name}: {info.value!r} vs torch's {err!r}"


def test_error_message_names_p():
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        NF.dropout(numcnn.randn(3), 1.5)


@pytest.mark.parametrize("p,training", [(0.5, False), (0.0, True), (1.0, True)])
def test_no_drop_skips_rank_checks_like_torch(p, training):
    """torch returns before looking at the rank when nothing is drawn (eval, p = 0, p = 1)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compare(lambda F, x: F.dropout2d(x, p, training), [random_array((4,))])
        if p == 1.0:
            assert torch.equal(torch.nn.functional.dropout2d(torch.ones(4), 1.0),
                               torch.zeros(4))
