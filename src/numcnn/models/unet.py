"""U-Net (Ronneberger, Fischer and Brox, "U-Net: Convolutional Networks for Biomedical Image
Segmentation", MICCAI 2015): the segmentation network among seed 004's related architectures.

The paper's Figure 1, a "U":

- a contracting path of four levels, each two 3x3 convolutions + ReLU then a 2x2 max pool with
  stride 2, the channels doubling 64 -> 128 -> 256 -> 512, and a bottom level of 1024;
- an expansive path of four levels, each a 2x2 "up-convolution" (a transposed convolution with
  stride 2) that halves the channels, the concatenation with the feature map of the same level
  of the contracting path (the skip connection), and two 3x3 convolutions + ReLU;
- a final 1x1 convolution to one channel per class: the per-pixel class scores.

The paper's convolutions are unpadded, so each loses a 2-pixel border and the skip maps are
center-cropped to the up-convolved size before the concatenation: a 572x572 tile gives a
388x388 segmentation of its center (`padding=False`). With `padding=True` (the default) every
3x3 convolution pads by 1 ("same"), the output has the input's size, and an up-convolved map
one pixel short of its skip (an odd size before a pool) is zero-padded to it.

Parameters at 1 input channel and 2 classes (3x3 convs 9*Cin*Cout + Cout, up-convs
4*Cin*Cout + Cout): contracting 640 + 36,928 + 73,856 + 147,584 + 295,168 + 590,080
+ 1,180,160 + 2,359,808; bottom 4,719,616 + 9,438,208; expansive 2,097,664 + 4,719,104
+ 2,359,808, 524,544 + 1,179,904 + 590,080, 131,200 + 295,040 + 147,584, 32,832 + 73,792
+ 36,928; 1x1 output 130 — 31,030,658 in total, the same with or without padding.

Initialisation as in the paper (Section 3): weights from a Gaussian with standard deviation
sqrt(2/N), N the number of inputs of one unit (9 * C_in for a 3x3 convolution, C_in for a
2x2/stride-2 up-convolution, whose output pixels each see one input pixel), zero biases.

Axes: N batch, C channels, H/W height/width.
"""

from __future__ import annotations

import math
from typing import Callable

import numcnn
import numcnn.nn as nn
import numcnn.nn.functional as F
from numcnn.nn import init
from numcnn.tensor import Tensor

__all__ = ["DoubleConv", "UNet", "unet", "MODELS"]


