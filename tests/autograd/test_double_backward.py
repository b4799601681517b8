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


def _close(a: Any, e: Any, what: str, rtol: float = RTOL) -> None:
    atol = ATOL if rtol == RTOL else rtol * 0.1      # a looser test is looser in both
    a = a.detach().numpy() if isinstance(a, (numcnn.Tensor, torch.Tensor)) else a
    e = e.detach().numpy() if isinstance(e, (numcnn.Tensor, torch.Tensor)) else e
    np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=rtol, atol=atol, err_msg=what)


def double_backward(fn: Callable[..., Any], arrays: Sequence[Any], seed: int = 0,
                    wrt: Sequence[int] | None = None, rtol: float = RTOL) -> None:
    """Compare out, d out/d x (recorded) and d s(grads)/d x between numcnn and torch."""
    rng = np.random.default_rng(seed)
    wrt = [i for i, a in enumerate(arrays) if isinstance(a, np.ndarray) and a.dtype.kind == "f"] \
        if wrt is None else list(wrt)
    n_in = [numcnn.tensor(a.copy(), requires_grad=i in wrt) if isinstance(a, np.ndarray) else a
            for i, a in enumerate(arrays)]
    t_in = [torch.tensor(a.copy(), requires_grad=i in wrt) if isinstance(a, np.ndarray) else a
            for i, a in enumerate(arrays)]
    n_out, t_out = fn(NF, *n_in), fn(TF, *t_in)
    _close(n_out, t_out, "forward", rtol)
    v = rng.standard_normal(tuple(t_out.shape))
    n_v, t_v = numcnn.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)
    n_x = [n_in[i] for i in wrt]
    t_x = [t_in[i] for i in wrt]
    n_g = autograd.grad(n_out, n_x, n_v, create_graph=True)
    t_g = torch.autograd.grad(t_out, t_x, t_v, create_graph=True)
    n_s: Any = 0.0
    t_s: Any = 0.0
    for k, (a, b) in enumerate(zip(n_g, t_g)):
        _close(a, b, f"first-order gradient {k}", rtol)
        r = rng.standard_normal(tuple(b.shape))
        n_s = n_s + (a * numcnn.tensor(r)).sum() + 0.5 * (a * a).sum()
        t_s = t_s + (b * torch.tensor(r)).sum() + 0.5 * (b * b).sum()
    # the second derivatives, and the gradient's derivative with respect to the upstream v
    n_h = autograd.grad(n_s, n_x + [n_v], allow_unused=True)
    t_h = torch.autograd.grad(t_s, t_x + [t_v], allow_unused=True)
    for k, (a, b, x) in enumerate(zip(n_h, t_h, t_x + [t_v])):
        a = np.zeros(x.shape) if a is None else a.numpy()
        b = np.zeros(x.shape) if b is None else b.detach().numpy(force=True)
        _close(a, b, f"second-order gradient {k}", rtol)


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


# ----------------------------------------------------------------------------- activations
def _away_from(x: np.ndarray, *kinks: float, gap: float = 0.05) -> np.ndarray:
    for k in kinks:
        x = np.where(np.abs(x - k) < gap, k + gap * np.sign(x - k + 1e-12) * 2, x)
    return x


ACTIVATIONS: list[tuple[str, Callable[[Any, Any], Any], tuple[float, ...]]] = [
    ("relu", lambda F, x: F.relu(x), (0.0,)),
    ("leaky_relu", lambda F, x: F.leaky_relu(x, 0.2), (0.0,)),
    ("elu", lambda F, x: F.elu(x, 0.7), (0.0,)),
    ("selu", lambda F, x: F.selu(x), (0.0,)),
    ("celu", lambda F, x: F.celu(x, 1.3), (0.0,)),
    ("gelu", lambda F, x: F.gelu(x), ()),
    ("gelu_tanh", lambda F, x: F.gelu(x, approximate="tanh"), ()),
    ("silu", lambda F, x: F.silu(x), ()),
    ("mish", lambda F, x: F.mish(x), ()),
    ("softplus", lambda F, x: F.softplus(x), ()),
    ("softplus_beta", lambda F, x: F.softplus(x, beta=2.0, threshold=3.0), (1.5,)),
    ("hardtanh", lambda F, x: F.hardtanh(x, -1.0, 1.5), (-1.0, 1.5)),
    ("relu6", lambda F, x: F.relu6(x * 4), (0.0, 1.5)),
    ("hardswish", lambda F, x: F.hardswish(x * 3), (-1.0, 1.0)),
    ("threshold", lambda F, x: F.threshold(x, 0.3, -2.0), (0.3,)),
    ("logsigmoid", lambda F, x: F.logsigmoid(x), ()),
    ("sigmoid", lambda F, x: F.sigmoid(x), ()),
    ("tanh", lambda F, x: F.tanh(x), ()),
    ("softmax", lambda F, x: F.softmax(x, 1), ()),
    ("log_softmax", lambda F, x: F.log_softmax(x, -1), ()),
]


