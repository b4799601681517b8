"""IDX files (LeCun's MNIST format) and the MNIST / FashionMNIST datasets.

An IDX file is a 4-byte magic number — two zero bytes, a type code (0x08: unsigned byte) and
the number of dimensions — then one big-endian uint32 per dimension, then the values in C
order. Images are magic 2051 (0x00000803: ubyte, 3 dims N x rows x cols), labels 2049
(0x00000801: ubyte, 1 dim N). Files may be gzipped (detected by their first bytes).

Everything is checked before it is trusted: the magic number, the dimensions, and the size the
header promises against the file's size (for a gzipped file: against the uncompressed size in
its trailer, and against the most that many compressed bytes can expand to) — all before the
body is read; then the body's real length. Any mismatch is a ValueError naming the file and
the problem. Nothing is ever unpickled.

`download=True` fetches the four gzipped files (`resources`, with torchvision's MD5 checksums)
from the first of `mirrors` that serves them intact, into <root>/<ClassName>/raw, through
numcnn.data.download (checked byte counts and checksums, atomic renames). The environment
variable NUMCNN_MIRROR replaces the mirror list: base URLs separated by commas or spaces, in
which "{dataset}" stands for the class name (MNIST, FashionMNIST).
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np

from numcnn.data._files import FileDataset, data_home

__all__ = ["read_idx", "MNIST", "FashionMNIST", "IMAGES_MAGIC", "LABELS_MAGIC"]

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
_GZIP_MAX_RATIO = 1032          # deflate cannot expand data by more than ~1032:1


def _idx_error(path: Path, problem: str) -> ValueError:
    return ValueError(f"{path}: {problem}")


def read_idx(path: str | os.PathLike[str], magic: int | None = None,
             ndim: int | None = None) -> np.ndarray:
    """Read an unsigned-byte IDX file (gzipped or not) into a uint8 array of its dimensions.

    Args:
        path: the file.
        magic: the magic number required (2051 images, 2049 labels), or None for any
            unsigned-byte IDX file.
        ndim: the number of dimensions required, or None.

    Raises:
        ValueError: naming the file and the problem (wrong magic number or dimensions,
            truncated file, extra bytes, size disagreeing with the header, corrupt gzip).
    """
    p = Path(path)
    file_size = p.stat().st_size
    with open(p, "rb") as raw:
        is_gzip = raw.read(2) == b"\x1f\x8b"
        trailer_size = None
        if is_gzip:
            if file_size < 18:
                raise _idx_error(p, f"truncated gzip file ({file_size} bytes)")
            raw.seek(-4, os.SEEK_END)
            trailer_size = struct.unpack("<I", raw.read(4))[0]   # uncompressed size mod 2^32
    opener: Callable[[], Any] = (lambda: gzip.open(p, "rb")) if is_gzip else (lambda: open(p, "rb"))
    try:
        with opener() as f:
            head = f.read(4)
            if len(head) < 4:
                raise _idx_error(p, f"truncated: {len(head)} bytes, an IDX header needs at "
                                    f"least 4")
            zero, code, dims_n = struct.unpack(">HBB", head)
            found = struct.unpack(">I", head)[0]
            if zero != 0 or code != 0x08:
                raise _idx_error(p, f"not an unsigned-byte IDX file (magic number {found}, "
                                    f"expected {magic if magic is not None else '0x0000080N'})")
            if magic is not None and found != magic:
                raise _idx_error(p, f"magic number {found}, expected {magic} "
                                    f"({'images' if magic == IMAGES_MAGIC else 'labels'})")
            if ndim is not None and dims_n != ndim:
                raise _idx_error(p, f"{dims_n} dimensions, expected {ndim}")
            dim_bytes = f.read(4 * dims_n)
            if len(dim_bytes) < 4 * dims_n:
                raise _idx_error(p, f"truncated header: {dims_n} dimensions announced, "
                                    f"{len(dim_bytes) // 4} present")
            dims = struct.unpack(f">{dims_n}I", dim_bytes)
            body = int(np.prod(dims, dtype=np.int64)) if dims else 1
            header = 4 + 4 * dims_n
            if is_gzip:
                assert trailer_size is not None
                if body > file_size * _GZIP_MAX_RATIO:
                    raise _idx_error(p, f"header promises {body} bytes of data ({dims}), more "
                                        f"than {file_size} gzipped bytes can hold")
                if (header + body) % 2**32 != trailer_size:
                    raise _idx_error(p, f"header promises {header + body} bytes ({dims}), the "
                                        f"gzip trailer says {trailer_size}: truncated or "
                                        f"mismatched file")
            else:
                have = file_size - header
                if have < body:
                    raise _idx_error(p, f"truncated: header promises {body} bytes of data "
                                        f"({dims}), the file has {have}")
                if have > body:
                    raise _idx_error(p, f"{have - body} bytes more than the header promises "
                                        f"({dims}: {body} bytes of data)")
            data = f.read(body)
            if len(data) != body:
                raise _idx_error(p, f"truncated: header promises {body} bytes of data "
                                    f"({dims}), the file has {len(data)}")
            if f.read(1):
                raise _idx_error(p, f"more data than the header promises ({dims}: {body} "
                                    f"bytes)")
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise _idx_error(p, f"corrupt or truncated gzip data ({exc})") from None
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


# ----------------------------------------------------------------------------- datasets
class MNIST(FileDataset):
    """The MNIST handwritten digits: 28 x 28 uint8 images, labels 0-9.

    Samples are (image, target): the image a (28, 28) uint8 ndarray (after `transform`, e.g.
    `ToTensor()`, a float32 (1, 28, 28) Tensor), the target an int. `data` (N, 28, 28) uint8
    and `targets` (N,) int64 hold the whole split.

    Args:
        root: the directory holding the IDX files (train-images-idx3-ubyte[.gz],
            train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz],
            t10k-labels-idx1-ubyte[.gz]), directly or in <root>/<ClassName>/raw,
            <root>/<ClassName> or <root>/mnist (fashion-mnist). None: those folders under
            $NUMCNN_DATA, else under ~/.cache/numcnn, else the Debian location.
        train: the training split (60000) or the test split (10000).
        transform: applied to each image (vectorised via its `batch` method by `get_batch`).
        target_transform: applied to each target.
        download: when the split is not found, download the four files into
            <root>/<ClassName>/raw (root None: $NUMCNN_DATA, else ~/.cache/numcnn) from
            `mirrors` (or $NUMCNN_MIRROR), checking their MD5; files already there with the
            right checksum are not fetched again.
    """

    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    debian_dir = "/usr/share/datasets/mnist"
    debian_package: str | None = None
    folder_names = ("mnist",)
    # (filename, md5) as published in torchvision's datasets/mnist.py
    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    mirrors = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ]

    def __init__(self, root: str | os.PathLike[str] | None = None, train: bool = True,
                 transform: Callable[[Any], Any] | None = None,
                 target_transform: Callable[[Any], Any] | None = None,
                 download: bool = False) -> None:
        self.train, self.transform, self.target_transform = train, transform, target_transform
        prefix = "train" if train else "t10k"
        names = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
        folder, files = self._find_or_download(lambda: self._find(root, names), root, download)
        self.root = str(folder)
        images = read_idx(files[0], IMAGES_MAGIC, 3)
        labels = read_idx(files[1], LABELS_MAGIC, 1)
        if images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"{files[0]} holds {images.shape[0]} images but {files[1]} holds "
                f"{labels.shape[0]} labels"
            )
        if labels.size and labels.max() >= len(self.classes):
            raise ValueError(
                f"{files[1]}: label {int(labels.max())} out of range 0..{len(self.classes) - 1}"
            )
        self.data: np.ndarray = images
        self.targets: np.ndarray = labels.astype(np.int64)

    @classmethod
    def _candidates(cls, base: Path) -> list[Path]:
        """The dataset's own folders under a shared data directory (never the directory
        itself: MNIST and FashionMNIST files have the same names)."""
        return [base / cls.__name__ / "raw", base / cls.__name__] + \
            [base / f for f in cls.folder_names]

    @classmethod
    def _system_paths(cls) -> list[Path]:
        return [Path(cls.debian_dir)]

    @classmethod
    def _find(cls, root: str | os.PathLike[str] | None, names: tuple[str, str]
              ) -> tuple[Path, tuple[Path, Path]]:
        """The first directory holding both files (plain or .gz), in the lookup order."""
        dirs = cls._lookup(root)
        for d in dirs:
            found = []
            for n in names:
                hit = next((d / (n + ext) for ext in ("", ".gz") if (d / (n + ext)).is_file()),
                           None)
                found.append(hit)
            if found[0] is not None and found[1] is not None:
                return d, (found[0], found[1])
        raise RuntimeError(cls._not_found_message(dirs, names))

    @classmethod
    def _download_folder(cls, root: str | os.PathLike[str] | None) -> Path:
        """<root>/<ClassName>/raw, root defaulting to $NUMCNN_DATA, else ~/.cache/numcnn."""
        return data_home(root) / cls.__name__ / "raw"

    @classmethod
    def _not_found_message(cls, dirs: list[Path], names: tuple[str, str]) -> str:
        name = cls.__name__
        ways = []
        if cls.debian_package:
            ways.append(f"install the Debian package: sudo apt-get install {cls.debian_package}"
                        f" (it puts the files in {cls.debian_dir}, found automatically)")
        ways.append(f"download it: {name}(download=True), or --download on the command line "
                    f"(into <root>/{name}/raw; mirrors: {', '.join(cls._mirror_list())})")
        ways.append(f"put {names[0]}[.gz] and {names[1]}[.gz] in a directory and pass "
                    f"{name}(root=that_directory) or --data that_directory, or set "
                    f"$NUMCNN_DATA to it, or use ~/.cache/numcnn/{name}")
        return cls._not_found_text(f"{names[0]}, {names[1]}", dirs, ways)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28 x 28 uint8 images of 10 kinds of clothing (see MNIST).

    Found without `root` in $NUMCNN_DATA, ~/.cache/numcnn, or where the Debian package
    `dataset-fashion-mnist` installs it (/usr/share/datasets/fashion-mnist).
    """

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
    debian_dir = "/usr/share/datasets/fashion-mnist"
    debian_package = "dataset-fashion-mnist"
    folder_names = ("fashion-mnist",)
    # (filename, md5) as published in torchvision's datasets/mnist.py
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
