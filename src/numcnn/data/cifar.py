"""CIFAR-10 and CIFAR-100, read from the official *binary* archives (never the pickled ones).

The binary format (https://www.cs.toronto.edu/~kriz/cifar.html): a file is a run of records,
each made of the label byte(s), then 3072 pixel bytes: the 1024 red values of the 32 x 32
image in row-major order, then the 1024 green, then the 1024 blue. CIFAR-10 records have one
label byte (0-9); CIFAR-100 records two: the coarse label (0-19, the superclass), then the fine
label (0-99). The class names are plain text files, one name per line.

    CIFAR-10   cifar-10-binary.tar.gz  ->  cifar-10-batches-bin/
                   data_batch_1.bin ... data_batch_5.bin (train), test_batch.bin (test),
                   batches.meta.txt (the 10 class names)
    CIFAR-100  cifar-100-binary.tar.gz ->  cifar-100-binary/
                   train.bin, test.bin, fine_label_names.txt, coarse_label_names.txt

The official files hold 10000 records each (CIFAR-100: train.bin 50000, test.bin 10000). The
reader does not assume those counts; it checks that a file is a whole number of records, that
the training batches all hold the same number, and that every label is in range.

The data may be the extracted folder or the .tar.gz archive itself. An archive is read in
place, in one streaming pass with `tarfile`: only regular-file members with the expected names
are read, nothing is extracted to disk, and an archive holding a link, a device, an absolute
name or a '..' component is refused. Every problem is a ValueError naming the file (for an
archive: the archive and the member) and what is wrong with it.
"""

from __future__ import annotations

import os
import tarfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any, Callable, NamedTuple

import numpy as np

from numcnn.data._files import FileDataset

__all__ = ["CIFAR10", "CIFAR100"]

_PIXELS = 3 * 32 * 32                 # bytes of one image: R plane, G plane, B plane
_MAX_BATCH_BYTES = 1 << 30            # far above the largest official file (153.7 MB)
_MAX_NAMES_BYTES = 1 << 20            # a class-name list is a few hundred bytes


class _Label(NamedTuple):
    """One label byte of a record: where it goes and how many classes it has."""

    targets: str       # attribute holding the labels, int64 (N,)
    classes: str       # attribute holding the class names
    names_file: str    # the text file listing the names, one per line
    n_classes: int     # labels are 0 .. n_classes - 1
    what: str          # how error messages call it


def _check_size(where: str, size: int, record: int) -> None:
    """A batch file must be a non-empty whole number of `record`-byte records."""
    if size == 0:
        raise ValueError(f"{where}: empty file, expected records of {record} bytes")
    if size % record:
        raise ValueError(
            f"{where}: {size} bytes is not a whole number of {record}-byte records "
            f"({record - _PIXELS} label byte(s) + {_PIXELS} pixel bytes): truncated, or not a "
            f"CIFAR binary file of this kind"
        )
    if size > _MAX_BATCH_BYTES:
        raise ValueError(f"{where}: {size} bytes, more than a CIFAR batch file can be "
                         f"({_MAX_BATCH_BYTES} bytes at most)")


def _read_folder(folder: Path, names: list[str], record: int) -> dict[str, tuple[str, bytes]]:
    """{name: (path, bytes)} for the files `names` of an extracted folder."""
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise ValueError(f"{folder}: missing {', '.join(missing)} (this split needs "
                         f"{', '.join(names)})")
    out = {}
    for n in names:
        path = folder / n
        size = path.stat().st_size
        if n.endswith(".bin"):
            _check_size(str(path), size, record)
        elif size > _MAX_NAMES_BYTES:
            raise ValueError(f"{path}: {size} bytes, too large for a list of class names")
        out[n] = (str(path), path.read_bytes())
    return out


def _check_member(archive: Path, member: tarfile.TarInfo) -> None:
    """Refuse an archive with a member that could point outside it or is not plain data."""
    if member.name.startswith("/") or ".." in PurePosixPath(member.name).parts:
        raise ValueError(f"{archive}: member {member.name!r} has an absolute path or a '..' "
                         f"component: refusing to read this archive")
    if not (member.isfile() or member.isdir()):
        kind = "symbolic link" if member.issym() else "hard link" if member.islnk() \
            else "special file"
        raise ValueError(f"{archive}: member {member.name!r} is a {kind}: refusing to read "
                         f"this archive (the official one holds only files and folders)")


