"""Loss modules (numcnn.nn.modules.loss) against torch.nn: values, gradients, buffers, reprs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from tests.helpers import assert_close, random_array

import numcnn
from numcnn import nn


def _both(arr, grad=False):
    return (numcnn.tensor(arr.copy(), requires_grad=grad),
            torch.tensor(arr.copy(), requires_grad=grad))


def _w(arr):
    return None if arr is None else _both(arr)


X = random_array((5, 4), np.float64, seed=1)
X4D = random_array((2, 4, 3, 3), np.float64, seed=2)
Y = np.array([1, 0, 3, -100, 2])
Y4D = np.random.default_rng(3).integers(0, 4, size=(2, 3, 3))
P = random_array((5, 4), np.float64, seed=4, low=0.05, high=0.95)
Q = random_array((5, 4), np.float64, seed=5, low=0.0, high=1.0)
W4 = random_array((4,), np.float64, seed=6, low=0.3, high=2.0)

# (name, kwargs (arrays become tensors), input array, target array, target differentiable)
CASES = [
    ("CrossEntropyLoss", {}, X, Y, False),
    ("CrossEntropyLoss", {"weight": W4, "label_smoothing": 0.2, "reduction": "sum"}, X, Y, False),
    ("CrossEntropyLoss", {"ignore_index": 1, "reduction": "none"}, X4D, Y4D, False),
    ("CrossEntropyLoss", {"weight": W4}, X, Q, True),
    ("NLLLoss", {"weight": W4}, X, Y, False),
    ("NLLLoss", {"reduction": "none"}, X4D, Y4D, False),
    ("MSELoss", {}, X, Q, True),
    ("L1Loss", {"reduction": "sum"}, X, Q, True),
    ("SmoothL1Loss", {"beta": 0.3}, X, Q, True),
    ("HuberLoss", {"delta": 0.4, "reduction": "none"}, X, Q, True),
    ("BCELoss", {"weight": W4}, P, Q, True),
    ("BCEWithLogitsLoss", {"pos_weight": W4}, X, Q, True),
    ("BCEWithLogitsLoss", {"weight": W4, "pos_weight": W4[::-1].copy(), "reduction": "none"},
     X, Q, True),
    ("KLDivLoss", {"reduction": "batchmean"}, np.log(P), Q, True),
    ("KLDivLoss", {"reduction": "sum", "log_target": True}, np.log(P), np.log(Q), True),
]


def _make(name, kwargs):
    nk = {k: numcnn.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    tk = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    return getattr(nn, name)(**nk), getattr(torch.nn, name)(**tk)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_module_matches_torch(case, dtype):
    name, kwargs, x, y, target_grad = case
    kwargs = {k: v.astype(dtype) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    n_mod, t_mod = _make(name, kwargs)
    x = x.astype(dtype)
    y = y.astype(dtype) if y.dtype.kind == "f" else y
    nx, tx = _both(x, grad=True)
    ny, ty = _both(y, grad=target_grad)
    n_out, t_out = n_mod(nx, ny), t_mod(tx, ty)
    assert_close(n_out, t_out, what="output")
    v = random_array(t_out.shape, dtype, seed=7)
    (n_out * numcnn.tensor(v)).sum().backward()
    (t_out * torch.tensor(v)).sum().backward()
    assert_close(nx.grad, tx.grad, what="input grad")
    if target_grad:
        assert_close(ny.grad, ty.grad, what="target grad")


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_repr_buffers_and_state_dict_match_torch(case):
    name, kwargs = case[0], case[1]
    n_mod, t_mod = _make(name, kwargs)
    assert repr(n_mod) == repr(t_mod)
    assert list(n_mod.state_dict()) == list(t_mod.state_dict())
    assert list(n_mod._buffers) == list(t_mod._buffers)
    assert n_mod.reduction == t_mod.reduction
    for attr in ("ignore_index", "label_smoothing", "beta", "delta", "log_target"):
        assert getattr(n_mod, attr, None) == getattr(t_mod, attr, None), attr
    for key, value in t_mod.state_dict().items():
        assert_close(n_mod.state_dict()[key], value, what=key)


def test_default_arguments_match_torch():
    for name in ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss",
                 "BCELoss", "BCEWithLogitsLoss", "KLDivLoss"]:
        n_mod, t_mod = getattr(nn, name)(), getattr(torch.nn, name)()
        for attr in ("reduction", "ignore_index", "label_smoothing", "beta", "delta",
                     "log_target", "weight", "pos_weight"):
            assert getattr(n_mod, attr, "absent") == getattr(t_mod, attr, "absent"), (name, attr)


def test_weight_buffer_follows_dtype_cast():
    mod = nn.CrossEntropyLoss(weight=numcnn.tensor(W4.astype(np.float32)))
    mod.double()
    assert mod.weight.dtype == np.float64
    out = mod(numcnn.tensor(X), numcnn.tensor(Y))
    expected = torch.nn.CrossEntropyLoss(weight=torch.tensor(W4))(torch.tensor(X),
                                                                  torch.tensor(Y))
    assert_close(out, expected)


def test_legacy_size_average_reduce_map_like_torch():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for sa, rd in [(False, None), (None, False), (True, True), (False, True)]:
            for name in ["MSELoss", "CrossEntropyLoss", "KLDivLoss"]:
                n_mod = getattr(nn, name)(size_average=sa, reduce=rd)
                t_mod = getattr(torch.nn, name)(size_average=sa, reduce=rd)
                assert n_mod.reduction == t_mod.reduction, (name, sa, rd)


def test_modules_validate_through_functional():
    with pytest.raises(ValueError, match="batch_size"):
        nn.CrossEntropyLoss()(numcnn.zeros(4, 3), numcnn.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="avg"):
        nn.MSELoss(reduction="avg")(numcnn.zeros(3), numcnn.zeros(3))
