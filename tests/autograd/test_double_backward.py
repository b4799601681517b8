"""Double backward (create_graph=True) against PyTorch, float64.

For each op: g = d out / d inputs (with a random upstream v, create_graph=True), then a scalar
s = sum_i <g_i, r_i> + 1/2 |g_i|^2 of those gradients, and ds / d inputs.  Both the first-order
gradients and the second-order ones are compared with torch's (rtol 1e-8).  Inputs are random
and kept away from kinks (relu at 0, max-pool ties, hardtanh edges).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pytest
import torch

import numcnn
import numcnn.nn.functional as NF
from numcnn import autograd

torch.set_num_threads(1)
TF = torch.nn.functional
RTOL, ATOL = 1e-8, 1e-10


def _close(a: Any, e: Any, what: str) -> None:
    a = a.detach().numpy() if isinstance(a, (numcnn.Tensor, torch.Tensor)) else a
    e = e.detach().numpy() if isinstance(e, (numcnn.Tensor, torch.Tensor)) else e
    np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=RTOL, atol=ATOL, err_msg=what)


def double_backward(fn: Callable[..., Any], arrays: Sequence[Any], seed: int = 0,
                    wrt: Sequence[int] | None = None) -> None:
    """Compare out, d out/d x (recorded) and d s(grads)/d x between numcnn and torch."""
    rng = np.random.default_rng(seed)
    wrt = [i for i, a in enumerate(arrays) if isinstance(a, np.ndarray) and a.dtype.kind == "f"] \
        if wrt is None else list(wrt)
    n_in = [numcnn.tensor(a.copy(), requires_grad=i in wrt) if isinstance(a, np.ndarray) else a
            for i, a in enumerate(arrays)]
    t_in = [torch.tensor(a.copy(), requires_grad=i in wrt) if isinstance(a, np.ndarray) else a
            for i, a in enumerate(arrays)]
    n_out, t_out = fn(NF, *n_in), fn(TF, *t_in)
    _close(n_out, t_out, "forward")
    v = rng.standard_normal(tuple(t_out.shape))
    n_v, t_v = numcnn.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)
    n_x = [n_in[i] for i in wrt]
    t_x = [t_in[i] for i in wrt]
    n_g = autograd.grad(n_out, n_x, n_v, create_graph=True)
    t_g = torch.autograd.grad(t_out, t_x, t_v, create_graph=True)
    n_s: Any = 0.0
    t_s: Any = 0.0
    for k, (a, b) in enumerate(zip(n_g, t_g)):
        _close(a, b, f"first-order gradient {k}")
        r = rng.standard_normal(tuple(b.shape))
        n_s = n_s + (a * numcnn.tensor(r)).sum() + 0.5 * (a * a).sum()
        t_s = t_s + (b * torch.tensor(r)).sum() + 0.5 * (b * b).sum()
    # the second derivatives, and the gradient's derivative with respect to the upstream v
    n_h = autograd.grad(n_s, n_x + [n_v], allow_unused=True)
    t_h = torch.autograd.grad(t_s, t_x + [t_v], allow_unused=True)
    for k, (a, b, x) in enumerate(zip(n_h, t_h, t_x + [t_v])):
        a = np.zeros(x.shape) if a is None else a.numpy()
        b = np.zeros(x.shape) if b is None else b.numpy()
        _close(a, b, f"second-order gradient {k}")


def _r(*shape: int, seed: int = 1, scale: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed + 100 * len(shape)).standard_normal(shape) * scale


# ----------------------------------------------------------------------------- convolution
CONV2D = [
    dict(),
    dict(padding=1),
    dict(stride=2, padding=1),
    dict(stride=2, padding=(1, 0), dilation=(1, 2)),
    dict(padding="same", dilation=2),
    dict(groups=2, padding=1),
    dict(groups=4, stride=(2, 1)),                    # depthwise
    dict(stride=3, padding=2),                        # the last rows never visited
]


@pytest.mark.parametrize("kw", CONV2D, ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d(kw: dict[str, Any], bias: bool) -> None:
    g = kw.get("groups", 1)
    x, w = _r(2, 4, 7, 6), _r(4, 4 // g, 3, 3, seed=2)
    b = _r(4, seed=3) if bias else None
    double_backward(lambda F, x, w, b: F.conv2d(x, w, b, **kw), [x, w, b])


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(dilation=2, groups=3)],
                         ids=str)
def test_conv1d_conv3d(kw: dict[str, Any]) -> None:
    g = kw.get("groups", 1)
    double_backward(lambda F, x, w, b: F.conv1d(x, w, b, **kw),
                    [_r(2, 3, 11), _r(6, 3 // g, 3, seed=2), _r(6, seed=3)])
    double_backward(lambda F, x, w, b: F.conv3d(x, w, b, **kw),
                    [_r(2, 3, 5, 6, 5), _r(3, 3 // g, 2, 3, 2, seed=2), _r(3, seed=3)])


def test_conv2d_unbatched() -> None:
    double_backward(lambda F, x, w, b: F.conv2d(x, w, b, padding=1),
                    [_r(3, 5, 5), _r(2, 3, 3, 3, seed=2), _r(2, seed=3)])


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, output_padding=1),
                                dict(stride=2, groups=2, dilation=2),
                                dict(stride=3, output_padding=2)], ids=str)
def test_conv_transpose2d(kw: dict[str, Any]) -> None:
    g = kw.get("groups", 1)
    double_backward(lambda F, x, w, b: F.conv_transpose2d(x, w, b, **kw),
                    [_r(2, 4, 5, 4), _r(4, 6 // g, 3, 3, seed=2), _r(6, seed=3)])


def test_conv_transpose1d_3d() -> None:
    double_backward(lambda F, x, w, b: F.conv_transpose1d(x, w, b, stride=2, padding=1),
                    [_r(2, 3, 6), _r(3, 2, 3, seed=2), _r(2, seed=3)])
    double_backward(lambda F, x, w, b: F.conv_transpose3d(x, w, b, stride=2),
                    [_r(1, 2, 3, 3, 2), _r(2, 2, 2, 2, 2, seed=2), _r(2, seed=3)])


def test_conv_third_order() -> None:
    """Differentiating ConvInputGrad / ConvWeightGrad themselves (a third derivative)."""
    x = numcnn.tensor(_r(2, 3, 6, 6), requires_grad=True)
    w = numcnn.tensor(_r(4, 3, 3, 3, seed=2), requires_grad=True)
    tx, tw = torch.tensor(x.detach().numpy(), requires_grad=True), torch.tensor(w.detach().numpy(),
                                                                       requires_grad=True)
    outs = []
    for F, a, b, grad in ((NF, x, w, autograd.grad), (TF, tx, tw, torch.autograd.grad)):
        y = F.conv2d(a, b, padding=1, stride=2)
        gx, gw = grad((y ** 2).sum(), [a, b], create_graph=True)
        hx, hw = grad((gx ** 2).sum() + (gw ** 2).sum(), [a, b], create_graph=True)
        outs.append(grad((hx * hx).sum() + (hw ** 3).sum(), [a, b]))
    for a, b in zip(*outs):
        _close(a, b, "third-order gradient")


# ----------------------------------------------------------------------------- linear, pooling
def test_linear() -> None:
    double_backward(lambda F, x, w, b: F.linear(x, w, b),
                    [_r(2, 3, 5), _r(4, 5, seed=2), _r(4, seed=3)])
    double_backward(lambda F, x, w: F.linear(x, w), [_r(5), _r(4, 5, seed=2)])


# distinct values: no ties in a max-pool window
def _distinct(*shape: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).permutation(np.prod(shape)).reshape(shape) / 7.0 - 3.0


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=2, stride=1, dilation=2),
                                dict(kernel_size=3, stride=2, ceil_mode=True)], ids=str)
def test_max_pool2d(kw: dict[str, Any]) -> None:
    double_backward(lambda F, x: F.max_pool2d(x, **kw), [_distinct(2, 3, 7, 6)])
    double_backward(lambda F, x: F.max_pool2d(x, **kw), [_distinct(40, 3, 7, 6)])  # spatial-1st


def test_max_pool1d_3d() -> None:
    double_backward(lambda F, x: F.max_pool1d(x, 3, 2, 1), [_distinct(2, 3, 9)])
    double_backward(lambda F, x: F.max_pool3d(x, 2), [_distinct(2, 2, 4, 5, 4)])


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=2, padding=1,
                                     count_include_pad=False),
                                dict(kernel_size=3, ceil_mode=True, stride=2)], ids=str)
def test_avg_pool2d(kw: dict[str, Any]) -> None:
    double_backward(lambda F, x: F.avg_pool2d(x, **kw), [_r(2, 3, 7, 6)])


def test_avg_pool1d_3d_adaptive() -> None:
    double_backward(lambda F, x: F.avg_pool1d(x, 3, 2, 1), [_r(2, 3, 9)])
    double_backward(lambda F, x: F.avg_pool3d(x, 2), [_r(2, 2, 4, 5, 4)])
    double_backward(lambda F, x: F.adaptive_avg_pool2d(x, (3, 2)), [_r(2, 3, 7, 5)])
    double_backward(lambda F, x: F.adaptive_avg_pool1d(x, 4), [_r(2, 3, 7)])
    double_backward(lambda F, x: F.adaptive_max_pool2d(x, (3, 2)), [_distinct(2, 3, 7, 5)])


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad(mode: str) -> None:
    double_backward(lambda F, x: F.pad(x, (1, 2, 2, 1), mode=mode), [_r(2, 3, 4, 5)])
    double_backward(lambda F, x: F.pad(x, (1, -1), mode="constant", value=0.5), [_r(2, 3, 4)])


def test_dropout_mask_is_constant() -> None:
    x = numcnn.tensor(_r(4, 5), requires_grad=True)
    numcnn.manual_seed(0)
    y = NF.dropout(x, 0.5)
    mask = (y.detach().numpy() != 0) * 2.0
    (g,) = autograd.grad((y ** 2).sum(), [x], create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 2 * x.detach().numpy() * mask ** 2)
    (h,) = autograd.grad((g * g).sum(), [x])
    np.testing.assert_allclose(h.numpy(), 8 * x.detach().numpy() * mask ** 4)
