"""ShuffleNets: grouped 1x1 convolutions made to talk to each other by a channel shuffle.

- ShuffleNet v1 (Zhang et al. 2018): the ResNet bottleneck with its 1x1 convolutions grouped
  (g groups) and a channel shuffle between them, so that each group of the second grouped conv
  sees channels from every group of the first; a 3x3 depthwise conv in the middle; stride-2 units
  concatenate a 3x3 average-pooled shortcut instead of adding it.
- ShuffleNet v2 (Ma et al. 2018): from the paper's four guidelines (equal widths, few groups,
  little fragmentation, few element-wise ops): split the channels in two, leave one half alone,
  run the other through 1x1 -> 3x3 depthwise -> 1x1 (no groups), concatenate, shuffle.

v2 has exactly torchvision's module names, `state_dict` keys and initialisation (torchvision's
ShuffleNetV2 has no init loop: the layers' defaults, which numcnn's layers share); torchvision
has no v1, whose layout here follows v2's (`conv1`, `maxpool`, `stage2`-`stage4`, `fc`).

Axes: N batch, C channels, H/W height/width, G (or g) groups.
"""

from __future__ import annotations

from typing import Any, Callable

import numcnn
from numcnn import Tensor, nn
from numcnn.models.mobilenet import _init_weights, _make_divisible
from numcnn.models.weights import (
    ShuffleNet_V2_X0_5_Weights,
    ShuffleNet_V2_X1_0_Weights,
    ShuffleNet_V2_X1_5_Weights,
    ShuffleNet_V2_X2_0_Weights,
    check_pretrained_args,
    load_pretrained,
)
from numcnn.nn.module import Module

__all__ = [
    "ShuffleUnit", "ShuffleNetV1", "InvertedResidual", "ShuffleNetV2", "shufflenet_v1",
    "shufflenet_v1_g1", "shufflenet_v1_g2", "shufflenet_v1_g3", "shufflenet_v1_g4",
    "shufflenet_v1_g8", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5",
    "shufflenet_v2_x2_0", "MODELS",
]


# ---------------------------------------------------------------------------------------------
# ShuffleNet v1
# ---------------------------------------------------------------------------------------------

