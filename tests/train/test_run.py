"""numcnn.train.run: reading back a run written by `numcnn train` (checkpoint, model, data,
image files), called directly from Python.

One tiny run (lenet5, 200 synthetic images, one epoch) is trained in-process for the module.
Oracles: PyTorch's functional ops on the weights read with safetensors itself, the "test:" line
the run printed, SyntheticShapes' raw arrays, and files written here byte by byte.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from safetensors.numpy import load_file

import numcnn
from numcnn.data import DataLoader, SyntheticShapes
from numcnn.train import cli
from numcnn.train import run as R
from numcnn.train.trainer import evaluate


@pytest.fixture(scope="module")
def lenet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The run directory of lenet5 trained 1 epoch on 200 synthetic images, and its stdout."""
    out = tmp_path_factory.mktemp("run") / "lenet"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = cli.main(["train", "--data", "synthetic", "--model", "lenet5", "--limit", "200",
                         "--epochs", "1", "--out", str(out)])
    assert code == 0
    return out, printed.getvalue()


def torch_lenet5(weights: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """LeNet-5 as printed by numcnn (conv5 pad 2, relu, pool2, conv5, relu, pool2, 3 linear)."""
    w = {k.removeprefix("model/"): torch.from_numpy(v.astype(np.float64))
         for k, v in weights.items() if k.startswith("model/")}
    h = torch.from_numpy(x.astype(np.float64))
    h = TF.max_pool2d(TF.relu(TF.conv2d(h, w["features.0.weight"], w["features.0.bias"],
                                        padding=2)), 2)
    h = TF.max_pool2d(TF.relu(TF.conv2d(h, w["features.3.weight"], w["features.3.bias"])), 2)
    h = h.flatten(1)
    h = TF.relu(TF.linear(h, w["classifier.1.weight"], w["classifier.1.bias"]))
    h = TF.relu(TF.linear(h, w["classifier.3.weight"], w["classifier.3.bias"]))
    return TF.linear(h, w["classifier.5.weight"], w["classifier.5.bias"]).numpy()


# ----------------------------------------------------------------------------- checkpoints
def test_read_checkpoint_and_model_from_match_torch_on_the_saved_weights(
        lenet: tuple[Path, str]) -> None:
    run_dir, _ = lenet
    path = run_dir / "last.safetensors"
    ckpt = R.read_checkpoint(path)
    assert ckpt["run"]["model"] == "lenet5" and ckpt["run"]["limit"] == 200
    model, config = R.model_from(ckpt)
    assert config is ckpt["run"] and not model.training
    x = np.random.default_rng(0).standard_normal((4, 1, 28, 28)).astype(np.float32)
    with numcnn.no_grad():
        got = model(numcnn.Tensor(x)).array
    np.testing.assert_allclose(got, torch_lenet5(load_file(str(path)), x), rtol=1e-4, atol=1e-5)
    model2, config2 = R.load_run(str(path))
    with numcnn.no_grad():
        np.testing.assert_array_equal(model2(numcnn.Tensor(x)).array, got)
    assert config2 == config


def test_the_test_split_gives_the_loss_and_accuracy_the_run_printed(
        lenet: tuple[Path, str]) -> None:
    run_dir, printed = lenet
    model, config = R.load_run(run_dir / "last.safetensors")
    match = re.search(r"test: loss (\S+)  accuracy (\S+) \((\d+) images\)", printed)
    assert match is not None, printed
    test = R.first_n(R.load_test_set(config), config["limit"])
    r = evaluate(model, DataLoader(test, batch_size=64), num_classes=len(config["classes"]))
    assert r.num_samples == int(match[3]) == 200
    assert f"{r.loss:.4f}" == match[1] and f"{r.accuracy:.4f}" == match[2]


def test_checkpoint_errors(lenet: tuple[Path, str], tmp_path: Path) -> None:
    with pytest.raises(R.RunError, match=r"^checkpoint not found: .*nope\.safetensors$"):
        R.read_checkpoint(tmp_path / "nope.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(R.RunError, match=r"^cannot read checkpoint .*junk\.safetensors: "):
        R.read_checkpoint(junk)
    plain = tmp_path / "plain.safetensors"
    numcnn.save({"w": np.zeros(3, np.float32)}, plain)
    with pytest.raises(R.RunError, match="is not a checkpoint written by 'numcnn train'"):
        R.read_checkpoint(plain)
    ckpt = R.read_checkpoint(lenet[0] / "best.safetensors")
    ckpt["run"] = {**ckpt["run"], "model": "alexnet-9000"}
    with pytest.raises(R.RunError, match=r"model 'alexnet-9000' is unknown; known: .*lenet5"):
        R.model_from(ckpt)


def test_cli_error_is_run_error() -> None:
    assert cli.CLIError is R.RunError


# ----------------------------------------------------------------------------- data
def test_pick_images_undoes_the_normalisation_to_the_dataset_pixels(
        lenet: tuple[Path, str]) -> None:
    _, config = R.load_run(lenet[0] / "best.safetensors")
    test = R.load_test_set(config)
    raw = SyntheticShapes(n=R.SYNTHETIC_TEST, size=28, seed=config["seed"] + 1)  # the oracle
    assert len(test) == R.SYNTHETIC_TEST
    idx = [0, 7, 999]
    x, pixels, labels = R.pick_images(test, config, idx)
    mean, std = config["mean"][0], config["std"][0]
    np.testing.assert_allclose(x.array, (raw.data[idx].astype(np.float64) - mean) / std,
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(pixels, np.clip(raw.data[idx], 0, 1), rtol=1e-4, atol=1e-5)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, np.asarray(raw.targets)[idx])


def test_load_split_synthetic_sizes_and_seed() -> None:
    config = {"data": "synthetic", "seed": 3, "limit": 50}
    train = R.load_split(config, True)
    assert len(train) == 50
    np.testing.assert_array_equal(train.data, SyntheticShapes(n=50, size=28, seed=3).data)
    assert len(R.load_split({**config, "limit": None}, True)) == R.SYNTHETIC_TRAIN
    assert len(R.load_split(config, False)) == R.SYNTHETIC_TEST
    with pytest.raises(R.RunError, match=r"dataset 'cifar' is unknown; known: fashion-mnist"):
        R.load_split({**config, "data": "cifar"}, False)


def test_pipeline_normalises_and_checks_the_name() -> None:
    raw = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    out = R.pipeline("mnist", [0.5], [0.25]).batch(raw)
    got = out.array if isinstance(out, numcnn.Tensor) else np.asarray(out)
    np.testing.assert_allclose(got, (raw[:, None] / 255.0 - 0.5) / 0.25, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match=r"unknown dataset 'svhn'; expected one of"):
        R.pipeline("svhn", [0.5], [0.25])


def test_first_n() -> None:
    ds = SyntheticShapes(n=10, size=28, seed=0)
    assert R.first_n(ds, None) is ds and R.first_n(ds, 10) is ds and R.first_n(ds, 99) is ds
    head = R.first_n(ds, 3)
    assert len(head) == 3
    np.testing.assert_array_equal(np.asarray(head[2][0]), np.asarray(ds[2][0]))
    with pytest.raises(ValueError, match="n must be None or an integer >= 0, got -1"):
        R.first_n(ds, -1)


def test_load_test_set_checks_the_class_count(lenet: tuple[Path, str]) -> None:
    _, config = R.load_run(lenet[0] / "best.safetensors")
    with pytest.raises(R.RunError, match="the model has 3 classes, synthetic has 5"):
        R.load_test_set({**config, "classes": ["a", "b", "c"]})


# ----------------------------------------------------------------------------- image files
def test_read_pgm_binary_plain_and_16_bit(tmp_path: Path) -> None:
    img = np.array([[0, 51, 255], [128, 7, 9]], np.uint8)
    (tmp_path / "a.pgm").write_bytes(b"P5\n# comment\n3 2\n255\n" + img.tobytes())
    np.testing.assert_allclose(R.read_pgm(str(tmp_path / "a.pgm")), img / 255.0, rtol=1e-6)
    (tmp_path / "b.pgm").write_text("P2 3 2 255\n0 51 255\n128 7 9\n")
    np.testing.assert_allclose(R.read_pgm(str(tmp_path / "b.pgm")), img / 255.0, rtol=1e-6)
    wide = np.array([[0, 1000], [65534, 300]], ">u2")
    (tmp_path / "c.pgm").write_bytes(b"P5 2 2 65535\n" + wide.tobytes())
    np.testing.assert_allclose(R.read_pgm(str(tmp_path / "c.pgm")),
                               wide.astype(np.float64) / 65535, rtol=1e-6)
    (tmp_path / "d.pgm").write_bytes(b"P6 2 2 255\n" + bytes(12))
    with pytest.raises(R.RunError, match=r"not a PGM file \(magic b'P6', expected P5 or P2\)"):
        R.read_pgm(str(tmp_path / "d.pgm"))
    (tmp_path / "e.pgm").write_bytes(b"P5 3 2 255\n" + bytes(4))
    with pytest.raises(R.RunError, match="truncated PGM data"):
        R.read_pgm(str(tmp_path / "e.pgm"))


def test_read_image_converts_layout_scale_and_channels(tmp_path: Path) -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (5, 6, 3), dtype=np.uint8)   # (H, W, C)
    np.save(tmp_path / "rgb.npy", rgb)
    chw = rgb.transpose(2, 0, 1) / 255.0
    np.testing.assert_allclose(R.read_image(str(tmp_path / "rgb.npy"), 3), chw, rtol=1e-6)
    luma = 0.299 * chw[0] + 0.587 * chw[1] + 0.114 * chw[2]                    # ITU-R 601
    np.testing.assert_allclose(R.read_image(str(tmp_path / "rgb.npy"), 1), luma[None],
                               rtol=1e-5, atol=1e-6)
    grey = np.linspace(0, 1, 20, dtype=np.float32).reshape(4, 5)
    np.save(tmp_path / "grey.npy", grey)
    got = R.read_image(str(tmp_path / "grey.npy"), 3)
    assert got.shape == (3, 4, 5) and got.dtype == np.float32
    for c in range(3):
        np.testing.assert_array_equal(got[c], grey)
    np.save(tmp_path / "two.npy", np.zeros((2, 4, 5), np.float32))
    with pytest.raises(R.RunError, match="two.npy: 2 channels, the model takes 1"):
        R.read_image(str(tmp_path / "two.npy"), 1)
    with pytest.raises(R.RunError, match=r"^image not found: .*missing\.npy$"):
        R.read_image(str(tmp_path / "missing.npy"), 1)


def test_model_input_normalises_and_resizes(lenet: tuple[Path, str], tmp_path: Path) -> None:
    _, config = R.load_run(lenet[0] / "best.safetensors")
    img = np.random.default_rng(2).random((28, 28)).astype(np.float32)
    np.save(tmp_path / "img.npy", img)
    pixels, x = R.model_input(str(tmp_path / "img.npy"), config)
    np.testing.assert_array_equal(pixels, img[None, None])
    mean, std = config["mean"][0], config["std"][0]
    np.testing.assert_allclose(x.array, (img[None, None].astype(np.float64) - mean) / std,
                               rtol=1e-4, atol=1e-5)
    np.save(tmp_path / "small.npy", np.full((14, 14), 0.25, np.float32))
    pixels, x = R.model_input(str(tmp_path / "small.npy"), config)
    assert pixels.shape == x.shape == (1, 1, 28, 28)
    np.testing.assert_allclose(pixels, 0.25, rtol=1e-6)      # a constant image stays constant


def test_input_shape_is_channels_and_the_square_image_size() -> None:
    from numcnn.train.run import input_shape

    config = {"model_args": {"in_channels": 3, "num_classes": 10, "image_size": 32}}
    assert input_shape(config) == (3, 32, 32)
