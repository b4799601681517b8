"""`numcnn compress ACTION CHECKPOINT --out DIR` on a tiny synthetic lenet5 run: every action
writes a compressed checkpoint that `numcnn eval`, `predict` and `summary` read back, and the
before/after numbers it prints are checked against independent paths (the file on disk, `numcnn
eval` on the written checkpoint, `numcnn summary`'s MACs, the weights themselves).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from tests.helpers import run_cli as run
from tests.helpers import train_synthetic

import numcnn
import numcnn.compress as C
import numcnn.io
from numcnn.train.run import load_run


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("compresscli") / "run"
    return train_synthetic(out, limit=300, batch_size=64) / "best.safetensors"


ACTIONS = {
    "prune": ["prune", "--sparsity", "0.6", "--steps", "2", "--epochs", "1",
              "--train-limit", "64"],
    "prune-channels": ["prune", "--channels", "0.5", "--steps", "2", "--epochs", "1",
                       "--train-limit", "64"],
    "channels": ["channels", "--amount", "0.3", "--epochs", "0"],
    "int8": ["int8", "--calibration", "64"],
    "inq": ["inq", "--bits", "5", "--partitions", "0.5", "1", "--epochs", "1",
            "--train-limit", "64"],
    "binarize": ["binarize", "--epochs", "0"],
    "xnor": ["binarize", "--xnor", "--epochs", "1", "--train-limit", "64"],
}
TEST_LIMIT = "120"


def _accuracy_of_eval(out: str) -> float:
    match = re.search(r"^accuracy\s+([0-9.]+)$", out, re.M)
    assert match, out
    return float(match.group(1))


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_action_writes_a_checkpoint_that_eval_predict_summary_read(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, ckpt: Path, action: str) -> None:
    out = tmp_path / action
    code, stdout, err = run(capsys, "compress", *ACTIONS[action], str(ckpt), "--out", str(out),
                            "--test-limit", TEST_LIMIT)
    assert code == 0, err
    for label in ("parameters", "non-zero parameters", "bytes on disk", "MACs per image",
                  "test accuracy"):
        assert re.search(rf"^{label}\s", stdout, re.M), stdout
    record = json.loads((out / "compress.json").read_text())
    after, before = record["after"], record["before"]
    model_file = out / "model.safetensors"
    # the bytes printed are the bytes written
    assert after["bytes"] == os.path.getsize(model_file)
    # the accuracy printed is the one `numcnn eval` measures on the file just written
    code, ev, err = run(capsys, "eval", str(model_file), "--limit", TEST_LIMIT)
    assert code == 0, err
    assert _accuracy_of_eval(ev) == pytest.approx(after["accuracy"], abs=5e-5)
    code, ev0, _ = run(capsys, "eval", str(ckpt), "--limit", TEST_LIMIT)
    assert _accuracy_of_eval(ev0) == pytest.approx(before["accuracy"], abs=5e-5)
    # summary of the compressed checkpoint counts the MACs printed
    code, sm, err = run(capsys, "summary", str(model_file))
    assert code == 0, err
    macs = int(re.search(r"MACs: ([0-9,]+)", sm).group(1).replace(",", ""))  # type: ignore
    assert macs == after["macs"]
    # predict answers for an image
    img = tmp_path / "img.npy"
    np.save(img, np.random.default_rng(0).random((28, 28)).astype(np.float32))
    code, pr, err = run(capsys, "predict", str(model_file), str(img))
    assert code == 0 and pr.startswith(str(img)), err
    # the model loaded from disk is the compressed kind, and numcnn.load_into refuses it
    model, _ = load_run(model_file)
    assert C.method_of(model) == record["method"]
    with pytest.raises(ValueError, match="compressed"):
        numcnn.io.load_into(load_run(ckpt)[0], model_file)


def _weights(model: numcnn.nn.Module) -> list[np.ndarray]:
    return [m.weight.array for m in model.modules()
            if isinstance(m, (numcnn.nn.Conv2d, numcnn.nn.Linear))]


def test_sparsity_and_channels_are_what_was_asked(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path, ckpt: Path) -> None:
    code, _, err = run(capsys, "compress", "prune", "--sparsity", "0.8", "--steps", "2",
                       "--epochs", "0", str(ckpt), "--out", str(tmp_path / "s"),
                       "--test-limit", "10")
    assert code == 0, err
    model, _ = load_run(tmp_path / "s" / "model.safetensors")
    w = np.concatenate([a.ravel() for a in _weights(model)])
    assert np.count_nonzero(w == 0) == round(0.8 * w.size)
    record = json.loads((tmp_path / "s" / "compress.json").read_text())
    assert record["after"]["bytes"] < 0.5 * record["before"]["bytes"]
    # dense MACs stay, those with a non-zero weight drop
    assert record["before"]["nonzero_macs"] == record["before"]["macs"]
    assert record["after"]["macs"] == record["before"]["macs"]
    # LeNet-5: each weight of C1 is used at 28x28 output positions, of C3 at 10x10, of a
    # Linear layer once; a zero weight saves those multiply-adds
    rows = {"features.0": 28 * 28, "features.3": 10 * 10, "classifier.1": 1,
            "classifier.3": 1, "classifier.5": 1}
    layers = dict(model.named_modules())
    saved = sum(n * int(np.count_nonzero(layers[name].weight.array == 0))
                for name, n in rows.items())
    assert record["after"]["nonzero_macs"] == record["after"]["macs"] - saved

    code, _, err = run(capsys, "compress", "channels", "--amount", "0.5", "--epochs", "0",
                       str(ckpt), "--out", str(tmp_path / "c"), "--test-limit", "10")
    assert code == 0, err
    record = json.loads((tmp_path / "c" / "compress.json").read_text())
    assert record["after"]["macs"] < 0.6 * record["before"]["macs"]
    assert record["after"]["parameters"] < record["before"]["parameters"]


@pytest.mark.parametrize("argv", [["int8", "--calibration", "32"],
                                  ["binarize", "--epochs", "0"]])
def test_int8_and_binary_are_smaller_on_disk(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path, ckpt: Path, argv: list[str]
                                             ) -> None:
    code, _, err = run(capsys, "compress", *argv, str(ckpt), "--out", str(tmp_path / "o"),
                       "--test-limit", "10")
    assert code == 0, err
    record = json.loads((tmp_path / "o" / "compress.json").read_text())
    assert record["after"]["bytes"] < record["before"]["bytes"] / 2.5, record


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                             ckpt: Path) -> None:
    code, _, err = run(capsys, "compress", "channels", "--amount", "1.0", str(ckpt), "--out",
                       str(tmp_path / "x"))
    assert code == 2 and "[0, 1)" in _one_line(err)
    code, _, err = run(capsys, "compress", "prune", "--sparsity", "-0.1", str(ckpt), "--out",
                       str(tmp_path / "x"))
    assert code == 2 and "[0, 1)" in _one_line(err)
    code, _, err = run(capsys, "compress", "channels", str(ckpt), "--amount", "0.3",
                       "--ignore", "nosuch", "--out", str(tmp_path / "x"), "--test-limit", "10")
    assert code == 1 and "nosuch" in _one_line(err)
    code, _, err = run(capsys, "compress", "int8", str(tmp_path / "missing.safetensors"),
                       "--out", str(tmp_path / "x"))
    assert code == 1 and "not found" in _one_line(err)
    assert not (tmp_path / "x").exists()
    # compressing a compressed checkpoint
    assert run(capsys, "compress", "int8", "--calibration", "32", str(ckpt), "--out",
               str(tmp_path / "q"), "--test-limit", "10")[0] == 0
    code, _, err = run(capsys, "compress", "int8", str(tmp_path / "q" / "model.safetensors"),
                       "--out", str(tmp_path / "x"))
    assert code == 1 and "already compressed" in _one_line(err)


def test_int8_of_a_residual_network_names_what_it_cannot_quantise(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    run_dir = train_synthetic(tmp_path / "res", "resnet20", limit=64, batch_size=64)
    code, _, err = run(capsys, "compress", "int8", "--calibration", "16",
                       str(run_dir / "best.safetensors"), "--out", str(tmp_path / "q"),
                       "--test-limit", "10")
    line = _one_line(err)
    assert code == 1 and "layer1" in line, line
    assert not (tmp_path / "q" / "model.safetensors").exists()


def test_inq_keep_first_leaves_the_first_layer_float(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path, ckpt: Path) -> None:
    code, _, err = run(capsys, "compress", "inq", "--bits", "4", "--keep-first", "--epochs", "0",
                       str(ckpt), "--out", str(tmp_path / "i"), "--test-limit", "10")
    assert code == 0, err
    before, _ = load_run(ckpt)
    after, _ = load_run(tmp_path / "i" / "model.safetensors")
    first, *rest = _weights(after)
    np.testing.assert_array_equal(first, _weights(before)[0])
    for w in rest:                      # 0 or +-2^n with at most 2^(4-1)/2 = 4 exponents
        nz = np.abs(w[w != 0]).astype(np.float64)
        exponents = np.log2(nz)
        np.testing.assert_array_equal(exponents, np.round(exponents))
        assert len(np.unique(exponents)) <= 4
