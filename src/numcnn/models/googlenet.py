"""GoogLeNet (Szegedy et al., 2015), the Inception-v1 network that won ILSVRC 2014.

An Inception module runs four branches side by side on the same input and concatenates them
along the channels: a 1x1 convolution; 1x1 "reduce" then 3x3; 1x1 reduce then a second larger
filter; 3x3 max pool then a 1x1 "pool proj".  The 1x1 reductions are what keep the network at
6.6M parameters (AlexNet: 61M).  Two auxiliary classifiers on the outputs of inception (4a) and
(4d) add gradient to the middle of the network during training (weighted 0.3 in the paper's
loss) and are dropped at inference.

Layout, `state_dict` keys and initialisation follow torchvision's `googlenet.py`, which adds
batch norm (eps 0.001) to every convolution.  Two deliberate differences from the paper come
from torchvision and are kept so its weights load: the third branch uses a 3x3 convolution where
the paper has 5x5 (a known bug of the port, frozen by the published weights), and the max pools
use ceil_mode.

Axes: N batch, C channels, H/W height/width; shapes in comments are for a 224x224 input.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, NamedTuple

import numcnn
import numcnn.nn as nn
from numcnn.models.weights import (
    GoogLeNet_Weights,
    check_pretrained_args,
    google_weights_args,
    load_pretrained,
)
from numcnn.nn import fastpath, init
from numcnn.tensor import Tensor

__all__ = ["GoogLeNet", "GoogLeNetOutputs", "BasicConv2d", "Inception", "InceptionAux",
           "imagenet_to_inception_input", "googlenet", "MODELS"]


class GoogLeNetOutputs(NamedTuple):
    """What `GoogLeNet` returns in training mode with `aux_logits=True` (torchvision's order)."""

    logits: Tensor
    aux_logits2: Tensor
    aux_logits1: Tensor


class BasicConv2d(nn.Module):
    """Conv2d (no bias) - BatchNorm2d (eps 0.001) - ReLU, the unit of GoogLeNet and Inception-v3.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        **kwargs: passed to `nn.Conv2d` (kernel_size, stride, padding).
    """

    def __init__(self, in_channels: int, out_channels: int, **kwargs: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return fastpath.chain(x, self.conv, self.bn, self.relu)   # BN folded in eval (no_grad)


def imagenet_to_inception_input(x: Tensor) -> Tensor:
    """Re-normalise an input normalised with ImageNet's mean and std, (x - mean) / std, to the
    (x - 0.5) / 0.5 scaling that Google's ported GoogLeNet and Inception-v3 weights expect.

    Shape:
        (N, 3, H, W) -> (N, 3, H, W)
    """
    channels = []
    for c, (mean, std) in enumerate(zip((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))):
        channels.append(x[:, c:c + 1] * (std / 0.5) + (mean - 0.5) / 0.5)
    return numcnn.cat(channels, 1)


class Inception(nn.Module):
    """The Inception module of the paper's Table 1: four branches, concatenated.

    Args:
        in_channels: input channels.
        ch1x1: "#1x1", the 1x1 branch.
        ch3x3red: "#3x3 reduce", the 1x1 before the 3x3.
        ch3x3: "#3x3".
        ch5x5red: "#5x5 reduce".
        ch5x5: "#5x5" (a 3x3 convolution here, as in torchvision; see the module docstring).
        pool_proj: "pool proj", the 1x1 after the 3x3 max pool.

    Shape:
        (N, in_channels, H, W) -> (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W)
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int,
                 ch5x5: int, pool_proj: int) -> None:
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(in_channels, ch3x3red, kernel_size=1),
            BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(
            BasicConv2d(in_channels, ch5x5red, kernel_size=1),
            # kernel_size=3 where the paper has 5: torchvision's known bug, kept for its weights
            BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(in_channels, pool_proj, kernel_size=1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return numcnn.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """An auxiliary classifier: 5x5/3 average pool (adaptive to 4x4 here) - 1x1 conv 128 -
    FC 1024 - ReLU - dropout 0.7 - FC num_classes.

    Shape:
        (N, in_channels, H, W) -> (N, num_classes)   (H = W = 14 at a 224x224 input)
    """

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d((4, 4))
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(p=dropout)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(x)                 # (N, C, 4, 4)
        x = self.conv(x)                    # (N, 128, 4, 4)
        x = numcnn.flatten(x, 1)            # (N, 2048)
        x = self.relu(self.fc1(x))          # (N, 1024)
        x = self.dropout(x)
        return self.fc2(x)                  # (N, num_classes)


class GoogLeNet(nn.Module):
    """GoogLeNet, torchvision's layout.

    Args:
        num_classes: output classes.
        aux_logits: build the two auxiliary classifiers (aux1 after 4a, aux2 after 4d).
        transform_input: re-normalise ImageNet-normalised input for Google's ported weights
            (see `imagenet_to_inception_input`); needs 3 input channels.
        init_weights: initialise as torchvision does (else keep each layer's default).
        dropout: dropout before the last Linear (torchvision: 0.2; the paper: 0.4).
        dropout_aux: dropout inside the auxiliary classifiers (0.7, the paper's).
        in_channels: input image channels.

    Returns (from forward): the logits (N, num_classes); in training mode with `aux_logits`,
    `GoogLeNetOutputs(logits, aux_logits2, aux_logits1)`.
    """

    def __init__(self, num_classes: int = 1000, aux_logits: bool = True,
                 transform_input: bool = False, init_weights: bool = True, dropout: float = 0.2,
                 dropout_aux: float = 0.7, in_channels: int = 3) -> None:
        super().__init__()
        if transform_input and in_channels != 3:
            raise ValueError(f"GoogLeNet: transform_input needs in_channels=3, got {in_channels}")
        self.aux_logits = aux_logits
        self.transform_input = transform_input

        self.conv1 = BasicConv2d(in_channels, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        # Table 1:                  in, #1x1, #3x3red, #3x3, #5x5red, #5x5, pool proj
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)

        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)

        self.aux1: InceptionAux | None = None
        self.aux2: InceptionAux | None = None
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout=dropout_aux)
            self.aux2 = InceptionAux(528, num_classes, dropout=dropout_aux)

        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)

        # torchvision's initialisation: N(0, 0.01) truncated to [-2, 2] (absolute bounds, so in
        # effect untruncated) for every conv and Linear weight; the Linear biases keep their
        # default U(-1/sqrt(fan_in), 1/sqrt(fan_in)) and BN its default weight 1, bias 0.
        if init_weights:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)

    def forward(self, x: Tensor) -> Tensor | GoogLeNetOutputs:
        if self.transform_input:
            x = imagenet_to_inception_input(x)
        x = self.conv1(x)                   # (N, 64, 112, 112)
        x = self.maxpool1(x)                # (N, 64, 56, 56)
        x = self.conv2(x)                   # (N, 64, 56, 56)
        x = self.conv3(x)                   # (N, 192, 56, 56)
        x = self.maxpool2(x)                # (N, 192, 28, 28)
        x = self.inception3a(x)             # (N, 256, 28, 28)
        x = self.inception3b(x)             # (N, 480, 28, 28)
        x = self.maxpool3(x)                # (N, 480, 14, 14)
        x = self.inception4a(x)             # (N, 512, 14, 14)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4b(x)             # (N, 512, 14, 14)
        x = self.inception4c(x)             # (N, 512, 14, 14)
        x = self.inception4d(x)             # (N, 528, 14, 14)
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.inception4e(x)             # (N, 832, 14, 14)
        x = self.maxpool4(x)                # (N, 832, 7, 7)
        x = self.inception5a(x)             # (N, 832, 7, 7)
        x = self.inception5b(x)             # (N, 1024, 7, 7)
        x = self.avgpool(x)                 # (N, 1024, 1, 1)
        x = numcnn.flatten(x, 1)
        x = self.dropout(x)
        x = self.fc(x)                      # (N, num_classes)
        if aux1 is not None and aux2 is not None:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


def googlenet(num_classes: int = 1000, aux_logits: bool | None = None,
              transform_input: bool | None = None, in_channels: int = 3, *,
              weights: GoogLeNet_Weights | str | None = None, progress: bool = True,
              **kwargs: Any) -> GoogLeNet:
    """GoogLeNet from Szegedy, Liu, Jia, Sermanet, Reed, Anguelov, Erhan, Vanhoucke and
    Rabinovich, "Going Deeper with Convolutions" (CVPR 2015), in torchvision's batch-normalised
    layout.

    6,624,904 trainable parameters at 1000 classes; 13,004,888 with `aux_logits=True` (aux1 adds
    3,188,968, aux2 3,191,016). Unlike torchvision's `GoogLeNet` class, the factory
    leaves the auxiliary classifiers out unless asked (`googlenet(aux_logits=True)`).

    With `weights` (torchvision's rules): `transform_input` defaults to True (Google's weights
    expect the re-normalised input), the model is built with the auxiliary classifiers and
    `init_weights=False`, loaded, and the auxiliary classifiers are then dropped unless
    `aux_logits=True` was given (they are not pretrained: a warning says so); passing
    `aux_logits=False`, `init_weights=True` or another `num_classes` raises ValueError.

    Args:
        num_classes: output classes.
        aux_logits: add the two auxiliary classifiers (used in training mode only); default
            False.
        transform_input: see `GoogLeNet`; default False, True with `weights`.
        in_channels: input image channels.
        weights: None, "DEFAULT", a `GoogLeNet_Weights` member or its name.
        progress: show a progress bar while downloading the weights.
        **kwargs: the other `GoogLeNet` arguments (init_weights, dropout, dropout_aux).
    """
    w = GoogLeNet_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    keep_aux = bool(aux_logits)
    aux, transform = google_weights_args(w, aux_logits, transform_input, kwargs)
    model = GoogLeNet(num_classes=num_classes, aux_logits=aux, transform_input=transform,
                      in_channels=in_channels, **kwargs)
    if w is not None:
        load_pretrained(model, w, progress)
        if not keep_aux:
            model.aux_logits = False
            model.aux1 = None
            model.aux2 = None
        else:
            warnings.warn("auxiliary heads in the pretrained googlenet model are NOT "
                          "pretrained, so make sure to train them", stacklevel=2)
    return model


MODELS: dict[str, Callable[..., nn.Module]] = {
    "googlenet": googlenet,
}
