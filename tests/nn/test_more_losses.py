"""The margin, embedding and likelihood losses of torch.nn against torch: values and gradients in
float32 and float64, gradcheck in float64, naive-loop references, argument errors."""

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

REDUCTIONS = ["none", "mean", "sum"]
DTYPES = [np.float32, np.float64]


def _run(fn, arrays, grads, seed=0):
    """fn(F, *tensors) in numcnn and torch; arrays[i] requires grad where grads[i]; compares
    outputs and the gradients of a random projection of the output."""
    n_in = [numcnn.tensor(a.copy(), requires_grad=g) for a, g in zip(arrays, grads)]
    t_in = [torch.tensor(a.copy(), requires_grad=g) for a, g in zip(arrays, grads)]
    n_out, t_out = fn(NF, *n_in), fn(TF, *t_in)
    assert_close(n_out, t_out, what="output")
    if not any(grads):
        return n_out
    v = np.random.default_rng(seed).standard_normal(t_out.shape).astype(t_out.dtype.__str__()[6:])
    (n_out * numcnn.tensor(v)).sum().backward()
    (t_out * torch.tensor(v)).sum().backward()
    for i, (a, b) in enumerate(zip(n_in, t_in)):
        if grads[i]:
            assert_close(a.grad, b.grad, what=f"grad of input {i}")
    return n_out


def _sign(shape, seed):
    return np.where(np.random.default_rng(seed).random(shape) < 0.5, -1.0, 1.0)


def _gradcheck(fn, *arrays, grads=None):
    grads = grads or [True] * len(arrays)
    ts = [numcnn.tensor(a.astype(np.float64) if a.dtype.kind == "f" else a,
                        requires_grad=g) for a, g in zip(arrays, grads)]
    assert gradcheck(fn, tuple(ts))


# ------------------------------------------------------------------------- margin ranking
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(7,), (3, 5), (0,)])
def test_margin_ranking_loss(dtype, reduction, shape):
    a, b = random_array(shape, dtype, 1), random_array(shape, dtype, 2)
    y = _sign(shape, 3).astype(dtype)
    if reduction == "mean" and 0 in shape:
        _run(lambda F, a, b, y: F.margin_ranking_loss(a, b, y, 0.3, reduction=reduction),
             [a, b, y], [False, False, False])
        return
    out = _run(lambda F, a, b, y: F.margin_ranking_loss(a, b, y, margin=0.3, reduction=reduction),
               [a, b, y], [True, True, True])
    if reduction == "none":
        ref = np.maximum(0, -y * (a - b) + 0.3)
        assert_close(out, ref)


def test_margin_ranking_loss_broadcast_gradcheck_module():
    a, b = random_array((4, 3), seed=4), random_array((1, 3), seed=5)
    y = _sign((4, 1), 6)
    _gradcheck(lambda a, b: NF.margin_ranking_loss(a, b, numcnn.tensor(y), 0.2), a, b)
    m = nn.MarginRankingLoss(margin=0.2, reduction="sum")
    tm = torch.nn.MarginRankingLoss(margin=0.2, reduction="sum")
    assert_close(m(numcnn.tensor(a), numcnn.tensor(b), numcnn.tensor(y)),
                 tm(torch.tensor(a), torch.tensor(b), torch.tensor(y)))
    with pytest.raises(RuntimeError):
        NF.margin_ranking_loss(numcnn.tensor(a), numcnn.tensor(b[0]), numcnn.tensor(y))
    with pytest.raises(ValueError):
        NF.margin_ranking_loss(numcnn.tensor(a), numcnn.tensor(b), numcnn.tensor(y),
                               reduction="avg")


# ------------------------------------------------------------------------- hinge embedding
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_embedding_loss(dtype, reduction):
    x = random_array((4, 5), dtype, 7)
    y = _sign((4, 5), 8).astype(dtype)
    y[0, 0] = 0.5                                       # neither 1 nor -1: both terms, as torch
    out = _run(lambda F, x, y: F.hinge_embedding_loss(x, y, margin=0.7, reduction=reduction),
               [x, y], [True, False])
    if reduction == "none":
        ref = np.where(y == 1, x, 0) + np.where(y == -1, np.maximum(0, 0.7 - x), 0)
        ref[0, 0] = x[0, 0] + max(0, 0.7 - x[0, 0])
        assert_close(out, ref.astype(dtype))
    _gradcheck(lambda x: NF.hinge_embedding_loss(x, numcnn.tensor(y.astype(np.float64))), x)
    assert_close(nn.HingeEmbeddingLoss(0.7, reduction=reduction)(numcnn.tensor(x),
                                                                 numcnn.tensor(y)),
                 torch.nn.HingeEmbeddingLoss(0.7, reduction=reduction)(torch.tensor(x),
                                                                       torch.tensor(y)))


