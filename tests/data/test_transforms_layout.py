"""Transforms on what torchvision's take: HWC/HW uint8 arrays (what the readers return), PIL
images, and CHW tensors/float arrays; the output keeps the input's kind and layout.

Oracles: NumPy slicing/flip/rot90/pad written here, torch tensor ops (interpolate, permute),
and the same transform run on the CHW Tensor of the same pixels with the same generator.
"""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import numcnn
from numcnn.data import DataLoader, FashionMNIST
from numcnn.data import transforms as T

Image = pytest.importorskip("PIL.Image")


def hwc(h: int = 5, w: int = 7, c: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, c)).astype(np.uint8)


def gen(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def pixels(img) -> np.ndarray:
    if isinstance(img, numcnn.Tensor):
        return img.numpy()
    return np.asarray(img)


# ----------------------------------------------------------------------------- flips
FLIP_CASES = {
    "HWC uint8": (hwc(), lambda a: a[:, ::-1, :]),
    "HW uint8": (hwc()[..., 0], lambda a: a[:, ::-1]),
    "CHW float array": (hwc().transpose(2, 0, 1).astype(np.float32), lambda a: a[:, :, ::-1]),
    "HW float array": (hwc()[..., 0].astype(np.float64), lambda a: a[:, ::-1]),
    "CHW uint8 Tensor": (numcnn.Tensor(hwc().transpose(2, 0, 1).copy()),
                         lambda a: a[:, :, ::-1]),
}


@pytest.mark.parametrize("name", list(FLIP_CASES))
def test_horizontal_flip_flips_the_width(name):
    x, expect = FLIP_CASES[name]
    out = T.RandomHorizontalFlip(p=1.0)(x)
    assert type(out) is type(x) and pixels(out).dtype == pixels(x).dtype
    np.testing.assert_array_equal(pixels(out), expect(pixels(x)))
    vout = T.RandomVerticalFlip(p=1.0)(x)
    axis = 0 if name in ("HWC uint8", "HW uint8", "HW float array") else 1     # the height
    np.testing.assert_array_equal(pixels(vout), np.flip(pixels(x), axis=axis))
    # torch as a second oracle for the tensor case
    if isinstance(x, numcnn.Tensor):
        np.testing.assert_array_equal(pixels(out), torch.from_numpy(pixels(x)).flip(-1).numpy())


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
def test_pil_in_pil_out(mode):
    a = hwc(6, 9, {"L": 1, "RGB": 3, "RGBA": 4}[mode])
    a = a[..., 0] if mode == "L" else a
    pic = Image.fromarray(a)
    assert pic.mode == mode
    out = T.RandomHorizontalFlip(p=1.0)(pic)
    assert isinstance(out, Image.Image) and out.mode == mode and out.size == (9, 6)
    np.testing.assert_array_equal(np.asarray(out), a[:, ::-1])
    for t in (T.CenterCrop(4), T.Resize((4, 5)), T.RandomRotation((90, 90))):
        res = t(pic)
        assert isinstance(res, Image.Image) and res.mode == mode
        np.testing.assert_array_equal(np.asarray(res), t(a))       # = the uint8 array path
    t = T.ToTensor()(pic).numpy()
    ref = torch.from_numpy(a.reshape(6, 9, -1).copy()).permute(2, 0, 1).float().div(255)
    np.testing.assert_allclose(t, ref.numpy(), rtol=1e-6)


def test_pil_modes_1_I_F_P():
    bits = Image.fromarray(np.array([[True, False], [False, True]]))
    assert bits.mode == "1"
    np.testing.assert_array_equal(T.ToTensor()(bits).numpy()[0], [[1.0, 0.0], [0.0, 1.0]])
    assert np.asarray(T.RandomHorizontalFlip(1.0)(bits)).tolist() == [[False, True], [True, False]]
    ints = Image.fromarray(np.array([[1, -70000]], dtype=np.int32))
    assert ints.mode == "I"
    t = T.ToTensor()(ints)
    assert t.dtype == np.int32 and t.numpy().tolist() == [[[1, -70000]]]       # not scaled
    assert np.asarray(T.RandomHorizontalFlip(1.0)(ints)).tolist() == [[-70000, 1]]
    floats = Image.fromarray(np.array([[0.5, 2.5]], dtype=np.float32))
    assert T.ToTensor()(floats).numpy().tolist() == [[[0.5, 2.5]]]
    pal = Image.fromarray(np.array([[0, 1, 2]], dtype=np.uint8)).convert("P")
    out = T.RandomHorizontalFlip(1.0)(pal)
    assert out.mode == "P" and out.getpalette() == pal.getpalette()
    np.testing.assert_array_equal(np.asarray(out), np.asarray(pal)[:, ::-1])


# ----------------------------------------------------------------------------- HWC pipelines
def test_cifar_order_pipeline_on_hwc_uint8():
    x = hwc(32, 32, 3, seed=4)
    mean, std = [0.49, 0.48, 0.45], [0.25, 0.24, 0.26]
    pipe = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                      T.Normalize(mean, std)])
    padded = np.pad(x, ((4, 4), (4, 4), (0, 0)))
    seen_flip = seen_crop = False
    for seed in range(12):
        numcnn.manual_seed(seed)
        out = pipe(x).numpy()
        assert out.shape == (3, 32, 32) and out.dtype == np.float32
        m, s = (np.array(v, np.float32)[:, None, None] for v in (mean, std))
        img = out * s + m
        img = np.rint(img * 255).transpose(1, 2, 0)                   # back to HWC pixels
        # the output is one of the 81 windows of the padded image, maybe mirrored
        hits = [(i, j, f) for i in range(9) for j in range(9) for f in (False, True)
                if np.array_equal(img, (padded[i:i + 32, j:j + 32][:, ::-1] if f else
                                        padded[i:i + 32, j:j + 32]))]
        assert hits, seed
        seen_flip |= any(f for _, _, f in hits)
        seen_crop |= any((i, j) != (4, 4) for i, j, _ in hits)
    assert seen_flip and seen_crop


