"""Image transforms with torchvision's names, arguments and geometry.

What a transform takes, and how the layout is decided (`layout`, torchvision's rule made
explicit for NumPy):

- a PIL image (when Pillow is installed): (H, W) or (H, W, C) pixels;
- an ndarray of dtype uint8: an image as PIL and the dataset readers give it, (H, W) or
  (H, W, C), channels last;
- an ndarray of any other dtype, or a Tensor: a tensor image, (C, H, W) or (H, W).

Every transform returns the kind it was given — PIL in, PIL out (same mode); uint8 (H, W, C)
in, uint8 (H, W, C) out; Tensor in, Tensor out — except `ToTensor`, which takes a PIL image
or an ndarray of any dtype as (H, W[, C]) and returns a (C, H, W) Tensor (uint8 scaled to
[0, 1]). So torchvision-order pipelines work on what the readers return:

    Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(), ToTensor(), Normalize(m, s)])

Every transform also has `.batch(x)`, the vectorised version on a batch — (N, C, H, W)
Tensor or float ndarray, or uint8 (N, H, W, C) / (N, H, W) ndarray, i.e. a stack of the
images `__call__` takes — that draws independent parameters per image in one go (the kernels,
always on (N, C, H, W), are in `numcnn.data.transforms.batch`); datasets use it to transform
a whole batch at once. All transforms here have one:

    ToTensor, Normalize, Resize, CenterCrop, RandomCrop, RandomHorizontalFlip,
    RandomVerticalFlip, RandomRotation, RandomAffine, RandomResizedCrop, RandomErasing,
    PCALighting, Compose
    (Compose when every member has one; a plain function in it makes `.batch` loop per image;
    RandomRotation(expand=True) has none, as its images may come out with different sizes).

`PCALighting` is AlexNet's PCA colour augmentation (numcnn's addition; torchvision has none);
`pca_eigen` computes its eigenvalues and eigenvectors from a data set (`lighting`). It works on
RGB pixels in [0, 1] (or uint8), so it goes before `Normalize`:

    Compose([RandomResizedCrop(224), RandomHorizontalFlip(), ToTensor(), PCALighting(0.1),
             Normalize(mean, std)])

A single image goes through the same kernel as a batch of one, so both give the same results.
Random draws come from `generator` when one is given, else from the generator a DataLoader
installs for the batch it loads (also inside its worker processes), else
`numcnn.random.generator()` (see `batch.resolve_generator`), so seeded runs are reproducible.

Differences from torchvision: PIL images are transformed by numcnn's kernels on their pixels
(not by PIL's own resize/rotate), so they equal what the same transform gives the image's
uint8 array; resizing is not antialiased (`antialias=True` raises); in bilinear warps, a
source pixel outside the image counts as `fill` (torchvision multiplies the interpolated value
by the in-image weight once more); a uint8 or float ndarray is accepted by every transform
(torchvision's take only PIL images and tensors); a palette ('P') image is resampled on its
palette indices, so use nearest interpolation for it.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence, TypeGuard

import numpy as np

from numcnn.data.transforms import batch, layout, lighting
from numcnn.data.transforms.batch import InterpolationMode
from numcnn.data.transforms.lighting import IMAGENET_EIGVAL, IMAGENET_EIGVEC, pca_eigen
from numcnn.tensor import Tensor

__all__ = [
    "InterpolationMode", "Compose", "ToTensor", "Normalize", "Resize", "CenterCrop",
    "RandomCrop", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation",
    "RandomAffine", "RandomResizedCrop", "RandomErasing", "PCALighting", "pca_eigen",
    "IMAGENET_EIGVAL", "IMAGENET_EIGVEC", "batch", "layout", "lighting",
]

Image = Any   # a PIL image, an ndarray or a Tensor (see `layout`)


def _size(size: Any, name: str = "size") -> tuple[int, int]:
    h, w = batch._pair(size, name)
    if h <= 0 or w <= 0:
        raise ValueError(f"{name} must be positive, got {size!r}")
    return h, w


class Transform:
    """Base class: `__call__` on one image, `batch` on a batch; both bring the input to
    (N, C, H, W) (`layout`), run `_apply`, and give back the input's kind and layout."""

    def __call__(self, img: Image) -> Image:
        x, restore = layout.as_nchw(img, type(self).__name__)
        return restore(self._apply(x))

    def batch(self, x: Any) -> Any:
        """The transform on a batch: (N, C, H, W) Tensor or float ndarray, or uint8
        (N, H, W, C) / (N, H, W) ndarray; each image draws its own random parameters."""
        a, restore = layout.batch_as_nchw(x, type(self).__name__)
        return restore(self._apply(a))

    def _apply(self, x: np.ndarray) -> Any:
        """The kernel: (N, C, H, W) ndarray -> (N, C, H', W') ndarray."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Compose(Transform):
    """Apply `transforms` in order.

    Args:
        transforms: transforms (or plain callables on one image).
    """

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, img: Any) -> Any:
        for t in self.transforms:
            img = t(img)
        return img

    @property
    def has_batch(self) -> bool:
        """Whether every member has a vectorised `batch`."""
        return all(_batchable(t) for t in self.transforms)

    def batch(self, x: Any) -> Any:
        """Each member's `batch` in turn. A member without one (a plain function, or
        `RandomRotation(expand=True)`, which may give every image its own size) is applied
        image by image; the images then stay one by one until they have one shape again
        (e.g. after a `Resize((h, w))`), and are stacked back into a batch.

        Raises:
            ValueError: the images still have different shapes after the last member.
        """
        items: list[Any] | None = None     # the images one by one, while they are not a batch
        for t in self.transforms:
            if items is not None and len({_shape(i) for i in items}) == 1:
                x, items = _stack(items), None
            if items is None and _batchable(t):
                x = t.batch(x)
            else:
                items = [t(i) for i in (items if items is not None else list(x))]
        if items is None:
            return x
        if len({_shape(i) for i in items}) > 1:
            raise ValueError(
                f"Compose.batch: the images have different shapes after the last transform "
                f"({sorted({_shape(i) for i in items})}); end the pipeline with one that gives "
                f"them one size, e.g. Resize((h, w)) or CenterCrop(size)"
            )
        return _stack(items)

    def __repr__(self) -> str:
        lines = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({lines}\n)"


def _batchable(t: Any) -> TypeGuard[Transform]:
    """Whether a Compose member can transform a whole batch at once."""
    return isinstance(t, Transform) and bool(getattr(t, "has_batch", True))


def _shape(img: Any) -> tuple[int, ...]:
    return tuple((img.array if isinstance(img, Tensor) else np.asarray(img)).shape)


def _stack(items: list[Any]) -> Any:
    """Images -> one batch (a Tensor if the images are Tensors)."""
    stacked = np.stack([i.array if isinstance(i, Tensor) else np.asarray(i) for i in items])
    return Tensor(stacked) if isinstance(items[0], Tensor) else stacked


# PIL modes whose pixels are not uint8, and the dtype ToTensor gives them (torchvision's)
_PIL_DTYPES = {"I": np.int32, "I;16": np.int16, "F": np.float32}


class ToTensor(Transform):
    """A PIL image or an (H, W) / (H, W, C) ndarray -> Tensor (C, H, W).

    uint8 pixels (and PIL modes L, P, RGB, RGBA, CMYK, ...) become float32 in [0, 1]
    (x / 255); mode '1' gives 0.0 / 1.0; other dtypes (and PIL modes I, I;16, F, as int32,
    int16, float32) are only moved to (C, H, W), not scaled (as torchvision). An ndarray is
    always read channels-last here, whatever its dtype; a Tensor is refused (TypeError, as
    torchvision: it is already an image tensor).
    """

    def __call__(self, pic: Any) -> Tensor:
        if layout.is_pil_image(pic):
            dtype = _PIL_DTYPES.get(pic.mode, np.uint8)
            a = np.array(pic, dtype=dtype)
            if pic.mode == "1":
                a = a * np.uint8(255)
        elif isinstance(pic, np.ndarray):
            a = pic
        else:
            raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
        if a.ndim not in (2, 3):
            raise ValueError(f"pic should be 2 or 3 dimensional. Got {a.ndim} dimensions.")
        return Tensor(batch.to_tensor(a[None]).array[0])

    def batch(self, x: Any) -> Tensor:
        """(N, H, W) or (N, H, W, C) ndarray -> (N, C, H, W) Tensor (uint8: float32 / 255)."""
        if not isinstance(x, np.ndarray):
            raise TypeError(f"ToTensor.batch expects an ndarray, got {type(x)}")
        return batch.to_tensor(x)


class Normalize(Transform):
    """output[c] = (input[c] - mean[c]) / std[c].

    Args:
        mean: per-channel means (or one for all channels).
        std: per-channel standard deviations (non-zero).
        inplace: accepted for torchvision compatibility; the result is always a new array.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False
                 ) -> None:
        self.mean, self.std, self.inplace = mean, std, inplace

    def _apply(self, x: np.ndarray) -> Any:
        return batch.normalize(x, self.mean, self.std)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


