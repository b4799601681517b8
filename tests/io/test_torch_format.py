"""numcnn.io.torch_format: torch.save files (zip and legacy) read with torch as the oracle,
numcnn's .pt files opened by torch.load(weights_only=True), and hostile files refused."""

from __future__ import annotations

import os
import pickle
import struct
import zipfile
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import numcnn
from numcnn.io import (
    RefusedGlobalError,
    TorchFormatError,
    is_torch_file,
    load,
    load_into,
    load_torch,
    save,
    save_torch,
)
from numcnn.nn import Parameter

torch = pytest.importorskip("torch")

FORMATS = ["zip", "legacy"]


def torch_save(obj: Any, path: Path, fmt: str) -> Path:
    torch.save(obj, path, _use_new_zipfile_serialization=(fmt == "zip"))
    return path


def as_numpy(t: Any) -> np.ndarray:
    """torch -> numpy, bfloat16 widened exactly to float32 (what numcnn returns)."""
    if t.dtype == torch.bfloat16:
        t = t.float()
    return t.detach().numpy()


def assert_same_tensor(n: Any, t: Any, where: str = "") -> None:
    assert isinstance(n, numcnn.Tensor), where
    expected = as_numpy(t)
    assert n.array.dtype == expected.dtype, where
    assert n.array.shape == expected.shape, where
    np.testing.assert_array_equal(n.array, expected, err_msg=where)
    assert n.requires_grad == t.requires_grad, where


# ----------------------------------------------------------------------------- torch writes
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int8, torch.int16,
          torch.int32, torch.int64, torch.uint8, torch.bool, torch.complex64, torch.complex128]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_dtype(tmp_path, fmt):
    g = torch.Generator().manual_seed(0)
    src = {}
    for dtype in DTYPES:
        x = torch.randn(3, 4, generator=g, dtype=torch.float64) * 50
        if dtype.is_complex:
            src[str(dtype)] = torch.complex(x, -x).to(dtype)
        elif dtype == torch.bool:
            src[str(dtype)] = x > 0
        else:
            src[str(dtype)] = x.to(dtype)
    src["special"] = torch.tensor([float("nan"), float("inf"), -0.0, 1e-40], dtype=torch.float32)
    out = load_torch(torch_save(src, tmp_path / "d.pt", fmt))
    assert list(out) == list(src)
    for k, t in src.items():
        assert_same_tensor(out[k], t, k)
    # bfloat16 comes back as float32, exactly (the widened bits)
    assert out["torch.bfloat16"].array.dtype == np.float32


def test_unsigned_wide_dtypes_use_rebuild_v3(tmp_path):
    # torch writes uint16/32/64 with _rebuild_tensor_v3 and an untyped storage
    src = {f"u{b}": torch.tensor([0, 1, 2**b - 1], dtype=torch.int64 if b == 64 else
                                 torch.int64).to(getattr(torch, f"uint{b}"))
           for b in (16, 32)}
    src["u64"] = torch.tensor([0, 7, 2**62], dtype=torch.int64).to(torch.uint64)
    out = load_torch(torch_save(src, tmp_path / "u.pt", "zip"))
    for b in (16, 32, 64):
        arr = out[f"u{b}"].array
        assert arr.dtype == np.dtype(f"uint{b}")
        np.testing.assert_array_equal(arr.astype(np.uint64),
                                      src[f"u{b}"].to(torch.int64).numpy().astype(np.uint64))


