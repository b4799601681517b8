"""Activation functions: one fused, numerically stable `Function` per nonlinearity.

Every kernel is elementwise except `PReLU` (a learnable slope per channel, axis 1) and the
softmax family (a reduction along `dim`).  Each docstring states the forward formula and the
derivative the backward pass implements; at the kinks the derivative is PyTorch's choice:

    relu'(0) = 0                       hardtanh'(min_val) = hardtanh'(max_val) = 0
    leaky_relu'(0) = negative_slope    prelu'(0) = weight
    elu'(0) = alpha (the x <= 0 branch) threshold'(threshold) = 0
    hardswish'(-3) = 0, hardswish'(3) = 1      hardsigmoid'(+-3) = 0

Stability: sigmoid, softplus, silu, mish and logsigmoid only ever exponentiate -|x| (never
overflow); softmax/log_softmax subtract the row maximum; gelu uses erfc (below) so that
x * Phi(x) keeps its relative accuracy for very negative x.

Axis legend: N batch, C channels, `*` any further dimensions.
"""

from __future__ import annotations

import math

import numpy as np

from numcnn.autograd.function import Context, Function

# ----------------------------------------------------------------------------- erfc
# numpy has no erf.  For z >= 0 we write
#     erfc(z) = exp(-z^2) * (1 - s) * Q(s),   s = (z - 3) / (z + 3)  in [-1, 1),
# where Q(s) = erfc(z) exp(z^2) / (1 - s) is smooth and bounded on [-1, 1] (Q(-1) = 1/2,
# Q(1) = 1 / (6 sqrt(pi))).  Q is a polynomial in s: its Chebyshev series, computed once
# in 50-digit arithmetic (mpmath: Chebyshev-Gauss nodes, N = 64, then exact conversion to the
# monomial basis, which is well conditioned here: sum |a_k| = 0.50), truncated after
#   25 terms -> relative error of erfc < 1e-14 for all z (float64),
#   12 terms -> relative error < 1e-8 (float32, evaluated in float32: 4x cheaper).
# The relative error of erfc is measured against math.erfc in tests/ops/test_activation.py.
_ERFC_Q64 = (
    0.17900115118138996, -0.14723240886164723, 0.09837139285068372,
    -0.0517445436500972, 0.019921293547877944, -0.004471205770675236,
    -0.00020206943780763867, 0.000505676999343023, -9.138494906276394e-05,
    -4.612963567035683e-05, 1.792691595466713e-05, 5.0663419309544684e-06,
    -2.911763316394519e-06, -7.915047126839292e-07, 4.608989140598215e-07,
    1.6646950238184957e-07, -6.79926475772995e-08, -3.897561334856754e-08,
    7.676316699041419e-09, 8.530403661686783e-09, -1.6363927675986503e-10,
    -1.448962378172638e-09, -1.630522731306775e-10, 1.3517812160316654e-10,
    2.7368571694904976e-11,
)
_ERFC_Q32 = (
    0.17900115205225225, -0.14723240753114658, 0.09837132926735116,
    -0.051744581551835866, 0.019922050115106185, -0.004470895018771542,
    -0.00020539517360067226, 0.0005045707427641577, -8.464176308529472e-05,
    -4.416390362090992e-05, 1.130493926201289e-05, 3.2759850934146473e-06,
)

_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_KAPPA = 0.044715


