"""Inception-v3 (Szegedy, Vanhoucke, Ioffe, Shlens and Wojna, 2016).

"Rethinking the Inception Architecture for Computer Vision" refines GoogLeNet's module with its
principles of factorisation, each a block class below (the paper's figure in brackets):

- InceptionA [Fig. 5]: a 5x5 replaced by two stacked 3x3 (same receptive field, 18/25 of the
  cost); used at 35x35.
- InceptionB [Fig. 10]: grid-size reduction 35 -> 17 by stride-2 convolution and pooling in
  parallel, concatenated (no representational bottleneck, no expensive conv before the pool).
- InceptionC [Fig. 6]: n x n factorised into 1 x n then n x 1 (n = 7); used at 17x17.
- InceptionD: grid-size reduction 17 -> 8.
- InceptionE [Fig. 7]: expanded filter banks, the 1x3 and 3x1 outputs concatenated side by
  side rather than stacked; used at 8x8.
- InceptionAux [Fig. 8]: one auxiliary classifier on the 17x17 grid, which the paper finds acts
  as a regulariser (with batch norm).

Layout, `state_dict` keys (Conv2d_1a_3x3, Mixed_5b, ..., AuxLogits) and initialisation follow
torchvision's `inception.py`; its weights are a port of Google's TensorFlow model, trained on
299x299 inputs scaled to [-1, 1] (`transform_input`).

Axes: N batch, C channels, H/W height/width; shapes in comments are for a 299x299 input.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numcnn
import numcnn.nn as nn
from numcnn.models.googlenet import BasicConv2d, imagenet_to_inception_input
from numcnn.models.weights import (
    Inception_V3_Weights,
    check_pretrained_args,
    google_weights_args,
    load_pretrained,
)
from numcnn.nn import init
from numcnn.tensor import Tensor

__all__ = ["Inception3", "InceptionOutputs", "InceptionA", "InceptionB", "InceptionC",
           "InceptionD", "InceptionE", "InceptionAux", "inception_v3", "MODELS"]


class InceptionOutputs(NamedTuple):
    """What `Inception3` returns in training mode with `aux_logits=True`."""

    logits: Tensor
    aux_logits: Tensor


class InceptionA(nn.Module):
    """35x35 module: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1.

    Shape:
        (N, in_channels, H, W) -> (N, 224 + pool_features, H, W)
    """

    def __init__(self, in_channels: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)

        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)

        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)

        self.pool = nn.AvgPool2d(kernel_size=3, stride=1, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        branch1x1 = self.branch1x1(x)
        branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        branch_pool = self.branch_pool(self.pool(x))
        return numcnn.cat([branch1x1, branch5x5, branch3x3dbl, branch_pool], 1)


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17: 3x3/2 | 1x1-3x3-3x3/2 | maxpool 3x3/2.

    Shape:
        (N, C, H, W) -> (N, 480 + C, (H-3)//2 + 1, (W-3)//2 + 1)
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)

        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

        self.pool = nn.MaxPool2d(kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        branch3x3 = self.branch3x3(x)
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        branch_pool = self.pool(x)
        return numcnn.cat([branch3x3, branch3x3dbl, branch_pool], 1)


class InceptionC(nn.Module):
    """17x17 module with 7x7 factorised into 1x7 and 7x1:
    1x1 | 1x1-1x7-7x1 | 1x1-7x1-1x7-7x1-1x7 | avgpool-1x1.

    Shape:
        (N, in_channels, H, W) -> (N, 768, H, W)
    """

    def __init__(self, in_channels: int, channels_7x7: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)

        c7 = channels_7x7
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))

        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))

        self.pool = nn.AvgPool2d(kernel_size=3, stride=1, padding=1)
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        branch1x1 = self.branch1x1(x)

        branch7x7 = self.branch7x7_1(x)
        branch7x7 = self.branch7x7_2(branch7x7)
        branch7x7 = self.branch7x7_3(branch7x7)

        branch7x7dbl = self.branch7x7dbl_1(x)
        branch7x7dbl = self.branch7x7dbl_2(branch7x7dbl)
        branch7x7dbl = self.branch7x7dbl_3(branch7x7dbl)
        branch7x7dbl = self.branch7x7dbl_4(branch7x7dbl)
        branch7x7dbl = self.branch7x7dbl_5(branch7x7dbl)

        branch_pool = self.branch_pool(self.pool(x))
        return numcnn.cat([branch1x1, branch7x7, branch7x7dbl, branch_pool], 1)


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8: 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool 3x3/2.

    Shape:
        (N, C, H, W) -> (N, 512 + C, (H-3)//2 + 1, (W-3)//2 + 1)
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)

        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

        self.pool = nn.MaxPool2d(kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        branch3x3 = self.branch3x3_2(self.branch3x3_1(x))

        branch7x7x3 = self.branch7x7x3_1(x)
        branch7x7x3 = self.branch7x7x3_2(branch7x7x3)
        branch7x7x3 = self.branch7x7x3_3(branch7x7x3)
        branch7x7x3 = self.branch7x7x3_4(branch7x7x3)

        branch_pool = self.pool(x)
        return numcnn.cat([branch3x3, branch7x7x3, branch_pool], 1)


class InceptionE(nn.Module):
    """8x8 module with expanded filter banks:
    1x1 | 1x1-(1x3, 3x1) | 1x1-3x3-(1x3, 3x1) | avgpool-1x1, each pair side by side.

    Shape:
        (N, in_channels, H, W) -> (N, 2048, H, W)
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)

        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))

        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))

        self.pool = nn.AvgPool2d(kernel_size=3, stride=1, padding=1)
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        branch1x1 = self.branch1x1(x)

        branch3x3 = self.branch3x3_1(x)
        branch3x3 = numcnn.cat([self.branch3x3_2a(branch3x3), self.branch3x3_2b(branch3x3)], 1)

        branch3x3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        branch3x3dbl = numcnn.cat([self.branch3x3dbl_3a(branch3x3dbl),
                                   self.branch3x3dbl_3b(branch3x3dbl)], 1)

        branch_pool = self.branch_pool(self.pool(x))
        return numcnn.cat([branch1x1, branch3x3, branch3x3dbl, branch_pool], 1)


