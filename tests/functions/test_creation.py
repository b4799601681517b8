"""meshgrid, normal and the new_* methods against torch 2.13; top-level shape forms
(numcnn.transpose, ...), hstack/vstack, and the Tensor introspection methods (stride,
is_contiguous, __format__ ...)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from tests.helpers import assert_close, compare, random_array

import numcnn


def lib(F):
    return torch if F is torch.nn.functional else numcnn


@pytest.mark.parametrize("indexing", ["ij", "xy"])
@pytest.mark.parametrize("sizes", [(3, 4), (2, 3, 4), (5,), (1, 0)])
def test_meshgrid(indexing, sizes) -> None:
    arrays = [random_array((s,), seed=i) for i, s in enumerate(sizes)]
    compare(lambda F, *xs: lib(F).meshgrid(*xs, indexing=indexing), arrays)
    compare(lambda F, *xs: lib(F).meshgrid(list(xs), indexing=indexing), arrays)


def test_meshgrid_default_warns_and_is_ij() -> None:
    from numcnn.functions import creation
    creation._MESHGRID_WARNED[0] = False
    a, b = numcnn.arange(3), numcnn.arange(2)
    with pytest.warns(UserWarning, match="indexing"):
        x, y = numcnn.meshgrid(a, b)
    tx, ty = torch.meshgrid(torch.arange(3), torch.arange(2), indexing="ij")
    assert_close(x, tx)
    assert_close(y, ty)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        numcnn.meshgrid(a, b, indexing="xy")
    with pytest.raises(RuntimeError):
        numcnn.meshgrid(a, b, indexing="yx")
    with pytest.raises(RuntimeError):
        numcnn.meshgrid(a, b.float(), indexing="ij")


def test_normal_forms_and_statistics() -> None:
    numcnn.manual_seed(0)
    m, s = numcnn.full((20000,), 3.0), numcnn.full((20000,), 2.0)
    for x in (numcnn.normal(m, s), numcnn.normal(m), numcnn.normal(3.0, s),
              numcnn.normal(3.0, 2.0, (20000,))):
        assert x.shape == (20000,) and x.dtype == numcnn.float32
    x = numcnn.normal(3.0, 2.0, size=(200, 100))
    assert abs(x.mean().item() - 3.0) < 0.05 and abs(x.std().item() - 2.0) < 0.05
    assert numcnn.normal(m.double(), 1.0).dtype == numcnn.float64
    assert numcnn.normal(0.0, 1.0, (2,), dtype=numcnn.float64).dtype == numcnn.float64
    numcnn.manual_seed(1)
    a = numcnn.normal(0.0, 1.0, (5,))
    numcnn.manual_seed(1)
    np.testing.assert_array_equal(a.array, numcnn.normal(0.0, 1.0, (5,)).array)
    assert numcnn.normal(numcnn.zeros(3, 1), numcnn.ones(4)).shape == (3, 4)
    with pytest.raises(RuntimeError):
        numcnn.normal(0.0, numcnn.tensor([-1.0]))
    with pytest.raises(TypeError):
        numcnn.normal(0.0, 1.0)


@pytest.mark.parametrize("dtype", ["float64", "int32", "bool"])
def test_new_methods(dtype) -> None:
    n = numcnn.ones(2, dtype=getattr(numcnn, dtype))
    t = torch.ones(2, dtype=getattr(torch, dtype))
    assert_close(n.new_zeros(2, 3), t.new_zeros(2, 3))
    assert_close(n.new_ones((3,)), t.new_ones((3,)))
    assert_close(n.new_full((2, 2), 7), t.new_full((2, 2), 7))
    assert_close(n.new_tensor([1, 2]), t.new_tensor([1, 2]))
    assert_close(n.new_zeros(2, dtype=numcnn.float32), t.new_zeros(2, dtype=torch.float32))
    assert n.new_empty(4, 1).shape == (4, 1) and n.new_empty(4, 1).dtype == n.dtype
    src = numcnn.ones(2, requires_grad=True)
    c = n.new_tensor(src) if dtype == "float64" else n.new_tensor([1.0])
    assert not c.requires_grad


def test_top_level_shape_forms() -> None:
    a = random_array((2, 3, 4), seed=1)
    compare(lambda F, x: lib(F).transpose(x, 0, -1), [a])
    compare(lambda F, x: lib(F).permute(x, (2, 0, 1)), [a])
    compare(lambda F, x: lib(F).unsqueeze(x, 1), [a])
    compare(lambda F, x: lib(F).squeeze(lib(F).unsqueeze(x, 0)), [a])
    compare(lambda F, x: lib(F).squeeze(lib(F).unsqueeze(x, 0), 0), [a])
    compare(lambda F, x: lib(F).flatten(x, 1), [a])
    compare(lambda F, x: lib(F).t(x[0]), [a])
    compare(lambda F, x: lib(F).chunk(x, 2, -1), [a])
    compare(lambda F, x: lib(F).split(x, [1, 2], 1), [a])
    compare(lambda F, x: lib(F).reshape(x, (4, -1)), [a])
    compare(lambda F, x, y: lib(F).hstack([x, y]), [a, a])
    compare(lambda F, x, y: lib(F).vstack([x[0, 0], y[0, 1]]), [a, a])
    compare(lambda F, x, y: lib(F).concatenate([x, y], 1), [a, a])
    assert numcnn.numel(numcnn.tensor(a)) == 24
    assert numcnn.is_tensor(numcnn.tensor(a)) and not numcnn.is_tensor(a)
    assert numcnn.is_floating_point(numcnn.tensor(a))
    assert not numcnn.is_floating_point(numcnn.arange(2))
    with pytest.raises(TypeError):
        numcnn.cat(numcnn.ones(2))
    with pytest.raises(RuntimeError):
        numcnn.cat([numcnn.ones(2, 3), numcnn.ones(3, 2)])
    with pytest.raises(RuntimeError):
        numcnn.stack([numcnn.ones(2), numcnn.ones(3)])
    compare(lambda F, x: lib(F).cat([x, lib(F).zeros(0)]), [random_array((3,), seed=2)])


def test_introspection_methods() -> None:
    for shape in [(2, 3, 4), (5,), ()]:
        n, t = numcnn.zeros(shape), torch.zeros(shape)
        assert n.stride() == t.stride() and n.is_contiguous() == t.is_contiguous()
        assert n.nelement() == t.nelement() and n.ndimension() == t.ndimension()
    n, t = numcnn.zeros(2, 3, 4).transpose(0, 2), torch.zeros(2, 3, 4).transpose(0, 2)
    assert n.stride() == t.stride() and n.stride(-1) == t.stride(-1)
    assert n.is_contiguous() == t.is_contiguous() is False
    e, te = numcnn.zeros(3, 1).expand(3, 4), torch.zeros(3, 1).expand(3, 4)
    assert e.stride() == te.stride()
    x = numcnn.arange(6)
    assert x.data_ptr() == x[:].data_ptr() and x[1:].data_ptr() == x.data_ptr() + 8


def test_format_spec_like_torch() -> None:
    loss, tloss = numcnn.tensor(0.123456), torch.tensor(0.123456)
    assert f"{loss:.4f}" == f"{tloss:.4f}" == "0.1235"
    assert f"{numcnn.tensor(7):>4}" == f"{torch.tensor(7):>4}"
    assert f"{numcnn.ones(2)}" == str(numcnn.ones(2))
    for make in (torch.ones, numcnn.ones):
        with pytest.raises(TypeError):
            f"{make(1):.2f}"
