"""The inference fast path: an eval-mode chain of layers run as a few fused NumPy passes.

When a chain of modules (an `nn.Sequential`, or a zoo block's `fastpath.chain(x, *modules)`)
is called under `numcnn.no_grad()` / `numcnn.inference_mode()` with every module in eval mode,
nothing needs a graph or saved tensors, and the layers can be rewritten without changing what
they compute:

    conv -> BN               w' = w * a[o],  b' = b * a[o] + t[o]       (BN folded: one GEMM)
    linear -> BN1d           the same, per output feature
    BN1d -> linear           W' = W * a[None, :],  b' = b + W @ t       (no padding: exact)
    BN -> max pool, a > 0    max(a x + t) = a max(x) + t                (pool first, 4x less)
    ReLU, ReLU6, Hardtanh, LeakyReLU, BN after an activation: in place on the array the
    previous layer just made (nothing else holds it)
    Dropout, Identity        nothing

where a = gamma / sqrt(running_var + eps) and t = beta - running_mean * a (the eval-mode batch
norm is the affine map y = a x + t per channel).  The weights are folded on every call, so an
optimizer step or `load_state_dict` between two calls is always seen (folding costs one pass
over the weights, small next to the convolutions).  Everything runs channels-last, (N, H, W, C),
the layout numcnn's convolutions compute in, and the batch is cut into chunks of images small
enough that the activations between layers stay in the CPU's cache while the next layer reads
them (a chunk's work is the same per image, so results do not depend on the chunking).

What the fast path does not touch runs exactly as before: a module of another type (or a
subclass), any module with forward hooks or pre-hooks (visualisation, pruning masks, `summary`
and the ONNX exporter all use hooks), a module in training mode, and everything while grad
mode is on.  `enabled = False` (or `with fastpath.disabled():`) turns it off everywhere, e.g.
to step through the layers one by one.

Results agree with the layer-by-layer path to float32 rounding: folding reorders a few
multiplications (measured relative differences are around 1e-6 in float32, 1e-15 in float64).
"""

from __future__ import annotations

import contextlib
import math
import weakref
from collections.abc import Iterator
from typing import Any, Sequence

import numpy as np

from numcnn.autograd.grad_mode import is_grad_enabled
from numcnn.nn import module as _module
from numcnn.nn.functional._checks import ntuple
from numcnn.nn.functional.conv import conv_pads
from numcnn.nn.module import Module
from numcnn.nn.modules.activation import Hardtanh, LeakyReLU, ReLU, ReLU6
from numcnn.nn.modules.conv import Conv2d
from numcnn.nn.modules.dropout import Dropout, Dropout2d
from numcnn.nn.modules.linear import Identity, Linear
from numcnn.nn.modules.misc import Flatten
from numcnn.nn.modules.norm import BatchNorm1d, BatchNorm2d
from numcnn.nn.modules.pool import AdaptiveAvgPool2d, MaxPool2d
from numcnn.ops import conv as _conv
from numcnn.ops import winograd as _winograd
from numcnn.ops.pool import pool_output_size
from numcnn.tensor import Tensor

__all__ = ["enabled", "disabled", "active", "chain", "run_chain", "clear_cache"]

#: the switch: False runs every layer through its own module, one after another
enabled = True

#: a chunk of the batch holds about this many bytes of its largest activation
CHUNK_BYTES = 2 << 20

#: a chain's plan (its ops, weights folded) is kept for the next call when the arrays it
#: copied hold at most this many values; every call first checks it against the live
#: parameters and buffers (the same arrays, with the same values), so nothing stale is used.
#: The price is memory: a kept plan holds its folded weights and a copy of the originals to
#: compare with (about 2x the weights of the layers it covers; 0 keeps only the plans that
#: copied nothing, e.g. runs of activations and pooling)
CACHE_VALUES = 1 << 24
_MAX_PLANS = 64

