"""Receptive fields: for every layer, which input pixels a unit can see.

Per spatial axis, three numbers describe the units of a feature map (seed 004's
pytorch-receptive-field table): the receptive field size r (input pixels one unit depends on),
the jump j (the distance in input pixels between neighbouring units: the effective stride) and
the start (the centre of the first unit's field; input pixel i spans [i, i+1], so the input
itself has r = 1, j = 1, start = 0.5).  A window of kernel k, stride s, padding p, dilation d
maps them as

    r_out = r_in + (k - 1) * d * j_in
    j_out = j_in * s
    start_out = start_in + ((k - 1) / 2 * d - p) * j_in

(seed 001: stacked stride-1 FxF convolutions give 1 + L(F - 1); stride-2 3x3 ones 2^(L+1) - 1).

How the graph is walked: `numcnn.analysis.summary.trace` records every primitive of one forward
on zeros with its inputs and output, so the fields follow the data through every path, also
through functional code (`out + identity`, `numcnn.cat`, slicing, padding).  Where paths meet
(an addition, a concatenation) the output takes the largest field, remembers which input it
came from (`path`) and also keeps the smallest (`min_size`).  Other primitives:

- transposed convolution: j_out = j_in / s, r_out = r_in + floor((k - 1) d / s) j_in (the input
  units one output reads), start_out = start_in + (p - (k - 1) d / 2) j_out;
- interpolation by a factor f = L_out / L_in: j_out = j_in / f, r grows by j_in for linear modes;
- adaptive pooling: the window of the largest adaptive bin, stride L_in / L_out;
- slicing with a step, and padding: shift the start and scale the jump;
- elementwise ops, normalisation, activations, channel shuffles: nothing changes;
- a primitive that mixes whole axes (flatten + linear, a mean over H and W): the axis collapses;
  the field becomes the union of the fields of all units, r = r_in + (L_in - 1) j_in, and the
  jump is no longer defined (None).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from numcnn import dtypes
from numcnn.analysis.summary import (
    ModuleCall,
    OpCall,
    _input_shape,
    _tensors,
    op_name,
    row_events,
    trace,
)
from numcnn.nn.module import Module
from numcnn.ops.pool import adaptive_windows
from numcnn.tensor import Tensor

__all__ = ["receptive_field", "ReceptiveField", "RFRow", "AxisRF"]


@dataclass(frozen=True)
class AxisRF:
    """The receptive field of a feature map's units along one spatial axis.

    Attributes:
        size: r, in input pixels, along the path with the largest field.
        jump: j, the input-pixel distance between neighbouring units (None once the axis has
            been collapsed by a flatten or a global reduction).
        start: the centre of the first unit's field (input pixel i spans [i, i + 1]).
        min_size: the smallest r over all paths (equals `size` in a chain of layers).
    """

    size: float
    jump: float | None
    start: float
    min_size: float

    def window(self, k: float, s: float, p: float, d: float = 1.0) -> AxisRF:
        """After a window of kernel k, stride s, padding p, dilation d."""
        j = self.jump if self.jump is not None else 0.0
        grow = (k - 1) * d * j
        return AxisRF(self.size + grow, j * s, self.start + ((k - 1) / 2 * d - p) * j,
                      self.min_size + grow)

    def collapsed(self, length: int) -> AxisRF:
        """The union of the fields of `length` units: every unit's input mixed together."""
        if self.jump is None:
            return self
        spread = (length - 1) * self.jump
        return AxisRF(self.size + spread, None, self.start + spread / 2, self.min_size + spread)


@dataclass(eq=False)
class _State:
    """The field of one tensor: per spatial axis, plus the spatial shape (None if collapsed)
    and where it came from along the largest path."""

    axes: tuple[AxisRF, ...]
    spatial: tuple[int, ...] | None
    label: str
    kind: str
    parent: _State | None
    via: str | None = None          # where paths met: the label of the input that won

    def collapse(self, label: str, kind: str) -> _State:
        if self.spatial is None:
            return _State(self.axes, None, label, kind, self)
        axes = tuple(a.collapsed(n) for a, n in zip(self.axes, self.spatial))
        return _State(axes, None, label, kind, self)


