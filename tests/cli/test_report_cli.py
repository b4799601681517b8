"""`numcnn report RUN_DIR` and `numcnn train --report` on a tiny synthetic fmnist-cnn run (the
default model, with batch norm and dropout): the page written where asked, its numbers those of
`numcnn eval`, the one-line errors. The page's rendering is tested in tests/viz/test_report.py.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from tests.helpers import run_cli as run

from numcnn.train.cli import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reportcli") / "run"
    assert main(["train", "--data", "synthetic", "--limit", "128", "--epochs", "1",
                 "--batch-size", "64", "--out", str(out)]) == 0
    return out


def test_report_default_out_and_numbers(capsys: pytest.CaptureFixture[str],
                                        run_dir: Path) -> None:
    code, out, err = run(capsys, "report", str(run_dir), "--limit", "100", "--num-images", "3")
    assert code == 0
    assert out == f"wrote {run_dir / 'report.html'}\n"
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "for the predicted class of 3 test images of different classes" in page
    _, ev, _ = run(capsys, "eval", str(run_dir / "best.safetensors"), "--limit", "100")
    acc = re.search(r"^accuracy\s+(\S+)$", ev, re.M)
    loss = re.search(r"^loss\s+(\S+)$", ev, re.M)
    assert acc is not None and loss is not None
    assert (f"Accuracy <b>{acc.group(1)}</b>, mean cross-entropy loss {loss.group(1)}, on the "
            f"first 100 of the 1000 images of the test split of synthetic (100 images)") in page
    for section in ("settings", "curves", "test", "misclassified", "filters", "feature-maps",
                    "grad-cam", "summary"):
        assert f'<section id="{section}">' in page
    assert "features.0" in page and "features.11" in page        # first and last conv named
    # the summary table; fmnist-cnn with 5 classes has 1,675,109 parameters (as train printed)
    assert "Trainable params: 1,675,109" in page
    assert page.count("<img ") == 7
    assert not [p for p in os.listdir(run_dir) if p.endswith(".tmp")]


def test_report_out_and_checkpoint_options(capsys: pytest.CaptureFixture[str],
                                           run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "page.html"
    code, stdout, _ = run(capsys, "report", str(run_dir), "--out", str(out), "--checkpoint",
                          str(run_dir / "last.safetensors"), "--limit", "40",
                          "--num-images", "1")
    assert code == 0 and stdout == f"wrote {out}\n"
    page = out.read_text(encoding="utf-8")
    assert "<code>last.safetensors</code>" in page
    assert "the first 40 of the 1000 images" in page


@pytest.mark.parametrize("args, message", [
    (["{tmp}/missing"], "run_dir is not a directory"),
    (["{tmp}"], "has neither best.safetensors nor last.safetensors"),
    (["{run}", "--out", "{tmp}/no/page.html"], "the folder of the report (out) does not exist"),
    (["{run}", "--checkpoint", "{tmp}/x.safetensors"], "checkpoint not found"),
])
def test_report_errors_are_one_line(capsys: pytest.CaptureFixture[str], run_dir: Path,
                                    tmp_path: Path, args: list[str], message: str) -> None:
    argv = [a.format(tmp=tmp_path, run=run_dir) for a in args]
    code, out, err = run(capsys, "report", *argv)
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("numcnn report: error: ")
    assert message in lines[0]


def test_report_usage(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "report", "x", "--num-images", "0")
    assert code == 2 and "expected an integer in 1..64" in err
    code, out, _ = run(capsys, "report", "--help")
    assert code == 0 and "usage: numcnn report" in out
    code, out, _ = run(capsys, "train", "--help")
    assert code == 0 and "--report" in out


def test_train_report_prints_the_page_path(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    out = tmp_path / "run"
    code, stdout, _ = run(capsys, "train", "--data", "synthetic", "--model", "lenet5",
                          "--limit", "64", "--epochs", "1", "--out", str(out), "--report")
    assert code == 0
    assert stdout.splitlines()[-1] == f"report: {out / 'report.html'}"
    page = (out / "report.html").read_text(encoding="utf-8")
    # the page evaluates what the run's "test:" line did: the first 64 test images
    test_line = re.search(r"^test: loss (\S+)  accuracy (\S+) \((\d+) images\)$", stdout, re.M)
    assert test_line is not None and test_line.group(3) == "64"
    assert f"Accuracy <b>{test_line.group(2)}</b>" in page
    assert "the first 64 of the 1000 images" in page
