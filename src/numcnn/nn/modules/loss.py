"""Loss modules mirroring torch.nn: thin holders of the options, calling nn.functional.

As in PyTorch, class weights are registered buffers (`weight`, and `pos_weight` for
BCEWithLogitsLoss), so they follow `.to(dtype)` and appear in `state_dict` when not None.
"""

from __future__ import annotations

from numcnn.nn import functional as F
from numcnn.nn.functional.loss import _legacy_reduction
from numcnn.nn.module import Module
from numcnn.tensor import Tensor

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "MSELoss",
    "NLLLoss",
    "SmoothL1Loss",
]


class _Loss(Module):
    """Base: stores `reduction` (mapping the deprecated size_average/reduce flags onto it)."""

    reduction: str

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = _legacy_reduction(size_average, reduce, reduction)


class _WeightedLoss(_Loss):
    """Base of the losses with a per-class `weight` buffer."""

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """Cross entropy of softmax(input) over class axis 1 against class indices or probabilities.

    loss_n = (1 - ε) (-w[y_n] log p[n, y_n]) + (ε / K) (-sum_c w[c] log p[n, c]); 'mean'
    divides by sum_n w[y_n] (see `numcnn.nn.functional.cross_entropy`).

    Shape:
        input (C,), (N, C) or (N, C, d1, ...); target (), (N) or (N, d1, ...) class indices,
        or the input's shape for probabilities; output () or, with reduction='none', (N, d1, ...).
    """

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood: loss_n = -w[y_n] input[n, y_n]; 'mean' divides by sum w[y_n].

    Shape:
        input (C,), (N, C) or (N, C, d1, ...) log-probabilities; target (), (N) or (N, d1, ...);
        output () or, with reduction='none', the target's shape.
    """

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 ignore_index: int = -100, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error: loss = (input - target)^2, reduced.

    Shape:
        input (*), target (*) -> output () or, with reduction='none', (*).
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error: loss = |input - target|, reduced.

    Shape:
        input (*), target (*) -> output () or, with reduction='none', (*).
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """loss = 0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta, d = input - target.

    Shape:
        input (*), target (*) -> output () or, with reduction='none', (*).
    """

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """loss = 0.5 d^2 if |d| <= delta else delta (|d| - 0.5 delta), d = input - target.

    Shape:
        input (*), target (*) -> output () or, with reduction='none', (*).
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCELoss(_WeightedLoss):
    """Binary cross entropy of probabilities: loss = -w (y log x + (1 - y) log(1 - x)).

    Shape:
        input (*), target (*) the same shape -> output () or, with reduction='none', (*).
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, weight=self.weight,
                                      reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + BCE, stable: loss = w ((1 - y) x - (1 + (pos_weight - 1) y) log sigmoid(x)).

    Shape:
        input (*), target (*) the same shape, pos_weight broadcast along the last axis ->
        output () or, with reduction='none', (*).
    """

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean",
                 pos_weight: Tensor | None = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  pos_weight=self.pos_weight,
                                                  reduction=self.reduction)


class KLDivLoss(_Loss):
    """KL divergence: loss = target (log target - input) (or exp(t) (t - input), log_target).

    Shape:
        input (*), target (*) -> output () or, with reduction='none', (*).
    """

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
