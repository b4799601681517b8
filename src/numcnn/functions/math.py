"""Elementwise math with PyTorch's signatures and type promotion: arithmetic, `//` and `%`,
powers, exponentials and logarithms, trigonometry, rounding, clamping, comparisons.

Each function checks its arguments, promotes the operands (functions/_args.py) and calls one
`Function` of ops/math.py.  Integer and bool inputs of float-valued functions (exp, sin, true
division ...) give the default floating dtype, as in PyTorch.
"""

from __future__ import annotations

import builtins
import importlib
from typing import TYPE_CHECKING, Any

import numpy as np

from numcnn import dtypes
from numcnn.functions._args import (
    as_operand,
    cast,
    check_tensor,
    float_dtype,
    result_dtype,
)
from numcnn.ops import extra as X
from numcnn.ops import math as M

# the module, not the `numcnn.tensor` factory that `numcnn` exports under that name
_t = importlib.import_module("numcnn.tensor")

if TYPE_CHECKING:
    from numcnn.tensor import Tensor


def _binary(fn: Any, a: Any, b: Any, *, to_float: builtins.bool = False) -> Tensor:
    """Promote a and b to their common dtype (floating when `to_float`), then apply `fn`."""
    d = result_dtype(a, b)
    if to_float:
        d = float_dtype(d)
    return fn.apply(cast(a, d), cast(b, d))


def _unary_float(fn: Any, input: Any, name: str, **params: Any) -> Tensor:
    """A float-valued function of one tensor: integer and bool inputs become the default dtype."""
    x = check_tensor(input, name)
    d = float_dtype(x.dtype)
    return fn.apply(x if x.array.dtype == d else x.to(d), **params)


def _check_int_divisor(b: Any, d: np.dtype, name: str = "div_floor") -> None:
    if d == dtypes.bool:
        raise RuntimeError(f"\"{name}_cpu\" not implemented for 'Bool'")
    if d.kind in "iub" and not np.all(b.array if isinstance(b, _t.Tensor) else np.asarray(b)):
        raise RuntimeError("ZeroDivisionError")


# ------------------------------------------------------------------------- arithmetic
def _is_bool(x: Any) -> builtins.bool:
    if isinstance(x, (_t.Tensor, np.ndarray)):
        return builtins.bool(x.dtype == dtypes.bool)
    return isinstance(x, builtins.bool)


def add(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """input + alpha * other, broadcast, with PyTorch's type promotion."""
    other = as_operand(other, "add")
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, _t.Tensor) else other * alpha
    return _binary(M.Add, as_operand(input, "add", "input", 1), other)


def sub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """input - alpha * other, broadcast, with PyTorch's type promotion."""
    other = as_operand(other, "sub")
    if _is_bool(input) or _is_bool(other):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or "
                           "`logical_not()` operator instead.")
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, _t.Tensor) else other * alpha
    return _binary(M.Sub, as_operand(input, "sub", "input", 1), other)


subtract = sub


def mul(input: Any, other: Any) -> Tensor:
    """input * other, broadcast, with PyTorch's type promotion."""
    return _binary(M.Mul, as_operand(input, "mul", "input", 1), as_operand(other, "mul"))


multiply = mul


def div(input: Any, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """input / other.  rounding_mode None: true division (integers give the default float
    dtype); 'trunc': rounded towards zero; 'floor': rounded down (Python's `//`).  The rounded
    modes keep integer dtypes; integer division by zero raises, as in PyTorch."""
    a, b = as_operand(input, "div", "input", 1), as_operand(other, "div")
    if rounding_mode is None:
        return _binary(M.Div, a, b, to_float=True)
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                         f"but found '{rounding_mode}'")
    d = result_dtype(a, b)
    _check_int_divisor(b, d)
    return (M.FloorDivide if rounding_mode == "floor" else M.TruncDivide).apply(cast(a, d),
                                                                                cast(b, d))


divide = div
true_divide = div