@pytest.mark.parametrize("name,fn,kinks", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation(name: str, fn: Callable[[Any, Any], Any], kinks: tuple[float, ...]) -> None:
    # torch's celu gradients differ from the exact ones by ~1e-7 (relative) in
    # float64, already at first order (a constant evaluated in float32, it seems)
    rtol = 1e-6 if name == "celu" else RTOL
    double_backward(fn, [_away_from(_r(3, 4, 5, scale=2.0), *kinks)], rtol=rtol)


def test_hardsigmoid() -> None:
    """torch has no double backward for hardsigmoid: its gradient is gy/6 inside (-3, 3)."""
    x = numcnn.tensor(_away_from(_r(3, 4, scale=3.0), -3.0, 3.0), requires_grad=True)
    (g,) = autograd.grad((NF.hardsigmoid(x) ** 2).sum(), [x], create_graph=True)
    xv = x.detach().numpy()
    inside = (xv > -3) & (xv < 3)
    np.testing.assert_allclose(g.detach().numpy(), 2 * (xv + 3) / 6 * inside / 6)
    (h,) = autograd.grad(g.sum(), [x])
    np.testing.assert_allclose(h.numpy(), 2 / 36 * inside)


def test_prelu() -> None:
    x = _away_from(_r(3, 4, 5), 0.0)
    double_backward(lambda F, x, w: F.prelu(x, w), [x, np.array([0.1, 0.2, -0.3, 0.4])])
    double_backward(lambda F, x, w: F.prelu(x, w), [x, np.array([0.25])])


# ----------------------------------------------------------------------------- normalisation
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 5), (2, 3, 4, 5)], ids=str)
def test_batch_norm(training: bool, shape: tuple[int, ...]) -> None:
    c = shape[1]
    rm, rv = _r(c, seed=5) * 0.1, np.abs(_r(c, seed=6)) + 0.5

    def fn(F: Any, x: Any, w: Any, b: Any) -> Any:
        lib = torch if F is TF else numcnn
        return F.batch_norm(x, lib.tensor(rm.copy()), lib.tensor(rv.copy()), w, b,
                            training=training, eps=1e-3)
    double_backward(fn, [_r(*shape), _r(c, seed=2) + 1.0, _r(c, seed=3)])
    double_backward(lambda F, x: F.batch_norm(x, None, None, training=True), [_r(*shape)])


# ----------------------------------------------------------------------------- losses
@pytest.mark.parametrize("kw", [dict(), dict(reduction="sum"), dict(reduction="none"),
                                dict(label_smoothing=0.1), dict(ignore_index=2),
                                dict(weight=np.array([0.5, 1.0, 2.0, 1.5]),
                                     label_smoothing=0.2)], ids=str)
def test_cross_entropy(kw: dict[str, Any]) -> None:
    target = np.array([0, 2, 3, 1, 2])

    def fn(F: Any, x: Any) -> Any:
        lib = torch if F is TF else numcnn
        k = dict(kw)
        if "weight" in k:
            k["weight"] = lib.tensor(k["weight"])
        return F.cross_entropy(x, lib.tensor(target), **k)
    double_backward(fn, [_r(5, 4)])


