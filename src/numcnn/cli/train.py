"""`numcnn train`: train any classification model of the zoo on Fashion-MNIST, MNIST,
CIFAR-10/100, an image folder or synthetic shapes — from scratch or from pretrained weights
(transfer learning: `--weights`, `--freeze`, `--head`, `--backbone-lr-scale`) — then evaluate it
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
from numcnn.models import input_size
from numcnn.optim import SGD, Adam, AdamW, RMSprop
from numcnn.optim.lr_scheduler import CosineAnnealingLR, OneCycleLR, ReduceLROnPlateau, StepLR
from numcnn.optim.optimizer import Optimizer
from numcnn.train import transfer as tl
from numcnn.train.models import CLI_MODELS, MODELS, build
from numcnn.train.run import (
    IMAGENET_NORMALISATION,
    NATIVE_CHANNELS,
    NATIVE_SIZE,
    NORMALISATION,
    RunError,
    first_n,
    load_split,
    read_checkpoint,
    run_pipeline,
)
from numcnn.train.trainer import Callback, NonFiniteError, Trainer, evaluate

CLIError = RunError

__all__ = ["add_parser", "run"]


OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULERS = ("none", "step", "cosine", "onecycle", "plateau")
_DEFAULT_LR = {"sgd": 0.01, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3}
_DEFAULTS = {"model": "fmnist-cnn", "data": "fashion-mnist", "epochs": 15, "batch_size": 128,
             "optimizer": "adam", "scheduler": "cosine", "seed": 0, "val_split": 0.0}
# settings of a new run taken as given (None: not given), beside _DEFAULTS, lr and limit
_AS_GIVEN = ("weights", "image_size", "in_channels", "freeze", "head", "backbone_lr_scale",
             "class_subset", "per_class", "pca_lighting_std", "sync_bn")
# settings a --resume must not change, by config key (the option is --key with '-', or _OPTION)
_KEPT = (*(k for k in _DEFAULTS if k != "epochs"), "lr", "limit", *_AS_GIVEN)
# Google's ported GoogLeNet and Inception-v3 weights expect pixels normalised as (x - 0.5) / 0.5
# (torchvision's transform_input converts ImageNet-normalised input to that)
_GOOGLE_WEIGHTS = ("googlenet", "inception_v3")
# config keys whose option has another name
_OPTION = {"class_subset": "classes", "pca_lighting_std": "pca_lighting"}


def _given(args: argparse.Namespace, key: str) -> Any:
    """The command line's value of config key `key`; None when not given (a flag: not set)."""
    value = getattr(args, _OPTION.get(key, key))
    return None if value is False else value


def _model_name(text: str) -> str:
    if text in MODELS:
        return text
    raise argparse.ArgumentTypeError(
        f"unknown model {text!r}; the command line's own: {', '.join(sorted(CLI_MODELS))}; "
        f"the zoo's: {', '.join(sorted(set(MODELS) - set(CLI_MODELS)))}")


