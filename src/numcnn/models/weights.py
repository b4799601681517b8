"""Pretrained weights for the zoo, as torchvision's `weights=` API: enums, download, cache.

    from numcnn.models import resnet50, ResNet50_Weights
    weights = ResNet50_Weights.DEFAULT                  # = IMAGENET1K_V2
    model = resnet50(weights=weights).eval()
    preprocess = weights.transforms()                   # resize 232, crop 224, normalise
    logits = model(preprocess(image)[None])             # image: (C, H, W) Tensor/float array
    weights.meta["categories"][int(logits.argmax())]    # "tabby", ...

The enums (`ResNet50_Weights`, `DenseNet121_Weights`, `MNASNet1_0_Weights`, ...) have
torchvision 0.29's class and member names, URLs, parameter counts, accuracies and inference
transforms, read from `numcnn/models/data/torchvision_weights.json` (shipped with the package);
`meta["categories"]` holds the 1,000 ImageNet class names (`data/imagenet_categories.json`).
A factory accepts `weights=None`, `"DEFAULT"`, a member name ("IMAGENET1K_V1"), the full name
("ResNet50_Weights.IMAGENET1K_V1") or the member itself, and `progress=True` (a progress bar on
stderr while downloading).

Where the files go.  The cache is `$NUMCNN_HOME/weights` if NUMCNN_HOME is set, else
`~/.cache/numcnn/weights`.  A file is fetched once, under the name at the end of its URL
(e.g. `resnet18-f37072fd.pth`), checked by torch.hub's convention (the hex digits after the
last "-" of the name, "f37072fd", must begin the file's SHA-256), and converted on first use
into `resnet18-f37072fd.safetensors` beside it; from then on only the safetensors copy is read,
and nothing touches the network.  `NUMCNN_WEIGHTS_URL` replaces download.pytorch.org: a base
URL (http://, https://, file://) or a local directory in which the file is looked up by the
same name (a mirror, or a folder of files fetched elsewhere).  Every file is written atomically
(`numcnn._atomic.atomic_write`): a failed or corrupt download leaves nothing in the cache.

The reading of a `.pth` file is `numcnn.io.load` (PyTorch's zip and legacy formats, with an
unpickler restricted to tensor rebuilding: no arbitrary code runs); torchvision's key fix-ups are
applied after loading (DenseNet's old "norm.1" -> "norm1" names, `fix_state_dict`).

For a factory written elsewhere (e.g. `mnasnet.py`), the helpers are:

    weights = MNASNet1_0_Weights.verify(weights)        # None, str or member -> member/None
    check_pretrained_args(weights, num_classes=num_classes, in_channels=in_channels)
    model = MNASNet(...)
    if weights is not None:
        load_pretrained(model, weights, progress)       # download/cache, fix up, strict load

Differences from torchvision: see `ImageClassification` (resizing of uint8 images).
"""

from __future__ import annotations

import enum
import functools
import json
import os
import re
import sys
import urllib.parse
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np

from numcnn.data.download import download_url
from numcnn.data.transforms import layout
from numcnn.data.transforms.batch import center_crop, normalize
from numcnn.io import load, save
from numcnn.nn.module import Module
from numcnn.tensor import Tensor

