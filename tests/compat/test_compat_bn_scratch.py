"""(c) Batch normalisation written from scratch, as textbooks teach it: a function of
(X, gamma, beta, moving_mean, moving_var, eps, momentum) that uses the batch statistics when
grad mode is on and the moving ones when it is off, and hands back the new moving statistics
through `.data`; a module holding gamma/beta as parameters and the moving statistics as plain
tensor attributes; used in a small sigmoid LeNet trained with SGD.  Losses, moving statistics,
parameters and the evaluation output are compared with PyTorch's.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from tests.compat.port import (
    LIBS,
    assert_same,
    assert_same_dicts,
    default_dtype_float64,
    load_arrays,
    state_arrays,
)


def bn_program(lib, x, y, init=None, steps=3):
    torch, nn = lib.torch, lib.nn

    def batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum):
        if not torch.is_grad_enabled():
            # prediction: normalise with the moving statistics
            X_hat = (X - moving_mean) / torch.sqrt(moving_var + eps)
        else:
            assert len(X.shape) in (2, 4)
            if len(X.shape) == 2:
                mean = X.mean(dim=0)
                var = ((X - mean) ** 2).mean(dim=0)
            else:
                # per channel, over the batch and both spatial axes
                mean = X.mean(dim=(0, 2, 3), keepdim=True)
                var = ((X - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
            X_hat = (X - mean) / torch.sqrt(var + eps)
            moving_mean = (1.0 - momentum) * moving_mean + momentum * mean
            moving_var = (1.0 - momentum) * moving_var + momentum * var
        Y = gamma * X_hat + beta
        return Y, moving_mean.data, moving_var.data

    class BatchNorm(nn.Module):
        def __init__(self, num_features, num_dims):
            super().__init__()
            shape = (1, num_features) if num_dims == 2 else (1, num_features, 1, 1)
            self.gamma = nn.Parameter(torch.ones(shape))
            self.beta = nn.Parameter(torch.zeros(shape))
            self.moving_mean = torch.zeros(shape)
            self.moving_var = torch.ones(shape)

        def forward(self, X):
            if self.moving_mean.device != X.device:
                self.moving_mean = self.moving_mean.to(X.device)
                self.moving_var = self.moving_var.to(X.device)
            Y, self.moving_mean, self.moving_var = batch_norm(
                X, self.gamma, self.beta, self.moving_mean, self.moving_var,
                eps=1e-5, momentum=0.1)
            return Y

    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 4, kernel_size=5), BatchNorm(4, num_dims=4), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(4, 6, kernel_size=3), BatchNorm(6, num_dims=4), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
        nn.Linear(6 * 2 * 2, 12), BatchNorm(12, num_dims=2), nn.Sigmoid(),
        nn.Linear(12, 10))
    if init is not None:
        init(net)
    trainer = torch.optim.SGD(net.parameters(), lr=0.9)
    loss_fn = nn.CrossEntropyLoss()
    X, Y = torch.tensor(x), torch.tensor(y)
    losses = []
    net.train()
    for _ in range(steps):
        trainer.zero_grad()
        l = loss_fn(net(X), Y)
        l.backward()
        trainer.step()
        losses.append(l.item())
    net.eval()
    with torch.no_grad():
        predictions = net(X)
    moving = {f"{i}.{name}": getattr(m, name) for i, m in enumerate(net)
              if isinstance(m, BatchNorm) for name in ("moving_mean", "moving_var")}
    return losses, moving, state_arrays(net), predictions


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batch_norm_from_scratch_matches_torch(dtype):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(10, 1, 16, 16)).astype(dtype)
    y = rng.integers(0, 10, 10)
    init: dict = {}
    with default_dtype_float64() if dtype == np.float64 else contextlib.nullcontext():
        t_losses, t_moving, t_state, t_pred = bn_program(
            LIBS["torch"], x, y, init=lambda m: init.update(state_arrays(m)))
        n_losses, n_moving, n_state, n_pred = bn_program(
            LIBS["numcnn"], x, y, init=lambda m: load_arrays(m, init))
    tol = {} if dtype == np.float64 else {"rtol": 1e-4, "atol": 1e-5}
    np.testing.assert_allclose(n_losses, t_losses, rtol=tol.get("rtol", 1e-7))
    assert n_losses[-1] != n_losses[0]
    assert_same_dicts(n_moving, t_moving, "moving statistics", **tol)
    # the moving statistics left the graph through .data
    assert all(not v.requires_grad and v.grad_fn is None for v in n_moving.values())
    assert_same_dicts(n_state, t_state, "parameters after training", **tol)
    assert_same(n_pred, t_pred, "prediction with the moving statistics", **tol)
