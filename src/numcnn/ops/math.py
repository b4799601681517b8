"""Elementwise arithmetic and math, with broadcasting.

Gradients may be returned in the broadcast shape: the engine sums them back (autograd/engine.py).
"""

from __future__ import annotations

import numpy as np

from numcnn.autograd.function import Context, Function


class Add(Function):
    """y = a + b;  da = gy, db = gy."""

    @staticmethod
    def forward(ctx: Context, a, b):
        return np.add(a, b)

    @staticmethod
    def backward(ctx: Context, gy):
        return gy, gy

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        return gy, gy



class Sub(Function):
    """y = a - b;  da = gy, db = -gy."""

    @staticmethod
    def forward(ctx: Context, a, b):
        return np.subtract(a, b)

    @staticmethod
    def backward(ctx: Context, gy):
        return gy, (-gy if ctx.needs_input_grad[1] else None)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        return gy, (-gy if ctx.needs_input_grad[1] else None)



class Mul(Function):
    """y = a * b;  da = gy * b, db = gy * a."""

    @staticmethod
    def forward(ctx: Context, a, b):
        ctx.save_for_backward(a, b)
        return np.multiply(a, b)

    @staticmethod
    def backward(ctx: Context, gy):
        a, b = ctx.saved
        ga = gy * b if ctx.needs_input_grad[0] else None
        gb = gy * a if ctx.needs_input_grad[1] else None
        return ga, gb

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        a, b = saved
        return (gy * b if ctx.needs_input_grad[0] else None,
                gy * a if ctx.needs_input_grad[1] else None)



class Div(Function):
    """y = a / b;  da = gy / b, db = -gy * a / b^2."""

    @staticmethod
    def forward(ctx: Context, a, b):
        ctx.save_for_backward(a, b)
        with np.errstate(divide="ignore", invalid="ignore"):   # x/0 = inf, 0/0 = nan silently
            return np.true_divide(a, b)

    @staticmethod
    def backward(ctx: Context, gy):
        a, b = ctx.saved
        with np.errstate(divide="ignore", invalid="ignore"):
            ga = gy / b if ctx.needs_input_grad[0] else None
            gb = -gy * a / (b * b) if ctx.needs_input_grad[1] else None
        return ga, gb

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        a, b = saved
        return (gy / b if ctx.needs_input_grad[0] else None,
                -gy * a / (b * b) if ctx.needs_input_grad[1] else None)



class Pow(Function):
    """y = a ** b;  da = gy * b * a^(b-1), db = gy * y * log(a) (0 where a == 0 and b >= 0)."""

    @staticmethod
    def forward(ctx: Context, a, b):
        y = np.power(a, b)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx: Context, gy):
        a, b, y = ctx.saved
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = np.where(b == 0, 0.0, gy * b * np.power(a, b - 1)).astype(gy.dtype, copy=False)
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = np.where((a == 0) & (b >= 0), 0.0, gy * y * np.log(a))
        return ga, gb

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        a, b, y = saved           # da = gy b a^(b-1); db = gy y ln a (b >= 0 with a = 0: 0)
        ga = gy * b * a ** (b - 1) if ctx.needs_input_grad[0] else None
        gb = None
        if ctx.needs_input_grad[1]:
            safe = (a.array == 0) & (np.asarray(b.array if hasattr(b, "array") else b) >= 0)
            gb = gy * y * (a + safe).log() * (~safe)
        return ga, gb



class Neg(Function):
    """y = -a."""

    @staticmethod
    def forward(ctx: Context, a):
        return np.negative(a)

    @staticmethod
    def backward(ctx: Context, gy):
        return (-gy,)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        return (-gy,)



class MatMul(Function):
    """y = a @ b (NumPy matmul semantics: 1-D operands and batch broadcasting).

    da = gy @ b^T, db = a^T @ gy, with 1-D operands promoted and the promotion undone.
    """

    @staticmethod
    def forward(ctx: Context, a, b):
        ctx.save_for_backward(a, b)
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx: Context, gy):
        a, b = ctx.saved
        if a.ndim == 1 and b.ndim == 1:                # the dot product: gy is a scalar
            ga = gy * b if ctx.needs_input_grad[0] else None
            gb = gy * a if ctx.needs_input_grad[1] else None
            return ga, gb
        a2 = a[None, :] if a.ndim == 1 else a          # (.., n, k)
        b2 = b[:, None] if b.ndim == 1 else b          # (.., k, m)
        g = gy
        if a.ndim == 1:
            g = np.expand_dims(g, -2)
        if b.ndim == 1:
            g = np.expand_dims(g, -1)                  # g: (.., n, m)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = np.matmul(g, np.swapaxes(b2, -1, -2))
            if a.ndim == 1:
                ga = ga.reshape(ga.shape[:-2] + ga.shape[-1:]) if ga.ndim > 2 else ga[0]
        if ctx.needs_input_grad[1]:
            gb = np.matmul(np.swapaxes(a2, -1, -2), g)
            if b.ndim == 1:
                gb = gb[..., 0]
        return ga, gb

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        a, b = saved
        if a.ndim == 1 and b.ndim == 1:
            return (gy * b if ctx.needs_input_grad[0] else None,
                    gy * a if ctx.needs_input_grad[1] else None)
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(1) if b.ndim == 1 else b
        g = gy.unsqueeze(-2) if a.ndim == 1 else gy
        g = g.unsqueeze(-1) if b.ndim == 1 else g
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = g @ b2.transpose(-1, -2)
            if a.ndim == 1:
                ga = ga.squeeze(-2)
        if ctx.needs_input_grad[1]:
            gb = a2.transpose(-1, -2) @ g
            if b.ndim == 1:
                gb = gb.squeeze(-1)
        return ga, gb



