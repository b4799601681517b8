"""Datasets of files sorted into one folder per class: `DatasetFolder` and `ImageFolder`.

The layout is torchvision's:

    root/cats/cat.0.jpg
    root/cats/nested/cat.1.png
    root/dogs/dog.0.jpg

The classes are the names of root's sub-folders, sorted; class i is the i-th. Every file below a
class folder (at any depth, symbolic links followed) with an allowed extension (or accepted by
`is_valid_file`) is a sample of that class; the samples are listed class by class, each class's
files in sorted order.

`ImageFolder` reads images with Pillow (an optional dependency: pip install 'numcnn[image]'),
imported only when the first image is read. Its `default_loader` converts every image to RGB
(as torchvision's) and returns it as an (H, W, 3) uint8 ndarray — not a PIL image — so that
`transforms.ToTensor()` and the other array transforms apply to it.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from numcnn.data.dataset import Dataset

__all__ = ["DatasetFolder", "ImageFolder", "IMG_EXTENSIONS", "default_loader",
           "find_classes", "make_dataset", "has_file_allowed_extension"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def has_file_allowed_extension(filename: str, extensions: str | tuple[str, ...]) -> bool:
    """Whether `filename` ends with one of `extensions` (case-insensitive)."""
    return filename.lower().endswith(
        extensions if isinstance(extensions, str) else tuple(extensions))


def find_classes(directory: str | os.PathLike[str]) -> tuple[list[str], dict[str, int]]:
    """(sorted names of the sub-folders of `directory`, {name: index}).

    Raises:
        FileNotFoundError: `directory` does not exist or has no sub-folder.
    """
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
    return classes, {name: i for i, name in enumerate(classes)}


def make_dataset(directory: str | os.PathLike[str], class_to_idx: dict[str, int],
                 extensions: str | tuple[str, ...] | None = None,
                 is_valid_file: Callable[[str], bool] | None = None,
                 allow_empty: bool = False) -> list[tuple[str, int]]:
    """The samples (path, class index) of the class folders of `directory`.

    Args:
        directory: the root folder.
        class_to_idx: the class folders to read and their indices.
        extensions: the allowed file extensions (give this or `is_valid_file`).
        is_valid_file: a function of the path deciding whether a file is a sample.
        allow_empty: accept class folders without any valid file.

    Raises:
        ValueError: both or neither of `extensions` and `is_valid_file` given.
        FileNotFoundError: some class has no valid file (unless `allow_empty`); the message
            lists those classes and the allowed extensions.
    """
    valid: Callable[[str], bool]
    if extensions is not None and is_valid_file is None:
        exts = extensions

        def valid(path: str) -> bool:
            return has_file_allowed_extension(path, exts)
    elif is_valid_file is not None and extensions is None:
        valid = is_valid_file
    else:
        raise ValueError(
            "Both extensions and is_valid_file cannot be None or not None at the same time")
    directory = os.path.expanduser(os.fspath(directory))
    samples: list[tuple[str, int]] = []
    empty = set()
    for name in sorted(class_to_idx, key=lambda c: class_to_idx[c]):
        index = class_to_idx[name]
        target = os.path.join(directory, name)
        if not os.path.isdir(target):
            continue
        count = 0
        for folder, _, files in sorted(os.walk(target, followlinks=True)):
            for f in sorted(files):
                path = os.path.join(folder, f)
                if valid(path):
                    samples.append((path, index))
                    count += 1
        if count == 0:
            empty.add(name)
    if empty and not allow_empty:
        msg = f"Found no valid file for the classes {', '.join(sorted(empty))}. "
        if extensions is not None:
            allowed = extensions if isinstance(extensions, str) else ', '.join(extensions)
            msg += f"Supported extensions are: {allowed}"
        raise FileNotFoundError(msg)
    return samples


def _pil_image() -> Any:
    """PIL.Image, or an ImportError that says how to install Pillow."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            "numcnn reads image files with Pillow, which is not installed: "
            "pip install 'numcnn[image]' (or pip install 'pillow>=10')"
        ) from None
    return Image


def load_image(path: str, mode: str = "RGB") -> np.ndarray:
    """The image file at `path`, converted to Pillow `mode`, as a uint8 ndarray: (H, W, 3) for
    "RGB", (H, W) for "L" (grayscale).

    Raises:
        ImportError: Pillow is not installed.
        ValueError: the file is not an image Pillow can decode (unknown format, corrupt or
            truncated data, a decompression bomb); the message names the file.
        OSError: the file cannot be opened.
    """
    image_module = _pil_image()
    with open(path, "rb") as f:
        try:
            with image_module.open(f) as img:
                converted = img.convert(mode)         # decodes the whole image
        except (OSError, SyntaxError, ValueError, image_module.DecompressionBombError) as exc:
            raise ValueError(f"{path}: cannot read the image ({type(exc).__name__}: "
                             f"{exc})") from None
    return np.asarray(converted, dtype=np.uint8)


