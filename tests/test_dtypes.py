"""numcnn's dtype objects, finfo and iinfo against torch 2.13's, and the ways numcnn code uses
them as NumPy dtypes."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import numpy as np
import pytest
import torch

import numcnn

NAMES = ["float16", "float32", "float64", "complex64", "complex128", "int8", "uint8", "int16",
         "uint16", "int32", "uint32", "int64", "uint64", "bool"]
ALIASES = {"half": "float16", "float": "float32", "double": "float64", "cfloat": "complex64",
           "cdouble": "complex128", "short": "int16", "int": "int32", "long": "int64"}


@pytest.mark.parametrize("name", NAMES)
def test_dtype_attributes_as_torch(name: str) -> None:
    n, t = getattr(numcnn, name), getattr(torch, name)
    assert isinstance(n, numcnn.dtype)
    for attr in ("is_floating_point", "is_complex", "is_signed", "itemsize"):
        assert getattr(n, attr) == getattr(t, attr), attr
    assert n.abbr == t.abbr
    assert str(n) == repr(n) == str(t).replace("torch.", "numcnn.")
    assert n.to_real() is getattr(numcnn, str(t.to_real()).removeprefix("torch."))


@pytest.mark.parametrize("name", ["float32", "float64", "complex64", "complex128"])
def test_to_complex_as_torch(name: str) -> None:
    n, t = getattr(numcnn, name), getattr(torch, name)
    assert str(n.to_complex()) == str(t.to_complex()).replace("torch.", "numcnn.")


@pytest.mark.parametrize("name", ["int64", "bool", "uint8"])
def test_to_complex_of_a_non_float_raises_as_torch(name: str) -> None:
    with pytest.raises(RuntimeError):
        getattr(torch, name).to_complex()
    with pytest.raises(RuntimeError, match="Unknown Complex ScalarType"):
        getattr(numcnn, name).to_complex()


@pytest.mark.parametrize("alias, name", ALIASES.items())
def test_aliases_are_the_same_object(alias: str, name: str) -> None:
    assert getattr(numcnn, alias) is getattr(numcnn, name)
    assert (getattr(torch, alias) is getattr(torch, name))


@pytest.mark.parametrize("name", NAMES)
def test_tensor_dtype_is_the_singleton(name: str) -> None:
    x = numcnn.zeros(2, dtype=getattr(numcnn, name))
    assert x.dtype is getattr(numcnn, name)
    assert x.dtype == getattr(numcnn, name) and x.dtype == np.dtype(name)
    assert x.dtype != numcnn.float32 or name == "float32"
    assert (x.dtype.is_floating_point == x.is_floating_point()
            == torch.zeros(2, dtype=getattr(torch, name)).is_floating_point())


def test_torch_style_dtype_code() -> None:
    x = numcnn.randn(2, 3)
    assert x.dtype == numcnn.float32 and x.dtype is numcnn.float32
    assert x.dtype.is_floating_point and not x.long().dtype.is_floating_point
    assert x.dtype.itemsize == 4 and x.double().dtype.itemsize == 8
    assert str(x.dtype) == "numcnn.float32" and str(x.dtype).split(".")[-1] == "float32"
    assert f"{x.dtype}" == "numcnn.float32"
    assert x.dtype in (numcnn.float16, numcnn.float32) and x.dtype not in (numcnn.float64,)
    assert {numcnn.float32: "a"}[x.dtype] == "a"
    assert isinstance(x.dtype, numcnn.dtype)
    # as torch, a dtype does not equal a string or None
    assert (numcnn.float32 == "float32") is (torch.float32 == "float32") is False
    assert numcnn.float32 != "float32" and numcnn.float32 != None  # noqa: E711


def test_dtypes_are_numpy_dtypes_to_numpy() -> None:
    """What numcnn's internals do with a dtype keeps working."""
    d = numcnn.float32
    assert np.zeros(2, dtype=d).dtype == np.float32
    assert np.arange(3).astype(numcnn.int64).dtype == np.int64
    assert np.empty((1,), numcnn.float64).dtype == np.float64
    assert np.dtype(d) == np.float32 and d == np.float32 and np.float32 == d
    assert np.dtype(np.float32) == d and d == np.dtype("float32")
    assert hash(d) == hash(np.dtype(np.float32))
    assert {np.dtype(np.float32): 1}[d] == 1 and {d: 1}[np.dtype(np.float32)] == 1
    assert d.kind == "f" and d.name == "float32" and d.type is np.float32 and d.char == "f"
    assert np.issubdtype(d, np.floating) and np.can_cast(d, np.float64)
    assert np.result_type(d, np.float64) == np.float64
    assert numcnn.int64 != np.float32 and numcnn.bool == np.bool_


