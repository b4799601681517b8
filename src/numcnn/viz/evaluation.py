"""What a trained classifier gets wrong: confusion matrix, a 2-D PCA of a layer's features,
the training curves of a run, and the images it misclassifies.

    cm = confusion_matrix(y_true, y_pred, num_classes=10)      # int64 (K, K)
    fig = plot_confusion(cm, class_names)                      # counts, row fractions, recall
    emb = embedding_2d(model, test_loader, "avgpool")          # PCA of the layer's features
    fig = plot_embedding(emb, class_names)
    fig = plot_history("runs/exp1/metrics.csv")                # loss and accuracy per epoch
    bad = misclassified(model, test_loader, limit=25)
    fig = plot_misclassified(bad, class_names, mean=MEAN, std=STD)

The computing functions return arrays and never draw; the `plot_` functions draw those arrays
with matplotlib (imported inside them, Agg backend).

Axes: N images, C channels, H/W height/width, K classes, D features of a layer.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

import numcnn
from numcnn.nn.module import Module
from numcnn.tensor import Tensor
from numcnn.viz._common import evaluating, get_layer, pyplot

__all__ = ["Embedding", "Misclassified", "confusion_matrix", "plot_confusion", "embedding_2d",
           "plot_embedding", "read_history", "plot_history", "misclassified",
           "plot_misclassified"]

_MAX_METRICS_BYTES = 64 * 2**20      # a metrics.csv holds one short row per epoch
_CELL_TEXT_MAX_CLASSES = 30          # above this, cells are too small to write counts in


# ----------------------------------------------------------------------------- helpers
def _array(value: Any) -> np.ndarray:
    """A Tensor's ndarray (detached), or np.asarray of anything else."""
    return value.detach().array if isinstance(value, Tensor) else np.asarray(value)


def _labels(value: Any, what: str) -> np.ndarray:
    """`value` as a 1-D int64 array of class indices, or a one-line ValueError."""
    arr = _array(value)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be 1-D (one class index per sample), got shape "
                         f"{tuple(arr.shape)}")
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iub":
        raise ValueError(f"{what} must hold integer class indices, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _as_input(x: Any) -> Tensor:
    """A batch from a loader as a Tensor without a graph (float32 when it is not float)."""
    if isinstance(x, Tensor):
        return x.detach()
    arr = np.asarray(x)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float32)
    return Tensor(np.ascontiguousarray(arr))


def _check_limit(limit: int | None) -> None:
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)
                              or limit <= 0):
        raise ValueError(f"limit must be a positive int or None, got {limit!r}")


def _class_names(class_names: Sequence[str] | None, k: int) -> list[str]:
    if class_names is None:
        return [str(i) for i in range(k)]
    names = [str(n) for n in class_names]
    if len(names) < k:
        raise ValueError(f"class_names must name all {k} classes, got {len(names)}")
    return names


# ----------------------------------------------------------------------------- confusion
def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int) -> np.ndarray:
    """The confusion matrix C of a classifier: C[t, p] = number of samples of true class t that
    were predicted as class p (rows: truth, columns: prediction).

    Computed as one bincount over the flat indices t * K + p, so that
    sum_p C[t, p] = samples of class t, trace(C) / N = accuracy, C[k, k] / sum_p C[k, p] =
    recall of class k.

    Args:
        y_true: (N,) true class indices (array, Tensor or sequence of ints).
        y_pred: (N,) predicted class indices.
        num_classes: K, the number of classes; every index must lie in [0, K).

    Returns:
        int64 array (K, K).

    Raises:
        ValueError: a non-positive num_classes, inputs that are not 1-D integer arrays of the
            same length, or an index outside [0, K).
    """
    if not isinstance(num_classes, (int, np.integer)) or isinstance(num_classes, bool) \
            or num_classes <= 0:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    k = int(num_classes)
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {t.shape[0]} and "
                         f"{p.shape[0]}")
    for name, arr in (("y_true", t), ("y_pred", p)):
        if arr.size and (arr.min() < 0 or arr.max() >= k):
            bad = arr[(arr < 0) | (arr >= k)][0]
            raise ValueError(f"{name} holds class {int(bad)}, outside [0, {k}) "
                             f"(num_classes={k})")
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k).astype(np.int64)


