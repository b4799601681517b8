"""nn.DataParallel on one CPU: a pass-through, with torch's attributes and state_dict keys."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import numcnn
import numcnn.nn as nn


def test_data_parallel_is_a_pass_through_with_torch_keys():
    inner = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    dp = nn.DataParallel(inner, device_ids=[0, 1], output_device=0, dim=0)
    tdp = torch.nn.DataParallel(torch.nn.Sequential(torch.nn.Linear(3, 4),
                                                    torch.nn.BatchNorm1d(4)), device_ids=[0])
    assert dp.module is inner and dp.device_ids == tdp.device_ids == []
    assert list(dp.state_dict()) == list(tdp.state_dict())
    assert repr(dp) == repr(tdp)
    assert list(dp.state_dict())[0] == "module.0.weight"
    x = numcnn.randn(5, 3)
    np.testing.assert_array_equal(dp(x).detach().numpy(), inner(x).detach().numpy())
    # training through the wrapper updates the wrapped module's parameters
    opt = numcnn.optim.SGD(dp.parameters(), lr=0.1)
    w = inner[0].weight.detach().numpy().copy()
    (dp(x) ** 2).sum().backward()
    opt.step()
    assert not np.array_equal(inner[0].weight.detach().numpy(), w)
    # the common save/load idiom: a wrapper's checkpoint loads into the bare module
    bare = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    bare.load_state_dict({k[len("module."):]: v for k, v in dp.state_dict().items()})
    np.testing.assert_array_equal(bare.eval()(x).detach().numpy(),
                                  dp.eval()(x).detach().numpy())
    tdp.load_state_dict({k: torch.tensor(v.numpy()) for k, v in dp.state_dict().items()})
    np.testing.assert_allclose(tdp.eval()(torch.tensor(x.numpy())).detach().numpy(),
                               dp(x).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_data_parallel_passes_kwargs_and_refuses_non_modules():
    class Two(nn.Module):
        def forward(self, a, scale=1.0):
            return a * scale

    dp = nn.DataParallel(Two())
    np.testing.assert_array_equal(dp(numcnn.ones(2), scale=3.0).numpy(), [3.0, 3.0])
    with pytest.raises(TypeError, match="nn.Module"):
        nn.DataParallel(lambda x: x)
