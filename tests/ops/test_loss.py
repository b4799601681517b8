"""Losses (numcnn.ops.loss via numcnn.nn.functional): three oracles and the error contract.

1. PyTorch: forward and every gradient torch gives (input, and target/weight where it has one)
   over grids of reductions, weights, ignore_index, label smoothing, shapes and dtypes.
2. gradcheck in float64 for every loss.
3. Naive loops written from the textbook formulas.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import torch
from tests.helpers import TF, assert_close, compare, raises_like_torch, random_array

import numcnn
import numcnn.nn.functional as NF
from numcnn.autograd import gradcheck

DTYPES = [np.float32, np.float64]
REDUCTIONS = ["none", "mean", "sum"]


def const(F, arr):
    """A tensor of `arr` that needs no gradient, in the library `F` belongs to."""
    if arr is None:
        return None
    return torch.tensor(arr) if F is TF else numcnn.tensor(arr)


def class_targets(shape, num_classes, seed, ignore=None):
    """Integer targets of `shape` in [0, num_classes); `ignore` = positions set to -100."""
    y = np.random.default_rng(seed).integers(0, num_classes, size=shape).astype(np.int64)
    if ignore == "some":
        y.reshape(-1)[::3] = -100
    elif ignore == "all":
        y[...] = -100
    return y


# ---------------------------------------------------------------------------- cross entropy
CE_SHAPES = [(5, 4), (1, 4), (3, 1), (2, 3, 4, 5), (2, 3, 5), (4,)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", CE_SHAPES, ids=str)
@pytest.mark.parametrize("weighted", [False, True], ids=["now", "w"])
@pytest.mark.parametrize("ignore", [None, "some"])
@pytest.mark.parametrize("ls", [0.0, 0.25])
def test_cross_entropy_vs_torch(dtype, shape, weighted, ignore, ls):
    c = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    x = random_array(shape, dtype, seed=1) * 3
    y = class_targets(tshape, c, seed=2, ignore=ignore)
    w = random_array((c,), dtype, seed=3, low=0.2, high=2.0) if weighted else None
    for red in REDUCTIONS:
        compare(lambda F, x, red=red: F.cross_entropy(x, const(F, y), weight=const(F, w),
                                                      reduction=red, label_smoothing=ls), [x])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ls", [0.0, 0.3])
def test_cross_entropy_all_ignored_gives_nan_mean(dtype, weighted, ls):
    x = random_array((4, 3), dtype, seed=4)
    y = class_targets((4,), 3, seed=5, ignore="all")
    w = random_array((3,), dtype, seed=6, low=0.5, high=1.5) if weighted else None
    for red in REDUCTIONS:
        out, _ = compare(lambda F, x, red=red: F.cross_entropy(
            x, const(F, y), weight=const(F, w), reduction=red, label_smoothing=ls), [x])
    out = NF.cross_entropy(numcnn.tensor(x), numcnn.tensor(y), label_smoothing=ls)
    assert np.isnan(out.item())


@pytest.mark.parametrize("ignore_index", [0, 2, -1])
def test_cross_entropy_ignore_index_in_range(ignore_index):
    x = random_array((6, 3), np.float64, seed=7)
    y = np.array([0, 1, 2, 2, 1, 0])
    w = np.array([0.5, 2.0, 1.5])
    for red, ls in itertools.product(REDUCTIONS, [0.0, 0.4]):
        compare(lambda F, x, red=red, ls=ls: F.cross_entropy(
            x, const(F, y), weight=const(F, w), reduction=red, ignore_index=ignore_index,
            label_smoothing=ls), [x])


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_huge_logits_stay_finite(dtype):
    x = (np.sign(random_array((6, 5), np.float64, seed=8)) * 1e4).astype(dtype)
    x[0] = 1e4                                          # a tie between huge logits
    y = np.array([0, 1, 2, 3, 4, 0])
    for red, ls in itertools.product(REDUCTIONS, [0.0, 0.1]):
        out, _ = compare(lambda F, x, red=red, ls=ls: F.cross_entropy(
            x, const(F, y), reduction=red, label_smoothing=ls), [x])
        assert np.all(np.isfinite(out.array))


def test_cross_entropy_uint8_targets_and_size1_target_unbatched():
    x = random_array((4, 3), np.float64, seed=9)
    y = np.array([0, 2, 1, 1], dtype=np.uint8)
    compare(lambda F, x: F.cross_entropy(x, const(F, y)), [x])
    xu = random_array((3,), np.float64, seed=10)
    # (torch's own backward fails for a size-1 1-D target of an unbatched input: forward only)
    compare(lambda F, x: F.cross_entropy(x, const(F, np.array([2])), reduction="none"), [xu],
            grad=False)


def test_cross_entropy_non_contiguous_input_and_empty_batch():
    """A channels-last array viewed as NCHW (no copy), and N = 0 (torch: nan for 'mean')."""
    x = random_array((2, 4, 5, 3), np.float32, seed=57)          # (N, H, W, C) in memory
    y = class_targets((2, 4, 5), 3, seed=58, ignore="some")
    for red in REDUCTIONS:
        compare(lambda F, x, red=red: F.cross_entropy(x.permute(0, 3, 1, 2), const(F, y),
                                                      reduction=red, label_smoothing=0.1), [x])
        # (torch's nll_loss2d backward refuses a non-contiguous input: compare forward only)
        compare(lambda F, x, red=red: F.nll_loss(x.permute(0, 3, 1, 2), const(F, y),
                                                 reduction=red), [x], grad=False)
        out, _ = compare(lambda F, x, red=red: F.cross_entropy(
            x, const(F, np.zeros(0, np.int64)), reduction=red), [np.zeros((0, 3))])
        if red == "mean":
            assert np.isnan(out.item())


PROB_SHAPES = [(5, 4), (1, 1), (2, 3, 4, 5), (4,)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", PROB_SHAPES, ids=str)
@pytest.mark.parametrize("weighted", [False, True], ids=["now", "w"])
@pytest.mark.parametrize("ls", [0.0, 0.2])
def test_cross_entropy_probability_targets_vs_torch(dtype, shape, weighted, ls):
    """Gradients for input, target AND weight (torch's composite path differentiates all)."""
    c = shape[0] if len(shape) == 1 else shape[1]
    x = random_array(shape, dtype, seed=11) * 2
    t = random_array(shape, dtype, seed=12, low=0.0, high=1.0)
    t /= t.sum(axis=0 if len(shape) == 1 else 1, keepdims=True)
    w = random_array((c,), dtype, seed=13, low=0.2, high=2.0)
    for red in REDUCTIONS:
        if weighted:
            compare(lambda F, x, t, w, red=red: F.cross_entropy(
                x, t, weight=w, reduction=red, label_smoothing=ls), [x, t, w])
        else:
            compare(lambda F, x, t, red=red: F.cross_entropy(x, t, reduction=red,
                                                             label_smoothing=ls), [x, t])


# ---------------------------------------------------------------------------- nll
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 4), (1, 1), (2, 3, 4, 5), (4,)], ids=str)
@pytest.mark.parametrize("weighted", [False, True], ids=["now", "w"])
@pytest.mark.parametrize("ignore", [None, "some", "all"])
def test_nll_loss_vs_torch(dtype, shape, weighted, ignore):
    c = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    x = random_array(shape, dtype, seed=14)
    y = class_targets(tshape, c, seed=15, ignore=ignore if len(shape) > 1 else None)
    w = random_array((c,), dtype, seed=16, low=0.2, high=2.0) if weighted else None
    for red in REDUCTIONS:
        compare(lambda F, x, red=red: F.nll_loss(x, const(F, y), weight=const(F, w),
                                                 reduction=red), [x])


