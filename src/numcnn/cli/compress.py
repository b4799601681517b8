"""`numcnn compress {prune,channels,int8,inq,binarize} CHECKPOINT --out DIR`: make a trained
model smaller (seed 004, "Reduced complexity CNN architectures"), then print what it cost.

    numcnn compress prune    runs/x/best.safetensors --sparsity 0.8 --steps 3 --epochs 1 --out s
    numcnn compress prune    runs/x/best.safetensors --channels 0.5 --steps 2 --epochs 1 --out c
    numcnn compress channels runs/x/best.safetensors --amount 0.3 --epochs 1 --out c30
    numcnn compress int8     runs/x/best.safetensors --calibration 512 --out q
    numcnn compress inq      runs/x/best.safetensors --bits 5 --epochs 1 --out inq5
    numcnn compress binarize runs/x/best.safetensors --xnor --epochs 3 --out xnor

Each writes DIR/model.safetensors (the compressed model in its compact form with the run's
configuration, so that `numcnn eval`, `predict` and `summary` read it) and DIR/compress.json
(the numbers printed), and prints before and after: parameters, non-zero parameters, bytes on
disk, MACs (all, and those whose weight is not zero: what a sparse kernel would do) and test
accuracy. Fine-tuning runs on the run's training split with Adam at a
constant --lr and shows a progress bar; calibration shows one too. The command only parses and
calls numcnn.compress: everything it does, Python can do.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any, Callable

from numcnn._atomic import atomic_write
from numcnn.cli.args import (
    fraction,
    int_at_least,
    non_negative_int,
    positive_float,
    positive_int,
)
from numcnn.compress import checkpoint
from numcnn.compress.workflow import Stats, calibration_batches, example_input, fine_tune, measure
from numcnn.nn.module import Module
from numcnn.train.run import RunError, load_run
from numcnn.train.trainer import Callback, Trainer

__all__ = ["add_parser", "run"]

def _common(p: argparse.ArgumentParser, epochs: int | None, lr: float = 1e-4) -> None:
    p.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="a .safetensors checkpoint written by 'numcnn train'")
    p.add_argument("--out", metavar="DIR", required=True,
                   help="directory for model.safetensors and compress.json (created)")
    if epochs is not None:
        p.add_argument("--epochs", type=non_negative_int, default=epochs, metavar="E",
                       help=f"fine-tuning epochs (per step where there are steps; default "
                            f"{epochs})")
        p.add_argument("--lr", type=positive_float, default=lr,
                       help=f"fine-tuning learning rate, Adam, constant (default {lr:g})")
        p.add_argument("--train-limit", type=positive_int, default=None, metavar="N",
                       help="fine-tune on the first N images of a seeded permutation of the "
                            "training split (default all)")
    p.add_argument("--test-limit", type=positive_int, default=None, metavar="N",
                   help="measure test accuracy on the first N test images (default all)")
    p.add_argument("--root", metavar="DIR", default=None,
                   help="directory holding the dataset's IDX files (as 'numcnn eval')")
    p.add_argument("--progress", action="store_true",
                   help="show progress bars even when stderr is not a terminal")


def add_parser(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add `numcnn compress` and its actions to the sub-command parsers `sub`."""
    p = sub.add_parser(
        "compress", formatter_class=fmt,
        help="prune, quantise or binarise a trained model and measure the result",
        description="Make a trained model smaller and print, before and after: parameters, "
                    "non-zero\nparameters, bytes on disk, MACs and test accuracy. The result "
                    "(DIR/model.safetensors)\nloads in 'numcnn eval', 'predict' and 'summary'.",
        epilog="examples:\n"
               "  numcnn compress prune runs/x/best.safetensors --sparsity 0.8 --steps 3 "
               "--out s80\n"
               "  numcnn compress channels runs/x/best.safetensors --amount 0.3 --out c30\n"
               "  numcnn compress int8 runs/x/best.safetensors --out q8\n"
               "  numcnn compress inq runs/x/best.safetensors --bits 5 --out inq5\n"
               "  numcnn compress binarize runs/x/best.safetensors --xnor --epochs 3 --out xnor")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True,
                               parser_class=type(p))

    pr = actions.add_parser(
        "prune", formatter_class=fmt, help="iterative magnitude pruning -> retraining",
        description="Han et al. 2015: prune, retrain, repeat. With --sparsity S: global "
                    "magnitude pruning of\nthe conv and linear weights, rising to S over "
                    "--steps steps, stored sparse. With\n--channels F: structured pruning "
                    "that removes a fraction F of the channels over\n--steps steps "
                    "(numcnn.compress.prune_channels), a physically smaller model.")
    goal = pr.add_mutually_exclusive_group(required=True)
    goal.add_argument("--sparsity", type=fraction, metavar="S",
                      help="fraction of the conv/linear weights set to zero, in [0, 1)")
    goal.add_argument("--channels", type=fraction, metavar="F",
                      help="fraction of each prunable layer's channels removed, in [0, 1)")
    pr.add_argument("--steps", type=positive_int, default=1, metavar="K",
                    help="prune -> fine-tune steps (default 1)")
    pr.add_argument("--criterion", choices=("l1", "bn_scale"), default="l1",
                    help="with --channels: filter L1 norm (Li et al. 2017) or BN scale "
                         "(Liu et al. 2017); default l1")
    _common(pr, epochs=1)

    ch = actions.add_parser(
        "channels", formatter_class=fmt, help="remove channels (structured), then fine-tune",
        description="Remove a fraction of the channels of every prunable layer, with the "
                    "layers coupled to\nthem (BN, next conv, residual additions, "
                    "concatenations, the classifier after\nflatten), found by tracing one "
                    "forward pass; then fine-tune.")
    ch.add_argument("--amount", type=fraction, required=True, metavar="F",
                    help="fraction of each prunable layer's channels removed, in [0, 1)")
    ch.add_argument("--criterion", choices=("l1", "bn_scale"), default="l1",
                    help="filter L1 norm (Li et al. 2017) or BN scale (Liu et al. 2017)")
    ch.add_argument("--ignore", nargs="+", default=(), metavar="LAYER",
                    help="layers (module names) whose output channels are kept")
    _common(ch, epochs=1)

    q = actions.add_parser(
        "int8", formatter_class=fmt, help="post-training static int8 quantisation",
        description="BN folded, conv+ReLU fused, per-channel int8 weights, per-tensor uint8 "
                    "activations\ncalibrated on --calibration training images; inference on "
                    "integers (as torch.ao's\nx86/fbgemm engine).")
    q.add_argument("--calibration", type=positive_int, default=512, metavar="N",
                   help="training images the observers see (default 512)")
    q.add_argument("--observer", choices=("histogram", "minmax", "percentile"),
                   default="histogram",
                   help="activation range: torch's histogram search (its x86 default qconfig; "
                        "default), min-max, or the 99.99th percentile")
    _common(q, epochs=None)

    iq = actions.add_parser(
        "inq", formatter_class=fmt, help="Incremental Network Quantization (powers of two)",
        description="Zhou et al. 2017: weights become 0 or +-2^n, a growing share at a time "
                    "(--partitions),\nthe rest retrained for --epochs after each; stored as "
                    "exponents.")
    iq.add_argument("--bits", type=int_at_least(2, "an integer >= 2"), default=5,
                    help="bit width including the zero code (default 5)")
    iq.add_argument("--partitions", type=float, nargs="+", default=[0.5, 0.75, 0.875, 1.0],
                    metavar="P", help="accumulated quantised fractions, rising to 1 (default "
                                      "0.5 0.75 0.875 1)")
    iq.add_argument("--keep-first", action="store_true",
                    help="leave the first conv/linear layer in float (on the seed CNN its 288 "
                         "weights cost most of the one-shot accuracy loss)")
    _common(iq, epochs=1)

    b = actions.add_parser(
        "binarize", formatter_class=fmt, help="binary weights or XNOR-Net, then fine-tune",
        description="Rastegari et al. 2016: weights alpha * sign(W) per filter (binary-weight "
                    "network), and\nwith --xnor also binary inputs (XNOR-Net); first and last "
                    "layer stay float unless\nasked; trained with the straight-through "
                    "estimator; stored as packed bits.")
    b.add_argument("--xnor", action="store_true", help="binarise the inputs too (XNOR-Net)")
    b.add_argument("--binarize-first", action="store_true",
                   help="binarise the first layer too (the paper keeps it float)")
    b.add_argument("--binarize-last", action="store_true",
                   help="binarise the last layer too (the paper keeps it float)")
    _common(b, epochs=3, lr=1e-3)      # the sign's straight-through training needs larger steps


