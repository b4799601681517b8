"""The channel dependency graph of a traced forward pass, for `numcnn.compress.channels`.

One forward pass is recorded by `numcnn.analysis.summary.trace`; every tensor on the data
path gets, per position of its channel axis (axis 1: C of (N, C, *S), F of (N, F)), the id of
a *channel node*.  Nodes are made by the layers that create channels:

- a Conv/Linear module's output channels (one node per channel, made once per module, so a
  module called twice writes the same nodes);
- the input image, and constant channels (zero padding of the channel axis): these are frozen.

Ops move the ids along (ReLU, BN, pooling keep them; Cat concatenates them; ChannelShuffle
permutes them; Flatten repeats each id over the spatial positions) and *couple* nodes that
must be kept or removed together (union-find):

- an elementwise Add/Sub/Mul (residual additions, squeeze-and-excitation gates): the operands'
  channels position by position;
- a depthwise convolution (groups == in_channels): output channel j with input channel
  j // multiplier, so it passes the pruning through and its groups shrink;
- a channel shuffle with G groups: the channels at the same offset of every group (so that the
  shuffle of the smaller tensor is the original shuffle restricted to the kept channels).

A *class* is a set of coupled nodes (one keep/remove decision); a *group* is a set of classes
that came from the same producers (a conv's output channels, and everything added to them):
the pruning fraction applies per group.  Nodes are frozen (their class stays) where the
pruned model could not reproduce the original: the input and output channels, grouped convs
(1 < groups < in_channels: left out, not pruned), channel slices (ShuffleNet v2's split: the
slice bounds are computed from the tensor's size), channel-mixing ops (LocalResponseNorm,
GroupNorm, LayerNorm, softmax over channels), and inputs of a Conv/Linear where a removed
channel would not have been zero (after sigmoid-like ops with f(0) != 0, see `_ZERO_KEEPING`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from numcnn.analysis.summary import OpCall, Trace, _tensors, trace
from numcnn.nn.module import Module
from numcnn.nn.modules.conv import _ConvNd
from numcnn.nn.modules.linear import Linear
from numcnn.nn.modules.norm import _BatchNorm
from numcnn.tensor import Tensor

__all__ = ["ChannelGraph", "build_graph"]

# unary ops that keep each channel separate; value: does f(0) == 0 (None: depends on kwargs)
_UNARY: dict[str, bool | None] = {
    "ReLU": True, "LeakyReLU": True, "Hardswish": True, "ELU": True, "GELU": True,
    "Tanh": True, "SiLU": True, "Mish": True, "Dropout": True, "Clone": True, "Cast": True,
    "Neg": True, "Abs": True, "MaxPoolNd": True, "AvgPoolNd": True, "LPPoolNd": True,
    "AdaptiveAvgPoolNd": True, "AdaptiveMaxPoolNd": True, "Interpolate": True,
    "Sigmoid": False, "Hardsigmoid": False, "Softplus": False, "LogSigmoid": False,
    "Exp": False, "AlphaDropout": False,
    "Hardtanh": None, "Threshold": None, "PReLU": None,
}
_ZERO_KEEPING = {k for k, v in _UNARY.items() if v}
_BINARY = {"Add", "Sub", "Mul", "add_", "sub_", "mul_"}
_MIXING = {"LocalResponseNorm", "GroupNorm", "LayerNorm", "Softmax", "LogSoftmax"}


def _root(parent: list[int], a: int) -> int:
    """The root of a's tree in the union-find forest `parent`, halving the path on the way."""
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


@dataclass
class _Tensor:
    """What the graph knows about one traced tensor: the node id and the "a removed channel
    is exactly zero here" flag of every position of its channel axis."""

    ids: np.ndarray            # (C,) int64
    zero: np.ndarray           # (C,) bool


@dataclass
class Member:
    """A module whose parameters are sliced: Conv/Linear ("out" and "in" nodes) or BN."""

    name: str
    module: Module
    kind: str                          # "conv", "depthwise", "grouped", "linear", "bn"
    out: np.ndarray | None = None      # node ids of its output channels (conv, linear, bn)
    inp: np.ndarray | None = None      # node ids of its input channels (conv, linear)


