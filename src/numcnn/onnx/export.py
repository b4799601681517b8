"""`numcnn.onnx.export`: a numcnn model as an ONNX model, as `torch.onnx.export`.

How (one traced forward pass, as PyTorch's TorchScript exporter):

1. `numcnn.analysis.summary.trace` runs the model once in eval mode (its modes are restored
   afterwards) and records every primitive (`Function.apply`) with its inputs, configuration
   and output; in-place writes (`relu(inplace=True)`, `+=`) rebind the tensor they write to.
2. Every recorded op must have an ONNX form (`_export_ops.EMITTERS`); otherwise
   `UnsupportedOperatorError` lists all of them, with the modules that ran them, before anything
   is built or written.
3. With `dynamic_axes`, the model is traced again with those input axes doubled: a tensor axis
   whose size changed is dynamic, and shape arguments are written so that no traced size of it
   is baked in (Reshape 0/-1, Expand 1, sizes from Shape); what cannot be written so raises
   `OnnxExporterError` naming the op and module.
4. Each op becomes nodes; parameters and buffers become initializers named by their
   state_dict keys (BatchNorm stays a BatchNormalization node, not folded, so an imported model
   can be fine-tuned); other constants become initializers too.
5. The model is checked (`onnx.checker.check_model(full_check=True)`: structure, types and
   shape inference) and written to `f`.

Differences from torch.onnx.export: the ModelProto is also returned (torch returns None);
`args` is a Tensor or a tuple of Tensors (a trailing dict of keyword inputs is refused); the
model is always exported in eval mode (torch's default, TrainingMode.EVAL).
"""

from __future__ import annotations

import os
from typing import IO, Any, Mapping, Sequence, Union

import numpy as np

import numcnn
from numcnn._atomic import atomic_write
from numcnn.analysis.summary import Trace
from numcnn.nn.module import Module
from numcnn.onnx.errors import OnnxExporterError, UnsupportedOperatorError, require_onnx
from numcnn.tensor import Tensor

__all__ = ["export", "MIN_OPSET", "max_opset"]

MIN_OPSET = 13
# The newest opset written: onnx's newest, capped where ONNX Runtime 1.32 (the oracle of the
# tests) stops running the operators this exporter writes.
_MAX_OPSET_CAP = 28

DynamicAxes = Mapping[str, Union[Mapping[int, str], Sequence[int]]]


def max_opset() -> int:
    """The newest opset_version `export` writes: the installed onnx's newest, at most 28."""
    onnx = require_onnx()
    return min(int(onnx.defs.onnx_opset_version()), _MAX_OPSET_CAP)


def export(model: Module, args: Tensor | tuple[Tensor, ...], f: str | os.PathLike[str] | IO[bytes],
           opset_version: int = 17, input_names: Sequence[str] | None = None,
           output_names: Sequence[str] | None = None,
           dynamic_axes: DynamicAxes | None = None) -> Any:
    """Export `model` to ONNX by tracing one forward pass on `args`, as torch.onnx.export.

    Args:
        model: the numcnn `nn.Module`; traced in eval mode, its modes restored afterwards.
        args: the input Tensor, or a tuple of Tensors (the forward's positional arguments).
        f: a file path (written atomically: the old file or the complete new one) or a
            binary file object with `write`.
        opset_version: the ONNX opset of the default domain, 13 .. `max_opset()`.
        input_names: names of the graph inputs; default "input", "input_1", ...
        output_names: names of the graph outputs; default "output", "output_1", ...
        dynamic_axes: axes whose size may change, as torch: {name: {axis: "dim_name"}} or
            {name: [axis, ...]} (then named "<name>_dynamic_axes_<k>"), for input and output
            names.  Nothing in the graph then depends on the traced size of those axes.

    Returns:
        The `onnx.ModelProto` written (torch.onnx.export returns None).

    Raises:
        UnsupportedOperatorError: ops of the forward pass with no ONNX form (all of them named).
        OnnxExporterError: a dynamic axis that cannot stay dynamic, or another op that cannot
            be written (the op and its module are named).
        TypeError / ValueError: bad arguments.
    """
    onnx = require_onnx()
    _check_model_and_f(model, f)
    inputs = _as_inputs(args)
    opset = _check_opset(opset_version)
    in_names = _names(input_names, len(inputs), "input", "input_names")
    from numcnn.onnx import _export_build, _export_graph  # need onnx: imported here

    rec = _export_graph.record(model, inputs)
    outputs = _as_outputs(rec.output)
    out_names = _names(output_names, len(outputs), "output", "output_names")
    if len(set(in_names) | set(out_names)) < len(in_names) + len(out_names):
        raise ValueError(f"input_names and output_names must be distinct names, got "
                         f"{in_names} and {out_names}")
    dims = _dynamic_dims(dynamic_axes, in_names, out_names,
                         [t.ndim for t in inputs], [t.ndim for t in outputs])
    _check_supported(rec.trace)
    _check_where_conditions(model, inputs, rec, _export_graph.record)
    shapes2 = _export_build.second_run(model, inputs, rec, {i: dims[n] for i, n in
                                                            enumerate(in_names) if n in dims})
    proto = _export_build.build(model, inputs, rec, outputs, opset, in_names, out_names, dims,
                                shapes2)
    data = proto.SerializeToString()
    onnx.checker.check_model(data, full_check=True)
    _write(data, f)
    return proto