def default_loader(path: str) -> np.ndarray:
    """The image file at `path`, converted to RGB, as an (H, W, 3) uint8 ndarray (see
    `load_image` for the errors)."""
    return load_image(path, "RGB")


class DatasetFolder(Dataset[tuple[Any, Any]]):
    """A generic dataset of files in one folder per class (torchvision's DatasetFolder).

    Samples are (loader(path), class index), each through `transform` / `target_transform`.

    Args:
        root: the folder holding one sub-folder per class.
        loader: reads one file given its path.
        extensions: the allowed extensions (give this or `is_valid_file`).
        transform: applied to each loaded sample.
        target_transform: applied to each target.
        is_valid_file: a function of the path deciding whether a file is a sample.
        allow_empty: accept class folders without any valid file.

    Attributes:
        classes: the class names (sorted sub-folder names).
        class_to_idx: {class name: index}.
        samples: the list of (path, class index).
        targets: the class index of every sample (a list of ints, as torchvision's).

    Raises:
        FileNotFoundError: `root` missing, without class folders, or a class without any
            valid file (see `make_dataset`).
        ValueError: both or neither of `extensions` and `is_valid_file` given.
    """

    def __init__(self, root: str | os.PathLike[str], loader: Callable[[str], Any],
                 extensions: str | tuple[str, ...] | None = None,
                 transform: Callable[[Any], Any] | None = None,
                 target_transform: Callable[[Any], Any] | None = None,
                 is_valid_file: Callable[[str], bool] | None = None,
                 allow_empty: bool = False) -> None:
        self.root = os.path.expanduser(os.fspath(root))
        self.transform, self.target_transform = transform, target_transform
        classes, class_to_idx = self.find_classes(self.root)
        self.samples = self.make_dataset(self.root, class_to_idx, extensions, is_valid_file,
                                         allow_empty)
        self.loader, self.extensions = loader, extensions
        self.classes, self.class_to_idx = classes, class_to_idx
        self.targets = [target for _, target in self.samples]

    @staticmethod
    def make_dataset(directory: str | os.PathLike[str], class_to_idx: dict[str, int],
                     extensions: str | tuple[str, ...] | None = None,
                     is_valid_file: Callable[[str], bool] | None = None,
                     allow_empty: bool = False) -> list[tuple[str, int]]:
        """The samples (path, class index); override to list them differently."""
        return make_dataset(directory, class_to_idx, extensions, is_valid_file, allow_empty)

    def find_classes(self, directory: str | os.PathLike[str]
                     ) -> tuple[list[str], dict[str, int]]:
        """(classes, class_to_idx); override to choose the classes differently."""
        return find_classes(directory)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        path, target = self.samples[index]
        sample = self.loader(path)
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def __len__(self) -> int:
        return len(self.samples)

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.root}"]
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}".replace("\n", "\n    "))
        if self.target_transform is not None:
            lines.append(f"    Target transform: {self.target_transform!r}")
        return "\n".join(lines)


class ImageFolder(DatasetFolder):
    """Images in one folder per class (torchvision's ImageFolder), e.g. seed 004's
    dogs-vs-cats layout train/cats/*.jpg, train/dogs/*.jpg.

    Each image is read with `loader` (default: `default_loader`, Pillow, converted to RGB, an
    (H, W, 3) uint8 ndarray; `transforms.ToTensor()` turns it into a float (3, H, W) Tensor).
    Images of different sizes need a `transform` that gives them one size (e.g. `Resize((h,
    w))` after `ToTensor()`) before a DataLoader can stack them into a batch.

    Args:
        root: the folder holding one sub-folder per class.
        transform: applied to each image.
        target_transform: applied to each target.
        loader: reads one image given its path.
        is_valid_file: a function of the path deciding whether a file is a sample (default:
            an extension in IMG_EXTENSIONS).
        allow_empty: accept class folders without any image.

    Attributes:
        classes, class_to_idx, samples, targets: as DatasetFolder's; `imgs` is `samples`.

    Raises:
        FileNotFoundError: `root` missing, without class folders, or a class without images.
        ImportError: (when an image is read) Pillow is not installed.
        ValueError: (when an image is read) a file that is not a readable image, named.

    Differences from torchvision: samples are ndarrays, not PIL images.
    """

    def __init__(self, root: str | os.PathLike[str],
                 transform: Callable[[Any], Any] | None = None,
                 target_transform: Callable[[Any], Any] | None = None,
                 loader: Callable[[str], Any] = default_loader,
                 is_valid_file: Callable[[str], bool] | None = None,
                 allow_empty: bool = False) -> None:
        super().__init__(root, loader, IMG_EXTENSIONS if is_valid_file is None else None,
                         transform=transform, target_transform=target_transform,
                         is_valid_file=is_valid_file, allow_empty=allow_empty)
        self.imgs = self.samples