def _check_antialias(antialias: bool | None) -> None:
    if antialias:
        raise NotImplementedError(
            "antialias=True is not implemented: numcnn resizes like "
            "torch.nn.functional.interpolate(align_corners=False); pass antialias=False or None"
        )


class Resize(Transform):
    """Resize to `size`: an int resizes the smaller edge to it keeping the aspect ratio (the
    longer edge becomes int(size * long / short)); (h, w) gives the size exactly.

    Args:
        size: int or (h, w).
        interpolation: 'bilinear' (default) or 'nearest' (or an InterpolationMode).
        max_size: cap on the longer edge when `size` is an int.
        antialias: only False/None (no antialiasing) is implemented.
    """

    def __init__(self, size: Any, interpolation: Any = InterpolationMode.BILINEAR,
                 max_size: int | None = None, antialias: bool | None = None) -> None:
        _check_antialias(antialias)
        batch.output_size(8, 8, size, max_size)       # validates
        self.size, self.interpolation = size, batch._mode(interpolation)
        self.max_size, self.antialias = max_size, antialias

    def _apply(self, x: np.ndarray) -> Any:
        return batch.resize(x, self.size, self.interpolation, self.max_size)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(size={self.size}, "
                f"interpolation={self.interpolation.value}, max_size={self.max_size})")


