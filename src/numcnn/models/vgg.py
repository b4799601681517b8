"""VGG: very deep networks of 3x3 convolutions (Simonyan & Zisserman, ICLR 2015).

The paper's Table 1 is `cfgs` below, one configuration per entry, read top to bottom: five
blocks of convolutions, each closed by a 2x2/2 max pooling, then the same three fully connected
layers (FC-4096, FC-4096, FC-num_classes) for every configuration (`VGG.classifier`).

    A       11 weight layers   vgg11 (vgg_a)     132,863,336 parameters
    A-LRN   11, with LRN       vgg_a_lrn         132,863,336
    B       13                 vgg13 (vgg_b)     133,047,848
    C       16, 1x1 convs      vgg_c             133,638,952
    D       16                 vgg16 (vgg_d)     138,357,544
    E       19                 vgg19 (vgg_e)     143,667,240

(Table 2 of the paper rounds these to 133, 133, 133, 134, 138 and 144 million.) torchvision
builds A, B, D and E (and their batch-normalised `_bn` variants, which the paper predates) with
the state_dict keys used here: `features.<index>` in the order of `cfgs`, `classifier.0/3/6`.

Sizes at a 224x224 input: every convolution keeps the size (3x3 with padding 1, 1x1 with
none), every pooling halves it: 224 -> 112 -> 56 -> 28 -> 14 -> 7, so fc6 sees 512*7*7 = 25088
values. `avgpool` (adaptive, to 7x7) lets other input sizes through, as torchvision's does.

Axis legend: N batch, C channels, H/W height/width.
"""

from __future__ import annotations

from typing import Callable

import numcnn
from numcnn import nn
from numcnn.models.alexnet import krizhevsky_lrn
from numcnn.models.weights import (
    VGG11_BN_Weights,
    VGG11_Weights,
    VGG13_BN_Weights,
    VGG13_Weights,
    VGG16_BN_Weights,
    VGG16_Weights,
    VGG19_BN_Weights,
    VGG19_Weights,
    check_pretrained_args,
    load_pretrained,
)
from numcnn.nn import init
from numcnn.nn.module import Module
from numcnn.tensor import Tensor

__all__ = ["VGG", "cfgs", "make_layers", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16",
           "vgg16_bn", "vgg19", "vgg19_bn", "vgg_a", "vgg_a_lrn", "vgg_b", "vgg_c", "vgg_d",
           "vgg_e", "MODELS"]

# Table 1 of the paper, one line per block. "conv<k>-<c>": a k x k convolution (stride 1,
# padding k // 2) with c output channels, then ReLU; "LRN": Krizhevsky's local response
# normalisation; "maxpool": 2x2 max pooling with stride 2.
cfgs: dict[str, list[str]] = {
    "A": [
        "conv3-64", "maxpool",
        "conv3-128", "maxpool",
        "conv3-256", "conv3-256", "maxpool",
        "conv3-512", "conv3-512", "maxpool",
        "conv3-512", "conv3-512", "maxpool",
    ],
    "A-LRN": [
        "conv3-64", "LRN", "maxpool",
        "conv3-128", "maxpool",
        "conv3-256", "conv3-256", "maxpool",
        "conv3-512", "conv3-512", "maxpool",
        "conv3-512", "conv3-512", "maxpool",
    ],
    "B": [
        "conv3-64", "conv3-64", "maxpool",
        "conv3-128", "conv3-128", "maxpool",
        "conv3-256", "conv3-256", "maxpool",
        "conv3-512", "conv3-512", "maxpool",
        "conv3-512", "conv3-512", "maxpool",
    ],
    "C": [
        "conv3-64", "conv3-64", "maxpool",
        "conv3-128", "conv3-128", "maxpool",
        "conv3-256", "conv3-256", "conv1-256", "maxpool",
        "conv3-512", "conv3-512", "conv1-512", "maxpool",
        "conv3-512", "conv3-512", "conv1-512", "maxpool",
    ],
    "D": [
        "conv3-64", "conv3-64", "maxpool",
        "conv3-128", "conv3-128", "maxpool",
        "conv3-256", "conv3-256", "conv3-256", "maxpool",
        "conv3-512", "conv3-512", "conv3-512", "maxpool",
        "conv3-512", "conv3-512", "conv3-512", "maxpool",
    ],
    "E": [
        "conv3-64", "conv3-64", "maxpool",
        "conv3-128", "conv3-128", "maxpool",
        "conv3-256", "conv3-256", "conv3-256", "conv3-256", "maxpool",
        "conv3-512", "conv3-512", "conv3-512", "conv3-512", "maxpool",
        "conv3-512", "conv3-512", "conv3-512", "conv3-512", "maxpool",
    ],
}


