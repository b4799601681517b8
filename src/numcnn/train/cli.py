"""The `numcnn` command line: train, eval, predict, datasets, summary, rf, viz, landscape,
report, compress.

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

The commands added with numcnn.viz and numcnn.compress live in numcnn.cli, one module each, exposing
`add_parser(sub, fmt)` and `run(args)`.

A checkpoint written by `numcnn train` is a Trainer checkpoint plus one entry "run": the run's
configuration (model name and arguments, dataset, class names, normalisation, optimizer ...),
from which `eval` and `predict` rebuild the model and its input pipeline. Reading a run back
(checkpoint, model, data, image files) is the library's `numcnn.train.run`; this module only
parses, trains and prints.

Errors are one line on stderr: exit status 2 for bad arguments, 1 for anything that fails while
running. NUMCNN_DEBUG=1 shows the traceback instead.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import numpy as np

import numcnn
from numcnn.cli.args import (
    Parser,
    fraction,
    non_negative_int,
    positive_float,
    positive_int,
)
from numcnn.data import DataLoader, Subset
from numcnn.nn.module import Module
from numcnn.optim import SGD, Adam, AdamW, RMSprop
from numcnn.optim.lr_scheduler import CosineAnnealingLR, OneCycleLR, ReduceLROnPlateau, StepLR
from numcnn.optim.optimizer import Optimizer
from numcnn.train.models import MODELS
from numcnn.train.run import (
    DATASETS,
    IDX_DATASETS,
    NORMALISATION,
    SYNTHETIC_TEST,
    SYNTHETIC_TRAIN,
    RunError,
    first_n,
    load_split,
    load_test_set,
    model_from,
    model_input,
    pipeline,
    read_checkpoint,
)
from numcnn.train.trainer import Callback, NonFiniteError, Trainer, evaluate

__all__ = ["main", "build_parser", "CLIError"]

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULERS = ("none", "step", "cosine", "onecycle", "plateau")
_DEFAULT_LR = {"sgd": 0.01, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3}
_DEFAULTS = {"model": "fmnist-cnn", "data": "fashion-mnist", "epochs": 15, "batch_size": 128,
             "optimizer": "adam", "scheduler": "cosine", "seed": 0, "val_split": 0.0}


# a runtime failure reported as one line on stderr, exit status 1: the library's RunError
CLIError = RunError


# ----------------------------------------------------------------------------- arguments
def build_parser() -> argparse.ArgumentParser:
    """The `numcnn` argument parser with its subcommands."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = Parser(prog="numcnn", formatter_class=fmt,
                     description="Train, evaluate and run CNNs written in NumPy (numcnn).",
                     epilog="Run 'numcnn <command> --help' for a command's options. "
                            "NUMCNN_DEBUG=1 shows tracebacks.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    tr = sub.add_parser(
        "train", formatter_class=fmt, help="train a model, then evaluate it on the test split",
        description="Train a model, then evaluate it on the test split.\n\n"
                    "With no options: fmnist-cnn (seed 004's CNN) on Fashion-MNIST, 15 epochs "
                    "of Adam\n(lr 0.001, batch 128) with a cosine learning-rate schedule. The "
                    "data is found in\n--root, $NUMCNN_DATA, ~/.cache/numcnn or "
                    "/usr/share/datasets/fashion-mnist\n(apt-get install dataset-fashion-mnist),"
                    " or fetched with --download. The run\ndirectory gets config.json, "
                    "metrics.csv, last.safetensors and best.safetensors.",
        epilog="examples:\n  numcnn train --augment\n  numcnn train --model mlp --scheduler none\n"
               "  numcnn train --data synthetic --model lenet5 --epochs 2 --limit 2000\n"
               "  numcnn train --resume runs/fmnist-cnn-20260101-120000/last.safetensors "
               "--epochs 20")
    tr.add_argument("--model", choices=sorted(MODELS), default=None,
                    help="the network (default fmnist-cnn)")
    _add_data_args(tr, "fashion-mnist")
    tr.add_argument("--download", action="store_true",
                    help="download the dataset if it is not found (into --root, else "
                         "$NUMCNN_DATA, else ~/.cache/numcnn)")
    tr.add_argument("--epochs", type=positive_int, default=None, help="epochs (default 15)")
    tr.add_argument("--batch-size", type=positive_int, default=None,
                    help="training batch size (default 128)")
    tr.add_argument("--lr", type=positive_float, default=None,
                    help="learning rate (default 0.01 for sgd, 0.001 otherwise)")
    tr.add_argument("--optimizer", choices=OPTIMIZERS, default=None,
                    help="default adam; sgd uses momentum 0.9")
    tr.add_argument("--scheduler", choices=SCHEDULERS, default=None,
                    help="learning-rate schedule (default cosine): none, step (x0.1 every third "
                         "of the epochs), cosine (to 0), onecycle (per batch, peak --lr), plateau "
                         "(x0.1 after 2 epochs without improvement)")
    tr.add_argument("--augment", action="store_true",
                    help="random crop (padding 2) and horizontal flip, batched")
    tr.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    tr.add_argument("--out", metavar="DIR", default=None,
                    help="run directory (default runs/<model>-<timestamp>; with --resume, the "
                         "checkpoint's directory)")
    tr.add_argument("--resume", metavar="CHECKPOINT", default=None,
                    help="continue the run of this checkpoint (its last.safetensors); its "
                         "settings are kept, --epochs may extend it")
    tr.add_argument("--val-split", type=fraction, default=None, metavar="FRACTION",
                    help="fraction of the training images held out for validation (default 0)")
    tr.add_argument("--limit", type=positive_int, default=None, metavar="N",
                    help="use only N training images (and at most N test images), for quick "
                         "runs")
    tr.add_argument("--checkpoint-every", type=non_negative_int, default=100, metavar="STEPS",
                    help="also write last.safetensors every STEPS optimizer steps within an "
                         "epoch, so that a killed run loses at most that much (default 100; 0: "
                         "only at the end of each epoch)")
    tr.add_argument("--progress", action="store_true",
                    help="show a progress bar even when stderr is not a terminal")
    tr.add_argument("--report", action="store_true",
                    help="when training ends, write RUN_DIR/report.html (as 'numcnn report', on "
                         "the test images the run evaluates: at most N with --limit)")

    ev = sub.add_parser(
        "eval", formatter_class=fmt, help="evaluate a checkpoint on a test split",
        description="Print the loss, accuracy, per-class accuracy and confusion matrix of a "
                    "checkpoint\nwritten by 'numcnn train', on the test split of its dataset "
                    "(or of --data).")
    ev.add_argument("checkpoint", metavar="CHECKPOINT", help="a .safetensors checkpoint")
    _add_data_args(ev, None)
    ev.add_argument("--batch-size", type=positive_int, default=256,
                    help="evaluation batch size (default 256)")
    ev.add_argument("--limit", type=positive_int, default=None, metavar="N",
                    help="evaluate only the first N test images")

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

    ds = sub.add_parser(
        "datasets", formatter_class=fmt, help="show which datasets are found where",
        description="For each dataset, every location in the lookup order, whether the files "
                    "are there\nand their sizes.")
    ds.add_argument("--root", metavar="DIR", default=None,
                    help="also look in this directory first (as train --root)")
    _add_summary_parser(sub, fmt)
    _add_rf_parser(sub, fmt)
    for name in _CLI_MODULES:                     # numcnn.cli.<name>: one module per command
        importlib.import_module(f"numcnn.cli.{name}").add_parser(sub, fmt)
    return parser