def plot_confusion(cm: Any, class_names: Sequence[str] | None = None,
                   normalize: bool = True) -> Any:
    """Draw a confusion matrix as a heat map.

    Each cell shows its count and, with `normalize`, its fraction of the row,
    C[t, p] / sum_q C[t, q]; the colour is that fraction (or the count without `normalize`).
    The right-hand labels give each class's accuracy (recall) C[k, k] / sum_q C[k, q], the
    title the overall accuracy trace(C) / sum(C). Cells of matrices above 30 classes carry no
    text.

    Args:
        cm: (K, K) counts, rows true class, columns predicted class (`confusion_matrix`).
        class_names: K names for the ticks (default 0..K-1).
        normalize: colour by the row-normalised fraction (True) or by the count.

    Returns:
        a matplotlib Figure with the heat map axes, its colour bar and the recall axis.
    """
    c = _array(cm)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] == 0:
        raise ValueError(f"cm must be a square (K, K) matrix, got shape {tuple(c.shape)}")
    if not np.all(np.isfinite(c)) or np.any(c < 0):
        raise ValueError("cm must hold non-negative finite counts")
    k = c.shape[0]
    names = _class_names(class_names, k)
    support = c.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(support[:, None] > 0, c / np.maximum(support, 1)[:, None], 0.0)
        recall = np.where(support > 0, np.diag(c) / np.maximum(support, 1), np.nan)
    total = c.sum()
    plt = pyplot()
    size = min(max(4.0, 0.55 * k + 2.5), 24.0)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    shown = fraction if normalize else c
    image = ax.imshow(shown, cmap="Blues", vmin=0.0, vmax=1.0 if normalize else None)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.18,
                 label="fraction of the true class" if normalize else "count")
    if k <= _CELL_TEXT_MAX_CLASSES:
        dark = (fraction if normalize else c / max(c.max(), 1)) > 0.5
        for t in range(k):
            for p in range(k):
                count = f"{c[t, p]:g}"
                text = f"{count}\n{fraction[t, p]:.0%}" if normalize else count
                ax.text(p, t, text, ha="center", va="center", fontsize=8,
                        color="white" if dark[t, p] else "black")
    ax.set_xticks(range(k), names, rotation=45 if max(map(len, names)) > 3 else 0,
                  ha="right" if max(map(len, names)) > 3 else "center")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    right = ax.secondary_yaxis("right")
    right.set_yticks(range(k), ["n/a" if math.isnan(r) else f"{r:.1%}" for r in recall])
    right.set_ylabel("accuracy of the class (recall)")
    accuracy = float(np.trace(c)) / total if total else float("nan")
    ax.set_title(f"confusion matrix: accuracy {accuracy:.2%} of {total:g} samples")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- embedding
@dataclass(frozen=True)
class Embedding:
    """A 2-D PCA of a layer's features.

    Attributes:
        points: (N, 2) float64, the centred features projected on the first two principal
            components.
        labels: (N,) int64, the class of each image.
        explained_variance_ratio: (2,) float64, each component's share of the total variance.
    """

    points: np.ndarray
    labels: np.ndarray
    explained_variance_ratio: np.ndarray


