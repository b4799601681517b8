"""A run written by `numcnn train`, read back from Python: its checkpoint, its model, its data.

A checkpoint written by `numcnn train` is a Trainer checkpoint plus one entry "run": the run's
configuration (model name and arguments, dataset, class names, normalisation mean and std,
optimizer ...). From it this module rebuilds the model and reads the data the way the run did:

    model, config = load_run("runs/x/best.safetensors")       # eval mode, trained weights
    test = load_test_set(config)                               # normalised as in training
    x, pixels, labels = pick_images(test, config, [0, 1, 2])
    logits = model(x)

The command line (`numcnn eval`, `predict`, `viz`, `landscape`, `report`) and
`numcnn.viz.write_report` call these functions; whatever they do, Python can do too.

Errors that come from the files or the data (a missing checkpoint, a dataset not found, an
unreadable image) are `RunError`s with a one-line message; the command line prints that line
as it is (`numcnn.cli.main.CLIError` is this class). Bad arguments are `ValueError`s.

Axes: N batch, C channels, H height, W width; pixels are in [0, 1], the model's input is
x = (pixels - mean) / std per channel.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from numcnn.data import CIFAR10, CIFAR100, MNIST, FashionMNIST, Subset, SyntheticShapes
from numcnn.data import transforms as T
from numcnn.data.folder import ImageFolder, load_image
from numcnn.data.transforms import batch as TB
from numcnn.io import load
from numcnn.nn.module import Module
from numcnn.tensor import Tensor
from numcnn.train.models import MODELS, build

__all__ = ["RunError", "DATASETS", "IDX_DATASETS", "CIFAR_DATASETS", "NORMALISATION",
           "IMAGENET_NORMALISATION", "NATIVE_SIZE", "NATIVE_CHANNELS", "SYNTHETIC_TRAIN",
           "SYNTHETIC_TEST", "read_checkpoint", "model_from", "ensemble_classes", "load_run",
           "pipeline", "run_pipeline", "load_split", "select_classes", "convert_channels",
           "first_n", "load_test_set", "pick_images", "read_pgm", "read_image", "model_input",
           "input_shape"]

DATASETS = ("fashion-mnist", "mnist", "cifar10", "cifar100", "imagefolder", "synthetic")
# the datasets read from IDX files, by name
IDX_DATASETS: dict[str, type[MNIST]] = {"fashion-mnist": FashionMNIST, "mnist": MNIST}
CIFAR_DATASETS: dict[str, type[CIFAR10]] = {"cifar10": CIFAR10, "cifar100": CIFAR100}
# per-channel mean and standard deviation of the training split (pixels in [0, 1])
NORMALISATION = {"fashion-mnist": ([0.2860], [0.3530]), "mnist": ([0.1307], [0.3081]),
                 "cifar10": ([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]),
                 "cifar100": ([0.5071, 0.4865, 0.4409], [0.2673, 0.2564, 0.2762])}
# photos in an image folder are normalised as ImageNet's (torchvision's numbers)
IMAGENET_NORMALISATION = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
# each dataset's image side and channels as stored (an image folder's photos are read as RGB
# and brought to --image-size, default the model's own input size)
NATIVE_SIZE = {"fashion-mnist": 28, "mnist": 28, "cifar10": 32, "cifar100": 32,
               "synthetic": 28}
NATIVE_CHANNELS = {"fashion-mnist": 1, "mnist": 1, "cifar10": 3, "cifar100": 3,
                   "imagefolder": 3, "synthetic": 1}
# random-crop padding at the native size (scaled with --image-size)
_CROP_PADDING = {28: 2, 32: 4}
# SyntheticShapes split sizes (the training split is cut to the run's --limit)
SYNTHETIC_TRAIN, SYNTHETIC_TEST = 6000, 1000


class RunError(Exception):
    """A failure reading a run's checkpoint, data or images; the message is one line, which
    the command line prints on stderr (exit status 1)."""


# ----------------------------------------------------------------------------- checkpoints
def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checkpoint at `path`, checked to be one written by `numcnn train`.

    Returns:
        The Trainer state dict ("model", "optimizer", "epoch" ...) with its "run" configuration.

    Raises:
        RunError: the file is missing, is not a safetensors checkpoint, or has no "run".
    """
    path = str(path)
    if not os.path.isfile(path):
        raise RunError(f"checkpoint not found: {path}")
    try:
        ckpt = load(path)
    except ValueError as exc:
        raise RunError(f"cannot read checkpoint {path}: {exc}") from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("run"), dict) \
            or "model" not in ckpt:
        raise RunError(f"{path} is not a checkpoint written by 'numcnn train' (it has no run "
                       f"configuration)")
    return ckpt