def test_cross_entropy_spatial_and_unbatched() -> None:
    t = np.random.default_rng(0).integers(0, 3, (2, 4, 5))
    double_backward(lambda F, x: F.cross_entropy(x, (torch if F is TF else numcnn).tensor(t)),
                    [_r(2, 3, 4, 5)])
    double_backward(lambda F, x: F.cross_entropy(x, (torch if F is TF else numcnn).tensor(2)),
                    [_r(4)])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss(reduction: str) -> None:
    t = np.array([0, 2, 3, 1, 2])
    double_backward(lambda F, x: F.nll_loss(F.log_softmax(x, 1),
                                            (torch if F is TF else numcnn).tensor(t),
                                            reduction=reduction), [_r(5, 4)])


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_pointwise_losses(name: str, reduction: str) -> None:
    x, y = _r(3, 4), _r(3, 4, seed=7) * 2
    y = np.where(np.abs(np.abs(x - y) - 1.0) < 0.05, y + 0.2, y)      # away from |d| = 1
    double_backward(lambda F, x, y: getattr(F, name)(x, y, reduction=reduction), [x, y])


@pytest.mark.parametrize("pos_weight", [False, True])
def test_bce_with_logits(pos_weight: bool) -> None:
    y = np.random.default_rng(3).uniform(size=(4, 3))
    w, pw = np.abs(_r(4, 3, seed=8)), np.array([0.5, 2.0, 1.0])

    def fn(F: Any, x: Any, y: Any) -> Any:
        lib = torch if F is TF else numcnn
        return F.binary_cross_entropy_with_logits(
            x, y, weight=lib.tensor(w), pos_weight=lib.tensor(pw) if pos_weight else None)
    double_backward(fn, [_r(4, 3), y])


def test_bce() -> None:
    x = np.random.default_rng(4).uniform(0.1, 0.9, size=(4, 3))
    y = np.random.default_rng(5).uniform(size=(4, 3))
    double_backward(lambda F, x, y: F.binary_cross_entropy(x, y), [x, y])


# ----------------------------------------------------------------------------- tensor.py's ops
def test_tensor_ops_cast_clone_setitem_views() -> None:
    def run(lib: Any, x: Any, v: Any) -> Any:
        y = (x * x).clone()
        y[1] = v * v                              # SetItem on a non-leaf
        z = y.double() * 1.5                      # Cast (float64 -> float64 still recorded)
        w = (x * 2).clone()
        w[0, 1:3].mul_(v[:2])                     # CopySlices through a view, then AsView
        return (z * w).sum() + (w[0] ** 3).sum()

    rng = np.random.default_rng(0)
    xa, va = rng.standard_normal((3, 4)), rng.standard_normal(4)
    results = []
    for lib, grad in ((numcnn, autograd.grad), (torch, torch.autograd.grad)):
        x, v = lib.tensor(xa, requires_grad=True), lib.tensor(va, requires_grad=True)
        gx, gv = grad(run(lib, x, v), [x, v], create_graph=True)
        results.append((gx, gv) + tuple(grad((gx ** 2).sum() + (gv ** 3).sum(), [x, v])))
    for k, (a, b) in enumerate(zip(*results)):
        _close(a, b, f"gradient {k}")


# ----------------------------------------------------------------------------- a small CNN
def _cnn_params(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "c1.w": rng.standard_normal((4, 2, 3, 3)) * 0.4, "c1.b": rng.standard_normal(4) * 0.1,
        "bn.w": 1.0 + 0.1 * rng.standard_normal(4), "bn.b": 0.1 * rng.standard_normal(4),
        "c2.w": rng.standard_normal((5, 4, 3, 3)) * 0.3, "c2.b": rng.standard_normal(5) * 0.1,
        "fc.w": rng.standard_normal((3, 5 * 2 * 2)) * 0.4, "fc.b": rng.standard_normal(3) * 0.1,
    }


def _cnn(F: Any, p: dict[str, Any], x: Any) -> Any:
    """conv -> BN (training) -> ReLU -> maxpool -> conv -> avgpool -> linear: (N, 3) logits."""
    h = F.conv2d(x, p["c1.w"], p["c1.b"], padding=1)
    h = F.batch_norm(h, None, None, p["bn.w"], p["bn.b"], training=True)
    h = F.max_pool2d(F.relu(h), 2)                              # (N, 4, 4, 4)
    h = F.conv2d(h, p["c2.w"], p["c2.b"], padding=1, stride=1)  # (N, 5, 4, 4)
    h = F.avg_pool2d(h, 2)                                      # (N, 5, 2, 2)
    return F.linear(h.flatten(1), p["fc.w"], p["fc.b"])


