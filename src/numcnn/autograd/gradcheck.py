"""Finite-difference gradient checking, in float64, for users' own functions and layers."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from numcnn.autograd import grad_mode


class GradcheckError(RuntimeError):
    """Raised by `gradcheck` when analytical and numerical gradients disagree."""


def _outputs(fn: Callable[..., Any], inputs: Sequence[Any]) -> list[Any]:
    from numcnn.tensor import Tensor

    out = fn(*inputs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return [o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f"]


def gradcheck(fn: Callable[..., Any], inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Compare backward's gradients with central differences (f(x+eps) - f(x-eps)) / 2eps.

    Every floating input tensor with `requires_grad=True` must be float64. For each output o
    and each input x, the analytical Jacobian row d(sum o*v)/dx for a random direction v is
    compared elementwise with the numerical one: |a - n| <= atol + rtol * |n|.

    Returns True, or raises `GradcheckError` (False with `raise_exception=False`).
    """
    from numcnn.tensor import Tensor

    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    targets = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not targets:
        raise ValueError("gradcheck expects at least one input tensor with requires_grad=True")
    for t in targets:
        if not t.data.flags.c_contiguous or not t.data.flags.writeable:
            t.data = np.array(t.data, order="C")    # perturbed in place below
        if t.dtype != np.float64:
            raise TypeError(
                f"gradcheck needs float64 inputs for precision; got an input of dtype {t.dtype}"
            )
    rng = np.random.default_rng(0)
    with grad_mode.enable_grad():
        outs = _outputs(fn, inputs)
    directions = [rng.standard_normal(o.shape) for o in outs]

    def scalar() -> float:
        with grad_mode.no_grad():
            return float(sum(np.sum(o.data * v) for o, v in zip(_outputs(fn, inputs), directions)))

    # analytical: one backward of sum(o * v)
    for t in targets:
        t.grad = None
    with grad_mode.enable_grad():
        outs = _outputs(fn, inputs)
        total = None
        for o, v in zip(outs, directions):
            if not o.requires_grad:
                continue
            term = (o * Tensor(v)).sum()
            total = term if total is None else total + term
    if total is not None:
        total.backward()
    analytical = [np.zeros(t.shape) if t.grad is None else t.grad.data.copy() for t in targets]

    for k, (t, a) in enumerate(zip(targets, analytical)):
        numerical = np.zeros(t.shape)
        flat, num = t.data.reshape(-1), numerical.reshape(-1)
        for i in range(flat.size):
            orig = flat[i]
            flat[i] = orig + eps
            hi = scalar()
            flat[i] = orig - eps
            lo = scalar()
            flat[i] = orig
            num[i] = (hi - lo) / (2 * eps)
        bad = np.abs(a - numerical) > atol + rtol * np.abs(numerical)
        if bad.any():
            if not raise_exception:
                return False
            j = int(np.flatnonzero(bad.reshape(-1))[0])
            raise GradcheckError(
                f"Jacobian mismatch for input {k} (shape {tuple(t.shape)}) at flat index {j}: "
                f"analytical {a.reshape(-1)[j]:.8g} vs numerical {numerical.reshape(-1)[j]:.8g} "
                f"({int(bad.sum())} of {bad.size} entries differ)"
            )
    for t in targets:
        t.grad = None
    return True
