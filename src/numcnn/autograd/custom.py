"""Custom Functions with PyTorch's contract: forward and backward on Tensors.

A user's `class MyOp(numcnn.autograd.Function)` is written as for `torch.autograd.Function`::

    class MyReLU(Function):
        @staticmethod
        def forward(ctx, input):              # Tensors in, Tensors out; nothing recorded here
            ctx.save_for_backward(input)
            return input.clamp(min=0)

        @staticmethod
        def backward(ctx, grad_output):       # a Tensor per output, a Tensor per input back
            (input,) = ctx.saved_tensors
            grad_input = grad_output.clone()
            grad_input[input < 0] = 0
            return grad_input

`MyReLU.apply(x)` runs forward without recording, then records one graph node whose backward
calls the user's backward on Tensors (recorded too when `create_graph=True`, so a backward
written in differentiable ops can be differentiated again).  Also supported: forward without
ctx plus `setup_context(ctx, inputs, output)`, `ctx.needs_input_grad`, `mark_dirty` (an input
modified in place and returned), `mark_non_differentiable`, `set_materialize_grads`, and the
version check of saved tensors, and several differentiable outputs (backward gets one
gradient per output, as PyTorch's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from numcnn.autograd import anomaly_mode, grad_mode
from numcnn.autograd.function import Context, Node

if TYPE_CHECKING:
    pass


class FunctionCtx(Context):
    """The `ctx` of a Tensor-contract Function: PyTorch's FunctionCtx."""

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        super().__init__(needs_input_grad)
        self.saved_tensors_ = ()
        self._saved_versions: tuple[int, ...] = ()
        self._dirty: tuple[Any, ...] = ()
        self._non_differentiable: tuple[Any, ...] = ()
        self.materialize_grads = True

    def save_for_backward(self, *tensors: Any) -> None:
        from numcnn.tensor import Tensor

        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(
                    f"save_for_backward can only save variables, but argument is of type "
                    f"{type(t).__name__}"
                )
        self.saved_tensors_ = tensors
        self._saved_versions = tuple(t._version if t is not None else 0 for t in tensors)

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        saved = self.saved
        for t, v in zip(saved, self._saved_versions):
            if t is not None and t._version != v:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: [numcnn.{t.dtype.name} {list(t.shape)}] is at "
                    f"version {t._version}; expected version {v} instead."
                )
        return saved

    def mark_dirty(self, *tensors: Any) -> None:
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors: Any) -> None:
        self._non_differentiable = tensors

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = bool(value)


class OutputGrads:
    """The gradients of a multi-output Function's outputs, gathered for its one node: each
    output's selector node sends its gradient here at its position; the engine adds these up
    as it adds any gradients."""

    __slots__ = ("grads",)

    def __init__(self, n: int, position: int, grad: Any) -> None:
        self.grads: list[Any] = [None] * n
        self.grads[position] = grad

    def __add__(self, other: OutputGrads) -> OutputGrads:
        total = OutputGrads(len(self.grads), 0, None)
        total.grads = [b if a is None else a if b is None else a + b
                       for a, b in zip(self.grads, other.grads)]
        return total


