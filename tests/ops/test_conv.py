"""Convolution: numcnn against PyTorch (forward and the gradients of input, weight and bias),
finite differences, naive loops written from the lecture formula, the seeds' worked examples,
the geometry helpers, and the argument checks (same error type as torch)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from tests.helpers import assert_close, compare, raises_like_torch, random_array

import numcnn
import numcnn.nn.functional as F
import numcnn.ops.conv as C
from numcnn.autograd.gradcheck import gradcheck

DTYPES = [np.float32, np.float64]
TF = torch.nn.functional


# ----------------------------------------------------------------------------- naive oracles


def naive_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride, padding, dilation,
               groups: int = 1) -> np.ndarray:
    """Loops straight from the lecture formula (any number of spatial dims):

        y[n, o, i] = b[o] + sum_{c, a} w[o, c, a] * x_pad[n, g*Cg + c, i*s + a*d],  g = o // Og

    `padding` is a (lo, hi) pair per spatial dim.
    """
    nd = w.ndim - 2
    N, Cin = x.shape[:2]
    O, Cg = w.shape[:2]
    K = w.shape[2:]
    Og = O // groups
    xp = np.pad(x, [(0, 0), (0, 0)] + [tuple(p) for p in padding])
    So = [(xp.shape[2 + i] - dilation[i] * (K[i] - 1) - 1) // stride[i] + 1 for i in range(nd)]
    y = np.zeros((N, O, *So), dtype=np.float64)
    for n in range(N):
        for o in range(O):
            g = o // Og
            for i in np.ndindex(*So):
                acc = 0.0 if b is None else float(b[o])
                for c in range(Cg):
                    for a in np.ndindex(*K):
                        pos = tuple(i[t] * stride[t] + a[t] * dilation[t] for t in range(nd))
                        acc += w[(o, c) + a] * xp[(n, g * Cg + c) + pos]
                y[(n, o) + i] = acc
    return y


def naive_conv_transpose(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride, padding,
                         output_padding, dilation, groups: int = 1) -> np.ndarray:
    """The scatter form: every input value adds a scaled copy of its kernel to the output,

        y[n, g*Og + o, i*s + a*d - p] += x[n, g*Cg + c, i] * w[g*Cg + c, o, a]   (+ b[o])
    """
    nd = w.ndim - 2
    N, Cin = x.shape[:2]
    Og = w.shape[1]
    K = w.shape[2:]
    Cg = Cin // groups
    S = x.shape[2:]
    So = [(S[t] - 1) * stride[t] - 2 * padding[t] + dilation[t] * (K[t] - 1)
          + output_padding[t] + 1 for t in range(nd)]
    y = np.zeros((N, Og * groups, *So), dtype=np.float64)
    for n in range(N):
        for ci in range(Cin):
            g = ci // Cg
            for i in np.ndindex(*S):
                for o in range(Og):
                    for a in np.ndindex(*K):
                        pos = tuple(i[t] * stride[t] + a[t] * dilation[t] - padding[t]
                                    for t in range(nd))
                        if all(0 <= pos[t] < So[t] for t in range(nd)):
                            y[(n, g * Og + o) + pos] += x[(n, ci) + i] * w[(ci, o) + a]
    if b is not None:
        y += b.reshape((1, -1) + (1,) * nd)
    return y


NAIVE_CASES = [
    # nd, N, C_in, C_out, S, k, stride, padding, dilation, groups
    (1, 2, 3, 4, (9,), (3,), (1,), (1,), (1,), 1),
    (1, 1, 4, 2, (10,), (4,), (3,), (2,), (2,), 2),
    (2, 2, 3, 4, (7, 6), (3, 2), (1, 2), (1, 0), (1, 1), 1),
    (2, 1, 4, 4, (8, 7), (3, 3), (2, 1), (2, 1), (2, 1), 4),
    (2, 2, 2, 6, (5, 5), (2, 3), (3, 1), (0, 1), (1, 2), 2),
    (3, 1, 2, 3, (4, 5, 4), (2, 3, 2), (1, 2, 1), (1, 1, 0), (1, 1, 2), 1),
]


@pytest.mark.parametrize("case", NAIVE_CASES)
def test_conv_against_naive_loops(case):
    nd, N, Cin, O, S, k, s, p, d, g = case
    x = random_array((N, Cin, *S), seed=1)
    w = random_array((O, Cin // g, *k), seed=2)
    b = random_array((O,), seed=3)
    pads = [(v, v) for v in p]
    expected = naive_conv(x, w, b, s, pads, d, g)
    conv = getattr(F, f"conv{nd}d")
    y = conv(numcnn.tensor(x), numcnn.tensor(w), numcnn.tensor(b), s, p, d, g)
    assert_close(y, expected)


@pytest.mark.parametrize("case", NAIVE_CASES)
def test_conv_transpose_against_naive_loops(case):
    nd, N, Cin, O, S, k, s, p, d, g = case
    op = tuple(max(0, min(ss, dd) - 1) for ss, dd in zip(s, d))
    x = random_array((N, Cin, *S), seed=4)
    w = random_array((Cin, O // g, *k), seed=5)
    b = random_array((O,), seed=6)
    expected = naive_conv_transpose(x, w, b, s, p, op, d, g)
    conv = getattr(F, f"conv_transpose{nd}d")
    y = conv(numcnn.tensor(x), numcnn.tensor(w), numcnn.tensor(b), s, p, op, g, d)
    assert_close(y, expected)


def test_same_padding_puts_the_extra_zero_right_against_naive_loops():
    x, w = random_array((1, 2, 6, 7), seed=7), random_array((3, 2, 4, 2), seed=8)
    expected = naive_conv(x, w, None, (1, 1), [(1, 2), (0, 1)], (1, 1))
    y = F.conv2d(numcnn.tensor(x), numcnn.tensor(w), padding="same")
    assert y.shape == (1, 3, 6, 7)
    assert_close(y, expected)


# ----------------------------------------------------------------------------- seed examples


def test_seed000_patch_cross_correlated_with_sobel_gives_65():
    """Seed 000: x(0:2, 0:2) . K' = 65 (+ bias)."""
    patch = np.array([[200, 150, 150], [100, 50, 100], [25, 25, 10]], dtype=np.float64)
    k = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=np.float64)
    y = F.conv2d(numcnn.tensor(patch[None, None]), numcnn.tensor(k[None, None]))
    assert y.shape == (1, 1, 1, 1) and y.item() == 65.0
    y = F.conv2d(numcnn.tensor(patch[None, None]), numcnn.tensor(k[None, None]),
                 numcnn.tensor([5.0], dtype=numcnn.float64))
    assert y.item() == 70.0


