"""The networks the analysis tests measure, written here from the seeds' tables and the papers
(independent of numcnn.models, which the tools are also run on)."""

from __future__ import annotations

import numcnn
import numcnn.nn as nn
import numcnn.nn.functional as F
from numcnn.tensor import Tensor

VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
             512, 512, 512, "M"]


def vgg16(width: int | None = None, pool: str = "max", classifier: bool = True) -> nn.Sequential:
    """VGG-16 (configuration D) as one Sequential: features, flatten, classifier.

    `width` replaces every channel count (a narrow twin with the same geometry), `pool="avg"`
    uses average pooling of the same window (the gradient oracle needs every path to carry).
    """
    layers: list[nn.Module] = []
    c = 3
    for v in VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2) if pool == "max" else nn.AvgPool2d(2, 2))
        else:
            out = width or int(v)
            layers += [nn.Conv2d(c, out, 3, padding=1), nn.ReLU(inplace=True)]
            c = out
    if not classifier:
        return nn.Sequential(*layers)
    return nn.Sequential(
        nn.Sequential(*layers), nn.Flatten(),
        nn.Sequential(nn.Linear(c * 7 * 7, 4096), nn.ReLU(inplace=True), nn.Dropout(),
                      nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(),
                      nn.Linear(4096, 1000)))


def alexnet_features(width: int | None = None, pool: str = "max") -> nn.Sequential:
    """torchvision's AlexNet feature extractor (Krizhevsky et al. 2012, one-GPU variant):
    conv11/4 p2 - pool3/2 - conv5 p2 - pool3/2 - conv3 p1 x3 - pool3/2."""
    def P() -> nn.Module:
        return nn.MaxPool2d(3, 2) if pool == "max" else nn.AvgPool2d(3, 2)
    w = [width or c for c in (64, 192, 384, 256, 256)]
    return nn.Sequential(
        nn.Conv2d(3, w[0], 11, stride=4, padding=2), nn.ReLU(inplace=True), P(),
        nn.Conv2d(w[0], w[1], 5, padding=2), nn.ReLU(inplace=True), P(),
        nn.Conv2d(w[1], w[2], 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(w[2], w[3], 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(w[3], w[4], 3, padding=1), nn.ReLU(inplace=True), P())


def fmnist_keras_cnn() -> nn.Sequential:
    """Seed 004's Keras Fashion-MNIST CNN, layer for layer as its model.summary() lists it
    (Conv-Activation-BN twice, pool, dropout; twice; flatten, dense 512, activation, BN,
    dropout, dense 10, softmax)."""
    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(cout),
                nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(cout),
                nn.MaxPool2d(2), nn.Dropout(0.25)]
    return nn.Sequential(*block(1, 32), *block(32, 64), nn.Flatten(), nn.Linear(3136, 512),
                         nn.ReLU(), nn.BatchNorm1d(512), nn.Dropout(0.5), nn.Linear(512, 10),
                         nn.Softmax(dim=1))


class DogsCatsCNN(nn.Module):
    """Seed 004's dogs-vs-cats CNN (its torchsummary table, 150x150 RGB input), ReLUs applied
    functionally in forward as the notebook's table (which lists no ReLU rows) implies.  The
    table's last pool takes 18 -> 8, which needs a 3x3 window at stride 2."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.pool1 = nn.MaxPool2d(2)
        self.conv3 = nn.Conv2d(64, 128, 3, padding=1)
        self.conv4 = nn.Conv2d(128, 128, 3, padding=1)
        self.pool2 = nn.MaxPool2d(2)
        self.conv5 = nn.Conv2d(128, 256, 3, padding=1)
        self.conv6 = nn.Conv2d(256, 512, 3, padding=1)
        self.pool3 = nn.MaxPool2d(2)
        self.conv7 = nn.Conv2d(512, 512, 3, padding=1)
        self.conv8 = nn.Conv2d(512, 512, 3, padding=1)
        self.pool4 = nn.MaxPool2d(3, 2)
        self.dropout = nn.Dropout(0.5)
        self.fc1 = nn.Linear(512 * 8 * 8, 512)
        self.fc2 = nn.Linear(512, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool1(F.relu(self.conv2(F.relu(self.conv1(x)))))
        x = self.pool2(F.relu(self.conv4(F.relu(self.conv3(x)))))
        x = self.pool3(F.relu(self.conv6(F.relu(self.conv5(x)))))
        x = self.pool4(F.relu(self.conv8(F.relu(self.conv7(x)))))
        x = self.dropout(x.reshape(x.shape[0], -1))
        return self.fc2(F.relu(self.fc1(x)))


class BasicBlock(nn.Module):
    """He et al. 2016's basic block: conv3x3-BN-ReLU-conv3x3-BN, + identity (or a strided
    1x1 projection), ReLU."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu2 = nn.ReLU()
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + identity)


class InceptionLike(nn.Module):
    """GoogLeNet's inception module shape: 1x1 | 1x1-3x3 | 1x1-5x5 | pool3x3-1x1, concatenated."""

    def __init__(self, cin: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, cp: int
                 ) -> None:
        super().__init__()
        self.branch1 = nn.Conv2d(cin, c1, 1)
        self.branch2 = nn.Sequential(nn.Conv2d(cin, c3r, 1), nn.ReLU(),
                                     nn.Conv2d(c3r, c3, 3, padding=1))
        self.branch3 = nn.Sequential(nn.Conv2d(cin, c5r, 1), nn.ReLU(),
                                     nn.Conv2d(c5r, c5, 5, padding=2))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, padding=1), nn.Conv2d(cin, cp, 1))

    def forward(self, x: Tensor) -> Tensor:
        return numcnn.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)],
                          1)


class DenseLike(nn.Module):
    """A DenseNet block: each layer (BN-ReLU-conv3x3, growth k) sees the concatenation of all
    earlier feature maps."""

    def __init__(self, cin: int, growth: int, layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Sequential(nn.BatchNorm2d(cin + i * growth), nn.ReLU(),
                          nn.Conv2d(cin + i * growth, growth, 3, padding=1, bias=False))
            for i in range(layers))

    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(numcnn.cat(features, 1)))
        return numcnn.cat(features, 1)