def _layer_features(model: Module, loader: Iterable[Any], layer: str | Module,
                    limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The hooked output of `layer`, flattened per image (N, D), and the labels (N,)."""
    module = get_layer(model, layer)
    captured: list[Any] = []
    handle = module.register_forward_hook(lambda _m, _i, out: captured.append(out))
    features: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    count = 0
    try:
        with evaluating(model), numcnn.no_grad():
            for batch in loader:
                if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                    raise ValueError("the loader must yield (inputs, labels) batches")
                x, y = batch
                captured.clear()
                model(_as_input(x))
                if not captured:
                    raise ValueError(f"layer {layer!r} did not run in the model's forward")
                out = captured[-1]
                if not isinstance(out, Tensor):
                    raise ValueError(f"layer {layer!r} returns {type(out).__name__}, not a "
                                     "Tensor")
                f = out.array.reshape(out.shape[0], -1)          # (n, D)
                t = _labels(_array(y).reshape(-1), "labels")
                if t.shape[0] != f.shape[0]:
                    raise ValueError(f"a batch has {f.shape[0]} inputs but {t.shape[0]} labels")
                features.append(f)
                labels.append(t)
                count += f.shape[0]
                if limit is not None and count >= limit:
                    break
    finally:
        handle.remove()
    if count == 0:
        raise ValueError("the loader yielded no images")
    feats, labs = np.concatenate(features), np.concatenate(labels)
    return feats[:limit], labs[:limit]


def _pca_2d(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (N, 2) and explained variance ratios (2,) of the top two principal components.

    X (N, D) centred: Xc = X - mean; thin SVD Xc = U S V^T; the principal axes are the rows of
    V^T, the points Xc V[:, :2] = U[:, :2] S[:2], the variance along axis i is S_i^2 / (N - 1),
    so its ratio is S_i^2 / sum_j S_j^2. Sign: each axis is flipped so that its largest-
    magnitude loading (the first one on ties) is positive, which makes the result
    deterministic. Components beyond the rank of Xc (N or D below 2) are zero.
    """
    xc = features.astype(np.float64) - features.astype(np.float64).mean(axis=0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)         # vt: (min(N, D), D)
    m = min(2, vt.shape[0])
    axes = vt[:m]
    lead = axes[np.arange(m), np.abs(axes).argmax(axis=1)]
    axes = axes * np.where(lead < 0, -1.0, 1.0)[:, None]
    points = np.zeros((xc.shape[0], 2))
    points[:, :m] = xc @ axes.T
    total = float(np.sum(s ** 2))
    ratio = np.zeros(2)
    if total > 0:
        ratio[:m] = s[:m] ** 2 / total
    return points, ratio


def embedding_2d(model: Module, loader: Iterable[Any], layer: str | Module,
                 limit: int | None = None) -> Embedding:
    """A 2-D principal component analysis (Pearson 1901; Hotelling 1933) of what `layer`
    computes for the images of `loader`, to see which classes it already separates.

    The layer's output (forward hook, eval mode, no graph; the model's mode restored) is
    flattened per image to x_n in R^D and centred; the points are its coordinates on the two
    leading right singular vectors v_1, v_2 of the centred matrix (NumPy SVD, float64):
    points[n, i] = (x_n - mean) . v_i, explained_variance_ratio[i] = s_i^2 / sum_j s_j^2.
    Each v_i's sign is fixed so that its largest-magnitude entry is positive.

    Args:
        model: any Module; run on each batch's inputs.
        loader: yields (inputs, labels) batches (Tensors or arrays), e.g. a numcnn DataLoader.
        layer: a name from `model.named_modules()` (or the submodule itself).
        limit: use at most this many images (the first ones of the loader); None: all.

    Returns:
        Embedding(points (N, 2), labels (N,), explained_variance_ratio (2,)).

    Raises:
        ValueError: an unknown layer, a bad limit, an empty loader, a layer the forward never
            ran, or batches whose labels do not match the inputs.
    """
    _check_limit(limit)
    features, labels = _layer_features(model, loader, layer, limit)
    points, ratio = _pca_2d(features)
    return Embedding(points=points, labels=labels, explained_variance_ratio=ratio)


def plot_embedding(embedding: Embedding, class_names: Sequence[str] | None = None) -> Any:
    """Scatter the points of an `Embedding`, one colour per class, with a legend; the axis
    labels give each component's share of the variance.

    Returns:
        a matplotlib Figure with one axes.
    """
    if not isinstance(embedding, Embedding):
        raise ValueError(f"embedding must be an Embedding (from embedding_2d), got "
                         f"{type(embedding).__name__}")
    classes = np.unique(embedding.labels)
    k = int(classes.max()) + 1 if classes.size else 0
    names = _class_names(class_names, k)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 6))
    cmap = plt.get_cmap("tab10" if k <= 10 else "tab20" if k <= 20 else "turbo")
    for i, c in enumerate(classes):
        sel = embedding.labels == c
        colour = cmap(i % cmap.N) if k <= 20 else cmap(i / max(len(classes) - 1, 1))
        ax.scatter(embedding.points[sel, 0], embedding.points[sel, 1], s=10, alpha=0.7,
                   color=colour, label=names[int(c)])
    r = embedding.explained_variance_ratio
    ax.set_xlabel(f"principal component 1 ({r[0]:.1%} of the variance)")
    ax.set_ylabel(f"principal component 2 ({r[1]:.1%} of the variance)")
    ax.set_title(f"PCA of the layer's features ({len(embedding.labels)} images)")
    ax.legend(loc="best", fontsize=8, markerscale=2, ncol=1 if len(classes) <= 12 else 2)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- history
