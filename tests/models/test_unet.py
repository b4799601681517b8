"""U-Net: the parameter count by hand (31,030,658), the paper's 572 -> 388 valid-convolution
geometry and 'same' padding, an independent torch forward for both, forward+backward, the
input-size checks, and the paper's initialisation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tests.helpers import assert_close
from tests.models.zoo import randomize_batch_norm, trainable_params

import numcnn
import numcnn.nn as nn
from numcnn.models import get_model
from numcnn.models.unet import MODELS, DoubleConv, UNet, unet

TF = torch.nn.functional
SMALL = (4, 6, 8, 8, 10)    # channels of a cheap U-Net of the same shape


def test_models_dict() -> None:
    assert MODELS == {"unet": unet}
    assert isinstance(get_model("unet"), UNet)


def unet_params(c_in: int, classes: int, widths: tuple[int, ...], batch_norm: bool) -> int:
    """Two 3x3 convolutions per level (bias, or BN's weight and bias: 2 per channel), up-convs
    2x2 that halve the channels, a 1x1 output convolution."""
    per_channel = 2 if batch_norm else 1          # BN's weight and bias, or the conv's bias

    def level(a: int, b: int) -> int:
        return (9 * a * b + per_channel * b) + (9 * b * b + per_channel * b)

    total, prev = 0, c_in
    for w in widths:                              # contracting path and bottom
        total += level(prev, w)
        prev = w
    for w in reversed(widths[:-1]):               # expansive path
        total += 4 * prev * w + w                 # up-conv
        total += level(2 * w, w)                  # after the concatenation
        prev = w
    return total + prev * classes + classes


def test_parameter_count_by_hand() -> None:
    paper = (64, 128, 256, 512, 1024)
    assert unet_params(1, 2, paper, False) == 31_030_658
    assert unet_params(1, 2, paper, True) == 31_036_546
    assert trainable_params(unet()) == 31_030_658
    assert trainable_params(unet(padding=False)) == 31_030_658
    assert trainable_params(unet(batch_norm=True)) == 31_036_546
    assert trainable_params(unet(in_channels=3, num_classes=5)) == \
        unet_params(3, 5, paper, False)
    assert trainable_params(UNet(2, 3, channels=SMALL, batch_norm=True)) == \
        unet_params(2, 3, SMALL, True)


def test_paper_geometry_572_to_388() -> None:
    """The paper's Figure 1: 572 -> 570 -> 568, pool 284 ... bottom 30 -> 28, up 56 ... 388."""
    model = UNet(padding=False, channels=(1, 1, 1, 1, 1))
    sizes: dict[str, int] = {}
    for name in ("down1", "down2", "down3", "down4", "bottom", "up4", "up3", "up2", "up1"):
        getattr(model, name).register_forward_hook(
            lambda m, i, o, name=name: sizes.__setitem__(name, o.shape[-1]))
    with numcnn.no_grad():
        out = model(numcnn.zeros(1, 1, 572, 572))
    assert tuple(out.shape) == (1, 2, 388, 388)
    assert sizes == {"down1": 568, "down2": 280, "down3": 136, "down4": 64, "bottom": 28,
                     "up4": 52, "up3": 100, "up2": 196, "up1": 388}


def test_same_padding_keeps_the_size() -> None:
    model = UNet(channels=SMALL)
    for side in (16, 36, 50):   # 50 -> 25 -> 12 -> 6 -> 3: up-convs a pixel short get padded
        assert tuple(model(numcnn.zeros(1, 1, side, side + 16)).shape) == (1, 2, side, side + 16)


def torch_unet(sd: dict[str, torch.Tensor], x: torch.Tensor, padding: bool,
               batch_norm: bool) -> torch.Tensor:
    """U-Net from the paper's Figure 1 in torch.nn.functional (eval mode)."""
    def double_conv(x: torch.Tensor, p: str) -> torch.Tensor:
        for conv, bn in ((0, 1), (3, 4)) if batch_norm else ((0, None), (2, None)):
            x = TF.conv2d(x, sd[f"{p}.{conv}.weight"], sd.get(f"{p}.{conv}.bias"),
                          padding=int(padding))
            if bn is not None:
                x = TF.batch_norm(x, sd[f"{p}.{bn}.running_mean"], sd[f"{p}.{bn}.running_var"],
                                  sd[f"{p}.{bn}.weight"], sd[f"{p}.{bn}.bias"], training=False)
            x = TF.relu(x)
        return x

    skips = []
    for name in ("down1", "down2", "down3", "down4"):
        x = double_conv(x, name)
        skips.append(x)
        x = TF.max_pool2d(x, 2)
    x = double_conv(x, "bottom")
    for level in (4, 3, 2, 1):
        up = TF.conv_transpose2d(x, sd[f"upconv{level}.weight"], sd[f"upconv{level}.bias"],
                                 stride=2)
        skip = skips[level - 1]
        dh, dw = skip.shape[2] - up.shape[2], skip.shape[3] - up.shape[3]
        if padding:
            up = TF.pad(up, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2))
        else:
            skip = skip[:, :, dh // 2:dh // 2 + up.shape[2], dw // 2:dw // 2 + up.shape[3]]
        x = double_conv(torch.cat([skip, up], 1), f"up{level}")
    return TF.conv2d(x, sd["classifier.weight"], sd["classifier.bias"])


@pytest.mark.parametrize("padding, batch_norm, side", [(False, False, 188), (True, True, 50)])
def test_against_torch(padding: bool, batch_norm: bool, side: int) -> None:
    numcnn.manual_seed(0)
    model = UNet(in_channels=2, num_classes=3, padding=padding, batch_norm=batch_norm,
                 channels=SMALL)
    rng = np.random.default_rng(0)
    randomize_batch_norm(model, rng)
    model.eval()
    sd = {k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()}
    x = rng.standard_normal((1, 2, side, side)).astype(np.float32)
    expected = torch_unet(sd, torch.tensor(x), padding, batch_norm)
    assert_close(model(numcnn.tensor(x)), expected, rtol=1e-4,
                 atol=1e-5 * max(1.0, float(expected.abs().max())))


def assert_segmentation_forward_backward(model: nn.Module, shape: tuple[int, ...],
                                         out_shape: tuple[int, ...]) -> None:
    """Training mode: the output is (N, classes, H', W') and every parameter gets a finite
    gradient from a random linear function of the output."""
    rng = np.random.default_rng(0)
    model.train()
    out = model(numcnn.tensor(rng.standard_normal(shape).astype(np.float32)))
    assert tuple(out.shape) == out_shape
    (out * numcnn.tensor(rng.standard_normal(out_shape).astype(np.float32))).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert np.isfinite(p.grad.numpy()).all(), f"{name} has a non-finite gradient"


def test_forward_backward_paper_widths() -> None:
    """The full 31M-parameter network, valid convolutions: 188 -> 4 (the smallest valid side)."""
    numcnn.manual_seed(0)
    assert_segmentation_forward_backward(unet(padding=False), (1, 1, 188, 188), (1, 2, 4, 4))


@pytest.mark.parametrize("padding, batch_norm, side, out", [
    (True, False, 32, 32), (True, True, 36, 36), (False, True, 204, 20)])
def test_forward_backward(padding: bool, batch_norm: bool, side: int, out: int) -> None:
    numcnn.manual_seed(0)
    model = UNet(in_channels=3, num_classes=4, padding=padding, batch_norm=batch_norm,
                 channels=SMALL)
    assert_segmentation_forward_backward(model, (2, 3, side, side), (2, 4, out, out))


def test_batch_norm_layout() -> None:
    block = DoubleConv(3, 8, batch_norm=True)
    assert [type(m).__name__ for m in block] == \
        ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "ReLU"]
    assert all(m.bias is None for m in block if isinstance(m, nn.Conv2d))
    assert [type(m).__name__ for m in DoubleConv(3, 8)] == ["Conv2d", "ReLU", "Conv2d", "ReLU"]


