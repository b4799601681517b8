"""numcnn.onnx.load: an ONNX graph as an `nn.Module` that runs on numcnn's ops.

    m = numcnn.onnx.load("resnet18.onnx")       # a path, the bytes, or an onnx.ModelProto
    y = m(x)                                     # graph inputs in order -> Tensor (or tuple)
    m.get_submodule("layer1.0.conv1")           # Conv(dilations=[1, 1], group=1, pads=...)

Every node of the graph is a small child module (`OnnxNode`, its class named after the
op_type: `Conv`, `Relu`, `Add` ...) that runs the node on numcnn's ops in its forward, so hooks,
`numcnn.analysis.summary` and `numcnn summary FILE.onnx` see one module call per node, with its
output shape, parameters, MACs and activation memory.

The graph's float initialisers become Parameters (so the module fine-tunes like any other),
BatchNormalization's mean and variance and everything integer become buffers, all named by
their ONNX names, so a graph exported from numcnn or torch gives back its model's state_dict
keys.  A node owns the initialisers that only it reads when they share a dotted prefix: a Conv
reading "features.0.weight" and "features.0.bias" is the module at "features.0" with the
parameters `weight` and `bias`; a BatchNormalization reading "bn1.weight", "bn1.bias",
"bn1.running_mean", "bn1.running_var" is the module "bn1".  Other initialisers (read by several
nodes, or with names that are not dotted identifiers) sit at the path their name gives
("onnx::Conv_193" sanitised to "onnx__Conv_193").  A node without state is named after its
scope: torch's "/layer1/layer1.0/conv1/Conv" and numcnn's "/layer1/0/conv1/Conv_4" give
"layer1.0.conv1" (a second node of that scope "layer1.0.conv1_1"), a node in the scope of a
block that already holds other nodes "layer1.0.add" (as summary names a functional row of
numcnn's block); a node without a usable name f"{op_type}_{index}".

Forward keeps each intermediate value only until its last reader has run (the liveness is
computed once, at load), so inference holds about what PyTorch would, not every activation;
autograd keeps what backward needs through its own graph.

The module starts in eval mode, as an exported graph is an inference graph; `.train()` makes
BatchNormalization use batch statistics (and update its running buffers) and Dropout drop.
Control flow: If (both branches see the outer names; the condition is read when it runs; the
branch's nodes run inside the If node's module).  Before anything runs, every operator
(subgraphs included), opset and tensor type the graph uses is checked: one OnnxImportError
lists everything numcnn cannot run.
"""

from __future__ import annotations

import keyword
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import numcnn
from numcnn.nn.module import Module
from numcnn.nn.parameter import Parameter
from numcnn.onnx import _ops
from numcnn.onnx.errors import OnnxImportError, require_onnx
from numcnn.tensor import Tensor

__all__ = ["load", "OnnxModule", "OnnxNode", "OnnxIf"]

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


# control flow, run by a module of its own: op_type -> the attributes holding its subgraphs
_CONTROL_FLOW = {"If": ("then_branch", "else_branch")}

# where a piece of running state lives: (the module holding it, its attribute name)
_Slot = tuple[Module, str]


def load(path_or_model: Any) -> OnnxModule:
    """Read an ONNX model into an `OnnxModule` that runs it on numcnn's ops.

    Args:
        path_or_model: a path to a .onnx file, its bytes, or an `onnx.ModelProto`; read and
            validated by `numcnn.onnx.files.read_model` (the safe reader).

    Returns:
        The module, in eval mode, its float initialisers Parameters, one child module per
        node.

    Raises:
        OnnxFileError: a malformed or hostile file.
        OnnxImportError: a graph using operators, opsets or tensor types numcnn cannot run;
            the message lists all of them.
        ImportError: the onnx package is missing (pip install 'numcnn[onnx]').
    """
    from numcnn.onnx.files import read_model
    return OnnxModule(read_model(path_or_model))


# ---------------------------------------------------------------- one node as a module