def read_history(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The per-epoch metrics of a `numcnn train` run, as written to its metrics.csv.

    The Trainer writes a header (`epoch,step,train_loss,train_acc,val_loss,val_acc,lr,seconds`)
    and one row per epoch; without a validation split val_loss/val_acc are "nan" (or empty).

    Args:
        path: the metrics.csv file.

    Returns:
        one array per column, in the header's order, one entry per epoch: "epoch" and "step"
        as int64, the rest float64 (NaN where a value is empty or "nan").

    Raises:
        ValueError: a missing, oversized or malformed file (no "epoch" column, a row of the
            wrong length, a value that is not a number); the message names the file.
    """
    name = os.fspath(path)
    if not os.path.isfile(name):
        raise ValueError(f"{name}: no such metrics file")
    if os.path.getsize(name) > _MAX_METRICS_BYTES:
        raise ValueError(f"{name}: too large for a metrics.csv ({os.path.getsize(name)} bytes)")
    with open(name, newline="", encoding="utf-8", errors="replace") as f:
        rows = list(csv.reader(f))
    if not rows or "epoch" not in rows[0]:
        raise ValueError(f"{name}: not a metrics.csv (its header has no 'epoch' column)")
    header = [h.strip() for h in rows[0]]
    values = np.full((len(rows) - 1, len(header)), np.nan)
    for i, row in enumerate(rows[1:]):
        if len(row) != len(header):
            raise ValueError(f"{name}: line {i + 2} has {len(row)} fields, the header "
                             f"{len(header)}")
        for j, cell in enumerate(row):
            try:
                values[i, j] = float(cell) if cell.strip() else np.nan
            except ValueError:
                raise ValueError(f"{name}: line {i + 2}, column {header[j]!r}: {cell!r} is "
                                 "not a number") from None
    history: dict[str, np.ndarray] = {}
    for j, column in enumerate(header):
        history[column] = values[:, j]
        if column in ("epoch", "step"):
            if not np.all(np.isfinite(values[:, j])):
                raise ValueError(f"{name}: column {column!r} has an empty value")
            history[column] = values[:, j].astype(np.int64)
    return history


def plot_history(path_or_history: str | os.PathLike[str] | dict[str, Any]) -> Any:
    """Loss and accuracy against the epoch: training, and validation where the run had it.

    Args:
        path_or_history: a metrics.csv path, or the dict `read_history` returns.

    Returns:
        a matplotlib Figure with two axes: loss, accuracy.
    """
    if isinstance(path_or_history, dict):
        history = {k: np.asarray(v, dtype=np.float64) for k, v in path_or_history.items()}
    elif isinstance(path_or_history, (str, os.PathLike)):
        history = {k: v.astype(np.float64) for k, v in read_history(path_or_history).items()}
    else:
        raise ValueError(f"path_or_history must be a metrics.csv path or a dict of columns, "
                         f"got {type(path_or_history).__name__}")
    if "epoch" not in history or "train_loss" not in history:
        raise ValueError(f"the history needs 'epoch' and 'train_loss' columns, has "
                         f"{sorted(history)}")
    epoch = history["epoch"]
    plt = pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric, title in ((ax_loss, "loss", "loss"), (ax_acc, "acc", "accuracy")):
        for split in ("train", "val"):
            values = history.get(f"{split}_{metric}")
            if values is None or not np.any(np.isfinite(values)):
                continue
            label = "training" if split == "train" else "validation"
            ax.plot(epoch, values, marker="o", markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(title)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if ax.get_lines():
            ax.legend()
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- mistakes
@dataclass(frozen=True)
class Misclassified:
    """The images a classifier gets wrong, in the loader's order.

    Attributes:
        images: (M, C, H, W) the inputs as the loader gave them.
        true: (M,) int64 labels. predicted: (M,) int64 arg-max predictions.
        probability: (M,) float64, the softmax probability of the predicted class.
        index: (M,) int64, each image's position in the loader's order (0-based, across
            batches).
    """

    images: np.ndarray
    true: np.ndarray
    predicted: np.ndarray
    probability: np.ndarray
    index: np.ndarray


def misclassified(model: Module, loader: Iterable[Any], limit: int | None = None
                  ) -> Misclassified:
    """The images of `loader` whose arg-max prediction is not their label.

    The model runs batch by batch in eval mode without a graph (its mode restored). The
    probability of the predicted class p = argmax_k z_k is softmax(z)_p = 1 / sum_k
    exp(z_k - z_p), computed in float64.

    Args:
        model: a classifier: inputs -> logits (N, K).
        loader: yields (inputs, labels) batches (Tensors or arrays).
        limit: stop once this many misclassified images are found; None: scan the whole
            loader.

    Returns:
        Misclassified(images, true, predicted, probability, index), M entries (M may be 0).

    Raises:
        ValueError: a bad limit, an empty loader, outputs that are not (N, K) logits, or labels
            that do not match the batch.
    """
    _check_limit(limit)
    found: dict[str, list[np.ndarray]] = {k: [] for k in ("images", "true", "pred", "prob",
                                                          "index")}
    seen, count = 0, 0
    input_shape: tuple[int, ...] | None = None
    with evaluating(model), numcnn.no_grad():
        for batch in loader:
            if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                raise ValueError("the loader must yield (inputs, labels) batches")
            x = _as_input(batch[0])
            images = x.array
            input_shape = images.shape[1:]
            z = _array(model(x)).astype(np.float64)
            t = _labels(_array(batch[1]).reshape(-1), "labels")
            if z.ndim != 2 or z.shape[0] != t.shape[0]:
                raise ValueError(f"the model must give logits (N, K) for the {t.shape[0]} "
                                 f"labels of a batch, got shape {tuple(z.shape)}")
            pred = z.argmax(axis=1)
            # softmax(z)_p with p = argmax: 1 / sum_k exp(z_k - z_p)
            prob = 1.0 / np.exp(z - z[np.arange(len(pred)), pred][:, None]).sum(axis=1)
            wrong = np.flatnonzero(pred != t)
            if limit is not None:
                wrong = wrong[:limit - count]
            found["images"].append(images[wrong])
            found["true"].append(t[wrong])
            found["pred"].append(pred[wrong])
            found["prob"].append(prob[wrong])
            found["index"].append(seen + wrong)
            seen += len(t)
            count += len(wrong)
            if limit is not None and count >= limit:
                break
    if input_shape is None:
        raise ValueError("the loader yielded no images")
    return Misclassified(images=np.concatenate(found["images"]),
                         true=np.concatenate(found["true"]).astype(np.int64),
                         predicted=np.concatenate(found["pred"]).astype(np.int64),
                         probability=np.concatenate(found["prob"]).astype(np.float64),
                         index=np.concatenate(found["index"]).astype(np.int64))


def _per_channel(value: float | Sequence[float] | None, c: int, name: str,
                 default: float) -> np.ndarray:
    if value is None:
        return np.full(c, default)
    arr = np.atleast_1d(np.asarray(value, dtype=np.float64))
    if arr.ndim != 1 or arr.shape[0] not in (1, c):
        raise ValueError(f"{name} must be a number or {c} numbers (one per channel), got "
                         f"{value!r}")
    return np.broadcast_to(arr, (c,))


def _displayable(image: np.ndarray) -> np.ndarray:
    """(C, H, W) -> (H, W) or (H, W, 3) in [0, 1]: as it is when already inside [0, 1], else
    min-max scaled; images with other than 1 or 3 channels show their channel mean."""
    img = image.mean(axis=0) if image.shape[0] not in (1, 3) else image
    img = img[0] if img.ndim == 3 and img.shape[0] == 1 else img
    img = np.moveaxis(img, 0, -1) if img.ndim == 3 else img
    lo, hi = float(img.min()), float(img.max())
    if lo < 0.0 or hi > 1.0:
        img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    return img


def plot_misclassified(result: Misclassified, class_names: Sequence[str] | None = None,
                       max_images: int = 25, mean: float | Sequence[float] | None = None,
                       std: float | Sequence[float] | None = None) -> Any:
    """A grid of misclassified images titled "true / predicted (p)".

    `mean` and `std` undo the normalisation of the inputs for display, x = x_norm * std + mean
    per channel (the inverse of transforms.Normalize).

    Args:
        result: what `misclassified` returned.
        class_names: names for the class indices (default the indices).
        max_images: draw at most this many (the first ones).
        mean, std: the per-channel mean and standard deviation used to normalise the inputs.

    Returns:
        a matplotlib Figure with one axes per image shown (one empty axes when there are none).
    """
    if not isinstance(result, Misclassified):
        raise ValueError(f"result must be a Misclassified (from misclassified), got "
                         f"{type(result).__name__}")
    if not isinstance(max_images, int) or isinstance(max_images, bool) or max_images <= 0:
        raise ValueError(f"max_images must be a positive int, got {max_images!r}")
    images = np.asarray(result.images)
    n = min(len(images), max_images)
    plt = pyplot()
    if n == 0:
        fig, ax = plt.subplots(figsize=(4, 2))
        ax.axis("off")
        ax.set_title("no misclassified images")
        return fig
    if images.ndim != 4:
        raise ValueError(f"result.images must be (M, C, H, W), got shape {images.shape}")
    c = images.shape[1]
    m = _per_channel(mean, c, "mean", 0.0)[:, None, None]
    s = _per_channel(std, c, "std", 1.0)[:, None, None]
    k = int(max(result.true[:n].max(), result.predicted[:n].max())) + 1
    names = _class_names(class_names, k)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.4 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            fig.delaxes(ax)
            continue
        ax.axis("off")
        img = _displayable(images[i].astype(np.float64) * s + m)
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0.0, vmax=1.0)
        ax.set_title(f"{names[int(result.true[i])]} / {names[int(result.predicted[i])]} "
                     f"({result.probability[i]:.2f})", fontsize=8)
    fig.suptitle("true / predicted (probability)")
    fig.tight_layout()
    return fig
