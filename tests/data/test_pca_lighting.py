"""PCALighting / batch.pca_lighting / pca_eigen (AlexNet's "fancy PCA", Krizhevsky et al. 2012).

Oracles: a per-pixel Python loop written from the paper's formula
I_xy += [p1 p2 p3] [a1 l1, a2 l2, a3 l3]^T, with alpha reproduced from the documented draw
(alpha = alphastd * standard_normal((N, 3)) from the same seed); np.cov and the eigen-equation
C v = l v for pca_eigen; the Gaussian law of the shift for the statistics.
"""

from __future__ import annotations

import numpy as np
import pytest

import numcnn
from numcnn.data import DataLoader, TensorDataset, default_collate
from numcnn.data import transforms as T
from numcnn.data.transforms import batch as B


def gen(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def basis(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random orthonormal eigvec (QR) and descending positive eigval, not ImageNet's."""
    q, _ = np.linalg.qr(gen(seed).standard_normal((3, 3)))
    return np.array([0.3, 0.05, 0.01]), q


def naive(x: np.ndarray, alpha: np.ndarray, eigval: np.ndarray, eigvec: np.ndarray
          ) -> np.ndarray:
    """Per image, per pixel, per channel: x + sum_k eigvec[c, k] alpha[n, k] eigval[k]."""
    n_img, c_n, h, w = x.shape
    out = np.array(x, dtype=np.float64)
    for n in range(n_img):
        for i in range(h):
            for j in range(w):
                for c in range(c_n):
                    out[n, c, i, j] += sum(eigvec[c, k] * alpha[n, k] * eigval[k]
                                           for k in range(3))
    return out


# ----------------------------------------------------------------------------- the kernel
def test_kernel_equals_naive_loop_float64_and_float32():
    x = gen(1).random((3, 3, 4, 5))
    lam, vec = basis(2)
    out = B.pca_lighting(x, 0.7, lam, vec, generator=gen(11))
    alpha = 0.7 * gen(11).standard_normal((3, 3))
    np.testing.assert_allclose(out, naive(x, alpha, lam, vec), rtol=1e-12, atol=1e-15)
    assert out.dtype == np.float64 and isinstance(out, np.ndarray)
    # float32 in -> float32 out, and a Tensor comes back as a Tensor
    t = B.pca_lighting(numcnn.Tensor(x.astype(np.float32)), 0.7, lam, vec, generator=gen(11))
    assert isinstance(t, numcnn.Tensor) and t.dtype == np.float32
    np.testing.assert_allclose(t.numpy(), naive(x, alpha, lam, vec), rtol=1e-5, atol=1e-6)


def test_every_image_draws_its_own_shift():
    x = np.zeros((5, 3, 2, 2))
    out = B.pca_lighting(x, 0.1, *basis(0), generator=gen(0))
    shifts = out[:, :, 0, 0]                                       # (N, 3)
    # one shift per image, the same at every pixel of it
    np.testing.assert_array_equal(out, np.broadcast_to(shifts[:, :, None, None], out.shape))
    assert len({tuple(s) for s in shifts.round(12)}) == 5


def test_alphastd_zero_is_identity():
    x = gen(3).random((2, 3, 3, 3)).astype(np.float32)
    np.testing.assert_array_equal(T.PCALighting(0.0).batch(x), x)


def test_uint8_pixels_shift_255_times_rounded_and_clipped():
    lam, vec = basis(4)
    hwc = gen(5).integers(0, 256, size=(2, 6, 7, 3)).astype(np.uint8)
    hwc[0, 0, 0] = (0, 0, 0)
    hwc[0, 0, 1] = (255, 255, 255)
    out = T.PCALighting(1.5, lam, vec, generator=gen(6)).batch(hwc)       # (N, H, W, C)
    alpha = 1.5 * gen(6).standard_normal((2, 3))
    shifted = naive(hwc.transpose(0, 3, 1, 2).astype(np.float64) / 255, alpha, lam, vec) * 255
    assert shifted.min() < 0 and shifted.max() > 255                     # clipping is exercised
    expected = np.clip(np.rint(shifted), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
    assert out.dtype == np.uint8 and out.shape == hwc.shape
    np.testing.assert_array_equal(out, expected)
    # one (H, W, C) image: the first image of the same draw
    one = T.PCALighting(1.5, lam, vec, generator=gen(6))(hwc[0])
    np.testing.assert_array_equal(one, expected[0])


def test_pil_rgb_image_in_pil_image_out():
    Image = pytest.importorskip("PIL.Image")
    hwc = gen(7).integers(0, 256, size=(5, 4, 3)).astype(np.uint8)
    pic = Image.fromarray(hwc, "RGB")
    out = T.PCALighting(0.5, generator=gen(8))(pic)
    assert isinstance(out, Image.Image) and out.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(out), T.PCALighting(0.5, generator=gen(8))(hwc))


# ----------------------------------------------------------------------------- the transform
def test_transform_defaults_are_imagenet_and_single_images_equal_the_batch():
    t = T.PCALighting()
    assert t.alphastd == 0.1
    np.testing.assert_array_equal(t.eigval, [0.2175, 0.0188, 0.0045])
    np.testing.assert_array_equal(t.eigvec[:, 0], [-0.5675, -0.5808, -0.5836])
    assert repr(t) == "PCALighting(alphastd=0.1, eigval=[0.2175, 0.0188, 0.0045])"
    x = gen(9).random((4, 3, 3, 2)).astype(np.float32)
    batched = T.PCALighting(0.2, generator=gen(10)).batch(x)
    one_by_one = T.PCALighting(0.2, generator=gen(10))
    singles = np.stack([one_by_one(x[k]) for k in range(4)])
    np.testing.assert_array_equal(batched, singles)
    alpha = 0.2 * gen(10).standard_normal((4, 3))
    np.testing.assert_allclose(batched, naive(x, alpha, T.IMAGENET_EIGVAL, T.IMAGENET_EIGVEC),
                               rtol=1e-5, atol=1e-6)


def test_default_eigvec_is_orthonormal_and_eigval_descending():
    v = T.IMAGENET_EIGVEC
    # published to 4 decimals: each entry off by <= 5e-5, so a dot product of two columns is
    # off by <= 3 * 2 * 5e-5 = 3e-4 from 0 or 1
    np.testing.assert_allclose(v.T @ v, np.eye(3), atol=3e-4)
    assert np.all(np.diff(T.IMAGENET_EIGVAL) < 0) and np.all(T.IMAGENET_EIGVAL > 0)
    with pytest.raises(ValueError):
        T.IMAGENET_EIGVAL[0] = 1.0                                          # read-only


def test_shift_covariance_matches_the_gaussian_law():
    """Cov(V (alpha * l)) = alphastd^2 V diag(l^2) V^T, for any V.

    Tolerance: the standard deviation of a sample covariance entry of M Gaussian draws is
    sqrt((S_ii S_jj + S_ij^2) / M); we allow 5 of them (a correct kernel fails with
    probability ~1e-6 per entry; with the fixed seed that is decided once, not per run), and
    for the mean 5 sqrt(S_ii / M).
    """
    m, alphastd = 40_000, 0.1
    lam, vec = T.IMAGENET_EIGVAL, T.IMAGENET_EIGVEC
    shifts = T.PCALighting(alphastd, generator=gen(12)).batch(np.zeros((m, 3, 1, 1)))[:, :, 0, 0]
    sigma = alphastd ** 2 * vec @ np.diag(lam ** 2) @ vec.T
    d = np.sqrt(np.diag(sigma))
    tol = 5 * np.sqrt((np.outer(d ** 2, d ** 2) + sigma ** 2) / m)
    cov = np.cov(shifts.T)
    assert np.all(np.abs(cov - sigma) <= tol), (cov, sigma, tol)
    assert np.all(np.abs(shifts.mean(axis=0)) <= 5 * d / np.sqrt(m))
    # the smallest components are checked on their own scale too: in the eigenbasis the
    # shift's coordinates are alpha_k l_k, whose standard deviations are alphastd l_k
    coords = shifts @ np.linalg.inv(vec).T                                 # (M, 3)
    std = coords.std(axis=0, ddof=1) / (alphastd * lam)
    assert np.all(np.abs(std - 1) <= 5 / np.sqrt(2 * m)), std


def test_seeding_reproducible():
    x = gen(13).random((3, 3, 2, 2))
    t = T.PCALighting()
    with B.using_generator(gen(14)):
        a = t.batch(x)
    with B.using_generator(gen(14)):
        b = t.batch(x)
    with B.using_generator(gen(15)):
        c = t.batch(x)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    numcnn.manual_seed(16)
    d = t.batch(x)
    numcnn.manual_seed(16)
    np.testing.assert_array_equal(d, t.batch(x))


def test_compose_batch_equals_per_image_and_the_formula():
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    pipe = T.Compose([T.ToTensor(), T.PCALighting(0.1), T.Normalize(mean, std)])
    assert pipe.has_batch
    hwc = gen(17).integers(0, 256, size=(4, 5, 6, 3)).astype(np.uint8)
    with B.using_generator(gen(18)):
        batched = pipe.batch(hwc)
    with B.using_generator(gen(18)):
        singles = np.stack([pipe(hwc[k]).numpy() for k in range(4)])
    assert isinstance(batched, numcnn.Tensor) and batched.shape == (4, 3, 5, 6)
    np.testing.assert_allclose(batched.numpy(), singles, rtol=1e-6, atol=1e-6)
    alpha = 0.1 * gen(18).standard_normal((4, 3))
    lit = naive(hwc.transpose(0, 3, 1, 2) / 255.0, alpha, T.IMAGENET_EIGVAL, T.IMAGENET_EIGVEC)
    expected = (lit - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    np.testing.assert_allclose(batched.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_dataloader_fast_path_equals_item_path():
    x = gen(19).random((10, 3, 4, 4)).astype(np.float32)
    y = np.arange(10)
    ds = TensorDataset(x, y, transform=T.PCALighting(0.3))
    fast = [b[0].numpy() for b in DataLoader(ds, batch_size=4, generator=0)]
    items = [b[0].numpy() for b in DataLoader(ds, batch_size=4, generator=0,
                                              collate_fn=default_collate)]
    for f, i in zip(fast, items, strict=True):
        np.testing.assert_allclose(f, i, rtol=1e-6, atol=1e-7)
    assert not np.allclose(np.concatenate(fast), x)


# ----------------------------------------------------------------------------- pca_eigen
def correlated_images(n: int = 6, h: int = 7, w: int = 5, seed: int = 20) -> np.ndarray:
    """(N, 3, H, W) float64 pixels with correlated channels (a shared brightness)."""
    g = gen(seed)
    base = g.random((n, 1, h, w))
    return 0.6 * base + 0.4 * g.random((n, 3, h, w)) * np.array([1.0, 0.5, 0.2])[:, None, None]


def check_eigen(lam: np.ndarray, vec: np.ndarray, cov: np.ndarray) -> None:
    np.testing.assert_allclose(cov @ vec, vec * lam, rtol=1e-10, atol=1e-14)    # C v = l v
    np.testing.assert_allclose(lam, np.sort(np.linalg.eigvalsh(cov))[::-1], rtol=1e-10)
    np.testing.assert_allclose(vec.T @ vec, np.eye(3), atol=1e-12)
    assert np.all(np.diff(lam) <= 0)
    lead = np.argmax(np.abs(vec), axis=0)
    assert np.all(vec[lead, np.arange(3)] > 0)                              # sign rule


def test_pca_eigen_of_all_pixels_is_np_cov_eigen():
    x = correlated_images()
    pixels = x.transpose(1, 0, 2, 3).reshape(3, -1)                         # (3, N H W)
    cov = np.cov(pixels)
    lam, vec = T.pca_eigen(x)
    check_eigen(lam, vec, cov)
    assert lam.dtype == vec.dtype == np.float64
    # a Tensor, float32, and uint8 (N, H, W, 3) pixels (divided by 255) give the same kind
    lam32, _ = T.pca_eigen(numcnn.Tensor(x.astype(np.float32)))
    np.testing.assert_allclose(lam32, lam, rtol=1e-5)
    u8 = np.rint(x * 255).astype(np.uint8)
    lam8, vec8 = T.pca_eigen(u8.transpose(0, 2, 3, 1))
    check_eigen(lam8, vec8, np.cov(u8.transpose(1, 0, 2, 3).reshape(3, -1) / 255.0))


def test_pca_eigen_sample_is_seeded_and_close_to_the_full_data():
    x = correlated_images(n=40, h=30, w=30, seed=21)                        # 36,000 pixels
    full, vfull = T.pca_eigen(x)
    a = T.pca_eigen(x, max_pixels=5000, generator=gen(22))
    b = T.pca_eigen(x, max_pixels=5000, generator=gen(22))
    c = T.pca_eigen(x, max_pixels=5000, generator=gen(23))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    # a 5,000-pixel sample: variances within ~sqrt(2/5000) = 2% (x5 for margin) of the full
    np.testing.assert_allclose(a[0], full, rtol=0.1)
    assert abs(a[1][:, 0] @ vfull[:, 0]) > 0.99                             # same first axis


def test_pca_eigen_from_a_dataset_of_images():
    x = correlated_images(n=5, h=4, w=6)
    ds = TensorDataset(x.astype(np.float64), np.zeros(5))                   # items (image, label)
    lam, vec = T.pca_eigen(ds)
    check_eigen(lam, vec, np.cov(x.transpose(1, 0, 2, 3).reshape(3, -1)))
    # images of different sizes, uint8 (H, W, 3), in a plain list
    g = gen(24)
    imgs = [g.integers(0, 256, size=(h, w, 3)).astype(np.uint8) for h, w in [(3, 4), (5, 2)]]
    lam, vec = T.pca_eigen(imgs)
    pixels = np.concatenate([i.reshape(-1, 3) for i in imgs]) / 255.0
    check_eigen(lam, vec, np.cov(pixels.T))


def test_pca_eigen_dataset_sample_reads_max_images_items():
    # image i is one colour all over, so any ceil(40 / 8) = 5 of its 9 pixels are that colour
    # 5 times: the covariance is np.cov of the read images' colours, each repeated 5 times
    colours = gen(25).random((30, 3))

    class Recording:
        def __init__(self) -> None:
            self.read: list[int] = []

        def __len__(self) -> int:
            return 30

        def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
            self.read.append(i)
            return np.broadcast_to(colours[i][:, None, None], (3, 3, 3)).copy(), i

    ds = Recording()
    lam, vec = T.pca_eigen(ds, max_pixels=40, generator=gen(26), max_images=8)
    assert len(ds.read) == 8 and len(set(ds.read)) == 8
    check_eigen(lam, vec, np.cov(np.repeat(colours[ds.read], 5, axis=0).T))
    again = Recording()
    lam2, vec2 = T.pca_eigen(again, max_pixels=40, generator=gen(26), max_images=8)
    assert again.read == ds.read
    np.testing.assert_array_equal(lam, lam2)
    np.testing.assert_array_equal(vec, vec2)


def test_pca_eigen_feeds_pca_lighting():
    lam, vec = T.pca_eigen(correlated_images())
    x = correlated_images(n=2, seed=26)
    out = T.PCALighting(0.1, lam, vec, generator=gen(27)).batch(x)
    alpha = 0.1 * gen(27).standard_normal((2, 3))
    np.testing.assert_allclose(out, naive(x, alpha, lam, vec), rtol=1e-12)


# ----------------------------------------------------------------------------- errors
def test_errors():
    lam, vec = basis(0)
    with pytest.raises(ValueError, match="3 channels, got 1"):
        T.PCALighting()(np.zeros((1, 4, 4), np.float32))
    with pytest.raises(ValueError, match="3 channels, got 4"):
        T.PCALighting().batch(np.zeros((2, 5, 5, 4), np.uint8))             # RGBA
    with pytest.raises(ValueError, match="3 channels, got 1"):
        T.PCALighting()(np.zeros((4, 4), np.uint8))                          # grey (H, W)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        T.PCALighting().batch(np.zeros((3, 4, 4), np.float32))
    with pytest.raises(ValueError, match="batch of shape"):
        B.pca_lighting(np.zeros((3, 4, 4)), 0.1, lam, vec)
    with pytest.raises(TypeError, match="int16"):
        B.pca_lighting(np.zeros((1, 3, 2, 2), np.int16), 0.1, lam, vec)
    with pytest.raises(ValueError, match=r"eigval must have shape \(3,\)"):
        T.PCALighting(0.1, [1.0, 2.0], vec)
    with pytest.raises(ValueError, match=r"eigvec must have shape \(3, 3\)"):
        T.PCALighting(0.1, lam, vec[:, :2])
    with pytest.raises(ValueError, match="both eigval and eigvec"):
        T.PCALighting(0.1, eigval=lam)
    with pytest.raises(ValueError, match="alphastd"):
        T.PCALighting(-0.1)
    with pytest.raises(ValueError, match="finite"):
        T.PCALighting(0.1, [np.nan, 1.0, 1.0], vec)
    with pytest.raises(ValueError, match="3 channels, got 1"):
        T.pca_eigen(np.zeros((2, 1, 4, 4)))
    with pytest.raises(ValueError, match="item 0 of the dataset"):
        T.pca_eigen([np.zeros((4, 4), np.uint8)])
    with pytest.raises(ValueError, match="empty"):
        T.pca_eigen([])
    with pytest.raises(TypeError, match="dataset"):
        T.pca_eigen(42)
    with pytest.raises(ValueError, match="max_pixels"):
        T.pca_eigen(np.zeros((2, 3, 4, 4)), max_pixels=1)
    with pytest.raises(ValueError, match="max_images"):
        T.pca_eigen([np.zeros((3, 2, 2))], max_images=0)
    with pytest.raises(TypeError, match="int32"):
        T.pca_eigen(np.zeros((2, 3, 4, 4), np.int32))