class OnnxNode(Module):
    """One ONNX node as a Module: forward(*inputs) runs the op `_ops.OPS[op_type]`.

    forward takes the values of the node's inputs that are not the module's own state, in
    the node's input order (None for an omitted optional input), and returns its output (a
    Tensor) or outputs (a tuple, as many as the node names).  In training mode a node whose
    op moves running statistics (BatchNormalization) writes them into the state it read.

    Attributes:
        op_type: the ONNX operator ("Conv").
        node_name: the node's name in the graph ("/layer1/0/conv1/Conv_4"; may be empty).
        inputs, outputs: the names the node reads and writes in the graph.
        attrs: its attributes as plain values (ints, floats, str, lists, ndarrays).
        opset_version: the default domain's opset the op follows.
    """

    def __init__(self, node: _Node, opset: int, own: dict[int, str] | None = None) -> None:
        super().__init__()
        self.op_type = node.op_type
        self.node_name = node.name
        self.inputs = list(node.inputs)
        self.outputs = list(node.outputs)
        self.attrs = node.attrs
        self.opset_version = opset
        self._own = dict(own or {})                 # input position -> own state attribute
        self._running: dict[int, _Slot] = {}        # input position -> the state it updates

    def forward(self, *args: Any, state: dict[str, Any] | None = None) -> Any:
        """Run the node.

        Args:
            *args: the values of the inputs that are not this module's state, in order.
            state: values that replace some of this module's own state for this call, by
                attribute name (the graph-input override of `OnnxModule.forward`).
        """
        outs = self._run(self._values(args, state or {}))
        return outs[0] if len(outs) == 1 else outs

    def _values(self, args: tuple[Any, ...], state: dict[str, Any]) -> list[Any]:
        """All the node's inputs in order: its own state filled in between `args`."""
        want = len(self.inputs) - len(self._own)
        if len(args) != want:
            raise ValueError(f"{self.op_type}.forward(): expected {want} inputs, got {len(args)}")
        given = iter(args)
        return [state.get(self._own[i], getattr(self, self._own[i])) if i in self._own
                else next(given) for i in range(len(self.inputs))]

    def _run(self, values: list[Any]) -> tuple[Any, ...]:
        outs = _apply(self.op_type, self.attrs, values, self.opset_version, self.training,
                      len(self.outputs))
        if self.training:
            _update_running(self.op_type, outs, self._running)
        return outs[:len(self.outputs)]

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={_show(v)}" for k, v in sorted(self.attrs.items()))


class OnnxIf(OnnxNode):
    """The If node: forward(cond, scope) runs then_branch or else_branch by the condition.

    The branch's nodes see every name of `scope` (the outer graph's values) and run inside
    this module's call; the branch outputs are the node's outputs.
    """

    def __init__(self, node: _Node, opset: int, own: dict[int, str] | None = None) -> None:
        super().__init__(node, opset, own)
        self._slots: dict[str, _Slot] = {}          # outer state by ONNX name (training)

    def forward(self, *args: Any, state: dict[str, Any] | None = None) -> Any:
        cond, scope = args
        outs = _run_if(self.attrs, cond, scope, self.opset_version, self.training, self._slots)
        return outs[0] if len(outs) == 1 else outs


_NODE_CLASSES: dict[str, type[OnnxNode]] = {}


def _node_class(op_type: str) -> type[OnnxNode]:
    """The OnnxNode subclass named after `op_type` (made once), so that a node module's type
    name, its repr and its summary row say "Conv", "Relu", "Add" ...; it adds nothing else."""
    cls = _NODE_CLASSES.get(op_type)
    if cls is None:
        base = OnnxIf if op_type in _CONTROL_FLOW else OnnxNode
        cls = type(op_type, (base,), {"__doc__": f"The ONNX {op_type} node (see {base.__name__}).",
                                      "__module__": __name__})
        _NODE_CLASSES[op_type] = cls
    return cls