@pytest.mark.parametrize("fmt", FORMATS)
def test_views_offsets_strides_and_shared_storage(tmp_path, fmt):
    base = torch.arange(60, dtype=torch.float32).reshape(3, 4, 5)
    src = OrderedDict(
        base=base,
        row=base[1],                         # offset 20
        cols=base[:, 1:3, ::2],              # offset, non-contiguous strides
        t=base.transpose(0, 2),              # permuted strides
        flat=base.view(-1)[7:19:3],          # offset + step
        scalar=base[2, 3, 4],                # 0-d
        empty=base[:, :0],                   # no elements
        expand=torch.arange(3.0).expand(4, 3),   # stride 0: comes back as a copy
    )
    out = load_torch(torch_save(src, tmp_path / "v.pt", fmt))
    for k, t in src.items():
        assert_same_tensor(out[k], t, k)
    # one storage -> views of one buffer: a write through one shows in the others, as in torch
    out["base"].array[1, 2, 0] = -1.0
    base[1, 2, 0] = -1.0
    for k in ("row", "cols", "t", "flat"):
        np.testing.assert_array_equal(out[k].array, src[k].numpy(), err_msg=k)
    assert np.shares_memory(out["base"].array, out["row"].array)
    # the self-overlapping tensor is a copy: writing one element changes one element
    out["expand"].array[0, 0] = 9
    assert out["expand"].array[1, 0] == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_nested_containers_and_scalars(tmp_path, fmt):
    sd = torch.nn.Linear(3, 2).state_dict()
    src = {"model": sd, "epoch": 7, "lr": 0.125, "big": 2**70, "neg": -(2**40), "name": "héllo",
           "flags": [True, False, None], "pair": (1, (2.5, "x")), "bytes": b"\x00\xffab",
           "counter": Counter({"a": 3}), "set": {1, 2}, "size": torch.Size([2, 3]),
           "list": [torch.ones(2), {"deep": [torch.zeros(1, dtype=torch.int64)]}],
           3: "int key", (1, 2): "tuple key"}
    out = load_torch(torch_save(src, tmp_path / "n.pt", fmt))
    assert list(out) == list(src)
    assert type(out["model"]) is OrderedDict and list(out["model"]) == list(sd)
    assert out["model"]._metadata == sd._metadata            # the state dict's version info
    for k, t in sd.items():
        assert_same_tensor(out["model"][k], t, k)
    for k in ("epoch", "lr", "big", "neg", "name", "flags", "pair", "bytes", "counter", "set",
              3, (1, 2)):
        assert out[k] == src[k] and type(out[k]) is type(src[k]), k
    assert out["size"] == (2, 3) and type(out["size"]) is tuple
    assert_same_tensor(out["list"][0], src["list"][0])
    assert_same_tensor(out["list"][1]["deep"][0], src["list"][1]["deep"][0])


@pytest.mark.parametrize("fmt", FORMATS)
def test_parameters_requires_grad_and_same_object(tmp_path, fmt):
    p = torch.nn.Parameter(torch.randn(2, 3))
    frozen = torch.nn.Parameter(torch.randn(2), requires_grad=False)
    leaf = torch.randn(4, requires_grad=True)
    src = {"p": p, "frozen": frozen, "leaf": leaf, "again": p}
    out = load_torch(torch_save(src, tmp_path / "p.pt", fmt))
    assert type(out["p"]) is Parameter and out["p"].requires_grad
    assert type(out["frozen"]) is Parameter and not out["frozen"].requires_grad
    assert type(out["leaf"]) is numcnn.Tensor and out["leaf"].requires_grad
    assert out["again"] is out["p"]                            # one object, as torch loads it
    for k in src:
        np.testing.assert_array_equal(out[k].array, src[k].detach().numpy())


@pytest.mark.filterwarnings("ignore:TypedStorage is deprecated")
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_storage_alone(tmp_path, fmt):
    t, u = torch.arange(5, dtype=torch.int16), torch.arange(3, dtype=torch.int32)
    out = load_torch(torch_save({"typed": t.storage(), "untyped": u.untyped_storage()},
                                tmp_path / "s.pt", fmt))
    np.testing.assert_array_equal(out["untyped"].array, u.numpy().view(np.uint8))
    np.testing.assert_array_equal(out["typed"].array, t.numpy())


def test_neg_and_conj_views(tmp_path):
    z = torch.complex(torch.arange(3.0), torch.ones(3))
    src = {"conj": z.conj(), "neg": torch._neg_view(torch.arange(4.0))}
    assert src["conj"].is_conj() and src["neg"].is_neg()
    out = load_torch(torch_save(src, tmp_path / "c.pt", "zip"))
    np.testing.assert_array_equal(out["conj"].array, src["conj"].resolve_conj().numpy())
    np.testing.assert_array_equal(out["neg"].array, src["neg"].resolve_neg().numpy())


