"""Resampling and rearrangement with torch.nn.functional's names: channel_shuffle,
pixel_shuffle, pixel_unshuffle, interpolate (and the deprecated upsample aliases); and the small
helpers one_hot and normalize.

(PyTorch has no `F.flatten`; use `Tensor.flatten` / `numcnn.flatten` / `nn.Flatten`.)
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Sequence, cast

import numpy as np

from numcnn.autograd.function import Context, Function
from numcnn.nn.functional import pool as P
from numcnn.nn.functional._checks import check_int, check_number, check_tensor, is_int
from numcnn.ops import resample as R
from numcnn.tensor import Tensor, _norm_dims

__all__ = [
    "channel_shuffle", "interpolate", "native_channel_shuffle", "normalize", "one_hot",
    "pixel_shuffle", "pixel_unshuffle", "upsample", "upsample_bilinear", "upsample_nearest",
]

_INTERP_MODES = "nearest | linear | bilinear | bicubic | trilinear | area | nearest-exact"
_LINEAR_MODES = {"linear": 3, "bilinear": 4, "trilinear": 5}


# ----------------------------------------------------------------------------- shuffles
def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """Shuffle channels across groups (ShuffleNet): view C as a (groups, C/groups) grid, transpose.

    Args:
        input: (N, C, *) with C divisible by `groups`.
        groups: number of groups.

    Shape:
        input (N, C, *) -> output (N, C, *),  y[:, k*G + g] = x[:, g*(C/G) + k].
    """
    check_tensor(input, "input", "channel_shuffle")
    groups = check_int(groups, "groups", "channel_shuffle")
    if groups <= 0:
        raise RuntimeError(
            f"Number of groups to divide channels in must be positive. Value of groups:{groups}"
        )
    if input.ndim <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with "
                           f"sizes {list(input.shape)}")
    if input.shape[1] % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got "
                           f"{input.shape[1]} channels and {groups} groups.")
    return R.ChannelShuffle.apply(input, groups=groups)


native_channel_shuffle = channel_shuffle


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """Rearrange (*, C r^2, H, W) into (*, C, H r, W r) (sub-pixel convolution, Shi et al. 2016).

    Args:
        input: at least 3-D, channel axis (-3) divisible by upscale_factor^2.
        upscale_factor: r.

    Shape:
        input (*, C r^2, H, W) -> output (*, C, H r, W r),
        y[..., c, h r + i, w r + j] = x[..., c r^2 + i r + j, h, w].
    """
    check_tensor(input, "input", "pixel_shuffle")
    r = check_int(upscale_factor, "upscale_factor", "pixel_shuffle")
    if input.ndim < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but "
                           f"got input with {input.ndim} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    if input.shape[-3] % (r * r):
        raise RuntimeError(
            f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square "
            f"of upscale_factor, but input.size(-3)={input.shape[-3]} is not divisible by {r * r}"
        )
    return R.PixelShuffle.apply(input, upscale_factor=r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """Rearrange (*, C, H r, W r) into (*, C r^2, H, W): the inverse of `pixel_shuffle`.

    Shape:
        input (*, C, H r, W r) -> output (*, C r^2, H, W),
        y[..., c r^2 + i r + j, h, w] = x[..., c, h r + i, w r + j].
    """
    check_tensor(input, "input", "pixel_unshuffle")
    r = check_int(downscale_factor, "downscale_factor", "pixel_unshuffle")
    if input.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but "
                           f"got input with {input.ndim} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    if input.shape[-2] % r:
        raise RuntimeError(f"pixel_unshuffle expects height to be divisible by downscale_factor, "
                           f"but input.size(-2)={input.shape[-2]} is not divisible by {r}")
    if input.shape[-1] % r:
        raise RuntimeError(f"pixel_unshuffle expects width to be divisible by downscale_factor, "
                           f"but input.size(-1)={input.shape[-1]} is not divisible by {r}")
    return R.PixelUnshuffle.apply(input, downscale_factor=r)


# ----------------------------------------------------------------------------- interpolate
def interpolate(input: Tensor, size: int | Sequence[int] | None = None,
                scale_factor: float | Sequence[float] | None = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize the spatial dimensions of (N, C, *spatial) input, as PyTorch's F.interpolate.

    Args:
        input: (N, C, L) for 'linear', (N, C, H, W) for 'bilinear', (N, C, D, H, W) for
            'trilinear'; 'nearest' / 'nearest-exact' take any of the three.
        size: output spatial size (an int for every axis, or one per axis).
        scale_factor: multiplier for the spatial size (one, or one per axis); exactly one of
            `size` and `scale_factor` must be given.
        mode: 'nearest', 'nearest-exact', 'linear', 'bilinear', 'trilinear' or 'area'
            ('area' is adaptive average pooling to the output size, as in PyTorch).
        align_corners: linear modes only: map the corner pixel centres onto each other.
        recompute_scale_factor: with `scale_factor`, recompute the scale from the output size
            (L_in / L_out) instead of using 1 / scale_factor in the index formula.
        antialias: not supported (must be False).

    Shape:
        input (N, C, *L_in) -> output (N, C, *L_out), L_out = size or floor(L_in * scale_factor).
        nearest:  src = min(floor(dst * s), L_in - 1),  s = 1/scale_factor or L_in/L_out
                  (nearest-exact: floor((dst + 0.5) * s)).
        linear:   src = dst (L_in - 1)/(L_out - 1) with align_corners, else
                  max(s (dst + 0.5) - 0.5, 0);  y = (1 - lam) x[floor(src)] + lam x[floor(src) + 1].
        area:     y[dst] = mean of x over [floor(dst L_in / L_out), ceil((dst + 1) L_in / L_out)).
    """
    check_tensor(input, "input", "interpolate")
    if not isinstance(mode, str):
        raise TypeError(f"interpolate(): mode must be a string, got {type(mode).__name__}")
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    dim = input.ndim - 2
    spatial = list(input.shape[2:])
    scales: list[float | None]
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    f"Input and output must have the same number of spatial dimensions, but got "
                    f"input with spatial dimensions of {spatial} and output size of {size}. "
                    "Please provide input tensor in (N, C, d1, d2, ...,dK) format and output "
                    "size in (o1, o2, ...,oK) format."
                )
            if not all(is_int(s) for s in size):
                raise TypeError(
                    "expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                    f"Tuple[int, int, int], but got size with types {[type(s) for s in size]}"
                )
            out_size = [int(s) for s in size]
        else:
            if not is_int(size):
                raise TypeError(f"expected size to be an int or a tuple of ints, but got "
                                f"{type(size).__name__}")
            out_size = [int(cast(int, size))] * dim
        scales = [None] * dim
        if recompute_scale_factor:
            raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(
                    f"Input and scale_factor must have the same number of spatial dimensions, "
                    f"but got input with spatial dimensions of {spatial} and scale_factor of "
                    f"shape {scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) "
                    "format and scale_factor in (s1, s2, ...,sK) format."
                )
            factors = list(scale_factor)
        else:
            factors = [scale_factor] * dim
        if not all(isinstance(f, numbers.Real) and not isinstance(f, bool) for f in factors):
            raise TypeError(f"interpolate(): scale_factor must be a float or a tuple of floats, "
                            f"got {scale_factor!r}")
        factors = [float(f) for f in factors]
        out_size = [math.floor(float(n) * f) for n, f in zip(spatial, factors)]
        scales = [None] * dim if recompute_scale_factor else list(factors)
    else:
        raise ValueError("either size or scale_factor should be defined")
    if antialias:
        raise NotImplementedError("interpolate(): antialias=True is not supported by numcnn")

    supported = ("nearest", "nearest-exact", "area") + tuple(_LINEAR_MODES)
    if mode in _LINEAR_MODES and input.ndim in (3, 4, 5) and input.ndim != _LINEAR_MODES[mode]:
        need = _LINEAR_MODES[mode]
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {need}D input")
    if input.ndim not in (3, 4, 5) or mode not in supported:
        extra = "" if mode not in ("bicubic", "lanczos") else \
            f" (mode {mode!r} is a PyTorch mode that numcnn does not implement)"
        raise NotImplementedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) for "
            f"the modes: {_INTERP_MODES} (got {mode}); numcnn implements nearest | "
            f"nearest-exact | linear | bilinear | trilinear | area{extra}"
        )
    if any(n <= 0 for n in spatial) or any(n <= 0 for n in out_size):
        names = "DHW"[3 - dim:] if dim <= 3 else ""
        fmt = ", ".join(f"{a}: {b}" for a, b in zip(names, spatial))
        ofmt = ", ".join(f"{a}: {b}" for a, b in zip(names, out_size))
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"({fmt}) output ({ofmt})")
    if mode in _LINEAR_MODES and input.dtype.kind != "f":
        raise TypeError(f"interpolate(): mode {mode!r} needs a floating point input, got dtype "
                        f"{input.dtype}")
    if mode == "area":
        adaptive = (P.adaptive_avg_pool1d, P.adaptive_avg_pool2d, P.adaptive_avg_pool3d)[dim - 1]
        return adaptive(input, tuple(out_size) if dim > 1 else out_size[0])
    return R.Interpolate.apply(input, mode=mode, size=tuple(out_size), scales=tuple(scales),
                               align_corners=bool(align_corners))


