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


class Einsum(Function):
    """y = einsum(subs -> out, *operands): a sum of products over the labels not in `out`.

    `subs` are the operands' label strings (ellipses already spelled out as letters, sizes
    already broadcast).  The gradient of operand k is again an einsum, of gy with the other
    operands, onto k's labels:  gk[labels_k] = einsum(out, subs_{j != k} -> labels_k).
    Labels that appear only in operand k get gy broadcast over them; a label repeated in k
    (a diagonal or a trace) receives the gradient on that diagonal only.
    """

    @staticmethod
    def forward(ctx: Context, *operands, subs, out):
        ctx.save_for_backward(*operands)
        ctx.subs, ctx.out = subs, out
        return np.asarray(np.einsum(",".join(subs) + "->" + out, *operands, optimize=True))

    @staticmethod
    def backward(ctx: Context, gy):
        operands, subs, out = ctx.saved, ctx.subs, ctx.out
        grads: list[np.ndarray | None] = []
        for k, (a, sk) in enumerate(zip(operands, subs)):
            if not ctx.needs_input_grad[k]:
                grads.append(None)
                continue
            others = [s for j, s in enumerate(subs) if j != k]
            seen = set(out).union(*others)
            unique = "".join(dict.fromkeys(sk))                # k's labels, once each, in order
            reach = "".join(c for c in unique if c in seen)      # those the gradient reaches
            ops = [gy] + [o for j, o in enumerate(operands) if j != k]
            g = np.einsum(",".join([out] + others) + "->" + reach, *ops, optimize=True)
            sizes = dict(zip(sk, a.shape))
            # labels only in operand k: gy does not depend on them; broadcast
            g = np.broadcast_to(np.expand_dims(g, tuple(i for i, c in enumerate(unique)
                                                        if c not in seen)),
                                tuple(sizes[c] for c in unique))
            if len(unique) == len(sk):
                ga = np.array(np.transpose(g, [unique.index(c) for c in sk]))
            else:                                              # a repeated label: a diagonal
                ga = np.zeros(a.shape, dtype=gy.dtype)
                diag = np.einsum(sk + "->" + unique, ga)       # a writeable view of ga
                diag[...] = g
            grads.append(ga.astype(gy.dtype, copy=False))
        return tuple(grads)


class Baddbmm(Function):
    """y = beta * c + alpha * (a @ b) for batches of matrices (addmm when a, b are 2-D).

    a: (B, n, k), b: (B, k, m), c broadcasts to (B, n, m).
    dc = beta gy,  da = alpha gy b^T,  db = alpha a^T gy.
    """

    @staticmethod
    def forward(ctx: Context, c, a, b, *, beta, alpha):
        ctx.save_for_backward(a, b)
        ctx.beta, ctx.alpha = beta, alpha
        ab = np.matmul(a, b)
        if alpha != 1:
            ab = ab * np.asarray(alpha, dtype=ab.dtype)
        if beta == 0:                               # as PyTorch: c is ignored (nan included)
            return np.array(np.broadcast_to(ab, ab.shape))
        return ab + (c if beta == 1 else c * np.asarray(beta, dtype=ab.dtype))

    @staticmethod
    def backward(ctx: Context, gy):
        a, b = ctx.saved
        need = ctx.needs_input_grad
        dt = gy.dtype
        gc = gy * np.asarray(ctx.beta, dtype=dt) if need[0] else None
        ga = np.matmul(gy, np.swapaxes(b, -1, -2)) * np.asarray(ctx.alpha, dtype=dt) \
            if need[1] else None
        gb = np.matmul(np.swapaxes(a, -1, -2), gy) * np.asarray(ctx.alpha, dtype=dt) \
            if need[2] else None
        return gc, ga, gb


__all__ = ["Baddbmm", "Bilinear", "Einsum", "Linear"]