__all__ = [
    "Weights", "WeightsEnum", "ImageClassification", "get_weight", "get_model_weights",
    "load_state_dict_from_url", "load_pretrained", "check_pretrained_args", "fix_state_dict",
    "google_weights_args",
    "overwrite_named_param", "weights_dir", "WEIGHTS", "IMAGENET_CATEGORIES",
    "AlexNet_Weights", "VGG11_Weights", "VGG11_BN_Weights", "VGG13_Weights", "VGG13_BN_Weights",
    "VGG16_Weights", "VGG16_BN_Weights", "VGG19_Weights", "VGG19_BN_Weights",
    "GoogLeNet_Weights", "Inception_V3_Weights",
    "ResNet18_Weights", "ResNet34_Weights", "ResNet50_Weights", "ResNet101_Weights",
    "ResNet152_Weights", "ResNeXt50_32X4D_Weights", "Wide_ResNet50_2_Weights",
    "DenseNet121_Weights", "DenseNet161_Weights", "DenseNet169_Weights", "DenseNet201_Weights",
    "MobileNet_V2_Weights", "MobileNet_V3_Small_Weights", "MobileNet_V3_Large_Weights",
    "ShuffleNet_V2_X0_5_Weights", "ShuffleNet_V2_X1_0_Weights", "ShuffleNet_V2_X1_5_Weights",
    "ShuffleNet_V2_X2_0_Weights", "SqueezeNet1_0_Weights", "SqueezeNet1_1_Weights",
    "MNASNet0_5_Weights", "MNASNet0_75_Weights", "MNASNet1_0_Weights", "MNASNet1_3_Weights",
]

_DATA = Path(__file__).resolve().parent / "data"
# model name -> {"IMAGENET1K_V1": {url, num_params, acc@1, acc@5, transforms}, "DEFAULT": name}
with open(_DATA / "torchvision_weights.json", encoding="utf-8") as _f:
    _TABLE: dict[str, dict[str, Any]] = json.load(_f)
with open(_DATA / "imagenet_categories.json", encoding="utf-8") as _f:
    IMAGENET_CATEGORIES: list[str] = json.load(_f)


# ----------------------------------------------------------------------------- transforms
def _resize_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix of antialiased bilinear resampling along one axis.

    Output sample i sits at u = (i + 0.5) * s in input coordinates, s = n_in / n_out (pixel
    centres, align_corners=False).  Its weights are the triangle filter widened by the scale
    when shrinking (the antialias): w[i, j] = max(0, 1 - |j + 0.5 - u| / max(s, 1)), over the
    input pixels j inside the image, divided by their sum.  For s <= 1 this is plain bilinear
    interpolation with edge clamping; for s > 1 each output averages the ~2s inputs it covers
    (PIL's and torch's `interpolate(..., antialias=True)` resampling).
    """
    s = n_in / n_out
    support = max(s, 1.0)
    u = (np.arange(n_out, dtype=np.float64) + 0.5) * s               # (n_out,)
    j = np.arange(n_in, dtype=np.float64) + 0.5                      # (n_in,)
    w = np.maximum(0.0, 1.0 - np.abs(j[None, :] - u[:, None]) / support)
    return w / w.sum(axis=1, keepdims=True)


def resize_antialiased(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear antialiased resize of (N, C, H, W) float images to `size` = (h, w):
    y = Wh @ x @ Ww^T, separable (`_resize_weights` for each axis), float64 inside."""
    h, w = size
    wh = _resize_weights(x.shape[2], h)                              # (h, H)
    ww = _resize_weights(x.shape[3], w)                              # (w, W)
    y = np.einsum("ih,nchw->nciw", wh, x.astype(np.float64, copy=False))   # (N, C, h, W)
    y = np.einsum("nciw,jw->ncij", y, ww)                            # (N, C, h, w)
    return y


def shorter_side_size(h: int, w: int, size: int) -> tuple[int, int]:
    """torchvision's Resize([size]): the shorter side becomes `size`, the longer one
    int(size * long / short) (truncated)."""
    if h <= w:
        return size, int(size * w / h)
    return int(size * h / w), size


