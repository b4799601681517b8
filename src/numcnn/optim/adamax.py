"""Adamax (Kingma & Ba, 2015, section 7.1): Adam with the infinity norm in place of the L2 norm."""

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

__all__ = ["Adamax"]


class Adamax(Optimizer):
    r"""Adamax, PyTorch's algorithm box.

    State per parameter: `step` t, the first moment m (`exp_avg`) and the exponentially
    weighted infinity norm u (`exp_inf`), both starting at zero.  Each step:

        t = t + 1
        g_t = ∇θ f(θ_{t-1})                       (g_t = -∇θ f(θ_{t-1}) if maximize)
        if λ ≠ 0:  g_t = g_t + λ θ_{t-1}
        m_t = β1 m_{t-1} + (1 - β1) g_t
        u_t = max(β2 u_{t-1}, |g_t| + ε)
        θ_t = θ_{t-1} - γ m_t / ((1 - β1^t) u_t)

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate γ (default 2e-3).
        betas: (β1, β2), the decay rates of m and u, each in [0, 1) (default (0.9, 0.999)).
        eps: ε added to |g| (default 1e-8).
        weight_decay: L2 penalty λ (default 0).
        foreach: accepted for PyTorch compatibility and ignored (one NumPy implementation).
        maximize: maximize the objective instead of minimizing it.
        differentiable: must be False (not supported).
        capturable: accepted and ignored (CUDA-graph capture; one CPU implementation).
    """

    def __init__(self, params: ParamsT, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        _check_adam_like(lr, eps, betas, weight_decay)
        _check_unsupported(differentiable=differentiable)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable,
                    "capturable": capturable}
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        """One Adamax step for one group (see the class docstring)."""
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _scalar_state()
                state["exp_avg"] = Tensor(np.zeros_like(p.array))
                state["exp_inf"] = Tensor(np.zeros_like(p.array))
            state["step"].array += 1
            t = float(state["step"].array)
            g = self._grad_of(p, group["maximize"])
            if wd != 0:
                g = g + wd * p.array                               # g = g + λθ
            m, u = state["exp_avg"].array, state["exp_inf"].array
            m += (1 - beta1) * (g - m)                            # m = β1 m + (1-β1) g
            u *= beta2                                            # u = max(β2 u, |g| + ε)
            np.maximum(u, np.abs(g) + eps, out=u)
            clr = lr / (1 - beta1 ** t)
            p.array += -clr * (m / u)                              # θ -= γ m / ((1-β1^t) u)
