"""`Tensor`: an `np.ndarray` plus the bookkeeping autograd needs.

`.array` is the ndarray, `.grad` the accumulated gradient (a Tensor or None), `.requires_grad`
whether gradients are wanted, `.grad_fn` the graph node that made it (None for leaves).
`.data` is, as in PyTorch, a Tensor on the same storage that stands outside the graph.
Operators dispatch to the `Function`s in `numcnn.ops`.
"""

from __future__ import annotations

import builtins
import weakref
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from numcnn import dtypes, functions
from numcnn.autograd import grad_mode
from numcnn.devices import CPU, check_device, is_device
from numcnn.devices import device as _device
from numcnn.functions._args import norm_dim as _norm_dim
from numcnn.functions._args import norm_dims as _norm_dims
from numcnn.functions.views import check_memory_format
from numcnn.ops import shape as S

_FLOAT_KINDS = "fc"


def _as_array(value: Any, dtype: Any = None) -> np.ndarray:
    """Python data -> ndarray with PyTorch's dtype rules (floats: default dtype, ints: int64)."""
    if isinstance(value, Tensor):
        value = value.array
    if dtype is not None:
        return np.array(value, dtype=dtypes.as_dtype(dtype))
    arr = np.array(value)
    if not isinstance(value, (np.ndarray, np.generic)):
        if arr.dtype.kind == "f":
            arr = arr.astype(dtypes.get_default_dtype())
        elif arr.dtype.kind in "iu":
            arr = arr.astype(np.int64)
    return arr


class Size(tuple):
    """A tensor's shape, as `torch.Size`: a tuple of ints (equal to the plain tuple) that
    prints as `numcnn.Size([2, 3])`; slicing and `+` give a Size, `numel()` the product."""

    def __new__(cls, sizes: Iterable[Any] = ()) -> Size:
        items = []
        for i, s in enumerate(sizes):
            if isinstance(s, builtins.bool) or not isinstance(s, (builtins.int, np.integer)):
                if not (isinstance(s, Tensor) and s.ndim == 0 and s.array.dtype.kind in "iu"):
                    raise TypeError(f"numcnn.Size() takes an iterable of 'int' (item {i} is "
                                    f"'{type(s).__name__}')")
            items.append(builtins.int(s))
        return super().__new__(cls, items)

    def numel(self) -> int:
        """The number of elements a tensor of this shape holds (1 for `Size([])`)."""
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, index: Any) -> Any:
        item = super().__getitem__(index)
        return Size(item) if isinstance(index, slice) else item

    def __add__(self, other: Any) -> Size:
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple(self) + other)

    def __radd__(self, other: Any) -> Size:
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(other + tuple(self))

    def __mul__(self, n: Any) -> Size:
        return Size(tuple(self) * n)

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"numcnn.Size({list(self)})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        return (Size, (tuple(self),))


def _to_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any, builtins.bool]:
    """(device, np.dtype or None, copy) from the arguments of one of `Tensor.to`'s forms."""

    def bad() -> TypeError:
        got = ", ".join([type(a).__name__ for a in args]
                        + [f"{k}={type(v).__name__}" for k, v in kwargs.items()])
        return TypeError(f"to() received an invalid combination of arguments - got ({got}), "
                         f"but expected one of: (device device=None, dtype dtype=None, "
                         f"bool non_blocking=False, bool copy=False), (dtype dtype, bool "
                         f"non_blocking=False, bool copy=False), (Tensor other, bool "
                         f"non_blocking=False, bool copy=False)")

    if set(kwargs) - {"device", "dtype", "non_blocking", "copy", "memory_format"}:
        raise bad()
    if args and isinstance(args[0], Tensor):            # to(other, non_blocking, copy)
        names: tuple[str, ...] = ("other", "non_blocking", "copy")
    elif args and dtypes.is_dtype(args[0]):             # to(dtype, non_blocking, copy)
        names = ("dtype", "non_blocking", "copy")
    else:                                               # to(device, dtype, non_blocking, copy)
        names = ("device", "dtype", "non_blocking", "copy")
    if len(args) > len(names):
        raise bad()
    given = dict(zip(names, args))
    if set(given) & set(kwargs) or ("other" in given and {"device", "dtype"} & set(kwargs)):
        raise bad()
    given.update(kwargs)
    if "other" in given:
        other = given.pop("other")
        given["device"], given["dtype"] = other.device, other.dtype
    device, dtype = given.get("device"), given.get("dtype")
    if dtype is not None and not dtypes.is_dtype(dtype):
        raise bad()
    if device is not None and not is_device(device):
        raise bad()
    if any(not isinstance(given.get(f, False), (builtins.bool, np.bool_))
           for f in ("non_blocking", "copy")):
        raise bad()
    return (device, None if dtype is None else dtypes.as_dtype(dtype),
            builtins.bool(given.get("copy", False)))


