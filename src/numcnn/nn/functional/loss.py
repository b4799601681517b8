"""Loss functions with torch.nn.functional's names, signatures and defaults.

Each function checks its arguments (raising the error type PyTorch raises for the same mistake,
with a message naming the argument, the value given and what is allowed) and then calls one fused
kernel from `numcnn.ops.loss`.
"""

from __future__ import annotations

import warnings

import numpy as np

from numcnn.autograd.function import Function
from numcnn.autograd.grad_mode import is_grad_enabled
from numcnn.nn.functional._checks import check_floating, check_tensor
from numcnn.ops import loss as L
from numcnn.tensor import Tensor

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "mse_loss",
    "nll_loss",
    "smooth_l1_loss",
]

_REDUCTIONS = ("none", "mean", "sum")


# ---------------------------------------------------------------------------- argument checks
def _legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """Map the deprecated size_average/reduce flags onto `reduction`, warning like PyTorch."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        ret = "mean"
    elif reduce:
        ret = "sum"
    else:
        ret = "none"
    warnings.warn(
        f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.",
        UserWarning, stacklevel=3,
    )
    return ret


def _check_reduction(reduction: object, allowed: tuple[str, ...] = _REDUCTIONS) -> str:
    if not isinstance(reduction, str) or reduction not in allowed:
        raise ValueError(
            f"{reduction} is not a valid value for reduction; allowed: "
            + ", ".join(repr(a) for a in allowed)
        )
    return reduction


def _check_no_grad(fn: str, name: str, t: Tensor | None) -> None:
    """PyTorch's class-index and binary losses are not differentiable w.r.t. their weights."""
    if t is not None and t.requires_grad and is_grad_enabled():
        raise RuntimeError(
            f"{fn}(): not differentiable with respect to argument '{name}'; "
            f"pass {name}.detach() (it cannot have requires_grad=True)"
        )


def _broadcast(fn: str, *pairs: tuple[str, tuple[int, ...]]) -> tuple[int, ...]:
    """The common broadcast shape of the named shapes, or a RuntimeError naming them."""
    try:
        return np.broadcast_shapes(*(s for _, s in pairs))
    except ValueError:
        shapes = ", ".join(f"{n} {tuple(s)}" for n, s in pairs)
        raise RuntimeError(f"{fn}(): shapes do not broadcast: {shapes}") from None


def _check_class_weight(fn: str, weight: Tensor | None, input: Tensor) -> np.ndarray | None:
    """weight must be a (C,) tensor of the input's dtype; returns its array."""
    if weight is None:
        return None
    check_tensor(weight, "weight", fn)
    num_classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    if weight.ndim != 1 or weight.shape[0] != num_classes:
        raise RuntimeError(
            f"{fn}(): weight tensor should be defined either for all {num_classes} classes or "
            f"no classes but got weight tensor of shape: {list(weight.shape)}"
        )
    if weight.dtype != input.dtype:
        raise RuntimeError(
            f"{fn}(): weight has dtype {weight.dtype} but input has dtype {input.dtype}; "
            "they must match"
        )
    return weight.array


