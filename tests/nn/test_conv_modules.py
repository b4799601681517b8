"""Convolution and padding layers: torch's constructor arguments, parameter names and shapes,
default initialisation, reprs, state_dict loading, and the same outputs and gradients as
torch.nn's layers (every padding mode, 'same' with even kernels, transposed output_size)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tests.helpers import assert_close, random_array

import numcnn
import numcnn.nn as nn

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

CONV_LAYERS = [
    # class name, args, kwargs, input shape
    ("Conv1d", (3, 4, 3), {}, (2, 3, 11)),
    ("Conv1d", (4, 6, 4), dict(padding="same", padding_mode="reflect", groups=2), (2, 4, 9)),
    ("Conv1d", (2, 2, 3), dict(padding=2, padding_mode="circular", dilation=2), (2, 7)),
    ("Conv2d", (3, 4, 3), {}, (2, 3, 9, 8)),
    ("Conv2d", (3, 5, (3, 2)), dict(stride=2, padding=(1, 2), dilation=(2, 1), bias=False),
     (1, 3, 10, 9)),
    ("Conv2d", (4, 4, 3), dict(groups=4, padding=1), (2, 4, 7, 7)),
    ("Conv2d", (3, 6, 4), dict(padding="same"), (2, 3, 7, 6)),
    ("Conv2d", (3, 6, 4), dict(padding="same", padding_mode="replicate"), (2, 3, 7, 6)),
    ("Conv2d", (3, 6, (2, 3)), dict(padding="same", padding_mode="circular", dilation=(3, 1)),
     (2, 3, 7, 6)),
    ("Conv2d", (3, 6, 3), dict(padding="valid"), (3, 7, 6)),
    ("Conv2d", (2, 4, 3), dict(padding=(1, 2), padding_mode="reflect", stride=(1, 2)),
     (2, 2, 5, 6)),
    ("Conv2d", (2, 4, 3), dict(padding=1, padding_mode="replicate"), (2, 5, 6)),
    ("Conv2d", (2, 4, 3), dict(padding=2, padding_mode="circular"), (1, 2, 5, 6)),
    ("Conv3d", (2, 3, 3), dict(padding=1), (1, 2, 4, 5, 4)),
    ("Conv3d", (2, 4, (2, 3, 2)), dict(padding="same", padding_mode="reflect", groups=2),
     (1, 2, 4, 5, 4)),
    ("ConvTranspose1d", (3, 4, 3), dict(stride=2, output_padding=1), (2, 3, 5)),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, groups=2, dilation=2,
                                        output_padding=1), (2, 4, 4, 5)),
    ("ConvTranspose2d", (3, 2, (2, 3)), dict(bias=False), (3, 4, 4)),
    ("ConvTranspose3d", (2, 3, 2), dict(stride=2), (1, 2, 3, 2, 3)),
]


def _pair(name, args, kwargs, dtype=np.float64):
    """A numcnn layer carrying a fresh torch layer's parameters."""
    t = getattr(torch.nn, name)(*args, **kwargs).to(torch.float64 if dtype == np.float64
                                                     else torch.float32)
    n = getattr(nn, name)(*args, **kwargs, dtype=dtype)
    n.load_state_dict({k: v.detach().numpy().copy() for k, v in t.state_dict().items()})
    return n, t


@pytest.mark.parametrize("name, args, kwargs, shape", CONV_LAYERS)
def test_repr_attributes_and_parameters_match_torch(name, args, kwargs, shape):
    n = getattr(nn, name)(*args, **kwargs)
    t = getattr(torch.nn, name)(*args, **kwargs)
    assert repr(n) == repr(t)
    for key in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
                "transposed", "output_padding", "groups", "padding_mode"):
        assert getattr(n, key) == getattr(t, key), key
    assert list(n._reversed_padding_repeated_twice) == list(t._reversed_padding_repeated_twice)
    assert [(k, tuple(v.shape)) for k, v in n.named_parameters()] == \
        [(k, tuple(v.shape)) for k, v in t.named_parameters()]
    assert list(n.state_dict()) == list(t.state_dict())
    assert n.weight.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, args, kwargs, shape", CONV_LAYERS)
