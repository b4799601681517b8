"""The principal components of a data set's RGB pixels, for AlexNet's PCA colour
augmentation (`PCALighting`, kernel `batch.pca_lighting`).

Krizhevsky, Sutskever & Hinton (2012), "ImageNet Classification with Deep Convolutional Neural
Networks", section 4.1: perform PCA on the set of RGB pixel values throughout the training
set, then add to each training image multiples of the principal components p_i with
magnitudes alpha_i * lambda_i, alpha_i ~ N(0, 0.1^2) drawn once per image:

    I_xy += [p1, p2, p3] [alpha1 lambda1, alpha2 lambda2, alpha3 lambda3]^T

`pca_eigen` computes (lambda, [p1 p2 p3]) from images; `IMAGENET_EIGVAL` / `IMAGENET_EIGVEC`
are the values widely published for ImageNet's pixels in [0, 1], RGB order (those of
fb.resnet.torch's `datasets/imagenet.lua`, Facebook's ResNet training code, and of the many
training scripts that copied them). Their scale is not documented: their sum (0.2408) exceeds
the total variance of ImageNet's pixels implied by the standard normalisation std
(0.229^2 + 0.224^2 + 0.225^2 = 0.153), so they are not plain covariance eigenvalues of [0, 1]
pixels (nor their square roots: the squares sum to 0.048); treat them as the conventional
setting for alphastd = 0.1. Eigenvalues from `pca_eigen` are the covariance's own (the paper's
lambda_i, in squared pixel units), bounded by the total variance (about 0.15 for ImageNet), so
the same alphastd gives somewhat smaller shifts with them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from numcnn.data.transforms import layout
from numcnn.data.transforms.batch import resolve_generator
from numcnn.tensor import Tensor

__all__ = ["IMAGENET_EIGVAL", "IMAGENET_EIGVEC", "pca_eigen"]

# ImageNet, pixels in [0, 1], RGB; the columns of IMAGENET_EIGVEC are the eigenvectors, in the
# order of IMAGENET_EIGVAL (published to 4 decimals, so orthonormal to about 1e-4).
IMAGENET_EIGVAL = np.array([0.2175, 0.0188, 0.0045])
IMAGENET_EIGVEC = np.array([
    [-0.5675, 0.7192, 0.4009],
    [-0.5808, -0.0045, -0.8140],
    [-0.5836, -0.6948, 0.4203],
])
IMAGENET_EIGVAL.flags.writeable = False
IMAGENET_EIGVEC.flags.writeable = False


def _pixels01(a: np.ndarray, what: str) -> np.ndarray:
    """(M, 3) pixels of any dtype -> float64 on the [0, 1] scale (uint8 / 255)."""
    if a.dtype == np.uint8:
        return a.astype(np.float64) / 255.0
    if a.dtype.kind != "f":
        raise TypeError(
            f"pca_eigen expects floating-point pixels (in [0, 1]) or uint8 pixels, got "
            f"{a.dtype} ({what})"
        )
    return a.astype(np.float64)


def _check_rgb(x: np.ndarray, what: str) -> None:
    if x.shape[1] != 3:
        raise ValueError(
            f"pca_eigen needs RGB images with 3 channels, got {x.shape[1]} channel(s) ({what}, "
            f"shape {x.shape})"
        )


def _sample_batch(x: Any, max_pixels: int, rng: np.random.Generator) -> np.ndarray:
    """A batch (N, 3, H, W) (uint8: (N, H, W, 3)) -> (M, 3) pixels, M = min(N H W,
    max_pixels), drawn uniformly without replacement over all the batch's pixels."""
    a, _ = layout.batch_as_nchw(x, "pca_eigen")
    _check_rgb(a, "the batch")
    n, _, h, w = a.shape
    total = n * h * w
    if total <= max_pixels:
        px = a.transpose(0, 2, 3, 1).reshape(total, 3)                       # (N H W, 3)
    else:
        k = np.sort(rng.choice(total, size=max_pixels, replace=False))       # (M,)
        idx, j = np.divmod(k, w)
        idx, i = np.divmod(idx, h)
        px = a[idx, :, i, j]                                                 # (M, 3)
    return _pixels01(px, "the batch")