def erfc_nonneg(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """erfc(z) for z >= 0, and exp(-z^2) as a by-product.  Floating dtype is kept.

    float64 uses the 25-term polynomial (rel. error < 1e-14), float32 the 12-term one.
    """
    coeffs = _ERFC_Q64 if z.dtype == np.float64 else _ERFC_Q32
    s = (z - 3.0) / (z + 3.0)
    q = np.full_like(z, coeffs[-1])
    for a in coeffs[-2::-1]:           # Horner: q = (...(a_n s + a_{n-1}) s + ...) + a_0
        q *= s
        q += a
    g = np.exp(-(z * z))               # exp(-z^2) underflows to 0 exactly where erfc does
    return g * (1.0 - s) * q, g


def normal_cdf(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Phi(x) = (1 + erf(x / sqrt 2)) / 2 and the density phi(x) = exp(-x^2/2) / sqrt(2 pi).

    Phi(x) = erfc(-x / sqrt 2) / 2, evaluated as e = erfc(|x| / sqrt 2) / 2 and then
    Phi = e for x < 0, 1 - e for x >= 0: full relative accuracy in the lower tail.
    """
    e, g = erfc_nonneg(np.abs(x) * _SQRT1_2)
    e *= 0.5
    cdf = np.where(x < 0, e, 1.0 - e)
    return cdf, g * _INV_SQRT_2PI


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x) = exp(min(x, 0)) / (1 + exp(-|x|)): no overflow, and full relative
    accuracy in both tails (sigmoid(-40) is 4.2e-18, not 0).  In-place steps, no np.where."""
    d = np.abs(x)
    np.negative(d, out=d)
    np.exp(d, out=d)
    d += 1.0
    y = np.minimum(x, 0)
    np.exp(y, out=y)
    y /= d
    return y


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + e^x) = max(x, 0) + log1p(exp(-|x|)) (never overflows)."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


# ----------------------------------------------------------------------------- piecewise linear
# Backward passes multiply by a saved boolean mask (gy * keep) rather than np.where(keep, gy, 0):
# several times faster in NumPy.  (They differ only where gy itself is inf/NaN.)
class ReLU(Function):
    """y = max(x, 0);  gx = gy where x > 0, else 0 (so relu'(0) = 0).

    With `inplace` the result is written over x's array (and returned): the caller, F.relu with
    inplace=True, then records the write (Tensor._inplace_from), which finds it already done.
    """

    @staticmethod
    def forward(ctx: Context, x, *, inplace=False):
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(x > 0)
        if inplace and x.flags.writeable:
            return np.maximum(x, 0, out=x)
        return np.maximum(x, 0)

    @staticmethod
    def backward(ctx: Context, gy):
        (keep,) = ctx.saved
        return (gy * keep,)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        (keep,) = saved
        return (gy * keep,)


class Hardtanh(Function):
    """y = min(max(x, min_val), max_val);  gx = gy where min_val < x < max_val, else 0.

    relu6 is hardtanh(0, 6).  The edges are excluded from the gradient, as in PyTorch.
    """

    @staticmethod
    def forward(ctx: Context, x, *, min_val, max_val):
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward((x > min_val) & (x < max_val))
        return np.clip(x, min_val, max_val).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, gy):
        (keep,) = ctx.saved
        return (gy * keep,)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        (keep,) = saved
        return (gy * keep,)


class LeakyReLU(Function):
    """y = x if x > 0 else slope * x;  gx = gy if x > 0 else slope * gy (slope at x = 0)."""

    @staticmethod
    def forward(ctx: Context, x, *, negative_slope):
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(x > 0)
            ctx.slope = negative_slope
        # max(x, a x) is x for x > 0 and a x below when a <= 1 (min when a > 1)
        pick = np.maximum if negative_slope <= 1 else np.minimum
        return pick(x, x * negative_slope)

    @staticmethod
    def backward(ctx: Context, gy):
        (pos,) = ctx.saved
        a = ctx.slope
        factor = pos.astype(gy.dtype)
        factor *= 1.0 - a
        factor += a                                      # 1 where x > 0, a elsewhere
        factor *= gy
        return (factor,)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        (pos,) = saved                                   # a constant slope on each side
        a = ctx.slope
        return (gy * (pos.array * (1.0 - a) + a),)


class Threshold(Function):
    """y = x if x > threshold else value;  gx = gy where x > threshold, else 0."""

    @staticmethod
    def forward(ctx: Context, x, *, threshold, value):
        keep = x > threshold
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(keep)
        return np.where(keep, x, np.asarray(value).astype(x.dtype))

    @staticmethod
    def backward(ctx: Context, gy):
        (keep,) = ctx.saved
        return (gy * keep,)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        (keep,) = saved
        return (gy * keep,)