class ImageClassification:
    """torchvision's `ImageClassification` inference preset, on numcnn arrays.

    resize the shorter side to `resize_size` (bilinear, antialiased) -> centre crop
    `crop_size` -> float in [0, 1] -> normalise with `mean`, `std`.

    Call it on one image — a (C, H, W) Tensor or float ndarray, or a uint8 (H, W, C) / (H, W)
    ndarray or PIL image (numcnn's layout rule, `numcnn.data.transforms`) — to get a float32
    (C, crop, crop) Tensor; `.batch(x)` takes (N, C, H, W) (or uint8 (N, H, W, C)) and gives
    (N, C, crop, crop).  Float input is taken as already in [0, 1]; uint8 input is resized on
    its 0..255 values, rounded back to uint8 (as torchvision resizes a uint8 tensor) and then
    divided by 255.

    Differs from torchvision: the resampling is computed in float64 with exact weights;
    torchvision's uint8 path uses fixed-point weights (so a uint8 pixel may differ by 1 before
    the division), and a PIL image is resampled by PIL there, by this code here.
    """

    def __init__(self, *, crop_size: int, resize_size: int = 256,
                 mean: tuple[float, ...] = (0.485, 0.456, 0.406),
                 std: tuple[float, ...] = (0.229, 0.224, 0.225),
                 interpolation: str = "bilinear", antialias: bool = True) -> None:
        if interpolation != "bilinear" or not antialias:
            raise ValueError(f"ImageClassification: only bilinear antialiased resizing is "
                             f"implemented, got interpolation={interpolation!r}, "
                             f"antialias={antialias!r}")
        self.crop_size, self.resize_size = int(crop_size), int(resize_size)
        self.mean, self.std = tuple(mean), tuple(std)
        self.interpolation, self.antialias = interpolation, antialias

    def _apply(self, x: np.ndarray) -> np.ndarray:
        # x: (N, C, H, W) -> (N, C, crop, crop) float32
        size = shorter_side_size(x.shape[2], x.shape[3], self.resize_size)
        is_uint8 = x.dtype == np.uint8
        y = resize_antialiased(x, size)
        if is_uint8:
            y = np.clip(np.round(y), 0, 255) / 255.0
        y = y.astype(np.float32)
        y = np.asarray(center_crop(y, self.crop_size))
        return np.asarray(normalize(y, self.mean, self.std), dtype=np.float32)

    def __call__(self, img: Any) -> Tensor:
        x, _ = layout.as_nchw(img, type(self).__name__)
        return Tensor(self._apply(x)[0])

    def batch(self, x: Any) -> Tensor:
        """(N, C, H, W) Tensor / float array, or uint8 (N, H, W, C) -> (N, C, crop, crop)."""
        a, _ = layout.batch_as_nchw(x, type(self).__name__)
        return Tensor(self._apply(a))

    def __repr__(self) -> str:
        return (f"ImageClassification(\n    crop_size=[{self.crop_size}]\n    resize_size="
                f"[{self.resize_size}]\n    mean={list(self.mean)}\n    std={list(self.std)}\n"
                f"    interpolation=InterpolationMode.BILINEAR\n)")


_TRANSFORM_FIELD = re.compile(r"(\w+)=(\[[^\]]*\]|[\w.]+)")


def _parse_transforms(text: str) -> Callable[[], ImageClassification]:
    """torchvision's printed preset, "ImageClassification( crop_size=[224] resize_size=[256]
    mean=[...] std=[...] interpolation=InterpolationMode.BILINEAR )", -> a constructor."""
    if not text.startswith("ImageClassification("):
        raise ValueError(f"torchvision_weights.json: unknown transform {text!r}")
    fields = dict(_TRANSFORM_FIELD.findall(text))
    expected = {"crop_size", "resize_size", "mean", "std", "interpolation"}
    if set(fields) != expected:
        raise ValueError(f"torchvision_weights.json: transform fields {sorted(fields)}, "
                         f"expected {sorted(expected)}")
    crop, resize = json.loads(fields["crop_size"]), json.loads(fields["resize_size"])
    interpolation = fields["interpolation"].rsplit(".", 1)[-1].lower()
    return functools.partial(ImageClassification, crop_size=crop[0], resize_size=resize[0],
                             mean=tuple(json.loads(fields["mean"])),
                             std=tuple(json.loads(fields["std"])), interpolation=interpolation)


