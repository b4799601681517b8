"""Shared checks for the model zoo against torchvision's published state_dict layout.

`../shared/zoo/torchvision_state_dicts.json` (generated from torchvision 0.29.1) lists, for each
torchvision model name (and e.g. "googlenet(aux_logits=True)"), its trainable parameter count
and its state_dict as [key, shape, dtype] rows in torchvision's order. It is the oracle for
structure; numerical oracles (a torch forward written independently in each test) live in the
family's test file, built from the torch pieces at the end of this file (`torch_bn`, `conv`).

    assert_torchvision_layout(vgg16(), "vgg16")
    sd = random_torchvision_state_dict("vgg16")          # torch tensors, torchvision's keys
    model = load_through_safetensors(vgg16(), sd, tmp_path)   # strict=True
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests.helpers import assert_close

import numcnn
from numcnn import nn
from numcnn.models import get_model

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
        assert tuple(p.grad.shape) == tuple(p.shape), f"{name}: gradient of another shape"
        assert np.isfinite(p.grad.numpy()).all(), f"{name} has a non-finite gradient"


def assert_matches_oracle(ours: numcnn.Tensor, theirs: torch.Tensor) -> None:
    """float32 rtol 1e-4, atol 1e-5 scaled by the output's magnitude (deep random networks)."""
    scale = max(1.0, float(theirs.abs().max()))
    assert_close(ours, theirs.detach(), rtol=1e-4, atol=1e-5 * scale)


# ----------------------------------------------------------------------------- torch oracles
def torch_bn(x: torch.Tensor, sd: dict[str, torch.Tensor], p: str, eps: float = 1e-5
             ) -> torch.Tensor:
    """Eval-mode batch norm in torch with the statistics and affine terms under prefix `p`."""
    return TF.batch_norm(x, sd[f"{p}.running_mean"], sd[f"{p}.running_var"], sd[f"{p}.weight"],
                         sd[f"{p}.bias"], training=False, eps=eps)


def conv_linear_macs(model: nn.Module, size: int = 224) -> int:
    """Multiply-adds of every Conv2d and Linear in one forward pass of a size x size image,
    counted from the shapes the layers really see: a conv output element costs
    (C_in / groups) k_h k_w multiply-adds, a Linear output element in_features."""
    total = 0

    def hook(module: nn.Module, inputs: tuple, output: numcnn.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            total += output.numel() * (module.in_channels // module.groups) * kh * kw
        elif isinstance(module, nn.Linear):
            total += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    with numcnn.no_grad():
        model.eval()(numcnn.zeros(1, 3, size, size))
    for h in handles:
        h.remove()
    return total


def assert_std(w: numcnn.Tensor, expected: float, rtol: float = 0.05) -> None:
    a = w.detach().numpy()
    assert abs(float(a.mean())) < 4 * expected / np.sqrt(a.size)
    assert float(a.std()) == pytest.approx(expected, rel=rtol)


def assert_torchvision_weights_match(name: str, oracle: Callable[..., torch.Tensor],
                                     tmp_path: Path) -> None:
    """Random torchvision weights for `name`, loaded through safetensors (strict), give the
    eval-mode outputs of `oracle(state_dict, x)` on a (2, 3, 64, 64) batch."""
    sd = random_torchvision_state_dict(name, seed=1)
    model = load_through_safetensors(get_model(name), sd, tmp_path).eval()
    x = np.random.default_rng(2).standard_normal((2, 3, 64, 64)).astype(np.float32)
    with numcnn.no_grad():
        ours = model(numcnn.tensor(x))
    with torch.no_grad():
        ref = oracle(sd, torch.from_numpy(x))
    assert_matches_oracle(ours, ref)


def randomised_torch_state(model: nn.Module, rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """Give the model's BatchNorms non-trivial running statistics; return its state as torch
    tensors (for an oracle of a model torchvision does not have)."""
    for name, buf in model.named_buffers():
        if name.endswith("running_mean"):
            buf.copy_(numcnn.tensor(rng.normal(0, 0.1, buf.shape).astype(np.float32)))
        elif name.endswith("running_var"):
            buf.copy_(numcnn.tensor(rng.uniform(0.5, 1.5, buf.shape).astype(np.float32)))
    return {k: torch.from_numpy(np.array(v.detach().numpy()))
            for k, v in model.state_dict().items()}


def conv(x: torch.Tensor, sd: dict[str, torch.Tensor], p: str, stride: int = 1,
         depthwise: bool = False) -> torch.Tensor:
    """'Same'-padded conv with the weight (and bias, if any) under prefix p."""
    w = sd[f"{p}.weight"]
    k = w.shape[-1]
    return TF.conv2d(x, w, sd.get(f"{p}.bias"), stride, (k - 1) // 2,
                     groups=x.shape[1] if depthwise else 1)


def randomize_batch_norm(model: nn.Module, rng: np.random.Generator) -> None:
    """Give every batch norm layer nontrivial statistics and scales, so that an eval-mode
    comparison really tests them."""
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            assert m.running_mean is not None and m.running_var is not None
            assert m.weight is not None and m.bias is not None
            c = m.running_mean.numpy().size
            m.running_mean.array[...] = rng.standard_normal(c).astype(np.float32)
            m.running_var.array[...] = rng.uniform(0.5, 2.0, c).astype(np.float32)
            m.weight.array[...] = rng.uniform(0.5, 1.5, c).astype(np.float32)
            m.bias.array[...] = rng.uniform(-0.5, 0.5, c).astype(np.float32)
