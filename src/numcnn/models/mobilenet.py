"""MobileNets: depthwise-separable convolutions for small, fast networks.

- MobileNet v1 (Howard et al. 2017): a plain stack of depthwise-separable convolutions, a 3x3
  depthwise conv (one filter per channel) followed by a 1x1 pointwise conv that mixes channels,
  each with batch norm and ReLU; the width multiplier alpha thins every layer.
- MobileNet v2 (Sandler et al. 2018): the inverted residual with a linear bottleneck, 1x1 expand
  (t times) -> 3x3 depthwise -> 1x1 linear projection, with a shortcut between the narrow ends.
- MobileNet v3 (Howard et al. 2019): v2's blocks found by architecture search, with
  squeeze-and-excitation (hard-sigmoid gate) and the hard-swish activation.

v2 and v3 have exactly torchvision's module names, `state_dict` keys and default initialisation
(Conv2d kaiming_normal_ fan_out, BatchNorm weight 1 bias 0, Linear N(0, 0.01) bias 0), so a
torchvision `state_dict` loads with `strict=True`. torchvision has no v1; its layout here follows
the same conventions (`features`, `classifier`).

Axes: N batch, C channels, H/W height/width; t expansion factor, c output channels, n repeats,
s stride (the columns of the papers' tables).
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

import numcnn
from numcnn import Tensor, nn
from numcnn.models.weights import (
    MobileNet_V2_Weights,
    MobileNet_V3_Large_Weights,
    MobileNet_V3_Small_Weights,
    check_pretrained_args,
    load_pretrained,
)
from numcnn.nn import init
from numcnn.nn.module import Module

__all__ = [
    "Conv2dNormActivation", "DepthwiseSeparableConv", "MobileNetV1", "InvertedResidual",
    "MobileNetV2", "SqueezeExcitation", "InvertedResidualConfig", "InvertedResidualV3",
    "MobileNetV3", "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
    "MODELS",
]


def _make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """Round a channel count `v` to the nearest multiple of `divisor` (at least `min_value`,
    default `divisor`), never going more than 10% below `v` (torchvision's rule, from the
    TensorFlow MobileNet code)."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def _init_weights(model: Module) -> None:
    """torchvision's MobileNet initialisation: Conv2d kaiming_normal_(mode="fan_out") with zero
    bias, BatchNorm weight 1 bias 0, Linear N(0, 0.01) with zero bias."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.weight is not None and m.bias is not None:
            init.ones_(m.weight)
            init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            init.normal_(m.weight, 0.0, 0.01)
            if m.bias is not None:
                init.zeros_(m.bias)


class Conv2dNormActivation(nn.Sequential):
    """Conv2d (no bias) -> norm -> activation, as torchvision.ops.Conv2dNormActivation: keys
    `0.weight`, `1.weight`, `1.bias`, `1.running_mean`, ...; "same" padding
    (kernel_size - 1) // 2 * dilation.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: square kernel size.
        stride: convolution stride.
        groups: convolution groups (`groups = in_channels` makes it depthwise).
        norm_layer: builds the normalisation from the channel count.
        activation_layer: builds the activation; None for a linear (no activation) layer.
        dilation: convolution dilation.

    Shape:
        input (N, C_in, H, W) -> output (N, C_out, H_out, W_out),
        H_out = floor((H - 1) / stride) + 1 for odd kernel sizes.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, groups: int = 1,
                 norm_layer: Callable[[int], Module] = nn.BatchNorm2d,
                 activation_layer: Callable[[], Module] | None = nn.ReLU,
                 dilation: int = 1) -> None:
        padding = (kernel_size - 1) // 2 * dilation
        layers: list[Module] = [
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding,
                      dilation=dilation, groups=groups, bias=False),
            norm_layer(out_channels),
        ]
        if activation_layer is not None:
            layers.append(activation_layer())
        super().__init__(*layers)
        self.out_channels = out_channels


# ---------------------------------------------------------------------------------------------
# MobileNet v1
# ---------------------------------------------------------------------------------------------

