"""`Parameter`: a leaf tensor that a `Module` registers as trainable.

`UninitializedParameter` / `UninitializedBuffer` are the placeholders of the lazy modules
(`nn.LazyLinear`, `nn.LazyConv2d`, ...): they have a dtype and `requires_grad` but no shape until
`materialize(shape)` turns them, in place, into a `Parameter` / `Tensor` of that shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numcnn import dtypes
from numcnn.tensor import Size, Tensor

# the slot that holds a tensor's ndarray (read and written around the guard below)
_ARRAY: Any = Tensor.__dict__["array"]


class Parameter(Tensor):
    """A tensor that is a module's learnable parameter (`requires_grad=True` by default)."""

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = np.empty(0, dtype=np.float32)
        arr = data.array if isinstance(data, Tensor) else np.asarray(data)
        super().__init__(arr, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo: dict[int, Any]) -> Parameter:
        """A new Parameter with a copy of the values and the same `requires_grad` (as PyTorch,
        the gradient is not copied)."""
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(np.array(self.array, copy=True), self.requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol: Any) -> Any:  # never pickled by numcnn itself
        raise TypeError("numcnn tensors are saved with numcnn.save (safetensors), not pickle")


class _UninitializedMixin:
    """Shared by the uninitialised placeholders: every use of the values raises ValueError."""

    cls_to_become: type[Tensor]

    @property  # type: ignore[override]
    def array(self) -> np.ndarray:
        raise ValueError(
            f"Attempted to use an uninitialized parameter in {type(self).__name__}. This error "
            "happens when you are using a `LazyModule` or explicitly manipulating "
            "`numcnn.nn.parameter.UninitializedParameter` objects. When using LazyModules call "
            "`forward` with a dummy batch to initialize the parameters before calling numcnn "
            "functions"
        )

    @array.setter
    def array(self, value: np.ndarray) -> None:
        _ARRAY.__set__(self, value)

    @property
    def dtype(self) -> dtypes.dtype:
        return dtypes.of(_ARRAY.__get__(self).dtype)

    @property
    def shape(self) -> Size:
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter or buffer. This error usually "
            "happens in `load_state_dict` when trying to load an uninitialized parameter into an "
            "initialized one. Call `forward` to initialize the parameters before accessing their "
            "attributes."
        )

    def materialize(self, shape: Any, device: Any = None, dtype: Any = None) -> None:
        """Become, in place, a `cls_to_become` of `shape` (values uninitialised, as
        `torch.empty`): the same object, so references held elsewhere (an optimizer) see it."""
        shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s)
                                                                               for s in shape)
        dt = self.dtype if dtype is None else dtypes.as_dtype(dtype)
        arr = np.empty(shape, dtype=dt)
        self.__class__ = self.cls_to_become       # type: ignore[assignment]
        self.array = arr

    def _set_dtype(self, dtype: np.dtype) -> None:
        _ARRAY.__set__(self, np.empty(0, dtype=dtype))

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(requires_grad=self.requires_grad, dtype=self.dtype)  # type: ignore
        memo[id(self)] = result
        return result


class UninitializedParameter(_UninitializedMixin, Parameter):
    """A parameter whose shape is not known yet (the lazy modules' weights).

    It appears in `module.parameters()`, so an optimizer can be built before the first forward;
    `materialize(shape)` makes it a `Parameter` in place.  Using its values before that raises
    ValueError; reading `.shape` raises RuntimeError.
    """

    cls_to_become = Parameter

    def __init__(self, requires_grad: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        dt = dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)
        Tensor.__init__(self, np.empty(0, dtype=dt))
        if requires_grad and dt.kind not in "fc":
            raise RuntimeError(
                f"only Tensors of floating point dtype can require gradients, got {dt}"
            )
        self.requires_grad = bool(requires_grad)


class UninitializedBuffer(_UninitializedMixin, Tensor):
    """A buffer whose shape is not known yet (a lazy batch norm's running statistics);
    `materialize(shape)` makes it a plain `Tensor` in place."""

    cls_to_become = Tensor

    def __init__(self, requires_grad: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        dt = dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)
        Tensor.__init__(self, np.empty(0, dtype=dt))
        self.requires_grad = bool(requires_grad)


def is_lazy(param: Any) -> bool:
    """Whether `param` is an uninitialised placeholder."""
    return isinstance(param, _UninitializedMixin)
