"""Padding: numcnn against PyTorch (values and input gradients) for every mode, negative pads
(cropping), finite differences, naive per-element formulas, and the argument checks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from tests.helpers import assert_close, compare, raises_like_torch, random_array

import numcnn
import numcnn.nn.functional as F
from numcnn.autograd.gradcheck import gradcheck
from numcnn.ops.pad import pad_index

DTYPES = [np.float32, np.float64]
MODES = ["constant", "reflect", "replicate", "circular"]


# ----------------------------------------------------------------------------- naive oracle


def naive_source(t: int, n: int, mode: str) -> int | None:
    """The input index an output coordinate t (= j - left) reads, for non-negative pads:
    constant: t inside, else None (the fill value); reflect: mirror without repeating the
    edge; replicate: the nearest edge; circular: t mod n."""
    if 0 <= t < n:
        return t
    if mode == "constant":
        return None
    if mode == "reflect":
        return -t if t < 0 else 2 * (n - 1) - t
    if mode == "replicate":
        return 0 if t < 0 else n - 1
    return t % n


def naive_pad2d(x: np.ndarray, pad: tuple[int, int, int, int], mode: str,
                value: float = 0.0) -> np.ndarray:
    left, right, top, bottom = pad
    N, Cc, H, W = x.shape
    y = np.empty((N, Cc, H + top + bottom, W + left + right))
    for i in range(y.shape[2]):
        for j in range(y.shape[3]):
            si, sj = naive_source(i - top, H, mode), naive_source(j - left, W, mode)
            y[:, :, i, j] = value if si is None or sj is None else x[:, :, si, sj]
    return y


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("pad", [(1, 1, 1, 1), (2, 0, 1, 2), (0, 3, 2, 0), (3, 2, 2, 1)])
def test_pad_against_naive_formula(mode, pad):
    x = random_array((2, 3, 3, 4), seed=1)
    value = 1.5 if mode == "constant" else None
    y = F.pad(numcnn.tensor(x), pad, mode, value)
    assert_close(y, naive_pad2d(x, pad, mode, value or 0.0))


def test_reflect_and_friends_on_a_row():
    row = numcnn.tensor([[[1.0, 2.0, 3.0]]])
    assert F.pad(row, (2, 2), "reflect").array.tolist() == [[[3, 2, 1, 2, 3, 2, 1]]]
    assert F.pad(row, (2, 2), "replicate").array.tolist() == [[[1, 1, 1, 2, 3, 3, 3]]]
    assert F.pad(row, (2, 2), "circular").array.tolist() == [[[2, 3, 1, 2, 3, 1, 2]]]
    assert F.pad(row, (2, 2), value=9.0).array.tolist() == [[[9, 9, 1, 2, 3, 9, 9]]]


# ----------------------------------------------------------------------------- against torch

CASES = [
    # shape, pad, modes
    ((2, 3, 5), (2, 1), MODES),
    ((3, 6), (0, 3), MODES),                                           # unbatched 1-D
    ((2, 2, 4, 5), (1, 2, 3, 0), MODES),
    ((2, 4, 5), (4, 4, 3, 3), ["constant", "reflect", "replicate"]),   # pad = size - 1
    ((1, 2, 3, 4), (4, 4, 3, 3), ["constant", "replicate", "circular"]),  # pad = size
    ((1, 2, 3, 4, 5), (1, 2, 0, 1, 2, 1), MODES),
    ((2, 3, 4, 5), (1, 0, 2, 1, 0, 2), MODES),                          # 3-D on unbatched
    ((1, 1, 3, 4), (-1, 1, 0, 0), MODES),                               # crop one side
    ((1, 1, 3, 4), (-3, 3, 0, 0), ["reflect", "replicate"]),
    ((1, 1, 3, 4), (-2, -1, 1, -1), MODES),
    # (circular wrapping more than the cropped size is left out: torch's backward is wrong there)
    ((1, 1, 3, 4), (-2, 3, 0, 0), ["constant", "replicate", "reflect"]),
    ((1, 1, 3, 4), (-2, 2, 0, 0), MODES),
    ((1, 1, 3, 4), (-4, 0, 0, 0), MODES),                               # crops everything
    ((1, 1, 3, 4), (-5, 1, 0, 0), ["reflect", "replicate", "circular"]),
    ((2, 3, 4, 5), (1, 1), ["constant"]),
    ((2, 3, 4, 5), (-1, 2, 0, 1, 1, -2, 2, 0), ["constant"]),            # all 4 dims
    ((4,), (2, -1), ["constant"]),
    ((0, 2, 4), (1, 2), MODES),                                          # empty batch
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, pad, modes", CASES)
def test_pad_matches_torch(shape, pad, modes, dtype):
    x = random_array(shape, dtype, seed=2)
    for mode in modes:
        compare(lambda F, x, m=mode: F.pad(x, pad, m), [x])


def test_constant_value_and_integer_input_like_torch():
    x = random_array((2, 3, 4), seed=3)
    compare(lambda F, x: F.pad(x, (1, 2, 0, 1), value=-2.5), [x])
    compare(lambda F, x: F.pad(x, (1, 2), value=None), [x])
    xi = np.arange(12).reshape(3, 4)
    compare(lambda F, x: F.pad(x, (1, 1), value=1.5), [xi], grad=False)   # cast like torch
    compare(lambda F, x: F.pad(x, (2, 1), mode="reflect"), [xi], grad=False)
    compare(lambda F, x: F.pad(x, ()), [x])
    compare(lambda F, x: F.pad(x, (1, 1), mode="reflect", value=0.0), [x])


@pytest.mark.parametrize("mode", MODES)
def test_pad_keeps_float32(mode):
    y = F.pad(numcnn.randn(1, 2, 3, 4), (1, 1, 1, 1), mode)
    assert y.dtype == np.float32


def test_pad_index_covers_every_mode():
    assert pad_index(4, 2, 1, "reflect").tolist() == [2, 1, 0, 1, 2, 3, 2]
    assert pad_index(4, 2, 1, "replicate").tolist() == [0, 0, 0, 1, 2, 3, 3]
    assert pad_index(4, 2, 1, "circular").tolist() == [2, 3, 0, 1, 2, 3, 0]
    assert pad_index(4, -2, 3, "circular").tolist() == [2, 3, 2, 3, 2]   # crop, then wrap
    assert pad_index(4, -3, 3, "reflect").tolist() == [3, 2, 1, 0]
    assert pad_index(4, -4, 0, "reflect").tolist() == []


# ----------------------------------------------------------------------------- finite differences


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape, pad", [((1, 2, 4), (3, 2)), ((1, 3, 3, 4), (2, 1, -1, 2)),
                                        ((1, 1, 3, 2, 3), (1, 2, 1, 1, 2, 0))])
def test_gradcheck(mode, shape, pad):
    if mode == "reflect":
        pad = tuple(min(p, s - 1) for p, s in zip(pad, [shape[-1 - i // 2]
                                                         for i in range(len(pad))]))
    x = numcnn.tensor(random_array(shape, seed=4), requires_grad=True)
    assert gradcheck(lambda t: F.pad(t, pad, mode), [x])


# ----------------------------------------------------------------------------- argument checks


def _same_error(fn, x, expected):
    t_err = raises_like_torch(fn, [x])
    assert t_err is not None and type(t_err) is expected, f"torch raised {t_err!r}"
    with pytest.raises(expected) as info:
        fn(F, numcnn.tensor(x))
    return str(info.value)


X = random_array((1, 2, 3, 4), seed=5)

BAD = [
    ("odd pad length", lambda F, x: F.pad(x, (1, 2, 3)), RuntimeError, "divisible by 2"),
    ("pad longer than the input's dims", lambda F, x: F.pad(x, (1, 1) * 5), RuntimeError,
     "padding length"),
    ("crop more than the size", lambda F, x: F.pad(x, (-3, -2)), RuntimeError, "negative"),
    ("float pad", lambda F, x: F.pad(x, (1.0, 1)), TypeError, "pad"),
    ("int pad", lambda F, x: F.pad(x, 1), TypeError, "pad"),
    ("string value", lambda F, x: F.pad(x, (1, 1), value="1"), TypeError, "value"),
    ("unknown mode", lambda F, x: F.pad(x, (1, 1), mode="foo"), NotImplementedError, "foo"),
    ("mode None", lambda F, x: F.pad(x, (1, 1), mode=None), TypeError, "mode"),
    ("reflect with a value", lambda F, x: F.pad(x, (1, 1), mode="reflect", value=1.0),
     RuntimeError, "value"),
    ("reflect pad = size", lambda F, x: F.pad(x, (0, 4, 0, 0), mode="reflect"), RuntimeError,
     "less than"),
    ("reflect pad > size in H", lambda F, x: F.pad(x, (1, 1, 3, 0), mode="reflect"),
     RuntimeError, "less than"),
    ("reflect 1-D pad on 4-D input", lambda F, x: F.pad(x, (1, 1), mode="reflect"),
     NotImplementedError, "not supported"),
    ("replicate 1-D pad on 1-D input", lambda F, x: F.pad(x[0, 0, 0], (1, 1),
                                                           mode="replicate"),
     NotImplementedError, "not supported"),
    ("circular 3-D pad on 6-D input", lambda F, x: F.pad(x[None, None], (1,) * 6,
                                                          mode="circular"),
     NotImplementedError, "not supported"),
    ("circular wraps twice", lambda F, x: F.pad(x, (5, 0, 0, 0), mode="circular"),
     RuntimeError, "wrap"),
    ("replicate negative size", lambda F, x: F.pad(x, (-5, 0, 0, 0), mode="replicate"),
     RuntimeError, "negative"),
    ("reflect empty channel dim", lambda F, x: F.pad(x[:, :0], (1, 1, 1, 1), mode="reflect"),
     RuntimeError, "non-zero"),
]


@pytest.mark.parametrize("what, fn, err, word", BAD, ids=[b[0] for b in BAD])
def test_bad_pad_arguments_raise_torchs_error_type(what, fn, err, word):
    msg = _same_error(fn, X, err)
    assert word.lower() in msg.lower(), msg


def test_pad_input_must_be_a_tensor():
    with pytest.raises(TypeError, match="Tensor"):
        F.pad(X, (1, 1))


def test_circular_crop_everything_then_pad_raises():
    """torch returns uninitialised memory for circular (-4, 1) on a size-4 dim (it wraps an
    empty range); numcnn refuses with a RuntimeError instead."""
    with pytest.raises(RuntimeError, match="circular"):
        F.pad(numcnn.tensor(X), (-4, 1, 0, 0), mode="circular")


@pytest.mark.parametrize("lo, hi", list(itertools.product(range(-3, 4), range(-3, 4))))
def test_negative_pads_grid_matches_torch(lo, hi):
    """Every (lo, hi) in [-3, 3]^2 on a size-4 dim: each mode agrees with torch or both raise
    (circular with a crop that leaves fewer elements than it pads is skipped: torch reads
    uninitialised memory there)."""
    x = random_array((1, 2, 4), seed=6)
    for mode in MODES:
        if mode == "circular" and (4 + min(lo, 0) + min(hi, 0) < max(lo, hi, 0)):
            continue
        def fn(F, t, m=mode):
            return F.pad(t, (lo, hi), m)

        if raises_like_torch(fn, [x]) is None:
            compare(fn, [x])
