"""`numcnn viz METHOD CHECKPOINT [IMAGE] --out FILE.png`: one picture of what a trained model
computes, from a checkpoint written by `numcnn train`.

    numcnn viz feature-maps runs/x/best.safetensors shoe.png --out maps.png
    numcnn viz filters runs/x/best.safetensors --out filters.png
    numcnn viz max-activation runs/x/best.safetensors --channel 0 5 --out max.png
    numcnn viz grad-cam runs/x/best.safetensors --test-index 7 --target 3 --out cam.png
    numcnn viz saliency runs/x/best.safetensors shirt.pgm --out sal.png
    numcnn viz occlusion runs/x/best.safetensors bag.npy --window 6 --stride 2 --out occ.png

The image is read and normalised as `numcnn predict` reads it (or is image I of the run's test
split, --test-index); the model is rebuilt from the checkpoint's run configuration. The command
parses, calls numcnn.viz (a computing function, then its plot_ function) and writes the PNG
atomically; everything it draws, Python can draw with numcnn.viz.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

import numpy as np
from tqdm import tqdm

from numcnn.cli import check_png_path, write_png
from numcnn.cli.args import non_negative_int, positive_int
from numcnn.nn.module import Module
from numcnn.tensor import Tensor
from numcnn.train.run import RunError as CLIError
from numcnn.train.run import input_shape, load_run, load_test_set, model_input, pick_images

__all__ = ["add_parser", "run", "METHODS"]

METHODS = ("feature-maps", "filters", "max-activation", "grad-cam", "saliency", "occlusion")
_TAKES_IMAGE = ("feature-maps", "grad-cam", "saliency", "occlusion")
_TAKES_TARGET = ("grad-cam", "saliency", "occlusion")

_HELP = {
    "feature-maps": "the activations of conv and pooling layers for one image (seed 004)",
    "filters": "the kernels of a conv layer as image tiles (default: the first conv layer)",
    "max-activation": "the input that most excites channels of a layer (Yosinski et al. 2015)",
    "grad-cam": "where the model looks for a class (Selvaraju et al. 2017), over the image",
    "saliency": "|d score / d pixel|, the max over channels (Simonyan et al. 2014)",
    "occlusion": "the drop of the class probability when a square hides each region (Zeiler "
                 "& Fergus 2014)",
}


def add_parser(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add `numcnn viz` and its methods to the sub-command parsers `sub`."""
    vz = sub.add_parser(
        "viz", formatter_class=fmt, help="draw feature maps, filters, Grad-CAM ... of a checkpoint",
        description="Draw what a model trained by 'numcnn train' computes, as a PNG file.\n\n"
                    "The image is an IMAGE file (.npy, .pgm, .png/.jpg with Pillow; read as "
                    "'numcnn predict'\nreads it) or --test-index I, image I of the run's test "
                    "split.",
        epilog="examples:\n  numcnn viz grad-cam runs/x/best.safetensors --test-index 0 "
               "--out cam.png\n  numcnn viz filters runs/x/best.safetensors --out filters.png")
    methods = vz.add_subparsers(dest="method", metavar="METHOD", required=True)
    for name in METHODS:
        p = methods.add_parser(name, formatter_class=fmt, help=_HELP[name],
                               description=_HELP[name][0].upper() + _HELP[name][1:] + ".\n\n"
                               + _FORMULA[name])
        p.add_argument("checkpoint", metavar="CHECKPOINT", help="a .safetensors checkpoint")
        if name in _TAKES_IMAGE:
            p.add_argument("image", metavar="IMAGE", nargs="?", default=None,
                           help="an image file (or give --test-index)")
            p.add_argument("--test-index", type=non_negative_int, nargs="+", default=None,
                           metavar="I",
                           help="use image I of the run's test split instead of a file (several "
                                "indices: one row each" + (", the first one drawn)"
                                                             if name == "feature-maps" else ")"))
            p.add_argument("--root", metavar="DIR", default=None,
                           help="directory holding the dataset's IDX files (as 'numcnn eval')")
        if name in _TAKES_TARGET:
            p.add_argument("--target", type=non_negative_int, default=None, metavar="C",
                           help="the class to explain (default: the predicted class)")
        p.add_argument("--out", metavar="FILE.png", required=True, help="the PNG to write")
        _METHOD_ARGS[name](p)


def _feature_maps_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--layer", metavar="NAME", action="append", default=None,
                   help="a layer name from model.named_modules(), may be repeated (default: "
                        "every conv and pooling layer)")
    p.add_argument("--max-channels", type=positive_int, default=32, metavar="K",
                   help="show at most K channels per layer (default 32)")


def _filters_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--layer", metavar="NAME", default=None,
                   help="a conv layer (default: the first one)")
    p.add_argument("--mode", choices=("auto", "mean"), default="auto",
                   help="auto: RGB tiles for a 3-channel first layer, else one tile per (out, "
                        "in) pair; mean: one tile per output channel, averaged over inputs")
    p.add_argument("--max-tiles", type=positive_int, default=64, metavar="K",
                   help="show at most K tiles (default 64)")


