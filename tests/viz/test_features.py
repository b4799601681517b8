"""numcnn.viz.features: feature maps, filters and activation maximisation, checked against
PyTorch running the same weights, plain loops over the stated formulas, and the model's own
state before and after."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
import torch

import numcnn
import numcnn.nn as nn
from numcnn.models import fmnist_cnn, resnet18
from numcnn.viz import features as V

torch.set_num_threads(1)
RTOL, ATOL = 1e-4, 1e-5                 # float32 against torch (DESIGN.md)
FMNIST_CONVS_POOLS = ["features.0", "features.3", "features.6", "features.8", "features.11",
                      "features.14"]


# ---------------------------------------------------------------------------------------------
# fixtures: fmnist_cnn with non-trivial batch-norm statistics, and its twin in PyTorch


def make_fmnist(seed: int = 0) -> nn.Module:
    numcnn.manual_seed(seed)
    model = fmnist_cnn()
    rng = np.random.default_rng(seed + 100)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.array[...] = rng.normal(0, 0.1, m.running_mean.shape)
            m.running_var.array[...] = rng.uniform(0.5, 2.0, m.running_var.shape)
    return model


def torch_features(model: nn.Module) -> torch.nn.Sequential:
    """PyTorch's version of fmnist_cnn.features (seed 004's two conv blocks), same weights."""
    def block(cin: int, cout: int) -> list[torch.nn.Module]:
        return [torch.nn.Conv2d(cin, cout, 3, padding=1), torch.nn.ReLU(),
                torch.nn.BatchNorm2d(cout), torch.nn.Conv2d(cout, cout, 3, padding=1),
                torch.nn.ReLU(), torch.nn.BatchNorm2d(cout), torch.nn.MaxPool2d(2),
                torch.nn.Dropout(0.25)]
    twin = torch.nn.Sequential(*block(1, 32), *block(32, 64))
    state = {k[len("features."):]: torch.from_numpy(np.array(v.array))
             for k, v in model.state_dict().items() if k.startswith("features.")}
    twin.load_state_dict(state, strict=False)
    missing = set(twin.state_dict()) - set(state) - {k for k in twin.state_dict()
                                                     if k.endswith("num_batches_tracked")}
    assert not missing
    return twin.eval()


def torch_layer_outputs(twin: torch.nn.Sequential, x: np.ndarray) -> dict[str, np.ndarray]:
    outs = {}
    h = torch.from_numpy(x)
    with torch.no_grad():
        for i, layer in enumerate(twin):
            h = layer(h)
            outs[f"features.{i}"] = h.numpy().copy()
    return outs


@pytest.fixture
def plt() -> Any:
    import matplotlib.pyplot as pyplot  # a test dependency (the "viz" extra)
    yield pyplot
    pyplot.close("all")


def modes(model: nn.Module) -> list[bool]:
    return [m.training for m in model.modules()]


def hook_counts(model: nn.Module) -> list[int]:
    return [len(m._forward_hooks) for m in model.modules()]


# ---------------------------------------------------------------------------------------------
# feature_maps


def test_feature_maps_match_torch_layer_by_layer() -> None:
    model = make_fmnist()
    model.train()
    model.features[5].eval()           # a module left in eval on purpose must stay so
    before = modes(model)
    x = np.random.default_rng(1).standard_normal((3, 1, 28, 28)).astype(np.float32)
    maps = V.feature_maps(model, x)
    assert list(maps) == FMNIST_CONVS_POOLS
    want = torch_layer_outputs(torch_features(model), x)
    for name, got in maps.items():
        assert isinstance(got, np.ndarray)
        np.testing.assert_allclose(got, want[name], rtol=RTOL, atol=ATOL, err_msg=name)
    assert maps["features.14"].shape == (3, 64, 7, 7)
    assert modes(model) == before
    assert not any(hook_counts(model))


def test_feature_maps_named_layers_single_image_and_no_graph() -> None:
    model = make_fmnist(1).eval()
    x = np.random.default_rng(2).standard_normal((1, 28, 28)).astype(np.float32)
    maps = V.feature_maps(model, numcnn.Tensor(x), layers=["features.12", "classifier.1"])
    assert list(maps) == ["features.12", "classifier.1"]
    want = torch_layer_outputs(torch_features(model), x[None])
    np.testing.assert_allclose(maps["features.12"], want["features.12"], rtol=RTOL, atol=ATOL)
    assert maps["classifier.1"].shape == (1, 512)
    recorded: list[bool] = []
    handle = model.features[0].register_forward_hook(
        lambda m, i, o: recorded.append(o.requires_grad or o.grad_fn is not None))
    V.feature_maps(model, x, layers=["features.0"])
    handle.remove()
    assert recorded == [False]          # no graph: the output needs no gradient
    assert all(p.grad is None for p in model.parameters())


def test_feature_maps_default_layers_resnet18() -> None:
    numcnn.manual_seed(0)
    model = resnet18()
    kinds = {"Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d"}
    expected = [n for n, m in model.named_modules() if type(m).__name__ in kinds]
    x = np.random.default_rng(3).standard_normal((1, 3, 64, 64)).astype(np.float32)
    maps = V.feature_maps(model, x)
    assert list(maps) == expected
    assert expected[:2] == ["conv1", "maxpool"] and expected[-1] == "avgpool"
    assert maps["conv1"].shape == (1, 64, 32, 32)
    assert maps["layer4.1.conv2"].shape == (1, 512, 2, 2)
    assert maps["avgpool"].shape == (1, 512, 1, 1)
    # the pooled map is the spatial mean of layer4's output (the last block, after its ReLU)
    last = V.feature_maps(model, x, layers=["layer4"])["layer4"]
    np.testing.assert_allclose(maps["avgpool"][0, :, 0, 0], last[0].mean(axis=(1, 2)),
                               rtol=RTOL, atol=ATOL)


class SharedPool(nn.Module):
    """A model that calls one pooling module twice."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: numcnn.Tensor) -> numcnn.Tensor:
        return self.pool(self.pool(self.conv(x)))


