"""`Trainer`: the training loop, with metrics, checkpoints, early stopping and exact resume.

    trainer = Trainer(model, optimizer, train_loader=train, val_loader=val, epochs=10,
                      scheduler=sched, scheduler_interval="epoch", out_dir="runs/exp1",
                      checkpoint_every=100, early_stopping_patience=3, monitor="val_accuracy")
    history = trainer.fit()                  # list of per-epoch rows, as in metrics.csv
    result = evaluate(model, val, num_classes=10)

    trainer = Trainer(...same arguments...)  # later, in a new process
    trainer.resume("runs/exp1/last.safetensors")
    trainer.fit()                            # finishes bit-identical to an uninterrupted run

One epoch:
1. `model.train()`; for each batch (x, y) of `train_loader`: zero_grad, loss = loss_fn(model(x),
   y), backward, `optimizer.step()`; with `scheduler_interval="batch"` (OneCycleLR and other
   per-iteration schedules) `scheduler.step()`. The progress bar shows the running loss,
   accuracy and images/s. Every `checkpoint_every` optimizer steps (not at an epoch's last
   batch, whose state the end-of-epoch checkpoint records) `last.safetensors` is written.
2. `evaluate` on `val_loader` (if any).
3. The scheduler, with `scheduler_interval="epoch"`, steps: `ReduceLROnPlateau` gets the
   monitored metric, any other scheduler `step()`.
4. One row is appended to `metrics.csv`; `best.safetensors` is written when the monitored metric
   improved (strictly; an epoch whose validation loss is NaN or infinite is never the best),
   then `last.safetensors`. Training stops early once the metric has not improved for
   `early_stopping_patience` epochs in a row.

A non-finite training loss (NaN or ±inf, e.g. from too high a learning rate) stops training with
`NonFiniteError`, naming the epoch and step, before that loss is backpropagated or any
optimizer step is taken with it; the model's weights and buffers are also checked before every
checkpoint and before each epoch's validation. So no checkpoint ever holds non-finite weights and
those already written stay as they were.

A checkpoint (`numcnn.save`, atomic) holds everything the rest of the run depends on: the model,
optimizer and scheduler state dicts, the global RNG state (`numcnn.get_rng_state`), both loaders'
positions and generators, the count of completed epochs, the global step, the partial sums of
an epoch cut short, the early-stopping state and the metric history (from which `metrics.csv`
is rewritten on resume, so that rows never repeat).

The run directory (`out_dir`) gets `config.json` (the Trainer's settings plus the user's
`config`, written when a run starts, kept when it resumes), `metrics.csv` (columns
`METRICS_COLUMNS`, flushed after every epoch), `last.safetensors` and `best.safetensors`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Literal, NoReturn, Sequence

import numpy as np

from numcnn import random as nc_random
from numcnn._atomic import atomic_write
from numcnn.autograd import no_grad
from numcnn.io import load, save
from numcnn.nn.functional import cross_entropy
from numcnn.nn.module import Module
from numcnn.optim.lr_scheduler import ReduceLROnPlateau
from numcnn.optim.optimizer import Optimizer
from numcnn.tensor import Tensor
from numcnn.viz.evaluation import confusion_matrix

__all__ = ["Callback", "Evaluation", "METRICS_COLUMNS", "NonFiniteError", "StopTraining", "Trainer",
           "evaluate", "evaluate_probabilities", "predict_proba"]

METRICS_COLUMNS = ("epoch", "step", "train_loss", "train_acc", "val_loss", "val_acc", "lr",
                   "seconds")
_MONITORS = {"val_accuracy": ("val_acc", "max"), "val_loss": ("val_loss", "min"),
             "train_accuracy": ("train_acc", "max"), "train_loss": ("train_loss", "min")}
_CHECKPOINT_VERSION = 1
LossFn = Callable[[Tensor, Tensor], Tensor]


# ----------------------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class Evaluation:
    """What `evaluate` measured over a whole loader.

    Attributes:
        loss: mean loss per sample (each batch's mean loss weighted by its size).
        accuracy: fraction of samples whose argmax prediction equals the label.
        per_class_accuracy: (num_classes,) float64, recall of each class = C[k, k] / sum_j C[k, j];
            NaN for a class with no samples.
        confusion_matrix: (num_classes, num_classes) int64, C[t, p] = samples of true class t
            predicted as p (rows: truth, columns: prediction).
        num_samples: samples seen.
    """

    loss: float
    accuracy: float
    per_class_accuracy: np.ndarray
    confusion_matrix: np.ndarray
    num_samples: int


def _as_array(value: Any) -> np.ndarray:
    return value.array if isinstance(value, Tensor) else np.asarray(value)


def evaluate(model: Module, loader: Iterable[Any], loss_fn: LossFn = cross_entropy,
             num_classes: int | None = None) -> Evaluation:
    """Loss, accuracy, per-class accuracy and confusion matrix of `model` over `loader`.

    Runs in eval mode under `no_grad` and puts the model back in the mode it was in.

    Args:
        model: a classifier: (N, ...) -> logits (N, num_classes).
        loader: yields (inputs, int labels) batches.
        loss_fn: (logits, labels) -> the batch's mean loss.
        num_classes: the size of the confusion matrix (default: the logits' width).

    Raises:
        ValueError: for an empty loader, or a label or prediction outside [0, num_classes).
    """
    if num_classes is not None and (not isinstance(num_classes, int) or num_classes <= 0):
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    was_training = model.training
    model.eval()
    loss_sum, n = 0.0, 0
    confusion: np.ndarray | None = None
    try:
        with no_grad():
            for x, y in loader:
                out = model(x)
                logits, labels = _as_array(out), _as_array(y).astype(np.int64).reshape(-1)
                k = num_classes if num_classes is not None else logits.shape[1]
                pred = logits.argmax(axis=1)
                if labels.size and (labels.min() < 0 or labels.max() >= k):
                    raise ValueError(f"labels must lie in [0, {k}), got {labels.min()}.."
                                     f"{labels.max()} (num_classes={k})")
                if pred.size and pred.max() >= k:
                    raise ValueError(f"the model predicts class {pred.max()}, but "
                                     f"num_classes={k}")
                loss = loss_fn(out, y)
                if confusion is None:
                    confusion = np.zeros((k, k), dtype=np.int64)
                confusion += confusion_matrix(labels, pred, k)      # C[t, p] += 1 per sample
                loss_sum += float(loss.item()) * len(labels)
                n += len(labels)
    finally:
        model.train(was_training)
    if confusion is None or n == 0:
        raise ValueError("evaluate: the loader yielded no samples")
    return _evaluation(confusion, loss_sum / n)


def _evaluation(confusion: np.ndarray, loss: float) -> Evaluation:
    n = int(confusion.sum())
    support = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(support > 0, np.diag(confusion) / support, np.nan)
    return Evaluation(loss=loss, accuracy=float(np.trace(confusion)) / n,
                      per_class_accuracy=per_class.astype(np.float64),
                      confusion_matrix=confusion, num_samples=n)


def predict_proba(model: Module, loader: Iterable[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Softmax probabilities of `model` (eval mode, no_grad) over `loader`, and the labels.

    Returns:
        probs: (N, num_classes) float64, rows summing to 1; labels: (N,) int64.
    """
    was_training = model.training
    model.eval()
    probs, labels = [], []
    try:
        with no_grad():
            for x, y in loader:
                logits = _as_array(model(x)).astype(np.float64)
                e = np.exp(logits - logits.max(axis=1, keepdims=True))
                probs.append(e / e.sum(axis=1, keepdims=True))
                labels.append(_as_array(y).astype(np.int64).reshape(-1))
    finally:
        model.train(was_training)
    if not probs:
        raise ValueError("predict_proba: the loader yielded no samples")
    return np.concatenate(probs), np.concatenate(labels)


def evaluate_probabilities(probs: np.ndarray, labels: np.ndarray) -> Evaluation:
    """An `Evaluation` of class probabilities (N, K), e.g. an ensemble's averaged softmax:
    the loss is the mean negative log-likelihood -log p[label] (cross-entropy on the
    probabilities), the prediction their argmax.

    Raises:
        ValueError: shapes that disagree, no samples, or a label outside [0, K).
    """
    probs = np.asarray(probs, np.float64)
    labels = np.asarray(labels, np.int64).reshape(-1)
    if probs.ndim != 2 or probs.shape[0] != labels.size or labels.size == 0:
        raise ValueError(f"expected probs (N, K) and N labels, got {probs.shape} and "
                         f"{labels.shape}")
    k = probs.shape[1]
    if labels.min() < 0 or labels.max() >= k:
        raise ValueError(f"labels must lie in [0, {k}), got {labels.min()}..{labels.max()}")
    picked = probs[np.arange(labels.size), labels]
    loss = float(-np.log(np.maximum(picked, np.finfo(np.float64).tiny)).mean())
    return _evaluation(confusion_matrix(labels, probs.argmax(axis=1), k).astype(np.int64), loss)


# ----------------------------------------------------------------------------- callbacks
class StopTraining(Exception):
    """Raise from a callback to end `fit` at once (the last checkpoint on disk stays)."""


class NonFiniteError(FloatingPointError):
    """Training produced a NaN or infinite loss (or weights): `Trainer.fit` stops with this
    before the optimizer steps on it or a checkpoint records it. The message is one line naming
    the epoch and step."""


class Callback:
    """Hooks into `Trainer.fit`; override what you need. Raising stops training there."""

    def on_train_epoch_start(self, trainer: Trainer) -> None:
        """At the start of each training epoch, after `model.train()` (e.g. to put frozen
        layers back in eval mode)."""

    def on_step_end(self, trainer: Trainer) -> None:
        """After an optimizer step (and its checkpoint, if one was due); see `trainer.step`."""

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        """After an epoch's metrics row was written and its checkpoints saved."""


# ----------------------------------------------------------------------------- the trainer
def _world() -> tuple[int, int]:
    """(rank, world size) of the MPI process group when one is initialised, else (0, 1)."""
    from numcnn import distributed as dist

    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _inner(model: Module) -> Module:
    """The model a checkpoint records: a DistributedDataParallel's module (its state_dict
    keys without "module."), so that a run's checkpoints load with or without the wrapper."""
    from numcnn.nn.parallel import DistributedDataParallel

    return model.module if isinstance(model, DistributedDataParallel) else model


def _lr(optimizer: Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


def _jsonable(value: Any) -> Any:
    """Settings as JSON: numbers, strings, lists and dicts kept, anything else as its repr."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return repr(value)


class Trainer:
    """Train a classifier for `epochs` epochs, validating, logging and checkpointing each one.

    Args:
        model: the network: inputs -> logits (N, num_classes).
        optimizer: an optimizer over the model's parameters.
        loss_fn: (logits, labels) -> mean loss of the batch (default cross_entropy).
        scheduler: an lr scheduler, or None.
        scheduler_interval: "epoch" (step once after each epoch's validation; ReduceLROnPlateau
            gets the monitored metric) or "batch" (step after every optimizer step, for
            OneCycleLR and other per-iteration schedules). Never guessed: say which.
        train_loader: yields (inputs, labels) batches; a numcnn DataLoader, whose position is
            checkpointed so that a run resumes mid-epoch.
        val_loader: validation batches (None: no validation; then monitor a train_ metric).
        out_dir: the run directory (created); None writes no files.
        epochs: the number of epochs to train.
        early_stopping_patience: stop after this many epochs in a row without improvement of
            the monitored metric (None: never).
        monitor: "val_accuracy" (default; higher is better), "val_loss", "train_accuracy" or
            "train_loss" (lower is better for losses) — for best.safetensors, early stopping
            and ReduceLROnPlateau.
        checkpoint_every: also write last.safetensors every this many optimizer steps,
            mid-epoch (None: only at the end of each epoch).
        num_classes: for the validation confusion matrix (default: the logits' width).
        progress: True shows a tqdm bar when stderr is a terminal, "always" shows it anyway,
            False never.
        config: what the run was started with (e.g. command-line arguments), stored in
            config.json beside the Trainer's own settings.
        callbacks: `Callback`s called after every step and epoch.

    Attributes:
        epoch: epochs completed. step: optimizer steps taken. history: the metrics rows.
        best: the best monitored value so far. stopped_early: whether early stopping ended fit.
        last_evaluation: the latest validation `Evaluation`.
    """

    def __init__(self, model: Module, optimizer: Optimizer, loss_fn: LossFn = cross_entropy,
                 scheduler: Any = None, *, train_loader: Any, val_loader: Any = None,
                 out_dir: str | os.PathLike[str] | None = None, epochs: int,
                 scheduler_interval: Literal["epoch", "batch"] = "epoch",
                 early_stopping_patience: int | None = None, monitor: str = "val_accuracy",
                 checkpoint_every: int | None = None, num_classes: int | None = None,
                 progress: bool | Literal["always"] = True,
                 config: dict[str, Any] | None = None,
                 callbacks: Sequence[Callback] = ()) -> None:
        if not isinstance(model, Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be an Optimizer, got {type(optimizer).__name__}")
        if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative int, got {epochs!r}")
        if monitor not in _MONITORS:
            raise ValueError(f"monitor must be one of {sorted(_MONITORS)}, got {monitor!r}")
        if monitor.startswith("val_") and val_loader is None:
            raise ValueError(f"monitor={monitor!r} needs a val_loader; give one, or monitor "
                             "'train_loss' / 'train_accuracy'")
        if scheduler_interval not in ("epoch", "batch"):
            raise ValueError(f"scheduler_interval must be 'epoch' or 'batch', "
                             f"got {scheduler_interval!r}")
        if isinstance(scheduler, ReduceLROnPlateau) and scheduler_interval != "epoch":
            raise ValueError("ReduceLROnPlateau steps on the epoch's metric: use "
                             "scheduler_interval='epoch'")
        for name, value in (("early_stopping_patience", early_stopping_patience),
                            ("checkpoint_every", checkpoint_every)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                      or value <= 0):
                raise ValueError(f"{name} must be a positive int or None, got {value!r}")
        if progress not in (True, False, "always"):
            raise ValueError(f"progress must be True, False or 'always', got {progress!r}")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.scheduler, self.scheduler_interval = scheduler, scheduler_interval
        self.train_loader, self.val_loader = train_loader, val_loader
        self.out_dir = os.fspath(out_dir) if out_dir is not None else None
        self.epochs, self.patience = epochs, early_stopping_patience
        self.monitor = monitor
        self._monitor_key, self._mode = _MONITORS[monitor]
        self.checkpoint_every, self.num_classes = checkpoint_every, num_classes
        self.progress, self.config = progress, dict(config or {})
        self.callbacks = list(callbacks)
        # the run's state: everything a checkpoint records besides the objects' state dicts
        self.epoch = 0                   # epochs completed
        self.step = 0                    # optimizer steps taken
        self.best: float | None = None
        self.bad_epochs = 0
        self.stopped_early = False
        self.history: list[dict[str, Any]] = []
        self.last_evaluation: Evaluation | None = None
        self._partial: dict[str, Any] | None = None   # sums of an epoch cut short
        self._resumed = False
        self._saved_step: int | None = None            # step of the last checkpoint on disk
        # several processes (numcnn.distributed): rank 0 writes every file and shows the bar;
        # the epoch's sums are added over the ranks
        self.rank, self.world_size = _world()

    # ------------------------------------------------------------------ files
    def _path(self, name: str) -> str | None:
        if self.out_dir is None or self.rank != 0:
            return None
        return os.path.join(self.out_dir, name)

    def settings(self) -> dict[str, Any]:
        """What config.json records: the Trainer's settings and the user's `config`."""
        sched = self.scheduler
        return _jsonable({
            "epochs": self.epochs, "monitor": self.monitor,
            "early_stopping_patience": self.patience, "checkpoint_every": self.checkpoint_every,
            "scheduler_interval": self.scheduler_interval,
            "model": type(self.model).__name__,
            "num_parameters": int(sum(p.array.size for p in self.model.parameters())),
            "optimizer": type(self.optimizer).__name__,
            "optimizer_defaults": self.optimizer.defaults,
            "scheduler": type(sched).__name__ if sched is not None else None,
            "loss_fn": getattr(self.loss_fn, "__name__", type(self.loss_fn).__name__),
            "batch_size": getattr(self.train_loader, "batch_size", None),
            "train_batches": len(self.train_loader) if hasattr(self.train_loader, "__len__")
            else None,
            "seed": nc_random.initial_seed(),
            "config": self.config,
        })

    def _write_config(self) -> None:
        path = self._path("config.json")
        if path is None or (self._resumed and os.path.exists(path)):
            return
        with atomic_write(path) as f:
            f.write((json.dumps(self.settings(), indent=2) + "\n").encode())

    def _rewrite_metrics(self) -> None:
        """metrics.csv = header + the history's rows (on start and on resume)."""
        path = self._path("metrics.csv")
        if path is None:
            return
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=METRICS_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.history)
        with atomic_write(path) as f:
            f.write(buf.getvalue().encode())

    def _append_metrics(self, row: dict[str, Any]) -> None:
        path = self._path("metrics.csv")
        if path is None:
            return
        with open(path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=METRICS_COLUMNS, lineterminator="\n").writerow(row)
            f.flush()
            os.fsync(f.fileno())

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """The whole training state, as `numcnn.save` stores it."""
        return {
            "version": _CHECKPOINT_VERSION,
            "model": _inner(self.model).state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "rng": nc_random.get_rng_state(),
            "train_loader": (self.train_loader.state_dict()
                             if hasattr(self.train_loader, "state_dict") else None),
            "val_loader": (self.val_loader.state_dict()
                           if hasattr(self.val_loader, "state_dict") else None),
            "epoch": self.epoch, "step": self.step, "partial": self._partial,
            "best": self.best, "bad_epochs": self.bad_epochs,
            "stopped_early": self.stopped_early, "history": self.history,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict()`'s output into this Trainer's objects."""
        if state.get("version") != _CHECKPOINT_VERSION:
            raise ValueError(f"not a Trainer checkpoint of version {_CHECKPOINT_VERSION} "
                             f"(version {state.get('version')!r})")
        _inner(self.model).load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if (state["scheduler"] is None) != (self.scheduler is None):
            raise ValueError("the checkpoint and this Trainer disagree on having a scheduler")
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        nc_random.set_rng_state(state["rng"])
        if state["train_loader"] is not None:
            self.train_loader.load_state_dict(state["train_loader"])
        if state["val_loader"] is not None and self.val_loader is not None:
            self.val_loader.load_state_dict(state["val_loader"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self._partial = state["partial"]
        if self._partial is not None and self.rank != 0:
            # the checkpoint's partial sums are the whole group's (see save_checkpoint): rank 0
            # carries them on, the others start from zero
            self._partial = {**self._partial, "loss_sum": 0.0, "correct": 0, "samples": 0}
        self.best, self.bad_epochs = state["best"], int(state["bad_epochs"])
        self.stopped_early = bool(state["stopped_early"])
        self.history = [dict(row) for row in state["history"]]

    def save_checkpoint(self, name: str) -> None:
        """Write the training state to RUN_DIR/name (rank 0 only; with several processes every
        rank must call it, as the partial sums of an epoch cut short are added over the ranks
        first)."""
        if self.out_dir is None:
            return
        partial = self._group_sums(self._partial) if self._partial is not None else None
        path = self._path(name)
        if path is not None:
            self._check_finite_weights()
            state = self.state_dict()
            state["partial"] = partial
            save(state, path)
            self._saved_step = self.step

    def _group_sums(self, sums: dict[str, Any]) -> dict[str, Any]:
        """An epoch's loss_sum, correct and samples added over the ranks (seconds: the
        slowest rank's); unchanged with one process."""
        if self.world_size == 1:
            return dict(sums)
        from numcnn import distributed as dist

        total = dist.allreduce_array(np.array([sums["loss_sum"], sums["correct"],
                                               sums["samples"]], np.float64))
        slowest = dist.allreduce_array(np.array([sums["seconds"]], np.float64),
                                       dist.ReduceOp.MAX)
        return {**sums, "loss_sum": float(total[0]), "correct": int(round(total[1])),
                "samples": int(round(total[2])), "seconds": float(slowest[0])}

    def resume(self, path: str | os.PathLike[str]) -> None:
        """Load a checkpoint written by this Trainer (`last.safetensors`); `fit` then goes on
        from where it was written, mid-epoch or not, and ends as an uninterrupted run would."""
        self.load_state_dict(load(path))
        self._resumed = True
        self._saved_step = self.step

    # ------------------------------------------------------------------ the loop
    def _bar(self, total: int | None) -> Any:
        if (self.progress is False or self.rank != 0
                or (self.progress is True and not sys.stderr.isatty())):
            return None
        from tqdm import tqdm

        return tqdm(total=total, desc=f"epoch {self.epoch + 1}/{self.epochs}", unit="batch",
                    leave=False, file=sys.stderr, dynamic_ncols=True)

    # ------------------------------------------------------------------ non-finite values
    def _stop_non_finite(self, step: int, what: str) -> NoReturn:
        if self.out_dir is None:
            kept = "no checkpoints are written (out_dir=None)"
        elif self._saved_step is None:
            kept = "no checkpoint was written"
        else:
            kept = f"the checkpoints already written are unchanged, the latest from step " \
                   f"{self._saved_step}"
        raise NonFiniteError(f"training stopped at epoch {self.epoch + 1}, step {step}: {what}; "
                             f"{kept}; a lower learning rate may help")

    def _check_finite_weights(self) -> None:
        """Raise NonFiniteError when a floating parameter or buffer of the model is NaN/inf."""
        for name, value in self.model.state_dict().items():
            array = _as_array(value)
            if array.dtype.kind in "fc" and not np.isfinite(array).all():
                self._stop_non_finite(self.step, f"the model's {name} holds non-finite values "
                                                 f"after this optimizer step")

    def _improved(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        return value > self.best if self._mode == "max" else value < self.best

    def _train_epoch(self) -> dict[str, Any]:
        """One pass over train_loader (or the rest of it, after a mid-epoch resume)."""
        self.model.train()
        set_epoch = getattr(getattr(self.train_loader, "sampler", None), "set_epoch", None)
        if set_epoch is not None:                  # a DistributedSampler: this epoch's order
            set_epoch(self.epoch)
        for cb in self.callbacks:
            cb.on_train_epoch_start(self)
        partial = self._partial or {"loss_sum": 0.0, "correct": 0, "samples": 0, "seconds": 0.0}
        self._partial = partial
        total = len(self.train_loader) if hasattr(self.train_loader, "__len__") else None
        batches_per_epoch = total
        bar = self._bar(total)
        done_before = (self.train_loader.state_dict()["batches_consumed"]
                       if partial["samples"] and hasattr(self.train_loader, "state_dict") else 0)
        if bar is not None and done_before:
            bar.update(done_before)
        start = bar_start = time.perf_counter()
        seen_now = 0
        try:
            for i, (x, y) in enumerate(self.train_loader, start=done_before):
                self.optimizer.zero_grad()
                out = self.model(x)
                loss = self.loss_fn(out, y)
                loss_value = float(loss.item())
                if not math.isfinite(loss_value):
                    self._stop_non_finite(self.step + 1, f"the training loss is {loss_value} "
                                          f"(not backpropagated, no optimizer step taken)")
                loss.backward()
                self.optimizer.step()
                self.step += 1
                if self.scheduler is not None and self.scheduler_interval == "batch":
                    self.scheduler.step()
                labels = _as_array(y).reshape(-1)
                n = len(labels)
                partial["loss_sum"] += loss_value * n
                partial["correct"] += int((_as_array(out).argmax(axis=1) == labels).sum())
                partial["samples"] += n
                seen_now += n
                now = time.perf_counter()
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{partial['loss_sum'] / partial['samples']:.4f}",
                                    acc=f"{partial['correct'] / partial['samples']:.3f}",
                                    img_s=f"{seen_now / max(now - bar_start, 1e-9):.0f}")
                last_batch = batches_per_epoch is not None and i + 1 == batches_per_epoch
                if (self.checkpoint_every is not None and not last_batch
                        and self.step % self.checkpoint_every == 0):
                    partial["seconds"] += now - start
                    start = now
                    self.save_checkpoint("last.safetensors")
                for cb in self.callbacks:
                    cb.on_step_end(self)
        finally:
            if bar is not None:
                bar.close()
        partial["seconds"] += time.perf_counter() - start
        if partial["samples"] == 0:
            raise ValueError("the train_loader yielded no batches")
        return partial

    def fit(self) -> list[dict[str, Any]]:
        """Train until `epochs` epochs are done or early stopping; return the metrics rows.

        A callback raising `StopTraining` ends fit quietly; any other exception propagates.
        """
        if self.out_dir is not None and self.rank == 0:
            os.makedirs(self.out_dir, exist_ok=True)
            self._write_config()
            self._rewrite_metrics()
        try:
            while self.epoch < self.epochs and not self.stopped_early:
                self._run_epoch()
        except StopTraining:
            pass
        return self.history

    def _run_epoch(self) -> None:
        sums = self._group_sums(self._train_epoch())
        self._check_finite_weights()
        seconds = sums["seconds"]
        row: dict[str, Any] = {
            "epoch": self.epoch + 1, "step": self.step,
            "train_loss": sums["loss_sum"] / sums["samples"],
            "train_acc": sums["correct"] / sums["samples"],
            "val_loss": math.nan, "val_acc": math.nan, "lr": _lr(self.optimizer),
        }
        if self.val_loader is not None:
            t0 = time.perf_counter()
            result = evaluate(self.model, self.val_loader, self.loss_fn, self.num_classes)
            seconds += time.perf_counter() - t0
            self.last_evaluation = result
            row["val_loss"], row["val_acc"] = result.loss, result.accuracy
        value = float(row[self._monitor_key])
        if self.scheduler is not None and self.scheduler_interval == "epoch":
            if isinstance(self.scheduler, ReduceLROnPlateau):
                self.scheduler.step(value)
            else:
                self.scheduler.step()
        row["seconds"] = seconds
        # a non-finite validation loss marks a broken model: never the best, whatever is monitored
        improved = self._improved(value) and (self.val_loader is None
                                              or math.isfinite(row["val_loss"]))
        if improved:
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        self.stopped_early = self.patience is not None and self.bad_epochs >= self.patience
        self.epoch += 1
        self._partial = None
        self.history.append(row)
        self._append_metrics(row)
        if improved:
            self.save_checkpoint("best.safetensors")
        self.save_checkpoint("last.safetensors")
        for cb in self.callbacks:
            cb.on_epoch_end(self, row)