# ------------------------------------------------------------------------- soft margin
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_loss(dtype, reduction):
    x = random_array((3, 7), dtype, 9) * 4
    x[0, 0], x[0, 1] = 60.0, -60.0                      # large |x|: no overflow
    y = _sign((3, 7), 10).astype(dtype)
    out = _run(lambda F, x, y: F.soft_margin_loss(x, y, reduction=reduction), [x, y],
               [True, False])
    if reduction == "sum":
        assert_close(out, np.asarray(np.log1p(np.exp(-y.astype(np.float64) * x)).sum(),
                                     dtype), rtol=1e-4 if dtype == np.float32 else 1e-7)
    _gradcheck(lambda x: NF.soft_margin_loss(x, numcnn.tensor(y.astype(np.float64))), x)
    assert_close(nn.SoftMarginLoss(reduction=reduction)(numcnn.tensor(x), numcnn.tensor(y)),
                 torch.nn.SoftMarginLoss(reduction=reduction)(torch.tensor(x), torch.tensor(y)))


# ------------------------------------------------------------------------- cosine embedding
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cosine_embedding_loss(dtype, reduction):
    a, b = random_array((6, 4), dtype, 11), random_array((6, 4), dtype, 12)
    b[0] = a[0] * 2                                     # cos = 1
    a[1] = 0.0                                          # zero vector: eps keeps it finite
    y = _sign((6,), 13).astype(dtype)
    y[0] = 1.0
    _run(lambda F, a, b, y: F.cosine_embedding_loss(a, b, y, margin=-0.2, reduction=reduction),
         [a, b, y], [True, True, False])
    _run(lambda F, a, b, y: F.cosine_embedding_loss(a, b, y, reduction=reduction),
         [a[2], b[2], np.asarray(-1.0, dtype)], [True, True, False])


def test_cosine_embedding_loss_naive_gradcheck_errors():
    a, b = random_array((5, 3), seed=14), random_array((5, 3), seed=15)
    y = _sign((5,), 16)
    out = NF.cosine_embedding_loss(numcnn.tensor(a), numcnn.tensor(b), numcnn.tensor(y),
                                   margin=0.1, reduction="none")
    for n in range(5):
        c = a[n] @ b[n] / np.linalg.norm(a[n]) / np.linalg.norm(b[n])
        assert out.array[n] == pytest.approx(1 - c if y[n] == 1 else max(0, c - 0.1), rel=1e-9)
    _gradcheck(lambda a, b: NF.cosine_embedding_loss(a, b, numcnn.tensor(y), 0.1), a, b)
    m = nn.CosineEmbeddingLoss(margin=0.1)
    tm = torch.nn.CosineEmbeddingLoss(margin=0.1)
    assert_close(m(numcnn.tensor(a), numcnn.tensor(b), numcnn.tensor(y)),
                 tm(torch.tensor(a), torch.tensor(b), torch.tensor(y)))
    with pytest.raises(RuntimeError):
        NF.cosine_embedding_loss(numcnn.tensor(a), numcnn.tensor(b), numcnn.tensor(y[:3]))
    with pytest.raises(RuntimeError):
        NF.cosine_embedding_loss(numcnn.tensor(a), numcnn.tensor(b), numcnn.tensor(y[0]))


# ------------------------------------------------------------------------- multi margin
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_multi_margin_loss(dtype, reduction, p, weighted):
    x = random_array((5, 4), dtype, 17)
    y = np.array([0, 3, 1, 1, 2])
    w = random_array((4,), dtype, 18, 0.5, 2.0)
    wt = (lambda F: None) if not weighted else (
        lambda F: numcnn.tensor(w) if F is NF else torch.tensor(w))
    out = _run(lambda F, x: F.multi_margin_loss(
        x, (numcnn.tensor(y) if F is NF else torch.tensor(y)), p=p, margin=0.8, weight=wt(F),
        reduction=reduction), [x], [True])
    if reduction == "none":
        ref = np.zeros(5)
        for n in range(5):
            for i in range(4):
                if i != y[n]:
                    ref[n] += (w[y[n]] if weighted else 1) * max(0, 0.8 - x[n, y[n]] + x[n, i]) ** p
        assert_close(out, (ref / 4).astype(dtype))