def test_bad_sizes() -> None:
    valid, same = UNet(padding=False, channels=SMALL), UNet(channels=SMALL)
    for side in (172, 190, 572 + 8):
        with pytest.raises(ValueError, match="16k \\+ 124"):
            valid(numcnn.zeros(1, 1, side, 188))
    with pytest.raises(ValueError, match=">= 16"):
        same(numcnn.zeros(1, 1, 15, 32))
    with pytest.raises(ValueError, match="channels"):
        UNet(channels=(1, 2, 3))   # type: ignore[arg-type]


def test_init_is_the_papers() -> None:
    """N(0, sqrt(2/N)), N = 9 C_in for 3x3 convolutions, C_in for the 2x2/2 up-convolutions."""
    numcnn.manual_seed(0)
    model = unet()
    w = model.down4[2].weight.detach().numpy()           # 512 x 512 x 3 x 3
    assert w.std() == pytest.approx(math.sqrt(2 / (9 * 512)), rel=0.02)
    w = model.upconv3.weight.detach().numpy()            # 512 -> 256, 2x2
    assert w.std() == pytest.approx(math.sqrt(2 / 512), rel=0.02)
    assert abs(w.mean()) < 0.01 * w.std()
    assert all(np.all(m.bias.detach().numpy() == 0) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))