class DoubleConv(nn.Sequential):
    """One level of the U: two 3x3 convolutions, each followed by (batch norm and) a ReLU.

    Args:
        in_channels: input channels.
        out_channels: channels of both convolutions.
        padding: pad each convolution by 1 (True, "same") or not (False, the paper's "valid").
        batch_norm: insert BatchNorm2d after each convolution (then the convolutions have no
            bias, which the normalisation would cancel).

    Shape:
        (N, in_channels, H, W) -> (N, out_channels, H, W) with padding,
        (N, out_channels, H - 4, W - 4) without.
    """

    def __init__(self, in_channels: int, out_channels: int, padding: bool = True,
                 batch_norm: bool = False) -> None:
        layers: list[nn.Module] = []
        for c_in in (in_channels, out_channels):
            layers.append(nn.Conv2d(c_in, out_channels, kernel_size=3, padding=int(padding),
                                    bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU())
        super().__init__(*layers)


def _center_crop(x: Tensor, height: int, width: int) -> Tensor:
    """The central (height, width) window of x (N, C, H, W): the paper's cropping of a skip."""
    top = (x.shape[2] - height) // 2
    left = (x.shape[3] - width) // 2
    return x[:, :, top:top + height, left:left + width]


class UNet(nn.Module):
    """U-Net: contracting path, bottom, expansive path with skip concatenations, 1x1 output.

    Args:
        in_channels: input image channels (1 in the paper).
        num_classes: output channels, the per-pixel class scores (2 in the paper).
        padding: "same" 3x3 convolutions (True, output size = input size) or the paper's
            unpadded ones with center-cropped skips (False, e.g. 572 -> 388).
        batch_norm: batch norm after every 3x3 convolution (not in the paper).
        channels: channels of the five levels, top to bottom (64, 128, 256, 512, 1024 in the
            paper; smaller values give a cheaper network of the same shape).

    Shape:
        (N, in_channels, H, W) -> (N, num_classes, H, W) with padding=True (any H, W >= 16);
        with padding=False each side S must be 16k + 124 (k >= 4, the bottom map's side) and
        gives 16k - 60, e.g. 188 -> 4, 572 -> 388.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 2, padding: bool = True,
                 batch_norm: bool = False,
                 channels: tuple[int, int, int, int, int] = (64, 128, 256, 512, 1024)) -> None:
        super().__init__()
        if len(channels) != 5:
            raise ValueError(f"channels must give the 5 levels' widths, got {channels!r}")
        self.padding = padding
        c1, c2, c3, c4, c5 = channels
        # contracting path
        self.down1 = DoubleConv(in_channels, c1, padding, batch_norm)
        self.pool1 = nn.MaxPool2d(2)
        self.down2 = DoubleConv(c1, c2, padding, batch_norm)
        self.pool2 = nn.MaxPool2d(2)
        self.down3 = DoubleConv(c2, c3, padding, batch_norm)
        self.pool3 = nn.MaxPool2d(2)
        self.down4 = DoubleConv(c3, c4, padding, batch_norm)
        self.pool4 = nn.MaxPool2d(2)
        self.bottom = DoubleConv(c4, c5, padding, batch_norm)
        # expansive path: up-conv halves the channels, the skip brings as many back
        self.upconv4 = nn.ConvTranspose2d(c5, c4, kernel_size=2, stride=2)
        self.up4 = DoubleConv(2 * c4, c4, padding, batch_norm)
        self.upconv3 = nn.ConvTranspose2d(c4, c3, kernel_size=2, stride=2)
        self.up3 = DoubleConv(2 * c3, c3, padding, batch_norm)
        self.upconv2 = nn.ConvTranspose2d(c3, c2, kernel_size=2, stride=2)
        self.up2 = DoubleConv(2 * c2, c2, padding, batch_norm)
        self.upconv1 = nn.ConvTranspose2d(c2, c1, kernel_size=2, stride=2)
        self.up1 = DoubleConv(2 * c1, c1, padding, batch_norm)
        self.classifier = nn.Conv2d(c1, num_classes, kernel_size=1)

        # the paper's init: N(0, sqrt(2/N)), N = inputs of one unit (batch norm keeps its
        # own: weight 1, bias 0)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            elif isinstance(m, nn.ConvTranspose2d):
                # weight (C_in, C_out, 2, 2); with stride 2 each output pixel sees one input
                # pixel of every input channel, so N = C_in
                init.normal_(m.weight, mean=0.0, std=math.sqrt(2.0 / m.weight.shape[0]))
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.bias is not None:
                init.zeros_(m.bias)

    def _check_size(self, x: Tensor) -> None:
        """Valid convolutions need sides S = 16k + 124 with k >= 4: the bottom map is k wide
        (every pooled map even, no row dropped) and the output 16k - 60 > 0. Same convolutions
        need at least one pixel at the bottom (sides >= 16)."""
        if x.ndim != 4:
            raise ValueError(f"UNet expects an (N, C, H, W) input, got shape {tuple(x.shape)}")
        for side in x.shape[2:]:
            if self.padding and side < 16:
                raise ValueError(f"UNet(padding=True) needs H and W >= 16, got {x.shape[2:]}")
            if not self.padding and (side < 188 or (side - 124) % 16 != 0):
                raise ValueError(f"UNet(padding=False) needs H and W of the form 16k + 124, "
                                 f"k >= 4 (188, 204, ..., 572, ...), got {x.shape[2:]}")

    def _merge(self, up: Tensor, skip: Tensor) -> Tensor:
        """Concatenate skip and up along C, after making their sizes agree: crop the skip
        (valid convolutions) or pad the up-convolved map (same convolutions, odd sizes)."""
        if self.padding:
            dh, dw = skip.shape[2] - up.shape[2], skip.shape[3] - up.shape[3]
            if dh or dw:
                up = F.pad(up, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2))
        else:
            skip = _center_crop(skip, up.shape[2], up.shape[3])
        return numcnn.cat([skip, up], 1)

    def forward(self, x: Tensor) -> Tensor:
        self._check_size(x)
        s1 = self.down1(x)                                 # (N, 64, H, W)   [H-4 valid]
        s2 = self.down2(self.pool1(s1))                    # (N, 128, H/2, W/2)
        s3 = self.down3(self.pool2(s2))                    # (N, 256, H/4, W/4)
        s4 = self.down4(self.pool3(s3))                    # (N, 512, H/8, W/8)
        x = self.bottom(self.pool4(s4))                    # (N, 1024, H/16, W/16)
        x = self.up4(self._merge(self.upconv4(x), s4))     # (N, 512, H/8, W/8)
        x = self.up3(self._merge(self.upconv3(x), s3))     # (N, 256, H/4, W/4)
        x = self.up2(self._merge(self.upconv2(x), s2))     # (N, 128, H/2, W/2)
        x = self.up1(self._merge(self.upconv1(x), s1))     # (N, 64, H, W)
        return self.classifier(x)                          # (N, num_classes, H, W)


def unet(in_channels: int = 1, num_classes: int = 2, padding: bool = True,
         batch_norm: bool = False) -> UNet:
    """U-Net from Ronneberger, Fischer and Brox, "U-Net: Convolutional Networks for Biomedical
    Image Segmentation" (MICCAI 2015); `padding=False` is the paper's valid-convolution version
    (572x572 -> 388x388).

    31,030,658 parameters at 1 input channel and 2 classes (with batch_norm=True: 31,036,546;
    the convolutions lose their biases, the BN layers bring a weight and a bias per channel).
    """
    return UNet(in_channels, num_classes, padding, batch_norm)


MODELS: dict[str, Callable[..., nn.Module]] = {"unet": unet}