def model_from(ckpt: dict[str, Any]) -> tuple[Module, dict[str, Any]]:
    """The model of a `read_checkpoint` result, rebuilt as model = MODELS[run["model"]](
    **run["model_args"]) with the checkpoint's weights, in eval mode; and the run's
    configuration. A compressed checkpoint (`numcnn.compress.save(..., run=config)`) is
    rebuilt on that model by `numcnn.compress.load`.

    Raises:
        RunError: the checkpoint names a model that `numcnn.train.models.MODELS` lacks.
    """
    config = ckpt["run"]
    if config.get("model") not in MODELS:
        raise RunError(f"the checkpoint's model {config.get('model')!r} is unknown; known: "
                       f"{', '.join(sorted(MODELS))}")
    model = build(config["model"], **config["model_args"])
    if isinstance(ckpt.get("compress"), dict):          # written by numcnn.compress.save
        from numcnn.compress import checkpoint as compressed
        try:
            model = compressed.load(ckpt, model)
        except ValueError as exc:
            raise RunError(f"cannot rebuild the compressed model: {exc}") from None
    else:
        model.load_state_dict(ckpt["model"])
    model.eval()
    return model, config


def ensemble_classes(paths: Sequence[str], classes: Sequence[Sequence[str]]) -> list[str]:
    """The class names an ensemble of the checkpoints `paths` shares (`classes[i]`: those of
    paths[i]).

    Raises:
        RunError: a member trained on other classes than the first.
    """
    first = list(classes[0])
    for path, names in zip(paths[1:], classes[1:]):
        if list(names) != first:
            raise RunError(f"{path} was trained on other classes than {paths[0]} ("
                           f"{', '.join(list(names)[:4])}... vs {', '.join(first[:4])}...): an "
                           f"ensemble averages the same classes")
    return first


def load_run(path: str | os.PathLike[str]) -> tuple[Module, dict[str, Any]]:
    """The trained model (eval mode) and the run configuration of the checkpoint at `path`:
    `model_from(read_checkpoint(path))`.

    Raises:
        RunError: as `read_checkpoint` and `model_from`.
    """
    return model_from(read_checkpoint(path))


# ----------------------------------------------------------------------------- data
def _open_files(name: str, root: str | None, train: bool, download: bool) -> Any:
    """The file dataset `name` (IDX or CIFAR); when it is not found, a RunError that says
    where it looked and how to get it."""
    cls: Any = IDX_DATASETS.get(name) or CIFAR_DATASETS[name]
    try:
        return cls(root=root, train=train, download=download)
    except RuntimeError as exc:
        if "not found" not in str(exc):
            raise
        looked = ", ".join(str(d) for d in cls._lookup(root))
        ways = []
        if getattr(cls, "debian_package", None):
            ways.append(f"'sudo apt-get install {cls.debian_package}'")
        ways.append("add --download")
        ways.append("pass --root DIR, a directory holding "
                    + ("the four IDX files (train-images-idx3-ubyte.gz ...)"
                       if name in IDX_DATASETS else
                       f"{cls.archive} (the binary version) or the folder {cls.base_folder}"))
        raise RunError(f"{cls.__name__} not found (looked in {looked}); to get it: "
                       + ", or ".join(ways)) from None