def _max_activation_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--layer", metavar="NAME", default=None,
                   help="the layer (default: the last conv layer)")
    p.add_argument("--channel", type=non_negative_int, nargs="+", default=[0], metavar="C",
                   help="the channel(s) to maximise, one picture each (default 0)")
    p.add_argument("--steps", type=positive_int, default=None, metavar="N",
                   help="gradient-ascent steps (default: numcnn.viz.max_activation's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the starting noise (default 0)")


def _grad_cam_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--layer", metavar="NAME", default=None,
                   help="the layer whose activations are weighted (default: the last conv "
                        "layer)")
    p.add_argument("--plus-plus", action="store_true",
                   help="Grad-CAM++ (Chattopadhay et al. 2018) instead of Grad-CAM")


def _saliency_args(p: argparse.ArgumentParser) -> None:
    pass


def _occlusion_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--window", type=positive_int, default=8,
                   metavar="PX", help="side of the occluding square (default 8)")
    p.add_argument("--stride", type=positive_int, default=4, metavar="PX",
                   help="step between squares (default 4)")
    p.add_argument("--fill", type=float, default=0.0,
                   help="value of the occluded pixels, in the model's normalised input "
                        "(default 0, the data's mean)")


# the formula each method computes, for its --help
_FORMULA = {
    "feature-maps": "A^l = the output of layer l (forward hooks, eval mode, no graph).",
    "filters": "The weights W[out, in] of the layer, all tiles scaled together to [0, 1].",
    "max-activation": "a(x) = mean over (h, w) of A_c(x); from noise, x <- x + lr g / rms(g) "
                      "with g = d a / d x,\nthen L2 decay x <- (1 - d) x, periodic Gaussian "
                      "blur and jitter (eval mode).",
    "grad-cam": "L^c = ReLU(sum_k a_k^c A^k), a_k^c = mean over (i, j) of d y^c / d A^k_ij, "
                "upsampled\nbilinearly to the image (Grad-CAM++: second-order weights).",
    "saliency": "M_ij = max_c |d y^c / d x_cij| for the target class c.",
    "occlusion": "M_rs = p_c(x) - p_c(x with window (r, s) set to --fill), one forward per "
                 "window.",
}

_METHOD_ARGS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "feature-maps": _feature_maps_args, "filters": _filters_args,
    "max-activation": _max_activation_args, "grad-cam": _grad_cam_args,
    "saliency": _saliency_args, "occlusion": _occlusion_args}


# ----------------------------------------------------------------------------- running
class _Input:
    """The images a method explains: pixels (N, C, H, W) in [0, 1] for drawing, the
    normalised batch x for the model, where each came from and its true class (None for a
    file)."""

    def __init__(self, pixels: np.ndarray, x: Tensor, sources: list[str],
                 labels: list[int | None]) -> None:
        self.pixels, self.x, self.sources, self.labels = pixels, x, sources, labels


def _read_input(args: argparse.Namespace, config: dict[str, Any]) -> _Input:
    if (args.image is None) == (args.test_index is None):
        raise CLIError("give either an IMAGE file or --test-index I, not both or neither")
    if args.image is not None:
        pixels, x = model_input(args.image, config)
        return _Input(pixels, x, [args.image], [None])
    test = load_test_set(config, root=args.root)
    n = len(test)
    for i in args.test_index:
        if i >= n:
            raise CLIError(f"--test-index {i} is out of range: the test split has {n} images "
                           f"(0..{n - 1})")
    x, pixels, labels = pick_images(test, config, list(args.test_index))
    return _Input(pixels, x, [f"test image {i}" for i in args.test_index],
                  [int(k) for k in labels])


def _predicted(model: Module, x: Tensor) -> list[tuple[int, float]]:
    """For each image in x: the model's arg-max class and its softmax probability."""
    from numcnn.viz._common import eval_scores

    logits = eval_scores(model, x).astype(np.float64)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return [(int(k), float(row[k])) for row, k in zip(p, p.argmax(axis=1))]


def _default_conv(model: Module, which: int) -> str:
    """The name of the first (which=0) or last (which=-1) convolution layer of `model`."""
    from numcnn.viz._common import conv_layer_names, layer_names

    names = conv_layer_names(model)
    if not names:
        raise CLIError(f"{type(model).__name__} has no convolution layer; give --layer NAME "
                       f"(layers: {', '.join(layer_names(model))})")
    return names[which]


def _describe(inp: _Input, classes: list[str], predicted: list[tuple[int, float]]) -> str:
    lines = []
    for source, label, (k, p) in zip(inp.sources, inp.labels, predicted):
        truth = "" if label is None else f", true class {classes[label]!r}"
        lines.append(f"{source}: predicted {classes[k]!r} ({p:.3f}){truth}")
    return "; ".join(lines)


def _class_titles(classes: list[str], inp: _Input, predicted: list[tuple[int, float]],
                  target: int | None) -> list[str]:
    titles = []
    for label, (k, p) in zip(inp.labels, predicted):
        shown = k if target is None else target
        parts = [f"class {classes[shown]}", f"predicted {classes[k]} {p:.2f}"]
        if label is not None:
            parts.append(f"true {classes[label]}")
        titles.append("\n".join(parts))             # short lines: titles sit side by side
    return titles


