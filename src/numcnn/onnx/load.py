"""numcnn.onnx.load: an ONNX graph as an `nn.Module` that runs on numcnn's ops.

    m = numcnn.onnx.load("resnet18.onnx")       # a path, the bytes, or an onnx.ModelProto
    y = m(x)                                     # graph inputs in order -> Tensor (or tuple)

The graph's float initialisers become Parameters (so the module fine-tunes like any other),
BatchNormalization's mean and variance and everything integer become buffers, all named by
their ONNX names: "layer1.0.bn1.running_mean" lands at m.layer1[0].bn1.running_mean, so a
graph exported from numcnn or torch gives back its model's state_dict keys.  Names that are not
dotted identifiers ("onnx::Conv_193") are sanitised ("onnx__Conv_193").

The module starts in eval mode, as an exported graph is an inference graph; `.train()` makes
BatchNormalization use batch statistics (and update its running buffers) and Dropout drop.
Control flow: If (both branches see the outer names; the condition is read when it runs).
Before anything runs, every operator (subgraphs included), opset and tensor type the graph
uses is checked: one OnnxImportError lists everything numcnn cannot run.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

import numcnn
from numcnn.nn.module import Module
from numcnn.nn.parameter import Parameter
from numcnn.onnx import _ops
from numcnn.onnx.errors import OnnxImportError, require_onnx
from numcnn.tensor import Tensor

__all__ = ["load", "OnnxModule"]

MIN_OPSET = 6            # the oldest default-domain opset whose semantics _ops follows
MAX_OPSET = 28           # the newest one the onnx package (1.23) defines
_DEFAULT_DOMAINS = ("", "ai.onnx")
_NAME_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")


@dataclass
class _Node:
    op_type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any]


@dataclass
class _Graph:
    """A subgraph (an If branch): its nodes, and the names it outputs."""

    nodes: list[_Node]
    outputs: list[str]


# control flow, run by the module itself: op_type -> the attributes holding its subgraphs
_CONTROL_FLOW = {"If": ("then_branch", "else_branch")}


def load(path_or_model: Any) -> OnnxModule:
    """Read an ONNX model into an `OnnxModule` that runs it on numcnn's ops.

    Args:
        path_or_model: a path to a .onnx file, its bytes, or an `onnx.ModelProto`; read and
            validated by `numcnn.onnx.files.read_model` (the safe reader).

    Returns:
        The module, in eval mode, its float initialisers Parameters.

    Raises:
        OnnxFileError: a malformed or hostile file.
        OnnxImportError: a graph using operators, opsets or tensor types numcnn cannot run;
            the message lists all of them.
        ImportError: the onnx package is missing (pip install 'numcnn[onnx]').
    """
    from numcnn.onnx.files import read_model
    return OnnxModule(read_model(path_or_model))


class OnnxModule(Module):
    """An ONNX graph as a Module: forward(*inputs) runs its nodes in order on numcnn ops.

    Attributes:
        input_names: the graph inputs that forward takes, in order (initialisers that are
            also graph inputs are left out: they are the module's state).
        output_names: the graph outputs forward returns, in order.
        input_shapes: each input's shape, None for a symbolic or unknown dim (or None for an
            input without a shape).
        opset_version: the default domain's opset.
    """

    def __init__(self, model: Any) -> None:
        super().__init__()
        onnx = require_onnx()
        if not isinstance(model, onnx.ModelProto):
            raise TypeError(f"OnnxModule(): argument 'model' must be an onnx.ModelProto, got "
                            f"{type(model).__name__} (use numcnn.onnx.load for files or bytes)")
        _check_supported(onnx, model)
        graph = model.graph
        self.opset_version = _default_opset(model)
        init_names = {t.name for t in graph.initializer}
        self.input_names = [i.name for i in graph.input if i.name not in init_names]
        self._all_input_names = [i.name for i in graph.input]
        self.output_names = [o.name for o in graph.output]
        self.input_shapes = [_shape_of(i) for i in graph.input if i.name not in init_names]
        self._nodes = _graph(onnx, graph).nodes
        self._state: dict[str, tuple[Module, str]] = {}
        self._add_state(onnx, graph)
        self.eval()

    # -- state

    def _add_state(self, onnx: Any, graph: Any) -> None:
        """Each initialiser as a Parameter (float, some input that takes a gradient) or a
        buffer, at the module path its (possibly sanitised) name gives."""
        trainable = _trainable_names(self._nodes)
        names = [t.name for t in graph.initializer]
        for name, path in zip(names, _state_paths(names)):
            array = onnx.numpy_helper.to_array(next(t for t in graph.initializer
                                                    if t.name == name))
            owner, attr = self._owner(path)
            value = numcnn.from_numpy(np.array(array))
            if name in trainable and value.is_floating_point():
                owner.register_parameter(attr, Parameter(value))
            else:
                owner.register_buffer(attr, value)
            self._state[name] = (owner, attr)

    def _owner(self, path: str) -> tuple[Module, str]:
        """The (created on demand) submodule holding `path`'s last part, and that part."""
        *parents, attr = path.split(".")
        owner: Module = self
        for part in parents:
            child = owner._modules.get(part)
            if child is None:
                child = Module()
                owner.add_module(part, child)
            owner = child
        return owner, attr

    # -- running

    def forward(self, *inputs: Any) -> Any:
        """Run the graph.

        Args:
            *inputs: one Tensor or array per name of `input_names`, in that order (or one per
                graph input, initialisers included, to override those).

        Returns:
            The only output as a Tensor, or a tuple of them in `output_names` order.
        """
        if len(inputs) == len(self.input_names):
            names = self.input_names
        elif len(inputs) == len(self._all_input_names):
            names = self._all_input_names
        else:
            raise ValueError(f"OnnxModule.forward(): expected {len(self.input_names)} inputs "
                             f"({', '.join(self.input_names)}), got {len(inputs)}")
        env: dict[str, Any] = {name: getattr(owner, attr)
                               for name, (owner, attr) in self._state.items()}
        for name, value in zip(names, inputs):
            env[name] = value if isinstance(value, Tensor) else numcnn.as_tensor(np.asarray(value))
        for node in self._nodes:
            self._run_node(node, env)
        outs = tuple(env[name] for name in self.output_names)
        return outs[0] if len(outs) == 1 else outs

    def _run_node(self, node: _Node, env: dict[str, Any]) -> None:
        args = [env[name] if name else None for name in node.inputs]
        if node.op_type == "If":
            outs = self._run_if(node, args[0], env)
        else:
            ctx = _ops.OpContext(self.opset_version, self.training, len(node.outputs))
            result = _ops.OPS[node.op_type](ctx, args, node.attrs)
            outs = (result,) if isinstance(result, Tensor) else tuple(result)
        for name, value in zip(node.outputs, outs):
            if name:
                env[name] = value
        if self.training:
            for i, j in _ops.STATE_UPDATES.get(node.op_type, {}).items():
                self._update_state(node.inputs[i] if i < len(node.inputs) else "", outs[j])

    def _run_if(self, node: _Node, cond: Any, env: dict[str, Any]) -> tuple[Any, ...]:
        """If: run then_branch or else_branch (which see the outer names) by the condition."""
        branch: _Graph = node.attrs["then_branch" if bool(cond.item()) else "else_branch"]
        scope = dict(env)
        for inner in branch.nodes:
            self._run_node(inner, scope)
        return tuple(scope[name] for name in branch.outputs)

    def _update_state(self, name: str, value: Tensor) -> None:
        if name in self._state:
            owner, attr = self._state[name]
            with numcnn.no_grad():
                getattr(owner, attr).copy_(value)

    def extra_repr(self) -> str:
        return (f"opset={self.opset_version}, inputs={self.input_names}, "
                f"outputs={self.output_names}, nodes={len(self._nodes)}")


