"""Where does the network look?  Class attribution maps, computed with numcnn's own autograd.

- `grad_cam` (Selvaraju et al. 2017) and `grad_cam_plus_plus` (Chattopadhay et al. 2018):
  a layer's feature maps weighted by the gradient of the class score;
- `saliency` (Simonyan et al. 2014): the largest |d score / d pixel| over the channels;
- `guided_backprop` (Springenberg et al. 2015): the input gradient with every ReLU passing only
  positive gradients;
- `occlusion` (Zeiler & Fergus 2014): how much the class probability drops when a patch of the
  image is hidden;
- `plot_grad_cam` and `plot_attribution` draw them (matplotlib, imported inside the call).

Every method puts the model in eval mode while it computes and restores its mode afterwards.
The class score y_c of image n is output[n, c] (for outputs with spatial axes, (N, K, ...),
their mean over the spatial axes); `target=None` means the class with the largest score.

Axes: N batch, C input channels, H/W input height/width, K feature channels of the layer (or
classes at the output), h/w the layer's height/width.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Sequence

import numpy as np

import numcnn
from numcnn.autograd import grad as autograd_grad
from numcnn.nn.module import Module
from numcnn.ops import activation as A
from numcnn.tensor import Tensor
from numcnn.viz._common import (
    as_batch,
    evaluating,
    get_layer,
    minmax_normalise,
    param_dtype,
    pyplot,
    resize_bilinear,
    resolve_targets,
)

__all__ = ["grad_cam", "grad_cam_plus_plus", "saliency", "guided_backprop", "occlusion",
           "plot_grad_cam", "plot_attribution"]

# occluded copies per forward: about this many input elements (8M float32 = 32 MB), at most 256
_OCCLUSION_ELEMENTS = 1 << 23
_OCCLUSION_MAX_CHUNK = 256


# ----------------------------------------------------------------------------- shared steps
def _input(model: Module, x: Any) -> Tensor:
    """`x` as an (N, C, H, W) Tensor in the dtype of the model's parameters."""
    return as_batch(x, dtype=param_dtype(model))


def _output(model: Module, x: Tensor) -> Tensor:
    """The model's output, checked to be a class-score Tensor (N, K) or (N, K, ...)."""
    out = model(x)
    if not isinstance(out, Tensor) or out.ndim < 2:
        got = type(out).__name__ if not isinstance(out, Tensor) else f"shape {tuple(out.shape)}"
        raise ValueError(f"the model must return class scores of shape (N, K) or (N, K, ...), "
                         f"got {got}")
    return out


def _class_scores(out: np.ndarray) -> np.ndarray:
    """(N, K, ...) -> (N, K): the scores y_c, the mean over any spatial axes."""
    return out.reshape(out.shape[0], out.shape[1], -1).mean(axis=2)


def _score_seed(out: Tensor, target: Any) -> np.ndarray:
    """d(sum_n y_{n, c_n}) / d output: the vector that one backward pass carries from the
    output to get every image's class gradient at once (images do not mix in eval mode)."""
    t = resolve_targets(_class_scores(out.array), target)
    seed = np.zeros(out.shape, dtype=out.array.dtype)
    spatial = seed[0, 0].size                          # y_c is the mean over the spatial axes
    seed[np.arange(out.shape[0]), t] = 1.0 / spatial
    return seed