class CenterCrop(Transform):
    """The central (h, w) window (zero-padded first when the image is smaller)."""

    def __init__(self, size: Any) -> None:
        self.size = _size(size)

    def _apply(self, x: np.ndarray) -> Any:
        return batch.center_crop(x, self.size)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size})"


class RandomCrop(Transform):
    """Crop an (h, w) window at a uniformly random position, after optional padding.

    Args:
        size: int or (h, w).
        padding: int, (left/right, top/bottom) or (left, top, right, bottom), or None.
        pad_if_needed: pad an image smaller than `size` (by the difference, on both sides).
        fill: value (or per-channel values) of constant padding.
        padding_mode: 'constant', 'edge', 'reflect' or 'symmetric'.
        generator: np.random.Generator to draw from (see the module docstring).
    """

    def __init__(self, size: Any, padding: Any = None, pad_if_needed: bool = False,
                 fill: Any = 0, padding_mode: str = "constant",
                 generator: np.random.Generator | None = None) -> None:
        self.size = _size(size)
        if padding is not None:
            batch._padding4(padding)
        if padding_mode not in batch._PAD_MODES:
            raise ValueError(
                f"padding_mode must be one of {sorted(batch._PAD_MODES)}, got {padding_mode!r}"
            )
        self.padding, self.pad_if_needed, self.fill = padding, pad_if_needed, fill
        self.padding_mode, self.generator = padding_mode, generator

    def _apply(self, x: np.ndarray) -> Any:
        return batch.random_crop(x, self.size, self.padding, self.pad_if_needed, self.fill,
                                 self.padding_mode, self.generator)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip(Transform):
    """Mirror left-right with probability p."""

    def __init__(self, p: float = 0.5, generator: np.random.Generator | None = None) -> None:
        self.p, self.generator = batch._check_p(p), generator

    def _apply(self, x: np.ndarray) -> Any:
        return batch.random_horizontal_flip(x, self.p, self.generator)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class RandomVerticalFlip(Transform):
    """Mirror top-bottom with probability p."""

    def __init__(self, p: float = 0.5, generator: np.random.Generator | None = None) -> None:
        self.p, self.generator = batch._check_p(p), generator

    def _apply(self, x: np.ndarray) -> Any:
        return batch.random_vertical_flip(x, self.p, self.generator)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class RandomRotation(Transform):
    """Rotate counter-clockwise about the centre by an angle ~ U(degrees) (in degrees).

    With `expand=True` the output is enlarged to hold the whole rotated image, so its size
    depends on the angle (torchvision's rule, `batch.expanded_size`: a (H, W) image turned by
    45 degrees becomes about (H + W) / sqrt(2) square). Every image draws its own angle, so
    the images of a batch get different sizes: such a RandomRotation has no vectorised
    `batch` (`has_batch` is False): `Compose` and datasets apply it image by image, and
    `Compose.batch` stacks the images again once a later transform (e.g. `Resize((h, w))`)
    has given them one size. Calling its `.batch` directly on a batch whose angles give
    different sizes raises ValueError.

    Args:
        degrees: d (-> (-d, d)) or (min, max).
        interpolation: 'nearest' (default) or 'bilinear'.
        expand: enlarge the output to hold the whole rotated image (False: keep the input's
            size, cutting the corners off). Like torchvision's, it assumes rotation about the
            centre.
        center: (x, y) centre of rotation in pixels; default the image centre.
        fill: value (or per-channel values) for pixels from outside the image.
        generator: np.random.Generator to draw from.
    """

    def __init__(self, degrees: Any, interpolation: Any = InterpolationMode.NEAREST,
                 expand: bool = False, center: Sequence[float] | None = None, fill: Any = 0,
                 generator: np.random.Generator | None = None) -> None:
        self.degrees = batch._range(degrees, "degrees")
        self.interpolation, self.expand = batch._mode(interpolation), bool(expand)
        self.center, self.fill, self.generator = center, fill, generator

    @property
    def has_batch(self) -> bool:
        """False with `expand`: the images of a batch may come out with different sizes."""
        return not self.expand

    def _apply(self, x: np.ndarray) -> Any:
        return batch.random_rotation(x, self.degrees, self.interpolation, self.fill,
                                     self.center, self.generator, self.expand)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(degrees={list(self.degrees)}, "
                f"interpolation={self.interpolation.value}, expand={self.expand}, "
                f"fill={self.fill})")