class Exp(Function):
    """y = e^a;  da = gy * y."""

    @staticmethod
    def forward(ctx: Context, a):
        y = np.exp(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, gy):
        (y,) = ctx.saved
        return (gy * y,)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        (y,) = saved
        return (gy * y,)



class Log(Function):
    """y = ln a;  da = gy / a."""

    @staticmethod
    def forward(ctx: Context, a):
        ctx.save_for_backward(a)
        with np.errstate(divide="ignore", invalid="ignore"):   # log 0 = -inf, log(-1) = nan
            return np.log(a)

    @staticmethod
    def backward(ctx: Context, gy):
        (a,) = ctx.saved
        return (gy / a,)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        (a,) = saved
        return (gy / a,)



class Sqrt(Function):
    """y = sqrt(a);  da = gy / (2 y)."""

    @staticmethod
    def forward(ctx: Context, a):
        y = np.sqrt(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, gy):
        (y,) = ctx.saved
        return (gy / (2 * y),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        (y,) = saved
        return (gy / (2 * y),)



class Abs(Function):
    """y = |a|;  da = gy * sign(a) (0 at a = 0)."""

    @staticmethod
    def forward(ctx: Context, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx: Context, gy):
        (a,) = ctx.saved
        return (gy * np.sign(a),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        (a,) = saved
        return (gy * np.sign(a.array),)



class Clamp(Function):
    """y = min(max(a, lo), hi);  da = gy where lo <= a <= hi (inclusive, as PyTorch), else 0."""

    @staticmethod
    def forward(ctx: Context, a, *, min=None, max=None):
        keep = np.ones(a.shape, dtype=bool)
        y = a
        if min is not None:
            keep &= a >= min
            y = np.maximum(y, np.asarray(min, dtype=a.dtype))
        if max is not None:
            keep &= a <= max
            y = np.minimum(y, np.asarray(max, dtype=a.dtype))
        ctx.save_for_backward(keep)
        return np.array(y, copy=True) if y is a else y

    @staticmethod
    def backward(ctx: Context, gy):
        (keep,) = ctx.saved
        return (gy * keep,)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        (keep,) = saved
        return (gy * keep,)



class Where(Function):
    """y = a where cond else b;  da = gy * cond, db = gy * ~cond."""

    @staticmethod
    def forward(ctx: Context, a, b, *, cond):
        ctx.save_for_backward(cond)
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx: Context, gy):
        (cond,) = ctx.saved
        zero = np.zeros((), dtype=gy.dtype)
        ga = np.where(cond, gy, zero) if ctx.needs_input_grad[0] else None
        gb = np.where(cond, zero, gy) if ctx.needs_input_grad[1] else None
        return ga, gb

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        (cond,) = saved
        return (gy * cond if ctx.needs_input_grad[0] else None,
                gy * ~cond if ctx.needs_input_grad[1] else None)



class Maximum(Function):
    """y = max(a, b) elementwise; at ties each side gets half the gradient (as PyTorch)."""

    @staticmethod
    def forward(ctx: Context, a, b):
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx: Context, gy):
        a, b = ctx.saved
        share = np.where(a == b, 0.5, (a > b).astype(gy.dtype)).astype(gy.dtype)
        ga = gy * share if ctx.needs_input_grad[0] else None
        gb = gy * (1 - share) if ctx.needs_input_grad[1] else None
        return ga, gb

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        a, b = saved
        share = np.where(a.array == b.array, 0.5, a.array > b.array).astype(gy.dtype)
        return (gy * share if ctx.needs_input_grad[0] else None,
                gy * (1 - share) if ctx.needs_input_grad[1] else None)



class Minimum(Function):
    """y = min(a, b) elementwise; at ties each side gets half the gradient (as PyTorch)."""

    @staticmethod
    def forward(ctx: Context, a, b):
        ctx.save_for_backward(a, b)
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx: Context, gy):
        a, b = ctx.saved
        share = np.where(a == b, 0.5, (a < b).astype(gy.dtype)).astype(gy.dtype)
        ga = gy * share if ctx.needs_input_grad[0] else None
        gb = gy * (1 - share) if ctx.needs_input_grad[1] else None
        return ga, gb

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        a, b = saved
        share = np.where(a.array == b.array, 0.5, a.array < b.array).astype(gy.dtype)
        return (gy * share if ctx.needs_input_grad[0] else None,
                gy * (1 - share) if ctx.needs_input_grad[1] else None)

