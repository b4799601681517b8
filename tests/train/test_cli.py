"""numcnn.train.cli: the `numcnn` command line, run in-process through main([...]) and once as
`python -m numcnn`.

Training runs are tiny (SyntheticShapes or 512 Fashion-MNIST images, one or two epochs), so the
whole file takes a few seconds.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from tests.helpers import run_cli as run

import numcnn
from numcnn.data import SyntheticShapes
from numcnn.train.cli import main
from numcnn.train.models import CLI_MODELS, MODELS

FMNIST_DEBIAN = Path("/usr/share/datasets/fashion-mnist")




def metrics_rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def lenet_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """lenet5 trained for 2 epochs on 400 synthetic images, 25% held out."""
    out = tmp_path_factory.mktemp("lenet") / "run"
    assert main(["train", "--data", "synthetic", "--model", "lenet5", "--limit", "400",
                 "--epochs", "2", "--val-split", "0.25", "--batch-size", "64",
                 "--out", str(out)]) == 0
    return out


# ----------------------------------------------------------------------------- models
@pytest.mark.parametrize("name, params", [("fmnist-cnn", 1_677_674), ("mlp", 669_706),
                                          ("lenet5", 61_706)])
def test_models_parameter_counts_and_shapes(name: str, params: int) -> None:
    model = MODELS[name]()
    assert sum(p.array.size for p in model.parameters() if p.requires_grad) == params
    model.eval()
    assert model(numcnn.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_models_take_channels_classes_and_size() -> None:
    for factory in CLI_MODELS.values():
        model = factory(in_channels=3, num_classes=5, image_size=32)
        model.eval()
        assert model(numcnn.zeros(2, 3, 32, 32)).shape == (2, 5)


# ----------------------------------------------------------------------------- help
def test_python_m_numcnn_help() -> None:
    proc = subprocess.run([sys.executable, "-m", "numcnn", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0
    for command in ("train", "eval", "predict", "datasets"):
        assert command in proc.stdout


@pytest.mark.parametrize("command", ["train", "eval", "predict", "datasets"])
def test_subcommand_help(capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    assert f"usage: numcnn {command}" in out


# ----------------------------------------------------------------------------- train
def test_train_lenet5_synthetic(lenet_run: Path) -> None:
    rows = metrics_rows(lenet_run)
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert all(r["val_acc"] != "nan" for r in rows)
    for name in ("config.json", "last.safetensors", "best.safetensors"):
        assert (lenet_run / name).is_file()
    run_config = numcnn.load(lenet_run / "last.safetensors")["run"]
    assert run_config["model"] == "lenet5" and run_config["data"] == "synthetic"
    assert run_config["classes"] == list(SyntheticShapes().classes)
    assert run_config["model_args"] == {"in_channels": 1, "num_classes": 5, "image_size": 28}
    assert len(run_config["mean"]) == len(run_config["std"]) == 1


def test_train_mlp_prints_epochs_and_test_result(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    code, out, err = run(capsys, "train", "--data", "synthetic", "--model", "mlp", "--limit",
                         "256", "--epochs", "1", "--optimizer", "sgd", "--scheduler", "cosine",
                         "--augment", "--out", str(tmp_path / "mlp"))
    assert code == 0, err
    assert "epoch 1/1" in out
    assert "test: loss" in out and "accuracy" in out
    assert len(metrics_rows(tmp_path / "mlp")) == 1


@pytest.mark.skipif(not (FMNIST_DEBIAN / "train-images-idx3-ubyte.gz").is_file(),
                    reason="Fashion-MNIST is not installed at /usr/share/datasets/fashion-mnist "
                           "(apt-get install dataset-fashion-mnist)")
def test_train_fmnist_cnn_on_fashion_mnist(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    monkeypatch.delenv("NUMCNN_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))          # no ~/.cache/numcnn: the Debian copy
    code, out, err = run(capsys, "train", "--limit", "512", "--epochs", "1",
                         "--out", str(tmp_path / "fm"))
    assert code == 0, err
    assert "fmnist-cnn (1,677,674 trainable parameters) on fashion-mnist at 1x28x28" in out
    assert "test: loss" in out
    ckpt = tmp_path / "fm" / "last.safetensors"
    code, out, err = run(capsys, "eval", str(ckpt), "--limit", "300")
    assert code == 0, err
    assert "Ankle boot" in out and "confusion matrix" in out


def test_resume_continues_the_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_dir = tmp_path / "r"
    base = ["--data", "synthetic", "--model", "mlp", "--limit", "128", "--batch-size", "32"]
    assert run(capsys, "train", *base, "--epochs", "1", "--out", str(out_dir))[0] == 0
    first = numcnn.load(out_dir / "last.safetensors")
    code, out, err = run(capsys, "train", "--resume", str(out_dir / "last.safetensors"),
                         "--epochs", "2")
    assert code == 0, err
    assert "resuming" in out and "epoch 2/2" in out and "epoch 1/2" not in out
    rows = metrics_rows(out_dir)
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert [r["step"] for r in rows] == ["4", "8"]
    second = numcnn.load(out_dir / "last.safetensors")
    assert second["epoch"] == 2 and first["epoch"] == 1
    # a resumed run may not change the run's settings
    code, _, err = run(capsys, "train", "--resume", str(out_dir / "last.safetensors"),
                       "--model", "lenet5")
    assert code == 1 and "--model" in err and err.count("\n") == 1


def _cli_env() -> dict[str, str]:
    src = str(Path(__file__).parents[2] / "src")
    return dict(os.environ, PYTHONPATH=os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))


def test_kill_9_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    """`numcnn train` in a subprocess, killed with SIGKILL mid-epoch (right after its first
    mid-epoch checkpoint), then `numcnn train --resume`: the final weights equal, bit for bit,
    those of the same command never interrupted."""
    job = ["--data", "synthetic", "--model", "lenet5", "--limit", "1200", "--batch-size", "8",
           "--epochs", "2", "--augment", "--checkpoint-every", "5"]
    cmd = [sys.executable, "-m", "numcnn", "train", *job]
    ref = subprocess.run([*cmd, "--out", str(tmp_path / "ref")], env=_cli_env(),
                         capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr
    killed = tmp_path / "killed"
    proc = subprocess.Popen([*cmd, "--out", str(killed)], env=_cli_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (killed / "last.safetensors").exists():   # step 5 of 150 in epoch 1
            if proc.poll() is not None:
                pytest.fail(f"training ended before it was killed: {proc.stderr.read()!r}")
            if time.monotonic() > deadline:
                pytest.fail("no checkpoint within 120 s")
            time.sleep(0.005)
        proc.kill()                                          # SIGKILL: nothing runs after it
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    at_kill = numcnn.load(killed / "last.safetensors")
    assert at_kill["epoch"] == 0 and at_kill["partial"] is not None      # mid-epoch
    resumed = subprocess.run([sys.executable, "-m", "numcnn", "train", "--resume",
                              str(killed / "last.safetensors")], env=_cli_env(),
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout
    final, expected = numcnn.load(killed / "last.safetensors"), numcnn.load(
        tmp_path / "ref" / "last.safetensors")
    assert final["epoch"] == expected["epoch"] == 2
    assert final["model"].keys() == expected["model"].keys()
    for key, value in expected["model"].items():
        assert np.array_equal(final["model"][key].numpy(), value.numpy()), key
    assert [r["train_loss"] for r in metrics_rows(killed)] == \
        [r["train_loss"] for r in metrics_rows(tmp_path / "ref")]


# ----------------------------------------------------------------------------- eval / predict
def test_eval_prints_metrics(capsys: pytest.CaptureFixture[str], lenet_run: Path) -> None:
    code, out, err = run(capsys, "eval", str(lenet_run / "best.safetensors"))
    assert code == 0, err
    assert "loss" in out and "accuracy" in out and "per-class accuracy" in out
    for name in SyntheticShapes().classes:
        assert name in out
    matrix = out.split("confusion matrix")[1].strip().splitlines()[2:]
    counts = [int(v) for line in matrix for v in line.split()[1:-1]]
    assert sum(counts) == 1000                          # the synthetic test split


def test_predict_npy(capsys: pytest.CaptureFixture[str], lenet_run: Path,
                     tmp_path: Path) -> None:
    images = SyntheticShapes(n=2, seed=7).data
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    np.save(a, images[0, 0])                            # (H, W) float
    np.save(b, np.repeat(images[1].transpose(1, 2, 0)[:20, :20], 3, axis=2))  # (h, w, 3)
    code, out, err = run(capsys, "predict", str(lenet_run / "last.safetensors"), str(a),
                         str(b), "--top", "2")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 2
    for line in lines:
        probs = [float(part.split()[-1]) for part in line.split(": ", 1)[1].split(", ")]
        assert len(probs) == 2 and 0 <= probs[1] <= probs[0] <= 1


def test_predict_pgm(capsys: pytest.CaptureFixture[str], lenet_run: Path,
                     tmp_path: Path) -> None:
    img = (np.clip(SyntheticShapes(n=1, seed=3).data[0, 0], 0, 1) * 255).astype(np.uint8)
    path = tmp_path / "x.pgm"
    path.write_bytes(b"P5\n# a comment\n28 28\n255\n" + img.tobytes())
    code, out, err = run(capsys, "predict", str(lenet_run / "last.safetensors"), str(path))
    assert code == 0, err
    assert out.startswith(f"{path}: ")


def test_predict_png_matches_the_same_pixels_as_pgm(capsys: pytest.CaptureFixture[str],
                                                   lenet_run: Path, tmp_path: Path) -> None:
    pil = pytest.importorskip("PIL.Image")
    img = (np.clip(SyntheticShapes(n=1, seed=5).data[0, 0], 0, 1) * 255).astype(np.uint8)
    png, pgm = tmp_path / "x.png", tmp_path / "x.pgm"
    pil.fromarray(img).save(png)
    pgm.write_bytes(b"P5\n28 28\n255\n" + img.tobytes())
    code, out, err = run(capsys, "predict", str(lenet_run / "last.safetensors"), str(png),
                         str(pgm), "--top", "3")
    assert code == 0, err
    png_line, pgm_line = out.strip().splitlines()
    assert png_line.split(": ", 1)[1] == pgm_line.split(": ", 1)[1]   # same classes, probs


def test_predict_png_without_pillow(capsys: pytest.CaptureFixture[str], lenet_run: Path,
                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)       # import PIL fails
    path = tmp_path / "x.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n")
    code, out, err = run(capsys, "predict", str(lenet_run / "last.safetensors"), str(path))
    assert code == 1
    assert "Pillow" in err and err.count("\n") == 1


# ----------------------------------------------------------------------------- datasets
def test_datasets_lists_locations(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUMCNN_DATA", str(tmp_path / "data"))
    code, out, _ = run(capsys, "datasets")
    assert code == 0
    assert "fashion-mnist" in out and "mnist (MNIST)" in out and "synthetic" in out
    assert f"not found  {tmp_path / 'data' / 'FashionMNIST' / 'raw'}" in out
    assert "/usr/share/datasets/fashion-mnist" in out
    assert out.index(str(tmp_path / "data")) < out.index("/usr/share/datasets/fashion-mnist")
    if (FMNIST_DEBIAN / "train-images-idx3-ubyte.gz").is_file() and \
            not (Path.home() / ".cache/numcnn/FashionMNIST").exists():
        assert "found      /usr/share/datasets/fashion-mnist  4 files" in out


# ----------------------------------------------------------------------------- errors
def test_missing_data_says_how_to_get_it(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    code, out, err = run(capsys, "train", "--root", str(tmp_path), "--epochs", "1")
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("numcnn train: error: FashionMNIST not found")
    assert "apt-get install dataset-fashion-mnist" in err
    assert "--download" in err and "--root" in err and str(tmp_path) in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [
    ["train", "--epochs", "0"],
    ["train", "--epochs", "x"],
    ["train", "--model", "resnet9000"],
    ["train", "--data", "cifar"],
    ["train", "--val-split", "1.5"],
    ["train", "--lr", "-1"],
    ["train", "--optimizer", "lbfgs"],
    ["eval"],
    ["predict"],
    ["frobnicate"],
])
def test_bad_arguments_exit_2_with_one_line(capsys: pytest.CaptureFixture[str],
                                            argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and "error:" in err
    assert out == ""


def test_runtime_errors_exit_1_with_one_line(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    code, _, err = run(capsys, "eval", str(tmp_path / "missing.safetensors"))
    assert (code, err) == (1, f"numcnn eval: error: checkpoint not found: "
                              f"{tmp_path / 'missing.safetensors'}\n")
    not_ours = tmp_path / "plain.safetensors"
    numcnn.save({"w": numcnn.zeros(2)}, not_ours)
    code, _, err = run(capsys, "predict", str(not_ours), "x.npy")
    assert code == 1 and "not a checkpoint written by 'numcnn train'" in err
    code, _, err = run(capsys, "predict", str(not_ours))
    assert (code, err) == (1, "numcnn predict: error: no image files given\n")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a safetensors file")
    code, _, err = run(capsys, "eval", str(garbage))
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err


def test_numcnn_debug_shows_the_traceback(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUMCNN_DEBUG", "1")
    with pytest.raises(Exception, match="checkpoint not found"):
        main(["eval", os.fspath(tmp_path / "missing.safetensors")])
