"""argparse pieces the `numcnn` commands share: a parser whose errors are one line, and
argument types that check numbers and say what they expected.
"""

from __future__ import annotations

import argparse
import math
from typing import Callable, NoReturn

from numcnn.train.run import DATASETS

__all__ = ["Parser", "int_at_least", "positive_int", "non_negative_int", "positive_float",
           "fraction", "add_data_args", "add_model_args"]


class Parser(argparse.ArgumentParser):
    """argparse, with an error as one line: 'numcnn train: error: ... (see --help)'."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def int_at_least(minimum: int, wanted: str) -> Callable[[str], int]:
    """An argparse type: an integer >= minimum, else a usage error saying `wanted`."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return value
    return parse


positive_int = int_at_least(1, "a positive integer")
non_negative_int = int_at_least(0, "an integer >= 0")


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def add_model_args(p: argparse.ArgumentParser, checkpoints: bool = False) -> None:
    p.add_argument("model", metavar="MODEL",
                   help="a name from numcnn.models.list_models()" + (
                       ", or a .safetensors checkpoint (compressed ones too)"
                       if checkpoints else ""))
    p.add_argument("--input-size", type=positive_int, nargs=3, metavar=("C", "H", "W"),
                   default=None, help="input channels, height and width (default: the size "
                                      "the model is made for, e.g. 3 224 224)")


def add_data_args(p: argparse.ArgumentParser, default: str | None) -> None:
    p.add_argument("--data", choices=DATASETS, default=None,
                   help=f"the dataset (default {default or 'the one it was trained on'})")
    p.add_argument("--root", metavar="DIR", default=None,
                   help="directory holding the data: the IDX files, the CIFAR archive, or the "
                        "image folder (one sub-folder per class, or train/ and test/ so) "
                        "(default: the run's own, else look in $NUMCNN_DATA, ~/.cache/numcnn, "
                        "the Debian location)")
