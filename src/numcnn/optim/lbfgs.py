"""L-BFGS (Nocedal, 1980; Liu & Nocedal, 1989): a quasi-Newton method that approximates the
inverse Hessian from the last `history_size` steps s and gradient changes y, by the two-loop
recursion.  Every parameter is seen as one flat vector θ."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from numcnn.autograd import grad_mode
from numcnn.optim.optimizer import Optimizer, ParamsT, _check_lr
from numcnn.tensor import Tensor

__all__ = ["LBFGS"]


def _array(value: Any) -> Any:
    return value.array if isinstance(value, Tensor) else value


class LBFGS(Optimizer):
    r"""L-BFGS with PyTorch's loop, stopping rules and state; `step` needs a `closure` that
    clears the gradients, computes the loss, calls `backward()` and returns the loss.

    One `step(closure)` runs up to `max_iter` iterations:

        g = ∇f(θ);  stop at once if max|g| <= tolerance_grad
        iteration k:
          k = 1 (of the whole run):  d = -g, no history, H0 = 1
          else:  y = g - g_prev, s = t d_prev;  if yᵀs > 1e-10, remember (s, y, ρ = 1/yᵀs)
                 (dropping the oldest beyond history_size) and H0 = yᵀs / yᵀy;
                 d = -H g by the two-loop recursion:
                   q = -g;  for i newest..oldest: a_i = ρ_i s_iᵀq,  q -= a_i y_i
                   r = H0 q; for i oldest..newest: b_i = ρ_i y_iᵀr,  r += (a_i - b_i) s_i
          t = lr · min(1, 1 / sum|g|) at k = 1, else lr
          stop if gᵀd > -tolerance_change  (not a descent direction)
          θ = θ + t d;  re-evaluate f, g (unless this is the last iteration)
          stop after max_iter iterations, max_eval evaluations, max|g| <= tolerance_grad,
          max|t d| <= tolerance_change, or |f - f_prev| < tolerance_change.

    The state (`d`, `t`, `old_dirs`, `old_stps`, `ro`, `al`, `H_diag`, `prev_flat_grad`,
    `prev_loss`, `n_iter`, `func_evals`) lives under the first parameter, as in PyTorch, so
    the next `step` continues the same run.

    Args:
        params: the parameters (one group only, as PyTorch).
        lr: the step length t (default 1).
        max_iter: iterations per `step` (default 20).
        max_eval: function evaluations per `step` (default max_iter * 5 // 4).
        tolerance_grad: stop when max|g| is at most this (default 1e-7).
        tolerance_change: stop when the step or the change of f is below this (default 1e-9).
        history_size: how many (s, y) pairs to keep (default 100).
        line_search_fn: None (a fixed step t).  "strong_wolfe" is not implemented in numcnn.

    Raises:
        ValueError: for lr < 0 or several parameter groups.
        NotImplementedError: for line_search_fn="strong_wolfe".
        RuntimeError: at `step`, for another line_search_fn (as PyTorch) or no closure.
    """

    def __init__(self, params: ParamsT, lr: float = 1, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        _check_lr(lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if line_search_fn == "strong_wolfe":
            raise NotImplementedError(
                "LBFGS(line_search_fn='strong_wolfe') is not implemented in numcnn: use "
                "line_search_fn=None (a fixed step lr)"
            )
        defaults = {"lr": lr, "max_iter": max_iter, "max_eval": max_eval,
                    "tolerance_grad": tolerance_grad, "tolerance_change": tolerance_change,
                    "history_size": history_size, "line_search_fn": line_search_fn}
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def _flat_grad(self) -> np.ndarray:
        """Every parameter's gradient (zeros where it has none) as one vector."""
        return np.concatenate([np.zeros(p.numel(), p.array.dtype) if p.grad is None
                               else p.grad.array.reshape(-1) for p in self._params])

    def _add_step(self, t: float, d: np.ndarray) -> None:
        """θ = θ + t d, d cut into the parameters' shapes."""
        offset = 0
        for p in self._params:
            n = p.numel()
            p.array += (t * d[offset:offset + n]).reshape(p.shape).astype(p.array.dtype)
            offset += n

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Run up to `max_iter` L-BFGS iterations (see the class docstring); returns the loss
        `closure` gave at the start."""
        if closure is None:
            raise RuntimeError("LBFGS requires a closure: step(closure) must re-evaluate the "
                               "model and return the loss")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with grad_mode.enable_grad():
            orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        g = self._flat_grad()
        if np.abs(g).max(initial=0.0) <= tol_grad:
            return orig_loss

        d, g_prev = _array(state.get("d")), _array(state.get("prev_flat_grad"))
        old_dirs = [_array(v) for v in state.get("old_dirs") or []]
        old_stps = [_array(v) for v in state.get("old_stps") or []]
        ro = list(state.get("ro") or [])
        h_diag: Any = state.get("H_diag")
        t: Any = state.get("t")
        prev_loss = state.get("prev_loss")
        n_iter = 0
        with grad_mode.no_grad():
            while n_iter < max_iter:
                n_iter += 1
                state["n_iter"] += 1
                if state["n_iter"] == 1:
                    d = -g
                    old_dirs, old_stps, ro, h_diag = [], [], [], 1.0
                else:
                    y = g - g_prev
                    s = d * t
                    ys = y.dot(s)                                  # yᵀs
                    if ys > 1e-10:
                        if len(old_dirs) == history_size:
                            old_dirs.pop(0)
                            old_stps.pop(0)
                            ro.pop(0)
                        old_dirs.append(y)
                        old_stps.append(s)
                        ro.append(1.0 / ys)
                        h_diag = ys / y.dot(y)                     # H0 = yᵀs / yᵀy
                    al = state.setdefault("al", [None] * history_size)   # a_i, as PyTorch
                    q = -g
                    for i in range(len(old_dirs) - 1, -1, -1):     # newest to oldest
                        al[i] = float(old_stps[i].dot(q) * ro[i])
                        q = q - al[i] * old_dirs[i]
                    d = r = q * h_diag
                    for i in range(len(old_dirs)):                 # oldest to newest
                        be_i = old_dirs[i].dot(r) * ro[i]
                        r += (al[i] - be_i) * old_stps[i]
                g_prev = g.copy()
                prev_loss = loss
                t = min(1.0, 1.0 / np.abs(g).sum()) * lr if state["n_iter"] == 1 else lr
                gtd = g.dot(d)
                if gtd > -tol_change:                              # not a descent direction
                    break
                if group["line_search_fn"] is not None:           # as PyTorch: at step
                    raise RuntimeError("only 'strong_wolfe' is supported")
                self._add_step(t, d)
                ls_evals = 0
                if n_iter != max_iter:
                    with grad_mode.enable_grad():
                        loss = float(closure())
                    g = self._flat_grad()
                    ls_evals = 1
                current_evals += ls_evals
                state["func_evals"] += ls_evals
                if n_iter == max_iter or current_evals >= max_eval:
                    break
                if np.abs(g).max(initial=0.0) <= tol_grad:
                    break
                if np.abs(d * t).max(initial=0.0) <= tol_change:
                    break
                if abs(loss - prev_loss) < tol_change:
                    break

        # vectors as Tensors (as PyTorch keeps them, and so that state_dict round-trips)
        state.update({"d": Tensor(d), "t": float(t), "old_dirs": [Tensor(v) for v in old_dirs],
                      "old_stps": [Tensor(v) for v in old_stps],
                      "ro": [float(v) for v in ro], "H_diag": float(h_diag),
                      "prev_flat_grad": Tensor(g_prev), "prev_loss": prev_loss})
        return orig_loss
