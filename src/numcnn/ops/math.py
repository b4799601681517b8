"""Elementwise arithmetic and math, with broadcasting.

Gradients may be returned in the broadcast shape: the engine sums them back (autograd/engine.py).
"""

from __future__ import annotations

from typing import Any

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


# ----------------------------------------------------------------------------- unary math
class Sin(Function):
    """y = sin a;  da = gy cos a."""

    @staticmethod
    def forward(ctx: Context, a):
        ctx.save_for_backward(a)
        return np.sin(a)

    @staticmethod
    def backward(ctx: Context, gy):
        (a,) = ctx.saved
        return (gy * np.cos(a),)


class Cos(Function):
    """y = cos a;  da = -gy sin a."""

    @staticmethod
    def forward(ctx: Context, a):
        ctx.save_for_backward(a)
        return np.cos(a)

    @staticmethod
    def backward(ctx: Context, gy):
        (a,) = ctx.saved
        return (-gy * np.sin(a),)


class Tan(Function):
    """y = tan a;  da = gy (1 + y^2)."""

    @staticmethod
    def forward(ctx: Context, a):
        y = np.tan(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, gy):
        (y,) = ctx.saved
        return (gy * (1 + y * y),)


class Sinh(Function):
    """y = sinh a;  da = gy cosh a."""

    @staticmethod
    def forward(ctx: Context, a):
        ctx.save_for_backward(a)
        return np.sinh(a)

    @staticmethod
    def backward(ctx: Context, gy):
        (a,) = ctx.saved
        return (gy * np.cosh(a),)


class Cosh(Function):
    """y = cosh a;  da = gy sinh a."""

    @staticmethod
    def forward(ctx: Context, a):
        ctx.save_for_backward(a)
        return np.cosh(a)

    @staticmethod
    def backward(ctx: Context, gy):
        (a,) = ctx.saved
        return (gy * np.sinh(a),)


class Asin(Function):
    """y = arcsin a;  da = gy / sqrt(1 - a^2)  (nan outside [-1, 1], inf at the ends)."""

    @staticmethod
    def forward(ctx: Context, a):
        ctx.save_for_backward(a)
        with np.errstate(invalid="ignore"):
            return np.arcsin(a)

    @staticmethod
    def backward(ctx: Context, gy):
        (a,) = ctx.saved
        with np.errstate(divide="ignore", invalid="ignore"):
            return (gy / np.sqrt(1 - a * a),)


class Acos(Function):
    """y = arccos a;  da = -gy / sqrt(1 - a^2)."""

    @staticmethod
    def forward(ctx: Context, a):
        ctx.save_for_backward(a)
        with np.errstate(invalid="ignore"):
            return np.arccos(a)

    @staticmethod
    def backward(ctx: Context, gy):
        (a,) = ctx.saved
        with np.errstate(divide="ignore", invalid="ignore"):
            return (-gy / np.sqrt(1 - a * a),)


class Atan(Function):
    """y = arctan a;  da = gy / (1 + a^2)."""

    @staticmethod
    def forward(ctx: Context, a):
        ctx.save_for_backward(a)
        return np.arctan(a)

    @staticmethod
    def backward(ctx: Context, gy):
        (a,) = ctx.saved
        return (gy / (1 + a * a),)


class Atan2(Function):
    """y = atan2(a, b) (the angle of the point (b, a));
    da = gy b / (a^2 + b^2),  db = -gy a / (a^2 + b^2)."""

    @staticmethod
    def forward(ctx: Context, a, b):
        ctx.save_for_backward(a, b)
        return np.arctan2(a, b)

    @staticmethod
    def backward(ctx: Context, gy):
        a, b = ctx.saved
        with np.errstate(divide="ignore", invalid="ignore"):
            r = gy / (a * a + b * b)
        ga = r * b if ctx.needs_input_grad[0] else None
        gb = -r * a if ctx.needs_input_grad[1] else None
        return ga, gb


