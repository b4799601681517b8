"""numcnn.train: the Trainer learns, writes its run files, stops early, resumes bit for bit;
`evaluate` against a hand count.

Every run is small (SyntheticShapes, 16x16, a few hundred images, a tiny CNN) so the whole file
takes seconds.  "Bit-identical" means float equality of every array in the state dict.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import numcnn
import numcnn.nn as nn
from numcnn.data import DataLoader, SyntheticShapes, TensorDataset
from numcnn.data import transforms as T
from numcnn.optim import SGD, Adam
from numcnn.optim.lr_scheduler import OneCycleLR, ReduceLROnPlateau, StepLR
from numcnn.train import METRICS_COLUMNS, Callback, StopTraining, Trainer, evaluate

CLASSES = ("circle", "square", "cross")
BATCH = 32


def tiny_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.1), nn.Linear(8 * 4 * 4, len(CLASSES)),
    )


def make_run(tmp: Path, seed: int = 0, epochs: int = 3, sched: str | None = None,
             n: int = 192, **kwargs: Any) -> Trainer:
    """A complete run built from `seed`: model, optimizer, scheduler, shuffled augmented data."""
    numcnn.manual_seed(seed)
    train = SyntheticShapes(n, size=16, classes=CLASSES, seed=1,
                            transform=T.RandomHorizontalFlip())
    val = SyntheticShapes(96, size=16, classes=CLASSES, seed=2)
    model = tiny_cnn()
    opt = Adam(model.parameters(), lr=0.01)
    train_loader = DataLoader(train, batch_size=BATCH, shuffle=True, generator=7)
    scheduler: Any = None
    interval = "epoch"
    if sched == "step":
        scheduler = StepLR(opt, step_size=1, gamma=0.7)
    elif sched == "onecycle":
        scheduler = OneCycleLR(opt, max_lr=0.02, epochs=epochs, steps_per_epoch=n // BATCH)
        interval = "batch"
    elif sched == "plateau":
        scheduler = ReduceLROnPlateau(opt, mode="max", patience=0, factor=0.5)
    return Trainer(model, opt, scheduler=scheduler, scheduler_interval=interval,  # type: ignore
                   train_loader=train_loader, val_loader=DataLoader(val, batch_size=40),
                   out_dir=tmp, epochs=epochs, progress=False, **kwargs)


def assert_identical(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert list(a) == list(b)
    for k in a:
        x, y = np.asarray(a[k].array), np.asarray(b[k].array)
        assert x.dtype == y.dtype and x.shape == y.shape, k
        assert np.array_equal(x, y), f"{k} differs"


def without_seconds(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


# ----------------------------------------------------------------------------- learning, files
def test_fit_learns_and_writes_the_run_directory(tmp_path):
    trainer = make_run(tmp_path, epochs=6, n=384, config={"lr": 0.01, "note": "smoke"})
    history = trainer.fit()

    assert [row["epoch"] for row in history] == [1, 2, 3, 4, 5, 6]
    assert [row["step"] for row in history] == [12, 24, 36, 48, 60, 72]
    assert history[-1]["train_loss"] < 0.6 * history[0]["train_loss"]
    assert history[-1]["train_acc"] > history[0]["train_acc"] + 0.2
    assert max(row["val_acc"] for row in history) > 0.75         # chance: 1/3

    with open(tmp_path / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == METRICS_COLUMNS
    assert len(rows) == 6
    for row, expected in zip(rows, history):
        assert int(row["epoch"]) == expected["epoch"] and int(row["step"]) == expected["step"]
        for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"):
            assert float(row[key]) == expected[key]                # repr round-trips exactly
        assert float(row["lr"]) == 0.01 and float(row["seconds"]) > 0

    config = json.loads((tmp_path / "config.json").read_text())
    assert config["config"] == {"lr": 0.01, "note": "smoke"}
    assert config["epochs"] == 6 and config["monitor"] == "val_accuracy"
    assert config["optimizer"] == "Adam" and config["optimizer_defaults"]["lr"] == 0.01
    assert config["batch_size"] == BATCH and config["train_batches"] == 12

    last = numcnn.load(tmp_path / "last.safetensors")
    assert last["epoch"] == 6 and last["step"] == 72
    assert_identical(last["model"], trainer.model.state_dict())
    best = numcnn.load(tmp_path / "best.safetensors")
    accs = [row["val_acc"] for row in history]
    best_epoch = accs.index(max(accs)) + 1                          # the first of equal maxima
    assert best["epoch"] == best_epoch and best["best"] == max(accs)
    model = tiny_cnn()
    model.load_state_dict(best["model"])                            # loads into a fresh model
    again = evaluate(model, trainer.val_loader)
    assert again.accuracy == max(accs)


def test_evaluate_reports_the_validation_of_the_last_epoch(tmp_path):
    trainer = make_run(tmp_path, epochs=1, num_classes=3)
    row = trainer.fit()[-1]
    result = trainer.last_evaluation
    assert result is not None and result.confusion_matrix.shape == (3, 3)
    assert (result.loss, result.accuracy) == (row["val_loss"], row["val_acc"])
    assert result.confusion_matrix.sum() == 96 == result.num_samples


# ----------------------------------------------------------------------------- early stopping
@pytest.mark.parametrize("patience, monitor", [(1, "val_accuracy"), (2, "val_loss")])
def test_early_stopping_when_the_metric_plateaus(tmp_path, patience, monitor):
    numcnn.manual_seed(0)
    data = SyntheticShapes(64, size=16, classes=CLASSES, seed=1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16 * 16, 3))    # no batch-norm statistics
    opt = SGD(model.parameters(), lr=0.0)              # the weights never move: a flat metric
    trainer = Trainer(model, opt, train_loader=DataLoader(data, batch_size=BATCH),
                      val_loader=DataLoader(data, batch_size=BATCH), out_dir=tmp_path,
                      epochs=10, early_stopping_patience=patience, monitor=monitor,
                      progress=False)
    history = trainer.fit()
    # epoch 1 sets the best; each later epoch is not strictly better: stop after `patience`
    assert len(history) == 1 + patience and trainer.stopped_early
    assert len({row["val_loss"] for row in history}) == 1
    assert numcnn.load(tmp_path / "best.safetensors")["epoch"] == 1
    assert numcnn.load(tmp_path / "last.safetensors")["epoch"] == 1 + patience
    assert trainer.fit() == history                     # a stopped run stays stopped


class RecordingPlateau(ReduceLROnPlateau):
    def step(self, metrics: Any, epoch: int | None = None) -> None:  # type: ignore[override]
        self.seen = [*getattr(self, "seen", []), float(metrics)]
        super().step(metrics)


def test_reduce_lr_on_plateau_gets_the_monitored_metric(tmp_path):
    trainer = make_run(tmp_path, epochs=3)
    trainer.scheduler = RecordingPlateau(trainer.optimizer, mode="max", patience=0)
    history = trainer.fit()
    assert trainer.scheduler.seen == [row["val_acc"] for row in history]
    lrs = [row["lr"] for row in history]                # the lr each epoch was trained with
    for k in range(1, 3):
        worse = history[k - 1]["val_acc"] <= max(r["val_acc"] for r in history[:k - 1] or
                                                  [{"val_acc": -1.0}])
        assert lrs[k] == (lrs[k - 1] * 0.1 if worse else lrs[k - 1])


def test_a_batch_scheduler_steps_every_batch(tmp_path):
    trainer = make_run(tmp_path, epochs=2, sched="onecycle")
    trainer.fit()
    assert trainer.scheduler.last_epoch == 2 * 192 // BATCH


# ----------------------------------------------------------------------------- evaluate
class Logits(nn.Module):
    """The inputs are the logits: evaluate's counting is then checked on chosen predictions."""

    def forward(self, x: numcnn.Tensor) -> numcnn.Tensor:
        return x * 1.0