def _check_where_conditions(model: Module, inputs: tuple[Tensor, ...], rec: Any,
                            record: Any) -> None:
    """A `where` (also masked_fill, fmax/fmin, clamp with tensor bounds) takes its condition
    as a mask computed outside the traced ops (numcnn's comparisons are not traced), so the
    export writes the traced mask as a constant.  That is right only when the mask does not
    depend on the input: run the model again on other input values (float inputs scaled by
    -1.5 and shifted) and refuse the export if any mask changed, instead of writing a graph
    that silently computes something else."""
    ops = rec.trace.ops
    wheres = [i for i, o in enumerate(ops) if o.op == "Where"]
    if not wheres:
        return
    other = [numcnn.from_numpy(t.array * -1.5 + 0.25) if t.is_floating_point() else t
             for t in inputs]
    ops2 = record(model, other).trace.ops
    for i in wheres:
        same = (i < len(ops2) and ops2[i].op == "Where"
                and np.array_equal(np.asarray(ops[i].kwargs["cond"]),
                                   np.asarray(ops2[i].kwargs["cond"])))
        if not same:
            owner = ops[i].owner.name if ops[i].owner is not None else "the model"
            raise OnnxExporterError(
                f"where() in {owner or 'the model'} takes a condition that depends on the "
                "input (a comparison, masked_fill, fmax/fmin or clamp with tensor bounds): "
                "numcnn's comparisons are not traced ops, so it cannot be exported; write it "
                "with traced ops (e.g. relu, clamp with number bounds, maximum/minimum)")


# ----------------------------------------------------------------------------- arguments
def _check_model_and_f(model: Any, f: Any) -> None:
    if not isinstance(model, Module):
        raise TypeError(f"model must be a numcnn.nn.Module, got {type(model).__name__}")
    if not isinstance(f, (str, os.PathLike)) and not callable(getattr(f, "write", None)):
        raise TypeError(f"f must be a file path or a binary file object with write(), got "
                        f"{type(f).__name__}")


def _as_inputs(args: Any) -> tuple[Tensor, ...]:
    if isinstance(args, Tensor):
        return (args,)
    if isinstance(args, (tuple, list)) and args and isinstance(args[-1], dict):
        raise TypeError("args with a trailing dict of keyword inputs is not supported: pass "
                        "the forward's inputs as positional Tensors")
    if not isinstance(args, (tuple, list)) or not all(isinstance(a, Tensor) for a in args):
        raise TypeError(f"args must be a Tensor or a tuple of Tensors, got "
                        f"{type(args).__name__}")
    if not args:
        raise ValueError("args must hold at least one Tensor (the model's input)")
    return tuple(args)


def _check_opset(opset_version: Any) -> int:
    newest = max_opset()
    if isinstance(opset_version, bool) or not isinstance(opset_version, (int, np.integer)) \
            or not MIN_OPSET <= int(opset_version) <= newest:
        raise ValueError(f"opset_version must be an int from {MIN_OPSET} to {newest}, got "
                         f"{opset_version!r}")
    return int(opset_version)