class ShuffleUnit(nn.Module):
    """The ShuffleNet unit (Fig. 2 (b) and (c) of the paper).

        1x1 GConv (g groups) -> BN -> ReLU -> channel shuffle (g)
        -> 3x3 DWConv (stride) -> BN -> 1x1 GConv (g groups) -> BN
        stride 1: add the input;  stride 2: concatenate a 3x3 stride-2 average pool of the input
        -> ReLU

    The bottleneck has out_channels / 4 channels. With stride 2 the residual branch makes only
    out_channels - in_channels channels, the pooled shortcut the rest.

    Args:
        in_channels: input channels.
        out_channels: output channels of the unit.
        groups: g, the groups of the 1x1 convolutions and of the shuffle.
        stride: 1 (identity shortcut) or 2 (average-pooled, concatenated shortcut).
        group_first_conv: False for the first unit of stage 2, whose input (the 24 channels of
            conv1) is too narrow to group.

    Shape:
        input (N, in_channels, H, W) -> output (N, out_channels, ceil(H / stride),
        ceil(W / stride)).
    """

    def __init__(self, in_channels: int, out_channels: int, groups: int, stride: int,
                 group_first_conv: bool = True) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride should be 1 or 2, got {stride}")
        if stride == 1 and in_channels != out_channels:
            raise ValueError(f"a stride-1 unit adds its input, so in_channels ({in_channels}) "
                             f"must equal out_channels ({out_channels})")
        branch_channels = out_channels - in_channels if stride == 2 else out_channels
        mid_channels = out_channels // 4
        first_groups = groups if group_first_conv else 1
        for what, n, g in (("in_channels", in_channels, first_groups),
                           ("the bottleneck width out_channels // 4", mid_channels, groups),
                           ("the residual branch's width", branch_channels, groups)):
            if n <= 0 or n % g:
                raise ValueError(f"{what} ({n}) must be a positive multiple of groups ({g})")
        self.stride = stride
        self.gconv1 = nn.Conv2d(in_channels, mid_channels, 1, groups=first_groups, bias=False)
        self.bn1 = nn.BatchNorm2d(mid_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.shuffle = nn.ChannelShuffle(groups)
        self.dwconv = nn.Conv2d(mid_channels, mid_channels, 3, stride, 1, groups=mid_channels,
                                bias=False)
        self.bn2 = nn.BatchNorm2d(mid_channels)
        self.gconv2 = nn.Conv2d(mid_channels, branch_channels, 1, groups=groups, bias=False)
        self.bn3 = nn.BatchNorm2d(branch_channels)
        self.shortcut: Module = (nn.AvgPool2d(3, stride=2, padding=1) if stride == 2
                                 else nn.Identity())
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu1(self.bn1(self.gconv1(x)))        # (N, C/4, H, W)
        out = self.shuffle(out)
        out = self.bn2(self.dwconv(out))                  # (N, C/4, H/s, W/s), no ReLU
        out = self.bn3(self.gconv2(out))                  # (N, C_branch, H/s, W/s)
        identity = self.shortcut(x)
        if self.stride == 2:
            out = numcnn.cat([identity, out], 1)          # (N, C_in + C_branch, H/2, W/2)
        else:
            out = out + identity
        return self.relu(out)


class ShuffleNetV1(nn.Module):
    """ShuffleNet v1 (Zhang et al. 2018, Table 1): conv1 3x3/2 (24 channels), max pool 3x3/2,
    stages 2-4 of 4, 8, 4 ShuffleUnits (the first of each with stride 2), global average
    pooling, a fully connected layer.

    Output channels of stages 2-4 at 1x, Table 1 of the paper:

        g = 1: 144, 288, 576     g = 2: 200, 400, 800     g = 3: 240, 480, 960
        g = 4: 272, 544, 1088    g = 8: 384, 768, 1536

    Keys: `conv1.0` / `conv1.1` the first conv and its BN, `stage2.0.gconv1` ... `stage4.3.bn3`,
    `fc`.

    Args:
        groups: g, one of 1, 2, 3, 4, 8.
        width_mult: the paper's scale factor s ("ShuffleNet s x"): stage widths s times the
            table's (rounded to multiples of 4g), conv1's 24 s (rounded to a multiple of g).
        num_classes: outputs of the classifier.
        in_channels: input image channels.

    Shape:
        input (N, in_channels, H, W) -> output (N, num_classes); H/32 feature maps before pooling.
    """

    stage_out_channels: dict[int, tuple[int, int, int]] = {
        1: (144, 288, 576),
        2: (200, 400, 800),
        3: (240, 480, 960),
        4: (272, 544, 1088),
        8: (384, 768, 1536),
    }
    stage_repeats: tuple[int, int, int] = (4, 8, 4)

    def __init__(self, groups: int = 3, width_mult: float = 1.0, num_classes: int = 1000,
                 in_channels: int = 3) -> None:
        super().__init__()
        if groups not in self.stage_out_channels:
            raise ValueError(f"groups must be one of {sorted(self.stage_out_channels)}, "
                             f"got {groups}")
        if width_mult <= 0:
            raise ValueError(f"width_mult must be positive, got {width_mult}")
        stem_channels = _make_divisible(24 * width_mult, groups)
        widths = [_make_divisible(c * width_mult, 4 * groups)
                  for c in self.stage_out_channels[groups]]
        self.conv1 = nn.Sequential(
            nn.Conv2d(in_channels, stem_channels, 3, 2, 1, bias=False),
            nn.BatchNorm2d(stem_channels),
            nn.ReLU(inplace=True),
        )
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        input_channels = stem_channels
        stages = []
        for i, (repeats, output_channels) in enumerate(zip(self.stage_repeats, widths)):
            units = [ShuffleUnit(input_channels, output_channels, groups, 2,
                                 group_first_conv=i > 0)]
            units += [ShuffleUnit(output_channels, output_channels, groups, 1)
                      for _ in range(repeats - 1)]
            stages.append(nn.Sequential(*units))
            input_channels = output_channels
        self.stage2, self.stage3, self.stage4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(input_channels, num_classes)
        # The paper does not give an initialisation; this is torchvision's for MobileNet:
        # kaiming_normal_ fan_out convs, BN 1/0, Linear N(0, 0.01).
        _init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)                                 # (N, 24, H/2, W/2)
        x = self.maxpool(x)                               # (N, 24, H/4, W/4)
        x = self.stage2(x)                                # (N, C2, H/8, W/8)
        x = self.stage3(x)                                # (N, C3, H/16, W/16)
        x = self.stage4(x)                                # (N, C4, H/32, W/32)
        x = numcnn.flatten(self.avgpool(x), 1)            # (N, C4)
        return self.fc(x)


