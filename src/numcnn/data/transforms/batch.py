"""Vectorised transforms on a whole batch: one array operation per batch, never a loop per image.

Axis legend: N batch, C channels, H/W input height/width, h/w output (crop) height/width,
P = h*w output pixels.

Every function takes an (N, C, H, W) ndarray or Tensor and returns the same kind. Random
functions draw *independent* parameters for every image, all at once, from one generator
(`resolve_generator`): the one passed in, else the generator a `DataLoader` installed for the
batch it is loading (so that augmentation is reproducible with and without prefetch, and after
a mid-epoch resume), else `numcnn.random.generator()`.

Geometry follows torchvision: pixel centres at integer coordinates, the centre of rotation at
((W-1)/2, (H-1)/2), `rotate` counter-clockwise in degrees, `affine`'s angle clockwise (as
`torchvision.transforms.functional.affine`), translations in pixels (positive x moves the
content right), resize with half-pixel centres (`align_corners=False`).

Every geometric warp is one inverse-mapped gather per batch: each output pixel's source
position is computed from the (N, 2, 3) inverse matrices, and the values are gathered from the
flattened images (4 gathers for bilinear, 1 for nearest).
"""

from __future__ import annotations

import contextlib
import math
import threading
from enum import Enum
from typing import Any, Iterator, Sequence, Union

import numpy as np

from numcnn import random as nrandom
from numcnn.tensor import Tensor

__all__ = [
    "InterpolationMode", "resolve_generator", "using_generator",
    "to_tensor", "normalize", "pad", "crop", "center_crop", "random_crop",
    "horizontal_flip", "vertical_flip", "random_horizontal_flip", "random_vertical_flip",
    "inverse_affine_matrix", "warp_affine", "expanded_size", "rotate", "affine", "random_rotation",
    "random_affine", "resized_crop", "resize", "random_resized_crop", "random_erasing",
    "pca_lighting",
]

ArrayLike = Union[np.ndarray, Tensor]
Fill = Union[float, Sequence[float]]


class InterpolationMode(str, Enum):
    """Interpolation of the geometric transforms (torchvision's names)."""

    NEAREST = "nearest"
    BILINEAR = "bilinear"


def _mode(interpolation: Any) -> InterpolationMode:
    try:
        return InterpolationMode(interpolation)
    except ValueError:
        raise ValueError(
            f"interpolation must be 'nearest' or 'bilinear' (or an InterpolationMode), "
            f"got {interpolation!r}"
        ) from None


# ----------------------------------------------------------------------------- generators
_local = threading.local()


def resolve_generator(generator: np.random.Generator | None = None) -> np.random.Generator:
    """The generator a random transform draws from.

    Order: `generator` if given, else the one `using_generator` installed in this thread (a
    DataLoader does so for every batch it loads), else `numcnn.random.generator()`.
    """
    if generator is not None:
        if not isinstance(generator, np.random.Generator):
            raise TypeError(
                f"generator must be a numpy.random.Generator or None, got "
                f"{type(generator).__name__}"
            )
        return generator
    installed = getattr(_local, "generator", None)
    return installed if installed is not None else nrandom.generator()


@contextlib.contextmanager
def using_generator(generator: np.random.Generator | None) -> Iterator[None]:
    """Within the block (in this thread only), transforms without their own generator draw
    from `generator`."""
    previous = getattr(_local, "generator", None)
    _local.generator = generator
    try:
        yield
    finally:
        _local.generator = previous


# ----------------------------------------------------------------------------- helpers
def _unwrap(x: ArrayLike, name: str = "input", ndim: int | None = 4) -> np.ndarray:
    a = x.array if isinstance(x, Tensor) else x
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be an ndarray or a Tensor, got {type(x).__name__}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must be a batch of shape (N, C, H, W), got shape {a.shape}")
    return a


def _like(out: np.ndarray, x: ArrayLike) -> ArrayLike:
    return Tensor(out) if isinstance(x, Tensor) else out


def _pair(value: Any, name: str) -> tuple[int, int]:
    """An int or a 1-/2-sequence as (h, w)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) in (1, 2):
        v = tuple(int(s) for s in value)
        return (v[0], v[0]) if len(v) == 1 else (v[0], v[1])
    raise ValueError(f"{name} must be an int or a sequence of 1 or 2 ints, got {value!r}")


def _fill_array(fill: Fill | None, channels: int, dtype: np.dtype) -> np.ndarray:
    """fill -> (C,) values (a scalar is broadcast; a sequence needs one value per channel)."""
    f = np.atleast_1d(np.asarray(0 if fill is None else fill, dtype=np.float64))
    if f.ndim != 1 or f.size not in (1, channels):
        raise ValueError(
            f"fill must be a number or a sequence of {channels} numbers (one per channel), "
            f"got {fill!r}"
        )
    return np.broadcast_to(f, (channels,)).astype(dtype)


def _round_like(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float results back to the input dtype (rounded, clipped for integer images)."""
    if dtype.kind in "iub":
        info = np.iinfo(dtype) if dtype.kind != "b" else None
        v = np.rint(values)
        if info is not None:
            v = np.clip(v, info.min, info.max)
        return v.astype(dtype)
    return values.astype(dtype, copy=False)


