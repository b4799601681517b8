"""Padding: constant, reflect, replicate and circular, each one `Function` with its backward.

Axis legend: x (*lead, *S) with the padded axes last.  `pad` is PyTorch's flat tuple, last axis
first: (W_lo, W_hi[, H_lo, H_hi[, D_lo, D_hi]]).  A negative entry crops instead of padding.

Along one axis of size n, output position j reads input coordinate t = j - lo, t in [-lo, n + hi):

    constant   y[j] = x[t] if 0 <= t < n else value
    reflect    y[j] = x[r(t)],  r(t) = -t for t < 0,  2(n-1) - t for t >= n   (edge not repeated)
    replicate  y[j] = x[clip(t, 0, n-1)]
    circular   PyTorch crops the negative entries first, then wraps around what is left:
               y[j] = x[c0 + (j - pl) mod nc]  (c0, nc: start and size of the cropped range,
               pl = max(lo, 0))

Every non-constant mode is thus a gather y = x[idx] along each axis, and its backward is the
adjoint, a scatter-add gx[idx[j]] += gy[j].  `idx` is piecewise linear with slope +1, -1 or 0,
so the scatter is a handful of slice-adds (`_scatter_runs`), never np.add.at.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from numcnn.autograd.function import Context, Function
from numcnn.autograd.linear_map import linear_map

__all__ = ["Pad", "pad_index", "pad_pairs"]


def pad_pairs(pad: Sequence[int]) -> list[tuple[int, int]]:
    """PyTorch's flat pad tuple -> (lo, hi) per padded axis, first padded axis first."""
    pairs = [(int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(len(pad) // 2)]
    return pairs[::-1]


def pad_index(n: int, lo: int, hi: int, mode: str) -> np.ndarray:
    """Input index read by every output position along one axis (see the module docstring)."""
    size = n + lo + hi
    if size <= 0:
        return np.zeros(0, dtype=np.intp)
    if mode == "circular":
        c0 = max(-lo, 0)
        nc = n - c0 - max(-hi, 0)
        return c0 + (np.arange(size) - max(lo, 0)) % nc
    t = np.arange(size) - lo
    if mode == "reflect":
        t = np.where(t < 0, -t, t)
        return np.where(t >= n, 2 * (n - 1) - t, t)
    return np.clip(t, 0, n - 1)                                  # replicate


def _scatter_runs(gy: np.ndarray, idx: np.ndarray, n: int, axis: int) -> np.ndarray:
    """The adjoint of np.take(x, idx, axis): gx[..., idx[j], ...] += gy[..., j, ...].

    idx is split into maximal runs of slope +1, -1 or 0; each run is one slice-add (a slope-0
    run, a replicated edge, is summed first).
    """
    shape = list(gy.shape)
    shape[axis] = n
    gx = np.zeros(shape, dtype=gy.dtype)
    lead = (slice(None),) * axis
    j, m = 0, len(idx)
    while j < m:
        step = int(idx[j + 1] - idx[j]) if j + 1 < m else 1
        if step not in (-1, 0, 1):
            step = 1
        e = j + 1
        while e < m and idx[e] - idx[e - 1] == step:
            e += 1
        i0 = int(idx[j])
        src = gy[lead + (slice(j, e),)]
        if step == 1:
            gx[lead + (slice(i0, i0 + e - j),)] += src
        elif step == -1:
            gx[lead + (slice(i0 - (e - j) + 1, i0 + 1),)] += np.flip(src, axis)
        else:
            gx[lead + (slice(i0, i0 + 1),)] += src.sum(axis=axis, keepdims=True)
        j = e
    return gx


class Pad(Function):
    """Pad (or crop) the last len(pad)//2 axes.

    constant: y = value outside x, x inside;   dx = gy cropped back to x (the inside).
    reflect / replicate / circular: y = x[idx] per axis;   dx = scatter-add of gy by idx.

    Shape:
        x (*lead, *S) -> y (*lead, *[S_i + lo_i + hi_i])
    """

    @staticmethod
    def forward(ctx: Context, x, *, pad, mode="constant", value=0.0):
        pairs = pad_pairs(pad)
        first = x.ndim - len(pairs)
        ctx.cfg = (x.shape, pairs, first, mode)
        if mode == "constant":
            shape = list(x.shape)
            src = [slice(None)] * x.ndim
            dst = [slice(None)] * x.ndim
            for i, (lo, hi) in enumerate(pairs):
                ax, n = first + i, x.shape[first + i]
                shape[ax] = n + lo + hi
                start, stop = max(-lo, 0), max(n - max(-hi, 0), max(-lo, 0))
                src[ax] = slice(start, stop)
                dst[ax] = slice(max(lo, 0), max(lo, 0) + stop - start)
            y = np.full(shape, value, dtype=x.dtype)
            y[tuple(dst)] = x[tuple(src)]
            ctx.slices = (tuple(src), tuple(dst))
            return y
        y = x
        for i, (lo, hi) in enumerate(pairs):
            y = np.take(y, pad_index(x.shape[first + i], lo, hi, mode), axis=first + i)
        return y

    @staticmethod
    def backward(ctx: Context, gy):
        shape, pairs, first, mode = ctx.cfg
        if mode == "constant":
            src, dst = ctx.slices
            gx = np.zeros(shape, dtype=gy.dtype)
            gx[src] = gy[dst]
            return (gx,)
        g = gy
        for i in reversed(range(len(pairs))):        # adjoint: the axes in reverse order
            lo, hi = pairs[i]
            n = shape[first + i]
            g = _scatter_runs(g, pad_index(n, lo, hi, mode), n, first + i)
        return (g,)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        # padding is linear in x (the constant `value` only shifts it): the adjoint of the
        # backward is the forward with value 0
        shape, pairs, first, mode = ctx.cfg
        pad = [v for lo_hi in reversed(pairs) for v in lo_hi]

        def forward(h):
            return Pad.forward(Context((False,)), h, pad=pad, mode=mode, value=0.0)
        return (linear_map(gy, lambda h: Pad.backward(ctx, h)[0], forward),)