def test_forward_and_grads_match_torch(name, args, kwargs, shape, dtype):
    n, t = _pair(name, args, kwargs, dtype)
    x = random_array(shape, dtype, seed=1)
    nx = numcnn.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    ny, ty = n(nx), t(tx)
    assert_close(ny, ty)
    g = random_array(ty.shape, dtype, seed=2)
    (ny * numcnn.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    assert_close(nx.grad, tx.grad, what="input grad")
    for (k, p), (_, tp) in zip(n.named_parameters(), t.named_parameters()):
        assert_close(p.grad, tp.grad, what=f"{k} grad")


@pytest.mark.parametrize("args, count", [((3, 10, 5), 760), ((3, 4, 3), 112),
                                         ((16, 32, 3), 4640)])
def test_parameter_counts_from_the_seeds(args, count):
    m = nn.Conv2d(*args)
    assert sum(p.numel() for p in m.parameters()) == count


@pytest.mark.parametrize("cls, args, fan_in", [
    (nn.Conv2d, (16, 32, 3), 16 * 9),
    (nn.Conv1d, (4, 6, 5), 4 * 5),
    (nn.Conv2d, (8, 8, 3, 1, 0, 1, 4), 2 * 9),           # groups=4
    (nn.ConvTranspose2d, (6, 4, 3), 4 * 9),              # weight (C_in, C_out, k, k)
    (nn.Conv3d, (2, 3, 2), 2 * 8),
])
def test_default_init_is_kaiming_uniform_sqrt5(cls, args, fan_in):
    """kaiming_uniform_(a=sqrt(5)): bound = sqrt(6 / ((1 + 5) fan_in)) = 1/sqrt(fan_in); the
    bias uses the same bound.  The samples fill the range and look uniform."""
    numcnn.manual_seed(0)
    m = cls(*args)
    bound = 1 / math.sqrt(fan_in)
    w = m.weight.array
    assert np.all(np.abs(w) <= bound) and np.all(np.abs(m.bias.array) <= bound)
    assert w.max() > 0.8 * bound and w.min() < -0.8 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.25 * bound
    numcnn.manual_seed(0)
    again = cls(*args)
    assert np.array_equal(again.weight.array, w)                  # one seed, one init


def test_dtype_argument_and_bias_false():
    m = nn.Conv2d(2, 3, 3, bias=False, dtype=numcnn.float64)
    assert m.weight.dtype == np.float64 and m.bias is None
    assert list(m.state_dict()) == ["weight"]
    y = m(numcnn.randn(1, 2, 5, 5, dtype=numcnn.float64))
    assert y.dtype == np.float64


@pytest.mark.parametrize("output_size", [[9, 9], [10, 10], [1, 4, 10, 9], (9, 10)])
def test_conv_transpose_output_size_like_torch(output_size):
    n, t = _pair("ConvTranspose2d", (4, 3, 3), dict(stride=2))
    x = random_array((1, 4, 4, 4), seed=3)
    ny = n(numcnn.tensor(x), output_size=output_size)
    ty = t(torch.tensor(x), output_size=output_size)
    assert_close(ny, ty)


@pytest.mark.parametrize("output_size", [[11, 9], [8, 9], [1, 2, 3]])
def test_conv_transpose_bad_output_size_raises_value_error(output_size):
    n, t = _pair("ConvTranspose2d", (4, 3, 3), dict(stride=2))
    x = random_array((1, 4, 4, 4), seed=3)
    with pytest.raises(ValueError):
        t(torch.tensor(x), output_size=output_size)
    with pytest.raises(ValueError, match="output"):
        n(numcnn.tensor(x), output_size=output_size)


BAD_CTOR = [
    ("groups does not divide in_channels", "Conv2d", (3, 10, 5), dict(groups=2)),
    ("groups does not divide out_channels", "Conv2d", (4, 10, 5), dict(groups=4)),
    ("groups 0", "Conv2d", (4, 10, 5), dict(groups=0)),
    ("unknown padding_mode", "Conv2d", (4, 10, 5), dict(padding_mode="foo")),
    ("same with stride", "Conv2d", (4, 10, 5), dict(padding="same", stride=2)),
    ("unknown padding string", "Conv2d", (4, 10, 5), dict(padding="full")),
    ("transposed with reflect", "ConvTranspose2d", (4, 10, 5), dict(padding_mode="reflect")),
    ("conv1d groups", "Conv1d", (3, 4, 3), dict(groups=2)),
]


@pytest.mark.parametrize("what, name, args, kwargs", BAD_CTOR, ids=[b[0] for b in BAD_CTOR])
def test_bad_constructor_arguments_raise_value_error_like_torch(what, name, args, kwargs):
    with pytest.raises(ValueError):
        getattr(torch.nn, name)(*args, **kwargs)
    with pytest.raises(ValueError) as info:
        getattr(nn, name)(*args, **kwargs)
    assert any(word in str(info.value) for word in ("groups", "padding", "zeros"))


@pytest.mark.parametrize("args, kwargs", [((2.5, 4, 3), {}), ((2, -1, 3), {}),
                                          ((2, 4, 3), dict(padding="same", transposed=True))])
def test_numcnn_only_constructor_checks(args, kwargs):
    """Non-integer or negative channel counts, and a padding string for a transposed
    convolution (torch accepts the latter and fails later) raise a ValueError at once."""
    cls = nn.ConvTranspose2d if kwargs.pop("transposed", False) else nn.Conv2d
    with pytest.raises(ValueError, match="channels|padding"):
        cls(*args, **kwargs)


def test_call_time_errors_like_torch():
    """Like torch, a zero stride or a wrong kernel tuple is accepted by the constructor and
    refused (RuntimeError) when the layer runs."""
    m = nn.Conv2d(4, 10, 3, stride=0)
    with pytest.raises(RuntimeError, match="stride"):
        m(numcnn.randn(1, 4, 5, 5))
    with pytest.raises(RuntimeError, match="channels"):
        nn.Conv2d(3, 10, 3)(numcnn.randn(1, 4, 5, 5))


# ----------------------------------------------------------------------------- padding layers

PAD_LAYERS = [
    ("ZeroPad1d", (2,), (2, 3, 5)),
    ("ZeroPad2d", ((1, 2, 0, 3),), (2, 3, 4, 5)),
    ("ZeroPad3d", (1,), (1, 2, 3, 4, 2)),
    ("ConstantPad1d", ((1, 3), 2.5), (3, 5)),
    ("ConstantPad2d", (2, -1.0), (1, 2, 3, 4)),
    ("ConstantPad3d", ((1, 0, 2, 1, 0, 1), 0.5), (1, 2, 3, 3, 2)),
    ("ReflectionPad1d", (2,), (2, 3, 5)),
    ("ReflectionPad2d", ((1, 3, 2, 0),), (1, 2, 3, 4)),
    ("ReflectionPad3d", (1,), (1, 2, 3, 4, 2)),
    ("ReplicationPad1d", ((3, 1),), (2, 5)),
    ("ReplicationPad2d", (2,), (1, 2, 3, 4)),
    ("ReplicationPad3d", ((1, 2, 0, 1, 2, 0),), (2, 3, 4, 2)),
    ("CircularPad1d", (2,), (2, 3, 5)),
    ("CircularPad2d", ((1, 3, 2, 0),), (1, 2, 3, 4)),
    ("CircularPad3d", (1,), (1, 2, 3, 4, 2)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, args, shape", PAD_LAYERS)
def test_padding_layers_match_torch(name, args, shape, dtype):
    n, t = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(n) == repr(t)
    assert n.padding == t.padding
    x = random_array(shape, dtype, seed=4)
    nx, tx = numcnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ny, ty = n(nx), t(tx)
    assert_close(ny, ty)
    g = random_array(ty.shape, dtype, seed=5)
    (ny * numcnn.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    assert_close(nx.grad, tx.grad)
    assert list(n.parameters()) == []


def test_padding_layer_then_valid_conv_equals_conv_with_padding_mode():
    """ReflectionPad2d(1) + Conv2d(padding=0) is Conv2d(padding=1, padding_mode='reflect')."""
    conv = nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect")
    plain = nn.Conv2d(2, 3, 3)
    plain.load_state_dict({k: v.array for k, v in conv.state_dict().items()})
    x = numcnn.randn(2, 2, 6, 5)
    assert_close(conv(x), plain(nn.ReflectionPad2d(1)(x)).array)
