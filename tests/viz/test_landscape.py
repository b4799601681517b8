"""numcnn.viz.landscape: filter-normalised directions, the loss grid (against PyTorch and a
closed-form quadratic), exact restoration of the weights and modes, and the pictures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import numcnn
import numcnn.nn as nn
import numcnn.nn.functional as F
from numcnn.viz.landscape import (
    Landscape,
    filter_normalized_directions,
    loss_landscape,
    plot_landscape,
)


def small_cnn(seed: int = 0) -> nn.Sequential:
    """conv - BN - ReLU - conv - flatten - linear, with non-trivial BN running statistics."""
    numcnn.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.Conv2d(4, 3, 3, stride=2), nn.Flatten(), nn.Linear(3 * 2 * 2, 5))
    rng = np.random.default_rng(seed + 1)
    bn = model[1]
    bn.running_mean.array[...] = rng.normal(0, 0.3, 4)
    bn.running_var.array[...] = rng.uniform(0.5, 2.0, 4)
    bn.weight.array[...] = rng.uniform(0.5, 1.5, 4)
    bn.bias.array[...] = rng.normal(0, 0.2, 4)
    return model


def torch_twin(model: nn.Sequential) -> torch.nn.Sequential:
    """The same network in PyTorch (float64), loaded from `model`'s state_dict."""
    twin = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.BatchNorm2d(4),
                               torch.nn.ReLU(), torch.nn.Conv2d(4, 3, 3, stride=2),
                               torch.nn.Flatten(), torch.nn.Linear(12, 5)).double()
    twin.load_state_dict({k: torch.from_numpy(np.array(v.array, dtype=np.float64))
                          for k, v in model.state_dict().items()})
    return twin.eval()


def image_batches(sizes: tuple[int, ...] = (5, 3), seed: int = 2, dtype: type = np.float64
                  ) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((n, 2, 7, 7)).astype(dtype), rng.integers(0, 5, n))
            for n in sizes]


def snapshot(model: nn.Module) -> dict[str, bytes]:
    return {k: v.array.tobytes() for k, v in model.state_dict().items()}


# ----------------------------------------------------------------------------- directions
def test_directions_are_filter_normalised_and_zero_for_biases_and_bn() -> None:
    model = small_cnn()
    d1, d2 = filter_normalized_directions(model, 2, seed=3)
    for name, p in model.named_parameters():
        w = p.array.astype(np.float64)
        for d in (d1, d2):
            assert d[name].shape == w.shape and d[name].dtype == p.array.dtype
            if w.ndim <= 1:
                assert not d[name].any(), name
                continue
            for f in range(w.shape[0]):                      # one filter = one output unit
                np.testing.assert_allclose(np.linalg.norm(d[name][f].astype(np.float64)),
                                           np.linalg.norm(w[f]), rtol=1e-6)
        if w.ndim >= 2:          # two different random directions, nearly orthogonal in 1e3 D
            assert not np.array_equal(d1[name], d2[name])
    flat1 = np.concatenate([d1[k].ravel() for k in d1])
    flat2 = np.concatenate([d2[k].ravel() for k in d2])
    cosine = flat1 @ flat2 / np.linalg.norm(flat1) / np.linalg.norm(flat2)
    assert abs(cosine) < 0.2


def test_directions_reproducible_for_a_seed() -> None:
    model = small_cnn()
    a = filter_normalized_directions(model, 2, seed=5)
    b = filter_normalized_directions(model, 2, seed=5)
    c = filter_normalized_directions(model, 2, seed=6)
    for k in a[0]:
        np.testing.assert_array_equal(a[0][k], b[0][k])
        np.testing.assert_array_equal(a[1][k], b[1][k])
    assert not np.array_equal(a[0]["0.weight"], c[0]["0.weight"])
    with pytest.raises(ValueError, match="count must be"):
        filter_normalized_directions(model, 0)