def _class_list(text: str) -> list[int]:
    """'5-9' or '0,2,4' (or both: '0-2,7') -> class indices."""
    out: list[int] = []
    try:
        for part in text.split(","):
            lo, _, hi = part.partition("-")
            out += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected class indices such as 5-9 or 0,2,4, got "
                                         f"{text!r}") from None
    if not out or len(set(out)) != len(out) or min(out) < 0:
        raise argparse.ArgumentTypeError(f"expected distinct class indices >= 0, got {text!r}")
    return out


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
               "--epochs 20\n"
               "  numcnn train --model resnet18 --weights DEFAULT --data imagefolder --root "
               "photos --freeze backbone\n"
               "  numcnn train --classes 5-9 --per-class 50 --weights runs/pre/best.safetensors "
               "--backbone-lr-scale 0.1")
    tr.add_argument("--model", type=_model_name, default=None, metavar="NAME",
                    help="the network (default fmnist-cnn): the command line's fmnist-cnn, mlp, "
                         "lenet5, resnet20, plain20, or any classification model of the zoo "
                         "(numcnn.models.list_models(), e.g. resnet18, mobilenet_v2, vgg11_bn)")
    add_data_args(tr, "fashion-mnist")
    tr.add_argument("--image-size", type=positive_int, default=None, metavar="S",
                    help="train on S x S images (default: the dataset's own size, 28 or 32; "
                         "for an image folder the model's input size, e.g. 224); ImageNet "
                         "models need more than 28 (e.g. vgg and alexnet at least 64)")
    tr.add_argument("--in-channels", type=positive_int, default=None, metavar="C",
                    help="the model's input channels (default the dataset's: 1 for "
                         "(Fashion-)MNIST, 3 for CIFAR and photos); grey images are repeated "
                         "to 3 channels, colour ones made grey; pretrained RGB stem filters are "
                         "summed for 1 channel")
    tr.add_argument("--weights", metavar="WEIGHTS", default=None,
                    help="start from pretrained weights: DEFAULT or a name such as "
                         "IMAGENET1K_V1 (downloaded once into ~/.cache/numcnn, or from "
                         "$NUMCNN_WEIGHTS_URL), or a file (.pth/.pt, .safetensors, or a "
                         "checkpoint of 'numcnn train')")
    tr.add_argument("--head", choices=("new", "keep"), default=None,
                    help="with --weights: a new classification head sized to the data's "
                         "classes (new, the default), or the pretrained one (keep; same "
                         "classes)")
    tr.add_argument("--freeze", nargs="+", metavar="PREFIX", default=None,
                    help="do not train the parameters under these module paths (e.g. "
                         "features, or layer1 layer2); 'backbone' freezes everything but the "
                         "head. Frozen batch-norm layers keep their running statistics")
    tr.add_argument("--backbone-lr-scale", type=positive_float, default=None, metavar="F",
                    help="learning rate of every layer but the head: F x --lr (default 1)")
    tr.add_argument("--classes", type=_class_list, default=None, metavar="LIST",
                    help="train and test on these classes only, e.g. 5-9 or 0,2,4 (relabelled "
                         "0, 1, ... in that order)")
    tr.add_argument("--per-class", type=positive_int, default=None, metavar="N",
                    help="use only N training images of each class (a seeded pick)")
    tr.add_argument("--pca-lighting", type=positive_float, default=None, metavar="STD",
                    help="with --augment on colour images: AlexNet's PCA colour augmentation "
                         "with alpha ~ N(0, STD^2) (0.1 in the paper); the eigenvectors are "
                         "computed from the training images")
    tr.add_argument("--distributed", action="store_true",
                    help="data-parallel training over the MPI processes this one was started "
                         "with (mpirun -n N numcnn train --distributed ...): --batch-size is "
                         "the global batch, split over the ranks; rank 0 logs and writes the "
                         "run directory (pip install 'numcnn[mpi]')")
    tr.add_argument("--nproc", type=positive_int, default=None, metavar="N",
                    help="start N processes on this machine with mpirun and train with "
                         "--distributed (BLAS threads: the cores shared out)")
    tr.add_argument("--sync-bn", action="store_true",
                    help="with --distributed: batch-norm statistics over the global batch "
                         "(nn.SyncBatchNorm.convert_sync_batchnorm)")
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
                    help="random crop (padding 2 at 28x28, 4 at 32x32) and horizontal flip, "
                         "batched; on an image folder a random resized crop and flip")
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
class _FrozenNormsEval(Callback):
    """Keeps the frozen batch-norm layers in eval mode while the rest trains."""

    def __init__(self, layers: list[Any]) -> None:
        self.layers = layers

    def on_train_epoch_start(self, trainer: Trainer) -> None:
        for layer in self.layers:
            layer.eval()


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
        peaks = [float(g["lr"]) for g in optimizer.param_groups]
        return OneCycleLR(optimizer, max_lr=peaks, epochs=epochs, steps_per_epoch=steps), "batch"
    if name == "plateau":
        return (ReduceLROnPlateau(optimizer, mode="max" if monitor_max else "min", patience=2),
                "epoch")
    return None, "epoch"


def _train_config(args: argparse.Namespace) -> tuple[dict[str, Any], str | None]:
    """The run's configuration: from the command line, or from the checkpoint on --resume."""
    if args.resume is not None:
        ckpt = read_checkpoint(args.resume)
        config = dict(ckpt["run"])
        clash = [_OPTION.get(k, k) for k in _KEPT
                 if _given(args, k) is not None and _given(args, k) != config.get(k)]
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
    for key in _AS_GIVEN:
        config[key] = _given(args, key)
    if config["weights"] is None and (args.head or args.backbone_lr_scale):
        raise CLIError("--head and --backbone-lr-scale need --weights")
    if args.pca_lighting is not None and not args.augment:
        raise CLIError("--pca-lighting is an augmentation: add --augment")
    return config, args.out


