"""Convolutions split over the batch across the cores (`numcnn.ops.conv._split_batch`, BLAS at
one thread meanwhile): the same results as PyTorch and as the unsplit path, on the GEMM paths
that split (1x1, row shifts, im2col, col2im, weight gradient), with BLAS's thread count given
back, also after an error."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.helpers import assert_close, compare, random_array

import numcnn
import numcnn.nn.functional as F
import numcnn.ops.conv as C

DTYPES = [np.float32, np.float64]

# (x shape, weight shape, stride, padding, dilation, groups): every GEMM path of _xcorr,
# _xcorr_weight_grad and _xcorr_input_grad (stride 1 -> flipped-kernel xcorr; stride 2 ->
# col2im; O > 2C -> col2im at stride 1)
CASES = [
    ((6, 8, 9, 9), (8, 8, 3, 3), 1, 1, 1, 1),          # row shifts
    ((5, 6, 9, 8), (7, 6, 3, 3), 2, 1, 1, 1),          # im2col forward, col2im input grad
    ((4, 4, 7, 7), (12, 4, 3, 3), 1, 1, 1, 1),         # O > 2C: col2im at stride 1
    ((5, 8, 6, 6), (16, 8, 1, 1), 1, 0, 1, 1),         # 1x1: the input is the cols matrix
    ((4, 8, 10, 10), (8, 4, 3, 3), 1, 2, 2, 2),        # dilated, two groups
    ((3, 4, 5, 6, 6), (6, 4, 3, 3, 3), 1, 1, 1, 1),    # 3-D
    ((7, 5, 12), (6, 5, 5), 3, 2, 1, 1),               # 1-D, stride 3
]


@pytest.fixture
def split_everything(monkeypatch):
    """Split every convolution with at least two images, and count the splits that ran."""
    calls = []
    real = C._split_batch

    def spy(fn, N, macs):
        out = real(fn, N, macs)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(C, "SPLIT_MIN_MACS", 0)
    monkeypatch.setattr(C, "_split_batch", spy)
    return calls


def _can_split() -> bool:
    """BLAS found, and both it and the machine allow at least two threads."""
    blas = C._blas()
    return blas.ok and min(blas.get(), C._n_workers()) >= 2


def _conv(F_, x, w, b, stride, padding, dilation, groups):
    fn = {3: F_.conv1d, 4: F_.conv2d, 5: F_.conv3d}[x.ndim]
    return fn(x, w, b, stride, padding, dilation, groups)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_split_convolution_matches_torch(split_everything, case, dtype):
    xs, ws, stride, padding, dilation, groups = case
    x = random_array(xs, dtype, seed=1)
    w = random_array(ws, dtype, seed=2)
    b = random_array((ws[0],), dtype, seed=3)
    compare(lambda F_, x, w, b: _conv(F_, x, w, b, stride, padding, dilation, groups),
            [x, w, b])
    assert split_everything, "no convolution kernel was called"
    assert all(split_everything) == _can_split()     # every kernel split where it can be


@pytest.mark.parametrize("case", CASES)
def test_split_equals_unsplit(monkeypatch, case):
    """float64: the split changes only the order of the weight gradient's sums."""
    xs, ws, stride, padding, dilation, groups = case
    x = random_array(xs, seed=4)
    w = random_array(ws, seed=5)
    gy_seed = 6
    results = []
    for split in (True, False):
        monkeypatch.setattr(C, "SPLIT_BATCH", split)
        monkeypatch.setattr(C, "SPLIT_MIN_MACS", 0)
        monkeypatch.setattr(C, "PARALLEL_MIN_ELEMENTS", 0)   # nested copies run inline
        xt, wt = numcnn.tensor(x, requires_grad=True), numcnn.tensor(w, requires_grad=True)
        y = _conv(F, xt, wt, None, stride, padding, dilation, groups)
        y.backward(numcnn.tensor(random_array(y.shape, seed=gy_seed)))
        results.append((y.array, xt.grad.array, wt.grad.array))
    for a, e, what in zip(results[0], results[1], ("y", "gx", "gw")):
        assert_close(a, e, rtol=1e-12, atol=1e-12, what=what)


