"""numcnn.Tensor and the factories against PyTorch: dtypes, construction, arithmetic,
reductions, shape ops, indexing and elementwise math, forward values and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.helpers import assert_close, compare, random_array

import numcnn

DTYPES = [np.float32, np.float64]


def lib(F):
    """The library behind the `F` that `compare` passes: numcnn or torch."""
    return torch if F is torch.nn.functional else numcnn


def tname(t: torch.Tensor) -> str:
    return str(t.dtype).replace("torch.", "")


# ------------------------------------------------------------------------------- construction


@pytest.mark.parametrize("data", [
    [1, 2], [1.0], [[1, 2], [3, 4.5]], True, [True, False], 3, 2.5, [],
    np.array([1.0, 2.0]), np.array([1, 2], dtype=np.int32), np.array([1.5], dtype=np.float32),
    np.array(3, dtype=np.int16), np.array([0, 1], dtype=np.uint8),
])
def test_tensor_dtype_like_torch(data) -> None:
    n, t = numcnn.tensor(data), torch.tensor(data)
    assert n.dtype.name == tname(t)
    assert n.shape == tuple(t.shape)
    np.testing.assert_array_equal(n.array, t.numpy())


def test_construction_details() -> None:
    assert numcnn.tensor([1, 2]).dtype == numcnn.int64
    assert numcnn.tensor([1.0]).dtype == numcnn.float32
    arr = np.array([1.0, 2.0])
    t = numcnn.tensor(arr)
    assert t.dtype == numcnn.float64
    arr[0] = 9                                       # tensor() copies
    assert t.array[0] == 1
    shared = numcnn.from_numpy(arr)
    arr[1] = 7                                       # from_numpy / as_tensor share
    assert shared.array[1] == 7 and numcnn.as_tensor(arr).array is arr
    assert numcnn.tensor([1, 2], dtype=numcnn.float64).dtype == numcnn.float64
    assert numcnn.tensor([1.5], dtype="float64").dtype == numcnn.float64
    with pytest.raises(TypeError):
        numcnn.from_numpy([1, 2])
    with pytest.raises(RuntimeError, match="floating point"):
        numcnn.tensor([1, 2], requires_grad=True)


def test_default_dtype() -> None:
    try:
        numcnn.set_default_dtype(numcnn.float64)
        assert numcnn.get_default_dtype() == numcnn.float64
        assert numcnn.tensor([1.0]).dtype == numcnn.float64
        assert numcnn.zeros(2).dtype == numcnn.float64
        assert numcnn.tensor([1, 2]).dtype == numcnn.int64
    finally:
        numcnn.set_default_dtype(numcnn.float32)
    with pytest.raises(TypeError):
        numcnn.set_default_dtype(numcnn.int32)


@pytest.mark.parametrize("name,args,kwargs", [
    ("zeros", (2, 3), {}), ("zeros", ((2, 3),), {}), ("zeros", ([4],), {"dtype": "float64"}),
    ("ones", (3,), {}), ("ones", (2, 2), {"dtype": "int64"}), ("empty", (2, 3), {}),
    ("full", ((2, 3), 1.5), {}), ("full", ((2,), 7), {}), ("full", ((2,), True), {}),
    ("full", ((2,), 7), {"dtype": "float32"}),
    ("arange", (5,), {}), ("arange", (0, 1, 0.25), {}), ("arange", (1, 6, 2), {}),
    ("arange", (5,), {"dtype": "float64"}), ("arange", (0.0, 1.0, 0.1), {}),
    ("arange", (5, 0, -2), {}), ("eye", (3,), {}), ("eye", (2, 4), {}),
    ("linspace", (0, 1, 5), {}), ("zeros", (0, 3), {}),
])
def test_factories_like_torch(name, args, kwargs) -> None:
    n = getattr(numcnn, name)(*args, **{k: getattr(numcnn, v) for k, v in kwargs.items()})
    t = getattr(torch, name)(*args, **{k: getattr(torch, v) for k, v in kwargs.items()})
    assert n.dtype.name == tname(t) and n.shape == tuple(t.shape)
    if name != "empty":
        np.testing.assert_allclose(n.array, t.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", ["zeros_like", "ones_like", "empty_like", "rand_like",
                                  "randn_like"])
@pytest.mark.parametrize("dtype", [None, "float64", "float32"])
def test_like_factories(name, dtype) -> None:
    src = numcnn.zeros(2, 3, dtype=numcnn.float64)
    kw = {} if dtype is None else {"dtype": getattr(numcnn, dtype)}
    out = getattr(numcnn, name)(src, **kw)
    ref = getattr(torch, name)(torch.zeros(2, 3, dtype=torch.float64),
                               **({} if dtype is None else {"dtype": getattr(torch, dtype)}))
    assert out.shape == (2, 3) and out.dtype.name == tname(ref)
    if name == "zeros_like":
        assert np.all(out.array == 0)
    if name == "ones_like":
        assert np.all(out.array == 1)
    assert getattr(numcnn, name)(src, requires_grad=True).requires_grad


def test_full_like_and_ints() -> None:
    src = numcnn.tensor([[1, 2]])
    out = numcnn.full_like(src, 3)
    assert out.dtype == numcnn.int64 and out.tolist() == [[3, 3]]
    assert numcnn.full_like(src, 0.5, dtype=numcnn.float32).tolist() == [[0.5, 0.5]]


def test_random_factories_and_seed() -> None:
    numcnn.manual_seed(0)
    a, b, c = numcnn.randn(1000), numcnn.rand(3, 4), numcnn.randint(0, 5, (50,))
    assert a.dtype == numcnn.float32 and b.dtype == numcnn.float32 and c.dtype == numcnn.int64
    assert abs(float(a.array.mean())) < 0.1 and abs(float(a.array.std()) - 1) < 0.1
    assert b.array.min() >= 0 and b.array.max() < 1
    assert c.array.min() >= 0 and c.array.max() < 5
    assert numcnn.randn(2, dtype=numcnn.float64).dtype == numcnn.float64
    assert sorted(numcnn.randperm(6).tolist()) == list(range(6))
    numcnn.manual_seed(0)
    np.testing.assert_array_equal(numcnn.randn(1000).array, a.array)
    np.testing.assert_array_equal(numcnn.rand(3, 4).array, b.array)
    assert numcnn.initial_seed() == 0
    state = numcnn.get_rng_state()
    x = numcnn.randn(5)
    numcnn.set_rng_state(state)
    np.testing.assert_array_equal(numcnn.randn(5).array, x.array)
    numcnn.manual_seed(1)
    assert not np.array_equal(numcnn.randn(1000).array, a.array)
    with pytest.raises(TypeError):
        numcnn.manual_seed(1.5)


# ------------------------------------------------------------------------------- properties


def test_properties() -> None:
    x = numcnn.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and x.ndim == 3 and x.dim() == 3
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.numel() == 24 and len(x) == 2 and x.dtype == numcnn.float32
    with pytest.raises(IndexError):
        x.size(3)
    assert numcnn.tensor([[2.5]]).item() == 2.5
    assert isinstance(numcnn.tensor(3).item(), int)
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        x.item()
    arr = x.numpy()
    assert isinstance(arr, np.ndarray) and arr is x.array
    w = numcnn.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        w.numpy()
    assert w.detach().numpy().shape == (2,)
    assert float(numcnn.tensor(1.5)) == 1.5 and int(numcnn.tensor(3)) == 3
    assert x.is_leaf and not x.requires_grad and x.grad is None and x.device == numcnn.device("cpu")


def test_dtype_conversions() -> None:
    x = numcnn.tensor([1.5, -2.5])
    assert x.to(numcnn.float64).dtype == numcnn.float64
    assert x.double().dtype == numcnn.float64 and x.double().float().dtype == numcnn.float32
    assert x.long().tolist() == torch.tensor([1.5, -2.5]).long().tolist()
    assert x.to("cpu") is x and x.to(numcnn.float32) is x
    assert x.to(numcnn.zeros(1, dtype=numcnn.float64)).dtype == numcnn.float64
    assert x.to(dtype=numcnn.float64).dtype == numcnn.float64
    assert x.int().dtype == numcnn.int32 and x.bool().tolist() == [True, True]
    # gradients flow through casts and come back in the input's dtype
    w = numcnn.tensor([1.0, 2.0], requires_grad=True)
    (w.double() * 3).sum().backward()
    assert w.grad.dtype == numcnn.float32 and w.grad.tolist() == [3.0, 3.0]


@pytest.mark.parametrize("data,kw", [
    ([1, 2, 3], {}), ([1.5, 2.25], {}), ([[1.0, 2.0], [3.0, 4.0]], {}), (3.5, {}),
    ([0.561, 0.5776, 1.0], {}), ([1e-5, 1.0], {}), ([1.5, 2.25], {"dtype": "float64"}),
    ([[1.5, -22.25], [3.0, 4.0]], {}), ([True, False], {}), ([], {}),
    ([1.0, 2.0], {"requires_grad": True}),
])
def test_repr_like_torch(data, kw) -> None:
    dt = kw.get("dtype")
    n = numcnn.tensor(data, dtype=None if dt is None else getattr(numcnn, dt),
                      requires_grad=kw.get("requires_grad", False))
    t = torch.tensor(data, dtype=None if dt is None else getattr(torch, dt),
                     requires_grad=kw.get("requires_grad", False))
    assert repr(n) == repr(t).replace("torch.", "numcnn.")


def test_repr_grad_fn_and_wide_rows() -> None:
    w = numcnn.tensor([1.0], requires_grad=True)
    assert repr(w * 2).startswith("tensor([2.], grad_fn=<")
    x = random_array((3, 30), np.float32, seed=1)
    assert repr(numcnn.tensor(x)) == repr(torch.tensor(x))


# ------------------------------------------------------------------------------- arithmetic

SHAPE_PAIRS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (3,)), ((5,), ()),
               ((1,), (2, 3))]
BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "pow": lambda a, b: a ** b,
    "add_alpha": lambda a, b: a.add(b, alpha=2), "sub_alpha": lambda a, b: a.sub(b, alpha=3),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", list(BINARY))
@pytest.mark.parametrize("shapes", SHAPE_PAIRS)
def test_binary_broadcast_forward_and_grads(op, shapes, dtype) -> None:
    a = random_array(shapes[0], dtype, seed=1, low=0.5, high=2.0)
    b = random_array(shapes[1], dtype, seed=2, low=0.5, high=2.0)
    if op in ("add", "sub", "mul"):
        b = b - 1.2                                  # signs mixed where the formula allows
    compare(lambda F, x, y: BINARY[op](x, y), [a, b])


SCALAR_OPS = [lambda x: x + 2, lambda x: 2 + x, lambda x: x - 0.5, lambda x: 3 - x,
              lambda x: x * 1.5, lambda x: 2 * x, lambda x: x / 3, lambda x: 2 / x,
              lambda x: x ** 2, lambda x: x ** 0.5, lambda x: 2 ** x, lambda x: x ** -1.5,
              lambda x: -x, lambda x: +x * 1, lambda x: x * np.float64(2.0),
              lambda x: x.square(), lambda x: x.neg(), lambda x: x.rsqrt()]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", range(len(SCALAR_OPS)))
def test_scalar_operands_keep_dtype(k, dtype) -> None:
    x = random_array((3, 2), dtype, seed=3, low=0.5, high=2.0)
    compare(lambda F, t: SCALAR_OPS[k](t), [x])


@pytest.mark.parametrize("left,right", [
    ([1, 2], 0.5), ([1, 2], [2, 4]), ([True, False], 1.5), ([1, 2], [0.5, 1.0]),
    ([3, 4], 2), ([True, False], 1),
])
def test_type_promotion_like_torch(left, right) -> None:
    ops = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a / b, lambda a, b: b / a]
    if not isinstance(left[0], bool):            # torch refuses to subtract bools
        ops.append(lambda a, b: b - a)
    for op in ops:
        n = op(numcnn.tensor(left), numcnn.tensor(right) if isinstance(right, list) else right)
        t = op(torch.tensor(left), torch.tensor(right) if isinstance(right, list) else right)
        assert n.dtype.name == tname(t), (left, right)
        np.testing.assert_allclose(n.array, t.numpy(), rtol=1e-6)


def test_mixed_float_dtypes_promote() -> None:
    compare(lambda F, a, b: a * b + a, [random_array((3,), np.float32),
                                        random_array((3,), np.float64)])


MATMUL_SHAPES = [((3, 4), (4, 5)), ((4,), (4,)), ((4,), (4, 5)), ((3, 4), (4,)),
                 ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)),
                 ((4,), (2, 4, 5)), ((2, 3, 4), (4,)), ((1, 4), (3, 4, 1))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", MATMUL_SHAPES)
def test_matmul(shapes, dtype) -> None:
    a, b = random_array(shapes[0], dtype, 4), random_array(shapes[1], dtype, 5)
    compare(lambda F, x, y: x @ y, [a, b])
    compare(lambda F, x, y: lib(F).matmul(x, y), [a, b])


def test_rmatmul_with_ndarray() -> None:
    a, b = random_array((2, 3), seed=1), random_array((3,), seed=2)
    assert_close(a @ numcnn.tensor(b), a @ b)
    assert_close(numcnn.tensor(a).mm(numcnn.tensor(b[:, None])), a @ b[:, None])


def test_ndarray_on_the_left_defers_to_tensor() -> None:
    x = numcnn.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], dtype=np.float32) * x
    assert isinstance(y, numcnn.Tensor) and y.requires_grad
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 4.0]


# ------------------------------------------------------------------------------- in-place


@pytest.mark.parametrize("name,arg", [("add_", 2.0), ("sub_", 1.5), ("mul_", 3.0),
                                      ("div_", 4.0), ("pow_", 2.0), ("clamp_", None),
                                      ("zero_", None), ("fill_", 0.25), ("copy_", None)])
def test_in_place_ops_like_torch(name, arg) -> None:
    data = random_array((3, 4), np.float32, seed=6)
    other = random_array((4,), np.float32, seed=7)
    n, t = numcnn.tensor(data), torch.tensor(data)
    for x, mod in ((n, numcnn), (t, torch)):
        if name == "clamp_":
            out = x.clamp_(-0.5, 0.5)
        elif name == "zero_":
            out = x.zero_()
        elif name == "copy_":
            out = x.copy_(mod.tensor(np.broadcast_to(other, (3, 4)).copy()))
        else:
            out = getattr(x, name)(arg)
        assert out is x
    assert_close(n, t, what=name)


def test_in_place_with_tensor_alpha_and_operators() -> None:
    n, t = numcnn.ones(2, 3), torch.ones(2, 3)
    n.add_(numcnn.tensor([1.0, 2.0, 3.0]), alpha=2)
    t.add_(torch.tensor([1.0, 2.0, 3.0]), alpha=2)
    n += 1
    t += 1
    n *= numcnn.tensor([[2.0], [3.0]])
    t *= torch.tensor([[2.0], [3.0]])
    n -= 0.5
    t -= 0.5
    n /= 2
    t /= 2
    n[0, 1] = 10.0
    t[0, 1] = 10.0
    n[1] = numcnn.tensor([7.0, 8.0, 9.0])
    t[1] = torch.tensor([7.0, 8.0, 9.0])
    assert_close(n, t)


def test_in_place_on_leaves_requiring_grad_raises() -> None:
    w = numcnn.ones(3, requires_grad=True)
    for f in (lambda: w.add_(1), lambda: w.mul_(2), lambda: w.zero_(), lambda: w.fill_(1.0),
              lambda: w.__setitem__(0, 5.0), lambda: w.copy_(numcnn.zeros(3))):
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            f()
    with pytest.raises(RuntimeError):                 # torch raises here too
        torch.ones(3, requires_grad=True).add_(1)
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        w[1:].mul_(2)
    y = w * 2                                         # a non-leaf: recorded (tests/autograd)
    assert y.add_(1) is y and y.grad_fn.name() == "AddBackward"
    with numcnn.no_grad():                            # the optimiser's way
        w.sub_(numcnn.tensor([0.5, 0.5, 0.5]))
        w[0] = 3.0
    assert w.tolist() == [3.0, 0.5, 0.5] and w.requires_grad and w.is_leaf


# ------------------------------------------------------------------------------- comparisons


@pytest.mark.parametrize("op", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparisons(op) -> None:
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]], dtype=np.float32)
    b = np.array([2.0, 2.0, 2.0], dtype=np.float32)
    for other_n, other_t in ((numcnn.tensor(b), torch.tensor(b)), (2.0, 2.0), (2, 2)):
        n = getattr(numcnn.tensor(a), op)(other_n)
        t = getattr(torch.tensor(a), op)(other_t)
        assert n.dtype == numcnn.bool
        np.testing.assert_array_equal(n.array, t.numpy())
    sym = {"eq": "__eq__", "ne": "__ne__", "lt": "__lt__", "le": "__le__", "gt": "__gt__",
           "ge": "__ge__"}[op]
    np.testing.assert_array_equal(getattr(numcnn.tensor(a), sym)(1.5).array,
                                  getattr(torch.tensor(a), sym)(1.5).numpy())


def test_logical_and_misc_predicates() -> None:
    a, b = numcnn.tensor([True, False, True]), numcnn.tensor([True, True, False])
    assert (a & b).tolist() == [True, False, False] and (a | b).tolist() == [True, True, True]
    assert (~a).tolist() == [False, True, False]
    x = numcnn.tensor([1.0, float("nan"), float("inf")])
    assert x.isnan().tolist() == [False, True, False]
    assert x.isfinite().tolist() == [True, False, False]
    assert numcnn.tensor([1.0, 2.0]).equal(numcnn.tensor([1.0, 2.0]))
    assert numcnn.allclose(numcnn.tensor([1.0]), numcnn.tensor([1.0 + 1e-7]))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(numcnn.tensor([1.0, 2.0]))


# ------------------------------------------------------------------------------- reductions

REDUCE_DIMS = [None, 0, 1, -1, (0, 2), (-1, 0)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", REDUCE_DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", ["sum", "mean"])
def test_sum_mean(name, dim, keepdim, dtype) -> None:
    x = random_array((3, 4, 5), dtype, seed=8)
    if dim is None:
        compare(lambda F, t: getattr(t, name)(), [x])
    else:
        compare(lambda F, t: getattr(t, name)(dim, keepdim), [x])
        compare(lambda F, t: getattr(t, name)(dim=dim, keepdim=keepdim), [x])


def test_sum_of_ints_and_bools() -> None:
    for data in ([1, 2, 3], [True, True, False]):
        n, t = numcnn.tensor(data).sum(), torch.tensor(data).sum()
        assert n.dtype.name == tname(t) and n.item() == t.item()
    with pytest.raises(RuntimeError):
        numcnn.tensor([1, 2]).mean()
    assert numcnn.sum(numcnn.ones(2, 3), 1).tolist() == [3.0, 3.0]
    assert numcnn.mean(numcnn.ones(2, 3)).item() == 1.0


VAR_ARGS = [{}, {"unbiased": False}, {"unbiased": True}, {"correction": 0}, {"correction": 2},
            {"dim": 1}, {"dim": (0, 2), "keepdim": True}, {"dim": -1, "unbiased": False},
            {"dim": 0, "correction": 0, "keepdim": True}]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", VAR_ARGS)
@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std(name, kw, dtype) -> None:
    x = random_array((3, 4, 5), dtype, seed=9)
    compare(lambda F, t: getattr(t, name)(**kw), [x])


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_var_of_one_element_is_nan_like_torch() -> None:
    with np.errstate(all="ignore"):
        n = numcnn.tensor([2.0]).var()
    assert np.isnan(n.item()) and np.isnan(torch.tensor([2.0]).var().item())


TIES = np.array([[1.0, 3.0, 3.0, -1.0], [2.0, 2.0, 0.0, 2.0], [5.0, 4.0, 4.0, 5.0]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["max", "min", "amax", "amin"])
def test_full_max_min_ties_share_gradient(name, dtype) -> None:
    compare(lambda F, t: getattr(t, name)(), [TIES.astype(dtype)])
    w = numcnn.tensor(TIES, requires_grad=True)
    w.max().backward()
    assert w.grad.tolist()[2] == [0.5, 0, 0, 0.5]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_dim_gradient_to_returned_index(name, dim, keepdim, dtype) -> None:
    x = TIES.astype(dtype)
    compare(lambda F, t: tuple(getattr(t, name)(dim, keepdim)), [x])
    compare(lambda F, t: tuple(getattr(t, name)(dim=dim, keepdim=keepdim)), [x])
    rand = random_array((3, 4, 5), dtype, seed=10)
    compare(lambda F, t: tuple(getattr(t, name)(dim, keepdim)), [rand])


@pytest.mark.parametrize("dim", [0, 1, (0, 1), -1])
@pytest.mark.parametrize("name", ["amax", "amin"])
def test_amax_dim_ties_share_evenly(name, dim) -> None:
    compare(lambda F, t: getattr(t, name)(dim), [TIES])
    compare(lambda F, t: getattr(t, name)(dim, keepdim=True), [TIES])


def test_max_with_other_tensor() -> None:
    a, b = random_array((3,), seed=1), random_array((3,), seed=2)
    compare(lambda F, x, y: x.max(y) + x.min(y), [a, b])


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin(name) -> None:
    x = np.concatenate([TIES, random_array((2, 4), seed=11)])
    for kw in ({}, {"dim": 0}, {"dim": 1}, {"dim": -1, "keepdim": True}):
        n, t = getattr(numcnn.tensor(x), name)(**kw), getattr(torch.tensor(x), name)(**kw)
        assert n.dtype == numcnn.int64
        np.testing.assert_array_equal(n.array, t.numpy())


def test_reduction_dim_errors() -> None:
    x = numcnn.zeros(2, 3)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.sum(2)
    with pytest.raises(RuntimeError, match="multiple times"):
        x.sum((1, -1))
    with pytest.raises(RuntimeError):
        numcnn.zeros(0).max()


# ------------------------------------------------------------------------------- shape ops

SHAPE_FNS = {
    "reshape": lambda t: t.reshape(4, -1), "reshape_tuple": lambda t: t.reshape((-1, 2, 3)),
    "view": lambda t: t.view(2, 12), "flatten": lambda t: t.flatten(),
    "flatten_1": lambda t: t.flatten(1), "flatten_0_1": lambda t: t.flatten(0, 1),
    "permute": lambda t: t.permute(2, 0, 1), "permute_neg": lambda t: t.permute(-1, 1, 0),
    "transpose": lambda t: t.transpose(0, 2), "transpose_neg": lambda t: t.transpose(-1, -2),
    "squeeze_all": lambda t: t.reshape(2, 1, 3, 1, 4).squeeze(),
    "squeeze_dim": lambda t: t.reshape(2, 1, 3, 1, 4).squeeze(1),
    "squeeze_noop": lambda t: t.squeeze(0), "squeeze_neg": lambda t: t.reshape(2, 3, 4, 1)
    .squeeze(-1), "squeeze_tuple": lambda t: t.reshape(1, 2, 1, 12).squeeze((0, 2)),
    "unsqueeze": lambda t: t.unsqueeze(1), "unsqueeze_neg": lambda t: t.unsqueeze(-1),
    "expand": lambda t: t[:, :1].expand(2, 5, 4), "expand_lead": lambda t: t[0, 0]
    .expand(3, 2, 4), "expand_minus1": lambda t: t[:, :, :1].expand(-1, -1, 6),
    "repeat": lambda t: t.repeat(2, 1, 3), "repeat_lead": lambda t: t[0].repeat(2, 2, 1),
    "flip": lambda t: t.flip(0), "flip_many": lambda t: t.flip((1, 2)),
    "T2d": lambda t: t[0].T, "t": lambda t: t[0].t(), "mT": lambda t: t.mT,
    "unflatten": lambda t: t.unflatten(2, (2, 2)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(SHAPE_FNS))
def test_shape_ops(name, dtype) -> None:
    x = random_array((2, 3, 4), dtype, seed=12)
    compare(lambda F, t: SHAPE_FNS[name](t), [x])


def test_view_as_expand_as() -> None:
    x = random_array((2, 3, 4), seed=12)
    compare(lambda F, t: t.view_as(lib(F).zeros(4, 6)), [x])
    compare(lambda F, t: t.reshape_as(lib(F).zeros(24)), [x])
    compare(lambda F, t: t[:, :1].expand_as(lib(F).zeros(5, 2, 3, 4)), [x])


def test_shape_errors() -> None:
    x = numcnn.zeros(2, 3)
    with pytest.raises(RuntimeError, match="invalid for input of size"):
        x.reshape(4, 2)
    with pytest.raises(RuntimeError):
        x.reshape(-1, -1)
    with pytest.raises(RuntimeError, match="expanded size"):
        x.expand(3, 3)
    with pytest.raises(RuntimeError):
        x.permute(1, 0, 2)
    with pytest.raises(RuntimeError):
        x.flatten(1, 0)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_stack(dim) -> None:
    a, b = random_array((2, 3), seed=1), random_array((2, 3), seed=2)
    c = random_array((2, 3), seed=3)
    compare(lambda F, x, y, z: lib(F).cat([x, y, z], dim), [a, b, c])
    compare(lambda F, x, y, z: lib(F).stack([x, y, z], dim), [a, b, c])
    compare(lambda F, x, y: lib(F).stack((x, y), dim=-1), [a, b])


def test_cat_uneven_and_errors() -> None:
    a, b = random_array((2, 3), seed=1), random_array((2, 5), seed=2)
    compare(lambda F, x, y: lib(F).cat([x, y], 1), [a, b])
    compare(lambda F, x, y: lib(F).concat([x, y], -1), [a, b])
    with pytest.raises(RuntimeError, match="Sizes of tensors must match"):
        numcnn.cat([numcnn.tensor(a), numcnn.tensor(b)], 0)
    with pytest.raises(RuntimeError, match="equal size"):
        numcnn.stack([numcnn.tensor(a), numcnn.tensor(b)])


@pytest.mark.parametrize("args", [(2, 0), (2, 1), (3, -1), ([1, 4], 1), ([2, 1, 2], -1),
                                  (1, 0), (5, 1)])
def test_split(args) -> None:
    x = random_array((3, 5), seed=13)
    compare(lambda F, t: tuple(t.split(*args)), [x])


@pytest.mark.parametrize("chunks,dim", [(2, 0), (2, 1), (3, 1), (5, 1), (4, 0), (6, 1)])
def test_chunk(chunks, dim) -> None:
    x = random_array((3, 5), seed=14)
    compare(lambda F, t: tuple(t.chunk(chunks, dim)), [x])
    with pytest.raises(RuntimeError):
        numcnn.tensor(x).split([1, 1], 0)


# ------------------------------------------------------------------------------- indexing

INDEXES = [1, -1, slice(1, 3), slice(None, None, 2), (Ellipsis, 1), (None, slice(None), 0),
           (slice(None), None), (1, slice(None), slice(1, None, 2)), (Ellipsis, None),
           ([0, 0, 2],), ([0, 2, 0, 1],), (slice(None), [1, 1, 3]),
           ([0, 1, 1], [1, 2, 2]), ([[0, 1], [1, 1]],), (slice(1, None), [0, 0, 1], 2),
           (Ellipsis, [3, 3])]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", range(len(INDEXES)))
def test_indexing(k, dtype) -> None:
    x = random_array((3, 4, 5), dtype, seed=15)
    idx = INDEXES[k]
    compare(lambda F, t: t[idx], [x])


def test_index_with_tensors_and_repeats_accumulate() -> None:
    x = random_array((4, 3), seed=16)
    idx = np.array([1, 1, 1, 3])
    compare(lambda F, t: t[lib(F).tensor(idx)], [x])
    w = numcnn.tensor(x, requires_grad=True)
    w[numcnn.tensor(idx)].sum().backward()
    assert w.grad.array[:, 0].tolist() == [0.0, 3.0, 0.0, 1.0]


def test_boolean_masks() -> None:
    x = random_array((3, 4), seed=17)
    compare(lambda F, t: t[t > 0], [x])
    rows = np.array([True, False, True])
    compare(lambda F, t: t[lib(F).tensor(rows)], [x])
    compare(lambda F, t: t[:, lib(F).tensor(np.array([True, False, False, True]))], [x])
    compare(lambda F, t: t[lib(F).tensor(x > 0.5)] * 2, [x])


def test_negative_step_slices() -> None:
    """torch has no negative steps: the oracle is NumPy's slicing and torch.flip's gradient."""
    x = random_array((5, 4), seed=18)
    w = numcnn.tensor(x, requires_grad=True)
    y = w[::-1, 3:0:-2]
    assert_close(y, x[::-1, 3:0:-2])
    g = random_array(y.shape, seed=19)
    y.backward(numcnn.tensor(g))
    t = torch.tensor(x, requires_grad=True)
    torch.flip(t, (0, 1))[:, 0:3:2].backward(torch.tensor(g))
    assert_close(w.grad, t.grad)


def test_index_errors() -> None:
    x = numcnn.zeros(2, 3)
    with pytest.raises(IndexError):
        x[5]
    with pytest.raises(IndexError):
        x[0, 0, 0]


def test_iteration_and_len() -> None:
    x = numcnn.tensor([[1, 2], [3, 4]])
    assert [r.tolist() for r in x] == [[1, 2], [3, 4]]
    with pytest.raises(TypeError):
        iter(numcnn.tensor(1.0))


# ------------------------------------------------------------------------------- elementwise math

UNARY = {
    "exp": lambda t: t.exp(), "log": lambda t: t.log(), "sqrt": lambda t: t.sqrt(),
    "abs": lambda t: t.abs(), "clamp_both": lambda t: t.clamp(-0.5, 0.5),
    "clamp_min": lambda t: t.clamp(min=0.0), "clamp_max": lambda t: t.clamp(max=0.25),
    "clip": lambda t: t.clip(-1, 1), "abs_op": lambda t: abs(t),
    "norm": lambda t: t.norm(), "norm_1": lambda t: t.norm(1, dim=1), "norm_3": lambda t: t.norm(3),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(UNARY))
def test_unary(name, dtype) -> None:
    x = random_array((3, 4), dtype, seed=20)
    if name in ("log", "sqrt"):
        x = np.abs(x) + 0.1
    compare(lambda F, t: UNARY[name](t), [x])


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "abs"])
def test_top_level_functions(name) -> None:
    x = np.abs(random_array((5,), seed=21)) + 0.1
    compare(lambda F, t: getattr(lib(F), name)(t), [x])
    compare(lambda F, t: lib(F).clamp(t, 0.5, 1.0) + lib(F).clip(t, max=0.7), [x])


def test_edge_gradients_like_torch() -> None:
    """clamp at its bounds passes the gradient (inclusive), |x| at 0 has gradient 0,
    maximum/minimum at ties give each side half."""
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
    compare(lambda F, t: t.clamp(-0.5, 0.5), [x])
    compare(lambda F, t: t.clamp(min=0.0), [x])
    compare(lambda F, t: t.abs(), [x])
    w = numcnn.tensor(x, requires_grad=True)
    w.clamp(-0.5, 0.5).sum().backward()
    assert w.grad.tolist() == [0, 1, 1, 1, 0, 0]
    a = np.array([1.0, 2.0, 3.0, 4.0])
    b = np.array([1.0, 3.0, 3.0, 0.0])
    compare(lambda F, p, q: lib(F).maximum(p, q), [a, b])
    compare(lambda F, p, q: lib(F).minimum(p, q), [a, b])
    w, v = numcnn.tensor(a, requires_grad=True), numcnn.tensor(b, requires_grad=True)
    numcnn.maximum(w, v).sum().backward()
    assert w.grad.tolist() == [0.5, 0, 0.5, 1] and v.grad.tolist() == [0.5, 1, 0.5, 0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_maximum_minimum_broadcast(dtype) -> None:
    a, b = random_array((3, 1), dtype, seed=22), random_array((4,), dtype, seed=23)
    compare(lambda F, p, q: lib(F).maximum(p, q) * lib(F).minimum(q, p), [a, b])


@pytest.mark.parametrize("dtype", DTYPES)
def test_where(dtype) -> None:
    a, b = random_array((3, 4), dtype, seed=24), random_array((4,), dtype, seed=25)
    cond = random_array((3, 4), seed=26) > 0
    compare(lambda F, p, q: lib(F).where(lib(F).tensor(cond), p, q), [a, b])
    compare(lambda F, p: lib(F).where(p > 0, p, 0.0), [a])
    compare(lambda F, p, q: p.where(lib(F).tensor(cond), q), [a, b])
    with pytest.raises(RuntimeError, match="boolean"):       # torch: RuntimeError too
        numcnn.where(numcnn.tensor([1, 0]), numcnn.zeros(2), numcnn.ones(2))


def test_no_silent_upcast_float32() -> None:
    x = numcnn.randn(3, 4, requires_grad=True)
    y = ((x * 2.5 + 1) / 3 - x.exp() * x.abs().sqrt() + x.clamp(0, 1) ** 2).sum(1).mean()
    assert y.dtype == numcnn.float32
    y.backward()
    assert x.grad.dtype == numcnn.float32