def make_layers(cfg: list[str], batch_norm: bool = False, in_channels: int = 3) -> nn.Sequential:
    """The convolutional part of a VGG from a column of `cfgs`.

    Each "conv<k>-<c>" becomes Conv2d(k, padding k // 2), [BatchNorm2d,] ReLU; "LRN" becomes
    `krizhevsky_lrn()`; "maxpool" MaxPool2d(2, 2). Modules are numbered in that order, which
    for configurations A, B, D and E is torchvision's `features.<index>` numbering.

    Raises:
        ValueError: for an entry that is none of these.
    """
    layers: list[Module] = []
    for entry in cfg:
        if entry == "maxpool":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        elif entry == "LRN":
            layers.append(krizhevsky_lrn())
        elif entry.startswith("conv") and "-" in entry:
            kernel, width = entry[len("conv"):].split("-")
            k, out_channels = int(kernel), int(width)
            layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=k, padding=k // 2))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU(inplace=True))
            in_channels = out_channels
        else:
            raise ValueError(f"unknown VGG layer {entry!r}; expected 'conv<k>-<channels>', "
                             f"'LRN' or 'maxpool'")
    return nn.Sequential(*layers)


class VGG(Module):
    """A VGG network: `features` (from `make_layers`), adaptive pooling to 7x7, and the
    classifier FC-4096 - ReLU - dropout - FC-4096 - ReLU - dropout - FC-num_classes.

    Initialisation (torchvision's, when `init_weights`): convolutions kaiming_normal_(fan_out,
    relu), i.e. N(0, 2 / (C_out * k * k)), biases 0; batch norm weight 1, bias 0; linear
    layers N(0, 0.01^2), biases 0.

    Args:
        features: the convolutional part, ending in 512 channels.
        num_classes: outputs of the last layer.
        init_weights: apply the initialisation above (else PyTorch's layer defaults stay).
        dropout: dropout probability after the first two fully connected layers.

    Shape:
        input (N, C, H, W), H, W >= 32 -> output (N, num_classes); 224x224 in the paper.
    """

    def __init__(self, features: Module, num_classes: int = 1000, init_weights: bool = True,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    if m.weight is not None and m.bias is not None:
                        init.constant_(m.weight, 1)
                        init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    init.normal_(m.weight, 0, 0.01)
                    init.constant_(m.bias, 0)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)                    # (N, 512, H/32, W/32)
        x = self.avgpool(x)                     # (N, 512, 7, 7)
        x = numcnn.flatten(x, 1)                # (N, 25088)
        return self.classifier(x)               # (N, num_classes)


def _vgg(cfg: str, batch_norm: bool, num_classes: int, in_channels: int,
         dropout: float) -> VGG:
    return VGG(make_layers(cfgs[cfg], batch_norm=batch_norm, in_channels=in_channels),
               num_classes=num_classes, dropout=dropout)


def vgg11(*, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5,
          weights: VGG11_Weights | str | None = None, progress: bool = True) -> VGG:
    """VGG-11, configuration A of Simonyan & Zisserman, "Very Deep Convolutional Networks for
    Large-Scale Image Recognition" (ICLR 2015). 132,863,336 parameters at 1000 classes."""
    w = VGG11_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _vgg("A", False, num_classes, in_channels, dropout)
    return load_pretrained(model, w, progress)


def vgg11_bn(*, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5,
             weights: VGG11_BN_Weights | str | None = None, progress: bool = True) -> VGG:
    """VGG-11 (configuration A of Simonyan & Zisserman, ICLR 2015) with batch normalisation
    (Ioffe & Szegedy, 2015) after every convolution, as torchvision builds it.
    132,868,840 parameters at 1000 classes."""
    w = VGG11_BN_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _vgg("A", True, num_classes, in_channels, dropout)
    return load_pretrained(model, w, progress)


def vgg13(*, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5,
          weights: VGG13_Weights | str | None = None, progress: bool = True) -> VGG:
    """VGG-13, configuration B of Simonyan & Zisserman, "Very Deep Convolutional Networks for
    Large-Scale Image Recognition" (ICLR 2015). 133,047,848 parameters at 1000 classes."""
    w = VGG13_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _vgg("B", False, num_classes, in_channels, dropout)
    return load_pretrained(model, w, progress)


def vgg13_bn(*, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5,
             weights: VGG13_BN_Weights | str | None = None, progress: bool = True) -> VGG:
    """VGG-13 (configuration B of Simonyan & Zisserman, ICLR 2015) with batch normalisation
    after every convolution, as torchvision builds it. 133,053,736 parameters at 1000 classes."""
    w = VGG13_BN_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _vgg("B", True, num_classes, in_channels, dropout)
    return load_pretrained(model, w, progress)