def _open_folder(root: str | None, train: bool) -> ImageFolder:
    """The image folder `root`: its train/ and test/ (or val/) sub-folders when it has them,
    else every fifth image of each class (sorted by path) for testing and the rest for
    training."""
    if root is None:
        raise RunError("--data imagefolder needs --root DIR: a folder with one sub-folder of "
                       "images per class (or with train/ and test/ folders laid out so)")
    base = Path(root)
    split = base / "train" if train else next(
        (base / d for d in ("test", "val") if (base / d).is_dir()), None)
    try:
        if (base / "train").is_dir():
            if split is None:
                raise RunError(f"{base} has train/ but neither test/ nor val/")
            return ImageFolder(split)
        folder = ImageFolder(base)
    except FileNotFoundError as exc:
        raise RunError(f"cannot use {base} as an image folder: {exc}") from None
    # each image's rank within its class (in the folder's sorted order), one pass: a stable
    # sort by class keeps that order, and a class's first position is where its run starts
    targets = np.asarray(folder.targets, np.int64)
    by_class = np.argsort(targets, kind="stable")
    rank = np.empty_like(targets)
    rank[by_class] = np.arange(len(targets)) - np.searchsorted(targets[by_class],
                                                               targets[by_class])
    keep = np.flatnonzero((rank % 5 == 4) != train).tolist()
    folder.samples = [folder.samples[i] for i in keep]
    folder.imgs = folder.samples
    folder.targets = [t for _, t in folder.samples]
    return folder


def _synthetic(train: bool, n: int, seed: int) -> SyntheticShapes:
    return SyntheticShapes(n=n, size=28, seed=seed if train else seed + 1)


def select_classes(dataset: Any, keep: Sequence[int]) -> Any:
    """Keep only the images of classes `keep` (indices into dataset.classes) in `dataset`,
    relabelled 0, 1, ... in the order of `keep`; `classes` becomes their names. Works on the
    array datasets (`data`, `targets`) and on image folders (`samples`). Returns `dataset`.

    Raises:
        RunError: an index out of range, or repeated.
    """
    n = len(dataset.classes)
    keep = [int(k) for k in keep]
    if len(set(keep)) != len(keep) or not all(0 <= k < n for k in keep):
        raise RunError(f"--classes {','.join(map(str, keep))}: expected distinct class indices "
                       f"in 0..{n - 1}")
    remap = np.full(n, -1, np.int64)
    remap[keep] = np.arange(len(keep))
    if hasattr(dataset, "samples"):
        dataset.samples = [(p, int(remap[t])) for p, t in dataset.samples if remap[t] >= 0]
        dataset.imgs = dataset.samples
        dataset.targets = [t for _, t in dataset.samples]
    else:
        mask = remap[np.asarray(dataset.targets)] >= 0
        dataset.data = dataset.data[mask]
        dataset.targets = remap[np.asarray(dataset.targets)[mask]]
    dataset.classes = [dataset.classes[k] for k in keep]
    return dataset


def _photo_resize(side: int) -> int:
    """The shorter side a photo is resized to before its centre `side` x `side` crop is taken
    (ImageNet's evaluation ratio, 256 for 224)."""
    return int(round(side * 256 / 224))


def convert_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """(N, C, H, W) -> (N, channels, H, W): grey repeated to more channels, or RGB to grey as
    ITU-R 601 luma (Y = 0.299 R + 0.587 G + 0.114 B).

    Raises:
        ValueError: another pair of channel counts.
    """
    c = x.shape[1]
    if c == channels:
        return x
    if c == 3 and channels == 1:
        luma = np.array([0.299, 0.587, 0.114], x.dtype).reshape(1, 3, 1, 1)
        return np.asarray((x * luma).sum(axis=1, keepdims=True))
    if c == 1:
        return np.repeat(x, channels, axis=1)
    raise ValueError(f"cannot convert {c}-channel images to {channels} channels")


class _ToChannels(T.Transform):
    """The pipeline step of `convert_channels`."""

    def __init__(self, channels: int) -> None:
        self.channels = channels

    def _apply(self, x: np.ndarray) -> Any:
        return convert_channels(x, self.channels)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.channels})"