def _apply(op_type: str, attrs: dict[str, Any], values: list[Any], opset: int,
           training: bool, n_outputs: int) -> tuple[Any, ...]:
    """Every output `_ops.OPS[op_type]` gives (running statistics included)."""
    result = _ops.OPS[op_type](_ops.OpContext(opset, training, n_outputs), values, attrs)
    return (result,) if isinstance(result, Tensor) else tuple(result)


def _update_running(op_type: str, outs: tuple[Any, ...], slots: dict[Any, _Slot]) -> None:
    """Training: copy the op's new running statistics (STATE_UPDATES: input position ->
    output position) into the state slots that input read (keyed by position)."""
    for i, j in _ops.STATE_UPDATES.get(op_type, {}).items():
        if i in slots:
            owner, attr = slots[i]
            with numcnn.no_grad():
                getattr(owner, attr).copy_(outs[j])


def _run_nodes(nodes: list[_Node], scope: dict[str, Any], opset: int, training: bool,
               slots: dict[str, _Slot]) -> None:
    """Run a branch's nodes in order on `scope` (name -> value), nested Ifs included; the
    state they update in training is found by name in `slots`."""
    for node in nodes:
        args: list[Any] = [scope[name] if name else None for name in node.inputs]
        if node.op_type in _CONTROL_FLOW:
            outs = _run_if(node.attrs, args[0], scope, opset, training, slots)
        else:
            outs = _apply(node.op_type, node.attrs, args, opset, training, len(node.outputs))
            if training:
                _update_running(node.op_type, outs, {
                    i: slots[name] for i, name in enumerate(node.inputs) if name in slots})
        for name, value in zip(node.outputs, outs):
            if name:
                scope[name] = value


def _run_if(attrs: dict[str, Any], cond: Any, scope: dict[str, Any], opset: int,
            training: bool, slots: dict[str, _Slot]) -> tuple[Any, ...]:
    """If: run then_branch or else_branch by `cond` on a copy of `scope` (a branch sees the
    outer names; what it makes stays inside) and return the branch's outputs."""
    branch: _Graph = attrs["then_branch" if bool(cond.item()) else "else_branch"]
    inner = dict(scope)
    _run_nodes(branch.nodes, inner, opset, training, slots)
    return tuple(inner[name] for name in branch.outputs)


def _show(value: Any) -> str:
    """An attribute value for a repr: tensors by shape and dtype, graphs by size."""
    if isinstance(value, np.ndarray):
        return f"array(shape={list(value.shape)}, dtype={value.dtype})"
    if isinstance(value, _Graph):
        return f"<graph of {len(value.nodes)} nodes>"
    if isinstance(value, float):
        return format(value, ".7g")                 # float32 attributes without their noise
    if isinstance(value, list) and value and isinstance(value[0], float):
        return "[" + ", ".join(format(v, ".7g") for v in value) + "]"
    return repr(value)


# ---------------------------------------------------------------- the graph as a module


@dataclass
class _Step:
    """One node of the forward pass: its module, the names of the values it is given, the
    names it writes, and the names no later node reads (dropped once it has run)."""

    module: OnnxNode
    args: list[str]
    outputs: list[str]
    free: list[str] = field(default_factory=list)


