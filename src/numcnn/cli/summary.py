"""`numcnn summary MODEL|CHECKPOINT`: a table of the layers (output shape, parameters, MACs,
FLOPs, activation memory) from one forward pass (numcnn.analysis.summary)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from numcnn.cli.args import (
    add_model_args,
    non_negative_int,
    positive_int,
)
from numcnn.nn.module import Module
from numcnn.train.run import (
    RunError,
    input_shape,
    model_from,
    read_checkpoint,
)

CLIError = RunError

__all__ = ["add_parser", "run", "zoo_model", "run_model"]


def add_parser(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add this command to the sub-command parsers `sub`."""
    sm = sub.add_parser(
        "summary", formatter_class=fmt, help="print a model's layers, parameters, MACs, memory",
        description="Print a table of a model's layers (output shape, parameters, MACs, FLOPs, "
                    "activation memory)\nand its totals, from one forward pass on zeros.")
    add_model_args(sm, checkpoints=True)
    sm.add_argument("--batch-size", type=positive_int, default=1, metavar="N",
                    help="images per batch (default 1)")
    sm.add_argument("--num-classes", type=positive_int, default=None, metavar="K",
                    help="build the model with K classes (default: the factory's)")
    sm.add_argument("--depth", type=non_negative_int, default=3, metavar="D",
                    help="show layers nested at most D deep (default 3)")


def zoo_model(args: argparse.Namespace, **kwargs: Any) -> tuple[Module, tuple[int, ...]]:
    """Build args.model from numcnn.models and pick its input size."""
    from numcnn import models

    names = models.list_models()
    if args.model not in names:
        raise CLIError(f"unknown model {args.model!r}; known models: {', '.join(names)}")
    factory = models.MODELS[args.model]
    size: tuple[int, ...] = models.input_size(args.model)
    if args.input_size is not None:
        if args.input_size[0] != size[0]:
            kwargs["in_channels"] = args.input_size[0]
        size = tuple(args.input_size)
    return factory(**kwargs), size


def run_model(args: argparse.Namespace) -> tuple[Module, tuple[int, ...]]:
    """The model of the checkpoint args.model (as `numcnn eval` rebuilds it, compressed ones
    included) and the run's input size."""
    if args.input_size is not None or args.num_classes is not None:
        raise CLIError("--input-size and --num-classes apply to zoo models; a checkpoint "
                       "keeps its own")
    model, config = model_from(read_checkpoint(args.model))
    return model, input_shape(config)


def run(args: argparse.Namespace) -> int:
    from numcnn.analysis import summary

    kwargs = {} if args.num_classes is None else {"num_classes": args.num_classes}
    if args.model.endswith(".safetensors") or os.path.isfile(args.model):
        model, size = run_model(args)
    else:
        model, size = zoo_model(args, **kwargs)
    print(f"{args.model} on input {[args.batch_size, *size]}")
    print(summary(model, size, batch_size=args.batch_size, depth=args.depth))
    return 0
