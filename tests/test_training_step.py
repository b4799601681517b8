"""End to end: the same CNN trained for a few SGD steps in numcnn and PyTorch stays identical.

Both frameworks build the network from one function (their `nn` namespaces share the API);
numcnn loads PyTorch's initial weights through `load_state_dict`, then both take the same SGD
steps on the same batches.  Losses, every parameter and the batch-norm running statistics must
agree to float64 precision after training, and so must the eval-mode outputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from tests.helpers import assert_close

import numcnn


def build(nn: Any, dropout: float) -> Any:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(4),
        nn.Conv2d(4, 6, 3, padding="same", groups=2), nn.LeakyReLU(0.1), nn.BatchNorm2d(6),
        nn.MaxPool2d(2), nn.Dropout(dropout),
        nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(2), nn.Flatten(),
        nn.Linear(32, 16), nn.ReLU(), nn.BatchNorm1d(16), nn.Linear(16, 5),
    )


def _sgd(params: list[Any], lr: float) -> None:
    for p in params:
        p.array -= lr * p.grad.array


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_training_steps_match_pytorch(dtype: Any) -> None:
    torch.manual_seed(0)
    t_model = build(torch.nn, dropout=0.0).to(torch.float64 if dtype == np.float64
                                                 else torch.float32)
    n_model = build(numcnn.nn, dropout=0.0).to(dtype)
    n_model.load_state_dict({k: v.detach().numpy() for k, v in t_model.state_dict().items()})
    assert list(n_model.state_dict()) == list(t_model.state_dict())

    rng = np.random.default_rng(1)
    lr = 0.05
    for step in range(4):
        x = rng.standard_normal((6, 1, 12, 12)).astype(dtype)
        y = rng.integers(0, 5, 6)
        t_model.zero_grad()
        n_model.zero_grad()
        t_loss = torch.nn.functional.cross_entropy(t_model(torch.tensor(x)), torch.tensor(y))
        n_loss = numcnn.nn.functional.cross_entropy(n_model(numcnn.tensor(x)), numcnn.tensor(y))
        assert_close(n_loss, t_loss, what=f"loss at step {step}")
        t_loss.backward()
        n_loss.backward()
        with torch.no_grad():
            for p in t_model.parameters():
                p -= lr * p.grad
        with numcnn.no_grad():
            _sgd(list(n_model.parameters()), lr)

    rtol = 1e-7 if dtype == np.float64 else 2e-4
    for (name, t_val), (n_name, n_val) in zip(t_model.state_dict().items(),
                                              n_model.state_dict().items()):
        assert name == n_name
        assert_close(n_val, t_val, rtol=rtol, atol=rtol, what=name)

    t_model.eval()
    n_model.eval()
    x = rng.standard_normal((3, 1, 12, 12)).astype(dtype)
    assert_close(n_model(numcnn.tensor(x)), t_model(torch.tensor(x)), rtol=rtol, atol=rtol,
                 what="eval output after training")


def test_loss_falls_when_training_on_a_fixed_batch() -> None:
    numcnn.manual_seed(0)
    model = build(numcnn.nn, dropout=0.25)
    rng = np.random.default_rng(0)
    x = numcnn.tensor(rng.standard_normal((16, 1, 12, 12)).astype(np.float32))
    y = numcnn.tensor(rng.integers(0, 5, 16))
    losses = []
    for _ in range(30):
        model.zero_grad()
        loss = numcnn.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        with numcnn.no_grad():
            _sgd(list(model.parameters()), 0.1)
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses
