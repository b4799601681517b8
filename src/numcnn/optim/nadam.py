"""NAdam (Dozat, 2016): Adam with Nesterov momentum and a momentum schedule."""

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

__all__ = ["NAdam"]


class NAdam(Optimizer):
    r"""NAdam, PyTorch's algorithm box.

    State per parameter: `step` t, the product of the momentum schedule Π μ (`mu_product`,
    starting at 1), the moments m (`exp_avg`) and v (`exp_avg_sq`), starting at zero.  With
    momentum decay ψ, each step:

        t = t + 1
        g_t = ∇θ f(θ_{t-1})                       (g_t = -∇θ f(θ_{t-1}) if maximize)
        if λ ≠ 0:
            θ_{t-1} = θ_{t-1} (1 - γ λ)           if decoupled_weight_decay (NAdamW)
            g_t = g_t + λ θ_{t-1}                 otherwise
        μ_t = β1 (1 - ½ · 0.96^(t ψ)),   μ_{t+1} = β1 (1 - ½ · 0.96^((t+1) ψ))
        m_t = β1 m_{t-1} + (1 - β1) g_t
        v_t = β2 v_{t-1} + (1 - β2) g_t²
        v̂_t = v_t / (1 - β2^t)
        θ_t = θ_{t-1} - γ (1 - μ_t) / (1 - Π_{i≤t} μ_i) · g_t / (√v̂_t + ε)
                      - γ μ_{t+1} / (1 - Π_{i≤t+1} μ_i) · m_t / (√v̂_t + ε)

    `mu_product` is a 0-d tensor of the scalar dtype (float32 unless float64 is the default),
    as in PyTorch, so the products round the way PyTorch's do.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate γ (default 2e-3).
        betas: (β1, β2), each in [0, 1) (default (0.9, 0.999)).
        eps: ε added to the denominator (default 1e-8).
        weight_decay: λ (default 0).
        momentum_decay: ψ (default 4e-3).
        decoupled_weight_decay: decay θ directly, as AdamW does, instead of adding λθ to the
            gradient.
        foreach: accepted for PyTorch compatibility and ignored (one NumPy implementation).
        maximize: maximize the objective instead of minimizing it.
        capturable: accepted and ignored (CUDA-graph capture; one CPU implementation).
        differentiable: must be False (not supported).
    """

    def __init__(self, params: ParamsT, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        _check_adam_like(lr, eps, betas, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        _check_unsupported(differentiable=differentiable)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "momentum_decay": momentum_decay,
                    "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize,
                    "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        """One NAdam step for one group (see the class docstring)."""
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        psi = float(group["momentum_decay"])
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _scalar_state()
                state["mu_product"] = _scalar_state(1.0)
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
            mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))          # μ_t
            mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))   # μ_{t+1}
            mu_prod = state["mu_product"].array
            mu_prod *= mu                                         # Π μ, in the scalar dtype
            mu_product = float(mu_prod)
            m += (1 - beta1) * (g - m)                            # m = β1 m + (1-β1) g
            v *= beta2                                            # v = β2 v + (1-β2) g²
            v += (1 - beta2) * (g * g)
            denom = np.sqrt(v / (1 - beta2 ** t))                 # √v̂ + ε
            denom += eps
            p.array += (-lr * (1.0 - mu) / (1.0 - mu_product)) * (g / denom)
            p.array += (-lr * mu_next / (1.0 - mu_product * mu_next)) * (m / denom)