# ----------------------------------------------------------------------------- pixel values
def to_tensor(x: ArrayLike) -> Tensor:
    """uint8 (N, H, W) or (N, H, W, C) -> float32 (N, C, H, W) in [0, 1].

    x / 255 for uint8; other dtypes only change layout (as torchvision's ToTensor).
    """
    a = x.array if isinstance(x, Tensor) else np.asarray(x)
    if a.ndim == 3:
        a = a[:, None]
    elif a.ndim == 4:
        a = a.transpose(0, 3, 1, 2)
    else:
        raise ValueError(f"to_tensor expects (N, H, W) or (N, H, W, C) images, got {a.shape}")
    if a.dtype == np.uint8:
        return Tensor(np.multiply(a, np.float32(1 / 255), dtype=np.float32))
    return Tensor(np.ascontiguousarray(a))


def _mean_std(mean: Any, std: Any, channels: int, dtype: np.dtype
              ) -> tuple[np.ndarray, np.ndarray]:
    m = np.atleast_1d(np.asarray(mean, dtype=np.float64))
    s = np.atleast_1d(np.asarray(std, dtype=np.float64))
    for name, v in (("mean", m), ("std", s)):
        if v.ndim != 1 or v.size not in (1, channels):
            raise ValueError(
                f"{name} must have 1 or {channels} (channels) values, got {v.size}"
            )
    if np.any(s == 0):
        raise ValueError(
            f"std evaluated to zero after conversion to {dtype}, leading to division by zero."
        )
    return m.astype(dtype), s.astype(dtype)


def normalize(x: ArrayLike, mean: Sequence[float], std: Sequence[float]) -> ArrayLike:
    """y[n, c] = (x[n, c] - mean[c]) / std[c]."""
    a = _unwrap(x)
    if a.dtype.kind != "f":
        raise TypeError(f"normalize expects a floating-point input, got {a.dtype}")
    m, s = _mean_std(mean, std, a.shape[1], a.dtype)
    return _like((a - m[:, None, None]) / s[:, None, None], x)


# ----------------------------------------------------------------------------- crops and pads
_PAD_MODES = {"constant": "constant", "edge": "edge", "reflect": "reflect",
              "symmetric": "symmetric"}


def _padding4(padding: Any) -> tuple[int, int, int, int]:
    """torchvision's padding: int, (left/right, top/bottom) or (left, top, right, bottom)."""
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
        p = int(padding)
        return p, p, p, p
    if isinstance(padding, (tuple, list)) and len(padding) in (1, 2, 4):
        v = [int(q) for q in padding]
        if len(v) == 1:
            return v[0], v[0], v[0], v[0]
        if len(v) == 2:
            return v[0], v[1], v[0], v[1]
        return v[0], v[1], v[2], v[3]
    raise ValueError(
        f"padding must be an int or a sequence of 1, 2 or 4 ints, got {padding!r}"
    )


def pad(x: ArrayLike, padding: Any, fill: Fill = 0, padding_mode: str = "constant"
        ) -> ArrayLike:
    """Pad H and W: padding is an int, (left/right, top/bottom) or (left, top, right, bottom).

    padding_mode: 'constant' (with `fill`), 'edge', 'reflect' (mirror without repeating the
    edge) or 'symmetric' (mirror repeating the edge).
    """
    a = _unwrap(x)
    left, top, right, bottom = _padding4(padding)
    if min(left, top, right, bottom) < 0:
        raise ValueError(f"padding must be non-negative, got {padding!r}")
    if padding_mode not in _PAD_MODES:
        raise ValueError(
            f"padding_mode must be one of {sorted(_PAD_MODES)}, got {padding_mode!r}"
        )
    if left == top == right == bottom == 0:
        return x
    n, c, h, w = a.shape
    if padding_mode == "constant":
        out = np.empty((n, c, h + top + bottom, w + left + right), dtype=a.dtype)
        out[...] = _fill_array(fill, c, a.dtype)[:, None, None]
        out[:, :, top:top + h, left:left + w] = a
    else:
        out = np.pad(a, ((0, 0), (0, 0), (top, bottom), (left, right)),
                     mode=_PAD_MODES[padding_mode])  # type: ignore[call-overload]
    return _like(out, x)


def crop(x: ArrayLike, top: Any, left: Any, height: int, width: int) -> ArrayLike:
    """out[n] = x[n, :, top[n]:top[n]+height, left[n]:left[n]+width] (top/left: ints or (N,)).

    Windows must lie inside the image (pad first). One strided-view gather for the batch.
    """
    a = _unwrap(x)
    n, c, h, w = a.shape
    i = np.broadcast_to(np.asarray(top, dtype=np.int64), (n,))
    j = np.broadcast_to(np.asarray(left, dtype=np.int64), (n,))
    if np.any(i < 0) or np.any(j < 0) or np.any(i + height > h) or np.any(j + width > w):
        raise ValueError(
            f"crop windows of size ({height}, {width}) must lie inside the ({h}, {w}) images"
        )
    windows = np.lib.stride_tricks.sliding_window_view(a, (height, width), axis=(2, 3))
    # windows: (N, C, H-h+1, W-w+1, h, w) -> out: (N, C, h, w)
    return _like(np.ascontiguousarray(windows[np.arange(n), :, i, j]), x)