class RandomAffine(Transform):
    """Random rotation, translation, scale and shear about the centre (torchvision's).

    The angle follows torchvision's `affine`: positive is clockwise on screen (the range is
    usually symmetric, so it rarely matters); `RandomRotation` turns counter-clockwise.

    Args:
        degrees: d (-> (-d, d)) or (min, max); 0 for no rotation.
        translate: (a, b): tx ~ U(-a W, a W), ty ~ U(-b H, b H), rounded to whole pixels.
        scale: (min, max) scale factor.
        shear: s (x shear ~ U(-s, s)), (min, max) (x shear), or 4 values (x then y ranges).
        interpolation: 'nearest' (default) or 'bilinear'.
        fill: value (or per-channel values) for pixels from outside the image.
        center: (x, y) in pixels; default the image centre.
        generator: np.random.Generator to draw from.
    """

    def __init__(self, degrees: Any, translate: Sequence[float] | None = None,
                 scale: Sequence[float] | None = None, shear: Any = None,
                 interpolation: Any = InterpolationMode.NEAREST, fill: Any = 0,
                 center: Sequence[float] | None = None,
                 generator: np.random.Generator | None = None) -> None:
        self.degrees = batch._range(degrees, "degrees")
        batch._check_affine_args(translate, scale, shear)
        self.translate, self.scale, self.shear = translate, scale, shear
        self.interpolation, self.fill = batch._mode(interpolation), fill
        self.center, self.generator = center, generator

    def _apply(self, x: np.ndarray) -> Any:
        return batch.random_affine(x, self.degrees, self.translate, self.scale, self.shear,
                                   self.interpolation, self.fill, self.center, self.generator)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(degrees={list(self.degrees)}, "
                f"translate={self.translate}, scale={self.scale}, shear={self.shear})")


class RandomResizedCrop(Transform):
    """Crop a random window (area fraction ~ U(scale), aspect ~ logU(ratio)) and resize it to
    `size`.

    Args:
        size: int or (h, w).
        scale: (min, max) fraction of the image area.
        ratio: (min, max) aspect ratio w / h.
        interpolation: 'bilinear' (default) or 'nearest'.
        antialias: only False/None (no antialiasing) is implemented.
        generator: np.random.Generator to draw from.
    """

    def __init__(self, size: Any, scale: tuple[float, float] = (0.08, 1.0),
                 ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
                 interpolation: Any = InterpolationMode.BILINEAR,
                 antialias: bool | None = None,
                 generator: np.random.Generator | None = None) -> None:
        _check_antialias(antialias)
        self.size = _size(size)
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError(f"scale and ratio should be of kind (min, max), got {scale}, {ratio}")
        self.scale, self.ratio = tuple(scale), tuple(ratio)
        self.interpolation, self.generator = batch._mode(interpolation), generator

    def _apply(self, x: np.ndarray) -> Any:
        return batch.random_resized_crop(x, self.size, self.scale, self.ratio,  # type: ignore
                                         self.interpolation, self.generator)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(size={self.size}, scale={self.scale}, "
                f"ratio={self.ratio}, interpolation={self.interpolation.value})")


