"""`numcnn.autograd.backward` and `numcnn.autograd.grad`: the entry points of the engine.

`grad(outputs, inputs)` returns d(outputs)/d(inputs) without touching any `.grad`; with
`create_graph=True` the returned gradients are themselves recorded, so that a gradient
penalty or a Hessian-vector product can be differentiated once more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from numcnn.autograd import engine, grad_mode

if TYPE_CHECKING:
    from numcnn.tensor import Tensor


def _as_list(x: Any) -> list[Any]:
    from numcnn.tensor import Tensor

    if x is None:
        return []
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def _initial_grads(outputs: list[Tensor], grad_outputs: list[Any], create_graph: bool,
                   what: str) -> list[Any]:
    """One starting gradient per output: ones for a scalar, else the given one, checked."""
    from numcnn.tensor import Tensor

    if grad_outputs and len(grad_outputs) != len(outputs):
        raise RuntimeError(
            f"grad requires one gradient per output: {len(outputs)} outputs but "
            f"{len(grad_outputs)} {what}"
        )
    grads: list[Any] = []
    for i, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"outputs must be Tensors, got {type(out).__name__} at {i}")
        if out._base is not None:
            out._refresh_view()
        if not out.requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )
        g = grad_outputs[i] if grad_outputs else None
        if g is None:
            if out.array.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g = Tensor(np.ones(out.shape, dtype=out.dtype))
        elif not isinstance(g, Tensor):
            g = Tensor(np.asarray(g, dtype=out.dtype))
        if tuple(g.shape) != tuple(out.shape):
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {tuple(g.shape)} and "
                f"output[{i}] has a shape of {tuple(out.shape)}."
            )
        if g.dtype != out.dtype:
            g = g.to(out.dtype)
        grads.append(g if create_graph else g.array)
    return grads


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: Any = None) -> None:
    """Accumulate the gradients of `tensors` into the leaves' `.grad` (torch.autograd.backward).

    Args:
        tensors: the outputs to differentiate (a Tensor or a sequence of them).
        grad_tensors: d loss / d output for each (None for a scalar output: ones).
        retain_graph: keep the saved values for another backward (default: `create_graph`).
        create_graph: record the backward pass itself, for higher-order gradients.
        inputs: accumulate only into these tensors' `.grad` (leaves or not).
    """
    outputs = _as_list(tensors)
    grads = _initial_grads(outputs, _as_list(grad_tensors), create_graph, "grad_tensors")
    targets = _as_list(inputs) if inputs is not None else None
    if targets is not None and not targets:
        raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    retain = create_graph if retain_graph is None else bool(retain_graph)
    with grad_mode.set_grad_enabled(create_graph):
        engine.run_backward(outputs, grads, retain_graph=retain, create_graph=create_graph,
                            inputs=targets)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, only_inputs: bool = True, allow_unused: bool | None = None,
         is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple[Any, ...]:
    """d(outputs)/d(inputs) · grad_outputs, returned instead of accumulated (torch.autograd.grad).

    Args:
        outputs: the differentiated tensors; inputs: the tensors to differentiate against
            (leaves or intermediate tensors).
        grad_outputs: the vector in the vector-Jacobian product, one per output.
        retain_graph: keep the saved values for another backward (default: `create_graph`).
        create_graph: record this backward pass, so the results can be differentiated again.
        allow_unused: return None for an input the outputs do not depend on, instead of
            raising; `materialize_grads=True` returns zeros there (and implies allow_unused).

    Returns:
        One gradient per input, as a tuple.
    """
    from numcnn.tensor import Tensor

    if is_grads_batched:
        raise NotImplementedError("grad(is_grads_batched=True) is not supported by numcnn")
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when "
                         "materialize_grads=True, but got: allow_unused=False.")
    allow_unused = bool(allow_unused) or materialize_grads
    outs = _as_list(outputs)
    ins = _as_list(inputs)
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor):
            raise TypeError(f"inputs must be Tensors, got {type(t).__name__} at {i}")
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    grads = _initial_grads(outs, _as_list(grad_outputs), create_graph, "grad_outputs")
    retain = create_graph if retain_graph is None else bool(retain_graph)
    with grad_mode.set_grad_enabled(create_graph):
        found = engine.run_backward(outs, grads, retain_graph=retain, create_graph=create_graph,
                                    inputs=ins, accumulate=False)
    result: list[Any] = []
    for t, g in zip(ins, found):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    "One of the differentiated Tensors appears to not have been used in the "
                    "graph. Set allow_unused=True if this is the desired behavior."
                )
            if materialize_grads:
                g = Tensor(np.zeros(t.shape, dtype=t.dtype))
        result.append(g)
    return tuple(result)


def Variable(data: Any, requires_grad: bool = False, volatile: bool = False) -> Tensor:
    """PyTorch's old wrapper, kept for old code: since PyTorch 0.4 a Variable is a Tensor.
    Returns a tensor on `data`'s storage that is a leaf and requires grad as asked."""
    from numcnn.tensor import Tensor

    t = data.detach() if isinstance(data, Tensor) else Tensor(data)
    return t.requires_grad_(requires_grad) if requires_grad else t


__all__ = ["Variable", "backward", "grad"]
