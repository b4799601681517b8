"""Loss landscapes along filter-normalised random directions (Li et al. 2018; seed 003).

Li, Xu, Taylor, Studer and Goldstein, "Visualizing the Loss Landscape of Neural Nets"
(NeurIPS 2018), draw the loss on a plane through the trained weights theta*:

    f(a, b) = L(theta* + a * d1 + b * d2),      a, b in linspace(-span, span, S)

with d1, d2 Gaussian random directions, *filter-normalised* so that the picture does not depend
on the scale of the weights (which batch norm makes arbitrary): every filter of a direction
(a slice along dim 0 of a conv or linear weight, i.e. one output unit) is rescaled to the norm
of the matching filter of the weights,

    d_f <- d_f / ||d_f|| * ||w_f||,

and the directions of biases and batch-norm parameters (every parameter with ndim <= 1) are
zero.  Seed 003 shows ResNet-56 with and without skip connections this way: the residual
network's surface is smooth and convex-looking, the plain network's chaotic.

Axes: S1, S2 grid steps along d1 and d2; N samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np

import numcnn
from numcnn.nn.module import Module
from numcnn.tensor import Tensor
from numcnn.viz._common import pyplot

__all__ = ["Landscape", "loss_landscape", "filter_normalized_directions", "plot_landscape"]

Direction = dict[str, np.ndarray]


@dataclass
class Landscape:
    """The loss on a grid around the trained weights.

    Attributes:
        alphas: (S1,) steps along the first direction.
        betas: (S2,) steps along the second direction; None for a 1-D landscape.
        losses: (S1, S2) loss at theta* + alphas[i] d1 + betas[j] d2, or (S1,) in 1-D.
        center_loss: the loss at theta* itself.
        accuracies: top-1 accuracy at each grid point, same shape as `losses`; None when the
            model's outputs are not (N, K) scores with integer class targets.
        directions: the filter-normalised directions, one dict parameter name -> ndarray each
            (in the parameters' dtypes).
    """

    alphas: np.ndarray
    betas: np.ndarray | None
    losses: np.ndarray
    center_loss: float
    accuracies: np.ndarray | None = None
    directions: tuple[Direction, ...] = ()


def filter_normalized_directions(model: Module, count: int = 2, seed: int = 0
                                 ) -> tuple[Direction, ...]:
    """`count` Gaussian directions in parameter space, filter-normalised (Li et al. 2018, 4).

    For every parameter with ndim >= 2 (conv and linear weights), d ~ N(0, 1) drawn from
    `np.random.default_rng(seed)` (direction by direction, parameters in `named_parameters()`
    order), then each filter f (a slice along dim 0) is rescaled:

        d_f <- d_f / ||d_f|| * ||w_f||

    Parameters with ndim <= 1 (biases, batch-norm weights and biases) get zero directions.

    Args:
        model: the network; its parameters are read, never changed.
        count: how many directions (1 or 2 for a landscape).
        seed: seed of the Gaussian draws.

    Returns:
        `count` dicts parameter name -> direction (same shape and dtype as the parameter).

    Raises:
        ValueError: `count` < 1, or the model has no parameters.
    """
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be an int >= 1, got {count!r}")
    params = list(model.named_parameters())
    if not params:
        raise ValueError(f"{type(model).__name__} has no parameters to perturb")
    rng = np.random.default_rng(seed)
    directions = []
    for _ in range(count):
        direction = {}
        for name, p in params:
            w = p.array
            if w.ndim <= 1:
                direction[name] = np.zeros_like(w)
                continue
            d = rng.standard_normal(w.shape)                       # float64, like w
            axes = tuple(range(1, w.ndim))                         # all but the filter axis
            d_norm = np.sqrt(np.sum(d * d, axis=axes, keepdims=True))
            w64 = w.astype(np.float64)
            w_norm = np.sqrt(np.sum(w64 * w64, axis=axes, keepdims=True))
            direction[name] = (d / d_norm * w_norm).astype(w.dtype)
        directions.append(direction)
    return tuple(directions)


def _check_steps(steps: Any) -> tuple[int, ...]:
    """`steps` as (S1,) or (S1, S2), each >= 2."""
    try:
        shape = (steps,) if isinstance(steps, (int, np.integer)) else tuple(steps)
    except TypeError:
        shape = ()
    if (len(shape) not in (1, 2) or any(isinstance(s, bool) or not isinstance(s, (int, np.integer))
                                        or s < 2 for s in shape)):
        raise ValueError(f"steps must be an int >= 2 (1-D) or a pair of ints >= 2 (2-D), got "
                         f"{steps!r}")
    return tuple(int(s) for s in shape)


def _materialise(batches: Iterable[Any]) -> list[tuple[Tensor, Any, int]]:
    """The batches as a list of (x Tensor, y, batch size), read once."""
    out = []
    for item in batches:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise ValueError(f"batches must yield (x, y) pairs, got {type(item).__name__}")
        x, y = item
        x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
        y = y if isinstance(y, Tensor) else Tensor(np.asarray(y))
        if x.ndim == 0 or x.shape[0] == 0:
            raise ValueError(f"every batch needs at least one sample, got x of shape "
                             f"{tuple(x.shape)}")
        out.append((x, y, int(x.shape[0])))
    if not out:
        raise ValueError("batches is empty: give at least one (x, y) batch")
    return out


def _evaluate(model: Module, loss_fn: Callable[..., Any], batches: list[tuple[Tensor, Any, int]]
              ) -> tuple[float, float]:
    """(loss, accuracy) over all samples: sum_b n_b * loss_b / sum_b n_b (each batch's loss is
    taken as its mean over its n_b samples); accuracy is NaN when it does not apply."""
    total, correct, n_all = 0.0, 0, 0
    for x, y, n in batches:
        out = model(x)
        loss = loss_fn(out, y)
        total += n * float(loss.item() if isinstance(loss, Tensor) else loss)
        n_all += n
        scores, labels = out.array, y.array
        if (correct >= 0 and scores.ndim == 2 and labels.shape == (n,)
                and labels.dtype.kind in "iu"):
            correct += int(np.sum(scores.argmax(axis=1) == labels))
        else:
            correct = -1
    return total / n_all, (correct / n_all if correct >= 0 else float("nan"))


def _progress(total: int, enabled: bool) -> Any:
    from tqdm import tqdm
    return tqdm(total=total, desc="loss landscape", unit="point", disable=not enabled,
                leave=False)


def loss_landscape(model: Module, loss_fn: Callable[..., Any], batches: Iterable[Any],
                   steps: int | Sequence[int] = (21, 21), span: float = 1.0, seed: int = 0,
                   progress: bool = True) -> Landscape:
    """The loss around the trained weights along filter-normalised random directions.

    Li et al., "Visualizing the Loss Landscape of Neural Nets" (NeurIPS 2018):

        f(a, b) = L(theta* + a * d1 + b * d2),   a, b in linspace(-span, span, S)

    with d1, d2 from `filter_normalized_directions(model, 2, seed)` (filters rescaled to the
    weights' filter norms, zero for biases and batch norm). With an int `steps`, the 1-D curve
    f(a) = L(theta* + a * d1).

    L is the mean of the per-sample loss over every sample of `batches`: each batch's
    `loss_fn(model(x), y)` is taken to be a mean over its samples (reduction="mean") and is
    weighted by the batch's size, L = sum_b n_b L_b / sum_b n_b, so unequal batches count by
    their samples. The batches are read once and kept in memory.

    The model is evaluated in eval mode (batch norm uses its running statistics, dropout is
    off) without a graph; each module's mode is restored afterwards. The weights are changed
    in place and restored bit for bit afterwards, also when `loss_fn` raises or on Ctrl-C.

    Args:
        model: the trained network.
        loss_fn: (output, y) -> scalar Tensor (or float), e.g. `F.cross_entropy`.
        batches: an iterable of (x, y) pairs (a DataLoader, a list); read once.
        steps: points per axis, (S1, S2) for a plane or an int S for a line; each >= 2.
        span: the grid covers [-span, span] along each direction (span > 0).
        seed: seed of the random directions.
        progress: show a tqdm bar over the grid points.

    Returns:
        Landscape(alphas, betas (None in 1-D), losses (S1, S2) or (S1,), center_loss,
        accuracies, directions).

    Raises:
        ValueError: bad `steps`, `span`, `loss_fn` or `batches`.
    """
    shape = _check_steps(steps)
    if not (isinstance(span, (int, float, np.floating)) and np.isfinite(span) and span > 0):
        raise ValueError(f"span must be a finite number > 0, got {span!r}")
    if not callable(loss_fn):
        raise ValueError(f"loss_fn must be a callable (output, y) -> loss, got "
                         f"{type(loss_fn).__name__}")
    data = _materialise(batches)
    directions = filter_normalized_directions(model, len(shape), seed)
    axes = [np.linspace(-span, span, s) for s in shape]
    params = list(model.named_parameters())
    saved = [p.array.copy() for _, p in params]              # theta*, restored in `finally`
    modes = [(m, m.training) for m in model.modules()]
    losses = np.empty(shape)
    accuracies = np.empty(shape)
    bar = _progress(losses.size, progress)
    try:
        model.eval()
        with numcnn.no_grad():
            center_loss, _ = _evaluate(model, loss_fn, data)
            for index in np.ndindex(*shape):
                # theta = theta* + a d1 (+ b d2), written into the parameters' own arrays
                for (name, p), w in zip(params, saved):
                    np.copyto(p.array, w)
                    for d, steps_k, k in zip(directions, axes, index):
                        p.array += steps_k[k] * d[name]
                losses[index], accuracies[index] = _evaluate(model, loss_fn, data)
                bar.update(1)
    finally:
        bar.close()
        for (_, p), w in zip(params, saved):
            np.copyto(p.array, w)
        for m, mode in modes:
            m.training = mode
    return Landscape(alphas=axes[0], betas=axes[1] if len(axes) == 2 else None, losses=losses,
                     center_loss=center_loss,
                     accuracies=None if np.isnan(accuracies).any() else accuracies,
                     directions=directions)


# ----------------------------------------------------------------------------- drawing
def _levels(low: float, high: float, count: int, log: bool) -> np.ndarray:
    """`count` contour levels from low to high, log-spaced when `log`."""
    if high <= low:
        high = low + max(abs(low), 1.0) * 1e-6
    return np.geomspace(low, high, count) if log else np.linspace(low, high, count)


def plot_landscape(landscape: Landscape | Sequence[Landscape], title: str | None = None,
                   levels: int = 30, titles: Sequence[str] | None = None,
                   log: bool | None = None, vmax: float | None = None) -> Any:
    """Draw loss landscapes: a labelled contour plot and a 3-D surface side by side (one row
    per landscape), or for 1-D landscapes one plot of loss against the step along d1.

    Several landscapes share their axes, contour levels, colour limits and z-limits, so
    that e.g. a ResNet's and its plain twin's surfaces can be compared directly (Li et al.
    2018, Fig. 5; seed 003).

    Args:
        landscape: one Landscape or a sequence of them (all 1-D or all 2-D).
        title: the figure's title.
        levels: the number of contour levels (>= 2).
        titles: one title per landscape (default "landscape 1", ...).
        log: log-spaced levels and colours (None: when the largest loss is more than 10x the
            smallest and all are positive).
        vmax: clip losses above this value (default: the largest loss).

    Returns:
        A matplotlib Figure.

    Raises:
        ValueError: no landscapes, 1-D mixed with 2-D, bad `levels`, `titles` or `vmax`.
    """
    items = [landscape] if isinstance(landscape, Landscape) else list(landscape)
    if not items or not all(isinstance(x, Landscape) for x in items):
        raise ValueError("landscape must be a Landscape or a non-empty sequence of them")
    if len({x.betas is None for x in items}) != 1:
        raise ValueError("landscapes must be all 1-D or all 2-D")
    if not isinstance(levels, int) or levels < 2:
        raise ValueError(f"levels must be an int >= 2, got {levels!r}")
    if titles is None:
        titles = [f"landscape {i + 1}" for i in range(len(items))] if len(items) > 1 else [""]
    if len(titles) != len(items):
        raise ValueError(f"titles must give one title per landscape ({len(items)}), got "
                         f"{len(titles)}")
    finite = np.concatenate([x.losses[np.isfinite(x.losses)].ravel() for x in items])
    if finite.size == 0:
        raise ValueError("the landscapes have no finite loss to draw")
    low, high = float(finite.min()), float(finite.max())
    if vmax is not None:
        if not vmax > low:
            raise ValueError(f"vmax must be above the smallest loss {low:.4g}, got {vmax!r}")
        high = float(vmax)
    if log is None:
        log = low > 0 and high > 10 * low
    elif log and low <= 0:
        raise ValueError("log levels need positive losses; pass log=False")
    plt = pyplot()
    if items[0].betas is None:
        return _plot_lines(plt, items, titles, title, low, high, log)
    return _plot_surfaces(plt, items, titles, title, _levels(low, high, levels, log), log)


def _plot_lines(plt: Any, items: list[Landscape], titles: Sequence[str], title: str | None,
                low: float, high: float, log: bool) -> Any:
    fig, ax = plt.subplots(figsize=(6, 4))
    for x, name in zip(items, titles):
        ax.plot(x.alphas, np.minimum(x.losses, high), marker=".", label=name or None)
    ax.set_xlabel("step along d1 (filter-normalised)")
    ax.set_ylabel("loss")
    if log:
        ax.set_yscale("log")
    if any(titles):
        ax.legend()
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def _plot_surfaces(plt: Any, items: list[Landscape], titles: Sequence[str],
                   title: str | None, levels: np.ndarray, log: bool) -> Any:
    from matplotlib import colors, ticker

    norm = (colors.LogNorm(levels[0], levels[-1]) if log
            else colors.Normalize(levels[0], levels[-1]))
    fig = plt.figure(figsize=(10, 4.2 * len(items)))
    for row, (x, name) in enumerate(zip(items, titles)):
        assert x.betas is not None
        b, a = np.meshgrid(x.betas, x.alphas)                  # (S1, S2), rows along alphas
        z = np.clip(x.losses, levels[0], levels[-1])
        ax = fig.add_subplot(len(items), 2, 2 * row + 1)
        cs = ax.contour(a, b, z, levels=levels, cmap="viridis", norm=norm, linewidths=0.8)
        ax.clabel(cs, cs.levels[::max(1, len(levels) // 6)], inline=True, fontsize=7,
                  fmt=ticker.FormatStrFormatter("%.3g"))
        ax.plot([0], [0], "k+", markersize=8)
        ax.set_xlabel("step along d1")
        ax.set_ylabel("step along d2")
        ax.set_aspect("equal")
        ax.set_title(f"{name}: contours" if name else "contours")
        ax3 = fig.add_subplot(len(items), 2, 2 * row + 2, projection="3d")
        ax3.plot_surface(a, b, np.log10(z) if log else z, cmap="viridis",
                         norm=colors.Normalize(*(np.log10(levels[[0, -1]]) if log
                                                 else levels[[0, -1]])),
                         linewidth=0, antialiased=True)
        ax3.set_zlim(*(np.log10(levels[[0, -1]]) if log else levels[[0, -1]]))
        ax3.set_xlabel("d1")
        ax3.set_ylabel("d2")
        ax3.set_zlabel("log10 loss" if log else "loss")
        ax3.set_title(f"{name}: surface" if name else "surface")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