#: 3x3 stride-1 convolutions with at least this many input and output channels, on images of
#: at least WINOGRAD_MIN_SIZE pixels a side, are computed by Winograd's F(2x2,3x3)
#: (`numcnn.ops.winograd`: 2.25x fewer multiplications, float32 error within 1e-6 of
#: sum |w||x|, as im2col's); a fixed rule, so results are the same on every run.  Measured
#: here on one core against im2col: 0.6-0.7x the time at 128-256 channels (resnet18's
#: layer2/layer3), no gain at 32-64 channels or on 7x7 images.  None: never.
WINOGRAD_MIN_CHANNELS: int | None = 128
WINOGRAD_MIN_SIZE = 8


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """`with fastpath.disabled():` runs every layer on its own (the reference path)."""
    global enabled
    before, enabled = enabled, False
    try:
        yield
    finally:
        enabled = before


# ----------------------------------------------------------------------------- ops
# An op maps an array to an array: (N, H, W, C) channels-last, or (N, F).  `owned` says the
# array was made by an earlier op of this chain, so an elementwise op may write over it.

class _Op:
    """`src` lists the parameters and buffers the op read, each with whether it uses a
    transformed copy (folded, transposed) rather than the live array."""

    src: list[tuple[Tensor, bool]] = []

    def accepts(self, shape: tuple[int, ...]) -> bool:
        """Whether the op is defined for an input of this shape (else the module runs, and
        raises its own error)."""
        return True

    def out_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return shape

    def macs(self, shape: tuple[int, ...]) -> int:
        """Multiply-adds on an input of this shape (what decides splitting over the cores)."""
        return 0

    def __call__(self, a: np.ndarray, owned: bool) -> np.ndarray:
        raise NotImplementedError


class _ConvOp(_Op):
    """y = xcorr(pad(x), w') + b' channels-last, with any batch norm after it folded in."""

    def __init__(self, conv: Any) -> None:
        w = conv.weight.array
        self.weight = w
        self.bias = None if conv.bias is None else conv.bias.array
        self.src = [(conv.weight, True)] + ([] if conv.bias is None else [(conv.bias, False)])
        self.K = w.shape[2:]
        self.stride = tuple(conv.stride)
        self.dilation = tuple(conv.dilation)
        self.groups = conv.groups
        self.pads = conv_pads(conv.padding, self.K, self.stride, self.dilation, "conv2d")
        self.wk: np.ndarray | None = None

    def fold(self, scale: np.ndarray, shift: np.ndarray, src: list[tuple[Tensor, bool]]) -> None:
        """Absorb y -> y * scale + shift (per output channel) into the weights."""
        w = self.weight * scale.reshape(-1, 1, 1, 1).astype(self.weight.dtype)
        b = shift if self.bias is None else self.bias * scale + shift
        self.weight, self.bias = w, b.astype(w.dtype)
        self.src = [(t, True) for t, _ in self.src] + src

    def prepare(self) -> None:
        self.wk = _conv._gemm_weight(self.weight, self.groups)

    def accepts(self, shape: tuple[int, ...]) -> bool:
        fits = all(n + lo + hi >= d * (k - 1) + 1 for n, (lo, hi), k, d
                   in zip(shape[1:3], self.pads, self.K, self.dilation))
        return shape[-1] == self.weight.shape[1] * self.groups and fits

    def macs(self, shape: tuple[int, ...]) -> int:
        return math.prod(self.out_shape(shape)) * math.prod(self.weight.shape[1:])

    def out_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        N, H, W, _ = shape
        So = [_conv.conv_output_size(s, k, st, p, d) for s, k, st, p, d
              in zip((H, W), self.K, self.stride, self.pads, self.dilation)]
        return (N, *So, self.weight.shape[0])

    def winograd(self, shape: tuple[int, ...]) -> bool:
        """The fixed rule for F(2x2,3x3) (`WINOGRAD_MIN_CHANNELS`)."""
        C, O = self.weight.shape[1], self.weight.shape[0]
        return (WINOGRAD_MIN_CHANNELS is not None and self.K == (3, 3) and self.groups == 1
                and self.stride == (1, 1) and self.dilation == (1, 1)
                and min(C, O) >= WINOGRAD_MIN_CHANNELS
                and min(shape[1:3]) >= WINOGRAD_MIN_SIZE)

    def __call__(self, a: np.ndarray, owned: bool) -> np.ndarray:
        assert self.wk is not None
        So = self.out_shape(a.shape)[1:3]
        xp = _conv.pad_crop(a, self.pads, axis=1, slot="fast_pad")
        if self.winograd(a.shape) and a.dtype in (np.float32, np.float64):
            y = np.empty((a.shape[0], *So, self.weight.shape[0]), dtype=a.dtype)
            _winograd.winograd_xcorr(xp, self.wk, So, y, self.bias, 2)
            return y
        return _conv._xcorr(xp, self.wk, self.K, self.stride, self.dilation, So, self.bias)


