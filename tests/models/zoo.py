"""Shared checks for the model zoo against torchvision's published state_dict layout.

`../shared/zoo/torchvision_state_dicts.json` (generated from torchvision 0.29.1) lists, for each
torchvision model name (and e.g. "googlenet(aux_logits=True)"), its trainable parameter count
and its state_dict as [key, shape, dtype] rows in torchvision's order. It is the oracle for
structure; numerical oracles (a torch forward written independently in each test) live in the
family's test file.

    assert_torchvision_layout(vgg16(), "vgg16")
    sd = random_torchvision_state_dict("vgg16")          # torch tensors, torchvision's keys
    model = load_through_safetensors(vgg16(), sd, tmp_path)   # strict=True
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tests.helpers import assert_close

import numcnn

ZOO_JSON = Path(__file__).resolve().parents[3] / "shared" / "zoo" / "torchvision_state_dicts.json"


@cache
def _zoo() -> dict[str, Any]:
    with open(ZOO_JSON) as f:
        return dict(json.load(f))


def torchvision_names() -> list[str]:
    return list(_zoo())


def torchvision_spec(name: str) -> tuple[int, list[tuple[str, tuple[int, ...], str]]]:
    """(trainable parameter count, [(key, shape, dtype), ...]) for a torchvision model name."""
    entry = _zoo()[name]
    rows = [(k, tuple(int(s) for s in shape), str(dt)) for k, shape, dt in entry["state_dict"]]
    return int(entry["trainable_params"]), rows


def trainable_params(model: numcnn.nn.Module) -> int:
    return sum(int(p.numel()) for p in model.parameters() if p.requires_grad)


def assert_torchvision_layout(model: numcnn.nn.Module, name: str) -> None:
    """Same keys in the same order, same shapes and dtypes, same trainable count."""
    count, rows = torchvision_spec(name)
    ours = [(k, tuple(v.shape), str(np.dtype(v.dtype) if not isinstance(v, numcnn.Tensor)
                                    else v.numpy().dtype))
            for k, v in model.state_dict().items()]
    want_keys = [k for k, _, _ in rows]
    our_keys = [k for k, _, _ in ours]
    missing = [k for k in want_keys if k not in set(our_keys)]
    extra = [k for k in our_keys if k not in set(want_keys)]
    assert not missing and not extra, f"{name}: missing {missing[:8]}, unexpected {extra[:8]}"
    assert our_keys == want_keys, f"{name}: same keys, different order"
    for (k, shape, dt), (_, our_shape, our_dt) in zip(rows, ours):
        assert our_shape == shape, f"{name}: {k} has shape {our_shape}, torchvision {shape}"
        assert our_dt == dt, f"{name}: {k} has dtype {our_dt}, torchvision {dt}"
    assert trainable_params(model) == count, \
        f"{name}: {trainable_params(model):,} trainable parameters, torchvision {count:,}"


def random_torchvision_state_dict(name: str, seed: int = 0,
                                  scale: float | None = None) -> dict[str, torch.Tensor]:
    """A torch state_dict with torchvision's keys/shapes, filled with values that keep
    activations of a deep network finite: weights ~ N(0, 1/fan_in) (or `scale`), biases and BN
    shifts small, BN running variances in [0.5, 1.5], num_batches_tracked an int64 count."""
    rng = np.random.default_rng(seed)
    _, rows = torchvision_spec(name)
    out: dict[str, torch.Tensor] = {}
    for key, shape, dt in rows:
        if dt == "int64":
            out[key] = torch.tensor(int(rng.integers(1, 1000)), dtype=torch.int64)
            continue
        leaf = key.rsplit(".", 1)[-1]
        if leaf == "running_var":
            arr = rng.uniform(0.5, 1.5, shape)
        elif leaf == "running_mean" or leaf == "bias":
            arr = rng.normal(0.0, 0.1, shape)
        elif len(shape) == 1:                           # BN weight
            arr = rng.uniform(0.5, 1.5, shape)
        else:
            fan_in = int(np.prod(shape[1:]))
            arr = rng.normal(0.0, scale if scale is not None else np.sqrt(2.0 / fan_in), shape)
        out[key] = torch.from_numpy(arr.astype(np.float32))
    return out


def load_through_safetensors(model: numcnn.nn.Module, torch_state: dict[str, torch.Tensor],
                             tmp_path: Path) -> numcnn.nn.Module:
    """Save a torch state_dict with safetensors.torch (as a torchvision user would) and load
    it into `model` with numcnn.io.load_into(strict=True)."""
    import safetensors.torch

    path = tmp_path / "weights.safetensors"
    safetensors.torch.save_file({k: v.contiguous() for k, v in torch_state.items()}, str(path))
    numcnn.io.load_into(model, path, strict=True)
    return model


def assert_forward_backward(model: numcnn.nn.Module, shape: tuple[int, ...], num_classes: int,
                            n_outputs: int = 1, seed: int = 0) -> None:
    """Training mode: every output is (N, num_classes) and every parameter gets a finite
    gradient from a random linear function of all outputs."""
    rng = np.random.default_rng(seed)
    model.train()
    out = model(numcnn.tensor(rng.standard_normal(shape).astype(np.float32)))
    outputs = tuple(out) if isinstance(out, tuple) else (out,)
    assert len(outputs) == n_outputs
    loss = None
    for o in outputs:
        assert tuple(o.shape) == (shape[0], num_classes)
        term = (o * numcnn.tensor(rng.standard_normal(o.shape).astype(np.float32))).sum()
        loss = term if loss is None else loss + term
    assert loss is not None
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert np.isfinite(p.grad.numpy()).all(), f"{name} has a non-finite gradient"


def assert_matches_oracle(ours: numcnn.Tensor, theirs: torch.Tensor) -> None:
    """float32 rtol 1e-4, atol 1e-5 scaled by the output's magnitude (deep random networks)."""
    scale = max(1.0, float(theirs.abs().max()))
    assert_close(ours, theirs.detach(), rtol=1e-4, atol=1e-5 * scale)
