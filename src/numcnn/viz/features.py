"""What a CNN's layers compute, what its kernels look like, and which input a channel likes best
(seed 004, "Visualization methods"; seed 002, Zeiler & Fergus 2013).

- `feature_maps`: the activations of named layers for one input batch (seed 004's "visualizing
  CNN feature maps": every conv layer's output for one image), read with forward hooks;
- `filters`: a convolution's kernels as image tiles, all scaled by one affine map so that tiles
  can be compared (seed 002's first-layer filters of Zeiler & Fergus);
- `max_activation`: the input that maximises one channel's mean activation (seed 004's "max
  filter response": "train an input image so that it maximizes the output energy in a particular
  filter"), by gradient ascent on the input with the regularisers of Yosinski et al. 2015;
- `plot_feature_maps`, `plot_filters`, `plot_max_activation`: their pictures (matplotlib, Agg).

Axes: N batch, C channels, H/W height/width, O/I a kernel's output/input channels, T tiles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

import numcnn
from numcnn import nn
from numcnn.nn.module import Module
from numcnn.tensor import Tensor
from numcnn.viz._common import as_batch, get_layer, param_dtype, pyplot

__all__ = ["feature_maps", "plot_feature_maps", "filters", "plot_filters", "max_activation",
           "MaxActivation", "plot_max_activation"]

# the layers `feature_maps` reads by default: every convolution and pooling layer
_DEFAULT_LAYER_TYPES: tuple[type, ...] = (
    nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d,
    nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d,
    nn.LPPool1d, nn.LPPool2d, nn.LPPool3d,
)
_CONV_TYPES: tuple[type, ...] = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONV_AND_TRANSPOSED = _CONV_TYPES + (nn.ConvTranspose1d, nn.ConvTranspose2d,
                                      nn.ConvTranspose3d)
_FILTER_MODES = ("auto", "pairs", "mean", "rgb")
_FILTER_SCALES = ("symmetric", "minmax")


# ---------------------------------------------------------------------------------------------
# shared: eval mode with every module's own flag restored, reading a layer's output


class _EvalMode:
    """Puts `model` in eval mode and restores each submodule's own `training` flag on exit (a
    model whose batch norms were frozen on purpose comes back as it was)."""

    def __init__(self, model: Module) -> None:
        self.model = model
        self.flags: list[tuple[Module, bool]] = []

    def __enter__(self) -> None:
        self.flags = [(m, m.training) for m in self.model.modules()]
        self.model.eval()

    def __exit__(self, *exc: Any) -> None:
        for m, flag in self.flags:
            object.__setattr__(m, "training", flag)


def _output_tensor(name: str, output: Any) -> Tensor:
    """A hooked module's output as one Tensor (the first entry of a tuple or list output, as
    MaxPool2d(return_indices=True) returns (values, indices))."""
    if isinstance(output, (tuple, list)) and output:
        output = output[0]
    if not isinstance(output, Tensor):
        raise _LayerError(f"layer {name!r} returns {type(output).__name__}, not a Tensor: "
                         f"choose a layer whose output is a feature map")
    return output


def _forward(model: Module, x: Tensor) -> Any:
    """model(x), with the model's own complaint about an input it cannot take as one ValueError
    line that names the shape given."""
    try:
        return model(x)
    except _LayerError:
        raise
    except (RuntimeError, ValueError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"{type(model).__name__} cannot take an input of shape "
                         f"{tuple(x.shape)}: {first}") from err


class _StopForward(Exception):
    """Raised by a hook once the layer of interest has run, to skip the rest of the forward."""


class _LayerError(ValueError):
    """A chosen layer that cannot be read (raised inside a hook, passed on as it is)."""


# ---------------------------------------------------------------------------------------------
# feature maps


def _default_layers(model: Module) -> list[str]:
    """Every convolution and pooling layer of `model`, in `named_modules()` order."""
    return [name for name, m in model.named_modules()
            if name and isinstance(m, _DEFAULT_LAYER_TYPES)]


def _input_rank(model: Module) -> int:
    """The rank of the model's batched input: 2 + the dimensions of its first convolution
    ((N, C, L) for Conv1d, (N, C, D, H, W) for Conv3d), 4 (N, C, H, W) without one."""
    for m in model.modules():
        if isinstance(m, _CONV_AND_TRANSPOSED):
            return 2 + len(m.kernel_size)
    return 4


def feature_maps(model: Module, x: Any, layers: Sequence[str] | None = None
                 ) -> dict[str, np.ndarray]:
    """The activations of named layers for an input batch (seed 004, "visualizing CNN feature
    maps": what each conv layer outputs for one image).

    The outputs are read with forward hooks during one forward pass in eval mode, without
    recording a graph (`numcnn.no_grad()`); the model's modes are restored and the hooks removed
    afterwards, even when the forward fails.

    A module called more than once in one forward (a pooling layer shared by two stages, say)
    gives one entry per call: `name` for the first call, then `name#2`, `name#3`, ... in call
    order. A module that returns a tuple (MaxPool with return_indices=True) gives its first
    entry.

    Args:
        model: any numcnn Module.
        x: one input (C, H, W) or a batch (N, C, H, W), Tensor or ndarray (cast to the
            dtype of the model's parameters); for a model whose first convolution is a
            Conv1d: (C, L) or (N, C, L), a Conv3d: (C, D, H, W) or (N, C, D, H, W).
        layers: names from `model.named_modules()`; None: every Conv1d/2d/3d, ConvTranspose*,
            MaxPool*, AvgPool*, Adaptive*Pool* and LPPool* layer.

    Returns:
        {name: ndarray}, keys in `named_modules()` order, each the layer's output for the
        batch, e.g. (N, C_l, H_l, W_l) for a Conv2d.

    Raises:
        ValueError: an unknown layer name (the message lists the layers), an input that is
            neither (C, H, W) nor (N, C, H, W), or one the model cannot take.
    """
    batch = as_batch(x, ndim=_input_rank(model), dtype=param_dtype(model, np.float32))
    if isinstance(layers, str):
        raise ValueError(f"layers must be a sequence of layer names or None, got the string "
                         f"{layers!r} (write [{layers!r}])")
    names = _default_layers(model) if layers is None else list(layers)
    modules = [get_layer(model, name) for name in names]
    calls: dict[str, list[np.ndarray]] = {name: [] for name in names}

    def hook_for(name: str) -> Any:
        def hook(module: Module, inputs: Any, output: Any) -> None:
            calls[name].append(_output_tensor(name, output).array.copy())
        return hook

    handles = []
    try:
        for name, module in zip(names, modules):
            handles.append(module.register_forward_hook(hook_for(name)))
        with _EvalMode(model), numcnn.no_grad():
            _forward(model, batch)
    finally:
        for handle in handles:
            handle.remove()
    order = {name: i for i, (name, _) in enumerate(model.named_modules())}
    maps: dict[str, np.ndarray] = {}
    for name in sorted(calls, key=lambda n: order.get(n, -1)):
        for k, out in enumerate(calls[name]):
            maps[name if k == 0 else f"{name}#{k + 1}"] = out
    return maps


# ---------------------------------------------------------------------------------------------
# filters


def _scale_together(values: np.ndarray, scale: str) -> np.ndarray:
    """One affine map of every value to [0, 1]:
    symmetric: v -> 0.5 + v / (2 max|v|)  (0 -> 0.5 grey, sign visible; all zero -> 0.5);
    minmax:    v -> (v - min) / (max - min)  (constant -> 0.5)."""
    v = values.astype(np.float64)
    if scale == "symmetric":
        peak = float(np.abs(v).max()) if v.size else 0.0
        return 0.5 + v / (2 * peak) if peak > 0 else np.full_like(v, 0.5)
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 0.0)
    return (v - lo) / (hi - lo) if hi > lo else np.full_like(v, 0.5)


def filters(module: Module, mode: str = "auto", *, scale: str = "symmetric") -> np.ndarray:
    """A convolution's kernels as image tiles, all scaled together to [0, 1] (seed 002: the
    first-layer filters of Zeiler & Fergus 2013; seed 004's "filters").

    Conv2d weight w (O, I, kh, kw) (I = in_channels / groups) gives:
        mode "rgb":   (O, kh, kw, 3), tile o = w[o] with channels last (needs I == 3);
        mode "pairs": (O*I, kh, kw), tile o*I + i = w[o, i];
        mode "mean":  (O, kh, kw),   tile o = (1/I) sum_i w[o, i];
        mode "auto":  "rgb" when I == 3 (a first layer on colour images), else "pairs".
    Conv1d (O, I, k) gives tiles of height 1: (.., 1, k). Conv3d (O, I, kd, kh, kw) shows the
    middle depth slice w[:, :, kd // 2] of every kernel.

    Scaling: ONE affine map for all tiles, so that tiles can be compared: with
    scale="symmetric" (default) t -> 0.5 + t / (2 max|t|), zero weight is grey 0.5 and the sign
    shows; with scale="minmax" t -> (t - min) / (max - min). The extremes are taken over the
    tiles returned (after the mean in mode "mean", over the middle slices for Conv3d).

    Args:
        module: a Conv1d, Conv2d or Conv3d layer (e.g. `get_layer(model, "conv1")`).
        mode: "auto", "pairs", "mean" or "rgb".
        scale: "symmetric" or "minmax".

    Returns:
        float64 tiles (T, kh, kw) or (T, kh, kw, 3) in [0, 1].

    Raises:
        ValueError: not a Conv1d/2d/3d, an unknown mode or scale, or mode "rgb" for a layer
            without 3 input channels per group.
    """
    if not isinstance(module, _CONV_TYPES):
        raise ValueError(f"filters takes a Conv1d, Conv2d or Conv3d layer, got "
                         f"{type(module).__name__}")
    if mode not in _FILTER_MODES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, _FILTER_MODES))}, got "
                         f"{mode!r}")
    if scale not in _FILTER_SCALES:
        raise ValueError(f"scale must be one of {', '.join(map(repr, _FILTER_SCALES))}, got "
                         f"{scale!r}")
    w = np.asarray(module.weight.detach().array, dtype=np.float64)
    if w.ndim == 3:                                   # Conv1d (O, I, k) -> (O, I, 1, k)
        w = w[:, :, None, :]
    elif w.ndim == 5:                                 # Conv3d (O, I, kd, kh, kw): middle depth
        w = w[:, :, w.shape[2] // 2]
    o, i = w.shape[0], w.shape[1]                     # w: (O, I, kh, kw)
    if mode == "auto":
        mode = "rgb" if i == 3 else "pairs"
    if mode == "rgb":
        if i != 3:
            raise ValueError(f"mode 'rgb' needs 3 input channels per kernel, this layer has {i}:"
                             f" use mode 'pairs' or 'mean'")
        tiles = w.transpose(0, 2, 3, 1)                # (O, kh, kw, 3)
    elif mode == "mean":
        tiles = w.mean(axis=1)                        # (O, kh, kw)
    else:
        tiles = w.reshape(o * i, *w.shape[2:])        # (O*I, kh, kw)
    return _scale_together(tiles, scale)


# ---------------------------------------------------------------------------------------------
# activation maximisation


@dataclass
class MaxActivation:
    """The result of `max_activation`.

    Attributes:
        image: the optimised input (C, H, W), in the model's input units (not scaled).
        activations: the channel's mean activation before each step and after the last
            (steps + 1,), measured on the image without jitter.
    """

    image: np.ndarray
    activations: np.ndarray


def _gaussian_kernel1d(sigma: float) -> np.ndarray:
    """k[j] = exp(-j^2 / (2 sigma^2)) / sum_j exp(-j^2 / (2 sigma^2)), j = -r..r,
    r = max(1, ceil(3 sigma)) (the truncation keeps all but ~0.3% of the mass)."""
    r = max(1, math.ceil(3 * sigma))
    j = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-j ** 2 / (2 * sigma ** 2))
    return k / k.sum()


def _gaussian_blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur over the last two axes of (..., H, W):
    y[h, w] = sum_{a,b} k[a] k[b] x[h + a, w + b], rows then columns, borders mirrored
    (x[-1] = x[0], numpy's "symmetric" padding). A loop over the 2r + 1 kernel offsets only."""
    k = _gaussian_kernel1d(sigma).astype(images.dtype)
    r = len(k) // 2
    out = images
    for axis in (-2, -1):
        pad = [(0, 0)] * images.ndim
        pad[axis] = (r, r)
        padded = np.pad(out, pad, mode="symmetric")
        n = out.shape[axis]
        acc = np.zeros_like(out)
        for a, ka in enumerate(k):                    # y += k[a] * x shifted by a - r
            acc += ka * np.take(padded, np.arange(a, a + n), axis=axis)
        out = acc
    return out


def _check_count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _check_real(name: str, value: Any, low: float, high: float | None = None) -> float:
    ok = (not isinstance(value, bool) and isinstance(value, (int, float, np.floating, np.integer))
          and math.isfinite(value) and value >= low and (high is None or value < high))
    if not ok:
        bounds = f">= {low}" if high is None else f"in [{low}, {high})"
        raise ValueError(f"{name} must be a finite number {bounds}, got {value!r}")
    return float(value)


def _input_shape(input_shape: Any) -> tuple[int, int, int]:
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    if (shape is None or len(shape) != 3
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0
                       for s in shape)):
        raise ValueError(f"input_shape must be (C, H, W) with positive ints, got "
                         f"{input_shape!r}")
    c, h, w = (int(s) for s in shape)
    return c, h, w


class _LayerProbe:
    """Runs `model` only as far as `layer` and returns that layer's output (the first call's:
    a hook stores it and stops the forward, so the later layers cost nothing)."""

    def __init__(self, model: Module, name: str) -> None:
        self.model, self.name = model, name
        self.layer = get_layer(model, name)
        self.output: Tensor | None = None

    def _hook(self, module: Module, inputs: Any, output: Any) -> None:
        self.output = _output_tensor(self.name, output)
        raise _StopForward

    def __call__(self, x: Tensor) -> Tensor:
        self.output = None
        handle = self.layer.register_forward_hook(self._hook)
        try:
            _forward(self.model, x)
        except _StopForward:
            pass
        finally:
            handle.remove()
        if self.output is None:
            raise ValueError(f"layer {self.name!r} was not called in the forward pass of "
                             f"{type(self.model).__name__}")
        if self.output.ndim < 2:
            raise ValueError(f"layer {self.name!r} outputs shape {tuple(self.output.shape)}, "
                             f"which has no channel axis")
        return self.output


@dataclass
class _Frozen:
    """Parameters whose requires_grad is switched off for the ascent (so the backward skips
    their gradients) and switched back afterwards."""

    params: list[Any]

    def __enter__(self) -> None:
        for p in self.params:
            p.requires_grad_(False)

    def __exit__(self, *exc: Any) -> None:
        for p in self.params:
            p.requires_grad_(True)


def _trainable(model: Module) -> Iterator[Any]:
    return (p for p in model.parameters() if p.requires_grad)


def max_activation(model: Module, layer: str, channel: int, input_shape: Sequence[int],
                   steps: int = 200, lr: float = 0.1, seed: int = 0, l2_decay: float = 1e-4,
                   blur_every: int = 4, blur_sigma: float = 0.5, jitter: int = 2,
                   init_std: float = 0.01, eps: float = 1e-8) -> MaxActivation:
    """The input that maximises the mean activation of one channel of a layer (seed 004, "max
    filter response": "train an input image so that it maximizes the output energy in a
    particular filter"), with the regularisers of Yosinski et al. 2015, "Understanding Neural
    Networks Through Deep Visualization".

    Objective: a(x) = mean_{h,w} layer(x)[0, channel, h, w]. From x_0 = init_std * N(0, 1)
    (np.random.default_rng(seed)), each step t:
        jitter:    (dy, dx) uniform in [-jitter, jitter]^2, x_j = roll(x, (dy, dx))
        gradient:  g = roll(d a(x_j) / d x_j, (-dy, -dx))    (rolled back to x's frame)
        ascent:    x <- x + lr * g / (rms(g) + eps)          (rms(g) = sqrt(mean g^2): the step
                                                             moves pixels by ~lr whatever the
                                                             layer's scale)
        L2 decay:  x <- (1 - l2_decay) * x
        blur:      every `blur_every` steps, x <- Gaussian blur of x with sigma `blur_sigma`
    The model runs in eval mode (modes restored afterwards) and only as far as `layer`; the
    gradient is taken w.r.t. the input alone (`numcnn.autograd.grad`, the parameters'
    requires_grad switched off meanwhile and restored), so parameters and their `.grad` are
    untouched. Equal seeds give bit-identical results.

    Args:
        model: any numcnn Module.
        layer: a name from `model.named_modules()`; its output's axis 1 holds the channels.
        channel: the channel to maximise, 0 <= channel < the layer's channels.
        input_shape: (C, H, W) of one input image.
        steps: ascent steps (>= 0).
        lr: step length (pixels move by about lr per step).
        seed: seeds the start noise and the jitter.
        l2_decay: weight decay of the image per step, in [0, 1).
        blur_every: blur once every this many steps (0: never).
        blur_sigma: the blur's standard deviation in pixels (0: no blur).
        jitter: the largest shift in pixels (0: no jitter).
        init_std: the standard deviation of the start noise.
        eps: keeps the normalised step finite when the gradient vanishes.

    Returns:
        MaxActivation(image (C, H, W), activations (steps + 1,)).

    Raises:
        ValueError: an unknown layer, a channel out of range (the message gives the number of
            channels), a bad input_shape or one the model cannot take, or a bad setting.
    """
    c, h, w = _input_shape(input_shape)
    steps = _check_count("steps", steps, 0)
    blur_every = _check_count("blur_every", blur_every, 0)
    jitter = _check_count("jitter", jitter, 0)
    lr = _check_real("lr", lr, 0.0)
    l2_decay = _check_real("l2_decay", l2_decay, 0.0, 1.0)
    blur_sigma = _check_real("blur_sigma", blur_sigma, 0.0)
    init_std = _check_real("init_std", init_std, 0.0)
    eps = _check_real("eps", eps, 0.0)
    if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)):
        raise ValueError(f"channel must be an int, got {channel!r}")
    probe = _LayerProbe(model, layer)
    dtype = param_dtype(model, np.float32)
    rng = np.random.default_rng(seed)
    x = (init_std * rng.standard_normal((1, c, h, w))).astype(dtype)

    def activation(image: np.ndarray) -> float:
        with numcnn.no_grad():
            return float(probe(Tensor(image)).array[:, channel].mean())

    with _EvalMode(model), _Frozen(list(_trainable(model))):
        with numcnn.no_grad():
            first = probe(Tensor(x))
        if not 0 <= channel < first.shape[1]:
            raise ValueError(f"channel {channel} is out of range: layer {layer!r} has "
                             f"{first.shape[1]} channels (0..{first.shape[1] - 1})")
        history = [float(first.array[:, channel].mean())]            # a(x_0)
        for t in range(steps):
            dy, dx = (int(v) for v in rng.integers(-jitter, jitter + 1, size=2))
            xj = Tensor(np.roll(x, (dy, dx), axis=(2, 3)), requires_grad=True)
            objective = probe(xj)[:, channel].mean()
            if t > 0 and jitter == 0:                                # x_j = x_t: a(x_t) known
                history.append(float(objective.item()))
            (g,) = numcnn.autograd.grad(objective, xj)
            grad = np.roll(g.array, (-dy, -dx), axis=(2, 3))
            rms = float(np.sqrt(np.mean(np.square(grad, dtype=np.float64))))
            x = x + (lr / (rms + eps)) * grad
            x = x * (1 - l2_decay)
            if blur_every and blur_sigma > 0 and (t + 1) % blur_every == 0:
                x = _gaussian_blur(x, blur_sigma)
            x = x.astype(dtype, copy=False)
            if jitter > 0 or t == steps - 1:                         # a(x_{t+1}), unshifted
                history.append(activation(x))
    return MaxActivation(image=x[0], activations=np.asarray(history, dtype=np.float64))