# ----------------------------------------------------------------------------- values
def test_center_and_grid_match_pytorch_in_eval_mode() -> None:
    model = small_cnn().double()
    model.train()                                  # must be evaluated in eval mode anyway
    batches = image_batches((5, 3))                # unequal sizes: weighted by samples
    land = loss_landscape(model, F.cross_entropy, batches, steps=(3, 4), span=0.5, seed=1,
                          progress=False)
    x = torch.from_numpy(np.concatenate([b[0] for b in batches]))
    y = torch.from_numpy(np.concatenate([b[1] for b in batches]))
    twin = torch_twin(model)
    with torch.no_grad():
        expected = torch.nn.functional.cross_entropy(twin(x), y).item()
    np.testing.assert_allclose(land.center_loss, expected, rtol=1e-7)
    np.testing.assert_allclose(land.alphas, np.linspace(-0.5, 0.5, 3))
    assert land.betas is not None
    np.testing.assert_allclose(land.betas, np.linspace(-0.5, 0.5, 4))
    assert land.losses.shape == land.accuracies.shape == (3, 4)
    d1, d2 = land.directions
    for i, a in enumerate(land.alphas):
        for j, b in enumerate(land.betas):
            state = {k: torch.from_numpy(v.array + a * d1[k] + b * d2[k]) if k in d1
                     else torch.from_numpy(v.array) for k, v in model.state_dict().items()}
            twin.load_state_dict(state)
            with torch.no_grad():
                out = twin(x)
                loss = torch.nn.functional.cross_entropy(out, y).item()
                acc = (out.argmax(1) == y).double().mean().item()
            np.testing.assert_allclose(land.losses[i, j], loss, rtol=1e-7)
            assert land.accuracies[i, j] == pytest.approx(acc)
    assert model.training


def test_quadratic_closed_form_every_grid_value() -> None:
    """A Linear layer under MSE: with residual r0 = X W^T + c - Y and U = X D1^T, V = X D2^T,
    L(a, b) = mean((r0 + a U + b V)^2), a quadratic in (a, b) computed here from the data."""
    numcnn.manual_seed(0)
    model = nn.Linear(6, 3).double()
    rng = np.random.default_rng(4)
    batches = [(rng.standard_normal((n, 6)), rng.standard_normal((n, 3))) for n in (7, 4)]
    land = loss_landscape(model, F.mse_loss, batches, steps=(5, 4), span=0.7, seed=9,
                          progress=False)
    d1, d2 = land.directions
    ref1, ref2 = filter_normalized_directions(model, 2, seed=9)
    np.testing.assert_array_equal(d1["weight"], ref1["weight"])
    np.testing.assert_array_equal(d2["weight"], ref2["weight"])
    assert not d1["bias"].any() and not d2["bias"].any()
    X = np.concatenate([b[0] for b in batches])
    Y = np.concatenate([b[1] for b in batches])
    W, c = model.weight.array, model.bias.array
    r0, U, V = X @ W.T + c - Y, X @ d1["weight"].T, X @ d2["weight"].T
    q = {"1": np.mean(r0 * r0), "a": 2 * np.mean(r0 * U), "b": 2 * np.mean(r0 * V),
         "aa": np.mean(U * U), "ab": 2 * np.mean(U * V), "bb": np.mean(V * V)}
    a = land.alphas[:, None]
    b = land.betas[None, :]
    expected = q["1"] + q["a"] * a + q["b"] * b + q["aa"] * a * a + q["ab"] * a * b \
        + q["bb"] * b * b
    np.testing.assert_allclose(land.losses, expected, rtol=1e-10)
    np.testing.assert_allclose(land.center_loss, q["1"], rtol=1e-12)
    assert land.accuracies is None                    # regression targets: no accuracy


def test_one_dimensional_line() -> None:
    numcnn.manual_seed(0)
    model = nn.Linear(4, 2).double()
    rng = np.random.default_rng(1)
    batches = [(rng.standard_normal((6, 4)), rng.standard_normal((6, 2)))]
    land = loss_landscape(model, F.mse_loss, batches, steps=7, span=2.0, seed=3,
                          progress=False)
    assert land.betas is None and land.losses.shape == (7,) and len(land.directions) == 1
    (d,) = land.directions
    X, Y = batches[0]
    r0 = X @ model.weight.array.T + model.bias.array - Y
    u = X @ d["weight"].T
    a = np.linspace(-2, 2, 7)
    expected = [np.mean((r0 + t * u) ** 2) for t in a]
    np.testing.assert_allclose(land.losses, expected, rtol=1e-10)
    np.testing.assert_allclose(land.losses[3], land.center_loss, rtol=1e-12)
    # the first direction of a 2-D landscape with the same seed is this line's direction
    (e1, _) = filter_normalized_directions(model, 2, seed=3)
    np.testing.assert_array_equal(d["weight"], e1["weight"])


def test_reproducible_for_a_seed_and_batches_read_once() -> None:
    model = small_cnn()
    data = image_batches((4,), dtype=np.float32)

    def once():                                    # a generator: can only be read once
        yield from data

    a = loss_landscape(model, F.cross_entropy, once(), steps=(3, 3), seed=7, progress=False)
    b = loss_landscape(model, F.cross_entropy, data, steps=(3, 3), seed=7, progress=False)
    c = loss_landscape(model, F.cross_entropy, data, steps=(3, 3), seed=8, progress=False)
    np.testing.assert_array_equal(a.losses, b.losses)
    assert not np.array_equal(a.losses, c.losses)
    # the centre of an odd grid is theta* itself
    np.testing.assert_allclose(a.losses[1, 1], a.center_loss, rtol=1e-6)


