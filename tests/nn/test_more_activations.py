"""RReLU, RMSNorm, pdist and gumbel_softmax against torch (values, gradients, f32/f64),
gradcheck, and, for the random ones, their distributions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests.helpers import assert_close, random_array

import numcnn
import numcnn.nn.functional as NF
from numcnn import nn
from numcnn.autograd import gradcheck

DTYPES = [np.float32, np.float64]


# ------------------------------------------------------------------------- rrelu
@pytest.mark.parametrize("dtype", DTYPES)
def test_rrelu_eval_is_mean_slope_like_torch(dtype):
    x = random_array((3, 4, 5), dtype, 1)
    x[0, 0, 0] = 0.0
    n = numcnn.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    yn, yt = NF.rrelu(n, 0.1, 0.3), TF.rrelu(t, 0.1, 0.3)
    assert_close(yn, yt)
    assert_close(yn, np.where(x >= 0, x, 0.2 * x).astype(dtype))
    v = random_array(x.shape, dtype, 2)
    (yn * numcnn.tensor(v)).sum().backward()
    (yt * torch.tensor(v)).sum().backward()
    assert_close(n.grad, t.grad)
    m, tm = nn.RReLU(0.1, 0.3).eval(), torch.nn.RReLU(0.1, 0.3).eval()
    assert_close(m(numcnn.tensor(x)), tm(torch.tensor(x)))
    assert repr(m) == repr(tm)


def test_rrelu_training_distribution_and_gradient():
    numcnn.manual_seed(0)
    x = -np.abs(random_array((200, 500), np.float64, 3)) - 0.1
    x[0, :10] = np.abs(x[0, :10])                       # a few positives: slope 1
    n = numcnn.tensor(x, requires_grad=True)
    y = NF.rrelu(n, 0.2, 0.5, training=True)
    slopes = y.array / x
    assert np.all(slopes[0, :10] == 1.0)
    neg = slopes[x < 0]
    assert neg.min() >= 0.2 and neg.max() <= 0.5
    # U(0.2, 0.5): mean 0.35, variance 0.3^2 / 12, and a flat histogram
    assert neg.mean() == pytest.approx(0.35, abs=3e-3)
    assert neg.var() == pytest.approx(0.09 / 12, rel=0.03)
    counts, _ = np.histogram(neg, bins=10, range=(0.2, 0.5))
    assert np.all(np.abs(counts / neg.size - 0.1) < 0.01)
    y.sum().backward()
    assert_close(n.grad, slopes)                        # gradient = the same slope
    # torch's training slopes share the distribution (mean within sampling error)
    torch.manual_seed(0)
    tneg = (TF.rrelu(torch.tensor(x), 0.2, 0.5, training=True) / torch.tensor(x)).numpy()
    assert abs(tneg[x < 0].mean() - neg.mean()) < 5e-3


def test_rrelu_seeded_module_inplace_and_errors():
    x = random_array((4, 6), np.float64, 4)
    numcnn.manual_seed(7)
    a = NF.rrelu(numcnn.tensor(x), training=True)
    numcnn.manual_seed(7)
    m = nn.RReLU()
    b = m(numcnn.tensor(x))                             # modules start in training mode
    assert np.array_equal(a.array, b.array)
    numcnn.manual_seed(7)
    c = numcnn.tensor(x.copy())
    out = NF.rrelu_(c, training=True)
    assert out is c and np.array_equal(c.array, a.array)
    slopes = a.array[x < 0] / x[x < 0]
    assert np.all((slopes >= 1 / 8) & (slopes <= 1 / 3))
    gradcheck_x = numcnn.tensor(x, requires_grad=True)
    assert gradcheck(lambda t: NF.rrelu(t, 0.1, 0.3), (gradcheck_x,))
    assert repr(nn.RReLU(0.1, 0.3, inplace=True)) == repr(torch.nn.RReLU(0.1, 0.3, inplace=True))
    with pytest.raises(ValueError):
        NF.rrelu(numcnn.tensor(x), 0.5, 0.1)
    with pytest.raises(TypeError):
        NF.rrelu(numcnn.tensor(np.arange(3)))


# ------------------------------------------------------------------------- rms_norm
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,normalized", [((4, 5), (5,)), ((2, 3, 4), (3, 4)),
                                              ((3, 1), (1,)), ((0, 4), (4,))])
@pytest.mark.parametrize("eps", [None, 1e-3])
@pytest.mark.parametrize("affine", [False, True])
def test_rms_norm(dtype, shape, normalized, eps, affine):
    x = random_array(shape, dtype, 5)
    w = random_array(normalized, dtype, 6)
    n = numcnn.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    nw = numcnn.tensor(w, requires_grad=True) if affine else None
    tw = torch.tensor(w, requires_grad=True) if affine else None
    yn, yt = NF.rms_norm(n, normalized, nw, eps), TF.rms_norm(t, normalized, tw, eps)
    assert_close(yn, yt)
    k = len(normalized)
    axes = tuple(range(x.ndim - k, x.ndim))
    e = np.finfo(dtype).eps if eps is None else eps
    ref = x.astype(np.float64) / np.sqrt((x.astype(np.float64) ** 2).mean(axes, keepdims=True)
                                          + e)
    assert_close(yn, (ref * (w if affine else 1)).astype(dtype))
    v = random_array(shape, dtype, 7)
    (yn * numcnn.tensor(v)).sum().backward()
    (yt * torch.tensor(v)).sum().backward()
    assert_close(n.grad, t.grad)
    if affine:
        assert_close(nw.grad, tw.grad)


def test_rms_norm_gradcheck_module_errors():
    x = random_array((3, 4), np.float64, 8)
    w = random_array((4,), np.float64, 9)
    assert gradcheck(lambda x, w: NF.rms_norm(x, (4,), w, 1e-5),
                     (numcnn.tensor(x, requires_grad=True), numcnn.tensor(w, requires_grad=True)))
    m, tm = nn.RMSNorm([4], eps=1e-4), torch.nn.RMSNorm([4], eps=1e-4)
    assert repr(m) == repr(tm)
    assert list(m.state_dict()) == list(tm.state_dict()) == ["weight"]
    assert_close(m.weight, tm.weight)
    assert_close(m(numcnn.tensor(x.astype(np.float32))), tm(torch.tensor(x.astype(np.float32))))
    m2, tm2 = nn.RMSNorm(4, elementwise_affine=False), torch.nn.RMSNorm(4,
                                                                      elementwise_affine=False)
    assert m2.weight is None and repr(m2) == repr(tm2)
    assert nn.RMSNorm(4, dtype=numcnn.float64).weight.dtype == np.float64
    with pytest.raises(RuntimeError):
        NF.rms_norm(numcnn.tensor(x), (3,))
    with pytest.raises(RuntimeError):
        NF.rms_norm(numcnn.tensor(x), (4,), numcnn.ones(3))


# ------------------------------------------------------------------------- pdist
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [2, 1, 3, 0.5, float("inf")])
@pytest.mark.parametrize("n", [5, 2, 1, 0])
def test_pdist(dtype, p, n):
    x = random_array((n, 3), dtype, 10)
    a = numcnn.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    yn, yt = NF.pdist(a, p), TF.pdist(t, p)
    assert_close(yn, yt)
    ref = [np.linalg.norm((x[i] - x[j]).astype(np.float64), ord=p)
           for i in range(n) for j in range(i + 1, n)]
    assert_close(yn, np.asarray(ref, dtype).reshape(-1))
    if yt.numel():
        v = random_array(yt.shape, dtype, 11)
        (yn * numcnn.tensor(v)).sum().backward()
        (yt * torch.tensor(v)).sum().backward()
        assert_close(a.grad, t.grad)


def test_pdist_gradcheck_and_errors():
    x = random_array((4, 3), np.float64, 12)
    assert gradcheck(lambda x: NF.pdist(x), (numcnn.tensor(x, requires_grad=True),))
    assert gradcheck(lambda x: NF.pdist(x, 1.5), (numcnn.tensor(x, requires_grad=True),))
    # equal rows: the distance 0 gets gradient 0, as torch's
    x[1] = x[0]
    a = numcnn.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    NF.pdist(a).sum().backward()
    TF.pdist(t).sum().backward()
    assert_close(a.grad, t.grad)
    with pytest.raises(RuntimeError):
        NF.pdist(numcnn.ones(2, 3, 4))
    with pytest.raises(RuntimeError):
        NF.pdist(numcnn.ones(2, 3), p=-1)


# ------------------------------------------------------------------------- gumbel_softmax
def test_gumbel_softmax_soft_and_hard_shapes_and_one_hot():
    numcnn.manual_seed(0)
    logits = numcnn.tensor(random_array((6, 5, 4), np.float64, 13))
    for dim in (-1, 1, 0):
        y = NF.gumbel_softmax(logits, tau=0.5, dim=dim)
        assert y.shape == logits.shape
        assert np.allclose(y.array.sum(dim), 1.0) and np.all(y.array >= 0)
        h = NF.gumbel_softmax(logits, tau=0.5, hard=True, dim=dim)
        assert h.shape == logits.shape
        assert set(np.unique(h.array)) <= {0.0, 1.0}
        assert np.all(h.array.sum(dim) == 1.0)
    y32 = NF.gumbel_softmax(numcnn.tensor(np.zeros((2, 3), np.float32)))
    assert y32.dtype == np.float32


def test_gumbel_softmax_distribution():
    """argmax of the sample follows softmax(logits); the soft sample's mean at tau -> large
    goes uniform; seeds reproduce."""
    numcnn.manual_seed(1)
    p = np.array([0.1, 0.2, 0.3, 0.4])
    logits = numcnn.tensor(np.tile(np.log(p), (20000, 1)))
    h = NF.gumbel_softmax(logits, hard=True)
    freq = h.array.mean(0)
    assert np.all(np.abs(freq - p) < 0.015)
    soft = NF.gumbel_softmax(logits, tau=100.0)
    assert np.allclose(soft.array.mean(0), 0.25, atol=2e-3)
    numcnn.manual_seed(5)
    a = NF.gumbel_softmax(logits[:3])
    numcnn.manual_seed(5)
    b = NF.gumbel_softmax(logits[:3])
    assert np.array_equal(a.array, b.array)


def test_gumbel_softmax_straight_through_gradient():
    """hard: the forward value is one-hot, the gradient is the soft sample's (same noise)."""
    x = random_array((3, 4), np.float64, 14)
    v = random_array((3, 4), np.float64, 15)
    numcnn.manual_seed(3)
    a = numcnn.tensor(x, requires_grad=True)
    (NF.gumbel_softmax(a, tau=0.7, hard=True) * numcnn.tensor(v)).sum().backward()
    numcnn.manual_seed(3)
    b = numcnn.tensor(x, requires_grad=True)
    (NF.gumbel_softmax(b, tau=0.7) * numcnn.tensor(v)).sum().backward()
    assert_close(a.grad, b.grad)
    # the soft gradient is that of softmax((x + g) / tau): recover g and compare with torch
    numcnn.manual_seed(3)
    y = NF.gumbel_softmax(numcnn.tensor(x), tau=0.7).array
    z = np.log(y) * 0.7                                 # (x + g) up to a per-row constant
    t = torch.tensor(x, requires_grad=True)
    g = torch.tensor(z - x)
    (torch.softmax((t + g) / 0.7, -1) * torch.tensor(v)).sum().backward()
    assert_close(b.grad, t.grad)
    # gradcheck through the soft sample with the noise fixed by the seed
    c = numcnn.tensor(x, requires_grad=True)

    def f(c):
        numcnn.manual_seed(9)
        return NF.gumbel_softmax(c, tau=0.7)

    assert gradcheck(f, (c,))
    with pytest.raises(TypeError):
        NF.gumbel_softmax(numcnn.tensor(np.arange(4)))
