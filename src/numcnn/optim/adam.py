"""Adam and AdamW (Adam with decoupled weight decay), with the AMSGrad variant."""

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

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), PyTorch's algorithm box.

    State per parameter: `step` t, first moment m (`exp_avg`), second moment v (`exp_avg_sq`)
    and, with amsgrad, v^max (`max_exp_avg_sq`), all starting at zero.  Each step:

        t = t + 1
        g_t = ∇θ f(θ_{t-1})                          (g_t = -∇θ f(θ_{t-1}) if maximize)
        if λ ≠ 0:
            θ_{t-1} = θ_{t-1} (1 - γ λ)              if decoupled_weight_decay (AdamW)
            g_t = g_t + λ θ_{t-1}                    otherwise (L2 penalty)
        m_t = β1 m_{t-1} + (1 - β1) g_t
        v_t = β2 v_{t-1} + (1 - β2) g_t²
        m̂_t = m_t / (1 - β1^t)
        v^max_t = max(v^max_{t-1}, v_t);  v̂_t = v^max_t / (1 - β2^t)   if amsgrad
        v̂_t = v_t / (1 - β2^t)                                          otherwise
        θ_t = θ_{t-1} - γ m̂_t / (√v̂_t + ε)

    (computed as θ -= (γ / (1 - β1^t)) m_t / (√v / √(1 - β2^t) + ε), as PyTorch does.)

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate γ (default 1e-3).
        betas: (β1, β2), the decay rates of the two moments, each in [0, 1).
        eps: ε added to the denominator (default 1e-8).
        weight_decay: λ (default 0).
        amsgrad: use the AMSGrad variant (Reddi et al., 2018).
        foreach: accepted for PyTorch compatibility and ignored.
        maximize: maximize the objective instead of minimizing it.
        capturable: accepted and ignored (CUDA-graph capture; one CPU implementation).
        differentiable, fused: must be off (not supported).
        decoupled_weight_decay: decay θ directly instead of adding λθ to the gradient (AdamW).
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        _check_adam_like(lr, eps, betas, weight_decay)
        if not (isinstance(betas[0], float) and isinstance(betas[1], float)):
            raise ValueError("betas must be either both floats or both Tensors")
        _check_unsupported(differentiable=differentiable, fused=fused)
        defaults = {"lr": lr, "betas": tuple(float(b) for b in betas), "eps": eps,
                    "weight_decay": weight_decay, "amsgrad": amsgrad, "maximize": maximize,
                    "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        amsgrad = group["amsgrad"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _scalar_state()
                state["exp_avg"] = Tensor(np.zeros_like(p.array))
                state["exp_avg_sq"] = Tensor(np.zeros_like(p.array))
                if amsgrad:
                    state["max_exp_avg_sq"] = Tensor(np.zeros_like(p.array))
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
            step_size = lr / bias_correction1
            if amsgrad:
                vmax = state["max_exp_avg_sq"].array
                np.maximum(vmax, v, out=vmax)                     # v^max = max(v^max, v)
                denom = np.sqrt(vmax) / bias_correction2 ** 0.5 + eps
            else:
                denom = np.sqrt(v) / bias_correction2 ** 0.5 + eps
            p.array += (-step_size * m) / denom                    # θ -= γ m̂ / (√v̂ + ε)


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay.

    The same algorithm box as `Adam` with decoupled_weight_decay=True: before the moment
    updates, θ_{t-1} = θ_{t-1} (1 - γ λ); the gradient itself is not penalised.
    The default weight decay is λ = 1e-2.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate γ (default 1e-3).
        betas: (β1, β2), each in [0, 1).
        eps: ε added to the denominator (default 1e-8).
        weight_decay: λ (default 1e-2).
        amsgrad: use the AMSGrad variant.
        maximize: maximize the objective instead of minimizing it.
        foreach: accepted for PyTorch compatibility and ignored.
        capturable: accepted and ignored (CUDA-graph capture; one CPU implementation).
        differentiable, fused: must be off (not supported).
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state; every group keeps decoupled_weight_decay=True, as in PyTorch."""
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
