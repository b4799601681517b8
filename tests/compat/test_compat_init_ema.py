"""(e) `model.apply(weights_init)` with a DCGAN-style init function (`m.weight.data.normal_`,
`nn.init.constant_`), and an exponential moving average of the weights kept in a
`copy.deepcopy` of the model, updated under `torch.no_grad()` with
`ema_p.data.mul_(d).add_(p.data, alpha=1 - d)`.  The EMA weights and outputs are compared with
PyTorch's; the init is checked by its statistics (two libraries draw different numbers).
"""

from __future__ import annotations

import contextlib
import copy

import numpy as np
import pytest
from tests.compat.port import (
    LIBS,
    as_numpy,
    assert_same,
    assert_same_dicts,
    default_dtype_float64,
    load_arrays,
    state_arrays,
)


def build(lib):
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(16, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4))


def weights_init_program(lib):
    torch, nn = lib.torch, lib.nn

    def weights_init(m):
        if isinstance(m, nn.Conv2d):
            m.weight.data.normal_(0.0, 0.02)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.data.normal_(1.0, 0.02)
            nn.init.constant_(m.bias, 0)

    torch.manual_seed(0)
    model = build(lib)
    returned = model.apply(weights_init)
    return model, returned


def ema_program(lib, x, y, init=None, decay=0.9, steps=4):
    torch, F, optim = lib.torch, lib.F, lib.optim

    class ModelEMA:
        def __init__(self, model, decay):
            self.ema = copy.deepcopy(model)
            self.ema.eval()
            self.decay = decay
            for p in self.ema.parameters():
                p.requires_grad_(False)

        def update(self, model):
            d = self.decay
            with torch.no_grad():
                for ema_p, p in zip(self.ema.parameters(), model.parameters()):
                    ema_p.data.mul_(d).add_(p.data, alpha=1 - d)
                for ema_b, b in zip(self.ema.buffers(), model.buffers()):
                    ema_b.copy_(b)

    torch.manual_seed(0)
    model = build(lib)
    if init is not None:
        init(model)
    ema = ModelEMA(model, decay)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    X, Y = torch.tensor(x), torch.tensor(y)
    for _ in range(steps):
        model.train()
        loss = F.cross_entropy(model(X), Y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        ema.update(model)
    with torch.no_grad():
        ema_out = ema.ema(X)
    return dict(model=state_arrays(model), ema=state_arrays(ema.ema), ema_out=ema_out,
                ema_grads=[p.grad for p in ema.ema.parameters()],
                ema_requires=[p.requires_grad for p in ema.ema.parameters()],
                shares=any(a is b for a, b in zip(ema.ema.parameters(), model.parameters())))


def test_apply_weights_init_in_numcnn():
    model, returned = weights_init_program(LIBS["numcnn"])
    nn = LIBS["numcnn"].nn
    assert returned is model                               # apply returns the module
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    w = np.concatenate([as_numpy(c.weight).ravel() for c in convs])   # 2,736 draws
    assert abs(w.mean()) < 0.002 and abs(w.std() - 0.02) < 0.002
    g = np.concatenate([as_numpy(b.weight).ravel() for b in bns])
    assert abs(g.mean() - 1) < 0.02 and 0.01 < g.std() < 0.03 and (g != 1).all()
    for m in convs + bns:
        assert (as_numpy(m.bias) == 0).all()
    # .data wrote through to the parameter: still a leaf that requires grad, outside any graph
    assert all(c.weight.requires_grad and c.weight.grad_fn is None for c in convs)
    lin = model[-1]
    t_model, _ = weights_init_program(LIBS["torch"])
    assert as_numpy(lin.weight).std() > 0.1               # Linear is left at its default init
    assert as_numpy(t_model[-1].weight).std() > 0.1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_deepcopy_ema_matches_torch(dtype):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(6, 3, 7, 7)).astype(dtype)
    y = rng.integers(0, 4, 6)
    init: dict = {}
    with default_dtype_float64() if dtype == np.float64 else contextlib.nullcontext():
        t = ema_program(LIBS["torch"], x, y, init=lambda m: init.update(state_arrays(m)))
        n = ema_program(LIBS["numcnn"], x, y, init=lambda m: load_arrays(m, init))
    tol = {} if dtype == np.float64 else {"rtol": 1e-4, "atol": 1e-5}
    assert_same_dicts(n["model"], t["model"], "trained model", **tol)
    assert_same_dicts(n["ema"], t["ema"], "EMA model", **tol)
    assert_same(n["ema_out"], t["ema_out"], "EMA output", **tol)
    assert not n["shares"] and n["ema_grads"] == [None] * len(n["ema_grads"])
    assert n["ema_requires"] == t["ema_requires"] == [False] * len(n["ema_requires"])
    # the average lags the model: it is neither the initial nor the final weights
    key = "0.weight"
    assert not np.allclose(n["ema"][key], n["model"][key])
    assert not np.allclose(n["ema"][key], init[key])