class LogBase(Function):
    """y = log_base a = ln a / ln base (base 2 or 10);  da = gy / (a ln base)."""

    @staticmethod
    def forward(ctx: Context, a, *, base):
        ctx.save_for_backward(a)
        ctx.ln_base = np.log(base)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log2(a) if base == 2 else np.log10(a)

    @staticmethod
    def backward(ctx: Context, gy):
        (a,) = ctx.saved
        with np.errstate(divide="ignore", invalid="ignore"):
            return (gy / (a * np.asarray(ctx.ln_base, dtype=a.dtype)),)


class Log1p(Function):
    """y = ln(1 + a) (accurate for small a);  da = gy / (1 + a)."""

    @staticmethod
    def forward(ctx: Context, a):
        ctx.save_for_backward(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log1p(a)

    @staticmethod
    def backward(ctx: Context, gy):
        (a,) = ctx.saved
        with np.errstate(divide="ignore", invalid="ignore"):
            return (gy / (1 + a),)


class Expm1(Function):
    """y = e^a - 1 (accurate for small a);  da = gy (y + 1)."""

    @staticmethod
    def forward(ctx: Context, a):
        y = np.expm1(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, gy):
        (y,) = ctx.saved
        return (gy * (y + 1),)


class Exp2(Function):
    """y = 2^a;  da = gy y ln 2."""

    @staticmethod
    def forward(ctx: Context, a):
        y = np.exp2(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, gy):
        (y,) = ctx.saved
        return (gy * y * np.asarray(np.log(2.0), dtype=y.dtype),)


_STEPS: dict[str, Any] = {"floor": np.floor, "ceil": np.ceil, "trunc": np.trunc, "sign": np.sign,
          "round": np.round}


class Step(Function):
    """y = floor / ceil / trunc / round / sign of a: piecewise constant, so da = 0 (as PyTorch).

    `round` rounds halves to even (as PyTorch), after scaling by 10^decimals.
    """

    @staticmethod
    def forward(ctx: Context, a, *, kind, decimals=0):
        ctx.shape = a.shape
        if kind == "round" and decimals:
            return np.round(a, decimals)
        if kind == "sign":                     # as PyTorch: sign(nan) = 0
            return np.where(np.isnan(a), 0, np.sign(a)).astype(a.dtype, copy=False)
        return _STEPS[kind](a)

    @staticmethod
    def backward(ctx: Context, gy):
        return (np.zeros(ctx.shape, dtype=gy.dtype),)


class Frac(Function):
    """y = a - trunc(a);  da = gy."""

    @staticmethod
    def forward(ctx: Context, a):
        return a - np.trunc(a)

    @staticmethod
    def backward(ctx: Context, gy):
        return (gy,)


class Reciprocal(Function):
    """y = 1 / a;  da = -gy y^2."""

    @staticmethod
    def forward(ctx: Context, a):
        with np.errstate(divide="ignore"):
            y = np.reciprocal(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, gy):
        (y,) = ctx.saved
        return (-gy * y * y,)


def _erf(a: np.ndarray) -> np.ndarray:
    """erf a, to full floating precision: the Maclaurin series
    erf x = 2/sqrt(pi) sum_n (-1)^n x^(2n+1) / (n! (2n+1)) for |x| < 1/2 (where 1 - erfc loses
    relative accuracy), else sign(x) (1 - erfc|x|) with ops.activation's erfc."""
    from numcnn.ops.activation import erfc_nonneg

    z = np.abs(a)
    small = z < 0.5
    with np.errstate(invalid="ignore"):     # erfc(inf): inf / inf; set to 0 below
        far = np.sign(a) * (1 - np.where(np.isinf(z), 0, erfc_nonneg(z)[0]))
    x = np.where(small, a, 0)
    x2, term, near = x * x, x.copy(), x.copy()
    for n in range(1, 16):                  # |x| < 1/2: term 16 < 1e-23 relative
        term = term * -x2 / n
        near = near + term / (2 * n + 1)
    near = near * np.asarray(2 / np.sqrt(np.pi), dtype=a.dtype)
    return np.where(small, near, far).astype(a.dtype, copy=False)


class Erf(Function):
    """y = erf a = 2/sqrt(pi) int_0^a e^(-t^2) dt;  da = gy 2/sqrt(pi) e^(-a^2)."""

    @staticmethod
    def forward(ctx: Context, a):
        ctx.save_for_backward(a)
        return _erf(a)

    @staticmethod
    def backward(ctx: Context, gy):
        (a,) = ctx.saved
        return (gy * np.asarray(2 / np.sqrt(np.pi), dtype=a.dtype) * np.exp(-(a * a)),)


class Square(Function):
    """y = a^2;  da = 2 a gy."""

    @staticmethod
    def forward(ctx: Context, a):
        ctx.save_for_backward(a)
        return a * a

    @staticmethod
    def backward(ctx: Context, gy):
        (a,) = ctx.saved
        return (2 * a * gy,)


class Rsqrt(Function):
    """y = 1 / sqrt a;  da = -gy y^3 / 2."""

    @staticmethod
    def forward(ctx: Context, a):
        with np.errstate(divide="ignore", invalid="ignore"):
            y = 1 / np.sqrt(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, gy):
        (y,) = ctx.saved
        return (-0.5 * gy * y * y * y,)


class FloorDivide(Function):
    """y = floor(a / b) (`div(rounding_mode='floor')`, and PyTorch's `//`);  piecewise constant,
    so da = db = 0.  As in PyTorch, `//` (floor_divide) has no derivative: its backward raises.
    Integer division by zero raises in the public layer."""

    @staticmethod
    def forward(ctx: Context, a, b, *, differentiable=True):
        ctx.shapes, ctx.differentiable = (np.shape(a), np.shape(b)), differentiable
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.floor_divide(a, b)

    @staticmethod
    def backward(ctx: Context, gy):
        if not ctx.differentiable:
            raise RuntimeError("derivative for floor_divide is not implemented (as in PyTorch); "
                               "use div(a, b, rounding_mode='floor'), whose gradient is 0")
        return tuple(np.zeros(s, dtype=gy.dtype) for s in ctx.shapes)


class TruncDivide(Function):
    """y = trunc(a / b) (`div(rounding_mode='trunc')`);  da = db = 0."""

    @staticmethod
    def forward(ctx: Context, a, b):
        ctx.shapes = (np.shape(a), np.shape(b))
        if np.result_type(a, b).kind in "iub":
            q = np.floor_divide(a, b)          # exact integer quotient, then towards zero
            return q + ((q < 0) & (q * b != a))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.trunc(np.true_divide(a, b))

    @staticmethod
    def backward(ctx: Context, gy):
        return tuple(np.zeros(s, dtype=gy.dtype) for s in ctx.shapes)


class Remainder(Function):
    """y = a - floor(a / b) b (the sign of the divisor, PyTorch's `%`);
    da = gy, db = -gy floor(a / b).  As in PyTorch, `number % tensor` has no derivative."""

    @staticmethod
    def forward(ctx: Context, a, b, *, differentiable=True):
        ctx.save_for_backward(a, b)
        ctx.differentiable = differentiable
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.remainder(a, b)

    @staticmethod
    def backward(ctx: Context, gy):
        if not ctx.differentiable:
            raise RuntimeError("derivative for remainder(Number, Tensor) is not implemented "
                               "(as in PyTorch)")
        a, b = ctx.saved
        gb = None
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = -gy * np.floor_divide(a, b)
        return gy, gb


class Lerp(Function):
    """y = a + w (b - a);  da = gy (1 - w), db = gy w, dw = gy (b - a)."""

    @staticmethod
    def forward(ctx: Context, a, b, w):
        ctx.save_for_backward(a, b, w)
        return a + w * (b - a)

    @staticmethod
    def backward(ctx: Context, gy):
        a, b, w = ctx.saved
        need = ctx.needs_input_grad
        return (gy * (1 - w) if need[0] else None, gy * w if need[1] else None,
                gy * (b - a) if need[2] else None)
