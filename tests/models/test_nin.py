"""Network in Network (CIFAR-10): the parameter count by hand, the map sizes 32 -> 16 -> 8 ->
scores, an independent torch forward, forward+backward, and He initialisation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tests.helpers import assert_close
from tests.models.zoo import assert_forward_backward, trainable_params

import numcnn
import numcnn.nn as nn
from numcnn.models import get_model
from numcnn.models.nin import MODELS, NIN, MLPConv, nin

TF = torch.nn.functional


def test_models_dict() -> None:
    assert MODELS == {"nin": nin}
    assert isinstance(get_model("nin"), NIN)


def test_parameter_count_by_hand() -> None:
    def conv(k: int, c_in: int, c_out: int) -> int:
        return k * k * c_in * c_out + c_out

    block1 = conv(5, 3, 192) + conv(1, 192, 160) + conv(1, 160, 96)      # 14,592 30,880 15,456
    block2 = conv(5, 96, 192) + 2 * conv(1, 192, 192)                     # 460,992 2 x 37,056
    block3 = conv(3, 192, 192) + conv(1, 192, 192) + conv(1, 192, 10)     # 331,968 37,056 1,930
    assert block1 + block2 + block3 == 966_986 == trainable_params(nin())
    assert trainable_params(nin(num_classes=100)) == 966_986 + 90 * (192 + 1)


def test_structure_and_sizes() -> None:
    """Three mlpconv layers (KxK then two 1x1 convolutions, a ReLU after each), pools that
    round up (32 -> 16 -> 8), one 8x8 map per class, then global average pooling."""
    model = nin()
    model.eval()
    blocks = [m for m in model.features if isinstance(m, MLPConv)]
    assert [[c.kernel_size for c in b if isinstance(c, nn.Conv2d)] for b in blocks] == \
        [[(5, 5), (1, 1), (1, 1)], [(5, 5), (1, 1), (1, 1)], [(3, 3), (1, 1), (1, 1)]]
    assert all(len([r for r in b if isinstance(r, nn.ReLU)]) == 3 for b in blocks)
    x = numcnn.zeros(1, 3, 32, 32)
    shapes = []
    for layer in model.features:
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes == [(96, 32, 32), (96, 16, 16), (96, 16, 16), (192, 16, 16), (192, 8, 8),
                      (192, 8, 8), (10, 8, 8)]
    assert tuple(model(numcnn.zeros(2, 3, 32, 32)).shape) == (2, 10)


def torch_nin(sd: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The authors' CIFAR-10 model (eval: dropout is the identity) in torch.nn.functional."""
    def mlpconv(x: torch.Tensor, block: int, pad: int) -> torch.Tensor:
        for i, p in ((0, pad), (2, 0), (4, 0)):
            key = f"features.{block}.{i}"
            x = TF.relu(TF.conv2d(x, sd[key + ".weight"], sd[key + ".bias"], padding=p))
        return x

    x = TF.max_pool2d(mlpconv(x, 0, 2), 3, 2, ceil_mode=True)
    x = TF.avg_pool2d(mlpconv(x, 3, 2), 3, 2, ceil_mode=True)
    return mlpconv(x, 6, 1).mean(dim=(2, 3))


def test_against_torch() -> None:
    numcnn.manual_seed(0)
    model = nin()
    model.eval()
    sd = {k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()}
    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
    expected = torch_nin(sd, torch.tensor(x))
    assert_close(model(numcnn.tensor(x)), expected, rtol=1e-4,
                 atol=1e-5 * max(1.0, float(expected.abs().max())))


def test_forward_backward() -> None:
    numcnn.manual_seed(0)
    assert_forward_backward(nin(), (2, 3, 32, 32), 10)
    assert_forward_backward(nin(num_classes=4, in_channels=1), (1, 1, 20, 20), 4)


def test_init_is_he_normal() -> None:
    numcnn.manual_seed(0)
    model = nin()
    w = model.features[3][0].weight.detach().numpy()      # conv 96 -> 192, 5x5: 460,800 weights
    assert w.std() == pytest.approx(math.sqrt(2 / (96 * 25)), rel=0.02)
    assert abs(w.mean()) < 0.01 * w.std()
    assert all(np.all(m.bias.detach().numpy() == 0) for m in model.modules()
               if isinstance(m, nn.Conv2d))