class _TensorBackward:
    """What the engine calls for a Tensor-contract Function's node (backward_arrays and
    backward_graph, as for an op), adapting to the user's Tensor-level backward: one gradient
    per forward output (zeros, or None with set_materialize_grads(False), where none came)."""

    def __init__(self, fn: Any, outs: list[Any], position: int) -> None:
        from numcnn.tensor import Tensor

        self.fn, self.position = fn, position      # position: of the output it is grad_fn of
        self.meta = [(tuple(o.shape), o.dtype) if isinstance(o, Tensor) else None for o in outs]
        self.__name__ = fn.__name__

    def _call(self, ctx: FunctionCtx, grad: Any) -> tuple[Any, ...]:
        from numcnn.tensor import Tensor

        grads = grad.grads if isinstance(grad, OutputGrads) else \
            [grad if i == self.position else None for i in range(len(self.meta))]
        full = []
        for g, meta in zip(grads, self.meta):
            if g is not None and not isinstance(g, Tensor):
                g = Tensor(g)
            if g is None and meta is not None and ctx.materialize_grads:
                g = Tensor(np.zeros(meta[0], dtype=meta[1]))
            full.append(g)
        result = self.fn.backward(ctx, *full)
        return result if isinstance(result, tuple) else (result,)

    def backward_arrays(self, ctx: FunctionCtx, grad: Any) -> tuple[Any, ...]:
        from numcnn.tensor import Tensor

        with grad_mode.no_grad():
            grads = self._call(ctx, grad)
        return tuple(g.array if isinstance(g, Tensor) else g for g in grads)

    def backward_graph(self, ctx: FunctionCtx, grad: Any, saved: Any) -> tuple[Any, ...]:
        return self._call(ctx, grad)


class _SelectOutput:
    """The node of output `position` of a multi-output Function: it hands its gradient to
    the Function's node, at its position."""

    def __init__(self, name: str, n: int, position: int) -> None:
        self.__name__, self.n, self.position = name, n, position

    def backward_arrays(self, ctx: Context, grad: Any) -> tuple[Any, ...]:
        return (OutputGrads(self.n, self.position, grad),)

    def backward_graph(self, ctx: Context, grad: Any, saved: Any) -> tuple[Any, ...]:
        return (OutputGrads(self.n, self.position, grad),)


def apply_tensor_function(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """`fn.apply(*args)` for a Function with PyTorch's contract."""
    from numcnn.tensor import Tensor

    if kwargs:
        raise TypeError(f"{fn.__name__}.apply() takes positional arguments only (as PyTorch)")
    for a in args:
        if isinstance(a, Tensor) and a._base is not None:
            a._refresh_view()
    needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
    record = grad_mode.is_grad_enabled() and any(needs)
    ctx = FunctionCtx(needs if record else (False,) * len(args))
    with grad_mode.no_grad():
        if _overrides(fn, "setup_context"):
            result = fn.forward(*args)
            fn.setup_context(ctx, args, result)
        else:
            result = fn.forward(ctx, *args)
    outs = list(result) if isinstance(result, tuple) else [result]
    for i, o in enumerate(outs):                 # an input returned as is: a new alias
        if any(o is a for a in args) and not any(o is d for d in ctx._dirty):
            alias = o.detach()
            outs[i] = alias
    if record:
        diff = [i for i, o in enumerate(outs)
                if isinstance(o, Tensor) and o.dtype.kind in "fc"
                and not any(o is nd for nd in ctx._non_differentiable)]
        if diff:
            edges = tuple(
                None if not need else (a if a.grad_fn is None else a.grad_fn)
                for a, need in zip(args, needs))
            hub = Node(_TensorBackward(fn, outs, diff[0]), ctx, edges,  # type: ignore[arg-type]
                       tuple(a.array.shape if isinstance(a, Tensor) else None for a in args),
                       tuple(a.array.dtype if isinstance(a, Tensor) else None for a in args))
            if anomaly_mode.is_anomaly_enabled():    # anomaly hook: keep the forward call stack
                anomaly_mode.record_forward(hub)
            for i in diff:
                out = outs[i]
                if any(out is d for d in ctx._dirty):
                    out._check_inplace_allowed()
                    out._version_counter.value += 1
                node = hub if len(diff) == 1 else Node(
                    _SelectOutput(fn.__name__, len(outs), i),  # type: ignore[arg-type]
                    Context((True,)), (hub,), (None,), (None,))
                out.grad_fn, out.requires_grad = node, True
    return tuple(outs) if isinstance(result, tuple) else outs[0]


def _overrides(fn: Any, name: str) -> bool:
    return callable(getattr(fn, name, None))