def shufflenet_v1(groups: int = 3, width_mult: float = 1.0, num_classes: int = 1000,
                  in_channels: int = 3) -> ShuffleNetV1:
    """ShuffleNet v1 from Zhang, Zhou, Lin and Sun, "ShuffleNet: An Extremely Efficient
    Convolutional Neural Network for Mobile Devices" (CVPR 2018), any groups and scale.

    At 1x and 1000 classes: 1,865,728 trainable parameters for g = 3 (the default); see the
    per-g factories for the others.
    """
    return ShuffleNetV1(groups=groups, width_mult=width_mult, num_classes=num_classes,
                        in_channels=in_channels)


def shufflenet_v1_g1(num_classes: int = 1000, in_channels: int = 3,
                     width_mult: float = 1.0) -> ShuffleNetV1:
    """ShuffleNet 1x (g = 1) from Zhang et al., "ShuffleNet: An Extremely Efficient
    Convolutional Neural Network for Mobile Devices" (2018): 1,531,936 trainable parameters at
    1000 classes (143 MFLOPs at 224x224 in the paper's Table 1)."""
    return shufflenet_v1(1, width_mult, num_classes, in_channels)


def shufflenet_v1_g2(num_classes: int = 1000, in_channels: int = 3,
                     width_mult: float = 1.0) -> ShuffleNetV1:
    """ShuffleNet 1x (g = 2) from Zhang et al., "ShuffleNet: An Extremely Efficient
    Convolutional Neural Network for Mobile Devices" (2018): 1,733,848 trainable parameters at
    1000 classes (140 MFLOPs)."""
    return shufflenet_v1(2, width_mult, num_classes, in_channels)


def shufflenet_v1_g3(num_classes: int = 1000, in_channels: int = 3,
                     width_mult: float = 1.0) -> ShuffleNetV1:
    """ShuffleNet 1x (g = 3) from Zhang et al., "ShuffleNet: An Extremely Efficient
    Convolutional Neural Network for Mobile Devices" (2018): 1,865,728 trainable parameters at
    1000 classes (137 MFLOPs)."""
    return shufflenet_v1(3, width_mult, num_classes, in_channels)


def shufflenet_v1_g4(num_classes: int = 1000, in_channels: int = 3,
                     width_mult: float = 1.0) -> ShuffleNetV1:
    """ShuffleNet 1x (g = 4) from Zhang et al., "ShuffleNet: An Extremely Efficient
    Convolutional Neural Network for Mobile Devices" (2018): 1,968,344 trainable parameters at
    1000 classes (133 MFLOPs)."""
    return shufflenet_v1(4, width_mult, num_classes, in_channels)


def shufflenet_v1_g8(num_classes: int = 1000, in_channels: int = 3,
                     width_mult: float = 1.0) -> ShuffleNetV1:
    """ShuffleNet 1x (g = 8) from Zhang et al., "ShuffleNet: An Extremely Efficient
    Convolutional Neural Network for Mobile Devices" (2018): 2,434,768 trainable parameters at
    1000 classes (137 MFLOPs)."""
    return shufflenet_v1(8, width_mult, num_classes, in_channels)


# ---------------------------------------------------------------------------------------------
# ShuffleNet v2
# ---------------------------------------------------------------------------------------------