def _shown_classes(classes: list[str], predicted: list[tuple[int, float]],
                   target: int | None) -> str:
    """The explained class(es): the target, else each image's predicted class."""
    if target is not None:
        return repr(classes[target])
    return ", ".join(dict.fromkeys(repr(classes[k]) for k, _ in predicted))


def run(args: argparse.Namespace) -> int:
    """Compute the method's arrays, draw them, write --out; print one line saying what."""
    check_png_path(args.out)                      # before any work
    model, config = load_run(args.checkpoint)
    fig, what = _RUNNERS[args.method](args, model, config)
    path = write_png(fig, args.out)
    print(f"wrote {path}: {args.method} {what}")
    return 0


def _run_feature_maps(args: argparse.Namespace, model: Module,
                      config: dict[str, Any]) -> tuple[Any, str]:
    from numcnn.viz import feature_maps, plot_feature_maps

    inp = _read_input(args, config)
    first = _Input(inp.pixels[:1], inp.x[:1], inp.sources[:1], inp.labels[:1])
    maps = feature_maps(model, first.x, layers=args.layer)
    fig = plot_feature_maps(maps, index=0, max_channels=args.max_channels)
    predicted = _predicted(model, first.x)
    return fig, (f"of {len(maps)} layer(s) ({', '.join(maps)}); "
                 f"{_describe(first, list(config['classes']), predicted)}")


def _run_filters(args: argparse.Namespace, model: Module,
                 config: dict[str, Any]) -> tuple[Any, str]:
    from numcnn.viz import filters, plot_filters
    from numcnn.viz._common import get_layer

    name = args.layer or _default_conv(model, 0)
    tiles = filters(get_layer(model, name), mode=args.mode)
    fig = plot_filters(tiles, max_tiles=args.max_tiles)
    return fig, f"of layer {name!r} ({len(tiles)} tiles, mode {args.mode})"


def _run_max_activation(args: argparse.Namespace, model: Module,
                        config: dict[str, Any]) -> tuple[Any, str]:
    from numcnn.viz import max_activation, plot_max_activation

    name = args.layer or _default_conv(model, -1)
    shape = input_shape(config)
    kwargs = {} if args.steps is None else {"steps": args.steps}
    channels = tqdm(args.channel, desc="max-activation", unit="channel",
                    disable=not sys.stderr.isatty(), leave=False)   # ~10-20 s a channel
    results = [max_activation(model, name, c, shape, seed=args.seed, **kwargs)
               for c in channels]
    titles = [f"{name} channel {c}: {float(r.activations[-1]):.3g}"
              for c, r in zip(args.channel, results)]
    fig = plot_max_activation(results, titles=titles)
    finals = ", ".join(f"{c}: {float(r.activations[-1]):.4g}"
                       for c, r in zip(args.channel, results))
    return fig, f"of layer {name!r}, channel(s) {finals} (final mean activation)"


def _run_grad_cam(args: argparse.Namespace, model: Module,
                  config: dict[str, Any]) -> tuple[Any, str]:
    from numcnn.viz import grad_cam, grad_cam_plus_plus, plot_grad_cam

    inp = _read_input(args, config)
    name = args.layer or _default_conv(model, -1)
    method = grad_cam_plus_plus if args.plus_plus else grad_cam
    cams = method(model, inp.x, name, target=args.target)
    classes, predicted = list(config["classes"]), _predicted(model, inp.x)
    fig = plot_grad_cam(inp.pixels, cams,
                        titles=_class_titles(classes, inp, predicted, args.target))
    plus = " (Grad-CAM++)" if args.plus_plus else ""
    return fig, (f"of layer {name!r} for class {_shown_classes(classes, predicted, args.target)}"
                 f"{plus}; {_describe(inp, classes, predicted)}")


def _run_attribution(args: argparse.Namespace, model: Module,
                     config: dict[str, Any]) -> tuple[Any, str]:
    from numcnn.viz import occlusion, plot_attribution, saliency

    inp = _read_input(args, config)
    if args.method == "saliency":
        maps = saliency(model, inp.x, target=args.target)
    else:
        maps = occlusion(model, inp.x, target=args.target, window=args.window,
                         stride=args.stride, fill=args.fill)
    classes, predicted = list(config["classes"]), _predicted(model, inp.x)
    fig = plot_attribution(inp.pixels, maps,
                           titles=_class_titles(classes, inp, predicted, args.target))
    return fig, (f"for class {_shown_classes(classes, predicted, args.target)}; "
                 f"{_describe(inp, classes, predicted)}")


_RUNNERS: dict[str, Callable[[argparse.Namespace, Module, dict[str, Any]], tuple[Any, str]]] = {
    "feature-maps": _run_feature_maps, "filters": _run_filters,
    "max-activation": _run_max_activation, "grad-cam": _run_grad_cam,
    "saliency": _run_attribution, "occlusion": _run_attribution}
