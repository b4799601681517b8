"""The `Function` base class: one differentiable primitive, forward and backward on ndarrays.

An op subclasses `Function` and writes two static methods on raw `np.ndarray`s::

    class Mul(Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, gy):
            a, b = ctx.saved
            return gy * b, gy * a          # one entry per positional forward argument

`Mul.apply(x, y)` unwraps tensors, runs `forward` and, when some input needs a gradient and
grad mode is on, records a `Node` in the graph.  Positional arguments are the (possibly)
differentiable inputs; keyword arguments are configuration and never receive gradients.
`backward` may return `None` for an input that needs no gradient (see `ctx.needs_input_grad`).
Gradients may come back broadcast-shaped: the engine sums them down to the input's shape
(`unbroadcast`) and checks the result, in one place.

`forward` may return a tuple: the first entry is the differentiable output, the others are
returned as tensors that carry no gradient (max-pool indices, for example).
"""

from __future__ import annotations

import itertools
import weakref
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from numcnn.autograd import anomaly_mode, grad_mode

if TYPE_CHECKING:
    from numcnn.tensor import Tensor


class Context:
    """Per-call storage handed to `forward` and `backward`."""

    __slots__ = ("needs_input_grad", "saved_tensors_", "__dict__")

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad
        self.saved_tensors_: tuple[Any, ...] | None = ()

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep what backward needs, and no more."""
        self.saved_tensors_ = arrays

    @property
    def saved(self) -> tuple[Any, ...]:
        if self.saved_tensors_ is None:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed). Saved intermediate values of the "
                "graph are freed when you call .backward(). Specify retain_graph=True if you need "
                "to backward through the graph a second time."
            )
        return self.saved_tensors_

    if TYPE_CHECKING:  # ops keep small metadata as ctx attributes (ctx.stride = ...)
        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...


class Version:
    """A storage's version counter, shared by a tensor and every view of it; each in-place
    write adds one (PyTorch's `tensor._version`)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class SavedVersion:
    """A saved array that lives in some tensor's storage: that storage's counter, its value at
    save time, and what an error message needs to name the tensor (its shape and dtype, and
    the node that made it: `maker`, or the saving node itself when `own_output`)."""

    __slots__ = ("counter", "version", "shape", "dtype", "maker", "own_output", "index")

    def __init__(self, counter: Version, t: Tensor, maker: Node | None, own_output: bool,
                 index: int) -> None:
        self.counter, self.version = counter, counter.value
        self.shape, self.dtype = t.array.shape, t.array.dtype
        self.maker, self.own_output, self.index = maker, own_output, index


def record_saved_versions(node: Node, args: tuple[Any, ...], out: Tensor) -> None:
    """Note, for each array `forward` saved, which input's or output's storage it lives in."""
    from numcnn.tensor import Tensor

    saved = node.ctx.saved_tensors_
    if not saved:
        return
    tensors = [(j, t) for j, t in enumerate(args) if isinstance(t, Tensor)]
    for i, s in enumerate(saved):
        if not isinstance(s, np.ndarray):
            continue
        # the common case first: an input or the output saved as it is (no memory test)
        owner = next(((j, t) for j, t in tensors if s is t.array), None)
        if owner is None and s is out.array:
            owner = (-1, out)
        if owner is None:
            owner = next(((j, t) for j, t in tensors if np.may_share_memory(s, t.array)), None)
            if owner is None and np.may_share_memory(s, out.array):
                owner = (-1, out)
            if owner is None:
                continue
        else:
            node.saved_sources[i] = owner[0]
        j, t = owner
        node.saved_versions.append(SavedVersion(t._version_counter, t,
                                                None if j == -1 else t.grad_fn, j == -1, i))


_SEQUENCE = itertools.count()


class Node:
    """A recorded call of a `Function`: the edge list the engine walks backwards.

    `inputs[i]` is None (no gradient wanted), a leaf `Tensor` (its `.grad` accumulates) or the
    `Node` that produced the i-th input.  `shapes[i]`/`dtypes[i]` let the engine check gradients.
    """

    __slots__ = ("fn", "ctx", "inputs", "shapes", "dtypes", "released", "retained", "hooks",
                 "saved_versions", "saved_sources", "seq", "__weakref__")

    def __init__(self, fn: type[Function], ctx: Context, inputs: tuple[Any, ...],
                 shapes: tuple[tuple[int, ...] | None, ...], dtypes: tuple[Any, ...]) -> None:
        self.fn = fn
        self.ctx = ctx
        self.inputs = inputs
        self.shapes = shapes
        self.dtypes = dtypes
        self.released = False
        self.seq = next(_SEQUENCE)           # creation order (PyTorch's sequence_nr)
        # non-leaf tensors that asked for .retain_grad(), and tensor hooks on this output
        self.retained: list[weakref.ref[Tensor]] = []
        self.hooks: list[Callable[[Any], Any]] = []
        # one SavedVersion per saved array that lives in a tensor's storage (see check_versions)
        self.saved_versions: list[SavedVersion] = []
        # saved index -> input position (or -1: the output) for arrays saved exactly as they
        # came in or went out, so a differentiable backward can give them their history
        self.saved_sources: dict[int, int] = {}

    def check_versions(self) -> None:
        """Raise if a tensor whose storage backward reads was modified in place since forward.

        Each tensor storage carries a version counter that every in-place write bumps; the
        version seen when the array was saved must still be the current one (PyTorch's rule).
        """
        for sv in self.saved_versions:
            if sv.counter.value != sv.version:
                maker = self if sv.own_output else sv.maker
                of = f", which is output 0 of {maker.name()}," if maker is not None else ""
                what = f"numcnn.{sv.dtype.name} {list(sv.shape)}"
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: [{what}]{of} is at version {sv.counter.value}; "
                    f"expected version {sv.version} instead. The saved value was needed by "
                    f"{self.name()}. Hint: enable anomaly detection to find the operation that "
                    "failed to compute its gradient, with "
                    "numcnn.autograd.set_detect_anomaly(True)."
                )

    def name(self) -> str:
        return self.fn.__name__ + "Backward"

    @property
    def next_functions(self) -> tuple[tuple[Any, int], ...]:
        """Where this node sends gradients, as PyTorch lists them: (node, 0) for an op's
        output, (AccumulateGrad, 0) for a leaf, (None, 0) for an input without gradient."""
        return tuple((AccumulateGrad(e) if e is not None and not isinstance(e, Node) else e, 0)
                     for e in self.inputs)

    def register_hook(self, hook: Callable[..., Any]) -> Any:
        """Not PyTorch's node hook (grad_inputs, grad_outputs); see Tensor.register_hook."""
        raise NotImplementedError(
            "numcnn has no hooks on graph nodes; register a hook on the tensor instead "
            "(tensor.register_hook) or on the module (register_full_backward_hook)"
        )

    def __repr__(self) -> str:
        return f"<{self.name()}>"