def center_crop(x: ArrayLike, output_size: Any) -> ArrayLike:
    """The central (h, w) window; images smaller than that are zero-padded first (torchvision).

    top = round((H - h) / 2), left = round((W - w) / 2) (Python's round, as torchvision).
    """
    a = _unwrap(x)
    th, tw = _pair(output_size, "size")
    h, w = a.shape[2:]
    if th > h or tw > w:
        pl, pt = (tw - w) // 2 if tw > w else 0, (th - h) // 2 if th > h else 0
        pr, pb = (tw - w + 1) // 2 if tw > w else 0, (th - h + 1) // 2 if th > h else 0
        x = pad(x, (pl, pt, pr, pb))
        a = _unwrap(x)
        h, w = a.shape[2:]
        if h == th and w == tw:
            return x
    return crop(x, int(round((h - th) / 2.0)), int(round((w - tw) / 2.0)), th, tw)


def random_crop(x: ArrayLike, size: Any, padding: Any = None, pad_if_needed: bool = False,
                fill: Fill = 0, padding_mode: str = "constant",
                generator: np.random.Generator | None = None) -> ArrayLike:
    """Pad, then crop an (h, w) window at a uniformly drawn position, independently per image.

    top ~ U{0, ..., H_padded - h}, left ~ U{0, ..., W_padded - w}. With `pad_if_needed`, an image
    narrower (shorter) than the crop is padded by the difference on *both* sides (torchvision).
    """
    th, tw = _pair(size, "size")
    if padding is not None:
        x = pad(x, padding, fill, padding_mode)
    a = _unwrap(x)
    h, w = a.shape[2:]
    if pad_if_needed and w < tw:
        x = pad(x, (tw - w, 0), fill, padding_mode)
    if pad_if_needed and h < th:
        x = pad(x, (0, th - h), fill, padding_mode)
    a = _unwrap(x)
    n, _, h, w = a.shape
    if h < th or w < tw:
        raise ValueError(
            f"Required crop size {(th, tw)} is larger than input image size {(h, w)}"
        )
    rng = resolve_generator(generator)
    i = rng.integers(0, h - th + 1, size=n)
    j = rng.integers(0, w - tw + 1, size=n)
    return crop(x, i, j, th, tw)


# ----------------------------------------------------------------------------- flips
def horizontal_flip(x: ArrayLike) -> ArrayLike:
    """Mirror left-right: out[..., j] = x[..., W-1-j]."""
    return _like(np.ascontiguousarray(_unwrap(x, ndim=None)[..., ::-1]), x)


def vertical_flip(x: ArrayLike) -> ArrayLike:
    """Mirror top-bottom: out[..., i, :] = x[..., H-1-i, :]."""
    return _like(np.ascontiguousarray(_unwrap(x, ndim=None)[..., ::-1, :]), x)


def _check_p(p: float) -> float:
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], got {p}")
    return float(p)


def _random_flip(x: ArrayLike, p: float, axis: int,
                 generator: np.random.Generator | None) -> ArrayLike:
    a = _unwrap(x)
    flip = resolve_generator(generator).random(a.shape[0]) < _check_p(p)     # (N,)
    out = a.copy()
    if np.any(flip):
        out[flip] = np.flip(a[flip], axis=axis)
    return _like(out, x)


def random_horizontal_flip(x: ArrayLike, p: float = 0.5,
                           generator: np.random.Generator | None = None) -> ArrayLike:
    """Mirror each image left-right with probability p (one draw per image)."""
    return _random_flip(x, p, 3, generator)


def random_vertical_flip(x: ArrayLike, p: float = 0.5,
                         generator: np.random.Generator | None = None) -> ArrayLike:
    """Mirror each image top-bottom with probability p (one draw per image)."""
    return _random_flip(x, p, 2, generator)


