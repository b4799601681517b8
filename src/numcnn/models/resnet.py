"""ResNet (He, Zhang, Ren and Sun, 2016): learn the residual F(x) and add the input back.

A residual block computes

    y = ReLU(F(x) + shortcut(x)),

where F is two 3x3 convolutions (BasicBlock, ResNet-18/34) or a 1x1-3x3-1x1 bottleneck
(Bottleneck, ResNet-50/101/152), each followed by batch norm, and the shortcut is the identity,
or a strided 1x1 convolution with batch norm (option B) where the shape changes.  Stacking the
blocks, the signal and its gradient pass through the identity paths unchanged, which is what
lets 100+ layers train where a plain network of the same depth degrades (seed 003).

The ImageNet networks (the paper's Table 1): a 7x7/2 convolution, a 3x3/2 max pool, four stages
(`layer1`..`layer4`, 64/128/256/512 base channels, stride 2 at the first block of stages 2-4),
global average pooling and a Linear.  This module follows torchvision's `resnet.py` exactly:
the layout, the `state_dict` keys (`layer1.0.conv1.weight`, `layer2.0.downsample.0.weight`, ...)
and the initialisation, so torchvision's weights load with `strict=True`.  ResNeXt (groups,
Xie et al. 2017) and Wide ResNet (width_per_group, Zagoruyko and Komodakis 2016) are the same
Bottleneck with a grouped or wider 3x3 convolution.

Stochastic depth (Huang, Sun, Liu, Sedra and Weinberger, "Deep Networks with Stochastic Depth",
ECCV 2016; seed 003) is an option (`stochastic_depth_p_last`, off by default).  Block l of the
L residual blocks survives with probability

    p_l = 1 - (l / L) (1 - p_L),        l = 1..L  (linear decay from p_0 = 1 to p_L),

    training:  H_l = ReLU(b_l F_l(H_{l-1}) + shortcut(H_{l-1})),  b_l ~ Bernoulli(p_l),
               one draw per mini-batch; a dropped block computes only its shortcut;
    test:      H_l = ReLU(p_l F_l(H_{l-1}) + shortcut(H_{l-1}))   (the expected residual),

the paper's equations (2)-(5).  (torchvision's `StochasticDepth` instead divides by p_l while
training and is the identity at test time; both keep train and test in expectation equal.)

Axes: N batch, C channels, H/W height/width.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numcnn
import numcnn.nn as nn
from numcnn.models.weights import (
    ResNet18_Weights,
    ResNet34_Weights,
    ResNet50_Weights,
    ResNet101_Weights,
    ResNet152_Weights,
    ResNeXt50_32X4D_Weights,
    Wide_ResNet50_2_Weights,
    check_pretrained_args,
    load_pretrained,
)
from numcnn.nn import fastpath, init
from numcnn.random import generator
from numcnn.tensor import Tensor

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "conv1x1", "conv3x3", "survival_probabilities",
           "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
           "wide_resnet50_2", "MODELS"]

NormLayer = Callable[[int], nn.Module]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1,
            dilation: int = 1) -> nn.Conv2d:
    """3x3 convolution, 'same' padding (padding = dilation), no bias (batch norm follows)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation,
                     groups=groups, bias=False, dilation=dilation)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution, no bias: mixes channels (and subsamples with stride 2)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


def survival_probabilities(num_blocks: int, p_last: float) -> list[float]:
    """Stochastic depth's linear decay rule: p_l = 1 - (l / L)(1 - p_L) for l = 1..L.

    Args:
        num_blocks: L, the number of residual blocks.
        p_last: p_L, the survival probability of the last block, in (0, 1] (0.5 in the paper).

    Raises:
        ValueError: for p_last outside (0, 1] or num_blocks < 1.
    """
    if not 0.0 < p_last <= 1.0:
        raise ValueError(f"stochastic depth: p_last (p_L) must be in (0, 1], got {p_last}")
    if num_blocks < 1:
        raise ValueError(f"stochastic depth: need at least one block, got {num_blocks}")
    return [1.0 - (l / num_blocks) * (1.0 - p_last) for l in range(1, num_blocks + 1)]


