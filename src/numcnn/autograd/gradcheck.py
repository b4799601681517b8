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
              rtol: float = 1e-3, raise_exception: bool = True, *,
              max_full_outputs: int = 200) -> bool:
    """Compare backward's gradients with central differences (f(x+eps) - f(x-eps)) / 2eps.

    Every floating input tensor with `requires_grad=True` must be float64.  The numerical
    Jacobian J (outputs x inputs) is built column by column from central differences.  When
    the outputs have at most `max_full_outputs` elements in all, every row of J is also
    computed by backward (one backward per output element, upstream gradient = a one-hot),
    so each entry dy_j/dx_i is checked on its own.  Larger outputs are checked along one
    random direction v: the analytical v^T J (one backward) against the numerical v^T J.
    Entries must satisfy |a - n| <= atol + rtol * |n|.

    Returns True, or raises `GradcheckError` (False with `raise_exception=False`).
    """
    from numcnn.tensor import Tensor

    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    targets = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not targets:
        raise ValueError("gradcheck expects at least one input tensor with requires_grad=True")
    for t in targets:
        if t.dtype != np.float64:
            raise TypeError(
                f"gradcheck needs float64 inputs for precision; got an input of dtype {t.dtype}"
            )
        if not t.array.flags.c_contiguous or not t.array.flags.writeable:
            t.array = np.array(t.array, order="C")    # perturbed in place below

    def flat_outputs() -> np.ndarray:
        with grad_mode.no_grad():
            outs = _outputs(fn, inputs)
        if not outs:
            return np.zeros(0)
        return np.concatenate([np.asarray(o.array, dtype=np.float64).reshape(-1) for o in outs])

    # analytical rows: one backward per direction (retain_graph: one forward serves them all)
    for t in targets:
        t.grad = None
    with grad_mode.enable_grad():
        outs = _outputs(fn, inputs)
    sizes = [o.array.size for o in outs]
    n_out = int(sum(sizes))
    full = n_out <= max_full_outputs
    directions = np.eye(n_out) if full \
        else np.random.default_rng(0).standard_normal((1, n_out))         # (D, n_out)
    bounds = np.cumsum([0] + sizes)
    analytical = [np.zeros((len(directions), t.array.size)) for t in targets]  # (D, n_in)
    for d, v in enumerate(directions):
        for t in targets:
            t.grad = None
        for o, lo, hi in zip(outs, bounds[:-1], bounds[1:]):
            if o.requires_grad and v[lo:hi].any():
                o.backward(v[lo:hi].reshape(o.shape).astype(o.dtype), retain_graph=True)
        for a, t in zip(analytical, targets):
            if t.grad is not None:
                a[d] = t.grad.array.reshape(-1)

    for k, (t, a) in enumerate(zip(targets, analytical)):
        jac = np.zeros((n_out, t.array.size))                             # (n_out, n_in)
        flat = t.array.reshape(-1)
        for i in range(flat.size):
            orig = flat[i]
            flat[i] = orig + eps
            hi_out = flat_outputs()
            flat[i] = orig - eps
            lo_out = flat_outputs()
            flat[i] = orig
            jac[:, i] = (hi_out - lo_out) / (2 * eps)
        numerical = directions @ jac                                     # (D, n_in)
        bad = np.abs(a - numerical) > atol + rtol * np.abs(numerical)
        if bad.any():
            for u in targets:
                u.grad = None
            if not raise_exception:
                return False
            d, j = (int(x) for x in np.argwhere(bad)[0])
            where = f"d(output element {d})/d(input element {j})" if full \
                else f"a random projection of the outputs, input element {j}"
            raise GradcheckError(
                f"Jacobian mismatch for input {k} (shape {tuple(t.shape)}) at {where}: "
                f"analytical {a[d, j]:.8g} vs numerical {numerical[d, j]:.8g} "
                f"({int(bad.sum())} of {bad.size} entries differ)"
            )
    for t in targets:
        t.grad = None
    return True


def gradgradcheck(fn: Callable[..., Any], inputs: Any, grad_outputs: Any = None,
                  eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  raise_exception: bool = True, *, max_full_outputs: int = 200) -> bool:
    """Check second derivatives: `gradcheck` of the recorded gradients themselves.

    The function checked is (inputs, v) -> d<fn(inputs), v>/d inputs, computed with
    `autograd.grad(..., create_graph=True)`; its derivatives with respect to the inputs and
    to the upstream gradient v are compared with central differences of it.  `grad_outputs`
    (v, one per floating output) defaults to fixed random float64 tensors; they are given
    `requires_grad=True`.  Tolerances and the return value are gradcheck's.
    """
    from numcnn.autograd.api import grad
    from numcnn.tensor import Tensor

    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    targets = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not targets:
        raise ValueError("gradgradcheck expects at least one input tensor with "
                         "requires_grad=True")
    with grad_mode.enable_grad():
        outs = [o for o in _outputs(fn, inputs) if o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        vs = [Tensor(rng.standard_normal(o.shape), requires_grad=True) for o in outs]
    else:
        given = list(grad_outputs) if isinstance(grad_outputs, (tuple, list)) \
            else [grad_outputs]
        if len(given) != len(outs):
            raise ValueError(f"gradgradcheck got {len(given)} grad_outputs for {len(outs)} "
                             "differentiable outputs")
        vs = [Tensor(np.array(v.array if isinstance(v, Tensor) else v, dtype=np.float64),
                     requires_grad=True) for v in given]
    n = len(inputs)

    def first_derivatives(*args: Any) -> tuple[Any, ...]:
        with grad_mode.enable_grad():
            ys = [o for o in _outputs(fn, args[:n]) if o.requires_grad]
            gs = grad(ys, targets, list(args[n:]), create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_derivatives, inputs + tuple(vs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, max_full_outputs=max_full_outputs)
