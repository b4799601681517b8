"""Loss kernels: fused, numerically stable forward and backward on ndarrays.

Axis legend: N batch, C classes, S the trailing spatial axes (d1, d2, ...), possibly none.
Class scores always sit on axis 1: x (N, C, *S); class-index targets y (N, *S).
Unbatched inputs (C,) get a batch axis N = 1 inside the kernels, removed again on the way out.

Every kernel takes `reduction` in {"none", "mean", "sum"} and returns the per-element losses,
their mean or their sum.  Backward turns the upstream gradient `gy` (shape of the output) into a
per-element factor `g` with `_per_element`: gy itself for "none", gy for "sum", gy / count for
"mean" (the class-index losses divide by the total target weight instead of a count).

Weights (`weight`, `pos_weight`) are configuration for the class-index and binary losses, as in
PyTorch, where they are not differentiable; the soft-label cross entropy differentiates through
its weight, as PyTorch's composite implementation does.
"""

from __future__ import annotations

import numpy as np

from numcnn.autograd.function import Context, Function
from numcnn.ops.activation import LogSigmoid

_LOG_CLAMP = -100.0     # PyTorch clamps BCE's logs to >= -100 so a 0 or 1 probability is finite
_BCE_EPS = 1e-12        # and BCE's backward divides by max(x (1 - x), 1e-12)


def _reduce(loss: np.ndarray, reduction: str) -> np.ndarray:
    """Per-element losses -> 'none' (as is), 'sum' or 'mean' (nan for no elements)."""
    if reduction == "none":
        return loss
    if reduction == "sum":
        return np.asarray(np.sum(loss))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.sum(loss) / loss.size if loss.size else np.nan, dtype=loss.dtype)


def _per_element(gy: np.ndarray, reduction: str, count: int) -> np.ndarray:
    """The upstream gradient of each element's loss: gy, gy, or gy / count for 'mean'."""
    if reduction == "mean":
        return gy / count if count else gy * 0
    return gy


def _class_shape(ndim: int) -> tuple[int, ...]:
    """Shape that broadcasts a (C,) vector along axis 1 of an (N, C, *S) array."""
    return (1, -1) + (1,) * (ndim - 2)


