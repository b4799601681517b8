"""Sorting functions (numcnn.functions.sorting): sort, argsort, msort, topk against PyTorch
(values, indices where torch guarantees them, gradients), gradcheck, naive references, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.helpers import assert_close, compare, random_array

import numcnn
from numcnn import functions as NF
from numcnn.autograd.gradcheck import gradcheck

DTYPES = [np.float32, np.float64]
NAN = float("nan")


def lib(x):
    return NF if isinstance(x, numcnn.Tensor) else torch


def with_ties(shape, seed=0, dtype=np.float64):
    """Small integers as floats: many ties."""
    return np.random.default_rng(seed).integers(-2, 3, shape).astype(dtype)


# ----------------------------------------------------------------------------- sort
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim", [((7,), 0), ((3, 5), -1), ((3, 5), 0), ((2, 3, 4), 1),
                                       ((0, 3), 0), ((4, 1), 1)])
@pytest.mark.parametrize("descending", [False, True])
def test_stable_sort_matches_torch_with_ties(dtype, shape, dim, descending):
    # stable=True: torch guarantees the indices among ties (original order), so compare them
    x = with_ties(shape, seed=1, dtype=dtype)
    compare(lambda F, x: lib(x).sort(x, dim=dim, descending=descending, stable=True), [x])


@pytest.mark.parametrize("descending", [False, True])
def test_sort_nan_order_and_unstable_default(descending):
    x = np.array([3.0, 1.0, NAN, 1.0, 3.0, 2.0, NAN])
    n = NF.sort(numcnn.tensor(x), descending=descending, stable=True)
    t = torch.sort(torch.tensor(x), descending=descending, stable=True)
    assert_close(n.values, t.values)                    # NaN last ascending, first descending
    assert_close(n.indices, t.indices)
    # default stable=False: torch does not promise the order of ties, only a sorting
    # permutation; numcnn's is the stable one
    u = NF.sort(numcnn.tensor(x), descending=descending)
    assert_close(u.values, t.values)
    assert_close(u.indices, n.indices)


def test_sort_naive_gradcheck_return_type_and_0d():
    x = random_array((4, 6), seed=2)
    n = NF.sort(numcnn.tensor(x), dim=1, descending=True)
    values, indices = n                                    # unpacks like torch.return_types
    assert isinstance(n, tuple) and n.values is values and n.indices is indices
    for r in range(4):
        assert values.array[r].tolist() == sorted(x[r].tolist(), reverse=True)
        assert [x[r, i] for i in indices.array[r]] == values.array[r].tolist()
    assert indices.dtype == np.int64
    assert gradcheck(lambda x: NF.sort(x, 0).values, [numcnn.tensor(x, requires_grad=True)])
    compare(lambda F, x: lib(x).sort(x), [np.array(5.0)])


@pytest.mark.parametrize("arr", [np.array([3, -1, 3, 0, 7]), np.array([True, False, True]),
                                 np.array([[5, 2], [2, 5]], np.int32)])
def test_sort_integers_and_bool(arr):
    compare(lambda F, x: lib(x).sort(x, stable=True), [arr], grad=False)
    compare(lambda F, x: lib(x).sort(x, descending=True, stable=True), [arr], grad=False)


def test_argsort_and_msort():
    x = with_ties((3, 6), seed=3)
    for desc in (False, True):
        compare(lambda F, x, d=desc: lib(x).argsort(x, dim=1, descending=d, stable=True), [x],
                grad=False)
        compare(lambda F, x, d=desc: lib(x).argsort(x, dim=0, descending=d, stable=True), [x],
                grad=False)
    compare(lambda F, x: lib(x).msort(x), [random_array((4, 3), seed=4)])
    compare(lambda F, x: lib(x).argsort(x), [np.array(2.0)], grad=False)


def test_sort_errors():
    x = numcnn.tensor(random_array((2, 3)))
    with pytest.raises(IndexError):
        NF.sort(x, 2)
    with pytest.raises(TypeError):
        NF.sort([1, 2, 3])


# ----------------------------------------------------------------------------- topk
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,k,dim", [((7,), 3, 0), ((3, 5), 5, -1), ((3, 5), 1, 0),
                                         ((2, 3, 4), 2, 1), ((3, 4), 0, 1), ((2, 0), 0, 1)])
@pytest.mark.parametrize("largest", [True, False])
def test_topk_matches_torch(dtype, shape, k, dim, largest):
    # distinct values: torch's choice and order among ties is unspecified
    x = random_array(shape, dtype, seed=5)
    compare(lambda F, x: lib(x).topk(x, k, dim, largest), [x])


def test_topk_ties_values_and_chosen_set():
    """With ties, only the values are guaranteed (sorted); the indices must point at them."""
    x = with_ties((4, 9), seed=6)
    for largest in (True, False):
        n = NF.topk(numcnn.tensor(x), 4, largest=largest)
        t = torch.topk(torch.tensor(x), 4, largest=largest)
        assert_close(n.values, t.values)
        assert_close(np.take_along_axis(x, n.indices.array, 1), t.values)
        # numcnn: the first k of the stable sort, so among ties the lower index first
        ref = np.argsort(-x if largest else x, axis=1, kind="stable")[:, :4]
        assert_close(n.indices, ref)


def test_topk_nan_unsorted_naive_and_gradcheck():
    x = np.array([3.0, 1.0, NAN, 1.5, 3.5, 2.0])
    compare(lambda F, x: lib(x).topk(x, 2), [x], grad=False)        # NaN counts as largest
    compare(lambda F, x: lib(x).topk(x, 3, largest=False), [x], grad=False)
    # sorted=False: torch may return any order; numcnn returns them sorted
    y = NF.topk(numcnn.tensor(x), 3, sorted=False)
    assert sorted(y.indices.tolist()) == sorted(torch.topk(torch.tensor(x), 3,
                                                           sorted=False).indices.tolist())
    r = random_array((3, 5), seed=7)
    naive = [sorted(row, reverse=True)[:2] for row in r.tolist()]
    assert NF.topk(numcnn.tensor(r), 2).values.tolist() == naive
    assert gradcheck(lambda x: NF.topk(x, 2, 0, False).values,
                     [numcnn.tensor(r, requires_grad=True)])
    compare(lambda F, x: lib(x).topk(x, 1), [np.array(5.0)])
    compare(lambda F, x: lib(x).topk(x, 2), [np.array([1, 5, 3])], grad=False)


@pytest.mark.parametrize("arr,k", [(np.arange(6.0), 7), (np.arange(6.0), -1),
                                   (np.array(5.0), 2), (np.array([True, False]), 1)])
def test_topk_errors_like_torch(arr, k):
    with pytest.raises(RuntimeError):
        torch.topk(torch.tensor(arr), k)
    with pytest.raises(RuntimeError):
        NF.topk(numcnn.tensor(arr), k)


@pytest.mark.parametrize("name", ["sort", "argsort", "msort", "topk"])
def test_top_level_and_method_forms(name):
    assert getattr(numcnn, name) is getattr(NF, name)
    x = random_array((3, 4), seed=8)
    compare(lambda F, x: getattr(x, name)(*([2] if name == "topk" else [])), [x])
