"""The CIFAR-10 ResNets of He, Zhang, Ren and Sun (2016), Section 4.2, and their plain twins.

The paper's CIFAR networks take 32x32 images through 6n + 2 weighted layers:

    conv3x3(16) - BN - ReLU                                     32x32, 16 channels
    n blocks of two 3x3 convolutions, 16 channels               32x32
    n blocks, 32 channels (the first with stride 2)             16x16
    n blocks, 64 channels (the first with stride 2)              8x8
    global average pooling - Linear(64, 10)

n = 3, 5, 7, 9, 18 give ResNet-20/32/44/56/110 (0.27M/0.46M/0.66M/0.85M/1.7M parameters).
Every shortcut is parameter-free ("option A"): the identity, and where a stage starts, the
input subsampled with stride 2 and padded with zero channels up to the new width, so the
residual networks have exactly the parameters of the plain ones.  The plain networks
(`plain20` ...) are the same stacks without shortcuts: seed 003's degradation experiment, where
the 56-layer plain net trains to a higher error than the 20-layer one and the ResNets do not.

The residual blocks are `numcnn.models.resnet.BasicBlock`s with the option-A shortcut as their
`downsample`, so stochastic depth (`stochastic_depth_p_last`, Huang et al. 2016, who used
ResNet-110 with p_L = 0.5 on CIFAR) works the same way as on the ImageNet ResNets.
The `state_dict` keys follow torchvision's names: conv1, bn1, layer1.0.conv1, ..., fc.

Axes: N batch, C channels, H/W height/width.
"""

from __future__ import annotations

from typing import Callable

import numcnn
import numcnn.nn as nn
import numcnn.nn.functional as F
from numcnn.models.resnet import BasicBlock, conv3x3, survival_probabilities
from numcnn.nn import fastpath, init
from numcnn.tensor import Tensor

__all__ = ["ShortcutA", "PlainBlock", "CifarResNet", "resnet20", "resnet32", "resnet44",
           "resnet56", "resnet110", "plain20", "plain32", "plain44", "plain56", "plain110",
           "MODELS"]


class ShortcutA(nn.Module):
    """The option-A shortcut: subsample with `stride`, append zero channels, no parameters.

        y[:, :C] = x[:, :, ::stride, ::stride],   y[:, C:] = 0

    Shape:
        (N, C, H, W) -> (N, C + extra_channels, ceil(H/stride), ceil(W/stride))
    """

    def __init__(self, extra_channels: int, stride: int = 2) -> None:
        super().__init__()
        if extra_channels < 0 or stride < 1:
            raise ValueError("ShortcutA: need extra_channels >= 0 and stride >= 1, got "
                             f"{extra_channels} and {stride}")
        self.extra_channels = extra_channels
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        s = self.stride
        x = x[:, :, ::s, ::s]                               # (N, C, H/s, W/s)
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))   # zeros after channel C-1

    def extra_repr(self) -> str:
        return f"extra_channels={self.extra_channels}, stride={self.stride}"


class PlainBlock(nn.Module):
    """Two 3x3 convolutions without a shortcut: y = ReLU(BN(conv(ReLU(BN(conv(x)))))).

    Shape:
        (N, inplanes, H, W) -> (N, planes, ceil(H/stride), ceil(W/stride))
    """

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return fastpath.chain(x, self.conv1, self.bn1, self.relu1, self.conv2, self.bn2,
                              self.relu2)


class CifarResNet(nn.Module):
    """He et al.'s CIFAR network: 6n + 2 layers in three stages of 16, 32 and 64 channels.

    Args:
        n: blocks per stage (depth 6n + 2).
        residual: BasicBlocks with option-A shortcuts (True) or PlainBlocks (False).
        num_classes: output classes.
        in_channels: input image channels.
        stochastic_depth_p_last: p_L of stochastic depth for the 3n residual blocks (None:
            off); only for residual networks.

    Shape:
        (N, in_channels, H, W) -> (N, num_classes); the maps shrink 4x (32 -> 8).
    """

    def __init__(self, n: int, residual: bool = True, num_classes: int = 10,
                 in_channels: int = 3, stochastic_depth_p_last: float | None = None) -> None:
        super().__init__()
        if n < 1:
            raise ValueError(f"CifarResNet: n (blocks per stage) must be >= 1, got {n}")
        if stochastic_depth_p_last is not None and not residual:
            raise ValueError("CifarResNet: stochastic depth needs residual blocks "
                             "(a plain network has no shortcut to fall back on)")
        survival = (survival_probabilities(3 * n, stochastic_depth_p_last)
                    if stochastic_depth_p_last is not None else [1.0] * (3 * n))
        self.conv1 = conv3x3(in_channels, 16)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        inplanes = 16
        stages = []
        for i, planes in enumerate((16, 32, 64)):
            blocks: list[nn.Module] = []
            for j in range(n):
                stride = 2 if i > 0 and j == 0 else 1
                if not residual:
                    blocks.append(PlainBlock(inplanes, planes, stride))
                else:
                    shortcut = (ShortcutA(planes - inplanes, stride)
                                if stride != 1 or inplanes != planes else None)
                    blocks.append(BasicBlock(inplanes, planes, stride, shortcut,
                                             survival_prob=survival[i * n + j]))
                inplanes = planes
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, num_classes)

        # He et al. initialise as in their PReLU paper: kaiming_normal_ (fan_out, as
        # torchvision's ResNets); BN keeps its default weight 1 and bias 0, the Linear its
        # default U(+-1/sqrt(fan_in)).
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        x = fastpath.chain(x, self.conv1, self.bn1, self.relu)     # (N, 16, H, W)
        x = self.layer1(x)                          # (N, 16, H, W)
        x = self.layer2(x)                          # (N, 32, H/2, W/2)
        x = self.layer3(x)                          # (N, 64, H/4, W/4)
        x = numcnn.flatten(self.avgpool(x), 1)      # (N, 64)
        return self.fc(x)                           # (N, num_classes)