def test_multi_margin_loss_1d_gradcheck_module_errors():
    x = random_array((6,), seed=19)
    t = numcnn.tensor(np.array(2))
    _run(lambda F, x: F.multi_margin_loss(x, numcnn.tensor(np.array(2)) if F is NF
                                          else torch.tensor(2)), [x], [True])
    _gradcheck(lambda x: NF.multi_margin_loss(x, t, p=2, reduction="sum"), x)
    x2 = random_array((3, 4), seed=20)
    y2 = np.array([3, 0, 2])
    w = random_array((4,), seed=21, low=0.5, high=2.0)
    m = nn.MultiMarginLoss(p=2, margin=0.5, weight=numcnn.tensor(w), reduction="sum")
    tm = torch.nn.MultiMarginLoss(p=2, margin=0.5, weight=torch.tensor(w), reduction="sum")
    assert_close(m(numcnn.tensor(x2), numcnn.tensor(y2)), tm(torch.tensor(x2), torch.tensor(y2)))
    assert "weight" in m.state_dict()
    with pytest.raises(ValueError):
        nn.MultiMarginLoss(p=3)
    with pytest.raises(ValueError):
        NF.multi_margin_loss(numcnn.tensor(x2), numcnn.tensor(y2), p=3)
    with pytest.raises(IndexError):
        NF.multi_margin_loss(numcnn.tensor(x2), numcnn.tensor(np.array([0, 4, 1])))
    with pytest.raises(RuntimeError):
        NF.multi_margin_loss(numcnn.tensor(x2), numcnn.tensor(np.array([0, 1])))


# ------------------------------------------------------------------------- multilabel margin
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin_loss(dtype, reduction):
    x = random_array((4, 5), dtype, 22)
    y = np.array([[3, 0, -1, 1, 2],       # targets {3, 0}; entries after -1 ignored
                  [-1, 1, 2, 3, 4],       # no targets: loss 0
                  [4, 4, 1, -1, -1],      # a repeated target counts twice
                  [0, 1, 2, 3, 4]])       # all targets: no non-target, loss 0
    out = _run(lambda F, x: F.multilabel_margin_loss(
        x, numcnn.tensor(y) if F is NF else torch.tensor(y), reduction=reduction), [x], [True])
    if reduction == "none":
        ref = np.zeros(4)
        for n in range(4):
            js = []
            for j in y[n]:
                if j == -1:
                    break
                js.append(j)
            for j in js:
                for i in range(5):
                    if i not in js:
                        ref[n] += max(0, 1 - (x[n, j] - x[n, i]))
        assert_close(out, (ref / 5).astype(dtype))


def test_multilabel_margin_loss_1d_gradcheck_module():
    x = random_array((5,), seed=23)
    y = np.array([2, 4, -1, 0, 0])
    _run(lambda F, x: F.multilabel_margin_loss(x, numcnn.tensor(y) if F is NF
                                               else torch.tensor(y)), [x], [True])
    _gradcheck(lambda x: NF.multilabel_margin_loss(x, numcnn.tensor(y)), x)
    x2, y2 = random_array((2, 3), seed=24), np.array([[1, -1, 0], [2, 0, -1]])
    assert_close(nn.MultiLabelMarginLoss(reduction="sum")(numcnn.tensor(x2), numcnn.tensor(y2)),
                 torch.nn.MultiLabelMarginLoss(reduction="sum")(torch.tensor(x2),
                                                                torch.tensor(y2)))
    with pytest.raises(RuntimeError):
        NF.multilabel_margin_loss(numcnn.tensor(x2), numcnn.tensor(y2[:, :2]))
    with pytest.raises(IndexError):
        NF.multilabel_margin_loss(numcnn.tensor(x2), numcnn.tensor(np.array([[3, -1, 0]] * 2)))


