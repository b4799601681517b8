"""Property tests: for random window arguments and sizes, numcnn's pooling agrees with PyTorch
(values, indices, input gradients), or both raise -- exactly when torch does."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tests.helpers import compare, raises_like_torch

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def pool_case(draw, nd: int, dilation: bool):
    """Sizes and window arguments, mostly valid, sometimes not (padding too big, window larger
    than the input, zero stride), with integer-valued inputs so that ties are common."""
    sizes = tuple(draw(st.integers(1, 9)) for _ in range(nd))
    k = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    s = tuple(draw(st.integers(0, 4)) for _ in range(nd))
    p = tuple(draw(st.integers(0, kk // 2 + 1)) for kk in k)
    d = tuple(draw(st.integers(1, 3)) for _ in range(nd)) if dilation else (1,) * nd
    ceil_mode = draw(st.booleans())
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    channels = draw(st.integers(1, 3))
    ties = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    shape = batch + (channels,) + sizes
    x = rng.integers(0, 3, shape).astype(np.float64) if ties else rng.standard_normal(shape)
    return x, k, s, p, d, ceil_mode


def _has_empty_window(x, k, s, p, d, ceil_mode) -> bool:
    """A window with no tap inside the input (possible with dilation + padding + ceil_mode).
    torch returns -inf there and its backward writes out of bounds (heap corruption, abort), so
    such cases are no oracle; numcnn returns -inf with torch's index and passes no gradient."""
    from numcnn.ops.pool import pool_output_size

    for L, kk, ss, pp, dd in zip(x.shape[-len(k):], k, s, p, d):
        if ss <= 0 or pp > kk // 2:
            return False                      # an argument error: both must raise
        for i in range(max(pool_output_size(L, kk, ss, pp, dd, ceil_mode), 0)):
            if not any(0 <= i * ss - pp + j * dd < L for j in range(kk)):
                return True
    return False


def _check(fn, x):
    if raises_like_torch(fn, [x]) is None:
        compare(fn, [x])


@SETTINGS
@given(pool_case(nd=1, dilation=True))
def test_max_pool1d_property(case):
    x, k, s, p, d, ceil_mode = case
    assume(not _has_empty_window(x, k, s, p, d, ceil_mode))
    _check(lambda F, t: F.max_pool1d(t, k, s, p, d, ceil_mode, return_indices=True), x)


@SETTINGS
@given(pool_case(nd=2, dilation=True))
def test_max_pool2d_property(case):
    x, k, s, p, d, ceil_mode = case
    assume(not _has_empty_window(x, k, s, p, d, ceil_mode))
    _check(lambda F, t: F.max_pool2d(t, k, s, p, d, ceil_mode, return_indices=True), x)


@SETTINGS
@given(pool_case(nd=2, dilation=False), st.booleans(), st.sampled_from([None, 1, 3, -2]))
def test_avg_pool2d_property(case, count_include_pad, divisor_override):
    x, k, s, p, _, ceil_mode = case
    _check(lambda F, t: F.avg_pool2d(t, k, s, p, ceil_mode, count_include_pad,
                                     divisor_override), x)