def vgg16(*, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5,
          weights: VGG16_Weights | str | None = None, progress: bool = True) -> VGG:
    """VGG-16, configuration D of Simonyan & Zisserman, "Very Deep Convolutional Networks for
    Large-Scale Image Recognition" (ICLR 2015). 138,357,544 parameters at 1000 classes."""
    w = VGG16_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _vgg("D", False, num_classes, in_channels, dropout)
    return load_pretrained(model, w, progress)


def vgg16_bn(*, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5,
             weights: VGG16_BN_Weights | str | None = None, progress: bool = True) -> VGG:
    """VGG-16 (configuration D of Simonyan & Zisserman, ICLR 2015) with batch normalisation
    after every convolution, as torchvision builds it. 138,365,992 parameters at 1000 classes."""
    w = VGG16_BN_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _vgg("D", True, num_classes, in_channels, dropout)
    return load_pretrained(model, w, progress)


def vgg19(*, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5,
          weights: VGG19_Weights | str | None = None, progress: bool = True) -> VGG:
    """VGG-19, configuration E of Simonyan & Zisserman, "Very Deep Convolutional Networks for
    Large-Scale Image Recognition" (ICLR 2015). 143,667,240 parameters at 1000 classes."""
    w = VGG19_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _vgg("E", False, num_classes, in_channels, dropout)
    return load_pretrained(model, w, progress)


def vgg19_bn(*, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5,
             weights: VGG19_BN_Weights | str | None = None, progress: bool = True) -> VGG:
    """VGG-19 (configuration E of Simonyan & Zisserman, ICLR 2015) with batch normalisation
    after every convolution, as torchvision builds it. 143,678,248 parameters at 1000 classes."""
    w = VGG19_BN_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = _vgg("E", True, num_classes, in_channels, dropout)
    return load_pretrained(model, w, progress)


def vgg_a(*, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """Configuration A (11 weight layers) of Simonyan & Zisserman, "Very Deep Convolutional
    Networks for Large-Scale Image Recognition" (ICLR 2015), Table 1; the same network as
    `vgg11`. 132,863,336 parameters at 1000 classes (Table 2: 133 million)."""
    return _vgg("A", False, num_classes, in_channels, dropout)


def vgg_a_lrn(*, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """Configuration A-LRN of Simonyan & Zisserman (ICLR 2015), Table 1: A with local response
    normalisation (Krizhevsky's constants) after the first convolution, which the paper found
    did not help. 132,863,336 parameters at 1000 classes (Table 2: 133 million)."""
    return _vgg("A-LRN", False, num_classes, in_channels, dropout)


def vgg_b(*, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """Configuration B (13 weight layers) of Simonyan & Zisserman (ICLR 2015), Table 1; the same
    network as `vgg13`. 133,047,848 parameters at 1000 classes (Table 2: 133 million)."""
    return _vgg("B", False, num_classes, in_channels, dropout)


def vgg_c(*, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """Configuration C (16 weight layers) of Simonyan & Zisserman (ICLR 2015), Table 1: B with
    a 1x1 convolution closing each of the last three blocks (more non-linearity, same receptive
    field). 133,638,952 parameters at 1000 classes (Table 2: 134 million)."""
    return _vgg("C", False, num_classes, in_channels, dropout)


def vgg_d(*, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """Configuration D (16 weight layers) of Simonyan & Zisserman (ICLR 2015), Table 1; the same
    network as `vgg16`. 138,357,544 parameters at 1000 classes (Table 2: 138 million)."""
    return _vgg("D", False, num_classes, in_channels, dropout)


def vgg_e(*, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """Configuration E (19 weight layers) of Simonyan & Zisserman (ICLR 2015), Table 1; the same
    network as `vgg19`. 143,667,240 parameters at 1000 classes (Table 2: 144 million)."""
    return _vgg("E", False, num_classes, in_channels, dropout)


MODELS: dict[str, Callable[..., Module]] = {
    "vgg11": vgg11,
    "vgg11_bn": vgg11_bn,
    "vgg13": vgg13,
    "vgg13_bn": vgg13_bn,
    "vgg16": vgg16,
    "vgg16_bn": vgg16_bn,
    "vgg19": vgg19,
    "vgg19_bn": vgg19_bn,
    "vgg_a": vgg_a,
    "vgg_a_lrn": vgg_a_lrn,
    "vgg_b": vgg_b,
    "vgg_c": vgg_c,
    "vgg_d": vgg_d,
    "vgg_e": vgg_e,
}