def _read_archive(archive: Path, folder: str, names: list[str], record: int
                  ) -> dict[str, tuple[str, bytes]]:
    """{name: (description, bytes)} for the members <folder>/<name> of a tar(.gz) archive,
    read in one streaming pass (stopping once all are read)."""
    wanted = {f"{folder}/{n}": n for n in names}
    out: dict[str, tuple[str, bytes]] = {}
    try:
        with tarfile.open(archive, mode="r|*") as tar:
            for member in tar:
                _check_member(archive, member)
                key = member.name[2:] if member.name.startswith("./") else member.name
                name = wanted.get(key)
                if name is None or not member.isfile():
                    continue
                where = f"{archive}: {key}"
                if name.endswith(".bin"):
                    _check_size(where, member.size, record)
                elif member.size > _MAX_NAMES_BYTES:
                    raise ValueError(f"{where}: {member.size} bytes, too large for a list of "
                                     f"class names")
                f = tar.extractfile(member)
                data = f.read() if f is not None else b""
                if len(data) != member.size:
                    raise ValueError(f"{where}: truncated, {len(data)} of {member.size} bytes")
                out[name] = (where, data)
                if len(out) == len(wanted):
                    break
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ValueError(f"{archive}: corrupt or truncated archive "
                         f"({type(exc).__name__}: {exc})") from None
    missing = [k for k, n in wanted.items() if n not in out]
    if missing:
        raise ValueError(f"{archive}: no file {', '.join(missing)} in the archive")
    return out


def _parse_batch(where: str, data: bytes, labels: tuple[_Label, ...]
                 ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Records -> (images (N, 32, 32, 3) uint8 view, one (N,) uint8 array per label byte)."""
    record = len(labels) + _PIXELS
    _check_size(where, len(data), record)
    rec = np.frombuffer(data, dtype=np.uint8).reshape(-1, record)      # (N, L + 3072)
    out = []
    for k, label in enumerate(labels):
        column = rec[:, k]
        bad = np.flatnonzero(column >= label.n_classes)
        if bad.size:
            raise ValueError(f"{where}: record {bad[0]} has {label.what} {column[bad[0]]}, "
                             f"out of range 0..{label.n_classes - 1}")
        out.append(column)
    planes = rec[:, len(labels):].reshape(-1, 3, 32, 32)             # (N, C, H, W)
    return planes.transpose(0, 2, 3, 1), out                          # (N, H, W, C)


def _parse_names(where: str, data: bytes, label: _Label) -> list[str]:
    """The non-empty lines of a class-name file; there must be `label.n_classes` of them."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where}: not a text file of class names ({exc})") from None
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if len(names) != label.n_classes:
        raise ValueError(f"{where}: {len(names)} class names, expected {label.n_classes} "
                         f"(one per line)")
    return names


