"""How a transform reads the layout of what it is given, and gives back the same kind.

The rule (torchvision's, made explicit for NumPy arrays):

=========================================  ==========================  =======================
input                                      one image                   a batch (`.batch`)
=========================================  ==========================  =======================
PIL image (any mode)                       (H, W) or (H, W, C)         —
np.ndarray of dtype uint8                  (H, W) or (H, W, C)         (N, H, W) or
                                           (as PIL and the readers)    (N, H, W, C)
np.ndarray of any other dtype, or Tensor   (H, W) or (C, H, W)         (N, C, H, W)
                                           (as torch tensors)
=========================================  ==========================  =======================

So a uint8 array is pixels as a picture file holds them (channels last), and a float array or
any Tensor is a tensor image (channels first). `ToTensor` is the one exception, as in
torchvision: it takes a PIL image or an ndarray of *any* dtype as (H, W[, C]).

Transforms run their kernels (`numcnn.data.transforms.batch`) on an (N, C, H, W) ndarray;
`as_nchw` / `batch_as_nchw` give that array (a view where possible: an (H, W, C) image's
(1, C, H, W) view costs nothing) and a function that turns the kernel's result back into the
input's kind and layout: ndarray in -> ndarray out (uint8 HWC stays HWC), Tensor in -> Tensor
out, PIL in -> PIL out (same mode; a palette image keeps its palette).
"""

from __future__ import annotations

import sys
from typing import Any, Callable

import numpy as np

from numcnn.tensor import Tensor

__all__ = ["is_pil_image", "pil_to_array", "array_to_pil", "as_nchw", "batch_as_nchw"]

Restore = Callable[[Any], Any]


def is_pil_image(img: Any) -> bool:
    """Whether `img` is a PIL image (never imports Pillow: if it is not loaded, it is not one)."""
    pil = sys.modules.get("PIL.Image")
    return pil is not None and isinstance(img, pil.Image)


def pil_to_array(pic: Any) -> np.ndarray:
    """A PIL image's pixels: (H, W) for one band, (H, W, C) for several; the dtype of its mode
    (uint8 for L/P/RGB/RGBA/..., bool for '1', int32 for 'I', uint16 for 'I;16', float32
    for 'F')."""
    return np.asarray(pic)


def array_to_pil(a: np.ndarray, like: Any) -> Any:
    """Pixels (H, W[, C]) back into a PIL image of `like`'s mode (and palette)."""
    from PIL import Image

    mode = like.mode
    if mode == "1":
        return Image.fromarray(np.ascontiguousarray(a, dtype=bool))
    a = np.ascontiguousarray(a, dtype=np.asarray(like).dtype)
    out = Image.frombytes(mode, (a.shape[1], a.shape[0]), a.tobytes())
    if mode in ("P", "PA") and like.getpalette() is not None:
        out.putpalette(like.getpalette())
    return out


def _hwc(a: np.ndarray, batched: bool) -> tuple[np.ndarray, Restore]:
    """Channels-last pixels -> an (N, C, H, W) view, and the way back."""
    lead = 1 if batched else 0
    if a.ndim == lead + 2:                                          # (N,) H, W
        x = a[:, None] if batched else a[None, None]
        return x, (lambda y: y[:, 0] if batched else y[0, 0])
    x = a.transpose(0, 3, 1, 2) if batched else a.transpose(2, 0, 1)[None]
    if batched:
        return x, lambda y: np.ascontiguousarray(y.transpose(0, 2, 3, 1))
    return x, lambda y: np.ascontiguousarray(y[0].transpose(1, 2, 0))


def as_nchw(img: Any, name: str) -> tuple[np.ndarray, Restore]:
    """One image (see the table above) -> ((1, C, H, W) ndarray, restore).

    Raises:
        TypeError: not a PIL image, an ndarray or a Tensor.
        ValueError: an ndarray or Tensor of the wrong number of dimensions.
    """
    if is_pil_image(img):
        pixels = pil_to_array(img)
        x, back = _hwc(pixels, batched=False)
        return x, lambda y: array_to_pil(back(y), img)
    if isinstance(img, Tensor):
        a = img.array
        if a.ndim not in (2, 3):
            raise ValueError(
                f"{name} expects a (C, H, W) or (H, W) Tensor image, got shape {tuple(a.shape)}"
                f"; for a batch (N, C, H, W) call {name}.batch(x)"
            )
        x = a[None] if a.ndim == 3 else a[None, None]
        return x, (lambda y: Tensor(y[0] if a.ndim == 3 else y[0, 0]))
    if isinstance(img, np.ndarray):
        if img.ndim not in (2, 3):
            layout = "(H, W, C) or (H, W)" if img.dtype == np.uint8 else "(C, H, W) or (H, W)"
            raise ValueError(
                f"{name} expects a {layout} image, got an array of shape {img.shape}; for a "
                f"batch call {name}.batch(x)"
            )
        if img.dtype == np.uint8:
            return _hwc(img, batched=False)
        x = img[None] if img.ndim == 3 else img[None, None]
        return x, (lambda y: y[0] if img.ndim == 3 else y[0, 0])
    raise TypeError(
        f"{name} expects a PIL image, an ndarray or a Tensor, got {type(img).__name__}"
    )


def batch_as_nchw(x: Any, name: str) -> tuple[np.ndarray, Restore]:
    """A batch (see the table above) -> ((N, C, H, W) ndarray, restore).

    Raises:
        TypeError: not an ndarray or a Tensor.
        ValueError: the wrong number of dimensions.
    """
    if isinstance(x, Tensor):
        a = x.array
        if a.ndim != 4:
            raise ValueError(
                f"{name}.batch expects an (N, C, H, W) Tensor, got shape {tuple(a.shape)}"
            )
        return a, Tensor
    if isinstance(x, np.ndarray):
        if x.dtype == np.uint8:
            if x.ndim not in (3, 4):
                raise ValueError(
                    f"{name}.batch expects uint8 images as (N, H, W, C) or (N, H, W), got "
                    f"shape {x.shape}"
                )
            return _hwc(x, batched=True)
        if x.ndim != 4:
            raise ValueError(
                f"{name}.batch expects an (N, C, H, W) array (uint8 arrays: (N, H, W, C) or "
                f"(N, H, W)), got shape {x.shape}"
            )
        return x, (lambda y: y)
    raise TypeError(f"{name}.batch expects an ndarray or a Tensor, got {type(x).__name__}")
