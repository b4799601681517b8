"""linear and bilinear (numcnn.ops.linear via numcnn.nn.functional): three oracles and errors.

1. PyTorch: output and the gradients of input, weight and bias, for 1-D input, batch 1, many
   leading dimensions, odd sizes, bias on/off, 1-D weight; float32 and float64.
2. gradcheck in float64.
3. Naive loops: y[m, o] = sum_i x[m, i] W[o, i] + b[o] and its three gradients, element by
   element; the bilinear form likewise.
"""

from __future__ import annotations

import numpy as np
import pytest
from tests.helpers import compare, raises_like_torch, random_array

import numcnn
import numcnn.nn.functional as NF
from numcnn.autograd import gradcheck

DTYPES = [np.float32, np.float64]

LINEAR_SHAPES = [          # (input shape, out_features)
    ((3,), 4),             # 1-D input
    ((1, 3), 1),           # batch 1, one output
    ((7, 5), 3),
    ((2, 3, 4, 5), 6),     # many leading dims
    ((0, 5), 2),           # empty batch
    ((4, 1), 9),           # one input feature
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,out_f", LINEAR_SHAPES)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(shape, out_f, bias, dtype):
    x = random_array(shape, dtype, seed=1)
    w = random_array((out_f, shape[-1]), dtype, seed=2)
    if bias:
        b = random_array((out_f,), dtype, seed=3)
        compare(lambda F, x, w, b: F.linear(x, w, b), [x, w, b])
    else:
        compare(lambda F, x, w: F.linear(x, w), [x, w])


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_vector_weight_and_broadcast_bias(dtype):
    x = random_array((4, 5), dtype)
    compare(lambda F, x, w: F.linear(x, w), [x, random_array((5,), dtype, seed=1)])
    compare(lambda F, x, w, b: F.linear(x, w, b),
            [x, random_array((3, 5), dtype, seed=1), random_array((1,), dtype, seed=2)])


def test_linear_keeps_float32():
    x = numcnn.randn(2, 3)
    w = numcnn.randn(4, 3, requires_grad=True)
    y = NF.linear(x, w, numcnn.zeros(4))
    assert y.dtype == numcnn.float32
    y.sum().backward()
    assert w.grad.dtype == numcnn.float32


def naive_linear(x, w, b, gy):
    """Loops straight from y[m, o] = sum_i x[m, i] w[o, i] + b[o] and the chain rule."""
    m_, i_ = x.shape
    o_ = w.shape[0]
    y = np.zeros((m_, o_))
    gx, gw, gb = np.zeros_like(x), np.zeros_like(w), np.zeros_like(b)
    for m in range(m_):
        for o in range(o_):
            y[m, o] = b[o] + sum(x[m, i] * w[o, i] for i in range(i_))
            gb[o] += gy[m, o]                       # dy[m,o]/db[o] = 1
            for i in range(i_):
                gx[m, i] += gy[m, o] * w[o, i]      # dy[m,o]/dx[m,i] = w[o,i]
                gw[o, i] += gy[m, o] * x[m, i]      # dy[m,o]/dw[o,i] = x[m,i]
    return y, gx, gw, gb


def test_linear_naive_loops():
    x, w, b = random_array((5, 4), seed=1), random_array((3, 4), seed=2), random_array((3,),
                                                                                       seed=3)
    gy = random_array((5, 3), seed=4)
    y, gx, gw, gb = naive_linear(x, w, b, gy)
    tx, tw, tb = (numcnn.tensor(a, requires_grad=True) for a in (x, w, b))
    out = NF.linear(tx, tw, tb)
    out.backward(numcnn.tensor(gy))
    for got, want in ((out, y), (tx.grad, gx), (tw.grad, gw), (tb.grad, gb)):
        np.testing.assert_allclose(got.array, want, rtol=1e-12, atol=1e-14)


def test_linear_gradcheck():
    x = numcnn.tensor(random_array((2, 3, 4)), requires_grad=True)
    w = numcnn.tensor(random_array((5, 4), seed=1), requires_grad=True)
    b = numcnn.tensor(random_array((5,), seed=2), requires_grad=True)
    assert gradcheck(lambda x, w, b: NF.linear(x, w, b), [x, w, b])
    assert gradcheck(lambda x, w: NF.linear(x, w), [x, w])


# ----------------------------------------------------------------------------- bilinear
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lead", [(4,), (1,), (2, 3)])
def test_bilinear_matches_torch(lead, dtype):
    x1 = random_array(lead + (3,), dtype, seed=1)
    x2 = random_array(lead + (5,), dtype, seed=2)
    w = random_array((2, 3, 5), dtype, seed=3)
    compare(lambda F, a, c, w, b: F.bilinear(a, c, w, b),
            [x1, x2, w, random_array((2,), dtype, seed=4)])
    compare(lambda F, a, c, w: F.bilinear(a, c, w), [x1, x2, w])


def test_bilinear_naive_loops_and_gradcheck():
    x1, x2 = random_array((3, 2), seed=1), random_array((3, 4), seed=2)
    w, b = random_array((5, 2, 4), seed=3), random_array((5,), seed=4)
    want = np.zeros((3, 5))
    for m in range(3):
        for o in range(5):
            want[m, o] = b[o] + sum(x1[m, i] * w[o, i, j] * x2[m, j]
                                    for i in range(2) for j in range(4))
    got = NF.bilinear(*(numcnn.tensor(a) for a in (x1, x2, w, b)))
    np.testing.assert_allclose(got.array, want, rtol=1e-12)
    ts = [numcnn.tensor(a, requires_grad=True) for a in (x1, x2, w, b)]
    assert gradcheck(lambda *t: NF.bilinear(*t), ts)


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("case,arrays", [
    (lambda F, x, w: F.linear(x, w), [random_array((2, 3)), random_array((4, 5))]),
    (lambda F, x, w, b: F.linear(x, w, b),
     [random_array((2, 3)), random_array((4, 3)), random_array((5,))]),
    (lambda F, x, w: F.linear(x, w), [np.array(1.0), random_array((4, 3))]),
    (lambda F, x, w: F.linear(x, w), [random_array((2, 3)), random_array((4, 3), np.float32)]),
    (lambda F, a, c, w: F.bilinear(a, c, w),
     [random_array((2, 3)), random_array((2, 4)), random_array((5, 3, 5))]),
    (lambda F, a, c, w: F.bilinear(a, c, w),
     [random_array((2, 3)), random_array((3, 4)), random_array((5, 3, 4))]),
    (lambda F, a, c, w: F.bilinear(a, c, w),
     [random_array((2, 2)), random_array((2, 4)), random_array((5, 3, 4))]),
])
def test_errors_like_torch(case, arrays):
    assert raises_like_torch(case, arrays) is not None


def test_shape_mismatch_message_names_both_shapes():
    with pytest.raises(RuntimeError, match=r"input shape \(2, 3\), weight shape \(4, 5\)"):
        NF.linear(numcnn.randn(2, 3), numcnn.randn(4, 5))
    with pytest.raises(TypeError, match="must be Tensor"):
        NF.linear(numcnn.randn(2, 3), [[1.0, 2.0, 3.0]])