def test_feature_maps_module_called_twice_gives_one_entry_per_call() -> None:
    numcnn.manual_seed(0)
    model = SharedPool()
    x = np.random.default_rng(4).standard_normal((2, 1, 8, 8)).astype(np.float32)
    maps = V.feature_maps(model, x)
    assert list(maps) == ["conv", "pool", "pool#2"]
    conv = torch.nn.functional.conv2d(torch.from_numpy(x),
                                      torch.from_numpy(model.conv.weight.array),
                                      torch.from_numpy(model.conv.bias.array), padding=1)
    first = torch.nn.functional.max_pool2d(conv, 2)
    np.testing.assert_allclose(maps["pool"], first.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(maps["pool#2"], torch.nn.functional.max_pool2d(first, 2).numpy(),
                               rtol=RTOL, atol=ATOL)


def test_feature_maps_conv1d_model_takes_c_l_inputs(plt: Any) -> None:
    numcnn.manual_seed(3)
    model = nn.Sequential(nn.Conv1d(2, 4, 3), nn.ReLU(), nn.MaxPool1d(2))
    x = np.random.default_rng(6).standard_normal((2, 30))          # one (C, L) input, float64
    maps = V.feature_maps(model, x)
    assert list(maps) == ["0", "2"]
    conv = torch.nn.functional.conv1d(torch.from_numpy(x[None].astype(np.float32)),
                                      torch.from_numpy(model[0].weight.array),
                                      torch.from_numpy(model[0].bias.array))
    np.testing.assert_allclose(maps["0"], conv.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(maps["2"], torch.nn.functional.max_pool1d(conv.relu(), 2).numpy(),
                               rtol=RTOL, atol=ATOL)
    fig = V.plot_feature_maps(maps)
    rows = np.asarray(fig.axes[1].get_images()[0].get_array())
    assert rows.shape == (4, 14)                                   # one row per channel
    m = maps["2"][0]
    np.testing.assert_allclose(rows, (m - m.min(1, keepdims=True)) /
                               (m.max(1, keepdims=True) - m.min(1, keepdims=True)), rtol=1e-6)


class Split(nn.Module):
    def forward(self, x: numcnn.Tensor) -> dict[str, numcnn.Tensor]:
        return {"a": x, "b": x}


class DictOutput(nn.Module):
    """A model with a layer whose output is not a Tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.split = Split()

    def forward(self, x: numcnn.Tensor) -> numcnn.Tensor:
        return self.split(x)["a"]


def test_feature_maps_errors_leave_no_hooks_and_restore_modes() -> None:
    model = make_fmnist().train()
    with pytest.raises(ValueError, match=r"no layer 'conv9' .* layers: features, features\.0"):
        V.feature_maps(model, np.zeros((1, 1, 28, 28), np.float32), layers=["conv9"])
    with pytest.raises(ValueError, match=r"\(N, C, H, W\) or \(C, H, W\), got shape \(28, 28\)"):
        V.feature_maps(model, np.zeros((28, 28), np.float32))
    with pytest.raises(ValueError, match=r"cannot take an input of shape \(1, 3, 28, 28\)"):
        V.feature_maps(model, np.zeros((1, 3, 28, 28), np.float32))
    with pytest.raises(ValueError, match=r"^layer 'split' returns dict, not a Tensor"):
        V.feature_maps(DictOutput(), np.zeros((1, 1, 4, 4)), layers=["split"])
    with pytest.raises(ValueError, match="sequence of layer names"):
        V.feature_maps(model, np.zeros((1, 1, 28, 28), np.float32), layers="features.0")
    assert all(modes(model))
    assert not any(hook_counts(model))


# ---------------------------------------------------------------------------------------------
# filters


def test_filters_rgb_first_layer_resnet18() -> None:
    numcnn.manual_seed(0)
    conv1 = resnet18().conv1
    w = conv1.weight.array.astype(np.float64)          # (64, 3, 7, 7)
    tiles = V.filters(conv1)
    assert tiles.shape == (64, 7, 7, 3)
    peak = np.abs(w).max()
    for o, a, b, c in itertools.product([0, 17, 63], range(7), range(7), range(3)):
        assert tiles[o, a, b, c] == pytest.approx(0.5 + w[o, c, a, b] / (2 * peak), abs=1e-12)
    assert tiles.min() >= 0 and tiles.max() <= 1
    assert min(tiles.min(), 1 - tiles.max()) == pytest.approx(0.0, abs=1e-12)  # one end reached


def test_filters_pairs_mean_and_minmax() -> None:
    numcnn.manual_seed(1)
    conv = nn.Conv2d(4, 5, (3, 2))
    w = conv.weight.array.astype(np.float64)           # (5, 4, 3, 2)
    pairs = V.filters(conv)
    assert pairs.shape == (5 * 4, 3, 2)
    peak = np.abs(w).max()
    for o in range(5):
        for i in range(4):
            np.testing.assert_allclose(pairs[o * 4 + i], 0.5 + w[o, i] / (2 * peak), rtol=1e-12)
    mean = V.filters(conv, mode="mean")
    avg = np.array([[[sum(w[o, i, a, b] for i in range(4)) / 4 for b in range(2)]
                     for a in range(3)] for o in range(5)])
    np.testing.assert_allclose(mean, 0.5 + avg / (2 * np.abs(avg).max()), rtol=1e-12)
    mm = V.filters(conv, mode="pairs", scale="minmax")
    np.testing.assert_allclose(mm[7], (w[1, 3] - w.min()) / (w.max() - w.min()), rtol=1e-12)
    assert mm.min() == 0.0 and mm.max() == 1.0
    fmnist_second = make_fmnist().features[3]          # Conv2d(32, 32): 1024 pair tiles
    assert V.filters(fmnist_second).shape == (1024, 3, 3)
    grouped = nn.Conv2d(6, 4, 3, groups=2)             # weight (4, 3, 3, 3): 3 per group -> RGB
    assert V.filters(grouped, mode="pairs").shape == (12, 3, 3)


def test_filters_conv1d_and_conv3d() -> None:
    numcnn.manual_seed(2)
    c1 = nn.Conv1d(2, 3, 5)
    t1 = V.filters(c1)
    assert t1.shape == (6, 1, 5)
    w1 = c1.weight.array.astype(np.float64)
    np.testing.assert_allclose(t1[5, 0], 0.5 + w1[2, 1] / (2 * np.abs(w1).max()), rtol=1e-12)
    c3 = nn.Conv3d(1, 2, (3, 3, 3))
    w3 = c3.weight.array.astype(np.float64)[:, :, 1]   # the middle depth slice
    np.testing.assert_allclose(V.filters(c3), 0.5 + w3.reshape(2, 3, 3) / (2 * np.abs(w3).max()),
                               rtol=1e-12)


def test_filters_errors() -> None:
    with pytest.raises(ValueError, match="takes a Conv1d, Conv2d or Conv3d layer, got Linear"):
        V.filters(nn.Linear(3, 2))
    with pytest.raises(ValueError, match="takes a Conv1d, Conv2d or Conv3d layer, got Sequential"):
        V.filters(make_fmnist().features)
    with pytest.raises(ValueError, match=r"mode must be one of 'auto', 'pairs', 'mean', 'rgb'"):
        V.filters(nn.Conv2d(1, 1, 3), mode="max")
    with pytest.raises(ValueError, match="mode 'rgb' needs 3 input channels per kernel, this "
                                         "layer has 2"):
        V.filters(nn.Conv2d(2, 1, 3), mode="rgb")
    with pytest.raises(ValueError, match="scale must be one of 'symmetric', 'minmax'"):
        V.filters(nn.Conv2d(1, 1, 3), scale="abs")


# ---------------------------------------------------------------------------------------------
# Gaussian blur


def naive_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """y[h, w] = sum_{a, b} g(a) g(b) x[h + a, w + b] / (sum g)^2 over |a|, |b| <= ceil(3 sigma),
    with mirrored borders, written as a plain double loop."""
    r = max(1, int(np.ceil(3 * sigma)))
    g = {a: np.exp(-a * a / (2 * sigma * sigma)) for a in range(-r, r + 1)}
    total = sum(g.values())
    padded = np.pad(x, r, mode="symmetric")
    out = np.zeros_like(x)
    for h in range(x.shape[0]):
        for w in range(x.shape[1]):
            out[h, w] = sum(g[a] * g[b] * padded[h + r + a, w + r + b]
                            for a in range(-r, r + 1) for b in range(-r, r + 1)) / total ** 2
    return out


@pytest.mark.parametrize("sigma", [0.5, 1.3])
def test_gaussian_blur_against_the_formula(sigma: float) -> None:
    k = V._gaussian_kernel1d(sigma)
    r = max(1, int(np.ceil(3 * sigma)))
    j = np.arange(-r, r + 1)
    np.testing.assert_allclose(k, np.exp(-j ** 2 / (2 * sigma ** 2)) /
                               np.exp(-j ** 2 / (2 * sigma ** 2)).sum(), rtol=1e-14)
    x = np.random.default_rng(5).standard_normal((2, 3, 7, 9))
    got = V._gaussian_blur(x, sigma)
    for n, c in itertools.product(range(2), range(3)):
        np.testing.assert_allclose(got[n, c], naive_blur(x[n, c], sigma), rtol=1e-12, atol=1e-14)
    impulse = np.zeros((1, 1, 15, 15))
    impulse[0, 0, 7, 7] = 1.0
    spread = V._gaussian_blur(impulse, sigma)[0, 0, 7 - r:8 + r, 7 - r:8 + r]
    np.testing.assert_allclose(spread, np.outer(k, k), rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# max_activation


def torch_objective(twin: torch.nn.Sequential, upto: int, channel: int, x: np.ndarray
                    ) -> tuple[float, np.ndarray]:
    """The channel's mean activation at layer `upto` and its gradient w.r.t. x, in PyTorch."""
    t = torch.from_numpy(x.copy()).requires_grad_(True)
    a = twin[:upto + 1](t)[:, channel].mean()
    (g,) = torch.autograd.grad(a, t)
    return float(a.detach()), g.numpy()


def start_image(seed: int, shape: tuple[int, ...], std: float = 0.01) -> np.ndarray:
    return (std * np.random.default_rng(seed).standard_normal((1, *shape))).astype(np.float32)


def test_max_activation_one_step_matches_torch() -> None:
    """x1 = (1 - l2_decay)(x0 + lr g / rms(g)), then the blur: every term against PyTorch's
    gradient and the naive blur; the activations against PyTorch's forward."""
    model = make_fmnist()
    twin = torch_features(model)
    lr, decay, sigma = 0.2, 0.01, 0.7
    res = V.max_activation(model, "features.11", 7, (1, 28, 28), steps=1, lr=lr, seed=3,
                           l2_decay=decay, blur_every=1, blur_sigma=sigma, jitter=0)
    x0 = start_image(3, (1, 28, 28))
    a0, g = torch_objective(twin, 11, 7, x0)
    g64 = g.astype(np.float64)
    x1 = (1 - decay) * (x0 + lr * g64 / np.sqrt(np.mean(g64 ** 2)))
    x1 = naive_blur(x1[0, 0], sigma)[None]
    assert res.image.shape == (1, 28, 28) and res.image.dtype == np.float32
    np.testing.assert_allclose(res.image, x1, rtol=RTOL, atol=ATOL)
    a1, _ = torch_objective(twin, 11, 7, res.image[None])
    np.testing.assert_allclose(res.activations, [a0, a1], rtol=RTOL, atol=ATOL)


def test_max_activation_jitter_rolls_the_gradient_back() -> None:
    """With jitter the step is the gradient at roll(x0, s) rolled back by -s, for one of the
    (2 jitter + 1)^2 shifts s; the activations are measured on the unshifted image."""
    model = make_fmnist(2)
    twin = torch_features(model)
    res = V.max_activation(model, "features.8", 2, (1, 28, 28), steps=1, lr=0.1, seed=0,
                           l2_decay=0.0, blur_every=0, jitter=1)
    x0 = start_image(0, (1, 28, 28))
    matches = []
    for s in itertools.product([-1, 0, 1], repeat=2):
        _, g = torch_objective(twin, 8, 2, np.roll(x0, s, axis=(2, 3)))
        g = np.roll(g.astype(np.float64), (-s[0], -s[1]), axis=(2, 3))
        cand = x0 + 0.1 * g / np.sqrt(np.mean(g ** 2))
        if np.allclose(res.image, cand[0], rtol=RTOL, atol=ATOL):
            matches.append(s)
    assert len(matches) == 1
    a1, _ = torch_objective(twin, 8, 2, res.image[None])
    assert res.activations[1] == pytest.approx(a1, rel=RTOL, abs=ATOL)


@pytest.mark.parametrize("jitter", [0, 1])
def test_max_activation_records_each_iterate(jitter: int) -> None:
    """activations[t] = a(x_t) on the unshifted image: x_t taken from a run of t steps (runs
    with equal seeds share their first steps), a(x_t) from PyTorch."""
    model = make_fmnist(4)
    twin = torch_features(model)
    kw: dict[str, Any] = dict(lr=0.2, seed=5, blur_every=2, jitter=jitter)
    full = V.max_activation(model, "features.3", 1, (1, 28, 28), steps=3, **kw)
    assert full.activations.shape == (4,)
    iterates = [start_image(5, (1, 28, 28))[0]] + [
        V.max_activation(model, "features.3", 1, (1, 28, 28), steps=t, **kw).image
        for t in (1, 2)] + [full.image]
    want = [torch_objective(twin, 3, 1, img[None])[0] for img in iterates]
    np.testing.assert_allclose(full.activations, want, rtol=RTOL, atol=ATOL)
    assert len(set(full.activations.tolist())) == 4


def test_max_activation_raises_the_channel_and_leaves_the_model_alone() -> None:
    model = make_fmnist().train()
    model.classifier[3].eval()
    before_modes = modes(model)
    params = {k: v.array.copy() for k, v in model.state_dict().items()}
    res = V.max_activation(model, "features.11", 5, (1, 28, 28), steps=20, lr=0.3, seed=0)
    acts = res.activations
    assert acts.shape == (21,)
    # from below zero (the noise start) to clearly positive, a rise of several times |start|
    assert acts[0] < 0 and acts[-1] > 0.02 and acts[-1] - acts[0] > 3 * abs(acts[0])
    # and far above random images of the same size (per-pixel RMS) as the result
    rms = np.sqrt(np.mean(res.image.astype(np.float64) ** 2))
    noise = np.random.default_rng(9).standard_normal((32, 1, 28, 28)) * rms    # float64: cast
    random_acts = V.feature_maps(model, noise, ["features.11"])["features.11"][:, 5].mean((1, 2))
    assert acts[-1] > 3 * random_acts.max()
    # the measured activations are those of the returned image (last) and of the start (first)
    twin = torch_features(model)
    assert acts[-1] == pytest.approx(torch_objective(twin, 11, 5, res.image[None])[0],
                                     rel=RTOL, abs=ATOL)
    assert acts[0] == pytest.approx(torch_objective(twin, 11, 5, start_image(0, (1, 28, 28)))[0],
                                    rel=RTOL, abs=ATOL)
    # the model: same parameters and buffers bit for bit, no .grad, modes and flags restored
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.array, params[k])
    assert all(p.grad is None and p.requires_grad for p in model.parameters())
    assert modes(model) == before_modes
    assert not any(hook_counts(model))


def test_max_activation_reproducible_per_seed() -> None:
    model = make_fmnist()
    kw: dict[str, Any] = dict(steps=3, blur_every=2, jitter=2)
    a = V.max_activation(model, "features.3", 4, (1, 28, 28), seed=11, **kw)
    b = V.max_activation(model, "features.3", 4, (1, 28, 28), seed=11, **kw)
    c = V.max_activation(model, "features.3", 4, (1, 28, 28), seed=12, **kw)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.activations, b.activations)
    assert not np.allclose(a.image, c.image)
    assert a.activations[0] != c.activations[0]