# ---------------------------------------------------------------- reading the protobuf


def _default_opset(model: Any) -> int:
    for imp in model.opset_import:
        if imp.domain in _DEFAULT_DOMAINS:
            return int(imp.version)
    return MAX_OPSET if not model.opset_import else 0


def _graph(onnx: Any, graph: Any) -> _Graph:
    return _Graph([_Node(n.op_type, n.name, list(n.input), list(n.output),
                         {a.name: _attr_value(onnx, a) for a in n.attribute})
                   for n in graph.node], [o.name for o in graph.output])


def _attr_value(onnx: Any, attr: Any) -> Any:
    """An AttributeProto as a plain value: tensors as ndarrays, strings as str, graphs as
    _Graph."""
    value = onnx.helper.get_attribute_value(attr)
    if isinstance(value, onnx.GraphProto):
        return _graph(onnx, value)
    if isinstance(value, onnx.TensorProto):
        return onnx.numpy_helper.to_array(value)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return [v.decode("utf-8") for v in value]
    return value


def _shape_of(value_info: Any) -> tuple[int | None, ...] | None:
    t = value_info.type
    if not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else None
                 for d in t.tensor_type.shape.dim)


def _trainable_names(nodes: list[_Node]) -> set[str]:
    """Names fed to some input position that takes a gradient."""
    names: set[str] = set()
    for node in nodes:
        skip = _ops.NON_TRAINABLE_INPUTS.get(node.op_type, ())
        names.update(n for i, n in enumerate(node.inputs) if n and i not in skip)
        for key in _CONTROL_FLOW.get(node.op_type, ()):
            branch = node.attrs[key]
            names |= _trainable_names(branch.nodes)
            names.update(branch.outputs)            # outer names a branch returns as they are
    return names


