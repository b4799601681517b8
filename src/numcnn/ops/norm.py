"""Normalisation kernels: batch, instance, group and layer norm, and local response norm.

Axis legend: N batch, C channels, L = H*W (or D*H*W, or 1) the spatial positions flattened,
G groups, Cg = C/G channels per group, R rows (layer norm; or N*L pixels of channels-last
batch-norm input), D features (layer norm), M the number of values one mean/variance is taken
over.

Batch norm (Ioffe & Szegedy 2015; the lecture's Algorithm 1), for one channel c over its
M = N*L values:

    mu    = 1/M sum_i x_i                      (mini-batch mean)
    var   = 1/M sum_i (x_i - mu)^2             (BIASED variance: used to normalise)
    xhat  = (x - mu) / sqrt(var + eps)
    y     = w * xhat + b

and the chain rule through mu and var collapses to one closed form (gy = dL/dy):

    dx = (w / (M sqrt(var + eps))) * (M gy - sum(gy) - xhat * sum(gy * xhat))
    dw = sum(gy * xhat),  db = sum(gy)

Instance, group and layer norm are the same standardisation over other axes; when the scale
w varies inside one normalised set (group, layer norm) gy is first multiplied by w
(gxhat = gy * w) and the closed form is applied to gxhat with w = 1.

Running statistics (batch and instance norm, training only) are updated in place, without
gradient, as PyTorch does:

    running_mean = (1 - momentum) * running_mean + momentum * mu
    running_var  = (1 - momentum) * running_var  + momentum * var * M / (M - 1)   (UNBIASED)
"""

from __future__ import annotations

import math

import numpy as np

from numcnn.autograd.function import Context, Function
from numcnn.autograd.linear_map import linear_map


def _as_dtype(a: np.ndarray | None, dtype: np.dtype) -> np.ndarray | None:
    """A parameter array in the input's dtype (so float32 stays float32)."""
    return None if a is None else np.asarray(a, dtype=dtype)


def _update_running(running: np.ndarray | None, batch: np.ndarray, momentum: float) -> None:
    """running <- (1 - momentum) * running + momentum * batch, in place and without grad."""
    if running is None:
        return
    flat = running.reshape(-1)
    flat *= 1.0 - momentum
    flat += momentum * batch.astype(running.dtype, copy=False)