def test_max_activation_errors() -> None:
    model = make_fmnist().train()
    with pytest.raises(ValueError, match=r"no layer 'features\.99'"):
        V.max_activation(model, "features.99", 0, (1, 28, 28), steps=1)
    with pytest.raises(ValueError, match=r"channel 64 is out of range: layer 'features\.11' "
                                         r"has 64 channels \(0\.\.63\)"):
        V.max_activation(model, "features.11", 64, (1, 28, 28), steps=1)
    with pytest.raises(ValueError, match="channel -1 is out of range"):
        V.max_activation(model, "features.11", -1, (1, 28, 28), steps=1)
    with pytest.raises(ValueError, match=r"input_shape must be \(C, H, W\)"):
        V.max_activation(model, "features.11", 0, (28, 28), steps=1)
    with pytest.raises(ValueError, match=r"cannot take an input of shape \(1, 3, 28, 28\)"):
        V.max_activation(model, "features.11", 0, (3, 28, 28), steps=1)
    with pytest.raises(ValueError, match="steps must be an int >= 0"):
        V.max_activation(model, "features.11", 0, (1, 28, 28), steps=-1)
    with pytest.raises(ValueError, match=r"l2_decay must be a finite number in \[0.0, 1.0\)"):
        V.max_activation(model, "features.11", 0, (1, 28, 28), l2_decay=1.0)
    assert all(modes(model)) and all(p.requires_grad for p in model.parameters())
    assert not any(hook_counts(model))