def test_dtypes_pickle_and_copy_to_themselves() -> None:
    for name in NAMES:
        d = getattr(numcnn, name)
        assert pickle.loads(pickle.dumps(d)) is d
        assert copy.copy(d) is d and copy.deepcopy({"k": d})["k"] is d


def test_default_dtype_is_a_dtype_object() -> None:
    assert numcnn.get_default_dtype() is numcnn.float32
    try:
        numcnn.set_default_dtype(numcnn.float64)
        assert numcnn.get_default_dtype() is numcnn.float64
        assert numcnn.tensor([1.5]).dtype is numcnn.float64
        numcnn.set_default_dtype(np.float32)          # a NumPy type works too
        assert numcnn.get_default_dtype() is numcnn.float32
    finally:
        numcnn.set_default_dtype(numcnn.float32)
    with pytest.raises(TypeError):
        numcnn.set_default_dtype(numcnn.int64)


@pytest.mark.parametrize("py, name", [(float, "float64"), (int, "int64"), (bool, "bool")])
def test_python_types_as_dtypes_as_torch(py: type, name: str) -> None:
    assert str(torch.zeros(1).to(py).dtype) == f"torch.{name}"
    assert numcnn.zeros(1).to(py).dtype is getattr(numcnn, name)
    assert numcnn.zeros(1, dtype=py).dtype is getattr(numcnn, name)


# ------------------------------------------------------------------------------- finfo/iinfo


FINFO = ["bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"]


@pytest.mark.parametrize("name", ["float16", "float32", "float64", "complex64", "complex128"])
def test_finfo_as_torch(name: str) -> None:
    n, t = numcnn.finfo(getattr(numcnn, name)), torch.finfo(getattr(torch, name))
    for attr in FINFO:
        a, b = getattr(n, attr), getattr(t, attr)
        assert type(a) is type(b) and a == b, (attr, a, b)
    assert repr(n) == repr(t)
    assert n == numcnn.finfo(getattr(numcnn, name))


def test_finfo_default_and_numpy_types() -> None:
    assert numcnn.finfo().eps == torch.finfo().eps == torch.finfo(torch.float32).eps
    assert numcnn.finfo(np.float64).eps == torch.finfo(torch.float64).eps
    assert numcnn.finfo(numcnn.float32).eps == 2.0 ** -23          # the definition
    assert numcnn.finfo(numcnn.float16).max == 65504.0
    assert numcnn.finfo(numcnn.float64).tiny == 2.0 ** -1022


@pytest.mark.parametrize("name", ["int8", "uint8", "int16", "int32", "int64", "uint16", "uint32",
                                  "uint64"])
def test_iinfo_as_torch(name: str) -> None:
    n, t = numcnn.iinfo(getattr(numcnn, name)), torch.iinfo(getattr(torch, name))
    for attr in ("bits", "max", "min", "dtype"):
        a, b = getattr(n, attr), getattr(t, attr)
        assert type(a) is type(b) and a == b, (attr, a, b)
    assert repr(n) == repr(t)
    assert numcnn.iinfo(numcnn.int64).max == 2 ** 63 - 1                # the definition


@pytest.mark.parametrize("call", [
    lambda L: L.finfo(L.int64), lambda L: L.finfo(L.bool), lambda L: L.iinfo(L.float32),
    lambda L: L.iinfo(L.bool), lambda L: L.finfo("float32"), lambda L: L.iinfo(L.complex64),
])
def test_info_of_the_wrong_kind_raises_type_error_as_torch(call: Any) -> None:
    with pytest.raises(TypeError):
        call(torch)
    with pytest.raises(TypeError):
        call(numcnn)


def test_info_messages_name_the_other_function() -> None:
    with pytest.raises(TypeError, match="Use numcnn.iinfo"):
        numcnn.finfo(numcnn.int32)
    with pytest.raises(TypeError, match="Use numcnn.finfo"):
        numcnn.iinfo(numcnn.float64)
    with pytest.raises(TypeError, match="numcnn.bool is not supported by numcnn.iinfo"):
        numcnn.iinfo(numcnn.bool)
