"""RAdam (Liu et al., 2020): Adam whose adaptive step is rectified while its variance is large."""

from __future__ import annotations

from typing import Any

import numpy as np

from numcnn.optim.optimizer import (
    Optimizer,
    ParamsT,
    _check_adam_like,
    _check_unsupported,
    _scalar_state,
)
from numcnn.tensor import Tensor

__all__ = ["RAdam"]


class RAdam(Optimizer):
    r"""RAdam, PyTorch's algorithm box.

    State per parameter: `step` t, the moments m (`exp_avg`) and v (`exp_avg_sq`), starting at
    zero.  Each step:

        t = t + 1
        g_t = ∇θ f(θ_{t-1})                       (g_t = -∇θ f(θ_{t-1}) if maximize)
        if λ ≠ 0:
            θ_{t-1} = θ_{t-1} (1 - γ λ)           if decoupled_weight_decay (RAdamW)
            g_t = g_t + λ θ_{t-1}                 otherwise
        m_t = β1 m_{t-1} + (1 - β1) g_t
        v_t = β2 v_{t-1} + (1 - β2) g_t²
        m̂_t = m_t / (1 - β1^t)
        ρ_∞ = 2 / (1 - β2) - 1,   ρ_t = ρ_∞ - 2 t β2^t / (1 - β2^t)
        if ρ_t > 5:
            r_t = √((ρ_t - 4)(ρ_t - 2) ρ_∞ / ((ρ_∞ - 4)(ρ_∞ - 2) ρ_t))
            l_t = √(1 - β2^t) / (√v_t + ε)
            θ_t = θ_{t-1} - γ m̂_t r_t l_t
        else:
            θ_t = θ_{t-1} - γ m̂_t                 (SGD with momentum while ρ_t ≤ 5)

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate γ (default 1e-3).
        betas: (β1, β2), each in [0, 1) (default (0.9, 0.999)).
        eps: ε added to the denominator (default 1e-8).
        weight_decay: λ (default 0).
        decoupled_weight_decay: decay θ directly, as AdamW does, instead of adding λθ to the
            gradient.
        foreach: accepted for PyTorch compatibility and ignored (one NumPy implementation).
        maximize: maximize the objective instead of minimizing it.
        capturable: accepted and ignored (CUDA-graph capture; one CPU implementation).
        differentiable: must be False (not supported).
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        _check_adam_like(lr, eps, betas, weight_decay)
        _check_unsupported(differentiable=differentiable)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "decoupled_weight_decay": decoupled_weight_decay,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        """One RAdam step for one group (see the class docstring)."""
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        rho_inf = 2 / (1 - beta2) - 1
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _scalar_state()
                state["exp_avg"] = Tensor(np.zeros_like(p.array))
                state["exp_avg_sq"] = Tensor(np.zeros_like(p.array))
            g = self._grad_of(p, group["maximize"])
            m, v = state["exp_avg"].array, state["exp_avg_sq"].array
            state["step"].array += 1
            t = float(state["step"].array)
            if wd != 0:
                if group["decoupled_weight_decay"]:
                    p.array *= 1 - lr * wd                         # θ = θ (1 - γλ)
                else:
                    g = g + wd * p.array                           # g = g + λθ
            m += (1 - beta1) * (g - m)                            # m = β1 m + (1-β1) g
            v *= beta2                                            # v = β2 v + (1-β2) g²
            v += (1 - beta2) * (g * g)
            bias_correction1 = 1 - beta1 ** t
            bias_correction2 = 1 - beta2 ** t
            m_hat = m / bias_correction1
            rho_t = rho_inf - 2 * t * beta2 ** t / bias_correction2
            if rho_t > 5.0:
                rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                        / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                adaptive = bias_correction2 ** 0.5 / (np.sqrt(v) + eps)
                p.array -= m_hat * lr * adaptive * rect            # θ -= γ m̂ r l
            else:
                p.array -= m_hat * lr                              # θ -= γ m̂