def floor_divide(input: Any, other: Any) -> Tensor:
    """floor(input / other), PyTorch's `//` (Python's rounding: towards minus infinity).  As
    in PyTorch it has no derivative (backward raises); `div(rounding_mode='floor')` has 0."""
    a, b = as_operand(input, "floor_divide", "input", 1), as_operand(other, "floor_divide")
    d = result_dtype(a, b)
    _check_int_divisor(b, d)
    return M.FloorDivide.apply(cast(a, d), cast(b, d), differentiable=False)


def remainder(input: Any, other: Any) -> Tensor:
    """input - floor(input / other) * other: the result has the sign of the divisor (Python's
    and PyTorch's `%`)."""
    a, b = as_operand(input, "remainder", "input", 1), as_operand(other, "remainder")
    d = result_dtype(a, b)
    _check_int_divisor(b, d, "remainder")
    return M.Remainder.apply(cast(a, d), cast(b, d),
                             differentiable=isinstance(a, (_t.Tensor, np.ndarray)))


def pow(input: Any, exponent: Any) -> Tensor:  # noqa: A001
    """input ** exponent, broadcast; an integer tensor to a negative integer power raises."""
    a, b = as_operand(input, "pow", "input", 1), as_operand(exponent, "pow", "exponent")
    d = result_dtype(a, b)
    if d == dtypes.bool and isinstance(b, (_t.Tensor, np.ndarray)):
        raise RuntimeError("\"pow\" not implemented for 'Bool'")
    if d.kind in "iu":
        e = b.array if isinstance(b, _t.Tensor) else np.asarray(b)
        if np.any(e < 0):
            raise RuntimeError("Integers to negative integer powers are not allowed.")
    if d == dtypes.bool:                        # x ** True / x ** False of a bool tensor
        return _t.Tensor(np.asarray(np.power(cast(a, d).array, cast(b, d))).astype(d))
    return M.Pow.apply(cast(a, d), cast(b, d))


def neg(input: Tensor) -> Tensor:
    """-input."""
    x = check_tensor(input, "neg")
    if x.dtype == dtypes.bool:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If "
                           "you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    return M.Neg.apply(x)


negative = neg


def abs(input: Tensor) -> Tensor:  # noqa: A001
    """|input|;  the gradient at 0 is 0 (as PyTorch)."""
    return M.Abs.apply(check_tensor(input, "abs"))


absolute = abs


def square(input: Tensor) -> Tensor:
    """input ** 2 (bool gives int64, as PyTorch)."""
    x = check_tensor(input, "square")
    return M.Square.apply(x.to(dtypes.int64) if x.dtype == dtypes.bool else x)


def sign(input: Tensor) -> Tensor:
    """-1, 0 or 1 by the sign of each element (gradient 0)."""
    x = check_tensor(input, "sign")
    if x.dtype == dtypes.bool:
        return x.clone()
    return M.Step.apply(x, kind="sign")


def lerp(input: Tensor, end: Tensor, weight: Any) -> Tensor:
    """input + weight * (end - input); input and end must share a dtype (weight a number or a
    tensor of that dtype), as in PyTorch."""
    a, b = check_tensor(input, "lerp"), check_tensor(end, "lerp", "end", 2)
    if a.dtype != b.dtype:
        raise RuntimeError(f"expected dtype {a.dtype} for `end` but got dtype {b.dtype}")
    if a.dtype.kind != "f":
        raise RuntimeError(f"\"lerp_kernel_scalar\" not implemented for '{a.dtype}'")
    if isinstance(weight, _t.Tensor) and weight.dtype != a.dtype:
        raise RuntimeError(f"expected dtype {a.dtype} for `weight` but got dtype {weight.dtype}")
    return M.Lerp.apply(a, b, cast(weight, a.dtype))


