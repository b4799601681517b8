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
from numcnn.nn.functional.activation import softplus
from numcnn.nn.functional.distance import pairwise_distance
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


# ---------------------------------------------------------------------------- margin and
# embedding losses, composed from differentiable tensor ops (so second derivatives come free)
__all__ += [
    "cosine_embedding_loss", "gaussian_nll_loss", "hinge_embedding_loss", "margin_ranking_loss",
    "multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss",
    "poisson_nll_loss", "soft_margin_loss", "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    """Apply 'none' | 'mean' | 'sum' to an elementwise loss (mean of an empty loss is nan)."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _floats(fn: str, **tensors: Tensor) -> None:
    for name, t in tensors.items():
        check_tensor(t, name, fn)
        check_floating(t, name, fn)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor,
                        margin: float = 0.0, size_average: bool | None = None,
                        reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Ranking loss: loss = max(0, -target * (input1 - input2) + margin), target in {1, -1}.

    Shape:
        input1, input2, target of one size (*) -> output () or, for 'none', (*).
    """
    fn = "margin_ranking_loss"
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    _floats(fn, input1=input1, input2=input2)
    check_tensor(target, "target", fn)
    if not (input1.ndim == input2.ndim == target.ndim):
        raise RuntimeError(
            f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {list(input1.shape)}, input2: {list(input2.shape)}, target: "
            f"{list(target.shape)} "
        )
    _broadcast(fn, ("input1", input1.shape), ("input2", input2.shape), ("target", target.shape))
    loss = (-target * (input1 - input2) + margin).clamp_min(0)
    return _reduce(loss, reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """Hinge embedding loss: loss = x where y = 1, max(0, margin - x) where y = -1.

    (As PyTorch: a target that is neither 1 nor -1 contributes both terms.)

    Shape:
        input (*), target (*) broadcastable -> output () or, for 'none', the broadcast shape.
    """
    fn = "hinge_embedding_loss"
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    _floats(fn, input=input)
    check_tensor(target, "target", fn)
    _broadcast(fn, ("input", input.shape), ("target", target.shape))
    zero = input.new_zeros(())
    hinge = (margin - input).clamp_min(0).where(target != 1, zero)
    loss = hinge + input.where(target != -1, zero)
    return _reduce(loss, reduction)


def soft_margin_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                     reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Two-class logistic loss: loss = log(1 + exp(-target * input)), target in {1, -1}.

    Shape:
        input (*), target (*) -> output () or, for 'none', (*).
    """
    fn = "soft_margin_loss"
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    _pointwise_args(fn, input, target)
    return _reduce(softplus(-target * input), reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average: bool | None = None, reduce: bool | None = None,
                          reduction: str = "mean") -> Tensor:
    """Cosine embedding loss over the last dim, with
    cos = <x1, x2> / sqrt((|x1|^2 + e)(|x2|^2 + e)), e = 1e-12:
    loss = 1 - cos where target = 1, max(0, cos - margin) where target = -1.

    Shape:
        input1, input2 (N, D) or (D,); target (N) or () -> output () or, for 'none', (N) / ().
    """
    fn = "cosine_embedding_loss"
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    _floats(fn, input1=input1, input2=input2)
    check_tensor(target, "target", fn)
    if input1.ndim not in (1, 2) or input1.ndim != input2.ndim:
        raise RuntimeError(
            f"cosine_embedding_loss(): 1D target tensor expects 2D input tensors, or 0D target "
            f"expects 1D inputs, but got input1 {list(input1.shape)}, input2 "
            f"{list(input2.shape)}"
        )
    if target.ndim != input1.ndim - 1:
        raise RuntimeError(
            f"cosine_embedding_loss(): {target.ndim}D target tensor expects "
            f"{target.ndim + 1}D input tensors, but found inputs with sizes "
            f"{list(input1.shape)} and {list(input2.shape)}."
        )
    if input1.shape != input2.shape or (target.ndim == 1 and target.shape[0] != input1.shape[0]):
        raise RuntimeError(
            f"cosine_embedding_loss(): sizes do not match: input1 {list(input1.shape)}, input2 "
            f"{list(input2.shape)}, target {list(target.shape)}"
        )
    d = input1.ndim - 1
    eps = 1e-12
    dot = (input1 * input2).sum(d)
    cos = dot / ((input1 * input1).sum(d) + eps).mul((input2 * input2).sum(d) + eps).sqrt()
    zero = cos.new_zeros(())
    loss = (1 - cos).where(target == 1, zero) + (cos - margin).clamp_min(0).where(
        target == -1, zero)
    return _reduce(loss, reduction)


def _class_index_target(fn: str, input: Tensor, target: Tensor) -> np.ndarray:
    """For (N, C) or (C,) input, int64 targets (N) or () in [0, C); returns them as (N,)."""
    if target.dtype != np.int64:
        raise RuntimeError(f"{fn}(): expected target of dtype int64, got {target.dtype}")
    if input.ndim not in (1, 2) or input.shape[-1] == 0:
        raise RuntimeError(
            f"{fn}(): Expected non-empty vector or matrix with optional 0-dim batch size, but "
            f"got: {list(input.shape)}"
        )
    n = 1 if input.ndim == 1 else input.shape[0]
    y = target.array.reshape(-1)
    if target.ndim > 1 or y.shape[0] != n:
        raise RuntimeError(
            f"{fn}(): inconsistent target size: {list(target.shape)} for input of size: "
            f"{list(input.shape)}"
        )
    c = input.shape[-1]
    if y.size and (y.min() < 0 or y.max() >= c):
        raise IndexError(f"{fn}(): target out of range: targets must be in [0, {c - 1}]")
    return y


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average: bool | None = None,
                      reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss:
    loss_n = sum_{i != y_n} w[y_n] max(0, margin - x[n, y_n] + x[n, i])^p / C, p in {1, 2}.

    Shape:
        input (N, C) or (C,); target (N) or () class indices -> output () or, for 'none',
        (N) / ().
    """
    fn = "multi_margin_loss"
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    _floats(fn, input=input)
    check_tensor(target, "target", fn)
    if p not in (1, 2) or isinstance(p, bool):
        raise ValueError("only p == 1 and p == 2 supported")
    y = _class_index_target(fn, input, target)
    x = input.reshape(y.shape[0], input.shape[-1])                      # (N, C)
    c = x.shape[1]
    idx = Tensor(y.reshape(-1, 1))
    xy = x.gather(1, idx)                                               # (N, 1)
    z = (x - xy + margin).clamp_min(0)
    if p == 2:
        z = z * z
    not_target = np.ones(x.shape, dtype=bool)
    not_target[np.arange(y.shape[0]), y] = False
    z = z * Tensor(not_target.astype(x.dtype))
    if weight is not None:
        _check_class_weight(fn, weight, x)
        z = z * weight.gather(0, Tensor(y)).reshape(-1, 1)
    loss = z.sum(1) / c
    if input.ndim == 1:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                           reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Multi-label hinge loss. target[n] lists the target classes of sample n, ended by the
    first -1; with T_n that set,
    loss_n = sum_{j in T_n} sum_{i not in T_n} max(0, 1 - (x[n, j] - x[n, i])) / C.

    Shape:
        input (N, C) or (C,); target of the input's shape, int64 -> output () or, for
        'none', (N) / ().
    """
    fn = "multilabel_margin_loss"
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    _floats(fn, input=input)
    check_tensor(target, "target", fn)
    if target.dtype != np.int64:
        raise RuntimeError(f"{fn}(): expected target of dtype int64, got {target.dtype}")
    if input.ndim not in (1, 2) or input.shape[-1] == 0 or target.shape != input.shape:
        raise RuntimeError(
            f"{fn}(): Expected non-empty vector or matrix with optional 0-dim batch size and "
            f"a target of the same shape, but got input {list(input.shape)} and target "
            f"{list(target.shape)}"
        )
    c = input.shape[-1]
    x = input.reshape(-1, c)                                            # (N, C)
    y = target.array.reshape(-1, c)                                     # (N, J=C)
    valid = np.cumprod(y != -1, axis=1).astype(bool)                    # before the first -1
    if np.any((y[valid] < 0) | (y[valid] >= c)):
        raise IndexError(f"{fn}(): target out of range: targets must be in [-1, {c - 1}]")
    yv = np.where(valid, y, 0)
    is_target = np.zeros(x.shape, dtype=bool)
    rows = np.broadcast_to(np.arange(x.shape[0])[:, None], y.shape)
    is_target[rows[valid], yv[valid]] = True
    xj = x.gather(1, Tensor(yv))                                        # (N, J)
    z = (1 - xj.unsqueeze(2) + x.unsqueeze(1)).clamp_min(0)             # (N, J, C)
    mask = valid[:, :, None] & ~is_target[:, None, :]
    loss = (z * Tensor(mask.astype(x.dtype))).sum((1, 2)) / c
    if input.ndim == 1:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average: bool | None = None, reduce: bool | None = None,
                                reduction: str = "mean") -> Tensor:
    """Multi-label one-versus-all logistic loss over the last (class) dim:
    loss_n = -(1/C) sum_c w[c] (y[n,c] log sigmoid(x[n,c]) + (1 - y[n,c]) log sigmoid(-x[n,c])).

    Shape:
        input (N, C) or (C,); target of the input's shape -> output () or, for 'none', (N) / ().
    """
    fn = "multilabel_soft_margin_loss"
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    _floats(fn, input=input)
    check_tensor(target, "target", fn)
    if input.ndim == 0:
        raise RuntimeError(f"{fn}(): input must have at least one dimension")
    _broadcast(fn, ("input", input.shape), ("target", target.shape))
    # log sigmoid(x) = -softplus(-x), log sigmoid(-x) = -softplus(x)
    loss = target * softplus(-input) + (1 - target) * softplus(input)
    if weight is not None:
        check_tensor(weight, "weight", fn)
        loss = loss * weight
    d = input.ndim - 1
    loss = loss.sum(d) / input.shape[d]
    return _reduce(loss, reduction)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average: bool | None = None, eps: float = 1e-8,
                     reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Poisson negative log likelihood:
    loss = exp(input) - target * input (log_input) or input - target * log(input + eps);
    `full` adds Stirling's term target log target - target + log(2 pi target) / 2 where
    target > 1.

    Shape:
        input (*), target (*) -> output () or, for 'none', (*).
    """
    fn = "poisson_nll_loss"
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    _pointwise_args(fn, input, target)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        # the target's gradient flows through Stirling's term where target > 1 and is 0
        # elsewhere (torch gives nan where target = 0, from 0 * log 0)
        big = target > 1
        safe = target.where(big, target.new_ones(()))
        stirling = safe * safe.log() - safe + 0.5 * (2 * np.pi * safe).log()
        loss = loss + stirling.where(big, target.new_zeros(()))
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """Gaussian negative log likelihood:
    loss = (log(max(var, eps)) + (input - target)^2 / max(var, eps)) / 2 (+ log(2 pi) / 2 with
    `full`); the clamp of var is invisible to autograd (as PyTorch's).

    Shape:
        input (N, *) or (*); target like input (or broadcastable); var like input, or with
        its last dim 1, or without it (one variance per sample), or a float -> output () or,
        for 'none', input's shape.
    """
    fn = "gaussian_nll_loss"
    check_tensor(input, "input", fn)
    check_tensor(target, "target", fn)
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = input.new_full(tuple(input.shape), float(var))
    check_tensor(var, "var", fn)
    variance: Tensor = var  # type: ignore[assignment]
    if variance.shape != input.shape:
        if input.shape[:-1] == variance.shape:
            variance = variance.unsqueeze(-1)
        elif not (input.shape[:-1] == variance.shape[:-1] and variance.ndim
                  and variance.shape[-1] == 1):
            raise ValueError("var is of incorrect size")
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    if bool((variance.array < 0).any()):
        raise ValueError("var has negative entry/entries")
    v = variance + (variance.clamp_min(eps) - variance).detach()
    loss = 0.5 * (v.log() + (input - target) ** 2 / v)
    if full:
        loss = loss + 0.5 * float(np.log(2 * np.pi))
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2, eps: float = 1e-6, swap: bool = False,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Tensor:
    """Triplet loss with pairwise p-norm distances d(a, b) = ||a - b + eps||_p:
    loss = max(d(a, p) - d(a, n) + margin, 0); with `swap`, d(a, n) becomes
    min(d(a, n), d(p, n)).

    Shape:
        anchor, positive, negative (N, D) or (D,) -> output () or, for 'none', (N) / ().
    """
    fn = "triplet_margin_loss"
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    _check_triplet(fn, anchor, positive, negative)
    if margin <= 0:
        raise ValueError(f"{fn}: expected margin to be greater than 0, got {margin} instead")
    d_ap = pairwise_distance(anchor, positive, p, eps)
    d_an = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_an = d_an.minimum(pairwise_distance(positive, negative, p, eps))
    return _reduce((d_ap - d_an + margin).clamp_min(0), reduction)


def _check_triplet(fn: str, a: Tensor, p: Tensor, n: Tensor) -> None:
    _floats(fn, anchor=a, positive=p, negative=n)
    if not (a.ndim == p.ndim == n.ndim) or a.ndim not in (1, 2):
        raise RuntimeError(
            f"{fn}(): The anchor, positive, and negative tensors are expected to have the same "
            f"number of dimensions (1 or 2), but got: anchor {a.ndim}D, positive {p.ndim}D, "
            f"and negative {n.ndim}D inputs"
        )


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function: object = None, margin: float = 1.0,
                                      swap: bool = False, reduction: str = "mean") -> Tensor:
    """Triplet loss with any distance (default `pairwise_distance`):
    loss = max(d(a, p) - d(a, n) + margin, 0); `swap` uses min(d(a, n), d(p, n)).

    Shape:
        anchor, positive, negative (N, D) or (D,) -> output () or, for 'none', (N) / ().
    """
    fn = "triplet_margin_with_distance_loss"
    reduction = _check_reduction(reduction)
    if margin <= 0:
        raise ValueError(f"{fn}: expected margin to be greater than 0, got {margin} instead")
    _check_triplet(fn, anchor, positive, negative)
    dist = pairwise_distance if distance_function is None else distance_function
    if not callable(dist):
        raise TypeError(f"{fn}(): distance_function must be callable or None")
    d_ap = dist(anchor, positive)
    d_an = dist(anchor, negative)
    if swap:
        d_an = d_an.minimum(dist(positive, negative))
    return _reduce((d_ap - d_an + margin).clamp_min(0), reduction)