@pytest.mark.parametrize("stride, size", [(1, 5), (2, 3), (3, 2)])
def test_seed002_output_size_n7_f3(stride, size):
    """Seed 002: (N - F)/S + 1 with N=7, F=3: stride 1 -> 5, stride 2 -> 3.  Stride 3 gives
    2.33 on the slide ("doesn't fit"); PyTorch (and numcnn) floor it to 2 instead of raising:
    the windows start at 0 and 3, and the last input column is never read."""
    assert C.conv_output_size(7, 3, stride) == size
    x = random_array((1, 1, 7, 7), seed=9)
    w = random_array((1, 1, 3, 3), seed=10)
    y = F.conv2d(numcnn.tensor(x), numcnn.tensor(w), stride=stride)
    assert y.shape == (1, 1, size, size)
    assert_close(y, TF.conv2d(torch.tensor(x), torch.tensor(w), stride=stride))
    if stride == 3:
        x2 = x.copy()
        x2[..., 6] += 100.0
        x2[..., 6, :] -= 50.0
        y2 = F.conv2d(numcnn.tensor(x2), numcnn.tensor(w), stride=stride)
        assert_close(y2, y.array)


def test_seed002_7x7_input_3x3_filter_pad_1_gives_7x7():
    y = F.conv2d(numcnn.randn(1, 1, 7, 7), numcnn.randn(1, 1, 3, 3), padding=1)
    assert y.shape == (1, 1, 7, 7)
    for f in (3, 5, 7):                    # "zero pad with (F - 1)/2 preserves size spatially"
        assert C.conv_output_size(7, f, 1, (f - 1) // 2) == 7


def test_seed002_32x32x3_with_ten_5x5_filters_pad_2_gives_32x32x10():
    y = F.conv2d(numcnn.randn(1, 3, 32, 32), numcnn.randn(10, 3, 5, 5), padding=2)
    assert y.shape == (1, 10, 32, 32)


@pytest.mark.parametrize("args, count", [((3, 10, 5), 760), ((3, 4, 3), 112),
                                         ((16, 32, 3), 4640)])
def test_seed_parameter_counts(args, count):
    """760 (seed 002: 10 filters of 5x5x3 + bias), 112 (seed 000: N * (k1*k2*3 + 1) with
    k=3, N=4), 4,640 (seed 004: Conv2d(16, 32, 3))."""
    m = numcnn.nn.Conv2d(*args)
    assert sum(p.numel() for p in m.parameters()) == count
    cin, cout, k = args
    assert cout * (k * k * cin + 1) == count


def test_seed001_1d_backward_is_a_transposed_convolution():
    """Seed 001: z^i = w1 x^{i-1} + w2 x^i + w3 x^{i+1};
    de/dx^i = w3 de/dz^{i-1} + w2 de/dz^i + w1 de/dz^{i+1};  de/dw^1 = sum_i de/dz^i x^{i-1}."""
    x = random_array((1, 1, 8), seed=11)
    w = random_array((1, 1, 3), seed=12)
    gz = random_array((1, 1, 8), seed=13)
    tx, tw = numcnn.tensor(x, requires_grad=True), numcnn.tensor(w, requires_grad=True)
    z = F.conv1d(tx, tw, padding=1)
    xp = np.pad(x[0, 0], 1)
    w1, w2, w3 = w[0, 0]
    assert_close(z.array[0, 0], w1 * xp[:-2] + w2 * xp[1:-1] + w3 * xp[2:])
    (z * numcnn.tensor(gz)).sum().backward()
    gp = np.pad(gz[0, 0], 1)
    assert_close(tx.grad.array[0, 0], w3 * gp[:-2] + w2 * gp[1:-1] + w1 * gp[2:])
    assert_close(tx.grad, F.conv_transpose1d(numcnn.tensor(gz), numcnn.tensor(w), padding=1))
    assert_close(tw.grad.array[0, 0], np.array([gz[0, 0] @ xp[j:j + 8] for j in range(3)]))


def test_seed002_depthwise_separable_parameter_count():
    """Depthwise 3x3 on 256 channels: 9*256 = 2,304 weights; pointwise 1x1 256 -> 256: 65,536."""
    dw = numcnn.nn.Conv2d(256, 256, 3, groups=256, bias=False)
    pw = numcnn.nn.Conv2d(256, 256, 1, bias=False)
    assert dw.weight.shape == (256, 1, 3, 3) and dw.weight.numel() == 2304
    assert pw.weight.numel() == 65536


# ----------------------------------------------------------------------------- geometry


def test_output_size_helpers():
    assert C.conv_output_size(28, 3, 1, 1) == 28
    assert C.conv_output_size(224, 7, 2, 3) == 112
    assert C.conv_output_size(10, 3, 1, (0, 1), 2) == 7
    assert C.conv_output_size(2, 3) == 0                      # kernel does not fit
    assert C.conv_transpose_output_size(5, 3, 2) == 11
    assert C.conv_transpose_output_size(5, 3, 2, 1, 1) == 10
    assert C.conv_transpose_output_size(7, 4, 3, 2, 2, 2) == 23


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("k, d, pads", [(3, 1, (1, 1)), (4, 1, (1, 2)), (2, 1, (0, 1)),
                                        (1, 1, (0, 0)), (4, 2, (3, 3)), (2, 3, (1, 2)),
                                        (5, 3, (6, 6))])
def test_same_padding_extra_element_goes_right(k, d, pads):
    assert C.same_padding(k, d) == pads
    x, w = random_array((1, 1, 9), seed=14), random_array((1, 1, k), seed=15)
    compare(lambda F, x, w: F.conv1d(x, w, padding="same", dilation=d), [x, w])


def test_pad_crop_pads_and_crops():
    x = np.arange(12.0).reshape(1, 3, 4, 1)
    y = C.pad_crop(x, [(1, -1), (-2, 1)], axis=1)
    assert y.shape == (1, 3, 3, 1)
    assert_close(y[0, :, :, 0], np.array([[0, 0, 0], [2, 3, 0], [6, 7, 0.0]]))
    assert C.pad_crop(np.ascontiguousarray(x), [(0, 0), (0, 0)], 1) is not None
    assert C.pad_crop(x, [(-3, 0), (0, 0)], 1).shape == (1, 0, 4, 1)


def test_im2col_and_col2im_are_adjoint():
    """<im2col(x), c> == <x, col2im(c)> for random x, c (the definition of the adjoint)."""
    rng = np.random.default_rng(0)
    for K, s, d in [((3, 2), (1, 2), (1, 1)), ((2, 2), (3, 1), (2, 1)), ((1, 3), (2, 2), (1, 2))]:
        x = rng.standard_normal((2, 9, 8, 3))
        So = [C.conv_output_size(x.shape[1 + i], K[i], s[i], 0, d[i]) for i in range(2)]
        cols = C.im2col(x, K, s, d, So, axis=1)
        c = rng.standard_normal(cols.shape)
        back = C.col2im(c, np.zeros_like(x), K, s, d, So, axis=1)
        assert np.isclose(np.sum(cols * c), np.sum(x * back))


# ----------------------------------------------------------------------------- against torch

CONV_CASES = [
    # nd, input shape, weight shape, kwargs
    (1, (2, 3, 11), (4, 3, 3), dict(padding=1)),
    (1, (1, 1, 7), (1, 1, 2), dict(stride=3)),
    (1, (3, 4, 13), (6, 2, 4), dict(stride=2, padding=3, dilation=2, groups=2)),
    (1, (2, 4, 9), (4, 1, 3), dict(padding="same", groups=4)),
    (1, (3, 8), (5, 3, 2), dict(padding="same", dilation=3)),                   # unbatched
    (2, (2, 3, 9, 7), (5, 3, 3, 3), dict(padding=1)),
    (2, (1, 1, 11, 9), (3, 1, 3, 3), dict()),                                   # one channel
    (2, (2, 3, 10, 9), (4, 3, 2, 2), dict(stride=3)),                           # stride > kernel
    (2, (2, 2, 13, 11), (3, 2, 3, 3), dict(stride=(2, 3), padding=(2, 1), dilation=(2, 3))),
    (2, (2, 6, 7, 9), (4, 3, 3, 1), dict(groups=2, padding=(1, 0))),
    (2, (2, 4, 9, 8), (4, 1, 3, 3), dict(groups=4, padding=1)),                 # depthwise
    (2, (1, 3, 8, 7), (6, 1, 3, 3), dict(groups=3, stride=2, padding=1)),       # multiplier 2
    (2, (2, 5, 9, 8), (5, 1, 3, 3), dict(groups=5, stride=2, padding=1)),       # depthwise, s 2
    (2, (2, 4, 11, 10), (4, 1, 5, 3), dict(groups=4, stride=(3, 2), dilation=(1, 2))),
    (1, (2, 3, 12), (3, 1, 4), dict(groups=3, stride=2, dilation=3, padding=2)),
    (3, (1, 2, 7, 6, 7), (2, 1, 3, 3, 3), dict(groups=2, stride=2, padding=1)),
    (2, (2, 4, 7, 6), (4, 1, 5, 3), dict(groups=4, dilation=2, padding=2)),
    (2, (2, 3, 8, 9), (2, 3, 4, 4), dict(padding="same")),                      # even kernel
    (2, (2, 3, 8, 9), (2, 3, 2, 4), dict(padding="same", dilation=(3, 1))),
    (2, (2, 3, 8, 9), (2, 3, 3, 3), dict(padding="valid")),
    (2, (3, 7, 8), (2, 3, 3, 3), dict(padding=1)),                              # unbatched
    (2, (2, 5, 6, 6), (8, 5, 1, 1), dict()),                                    # 1x1
    (2, (2, 5, 7, 7), (8, 5, 1, 1), dict(stride=2)),
    (2, (2, 2, 9, 9), (16, 2, 3, 3), dict(padding=1)),                          # C_out >> C_in
    (2, (2, 16, 6, 6), (2, 16, 3, 3), dict(padding=2)),                         # C_in >> C_out
    (3, (2, 2, 5, 6, 5), (3, 2, 3, 3, 3), dict(padding=1)),
    (3, (1, 4, 7, 5, 6), (4, 2, 2, 3, 2), dict(stride=(2, 1, 3), dilation=(2, 1, 1),
                                               groups=2)),
    (3, (2, 3, 5, 5, 5), (3, 1, 3, 3, 3), dict(groups=3, padding="same")),
    (3, (2, 4, 4, 5), (3, 2, 2, 2, 2), dict(stride=2)),                         # unbatched
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_matches_torch(case, dtype):
    nd, xs, ws, kw = case
    x = random_array(xs, dtype, seed=1)
    w = random_array(ws, dtype, seed=2)
    b = random_array((ws[0],), dtype, seed=3)
    name = f"conv{nd}d"
    compare(lambda F, x, w, b: getattr(F, name)(x, w, b, **kw), [x, w, b])
    compare(lambda F, x, w: getattr(F, name)(x, w, None, **kw), [x, w])


CONV_T_CASES = [
    (1, (2, 3, 7), (3, 4, 3), dict(stride=2, padding=1, output_padding=1)),
    (1, (1, 4, 5), (4, 3, 4), dict(stride=3, dilation=2, groups=2, output_padding=2)),
    (1, (3, 6), (3, 2, 2), dict()),                                             # unbatched
    (2, (2, 3, 5, 4), (3, 2, 3, 3), dict(stride=2)),
    (2, (1, 1, 4, 5), (1, 1, 3, 3), dict(stride=1, padding=1)),
    (2, (2, 4, 5, 3), (4, 3, 3, 2), dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2),
                                         groups=2)),
    (2, (2, 4, 4, 4), (4, 1, 3, 3), dict(stride=2, groups=4, padding=1, output_padding=1)),
    (2, (2, 3, 5, 5), (3, 2, 3, 3), dict(dilation=2, padding=3, output_padding=1)),
    (2, (2, 3, 4, 4), (3, 5, 2, 2), dict(stride=2)),                            # no overlap
    (2, (2, 3, 5, 6), (3, 2, 5, 3), dict(stride=1, padding=(2, 2))),
    (2, (3, 4, 5), (3, 2, 3, 3), dict(stride=2, padding=1)),                    # unbatched
    (3, (1, 2, 3, 4, 3), (2, 3, 3, 2, 3), dict(stride=(2, 1, 2), padding=1,
                                               output_padding=(1, 0, 0))),
    (3, (2, 4, 3, 3, 3), (4, 1, 2, 2, 2), dict(groups=2, dilation=2)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_T_CASES)
def test_conv_transpose_matches_torch(case, dtype):
    nd, xs, ws, kw = case
    x = random_array(xs, dtype, seed=4)
    w = random_array(ws, dtype, seed=5)
    b = random_array((ws[1] * kw.get("groups", 1),), dtype, seed=6)
    name = f"conv_transpose{nd}d"
    compare(lambda F, x, w, b: getattr(F, name)(x, w, b, **kw), [x, w, b])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kw", [
    ((2, 3, 7, 6), dict(kernel_size=3)),
    ((1, 2, 8, 9), dict(kernel_size=(2, 3), dilation=(2, 1), padding=(1, 2), stride=(2, 3))),
    ((3, 5, 5), dict(kernel_size=2, stride=2)),
    ((2, 1, 6, 6), dict(kernel_size=1)),
])
def test_unfold_and_fold_match_torch(shape, kw, dtype):
    x = random_array(shape, dtype, seed=7)
    cols = compare(lambda F, x: F.unfold(x, **kw), [x])[1].detach().numpy()
    compare(lambda F, c: F.fold(c, shape[-2:], **kw), [cols])