def resnet20(num_classes: int = 10, in_channels: int = 3,
             stochastic_depth_p_last: float | None = None) -> CifarResNet:
    """ResNet-20 for CIFAR-10 (n = 3, option-A shortcuts) from He, Zhang, Ren and Sun, "Deep
    Residual Learning for Image Recognition" (CVPR 2016), Section 4.2, Table 6.

    269,722 trainable parameters at 10 classes (the paper's 0.27M).
    """
    return CifarResNet(3, True, num_classes, in_channels, stochastic_depth_p_last)


def resnet32(num_classes: int = 10, in_channels: int = 3,
             stochastic_depth_p_last: float | None = None) -> CifarResNet:
    """ResNet-32 for CIFAR-10 (n = 5, option-A shortcuts) from He, Zhang, Ren and Sun, "Deep
    Residual Learning for Image Recognition" (CVPR 2016), Section 4.2, Table 6.

    464,154 trainable parameters at 10 classes (the paper's 0.46M).
    """
    return CifarResNet(5, True, num_classes, in_channels, stochastic_depth_p_last)


def resnet44(num_classes: int = 10, in_channels: int = 3,
             stochastic_depth_p_last: float | None = None) -> CifarResNet:
    """ResNet-44 for CIFAR-10 (n = 7, option-A shortcuts) from He, Zhang, Ren and Sun, "Deep
    Residual Learning for Image Recognition" (CVPR 2016), Section 4.2, Table 6.

    658,586 trainable parameters at 10 classes (the paper's 0.66M).
    """
    return CifarResNet(7, True, num_classes, in_channels, stochastic_depth_p_last)


def resnet56(num_classes: int = 10, in_channels: int = 3,
             stochastic_depth_p_last: float | None = None) -> CifarResNet:
    """ResNet-56 for CIFAR-10 (n = 9, option-A shortcuts) from He, Zhang, Ren and Sun, "Deep
    Residual Learning for Image Recognition" (CVPR 2016), Section 4.2, Table 6.

    853,018 trainable parameters at 10 classes (the paper's 0.85M).
    """
    return CifarResNet(9, True, num_classes, in_channels, stochastic_depth_p_last)


def resnet110(num_classes: int = 10, in_channels: int = 3,
              stochastic_depth_p_last: float | None = None) -> CifarResNet:
    """ResNet-110 for CIFAR-10 (n = 18, option-A shortcuts) from He, Zhang, Ren and Sun, "Deep
    Residual Learning for Image Recognition" (CVPR 2016), Section 4.2, Table 6; Huang et al.'s
    stochastic-depth network with stochastic_depth_p_last=0.5.

    1,727,962 trainable parameters at 10 classes (the paper's 1.7M).
    """
    return CifarResNet(18, True, num_classes, in_channels, stochastic_depth_p_last)


def plain20(num_classes: int = 10, in_channels: int = 3) -> CifarResNet:
    """The 20-layer plain CIFAR network (ResNet-20 without shortcuts) from He, Zhang, Ren and
    Sun, "Deep Residual Learning for Image Recognition" (CVPR 2016), Section 4.2, Figure 6.

    269,722 trainable parameters at 10 classes (as ResNet-20: option A adds none).
    """
    return CifarResNet(3, False, num_classes, in_channels)


def plain32(num_classes: int = 10, in_channels: int = 3) -> CifarResNet:
    """The 32-layer plain CIFAR network from He, Zhang, Ren and Sun, "Deep Residual Learning for
    Image Recognition" (CVPR 2016), Section 4.2, Figure 6.

    464,154 trainable parameters at 10 classes.
    """
    return CifarResNet(5, False, num_classes, in_channels)


def plain44(num_classes: int = 10, in_channels: int = 3) -> CifarResNet:
    """The 44-layer plain CIFAR network from He, Zhang, Ren and Sun, "Deep Residual Learning for
    Image Recognition" (CVPR 2016), Section 4.2, Figure 6.

    658,586 trainable parameters at 10 classes.
    """
    return CifarResNet(7, False, num_classes, in_channels)


def plain56(num_classes: int = 10, in_channels: int = 3) -> CifarResNet:
    """The 56-layer plain CIFAR network (seed 003's degradation example: higher training error
    than plain-20) from He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition"
    (CVPR 2016), Section 4.2, Figure 6.

    853,018 trainable parameters at 10 classes.
    """
    return CifarResNet(9, False, num_classes, in_channels)


def plain110(num_classes: int = 10, in_channels: int = 3) -> CifarResNet:
    """The 110-layer plain CIFAR network from He, Zhang, Ren and Sun, "Deep Residual Learning
    for Image Recognition" (CVPR 2016), Section 4.2.

    1,727,962 trainable parameters at 10 classes.
    """
    return CifarResNet(18, False, num_classes, in_channels)


MODELS: dict[str, Callable[..., nn.Module]] = {
    "resnet20": resnet20,
    "resnet32": resnet32,
    "resnet44": resnet44,
    "resnet56": resnet56,
    "resnet110": resnet110,
    "plain20": plain20,
    "plain32": plain32,
    "plain44": plain44,
    "plain56": plain56,
    "plain110": plain110,
}
