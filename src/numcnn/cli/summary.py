"""`numcnn summary MODEL|CHECKPOINT|FILE.onnx`: a table of the layers (output shape, parameters,
MACs, FLOPs, activation memory) from one forward pass (numcnn.analysis.summary).

An .onnx file is loaded with numcnn.onnx.load (its nodes become the rows) and run on its graph
input's shape: a dynamic batch axis takes --batch-size, other dynamic axes need --input-size.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from numcnn.cli.args import (
    add_model_args,
    non_negative_int,
    positive_int,
)
from numcnn.nn.module import Module
from numcnn.train.run import (
    RunError,
    input_shape,
    model_from,
    read_checkpoint,
)

CLIError = RunError

__all__ = ["add_parser", "run", "zoo_model", "run_model", "model_and_size", "onnx_model"]


def add_parser(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add this command to the sub-command parsers `sub`."""
    sm = sub.add_parser(
        "summary", formatter_class=fmt, help="print a model's layers, parameters, MACs, memory",
        description="Print a table of a model's layers (output shape, parameters, MACs, FLOPs, "
                    "activation memory)\nand its totals, from one forward pass on zeros.")
    add_model_args(sm, checkpoints=True)
    sm.add_argument("--batch-size", type=positive_int, default=None, metavar="N",
                    help="images per batch (default 1; an .onnx file with a fixed batch "
                         "keeps its own)")
    sm.add_argument("--num-classes", type=positive_int, default=None, metavar="K",
                    help="build the model with K classes (default: the factory's)")
    sm.add_argument("--depth", type=non_negative_int, default=3, metavar="D",
                    help="show layers nested at most D deep (default 3)")


def zoo_model(args: argparse.Namespace, **kwargs: Any) -> tuple[Module, tuple[int, ...]]:
    """Build args.model from numcnn.models and pick its input size (`numcnn train`'s
    spelling with hyphens, e.g. fmnist-cnn, names the same zoo model)."""
    from numcnn import models

    names = models.list_models()
    name = args.model if args.model in names else args.model.replace("-", "_")
    if name not in names:
        raise CLIError(f"unknown model {args.model!r}; known models: {', '.join(names)}")
    factory = models.MODELS[name]
    size: tuple[int, ...] = models.input_size(name)
    if args.input_size is not None:
        if args.input_size[0] != size[0]:
            kwargs["in_channels"] = args.input_size[0]
        size = tuple(args.input_size)
    return factory(**kwargs), size


def run_model(args: argparse.Namespace) -> tuple[Module, tuple[int, ...]]:
    """The model of the checkpoint args.model (as `numcnn eval` rebuilds it, compressed ones
    included) and the run's input size."""
    if args.input_size is not None or args.num_classes is not None:
        raise CLIError("--input-size and --num-classes apply to zoo models; a checkpoint "
                       "keeps its own")
    model, config = model_from(read_checkpoint(args.model))
    return model, input_shape(config)


def model_and_size(args: argparse.Namespace) -> tuple[Module, tuple[int, ...]]:
    """args.model as a zoo name (with args.num_classes) or a run checkpoint, and its input
    size (C, H, W)."""
    if args.model.endswith(".safetensors") or os.path.isfile(args.model):
        return run_model(args)
    kwargs = {} if args.num_classes is None else {"num_classes": args.num_classes}
    return zoo_model(args, **kwargs)


def onnx_model(args: argparse.Namespace) -> tuple[Module, tuple[int, ...], Any]:
    """The ONNX file args.model as a numcnn module (numcnn.onnx.load), the full shape of its
    one graph input (dynamic axes filled from args.batch_size and args.input_size) and that
    input's dtype."""
    from numcnn.onnx.errors import require_onnx
    from numcnn.onnx.files import read_model
    from numcnn.onnx.load import OnnxModule

    try:
        onnx = require_onnx()
    except ImportError as e:
        raise CLIError(str(e)) from None
    if args.num_classes is not None:
        raise CLIError("--num-classes applies to zoo models; an .onnx file keeps its own")
    proto = read_model(args.model)
    weights = {t.name for t in proto.graph.initializer}
    inputs = [v for v in proto.graph.input if v.name not in weights]
    if len(inputs) != 1:
        raise CLIError(f"{args.model} has {len(inputs)} graph inputs "
                       f"({', '.join(v.name for v in inputs)}); summary needs exactly one")
    tensor_type = inputs[0].type.tensor_type
    shape = _onnx_input_shape(args, inputs[0].name, tensor_type.shape.dim)
    dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type)
    return OnnxModule(proto), shape, dtype      # proto already read and checked once


def _onnx_input_shape(args: argparse.Namespace, name: str, dims: Any) -> tuple[int, ...]:
    """The graph input's dims, a dynamic (or unknown) batch axis -> --batch-size (default 1),
    the others -> --input-size, which must agree with the fixed ones."""
    fixed = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
             for d in dims]
    shown = "[" + ", ".join(str(v) if v is not None else (d.dim_param or "?")
                            for v, d in zip(fixed, dims)) + "]"
    if not fixed:
        raise CLIError(f"{args.model}: the shape of input {name!r} is not given in the file")
    batch = fixed[0] if fixed[0] is not None else (args.batch_size or 1)
    if args.batch_size is not None and args.batch_size != batch:
        raise CLIError(f"{args.model}: input {name!r} is {shown}, a fixed batch of {batch}; "
                       f"--batch-size {args.batch_size} disagrees")
    rest = fixed[1:]
    if args.input_size is not None:
        wanted = list(args.input_size)
        if len(wanted) != len(rest) or any(f not in (None, w) for f, w in zip(rest, wanted)):
            raise CLIError(f"{args.model}: input {name!r} is {shown}; --input-size "
                           f"{' '.join(map(str, wanted))} disagrees")
        rest = wanted
    if any(v is None for v in rest):
        raise CLIError(f"{args.model}: input {name!r} is {shown}, with dynamic axes other "
                       "than the batch: give them with --input-size C H W")
    return (batch, *(int(v) for v in rest if v is not None))


def run(args: argparse.Namespace) -> int:
    from numcnn.analysis import summary

    if args.model.lower().endswith(".onnx"):
        model, shape, dtype = onnx_model(args)
        print(f"{args.model} on input {list(shape)}")
        # summary takes a per-sample size of up to 3 axes, or a full shape of 4 or more
        size = shape[1:] if len(shape) <= 4 else shape
        print(summary(model, size, batch_size=shape[0], dtype=dtype, depth=args.depth))
        return 0
    model, size = model_and_size(args)
    batch_size = args.batch_size or 1
    print(f"{args.model} on input {[batch_size, *size]}")
    print(summary(model, size, batch_size=batch_size, depth=args.depth))
    return 0
