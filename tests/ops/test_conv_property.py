"""Property tests: for random argument combinations, numcnn's conv1d/2d/3d and conv_transpose2d
agree with PyTorch (output and the gradients of input, weight and bias), or both raise -- and
numcnn raises exactly when torch does, with a ValueError/TypeError/RuntimeError."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.helpers import compare, raises_like_torch

import numcnn
import numcnn.nn.functional as NF

SETTINGS = settings(max_examples=50, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


@st.composite
def conv_case(draw, nd: int, transposed: bool = False):
    """Shapes and arguments, mostly valid, sometimes not: zero or negative stride/dilation,
    negative padding, groups that do not divide, a kernel larger than the padded input,
    'same' with a stride, a wrong bias size, output_padding too large."""
    groups = draw(st.integers(1, 3))
    c_in = groups * draw(st.integers(1, 2)) + draw(st.sampled_from([0, 0, 0, 1]))
    c_out = groups * draw(st.integers(1, 2)) + draw(st.sampled_from([0, 0, 0, 1]))
    max_size = 6 if nd == 3 else 9
    sizes = tuple(draw(st.integers(1, max_size)) for _ in range(nd))
    kernel = tuple(draw(st.integers(1, 4 if nd < 3 else 3)) for _ in range(nd))
    stride = tuple(draw(st.integers(0, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(0, 3)) for _ in range(nd))
    if transposed:
        padding = tuple(draw(st.integers(-1, 2)) for _ in range(nd))
        output_padding = tuple(draw(st.integers(0, 2)) for _ in range(nd))
    else:
        padding = draw(st.one_of(
            st.tuples(*[st.integers(-1, 3) for _ in range(nd)]),
            st.sampled_from(["same", "valid"]),
        ))
        output_padding = None
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    bias = draw(st.sampled_from(["none", "ok", "ok", "wrong"]))
    dtype = draw(st.sampled_from([np.float64, np.float64, np.float32]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(batch + (c_in,) + sizes).astype(dtype)
    if transposed:
        w = rng.standard_normal((c_in, max(c_out // groups, 1)) + kernel).astype(dtype)
        n_out = max(c_out // groups, 1) * groups
    else:
        w = rng.standard_normal((c_out, max(c_in // groups, 1)) + kernel).astype(dtype)
        n_out = c_out
    b = None
    if bias != "none":
        b = rng.standard_normal(n_out + (1 if bias == "wrong" else 0)).astype(dtype)
    return x, w, b, stride, padding, dilation, groups, output_padding


def _check(fn, arrays, torch_gap: bool = False):
    """numcnn agrees with torch, or both raise.  Where torch skips one of its own checks
    (`torch_gap`), numcnn must raise a RuntimeError regardless."""
    if torch_gap:
        with pytest.raises(RuntimeError):
            fn(NF, *[numcnn.tensor(a) for a in arrays])
        return
    if raises_like_torch(fn, arrays) is None:
        compare(fn, arrays)


def _transposed_gap(x, w, s, p, d, g, op) -> bool:
    """torch's grouped transposed convolution skips two checks: it accepts dilation <= 0, and
    returns an empty tensor (or fails inside oneDNN) for an output size <= 0.  Both are
    errors in numcnn, as they are in torch with groups=1."""
    if any(v <= 0 for v in d):
        return True
    if g > 1 and all(v > 0 for v in s):
        sizes = [(n - 1) * ss - 2 * pp + dd * (k - 1) + o + 1
                 for n, ss, pp, dd, k, o in zip(x.shape[-2:], s, p, d, w.shape[2:], op)]
        return any(v <= 0 for v in sizes)
    return False


def _conv_test(nd, case):
    x, w, b, s, p, d, g, _ = case
    name = f"conv{nd}d"
    if b is None:
        _check(lambda F, x, w: getattr(F, name)(x, w, None, s, p, d, g), [x, w])
    else:
        _check(lambda F, x, w, b: getattr(F, name)(x, w, b, s, p, d, g), [x, w, b])


@SETTINGS
@given(conv_case(nd=1))
def test_conv1d_property(case):
    _conv_test(1, case)


@SETTINGS
@given(conv_case(nd=2))
def test_conv2d_property(case):
    _conv_test(2, case)


@SETTINGS
@given(conv_case(nd=3))
def test_conv3d_property(case):
    _conv_test(3, case)


@SETTINGS
@given(conv_case(nd=2, transposed=True))
def test_conv_transpose2d_property(case):
    x, w, b, s, p, d, g, op = case
    gap = _transposed_gap(x, w, s, p, d, g, op)
    if b is None:
        _check(lambda F, x, w: F.conv_transpose2d(x, w, None, s, p, op, g, d), [x, w], gap)
    else:
        _check(lambda F, x, w, b: F.conv_transpose2d(x, w, b, s, p, op, g, d), [x, w, b], gap)