class _ResidualBlock(nn.Module):
    """The sum ReLU(b F(x) + shortcut(x)) shared by BasicBlock and Bottleneck, with stochastic
    depth: b ~ Bernoulli(survival_prob) per mini-batch while training, b = survival_prob at
    test time, b = 1 always when survival_prob is 1 (the default: an ordinary residual block)."""

    downsample: nn.Module | None
    survival_prob: float

    def residual(self, x: Tensor) -> Tensor:
        """F(x), the block's residual branch before the addition."""
        raise NotImplementedError

    def shortcut(self, x: Tensor) -> Tensor:
        """The identity, or `downsample(x)` where the block changes the shape."""
        return x if self.downsample is None else self.downsample(x)

    def forward(self, x: Tensor) -> Tensor:
        p = self.survival_prob
        if self.training and p < 1.0 and generator().random() >= p:
            return self.relu_out(self.shortcut(x))          # b_l = 0: the block is skipped
        out = self.residual(x)                              # torchvision's order: F, then the
        if not self.training and p < 1.0:                   # shortcut (as hooks see them)
            out = out * p                                   # the expected residual p_l F(x)
        return self.relu_out(out + self.shortcut(x))

    def relu_out(self, x: Tensor) -> Tensor:
        """The ReLU after the addition (the block's last activation module)."""
        raise NotImplementedError


class BasicBlock(_ResidualBlock):
    """Two 3x3 convolutions: y = ReLU(BN(conv(ReLU(BN(conv(x))))) + shortcut(x)).

    Args:
        inplanes: input channels.
        planes: output channels (expansion 1).
        stride: of the first convolution (2 halves H and W).
        downsample: the shortcut when the shape changes (None: the identity).
        groups, base_width: must be 1 and 64 (torchvision's check).
        dilation: must be 1.
        norm_layer: the normalisation (default BatchNorm2d).
        survival_prob: p_l of stochastic depth (1: never dropped).

    Shape:
        (N, inplanes, H, W) -> (N, planes, ceil(H/stride), ceil(W/stride))
    """

    expansion: int = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, groups: int = 1, base_width: int = 64,
                 dilation: int = 1, norm_layer: NormLayer | None = None,
                 survival_prob: float = 1.0) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64, "
                             f"got groups={groups}, base_width={base_width}")
        if dilation > 1:
            raise NotImplementedError("Dilation > 1 not supported in BasicBlock")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.relu2 = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride
        self.survival_prob = float(survival_prob)

    def residual(self, x: Tensor) -> Tensor:
        # (N, planes, H/s, W/s); in eval mode under no_grad the BNs are folded (nn.fastpath)
        return fastpath.chain(x, self.conv1, self.bn1, self.relu1, self.conv2, self.bn2)

    def relu_out(self, x: Tensor) -> Tensor:
        return self.relu2(x)


class Bottleneck(_ResidualBlock):
    """1x1 reduce, 3x3 (grouped for ResNeXt, stride here as in torchvision's "ResNet v1.5"),
    1x1 expand to 4x: y = ReLU(BN(conv1x1(...)) + shortcut(x)).

    The 3x3 convolution has width = floor(planes * base_width / 64) * groups channels.

    Args:
        inplanes: input channels.
        planes: base channels; the output has planes * 4.
        stride: of the 3x3 convolution.
        downsample: the shortcut when the shape changes (None: the identity).
        groups: groups of the 3x3 convolution (ResNeXt's cardinality).
        base_width: channels per group at planes = 64 (64; 4 for ResNeXt-32x4d, 128 for
            Wide ResNet-50-2).
        dilation: of the 3x3 convolution.
        norm_layer: the normalisation (default BatchNorm2d).
        survival_prob: p_l of stochastic depth (1: never dropped).

    Shape:
        (N, inplanes, H, W) -> (N, 4 * planes, ceil(H/stride), ceil(W/stride))
    """

    expansion: int = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, groups: int = 1, base_width: int = 64,
                 dilation: int = 1, norm_layer: NormLayer | None = None,
                 survival_prob: float = 1.0) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu3 = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride
        self.survival_prob = float(survival_prob)

    def residual(self, x: Tensor) -> Tensor:
        # (N, width, H, W) -> (N, width, H/s, W/s) -> (N, 4 planes, H/s, W/s); in eval mode
        # under no_grad the BNs are folded into the convolutions (nn.fastpath)
        return fastpath.chain(x, self.conv1, self.bn1, self.relu1, self.conv2, self.bn2,
                              self.relu2, self.conv3, self.bn3)

    def relu_out(self, x: Tensor) -> Tensor:
        return self.relu3(x)


