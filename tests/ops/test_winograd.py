"""Winograd convolution (numcnn.ops.winograd): the transform matrices against the 1-D and 2-D
correlation they must compute, the kernel against naive loops (float64) and against
PyTorch's conv2d through the public API (float32 within the documented error bound, float64),
gradients through a Winograd forward by finite differences, the float32 error bound relative
to sum |w||x|, the switch in numcnn.backends.conv and the autotuner."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import numcnn
import numcnn.backends.conv as flags
import numcnn.nn.functional as F
import numcnn.ops.conv as C
import numcnn.ops.winograd as W
from numcnn.autograd.gradcheck import gradcheck

TF = torch.nn.functional
#: the float32 error bounds of the module docstring, relative to sum |w||x| per output
BOUND32 = {2: 1e-6, 4: 1e-5}
BOUND64 = {2: 2e-15, 4: 2e-14}


@pytest.fixture
def winograd_on(monkeypatch):
    """Set numcnn.backends.conv.winograd (restored after the test); returns the setter."""
    def set_mode(mode, tile=2, min_macs=None):
        monkeypatch.setattr(flags, "winograd", mode)
        monkeypatch.setattr(flags, "winograd_tile", tile)
        if min_macs is not None:
            monkeypatch.setattr(flags, "winograd_min_macs", min_macs)
    yield set_mode
    W.reset_choices()


def naive_xcorr(xp: np.ndarray, w: np.ndarray, b) -> np.ndarray:
    """y[n, i, j, o] = b[o] + sum_{a, e, c} xp[n, i + a, j + e, c] * w[a, e, c, o], as loops
    over the output pixels and the kernel taps (channels-last, float64)."""
    N, Hp, Wp, Cin = xp.shape
    O = w.shape[-1]
    y = np.zeros((N, Hp - 2, Wp - 2, O))
    for n, i, j in itertools.product(range(N), range(Hp - 2), range(Wp - 2)):
        acc = np.zeros(O) if b is None else np.array(b, dtype=np.float64)
        for a, e in itertools.product(range(3), range(3)):
            acc = acc + xp[n, i + a, j + e, :].astype(np.float64) @ w[a, e].astype(np.float64)
        y[n, i, j] = acc
    return y


# ----------------------------------------------------------------------------- the matrices


@pytest.mark.parametrize("m", [2, 4])
def test_matrices_compute_the_1d_and_2d_correlation(m):
    BT, G, AT = W.MATRICES[m]
    n = m + 2
    assert BT.shape == (n, n) and G.shape == (n, 3) and AT.shape == (m, n)
    rng = np.random.default_rng(m)
    for _ in range(5):
        d, g = rng.standard_normal(n), rng.standard_normal(3)
        y = AT @ ((G @ g) * (BT @ d))
        np.testing.assert_allclose(y, [d[i:i + 3] @ g for i in range(m)], rtol=0, atol=1e-13)
        d2, g2 = rng.standard_normal((n, n)), rng.standard_normal((3, 3))
        y2 = AT @ ((G @ g2 @ G.T) * (BT @ d2 @ BT.T)) @ AT.T
        ref = [[np.sum(d2[i:i + 3, j:j + 3] * g2) for j in range(m)] for i in range(m)]
        np.testing.assert_allclose(y2, ref, rtol=0, atol=1e-12)


def test_matrices_are_lavins_up_to_the_infinity_signs():
    """Lavin & Gray's F(2x2,3x3) as printed in their paper; ours flips the sign of the
    infinity row of B^T and the infinity column of A^T (the two cancel)."""
    BT, G, AT = W.MATRICES[2]
    np.testing.assert_array_equal(BT, [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, -1, 0, 1]])
    np.testing.assert_array_equal(G, [[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]])
    np.testing.assert_array_equal(AT, [[1, 1, 1, 0], [0, 1, -1, 1]])


def test_matrices_need_distinct_points():
    with pytest.raises(ValueError, match="distinct"):
        W._matrices(2, (0, 1, 1))


# ----------------------------------------------------------------------------- the kernel


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("N,H,Wd,Cin,O,bias", [
    (1, 1, 1, 1, 1, False), (2, 1, 3, 2, 3, True), (1, 2, 2, 3, 2, True), (3, 3, 5, 2, 4, False),
    (1, 5, 4, 4, 3, True), (2, 7, 7, 3, 5, True), (1, 9, 6, 2, 2, False), (2, 4, 8, 5, 1, True),
])
def test_kernel_matches_naive_loops_float64(m, N, H, Wd, Cin, O, bias):
    rng = np.random.default_rng(N * 100 + H * 10 + Wd)
    xp = rng.standard_normal((N, H + 2, Wd + 2, Cin))
    w = rng.standard_normal((3, 3, Cin, O))
    b = rng.standard_normal(O) if bias else None
    y = np.full((N, H, Wd, O), np.nan)
    W.winograd_xcorr(xp, w.reshape(1, 9 * Cin, O), (H, Wd), y, b, m)
    np.testing.assert_allclose(y, naive_xcorr(xp, w, b), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("m", [2, 4])
def test_kernel_reads_strided_input_and_many_chunks(m, monkeypatch):
    """A non-contiguous (NCHW-backed) input, chunks of one image each, 70 channels, the
    transforms split over tile columns across the worker threads however small."""
    monkeypatch.setattr(C, "PARALLEL_MIN_ELEMENTS", 0)
    monkeypatch.setattr(C, "_n_workers", lambda: 3)
    monkeypatch.setattr(W, "MIN_TILES", 1)
    monkeypatch.setattr(W, "CHUNK_BYTES", 1)
    rng = np.random.default_rng(7)
    x_nchw = rng.standard_normal((3, 70, 7, 11))
    xp = x_nchw.transpose(0, 2, 3, 1)                           # (N, 7, 11, 70), a view
    w = rng.standard_normal((3, 3, 70, 9))
    b = rng.standard_normal(9)
    y = np.empty((3, 5, 9, 9))
    W.winograd_xcorr(xp, w.reshape(1, -1, 9), (5, 9), y, b, m)
    np.testing.assert_allclose(y, naive_xcorr(xp, w, b), rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("m", [2, 4])
def test_kernel_split_over_the_batch(m, monkeypatch):
    """conv's batch split (one share of the images per core, BLAS at one thread) however
    small the call, with several chunks per share."""
    monkeypatch.setattr(C, "SPLIT_MIN_MACS", 0)
    monkeypatch.setattr(C, "_n_workers", lambda: 2)
    monkeypatch.setattr(W, "MIN_TILES", 1)
    monkeypatch.setattr(W, "CHUNK_BYTES", 1)
    calls = []
    real = C._split_batch
    monkeypatch.setattr(C, "_split_batch", lambda *a: calls.append(a[1]) or real(*a))
    rng = np.random.default_rng(8)
    xp = rng.standard_normal((5, 8, 7, 6))
    w = rng.standard_normal((3, 3, 6, 4))
    b = rng.standard_normal(4)
    y = np.empty((5, 6, 5, 4))
    W.winograd_xcorr(xp, w.reshape(1, -1, 4), (6, 5), y, b, m)
    assert calls == [5]
    np.testing.assert_allclose(y, naive_xcorr(xp, w, b), rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("m", [2, 4])
def test_float32_error_bound_relative_to_sum_abs(m, winograd_on):
    """|y32 - y| <= bound * sum |w||x| per output, y the float64 im2col result; also checks
    that the bound is not loose by more than 100x (the measured error is near it)."""
    rng = np.random.default_rng(11)
    worst = 0.0
    for N, H, Cin, O in [(4, 14, 32, 32), (2, 9, 64, 16), (2, 6, 128, 8), (2, 7, 512, 4)]:
        xp = rng.standard_normal((N, H + 2, H + 2, Cin))
        wk = rng.standard_normal((1, 9 * Cin, O)) / np.sqrt(9 * Cin)
        ref = C._xcorr(xp, wk, (3, 3), (1, 1), (1, 1), (H, H))            # float64 im2col
        scale = C._xcorr(np.abs(xp), np.abs(wk), (3, 3), (1, 1), (1, 1), (H, H))
        y = np.empty(ref.shape, np.float32)
        W.winograd_xcorr(xp.astype(np.float32), wk.astype(np.float32), (H, H), y, None, m)
        worst = max(worst, float(np.max(np.abs(y - ref) / scale)))
        y64 = np.empty(ref.shape)
        W.winograd_xcorr(xp, wk, (H, H), y64, None, m)
        assert np.max(np.abs(y64 - ref) / scale) <= BOUND64[m]
    assert worst <= BOUND32[m]
    assert worst >= BOUND32[m] / 100


# ----------------------------------------------------------------------------- public API


CASES = [  # N, C, O, H, W, padding, bias
    (2, 3, 4, 7, 5, 1, True), (1, 2, 3, 1, 1, 1, False), (3, 4, 2, 3, 3, 0, True),
    (2, 5, 6, 2, 3, 2, True), (1, 70, 20, 6, 9, 1, False), (2, 3, 3, 11, 13, 0, False),
    (1, 16, 8, 4, 4, 2, True),
]


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("N,Cin,O,H,Wd,padding,bias", CASES)
def test_conv2d_matches_torch(m, N, Cin, O, H, Wd, padding, bias, winograd_on):
    winograd_on(True, m)
    rng = np.random.default_rng(N + Cin + O + H + Wd + padding)
    x = rng.standard_normal((N, Cin, H, Wd))
    w = rng.standard_normal((O, Cin, 3, 3))
    b = rng.standard_normal(O) if bias else None
    tb = None if b is None else torch.from_numpy(b)
    ref = TF.conv2d(torch.from_numpy(x), torch.from_numpy(w), tb, padding=padding).numpy()
    scale = TF.conv2d(torch.from_numpy(np.abs(x)), torch.from_numpy(np.abs(w)),
                      padding=padding).numpy()
    got64 = F.conv2d(numcnn.tensor(x), numcnn.tensor(w),
                     None if b is None else numcnn.tensor(b), padding=padding).numpy()
    np.testing.assert_allclose(got64, ref, rtol=1e-7, atol=1e-12)
    x32, w32 = x.astype(np.float32), w.astype(np.float32)
    b32 = None if b is None else numcnn.tensor(b.astype(np.float32))
    got32 = F.conv2d(numcnn.tensor(x32), numcnn.tensor(w32), b32, padding=padding).numpy()
    assert got32.dtype == np.float32
    # float32: Winograd's documented bound (module docstring) on top of float32 rounding
    assert np.all(np.abs(got32 - ref) <= BOUND32[m] * scale + 1e-6 * np.abs(ref))


@pytest.mark.parametrize("m", [2, 4])
def test_gradients_through_winograd_forward_gradcheck_and_torch(m, winograd_on, monkeypatch):
    """float64 finite differences of the Winograd forward agree with the backward (whose
    stride-1 input gradient is a Winograd correlation too), and the gradients equal torch's."""
    winograd_on(True, m)
    shapes = []
    real = W.winograd_xcorr
    monkeypatch.setattr(W, "winograd_xcorr", lambda *a: shapes.append(a[0].shape) or real(*a))
    rng = np.random.default_rng(3)
    x = numcnn.tensor(rng.standard_normal((2, 3, 5, 6)), requires_grad=True)
    w = numcnn.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    b = numcnn.tensor(rng.standard_normal(4), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=1), (x, w, b))
    y = F.conv2d(x, w, b, padding=1)
    gy = rng.standard_normal(y.shape)
    y.backward(numcnn.tensor(gy))
    tx, tw, tb = (torch.from_numpy(t.detach().numpy()).requires_grad_() for t in (x, w, b))
    TF.conv2d(tx, tw, tb, padding=1).backward(torch.from_numpy(gy))
    assert (2, 7, 8, 3) in shapes and (2, 7, 8, 4) in shapes    # forward and input gradient
    for mine, theirs in [(x, tx), (w, tw), (b, tb)]:
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-7, atol=1e-12)


