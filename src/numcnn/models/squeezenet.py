"""SqueezeNet (Iandola et al., 2016): AlexNet-level accuracy with 50x fewer parameters.

The paper's three strategies, each visible in the code below:

1. replace 3x3 filters by 1x1 filters (the `expand1x1` half of every Fire module);
2. cut the input channels of the 3x3 filters (the `squeeze` 1x1 layer feeds only
   `squeeze_planes` channels to `expand3x3`);
3. downsample late (the max-pools sit between Fire modules deep in the network), so most
   convolutions see large activation maps.

There are no fully connected layers: the classifier is a 1x1 convolution to `num_classes`
channels followed by global average pooling (as in Network in Network).

Layout, `state_dict` keys and initialisation follow torchvision's `squeezenet.py`: version 1.0 is
the paper's Table 1; version 1.1 (from the SqueezeNet repository) starts with a 3x3/64 convolution
and pools earlier, for 2.4x less computation at the same accuracy.

Axes: N batch, C channels, H/W height/width.
"""

from __future__ import annotations

from typing import Callable

import numcnn
import numcnn.nn as nn
from numcnn.models.weights import (
    SqueezeNet1_0_Weights,
    SqueezeNet1_1_Weights,
    check_pretrained_args,
    load_pretrained,
)
from numcnn.nn import init
from numcnn.tensor import Tensor

__all__ = ["Fire", "SqueezeNet", "squeezenet1_0", "squeezenet1_1", "MODELS"]


class Fire(nn.Module):
    """The Fire module: squeeze with 1x1 convolutions, then expand with 1x1 and 3x3 in parallel.

    Args:
        inplanes: input channels.
        squeeze_planes: channels of the 1x1 squeeze layer (s1x1 in the paper).
        expand1x1_planes: channels of the 1x1 expand branch (e1x1).
        expand3x3_planes: channels of the 3x3 expand branch (e3x3).

    Shape:
        (N, inplanes, H, W) -> (N, expand1x1_planes + expand3x3_planes, H, W)
    """

    def __init__(self, inplanes: int, squeeze_planes: int, expand1x1_planes: int,
                 expand3x3_planes: int) -> None:
        super().__init__()
        self.inplanes = inplanes
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.squeeze_activation(self.squeeze(x))
        return numcnn.cat([self.expand1x1_activation(self.expand1x1(x)),
                           self.expand3x3_activation(self.expand3x3(x))], 1)


class SqueezeNet(nn.Module):
    """SqueezeNet 1.0 or 1.1, torchvision's layout.

    Args:
        version: "1_0" (the paper's Table 1) or "1_1".
        num_classes: output classes (channels of the final 1x1 convolution).
        dropout: dropout probability before the final convolution (the paper's 50%).
        in_channels: input image channels.

    Shape:
        (N, in_channels, H, W) -> (N, num_classes); torchvision's weights were trained at
        224x224 (features 13x13 before the classifier for 1.0).
    """

    def __init__(self, version: str = "1_0", num_classes: int = 1000, dropout: float = 0.5,
                 in_channels: int = 3) -> None:
        super().__init__()
        self.num_classes = num_classes
        if version == "1_0":
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, 96, kernel_size=7, stride=2),        # conv1
                nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),       # maxpool1
                Fire(96, 16, 64, 64),                                         # fire2
                Fire(128, 16, 64, 64),                                        # fire3
                Fire(128, 32, 128, 128),                                      # fire4
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),       # maxpool4
                Fire(256, 32, 128, 128),                                      # fire5
                Fire(256, 48, 192, 192),                                      # fire6
                Fire(384, 48, 192, 192),                                      # fire7
                Fire(384, 64, 256, 256),                                      # fire8
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),       # maxpool8
                Fire(512, 64, 256, 256),                                      # fire9
            )
        elif version == "1_1":
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, 64, kernel_size=3, stride=2),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                Fire(64, 16, 64, 64),
                Fire(128, 16, 64, 64),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                Fire(128, 32, 128, 128),
                Fire(256, 32, 128, 128),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                Fire(256, 48, 192, 192),
                Fire(384, 48, 192, 192),
                Fire(384, 64, 256, 256),
                Fire(512, 64, 256, 256),
            )
        else:
            raise ValueError(f"SqueezeNet: unsupported version {version!r}: 1_0 or 1_1 expected")

        # conv10: one output channel per class, then global average pooling (no FC layers)
        final_conv = nn.Conv2d(512, num_classes, kernel_size=1)
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), final_conv, nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1))
        )

        # torchvision's initialisation: kaiming_uniform_ (fan_in, gain sqrt 2) for every conv
        # but the last, which gets N(0, 0.01); all biases 0.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    init.kaiming_uniform_(m.weight)
                if m.bias is not None:
                    init.constant_(m.bias, 0)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)            # (N, 512, h, w)
        x = self.classifier(x)          # (N, num_classes, 1, 1)
        return numcnn.flatten(x, 1)     # (N, num_classes)


def squeezenet1_0(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5, *,
                  weights: SqueezeNet1_0_Weights | str | None = None, progress: bool = True
                  ) -> SqueezeNet:
    """SqueezeNet 1.0 from Iandola, Han, Moskewicz, Ashraf, Dally and Keutzer, "SqueezeNet:
    AlexNet-level accuracy with 50x fewer parameters and <0.5MB model size" (2016), Table 1.

    1,248,424 trainable parameters at 1000 classes.
    """
    w = SqueezeNet1_0_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = SqueezeNet("1_0", num_classes=num_classes, dropout=dropout, in_channels=in_channels)
    return load_pretrained(model, w, progress)


def squeezenet1_1(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5, *,
                  weights: SqueezeNet1_1_Weights | str | None = None, progress: bool = True
                  ) -> SqueezeNet:
    """SqueezeNet 1.1 (the SqueezeNet v1.1 release of Iandola et al., "SqueezeNet: AlexNet-level
    accuracy with 50x fewer parameters and <0.5MB model size", 2016): 3x3/64 first convolution
    and earlier pooling, 2.4x less computation than 1.0 at the same accuracy.

    1,235,496 trainable parameters at 1000 classes.
    """
    w = SqueezeNet1_1_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = SqueezeNet("1_1", num_classes=num_classes, dropout=dropout, in_channels=in_channels)
    return load_pretrained(model, w, progress)


MODELS: dict[str, Callable[..., nn.Module]] = {
    "squeezenet1_0": squeezenet1_0,
    "squeezenet1_1": squeezenet1_1,
}
