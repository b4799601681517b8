"""Structured channel pruning: whole channels physically removed, through every dependency.

    small = numcnn.compress.prune_channels(model, x, amount=0.3)            # filter L1 norms
    small = numcnn.compress.prune_channels(model, x, 0.5, criterion="bn_scale")
    for g in numcnn.compress.channel_groups(model, x):
        print(g)                         # which layers share channels, and what stays

Removing output channel c of a convolution also removes input channel c of every layer that
reads it, and the channel c of everything coupled to it: the batch norm after it, the other
branches of a residual addition, the input and output channel c of a depthwise convolution,
the block of a concatenation it lands in, the matching `H*W` input features of a Linear after
Flatten.  These dependencies are found by tracing one forward pass of `example_input`
(`numcnn.compress._graph`, the idea of Torch-Pruning's DepGraph: Fang et al. 2023,
"DepGraph: Towards Any Structural Pruning"), so no model needs a hand-written pruning recipe.

Channels that are coupled form a *group*; `amount` of each group's prunable channels is
removed (rounded down).  Which ones:

- "l1" (Li et al. 2017, "Pruning Filters for Efficient ConvNets"): the channel's score is the
  L1 norm of its output filter, s_c = sum_{i,k} |W[c, i, k]|, summed over the coupled
  convolutions (and Linear rows) that write the channel; the smallest go.
- "bn_scale" (Liu et al. 2017, "Learning Efficient Convolutional Networks through Network
  Slimming"): s_c = |gamma_c| of the batch norm(s) that normalise the channel, summed.

The pruned model is exactly the original with the removed channels' weights set to zero (the
conv filter and its bias, batch norm's gamma AND beta, a Linear's row): in eval mode such a
channel is 0 wherever it is read, so removing it changes no output.  To keep that true,
channels stay where removal would not be exact or where the model's code fixes the width:
the input image and the model output, grouped convolutions (1 < groups < in_channels, e.g.
ResNeXt and ShuffleNet v1: *left out*, neither their input nor their output channels are
pruned; depthwise convolutions are pruned through), channel slices whose bounds the model
computes from the tensor (ShuffleNet v2's split), channel-mixing ops (local response norm,
group/layer norm), zero-padded channels (ResNet-20's option-A shortcut), and channels read
after an op with f(0) != 0 (sigmoid-like) unless a product with a pruned channel zeroes them
(squeeze-and-excitation gates).  `channel_groups` lists each group with those reasons.

A pruned model is marked METHOD = "channels" (`numcnn.compress.checkpoint`): it is saved as
its smaller state dict plus the new sizes of the resized modules, and rebuilt from a freshly
built model of the original architecture by `numcnn.compress.load`.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from numcnn.compress import checkpoint
from numcnn.compress._graph import ChannelGraph, build_graph
from numcnn.nn.module import Module
from numcnn.nn.modules.conv import _ConvNd
from numcnn.nn.modules.linear import Linear
from numcnn.nn.modules.norm import _BatchNorm
from numcnn.nn.parameter import Parameter
from numcnn.nn.utils._dtype import param_dtype
from numcnn.tensor import Tensor

__all__ = ["METHOD", "CRITERIA", "ChannelGroup", "ChannelPlan", "channel_groups",
           "channel_plan", "apply_channel_plan", "prune_channels", "to_checkpoint",
           "from_checkpoint"]

METHOD = "channels"
CRITERIA = ("l1", "bn_scale")
_SPEC = "_numcnn_channel_spec"        # attribute of a pruned model: name -> new sizes


@dataclass
class ChannelGroup:
    """Channels that are pruned together (one fraction `amount` applies to each group).

    Attributes:
        index: position of the group (in the order its first producer ran).
        channels: independent channels in the group (coupled channels count once).
        prunable: how many of them may be removed (the others stay, see `reasons`).
        producers: the Conv/Linear modules whose output channels are in the group.
        norms: the batch norms that normalise them.
        consumers: the Conv/Linear modules that read them (input channels or features).
        reasons: why some channels stay (empty when all are prunable).
    """

    index: int
    channels: int
    prunable: int
    producers: list[str] = field(default_factory=list)
    norms: list[str] = field(default_factory=list)
    consumers: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"group {self.index}: {self.channels} channels, {self.prunable} prunable",
                 f"  written by: {', '.join(self.producers) or '--'}",
                 f"  normalised by: {', '.join(self.norms) or '--'}",
                 f"  read by: {', '.join(self.consumers) or '--'}"]
        lines += [f"  kept: {r}" for r in self.reasons]
        return "\n".join(lines)


@dataclass
class ChannelPlan:
    """Which channels `prune_channels` keeps.

    Attributes:
        groups: the dependency groups (see `ChannelGroup`).
        removed: channels removed per group (same order as `groups`).
        keep_out: module name -> bool mask over its output channels (Conv/Linear outputs,
            BatchNorm features); True = kept.
        keep_in: module name -> bool mask over its input channels (Conv) or features (Linear).
        scores: module name -> the criterion's score of each of its output channels (for
            Conv/Linear/BatchNorm): the score summed over every member coupled to it.
    """

    groups: list[ChannelGroup]
    removed: list[int]
    keep_out: dict[str, np.ndarray]
    keep_in: dict[str, np.ndarray]
    scores: dict[str, np.ndarray]


# ----------------------------------------------------------------------------- checks
def _as_input(model: Module, example_input: Any) -> Tensor:
    """The input as a Tensor; an ndarray is cast to the model's floating-point dtype."""
    if isinstance(example_input, Tensor):
        return example_input
    if isinstance(example_input, np.ndarray):
        return Tensor(example_input.astype(param_dtype(model, example_input.dtype), copy=False))
    raise TypeError(f"example_input must be a Tensor or an np.ndarray, got "
                    f"{type(example_input).__name__}")