class _PrintEpoch(Callback):
    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        print(f"  epoch {row['epoch']}: train_loss {row['train_loss']:.4f}  "
              f"train_acc {row['train_acc']:.4f}  {row['seconds']:.1f}s", flush=True)


def _tune(args: argparse.Namespace, config: dict[str, Any]) -> Callable[[Module, int], None]:
    """The per-step fine-tuning callback: `args.epochs` epochs of Adam at `args.lr` (none for
    an action without --epochs)."""
    def tune(model: Module, step: int) -> None:
        if getattr(args, "epochs", 0) > 0:
            print(f"fine-tuning step {step}: {args.epochs} epoch(s), lr {args.lr:g}", flush=True)
            fine_tune(model, config, args.epochs, lr=args.lr, root=args.root,
                      limit=args.train_limit, progress="always" if args.progress else True,
                      callbacks=[_PrintEpoch()])
    return tune


def _compress(args: argparse.Namespace, model: Module, config: dict[str, Any]) -> Module:
    """Run the chosen action on `model` and return the compressed model."""
    import numcnn.compress as C

    tune = _tune(args, config)
    if args.action == "prune" and args.sparsity is not None:
        return C.iterative_prune(model, args.sparsity, args.steps, fine_tune=tune)
    if args.action == "prune":
        # remove a share a of the remaining channels per step, (1 - a)^K = 1 - F
        share = 1.0 - (1.0 - args.channels) ** (1.0 / args.steps)
        for step in range(1, args.steps + 1):
            model = C.prune_channels(model, example_input(config), share,
                                     criterion=args.criterion)
            tune(model, step)
        return model
    if args.action == "channels":
        model = C.prune_channels(model, example_input(config), args.amount,
                                 criterion=args.criterion, ignore=tuple(args.ignore))
        tune(model, 1)
        return model
    if args.action == "int8":
        batches = calibration_batches(config, args.calibration, root=args.root,
                                      progress=args.progress or sys.stderr.isatty())
        return C.quantize.quantize_static(model, batches, observer=args.observer)
    if args.action == "inq":
        return C.quantize.incremental_quantize(model, bits=args.bits,
                                               partitions=tuple(args.partitions),
                                               fine_tune=tune, keep_first=args.keep_first)
    small = C.binary.binarize(model, mode="xnor" if args.xnor else "weights",
                              keep_first=not args.binarize_first,
                              keep_last=not args.binarize_last)
    tune(small, 1)
    return small