def _setup(lib: Any, seed: int = 0) -> tuple[dict[str, Any], Any, Any]:
    rng = np.random.default_rng(seed + 1)
    p = {k: lib.tensor(v, requires_grad=True) for k, v in _cnn_params(seed).items()}
    x = lib.tensor(rng.standard_normal((4, 2, 8, 8)), requires_grad=True)
    t = lib.tensor(np.array([0, 2, 1, 2]))
    return p, x, t


def test_gradient_penalty_through_cnn() -> None:
    """WGAN-GP style: loss = CE + critic penalty (|d critic / dx| - 1)^2, grads for every
    parameter and the input."""
    results = []
    for lib, F, grad in ((numcnn, NF, autograd.grad), (torch, TF, torch.autograd.grad)):
        p, x, t = _setup(lib)
        logits = _cnn(F, p, x)
        critic = logits[:, 0].sum()
        (gx,) = grad(critic, [x], create_graph=True)
        norms = ((gx * gx).sum((1, 2, 3)) + 1e-12).sqrt()
        loss = F.cross_entropy(logits, t) + 10.0 * ((norms - 1.0) ** 2).mean()
        names = sorted(p)
        results.append(grad(loss, [p[k] for k in names] + [x]))
    for k, (a, b) in enumerate(zip(*results)):
        _close(a, b, f"gradient-penalty gradient {k}")


def _flat_grad(p: dict[str, Any], x: Any, t: Any, create_graph: bool) -> Any:
    names = sorted(p)
    loss = NF.cross_entropy(_cnn(NF, p, x), t)
    return autograd.grad(loss, [p[k] for k in names], create_graph=create_graph)


def test_hessian_vector_product_through_cnn() -> None:
    """H v by double backward, against torch and against finite differences of the
    first-order gradient (an independent oracle)."""
    rng = np.random.default_rng(7)
    names = sorted(_cnn_params())
    vecs = {k: rng.standard_normal(_cnn_params()[k].shape) for k in names}
    # numcnn: (d/dp) <grad L(p), v>
    p, x, t = _setup(numcnn)
    g = _flat_grad(p, x, t, create_graph=True)
    dot = sum((gi * numcnn.tensor(vecs[k])).sum() for gi, k in zip(g, names))
    hv = autograd.grad(dot, [p[k] for k in names])
    # torch
    tp, tx, tt = _setup(torch)
    tloss = TF.cross_entropy(_cnn(TF, tp, tx), tt)
    tg = torch.autograd.grad(tloss, [tp[k] for k in names], create_graph=True)
    tdot = sum((gi * torch.tensor(vecs[k])).sum() for gi, k in zip(tg, names))
    thv = torch.autograd.grad(tdot, [tp[k] for k in names])
    for k, (a, b) in enumerate(zip(hv, thv)):
        _close(a, b, f"Hv {names[k]}")
    # central differences of the first-order gradient along v (no create_graph involved)
    eps = 1e-5

    def grad_at(sign: float) -> list[np.ndarray]:
        q = {k: numcnn.tensor(_cnn_params()[k] + sign * eps * vecs[k], requires_grad=True)
             for k in names}
        _, x2, t2 = _setup(numcnn)
        return [gi.numpy() for gi in _flat_grad(q, x2.detach(), t2, create_graph=False)]
    fd = [(a - b) / (2 * eps) for a, b in zip(grad_at(1.0), grad_at(-1.0))]
    for k, (a, b) in enumerate(zip(hv, fd)):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-5, atol=1e-7, err_msg=names[k])


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph")   # torch's
def test_backward_create_graph_then_grad_norm() -> None:
    """backward(create_graph=True), then backward of sum(p.grad ** 2) (a gradient-norm
    regulariser), against torch."""
    results = []
    for lib, F in ((numcnn, NF), (torch, TF)):
        p, x, t = _setup(lib)
        names = sorted(p)
        F.cross_entropy(_cnn(F, p, x), t).backward(create_graph=True)
        first = [p[k].grad.detach().clone() for k in names]
        reg = sum((p[k].grad ** 2).sum() for k in names)
        for k in names:
            p[k].grad = None
        reg.backward()
        results.append(first + [p[k].grad for k in names])
    for k, (a, b) in enumerate(zip(*results)):
        _close(a, b, f"gradient {k}")