class RandomErasing(Transform):
    """With probability p, set a random rectangle to `value` (Zhong et al., 2017).

    Args:
        p: probability of erasing.
        scale: (min, max) fraction of the area erased.
        ratio: (min, max) aspect ratio of the rectangle.
        value: a number, per-channel values, or 'random' (N(0, 1) noise).
        inplace: accepted for torchvision compatibility; the result is always a new array.
        generator: np.random.Generator to draw from.
    """

    def __init__(self, p: float = 0.5, scale: tuple[float, float] = (0.02, 0.33),
                 ratio: tuple[float, float] = (0.3, 3.3), value: Any = 0,
                 inplace: bool = False, generator: np.random.Generator | None = None) -> None:
        self.p = batch._check_p(p)
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError(f"scale and ratio should be of kind (min, max), got {scale}, {ratio}")
        if scale[0] < 0 or scale[1] > 1:
            raise ValueError(f"scale should be between 0 and 1, got {scale}")
        if isinstance(value, str) and value != "random":
            raise ValueError(f"value must be a number, a sequence or 'random', got {value!r}")
        self.scale, self.ratio, self.value = tuple(scale), tuple(ratio), value
        self.inplace, self.generator = inplace, generator

    def _apply(self, x: np.ndarray) -> Any:
        return batch.random_erasing(x, self.p, self.scale, self.ratio,  # type: ignore[arg-type]
                                    self.value, self.generator)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(p={self.p}, scale={self.scale}, ratio={self.ratio}, "
                f"value={self.value})")


class PCALighting(Transform):
    """AlexNet's PCA colour augmentation, "fancy PCA" (Krizhevsky, Sutskever & Hinton 2012,
    section 4.1): every image is shifted in colour along the principal components of the
    data set's RGB pixels,

        alpha ~ N(0, alphastd^2 I_3) per image,
        y[c, i, j] = x[c, i, j] + (eigvec @ (alpha * eigval))[c]

    one shift for all the pixels of an image (kernel: `batch.pca_lighting`).

    Apply it to RGB pixels in [0, 1] (after `ToTensor`, before `Normalize`: the eigenvalues
    are on that scale, and the paper shifts raw pixels), or to uint8 RGB pixels (before
    `ToTensor`; the shift is then 255 times as large, rounded, the result clipped to [0, 255]).
    Float results are not clipped. The image must have 3 channels (ValueError otherwise).

    Args:
        alphastd: standard deviation of alpha (the paper's 0.1).
        eigval: (3,) eigenvalues, largest first; default `IMAGENET_EIGVAL`, the values
            published for ImageNet (fb.resnet.torch's; see `lighting`).
        eigvec: (3, 3) eigenvectors as columns, RGB rows; default `IMAGENET_EIGVEC`. Give
            both eigval and eigvec (e.g. from `pca_eigen(dataset)`) or neither.
        generator: np.random.Generator to draw from (see the module docstring).
    """

    def __init__(self, alphastd: float = 0.1, eigval: Any = None, eigvec: Any = None,
                 generator: np.random.Generator | None = None) -> None:
        if (eigval is None) != (eigvec is None):
            raise ValueError(
                "PCALighting needs both eigval and eigvec (e.g. from pca_eigen(dataset)), or "
                "neither for ImageNet's"
            )
        if eigval is None:
            eigval, eigvec = IMAGENET_EIGVAL, IMAGENET_EIGVEC
        self.alphastd, self.eigval, self.eigvec = batch._check_pca(alphastd, eigval, eigvec)
        self.generator = generator

    def _apply(self, x: np.ndarray) -> Any:
        return batch.pca_lighting(x, self.alphastd, self.eigval, self.eigvec, self.generator)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(alphastd={self.alphastd}, "
                f"eigval={np.round(self.eigval, 6).tolist()})")