# ---------------------------------------------------------------------------- regression
def _regression_fns():
    return {
        "mse": lambda F, x, y, red: F.mse_loss(x, y, reduction=red),
        "l1": lambda F, x, y, red: F.l1_loss(x, y, reduction=red),
        "smooth_l1": lambda F, x, y, red: F.smooth_l1_loss(x, y, reduction=red),
        "smooth_l1_b0.5": lambda F, x, y, red: F.smooth_l1_loss(x, y, reduction=red, beta=0.5),
        "smooth_l1_b0": lambda F, x, y, red: F.smooth_l1_loss(x, y, reduction=red, beta=0.0),
        "huber": lambda F, x, y, red: F.huber_loss(x, y, reduction=red),
        "huber_d0.3": lambda F, x, y, red: F.huber_loss(x, y, reduction=red, delta=0.3),
    }


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(_regression_fns()))
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((1,), (1,)), ((2, 3, 2), (2, 3, 2))],
                         ids=str)
def test_regression_vs_torch(dtype, name, shapes):
    fn = _regression_fns()[name]
    x = random_array(shapes[0], dtype, seed=17) * 2
    y = random_array(shapes[1], dtype, seed=18)
    y.reshape(-1)[:1] = x.reshape(-1)[:1]               # one exact tie: d = 0
    for red in REDUCTIONS:
        compare(lambda F, x, y, red=red: fn(F, x, y, red), [x, y])


