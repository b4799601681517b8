"""GLU, Softsign, Tanhshrink, Hardshrink, Softshrink, Softmax2d, CosineSimilarity and
PairwiseDistance (modules and functional forms) against torch 2.13: values, gradients, dtypes,
reprs, errors; gradcheck in float64; naive formulas for the distances."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.helpers import assert_close, compare, random_array

import numcnn
import numcnn.nn.functional as NF
from numcnn.autograd import gradcheck

DTYPES = [np.float32, np.float64]
SHAPES = [(4, 6), (2, 3, 4, 2), (0, 4), (6,)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("call", [
    lambda F, x: F.softsign(x), lambda F, x: F.tanhshrink(x), lambda F, x: F.hardshrink(x),
    lambda F, x: F.hardshrink(x, lambd=1.2), lambda F, x: F.softshrink(x),
    lambda F, x: F.softshrink(x, 0.0), lambda F, x: F.softshrink(x, lambd=1.5),
    lambda F, x: F.glu(x), lambda F, x: F.glu(x, dim=0), lambda F, x: F.glu(x, -1),
])
def test_functional_against_torch(call, shape, dtype) -> None:
    x = random_array(shape, dtype) * 2
    compare(call, [x])


def test_shrink_ties_at_lambda() -> None:
    x = np.array([-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0])     # exactly at +-lambd
    for name in ["hardshrink", "softshrink", "softsign", "tanhshrink"]:
        compare(lambda F, a, n=name: getattr(F, n)(a), [x])


@pytest.mark.parametrize("name", ["softsign", "tanhshrink", "hardshrink", "softshrink", "glu"])
def test_gradcheck_and_double_backward(name) -> None:
    x = random_array((3, 4), seed=3) * 2
    w = numcnn.tensor(x, requires_grad=True)
    assert gradcheck(lambda a: getattr(NF, name)(a), [w])
    t = torch.tensor(x, requires_grad=True)
    (gn,) = numcnn.autograd.grad((getattr(NF, name)(w) ** 2).sum(), w, create_graph=True)
    (gt,) = torch.autograd.grad((getattr(torch.nn.functional, name)(t) ** 2).sum(), t,
                                create_graph=True)
    assert_close(gn, gt)
    assert_close(numcnn.autograd.grad(gn.sum(), w)[0], torch.autograd.grad(gt.sum(), t)[0])


def test_glu_naive_and_errors() -> None:
    x = random_array((2, 6, 3))
    y = NF.glu(numcnn.tensor(x), 1).numpy()
    np.testing.assert_allclose(y, x[:, :3] / (1 + np.exp(-x[:, 3:])), rtol=1e-12)
    for shape, dim in [((5,), 0), ((2, 3), 1), ((), 0)]:
        with pytest.raises(RuntimeError):
            torch.nn.functional.glu(torch.ones(shape), dim)
        with pytest.raises(RuntimeError):
            NF.glu(numcnn.ones(shape), dim)
    with pytest.raises(RuntimeError):
        torch.nn.functional.softshrink(torch.ones(2), -1.0)
    with pytest.raises(RuntimeError):
        NF.softshrink(numcnn.ones(2), -1.0)


@pytest.mark.parametrize("make", [
    lambda nn: nn.GLU(), lambda nn: nn.GLU(dim=0), lambda nn: nn.Softsign(),
    lambda nn: nn.Tanhshrink(), lambda nn: nn.Hardshrink(), lambda nn: nn.Hardshrink(0.7),
    lambda nn: nn.Softshrink(lambd=0.2), lambda nn: nn.Softmax2d(),
])
def test_modules(make) -> None:
    n, t = make(numcnn.nn), make(torch.nn)
    assert repr(n) == repr(t)
    compare(lambda F, a: (n if F is NF else t)(a), [random_array((2, 4, 3, 2))])
    compare(lambda F, a: (n if F is NF else t)(a), [random_array((4, 3, 2), np.float32)])


def test_softmax2d_errors() -> None:
    for shape in [(2,), (2, 3), (1, 2, 3, 4, 5)]:
        with pytest.raises(ValueError):
            torch.nn.Softmax2d()(torch.ones(shape))
        with pytest.raises(ValueError):
            numcnn.nn.Softmax2d()(numcnn.ones(shape))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("s1,s2,dim", [((4, 5), (4, 5), 1), ((4, 5), (1, 5), -1),
                                       ((2, 3, 4), (3, 1), 0), ((5,), (5,), 0),
                                       ((3, 0, 2), (3, 0, 2), 0), ((0, 4), (0, 4), 1)])
def test_cosine_similarity(s1, s2, dim, dtype) -> None:
    a, b = random_array(s1, dtype, seed=1), random_array(s2, dtype, seed=2)
    compare(lambda F, x, y: F.cosine_similarity(x, y, dim), [a, b])
    compare(lambda F, x, y: (numcnn.nn if F is NF else torch.nn).CosineSimilarity(dim)(x, y),
            [a, b])


def test_cosine_similarity_naive_zero_vector_and_gradcheck() -> None:
    a, b = random_array((3, 4), seed=1), random_array((3, 4), seed=2)
    a[1] = 0.0                                      # a zero vector: the eps floor, cos = 0
    got = NF.cosine_similarity(numcnn.tensor(a), numcnn.tensor(b)).numpy()
    ref = [np.dot(u, v) / (max(np.linalg.norm(u), 1e-8) * max(np.linalg.norm(v), 1e-8))
           for u, v in zip(a, b)]
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    compare(lambda F, x, y: F.cosine_similarity(x, y, eps=1e-3), [a * 1e-4, b])
    w1 = numcnn.tensor(random_array((3, 4), seed=1), requires_grad=True)
    w2 = numcnn.tensor(random_array((1, 4), seed=2), requires_grad=True)
    assert gradcheck(lambda x, y: NF.cosine_similarity(x, y, dim=1), [w1, w2])
    with pytest.raises(RuntimeError):
        torch.nn.functional.cosine_similarity(torch.ones(3, 4), torch.ones(3, 5))
    with pytest.raises(RuntimeError):
        NF.cosine_similarity(numcnn.ones(3, 4), numcnn.ones(3, 5))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, float("inf"), 0.5])
@pytest.mark.parametrize("s1,s2", [((4, 5), (4, 5)), ((4, 5), (5,)), ((2, 3, 4), (3, 4)),
                                   ((6,), (6,)), ((0, 3), (0, 3))])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance(s1, s2, p, dtype, keepdim) -> None:
    a, b = random_array(s1, dtype, seed=1), random_array(s2, dtype, seed=2)
    compare(lambda F, x, y: F.pairwise_distance(x, y, p, keepdim=keepdim), [a, b])
    compare(lambda F, x, y: (numcnn.nn if F is NF else torch.nn).PairwiseDistance(
        p=p, eps=1e-3, keepdim=keepdim)(x, y), [a, b])


def test_pairwise_distance_naive_and_gradcheck() -> None:
    a, b = random_array((3, 4), seed=1), random_array((3, 4), seed=2)
    got = NF.pairwise_distance(numcnn.tensor(a), numcnn.tensor(b), p=3.0).numpy()
    ref = [sum(abs(u - v + 1e-6) ** 3) ** (1 / 3) for u, v in zip(a, b)]
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    w1 = numcnn.tensor(a, requires_grad=True)
    w2 = numcnn.tensor(b, requires_grad=True)
    assert gradcheck(lambda x, y: NF.pairwise_distance(x, y, 1.5), [w1, w2])
    m = numcnn.nn.PairwiseDistance(p=1.0, keepdim=True)
    assert (m.norm, m.eps, m.keepdim) == (1.0, 1e-6, True)
    assert repr(m) == repr(torch.nn.PairwiseDistance()) == "PairwiseDistance()"
