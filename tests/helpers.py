"""Shared oracles for the tests: run the same computation in numcnn and PyTorch and compare.

    nc_out, t_out = compare(lambda F, x, w: F.conv2d(x, w, padding=1), [x_np, w_np])

`compare` builds numcnn and torch tensors from the same ndarrays (all requiring grad when
floating), runs the function with `numcnn.nn.functional` / `torch.nn.functional` as `F`,
checks the forward values, then backpropagates the same random upstream gradient through both
and checks every input gradient.  Tolerances follow DESIGN.md: float64 rtol 1e-7, float32 rtol
1e-4 atol 1e-5.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch

import numcnn
import numcnn.nn.functional as NF

torch.set_num_threads(1)
TF = torch.nn.functional

TOL = {np.dtype(np.float64): (1e-7, 1e-9), np.dtype(np.float32): (1e-4, 1e-5)}


def tolerances(dtype: Any) -> tuple[float, float]:
    return TOL[np.dtype(dtype)]


def assert_close(actual: Any, expected: Any, rtol: float | None = None, atol: float | None = None,
                 what: str = "") -> None:
    """Elementwise |a - e| <= atol + rtol |e|, with shape and dtype equality."""
    a = actual.detach().numpy() if isinstance(actual, (torch.Tensor, numcnn.Tensor)) else actual
    e = expected.detach().numpy() if isinstance(expected, (torch.Tensor, numcnn.Tensor)) \
        else expected
    a, e = np.asarray(a), np.asarray(e)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != expected {e.shape}"
    if a.dtype.kind == "f" and e.dtype.kind == "f":
        assert a.dtype == e.dtype, f"{what}: dtype {a.dtype} != expected {e.dtype}"
        r, t = tolerances(e.dtype)
        np.testing.assert_allclose(a, e, rtol=r if rtol is None else rtol,
                                   atol=t if atol is None else atol, err_msg=what)
    else:
        np.testing.assert_array_equal(a, e, err_msg=what)


def _pair(arr: Any, grad: bool) -> tuple[Any, Any]:
    if not isinstance(arr, np.ndarray):
        return arr, arr
    wants = grad and arr.dtype.kind == "f"
    n = numcnn.tensor(arr.copy(), requires_grad=wants)
    t = torch.tensor(arr.copy(), requires_grad=wants)
    return n, t


def compare(fn: Callable[..., Any], arrays: Sequence[Any], grad: bool = True,
            rtol: float | None = None, atol: float | None = None, seed: int = 0,
            grad_rtol: float | None = None, grad_atol: float | None = None) -> tuple[Any, Any]:
    """Run `fn(F, *tensors)` in numcnn and torch; assert equal outputs and input gradients.

    Non-array entries of `arrays` are passed through unchanged to both.  Returns the outputs.
    """
    pairs = [_pair(a, grad) for a in arrays]
    n_in = [p[0] for p in pairs]
    t_in = [p[1] for p in pairs]
    n_out = fn(NF, *n_in)
    t_out = fn(TF, *t_in)
    n_list = list(n_out) if isinstance(n_out, (tuple, list)) else [n_out]
    t_list = list(t_out) if isinstance(t_out, (tuple, list)) else [t_out]
    assert len(n_list) == len(t_list)
    for i, (a, b) in enumerate(zip(n_list, t_list)):
        assert_close(a, b, rtol, atol, what=f"output {i}")
    if not grad:
        return n_out, t_out
    rng = np.random.default_rng(seed)
    n_loss, t_loss = None, None
    for a, b in zip(n_list, t_list):
        if isinstance(b, torch.Tensor) and b.requires_grad:
            v = rng.standard_normal(b.shape).astype(b.detach().numpy().dtype)
            nl = (a * numcnn.tensor(v)).sum()
            tl = (b * torch.tensor(v)).sum()
            n_loss = nl if n_loss is None else n_loss + nl
            t_loss = tl if t_loss is None else t_loss + tl
    if t_loss is None:
        return n_out, t_out
    n_loss.backward()
    t_loss.backward()
    for i, (a, b) in enumerate(zip(n_in, t_in)):
        if isinstance(b, torch.Tensor) and b.requires_grad:
            if b.grad is None:
                assert a.grad is None or not np.any(a.grad.array), f"grad {i}: torch has none"
                continue
            assert a.grad is not None, f"input {i}: numcnn computed no gradient"
            assert_close(a.grad, b.grad, grad_rtol if grad_rtol is not None else rtol,
                         grad_atol if grad_atol is not None else atol, what=f"grad of input {i}")
    return n_out, t_out


def raises_like_torch(fn: Callable[..., Any], arrays: Sequence[Any]) -> BaseException | None:
    """Run `fn(F, *tensors)` in both libraries (no grad); if torch raises, numcnn must raise a
    ValueError/TypeError/RuntimeError/IndexError too (and vice versa).  Returns torch's error."""
    pairs = [_pair(a, False) for a in arrays]
    t_err: BaseException | None = None
    n_err: BaseException | None = None
    try:
        fn(TF, *[p[1] for p in pairs])
    except Exception as e:  # noqa: BLE001
        t_err = e
    try:
        fn(NF, *[p[0] for p in pairs])
    except (ValueError, TypeError, RuntimeError, IndexError, NotImplementedError) as e:
        n_err = e
    assert (t_err is None) == (n_err is None), (
        f"torch raised {t_err!r} but numcnn raised {n_err!r}"
    )
    return t_err


def random_array(shape: Sequence[int], dtype: Any = np.float64, seed: int = 0,
                 low: float | None = None, high: float | None = None) -> np.ndarray:
    """A reproducible random array (standard normal, or uniform on [low, high))."""
    rng = np.random.default_rng(seed)
    if low is not None:
        return rng.uniform(low, high, size=tuple(shape)).astype(dtype)
    return rng.standard_normal(tuple(shape)).astype(dtype)


def run_cli(capsys: Any, *argv: str) -> tuple[int, str, str]:
    """Run the `numcnn` command in-process: (exit status, stdout, stderr) of this call only."""
    from numcnn.train.cli import main

    capsys.readouterr()                       # drop what earlier calls and fixtures printed
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def train_synthetic(out: Any, model: str = "lenet5", limit: int = 200,
                    batch_size: int | None = None) -> Any:
    """Train `model` for one epoch on `limit` SyntheticShapes images into the run directory
    `out` with the `numcnn train` command (in-process); returns `out`."""
    from numcnn.train.cli import main

    argv = ["train", "--data", "synthetic", "--model", model, "--limit", str(limit),
            "--epochs", "1", "--out", str(out)]
    if batch_size is not None:
        argv += ["--batch-size", str(batch_size)]
    assert main(argv) == 0
    return out