def _sample_dataset(dataset: Any, max_pixels: int, max_images: int,
                    rng: np.random.Generator) -> np.ndarray:
    """min(len, max_images) items drawn without replacement; from each image, up to
    ceil(max_pixels / images) of its pixels drawn without replacement -> (M, 3)."""
    try:
        size = len(dataset)
    except TypeError:
        raise TypeError(
            f"pca_eigen expects an (N, 3, H, W) array or Tensor, or a map-style dataset (with "
            f"len and indexing) of images, got {type(dataset).__name__}"
        ) from None
    if size == 0:
        raise ValueError("pca_eigen: the dataset is empty")
    count = min(size, max_images)
    picks = np.sort(rng.choice(size, size=count, replace=False)) if count < size \
        else np.arange(size)
    quota = math.ceil(max_pixels / count)
    parts = []
    for index in picks:                 # one item at a time: images may differ in size
        item = dataset[int(index)]
        img = item[0] if isinstance(item, (tuple, list)) else item
        what = f"item {int(index)} of the dataset"
        try:
            x, _ = layout.as_nchw(img, "pca_eigen")                          # (1, C, H, W)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{e} ({what})") from None
        _check_rgb(x, what)
        px = x[0].reshape(3, -1).T                                           # (H W, 3)
        if px.shape[0] > quota:
            px = px[np.sort(rng.choice(px.shape[0], size=quota, replace=False))]
        parts.append(_pixels01(px, what))
    return np.concatenate(parts)


def pca_eigen(images: Any, max_pixels: int = 1_000_000,
              generator: np.random.Generator | None = None, *, max_images: int = 1000
              ) -> tuple[np.ndarray, np.ndarray]:
    """The principal components of RGB pixel values: eigenvalues and eigenvectors of their 3x3
    covariance, for `PCALighting(eigval=..., eigvec=...)`.

    With X the (M, 3) sampled pixels on the [0, 1] scale (uint8 pixels are divided by 255,
    float pixels are taken as they are) and mu their mean,

        C = (X - mu)^T (X - mu) / (M - 1)       (np.cov's unbiased estimate)
        C v_k = l_k v_k,   l_1 >= l_2 >= l_3 >= 0

    Which pixels: for an (N, 3, H, W) array or Tensor (uint8 arrays as (N, H, W, 3), the
    layout rule of the transforms), all N H W pixels if there are at most `max_pixels`, else
    `max_pixels` of them drawn uniformly without replacement. For a dataset (anything with
    `len` and integer indexing whose items are images, or (image, ...) tuples, in any layout
    the transforms take: PIL, uint8 (H, W, 3), (3, H, W) float or Tensor): `max_images` items
    (default 1000; all if fewer) drawn without replacement, and from each of them up to
    ceil(max_pixels / images) pixels drawn without replacement (so every sampled image counts
    about equally). The items are read with the dataset's own transform: pass one without
    augmentation or normalisation, as the lighting is applied to [0, 1] pixels.

    Args:
        images: (N, 3, H, W) ndarray/Tensor, uint8 (N, H, W, 3) ndarray, or a dataset.
        max_pixels: at most this many pixels enter the covariance (>= 2).
        generator: np.random.Generator for the sample (see `batch.resolve_generator`);
            equal seeds give equal results.
        max_images: at most this many items of a dataset are read.

    Returns:
        (eigval (3,), eigvec (3, 3)) float64: eigenvalues in descending order (tiny negative
        round-off clipped to 0); eigenvectors as columns, each with the sign that makes its
        entry of largest magnitude positive (the first such entry on a tie), so the result is
        deterministic. (The sign does not change the lighting's distribution: alpha is
        symmetric.)

    Raises:
        ValueError: not 3 channels, an empty dataset, max_pixels < 2 or max_images < 1.
        TypeError: not an array, a Tensor or a dataset; pixels neither float nor uint8.
    """
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer)) \
            or max_pixels < 2:
        raise ValueError(f"max_pixels must be an int >= 2, got {max_pixels!r}")
    if isinstance(max_images, bool) or not isinstance(max_images, (int, np.integer)) \
            or max_images < 1:
        raise ValueError(f"max_images must be an int >= 1, got {max_images!r}")
    rng = resolve_generator(generator)
    if isinstance(images, (np.ndarray, Tensor)):
        px = _sample_batch(images, int(max_pixels), rng)
    else:
        px = _sample_dataset(images, int(max_pixels), int(max_images), rng)
    if px.shape[0] < 2:
        raise ValueError(f"pca_eigen needs at least 2 pixels, got {px.shape[0]}")
    if not np.all(np.isfinite(px)):
        raise ValueError("pca_eigen: the pixels contain NaN or infinity")
    xc = px - px.mean(axis=0)                                                # (M, 3)
    cov = xc.T @ xc / (px.shape[0] - 1)                                      # (3, 3)
    lam, vec = np.linalg.eigh(cov)                                           # ascending
    lam, vec = np.maximum(lam[::-1], 0.0), vec[:, ::-1]
    lead = np.argmax(np.abs(vec), axis=0)                                    # (3,)
    vec = vec * np.where(vec[lead, np.arange(3)] < 0, -1.0, 1.0)
    return np.ascontiguousarray(lam), np.ascontiguousarray(vec)