class InceptionAux(nn.Module):
    """The auxiliary classifier on the 17x17 grid: avgpool 5x5/3 - 1x1 conv 128 - 5x5 conv 768
    - global average - FC num_classes.

    Shape:
        (N, in_channels, 17, 17) -> (N, num_classes); the input must be at least 17x17 (the
        5x5/3 pool must leave 5x5 for the 5x5 convolution), i.e. a model input of >= 299x299.
    """

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(kernel_size=5, stride=3)
        self.conv0 = BasicConv2d(in_channels, 128, kernel_size=1)
        # torchvision also sets `conv1.stddev = 0.01`, but on this BasicConv2d wrapper, which its
        # init loop never reads (it reads nn.Conv2d and nn.Linear); conv1 therefore gets the
        # default 0.1, here as there.
        self.conv1 = BasicConv2d(128, 768, kernel_size=5)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(768, num_classes)
        self.fc.stddev = 0.001          # read by Inception3's init loop

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(x)                    # (N, 768, 5, 5)
        x = self.conv0(x)                   # (N, 128, 5, 5)
        x = self.conv1(x)                   # (N, 768, 1, 1)
        x = self.avgpool(x)                 # (N, 768, 1, 1)
        x = numcnn.flatten(x, 1)
        return self.fc(x)                   # (N, num_classes)


