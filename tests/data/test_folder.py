"""ImageFolder / DatasetFolder over PNG and JPEG files written here with Pillow, in seed 004's
dogs-vs-cats layout (train/cats, train/dogs)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from numcnn.data import DataLoader, DatasetFolder, ImageFolder
from numcnn.data import transforms as T
from numcnn.data.folder import IMG_EXTENSIONS, default_loader

Image = pytest.importorskip("PIL.Image")


def rgb(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.uint8)


def smooth(h: int, w: int) -> np.ndarray:
    """A gradient (JPEG keeps it within a few levels)."""
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return np.stack([yy * 255 // h, xx * 255 // w, np.full_like(yy, 128)], -1).astype(np.uint8)


@pytest.fixture
def dogs_vs_cats(tmp_path) -> tuple[Path, dict[str, np.ndarray]]:
    """train/cats: 2 PNGs (one nested) and a JPEG; train/dogs: a PNG (upper-case extension),
    a grey PNG, a JPEG; plus files that are not images. Returns (root, {relative path: the
    pixels written})."""
    root = tmp_path / "train"
    written = {
        "cats/cat.0.png": rgb(6, 5, 0),
        "cats/nested/cat.2.png": rgb(4, 4, 2),
        "cats/cat.1.jpg": smooth(16, 12),
        "dogs/dog.0.PNG": rgb(3, 7, 3),
        "dogs/dog.1.jpeg": smooth(10, 10),
    }
    for rel, pixels in written.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        fmt = "PNG" if rel.lower().endswith(".png") else "JPEG"
        Image.fromarray(pixels).save(root / rel, format=fmt, quality=95)
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(grey, mode="L").save(root / "dogs" / "dog.2.png")
    written["dogs/dog.2.png"] = np.repeat(grey[:, :, None], 3, axis=2)     # converted to RGB
    (root / "dogs" / "notes.txt").write_text("not an image")
    (root / "README").write_text("a file at the top is not a class")
    return root, written


def test_classes_samples_targets(dogs_vs_cats):
    root, _ = dogs_vs_cats
    ds = ImageFolder(root)
    assert ds.classes == ["cats", "dogs"] and ds.class_to_idx == {"cats": 0, "dogs": 1}
    rel = [str(Path(p).relative_to(root)) for p, _ in ds.samples]
    assert rel == ["cats/cat.0.png", "cats/cat.1.jpg", "cats/nested/cat.2.png",
                   "dogs/dog.0.PNG", "dogs/dog.1.jpeg", "dogs/dog.2.png"]
    assert ds.targets == [0, 0, 0, 1, 1, 1] and ds.imgs is ds.samples and len(ds) == 6
    assert ds.extensions == IMG_EXTENSIONS
    assert "Number of datapoints: 6" in repr(ds)


def test_png_pixels_exact_and_jpeg_close(dogs_vs_cats):
    root, written = dogs_vs_cats
    ds = ImageFolder(root)
    for k, (path, target) in enumerate(ds.samples):
        img, t = ds[k]
        expected = written[str(Path(path).relative_to(root))]
        assert t == target and isinstance(img, np.ndarray)
        assert img.dtype == np.uint8 and img.shape == expected.shape        # (H, W, 3)
        if path.lower().endswith(".png"):
            np.testing.assert_array_equal(img, expected)
        else:
            assert np.abs(img.astype(int) - expected).mean() < 4


def test_rgba_and_palette_images_become_rgb(tmp_path):
    (tmp_path / "a").mkdir()
    rgba = np.dstack([rgb(4, 4, 5), np.full((4, 4), 7, np.uint8)])
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a" / "x.png")
    Image.fromarray(rgb(4, 4, 6)).convert("P").save(tmp_path / "a" / "y.png")
    ds = ImageFolder(tmp_path)
    np.testing.assert_array_equal(ds[0][0], rgba[:, :, :3])                  # alpha dropped
    assert ds[1][0].shape == (4, 4, 3)


def test_dataloader_with_to_tensor_and_resize(dogs_vs_cats):
    root, written = dogs_vs_cats
    ds = ImageFolder(root, transform=T.Compose([T.ToTensor(), T.Resize((8, 8))]))
    loader = DataLoader(ds, batch_size=4, shuffle=False)
    batches = list(loader)
    assert [tuple(x.shape) for x, _ in batches] == [(4, 3, 8, 8), (2, 3, 8, 8)]
    assert np.asarray(batches[0][1]).tolist() == [0, 0, 0, 1]
    x = batches[0][0].numpy()
    assert x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0
    one = T.Resize((8, 8))(T.ToTensor()(written["cats/cat.0.png"])).numpy()
    np.testing.assert_allclose(x[0], one, rtol=1e-6)


def test_corrupt_and_truncated_images_name_the_file(dogs_vs_cats):
    root, _ = dogs_vs_cats
    bad = root / "cats" / "bad.png"
    bad.write_bytes(b"this is not a png")
    good = (root / "cats" / "cat.0.png").read_bytes()
    cut = root / "dogs" / "cut.png"
    cut.write_bytes(good[: len(good) // 2])
    ds = ImageFolder(root)
    paths = [p for p, _ in ds.samples]
    for path in (bad, cut):
        with pytest.raises(ValueError, match="cannot read the image") as info:
            ds[paths.index(str(path))]
        assert str(path) in str(info.value)
    with pytest.raises(FileNotFoundError):
        default_loader(str(root / "missing.png"))


def test_empty_and_missing_folders(tmp_path, dogs_vs_cats):
    root, _ = dogs_vs_cats
    (root / "birds").mkdir()
    (root / "birds" / "list.txt").write_text("no images here")
    with pytest.raises(FileNotFoundError,
                       match="Found no valid file for the classes birds. Supported extensions "
                             r"are: \.jpg, \.jpeg"):
        ImageFolder(root)
    ds = ImageFolder(root, allow_empty=True)
    assert ds.classes == ["birds", "cats", "dogs"] and set(ds.targets) == {1, 2}
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "x.png").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        ImageFolder(tmp_path / "flat")
    with pytest.raises(FileNotFoundError):
        ImageFolder(tmp_path / "nowhere")


def test_dataset_folder_with_loader_and_is_valid_file(tmp_path):
    for cls, values in (("neg", [1, 2]), ("pos", [3])):
        (tmp_path / cls).mkdir()
        for v in values:
            np.save(tmp_path / cls / f"{v}.npy", np.full(3, v))
    (tmp_path / "pos" / "skip.txt").write_text("-")
    ds = DatasetFolder(tmp_path, loader=np.load, extensions=".npy",
                       target_transform=lambda t: t * 10)
    assert [ds[k][0].tolist() for k in range(3)] == [[1] * 3, [2] * 3, [3] * 3]
    assert [ds[k][1] for k in range(3)] == [0, 0, 10] and ds.targets == [0, 0, 1]
    only_two = DatasetFolder(tmp_path, loader=np.load, allow_empty=True,
                             is_valid_file=lambda p: p.endswith("2.npy"))
    assert len(only_two) == 1 and only_two.samples[0][1] == 0
    with pytest.raises(ValueError, match="Both extensions and is_valid_file"):
        DatasetFolder(tmp_path, loader=np.load)
    with pytest.raises(ValueError, match="Both extensions and is_valid_file"):
        DatasetFolder(tmp_path, loader=np.load, extensions=".npy", is_valid_file=bool)


def test_missing_pillow_says_how_to_install(dogs_vs_cats, monkeypatch):
    root, _ = dogs_vs_cats
    ds = ImageFolder(root)                       # listing the files needs no Pillow
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"pip install 'numcnn\[image\]'"):
        ds[0]