class InvertedResidual(nn.Module):
    """The ShuffleNet v2 unit (Fig. 3 (c) and (d) of Ma et al.), torchvision's layout.

    stride 1: split the channels in halves x1, x2; out = concat(x1, branch2(x2)).
    stride 2: no split; out = concat(branch1(x), branch2(x)), halving H and W.
    Then a channel shuffle with 2 groups.

        branch1: 3x3 DWConv/2 -> BN -> 1x1 Conv -> BN -> ReLU          (stride 2 only)
        branch2: 1x1 Conv -> BN -> ReLU -> 3x3 DWConv -> BN -> 1x1 Conv -> BN -> ReLU

    Args:
        inp: input channels.
        oup: output channels (each branch makes oup / 2).
        stride: 1 or 2.

    Shape:
        input (N, inp, H, W) -> output (N, oup, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(self, inp: int, oup: int, stride: int) -> None:
        super().__init__()
        if not 1 <= stride <= 3:
            raise ValueError(f"illegal stride value {stride}")
        self.stride = stride
        branch_features = oup // 2
        if stride == 1 and inp != branch_features << 1:
            raise ValueError(f"Invalid combination of stride {stride}, inp {inp} and oup {oup} "
                             "values. If stride == 1 then inp should be equal to oup // 2 << 1.")
        if stride > 1:
            self.branch1 = nn.Sequential(
                self.depthwise_conv(inp, inp, kernel_size=3, stride=stride, padding=1),
                nn.BatchNorm2d(inp),
                nn.Conv2d(inp, branch_features, kernel_size=1, stride=1, padding=0, bias=False),
                nn.BatchNorm2d(branch_features),
                nn.ReLU(inplace=True),
            )
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(inp if stride > 1 else branch_features, branch_features, kernel_size=1,
                      stride=1, padding=0, bias=False),
            nn.BatchNorm2d(branch_features),
            nn.ReLU(inplace=True),
            self.depthwise_conv(branch_features, branch_features, kernel_size=3, stride=stride,
                                padding=1),
            nn.BatchNorm2d(branch_features),
            nn.Conv2d(branch_features, branch_features, kernel_size=1, stride=1, padding=0,
                      bias=False),
            nn.BatchNorm2d(branch_features),
            nn.ReLU(inplace=True),
        )
        self.shuffle = nn.ChannelShuffle(2)

    @staticmethod
    def depthwise_conv(i: int, o: int, kernel_size: int, stride: int = 1, padding: int = 0,
                       bias: bool = False) -> nn.Conv2d:
        """A k x k convolution with one group per input channel."""
        return nn.Conv2d(i, o, kernel_size, stride, padding, bias=bias, groups=i)

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)                    # (N, C/2, H, W) each
            out = numcnn.cat([x1, self.branch2(x2)], 1)
        else:
            out = numcnn.cat([self.branch1(x), self.branch2(x)], 1)
        return self.shuffle(out)


class ShuffleNetV2(nn.Module):
    """ShuffleNet v2 (Ma et al. 2018, Table 5), torchvision's layout: `conv1` (3x3/2 conv, BN,
    ReLU), max pool 3x3/2, `stage2`-`stage4` of 4, 8, 4 units (the first with stride 2),
    `conv5` (1x1 conv, BN, ReLU), global average pooling, `fc`.

    Args:
        stages_repeats: units per stage (3 values).
        stages_out_channels: conv1, stage2-4 and conv5 widths (5 values).
        num_classes: outputs of the classifier.
        in_channels: input image channels.

    Shape:
        input (N, in_channels, H, W) -> output (N, num_classes).
    """

    def __init__(self, stages_repeats: list[int], stages_out_channels: list[int],
                 num_classes: int = 1000, in_channels: int = 3) -> None:
        super().__init__()
        if len(stages_repeats) != 3:
            raise ValueError("expected stages_repeats as list of 3 positive ints")
        if len(stages_out_channels) != 5:
            raise ValueError("expected stages_out_channels as list of 5 positive ints")
        self._stage_out_channels = stages_out_channels
        output_channels = stages_out_channels[0]
        self.conv1 = nn.Sequential(
            nn.Conv2d(in_channels, output_channels, 3, 2, 1, bias=False),
            nn.BatchNorm2d(output_channels),
            nn.ReLU(inplace=True),
        )
        input_channels = output_channels
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        stages = []
        for repeats, output_channels in zip(stages_repeats, stages_out_channels[1:4]):
            units = [InvertedResidual(input_channels, output_channels, 2)]
            units += [InvertedResidual(output_channels, output_channels, 1)
                      for _ in range(repeats - 1)]
            stages.append(nn.Sequential(*units))
            input_channels = output_channels
        self.stage2, self.stage3, self.stage4 = stages
        output_channels = stages_out_channels[-1]
        self.conv5 = nn.Sequential(
            nn.Conv2d(input_channels, output_channels, 1, 1, 0, bias=False),
            nn.BatchNorm2d(output_channels),
            nn.ReLU(inplace=True),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(1)       # torchvision: x.mean([2, 3]); no state
        self.fc = nn.Linear(output_channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        x = self.maxpool(x)
        x = self.stage2(x)
        x = self.stage3(x)
        x = self.stage4(x)
        x = self.conv5(x)
        x = numcnn.flatten(self.avgpool(x), 1)
        return self.fc(x)


def _shufflenet_v2(stages_out_channels: list[int], num_classes: int, in_channels: int,
                   **kwargs: Any) -> ShuffleNetV2:
    return ShuffleNetV2([4, 8, 4], stages_out_channels, num_classes=num_classes,
                        in_channels=in_channels, **kwargs)


def shufflenet_v2_x0_5(num_classes: int = 1000, in_channels: int = 3, *,
                       weights: ShuffleNet_V2_X0_5_Weights | str | None = None,
                       progress: bool = True) -> ShuffleNetV2:
    """ShuffleNet v2 0.5x from Ma, Zhang, Zheng and Sun, "ShuffleNet V2: Practical Guidelines
    for Efficient CNN Architecture Design" (ECCV 2018); torchvision's layout.

    1,366,792 trainable parameters at 1000 classes.
    """
    w = ShuffleNet_V2_X0_5_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _shufflenet_v2([24, 48, 96, 192, 1024], num_classes, in_channels)
    return load_pretrained(model, w, progress)


def shufflenet_v2_x1_0(num_classes: int = 1000, in_channels: int = 3, *,
                       weights: ShuffleNet_V2_X1_0_Weights | str | None = None,
                       progress: bool = True) -> ShuffleNetV2:
    """ShuffleNet v2 1x from Ma et al., "ShuffleNet V2: Practical Guidelines for Efficient CNN
    Architecture Design" (2018); torchvision's layout.

    2,278,604 trainable parameters at 1000 classes.
    """
    w = ShuffleNet_V2_X1_0_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _shufflenet_v2([24, 116, 232, 464, 1024], num_classes, in_channels)
    return load_pretrained(model, w, progress)


def shufflenet_v2_x1_5(num_classes: int = 1000, in_channels: int = 3, *,
                       weights: ShuffleNet_V2_X1_5_Weights | str | None = None,
                       progress: bool = True) -> ShuffleNetV2:
    """ShuffleNet v2 1.5x from Ma et al., "ShuffleNet V2: Practical Guidelines for Efficient CNN
    Architecture Design" (2018); torchvision's layout.

    3,503,624 trainable parameters at 1000 classes.
    """
    w = ShuffleNet_V2_X1_5_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _shufflenet_v2([24, 176, 352, 704, 1024], num_classes, in_channels)
    return load_pretrained(model, w, progress)


def shufflenet_v2_x2_0(num_classes: int = 1000, in_channels: int = 3, *,
                       weights: ShuffleNet_V2_X2_0_Weights | str | None = None,
                       progress: bool = True) -> ShuffleNetV2:
    """ShuffleNet v2 2x from Ma et al., "ShuffleNet V2: Practical Guidelines for Efficient CNN
    Architecture Design" (2018); torchvision's layout.

    7,393,996 trainable parameters at 1000 classes.
    """
    w = ShuffleNet_V2_X2_0_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _shufflenet_v2([24, 244, 488, 976, 2048], num_classes, in_channels)
    return load_pretrained(model, w, progress)


MODELS: dict[str, Callable[..., Module]] = {
    "shufflenet_v1": shufflenet_v1,
    "shufflenet_v1_g1": shufflenet_v1_g1,
    "shufflenet_v1_g2": shufflenet_v1_g2,
    "shufflenet_v1_g3": shufflenet_v1_g3,
    "shufflenet_v1_g4": shufflenet_v1_g4,
    "shufflenet_v1_g8": shufflenet_v1_g8,
    "shufflenet_v2_x0_5": shufflenet_v2_x0_5,
    "shufflenet_v2_x1_0": shufflenet_v2_x1_0,
    "shufflenet_v2_x1_5": shufflenet_v2_x1_5,
    "shufflenet_v2_x2_0": shufflenet_v2_x2_0,
}