def pipeline(name: str, mean: list[float], std: list[float], augment: bool = False, *,
             image_size: int | None = None, channels: int | None = None,
             lighting: dict[str, Any] | None = None) -> T.Compose:
    """The transforms of dataset `name`, batched where the images have one size.

    1. To float in [0, 1]: uint8 (N, H, W[, C]) -> (N, C, H, W) (IDX and CIFAR data, image
       files); SyntheticShapes is already float.
    2. To `channels` channels (grey repeated, RGB to luma), when given and different.
    3. To `image_size` (the side of the square input; default the dataset's own): an image
       folder's photos are resized (shorter side to 256/224 of it) and centre-cropped, or with
       `augment` get a RandomResizedCrop and a horizontal flip; the other datasets are resized
       (bilinear) when the size differs, and with `augment` get a random crop (padding 2 at
       28x28, 4 at 32x32, scaled with the size) and a horizontal flip.
    4. With `augment` and `lighting` ({"alphastd", "eigval", "eigvec"}): AlexNet's PCA colour
       augmentation (`transforms.PCALighting`) on the [0, 1] pixels.
    5. x = (x - mean) / std per channel.

    Raises:
        ValueError: `name` is not one of DATASETS.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    steps: list[Any] = [] if name == "synthetic" else [T.ToTensor()]
    if channels is not None and channels != NATIVE_CHANNELS[name]:
        steps.append(_ToChannels(channels))
    if name == "imagefolder":
        side = image_size or 224
        steps += ([T.RandomResizedCrop(side), T.RandomHorizontalFlip()] if augment
                  else [T.Resize(_photo_resize(side)), T.CenterCrop(side)])
    else:
        native = NATIVE_SIZE[name]
        side = image_size or native
        if side != native:
            steps.append(T.Resize((side, side)))
        if augment:
            padding = int(round(_CROP_PADDING.get(native, 2) * side / native))
            steps += [T.RandomCrop(side, padding=padding), T.RandomHorizontalFlip()]
    if augment and lighting:
        steps.append(T.PCALighting(float(lighting["alphastd"]), lighting["eigval"],
                                   lighting["eigvec"]))
    steps.append(T.Normalize(mean, std))
    return T.Compose(steps)


def run_pipeline(config: dict[str, Any], augment: bool = False,
                 data: str | None = None) -> T.Compose:
    """`pipeline` with the run's settings: its dataset (or `data`), normalisation, image size,
    channels and (with `augment`) its augmentation."""
    margs = config["model_args"]
    return pipeline(data or config["data"], config["mean"], config["std"],
                    augment and bool(config.get("augment")),
                    image_size=config.get("image_size"),
                    channels=int(margs["in_channels"]) if "in_channels" in margs else None,
                    lighting=config.get("pca_lighting") if augment else None)


def load_split(config: dict[str, Any], train: bool, root: str | None = None,
               download: bool = False) -> Any:
    """The training (`train`) or test split of the run's dataset config["data"], without a
    transform, cut to the run's classes (config["class_subset"], relabelled 0, 1, ...). IDX
    and CIFAR data are looked up in `root`, $NUMCNN_DATA, ~/.cache/numcnn (and the Debian
    location) or downloaded with `download`; an image folder is `root` (see `pipeline`); with
    `root` None, the run's own --root is used for the run's own dataset (config["root"]);
    SyntheticShapes is generated from the run's seed (its training split has config["limit"]
    images when that is set).

    Raises:
        RunError: the dataset is unknown, or is not found (the message says how to get it).
    """
    name = config["data"]
    if name not in DATASETS:
        raise RunError(f"the run's dataset {name!r} is unknown; known: {', '.join(DATASETS)}")
    if root is None and name == config.get("root_data"):
        root = config.get("root")               # where the run found it (its --root)
    if name == "synthetic":
        n = SYNTHETIC_TRAIN if train else SYNTHETIC_TEST
        limit = config.get("limit")
        if limit is not None and train:
            n = limit
        dataset: Any = _synthetic(train, n, int(config["seed"]))
    elif name == "imagefolder":
        dataset = _open_folder(root, train)
    else:
        dataset = _open_files(name, root, train, download)
    if config.get("class_subset") is not None:
        select_classes(dataset, config["class_subset"])
    return dataset


def first_n(dataset: Any, n: int | None) -> Any:
    """The first `n` items of `dataset` (a Subset), or `dataset` itself when n is None or not
    smaller than its length.

    Raises:
        ValueError: `n` is negative.
    """
    if n is not None and n < 0:
        raise ValueError(f"n must be None or an integer >= 0, got {n}")
    return dataset if n is None or n >= len(dataset) else Subset(dataset, list(range(n)))


def load_test_set(config: dict[str, Any], data: str | None = None,
                  root: str | None = None) -> Any:
    """The test split of `data` (default: the run's dataset) with the run's normalisation, as
    `numcnn eval` reads it; its class count must be the model's.

    Raises:
        RunError: as `load_split`, or the split's class count differs from the model's.
    """
    data = data or config["data"]
    test_set = load_split({**config, "data": data}, False, root)
    classes = list(config["classes"])
    if len(test_set.classes) != len(classes):
        raise RunError(f"the model has {len(classes)} classes, {data} has "
                       f"{len(test_set.classes)}")
    test_set.transform = run_pipeline(config, augment=False, data=data)
    return test_set


def pick_images(dataset: Any, config: dict[str, Any], indices: Sequence[int] | np.ndarray
                ) -> tuple[Tensor, np.ndarray, np.ndarray]:
    """Images `indices` of a `load_test_set` split (any dataset with `get_batch` and the run's
    normalisation).

    Returns:
        x: the normalised float32 batch (N, C, H, W) the model takes;
        pixels: x * std + mean, clipped to [0, 1], for drawing (N, C, H, W);
        labels: int64 (N,).
    """
    x, y = dataset.get_batch(np.asarray(indices, dtype=np.int64))
    arr = np.ascontiguousarray(x.array if isinstance(x, Tensor) else x, dtype=np.float32)
    mean = np.asarray(config["mean"], np.float32).reshape(1, -1, 1, 1)
    std = np.asarray(config["std"], np.float32).reshape(1, -1, 1, 1)
    labels = np.asarray(y.array if isinstance(y, Tensor) else y).astype(np.int64)
    return Tensor(arr), np.clip(arr * std + mean, 0.0, 1.0), labels


# ----------------------------------------------------------------------------- image files
def read_pgm(path: str) -> np.ndarray:
    """A binary (P5) or plain (P2) PGM file as (H, W) float32 in [0, 1]: value / maxval.

    Raises:
        RunError: not a PGM file, a bad header, or truncated data.
    """
    with open(path, "rb") as f:
        raw = f.read()
    tokens: list[bytes] = []
    pos = 0
    while len(tokens) < 4:                        # magic, width, height, maxval
        while pos < len(raw) and raw[pos:pos + 1].isspace():
            pos += 1
        if raw[pos:pos + 1] == b"#":
            pos = raw.find(b"\n", pos) + 1 or len(raw)
            continue
        start = pos
        while pos < len(raw) and not raw[pos:pos + 1].isspace():
            pos += 1
        if start == pos:
            raise RunError(f"{path}: truncated PGM header")
        tokens.append(raw[start:pos])
    magic = tokens[0]
    if magic not in (b"P5", b"P2"):
        raise RunError(f"{path}: not a PGM file (magic {magic[:8]!r}, expected P5 or P2)")
    try:
        w, h, maxval = (int(t) for t in tokens[1:])
    except ValueError:
        raise RunError(f"{path}: bad PGM header {b' '.join(tokens)!r}") from None
    if w <= 0 or h <= 0 or not 0 < maxval < 65536:
        raise RunError(f"{path}: bad PGM size {w}x{h} or maxval {maxval}")
    if magic == b"P5":
        dtype = np.dtype(">u2") if maxval > 255 else np.dtype(np.uint8)
        body = raw[pos + 1:pos + 1 + w * h * dtype.itemsize]
        if len(body) != w * h * dtype.itemsize:
            raise RunError(f"{path}: truncated PGM data")
        values = np.frombuffer(body, dtype=dtype).astype(np.float32)
    else:
        values = np.array(raw[pos:].split()[:w * h], dtype=np.float32)
        if values.size != w * h:
            raise RunError(f"{path}: truncated PGM data")
    return values.reshape(h, w) / np.float32(maxval)


def read_image(path: str, channels: int) -> np.ndarray:
    """An image file as a float32 (C, H, W) array in [0, 1] with C = `channels`.

    .npy arrays ((H, W), (C, H, W) or (H, W, C); uint8 is scaled by 1/255, floats are taken as
    they are), .pgm/.pnm files, and other formats through Pillow. Alpha is dropped; RGB becomes
    grey as the ITU-R 601 luma Y = 0.299 R + 0.587 G + 0.114 B; grey is repeated to RGB.

    Raises:
        RunError: the file is missing or unreadable, or its channels cannot be converted.
    """
    if not os.path.isfile(path):
        raise RunError(f"image not found: {path}")
    ext = Path(path).suffix.lower()
    if ext == ".npy":
        try:
            a = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise RunError(f"{path}: not a plain .npy array ({exc})") from None
        if a.dtype.kind not in "uif" or a.ndim not in (2, 3):
            raise RunError(f"{path}: expected a 2-D or 3-D numeric array, got {a.ndim}-D "
                           f"{a.dtype}")
        img = a.astype(np.float32) / (np.float32(255) if a.dtype == np.uint8 else 1)
    elif ext in (".pgm", ".pnm"):
        img = read_pgm(path)
    else:
        try:
            pixels = load_image(path, "L" if channels == 1 else "RGB")
        except ImportError:
            raise RunError(f"{path}: reading {ext or 'this'} images needs Pillow (pip install "
                           f"pillow); or give the image as .npy or .pgm") from None
        except ValueError as exc:
            raise RunError(str(exc)) from None
        img = pixels.astype(np.float32) / 255
    if img.ndim == 2:
        img = img[None]                                         # (1, H, W)
    elif img.shape[0] not in (1, 3, 4) and img.shape[-1] in (1, 3, 4):
        img = img.transpose(2, 0, 1)                            # (H, W, C) -> (C, H, W)
    if img.shape[0] == 4:
        img = img[:3]                                           # drop alpha
    try:
        img = convert_channels(img.astype(np.float32)[None], channels)[0]
    except ValueError:
        raise RunError(f"{path}: {img.shape[0]} channels, the model takes {channels}") from None
    return np.ascontiguousarray(img, dtype=np.float32)


def input_shape(config: dict[str, Any]) -> tuple[int, int, int]:
    """(C, H, W) of one input of the run's model: its in_channels and square image_size."""
    margs = config["model_args"]
    side = int(margs["image_size"])
    return int(margs["in_channels"]), side, side


def model_input(path: str, config: dict[str, Any]) -> tuple[np.ndarray, Tensor]:
    """An image file as the run's model takes it.

    Returns:
        pixels: (1, C, H, W) in [0, 1], converted to the model's channels (`read_image`) and
            resized bilinearly to its input size (a run on an image folder: the shorter side
            to 256/224 of it, then the centre crop, as its test images);
        x: those pixels normalised as in training, x = (pixels - mean) / std.

    Raises:
        RunError: as `read_image`.
    """
    channels, height, width = input_shape(config)
    img = read_image(path, channels)[None]                         # (1, C, H, W)
    if config["data"] == "imagefolder":             # a photo: as the run's test images
        img = np.asarray(TB.resize(img, _photo_resize(height)))
        img = np.asarray(TB.center_crop(img, (height, width)))
    elif img.shape[2:] != (height, width):
        img = np.asarray(TB.resize(img, (height, width)))
    x = TB.normalize(Tensor(img), config["mean"], config["std"])
    return img, x if isinstance(x, Tensor) else Tensor(x)