# ---------------------------------------------------------------------------------------------
# pictures


def _unit(maps: np.ndarray) -> np.ndarray:
    """Each tile of (T, ...) scaled on its own to [0, 1] by (m - min) / (max - min)
    (a constant tile -> 0)."""
    flat = maps.reshape(maps.shape[0], -1).astype(np.float64)
    lo = flat.min(axis=1, keepdims=True)
    span = flat.max(axis=1, keepdims=True) - lo
    return ((flat - lo) / np.where(span > 0, span, 1.0)).reshape(maps.shape)


def _mosaic(tiles: np.ndarray, columns: int, gap: int = 1) -> np.ndarray:
    """Tiles (T, h, w) or (T, h, w, 3) laid out in rows of `columns`, `gap` pixels of NaN
    (grey tiles; drawn as background) or 1.0 (RGB tiles; white) between them."""
    t, th, tw = tiles.shape[:3]
    rows = -(-t // columns)
    fill = 1.0 if tiles.ndim == 4 else np.nan
    out = np.full((rows * (th + gap) - gap, columns * (tw + gap) - gap, *tiles.shape[3:]), fill)
    for k in range(t):
        r, q = divmod(k, columns)
        out[r * (th + gap):r * (th + gap) + th, q * (tw + gap):q * (tw + gap) + tw] = tiles[k]
    return out


def _channel_tiles(fmap: np.ndarray) -> np.ndarray:
    """One image's map (C, ...) as tiles (C, h, w): (C, L) -> (C, 1, L); (C, D, H, W) -> the
    middle depth slice; (C,) -> (C, 1, 1)."""
    if fmap.ndim == 1:
        return fmap[:, None, None]
    if fmap.ndim == 2:
        return fmap[:, None, :]
    if fmap.ndim == 4:
        return fmap[:, fmap.shape[1] // 2]
    return fmap


def _grid_columns(count: int, tile_h: int, tile_w: int) -> int:
    """Columns that make a mosaic of `count` tiles roughly square."""
    if tile_h == 1:
        return 1 if tile_w > 8 else max(1, math.ceil(math.sqrt(count)))
    return max(1, min(count, math.ceil(math.sqrt(count * tile_h / tile_w))))


def plot_feature_maps(maps: dict[str, np.ndarray], index: int = 0, max_channels: int = 32,
                      layers: Sequence[str] | None = None) -> Any:
    """Draw feature maps: one grid per layer, its first `max_channels` channels as tiles of
    image `index`, each tile scaled on its own to [0, 1] (viridis), titled with the layer's name
    and its output shape. 1-D maps (C, L) are drawn as one row per channel, 3-D maps
    (C, D, H, W) by their middle depth slice.

    Args:
        maps: the result of `feature_maps` ({name: (N, C, ...)}).
        index: the image of the batch to show.
        max_channels: at most this many channels per layer (the first ones).
        layers: the keys of `maps` to draw, in this order; None: all of them.

    Returns:
        A matplotlib Figure with one Axes per layer.

    Raises:
        ValueError: empty `maps`, an unknown layer, `index` outside the batch, or
            max_channels < 1.
    """
    names = list(maps) if layers is None else list(layers)
    if not names:
        raise ValueError("there are no feature maps to draw: maps (or layers) is empty")
    for name in names:
        if name not in maps:
            raise ValueError(f"no feature map {name!r}; maps holds: {', '.join(maps)}")
    max_channels = _check_count("max_channels", max_channels, 1)
    for name in names:
        arr = np.asarray(maps[name])
        if arr.ndim < 2:
            raise ValueError(f"feature map {name!r} has shape {arr.shape}; expected (N, C, ...)")
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or \
                not -arr.shape[0] <= index < arr.shape[0]:
            raise ValueError(f"index must be an int in [0, {arr.shape[0]}) (the batch of "
                             f"{name!r}), got {index!r}")
    plt = pyplot()
    cmap = plt.get_cmap("viridis").with_extremes(bad="white")
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig = plt.figure(figsize=(4.2 * cols, 4.4 * rows), layout="constrained")
    for k, name in enumerate(names):
        arr = np.asarray(maps[name])
        tiles = _unit(_channel_tiles(arr[index][:max_channels]))
        ax = fig.add_subplot(rows, cols, k + 1)
        columns = _grid_columns(len(tiles), tiles.shape[1], tiles.shape[2])
        mosaic = _mosaic(tiles, columns, gap=0 if tiles.shape[1] == columns == 1 else 1)
        ax.imshow(mosaic, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest",
                  aspect="auto" if tiles.shape[1] == 1 else "equal")
        shown = "" if arr.shape[1] <= max_channels else f", first {max_channels}"
        ax.set_title(f"{name}  {tuple(arr.shape[1:])}{shown}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def plot_filters(module_or_tiles: Module | np.ndarray, max_tiles: int = 64) -> Any:
    """Draw a convolution's kernels as one grid of tiles (the output of `filters`, already
    scaled together to [0, 1], drawn as they are: grey for one channel, RGB for three).

    Args:
        module_or_tiles: a Conv1d/2d/3d layer (tiles = `filters(module)`) or tiles
            (T, kh, kw) / (T, kh, kw, 3) with values in [0, 1].
        max_tiles: at most this many tiles (the first ones).

    Returns:
        A matplotlib Figure with one Axes.

    Raises:
        ValueError: a module that is not a convolution, tiles of another shape, or
            max_tiles < 1.
    """
    max_tiles = _check_count("max_tiles", max_tiles, 1)
    if isinstance(module_or_tiles, Module):
        tiles = filters(module_or_tiles)
        label = type(module_or_tiles).__name__
    else:
        tiles = np.asarray(module_or_tiles, dtype=np.float64)
        label = "filters"
        if not (tiles.ndim == 3 or (tiles.ndim == 4 and tiles.shape[3] == 3)) or not tiles.size:
            raise ValueError(f"tiles must have shape (T, kh, kw) or (T, kh, kw, 3), got "
                             f"{tiles.shape}")
    total = tiles.shape[0]
    tiles = tiles[:max_tiles]
    plt = pyplot()
    cmap = plt.get_cmap("gray").with_extremes(bad="white")
    columns = _grid_columns(len(tiles), tiles.shape[1], tiles.shape[2])
    mosaic = _mosaic(np.clip(tiles, 0.0, 1.0), columns)
    height = 6.0 * mosaic.shape[0] / max(mosaic.shape[1], 1)
    fig, ax = plt.subplots(figsize=(6.0, min(max(height, 1.0), 12.0) + 0.4), layout="constrained")
    ax.imshow(mosaic, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest",
              aspect="auto" if tiles.shape[1] == 1 else "equal")
    ax.set_title(f"{label}: {len(tiles)} of {total} tiles, {tiles.shape[1]}x{tiles.shape[2]}",
                 fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def plot_max_activation(results: Sequence[MaxActivation], titles: Sequence[str] | None = None
                        ) -> Any:
    """Draw the images of `max_activation` in a row, each scaled on its own to [0, 1] by
    (x - min) / (max - min): RGB for 3 channels, viridis for 1, the channel mean otherwise.

    Args:
        results: MaxActivation results.
        titles: one title per result; None: the final mean activation.

    Returns:
        A matplotlib Figure with one Axes per result.

    Raises:
        ValueError: no results, something that is not a MaxActivation, or a number of titles
            that differs from the number of results.
    """
    results = list(results)
    if not results or not all(isinstance(r, MaxActivation) for r in results):
        raise ValueError("results must be a non-empty sequence of MaxActivation")
    if titles is not None and len(titles) != len(results):
        raise ValueError(f"titles must have one entry per result ({len(results)}), got "
                         f"{len(titles)}")
    plt = pyplot()
    fig, axes = plt.subplots(1, len(results), figsize=(2.6 * len(results), 2.9),
                             layout="constrained", squeeze=False)
    for k, (ax, res) in enumerate(zip(axes[0], results)):
        img = np.asarray(res.image, dtype=np.float64)
        img = img.mean(axis=0) if img.shape[0] != 3 else img.transpose(1, 2, 0)
        img = _unit(img[None])[0]
        ax.imshow(img, cmap=None if img.ndim == 3 else "viridis", vmin=0.0, vmax=1.0)
        title = titles[k] if titles is not None else f"mean act {res.activations[-1]:.3g}"
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    return fig
