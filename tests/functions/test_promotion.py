"""PyTorch's type promotion, table-driven: dtype pairs x operand kinds (dimensioned tensor,
0-d tensor, Python number, NumPy array, NumPy scalar) x ops, with torch as the oracle.

NumPy arrays: numcnn treats an ndarray operand as a tensor of its dtype and dims.  torch itself
lets NumPy compute `tensor + ndarray` (NumPy's promotion, float32 + int64 array -> float64);
the oracle for an ndarray operand is therefore torch with `torch.from_numpy(array)` in its place,
which never drifts to float64 unless the array is float64.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from tests.helpers import assert_close as _assert_close

import numcnn

DTYPES = ["bool", "uint8", "int8", "int32", "int64", "float16", "float32", "float64"]
KINDS = ["tensor", "zero_d", "scalar", "ndarray", "np_scalar"]
OPS = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "radd": lambda a, b: b + a, "rmul": lambda a, b: b * a,
    "rdiv": lambda a, b: b / a, "eq": lambda a, b: a == b, "lt": lambda a, b: a < b,
}
FUNCS = {
    "maximum": lambda L, a, b: L.maximum(a, b), "where": lambda L, a, b: L.where(a > 0, a, b),
    "atan2": lambda L, a, b: L.atan2(a, b), "floor_divide": lambda L, a, b: L.floor_divide(a, b),
    "remainder": lambda L, a, b: L.remainder(a, b), "pow": lambda L, a, b: L.pow(a, b),
}

_VALUES = np.array([[1, 2, 3], [3, 1, 2]])


def _array(dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    v = _VALUES[:shape[0], :shape[1]] if shape else np.array(2)
    return v.astype(dtype)


def _operand(kind: str, dtype: str, lib: str) -> object:
    """The second operand in numcnn (lib 'n') or the torch oracle (lib 't')."""
    if kind == "scalar":
        return {"bool": True, "float16": 2.0, "float32": 2.0, "float64": 2.0}.get(dtype, 2)
    if kind == "np_scalar":
        return np.dtype(dtype).type(2)
    if kind == "ndarray":
        arr = _array(dtype, (2, 3))
        return arr if lib == "n" else torch.from_numpy(arr)
    arr = _array(dtype, (2, 3) if kind == "tensor" else ())
    return numcnn.tensor(arr) if lib == "n" else torch.from_numpy(arr)


def assert_close(got, expected, what: str = "") -> None:
    """Equal dtypes and values (float16 to its own precision)."""
    if expected.dtype == torch.float16:
        assert got.dtype == np.float16, what
        np.testing.assert_allclose(got.array, expected.numpy(), rtol=1e-3, err_msg=what)
    else:
        _assert_close(got, expected, what=what)


def _skip_torch(fn, a, b):
    try:
        return fn(a, b), None
    except (RuntimeError, TypeError) as e:
        return None, e


CASES = [(d1, d2, k) for d1, d2 in itertools.product(DTYPES, DTYPES) for k in KINDS
         if not (k in ("scalar", "np_scalar") and d2 in ("uint8", "int8", "int32", "float16"))]


@pytest.mark.parametrize("left_0d", [False, True])
@pytest.mark.parametrize("d1,d2,kind", CASES)
def test_operator_dtypes_like_torch(d1, d2, kind, left_0d) -> None:
    shape = () if left_0d else (2, 3)
    na, ta = numcnn.tensor(_array(d1, shape)), torch.from_numpy(_array(d1, shape))
    nb, tb = _operand(kind, d2, "n"), _operand(kind, d2, "t")
    for name, op in OPS.items():
        if kind == "ndarray" and name in ("radd", "rmul", "rdiv"):
            continue                 # ndarray (op) tensor: NumPy's operator runs first in torch
        expected, err = _skip_torch(op, ta, tb)
        if err is not None:
            with pytest.raises((RuntimeError, TypeError)):
                op(na, nb)
            continue
        got = op(na, nb)
        assert got.dtype.name == str(expected.dtype).replace("torch.", ""), (name, d1, d2, kind)
        assert_close(got, expected, what=f"{name} {d1} {d2} {kind}")


@pytest.mark.parametrize("d1,d2,kind", [c for c in CASES if c[2] != "np_scalar"])
def test_function_dtypes_like_torch(d1, d2, kind) -> None:
    na, ta = numcnn.tensor(_array(d1, (2, 3))), torch.from_numpy(_array(d1, (2, 3)))
    nb, tb = _operand(kind, d2, "n"), _operand(kind, d2, "t")
    for name, fn in FUNCS.items():
        if name == "maximum" and kind == "scalar":
            continue                                     # torch.maximum takes tensors only
        expected, err = _skip_torch(lambda a, b, f=fn: f(torch, a, b), ta, tb)
        if err is not None:
            with pytest.raises((RuntimeError, TypeError)):
                fn(numcnn, na, nb)
            continue
        got = fn(numcnn, na, nb)
        assert got.dtype.name == str(expected.dtype).replace("torch.", ""), (name, d1, d2, kind)
        assert_close(got, expected, what=f"{name} {d1} {d2} {kind}")


@pytest.mark.parametrize("d1,d2", list(itertools.product(DTYPES, DTYPES)))
def test_cat_stack_and_matmul_dtypes(d1, d2) -> None:
    a, b = _array(d1, (2, 3)), _array(d2, (2, 3))
    for name in ("cat", "stack", "hstack", "vstack"):
        expected = getattr(torch, name)([torch.from_numpy(a), torch.from_numpy(b)])
        got = getattr(numcnn, name)([numcnn.tensor(a), numcnn.tensor(b)])
        assert_close(got, expected, what=f"{name} {d1} {d2}")
    if d1 in ("float32", "float64") and d2 in ("float32", "float64"):
        ta, tb = torch.from_numpy(a), torch.from_numpy(b.T.copy())
        na, nb = numcnn.tensor(a), numcnn.tensor(b.T.copy())
        expected, err = _skip_torch(lambda x, y: x @ y, ta, tb)
        if err is not None:                       # float32 @ float64: RuntimeError, no promotion
            for fn in (lambda: na @ nb, lambda: numcnn.mm(na, nb), lambda: numcnn.matmul(na, nb)):
                with pytest.raises(RuntimeError):
                    fn()
        else:
            assert_close(na @ nb, expected)


@pytest.mark.parametrize("default", ["float32", "float64"])
def test_python_float_uses_the_default_dtype(default) -> None:
    numcnn.set_default_dtype(getattr(numcnn, default))
    torch.set_default_dtype(getattr(torch, default))
    try:
        for d in ("int64", "bool", "uint8"):
            a = _array(d, (2, 3))
            for op in OPS.values():
                expected, err = _skip_torch(op, torch.from_numpy(a), 2.5)
                if err is None:                     # bool - 2.5 raises in both
                    assert_close(op(numcnn.tensor(a), 2.5), expected)
            assert_close(numcnn.clamp(numcnn.tensor(a), max=1.5),
                         torch.clamp(torch.from_numpy(a), max=1.5))
            assert_close(numcnn.sqrt(numcnn.tensor(a)), torch.sqrt(torch.from_numpy(a)))
    finally:
        numcnn.set_default_dtype(numcnn.float32)
        torch.set_default_dtype(torch.float32)


def test_issue_examples_never_drift_to_float64() -> None:
    x = numcnn.ones(3)
    assert (x * numcnn.tensor(2.0, dtype=numcnn.float64)).dtype == numcnn.float32
    assert (x * np.float64(2.0)).dtype == numcnn.float32
    assert (x + np.ones(3, dtype=np.int64)).dtype == numcnn.float32
    assert (x + np.array(2.0)).dtype == numcnn.float32      # a 0-d array counts as a 0-d tensor
    cond = numcnn.tensor([True, False, True])
    assert numcnn.where(cond, numcnn.arange(3), x).dtype == numcnn.float32
    assert numcnn.cat([numcnn.arange(3), x]).dtype == numcnn.float32
    assert numcnn.stack([numcnn.arange(3), x]).dtype == numcnn.float32
    assert numcnn.exp(numcnn.arange(3)).dtype == numcnn.float32
    assert numcnn.clamp(numcnn.arange(3), 0.5).dtype == numcnn.float32


def test_promote_types_and_result_type() -> None:
    for d1, d2 in itertools.product(DTYPES, DTYPES):
        expected = torch.promote_types(getattr(torch, d1), getattr(torch, d2))
        assert numcnn.promote_types(d1, d2).name == str(expected).replace("torch.", "")
    t = numcnn.tensor([1, 2])
    assert numcnn.result_type(t, 2.5) == numcnn.float32
    assert numcnn.result_type(t, numcnn.tensor(1.0, dtype=numcnn.float64)) == numcnn.float64
    assert numcnn.result_type(numcnn.ones(2), numcnn.tensor(1.0, dtype=numcnn.float64)) == \
        numcnn.float32


def test_gradient_flows_through_promotion() -> None:
    x = numcnn.tensor([1.0, 2.0], requires_grad=True)
    y = numcnn.tensor(3.0, dtype=numcnn.float64, requires_grad=True)
    (x * y).sum().backward()
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    ty = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    (tx * ty).sum().backward()
    assert_close(x.grad, tx.grad)
    assert_close(y.grad, ty.grad)
