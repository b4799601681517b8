"""The graph that `numcnn.onnx.export` builds: one traced forward pass turned into ONNX nodes.

This module exists only with the optional `onnx` package (numcnn[onnx]): `export` imports it
inside the call, after `require_onnx()`.

- `record(model, args)` runs `numcnn.analysis.summary.trace` once and also notes every in-place
  write (`Tensor._inplace_from`: `relu(x, inplace=True)`, `x += y`, `hardtanh_`...), which the
  trace itself does not see as a rebinding: after such a write, later uses of `x` read the value
  the writing op produced.
- `Graph` names values by tensor identity (`id` of the traced Tensor or array; the trace keeps
  every object alive, so no id is reused), makes initializers for parameters and buffers (named
  by their state_dict keys) and for every other constant, and collects the nodes.
- `dynamic_shapes`: with dynamic axes the model is traced a second time with every dynamic axis
  of the inputs doubled; an axis of a traced tensor is dynamic exactly where its sizes in the
  two runs differ.  The emitters use that to write shape arguments that do not bake a traced
  size in (Reshape's 0 and -1, Expand's 1, Shape-derived sizes), and an op argument that
  changed between the runs and that no emitter knows how to express raises
  `OnnxExporterError`, naming the op and its module.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper

from numcnn.analysis.summary import OpCall, Trace, trace
from numcnn.nn.module import Module
from numcnn.onnx.errors import OnnxExporterError
from numcnn.tensor import Tensor

__all__ = ["Graph", "Recording", "record", "where", "INT64_MAX", "INT64_MIN"]

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


def where(op: OpCall) -> str:
    """'OpName (in module "layer1.0.conv1")' for error messages."""
    owner = op.owner.name if op.owner is not None else ""
    return f"{op.op} (in module {owner or '<model>'!r})"


# ----------------------------------------------------------------------------- recording
@dataclass
class Recording:
    """One traced forward pass and the in-place writes made during it."""

    trace: Trace
    output: Any
    # id(op output) -> the tensors that were overwritten in place with that output's value
    writes: dict[int, list[Tensor]] = field(default_factory=dict)
    view_writes: list[Tensor] = field(default_factory=list)


@contextmanager
def _watch_inplace(rec: Recording) -> Iterator[None]:
    """Record `self._inplace_from(out)` calls: `self` now holds `out`'s value."""
    original = Tensor.__dict__["_inplace_from"]

    def watched(self: Tensor, out: Tensor) -> Tensor:
        rec.writes.setdefault(id(out), []).append(self)
        if self._base is not None:
            rec.view_writes.append(self)
        return original(self, out)

    Tensor._inplace_from = watched  # type: ignore[method-assign]
    try:
        yield
    finally:
        Tensor._inplace_from = original  # type: ignore[method-assign]


def record(model: Module, args: Sequence[Tensor]) -> Recording:
    """Trace `model(*args)` once in eval mode (modes restored afterwards)."""
    rec = Recording(Trace(), None)
    with _watch_inplace(rec):
        rec.trace, rec.output = trace(model, *args, mode="eval")
    if rec.view_writes:
        raise OnnxExporterError("an in-place write into a view of another tensor (e.g. "
                                "x[:, :3].relu_()) cannot be exported; write out of place")
    return rec


# ----------------------------------------------------------------------------- the graph
def _array(v: Any) -> np.ndarray:
    return v.array if isinstance(v, Tensor) else np.asarray(v)