RANDOM_GEOMETRY = [
    T.RandomCrop(5, padding=2), T.RandomResizedCrop(6), T.RandomRotation(30),
    T.RandomAffine(20, translate=(0.2, 0.1), scale=(0.8, 1.2), shear=10),
    T.Resize((9, 4)), T.Resize(3), T.CenterCrop((3, 5)), T.RandomHorizontalFlip(),
    T.RandomRotation(40, expand=True), T.RandomErasing(1.0),
]


@pytest.mark.parametrize("t", RANDOM_GEOMETRY, ids=lambda t: repr(t).split("(")[0])
def test_hwc_uint8_equals_the_chw_tensor_path(t):
    """Before ToTensor on HWC uint8 == on the CHW Tensor of the same pixels, same draws."""
    x = hwc(7, 8, 3, seed=1)
    t.generator = gen(3)
    a = t(x)
    t.generator = gen(3)
    b = t(numcnn.Tensor(x.transpose(2, 0, 1).copy()))
    assert isinstance(a, np.ndarray) and a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3
    np.testing.assert_array_equal(a, b.numpy().transpose(1, 2, 0))
    if getattr(t, "has_batch", True):                       # batch of HWC == stacked images
        xs = np.stack([x, hwc(7, 8, 3, seed=2), x[::-1].copy()])
        t.generator = gen(5)
        hb = t.batch(xs)
        t.generator = gen(5)
        cb = t.batch(numcnn.Tensor(xs.transpose(0, 3, 1, 2).copy()))
        assert isinstance(hb, np.ndarray) and hb.shape[0] == 3 and hb.shape[-1] == 3
        np.testing.assert_array_equal(hb, cb.numpy().transpose(0, 2, 3, 1))
        gray = xs[..., 0]
        assert t.batch(gray).ndim == 3                        # (N, H, W) stays (N, H, W)
    t.generator = None