class ResNet(nn.Module):
    """The ImageNet ResNet, torchvision's layout.

    Args:
        block: BasicBlock or Bottleneck.
        layers: blocks in each of the four stages.
        num_classes: output classes.
        zero_init_residual: start every block's last BN weight at 0, so each residual branch
            starts as zero and each block as the identity (Goyal et al. 2017).
        groups: groups of the Bottleneck's 3x3 convolution (ResNeXt).
        width_per_group: the Bottleneck's base_width.
        replace_stride_with_dilation: for stages 2-4, keep the resolution and dilate instead.
        norm_layer: the normalisation (default BatchNorm2d).
        in_channels: input image channels.
        stochastic_depth_p_last: p_L, the survival probability of the last residual block
            under stochastic depth (0.5 in Huang et al.); None (default) turns it off.

    Shape:
        (N, in_channels, H, W) -> (N, num_classes); the maps shrink 32x before the global
        pooling (224 -> 7).
    """

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], layers: Sequence[int],
                 num_classes: int = 1000, zero_init_residual: bool = False, groups: int = 1,
                 width_per_group: int = 64,
                 replace_stride_with_dilation: Sequence[bool] | None = None,
                 norm_layer: NormLayer | None = None, in_channels: int = 3,
                 stochastic_depth_p_last: float | None = None) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        self._norm_layer = norm_layer
        if len(layers) != 4:
            raise ValueError(f"ResNet: layers must give 4 stage depths, got {list(layers)}")
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError("replace_stride_with_dilation should be None or a 3-element "
                             f"tuple, got {replace_stride_with_dilation}")
        self.inplanes = 64
        self.dilation = 1
        self.groups = groups
        self.base_width = width_per_group
        # p_1..p_L for the L blocks, consumed stage by stage in _make_layer
        total = sum(layers)
        self._survival = (survival_probabilities(total, stochastic_depth_p_last)
                          if stochastic_depth_p_last is not None else [1.0] * total)

        self.conv1 = nn.Conv2d(in_channels, self.inplanes, kernel_size=7, stride=2, padding=3,
                               bias=False)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2,
                                       dilate=replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2,
                                       dilate=replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2,
                                       dilate=replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        # torchvision's initialisation: He et al.'s kaiming_normal_ with fan_out for the convs,
        # BN weight 1 and bias 0; the Linear keeps its default U(+-1/sqrt(fan_in)).
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                if m.weight is not None:
                    init.ones_(m.weight)
                if m.bias is not None:
                    init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                last_bn = (m.bn3 if isinstance(m, Bottleneck)
                           else m.bn2 if isinstance(m, BasicBlock) else None)
                if last_bn is not None and last_bn.weight is not None:
                    init.constant_(last_bn.weight, 0)

    def _make_layer(self, block: type[BasicBlock] | type[Bottleneck], planes: int, blocks: int,
                    stride: int = 1, dilate: bool = False) -> nn.Sequential:
        """One stage: `blocks` blocks, the first with `stride` and a 1x1 projection shortcut
        (option B) when the shape changes."""
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                norm_layer(planes * block.expansion),
            )
        layers: list[nn.Module] = [
            block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                  previous_dilation, norm_layer, survival_prob=self._survival.pop(0))
        ]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups,
                                base_width=self.base_width, dilation=self.dilation,
                                norm_layer=norm_layer, survival_prob=self._survival.pop(0)))
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = fastpath.chain(x, self.conv1, self.bn1, self.relu, self.maxpool)  # (N, 64, H/4, W/4)
        x = self.layer1(x)                                      # (N, 64 e, H/4, W/4)
        x = self.layer2(x)                                      # (N, 128 e, H/8, W/8)
        x = self.layer3(x)                                      # (N, 256 e, H/16, W/16)
        x = self.layer4(x)                                      # (N, 512 e, H/32, W/32)
        x = numcnn.flatten(self.avgpool(x), 1)                  # (N, 512 e)
        return self.fc(x)                                       # (N, num_classes)


def _resnet(block: type[BasicBlock] | type[Bottleneck], layers: Sequence[int], num_classes: int,
            in_channels: int, **kwargs: Any) -> ResNet:
    return ResNet(block, layers, num_classes=num_classes, in_channels=in_channels, **kwargs)


def resnet18(num_classes: int = 1000, in_channels: int = 3, *,
             weights: ResNet18_Weights | str | None = None, progress: bool = True, **kwargs: Any
             ) -> ResNet:
    """ResNet-18 (BasicBlock, 2-2-2-2) from He, Zhang, Ren and Sun, "Deep Residual Learning for
    Image Recognition" (CVPR 2016), Table 1.  `kwargs` go to `ResNet` (zero_init_residual,
    stochastic_depth_p_last, ...).

    11,689,512 trainable parameters at 1000 classes.
    """
    w = ResNet18_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _resnet(BasicBlock, [2, 2, 2, 2], num_classes, in_channels, **kwargs)
    return load_pretrained(model, w, progress)


