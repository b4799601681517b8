"""numcnn.nn.utils.clip_grad_norm_ / clip_grad_value_ against torch.nn.utils 2.13.0.

Also a naive oracle from the formula: total = (Σ_i Σ_j |g_ij|^p)^(1/p) over all gradients
concatenated (max |g| for p = inf), and g ← g · min(max_norm / (total + 1e-6), 1).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from tests.helpers import assert_close

import numcnn
from numcnn.nn.utils import clip_grad_norm_, clip_grad_value_, get_total_norm

SHAPES = [(3, 4), (7,), (2, 2, 3), ()]
NORMS = [2.0, 1.0, 3.0, 0.5, math.inf, "inf", -math.inf, 0.0]


def _pair(dtype: Any, scale: float = 1.0, seed: int = 0,
          none_at: int | None = 1) -> tuple[list[Any], list[Any]]:
    """The same parameters with the same gradients in numcnn and torch (one without a grad)."""
    rng = np.random.default_rng(seed)
    n, t = [], []
    for i, s in enumerate(SHAPES):
        w = rng.standard_normal(s).astype(dtype)
        g = (scale * rng.standard_normal(s)).astype(dtype)
        pn, pt = numcnn.nn.Parameter(numcnn.tensor(w)), torch.nn.Parameter(torch.tensor(w))
        if i != none_at:
            pn.grad, pt.grad = numcnn.tensor(g.copy()), torch.tensor(g.copy())
        n.append(pn)
        t.append(pt)
    return n, t


def _naive_total(grads: list[np.ndarray], p: float) -> float:
    flat = np.concatenate([g.ravel() for g in grads]).astype(np.float64)
    if p == math.inf:
        return float(np.abs(flat).max())
    if p == -math.inf:
        return float(np.abs(flat).min())
    return float(np.sum(np.abs(flat) ** p) ** (1 / p))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
@pytest.mark.parametrize("norm_type", NORMS, ids=[str(p) for p in NORMS])
def test_clip_grad_norm_equals_torch(norm_type: Any, max_norm: float, dtype: Any) -> None:
    n, t = _pair(dtype)
    before = [p.grad.array.copy() for p in n if p.grad is not None]
    n_total = clip_grad_norm_(n, max_norm, norm_type=norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(t, max_norm, norm_type=norm_type)
    assert isinstance(n_total, numcnn.Tensor) and n_total.shape == ()
    assert_close(n_total, t_total, what="total norm")
    p = float(norm_type)
    if p != 0:   # the 0-"norm" does not compose: torch's total counts tensors with a non-zero
        assert float(n_total) == pytest.approx(_naive_total(before, p), rel=1e-5)  # count
    for i, (a, b) in enumerate(zip(n, t)):
        if b.grad is None:
            assert a.grad is None
        else:
            assert_close(a.grad, b.grad, what=f"grad {i}")
    if max_norm == 1e6:                       # no clipping: grads unchanged
        for g0, p_ in zip(before, [p_ for p_ in n if p_.grad is not None]):
            np.testing.assert_allclose(p_.grad.array, g0, rtol=1e-5)


def test_clip_grad_norm_scales_to_max_norm_naive() -> None:
    n, _ = _pair(np.float64, scale=10.0)
    grads = [p.grad.array.copy() for p in n if p.grad is not None]
    total = _naive_total(grads, 2.0)
    clip_grad_norm_(n, 1.0)
    coef = 1.0 / (total + 1e-6)
    for g0, p in zip(grads, [p for p in n if p.grad is not None]):
        np.testing.assert_allclose(p.grad.array, g0 * coef, rtol=1e-12)
    after = _naive_total([p.grad.array for p in n if p.grad is not None], 2.0)
    assert after == pytest.approx(1.0, rel=1e-5)


def test_single_tensor_generator_and_empty() -> None:
    n, t = _pair(np.float64)
    assert_close(clip_grad_norm_(n[0], 0.1), torch.nn.utils.clip_grad_norm_(t[0], 0.1))
    assert_close(n[0].grad, t[0].grad)
    assert_close(clip_grad_norm_((p for p in n), 0.2), torch.nn.utils.clip_grad_norm_(
        (p for p in t), 0.2))
    empty = clip_grad_norm_([], 1.0)
    assert float(empty) == 0.0 and empty.dtype == np.float32
    with pytest.warns(UserWarning, match="empty generator"):
        clip_grad_norm_((p for p in []), 1.0)
    assert float(get_total_norm([numcnn.tensor([3.0, 4.0])])) == 5.0


@pytest.mark.parametrize("bad", [math.nan, math.inf])
@pytest.mark.parametrize("norm_type", [2.0, math.inf, 1.0])
def test_nonfinite(bad: float, norm_type: float) -> None:
    n, t = _pair(np.float64)
    n[0].grad.array[0, 0] = bad
    t[0].grad[0, 0] = bad
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(t, 1.0, norm_type, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(n, 1.0, norm_type, error_if_nonfinite=True)
    # without the check both scale by the non-finite norm, leaving the same (nan) gradients
    nt = clip_grad_norm_(n, 1.0, norm_type)
    tt = torch.nn.utils.clip_grad_norm_(t, 1.0, norm_type)
    np.testing.assert_array_equal(nt.array, tt.numpy())
    for a, b in zip(n, t):
        if b.grad is not None:
            np.testing.assert_array_equal(a.grad.array, b.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("clip_value", [0.3, 1, 10.0])
def test_clip_grad_value_equals_torch(clip_value: float, dtype: Any) -> None:
    n, t = _pair(dtype, scale=2.0)
    grad_ids = [id(p.grad) for p in n]
    assert clip_grad_value_(n, clip_value) is None
    torch.nn.utils.clip_grad_value_(t, clip_value)
    for a, b in zip(n, t):
        if b.grad is None:
            assert a.grad is None
        else:
            assert_close(a.grad, b.grad)
            assert np.abs(a.grad.array).max(initial=0) <= np.asarray(clip_value, dtype)
    assert [id(p.grad) for p in n] == grad_ids          # in place
    clip_grad_value_(n[0], 0.01)
    assert float(np.abs(n[0].grad.array).max()) <= 0.01


def test_in_place_and_dtype_kept() -> None:
    n, _ = _pair(np.float32, scale=5.0)
    g = n[0].grad
    data = g.array
    total = clip_grad_norm_(n, 0.1)
    assert n[0].grad is g and g.array is data and g.dtype == np.float32
    assert total.dtype == np.float32