def _layer_gradient(model: Module, x: Any, layer: str | Module, target: Any
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The layer's output A (N, K, h, w) and dy_c/dA, from one forward and one backward pass.

    A forward hook keeps the layer's output (its last call, when the layer runs more than
    once; when the next module overwrites it in place, such as ReLU(inplace=True), A is what
    that module wrote, as with torch hooks).
    """
    module = get_layer(model, layer)
    x = _input(model, x)
    captured: list[Tensor] = []
    handle = module.register_forward_hook(lambda m, inputs, output: captured.append(output))
    try:
        with evaluating(model), numcnn.enable_grad():
            x.requires_grad_(True)                     # a graph even if every weight is frozen
            out = _output(model, x)
            seed = _score_seed(out, target)
            if not captured:
                raise ValueError(f"layer {layer!r} is not called in the model's forward pass")
            act = captured[-1]
            if not isinstance(act, Tensor) or act.ndim != 4:
                got = (f"shape {tuple(act.shape)}" if isinstance(act, Tensor)
                       else type(act).__name__)
                raise ValueError(f"layer {layer!r} must output feature maps (N, K, h, w), "
                                 f"got {got}")
            (g,) = autograd_grad(out, act, grad_outputs=Tensor(seed), allow_unused=True)
    finally:
        handle.remove()
    if g is None:
        raise ValueError(f"the model's output does not depend on layer {layer!r}")
    return act.detach().array, g.array


def _finish_cam(cam: np.ndarray, size: tuple[int, int], upsample: bool) -> np.ndarray:
    """(N, h, w) map -> itself, or scaled to [0, 1) per image and resized to the input."""
    if not upsample:
        return cam
    return resize_bilinear(minmax_normalise(cam), size)


# ----------------------------------------------------------------------------- Grad-CAM
def grad_cam(model: Module, x: Any, layer: str | Module, target: Any = None,
             upsample: bool = True) -> np.ndarray:
    """Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
    Gradient-based Localization", ICCV 2017), eq. 1-2:

        alpha_k^c = 1/(h w) sum_ij dy_c / dA_k[i, j]        (global-average-pooled gradient)
        L^c       = ReLU(sum_k alpha_k^c A_k)                (h, w)

    with A the layer's output and y_c the class score (before the softmax).  All images go
    through one forward and one backward pass (of sum_n y_{n, c_n}).

    Args:
        model: any Module returning class scores (N, K) (or (N, K, ...): their spatial mean).
        x: one image (C, H, W) or a batch (N, C, H, W), array or Tensor.
        layer: the name of a submodule (from `model.named_modules()`) whose output is
            (N, K, h, w), or the submodule itself.
        target: None (each image's predicted class), an int, or one int per image.
        upsample: False returns L^c itself at the layer's resolution, unnormalised.  True
            follows pytorch-grad-cam: per image (L - min) / (max + 1e-7) after the
            subtraction, then bilinear resizing (half-pixel centres) to (H, W).

    Returns:
        (N, H, W) with upsample, else (N, h, w); the model's dtype.

    Raises:
        ValueError: unknown layer (the message lists them), a target out of range, an input
            that is neither 3-D nor 4-D, a layer whose output is not 4-D or unused.
    """
    xb = _input(model, x)
    act, g = _layer_gradient(model, xb, layer, target)
    weights = g.mean(axis=(2, 3))                                  # alpha_k: (N, K)
    cam = np.maximum(np.einsum("nk,nkhw->nhw", weights, act), 0)   # ReLU(sum_k alpha_k A_k)
    return _finish_cam(cam, xb.shape[2:], upsample)


def grad_cam_plus_plus(model: Module, x: Any, layer: str | Module, target: Any = None,
                       upsample: bool = True) -> np.ndarray:
    """Grad-CAM++ (Chattopadhay et al., "Grad-CAM++: Generalized Gradient-based Visual
    Explanations for Deep Convolutional Networks", WACV 2018), eq. 19 with Y_c = exp(S_c):
    for an exponential of the score S_c the second and third derivatives of Y_c are powers of
    the first derivative g = dS_c/dA of S_c, and the pixel weights become

        alpha_k[i, j] = g^2 / (2 g^2 + sum_ab A_k[a, b] g^3)       (g, g^2, g^3 at [i, j])
        w_k           = sum_ij alpha_k[i, j] ReLU(g[i, j])
        L^c           = ReLU(sum_k w_k A_k)

    0/0: where the denominator is 0 (always where g = 0, whose term ReLU(g) = 0 adds nothing;
    otherwise only if sum_ab A g = -2 exactly) alpha is taken as 0, so no NaN or inf enters.
    The common factor exp(S_c) of the paper's gradient is left out (as pytorch-grad-cam does):
    it scales each image's map by a constant, which the upsampled map's normalisation removes.

    Args:
        model, x, layer, target, upsample: as `grad_cam`.

    Returns:
        (N, H, W) with upsample (scaled to [0, 1) per image), else (N, h, w) unnormalised.

    Raises:
        ValueError: as `grad_cam`.
    """
    xb = _input(model, x)
    act, g = _layer_gradient(model, xb, layer, target)
    g2 = g * g
    denom = 2.0 * g2 + act.sum(axis=(2, 3), keepdims=True) * g2 * g     # (N, K, h, w)
    nonzero = denom != 0
    alpha = np.divide(g2, denom, out=np.zeros_like(g2), where=nonzero)
    weights = (alpha * np.maximum(g, 0)).sum(axis=(2, 3))                # w_k: (N, K)
    cam = np.maximum(np.einsum("nk,nkhw->nhw", weights, act), 0)
    return _finish_cam(cam, xb.shape[2:], upsample)


# ----------------------------------------------------------------------------- input gradients
def _input_gradient(model: Module, x: Any, target: Any) -> np.ndarray:
    """d(y_{n, c_n}) / d x_n for every image, (N, C, H, W), one forward and one backward."""
    xb = _input(model, x)
    with evaluating(model), numcnn.enable_grad():
        xb.requires_grad_(True)
        out = _output(model, xb)
        (g,) = autograd_grad(out, xb, grad_outputs=Tensor(_score_seed(out, target)),
                             allow_unused=True)
    if g is None:
        return np.zeros(xb.shape, dtype=xb.array.dtype)
    return g.array


def saliency(model: Module, x: Any, target: Any = None) -> np.ndarray:
    """Image-specific class saliency (Simonyan, Vedaldi & Zisserman, "Deep Inside
    Convolutional Networks", ICLR workshop 2014), sec. 3.1:

        M[i, j] = max_c |dy_c / dx[c, i, j]|       (max over the input channels)

    Args:
        model: any Module returning class scores.
        x: one image (C, H, W) or a batch (N, C, H, W).
        target: None (the predicted class), an int, or one int per image.

    Returns:
        (N, H, W), unnormalised.

    Raises:
        ValueError: a target out of range, or an input that is neither 3-D nor 4-D.
    """
    return np.abs(_input_gradient(model, x, target)).max(axis=1)


def _guided_relu_backward(ctx: Any, gy: np.ndarray) -> tuple[np.ndarray]:
    """Guided backward of y = max(x, 0): gx = gy where x > 0 and gy > 0, else 0."""
    (keep,) = ctx.saved
    return (np.maximum(gy, 0) * keep,)


@contextlib.contextmanager
def _guided_relu() -> Iterator[None]:
    """Inside the block, every ReLU's backward is the guided one; restored in `finally`."""
    original = A.ReLU.__dict__["backward"]
    A.ReLU.backward = staticmethod(_guided_relu_backward)    # type: ignore[method-assign]
    try:
        yield
    finally:
        A.ReLU.backward = original                           # type: ignore[method-assign]


def guided_backprop(model: Module, x: Any, target: Any = None) -> np.ndarray:
    """Guided backpropagation (Springenberg et al., "Striving for Simplicity: The All
    Convolutional Net", ICLR workshop 2015, fig. 1): the gradient of y_c with respect to the
    input, where each ReLU passes back only positive gradients at positive inputs:

        R_l = (f_l > 0) * (R_{l+1} > 0) * R_{l+1}    (f_l the ReLU's input, R the gradient)

    How: while it runs, the backward of the ReLU kernel (`numcnn.ops.activation.ReLU`, the one
    that `F.relu`, `nn.ReLU`, `relu_`, `Tensor.relu_` and their `inplace=True` forms all use)
    is replaced by the guided rule and put back in a `finally`, so an error cannot leave it
    changed.  Backward hooks on `nn.ReLU` modules were the other choice; they would miss the
    functional relus in `forward` methods.  The swap is process-wide for its duration, so do
    not run a plain backward in another thread at the same time.  Other activations (ReLU6,
    LeakyReLU, ...) keep their ordinary backward.

    Args:
        model: any Module returning class scores.
        x: one image (C, H, W) or a batch (N, C, H, W).
        target: None (the predicted class), an int, or one int per image.

    Returns:
        (N, C, H, W), the guided gradient, unnormalised.

    Raises:
        ValueError: a target out of range, or an input that is neither 3-D nor 4-D.
    """
    with _guided_relu():
        return _input_gradient(model, x, target)


# ----------------------------------------------------------------------------- occlusion
def _pair(value: Any, name: str) -> tuple[int, int]:
    """An int or a pair of ints, each >= 1."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                 and v >= 1 for v in pair):
        raise ValueError(f"{name} must be a positive int or a pair of positive ints, "
                         f"got {value!r}")
    return int(pair[0]), int(pair[1])


def _probabilities(model: Module, x: np.ndarray) -> np.ndarray:
    """softmax of the class scores (sigmoid for a single output logit), (N, K), no graph."""
    with numcnn.no_grad():
        scores = _class_scores(_output(model, Tensor(x)).array)
    if scores.shape[1] == 1:
        return 1.0 / (1.0 + np.exp(-scores))
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _window_masks(size: int, window: int, stride: int) -> np.ndarray:
    """(positions, size) bool: mask[p, i] is True where window p covers pixel i."""
    starts = np.arange((size - window) // stride + 1) * stride
    pixel = np.arange(size)
    return (pixel >= starts[:, None]) & (pixel < starts[:, None] + window)


def occlusion(model: Module, x: Any, target: Any = None, window: int | Sequence[int] = 8,
              stride: int | Sequence[int] = 4, fill: float = 0.0) -> np.ndarray:
    """Occlusion sensitivity (Zeiler & Fergus, "Visualizing and Understanding Convolutional
    Networks", ECCV 2014, sec. 4.2): a window filled with `fill` slides over the image and

        D[n, r, s] = p_c(x_n) - p_c(x_n with the window at (r * stride, s * stride) filled)

    with p = softmax(y) (for a model with one output logit, p = sigmoid(y)).  A large drop marks
    a region the class depends on.  Windows start at 0, stride, 2 stride, ... and lie wholly
    inside the image: rows = (H - window) // stride + 1 (likewise cols), so when
    (H - window) % stride != 0 the last few rows (or columns) of pixels are never hidden;
    choose window and stride to tile the image if they matter.

    The occluded copies are built at once with boolean window masks and go through the model
    in batches of up to 256 (fewer for large images), not one forward per position.

    Args:
        model: any Module returning class scores.
        x: one image (C, H, W) or a batch (N, C, H, W).
        target: None (the predicted class of the unoccluded image), an int, or one per image.
        window: the occluder's (height, width), an int or a pair; at most (H, W).
        stride: the step between window positions, an int or a pair.
        fill: the value the occluded pixels get.

    Returns:
        (N, rows, cols) probability drops (negative where hiding the patch raises p_c).

    Raises:
        ValueError: a window larger than the image, a window or stride that is not a
            positive int or pair, a target out of range, an input that is neither 3-D nor 4-D.
    """
    xb = _input(model, x).array
    n, c, h, w = xb.shape
    (wh, ww), (sh, sw) = _pair(window, "window"), _pair(stride, "stride")
    if wh > h or ww > w:
        raise ValueError(f"window {(wh, ww)} is larger than the image ({h}, {w})")
    row_masks, col_masks = _window_masks(h, wh, sh), _window_masks(w, ww, sw)
    rows, cols = len(row_masks), len(col_masks)
    chunk = int(np.clip(_OCCLUSION_ELEMENTS // (c * h * w), 1, _OCCLUSION_MAX_CHUNK))
    with evaluating(model):
        base = _probabilities(model, xb)                                 # (N, K)
        t = resolve_targets(base, target)
        # every (image, row, col) triple, flattened; each chunk of them is one forward
        img, r, s = (a.ravel() for a in np.indices((n, rows, cols)))
        p_occluded = np.empty(n * rows * cols, dtype=base.dtype)
        for lo in range(0, img.size, chunk):
            sl = slice(lo, lo + chunk)
            hidden = row_masks[r[sl]][:, None, :, None] & col_masks[s[sl]][:, None, None, :]
            copies = np.where(hidden, xb.dtype.type(fill), xb[img[sl]])   # (B, C, H, W)
            p_occluded[sl] = _probabilities(model, copies)[np.arange(copies.shape[0]),
                                                            t[img[sl]]]
    drop = base[np.arange(n), t][:, None] - p_occluded.reshape(n, rows * cols)
    return drop.reshape(n, rows, cols)


# ----------------------------------------------------------------------------- pictures
def _display_images(images: Any) -> np.ndarray:
    """(N, C, H, W) or (N, H, W) -> (N, H, W) grey or (N, H, W, 3) RGB, each scaled to [0, 1]."""
    arr = np.asarray(images.detach().array if isinstance(images, Tensor) else images,
                     dtype=np.float64)
    if arr.ndim == 4 and arr.shape[1] in (1, 3):
        arr = arr[:, 0] if arr.shape[1] == 1 else arr.transpose(0, 2, 3, 1)
    elif arr.ndim != 3:
        raise ValueError(f"images must be (N, H, W), (N, 1, H, W) or (N, 3, H, W), got shape "
                         f"{tuple(arr.shape)}")
    flat = arr.reshape(arr.shape[0], -1)
    lo, hi = flat.min(axis=1), flat.max(axis=1)
    scale = np.where(hi > lo, hi - lo, 1.0)
    shape = (-1,) + (1,) * (arr.ndim - 1)
    return (arr - lo.reshape(shape)) / scale.reshape(shape)


def _check_titles(titles: Sequence[str] | None, n: int) -> list[str]:
    if titles is None:
        return [""] * n
    if len(titles) != n:
        raise ValueError(f"titles must give one title per image ({n}), got {len(titles)}")
    return [str(t) for t in titles]


def plot_grad_cam(images: Any, cams: np.ndarray, titles: Sequence[str] | None = None,
                  alpha: float = 0.5) -> Any:
    """Each image with its class activation map drawn over it (the "jet" colour map).

    Args:
        images: (N, C, H, W) with C = 1 or 3, or (N, H, W); each is scaled to [0, 1] for display.
        cams: (N, h, w) maps, e.g. from `grad_cam`; resized bilinearly to (H, W) when smaller.
        titles: one title per image.
        alpha: opacity of the map over the image, in [0, 1].

    Returns:
        a matplotlib Figure with one panel per image.

    Raises:
        ValueError: shapes that do not match, alpha outside [0, 1], a wrong number of titles.
    """
    shown = _display_images(images)
    maps = np.asarray(cams, dtype=np.float64)
    if maps.ndim != 3 or maps.shape[0] != shown.shape[0]:
        raise ValueError(f"cams must be (N, h, w) with N = {shown.shape[0]} images, got shape "
                         f"{tuple(maps.shape)}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    names = _check_titles(titles, shown.shape[0])
    if maps.shape[1:] != shown.shape[1:3]:
        maps = resize_bilinear(maps, shown.shape[1:3])
    plt = pyplot()
    n = shown.shape[0]
    ncols = min(n, 6)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.4 * ncols, 2.4 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(n):
        ax = axes.ravel()[i]
        ax.imshow(shown[i], cmap="gray" if shown.ndim == 3 else None, vmin=0, vmax=1)
        ax.imshow(maps[i], cmap="jet", alpha=alpha)
        ax.set_title(names[i], fontsize=9)
    fig.tight_layout()
    return fig


def _display_maps(maps: Any, n: int) -> np.ndarray:
    """(N, H, W) as given, or (N, C, H, W): RGB scaled to [0, 1] for C = 3, else max |.| over C."""
    arr = np.asarray(maps.detach().array if isinstance(maps, Tensor) else maps,
                     dtype=np.float64)
    if arr.ndim == 4 and arr.shape[1] == 3:
        return _display_images(arr)
    if arr.ndim == 4:
        arr = np.abs(arr).max(axis=1)
    if arr.ndim != 3 or arr.shape[0] != n:
        raise ValueError(f"maps must be (N, H, W) or (N, C, H, W) with N = {n} images, got "
                         f"shape {tuple(arr.shape)}")
    return arr


def plot_attribution(images: Any, maps: Any, titles: Sequence[str] | None = None,
                     cmap: str = "inferno") -> Any:
    """One row per image: the image, then its attribution map (saliency, guided
    backpropagation, occlusion, Grad-CAM).

    Args:
        images: (N, C, H, W) with C = 1 or 3, or (N, H, W).
        maps: (N, h, w), or (N, C, H, W) (guided backpropagation: RGB when C = 3, otherwise the
            largest |value| over the channels).
        titles: one title per row.
        cmap: the matplotlib colour map of single-channel maps.

    Returns:
        a matplotlib Figure, N rows by 2 columns.

    Raises:
        ValueError: shapes that do not match, or a wrong number of titles.
    """
    shown = _display_images(images)
    n = shown.shape[0]
    drawn = _display_maps(maps, n)
    names = _check_titles(titles, n)
    plt = pyplot()
    fig, axes = plt.subplots(n, 2, figsize=(5.0, 2.5 * n), squeeze=False)
    for i in range(n):
        axes[i, 0].imshow(shown[i], cmap="gray" if shown.ndim == 3 else None, vmin=0, vmax=1)
        axes[i, 0].set_title(names[i], fontsize=9)
        axes[i, 1].imshow(drawn[i], cmap=cmap if drawn.ndim == 3 else None)
        for ax in axes[i]:
            ax.axis("off")
    fig.tight_layout()
    return fig
