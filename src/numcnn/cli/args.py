"""argparse pieces the `numcnn` commands share: a parser whose errors are one line, and
argument types that check numbers and say what they expected.
"""

from __future__ import annotations

import argparse
import math
from typing import Callable, NoReturn

__all__ = ["Parser", "int_at_least", "positive_int", "non_negative_int", "positive_float",
           "fraction"]


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
