"""Adadelta (Zeiler, 2012): step sizes from running averages of squared gradients and updates."""

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

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    r"""Adadelta, PyTorch's algorithm box.

    State per parameter: `step`, the running average of squared gradients v (`square_avg`) and
    of squared updates u (`acc_delta`), both starting at zero.  Each step:

        g_t = ∇θ f(θ_{t-1})                       (g_t = -∇θ f(θ_{t-1}) if maximize)
        if λ ≠ 0:  g_t = g_t + λ θ_{t-1}
        v_t = ρ v_{t-1} + (1 - ρ) g_t²
        Δx_t = √(u_{t-1} + ε) / √(v_t + ε) · g_t
        u_t = ρ u_{t-1} + (1 - ρ) Δx_t²
        θ_t = θ_{t-1} - γ Δx_t

    Args:
        params: parameters or parameter groups to optimize.
        lr: γ, a factor on the update (default 1.0, the paper's method).
        rho: ρ, the decay of both running averages, in [0, 1] (default 0.9).
        eps: ε inside both square roots (default 1e-6).
        weight_decay: L2 penalty λ (default 0).
        foreach: accepted for PyTorch compatibility and ignored (one NumPy implementation).
        capturable: accepted and ignored (CUDA-graph capture; one CPU implementation).
        maximize: maximize the objective instead of minimizing it.
        differentiable: must be False (not supported).
    """

    def __init__(self, params: ParamsT, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        _check_unsupported(differentiable=differentiable)
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "capturable": capturable, "foreach": foreach,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        """One Adadelta step for one group (see the class docstring)."""
        lr, rho, eps = float(group["lr"]), float(group["rho"]), float(group["eps"])
        wd = float(group["weight_decay"])
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _scalar_state()
                state["square_avg"] = Tensor(np.zeros_like(p.array))
                state["acc_delta"] = Tensor(np.zeros_like(p.array))
            state["step"].array += 1
            g = self._grad_of(p, group["maximize"])
            if wd != 0:
                g = g + wd * p.array                               # g = g + λθ
            v, u = state["square_avg"].array, state["acc_delta"].array
            v *= rho                                              # v = ρ v + (1-ρ) g²
            v += (1 - rho) * (g * g)
            delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g       # Δx = √(u+ε)/√(v+ε) g
            u *= rho                                              # u = ρ u + (1-ρ) Δx²
            u += (1 - rho) * (delta * delta)
            p.array -= lr * delta                                  # θ = θ - γ Δx