class _LinearOp(_Op):
    """y = x W'^T + b', with batch norms before and after it folded in."""

    def __init__(self, lin: Any) -> None:
        self.weight = lin.weight.array
        self.bias = None if lin.bias is None else lin.bias.array
        self.src = [(lin.weight, False)] + ([] if lin.bias is None else [(lin.bias, False)])

    def fold(self, scale: np.ndarray, shift: np.ndarray, src: list[tuple[Tensor, bool]]) -> None:
        self.weight = self.weight * scale[:, None].astype(self.weight.dtype)
        b = shift if self.bias is None else self.bias * scale + shift
        self.bias = b.astype(self.weight.dtype)
        self.src = [(t, True) for t, _ in self.src] + src

    def fold_input(self, prev: _AffineOp) -> None:
        """Absorb x -> x * scale + shift (per input feature), the batch norm before."""
        b = self.weight @ prev.shift.astype(self.weight.dtype)
        self.bias = b if self.bias is None else self.bias + b
        self.weight = self.weight * prev.scale[None, :].astype(self.weight.dtype)
        self.src = [(t, True) for t, _ in self.src] + prev.src

    def accepts(self, shape: tuple[int, ...]) -> bool:
        return shape[-1] == self.weight.shape[1]

    def macs(self, shape: tuple[int, ...]) -> int:
        return shape[0] * self.weight.size

    def out_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return (shape[0], self.weight.shape[0])

    def __call__(self, a: np.ndarray, owned: bool) -> np.ndarray:
        y = np.matmul(a, self.weight.T)
        if self.bias is not None:
            y += self.bias
        return y


class _AffineOp(_Op):
    """An eval-mode batch norm left standing: y = x * a + t per channel (the last axis)."""

    def __init__(self, scale: np.ndarray, shift: np.ndarray,
                 src: list[tuple[Tensor, bool]]) -> None:
        self.scale, self.shift, self.src = scale, shift, src

    def accepts(self, shape: tuple[int, ...]) -> bool:
        return shape[-1] == self.scale.shape[0]

    def __call__(self, a: np.ndarray, owned: bool) -> np.ndarray:
        out = a if owned else np.empty_like(a)
        np.multiply(a, self.scale, out=out)
        out += self.shift
        return out


class _ClampOp(_Op):
    """ReLU (lo 0), ReLU6 and Hardtanh (lo, hi), in place."""

    def __init__(self, lo: float, hi: float | None) -> None:
        self.lo, self.hi = lo, hi

    def __call__(self, a: np.ndarray, owned: bool) -> np.ndarray:
        out = a if owned else None
        if self.hi is None:
            return np.maximum(a, a.dtype.type(self.lo), out=out)
        return np.clip(a, a.dtype.type(self.lo), a.dtype.type(self.hi), out=out)


class _LeakyOp(_Op):
    """LeakyReLU with 0 <= slope <= 1: max(x, slope x)."""

    def __init__(self, slope: float) -> None:
        self.slope = slope

    def __call__(self, a: np.ndarray, owned: bool) -> np.ndarray:
        return np.maximum(a, a * a.dtype.type(self.slope), out=a if owned else None)