def _add_model_args(p: argparse.ArgumentParser, checkpoints: bool = False) -> None:
    p.add_argument("model", metavar="MODEL",
                   help="a name from numcnn.models.list_models()" + (
                       ", or a .safetensors checkpoint (compressed ones too)"
                       if checkpoints else ""))
    p.add_argument("--input-size", type=positive_int, nargs=3, metavar=("C", "H", "W"),
                   default=None, help="input channels, height and width (default: the size "
                                      "the model is made for, e.g. 3 224 224)")


def _add_summary_parser(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    sm = sub.add_parser(
        "summary", formatter_class=fmt, help="print a model's layers, parameters, MACs, memory",
        description="Print a table of a model's layers (output shape, parameters, MACs, FLOPs, "
                    "activation memory)\nand its totals, from one forward pass on zeros.")
    _add_model_args(sm, checkpoints=True)
    sm.add_argument("--batch-size", type=positive_int, default=1, metavar="N",
                    help="images per batch (default 1)")
    sm.add_argument("--num-classes", type=positive_int, default=None, metavar="K",
                    help="build the model with K classes (default: the factory's)")
    sm.add_argument("--depth", type=non_negative_int, default=3, metavar="D",
                    help="show layers nested at most D deep (default 3)")


def _add_rf_parser(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    rf = sub.add_parser(
        "rf", formatter_class=fmt, help="print the receptive field of every layer of a model",
        description="Print each layer's receptive field size, jump (effective stride) and "
                    "start, per spatial\naxis, following every path; and the largest field "
                    "with its path.")
    _add_model_args(rf)
    rf.add_argument("--depth", type=non_negative_int, default=None, metavar="D",
                    help="show layers nested at most D deep (default: all)")


def _add_data_args(p: argparse.ArgumentParser, default: str | None) -> None:
    p.add_argument("--data", choices=DATASETS, default=None,
                   help=f"the dataset (default {default or 'the one it was trained on'})")
    p.add_argument("--root", metavar="DIR", default=None,
                   help="directory holding the IDX files (default: look in $NUMCNN_DATA, "
                        "~/.cache/numcnn, the Debian location)")


# ----------------------------------------------------------------------------- checkpoints
class _RunTrainer(Trainer):
    """A Trainer whose checkpoints also carry the run's configuration ("run")."""

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["run"] = self.config
        return state


class _PrintEpochs(Callback):
    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        val = ("" if math.isnan(row["val_loss"])
               else f"  val_loss {row['val_loss']:.4f}  val_acc {row['val_acc']:.4f}")
        print(f"epoch {row['epoch']}/{trainer.epochs}  train_loss {row['train_loss']:.4f}  "
              f"train_acc {row['train_acc']:.4f}{val}  lr {row['lr']:.3g}  "
              f"{row['seconds']:.1f}s", flush=True)


# ----------------------------------------------------------------------------- train
def _make_optimizer(name: str, params: Any, lr: float) -> Optimizer:
    if name == "sgd":
        return SGD(params, lr=lr, momentum=0.9)
    return {"adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}[name](params, lr=lr)


def _make_scheduler(name: str, optimizer: Optimizer, epochs: int, steps: int,
                    lr: float, monitor_max: bool) -> tuple[Any, Literal["epoch", "batch"]]:
    if name == "step":
        return StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1), "epoch"
    if name == "cosine":
        return CosineAnnealingLR(optimizer, T_max=epochs), "epoch"
    if name == "onecycle":
        return OneCycleLR(optimizer, max_lr=lr, epochs=epochs, steps_per_epoch=steps), "batch"
    if name == "plateau":
        return (ReduceLROnPlateau(optimizer, mode="max" if monitor_max else "min", patience=2),
                "epoch")
    return None, "epoch"


def _train_config(args: argparse.Namespace) -> tuple[dict[str, Any], str | None]:
    """The run's configuration: from the command line, or from the checkpoint on --resume."""
    if args.resume is not None:
        ckpt = read_checkpoint(args.resume)
        config = dict(ckpt["run"])
        given = {k: getattr(args, k) for k in ("model", "data", "batch_size", "lr", "optimizer",
                                               "scheduler", "seed", "val_split", "limit")}
        clash = [k for k, v in given.items() if v is not None and v != config.get(k)]
        if clash:
            raise CLIError(f"--resume keeps the run's settings; these differ from the "
                           f"checkpoint's: {', '.join('--' + k.replace('_', '-') for k in clash)}")
        if args.epochs is not None and args.epochs != config["epochs"]:
            if config["scheduler"] == "onecycle":
                raise CLIError("a onecycle run cannot change its --epochs on --resume (the "
                               "schedule's length is fixed when it starts)")
            config["epochs"] = args.epochs
        out = args.out or str(Path(args.resume).parent)
        return config, out
    config = {k: (getattr(args, k) if getattr(args, k) is not None else v)
              for k, v in _DEFAULTS.items()}
    config["lr"] = args.lr if args.lr is not None else _DEFAULT_LR[config["optimizer"]]
    config["augment"] = bool(args.augment)
    config["limit"] = args.limit
    return config, args.out


def _cmd_train(args: argparse.Namespace) -> int:
    config, out = _train_config(args)
    numcnn.manual_seed(int(config["seed"]))
    root = args.root
    train_set = load_split(config, True, root, args.download)
    test_set = load_split(config, False, root, args.download)
    if "classes" not in config:
        classes = list(train_set.classes)
        if config["data"] == "synthetic":
            mean = [float(train_set.data.mean())]
            std = [float(train_set.data.std())]
        else:
            mean, std = NORMALISATION[config["data"]]
        config.update(classes=classes, mean=mean, std=std, model_args={
            "in_channels": 1, "num_classes": len(classes), "image_size": 28})
    model = MODELS[config["model"]](**config["model_args"])

    # train / validation indices: a seeded permutation, cut to --limit, then split
    plain = pipeline(config["data"], config["mean"], config["std"], augment=False)
    augmented = pipeline(config["data"], config["mean"], config["std"], config["augment"])
    val_view = copy.copy(train_set)
    val_view.transform = plain
    train_set.transform = augmented
    order = np.random.default_rng(int(config["seed"])).permutation(len(train_set))
    if config["limit"] is not None:
        order = order[:config["limit"]]
    n_val = int(round(len(order) * config["val_split"]))
    if config["val_split"] > 0 and (n_val == 0 or n_val == len(order)):
        raise CLIError(f"--val-split {config['val_split']} of {len(order)} images leaves no "
                       f"{'validation' if n_val == 0 else 'training'} images")
    train_subset = Subset(train_set, order[n_val:].tolist())
    train_loader = DataLoader(train_subset,
                              batch_size=config["batch_size"], shuffle=True,
                              generator=int(config["seed"]))
    val_loader = (DataLoader(Subset(val_view, order[:n_val].tolist()), batch_size=256)
                  if n_val else None)
    test_set.transform = plain
    test_loader = DataLoader(first_n(test_set, config["limit"]), batch_size=256)

    optimizer = _make_optimizer(config["optimizer"], model.parameters(), config["lr"])
    monitor = "val_accuracy" if val_loader is not None else "train_loss"
    scheduler, interval = _make_scheduler(config["scheduler"], optimizer, config["epochs"],
                                          len(train_loader), config["lr"],
                                          monitor == "val_accuracy")
    if out is None:
        out = os.path.join("runs", f"{config['model']}-{time.strftime('%Y%m%d-%H%M%S')}")
    trainer = _RunTrainer(model, optimizer, scheduler=scheduler, scheduler_interval=interval,
                          train_loader=train_loader, val_loader=val_loader, out_dir=out,
                          epochs=int(config["epochs"]), monitor=monitor,
                          num_classes=len(config["classes"]),
                          checkpoint_every=args.checkpoint_every or None,
                          progress="always" if args.progress else True, config=config,
                          callbacks=[_PrintEpochs()])
    n_params = sum(p.array.size for p in model.parameters() if p.requires_grad)
    if args.resume is not None:
        trainer.resume(args.resume)
        print(f"resuming {args.resume} after epoch {trainer.epoch}")
    print(f"training {config['model']} ({n_params:,} parameters) on {config['data']}: "
          f"{len(train_subset)} training images"
          f"{f', {n_val} validation' if n_val else ''}, {config['epochs']} epoch(s), "
          f"{config['optimizer']} lr {config['lr']:g}; run directory {out}", flush=True)
    try:
        # NumPy's overflow/invalid warnings would only repeat, in many lines, what the Trainer
        # reports in one: that the loss (or the weights) stopped being finite
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            trainer.fit()
    except NonFiniteError as exc:           # NaN/inf loss: one line naming epoch and step
        raise CLIError(str(exc)) from None
    result = evaluate(model, test_loader, num_classes=len(config["classes"]))
    print(f"test: loss {result.loss:.4f}  accuracy {result.accuracy:.4f} "
          f"({result.num_samples} images)")
    written = [p for p in (os.path.join(out, name) for name in ("last.safetensors",
                                                                "best.safetensors"))
               if os.path.exists(p)]
    print(f"checkpoints: {', '.join(written) or 'none'}")
    if args.report:
        from numcnn.viz.report import write_report

        # the page evaluates the images the "test:" line above did (the run's --limit)
        print(f"report: {write_report(out, limit=config['limit'], root=root)}")
    return 0


# ----------------------------------------------------------------------------- eval
def _cmd_eval(args: argparse.Namespace) -> int:
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


# ----------------------------------------------------------------------------- predict
def _cmd_predict(args: argparse.Namespace) -> int:
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


# ----------------------------------------------------------------------------- datasets
def _size_text(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def _cmd_datasets(args: argparse.Namespace) -> int:
    for name, cls in IDX_DATASETS.items():
        print(f"{name} ({cls.__name__}), looked up in this order:")
        first = True
        for d in cls._lookup(args.root):
            files = []
            for split in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                          "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
                hit = next((d / (split + ext) for ext in ("", ".gz")
                            if (d / (split + ext)).is_file()), None)
                files.append(hit)
            found = [f for f in files if f is not None]
            if len(found) == 4:
                total = sum(f.stat().st_size for f in found)
                note = " (used)" if first else ""
                first = False
                print(f"  found      {d}  4 files, {_size_text(total)}{note}")
            elif found:
                print(f"  incomplete {d}  {len(found)} of 4 files")
            else:
                print(f"  not found  {d}")
        if first:
            pkg = f"'sudo apt-get install {cls.debian_package}', " if cls.debian_package else ""
            print(f"  -> get it with {pkg}'numcnn train --data {name} --download' or --root DIR")
    print(f"synthetic (SyntheticShapes): generated, always available "
          f"({SYNTHETIC_TRAIN} training, {SYNTHETIC_TEST} test images, 28x28, 5 shapes)")
    return 0


# ----------------------------------------------------------------------------- summary, rf
def _zoo_model(args: argparse.Namespace, **kwargs: Any) -> tuple[Module, tuple[int, ...]]:
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


def _run_model(args: argparse.Namespace) -> tuple[Module, tuple[int, ...]]:
    """The model of the checkpoint args.model (as `numcnn eval` rebuilds it, compressed ones
    included) and the run's input size."""
    if args.input_size is not None or args.num_classes is not None:
        raise CLIError("--input-size and --num-classes apply to zoo models; a checkpoint "
                       "keeps its own")
    model, config = model_from(read_checkpoint(args.model))
    margs = config["model_args"]
    side = int(margs["image_size"])
    return model, (int(margs["in_channels"]), side, side)


def _cmd_summary(args: argparse.Namespace) -> int:
    from numcnn.analysis import summary

    kwargs = {} if args.num_classes is None else {"num_classes": args.num_classes}
    if args.model.endswith(".safetensors") or os.path.isfile(args.model):
        model, size = _run_model(args)
    else:
        model, size = _zoo_model(args, **kwargs)
    print(f"{args.model} on input {[args.batch_size, *size]}")
    print(summary(model, size, batch_size=args.batch_size, depth=args.depth))
    return 0


def _cmd_rf(args: argparse.Namespace) -> int:
    from numcnn.analysis import receptive_field

    model, size = _zoo_model(args)
    print(receptive_field(model, size).table(depth=args.depth))
    return 0


# ----------------------------------------------------------------------------- main
# the commands of numcnn.cli: module name = command name
_CLI_MODULES = ("viz", "landscape", "report", "compress")


def _cli_command(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        return int(importlib.import_module(f"numcnn.cli.{name}").run(args))
    return run


_COMMANDS = {"train": _cmd_train, "eval": _cmd_eval, "predict": _cmd_predict,
             "datasets": _cmd_datasets, "summary": _cmd_summary, "rf": _cmd_rf,
             **{name: _cli_command(name) for name in _CLI_MODULES}}


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
    debug = os.environ.get("NUMCNN_DEBUG", "") not in ("", "0")
    try:
        return _COMMANDS[args.command](args)
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