def _ignored(model: Module, ignore: Any) -> list[Module]:
    items = [ignore] if isinstance(ignore, (str, Module)) else list(ignore)
    named = dict(model.named_modules())
    inside = {id(m) for m in named.values()}
    out = []
    for item in items:
        if isinstance(item, str):
            if item not in named:
                raise ValueError(f"ignore: the model has no module named {item!r}")
            out.append(named[item])
        elif isinstance(item, Module):
            if id(item) not in inside:
                raise ValueError(f"ignore: {type(item).__name__} is not a module of the model")
            out.append(item)
        else:
            raise TypeError(f"ignore must hold module names or modules, got "
                            f"{type(item).__name__}")
    return out


def _check_model(model: Any) -> None:
    if not isinstance(model, Module):
        raise TypeError(f"model must be a numcnn.nn.Module, got {type(model).__name__}")


# ----------------------------------------------------------------------------- groups
def _graph(model: Module, example_input: Any, ignore: Any) -> ChannelGraph:
    _check_model(model)
    return build_graph(model, _as_input(model, example_input), _ignored(model, ignore))


def _group_table(g: ChannelGraph) -> tuple[list[ChannelGroup], list[np.ndarray],
                                           np.ndarray, set[int]]:
    """The groups in call order, each group's classes, the class of every node, and the
    frozen classes."""
    cls, grp = g.classes(), g.groups()
    frozen = g.frozen_classes()
    first: dict[int, int] = {}
    for name in g.order:
        m = g.members[name]
        if m.out is not None and m.kind != "bn":
            for gid in np.unique(grp[m.out]).tolist():
                first.setdefault(gid, len(first))
    groups: list[ChannelGroup] = []
    classes: list[np.ndarray] = []
    for gid, index in sorted(first.items(), key=lambda kv: kv[1]):
        members = np.unique(cls[grp == gid])
        stay = [c for c in members.tolist() if c in frozen]
        reasons = sorted({r for c in stay for r in frozen[c]})
        groups.append(ChannelGroup(index, len(members), len(members) - len(stay),
                                   reasons=reasons))
        classes.append(members)
    where = {gid: k for k, gid in enumerate(sorted(first, key=first.__getitem__))}
    for name in g.order:
        m = g.members[name]
        if m.out is not None:
            for gid in np.unique(grp[m.out]).tolist():
                if gid in where:
                    target = groups[where[gid]].norms if m.kind == "bn" else \
                        groups[where[gid]].producers
                    target.append(name)
        if m.inp is not None:
            for gid in np.unique(grp[m.inp]).tolist():
                if gid in where:
                    groups[where[gid]].consumers.append(name)
    return groups, classes, cls, set(frozen)


