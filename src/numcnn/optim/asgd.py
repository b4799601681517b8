"""ASGD (Polyak & Juditsky, 1992): SGD with a decaying step size η_t and a running average
`ax` of the iterates, averaging from step t0 on."""

from __future__ import annotations

from typing import Any

import numpy as np

from numcnn import dtypes
from numcnn.optim.optimizer import Optimizer, ParamsT, _check_lr, _check_unsupported, _scalar_state
from numcnn.tensor import Tensor

__all__ = ["ASGD"]


class ASGD(Optimizer):
    r"""Averaged SGD, PyTorch's algorithm box.

    State per parameter: `step` t, the step size η (`eta`, lr at first), the averaging
    weight μ (`mu`, 1 at first) and the average `ax` (zeros).  η and μ are scalar tensors of
    the scalar-state dtype (float32 unless the default dtype is float64), as PyTorch keeps
    them, so their rounding matches.  Each step:

        t = t + 1
        g_t = ∇θ f(θ_{t-1})                       (g_t = -∇θ f(θ_{t-1}) if maximize)
        if λ_wd ≠ 0:  g_t = g_t + λ_wd θ_{t-1}
        θ_t = θ_{t-1} (1 - λ η) - η g_t
        ax = ax + μ (θ_t - ax)                     (ax = θ_t while μ = 1)
        η = lr / (1 + λ lr t)^α                    (rounded to the default dtype, as PyTorch)
        μ = 1 / max(1, t - t0)                     (likewise)

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-2).
        lambd: decay term λ (default 1e-4).
        alpha: power α of the η update (default 0.75).
        t0: the step at which averaging starts (default 1e6).
        weight_decay: L2 penalty λ_wd (default 0).
        foreach: accepted for PyTorch compatibility and ignored (one NumPy implementation).
        maximize: maximize the objective instead of minimizing it.
        differentiable: must be False (not supported).
        capturable: accepted and ignored (CUDA-graph capture; one CPU implementation).

    Raises:
        ValueError: for lr < 0 or weight_decay < 0 (PyTorch's messages).
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, lambd: float = 1e-4,
                 alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        _check_unsupported(differentiable=differentiable)
        defaults = {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0,
                    "weight_decay": weight_decay, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable, "capturable": capturable}
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        """One ASGD step for one group (see the class docstring)."""
        lr, lambd, alpha = float(group["lr"]), float(group["lambd"]), float(group["alpha"])
        t0, wd = float(group["t0"]), float(group["weight_decay"])
        dflt = dtypes.get_default_dtype()
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _scalar_state()
                state["eta"] = _scalar_state(lr)
                state["mu"] = _scalar_state(1.0)
                state["ax"] = Tensor(np.zeros_like(p.array))
            state["step"].array += 1
            g = self._grad_of(p, group["maximize"])
            if wd != 0:
                g = g + wd * p.array                               # g = g + λ_wd θ
            eta = float(state["eta"].array)
            p.array *= 1 - lambd * eta                             # θ = θ (1 - λη) - η g
            p.array += -eta * g
            ax, mu = state["ax"].array, state["mu"].array
            if float(mu) != 1:
                ax += (p.array - ax) * mu.astype(ax.dtype)         # ax += μ (θ - ax)
            else:
                ax[...] = p.array
            t = float(state["step"].array)
            # the new η and μ pass through the default dtype (PyTorch makes them with
            # torch.as_tensor), which matters once a load has made the state float64
            state["eta"].array[...] = np.asarray(lr / ((1 + lambd * lr * t) ** alpha), dflt)
            state["mu"].array[...] = np.asarray(1 / max(1, t - t0), dflt)