def _class_targets(fn: str, input: Tensor, target: Tensor, ignore_index: int) -> np.ndarray:
    """Validate class-index targets against input (N, C, *S) or (C,); returns them as (N, *S)."""
    if target.dtype not in (np.int64, np.uint8):
        raise RuntimeError(
            f"{fn}(): expected target dtype to be int64 (or uint8) class indices, but got "
            f"{target.dtype}"
        )
    if input.ndim == 0:
        raise ValueError(f"{fn}(): input must have shape (C,) or (N, C, ...), got a 0-d tensor")
    if input.ndim > 2 and target.dtype != np.int64:
        raise RuntimeError(
            f"{fn}(): spatial targets (input {tuple(input.shape)}) must be int64 class indices, "
            f"got {target.dtype} (as PyTorch, uint8 targets are accepted for (N, C) input only)"
        )
    y = target.array
    if input.ndim == 1:
        if y.ndim > 1:
            raise RuntimeError(
                f"{fn}(): 0D or 1D target tensor expected for input of shape {tuple(input.shape)}"
                f", multi-target not supported (got target shape {tuple(y.shape)})"
            )
        if y.ndim == 1 and y.shape[0] != 1:
            raise ValueError(
                f"{fn}(): For 1D input, 1D target must have size 1, but got target size: "
                f"{y.shape[0]}"
            )
        y = y.reshape(())
    else:
        batch = y.shape[0] if y.ndim else 0
        if batch != input.shape[0]:
            raise ValueError(
                f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                f"({batch})."
            )
        if input.ndim == 2 and y.ndim != 1:
            raise RuntimeError(
                f"{fn}(): 0D or 1D target tensor expected, multi-target not supported "
                f"(input {tuple(input.shape)}, target {tuple(y.shape)})"
            )
        if input.ndim > 2:
            if y.ndim != input.ndim - 1:
                raise RuntimeError(
                    f"{fn}(): only batches of spatial targets supported ({input.ndim - 1}D "
                    f"tensors) but got targets of dimension: {y.ndim}"
                )
            if y.shape[1:] != input.shape[2:]:
                raise RuntimeError(
                    f"{fn}(): size mismatch (got input: {list(input.shape)} , target: "
                    f"{list(y.shape)}); target must be input's shape without the class axis 1"
                )
    num_classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    if y.size and 0 <= y.min() and y.max() < num_classes:
        return y                                        # the common case: all in range
    bad = (y != ignore_index) & ((y < 0) | (y >= num_classes))
    if np.any(bad):
        first = y[bad].flat[0]
        raise IndexError(
            f"Target {first} is out of bounds. ({fn}: class indices must be in "
            f"[0, {num_classes - 1}] or equal ignore_index={ignore_index})"
        )
    return y


def _check_label_smoothing(label_smoothing: float) -> float:
    if not isinstance(label_smoothing, (int, float, np.floating)) or isinstance(
            label_smoothing, bool):
        raise TypeError(
            f"label_smoothing must be a float in [0.0, 1.0], got {type(label_smoothing).__name__}"
        )
    if not 0.0 <= label_smoothing <= 1.0:
        # PyTorch raises for > 1 and silently treats a negative value as 0; we refuse both.
        raise RuntimeError(
            f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}"
        )
    return float(label_smoothing)


def _pointwise_args(fn: str, input: Tensor, target: Tensor) -> None:
    """Same-size check with PyTorch's broadcasting warning; a clear error when shapes clash."""
    check_tensor(input, "input", fn)
    check_tensor(target, "target", fn)
    if input.shape != target.shape:
        warnings.warn(
            f"Using a target size ({tuple(target.shape)}) that is different to the input size "
            f"({tuple(input.shape)}). This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.",
            UserWarning, stacklevel=3,
        )
        _broadcast(fn, ("input", input.shape), ("target", target.shape))
    if np.result_type(input.dtype, target.dtype).kind != "f":
        raise TypeError(
            f"{fn}(): input and target must give a floating point loss, got input {input.dtype} "
            f"and target {target.dtype}"
        )