class _MaxPoolOp(_Op):
    """Max over each window: one np.maximum per kernel offset over strided views."""

    def __init__(self, m: Any) -> None:
        self.k = ntuple(m.kernel_size, 2, "kernel_size", "max_pool2d")
        self.s = ntuple(m.stride, 2, "stride", "max_pool2d")
        self.p = ntuple(m.padding, 2, "padding", "max_pool2d")
        self.ceil = bool(m.ceil_mode)

    def accepts(self, shape: tuple[int, ...]) -> bool:
        ok = all(2 * p <= k and s > 0 for k, s, p in zip(self.k, self.s, self.p))
        return ok and min(self.out_shape(shape)[1:3]) > 0

    def out_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        N, H, W, C = shape
        return (N, *(pool_output_size(n, k, s, p, 1, self.ceil)
                     for n, k, s, p in zip((H, W), self.k, self.s, self.p)), C)

    def __call__(self, a: np.ndarray, owned: bool) -> np.ndarray:
        N, Ho, Wo, C = self.out_shape(a.shape)
        (kh, kw), (sh, sw), (ph, pw) = self.k, self.s, self.p
        hi_h = max(0, (Ho - 1) * sh + kh - a.shape[1] - ph)
        hi_w = max(0, (Wo - 1) * sw + kw - a.shape[2] - pw)
        if ph or pw or hi_h or hi_w:
            xp = np.full((N, a.shape[1] + ph + hi_h, a.shape[2] + pw + hi_w, C), -np.inf,
                         dtype=a.dtype)
            xp[:, ph:ph + a.shape[1], pw:pw + a.shape[2]] = a
            a = xp
        out = np.empty((N, Ho, Wo, C), dtype=a.dtype)
        for i in range(kh):
            for j in range(kw):
                v = a[:, i:i + (Ho - 1) * sh + 1:sh, j:j + (Wo - 1) * sw + 1:sw]
                if i == 0 and j == 0:
                    np.copyto(out, v)
                else:
                    np.maximum(out, v, out=out)
        return out


class _GlobalAvgOp(_Op):
    """Adaptive average pooling to 1x1: the mean over H and W."""

    def out_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return (shape[0], 1, 1, shape[3])

    def __call__(self, a: np.ndarray, owned: bool) -> np.ndarray:
        N, H, W, C = a.shape
        return a.reshape(N, H * W, C).mean(axis=1).reshape(N, 1, 1, C)


class _FlattenOp(_Op):
    """(N, H, W, C) channels-last -> (N, C*H*W) in PyTorch's (C, H, W) order."""

    def out_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return (shape[0], math.prod(shape[1:]))

    def __call__(self, a: np.ndarray, owned: bool) -> np.ndarray:
        if a.ndim == 2:
            return a
        N = a.shape[0]
        if a.shape[1] * a.shape[2] == 1:
            return a.reshape(N, -1)
        return np.ascontiguousarray(np.moveaxis(a, -1, 1)).reshape(N, -1)


# ----------------------------------------------------------------------------- building


def _plain(m: Module) -> bool:
    """No hooks of any kind and in eval mode: the module may be fused."""
    return not (m.training or m._forward_hooks or m._forward_pre_hooks)