@pytest.mark.parametrize("name", list(_regression_fns()))
def test_regression_broadcast_target_warns_like_torch(name):
    fn = _regression_fns()[name]
    x = random_array((3, 4), np.float64, seed=19)
    y = random_array((4,), np.float64, seed=20)
    for red in REDUCTIONS:
        with pytest.warns(UserWarning, match="different to the input size"):
            compare(lambda F, x, y, red=red: fn(F, x, y, red), [x, y])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_regression_elementwise_weight_vs_torch(dtype, name):
    x = random_array((3, 4), dtype, seed=21)
    y = random_array((3, 4), dtype, seed=22)
    w = random_array((3, 4), dtype, seed=23, low=0.1, high=2.0)
    for red in REDUCTIONS:
        compare(lambda F, x, y, w, red=red: getattr(F, name)(x, y, reduction=red, weight=w),
                [x, y, w])


# ---------------------------------------------------------------------------- binary
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 3), (1,), (2, 3, 2)], ids=str)
@pytest.mark.parametrize("weight", [None, "full", "last"])
def test_binary_cross_entropy_vs_torch(dtype, shape, weight):
    x = random_array(shape, dtype, seed=24, low=0.02, high=0.98)
    t = random_array(shape, dtype, seed=25, low=0.0, high=1.0)
    t.reshape(-1)[::2] = np.round(t.reshape(-1)[::2])   # hard 0/1 labels too
    w = None
    if weight:
        w = random_array(shape if weight == "full" else shape[-1:], dtype, seed=26, low=0.1,
                         high=2.0)
    for red in REDUCTIONS:
        compare(lambda F, x, t, red=red: F.binary_cross_entropy(x, t, weight=const(F, w),
                                                                 reduction=red), [x, t])


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_clamps_log_at_minus_100(dtype):
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.5], dtype=dtype)
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.5], dtype=dtype)
    out, _ = compare(lambda F, x, t: F.binary_cross_entropy(x, t, reduction="none"), [x, t],
                     grad=False)
    assert_close(out.array[:2], np.array([100.0, 100.0], dtype=dtype))
    # the input gradient at the clamped edges is finite: (x - y) / max(x (1 - x), 1e-12)
    compare(lambda F, x: F.binary_cross_entropy(x, const(F, t), reduction="sum"), [x])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 3), (1,), (2, 3, 5)], ids=str)
@pytest.mark.parametrize("weight", [None, "full", "last"])
@pytest.mark.parametrize("pos_weight", [None, "last", "scalar"])
def test_bce_with_logits_vs_torch(dtype, shape, weight, pos_weight):
    x = random_array(shape, dtype, seed=27) * 3
    t = random_array(shape, dtype, seed=28, low=0.0, high=1.0)
    w = pw = None
    if weight:
        w = random_array(shape if weight == "full" else shape[-1:], dtype, seed=29, low=0.1,
                         high=2.0)
    if pos_weight:
        pw = random_array(shape[-1:] if pos_weight == "last" else (1,), dtype, seed=30,
                          low=0.1, high=3.0)
    for red in REDUCTIONS:
        compare(lambda F, x, t, red=red: F.binary_cross_entropy_with_logits(
            x, t, weight=const(F, w), pos_weight=const(F, pw), reduction=red), [x, t])


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_huge_logits_stay_finite(dtype):
    x = np.array([1e4, -1e4, 1e4, -1e4, 0.0], dtype=dtype)
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.5], dtype=dtype)
    pw = np.array([2.5], dtype=dtype)
    for red in REDUCTIONS:
        out, _ = compare(lambda F, x, t, red=red: F.binary_cross_entropy_with_logits(
            x, t, pos_weight=const(F, pw), reduction=red), [x, t])
        assert np.all(np.isfinite(out.array))


