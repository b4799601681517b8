"""dtype objects as in PyTorch (`numcnn.float32` ...), each standing for one NumPy dtype.

A `numcnn.dtype` has PyTorch's attributes (`is_floating_point`, `is_complex`, `is_signed`,
`itemsize`, `to_real()`, `to_complex()`) and is also a NumPy dtype in all but class: it compares
equal to (and hashes like) its `np.dtype`, NumPy accepts it wherever a dtype goes
(`np.zeros(3, dtype=numcnn.float32)`, `a.astype(x.dtype)`), and NumPy's attributes (`kind`,
`name`, `type`, ...) are forwarded.  There is one object per dtype, so `x.dtype is
numcnn.float32` holds as in PyTorch.  `str()` and `repr()` give "numcnn.float32" (PyTorch:
"torch.float32").  `finfo` and `iinfo` give a dtype's numeric limits as Python numbers.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    # For the type checker a numcnn dtype is an np.dtype (NumPy accepts it as one at run time)
    class _DTypeBase(np.dtype[Any]):  # type: ignore[misc]
        pass
else:
    _DTypeBase = object


class dtype(_DTypeBase):  # type: ignore[misc]  # noqa: N801  (PyTorch's name)
    """The data type of a tensor: a NumPy dtype with PyTorch's attributes.

    Attributes:
        is_floating_point: float16/32/64.
        is_complex: complex64/128.
        is_signed: whether negative values can be held (False for bool and unsigned types).
        itemsize: bytes per element.
    """

    __slots__ = ("dtype", "_name", "abbr")

    def __init__(self, np_dtype: Any, name: str, abbr: str) -> None:
        self.dtype = np.dtype(np_dtype)    # the NumPy dtype (NumPy reads this attribute)
        self._name = name
        self.abbr = abbr

    @property
    def is_floating_point(self) -> builtins.bool:
        return self.dtype.kind == "f"

    @property
    def is_complex(self) -> builtins.bool:
        return self.dtype.kind == "c"

    @property
    def is_signed(self) -> builtins.bool:
        return self.dtype.kind in "ifc"

    @property
    def itemsize(self) -> builtins.int:
        return self.dtype.itemsize

    def to_real(self) -> dtype:
        """The real dtype of a complex one (complex64 -> float32); other dtypes unchanged."""
        if self.is_complex:
            return _BY_NUMPY[np.dtype(f"f{self.itemsize // 2}")]
        return self

    def to_complex(self) -> dtype:
        """The complex dtype of a floating one (float32 -> complex64); complex unchanged."""
        if self.is_complex:
            return self
        if not self.is_floating_point or self.itemsize < 4:
            raise RuntimeError(f"Unknown Complex ScalarType for {self}")
        return _BY_NUMPY[np.dtype(f"c{self.itemsize * 2}")]

    def __getattr__(self, name: str) -> Any:
        # NumPy's attributes (kind, name, type, char, str, ...) for code written for np.dtype
        return getattr(object.__getattribute__(self, "dtype"), name)

    def __eq__(self, other: object) -> builtins.bool:
        if isinstance(other, dtype):
            return self is other
        if other is None or isinstance(other, str):
            return False                   # as PyTorch: numcnn.float32 != "float32"
        try:
            return builtins.bool(self.dtype == np.dtype(other))  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return False

    def __ne__(self, other: object) -> builtins.bool:
        return not self == other

    def __hash__(self) -> builtins.int:
        return hash(self.dtype)            # dicts keyed by np.dtype find numcnn dtypes

    def __repr__(self) -> str:
        return f"numcnn.{self._name}"

    __str__ = __repr__

    def __reduce__(self) -> str:  # type: ignore[override]
        return self._name                  # pickle and copy give back the same object

    def __copy__(self) -> dtype:
        return self

    def __deepcopy__(self, memo: Any) -> dtype:
        return self


float16 = half = dtype(np.float16, "float16", "f16")
float32 = float = dtype(np.float32, "float32", "f32")  # noqa: A001  (PyTorch's names)
float64 = double = dtype(np.float64, "float64", "f64")
complex64 = cfloat = dtype(np.complex64, "complex64", "c64")
complex128 = cdouble = dtype(np.complex128, "complex128", "c128")
int8 = dtype(np.int8, "int8", "i8")
uint8 = dtype(np.uint8, "uint8", "u8")
int16 = short = dtype(np.int16, "int16", "i16")
uint16 = dtype(np.uint16, "uint16", "u16")
int32 = int = dtype(np.int32, "int32", "i32")  # noqa: A001
uint32 = dtype(np.uint32, "uint32", "u32")
int64 = long = dtype(np.int64, "int64", "i64")
uint64 = dtype(np.uint64, "uint64", "u64")
bool = dtype(np.bool_, "bool", "b8")  # noqa: A001

_BY_NUMPY: dict[np.dtype, dtype] = {d.dtype: d for d in (
    float16, float32, float64, complex64, complex128, int8, uint8, int16, uint16, int32, uint32,
    int64, uint64, bool)}
# Python's own types stand for these, as in PyTorch (x.to(float) is float64)
_PYTHON_TYPES = {builtins.float: float64, builtins.int: int64, builtins.bool: bool,
                 builtins.complex: complex128}

_default_dtype = [float32]


def of(np_dtype: np.dtype) -> Any:
    """The numcnn dtype of a NumPy dtype (`Tensor.dtype` is `of(array.dtype)`); a NumPy dtype
    PyTorch has no counterpart for (e.g. a string dtype) comes back unchanged."""
    return _BY_NUMPY.get(np_dtype, np_dtype)


_TORCH_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
                     "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                     "bool": "Bool"}


def torch_type_name(d: Any) -> str:
    """The name PyTorch's error messages use for a dtype ("Float" for float32)."""
    name = np.dtype(d).name
    return _TORCH_TYPE_NAMES.get(name, name.capitalize())