# ---------------------------------------------------------------------------- class indices
def _log_softmax(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stable log-softmax over axis 1: z = x - max x, log p = z - log sum exp z.

    Returns (log p, p), both (N, C, *S).
    """
    z = x - np.max(x, axis=1, keepdims=True)
    e = np.exp(z)
    s = np.sum(e, axis=1, keepdims=True)
    z -= np.log(s)
    e /= s
    return z, e


def _target_index(shape: tuple[int, ...], target: np.ndarray, ignore_index: int):
    """Flat indices into a C-ordered (N, C, *S) array of each target's entry, and the keep mask.

    flat[n, *s] = ((n * C) + y[n, *s]) * L + s_linear, L = prod(S); ignored targets point at
    class 0 (their weight is zeroed by `keep`).
    """
    n, c = shape[0], shape[1]
    spatial = int(np.prod(shape[2:], dtype=np.int64))
    keep = target != ignore_index                               # (N, *S)
    y = (target if keep.all() else np.where(keep, target, 0)).astype(np.int64, copy=False)
    base = np.arange(n, dtype=np.int64) * (c * spatial)         # (N,)
    if spatial == 1 and len(shape) == 2:
        flat = base + y
    else:
        pos = np.arange(spatial, dtype=np.int64).reshape(shape[2:])
        flat = base.reshape((n,) + (1,) * (len(shape) - 2)) + y * spatial + pos
    return flat, keep


def _upstream(gy: np.ndarray, reduction: str, denom, keep: np.ndarray, dtype) -> np.ndarray:
    """Per-target upstream gradient (N, *S) for the class-index losses; 0 where ignored."""
    if reduction == "none":
        g = np.reshape(gy, keep.shape)
    elif reduction == "sum":
        g = np.broadcast_to(gy, keep.shape)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            g = np.broadcast_to(gy / denom, keep.shape)
    return np.where(keep, g, 0).astype(dtype, copy=False)


def _finish(loss: np.ndarray, w_y: np.ndarray, reduction: str, unbatched: bool, dtype):
    """Reduce class-index losses; 'mean' divides by the total target weight sum_n w[y_n]."""
    if reduction == "none":
        return (loss.reshape(()) if unbatched else loss), None
    if reduction == "sum":
        return np.asarray(np.sum(loss)), None
    denom = np.sum(w_y)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.sum(loss) / denom, dtype=dtype), denom


class CrossEntropy(Function):
    """Fused log-softmax + negative log-likelihood for class-index targets.

    With p = softmax(x) over classes, ε = label_smoothing, K = C classes, for each sample n
    (and spatial position) whose target y_n is not ignore_index::

        loss_n = (1 - ε) * (-w[y_n] log p[n, y_n]) + (ε / K) * (-sum_c w[c] log p[n, c])

    and 0 for ignored ones.  'mean' divides the sum by sum_n w[y_n] over the kept samples (nan
    when nothing is kept), exactly as PyTorch does for both terms.  Stable form: with
    z = x - max_c x and lse = log sum_c exp z, -log p[n, c] = lse_n - z[n, c].
    The gradient needs no graph::

        d loss_n / d x[n, j] = ((1 - ε) w[y_n] + (ε / K) sum_c w[c]) p[n, j]
                               - (1 - ε) w[y_n] [j == y_n] - (ε / K) w[j]

    x: (N, C, *S) or (C,) floating; target (N, *S) or () integer (already validated);
    weight (C,) or None.
    """

    @staticmethod
    def forward(ctx: Context, x, *, target, weight=None, ignore_index=-100, reduction="mean",
                label_smoothing=0.0):
        x_in = x
        unbatched = x.ndim == 1
        if unbatched:                                   # (C,) -> (1, C)
            x, target = x[None], np.reshape(target, (1,))
        num_classes = x.shape[1]
        flat, keep = _target_index(x.shape, target, ignore_index)     # (N, *S) each
        w_y = weight.take(np.where(keep, target, 0)) * keep if weight is not None \
            else keep.astype(x.dtype)
        z = np.subtract(x, np.max(x, axis=1, keepdims=True), order="C")   # (N, C, *S)
        z_y = z.reshape(-1)[flat]                                          # (N, *S)
        eps = float(label_smoothing) if label_smoothing > 0 else 0.0
        if eps:
            wb = weight.reshape(_class_shape(x.ndim)) if weight is not None else None
            z_sum = np.sum(z * wb if wb is not None else z, axis=1)       # sum_c w[c] z[n, c]
        e = np.exp(z, out=z)                                               # exp z, in place
        s = np.sum(e, axis=1)                                              # (N, *S)
        lse = np.log(s)
        loss = w_y * (lse - z_y)
        if eps:
            total_w = num_classes if weight is None else np.sum(weight)
            smooth = (total_w * lse - z_sum) * keep
            loss = (1.0 - eps) * loss + (eps / num_classes) * smooth
        out, denom = _finish(loss, w_y, reduction, unbatched, x.dtype)
        # x (the logits) is saved as well, for a recorded backward (create_graph)
        ctx.save_for_backward(e, s, flat, w_y, keep, x_in)
        ctx.weight, ctx.eps, ctx.denom = weight, eps, denom
        ctx.reduction, ctx.unbatched = reduction, unbatched
        return out

    @staticmethod
    def backward(ctx: Context, gy):
        e, s, flat, w_y, keep = ctx.saved[:5]
        eps, weight, num_classes = ctx.eps, ctx.weight, e.shape[1]
        g = _upstream(gy, ctx.reduction, ctx.denom, keep, e.dtype)       # (N, *S)
        hit = (1.0 - eps) * w_y * g                   # weight of the one-hot term, (N, *S)
        coef = hit
        if eps:
            total_w = num_classes if weight is None else np.sum(weight)
            coef = hit + (eps / num_classes) * total_w * g
        gx = np.multiply(e, (coef / s)[:, None], order="C")             # coef * p, (N, C, *S)
        gx.reshape(-1)[flat] -= hit                   # one target per row: no repeated index
        if eps:
            w = 1.0 if weight is None else weight.reshape(_class_shape(e.ndim))
            gx -= (eps / num_classes) * w * g[:, None]
        if ctx.unbatched:
            gx = gx[0]
        return (gx,)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        # the closed form above in recorded ops: gx = coef p - hit onehot - (eps/K) w g
        e, _, flat, w_y, keep, x = saved
        x = x.unsqueeze(0) if ctx.unbatched else x
        eps, weight, num_classes = ctx.eps, ctx.weight, x.shape[1]
        g = _upstream_graph(gy, ctx.reduction, ctx.denom, keep.array)  # (N, *S)
        hit = g * ((1.0 - eps) * w_y.array)
        coef = hit
        if eps:
            total_w = num_classes if weight is None else float(np.sum(weight))
            coef = hit + g * ((eps / num_classes) * total_w)
        onehot = np.zeros(x.shape, dtype=x.dtype)
        onehot.reshape(-1)[flat.array] = 1.0
        gx = x.softmax(1) * coef.unsqueeze(1) - hit.unsqueeze(1) * onehot
        if eps:
            w = 1.0 if weight is None else weight.reshape(_class_shape(x.ndim))
            gx = gx - g.unsqueeze(1) * ((eps / num_classes) * w)
        return (gx.squeeze(0) if ctx.unbatched else gx,)


def _upstream_graph(gy, reduction: str, denom, keep: np.ndarray):
    """`_upstream` in recorded ops (gy a Tensor): the per-target upstream gradient (N, *S)."""
    if reduction == "none":
        return gy.reshape(keep.shape) * keep
    if reduction == "mean":
        gy = gy / denom
    return gy * keep.astype(gy.dtype)


class NLLLoss(Function):
    """Negative log-likelihood of log-probabilities x at class-index targets y.

    loss_n = -w[y_n] x[n, y_n] (0 where y_n == ignore_index); 'mean' divides by sum_n w[y_n].
    d loss_n / d x[n, j] = -w[y_n] [j == y_n].

    x: (N, C, *S) or (C,); target (N, *S) or () integer; weight (C,) or None.
    """

    @staticmethod
    def forward(ctx: Context, x, *, target, weight=None, ignore_index=-100, reduction="mean"):
        unbatched = x.ndim == 1
        if unbatched:
            x, target = x[None], np.reshape(target, (1,))
        flat, keep = _target_index(x.shape, target, ignore_index)
        w_y = weight.take(np.where(keep, target, 0)) * keep if weight is not None \
            else keep.astype(x.dtype)
        loss = -w_y * np.ravel(x, order="C")[flat]
        out, denom = _finish(loss, w_y, reduction, unbatched, x.dtype)
        ctx.save_for_backward(flat, w_y, keep)
        ctx.shape, ctx.dtype, ctx.denom = x.shape, x.dtype, denom
        ctx.reduction, ctx.unbatched = reduction, unbatched
        return out

    @staticmethod
    def backward(ctx: Context, gy):
        flat, w_y, keep = ctx.saved
        g = _upstream(gy, ctx.reduction, ctx.denom, keep, ctx.dtype)
        gx = np.zeros(ctx.shape, dtype=ctx.dtype)       # (N, C, *S)
        gx.reshape(-1)[flat] = -w_y * g
        if ctx.unbatched:
            gx = gx[0]
        return (gx,)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        flat, w_y, keep = saved                       # linear in gy, independent of x
        g = _upstream_graph(gy, ctx.reduction, ctx.denom, keep.array)
        pick = np.zeros(ctx.shape, dtype=ctx.dtype)   # (N, C, *S): -w[y_n] at the targets
        pick.reshape(-1)[flat.array] = -w_y.array
        gx = g.unsqueeze(1) * pick
        return (gx.squeeze(0) if ctx.unbatched else gx,)


# ---------------------------------------------------------------------------- class probabilities
class SoftCrossEntropy(Function):
    """Cross entropy against class-probability targets t (same shape as x).

    With t' = (1 - ε) t + ε / K (K classes, ε = label_smoothing) and log p = log_softmax(x)::

        loss_n = -sum_c w[c] t'[n, c] log p[n, c]
        d/dx[n, j] = p[n, j] sum_c w[c] t'[n, c] - w[j] t'[n, j]
        d/dt[n, j] = -(1 - ε) w[j] log p[n, j]
        d/dw[j]    = -sum_n t'[n, j] log p[n, j]

    'mean' divides by the number of samples (numel / K), not by the weights.
    x, t: (N, C, *S) or (C,); weight (C,) or None.
    """

    @staticmethod
    def forward(ctx: Context, x, t, weight=None, *, reduction="mean", label_smoothing=0.0):
        x0, t0 = x, t
        unbatched = x.ndim == 1
        if unbatched:
            x, t = x[None], t[None]
        num_classes = x.shape[1]
        logp, _ = _log_softmax(x)
        eps = float(label_smoothing) if label_smoothing > 0 else 0.0
        ts = t * (1.0 - eps) + eps / num_classes if eps else t      # t'
        wb = weight.reshape(_class_shape(x.ndim)) if weight is not None else None
        wt = ts * wb if wb is not None else ts                       # w[c] t'[n, c]
        loss = -np.sum(wt * logp, axis=1)                            # (N, *S)
        if reduction == "none" and unbatched:
            loss = loss.reshape(())
        ctx.save_for_backward(logp, ts, wt, wb, x0, t0, weight)   # the last three: the graph
        ctx.eps, ctx.reduction, ctx.unbatched = eps, reduction, unbatched
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx: Context, gy):
        logp, ts, wt, wb = ctx.saved[:4]
        n = logp.size // logp.shape[1]
        g = _per_element(gy, ctx.reduction, n)
        g = np.reshape(g, (-1,) + logp.shape[2:])[:, None] if g.ndim else g   # (N, 1, *S)
        gx = gt = gw = None
        if ctx.needs_input_grad[0]:
            gx = (np.exp(logp) * np.sum(wt, axis=1, keepdims=True) - wt) * g
        if ctx.needs_input_grad[1]:
            gt = -(1.0 - ctx.eps) * logp * g
            if wb is not None:
                gt = gt * wb
        if len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2]:
            axes = (0,) + tuple(range(2, logp.ndim))
            gw = -np.sum(ts * logp * g, axis=axes)
        if ctx.unbatched:
            gx = gx[0] if gx is not None else None
            gt = gt[0] if gt is not None else None
        return gx, gt, gw

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        # the formulas above in recorded ops, log p and t' recomputed from x and t
        x, t, weight = saved[4:]
        need = ctx.needs_input_grad
        if ctx.unbatched:
            x, t = x.unsqueeze(0), t.unsqueeze(0)
        k, eps = x.shape[1], ctx.eps
        logp = x.log_softmax(1)
        ts = t * (1.0 - eps) + eps / k if eps else t
        wb = None if weight is None else weight.reshape(_class_shape(x.ndim))
        wt = ts if wb is None else ts * wb
        if ctx.reduction == "none":
            g = gy.reshape((-1, *x.shape[2:])).unsqueeze(1)   # (N, 1, *S)
        else:
            g = gy / (x.numel() // k) if ctx.reduction == "mean" else gy
        gx = (logp.exp() * wt.sum(1, keepdim=True) - wt) * g if need[0] else None
        gt = None
        if need[1]:
            gt = logp * g * (-(1.0 - eps))
            gt = gt if wb is None else gt * wb
        gw = None
        if len(need) > 2 and need[2]:
            gw = -(ts * logp * g).sum((0, *range(2, x.ndim)))
        if ctx.unbatched:
            gx = gx.squeeze(0) if gx is not None else None
            gt = gt.squeeze(0) if gt is not None else None
        return gx, gt, gw


# ---------------------------------------------------------------------------- regression
class _Pointwise(Function):
    """Base of losses f(d) of the difference d = x - y (broadcast); subclasses give f and f'.

    d loss / d x = g f'(d), d loss / d y = -g f'(d); the engine sums broadcast axes back.
    """

    @staticmethod
    def value(d, **params):
        raise NotImplementedError

    @staticmethod
    def slope(d, **params):
        raise NotImplementedError

    @staticmethod
    def slope_graph(d, dv, **params):
        """f'(d) in recorded ops, for d a Tensor (dv its array); piecewise-constant slopes
        may be returned as arrays."""
        raise NotImplementedError

    @classmethod
    def forward(cls, ctx: Context, x, y, *, reduction="mean", **params):
        d = np.subtract(x, y)
        # x and y themselves are saved (d is formed again in backward, a cheap subtraction):
        # a recorded backward (create_graph) then sees them with their history
        ctx.save_for_backward(x, y)
        ctx.reduction, ctx.params = reduction, params
        return _reduce(cls.value(d, **params), reduction)

    @classmethod
    def backward(cls, ctx: Context, gy):
        x, y = ctx.saved
        d = np.subtract(x, y)
        g = _per_element(gy, ctx.reduction, d.size) * cls.slope(d, **ctx.params)
        return (g if ctx.needs_input_grad[0] else None,
                -g if ctx.needs_input_grad[1] else None)

    @classmethod
    def backward_graph(cls, ctx: Context, gy, saved):
        x, y = saved
        d = x - y
        if ctx.reduction == "mean":
            gy = gy / d.numel() if d.numel() else gy * 0
        g = gy * cls.slope_graph(d, d.array, **ctx.params)
        return (g if ctx.needs_input_grad[0] else None,
                -g if ctx.needs_input_grad[1] else None)


class MSELoss(_Pointwise):
    """loss = (x - y)^2;  d/dx = 2 (x - y)."""

    @staticmethod
    def value(d):
        return d * d

    @staticmethod
    def slope(d):
        return 2.0 * d

    @staticmethod
    def slope_graph(d, dv):
        return 2.0 * d


class L1Loss(_Pointwise):
    """loss = |x - y|;  d/dx = sign(x - y) (0 at 0)."""

    @staticmethod
    def value(d):
        return np.abs(d)

    @staticmethod
    def slope(d):
        return np.sign(d)

    @staticmethod
    def slope_graph(d, dv):
        return np.sign(dv)


class SmoothL1Loss(_Pointwise):
    """loss = 0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta;  d/dx = d / beta or sign(d).

    beta == 0 is the L1 loss.
    """

    @staticmethod
    def value(d, beta=1.0):
        a = np.abs(d)
        if beta == 0:
            return a
        return np.where(a < beta, (0.5 / beta) * d * d, a - 0.5 * beta)

    @staticmethod
    def slope(d, beta=1.0):
        if beta == 0:
            return np.sign(d)
        return np.where(np.abs(d) < beta, d / beta, np.sign(d))

    @staticmethod
    def slope_graph(d, dv, beta=1.0):
        if beta == 0:
            return np.sign(dv)
        inside = np.abs(dv) < beta
        return d * (inside / beta) + np.sign(dv) * ~inside


class HuberLoss(_Pointwise):
    """loss = 0.5 d^2 if |d| <= delta else delta (|d| - 0.5 delta);  d/dx = clip(d, ±delta)."""

    @staticmethod
    def value(d, delta=1.0):
        a = np.abs(d)
        return np.where(a <= delta, 0.5 * d * d, delta * (a - 0.5 * delta))

    @staticmethod
    def slope(d, delta=1.0):
        return np.clip(d, -delta, delta)

    @staticmethod
    def slope_graph(d, dv, delta=1.0):
        return d.clamp(-delta, delta)


# ---------------------------------------------------------------------------- binary
class BinaryCrossEntropy(Function):
    """loss = -w (y max(log x, -100) + (1 - y) max(log(1 - x), -100)), x in [0, 1].

    d/dx = w (x - y) / max(x (1 - x), 1e-12);   d/dy = w (log(1 - x) - log x)  (= -w logit x,
    unclamped, as PyTorch).  weight broadcasts against x.
    """

    @staticmethod
    def forward(ctx: Context, x, y, *, weight=None, reduction="mean"):
        with np.errstate(divide="ignore"):
            log_x = np.maximum(np.log(x), _LOG_CLAMP)
            log_1mx = np.maximum(np.log1p(-x), _LOG_CLAMP)
        loss = (y - 1.0) * log_1mx - y * log_x
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(x, y, weight)
        ctx.reduction, ctx.count = reduction, loss.size
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx: Context, gy):
        x, y, weight = ctx.saved
        g = _per_element(gy, ctx.reduction, ctx.count)
        if weight is not None:
            g = g * weight
        gx = gt = None
        if ctx.needs_input_grad[0]:
            gx = g * (x - y) / np.maximum(x * (1.0 - x), _BCE_EPS)
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gt = g * (np.log1p(-x) - np.log(x))
        return gx, gt

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        x, y, weight = saved
        g = gy / ctx.count if ctx.reduction == "mean" else gy
        if weight is not None:
            g = g * weight
        gx = gt = None
        if ctx.needs_input_grad[0]:
            gx = g * (x - y) / (x * (1.0 - x)).clamp(min=_BCE_EPS)
        if ctx.needs_input_grad[1]:
            gt = g * ((1.0 - x).log() - x.log())
        return gx, gt


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    """log sigmoid(x) = min(x, 0) - log(1 + exp(-|x|)), finite for any x."""
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


class BinaryCrossEntropyWithLogits(Function):
    """BCE on logits, never forming sigmoid(x) before the log.

    With l = 1 + (pos_weight - 1) y (1 when pos_weight is None)::

        loss  = w ((1 - y) x - l log sigmoid(x))
        d/dx  = w ((pos_weight y + 1 - y) sigmoid(x) - pos_weight y)
        d/dy  = w (log sigmoid(-x) - pos_weight log sigmoid(x))      (= -w x without pos_weight)

    weight broadcasts against x, pos_weight against y (typically (C,) along the last axis).
    """

    @staticmethod
    def forward(ctx: Context, x, y, *, weight=None, pos_weight=None, reduction="mean"):
        ls = _log_sigmoid(x)
        if pos_weight is not None:
            loss = (1.0 - y) * x - (1.0 + (pos_weight - 1.0) * y) * ls
        else:
            loss = (1.0 - y) * x - ls
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(x, y, ls, weight, pos_weight)
        ctx.reduction, ctx.count = reduction, loss.size
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx: Context, gy):
        x, y, ls, weight, pw = ctx.saved
        g = _per_element(gy, ctx.reduction, ctx.count)
        if weight is not None:
            g = g * weight
        sig = np.exp(ls)
        gx = gt = None
        if ctx.needs_input_grad[0]:
            if pw is not None:
                py = pw * y
                gx = g * ((py + 1.0 - y) * sig - py)
            else:
                gx = g * (sig - y)
        if ctx.needs_input_grad[1]:
            if pw is not None:
                gt = g * ((ls - x) - pw * ls)          # log sigmoid(-x) = log sigmoid(x) - x
            else:
                gt = -g * x
        return gx, gt

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        x, y, _, weight, pw = saved
        g = gy / ctx.count if ctx.reduction == "mean" else gy
        if weight is not None:
            g = g * weight
        gx = gt = None
        if ctx.needs_input_grad[0]:
            sig = x.sigmoid()
            if pw is not None:
                py = pw * y
                gx = g * ((py + 1.0 - y) * sig - py)
            else:
                gx = g * (sig - y)
        if ctx.needs_input_grad[1]:
            if pw is not None:
                ls = LogSigmoid.apply(x)
                gt = g * ((ls - x) - pw * ls)
            else:
                gt = -g * x
        return gx, gt


# ---------------------------------------------------------------------------- divergence
class KLDiv(Function):
    """Pointwise KL divergence with log-probability input x and target t.

    loss = t (log t - x), taken as 0 where t == 0 (PyTorch's xlogy(t, t) - t x);
    with log_target: loss = exp(t) (t - x).
    d/dx = -t (or -exp t);  d/dt = log t + 1 - x (or exp(t) (t - x + 1)).
    'batchmean' divides the sum by x.shape[0] (the sum for a 0-d input).
    """

    @staticmethod
    def forward(ctx: Context, x, t, *, reduction="mean", log_target=False):
        if log_target:
            et = np.exp(t)
            loss = et * (t - x)
        else:
            et = None
            with np.errstate(divide="ignore", invalid="ignore"):
                tlogt = np.where(t == 0, 0.0, t * np.log(t))
            loss = tlogt - t * x
        ctx.save_for_backward(x, t, et)
        ctx.reduction, ctx.log_target, ctx.count = reduction, log_target, loss.size
        ctx.batch = x.shape[0] if x.ndim else 1
        if reduction == "batchmean":
            return np.asarray(np.sum(loss) / ctx.batch, dtype=loss.dtype)
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx: Context, gy):
        x, t, et = ctx.saved
        if ctx.reduction == "batchmean":
            g = gy / ctx.batch
        else:
            g = _per_element(gy, ctx.reduction, ctx.count)
        gx = gt = None
        if ctx.needs_input_grad[0]:
            gx = -g * (et if ctx.log_target else t)
        if ctx.needs_input_grad[1]:
            if ctx.log_target:
                gt = g * et * (t - x + 1.0)
            else:
                # xlogy(t, t)' = xlogy(t != 0, t) + t / t (nan at t == 0, as PyTorch)
                with np.errstate(divide="ignore", invalid="ignore"):
                    gt = g * (np.where(t != 0, np.log(t), 0.0) + t / t - x)
        return gx, gt

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        # the derivatives above in recorded ops; log t taken where t != 0 only, from a t with
        # 1 in place of 0, so that no 0 * inf enters the graph (t / t keeps torch's nan at 0)
        x, t = saved[0], saved[1]
        if ctx.reduction == "batchmean":
            g = gy / ctx.batch
        elif ctx.reduction == "mean":
            g = gy / ctx.count if ctx.count else gy * 0
        else:
            g = gy
        gx = gt = None
        if ctx.needs_input_grad[0]:
            gx = -g * (t.exp() if ctx.log_target else t)
        if ctx.needs_input_grad[1]:
            if ctx.log_target:
                gt = g * t.exp() * (t - x + 1.0)
            else:
                live = t.array != 0
                with np.errstate(divide="ignore", invalid="ignore"):
                    gt = g * (t.where(live, 1.0).log() + t / t - x)
        return gx, gt