# ---------------------------------------------------------------------------- kl
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 3), (1, 5), (2, 3, 4)], ids=str)
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_vs_torch(dtype, shape, log_target):
    x = np.log(random_array(shape, dtype, seed=31, low=0.05, high=1.0))
    t = random_array(shape, dtype, seed=32, low=0.05, high=1.0)
    if log_target:
        t = np.log(t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)        # 'mean' warns in both libraries
        for red in REDUCTIONS + ["batchmean"]:
            compare(lambda F, x, t, red=red: F.kl_div(x, t, reduction=red, log_target=log_target),
                    [x, t])


def test_kl_div_zero_target_and_0d_batchmean():
    x = np.log(np.array([0.2, 0.3, 0.5]))
    t = np.array([0.0, 0.4, 0.6])                      # t = 0: loss 0, target grad nan (torch)
    out, _ = compare(lambda F, x, t: F.kl_div(x, t, reduction="none"), [x, t])
    assert out.array[0] == 0.0
    compare(lambda F, x, t: F.kl_div(x, t, reduction="batchmean"),
            [np.array(-0.5), np.array(0.3)])


def test_kl_div_mean_warns_like_torch():
    with pytest.warns(UserWarning, match="batchmean"):
        NF.kl_div(numcnn.tensor([-1.0, -2.0]), numcnn.tensor([0.5, 0.5]))


# ---------------------------------------------------------------------------- legacy flags
@pytest.mark.parametrize("size_average,reduce", [(False, None), (None, False), (True, True),
                                                 (False, True)])
def test_size_average_and_reduce_map_to_reduction(size_average, reduce):
    x = random_array((3, 4), np.float64, seed=33)
    y = random_array((3, 4), np.float64, seed=34)
    with pytest.warns(UserWarning, match="size_average and reduce"):
        compare(lambda F, x, y: F.mse_loss(x, y, size_average=size_average, reduce=reduce),
                [x, y])
    yi = class_targets((3,), 4, seed=35)
    with pytest.warns(UserWarning, match="size_average and reduce"):
        compare(lambda F, x: F.cross_entropy(x, const(F, yi), size_average=size_average,
                                             reduce=reduce), [x])


# ---------------------------------------------------------------------------- gradcheck
def _t(arr, grad=True):
    return numcnn.tensor(arr, requires_grad=grad)


def test_gradcheck_class_index_losses():
    x = random_array((3, 4), np.float64, seed=36)
    xs = random_array((2, 3, 2, 2), np.float64, seed=37)
    y = numcnn.tensor(np.array([1, -100, 3]))
    ys = numcnn.tensor(class_targets((2, 2, 2), 3, seed=38, ignore="some"))
    w = numcnn.tensor(np.array([0.5, 1.0, 2.0, 1.5]))
    for red in REDUCTIONS:
        assert gradcheck(lambda a, red=red: NF.cross_entropy(a, y, weight=w, reduction=red,
                                                             label_smoothing=0.2), [_t(x)])
        assert gradcheck(lambda a, red=red: NF.cross_entropy(a, ys, reduction=red), [_t(xs)])
        assert gradcheck(lambda a, red=red: NF.nll_loss(a, y, weight=w, reduction=red), [_t(x)])


