"""`numcnn predict CHECKPOINT IMAGE...`: the predicted class and its probability for each
image file."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import numcnn
from numcnn.cli.args import (
    positive_int,
)
from numcnn.train.run import (
    model_from,
    model_input,
    read_checkpoint,
)

__all__ = ["add_parser", "run"]


def add_parser(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add this command to the sub-command parsers `sub`."""
    pr = sub.add_parser(
        "predict", formatter_class=fmt, help="classify image files with a checkpoint",
        description="Print the predicted class and its probability for each image.\n\n"
                    "Images: .npy arrays ((H, W), (C, H, W) or (H, W, C); uint8 is scaled by "
                    "1/255, floats\nare taken as they are), .pgm files, and .png if Pillow is "
                    "installed. They are\nconverted to the model's channels and resized to its "
                    "input size.")
    pr.add_argument("checkpoint", metavar="CHECKPOINT", help="a .safetensors checkpoint")
    pr.add_argument("images", metavar="IMAGE", nargs="+", help="image files")
    pr.add_argument("--top", type=positive_int, default=1, metavar="K",
                    help="print the K most probable classes (default 1)")


def run(args: argparse.Namespace) -> int:
    ckpt = read_checkpoint(args.checkpoint)
    model, config = model_from(ckpt)
    classes = list(config["classes"])
    for path in args.images:
        _, x = model_input(path, config)
        with numcnn.no_grad():
            logits = model(x).array[0].astype(np.float64)
        p = np.exp(logits - logits.max())
        p /= p.sum()
        best = np.argsort(-p)[:args.top]
        shown = ", ".join(f"{classes[k]} {p[k]:.4f}" for k in best)
        print(f"{path}: {shown}")
    return 0