# ------------------------------------------------------------------------- multilabel soft
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_soft_margin_loss(dtype, reduction, weighted):
    x = random_array((4, 6), dtype, 25) * 3
    y = (np.random.default_rng(26).random((4, 6)) < 0.5).astype(dtype)
    w = random_array((6,), dtype, 27, 0.5, 2.0)
    wt = (lambda F: None) if not weighted else (
        lambda F: numcnn.tensor(w) if F is NF else torch.tensor(w))
    _run(lambda F, x, y: F.multilabel_soft_margin_loss(x, y, weight=wt(F), reduction=reduction),
         [x, y], [True, True])
    if dtype == np.float64:
        _gradcheck(lambda x, y: NF.multilabel_soft_margin_loss(x, y, reduction=reduction), x, y)
    m = nn.MultiLabelSoftMarginLoss(weight=numcnn.tensor(w) if weighted else None,
                                    reduction=reduction)
    tm = torch.nn.MultiLabelSoftMarginLoss(weight=torch.tensor(w) if weighted else None,
                                           reduction=reduction)
    assert_close(m(numcnn.tensor(x), numcnn.tensor(y)), tm(torch.tensor(x), torch.tensor(y)))


# ------------------------------------------------------------------------- Poisson NLL
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll_loss(dtype, reduction, log_input, full):
    x = random_array((3, 5), dtype, 28, 0.1, 2.0)
    t = np.random.default_rng(29).integers(0, 5, size=(3, 5)).astype(dtype)
    t[0, :3] = [0.0, 1.0, 1.5]                           # Stirling term only where t > 1
    _run(lambda F, x, t: F.poisson_nll_loss(x, t, log_input=log_input, full=full,
                                            reduction=reduction), [x, t], [True, not full])
    if full:  # torch's target gradient is nan where target = 0 (0 * log 0); ours is finite
        n_t = numcnn.tensor(t, requires_grad=True)
        t_t = torch.tensor(t, requires_grad=True)
        NF.poisson_nll_loss(numcnn.tensor(x), n_t, log_input, full).backward()
        TF.poisson_nll_loss(torch.tensor(x), t_t, log_input, full).backward()
        ok = t != 0
        assert_close(n_t.grad.array[ok], t_t.grad.numpy()[ok])
        assert np.all(np.isfinite(n_t.grad.array))
    if dtype == np.float64:
        # targets away from the jump of Stirling's term at t = 1
        _gradcheck(lambda x, t: NF.poisson_nll_loss(x, t, log_input=log_input, full=full), x,
                   t + 0.3)
    m = nn.PoissonNLLLoss(log_input=log_input, full=full, eps=1e-3, reduction=reduction)
    tm = torch.nn.PoissonNLLLoss(log_input=log_input, full=full, eps=1e-3, reduction=reduction)
    assert_close(m(numcnn.tensor(x), numcnn.tensor(t)), tm(torch.tensor(x), torch.tensor(t)))


# ------------------------------------------------------------------------- Gaussian NLL
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("var_shape", [(4, 3), (4, 1), (4,)])
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll_loss(dtype, reduction, var_shape, full):
    x, t = random_array((4, 3), dtype, 30), random_array((4, 3), dtype, 31)
    v = random_array(var_shape, dtype, 32, 0.2, 2.0)
    v.reshape(-1)[0] = 1e-8                              # clamped to eps, gradient as identity
    _run(lambda F, x, t, v: F.gaussian_nll_loss(x, t, v, full=full, eps=1e-3,
                                                reduction=reduction), [x, t, v], [True, True, True])
    if dtype == np.float64:
        _gradcheck(lambda x, t, v: NF.gaussian_nll_loss(x, t, v, full=full), x, t,
                   random_array(var_shape, dtype, 33, 0.2, 2.0))
    m = nn.GaussianNLLLoss(full=full, reduction=reduction)
    tm = torch.nn.GaussianNLLLoss(full=full, reduction=reduction)
    assert_close(m(numcnn.tensor(x), numcnn.tensor(t), numcnn.tensor(v)),
                 tm(torch.tensor(x), torch.tensor(t), torch.tensor(v)))


def test_gaussian_nll_loss_errors():
    x, t = numcnn.randn(4, 3), numcnn.randn(4, 3)
    with pytest.raises(ValueError, match="incorrect size"):
        NF.gaussian_nll_loss(x, t, numcnn.ones(4, 2))
    with pytest.raises(ValueError, match="incorrect size"):
        NF.gaussian_nll_loss(x, t, numcnn.tensor(0.5))      # a 0-d tensor is refused, as torch
    with pytest.raises(ValueError, match="negative"):
        NF.gaussian_nll_loss(x, t, -numcnn.ones(4, 3))
    with pytest.raises(ValueError, match="negative"):
        NF.gaussian_nll_loss(x, t, -0.5)
    xt, tt = torch.tensor(x.array), torch.tensor(t.array)
    assert_close(NF.gaussian_nll_loss(x, t, 0.5, full=True),               # a float var
                 TF.gaussian_nll_loss(xt, tt, 0.5, full=True))
    with pytest.raises(ValueError):
        NF.gaussian_nll_loss(x, t, numcnn.ones(4, 3), reduction="avg")


