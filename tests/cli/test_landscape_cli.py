"""numcnn.cli.landscape: `numcnn landscape CHECKPOINT --out FILE.png` on a tiny checkpoint made
by `numcnn train` (run in-process), through a parser built from the module's add_parser."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import pytest
from tests.helpers import train_synthetic

import numcnn.nn.functional as F
from numcnn.cli import landscape as cli
from numcnn.train.cli import CLIError
from numcnn.train.run import model_from, read_checkpoint
from numcnn.viz.landscape import loss_landscape


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_synthetic(tmp_path_factory.mktemp("landscape") / "run") / "last.safetensors"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="numcnn")
    sub = parser.add_subparsers(dest="command")
    cli.add_parser(sub, argparse.RawDescriptionHelpFormatter)
    return parser.parse_args(["landscape", *argv])


def test_writes_png_and_prints_centre_and_range(checkpoint: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    png = tmp_path / "land.png"
    args = parse(str(checkpoint), "--out", str(png), "--steps", "3", "--limit", "32",
                 "--batch-size", "10", "--span", "0.5", "--seed", "2")
    assert cli.run(args) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["land.png"]     # no temporary file left
    text = capsys.readouterr().out
    assert "first 32 synthetic training images: 3x3 points" in text
    centre = float(re.search(r"centre loss (\S+)", text).group(1))
    low, high = map(float, re.search(r"loss range +(\S+) \.\. (\S+)", text).groups())
    # the same numbers from the library on the first 32 training images, in one batch
    model, config = model_from(read_checkpoint(str(checkpoint)))
    batches = cli._training_batches(config, 32, 32, None)
    assert len(batches) == 1 and batches[0][0].shape[0] == 32
    land = loss_landscape(model, F.cross_entropy, batches, steps=(3, 3), span=0.5, seed=2,
                          progress=False)
    assert centre == pytest.approx(land.center_loss, abs=1e-4)
    assert low == pytest.approx(land.losses.min(), abs=1e-4)
    assert high == pytest.approx(land.losses.max(), abs=1e-4)
    assert low <= centre <= high


def test_training_batches_are_the_first_images(checkpoint: Path) -> None:
    _, config = model_from(read_checkpoint(str(checkpoint)))
    batches = cli._training_batches(config, 25, 10, None)
    assert [b[0].shape[0] for b in batches] == [10, 10, 5]
    whole = cli._training_batches(config, 200, 200, None)
    np.testing.assert_array_equal(np.concatenate([b[0].array for b in batches]),
                                  whole[0][0].array[:25])


def test_bad_out_and_checkpoint(checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must be a .png"):
        cli.run(parse(str(checkpoint), "--out", str(tmp_path / "x.jpg")))
    with pytest.raises(ValueError, match="folder of --out does not exist"):
        cli.run(parse(str(checkpoint), "--out", str(tmp_path / "no" / "x.png")))
    with pytest.raises(CLIError, match="checkpoint not found"):
        cli.run(parse(str(tmp_path / "none.safetensors"), "--out", str(tmp_path / "x.png")))
    with pytest.raises(SystemExit):
        parse(str(checkpoint), "--out", str(tmp_path / "x.png"), "--steps", "1")
