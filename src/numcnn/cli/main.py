"""The `numcnn` command line: train, eval, predict, datasets, summary, rf, viz, landscape,
report, compress, export.

    numcnn train                       # fmnist-cnn on Fashion-MNIST, written to runs/<model>-<time>
    numcnn train --data synthetic --model lenet5 --epochs 2 --limit 2000
    numcnn eval runs/x/best.safetensors
    numcnn predict runs/x/best.safetensors shoe.npy shirt.pgm
    numcnn datasets
    numcnn summary vgg16               # layers, parameters, MACs, memory (--input-size C H W)
    numcnn summary runs/x/best.safetensors       # the same for a trained or compressed model
    numcnn rf resnet18                 # receptive field of every layer
    numcnn viz grad-cam runs/x/best.safetensors --test-index 0 --out cam.png
    numcnn landscape runs/x/best.safetensors --out landscape.png
    numcnn report runs/x               # one self-contained HTML page (--report: after train)
    numcnn compress int8 runs/x/best.safetensors --out q8   # prune, int8, inq, binarize ...
    numcnn export runs/x/best.safetensors --onnx x.onnx     # ONNX, dynamic batch (or a zoo name)
    numcnn summary x.onnx              # the layers of any ONNX file, one row per node

Each command is one module of numcnn.cli exposing `add_parser(sub, fmt)` and `run(args)`;
`numcnn.cli.args` holds what they share.

A checkpoint written by `numcnn train` is a Trainer checkpoint plus one entry "run": the run's
configuration (model name and arguments, dataset, class names, normalisation, optimizer ...),
from which `eval` and `predict` rebuild the model and its input pipeline. Reading a run back
(checkpoint, model, data, image files) is the library's `numcnn.train.run`; this module only
parses, calls the library and prints.

Errors are one line on stderr: exit status 2 for bad arguments, 1 for anything that fails while
running. NUMCNN_DEBUG=1 shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from numcnn.cli.args import Parser
from numcnn.train.run import RunError

__all__ = ["main", "build_parser", "CLIError", "COMMANDS"]

# a runtime failure reported as one line on stderr, exit status 1: the library's RunError
CLIError = RunError

# the commands, in the order `numcnn --help` lists them: command name = module of numcnn.cli
COMMANDS = ("train", "eval", "predict", "datasets", "summary", "rf", "viz", "landscape",
            "report", "compress", "export")


def build_parser() -> argparse.ArgumentParser:
    """The `numcnn` argument parser with its subcommands."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = Parser(prog="numcnn", formatter_class=fmt,
                    description="Train, evaluate and run CNNs written in NumPy (numcnn).",
                    epilog="Run 'numcnn <command> --help' for a command's options. "
                           "NUMCNN_DEBUG=1 shows tracebacks.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS:
        importlib.import_module(f"numcnn.cli.{name}").add_parser(sub, fmt)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `numcnn` command line; returns the exit status (0, 1 runtime error, 2 usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:                     # --help, or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    args.argv = list(sys.argv[1:] if argv is None else argv)   # for a command that relaunches
    debug = os.environ.get("NUMCNN_DEBUG", "") not in ("", "0")
    try:
        return int(importlib.import_module(f"numcnn.cli.{args.command}").run(args))
    except KeyboardInterrupt:
        if debug:
            raise
        print("numcnn: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:                      # one line, no traceback
        if debug:
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        if not isinstance(exc, CLIError):
            message = f"{type(exc).__name__}: {message}"
        print(f"numcnn {args.command}: error: {message}", file=sys.stderr)
        return 1
