"""numcnn.functions.math against torch 2.13: values, dtypes and gradients of the elementwise
functions, `//` and `%` with tensors and scalars on either side, rounding, clamping,
comparisons and their error types; gradcheck in float64."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tests.helpers import assert_close, compare, random_array

import numcnn
from numcnn.autograd import gradcheck


def lib(F):
    return torch if F is torch.nn.functional else numcnn


DTYPES = [np.float32, np.float64]
SHAPES = [(3, 5), (), (0, 4), (2, 1, 3)]

# name -> (low, high) of the inputs drawn (inside the domain, away from kinks)
UNARY = {
    "sin": (-4, 4), "cos": (-4, 4), "tan": (-1.2, 1.2), "sinh": (-3, 3), "cosh": (-3, 3),
    "asin": (-0.95, 0.95), "acos": (-0.95, 0.95), "atan": (-5, 5),
    "exp": (-3, 3), "exp2": (-3, 3), "expm1": (-2, 2), "log": (0.1, 5), "log2": (0.1, 5),
    "log10": (0.1, 5), "log1p": (-0.9, 5), "sqrt": (0.1, 5), "rsqrt": (0.1, 5),
    "reciprocal": (0.2, 3), "erf": (-3, 3), "square": (-3, 3), "abs": (-3, 3),
    "neg": (-3, 3), "frac": (-3.3, 3.3), "sign": (-3, 3), "floor": (-3.3, 3.3),
    "ceil": (-3.3, 3.3), "trunc": (-3.3, 3.3), "round": (-3.3, 3.3),
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_against_torch(name, dtype, shape) -> None:
    lo, hi = UNARY[name]
    a = random_array(shape, dtype, seed=len(name), low=lo, high=hi)
    compare(lambda F, x: getattr(lib(F), name)(x), [a])           # function form
    compare(lambda F, x: getattr(x, name)(), [a])                  # method form


@pytest.mark.parametrize("name", sorted(set(UNARY) - {"sign", "floor", "ceil", "trunc",
                                                      "round"}))
def test_unary_gradcheck(name) -> None:
    lo, hi = UNARY[name]
    x = numcnn.tensor(random_array((2, 3), np.float64, seed=7, low=lo, high=hi),
                      requires_grad=True)
    assert gradcheck(getattr(numcnn, name), (x,))


@pytest.mark.parametrize("name", ["floor", "ceil", "trunc", "round", "sign"])
def test_piecewise_constant_gradient_is_zero(name) -> None:
    x = numcnn.tensor([-1.5, 0.2, 2.7], requires_grad=True)
    getattr(numcnn, name)(x).sum().backward()
    np.testing.assert_array_equal(x.grad.array, 0.0)


@pytest.mark.parametrize("name", ["sin", "exp", "sqrt", "log", "erf", "rsqrt", "atan",
                                  "reciprocal", "log1p", "cosh"])
@pytest.mark.parametrize("idtype", [torch.int64, torch.int32, torch.uint8, torch.bool])
def test_float_valued_of_integer_gives_default_dtype(name, idtype) -> None:
    t = torch.tensor([1, 2, 3]).to(idtype)
    n = numcnn.tensor(t.numpy())
    assert_close(getattr(numcnn, name)(n), getattr(torch, name)(t), what=name)
    numcnn.set_default_dtype(numcnn.float64)
    torch.set_default_dtype(torch.float64)
    try:
        assert_close(getattr(numcnn, name)(n), getattr(torch, name)(t), what=name)
    finally:
        numcnn.set_default_dtype(numcnn.float32)
        torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("name", ["floor", "ceil", "trunc", "round", "abs", "neg", "sign",
                                  "square"])
def test_integer_preserving(name) -> None:
    t = torch.tensor([-3, 0, 4, 7])
    n = numcnn.tensor([-3, 0, 4, 7])
    assert_close(getattr(numcnn, name)(n), getattr(torch, name)(t))


def test_special_values() -> None:
    vals = [0.0, -0.0, 1.0, -1.0, 1.5, np.inf, -np.inf, np.nan, 1e-30, 1e30]
    for name in ["sin", "exp", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt",
                 "reciprocal", "erf", "asin", "acos", "atan", "tanh", "sign", "floor", "frac"]:
        t = torch.tensor(vals, dtype=torch.float64)
        assert_close(getattr(numcnn, name)(numcnn.tensor(np.array(vals))), getattr(torch, name)(t),
                     what=name)


def test_erf_accuracy_against_math() -> None:
    x = np.concatenate([np.linspace(-6, 6, 2001), [1e-12, -1e-9, 0.4999, 0.5, 0.5001]])
    ref = np.array([math.erf(v) for v in x])
    got = numcnn.erf(numcnn.tensor(x)).array
    np.testing.assert_allclose(got, ref, rtol=2e-15, atol=1e-300)
    got32 = numcnn.erf(numcnn.tensor(x.astype(np.float32))).array
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, ref.astype(np.float32), rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("decimals", [0, 1, 2, -1])
def test_round_decimals_and_half_to_even(decimals) -> None:
    a = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 1.2345, 16.25, -123.456], dtype=np.float64)
    compare(lambda F, x: lib(F).round(x, decimals=decimals), [a])
    with pytest.raises(TypeError):
        numcnn.round(numcnn.tensor(a), decimals=1.5)


def test_frac_of_integer_raises_as_torch() -> None:
    with pytest.raises(RuntimeError):
        torch.frac(torch.tensor([1, 2]))
    with pytest.raises(RuntimeError):
        numcnn.frac(numcnn.tensor([1, 2]))


# ------------------------------------------------------------------------- binary
BIN_PAIRS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 3), (4, 1)), ((0, 3), (3,)), ((), (2,))]


@pytest.mark.parametrize("shapes", BIN_PAIRS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_atan2(dtype, shapes) -> None:
    a, b = random_array(shapes[0], dtype, 1), random_array(shapes[1], dtype, 2)
    compare(lambda F, x, y: lib(F).atan2(x, y), [a, b])
    compare(lambda F, x, y: x.arctan2(y), [a, b])


def test_atan2_quadrants_and_gradcheck() -> None:
    y = np.array([1.0, 1.0, -1.0, -1.0, 0.0, 0.0])
    x = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    assert_close(numcnn.atan2(numcnn.tensor(y), numcnn.tensor(x)),
                 torch.atan2(torch.tensor(y), torch.tensor(x)))
    a = numcnn.tensor(random_array((3,), seed=3), requires_grad=True)
    b = numcnn.tensor(random_array((2, 3), seed=4), requires_grad=True)
    assert gradcheck(numcnn.atan2, (a, b))


@pytest.mark.parametrize("shapes", BIN_PAIRS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_floor_divide_and_remainder_floats(dtype, shapes) -> None:
    a = np.asarray(random_array(shapes[0], dtype, 5) * 4)
    b = np.asarray(random_array(shapes[1], dtype, 6) + 0.1)
    compare(lambda F, x, y: x // y, [a, b], grad=False)
    compare(lambda F, x, y: x % y, [a, b])
    compare(lambda F, x, y: lib(F).remainder(x, y), [a, b])
    compare(lambda F, x, y: lib(F).div(x, y, rounding_mode="trunc"), [a, b])
    compare(lambda F, x, y: lib(F).div(x, y, rounding_mode="floor"), [a, b])


@pytest.mark.parametrize("scalar", [3, -3, 2.5, -0.75])
def test_floor_divide_and_remainder_with_scalars(scalar) -> None:
    a = np.array([-7.5, -3.0, -0.5, 0.0, 2.0, 5.5, 7.0], dtype=np.float32)
    compare(lambda F, x: x // scalar, [a], grad=False)
    compare(lambda F, x: x % scalar, [a])
    compare(lambda F, x: scalar // (x + 10), [a], grad=False)   # __rfloordiv__
    compare(lambda F, x: scalar % (x + 10), [a], grad=False)    # __rmod__: no derivative
    for make in (torch.tensor, numcnn.tensor):
        with pytest.raises(RuntimeError, match="remainder"):
            (scalar % make(a + 10, requires_grad=True)).sum().backward()


def test_integer_floor_divide_remainder_sign_rules() -> None:
    a = np.array([-7, -7, 7, 7, 0, -1, 6])
    b = np.array([2, -2, 2, -2, 3, 5, -4])
    ta, tb, na, nb = torch.tensor(a), torch.tensor(b), numcnn.tensor(a), numcnn.tensor(b)
    assert_close(na // nb, ta // tb)
    assert_close(na % nb, ta % tb)
    assert_close(numcnn.div(na, nb, rounding_mode="trunc"),
                 torch.div(ta, tb, rounding_mode="trunc"))
    assert_close(numcnn.div(na, nb), torch.div(ta, tb))            # true division: float32
    assert_close(na // 3, ta // 3)
    assert_close(-7 % nb, -7 % tb)
    assert_close(na // 2.5, ta // 2.5)                              # float scalar: float32
    for fn in (lambda x, y: x // y, lambda x, y: x % y):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            torch.tensor([1]) // 0 if fn is None else fn(ta, torch.tensor([0]))
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            fn(na, numcnn.tensor([0]))


def test_remainder_gradient() -> None:
    a = numcnn.tensor(random_array((4,), seed=8) * 5, requires_grad=True)
    b = numcnn.tensor(random_array((4,), seed=9, low=0.7, high=2.0), requires_grad=True)
    assert gradcheck(numcnn.remainder, (a, b))
    compare(lambda F, x, y: x % y, [a.detach().numpy(), b.detach().numpy()])


def test_div_rounding_mode_error() -> None:
    with pytest.raises(RuntimeError):
        torch.div(torch.ones(2), 2, rounding_mode="round")
    with pytest.raises(RuntimeError):
        numcnn.div(numcnn.ones(2), 2, rounding_mode="round")


def test_floor_divide_has_no_derivative_as_torch() -> None:
    for lib_, make in ((torch, torch.tensor), (numcnn, numcnn.tensor)):
        x = make([1.5, -2.5], requires_grad=True)
        with pytest.raises(RuntimeError, match="floor_divide"):
            (x // 2).sum().backward()
        y = make([1.5, -2.5], requires_grad=True)
        lib_.div(y, 2, rounding_mode="floor").sum().backward()
        np.testing.assert_array_equal(np.asarray(y.grad.numpy()), 0.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_add_sub_alpha_and_scalar_first(dtype) -> None:
    a, b = random_array((3, 4), dtype, 1), random_array((4,), dtype, 2)
    compare(lambda F, x, y: lib(F).add(x, y, alpha=2.5), [a, b])
    compare(lambda F, x, y: lib(F).sub(x, y, alpha=-3), [a, b])
    compare(lambda F, x, y: x.sub(y, alpha=0.5), [a, b])
    compare(lambda F, x: lib(F).add(2, x), [a])
    compare(lambda F, x: lib(F).mul(x, 3), [a])
    compare(lambda F, x: lib(F).pow(2.0, x), [a])
    compare(lambda F, x: 2.0 ** x, [a])


def test_bool_subtraction_and_negation_raise_as_torch() -> None:
    m = numcnn.tensor([True, False])
    with pytest.raises(RuntimeError):
        torch.tensor([True]) - torch.tensor([False])
    with pytest.raises(RuntimeError):
        m - m
    with pytest.raises(RuntimeError):
        _ = -m


def test_integer_negative_power_raises() -> None:
    with pytest.raises(RuntimeError):
        torch.tensor([2]) ** -1
    with pytest.raises(RuntimeError):
        numcnn.tensor([2]) ** -1
    assert_close(numcnn.tensor([2, 3]) ** 2, torch.tensor([2, 3]) ** 2)
    assert_close(numcnn.tensor([2, 3]) ** 0.5, torch.tensor([2, 3]) ** 0.5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lerp(dtype) -> None:
    a, b = random_array((3, 4), dtype, 1), random_array((3, 4), dtype, 2)
    w = random_array((4,), dtype, 3)
    compare(lambda F, x, y: lib(F).lerp(x, y, 0.3), [a, b])
    compare(lambda F, x, y, z: x.lerp(y, z), [a, b, w])
    if dtype == np.float64:
        ts = [numcnn.tensor(v, requires_grad=True) for v in (a, b, w)]
        assert gradcheck(numcnn.lerp, ts)
    with pytest.raises(RuntimeError):
        numcnn.lerp(numcnn.tensor(a), numcnn.tensor(b.astype(np.float16)), 0.5)


# ------------------------------------------------------------------------- clamp
@pytest.mark.parametrize("dtype", DTYPES)
def test_clamp_forms(dtype) -> None:
    a = np.array([-2.0, -0.5, 0.0, 0.5, 1.0, 3.0], dtype=dtype)      # ties at both bounds
    compare(lambda F, x: lib(F).clamp(x, -0.5, 1.0), [a])
    compare(lambda F, x: lib(F).clamp(x, min=0.0), [a])
    compare(lambda F, x: lib(F).clamp_min(x, 0.0), [a])
    compare(lambda F, x: lib(F).clamp_max(x, 0.5), [a])
    compare(lambda F, x: x.clamp_max(0.5), [a])
    compare(lambda F, x: lib(F).clamp(x, 2.0, 1.0), [a])              # min > max: max
    compare(lambda F, x: lib(F).clip(x, max=0.0), [a])
    lo, hi = random_array((6,), dtype, 4) - 0.5, random_array((6,), dtype, 5) + 0.5
    lo[1] = a[1]                                                      # a tie with a tensor bound
    compare(lambda F, x, p, q: lib(F).clamp(x, p, q), [a, lo, hi])
    compare(lambda F, x, p: lib(F).clamp(x, min=p), [a, lo])
    compare(lambda F, x, q: lib(F).clamp(x, max=q), [a, hi])


def test_clamp_promotion_and_errors() -> None:
    t, n = torch.arange(5), numcnn.arange(5)
    assert_close(numcnn.clamp(n, min=0.5), torch.clamp(t, min=0.5))          # int -> float32
    assert_close(numcnn.clamp(n, max=numcnn.tensor(2.5)), torch.clamp(t, max=torch.tensor(2.5)))
    assert_close(numcnn.clamp(n, 1, 3), torch.clamp(t, 1, 3))                 # stays int64
    nan = np.array([np.nan, 1.0])
    assert_close(numcnn.clamp(numcnn.tensor(nan), 0, 0.5), torch.clamp(torch.tensor(nan), 0, 0.5))
    with pytest.raises(RuntimeError):
        numcnn.clamp(n)
    x = numcnn.tensor(random_array((5,), seed=3), requires_grad=True)
    lo = numcnn.tensor(random_array((5,), seed=4) - 0.3, requires_grad=True)
    assert gradcheck(lambda a, b: numcnn.clamp(a, min=b, max=1.0), (x, lo))


# ------------------------------------------------------------------------- comparisons
OPS = ["eq", "ne", "lt", "le", "gt", "ge"]


@pytest.mark.parametrize("op", OPS)
def test_comparisons(op) -> None:
    a = np.array([[0.1, 1.0, 2.0], [3.0, np.nan, -1.0]], dtype=np.float32)
    b = np.array([0.1, 2.0, 2.0], dtype=np.float64)
    for other in (b, 0.1, 2, np.float64(0.1)):
        pair = [a, other] if not isinstance(other, np.ndarray) else [a, b]
        compare(lambda F, x, y: getattr(lib(F), op)(x, y), pair, grad=False)
        compare(lambda F, x, y: getattr(x, op)(y), pair, grad=False)
    ints = np.array([1, 2, 3])
    compare(lambda F, x: getattr(lib(F), op)(x, 2.5), [ints], grad=False)
    compare(lambda F, x: getattr(lib(F), op)(x, x.float()), [ints], grad=False)


def test_equal_isclose_allclose() -> None:
    a = np.array([1.0, np.nan, 3.0])
    b = np.array([1.0 + 1e-9, np.nan, 3.1])
    for eq_nan in (False, True):
        compare(lambda F, x, y, e=eq_nan: lib(F).isclose(x, y, equal_nan=e), [a, b], grad=False)
    na, ta = numcnn.tensor(a), torch.tensor(a)
    assert numcnn.allclose(na[:1], numcnn.tensor(b)[:1]) == torch.allclose(ta[:1],
                                                                           torch.tensor(b)[:1])
    assert numcnn.allclose(na, na, equal_nan=True) and not numcnn.allclose(na, na)
    assert numcnn.equal(numcnn.tensor([1, 2]), numcnn.tensor([1.0, 2.0])) == \
        torch.equal(torch.tensor([1, 2]), torch.tensor([1.0, 2.0]))
    assert not numcnn.equal(numcnn.ones(2), numcnn.ones(3))
    with pytest.raises(RuntimeError):
        numcnn.isclose(numcnn.ones(2), numcnn.ones(2, dtype=numcnn.float64))


def test_isnan_isinf_isfinite_logical_xor() -> None:
    a = np.array([0.0, np.inf, -np.inf, np.nan, 2.0])
    for name in ("isnan", "isinf", "isfinite", "logical_not"):
        compare(lambda F, x, f=name: getattr(lib(F), f)(x), [a], grad=False)
        compare(lambda F, x, f=name: getattr(x, f)(), [a], grad=False)
    m = np.array([True, False, True])
    compare(lambda F, x, y: x ^ y, [m, np.array([True, True, False])], grad=False)
    compare(lambda F, x: x ^ 6, [np.array([1, 2, 3])], grad=False)
    with pytest.raises(RuntimeError):
        numcnn.ones(2) ^ numcnn.ones(2)


def test_comparison_with_none_is_false_as_torch() -> None:
    x = numcnn.ones(2)
    assert (x == None) is (torch.ones(2) == None) is False  # noqa: E711
    assert (x != None) is True  # noqa: E711


# ------------------------------------------------------------------------- errors
@pytest.mark.parametrize("name", ["sin", "exp", "floor", "atan2", "maximum"])
def test_non_tensor_input_is_type_error(name) -> None:
    args = ([1.0, 2.0],) if name not in ("atan2", "maximum") else ([1.0], numcnn.ones(1))
    with pytest.raises(TypeError):
        getattr(torch, name)(*args)
    with pytest.raises(TypeError, match="must be Tensor"):
        getattr(numcnn, name)(*args)


def test_list_operand_refused() -> None:
    with pytest.raises(TypeError):
        torch.add(torch.ones(2), [1.0, 2.0])
    with pytest.raises(TypeError):
        numcnn.add(numcnn.ones(2), [1.0, 2.0])


def test_where_forms() -> None:
    cond = np.array([[True, False, True], [False, False, True]])
    a, b = random_array((2, 3), seed=1), random_array((3,), seed=2)
    compare(lambda F, c, x, y: lib(F).where(c, x, y), [cond, a, b])
    compare(lambda F, c, x: lib(F).where(c, x, 0.5), [cond, a])
    compare(lambda F, c, x: x.where(c, -1.0), [cond, a])
    n = numcnn.where(numcnn.tensor(cond))
    t = torch.where(torch.tensor(cond))
    assert len(n) == len(t)
    for u, v in zip(n, t):
        assert_close(u, v)
