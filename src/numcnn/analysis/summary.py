"""A network summary in the manner of torchinfo and Keras's `model.summary()`.

`summary(model, (3, 224, 224))` runs the model once on zeros (in `no_grad`, in eval mode unless
told otherwise, restoring the model's mode afterwards) and records, for every module call and
every functional operation written inside a `forward` (`out + identity`, `numcnn.cat`, ...):
the output shape, the parameters, the multiply-accumulates and the activation memory.  It
returns a `ModelSummary`; `print(s)` gives the depth-indented table.

How it records (`trace`): forward pre-/post-hooks on every module keep a stack of the module
calls in progress, and for the duration of the run `Function.apply` (the one door every
differentiable primitive goes through) and the Tensor's in-place arithmetic (`+=`, `add_`, ...)
are wrapped to log each primitive call with its inputs, keyword configuration, output and the
innermost module running it.  Everything is restored on exit, also after an error.

Counting convention (per primitive; N batch, *So output spatial size, K kernel, G groups):

- 1 MAC = one multiply-add.  Convolution: MACs = numel(y) * C_in/G * prod(K) (the weights read
  per output value; depthwise: C_in/G = 1); transposed convolution: numel(x) * C_out/G * prod(K);
  linear and matmul: numel(y) * in_features; batch/instance/group/layer norm: numel(y) (the
  normalisation folded into one scale-and-shift per value; training-mode statistics not
  counted); local response norm: numel(y) * size; (bi/tri)linear interpolation: numel(y) * 2^d.
  Bias additions are not counted (seed 001: "weights and operations per location" are equal).
- FLOPs = 2 * MACs for those, plus 1 operation per output value for activations, elementwise
  arithmetic (additions of residual connections included), dropout masks and reductions (1 per
  input value); pooling: prod(K) - 1 comparisons (max) or prod(K) additions-and-divide (average)
  per output value; adaptive pooling: the sum of its window sizes.
- Concatenation, padding, reshapes, indexing and channel shuffles do no arithmetic (0 FLOPs);
  what they cost is memory, which the activation column shows.
- A primitive this table does not know is counted as 0 and named in `ModelSummary.uncounted`.

Memory convention: a row's activation memory is the size of its output(s).  The forward total
is the input plus every output that is a new array: results written in place (ReLU(inplace=True))
and views (Flatten, Dropout in eval, Identity) add nothing — reshapes, permutes and slices count
as views, as they are in PyTorch, even where numcnn copies; intermediates inside one module are
not counted.  Forward+backward is twice that (each activation has a gradient of its size,
seed 002's "x2 for backward").  Parameters are counted as PyTorch does (trainable and frozen
`Parameter`s); floating-point buffers (batch norm's running mean and variance) are counted
separately, and `total_params_with_buffers` adds them the way Keras's "Total params" does.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from numcnn import dtypes
from numcnn.autograd.function import Function
from numcnn.autograd.grad_mode import no_grad
from numcnn.nn.module import Module
from numcnn.ops.pool import adaptive_windows
from numcnn.tensor import Tensor

__all__ = ["summary", "ModelSummary", "LayerRow", "trace", "Trace", "ModuleCall", "OpCall",
           "op_cost", "op_label", "op_name", "row_events"]


# ----------------------------------------------------------------------------- the trace
@dataclass(eq=False)
class ModuleCall:
    """One call of a module during the traced forward."""

    name: str                      # dotted name in the model ("" for the model itself)
    module: Module
    depth: int                     # 0 for the model, 1 for its children, ...
    seq: int                       # position in the order of events
    parent: ModuleCall | None
    inputs: tuple[Any, ...] = ()
    output: Any = None
    children: list[ModuleCall] = field(default_factory=list)
    ops: list[OpCall] = field(default_factory=list)    # primitives run directly by this call
    repeat: int = 0                # 0 on a module's first call, 1, 2, ... on later ones
    end: int = 0                   # position of its return in the order of events

    @property
    def is_leaf(self) -> bool:
        """True when this call ran no other module (its primitives are its own)."""
        return not self.children


@dataclass(eq=False)
class OpCall:
    """One call of a primitive (`Function` subclass, or an in-place Tensor method)."""

    op: str                        # the Function's class name, or e.g. "add_"
    inputs: tuple[Any, ...]        # positional arguments (Tensors, arrays, None)
    kwargs: dict[str, Any]
    output: Tensor
    owner: ModuleCall | None       # the innermost module call running it
    seq: int


class Trace:
    """What `trace` recorded: the module calls (a tree rooted at `root`) and the primitives."""

    def __init__(self) -> None:
        self.calls: list[ModuleCall] = []
        self.ops: list[OpCall] = []
        self.root: ModuleCall | None = None
        self._stack: list[ModuleCall] = []
        self._seq = 0
        self._seen: dict[int, int] = {}
        self.keep: list[Any] = []   # holds every traced object so that no id() is reused

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _enter(self, name: str, module: Module, args: tuple[Any, ...]) -> None:
        parent = self._stack[-1] if self._stack else None
        call = ModuleCall(name, module, len(self._stack), self._next(), parent, tuple(args))
        call.repeat = self._seen.get(id(module), 0)
        self._seen[id(module)] = call.repeat + 1
        if parent is None:
            self.root = call
        else:
            parent.children.append(call)
        self.calls.append(call)
        self._stack.append(call)
        self.keep.append(args)

    def _exit(self, module: Module, output: Any) -> None:
        if self._stack and self._stack[-1].module is module:
            call = self._stack.pop()
            call.output = output
            call.end = self._next()
            self.keep.append(output)

    def _op(self, op: str, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
        first = out[0] if isinstance(out, tuple) else out
        if not isinstance(first, Tensor):
            return
        owner = self._stack[-1] if self._stack else None
        rec = OpCall(op, tuple(args), dict(kwargs), first, owner, self._next())
        self.ops.append(rec)
        if owner is not None:
            owner.ops.append(rec)
        self.keep.append((args, out))


_INPLACE = {"add_": "add_", "sub_": "sub_", "mul_": "mul_", "div_": "div_",
            "__iadd__": "add_", "__isub__": "sub_", "__imul__": "mul_", "__itruediv__": "div_"}


@contextmanager
def _patched(tr: Trace) -> Iterator[None]:
    """Wrap Function.apply and the in-place Tensor methods for the duration of a `with`."""
    original_apply = Function.__dict__["apply"]
    apply_fn = original_apply.__func__

    def traced_apply(cls: type[Function], *args: Any, **kwargs: Any) -> Any:
        out = apply_fn(cls, *args, **kwargs)
        tr._op(cls.__name__, args, kwargs, out)
        return out

    originals = {name: Tensor.__dict__[name] for name in _INPLACE}

    def wrap(method: Callable[..., Any], op: str) -> Callable[..., Any]:
        def traced_inplace(self: Tensor, other: Any, *a: Any, **k: Any) -> Any:
            out = method(self, other, *a, **k)
            tr._op(op, (self, other), {}, out)
            return out
        return traced_inplace

    Function.apply = classmethod(traced_apply)  # type: ignore[method-assign,assignment]
    for name, method in originals.items():
        setattr(Tensor, name, wrap(method, _INPLACE[name]))
    try:
        yield
    finally:
        Function.apply = original_apply  # type: ignore[method-assign]
        for name, method in originals.items():
            setattr(Tensor, name, method)


def trace(model: Module, *inputs: Any, mode: str | None = "eval") -> tuple[Trace, Any]:
    """Run `model(*inputs)` once in `no_grad` and record every module call and primitive.

    Args:
        model: the network.
        inputs: its positional inputs.
        mode: "eval" or "train" for the run, None to keep the model's mode; the modes of all
            submodules are restored afterwards.

    Returns:
        (the `Trace`, the model's output).
    """
    if mode not in ("eval", "train", None):
        raise ValueError(f"mode must be 'eval', 'train' or None, got {mode!r}")
    tr = Trace()
    modes = [(m, m.training) for m in model.modules()]
    handles = []
    for name, m in model.named_modules():
        handles.append(m.register_forward_pre_hook(
            lambda mod, args, _n=name: tr._enter(_n, mod, args)))
        handles.append(m.register_forward_hook(
            lambda mod, args, out: tr._exit(mod, out), always_call=True))
    if mode is not None:
        model.train(mode == "train")
    try:
        with _patched(tr), no_grad():
            output = model(*inputs)
    finally:
        for h in handles:
            h.remove()
        for m, training in modes:
            object.__setattr__(m, "training", training)
    return tr, output


# ----------------------------------------------------------------------------- costs
_ELEMENTWISE = {
    # activations
    "ReLU", "Hardtanh", "LeakyReLU", "Threshold", "Hardswish", "Hardsigmoid", "PReLU", "ELU",
    "GELU", "Sigmoid", "Tanh", "Softplus", "SiLU", "Mish", "LogSigmoid", "Softmax", "LogSoftmax",
    # arithmetic
    "Add", "Sub", "Mul", "Div", "Pow", "Neg", "Exp", "Log", "Sqrt", "Abs", "Clamp", "Where",
    "Maximum", "Minimum", "add_", "sub_", "mul_", "div_",
    # masks
    "Dropout", "AlphaDropout",
}
_REDUCTIONS = {"Sum", "Mean", "Var", "MaxAll", "MaxDim"}
_NORMS = {"BatchNorm", "InstanceNorm", "GroupNorm", "LayerNorm"}
_FREE = {"Reshape", "Permute", "Expand", "Index", "Cat", "Stack", "Flip", "Pad", "Cast",
         "Clone", "ChannelShuffle", "PixelShuffle", "PixelUnshuffle", "Unfold", "Fold",
         "MaxUnpoolNd"}
_SHAPE_ONLY = {"reshape", "permute", "expand", "index", "flip", "cast", "clone"}  # row kinds


def _array(a: Any) -> np.ndarray:
    return a.array if isinstance(a, Tensor) else np.asarray(a)


# cost rules of primitives defined outside the core ops (e.g. numcnn.compress's integer and
# binary kernels): Function class name -> function(OpCall) -> (MACs, FLOPs)
OP_COSTS: dict[str, Callable[[OpCall], tuple[int, int]]] = {}


def register_op_cost(name: str, cost: Callable[[OpCall], tuple[int, int]]) -> None:
    """Teach `summary` the (MACs, FLOPs) of the primitive (Function subclass) called `name`,
    e.g. an int8 convolution: cost(op) gets the traced call (inputs, kwargs, output)."""
    OP_COSTS[name] = cost


def op_cost(op: OpCall) -> tuple[int, int] | None:
    """(MACs, FLOPs) of one primitive call under the module docstring's convention; None for
    a primitive the convention does not cover."""
    name, kw = op.op, op.kwargs
    if name in OP_COSTS:
        macs, flops = OP_COSTS[name](op)
        return int(macs), int(flops)
    y = op.output.array
    if name == "ConvNd":
        macs = y.size * math.prod(_array(op.inputs[1]).shape[1:])
    elif name == "ConvTransposeNd":
        macs = _array(op.inputs[0]).size * math.prod(_array(op.inputs[1]).shape[1:])
    elif name in ("Linear", "MatMul"):
        macs = y.size * _array(op.inputs[0]).shape[-1]
    elif name == "Bilinear":
        macs = y.size * _array(op.inputs[0]).shape[-1] * _array(op.inputs[1]).shape[-1]
    elif name in _NORMS:
        macs = y.size
    elif name == "LocalResponseNorm":
        return y.size * kw["size"], 2 * y.size * kw["size"] + 2 * y.size
    elif name == "Interpolate":
        linear = kw["mode"] in ("linear", "bilinear", "trilinear")
        macs = y.size * 2 ** len(kw["size"]) if linear else 0
    elif name in _ELEMENTWISE:
        return 0, int(y.size)
    elif name in _REDUCTIONS:
        return 0, int(_array(op.inputs[0]).size)
    elif name == "MaxPoolNd":
        return 0, int(y.size * (math.prod(kw["kernel_size"]) - 1))
    elif name in ("AvgPoolNd", "LPPoolNd"):
        return 0, int(y.size * math.prod(kw["kernel_size"]))
    elif name in ("AdaptiveAvgPoolNd", "AdaptiveMaxPoolNd"):
        x = _array(op.inputs[0])
        nd = len(kw["out_size"])
        per_plane = math.prod(int(np.sum(e - s)) for s, e in (
            adaptive_windows(L, o) for L, o in zip(x.shape[x.ndim - nd:], kw["out_size"])))
        planes = x.size // max(1, math.prod(x.shape[x.ndim - nd:]))
        extra = 0 if name == "AdaptiveAvgPoolNd" else -y.size   # max: one comparison fewer
        return 0, int(planes * per_plane + extra)
    elif name in _FREE:
        return 0, 0
    else:
        return None
    return int(macs), int(2 * macs)


# ----------------------------------------------------------------------------- the summary
@dataclass
class LayerRow:
    """One row of the summary: a module call, or a functional primitive run by a container.

    `params` are the row's own parameters (for a module: recursively, all it owns), counted
    once: a module's later calls show `shared=True` and 0.  `macs`/`flops` include everything
    the call ran; `activation_bytes` is the size of the output, `new_bytes` the part of it that
    is a new array (0 for views and in-place results).
    """

    name: str
    depth: int
    kind: str                      # class name, or the primitive's name for functional rows
    output_shapes: list[tuple[int, ...]]
    params: int
    trainable_params: int
    buffers: int
    macs: int
    flops: int
    activation_bytes: int
    new_bytes: int
    is_leaf: bool
    functional: bool = False
    shared: bool = False

    @property
    def output_shape(self) -> tuple[int, ...] | None:
        """The first output's shape (None when the row returned no tensor)."""
        return self.output_shapes[0] if self.output_shapes else None

    @property
    def activation_values(self) -> int:
        """Number of output values (the lectures' "memory: 224*224*64 = 3.2M")."""
        return sum(math.prod(s) for s in self.output_shapes)

    @property
    def trainable(self) -> str:
        """"yes", "no", "partial", or "--" for a row without parameters."""
        if self.params == 0:
            return "--"
        if self.trainable_params == self.params:
            return "yes"
        return "no" if self.trainable_params == 0 else "partial"


def _tensors(value: Any) -> list[Tensor]:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return []


def _is_new(out: Tensor, inputs: Sequence[Tensor]) -> bool:
    return not any(out is t or np.may_share_memory(out.array, t.array) for t in inputs)


def _new_bytes(outputs: Sequence[Tensor], inputs: Sequence[Tensor]) -> int:
    return sum(t.array.nbytes for t in outputs if _is_new(t, inputs))


def _weights_and_buffers(module: Module) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
    """(parameters, weight buffers, other buffers) of `module`. A buffer called "weight" or
    "bias" holds a layer's weights outside training (e.g. the int8 weights of a quantised
    layer), so it counts as a non-trainable parameter, not as a statistic."""
    weights: list[Tensor] = []
    others: list[Tensor] = []
    for name, b in module.named_buffers():
        (weights if name.rpartition(".")[2] in ("weight", "bias") else others).append(b)
    return list(module.parameters()), weights, others


def _param_counts(module: Module) -> tuple[int, int, int]:
    params, weights, buffers = _weights_and_buffers(module)
    return (sum(p.numel() for p in params + weights),
            sum(p.numel() for p in params if p.requires_grad),
            sum(b.numel() for b in buffers if b.dtype.kind == "f"))


def _readable(n: float, unit: str = "") -> str:
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {prefix}{unit}"
    return f"{n:.0f} {unit}".rstrip()


def _mb(n: int) -> str:
    return f"{n / 1e6:,.2f}"


class ModelSummary:
    """The numbers of `summary`: per-layer `rows` and the totals; `str()` is the table."""

    def __init__(self, model: Module, rows: list[LayerRow], input_shape: tuple[int, ...],
                 input_bytes: int, forward_bytes: int, macs: int, flops: int,
                 uncounted: list[str], depth: int) -> None:
        self.model_name = type(model).__name__
        self.rows = rows
        self.input_shape = input_shape
        self.input_bytes = input_bytes
        params, weights, buffers = _weights_and_buffers(model)
        self.total_params = sum(p.numel() for p in params + weights)
        self.trainable_params = sum(p.numel() for p in params if p.requires_grad)
        self.non_trainable_params = self.total_params - self.trainable_params
        self.param_bytes = sum(p.array.nbytes for p in params + weights)
        self.buffer_count = sum(b.numel() for b in buffers if b.dtype.kind == "f")
        self.buffer_bytes = sum(b.array.nbytes for b in buffers)
        self.forward_bytes = forward_bytes
        self.macs = macs
        self.flops = flops
        self.uncounted = uncounted
        self.depth = depth

    @property
    def total_params_with_buffers(self) -> int:
        """Parameters plus floating-point buffers: Keras's "Total params" (which counts batch
        norm's moving mean and variance as non-trainable parameters)."""
        return self.total_params + self.buffer_count

    @property
    def forward_values(self) -> int:
        """Forward activation memory in values (input included)."""
        itemsize = max(1, self.input_bytes // max(1, math.prod(self.input_shape)))
        return self.forward_bytes // itemsize

    @property
    def forward_backward_bytes(self) -> int:
        """Activations and their gradients: twice the forward activation memory."""
        return 2 * self.forward_bytes

    @property
    def training_bytes(self) -> int:
        """Estimate of what a training step holds: parameters, their gradients, buffers and
        forward+backward activations (optimizer state not included)."""
        return 2 * self.param_bytes + self.buffer_bytes + self.forward_backward_bytes

    def row(self, name: str) -> LayerRow:
        """The first row named `name` (a module's dotted name)."""
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"no row named {name!r}")

    def leaf_rows(self) -> list[LayerRow]:
        """The rows of leaf module calls and functional primitives (what the totals sum)."""
        return [r for r in self.rows if r.is_leaf]

    def visible_rows(self) -> list[LayerRow]:
        """The rows the table shows: depth <= `depth`, pure view/reshape rows left out."""
        return [r for r in self.rows if r.depth <= self.depth
                and not (r.functional and r.kind in _SHAPE_ONLY and r.new_bytes == 0)]

    def __str__(self) -> str:
        head = ("Layer (type)", "Output Shape", "Param #", "Train", "MACs", "FLOPs",
                "Activations")
        body = []
        rows = self.visible_rows()
        for i, r in enumerate(rows):
            shown_children = i + 1 < len(rows) and rows[i + 1].depth > r.depth
            label = r.name.rsplit(".", 1)[-1] if r.name else ""
            title = f"{label} ({r.kind})" if label and label != r.kind else r.kind
            shape = ", ".join(str(list(s)) for s in r.output_shapes) or "--"
            if r.shared:
                params = "(shared)"
            elif shown_children and not r.functional:
                params = "--"
            else:
                params = f"{r.params:,}"
            body.append(("  " * r.depth + title, shape, params,
                         r.trainable if not shown_children else "",
                         "--" if shown_children else f"{r.macs:,}",
                         "--" if shown_children else f"{r.flops:,}",
                         "--" if shown_children else _readable(r.activation_bytes, "B")))
        widths = [max(len(row[k]) for row in [head, *body]) for k in range(len(head))]
        widths[0] = max(widths[0], 30)

        def line(cells: Sequence[str]) -> str:
            return "  ".join(c.ljust(w) if k == 0 else c.rjust(w)
                             for k, (c, w) in enumerate(zip(cells, widths))).rstrip()
        rule = "=" * len(line(head))
        out = [rule, line(head), rule, *(line(b) for b in body), rule]
        out += [
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,}",
            f"Buffers (batch norm statistics): {self.buffer_count:,}; "
            f"total with them, as Keras counts: {self.total_params_with_buffers:,}",
            f"MACs: {self.macs:,} ({_readable(self.macs)});  "
            f"FLOPs: {self.flops:,} ({_readable(self.flops)})",
            rule,
            f"Input size (MB): {_mb(self.input_bytes)}",
            f"Forward activations (MB): {_mb(self.forward_bytes)} "
            f"({self.forward_values:,} values, input included)",
            f"Forward+backward activations (MB): {_mb(self.forward_backward_bytes)}",
            f"Params size (MB): {_mb(self.param_bytes)}",
            f"Estimated training total (MB): {_mb(self.training_bytes)} "
            "(params + grads + buffers + fwd/bwd activations)",
            rule,
        ]
        if self.uncounted:
            out.append(f"Not counted (no cost rule): {', '.join(sorted(set(self.uncounted)))}")
        return "\n".join(out)

    def __repr__(self) -> str:
        return (f"ModelSummary({self.model_name}, input={list(self.input_shape)}, "
                f"params={self.total_params:,}, MACs={self.macs:,})")


