"""`numcnn viz METHOD CHECKPOINT [IMAGE]`: every method on a tiny synthetic lenet5 run, from a
.npy, a .pgm and --test-index; the PNG written and decodable; the one-line errors.

The pictures' values are tested with the library (tests/viz/); here the oracles are the
dataset itself (SyntheticShapes rebuilt from the run's seed), `numcnn predict` on the same
pixels, and the model's layer types.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from tests.helpers import run_cli as run
from tests.helpers import train_synthetic

from numcnn.data import SyntheticShapes
from numcnn.train.cli import main

IMAGE_METHODS = ("feature-maps", "grad-cam", "saliency", "occlusion")




@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("vizcli") / "run"
    return train_synthetic(out, batch_size=64) / "best.safetensors"


def _test_image(i: int) -> tuple[np.ndarray, int]:
    """Image i of the run's test split, rebuilt: SyntheticShapes(1000, seed 0 + 1)."""
    ds = SyntheticShapes(n=1000, size=28, seed=1)
    return np.asarray(ds.data[i], np.float32), int(ds.targets[i])


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same 8-bit pixels as a uint8 .npy and a binary .pgm, and test image 5 as float
    .npy."""
    d = tmp_path_factory.mktemp("images")
    pixels, _ = _test_image(5)
    u8 = np.round(np.clip(pixels.reshape(28, 28), 0, 1) * 255).astype(np.uint8)
    np.save(d / "u8.npy", u8)
    (d / "u8.pgm").write_bytes(b"P5\n# a comment\n28 28\n255\n" + u8.tobytes())
    np.save(d / "test5.npy", pixels)
    return {"npy": d / "u8.npy", "pgm": d / "u8.pgm", "test5": d / "test5.npy"}


def _decoded(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        assert img.format == "PNG"
        return np.asarray(img.convert("RGB"), dtype=np.float64)


def _check_png(path: Path) -> None:
    img = _decoded(path)
    assert img.shape[0] > 40 and img.shape[1] > 40
    assert img.std() > 1                                       # not blank
    assert not [p for p in os.listdir(path.parent) if p.endswith(".tmp")]


# ----------------------------------------------------------------------------- success
@pytest.mark.parametrize("method", IMAGE_METHODS)
@pytest.mark.parametrize("source", ["npy", "pgm", "test-index"])
def test_image_methods_write_a_png(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                   ckpt: Path, images: dict[str, Path], method: str,
                                   source: str) -> None:
    out = tmp_path / f"{method}.png"
    given = ["--test-index", "5"] if source == "test-index" else [str(images[source])]
    code, stdout, err = run(capsys, "viz", method, str(ckpt), *given, "--out", str(out))
    assert (code, err) == (0, "")
    lines = stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"wrote {out}: {method} ")
    _check_png(out)
    if source == "test-index":
        classes = ["circle", "square", "triangle", "cross", "ring"]
        assert f"true class {classes[_test_image(5)[1]]!r}" in lines[0]


def test_feature_maps_default_layers_are_the_conv_and_pool_layers(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, ckpt: Path,
        images: dict[str, Path]) -> None:
    from numcnn.train.models import MODELS

    expected = [n for n, m in MODELS["lenet5"]().named_modules()
                if type(m).__name__ in ("Conv2d", "MaxPool2d")]
    _, out, _ = run(capsys, "viz", "feature-maps", str(ckpt), str(images["npy"]), "--out",
                    str(tmp_path / "f.png"))
    assert f"of {len(expected)} layer(s) ({', '.join(expected)})" in out
    _, out, _ = run(capsys, "viz", "feature-maps", str(ckpt), str(images["npy"]), "--layer",
                    "features.3", "--layer", "features.1", "--out", str(tmp_path / "g.png"))
    assert "of 2 layer(s) (features.1, features.3)" in out      # in the order they run


def test_pgm_npy_and_test_index_give_predict_s_answer(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, ckpt: Path,
        images: dict[str, Path]) -> None:
    def predicted(line: str) -> str:
        found = re.search(r"predicted ('\w+' \(\d\.\d{3}\))", line)
        assert found is not None, line
        return found.group(1)

    png = str(tmp_path / "x.png")
    _, a, _ = run(capsys, "viz", "saliency", str(ckpt), str(images["npy"]), "--out", png)
    _, b, _ = run(capsys, "viz", "saliency", str(ckpt), str(images["pgm"]), "--out", png)
    assert predicted(a) == predicted(b)                # the same 8-bit pixels, two formats
    _, c, _ = run(capsys, "viz", "grad-cam", str(ckpt), "--test-index", "5", "--out", png)
    _, d, _ = run(capsys, "viz", "grad-cam", str(ckpt), str(images["test5"]), "--out", png)
    assert predicted(c) == predicted(d)                # un-normalised and read back: same input
    _, p, _ = run(capsys, "predict", str(ckpt), str(images["test5"]))
    name, prob = re.fullmatch(r".*: (\w+) (\d\.\d{4})\n", p).groups()  # type: ignore[union-attr]
    assert predicted(d) == f"{name!r} ({float(prob):.3f})"


def test_target_names_the_class_explained(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path, ckpt: Path) -> None:
    out0, out3 = tmp_path / "t0.png", tmp_path / "t3.png"
    _, a, _ = run(capsys, "viz", "grad-cam", str(ckpt), "--test-index", "2", "--target", "0",
                  "--out", str(out0))
    _, b, _ = run(capsys, "viz", "occlusion", str(ckpt), "--test-index", "2", "--target", "3",
                  "--window", "6", "--stride", "3", "--out", str(out3))
    assert "for class 'circle'" in a and "for class 'cross'" in b
    _check_png(out0)
    _check_png(out3)
    code, c, _ = run(capsys, "viz", "grad-cam", str(ckpt), "--test-index", "2", "--plus-plus",
                     "--layer", "features.0", "--out", str(out0))
    assert code == 0 and "of layer 'features.0' for class " in c and "(Grad-CAM++)" in c
    _check_png(out0)


def test_filters_and_max_activation(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                    ckpt: Path) -> None:
    out = tmp_path / "filters.png"
    code, stdout, _ = run(capsys, "viz", "filters", str(ckpt), "--out", str(out))
    # lenet5's first conv: 6 output channels of 1 input channel -> 6 tiles
    assert code == 0 and "of layer 'features.0' (6 tiles, mode auto)" in stdout
    _check_png(out)
    code, stdout, _ = run(capsys, "viz", "filters", str(ckpt), "--layer", "features.3",
                          "--mode", "mean", "--out", str(out))
    assert code == 0 and "of layer 'features.3' (16 tiles, mode mean)" in stdout
    out = tmp_path / "max.png"
    code, stdout, _ = run(capsys, "viz", "max-activation", str(ckpt), "--channel", "0", "4",
                          "--steps", "5", "--out", str(out))
    assert code == 0 and re.search(r"of layer 'features.3', channel\(s\) 0: \S+, 4: \S+",
                                   stdout)
    _check_png(out)


def test_out_is_replaced_atomically(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                    ckpt: Path) -> None:
    out = tmp_path / "f.png"
    out.write_bytes(b"old")
    assert run(capsys, "viz", "filters", str(ckpt), "--out", str(out))[0] == 0
    _check_png(out)
    assert os.listdir(tmp_path) == ["f.png"]


# ----------------------------------------------------------------------------- errors
def _one_line_error(err: str, command: str = "viz") -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"numcnn {command}: error: "), err
    return lines[0]


def test_bad_layer_lists_the_layers(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                    ckpt: Path, images: dict[str, Path]) -> None:
    code, out, err = run(capsys, "viz", "grad-cam", str(ckpt), str(images["pgm"]), "--layer",
                         "nope", "--out", str(tmp_path / "x.png"))
    line = _one_line_error(err)
    assert code == 1 and out == ""
    assert "no layer 'nope' in LeNet5; layers: features, features.0, features.1" in line
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("args, message", [
    (["grad-cam", "{ckpt}", "missing.pgm"], "image not found: missing.pgm"),
    (["saliency", "{ckpt}"], "give either an IMAGE file or --test-index I"),
    (["saliency", "{ckpt}", "{pgm}", "--test-index", "1"], "not both or neither"),
    (["grad-cam", "{ckpt}", "--test-index", "1000"],
     "--test-index 1000 is out of range: the test split has 1000 images (0..999)"),
    (["grad-cam", "{ckpt}", "{pgm}", "--target", "5"],
     "target 5 is out of range: the model has 5 classes (0..4)"),
    (["occlusion", "{ckpt}", "{pgm}", "--target", "7"], "target 7 is out of range"),
    (["filters", "{ckpt}", "--out", "{tmp}/x.jpg"], "--out must be a .png file"),
    (["filters", "{ckpt}", "--out", "{tmp}/no/x.png"], "the folder of --out does not exist"),
    (["filters", "{tmp}/none.safetensors"], "checkpoint not found"),
    (["max-activation", "{ckpt}", "--layer", "classifier.9"], "no layer 'classifier.9'"),
])
def test_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path, ckpt: Path,
                             images: dict[str, Path], args: list[str], message: str) -> None:
    argv = [a.format(ckpt=ckpt, pgm=images["pgm"], tmp=tmp_path) for a in args]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "x.png")]
    code, out, err = run(capsys, "viz", *argv)
    assert code == 1 and out == ""
    assert message in _one_line_error(err)
    assert [p for p in os.listdir(tmp_path)] == []


def test_model_without_conv_needs_a_layer(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    run_dir = tmp_path / "mlp"
    assert main(["train", "--data", "synthetic", "--model", "mlp", "--limit", "64",
                 "--epochs", "1", "--out", str(run_dir)]) == 0
    code, _, err = run(capsys, "viz", "filters", str(run_dir / "last.safetensors"), "--out",
                       str(tmp_path / "x.png"))
    assert code == 1
    assert "MLP has no convolution layer; give --layer NAME (layers: classifier, " \
        in _one_line_error(err)


def test_usage_errors_and_help(capsys: pytest.CaptureFixture[str], ckpt: Path) -> None:
    code, _, err = run(capsys, "viz", "deconv", str(ckpt), "--out", "x.png")
    assert code == 2 and "invalid choice: 'deconv'" in err
    code, _, err = run(capsys, "viz", "filters", str(ckpt))
    assert code == 2 and "--out" in err
    code, out, _ = run(capsys, "viz", "--help")
    assert code == 0
    for method in IMAGE_METHODS + ("filters", "max-activation"):
        assert method in out
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "viz" in out and "report" in out


@pytest.mark.parametrize("method", ["grad-cam", "saliency", "occlusion"])
def test_several_test_indices_one_picture_each(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                           ckpt: Path, method: str) -> None:
    one, several = tmp_path / "one.png", tmp_path / "several.png"
    singles = []
    for i in (3, 7, 11):
        _, out, _ = run(capsys, "viz", method, str(ckpt), "--test-index", str(i),
                        "--out", str(one))
        singles.append(re.search(r"(test image \d+: predicted [^;]*?true class '\w+')", out))
    code, out, _ = run(capsys, "viz", method, str(ckpt), "--test-index", "3", "7", "11",
                       "--out", str(several))
    assert code == 0
    for i, single in zip((3, 7, 11), singles):
        assert single is not None
        assert single.group(1) in out                   # same answer as alone, in the same line
        assert f"test image {i}: predicted" in single.group(1)
    area_one, area_several = _decoded(one).shape[0] * _decoded(one).shape[1], \
        _decoded(several).shape[0] * _decoded(several).shape[1]
    assert area_several > 2 * area_one                   # three pictures, not one