class DepthwiseSeparableConv(nn.Module):
    """MobileNet v1's block (Fig. 3, right): a 3x3 depthwise conv-BN-ReLU filters each channel
    on its own, a 1x1 pointwise conv-BN-ReLU combines them.

    Cost: 9 M H W + M N H W multiply-adds against the standard conv's 9 M N H W,
    a ratio 1/N + 1/9 (the paper's eq. 5).

    Args:
        in_channels: M, the input (and depthwise) channels.
        out_channels: N, the pointwise conv's output channels.
        stride: the depthwise conv's stride.

    Shape:
        input (N, M, H, W) -> output (N, out_channels, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.depthwise = Conv2dNormActivation(in_channels, in_channels, 3, stride,
                                              groups=in_channels)
        self.pointwise = Conv2dNormActivation(in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))


class MobileNetV1(nn.Module):
    """MobileNet v1 (Howard et al. 2017, Table 1): a 3x3 stride-2 standard conv, 13
    depthwise-separable convolutions, global average pooling and a fully connected layer.

    Keys: `features.0` the first conv (Conv2dNormActivation), `features.1` to `features.13` the
    DepthwiseSeparableConv blocks (`.depthwise.0` / `.pointwise.0` the convs), `classifier.1` the
    Linear.

    Args:
        num_classes: outputs of the classifier.
        width_mult: the width multiplier alpha; every layer's channel count is alpha times the
            table's, rounded to a multiple of 8 (exact for alpha in 0.25, 0.5, 0.75, 1).
        in_channels: input image channels.
        dropout: dropout before the classifier (the paper uses none).

    Shape:
        input (N, in_channels, H, W) -> output (N, num_classes); H/32 feature maps before pooling.
    """

    # (pointwise output channels, depthwise stride) of the 13 blocks, the paper's Table 1.
    # (The table prints stride 2 for the last depthwise conv, but its output stays 7x7: stride 1.)
    cfg: list[tuple[int, int]] = [
        (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
        (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
        (1024, 2), (1024, 1),
    ]

    def __init__(self, num_classes: int = 1000, width_mult: float = 1.0, in_channels: int = 3,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if width_mult <= 0:
            raise ValueError(f"width_mult must be positive, got {width_mult}")
        input_channel = _make_divisible(32 * width_mult, 8)
        features: list[Module] = [Conv2dNormActivation(in_channels, input_channel, stride=2)]
        for c, s in self.cfg:
            output_channel = _make_divisible(c * width_mult, 8)
            features.append(DepthwiseSeparableConv(input_channel, output_channel, s))
            input_channel = output_channel
        self.features = nn.Sequential(*features)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(input_channel, num_classes),
        )
        _init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = numcnn.flatten(x, 1)
        return self.classifier(x)


# ---------------------------------------------------------------------------------------------
# MobileNet v2
# ---------------------------------------------------------------------------------------------

class InvertedResidual(nn.Module):
    """MobileNet v2's bottleneck (Table 1 of the paper): 1x1 expand to t*C channels (ReLU6),
    3x3 depthwise (ReLU6), 1x1 linear projection (no activation: the "linear bottleneck"),
    plus the input when stride is 1 and the channel counts match.

    Keys (torchvision): `conv.0` the expansion (absent when t = 1), then the depthwise
    Conv2dNormActivation, the projection conv and its BatchNorm.

    Args:
        inp: input channels.
        oup: output channels.
        stride: the depthwise conv's stride (1 or 2).
        expand_ratio: t, the expansion factor.

    Shape:
        input (N, inp, H, W) -> output (N, oup, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride should be 1 or 2 instead of {stride}")
        self.stride = stride
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[Module] = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden_dim, kernel_size=1,
                                               activation_layer=nn.ReLU6))
        layers.extend([
            Conv2dNormActivation(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim,
                                 activation_layer=nn.ReLU6),
            nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
            nn.BatchNorm2d(oup),
        ])
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup

    def forward(self, x: Tensor) -> Tensor:
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNet v2 (Sandler et al. 2018, Table 2), torchvision's layout: `features` (a 3x3
    stride-2 conv, 17 inverted residuals, a 1x1 conv to 1280 channels), average pooling,
    `classifier` (Dropout, Linear).

    Args:
        num_classes: outputs of the classifier.
        width_mult: multiplies every channel count (rounded to multiples of `round_nearest`;
            the last conv never narrows below 1280).
        inverted_residual_setting: rows [t, c, n, s]; default the paper's Table 2.
        round_nearest: channel counts are multiples of this.
        dropout: dropout probability before the Linear.
        in_channels: input image channels.

    Shape:
        input (N, in_channels, H, W) -> output (N, num_classes).
    """

    def __init__(self, num_classes: int = 1000, width_mult: float = 1.0,
                 inverted_residual_setting: list[list[int]] | None = None,
                 round_nearest: int = 8, dropout: float = 0.2, in_channels: int = 3) -> None:
        super().__init__()
        input_channel = 32
        last_channel = 1280
        if inverted_residual_setting is None:
            inverted_residual_setting = [
                # t, c, n, s
                [1, 16, 1, 1],
                [6, 24, 2, 2],
                [6, 32, 3, 2],
                [6, 64, 4, 2],
                [6, 96, 3, 1],
                [6, 160, 3, 2],
                [6, 320, 1, 1],
            ]
        if len(inverted_residual_setting) == 0 or any(
                len(row) != 4 for row in inverted_residual_setting):
            raise ValueError("inverted_residual_setting should be a non-empty list of "
                             f"[t, c, n, s] rows, got {inverted_residual_setting}")
        input_channel = _make_divisible(input_channel * width_mult, round_nearest)
        self.last_channel = _make_divisible(last_channel * max(1.0, width_mult), round_nearest)
        features: list[Module] = [Conv2dNormActivation(in_channels, input_channel, stride=2,
                                                       activation_layer=nn.ReLU6)]
        for t, c, n, s in inverted_residual_setting:
            output_channel = _make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(InvertedResidual(input_channel, output_channel,
                                                 s if i == 0 else 1, expand_ratio=t))
                input_channel = output_channel
        features.append(Conv2dNormActivation(input_channel, self.last_channel, kernel_size=1,
                                             activation_layer=nn.ReLU6))
        self.features = nn.Sequential(*features)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(self.last_channel, num_classes),
        )
        _init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = numcnn.flatten(x, 1)
        return self.classifier(x)


# ---------------------------------------------------------------------------------------------
# MobileNet v3
# ---------------------------------------------------------------------------------------------

class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018) as torchvision.ops.SqueezeExcitation: global
    average pool, 1x1 conv down to `squeeze_channels` (ReLU), 1x1 conv back up, a gate in
    [0, 1] (Hardsigmoid in MobileNet v3) that rescales each input channel.

    Args:
        input_channels: C.
        squeeze_channels: the bottleneck width.
        activation: the activation after the first 1x1 conv.
        scale_activation: the gate.

    Shape:
        input (N, C, H, W) -> output (N, C, H, W).
    """

    def __init__(self, input_channels: int, squeeze_channels: int,
                 activation: Callable[[], Module] = nn.ReLU,
                 scale_activation: Callable[[], Module] = nn.Sigmoid) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def forward(self, input: Tensor) -> Tensor:
        scale = self.avgpool(input)                       # (N, C, 1, 1)
        scale = self.activation(self.fc1(scale))          # (N, C_sq, 1, 1)
        scale = self.scale_activation(self.fc2(scale))    # (N, C, 1, 1), in [0, 1]
        return scale * input