def test_gradcheck_probability_cross_entropy():
    x = random_array((3, 4), np.float64, seed=39)
    t = random_array((3, 4), np.float64, seed=40, low=0.0, high=1.0)
    w = random_array((4,), np.float64, seed=41, low=0.5, high=2.0)
    for red in REDUCTIONS:
        assert gradcheck(lambda a, b, c, red=red: NF.cross_entropy(
            a, b, weight=c, reduction=red, label_smoothing=0.1),
                         [_t(x), _t(t), _t(w)])


@pytest.mark.filterwarnings("ignore:reduction. .mean. divides")
def test_gradcheck_pointwise_losses():
    x = random_array((3, 4), np.float64, seed=42) * 2
    y = random_array((3, 4), np.float64, seed=43)
    pw = random_array((4,), np.float64, seed=46, low=0.5, high=2.0)
    fns = [
        lambda a, b, red: NF.mse_loss(a, b, reduction=red),
        lambda a, b, red: NF.l1_loss(a, b, reduction=red),
        lambda a, b, red: NF.smooth_l1_loss(a, b, reduction=red, beta=0.7),
        lambda a, b, red: NF.huber_loss(a, b, reduction=red, delta=0.6),
        lambda a, b, red: NF.binary_cross_entropy_with_logits(a, b, reduction=red,
                                                              pos_weight=numcnn.tensor(pw)),
        lambda a, b, red: NF.binary_cross_entropy(a.sigmoid(), b.sigmoid(), reduction=red),
        lambda a, b, red: NF.kl_div(a, b.exp(), reduction="batchmean"),
        lambda a, b, red: NF.kl_div(a, b, reduction=red, log_target=True),
    ]
    for red, f in itertools.product(REDUCTIONS, fns):
        assert gradcheck(lambda a, b, f=f, red=red: f(a, b, red), [_t(x), _t(y)])


# ---------------------------------------------------------------------------- naive loops
def test_cross_entropy_matches_textbook_loop():
    """loss = (sum_n (1-ε) w[y_n] (-log p_n[y_n]) + ε/K sum_c w[c] (-log p_n[c])) / sum_n w[y_n]."""
    x = random_array((6, 4), np.float64, seed=47) * 4
    y = [2, 0, -100, 3, 1, 2]
    w = [0.5, 1.5, 1.0, 2.0]
    eps, k = 0.3, 4
    num = den = 0.0
    for n in range(6):
        if y[n] == -100:
            continue
        lse = math.log(sum(math.exp(v) for v in x[n]))
        logp = [v - lse for v in x[n]]
        num += (1 - eps) * w[y[n]] * -logp[y[n]]
        num += eps / k * sum(w[c] * -logp[c] for c in range(k))
        den += w[y[n]]
    out = NF.cross_entropy(numcnn.tensor(x), numcnn.tensor(np.array(y)),
                           weight=numcnn.tensor(np.array(w)), label_smoothing=eps)
    assert abs(out.item() - num / den) < 1e-12


def test_cross_entropy_gradient_matches_softmax_minus_onehot_loop():
    """d mean-loss / dx[n, j] = w[y_n] (p[n, j] - [j == y_n]) / sum_m w[y_m]."""
    x = random_array((3, 5), np.float64, seed=48)
    y = [4, 0, 2]
    w = [1.0, 2.0, 0.5, 1.0, 3.0]
    den = sum(w[v] for v in y)
    expected = np.zeros((3, 5))
    for n in range(3):
        z = [math.exp(v) for v in x[n]]
        for j in range(5):
            expected[n, j] = w[y[n]] * (z[j] / sum(z) - (j == y[n])) / den
    xt = _t(x)
    NF.cross_entropy(xt, numcnn.tensor(np.array(y)), weight=numcnn.tensor(np.array(w))).backward()
    np.testing.assert_allclose(xt.grad.array, expected, rtol=1e-12, atol=1e-15)


def test_probability_cross_entropy_and_nll_match_loops():
    x = random_array((3, 4), np.float64, seed=49)
    t = random_array((3, 4), np.float64, seed=50, low=0.0, high=1.0)
    total = 0.0
    for n in range(3):
        lse = math.log(sum(math.exp(v) for v in x[n]))
        total += -sum(t[n, c] * (x[n, c] - lse) for c in range(4))
    out = NF.cross_entropy(numcnn.tensor(x), numcnn.tensor(t))
    assert abs(out.item() - total / 3) < 1e-12
    y = [1, 3, 0]
    nll = NF.nll_loss(numcnn.tensor(x), numcnn.tensor(np.array(y)), reduction="sum")
    assert abs(nll.item() - -sum(x[n, y[n]] for n in range(3))) < 1e-12