def _input_shape(input_size: Sequence[int], batch_size: int) -> tuple[int, ...]:
    shape = tuple(int(s) for s in input_size)
    if not shape or any(s <= 0 for s in shape):
        raise ValueError(f"input_size must be positive integers, got {tuple(input_size)}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    return shape if len(shape) >= 4 else (batch_size, *shape)


def op_label(op: OpCall) -> str:
    """A primitive's short name: "convnd" -> "conv", "Add" -> "add", "add_" stays."""
    return op.op if op.op.endswith("_") else op.op.removesuffix("Nd").lower()


def op_name(op: OpCall) -> str:
    """The row name of a primitive: its module's name when that module is a leaf, else
    "<container>.<primitive>" (e.g. "layer1.0.add")."""
    owner = op.owner
    if owner is None:
        return op_label(op)
    if owner.is_leaf:
        return owner.name
    return f"{owner.name}.{op_label(op)}" if owner.name else op_label(op)


def row_events(tr: Trace) -> list[ModuleCall | OpCall]:
    """The rows of a trace in call order: every module call, and every primitive a container
    runs itself in its forward (the functional rows: `out + identity`, `numcnn.cat`, ...)."""
    events: list[tuple[int, ModuleCall | OpCall]] = [(c.seq, c) for c in tr.calls]
    events += [(o.seq, o) for o in tr.ops if o.owner is not None and not o.owner.is_leaf]
    events.sort(key=lambda e: e[0])
    return [e for _, e in events]


def summary(model: Module, input_size: Sequence[int], batch_size: int = 1,
            dtype: Any = None, depth: int = 3, mode: str | None = "eval") -> ModelSummary:
    """Summarise `model` on one forward pass over zeros.

    Args:
        model: the network.
        input_size: (C, H, W) (or any per-sample shape of up to 3 axes), to which `batch_size`
            is prepended; a shape of 4 or more axes is taken as the full input shape.
        batch_size: images per batch.
        dtype: input dtype (default: numcnn's default dtype, float32).
        depth: deepest nesting level the table shows; a row at that level with hidden
            children shows their totals.
        mode: run in "eval" (default) or "train" mode, or None to keep the model's mode.

    Returns:
        A `ModelSummary` (the numbers; print it for the table).

    Shape:
        input zeros (batch_size, *input_size); see the module docstring for what is counted.
    """
    shape = _input_shape(input_size, batch_size)
    dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    x = Tensor(np.zeros(shape, dtype=dt))
    tr, _ = trace(model, x, mode=mode)
    assert tr.root is not None
    rows: list[LayerRow] = []
    uncounted: list[str] = []
    costs: dict[int, tuple[int, int]] = {}
    for op in tr.ops:
        c = op_cost(op)
        if c is None:
            uncounted.append(op.op)
            c = (0, 0)
        costs[id(op)] = c

    def inclusive(call: ModuleCall) -> tuple[int, int]:
        macs = sum(costs[id(o)][0] for o in call.ops)
        flops = sum(costs[id(o)][1] for o in call.ops)
        for ch in call.children:
            m, f = inclusive(ch)
            macs, flops = macs + m, flops + f
        return macs, flops

    forward = x.array.nbytes
    for ev in row_events(tr):
        if isinstance(ev, ModuleCall):
            outs, ins = _tensors(ev.output), _tensors(ev.inputs)
            p, tp, b = _param_counts(ev.module) if ev.repeat == 0 else (0, 0, 0)
            macs, flops = inclusive(ev)
            views_only = ev.is_leaf and all(op_label(o) in _SHAPE_ONLY for o in ev.ops)
            row = LayerRow(ev.name, ev.depth, type(ev.module).__name__,
                           [tuple(t.shape) for t in outs], p, tp, b, macs, flops,
                           sum(t.array.nbytes for t in outs),
                           0 if views_only else _new_bytes(outs, ins),
                           ev.is_leaf, shared=ev.repeat > 0)
        else:
            ins = [a for a in ev.inputs if isinstance(a, Tensor)]
            macs, flops = costs[id(ev)]
            assert ev.owner is not None
            row = LayerRow(op_name(ev), ev.owner.depth + 1, op_label(ev), [tuple(ev.output.shape)],
                           0, 0, 0, macs, flops, ev.output.array.nbytes,
                           0 if op_label(ev) in _SHAPE_ONLY else _new_bytes([ev.output], ins),
                           True, functional=True)
        if row.is_leaf:
            forward += row.new_bytes
        rows.append(row)
    macs = sum(c[0] for c in costs.values())
    flops = sum(c[1] for c in costs.values())
    return ModelSummary(model, rows, shape, x.array.nbytes, forward, macs, flops, uncounted,
                        depth)


# ----------------------------------------------------------------------------- input sizes
# The input each model of numcnn.models is made for, where it is not ImageNet's 3x224x224.