# ------------------------------------------------------------------------- triplet
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p,swap", [(2, False), (1, True), (3, False), (2, True)])
def test_triplet_margin_loss(dtype, reduction, p, swap):
    a, po, ne = (random_array((5, 4), dtype, s) for s in (34, 35, 36))
    _run(lambda F, a, po, ne: F.triplet_margin_loss(a, po, ne, margin=1.5, p=p, swap=swap,
                                                    reduction=reduction),
         [a, po, ne], [True, True, True])
    _run(lambda F, a, po, ne: F.triplet_margin_loss(a, po, ne, p=p, swap=swap,
                                                    reduction=reduction),
         [a[0], po[0], ne[0]], [True, True, True])


def test_triplet_margin_loss_naive_gradcheck_module_errors():
    a, po, ne = (random_array((4, 3), np.float64, s) for s in (37, 38, 39))
    out = NF.triplet_margin_loss(numcnn.tensor(a), numcnn.tensor(po), numcnn.tensor(ne),
                                 margin=2.0, swap=True, reduction="none")
    for n in range(4):
        dap = np.linalg.norm(a[n] - po[n] + 1e-6)
        dan = min(np.linalg.norm(a[n] - ne[n] + 1e-6), np.linalg.norm(po[n] - ne[n] + 1e-6))
        assert out.array[n] == pytest.approx(max(0.0, dap - dan + 2.0), rel=1e-9)
    _gradcheck(lambda a, p, n: NF.triplet_margin_loss(a, p, n, margin=2.0, swap=True), a, po, ne)
    m = nn.TripletMarginLoss(margin=0.5, p=1)
    tm = torch.nn.TripletMarginLoss(margin=0.5, p=1)
    assert_close(m(*map(numcnn.tensor, (a, po, ne))), tm(*map(torch.tensor, (a, po, ne))))
    with pytest.raises(ValueError):
        nn.TripletMarginLoss(margin=0.0)
    with pytest.raises(RuntimeError):
        NF.triplet_margin_loss(numcnn.tensor(a), numcnn.tensor(po[0]), numcnn.tensor(ne))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin_with_distance_loss(dtype, swap):
    a, po, ne = (random_array((5, 4), dtype, s) for s in (40, 41, 42))

    def dist(F):
        return lambda u, v: 1.0 - F.cosine_similarity(u, v)

    _run(lambda F, a, po, ne: F.triplet_margin_with_distance_loss(
        a, po, ne, distance_function=dist(F), margin=0.4, swap=swap, reduction="none"),
        [a, po, ne], [True, True, True])
    _run(lambda F, a, po, ne: F.triplet_margin_with_distance_loss(a, po, ne, swap=swap),
         [a, po, ne], [True, True, True])
    m = nn.TripletMarginWithDistanceLoss(distance_function=dist(NF), margin=0.4)
    tm = torch.nn.TripletMarginWithDistanceLoss(distance_function=dist(TF), margin=0.4)
    assert_close(m(*map(numcnn.tensor, (a, po, ne))), tm(*map(torch.tensor, (a, po, ne))))
    if dtype == np.float64:
        _gradcheck(lambda a, p, n: NF.triplet_margin_with_distance_loss(
            a, p, n, distance_function=dist(NF), swap=swap), a, po, ne)


def test_double_backward_through_composed_losses():
    """Composed from differentiable ops, the losses support grad-of-grad (checked vs torch)."""
    x = random_array((3, 4), seed=43)
    y = _sign((3, 4), 44)
    n = numcnn.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    (gn,) = numcnn.autograd.grad(NF.soft_margin_loss(n, numcnn.tensor(y)), n, create_graph=True)
    (gt,) = torch.autograd.grad(TF.soft_margin_loss(t, torch.tensor(y)), t, create_graph=True)
    (gn * gn).sum().backward()
    (gt * gt).sum().backward()
    assert_close(n.grad, t.grad)
