"""Datasets read from files: where their files are looked for and where they are downloaded.

`FileDataset` is the base of the dataset readers (MNIST and FashionMNIST in `idx.py`, CIFAR10
and CIFAR100 in `cifar.py`). It holds what they share: the lookup order, the download folder,
the mirror list, the download itself, the "not found" message, `class_to_idx` and the repr.

Lookup order (`FileDataset._lookup`):
    1. an explicit `root`: the path itself, then the dataset's places under it (`_candidates`);
    2. else the dataset's places under $NUMCNN_DATA (when set),
    3. then under ~/.cache/numcnn,
    4. then the system locations the dataset names (`_system_paths`; MNIST: the Debian one).

`download=True` fetches the files of `resources` ((filename, md5) pairs) into
`_download_folder(root)` (under `root`, else $NUMCNN_DATA, else ~/.cache/numcnn) from the first
of `mirrors` that serves them intact, through numcnn.data.download (checked byte counts and
checksums, atomic renames). The environment variable NUMCNN_MIRROR replaces the mirror list:
base URLs separated by commas or spaces, in which "{dataset}" stands for the class name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, TypeVar

from numcnn.data.dataset import LabelledImages
from numcnn.data.download import download_from_mirrors

__all__ = ["FileDataset", "data_home"]

_T = TypeVar("_T")


def data_home(root: str | os.PathLike[str] | None = None) -> Path:
    """`root` if given, else $NUMCNN_DATA, else ~/.cache/numcnn (user-expanded)."""
    if root is None:
        root = os.environ.get("NUMCNN_DATA") or "~/.cache/numcnn"
    return Path(root).expanduser()


class FileDataset(LabelledImages):
    """Base of the datasets read from files: lookup, download and the shared attributes.

    Subclasses set `classes`, `resources`, `mirrors`, define `_candidates` (and optionally
    `_system_paths`, `_download_folder`), and fill `train`, `root`, `data` and `targets`.
    """

    train: bool
    root: str
    classes: list[str]
    resources: list[tuple[str, str]] = []    # (filename, md5) fetched by download=True
    mirrors: list[str] = []                  # base URLs, tried in order

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    # ------------------------------------------------------------------------- lookup
    @classmethod
    def _candidates(cls, base: Path) -> list[Path]:
        """The places (folders or files) of this dataset under a data directory."""
        raise NotImplementedError

    @classmethod
    def _system_paths(cls) -> list[Path]:
        """Places searched last when no root is given (e.g. where a system package puts it)."""
        return []

    @classmethod
    def _lookup(cls, root: str | os.PathLike[str] | None) -> list[Path]:
        """Every place searched, in order (see the module docstring)."""
        if root is not None:
            base = Path(root).expanduser()
            return [base] + cls._candidates(base)
        places: list[Path] = []
        env = os.environ.get("NUMCNN_DATA")
        if env:
            places += cls._candidates(Path(env).expanduser())
        places += cls._candidates(Path("~/.cache/numcnn").expanduser())
        return places + cls._system_paths()

    @classmethod
    def _find_or_download(cls, find: Callable[[], _T], root: str | os.PathLike[str] | None,
                          download: bool) -> _T:
        """`find()`; when it raises RuntimeError (not found) and `download` is set, download
        and `find()` again."""
        try:
            return find()
        except RuntimeError:
            if not download:
                raise
        cls._download(root)
        return find()

    # ------------------------------------------------------------------------- download
    @classmethod
    def _download_folder(cls, root: str | os.PathLike[str] | None) -> Path:
        """Where `download=True` puts the files: the data home (see `data_home`)."""
        return data_home(root)

    @classmethod
    def _mirror_list(cls) -> list[str]:
        """$NUMCNN_MIRROR's base URLs ("{dataset}": the class name), else `mirrors`."""
        env = os.environ.get("NUMCNN_MIRROR", "").replace(",", " ").split()
        return [m.replace("{dataset}", cls.__name__) for m in env] or list(cls.mirrors)

    @classmethod
    def _download(cls, root: str | os.PathLike[str] | None, progress: bool = True) -> Path:
        """Fetch every file of `resources` that is missing or wrong; returns the folder."""
        folder = cls._download_folder(root)
        mirrors = cls._mirror_list()
        for filename, md5 in cls.resources:
            download_from_mirrors(mirrors, filename, folder / filename, md5=md5,
                                  progress=progress)
        return folder

    @classmethod
    def _not_found_text(cls, what: str, places: list[Path], ways: list[str]) -> str:
        """'<Name> dataset not found (<what>). Looked in: ... To get it: ...'."""
        looked = "\n  ".join(str(p) for p in places)
        how = "\n  - ".join(ways)
        return (f"{cls.__name__} dataset not found ({what}). Looked in:\n  {looked}\n"
                f"To get it:\n  - {how}")

    def __repr__(self) -> str:
        split = "Train" if self.train else "Test"
        return (f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n"
                f"    Root location: {self.root}\n    Split: {split}")
