"""numcnn.functions.blas against torch 2.13: mm, bmm, mv, dot, outer, matmul, addmm, baddbmm
and einsum (explicit/implicit output, ellipsis, traces and diagonals, broadcasting); values,
gradients, gradcheck, a naive-loop reference for einsum, dtype and shape errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from tests.helpers import compare, random_array

import numcnn
from numcnn.autograd import gradcheck


def lib(F):
    return torch if F is torch.nn.functional else numcnn


DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
def test_products(dtype) -> None:
    r = lambda shape, s: random_array(shape, dtype, seed=s)  # noqa: E731
    compare(lambda F, a, b: lib(F).mm(a, b), [r((3, 4), 1), r((4, 5), 2)])
    compare(lambda F, a, b: a.mm(b), [r((1, 7), 1), r((7, 1), 2)])
    compare(lambda F, a, b: lib(F).bmm(a, b), [r((2, 3, 4), 1), r((2, 4, 5), 2)])
    compare(lambda F, a, b: a.bmm(b), [r((0, 3, 4), 1), r((0, 4, 2), 2)])
    compare(lambda F, a, b: lib(F).mv(a, b), [r((3, 4), 1), r((4,), 2)])
    compare(lambda F, a, b: lib(F).dot(a, b), [r((5,), 1), r((5,), 2)])
    compare(lambda F, a, b: lib(F).outer(a, b), [r((3,), 1), r((4,), 2)])
    compare(lambda F, a, b: lib(F).matmul(a, b), [r((2, 1, 3, 4), 1), r((5, 4, 2), 2)])
    compare(lambda F, a, b: a @ b, [r((4,), 1), r((2, 4, 3), 2)])
    compare(lambda F, c, a, b: lib(F).addmm(c, a, b), [r((5,), 3), r((3, 4), 1), r((4, 5), 2)])
    compare(lambda F, c, a, b: lib(F).addmm(c, a, b, beta=0.5, alpha=-2.0),
            [r((3, 5), 3), r((3, 4), 1), r((4, 5), 2)])
    compare(lambda F, c, a, b: lib(F).baddbmm(c, a, b, beta=2.0, alpha=0.5),
            [r((1, 3, 5), 3), r((2, 3, 4), 1), r((2, 4, 5), 2)])
    compare(lambda F, c, a, b: c.baddbmm(a, b), [r((2, 3, 5), 3), r((2, 3, 4), 1),
                                                 r((2, 4, 5), 2)])


def test_addmm_beta_zero_ignores_nan_as_torch() -> None:
    c = np.full((2, 2), np.nan)
    a, b = random_array((2, 3), seed=1), random_array((3, 2), seed=2)
    compare(lambda F, x, y, z: lib(F).addmm(x, y, z, beta=0), [c, a, b], grad=False)


def test_products_gradcheck() -> None:
    t = lambda shape, s: numcnn.tensor(random_array(shape, seed=s), requires_grad=True)  # noqa
    assert gradcheck(numcnn.bmm, (t((2, 3, 4), 1), t((2, 4, 2), 2)))
    assert gradcheck(numcnn.mv, (t((3, 4), 1), t((4,), 2)))
    assert gradcheck(numcnn.outer, (t((3,), 1), t((2,), 2)))
    assert gradcheck(lambda c, a, b: numcnn.baddbmm(c, a, b, beta=0.3, alpha=1.7),
                     (t((3, 1), 3), t((2, 3, 4), 1), t((2, 4, 1), 2)))


def test_product_errors_like_torch() -> None:
    f32, f64 = numcnn.ones(2, 2), numcnn.ones(2, 2, dtype=numcnn.float64)
    for fn in (numcnn.mm, numcnn.matmul, lambda a, b: a @ b):
        with pytest.raises(RuntimeError, match="dtype"):
            fn(f32, f64)
    with pytest.raises(RuntimeError):
        numcnn.dot(numcnn.ones(2), numcnn.ones(2, dtype=numcnn.float64))
    with pytest.raises(RuntimeError):
        numcnn.mm(numcnn.ones(2, 3), numcnn.ones(2, 3))
    with pytest.raises(RuntimeError):
        numcnn.mm(numcnn.ones(2), numcnn.ones(2, 3))
    with pytest.raises(RuntimeError):
        numcnn.bmm(numcnn.ones(2, 3, 4), numcnn.ones(3, 4, 5))
    with pytest.raises(RuntimeError):
        numcnn.dot(numcnn.ones(2), numcnn.ones(3))
    with pytest.raises(RuntimeError):
        numcnn.matmul(numcnn.tensor(1.0), numcnn.ones(2))
    with pytest.raises(TypeError):
        numcnn.mm([[1.0]], numcnn.ones(1, 1))


EQUATIONS = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("nchw,oc->nohw", [(2, 3, 4, 5), (6, 3)]),
    ("ii->", [(4, 4)]),
    ("ii->i", [(4, 4)]),
    ("iij->j", [(3, 3, 2)]),
    ("ij->", [(3, 4)]),
    ("ij->ji", [(3, 4)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,i->", [(5,), (5,)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]),
    ("ij,kj", [(3, 4), (5, 4)]),                  # implicit: -> ik
    ("ba", [(3, 4)]),                             # implicit: -> ab (a transpose)
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("...ij,...jk", [(2, 3, 4), (2, 4, 5)]),
    ("b...,b->...", [(3, 2, 2), (3,)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("i,i", [(4,), (4,)]),
    ("ij,j->i", [(3, 1), (4,)]),                  # size-1 broadcast in a named dim
]


@pytest.mark.parametrize("eq,shapes", EQUATIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_einsum_against_torch(eq, shapes, dtype) -> None:
    arrays = [random_array(s, dtype, seed=i + 1) for i, s in enumerate(shapes)]
    compare(lambda F, *ops: lib(F).einsum(eq, *ops), arrays)
    compare(lambda F, *ops: lib(F).einsum(eq, list(ops)), arrays)


@pytest.mark.parametrize("eq,shapes", EQUATIONS[:10])
def test_einsum_gradcheck(eq, shapes) -> None:
    ts = [numcnn.tensor(random_array(s, seed=i + 1), requires_grad=True)
          for i, s in enumerate(shapes)]
    assert gradcheck(lambda *ops: numcnn.einsum(eq, *ops), ts)


def test_einsum_naive_loops() -> None:
    """y[n,o,h,w] = sum_c x[n,c,h,w] w[o,c], and tr(A) = sum_i A[i,i], written as loops."""
    x, w = random_array((2, 3, 2, 2), seed=1), random_array((4, 3), seed=2)
    ref = np.zeros((2, 4, 2, 2))
    for n, o, h, ww, c in itertools.product(range(2), range(4), range(2), range(2), range(3)):
        ref[n, o, h, ww] += x[n, c, h, ww] * w[o, c]
    got = numcnn.einsum("nchw,oc->nohw", numcnn.tensor(x), numcnn.tensor(w))
    np.testing.assert_allclose(got.array, ref, rtol=1e-12)
    a = random_array((5, 5), seed=3)
    assert abs(numcnn.einsum("ii", numcnn.tensor(a)).item() - sum(a[i, i] for i in range(5))) \
        < 1e-12


def test_einsum_errors() -> None:
    a = numcnn.ones(2, 3)
    with pytest.raises(RuntimeError):
        numcnn.einsum("ij,jk->ik", a, numcnn.ones(4, 2))          # size mismatch
    with pytest.raises(RuntimeError):
        numcnn.einsum("ijk->i", a)                                # wrong number of dims
    with pytest.raises((ValueError, RuntimeError)):
        numcnn.einsum("ij,jk->ik", a)                             # too few operands
    with pytest.raises(RuntimeError):
        numcnn.einsum("ij->ii", a)                                # repeated output label
    with pytest.raises(RuntimeError):
        numcnn.einsum("ij->k", a)                                 # unknown output label
    with pytest.raises(RuntimeError):
        numcnn.einsum("ij,jk", a, numcnn.ones(3, 2, dtype=numcnn.float64))
    with pytest.raises(ValueError):
        numcnn.einsum("i1->i", a)
