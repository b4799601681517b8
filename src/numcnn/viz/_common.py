"""What the visualisation methods share: layer lookup, class targets, input checks, resizing,
and matplotlib (an optional extra, imported only when a picture is drawn).

Every public function of `numcnn.viz` takes a model and a layer *name* from
`model.named_modules()`; these helpers turn a bad name, target or input into one line that says
what is allowed.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Sequence

import numpy as np

import numcnn
from numcnn.nn.module import Module
from numcnn.nn.utils._dtype import param_dtype
from numcnn.tensor import Tensor

__all__ = ["get_layer", "layer_names", "conv_layer_names", "as_batch", "resolve_targets",
           "resize_bilinear", "pyplot", "minmax_normalise", "evaluating", "eval_scores",
           "param_dtype"]


def layer_names(model: Module) -> list[str]:
    """The names of every submodule of `model` (not the model itself), in registration order."""
    return [name for name, _ in model.named_modules() if name]


def conv_layer_names(model: Module) -> list[str]:
    """The names of the Conv1d/2d/3d layers of `model`, in registration order (the first is
    the layer that sees the image, the last the one Grad-CAM usually explains)."""
    from numcnn.nn.modules.conv import Conv1d, Conv2d, Conv3d

    return [name for name, m in model.named_modules()
            if name and isinstance(m, (Conv1d, Conv2d, Conv3d))]


def get_layer(model: Module, name: str | Module) -> Module:
    """The submodule called `name` (or `name` itself when it is a submodule of `model`).

    Raises:
        ValueError: no such submodule; the message lists the names that exist.
    """
    modules = dict(model.named_modules())
    if isinstance(name, Module):
        if any(m is name for m in modules.values()):
            return name
        raise ValueError("the layer given is not a submodule of the model")
    if not isinstance(name, str) or name not in modules or name == "":
        names = layer_names(model)
        shown = ", ".join(names[:40]) + (f", ... ({len(names)} in all)" if len(names) > 40
                                         else "")
        raise ValueError(f"no layer {name!r} in {type(model).__name__}; layers: {shown}")
    return modules[name]


def as_batch(x: Any, ndim: int = 4, dtype: Any = None) -> Tensor:
    """`x` (Tensor or array, one image (C, H, W) or a batch (N, C, H, W)) as an (N, C, H, W)
    Tensor that does not require a gradient.

    Raises:
        ValueError: `x` has neither ndim - 1 nor ndim dimensions.
    """
    arr = x.detach().array if isinstance(x, Tensor) else np.asarray(x)
    if arr.ndim == ndim - 1:
        arr = arr[None]
    if arr.ndim != ndim:
        raise ValueError(f"expected an input of shape (N, C, H, W) or (C, H, W), got shape "
                         f"{tuple(arr.shape)}")
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    elif arr.dtype.kind != "f":
        arr = arr.astype(np.float32)
    return Tensor(np.ascontiguousarray(arr))


def resolve_targets(scores: np.ndarray, target: Any) -> np.ndarray:
    """One class index per image: the arg-max of `scores` (N, K) when `target` is None, else
    `target` (an int for every image, or a sequence of N ints).

    Raises:
        ValueError: a target outside [0, K), or a sequence whose length is not N.
    """
    n, k = scores.shape[0], scores.shape[1]
    if target is None:
        return scores.reshape(n, k, -1).mean(axis=2).argmax(axis=1)
    if isinstance(target, Tensor):
        target = target.array
    t = np.asarray(target)
    if t.dtype.kind not in "iu" and not (t.dtype.kind == "f" and np.all(t == np.round(t))):
        raise ValueError(f"target must be None, an int or a sequence of ints, got {target!r}")
    t = t.astype(np.int64)
    if t.ndim == 0:
        t = np.full(n, int(t))
    if t.shape != (n,):
        raise ValueError(f"target must be an int or one int per image ({n}), got shape "
                         f"{tuple(t.shape)}")
    bad = t[(t < 0) | (t >= k)]
    if bad.size:
        raise ValueError(f"target {int(bad[0])} is out of range: the model has {k} classes "
                         f"(0..{k - 1})")
    return t


def resize_bilinear(maps: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """(N, h, w) -> (N, H, W) by bilinear interpolation with half-pixel centres (source
    coordinate (i + 0.5) * h / H - 0.5, clamped at the borders): torch's
    `interpolate(mode="bilinear", align_corners=False)` and OpenCV's `resize` when enlarging."""
    from numcnn.nn import functional as F

    out = F.interpolate(Tensor(np.ascontiguousarray(maps[:, None])), size=tuple(size),
                        mode="bilinear", align_corners=False)
    return out.array[:, 0]


def minmax_normalise(maps: np.ndarray, eps: float = 1e-7) -> np.ndarray:
    """Per map: (m - min) / (max + eps) after the subtraction, as pytorch-grad-cam scales."""
    flat = maps.reshape(maps.shape[0], -1)
    flat = flat - flat.min(axis=1, keepdims=True)
    flat = flat / (flat.max(axis=1, keepdims=True) + eps)
    return flat.reshape(maps.shape)


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no screen needed), or one line saying what to
    install."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError("drawing needs matplotlib: pip install 'numcnn[viz]' (or pip install "
                          "matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


@contextlib.contextmanager
def evaluating(model: Module) -> Iterator[None]:
    """Eval mode inside the block, the model's own mode restored afterwards (even on error)."""
    was = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was)


def eval_scores(model: Module, x: Tensor) -> np.ndarray:
    """The model's outputs for `x` in eval mode without a graph (restoring its mode)."""
    with evaluating(model), numcnn.no_grad():
        return model(x).array