@dataclass
class ChannelGraph:
    """Nodes (union-find), the members that read or write them, and the frozen nodes."""

    parent: list[int] = field(default_factory=list)
    source: list[int] = field(default_factory=list)     # node -> the source that made it
    src_parent: list[int] = field(default_factory=list)  # union-find of sources (groups)
    reasons: dict[int, set[str]] = field(default_factory=dict)   # frozen node -> why
    members: dict[str, Member] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)      # member names in call order

    # ----------------------------------------------------------------- union-find
    def new_nodes(self, n: int, frozen: str | None = None) -> np.ndarray:
        """n fresh nodes of one new source; frozen with the reason `frozen` if given."""
        src = len(self.src_parent)
        self.src_parent.append(src)
        start = len(self.parent)
        ids = np.arange(start, start + n, dtype=np.int64)
        self.parent.extend(ids.tolist())
        self.source.extend([src] * n)
        if frozen is not None:
            self.freeze(ids, frozen)
        return ids

    def find(self, a: int) -> int:
        return _root(self.parent, a)

    def _find_src(self, s: int) -> int:
        return _root(self.src_parent, s)

    def union(self, a: np.ndarray, b: np.ndarray) -> None:
        """Couple nodes a[i] and b[i] for every i."""
        for x, y in zip(a.tolist(), b.tolist()):
            rx, ry = self.find(x), self.find(y)
            if rx != ry:
                self.parent[ry] = rx
            sx, sy = self._find_src(self.source[x]), self._find_src(self.source[y])
            if sx != sy:
                self.src_parent[sy] = sx

    def freeze(self, ids: np.ndarray, reason: str) -> None:
        """Keep the classes of these nodes (whatever the criterion says)."""
        for i in ids.tolist():
            self.reasons.setdefault(i, set()).add(reason)

    # ----------------------------------------------------------------- results
    def classes(self) -> np.ndarray:
        """(nodes,) the class (union-find root) of every node."""
        return np.array([self.find(i) for i in range(len(self.parent))], dtype=np.int64)

    def groups(self) -> np.ndarray:
        """(nodes,) the group (root source) of every node."""
        return np.array([self._find_src(s) for s in self.source], dtype=np.int64)

    def frozen_classes(self) -> dict[int, set[str]]:
        """class -> the reasons it stays."""
        out: dict[int, set[str]] = {}
        for node, why in self.reasons.items():
            out.setdefault(self.find(node), set()).update(why)
        return out