@dataclass
class RFRow:
    """One row: a module call or a functional primitive, and the field of its output.

    `axes` is None when the output does not depend on the input (a constant branch).
    `via` names the input the largest field came from where paths meet.
    """

    name: str
    depth: int
    kind: str
    output_shape: tuple[int, ...] | None
    axes: tuple[AxisRF, ...] | None
    via: str | None = None

    @property
    def size(self) -> tuple[float, ...] | None:
        """r per spatial axis."""
        return None if self.axes is None else tuple(a.size for a in self.axes)

    @property
    def jump(self) -> tuple[float | None, ...] | None:
        """j per spatial axis."""
        return None if self.axes is None else tuple(a.jump for a in self.axes)

    @property
    def start(self) -> tuple[float, ...] | None:
        """start per spatial axis."""
        return None if self.axes is None else tuple(a.start for a in self.axes)


def _fmt(values: Sequence[Any]) -> str:
    text = ["-" if v is None else (f"{v:g}" if isinstance(v, float) else str(v)) for v in values]
    return text[0] if len(set(text)) == 1 else " x ".join(text)


class ReceptiveField:
    """Result of `receptive_field`: `rows` (in call order) and helpers to read them."""

    def __init__(self, model: Module, input_shape: tuple[int, ...], rows: list[RFRow],
                 paths: dict[str, list[str]]) -> None:
        self.model_name = type(model).__name__
        self.input_shape = input_shape
        self.rows = rows
        self._paths = paths

    @property
    def spatial(self) -> tuple[int, ...]:
        """The input's spatial size (H, W)."""
        return self.input_shape[2:]

    def row(self, name: str) -> RFRow:
        """The last row named `name` (a module's dotted name, or a functional row's name)."""
        for r in reversed(self.rows):
            if r.name == name:
                return r
        raise KeyError(f"no row named {name!r}")

    def spatial_rows(self) -> list[RFRow]:
        """Rows whose output is still a feature map (every axis has a jump)."""
        return [r for r in self.rows if r.axes is not None
                and all(a.jump is not None for a in r.axes)]

    def largest(self) -> RFRow:
        """The feature-map row with the largest field (by its area), the last one on ties;
        maps of a single unit (global pooling) are passed over when there are others."""
        rows = self.spatial_rows()
        if not rows:
            raise ValueError("no layer keeps a spatial output")
        maps = [r for r in rows if math.prod((r.output_shape or ())[-len(self.spatial):]) > 1]
        rows = maps or rows
        best = max(math.prod(r.size or ()) for r in rows)
        return [r for r in rows if math.prod(r.size or ()) == best][-1]

    def path(self, name: str) -> list[str]:
        """The layers that change the field along the largest path to row `name`, input first."""
        self.row(name)
        return list(self._paths.get(name, []))

    def unit_window(self, name: str, position: Sequence[int]) -> list[tuple[float, float]]:
        """The input region (lo, hi) per axis, clipped to the image, that the unit at
        `position` of row `name` sees (pytorch-receptive-field's receptive_field_for_unit)."""
        r = self.row(name)
        if r.axes is None or any(a.jump is None for a in r.axes):
            raise ValueError(f"row {name!r} has no spatial units")
        if len(position) != len(r.axes):
            raise ValueError(f"position needs {len(r.axes)} coordinates, got {tuple(position)}")
        out = []
        for a, i, n in zip(r.axes, position, self.spatial):
            assert a.jump is not None
            centre = a.start + i * a.jump
            out.append((max(0.0, centre - a.size / 2), min(float(n), centre + a.size / 2)))
        return out

    def __str__(self) -> str:
        return self.table()

    def table(self, depth: int | None = None, changes_only: bool = True) -> str:
        """The rows as a text table.

        Args:
            depth: show rows nested at most this deep (None: all).
            changes_only: leave out leaf rows that repeat the field of the row before them
                (batch norm, activations, dropout), and rows independent of the input.
        """
        head = ("Layer (type)", "Output Shape", "r", "jump", "start", "r min", "via")
        body = []
        previous: tuple[AxisRF, ...] | None = None
        parents = {o.name.rsplit(".", 1)[0] if "." in o.name else "" for o in self.rows if o.name}
        try:
            big: RFRow | None = self.largest()      # named below the table: always shown
        except ValueError:
            big = None
        for r in self.rows:
            if r.axes is None or (depth is not None and r.depth > depth):
                continue
            if changes_only and r.name not in parents and r.axes == previous \
                    and r.via is None and r is not big:
                continue
            previous = r.axes
            label = r.name.rsplit(".", 1)[-1] if r.name else ""
            title = f"{label} ({r.kind})" if label and label != r.kind else r.kind
            mins = tuple(a.min_size for a in r.axes)
            body.append(("  " * r.depth + title, str(list(r.output_shape or ())),
                         _fmt(r.size or ()), _fmt(r.jump or ()), _fmt(r.start or ()),
                         "" if mins == r.size else _fmt(mins), r.via or ""))
        widths = [max(len(row[k]) for row in [head, *body]) for k in range(len(head))]

        def line(cells: Sequence[str]) -> str:
            return "  ".join(c.ljust(w) if k in (0, 6) else c.rjust(w)
                             for k, (c, w) in enumerate(zip(cells, widths))).rstrip()
        rule = "=" * len(line(head))
        out = [f"Receptive fields of {self.model_name} on input {list(self.input_shape)} "
               "(per axis H x W, one value when equal; pixel i spans [i, i+1])",
               rule, line(head), rule, *(line(b) for b in body), rule]
        if big is not None:
            out.append(f"Largest field of a feature map: r = {_fmt(big.size or ())} at "
                       f"{big.name or big.kind} (jump {_fmt(big.jump or ())})")
            path = self.path(big.name)
            if len(path) > 12:
                path = [*path[:5], f"... ({len(path) - 10} more) ...", *path[-5:]]
            out.append("  along: " + " -> ".join(path))
        out.append("'-' jump: the axis was collapsed (flatten/global pooling); r is then the "
                   "union of all units' fields. 'r min': smallest field over the paths.")
        return "\n".join(out)

    def __repr__(self) -> str:
        return f"ReceptiveField({self.model_name}, input={list(self.input_shape)})"