def test_big_endian_archive(tmp_path):
    """A file whose byteorder member says "big" (as torch writes on a big-endian machine),
    made here by byte-swapping a torch file; torch.load is the oracle for it too."""
    src = {"f": torch.randn(3, 2), "h": torch.randn(5).half(), "bf": torch.randn(4).bfloat16(),
           "i": torch.arange(-3, 3), "b": torch.tensor([True, False])}
    little = torch_save(src, tmp_path / "le.pt", "zip")
    with zipfile.ZipFile(little) as z:
        pkl = next(n for n in z.namelist() if n.endswith("data.pkl"))
        members = {n: z.read(n) for n in z.namelist()}
    prefix = pkl[: -len("data.pkl")]
    swapped = dict(members)
    for i, t in enumerate(src.values()):        # storage keys follow the pickle's order
        itemsize = t.element_size()
        raw = np.frombuffer(members[f"{prefix}data/{i}"], np.dtype(f"u{itemsize}"))
        swapped[f"{prefix}data/{i}"] = raw.byteswap().tobytes()
    swapped[prefix + "byteorder"] = b"big"
    big = tmp_path / "be.pt"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_STORED) as z:
        for n, data in swapped.items():
            z.writestr(n, data)
    oracle = torch.load(big, weights_only=True)
    out = load_torch(big)
    for k in src:
        assert_same_tensor(out[k], oracle[k], k)
        assert_same_tensor(out[k], src[k], k)


# ----------------------------------------------------------------------------- numcnn writes
def test_numcnn_writes_what_torch_reads(tmp_path):
    rng = np.random.default_rng(3)
    lin = numcnn.nn.Linear(4, 3)
    obj = {"model": lin.state_dict(), "step": 12, "lr": 1e-3, "name": "x", "none": None,
           "flags": (True, False), "f16": np.arange(4, dtype=np.float16),
           "i64": numcnn.tensor(np.arange(6).reshape(2, 3)), "u8": rng.integers(0, 255, 5,
                                                                           dtype=np.uint8),
           "b": np.array([True, False]), "f64": rng.normal(size=(2, 2)),
           "nc": rng.normal(size=(4, 5)).astype(np.float32)[:, ::2],     # a strided view
           "0d": np.float32(2.5), "u16": np.array([1, 65535], np.uint16),
           "c64": np.array([1 + 2j], np.complex64), "bytes": b"\x01\x02", "big": 2**80,
           "counter": Counter(a=2), "set": {3, 4}, "grad": numcnn.tensor([1.0, 2.0],
                                                                         requires_grad=True),
           "param": Parameter(np.ones(2, np.float32)), "frozen": Parameter(np.ones(1),
                                                                           requires_grad=False)}
    obj["again"] = obj["grad"]                       # one object twice: written once
    path = tmp_path / "n.pt"
    save(obj, path)
    assert is_torch_file(path)
    t = torch.load(path, weights_only=True)
    assert list(t) == list(obj)
    assert type(t["model"]) is OrderedDict
    for k, v in lin.state_dict().items():
        assert type(t["model"][k]) is torch.Tensor             # a state dict holds tensors
        np.testing.assert_array_equal(t["model"][k].detach().numpy(), v.array)
    for k in ("f16", "u8", "b", "f64", "nc", "u16", "c64"):
        assert t[k].numpy().dtype == obj[k].dtype, k
        np.testing.assert_array_equal(t[k].numpy(), obj[k], err_msg=k)
    np.testing.assert_array_equal(t["i64"].numpy(), obj["i64"].array)
    assert t["0d"].shape == () and t["0d"].item() == 2.5 and t["0d"].dtype == torch.float32
    assert t["grad"].requires_grad and not t["i64"].requires_grad
    assert t["again"] is t["grad"]
    assert type(t["param"]) is torch.nn.Parameter and t["param"].requires_grad
    assert type(t["frozen"]) is torch.nn.Parameter and not t["frozen"].requires_grad
    for k in ("step", "lr", "name", "none", "flags", "bytes", "big", "counter", "set"):
        assert t[k] == obj[k] and type(t[k]) is type(obj[k]), k
    # and numcnn reads its own file back
    back = load(path)
    assert back["again"] is back["grad"]
    np.testing.assert_array_equal(back["nc"].array, obj["nc"])
    assert back["counter"] == obj["counter"] and back["big"] == obj["big"]


