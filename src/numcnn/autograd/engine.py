"""The backward engine: one iterative walk of the graph in reverse topological order.

Every gradient an op returns passes through `_fit`, which undoes broadcasting and checks the
shape against the input's — the only place in numcnn where that happens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from numcnn.autograd import anomaly_mode
from numcnn.autograd.custom import OutputGrads
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


def _fit_graph(grad: Tensor, shape: tuple[int, ...], dtype: Any, node: Node,
               index: int) -> Tensor:
    """`_fit` for gradients that are themselves recorded (create_graph=True): the same
    unbroadcasting, written with differentiable tensor ops."""
    if tuple(grad.shape) != shape:
        extra = grad.ndim - len(shape)
        if extra < 0 or any(s != 1 and g != s for g, s in zip(grad.shape[extra:], shape)):
            raise RuntimeError(
                f"Function {node.name()} returned an invalid gradient at index {index} - got "
                f"{list(grad.shape)} but expected shape compatible with {list(shape)}"
            )
        axes = tuple(range(extra)) + tuple(
            extra + i for i, (g, s) in enumerate(zip(grad.shape[extra:], shape)) if s == 1 != g)
        grad = grad.sum(axes, keepdim=True).reshape(shape) if axes else grad.reshape(shape)
    if grad.dtype != dtype:
        grad = grad.to(dtype)
    return grad


def _run_hooks(hooks: list[Any], g: Any, graph: bool) -> Any:
    from numcnn.tensor import Tensor

    for hook in hooks:
        out = hook(g if graph else Tensor(g))
        if out is not None:
            if graph:
                g = out if isinstance(out, Tensor) else Tensor(np.asarray(out))
            else:
                g = np.asarray(out.array if isinstance(out, Tensor) else out)
    return g


def accumulate_leaf(t: Tensor, grad: Any, graph: bool = False) -> None:
    """`t.grad += grad` for a leaf, after its hooks; the stored array is always t's own.

    With `graph` (create_graph=True) `grad` is a recorded Tensor and `.grad` keeps its history.
    """
    from numcnn.tensor import Tensor

    grad = _run_hooks(t._hooks, grad, graph)
    if graph:
        t.grad = grad if t.grad is None else t.grad + grad
    elif t.grad is None:
        t.grad = Tensor(np.array(grad, dtype=t.array.dtype, copy=True))
    else:
        t.grad.array = t.grad.array + grad
    post = t.__dict__.get("_post_accumulate_grad_hooks")
    if post:
        for hook in list(post.values()):
            hook(t)


# ------------------------------------------------------------- end-of-backward callbacks
# One list of queued callbacks per backward pass in progress (a hook may start another pass,
# so this is a stack); `queue_callback` appends to the innermost.
_final_callbacks: list[list[Callable[[], Any]]] = []


def queue_callback(callback: Callable[[], Any]) -> None:
    """Run `callback()` once when the backward pass in progress finishes, after every gradient
    of that pass has been accumulated (numcnn's spelling of PyTorch's
    `torch.autograd.Variable._execution_engine.queue_callback`, which DistributedDataParallel
    uses to wait for its last all-reduces).  Callbacks run in the order they were queued; one
    queued by a callback runs in the same pass, after it.

    Raises:
        RuntimeError: when no backward pass is running.
    """
    if not _final_callbacks:
        raise RuntimeError("Final callbacks can only be installed during backward pass.")
    _final_callbacks[-1].append(callback)


def _run_final_callbacks(callbacks: list[Callable[[], Any]]) -> None:
    i = 0
    while i < len(callbacks):         # the list may grow while it runs
        callbacks[i]()
        i += 1


def _topological_order(roots: list[Node]) -> list[Node]:
    """Nodes reachable from `roots`, each after every node that feeds it a gradient."""
    post: list[Node] = []
    seen: set[int] = set()
    stack: list[tuple[Node, bool]] = [(r, False) for r in reversed(roots)]
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


def _leading_to(order: list[Node], targets: dict[int, int]) -> set[int]:
    """The nodes whose backward must run to reach some target (a leaf, or a non-leaf's node)."""
    through: set[int] = set()
    for node in reversed(order):             # leaves' side first
        if any(edge is not None and (id(edge) in targets or id(edge) in through)
               for edge in node.inputs):
            through.add(id(node))
    return through


def saved_with_history(node: Node) -> tuple[Any, ...]:
    """`node`'s saved values for a differentiable backward: an array saved as an input or as
    the output comes back as a Tensor carrying that value's history (so the gradient of the
    gradient can flow through it, as PyTorch's saved variables do); other arrays come back as
    constant Tensors, anything else unchanged."""
    from numcnn.tensor import Tensor

    out: list[Any] = []
    for i, s in enumerate(node.ctx.saved):
        src = node.saved_sources.get(i)
        edge = node if src == -1 else (node.inputs[src] if src is not None else None)
        if not isinstance(s, np.ndarray):
            out.append(s)
        elif edge is None:
            out.append(Tensor(s))
        elif isinstance(edge, Node):
            t = Tensor(s)
            t.grad_fn, t.requires_grad = edge, True
            out.append(t)
        else:
            out.append(edge)                  # a leaf: the tensor itself
    return tuple(out)


def _graph_backward(node: Node, g: Tensor) -> tuple[Any, ...]:
    backward_graph = getattr(node.fn, "backward_graph", None)
    if backward_graph is None:
        raise RuntimeError(
            f"numcnn cannot differentiate {node.name()} twice: its backward is written on "
            "arrays only, and create_graph=True needs one written in differentiable ops "
            "(docs/compat.md lists the ops that have one)"
        )
    grads = backward_graph(node.ctx, g, saved_with_history(node))
    return grads if isinstance(grads, tuple) else (grads,)


def run_backward(roots: list[Tensor], grads: list[Any], retain_graph: bool = False,
                 create_graph: bool = False, inputs: list[Tensor] | None = None,
                 accumulate: bool = True) -> list[Any]:
    """`_run_backward` with the callbacks queued during the pass run at its end."""
    callbacks: list[Callable[[], Any]] = []
    _final_callbacks.append(callbacks)
    try:
        found = _run_backward(roots, grads, retain_graph, create_graph, inputs, accumulate)
        _run_final_callbacks(callbacks)
    finally:
        _final_callbacks.pop()
    return found


def _run_backward(roots: list[Tensor], grads: list[Any], retain_graph: bool = False,
                  create_graph: bool = False, inputs: list[Tensor] | None = None,
                  accumulate: bool = True) -> list[Any]:
    """Propagate `grads` (d loss / d root, one per root) back through the graph.

    Without `inputs`, every leaf that requires a gradient accumulates it into `.grad`.  With
    `inputs` only those tensors (leaves or not) are reached, and their gradients are either
    accumulated into `.grad` (`backward(inputs=...)`) or returned (`accumulate=False`, which
    is `autograd.grad`).  With `create_graph` the gradients are recorded tensors, so they can
    be differentiated again.
    A leaf's gradient is delivered (its hooks run, `.grad` changes, then its post-accumulate
    hooks run) as soon as the last node that feeds it has run, as PyTorch's AccumulateGrad
    node, so that work started by those hooks (DDP's all-reduces) overlaps the rest.
    Returns one gradient (or None) per entry of `inputs` (an empty list without them).
    """
    from numcnn.tensor import Tensor

    graph = create_graph
    targets: dict[int, int] = {}              # id(leaf or node) -> position in inputs
    if inputs is not None:
        for pos, inp in enumerate(inputs):
            targets[id(inp if inp.grad_fn is None else inp.grad_fn)] = pos
    found: list[Any] = [None] * (len(inputs) if inputs is not None else 0)

    def deliver_leaf(leaf: Tensor, g: Any) -> None:
        if inputs is not None:
            k = targets.get(id(leaf))
            if k is None:
                return
            if not accumulate:
                found[k] = g if found[k] is None else found[k] + g
                return
        accumulate_leaf(leaf, g, graph)

    pending: dict[int, Any] = {}
    leaf_roots: list[tuple[Tensor, Any]] = []
    for root, g in zip(roots, grads):
        if root.grad_fn is None:
            leaf_roots.append((root, g))
        else:
            key = id(root.grad_fn)
            pending[key] = g if key not in pending else pending[key] + g
    order = _topological_order([r.grad_fn for r in roots if r.grad_fn is not None])
    through = _leading_to(order, targets) if inputs is not None else None
    # a leaf's gradients are summed over all its uses before its hooks run and .grad changes
    # (as PyTorch's AccumulateGrad node), so a hook sees the total gradient, once; it is
    # delivered when the last node that uses it (in `order`) is done
    leaf_grads: dict[int, tuple[Tensor, Any]] = {}
    for leaf, g in leaf_roots:
        prev_leaf = leaf_grads.get(id(leaf))
        leaf_grads[id(leaf)] = (leaf, g if prev_leaf is None else prev_leaf[1] + g)
    last_use: dict[int, int] = {}             # id(leaf) -> index in order of its last user
    for pos, node in enumerate(order):
        for edge in node.inputs:
            if edge is not None and not isinstance(edge, Node):
                last_use[id(edge)] = pos
    due: dict[int, list[int]] = {}            # index in order -> leaves complete after it
    for key, pos in last_use.items():
        due.setdefault(pos, []).append(key)

    def deliver_due(pos: int) -> None:
        for key in due.pop(pos, ()):
            item = leaf_grads.pop(key, None)
            if item is not None:
                deliver_leaf(*item)

    for pos, node in enumerate(order):
        if pos:
            deliver_due(pos - 1)
        g = pending.pop(id(node), None)
        k = targets.get(id(node))
        if g is None or (through is not None and k is None and id(node) not in through):
            continue
        if node.hooks:
            g = _run_hooks(node.hooks, g, graph)
        for ref in node.retained if inputs is None else ():
            t = ref()
            if t is not None:
                gg = g if graph else Tensor(np.array(g, copy=True))
                t.grad = gg if t.grad is None else (t.grad + gg if graph
                                                    else Tensor(t.grad.array + g))
        if k is not None and inputs is not None:   # a non-leaf input: its gradient is complete
            gg = g if graph else Tensor(np.array(g, copy=True))
            if accumulate:
                owner = inputs[k]
                owner.grad = gg if owner.grad is None else owner.grad + gg
            else:
                found[k] = gg
            if through is not None and id(node) not in through:
                continue
        node.check_versions()
        if graph:
            input_grads = _graph_backward(node, g)
        else:
            input_grads = (anomaly_mode.checked_backward(node, g)   # anomaly hook: NaN check
                           if anomaly_mode.is_anomaly_enabled()
                           else node.fn.backward_arrays(node.ctx, g))
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
            if isinstance(gi, OutputGrads):
                pass                    # gathered for a multi-output Function's node
            elif graph:
                gi = _fit_graph(gi if isinstance(gi, Tensor) else Tensor(np.asarray(gi)),
                                node.shapes[i] or (), node.dtypes[i], node, i)
            else:
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
    if order:
        deliver_due(len(order) - 1)
    for leaf, g in leaf_grads.values():       # leaf roots that no node uses
        deliver_leaf(leaf, g)
    return [g if g is None or isinstance(g, Tensor) else Tensor(np.asarray(g)) for g in found]


__all__ = ["run_backward", "unbroadcast", "accumulate_leaf", "saved_with_history",
           "queue_callback"]
