"""IDX reading (valid and corrupt files written here), dataset lookup, and the real data."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from numcnn.data import MNIST, DataLoader, FashionMNIST, read_idx
from numcnn.data import transforms as T

DEBIAN = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(arr: np.ndarray, magic: int | None = None, dims=None) -> bytes:
    dims = arr.shape if dims is None else dims
    magic = (0x0800 | len(dims)) if magic is None else magic
    return struct.pack(">I", magic) + struct.pack(f">{len(dims)}I", *dims) + \
        arr.astype(np.uint8).tobytes()


def write(path: Path, data: bytes, gz: bool = False) -> Path:
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def make_split(folder: Path, prefix: str = "train", n: int = 6, gz: bool = False,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    write(folder / f"{prefix}-images-idx3-ubyte", idx_bytes(images), gz)
    write(folder / f"{prefix}-labels-idx1-ubyte", idx_bytes(labels), gz)
    return images, labels


@pytest.mark.parametrize("gz", [False, True])
def test_read_valid_files(tmp_path, gz):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    p = write(tmp_path / "x-idx3-ubyte", idx_bytes(a), gz)
    out = read_idx(p, 2051, 3)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, a)
    lab = write(tmp_path / "y-idx1-ubyte", idx_bytes(np.array([3, 1, 4], np.uint8)), gz)
    np.testing.assert_array_equal(read_idx(lab, 2049, 1), [3, 1, 4])


CORRUPT = {
    # name: (bytes, expected message)
    "labels as images": (idx_bytes(np.zeros(5)), "magic number 2049, expected 2051"),
    "float type": (idx_bytes(np.zeros((1, 2, 2)), magic=0x00000D03),
                   "not an unsigned-byte IDX file"),
    "short header": (b"\x00\x00\x08\x03\x00\x00", "truncated header"),
    "tiny": (b"\x00\x00", "truncated"),
    "truncated body": (idx_bytes(np.zeros((3, 4, 4)))[:-5], "truncated"),
    "size disagrees": (idx_bytes(np.zeros((3, 27, 27)), dims=(3, 28, 28)), "truncated"),
    "extra bytes": (idx_bytes(np.zeros((2, 4, 4))) + b"\x00" * 7, "7 bytes more"),
    "huge header": (idx_bytes(np.zeros((1, 2, 2)), dims=(4_000_000_000, 28, 28))[:40],
                    "header promises"),
}


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("name", list(CORRUPT))
def test_corrupt_files_raise_value_error_naming_file(tmp_path, name, gz):
    data, message = CORRUPT[name]
    p = write(tmp_path / "bad-images-idx3-ubyte", data, gz)
    if gz and name in ("truncated body", "size disagrees", "extra bytes", "huge header"):
        message = "header promises|truncated|more data"
    with pytest.raises(ValueError, match=message) as info:
        read_idx(p, 2051, 3)
    assert str(p) in str(info.value)


def test_truncated_and_garbled_gzip(tmp_path):
    good = gzip.compress(idx_bytes(np.arange(4 * 28 * 28).reshape(4, 28, 28) % 251))
    for name, data in (("cut", good[:-30]), ("garbled", good[:30] + b"\xff" * 50 + good[80:])):
        p = tmp_path / f"{name}-idx3-ubyte.gz"
        p.write_bytes(data)
        with pytest.raises(ValueError, match=str(p)):
            read_idx(p, 2051, 3)


def test_dataset_from_root_plain_and_gz(tmp_path):
    images, labels = make_split(tmp_path / "plain")
    ds = FashionMNIST(root=tmp_path / "plain")
    assert len(ds) == 6 and ds.data.dtype == np.uint8 and ds.targets.dtype == np.int64
    np.testing.assert_array_equal(ds.data, images)
    img, target = ds[2]
    assert img.shape == (28, 28) and target == labels[2] and isinstance(target, int)
    timages, _ = make_split(tmp_path / "z" / "MNIST" / "raw", "t10k", n=4, gz=True, seed=1)
    ds = MNIST(root=tmp_path / "z", train=False, transform=T.ToTensor())
    x, _ = ds[0]
    assert x.shape == (1, 28, 28) and x.dtype == np.float32
    np.testing.assert_allclose(x.numpy()[0], timages[0] / 255, rtol=1e-6)
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    np.testing.assert_allclose(xb.numpy()[:, 0], timages / 255, rtol=1e-6)
    assert yb.dtype == np.int64


def test_mismatched_pairs_and_labels(tmp_path):
    make_split(tmp_path)
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(np.zeros(5)))
    with pytest.raises(ValueError, match="6 images but .* 5 labels"):
        FashionMNIST(root=tmp_path)
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(np.full(6, 10)))
    with pytest.raises(ValueError, match="label 10 out of range"):
        FashionMNIST(root=tmp_path)


def test_lookup_order_and_missing_message(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(FashionMNIST, "debian_dir", str(tmp_path / "debian"))
    monkeypatch.delenv("NUMCNN_DATA", raising=False)
    with pytest.raises(RuntimeError) as info:
        FashionMNIST()
    msg = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in msg and "root=" in msg
    assert "download=True" in msg and "train-images-idx3-ubyte" in msg
    with pytest.raises(RuntimeError, match="MNIST dataset not found"):
        MNIST(root=tmp_path / "nowhere")
    make_split(tmp_path / "debian", n=2)                        # 4. the Debian location
    assert len(FashionMNIST()) == 2
    make_split(tmp_path / "home" / ".cache" / "numcnn" / "FashionMNIST", n=3)   # 3. cache
    assert len(FashionMNIST()) == 3
    make_split(tmp_path / "env" / "fashion-mnist", n=4)          # 2. $NUMCNN_DATA
    monkeypatch.setenv("NUMCNN_DATA", str(tmp_path / "env"))
    assert len(FashionMNIST()) == 4
    make_split(tmp_path / "explicit", n=5)                       # 1. root=
    assert len(FashionMNIST(root=tmp_path / "explicit")) == 5
    with pytest.raises(RuntimeError):                            # MNIST never takes Fashion's
        MNIST()
    assert len(FashionMNIST(download=True)) == 4                  # found: nothing downloaded


@pytest.mark.skipif(not (DEBIAN / "train-labels-idx1-ubyte.gz").exists(),
                    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_real_fashion_mnist(monkeypatch):
    monkeypatch.delenv("NUMCNN_DATA", raising=False)
    monkeypatch.setenv("HOME", os.devnull)
    train, test = FashionMNIST(), FashionMNIST(train=False)
    assert train.root == str(DEBIAN)
    assert train.data.shape == (60000, 28, 28) and test.data.shape == (10000, 28, 28)
    assert train.data.dtype == np.uint8 and train.data.max() == 255
    assert train.targets.min() == 0 and train.targets.max() == 9
    assert np.bincount(train.targets).tolist() == [6000] * 10
    assert np.bincount(test.targets).tolist() == [1000] * 10
    assert train.classes[9] == "Ankle boot"