def test_storage_data_is_64_byte_aligned_and_stored(tmp_path):
    path = tmp_path / "a.pt"
    save_torch({"a": np.ones(3, np.float32), "b": np.arange(7, dtype=np.int64)}, path)
    with zipfile.ZipFile(path) as z, open(path, "rb") as f:
        for info in z.infolist():
            assert info.compress_type == zipfile.ZIP_STORED
            f.seek(info.header_offset + 26)
            n, e = struct.unpack("<HH", f.read(4))
            if "/data/" in info.filename:
                assert (info.header_offset + 30 + n + e) % 64 == 0, info.filename
    assert torch.load(path, weights_only=True, mmap=True)["b"].tolist() == list(range(7))


def test_resnet18_state_dict_round_trips_both_ways(tmp_path):
    """numcnn's resnet18 -> .pt -> torch.load(weights_only) is bit for bit; torch.save of the
    same tensors -> numcnn.load -> load_into gives a model with the same state and outputs."""
    numcnn.manual_seed(0)
    model = numcnn.models.resnet18(num_classes=10)
    sd = model.state_dict()
    save(sd, tmp_path / "r.pth")
    t = torch.load(tmp_path / "r.pth", weights_only=True)
    assert list(t) == list(sd)
    for k, v in sd.items():
        tv = t[k].detach().numpy()
        assert tv.dtype == v.array.dtype and tv.shape == v.array.shape, k
        assert tv.tobytes() == np.ascontiguousarray(v.array).tobytes(), k

    # reverse: torch writes (both formats), numcnn loads into a fresh model
    for fmt in FORMATS:
        numcnn.manual_seed(1)
        fresh = numcnn.models.resnet18(num_classes=10)
        torch_sd = OrderedDict((k, torch.from_numpy(np.array(v.array))) for k, v in sd.items())
        result = load_into(fresh, torch_save(torch_sd, tmp_path / f"t_{fmt}.pth", fmt))
        assert not result.missing_keys and not result.unexpected_keys
        for k, v in fresh.state_dict().items():
            np.testing.assert_array_equal(v.array, sd[k].array, err_msg=k)
    x = numcnn.tensor(np.random.default_rng(0).normal(size=(1, 3, 32, 32)).astype(np.float32))
    model.eval()
    fresh.eval()
    np.testing.assert_array_equal(fresh(x).array, model(x).array)


def test_checkpoint_dict_with_state_dict_inside(tmp_path):
    numcnn.manual_seed(0)
    src = numcnn.nn.Sequential(numcnn.nn.Conv2d(1, 2, 3), numcnn.nn.BatchNorm2d(2))
    tsd = OrderedDict((k, torch.from_numpy(np.array(v.array)))
                      for k, v in src.state_dict().items())
    for key in ("state_dict", "model"):
        path = torch_save({key: tsd, "epoch": 3}, tmp_path / f"{key}.pth", "zip")
        dst = numcnn.nn.Sequential(numcnn.nn.Conv2d(1, 2, 3), numcnn.nn.BatchNorm2d(2))
        load_into(dst, path)
        for k, v in dst.state_dict().items():
            np.testing.assert_array_equal(v.array, src.state_dict()[k].array)


def test_format_is_chosen_by_extension_when_saving_and_by_content_when_loading(tmp_path):
    sd = {"w": numcnn.tensor(np.arange(3, dtype=np.float32))}
    save(sd, tmp_path / "a.PTH")
    save(sd, tmp_path / "a.safetensors")
    save(sd, tmp_path / "a.bin")
    assert is_torch_file(tmp_path / "a.PTH")
    assert not is_torch_file(tmp_path / "a.safetensors")
    assert not is_torch_file(tmp_path / "a.bin")                      # safetensors by default
    os.rename(tmp_path / "a.PTH", tmp_path / "renamed.safetensors")   # content decides
    for name in ("renamed.safetensors", "a.bin"):
        np.testing.assert_array_equal(load(tmp_path / name)["w"].array, sd["w"].array)
    torch_save({"w": torch.ones(2)}, tmp_path / "legacy.weird", "legacy")
    assert is_torch_file(tmp_path / "legacy.weird")
    np.testing.assert_array_equal(load(tmp_path / "legacy.weird")["w"].array, np.ones(2))
    assert numcnn.load is load and numcnn.save is save