def _normalisation(config: dict[str, Any], train_set: Any,
                   source: tl.Pretrained | None, channels: int) -> tuple[list[float], list[float]]:
    """The per-channel mean and std the run normalises with: the pretrained weights' (Google's
    GoogLeNet/Inception-v3 weights: 0.5 and 0.5), else the dataset's (SyntheticShapes: measured;
    an image folder: ImageNet's); brought to `channels` values (averaged for 1 channel,
    repeated from 1)."""
    if source is not None and source.mean is not None and source.std is not None:
        mean, std = source.mean, source.std
        if config["model"] in _GOOGLE_WEIGHTS and source.run is None:
            mean, std = [0.5] * 3, [0.5] * 3
    elif config["data"] == "synthetic":
        mean, std = [float(train_set.data.mean())], [float(train_set.data.std())]
    elif config["data"] == "imagefolder":
        mean, std = IMAGENET_NORMALISATION
    else:
        mean, std = NORMALISATION[config["data"]]
    if len(mean) != channels:
        if channels == 1:
            mean, std = [float(np.mean(mean))], [float(np.mean(std))]
        elif len(mean) == 1:
            mean, std = mean * channels, std * channels
        else:
            raise CLIError(f"the normalisation has {len(mean)} channels, the model takes "
                           f"{channels}")
    return [float(v) for v in mean], [float(v) for v in std]


def _lighting(config: dict[str, Any], train_set: Any) -> dict[str, Any] | None:
    """The PCA lighting settings: alpha's std and the eigen-decomposition of the training
    images' RGB pixels."""
    if config.get("pca_lighting_std") is None:
        return None
    if int(config["model_args"]["in_channels"]) != 3 or NATIVE_CHANNELS[config["data"]] != 3:
        raise CLIError("--pca-lighting needs colour images and a 3-channel model")
    from numcnn.data.transforms import pca_eigen

    rng = np.random.default_rng(int(config["seed"]))
    if hasattr(train_set, "data"):                  # CIFAR: uint8 (N, H, W, 3)
        eigval, eigvec = pca_eigen(train_set.data, generator=rng)
    else:                                           # an image folder: uint8 (H, W, 3) files
        sample = copy.copy(train_set)
        sample.transform = None
        eigval, eigvec = pca_eigen(sample, generator=rng)
    return {"alphastd": float(config["pca_lighting_std"]),
            "eigval": np.asarray(eigval, np.float64).tolist(),
            "eigvec": np.asarray(eigvec, np.float64).tolist()}


def _new_run_settings(config: dict[str, Any], train_set: Any) -> tl.Pretrained | None:
    """Fill in a new run's classes, input, normalisation and model arguments; return the
    pretrained weights it starts from (or None)."""
    source = None
    if config["weights"] is not None:
        try:
            source = tl.pretrained(config["model"], config["weights"])
        except (tl.TransferError, FileNotFoundError) as exc:
            raise CLIError(str(exc)) from None
    data = config["data"]
    channels = config["in_channels"] or NATIVE_CHANNELS[data]
    if data == "imagefolder":
        side = config["image_size"] or input_size(config["model"])[1] \
            if config["model"] not in CLI_MODELS else (config["image_size"] or 64)
    else:
        side = config["image_size"] or NATIVE_SIZE[data]
    mean, std = _normalisation(config, train_set, source, channels)
    config.update(classes=list(train_set.classes), mean=mean, std=std,
                  image_size=side, in_channels=config["in_channels"],
                  model_args={"in_channels": channels, "num_classes": len(train_set.classes),
                              "image_size": side})
    return source


def _check_input(model: Any, config: dict[str, Any]) -> None:
    """One forward pass of a blank image, so that a model too deep for the image size fails
    here with advice, not in the middle of the first batch."""
    margs = config["model_args"]
    shape = (1, int(margs["in_channels"]), int(margs["image_size"]), int(margs["image_size"]))
    model.eval()
    try:
        with numcnn.no_grad():
            model(numcnn.zeros(*shape))
    except (ValueError, RuntimeError) as exc:
        made = input_size(config["model"])[1] if config["model"] not in CLI_MODELS else None
        raise CLIError(f"{config['model']} cannot take {shape[2]}x{shape[3]} images ("
                       f"{str(exc).splitlines()[0][:120]}); pass a larger --image-size"
                       + (f" (it is made for {made}x{made})" if made else "")) from None
    finally:
        model.train()


