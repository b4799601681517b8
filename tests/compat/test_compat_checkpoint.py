"""(f) `torch.save(model.state_dict(), PATH)` / `model.load_state_dict(torch.load(PATH))`, with
`torch` bound to numcnn (numcnn.save/numcnn.load write and read safetensors, never pickle).
The round trip gives identical outputs; the file numcnn writes is one that
`safetensors.torch.load_file` reads into the torch model, giving torch's outputs.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from tests.compat.port import (
    LIBS,
    as_numpy,
    assert_same,
    default_dtype_float64,
    load_arrays,
    state_arrays,
)


def checkpoint_program(lib, path, x, init=None):
    torch, nn, F = lib.torch, lib.nn, lib.F

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 6, 5)
            self.bn = nn.BatchNorm2d(6)
            self.pool = nn.MaxPool2d(2, 2)
            self.fc = nn.Linear(6 * 4 * 4, 10)

        def forward(self, x):
            x = self.pool(F.relu(self.bn(self.conv(x))))
            x = torch.flatten(x, 1)
            return self.fc(x)

    torch.manual_seed(0)
    net = Net()
    if init is not None:
        init(net)
    net.train()
    net(torch.from_numpy(x))                     # moves the BN running statistics
    net.eval()
    with torch.no_grad():
        before = net(torch.from_numpy(x))

    PATH = str(path)
    torch.save(net.state_dict(), PATH)

    net2 = Net()                                 # fresh, different weights
    result = net2.load_state_dict(torch.load(PATH))
    net2.eval()
    with torch.no_grad():
        after = net2(torch.from_numpy(x))
    return dict(before=before, after=after, result=result, state=state_arrays(net2),
                keys=list(net.state_dict()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_save_load_round_trip_matches_torch(tmp_path, dtype):
    rng = np.random.default_rng(11)
    x = rng.normal(size=(5, 3, 12, 12)).astype(dtype)
    init: dict = {}
    with default_dtype_float64() if dtype == np.float64 else contextlib.nullcontext():
        t = checkpoint_program(LIBS["torch"], tmp_path / "t.pt", x,
                               init=lambda m: init.update(state_arrays(m)))
        n = checkpoint_program(LIBS["numcnn"], tmp_path / "n.safetensors", x,
                               init=lambda m: load_arrays(m, init))
    np.testing.assert_array_equal(as_numpy(n["after"]), as_numpy(n["before"]))   # bit for bit
    tol = {} if dtype == np.float64 else {"rtol": 1e-4, "atol": 1e-5}
    assert_same(n["after"], t["after"], "output after loading", **tol)
    assert n["keys"] == t["keys"]
    assert list(n["result"].missing_keys) == [] and list(n["result"].unexpected_keys) == []
    for k, v in t["state"].items():
        assert_same(n["state"][k], v, f"loaded {k}", **tol)
        assert n["state"][k].dtype == v.dtype

    # numcnn's file is a safetensors file that torch reads
    torch = LIBS["torch"].torch
    safetensors_torch = pytest.importorskip("safetensors.torch")
    loaded = safetensors_torch.load_file(str(tmp_path / "n.safetensors"))
    assert sorted(loaded) == sorted(t["keys"])
    for k, v in loaded.items():
        np.testing.assert_array_equal(v.numpy(), n["state"][k])
    assert loaded["bn.num_batches_tracked"].dtype == torch.int64