def test_save_refuses_what_torch_cannot_hold(tmp_path):
    path = tmp_path / "x.pt"
    save_torch({"a": 1}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match=r"obj\['f'\]"):
        save({"f": print}, path)
    with pytest.raises(TypeError, match="object"):
        save({"o": np.array([object()])}, path)
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(TypeError, match="contains itself"):
        save(loop, path)
    assert path.read_bytes() == before               # atomic: the old file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["x.pt"]


# ----------------------------------------------------------------------------- hostile files
def zip_with(members: dict[str, bytes], path: Path, compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as z:
        for n, data in members.items():
            z.writestr(n, data)
    return path


def tensor_pickle(key: str = "0", numel: int = 4, offset: int = 0, size: tuple = (4,),
                  stride: tuple = (1,), storage: str = "FloatStorage", location: str = "cpu",
                  legacy: bool = False, v1: bool = False) -> bytes:
    """A pickle of one tensor, written opcode by opcode as torch writes it: by default
    _rebuild_tensor_v2 in the zip format; `legacy` adds the 6th persistent-id item (no view),
    `v1` uses torch 0.3's _rebuild_tensor(storage, offset, torch.Size, stride)."""
    def text(value: str) -> bytes:
        return b"X" + struct.pack("<I", len(value)) + value.encode()

    def tup(items: tuple) -> bytes:
        return b"(" + b"".join(b"J" + struct.pack("<i", i) for i in items) + b"t"
    pid = (b"(" + text("storage") + b"ctorch\n" + storage.encode() + b"\n" + text(key) +
           text(location) + b"J" + struct.pack("<i", numel) + (b"N" if legacy else b"") + b"tQ")
    geometry = b"J" + struct.pack("<i", offset)
    if v1:
        return (b"\x80\x02ctorch._utils\n_rebuild_tensor\n(" + pid + geometry +
                b"ctorch\nSize\n" + tup(size) + b"\x85R" + tup(stride) + b"tR.")
    return (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(" + pid + geometry + tup(size) +
            tup(stride) + b"\x89ccollections\nOrderedDict\n)RtR.")


def legacy_file(path: Path, tree: bytes, storages: dict[str, np.ndarray]) -> Path:
    """The legacy layout around a hand-made object tree."""
    parts = [pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2), pickle.dumps(1001, protocol=2),
             pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2), tree,
             pickle.dumps(list(storages), protocol=2)]
    for arr in storages.values():
        parts.append(struct.pack("<q", arr.size) + arr.tobytes())
    path.write_bytes(b"".join(parts))
    return path


def good_members(pkl: bytes | None = None, data: bytes | None = None) -> dict[str, bytes]:
    return {"a/data.pkl": tensor_pickle() if pkl is None else pkl,
            "a/byteorder": b"little",
            "a/data/0": np.arange(4, dtype=np.float32).tobytes() if data is None else data,
            "a/version": b"3\n"}


def test_hand_built_archive_is_valid(tmp_path):
    """The helpers below build files torch itself loads; each attack changes one thing."""
    path = zip_with(good_members(), tmp_path / "ok.pt")
    np.testing.assert_array_equal(torch.load(path, weights_only=True).numpy(), np.arange(4))
    np.testing.assert_array_equal(load_torch(path).array, np.arange(4))


def test_torch_0_3_legacy_file_with_cuda_storages(tmp_path):
    """How torchvision's oldest weights (e.g. vgg16-397923af.pth) are written: _rebuild_tensor
    v1, torch.Size, storages saved from the GPU.  torch reads it (to the CPU) as the oracle."""
    data = np.arange(12, dtype=np.float32)
    tree = tensor_pickle(numel=12, offset=1, size=(2, 3), stride=(4, 2), location="cuda:0",
                         legacy=True, v1=True)
    path = legacy_file(tmp_path / "old.pth", tree, {"0": data})
    oracle = torch.load(path, weights_only=True, map_location="cpu")
    out = load(path)
    assert_same_tensor(out, oracle)
    # element [i, j] is data[offset + 4 i + 2 j]
    np.testing.assert_array_equal(out.array, data[[[1, 3, 5], [5, 7, 9]]])