class Hardswish(Function):
    """y = x * relu6(x + 3) / 6 = 0 (x <= -3), x (x >= 3), x (x + 3) / 6 between.

    gx = 0 for x <= -3, gy (2x + 3) / 6 for -3 < x < 3, gy for x >= 3 (PyTorch's kinks).
    """

    @staticmethod
    def forward(ctx: Context, x):
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(x)
        return x * (np.clip(x + 3.0, 0.0, 6.0) / 6.0)

    @staticmethod
    def backward(ctx: Context, gy):
        (x,) = ctx.saved
        one, zero = x.dtype.type(1), x.dtype.type(0)
        slope = np.where(x < 3.0, x / 3.0 + 0.5, one)
        return (np.where(x <= -3.0, zero, gy * slope),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        (x,) = saved                                     # slope x/3 + 1/2 on (-3, 3): smooth
        xv = x.array
        mid, high = (xv > -3.0) & (xv < 3.0), xv >= 3.0
        return (gy * ((x / 3.0 + 0.5) * mid + high),)


class Hardsigmoid(Function):
    """y = relu6(x + 3) / 6;  gx = gy / 6 for -3 < x < 3, else 0."""

    @staticmethod
    def forward(ctx: Context, x):
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward((x > -3.0) & (x < 3.0))
        return np.clip(x + 3.0, 0.0, 6.0) / 6.0

    @staticmethod
    def backward(ctx: Context, gy):
        (keep,) = ctx.saved
        gx = gy * keep
        gx /= 6.0
        return (gx,)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        (keep,) = saved
        return (gy * keep / 6.0,)


def _prelu_slope(w: np.ndarray, ndim: int) -> np.ndarray:
    """PReLU's slope broadcast against x: (1, C, 1, ...) for C slopes, () for one."""
    return w.reshape((1, -1) + (1,) * (ndim - 2)) if w.size > 1 else w.reshape(())


class PReLU(Function):
    """y = x if x > 0 else w * x, with w of shape (C,) along axis 1 or a single (1,) slope.

    gx = gy if x > 0 else w * gy;  gw[c] = sum over all axes but 1 of (x <= 0) * x * gy.
    """

    @staticmethod
    def forward(ctx: Context, x, w):
        # x: (N, C, *) or any shape when w has one element; wb: w broadcast against x
        wb = _prelu_slope(w, x.ndim)
        pos = x > 0
        ctx.save_for_backward(x, w, pos)                 # w itself: it keeps its history
        ctx.w_shape = w.shape
        return np.where(pos, x, wb * x)

    @staticmethod
    def backward(ctx: Context, gy):
        x, w, pos = ctx.saved
        wb = _prelu_slope(w, x.ndim)
        gx = np.where(pos, gy, wb * gy) if ctx.needs_input_grad[0] else None
        gw = None
        if ctx.needs_input_grad[1]:
            contrib = x * gy
            contrib *= ~pos
            if wb.ndim:
                axes = (0,) + tuple(range(2, x.ndim))
                gw = contrib.sum(axis=axes).reshape(ctx.w_shape)
            else:
                gw = np.asarray(contrib.sum()).reshape(ctx.w_shape)
        return gx, gw

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        x, w, pos = saved
        neg = ~pos.array
        wb = w.reshape((1, -1) + (1,) * (x.ndim - 2)) if w.numel() > 1 else w.reshape(())
        gx = gy * pos + gy * wb * neg if ctx.needs_input_grad[0] else None
        gw = None
        if ctx.needs_input_grad[1]:
            contrib = x * gy * neg
            gw = (contrib.sum((0, *range(2, x.ndim))) if w.numel() > 1 else contrib.sum())
            gw = gw.reshape(ctx.w_shape)
        return gx, gw


# ----------------------------------------------------------------------------- exponential family
class ELU(Function):
    """y = scale * x (x > 0), scale * alpha * (exp(x * input_scale) - 1) (x <= 0).

    elu: scale = input_scale = 1.  selu: scale = 1.0507..., alpha = 1.6733....
    celu: scale = 1, input_scale = 1 / alpha.  (PyTorch computes all three with one kernel.)
    gx = gy * scale (x > 0), gy * input_scale * scale * alpha * exp(x * input_scale) (x <= 0).
    """

    @staticmethod
    def forward(ctx: Context, x, *, alpha, scale, input_scale):
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(x)
            ctx.coef = (alpha, scale, input_scale)
        # the two branches are each 0 on the other side: scale max(x, 0) + s a expm1(min(x, 0) i)
        y = np.expm1(np.minimum(x, 0) * input_scale)
        y *= scale * alpha
        y += np.maximum(x, 0) * scale
        return y

    @staticmethod
    def backward(ctx: Context, gy):
        (x,) = ctx.saved
        alpha, scale, input_scale = ctx.coef
        c = input_scale * scale * alpha
        # c exp(min(x, 0) i) is the x <= 0 slope, and exactly c for x > 0: swap in `scale` there
        slope = np.exp(np.minimum(x, 0) * input_scale)
        slope *= c
        slope += np.multiply(x > 0, scale - c, dtype=slope.dtype)
        slope *= gy
        return (slope,)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        (x,) = saved
        alpha, scale, input_scale = ctx.coef
        c = input_scale * scale * alpha
        pos = x.array > 0
        # slope = scale (x > 0), c exp(x i) (x <= 0): its derivative c i exp(x i) below 0
        return (gy * ((x.clamp(max=0) * input_scale).exp() * (c * ~pos) + scale * pos),)


class GELU(Function):
    """Gaussian error linear unit.

    approximate='none':  y = x Phi(x),  gx = gy (Phi(x) + x phi(x)),  Phi the standard normal
    CDF, phi its density.  approximate='tanh':  y = x/2 (1 + tanh(u)),
    u = sqrt(2/pi) (x + 0.044715 x^3),  gx = gy (1/2 (1 + t) + x/2 (1 - t^2) du/dx), t = tanh u.
    """

    @staticmethod
    def forward(ctx: Context, x, *, approximate):
        ctx.approximate = approximate
        if approximate == "tanh":
            t = np.tanh(_SQRT_2_OVER_PI * (x + _GELU_KAPPA * x * x * x))
            if ctx.needs_input_grad[0]:
                ctx.save_for_backward(x, t)
            return 0.5 * x * (1.0 + t)
        cdf, pdf = normal_cdf(x)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(x, cdf, pdf)
        return x * cdf

    @staticmethod
    def backward(ctx: Context, gy):
        if ctx.approximate == "tanh":
            x, t = ctx.saved
            du = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_KAPPA * x * x)
            return (gy * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du),)
        x, cdf, pdf = ctx.saved
        return (gy * (cdf + x * pdf),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        x = saved[0]
        if ctx.approximate == "tanh":
            t = ((x + _GELU_KAPPA * x * x * x) * _SQRT_2_OVER_PI).tanh()
            du = (x * x * (3.0 * _GELU_KAPPA) + 1.0) * _SQRT_2_OVER_PI
            return (gy * ((t + 1.0) * 0.5 + x * 0.5 * (1.0 - t * t) * du),)
        # gelu' = Phi(x) + x phi(x), with Phi recorded (NormalCDF) and phi = exp(-x^2/2)/sqrt(2pi)
        pdf = (x * x * -0.5).exp() * _INV_SQRT_2PI
        return (gy * (NormalCDF.apply(x) + x * pdf),)


class Sigmoid(Function):
    """y = 1 / (1 + e^-x) (stable for any |x|);  gx = gy * y * (1 - y)."""

    @staticmethod
    def forward(ctx: Context, x):
        y = _sigmoid(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, gy):
        (y,) = ctx.saved
        return (gy * y * (1.0 - y),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        (y,) = saved
        return (gy * y * (1.0 - y),)


class Tanh(Function):
    """y = tanh x;  gx = gy * (1 - y^2)."""

    @staticmethod
    def forward(ctx: Context, x):
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, gy):
        (y,) = ctx.saved
        return (gy * (1.0 - y * y),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        (y,) = saved
        return (gy * (1.0 - y * y),)


class Softplus(Function):
    """y = log(1 + e^(beta x)) / beta, or x where beta * x > threshold (PyTorch's cut-off).

    gx = gy where beta x > threshold, else gy * sigmoid(beta x).
    """

    @staticmethod
    def forward(ctx: Context, x, *, beta, threshold):
        bx = x * beta
        linear = bx > threshold
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(x, linear)             # x itself: it keeps its history
            ctx.beta = beta
        return np.where(linear, x, _softplus(bx) / beta)

    @staticmethod
    def backward(ctx: Context, gy):
        x, linear = ctx.saved
        bx = x * ctx.beta
        return (np.where(linear, gy, gy * _sigmoid(bx)),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        x, linear = saved
        lin = linear.array
        return (gy * ((x * ctx.beta).sigmoid() * ~lin + lin),)


class SiLU(Function):
    """y = x sigmoid(x);  gx = gy * s (1 + x (1 - s)), s = sigmoid(x)."""

    @staticmethod
    def forward(ctx: Context, x):
        s = _sigmoid(x)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx: Context, gy):
        x, s = ctx.saved
        return (gy * s * (1.0 + x * (1.0 - s)),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        x = saved[0]
        s = x.sigmoid()
        return (gy * s * (1.0 + x * (1.0 - s)),)


class Mish(Function):
    """y = x tanh(softplus(x));  gx = gy (t + x sigmoid(x) (1 - t^2)), t = tanh(softplus(x))."""

    @staticmethod
    def forward(ctx: Context, x):
        t = np.tanh(_softplus(x))
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(x, t)
        return x * t

    @staticmethod
    def backward(ctx: Context, gy):
        x, t = ctx.saved
        return (gy * (t + x * _sigmoid(x) * (1.0 - t * t)),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        x = saved[0]
        t = Softplus.apply(x, beta=1.0, threshold=20.0).tanh()
        return (gy * (t + x * x.sigmoid() * (1.0 - t * t)),)


class LogSigmoid(Function):
    """y = log sigmoid(x) = min(x, 0) - log1p(exp(-|x|));  gx = gy * sigmoid(-x)."""

    @staticmethod
    def forward(ctx: Context, x):
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(x)
        return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))

    @staticmethod
    def backward(ctx: Context, gy):
        (x,) = ctx.saved
        return (gy * _sigmoid(-x),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        (x,) = saved
        return (gy * (-x).sigmoid(),)


class NormalCDF(Function):
    """y = Phi(x), the standard normal CDF;  gx = gy phi(x).  (GELU's recorded backward.)"""

    @staticmethod
    def forward(ctx: Context, x):
        cdf, pdf = normal_cdf(x)
        ctx.save_for_backward(x, pdf)
        return cdf

    @staticmethod
    def backward(ctx: Context, gy):
        return (gy * ctx.saved[1],)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        x = saved[0]
        return (gy * (x * x * -0.5).exp() * _INV_SQRT_2PI,)


# ----------------------------------------------------------------------------- softmax family
class Softmax(Function):
    """y_i = exp(x_i - m) / sum_j exp(x_j - m) along `dim` (m the maximum: no overflow).

    gx = y * (gy - sum_j gy_j y_j).
    """

    @staticmethod
    def forward(ctx: Context, x, *, dim):
        y = np.exp(x - x.max(axis=dim, keepdims=True))
        y /= y.sum(axis=dim, keepdims=True)
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx: Context, gy):
        (y,) = ctx.saved
        gyy = gy * y
        return (gyy - y * gyy.sum(axis=ctx.dim, keepdims=True),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        (y,) = saved
        gyy = gy * y
        return (gyy - y * gyy.sum(ctx.dim, keepdim=True),)


class LogSoftmax(Function):
    """y_i = (x_i - m) - log sum_j exp(x_j - m) along `dim`;  gx = gy - exp(y) * sum_j gy_j."""

    @staticmethod
    def forward(ctx: Context, x, *, dim):
        z = x - x.max(axis=dim, keepdims=True)
        y = z - np.log(np.exp(z).sum(axis=dim, keepdims=True))
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx: Context, gy):
        (y,) = ctx.saved
        return (gy - np.exp(y) * gy.sum(axis=ctx.dim, keepdims=True),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        (y,) = saved
        return (gy - y.exp() * gy.sum(ctx.dim, keepdim=True),)


__all__ = [
    "ELU", "GELU", "Hardsigmoid", "Hardswish", "Hardtanh", "LeakyReLU", "LogSigmoid",
    "LogSoftmax", "Mish", "NormalCDF", "PReLU", "ReLU", "SiLU", "Sigmoid", "Softmax", "Softplus",
    "Tanh", "Threshold", "erfc_nonneg", "normal_cdf",
]
