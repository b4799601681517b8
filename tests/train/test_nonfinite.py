"""The Trainer stops on a NaN or infinite training loss (or weights) before any optimizer step or
checkpoint records it, leaving the checkpoints already written byte for byte as they were; a
non-finite validation loss never makes an epoch the best; `numcnn train --lr 1e9` ends with one
line on stderr naming the epoch and step.

Runs are tiny: 96 synthetic 16x16 images in batches of 32, so an epoch is 3 optimizer steps.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

import numcnn
import numcnn.nn as nn
from numcnn.autograd import is_grad_enabled
from numcnn.data import DataLoader, SyntheticShapes
from numcnn.nn.functional import cross_entropy
from numcnn.optim import Adam
from numcnn.train import Callback, NonFiniteError, Trainer

CLASSES = ("circle", "square", "cross")
FILES = ("last.safetensors", "best.safetensors", "metrics.csv", "config.json")


def tiny_cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(4), nn.Flatten(), nn.Linear(4 * 4 * 4, len(CLASSES)))


class Snapshot(Callback):
    """At the end of optimizer step `at`: the run directory's files' bytes, the parameters and
    the optimizer state, to compare with what is left after the run failed."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.files: dict[str, bytes] = {}
        self.params: list[np.ndarray] = []
        self.optimizer: dict[str, Any] = {}

    def on_step_end(self, trainer: Trainer) -> None:
        if trainer.step == self.at:
            self.files = read_files(Path(trainer.out_dir or ""))
            self.params = [p.array.copy() for p in trainer.model.parameters()]
            self.optimizer = trainer.optimizer.state_dict()


def read_files(run_dir: Path) -> dict[str, bytes]:
    return {name: (run_dir / name).read_bytes() for name in FILES if (run_dir / name).exists()}


def make_trainer(tmp: Path, loss_fn: Callable[..., Any] = cross_entropy,
                 **kwargs: Any) -> Trainer:
    numcnn.manual_seed(0)
    train = SyntheticShapes(96, size=16, classes=CLASSES, seed=1)
    val = SyntheticShapes(48, size=16, classes=CLASSES, seed=2)
    model = tiny_cnn()
    kwargs.setdefault("epochs", 3)
    kwargs.setdefault("val_loader", DataLoader(val, batch_size=24))
    return Trainer(model, Adam(model.parameters(), lr=0.01), loss_fn,
                   train_loader=DataLoader(train, batch_size=32, shuffle=True, generator=3),
                   out_dir=tmp, progress=False, **kwargs)


def poisoned_loss(bad: float, when: Callable[[], bool]) -> Callable[[Any, Any], Any]:
    """cross_entropy, plus `bad` (through the graph) whenever `when()` is true."""
    def loss_fn(out: Any, y: Any) -> Any:
        loss = cross_entropy(out, y)
        return loss + bad if when() else loss
    return loss_fn


# ----------------------------------------------------------------------------- training loss
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_loss_stops_before_the_step_and_keeps_checkpoints(tmp_path: Path,
                                                                     bad: float) -> None:
    # steps 1..3 are epoch 1 (checkpoints at step 2 mid-epoch, and best + last at its end),
    # step 4 writes last.safetensors mid-epoch 2, then step 5's loss is `bad`
    holder: dict[str, Trainer] = {}
    trainer = make_trainer(tmp_path, poisoned_loss(bad, lambda: holder["t"].step == 4),
                           checkpoint_every=2, callbacks=[snap := Snapshot(at=4)])
    holder["t"] = trainer
    with pytest.raises(NonFiniteError) as info:
        trainer.fit()
    message = str(info.value)
    assert "\n" not in message
    assert message == (f"training stopped at epoch 2, step 5: the training loss is {bad} (not "
                       f"backpropagated, no optimizer step taken); the checkpoints already "
                       f"written are unchanged, the latest from step 4; a lower learning rate "
                       f"may help")
    assert isinstance(info.value, FloatingPointError)
    assert set(snap.files) == set(FILES)
    assert read_files(tmp_path) == snap.files               # byte for byte
    assert numcnn.load(tmp_path / "last.safetensors")["step"] == 4
    # no optimizer step, no backward with that loss: weights, optimizer state and grads as before
    assert trainer.step == 4 and trainer.epoch == 1
    for p, before in zip(trainer.model.parameters(), snap.params):
        assert np.array_equal(p.array, before)
        assert p.grad is None
    after = trainer.optimizer.state_dict()
    for key, state in snap.optimizer["state"].items():
        for name, value in state.items():
            assert np.array_equal(np.asarray(getattr(value, "array", value)),
                                  np.asarray(getattr(after["state"][key][name], "array",
                                                     after["state"][key][name]))), name
    # the run resumes from the kept checkpoint: the loss is finite again, it finishes
    resumed = make_trainer(tmp_path, checkpoint_every=2)
    resumed.resume(tmp_path / "last.safetensors")
    assert len(resumed.fit()) == 3 and resumed.step == 9


