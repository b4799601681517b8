"""The helpers every numcnn.viz method shares: layer lookup, class targets, resizing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import numcnn
import numcnn.nn as nn
from numcnn.viz import _common


def small_net() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))


def test_get_layer_by_name_and_module() -> None:
    net = small_net()
    assert _common.get_layer(net, "1") is net[1]
    assert _common.get_layer(net, net[3]) is net[3]
    assert _common.layer_names(net) == ["0", "1", "2", "3"]


@pytest.mark.parametrize("bad", ["conv9", "", 3])
def test_get_layer_error_lists_the_layers(bad: object) -> None:
    with pytest.raises(ValueError, match=r"no layer .* layers: 0, 1, 2, 3$"):
        _common.get_layer(small_net(), bad)  # type: ignore[arg-type]


def test_get_layer_refuses_a_foreign_module() -> None:
    with pytest.raises(ValueError, match="not a submodule"):
        _common.get_layer(small_net(), nn.ReLU())


def test_resolve_targets() -> None:
    scores = np.array([[0.1, 2.0, -1.0], [3.0, 0.0, 0.5]])
    assert _common.resolve_targets(scores, None).tolist() == [1, 0]
    assert _common.resolve_targets(scores, 2).tolist() == [2, 2]
    assert _common.resolve_targets(scores, [0, 1]).tolist() == [0, 1]
    assert _common.resolve_targets(scores, numcnn.tensor([2, 2])).tolist() == [2, 2]
    with pytest.raises(ValueError, match=r"target 3 is out of range: the model has 3 classes"):
        _common.resolve_targets(scores, 3)
    with pytest.raises(ValueError, match="out of range"):
        _common.resolve_targets(scores, [0, -1])
    with pytest.raises(ValueError, match=r"one int per image \(2\)"):
        _common.resolve_targets(scores, [0, 1, 2])
    with pytest.raises(ValueError, match="sequence of ints"):
        _common.resolve_targets(scores, 1.5)


def test_as_batch_shapes_and_errors() -> None:
    assert tuple(_common.as_batch(np.zeros((1, 5, 5))).shape) == (1, 1, 5, 5)
    assert _common.as_batch(np.zeros((2, 1, 5, 5), np.uint8)).dtype == numcnn.float32
    x = numcnn.ones(2, 1, 4, 4, requires_grad=True)
    assert not _common.as_batch(x).requires_grad
    with pytest.raises(ValueError, match=r"\(N, C, H, W\) or \(C, H, W\), got shape \(5,\)"):
        _common.as_batch(np.zeros(5))


@pytest.mark.parametrize("size", [(7, 7), (28, 28), (9, 13), (3, 2)])
def test_resize_bilinear_is_torchs_half_pixel_bilinear(size: tuple[int, int]) -> None:
    maps = np.random.default_rng(0).random((3, 4, 5))
    ours = _common.resize_bilinear(maps, size)
    theirs = torch.nn.functional.interpolate(torch.from_numpy(maps)[:, None], size=size,
                                             mode="bilinear", align_corners=False)[:, 0]
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-12, atol=1e-12)


def test_resize_bilinear_worked_example() -> None:
    # a 1x2 map [0, 1] enlarged to width 4: source x = (j + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75,
    # 1.25, clamped to [0, 1] -> 0, 0.25, 0.75, 1
    out = _common.resize_bilinear(np.array([[[0.0, 1.0]]]), (1, 4))
    np.testing.assert_allclose(out[0, 0], [0.0, 0.25, 0.75, 1.0])


def test_minmax_normalise_per_map() -> None:
    maps = np.array([[[1.0, 3.0]], [[-2.0, -2.0]]])
    out = _common.minmax_normalise(maps)
    np.testing.assert_allclose(out[0], [[0.0, 2.0 / (2.0 + 1e-7)]])
    np.testing.assert_allclose(out[1], [[0.0, 0.0]])


def test_eval_scores_restores_training_mode() -> None:
    net = nn.Sequential(nn.Dropout(0.9), nn.Linear(3, 2))
    net.train()
    x = numcnn.ones(4, 3)
    a, b = _common.eval_scores(net, x), _common.eval_scores(net, x)
    np.testing.assert_array_equal(a, b)          # dropout off: deterministic
    assert net.training


def test_pyplot_uses_agg() -> None:
    plt = _common.pyplot()
    import matplotlib
    assert matplotlib.get_backend().lower() == "agg"
    plt.close("all")


def test_without_matplotlib_one_line_says_what_to_install(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    import sys
    monkeypatch.setitem(sys.modules, "matplotlib", None)     # makes `import matplotlib` fail
    with pytest.raises(ImportError,
                       match=r"^drawing needs matplotlib: pip install 'numcnn\[viz\]'"):
        _common.pyplot()


def test_import_is_lazy_and_names_resolve() -> None:
    import subprocess
    import sys
    code = ("import sys, numcnn.viz as v; assert 'matplotlib' not in sys.modules; "
            "assert 'numcnn.viz.attribution' not in sys.modules; "
            "assert set(v.__all__) <= set(dir(v))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    import numcnn.viz as viz
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        viz.nope  # noqa: B018


def test_evaluating_restores_the_mode_even_on_error() -> None:
    net = small_net()
    net.train()
    with pytest.raises(KeyError), _common.evaluating(net):
        assert not net.training and not net[0].training
        raise KeyError("boom")
    assert net.training and net[0].training