def test_pointwise_losses_match_loops():
    x = random_array((7,), np.float64, seed=51) * 2
    y = random_array((7,), np.float64, seed=52)
    p = random_array((7,), np.float64, seed=53, low=0.05, high=0.95)
    beta, delta, pw = 0.8, 0.6, 1.7

    def smooth(d):
        return 0.5 * d * d / beta if abs(d) < beta else abs(d) - 0.5 * beta

    def huber(d):
        return 0.5 * d * d if abs(d) <= delta else delta * (abs(d) - 0.5 * delta)

    def sig(v):
        return 1 / (1 + math.exp(-v))

    refs = {
        "mse": (NF.mse_loss(_t(x, False), _t(y, False)),
                sum((a - b) ** 2 for a, b in zip(x, y)) / 7),
        "l1": (NF.l1_loss(_t(x, False), _t(y, False)), sum(abs(a - b) for a, b in zip(x, y)) / 7),
        "smooth_l1": (NF.smooth_l1_loss(_t(x, False), _t(y, False), beta=beta),
                      sum(smooth(a - b) for a, b in zip(x, y)) / 7),
        "huber": (NF.huber_loss(_t(x, False), _t(y, False), delta=delta),
                  sum(huber(a - b) for a, b in zip(x, y)) / 7),
        "bce": (NF.binary_cross_entropy(_t(p, False), _t(p[::-1].copy(), False)),
                -sum(b * math.log(a) + (1 - b) * math.log(1 - a) for a, b in zip(p, p[::-1])) / 7),
        "bce_logits": (NF.binary_cross_entropy_with_logits(
            _t(x, False), _t(p, False), pos_weight=numcnn.tensor(np.array([pw]))),
            -sum(pw * b * math.log(sig(a)) + (1 - b) * math.log(1 - sig(a))
                 for a, b in zip(x, p)) / 7),
        "kl": (NF.kl_div(_t(np.log(p), False), _t(p[::-1].copy(), False), reduction="sum"),
               sum(b * (math.log(b) - math.log(a)) for a, b in zip(p, p[::-1]))),
    }
    for name, (got, want) in refs.items():
        assert abs(got.item() - want) < 1e-12 * max(1.0, abs(want)), name


# ---------------------------------------------------------------------------- errors
def _numcnn_error(fn, arrays):
    with pytest.raises(Exception) as info:
        fn(NF, *[numcnn.tensor(a) if isinstance(a, np.ndarray) else a for a in arrays])
    return info.value