# ----------------------------------------------------------------------------- affine warps
def inverse_affine_matrix(angle: Any, translate: Any = (0.0, 0.0), scale: Any = 1.0,
                          shear: Any = (0.0, 0.0), center: Any = (0.0, 0.0)) -> np.ndarray:
    """torchvision's `_get_inverse_affine_matrix`, vectorised: (N, 2, 3) inverse maps.

    The forward map is  p_out = T + C + R(angle) S(scale) Sh_y Sh_x (p_in - C), in pixel
    coordinates relative to the image centre (y down), with R(a) = [[cos a, -sin a],
    [sin a, cos a]] (so a positive angle turns clockwise on screen, as torchvision's
    `affine`). Every argument broadcasts over N: angle, scale (N,); translate, shear,
    center (N, 2) or (2,). Angles and shears in degrees.
    """
    rot = np.radians(np.asarray(angle, dtype=np.float64))
    shear = np.asarray(shear, dtype=np.float64)
    sx, sy = np.radians(shear[..., 0]), np.radians(shear[..., 1])
    t = np.asarray(translate, dtype=np.float64)
    c = np.asarray(center, dtype=np.float64)
    tx, ty, cx, cy = t[..., 0], t[..., 1], c[..., 0], c[..., 1]
    s = np.asarray(scale, dtype=np.float64)
    # RSS without scaling: [[a, b], [c, d]] (determinant 1)
    a_ = np.cos(rot - sy) / np.cos(sy)
    b_ = -np.cos(rot - sy) * np.tan(sx) / np.cos(sy) - np.sin(rot)
    c_ = np.sin(rot - sy) / np.cos(sy)
    d_ = -np.sin(rot - sy) * np.tan(sx) / np.cos(sy) + np.cos(rot)
    m00, m01, m10, m11 = d_ / s, -b_ / s, -c_ / s, a_ / s
    m02 = m00 * (-cx - tx) + m01 * (-cy - ty) + cx
    m12 = m10 * (-cx - tx) + m11 * (-cy - ty) + cy
    m = np.stack(np.broadcast_arrays(m00, m01, m02, m10, m11, m12), axis=-1)
    return m.reshape(m.shape[:-1] + (2, 3)).reshape(-1, 2, 3)


def warp_affine(x: ArrayLike, matrix: np.ndarray, interpolation: Any = "nearest",
                fill: Fill = 0, output_size: tuple[int, int] | None = None) -> ArrayLike:
    """out[n, :, y, x] = x[n, :, src] with src = matrix[n] @ (x - ox, y - oy, 1) + (cx, cy).

    `matrix` (N, 2, 3) or (2, 3) maps output coordinates relative to the output's centre
    (ox, oy) = ((w-1)/2, (h-1)/2) to input coordinates relative to the input's centre
    (cx, cy) = ((W-1)/2, (H-1)/2). `output_size` (h, w): default the input's (H, W).
    Bilinear: the four neighbours weighted by (1 - fx)(1 - fy) ...; a neighbour outside the
    image contributes `fill` (out = sum_in w v + (1 - sum_in w) fill). Nearest: the neighbour
    at the rounded (half to even) position, `fill` outside.
    """
    a = _unwrap(x)
    mode = _mode(interpolation)
    n, c, h, w = a.shape
    oh, ow = (h, w) if output_size is None else output_size
    m = np.broadcast_to(np.asarray(matrix, dtype=np.float64).reshape(-1, 2, 3), (n, 2, 3))
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    u = np.arange(ow, dtype=np.float64) - (ow - 1) / 2.0             # (w,)
    v = np.arange(oh, dtype=np.float64) - (oh - 1) / 2.0             # (h,)
    # source coordinates: (N, h, w) -> (N, P)
    sx = (m[:, 0, 0, None, None] * u + m[:, 0, 1, None, None] * v[:, None]
          + m[:, 0, 2, None, None] + cx).reshape(n, -1)
    sy = (m[:, 1, 0, None, None] * u + m[:, 1, 1, None, None] * v[:, None]
          + m[:, 1, 2, None, None] + cy).reshape(n, -1)
    flat = a.reshape(n, c, h * w)                                    # (N, C, H*W)
    fill_c = _fill_array(fill, c, np.dtype(np.float64))[None, :, None]   # (1, C, 1)

    def gather(yi: np.ndarray, xi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)         # (N, P)
        idx = np.where(inside, yi * w + xi, 0)
        vals = np.take_along_axis(flat, idx[:, None, :], axis=2)      # (N, C, P)
        return vals, inside

    if mode is InterpolationMode.NEAREST:
        vals, inside = gather(np.rint(sy).astype(np.int64), np.rint(sx).astype(np.int64))
        out = np.where(inside[:, None, :], vals, fill_c.astype(a.dtype))
        return _like(out.reshape(n, c, oh, ow).astype(a.dtype, copy=False), x)

    work = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
    x0f, y0f = np.floor(sx), np.floor(sy)
    fx, fy = (sx - x0f).astype(work), (sy - y0f).astype(work)        # (N, P)
    x0, y0 = x0f.astype(np.int64), y0f.astype(np.int64)
    acc = np.zeros((n, c, oh * ow), dtype=work)
    covered = np.zeros((n, oh * ow), dtype=work)
    for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)):                  # the 4 neighbours
        wgt = (fy if dy else 1 - fy) * (fx if dx else 1 - fx)        # (N, P)
        vals, inside = gather(y0 + dy, x0 + dx)
        wgt = np.where(inside, wgt, 0).astype(work)
        acc += vals * wgt[:, None, :]
        covered += wgt
    if np.any(fill_c != 0):
        acc += (1 - covered)[:, None, :] * fill_c.astype(work)
    return _like(_round_like(acc.reshape(n, c, oh, ow), a.dtype), x)