def upsample(input: Tensor, size: int | Sequence[int] | None = None,
             scale_factor: float | Sequence[float] | None = None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """Deprecated alias of `interpolate` (warns, as PyTorch).

    Shape:
        as `interpolate`.
    """
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size: int | Sequence[int] | None = None,
                     scale_factor: float | Sequence[float] | None = None) -> Tensor:
    """Deprecated: `interpolate(input, size, scale_factor, mode='nearest')`.

    Shape:
        as `interpolate`.
    """
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size: int | Sequence[int] | None = None,
                      scale_factor: float | Sequence[float] | None = None) -> Tensor:
    """Deprecated: `interpolate(input, size, scale_factor, mode='bilinear', align_corners=True)`.

    Shape:
        input (N, C, H, W) -> output (N, C, H_out, W_out).
    """
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ----------------------------------------------------------------------------- one_hot, normalize
def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Class indices -> one-hot rows: out[..., c] = 1 if tensor[...] == c else 0 (int64).

    Args:
        tensor: int64 class indices of any shape.
        num_classes: C; -1 infers it as max(tensor) + 1.

    Shape:
        tensor (*) -> output (*, C).

    Raises:
        RuntimeError: as PyTorch, for a tensor that is not int64, a negative class, a class
            >= num_classes, or an empty tensor with num_classes=-1.
    """
    check_tensor(tensor, "tensor", "one_hot")
    n = check_int(num_classes, "num_classes", "one_hot")
    if tensor.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    x = tensor.array
    if n <= 0 and x.size == 0:
        raise RuntimeError("Can not infer total number of classes from empty tensor.")
    if x.size and int(x.min()) < 0:
        raise RuntimeError("Class values must be non-negative.")
    if n == -1:
        n = int(x.max()) + 1
    if n < 0 or (x.size and int(x.max()) >= n):
        raise RuntimeError("Class values must be smaller than num_classes.")
    return Tensor((x[..., None] == np.arange(n)).astype(np.int64))


def _vector_norm(x: np.ndarray, p: float, axes: tuple[int, ...] | None) -> np.ndarray:
    """||x||_p over `axes` (kept as size-1 dims): (sum |x|^p)^(1/p); p=inf/-inf max/min |x|,
    p=0 the count of nonzeros."""
    a = np.abs(x)
    if p == math.inf:
        return np.max(a, axis=axes, keepdims=True, initial=0)
    if p == -math.inf:
        return np.min(a, axis=axes, keepdims=True, initial=math.inf)
    if p == 0:
        return np.sum(x != 0, axis=axes, keepdims=True).astype(x.dtype)
    if p == 1:
        return np.sum(a, axis=axes, keepdims=True)
    if p == 2:
        return np.sqrt(np.sum(x * x, axis=axes, keepdims=True))
    return np.sum(a ** p, axis=axes, keepdims=True) ** (1.0 / p)


class _Normalize(Function):
    """y = x / d,  d = max(n, eps),  n = ||x||_p over the reduced dims.

    With s = sum(gy * x) over those dims, and the clamp passing the gradient where n >= eps:
        gx = gy / d - [n >= eps] * s / d^2 * dn/dx,
        dn/dx = sign(x) |x|^(p-1) / n^(p-1)   (p=2: x / n;  p=1: sign(x);
                p=+-inf: sign(x) on the entries with |x| = n, shared evenly among ties;  p=0: 0).
    An all-zero row has n = 0 < eps, so its gradient is gy / eps (as PyTorch).
    """

    @staticmethod
    def forward(ctx: Context, x, *, p, axes, eps):
        n = _vector_norm(x, p, axes)                # (..., 1, ...) broadcasts against x
        d = np.maximum(n, eps).astype(x.dtype)
        ctx.save_for_backward(x, n, d)
        ctx.p, ctx.axes, ctx.eps = p, axes, eps
        return x / d

    @staticmethod
    def backward(ctx: Context, gy):
        x, n, d = ctx.saved
        p, axes = ctx.p, ctx.axes
        gx = gy / d
        if p == 0:
            return (gx,)
        passed = n >= ctx.eps
        safe_n = np.where(passed & (n > 0), n, 1)
        a = np.abs(x)
        if p == 2:
            dn = x / safe_n
        elif p == 1:
            dn = np.sign(x)
        elif math.isinf(p):
            hit = a == n
            dn = np.sign(x) * hit / np.maximum(np.sum(hit, axis=axes, keepdims=True), 1)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                dn = np.where(a > 0, np.sign(x) * (a / safe_n) ** (p - 1), 0)
        s = np.sum(gy * x, axis=axes, keepdims=True)
        gx = gx - np.where(passed, s / (d * d), 0) * dn
        return (gx.astype(x.dtype, copy=False),)


def normalize(input: Tensor, p: float = 2.0, dim: Any = 1, eps: float = 1e-12) -> Tensor:
    """Divide by the p-norm over `dim`: y = x / max(||x||_p, eps).

    Args:
        input: a floating tensor.
        p: the norm's exponent (inf, -inf and 0 allowed).
        dim: int or tuple of ints to take the norm over (default 1).
        eps: lower bound of the divisor (an all-zero row stays zero).

    Shape:
        input (*) -> output (*), the same shape.

    Raises:
        RuntimeError: for an integer tensor, or p = +-inf over an empty dim.
        IndexError: for a dim out of range.
    """
    check_tensor(input, "input", "normalize")
    p = check_number(p, "p", "normalize")
    eps = check_number(eps, "eps", "normalize")
    if input.dtype.kind != "f":
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {input.dtype}")
    axes = _norm_dims(dim, input.ndim)
    if input.ndim == 0:
        axes = None
    if math.isinf(p) and axes is not None and any(input.shape[a] == 0 for a in axes):
        empty = next(a for a in axes if input.shape[a] == 0)
        raise RuntimeError(f"linalg.vector_norm cannot compute the {p} norm on the dimension "
                           f"{empty} because this dimension is empty and the operation does not "
                           "have an identity")
    return _Normalize.apply(input, p=p, axes=axes, eps=eps)