# ---------------------------------------------------------------------------- classification
def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average: bool | None = None, ignore_index: int = -100,
                  reduce: bool | None = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross entropy between softmax(input) over the class axis 1 and the target.

    Class-index target y (integers; entries equal to ``ignore_index`` are skipped), with
    p = softmax(input), K classes and ε = ``label_smoothing``::

        loss_n = (1 - ε) * (-w[y_n] log p[n, y_n]) + (ε / K) * (-sum_c w[c] log p[n, c])
        'mean' = sum_n loss_n / sum_n w[y_n]     (over non-ignored n; nan if none is left)

    Class-probability target t (floating, same shape as input), t' = (1 - ε) t + ε / K::

        loss_n = -sum_c w[c] t'[n, c] log p[n, c],    'mean' = sum_n loss_n / N

    Computed as one fused log-softmax + NLL kernel (max-subtracted, so huge logits stay finite).

    Args:
        input: unnormalised scores (logits).
        target: class indices (int64 or uint8) or class probabilities.
        weight: (C,) rescaling weight per class.
        size_average, reduce: deprecated; use ``reduction``.
        ignore_index: target value that contributes neither loss nor gradient (index targets).
        reduction: 'none' | 'mean' | 'sum'.
        label_smoothing: ε in [0, 1].

    Shape:
        input (C,), (N, C) or (N, C, d1, d2, ...);
        target (), (N) or (N, d1, d2, ...) of indices, or the input's shape for probabilities;
        output () for 'mean'/'sum', else the target's shape (without C for probabilities).
    """
    fn = "cross_entropy"
    check_tensor(input, "input", fn)
    check_tensor(target, "target", fn)
    check_tensor(weight, "weight", fn, optional=True)
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    label_smoothing = _check_label_smoothing(label_smoothing)
    check_floating(input, "input", fn)
    if input.ndim == 0:
        raise ValueError(f"{fn}(): input must have shape (C,) or (N, C, ...), got a 0-d tensor")
    if target.shape == input.shape:
        if target.dtype.kind != "f":
            raise RuntimeError(
                f"{fn}(): Expected floating point type for target with class probabilities "
                f"(target has the input's shape {tuple(input.shape)}), got {target.dtype}"
            )
        w = _check_class_weight(fn, weight, input)
        return L.SoftCrossEntropy.apply(input, target, weight if w is not None else None,
                                        reduction=reduction, label_smoothing=label_smoothing)
    y = _class_targets(fn, input, target, ignore_index)
    w = _check_class_weight(fn, weight, input)
    _check_no_grad(fn, "weight", weight)
    return L.CrossEntropy.apply(input, target=y, weight=w, ignore_index=ignore_index,
                                reduction=reduction, label_smoothing=label_smoothing)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
             size_average: bool | None = None, ignore_index: int = -100,
             reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` at class-index ``target``.

    loss_n = -w[y_n] input[n, y_n] (0 where y_n == ignore_index);
    'mean' = sum_n loss_n / sum_n w[y_n] over the non-ignored n (nan if none is left).

    Args:
        input: log-probabilities (e.g. from log_softmax).
        target: class indices (int64 or uint8).
        weight: (C,) rescaling weight per class.
        size_average, reduce: deprecated; use ``reduction``.
        ignore_index: target value that contributes neither loss nor gradient.
        reduction: 'none' | 'mean' | 'sum'.

    Shape:
        input (C,), (N, C) or (N, C, d1, ...); target (), (N) or (N, d1, ...);
        output () for 'mean'/'sum', else the target's shape.
    """
    fn = "nll_loss"
    check_tensor(input, "input", fn)
    check_tensor(target, "target", fn)
    check_tensor(weight, "weight", fn, optional=True)
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    check_floating(input, "input", fn)
    y = _class_targets(fn, input, target, ignore_index)
    w = _check_class_weight(fn, weight, input)
    _check_no_grad(fn, "weight", weight)
    return L.NLLLoss.apply(input, target=y, weight=w, ignore_index=ignore_index,
                           reduction=reduction)


# ---------------------------------------------------------------------------- regression
def mse_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
             reduce: bool | None = None, reduction: str = "mean",
             weight: Tensor | None = None) -> Tensor:
    """Mean squared error: loss = (input - target)^2, elementwise, then reduced.

    Args:
        input, target: broadcastable tensors (a size mismatch warns, as in PyTorch).
        size_average, reduce: deprecated; use ``reduction``.
        reduction: 'none' | 'mean' | 'sum'.
        weight: elementwise weight of the input's shape, or None; with it 'mean' is
            sum(weight * loss) / sum(weight).

    Shape:
        input (*), target (*) -> output () or, for 'none', the broadcast shape.
    """
    fn = "mse_loss"
    _pointwise_args(fn, input, target)
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if weight is not None:
        return _weighted(fn, L.MSELoss, input, target, weight, reduction, by_weight=True)
    return L.MSELoss.apply(input, target, reduction=reduction)


