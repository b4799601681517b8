"""`numcnn train --data imagefolder / cifar10` and `--pca-lighting`, end to end on tiny data
written here: PNG folders of coloured shapes (Pillow), a CIFAR-10 binary archive built byte by
byte (tests/data/test_cifar.py's writer).

Oracles: the files written (which image went where: every fifth of each class for testing),
the pixels read back with Pillow and preprocessed by torch (antialiased bilinear resize, centre
crop, ImageNet normalisation), and the eigen-decomposition of np.cov of all the training pixels
(the runs have few enough pixels that pca_eigen takes them all).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.data.test_cifar import C10_CLASSES, cifar_files, write_archive
from tests.helpers import run_cli as run

torch = pytest.importorskip("torch")
PIL = pytest.importorskip("PIL")

from PIL import Image  # noqa: E402
from tests.models.test_weights import torch_preset  # noqa: E402

import numcnn  # noqa: E402
from numcnn.data import CIFAR10  # noqa: E402
from numcnn.data import transforms as T  # noqa: E402
from numcnn.train.run import load_run, load_split, load_test_set, run_pipeline  # noqa: E402

FMNIST = Path("/usr/share/datasets/fashion-mnist")
IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
SHAPES = {"circle": (220, 40, 40), "square": (40, 200, 60), "triangle": (50, 60, 230)}


def shape_image(kind: str, colour: tuple[int, int, int], k: int) -> np.ndarray:
    """A 40x30 (W x H) RGB image: a coloured shape on a noisy grey ground, shifted by k."""
    rng = np.random.default_rng(1000 + 37 * k + len(kind))
    img = rng.integers(90, 140, (30, 40, 3)).astype(np.uint8)
    yy, xx = np.mgrid[:30, :40]
    cy, cx = 12 + k % 6, 14 + k % 11
    if kind == "circle":
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= 64
    elif kind == "square":
        mask = (abs(yy - cy) <= 7) & (abs(xx - cx) <= 7)
    else:
        mask = (yy >= cy - 7) & (yy <= cy + 7) & (abs(xx - cx) <= (yy - cy + 7) / 2)
    img[mask] = colour
    return img


def write_images(folder: Path, per_class: int, start: int = 0) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for kind, colour in SHAPES.items():
        (folder / kind).mkdir(parents=True, exist_ok=True)
        out[kind] = []
        for k in range(start, start + per_class):
            path = folder / kind / f"{kind}_{k:02d}.png"
            Image.fromarray(shape_image(kind, colour, k)).save(path)
            out[kind].append(path)
    return out


def read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def eigen_oracle(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Descending eigenvalues and eigenvectors (columns) of the 3x3 covariance of (M, 3)
    [0, 1] pixels."""
    val, vec = np.linalg.eigh(np.cov(pixels, rowvar=False))
    order = np.argsort(val)[::-1]
    return val[order], vec[:, order]


def assert_same_eigen(config: dict[str, Any], pixels: np.ndarray) -> None:
    val, vec = eigen_oracle(pixels)
    got_val = np.asarray(config["pca_lighting"]["eigval"])
    got_vec = np.asarray(config["pca_lighting"]["eigvec"])
    np.testing.assert_allclose(got_val, val, rtol=1e-9, atol=1e-15)
    for k in range(3):                      # an eigenvector's sign is free
        sign = np.sign(got_vec[:, k] @ vec[:, k])
        np.testing.assert_allclose(got_vec[:, k], sign * vec[:, k], rtol=1e-7, atol=1e-9)
    assert config["pca_lighting"]["alphastd"] == 0.1


