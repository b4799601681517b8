"""DenseNet (Huang, Liu, van der Maaten and Weinberger, 2017): every layer sees every earlier one.

Inside a dense block, layer l receives the concatenation of the block input and the outputs of
layers 1..l-1, [x_0, x_1, ..., x_{l-1}], and adds k new channels (the growth rate):

    x_l = H_l([x_0, x_1, ..., x_{l-1}]),   channels after l layers: c_0 + l*k

DenseNet-B uses a bottleneck H_l = BN-ReLU-Conv1x1(4k)-BN-ReLU-Conv3x3(k); DenseNet-C compresses
in the transitions between blocks (BN-ReLU-Conv1x1-AvgPool2x2 to floor(theta*m) of m channels);
DenseNet-BC does both, with theta = 0.5.  All of torchvision's DenseNets are BC networks.

The ImageNet models follow torchvision's `densenet.py` exactly (layout, `state_dict` keys such as
`features.denseblock1.denselayer1.norm1.weight`, initialisation).  `densenet_bc_100` is the
paper's CIFAR network (depth 100, k = 12): a 3x3 stem of 2k channels, three dense blocks of
(100 - 4) / 6 = 16 bottleneck layers on 32x32, 16x16 and 8x8 maps.

Axes: N batch, C channels, H/W height/width.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Callable, Sequence

import numcnn
import numcnn.nn as nn
import numcnn.nn.functional as F
from numcnn.models.weights import (
    DenseNet121_Weights,
    DenseNet161_Weights,
    DenseNet169_Weights,
    DenseNet201_Weights,
    check_pretrained_args,
    load_pretrained,
)
from numcnn.nn import init
from numcnn.tensor import Tensor

__all__ = ["DenseNet", "densenet121", "densenet161", "densenet169", "densenet201",
           "densenet_bc_100", "MODELS"]


class _DenseLayer(nn.Module):
    """H_l: BN-ReLU-Conv1x1(bn_size*k)-BN-ReLU-Conv3x3(k), then dropout when drop_rate > 0.

    Shape:
        a list of (N, C_i, H, W) with sum C_i = num_input_features -> (N, growth_rate, H, W)
    """

    def __init__(self, num_input_features: int, growth_rate: int, bn_size: int,
                 drop_rate: float) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1,
                               stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1,
                               padding=1, bias=False)
        self.drop_rate = float(drop_rate)

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        x = numcnn.cat(list(features), 1)                          # [x_0, ..., x_{l-1}]
        bottleneck = self.conv1(self.relu1(self.norm1(x)))         # (N, bn_size*k, H, W)
        new_features = self.conv2(self.relu2(self.norm2(bottleneck)))   # (N, k, H, W)
        if self.drop_rate > 0:
            new_features = F.dropout(new_features, p=self.drop_rate, training=self.training)
        return new_features


class _DenseBlock(nn.ModuleDict):
    """`num_layers` dense layers named denselayer1, denselayer2, ...; the output is the block
    input concatenated with every layer's k new channels.

    Shape:
        (N, C, H, W) -> (N, C + num_layers*growth_rate, H, W)
    """

    def __init__(self, num_layers: int, num_input_features: int, bn_size: int, growth_rate: int,
                 drop_rate: float) -> None:
        super().__init__()
        for i in range(num_layers):
            layer = _DenseLayer(num_input_features + i * growth_rate, growth_rate=growth_rate,
                                bn_size=bn_size, drop_rate=drop_rate)
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, init_features: Tensor) -> Tensor:
        features = [init_features]
        for layer in self.values():
            features.append(layer(features))
        return numcnn.cat(features, 1)


class _Transition(nn.Sequential):
    """BN-ReLU-Conv1x1-AvgPool2x2 between dense blocks: compresses the channels, halves H and W.

    Shape:
        (N, num_input_features, H, W) -> (N, num_output_features, floor(H/2), floor(W/2))
    """

    def __init__(self, num_input_features: int, num_output_features: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(num_input_features)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(num_input_features, num_output_features, kernel_size=1, stride=1,
                              bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    """DenseNet-BC, torchvision's layout.

    Args:
        growth_rate: k, the channels each dense layer adds.
        block_config: the number of layers in each dense block.
        num_init_features: channels of the stem convolution.
        bn_size: the bottleneck's width as a multiple of k (4 in the paper).
        drop_rate: dropout after each dense layer.
        num_classes: output classes.
        in_channels: input image channels.
        compression: theta, the fraction of channels a transition keeps (floor(theta*m)).
        small_inputs: the paper's CIFAR stem (one 3x3 stride-1 convolution, no pooling) instead
            of ImageNet's 7x7/2 convolution, BN, ReLU and 3x3/2 max pool.

    Shape:
        (N, in_channels, H, W) -> (N, num_classes). ImageNet: the maps shrink 32x before the
        global pooling (224 -> 7); CIFAR stem: 4x (32 -> 8).
    """

    def __init__(self, growth_rate: int = 32, block_config: Sequence[int] = (6, 12, 24, 16),
                 num_init_features: int = 64, bn_size: int = 4, drop_rate: float = 0.0,
                 num_classes: int = 1000, in_channels: int = 3, compression: float = 0.5,
                 small_inputs: bool = False) -> None:
        super().__init__()
        if not 0 < compression <= 1:
            raise ValueError(f"DenseNet: compression must be in (0, 1], got {compression}")
        if small_inputs:
            stem: OrderedDict[str, nn.Module] = OrderedDict([
                ("conv0", nn.Conv2d(in_channels, num_init_features, kernel_size=3, padding=1,
                                    bias=False)),
            ])
        else:
            stem = OrderedDict([
                ("conv0", nn.Conv2d(in_channels, num_init_features, kernel_size=7, stride=2,
                                    padding=3, bias=False)),
                ("norm0", nn.BatchNorm2d(num_init_features)),
                ("relu0", nn.ReLU(inplace=True)),
                ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
            ])
        self.features = nn.Sequential(stem)

        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            block = _DenseBlock(num_layers=num_layers, num_input_features=num_features,
                                bn_size=bn_size, growth_rate=growth_rate, drop_rate=drop_rate)
            self.features.add_module(f"denseblock{i + 1}", block)
            num_features = num_features + num_layers * growth_rate
            if i != len(block_config) - 1:
                compressed = int(math.floor(compression * num_features))
                self.features.add_module(f"transition{i + 1}",
                                         _Transition(num_features, compressed))
                num_features = compressed

        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Linear(num_features, num_classes)

        # torchvision's initialisation: kaiming_normal_ (fan_in, gain sqrt 2) for the convs, the
        # Linear's default weight with a zero bias; BN keeps its default weight 1, bias 0.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.Linear):
                init.constant_(m.bias, 0)

    def forward(self, x: Tensor) -> Tensor:
        features = self.features(x)                 # (N, C, h, w), after norm5
        out = self.relu(features)
        out = self.avgpool(out)                     # (N, C, 1, 1)
        out = numcnn.flatten(out, 1)
        return self.classifier(out)                 # (N, num_classes)


def _densenet(growth_rate: int, block_config: tuple[int, int, int, int], num_init_features: int,
              num_classes: int, in_channels: int, drop_rate: float) -> DenseNet:
    return DenseNet(growth_rate, block_config, num_init_features, drop_rate=drop_rate,
                    num_classes=num_classes, in_channels=in_channels)


def densenet121(num_classes: int = 1000, in_channels: int = 3, drop_rate: float = 0.0, *,
                weights: DenseNet121_Weights | str | None = None, progress: bool = True
                ) -> DenseNet:
    """DenseNet-121 (k = 32, blocks 6-12-24-16) from Huang, Liu, van der Maaten and Weinberger,
    "Densely Connected Convolutional Networks" (CVPR 2017), Table 1.

    7,978,856 trainable parameters at 1000 classes.
    """
    w = DenseNet121_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _densenet(32, (6, 12, 24, 16), 64, num_classes, in_channels, drop_rate)
    return load_pretrained(model, w, progress)


def densenet161(num_classes: int = 1000, in_channels: int = 3, drop_rate: float = 0.0, *,
                weights: DenseNet161_Weights | str | None = None, progress: bool = True
                ) -> DenseNet:
    """DenseNet-161 (k = 48, blocks 6-12-36-24, 96-channel stem) from Huang et al.,
    "Densely Connected Convolutional Networks" (CVPR 2017), Table 1.

    28,681,000 trainable parameters at 1000 classes.
    """
    w = DenseNet161_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _densenet(48, (6, 12, 36, 24), 96, num_classes, in_channels, drop_rate)
    return load_pretrained(model, w, progress)


def densenet169(num_classes: int = 1000, in_channels: int = 3, drop_rate: float = 0.0, *,
                weights: DenseNet169_Weights | str | None = None, progress: bool = True
                ) -> DenseNet:
    """DenseNet-169 (k = 32, blocks 6-12-32-32) from Huang et al., "Densely Connected
    Convolutional Networks" (CVPR 2017), Table 1.

    14,149,480 trainable parameters at 1000 classes.
    """
    w = DenseNet169_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _densenet(32, (6, 12, 32, 32), 64, num_classes, in_channels, drop_rate)
    return load_pretrained(model, w, progress)


def densenet201(num_classes: int = 1000, in_channels: int = 3, drop_rate: float = 0.0, *,
                weights: DenseNet201_Weights | str | None = None, progress: bool = True
                ) -> DenseNet:
    """DenseNet-201 (k = 32, blocks 6-12-48-32) from Huang et al., "Densely Connected
    Convolutional Networks" (CVPR 2017), Table 1.

    20,013,928 trainable parameters at 1000 classes.
    """
    w = DenseNet201_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _densenet(32, (6, 12, 48, 32), 64, num_classes, in_channels, drop_rate)
    return load_pretrained(model, w, progress)


def densenet_bc_100(num_classes: int = 10, in_channels: int = 3, growth_rate: int = 12,
                    drop_rate: float = 0.0) -> DenseNet:
    """DenseNet-BC for CIFAR, depth 100 and k = 12, from Huang, Liu, van der Maaten and
    Weinberger, "Densely Connected Convolutional Networks" (CVPR 2017), Section 4 and Table 2
    (4.51% error on C10+ with about 0.8M parameters).

    A 3x3 convolution to 2k channels, three dense blocks of (100 - 4) / 6 = 16 bottleneck layers
    (the depth counts 96 layer convolutions, the stem, two transitions and the classifier),
    transitions halving the channels (theta = 0.5), BN-ReLU, global average pooling, Linear.

    769,162 trainable parameters at 10 classes (800,032 at 100).
    """
    return DenseNet(growth_rate, (16, 16, 16), 2 * growth_rate, drop_rate=drop_rate,
                    num_classes=num_classes, in_channels=in_channels, compression=0.5,
                    small_inputs=True)


MODELS: dict[str, Callable[..., nn.Module]] = {
    "densenet121": densenet121,
    "densenet161": densenet161,
    "densenet169": densenet169,
    "densenet201": densenet201,
    "densenet_bc_100": densenet_bc_100,
}