def channel_groups(model: Module, example_input: Tensor | np.ndarray,
                   ignore: Sequence[str | Module] | str | Module = ()) -> list[ChannelGroup]:
    """The channel dependency groups of `model`, found by tracing one forward pass.

    Args:
        model: the network (any branching structure of the ops `prune_channels` supports).
        example_input: one input batch, e.g. zeros of shape (1, C, H, W) (an ndarray is cast
            to the model's dtype); a small spatial size is enough where the model allows it.
        ignore: module names or modules whose output channels stay.

    Returns:
        One `ChannelGroup` per group, in the order the groups' first producers run; `str()`
        of a group lists its producers, batch norms, consumers and why channels stay.

    Raises:
        ValueError: an op the tracer does not know, or an unknown name in `ignore`.
    """
    return _group_table(_graph(model, example_input, ignore))[0]


# ----------------------------------------------------------------------------- the plan
def _scores(g: ChannelGraph, criterion: str, n_nodes: int, cls: np.ndarray) -> np.ndarray:
    """score[class] for every class root: the summed filter L1 norms ("l1") or |gamma|
    ("bn_scale") of the members that write or normalise it."""
    score = np.zeros(n_nodes, dtype=np.float64)
    for m in g.members.values():
        if m.out is None:
            continue
        if criterion == "l1" and m.kind != "bn":
            w = np.asarray(m.module.weight.array, dtype=np.float64)
            s = np.abs(w.reshape(w.shape[0], -1)).sum(axis=1)       # ||W[c]||_1
        elif criterion == "bn_scale" and m.kind == "bn" and m.module.weight is not None:
            s = np.abs(np.asarray(m.module.weight.array, dtype=np.float64))   # |gamma_c|
        else:
            continue
        score += np.bincount(cls[m.out], weights=s, minlength=n_nodes)
    return score


def _has_norm(g: ChannelGraph, cls: np.ndarray, classes: np.ndarray) -> bool:
    wanted = set(classes.tolist())
    return any(m.kind == "bn" and m.out is not None and m.module.weight is not None
               and wanted.intersection(cls[m.out].tolist()) for m in g.members.values())