def test_non_finite_loss_before_any_checkpoint(tmp_path: Path) -> None:
    holder: dict[str, Trainer] = {}
    trainer = make_trainer(tmp_path, poisoned_loss(float("nan"),
                                                   lambda: holder["t"].step == 1))
    holder["t"] = trainer
    with pytest.raises(NonFiniteError, match=r"^training stopped at epoch 1, step 2: the "
                                             r"training loss is nan .*; no checkpoint was "
                                             r"written;"):
        trainer.fit()
    assert not (tmp_path / "last.safetensors").exists()
    assert not (tmp_path / "best.safetensors").exists()


def test_without_out_dir_the_message_says_nothing_is_written(tmp_path: Path) -> None:
    holder: dict[str, Trainer] = {}
    trainer = make_trainer(tmp_path, poisoned_loss(float("inf"),
                                                   lambda: holder["t"].step == 0))
    trainer.out_dir = None
    holder["t"] = trainer
    with pytest.raises(NonFiniteError, match=r"epoch 1, step 1: the training loss is inf .*"
                                             r"no checkpoints are written \(out_dir=None\)"):
        trainer.fit()
    assert os.listdir(tmp_path) == []


# ----------------------------------------------------------------------------- weights
def poison_after_step(trainer: Trainer, at: int) -> None:
    """Make the optimizer's step number `at` leave a NaN in the first conv weight (a finite
    loss, but an update that blew up)."""
    step = trainer.optimizer.step

    def poisoned_step(*args: Any, **kwargs: Any) -> Any:
        result = step(*args, **kwargs)
        if trainer.step + 1 == at:
            next(trainer.model.parameters()).array[0, 0, 0, 0] = np.nan
        return result

    trainer.optimizer.step = poisoned_step  # type: ignore[method-assign]


def test_non_finite_weights_are_never_checkpointed_mid_epoch(tmp_path: Path) -> None:
    # step 5 (epoch 2, second batch) is due for a mid-epoch checkpoint and leaves a NaN weight
    trainer = make_trainer(tmp_path, checkpoint_every=1, callbacks=[snap := Snapshot(at=4)])
    poison_after_step(trainer, at=5)
    with pytest.raises(NonFiniteError) as info:
        trainer.fit()
    assert str(info.value).startswith("training stopped at epoch 2, step 5: the model's 0.weight "
                                      "holds non-finite values after this optimizer step; the "
                                      "checkpoints already written are unchanged, the latest "
                                      "from step 4;")
    assert read_files(tmp_path) == snap.files and set(snap.files) == set(FILES)