# ---------------------------------------------------------------------------------------------
# plots


def test_plot_feature_maps(plt: Any) -> None:
    from matplotlib.figure import Figure
    maps = V.feature_maps(make_fmnist(), np.random.default_rng(0).standard_normal(
        (2, 1, 28, 28)).astype(np.float32))
    fig = V.plot_feature_maps(maps, index=1, max_channels=16)
    assert isinstance(fig, Figure) and len(fig.axes) == 6
    assert fig.axes[0].get_title().startswith("features.0  (32, 28, 28), first 16")
    image = fig.axes[0].get_images()[0].get_array()
    assert image.shape == (4 * 28 + 3, 4 * 28 + 3)       # 16 tiles, 4 x 4, 1-pixel gaps
    tile = np.asarray(image[:28, 28 + 1:2 * 28 + 1])     # channel 1 of image 1, scaled alone
    m = maps["features.0"][1, 1]
    np.testing.assert_allclose(tile, (m - m.min()) / (m.max() - m.min()), rtol=1e-6, atol=1e-7)
    two = V.plot_feature_maps(maps, layers=["features.14", "features.3"])
    assert [ax.get_title().split()[0] for ax in two.axes] == ["features.14", "features.3"]
    with pytest.raises(ValueError, match="no feature map 'conv9'"):
        V.plot_feature_maps(maps, layers=["conv9"])
    with pytest.raises(ValueError, match=r"index must be an int in \[0, 2\)"):
        V.plot_feature_maps(maps, index=2)


