"""`numcnn rf MODEL`: the receptive field of every layer (numcnn.analysis.receptive_field)."""

from __future__ import annotations

import argparse
from typing import Any

from numcnn.cli.args import (
    add_model_args,
    non_negative_int,
)
from numcnn.cli.summary import zoo_model

__all__ = ["add_parser", "run"]


def add_parser(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add this command to the sub-command parsers `sub`."""
    rf = sub.add_parser(
        "rf", formatter_class=fmt, help="print the receptive field of every layer of a model",
        description="Print each layer's receptive field size, jump (effective stride) and "
                    "start, per spatial\naxis, following every path; and the largest field "
                    "with its path.")
    add_model_args(rf)
    rf.add_argument("--depth", type=non_negative_int, default=None, metavar="D",
                    help="show layers nested at most D deep (default: all)")


def run(args: argparse.Namespace) -> int:
    from numcnn.analysis import receptive_field

    model, size = zoo_model(args)
    print(receptive_field(model, size).table(depth=args.depth))
    return 0