def _plane_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, C, L), (N, C, L) -> (N, C): sum over l of a*b, without an (N, C, L) temporary."""
    return np.einsum("ncl,ncl->nc", a, b)


class _ChannelView:
    """A 2-D-or-3-D view of an (N, C, *) array in which every channel's values are easy to reach.

    NCL:  C-contiguous (N, C, *) memory -> an (N, C, L) view; sums over axes 0 and 2.
    RC:   channels-last memory (an NCHW view of NHWC data, or a plain (N, C) matrix) ->
          R = N*L rows of C values, viewed "wide" as (R/k, k*C) with k*C about 512 (column j
          is channel j % C); sums over axis 0, per-channel vectors tiled k times (`col`).
          NumPy runs its inner loop along the last axis: a (C,) vector broadcast over narrow
          (R, C) rows costs 1.1-3x the wide form's time here (the more, the fewer channels).
    Either way no copy is made when the array already has that layout, and the output is
    given back in the input's layout.
    """

    def __init__(self, x: np.ndarray) -> None:
        n, c = x.shape[0], x.shape[1]
        spatial = int(np.prod(x.shape[2:], dtype=np.int64))
        self.shape = x.shape
        self.rows = x.ndim == 2 or (not x.flags.c_contiguous
                                    and np.moveaxis(x, 1, -1).flags.c_contiguous)
        self.k = math.gcd(n * spatial, max(1, 512 // max(c, 1)))
        self.wide_shape = (n * spatial // self.k, self.k * c) if self.k else (0, c)
        self.view_shape = self.wide_shape if self.rows else (n, c, spatial)

    def view(self, a: np.ndarray) -> np.ndarray:
        """An array of the input's logical shape as (R/k, k*C) or (N, C, L) (copies only if
        needed)."""
        if self.rows:
            return np.moveaxis(a, 1, -1).reshape(self.view_shape)
        return a.reshape(self.view_shape)

    def unview(self, a: np.ndarray) -> np.ndarray:
        """Back to the logical (N, C, *) shape."""
        if self.rows:
            n, c = self.shape[0], self.shape[1]
            return np.moveaxis(a.reshape((n, *self.shape[2:], c)), -1, 1)
        return a.reshape(self.shape)

    def col(self, v: np.ndarray) -> np.ndarray:
        """A per-channel (C,) vector, broadcastable against the view."""
        if self.rows:
            return np.tile(v, self.k) if self.k > 1 else v
        return v[:, None]

    def _unwide(self, v: np.ndarray) -> np.ndarray:
        """(k*C,) partial sums of the wide rows -> (C,)."""
        return v.reshape(self.k, -1).sum(axis=0) if self.k > 1 else v

    def sum(self, a: np.ndarray) -> np.ndarray:
        """sum over everything but the channel -> (C,)."""
        if self.rows:
            return self._unwide(a.sum(axis=0))
        return a.sum(axis=(0, 2))

    def dot(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """sum of a*b over everything but the channel -> (C,), without a full-size temporary."""
        if self.rows:
            return self._unwide(np.einsum("rc,rc->c", a, b))
        return _plane_dot(a, b).sum(axis=0)


class BatchNorm(Function):
    """Batch norm over (N, *spatial) for each channel, fused into one node.

    Training: normalise with the batch mean and biased variance and (when given) update the
    running statistics in place.  Eval: y = (x - running_mean) / sqrt(running_var + eps) * w + b.
    See the module docstring for the formulas.

    Memory traffic is what costs here (a fresh 12 MB array costs more in page faults than the
    arithmetic on it), so forward and backward each allocate ONE input-sized array and work
    in place in it; x itself is saved rather than xhat, and a channels-last input is worked on
    in its own layout (see `_ChannelView`).
    """

    @staticmethod
    def forward(ctx: Context, x, weight, bias, *, running_mean=None, running_var=None,
                training=True, momentum=0.1, eps=1e-5):
        cv = _ChannelView(x)
        xv = cv.view(x)                                        # (N, C, L) or (R/k, k*C)
        w = _as_dtype(weight, x.dtype)
        b = _as_dtype(bias, x.dtype)
        m = x.size // x.shape[1] if x.shape[1] else 0          # values per channel, N*L
        ctx.cv, ctx.count, ctx.training = cv, m, training
        with np.errstate(divide="ignore", invalid="ignore"):
            if training:
                mean = cv.sum(xv) / m                          # (C,)
                y = xv - cv.col(mean)                          # centred, becomes the output
                var = cv.dot(y, y) / m                         # (C,), biased
                inv_std = 1.0 / np.sqrt(var + eps)             # (C,)
                _update_running(running_mean, mean, momentum)
                if running_var is not None:
                    unbiased = var * (m / (m - 1)) if m > 1 else np.full_like(var, np.nan)
                    _update_running(running_var, unbiased, momentum)
            else:
                mean = np.asarray(running_mean, dtype=x.dtype).reshape(-1)
                inv_std = 1.0 / np.sqrt(np.asarray(running_var, dtype=x.dtype).reshape(-1) + eps)
                y = xv - cv.col(mean)
            scale = inv_std if w is None else w * inv_std      # (C,): y = (x - mean) * scale + b
            y *= cv.col(scale)
            if b is not None:
                y += cv.col(b)
        # xv is a view of x: saving x and weight as well costs nothing, and gives a recorded
        # backward (create_graph) the two with their history
        ctx.save_for_backward(xv, mean, inv_std, scale, x, weight)
        ctx.eps = eps
        return cv.unview(y)

    @staticmethod
    def backward(ctx: Context, gy):
        need_x, need_w, need_b = ctx.needs_input_grad
        xv, mean, inv_std, k = ctx.saved[:4]                   # k = w / sqrt(var + eps)
        cv, m = ctx.cv, ctx.count
        gyv = cv.view(gy)                                      # as x
        with np.errstate(divide="ignore", invalid="ignore"):
            sum_gy = cv.sum(gyv) if (need_b or (need_x and ctx.training)) else None
            if need_w or (need_x and ctx.training):
                buf = xv - cv.col(mean)                        # x - mu, becomes gx
                sum_gy_xhat = cv.dot(gyv, buf) * inv_std       # (C,) = dw
            else:
                buf, sum_gy_xhat = None, None
            gx = None
            if need_x and ctx.training:
                # dx = k/M (M gy - sum(gy) - xhat sum(gy xhat)) = k (gy + (x - mu) a + c)
                buf *= cv.col(-inv_std * sum_gy_xhat / m)      # a = -inv_std sum(gy xhat) / M
                buf -= cv.col(sum_gy / m)                      # c = -sum(gy) / M
                buf += gyv
                buf *= cv.col(k)
                gx = cv.unview(buf)
            elif need_x:                                       # eval: y = x * k + const
                gx = cv.unview(np.multiply(gyv, cv.col(k), out=buf))
        return gx, (sum_gy_xhat if need_w else None), (sum_gy if need_b else None)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        # the module docstring's formulas in recorded ops, with mu and var recomputed from x so
        # that their dependence on x is differentiated too (training)
        need_x, need_w, need_b = ctx.needs_input_grad
        mean, inv_std, x, w = saved[1], saved[2], saved[4], saved[5]
        axes = (0, *range(2, x.ndim))
        col = (1, -1) + (1,) * (x.ndim - 2)                    # a (C,) vector along axis 1
        if ctx.training:
            xc = x - x.mean(axes, keepdim=True)
            inv = ((xc * xc).mean(axes, keepdim=True) + ctx.eps).rsqrt()
        else:
            xc = x - mean.reshape(col)                         # running statistics: constants
            inv = inv_std.reshape(col)
        xhat = xc * inv
        gx = None
        if need_x:
            gxhat = gy if w is None else gy * w.reshape(col)
            if ctx.training:
                gx = inv * (gxhat - gxhat.mean(axes, keepdim=True)
                            - xhat * (gxhat * xhat).mean(axes, keepdim=True))
            else:
                gx = gxhat * inv
        gw = (gy * xhat).sum(axes) if need_w else None
        gb = gy.sum(axes) if need_b else None
        return gx, gw, gb


class InstanceNorm(Function):
    """Instance norm with the input's own statistics: each (n, c) plane over its L positions.

    y[n, c] = (x[n, c] - mu[n, c]) / sqrt(var[n, c] + eps) * w[c] + b[c], biased var; the
    running statistics (when given) move toward the batch average of mu and of the unbiased
    var.  Normalising with running statistics instead is batch norm in eval mode.  Same
    closed-form backward as batch norm, with sums over l only.
    """

    @staticmethod
    def forward(ctx: Context, x, weight, bias, *, running_mean=None, running_var=None,
                momentum=0.1, eps=1e-5):
        n, c = x.shape[0], x.shape[1]
        spatial = int(np.prod(x.shape[2:], dtype=np.int64))
        x3 = x.reshape(n, c, spatial)                          # (N, C, L)
        w = _as_dtype(weight, x.dtype)
        b = _as_dtype(bias, x.dtype)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = x3.sum(axis=2, keepdims=True) / spatial     # (N, C, 1)
            y = x3 - mean                                      # (N, C, L), centred
            var = _plane_dot(y, y)[..., None] / spatial  # (N, C, 1), biased
            inv_std = 1.0 / np.sqrt(var + eps)                 # (N, C, 1)
            _update_running(running_mean, mean[..., 0].mean(axis=0), momentum)
            if running_var is not None:
                unbiased = var[..., 0] * (spatial / (spatial - 1)) if spatial > 1 \
                    else np.full_like(var[..., 0], np.nan)
                _update_running(running_var, unbiased.mean(axis=0), momentum)
        scale = inv_std if w is None else w[:, None] * inv_std  # (N, C, 1)
        y *= scale
        if b is not None:
            y += b[:, None]
        ctx.save_for_backward(x3, mean, inv_std, scale, x, weight)   # x, weight: for the graph
        ctx.x_shape, ctx.count, ctx.eps = x.shape, spatial, eps
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx: Context, gy):
        need_x, need_w, need_b = ctx.needs_input_grad
        x3, mean, inv_std, k = ctx.saved[:4]
        gy3 = gy.reshape(x3.shape)                             # (N, C, L)
        m = ctx.count
        sum_gy = gy3.sum(axis=2, keepdims=True)                # (N, C, 1)
        buf = x3 - mean                                        # (N, C, L), becomes gx
        sum_gy_xhat = _plane_dot(gy3, buf)[..., None] * inv_std   # (N, C, 1)
        gx = None
        if need_x:
            buf *= -inv_std * sum_gy_xhat / m
            buf -= sum_gy / m
            buf += gy3
            buf *= k
            gx = buf.reshape(ctx.x_shape)
        gw = sum_gy_xhat[..., 0].sum(axis=0) if need_w else None
        gb = sum_gy[..., 0].sum(axis=0) if need_b else None
        return gx, gw, gb

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        need_x, need_w, need_b = ctx.needs_input_grad
        x, w = saved[4], saved[5]
        n, c, m = x.shape[0], x.shape[1], ctx.count
        gy3 = gy.reshape(n, c, m)                              # (N, C, L)
        gx, xhat = _standardize_graph(x.reshape(n, c, m), gy3,
                                      None if w is None else w.reshape(1, c, 1), (2,), ctx.eps)
        return (gx.reshape(ctx.x_shape) if need_x else None,
                (gy3 * xhat).sum((0, 2)) if need_w else None,
                gy3.sum((0, 2)) if need_b else None)


def _standardize_backward(gxhat: np.ndarray, xhat: np.ndarray, inv_std: np.ndarray,
                          axes: tuple[int, ...], m: int) -> np.ndarray:
    """dx from dxhat for xhat = (x - mu) * inv_std standardised over `axes` (M values each):

    dx = inv_std / M * (M gxhat - sum(gxhat) - xhat * sum(gxhat * xhat))
    """
    sum_g = gxhat.sum(axis=axes, keepdims=True)
    sum_gx = (gxhat * xhat).sum(axis=axes, keepdims=True)
    gx = gxhat - xhat * (sum_gx / m)
    gx -= sum_g / m
    gx *= inv_std
    return gx


def _standardize_graph(x, gy, w, axes: tuple[int, ...], eps: float):
    """`_standardize_backward` in recorded ops (create_graph=True), mu and var recomputed from x
    so that their dependence on x is differentiated too.  x, gy: Tensors in a layout where the
    normalised sets run over `axes`; w: the scale broadcastable to it, or None.

    Returns (dx, xhat): dx = inv_std (gxhat - mean(gxhat) - xhat mean(gxhat xhat)), gxhat = gy w.
    """
    xc = x - x.mean(axes, keepdim=True)
    inv = ((xc * xc).mean(axes, keepdim=True) + eps).rsqrt()
    xhat = xc * inv
    gxhat = gy if w is None else gy * w
    gx = inv * (gxhat - gxhat.mean(axes, keepdim=True)
                - xhat * (gxhat * xhat).mean(axes, keepdim=True))
    return gx, xhat


class GroupNorm(Function):
    """Group norm: channels split into G groups; each (n, g) normalised over its Cg*L values.

    y[n, c] = (x[n, c] - mu[n, g(c)]) / sqrt(var[n, g(c)] + eps) * w[c] + b[c], biased var.
    """

    @staticmethod
    def forward(ctx: Context, x, weight, bias, *, num_groups, eps=1e-5):
        n, c = x.shape[0], x.shape[1]
        g = num_groups
        spatial = int(np.prod(x.shape[2:], dtype=np.int64))
        x4 = x.reshape(n, g, c // g, spatial)                  # (N, G, Cg, L)
        w = _as_dtype(weight, x.dtype)
        b = _as_dtype(bias, x.dtype)
        m = (c // g) * spatial
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = x4.sum(axis=(2, 3), keepdims=True) / m      # (N, G, 1, 1)
            xhat = x4 - mean                                   # (N, G, Cg, L)
            var = (xhat * xhat).sum(axis=(2, 3), keepdims=True) / m
            inv_std = 1.0 / np.sqrt(var + eps)                 # (N, G, 1, 1)
            xhat *= inv_std
        w4 = None if w is None else w.reshape(1, g, c // g, 1)
        y = xhat * w4 if w4 is not None else xhat.copy()
        if b is not None:
            y += b.reshape(1, g, c // g, 1)
        ctx.save_for_backward(xhat, inv_std, w4, x, weight)   # x, weight: for the graph
        ctx.shape, ctx.count, ctx.eps, ctx.groups = x.shape, m, eps, g
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx: Context, gy):
        need_x, need_w, need_b = ctx.needs_input_grad
        xhat, inv_std, w4 = ctx.saved[:3]
        gy4 = gy.reshape(xhat.shape)                           # (N, G, Cg, L)
        gx = gw = gb = None
        if need_x:
            gxhat = gy4 if w4 is None else gy4 * w4
            gx = _standardize_backward(gxhat, xhat, inv_std, (2, 3), ctx.count)
            gx = gx.reshape(ctx.shape)
        if need_w:
            gw = np.einsum("ngkl,ngkl->gk", gy4, xhat).reshape(-1)   # (C,)
        if need_b:
            gb = gy4.sum(axis=(0, 3)).reshape(-1)              # (C,)
        return gx, gw, gb

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        need_x, need_w, need_b = ctx.needs_input_grad
        x, w = saved[3], saved[4]
        n, c, g = ctx.shape[0], ctx.shape[1], ctx.groups
        four = (n, g, c // g, math.prod(ctx.shape[2:]))        # (N, G, Cg, L)
        gy4 = gy.reshape(four)
        gx, xhat = _standardize_graph(x.reshape(four), gy4,
                                      None if w is None else w.reshape(1, g, c // g, 1),
                                      (2, 3), ctx.eps)
        return (gx.reshape(ctx.shape) if need_x else None,
                (gy4 * xhat).sum((0, 3)).reshape(-1) if need_w else None,
                gy4.sum((0, 3)).reshape(-1) if need_b else None)


class LayerNorm(Function):
    """Layer norm over the last k dims (D values per row), elementwise affine of shape (D...).

    y[r] = (x[r] - mu[r]) / sqrt(var[r] + eps) * w + b, biased var per row r.
    """

    @staticmethod
    def forward(ctx: Context, x, weight, bias, *, normalized_ndim, eps=1e-5):
        d = int(np.prod(x.shape[x.ndim - normalized_ndim:], dtype=np.int64))
        x2 = x.reshape(-1, d) if x.size else x.reshape(0, d)   # (R, D)
        w = _as_dtype(weight, x.dtype)
        b = _as_dtype(bias, x.dtype)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = x2.sum(axis=1, keepdims=True) / d           # (R, 1)
            xhat = x2 - mean                                   # (R, D)
            var = np.einsum("rd,rd->r", xhat, xhat)[:, None] / d   # (R, 1), biased
            inv_std = 1.0 / np.sqrt(var + eps)
            xhat *= inv_std
        w1 = None if w is None else w.reshape(1, d)
        y = xhat * w1 if w1 is not None else xhat.copy()
        if b is not None:
            y += b.reshape(1, d)
        ctx.save_for_backward(xhat, inv_std, w1, x, weight)   # x, weight: for the graph
        ctx.shape, ctx.count, ctx.eps = x.shape, d, eps
        ctx.wshape = None if weight is None else np.shape(weight)
        ctx.bshape = None if bias is None else np.shape(bias)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx: Context, gy):
        need_x, need_w, need_b = ctx.needs_input_grad
        xhat, inv_std, w1 = ctx.saved[:3]
        gy2 = gy.reshape(xhat.shape)                           # (R, D)
        gx = gw = gb = None
        if need_x:
            gxhat = gy2 if w1 is None else gy2 * w1
            gx = _standardize_backward(gxhat, xhat, inv_std, (1,), ctx.count)
            gx = gx.reshape(ctx.shape)
        if need_w:
            gw = np.einsum("rd,rd->d", gy2, xhat).reshape(ctx.wshape)   # sum_r gy*xhat
        if need_b:
            gb = gy2.sum(axis=0).reshape(ctx.bshape)
        return gx, gw, gb

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        need_x, need_w, need_b = ctx.needs_input_grad
        x, w = saved[3], saved[4]
        d = ctx.count
        two = (x.numel() // d if d else 0, d)                 # (R, D)
        gy2 = gy.reshape(two)
        gx, xhat = _standardize_graph(x.reshape(two), gy2,
                                      None if w is None else w.reshape(1, d), (1,), ctx.eps)
        return (gx.reshape(ctx.shape) if need_x else None,
                (gy2 * xhat).sum(0).reshape(ctx.wshape) if need_w else None,
                gy2.sum(0).reshape(ctx.bshape) if need_b else None)


def _window_sum(a: np.ndarray, before: int, after: int) -> np.ndarray:
    """s[:, c] = sum_{j = c - before}^{c + after} a[:, j], zero outside [0, C) (channel axis 1).

    A loop over the window offsets (kernel offsets, not pixels).
    """
    c = a.shape[1]
    s = np.zeros_like(a)
    for off in range(-before, after + 1):
        lo, hi = max(0, -off), min(c, c - off)                 # output channels with c+off valid
        if lo < hi:
            s[:, lo:hi] += a[:, lo + off:hi + off]
    return s


class LocalResponseNorm(Function):
    """AlexNet's local response normalisation across channels, PyTorch's exact formula:

        d[c] = k + alpha / size * sum_{j = c - size//2}^{c + (size-1)//2} x[j]^2   (zero padded)
        y[c] = x[c] / d[c]^beta

    (the window sum is always divided by `size`, also at the edges, like an average pool over
    zero padding).  Backward, with S^T the window sum with mirrored offsets:

        dx = gy / d^beta - 2 alpha beta / size * x * S^T(gy * y / d)
    """

    @staticmethod
    def forward(ctx: Context, x, *, size, alpha=1e-4, beta=0.75, k=1.0):
        # x: (N, C, *)
        before, after = size // 2, (size - 1) // 2
        d = _window_sum(x * x, before, after)
        d /= size
        d *= alpha
        d += k                                                 # (N, C, *)
        den = d ** beta
        y = x / den
        ctx.save_for_backward(x, y, d, den)
        ctx.params, ctx.k = (size, alpha, beta), k
        return y

    @staticmethod
    def backward(ctx: Context, gy):
        x, y, d, den = ctx.saved
        size, alpha, beta = ctx.params
        before, after = size // 2, (size - 1) // 2
        t = _window_sum(gy * y / d, after, before)             # transposed window
        gx = gy / den
        gx -= (2.0 * alpha * beta / size) * x * t
        return (gx,)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        # the formulas above in recorded ops, d recomputed from x; the window sum S is linear
        # (its adjoint S^T is the window sum with mirrored offsets)
        x = saved[0]
        size, alpha, beta = ctx.params
        k = ctx.k
        before, after = size // 2, (size - 1) // 2

        def window(a, lo: int, hi: int):
            return linear_map(a, lambda v: _window_sum(v, lo, hi),
                              lambda v: _window_sum(v, hi, lo))
        d = window(x * x, before, after) * (alpha / size) + k
        den = d ** beta
        t = window(gy * (x / den) / d, after, before)
        return (gy / den - (2.0 * alpha * beta / size) * x * t,)