class Inception3(nn.Module):
    """Inception-v3, torchvision's layout.

    Args:
        num_classes: output classes.
        aux_logits: build the auxiliary classifier `AuxLogits` (used in training mode only;
            then the input must be at least 299x299).
        transform_input: re-normalise ImageNet-normalised input for Google's ported weights
            (see `numcnn.models.googlenet.imagenet_to_inception_input`); needs 3 channels.
        init_weights: initialise as torchvision does (else keep each layer's default).
        dropout: dropout before the last Linear.
        in_channels: input image channels.

    Returns (from forward): the logits (N, num_classes); in training mode with `aux_logits`,
    `InceptionOutputs(logits, aux_logits)`.  Inputs of at least 75x75 (299x299 as trained).
    """

    def __init__(self, num_classes: int = 1000, aux_logits: bool = True,
                 transform_input: bool = False, init_weights: bool = True, dropout: float = 0.5,
                 in_channels: int = 3) -> None:
        super().__init__()
        if transform_input and in_channels != 3:
            raise ValueError(f"Inception3: transform_input needs in_channels=3, got {in_channels}")
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        self.Conv2d_1a_3x3 = BasicConv2d(in_channels, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.AuxLogits: InceptionAux | None = None
        if aux_logits:
            self.AuxLogits = InceptionAux(768, num_classes)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(2048, num_classes)

        # torchvision's initialisation: every conv and Linear weight ~ N(0, stddev) truncated
        # to [-2, 2] (absolute bounds: in effect untruncated), stddev 0.1 unless the layer
        # carries its own (the auxiliary fc: 0.001); the Linear biases keep their default, and BN
        # its default weight 1, bias 0.
        if init_weights:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    stddev = float(getattr(m, "stddev", 0.1))
                    init.trunc_normal_(m.weight, mean=0.0, std=stddev, a=-2, b=2)

    def forward(self, x: Tensor) -> Tensor | InceptionOutputs:
        if self.transform_input:
            x = imagenet_to_inception_input(x)
        x = self.Conv2d_1a_3x3(x)           # (N, 32, 149, 149)
        x = self.Conv2d_2a_3x3(x)           # (N, 32, 147, 147)
        x = self.Conv2d_2b_3x3(x)           # (N, 64, 147, 147)
        x = self.maxpool1(x)                # (N, 64, 73, 73)
        x = self.Conv2d_3b_1x1(x)           # (N, 80, 73, 73)
        x = self.Conv2d_4a_3x3(x)           # (N, 192, 71, 71)
        x = self.maxpool2(x)                # (N, 192, 35, 35)
        x = self.Mixed_5b(x)                # (N, 256, 35, 35)
        x = self.Mixed_5c(x)                # (N, 288, 35, 35)
        x = self.Mixed_5d(x)                # (N, 288, 35, 35)
        x = self.Mixed_6a(x)                # (N, 768, 17, 17)
        x = self.Mixed_6b(x)                # (N, 768, 17, 17)
        x = self.Mixed_6c(x)                # (N, 768, 17, 17)
        x = self.Mixed_6d(x)                # (N, 768, 17, 17)
        x = self.Mixed_6e(x)                # (N, 768, 17, 17)
        aux = self.AuxLogits(x) if self.AuxLogits is not None and self.training else None
        x = self.Mixed_7a(x)                # (N, 1280, 8, 8)
        x = self.Mixed_7b(x)                # (N, 2048, 8, 8)
        x = self.Mixed_7c(x)                # (N, 2048, 8, 8)
        x = self.avgpool(x)                 # (N, 2048, 1, 1)
        x = self.dropout(x)
        x = numcnn.flatten(x, 1)            # (N, 2048)
        x = self.fc(x)                      # (N, num_classes)
        if aux is not None:
            return InceptionOutputs(x, aux)
        return x


def inception_v3(num_classes: int = 1000, aux_logits: bool | None = None,
                 transform_input: bool | None = None, in_channels: int = 3, *,
                 weights: Inception_V3_Weights | str | None = None, progress: bool = True,
                 **kwargs: Any) -> Inception3:
    """Inception-v3 from Szegedy, Vanhoucke, Ioffe, Shlens and Wojna, "Rethinking the Inception
    Architecture for Computer Vision" (CVPR 2016), Table 1, in torchvision's layout.

    23,834,568 trainable parameters at 1000 classes; 27,161,264 with `aux_logits=True` (the
    auxiliary classifier adds 3,326,696). Unlike torchvision's `Inception3` class, the factory
    leaves the auxiliary classifier out unless asked (`inception_v3(aux_logits=True)`).

    With `weights` (torchvision's rules): `transform_input` defaults to True, the model keeps
    its pretrained auxiliary classifier (aux_logits=True) and is built with
    `init_weights=False`; passing `aux_logits=False` raises ValueError (as torchvision), as
    do `init_weights=True` and another `num_classes`.

    Args:
        num_classes: output classes.
        aux_logits: add the auxiliary classifier (training mode only; inputs >= 299x299);
            default False, True with `weights`.
        transform_input: see `Inception3`; default False, True with `weights`.
        in_channels: input image channels.
        weights: None, "DEFAULT", an `Inception_V3_Weights` member or its name.
        progress: show a progress bar while downloading the weights.
        **kwargs: the other `Inception3` arguments (init_weights, dropout).
    """
    w = Inception_V3_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    aux, transform = google_weights_args(w, aux_logits, transform_input, kwargs)
    model = Inception3(num_classes=num_classes, aux_logits=aux, transform_input=transform,
                       in_channels=in_channels, **kwargs)
    return load_pretrained(model, w, progress)


MODELS: dict[str, Callable[..., nn.Module]] = {
    "inception_v3": inception_v3,
}
