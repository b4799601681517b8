"""`numcnn eval CHECKPOINT...`: loss, accuracy, per-class accuracy and confusion matrix of a
checkpoint (float or compressed), or of an ensemble of checkpoints (their softmax outputs
averaged), on the test split of its dataset."""

from __future__ import annotations

import argparse
import math
from typing import Any

import numpy as np

from numcnn.cli.args import (
    add_data_args,
    positive_int,
)
from numcnn.data import DataLoader
from numcnn.train.run import (
    RunError,
    ensemble_classes,
    first_n,
    load_test_set,
    model_from,
    read_checkpoint,
)
from numcnn.train.trainer import Evaluation, evaluate, evaluate_probabilities, predict_proba

__all__ = ["add_parser", "run"]


def add_parser(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add this command to the sub-command parsers `sub`."""
    ev = sub.add_parser(
        "eval", formatter_class=fmt, help="evaluate a checkpoint on a test split",
        description="Print the loss, accuracy, per-class accuracy and confusion matrix of a "
                    "checkpoint\nwritten by 'numcnn train', on the test split of its dataset "
                    "(or of --data).\nWith several checkpoints (of models trained on the same "
                    "classes), evaluate their\nensemble: the average of their softmax outputs, "
                    "each model fed the test images\nas it was trained (its own size and "
                    "normalisation); each member's accuracy is printed too.")
    ev.add_argument("checkpoint", metavar="CHECKPOINT", nargs="+",
                    help="a .safetensors checkpoint (several: an ensemble)")
    add_data_args(ev, None)
    ev.add_argument("--batch-size", type=positive_int, default=256,
                    help="evaluation batch size (default 256)")
    ev.add_argument("--limit", type=positive_int, default=None, metavar="N",
                    help="evaluate only the first N test images")


def _members(paths: list[str]) -> list[tuple[Any, dict[str, Any]]]:
    """The checkpoints' models and run configurations, checked to share their classes."""
    members = [model_from(read_checkpoint(p)) for p in paths]
    ensemble_classes(paths, [config["classes"] for _, config in members])
    return members


def run(args: argparse.Namespace) -> int:
    members = _members(args.checkpoint)
    config = members[0][1]
    data = args.data or config["data"]
    classes = list(config["classes"])

    def loader(cfg: dict[str, Any]) -> DataLoader:
        return DataLoader(first_n(load_test_set(cfg, data, args.root), args.limit),
                          batch_size=args.batch_size)

    r: Evaluation
    if len(members) == 1:
        r = evaluate(members[0][0], loader(config), num_classes=len(classes))
        print(f"{config['model']} on {data} test split ({r.num_samples} images)")
    else:
        total, labels = None, None
        for path, (model, cfg) in zip(args.checkpoint, members):
            probs, y = predict_proba(model, loader(cfg))
            if labels is not None and not np.array_equal(labels, y):
                raise RunError(f"{path} sees other test labels than {args.checkpoint[0]}")
            labels = y
            total = probs if total is None else total + probs
            print(f"member {path} ({cfg['model']}): accuracy "
                  f"{float((probs.argmax(axis=1) == y).mean()):.4f}")
        assert total is not None and labels is not None
        r = evaluate_probabilities(total / len(members), labels)
        print(f"ensemble of {len(members)} ({', '.join(c['model'] for _, c in members)}) on "
              f"{data} test split ({r.num_samples} images), softmax outputs averaged")
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
