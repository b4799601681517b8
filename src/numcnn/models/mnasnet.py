"""MNASNet (Tan, Chen, Pang, Vasudevan, Sandler, Howard and Le, "MnasNet: Platform-Aware Neural
Architecture Search for Mobile", CVPR 2019): a network found by reinforcement-learning search
whose reward trades ImageNet accuracy against latency measured on a phone,

    reward(m) = ACC(m) * (LAT(m) / T)^w,   w = -0.07  (the paper's soft constraint, eq. 2)

The searched network is a stack of MobileNet v2 inverted residuals (1x1 expand by t -> k x k
depthwise -> 1x1 linear projection, a shortcut when the shapes agree), with the kernel size
(3 or 5), the expansion t (3 or 6) and the repeats chosen per stage by the search:

    stage   in -> out   kernel  t  repeats  stride of the first block
    stem    3 -> 32     3x3 conv, stride 2; 3x3 depthwise; 1x1 linear to 16 (no shortcut)
    1       16 -> 24    3       3  3        2
    2       24 -> 40    5       3  3        2
    3       40 -> 80    5       6  3        2
    4       80 -> 96    3       6  2        1
    5       96 -> 192   5       6  4        2
    6      192 -> 320   3       6  1        1
    head   320 -> 1280  1x1 conv, global average pool, dropout, Linear

This is torchvision's `MNASNet` (its "B1" variant, without squeeze-and-excitation) exactly: the
`state_dict` keys (`layers.0.weight`, `layers.8.0.layers.3.weight`, ..., `classifier.1.bias`),
shapes and buffers, batch norm momentum 1 - 0.9997 (the paper's TensorFlow decay 0.9997 written
as PyTorch's momentum), the initialisation (Conv2d kaiming_normal_ fan_out ReLU gain, BatchNorm
weight 1 bias 0, Linear kaiming_uniform_ fan_out with gain 1, zero biases) and the depth
multiplier alpha, which scales every width above (1280 excepted) and rounds it to a multiple of 8
with `_round_to_multiple_of` (round half up, then one step more if that lost over 10%).

Pretrained weights: each factory takes torchvision's `weights=` (e.g.
`mnasnet1_0(weights="DEFAULT")`, `MNASNet1_0_Weights.IMAGENET1K_V1`), loaded through
`numcnn.models.weights` (download once, cache, strict load).

Old checkpoints: torchvision's MNASNet is at state-dict version 2, where the stem (32, 16) is
scaled by alpha too; version 1 kept it at 32/16 for every alpha.  A mapping whose `_metadata`
(the attribute torch's and numcnn's `state_dict()` results carry) says version 1 for the root
module is loaded into the version-1 layout, as torchvision does: the stem and the first stage
are rebuilt at the old widths (with a UserWarning), and the model then saves itself as version
1.  `numcnn.load` of a `torch.save` file keeps the `_metadata`, and `numcnn.models.weights`
carries it through its safetensors copy.  Without metadata (a plain dict, a flat safetensors
file) the current layout is assumed: torchvision refuses such a dict with a ValueError; numcnn
loads it, since a flat safetensors file carries no versions.  So a version-1 checkpoint must
keep its `_metadata` on the way in: saved flat, it no longer loads at alpha != 1 (a size
mismatch on `layers.0.weight`).

Axes: N batch, C channels, H/W height/width; t expansion factor, k kernel size.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

import numcnn.nn as nn
from numcnn.models.weights import (
    MNASNet0_5_Weights,
    MNASNet0_75_Weights,
    MNASNet1_0_Weights,
    MNASNet1_3_Weights,
    WeightsEnum,
    check_pretrained_args,
    load_pretrained,
)
from numcnn.nn import init
from numcnn.nn.module import Module
from numcnn.tensor import Tensor

__all__ = ["MNASNet", "mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3", "MODELS"]

#: the paper's batch norm decay 0.9997 (TensorFlow's convention, the weight of the old running
#: value) as PyTorch's momentum (the weight of the new batch statistic)
_BN_MOMENTUM = 1 - 0.9997

#: channel widths at alpha = 1: the stem's two convs, then the six stages' outputs
_DEPTHS = [32, 16, 24, 40, 80, 96, 192, 320]

#: (kernel size, expansion t, repeats, stride of the first block) of the six stages
_STAGES = [(3, 3, 3, 2), (5, 3, 3, 2), (5, 6, 3, 2), (3, 6, 2, 1), (5, 6, 4, 2), (3, 6, 1, 1)]


def _round_to_multiple_of(val: float, divisor: int, round_up_bias: float = 0.9) -> int:
    """`val` rounded to a multiple of `divisor` (at least `divisor`): to the nearest multiple
    (halves up), then one multiple higher if that fell below `round_up_bias * val`.  With the
    default 0.9: (83, 8) -> 80 and (84, 8) -> 88 (the nearest multiples), (9, 8) -> 16 (8 is
    over 10% below 9); alpha 0.75 on 40 channels: 30 -> 32.

    Raises:
        ValueError: unless 0 < round_up_bias < 1.
    """
    if not 0.0 < round_up_bias < 1.0:
        raise ValueError(f"round_up_bias must be in (0, 1), got {round_up_bias}")
    new_val = max(divisor, int(val + divisor / 2) // divisor * divisor)
    return new_val if new_val >= round_up_bias * val else new_val + divisor


def _get_depths(alpha: float) -> list[int]:
    """The eight widths of `_DEPTHS` times alpha, each rounded by `_round_to_multiple_of(., 8)`."""
    return [_round_to_multiple_of(depth * alpha, 8) for depth in _DEPTHS]


class _InvertedResidual(nn.Module):
    """One MNASNet block (MobileNet v2's inverted residual without ReLU6): 1x1 conv to t*C_in
    channels, BN, ReLU; k x k depthwise conv (stride s, padding k // 2), BN, ReLU; 1x1 linear
    projection to C_out, BN; plus the input when s = 1 and C_in = C_out.

    Keys: `layers.0` / `.3` / `.6` the convs, `layers.1` / `.4` / `.7` their batch norms.

    Args:
        in_ch: C_in.
        out_ch: C_out.
        kernel_size: k, 3 or 5.
        stride: s, 1 or 2.
        expansion_factor: t.
        bn_momentum: momentum of the three batch norms.

    Shape:
        input (N, C_in, H, W) -> output (N, C_out, ceil(H / s), ceil(W / s)).
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int,
                 expansion_factor: int, bn_momentum: float = 0.1) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        if kernel_size not in (3, 5):
            raise ValueError(f"kernel_size must be 3 or 5, got {kernel_size}")
        mid_ch = in_ch * expansion_factor
        self.apply_residual = in_ch == out_ch and stride == 1
        self.layers = nn.Sequential(
            nn.Conv2d(in_ch, mid_ch, 1, bias=False),                       # expand
            nn.BatchNorm2d(mid_ch, momentum=bn_momentum),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_ch, mid_ch, kernel_size, stride=stride, padding=kernel_size // 2,
                      groups=mid_ch, bias=False),                          # depthwise
            nn.BatchNorm2d(mid_ch, momentum=bn_momentum),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_ch, out_ch, 1, bias=False),                      # linear projection
            nn.BatchNorm2d(out_ch, momentum=bn_momentum),
        )

    def forward(self, input: Tensor) -> Tensor:
        out = self.layers(input)               # an eval-mode Sequential: BNs folded (fastpath)
        return out + input if self.apply_residual else out


