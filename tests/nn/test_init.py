"""numcnn.nn.init against torch.nn.init (gains, fans, errors) and against the theory of each
distribution (bounds, moments), on tensors large enough for tight statistical tolerances."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import numcnn
from numcnn.nn import Parameter, init

# ------------------------------------------------------------------------------- gains


@pytest.mark.parametrize("name", ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                                  "conv_transpose2d", "conv_transpose3d", "sigmoid", "tanh",
                                  "relu", "leaky_relu", "selu"])
def test_gain_matches_torch(name: str) -> None:
    assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name),
                                                      rel=1e-15)


@pytest.mark.parametrize("slope", [0, 0.2, 1, 3, 0.01])
def test_leaky_relu_gain_param(slope: float) -> None:
    expected = torch.nn.init.calculate_gain("leaky_relu", slope)
    assert init.calculate_gain("leaky_relu", slope) == pytest.approx(expected, rel=1e-15)
    assert expected == pytest.approx(math.sqrt(2 / (1 + slope**2)))


def test_gain_values() -> None:
    assert init.calculate_gain("selu") == 0.75
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))


@pytest.mark.parametrize("args", [("softmax",), ("leaky_relu", "0.1"), ("leaky_relu", True)])
def test_gain_errors_like_torch(args: tuple) -> None:
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain(*args)
    with pytest.raises(ValueError):
        init.calculate_gain(*args)


# ------------------------------------------------------------------------------- fans


@pytest.mark.parametrize("shape", [(5, 3), (1, 7), (8, 3, 5), (16, 4, 3, 3), (6, 2, 1, 5),
                                   (4, 2, 3, 3, 3), (3, 0, 2, 2)])
def test_fans_match_torch(shape: tuple) -> None:
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init._calculate_fan_in_and_fan_out(numcnn.empty(*shape)) == expected


def test_fans_of_torch_layers() -> None:
    for layer in [torch.nn.Linear(7, 3), torch.nn.Conv2d(4, 6, (3, 5)), torch.nn.Conv1d(2, 3, 4),
                  torch.nn.ConvTranspose2d(4, 6, 3)]:
        w = layer.weight
        expected = torch.nn.init._calculate_fan_in_and_fan_out(w)
        assert init._calculate_fan_in_and_fan_out(numcnn.empty(*w.shape)) == expected


@pytest.mark.parametrize("shape", [(), (5,)])
def test_fan_needs_two_dims(shape: tuple) -> None:
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(numcnn.empty(*shape))
    with pytest.raises(ValueError):
        init.xavier_uniform_(numcnn.empty(*shape))
    with pytest.raises(ValueError):
        init.kaiming_normal_(numcnn.empty(*shape))


def test_unknown_mode_and_nonlinearity() -> None:
    w = numcnn.empty(4, 3)
    with pytest.raises(ValueError, match="fan_avg"):
        init.kaiming_uniform_(w, mode="fan_avg")
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.kaiming_normal_(w, nonlinearity="gelu")
    init.kaiming_normal_(w, mode="FAN_OUT")  # torch lowercases the mode


# ------------------------------------------------------------------------------- distributions

N = (400, 500)  # 200 000 samples: the std of a sample mean is ~ sigma / 450


def _moments(t: numcnn.Tensor) -> tuple[float, float]:
    x = t.array.astype(np.float64)
    return float(x.mean()), float(x.std())


def test_uniform_bounds_and_moments() -> None:
    numcnn.manual_seed(0)
    w = init.uniform_(numcnn.empty(*N), -2.0, 3.0)
    assert w.array.min() >= -2.0 and w.array.max() < 3.0
    mean, std = _moments(w)
    assert mean == pytest.approx(0.5, abs=0.02)
    assert std == pytest.approx(5 / math.sqrt(12), rel=0.01)


def test_normal_moments_float64() -> None:
    numcnn.manual_seed(1)
    w = init.normal_(numcnn.empty(*N, dtype=numcnn.float64), 1.5, 0.3)
    assert w.dtype == numcnn.float64
    mean, std = _moments(w)
    assert mean == pytest.approx(1.5, abs=0.003)
    assert std == pytest.approx(0.3, rel=0.01)


def _truncated_moments(mean: float, std: float, a: float, b: float) -> tuple[float, float]:
    """Mean and std of N(mean, std^2) restricted to [a, b] (textbook formulas)."""
    al, be = (a - mean) / std, (b - mean) / std
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    z = cdf(be) - cdf(al)
    m = (pdf(al) - pdf(be)) / z
    var = 1 + (al * pdf(al) - be * pdf(be)) / z - m * m
    return mean + std * m, std * math.sqrt(var)


@pytest.mark.parametrize("mean,std,a,b", [
    (0.0, 1.0, -2.0, 2.0),      # torch's default
    (0.0, 0.02, -0.04, 0.04),   # ViT-style
    (0.3, 1.0, -0.1, 0.2),      # narrow interval off-centre
    (0.0, 1.0, 2.5, 8.0),       # a far tail
    (1.0, 2.0, -10.0, 0.0),     # one-sided, mirrored
])
def test_trunc_normal_within_bounds_and_moments(mean, std, a, b) -> None:
    numcnn.manual_seed(2)
    w = init.trunc_normal_(numcnn.empty(*N), mean, std, a, b)
    x = w.array.astype(np.float64)
    assert x.min() >= a and x.max() <= b
    m, s = _truncated_moments(mean, std, a, b)
    assert x.mean() == pytest.approx(m, abs=0.01 * s)
    assert x.std() == pytest.approx(s, rel=0.01)


def test_trunc_normal_matches_torch_moments() -> None:
    torch.manual_seed(0)
    t = torch.nn.init.trunc_normal_(torch.empty(*N, dtype=torch.float64), 0.5, 1.0, -1.0, 1.5)
    w = init.trunc_normal_(numcnn.empty(*N, dtype=numcnn.float64), 0.5, 1.0, -1.0, 1.5)
    assert float(w.array.mean()) == pytest.approx(float(t.mean()), abs=0.01)
    assert float(w.array.std()) == pytest.approx(float(t.std()), rel=0.01)


def test_trunc_normal_bad_args() -> None:
    with pytest.raises(ValueError):
        init.trunc_normal_(numcnn.empty(3), a=1.0, b=-1.0)
    with pytest.raises(ValueError):
        init.trunc_normal_(numcnn.empty(3), std=0.0)


@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_xavier(gain: float) -> None:
    numcnn.manual_seed(3)
    shape = (200, 100, 3, 3)                                  # fan_in 900, fan_out 1800
    std = gain * math.sqrt(2 / (900 + 1800))
    w = init.xavier_uniform_(numcnn.empty(*shape), gain=gain)
    bound = math.sqrt(3) * std
    assert np.abs(w.array).max() <= bound
    assert np.abs(w.array).max() > 0.99 * bound
    assert _moments(w)[1] == pytest.approx(std, rel=0.01)
    w = init.xavier_normal_(numcnn.empty(*shape), gain=gain)
    mean, s = _moments(w)
    assert mean == pytest.approx(0, abs=0.01 * std)
    assert s == pytest.approx(std, rel=0.01)


@pytest.mark.parametrize("a,mode,nonlinearity", [
    (0, "fan_in", "leaky_relu"), (0.2, "fan_out", "leaky_relu"), (0, "fan_in", "relu"),
    (0, "fan_out", "tanh"), (math.sqrt(5), "fan_in", "leaky_relu"),
])
def test_kaiming(a, mode, nonlinearity) -> None:
    numcnn.manual_seed(4)
    shape = (300, 80, 3, 3)                                   # fan_in 720, fan_out 2700
    fan = 720 if mode == "fan_in" else 2700
    std = torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    w = init.kaiming_uniform_(numcnn.empty(*shape), a=a, mode=mode, nonlinearity=nonlinearity)
    bound = math.sqrt(3) * std
    assert np.abs(w.array).max() <= bound
    assert np.abs(w.array).max() > 0.99 * bound
    assert _moments(w)[1] == pytest.approx(std, rel=0.01)
    w = init.kaiming_normal_(numcnn.empty(*shape), a=a, mode=mode, nonlinearity=nonlinearity)
    mean, s = _moments(w)
    assert mean == pytest.approx(0, abs=0.01 * std)
    assert s == pytest.approx(std, rel=0.01)
    # the same std as torch's own initialiser (its samples, not its stream)
    t = torch.nn.init.kaiming_normal_(torch.empty(shape), a=a, mode=mode,
                                      nonlinearity=nonlinearity)
    assert s == pytest.approx(float(t.std()), rel=0.02)


def test_kaiming_zero_element_is_noop() -> None:
    w = numcnn.empty(0, 3)
    with pytest.warns(UserWarning, match="no-op"):
        assert init.kaiming_uniform_(w) is w


@pytest.mark.parametrize("shape", [(5, 12), (12, 5), (7, 7), (6, 2, 3, 3), (1, 9)])
@pytest.mark.parametrize("gain", [1.0, 0.5])
def test_orthogonal(shape: tuple, gain: float) -> None:
    numcnn.manual_seed(5)
    w = init.orthogonal_(numcnn.empty(*shape, dtype=numcnn.float64), gain=gain)
    m = w.array.reshape(shape[0], -1)
    rows, cols = m.shape
    gram = m @ m.T if rows <= cols else m.T @ m
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(rows, cols)), atol=1e-12)


def test_orthogonal_float32_and_errors() -> None:
    w = init.orthogonal_(numcnn.empty(20, 30))
    assert w.dtype == numcnn.float32
    np.testing.assert_allclose(w.array @ w.array.T, np.eye(20), atol=1e-5)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(numcnn.empty(4))


def test_orthogonal_is_haar_distributed() -> None:
    """With the sign fix the diagonal of Q has mean 0 (without it, it is biased positive)."""
    numcnn.manual_seed(6)
    diag = [init.orthogonal_(numcnn.empty(3, 3, dtype=numcnn.float64)).array[0, 0]
            for _ in range(2000)]
    assert abs(float(np.mean(diag))) < 0.05


def test_constant_zeros_ones_eye() -> None:
    w = numcnn.randn(3, 4)
    assert init.constant_(w, 0.25) is w
    assert np.all(w.array == 0.25) and w.dtype == numcnn.float32
    assert np.all(init.zeros_(w).array == 0)
    assert np.all(init.ones_(w).array == 1)
    np.testing.assert_array_equal(init.eye_(w).array, torch.nn.init.eye_(torch.empty(3, 4)))
    with pytest.raises(ValueError):
        init.eye_(numcnn.empty(2, 2, 2))


@pytest.mark.parametrize("shape,groups", [((4, 4, 3), 1), ((6, 3, 3, 3), 1), ((6, 2, 3, 5), 2),
                                          ((4, 6, 2, 3, 3), 1), ((8, 2, 3, 3), 4)])
def test_dirac_matches_torch(shape: tuple, groups: int) -> None:
    w = init.dirac_(numcnn.randn(*shape), groups)
    t = torch.nn.init.dirac_(torch.randn(shape), groups)
    np.testing.assert_array_equal(w.array, t.numpy())


def test_dirac_errors() -> None:
    with pytest.raises(ValueError):
        init.dirac_(numcnn.empty(3, 3))
    with pytest.raises(ValueError):
        init.dirac_(numcnn.empty(5, 3, 3), groups=2)


# ------------------------------------------------------------------------------- mechanics

INITS = [
    lambda t: init.uniform_(t, -1, 1), lambda t: init.normal_(t, 0, 2),
    lambda t: init.trunc_normal_(t, 0, 1, -0.5, 0.5), init.xavier_uniform_, init.xavier_normal_,
    init.kaiming_uniform_, init.kaiming_normal_, init.orthogonal_,
]


@pytest.mark.parametrize("fn", INITS)
def test_in_place_on_parameters_and_reproducible(fn) -> None:
    p = Parameter(numcnn.zeros(6, 5))
    storage = p.array
    numcnn.manual_seed(123)
    out = fn(p)
    assert out is p and p.array is storage and p.dtype == numcnn.float32
    assert p.requires_grad and p.grad_fn is None
    first = p.array.copy()
    assert np.any(first != 0)
    numcnn.manual_seed(123)
    fn(p)
    np.testing.assert_array_equal(p.array, first)
    fn(p)                                     # the generator moved on: new values
    assert np.any(p.array != first)


def test_explicit_generator() -> None:
    a = init.normal_(numcnn.empty(10), generator=np.random.default_rng(7))
    b = init.normal_(numcnn.empty(10), generator=np.random.default_rng(7))
    np.testing.assert_array_equal(a.array, b.array)


def test_init_under_enable_grad_does_not_record() -> None:
    p = Parameter(numcnn.zeros(4, 4))
    with numcnn.enable_grad():
        init.kaiming_uniform_(p)
    assert p.grad_fn is None and p.is_leaf