class InvertedResidualConfig:
    """One row of MobileNet v3's Tables 1-2: input channels, kernel size, expanded ("exp size")
    and output channels, SE or not, activation ("RE" ReLU, "HS" hard-swish), stride, dilation;
    channel counts scaled by `width_mult` and rounded to multiples of 8."""

    def __init__(self, input_channels: int, kernel: int, expanded_channels: int,
                 out_channels: int, use_se: bool, activation: str, stride: int, dilation: int,
                 width_mult: float) -> None:
        self.input_channels = self.adjust_channels(input_channels, width_mult)
        self.kernel = kernel
        self.expanded_channels = self.adjust_channels(expanded_channels, width_mult)
        self.out_channels = self.adjust_channels(out_channels, width_mult)
        self.use_se = use_se
        self.use_hs = activation == "HS"
        self.stride = stride
        self.dilation = dilation

    @staticmethod
    def adjust_channels(channels: int, width_mult: float) -> int:
        """`channels * width_mult` rounded to a multiple of 8."""
        return _make_divisible(channels * width_mult, 8)


class InvertedResidualV3(nn.Module):
    """MobileNet v3's bottleneck: 1x1 expand (skipped when the expanded width equals the
    input's), k x k depthwise, optional squeeze-excitation (squeeze to expanded/4, Hardsigmoid
    gate), 1x1 linear projection; ReLU or Hardswish; a shortcut when shapes allow.

    Keys (torchvision): `block.0`, `block.1`, ... each a Conv2dNormActivation or the SE layer.

    Args:
        cnf: the row of the architecture table.
        norm_layer: builds BatchNorm (eps 0.001, momentum 0.01 in torchvision's v3).

    Shape:
        input (N, cnf.input_channels, H, W) -> output (N, cnf.out_channels, H', W'),
        H' = ceil(H / stride).
    """

    def __init__(self, cnf: InvertedResidualConfig, norm_layer: Callable[[int], Module]) -> None:
        super().__init__()
        if not 1 <= cnf.stride <= 2:
            raise ValueError(f"illegal stride value {cnf.stride}")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        activation_layer: Callable[[], Module] = nn.Hardswish if cnf.use_hs else nn.ReLU
        layers: list[Module] = []
        if cnf.expanded_channels != cnf.input_channels:                       # expand
            layers.append(Conv2dNormActivation(cnf.input_channels, cnf.expanded_channels, 1,
                                               norm_layer=norm_layer,
                                               activation_layer=activation_layer))
        stride = 1 if cnf.dilation > 1 else cnf.stride                        # depthwise
        layers.append(Conv2dNormActivation(cnf.expanded_channels, cnf.expanded_channels,
                                           cnf.kernel, stride, groups=cnf.expanded_channels,
                                           norm_layer=norm_layer,
                                           activation_layer=activation_layer,
                                           dilation=cnf.dilation))
        if cnf.use_se:
            squeeze_channels = _make_divisible(cnf.expanded_channels // 4, 8)
            layers.append(SqueezeExcitation(cnf.expanded_channels, squeeze_channels,
                                            scale_activation=nn.Hardsigmoid))
        layers.append(Conv2dNormActivation(cnf.expanded_channels, cnf.out_channels, 1,  # project
                                           norm_layer=norm_layer, activation_layer=None))
        self.block = nn.Sequential(*layers)
        self.out_channels = cnf.out_channels

    def forward(self, input: Tensor) -> Tensor:
        result = self.block(input)
        if self.use_res_connect:
            result = result + input
        return result


class MobileNetV3(nn.Module):
    """MobileNet v3 (Howard et al. 2019), torchvision's layout: `features` (3x3 stride-2 conv
    to 16 channels with Hardswish, the bottlenecks, a 1x1 conv to 6x the last width), average
    pooling, `classifier` (Linear, Hardswish, Dropout, Linear).

    Args:
        inverted_residual_setting: the table's rows.
        last_channel: width of the penultimate Linear (1280 large, 1024 small).
        num_classes: outputs of the classifier.
        dropout: dropout probability before the last Linear.
        in_channels: input image channels.

    Shape:
        input (N, in_channels, H, W) -> output (N, num_classes).
    """

    def __init__(self, inverted_residual_setting: list[InvertedResidualConfig],
                 last_channel: int, num_classes: int = 1000, dropout: float = 0.2,
                 in_channels: int = 3) -> None:
        super().__init__()
        if not inverted_residual_setting:
            raise ValueError("The inverted_residual_setting should not be empty")
        norm_layer = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
        first_channels = inverted_residual_setting[0].input_channels
        layers: list[Module] = [Conv2dNormActivation(in_channels, first_channels, 3, stride=2,
                                                     norm_layer=norm_layer,
                                                     activation_layer=nn.Hardswish)]
        for cnf in inverted_residual_setting:
            layers.append(InvertedResidualV3(cnf, norm_layer))
        lastconv_input_channels = inverted_residual_setting[-1].out_channels
        lastconv_output_channels = 6 * lastconv_input_channels
        layers.append(Conv2dNormActivation(lastconv_input_channels, lastconv_output_channels, 1,
                                           norm_layer=norm_layer,
                                           activation_layer=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(lastconv_output_channels, last_channel),
            nn.Hardswish(),
            nn.Dropout(p=dropout),
            nn.Linear(last_channel, num_classes),
        )
        _init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = numcnn.flatten(x, 1)
        return self.classifier(x)


def _mobilenet_v3_conf(arch: str, width_mult: float = 1.0, reduced_tail: bool = False,
                       dilated: bool = False) -> tuple[list[InvertedResidualConfig], int]:
    """The bottleneck rows and last_channel of MobileNetV3-Large (Table 1) or -Small (Table 2).

    `reduced_tail` halves the channels of the last blocks, `dilated` replaces their stride with
    dilation 2 (both for dense prediction, as in torchvision)."""
    reduce_divider = 2 if reduced_tail else 1
    dilation = 2 if dilated else 1
    bneck_conf = partial(InvertedResidualConfig, width_mult=width_mult)
    if arch == "mobilenet_v3_large":
        setting = [
            # in, kernel, exp size, out, SE, NL, s, dilation
            bneck_conf(16, 3, 16, 16, False, "RE", 1, 1),
            bneck_conf(16, 3, 64, 24, False, "RE", 2, 1),  # C1
            bneck_conf(24, 3, 72, 24, False, "RE", 1, 1),
            bneck_conf(24, 5, 72, 40, True, "RE", 2, 1),  # C2
            bneck_conf(40, 5, 120, 40, True, "RE", 1, 1),
            bneck_conf(40, 5, 120, 40, True, "RE", 1, 1),
            bneck_conf(40, 3, 240, 80, False, "HS", 2, 1),  # C3
            bneck_conf(80, 3, 200, 80, False, "HS", 1, 1),
            bneck_conf(80, 3, 184, 80, False, "HS", 1, 1),
            bneck_conf(80, 3, 184, 80, False, "HS", 1, 1),
            bneck_conf(80, 3, 480, 112, True, "HS", 1, 1),
            bneck_conf(112, 3, 672, 112, True, "HS", 1, 1),
            bneck_conf(112, 5, 672, 160 // reduce_divider, True, "HS", 2, dilation),  # C4
            bneck_conf(160 // reduce_divider, 5, 960 // reduce_divider, 160 // reduce_divider,
                       True, "HS", 1, dilation),
            bneck_conf(160 // reduce_divider, 5, 960 // reduce_divider, 160 // reduce_divider,
                       True, "HS", 1, dilation),
        ]
        last_channel = InvertedResidualConfig.adjust_channels(1280 // reduce_divider, width_mult)
    elif arch == "mobilenet_v3_small":
        setting = [
            bneck_conf(16, 3, 16, 16, True, "RE", 2, 1),  # C1
            bneck_conf(16, 3, 72, 24, False, "RE", 2, 1),  # C2
            bneck_conf(24, 3, 88, 24, False, "RE", 1, 1),
            bneck_conf(24, 5, 96, 40, True, "HS", 2, 1),  # C3
            bneck_conf(40, 5, 240, 40, True, "HS", 1, 1),
            bneck_conf(40, 5, 240, 40, True, "HS", 1, 1),
            bneck_conf(40, 5, 120, 48, True, "HS", 1, 1),
            bneck_conf(48, 5, 144, 48, True, "HS", 1, 1),
            bneck_conf(48, 5, 288, 96 // reduce_divider, True, "HS", 2, dilation),  # C4
            bneck_conf(96 // reduce_divider, 5, 576 // reduce_divider, 96 // reduce_divider,
                       True, "HS", 1, dilation),
            bneck_conf(96 // reduce_divider, 5, 576 // reduce_divider, 96 // reduce_divider,
                       True, "HS", 1, dilation),
        ]
        last_channel = InvertedResidualConfig.adjust_channels(1024 // reduce_divider, width_mult)
    else:
        raise ValueError(f"unsupported model type {arch!r}")
    return setting, last_channel


def mobilenet_v1(num_classes: int = 1000, width_mult: float = 1.0, in_channels: int = 3,
                 **kwargs: Any) -> MobileNetV1:
    """MobileNet v1 from Howard et al., "MobileNets: Efficient Convolutional Neural Networks for
    Mobile Vision Applications" (2017).

    4,231,976 trainable parameters at width_mult 1.0 and 1000 classes (the paper's 4.2M);
    569M multiply-adds at 224x224. `kwargs` go to `MobileNetV1` (e.g. dropout).
    """
    return MobileNetV1(num_classes=num_classes, width_mult=width_mult, in_channels=in_channels,
                       **kwargs)


def mobilenet_v2(num_classes: int = 1000, in_channels: int = 3, *,
                 weights: MobileNet_V2_Weights | str | None = None, progress: bool = True,
                 **kwargs: Any) -> MobileNetV2:
    """MobileNet v2 from Sandler et al., "MobileNetV2: Inverted Residuals and Linear
    Bottlenecks" (2018); torchvision's layout.

    3,504,872 trainable parameters at 1000 classes. `kwargs` go to `MobileNetV2`
    (width_mult, dropout, ...).
    """
    w = MobileNet_V2_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = MobileNetV2(num_classes=num_classes, in_channels=in_channels, **kwargs)
    return load_pretrained(model, w, progress)


def _mobilenet_v3(arch: str, num_classes: int, in_channels: int, width_mult: float,
                  reduced_tail: bool, dilated: bool, dropout: float) -> MobileNetV3:
    setting, last_channel = _mobilenet_v3_conf(arch, width_mult, reduced_tail, dilated)
    return MobileNetV3(setting, last_channel, num_classes=num_classes, dropout=dropout,
                       in_channels=in_channels)


def mobilenet_v3_large(num_classes: int = 1000, in_channels: int = 3, width_mult: float = 1.0,
                       reduced_tail: bool = False, dilated: bool = False, dropout: float = 0.2,
                       *,
                       weights: MobileNet_V3_Large_Weights | str | None = None,
                       progress: bool = True) -> MobileNetV3:
    """MobileNetV3-Large from Howard et al., "Searching for MobileNetV3" (2019);
    torchvision's layout.

    5,483,032 trainable parameters at 1000 classes.
    """
    w = MobileNet_V3_Large_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _mobilenet_v3("mobilenet_v3_large", num_classes, in_channels, width_mult,
                          reduced_tail, dilated, dropout)
    return load_pretrained(model, w, progress)


def mobilenet_v3_small(num_classes: int = 1000, in_channels: int = 3, width_mult: float = 1.0,
                       reduced_tail: bool = False, dilated: bool = False, dropout: float = 0.2,
                       *,
                       weights: MobileNet_V3_Small_Weights | str | None = None,
                       progress: bool = True) -> MobileNetV3:
    """MobileNetV3-Small from Howard et al., "Searching for MobileNetV3" (2019);
    torchvision's layout.

    2,542,856 trainable parameters at 1000 classes.
    """
    w = MobileNet_V3_Small_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _mobilenet_v3("mobilenet_v3_small", num_classes, in_channels, width_mult,
                          reduced_tail, dilated, dropout)
    return load_pretrained(model, w, progress)


MODELS: dict[str, Callable[..., Module]] = {
    "mobilenet_v1": mobilenet_v1,
    "mobilenet_v2": mobilenet_v2,
    "mobilenet_v3_small": mobilenet_v3_small,
    "mobilenet_v3_large": mobilenet_v3_large,
}