def channel_plan(model: Module, example_input: Tensor | np.ndarray, amount: float,
                 criterion: str = "l1",
                 ignore: Sequence[str | Module] | str | Module = ()) -> ChannelPlan:
    """Choose the channels `prune_channels` removes, without changing the model.

    Per group, n = floor(amount * P) of its P prunable channels go: those with the smallest
    score (see the module docstring for "l1" and "bn_scale"; equal scores: the channel
    made first goes first).

    Args:
        model, example_input, amount, criterion, ignore: as for `prune_channels`.

    Returns:
        A `ChannelPlan` (groups, counts removed, keep masks per module, scores).

    Raises:
        ValueError: `amount` outside [0, 1), an unknown criterion, a group without a batch
            norm under "bn_scale", or an unsupported op.
    """
    if isinstance(amount, bool) or not isinstance(amount, (int, float, np.floating)):
        raise TypeError(f"amount must be a float in [0, 1), got {type(amount).__name__}")
    if not 0.0 <= float(amount) < 1.0:
        raise ValueError(f"amount must be in [0, 1), got {amount}")
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(CRITERIA)}, got {criterion!r}")
    g = _graph(model, example_input, ignore)
    groups, classes, cls, frozen = _group_table(g)
    n_nodes = len(cls)
    score = _scores(g, criterion, n_nodes, cls)
    keep = np.ones(n_nodes, dtype=bool)                   # indexed by class root
    removed = []
    for group, members in zip(groups, classes):
        prunable = np.array([c for c in members.tolist() if c not in frozen], dtype=np.int64)
        n = math.floor(float(amount) * len(prunable) + 1e-9)
        if n and criterion == "bn_scale" and not _has_norm(g, cls, members):
            raise ValueError(f"criterion 'bn_scale' needs a batch norm in every pruned group; "
                             f"the channels of {', '.join(group.producers)} have none (add "
                             "them to ignore, or use criterion='l1')")
        order = np.lexsort((prunable, score[prunable]))      # smallest score first
        keep[prunable[order[:n]]] = False
        removed.append(n)
    keep_node = keep[cls]
    keep_out = {n: keep_node[m.out] for n, m in g.members.items() if m.out is not None}
    keep_in = {n: keep_node[m.inp] for n, m in g.members.items() if m.inp is not None}
    scores = {n: score[cls[m.out]] for n, m in g.members.items() if m.out is not None}
    return ChannelPlan(groups, removed, keep_out, keep_in, scores)


# ----------------------------------------------------------------------------- resizing
def _param(old: Tensor, values: np.ndarray) -> Parameter:
    return Parameter(np.ascontiguousarray(values), requires_grad=old.requires_grad)


def _mask(plan_masks: dict[str, np.ndarray], name: str, size: int, what: str) -> np.ndarray:
    mask = plan_masks.get(name)
    if mask is None:
        return np.ones(size, dtype=bool)
    if mask.shape != (size,):
        raise ValueError(f"plan: the {what} mask of {name!r} has {mask.size} entries, the "
                         f"module has {size}")
    return mask


def _shrink_conv(m: _ConvNd, keep_out: np.ndarray, keep_in: np.ndarray) -> dict[str, int]:
    depthwise = m.groups > 1 and m.groups == m.in_channels
    w = m.weight.array[keep_out]                        # (C_out', C_in/G, *K)
    if depthwise:
        m.groups = int(keep_in.sum())
    elif m.groups == 1:
        w = w[:, keep_in]                               # (C_out', C_in', *K)
    elif not (keep_in.all() and keep_out.all()):
        raise ValueError(f"plan prunes a grouped convolution (groups={m.groups})")
    m.weight = _param(m.weight, w)
    if m.bias is not None:
        m.bias = _param(m.bias, m.bias.array[keep_out])
    m.in_channels, m.out_channels = int(keep_in.sum()), int(keep_out.sum())
    return {"in_channels": m.in_channels, "out_channels": m.out_channels, "groups": m.groups}


def _shrink_linear(m: Linear, keep_out: np.ndarray, keep_in: np.ndarray) -> dict[str, int]:
    m.weight = _param(m.weight, m.weight.array[keep_out][:, keep_in])
    if m.bias is not None:
        m.bias = _param(m.bias, m.bias.array[keep_out])
    m.in_features, m.out_features = int(keep_in.sum()), int(keep_out.sum())
    return {"in_features": m.in_features, "out_features": m.out_features}


def _shrink_norm(m: _BatchNorm, keep: np.ndarray) -> dict[str, int]:
    for name in ("weight", "bias"):
        p = getattr(m, name)
        if p is not None:
            setattr(m, name, _param(p, p.array[keep]))
    for name in ("running_mean", "running_var"):
        b = getattr(m, name)
        if b is not None:
            setattr(m, name, Tensor(np.ascontiguousarray(b.array[keep])))
    m.num_features = int(keep.sum())
    return {"num_features": m.num_features}


