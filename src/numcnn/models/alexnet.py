"""AlexNet and ZFNet: the eight-layer ImageNet networks of 2012-2013.

Three networks, one idea (five convolutions, three fully connected layers):

- `alexnet`: torchvision's single-GPU variant (64-192-384-256-256 channels, no LRN, adaptive
  pooling to 6x6), with torchvision's state_dict keys, so its pretrained weights load.
- `alexnet_original`: the network of the paper, Krizhevsky, Sutskever & Hinton (2012):
  227x227 input, 96-256-384-384-256 channels, local response normalisation after conv1 and
  conv2, overlapping 3x3/2 max pooling, and the two-GPU split written as grouped convolutions
  (`groups=2` on conv2, conv4 and conv5, whose kernels saw only their own GPU's half of the
  channels; conv3 and the fully connected layers talked across GPUs).
- `zfnet`: Zeiler & Fergus (2013), AlexNet retuned after visualising it: a 7x7/2 first layer
  instead of 11x11/4, a 5x5/2 second layer, dense (ungrouped) layers 3-5.

Feature map sizes (one image, height = width), output = floor((in + 2*pad - k) / stride) + 1:

    alexnet_original at 227:  conv1 11/4 -> 55, pool 3/2 -> 27, conv2 5/1 pad 2 -> 27,
                              pool -> 13, conv3-5 3/1 pad 1 -> 13, pool -> 6;  256*6*6 = 9216
    zfnet at 224:             conv1 7/2 pad 1 -> 110, pool 3/2 -> 55 (ceil), conv2 5/2 -> 26,
                              pool -> 13 (ceil), conv3-5 3/1 pad 1 -> 13, pool -> 6

Axis legend: N batch, C channels, H/W height/width.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

import numcnn
from numcnn import nn
from numcnn.models.weights import (
    AlexNet_Weights,
    check_pretrained_args,
    load_pretrained,
)
from numcnn.nn import init
from numcnn.nn.module import Module
from numcnn.tensor import Tensor

__all__ = ["AlexNet", "AlexNetOriginal", "ZFNet", "alexnet", "alexnet_original", "zfnet",
           "krizhevsky_lrn", "MODELS"]


def krizhevsky_lrn() -> nn.LocalResponseNorm:
    """Local response normalisation with the constants of Krizhevsky et al. (2012), Sec. 3.3:

        b[i] = a[i] / (k + alpha * sum_{j=i-n/2}^{i+n/2} a[j]^2)^beta,
        k = 2, n = 5, alpha = 1e-4, beta = 0.75.

    `nn.LocalResponseNorm` (like PyTorch's and Caffe's) divides alpha by the window size n,
    so the paper's alpha is passed as n * alpha = 5e-4.
    """
    size, alpha = 5, 1e-4
    return nn.LocalResponseNorm(size, alpha=size * alpha, beta=0.75, k=2.0)


class AlexNet(Module):
    """torchvision's AlexNet ("one weird trick" single-GPU variant of Krizhevsky et al., 2012).

    Same modules, state_dict keys and default initialisation (PyTorch's layer defaults) as
    `torchvision.models.AlexNet`.

    Args:
        num_classes: outputs of the last layer.
        dropout: dropout probability before the first two fully connected layers.
        in_channels: channels of the input image.

    Shape:
        input (N, in_channels, H, W), H, W >= 63 -> output (N, num_classes).
        The features are pooled adaptively to 6x6, so any such size works; 224 is ImageNet's.
    """

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5,
                 in_channels: int = 3) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)                    # (N, 256, h, w)
        x = self.avgpool(x)                     # (N, 256, 6, 6)
        x = numcnn.flatten(x, 1)                # (N, 9216)
        return self.classifier(x)               # (N, num_classes)


def _classifier_fc6_fc8(num_classes: int, dropout: float) -> nn.Sequential:
    """fc6, fc7 (4096 each, ReLU, dropout on their outputs as in the paper) and fc8."""
    return nn.Sequential(OrderedDict([
        ("fc6", nn.Linear(256 * 6 * 6, 4096)),
        ("relu6", nn.ReLU(inplace=True)),
        ("drop6", nn.Dropout(p=dropout)),
        ("fc7", nn.Linear(4096, 4096)),
        ("relu7", nn.ReLU(inplace=True)),
        ("drop7", nn.Dropout(p=dropout)),
        ("fc8", nn.Linear(4096, num_classes)),
    ]))


def _init_like_paper(model: Module, bias_one: tuple[str, ...]) -> None:
    """Weights ~ N(0, 0.01^2); biases 1 in the layers named in `bias_one`, 0 elsewhere."""
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            init.normal_(m.weight, 0.0, 0.01)
            if m.bias is not None:
                init.constant_(m.bias, 1.0 if name.rsplit(".", 1)[-1] in bias_one else 0.0)


class AlexNetOriginal(Module):
    """AlexNet as in the paper (Krizhevsky, Sutskever & Hinton, 2012, Sec. 3 and Fig. 2).

    features: conv1 96x11x11/4 - ReLU - LRN - maxpool 3/2
              conv2 256x5x5 pad 2 (2 groups) - ReLU - LRN - maxpool 3/2
              conv3 384x3x3 pad 1 - ReLU
              conv4 384x3x3 pad 1 (2 groups) - ReLU
              conv5 256x3x3 pad 1 (2 groups) - ReLU - maxpool 3/2
    classifier: fc6 4096 - ReLU - dropout, fc7 4096 - ReLU - dropout, fc8 num_classes

    The paper split every layer over two GPUs; conv2, conv4 and conv5 saw only the maps on
    their own GPU, which is a convolution with groups=2 (e.g. conv2's kernels are 5x5x48).

    Args:
        num_classes: outputs of fc8.
        in_channels: channels of the input image.
        dropout: dropout probability on the outputs of fc6 and fc7.
        paper_init: initialise as in Sec. 5 (weights N(0, 0.01^2); biases 1 in conv2, conv4,
            conv5, fc6 and fc7, 0 elsewhere) instead of PyTorch's layer defaults.

    Shape:
        input (N, in_channels, 227, 227) -> output (N, num_classes).  There is no adaptive
        pooling: fc6 expects 256x6x6 maps, which sizes 227 to 258 give.
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5,
                 paper_init: bool = False) -> None:
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(in_channels, 96, kernel_size=11, stride=4)),
            ("relu1", nn.ReLU(inplace=True)),
            ("norm1", krizhevsky_lrn()),
            ("pool1", nn.MaxPool2d(kernel_size=3, stride=2)),
            ("conv2", nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=2)),
            ("relu2", nn.ReLU(inplace=True)),
            ("norm2", krizhevsky_lrn()),
            ("pool2", nn.MaxPool2d(kernel_size=3, stride=2)),
            ("conv3", nn.Conv2d(256, 384, kernel_size=3, padding=1)),
            ("relu3", nn.ReLU(inplace=True)),
            ("conv4", nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=2)),
            ("relu4", nn.ReLU(inplace=True)),
            ("conv5", nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=2)),
            ("relu5", nn.ReLU(inplace=True)),
            ("pool5", nn.MaxPool2d(kernel_size=3, stride=2)),
        ]))
        self.classifier = _classifier_fc6_fc8(num_classes, dropout)
        if paper_init:
            _init_like_paper(self, bias_one=("conv2", "conv4", "conv5", "fc6", "fc7"))

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)                    # (N, 256, 6, 6)
        x = numcnn.flatten(x, 1)                # (N, 9216)
        return self.classifier(x)               # (N, num_classes)


