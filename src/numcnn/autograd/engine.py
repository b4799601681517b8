"""The backward engine: one iterative walk of the graph in reverse topological order.

Every gradient an op returns passes through `_fit`, which undoes broadcasting and checks the
shape against the input's — the only place in numcnn where that happens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from numcnn.autograd import anomaly_mode
from numcnn.autograd.function import Node

if TYPE_CHECKING:
    from numcnn.tensor import Tensor


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` down to `shape`, undoing NumPy broadcasting (leading axes, then size-1 axes)."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        raise RuntimeError(f"gradient of shape {grad.shape} cannot be reduced to {shape}")
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, (g, s) in enumerate(zip(grad.shape, shape)) if s == 1 and g != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    if grad.shape != shape:
        raise RuntimeError(f"gradient of shape {grad.shape} cannot be reduced to {shape}")
    return grad


def _fit(grad: Any, shape: tuple[int, ...], dtype: Any, node: Node, index: int) -> np.ndarray:
    grad = np.asarray(grad)
    if grad.shape != shape:
        try:
            grad = unbroadcast(grad, shape)
        except RuntimeError:
            raise RuntimeError(
                f"Function {node.name()} returned an invalid gradient at index {index} - got "
                f"{list(grad.shape)} but expected shape compatible with {list(shape)}"
            ) from None
    if grad.dtype != dtype:
        grad = grad.astype(dtype)
    return grad


def accumulate_leaf(t: Tensor, grad: np.ndarray) -> None:
    """`t.grad += grad` for a leaf, after its hooks; the stored array is always t's own."""
    from numcnn.tensor import Tensor

    for hook in t._hooks:
        out = hook(Tensor(grad))
        if out is not None:
            grad = np.asarray(out.array if isinstance(out, Tensor) else out)
    if t.grad is None:
        t.grad = Tensor(np.array(grad, dtype=t.array.dtype, copy=True))
    else:
        t.grad.array = t.grad.array + grad


def _topological_order(root: Node) -> list[Node]:
    """Nodes reachable from `root`, each after every node that feeds it a gradient."""
    post: list[Node] = []
    seen: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        if finished:
            post.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for edge in node.inputs:
            if isinstance(edge, Node) and id(edge) not in seen:
                stack.append((edge, False))
    post.reverse()
    return post


def run_backward(root: Tensor, grad: np.ndarray, retain_graph: bool = False) -> None:
    """Propagate `grad` (d loss / d root) to every leaf that requires a gradient."""
    from numcnn.tensor import Tensor

    if root.grad_fn is None:
        accumulate_leaf(root, grad)
        return
    pending: dict[int, np.ndarray] = {id(root.grad_fn): grad}
    # a leaf's gradients are summed over all its uses before its hooks run and .grad changes
    # (as PyTorch's AccumulateGrad node), so a hook sees the total gradient, once
    leaf_grads: dict[int, tuple[Tensor, np.ndarray]] = {}
    for node in _topological_order(root.grad_fn):
        g = pending.pop(id(node), None)
        if g is None:
            continue
        for hook in node.hooks:
            out = hook(Tensor(g))
            if out is not None:
                g = np.asarray(out.array if isinstance(out, Tensor) else out)
        for ref in node.retained:
            t = ref()
            if t is not None:
                t.grad = Tensor(np.array(g, copy=True)) if t.grad is None \
                    else Tensor(t.grad.array + g)
        node.check_versions()
        input_grads = (anomaly_mode.checked_backward(node, g)    # anomaly hook: NaN check
                       if anomaly_mode.is_anomaly_enabled() else node.fn.backward(node.ctx, g))
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        if len(input_grads) != len(node.inputs):
            raise RuntimeError(
                f"function {node.name()} returned {len(input_grads)} gradients, "
                f"expected {len(node.inputs)}"
            )
        for i, (edge, gi) in enumerate(zip(node.inputs, input_grads)):
            if edge is None or gi is None:
                continue
            gi = _fit(gi, node.shapes[i] or (), node.dtypes[i], node, i)
            if isinstance(edge, Node):
                prev = pending.get(id(edge))
                pending[id(edge)] = gi if prev is None else prev + gi
            else:
                prev_leaf = leaf_grads.get(id(edge))
                leaf_grads[id(edge)] = (edge, gi if prev_leaf is None else prev_leaf[1] + gi)
        if not retain_graph:
            node.ctx.saved_tensors_ = None
            node.released = True
    for leaf, g in leaf_grads.values():
        accumulate_leaf(leaf, g)


__all__ = ["run_backward", "unbroadcast", "accumulate_leaf"]
