"""`SyntheticShapes`: a generated dataset of geometric shapes, no files needed.

Each image is one shape on a dark, noisy background. Shape k of the chosen `classes` is drawn
through its signed distance d(p) (negative inside) in the shape's own frame — centred at a
random position, turned by a random angle, scaled by a random radius r — and anti-aliased by
coverage: value = intensity * clip(0.5 - d, 0, 1) (d in pixels), plus N(0, noise^2) noise.

    circle    d = |p| - r
    square    d = max(|x|, |y|) - 0.8 r
    triangle  d = max_k (n_k . p) - r / 2      (equilateral, circumradius r; n_k unit normals)
    cross     d = min(max(|x| - r, |y| - 0.3 r), max(|x| - 0.3 r, |y| - r))
    ring      d = | |p| - 0.72 r | - 0.28 r

Everything is a function of `seed`: the parameters are drawn in one fixed order from one
generator, and the images rendered vectorised, a chunk of images at a time.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from numcnn.data.dataset import LabelledImages

__all__ = ["SyntheticShapes", "SHAPES"]

SHAPES = ("circle", "square", "triangle", "cross", "ring")
_CHUNK = 2048


def _sdf(shape: str, x: np.ndarray, y: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Signed distance (pixels) of the points (x, y) (shape frame) to the shape of radius r."""
    if shape == "circle":
        return np.hypot(x, y) - r
    if shape == "square":
        return np.maximum(np.abs(x), np.abs(y)) - 0.8 * r
    if shape == "triangle":
        angles = np.radians([90.0, 210.0, 330.0])   # outward normals (y down: apex at top)
        d = [np.cos(a) * x - np.sin(a) * y for a in angles]
        return np.maximum(np.maximum(d[0], d[1]), d[2]) - 0.5 * r
    if shape == "cross":
        w = 0.3 * r
        ax, ay = np.abs(x), np.abs(y)
        return np.minimum(np.maximum(ax - r, ay - w), np.maximum(ax - w, ay - r))
    if shape == "ring":
        return np.abs(np.hypot(x, y) - 0.72 * r) - 0.28 * r
    raise ValueError(f"unknown shape {shape!r}; choose from {SHAPES}")


class SyntheticShapes(LabelledImages):
    """n images (1, size, size) float32 of random shapes, with int64 labels, from `seed`.

    Args:
        n: number of images.
        size: image height and width (>= 12).
        classes: shape names, label k = classes[k]; any of SHAPES.
        seed: everything (labels, positions, sizes, angles, intensities, noise) follows from it.
        noise: standard deviation of the Gaussian pixel noise.
        transform: applied to each image (vectorised via its `batch` method by `get_batch`).
        target_transform: applied to each label.

    Attributes:
        data: (n, 1, size, size) float32; targets: (n,) int64 (balanced: n // k or one more
        per class, in random order).
    """

    def __init__(self, n: int = 1000, size: int = 28, classes: Sequence[str] = SHAPES,
                 seed: int = 0, noise: float = 0.1,
                 transform: Callable[[Any], Any] | None = None,
                 target_transform: Callable[[Any], Any] | None = None) -> None:
        if not isinstance(n, int) or n <= 0:
            raise ValueError(f"n must be a positive int, got {n!r}")
        if not isinstance(size, int) or size < 12:
            raise ValueError(f"size must be an int >= 12, got {size!r}")
        classes = tuple(classes)
        unknown = [c for c in classes if c not in SHAPES]
        if unknown or not classes or len(set(classes)) != len(classes):
            raise ValueError(
                f"classes must be distinct names from {SHAPES}, got {classes!r}"
            )
        if noise < 0:
            raise ValueError(f"noise must be non-negative, got {noise}")
        self.n, self.size, self.classes, self.seed, self.noise = n, size, classes, seed, noise
        self.transform, self.target_transform = transform, target_transform
        rng = np.random.Generator(np.random.PCG64(seed))
        k = len(classes)
        labels = rng.permutation(np.arange(n) % k)
        radius = rng.uniform(0.2, 0.34, size=n) * size
        # centre: every shape lies within 1.15 r of it (a square's corner: 0.8 sqrt(2) r),
        # so the shape stays a pixel inside the image
        lo, hi = 1.15 * radius + 1.0, size - 2.0 - 1.15 * radius
        cx = lo + rng.random(n) * (hi - lo)
        cy = lo + rng.random(n) * (hi - lo)
        angle = rng.uniform(0.0, 2 * np.pi, size=n)
        intensity = rng.uniform(0.6, 1.0, size=n)
        images = np.empty((n, 1, size, size), dtype=np.float32)
        grid = np.arange(size, dtype=np.float32)
        for start in range(0, n, _CHUNK):
            sl = slice(start, min(start + _CHUNK, n))
            # pixel coordinates relative to each centre, in the shape frame: (m, S, S)
            dx = grid[None, None, :] - cx[sl, None, None].astype(np.float32)
            dy = grid[None, :, None] - cy[sl, None, None].astype(np.float32)
            c = np.cos(angle[sl])[:, None, None].astype(np.float32)
            s = np.sin(angle[sl])[:, None, None].astype(np.float32)
            x, y = c * dx + s * dy, -s * dx + c * dy
            r = radius[sl, None, None].astype(np.float32)
            d = np.empty_like(x)
            for label, shape in enumerate(classes):
                m = labels[sl] == label
                if np.any(m):
                    d[m] = _sdf(shape, x[m], y[m], r[m])
            cover = np.clip(0.5 - d, 0.0, 1.0)
            images[sl, 0] = intensity[sl, None, None].astype(np.float32) * cover
        images += rng.standard_normal(images.shape, dtype=np.float32) * np.float32(noise)
        self.data: np.ndarray = images
        self.targets: np.ndarray = labels.astype(np.int64)

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(n={self.n}, size={self.size}, classes={self.classes}, "
                f"seed={self.seed}, noise={self.noise})")