# ----------------------------------------------------------------------------- propagation
def _pad_lo(pad: Sequence[int], nd: int, axis: int) -> int:
    """The low padding of spatial axis `axis` (of nd) in torch's last-axis-first pad tuple."""
    k = nd - 1 - axis
    return int(pad[2 * k]) if 2 * k < len(pad) else 0


def _index_steps(index: Any, ndim: int, nd: int) -> list[tuple[int, int]] | None:
    """(offset, step) per spatial axis for basic slicing, None for anything else."""
    items = index if isinstance(index, tuple) else (index,)
    if any(i is None or isinstance(i, (int, np.integer)) or
           not (i is Ellipsis or isinstance(i, slice)) for i in items):
        return None
    if Ellipsis in items:
        k = items.index(Ellipsis)
        items = items[:k] + (slice(None),) * (ndim - len(items) + 1) + items[k + 1:]
    items = items + (slice(None),) * (ndim - len(items))
    return [(sl.start or 0, sl.step or 1) for sl in items[ndim - nd:]]


def _geometry(op: OpCall, st: _State, out_spatial: tuple[int, ...]) -> tuple[AxisRF, ...] | None:
    """The field after a spatial primitive, or None if `op` is not one."""
    name, kw, nd = op.op, op.kwargs, len(st.axes)
    axes = st.axes
    if name == "ConvNd":
        K = np.asarray(op.inputs[1].array if isinstance(op.inputs[1], Tensor)
                       else op.inputs[1]).shape[2:]
        return tuple(a.window(K[i], kw["stride"][i], kw["padding"][i][0], kw["dilation"][i])
                     for i, a in enumerate(axes))
    if name == "MaxPoolNd":
        return tuple(a.window(kw["kernel_size"][i], kw["stride"][i], kw["padding"][i],
                              kw["dilation"][i]) for i, a in enumerate(axes))
    if name in ("AvgPoolNd", "LPPoolNd"):
        pads = kw.get("padding", (0,) * nd)
        return tuple(a.window(kw["kernel_size"][i], kw["stride"][i], pads[i])
                     for i, a in enumerate(axes))
    if name in ("AdaptiveAvgPoolNd", "AdaptiveMaxPoolNd"):
        assert st.spatial is not None
        out = []
        for a, L, o in zip(axes, st.spatial, kw["out_size"]):
            lo, hi = adaptive_windows(L, o)
            k = int(np.max(hi - lo))
            moved = a.window(k, L / o, 0)
            # the first bin is [0, hi[0]): its centre sits (hi[0] - 1) / 2 units in
            out.append(AxisRF(moved.size, moved.jump,
                              a.start + (hi[0] - 1) / 2 * (a.jump or 0.0), moved.min_size))
        return tuple(out)
    if name == "ConvTransposeNd":
        K = np.asarray(op.inputs[1].array).shape[2:]
        out = []
        for i, a in enumerate(axes):
            s, p, d, j = kw["stride"][i], kw["padding"][i], kw["dilation"][i], a.jump or 0.0
            grow = ((K[i] - 1) * d // s) * j
            jo = j / s
            out.append(AxisRF(a.size + grow, jo, a.start + (p - (K[i] - 1) * d / 2) * jo,
                              a.min_size + grow))
        return tuple(out)
    if name == "Interpolate":
        assert st.spatial is not None
        linear = kw["mode"] in ("linear", "bilinear", "trilinear")
        out = []
        for a, n_in, n_out in zip(axes, st.spatial, out_spatial):
            j = a.jump or 0.0
            if kw.get("align_corners") and n_out > 1:
                jo, start = j * (n_in - 1) / (n_out - 1), a.start
            else:
                jo, start = j * n_in / n_out, a.start + (0.5 * n_in / n_out - 0.5) * j
            grow = j if linear and n_in > 1 else 0.0
            out.append(AxisRF(a.size + grow, jo, start, a.min_size + grow))
        return tuple(out)
    if name == "Pad":
        return tuple(AxisRF(a.size, a.jump, a.start - _pad_lo(kw["pad"], nd, i) * (a.jump or 0),
                            a.min_size) for i, a in enumerate(axes))
    if name == "Index":
        steps = _index_steps(kw["index"], np.ndim(op.inputs[0].array), nd)
        if steps is None:
            return None
        assert st.spatial is not None
        out = []
        for a, (off, step), L in zip(axes, steps, st.spatial):
            j = a.jump or 0.0
            off = off + L if off < 0 else off
            out.append(AxisRF(a.size, j * step, a.start + off * j, a.min_size))
        return tuple(out)
    return None


_SPATIAL_OPS = {"ConvNd", "MaxPoolNd", "AvgPoolNd", "LPPoolNd", "AdaptiveAvgPoolNd",
                "AdaptiveMaxPoolNd", "ConvTransposeNd", "Interpolate", "Pad", "Index"}


def _step(op: OpCall, states: dict[int, _State], label: str) -> _State | None:
    """The state of op's output from the states of its inputs (None: no input dependence)."""
    ins = [states[id(a)] for a in op.inputs if isinstance(a, Tensor) and id(a) in states]
    if not ins:
        return None
    first = ins[0]
    nd = len(first.axes)
    y = op.output
    out_spatial = tuple(y.shape[y.ndim - nd:]) if y.ndim >= nd + 1 else None
    kind = op.op.removesuffix("Nd")
    if first.spatial is not None and op.op in _SPATIAL_OPS and out_spatial is not None:
        axes = _geometry(op, first, out_spatial)
        if axes is not None:
            return _State(axes, out_spatial, label, kind, first)
    spatial_ins = [s for s in ins if s.spatial is not None and s.spatial == out_spatial]
    if not spatial_ins:
        # the spatial structure is gone (flatten, linear, global mean) or never changed shape
        widest = max(ins, key=lambda s: math.prod(a.size for a in s.axes))
        if widest.spatial is None:
            return _State(widest.axes, None, widest.label, widest.kind, widest.parent)
        return widest.collapse(label, kind)
    if len(ins) == 1:
        return first          # elementwise on one input: the field passes through unchanged
    # paths meet: the largest field per axis, jump and start from a full-size input
    widest = max(ins, key=lambda s: math.prod(a.size for a in s.axes))
    ref = max(spatial_ins, key=lambda s: math.prod(a.size for a in s.axes))
    axes = tuple(AxisRF(max(s.axes[i].size for s in ins), ref.axes[i].jump, ref.axes[i].start,
                        min(s.axes[i].min_size for s in ins)) for i in range(nd))
    return _State(axes, out_spatial, label, kind, widest, via=widest.label)


def _path(st: _State | None) -> list[str]:
    labels: list[str] = []
    while st is not None:
        if st.parent is not None and (not labels or labels[-1] != st.label):
            labels.append(st.label)
        st = st.parent
    return labels[::-1]


def receptive_field(model: Module, input_size: Sequence[int], batch_size: int = 1,
                    dtype: Any = None) -> ReceptiveField:
    """Compute every layer's receptive field by tracing one forward pass on zeros (eval mode).

    Args:
        model: the network (any branching structure).
        input_size: (C, H, W) (or (C, L), (C, D, H, W) with a batch given), to which a batch
            axis is prepended unless it has 4 or more axes; spatial axes are all after C.
        batch_size: images per batch (1 is enough).
        dtype: input dtype (default float32).

    Returns:
        A `ReceptiveField`: per-layer rows (size r, jump j, start per spatial axis), the
        largest field and its path; `str()` is a table.

    Shape:
        input zeros (batch_size, C, *S); the fields are given in pixels of S.
    """
    shape = _input_shape(input_size, batch_size)
    if len(shape) < 3:
        raise ValueError(f"receptive_field needs an input with spatial axes (N, C, *S), got "
                         f"shape {shape}")
    dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    x = Tensor(np.zeros(shape, dtype=dt))
    tr, _ = trace(model, x, mode="eval")
    nd = len(shape) - 2
    start = AxisRF(1.0, 1.0, 0.5, 1.0)
    states: dict[int, _State] = {id(x): _State((start,) * nd, shape[2:], "input", "input",
                                               None)}
    events: list[tuple[int, Any]] = [(o.seq, o) for o in tr.ops]
    events += [(c.end, c) for c in tr.calls]
    events.sort(key=lambda e: e[0])
    snapshot: dict[int, _State | None] = {}          # module call / op -> state of its output
    for _, ev in events:
        if isinstance(ev, OpCall):
            st = _step(ev, states, op_name(ev))
            if st is not None:
                states[id(ev.output)] = st
            snapshot[id(ev)] = st
        else:
            outs = _tensors(ev.output)
            snapshot[id(ev)] = states.get(id(outs[0])) if outs else None
    rows: list[RFRow] = []
    paths: dict[str, list[str]] = {}
    for ev in row_events(tr):
        st = snapshot.get(id(ev))
        if isinstance(ev, ModuleCall):
            outs = _tensors(ev.output)
            name, depth, kind = ev.name, ev.depth, type(ev.module).__name__
            out_shape = tuple(outs[0].shape) if outs else None
        else:
            assert ev.owner is not None
            name, depth, kind = op_name(ev), ev.owner.depth + 1, ev.op.removesuffix("Nd").lower()
            out_shape = tuple(ev.output.shape)
            if st is None or (st.label != name):
                continue      # a functional view/reshape that changed nothing
        via = st.via if st is not None and st.label == name else None
        rows.append(RFRow(name, depth, kind, out_shape, None if st is None else st.axes, via))
        paths[name] = _path(st)
    return ReceptiveField(model, shape, rows, paths)
