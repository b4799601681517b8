"""`numcnn eval CHECKPOINT`: loss, accuracy, per-class accuracy and confusion matrix of a
checkpoint (float or compressed) on the test split of its dataset."""

from __future__ import annotations

import argparse
import math
from typing import Any

from numcnn.cli.args import (
    add_data_args,
    positive_int,
)
from numcnn.data import DataLoader
from numcnn.train.run import (
    first_n,
    load_test_set,
    model_from,
    read_checkpoint,
)
from numcnn.train.trainer import evaluate

__all__ = ["add_parser", "run"]


def add_parser(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add this command to the sub-command parsers `sub`."""
    ev = sub.add_parser(
        "eval", formatter_class=fmt, help="evaluate a checkpoint on a test split",
        description="Print the loss, accuracy, per-class accuracy and confusion matrix of a "
                    "checkpoint\nwritten by 'numcnn train', on the test split of its dataset "
                    "(or of --data).")
    ev.add_argument("checkpoint", metavar="CHECKPOINT", help="a .safetensors checkpoint")
    add_data_args(ev, None)
    ev.add_argument("--batch-size", type=positive_int, default=256,
                    help="evaluation batch size (default 256)")
    ev.add_argument("--limit", type=positive_int, default=None, metavar="N",
                    help="evaluate only the first N test images")


def run(args: argparse.Namespace) -> int:
    ckpt = read_checkpoint(args.checkpoint)
    model, config = model_from(ckpt)
    data = args.data or config["data"]
    classes = list(config["classes"])
    loader = DataLoader(first_n(load_test_set(config, data, args.root), args.limit),
                        batch_size=args.batch_size)
    r = evaluate(model, loader, num_classes=len(classes))
    print(f"{config['model']} on {data} test split ({r.num_samples} images)")
    print(f"loss      {r.loss:.4f}")
    print(f"accuracy  {r.accuracy:.4f}")
    print("per-class accuracy:")
    width = max(len(c) for c in classes)
    for name, acc, support in zip(classes, r.per_class_accuracy,
                                  r.confusion_matrix.sum(axis=1)):
        shown = "   n/a" if math.isnan(acc) else f"{acc:.4f}"
        print(f"  {name:<{width}}  {shown}  ({support} images)")
    print("confusion matrix (rows: true class, columns: predicted):")
    cell = max(4, len(str(int(r.confusion_matrix.max()))) + 1)
    print(" " * (width + 2) + "".join(f"{k:>{cell}}" for k in range(len(classes))))
    for k, (name, row) in enumerate(zip(classes, r.confusion_matrix)):
        print(f"  {name:<{width}}" + "".join(f"{int(v):>{cell}}" for v in row) + f"   [{k}]")
    return 0