@pytest.fixture(autouse=True)
def no_outside_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NUMCNN_DATA", raising=False)
    monkeypatch.delenv("NUMCNN_MIRROR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


# ----------------------------------------------------------------------------- image folders
def test_imagefolder_train_and_test_folders(tmp_path: Path, capsys: Any) -> None:
    root = tmp_path / "photos"
    train = write_images(root / "train", 8)
    test = write_images(root / "test", 4, start=8)
    code, out, err = run(capsys, "train", "--data", "imagefolder", "--root", str(root),
                         "--model", "lenet5", "--image-size", "32", "--epochs", "1",
                         "--batch-size", "8", "--augment", "--pca-lighting", "0.1",
                         "--out", str(tmp_path / "run"))
    assert code == 0, err
    assert "on imagefolder at 3x32x32: 24 training images" in out
    assert "(12 images)" in out
    _, config = load_run(tmp_path / "run" / "last.safetensors")
    assert config["classes"] == sorted(SHAPES)
    assert (config["mean"], config["std"]) == IMAGENET
    assert config["root"] == str(root)
    # PCA lighting: the eigen-decomposition of all the training pixels
    pixels = np.concatenate([read_rgb(p).reshape(-1, 3) for ps in train.values() for p in ps])
    assert_same_eigen(config, pixels.astype(np.float64) / 255)
    aug = run_pipeline(config, augment=True)
    lighting = [t for t in aug.transforms if isinstance(t, T.PCALighting)]
    assert len(lighting) == 1
    assert not any(isinstance(t, T.PCALighting) for t in run_pipeline(config).transforms)

    # the test images as the run evaluates them: torchvision's resize-and-crop, from torch
    test_set = load_test_set(config)
    assert [Path(p) for p, _ in test_set.samples] == [p for k in sorted(SHAPES) for p in test[k]]
    x = np.stack([np.asarray(test_set[i][0].numpy()) for i in range(12)])
    raw = np.stack([read_rgb(p) for k in sorted(SHAPES) for p in test[k]])
    want = torch_preset(torch.from_numpy(raw.transpose(0, 3, 1, 2).astype(np.float64) / 255),
                        round(32 * 256 / 224), 32, *IMAGENET).numpy()
    assert x.shape == (12, 3, 32, 32)
    np.testing.assert_allclose(x, want, rtol=1e-4, atol=1e-4 / 0.224)


def test_imagefolder_flat_split_every_fifth(tmp_path: Path, capsys: Any) -> None:
    root = tmp_path / "flat"
    files = write_images(root, 12)
    config = {"data": "imagefolder", "seed": 0}
    train = load_split(config, True, str(root))
    test = load_split(config, False, str(root))
    for c, kind in enumerate(sorted(SHAPES)):
        paths = sorted(files[kind])
        want_test = [paths[i] for i in range(12) if i % 5 == 4]          # 5th and 10th
        assert [Path(p) for p, t in test.samples if t == c] == want_test
        assert [Path(p) for p, t in train.samples if t == c] == \
            [p for p in paths if p not in want_test]
    assert not {p for p, _ in train.samples} & {p for p, _ in test.samples}
    assert len(train) == 30 and len(test) == 6

    code, out, err = run(capsys, "train", "--data", "imagefolder", "--root", str(root),
                         "--model", "lenet5", "--image-size", "32", "--epochs", "1",
                         "--batch-size", "10", "--out", str(tmp_path / "run"))
    assert code == 0, err
    assert "on imagefolder at 3x32x32: 30 training images" in out
    assert "(6 images)" in out
    code, out, err = run(capsys, "eval", str(tmp_path / "run" / "last.safetensors"))
    assert code == 0, err
    for kind in SHAPES:                     # each class has its 2 test images
        assert f"({2} images)" in next(line for line in out.splitlines()
                                       if line.strip().startswith(kind) and "images" in line)


def test_imagefolder_errors(tmp_path: Path, capsys: Any) -> None:
    code, _, err = run(capsys, "train", "--data", "imagefolder", "--model", "lenet5",
                       "--epochs", "1", "--out", str(tmp_path / "r"))
    assert code == 1 and err.count("\n") == 1 and "--root" in err, err
    write_images(tmp_path / "half" / "train", 2)
    code, _, err = run(capsys, "train", "--data", "imagefolder", "--root",
                       str(tmp_path / "half"), "--model", "lenet5", "--epochs", "1",
                       "--out", str(tmp_path / "r"))
    assert code == 1 and err.count("\n") == 1 and "neither test/ nor val/" in err, err


# ----------------------------------------------------------------------------- CIFAR-10
def test_cifar10_archive_with_pca_lighting(tmp_path: Path, capsys: Any) -> None:
    files, train, test = cifar_files(seed=4)
    write_archive(tmp_path / "c10", CIFAR10, files)
    code, out, err = run(capsys, "train", "--data", "cifar10", "--root", str(tmp_path / "c10"),
                         "--model", "lenet5", "--epochs", "1", "--batch-size", "5", "--augment",
                         "--pca-lighting", "0.1", "--out", str(tmp_path / "run"))
    assert code == 0, err
    n_train, n_test = len(train["images"]), len(test["images"])
    assert f"on cifar10 at 3x32x32: {n_train} training images" in out
    assert f"({n_test} images)" in out
    _, config = load_run(tmp_path / "run" / "last.safetensors")
    assert config["classes"] == C10_CLASSES
    assert config["mean"] == [0.4914, 0.4822, 0.4465]
    assert_same_eigen(config, train["images"].reshape(-1, 3).astype(np.float64) / 255)
    # the test split the run evaluates: the archive's test records, CIFAR-normalised
    test_set = load_test_set(config, root=str(tmp_path / "c10"))
    x = np.asarray(test_set.get_batch(np.arange(n_test))[0].numpy())
    mean = np.array(config["mean"]).reshape(1, 3, 1, 1)
    std = np.array(config["std"]).reshape(1, 3, 1, 1)
    want = (test["images"].transpose(0, 3, 1, 2) / 255 - mean) / std
    np.testing.assert_allclose(x, want, rtol=1e-5, atol=1e-5)


def test_cifar10_run_remembers_its_root(tmp_path: Path, capsys: Any) -> None:
    """--resume keeps the run's settings, the data's --root among them (the config records
    it), and `numcnn eval CHECKPOINT` evaluates on the run's test split, as for image folders."""
    files, _, test = cifar_files(seed=5)
    write_archive(tmp_path / "c10", CIFAR10, files)
    code, _, err = run(capsys, "train", "--data", "cifar10", "--root", str(tmp_path / "c10"),
                       "--model", "lenet5", "--epochs", "1", "--batch-size", "5",
                       "--out", str(tmp_path / "run"))
    assert code == 0, err
    last = str(tmp_path / "run" / "last.safetensors")
    code, out, err = run(capsys, "eval", last)
    assert code == 0, err
    assert f"({len(test['images'])} images)" in out
    code, out, err = run(capsys, "train", "--resume", last, "--epochs", "2")
    assert code == 0, err
    assert "epoch 2/2" in out


def test_datasets_command_finds_a_cifar_archive(tmp_path: Path, capsys: Any) -> None:
    files, _, _ = cifar_files(seed=6)
    archive = write_archive(tmp_path / "c10", CIFAR10, files)
    code, out, err = run(capsys, "datasets", "--root", str(tmp_path / "c10"))
    assert code == 0, err
    block = out.split("cifar10 (CIFAR10)", 1)[1].split("cifar100 (CIFAR100)", 1)[0]
    found = [ln for ln in block.splitlines() if ln.strip().startswith("found")]
    assert len(found) == 1 and str(archive) in found[0] and "(used)" in found[0], block
    cifar100 = out.split("cifar100 (CIFAR100)", 1)[1].split("imagefolder", 1)[0]
    assert not [ln for ln in cifar100.splitlines() if ln.strip().startswith("found")]
    assert "--data cifar100 --download" in cifar100


# ----------------------------------------------------------------------------- refusals
def test_pca_lighting_needs_augment(tmp_path: Path, capsys: Any) -> None:
    code, _, err = run(capsys, "train", "--data", "synthetic", "--model", "lenet5", "--epochs",
                       "1", "--limit", "8", "--pca-lighting", "0.1",
                       "--out", str(tmp_path / "r"))
    assert code == 1 and err.count("\n") == 1 and "add --augment" in err, err
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(not (FMNIST / "train-images-idx3-ubyte.gz").is_file(),
                    reason=f"Fashion-MNIST is not installed at {FMNIST}")
@pytest.mark.parametrize("extra", [[], ["--in-channels", "3"]])
def test_pca_lighting_refused_on_fashion_mnist(tmp_path: Path, capsys: Any,
                                               extra: list[str]) -> None:
    code, _, err = run(capsys, "train", "--model", "lenet5", "--epochs", "1", "--limit", "8",
                       "--augment", "--pca-lighting", "0.1", *extra,
                       "--out", str(tmp_path / "r"))
    assert code == 1 and err.count("\n") == 1, err
    assert "--pca-lighting needs colour images" in err
    assert not (tmp_path / "r").exists()
    assert numcnn is not None
