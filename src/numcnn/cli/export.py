"""`numcnn export MODEL|CHECKPOINT --onnx FILE`: write a zoo model or a trained (or pruned)
run's model as an ONNX file (numcnn.onnx.export), check it with onnx.checker, and say what was
written; when onnxruntime happens to be installed, also run the file there and print the largest
difference from numcnn's own output on the same random input.

    numcnn export resnet18 --onnx resnet18.onnx            # batch axis dynamic ("batch")
    numcnn export runs/x/best.safetensors --onnx x.onnx --static-batch --batch-size 8
"""

from __future__ import annotations

import argparse
import importlib
import os
from typing import Any

import numpy as np

from numcnn.cli.args import add_model_args, positive_int
from numcnn.cli.summary import model_and_size
from numcnn.train.run import RunError

CLIError = RunError

__all__ = ["add_parser", "run", "describe_io", "compare_with_onnxruntime"]

INPUT_NAME, OUTPUT_NAME, BATCH_AXIS = "input", "output", "batch"


def add_parser(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add this command to the sub-command parsers `sub`."""
    p = sub.add_parser(
        "export", formatter_class=fmt, help="write a model as an ONNX file",
        description="Write a zoo model or a run's checkpoint (pruned ones too; int8 and binary "
                    "layers have no ONNX form)\nas an ONNX file, check it with onnx.checker "
                    "and, when onnxruntime is installed, "
                    "compare its output with numcnn's.\n\n"
                    "  numcnn export resnet18 --onnx resnet18.onnx\n"
                    "  numcnn export runs/x/best.safetensors --onnx x.onnx --static-batch")
    add_model_args(p, checkpoints=True)
    p.add_argument("--onnx", required=True, metavar="FILE", help="the .onnx file to write")
    p.add_argument("--opset", type=positive_int, default=17,
                   metavar="N", help="ONNX opset version (default 17)")
    p.add_argument("--batch-size", type=positive_int, default=1, metavar="N",
                   help="batch of the traced input (default 1)")
    p.add_argument("--static-batch", action="store_true",
                   help="fix the batch axis to --batch-size (default: dynamic)")
    p.add_argument("--num-classes", type=positive_int, default=None, metavar="K",
                   help="build a zoo model with K classes (default: the factory's)")


def run(args: argparse.Namespace) -> int:
    import numcnn
    from numcnn.onnx.export import export
    from numcnn.onnx.files import read_model

    _require_onnx()
    folder = os.path.dirname(os.path.abspath(args.onnx))
    if not os.path.isdir(folder):
        raise CLIError(f"--onnx {args.onnx}: the folder {folder} does not exist")
    model, size = model_and_size(args)
    model.eval()
    x = _random_input(model, (args.batch_size, *size))
    dynamic = None if args.static_batch else {INPUT_NAME: {0: BATCH_AXIS},
                                              OUTPUT_NAME: {0: BATCH_AXIS}}
    export(model, (numcnn.from_numpy(x),), args.onnx, opset_version=args.opset,
           input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], dynamic_axes=dynamic)
    proto = read_model(args.onnx)                       # the safe reader runs onnx.checker
    opsets = ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in proto.opset_import)
    print(f"wrote {args.onnx} ({os.path.getsize(args.onnx):,} bytes, opset {opsets}, "
          f"{len(proto.graph.node)} nodes); onnx.checker: ok")
    for line in describe_io(proto):
        print(line)
    print(compare_with_onnxruntime(args.onnx, model, x))
    return 0


def _require_onnx() -> None:
    from numcnn.onnx.errors import require_onnx

    try:
        require_onnx()
    except ImportError as e:
        raise CLIError(str(e)) from None


def _random_input(model: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A reproducible standard-normal input in the model's parameter dtype (float32 default)."""
    from numcnn.nn.utils._dtype import param_dtype

    dtype = np.dtype(param_dtype(model, np.float32))
    return np.random.default_rng(0).standard_normal(shape).astype(dtype)


def describe_io(proto: Any) -> list[str]:
    """One line per graph input (initialisers left out) and output: name, shape, dtype; a
    dynamic axis shows as its name (dim_param), an unknown one as '?'."""
    import onnx

    weights = {t.name for t in proto.graph.initializer}
    lines = []
    for kind, values in (("input", proto.graph.input), ("output", proto.graph.output)):
        for v in values:
            if v.name in weights:
                continue
            t = v.type.tensor_type
            dims = [d.dim_param or (str(d.dim_value) if d.HasField("dim_value") else "?")
                    for d in t.shape.dim]
            dtype = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type) if t.elem_type else "?"
            lines.append(f"  {kind:<6} {v.name:<12} [{', '.join(dims)}]  {dtype}")
    return lines


def compare_with_onnxruntime(path: str, model: Any, x: np.ndarray) -> str:
    """ONNX Runtime's output on `x` against numcnn's: 'max |onnxruntime - numcnn| = ...', or
    why it was not compared.  onnxruntime is optional: imported here only if installed."""
    import numcnn

    try:
        ort = importlib.import_module("onnxruntime")
    except ImportError:
        return "onnxruntime not installed: not compared"
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    theirs = session.run(None, {session.get_inputs()[0].name: x})
    with numcnn.no_grad():
        ours = model(numcnn.from_numpy(x))
    ours = list(ours) if isinstance(ours, (tuple, list)) else [ours]
    if len(ours) != len(theirs):
        return (f"onnxruntime gave {len(theirs)} outputs, numcnn {len(ours)}: not compared")
    diffs, scale = [], 0.0
    for a, b in zip(ours, theirs):
        a_np = a.array
        if a_np.shape != b.shape:
            return (f"onnxruntime output shape {list(b.shape)} != numcnn's "
                    f"{list(a_np.shape)}: not compared")
        diffs.append(float(np.max(np.abs(a_np.astype(np.float64) - b), initial=0.0)))
        scale = max(scale, float(np.max(np.abs(a_np), initial=0.0)))
    return (f"max |onnxruntime - numcnn| = {max(diffs):.3g} on a random input of shape "
            f"{list(x.shape)} (outputs up to {scale:.3g} in size)")
