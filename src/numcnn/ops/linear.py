"""Fully connected layers: y = x W^T + b (one GEMM) and the bilinear form y = x1^T W x2 + b.

Axis legend: M = the product of all leading dimensions of x (batch, sequence, ...), I input
features, O output features.
"""

from __future__ import annotations

import numpy as np

from numcnn.autograd.function import Context, Function


class Linear(Function):
    """y = x W^T + b over the last axis of x, any number of leading axes.

    x: (*, I), w: (O, I), b: (O,) or None  ->  y: (*, O).  With x2 = x as (M, I), gy2 = gy as
    (M, O):  gx = gy2 W,  gW = gy2^T x2,  gb = sum over M of gy2.
    """

    @staticmethod
    def forward(ctx: Context, x, w, b=None):
        lead = x.shape[:-1]
        x2 = x.reshape(-1, x.shape[-1])                 # (M, I)
        y = np.matmul(x2, w.T)                          # (M, O): the one GEMM
        if b is not None:
            y += b
        # x itself is saved (a reshape is free again in backward): a recorded backward
        # (create_graph) then sees x with its history
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None,
                              w if ctx.needs_input_grad[0] else None)
        ctx.x_shape = x.shape
        return y.reshape(lead + (w.shape[0],))

    @staticmethod
    def backward(ctx: Context, gy):
        x, w = ctx.saved
        gy2 = gy.reshape(-1, gy.shape[-1])              # (M, O)
        gx = np.matmul(gy2, w).reshape(ctx.x_shape) if ctx.needs_input_grad[0] else None
        gw = np.matmul(gy2.T, x.reshape(-1, x.shape[-1])) if ctx.needs_input_grad[1] else None
        gb = gy2.sum(axis=0) if ctx.needs_input_grad[2] else None
        return gx, gw, gb

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        x, w = saved
        gy2 = gy.reshape(-1, gy.shape[-1])              # (M, O)
        gx = (gy2 @ w).reshape(ctx.x_shape) if ctx.needs_input_grad[0] else None
        gw = gy2.t() @ x.reshape(-1, x.shape[-1]) if ctx.needs_input_grad[1] else None
        gb = gy2.sum(0) if ctx.needs_input_grad[2] else None
        return gx, gw, gb


class Bilinear(Function):
    """y[m, o] = sum_ij x1[m, i] W[o, i, j] x2[m, j] + b[o].

    x1: (*, I1), x2: (*, I2), w: (O, I1, I2), b: (O,) or None  ->  y: (*, O).
    gx1[m, i] = sum_oj gy[m, o] W[o, i, j] x2[m, j],
    gx2[m, j] = sum_oi gy[m, o] x1[m, i] W[o, i, j],
    gW[o, i, j] = sum_m gy[m, o] x1[m, i] x2[m, j],  gb = sum_m gy[m, :].
    """

    @staticmethod
    def forward(ctx: Context, x1, x2, w, b=None):
        lead = x1.shape[:-1]
        a = x1.reshape(-1, x1.shape[-1])                # (M, I1)
        c = x2.reshape(-1, x2.shape[-1])                # (M, I2)
        y = np.einsum("mi,oij,mj->mo", a, w, c, optimize=True)
        if b is not None:
            y += b
        ctx.save_for_backward(a, c, w)
        ctx.shapes = (x1.shape, x2.shape)
        return y.reshape(lead + (w.shape[0],))

    @staticmethod
    def backward(ctx: Context, gy):
        a, c, w = ctx.saved
        g = gy.reshape(-1, gy.shape[-1])                # (M, O)
        need = ctx.needs_input_grad
        g1 = np.einsum("mo,oij,mj->mi", g, w, c, optimize=True).reshape(ctx.shapes[0]) \
            if need[0] else None
        g2 = np.einsum("mo,mi,oij->mj", g, a, w, optimize=True).reshape(ctx.shapes[1]) \
            if need[1] else None
        gw = np.einsum("mo,mi,mj->oij", g, a, c, optimize=True) if need[2] else None
        gb = g.sum(axis=0) if need[3] else None
        return g1, g2, gw, gb


__all__ = ["Bilinear", "Linear"]