def test_bool_storage_bytes_other_than_0_and_1(tmp_path):
    tree = tensor_pickle(storage="BoolStorage", numel=4, legacy=True)
    raw = np.array([0, 1, 2, 255], np.uint8)
    out = load_torch(legacy_file(tmp_path / "b.pt", tree, {"0": raw}))
    assert out.array.dtype == np.bool_
    np.testing.assert_array_equal(out.array, [False, True, True, True])


def test_os_system_is_never_called(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    pkl = pickle.dumps({"x": Evil()}, protocol=2)
    for path in (zip_with(good_members(pkl=pkl), tmp_path / "evil.pt"),):
        with pytest.raises(RefusedGlobalError, match=r"refusing to load global "
                                                     r"'(posix|os)\.system'") as e:
            load(path)
        assert str(path) in str(e.value)
        assert isinstance(e.value, ValueError) and isinstance(e.value, pickle.UnpicklingError)
    # the legacy layout: the same payload as the object tree
    legacy = (pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + pickle.dumps(1001, protocol=2) +
              pickle.dumps({"little_endian": True}, protocol=2) + pkl +
              pickle.dumps([], protocol=2))
    lpath = tmp_path / "evil_legacy.pt"
    lpath.write_bytes(legacy)
    with pytest.raises(RefusedGlobalError, match="system"):
        load(lpath)
    assert not marker.exists()


@pytest.mark.parametrize("payload", [
    b"\x80\x02cbuiltins\neval\nX\x04\x00\x00\x001+1\x85R.",                     # REDUCE of eval
    b"\x80\x02c__builtin__\neval\nX\x04\x00\x00\x001+1\x85R.",                  # py2 spelling
    b"\x80\x04\x8c\x08builtins\x94\x8c\x04exec\x94\x93X\x01\x00\x00\x001\x85R.",  # STACK_GLOBAL
    b"\x80\x02ctorch._utils\n_rebuild_qtensor\n)R.",                           # quantized
    b"\x80\x02ccollections\nOrderedDict\n)R}X\x01\x00\x00\x00xK\x01sb.",       # fine, see below
])
def test_refused_globals_and_stack_global(tmp_path, payload):
    path = zip_with(good_members(pkl=payload), tmp_path / "g.pt")
    if b"OrderedDict" in payload:          # BUILD on an OrderedDict is allowed (_metadata)
        # but the storage member is then unreferenced: still loads, attribute set
        assert load_torch(path).x == 1
        return
    with pytest.raises(RefusedGlobalError, match="refusing to load global") as e:
        load_torch(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("payload,match", [
    (b"\x80\x02ctorch\nfloat32\n}b.", "BUILD"),                                 # poison a dtype
    (b"\x80\x02ccollections\nCounter\n}b.", "BUILD"),                           # poison a class
    (b"\x80\x02(ccollections\nOrderedDict\noi.", "INST|OBJ"),                    # OBJ opcode
    (b"\x80\x02ccollections\nOrderedDict\n)\x81.", "NEWOBJ"),
    (b"\x80\x02r\xff\xff\xff\x7fN.", "memo index"),                             # huge memo index
    (b"\x80\x02B\xff\xff\xff\x7f.", "malformed"),                               # length too long
    (b"\x80\x02X\x05\x00\x00\x00ab", "malformed"),                              # truncated
    (b"\x80\x02N", "STOP"),
    (b"\x80\x02N.trailing", "follow"),
    (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(X\x01\x00\x00\x00aK\x00)))\x89NtR.",
     "storage"),                                                                # not a storage
    (b"\x80\x02(X\x06\x00\x00\x00moduleNNNtQ.", "pickled module"),
    (b"\x80\x02(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x02\x00\x00\x00..X\x03\x00"
     b"\x00\x00cpuK\x01tQ.", "not a number"),                                   # key '..'
])
def test_malformed_pickles(tmp_path, payload, match):
    path = zip_with(good_members(pkl=payload), tmp_path / "m.pt")
    with pytest.raises(TorchFormatError, match=match) as e:
        load_torch(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("kw,match", [
    (dict(offset=1), "outside its storage"),
    (dict(size=(5,)), "outside its storage"),
    (dict(size=(2, 2), stride=(3, 1)), "outside its storage"),
    (dict(size=(2,), stride=(4,)), "outside its storage"),
    (dict(numel=8), "needs 32"),                                   # member shorter than declared
    (dict(numel=2, size=(2,)), "needs 8"),                         # member longer than declared
    (dict(key="1"), "missing"),
])
def test_geometry_and_size_mismatches(tmp_path, kw, match):
    path = zip_with(good_members(pkl=tensor_pickle(**kw)), tmp_path / "s.pt")
    with pytest.raises(TorchFormatError, match=match):
        load_torch(path)


def test_zip_bomb_and_bad_names(tmp_path):
    bomb = good_members(data=b"\0" * (1 << 20))
    path = zip_with(bomb, tmp_path / "bomb.pt", zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 10_000                        # 1 MiB inflated from ~1 KiB
    with pytest.raises(TorchFormatError, match="compressed"):
        load_torch(path)
    for name in ("a/../../etc/passwd", "/a/data/0", "b/data/1", "a\\data\\1"):
        members = good_members()
        members[name] = b"x"
        with pytest.raises(TorchFormatError, match="refusing member name"):
            load_torch(zip_with(members, tmp_path / "n.pt"))
    members = good_members()
    members["b/data.pkl"] = members["a/data.pkl"]
    with pytest.raises(TorchFormatError, match="data.pkl"):
        load_torch(zip_with(members, tmp_path / "two.pt"))


def central_entry(data: bytearray, name: str) -> int:
    """The offset of `name`'s entry in the zip's central directory."""
    cd = data.index(b"PK\x01\x02")
    while True:
        name_len, extra, comment = struct.unpack("<HHH", data[cd + 28:cd + 34])
        if data[cd + 46:cd + 46 + name_len].decode() == name:
            return cd
        cd += 46 + name_len + extra + comment


def test_overlapping_members_are_refused(tmp_path):
    """Central-directory entries pointing into other members' bytes (the overlapping zip
    bomb's trick, which inflates a file by reading the same bytes many times)."""
    path = zip_with(good_members(), tmp_path / "o.pt")
    whole = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        infos = {i.filename: i for i in z.infolist()}
    # a/version's entry points at a/data/0's local header
    data = bytearray(whole)
    cd = central_entry(data, "a/version")
    data[cd + 42:cd + 46] = struct.pack("<I", infos["a/data/0"].header_offset)
    path.write_bytes(bytes(data))
    with pytest.raises(TorchFormatError, match="names another file"):
        load_torch(path)
    # a/data/0's entry claims bytes that run over a/version's local header
    data = bytearray(whole)
    cd = central_entry(data, "a/data/0")
    data[cd + 20:cd + 28] = struct.pack("<II", 100, 100)
    path.write_bytes(bytes(data))
    with pytest.raises(TorchFormatError, match="overlap"):
        load_torch(path)


def test_every_truncation_is_refused_cleanly(tmp_path):
    for fmt in FORMATS:
        whole = torch_save({"w": torch.arange(3.0)}, tmp_path / f"w_{fmt}.pt", fmt).read_bytes()
        cut = tmp_path / "cut.pt"
        for n in range(len(whole)):
            cut.write_bytes(whole[:n])
            with pytest.raises(ValueError, match=str(cut).replace("\\", "\\\\")):
                load(cut)


@pytest.mark.parametrize("order,match", [(b"middle", "not 'little' or 'big'"),
                                         (b"little" * 10, "longer")])
def test_bad_byteorder(tmp_path, order, match):
    members = good_members()
    members["a/byteorder"] = order
    with pytest.raises(TorchFormatError, match=match):
        load_torch(zip_with(members, tmp_path / "o.pt"))


def test_corrupted_storage_fails_its_crc(tmp_path):
    path = zip_with(good_members(), tmp_path / "c.pt")
    data = bytearray(path.read_bytes())
    at = data.index(np.arange(4, dtype=np.float32).tobytes())
    data[at + 5] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(TorchFormatError, match="CRC"):
        load_torch(path)


def test_file_size_cap(tmp_path, monkeypatch):
    from numcnn.io import torch_format
    path = zip_with(good_members(), tmp_path / "big.pt")
    monkeypatch.setattr(torch_format, "MAX_FILE_BYTES", 100)
    with pytest.raises(TorchFormatError, match="MAX_FILE_BYTES"):
        load_torch(path)
    monkeypatch.setattr(torch_format, "MAX_FILE_BYTES", 1 << 30)
    monkeypatch.setattr(torch_format, "MAX_PICKLE_BYTES", 10)
    with pytest.raises(TorchFormatError, match="MAX_PICKLE_BYTES"):
        load_torch(path)


def test_legacy_storage_count_mismatch_and_trailing_bytes(tmp_path):
    path = torch_save({"w": torch.arange(3.0)}, tmp_path / "l.pt", "legacy")
    whole = path.read_bytes()
    count_at = len(whole) - 12 - 8
    assert struct.unpack("<q", whole[count_at:count_at + 8])[0] == 3
    path.write_bytes(whole[:count_at] + struct.pack("<q", 4) + whole[count_at + 8:])
    with pytest.raises(TorchFormatError, match="holds 4 elements"):
        load_torch(path)
    path.write_bytes(whole + b"junk")
    with pytest.raises(TorchFormatError, match="unexpected bytes"):
        load_torch(path)


def test_not_a_torch_file_is_read_as_safetensors(tmp_path):
    path = tmp_path / "x.pt"
    path.write_bytes(b"hello world, not a checkpoint")
    with pytest.raises(ValueError, match=str(path)):
        load(path)
    with pytest.raises(TorchFormatError, match="bad magic"):
        load_torch(path)
    assert not is_torch_file(path)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_every_pickle_protocol(tmp_path, fmt, protocol):
    src = {"w": torch.arange(5.0)[1:], "meta": [1, (2, "x"), {"k": None}]}
    path = tmp_path / "p.pt"
    torch.save(src, path, pickle_protocol=protocol,
               _use_new_zipfile_serialization=(fmt == "zip"))
    out = load_torch(path)
    assert_same_tensor(out["w"], src["w"])
    assert out["meta"] == src["meta"]


def test_a_pickled_module_is_refused(tmp_path):
    path = torch_save(torch.nn.Linear(2, 2), tmp_path / "model.pt", "zip")
    with pytest.raises(RefusedGlobalError, match="torch.nn.modules.linear.Linear"):
        load(path)


def test_legacy_storage_views(tmp_path):
    """torch < 0.4 could pickle views of a storage: (view key, offset, size) in elements."""
    view = b"(X\x01\x00\x00\x00vJ\x02\x00\x00\x00J\x03\x00\x00\x00t"     # ('v', 2, 3)
    tree = (b"\x80\x02ctorch._utils\n_rebuild_tensor\n(" +
            b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00"
            b"\x00cpuJ\x06\x00\x00\x00" + view + b"tQ" +
            b"J\x01\x00\x00\x00(J\x02\x00\x00\x00t(J\x01\x00\x00\x00ttR.")
    data = np.arange(6, dtype=np.float32)
    path = legacy_file(tmp_path / "views.pt", tree, {"0": data})
    oracle = torch.load(path, weights_only=True)
    out = load_torch(path)
    assert_same_tensor(out, oracle)
    np.testing.assert_array_equal(out.array, data[2:5][1:3])
    bad = tree.replace(b"J\x03\x00\x00\x00t", b"J\x05\x00\x00\x00t")       # view past the end
    with pytest.raises(TorchFormatError, match="reaches past"):
        load_torch(legacy_file(tmp_path / "bad.pt", bad, {"0": data}))


def test_cycles_and_deep_nesting(tmp_path):
    # a list that contains itself loads as one (torch too); a tuple cycle cannot be rebuilt
    loop = b"\x80\x02]q\x00h\x00a."
    out = load_torch(zip_with(good_members(pkl=loop), tmp_path / "loop.pt"))
    assert out[0] is out
    deep = b"\x80\x02" + b"]" * 20000 + b"a" * 19999 + b"."
    with pytest.raises(TorchFormatError, match="RecursionError"):
        load_torch(zip_with(good_members(pkl=deep), tmp_path / "deep.pt"))
    nested: list[Any] = []
    for _ in range(5000):
        nested = [nested]
    with pytest.raises(TypeError, match="nested too deeply"):
        save_torch(nested, tmp_path / "deep_out.pt")
    assert not (tmp_path / "deep_out.pt").exists()
