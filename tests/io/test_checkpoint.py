"""numcnn.save / numcnn.load: the safetensors encoding, exact round trips, bit-identical resume,
atomic writes, refusal of malformed files, and interop with PyTorch through safetensors.torch."""

from __future__ import annotations

import json
import math
import os
import re
import struct
from collections import Counter, OrderedDict, defaultdict
from typing import Any

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch

import numcnn
import numcnn.nn as nn
import numcnn.nn.functional as F
from numcnn.data import DataLoader, TensorDataset
from numcnn.data import transforms as T
from numcnn.io import checkpoint, load, load_into, save
from numcnn.optim import Adam
from numcnn.optim.lr_scheduler import MultiStepLR


def small_net() -> nn.Module:
    # keys 0.weight 0.bias 1.weight 1.bias 1.running_mean 1.running_var 1.num_batches_tracked
    # 5.weight 5.bias, as in the torch twin below
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Dropout(0.25), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))


def torch_twin() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4),
                               torch.nn.ReLU(), torch.nn.Dropout(0.25), torch.nn.Flatten(),
                               torch.nn.Linear(4 * 4 * 4, 3))


def assert_identical(a: Any, b: Any, where: str = "obj") -> None:
    """Same types all the way down, same keys in the same order, arrays equal bit for bit."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, numcnn.Tensor):
        assert a.requires_grad == b.requires_grad, where
        a, b = a.array, b.array
    if isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), where
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            assert type(k) is type(next(x for x in b if x == k)), f"{where}: key {k!r}"
            assert_identical(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b and repr(a) == repr(b), where      # repr: -0.0 vs 0.0


# ----------------------------------------------------------------------------- round trips
def test_state_dict_round_trip_keeps_keys_order_and_bits(tmp_path):
    numcnn.manual_seed(0)
    sd = small_net().state_dict()
    path = tmp_path / "model.safetensors"
    save(sd, path)
    back = numcnn.load(path)
    assert_identical(sd, back)
    assert type(back) is OrderedDict
    assert back["1.num_batches_tracked"].shape == () and back["1.num_batches_tracked"].dtype == \
        np.int64
    # a plain safetensors reader sees the state-dict keys unchanged, in the "pt" format
    assert set(safetensors.numpy.load_file(path)) == set(sd)
    with safetensors.safe_open(path, framework="numpy") as f:
        assert f.metadata()["format"] == "pt"


def test_nested_values_keep_their_types(tmp_path):
    big_endian = np.arange(6, dtype=">f8").reshape(2, 3)
    obj = {
        "ints": [0, -1, 2**100, True, False, None],
        "floats": [0.1, -0.0, 1e-310, math.inf, -math.inf, math.nan, 3.0],
        "strings": ["", "$tensor", "ünïcode", "a/b~c"],
        "tuple": (1, (2.5, "x"), []),
        "empty": [{}, [], ()],
        "int_keys": {0: "a", 1: {2: "b"}, -3: None},
        "mixed_keys": {0: 1, "0": 2, 1.5: 3, None: 4, True: 5, (1, "a"): 6},
        "dollar": {"$": 1, "$tensor": 2},
        "counter": Counter([3, 3, 5]),
        "odict": OrderedDict([("z", 1), ("a", 2)]),
        "zero_d": np.array(2.5, dtype=np.float32),
        "scalars": [np.float32(1.5), np.int64(-7), np.float64(0.1), np.bool_(True)],
        "arrays": [np.arange(5, dtype=np.uint8), np.array([[True, False]]),
                   np.ones((2, 0, 3), np.float16), np.arange(12.0).reshape(3, 4).T,
                   big_endian, np.array([-(2**63), 2**63 - 1], dtype=np.int64)],
        "tensors": [numcnn.tensor([1.0, 2.0], requires_grad=True),
                    numcnn.Tensor(np.arange(4, dtype=np.int32)),
                    nn.Parameter(numcnn.zeros(2, 2)), nn.Parameter(numcnn.ones(1),
                                                                    requires_grad=False)],
        "same_array_twice": [np.zeros(2), np.zeros(2)],
    }
    path = tmp_path / "ckpt.safetensors"
    save(obj, path)
    back = load(path)
    expected = dict(obj)
    expected["arrays"] = obj["arrays"][:4] + [big_endian.astype("<f8")] + obj["arrays"][5:]
    assert_identical(expected, back)
    assert back["counter"][7] == 0                        # still a Counter, not a dict
    assert isinstance(back["tensors"][2], nn.Parameter)
    assert back["tensors"][3].requires_grad is False
    assert back["arrays"][3].flags.c_contiguous and back["arrays"][3][0, 1] == 4.0


def test_tensor_names_are_escaped_paths(tmp_path):
    x = np.zeros(1, np.float32)
    obj = {"model": {"conv.weight": x}, "a/b": x, "t~": x, "k": {0: x, "0": x},
           "__metadata__": x, "l": [x, (x,)]}
    path = tmp_path / "names.safetensors"
    save(obj, path)
    names = set(safetensors.numpy.load_file(path))
    assert names == {"model/conv.weight", "a~1b", "t~0", "k/0", "k/0~2", "__metadata__~2",
                     "l/0", "l/1/0"}
    assert_identical(obj, load(path))


def test_a_flat_array_saved_alone(tmp_path):
    save(np.arange(3), tmp_path / "a.safetensors")
    assert_identical(load(tmp_path / "a.safetensors"), np.arange(3))


@pytest.mark.parametrize("value, where", [
    ({"a": {"b": {1, 2}}}, "obj['a']['b']"),
    ({"f": len}, "obj['f']"),
    ({"d": defaultdict(list)}, "obj['d']"),
    ({"o": np.array([None])}, "obj['o']"),
    ({"c": np.zeros(2, np.complex64)}, "obj['c']"),
    ({"k": {frozenset(): 1}}, "obj['k']"),
    ({"b": b"bytes"}, "obj['b']"),
])
def test_unsupported_values_are_refused_by_path(tmp_path, value, where):
    path = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match=re.escape(where)):
        save(value, path)
    assert os.listdir(tmp_path) == []                     # nothing written, no temp file


# ----------------------------------------------------------------------------- resume
def make_training(seed: int):
    numcnn.manual_seed(seed)
    model = small_net()
    opt = Adam(model.parameters(), lr=0.01, betas=(0.8, 0.95), amsgrad=True)
    sched = MultiStepLR(opt, milestones=[2, 4, 4], gamma=0.5)
    x = np.linspace(-1, 1, 10 * 16, dtype=np.float32).reshape(10, 1, 4, 4)
    data = TensorDataset(x, np.arange(10) % 3, transform=T.RandomHorizontalFlip())
    loader = DataLoader(data, batch_size=4, shuffle=True, generator=5)
    return model, opt, sched, loader


def batches(loader: DataLoader):
    while True:
        yield from loader


def train(model, opt, sched, stream, steps: int) -> list[float]:
    losses = []
    for _ in range(steps):
        x, y = next(stream)
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)          # dropout draws from the global generator
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses


def test_resume_is_bit_identical(tmp_path):
    model, opt, sched, loader = make_training(seed=1)
    stream = batches(loader)
    reference = train(model, opt, sched, stream, 7)        # 3 batches per epoch: crosses two
    expected = model.state_dict()

    model, opt, sched, loader = make_training(seed=1)
    stream = batches(loader)
    first = train(model, opt, sched, stream, 4)
    save({"model": model.state_dict(), "optimizer": opt.state_dict(),
          "scheduler": sched.state_dict(), "rng": numcnn.get_rng_state(),
          "loader": loader.state_dict(), "epoch": 1, "step": 4}, tmp_path / "ckpt.safetensors")
    del model, opt, sched, loader, stream

    model, opt, sched, loader = make_training(seed=99)     # fresh objects, other weights
    ckpt = load(tmp_path / "ckpt.safetensors")
    assert ckpt["step"] == 4 and type(ckpt["step"]) is int
    assert ckpt["optimizer"]["param_groups"][0]["betas"] == (0.8, 0.95)
    state0 = ckpt["optimizer"]["state"][0]
    assert isinstance(state0["exp_avg"], numcnn.Tensor) and state0["exp_avg"].dtype == np.float32
    assert state0["step"].shape == () and state0["step"].item() == 4.0
    assert type(ckpt["scheduler"]["milestones"]) is Counter
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    sched.load_state_dict(ckpt["scheduler"])
    numcnn.set_rng_state(ckpt["rng"])
    loader.load_state_dict(ckpt["loader"])
    rest = train(model, opt, sched, batches(loader), 3)

    assert first + rest == reference                       # float equality: bit for bit
    assert_identical(expected, model.state_dict())
    assert sched.get_last_lr() == [0.01 * 0.5 ** 3]


# ----------------------------------------------------------------------------- atomic writes
def test_a_crash_mid_write_leaves_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    save({"w": np.arange(1000.0)}, path)
    before = path.read_bytes()

    def half_then_crash(f, data):
        f.write(data[: len(data) // 2])
        f.flush()
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(checkpoint, "_write_bytes", half_then_crash)
    with pytest.raises(OSError, match="simulated"):
        save({"w": np.zeros(5000)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]
    assert_identical(load(path), {"w": np.arange(1000.0)})


def test_a_failed_rename_leaves_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    save({"w": np.ones(3)}, path)

    def fail(src, dst):
        raise KeyboardInterrupt   # anything, even an interrupt, between write and rename

    monkeypatch.setattr(checkpoint.os, "replace", fail)
    with pytest.raises(KeyboardInterrupt):
        save({"w": np.zeros(3)}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]
    assert_identical(load(path), {"w": np.ones(3)})


def test_save_replaces_and_fsyncs(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(checkpoint.os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    path = tmp_path / "ckpt.safetensors"
    save({"w": np.ones(3)}, str(path))
    save({"w": np.zeros(3)}, str(path))
    assert len(synced) == 4                                  # the file and the directory, twice
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    assert path.stat().st_mode == plain.stat().st_mode       # the umask's mode, not mkstemp's 0600
    assert_identical(load(path), {"w": np.zeros(3)})


# ----------------------------------------------------------------------------- malformed files
def st_bytes(header: Any, data: bytes = b"", length: int | None = None) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


def entry(dtype="F32", shape=(2,), offsets=(0, 8)) -> dict[str, Any]:
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


def tree_file(tree: Any, tensors: dict[str, Any] | None = None, version: str = "1") -> bytes:
    meta = {"__metadata__": {"numcnn.format": version, "numcnn.tree": json.dumps(tree)}}
    return st_bytes({**meta, **(tensors or {})}, b"\0" * 8 if tensors else b"")


BAD_FILES = {
    "empty": (b"", "file too short"),
    "short": (b"\x01\x00\x00", "file too short"),
    "absurd header length": (struct.pack("<Q", 2**40) + b"{}", "absurd"),
    "header past end": (st_bytes({}, length=1000), "runs past the end of the file"),
    "not json": (st_bytes(b"{not json"), "not valid JSON"),
    "not utf-8": (st_bytes(b'{"\xff": 1}'), "not valid JSON"),
    "not an object": (st_bytes([1, 2]), "not an object"),
    "duplicate name": (st_bytes(b'{"a": 1, "a": 2}'), "duplicate key"),
    "metadata not strings": (st_bytes({"__metadata__": {"a": 1}}), "__metadata__"),
    "entry not an object": (st_bytes({"w": [1]}), "'w': entry must be"),
    "unsupported dtype": (st_bytes({"w": entry("BF16", (4,))}, b"\0" * 8),
                          "unsupported dtype 'BF16'"),
    "shape not ints": (st_bytes({"w": entry(shape=(2.0,))}, b"\0" * 8), "shape must be"),
    "negative dim": (st_bytes({"w": entry(shape=(-2,))}, b"\0" * 8), "shape must be"),
    "offsets reversed": (st_bytes({"w": entry(offsets=(8, 0))}, b"\0" * 8), "begin <= end"),
    "shape vs bytes": (st_bytes({"w": entry(shape=(3,))}, b"\0" * 8), "needs 12 bytes"),
    "tensor past end": (st_bytes({"w": entry(offsets=(0, 8))}, b"\0" * 4),
                        "run past the end of the data"),
    "overlap": (st_bytes({"a": entry(), "b": entry(shape=(1,), offsets=(4, 8))}, b"\0" * 8),
                "overlap"),
    "gap": (st_bytes({"a": entry(shape=(1,), offsets=(4, 8))}, b"\0" * 8), "gap"),
    "trailing bytes": (st_bytes({"a": entry()}, b"\0" * 12), "4 trailing bytes"),
    "missing tensor": (tree_file({"$": "tensor", "name": "nope"}), "not in the file"),
    "unknown tag": (tree_file({"$": "pickle", "x": 1}), "unknown tag"),
    "unreferenced tensor": (tree_file(1, {"w": entry()}), "not referenced"),
    "tensor used twice": (tree_file([{"$": "tensor", "name": "w"}] * 2, {"w": entry()}),
                          "twice"),
    "unhashable key": (tree_file({"$": "dict", "items": [[[1], 2]]}), "unhashable"),
    "header too deep": (st_bytes(b"[" * 100_000 + b"]" * 100_000), "not valid JSON"),
    "tree too deep": (st_bytes({"__metadata__": {"numcnn.format": "1",
                                                 "numcnn.tree": "[" * 100_000 + "]" * 100_000}}),
                      "RecursionError"),
    "tree not json": (st_bytes({"__metadata__": {"numcnn.format": "1", "numcnn.tree": "{"}}),
                      "numcnn.tree"),
    "future version": (tree_file(1, version="2"), "format '2' is not supported"),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_malformed_files_are_refused_with_a_clear_error(tmp_path, monkeypatch, name):
    content, problem = BAD_FILES[name]
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    header_checks = name not in {"missing tensor", "unknown tag", "unreferenced tensor",
                                 "tensor used twice", "unhashable key", "tree not json",
                                 "tree too deep"}
    if header_checks:    # refused by our own header check, before safetensors sees the file

        def never(*args, **kwargs):
            raise AssertionError("the file reached safetensors")

        monkeypatch.setattr(safetensors.numpy, "load_file", never)
    with pytest.raises(ValueError, match=re.escape(str(path))) as info:
        load(path)
    assert problem in str(info.value)


def test_a_truncated_checkpoint_is_refused(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    save({"w": np.arange(10.0)}, path)
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match="run past the end of the data"):
        load(path)


# ----------------------------------------------------------------------------- load_into
def test_load_into_a_model_from_a_state_dict_or_a_checkpoint(tmp_path):
    numcnn.manual_seed(3)
    src, dst = small_net(), small_net()
    save(src.state_dict(), tmp_path / "sd.safetensors")
    save({"model": src.state_dict(), "epoch": 2}, tmp_path / "ckpt.safetensors")
    for name in ("sd.safetensors", "ckpt.safetensors"):
        numcnn.manual_seed(4)
        dst = small_net()
        result = load_into(dst, tmp_path / name)
        assert result.missing_keys == [] and result.unexpected_keys == []
        assert_identical(src.state_dict(), dst.state_dict())


def test_load_into_reports_mismatches_by_key(tmp_path):
    sd = small_net().state_dict()
    sd["5.weight"] = numcnn.zeros(2, 64)
    del sd["5.bias"]
    save(sd, tmp_path / "sd.safetensors")
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "5.bias"') as info:
        load_into(small_net(), tmp_path / "sd.safetensors")
    assert "size mismatch for 5.weight" in str(info.value)
    save({"epoch": 1}, tmp_path / "no_model.safetensors")
    with pytest.raises(ValueError, match="neither a state dict"):
        load_into(small_net(), tmp_path / "no_model.safetensors")


# ----------------------------------------------------------------------------- PyTorch
def forward(net: nn.Module, x: np.ndarray) -> np.ndarray:
    with numcnn.no_grad():
        return net(numcnn.Tensor(x)).numpy()


def test_a_numcnn_state_dict_loads_into_torch(tmp_path):
    numcnn.manual_seed(5)
    net = small_net()
    net.train()
    net(numcnn.randn(8, 1, 4, 4))                          # move the BatchNorm statistics
    net.eval()
    path = tmp_path / "numcnn.safetensors"
    save(net.state_dict(), path)
    twin = torch_twin()
    twin.load_state_dict(safetensors.torch.load_file(path), strict=True)
    twin.eval()
    x = np.random.default_rng(0).standard_normal((5, 1, 4, 4)).astype(np.float32)
    with torch.no_grad():
        expected = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(forward(net, x), expected, rtol=1e-5, atol=1e-6)


def test_a_torch_state_dict_loads_into_numcnn(tmp_path):
    torch.manual_seed(0)
    twin = torch_twin()
    twin.train()
    twin(torch.randn(8, 1, 4, 4))
    twin.eval()
    path = tmp_path / "torch.safetensors"
    safetensors.torch.save_file(twin.state_dict(), path)
    sd = numcnn.load(path)
    assert sd["1.num_batches_tracked"].dtype == np.int64
    net = small_net()
    net.load_state_dict(sd, strict=True)
    net.eval()
    x = np.random.default_rng(1).standard_normal((5, 1, 4, 4)).astype(np.float32)
    with torch.no_grad():
        expected = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(forward(net, x), expected, rtol=1e-5, atol=1e-6)
    other = small_net()
    load_into(other, path)
    other.eval()
    np.testing.assert_array_equal(forward(other, x), forward(net, x))