# ----------------------------------------------------------------------------- the switch


def _call(xp, wk, y, kernel=(3, 3), stride=(1, 1), dilation=(1, 1), bias=None):
    return W.xcorr(xp, wk, kernel, stride, dilation, y.shape[1:3], y, bias)


def test_hook_declines_what_it_does_not_compute(winograd_on):
    winograd_on(True, 2)
    xp = np.ones((1, 6, 6, 4))
    y = np.full((1, 4, 4, 2), 7.0)
    assert not _call(xp, np.ones((2, 18, 1)), y)                           # groups 2
    assert not _call(xp, np.ones((1, 36, 2)), y[:, :2, :2], stride=(2, 2))
    assert not _call(xp, np.ones((1, 36, 2)), y[:, :2, :2], dilation=(2, 2))
    assert not _call(xp, np.ones((1, 100, 2)), y[:, :2, :2], kernel=(5, 5))
    assert not _call(xp.astype(np.float32), np.ones((1, 36, 2)), y)       # mixed dtypes
    assert not _call(xp.astype(np.float16), np.ones((1, 36, 2), np.float16),
                     y.astype(np.float16))
    assert np.all(y == 7.0)
    winograd_on(False)
    assert not _call(xp, np.ones((1, 36, 2)), y)
    assert np.all(y == 7.0)
    winograd_on(True, 2)
    assert _call(xp, np.ones((1, 36, 2)), y)
    np.testing.assert_allclose(y, 36.0)