class _Cube(numcnn.autograd.Function):
    """y = a^3 on arrays (numcnn's own contract), with no backward_graph."""
    on_arrays = True

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        ctx.save_for_backward(a)
        return a ** 3

    @staticmethod
    def backward(ctx: Any, gy: Any) -> Any:
        (a,) = ctx.saved
        return (3 * gy * a * a,)


def test_op_without_double_backward_says_so() -> None:
    x = numcnn.tensor(_r(2, 3), requires_grad=True)
    with pytest.raises(RuntimeError, match="cannot differentiate _CubeBackward twice"):
        (g,) = autograd.grad((_Cube.apply(x) ** 2).sum(), [x], create_graph=True)
        autograd.grad((g ** 2).sum(), [x])
    (g,) = autograd.grad(_Cube.apply(x).sum(), [x])     # first order still works
    np.testing.assert_allclose(g.numpy(), 3 * x.detach().numpy() ** 2)


# ----------------------------------------------------------------------------- gradgradcheck
def test_gradgradcheck_passes_on_ops() -> None:
    x = numcnn.tensor(_r(2, 2, 5, 5), requires_grad=True)
    w = numcnn.tensor(_r(3, 2, 3, 3, seed=2), requires_grad=True)
    assert autograd.gradgradcheck(lambda x, w: NF.conv2d(x, w, stride=2, padding=1), [x, w])
    z = numcnn.tensor(_r(3, 4), requires_grad=True)
    assert autograd.gradgradcheck(lambda z: NF.gelu(z) * NF.elu(z), [z])
    assert autograd.gradgradcheck(
        lambda z: NF.cross_entropy(z, numcnn.tensor(np.array([0, 3, 1]))), [z])


def test_gradgradcheck_catches_a_wrong_second_derivative() -> None:
    class Cube(numcnn.autograd.Function):        # PyTorch's contract: tensors, recorded
        @staticmethod
        def forward(ctx: Any, a: Any) -> Any:
            ctx.save_for_backward(a)
            return a ** 3

        @staticmethod
        def backward(ctx: Any, gy: Any) -> Any:
            (a,) = ctx.saved_tensors
            return 3 * gy * a * a.detach()       # right values, half of the x-dependence lost

    z = numcnn.tensor(_r(4), requires_grad=True)
    assert autograd.gradcheck(Cube.apply, [z])
    assert not autograd.gradgradcheck(Cube.apply, [z], raise_exception=False)
    with pytest.raises(autograd.GradcheckError, match="Jacobian mismatch"):
        autograd.gradgradcheck(Cube.apply, [z])


# ----------------------------------------------------------------------------- more ops (issue 11)
# Each is checked against torch (double_backward) and by finite differences of its first
# derivative (gradgradcheck), an oracle that does not depend on torch.
def _ggc(fn: Callable[..., Any], *arrays: np.ndarray) -> None:
    ts = [numcnn.tensor(a.copy(), requires_grad=True) for a in arrays]
    assert autograd.gradgradcheck(fn, ts)


@pytest.mark.parametrize("shape,norm", [((3, 5), (5,)), ((2, 3, 4), (3, 4)), ((2, 1, 3), (3,))],
                         ids=str)
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm(shape: tuple[int, ...], norm: tuple[int, ...], affine: bool) -> None:
    if affine:
        double_backward(lambda F, x, w, b: F.layer_norm(x, norm, w, b, eps=1e-3),
                        [_r(*shape), _r(*norm, seed=2) + 1.0, _r(*norm, seed=3)])
        _ggc(lambda x, w, b: NF.layer_norm(x, norm, w, b), _r(*shape), _r(*norm, seed=2),
             _r(*norm, seed=3))
    else:
        double_backward(lambda F, x: F.layer_norm(x, norm), [_r(*shape)])
        _ggc(lambda x: NF.layer_norm(x, norm), _r(*shape))