# ----------------------------------------------------------------------------- restoring
def test_weights_and_modes_restored_bit_for_bit() -> None:
    model = small_cnn()
    model.train()
    model[1].eval()                                # mixed modes come back as they were
    before = snapshot(model)
    arrays = [p.array for p in model.parameters()]
    loss_landscape(model, F.cross_entropy, image_batches((3,), dtype=np.float32),
                   steps=(3, 2), span=3.0, progress=False)
    assert snapshot(model) == before
    assert all(p.array is a for p, a in zip(model.parameters(), arrays))  # in place
    assert [m.training for m in model] == [True, False, True, True, True, True]
    assert model.training


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_weights_restored_when_loss_fn_raises(error: type[BaseException]) -> None:
    model = small_cnn()
    model.train()
    before = snapshot(model)
    calls = []

    def failing(out, y):
        calls.append(1)
        if len(calls) == 4:                        # midway through the grid
            raise error("stop")
        return F.cross_entropy(out, y)

    with pytest.raises(error):
        loss_landscape(model, failing, image_batches((3,), dtype=np.float32), steps=(3, 3),
                       progress=False)
    assert len(calls) == 4
    assert snapshot(model) == before
    assert all(m.training for m in model.modules())


# ----------------------------------------------------------------------------- arguments
@pytest.mark.parametrize("kwargs, match", [
    ({"steps": 1}, "steps must be"), ({"steps": (3, 3, 3)}, "steps must be"),
    ({"steps": (3, 2.5)}, "steps must be"), ({"steps": None}, "steps must be"),
    ({"span": 0.0}, "span must be"),
    ({"span": float("inf")}, "span must be"), ({"batches": []}, "batches is empty"),
    ({"batches": [np.zeros(3)]}, "pairs"), ({"loss_fn": None}, "loss_fn must be"),
])
def test_bad_arguments(kwargs: dict, match: str) -> None:
    model = small_cnn()
    args = {"loss_fn": F.cross_entropy, "batches": image_batches((2,), dtype=np.float32)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        loss_landscape(model, args["loss_fn"], args["batches"],
                       **{k: v for k, v in kwargs.items() if k in ("steps", "span")})


def test_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    model = small_cnn()
    loss_landscape(model, F.cross_entropy, image_batches((2,), dtype=np.float32), steps=(2, 2),
                   progress=True)
    assert "loss landscape" in capsys.readouterr().err
    loss_landscape(model, F.cross_entropy, image_batches((2,), dtype=np.float32), steps=(2, 2),
                   progress=False)
    assert capsys.readouterr().err == ""


# ----------------------------------------------------------------------------- pictures
def landscape(scale: float, steps: int | tuple[int, int] = (5, 5)) -> Landscape:
    if isinstance(steps, int):
        a = np.linspace(-1, 1, steps)
        return Landscape(a, None, scale * (1 + a * a), center_loss=scale)
    a, b = np.linspace(-1, 1, steps[0]), np.linspace(-1, 1, steps[1])
    z = scale * (1 + a[:, None] ** 2 + 2 * b[None, :] ** 2)
    return Landscape(a, b, z, center_loss=scale)


def test_plot_landscape_figures() -> None:
    from matplotlib.figure import Figure

    fig = plot_landscape(landscape(1.0, (5, 4)), title="one")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    fig = plot_landscape([landscape(1.0), landscape(30.0)], titles=["res", "plain"], levels=12)
    assert len(fig.axes) == 4
    # the same contour levels (log-spaced: the losses span more than 10x) in both rows
    lv0, lv1 = fig.axes[0].collections[0].levels, fig.axes[2].collections[0].levels
    np.testing.assert_array_equal(lv0, lv1)
    np.testing.assert_allclose(lv0, np.geomspace(1.0, 120.0, 12))
    assert fig.axes[1].get_zlim() == fig.axes[3].get_zlim()
    fig = plot_landscape([landscape(1.0, 7), landscape(2.0, 7)], titles=["a", "b"])
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 2


def test_plot_landscape_bad_arguments() -> None:
    with pytest.raises(ValueError, match="all 1-D or all 2-D"):
        plot_landscape([landscape(1.0), landscape(1.0, 5)])
    with pytest.raises(ValueError, match="one title per landscape"):
        plot_landscape([landscape(1.0), landscape(1.0)], titles=["x"])
    with pytest.raises(ValueError, match="levels must be"):
        plot_landscape(landscape(1.0), levels=1)
    with pytest.raises(ValueError, match="non-empty sequence"):
        plot_landscape([])
