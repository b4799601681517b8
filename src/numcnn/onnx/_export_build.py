"""From a recorded forward pass to an `onnx.ModelProto`, for `numcnn.onnx.export`.

This module exists only with the optional `onnx` package (numcnn[onnx]); `export` imports it
inside the call.

- `second_run`: with dynamic axes, trace again with those input axes doubled (the inputs
  concatenated with themselves along each dynamic axis) and map every tensor of the first run
  to its shape in the second; the op sequence must be the same, and an op argument that changed
  must be one its emitter writes without the traced size (`DYNAMIC_KWARGS`).
- `build`: emit every op through `EMITTERS`, declare the inputs and outputs (dim_param on the
  dynamic axes) and make the model.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import onnx
from onnx import helper

import numcnn
from numcnn.nn.module import Module
from numcnn.onnx._export_graph import Graph, Recording, record, tensor_type, where
from numcnn.onnx._export_ops import DYNAMIC_KWARGS, EMITTERS
from numcnn.onnx.errors import OnnxExporterError
from numcnn.tensor import Tensor

__all__ = ["second_run", "build"]

_PROTOBUF_LIMIT = 2**31 - 1      # one serialized ModelProto (no external data written here)


# ----------------------------------------------------------------------------- dynamic axes
def _same(a: Any, b: Any) -> bool:
    """Equality of recorded op arguments (arrays by shape and value, sequences item by item)."""
    if isinstance(a, (np.ndarray, Tensor)) or isinstance(b, (np.ndarray, Tensor)):
        x = a.array if isinstance(a, Tensor) else a
        y = b.array if isinstance(b, Tensor) else b
        return isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and x.shape == y.shape \
            and (x is y or bool(np.array_equal(x, y)))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(u, v) for u, v in zip(a, b))
    try:
        return bool(a == b)
    except Exception:                    # noqa: BLE001 - incomparable means different
        return False


def second_run(model: Module, inputs: Sequence[Tensor], rec: Recording,
               dynamic: dict[int, dict[int, str]]) -> dict[int, tuple[int, ...]]:
    """{id(first-run tensor): its shape when every dynamic input axis is doubled}; {} without
    dynamic input axes."""
    if not dynamic:
        return {}
    doubled = []
    for i, t in enumerate(inputs):
        a = t.array
        for axis in dynamic.get(i, {}):
            a = np.concatenate([a, a], axis=axis)
        doubled.append(numcnn.from_numpy(np.ascontiguousarray(a)))
    try:
        rec2 = record(model, doubled)
    except OnnxExporterError:
        raise
    except Exception as e:
        raise OnnxExporterError(f"the model does not run with its dynamic axes at another size "
                                f"(tried twice the traced size: {type(e).__name__}: {e}); "
                                "those axes cannot be dynamic") from e
    ops1, ops2 = rec.trace.ops, rec2.trace.ops
    if [o.op for o in ops1] != [o.op for o in ops2]:
        raise OnnxExporterError("the forward pass runs different ops when the dynamic axes "
                                "change size (control flow on the input's shape); those axes "
                                "cannot be dynamic")
    shapes: dict[int, tuple[int, ...]] = {id(t): d.array.shape for t, d in zip(inputs, doubled)}
    for o1, o2 in zip(ops1, ops2):
        _check_arguments(o1, o2)
        for v1, v2 in zip(o1.inputs, o2.inputs):
            if isinstance(v1, Tensor) and isinstance(v2, Tensor):
                shapes.setdefault(id(v1), v2.array.shape)
        shapes[id(o1.output)] = o2.output.array.shape
        for t in rec.writes.get(id(o1.output), []):
            shapes[id(t)] = o2.output.array.shape
    return shapes


def _check_arguments(o1: Any, o2: Any) -> None:
    """An argument that changed with the dynamic axes must be one the emitter handles."""
    allowed = DYNAMIC_KWARGS.get(o1.op, set())
    for key, value in o1.kwargs.items():
        if key not in allowed and not _same(value, o2.kwargs.get(key)):
            raise OnnxExporterError(f"{where(o1)}: its argument {key!r} depends on the size of "
                                    "the dynamic axes and would be baked into the model")
    for v1, v2 in zip(o1.inputs, o2.inputs):
        if not isinstance(v1, Tensor) and not _same(v1, v2):
            raise OnnxExporterError(f"{where(o1)}: a constant input depends on the size of the "
                                    "dynamic axes and would be baked into the model")


# ----------------------------------------------------------------------------- the model
def _state_names(model: Module) -> dict[int, tuple[str, np.ndarray]]:
    """id(parameter / buffer, and of its array) -> (state_dict key, array)."""
    names: dict[int, tuple[str, np.ndarray]] = {}
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        for key in (id(t), id(t.array)):
            names.setdefault(key, (name, t.array))
    return names


def _value_info(name: str, t: Tensor, dims: dict[int, str]) -> onnx.ValueInfoProto:
    shape: list[Any] = [dims.get(a, n) for a, n in enumerate(t.array.shape)]
    return helper.make_tensor_value_info(name, tensor_type(t.array.dtype), shape)


def _rename(nodes: list[onnx.NodeProto], old: str, new: str) -> None:
    for node in nodes:
        for seq in (node.input, node.output):
            for k, v in enumerate(seq):
                if v == old:
                    seq[k] = new


def build(model: Module, inputs: Sequence[Tensor], rec: Recording, outputs: Sequence[Tensor],
          opset: int, in_names: list[str], out_names: list[str],
          dims: dict[str, dict[int, str]], shapes2: dict[int, tuple[int, ...]]) -> Any:
    """The ModelProto of the recorded forward pass."""
    g = Graph(opset, _state_names(model), shapes2)
    for name in in_names + out_names:
        g.reserve(name)
    for t, name in zip(inputs, in_names):
        g.bind(t, name)
    for op in rec.trace.ops:
        g.op = op
        name = EMITTERS[op.op](g, op)
        g.bind(op.output, name)
        for t in rec.writes.get(id(op.output), []):
            g.bind(t, name)
    g.op = None
    produced = {o for node in g.nodes for o in node.output}
    for t, out in zip(outputs, out_names):
        value = g.name_of(t)
        if value in produced and value not in in_names:
            _rename(g.nodes, value, out)
            produced.discard(value)
            g.bind(t, out)
        else:
            g.nodes.append(helper.make_node("Identity", [value], [out], name=f"/Identity_{out}"))
    size = sum(a.nbytes for _, a in g.initializers.values())
    if size > _PROTOBUF_LIMIT:
        raise OnnxExporterError(f"the model's tensors take {size} bytes, over protobuf's 2 GiB "
                                "limit for one file (external data is not written by export)")
    graph = helper.make_graph(
        g.nodes, type(model).__name__,
        [_value_info(n, t, dims.get(n, {})) for t, n in zip(inputs, in_names)],
        [_value_info(n, t, dims.get(n, {})) for t, n in zip(outputs, out_names)])
    for name, array in g.initializers.values():
        _add_initializer(graph, name, array)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                             producer_name="numcnn", producer_version=numcnn.__version__)


def _add_initializer(graph: onnx.GraphProto, name: str, array: np.ndarray) -> None:
    """One TensorProto made in place inside the graph (raw little-endian bytes), so the
    tensors are copied once (make_graph would copy every finished TensorProto again)."""
    t = graph.initializer.add()
    t.name = name
    t.data_type = tensor_type(array.dtype)
    t.dims.extend(array.shape)
    t.raw_data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
