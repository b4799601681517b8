"""Rprop (Riedmiller & Braun, 1993): resilient backpropagation, a per-weight step size that
grows while the gradient keeps its sign and shrinks when it flips; only the sign of the
gradient is used."""

from __future__ import annotations

from typing import Any

import numpy as np

from numcnn.optim.optimizer import Optimizer, ParamsT, _check_lr, _check_unsupported, _scalar_state
from numcnn.tensor import Tensor

__all__ = ["Rprop"]


class Rprop(Optimizer):
    r"""Rprop, PyTorch's algorithm box.

    State per parameter: `step`, the previous gradient g_prev (`prev`, zeros) and the step
    sizes η (`step_size`, all lr at first).  Each step:

        g_t = ∇θ f(θ_{t-1})                       (g_t = -∇θ f(θ_{t-1}) if maximize)
        η_t = clamp(η_{t-1} · (η+ if g_t g_prev > 0, η- if g_t g_prev < 0, else 1),
                    Γ_min, Γ_max)
        g_t = 0 where g_t g_prev < 0               (no move after a sign flip)
        θ_t = θ_{t-1} - η_t sign(g_t)
        g_prev = g_t

    Args:
        params: parameters or parameter groups to optimize.
        lr: the initial step size (default 1e-2).
        etas: (η-, η+), the shrink and growth factors, 0 < η- < 1 < η+ (default (0.5, 1.2)).
        step_sizes: (Γ_min, Γ_max), the bounds of the step sizes (default (1e-6, 50)).
        capturable: accepted and ignored (CUDA-graph capture; one CPU implementation).
        foreach: accepted for PyTorch compatibility and ignored (one NumPy implementation).
        maximize: maximize the objective instead of minimizing it.
        differentiable: must be False (not supported).

    Raises:
        ValueError: for lr < 0 or etas outside 0 < η- < 1 < η+ (PyTorch's messages).
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        _check_unsupported(differentiable=differentiable)
        defaults = {"lr": lr, "etas": etas, "step_sizes": step_sizes, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable,
                    "capturable": capturable}
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        """One Rprop step for one group (see the class docstring)."""
        eta_minus, eta_plus = (float(e) for e in group["etas"])
        size_min, size_max = (float(s) for s in group["step_sizes"])
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _scalar_state()
                state["prev"] = Tensor(np.zeros_like(p.array))
                state["step_size"] = Tensor(np.full_like(p.array, float(group["lr"])))
            state["step"].array += 1
            g = self._grad_of(p, group["maximize"])
            prev, size = state["prev"].array, state["step_size"].array
            agree = g * prev                                       # > 0: same sign, < 0: flip
            factor = np.where(agree > 0, eta_plus, np.where(agree < 0, eta_minus, 1.0))
            size *= factor.astype(size.dtype)                      # η = clamp(η · factor)
            np.clip(size, size_min, size_max, out=size)
            g = np.where(agree < 0, 0, g).astype(p.array.dtype)   # no move after a flip
            p.array -= np.sign(g) * size                           # θ -= η sign(g)
            prev[...] = g