def test_evaluate_against_a_hand_count():
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((23, 4))
    labels = rng.integers(0, 3, 23)                     # class 3 never occurs
    labels[:3] = [0, 1, 2]
    loader = DataLoader(TensorDataset(logits, labels), batch_size=5)   # 5,5,5,5,3: uneven
    model = Logits().train()

    result = evaluate(model, loader, num_classes=4)

    assert model.training                                # the mode is restored
    pred = logits.argmax(axis=1)
    hand = np.zeros((4, 4), dtype=np.int64)
    for t, p in zip(labels, pred):
        hand[t, p] += 1
    assert result.confusion_matrix.dtype == np.int64
    np.testing.assert_array_equal(result.confusion_matrix, hand)
    assert result.accuracy == np.mean(pred == labels)
    for k in range(3):
        assert result.per_class_accuracy[k] == np.mean(pred[labels == k] == k)
    assert math.isnan(result.per_class_accuracy[3])
    z = logits - logits.max(axis=1, keepdims=True)
    nll = -(z - np.log(np.exp(z).sum(axis=1, keepdims=True)))[np.arange(23), labels]
    assert result.loss == pytest.approx(nll.mean(), rel=1e-12)
    assert evaluate(model.eval(), loader).confusion_matrix.shape == (4, 4)
    assert not model.training


def test_evaluate_refuses_labels_outside_the_classes():
    loader = DataLoader(TensorDataset(np.zeros((4, 3)), np.array([0, 1, 2, 3])), batch_size=4)
    with pytest.raises(ValueError, match="labels must lie in"):
        evaluate(Logits(), loader)


# ----------------------------------------------------------------------------- resume
def reference_run(tmp: Path, sched: str | None) -> Trainer:
    trainer = make_run(tmp / "ref", sched=sched)
    trainer.fit()
    return trainer


class StopAfterEpoch(Callback):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        if trainer.epoch == self.epoch:
            raise StopTraining


class CrashAtStep(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, trainer: Trainer) -> None:
        if trainer.step == self.step:
            raise RuntimeError("injected crash")


