"""numcnn.compress.sparse: iterative magnitude pruning, sparsity accounting, sparse storage.

Oracles: torch.nn.utils.prune.global_unstructured / ln_structured on the same weights (the
masks one pruning step must give), plain counting loops, the schedule's formula, and the
saved-and-loaded model's outputs and weights against the model that was saved.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import pytest
import torch
from torch.nn.utils import prune as tprune

import numcnn
import numcnn.compress as C
import numcnn.nn.functional as F
from numcnn import nn
from numcnn.compress import sparse
from numcnn.compress.checkpoint import CompressedCheckpointError
from numcnn.nn.utils import prune


def _np(t: Any) -> np.ndarray:
    return t.detach().numpy()


def _tiny(seed: int = 0) -> nn.Module:
    """Conv -> BN -> ReLU -> Conv -> ReLU -> pool -> Linear, on 1x8x8 images."""
    numcnn.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 6, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(6 * 3 * 3, 4))


def _torch_twin(model: nn.Module) -> torch.nn.Module:
    t = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.BatchNorm2d(8),
                            torch.nn.ReLU(), torch.nn.Conv2d(8, 6, 3), torch.nn.ReLU(),
                            torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(54, 4))
    t.load_state_dict({k: torch.tensor(_np(v)) for k, v in model.state_dict().items()})
    return t


WEIGHTS = ["0.weight", "3.weight", "7.weight"]
N_WEIGHTS = 8 * 9 + 6 * 8 * 9 + 4 * 54


def _data(seed: int = 1) -> tuple[numcnn.Tensor, numcnn.Tensor]:
    rng = np.random.default_rng(seed)
    return (numcnn.tensor(rng.standard_normal((16, 1, 8, 8)).astype(np.float32)),
            numcnn.tensor(rng.integers(0, 4, 16)))


# ---------------------------------------------------------------- iterative_prune

@pytest.mark.parametrize("schedule", ["linear", "cubic"])
def test_iterative_prune_reaches_the_exact_target_and_keeps_zeros_through_training(
        schedule: str) -> None:
    model = _tiny()
    x, y = _data()
    opt = numcnn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)   # made before pruning
    seen: list[tuple[int, int]] = []

    def fine_tune(m: nn.Module, step: int) -> None:
        layers = [m[0], m[3], m[7]]
        masked = [_np(layer.weight_mask) == 0 for layer in layers]
        seen.append((step, sum(int(k.sum()) for k in masked)))
        start = [_np(layer.weight_orig).copy() for layer in layers]
        m.train()
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(m(x), y).backward()
            opt.step()
            m(x)                                   # the pre-hook recomputes weight
            for layer, k in zip(layers, masked):
                assert (_np(layer.weight)[k] == 0).all()
        assert any((_np(layer.weight_orig) != s).any() for layer, s in zip(layers, start))

    out = C.iterative_prune(model, 0.75, steps=3, fine_tune=fine_tune, schedule=schedule)
    assert out is model and C.method_of(model) == "sparse"
    expected = [round(0.75 * (t / 3 if schedule == "linear" else 1 - (1 - t / 3) ** 3)
                      * N_WEIGHTS) for t in (1, 2, 3)]
    assert seen == list(zip([1, 2, 3], expected))
    assert not prune.is_pruned(model)
    zeros = sum(int((_np(model.get_parameter(k)) == 0).sum()) for k in WEIGHTS)
    assert zeros == round(0.75 * N_WEIGHTS)
    assert all((_np(model.get_parameter(k)) != 0).all() for k in ["0.bias", "3.bias", "7.bias"])
    assert sorted(model.state_dict()) == sorted(_tiny().state_dict())   # order: as torch


def test_one_step_equals_torch_global_l1_pruning() -> None:
    model = _tiny(seed=3)
    twin = _torch_twin(model)
    C.iterative_prune(model, 0.6, steps=1, remove_masks=False)
    tprune.global_unstructured([(twin[i], "weight") for i in (0, 3, 7)],
                               pruning_method=tprune.L1Unstructured,
                               amount=round(0.6 * N_WEIGHTS))
    for i in (0, 3, 7):
        np.testing.assert_array_equal(_np(model[i].weight_mask), _np(twin[i].weight_mask))
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32)
    model.eval()
    twin.eval()
    np.testing.assert_allclose(_np(model(numcnn.tensor(x))), _np(twin(torch.tensor(x))),
                               rtol=1e-4, atol=1e-5)


def test_later_steps_rank_the_retrained_weights() -> None:
    model = _tiny()
    rng = np.random.default_rng(7)
    new = {}

    def fine_tune(m: nn.Module, step: int) -> None:     # "training" sets new weights
        for i in (0, 3, 7):
            w = rng.standard_normal(tuple(m[i].weight_orig.shape)).astype(np.float32)
            m[i].weight_orig.data = numcnn.tensor(w)
            new[i] = w * _np(m[i].weight_mask)

    C.iterative_prune(model, 0.5, steps=2, fine_tune=fine_tune, remove_masks=False)
    # oracle: step 2 masks the smallest |w| of the step-1 survivors, as retrained
    alive = np.concatenate([(new[i] != 0).ravel() for i in (0, 3, 7)])
    values = np.abs(np.concatenate([new[i].ravel() for i in (0, 3, 7)]))
    extra = round(0.5 * N_WEIGHTS) - int((~alive).sum())
    order = sorted(np.flatnonzero(alive), key=lambda j: values[j])
    want = alive.copy()
    want[order[:extra]] = False
    got = np.concatenate([_np(model[i].weight_mask).ravel() for i in (0, 3, 7)]) == 1
    np.testing.assert_array_equal(got, want)


def test_structured_prunes_whole_filters_per_layer_as_torch_ln1() -> None:
    model = _tiny(seed=4)
    twin = _torch_twin(model)
    steps: list[int] = []
    C.iterative_prune(model, 0.5, steps=2, structured=True,
                      fine_tune=lambda m, s: steps.append(s), remove_masks=False)
    assert steps == [1, 2]
    assert "weight_mask" not in model[7]._buffers           # Linear layers left alone
    for i, c_out in ((0, 8), (3, 6)):
        for amount in (round(0.25 * c_out), round(0.5 * c_out) - round(0.25 * c_out)):
            tprune.ln_structured(twin[i], "weight", amount=amount, n=1, dim=0)
        np.testing.assert_array_equal(_np(model[i].weight_mask), _np(twin[i].weight_mask))
        per_filter = _np(model[i].weight_mask).reshape(c_out, -1)
        assert int((per_filter.max(axis=1) == 0).sum()) == c_out // 2
        assert (per_filter.min(axis=1) == per_filter.max(axis=1)).all()


def test_modules_by_name_or_object_and_bad_arguments() -> None:
    model = _tiny()
    C.iterative_prune(model, 0.5, modules=["3", model[7]])
    assert int((_np(model[0].weight) == 0).sum()) == 0
    zeros = int((_np(model[3].weight) == 0).sum()) + int((_np(model[7].weight) == 0).sum())
    assert zeros == round(0.5 * (432 + 216))
    for kwargs, err, msg in [
            ({"amount": 1.0}, ValueError, r"amount must be a float in \[0, 1\), got 1.0"),
            ({"amount": -0.1}, ValueError, "amount must be a float in"),
            ({"amount": "0.5"}, TypeError, "amount must be a float"),
            ({"amount": 0.5, "steps": 0}, ValueError, "steps must be an int >= 1"),
            ({"amount": 0.5, "schedule": "exp"}, ValueError, "schedule must be one of"),
            ({"amount": 0.5, "modules": ["9"]}, ValueError, "no layer named '9'"),
            ({"amount": 0.5, "modules": ["2"]}, ValueError, "ReLU has no weight"),
            ({"amount": 0.5, "modules": [nn.Linear(2, 2)]}, ValueError, "layers of the model"),
            ({"amount": 0.5, "fine_tune": 3}, TypeError, "fine_tune must be a callable")]:
        with pytest.raises(err, match=msg):
            C.iterative_prune(_tiny(), **kwargs)


def test_amount_zero_prunes_nothing() -> None:
    model = _tiny()
    before = {k: _np(v).copy() for k, v in model.state_dict().items()}
    C.iterative_prune(model, 0.0, steps=2)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(_np(v), before[k])


# ---------------------------------------------------------------- accounting

def test_sparsity_counts_with_masks_and_after_remove() -> None:
    model = _tiny()
    prune.l1_unstructured(model[3], "weight", amount=100)
    prune.random_unstructured(model[7], "bias", amount=2)
    for state in ("masked", "removed"):
        s = sparse.sparsity(model)
        params = {k: _np(v) for k, v in model.named_parameters()}
        if state == "masked":
            params = {k: (_np(model[3].weight) if k == "3.weight_orig" else
                          _np(model[7].bias) if k == "7.bias_orig" else v)
                      for k, v in params.items()}
        total = sum(v.size for v in params.values())
        nonzero = sum(int((v != 0).sum()) for v in params.values())
        assert s["total"] == {"params": total, "nonzero": nonzero,
                              "sparsity": 1 - nonzero / total}
        assert s["parameters"]["3.weight"]["nonzero"] == 432 - 100
        assert s["parameters"]["7.bias"]["nonzero"] == 2
        assert s["layers"]["7"] == {"params": 220, "nonzero": 216 + 2,
                                    "sparsity": 1 - 218 / 220}
        assert s["layers"]["1"]["params"] == 16                 # BN weight and bias
        if state == "masked":
            prune.remove(model[3], "weight")
            prune.remove(model[7], "bias")


def test_nonzero_macs_against_the_layer_geometry() -> None:
    model = _tiny()
    prune.l1_unstructured(model[0], "weight", amount=30)
    prune.ln_structured(model[3], "weight", amount=2, n=1, dim=0)
    r = sparse.nonzero_macs(model, (1, 8, 8))
    nnz = [int((_np(model[i].weight) != 0).sum()) for i in (0, 3, 7)]
    # conv0: 8x8 outputs, conv3: 6x6 outputs, linear: one row
    assert r["layers"]["0"] == {"macs": 64 * 72, "nonzero_macs": 64 * nnz[0]}
    assert r["layers"]["3"] == {"macs": 36 * 432, "nonzero_macs": 36 * nnz[1]}
    assert r["layers"]["7"] == {"macs": 216, "nonzero_macs": nnz[2]}
    assert nnz[:2] == [72 - 30, 432 - 2 * 72]
    assert r["macs"] == 64 * 72 + 36 * 432 + 216
    assert r["nonzero_macs"] == 64 * nnz[0] + 36 * nnz[1] + nnz[2]
    dense = numcnn.analysis.summary(model, (1, 8, 8))
    conv_linear = sum(row.macs for row in dense.rows
                      if row.name in {"0", "3", "7"})         # summary's count of the same
    assert conv_linear == r["macs"]
    assert model.training                                      # mode restored
    with pytest.raises(ValueError, match="input_size must be a tuple of positive ints"):
        sparse.nonzero_macs(model, (1, 0, 8))


# ---------------------------------------------------------------- storage

def _round_trip(model: nn.Module, tmp_path: Any) -> tuple[nn.Module, int, int]:
    """The model saved sparse and loaded into a fresh float32 model; the file's size, and
    the size of the same state saved dense."""
    path, dense = os.fspath(tmp_path / "s.safetensors"), os.fspath(tmp_path / "d.safetensors")
    C.save(model, path, method="sparse")
    numcnn.save(sparse.effective_state(model), dense)
    return C.load(path, _tiny(seed=99)), os.path.getsize(path), os.path.getsize(dense)


def _payload(model: nn.Module) -> tuple[int, int]:
    """Bytes of the arrays stored sparse vs dense (the headers aside)."""
    tensors, _ = sparse.to_checkpoint(model)
    return (sum(v.nbytes for v in tensors.values()),
            sum(v.nbytes for v in sparse.effective_state(model).values()))


@pytest.mark.parametrize("keep_masks", [False, True])
def test_save_load_round_trip_is_exact_and_smaller(tmp_path: Any, keep_masks: bool) -> None:
    model = _tiny()
    x, y = _data()
    model.train()
    F.cross_entropy(model(x), y).backward()                  # BN statistics move
    C.iterative_prune(model, 0.8, steps=2, remove_masks=not keep_masks)
    assert prune.is_pruned(model) == keep_masks
    loaded, small, big = _round_trip(model, tmp_path)
    assert not prune.is_pruned(loaded) and not loaded.training
    assert C.method_of(loaded) == "sparse"
    model.eval()
    np.testing.assert_array_equal(_np(loaded(x)), _np(model(x)))
    state = sparse.effective_state(model)
    for k, v in loaded.state_dict().items():
        np.testing.assert_array_equal(_np(v), state[k])
        assert _np(v).dtype == state[k].dtype
    assert small < big
    stored, dense = _payload(model)
    # each weight tensor: its non-zeros (4 bytes each) + one mask bit per entry; the rest dense
    per_weight = sum(int((state[k] != 0).sum()) * 4 + math.ceil(state[k].size / 8)
                     for k in WEIGHTS)
    assert stored == dense - 4 * N_WEIGHTS + per_weight and stored < 0.5 * dense


def test_layout_stores_only_tensors_worth_it(tmp_path: Any) -> None:
    model = _tiny()
    prune.l1_unstructured(model[3], "weight", amount=0.9)
    prune.l1_unstructured(model[7], "weight", amount=1)       # 1 zero of 216: not worth it
    tensors, spec = sparse.to_checkpoint(model)
    assert spec == {"sparse": {"3.weight": [6, 8, 3, 3]}}
    w = _np(model[3].weight)
    nz = [float(v) for v in w.ravel() if v != 0]               # C order, plain loop
    np.testing.assert_array_equal(tensors["3.weight.values"], np.array(nz, np.float32))
    bits = tensors["3.weight.nonzero_bits"]
    assert bits.dtype == np.uint8 and bits.shape == (54,)
    for j, v in enumerate(w.ravel()):                          # bit j, most significant first
        assert (bits[j // 8] >> (7 - j % 8)) & 1 == (v != 0)
    assert "7.weight" in tensors and tensors["7.weight"].dtype == np.float32
    assert tensors["1.num_batches_tracked"].dtype == np.int64
    assert not any(k.endswith(("_orig", "_mask")) for k in tensors)


def test_float64_model_round_trips(tmp_path: Any) -> None:
    model = _tiny().double()
    C.iterative_prune(model, 0.9)
    loaded, small, big = _round_trip(model, tmp_path)
    assert loaded[3].weight.dtype == numcnn.float64 and small < big
    stored, dense = _payload(model)
    assert stored < dense / 4
    np.testing.assert_array_equal(_np(loaded[3].weight), _np(model[3].weight))


def test_malformed_sparse_entries_are_refused() -> None:
    model = _tiny()
    prune.l1_unstructured(model[3], "weight", amount=0.9)
    prune.remove(model[3], "weight")
    tensors, spec = sparse.to_checkpoint(model)
    bad_cases = [
        ({"3.weight.values": tensors["3.weight.values"][:-1]}, spec, "non-zeros but values"),
        ({"3.weight.nonzero_bits": tensors["3.weight.nonzero_bits"][:-1]}, spec,
         "mask bytes"),
        ({"3.weight.values": tensors["3.weight.values"].astype(np.int32)}, spec,
         "non-zeros but values"),
        ({}, {"sparse": {"3.weight": [6, 8, -3, 3]}}, "the shape of"),
        ({}, {"sparse": ["3.weight"]}, "must be a dict"),
    ]
    for change, sp, msg in bad_cases:
        with pytest.raises(CompressedCheckpointError, match=msg):
            sparse.from_checkpoint(_tiny(), {**tensors, **change}, sp)
    missing = {k: v for k, v in tensors.items() if k != "3.weight.nonzero_bits"}
    with pytest.raises(CompressedCheckpointError, match="lacks its values or bits"):
        sparse.from_checkpoint(_tiny(), missing, spec)


def test_from_checkpoint_into_a_model_with_masks() -> None:
    model = _tiny()
    C.iterative_prune(model, 0.7)
    tensors, spec = sparse.to_checkpoint(model)
    target = _tiny(seed=5)
    prune.l1_unstructured(target[0], "weight", 0.5)               # masks are made permanent
    out = sparse.from_checkpoint(target, tensors, spec)
    assert not prune.is_pruned(out)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(_np(out.state_dict()[k]), _np(v))


def test_schedule_formula() -> None:
    assert [sparse.schedule_sparsity(0.9, t, 3) for t in (1, 2, 3)] == \
        pytest.approx([0.3, 0.6, 0.9], abs=1e-15)
    assert sparse.schedule_sparsity(0.8, 1, 2, "cubic") == pytest.approx(0.8 * (1 - 0.125))
    assert math.isclose(sparse.schedule_sparsity(0.8, 4, 4, "cubic"), 0.8)