def resnet34(num_classes: int = 1000, in_channels: int = 3, *,
             weights: ResNet34_Weights | str | None = None, progress: bool = True, **kwargs: Any
             ) -> ResNet:
    """ResNet-34 (BasicBlock, 3-4-6-3) from He, Zhang, Ren and Sun, "Deep Residual Learning for
    Image Recognition" (CVPR 2016), Table 1.  `kwargs` go to `ResNet`.

    21,797,672 trainable parameters at 1000 classes.
    """
    w = ResNet34_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _resnet(BasicBlock, [3, 4, 6, 3], num_classes, in_channels, **kwargs)
    return load_pretrained(model, w, progress)


def resnet50(num_classes: int = 1000, in_channels: int = 3, *,
             weights: ResNet50_Weights | str | None = None, progress: bool = True, **kwargs: Any
             ) -> ResNet:
    """ResNet-50 (Bottleneck, 3-4-6-3) from He, Zhang, Ren and Sun, "Deep Residual Learning for
    Image Recognition" (CVPR 2016), Table 1; the stride sits on the 3x3 convolution
    (torchvision's "v1.5").  `kwargs` go to `ResNet`.

    25,557,032 trainable parameters at 1000 classes.
    """
    w = ResNet50_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _resnet(Bottleneck, [3, 4, 6, 3], num_classes, in_channels, **kwargs)
    return load_pretrained(model, w, progress)


def resnet101(num_classes: int = 1000, in_channels: int = 3, *,
              weights: ResNet101_Weights | str | None = None, progress: bool = True,
              **kwargs: Any) -> ResNet:
    """ResNet-101 (Bottleneck, 3-4-23-3) from He, Zhang, Ren and Sun, "Deep Residual Learning
    for Image Recognition" (CVPR 2016), Table 1.  `kwargs` go to `ResNet`.

    44,549,160 trainable parameters at 1000 classes.
    """
    w = ResNet101_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _resnet(Bottleneck, [3, 4, 23, 3], num_classes, in_channels, **kwargs)
    return load_pretrained(model, w, progress)


def resnet152(num_classes: int = 1000, in_channels: int = 3, *,
              weights: ResNet152_Weights | str | None = None, progress: bool = True,
              **kwargs: Any) -> ResNet:
    """ResNet-152 (Bottleneck, 3-8-36-3) from He, Zhang, Ren and Sun, "Deep Residual Learning
    for Image Recognition" (CVPR 2016), Table 1.  `kwargs` go to `ResNet`.

    60,192,808 trainable parameters at 1000 classes.
    """
    w = ResNet152_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _resnet(Bottleneck, [3, 8, 36, 3], num_classes, in_channels, **kwargs)
    return load_pretrained(model, w, progress)


def resnext50_32x4d(num_classes: int = 1000, in_channels: int = 3, *,
                    weights: ResNeXt50_32X4D_Weights | str | None = None, progress: bool = True,
                    **kwargs: Any) -> ResNet:
    """ResNeXt-50 32x4d (cardinality 32, 4 channels per group at the first stage) from Xie,
    Girshick, Dollar, Tu and He, "Aggregated Residual Transformations for Deep Neural Networks"
    (CVPR 2017), Table 1.  `kwargs` go to `ResNet`.

    25,028,904 trainable parameters at 1000 classes.
    """
    w = ResNeXt50_32X4D_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _resnet(Bottleneck, [3, 4, 6, 3], num_classes, in_channels, groups=32,
                    width_per_group=4, **kwargs)
    return load_pretrained(model, w, progress)


def wide_resnet50_2(num_classes: int = 1000, in_channels: int = 3, *,
                    weights: Wide_ResNet50_2_Weights | str | None = None, progress: bool = True,
                    **kwargs: Any) -> ResNet:
    """Wide ResNet-50-2 (the Bottleneck's 3x3 twice as wide) from Zagoruyko and Komodakis,
    "Wide Residual Networks" (BMVC 2016), as torchvision builds it.  `kwargs` go to `ResNet`.

    68,883,240 trainable parameters at 1000 classes.
    """
    w = Wide_ResNet50_2_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _resnet(Bottleneck, [3, 4, 6, 3], num_classes, in_channels, width_per_group=128,
                    **kwargs)
    return load_pretrained(model, w, progress)


MODELS: dict[str, Callable[..., nn.Module]] = {
    "resnet18": resnet18,
    "resnet34": resnet34,
    "resnet50": resnet50,
    "resnet101": resnet101,
    "resnet152": resnet152,
    "resnext50_32x4d": resnext50_32x4d,
    "wide_resnet50_2": wide_resnet50_2,
}