@pytest.mark.parametrize("groups", [1, 2, 6])
def test_group_norm(groups: int) -> None:
    double_backward(lambda F, x, w, b: F.group_norm(x, groups, w, b),
                    [_r(2, 6, 3, 2), _r(6, seed=2) + 1.0, _r(6, seed=3)])
    double_backward(lambda F, x: F.group_norm(x, groups, eps=1e-2), [_r(3, 6, 5)])
    _ggc(lambda x, w: NF.group_norm(x, groups, w), _r(2, 6, 3), _r(6, seed=2))


def test_instance_norm() -> None:
    double_backward(lambda F, x, w, b: F.instance_norm(x, weight=w, bias=b),
                    [_r(2, 3, 4, 5), _r(3, seed=2) + 1.0, _r(3, seed=3)])
    double_backward(lambda F, x: F.instance_norm(x, eps=1e-2), [_r(3, 2, 7)])
    _ggc(lambda x, w, b: NF.instance_norm(x, weight=w, bias=b), _r(2, 3, 4), _r(3, seed=2),
         _r(3, seed=3))


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_local_response_norm(size: int) -> None:
    double_backward(lambda F, x: F.local_response_norm(x, size, alpha=0.3, beta=0.75, k=1.5),
                    [_r(2, 6, 3, 4)])
    double_backward(lambda F, x: F.local_response_norm(x, size), [_r(2, 4, 5)])
    _ggc(lambda x: NF.local_response_norm(x, size, alpha=0.5, beta=0.6, k=1.2), _r(1, 5, 2, 3))


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, 1.5])
def test_lp_pool(p: float) -> None:
    x = np.abs(_r(2, 3, 7, 6)) + 0.1                  # positive: x^p real for every p
    double_backward(lambda F, x: F.lp_pool2d(x, p, 2), [x])
    double_backward(lambda F, x: F.lp_pool2d(x, p, (3, 2), stride=(2, 1)), [x])
    double_backward(lambda F, x: F.lp_pool1d(x, p, 3, stride=2), [np.abs(_r(2, 3, 9)) + 0.1])
    _ggc(lambda x: NF.lp_pool2d(x, p, 2), np.abs(_r(1, 2, 4, 4)) + 0.1)


def test_lp_pool_square_of_signed_input() -> None:
    double_backward(lambda F, x: F.lp_pool2d(x, 2, 2), [_r(2, 3, 6, 6)])


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=(2, 3), stride=2,
                                                          padding=1, dilation=(1, 2))], ids=str)
def test_unfold_fold(kw: dict[str, Any]) -> None:
    x = _r(2, 3, 6, 7)
    double_backward(lambda F, x: F.unfold(x, **kw) ** 2, [x])
    double_backward(lambda F, x: F.unfold(x, **kw) ** 2, [x[0]])                 # unbatched
    cols = NF.unfold(numcnn.tensor(x), **kw).numpy()
    double_backward(lambda F, c: F.fold(c, (6, 7), **kw) ** 2, [cols])
    double_backward(lambda F, c: F.fold(c, (6, 7), **kw) ** 2, [cols[0]])
    _ggc(lambda c: NF.fold(NF.unfold(c, **kw) ** 3, (6, 7), **kw), _r(1, 2, 6, 7))


def test_unfold_third_order() -> None:
    xs = _r(1, 2, 5, 5)
    outs = []
    for lib, F, grad in ((numcnn, NF, autograd.grad), (torch, TF, torch.autograd.grad)):
        x = lib.tensor(xs, requires_grad=True)
        (g,) = grad((F.unfold(x, 2, stride=1) ** 3).sum(), [x], create_graph=True)
        (h,) = grad((g ** 2).sum(), [x], create_graph=True)
        outs.append(grad((h ** 2).sum(), [x])[0])
    _close(*outs, "third-order gradient")


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")      # torch's and numcnn's
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction: str, log_target: bool) -> None:
    x = _r(3, 4)
    t = np.random.default_rng(2).uniform(0.05, 1.0, (3, 4))
    t = np.log(t) if log_target else t
    double_backward(lambda F, x, t: F.kl_div(x, t, reduction=reduction,
                                             log_target=log_target) * 1.0, [x, t])
    _ggc(lambda x, t: NF.kl_div(x * x, t, reduction=reduction, log_target=log_target), x, t)


