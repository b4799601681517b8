"""SyntheticShapes: deterministic from its seed, well-formed, and learnable."""

from __future__ import annotations

import numpy as np
import pytest

import numcnn
import numcnn.nn as nn
import numcnn.nn.functional as F
from numcnn.data import DataLoader, SyntheticShapes
from numcnn.data import transforms as T
from numcnn.data.synthetic import SHAPES


def test_shapes_dtypes_and_balance():
    ds = SyntheticShapes(n=103, size=20, seed=1)
    assert ds.data.shape == (103, 1, 20, 20) and ds.data.dtype == np.float32
    assert ds.targets.dtype == np.int64 and set(ds.targets.tolist()) == set(range(5))
    counts = np.bincount(ds.targets)
    assert counts.max() - counts.min() <= 1
    img, label = ds[4]
    assert img.shape == (1, 20, 20) and isinstance(label, int)
    assert ds.classes == SHAPES and ds.class_to_idx["ring"] == 4


def test_deterministic_from_seed():
    a, b = SyntheticShapes(n=50, seed=3), SyntheticShapes(n=50, seed=3)
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.targets, b.targets)
    c = SyntheticShapes(n=50, seed=4)
    assert not np.array_equal(a.data, c.data)
    numcnn.manual_seed(123)            # the global generator plays no part
    np.testing.assert_array_equal(SyntheticShapes(n=50, seed=3).data, a.data)


def test_shapes_are_drawn_where_expected():
    ds = SyntheticShapes(n=60, size=28, noise=0.0, seed=0)
    ink = ds.data[:, 0]
    assert ink.min() >= 0 and ink.max() <= 1
    area = (ink > 0.3).sum(axis=(1, 2))
    assert area.min() > 20                                  # every image shows a shape
    border = np.concatenate([ink[:, 0], ink[:, -1], ink[:, :, 0], ink[:, :, -1]], axis=1)
    assert border.max() == 0                                # and the shape stays inside
    # a ring has a hole: its centre of mass is dark; a circle's is bright
    circles = SyntheticShapes(n=20, noise=0.0, classes=("circle", "ring"), seed=0)
    for im, t in zip(circles.data[:, 0], circles.targets):
        ys, xs = np.nonzero(im > 0.3)
        cy, cx = int(round(ys.mean())), int(round(xs.mean()))
        assert (im[cy, cx] > 0.3) == (t == 0)


def test_classes_transform_and_errors():
    ds = SyntheticShapes(n=10, classes=("triangle", "square"), transform=T.Normalize([0.5], [2]))
    assert set(ds.targets.tolist()) == {0, 1}
    img, _ = ds[0]
    np.testing.assert_allclose(img, (ds.data[0] - 0.5) / 2, rtol=1e-6)
    x, _ = ds.get_batch(np.array([0, 1]))
    np.testing.assert_allclose(x[0], img, rtol=1e-6)
    with pytest.raises(ValueError, match="classes"):
        SyntheticShapes(classes=("hexagon",))
    with pytest.raises(ValueError, match="size"):
        SyntheticShapes(size=5)


def test_learnable_by_a_tiny_cnn():
    """A conv + linear model and plain SGD get the loss far below chance (log 5) quickly."""
    numcnn.manual_seed(0)
    ds = SyntheticShapes(n=1536, size=28, seed=0)
    conv = nn.Conv2d(1, 16, 5, stride=2)                    # 28 -> 12, pooled -> 6
    fc = nn.Linear(16 * 6 * 6, len(ds.classes))
    params = list(conv.parameters()) + list(fc.parameters())
    loader = DataLoader(ds, batch_size=64, shuffle=True, generator=0)
    losses = []
    for _ in range(7):
        for x, y in loader:
            logits = fc(F.max_pool2d(F.relu(conv(x)), 2).flatten(1))
            loss = F.cross_entropy(logits, y)
            for p in params:
                p.grad = None
            loss.backward()
            for p in params:
                p.array -= 0.3 * p.grad.array
            losses.append(loss.item())
    chance = np.log(len(ds.classes))
    assert np.mean(losses[:5]) > 0.8 * chance
    assert np.mean(losses[-15:]) < 0.45 * chance, losses[-15:]
