"""Flatten, Unflatten, ChannelShuffle, PixelShuffle, PixelUnshuffle, Upsample and the legacy
Upsampling layers (numcnn.nn.modules.misc) against torch.nn: repr, attributes, forward and
backward."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.helpers import assert_close, random_array

import numcnn
import numcnn.nn as nn

LAYERS = [   # (name, args, kwargs, input shape)
    ("Flatten", (), {}, (2, 3, 4, 5)),
    ("Flatten", (0, 2), {}, (2, 3, 4, 5)),
    ("Flatten", (), {"start_dim": -2}, (2, 3, 4)),
    ("Unflatten", (1, (2, 5)), {}, (3, 10, 2)),
    ("Unflatten", (-1, (3, -1)), {}, (2, 12)),
    ("ChannelShuffle", (2,), {}, (2, 6, 3, 3)),
    ("ChannelShuffle", (3,), {}, (1, 9, 2)),
    ("PixelShuffle", (2,), {}, (2, 8, 3, 5)),
    ("PixelUnshuffle", (3,), {}, (1, 2, 6, 9)),
    ("Upsample", (), {"scale_factor": 2}, (2, 3, 4, 5)),
    ("Upsample", (), {"size": (3, 4), "mode": "bilinear"}, (2, 3, 5, 7)),
    ("Upsample", (), {"scale_factor": (2, 3), "mode": "bilinear", "align_corners": True},
     (1, 2, 3, 4)),
    ("Upsample", (), {"scale_factor": 1.5, "mode": "linear"}, (2, 3, 5)),
    ("Upsample", (), {"size": 6, "mode": "nearest"}, (2, 1, 3, 4, 5)),
    ("Upsample", (), {"scale_factor": 1.3, "mode": "bilinear", "recompute_scale_factor": True},
     (1, 2, 5, 5)),
    ("UpsamplingNearest2d", (), {"scale_factor": 2}, (1, 2, 3, 3)),
    ("UpsamplingNearest2d", ((5, 4),), {}, (1, 2, 3, 3)),
    ("UpsamplingBilinear2d", (), {"size": 5}, (1, 2, 3, 4)),
    ("UpsamplingBilinear2d", (), {"scale_factor": 2.5}, (1, 2, 3, 4)),
]
IDS = [f"{n}{a}{k}" for n, a, k, _ in LAYERS]


@pytest.mark.parametrize("name,args,kwargs,shape", LAYERS, ids=IDS)
def test_matches_torch(name, args, kwargs, shape):
    m, tm = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(m) == repr(tm)
    for attr in ("size", "scale_factor", "mode", "align_corners", "groups", "upscale_factor",
                 "downscale_factor", "start_dim", "end_dim", "dim", "unflattened_size"):
        if hasattr(tm, attr):
            assert getattr(m, attr) == getattr(tm, attr), attr
    for dtype in (np.float32, np.float64):
        x = random_array(shape, dtype)
        a, t = numcnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = m(a), tm(t)
        assert_close(y, ty, what=f"{name} forward")
        g = random_array(ty.shape, dtype, seed=1)
        y.backward(numcnn.tensor(g))
        ty.backward(torch.tensor(g))
        assert_close(a.grad, t.grad, what=f"{name} grad")


def test_misc_layers_validate_like_functional():
    with pytest.raises(RuntimeError, match="divisible by groups"):
        nn.ChannelShuffle(4)(numcnn.randn(1, 6, 2, 2))
    with pytest.raises(ValueError, match="align_corners"):
        nn.Upsample(scale_factor=2, align_corners=True)(numcnn.randn(1, 1, 2, 2))
    with pytest.raises(TypeError, match="unflattened_size"):
        nn.Unflatten(1, 4)


def test_no_parameters():
    for name, args, kwargs, _ in LAYERS:
        assert list(getattr(nn, name)(*args, **kwargs).parameters()) == []
