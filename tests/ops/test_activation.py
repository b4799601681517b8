"""Activations (numcnn.ops.activation via numcnn.nn.functional): three oracles and the errors.

1. PyTorch: forward and input gradient (and PReLU's weight gradient) in float32 and float64, on
   inputs that contain every kink exactly (0, +-1, +-3, +-6, the threshold) and huge magnitudes
   (+-1e4: sigmoid, softplus, softmax, log_softmax ... must stay finite and agree).
2. gradcheck in float64 for every op, away from the kinks.
3. Naive loops from the formulas: softmax / log_softmax (forward and the Jacobian-vector
   product y_i (delta_ij - y_j)), and erfc against math.erfc.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from tests.helpers import assert_close, compare, raises_like_torch, random_array

import numcnn
import numcnn.nn.functional as NF
from numcnn.autograd import gradcheck
from numcnn.ops.activation import erfc_nonneg

DTYPES = [np.float32, np.float64]

# every kink any activation here has, the exact values, plus ordinary and huge inputs
KINKS = [0.0, 1.0, -1.0, 3.0, -3.0, 6.0, -6.0, 0.5, 20.0, -20.0, 1e4, -1e4, 40.0, -40.0]


def kink_input(dtype, shape=(2, 3, 7), seed=0):
    x = random_array(shape, np.float64, seed=seed) * 4
    flat = x.reshape(-1)
    flat[: len(KINKS)] = KINKS
    return x.astype(dtype)


# name -> fn(F, x); each evaluated with numcnn.nn.functional and torch.nn.functional
ELEMENTWISE = {
    "relu": lambda F, x: F.relu(x),
    "relu6": lambda F, x: F.relu6(x),
    "hardtanh": lambda F, x: F.hardtanh(x),
    "hardtanh(-3,6)": lambda F, x: F.hardtanh(x, -3.0, 6.0),
    "leaky_relu": lambda F, x: F.leaky_relu(x),
    "leaky_relu(0.2)": lambda F, x: F.leaky_relu(x, 0.2),
    "leaky_relu(1.5)": lambda F, x: F.leaky_relu(x, 1.5),
    "elu": lambda F, x: F.elu(x),
    "elu(0.5)": lambda F, x: F.elu(x, 0.5),
    "selu": lambda F, x: F.selu(x),
    "celu": lambda F, x: F.celu(x),
    "celu(2.5)": lambda F, x: F.celu(x, 2.5),
    "gelu": lambda F, x: F.gelu(x),
    "gelu_tanh": lambda F, x: F.gelu(x, approximate="tanh"),
    "sigmoid": lambda F, x: F.sigmoid(x),
    "tanh": lambda F, x: F.tanh(x),
    "softplus": lambda F, x: F.softplus(x),
    "softplus(2,6)": lambda F, x: F.softplus(x, beta=2.0, threshold=6.0),
    "softplus(0.5,1)": lambda F, x: F.softplus(x, beta=0.5, threshold=1.0),
    "silu": lambda F, x: F.silu(x),
    "mish": lambda F, x: F.mish(x),
    "hardswish": lambda F, x: F.hardswish(x),
    "hardsigmoid": lambda F, x: F.hardsigmoid(x),
    "logsigmoid": lambda F, x: F.logsigmoid(x),
    "threshold": lambda F, x: F.threshold(x, 1.0, -2.0),
    "threshold(-3,7)": lambda F, x: F.threshold(x, -3.0, 7.5),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise_matches_torch_at_kinks_and_extremes(name, dtype):
    n_out, _ = compare(ELEMENTWISE[name], [kink_input(dtype)])
    assert np.all(np.isfinite(n_out.array)), name


@pytest.mark.parametrize("name", ["relu", "gelu", "sigmoid", "hardswish", "selu"])
def test_elementwise_odd_shapes(name):
    for shape in [(1,), (5,), (1, 1, 1, 1), (3, 1, 5, 2)]:
        compare(ELEMENTWISE[name], [random_array(shape, np.float32, seed=len(shape)) * 5])


def test_kink_gradients_are_pytorchs():
    """The derivative each op takes at its kinks, written out (torch agrees, see above)."""
    x = numcnn.tensor([-6.0, -3.0, 0.0, 3.0, 6.0], dtype=numcnn.float64, requires_grad=True)

    def grad(fn):
        x.grad = None
        fn(x).sum().backward()
        return x.grad.array.tolist()

    assert grad(NF.relu) == [0, 0, 0, 1, 1]
    assert grad(NF.relu6) == [0, 0, 0, 1, 0]
    assert grad(lambda t: NF.hardtanh(t, -3.0, 3.0)) == [0, 0, 1, 0, 0]
    assert grad(NF.leaky_relu) == [0.01, 0.01, 0.01, 1, 1]
    assert grad(NF.hardswish) == [0, 0, 0.5, 1, 1]
    assert grad(NF.hardsigmoid) == [0, 0, 1 / 6, 0, 0]
    assert grad(lambda t: NF.elu(t, 2.0))[2] == 2.0
    assert grad(lambda t: NF.threshold(t, 3.0, 0.0)) == [0, 0, 0, 0, 1]


def test_extremes_are_finite_and_exact():
    x = numcnn.tensor([-1e4, -800.0, 800.0, 1e4], dtype=numcnn.float64)
    assert NF.sigmoid(x).array.tolist() == [0.0, 0.0, 1.0, 1.0]
    assert NF.softplus(x).array.tolist() == [0.0, 0.0, 800.0, 1e4]
    assert NF.logsigmoid(x).array.tolist() == [-1e4, -800.0, 0.0, 0.0]
    # relative accuracy in the lower tail: sigmoid(-40) = e^-40 / (1 + e^-40)
    s = NF.sigmoid(numcnn.tensor([-40.0], dtype=numcnn.float64)).item()
    assert abs(s - math.exp(-40) / (1 + math.exp(-40))) <= 1e-15 * s
    g = NF.gelu(numcnn.tensor([-30.0], dtype=numcnn.float64)).item()
    assert abs(g - (-30.0 * 0.5 * math.erfc(30 / math.sqrt(2)))) <= 1e-12 * abs(g)


@pytest.mark.parametrize("dtype", DTYPES)
def test_prelu_matches_torch(dtype):
    x = kink_input(dtype, (2, 3, 7))
    compare(lambda F, x, w: F.prelu(x, w), [x, np.array([0.25, -0.5, 2.0], dtype)])
    compare(lambda F, x, w: F.prelu(x, w), [x, np.array([0.1], dtype)])
    compare(lambda F, x, w: F.prelu(x, w), [x[0, 0], np.array(0.3, dtype)])        # 1-D, 0-d w
    compare(lambda F, x, w: F.prelu(x, w),
            [random_array((1, 4, 3, 2, 5), dtype, seed=3), random_array((4,), dtype, seed=4)])
    compare(lambda F, x, w: F.prelu(x, w), [x.reshape(6, 7), random_array((7,), dtype, seed=5)])


# ----------------------------------------------------------------------------- softmax family
SOFTMAX_FNS = {
    "softmax": lambda F, x, d: F.softmax(x, d),
    "log_softmax": lambda F, x, d: F.log_softmax(x, d),
    "softmin": lambda F, x, d: F.softmin(x, d),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(SOFTMAX_FNS))
def test_softmax_family_matches_torch(name, dtype):
    x = kink_input(dtype, (3, 4, 5))
    x[0, 0, :] = [1e4, -1e4, 1e4, 0.0, 5.0]      # huge logits, ties at the maximum
    x[1, :, 2] = [-1e4, -1e4, -1e4, -1e4]
    for d in (0, 1, 2, -1, -3):
        n_out, _ = compare(lambda F, t, d=d: SOFTMAX_FNS[name](F, t, d), [x])
        assert np.all(np.isfinite(n_out.array))
    compare(lambda F, t: SOFTMAX_FNS[name](F, t, 0), [x[0, 0]])
    compare(lambda F, t: SOFTMAX_FNS[name](F, t, 0), [np.array(2.5, dtype)])     # 0-d


def test_softmax_dtype_argument_and_implicit_dim():
    x = random_array((2, 3, 4), np.float32)
    compare(lambda F, t: F.softmax(t, 1, dtype=torch.float64 if F is not NF else numcnn.float64),
            [x])
    compare(lambda F, t: F.log_softmax(t, -1, dtype=torch.float64 if F is not NF
                                       else numcnn.float64), [x])
    for shape in [(5,), (2, 3), (2, 3, 4), (2, 3, 4, 2)]:
        a = random_array(shape, np.float64)
        for fn in ("softmax", "log_softmax", "softmin"):
            with pytest.warns(UserWarning, match="Implicit dimension choice"):
                got = getattr(NF, fn)(numcnn.tensor(a))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                want = getattr(torch.nn.functional, fn)(torch.tensor(a))
            assert_close(got, want, what=f"{fn} implicit dim {shape}")


def naive_softmax(x, dim):
    """Row by row with Python loops: y_i = exp(x_i - max) / sum_j exp(x_j - max)."""
    x = np.moveaxis(x, dim, -1)
    y = np.empty_like(x)
    for idx in np.ndindex(x.shape[:-1]):
        row = [float(v) for v in x[idx]]
        m = max(row)
        e = [math.exp(v - m) for v in row]
        s = sum(e)
        y[idx] = [v / s for v in e]
    return np.moveaxis(y, -1, dim)


def naive_softmax_vjp(y, gy, dim):
    """gx_i = sum_j gy_j dy_j/dx_i with the Jacobian dy_j/dx_i = y_j (delta_ij - y_i)."""
    y, gy = np.moveaxis(y, dim, -1), np.moveaxis(gy, dim, -1)
    gx = np.zeros_like(y)
    n = y.shape[-1]
    for idx in np.ndindex(y.shape[:-1]):
        for i in range(n):
            gx[idx + (i,)] = sum(gy[idx + (j,)] * y[idx + (j,)] * ((i == j) - y[idx + (i,)])
                                 for j in range(n))
    return np.moveaxis(gx, -1, dim)


@pytest.mark.parametrize("dim", [0, 1, 2])
def test_softmax_naive_loops(dim):
    x = random_array((3, 4, 5), np.float64, seed=dim) * 3
    gy = random_array((3, 4, 5), np.float64, seed=10 + dim)
    t = numcnn.tensor(x, requires_grad=True)
    y = NF.softmax(t, dim)
    y.backward(numcnn.tensor(gy))
    want = naive_softmax(x, dim)
    np.testing.assert_allclose(y.array, want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(t.grad.array, naive_softmax_vjp(want, gy, dim), rtol=1e-10,
                               atol=1e-13)
    # log_softmax: y = log of the loop softmax; gx = gy - softmax * sum(gy)
    t2 = numcnn.tensor(x, requires_grad=True)
    ly = NF.log_softmax(t2, dim)
    ly.backward(numcnn.tensor(gy))
    np.testing.assert_allclose(ly.array, np.log(want), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(t2.grad.array, gy - want * gy.sum(axis=dim, keepdims=True),
                               rtol=1e-10, atol=1e-13)


# ----------------------------------------------------------------------------- gradcheck
def away_from_kinks(shape, seed):
    """Values in (-5, 5) at least 0.05 from every kink."""
    x = random_array(shape, np.float64, seed=seed, low=-5, high=5)
    for k in (0.0, 1.0, -1.0, 3.0, -3.0, 6.0, -6.0):
        near = np.abs(x - k) < 0.05
        x[near] = k + 0.1
    return x


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_gradcheck_elementwise(name):
    x = numcnn.tensor(away_from_kinks((2, 5), seed=7), requires_grad=True)
    assert gradcheck(lambda t: ELEMENTWISE[name](NF, t), [x])


def test_gradcheck_prelu_and_softmax_family():
    x = numcnn.tensor(away_from_kinks((2, 3, 4), seed=8), requires_grad=True)
    w = numcnn.tensor(np.array([0.2, -0.4, 1.3]), requires_grad=True)
    assert gradcheck(lambda a, b: NF.prelu(a, b), [x, w])
    w1 = numcnn.tensor(np.array([0.3]), requires_grad=True)
    assert gradcheck(lambda a, b: NF.prelu(a, b), [x, w1])
    for fn in SOFTMAX_FNS.values():
        for d in (0, 2):
            assert gradcheck(lambda a, fn=fn, d=d: fn(NF, a, d), [x])


# ----------------------------------------------------------------------------- erfc
def test_erfc_against_math():
    z = np.concatenate([np.linspace(0.0, 27.0, 20001), np.geomspace(1e-10, 27.0, 500)])
    want = np.array([math.erfc(v) for v in z])
    got, g = erfc_nonneg(z)
    ok = want > 1e-300
    rel = np.abs(got[ok] - want[ok]) / want[ok]
    assert rel.max() < 1e-13, rel.max()
    np.testing.assert_allclose(g, np.exp(-z * z), rtol=1e-15)
    z32 = z.astype(np.float32)
    got32, _ = erfc_nonneg(z32)
    assert got32.dtype == np.float32
    want32 = np.array([math.erfc(float(v)) for v in z32])
    ok32 = want32 > 1e-30
    rel32 = np.abs(got32[ok32] - want32[ok32]) / want32[ok32]
    # float32: a few ulps from Horner, plus exp(-z^2) whose argument z^2 carries a relative
    # rounding error of ~1.2e-7, i.e. a relative error of ~1.2e-7 z^2 in the result
    assert np.all(rel32 < 5e-7 + 1.2e-7 * z32[ok32].astype(np.float64) ** 2), rel32.max()


def test_gelu_float64_agrees_with_math_erf():
    x = np.linspace(-12, 12, 2001)
    want = np.array([v * 0.5 * math.erfc(-v / math.sqrt(2)) for v in x])
    got = NF.gelu(numcnn.tensor(x)).array
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-300)


# ----------------------------------------------------------------------------- dtypes, in-place
def test_integer_inputs_like_torch():
    xi = np.array([-2, 0, 3], dtype=np.int64)
    for fn in (lambda F, x: F.relu(x), lambda F, x: F.relu6(x), lambda F, x: F.sigmoid(x),
               lambda F, x: F.tanh(x), lambda F, x: F.hardtanh(x),
               lambda F, x: F.threshold(x, 0, 5)):
        n_out, t_out = compare(fn, [xi], grad=False)
        assert n_out.dtype == t_out.numpy().dtype
    for fn in (lambda F, x: F.gelu(x), lambda F, x: F.silu(x), lambda F, x: F.softmax(x, 0),
               lambda F, x: F.leaky_relu(x), lambda F, x: F.logsigmoid(x)):
        assert raises_like_torch(fn, [xi]) is not None


def test_inplace_semantics():
    # no gradient recorded: the input's own array is overwritten and returned
    x = numcnn.tensor([-1.0, 2.0, -3.0])
    buf = x.array
    y = NF.relu(x, inplace=True)
    assert y is x and buf.tolist() == [0.0, 2.0, 0.0]
    z = numcnn.tensor([-1.0, 0.5])
    assert NF.relu_(z) is z and z.tolist() == [0.0, 0.5]
    for fn in (NF.elu_, NF.selu_, NF.celu_, NF.leaky_relu_, NF.hardtanh_):
        t = numcnn.tensor([-1.0, 0.5])
        assert fn(t) is t
    t = numcnn.tensor([-1.0, 0.5])
    assert NF.threshold_(t, 0.0, 9.0) is t and t.tolist() == [9.0, 0.5]
    # a leaf that requires grad: refused, as torch
    raises_like_torch(lambda F, a: F.relu(a.requires_grad_(), inplace=True),
                      [np.array([1.0, -1.0])])
    # a non-leaf in a graph: a new tensor, the graph is right
    for name in ("relu", "silu", "hardswish", "elu", "leaky_relu", "mish", "hardsigmoid"):
        compare(lambda F, a, name=name: getattr(F, name)(a * 2, inplace=True),
                [kink_input(np.float64)])


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("case", [
    lambda F, x: F.gelu(x, approximate="fast"),
    lambda F, x: F.hardtanh(x, 2.0, 1.0),
    lambda F, x: F.softmax(x, 3),
    lambda F, x: F.log_softmax(x, -4),
    lambda F, x: F.celu(x, 0.0),
    lambda F, x: F.prelu(x, x[0, :2, 0]),
    lambda F, x: F.prelu(x, x[0]),
    lambda F, x: F.prelu(x[0, 0], x[0, :, 0]),
    lambda F, x: F.relu([1.0, 2.0]),
])
def test_errors_like_torch(case):
    assert raises_like_torch(case, [random_array((2, 3, 4), np.float32)]) is not None


def test_error_messages_are_clear():
    x = numcnn.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match="parameter numbers = 2 and channel size = 3"):
        NF.prelu(x, numcnn.ones(2))
    with pytest.raises(TypeError, match="floating point"):
        NF.gelu(numcnn.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="none or tanh"):
        NF.gelu(x, approximate="fast")