def test_unfold_matmul_is_conv2d():
    """The lecture's im2col: conv2d == W (O, C*k*k) @ unfold(x) (N, C*k*k, L)."""
    x, w = random_array((2, 3, 6, 5), seed=8), random_array((4, 3, 3, 3), seed=9)
    cols = F.unfold(numcnn.tensor(x), 3, padding=1)
    y = (numcnn.tensor(w.reshape(4, -1)) @ cols).reshape(2, 4, 6, 5)
    assert_close(y, F.conv2d(numcnn.tensor(x), numcnn.tensor(w), padding=1).array)


def test_conv_keeps_float32_and_accepts_non_contiguous_inputs():
    xv = random_array((2, 9, 8, 3), np.float32, seed=10).transpose(0, 3, 1, 2)   # NHWC memory
    wv = random_array((4, 3, 3, 5), np.float32, seed=11)[:, :, :, ::2]           # strided
    assert not xv.flags.c_contiguous and not wv.flags.c_contiguous
    x, w = numcnn.Tensor(xv, requires_grad=True), numcnn.Tensor(wv, requires_grad=True)
    tx = torch.tensor(xv.copy(), requires_grad=True)
    tw = torch.tensor(wv.copy(), requires_grad=True)
    y, ty = F.conv2d(x, w, padding=1), TF.conv2d(tx, tw, padding=1)
    assert y.dtype == np.float32
    assert_close(y, ty)
    y.sum().backward()
    ty.sum().backward()
    assert_close(x.grad, tx.grad)
    assert_close(w.grad, tw.grad)


