"""(g) The WGAN-GP gradient penalty: `torch.autograd.grad(outputs=..., inputs=...,
grad_outputs=torch.ones_like(...), create_graph=True, retain_graph=True)` through a small conv
critic (conv, LeakyReLU, linear), the penalty ((||grad||_2 - 1)^2).mean() added to the critic's
loss and backpropagated: a double backward.  The penalty, the loss and every critic gradient are
compared with PyTorch's over a few Adam steps.  The interpolation weights are drawn once, in
NumPy, and passed in (two libraries cannot draw the same `torch.rand`).
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
    grad_arrays,
    load_arrays,
    state_arrays,
)


def gp_program(lib, reals, fakes, alphas, init=None, lambda_gp=10.0):
    torch, nn, optim = lib.torch, lib.nn, lib.optim

    class Critic(nn.Module):
        def __init__(self, channels=1, features=4):
            super().__init__()
            self.net = nn.Sequential(
                nn.Conv2d(channels, features, 4, 2, 1),
                nn.LeakyReLU(0.2),
                nn.Conv2d(features, features * 2, 4, 2, 1),
                nn.LeakyReLU(0.2),
                nn.Flatten(),
                nn.Linear(features * 2 * 3 * 3, 1),
            )

        def forward(self, x):
            return self.net(x)

    def gradient_penalty(critic, real, fake, alpha):
        interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        d_interpolates = critic(interpolates)
        gradients = torch.autograd.grad(
            outputs=d_interpolates,
            inputs=interpolates,
            grad_outputs=torch.ones_like(d_interpolates),
            create_graph=True,
            retain_graph=True,
            only_inputs=True,
        )[0]
        gradients = gradients.view(gradients.size(0), -1)
        return ((gradients.norm(2, dim=1) - 1) ** 2).mean()

    torch.manual_seed(0)
    critic = Critic()
    if init is not None:
        init(critic)
    optimizer = optim.Adam(critic.parameters(), lr=1e-3, betas=(0.0, 0.9))
    history = []
    for real, fake, alpha in zip(reals, fakes, alphas):
        real, fake, alpha = torch.from_numpy(real), torch.from_numpy(fake), \
            torch.from_numpy(alpha)
        optimizer.zero_grad()
        d_real = critic(real).mean()
        d_fake = critic(fake).mean()
        gp = gradient_penalty(critic, real, fake, alpha)
        d_loss = d_fake - d_real + lambda_gp * gp
        d_loss.backward()
        history.append(dict(gp=gp.detach(), loss=d_loss.detach(), grads=grad_arrays(critic)))
        optimizer.step()
    return history, state_arrays(critic)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradient_penalty_double_backward_matches_torch(dtype):
    rng = np.random.default_rng(2)
    steps, n = 3, 5
    reals = rng.normal(size=(steps, n, 1, 13, 13)).astype(dtype)   # 13 -> 6 -> 3
    fakes = rng.normal(size=(steps, n, 1, 13, 13)).astype(dtype)
    alphas = rng.uniform(size=(steps, n, 1, 1, 1)).astype(dtype)
    init: dict = {}
    with default_dtype_float64() if dtype == np.float64 else contextlib.nullcontext():
        t_hist, t_state = gp_program(LIBS["torch"], reals, fakes, alphas,
                                     init=lambda m: init.update(state_arrays(m)))
        n_hist, n_state = gp_program(LIBS["numcnn"], reals, fakes, alphas,
                                     init=lambda m: load_arrays(m, init))
    tol = {} if dtype == np.float64 else {"rtol": 1e-4, "atol": 1e-5}
    for i, (nh, th) in enumerate(zip(n_hist, t_hist)):
        assert_same(nh["gp"], th["gp"], f"step {i} penalty", **tol)
        assert_same(nh["loss"], th["loss"], f"step {i} critic loss", **tol)
        assert_same_dicts(nh["grads"], th["grads"], f"step {i} critic gradients", **tol)
    assert float(t_hist[0]["gp"]) > 0.1          # the penalty is far from 0: it matters
    assert_same_dicts(n_state, t_state, "critic after the steps", **tol)


def test_penalty_gradient_is_the_second_derivative():
    """Without the penalty's own term, the weights' gradient differs: the double backward
    contributes (a penalty detached from the graph would give the plain WGAN gradient)."""
    rng = np.random.default_rng(4)
    reals = rng.normal(size=(1, 4, 1, 13, 13))
    fakes = rng.normal(size=(1, 4, 1, 13, 13))
    alphas = rng.uniform(size=(1, 4, 1, 1, 1))
    with default_dtype_float64():
        with_gp, _ = gp_program(LIBS["numcnn"], reals, fakes, alphas)
        without, _ = gp_program(LIBS["numcnn"], reals, fakes, alphas, lambda_gp=0.0)
    g1, g0 = with_gp[0]["grads"], without[0]["grads"]
    assert all(g1[k] is not None for k in g1)
    assert not np.allclose(g1["net.0.weight"], g0["net.0.weight"])