def get_default_dtype() -> dtype:
    """The dtype of floating tensors made from Python numbers (float32 unless changed)."""
    return _default_dtype[0]


def set_default_dtype(d: Any) -> None:
    """Set the default floating dtype (float32 or float64)."""
    d = as_dtype(d)
    if d not in (float32, float64):
        raise TypeError(f"only float32 and float64 are supported as default dtype, got {d}")
    _default_dtype[0] = _BY_NUMPY[d]


def as_dtype(d: Any) -> np.dtype:
    """Normalise a dtype given as a numcnn/NumPy dtype, a NumPy type or a name to np.dtype."""
    if isinstance(d, dtype):
        return d.dtype
    if isinstance(d, builtins.type) and d in _PYTHON_TYPES:
        return _PYTHON_TYPES[d].dtype
    try:
        return np.dtype(d)
    except TypeError:
        raise TypeError(f"invalid dtype {d!r}: expected e.g. numcnn.float32 or 'float64'") from None


def is_dtype(d: Any) -> builtins.bool:
    """Whether `d` names a dtype as an object (numcnn/NumPy dtype, NumPy scalar type, or
    Python's float/int/bool/complex); strings are not dtypes here (PyTorch reads them as
    devices in `Tensor.to`)."""
    if isinstance(d, (dtype, np.dtype)):
        return True
    if isinstance(d, builtins.type):
        return d in _PYTHON_TYPES or issubclass(d, np.generic)
    return False


def _checked(type: Any, want: str, fn: str) -> dtype:
    if type is None:
        return get_default_dtype()
    if not is_dtype(type):
        raise TypeError(f"{fn}(): argument 'type' (position 1) must be numcnn.dtype, not "
                        f"{builtins.type(type).__name__}")
    d = of(as_dtype(type))
    if d is bool and fn == "iinfo":
        raise TypeError(f"{d} is not supported by numcnn.iinfo")
    if not isinstance(d, dtype) or d.dtype.kind not in want:
        other = "iinfo" if fn == "finfo" else "finfo"
        kind = "a floating point" if fn == "finfo" else "an integer"
        raise TypeError(f"numcnn.{fn}() requires {kind} input type. Use numcnn.{other} to "
                        f"handle '{d}'")
    return d


class finfo:  # noqa: N801  (PyTorch's name)
    """Numeric limits of a floating dtype (the default dtype when none is given), as Python
    floats: `bits`, `eps` (1.0's distance to the next float), `max`, `min` (= -max), `tiny` and
    `smallest_normal` (the smallest positive normal number), `resolution` (10**-precision, the
    decimal resolution), and `dtype` (its name, e.g. "float32").  A complex dtype gives the
    limits of its real part."""

    def __init__(self, type: Any = None) -> None:  # noqa: A002  (PyTorch's name)
        d = _checked(type, "fc", "finfo").to_real()
        info = np.finfo(d.dtype)
        self.bits: builtins.int = info.bits
        self.eps: builtins.float = builtins.float(info.eps)
        self.max: builtins.float = builtins.float(info.max)
        self.min: builtins.float = builtins.float(info.min)
        self.tiny: builtins.float = builtins.float(info.smallest_normal)
        self.smallest_normal: builtins.float = self.tiny
        self.resolution: builtins.float = 10.0 ** -builtins.int(info.precision)
        self.dtype: str = d.dtype.name

    def __eq__(self, other: object) -> builtins.bool:
        return isinstance(other, finfo) and vars(self) == vars(other)

    def __hash__(self) -> builtins.int:
        return hash(self.dtype)

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:  # noqa: N801  (PyTorch's name)
    """Numeric limits of an integer dtype as Python ints: `bits`, `max`, `min`, and `dtype` (its
    name, e.g. "int64")."""

    def __init__(self, type: Any) -> None:  # noqa: A002  (PyTorch's name)
        d = _checked(type, "iu", "iinfo")
        info = np.iinfo(d.dtype)
        self.bits: builtins.int = info.bits
        self.max: builtins.int = builtins.int(info.max)
        self.min: builtins.int = builtins.int(info.min)
        self.dtype: str = d.dtype.name

    def __eq__(self, other: object) -> builtins.bool:
        return isinstance(other, iinfo) and vars(self) == vars(other)

    def __hash__(self) -> builtins.int:
        return hash(self.dtype)

    def __repr__(self) -> str:
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
