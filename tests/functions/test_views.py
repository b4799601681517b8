"""numcnn.functions.views and the logical functions against torch 2.13: clone (memory_format),
broadcast_to, broadcast_tensors, tile, movedim/moveaxis, swapaxes/swapdims, diagonal (values,
gradients, views, double backward), logical_and/or/xor, set/get_num_threads, the Tensor
attributes is_cuda/is_cpu/itemsize/nbytes and split(split_size=); errors as torch's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.helpers import assert_close, compare, random_array

import numcnn
from numcnn.autograd import gradcheck


def lib(F):
    return torch if F is torch.nn.functional else numcnn


DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,size", [((3, 1), (2, 3, 4)), ((1,), (0,)), ((), (2, 2)),
                                        ((2, 1, 3), (-1, 4, 3)), ((0, 1), (0, 5))])
def test_broadcast_to(dtype, shape, size) -> None:
    x = random_array(shape, dtype)
    compare(lambda F, a: lib(F).broadcast_to(a, size), [x])
    compare(lambda F, a: a.broadcast_to(size), [x])


def test_broadcast_to_errors() -> None:
    for size in [(2, 4), (3,)]:
        with pytest.raises(RuntimeError):
            torch.broadcast_to(torch.ones(3, 2), size)
        with pytest.raises(RuntimeError):
            numcnn.broadcast_to(numcnn.ones(3, 2), size)


@pytest.mark.parametrize("shapes", [[(3, 1), (1, 4), (4,)], [(2, 3)], [(), (0, 2)],
                                    [(5, 1, 2), (3, 1)]])
def test_broadcast_tensors(shapes) -> None:
    xs = [random_array(s, np.float64, seed=i) for i, s in enumerate(shapes)]
    compare(lambda F, *a: lib(F).broadcast_tensors(*a), xs)
    with pytest.raises(RuntimeError):
        numcnn.broadcast_tensors(numcnn.ones(3), numcnn.ones(2))
    with pytest.raises(RuntimeError):
        torch.broadcast_tensors(torch.ones(3), torch.ones(2))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dims", [((2, 3), (2,)), ((2, 3), (2, 1, 3)), ((3,), (0,)),
                                        ((), (3, 2)), ((2, 0, 3), (1, 2, 1)), ((4, 1, 2), ())])
def test_tile(dtype, shape, dims) -> None:
    x = random_array(shape, dtype)
    compare(lambda F, a: lib(F).tile(a, dims), [x])
    compare(lambda F, a: a.tile(*dims) if dims else a.tile(dims), [x])
    assert_close(numcnn.tile(numcnn.tensor(x), dims), np.tile(x, dims))   # NumPy's tile


def test_tile_int_tensor_and_gradcheck() -> None:
    x = np.arange(6).reshape(2, 3)
    assert_close(numcnn.tensor(x).tile((2, 2)), torch.tensor(x).tile((2, 2)))
    w = numcnn.tensor(random_array((2, 3)), requires_grad=True)
    assert gradcheck(lambda a: numcnn.tile(a, (3, 1, 2)), [w])
    with pytest.raises(RuntimeError):
        torch.tile(torch.ones(2), (-1,))
    with pytest.raises(RuntimeError):
        numcnn.tile(numcnn.ones(2), (-1,))


@pytest.mark.parametrize("src,dst", [(0, -1), (-1, 0), ((0, 1), (2, 0)), ([3, 0], [0, 1]),
                                     ((), ()), (1, 1)])
def test_movedim(src, dst) -> None:
    x = random_array((2, 3, 4, 5))
    compare(lambda F, a: lib(F).movedim(a, src, dst), [x])
    compare(lambda F, a: lib(F).moveaxis(a, src, dst), [x])
    compare(lambda F, a: a.movedim(src, dst), [x])
    assert_close(numcnn.movedim(numcnn.tensor(x), src, dst), np.moveaxis(x, src, dst))


def test_movedim_0d_and_errors() -> None:
    compare(lambda F, a: lib(F).movedim(a, 0, -1), [np.array(2.5)])
    for src, dst, err in [((0, 1), (0,), RuntimeError), ((0, 0), (1, 2), RuntimeError),
                          ((0, 1), (2, 2), RuntimeError), (3, 0, IndexError)]:
        with pytest.raises(err):
            torch.movedim(torch.ones(2, 3, 4), src, dst)
        with pytest.raises(err):
            numcnn.movedim(numcnn.ones(2, 3, 4), src, dst)


def test_swapaxes_swapdims() -> None:
    x = random_array((2, 3, 4))
    compare(lambda F, a: lib(F).swapaxes(a, 0, -1), [x])
    compare(lambda F, a: lib(F).swapdims(a, -2, 0), [x])
    compare(lambda F, a: a.swapaxes(1, 2), [x])
    compare(lambda F, a: a.swapdims(0, 1), [x])
    n = numcnn.tensor(x)
    assert_close(numcnn.swapaxes(n, axis0=0, axis1=2), numcnn.swapdims(n, dim0=0, dim1=2))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,offset,d1,d2", [
    ((4, 4), 0, 0, 1), ((3, 5), 2, 0, 1), ((3, 5), -1, 0, 1), ((5, 3), -4, 0, 1),
    ((3, 5), 7, 0, 1), ((2, 3, 4), 1, 2, 0), ((2, 3, 4), -1, -1, -2), ((0, 3), 0, 0, 1),
    ((2, 3, 4, 5), 0, 1, 3), ((3, 3), -3, 1, 0),
])
def test_diagonal(dtype, shape, offset, d1, d2) -> None:
    x = random_array(shape, dtype)
    compare(lambda F, a: lib(F).diagonal(a, offset, d1, d2), [x])
    compare(lambda F, a: a.diagonal(offset=offset, dim1=d1, dim2=d2), [x])
    assert_close(numcnn.diagonal(numcnn.tensor(x), offset, d1, d2),
                 np.diagonal(x, offset, d1, d2))


def test_diagonal_naive_loop_and_gradcheck() -> None:
    x = random_array((3, 4, 5))
    out = numcnn.diagonal(numcnn.tensor(x), offset=1, dim1=1, dim2=2).numpy()
    ref = np.array([[x[n, k, k + 1] for k in range(4)] for n in range(3)])
    np.testing.assert_array_equal(out, ref)
    w = numcnn.tensor(x, requires_grad=True)
    assert gradcheck(lambda a: numcnn.diagonal(a, -1, 2, 0), [w])


def test_diagonal_is_a_view_and_double_backward() -> None:
    x = numcnn.zeros(3, 3)
    d = x.diagonal()
    d.add_(1.0)                                # a write through the view reaches x
    assert_close(x, torch.eye(3))
    a = numcnn.tensor(random_array((3, 4)), requires_grad=True)
    t = torch.tensor(a.array.copy(), requires_grad=True)
    (ga,) = numcnn.autograd.grad((a.diagonal(1) ** 3).sum(), a, create_graph=True)
    (gt,) = torch.autograd.grad((t.diagonal(1) ** 3).sum(), t, create_graph=True)
    assert_close(ga, gt)
    (gga,) = numcnn.autograd.grad(ga.sum(), a)
    (ggt,) = torch.autograd.grad(gt.sum(), t)
    assert_close(gga, ggt)


def test_diagonal_errors() -> None:
    for x, args, err in [((3,), (0, 0, 1), IndexError), ((3, 3), (0, 1, 1), RuntimeError),
                         ((3, 3), (0, 0, 2), IndexError)]:
        with pytest.raises(err):
            torch.diagonal(torch.ones(x), *args)
        with pytest.raises(err):
            numcnn.diagonal(numcnn.ones(x), *args)


@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
@pytest.mark.parametrize("da,db", [(np.float32, np.float32), (np.int64, np.bool_),
                                   (np.bool_, np.bool_), (np.float64, np.int32)])
def test_logical(name, da, db) -> None:
    rng = np.random.default_rng(1)
    a = (rng.integers(-1, 2, size=(3, 4)) * rng.random((3, 4)) * 2).astype(da)
    b = rng.integers(0, 2, size=(4,)).astype(db)
    b[0], a[0, 0] = 0, np.nan if a.dtype.kind == "f" else a[0, 0]
    got = getattr(numcnn, name)(numcnn.tensor(a), numcnn.tensor(b))
    exp = getattr(torch, name)(torch.tensor(a), torch.tensor(b))
    assert_close(got, exp)
    assert_close(getattr(numcnn.tensor(a), name)(numcnn.tensor(b)), exp)
    assert got.dtype == numcnn.bool
    e = getattr(torch, name)(torch.ones(0, 2), torch.ones(2))
    assert_close(getattr(numcnn, name)(numcnn.ones(0, 2), numcnn.ones(2)), e)
    with pytest.raises(TypeError):
        getattr(torch, name)(torch.ones(2), 1)
    with pytest.raises(TypeError):
        getattr(numcnn, name)(numcnn.ones(2), 1)
    with pytest.raises(RuntimeError):
        getattr(torch, name)(torch.ones(2), torch.ones(3))
    with pytest.raises(RuntimeError):
        getattr(numcnn, name)(numcnn.ones(2), numcnn.ones(3))


def test_clone_memory_format_and_top_level() -> None:
    x = random_array((3, 4))
    compare(lambda F, a: lib(F).clone(a), [x])
    compare(lambda F, a: lib(F).clone(a, memory_format=lib(F).contiguous_format), [x])
    compare(lambda F, a: a.t().clone(memory_format=lib(F).preserve_format), [x])
    n = numcnn.tensor(x).t()
    assert n.clone().stride() == torch.tensor(x).t().clone().stride()
    assert n.clone(memory_format=numcnn.contiguous_format).is_contiguous()
    assert n.contiguous(memory_format=numcnn.contiguous_format).is_contiguous()
    c = numcnn.clone(numcnn.tensor(x))
    c.array[0, 0] = 99.0
    assert x[0, 0] != 99.0
    with pytest.raises(TypeError):
        numcnn.tensor(x).clone(memory_format="contiguous")
    with pytest.raises(NotImplementedError):
        numcnn.tensor(x).contiguous(memory_format=numcnn.channels_last)
    assert repr(numcnn.contiguous_format) == "numcnn.contiguous_format"


def test_tensor_attributes() -> None:
    for dt, tdt in [(np.float32, torch.float32), (np.int16, torch.int16), (np.bool_, torch.bool)]:
        n, t = numcnn.zeros(2, 5, dtype=dt), torch.zeros(2, 5, dtype=tdt)
        assert (n.is_cuda, n.is_cpu, n.itemsize, n.nbytes) == \
            (t.is_cuda, t.is_cpu, t.itemsize, t.nbytes)
    assert numcnn.ones(3).expand(4, 3).nbytes == torch.ones(3).expand(4, 3).nbytes


def test_split_keyword() -> None:
    x = random_array((7, 2))
    compare(lambda F, a: a.split(split_size=3), [x])
    compare(lambda F, a: a.split(split_size=[2, 5], dim=0), [x])
    compare(lambda F, a: lib(F).split(a, split_size_or_sections=2, dim=-1), [x])


def test_num_threads() -> None:
    old = numcnn.get_num_threads()
    try:
        numcnn.set_num_threads(3)
        assert numcnn.get_num_threads() == 3
        with pytest.raises(RuntimeError):
            torch.set_num_threads(0)
        with pytest.raises(RuntimeError):
            numcnn.set_num_threads(0)
        with pytest.raises(TypeError):
            numcnn.set_num_threads(1.5)
    finally:
        numcnn.set_num_threads(old)