def _addc(input: Any, tensor1: Any, tensor2: Any, value: Any, name: str) -> tuple[Any, ...]:
    """The three operands of addcmul/addcdiv promoted to their common dtype (`value` is then
    cast to it: 0.5 on integers is 0, as in PyTorch)."""
    a = check_tensor(input, name)
    t1 = check_tensor(tensor1, name, "tensor1", 2)
    t2 = check_tensor(tensor2, name, "tensor2", 3)
    d = result_dtype(a, t1, t2)
    return cast(a, d), cast(t1, d), cast(t2, d)


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
    """input + value * tensor1 * tensor2, broadcast and promoted together."""
    a, t1, t2 = _addc(input, tensor1, tensor2, value, "addcmul")
    prod = mul(t1, t2)
    return add(a, prod if _is_one(value) else mul(prod, cast(value, prod.dtype)))


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
    """input + value * tensor1 / tensor2 (true division; integer tensors are refused, as in
    PyTorch)."""
    a, t1, t2 = _addc(input, tensor1, tensor2, value, "addcdiv")
    if t1.dtype.kind in "iub":
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a "
                           "future release addcdiv will perform a true division of tensor1 and "
                           "tensor2. The historic addcdiv behavior can be implemented as "
                           "(input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) "
                           "for integer inputs and as (input + value * tensor1 / tensor2) for "
                           "float inputs. The future addcdiv behavior is just the latter "
                           "implementation: (input + value * tensor1 / tensor2), for all dtypes.")
    quot = div(t1, t2)
    return add(a, quot if _is_one(value) else mul(quot, cast(value, quot.dtype)))


def _is_one(value: Any) -> builtins.bool:
    return not isinstance(value, _t.Tensor) and builtins.bool(value == 1)


def fmod(input: Tensor, other: Any) -> Tensor:
    """input - trunc(input / other) * other: the remainder with the sign of input (C's fmod;
    `remainder` takes the sign of other).  Integer division by zero raises, as PyTorch."""
    a, b = check_tensor(input, "fmod"), as_operand(other, "fmod")
    d = result_dtype(a, b)
    if d.kind in "iu":
        _check_int_divisor(b, d, "fmod")
    return X.Fmod.apply(cast(a, d), cast(b, d))


