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
version check of saved tensors.  One differentiable output per Function (see docs/compat.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from numcnn.autograd import anomaly_mode, grad_mode
from numcnn.autograd.function import Context, Node

if TYPE_CHECKING:
    from numcnn.tensor import Tensor


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


def _run_backward(fn: Any, ctx: FunctionCtx, grad: Any, shape: tuple[int, ...],
                  dtype: Any) -> tuple[Any, ...]:
    from numcnn.tensor import Tensor

    if grad is None and ctx.materialize_grads:
        grad = Tensor(np.zeros(shape, dtype=dtype))
    grads = fn.backward(ctx, grad)
    return grads if isinstance(grads, tuple) else (grads,)


class _TensorBackward:
    """What the engine calls for a Tensor-contract Function's node (backward_arrays and
    backward_graph, as for an op), adapting to the user's Tensor-level backward."""

    def __init__(self, fn: Any, out_shape: tuple[int, ...], out_dtype: Any) -> None:
        self.fn, self.shape, self.dtype = fn, out_shape, out_dtype
        self.__name__ = fn.__name__

    def backward_arrays(self, ctx: FunctionCtx, grad: np.ndarray) -> tuple[Any, ...]:
        from numcnn.tensor import Tensor

        with grad_mode.no_grad():
            grads = _run_backward(self.fn, ctx, Tensor(grad), self.shape, self.dtype)
        return tuple(g.array if isinstance(g, Tensor) else g for g in grads)

    def backward_graph(self, ctx: FunctionCtx, grad: Tensor, saved: Any) -> tuple[Any, ...]:
        return _run_backward(self.fn, ctx, grad, self.shape, self.dtype)


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
        if len(diff) > 1:
            raise NotImplementedError(
                f"{fn.__name__}: numcnn records one differentiable output per custom Function, "
                f"this forward returned {len(diff)}; mark the others with "
                "ctx.mark_non_differentiable(...) or split the Function"
            )
        if diff:
            out = outs[diff[0]]
            edges = tuple(
                None if not need else (a if a.grad_fn is None else a.grad_fn)
                for a, need in zip(args, needs))
            node = Node(_TensorBackward(fn, tuple(out.shape), out.dtype),  # type: ignore[arg-type]
                        ctx, edges,
                        tuple(a.array.shape if isinstance(a, Tensor) else None for a in args),
                        tuple(a.array.dtype if isinstance(a, Tensor) else None for a in args))
            if any(out is d for d in ctx._dirty):
                out._check_inplace_allowed()
                out._version_counter.value += 1
            out.grad_fn, out.requires_grad = node, True
            if anomaly_mode.is_anomaly_enabled():    # anomaly hook: keep the forward call stack
                anomaly_mode.record_forward(node)
    return tuple(outs) if isinstance(result, tuple) else outs[0]


def _overrides(fn: Any, name: str) -> bool:
    return callable(getattr(fn, name, None))
