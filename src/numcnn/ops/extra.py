"""Kernels of torch-level functions that no composition of other ops computes well:
running log-sum-exp (stable forward and backward), NaN as zero (nansum), pairwise p-norm
distances, inverse hyperbolic functions, fmod, logaddexp(2) and nan_to_num.

Axis legend: B batch (any leading dims), P rows of x1, R rows of x2, M features.
"""

from __future__ import annotations

import numpy as np

from numcnn.autograd.function import Context, Function


def _rev_logcumsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    """z_j = log sum_{i >= j} exp(a_i) along `axis` (a running logaddexp from the end)."""
    return np.flip(np.logaddexp.accumulate(np.flip(a, axis), axis=axis), axis)


class NanToZero(Function):
    """y = 0 where x is NaN, else x;  dx = gy * (x is not NaN)  (a product, as PyTorch's
    nansum: an infinite gy gives NaN at the NaN places)."""

    @staticmethod
    def forward(ctx: Context, x):
        keep = ~np.isnan(x)
        ctx.save_for_backward(keep)
        return np.where(keep, x, 0).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, gy):
        (keep,) = ctx.saved
        with np.errstate(invalid="ignore"):               # inf * 0 = nan, wanted
            return (gy * keep,)


class LogCumSumExp(Function):
    """y_i = log sum_{j <= i} exp(x_j) along `axis` (a running logaddexp: no overflow).

    dx_j = sum_{i >= j} gy_i exp(x_j - y_i).  Written in log space so that nothing overflows:
    with gy = g+ - g- (positive and negative parts),
    dx_j = exp(x_j + log sum_{i >= j} exp(log g+_i - y_i)) - (the same with g-).
    """

    @staticmethod
    def forward(ctx: Context, x, *, axis):
        if x.ndim == 0 or x.size == 0:
            y = x.copy()
        else:
            y = np.logaddexp.accumulate(x, axis=axis)
        ctx.save_for_backward(x, y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx: Context, gy):
        x, y = ctx.saved
        if x.ndim == 0 or x.size == 0:
            return (gy.copy(),)
        with np.errstate(divide="ignore", invalid="ignore"):
            pos = _rev_logcumsumexp(np.log(np.maximum(gy, 0)) - y, ctx.axis)
            neg = _rev_logcumsumexp(np.log(np.maximum(-gy, 0)) - y, ctx.axis)
            gx = np.exp(x + pos) - np.exp(x + neg)
        return (gx.astype(x.dtype, copy=False),)


class Cdist(Function):
    """d[b, i, j] = (sum_m |x1[b, i, m] - x2[b, j, m]|^p)^(1/p)  (p = inf: the max, p = 0: the
    number of nonzero differences).

    With t = x1_i - x2_j:  dd/dt = sign(t) |t|^(p-1) / d^(p-1)  (p = 2: t / d, p = 1: sign(t),
    p = inf: sign(t) where |t| = d, p = 0: 0), and 0 where d = 0 or t = 0.
    dx1_i = sum_j gy_ij dd_ij/dt,  dx2_j = -sum_i gy_ij dd_ij/dt.
    """

    @staticmethod
    def forward(ctx: Context, x1, x2, *, p):
        # x1 (B, P, M), x2 (B, R, M) -> t (B, P, R, M) -> d (B, P, R)
        t = x1[:, :, None, :] - x2[:, None, :, :]
        a = np.abs(t)
        if p == 0:
            d = np.count_nonzero(t, axis=-1).astype(x1.dtype)
        elif p == np.inf:
            d = a.max(axis=-1, initial=0)
        elif p == 1:
            d = a.sum(axis=-1)
        elif p == 2:
            d = np.sqrt(np.einsum("bprm,bprm->bpr", t, t))
        else:
            d = np.power(np.power(a, p).sum(axis=-1), 1.0 / p)
        ctx.save_for_backward(x1, x2, d)
        ctx.p = p
        return d.astype(x1.dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, gy):
        x1, x2, d = ctx.saved
        p = ctx.p
        t = x1[:, :, None, :] - x2[:, None, :, :]
        dd = d[..., None]
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 0:
                s = np.zeros_like(t)
            elif p == 1:
                s = np.sign(t)
            elif p == np.inf:
                s = np.sign(t) * (np.abs(t) == dd)
            elif p == 2:
                s = t / dd
            else:
                s = np.sign(t) * np.power(np.abs(t), p - 1) / np.power(dd, p - 1)
            s = np.where((dd == 0) | (t == 0), 0, s)
        w = gy[..., None] * s                               # (B, P, R, M)
        g1 = w.sum(axis=2) if ctx.needs_input_grad[0] else None
        g2 = -w.sum(axis=1) if ctx.needs_input_grad[1] else None
        return g1, g2