def fmax(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise maximum that ignores NaN (NaN only where both are NaN); ties and NaN in
    other send the gradient to input, as PyTorch."""
    a, b = check_tensor(input, "fmax"), check_tensor(other, "fmax", "other", 2)
    return _nan_ignoring(a, b, lambda x, y: x >= y)


def fmin(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise minimum that ignores NaN (see `fmax`)."""
    a, b = check_tensor(input, "fmin"), check_tensor(other, "fmin", "other", 2)
    return _nan_ignoring(a, b, lambda x, y: x <= y)


def _nan_ignoring(a: Tensor, b: Tensor, prefer_a: Any) -> Tensor:
    """input where prefer_a(input, other) or other is NaN, else other."""
    d = result_dtype(a, b)
    x, y = a.array.astype(d, copy=False), b.array.astype(d, copy=False)
    with np.errstate(invalid="ignore"):
        cond = prefer_a(x, y) | (np.isnan(y) if d.kind == "f" else False)
    return M.Where.apply(cast(a, d), cast(b, d), cond=np.asarray(cond))


def logaddexp(input: Tensor, other: Tensor) -> Tensor:
    """log(exp(input) + exp(other)), without overflow; floating only."""
    return _logaddexp(input, other, "logaddexp", False)


def logaddexp2(input: Tensor, other: Tensor) -> Tensor:
    """log2(2 ** input + 2 ** other), without overflow; floating only."""
    return _logaddexp(input, other, "logaddexp2", True)


def _logaddexp(input: Tensor, other: Tensor, name: str, base2: builtins.bool) -> Tensor:
    a, b = check_tensor(input, name), check_tensor(other, name, "other", 2)
    d = result_dtype(a, b)
    if d.kind != "f":
        raise NotImplementedError(f"\"{name}_cpu\" not implemented for "
                                  f"'{dtypes.torch_type_name(d)}'")
    return X.LogAddExp.apply(cast(a, d), cast(b, d), base2=base2)


def deg2rad(input: Tensor) -> Tensor:
    """input * pi / 180 (integers give the default float dtype)."""
    return _scaled(input, np.pi / 180, "deg2rad")


def rad2deg(input: Tensor) -> Tensor:
    """input * 180 / pi (integers give the default float dtype)."""
    return _scaled(input, 180 / np.pi, "rad2deg")


def _scaled(input: Tensor, factor: builtins.float, name: str) -> Tensor:
    x = check_tensor(input, name)
    d = float_dtype(x.dtype)
    return M.Mul.apply(cast(x, d), np.asarray(factor, dtype=d))


def nan_to_num(input: Tensor, nan: builtins.float = 0.0, posinf: builtins.float | None = None,
               neginf: builtins.float | None = None) -> Tensor:
    """NaN, +inf and -inf replaced by `nan`, `posinf` and `neginf` (by default 0 and the
    dtype's largest and lowest finite values); the gradient is 0 at the replaced places."""
    x = check_tensor(input, "nan_to_num")
    if x.dtype.kind != "f":
        return x.clone()
    return X.NanToNum.apply(x, nan=nan, posinf=posinf, neginf=neginf)


def positive(input: Tensor) -> Tensor:
    """input itself (+input); bool tensors are refused, as PyTorch."""
    x = check_tensor(input, "positive")
    if x.dtype == np.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return x


def signbit(input: Tensor) -> Tensor:
    """True where the sign bit is set (negative numbers, -0.0, NaN with the sign bit)."""
    return _t.Tensor(np.signbit(check_tensor(input, "signbit").array))


def isposinf(input: Tensor) -> Tensor:
    """True where input is +inf."""
    return _t.Tensor(np.isposinf(check_tensor(input, "isposinf").array))


def isneginf(input: Tensor) -> Tensor:
    """True where input is -inf."""
    return _t.Tensor(np.isneginf(check_tensor(input, "isneginf").array))


def isin(elements: Any, test_elements: Any, *, assume_unique: builtins.bool = False,
         invert: builtins.bool = False) -> Tensor:
    """True where an entry of `elements` occurs in `test_elements` (False with invert);
    either may be a number.  Shape of elements."""
    if not isinstance(elements, _t.Tensor) and not isinstance(test_elements, _t.Tensor):
        raise TypeError("isin() received an invalid combination of arguments: elements or "
                        "test_elements must be a Tensor")
    e = elements.array if isinstance(elements, _t.Tensor) else np.asarray(elements)
    t = test_elements.array if isinstance(test_elements, _t.Tensor) else np.asarray(
        test_elements)
    return _t.Tensor(np.asarray(np.isin(e, t, invert=invert)))


# ------------------------------------------------------------------------- exp, log, roots
def exp(input: Tensor) -> Tensor:
    """e ** input."""
    return _unary_float(M.Exp, input, "exp")


def exp2(input: Tensor) -> Tensor:
    """2 ** input."""
    return _unary_float(M.Exp2, input, "exp2")


def expm1(input: Tensor) -> Tensor:
    """e ** input - 1, accurate near 0."""
    return _unary_float(M.Expm1, input, "expm1")


def log(input: Tensor) -> Tensor:
    """Natural logarithm (log 0 = -inf, log of a negative number = nan)."""
    return _unary_float(M.Log, input, "log")


def log2(input: Tensor) -> Tensor:
    """Base-2 logarithm."""
    return _unary_float(M.LogBase, input, "log2", base=2)


def log10(input: Tensor) -> Tensor:
    """Base-10 logarithm."""
    return _unary_float(M.LogBase, input, "log10", base=10)


def log1p(input: Tensor) -> Tensor:
    """log(1 + input), accurate near 0."""
    return _unary_float(M.Log1p, input, "log1p")


def sqrt(input: Tensor) -> Tensor:
    """Square root (nan for negative inputs)."""
    return _unary_float(M.Sqrt, input, "sqrt")


def rsqrt(input: Tensor) -> Tensor:
    """1 / sqrt(input)."""
    return _unary_float(M.Rsqrt, input, "rsqrt")


def reciprocal(input: Tensor) -> Tensor:
    """1 / input (integers give the default float dtype)."""
    return _unary_float(M.Reciprocal, input, "reciprocal")


def erf(input: Tensor) -> Tensor:
    """The error function 2/sqrt(pi) * integral_0^input exp(-t^2) dt."""
    return _unary_float(M.Erf, input, "erf")


# ------------------------------------------------------------------------- trigonometry
def sin(input: Tensor) -> Tensor:
    """Sine (radians)."""
    return _unary_float(M.Sin, input, "sin")


def cos(input: Tensor) -> Tensor:
    """Cosine (radians)."""
    return _unary_float(M.Cos, input, "cos")


def tan(input: Tensor) -> Tensor:
    """Tangent (radians)."""
    return _unary_float(M.Tan, input, "tan")


def sinh(input: Tensor) -> Tensor:
    """Hyperbolic sine."""
    return _unary_float(M.Sinh, input, "sinh")


def cosh(input: Tensor) -> Tensor:
    """Hyperbolic cosine."""
    return _unary_float(M.Cosh, input, "cosh")


def asin(input: Tensor) -> Tensor:
    """Inverse sine (nan outside [-1, 1])."""
    return _unary_float(M.Asin, input, "asin")


def asinh(input: Tensor) -> Tensor:
    """Inverse hyperbolic sine."""
    return _unary_float(X.Asinh, input, "asinh")


def acosh(input: Tensor) -> Tensor:
    """Inverse hyperbolic cosine (nan below 1)."""
    return _unary_float(X.Acosh, input, "acosh")


def erfc(input: Tensor) -> Tensor:
    """The complementary error function 1 - erf(input), accurate where it is tiny."""
    return _unary_float(X.Erfc, input, "erfc")


def can_cast(from_: Any, to: Any) -> builtins.bool:
    """Whether torch's casting rules allow from_ -> to: not floating -> integral, not complex
    -> real, and not a non-bool -> bool."""
    f, t = dtypes.as_dtype(from_), dtypes.as_dtype(to)
    if f.kind in "fc" and t.kind in "iub":
        return False
    if f.kind == "c" and t.kind != "c":
        return False
    return not (f.kind != "b" and t.kind == "b")


def atanh(input: Tensor) -> Tensor:
    """Inverse hyperbolic tangent (nan outside [-1, 1], +-inf at the ends)."""
    return _unary_float(X.Atanh, input, "atanh")


arcsinh, arccosh, arctanh = asinh, acosh, atanh


def acos(input: Tensor) -> Tensor:
    """Inverse cosine (nan outside [-1, 1])."""
    return _unary_float(M.Acos, input, "acos")


def atan(input: Tensor) -> Tensor:
    """Inverse tangent."""
    return _unary_float(M.Atan, input, "atan")


arcsin, arccos, arctan = asin, acos, atan


def atan2(input: Tensor, other: Any) -> Tensor:
    """The angle of the point (other, input): atan(input / other) in the right quadrant."""
    return _binary(M.Atan2, check_tensor(input, "atan2"), _tensor_like(other, "atan2"),
                   to_float=True)


arctan2 = atan2


# ------------------------------------------------------------------------- rounding
def _rounding(input: Tensor, kind: str, **params: Any) -> Tensor:
    x = check_tensor(input, kind)
    if x.dtype.kind in "iub":                     # integers are already whole: a copy
        return x.clone()
    return M.Step.apply(x, kind=kind, **params)


def floor(input: Tensor) -> Tensor:
    """The largest integer <= input (gradient 0)."""
    return _rounding(input, "floor")


def ceil(input: Tensor) -> Tensor:
    """The smallest integer >= input (gradient 0)."""
    return _rounding(input, "ceil")


def trunc(input: Tensor) -> Tensor:
    """input rounded towards zero (gradient 0)."""
    return _rounding(input, "trunc")


fix = trunc


def round(input: Tensor, *, decimals: builtins.int = 0) -> Tensor:  # noqa: A001
    """input rounded to `decimals` decimal places, halves to even (gradient 0)."""
    if not isinstance(decimals, (builtins.int, np.integer)) or isinstance(decimals, builtins.bool):
        raise TypeError(f"round(): argument 'decimals' must be int, not {type(decimals).__name__}")
    return _rounding(input, "round", decimals=builtins.int(decimals))


def frac(input: Tensor) -> Tensor:
    """input - trunc(input), the fractional part with input's sign."""
    x = check_tensor(input, "frac")
    if x.dtype.kind != "f":
        raise RuntimeError(f"\"frac_cpu\" not implemented for '{x.dtype}'")
    return M.Frac.apply(x)


# ------------------------------------------------------------------------- clamping
def _bound(v: Any, name: str) -> Any:
    if v is None or isinstance(v, _t.Tensor):
        return v
    if isinstance(v, (builtins.bool, builtins.int, builtins.float, np.generic)):
        return v.item() if isinstance(v, np.generic) else v
    raise TypeError(f"clamp(): argument '{name}' must be Number or Tensor, not "
                    f"{type(v).__name__}")


def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """min(max(input, min), max) elementwise, with PyTorch's type promotion (an integer tensor
    clamped by a float bound gives a float tensor).  min > max gives max everywhere.  The
    gradient reaches input where min <= input <= max, and tensor bounds where they bind."""
    x = check_tensor(input, "clamp")
    lo, hi = _bound(min, "min"), _bound(max, "max")
    if lo is None and hi is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    d = result_dtype(x, lo, hi)
    x = x.to(d)
    if isinstance(lo, _t.Tensor) or isinstance(hi, _t.Tensor):
        y = x
        if lo is not None:
            lo = cast(lo, d)
            y = M.Where.apply(lo, y, cond=np.asarray(y.array < np.asarray(lo)))
        if hi is not None:
            hi = cast(hi, d)
            y = M.Where.apply(hi, y, cond=np.asarray(y.array > np.asarray(hi)))
        return y
    return M.Clamp.apply(x, min=lo, max=hi)


clip = clamp


def clamp_min(input: Tensor, min: Any) -> Tensor:  # noqa: A002
    """max(input, min) elementwise (clamp with only a lower bound)."""
    return clamp(input, min=min)


def clamp_max(input: Tensor, max: Any) -> Tensor:  # noqa: A002
    """min(input, max) elementwise (clamp with only an upper bound)."""
    return clamp(input, max=max)


def maximum(input: Tensor, other: Tensor) -> Tensor:
    """The larger of input and other, elementwise (ties share the gradient evenly)."""
    return _binary(M.Maximum, check_tensor(input, "maximum"), _tensor_like(other, "maximum"))


def minimum(input: Tensor, other: Tensor) -> Tensor:
    """The smaller of input and other, elementwise (ties share the gradient evenly)."""
    return _binary(M.Minimum, check_tensor(input, "minimum"), _tensor_like(other, "minimum"))


def _tensor_like(x: Any, fn: str) -> Any:
    """A tensor, or an ndarray (which counts as one); numbers are refused, as in PyTorch."""
    return x if isinstance(x, np.ndarray) else check_tensor(x, fn, "other", 2)


def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """input where condition, else other (broadcast, promoted as arithmetic); gradients flow to
    both sides.  `where(condition)` alone is `nonzero(condition, as_tuple=True)`."""
    if input is None and other is None:
        from numcnn.functions.indexing import nonzero
        return nonzero(condition, as_tuple=True)
    cond = condition.array if isinstance(condition, _t.Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {cond.dtype}")
    a, b = as_operand(input, "where", "input", 2), as_operand(other, "where", "other", 3)
    d = result_dtype(a, b)
    return M.Where.apply(cast(a, d), cast(b, d), cond=cond)


# ------------------------------------------------------------------------- comparisons
def _compare(ufunc: Any, input: Any, other: Any, name: str) -> Tensor:
    a, b = check_tensor(input, name), as_operand(other, name)
    d = result_dtype(a, b)
    av = a.array.astype(d, copy=False)
    bv = b.array.astype(d, copy=False) if isinstance(b, _t.Tensor) else cast(b, d)
    return _t.Tensor(np.asarray(ufunc(av, bv)))


def eq(input: Tensor, other: Any) -> Tensor:
    """input == other elementwise (bool)."""
    return _compare(np.equal, input, other, "eq")


def ne(input: Tensor, other: Any) -> Tensor:
    """input != other elementwise (bool)."""
    return _compare(np.not_equal, input, other, "ne")


def lt(input: Tensor, other: Any) -> Tensor:
    """input < other elementwise (bool)."""
    return _compare(np.less, input, other, "lt")


def le(input: Tensor, other: Any) -> Tensor:
    """input <= other elementwise (bool)."""
    return _compare(np.less_equal, input, other, "le")


def gt(input: Tensor, other: Any) -> Tensor:
    """input > other elementwise (bool)."""
    return _compare(np.greater, input, other, "gt")


def ge(input: Tensor, other: Any) -> Tensor:
    """input >= other elementwise (bool)."""
    return _compare(np.greater_equal, input, other, "ge")


greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def equal(input: Tensor, other: Tensor) -> builtins.bool:
    """True when both have the same shape and elements (dtypes may differ, as in PyTorch)."""
    a, b = check_tensor(input, "equal"), check_tensor(other, "equal", "other", 2)
    return a.shape == b.shape and builtins.bool(np.array_equal(a.array, b.array))


def isclose(input: Tensor, other: Tensor, rtol: builtins.float = 1e-05,
            atol: builtins.float = 1e-08, equal_nan: builtins.bool = False) -> Tensor:
    """|input - other| <= atol + rtol * |other| elementwise (bool); inputs of one dtype."""
    a, b = check_tensor(input, "isclose"), check_tensor(other, "isclose", "other", 2)
    if a.dtype != b.dtype:
        raise RuntimeError(f"{a.dtype} did not match {b.dtype}")
    return _t.Tensor(np.asarray(np.isclose(a.array, b.array, rtol=rtol, atol=atol,
                                           equal_nan=equal_nan)))


def allclose(input: Tensor, other: Tensor, rtol: builtins.float = 1e-05,
             atol: builtins.float = 1e-08, equal_nan: builtins.bool = False) -> builtins.bool:
    """All of isclose(input, other)."""
    return builtins.bool(isclose(input, other, rtol, atol, equal_nan).array.all())


def isnan(input: Tensor) -> Tensor:
    """True where input is nan."""
    return _t.Tensor(np.isnan(check_tensor(input, "isnan").array))


def isinf(input: Tensor) -> Tensor:
    """True where input is +inf or -inf."""
    return _t.Tensor(np.isinf(check_tensor(input, "isinf").array))


def isfinite(input: Tensor) -> Tensor:
    """True where input is neither nan nor infinite."""
    return _t.Tensor(np.isfinite(check_tensor(input, "isfinite").array))


def logical_not(input: Tensor) -> Tensor:
    """not input elementwise (bool)."""
    return _t.Tensor(np.logical_not(check_tensor(input, "logical_not").array))


def _logical(np_fn: Any, name: str, input: Tensor, other: Tensor) -> Tensor:
    a = check_tensor(input, name)
    b = check_tensor(other, name, "other", 2)
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise RuntimeError(
            f"The size of tensor a ({a.shape[-1] if a.ndim else 1}) must match the size of "
            f"tensor b ({b.shape[-1] if b.ndim else 1}) at non-singleton dimension"
        ) from None
    return _t.Tensor(np.asarray(np_fn(a.array, b.array)))


def logical_and(input: Tensor, other: Tensor) -> Tensor:
    """input != 0 and other != 0, elementwise, broadcast (bool)."""
    return _logical(np.logical_and, "logical_and", input, other)


def logical_or(input: Tensor, other: Tensor) -> Tensor:
    """input != 0 or other != 0, elementwise, broadcast (bool)."""
    return _logical(np.logical_or, "logical_or", input, other)


def logical_xor(input: Tensor, other: Tensor) -> Tensor:
    """(input != 0) != (other != 0), elementwise, broadcast (bool)."""
    return _logical(np.logical_xor, "logical_xor", input, other)


def bitwise_xor(input: Tensor, other: Any) -> Tensor:
    """input ^ other: logical for bool tensors, bitwise for integers."""
    a, b = check_tensor(input, "bitwise_xor"), as_operand(other, "bitwise_xor")
    d = result_dtype(a, b)
    if d.kind == "f":
        raise RuntimeError(f"\"bitwise_xor_cpu\" not implemented for '{d}'")
    bv = b.array if isinstance(b, _t.Tensor) else b
    return _t.Tensor(np.asarray(np.bitwise_xor(a.array.astype(d), cast(bv, d))))