def _stack(in_ch: int, out_ch: int, kernel_size: int, stride: int, exp_factor: int,
           repeats: int, bn_momentum: float) -> nn.Sequential:
    """A stage: `repeats` blocks, the first changing the width (and stride, so no shortcut),
    the rest C_out -> C_out at stride 1 (with shortcuts)."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    blocks = [_InvertedResidual(in_ch, out_ch, kernel_size, stride, exp_factor, bn_momentum)]
    blocks += [_InvertedResidual(out_ch, out_ch, kernel_size, 1, exp_factor, bn_momentum)
               for _ in range(1, repeats)]
    return nn.Sequential(*blocks)


def _stem(in_channels: int, c0: int, c1: int, c2: int) -> list[Module]:
    """`layers.0`-`layers.8`: the 3x3/2 conv to c0, a 3x3 depthwise conv, a 1x1 linear conv to
    c1 (each with BN, ReLU after the first two) and stage 1 (c1 -> c2)."""
    k, t, n, s = _STAGES[0]
    return [
        nn.Conv2d(in_channels, c0, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(c0, momentum=_BN_MOMENTUM),
        nn.ReLU(inplace=True),
        nn.Conv2d(c0, c0, 3, stride=1, padding=1, groups=c0, bias=False),
        nn.BatchNorm2d(c0, momentum=_BN_MOMENTUM),
        nn.ReLU(inplace=True),
        nn.Conv2d(c0, c1, 1, bias=False),
        nn.BatchNorm2d(c1, momentum=_BN_MOMENTUM),
        _stack(c1, c2, k, s, t, n, _BN_MOMENTUM),
    ]


class MNASNet(nn.Module):
    """MNASNet-B1 with depth multiplier alpha (torchvision's layout; see the module docstring).

    Keys: `layers.0`-`layers.7` the stem, `layers.8`-`layers.13` the six stages
    (`layers.8.0.layers.0.weight`, ...), `layers.14`/`layers.15` the 1x1 conv to 1280 and its
    BN, `classifier.1` the Linear.

    Args:
        alpha: the depth multiplier (> 0); torchvision publishes 0.5, 0.75, 1.0 and 1.3.
        num_classes: outputs of the classifier.
        dropout: dropout probability before the Linear.
        in_channels: input image channels (3 in torchvision).

    Shape:
        input (N, in_channels, H, W) -> output (N, num_classes); the maps shrink 32x before
        the global average.
    """

    # version 2 scales the stem by alpha as well (see `_load_from_state_dict`)
    _version = 2

    def __init__(self, alpha: float, num_classes: int = 1000, dropout: float = 0.2,
                 in_channels: int = 3) -> None:
        super().__init__()
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating)) \
                or alpha <= 0.0:
            raise ValueError(f"alpha must be a number > 0, got {alpha!r}")
        self.alpha = alpha
        self.num_classes = num_classes
        self.in_channels = in_channels
        depths = _get_depths(alpha)
        layers = _stem(in_channels, depths[0], depths[1], depths[2])
        for i, (k, t, n, s) in enumerate(_STAGES[1:], start=2):
            layers.append(_stack(depths[i], depths[i + 1], k, s, t, n, _BN_MOMENTUM))
        layers += [
            nn.Conv2d(depths[7], 1280, 1, bias=False),
            nn.BatchNorm2d(1280, momentum=_BN_MOMENTUM),
            nn.ReLU(inplace=True),
        ]
        self.layers = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True),
                                        nn.Linear(1280, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d) and m.weight is not None and m.bias is not None:
                init.ones_(m.weight)
                init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                # U(-b, b), b = sqrt(3 / num_classes): torchvision's "sigmoid" gain is 1
                init.kaiming_uniform_(m.weight, mode="fan_out", nonlinearity="sigmoid")
                if m.bias is not None:
                    init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.layers(x)                     # (N, 1280, H/32, W/32)
        x = x.mean((2, 3))                     # (N, 1280): the global average pool
        return self.classifier(x)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str,
                              local_metadata: dict[str, Any], strict: bool,
                              missing_keys: list[str], unexpected_keys: list[str],
                              error_msgs: list[str], assign: bool = False) -> None:
        """A version-1 checkpoint (stem fixed at 32/16 channels) rebuilds `layers.0`-`layers.8`
        at those widths before loading, when alpha != 1 (at alpha 1 the layouts agree); no
        version (a plain dict) means the current layout.

        Raises:
            ValueError: for a version other than 1 or 2.
        """
        version = local_metadata.get("version")
        if version is not None and version not in (1, 2):
            raise ValueError(f"MNASNet state_dict version must be 1 or 2, got {version!r}")
        if version == 1 and self.alpha != 1.0:
            depths = _get_depths(self.alpha)
            for idx, layer in enumerate(_stem(self.in_channels, 32, 16, depths[2])):
                self.layers[idx] = layer
            self._version = 1                  # saved again as what it now is
            warnings.warn(
                "this MNASNet checkpoint is state-dict version 1, whose stem has 32 and 16 "
                f"channels at every alpha; the model (alpha={self.alpha}) now has that stem, "
                "is initialised from the checkpoint as before, and saves as version 1. "
                "Version-2 checkpoints (torchvision's current weights) scale the stem by alpha.",
                UserWarning, stacklevel=3)         # the caller of load_state_dict
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs, assign)


def _mnasnet(alpha: float, weights_enum: type[WeightsEnum], num_classes: int, in_channels: int,
             weights: Any, progress: bool, **kwargs: Any) -> MNASNet:
    w = weights_enum.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = MNASNet(alpha, num_classes=num_classes, in_channels=in_channels, **kwargs)
    if w is not None:
        load_pretrained(model, w, progress)
    return model


def mnasnet0_5(num_classes: int = 1000, in_channels: int = 3, *,
               weights: MNASNet0_5_Weights | str | None = None, progress: bool = True,
               **kwargs: Any) -> MNASNet:
    """MNASNet-B1 at depth multiplier 0.5, from Tan et al., "MnasNet: Platform-Aware Neural
    Architecture Search for Mobile" (CVPR 2019); torchvision's layout.

    2,218,512 trainable parameters at 1000 classes, 104M multiply-adds at 224x224.
    `weights`: None (random initialisation), "DEFAULT", "IMAGENET1K_V1" or a
    `MNASNet0_5_Weights` member: torchvision's ImageNet weights, downloaded once and cached
    (`numcnn.models.weights`; num_classes must then be 1000 and in_channels 3); `progress`: a
    progress bar while downloading; `kwargs` go to `MNASNet` (dropout).
    """
    return _mnasnet(0.5, MNASNet0_5_Weights, num_classes, in_channels, weights, progress,
                    **kwargs)


def mnasnet0_75(num_classes: int = 1000, in_channels: int = 3, *,
                weights: MNASNet0_75_Weights | str | None = None, progress: bool = True,
                **kwargs: Any) -> MNASNet:
    """MNASNet-B1 at depth multiplier 0.75, from Tan et al., "MnasNet: Platform-Aware Neural
    Architecture Search for Mobile" (CVPR 2019); torchvision's layout.

    3,170,208 trainable parameters at 1000 classes, 215M multiply-adds at 224x224.
    `weights`: None (random initialisation), "DEFAULT", "IMAGENET1K_V1" or a
    `MNASNet0_75_Weights` member: torchvision's ImageNet weights, downloaded once and cached
    (`numcnn.models.weights`; num_classes must then be 1000 and in_channels 3); `progress`: a
    progress bar while downloading; `kwargs` go to `MNASNet` (dropout).
    """
    return _mnasnet(0.75, MNASNet0_75_Weights, num_classes, in_channels, weights, progress,
                    **kwargs)


def mnasnet1_0(num_classes: int = 1000, in_channels: int = 3, *,
               weights: MNASNet1_0_Weights | str | None = None, progress: bool = True,
               **kwargs: Any) -> MNASNet:
    """MNASNet-B1 at depth multiplier 1.0, from Tan et al., "MnasNet: Platform-Aware Neural
    Architecture Search for Mobile" (CVPR 2019); torchvision's layout.

    4,383,312 trainable parameters at 1000 classes, 314M multiply-adds at 224x224.
    `weights`: None (random initialisation), "DEFAULT", "IMAGENET1K_V1" or a
    `MNASNet1_0_Weights` member: torchvision's ImageNet weights, downloaded once and cached
    (`numcnn.models.weights`; num_classes must then be 1000 and in_channels 3); `progress`: a
    progress bar while downloading; `kwargs` go to `MNASNet` (dropout).
    """
    return _mnasnet(1.0, MNASNet1_0_Weights, num_classes, in_channels, weights, progress,
                    **kwargs)


def mnasnet1_3(num_classes: int = 1000, in_channels: int = 3, *,
               weights: MNASNet1_3_Weights | str | None = None, progress: bool = True,
               **kwargs: Any) -> MNASNet:
    """MNASNet-B1 at depth multiplier 1.3, from Tan et al., "MnasNet: Platform-Aware Neural
    Architecture Search for Mobile" (CVPR 2019); torchvision's layout.

    6,282,256 trainable parameters at 1000 classes, 526M multiply-adds at 224x224.
    `weights`: None (random initialisation), "DEFAULT", "IMAGENET1K_V1" or a
    `MNASNet1_3_Weights` member: torchvision's ImageNet weights, downloaded once and cached
    (`numcnn.models.weights`; num_classes must then be 1000 and in_channels 3); `progress`: a
    progress bar while downloading; `kwargs` go to `MNASNet` (dropout).
    """
    return _mnasnet(1.3, MNASNet1_3_Weights, num_classes, in_channels, weights, progress,
                    **kwargs)


MODELS: dict[str, Callable[..., Module]] = {
    "mnasnet0_5": mnasnet0_5,
    "mnasnet0_75": mnasnet0_75,
    "mnasnet1_0": mnasnet1_0,
    "mnasnet1_3": mnasnet1_3,
}