def test_resize_and_center_crop_before_to_tensor_against_torch():
    x = hwc(10, 14, 3, seed=2)
    out = T.Resize((6, 9))(x)
    ref = TF.interpolate(torch.from_numpy(x).permute(2, 0, 1)[None].double(), size=(6, 9),
                         mode="bilinear", align_corners=False, antialias=False)[0]
    ref = ref.round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    assert out.shape == (6, 9, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1          # half-way rounding
    assert np.mean(out == ref) > 0.97
    assert T.Resize(7)(x).shape == (7, 9, 3)                              # smaller edge -> 7
    np.testing.assert_array_equal(T.CenterCrop(4)(x), x[3:7, 5:9])
    np.testing.assert_array_equal(T.CenterCrop((4, 6))(x[..., 0]), x[3:7, 4:10, 0])
    sq = hwc(6, 6, 3)
    np.testing.assert_array_equal(T.RandomRotation((90, 90))(sq), np.rot90(sq, 1, axes=(0, 1)))
    np.testing.assert_array_equal(T.RandomAffine((90, 90))(sq), np.rot90(sq, -1, axes=(0, 1)))
    full = T.RandomResizedCrop(4, scale=(1.0, 1.0), ratio=(1.0, 1.0))(sq)
    np.testing.assert_array_equal(full, T.Resize((4, 4))(sq))


def test_to_tensor_layouts_and_errors():
    x = hwc(3, 4, 2)
    t = T.ToTensor()(x)
    ref = torch.from_numpy(x).permute(2, 0, 1).float() / 255
    assert t.shape == (2, 3, 4) and t.dtype == np.float32
    np.testing.assert_allclose(t.numpy(), ref.numpy(), rtol=1e-6)
    np.testing.assert_allclose(T.ToTensor()(x[..., 0]).numpy(), ref.numpy()[:1], rtol=1e-6)
    f = np.arange(24, dtype=np.float64).reshape(3, 4, 2)            # any ndarray: HWC
    np.testing.assert_array_equal(T.ToTensor()(f).numpy(), f.transpose(2, 0, 1))
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        T.ToTensor()(numcnn.Tensor(f))
    with pytest.raises(TypeError, match="ndarray or a Tensor"):
        T.RandomCrop(2)([[1, 2], [3, 4]])
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        T.RandomCrop(2)(np.zeros((1, 2, 3, 4), np.uint8))
    with pytest.raises(TypeError, match="floating"):
        T.Normalize([0.5], [0.5])(hwc())                           # uint8: ToTensor first


# ----------------------------------------------------------------------------- readers
def write_idx(path, arr: np.ndarray) -> None:
    head = struct.pack(">I", 0x0800 | arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    path.write_bytes(gzip.compress(head + arr.astype(np.uint8).tobytes()))


def test_fashion_mnist_reader_torchvision_order_with_workers(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMCNN_DATA", raising=False)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (50, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, 50).astype(np.uint8)
    folder = tmp_path / "fm"
    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte.gz", images)
    write_idx(folder / "train-labels-idx1-ubyte.gz", labels)
    pipe = T.Compose([T.RandomCrop(28, padding=2), T.RandomHorizontalFlip(), T.ToTensor(),
                      T.Normalize([0.286], [0.353])])
    ds = FashionMNIST(root=folder, train=True, transform=pipe)
    x, y = ds[3]
    assert x.shape == (1, 28, 28) and y == labels[3]
    runs = [[b for b in DataLoader(ds, batch_size=16, shuffle=True, generator=9, num_workers=w)]
            for w in (0, 2)]
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
        np.testing.assert_array_equal(a[1].numpy(), b[1].numpy())
    assert runs[0][0][0].shape == (16, 1, 28, 28)
    plain = T.Compose([T.RandomHorizontalFlip(1.0), T.ToTensor()])
    ds.transform = plain
    xb, _ = next(iter(DataLoader(ds, batch_size=50)))
    np.testing.assert_allclose(xb.numpy()[:, 0], images[:, :, ::-1] / np.float32(255), rtol=1e-6)