def test_conv_chained_layers_match_torch():
    """The channels-last views returned by one conv feed the next one (and its backward)."""
    x = random_array((2, 3, 9, 9), seed=12)
    w1, w2 = random_array((4, 3, 3, 3), seed=13), random_array((5, 4, 3, 3), seed=14)
    w3 = random_array((5, 2, 2, 2), seed=15)
    compare(lambda F, x, a, b, c: F.conv_transpose2d(
        F.conv2d(F.relu(F.conv2d(x, a, padding=1)), b, stride=2), c, stride=2, groups=1),
        [x, w1, w2, w3])


def test_integer_convolution_like_torch():
    x = np.arange(2 * 2 * 5 * 5).reshape(2, 2, 5, 5) % 7
    w = np.arange(3 * 2 * 3 * 3).reshape(3, 2, 3, 3) % 5 - 2
    compare(lambda F, x, w: F.conv2d(x, w, padding=1), [x, w], grad=False)


def test_empty_batch():
    x = numcnn.zeros(0, 3, 7, 7, requires_grad=True)
    w = numcnn.randn(4, 3, 3, 3, requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    assert y.shape == (0, 4, 7, 7)
    y.sum().backward()
    assert x.grad.shape == (0, 3, 7, 7) and not w.grad.array.any()
    y = F.conv_transpose2d(numcnn.zeros(0, 3, 4, 4), numcnn.randn(3, 2, 3, 3), stride=2)
    assert y.shape == (0, 2, 9, 9)


# ----------------------------------------------------------------------------- chunks, threads


@pytest.mark.parametrize("shape", [(2, 16, 16, 4), (3, 5, 7), (64, 1024)])
def test_add_bias_wide_rows_and_fallback(shape):
    y = random_array(shape, np.float32, seed=31)
    b = random_array(shape[-1:], np.float32, seed=32)
    expected = y + b
    C._add_bias(y, b)
    assert_close(y, expected)


@pytest.mark.parametrize("kw, ws", [
    (dict(padding=1), (6, 4, 3, 3)),                         # flipped-kernel input gradient
    (dict(stride=2, padding=1), (6, 4, 3, 3)),               # col2im input gradient
    (dict(padding=1), (12, 4, 3, 3)),                        # col2im at stride 1 (O > 2C)
    (dict(padding=1, groups=2), (6, 2, 3, 3)),
    (dict(padding=1, groups=4), (4, 1, 3, 3)),               # depthwise
    (dict(stride=2, groups=4), (8, 1, 3, 3)),                # depthwise, multiplier, strided
    (dict(), (6, 4, 1, 1)),                                  # 1x1
    (dict(stride=2), (6, 2, 3, 3)),                          # few channels: col2im in C, N, S
])
def test_many_chunks_and_threads_match_torch(monkeypatch, kw, ws):
    """Tiny chunks (several per batch) and a zero threading threshold exercise the chunk loops
    and the batch split over threads that large inputs take."""
    monkeypatch.setattr(C, "CHUNK_ELEMENTS", 40)
    monkeypatch.setattr(C, "GEMM_ROWS", 1)
    monkeypatch.setattr(C, "PARALLEL_MIN_ELEMENTS", 0)
    groups = kw.get("groups", 1)
    x = random_array((7, ws[1] * groups, 9, 8), seed=16)
    w = random_array(ws, seed=17)
    b = random_array((ws[0],), seed=18)
    compare(lambda F, x, w, b: F.conv2d(x, w, b, **kw), [x, w, b])
    wt = random_array((ws[1] * groups, ws[0] // groups, *ws[2:]), seed=19)
    compare(lambda F, x, w: F.conv_transpose2d(x, w, stride=kw.get("stride", 1),
                                               groups=kw.get("groups", 1)), [x, wt])


@pytest.mark.parametrize("nd, xs, ws, kw", [
    (2, (2, 3, 7, 6), (4, 3, 3, 3), dict(padding=1)),
    (2, (3, 4, 9, 8), (6, 2, 3, 2), dict(padding=(2, 1), dilation=(2, 1), stride=(1, 2),
                                         groups=2)),
    (2, (2, 2, 6, 7), (3, 2, 4, 4), dict(padding="same")),
    (3, (2, 3, 5, 4, 6), (2, 3, 2, 3, 3), dict(padding=1, dilation=(1, 2, 1))),
    (3, (1, 4, 4, 5, 6), (4, 2, 3, 2, 2), dict(stride=(1, 1, 2), groups=2)),
])
@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("row_shifts", [False, True])
def test_row_shifted_gemms_match_torch(monkeypatch, nd, xs, ws, kw, row_shifts):
    """Both ways of building the GEMMs (full im2col, or im2col along W with the other kernel
    offsets as row shifts) on the shapes that large inputs take, forced here on small ones."""
    monkeypatch.setattr(C, "ROW_SHIFTS", row_shifts)
    monkeypatch.setattr(C, "ROW_SHIFT_MIN_WIDTH", 0)
    monkeypatch.setattr(C, "ROW_SHIFT_MAX_WASTE", 100.0)
    monkeypatch.setattr(C, "GEMM_ROWS", 20)
    monkeypatch.setattr(C, "CHUNK_ELEMENTS", 100)
    calls = {"shifted": 0}
    shifted = C._xcorr_shifted

    def spy(*args):
        calls["shifted"] += 1
        return shifted(*args)

    monkeypatch.setattr(C, "_xcorr_shifted", spy)
    x = random_array(xs, seed=33)
    w = random_array(ws, seed=34)
    b = random_array((ws[0],), seed=35)
    name = f"conv{nd}d"
    compare(lambda F, x, w, b: getattr(F, name)(x, w, b, **kw), [x, w, b])
    compare(lambda F, x, w: getattr(F, name)(x, w, None, **kw), [x, w])
    wt = random_array((xs[1], ws[0] // kw.get("groups", 1), *ws[2:]), seed=36)
    tname = f"conv_transpose{nd}d"
    compare(lambda F, x, w: getattr(F, tname)(x, w, groups=kw.get("groups", 1)), [x, wt])
    assert (calls["shifted"] > 0) == row_shifts


def test_outputs_never_alias_the_reused_buffers():
    """Results stay intact after later calls reuse the kernels' scratch buffers."""
    w = numcnn.tensor(random_array((4, 3, 3, 3), seed=37))
    x1, x2 = (numcnn.tensor(random_array((2, 3, 8, 8), seed=s), requires_grad=True)
              for s in (38, 39))
    y1 = F.conv2d(x1, w, padding=1)
    y1.sum().backward()
    kept_y, kept_g = y1.array.copy(), x1.grad.array.copy()
    F.conv2d(x2, w, padding=1).sum().backward()
    C.clear_scratch()
    F.conv2d(x2, w, stride=2).sum().backward()
    assert np.array_equal(y1.array, kept_y) and np.array_equal(x1.grad.array, kept_g)


# ----------------------------------------------------------------------------- finite differences


def _t(shape, seed):
    return numcnn.tensor(random_array(shape, seed=seed), requires_grad=True)


GRADCHECK = [
    # name, fn, input shape, weight shape, bias size
    ("conv1d", lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2),
     (2, 2, 7), (3, 2, 3), 3),
    ("conv2d", lambda x, w, b: F.conv2d(x, w, b, padding=1), (1, 2, 5, 4), (3, 2, 3, 3), 3),
    ("conv2d strided grouped", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=(1, 0),
                                                         dilation=(1, 2), groups=2),
     (2, 4, 6, 7), (4, 2, 3, 2), 4),
    ("conv2d depthwise", lambda x, w, b: F.conv2d(x, w, b, padding="same", groups=3),
     (1, 3, 5, 5), (6, 1, 2, 3), 6),
    ("conv2d col2im at stride 1", lambda x, w, b: F.conv2d(x, w, b), (1, 1, 5, 5),
     (4, 1, 3, 3), 4),
    ("conv3d", lambda x, w, b: F.conv3d(x, w, b, stride=(1, 2, 1), padding=1),
     (1, 2, 3, 4, 3), (2, 2, 2, 2, 2), 2),
    ("conv_transpose1d", lambda x, w, b: F.conv_transpose1d(x, w, b, stride=3, padding=1,
                                                             output_padding=2),
     (2, 2, 4), (2, 3, 3), 3),
    ("conv_transpose2d grouped", lambda x, w, b: F.conv_transpose2d(
        x, w, b, stride=2, padding=1, output_padding=1, groups=2), (1, 4, 3, 3), (4, 1, 3, 3), 2),
    ("conv_transpose2d stride 1 dilated", lambda x, w, b: F.conv_transpose2d(
        x, w, b, dilation=2, padding=1), (1, 2, 3, 4), (2, 2, 2, 2), 2),
    ("conv_transpose3d", lambda x, w, b: F.conv_transpose3d(x, w, b, stride=2),
     (1, 2, 2, 2, 2), (2, 1, 2, 2, 2), 1),
]


@pytest.mark.parametrize("name, fn, xs, ws, nb", GRADCHECK, ids=[g[0] for g in GRADCHECK])
def test_gradcheck(name, fn, xs, ws, nb):
    assert gradcheck(fn, [_t(xs, 1), _t(ws, 2), _t((nb,), 3)])


def test_gradcheck_unfold_and_fold():
    assert gradcheck(lambda x: F.unfold(x, 2, dilation=(1, 2), padding=1, stride=(2, 1)),
                     [_t((1, 2, 4, 5), 4)])
    assert gradcheck(lambda c: F.fold(c, (4, 5), 2, padding=1, stride=2), [_t((1, 8, 9), 5)])


# ----------------------------------------------------------------------------- argument checks


def _same_error(fn, arrays, expected):
    """numcnn raises exactly torch's error type (checked against torch itself)."""
    t_err = raises_like_torch(fn, arrays)
    assert t_err is not None and type(t_err) is expected, f"torch raised {t_err!r}"
    nargs = [numcnn.tensor(a) if isinstance(a, np.ndarray) else a for a in arrays]
    with pytest.raises(expected) as info:
        fn(F, *nargs)
    return str(info.value)


X = random_array((2, 4, 7, 7), np.float32, seed=20)
W = random_array((6, 4, 3, 3), np.float32, seed=21)
WT = random_array((4, 3, 3, 3), np.float32, seed=22)

BAD = [
    ("5-D input to conv2d", lambda F, x, w: F.conv2d(x[None], w), RuntimeError, "input"),
    ("2-D input to conv2d", lambda F, x, w: F.conv2d(x[0, 0], w), RuntimeError, "input"),
    ("3-D weight", lambda F, x, w: F.conv2d(x, w[..., 0]), RuntimeError, "weight"),
    ("groups does not divide C_in", lambda F, x, w: F.conv2d(x, w[:, :2], groups=3),
     RuntimeError, "channels"),
    ("groups does not divide C_out", lambda F, x, w: F.conv2d(x, w[:, :1], groups=4),
     RuntimeError, "divisible"),
    ("in-channels mismatch", lambda F, x, w: F.conv2d(x, w[:, :3]), RuntimeError, "channels"),
    ("stride 0", lambda F, x, w: F.conv2d(x, w, stride=0), RuntimeError, "stride"),
    ("negative stride", lambda F, x, w: F.conv2d(x, w, stride=(1, -1)), RuntimeError, "stride"),
    ("dilation 0", lambda F, x, w: F.conv2d(x, w, dilation=0), RuntimeError, "dilation"),
    ("negative padding", lambda F, x, w: F.conv2d(x, w, padding=-1), RuntimeError, "padding"),
    ("same with stride 2", lambda F, x, w: F.conv2d(x, w, padding="same", stride=2),
     RuntimeError, "same"),
    ("unknown padding string", lambda F, x, w: F.conv2d(x, w, padding="full"), RuntimeError,
     "full"),
    ("kernel bigger than input", lambda F, x, w: F.conv2d(x[..., :2], w), RuntimeError,
     "Kernel size"),
    ("dilated kernel bigger than input", lambda F, x, w: F.conv2d(x, w, dilation=4),
     RuntimeError, "Kernel size"),
    ("bias of wrong size", lambda F, x, w: F.conv2d(x, w, w[:5, 0, 0, 0]), RuntimeError,
     "bias"),
    ("2-D bias", lambda F, x, w: F.conv2d(x, w, w[:, 0, 0, :1]), RuntimeError, "bias"),
    ("dtype mismatch", lambda F, x, w: F.conv2d(x.double(), w), RuntimeError, "type"),
    ("bias dtype mismatch", lambda F, x, w: F.conv2d(x, w, w[:, 0, 0, 0].double()),
     RuntimeError, "bias"),
    ("stride of 3 values", lambda F, x, w: F.conv2d(x, w, stride=(1, 1, 1)), RuntimeError,
     "stride"),
    ("float stride", lambda F, x, w: F.conv2d(x, w, stride=1.5), TypeError, "stride"),
    ("bool stride", lambda F, x, w: F.conv2d(x, w, stride=True), TypeError, "stride"),
    ("float groups", lambda F, x, w: F.conv2d(x, w, groups=1.0), TypeError, "groups"),
    ("groups 0", lambda F, x, w: F.conv2d(x, w, groups=0), RuntimeError, "groups"),
    ("no output channels", lambda F, x, w: F.conv2d(x, w[:0]), RuntimeError, "weight"),
    ("empty kernel", lambda F, x, w: F.conv2d(x, w[:, :, :0]), RuntimeError, "kernel"),
    ("spatial size 0", lambda F, x, w: F.conv2d(x[:, :, :0], w, padding=1), RuntimeError,
     "Kernel size"),
    ("list input", lambda F, x, w: F.conv2d([[1.0]], w), TypeError, "input"),
    ("tuple of floats", lambda F, x, w: F.conv2d(x, w, padding=(1.0, 1)), TypeError, "padding"),
    ("conv1d on 4-D", lambda F, x, w: F.conv1d(x, w[..., 0]), RuntimeError, "input"),
    ("conv3d on 3-D", lambda F, x, w: F.conv3d(x[0, :, :3], w[..., None]), RuntimeError,
     "input"),
]


@pytest.mark.parametrize("what, fn, err, word", BAD, ids=[b[0] for b in BAD])
def test_bad_conv_arguments_raise_torchs_error_type(what, fn, err, word):
    msg = _same_error(fn, [X, W], err)
    assert word.lower() in msg.lower(), msg


BAD_T = [
    ("output_padding >= stride and dilation",
     lambda F, x, w: F.conv_transpose2d(x, w, stride=2, output_padding=2), RuntimeError,
     "output padding"),
    ("negative output_padding", lambda F, x, w: F.conv_transpose2d(x, w, output_padding=-1),
     RuntimeError, "output_padding"),
    ("negative padding", lambda F, x, w: F.conv_transpose2d(x, w, padding=-1), RuntimeError,
     "padding"),
    ("in-channels mismatch", lambda F, x, w: F.conv_transpose2d(x, w[:3]), RuntimeError,
     "channels"),
    ("groups does not divide C_in", lambda F, x, w: F.conv_transpose2d(x, w, groups=3),
     RuntimeError, "divisible"),
    ("bias of wrong size", lambda F, x, w: F.conv_transpose2d(x, w, w[:, 0, 0, 0]),
     RuntimeError, "bias"),
    ("output too small", lambda F, x, w: F.conv_transpose2d(x[..., :1, :1], w, padding=2),
     RuntimeError, "too small"),
    ("padding='same'", lambda F, x, w: F.conv_transpose2d(x, w, padding="same"), TypeError,
     "padding"),
    ("5-D input", lambda F, x, w: F.conv_transpose2d(x[None], w), RuntimeError, "input"),
    ("stride 0", lambda F, x, w: F.conv_transpose2d(x, w, stride=0), RuntimeError, "stride"),
    ("empty kernel", lambda F, x, w: F.conv_transpose2d(x, w[:, :, :0]), RuntimeError, "kernel"),
]


@pytest.mark.parametrize("what, fn, err, word", BAD_T, ids=[b[0] for b in BAD_T])
def test_bad_conv_transpose_arguments_raise_torchs_error_type(what, fn, err, word):
    msg = _same_error(fn, [X, WT], err)
    assert word.lower() in msg.lower(), msg


@pytest.mark.parametrize("s, d, op", [(3, 2, 2), (1, 2, 1), (2, 1, 1), (1, 3, 2)])
def test_output_padding_below_stride_or_dilation_is_allowed(s, d, op):
    x, w = random_array((1, 2, 4, 4), seed=23), random_array((2, 3, 3, 3), seed=24)
    compare(lambda F, x, w: F.conv_transpose2d(x, w, stride=s, dilation=d, output_padding=op),
            [x, w])


BAD_FOLD = [
    ("unfold on 5-D", lambda F, x: F.unfold(x[None], 2), RuntimeError, "input"),
    ("unfold kernel too big", lambda F, x: F.unfold(x, 8), RuntimeError, "sliding blocks"),
    ("unfold stride 0", lambda F, x: F.unfold(x, 2, stride=0), RuntimeError, "stride"),
    ("unfold negative padding", lambda F, x: F.unfold(x, 2, padding=-1), RuntimeError,
     "padding"),
    ("unfold dilation 0", lambda F, x: F.unfold(x, 2, dilation=0), RuntimeError, "dilation"),
    ("unfold kernel 0", lambda F, x: F.unfold(x, 0), RuntimeError, "kernel"),
    ("unfold 3 kernel sizes", lambda F, x: F.unfold(x, (2, 2, 2)), RuntimeError,
     "kernel_size"),
    ("fold wrong number of blocks", lambda F, x: F.fold(F.unfold(x, 2), (8, 7), 2),
     RuntimeError, "sliding blocks"),
    ("fold channels not divisible", lambda F, x: F.fold(F.unfold(x, 2)[:, :11], (7, 7), 2),
     RuntimeError, "divisible"),
    ("fold on 4-D", lambda F, x: F.fold(F.unfold(x, 2)[None], (7, 7), 2), RuntimeError,
     "input"),
    ("fold 3 output sizes", lambda F, x: F.fold(F.unfold(x, 2), (7, 7, 7), 2), RuntimeError,
     "output_size"),
]


@pytest.mark.parametrize("what, fn, err, word", BAD_FOLD, ids=[b[0] for b in BAD_FOLD])
def test_bad_unfold_fold_arguments_raise_torchs_error_type(what, fn, err, word):
    msg = _same_error(fn, [X], err)
    assert word.lower() in msg.lower(), msg


def test_error_messages_name_argument_value_and_allowed():
    msg = _same_error(lambda F, x, w: F.conv2d(x, w, stride=(2, 0)), [X, W], RuntimeError)
    assert "stride" in msg and "(2, 0)" in msg and ">= 1" in msg
    msg = _same_error(lambda F, x, w: F.conv2d(x, w, padding="full"), [X, W], RuntimeError)
    assert "'full'" in msg and "'same'" in msg and "'valid'" in msg
    msg = _same_error(lambda F, x, w: F.conv2d(x, w[:, :3]), [X, W], RuntimeError)
    assert "3 channels" in msg or "to have 3" in msg


def test_unbatched_input_and_grad_shapes():
    x = numcnn.tensor(random_array((3, 6, 5)), requires_grad=True)
    w = numcnn.tensor(random_array((2, 3, 3, 3)), requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    assert y.shape == (2, 6, 5)
    y.sum().backward()
    assert x.grad.shape == (3, 6, 5) and w.grad.shape == (2, 3, 3, 3)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_each_rank_runs_the_same_code_path_as_2d(nd):
    """A conv over a size-1 extra dim equals the lower-rank conv (the N-D code is generic)."""
    x = random_array((2, 3) + (6,) * nd, seed=25)
    w = random_array((4, 3) + (3,) * nd, seed=26)
    conv = getattr(F, f"conv{nd}d")
    y = conv(numcnn.tensor(x), numcnn.tensor(w), padding=1)
    if nd < 3:
        up = getattr(F, f"conv{nd + 1}d")
        y2 = up(numcnn.tensor(x[:, :, None]), numcnn.tensor(w[:, :, None]),
                padding=(0,) + (1,) * nd)
        assert_close(y2.array[:, :, 0], y.array)


def test_lecture_backward_duality():
    """Seed 000 summary: dW = xcorr(X, dY); dX = full convolution of dY with the flipped
    kernel = conv_transpose(dY, W)."""
    x = numcnn.tensor(random_array((1, 1, 6, 6), seed=27), requires_grad=True)
    w = numcnn.tensor(random_array((1, 1, 3, 3), seed=28), requires_grad=True)
    gy = random_array((1, 1, 4, 4), seed=29)
    (F.conv2d(x, w) * numcnn.tensor(gy)).sum().backward()
    xcorr = F.conv2d(numcnn.tensor(x.array.transpose(1, 0, 2, 3)),
                     numcnn.tensor(gy.transpose(1, 0, 2, 3))).array.transpose(1, 0, 2, 3)
    assert_close(w.grad, xcorr)
    full = F.conv2d(numcnn.tensor(gy), numcnn.tensor(w.array[..., ::-1, ::-1].copy()),
                    padding=2)
    assert_close(x.grad, full.array)


def test_combinations_of_dims_strides_dilations_against_naive():
    """A small exhaustive sweep of 1-D geometry (k, s, p, d) against the naive loops."""
    x = random_array((1, 2, 8), seed=30)
    for k, s, p, d in itertools.product([1, 2, 3], [1, 2, 3], [0, 1, 2], [1, 2]):
        if 8 + 2 * p < d * (k - 1) + 1:
            continue
        w = random_array((2, 2, k), seed=k * 31 + s)
        expected = naive_conv(x, w, None, (s,), [(p, p)], (d,))
        y = F.conv1d(numcnn.tensor(x), numcnn.tensor(w), stride=s, padding=p, dilation=d)
        assert_close(y, expected, what=f"k={k} s={s} p={p} d={d}")


def naive_conv_backward(x: np.ndarray, w: np.ndarray, gy: np.ndarray, stride, padding,
                        dilation, groups: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seed 000's chain rule over all output pixels, as loops (any number of spatial dims):

        dL/dw[o, c, a]          = sum_{n, i} dL/dy[n, o, i] * x_pad[n, g*Cg + c, i*s + a*d]
        dL/dx_pad[n, g*Cg+c, j] = sum_{o in g, a, i : i*s + a*d = j} dL/dy[n, o, i] * w[o, c, a]
        dL/db[o]                = sum_{n, i} dL/dy[n, o, i]

    and dL/dx is dL/dx_pad with the padding cut off.
    """
    nd = w.ndim - 2
    N = x.shape[0]
    O, Cg = w.shape[:2]
    K = w.shape[2:]
    Og = O // groups
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(w)
    So = gy.shape[2:]
    for n in range(N):
        for o in range(O):
            g = o // Og
            for i in np.ndindex(*So):
                for c in range(Cg):
                    for a in np.ndindex(*K):
                        pos = tuple(i[t] * stride[t] + a[t] * dilation[t] for t in range(nd))
                        gw[(o, c) + a] += gy[(n, o) + i] * xp[(n, g * Cg + c) + pos]
                        gxp[(n, g * Cg + c) + pos] += gy[(n, o) + i] * w[(o, c) + a]
    inner = tuple(slice(p, p + s) for p, s in zip(padding, x.shape[2:]))
    gx = gxp[(slice(None), slice(None)) + inner]
    gb = gy.sum(axis=(0, *range(2, gy.ndim)))
    return gx, gw, gb


@pytest.mark.parametrize("case", NAIVE_CASES)
def test_conv_gradients_against_naive_chain_rule_loops(case):
    nd, N, Cin, O, S, k, s, p, d, g = case
    x = random_array((N, Cin, *S), seed=7)
    w = random_array((O, Cin // g, *k), seed=8)
    b = random_array((O,), seed=9)
    xt = numcnn.tensor(x, requires_grad=True)
    wt = numcnn.tensor(w, requires_grad=True)
    bt = numcnn.tensor(b, requires_grad=True)
    y = getattr(F, f"conv{nd}d")(xt, wt, bt, s, p, d, g)
    gy = random_array(y.shape, seed=10)
    y.backward(numcnn.tensor(gy))
    gx, gw, gb = naive_conv_backward(x, w, gy, s, p, d, g)
    assert_close(xt.grad, gx, what="dL/dx")
    assert_close(wt.grad, gw, what="dL/dw")
    assert_close(bt.grad, gb, what="dL/db")