class AccumulateGrad:
    """The graph's end for a leaf tensor, as `next_functions` shows it (`.variable`)."""

    __slots__ = ("variable",)

    def __init__(self, variable: Tensor) -> None:
        self.variable = variable

    def name(self) -> str:
        return "AccumulateGrad"

    @property
    def next_functions(self) -> tuple[()]:
        return ()

    def __repr__(self) -> str:
        return "<AccumulateGrad>"


class Function:
    """Base class of every differentiable primitive.  Subclasses define `forward`/`backward`.

    Two contracts, chosen by the class attribute `on_arrays`:
    - `on_arrays = True` (every op inside numcnn): forward and backward work on ndarrays, as
      described at the top of this module;
    - `on_arrays = False` (the default for classes defined outside numcnn): PyTorch's contract
      for a custom `torch.autograd.Function` - forward gets the Tensors, runs without
      recording, saves Tensors with `ctx.save_for_backward` and reads them back as
      `ctx.saved_tensors`; backward gets and returns Tensors (see `autograd/custom.py`).
    A class may set `on_arrays` itself; otherwise it is decided by the module it lives in.

    `may_return_view = True` marks ops whose result can be a view of their first input's array
    (reshape, permute, basic indexing ...): when it is, the output tensor shares the input's
    storage and version counter, as PyTorch's views do.
    """

    may_return_view = False
    on_arrays = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "on_arrays" not in cls.__dict__ and Function in cls.__bases__:
            cls.on_arrays = cls.__module__.split(".")[0] == "numcnn"   # deeper ones inherit

    @classmethod
    def backward_arrays(cls, ctx: Context, grad: np.ndarray) -> Any:
        """The engine's call: backward on arrays, whichever contract the class follows."""
        return cls.backward(ctx, grad)

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        from numcnn.tensor import Tensor

        if not cls.on_arrays:
            from numcnn.autograd.custom import apply_tensor_function
            return apply_tensor_function(cls, args, kwargs)
        arrays = []
        needs = []
        for a in args:
            if isinstance(a, Tensor):
                if a._base is not None:
                    a._refresh_view()
                arrays.append(a.array)
                needs.append(a.requires_grad)
            else:
                arrays.append(a)
                needs.append(False)
        record = grad_mode._grad_enabled and any(needs)
        ctx = Context(tuple(needs) if record else (False,) * len(args))
        result = cls.forward(ctx, *arrays, **kwargs)
        extras: tuple[Any, ...] = ()
        if isinstance(result, tuple):
            result, *rest = result
            extras = tuple(Tensor(np.asarray(e)) for e in rest)
        out = Tensor(result)
        if cls.may_return_view and arrays and isinstance(args[0], Tensor) \
                and np.may_share_memory(result, arrays[0]):
            out._become_view_of(args[0], cls, kwargs)
        if record and out.array.dtype.kind in "fc":   # integer/bool results carry no gradient
            edges = tuple(None if not need else (a if a.grad_fn is None else a.grad_fn)
                          for a, need in zip(args, needs))   # a leaf: its .grad accumulates
            node = out.grad_fn = Node(
                cls, ctx, edges,
                tuple(a.shape if isinstance(a, np.ndarray) else None for a in arrays),
                tuple(a.dtype if isinstance(a, np.ndarray) else None for a in arrays),
            )
            out.requires_grad = True
            if ctx.saved_tensors_:
                record_saved_versions(node, args, out)
            if anomaly_mode._enabled:   # anomaly hook: keep the forward call stack
                anomaly_mode.record_forward(node)
        if extras:
            return (out, *extras)
        return out