def test_non_finite_weights_at_an_epochs_end_stop_before_validation(tmp_path: Path) -> None:
    # step 6 is epoch 2's last batch: no mid-epoch checkpoint; the epoch's end must not
    # validate, log a row or write best/last
    trainer = make_trainer(tmp_path, callbacks=[snap := Snapshot(at=5)])
    poison_after_step(trainer, at=6)
    with pytest.raises(NonFiniteError, match=r"^training stopped at epoch 2, step 6: the model's "
                                             r"0.weight holds non-finite values"):
        trainer.fit()
    assert read_files(tmp_path) == snap.files
    assert len(trainer.history) == 1
    assert (tmp_path / "metrics.csv").read_text().count("\n") == 2      # header + epoch 1


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
@pytest.mark.parametrize("monitor", ["val_accuracy", "val_loss"])
def test_non_finite_validation_loss_is_never_best(tmp_path: Path, bad: float,
                                                  monitor: str) -> None:
    # evaluate() runs under no_grad: the validation loss is `bad`, the training loss finite
    trainer = make_trainer(tmp_path / "bad", poisoned_loss(bad, lambda: not is_grad_enabled()),
                           monitor=monitor, early_stopping_patience=2)
    history = trainer.fit()
    assert len(history) == 2 and trainer.stopped_early          # two epochs without a best
    assert all(not np.isfinite(row["val_loss"]) for row in history)
    assert all(np.isfinite(row["train_loss"]) for row in history)
    assert trainer.best is None and trainer.bad_epochs == 2
    assert not (tmp_path / "bad" / "best.safetensors").exists()
    assert numcnn.load(tmp_path / "bad" / "last.safetensors")["epoch"] == 2
    # the same run with a finite validation loss does have a best epoch
    control = make_trainer(tmp_path / "good", monitor=monitor, early_stopping_patience=2)
    control.fit()
    assert control.best is not None and (tmp_path / "good" / "best.safetensors").exists()


def test_a_finite_run_is_unchanged(tmp_path: Path) -> None:
    """The checks cost no behaviour: the same losses and weights as the plain loop computes."""
    trainer = make_trainer(tmp_path, epochs=1, val_loader=None, monitor="train_loss")
    history = trainer.fit()
    numcnn.manual_seed(0)
    model = tiny_cnn()
    opt = Adam(model.parameters(), lr=0.01)
    train = SyntheticShapes(96, size=16, classes=CLASSES, seed=1)
    total = 0.0
    for x, y in DataLoader(train, batch_size=32, shuffle=True, generator=3):
        opt.zero_grad()
        loss = cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        total += loss.item() * len(y)
    assert history[0]["train_loss"] == total / 96
    for a, b in zip(model.parameters(), trainer.model.parameters()):
        assert np.array_equal(a.array, b.array)


# ----------------------------------------------------------------------------- the command
def _cli_env() -> dict[str, str]:
    src = str(Path(__file__).parents[2] / "src")
    return dict(os.environ, PYTHONPATH=os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))


def test_cli_lr_1e9_exits_1_with_one_line(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "numcnn", "train", "--data", "synthetic", "--model", "lenet5",
         "--limit", "256", "--batch-size", "64", "--epochs", "2", "--optimizer", "sgd",
         "--lr", "1e9", "--checkpoint-every", "1", "--out", str(out)],
        env=_cli_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    match = re.fullmatch(r"numcnn train: error: training stopped at epoch (\d+), step (\d+): "
                         r"the training loss is (nan|inf|-inf) \(not backpropagated, no "
                         r"optimizer step taken\); the checkpoints already written are "
                         r"unchanged, the latest from step (\d+); a lower learning rate may "
                         r"help\n", proc.stderr)
    assert match is not None, proc.stderr
    epoch, step, _, saved = match.groups()
    assert epoch == "1" and int(saved) == int(step) - 1
    assert "test:" not in proc.stdout                 # nothing evaluated after the failure
    # the checkpoint kept is the last good one: written at `saved`, every weight finite
    ckpt = numcnn.load(out / "last.safetensors")
    assert ckpt["step"] == int(saved)
    for name, value in ckpt["model"].items():
        assert np.isfinite(value.numpy()).all(), name
    assert not (out / "best.safetensors").exists()