def expanded_size(h: int, w: int, matrix: np.ndarray) -> tuple[int, int]:
    """The (h, w) that holds a whole (H, W) = (h, w) image warped by `matrix` (torchvision's
    `_compute_affine_output_size`, itself PIL's `rotate(expand=True)` rule).

    The four corners (+-W/2, +-H/2) are mapped by the (2, 3) `matrix` (the inverse map, as
    torchvision does; for a rotation about the centre its bounding box is the forward map's)
    and shifted by (W/2, H/2); then out = ceil(max) - floor(min) per axis, after dropping the
    digits below 1e-4. The arithmetic is float32, as torchvision's, whose rounding absorbs
    the noise of cos(90 deg) = 6e-17 that float64 would carry into a floor or a ceil.
    Note: a 90 degree turn gives (W, H) when H and W have the same parity; otherwise one side
    is one pixel longer (e.g. (3, 4) -> (5, 4)), as in torchvision and PIL.
    """
    f32 = np.float32
    m = np.asarray(matrix, dtype=f32).reshape(2, 3)
    hw, hh = f32(0.5 * w), f32(0.5 * h)
    corners = np.array([[-hw, -hh, 1], [-hw, hh, 1], [hw, hh, 1], [hw, -hh, 1]], dtype=f32)
    pts = corners @ m.T + np.array([hw, hh], dtype=f32)              # (4, 2): x, y
    tol, inv_tol = f32(1e-4), f32(1e4)
    hi = np.ceil(np.trunc(pts.max(axis=0) * inv_tol) * tol)
    lo = np.floor(np.trunc(pts.min(axis=0) * inv_tol) * tol)
    ow, oh = (int(s) for s in hi - lo)
    return oh, ow


def rotate(x: ArrayLike, angle: Any, interpolation: Any = "nearest", fill: Fill = 0,
           center: Any = None, expand: bool = False) -> ArrayLike:
    """Rotate counter-clockwise by `angle` degrees (scalar or (N,)) about the centre.

    `center` (x, y) in pixel coordinates; default the image centre ((W-1)/2, (H-1)/2).
    The output keeps the input's size, unless `expand`: then it is enlarged to hold the whole
    rotated image (`expanded_size`, torchvision's rule, which assumes rotation about the
    centre), the input's centre landing on the output's centre.

    Raises:
        ValueError: with `expand`, angles that give the images of the batch different output
            sizes (rotate them one at a time).
    """
    a = _unwrap(x)
    ctr = _center(center, a.shape)
    m = inverse_affine_matrix(-np.asarray(angle, dtype=np.float64), center=ctr)    # (N|1, 2, 3)
    size = None
    if expand:
        sizes = {expanded_size(a.shape[2], a.shape[3], mk) for mk in m}
        if len(sizes) > 1:
            raise ValueError(
                f"rotate(expand=True): the angles of this batch of {a.shape[0]} give different "
                f"output sizes {sorted(sizes)}; rotate the images one at a time"
            )
        size = sizes.pop()
    return warp_affine(x, m, interpolation, fill, size)


def _center(center: Any, shape: tuple[int, ...]) -> tuple[float, float]:
    if center is None:
        return 0.0, 0.0
    h, w = shape[-2:]
    return float(center[0]) - (w - 1) / 2.0, float(center[1]) - (h - 1) / 2.0


def affine(x: ArrayLike, angle: Any, translate: Any, scale: Any, shear: Any,
           interpolation: Any = "nearest", fill: Fill = 0, center: Any = None) -> ArrayLike:
    """torchvision's `affine`: angle (clockwise, degrees), translate (pixels), scale, shear.

    Each may be per image (leading axis N). shear: a number (x shear) or (x, y) degrees.
    """
    a = _unwrap(x)
    sh = np.asarray(shear, dtype=np.float64)
    if sh.ndim == 0 or sh.shape[-1] != 2:
        sh = np.stack([sh, np.zeros_like(sh)], axis=-1)
    m = inverse_affine_matrix(angle, translate, scale, sh, _center(center, a.shape))
    return warp_affine(x, m, interpolation, fill)