# ----------------------------------------------------------------------------- building
class _Builder:
    """Walks the primitives of a trace in call order and fills a ChannelGraph."""

    def __init__(self, tr: Trace) -> None:
        self.tr = tr
        self.g = ChannelGraph()
        self.states: dict[int, _Tensor] = {}
        self.module_nodes: dict[int, np.ndarray] = {}     # id(module) -> its output nodes

    # a tensor's state, or None when it does not depend on the input (a constant)
    def state(self, t: Any) -> _Tensor | None:
        return self.states.get(id(t)) if isinstance(t, Tensor) else None

    def put(self, t: Tensor, ids: np.ndarray, zero: np.ndarray) -> None:
        self.states[id(t)] = _Tensor(ids, zero)

    def where(self, op: OpCall) -> str:
        owner = op.owner
        return f"{op.op} in {owner.name!r}" if owner is not None and owner.name else op.op

    def fail(self, op: OpCall, why: str) -> ValueError:
        return ValueError(f"prune_channels: unsupported {self.where(op)}: {why}")

    # ------------------------------------------------------------- dispatch
    def step(self, op: OpCall) -> None:
        ins = [self.state(a) for a in op.inputs]
        if all(s is None for s in ins):
            if op.op in ("ConvNd", "Linear", "BatchNorm"):
                raise self.fail(op, "its input does not depend on the example input")
            return
        name = op.op
        if name == "ConvNd":
            self.conv(op)
        elif name == "Linear":
            self.linear(op)
        elif name == "BatchNorm":
            self.batch_norm(op)
        elif name in _UNARY:
            self.unary(op)
        elif name in _BINARY:
            self.binary(op)
        elif name == "Cat":
            self.cat(op)
        elif name == "ChannelShuffle":
            self.shuffle(op)
        elif name == "Reshape":
            self.reshape(op)
        elif name == "Index":
            self.index(op)
        elif name == "Pad":
            self.pad(op)
        elif name in _MIXING:
            self.mixing(op)
        else:
            raise self.fail(op, "its effect on channels is not known (supported: conv, "
                            "linear, batch norm, activations, pooling, add/mul, cat, "
                            "channel shuffle, flatten, slicing, padding)")

    def only_input(self, op: OpCall) -> _Tensor:
        s = self.state(op.inputs[0])
        if s is None:
            raise self.fail(op, "its first input is a constant")
        return s

    # ------------------------------------------------------------- layers with weights
    def owner_module(self, op: OpCall, kind: type) -> tuple[str, Module]:
        owner = op.owner
        w = op.inputs[1] if len(op.inputs) > 1 else None
        if owner is None or not isinstance(owner.module, kind) or \
                w is not getattr(owner.module, "weight", None):
            raise self.fail(op, f"not the forward of a {kind.__name__.lstrip('_')} module "
                            "with its own weight")
        return owner.name, owner.module

    def out_nodes(self, name: str, module: Module, n: int) -> np.ndarray:
        if id(module) not in self.module_nodes:
            self.module_nodes[id(module)] = self.g.new_nodes(n)
        return self.module_nodes[id(module)]

    def member(self, name: str, module: Module, kind: str) -> Member:
        if name not in self.g.members:
            self.g.members[name] = Member(name, module, kind)
            self.g.order.append(name)
        return self.g.members[name]

    def read_input(self, m: Member, s: _Tensor, why_not_zero: str) -> None:
        """Record (and couple across calls) the input nodes of m; freeze positions where a
        removed channel would not be zero."""
        if m.inp is None:
            m.inp = s.ids
        else:
            self.g.union(m.inp, s.ids)
        self.g.freeze(s.ids[~s.zero], why_not_zero)

    def conv(self, op: OpCall) -> None:
        name, module = self.owner_module(op, _ConvNd)
        assert isinstance(module, _ConvNd)
        if module.transposed:
            raise self.fail(op, "transposed convolutions are not supported")
        s = self.only_input(op)
        x = op.inputs[0]
        if x.ndim != module.weight.ndim:
            raise self.fail(op, "unbatched input")
        cin, cout, groups = module.in_channels, module.out_channels, module.groups
        out = self.out_nodes(name, module, cout)
        kind = "conv" if groups == 1 else ("depthwise" if groups == cin else "grouped")
        m = self.member(name, module, kind)
        m.out = out
        self.read_input(m, s, f"input of {name!r} after an op with f(0) != 0")
        if kind == "depthwise":            # output j reads input j // multiplier
            self.g.union(out, s.ids[np.arange(cout) // (cout // cin)])
        elif kind == "grouped":
            why = f"grouped convolution {name!r} (groups={groups}) is left out"
            self.g.freeze(s.ids, why)
            self.g.freeze(out, why)
        self.put(op.output, out, np.ones(cout, dtype=bool))

    def linear(self, op: OpCall) -> None:
        name, module = self.owner_module(op, Linear)
        assert isinstance(module, Linear)
        s = self.only_input(op)
        if op.inputs[0].ndim != 2:
            raise self.fail(op, "only (N, in_features) inputs are supported")
        out = self.out_nodes(name, module, module.out_features)
        m = self.member(name, module, "linear")
        m.out = out
        self.read_input(m, s, f"input of {name!r} after an op with f(0) != 0")
        self.put(op.output, out, np.ones(len(out), dtype=bool))

    def batch_norm(self, op: OpCall) -> None:
        owner = op.owner
        if owner is None or not isinstance(owner.module, _BatchNorm):
            raise self.fail(op, "not the forward of a BatchNorm module")
        s = self.only_input(op)
        m = self.member(owner.name, owner.module, "bn")
        if m.out is None:
            m.out = s.ids
        else:
            self.g.union(m.out, s.ids)
        # with gamma = beta = 0 a removed channel is exactly 0 after an affine batch norm
        affine = owner.module.weight is not None and owner.module.bias is not None
        self.put(op.output, s.ids, np.full(len(s.ids), affine))

    # ------------------------------------------------------------- ops without weights
    def unary(self, op: OpCall) -> None:
        s = self.only_input(op)
        keeps = _UNARY[op.op]
        kw = op.kwargs
        if op.op == "Hardtanh":
            keeps = kw["min_val"] <= 0 <= kw["max_val"]
        elif op.op == "Threshold":
            keeps = kw["threshold"] < 0 or kw["value"] == 0
        elif op.op == "PReLU":
            w = op.inputs[1]
            keeps = True
            if np.size(w.array if isinstance(w, Tensor) else w) > 1:
                self.g.freeze(s.ids, f"per-channel PReLU in {self.where(op)}")
        zero = s.zero.copy() if keeps else np.zeros_like(s.zero)
        self.put(op.output, s.ids, zero)

    def mixing(self, op: OpCall) -> None:
        s = self.only_input(op)
        y = op.output
        if op.op in ("Softmax", "LogSoftmax") and kw_dim(op.kwargs.get("dim"), y.ndim) != 1:
            self.put(y, s.ids, np.zeros_like(s.zero))      # softmax of zeros is not zero
            return
        self.g.freeze(s.ids, f"{op.op} mixes channels ({self.where(op)})")
        self.put(y, s.ids, s.zero.copy())

    def binary(self, op: OpCall) -> None:
        y = op.output
        parts: list[_Tensor] = []
        other_nonzero = False            # an operand that is not 0 where a channel is removed
        for a in op.inputs[:2]:
            s = self.state(a)
            arr = a.array if isinstance(a, Tensor) else np.asarray(a)
            if s is None:
                if arr.ndim == y.ndim and y.ndim > 1 and arr.shape[1] != 1:
                    raise self.fail(op, "a constant operand with a channel axis")
                other_nonzero = other_nonzero or bool(np.any(arr))
                continue
            if arr.ndim != y.ndim:
                raise self.fail(op, "operands of different ranks")
            if len(s.ids) == 1 and y.shape[1] != 1:
                self.g.freeze(s.ids, f"broadcast over channels in {self.where(op)}")
                other_nonzero = True
                continue
            parts.append(s)
        if not parts:
            raise self.fail(op, "no operand has the output's channels")
        for other in parts[1:]:
            self.g.union(parts[0].ids, other.ids)
        if op.op.lower().startswith("mul"):      # 0 * anything = 0
            zero = np.logical_or.reduce([p.zero for p in parts])
        else:                                   # 0 + 0 = 0, 0 + c = c
            zero = np.logical_and.reduce([p.zero for p in parts]) & (not other_nonzero)
        self.put(y, parts[0].ids, zero)

    def cat(self, op: OpCall) -> None:
        y = op.output
        axis = op.kwargs["axis"] % y.ndim
        pieces = []
        for a in op.inputs:
            s = self.state(a)
            if s is None:
                arr = a.array if isinstance(a, Tensor) else np.asarray(a)
                n = arr.shape[1] if axis == 1 else y.shape[1]
                s = _Tensor(self.g.new_nodes(n, f"constant channels in {self.where(op)}"),
                            np.zeros(n, dtype=bool))
            pieces.append(s)
        if axis == 1:
            self.put(y, np.concatenate([p.ids for p in pieces]),
                     np.concatenate([p.zero for p in pieces]))
            return
        for p in pieces[1:]:                 # joined along another axis: same channels
            self.g.union(pieces[0].ids, p.ids)
        self.put(y, pieces[0].ids, np.logical_and.reduce([p.zero for p in pieces]))

    def shuffle(self, op: OpCall) -> None:
        s = self.only_input(op)
        G = int(op.kwargs["groups"])
        K = len(s.ids) // G
        blocks = s.ids.reshape(G, K)                    # (G, K): x[:, g*K + k]
        for g in range(1, G):                            # same offset k in every group
            self.g.union(blocks[0], blocks[g])
        # y[:, k*G + g] = x[:, g*K + k]
        self.put(op.output, blocks.T.reshape(-1), s.zero.reshape(G, K).T.reshape(-1))

    def reshape(self, op: OpCall) -> None:
        s = self.only_input(op)
        x, y = op.inputs[0], op.output
        spatial = math.prod(x.shape[2:])
        if y.ndim >= 2 and y.shape[:2] == x.shape[:2]:
            self.put(y, s.ids, s.zero)                   # only the spatial axes change
        elif y.ndim == 2 and y.shape == (x.shape[0], x.shape[1] * spatial):
            self.put(y, np.repeat(s.ids, spatial), np.repeat(s.zero, spatial))   # flatten
        else:
            raise self.fail(op, f"reshape {tuple(x.shape)} -> {tuple(y.shape)} moves the "
                            "channel axis")

    def index(self, op: OpCall) -> None:
        s = self.only_input(op)
        x = op.inputs[0]
        items = op.kwargs["index"]
        items = items if isinstance(items, tuple) else (items,)
        if any(i is None or not (i is Ellipsis or isinstance(i, slice))
               for i in items[:2]) or sum(i is Ellipsis for i in items) > 1:
            raise self.fail(op, "only slicing of the batch and channel axes is supported")
        if Ellipsis in items:
            k = items.index(Ellipsis)
            items = items[:k] + (slice(None),) * (x.ndim - len(items) + 1) + items[k + 1:]
        if any(i is None for i in items) or op.output.ndim < 2:
            raise self.fail(op, "indexing that moves the channel axis")
        ch = items[1] if len(items) > 1 else slice(None)
        kept = np.arange(len(s.ids))[ch]
        if len(kept) != len(s.ids):
            self.g.freeze(s.ids, f"channel slice in {self.where(op)} (its bounds come from "
                          "the tensor's size)")
        self.put(op.output, s.ids[kept], s.zero[kept])

    def pad(self, op: OpCall) -> None:
        s = self.only_input(op)
        x = op.inputs[0]
        pad = tuple(op.kwargs["pad"])
        axis_pairs = len(pad) // 2
        mode = op.kwargs.get("mode", "constant")
        value = op.kwargs.get("value", 0.0)
        zero = s.zero.copy() if mode != "constant" or not value else np.zeros_like(s.zero)
        k = x.ndim - 2                                  # pair index of the channel axis
        lo, hi = (int(pad[2 * k]), int(pad[2 * k + 1])) if axis_pairs > k else (0, 0)
        if axis_pairs > k + 1 and any(pad[2 * (k + 1):]):
            raise self.fail(op, "padding of the batch axis")
        if lo < 0 or hi < 0 or (mode != "constant" and (lo or hi)):
            raise self.fail(op, "cropping or non-constant padding of the channel axis")
        why = f"constant channels added by {self.where(op)}"
        ids = np.concatenate([self.g.new_nodes(lo, why), s.ids, self.g.new_nodes(hi, why)])
        pad_zero = mode == "constant" and not value      # the added channels are 0
        zero = np.concatenate([np.full(lo, pad_zero), zero, np.full(hi, pad_zero)])
        self.put(op.output, ids, zero)


def kw_dim(dim: Any, ndim: int) -> int | None:
    """A dim keyword normalised to [0, ndim), None when absent."""
    return None if dim is None else int(dim) % ndim


def build_graph(model: Module, example_input: Tensor,
                ignore: Sequence[Module] = ()) -> ChannelGraph:
    """Trace `model(example_input)` once in eval mode and build its channel graph.

    Raises:
        ValueError: an op whose effect on channels is not known, or a Conv/Linear/BatchNorm
            module the example input does not reach.
    """
    tr, _ = trace(model, example_input, mode="eval")
    b = _Builder(tr)
    x_ids = b.g.new_nodes(example_input.shape[1] if example_input.ndim > 1 else 1,
                          "input image channels")
    b.put(example_input, x_ids, np.zeros(len(x_ids), dtype=bool))
    for op in tr.ops:
        b.step(op)
    assert tr.root is not None
    for t in _tensors(tr.root.output):
        s = b.state(t)
        if s is not None:
            b.g.freeze(s.ids, "model output")
    ignored = {id(m) for m in ignore}
    for call in tr.calls:
        if id(call.module) in ignored:
            for t in _tensors(call.output):
                s = b.state(t)
                if s is not None:
                    b.g.freeze(s.ids, f"ignored module {call.name!r}")
    for m in b.g.members.values():
        if id(m.module) in ignored and m.out is not None:
            b.g.freeze(m.out, f"ignored module {m.name!r}")
    missed = [n for n, mod in model.named_modules()
              if isinstance(mod, (_ConvNd, Linear, _BatchNorm)) and n not in b.g.members]
    if missed:
        raise ValueError(f"prune_channels: module {missed[0]!r} does not run on the example "
                         "input in eval mode, so its channels cannot be followed (build the "
                         "model without it, e.g. aux_logits=False)")
    return b.g