def _pick_per_class(order: np.ndarray, targets: np.ndarray, n: int) -> np.ndarray:
    """The first `n` indices of each class in `order` (order kept)."""
    seen: dict[int, int] = {}
    keep = []
    for i in order:
        t = int(targets[i])
        if seen.get(t, 0) < n:
            seen[t] = seen.get(t, 0) + 1
            keep.append(i)
    return np.asarray(keep, np.int64)


def _launch(args: argparse.Namespace) -> int:
    """`--nproc N`: this command again as N MPI processes on this machine (mpirun), with
    --distributed, each with its share of the cores for BLAS; returns mpirun's exit status."""
    import shutil
    import subprocess
    import sys

    mpirun = shutil.which("mpirun")
    if mpirun is None:
        raise CLIError("--nproc needs Open MPI's mpirun (Debian: apt-get install openmpi-bin "
                       "libopenmpi-dev) and mpi4py (pip install 'numcnn[mpi]')")
    rest, skip = [], False
    for item in args.argv[1:]:                       # argv without "train" and --nproc N
        if skip:
            skip = False
        elif item == "--nproc":
            skip = True
        elif not item.startswith("--nproc="):
            rest.append(item)
    threads = str(max(1, (os.cpu_count() or 1) // args.nproc))
    cmd = [mpirun, "-n", str(args.nproc), "--oversubscribe"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-run-as-root")            # Open MPI refuses root otherwise
    cmd += ["-x", f"OPENBLAS_NUM_THREADS={threads}", "-x", f"OMP_NUM_THREADS={threads}",
            sys.executable, "-m", "numcnn", "train", "--distributed", *rest]
    print("$ " + " ".join(cmd[1:]), flush=True)
    return subprocess.call(cmd)


def _start_group(args: argparse.Namespace) -> tuple[int, int]:
    """(rank, world size): MPI's with --distributed, else (0, 1)."""
    if not args.distributed:
        if args.sync_bn:
            raise CLIError("--sync-bn needs --distributed (or --nproc N)")
        return 0, 1
    from numcnn import distributed as dist

    if not dist.is_mpi_launched():
        raise CLIError("--distributed runs as MPI processes: mpirun -n 2 numcnn train "
                       "--distributed ..., or numcnn train --nproc 2 ...")
    if not dist.is_available():
        raise CLIError(f"--distributed needs mpi4py: {dist.MPI_INSTALL_HINT}")
    dist.init()
    return dist.get_rank(), dist.get_world_size()


def _quiet(*_: Any, **__: Any) -> None:
    """print, on ranks other than 0."""


def run(args: argparse.Namespace) -> int:
    if args.nproc is not None:
        if args.distributed:
            raise CLIError("give --nproc N or --distributed, not both")
        return _launch(args)
    rank, world = _start_group(args)
    say = print if rank == 0 else _quiet
    config, out = _train_config(args)
    if args.resume is not None and config.get("world_size", 1) != world:
        raise CLIError(f"the run was trained by {config.get('world_size', 1)} process(es); "
                       f"resume it with as many (this is {world}), so that it continues "
                       f"exactly")
    config["world_size"] = world
    if config["batch_size"] % world:
        raise CLIError(f"--batch-size {config['batch_size']} is the global batch: it must "
                       f"divide by the {world} processes")
    numcnn.manual_seed(int(config["seed"]))
    root = args.root if args.root is not None else config.get("root")
    if args.resume is None:                 # eval, report ... find the data where training did
        config["root"] = os.path.abspath(root) if root is not None else None
        config["root_data"] = config["data"]
    train_set = load_split(config, True, root, args.download)
    test_set = load_split(config, False, root, args.download)
    source = None
    if "classes" not in config:
        source = _new_run_settings(config, train_set)
        config["pca_lighting"] = _lighting(config, train_set)
    model = build(config["model"], **config["model_args"])
    _check_input(model, config)
    if source is not None:
        try:
            notes = tl.transfer(model, source.state_dict, head=config["head"] or "new")
        except tl.TransferError as exc:
            raise CLIError(str(exc)) from None
        say(f"weights: {source.source}" + "".join(f"; {n}" for n in notes), flush=True)
    callbacks: list[Callback] = [_PrintEpochs()] if rank == 0 else []
    if config["freeze"]:
        try:
            frozen = tl.freeze(model, config["freeze"])
        except tl.TransferError as exc:
            raise CLIError(str(exc)) from None
        norms = tl.frozen_norm_layers(model)
        callbacks.append(_FrozenNormsEval(norms))
        say(f"frozen: {len(frozen)} parameter tensors under {' '.join(config['freeze'])}"
              f"{f' ({len(norms)} batch-norm layers in eval mode)' if norms else ''}")

    # train / validation indices: a seeded permutation, cut to --per-class and --limit, then
    # split
    plain = run_pipeline(config, augment=False)
    augmented = run_pipeline(config, augment=True)
    val_view = copy.copy(train_set)
    val_view.transform = plain
    train_set.transform = augmented
    order = np.random.default_rng(int(config["seed"])).permutation(len(train_set))
    if config.get("per_class") is not None:
        order = _pick_per_class(order, np.asarray(train_set.targets), int(config["per_class"]))
    if config["limit"] is not None:
        order = order[:config["limit"]]
    n_val = int(round(len(order) * config["val_split"]))
    if config["val_split"] > 0 and (n_val == 0 or n_val == len(order)):
        raise CLIError(f"--val-split {config['val_split']} of {len(order)} images leaves no "
                       f"{'validation' if n_val == 0 else 'training'} images")
    train_subset = Subset(train_set, order[n_val:].tolist())
    if world == 1:
        train_loader = DataLoader(train_subset,
                                  batch_size=config["batch_size"], shuffle=True,
                                  generator=int(config["seed"]))
    else:                           # each rank its shard of every epoch, batch / world each
        from numcnn.data.distributed import DistributedSampler

        train_loader = DataLoader(
            train_subset, batch_size=config["batch_size"] // world,
            sampler=DistributedSampler(train_subset, num_replicas=world, rank=rank,
                                       shuffle=True, seed=int(config["seed"])),
            generator=int(config["seed"]))
    val_loader = (DataLoader(Subset(val_view, order[:n_val].tolist()), batch_size=256)
                  if n_val else None)
    test_set.transform = plain
    test_loader = DataLoader(first_n(test_set, config["limit"]), batch_size=256)

    groups = tl.param_groups(model, config["lr"], config.get("backbone_lr_scale") or 1.0)
    net = model
    if world > 1:
        from numcnn.nn.modules.syncbn import SyncBatchNorm
        from numcnn.nn.parallel import DistributedDataParallel

        if config.get("sync_bn"):
            net = SyncBatchNorm.convert_sync_batchnorm(net)
        net = DistributedDataParallel(net)
    optimizer = _make_optimizer(config["optimizer"], groups, config["lr"])
    monitor = "val_accuracy" if val_loader is not None else "train_loss"
    scheduler, interval = _make_scheduler(config["scheduler"], optimizer, config["epochs"],
                                          len(train_loader), config["lr"],
                                          monitor == "val_accuracy")
    if out is None:
        out = os.path.join("runs", f"{config['model']}-{time.strftime('%Y%m%d-%H%M%S')}")
    trainer = _RunTrainer(net, optimizer, scheduler=scheduler, scheduler_interval=interval,
                          train_loader=train_loader, val_loader=val_loader, out_dir=out,
                          epochs=int(config["epochs"]), monitor=monitor,
                          num_classes=len(config["classes"]),
                          checkpoint_every=args.checkpoint_every or None,
                          progress="always" if args.progress else True, config=config,
                          callbacks=callbacks)
    n_params = sum(p.array.size for p in model.parameters() if p.requires_grad)
    procs = (f" on {world} processes (batch {config['batch_size'] // world} each)"
             if world > 1 else "")
    if args.resume is not None:
        trainer.resume(args.resume)
        say(f"resuming {args.resume} after epoch {trainer.epoch}")
    say(f"training {config['model']} ({n_params:,} trainable parameters) on "
          f"{config['data']} at {config['model_args']['in_channels']}x"
          f"{config['model_args']['image_size']}x{config['model_args']['image_size']}{procs}: "
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
    say(f"test: loss {result.loss:.4f}  accuracy {result.accuracy:.4f} "
          f"({result.num_samples} images)")
    written = [p for p in (os.path.join(out, name) for name in ("last.safetensors",
                                                                "best.safetensors"))
               if os.path.exists(p)]
    say(f"checkpoints: {', '.join(written) or 'none'}")
    if args.report and rank == 0:
        from numcnn.viz.report import write_report

        # the page evaluates the images the "test:" line above did (the run's --limit)
        print(f"report: {write_report(out, limit=config['limit'], root=root)}")
    return 0
