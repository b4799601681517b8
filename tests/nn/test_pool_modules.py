"""Pooling layers: torch's constructor arguments, attribute names, reprs, and the same outputs
and input gradients as torch.nn's layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.helpers import assert_close, random_array

import numcnn
import numcnn.nn as nn

# (class name, constructor args, constructor kwargs, input shape)
LAYERS = [
    ("MaxPool1d", (3,), {}, (2, 3, 10)),
    ("MaxPool1d", (2, 1, 1, 2, True, True), {}, (1, 2, 7)),
    ("MaxPool2d", (2,), {}, (2, 3, 8, 8)),
    ("MaxPool2d", ((2, 3), 1, (1, 0), 2), dict(ceil_mode=True, return_indices=True), (1, 2, 7, 9)),
    ("MaxPool2d", (3,), dict(stride=2, padding=1), (3, 9, 9)),                    # unbatched
    ("MaxPool3d", (2,), dict(stride=1), (1, 2, 4, 5, 4)),
    ("AvgPool1d", (3,), {}, (2, 3, 10)),
    ("AvgPool1d", (3, 2, 1, True, False), {}, (1, 2, 8)),
    ("AvgPool2d", (2,), {}, (2, 3, 8, 8)),
    ("AvgPool2d", ((2, 3), 1, (1, 0), True, False, 3), {}, (1, 2, 7, 9)),
    ("AvgPool3d", (2,), dict(stride=1, padding=1, count_include_pad=False), (1, 2, 4, 5, 4)),
    ("AdaptiveAvgPool1d", (3,), {}, (2, 3, 10)),
    ("AdaptiveAvgPool2d", ((None, 3),), {}, (2, 3, 5, 7)),
    ("AdaptiveAvgPool2d", (1,), {}, (2, 3, 5, 7)),
    ("AdaptiveAvgPool3d", (2,), {}, (1, 2, 5, 4, 3)),
    ("AdaptiveMaxPool1d", (3,), {}, (2, 3, 10)),
    ("AdaptiveMaxPool2d", (2, True), {}, (2, 3, 5, 7)),
    ("AdaptiveMaxPool3d", ((2, None, 1),), {}, (1, 2, 5, 4, 3)),
    ("LPPool1d", (2, 3), {}, (2, 3, 10)),
    ("LPPool2d", (2.5, 2, 1, True), {}, (1, 2, 5, 5)),
    ("LPPool3d", (2, 2), {}, (1, 2, 4, 4, 4)),
]


def _pair(name, args, kwargs):
    return getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)


@pytest.mark.parametrize("name,args,kwargs,shape", LAYERS)
def test_repr_and_attributes_match_torch(name, args, kwargs, shape):
    n, t = _pair(name, args, kwargs)
    assert repr(n) == repr(t)
    public = {k: v for k, v in vars(t).items() if not k.startswith("_") and k != "training"}
    for key, value in public.items():
        assert getattr(n, key) == value, key
    assert list(n.parameters()) == [] and dict(n.state_dict()) == {}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,args,kwargs,shape", LAYERS)
def test_forward_and_input_grad_match_torch(name, args, kwargs, shape, dtype):
    n, t = _pair(name, args, kwargs)
    x = random_array(shape, dtype, seed=1)
    if name.startswith("LP"):
        x = np.abs(x) + 0.1                          # fractional powers need x >= 0
    xn, xt = numcnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yn, yt = n(xn), t(xt)
    if isinstance(yt, tuple):
        assert_close(yn[1], yt[1], what="indices")
        yn, yt = yn[0], yt[0]
    assert_close(yn, yt, what="output")
    g = random_array(yt.shape, dtype, seed=2)
    yn.backward(numcnn.tensor(g))
    yt.backward(torch.tensor(g))
    assert_close(xn.grad, xt.grad, what="input grad")


@pytest.mark.parametrize("nd,shape,out", [
    (1, (2, 3, 9), None), (2, (1, 2, 7, 5), [7, 5]), (2, (2, 6, 6), None),
    (3, (1, 2, 4, 5, 4), (1, 2, 4, 5, 4)),
])
def test_max_unpool_modules_invert_max_pool_like_torch(nd, shape, out):
    x = random_array(shape, seed=3)
    n_pool = getattr(nn, f"MaxPool{nd}d")(2, return_indices=True)
    t_pool = getattr(torch.nn, f"MaxPool{nd}d")(2, return_indices=True)
    n_un, t_un = _pair(f"MaxUnpool{nd}d", (2,), {})
    assert repr(n_un) == repr(t_un)
    xn, xt = numcnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yn, yt = n_un(*n_pool(xn), output_size=out), t_un(*t_pool(xt), output_size=out)
    assert_close(yn, yt)
    yn.sum().backward()
    yt.sum().backward()
    assert_close(xn.grad, xt.grad)


def test_max_pool2d_repr_example():
    assert repr(nn.MaxPool2d(2)) == (
        "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    )


def test_pooling_layers_chain_with_formula_shapes():
    """Output sizes follow floor((H + 2p - k) / s) + 1 through a stack of layers."""
    x = numcnn.tensor(random_array((1, 3, 28, 28), np.float32))
    y = nn.MaxPool2d(2)(x)
    assert y.shape == (1, 3, 14, 14)
    y = nn.AvgPool2d(3, stride=2, padding=1)(y)
    assert y.shape == (1, 3, 7, 7)
    assert nn.AdaptiveAvgPool2d(1)(y).shape == (1, 3, 1, 1)