def _bn_affine(bn: Module, dtype: np.dtype
               ) -> tuple[np.ndarray, np.ndarray, list[tuple[Tensor, bool]]] | None:
    """(a, t, the tensors read) of an eval-mode batch norm with running statistics, else
    None."""
    if bn.running_mean is None or bn.running_var is None:
        return None
    src = [(bn.running_mean, True), (bn.running_var, True)]
    var, mean = bn.running_var.array, bn.running_mean.array
    scale = 1.0 / np.sqrt(var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight.array
        src.append((bn.weight, True))
    shift = -mean * scale
    if bn.bias is not None:
        shift = shift + bn.bias.array
        src.append((bn.bias, True))
    return scale.astype(dtype, copy=False), shift.astype(dtype, copy=False), src


def _flatten_modules(mods: Sequence[Module]) -> list[Module]:
    """Nested plain `Sequential`s spliced into one list (so folding crosses their edges)."""
    from numcnn.nn.containers import Sequential

    out: list[Module] = []
    for m in mods:
        if isinstance(m, Sequential) and type(m).forward is Sequential.forward and _plain(m):
            out.extend(_flatten_modules(list(m._modules.values())))
        else:
            out.append(m)
    return out


_PASS = (Dropout, Dropout2d, Identity)


def _convert(m: Module, prev: _Op | None, dtype: np.dtype, rank: int) -> _Op | None | bool:
    """The op for module m on a batch of `rank` dims: a new op, None (m is absorbed by the
    previous op or does nothing), or False (m cannot be fused: it runs as a module)."""
    t = type(m)
    if not _plain(m):
        return False
    if t in _PASS:
        return None
    if t is Conv2d:
        ok = rank == 4 and m.padding_mode == "zeros" and m.weight.array.dtype == dtype
        return _ConvOp(m) if ok else False
    if t is Linear:
        if rank != 2 or m.weight.array.dtype != dtype:
            return False
        return _LinearOp(m)
    if t in (BatchNorm2d, BatchNorm1d):
        aff = _bn_affine(m, dtype) if rank == (4 if t is BatchNorm2d else 2) else None
        if aff is None:
            return False
        if isinstance(prev, (_ConvOp, _LinearOp)):
            prev.fold(*aff)
            return None
        return _AffineOp(*aff)
    if t is ReLU:
        return _ClampOp(0.0, None)
    if t in (ReLU6, Hardtanh):
        return _ClampOp(m.min_val, m.max_val)
    if t is LeakyReLU and 0.0 <= m.negative_slope <= 1.0:
        return _LeakyOp(m.negative_slope)
    if t is MaxPool2d and rank == 4 and not m.return_indices \
            and ntuple(m.dilation, 2, "dilation", "max_pool2d") == (1, 1):
        return _MaxPoolOp(m)
    if t is AdaptiveAvgPool2d and rank == 4 and m.output_size in (1, (1, 1)):
        return _GlobalAvgOp()
    if t is Flatten and rank in (2, 4) and m.start_dim == 1 and m.end_dim == -1:
        return _FlattenOp()
    return False


def _build(mods: Sequence[Module], start: int, dtype: np.dtype, shape: tuple[int, ...]
           ) -> tuple[list[_Op], int]:
    """Ops for mods[start:stop] on an input of this (channels-last) shape, stopping at the
    first module that cannot be fused or whose input would not fit it."""
    ops: list[_Op] = []
    i = start
    while i < len(mods):
        prev = ops[-1] if ops else None
        if isinstance(mods[i], (BatchNorm1d, BatchNorm2d)) and mods[i].num_features != shape[-1]:
            break
        op = _convert(mods[i], prev, dtype, len(shape))
        if op is False or (isinstance(op, _Op) and not op.accepts(shape)):
            break
        i += 1
        if op is None:
            continue
        assert isinstance(op, _Op)
        shape = op.out_shape(shape)
        if isinstance(op, _LinearOp) and isinstance(prev, _AffineOp):
            op.fold_input(prev)                           # BN1d -> (dropout) -> linear
            ops.pop()
        elif isinstance(op, _MaxPoolOp) and isinstance(prev, _AffineOp) \
                and bool(np.all(prev.scale > 0)):
            ops.insert(len(ops) - 1, op)                  # max(a x + t) = a max(x) + t
            continue
        ops.append(op)
    for op in ops:
        if isinstance(op, _ConvOp):
            op.prepare()
    return ops, i


# ----------------------------------------------------------------------------- running


def _run_ops(ops: Sequence[_Op], a: np.ndarray, owned: bool) -> np.ndarray:
    for op in ops:
        a = op(a, owned)
        owned = True
    return a


def _run(ops: Sequence[_Op], a: np.ndarray) -> np.ndarray:
    """Run the ops: the image layers chunk by chunk, the classifier (after the flatten or
    global pooling, whose GEMMs want every row at once) on the whole batch."""
    k = next((i + 1 for i, op in enumerate(ops) if isinstance(op, (_FlattenOp, _GlobalAvgOp))),
             len(ops))
    y = _chunked(ops[:k], a) if k else a
    return _run_ops(ops[k:], y, k > 0)


def _chunked(ops: Sequence[_Op], a: np.ndarray) -> np.ndarray:
    """Run the ops over chunks of the batch into one output array; with enough work, each
    core takes a share of the images (`numcnn.ops.conv._split_batch`: BLAS at one thread
    meanwhile), so that the copies and elementwise passes run on every core too."""
    N = a.shape[0]
    shape = a.shape
    biggest, macs = math.prod(shape[1:]), 0
    for op in ops:
        macs += op.macs(shape)
        shape = op.out_shape(shape)
        biggest = max(biggest, math.prod(shape[1:]))
    nb = max(1, CHUNK_BYTES // max(1, biggest * a.itemsize))
    out = np.empty(shape, dtype=a.dtype)

    def part(lo: int, hi: int) -> None:
        for n0 in range(lo, hi, nb):
            n1 = min(hi, n0 + nb)
            out[n0:n1] = _run_ops(ops, a[n0:n1], False)

    if _conv._split_batch(part, N, macs) is None:
        part(0, N)
    return out


def _fusable(x: Any) -> bool:
    return type(x) is Tensor and x.array.dtype.kind == "f" and x.array.ndim in (2, 4)


def active(x: Any) -> bool:
    """Whether a chain called on x now may take the fast path (grad off, switch on)."""
    return enabled and not is_grad_enabled() and _fusable(x)


class _Plan:
    """The ops built for mods[start:stop], and what they were built from: the modules (weak
    references) and every parameter/buffer array they read, with a copy of each array the
    ops transformed (so that an in-place write, e.g. an optimizer step, is noticed)."""

    def __init__(self, mods: Sequence[Module], ops: list[_Op], stop: int,
                 sources: dict[int, Tensor], transformed: set[int]) -> None:
        self.refs = [weakref.ref(m) for m in mods]
        self.ops, self.stop = ops, stop
        self.guards = [(t, t.array, _snapshot(t.array) if k in transformed else None)
                       for k, t in sources.items()]

    def valid(self, mods: Sequence[Module]) -> bool:
        for ref, m in zip(self.refs, mods):
            if ref() is not m or not _plain(m):
                return False
        return all(t.array is a and (snap is None or _same(a, snap))
                   for t, a, snap in self.guards)


def _snapshot(a: np.ndarray) -> bytes | np.ndarray:
    """A copy to compare with later: bytes for small arrays (one memcmp, the least overhead),
    an array for large ones (np.array_equal reads them 6x faster than a bytes copy)."""
    return a.tobytes() if a.size < 4096 else a.copy()


def _same(a: np.ndarray, snap: bytes | np.ndarray) -> bool:
    """Whether a still holds the values of its snapshot (bit for bit, NaNs included)."""
    if isinstance(snap, bytes):
        return a.tobytes() == snap
    if a.shape != snap.shape or a.dtype != snap.dtype:
        return False
    if a.flags.c_contiguous:
        return bool(np.array_equal(a.view(np.uint8), snap.view(np.uint8)))
    return bool(np.array_equal(a, snap, equal_nan=True))


_PLANS: dict[tuple[Any, ...], _Plan] = {}


def clear_cache() -> None:
    """Drop every kept plan (they are checked on each use; this only frees their memory)."""
    _PLANS.clear()


def _plan(flat: Sequence[Module], start: int, a: np.ndarray) -> tuple[list[_Op], int]:
    """_build's result for flat[start:] on a, from the cache when still valid."""
    key = (tuple(map(id, flat[start:])), a.dtype, a.shape[1:], _module._ATTRIBUTE_WRITES[0])
    plan = _PLANS.get(key)
    if plan is not None and plan.valid(flat[start:plan.stop]):
        return plan.ops, plan.stop
    ops, stop = _build(flat, start, a.dtype, a.shape)
    sources: dict[int, Tensor] = {}            # every tensor the ops read, once
    transformed: set[int] = set()              # ... and those they read a copy of
    for op in ops:
        for t, tr in op.src:
            sources[id(t)] = t
            if tr:
                transformed.add(id(t))
    if 2 * sum(sources[k].array.size for k in transformed) <= CACHE_VALUES:
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.clear()
        _PLANS[key] = _Plan(flat[start:stop], ops, stop, sources, transformed)
    return ops, stop


def run_chain(mods: Sequence[Module], x: Tensor) -> Any:
    """Run `mods` one after another on x, through the fused ops where they apply.

    The caller has checked `active(x)`.  Returns what calling the modules in turn returns.
    """
    flat = _flatten_modules(mods)
    cur: Any = x
    i = 0
    while i < len(flat):
        if _fusable(cur):
            a = cur.array
            a = np.moveaxis(a, 1, -1) if a.ndim == 4 else a
            ops, j = _plan(flat, i, a)
            if j > i:
                if ops:
                    y = _run(ops, a)
                    cur = Tensor(np.moveaxis(y, -1, 1) if y.ndim == 4 else y)
                i = j
                continue
        cur = flat[i](cur)
        i += 1
    return cur


def chain(x: Tensor, *mods: Module) -> Tensor:
    """`mods[-1](...mods[1](mods[0](x)))`, fused where the fast path applies (zoo blocks use
    this for their convolution-BN-activation runs)."""
    if active(x):
        return run_chain(mods, x)
    for m in mods:
        x = m(x)
    return x
