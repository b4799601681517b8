"""numcnn.data.transforms against hand-computed expectations (no torchvision here).

Oracles: NumPy's own rot90/flip/pad/slicing, formulas written out in the test, and PyTorch's
interpolate for Resize (torch is a test-only oracle).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import numcnn
from numcnn.data import transforms as T
from numcnn.data.transforms import batch as B


def gen(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def img(c: int = 2, h: int = 5, w: int = 5, dtype=np.float32) -> np.ndarray:
    """An image whose every value is distinct: value = 100 c + 10 y + x (+1)."""
    cc, yy, xx = np.meshgrid(np.arange(c), np.arange(h), np.arange(w), indexing="ij")
    return (100 * cc + 10 * yy + xx + 1).astype(dtype)


# ----------------------------------------------------------------------------- pixel values
def test_to_tensor_hw_and_hwc():
    a = np.array([[0, 255], [51, 102]], dtype=np.uint8)
    t = T.ToTensor()(a)
    assert isinstance(t, numcnn.Tensor) and t.dtype == np.float32 and t.shape == (1, 2, 2)
    np.testing.assert_allclose(t.numpy()[0], [[0.0, 1.0], [0.2, 0.4]], rtol=1e-6)
    hwc = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)          # H=2, W=3, C=4
    t = T.ToTensor()(hwc).numpy()
    assert t.shape == (4, 2, 3)
    assert t[3, 1, 2] == pytest.approx(hwc[1, 2, 3] / 255)
    f = np.full((2, 2), 3.5, dtype=np.float32)                    # floats: layout only
    assert T.ToTensor()(f).numpy()[0, 0, 0] == 3.5
    b = T.ToTensor().batch(np.stack([a, a]))
    assert b.shape == (2, 1, 2, 2)
    with pytest.raises(ValueError, match="2 or 3 dimensional"):
        T.ToTensor()(np.zeros((1, 1, 1, 1), np.uint8))


def test_normalize_formula():
    x = img(3, 4, 4)
    mean, std = [1.0, 2.0, 3.0], [0.5, 2.0, 4.0]
    out = T.Normalize(mean, std)(x)
    expected = np.stack([(x[c] - mean[c]) / std[c] for c in range(3)])
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert out.dtype == np.float32 and isinstance(out, np.ndarray)
    assert isinstance(T.Normalize(mean, std)(numcnn.Tensor(x)), numcnn.Tensor)
    with pytest.raises(ValueError, match="division by zero"):
        T.Normalize([0.0] * 3, [1.0, 0.0, 1.0])(x)
    with pytest.raises(ValueError, match="mean"):
        T.Normalize([0.0, 0.0], [1.0] * 3)(x)


# ----------------------------------------------------------------------------- flips
def test_flips():
    x = img()
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(x), x[:, :, ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1.0)(x), x[:, ::-1, :])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(x), x)
    f = T.RandomHorizontalFlip(p=1.0)
    np.testing.assert_array_equal(f(f(x)), x)
    xb = np.stack([x] * 200)
    out = T.RandomHorizontalFlip(p=0.5, generator=gen()).batch(xb)
    flipped = np.array([np.array_equal(o, x[:, :, ::-1]) for o in out])
    kept = np.array([np.array_equal(o, x) for o in out])
    assert np.all(flipped ^ kept) and 70 < flipped.sum() < 130
    with pytest.raises(ValueError, match="probability"):
        T.RandomHorizontalFlip(p=1.5)


# ----------------------------------------------------------------------------- crops
def test_pad_modes_by_hand():
    x = np.array([[[1, 2, 3], [4, 5, 6]]], dtype=np.float32)[None]         # (1, 1, 2, 3)
    np.testing.assert_array_equal(B.pad(x, (1, 0), padding_mode="reflect")[0, 0],
                                  [[2, 1, 2, 3, 2], [5, 4, 5, 6, 5]])
    np.testing.assert_array_equal(B.pad(x, (1, 0), padding_mode="symmetric")[0, 0],
                                  [[1, 1, 2, 3, 3], [4, 4, 5, 6, 6]])
    np.testing.assert_array_equal(B.pad(x, (0, 1), padding_mode="edge")[0, 0],
                                  [[1, 2, 3], [1, 2, 3], [4, 5, 6], [4, 5, 6]])
    out = B.pad(x, (1, 2, 0, 0), fill=9)[0, 0]             # left=1, top=2, right=0, bottom=0
    np.testing.assert_array_equal(out, [[9, 9, 9, 9], [9, 9, 9, 9], [9, 1, 2, 3], [9, 4, 5, 6]])
    with pytest.raises(ValueError, match="padding_mode"):
        T.RandomCrop(2, padding=1, padding_mode="wrap")


def test_random_crop_picks_a_window_of_the_padded_image():
    x = img(2, 6, 6)
    padded = np.pad(x, ((0, 0), (2, 2), (2, 2)))
    seen = set()
    t = T.RandomCrop(6, padding=2, generator=gen(3))
    for _ in range(300):
        out = t(x)
        # the window is identified by where the unique values came from
        hits = [(i, j) for i in range(5) for j in range(5)
                if np.array_equal(out, padded[:, i:i + 6, j:j + 6])]
        assert len(hits) == 1
        seen.add(hits[0])
    assert len(seen) == 25                                   # every position is reachable
    a = T.RandomCrop(6, padding=2, generator=gen(7))(x)
    b = T.RandomCrop(6, padding=2, generator=gen(7))(x)
    np.testing.assert_array_equal(a, b)                      # same seed, same window
    np.testing.assert_array_equal(T.RandomCrop(6)(x), x)     # full-size crop is the identity


def test_random_crop_batch_draws_per_image_and_uniformly():
    x = np.stack([img(1, 4, 4)] * 2000)
    out = B.random_crop(x, 4, padding=1, generator=gen(1))
    padded = np.pad(x[0], ((0, 0), (1, 1), (1, 1)))
    windows = {(i, j): padded[:, i:i + 4, j:j + 4] for i in range(3) for j in range(3)}
    counts = {k: sum(np.array_equal(o, w) for o in out) for k, w in windows.items()}
    assert sum(counts.values()) == 2000
    assert all(150 < c < 300 for c in counts.values())      # ~222 each


def test_random_crop_pad_if_needed_and_errors():
    x = img(1, 3, 3)
    out = T.RandomCrop(5, pad_if_needed=True, generator=gen())(x)
    assert out.shape == (1, 5, 5)
    assert set(np.unique(out)) >= set(np.unique(x)) - {0}
    with pytest.raises(ValueError, match="larger than input image size"):
        T.RandomCrop(5)(x)


def test_center_crop():
    x = img(1, 6, 6)
    np.testing.assert_array_equal(T.CenterCrop(4)(x), x[:, 1:5, 1:5])
    y = img(1, 5, 5)
    np.testing.assert_array_equal(T.CenterCrop(2)(y), y[:, 2:4, 2:4])     # round(1.5) = 2
    big = T.CenterCrop(7)(y)
    assert big.shape == (1, 7, 7)
    np.testing.assert_array_equal(big[:, 1:6, 1:6], y)
    assert big[0, 0].sum() == 0


# ----------------------------------------------------------------------------- rotation / affine
@pytest.mark.parametrize("size", [(4, 4), (5, 5)])
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_rotation_by_90_is_rot90(size, mode):
    x = img(2, *size)
    for deg, k in ((90, 1), (180, 2), (270, 3), (-90, -1)):
        out = T.RandomRotation((deg, deg), interpolation=mode)(x)
        np.testing.assert_allclose(out, np.rot90(x, k, axes=(1, 2)), atol=1e-4, rtol=0)


def test_rotation_identity_and_non_square_half_turn():
    x = img(1, 4, 7)
    for mode in ("nearest", "bilinear"):
        np.testing.assert_array_equal(T.RandomRotation(0, interpolation=mode)(x), x)
        out = T.RandomRotation((180, 180), interpolation=mode)(x)
        np.testing.assert_allclose(out, x[:, ::-1, ::-1], atol=1e-4)


def test_rotation_fill_and_bilinear_value():
    x = np.ones((1, 5, 5), np.float32)
    out = T.RandomRotation((45, 45), fill=7.0)(x)
    assert out[0, 0, 0] == 7.0 and out[0, 2, 2] == 1.0       # corners come from outside
    # a quarter turn counter-clockwise about the top-left pixel (center=(0, 0)): the first
    # column (pointing down) turns to point right, everything else leaves the view
    out = B.rotate(np.arange(9, dtype=np.float64).reshape(1, 1, 3, 3), 90, center=(0, 0))
    np.testing.assert_array_equal(out[0, 0], [[0, 3, 6], [0, 0, 0], [0, 0, 0]])
    # bilinear half-pixel shift: value halfway between neighbours
    x = np.array([[[0.0, 10.0, 20.0]]])[None]                      # (1, 1, 1, 3)
    m = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]])
    out = B.warp_affine(x, m, "bilinear", fill=0)[0, 0, 0]
    np.testing.assert_allclose(out, [5.0, 15.0, 10.0])             # last: half from outside


def naive_rotate_expand(x: np.ndarray, degrees: float, out_h: int, out_w: int,
                        fill: float = 0.0) -> np.ndarray:
    """Nearest-neighbour counter-clockwise rotation into an (out_h, out_w) canvas, one pixel
    at a time: the output pixel (i, j), at (u, v) from the output's centre, reads the input
    at (cos t u - sin t v, sin t u + cos t v) from the input's centre, rounded half to even
    (on screen, y down, this turns the picture counter-clockwise: 90 degrees is np.rot90)."""
    c, h, w = x.shape
    t = np.radians(degrees)
    out = np.full((c, out_h, out_w), fill, dtype=x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            u, v = j - (out_w - 1) / 2, i - (out_h - 1) / 2
            sx = round(np.cos(t) * u - np.sin(t) * v + (w - 1) / 2)
            sy = round(np.sin(t) * u + np.cos(t) * v + (h - 1) / 2)
            if 0 <= sx < w and 0 <= sy < h:
                out[:, i, j] = x[:, sy, sx]
    return out


def test_rotation_expand_quarter_turns_swap_height_and_width():
    for h, w in ((4, 6), (3, 5), (2, 4), (1, 3)):           # H and W of the same parity
        x = img(2, h, w)
        for deg, k in ((90, 1), (-90, -1), (270, 3), (180, 2), (0, 0)):
            for mode in ("nearest", "bilinear"):
                out = T.RandomRotation((deg, deg), interpolation=mode, expand=True)(x)
                np.testing.assert_allclose(out, np.rot90(x, k, axes=(1, 2)), atol=1e-4)
    # H and W of different parity: torchvision (and PIL) shift the corners by the *input's*
    # (W/2, H/2) before ceil/floor, so (3, 4) at 90 degrees: x in [0.5, 3.5] -> 4 columns,
    # y in [-0.5, 3.5] -> 5 rows
    assert T.RandomRotation((90, 90), expand=True)(img(1, 3, 4)).shape == (1, 5, 4)


def test_rotation_expand_45_degree_sizes():
    # corners (+-W/2, +-H/2) turned by 45 degrees reach +-(W + H) / (2 sqrt 2); shifted by
    # (W/2, H/2): 4x4: [2 - 2.83, 2 + 2.83] -> floor -1, ceil 5 -> 6;
    # 5x5: [2.5 - 3.54, 2.5 + 3.54] -> [-2, 7] -> 9; 4x6: x [3 - 3.54, 3 + 3.54] -> [-1, 7]
    # -> 8, y [2 - 3.54, 2 + 3.54] -> [-2, 6] -> 8
    for (h, w), size in (((4, 4), (6, 6)), ((5, 5), (9, 9)), ((4, 6), (8, 8))):
        assert T.RandomRotation((45, 45), expand=True)(img(1, h, w)).shape[1:] == size
        assert B.expanded_size(h, w, B.inverse_affine_matrix(-45.0)[0]) == size
    # no expand: the size is kept and the corners are cut off
    assert T.RandomRotation((45, 45))(img(1, 4, 6)).shape == (1, 4, 6)


@pytest.mark.parametrize("deg", [30.0, 45.0, 100.0, -63.0, 200.0])
def test_rotation_expand_against_naive_nearest(deg):
    x = img(2, 5, 7)                                         # values from 1: 0 is the fill
    out = T.RandomRotation((deg, deg), expand=True)(x)
    assert out.shape[0] == 2 and out.shape[1] * out.shape[2] > 5 * 7      # enlarged
    np.testing.assert_array_equal(out, naive_rotate_expand(x, deg, *out.shape[1:]))


def test_rotation_expand_batches_compose_and_datasets():
    rot = T.RandomRotation(40, expand=True, generator=gen(1))
    assert not rot.has_batch and T.RandomRotation(40).has_batch
    xb = np.stack([img(1, 6, 6)] * 4)
    one = rot.batch(xb[:1])                                  # one image: always fine
    assert one.shape[2] > 6
    with pytest.raises(ValueError, match="different output sizes"):
        rot.batch(xb)                                        # four angles, four sizes
    # in a Compose: per image until a Resize gives one size again, then batched
    c = T.Compose([rot, T.Resize((5, 5)), T.RandomHorizontalFlip(0.0)])
    assert not c.has_batch
    rot.generator = gen(7)
    out = c.batch(xb)
    assert out.shape == (4, 1, 5, 5)
    rot.generator = gen(7)
    np.testing.assert_array_equal(out, np.stack([c(x) for x in xb]))
    with pytest.raises(ValueError, match="different shapes"):
        T.Compose([rot]).batch(xb)
    # a dataset's get_batch runs the Compose per image, then stacks
    ds = numcnn.data.TensorDataset(xb, np.arange(4), transform=c)
    assert ds.get_batch(np.arange(4))[0].shape == (4, 1, 5, 5)
    assert "expand=True" in repr(rot)


def test_affine_translation_is_a_shift():
    x = img(2, 5, 6)
    out = B.affine(x[None], 0.0, (2, -1), 1.0, 0.0)[0]             # right 2, up 1
    expected = np.zeros_like(x)
    expected[:, 0:4, 2:6] = x[:, 1:5, 0:4]
    np.testing.assert_array_equal(out, expected)


def test_random_affine_identity_translate_and_clockwise_angle():
    x = img(1, 5, 5)
    np.testing.assert_array_equal(T.RandomAffine(0)(x), x)
    t = T.RandomAffine(0, translate=(0.4, 0.4), generator=gen(2))
    shifts = set()
    for _ in range(50):
        out = t(x)
        found = [(dx, dy) for dx in range(-2, 3) for dy in range(-2, 3)
                 if np.array_equal(out, B.affine(x[None], 0, (dx, dy), 1, 0)[0])]
        assert found
        shifts.add(found[0])
    assert len(shifts) > 5
    # torchvision's affine: a positive angle turns clockwise
    np.testing.assert_array_equal(T.RandomAffine((90, 90))(x), np.rot90(x, -1, axes=(1, 2)))


def test_affine_scale_and_shear_by_hand():
    x = img(1, 5, 5)
    out = B.affine(x[None], 0, (0, 0), 2.0, 0)[0, 0]              # zoom 2 about (2, 2)
    for y in range(5):
        for xx in range(5):
            sy, sx = 2 + (y - 2) / 2, 2 + (xx - 2) / 2               # src = c + (p - c) / 2
            assert out[y, xx] == x[0, int(np.rint(sy)), int(np.rint(sx))]
    out = B.affine(x[None], 0, (0, 0), 1.0, 45.0)[0, 0]           # x shear: src_x = u + v
    for y in range(5):
        for xx in range(5):
            sx = xx + (y - 2)
            assert out[y, xx] == (x[0, y, sx] if 0 <= sx < 5 else 0)


# ----------------------------------------------------------------------------- resizing
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("size", [(7, 9), (3, 4), (10, 5)])
def test_resize_matches_torch_interpolate(dtype, mode, size):
    x = np.random.default_rng(0).random((2, 3, 6, 7)).astype(dtype)
    out = T.Resize(size, interpolation=mode).batch(x)
    kw = {"align_corners": False} if mode == "bilinear" else {}
    ref = torch.nn.functional.interpolate(torch.from_numpy(x), size=size, mode=mode, **kw)
    rtol, atol = (1e-4, 1e-5) if dtype == np.float32 else (1e-7, 1e-9)
    np.testing.assert_allclose(out, ref.numpy(), rtol=rtol, atol=atol)


def test_resize_int_resizes_smaller_edge():
    assert T.Resize(10)(np.zeros((1, 20, 30), np.float32)).shape == (1, 10, 15)
    assert T.Resize(10)(np.zeros((1, 30, 20), np.float32)).shape == (1, 15, 10)
    assert T.Resize(10, max_size=12)(np.zeros((1, 20, 30), np.float32)).shape == (1, 8, 12)
    with pytest.raises(NotImplementedError, match="antialias"):
        T.Resize(10, antialias=True)


def test_random_resized_crop():
    x = img(2, 6, 6)
    out = T.RandomResizedCrop(6, scale=(1.0, 1.0), ratio=(1.0, 1.0))(x)
    np.testing.assert_allclose(out, x)                        # the whole image, same size
    t = T.RandomResizedCrop((4, 5), generator=gen(0))
    assert t(x).shape == (2, 4, 5)
    # nearest from a window: every output value is an input value of one window
    out = T.RandomResizedCrop(3, scale=(0.2, 0.3), interpolation="nearest",
                              generator=gen(1))(x)
    assert set(np.unique(out)) <= set(np.unique(x))


# ----------------------------------------------------------------------------- erasing
def test_random_erasing():
    x = np.zeros((3, 20, 20), np.float32)
    for seed in range(20):
        out = T.RandomErasing(p=1.0, value=7, generator=gen(seed))(x)
        ys, xs = np.nonzero(out[0] == 7)
        assert ys.size > 0
        h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
        assert ys.size == h * w                                # one filled rectangle
        assert 0.02 * 400 * 0.5 <= h * w <= 0.33 * 400 * 1.5    # rounding slack
        assert np.all(out[1:] == out[:1])                      # every channel
    np.testing.assert_array_equal(T.RandomErasing(p=0.0)(x), x)
    r = T.RandomErasing(p=1.0, value="random", generator=gen(0))(x)
    assert np.count_nonzero(r) > 0
    with pytest.raises(ValueError, match="value"):
        T.RandomErasing(value="noise")


# ----------------------------------------------------------------------------- composition
def test_compose_order_and_batch_fallback():
    x = np.arange(16, dtype=np.uint8).reshape(4, 4)
    c = T.Compose([T.ToTensor(), T.Normalize([0.5], [0.5]), T.RandomHorizontalFlip(1.0)])
    out = c(x)
    assert isinstance(out, numcnn.Tensor)
    np.testing.assert_allclose(out.numpy()[0], ((x / 255 - 0.5) / 0.5)[:, ::-1], rtol=1e-6)
    xb = np.stack([x, x + 1])
    np.testing.assert_allclose(c.batch(xb).numpy()[1], c(x + 1).numpy(), rtol=1e-6)
    lam = T.Compose([T.ToTensor(), lambda t: t * 2])             # no .batch: per image
    assert not lam.has_batch
    np.testing.assert_allclose(lam.batch(xb).numpy(), T.ToTensor().batch(xb).numpy() * 2)
    assert "ToTensor" in repr(c)


def test_single_image_equals_batch_of_one_and_seeding():
    x = img(1, 8, 8)
    tf = [T.RandomCrop(6, padding=1), T.RandomRotation(30), T.RandomAffine(10, (0.1, 0.1)),
          T.RandomResizedCrop(5), T.RandomErasing(1.0)]
    for t in tf:
        t.generator = gen(5)
        a = t(x)
        t.generator = gen(5)
        np.testing.assert_array_equal(a, t.batch(x[None])[0])
        # default: the global generator, reproducible through manual_seed
        t.generator = None
        numcnn.manual_seed(3)
        a = t(x)
        numcnn.manual_seed(3)
        np.testing.assert_array_equal(a, t(x))


def test_tensor_in_tensor_out_and_bad_arguments():
    x = numcnn.Tensor(img(1, 5, 5))
    for t in (T.RandomCrop(3), T.RandomRotation(10), T.CenterCrop(3), T.Resize(3)):
        assert isinstance(t(x), numcnn.Tensor)
    with pytest.raises(ValueError, match="interpolation"):
        T.RandomRotation(10, interpolation="cubic")
    with pytest.raises(ValueError, match="positive"):
        T.RandomRotation(-5)
    with pytest.raises(ValueError, match="translation"):
        T.RandomAffine(0, translate=(2, 0))
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        T.RandomCrop(2)(np.zeros((1, 1, 4, 4)))
    with pytest.raises(TypeError, match="generator"):
        B.random_crop(np.zeros((1, 1, 4, 4)), 2, generator=3)  # type: ignore[arg-type]