def l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
            reduce: bool | None = None, reduction: str = "mean",
            weight: Tensor | None = None) -> Tensor:
    """Mean absolute error: loss = |input - target|, elementwise, then reduced.

    The gradient at input == target is 0 (sign(0)), as in PyTorch.

    Args:
        input, target: broadcastable tensors (a size mismatch warns).
        size_average, reduce: deprecated; use ``reduction``.
        reduction: 'none' | 'mean' | 'sum'.
        weight: elementwise weight of the input's shape, or None; with it 'mean' is
            sum(weight * loss) / sum(weight).

    Shape:
        input (*), target (*) -> output () or, for 'none', the broadcast shape.
    """
    fn = "l1_loss"
    _pointwise_args(fn, input, target)
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if weight is not None:
        return _weighted(fn, L.L1Loss, input, target, weight, reduction, by_weight=True)
    return L.L1Loss.apply(input, target, reduction=reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                   reduce: bool | None = None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """Smooth L1: quadratic near zero, linear beyond ``beta``.

    With d = input - target: loss = 0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta
    (beta = 0 gives the L1 loss).

    Args:
        input, target: broadcastable tensors (a size mismatch warns).
        size_average, reduce: deprecated; use ``reduction``.
        reduction: 'none' | 'mean' | 'sum'.
        beta: the switch point, >= 0.

    Shape:
        input (*), target (*) -> output () or, for 'none', the broadcast shape.
    """
    fn = "smooth_l1_loss"
    _pointwise_args(fn, input, target)
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if beta < 0:
        raise RuntimeError(
            f"smooth_l1_loss does not support negative values for beta (got beta={beta}); "
            "beta must be >= 0"
        )
    return L.SmoothL1Loss.apply(input, target, reduction=reduction, beta=float(beta))


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """Huber loss: quadratic near zero, linear with slope ``delta`` beyond it.

    With d = input - target: loss = 0.5 d^2 if |d| <= delta else delta (|d| - 0.5 delta)
    (= delta * smooth_l1 with beta = delta).

    Args:
        input, target: broadcastable tensors (a size mismatch warns).
        reduction: 'none' | 'mean' | 'sum'.
        delta: the switch point, > 0.
        weight: elementwise weight of the input's shape, or None ('mean' = mean(weight * loss)).

    Shape:
        input (*), target (*) -> output () or, for 'none', the broadcast shape.
    """
    fn = "huber_loss"
    _pointwise_args(fn, input, target)
    reduction = _check_reduction(reduction)
    if delta <= 0:
        raise RuntimeError(
            f"huber_loss does not support non-positive values for delta (got delta={delta}); "
            "delta must be > 0"
        )
    if weight is not None:
        return _weighted(fn, L.HuberLoss, input, target, weight, reduction, by_weight=False,
                         delta=float(delta))
    return L.HuberLoss.apply(input, target, reduction=reduction, delta=float(delta))


def _weighted(fn: str, loss_fn: type[Function], input: Tensor, target: Tensor, weight: Tensor,
              reduction: str, by_weight: bool, **params: float) -> Tensor:
    """(loss * weight) reduced, for the optional elementwise weights of the regression losses.

    As PyTorch: 'mean' is sum(w loss) / sum(w) for mse/l1 (`by_weight`) and mean(w loss) for
    huber; the weight is differentiable (it is plain graph arithmetic here).
    """
    check_tensor(weight, "weight", fn)
    if weight.shape != input.shape:
        raise ValueError(
            f"{fn}(): Weights and input must have the same size (weight {tuple(weight.shape)}, "
            f"input {tuple(input.shape)})."
        )
    out = loss_fn.apply(input, target, reduction="none", **params) * weight
    if reduction == "sum":
        return out.sum()
    if reduction == "mean":
        return out.sum() / weight.sum() if by_weight else out.mean()
    return out


# ---------------------------------------------------------------------------- binary
def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """Binary cross entropy between probabilities ``input`` and ``target``.

    loss = -w (y max(log x, -100) + (1 - y) max(log(1 - x), -100)) with x = input, y = target;
    the clamp keeps the loss finite at x = 0 or 1, as PyTorch does.

    Args:
        input: probabilities in [0, 1].
        target: the same shape as input, values in [0, 1].
        weight: rescaling weight, broadcastable to the target's shape.
        size_average, reduce: deprecated; use ``reduction``.
        reduction: 'none' | 'mean' | 'sum'.

    Shape:
        input (*), target (*) the same shape -> output () or, for 'none', (*).
    """
    fn = "binary_cross_entropy"
    check_tensor(input, "input", fn)
    check_tensor(target, "target", fn)
    check_tensor(weight, "weight", fn, optional=True)
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if target.shape != input.shape:
        raise ValueError(
            f"Using a target size ({tuple(target.shape)}) that is different to the input size "
            f"({tuple(input.shape)}) is deprecated. Please ensure they have the same size."
        )
    check_floating(input, "input", fn)
    if target.dtype != input.dtype:
        raise RuntimeError(
            f"{fn}(): target has dtype {target.dtype} but input has dtype {input.dtype}; "
            "they must match"
        )
    if not np.all((input.array >= 0) & (input.array <= 1)):
        raise RuntimeError(
            f"{fn}(): all elements of input should be between 0 and 1 (they are probabilities; "
            "use binary_cross_entropy_with_logits for raw scores)"
        )
    if not np.all((target.array >= 0) & (target.array <= 1)):
        raise RuntimeError(f"{fn}(): all elements of target should be between 0 and 1")
    w = None
    if weight is not None:
        _broadcast(fn, ("weight", weight.shape), ("target", target.shape))
        _check_no_grad(fn, "weight", weight)
        w = weight.array.astype(input.dtype, copy=False)
    return L.BinaryCrossEntropy.apply(input, target, weight=w, reduction=reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None,
                                     size_average: bool | None = None,
                                     reduce: bool | None = None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid + binary cross entropy in one numerically stable step.

    With x = input, y = target, l = 1 + (pos_weight - 1) y::

        loss = w ((1 - y) x - l log sigmoid(x)),  log sigmoid(x) = min(x, 0) - log(1 + e^-|x|)

    Args:
        input: raw scores (logits).
        target: the same shape as input, usually in [0, 1].
        weight: rescaling weight, broadcastable to the input's shape.
        size_average, reduce: deprecated; use ``reduction``.
        reduction: 'none' | 'mean' | 'sum'.
        pos_weight: weight of the positive term, broadcast along the last axis (one per class).

    Shape:
        input (*), target (*) the same shape, pos_weight (C,) broadcastable ->
        output () or, for 'none', (*).
    """
    fn = "binary_cross_entropy_with_logits"
    check_tensor(input, "input", fn)
    check_tensor(target, "target", fn)
    check_tensor(weight, "weight", fn, optional=True)
    check_tensor(pos_weight, "pos_weight", fn, optional=True)
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if target.shape != input.shape:
        raise ValueError(
            f"Target size ({tuple(target.shape)}) must be the same as input size "
            f"({tuple(input.shape)})"
        )
    check_floating(input, "input", fn)
    dtype = np.result_type(input.dtype, target.dtype)
    w = pw = None
    if weight is not None:
        _broadcast(fn, ("weight", weight.shape), ("input", input.shape))
        _check_no_grad(fn, "weight", weight)
        w = weight.array.astype(dtype, copy=False)
    if pos_weight is not None:
        _broadcast(fn, ("pos_weight", pos_weight.shape), ("target", target.shape))
        _check_no_grad(fn, "pos_weight", pos_weight)
        pw = pos_weight.array.astype(dtype, copy=False)
    return L.BinaryCrossEntropyWithLogits.apply(input, target, weight=w, pos_weight=pw,
                                                reduction=reduction)


# ---------------------------------------------------------------------------- divergence
def kl_div(input: Tensor, target: Tensor, size_average: bool | None = None,
           reduce: bool | None = None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence, pointwise, with log-probability ``input``.

    loss = target (log target - input)   (0 where target == 0), or with ``log_target``
    loss = exp(target) (target - input).  'batchmean' = sum / N, the true KL per sample;
    'mean' divides by every element (and warns, as PyTorch does).

    Args:
        input: log-probabilities.
        target: probabilities (or log-probabilities with ``log_target=True``), broadcastable.
        size_average, reduce: deprecated; use ``reduction``.
        reduction: 'none' | 'batchmean' | 'sum' | 'mean'.
        log_target: whether ``target`` is given in log space.

    Shape:
        input (*), target (*) -> output () or, for 'none', the broadcast shape.
    """
    fn = "kl_div"
    check_tensor(input, "input", fn)
    check_tensor(target, "target", fn)
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce, reduction)
    reduction = _check_reduction(reduction, ("none", "batchmean", "sum", "mean"))
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.",
            UserWarning, stacklevel=2,
        )
    if input.shape != target.shape:
        _broadcast(fn, ("input", input.shape), ("target", target.shape))
    if np.result_type(input.dtype, target.dtype).kind != "f":
        raise TypeError(
            f"{fn}(): input and target must give a floating point loss, got input {input.dtype} "
            f"and target {target.dtype}"
        )
    return L.KLDiv.apply(input, target, reduction=reduction, log_target=bool(log_target))