def _names(given: Sequence[str] | None, count: int, base: str, arg: str) -> list[str]:
    """The given names, then base, base_1, base_2, ... for the rest (as torch)."""
    if given is None:
        given = []
    if isinstance(given, str) or not all(isinstance(n, str) and n for n in given):
        raise TypeError(f"{arg} must be a list of non-empty str, got {given!r}")
    if len(given) > count:
        raise ValueError(f"{arg} has {len(given)} names for {count} {base}s")
    names = list(given)
    k = len(names)
    while len(names) < count:
        name = base if k == 0 else f"{base}_{k}"
        k += 1
        if name not in names:
            names.append(name)
    if len(set(names)) != len(names):
        raise ValueError(f"{arg} must be distinct, got {names}")
    return names


def _dynamic_dims(dynamic_axes: DynamicAxes | None, in_names: list[str], out_names: list[str],
                  in_ranks: list[int], out_ranks: list[int]) -> dict[str, dict[int, str]]:
    """{value name: {axis: dim_param}} from torch's two forms of dynamic_axes."""
    if dynamic_axes is None:
        return {}
    if not isinstance(dynamic_axes, Mapping):
        raise TypeError(f"dynamic_axes must be a dict {{name: {{axis: 'dim'}}}} or "
                        f"{{name: [axis, ...]}}, got {type(dynamic_axes).__name__}")
    ranks = dict(zip(in_names, in_ranks)) | dict(zip(out_names, out_ranks))
    dims: dict[str, dict[int, str]] = {}
    for name, axes in dynamic_axes.items():
        if name not in ranks:
            raise ValueError(f"dynamic_axes names {name!r}, which is none of the input and "
                             f"output names {in_names + out_names}")
        if isinstance(axes, Mapping):
            pairs = list(axes.items())
        elif isinstance(axes, (list, tuple)):
            pairs = [(a, f"{name}_dynamic_axes_{k + 1}") for k, a in enumerate(axes)]
        else:
            raise TypeError(f"dynamic_axes[{name!r}] must be a dict {{axis: 'dim'}} or a list "
                            f"of axes, got {type(axes).__name__}")
        dims[name] = {}
        for axis, dim in pairs:
            if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) \
                    or not -ranks[name] <= axis < ranks[name]:
                raise ValueError(f"dynamic_axes[{name!r}] axis {axis!r} is not an axis of a "
                                 f"tensor of rank {ranks[name]}")
            if not isinstance(dim, str) or not dim:
                raise TypeError(f"dynamic_axes[{name!r}][{axis}] must be a non-empty str "
                                f"(the dimension's name), got {dim!r}")
            dims[name][int(axis) % ranks[name]] = dim
    return dims


def _as_outputs(output: Any) -> list[Tensor]:
    flat = list(output) if isinstance(output, (tuple, list)) else [output]
    if not flat or not all(isinstance(t, Tensor) for t in flat):
        raise OnnxExporterError(f"the model must return a Tensor or a tuple / list of Tensors "
                                f"to be exported, got {type(output).__name__}")
    return flat


# ----------------------------------------------------------------------------- checks
def _check_supported(tr: Trace) -> None:
    """UnsupportedOperatorError listing every traced op that has no ONNX form."""
    from numcnn.onnx._export_ops import EMITTERS

    missing: dict[str, list[str]] = {}
    for op in tr.ops:
        if op.op not in EMITTERS:
            owner = op.owner.name if op.owner is not None and op.owner.name else "<model>"
            where = missing.setdefault(op.op, [])
            if owner not in where:
                where.append(owner)
    if missing:
        listed = "; ".join(f"{name} (in {', '.join(repr(w) for w in where)})"
                           for name, where in sorted(missing.items()))
        raise UnsupportedOperatorError(
            f"{len(missing)} operator(s) of the forward pass have no ONNX export in numcnn: "
            f"{listed}")


# ----------------------------------------------------------------------------- writing
def _write(data: bytes, f: str | os.PathLike[str] | IO[bytes]) -> None:
    if isinstance(f, (str, os.PathLike)):
        with atomic_write(f) as out:
            out.write(data)
    else:
        f.write(data)

