"""`numcnn landscape CHECKPOINT --out FILE.png`: the loss landscape of a trained model around
its weights (Li et al. 2018, filter-normalised random directions; seed 003).

    numcnn landscape runs/x/best.safetensors --out landscape.png
    numcnn landscape runs/x/best.safetensors --steps 15 --limit 500 --span 0.5 --out l.png

The loss is the mean cross-entropy over the first N images of the run's training split (no
augmentation, the run's normalisation), evaluated in eval mode at each of steps x steps points
theta* + a d1 + b d2, a, b in [-span, span]. The command parses, calls
`numcnn.viz.loss_landscape` and `plot_landscape`, writes the PNG atomically and prints the
centre loss and the range; everything it does, Python can do with numcnn.viz.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from typing import Any

import numpy as np

import numcnn.nn.functional as F
from numcnn.cli import check_png_path, write_png
from numcnn.cli.args import int_at_least, positive_float, positive_int
from numcnn.data import DataLoader
from numcnn.train.run import first_n, load_run, load_split, pipeline

__all__ = ["add_parser", "run"]

_DEFAULT_LIMIT = 1000


def add_parser(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add `numcnn landscape` to the sub-command parsers `sub`."""
    p = sub.add_parser(
        "landscape", formatter_class=fmt,
        help="draw the loss landscape of a checkpoint (Li et al. 2018)",
        description="Draw the loss around a trained model's weights as contours and a 3-D "
                    "surface (PNG):\nL(theta* + a d1 + b d2) over a grid of a, b in [-span, "
                    "span], with two random\nGaussian directions d1, d2 normalised filter by "
                    "filter to the weights' norms (biases\nand batch norm not moved), as Li et "
                    "al., 'Visualizing the Loss Landscape of Neural\nNets' (NeurIPS 2018). The "
                    "loss is the mean cross-entropy over the first N images of\nthe run's "
                    "training split (not shuffled, not augmented), in eval mode.",
        epilog="examples:\n  numcnn landscape runs/x/best.safetensors --out landscape.png\n"
               "  numcnn landscape runs/x/best.safetensors --steps 15 --limit 500 --out l.png")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a .safetensors checkpoint")
    p.add_argument("--out", metavar="FILE.png", required=True, help="the PNG to write")
    p.add_argument("--steps", type=int_at_least(2, "an integer >= 2"), default=21, metavar="S",
                   help="grid points per direction (default 21: 441 evaluations)")
    p.add_argument("--limit", type=positive_int, default=_DEFAULT_LIMIT, metavar="N",
                   help=f"use the first N training images (default {_DEFAULT_LIMIT})")
    p.add_argument("--span", type=positive_float, default=1.0,
                   help="the grid covers [-span, span] along each direction (default 1.0)")
    p.add_argument("--seed", type=int, default=0, help="seed of the directions (default 0)")
    p.add_argument("--batch-size", type=positive_int, default=256, metavar="B",
                   help="evaluation batch size (default 256)")
    p.add_argument("--root", metavar="DIR", default=None,
                   help="directory holding the dataset's IDX files (as 'numcnn eval')")
    p.add_argument("--progress", action="store_true",
                   help="show the progress bar over the grid points even when stderr is not "
                        "a terminal (on a terminal it is always shown)")


def _training_batches(config: dict[str, Any], limit: int, batch_size: int,
                      root: str | None) -> list[Any]:
    """The first `limit` images of the run's training split, normalised, not augmented."""
    train_set = load_split(config, True, root)
    train_set.transform = pipeline(config["data"], config["mean"], config["std"],
                                   augment=False)
    return list(DataLoader(first_n(train_set, limit), batch_size=batch_size))


def run(args: argparse.Namespace) -> int:
    """Compute the landscape of `args.checkpoint`, draw it to `args.out`, print a summary."""
    from numcnn.viz.landscape import loss_landscape, plot_landscape

    check_png_path(args.out)                      # before any work
    model, config = load_run(args.checkpoint)
    batches = _training_batches(config, args.limit, args.batch_size, args.root)
    n = sum(int(x.shape[0]) for x, _ in batches)
    print(f"loss landscape of {config['model']} on the first {n} {config['data']} training "
          f"images: {args.steps}x{args.steps} points in [-{args.span:g}, {args.span:g}]^2, "
          f"seed {args.seed}", flush=True)
    start = time.perf_counter()
    land = loss_landscape(model, F.cross_entropy, batches, steps=(args.steps, args.steps),
                          span=args.span, seed=args.seed,
                          progress=args.progress or sys.stderr.isatty())
    seconds = time.perf_counter() - start
    finite = land.losses[np.isfinite(land.losses)]        # a diverged point can be inf or NaN
    name = os.path.basename(args.checkpoint)
    path = write_png(plot_landscape(land, title=f"{config['model']} ({name}): loss landscape"),
                     args.out)
    low = float(finite.min()) if finite.size else math.nan
    high = float(finite.max()) if finite.size else math.nan
    print(f"centre loss {land.center_loss:.4f}")
    print(f"loss range  {low:.4f} .. {high:.4f} over the grid ({seconds:.1f}s)")
    print(f"wrote {path}")
    return 0
