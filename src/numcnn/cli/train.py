"""`numcnn train`: train a model on Fashion-MNIST, MNIST or synthetic shapes, then evaluate it
on the test split; the run directory gets config.json, metrics.csv and the checkpoints."""

from __future__ import annotations

import argparse
import copy
import math
import os
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np

import numcnn
from numcnn.cli.args import (
    add_data_args,
    fraction,
    non_negative_int,
    positive_float,
    positive_int,
)
from numcnn.data import DataLoader, Subset
from numcnn.optim import SGD, Adam, AdamW, RMSprop
from numcnn.optim.lr_scheduler import CosineAnnealingLR, OneCycleLR, ReduceLROnPlateau, StepLR
from numcnn.optim.optimizer import Optimizer
from numcnn.train.models import MODELS
from numcnn.train.run import (
    NORMALISATION,
    RunError,
    first_n,
    load_split,
    pipeline,
    read_checkpoint,
)
from numcnn.train.trainer import Callback, NonFiniteError, Trainer, evaluate

CLIError = RunError

__all__ = ["add_parser", "run"]


OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULERS = ("none", "step", "cosine", "onecycle", "plateau")
_DEFAULT_LR = {"sgd": 0.01, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3}
_DEFAULTS = {"model": "fmnist-cnn", "data": "fashion-mnist", "epochs": 15, "batch_size": 128,
             "optimizer": "adam", "scheduler": "cosine", "seed": 0, "val_split": 0.0}


def add_parser(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add this command to the sub-command parsers `sub`."""
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
    add_data_args(tr, "fashion-mnist")
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


def run(args: argparse.Namespace) -> int:
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
