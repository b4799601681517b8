"""What the compat programs share: the two sets of "imports", weights copied across, comparisons.

Each program in tests/compat/ is written as PyTorch code is written, against module parameters
named as PyTorch users import them (`torch`, `nn`, `F`, `optim`, `data`), and is run twice: with
PyTorch's modules (`TORCH`) and with numcnn's (`NUMCNN`), which is exactly the port a user makes
by changing the imports.  The torch run's initial weights are copied into the numcnn model
through NumPy arrays (`copy_weights`), so the two runs start equal and every difference after
that is a difference of the libraries.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

import numcnn


def _numcnn_data() -> Any:
    """`numcnn.utils.data` as `torch.utils.data` (the issue's alias); `numcnn.data` until then."""
    try:
        return importlib.import_module("numcnn.utils.data")
    except ImportError:
        return importlib.import_module("numcnn.data")


TORCH = SimpleNamespace(torch=torch, nn=torch.nn, F=torch.nn.functional, optim=torch.optim,
                        data=torch.utils.data)
NUMCNN = SimpleNamespace(torch=numcnn, nn=numcnn.nn, F=numcnn.nn.functional, optim=numcnn.optim,
                         data=_numcnn_data())
LIBS = {"torch": TORCH, "numcnn": NUMCNN}


def as_numpy(x: Any) -> np.ndarray:
    """An ndarray copy of a torch or numcnn tensor (or of an ndarray/number)."""
    if isinstance(x, (torch.Tensor, numcnn.Tensor)):
        return np.array(x.detach().numpy())
    return np.array(x)


def copy_weights(src: torch.nn.Module, dst: numcnn.nn.Module) -> None:
    """Load a torch module's state_dict into a numcnn module, as arrays, strictly."""
    state = {k: numcnn.tensor(as_numpy(v)) for k, v in src.state_dict().items()}
    dst.load_state_dict(state)


def load_arrays(module: Any, arrays: dict[str, np.ndarray]) -> None:
    """Load a state dict given as ndarrays (e.g. torch's, from `state_arrays`) into a numcnn
    module, strictly."""
    module.load_state_dict({k: numcnn.tensor(v) for k, v in arrays.items()})


def state_arrays(module: Any) -> dict[str, np.ndarray]:
    return {k: as_numpy(v) for k, v in module.state_dict().items()}


def grad_arrays(module: Any) -> dict[str, np.ndarray | None]:
    return {k: None if p.grad is None else as_numpy(p.grad)
            for k, p in module.named_parameters()}


TOL = {np.dtype(np.float64): (1e-7, 1e-9), np.dtype(np.float32): (1e-4, 1e-5)}


def assert_same(actual: Any, expected: Any, what: str = "", rtol: float | None = None,
                atol: float | None = None) -> None:
    """numcnn's value against torch's: equal shape and dtype, values within DESIGN.md's
    tolerances for the dtype (float64 rtol 1e-7, float32 rtol 1e-4 atol 1e-5), exact else."""
    a, e = as_numpy(actual), as_numpy(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != torch's {e.shape}"
    if e.dtype.kind == "f":
        assert a.dtype == e.dtype, f"{what}: dtype {a.dtype} != torch's {e.dtype}"
        r, t = TOL[e.dtype]
        np.testing.assert_allclose(a, e, rtol=r if rtol is None else rtol,
                                   atol=t if atol is None else atol, err_msg=what)
    else:
        np.testing.assert_array_equal(a, e, err_msg=what)


def assert_same_dicts(actual: dict[str, Any], expected: dict[str, Any], what: str,
                      **tol: float) -> None:
    assert list(actual) == list(expected), f"{what}: keys {list(actual)} != {list(expected)}"
    for k in expected:
        if expected[k] is None:
            assert actual[k] is None, f"{what}[{k}] is set where torch's is None"
        else:
            assert actual[k] is not None, f"{what}[{k}] is None where torch's is set"
            assert_same(actual[k], expected[k], f"{what}[{k}]", **tol)


@contextlib.contextmanager
def default_dtype_float64() -> Iterator[None]:
    """Both libraries make float64 parameters and tensors by default inside the block."""
    old_t, old_n = torch.get_default_dtype(), numcnn.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    numcnn.set_default_dtype(numcnn.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(old_t)
        numcnn.set_default_dtype(old_n)
