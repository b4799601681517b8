"""In-place ops inside the graph, version counters, views and `.data`, against PyTorch.

Each case runs the same program on numcnn and on torch (float64, same inputs) and compares
the outputs and every gradient; the error cases check that numcnn refuses where torch does.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
import torch

import numcnn
import numcnn.nn.functional as F


def _pair(*shapes: tuple[int, ...], seed: int = 0) -> tuple[list[Any], list[Any]]:
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    ours = [numcnn.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return ours, theirs


def _same(program: Callable[[Any, Any, list[Any]], Any], *shapes: tuple[int, ...]) -> None:
    """Run `program(lib, functional, leaves)` on both libraries; compare output and grads."""
    ours, theirs = _pair(*shapes)
    out_n = program(numcnn, F, ours)
    out_t = program(torch, torch.nn.functional, theirs)
    np.testing.assert_allclose(out_n.detach().numpy(), out_t.detach().numpy(), rtol=1e-12)
    rng = np.random.default_rng(1)
    g = rng.standard_normal(tuple(out_t.shape))
    out_n.backward(numcnn.tensor(g))
    out_t.backward(torch.tensor(g))
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if b.grad is None:
            assert a.grad is None or not np.any(a.grad.numpy()), f"leaf {i}: torch has no grad"
        else:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12,
                                       err_msg=f"gradient of leaf {i}")


# ------------------------------------------------------------------ recorded in-place ops
def test_residual_add_in_place() -> None:
    def block(lib: Any, fn: Any, p: list[Any]) -> Any:
        x, w1, w2 = p
        out = fn.conv2d(x, w1, padding=1)
        out = fn.relu(out, inplace=True)
        out = fn.conv2d(out, w2, padding=1)
        out += x                                 # the shortcut, as CIFAR ResNets write it
        return fn.relu(out, inplace=True)
    _same(block, (2, 3, 5, 5), (3, 3, 3, 3), (3, 3, 3, 3))


@pytest.mark.parametrize("op", ["add_", "sub_", "mul_", "div_", "pow_"])
def test_arithmetic_in_place_on_a_non_leaf(op: str) -> None:
    def prog(lib: Any, fn: Any, p: list[Any]) -> Any:
        x, y = p
        h = x * 1.5 + 2.0 if op == "pow_" else x * 1.5
        other = y.abs() + 0.5 if op in ("div_", "pow_") else y
        getattr(h, op)(other)
        return h * y
    _same(prog, (3, 4), (3, 4))


def test_alpha_and_scalar_operands() -> None:
    def prog(lib: Any, fn: Any, p: list[Any]) -> Any:
        x, y = p
        h = x.exp()
        h = h * 1.0
        h.add_(y, alpha=-0.5).sub_(3.0).mul_(2).div_(4)
        return h
    _same(prog, (2, 3), (2, 3))


@pytest.mark.parametrize("name", ["relu_", "sigmoid_", "tanh_", "exp_", "abs_", "neg_"])
def test_unary_in_place(name: str) -> None:
    def prog(lib: Any, fn: Any, p: list[Any]) -> Any:
        (x,) = p
        h = x * 2.0
        return getattr(h, name)() * 3.0
    _same(prog, (4, 5))


def test_clamp_in_place_and_functional_inplace_flags() -> None:
    def prog(lib: Any, fn: Any, p: list[Any]) -> Any:
        (x,) = p
        h = x * 2.0
        h.clamp_(-0.5, 0.7)
        fn.hardtanh(h, -0.3, 0.3, inplace=True)
        fn.leaky_relu(h, 0.1, inplace=True)      # torch saves this output: nothing may follow
        g = x * 0.5
        fn.elu(g, inplace=True)
        return h + g
    _same(prog, (6, 7))


def test_functional_relu_inplace_result_discarded_changes_input() -> None:
    def prog(lib: Any, fn: Any, p: list[Any]) -> Any:
        (x,) = p
        h = x - 0.1
        fn.relu(h, inplace=True)                 # the return value is thrown away
        return h * h
    _same(prog, (3, 8))
    h = numcnn.tensor([-1.0, 2.0])
    numcnn.nn.ReLU(inplace=True)(h)
    assert h.tolist() == [0.0, 2.0]


def test_setitem_on_an_intermediate() -> None:
    def prog(lib: Any, fn: Any, p: list[Any]) -> Any:
        x, v = p
        y = x * 3.0
        y[0] = 0
        y[1, 1:3] = v[0, :2]
        y[y > 1.0] = 1.0
        return y * x
    _same(prog, (3, 4), (2, 4))


def test_setitem_into_a_plain_buffer_pulls_it_into_the_graph() -> None:
    def prog(lib: Any, fn: Any, p: list[Any]) -> Any:
        (w,) = p
        buf = lib.zeros(4, 3, dtype=lib.float64)
        buf[1:3] = w * 2.0
        buf[:, 0] = w[0, 1]
        return buf.exp()
    _same(prog, (2, 3))


def test_fill_and_copy_give_zero_gradient_to_the_old_values() -> None:
    def prog(lib: Any, fn: Any, p: list[Any]) -> Any:
        x, s = p
        h = x * 2.0
        h[0].fill_(7.0)
        h[1].copy_(s[0])
        g = x * 1.0
        g.zero_()
        return h + g
    _same(prog, (3, 4), (1, 4))


def test_write_through_views_reaches_the_base_and_its_gradient() -> None:
    def prog(lib: Any, fn: Any, p: list[Any]) -> Any:
        x, w = p
        y = x * 1.0
        row = y[1]
        row.mul_(w[0])                           # through a basic-index view
        y.view(3, 4).t()[0].add_(2.0)            # through a view of a view of a view
        y.transpose(0, 1)[2:, :2].mul_(w[1, :2])
        return y * y
    _same(prog, (3, 4), (2, 4))
    y = numcnn.zeros(2, 3)
    y[0].add_(1.0)
    y.t()[2].fill_(5.0)
    assert y.tolist() == [[1.0, 1.0, 5.0], [0.0, 0.0, 5.0]]


def test_view_after_base_changed_in_place() -> None:
    def prog(lib: Any, fn: Any, p: list[Any]) -> Any:
        (x,) = p
        y = x * 2.0
        v = y.view(-1)
        v.mul_(x.view(-1))
        return y.sum(1) + v[:4]
    _same(prog, (4, 4))


# ------------------------------------------------------------------ version counters
def test_modifying_a_saved_output_raises_at_backward() -> None:
    x = numcnn.randn(3, requires_grad=True)
    y = x.exp()                                  # exp saves its output
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*output 0 of "
                       r"ExpBackward.*is at version 1; expected version 0"):
        y.sum().backward()
    tx = torch.randn(3, requires_grad=True)
    ty = tx.exp()
    ty.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        ty.sum().backward()


def test_modifying_a_saved_input_raises_and_names_the_tensor() -> None:
    a = numcnn.randn(2, 3, requires_grad=True)
    h = a * 1.0
    out = h * a                                  # mul saves h
    h.zero_()
    with pytest.raises(RuntimeError, match=r"\[numcnn.float32 \[2, 3\]\], which is output 0 "
                       r"of MulBackward"):
        out.sum().backward()


def test_no_grad_write_to_a_saved_tensor_is_still_caught() -> None:
    w = numcnn.randn(4, requires_grad=True)
    x = numcnn.randn(4)
    out = (w * x).sum()                          # saves x
    with numcnn.no_grad():
        x.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.backward()


def test_detach_shares_the_version_counter_and_data_does_not() -> None:
    x = numcnn.randn(3, requires_grad=True)
    y = x.exp()
    y.detach().add_(1)                           # torch: counted, so backward raises
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    x.grad = None
    y = x.exp()
    y.data.add_(1)                               # .data: not counted (torch's escape hatch)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.detach().numpy(), rtol=1e-6)
    assert y._version == 0


def test_versions_count_writes_and_views_share_them() -> None:
    t = numcnn.zeros(4)
    v = t[1:3]
    assert t._version == 0
    t.add_(1)
    v.mul_(2)
    v[0] = 5
    assert t._version == v._version == 3
    assert t.tolist() == [1.0, 5.0, 2.0, 1.0]
    tt = torch.zeros(4)
    tv = tt[1:3]
    tt.add_(1)
    tv.mul_(2)
    tv[0] = 5
    assert tt._version == 3


def test_ops_that_do_not_save_the_modified_tensor_allow_it() -> None:
    x = numcnn.randn(3, 3, requires_grad=True)
    y = x + 1.0                                  # add saves nothing
    y.mul_(2)
    z = y.relu()                                 # relu saves a mask, not y
    y.add_(1)
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * ((x.detach().numpy() + 1.0) > 0))


# ------------------------------------------------------------------ refusals
def test_leaf_and_view_of_leaf_refuse() -> None:
    w = numcnn.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        w.relu_()
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        F.relu(w, inplace=True)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable"):
        w[:2].zero_()
    with numcnn.no_grad():
        w.mul_(3)
        w[:2].zero_()
    assert w.tolist() == [0.0, 0.0, 3.0] and w.is_leaf and w.requires_grad


def test_dtype_and_shape_errors_as_torch() -> None:
    i = numcnn.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="result type .* can't be cast to the desired output "
                       "type Long"):
        i.add_(0.5)
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2, 3]).add_(0.5)
    f = numcnn.zeros(3)
    with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the "
                       r"broadcast shape \[2, 3\]"):
        f.add_(numcnn.ones(2, 3))
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        numcnn.zeros(1, 3).expand(4, 3).add_(1)
    f32 = numcnn.zeros(2)
    f32.add_(numcnn.ones(2, dtype=numcnn.float64))   # same kind: allowed, stays float32
    assert f32.dtype == numcnn.float32 and f32.tolist() == [1.0, 1.0]


# ------------------------------------------------------------------ .data, view, contiguous
def test_data_is_a_tensor_on_the_same_storage() -> None:
    p = numcnn.nn.Parameter(numcnn.ones(2, 3))
    d = p.data
    assert isinstance(d, numcnn.Tensor) and not d.requires_grad and d.grad_fn is None
    p.data.sub_(0.5 * numcnn.ones(2, 3))        # the classic manual SGD step
    assert p.tolist() == [[0.5] * 3] * 2 and p.is_leaf and p.requires_grad
    assert p.data.size() == (2, 3) and p.data.numpy() is not None
    values, idx = numcnn.tensor([[1.0, 5.0], [7.0, 2.0]]).data.max(1)
    assert values.tolist() == [5.0, 7.0] and idx.tolist() == [1, 0]
    p.data = numcnn.zeros(4)                     # rebinding the storage, as torch allows
    assert p.shape == (4,) and p.requires_grad


def test_view_refuses_where_torch_does_and_contiguous_copies() -> None:
    x = numcnn.arange(6).reshape(2, 3)
    xt = x.t()
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        xt.view(6)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        torch.arange(6).reshape(2, 3).t().view(6)
    assert xt.reshape(6).tolist() == [0, 3, 1, 4, 2, 5]
    c = xt.contiguous()
    c[0, 0] = 100
    assert x[0, 0].item() == 0                   # a copy: writing it leaves x alone
    same = x.contiguous()
    assert same is x
    v = x.view(3, 2)
    v[0, 0] = 9
    assert x[0, 0].item() == 9                   # a view: writing it changes x


def test_flip_copies_as_torch() -> None:
    x = numcnn.arange(4)
    y = x.flip(0)
    y[0] = 10
    assert x.tolist() == [0, 1, 2, 3]


def test_sibling_views_see_a_write_through_another_view_or_the_base() -> None:
    def overlapping(lib: Any, fn: Any, p: list[Any]) -> Any:
        (x,) = p
        y = x * 1.0
        v2, v1 = y[0], y[0]                      # v2 made before the write through v1
        v1.mul_(3)
        return v2 * 2.0
    _same(overlapping, (2, 3))

    def through_base(lib: Any, fn: Any, p: list[Any]) -> Any:
        x, w = p
        y = x * 2.0
        col = y[:, 1]
        y.mul_(w)                                # the base itself written after the view
        return col * col
    _same(through_base, (3, 4), (3, 4))

    def plain_buffer(lib: Any, fn: Any, p: list[Any]) -> Any:
        (w,) = p
        buf = lib.zeros(2, 3, dtype=lib.float64)
        late = buf[1]                            # does not require grad when made
        buf[0].copy_(w * 2.0)
        buf[1].copy_(w)
        return late * buf[0]
    _same(plain_buffer, (3,))


def test_indexing_in_place_forms_inside_the_graph() -> None:
    def prog(lib: Any, fn: Any, p: list[Any]) -> Any:
        x, s = p
        y = x * 2.0
        y.masked_fill_(x > 0.5, 0.25)
        idx = lib.tensor([[0, 2, 1, 0], [2, 0, 0, 1]])
        y.scatter_add_(0, idx, s)
        y.index_add_(0, lib.tensor([2, 0]), s, alpha=0.5)
        return y * x
    _same(prog, (3, 4), (2, 4))


@pytest.mark.parametrize("name,args", [
    ("sub_", (0.5,)), ("mul_", (1.5,)), ("div_", (2.0,)), ("pow_", (2,)), ("clamp_", (-0.3, 0.4)),
    ("clamp_min_", (0.1,)), ("clamp_max_", (0.2,)), ("neg_", ()), ("abs_", ()), ("square_", ()),
    ("exp_", ()), ("expm1_", ()), ("sin_", ()), ("cos_", ()), ("tan_", ()), ("erf_", ()),
    ("sigmoid_", ()), ("tanh_", ()), ("relu_", ()), ("reciprocal_", ()),
    ("floor_", ()), ("round_", ()), ("trunc_", ()), ("frac_", ()), ("sign_", ())])
def test_in_place_method_table(name: str, args: tuple[Any, ...]) -> None:
    def prog(lib: Any, fn: Any, p: list[Any]) -> Any:
        (x,) = p
        h = x * 0.9 + 0.05
        getattr(h, name)(*args)
        return h * x
    _same(prog, (3, 5))


def test_in_place_positive_only_methods() -> None:
    for name in ("log_", "log1p_", "sqrt_", "rsqrt_"):
        def prog(lib: Any, fn: Any, p: list[Any], name: str = name) -> Any:
            (x,) = p
            h = x * x + 0.5
            getattr(h, name)()
            return h * x
        _same(prog, (2, 3))
    for lib in (numcnn, torch):
        i = lib.tensor([5, 7, -3])
        i %= 3
        i //= 2
        assert i.tolist() == [1, 0, 0]