X43 = np.zeros((4, 3), np.float32)
P43 = np.full((4, 3), 0.5, np.float32)
Y4 = np.array([0, 1, 2, 1])
ERROR_CASES = [
    # (id, fn, arrays, words the message must contain)
    ("batch_size", lambda F, x, y: F.cross_entropy(x, y), [X43, Y4[:3]], "batch_size (4)"),
    ("nll_batch_size", lambda F, x, y: F.nll_loss(x, y), [X43, Y4[:3]], "batch_size (3)"),
    ("out_of_range", lambda F, x, y: F.cross_entropy(x, y), [X43, np.array([0, 1, 7, 1])],
     "Target 7"),
    ("negative_target", lambda F, x, y: F.nll_loss(x, y), [X43, np.array([0, -1, 2, 1])],
     "Target -1"),
    ("out_of_range_spatial", lambda F, x, y: F.cross_entropy(x, y),
     [np.zeros((2, 3, 2, 2)), np.full((2, 2, 2), 3)], "Target 3"),
    ("out_of_range_ls", lambda F, x, y: F.cross_entropy(x, y, label_smoothing=0.1),
     [X43, np.array([0, 1, 9, 1])], "Target 9"),
    ("ignored_value_not_ignore_index", lambda F, x, y: F.cross_entropy(x, y, ignore_index=1),
     [X43, np.array([0, -100, 2, 1])], "Target -100"),
    ("float_class_targets", lambda F, x, y: F.cross_entropy(x, y), [X43, Y4.astype(np.float32)],
     "dtype"),
    ("uint8_spatial_targets", lambda F, x, y: F.cross_entropy(x, y),
     [np.zeros((2, 3, 4, 5)), np.zeros((2, 4, 5), np.uint8)], "uint8"),
    ("int32_class_targets", lambda F, x, y: F.nll_loss(x, y), [X43, Y4.astype(np.int32)],
     "int32"),
    ("int_probability_targets", lambda F, x, y: F.cross_entropy(x, y),
     [X43, np.zeros((4, 3), np.int64)], "floating point"),
    ("spatial_size", lambda F, x, y: F.cross_entropy(x, y),
     [np.zeros((2, 3, 4, 5)), np.zeros((2, 4, 4), np.int64)], "size mismatch"),
    ("spatial_rank", lambda F, x, y: F.cross_entropy(x, y),
     [np.zeros((2, 3, 4, 5)), np.zeros((2, 4), np.int64)], "dimension: 2"),
    ("multi_target", lambda F, x, y: F.cross_entropy(x, y), [X43, np.zeros((4, 2), np.int64)],
     "multi-target"),
    ("unbatched_target_size", lambda F, x, y: F.cross_entropy(x, y),
     [np.zeros(3), np.array([0, 1])], "size: 2"),
    ("reduction", lambda F, x, y: F.cross_entropy(x, y, reduction="avg"), [X43, Y4], "avg"),
    ("reduction_mse", lambda F, x, y: F.mse_loss(x, y, reduction="avg"), [X43, X43], "avg"),
    ("reduction_nll", lambda F, x, y: F.nll_loss(x, y, reduction="avg"), [X43, Y4], "avg"),
    ("reduction_bce", lambda F, x, y: F.binary_cross_entropy(x, y, reduction="avg"),
     [P43, P43], "avg"),
    ("reduction_bcel", lambda F, x, y: F.binary_cross_entropy_with_logits(x, y, reduction="x"),
     [X43, P43], "reduction"),
    ("reduction_kl", lambda F, x, y: F.kl_div(x, y, reduction="avg"), [X43, P43], "avg"),
    ("label_smoothing", lambda F, x, y: F.cross_entropy(x, y, label_smoothing=1.5), [X43, Y4],
     "1.5"),
    ("label_smoothing_prob", lambda F, x, y: F.cross_entropy(x, y, label_smoothing=1.5),
     [X43, P43], "label_smoothing"),
    ("weight_length", lambda F, x, y, w: F.cross_entropy(x, y, weight=w),
     [X43, Y4, np.ones(2, np.float32)], "3 classes"),
    ("weight_length_nll", lambda F, x, y, w: F.nll_loss(x, y, weight=w),
     [X43, Y4, np.ones(4, np.float32)], "[4]"),
    ("weight_length_prob", lambda F, x, y, w: F.cross_entropy(x, y, weight=w),
     [X43, P43, np.ones(2, np.float32)], "[2]"),
    ("weight_2d", lambda F, x, y, w: F.cross_entropy(x, y, weight=w),
     [X43, Y4, np.ones((1, 3), np.float32)], "[1, 3]"),
    ("weight_dtype", lambda F, x, y, w: F.cross_entropy(x, y, weight=w),
     [X43, Y4, np.ones(3)], "float64"),
    ("bce_input_range", lambda F, x, y: F.binary_cross_entropy(x, y),
     [np.array([0.5, 1.5], np.float32), np.array([0.0, 1.0], np.float32)], "between 0 and 1"),
    ("bce_input_nan", lambda F, x, y: F.binary_cross_entropy(x, y),
     [np.array([np.nan], np.float32), np.array([0.0], np.float32)], "between 0 and 1"),
    ("bce_target_range", lambda F, x, y: F.binary_cross_entropy(x, y),
     [P43, P43 * 3], "target"),
    ("bce_shape", lambda F, x, y: F.binary_cross_entropy(x, y), [P43, P43[:, :1]], "(4, 1)"),
    ("bce_dtype", lambda F, x, y: F.binary_cross_entropy(x, y), [P43, P43.astype(np.float64)],
     "float64"),
    ("bce_weight_shape", lambda F, x, y, w: F.binary_cross_entropy(x, y, weight=w),
     [P43, P43, np.ones(4, np.float32)], "weight"),
    ("bcel_shape", lambda F, x, y: F.binary_cross_entropy_with_logits(x, y), [X43, P43[0]],
     "(3,)"),
    ("bcel_weight_shape", lambda F, x, y, w: F.binary_cross_entropy_with_logits(x, y, w),
     [X43, P43, np.ones(4, np.float32)], "weight"),
    ("bcel_pos_weight_shape",
     lambda F, x, y, w: F.binary_cross_entropy_with_logits(x, y, pos_weight=w),
     [X43, P43, np.ones(4, np.float32)], "pos_weight"),
    ("mse_not_broadcastable", lambda F, x, y: F.mse_loss(x, y), [X43, np.zeros(2, np.float32)],
     "(2,)"),
    ("mse_weight_shape", lambda F, x, y, w: F.mse_loss(x, y, weight=w),
     [X43, X43, np.ones(3, np.float32)], "Weights"),
    ("smooth_l1_beta", lambda F, x, y: F.smooth_l1_loss(x, y, beta=-1.0), [X43, X43], "beta"),
    ("huber_delta", lambda F, x, y: F.huber_loss(x, y, delta=0.0), [X43, X43], "delta"),
    ("kl_shape", lambda F, x, y: F.kl_div(x, y, reduction="sum"), [X43, P43[:, :2]], "(4, 2)"),
]


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_errors_like_torch(case):
    """Where torch raises, numcnn raises the same error type with a message naming the problem."""
    _, fn, arrays, words = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        t_err = raises_like_torch(fn, arrays)
        assert t_err is not None
        err = _numcnn_error(fn, arrays)
    assert type(err) is type(t_err), f"torch raised {t_err!r}, numcnn {err!r}"
    assert words in str(err), f"{words!r} not in {err}"