@pytest.mark.parametrize("sched", [None, "step", "onecycle", "plateau"])
def test_resume_after_an_epoch_is_bit_identical(tmp_path, sched):
    ref = reference_run(tmp_path, sched)

    first = make_run(tmp_path / "run", sched=sched, callbacks=[StopAfterEpoch(1)])
    first.fit()
    assert first.epoch == 1
    del first

    resumed = make_run(tmp_path / "run", seed=99, sched=sched)     # other initial weights
    resumed.resume(tmp_path / "run" / "last.safetensors")
    resumed.fit()
    assert_identical(resumed.model.state_dict(), ref.model.state_dict())
    assert resumed.optimizer.param_groups[0]["lr"] == ref.optimizer.param_groups[0]["lr"]
    assert without_seconds(resumed.history) == without_seconds(ref.history)


@pytest.mark.parametrize("sched", [None, "onecycle"])
def test_resume_mid_epoch_is_bit_identical(tmp_path, sched):
    ref = reference_run(tmp_path, sched)
    run = tmp_path / "run"

    crashed = make_run(run, sched=sched, checkpoint_every=4, callbacks=[CrashAtStep(10)])
    with pytest.raises(RuntimeError, match="injected crash"):
        crashed.fit()
    ckpt = numcnn.load(run / "last.safetensors")
    assert (ckpt["epoch"], ckpt["step"]) == (1, 8)                   # epoch 2, batch 2 of 6
    assert ckpt["train_loader"]["batches_consumed"] == 2
    with open(run / "metrics.csv") as f:
        assert len(f.readlines()) == 2                               # header + epoch 1
    del crashed

    resumed = make_run(run, seed=99, sched=sched, checkpoint_every=4)
    resumed.resume(run / "last.safetensors")
    resumed.fit()
    assert_identical(resumed.model.state_dict(), ref.model.state_dict())
    assert without_seconds(resumed.history) == without_seconds(ref.history)
    with open(run / "metrics.csv", newline="") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1, 2, 3]


KILL_SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from pathlib import Path
    from tests.train.test_trainer import make_run
    from numcnn.train import Callback

    class Slow(Callback):                      # time for the parent to see a checkpoint
        def on_step_end(self, trainer):
            time.sleep(0.05)

    trainer = make_run(Path({run!r}), checkpoint_every=3, callbacks=[Slow()])
    if len(sys.argv) > 1:
        trainer.resume(Path({run!r}) / "last.safetensors")
    trainer.fit()
""")


def test_resume_after_kill_9_is_bit_identical(tmp_path):
    ref = reference_run(tmp_path, None)
    run = tmp_path / "run"
    script = tmp_path / "train.py"
    script.write_text(KILL_SCRIPT.format(tests=str(Path(__file__).parents[2]), run=str(run)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(Path(__file__).parents[2] / "src"), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, str(script)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:                  # wait for a mid-epoch checkpoint
            if (run / "last.safetensors").exists():
                try:
                    ckpt = numcnn.load(run / "last.safetensors")
                except ValueError:
                    ckpt = None
                if ckpt is not None and ckpt["partial"] is not None:     # mid-epoch
                    break
            if proc.poll() is not None:
                pytest.fail(f"the training process ended early: {proc.stderr.read()!r}")
            time.sleep(0.01)
        else:
            pytest.fail("no mid-epoch checkpoint within 60 s")
        proc.kill()                                         # SIGKILL: no cleanup runs
    finally:
        proc.kill()
        proc.wait()
    done = subprocess.run([sys.executable, str(script), "resume"], env=env,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    final = numcnn.load(run / "last.safetensors")
    assert final["epoch"] == 3
    assert_identical(final["model"], ref.model.state_dict())


# ----------------------------------------------------------------------------- progress, errors
def test_progress_bar_only_when_asked_or_on_a_terminal(tmp_path, capsys):
    make_run(tmp_path / "a", epochs=1, n=64).fit()
    quiet = make_run(tmp_path / "b", epochs=1, n=64)
    quiet.progress = True                               # stderr is captured: not a TTY
    quiet.fit()
    assert capsys.readouterr().err == ""
    loud = make_run(tmp_path / "c", epochs=1, n=64)
    loud.progress = "always"
    loud.fit()
    err = capsys.readouterr().err
    assert "loss=" in err and "acc=" in err and "img_s=" in err


def test_bad_settings_are_refused(tmp_path):
    model = tiny_cnn()
    opt = SGD(model.parameters(), lr=0.1)
    loader = DataLoader(SyntheticShapes(8, size=16, classes=CLASSES), batch_size=4)
    with pytest.raises(ValueError, match="needs a val_loader"):
        Trainer(model, opt, train_loader=loader, epochs=1)
    with pytest.raises(ValueError, match="monitor must be one of"):
        Trainer(model, opt, train_loader=loader, epochs=1, monitor="accuracy")
    with pytest.raises(ValueError, match="scheduler_interval"):
        Trainer(model, opt, train_loader=loader, epochs=1, monitor="train_loss",
                scheduler_interval="step")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="checkpoint_every"):
        Trainer(model, opt, train_loader=loader, epochs=1, monitor="train_loss",
                checkpoint_every=0)