class OnnxModule(Module):
    """An ONNX graph as a Module: forward(*inputs) runs its nodes (child modules) in order.

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
        tensors = {t.name: t for t in graph.initializer}
        self.input_names = [i.name for i in graph.input if i.name not in tensors]
        self._all_input_names = [i.name for i in graph.input]
        self.output_names = [o.name for o in graph.output]
        self.input_shapes = [_shape_of(i) for i in graph.input if i.name not in tensors]
        nodes = _graph(onnx, graph).nodes
        paths = dict(zip(tensors, _state_paths(list(tensors))))
        layout = _layout(nodes, paths, set(self.output_names))
        modules = [_node_class(n.op_type)(n, self.opset_version, own)
                   for n, own in zip(nodes, layout.own)]
        for module, path in zip(modules, layout.paths):
            owner, attr = self._owner(path)
            owner.add_module(attr, module)
        self._state: dict[str, _Slot] = {}
        self._add_state(onnx, tensors, paths, layout, modules, nodes)
        self._steps = _steps(nodes, modules, layout, set(self.output_names))
        self.eval()

    # -- state

    def _add_state(self, onnx: Any, tensors: dict[str, Any], paths: dict[str, str],
                   layout: _Layout, modules: list[OnnxNode], nodes: list[_Node]) -> None:
        """Each initialiser as a Parameter (float, some input that takes a gradient) or a
        buffer (non-persistent for integer ones, so the state_dict holds what a model's
        does), on the node that owns it or at the module path its name gives."""
        trainable = _trainable_names(nodes)
        for name, tensor in tensors.items():
            value = numcnn.from_numpy(_to_array(onnx, tensor))
            if name in layout.owner:
                index, attr = layout.owner[name]
                owner: Module = modules[index]
            else:
                owner, attr = self._owner(paths[name])
            if name in trainable and value.is_floating_point():
                owner.register_parameter(attr, Parameter(value))
            else:   # integer constants (shapes, axes) are the graph's, not state to save
                owner.register_buffer(attr, value, persistent=value.is_floating_point())
            self._state[name] = (owner, attr)
        for node, module in zip(nodes, modules):        # where training writes statistics
            if isinstance(module, OnnxIf):
                module._slots = self._state
            for i in _ops.STATE_UPDATES.get(node.op_type, {}):
                if i < len(node.inputs) and node.inputs[i] in self._state:
                    module._running[i] = self._state[node.inputs[i]]

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
                               for name, (owner, attr) in self._state.items()
                               if not isinstance(owner, OnnxNode)}
        overrides: dict[int, dict[str, Any]] = {}
        for name, value in zip(names, inputs):
            value = value if isinstance(value, Tensor) else numcnn.as_tensor(np.asarray(value))
            owner, attr = self._state.get(name, (None, ""))
            if isinstance(owner, OnnxNode):
                overrides.setdefault(id(owner), {})[attr] = value
            else:
                env[name] = value
        for step in self._steps:
            self._run_step(step, env, overrides.get(id(step.module)))
        outs = tuple(env[name] for name in self.output_names)
        return outs[0] if len(outs) == 1 else outs

    @staticmethod
    def _run_step(step: _Step, env: dict[str, Any], state: dict[str, Any] | None) -> None:
        """Run one node on the values it reads, store what it writes, drop the dead values."""
        args: list[Any] = [env[name] if name else None for name in step.args]
        if isinstance(step.module, OnnxIf):
            args.append(env)
        out = step.module(*args) if state is None else step.module(*args, state=state)
        del args
        outs = out if isinstance(out, tuple) else (out,)
        for name, value in zip(step.outputs, outs):
            if name:
                env[name] = value
        for name in step.free:
            env.pop(name, None)

    @property
    def nodes(self) -> list[OnnxNode]:
        """The node modules in the order forward runs them (the graph's order)."""
        return [step.module for step in self._steps]

    def extra_repr(self) -> str:
        return (f"opset={self.opset_version}, inputs={self.input_names}, "
                f"outputs={self.output_names}, nodes={len(self._steps)}")


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
    reserved = _ROOT_ATTRS
    dotted = {n for n in names if all(_NAME_PART.fullmatch(p) for p in n.split("."))}
    prefixes = {".".join(n.split(".")[:k]) for n in dotted for k in range(1, n.count(".") + 1)}
    used: set[str] = set()
    paths = []
    for name in names:
        path = name
        first = name.split(".")[0]
        if name not in dotted or name in prefixes or first in reserved:
            path = re.sub(r"\W", "_", name)
            if path[0].isdigit() or path in reserved or path in prefixes:
                path = "_" + path
        while path in used:
            path += "_"
        used.add(path)
        paths.append(path)
    return paths


def _to_array(onnx: Any, tensor: Any) -> np.ndarray:
    """The initialiser as a writable ndarray.  raw_data (little-endian, as the file stores
    it) is copied once from the protobuf's bytes into a bytearray the array then views: on a
    550 MB VGG-19 that is twice as fast as a numpy copy (numpy asks for huge pages, which the
    kernel must clear); other storage goes through onnx.numpy_helper.to_array."""
    dtype = _ops.DTYPES.get(tensor.data_type)
    if dtype is not None and tensor.HasField("raw_data") and sys.byteorder == "little":
        return np.frombuffer(bytearray(tensor.raw_data), np.dtype(dtype)).reshape(
            tuple(tensor.dims))
    array = onnx.numpy_helper.to_array(tensor)
    return array if array.flags.writeable else array.copy()


# ---------------------------------------------------------------- module paths of the nodes

# names a node path's first part, a container's or a node's attribute may not take
_ROOT_ATTRS = set(dir(OnnxModule)) | set(vars(Module())) | {
    "input_names", "output_names", "input_shapes", "opset_version", "_all_input_names",
    "_state", "_steps"}
_NODE_ATTRS = set(dir(OnnxIf)) | set(vars(OnnxIf(_Node("If", "", [], [], {}), 0)))
_MODULE_ATTRS = set(dir(Module)) | set(vars(Module()))


@dataclass
class _Layout:
    """Where the nodes go: each node's module path and own state (input position ->
    attribute), and the initialisers nodes own (name -> (node index, attribute))."""

    paths: list[str]
    own: list[dict[int, str]]
    owner: dict[str, tuple[int, str]]


class _Paths:
    """The module paths in use: leaves (a node, or a tensor of the root's tree) and the
    containers above them; a new leaf may neither be nor sit below another leaf."""

    def __init__(self, leaves: Any) -> None:
        self.leaves: set[str] = set()
        self.containers: set[str] = set()
        for path in leaves:
            self.add(path)

    def add(self, path: str) -> None:
        self.leaves.add(path)
        parts = path.split(".")
        self.containers.update(".".join(parts[:k]) for k in range(1, len(parts)))

    def can_hold(self, path: str) -> bool:
        """`path` is a readable path that no leaf is or sits above."""
        parts = path.split(".")
        return (_readable(parts) and path not in self.leaves
                and not any(".".join(parts[:k]) in self.leaves for k in range(1, len(parts))))

    def free_leaf(self, path: str) -> bool:
        return self.can_hold(path) and path not in self.containers

    def first_free(self, base: str) -> str | None:
        """base, base_1, base_2 ... whichever is free first (None if base's parent is taken)."""
        parent = base.rpartition(".")[0]
        if parent and not self.can_hold(parent):
            return None
        if self.free_leaf(base):
            return base
        if not _readable(f"{base}_1".split(".")):     # "features.0" has no "features.0_1"
            return None
        k = 1
        while not self.free_leaf(f"{base}_{k}"):
            k += 1
        return f"{base}_{k}"


def _readable(parts: list[str]) -> bool:
    """Dotted identifiers (or indices) that name no attribute of the modules holding them."""
    return (all(_NAME_PART.fullmatch(p) for p in parts)
            and parts[0] not in _ROOT_ATTRS and not any(p in _MODULE_ATTRS for p in parts[1:]))


def _scope_path(name: str) -> str | None:
    """The module path of a node's scope: "/layer1/layer1.0/conv1/Conv" (torch) and
    "/layer1/0/conv1/Conv_4" (numcnn) -> "layer1.0.conv1"; None without a scope."""
    parts = [p for p in name.split("/") if p][:-1] if name.startswith("/") else []
    path = ""
    for part in parts:
        path = part if not path or part.startswith(path + ".") else f"{path}.{part}"
    return path or None


def _reads(node: _Node) -> set[str]:
    """The outer names a node reads: its inputs, and for If what its branches read."""
    names = {n for n in node.inputs if n}
    for key in _CONTROL_FLOW.get(node.op_type, ()):
        for inner in node.attrs[key].nodes:
            names |= _reads(inner)
        names.update(node.attrs[key].outputs)
    return names


def _layout(nodes: list[_Node], paths: dict[str, str], outputs: set[str]) -> _Layout:
    """Give every node a module path and the initialisers it owns.

    A node owns the initialisers only it reads (not graph outputs) whose state path is their
    own dotted name, sharing the prefix of the first one: that prefix is the node's path,
    when no other state lies at or below it.  The other nodes are named by `_scope_path`
    (suffixed when taken), inside a block as f"{block}.{op_type.lower()}", else
    f"{op_type}_{index}".
    """
    readers: dict[str, set[int]] = {}
    for i, node in enumerate(nodes):
        for name in _reads(node):
            readers.setdefault(name, set()).add(i)
    below = Counter(".".join(p.split(".")[:k]) for p in paths.values()
                    for k in range(1, p.count(".") + 1))
    node_paths: list[str | None] = [None] * len(nodes)
    own: list[dict[int, str]] = [{} for _ in nodes]
    owner: dict[str, tuple[int, str]] = {}
    claimed: set[str] = set()
    for i, node in enumerate(nodes):
        if node.op_type in _CONTROL_FLOW:
            continue
        mine = {pos: name for pos, name in enumerate(node.inputs)
                if name in paths and paths[name] == name and "." in name
                and readers[name] == {i} and name not in outputs}
        if not mine:
            continue
        prefix = next(iter(mine.values())).rpartition(".")[0]
        mine = {pos: name for pos, name in mine.items() if name.rpartition(".")[0] == prefix
                and _attr_ok(name.rpartition(".")[2])}
        if (not mine or below[prefix] != len(set(mine.values())) or prefix in paths.values()
                or prefix in claimed or not _readable(prefix.split("."))):
            continue
        node_paths[i] = prefix
        claimed.add(prefix)
        for pos, name in mine.items():
            own[i][pos] = name.rpartition(".")[2]
            owner[name] = (i, own[i][pos])
    taken = _Paths([paths[n] for n in paths if n not in owner]
                   + [p for p in node_paths if p is not None])
    for i, node in enumerate(nodes):
        if node_paths[i] is None:
            path = _stateless_path(node, i, taken)
            taken.add(path)
            node_paths[i] = path
    return _Layout([p for p in node_paths if p is not None], own, owner)


def _attr_ok(attr: str) -> bool:
    return attr.isidentifier() and not keyword.iskeyword(attr) and attr not in _NODE_ATTRS


def _stateless_path(node: _Node, index: int, taken: _Paths) -> str:
    scope = _scope_path(node.name)
    path = None
    if scope is not None and scope in taken.containers and taken.can_hold(scope):
        path = taken.first_free(f"{scope}.{node.op_type.lower()}")
    elif scope is not None and _readable(scope.split(".")):
        path = taken.first_free(scope)
    return path or taken.first_free(f"{node.op_type}_{index}") or f"_{node.op_type}_{index}"


def _steps(nodes: list[_Node], modules: list[OnnxNode], layout: _Layout,
           outputs: set[str]) -> list[_Step]:
    """The forward plan: each node's module, the names it is given (its inputs less its own
    state), its outputs, and the values to drop after it (liveness: the last node reading or
    writing a name; graph outputs are kept)."""
    steps = [_Step(m, [n for pos, n in enumerate(node.inputs) if pos not in own],
                   list(node.outputs)) for node, m, own in zip(nodes, modules, layout.own)]
    last: dict[str, int] = {}
    for i, node in enumerate(nodes):
        for name in _reads(node) | {n for n in node.outputs if n}:
            last[name] = i
    for name, i in last.items():
        if name not in outputs:
            steps[i].free.append(name)
    return steps


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