def test_errors_for_non_tensor_and_integer_input():
    with pytest.raises(TypeError, match="'input' must be Tensor"):
        NF.cross_entropy(np.zeros((2, 3)), numcnn.tensor([0, 1]))
    with pytest.raises(TypeError, match="'target' must be Tensor"):
        NF.mse_loss(numcnn.zeros(3), [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="floating point"):
        NF.cross_entropy(numcnn.tensor([[1, 2]]), numcnn.tensor([0]))
    with pytest.raises(TypeError, match="floating point"):
        NF.mse_loss(numcnn.tensor([1, 2]), numcnn.tensor([1, 2]))


def test_negative_label_smoothing_is_refused():
    """A deliberate difference: torch silently treats label_smoothing < 0 as 0; we raise."""
    with pytest.raises(RuntimeError, match="between 0.0 and 1.0. Got: -0.1"):
        NF.cross_entropy(numcnn.zeros(2, 3), numcnn.tensor([0, 1]), label_smoothing=-0.1)


def test_weight_requiring_grad_is_refused_like_torch():
    """torch: class-index and binary losses are not differentiable w.r.t. weight."""
    w = numcnn.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="'weight'"):
        NF.cross_entropy(numcnn.zeros(2, 3), numcnn.tensor([0, 1]), weight=w)
    with numcnn.no_grad():
        NF.cross_entropy(numcnn.zeros(2, 3), numcnn.tensor([0, 1]), weight=w)
    with pytest.raises(RuntimeError):
        TF.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1]),
                         weight=torch.ones(3, requires_grad=True))


def test_float32_stays_float32():
    x = numcnn.tensor(random_array((4, 3), np.float32, seed=54), requires_grad=True)
    out = NF.cross_entropy(x, numcnn.tensor(Y4), label_smoothing=0.1)
    out.backward()
    assert out.dtype == np.float32 and x.grad.dtype == np.float32
