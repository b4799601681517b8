"""Stochastic gradient descent, optionally with (Nesterov) momentum and weight decay."""

from __future__ import annotations

from typing import Any

import numpy as np

from numcnn.optim.optimizer import Optimizer, ParamsT, _check_unsupported
from numcnn.tensor import Tensor

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), PyTorch's algorithm box.

    For every step t and parameter θ with gradient:

        g_t = ∇θ f(θ_{t-1})                  (g_t = -∇θ f(θ_{t-1}) if maximize)
        if λ ≠ 0:   g_t = g_t + λ θ_{t-1}                      (weight_decay λ)
        if μ ≠ 0:                                               (momentum μ, dampening τ)
            b_t = g_t                        if t = 1
            b_t = μ b_{t-1} + (1 - τ) g_t    otherwise
            g_t = g_t + μ b_t                if nesterov
            g_t = b_t                        otherwise
        θ_t = θ_{t-1} - γ g_t                                   (lr γ)

    The momentum buffer `b` is kept in `state[p]["momentum_buffer"]` (only when μ ≠ 0).

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate γ (default 1e-3).
        momentum: momentum factor μ (default 0).
        dampening: dampening τ for momentum (default 0).
        weight_decay: L2 penalty λ (default 0).
        nesterov: use Nesterov momentum (needs μ > 0 and τ = 0).
        maximize: maximize the objective instead of minimizing it.
        foreach: accepted for PyTorch compatibility and ignored (one NumPy implementation).
        differentiable: must be False (not supported).
        fused: must be None/False (not supported).
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        _check_unsupported(differentiable=differentiable, fused=fused)
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                    "foreach": foreach, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        """One SGD step for one group (see the class docstring)."""
        lr = float(group["lr"])
        mu, tau = float(group["momentum"]), float(group["dampening"])
        wd = float(group["weight_decay"])
        for p in group["params"]:
            if p.grad is None:
                continue
            g = self._grad_of(p, group["maximize"])
            if wd != 0:
                g = g + wd * p.array
            if mu != 0:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = Tensor(np.array(g, copy=True))          # b_1 = g_1
                    state["momentum_buffer"] = buf
                else:
                    b = buf.array
                    b *= mu                                       # b = μ b + (1-τ) g
                    b += (1 - tau) * g
                g = g + mu * buf.array if group["nesterov"] else buf.array
            p.array -= lr * g                                      # θ = θ - γ g