# ----------------------------------------------------------------------------- the enums
@dataclass
class Weights:
    """One set of pretrained weights.

    Attributes:
        url: where torchvision publishes the file.
        transforms: builds the inference preprocessing (`ImageClassification`).
        meta: "categories" (class names), "num_params", "min_size", "_metrics"
            ({"ImageNet-1K": {"acc@1", "acc@5"}}), "_docs", "_model" (the factory's name).
    """

    url: str
    transforms: Callable[..., Any]
    meta: dict[str, Any]


# The smallest input each architecture accepts (torchvision's meta["min_size"]; (1, 1) else).
_MIN_SIZE = {"inception_v3": (75, 75), "googlenet": (15, 15), "squeezenet1_0": (21, 21),
             "squeezenet1_1": (17, 17), "alexnet": (63, 63),
             **{f"vgg{d}{bn}": (32, 32) for d in (11, 13, 16, 19) for bn in ("", "_bn")},
             **{f"densenet{d}": (29, 29) for d in (121, 161, 169, 201)}}


def _entry(model: str, member: str) -> Weights:
    """The Weights of torchvision_weights.json's `model`/`member`."""
    e = _TABLE[model][member]
    acc1, acc5 = float(e["acc@1"]), float(e["acc@5"])
    metrics = {} if np.isnan(acc1) else {"ImageNet-1K": {"acc@1": acc1, "acc@5": acc5}}
    docs = ("These weights were trained from scratch on ImageNet-1K (torchvision)."
            if metrics else
            "These weights can't be used for classification because they are missing values "
            "in the `classifier` module. Only the `features` module has valid values and can "
            "be used for feature extraction. The weights were ported from the original paper.")
    meta: dict[str, Any] = {
        "categories": None if not metrics else IMAGENET_CATEGORIES,
        "num_params": int(e["num_params"]),
        "min_size": _MIN_SIZE.get(model, (1, 1)),
        "_metrics": metrics,
        "_docs": docs,
        "_model": model,
    }
    return Weights(url=e["url"], transforms=_parse_transforms(e["transforms"]), meta=meta)


class WeightsEnum(enum.Enum):
    """Base of every `*_Weights` enum: members are `Weights`; `.url`, `.transforms` and
    `.meta` read through to them, `repr` is "ResNet18_Weights.IMAGENET1K_V1"."""

    @classmethod
    def verify(cls, obj: Any) -> Any:
        """None -> None; "DEFAULT" / "IMAGENET1K_V1" / "ResNet18_Weights.IMAGENET1K_V1" ->
        the member; a member of this enum -> itself.

        Raises:
            ValueError: an unknown member name.
            TypeError: a member of another enum, or anything else.
        """
        if obj is None:
            return None
        if type(obj) is str:
            name = obj.replace(cls.__name__ + ".", "")
            try:
                return cls[name]
            except KeyError:
                raise ValueError(f"Unknown value '{name}' for {cls.__name__}; known: "
                                 f"{', '.join(cls.__members__)}") from None
        if not isinstance(obj, cls):
            raise TypeError(f"Invalid Weight class provided; expected {cls.__name__} but "
                            f"received {obj.__class__.__name__}.")
        return obj

    @property
    def url(self) -> str:
        return self.value.url

    @property
    def transforms(self) -> Callable[..., Any]:
        return self.value.transforms

    @property
    def meta(self) -> dict[str, Any]:
        return self.value.meta

    def get_state_dict(self, progress: bool = True, check_hash: bool = True
                       ) -> dict[str, Tensor]:
        """The weights as a state dict (downloaded and cached on first use, see the module
        docstring), with torchvision's key fix-ups applied (`fix_state_dict`)."""
        state = load_state_dict_from_url(self.url, progress=progress, check_hash=check_hash)
        return fix_state_dict(self.meta["_model"], state)

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