def apply_channel_plan(model: Module, plan: ChannelPlan) -> Module:
    """A copy of `model` (deepcopy; `model` is untouched) with the channels of `plan` removed:
    Conv/Linear/BatchNorm modules sliced and their sizes (in/out_channels, groups,
    in/out_features, num_features) updated; marked as a "channels"-compressed model."""
    _check_model(model)
    new = copy.deepcopy(model)
    spec: dict[str, dict[str, int]] = dict(getattr(model, _SPEC, {}))
    for name, m in new.named_modules():
        if isinstance(m, _ConvNd):
            ko = _mask(plan.keep_out, name, m.out_channels, "output")
            ki = _mask(plan.keep_in, name, m.in_channels, "input")
            if not (ko.all() and ki.all()):
                spec[name] = _shrink_conv(m, ko, ki)
        elif isinstance(m, Linear):
            ko = _mask(plan.keep_out, name, m.out_features, "output")
            ki = _mask(plan.keep_in, name, m.in_features, "input")
            if not (ko.all() and ki.all()):
                spec[name] = _shrink_linear(m, ko, ki)
        elif isinstance(m, _BatchNorm):
            k = _mask(plan.keep_out, name, m.num_features, "feature")
            if not k.all():
                spec[name] = _shrink_norm(m, k)
    object.__setattr__(new, _SPEC, spec)
    return checkpoint.mark(new, METHOD)


def prune_channels(model: Module, example_input: Tensor | np.ndarray, amount: float,
                   criterion: str = "l1",
                   ignore: Sequence[str | Module] | str | Module = ()) -> Module:
    """Remove `amount` of the channels of every prunable group: a smaller model, same API.

    Dependencies come from one traced forward pass (see the module docstring): a conv's
    output channels go together with its batch norm, the next layers' input channels,
    depthwise convs (pruned through: their groups shrink), residual additions (every member
    of an add group loses the same channels), concatenations (each concatenated block is
    pruned as its own producer's group, at its offset) and a Linear after Flatten or global
    pooling (the matching block of H*W input features). Grouped convs (1 < groups <
    in_channels) are left out: their input and output channels stay.

    Per group of P prunable channels, n = floor(amount * P) are removed, those with the
    smallest score: "l1", s_c = sum |W[c]| of the filters writing channel c (Li et al.
    2017), or "bn_scale", s_c = |gamma_c| of the batch norms on it (Liu et al. 2017).

    Args:
        model: the network; left untouched (the result is a pruned deepcopy).
        example_input: one input batch for the trace (zeros of the right shape will do);
            the trace runs in eval mode, so modules used only in training (auxiliary
            classifiers) must be absent.
        amount: fraction in [0, 1) of each group's prunable channels to remove.
        criterion: "l1" or "bn_scale".
        ignore: module names or modules whose output channels stay (the model's output and
            the input image's channels always stay).

    Returns:
        The pruned model: it runs and trains like the original, and in eval mode its output
        equals the original's with the removed channels' weights zeroed (filter, bias, BN
        gamma and beta).  Marked "channels" for `numcnn.compress.save`.

    Raises:
        ValueError: `amount` outside [0, 1), an unknown criterion, a group without a batch
            norm under "bn_scale", an unknown name in `ignore`, or an unsupported op
            (the message names the op and its module).
        TypeError: a model that is not a Module, or an input that is not an array.
    """
    plan = channel_plan(model, example_input, amount, criterion, ignore)
    return apply_channel_plan(model, plan)


# ----------------------------------------------------------------------------- checkpoints
def _sizes(m: Module) -> dict[str, int] | None:
    if isinstance(m, _ConvNd):
        return {"in_channels": m.in_channels, "out_channels": m.out_channels,
                "groups": m.groups}
    if isinstance(m, Linear):
        return {"in_features": m.in_features, "out_features": m.out_features}
    if isinstance(m, _BatchNorm):
        return {"num_features": m.num_features}
    return None