class ZFNet(Module):
    """The network of Zeiler & Fergus (2013), Fig. 3: AlexNet with a smaller first-layer filter
    and stride, found by visualising the trained AlexNet's first two layers.

    features: conv1 96x7x7/2 pad 1 - ReLU - maxpool 3/2 - contrast norm (LRN)
              conv2 256x5x5/2 - ReLU - maxpool 3/2 - contrast norm (LRN)
              conv3 384x3x3 pad 1 - ReLU, conv4 384x3x3 pad 1 - ReLU,
              conv5 256x3x3 pad 1 - ReLU - maxpool 3/2
    classifier: fc6 4096 - ReLU - dropout, fc7 4096 - ReLU - dropout, fc8 num_classes

    Layers 3-5 are dense (one GPU, no groups). The paper gives the map sizes 110, 55, 26, 13,
    13, 13, 6 for a 224x224 input; pooling rounds up (ceil_mode, as Caffe did) to get 55 and 13.
    The paper names no constants for its normalisation; Krizhevsky's LRN is used.

    Args:
        num_classes: outputs of fc8.
        in_channels: channels of the input image.
        dropout: dropout probability on the outputs of fc6 and fc7.
        paper_init: initialise as in Sec. 3 (weights N(0, 0.01^2), biases 0) instead of
            PyTorch's layer defaults.

    Shape:
        input (N, in_channels, 224, 224) -> output (N, num_classes).  There is no adaptive
        pooling: fc6 expects 256x6x6 maps, which sizes 207 to 238 give.
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5,
                 paper_init: bool = False) -> None:
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(in_channels, 96, kernel_size=7, stride=2, padding=1)),
            ("relu1", nn.ReLU(inplace=True)),
            ("pool1", nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)),
            ("norm1", krizhevsky_lrn()),
            ("conv2", nn.Conv2d(96, 256, kernel_size=5, stride=2)),
            ("relu2", nn.ReLU(inplace=True)),
            ("pool2", nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)),
            ("norm2", krizhevsky_lrn()),
            ("conv3", nn.Conv2d(256, 384, kernel_size=3, padding=1)),
            ("relu3", nn.ReLU(inplace=True)),
            ("conv4", nn.Conv2d(384, 384, kernel_size=3, padding=1)),
            ("relu4", nn.ReLU(inplace=True)),
            ("conv5", nn.Conv2d(384, 256, kernel_size=3, padding=1)),
            ("relu5", nn.ReLU(inplace=True)),
            ("pool5", nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)),
        ]))
        self.classifier = _classifier_fc6_fc8(num_classes, dropout)
        if paper_init:
            _init_like_paper(self, bias_one=())

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)                    # (N, 256, 6, 6)
        x = numcnn.flatten(x, 1)                # (N, 9216)
        return self.classifier(x)               # (N, num_classes)


def alexnet(*, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5,
            weights: AlexNet_Weights | str | None = None, progress: bool = True) -> AlexNet:
    """AlexNet as torchvision builds it, from Krizhevsky, Sutskever & Hinton, "ImageNet
    Classification with Deep Convolutional Neural Networks" (NeurIPS 2012), in the single-GPU
    form of Krizhevsky, "One weird trick for parallelizing convolutional neural networks" (2014).

    61,100,840 parameters at 1000 classes; torchvision's state_dict keys.
    """
    w = AlexNet_Weights.verify(weights)
    check_pretrained_args(w, num_classes=num_classes, in_channels=in_channels)
    model = AlexNet(num_classes=num_classes, dropout=dropout, in_channels=in_channels)
    return load_pretrained(model, w, progress)


def alexnet_original(*, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5,
                     paper_init: bool = False) -> AlexNetOriginal:
    """AlexNet as published: Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep
    Convolutional Neural Networks" (NeurIPS 2012): 227x227 input, 96-256-384-384-256 channels,
    LRN, overlapping pooling, the two-GPU split as groups=2 on conv2, conv4 and conv5.

    60,965,224 parameters at 1000 classes (2,334,080 in the convolutions).
    """
    return AlexNetOriginal(num_classes=num_classes, in_channels=in_channels, dropout=dropout,
                           paper_init=paper_init)


def zfnet(*, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5,
          paper_init: bool = False) -> ZFNet:
    """ZFNet: Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks"
    (arXiv 2013, ECCV 2014), Fig. 3: 224x224 input, 7x7/2 conv1 with 96 filters, 5x5/2 conv2
    with 256, then 384-384-256 dense 3x3 layers.

    62,357,608 parameters at 1000 classes (3,726,464 in the convolutions).
    """
    return ZFNet(num_classes=num_classes, in_channels=in_channels, dropout=dropout,
                 paper_init=paper_init)


MODELS: dict[str, Callable[..., Module]] = {
    "alexnet": alexnet,
    "alexnet_original": alexnet_original,
    "zfnet": zfnet,
}
