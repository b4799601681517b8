"""`numcnn predict CHECKPOINT... IMAGE...`: the most probable classes of each image file, by one
checkpoint, by an ensemble of checkpoints (softmax outputs averaged), or by a zoo model with
pretrained weights (`--model resnet18 --weights DEFAULT`: ImageNet's 1,000 classes)."""

from __future__ import annotations

import argparse
from typing import Any, Callable

import numpy as np

import numcnn
from numcnn.cli.args import (
    positive_int,
)
from numcnn.train.run import (
    RunError,
    ensemble_classes,
    model_from,
    model_input,
    read_checkpoint,
    read_image,
)

__all__ = ["add_parser", "run"]

_CHECKPOINT_SUFFIXES = (".safetensors",)


def add_parser(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add this command to the sub-command parsers `sub`."""
    pr = sub.add_parser(
        "predict", formatter_class=fmt, help="classify image files with a checkpoint",
        description="Print the most probable classes of each image, with their probability.\n\n"
                    "The leading arguments ending in .safetensors are checkpoints of 'numcnn "
                    "train'; several\nform an ensemble (their softmax outputs averaged, each "
                    "model fed the image as it\nwas trained). Or use a zoo model with "
                    "pretrained weights: --model NAME --weights\nDEFAULT (ImageNet classes, "
                    "the weights' own preprocessing).\n\n"
                    "Images: .npy arrays ((H, W), (C, H, W) or (H, W, C); uint8 is scaled by "
                    "1/255, floats\nare taken as they are), .pgm files, and .png/.jpg if Pillow "
                    "is installed. They are\nconverted to the model's channels and resized to "
                    "its input size.",
        epilog="examples:\n  numcnn predict runs/x/best.safetensors shoe.png --topk 3\n"
               "  numcnn predict a/best.safetensors b/best.safetensors shoe.png\n"
               "  numcnn predict --model resnet18 --weights DEFAULT cat.jpg --topk 5")
    pr.add_argument("items", metavar="CHECKPOINT_OR_IMAGE", nargs="+",
                    help="checkpoints (.safetensors) first, then image files")
    pr.add_argument("--topk", "--top", dest="top", type=positive_int, default=1, metavar="K",
                    help="print the K most probable classes with their names (default 1)")
    pr.add_argument("--model", metavar="NAME", default=None,
                    help="a zoo model to use with --weights instead of checkpoints")
    pr.add_argument("--weights", metavar="WEIGHTS", default=None,
                    help="with --model: DEFAULT, a weights name (IMAGENET1K_V1) or "
                         "Enum.MEMBER")


Member = Callable[[str], np.ndarray]        # image path -> class probabilities


def _softmax(logits: np.ndarray) -> np.ndarray:
    p = np.exp(logits - logits.max())
    return np.asarray(p / p.sum())


def _checkpoint_member(path: str) -> tuple[Member, list[str]]:
    model, config = model_from(read_checkpoint(path))

    def probs(image: str) -> np.ndarray:
        _, x = model_input(image, config)
        with numcnn.no_grad():
            return _softmax(model(x).array[0].astype(np.float64))
    return probs, list(config["classes"])


def _pretrained_member(name: str, spec: str) -> tuple[Member, list[str]]:
    from numcnn.models import get_model
    from numcnn.models import weights as zoo_weights

    try:
        weights = zoo_weights.get_model_weights(name).verify(spec)
    except (ValueError, TypeError) as exc:
        raise RunError(str(exc)) from None
    if weights.meta["categories"] is None:
        raise RunError(f"{weights!r} has no classifier (features only): it cannot predict")
    model = get_model(name, weights=weights).eval()
    preprocess = weights.transforms()

    def probs(image: str) -> np.ndarray:
        x = preprocess(read_image(image, 3))[None]
        with numcnn.no_grad():
            return _softmax(model(x).array[0].astype(np.float64))
    return probs, list(weights.meta["categories"])


def run(args: argparse.Namespace) -> int:
    checkpoints = []
    for item in args.items:
        if not item.endswith(_CHECKPOINT_SUFFIXES):
            break
        checkpoints.append(item)
    images = args.items[len(checkpoints):]
    if (args.model is None) != (args.weights is None):
        raise RunError("--model and --weights go together")
    if args.model is not None and checkpoints:
        raise RunError("give checkpoints or --model/--weights, not both")
    if args.model is None and not checkpoints:
        raise RunError(f"the first argument must be a checkpoint (.safetensors), got "
                       f"{args.items[0]}; or use --model NAME --weights DEFAULT")
    if not images:
        raise RunError("no image files given")
    members = ([_pretrained_member(args.model, args.weights)] if args.model is not None
               else [_checkpoint_member(p) for p in checkpoints])
    classes = (members[0][1] if args.model is not None
               else ensemble_classes(checkpoints, [names for _, names in members]))
    for image in images:
        p = np.mean([member(image) for member, _ in members], axis=0)
        best = np.argsort(-p, kind="stable")[:args.top]
        shown = ", ".join(f"{classes[k]} {p[k]:.4f}" for k in best)
        print(f"{image}: {shown}")
    return 0