def _range(value: Any, name: str, center: float = 0.0, nonneg: bool = True
           ) -> tuple[float, float]:
    """A number d -> (center - d, center + d) (d >= 0); a 2-sequence -> as is."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        if nonneg and value < 0:
            raise ValueError(f"If {name} is a single number, it must be positive, got {value}.")
        return center - float(value), center + float(value)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return float(value[0]), float(value[1])
    raise ValueError(f"{name} must be a number or a sequence of 2 numbers, got {value!r}")


def random_rotation(x: ArrayLike, degrees: Any, interpolation: Any = "nearest",
                    fill: Fill = 0, center: Any = None,
                    generator: np.random.Generator | None = None,
                    expand: bool = False) -> ArrayLike:
    """Rotate each image counter-clockwise by an angle ~ U(degrees) (d -> U(-d, d)).

    With `expand`, each image's output size depends on its angle: a batch whose angles give
    different sizes raises ValueError (see `rotate`); one image at a time always works.
    """
    lo, hi = _range(degrees, "degrees")
    n = _unwrap(x).shape[0]
    angle = resolve_generator(generator).uniform(lo, hi, size=n)
    return rotate(x, angle, interpolation, fill, center, expand)


def _check_affine_args(translate: Any, scale: Any, shear: Any
                       ) -> tuple[Any, Any, list[float] | None]:
    if translate is not None:
        if not (isinstance(translate, (tuple, list)) and len(translate) == 2):
            raise ValueError(f"translate should be a sequence of length 2, got {translate!r}")
        if not all(0.0 <= t <= 1.0 for t in translate):
            raise ValueError(f"translation values should be between 0 and 1, got {translate!r}")
    if scale is not None:
        if not (isinstance(scale, (tuple, list)) and len(scale) == 2):
            raise ValueError(f"scale should be a sequence of length 2, got {scale!r}")
        if not all(s > 0 for s in scale):
            raise ValueError(f"scale values should be positive, got {scale!r}")
    shear_r: list[float] | None = None
    if shear is not None:
        if isinstance(shear, (tuple, list)) and len(shear) == 4:
            shear_r = [float(s) for s in shear]
        else:
            shear_r = list(_range(shear, "shear")) + [0.0, 0.0]
    return translate, scale, shear_r


def random_affine(x: ArrayLike, degrees: Any, translate: Any = None, scale: Any = None,
                  shear: Any = None, interpolation: Any = "nearest", fill: Fill = 0,
                  center: Any = None, generator: np.random.Generator | None = None
                  ) -> ArrayLike:
    """torchvision's RandomAffine, with independent parameters per image.

    angle ~ U(degrees) (clockwise, as torchvision's affine); tx = round(U(-a W, a W)),
    ty = round(U(-b H, b H)) for translate=(a, b); scale ~ U(scale); shear_x ~ U(shear[0:2]),
    shear_y ~ U(shear[2:4]) (a number s: shear_x ~ U(-s, s)).
    """
    a = _unwrap(x)
    n, _, h, w = a.shape
    lo, hi = _range(degrees, "degrees")
    translate, scale, shear_r = _check_affine_args(translate, scale, shear)
    rng = resolve_generator(generator)
    angle = rng.uniform(lo, hi, size=n)
    t = np.zeros((n, 2))
    if translate is not None:
        max_dx, max_dy = float(translate[0] * w), float(translate[1] * h)
        t[:, 0] = np.rint(rng.uniform(-max_dx, max_dx, size=n))
        t[:, 1] = np.rint(rng.uniform(-max_dy, max_dy, size=n))
    s = rng.uniform(scale[0], scale[1], size=n) if scale is not None else np.ones(n)
    sh = np.zeros((n, 2))
    if shear_r is not None:
        sh[:, 0] = rng.uniform(shear_r[0], shear_r[1], size=n)
        if shear_r[2] != 0.0 or shear_r[3] != 0.0:
            sh[:, 1] = rng.uniform(shear_r[2], shear_r[3], size=n)
    return affine(x, angle, t, s, sh, interpolation, fill, center)


# ----------------------------------------------------------------------------- resizing
def _resize_axis(a: np.ndarray, start: np.ndarray, length: np.ndarray, out: int, axis: int,
                 mode: InterpolationMode) -> np.ndarray:
    """Resample axis 2 or 3 of `a` from window [start, start+length) (per image) to `out`.

    nearest:  src = min(floor(dst * L / out), L - 1)
    bilinear: src = max((dst + 0.5) L / out - 0.5, 0), i0 = min(floor(src), L - 1),
              i1 = min(i0 + 1, L - 1), y = (1 - lam) x[i0] + lam x[i1], lam = src - i0
    (PyTorch's interpolate with align_corners=False, without antialiasing).
    """
    n = a.shape[0]
    work = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
    dst = np.arange(out, dtype=work)
    scl = (length.astype(work) / work.type(out))[:, None]                       # (N, 1)
    L = length[:, None]

    def take(idx: np.ndarray) -> np.ndarray:                                    # idx (N, out)
        full = (start[:, None] + idx)
        shape = [n, 1, 1, 1]
        shape[axis] = out
        return np.take_along_axis(a, full.reshape(shape), axis=axis)

    if mode is InterpolationMode.NEAREST:
        i0 = np.minimum(np.floor((dst * scl).astype(np.float32)).astype(np.int64), L - 1)
        return take(i0)
    src = np.maximum(scl * (dst + work.type(0.5)) - work.type(0.5), 0).astype(work)
    i0 = np.minimum(np.floor(src).astype(np.int64), L - 1)
    lam = np.clip(src - i0.astype(work), 0, 1).astype(work)
    i1 = np.minimum(i0 + 1, L - 1)
    shape = [n, 1, 1, 1]
    shape[axis] = out
    lam_b = lam.reshape(shape)
    return take(i0).astype(work) * (1 - lam_b) + take(i1).astype(work) * lam_b


def resized_crop(x: ArrayLike, top: Any, left: Any, height: Any, width: Any, size: Any,
                 interpolation: Any = "bilinear") -> ArrayLike:
    """Crop the window (top, left, height, width) of each image (each may be (N,)) and resize
    it to `size` (h, w); the resize is separable (H, then W) and reads only the window."""
    a = _unwrap(x)
    mode = _mode(interpolation)
    n, _, h, w = a.shape
    oh, ow = _pair(size, "size")
    i, j, ch, cw = (np.broadcast_to(np.asarray(v, dtype=np.int64), (n,))
                    for v in (top, left, height, width))
    if np.any(ch <= 0) or np.any(cw <= 0) or np.any(i < 0) or np.any(j < 0) \
            or np.any(i + ch > h) or np.any(j + cw > w):
        raise ValueError(f"crop windows must be non-empty and lie inside the ({h}, {w}) images")
    if oh <= 0 or ow <= 0:
        raise ValueError(f"size must be positive, got {size!r}")
    out = _resize_axis(a, i, ch, oh, 2, mode)                 # (N, C, oh, W)
    out = _resize_axis(out, j, cw, ow, 3, mode)               # (N, C, oh, ow)
    return _like(_round_like(out, a.dtype), x)


def output_size(h: int, w: int, size: Any, max_size: int | None = None) -> tuple[int, int]:
    """torchvision's Resize size rule: an int resizes the smaller edge to it (keeping the
    aspect ratio, the longer edge int(size * long / short)); (h, w) is taken as is."""
    if isinstance(size, (tuple, list)) and len(size) == 2:
        return int(size[0]), int(size[1])
    if isinstance(size, (tuple, list)) and len(size) == 1:
        size = size[0]
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool):
        raise ValueError(f"size must be an int or a sequence of 1 or 2 ints, got {size!r}")
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = int(size), int(int(size) * long / short)
    if max_size is not None:
        if max_size <= size:
            raise ValueError(
                f"max_size = {max_size} must be strictly greater than the requested size "
                f"for the smaller edge size = {size}"
            )
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_long, new_short) if w <= h else (new_short, new_long)    # (h, w)


def resize(x: ArrayLike, size: Any, interpolation: Any = "bilinear",
           max_size: int | None = None) -> ArrayLike:
    """Resize every image to `size` (an int: the smaller edge; see `output_size`)."""
    n, _, h, w = _unwrap(x).shape
    oh, ow = output_size(h, w, size, max_size)
    if (oh, ow) == (h, w):
        return x
    return resized_crop(x, 0, 0, h, w, (oh, ow), interpolation)


def random_resized_crop(x: ArrayLike, size: Any, scale: tuple[float, float] = (0.08, 1.0),
                        ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
                        interpolation: Any = "bilinear",
                        generator: np.random.Generator | None = None) -> ArrayLike:
    """torchvision's RandomResizedCrop, with an independent window per image.

    Up to 10 tries per image: area ~ U(scale) H W, log aspect ~ U(log ratio),
    w = round(sqrt(area aspect)), h = round(sqrt(area / aspect)); the first that fits is
    placed uniformly; if none does, the central crop of the image clipped to `ratio`.
    """
    a = _unwrap(x)
    n, _, h, w = a.shape
    if scale[0] > scale[1] or ratio[0] > ratio[1]:
        raise ValueError(f"scale and ratio should be of kind (min, max), got {scale}, {ratio}")
    rng = resolve_generator(generator)
    area = h * w * rng.uniform(scale[0], scale[1], size=(n, 10))
    aspect = np.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1]), size=(n, 10)))
    cw = np.rint(np.sqrt(area * aspect)).astype(np.int64)
    ch = np.rint(np.sqrt(area / aspect)).astype(np.int64)
    ok = (cw > 0) & (cw <= w) & (ch > 0) & (ch <= h)                    # (N, 10)
    first = np.argmax(ok, axis=1)
    found = ok[np.arange(n), first]
    ch, cw = ch[np.arange(n), first], cw[np.arange(n), first]
    # fallback: the central crop clipped to the ratio range
    in_ratio = w / h
    if in_ratio < min(ratio):
        fw, fh = w, int(round(w / min(ratio)))
    elif in_ratio > max(ratio):
        fw, fh = int(round(h * max(ratio))), h
    else:
        fw, fh = w, h
    ch, cw = np.where(found, ch, fh), np.where(found, cw, fw)
    i = np.where(found, rng.integers(0, h - ch + 1), (h - ch) // 2)
    j = np.where(found, rng.integers(0, w - cw + 1), (w - cw) // 2)
    return resized_crop(x, i, j, ch, cw, size, interpolation)


# ----------------------------------------------------------------------------- erasing
def random_erasing(x: ArrayLike, p: float = 0.5, scale: tuple[float, float] = (0.02, 0.33),
                   ratio: tuple[float, float] = (0.3, 3.3), value: Any = 0,
                   generator: np.random.Generator | None = None) -> ArrayLike:
    """torchvision's RandomErasing per image: with probability p, a rectangle of area
    ~ U(scale) H W and log aspect ~ U(log ratio) (up to 10 tries, h < H and w < W) placed
    uniformly is set to `value` (a number, one per channel, or 'random': N(0, 1) noise)."""
    a = _unwrap(x)
    n, c, h, w = a.shape
    _check_p(p)
    if scale[0] > scale[1] or ratio[0] > ratio[1]:
        raise ValueError(f"scale and ratio should be of kind (min, max), got {scale}, {ratio}")
    if scale[0] < 0 or scale[1] > 1:
        raise ValueError(f"scale should be between 0 and 1, got {scale}")
    rng = resolve_generator(generator)
    apply = rng.random(n) < p
    area = h * w * rng.uniform(scale[0], scale[1], size=(n, 10))
    aspect = np.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1]), size=(n, 10)))
    eh = np.rint(np.sqrt(area * aspect)).astype(np.int64)
    ew = np.rint(np.sqrt(area / aspect)).astype(np.int64)
    ok = (eh < h) & (ew < w)
    first = np.argmax(ok, axis=1)
    apply &= ok[np.arange(n), first]
    eh, ew = eh[np.arange(n), first], ew[np.arange(n), first]
    eh, ew = np.where(apply, eh, 0), np.where(apply, ew, 0)
    i = rng.integers(0, h - eh + 1)
    j = rng.integers(0, w - ew + 1)
    rows = (np.arange(h) >= i[:, None]) & (np.arange(h) < (i + eh)[:, None])    # (N, H)
    cols = (np.arange(w) >= j[:, None]) & (np.arange(w) < (j + ew)[:, None])    # (N, W)
    mask = (rows[:, :, None] & cols[:, None, :])[:, None]                      # (N, 1, H, W)
    if isinstance(value, str):
        if value != "random":
            raise ValueError(f"value must be a number, a sequence or 'random', got {value!r}")
        fill = rng.standard_normal(a.shape).astype(a.dtype)
    else:
        fill = _fill_array(value, c, a.dtype)[None, :, None, None]
    return _like(np.where(mask, fill, a), x)


# ----------------------------------------------------------------------------- colour
def _check_pca(alphastd: float, eigval: Any, eigvec: Any) -> tuple[float, np.ndarray, np.ndarray]:
    """alphastd >= 0 (finite), eigval (3,), eigvec (3, 3) (finite) -> float64 arrays."""
    try:
        std = float(alphastd)
    except (TypeError, ValueError):
        raise TypeError(f"alphastd must be a number, got {type(alphastd).__name__}") from None
    if not math.isfinite(std) or std < 0:
        raise ValueError(f"alphastd must be a finite number >= 0, got {alphastd!r}")
    lam = np.asarray(eigval.array if isinstance(eigval, Tensor) else eigval, dtype=np.float64)
    vec = np.asarray(eigvec.array if isinstance(eigvec, Tensor) else eigvec, dtype=np.float64)
    if lam.shape != (3,):
        raise ValueError(f"eigval must have shape (3,) (one per RGB component), got {lam.shape}")
    if vec.shape != (3, 3):
        raise ValueError(
            f"eigvec must have shape (3, 3) (eigenvectors as columns), got {vec.shape}"
        )
    if not (np.all(np.isfinite(lam)) and np.all(np.isfinite(vec))):
        raise ValueError("eigval and eigvec must be finite")
    return std, lam, vec


def pca_lighting(x: ArrayLike, alphastd: float, eigval: Any, eigvec: Any,
                 generator: np.random.Generator | None = None) -> ArrayLike:
    """AlexNet's PCA colour augmentation ("fancy PCA"; Krizhevsky, Sutskever & Hinton 2012,
    section 4.1), an independent draw per image.

    For image n: alpha[n] = alphastd * standard_normal(3) (the batch draws
    `standard_normal((N, 3))` at once, image by image in order), and every pixel's RGB gets

        shift[n] = eigvec @ (alpha[n] * eigval),   y[n, c, i, j] = x[n, c, i, j] + shift[n, c]

    (the eigenvectors are the columns of `eigvec`, in RGB order). The eigen-decomposition is
    that of the RGB pixels' 3x3 covariance on the scale of pixels in [0, 1]
    (`numcnn.data.transforms.pca_eigen`). A float image is taken to hold such pixels and is not
    clipped (as the paper and fb.resnet.torch). A uint8 image holds 255 * those pixels: it
    gets x + 255 * shift[n], rounded to the nearest integer and clipped to [0, 255].

    Shape:
        x (N, 3, H, W) -> (N, 3, H, W), same dtype and kind (ndarray or Tensor).

    Raises:
        ValueError: not 3 channels; eigval not (3,), eigvec not (3, 3); alphastd < 0.
        TypeError: pixels neither floating-point nor uint8.
    """
    a = _unwrap(x)
    n, c = a.shape[:2]
    if c != 3:
        raise ValueError(
            f"pca_lighting needs RGB images with 3 channels, got {c} channel(s) "
            f"(batch of shape {a.shape})"
        )
    if a.dtype.kind != "f" and a.dtype != np.uint8:
        raise TypeError(
            f"pca_lighting expects floating-point pixels (in [0, 1]) or uint8 pixels, "
            f"got {a.dtype}"
        )
    std, lam, vec = _check_pca(alphastd, eigval, eigvec)
    alpha = resolve_generator(generator).standard_normal((n, 3)) * std       # (N, 3)
    shift = (alpha * lam) @ vec.T                                          # (N, 3): V (a*l)
    if a.dtype == np.uint8:
        out = a.astype(np.float32) + (255.0 * shift).astype(np.float32)[:, :, None, None]
        return _like(_round_like(out, a.dtype), x)
    return _like(a + shift.astype(a.dtype)[:, :, None, None], x)