class Graph:
    """Nodes, initializers and value names of the ONNX graph under construction.

    Args:
        opset: the default-domain opset version written.
        names: id(Tensor / ndarray) -> name of parameters and buffers (their state_dict keys).
        shapes2: id(traced Tensor) -> its shape in the second (dynamic-axes) run; empty without
            dynamic axes.
    """

    def __init__(self, opset: int, names: dict[int, tuple[str, np.ndarray]],
                 shapes2: dict[int, tuple[int, ...]]) -> None:
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: dict[str, tuple[str, np.ndarray]] = {}   # name -> (name, array)
        self.value: dict[int, str] = {}           # id(traced object) -> current value name
        self.named = names
        self.shapes2 = shapes2
        self._used: set[str] = set(name for name, _ in names.values())
        self._count = 0
        self.op: OpCall | None = None             # the op being emitted (for messages)

    # ------------------------------------------------------------------ names
    def fresh(self, hint: str) -> str:
        """A new value name, `hint` + a counter, never used before."""
        while True:
            self._count += 1
            name = f"{hint}_{self._count}"
            if name not in self._used:
                self._used.add(name)
                return name

    def reserve(self, name: str) -> None:
        """Keep `name` (a graph input or output name) for the caller."""
        self._used.add(name)

    # ------------------------------------------------------------------ nodes
    def node(self, op_type: str, inputs: Sequence[str], outputs: int = 1,
             **attrs: Any) -> str:
        """Append one node; returns the name of its first output."""
        outs = [self.fresh(op_type) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs,
                                           name=f"/{self._scope()}{op_type}_{len(self.nodes)}",
                                           **attrs))
        return outs[0]

    def _scope(self) -> str:
        owner = self.op.owner if self.op is not None else None
        return f"{owner.name.replace('.', '/')}/" if owner is not None and owner.name else ""

    # ------------------------------------------------------------------ constants
    def const(self, value: Any, dtype: Any = None, hint: str = "const") -> str:
        """A new initializer holding `value` (ints as int64 unless `dtype` says otherwise)."""
        a = np.asarray(value)
        if dtype is not None:
            a = a.astype(dtype)
        elif a.dtype.kind in "iu":
            a = a.astype(np.int64)
        name = self.fresh(hint)
        self.initializers[name] = (name, a)
        return name

    def ints(self, values: Sequence[int]) -> str:
        """A 1-D int64 initializer (shapes, axes, pads)."""
        return self.const(np.asarray(list(values), dtype=np.int64), hint="ints")

    def initializer(self, key: int, name: str, array: np.ndarray) -> str:
        """The initializer of a parameter / buffer (made once; later uses share it)."""
        if name not in self.initializers:
            self.initializers[name] = (name, array)
        self.value[key] = name
        return name

    # ------------------------------------------------------------------ traced values
    def name_of(self, v: Any, dtype: Any = None) -> str:
        """The value name of a traced tensor, a parameter / buffer, or a constant.

        A constant (an array or scalar the trace did not produce) becomes an initializer, cast
        to `dtype` when given (Python numbers take the dtype of the op they feed).
        """
        key = id(v)
        if key in self.value:
            name = self.value[key]
        elif key in self.named:
            pname, array = self.named[key]
            name = self.initializer(key, pname, array)
        elif isinstance(v, Tensor) and id(v.array) in self.named:
            pname, array = self.named[id(v.array)]
            name = self.initializer(key, pname, array)
        else:
            a = _array(v)
            if dtype is not None and a.dtype != np.dtype(dtype):
                return self.const(a.astype(dtype))
            name = self.const(a)
            self.value[key] = name
            return name
        if dtype is not None and _array(v).dtype != np.dtype(dtype):
            return self.node("Cast", [name], to=helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))
        return name

    def input(self, op: OpCall, i: int, dtype: Any = None) -> str:
        """Name of the op's positional input `i` (cast to `dtype` when given)."""
        return self.name_of(op.inputs[i], dtype)

    def bind(self, v: Any, name: str) -> None:
        """From now on `v` (a traced tensor) has the value `name`."""
        self.value[id(v)] = name

    # ------------------------------------------------------------------ dynamic shapes
    def dynamic(self, v: Any) -> frozenset[int]:
        """The axes of traced tensor `v` whose size depends on the dynamic input axes."""
        other = self.shapes2.get(id(v))
        if other is None:
            return frozenset()
        return frozenset(a for a, (s, t) in enumerate(zip(_array(v).shape, other)) if s != t)

    def fail(self, what: str) -> OnnxExporterError:
        """An OnnxExporterError about the op being emitted: 'what' cannot be exported."""
        where_ = where(self.op) if self.op is not None else "the model"
        return OnnxExporterError(f"{where_}: {what}")

    # ------------------------------------------------------------------ helpers
    def shape_slice(self, x: str, start: int, end: int) -> str:
        """Shape(x)[start:end] as an int64 tensor (dynamic sizes included)."""
        if self.opset >= 15:
            return self.node("Shape", [x], start=start, end=end)
        shape = self.node("Shape", [x])
        return self.node("Slice", [shape, self.ints([start]), self.ints([end]),
                                   self.ints([0])])

    def unsqueeze(self, x: str, axes: Sequence[int]) -> str:
        """Unsqueeze (axes as an input since opset 13)."""
        return self.node("Unsqueeze", [x, self.ints(axes)])

    def reduce(self, op_type: str, x: str, axes: Sequence[int] | None, keepdims: bool) -> str:
        """ReduceSum / ReduceMean / ReduceMax ...: axes as an input from opset 18 (13 for
        ReduceSum), an attribute before; `None` reduces every axis."""
        as_input = self.opset >= (13 if op_type == "ReduceSum" else 18)
        if axes is None:
            return self.node(op_type, [x], keepdims=int(keepdims))
        if as_input:
            return self.node(op_type, [x, self.ints(axes)], keepdims=int(keepdims))
        return self.node(op_type, [x], axes=list(axes), keepdims=int(keepdims))


def tensor_type(dtype: np.dtype) -> int:
    """The TensorProto element type of a NumPy dtype (bool, ints, floats)."""
    if dtype == np.bool_:
        return TensorProto.BOOL
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