# One class per model, torchvision's names; DEFAULT is an alias of the recommended member.
class AlexNet_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("alexnet", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class VGG11_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("vgg11", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class VGG11_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("vgg11_bn", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class VGG13_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("vgg13", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class VGG13_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("vgg13_bn", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class VGG16_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("vgg16", "IMAGENET1K_V1")
    IMAGENET1K_FEATURES = _entry("vgg16", "IMAGENET1K_FEATURES")
    DEFAULT = IMAGENET1K_V1


class VGG16_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("vgg16_bn", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class VGG19_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("vgg19", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class VGG19_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("vgg19_bn", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class GoogLeNet_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("googlenet", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class Inception_V3_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("inception_v3", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class ResNet18_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("resnet18", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class ResNet34_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("resnet34", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class ResNet50_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("resnet50", "IMAGENET1K_V1")
    IMAGENET1K_V2 = _entry("resnet50", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class ResNet101_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("resnet101", "IMAGENET1K_V1")
    IMAGENET1K_V2 = _entry("resnet101", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class ResNet152_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("resnet152", "IMAGENET1K_V1")
    IMAGENET1K_V2 = _entry("resnet152", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class ResNeXt50_32X4D_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("resnext50_32x4d", "IMAGENET1K_V1")
    IMAGENET1K_V2 = _entry("resnext50_32x4d", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class Wide_ResNet50_2_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("wide_resnet50_2", "IMAGENET1K_V1")
    IMAGENET1K_V2 = _entry("wide_resnet50_2", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class DenseNet121_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("densenet121", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class DenseNet161_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("densenet161", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class DenseNet169_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("densenet169", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class DenseNet201_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("densenet201", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class MobileNet_V2_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("mobilenet_v2", "IMAGENET1K_V1")
    IMAGENET1K_V2 = _entry("mobilenet_v2", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class MobileNet_V3_Small_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("mobilenet_v3_small", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class MobileNet_V3_Large_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("mobilenet_v3_large", "IMAGENET1K_V1")
    IMAGENET1K_V2 = _entry("mobilenet_v3_large", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class ShuffleNet_V2_X0_5_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("shufflenet_v2_x0_5", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class ShuffleNet_V2_X1_0_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("shufflenet_v2_x1_0", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class ShuffleNet_V2_X1_5_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("shufflenet_v2_x1_5", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class ShuffleNet_V2_X2_0_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("shufflenet_v2_x2_0", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class SqueezeNet1_0_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("squeezenet1_0", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class SqueezeNet1_1_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("squeezenet1_1", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class MNASNet0_5_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("mnasnet0_5", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class MNASNet0_75_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("mnasnet0_75", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class MNASNet1_0_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("mnasnet1_0", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class MNASNet1_3_Weights(WeightsEnum):
    IMAGENET1K_V1 = _entry("mnasnet1_3", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


# model name -> its enum (what get_model_weights answers)
WEIGHTS: dict[str, type[WeightsEnum]] = {
    "alexnet": AlexNet_Weights,
    "vgg11": VGG11_Weights, "vgg11_bn": VGG11_BN_Weights,
    "vgg13": VGG13_Weights, "vgg13_bn": VGG13_BN_Weights,
    "vgg16": VGG16_Weights, "vgg16_bn": VGG16_BN_Weights,
    "vgg19": VGG19_Weights, "vgg19_bn": VGG19_BN_Weights,
    "googlenet": GoogLeNet_Weights, "inception_v3": Inception_V3_Weights,
    "resnet18": ResNet18_Weights, "resnet34": ResNet34_Weights, "resnet50": ResNet50_Weights,
    "resnet101": ResNet101_Weights, "resnet152": ResNet152_Weights,
    "resnext50_32x4d": ResNeXt50_32X4D_Weights, "wide_resnet50_2": Wide_ResNet50_2_Weights,
    "densenet121": DenseNet121_Weights, "densenet161": DenseNet161_Weights,
    "densenet169": DenseNet169_Weights, "densenet201": DenseNet201_Weights,
    "mobilenet_v2": MobileNet_V2_Weights, "mobilenet_v3_small": MobileNet_V3_Small_Weights,
    "mobilenet_v3_large": MobileNet_V3_Large_Weights,
    "shufflenet_v2_x0_5": ShuffleNet_V2_X0_5_Weights,
    "shufflenet_v2_x1_0": ShuffleNet_V2_X1_0_Weights,
    "shufflenet_v2_x1_5": ShuffleNet_V2_X1_5_Weights,
    "shufflenet_v2_x2_0": ShuffleNet_V2_X2_0_Weights,
    "squeezenet1_0": SqueezeNet1_0_Weights, "squeezenet1_1": SqueezeNet1_1_Weights,
    "mnasnet0_5": MNASNet0_5_Weights, "mnasnet0_75": MNASNet0_75_Weights,
    "mnasnet1_0": MNASNet1_0_Weights, "mnasnet1_3": MNASNet1_3_Weights,
}
_ENUMS: dict[str, type[WeightsEnum]] = {e.__name__: e for e in WEIGHTS.values()}


def get_weight(name: str) -> WeightsEnum:
    """The member named in full, e.g. get_weight("ResNet50_Weights.IMAGENET1K_V2").

    Raises:
        ValueError: not "Enum.MEMBER", or an unknown enum or member.
    """
    try:
        enum_name, member = name.split(".")
    except ValueError:
        raise ValueError(f"Invalid weight name provided: '{name}'.") from None
    if enum_name not in _ENUMS:
        raise ValueError(f"The weight enum '{enum_name}' for the specific method couldn't be "
                         f"retrieved; known: {', '.join(sorted(_ENUMS))}")
    return _ENUMS[enum_name].verify(member)  # type: ignore[no-any-return]


def get_model_weights(model: str | Callable[..., Any]) -> type[WeightsEnum]:
    """The weights enum of a model, given by name ("resnet50") or factory (`resnet50`).

    Raises:
        ValueError: the model has no pretrained weights.
    """
    name = model if isinstance(model, str) else getattr(model, "__name__", repr(model))
    name = name.lower()
    if name not in WEIGHTS:
        raise ValueError(f"no pretrained weights for model {name!r}; models with weights: "
                         f"{', '.join(sorted(WEIGHTS))}")
    return WEIGHTS[name]


# ----------------------------------------------------------------------------- factories' rules
M = TypeVar("M", bound=Module)


def overwrite_named_param(kwargs: dict[str, Any], param: str, new_value: Any) -> None:
    """torchvision's rule: a parameter the weights fix is set when not given, and must equal
    the weights' value when given."""
    if param in kwargs:
        if kwargs[param] != new_value:
            raise ValueError(f"The parameter '{param}' expected value {new_value} but got "
                             f"{kwargs[param]} instead.")
    else:
        kwargs[param] = new_value


def google_weights_args(weights: WeightsEnum | None, aux_logits: bool | None,
                        transform_input: bool | None, kwargs: dict[str, Any]
                        ) -> tuple[bool, bool]:
    """torchvision's rules for Google's ported GoogLeNet/Inception-v3 weights: with weights,
    transform_input defaults to True, the auxiliary heads are built (aux_logits False is a
    ValueError) so that the file loads, and init_weights is False. Returns (aux_logits,
    transform_input) to build with; without weights, the given values (None: False)."""
    if weights is None:
        return bool(aux_logits), bool(transform_input)
    given = {} if aux_logits is None else {"aux_logits": aux_logits}
    overwrite_named_param(given, "aux_logits", True)
    overwrite_named_param(kwargs, "init_weights", False)
    return True, True if transform_input is None else bool(transform_input)


def check_pretrained_args(weights: WeightsEnum | None, *, num_classes: int,
                          in_channels: int = 3) -> None:
    """With `weights`, `num_classes` must be the number of its categories and `in_channels`
    3 (torchvision's ValueError).  Replace the head after loading to change the classes."""
    if weights is None:
        return
    if weights.meta["categories"] is not None:     # None: VGG16's features-only weights
        overwrite_named_param({"num_classes": num_classes}, "num_classes",
                              len(weights.meta["categories"]))
    if in_channels != 3:
        raise ValueError(f"{weights!r} was trained on RGB images: in_channels must be 3, got "
                         f"{in_channels} (load the weights, then adapt the first layer)")


def load_pretrained(model: M, weights: WeightsEnum | None, progress: bool = True) -> M:
    """Load `weights` (downloading and caching on first use) into `model` with strict=True and
    return the model (`weights=None`: the model unchanged).

    Raises:
        RuntimeError: from `load_state_dict` (keys or shapes that do not match the model).
        DownloadError / ValueError: the file cannot be fetched, fails its hash, or cannot be
            read.
    """
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    return model


# ----------------------------------------------------------------------------- fix-ups
# DenseNet checkpoints from before PyTorch 0.4 name layers "norm.1", "relu.1", "conv.2"; the
# modules are now "norm1", "conv2" (torchvision's densenet `_load_state_dict` renames them).
_DENSENET_OLD_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.([12]\.(?:weight|bias|running_mean|running_var))$")


def fix_state_dict(model: str, state: Mapping[str, Any]) -> dict[str, Any]:
    """torchvision's key fix-ups for `model`'s published checkpoints (a new dict; only DenseNet
    needs one among these models: "features.denseblock1.denselayer1.norm.1.weight" ->
    "...norm1.weight")."""
    fixed: dict[str, Any] = OrderedDict()
    for key, value in state.items():
        m = _DENSENET_OLD_KEY.match(key) if model.startswith("densenet") else None
        fixed[m.group(1) + m.group(2) if m else key] = value
    if hasattr(state, "_metadata"):
        fixed._metadata = state._metadata  # type: ignore[attr-defined]
    return fixed


# ----------------------------------------------------------------------------- download, cache
_HASH_IN_NAME = re.compile(r"-([a-f0-9]*)\.")     # torch.hub's: "resnet18-f37072fd.pth"


def weights_dir() -> Path:
    """Where weights are cached: $NUMCNN_HOME/weights, else ~/.cache/numcnn/weights."""
    home = os.environ.get("NUMCNN_HOME")
    base = Path(home).expanduser() if home else Path.home() / ".cache" / "numcnn"
    return base / "weights"


def _source_url(url: str, file_name: str) -> str:
    """Where to fetch `file_name` from: under $NUMCNN_WEIGHTS_URL (a base URL or a local
    directory) when set, else `url` itself."""
    base = os.environ.get("NUMCNN_WEIGHTS_URL")
    if not base:
        return url
    if urllib.parse.urlsplit(base).scheme in ("http", "https", "file"):
        return base.rstrip("/") + "/" + urllib.parse.quote(file_name)
    directory = Path(base).expanduser()
    if not directory.is_dir():
        raise ValueError(f"NUMCNN_WEIGHTS_URL={base!r} is neither an http(s)/file URL nor a "
                         f"directory")
    return (directory.resolve() / file_name).as_uri()


def _as_state_dict(obj: Any, path: Path) -> dict[str, Tensor]:
    """The state dict in what `load` read: the mapping itself, or its "state_dict" entry.  The
    per-module versions torch keeps in `state_dict._metadata` (MNASNet's version-1 checkpoints
    need them) stay attached, from the `.pth` or from the safetensors copy's "_metadata"."""
    metadata = getattr(obj, "_metadata", None)
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        metadata = obj.get("_metadata", metadata)
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(
            isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()):
        raise ValueError(f"{path}: not a state dict (a mapping of names to tensors)")
    state: dict[str, Tensor] = OrderedDict(obj)
    if metadata is not None:
        state._metadata = OrderedDict(metadata)  # type: ignore[attr-defined]
    return state


def _save_copy(state: dict[str, Tensor], path: Path) -> None:
    """The safetensors copy: the flat state dict, or {"state_dict", "_metadata"} when torch's
    per-module versions came with it."""
    metadata = getattr(state, "_metadata", None)
    if metadata is None:
        save(dict(state), path)
    else:
        save({"state_dict": dict(state),
              "_metadata": {str(k): dict(v) for k, v in metadata.items()}}, path)


def load_state_dict_from_url(url: str, model_dir: str | os.PathLike[str] | None = None,
                             progress: bool = True, check_hash: bool = True,
                             file_name: str | None = None) -> dict[str, Tensor]:
    """torch.hub's `load_state_dict_from_url`, without torch and without unpickling.

    1. `<model_dir>/<stem>.safetensors` exists: read it; no network.
    2. else `<model_dir>/<file_name>` (the URL's last component) is fetched if missing — from
       $NUMCNN_WEIGHTS_URL when set — with a progress bar and, with `check_hash`, the
       SHA-256 prefix in its name checked; then read with `numcnn.io.load` and written as the
       safetensors copy (atomic), which later calls read.

    Args:
        url: the published URL.
        model_dir: the cache folder (default `weights_dir()`).
        progress: progress bar on stderr.
        check_hash: check the hash prefix of the name ("-<hex>." in it), as torch.hub.
        file_name: the cached name (default: from the URL).

    Raises:
        DownloadError: unreachable, HTTP error, truncated, wrong hash (nothing cached).
        ValueError: the file is not a readable state dict (naming the file).
    """
    directory = Path(model_dir).expanduser() if model_dir is not None else weights_dir()
    name = file_name or os.path.basename(urllib.parse.urlsplit(url).path)
    if not name:
        raise ValueError(f"{url}: no file name in the URL; pass file_name=")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    cached, converted = directory / name, directory / (stem + ".safetensors")
    if converted.is_file():
        return _as_state_dict(load(converted), converted)
    directory.mkdir(parents=True, exist_ok=True)
    if not cached.is_file():
        source = _source_url(url, name)
        match = _HASH_IN_NAME.search(name) if check_hash else None
        if progress:
            print(f"Downloading: {source!r} to {cached}", file=sys.stderr)
        # checked as it streams, written atomically: a failure leaves nothing in the cache
        download_url(source, cached, progress=progress,
                     sha256_prefix=match.group(1) if match else None)
    state = _as_state_dict(load(cached), cached)
    _save_copy(state, converted)
    return state


# ----------------------------------------------------------------------------- pretrained=True
def handle_legacy_pretrained(factory: Callable[..., M], model: str) -> Callable[..., M]:
    """`factory` also accepting torchvision's deprecated `pretrained=` (torchvision 0.13 moved
    to `weights=`, and still takes it with a warning): pretrained=True means the model's
    IMAGENET1K_V1 weights (the ones `pretrained=True` always loaded, also where DEFAULT is now
    newer), pretrained=False means weights=None; both warn (UserWarning). Seed 004's
    `models.resnet18(pretrained=True)` runs as written.

    Raises:
        TypeError: `pretrained` together with `weights`.
    """

    @functools.wraps(factory)
    def build(*args: Any, **kwargs: Any) -> M:
        if "pretrained" in kwargs:
            pretrained = kwargs.pop("pretrained")
            if kwargs.get("weights") is not None:
                raise TypeError(f"{model}(): give weights= or the deprecated pretrained=, "
                                f"not both")
            legacy = WEIGHTS[model]["IMAGENET1K_V1"] if pretrained else None
            warnings.warn(f"{model}(pretrained={pretrained!r}) is deprecated (as in "
                          f"torchvision since 0.13): use weights={legacy!r}"
                          + ("" if legacy is None else " or weights='DEFAULT'"),
                          UserWarning, stacklevel=2)
            kwargs["weights"] = legacy
        return factory(*args, **kwargs)

    return build