def test_bad_switch_values_raise(winograd_on):
    xp, wk, y = np.ones((1, 6, 6, 4)), np.ones((1, 36, 2)), np.empty((1, 4, 4, 2))
    winograd_on("yes")
    with pytest.raises(ValueError, match="winograd must be False, True or 'auto'"):
        _call(xp, wk, y)
    winograd_on(True, 3)
    with pytest.raises(ValueError, match="winograd_tile must be 2 or 4"):
        _call(xp, wk, y)


def test_default_is_off():
    assert flags.winograd is False
    assert numcnn.backends.conv is flags


def test_autotuner_times_once_caches_and_stays_within_bound(winograd_on, monkeypatch):
    winograd_on("auto", min_macs=0)
    calls = []
    real = W.winograd_xcorr
    monkeypatch.setattr(W, "winograd_xcorr", lambda *a: calls.append(a[-1]) or real(*a))
    rng = np.random.default_rng(5)
    xp = rng.standard_normal((3, 10, 9, 8)).astype(np.float32)
    wk = rng.standard_normal((1, 72, 6)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    ref = naive_xcorr(xp, wk.reshape(3, 3, 8, 6), b)
    scale = naive_xcorr(np.abs(xp), np.abs(wk).reshape(3, 3, 8, 6), None)
    y1 = np.empty((3, 8, 7, 6), np.float32)
    assert _call(xp, wk, y1, bias=b)
    key = (3, 8, 7, 8, 6, "float32")
    choice = W.choices()[key]
    assert choice in (0, 2, 4)
    assert sorted(set(calls)) == [2, 4]                        # both tiles were timed
    assert np.all(np.abs(y1 - ref) <= BOUND32[4] * scale + 1e-6 * np.abs(ref))
    calls.clear()
    y2 = np.empty_like(y1)
    used = _call(xp, wk, y2, bias=b)
    assert used == (choice != 0)
    assert calls == ([choice] if choice else [])               # no second tuning
    if used:                                                   # a fixed choice: same bits
        np.testing.assert_array_equal(y1, y2)
    flags.winograd_reset()
    assert key not in W.choices()


def test_autotuner_leaves_small_convolutions_alone(winograd_on):
    winograd_on("auto", min_macs=1 << 40)
    xp, wk, y = np.ones((1, 6, 6, 4)), np.ones((1, 36, 2)), np.full((1, 4, 4, 2), 7.0)
    assert not _call(xp, wk, y)
    assert np.all(y == 7.0) and W.choices() == {}


@pytest.mark.parametrize("winner,times", [(0, (1.0, 2.0, 2.0)), (2, (2.0, 1.0, 2.0)),
                                          (4, (2.0, 2.0, 1.0)), (0, (1.0, 0.95, 0.98))])
def test_autotuner_keeps_the_fastest_and_its_exact_result(winner, times, winograd_on,
                                                          monkeypatch):
    """With a clock under the test's control, the algorithm timed fastest is chosen (a tile
    must beat im2col by WIN_MARGIN = 0.9: 0.95 and 0.98 of its time do not), y holds exactly
    (bit for bit) what that algorithm computes, and later calls use it."""
    assert W.WIN_MARGIN == 0.9
    winograd_on("auto", min_macs=0)
    ticks = []
    for _ in range(2):
        for m in (0, 2, 4):
            ticks += [0.0, times[(0, 2, 4).index(m)]]
    clock = iter(ticks)
    monkeypatch.setattr(W.time, "perf_counter", lambda: next(clock))
    rng = np.random.default_rng(winner)
    xp = rng.standard_normal((2, 9, 11, 5)).astype(np.float32)
    wk = rng.standard_normal((1, 45, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    y = np.empty((2, 7, 9, 3), np.float32)
    assert _call(xp, wk, y, bias=b)
    assert W.choices() == {(2, 7, 9, 5, 3, "float32"): winner}
    if winner:
        expected = np.empty_like(y)
        W.winograd_xcorr(xp, wk, (7, 9), expected, b, winner)
    else:
        winograd_on(False)
        expected = C._xcorr(xp, wk, (3, 3), (1, 1), (1, 1), (7, 9), b)
        winograd_on("auto", min_macs=0)
    np.testing.assert_array_equal(y, expected)
    assert _call(xp, wk, y, bias=b) == (winner != 0)          # no clock left: no new timing


@pytest.mark.parametrize("m", [2, 4])
def test_seed_cnn_gradients_with_winograd_match_im2col(m, winograd_on):
    """Seed 004's CNN (train-mode batch norm, dropout off), Winograd forced on every 3x3 layer
    (forwards and input gradients): in float64 the loss and every parameter gradient are the
    im2col path's (itself tested against torch in test_conv.py) to 1e-10 of each gradient's
    largest entry; in float32 their error against that float64 reference is at most 3x the
    float32 im2col path's (this small-batch network amplifies float32 rounding to ~4e-3 of a
    gradient's largest entry either way, so a fixed float32 tolerance would test the network,
    not the kernel)."""
    from numcnn.models import fmnist_cnn

    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 1, 28, 28))
    labels = numcnn.tensor(rng.integers(0, 10, 6))
    numcnn.manual_seed(0)
    net = fmnist_cnn()
    for mod in net.modules():
        if type(mod).__name__.startswith("Dropout"):
            mod.eval()

    def run(dtype, mode):
        winograd_on(mode, m)
        net.to(dtype)
        net.zero_grad()
        loss = F.cross_entropy(net(numcnn.tensor(x.astype(dtype))), labels)
        loss.backward()
        return loss.item(), [p.grad.numpy().astype(np.float64) for p in net.parameters()]

    def worst(run_, ref):
        return max(float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
                   for a, b in zip(run_[1], ref[1]))

    ref = run(np.float64, False)
    wino64 = run(np.float64, True)
    assert wino64[0] == pytest.approx(ref[0], rel=1e-12)
    assert worst(wino64, ref) <= 1e-10
    im2col32, wino32 = run(np.float32, False), run(np.float32, True)
    assert worst(wino32, ref) <= 3 * worst(im2col32, ref)
    assert abs(wino32[0] - ref[0]) <= 3 * abs(im2col32[0] - ref[0]) + 1e-6