class Acosh(Function):
    """y = arcosh a;  da = gy / sqrt(a^2 - 1)  (nan below 1, inf at 1)."""

    @staticmethod
    def forward(ctx: Context, a):
        ctx.save_for_backward(a)
        with np.errstate(invalid="ignore"):
            return np.arccosh(a)

    @staticmethod
    def backward(ctx: Context, gy):
        (a,) = ctx.saved
        with np.errstate(divide="ignore", invalid="ignore"):
            return (gy / np.sqrt((a - 1) * (a + 1)),)


class Asinh(Function):
    """y = arsinh a;  da = gy / sqrt(a^2 + 1)."""

    @staticmethod
    def forward(ctx: Context, a):
        ctx.save_for_backward(a)
        return np.arcsinh(a)

    @staticmethod
    def backward(ctx: Context, gy):
        (a,) = ctx.saved
        return (gy / np.sqrt(a * a + 1),)


class Atanh(Function):
    """y = artanh a;  da = gy / (1 - a^2)  (nan outside [-1, 1], inf at the ends)."""

    @staticmethod
    def forward(ctx: Context, a):
        ctx.save_for_backward(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.arctanh(a)

    @staticmethod
    def backward(ctx: Context, gy):
        (a,) = ctx.saved
        with np.errstate(divide="ignore", invalid="ignore"):
            return (gy / (1 - a * a),)


class Fmod(Function):
    """y = a - trunc(a / b) * b  (the C remainder: the sign of a);
    da = gy,  db = -gy * trunc(a / b)."""

    @staticmethod
    def forward(ctx: Context, a, b):
        ctx.save_for_backward(a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.fmod(a, b)

    @staticmethod
    def backward(ctx: Context, gy):
        a, b = ctx.saved
        gb = None
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = -gy * np.trunc(a / b)
        return gy, gb


class LogAddExp(Function):
    """y = log_B(B^a + B^b) for base B = e or 2;  da = gy B^(a - y),  db = gy B^(b - y)."""

    @staticmethod
    def forward(ctx: Context, a, b, *, base2):
        y = np.logaddexp2(a, b) if base2 else np.logaddexp(a, b)
        ctx.save_for_backward(a, b, y)
        ctx.base2 = base2
        return y

    @staticmethod
    def backward(ctx: Context, gy):
        a, b, y = ctx.saved
        power = np.exp2 if ctx.base2 else np.exp
        return gy * power(a - y), gy * power(b - y)


class NanToNum(Function):
    """y = x with NaN, +inf, -inf replaced by the given numbers;  dx = gy where x is finite,
    else 0."""

    @staticmethod
    def forward(ctx: Context, x, *, nan, posinf, neginf):
        ctx.save_for_backward(np.isfinite(x))
        return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx: Context, gy):
        (finite,) = ctx.saved
        return (np.where(finite, gy, 0).astype(gy.dtype, copy=False),)


class Erfc(Function):
    """y = erfc a = 1 - erf a, accurate where it is tiny (a >> 0): erfc(-a) = 2 - erfc(a);
    da = -gy 2/sqrt(pi) e^(-a^2)."""

    @staticmethod
    def forward(ctx: Context, a):
        from numcnn.ops.activation import erfc_nonneg
        ctx.save_for_backward(a)
        z = np.abs(a)
        with np.errstate(invalid="ignore"):              # erfc(inf): inf / inf, set below
            pos = np.where(np.isinf(z), 0, erfc_nonneg(z)[0])
        return np.where(a < 0, 2 - pos, pos).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, gy):
        (a,) = ctx.saved
        return (-gy * np.asarray(2 / np.sqrt(np.pi), dtype=a.dtype) * np.exp(-(a * a)),)