def test_kl_div_zero_targets() -> None:
    """t == 0 contributes 0 to the loss; its gradient wrt x is 0 and stays 0 in the graph."""
    t = np.array([[0.0, 0.5, 0.5, 0.0], [0.25, 0.0, 0.25, 0.5]])
    double_backward(lambda F, x: F.kl_div(x * x, (torch if F is TF else numcnn).tensor(t),
                                          reduction="batchmean"), [_r(2, 4)])


@pytest.mark.parametrize("kw", [dict(), dict(reduction="sum"), dict(reduction="none"),
                                dict(label_smoothing=0.2), dict(weight=True),
                                dict(weight=True, label_smoothing=0.1, reduction="sum")],
                         ids=str)
def test_cross_entropy_probability_targets(kw: dict[str, Any]) -> None:
    t = np.random.default_rng(3).dirichlet(np.ones(4), size=(2, 3)).transpose(0, 2, 1)  # (2,4,3)
    w = np.array([0.5, 1.0, 2.0, 1.5])

    def fn(F: Any, x: Any, t: Any, w: Any) -> Any:
        return F.cross_entropy(x, t, **{**kw, "weight": w if kw.get("weight") else None})
    double_backward(fn, [_r(2, 4, 3), t, w], wrt=[0, 1, 2] if kw.get("weight") else [0, 1])
    double_backward(lambda F, x, t: F.cross_entropy(x, t, label_smoothing=0.1), [_r(4), t[0, :, 0]])
    _ggc(lambda x, t: NF.cross_entropy(x, t, **{k: v for k, v in kw.items() if k != "weight"}),
         _r(2, 4, 3), t)


@pytest.mark.parametrize("dim,keepdim,correction", [(None, False, 1), ((1,), False, 1),
                                                    ((0, 2), True, 0), (-1, True, 2)], ids=str)
@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std(name: str, dim: Any, keepdim: bool, correction: int) -> None:
    double_backward(lambda F, x: getattr(x, name)(dim=dim, keepdim=keepdim,
                                                 correction=correction), [_r(3, 4, 5)])
    _ggc(lambda x: getattr(x, name)(dim=dim, keepdim=keepdim, correction=correction),
         _r(3, 4, 3))


def test_std_of_constant_slice_second_order() -> None:
    """std's gradient is 0 on a constant slice (torch); its derivative stays finite there."""
    xs = np.array([[1.0, 1.0, 1.0], [0.5, -1.0, 2.0]])
    outs = []
    for lib, grad in ((numcnn, autograd.grad), (torch, torch.autograd.grad)):
        x = lib.tensor(xs, requires_grad=True)
        (g,) = grad((x.std(1) * lib.tensor([1.0, 2.0])).sum(), [x], create_graph=True)
        outs.append((g,) + tuple(grad((g[1] ** 2).sum(), [x])))
    for a, b in zip(*outs):
        _close(a, b, "std")


def test_gradient_penalty_with_var() -> None:
    """x.var() inside a gradient penalty (issue 11's failing case)."""
    results = []
    for lib, F, grad in ((numcnn, NF, autograd.grad), (torch, TF, torch.autograd.grad)):
        x = lib.tensor(_r(4, 2, 5, 5), requires_grad=True)
        w = lib.tensor(_r(3, 2, 3, 3, seed=2), requires_grad=True)
        h = F.layer_norm(F.conv2d(x, w, padding=1), (3, 5, 5))
        out = F.group_norm(h, 3).var((1, 2, 3)) + F.instance_norm(h).std()
        (gx,) = grad(out.sum(), [x], create_graph=True)
        pen = ((gx.flatten(1).var(1) - 1.0) ** 2).mean()
        results.append(grad(pen, [x, w]))
    for a, b in zip(*results):
        _close(a, b, "penalty gradient", rtol=1e-7)