def _shape_args(shape: tuple[Any, ...]) -> tuple[int, ...]:
    """Accept f(2, 3) and f((2, 3)) alike."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(builtins.int(s) for s in shape)


def _in_place(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """The in-place method of the function `fn`: `x.f_(...)` writes `fn(x, ...)` into x."""

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return self._inplace_from(fn(self, *args, **kwargs))

    method.__name__ = method.__qualname__ = fn.__name__ + "_"
    method.__doc__ = f"In-place `{fn.__name__}`: the result is written into this tensor."
    return method


class Tensor:
    """A multi-dimensional array that can record the operations applied to it."""

    __slots__ = ("array", "grad", "requires_grad", "grad_fn", "_hooks", "_retains_grad",
                 "_version_counter", "_base", "_view_fn", "_view_version",
                 "__weakref__", "__dict__")
    __array_priority__ = 1000  # so ndarray (op) Tensor defers to Tensor's reflected operator

    def __init__(self, data: Any, requires_grad: builtins.bool = False) -> None:
        self.array: np.ndarray = data if isinstance(data, np.ndarray) else _as_array(data)
        self.grad: Tensor | None = None
        self.grad_fn: Any = None
        self._hooks: list[Callable[[Tensor], Any]] = []
        self._retains_grad = False
        # the storage's version counter (shared with views); for a view, the tensor whose
        # storage it looks into and the function that cuts this view out of that tensor's array
        self._version_counter = Version()
        self._base: Tensor | None = None
        self._view_fn: Callable[[np.ndarray], np.ndarray] | None = None
        self._view_version = 0          # for a view: the storage's version its grad_fn reflects
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ----------------------------------------------------------------- introspection
    @property
    def data(self) -> Tensor:
        """This tensor's storage as a new tensor outside the graph (PyTorch's `.data`): it
        never requires grad, and writing to it is not recorded for autograd."""
        return Tensor(self.array)

    @data.setter
    def data(self, value: Any) -> None:
        self.array = value.array if isinstance(value, Tensor) else np.asarray(value)

    @property
    def shape(self) -> Size:
        return tuple.__new__(Size, self.array.shape)     # ndarray shapes hold ints already

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def dtype(self) -> dtypes.dtype:
        return dtypes.of(self.array.dtype)

    @property
    def is_leaf(self) -> builtins.bool:
        return self.grad_fn is None

    @property
    def device(self) -> _device:
        """Always `numcnn.device("cpu")` (which, as in PyTorch, is not equal to the string
        "cpu": compare `x.device.type == "cpu"`)."""
        return CPU

    @property
    def is_cuda(self) -> builtins.bool:
        """False: numcnn tensors live on the CPU."""
        return False

    @property
    def is_cpu(self) -> builtins.bool:
        """True: numcnn tensors live on the CPU."""
        return True

    @property
    def itemsize(self) -> int:
        """Bytes per element (`element_size()`)."""
        return self.array.itemsize

    @property
    def nbytes(self) -> int:
        """Bytes of the elements: numel() * itemsize (a broadcast view counts every element)."""
        return builtins.int(self.array.size) * self.array.itemsize

    @property
    def is_floating_point_(self) -> builtins.bool:
        return self.array.dtype.kind in _FLOAT_KINDS

    def is_floating_point(self) -> builtins.bool:
        """Whether the dtype is a floating one (float16/32/64; complex is not)."""
        return self.array.dtype.kind == "f"

    def size(self, dim: int | None = None) -> Any:
        """The shape as a `numcnn.Size`, or, given `dim`, that dimension's length (an int)."""
        if dim is None:
            return tuple.__new__(Size, self.array.shape)
        return self.array.shape[_norm_dim(dim, self.ndim)]

    def dim(self) -> int:
        return self.array.ndim

    def numel(self) -> int:
        return builtins.int(self.array.size)

    def element_size(self) -> int:
        return self.array.itemsize

    def nelement(self) -> int:
        """The number of elements (`numel`)."""
        return builtins.int(self.array.size)

    def ndimension(self) -> int:
        """The number of dimensions (`dim`)."""
        return self.array.ndim

    def stride(self, dim: int | None = None) -> Any:
        """Steps in elements (not bytes) between neighbours along each dim, from the ndarray's
        strides (0 along broadcast dims, as an expanded torch tensor)."""
        steps = tuple(builtins.int(b) // self.array.itemsize for b in self.array.strides)
        return steps if dim is None else steps[_norm_dim(dim, self.ndim)]

    def is_contiguous(self, memory_format: Any = None) -> builtins.bool:
        """True when the elements lie in memory in row-major order without gaps."""
        return builtins.bool(self.array.flags.c_contiguous)

    def data_ptr(self) -> int:
        """The address of the first element."""
        return builtins.int(self.array.__array_interface__["data"][0])

    def __format__(self, format_spec: str) -> str:
        """A 0-d tensor formats as its number (`f"{loss:.4f}"`); others as `object` does, so a
        format spec raises TypeError (as PyTorch)."""
        if self.ndim == 0:
            return builtins.format(self.item(), format_spec)
        return object.__format__(self, format_spec)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def item(self) -> Any:
        if self.array.size != 1:
            raise RuntimeError(
                f"a Tensor with {self.array.size} elements cannot be converted to Scalar"
            )
        return self.array.reshape(()).item()

    def tolist(self) -> Any:
        return self.array.tolist()

    def numpy(self) -> np.ndarray:
        if self.requires_grad and grad_mode.is_grad_enabled():
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        return self.array

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.array if dtype is None else self.array.astype(dtype)

    def __repr__(self) -> str:
        body = _format_array(self.array)
        extra = []
        if self.array.dtype not in (dtypes.get_default_dtype(), dtypes.int64, dtypes.bool):
            extra.append(f"dtype=numcnn.{self.array.dtype.name}")
        if self.grad_fn is not None:
            extra.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extra) + ")"

    def __hash__(self) -> int:
        return id(self)

    def __bool__(self) -> builtins.bool:
        if self.array.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with {self.array.size} values is ambiguous"
            )
        return builtins.bool(self.array.reshape(()))

    def __float__(self) -> builtins.float:
        return builtins.float(self.item())

    def __int__(self) -> builtins.int:
        return builtins.int(self.item())

    def __index__(self) -> builtins.int:
        if self.array.dtype.kind not in "iub" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return builtins.int(self.item())

    # ----------------------------------------------------------------- autograd
    def requires_grad_(self, requires_grad: builtins.bool = True) -> Tensor:
        if requires_grad and self.array.dtype.kind not in _FLOAT_KINDS:
            raise RuntimeError(
                f"only Tensors of floating point dtype can require gradients, got {self.dtype}"
            )
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use "
                "a computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        self.requires_grad = builtins.bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """The same storage, cut from the graph; in-place writes to either are seen by both,
        and count in the shared version counter (PyTorch's `detach`; `.data` does not count)."""
        out = Tensor(self.array)
        out._version_counter = self._version_counter
        return out

    @property
    def _version(self) -> builtins.int:
        """How many in-place writes this tensor's storage has seen (PyTorch's `_version`)."""
        return self._version_counter.value

    def _is_view(self) -> builtins.bool:
        return self._base is not None

    def _become_view_of(self, src: Tensor, fn: Any, kwargs: dict[str, Any]) -> None:
        """Make this op output a view of `src`'s storage: same version counter, and a way to
        cut it out of the base tensor's array again (the op's forward, after src's own)."""
        ctx = Context(())

        def cut(a: np.ndarray) -> np.ndarray:
            return fn.forward(ctx, a, **kwargs)

        outer = src._view_fn
        self._base = src if src._base is None else src._base
        view_fn = cut if outer is None else (lambda a: cut(outer(a)))
        creator = getattr(fn, "view_forbids_inplace", None) or getattr(outer, "creator", None)
        self._view_fn = view_fn if creator is None else CustomView(view_fn, creator)
        self._version_counter = src._version_counter
        self._view_version = src._version_counter.value

    def _refresh_view(self) -> None:
        """A view whose storage was written (through its base or another view) since its
        grad_fn was set takes its history from the base again, as PyTorch regenerates a view's
        grad_fn: otherwise it would still point at the values from before the write."""
        base = self._base
        if base is None or self._view_version == self._version_counter.value:
            return
        self._view_version = self._version_counter.value
        if base.requires_grad and base.grad_fn is not None:
            with grad_mode.enable_grad():
                self.grad_fn = AsView.apply(base, view_fn=self._view_fn).grad_fn
            self.requires_grad = True

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self.requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep `.grad` on this non-leaf tensor after backward."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None and not self._retains_grad:
            self.grad_fn.retained.append(weakref.ref(self))
        self._retains_grad = True

    @property
    def retains_grad(self) -> builtins.bool:
        return self.grad_fn is not None and self._retains_grad

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> Any:
        """Call `hook(grad)` when this tensor's gradient is computed; a return value replaces it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        hooks = self._hooks if self.grad_fn is None else self.grad_fn.hooks
        hooks.append(hook)
        return _RemovableHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> Any:
        """Call `hook(self)` after a backward pass has accumulated this leaf's `.grad` (once per
        pass, after the last of its uses; not for `autograd.grad`, which leaves `.grad`
        alone).  The hook's return value is ignored.  Returns a handle whose `.remove()`
        unregisters it.  (DistributedDataParallel starts a bucket's all-reduce from here.)

        Raises:
            RuntimeError: for a tensor that does not require grad, or a non-leaf.
        """
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError(
                "post accumulate grad hooks cannot be registered on non-leaf tensors")
        hooks = self.__dict__.setdefault("_post_accumulate_grad_hooks", {})
        key = object()
        hooks[key] = hook
        return _RemovableHandle(hooks, key)

    def backward(self, gradient: Any = None, retain_graph: builtins.bool | None = None,
                 create_graph: builtins.bool = False, inputs: Any = None) -> None:
        """Accumulate d(self)/d(leaf) · gradient into every leaf's `.grad` (or only into
        `inputs`' `.grad`); with `create_graph` the gradients are recorded, so they can be
        differentiated again (see `numcnn.autograd.grad`)."""
        from numcnn.autograd.api import backward
        backward([self], None if gradient is None else [gradient], retain_graph, create_graph,
                 inputs=inputs)

    # ----------------------------------------------------------------- dtype
    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """This tensor with another dtype (and device, which must be the CPU), in PyTorch's
        three forms: `to(dtype, non_blocking=False, copy=False)`, `to(device=None, dtype=None,
        non_blocking=False, copy=False)` and `to(other, non_blocking=False, copy=False)` (other's
        dtype), plus the keyword `memory_format` (accepted, ignored).  A device is a string
        ("cpu", "cpu:0"), a `numcnn.device` or an index; a string is always a device, as in
        PyTorch.  Returns `self` when nothing changes and `copy` is False, else a new tensor
        (differentiable, like any cast).

        Raises:
            RuntimeError: for a device other than the CPU (e.g. "cuda").
            TypeError: for arguments that match none of the forms.
        """
        device, dtype, copy = _to_args(args, kwargs)
        check_device(device)
        if dtype is None or dtype == self.array.dtype:
            return Clone.apply(self) if copy else self
        return Cast.apply(self, dtype=dtype)

    def type(self, dtype: Any) -> Tensor:
        return self.to(dtypes.as_dtype(dtype))

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def float(self) -> Tensor:
        return self.to(dtypes.float32)

    def double(self) -> Tensor:
        return self.to(dtypes.float64)

    def half(self) -> Tensor:
        return self.to(dtypes.float16)

    def byte(self) -> Tensor:
        return self.to(dtypes.uint8)

    def char(self) -> Tensor:
        return self.to(dtypes.int8)

    def short(self) -> Tensor:
        return self.to(dtypes.int16)

    def long(self) -> Tensor:
        return self.to(dtypes.int64)

    def int(self) -> Tensor:
        return self.to(dtypes.int32)

    def bool(self) -> Tensor:
        return self.to(dtypes.bool)

    def cpu(self, memory_format: Any = None) -> Tensor:
        """`self`: every numcnn tensor is on the CPU."""
        return self

    def cuda(self, device: Any = None, non_blocking: builtins.bool = False,
             memory_format: Any = None) -> Tensor:
        """Raises RuntimeError: numcnn runs on the CPU only (use `.cpu()` or `.to("cpu")`)."""
        check_device(f"cuda:{device}" if isinstance(device, builtins.int) else device or "cuda")
        return self                          # reached only for device="cpu": nothing to do

    def clone(self, *, memory_format: Any = None) -> Tensor:
        """A copy with its own storage; `memory_format`: `numcnn.preserve_format` (the
        default: the copy keeps this tensor's strides) or `numcnn.contiguous_format`."""
        fmt = functions.preserve_format if memory_format is None else memory_format
        check_memory_format(fmt, (functions.preserve_format, functions.contiguous_format),
                            "clone")
        if fmt is functions.contiguous_format:
            return Clone.apply(self, order="C")
        return Clone.apply(self)

    def contiguous(self, memory_format: Any = None) -> Tensor:
        """Self when its elements lie in row-major order already, else a row-major copy;
        `memory_format` may only be `numcnn.contiguous_format` (the default)."""
        check_memory_format(functions.contiguous_format if memory_format is None
                            else memory_format, (functions.contiguous_format,), "contiguous")
        if self.array.flags.c_contiguous:
            return self
        return Clone.apply(self, order="C")

    # ----------------------------------------------------------------- the method table
    # Methods that only forward to a torch-level function (`x.exp()` is `numcnn.exp(x)`),
    # declared once here; the functions live in numcnn/functions/, one module per family.
    # --- E2: math, reductions, products, creation (functions/math, reduce, blas, creation)
    add = functions.add
    sub = subtract = functions.sub
    mul = multiply = functions.mul
    div = divide = true_divide = functions.div
    floor_divide = functions.floor_divide
    remainder = functions.remainder
    pow = functions.pow
    neg = negative = functions.neg
    abs = absolute = functions.abs
    square = functions.square
    sign = functions.sign
    lerp = functions.lerp
    exp = functions.exp
    exp2 = functions.exp2
    expm1 = functions.expm1
    log = functions.log
    log2 = functions.log2
    log10 = functions.log10
    log1p = functions.log1p
    sqrt = functions.sqrt
    rsqrt = functions.rsqrt
    reciprocal = functions.reciprocal
    erf = functions.erf
    sin = functions.sin
    cos = functions.cos
    tan = functions.tan
    sinh = functions.sinh
    cosh = functions.cosh
    asin = arcsin = functions.asin
    acos = arccos = functions.acos
    atan = arctan = functions.atan
    atan2 = arctan2 = functions.atan2
    floor = functions.floor
    ceil = functions.ceil
    trunc = fix = functions.trunc
    round = functions.round
    frac = functions.frac
    clamp = clip = functions.clamp
    clamp_min = functions.clamp_min
    clamp_max = functions.clamp_max
    maximum = functions.maximum
    minimum = functions.minimum
    eq = functions.eq
    ne = not_equal = functions.ne
    lt = less = functions.lt
    le = less_equal = functions.le
    gt = greater = functions.gt
    ge = greater_equal = functions.ge
    equal = functions.equal
    isclose = functions.isclose
    allclose = functions.allclose
    isnan = functions.isnan
    isinf = functions.isinf
    isfinite = functions.isfinite
    logical_not = functions.logical_not
    bitwise_xor = functions.bitwise_xor
    sum = functions.sum
    mean = functions.mean
    prod = functions.prod
    cumsum = functions.cumsum
    cumprod = functions.cumprod
    logsumexp = functions.logsumexp
    all = functions.all
    any = functions.any
    count_nonzero = functions.count_nonzero
    var = functions.var
    std = functions.std
    max = functions.max
    min = functions.min
    amax = functions.amax
    amin = functions.amin
    argmax = functions.argmax
    argmin = functions.argmin
    norm = functions.norm
    matmul = functions.matmul
    mm = functions.mm
    bmm = functions.bmm
    mv = functions.mv
    dot = functions.dot
    outer = ger = functions.outer
    addmm = functions.addmm
    baddbmm = functions.baddbmm
    new_zeros = functions.new_zeros
    new_ones = functions.new_ones
    new_empty = functions.new_empty
    new_full = functions.new_full
    new_tensor = functions.new_tensor
    relu = functions.relu
    sigmoid = functions.sigmoid
    tanh = functions.tanh
    softmax = functions.softmax
    log_softmax = functions.log_softmax
    # --- L: more torch functions (functions/statistics, math, blas, other)
    addcmul = functions.addcmul
    addcdiv = functions.addcdiv
    cross = functions.cross
    diff = functions.diff
    trace = functions.trace
    kron = functions.kron
    median = functions.median
    nanmedian = functions.nanmedian
    kthvalue = functions.kthvalue
    mode = functions.mode
    nansum = functions.nansum
    nanmean = functions.nanmean
    cummax = functions.cummax
    cummin = functions.cummin
    logcumsumexp = functions.logcumsumexp
    histc = functions.histc
    histogram = functions.histogram
    bincount = functions.bincount
    unique = functions.unique
    unique_consecutive = functions.unique_consecutive
    tensor_split = functions.tensor_split
    asinh = functions.asinh
    acosh = functions.acosh
    atanh = functions.atanh
    arcsinh = functions.arcsinh
    arccosh = functions.arccosh
    arctanh = functions.arctanh
    fmod = functions.fmod
    fmax = functions.fmax
    fmin = functions.fmin
    logaddexp = functions.logaddexp
    logaddexp2 = functions.logaddexp2
    deg2rad = functions.deg2rad
    rad2deg = functions.rad2deg
    nan_to_num = functions.nan_to_num
    positive = functions.positive
    signbit = functions.signbit
    isposinf = functions.isposinf
    isneginf = functions.isneginf
    addmv = functions.addmv
    addr = functions.addr
    addbmm = functions.addbmm
    inner = functions.inner
    vdot = functions.vdot
    dist = functions.dist
    hsplit = functions.hsplit
    vsplit = functions.vsplit
    dsplit = functions.dsplit
    ravel = functions.ravel
    select = functions.select
    take_along_dim = functions.take_along_dim
    rot90 = functions.rot90
    diag_embed = functions.diag_embed
    diagflat = functions.diagflat
    is_nonzero = functions.is_nonzero
    aminmax = functions.aminmax
    cov = functions.cov
    corrcoef = functions.corrcoef
    erfc = functions.erfc
    adjoint = functions.adjoint
    renorm = functions.renorm
    unfold = functions.other.unfold
    is_signed = functions.other.is_signed
    sum_to_size = functions.other.sum_to_size
    index_fill = functions.other.index_fill
    put = functions.other.put
    bernoulli = functions.bernoulli
    multinomial = functions.multinomial
    hardshrink = functions.hardshrink
    prelu = functions.prelu
    __contains__ = functions.other.contains
    mH = property(functions.adjoint)
    H = property(functions.other.matrix_h)
    # --- E1: indexing, scatter, sorting (functions/indexing, sorting)
    gather = functions.gather
    scatter = functions.scatter
    scatter_add = functions.scatter_add
    scatter_reduce = functions.scatter_reduce
    index_select = functions.index_select
    index_add = functions.index_add
    index_copy = functions.index_copy
    masked_fill = functions.masked_fill
    masked_select = functions.masked_select
    nonzero = functions.nonzero
    argwhere = functions.argwhere
    take = functions.take
    roll = functions.roll
    narrow = functions.narrow
    unbind = functions.unbind
    repeat_interleave = functions.repeat_interleave
    flip = functions.flip
    fliplr = functions.fliplr
    flipud = functions.flipud
    tril = functions.tril
    triu = functions.triu
    diag = functions.diag
    sort = functions.sort
    argsort = functions.argsort
    msort = functions.msort
    topk = functions.topk
    # in-place forms: the out-of-place result written back (in-place autograd: issue 11 core)
    scatter_ = functions.scatter_
    scatter_add_ = functions.scatter_add_
    scatter_reduce_ = functions.scatter_reduce_
    index_add_ = functions.index_add_
    index_copy_ = functions.index_copy_
    masked_fill_ = functions.masked_fill_

    logical_and = functions.logical_and
    logical_or = functions.logical_or
    logical_xor = functions.logical_xor
    broadcast_to = functions.broadcast_to
    movedim = moveaxis = functions.movedim
    swapaxes = functions.swapaxes
    swapdims = functions.swapdims
    diagonal = functions.diagonal

    def tile(self, *dims: Any) -> Tensor:
        """This tensor repeated along each dim (`numcnn.tile`); dims as ints or one sequence."""
        return functions.tile(self, _shape_args(dims))

    # --- end of the method table

    # ----------------------------------------------------------------- operators
    # Binary operators promote as PyTorch does (functions/_args.py): a 0-d tensor or a Python
    # number does not change the dtype of a dimensioned tensor of its category.
    __add__ = functions.add
    __sub__ = functions.sub
    __mul__ = functions.mul
    __truediv__ = functions.div
    __floordiv__ = functions.floor_divide
    __mod__ = functions.remainder
    __pow__ = functions.pow
    __matmul__ = functions.matmul
    __neg__ = functions.neg
    __abs__ = functions.abs
    __lt__ = functions.lt
    __le__ = functions.le
    __gt__ = functions.gt
    __ge__ = functions.ge
    __xor__ = functions.bitwise_xor

    def __radd__(self, other: Any) -> Tensor:
        return functions.add(other, self)

    def __rsub__(self, other: Any) -> Tensor:
        return functions.sub(other, self)

    def __rmul__(self, other: Any) -> Tensor:
        return functions.mul(other, self)

    def __rtruediv__(self, other: Any) -> Tensor:
        return functions.div(other, self)

    def __rfloordiv__(self, other: Any) -> Tensor:
        return functions.floor_divide(other, self)

    def __rmod__(self, other: Any) -> Tensor:
        return functions.remainder(other, self)

    def __rpow__(self, other: Any) -> Tensor:
        return functions.pow(other, self)

    def __rmatmul__(self, other: Any) -> Tensor:
        return functions.matmul(Tensor(np.asarray(other)), self)

    def __rxor__(self, other: Any) -> Tensor:
        return functions.bitwise_xor(self, other)

    def __pos__(self) -> Tensor:
        return self

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        """Elementwise ==; against a non-number (None, a string) Python's default (False)."""
        if other is None or isinstance(other, (str, type)):
            return NotImplemented
        return functions.eq(self, other)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        if other is None or isinstance(other, (str, type)):
            return NotImplemented
        return functions.ne(self, other)

    def where(self, condition: Any, y: Any) -> Tensor:
        """`x.where(condition, y)` is `numcnn.where(condition, x, y)`."""
        return functions.where(condition, self, y)

    # ----------------------------------------------------------------- in-place
    # An in-place op computes its result out of place with the op's Function, then writes it
    # into this tensor's storage (`_inplace_from`), so that every alias sees it.  When autograd
    # records, the tensor's history is rebased onto the op's node, exactly as PyTorch does:
    #   y.relu_()      y.grad_fn: ReLUBackward(old y.grad_fn)
    #   y[0] = v       y.grad_fn: SetItemBackward(old y.grad_fn, v)
    #   view.mul_(2)   base.grad_fn: CopySlices(old base, MulBackward(view)),
    #                  view.grad_fn: the view cut out of the new base again.
    # Arrays saved for backward that lived in this storage are checked by version at backward.
    def _inplace_from(self, out: Tensor) -> Tensor:
        """Write `out` (computed from this tensor by one op) into this tensor, in place."""
        record = out.grad_fn is not None
        if record or (grad_mode.is_grad_enabled() and self.requires_grad):
            self._check_inplace_allowed()
        res = out.array
        if res.shape != self.array.shape:
            raise RuntimeError(
                f"output with shape {list(self.array.shape)} doesn't match the broadcast shape "
                f"{list(res.shape)}"
            )
        if res.dtype != self.array.dtype and not np.can_cast(res.dtype, self.array.dtype,
                                                               "same_kind"):
            raise RuntimeError(
                f"result type {dtypes.torch_type_name(res.dtype)} can't be cast to the desired "
                f"output type {dtypes.torch_type_name(self.array.dtype)}"
            )
        node = out.grad_fn
        if record:                     # every node made since self's own, on the way to out
            floor = self.grad_fn.seq if self.grad_fn is not None else -1
            for made in _nodes_since(node, floor):
                _unalias_saved(made, self.array, res)
        self._write(res)
        if not record:
            return self
        for sv in node.saved_versions:         # the saved output is now this storage
            if sv.counter is out._version_counter:
                sv.counter, sv.version = self._version_counter, self._version_counter.value
        if self._base is None:
            self.grad_fn, self.requires_grad = node, True
            return self
        base, cut = self._base, self._view_fn
        rebased = CopySlices.apply(base, out, view_fn=cut)
        base.grad_fn, base.requires_grad = rebased.grad_fn, True
        self.grad_fn = AsView.apply(base, view_fn=cut).grad_fn
        self.requires_grad = True
        self._view_version = self._version_counter.value
        return self

    def _check_inplace_allowed(self) -> None:
        if not grad_mode.is_grad_enabled():
            return
        creator = getattr(self._view_fn, "creator", None)
        if creator is not None:
            raise RuntimeError(
                f"Output 0 of {creator} is a view and is being modified inplace. The view was "
                "made inside a custom Function (a module's backward hooks wrap its inputs and "
                "outputs in one), whose backward the in-place rebase would bypass, giving wrong "
                "gradients; this is forbidden, as in PyTorch. Clone the output (or the input) "
                "before modifying it in place."
            )
        if self.requires_grad and self.grad_fn is None and self._base is None:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation."
            )
        base = self._base
        if base is not None and base.requires_grad and base.grad_fn is None:
            raise RuntimeError(
                "a view of a leaf Variable that requires grad is being used in an in-place "
                "operation."
            )

    def _write(self, values: Any) -> None:
        """Store `values` into this tensor's array (every alias sees it) and count the write."""
        a = self.array
        if not a.flags.writeable:
            if a.size > 1 and 0 in a.strides and a.ndim:
                raise RuntimeError(
                    "unsupported operation: more than one element of the written-to tensor "
                    "refers to a single memory location. Please clone() the tensor before "
                    "performing the operation."
                )
            self.array = np.array(np.broadcast_to(values, a.shape), dtype=a.dtype)
        elif values is not a:
            np.copyto(a, values, casting="unsafe")
        self._version_counter.value += 1

    def _apply_inplace(self, fn: Any, *others: Any, **kwargs: Any) -> Tensor:
        return self._inplace_from(fn.apply(self, *others, **kwargs))

    # The in-place forms: the out-of-place function (same promotion and checks), its result
    # written back into this tensor and recorded (`_inplace_from`); one table, as the others.
    add_ = _in_place(functions.add)
    sub_ = subtract_ = _in_place(functions.sub)
    mul_ = multiply_ = _in_place(functions.mul)
    div_ = divide_ = true_divide_ = _in_place(functions.div)
    pow_ = _in_place(functions.pow)
    remainder_ = _in_place(functions.remainder)
    floor_divide_ = _in_place(functions.floor_divide)
    lerp_ = _in_place(functions.lerp)
    clamp_ = clip_ = _in_place(functions.clamp)
    clamp_min_ = _in_place(functions.clamp_min)
    clamp_max_ = _in_place(functions.clamp_max)
    neg_ = negative_ = _in_place(functions.neg)
    abs_ = absolute_ = _in_place(functions.abs)
    square_ = _in_place(functions.square)
    sign_ = _in_place(functions.sign)
    exp_ = _in_place(functions.exp)
    expm1_ = _in_place(functions.expm1)
    log_ = _in_place(functions.log)
    log1p_ = _in_place(functions.log1p)
    sqrt_ = _in_place(functions.sqrt)
    rsqrt_ = _in_place(functions.rsqrt)
    reciprocal_ = _in_place(functions.reciprocal)
    sin_ = _in_place(functions.sin)
    cos_ = _in_place(functions.cos)
    tan_ = _in_place(functions.tan)
    floor_ = _in_place(functions.floor)
    ceil_ = _in_place(functions.ceil)
    round_ = _in_place(functions.round)
    trunc_ = _in_place(functions.trunc)
    frac_ = _in_place(functions.frac)
    erf_ = _in_place(functions.erf)
    sigmoid_ = _in_place(functions.sigmoid)
    tanh_ = _in_place(functions.tanh)
    addcmul_ = _in_place(functions.addcmul)
    addcdiv_ = _in_place(functions.addcdiv)
    erfc_ = _in_place(functions.erfc)
    renorm_ = _in_place(functions.renorm)
    index_fill_ = _in_place(functions.other.index_fill)
    put_ = _in_place(functions.other.put)
    fill_diagonal_ = _in_place(functions.other.fill_diagonal)
    acos_ = _in_place(functions.acos)
    acosh_ = _in_place(functions.acosh)
    addbmm_ = _in_place(functions.addbmm)
    addmm_ = _in_place(functions.addmm)
    addmv_ = _in_place(functions.addmv)
    addr_ = _in_place(functions.addr)
    arccos_ = _in_place(functions.arccos)
    arccosh_ = _in_place(functions.arccosh)
    arcsin_ = _in_place(functions.arcsin)
    arcsinh_ = _in_place(functions.arcsinh)
    arctan2_ = _in_place(functions.arctan2)
    arctan_ = _in_place(functions.arctan)
    arctanh_ = _in_place(functions.arctanh)
    asin_ = _in_place(functions.asin)
    asinh_ = _in_place(functions.asinh)
    atan2_ = _in_place(functions.atan2)
    atan_ = _in_place(functions.atan)
    atanh_ = _in_place(functions.atanh)
    baddbmm_ = _in_place(functions.baddbmm)
    bitwise_xor_ = _in_place(functions.bitwise_xor)
    cosh_ = _in_place(functions.cosh)
    cumprod_ = _in_place(functions.cumprod)
    cumsum_ = _in_place(functions.cumsum)
    deg2rad_ = _in_place(functions.deg2rad)
    eq_ = _in_place(functions.eq)
    exp2_ = _in_place(functions.exp2)
    fix_ = _in_place(functions.fix)
    fmod_ = _in_place(functions.fmod)
    ge_ = _in_place(functions.ge)
    greater_ = _in_place(functions.greater)
    greater_equal_ = _in_place(functions.greater_equal)
    gt_ = _in_place(functions.gt)
    le_ = _in_place(functions.le)
    less_ = _in_place(functions.less)
    less_equal_ = _in_place(functions.less_equal)
    log10_ = _in_place(functions.log10)
    log2_ = _in_place(functions.log2)
    logical_and_ = _in_place(functions.logical_and)
    logical_not_ = _in_place(functions.logical_not)
    logical_or_ = _in_place(functions.logical_or)
    logical_xor_ = _in_place(functions.logical_xor)
    lt_ = _in_place(functions.lt)
    nan_to_num_ = _in_place(functions.nan_to_num)
    ne_ = _in_place(functions.ne)
    not_equal_ = _in_place(functions.not_equal)
    rad2deg_ = _in_place(functions.rad2deg)
    sinh_ = _in_place(functions.sinh)
    tril_ = _in_place(functions.tril)
    triu_ = _in_place(functions.triu)
    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_
    __ipow__ = pow_
    __imod__ = remainder_
    __ifloordiv__ = floor_divide_

    def relu_(self) -> Tensor:
        from numcnn.nn import functional as F
        return F.relu(self, inplace=True)          # the kernel writes straight into self

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def fill_(self, value: Any) -> Tensor:
        if isinstance(value, Tensor) and value.ndim:
            raise RuntimeError(
                f"fill_ only supports 0-dimension value tensor but got tensor with "
                f"{value.ndim} dimensions."
            )
        return self._apply_inplace(Overwrite, value)

    def copy_(self, src: Any, non_blocking: builtins.bool = False) -> Tensor:
        src = src if isinstance(src, Tensor) else np.asarray(src)
        try:
            np.broadcast_shapes(np.shape(src), self.shape)
        except ValueError:
            raise RuntimeError(
                f"The size of tensor a ({self.shape[-1] if self.ndim else 1}) must match the "
                f"size of tensor b ({np.shape(src)[-1] if np.ndim(src) else 1}) at "
                f"non-singleton dimension {self.ndim - 1}"
            ) from None
        return self._apply_inplace(Overwrite, src)

    def uniform_(self, a: builtins.float = 0.0, b: builtins.float = 1.0, *,
                 generator: Any = None) -> Tensor:
        from numcnn.random import generator as rng
        values = rng(generator, "uniform_").uniform(a, b, self.shape)
        return self._apply_inplace(Overwrite, values)

    def normal_(self, mean: builtins.float = 0.0, std: builtins.float = 1.0, *,
                generator: Any = None) -> Tensor:
        from numcnn.random import generator as rng
        values = rng(generator, "normal_").normal(mean, std, self.shape)
        return self._apply_inplace(Overwrite, values)

    def bernoulli_(self, p: Any = 0.5, *, generator: Any = None) -> Tensor:
        from numcnn.random import generator as rng
        prob = p.array if isinstance(p, Tensor) else p
        values = rng(generator, "bernoulli_").random(self.shape) < prob
        return self._apply_inplace(Overwrite, values)

    def __setitem__(self, index: Any, value: Any) -> None:
        if isinstance(value, np.generic):
            value = value.item()
        elif not isinstance(value, (Tensor, builtins.int, builtins.float, builtins.bool)):
            value = np.asarray(value)
        index = _index(index)
        if isinstance(value, Tensor) and value.dtype != self.dtype:
            value = value.to(self.dtype)
        recording = grad_mode.is_grad_enabled() and (
            self.requires_grad or (isinstance(value, Tensor) and value.requires_grad))
        if not recording:                      # the common case: write straight into storage
            a = self.array
            if not a.flags.writeable:
                self._write(a)                 # replaces a read-only array by a writable copy
                self._version_counter.value -= 1
                a = self.array
            a[index] = value.array if isinstance(value, Tensor) else value
            self._version_counter.value += 1
            return
        self._apply_inplace(SetItem, value, index=index)

    # ----------------------------------------------------------------- bitwise (no grad)
    def __invert__(self) -> Tensor:
        return Tensor(np.invert(self.array))

    def __and__(self, other: Any) -> Tensor:
        o = other.array if isinstance(other, Tensor) else other
        return Tensor(np.asarray(np.logical_and(self.array, o) if self.dtype == dtypes.bool
                                 else np.bitwise_and(self.array, o)))

    def __or__(self, other: Any) -> Tensor:
        o = other.array if isinstance(other, Tensor) else other
        return Tensor(np.asarray(np.logical_or(self.array, o) if self.dtype == dtypes.bool
                                 else np.bitwise_or(self.array, o)))

    # ----------------------------------------------------------------- shape
    def reshape(self, *shape: Any) -> Tensor:
        target = _resolve_shape(_shape_args(shape), self.numel())
        return S.Reshape.apply(self, shape=target)

    def view(self, *shape: Any) -> Tensor:
        """The same storage seen with a new shape; refuses (as PyTorch) where the strides make
        that impossible without a copy: use `reshape` there."""
        if len(shape) == 1 and not isinstance(shape[0], (tuple, list, builtins.int, np.integer)):
            raise NotImplementedError(
                f"view(dtype) reinterprets bytes; numcnn does not support it (got {shape[0]!r})"
            )
        target = _resolve_shape(_shape_args(shape), self.numel())
        probe = self.array.view()
        try:
            probe.shape = target                   # NumPy refuses exactly when a copy is needed
        except AttributeError:
            raise RuntimeError(
                "view size is not compatible with input tensor's size and stride (at least one "
                "dimension spans across two contiguous subspaces). Use .reshape(...) instead."
            ) from None
        return S.Reshape.apply(self, shape=target)

    def view_as(self, other: Tensor) -> Tensor:
        return self.view(other.shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    def flatten(self, start_dim: builtins.int = 0, end_dim: builtins.int = -1) -> Tensor:
        if self.ndim == 0:
            return self.reshape(1)
        s, e = _norm_dim(start_dim, self.ndim), _norm_dim(end_dim, self.ndim)
        if s > e:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        shape = self.shape[:s] + (builtins.int(np.prod(self.shape[s:e + 1])),) + self.shape[e + 1:]
        return self.reshape(shape)

    def unflatten(self, dim: builtins.int, sizes: Sequence[builtins.int]) -> Tensor:
        d = _norm_dim(dim, self.ndim)
        return self.reshape(self.shape[:d] + tuple(sizes) + self.shape[d + 1:])

    def permute(self, *dims: Any) -> Tensor:
        order = _shape_args(dims)
        if len(order) != self.ndim:
            raise RuntimeError(
                f"permute(sparse_coo): number of dimensions in the tensor input does not match "
                f"the length of the desired ordering of dimensions i.e. input.dim() = {self.ndim} "
                f"is not equal to len(dims) = {len(order)}"
            )
        return S.Permute.apply(self, dims=tuple(_norm_dim(d, self.ndim) for d in order))

    def transpose(self, dim0: builtins.int, dim1: builtins.int) -> Tensor:
        order = list(range(self.ndim))
        a, b = _norm_dim(dim0, self.ndim), _norm_dim(dim1, self.ndim)
        order[a], order[b] = order[b], order[a]
        return S.Permute.apply(self, dims=tuple(order))

    def t(self) -> Tensor:
        if self.ndim > 2:
            raise RuntimeError(
                f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D"
            )
        return self if self.ndim < 2 else self.transpose(0, 1)

    @property
    def T(self) -> Tensor:
        return S.Permute.apply(self, dims=tuple(reversed(range(self.ndim))))

    @property
    def mT(self) -> Tensor:
        return self.transpose(-2, -1)

    def squeeze(self, dim: Any = None) -> Tensor:
        dims = _norm_dims(dim, self.ndim)
        if dims is None:
            shape = tuple(s for s in self.shape if s != 1)
        else:
            shape = tuple(s for i, s in enumerate(self.shape) if not (i in dims and s == 1))
        return self.reshape(shape)

    def unsqueeze(self, dim: builtins.int) -> Tensor:
        d = _norm_dim(dim, self.ndim + 1)
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def expand(self, *sizes: Any) -> Tensor:
        target = list(_shape_args(sizes))
        lead = len(target) - self.ndim
        if lead < 0:
            raise RuntimeError(
                f"expand: the number of sizes provided ({len(target)}) must be greater or equal "
                f"to the number of dimensions in the tensor ({self.ndim})"
            )
        for i, s in enumerate(self.shape):
            if target[lead + i] == -1:
                target[lead + i] = s
        try:
            np.broadcast_shapes(self.shape, tuple(target))
            if tuple(np.broadcast_shapes(self.shape, tuple(target))) != tuple(target):
                raise ValueError
        except ValueError:
            raise RuntimeError(
                f"The expanded size of the tensor must match the existing size at non-singleton "
                f"dimensions. Target sizes: {target}. Tensor sizes: {list(self.shape)}"
            ) from None
        return S.Expand.apply(self, shape=tuple(target))

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(other.shape)

    def repeat(self, *sizes: Any) -> Tensor:
        reps = _shape_args(sizes)
        x = self.reshape((1,) * (len(reps) - self.ndim) + self.shape)
        # tile = expand an inserted axis before each dim, then merge: (r0, s0, r1, s1, ...)
        inter = []
        for s in x.shape:
            inter += [1, s]
        y = x.reshape(inter).expand([v for r, s in zip(reps, x.shape) for v in (r, s)])
        return y.reshape(tuple(r * s for r, s in zip(reps, x.shape)))

    def split(self, split_size: Any, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        """Pieces of `split_size` along `dim` (the last may be smaller), or, given a list,
        pieces of those sizes."""
        split_size_or_sections = split_size
        d = _norm_dim(dim, self.ndim)
        n = self.shape[d]
        if isinstance(split_size_or_sections, (builtins.int, np.integer)):
            step = builtins.int(split_size_or_sections)
            if step <= 0 and n > 0:
                raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                                   f"dimension size of {n}")
            sizes = [builtins.min(step, n - i) for i in range(0, n, step)] or [0]
        else:
            sizes = [builtins.int(s) for s in split_size_or_sections]
            if sum(sizes) != n:
                raise RuntimeError(
                    f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's "
                    f"size at dimension {dim}), but got split_sizes={sizes}"
                )
        out, start = [], 0
        for s in sizes:
            idx = (slice(None),) * d + (slice(start, start + s),)
            out.append(self[idx])
            start += s
        return tuple(out)

    def chunk(self, chunks: builtins.int, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        if chunks <= 0:
            raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
        n = self.shape[_norm_dim(dim, self.ndim)]
        step = -(-n // chunks) if n else 1
        return self.split(step, dim)

    def __getitem__(self, index: Any) -> Tensor:
        return S.Index.apply(self, index=_index(index))

    def __iter__(self) -> Any:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))


def _float_formatter(a: np.ndarray) -> Callable[[Any], str]:
    """PyTorch's print rule for floats: integers as "3.", else 4 decimals, and scientific
    notation when the finite nonzero magnitudes span more than 1e3 or leave [1e-4, 1e8]."""
    finite = a[np.isfinite(a)].astype(np.float64)
    nz = np.abs(finite[finite != 0])
    int_mode = builtins.bool(np.all(finite == np.ceil(finite)))
    sci = nz.size > 0 and (nz.max() / nz.min() > 1000.0 or nz.max() > 1.0e8
                           or (not int_mode and nz.min() < 1.0e-4))

    def fmt(v: Any) -> str:
        if not np.isfinite(v):
            return str(builtins.float(v))
        if sci:
            return f"{v:.4e}"
        return f"{v:.0f}." if int_mode else f"{v:.4f}"

    # like PyTorch, the width is set by the nonzero finite values (nan, inf, 0 may be narrower)
    signed = finite[finite != 0]
    if signed.size > 2000:                     # the extremes decide the width; sample the rest
        signed = np.concatenate([signed[:1000], signed[-1000:], [signed.min(), signed.max()]])
    width = builtins.max((len(fmt(v)) for v in signed), default=0)
    return lambda v: fmt(v).rjust(width)


def _format_array(a: np.ndarray) -> str:
    """The body of a tensor's repr, laid out as PyTorch prints it."""
    formatter: Any = None
    if a.dtype.kind == "f" and a.size:
        formatter = {"float_kind": _float_formatter(a)}
    return np.array2string(a, separator=", ", prefix="tensor(", threshold=1000, edgeitems=3,
                           max_line_width=81, formatter=formatter)


def _resolve_shape(target: tuple[int, ...], size: int) -> tuple[int, ...]:
    """Fill in one -1 and check that the new shape holds exactly `size` elements."""
    known = builtins.int(np.prod([s for s in target if s != -1]))
    bad = target.count(-1) > 1 or any(s < -1 for s in target)
    if not bad and -1 in target:
        bad = known == 0 or size % known != 0
        target = tuple(size // known if s == -1 else s for s in target) if not bad else target
    if bad or builtins.int(np.prod(target)) != size:
        raise RuntimeError(f"shape '{list(target)}' is invalid for input of size {size}")
    return target


def _index(index: Any) -> Any:
    """Turn tensors inside an index into arrays (bool masks and integer arrays alike)."""
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, tuple):
        return tuple(i.array if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


class _RemovableHandle:
    """Returned by hook registration; `.remove()` unregisters."""

    def __init__(self, container: Any, key: Any) -> None:
        self._container = container
        self._key = key

    def remove(self) -> None:
        if isinstance(self._container, dict):
            self._container.pop(self._key, None)
        elif self._key in self._container:
            self._container.remove(self._key)

    def __enter__(self) -> _RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


# --------------------------------------------------------------------- small Functions
from numcnn.autograd.function import Context, Function, Node, Version  # noqa: E402


def _nodes_since(node: Node, floor: int) -> list[Node]:
    """`node` and the nodes it reaches that were made after the node numbered `floor`: the
    ops that computed an in-place op's result (one, or several for composite forms)."""
    found, stack, seen = [], [node], {id(node)}
    while stack:
        n = stack.pop()
        found.append(n)
        for e in n.inputs:
            if isinstance(e, Node) and e.seq > floor and id(e) not in seen:
                seen.add(id(e))
                stack.append(e)
    return found


def _unalias_saved(node: Node, storage: np.ndarray, result: np.ndarray) -> None:
    """Before an in-place op writes `result` into `storage`: where the op's own node saved the
    values from before the write (mul_ saves self) it gets its own copy of them; where it saved
    its output (exp_ saves y) it now reads the storage, which holds the same values."""
    saved = node.ctx.saved_tensors_
    if not saved:
        return
    fixed = list(saved)
    for i, a in enumerate(saved):
        if a is result and result.dtype == storage.dtype:
            fixed[i] = storage                   # the saved output: it will live in storage
        elif isinstance(a, np.ndarray) and np.may_share_memory(a, storage):
            fixed[i] = a.copy()
    node.ctx.saved_tensors_ = tuple(fixed)
    node.saved_versions = [sv for sv in node.saved_versions
                           if fixed[sv.index] is saved[sv.index]]


def _view_positions(view_fn: Callable[[np.ndarray], np.ndarray],
                    shape: tuple[int, ...]) -> np.ndarray:
    """Which flat positions of a base of `shape` a view covers, in the view's own layout."""
    return view_fn(np.arange(builtins.int(np.prod(shape, dtype=np.int64))).reshape(shape))


class CustomView:
    """The view function of a view made inside a custom Function (`creator` names it), such as
    the identities that wrap a module's inputs and outputs for its backward hooks: PyTorch
    refuses in-place writes through such a view (see `Tensor._check_inplace_allowed`), and so
    do views of it."""

    __slots__ = ("fn", "creator")

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], creator: str) -> None:
        self.fn, self.creator = fn, creator

    def __call__(self, a: np.ndarray) -> np.ndarray:
        return self.fn(a)


class CopySlices(Function):
    """y = base with the view's region replaced by src (an in-place op through a view);
    dbase = gy with that region zeroed, dsrc = gy's region."""

    @staticmethod
    def forward(ctx: Context, base, src, *, view_fn):
        ctx.view_fn, ctx.shape = view_fn, base.shape
        return base                             # the write already went into base's storage

    @staticmethod
    def backward(ctx: Context, gy):
        pos = _view_positions(ctx.view_fn, ctx.shape)
        flat = np.ascontiguousarray(gy).reshape(-1)
        gsrc = flat[pos] if ctx.needs_input_grad[1] else None
        gbase = None
        if ctx.needs_input_grad[0]:
            gbase = flat.copy()
            gbase[pos.reshape(-1)] = 0
            gbase = gbase.reshape(ctx.shape)
        return gbase, gsrc

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        from numcnn.autograd.linear_map import linear_map

        pos, shape = _view_positions(ctx.view_fn, ctx.shape), ctx.shape
        keep = np.ones(shape, dtype=builtins.bool)
        keep.reshape(-1)[pos.reshape(-1)] = False

        def put(h: np.ndarray) -> np.ndarray:          # the adjoint of reading the region
            out = np.zeros(builtins.int(np.prod(shape)), dtype=h.dtype)
            out[pos.reshape(-1)] = np.asarray(h).reshape(-1)
            return out.reshape(shape)
        gsrc = linear_map(gy, lambda h: np.ascontiguousarray(h).reshape(-1)[pos], put) \
            if ctx.needs_input_grad[1] else None
        return (gy * keep if ctx.needs_input_grad[0] else None), gsrc


class AsView(Function):
    """y = the view cut out of base again (after an in-place op through it);
    dbase = zeros with gy placed at the view's positions."""

    @staticmethod
    def forward(ctx: Context, base, *, view_fn):
        ctx.view_fn, ctx.shape = view_fn, base.shape
        return view_fn(base)

    @staticmethod
    def backward(ctx: Context, gy):
        pos = _view_positions(ctx.view_fn, ctx.shape)
        g = np.zeros(pos.size if not ctx.shape else builtins.int(np.prod(ctx.shape)),
                     dtype=gy.dtype)
        g[pos.reshape(-1)] = np.asarray(gy).reshape(-1)
        return (g.reshape(ctx.shape),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        from numcnn.autograd.linear_map import linear_map

        pos, shape = _view_positions(ctx.view_fn, ctx.shape), ctx.shape

        def put(h: np.ndarray) -> np.ndarray:
            out = np.zeros(builtins.int(np.prod(shape)), dtype=h.dtype)
            out[pos.reshape(-1)] = np.asarray(h).reshape(-1)
            return out.reshape(shape)
        return (linear_map(gy, put, lambda h: np.ascontiguousarray(h).reshape(-1)[pos]),)


class SetItem(Function):
    """y = a with a[index] = v;  da = gy with the indexed places zeroed, dv = gy[index]."""

    @staticmethod
    def forward(ctx: Context, a, v, *, index):
        ctx.index = index
        y = a.copy()
        y[index] = v
        return y

    @staticmethod
    def backward(ctx: Context, gy):
        ga = None
        if ctx.needs_input_grad[0]:
            ga = gy.copy()
            ga[ctx.index] = 0
        gv = gy[ctx.index] if ctx.needs_input_grad[1] else None
        return ga, gv

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        ga = gv = None
        if ctx.needs_input_grad[0]:
            keep = np.ones(gy.shape, dtype=builtins.bool)
            keep[ctx.index] = False
            ga = gy * keep
        if ctx.needs_input_grad[1]:
            gv = gy[ctx.index]
        return ga, gv


class Overwrite(Function):
    """y = src broadcast to a's shape (fill_, copy_, random fills);  da = 0, dsrc = gy."""

    @staticmethod
    def forward(ctx: Context, a, src):
        return np.array(np.broadcast_to(src, a.shape), dtype=a.dtype)

    @staticmethod
    def backward(ctx: Context, gy):
        return None, gy

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        return None, gy


class Cast(Function):
    """y = a as another dtype;  da = gy cast back (the engine casts)."""

    @staticmethod
    def forward(ctx: Context, a, *, dtype):
        return a.astype(dtype)

    @staticmethod
    def backward(ctx: Context, gy):
        return (gy,)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        return (gy,)                            # the engine casts it back to a's dtype


class Clone(Function):
    """y = a copy of a (keeping its memory layout, or row-major with order="C");  da = gy."""

    @staticmethod
    def forward(ctx: Context, a, *, order="K"):
        return np.array(a, copy=True, order=order)

    @staticmethod
    def backward(ctx: Context, gy):
        return (gy,)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        return (gy,)