class CIFAR10(FileDataset):
    """CIFAR-10: 32 x 32 colour images of 10 classes (airplane ... truck), 50000 for
    training and 10000 for testing, read from the official binary archive.

    Samples are (image, target): the image a (32, 32, 3) uint8 ndarray in HWC order, as
    torchvision's (after `transform`, e.g. `ToTensor()`, a float32 (3, 32, 32) Tensor), the
    target an int. `data` (N, 32, 32, 3) uint8 and `targets` (N,) int64 hold the whole split;
    `classes` comes from batches.meta.txt.

    Args:
        root: a directory holding cifar-10-binary.tar.gz or the folder cifar-10-batches-bin
            extracted from it, or that folder itself, or the archive file itself. None: those
            under $NUMCNN_DATA, else under ~/.cache/numcnn.
        train: the training split (data_batch_1.bin ... data_batch_5.bin) or the test split
            (test_batch.bin).
        transform: applied to each image (vectorised via its `batch` method by `get_batch`).
        target_transform: applied to each target.
        download: when the data is not found, download cifar-10-binary.tar.gz (about
            170 MB) into `root` (None: $NUMCNN_DATA, else ~/.cache/numcnn) from `mirrors`
            (or $NUMCNN_MIRROR), checking its MD5. The archive is read as it is, not extracted.

    Raises:
        RuntimeError: the data is not found (and `download` is False); the message says
            where it looked and how to get it.
        ValueError: a file is missing from the folder or archive, or is bad (not a whole
            number of records, training batches of different sizes, a label out of range, a
            wrong list of class names, a corrupt or unsafe archive); the message names it.
        DownloadError: the download failed (numcnn.data.download).

    Differences from torchvision: it reads the binary version (torchvision the pickled python
    version, which numcnn never unpickles); `targets` is an int64 ndarray, not a list;
    `root` is the folder or archive the data was read from.
    """

    base_folder = "cifar-10-batches-bin"
    archive = "cifar-10-binary.tar.gz"
    train_files = [f"data_batch_{i}.bin" for i in range(1, 6)]
    test_files = ["test_batch.bin"]
    labels: tuple[_Label, ...] = (
        _Label("targets", "classes", "batches.meta.txt", 10, "label"),
    )
    resources = [("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530")]
    mirrors = ["https://www.cs.toronto.edu/~kriz/"]

    def __init__(self, root: str | os.PathLike[str] | None = None, train: bool = True,
                 transform: Callable[[Any], Any] | None = None,
                 target_transform: Callable[[Any], Any] | None = None,
                 download: bool = False) -> None:
        self.train, self.transform, self.target_transform = train, transform, target_transform
        batches = self.train_files if train else self.test_files
        place = self._find_or_download(lambda: self._find(root, batches), root, download)
        self.root = str(place)
        names = batches + [label.names_file for label in self.labels]
        record = len(self.labels) + _PIXELS
        if place.is_file():
            files = _read_archive(place, self.base_folder, names, record)
        else:
            files = _read_folder(place, names, record)
        parts = [_parse_batch(*files[b], self.labels) for b in batches]
        for b, (images, _) in zip(batches, parts):
            if len(images) != len(parts[0][0]):
                raise ValueError(
                    f"{files[b][0]} holds {len(images)} records but {files[batches[0]][0]} "
                    f"holds {len(parts[0][0])}: the batches of a split must all be the same "
                    f"size (10000 records in the official files)"
                )
        self.data: np.ndarray = np.empty((sum(len(im) for im, _ in parts), 32, 32, 3),
                                         dtype=np.uint8)                 # (N, H, W, C)
        np.concatenate([images for images, _ in parts], out=self.data)   # one copy, C order
        for k, label in enumerate(self.labels):
            setattr(self, label.targets,
                    np.concatenate([lab[k] for _, lab in parts]).astype(np.int64))
            setattr(self, label.classes, _parse_names(*files[label.names_file], label))

    @classmethod
    def _candidates(cls, base: Path) -> list[Path]:
        """The extracted folder and the archive under a data directory."""
        return [base / cls.base_folder, base / cls.archive]

    @classmethod
    def _find(cls, root: str | os.PathLike[str] | None, batches: list[str]) -> Path:
        """The first place in the lookup order holding the split: an archive file, the
        extracted folder, or a folder with at least one of the split's batch files in it
        (the others, if missing, are reported when it is read)."""
        places = cls._lookup(root)
        for p in places:
            if p.is_file() and p.name.endswith((".tar.gz", ".tgz", ".tar")):
                return p
            if p.is_dir() and (p.name == cls.base_folder
                               or any((p / b).is_file() for b in batches)):
                return p
        raise RuntimeError(cls._not_found_text(
            f"{cls.archive} or {cls.base_folder}/", places,
            [f"download it: {cls.__name__}(download=True) (into <root>, else $NUMCNN_DATA, "
             f"else ~/.cache/numcnn; mirrors: {', '.join(cls._mirror_list())})",
             f"put {cls.archive} (the binary version, not the python one), or the folder "
             f"{cls.base_folder} extracted from it, in a directory and pass "
             f"{cls.__name__}(root=that_directory), or set $NUMCNN_DATA to it, or use "
             f"~/.cache/numcnn"]))


class CIFAR100(CIFAR10):
    """CIFAR-100: 32 x 32 colour images of 100 classes in 20 superclasses, 50000 for training
    and 10000 for testing, read from the official binary archive (see CIFAR10 for the
    arguments, the lookup and the errors).

    `targets` and `classes` are the fine labels (0-99) and names, as torchvision's. numcnn
    extension: `coarse_targets` (N,) int64 and `coarse_classes` (20 names) hold the
    superclasses, which torchvision's CIFAR100 does not expose.

    Args:
        root: a directory holding cifar-100-binary.tar.gz or the folder cifar-100-binary
            extracted from it, or that folder itself, or the archive file itself. None: those
            under $NUMCNN_DATA, else under ~/.cache/numcnn.
        train: the training split (train.bin) or the test split (test.bin).
        transform: applied to each image.
        target_transform: applied to each (fine) target.
        download: when the data is not found, download cifar-100-binary.tar.gz (about 170 MB).
    """

    base_folder = "cifar-100-binary"
    archive = "cifar-100-binary.tar.gz"
    train_files = ["train.bin"]
    test_files = ["test.bin"]
    labels = (
        _Label("coarse_targets", "coarse_classes", "coarse_label_names.txt", 20,
               "coarse label"),
        _Label("targets", "classes", "fine_label_names.txt", 100, "fine label"),
    )
    resources = [("cifar-100-binary.tar.gz", "03b5dce01913d631647c71ecec9e9cb8")]

    coarse_targets: np.ndarray
    coarse_classes: list[str]