def _state_paths(names: list[str]) -> list[str]:
    """Module paths for the initialisers: the name itself when it is a dotted path of
    identifiers that clashes with nothing, else a sanitised single name."""
    reserved = set(dir(OnnxModule)) | {"input_names", "output_names", "input_shapes",
                                      "opset_version", "training"}
    dotted = [n for n in names if all(_NAME_PART.fullmatch(p) for p in n.split("."))]
    prefixes = {".".join(n.split(".")[:k]) for n in dotted for k in range(1, n.count(".") + 1)}
    used: set[str] = set()
    paths = []
    for name in names:
        path = name
        first = name.split(".")[0]
        if name not in dotted or name in prefixes or first in reserved or first[0].isdigit():
            path = re.sub(r"\W", "_", name)
            if path[0].isdigit() or path in reserved or path in prefixes:
                path = "_" + path
        while path in used:
            path += "_"
        used.add(path)
        paths.append(path)
    return paths


# ---------------------------------------------------------------- what numcnn can run


def _walk_nodes(graph: Any) -> Any:
    """Every node of the graph, those of subgraphs (If/Loop bodies) included."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.HasField("g"):
                yield from _walk_nodes(attr.g)
            for g in attr.graphs:
                yield from _walk_nodes(g)


def _check_supported(onnx: Any, model: Any) -> None:
    """Raise one OnnxImportError listing every unsupported operator, opset and tensor type."""
    problems = []
    opset = _default_opset(model)
    if not MIN_OPSET <= opset <= MAX_OPSET:
        problems.append(f"default-domain opset {opset} (supported: {MIN_OPSET} to {MAX_OPSET})")
    ops: Counter[str] = Counter()
    for node in _walk_nodes(model.graph):
        if node.domain not in _DEFAULT_DOMAINS or (node.op_type not in _ops.OPS
                                                   and node.op_type not in _CONTROL_FLOW):
            ops[f"{node.domain}::{node.op_type}" if node.domain not in _DEFAULT_DOMAINS
                else node.op_type] += 1
    if ops:
        problems.append("operators " + ", ".join(f"{k} ({v})" for k, v in sorted(ops.items())))
    types = Counter(_type_name(onnx, code) for code in _tensor_types(onnx, model)
                    if code not in _ops.DTYPES)
    if types:
        problems.append("tensor types " + ", ".join(f"{k} ({v})" for k, v in sorted(types.items())))
    if problems:
        raise OnnxImportError("numcnn cannot run this ONNX graph; unsupported: "
                              + "; ".join(problems))


def _type_name(onnx: Any, code: int) -> str:
    return "non-tensor value" if code < 0 else onnx.TensorProto.DataType.Name(code)


def _tensor_types(onnx: Any, model: Any) -> Any:
    """The element types of the graph's inputs, outputs, initialisers, Constant values and
    Cast targets (-1 for a value that is not a tensor: a sequence, a map, optional)."""
    graph = model.graph
    for v in [*graph.input, *graph.output]:
        yield v.type.tensor_type.elem_type if v.type.HasField("tensor_type") else -1
    for t in graph.initializer:
        yield t.data_type
    for node in _walk_nodes(graph):
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t.data_type
            if attr.HasField("sparse_tensor"):
                yield -1
            if node.op_type in ("Cast", "ConstantOfShape") and attr.name == "to":
                yield attr.i