def to_checkpoint(model: Module) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The pruned model's (smaller) state dict, and {"modules": name -> new sizes} for the
    modules `prune_channels` resized (every Conv/Linear/BatchNorm for a model without that
    record)."""
    _check_model(model)
    spec = getattr(model, _SPEC, None)
    if spec is None:
        spec = {n: s for n, m in model.named_modules() if (s := _sizes(m)) is not None}
    tensors = {k: np.asarray(v.array) for k, v in model.state_dict().items()}
    return tensors, {"modules": {n: dict(s) for n, s in spec.items()}}


_KEYS = {"conv": ("in_channels", "out_channels", "groups"),
         "linear": ("in_features", "out_features"), "bn": ("num_features",)}


def _resize(name: str, m: Module, sizes: Any) -> None:
    """Give module m the sizes of the checkpoint (zero weights, to be loaded)."""
    kind = "conv" if isinstance(m, _ConvNd) else "linear" if isinstance(m, Linear) else \
        "bn" if isinstance(m, _BatchNorm) else None
    if kind is None or not isinstance(sizes, dict) or set(sizes) != set(_KEYS[kind]) or \
            not all(isinstance(v, int) and v > 0 for v in sizes.values()):
        raise checkpoint.CompressedCheckpointError(
            f"channels checkpoint: bad sizes {sizes!r} for module {name!r} "
            f"({type(m).__name__})")
    if isinstance(m, _ConvNd):
        cin, cout, groups = sizes["in_channels"], sizes["out_channels"], sizes["groups"]
        if cin % groups or cout % groups:
            raise checkpoint.CompressedCheckpointError(
                f"channels checkpoint: {name!r} channels not divisible by groups={groups}")
        shape = (cout, cin // groups, *m.weight.shape[2:])
        m.in_channels, m.out_channels, m.groups = cin, cout, groups
        m.weight = _param(m.weight, np.zeros(shape, dtype=m.weight.dtype))
        if m.bias is not None:
            m.bias = _param(m.bias, np.zeros(cout, dtype=m.bias.dtype))
    elif isinstance(m, Linear):
        fin, fout = sizes["in_features"], sizes["out_features"]
        m.weight = _param(m.weight, np.zeros((fout, fin), dtype=m.weight.dtype))
        if m.bias is not None:
            m.bias = _param(m.bias, np.zeros(fout, dtype=m.bias.dtype))
        m.in_features, m.out_features = fin, fout
    else:
        assert isinstance(m, _BatchNorm)
        n = sizes["num_features"]
        for attr in ("weight", "bias"):
            p = getattr(m, attr)
            if p is not None:
                setattr(m, attr, _param(p, np.zeros(n, dtype=p.dtype)))
        for attr in ("running_mean", "running_var"):
            b = getattr(m, attr)
            if b is not None:
                setattr(m, attr, Tensor(np.zeros(n, dtype=b.dtype)))
        m.num_features = n


def from_checkpoint(model: Module, tensors: dict[str, np.ndarray],
                    spec: dict[str, Any]) -> Module:
    """Resize the freshly built `model` to the sizes in `spec` and load `tensors` (strict);
    returns it, marked "channels"."""
    _check_model(model)
    modules = spec.get("modules") if isinstance(spec, dict) else None
    if not isinstance(modules, dict):
        raise checkpoint.CompressedCheckpointError(
            "channels checkpoint: the spec has no 'modules' table")
    named = dict(model.named_modules())
    for name, sizes in modules.items():
        if name not in named:
            raise checkpoint.CompressedCheckpointError(
                f"channels checkpoint: the model has no module named {name!r} (was it built "
                "with the same architecture?)")
        _resize(name, named[name], sizes)
    model.load_state_dict({k: Tensor(np.asarray(v)) for k, v in tensors.items()}, strict=True)
    object.__setattr__(model, _SPEC, {n: dict(s) for n, s in modules.items()})
    return checkpoint.mark(model, METHOD)
