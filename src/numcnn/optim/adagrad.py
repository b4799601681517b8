"""Adagrad (Duchi et al., 2011): per-coordinate step sizes from the sum of squared gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from numcnn.optim.optimizer import (
    Optimizer,
    ParamsT,
    _check_lr,
    _check_unsupported,
    _scalar_state,
)
from numcnn.tensor import Tensor

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad, PyTorch's algorithm box.

    State per parameter: `step` t and the running sum of squares s (`sum`), which starts at
    `initial_accumulator_value` (state is created at construction, as in PyTorch).  Each step:

        t = t + 1
        g_t = ∇θ f(θ_{t-1})                       (g_t = -∇θ f(θ_{t-1}) if maximize)
        if λ ≠ 0:  g_t = g_t + λ θ_{t-1}
        γ̃ = γ / (1 + (t - 1) η)                   (lr_decay η)
        s_t = s_{t-1} + g_t²
        θ_t = θ_{t-1} - γ̃ g_t / (√s_t + ε)

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate γ (default 1e-2).
        lr_decay: η (default 0).
        weight_decay: L2 penalty λ (default 0).
        initial_accumulator_value: the starting value of s (default 0).
        eps: ε added to the denominator (default 1e-10).
        foreach: accepted for PyTorch compatibility and ignored.
        maximize: maximize the objective instead of minimizing it.
        differentiable, fused: must be off (not supported).
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        _check_lr(lr)
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(
                f"Invalid initial_accumulator_value value: {initial_accumulator_value}"
            )
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_unsupported(differentiable=differentiable, fused=fused)
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        # As in PyTorch, the constructor's initial_accumulator_value fills every group's `sum`
        # (a group's own value is used only for groups added later).
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, initial_accumulator_value)

    def _init_state(self, p: Tensor, initial_value: float) -> None:
        state = self.state[p]
        state["step"] = _scalar_state()
        state["sum"] = Tensor(np.full_like(p.array, initial_value))

    def _update_group(self, group: dict[str, Any]) -> None:
        """One Adagrad step for one group (see the class docstring)."""
        lr, eps = float(group["lr"]), float(group["eps"])
        wd, lr_decay = float(group["weight_decay"]), float(group["lr_decay"])
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if len(state) == 0:               # a group added after construction
                self._init_state(p, group["initial_accumulator_value"])
            state["step"].array += 1
            t = float(state["step"].array)
            g = self._grad_of(p, group["maximize"])
            if wd != 0:
                g = g + wd * p.array                       # g = g + λθ
            clr = lr / (1 + (t - 1) * lr_decay)           # γ̃ = γ / (1 + (t-1) η)
            s = state["sum"].array
            s += g * g                                    # s = s + g²
            std = np.sqrt(s) + eps
            p.array += (-clr * g) / std                    # θ = θ - γ̃ g / (√s + ε)
