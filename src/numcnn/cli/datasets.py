"""`numcnn datasets`: which datasets are found where, in the lookup order."""

from __future__ import annotations

import argparse
from typing import Any

from numcnn.train.run import (
    CIFAR_DATASETS,
    IDX_DATASETS,
    SYNTHETIC_TEST,
    SYNTHETIC_TRAIN,
)

__all__ = ["add_parser", "run"]


def add_parser(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add this command to the sub-command parsers `sub`."""
    ds = sub.add_parser(
        "datasets", formatter_class=fmt, help="show which datasets are found where",
        description="For each dataset, every location in the lookup order, whether the files "
                    "are there\nand their sizes.")
    ds.add_argument("--root", metavar="DIR", default=None,
                    help="also look in this directory first (as train --root)")


def _size_text(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def run(args: argparse.Namespace) -> int:
    for name, cls in IDX_DATASETS.items():
        print(f"{name} ({cls.__name__}), looked up in this order:")
        first = True
        for d in cls._lookup(args.root):
            files = []
            for split in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                          "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
                hit = next((d / (split + ext) for ext in ("", ".gz")
                            if (d / (split + ext)).is_file()), None)
                files.append(hit)
            found = [f for f in files if f is not None]
            if len(found) == 4:
                total = sum(f.stat().st_size for f in found)
                note = " (used)" if first else ""
                first = False
                print(f"  found      {d}  4 files, {_size_text(total)}{note}")
            elif found:
                print(f"  incomplete {d}  {len(found)} of 4 files")
            else:
                print(f"  not found  {d}")
        if first:
            pkg = f"'sudo apt-get install {cls.debian_package}', " if cls.debian_package else ""
            print(f"  -> get it with {pkg}'numcnn train --data {name} --download' or --root DIR")
    for name, cifar in CIFAR_DATASETS.items():
        print(f"{name} ({cifar.__name__}), looked up in this order:")
        hit = None
        for place in cifar._lookup(args.root):
            is_archive = place.is_file() and place.name.endswith((".tar.gz", ".tgz", ".tar"))
            is_folder = place.is_dir() and (place / cifar.test_files[0]).is_file()
            if (is_archive or is_folder) and hit is None:
                hit = place
                size = (place.stat().st_size if is_archive
                        else sum(f.stat().st_size for f in place.iterdir() if f.is_file()))
                print(f"  found      {place}  {_size_text(size)} (used)")
            elif is_archive or is_folder:
                print(f"  found      {place}")
            else:
                print(f"  not found  {place}")
        if hit is None:
            print(f"  -> get it with 'numcnn train --data {name} --download' (the binary "
                  f"{cifar.archive}) or --root DIR")
    print("imagefolder (ImageFolder): the folder given with --root (one sub-folder per class, "
          "or train/ and test/ laid out so)")
    print(f"synthetic (SyntheticShapes): generated, always available "
          f"({SYNTHETIC_TRAIN} training, {SYNTHETIC_TEST} test images, 28x28, 5 shapes)")
    return 0
