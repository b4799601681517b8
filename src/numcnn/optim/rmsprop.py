"""RMSprop (Hinton's lecture 6e), optionally centered and with momentum."""

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

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop, PyTorch's algorithm box.

    State per parameter: `step`, the running mean of squares v (`square_avg`), with
    momentum > 0 a buffer b (`momentum_buffer`), when centered the running mean of gradients
    ḡ (`grad_avg`); all start at zero.  Each step:

        g_t = ∇θ f(θ_{t-1})                       (g_t = -∇θ f(θ_{t-1}) if maximize)
        if λ ≠ 0:  g_t = g_t + λ θ_{t-1}
        v_t = α v_{t-1} + (1 - α) g_t²
        ṽ_t = v_t
        if centered:
            ḡ_t = α ḡ_{t-1} + (1 - α) g_t
            ṽ_t = v_t - ḡ_t²
        if μ > 0:
            b_t = μ b_{t-1} + g_t / (√ṽ_t + ε)
            θ_t = θ_{t-1} - γ b_t
        else:
            θ_t = θ_{t-1} - γ g_t / (√ṽ_t + ε)

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate γ (default 1e-2).
        alpha: smoothing constant α (default 0.99).
        eps: ε added to the denominator (default 1e-8).
        weight_decay: L2 penalty λ (default 0).
        momentum: momentum factor μ (default 0).
        centered: normalise by an estimate of the variance of the gradient instead of its
            second moment.
        capturable: accepted and ignored (CUDA-graph capture; one CPU implementation).
        differentiable: must be False (not supported).
        foreach: accepted for PyTorch compatibility and ignored.
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False, foreach: bool | None = None,
                 maximize: bool = False, differentiable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        _check_unsupported(differentiable=differentiable)
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay, "capturable": capturable,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable}
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        wd, mu = float(group["weight_decay"]), float(group["momentum"])
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _scalar_state()
                state["square_avg"] = Tensor(np.zeros_like(p.array))
                if mu > 0:
                    state["momentum_buffer"] = Tensor(np.zeros_like(p.array))
                if group["centered"]:
                    state["grad_avg"] = Tensor(np.zeros_like(p.array))
            state["step"].array += 1
            g = self._grad_of(p, group["maximize"])
            if wd != 0:
                g = g + wd * p.array                               # g = g + λθ
            v = state["square_avg"].array
            v *= alpha                                            # v = α v + (1-α) g²
            v += (1 - alpha) * (g * g)
            if group["centered"]:
                gbar = state["grad_avg"].array
                gbar += (1 - alpha) * (g - gbar)                  # ḡ = α ḡ + (1-α) g
                avg = np.sqrt(v - gbar * gbar)                    # √(v - ḡ²)
            else:
                avg = np.sqrt(v)
            avg += eps
            if mu > 0:
                b = state["momentum_buffer"].array
                b *= mu                                           # b = μ b + g / (√ṽ + ε)
                b += g / avg
                p.array -= lr * b                                  # θ = θ - γ b
            else:
                p.array += (-lr * g) / avg                         # θ = θ - γ g / (√ṽ + ε)
