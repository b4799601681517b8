"""(h) The device-agnostic boilerplate at the top of most training scripts: pick "cuda" when
available else "cpu", `torch.backends.cudnn.benchmark = True`, `nn.DataParallel(model)` when
more than one GPU is seen, `model.to(device)`, a `DataLoader(..., num_workers=2,
pin_memory=True)` and `.to(device, non_blocking=True)` on every batch.  On a CPU both
libraries take the CPU branch; the training run is compared with PyTorch's step by step.  A
second run wraps the model in `nn.DataParallel` unconditionally, as many scripts do.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from tests.compat.port import (
    LIBS,
    assert_same_dicts,
    default_dtype_float64,
    load_arrays,
    state_arrays,
)


def device_program(lib, images, labels, init=None, always_parallel=False, epochs=2):
    torch, nn, optim, data = lib.torch, lib.nn, lib.optim, lib.data

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.benchmark = True

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
        nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3))
    if init is not None:
        init(model)
    if torch.cuda.device_count() > 1 or always_parallel:
        print("Let's use", torch.cuda.device_count(), "GPUs!")
        model = nn.DataParallel(model)
    model.to(device)

    dataset = data.TensorDataset(torch.from_numpy(images), torch.from_numpy(labels))
    loader = data.DataLoader(dataset, batch_size=4, shuffle=False, num_workers=2,
                             pin_memory=True)
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    criterion = nn.CrossEntropyLoss().to(device)

    losses, seen = [], []
    for _ in range(epochs):
        model.train()
        for inputs, targets in loader:
            inputs = inputs.to(device, non_blocking=True)
            targets = targets.to(device, non_blocking=True)
            seen.append(targets.cpu().numpy().copy())
            outputs = model(inputs)
            loss = criterion(outputs, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return dict(device=str(device), losses=losses, seen=seen, state=state_arrays(model),
                n_gpus=torch.cuda.device_count())


@pytest.fixture
def restore_cudnn_flags():
    torch, numcnn = LIBS["torch"].torch, LIBS["numcnn"].torch
    old = torch.backends.cudnn.benchmark, numcnn.backends.cudnn.benchmark
    yield
    torch.backends.cudnn.benchmark, numcnn.backends.cudnn.benchmark = old


@pytest.mark.parametrize("always_parallel", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_device_agnostic_script_matches_torch(dtype, always_parallel, restore_cudnn_flags):
    rng = np.random.default_rng(9)
    images = rng.normal(size=(10, 3, 8, 8)).astype(dtype)     # 3 batches, the last of 2
    labels = rng.integers(0, 3, 10)
    init: dict = {}
    with default_dtype_float64() if dtype == np.float64 else contextlib.nullcontext():
        t = device_program(LIBS["torch"], images, labels,
                           init=lambda m: init.update(state_arrays(m)),
                           always_parallel=always_parallel)
        n = device_program(LIBS["numcnn"], images, labels,
                           init=lambda m: load_arrays(m, init), always_parallel=always_parallel)
    assert n["device"] == t["device"] == "cpu" and n["n_gpus"] == t["n_gpus"] == 0
    assert LIBS["numcnn"].torch.backends.cudnn.benchmark is True
    assert len(n["seen"]) == len(t["seen"]) == 6
    for a, b in zip(n["seen"], t["seen"]):
        np.testing.assert_array_equal(a, b)                  # workers keep the order
    np.testing.assert_allclose(n["losses"], t["losses"],
                               rtol=1e-7 if dtype == np.float64 else 1e-4)
    tol = {} if dtype == np.float64 else {"rtol": 1e-4, "atol": 1e-5}
    assert_same_dicts(n["state"], t["state"], "trained state", **tol)
    if always_parallel:
        assert all(k.startswith("module.") for k in n["state"])