def test_large_convolution_splits_by_default():
    """A seed-CNN-sized layer (batch 32 of 32x28x28, 3x3 -> 32) passes SPLIT_MIN_MACS."""
    x = random_array((32, 32, 28, 28), np.float32, seed=7)
    w = random_array((32, 32, 3, 3), np.float32, seed=8) * np.float32(0.1)
    assert 32 * 32 * 28 * 28 * 32 * 9 >= C.SPLIT_MIN_MACS
    # the weight gradient sums 25,088 float32 products per entry (entries up to ~600): both
    # libraries' rounding reaches ~1e-3 absolute there, whatever the summation order
    compare(lambda F_, x, w: F_.conv2d(x, w, None, 1, 1), [x, w], rtol=1e-4, atol=1e-4,
            grad_atol=5e-3)


def test_blas_threads_given_back_and_small_work_not_split():
    blas = C._blas()
    if not blas.ok:                     # NumPy on another BLAS: nothing is ever split
        assert C._split_batch(lambda lo, hi: None, 8, 1e12) is None
        return
    before = blas.get()
    if min(before, C._n_workers()) < 2:  # one core, or BLAS set to one thread: no split
        assert C._split_batch(lambda lo, hi: None, 8, 1e12) is None
        return
    seen = []
    out = C._split_batch(lambda lo, hi: (seen.append(blas.get()), (lo, hi))[1], 8, 1e12)
    assert out is not None and out[0][0] == 0 and out[-1][1] == 8
    assert [hi for _, hi in out[:-1]] == [lo for lo, _ in out[1:]]   # a partition of 0..8
    assert set(seen) == {1}                                           # BLAS at one thread
    assert blas.get() == before
    with pytest.raises(ZeroDivisionError):
        C._split_batch(lambda lo, hi: 1 / 0, 8, 1e12)
    assert blas.get() == before
    assert C._split_batch(lambda lo, hi: None, 1, 1e12) is None          # one image
    assert C._split_batch(lambda lo, hi: None, 8, C.SPLIT_MIN_MACS - 1) is None
    blas.put(1)                          # BLAS limited to one thread: numcnn adds none either
    try:
        assert C._split_batch(lambda lo, hi: None, 8, 1e12) is None
    finally:
        blas.put(before)
    assert blas.get() == before


@pytest.mark.parametrize("stride, padding, output_padding", [(1, 1, 0), (2, 1, 1), (3, 0, 2)])
def test_split_transposed_convolution_matches_torch(split_everything, stride, padding,
                                                    output_padding):
    """The transposed convolution runs the input-gradient kernel forward and the forward
    kernel backward: both split."""
    x = random_array((5, 6, 5, 4), seed=9)
    w = random_array((6, 4, 3, 3), seed=10)
    b = random_array((4,), seed=11)
    compare(lambda F_, x, w, b: F_.conv_transpose2d(x, w, b, stride, padding, output_padding),
            [x, w, b])
    assert split_everything and all(split_everything) == _can_split()


def test_clear_scratch_frees_every_threads_buffers(split_everything):
    x = numcnn.tensor(random_array((4, 8, 9, 9), np.float32, seed=12), requires_grad=True)
    w = numcnn.tensor(random_array((8, 8, 3, 3), np.float32, seed=13), requires_grad=True)
    F.conv2d(x, w, padding=1).sum().backward()
    held = sum(b.nbytes for pool in C._SCRATCH_POOLS for b in pool.values())
    assert held > 0
    if _can_split():                     # the worker threads' buffers are registered too
        assert sum(1 for pool in C._SCRATCH_POOLS if pool) >= 2
    C.clear_scratch()
    assert sum(b.nbytes for pool in C._SCRATCH_POOLS for b in pool.values()) == 0
    y = F.conv2d(x, w, padding=1)        # and they are made again when needed
    expected = torch.nn.functional.conv2d(torch.from_numpy(x.array), torch.from_numpy(w.array),
                                          padding=1)
    assert_close(y.array, expected.numpy())