def test_plot_filters(plt: Any) -> None:
    from matplotlib.figure import Figure
    numcnn.manual_seed(0)
    conv1 = resnet18().conv1
    fig = V.plot_filters(conv1, max_tiles=16)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    image = np.asarray(fig.axes[0].get_images()[0].get_array())
    assert image.shape == (4 * 7 + 3, 4 * 7 + 3, 3)
    np.testing.assert_allclose(image[8:15, 0:7], V.filters(conv1)[4], rtol=1e-12)
    grey = V.plot_filters(V.filters(make_fmnist().features[3], mode="mean"))
    assert len(grey.axes) == 1 and "32 of 32 tiles" in grey.axes[0].get_title()
    with pytest.raises(ValueError, match=r"tiles must have shape \(T, kh, kw\)"):
        V.plot_filters(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="takes a Conv1d, Conv2d or Conv3d"):
        V.plot_filters(nn.ReLU())


def test_plot_max_activation(plt: Any) -> None:
    from matplotlib.figure import Figure
    rng = np.random.default_rng(0)
    results = [V.MaxActivation(rng.standard_normal((c, 8, 8)), np.arange(3.0)) for c in (1, 3, 2)]
    fig = V.plot_max_activation(results, titles=["a", "b", "c"])
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c"]
    rgb = np.asarray(fig.axes[1].get_images()[0].get_array())
    img = results[1].image.transpose(1, 2, 0)
    np.testing.assert_allclose(rgb, (img - img.min()) / (img.max() - img.min()), rtol=1e-12)
    with pytest.raises(ValueError, match="one entry per result"):
        V.plot_max_activation(results, titles=["a"])
    with pytest.raises(ValueError, match="non-empty sequence of MaxActivation"):
        V.plot_max_activation([])
