"""Network in Network (Lin, Chen and Yan, "Network In Network", ICLR 2014).

The idea seed 001 teaches with 1x1 convolutions: replace the linear filter of a convolution by a
small multilayer perceptron slid over the image. An "mlpconv" layer is a KxK convolution followed
by two 1x1 convolutions, each with a ReLU; a 1x1 convolution is a fully connected layer applied at
every pixel, across channels. The last mlpconv layer has one channel per class, and global
average pooling turns each of those maps into a class score: no fully connected classifier.

The CIFAR-10 model is the authors' released one (three mlpconv layers, the paper's Section 4.2):

    conv 192@5x5 pad 2 - cccp 160 - cccp 96   -> max pool 3/2 -> dropout 0.5   (32 -> 16)
    conv 192@5x5 pad 2 - cccp 192 - cccp 192  -> avg pool 3/2 -> dropout 0.5   (16 -> 8)
    conv 192@3x3 pad 1 - cccp 192 - cccp 10   -> global average pool (8x8) -> 10 scores

Its pools round up (Caffe's convention, `ceil_mode=True`): 32 -> 16 -> 8. Every convolution,
the last included, is followed by a ReLU, as in the released model.

Parameters at 3x32x32 and 10 classes (weights + biases):
block 1: 3*25*192+192 = 14,592, 192*160+160 = 30,880, 160*96+96 = 15,456;
block 2: 96*25*192+192 = 460,992, 2 * (192*192+192) = 74,112;
block 3: 192*9*192+192 = 331,968, 192*192+192 = 37,056, 192*10+10 = 1,930; 966,986 in total.

Initialisation (not given in the paper): He et al.'s normal init, std sqrt(2 / fan_in), for
every convolution weight, zero biases.

Axes: N batch, C channels, H/W height/width.
"""

from __future__ import annotations

from typing import Callable

import numcnn.nn as nn
from numcnn.nn import init
from numcnn.tensor import Tensor

__all__ = ["MLPConv", "NIN", "nin", "MODELS"]


class MLPConv(nn.Sequential):
    """An mlpconv layer: a KxK convolution then two 1x1 convolutions ("cccp"), each with a ReLU.

    Args:
        in_channels: input channels.
        channels: output channels of the KxK convolution and of the two 1x1 convolutions.
        kernel_size: K; the convolution pads by K // 2, keeping H and W.

    Shape:
        (N, in_channels, H, W) -> (N, channels[2], H, W)
    """

    def __init__(self, in_channels: int, channels: tuple[int, int, int], kernel_size: int
                 ) -> None:
        c1, c2, c3 = channels
        super().__init__(
            nn.Conv2d(in_channels, c1, kernel_size, padding=kernel_size // 2), nn.ReLU(),
            nn.Conv2d(c1, c2, kernel_size=1), nn.ReLU(),
            nn.Conv2d(c2, c3, kernel_size=1), nn.ReLU(),
        )


class NIN(nn.Module):
    """Network in Network for CIFAR-10: three mlpconv layers and global average pooling.

    Args:
        num_classes: output classes (channels of the last 1x1 convolution).
        in_channels: input image channels.
        dropout: dropout probability after the first two mlpconv layers.

    Shape:
        (N, C, 32, 32) -> (N, 96, 16, 16) -> (N, 192, 8, 8) -> (N, num_classes, 8, 8)
        -> (N, num_classes). Other sizes work too (global pooling takes any map).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, dropout: float = 0.5
                 ) -> None:
        super().__init__()
        self.features = nn.Sequential(
            MLPConv(in_channels, (192, 160, 96), kernel_size=5),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            nn.Dropout(dropout),
            MLPConv(96, (192, 192, 192), kernel_size=5),
            nn.AvgPool2d(kernel_size=3, stride=2, ceil_mode=True),
            nn.Dropout(dropout),
            MLPConv(192, (192, 192, num_classes), kernel_size=3),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(1)   # global average pooling: one score per map
        self.flatten = nn.Flatten()

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                if m.bias is not None:
                    init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.flatten(self.avgpool(self.features(x)))


def nin(num_classes: int = 10, in_channels: int = 3, dropout: float = 0.5) -> NIN:
    """Network in Network for CIFAR-10, from Lin, Chen and Yan, "Network In Network" (ICLR 2014).

    966,986 parameters at 3x32x32 and 10 classes.
    """
    return NIN(num_classes, in_channels, dropout)


MODELS: dict[str, Callable[..., nn.Module]] = {"nin": nin}