def _table(before: Stats, after: Stats) -> str:
    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}x" if b else "-"

    rows = [("parameters", f"{before.parameters:,}", f"{after.parameters:,}",
             ratio(before.parameters, after.parameters)),
            ("non-zero parameters", f"{before.nonzero:,}", f"{after.nonzero:,}",
             ratio(before.nonzero, after.nonzero)),
            ("bytes on disk", f"{before.bytes:,}", f"{after.bytes:,}",
             ratio(before.bytes, after.bytes)),
            ("MACs per image", f"{before.macs:,}", f"{after.macs:,}",
             ratio(before.macs, after.macs)),
            ("MACs, non-zero weights", f"{before.nonzero_macs:,}", f"{after.nonzero_macs:,}",
             ratio(before.nonzero_macs, after.nonzero_macs)),
            ("test accuracy", f"{before.accuracy:.4f}", f"{after.accuracy:.4f}",
             "-" if math.isnan(before.accuracy) else
             f"{100 * (after.accuracy - before.accuracy):+.2f} pts")]
    width = [max(len(r[i]) for r in rows + [("", "before", "after", "smaller by")])
             for i in range(4)]
    head = ("", "before", "after", "smaller by")
    lines = [f"{head[0]:<{width[0]}}  " + "  ".join(f"{h:>{w}}" for h, w in
                                                     zip(head[1:], width[1:]))]
    for r in rows:
        lines.append(f"{r[0]:<{width[0]}}  " + "  ".join(f"{c:>{w}}" for c, w in
                                                         zip(r[1:], width[1:])))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Compress `args.checkpoint` into `args.out` and print before/after."""
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise RunError(f"--out {args.out} exists and is not a directory")
    model, config = load_run(args.checkpoint)
    if checkpoint.method_of(model) is not None:
        raise RunError(f"{args.checkpoint} is already compressed "
                       f"({checkpoint.method_of(model)}); compress the float checkpoint")
    print(f"{config['model']} from {args.checkpoint}: measuring before", flush=True)
    before = measure(model, config, limit=args.test_limit, root=args.root)
    start = time.perf_counter()
    small = _compress(args, model, config)
    seconds = time.perf_counter() - start
    small.eval()
    after = measure(small, config, limit=args.test_limit, root=args.root)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "model.safetensors")
    checkpoint.save(small, path, run=config)
    options = {k: v for k, v in vars(args).items()
               if k not in ("command", "checkpoint", "out", "root", "progress")}
    record = {"checkpoint": args.checkpoint, "options": options, "seconds": seconds,
              "before": before.as_dict(), "after": after.as_dict(),
              "method": checkpoint.method_of(small)}
    with atomic_write(os.path.join(args.out, "compress.json")) as f:
        f.write((json.dumps(record, indent=2, default=list) + "\n").encode())
    print(_table(before, after))
    print(f"compressed in {seconds:.1f}s; wrote {path}")
    return 0
