"""Activation layers (numcnn.nn.modules.activation) against torch.nn: repr, attributes,
parameters (PReLU's `weight`), forward and backward, in-place behaviour."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from tests.helpers import assert_close, random_array

import numcnn
import numcnn.nn as nn

# (constructor args, kwargs): built the same way in both libraries
LAYERS = [
    ("ReLU", (), {}), ("ReLU", (True,), {}), ("ReLU6", (), {}), ("ReLU6", (), {"inplace": True}),
    ("Hardtanh", (), {}), ("Hardtanh", (-2, 2, True), {}), ("Hardtanh", (-0.5, 3.0), {}),
    ("LeakyReLU", (), {}), ("LeakyReLU", (0.2, True), {}),
    ("ELU", (), {}), ("ELU", (0.5, True), {}), ("SELU", (), {}), ("SELU", (True,), {}),
    ("CELU", (), {}), ("CELU", (2.0,), {}), ("GELU", (), {}), ("GELU", ("tanh",), {}),
    ("Sigmoid", (), {}), ("Tanh", (), {}), ("LogSigmoid", (), {}),
    ("Softplus", (), {}), ("Softplus", (2, 10), {}),
    ("SiLU", (), {}), ("SiLU", (True,), {}), ("Mish", (), {}), ("Mish", (True,), {}),
    ("Hardswish", (), {}), ("Hardswish", (True,), {}), ("Hardsigmoid", (), {}),
    ("Hardsigmoid", (True,), {}),
    ("PReLU", (), {}), ("PReLU", (3, 0.1), {}),
    ("Softmax", (1,), {}), ("Softmax", (), {"dim": -1}), ("LogSoftmax", (-1,), {}),
    ("Softmin", (0,), {}), ("Threshold", (0.1, 20), {}), ("Threshold", (0.1, 20, True), {}),
]
IDS = [f"{n}{a}{k}" for n, a, k in LAYERS]


@pytest.mark.parametrize("name,args,kwargs", LAYERS, ids=IDS)
def test_repr_matches_torch(name, args, kwargs):
    assert repr(getattr(nn, name)(*args, **kwargs)) == repr(getattr(torch.nn, name)(*args,
                                                                                    **kwargs))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,args,kwargs", LAYERS, ids=IDS)
def test_forward_backward_match_torch(name, args, kwargs, dtype):
    x = random_array((2, 3, 4), dtype, seed=1) * 4
    x.reshape(-1)[:5] = [0.0, 3.0, -3.0, 6.0, -1e4]
    m, tm = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    m.to(dtype)
    tm.to(torch.float64 if dtype == np.float64 else torch.float32)
    # a non-leaf input, so in-place layers work in both libraries
    a = numcnn.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    y, ty = m(a * 1), tm(t * 1)
    assert_close(y, ty, what=f"{name} forward")
    g = random_array(ty.shape, dtype, seed=2)
    y.backward(numcnn.tensor(g))
    ty.backward(torch.tensor(g))
    assert_close(a.grad, t.grad, what=f"{name} input grad")
    for (pn, p), (tn, tp) in zip(m.named_parameters(), tm.named_parameters()):
        assert pn == tn and p.shape == tuple(tp.shape)
        assert_close(p.grad, tp.grad, what=f"{name}.{pn} grad")


def test_prelu_parameter():
    m = nn.PReLU(4, init=0.3)
    assert m.num_parameters == 4 and m.init == 0.3
    assert list(m.state_dict()) == ["weight"]
    assert m.weight.shape == (4,) and m.weight.dtype == numcnn.float32
    np.testing.assert_array_equal(m.weight.array, np.full(4, 0.3, np.float32))
    assert isinstance(m.weight, nn.Parameter) and m.weight.requires_grad
    tm = torch.nn.PReLU(4)
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    assert_close(m.weight, tm.weight)
    m.weight.array[...] = 7.0
    m.reset_parameters()
    assert m.weight.array.tolist() == pytest.approx([0.3] * 4)
    assert nn.PReLU(dtype=numcnn.float64).weight.dtype == numcnn.float64


def test_softmax_module_implicit_dim_warns():
    x = random_array((2, 3), np.float32)
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        y = nn.Softmax()(numcnn.tensor(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ty = torch.nn.Softmax()(torch.tensor(x))
    assert_close(y, ty)


def test_inplace_layer_without_grad_overwrites_input():
    x = numcnn.tensor([-1.0, 2.0])
    with numcnn.no_grad():
        y = nn.ReLU(inplace=True)(x)
    assert y is x and x.tolist() == [0.0, 2.0]
    x2 = numcnn.tensor([-1.0, 2.0])
    assert nn.Hardtanh(-0.5, 0.5, inplace=True)(x2) is x2 and x2.tolist() == [-0.5, 0.5]


def test_layers_have_no_parameters_but_prelu():
    for name, args, kwargs in LAYERS:
        m = getattr(nn, name)(*args, **kwargs)
        n_params = len(list(m.parameters()))
        assert n_params == (1 if name == "PReLU" else 0), name


def test_hardtanh_rejects_empty_range():
    with pytest.raises(ValueError, match="max_val"):
        nn.Hardtanh(1.0, -1.0)
