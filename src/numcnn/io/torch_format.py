"""PyTorch checkpoints (`torch.save` files): read without executing anything, and written.

    sd = numcnn.io.load_torch("resnet18-f37072fd.pth")     # OrderedDict name -> Tensor
    numcnn.io.save_torch(model.state_dict(), "net.pt")     # torch.load(..., weights_only=True)

`numcnn.load` / `numcnn.save` call these for torch files (see `numcnn.io.checkpoint`).

What a `torch.save` file is
---------------------------
The zip format (torch >= 1.6, the default since): a zip archive, every member STORED (not
compressed), all under one top-level folder `<p>/`::

    <p>/data.pkl        the object tree, pickled (protocol 2); each tensor is a call
                        torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)
                        whose `storage` is a persistent id
                        ('storage', torch.FloatStorage, key, location, numel)
    <p>/data/<key>      that storage's raw bytes: numel elements, in the order of `byteorder`
    <p>/byteorder       "little" or "big" (missing in old files: little)
    <p>/version ...     format versions, alignment, a serialization id (not needed to read)

The legacy format (torch < 1.6, and `_use_new_zipfile_serialization=False`; many published
torchvision weights, e.g. vgg16-397923af.pth): five pickles in a row -- the magic number
0x1950a86a20f9469cfc6c, the protocol version 1001, a dict of system information (byte order),
the object tree (persistent ids ('storage', type, key, location, numel, view)), the list of
storage keys -- then, for each key in that list, an 8-byte element count and the raw bytes.

How it is read
--------------
No pickle is ever loaded with arbitrary globals.  Before a single opcode runs, each pickle is
scanned (`pickletools.genops`): every counted length must lie inside the pickle, memo indices
must be small, and only the opcodes that build data are allowed (no INST, OBJ, NEWOBJ, EXT);
every GLOBAL must be on the allow-list.  The pickle is then run by a `pickle.Unpickler` whose
`find_class` returns our own stand-ins for that list and refuses every other global with
`RefusedGlobalError` naming it ("refusing to load global 'posix.system' ..."):

    tensors         torch._utils._rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3,
                    _rebuild_parameter, _rebuild_parameter_with_state
    storage types   torch.FloatStorage ... torch.BoolStorage, torch.cuda.*Storage (read to the
                    CPU), torch.storage.UntypedStorage; dtypes torch.float32 ... torch.uint64
    containers      collections.OrderedDict, collections.Counter, torch.Size (-> tuple),
                    builtins.set/frozenset/complex, _codecs.encode (how protocol 2 writes bytes)

The stand-ins return inert records (which refuse BUILD); only after the whole pickle has run and
every tensor's (offset, size, stride) has been checked against its storage's declared size are
storage bytes read: each zip member must be STORED, inside the file, not overlapping another,
exactly as long as its storage needs, and match its CRC-32; legacy storages must carry the
element counts the pickle declared and end exactly at the end of the file.  So nothing is
allocated that the file's own bytes do not back.  Member names with "..", absolute paths, or
outside the archive's folder, duplicated names, encrypted or compressed members, a data.pkl over
`MAX_PICKLE_BYTES` and a file over `MAX_FILE_BYTES` are refused.  Every problem raises one
`TorchFormatError` (a ValueError) whose message names the file and the problem.

What comes back
---------------
Containers as pickled (dict, OrderedDict with its `_metadata`, list, tuple, ...).  A tensor
becomes a numcnn `Tensor` (`nn.Parameter` for what torch pickled as a Parameter; state dicts
hold plain tensors), `requires_grad` as saved.  Tensors that share a storage are NumPy views of
one buffer, as in torch (writing to one shows in the other); offsets and strides are honoured.
Exceptions, which come back as copies: bfloat16 (NumPy has no bfloat16: converted exactly to
float32), big-endian files (converted to native order), a tensor whose elements overlap in
memory (a stride 0, as `expand` makes), bool storages holding bytes other than 0/1, and the
`neg`/`conj` bits of torch's lazy views.  dtypes: float16/32/64, bfloat16 (-> float32),
int8/16/32/64, uint8/16/32/64, bool, complex64/128.  A storage pickled on its own (not inside a
tensor) becomes a 1-D Tensor of its elements.  Storage locations ("cuda:0") are ignored: all is
read to the CPU.  Quantized, sparse, nested and subclass tensors, and pickled modules
(`torch.save(model)`), are refused.

How it is written
-----------------
`save_torch` writes the zip format as torch 2.x does (members STORED, data 64-byte aligned,
pickle protocol 2, the same globals), so `torch.load(path, weights_only=True)` opens it.  The
pickle is emitted opcode by opcode here (no object is pickled by `pickle`).  Tensors,
Parameters, NumPy arrays and NumPy scalars become torch tensors (NumPy arrays and scalars load
back as Tensors: torch has no ndarray); dict, OrderedDict (and its `_metadata`), Counter, list,
tuple, set, str, bytes, int, float, bool and None are kept.  The same Tensor object twice in
`obj` is written once (torch then loads one tensor in both places).  Atomic, as every write.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import pickletools
import struct
import zipfile
import zlib
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import IO, Any, Callable

import numpy as np

from numcnn._atomic import atomic_write
from numcnn.nn.parameter import Parameter
from numcnn.tensor import Tensor

__all__ = ["MAX_FILE_BYTES", "MAX_PICKLE_BYTES", "RefusedGlobalError", "TorchFormatError",
           "is_torch_file", "load_torch", "save_torch"]

#: A file larger than this is refused (the largest torchvision weights are ~2.6 GB).
MAX_FILE_BYTES = 64 << 30
#: A pickle (the object tree, without storages) larger than this is refused: a state dict's
#: pickle takes ~100 bytes per tensor, so this is ~500,000 tensors.
MAX_PICKLE_BYTES = 64 << 20

_PathLike = str | os.PathLike[str]
_ZIP_MAGIC = b"PK\x03\x04"
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_MAGIC_BYTES = b"\x8a\x0a" + _LEGACY_MAGIC.to_bytes(10, "little")   # LONG1 10 <magic>
_LEGACY_PROTOCOL = 1001
_ALIGN = 64                                         # torch aligns storage data to 64 bytes
_FORCE_ZIP64 = 1 << 31                              # members above this get zip64 headers


class TorchFormatError(ValueError):
    """A file that is not a readable PyTorch checkpoint; the message names the file."""


class RefusedGlobalError(TorchFormatError, pickle.UnpicklingError):
    """A checkpoint's pickle names a global outside the allow-list (e.g. 'posix.system')."""


# ----------------------------------------------------------------------------- dtypes
class _Inert:
    """Base of every object the unpickler can see: BUILD (setting state) is refused."""

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]       # never a dict key or set member

    def __setstate__(self, state: Any) -> None:
        raise pickle.UnpicklingError(f"BUILD on {type(self).__name__} is not allowed")


class _DType(_Inert):
    """A torch dtype: its name, the NumPy dtype of its bytes on disk (little-endian)."""

    __slots__ = ("name", "raw")

    def __init__(self, name: str, raw: str) -> None:
        self.name = name
        self.raw = np.dtype(raw)

    @property
    def itemsize(self) -> int:
        return self.raw.itemsize


_DTYPES: dict[str, _DType] = {name: _DType(name, raw) for name, raw in [
    ("float32", "<f4"), ("float64", "<f8"), ("float16", "<f2"), ("bfloat16", "<u2"),
    ("int8", "i1"), ("int16", "<i2"), ("int32", "<i4"), ("int64", "<i8"),
    ("uint8", "u1"), ("uint16", "<u2"), ("uint32", "<u4"), ("uint64", "<u8"),
    ("bool", "u1"), ("complex64", "<c8"), ("complex128", "<c16")]}

# torch's typed storage classes -> dtype name
_STORAGE_DTYPES = {
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "CharStorage": "int8", "ShortStorage": "int16",
    "IntStorage": "int32", "LongStorage": "int64", "ByteStorage": "uint8",
    "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128", "UntypedStorage": "uint8"}


class _StorageType(_Inert):
    __slots__ = ("name", "dtype")

    def __init__(self, name: str) -> None:
        self.name = name
        self.dtype = _DTYPES[_STORAGE_DTYPES[name]]


# ----------------------------------------------------------------------------- records
class _StorageRef(_Inert):
    """A storage named by a persistent id: `numel` elements of `dtype` under `key`; for a
    legacy storage view, elements [view_offset, view_offset + numel) of the root storage."""

    __slots__ = ("key", "dtype", "numel", "view_offset")

    def __init__(self, key: str, dtype: _DType, numel: int, view_offset: int = 0) -> None:
        self.key, self.dtype, self.numel, self.view_offset = key, dtype, numel, view_offset

    @property
    def nbytes(self) -> int:
        return self.numel * self.dtype.itemsize


class _TensorRecord(_Inert):
    """A tensor to be made once storages are read: (offset, size, stride) in elements."""

    __slots__ = ("storage", "offset", "size", "stride", "dtype", "requires_grad", "parameter",
                 "neg", "conj")

    def __init__(self, storage: _StorageRef, offset: int, size: tuple[int, ...],
                 stride: tuple[int, ...], dtype: _DType, requires_grad: bool,
                 neg: bool = False, conj: bool = False, parameter: bool = False) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride
        self.dtype, self.requires_grad, self.parameter = dtype, requires_grad, parameter
        self.neg, self.conj = neg, conj


class _Builtin(_Inert):
    """A stand-in for an allowed global: calling it runs our function, nothing else."""

    __slots__ = ("qualname", "fn")

    def __init__(self, qualname: str, fn: Callable[..., Any]) -> None:
        self.qualname, self.fn = qualname, fn

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)


def _int(value: Any, what: str, low: int = 0) -> int:
    if type(value) is not int or value < low:
        raise pickle.UnpicklingError(f"{what} must be an int >= {low}, got {value!r:.60}")
    return value


def _shape(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or len(value) > 64:
        raise pickle.UnpicklingError(f"{what} must be a tuple of at most 64 ints, "
                                     f"got {value!r:.60}")
    return tuple(_int(v, what) for v in value)


def _tensor(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any,
            dtype: _DType | None, metadata: Any) -> _TensorRecord:
    """Check a tensor's geometry against its storage (in bytes) and record it."""
    if not isinstance(storage, _StorageRef):
        raise pickle.UnpicklingError(f"a tensor's storage must be a storage, got "
                                     f"{type(storage).__name__}")
    dtype = storage.dtype if dtype is None else dtype
    offset = _int(offset, "a tensor's storage offset")
    size, stride = _shape(size, "a tensor's size"), _shape(stride, "a tensor's stride")
    if len(size) != len(stride):
        raise pickle.UnpicklingError(f"a tensor's size {size} and stride {stride} differ in "
                                     "length")
    if requires_grad not in (True, False):
        raise pickle.UnpicklingError(f"requires_grad must be a bool, got {requires_grad!r:.60}")
    if requires_grad and dtype.raw.kind not in "fc" and dtype.name != "bfloat16":
        raise pickle.UnpicklingError(f"a {dtype.name} tensor cannot require grad")
    if math.prod(size) > 0:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))   # last element's index
        if (last + 1) * dtype.itemsize > storage.nbytes:
            raise pickle.UnpicklingError(
                f"a tensor (offset {offset}, size {size}, stride {stride}, {dtype.name}) reaches "
                f"outside its storage {storage.key!r} of {storage.nbytes} bytes")
    elif any(n >= 1 << 62 for n in size):
        raise pickle.UnpicklingError(f"a tensor's size {size} is absurd")
    neg = conj = False
    if metadata:
        if not isinstance(metadata, dict) or set(metadata) - {"neg", "conj"}:
            raise pickle.UnpicklingError(f"unsupported tensor metadata {metadata!r:.80}")
        neg, conj = metadata.get("neg") is True, metadata.get("conj") is True
    return _TensorRecord(storage, offset, size, stride, dtype, bool(requires_grad), neg, conj)


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any) -> _TensorRecord:
    return _tensor(storage, offset, size, stride, False, None, None)


def _rebuild_tensor_v2(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any,
                       backward_hooks: Any, metadata: Any = None) -> _TensorRecord:
    return _tensor(storage, offset, size, stride, requires_grad, None, metadata)


def _rebuild_tensor_v3(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any,
                       backward_hooks: Any, dtype: Any, metadata: Any = None) -> _TensorRecord:
    if not isinstance(dtype, _DType):
        raise pickle.UnpicklingError(f"a tensor's dtype must be a torch dtype, got "
                                     f"{type(dtype).__name__}")
    return _tensor(storage, offset, size, stride, requires_grad, dtype, metadata)


def _rebuild_parameter(data: Any, requires_grad: Any, backward_hooks: Any,
                       state: Any = None) -> _TensorRecord:
    if not isinstance(data, _TensorRecord) or requires_grad not in (True, False):
        raise pickle.UnpicklingError("a Parameter must wrap a tensor and a bool requires_grad")
    if requires_grad and data.dtype.raw.kind not in "fc" and data.dtype.name != "bfloat16":
        raise pickle.UnpicklingError(f"a {data.dtype.name} Parameter cannot require grad")
    return _TensorRecord(data.storage, data.offset, data.size, data.stride, data.dtype,
                         bool(requires_grad), data.neg, data.conj, parameter=True)


def _ordered_dict(*args: Any) -> OrderedDict[Any, Any]:
    return OrderedDict(*args)


def _counter(*args: Any) -> Counter[Any]:
    if args and not isinstance(args[0], dict):
        raise pickle.UnpicklingError("collections.Counter must be rebuilt from a dict")
    return Counter(*args)


def _size(*args: Any) -> tuple[int, ...]:
    return _shape(args[0] if args else (), "torch.Size")


def _encode(text: Any, encoding: Any = "utf-8") -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is allowed only as (str, 'latin1')")
    return text.encode("latin-1")


def _set(*args: Any) -> set[Any]:
    return set(*args)


def _frozenset(*args: Any) -> frozenset[Any]:
    return frozenset(*args)


def _complex(*args: Any) -> complex:
    if not all(type(a) in (int, float) for a in args) or len(args) > 2:
        raise pickle.UnpicklingError("builtins.complex takes at most two numbers here")
    return complex(*args)


def _globals() -> dict[tuple[str, str], Any]:
    table: dict[tuple[str, str], Any] = {}
    fns: list[tuple[str, str, Callable[..., Any]]] = [
        ("torch._utils", "_rebuild_tensor", _rebuild_tensor),
        ("torch._utils", "_rebuild_tensor_v2", _rebuild_tensor_v2),
        ("torch._utils", "_rebuild_tensor_v3", _rebuild_tensor_v3),
        ("torch._utils", "_rebuild_parameter", _rebuild_parameter),
        ("torch._utils", "_rebuild_parameter_with_state", _rebuild_parameter),
        ("collections", "OrderedDict", _ordered_dict),
        ("collections", "Counter", _counter),
        ("torch", "Size", _size),
        ("_codecs", "encode", _encode),
        ("builtins", "set", _set),
        ("builtins", "frozenset", _frozenset),
        ("builtins", "complex", _complex)]
    for module, name, fn in fns:
        table[module, name] = _Builtin(f"{module}.{name}", fn)
    for name, dtype in _DTYPES.items():
        table["torch", name] = dtype
    for name in _STORAGE_DTYPES:
        module = "torch.storage" if name == "UntypedStorage" else "torch"
        table[module, name] = _StorageType(name)
        if name != "UntypedStorage":
            table["torch.cuda", name] = table[module, name]
    return table


_GLOBALS = _globals()
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}

# opcodes that build plain data; INST, OBJ, NEWOBJ(_EX), EXT1/2/4 and the out-of-band buffer
# opcodes are refused
_ALLOWED_OPCODES = frozenset("""
    PROTO FRAME STOP MARK POP POP_MARK DUP NONE NEWTRUE NEWFALSE
    INT BININT BININT1 BININT2 LONG LONG1 LONG4 FLOAT BINFLOAT
    STRING BINSTRING SHORT_BINSTRING UNICODE BINUNICODE SHORT_BINUNICODE BINUNICODE8
    BINBYTES SHORT_BINBYTES BINBYTES8
    EMPTY_LIST APPEND APPENDS LIST EMPTY_TUPLE TUPLE TUPLE1 TUPLE2 TUPLE3
    EMPTY_DICT DICT SETITEM SETITEMS EMPTY_SET ADDITEMS FROZENSET
    GET BINGET LONG_BINGET PUT BINPUT LONG_BINPUT MEMOIZE
    GLOBAL STACK_GLOBAL REDUCE BUILD PERSID BINPERSID
""".split())
_PUT_OPCODES = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})


# ----------------------------------------------------------------------------- pickles
class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, persistent: Callable[[Any], Any]) -> None:
        super().__init__(io.BytesIO(data), encoding="utf-8")
        self._persistent = persistent

    def find_class(self, module: str, name: str) -> Any:
        found = _GLOBALS.get((_PY2_MODULES.get(module, module), name))
        if found is None:
            raise RefusedGlobalError(_refusal(module, name))
        return found

    def persistent_load(self, pid: Any) -> Any:
        return self._persistent(pid)


def _refusal(module: str, name: str) -> str:
    return (f"refusing to load global '{module}.{name}': a PyTorch checkpoint is read with "
            "only the globals that rebuild tensors, storages, dtypes and containers")


def _scan(data: bytes, start: int = 0) -> int:
    """Check the pickle at data[start:] before running it; return the offset after its STOP.

    Raises pickle.UnpicklingError / RefusedGlobalError."""
    stream = io.BytesIO(data)
    stream.seek(start)
    try:
        for op, arg, _ in pickletools.genops(stream):
            if op.name not in _ALLOWED_OPCODES:
                raise pickle.UnpicklingError(f"the pickle uses opcode {op.name}, which a "
                                             "checkpoint of tensors never needs")
            if op.name == "GLOBAL":
                module, _, name = str(arg).partition(" ")
                if (_PY2_MODULES.get(module, module), name) not in _GLOBALS:
                    raise RefusedGlobalError(_refusal(module, name))
            elif op.name in _PUT_OPCODES and not (isinstance(arg, int) and arg < len(data)):
                raise pickle.UnpicklingError(f"memo index {arg!r:.30} is out of range")
            elif op.name == "STOP":
                return stream.tell()
    except RefusedGlobalError:
        raise
    except ValueError as e:                 # genops: bad opcode, truncated argument
        raise pickle.UnpicklingError(f"malformed pickle: {e}") from None
    raise pickle.UnpicklingError("the pickle has no STOP (truncated)")


def _unpickle(data: bytes, persistent: Callable[[Any], Any]) -> Any:
    """Scan, then run, one pickle that must fill `data` exactly."""
    end = _scan(data)
    if end != len(data):
        raise pickle.UnpicklingError(f"{len(data) - end} bytes follow the pickle's STOP")
    return _Unpickler(data, persistent).load()


def _ascii(value: Any) -> Any:
    return value.decode("ascii") if isinstance(value, bytes) else value


# ----------------------------------------------------------------------------- reading
@dataclass
class _Reader:
    """What one load collects: the storages the pickle declares (key -> bytes they need)."""

    source: str
    legacy: bool
    declared: dict[str, int] = field(default_factory=dict)
    itemsize: dict[str, int] = field(default_factory=dict)     # as the key was first named
    refs: dict[tuple[str, str, int, int], _StorageRef] = field(default_factory=dict)

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not isinstance(pid, tuple) or not pid:
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r:.80}")
        kind = _ascii(pid[0])
        if kind == "module":
            raise pickle.UnpicklingError("the file holds a pickled module (torch.save(model)); "
                                         "save and load model.state_dict() instead")
        if kind != "storage" or len(pid) != (6 if self.legacy else 5):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r:.80}")
        storage_type, key, location, numel = pid[1], _ascii(pid[2]), _ascii(pid[3]), pid[4]
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unexpected storage type {storage_type!r:.60}")
        if not isinstance(key, str) or not isinstance(location, str):
            raise pickle.UnpicklingError(f"unexpected storage key/location {key!r:.40}, "
                                         f"{location!r:.40}")
        if not self.legacy and not key.isdigit():         # a zip member name: digits only
            raise pickle.UnpicklingError(f"storage key {key!r:.40} is not a number")
        dtype = storage_type.dtype
        nbytes = _int(numel, "a storage's size") * dtype.itemsize
        self.itemsize.setdefault(key, dtype.itemsize)
        if self.declared.setdefault(key, nbytes) != nbytes:
            raise pickle.UnpicklingError(f"storage {key!r} is declared as {self.declared[key]} "
                                         f"and as {nbytes} bytes")
        root = _StorageRef(key, dtype, numel)
        view = pid[5] if self.legacy else None
        if view is not None:                             # legacy storage view
            if not (isinstance(view, tuple) and len(view) == 3):
                raise pickle.UnpicklingError(f"unexpected storage view {view!r:.60}")
            offset = _int(view[1], "a storage view's offset")
            size = _int(view[2], "a storage view's size")
            if offset + size > numel:
                raise pickle.UnpicklingError(f"a view of storage {key!r} ([{offset}, "
                                             f"{offset + size}) reaches past its {numel} "
                                             "elements")
            root = _StorageRef(key, dtype, size, offset)
        ident = (key, dtype.name, root.numel, root.view_offset)
        return self.refs.setdefault(ident, root)  # one object per storage: views share it


def _fail(source: str, problem: str) -> TorchFormatError:
    return TorchFormatError(f"{source} is not a readable PyTorch checkpoint: {problem}")


def _run_pickle(reader: _Reader, data: bytes) -> Any:
    try:
        return _unpickle(data, reader.persistent_load)
    except RefusedGlobalError as e:
        raise RefusedGlobalError(f"{reader.source}: {e}") from None
    except Exception as e:        # anything the unpickler or a stand-in raised: one message
        raise _fail(reader.source, f"{type(e).__name__}: {e}") from None


def _materialise(obj: Any, buffers: dict[str, np.ndarray], big_endian: bool) -> Any:
    """Replace every record in `obj` by a Tensor on its storage's buffer (in place for lists
    and dicts; the same record anywhere becomes the same Tensor)."""
    done: dict[int, Any] = {}
    busy: set[int] = set()

    def tensor(rec: _TensorRecord | _StorageRef) -> Tensor:
        if isinstance(rec, _StorageRef):             # a storage on its own: 1-D, all elements
            rec = _TensorRecord(rec, 0, (rec.numel,), (1,), rec.dtype, False)
        st = rec.storage
        buf = buffers[st.key][st.view_offset * st.dtype.itemsize:]
        raw = rec.dtype.raw.newbyteorder(">") if big_endian else rec.dtype.raw
        size = rec.size
        if math.prod(size) == 0:
            arr = np.empty(size, raw)
        else:
            arr = np.ndarray(size, raw, buffer=buf, offset=rec.offset * raw.itemsize,
                             strides=tuple(s * raw.itemsize for s in rec.stride))
            if _overlaps(size, rec.stride):
                arr = arr.copy()
        if big_endian:
            arr = arr.astype(raw.newbyteorder("="))
        if rec.dtype.name == "bfloat16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        elif rec.dtype.name == "bool":
            arr = arr != 0 if arr.size and arr.max() > 1 else arr.view(np.bool_)
        if rec.conj:
            arr = np.conj(arr)
        if rec.neg:
            arr = np.negative(arr)
        if rec.parameter:
            return Parameter(arr, requires_grad=rec.requires_grad)
        return Tensor(arr, requires_grad=rec.requires_grad)

    def walk(value: Any) -> Any:
        key = id(value)
        if key in done:
            return done[key]
        if isinstance(value, (_TensorRecord, _StorageRef)):
            done[key] = tensor(value)
        elif isinstance(value, list):
            done[key] = value
            value[:] = [walk(v) for v in value]
        elif isinstance(value, dict):
            done[key] = value
            for k in list(value):
                value[k] = walk(value[k])
        elif isinstance(value, tuple):
            if key in busy:
                raise ValueError("the object tree has a cycle through a tuple")
            busy.add(key)
            items = tuple(walk(v) for v in value)
            done[key] = value if all(a is b for a, b in zip(items, value)) else items
        else:
            return value
        return done[key]

    return walk(obj)


def _overlaps(size: tuple[int, ...], stride: tuple[int, ...]) -> bool:
    """Whether two different indices reach the same element (e.g. a stride of 0)."""
    extent = 1                              # elements spanned by the dimensions seen so far
    for n, s in sorted(((n, s) for n, s in zip(size, stride) if n > 1), key=lambda p: p[1]):
        if s < extent:
            return True
        extent = s * (n - 1) + extent
    return False


def _file_size(path: _PathLike) -> int:
    size = os.path.getsize(path)
    if size > MAX_FILE_BYTES:
        raise _fail(os.fspath(path), f"{size} bytes is more than MAX_FILE_BYTES "
                                     f"({MAX_FILE_BYTES})")
    return size


def _read_exact(f: IO[bytes], start: int, nbytes: int) -> np.ndarray:
    """Bytes [start, start + nbytes) of `f` into a new writable uint8 array."""
    buf = np.empty(nbytes, np.uint8)
    f.seek(start)
    view, got = buf.data, 0
    while got < nbytes:
        n = f.readinto(view[got:])          # type: ignore[attr-defined]
        if not n:
            raise EOFError(f"the file ends {nbytes - got} bytes early")
        got += n
    return buf


# ---- the zip format
@dataclass(frozen=True)
class _Member:
    start: int        # first byte of the data in the file
    size: int
    crc: int


def _zip_members(f: IO[bytes], source: str, file_size: int) -> tuple[str, dict[str, _Member]]:
    """The archive's folder and its members, every one checked (see the module docstring)."""
    try:
        infos = zipfile.ZipFile(f).infolist()
    except Exception as e:            # zipfile raises BadZipFile, but also struct/EOF errors
        raise _fail(source, f"a damaged or truncated zip archive ({e})") from None
    pkl = [i.filename for i in infos if i.filename.count("/") == 1
           and i.filename.endswith("/data.pkl")]
    if len(pkl) != 1:
        raise _fail(source, f"a zip archive with {len(pkl)} '<folder>/data.pkl' members "
                            "(a torch.save archive has one)")
    prefix = pkl[0][:-len("data.pkl")]
    members: dict[str, _Member] = {}
    spans: list[tuple[int, int, str]] = []
    for info in infos:
        name = info.filename
        parts = name.split("/")
        if (name.startswith("/") or "\\" in name or "\0" in name or ".." in parts
                or not name.startswith(prefix) or ":" in parts[0]):
            raise _fail(source, f"refusing member name {name!r}: outside the archive's folder "
                                f"{prefix!r}")
        if name in members:
            raise _fail(source, f"member {name!r} appears twice")
        if info.flag_bits & 1:
            raise _fail(source, f"member {name!r} is encrypted")
        if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
            raise _fail(source, f"member {name!r} is compressed (torch stores members "
                                "uncompressed; compressed members are refused, as a zip bomb "
                                "could hide in them)")
        f.seek(info.header_offset)
        head = f.read(30)
        if len(head) != 30 or head[:4] != _ZIP_MAGIC:
            raise _fail(source, f"member {name!r} has no local header (damaged archive)")
        name_len, extra_len = struct.unpack("<HH", head[26:30])
        if f.read(name_len) != info.orig_filename.encode("utf-8" if info.flag_bits & 0x800
                                                          else "cp437"):
            raise _fail(source, f"member {name!r}'s local header names another file")
        start = info.header_offset + 30 + name_len + extra_len
        if start + info.file_size > file_size:
            raise _fail(source, f"member {name!r} ({info.file_size} bytes at {start}) reaches "
                                f"past the end of the {file_size}-byte file (truncated?)")
        members[name] = _Member(start, info.file_size, info.CRC)
        spans.append((info.header_offset, start + info.file_size, name))
    spans.sort()
    for (_, end, a), (begin, _, b) in zip(spans, spans[1:]):
        if begin < end:
            raise _fail(source, f"members {a!r} and {b!r} overlap (a zip bomb's trick)")
    return prefix, members


def _read_member(f: IO[bytes], source: str, name: str, member: _Member) -> np.ndarray:
    buf = _read_exact(f, member.start, member.size)
    if zlib.crc32(buf.data) != member.crc:
        raise _fail(source, f"member {name!r} does not match its CRC-32 (damaged file)")
    return buf


def _load_zip(f: IO[bytes], source: str, file_size: int) -> Any:
    prefix, members = _zip_members(f, source, file_size)
    pkl = members[prefix + "data.pkl"]
    if pkl.size > MAX_PICKLE_BYTES:
        raise _fail(source, f"data.pkl has {pkl.size} bytes, more than MAX_PICKLE_BYTES "
                            f"({MAX_PICKLE_BYTES})")
    big_endian = False
    if prefix + "byteorder" in members:
        if members[prefix + "byteorder"].size > 16:
            raise _fail(source, "the byteorder member is longer than 'little'")
        order = _read_member(f, source, "byteorder", members[prefix + "byteorder"]).tobytes()
        if order not in (b"little", b"big"):
            raise _fail(source, f"byteorder is {order[:20]!r}, not 'little' or 'big'")
        big_endian = order == b"big"
    reader = _Reader(source, legacy=False)
    obj = _run_pickle(reader, _read_member(f, source, "data.pkl", pkl).tobytes())
    buffers: dict[str, np.ndarray] = {}
    for key, nbytes in reader.declared.items():        # everything is checked: now read
        name = f"{prefix}data/{key}"
        if name not in members:
            raise _fail(source, f"member {name!r}, which the pickle refers to, is missing")
        if members[name].size != nbytes:
            raise _fail(source, f"member {name!r} has {members[name].size} bytes; its storage "
                                f"needs {nbytes}")
        buffers[key] = _read_member(f, source, name, members[name])
    return _finish(source, obj, buffers, big_endian)


def _finish(source: str, obj: Any, buffers: dict[str, np.ndarray], big_endian: bool) -> Any:
    try:
        return _materialise(obj, buffers, big_endian)
    except (ValueError, RuntimeError, TypeError, RecursionError) as e:
        raise _fail(source, f"{type(e).__name__}: {e}") from None


# ---- the legacy format
def _load_legacy(f: IO[bytes], source: str, file_size: int) -> Any:
    pickles, pos = _legacy_pickles(f, source, file_size)
    reader = _Reader(source, legacy=True)
    header = [_run_pickle(_Reader(source, legacy=True), p) for p in pickles[:3]]
    if header[0] != _LEGACY_MAGIC:
        raise _fail(source, "the legacy magic number is wrong")
    if header[1] != _LEGACY_PROTOCOL:
        raise _fail(source, f"legacy protocol version {header[1]!r:.20} is not {_LEGACY_PROTOCOL}")
    info = header[2] if isinstance(header[2], dict) else {}
    big_endian = info.get("little_endian", True) is False
    obj = _run_pickle(reader, pickles[3])
    keys = _run_pickle(_Reader(source, legacy=True), pickles[4])
    keys = [_ascii(k) for k in keys] if isinstance(keys, list) else [None]
    if not all(isinstance(k, str) for k in keys) or len(set(keys)) != len(keys):
        raise _fail(source, "the list of storage keys is not a list of distinct strings")
    if set(keys) != set(reader.declared):
        missing = sorted(set(reader.declared) - set(keys)) or sorted(set(keys) -
                                                                       set(reader.declared))
        raise _fail(source, f"the pickle's storages and the file's list of storages differ "
                            f"(e.g. {missing[0]!r})")
    order = ">" if big_endian else "<"
    spans: dict[str, tuple[int, int]] = {}
    for key in keys:                                  # check every count before reading any
        f.seek(pos)
        raw = f.read(8)
        if len(raw) != 8:
            raise _fail(source, f"the file ends before storage {key!r} (truncated)")
        count = struct.unpack(order + "q", raw)[0]
        nbytes = reader.declared[key]
        if count < 0 or nbytes != count * reader.itemsize[key]:
            raise _fail(source, f"storage {key!r} holds {count} elements; the pickle declares "
                                f"{nbytes} bytes")
        spans[key] = (pos + 8, nbytes)
        pos += 8 + nbytes
        if pos > file_size:
            raise _fail(source, f"storage {key!r} reaches past the end of the file (truncated)")
    if pos != file_size:
        raise _fail(source, f"{file_size - pos} unexpected bytes after the last storage")
    buffers = {key: _read_exact(f, start, nbytes) for key, (start, nbytes) in spans.items()}
    return _finish(source, obj, buffers, big_endian)


def _legacy_pickles(f: IO[bytes], source: str, file_size: int) -> tuple[list[bytes], int]:
    """The five pickles at the start of a legacy file, and the offset after them.  The head of
    the file is read 1 MiB first, then 8x more while the pickles run past it (up to
    MAX_PICKLE_BYTES), so a 500 MB file costs one small read."""
    limit = min(file_size, MAX_PICKLE_BYTES)
    want = min(limit, 1 << 20)
    while True:
        f.seek(0)
        head = f.read(want)
        pickles: list[bytes] = []
        pos = 0
        try:
            for _ in range(5):
                end = _scan(head, pos)
                pickles.append(head[pos:end])
                pos = end
            return pickles, pos
        except RefusedGlobalError as e:
            raise RefusedGlobalError(f"{source}: {e}") from None
        except pickle.UnpicklingError as e:
            if want < limit:
                want = min(limit, want * 8)
                continue
            more = "" if limit == file_size else f" (or its pickles exceed {MAX_PICKLE_BYTES} B)"
            raise _fail(source, f"a damaged or truncated legacy checkpoint{more}: {e}") from None


# ---- entry points
def _kind(head: bytes) -> str | None:
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        rest = head[2:]
        if rest[:1] == b"\x95":                          # protocol 4+: a FRAME first
            rest = rest[9:]
        if rest.startswith(_LEGACY_MAGIC_BYTES):
            return "legacy"
    return None


def is_torch_file(path: _PathLike) -> bool:
    """Whether the file at `path` looks like a `torch.save` file (by content: the zip magic,
    or the legacy format's magic number), whatever its name."""
    with open(path, "rb") as f:
        return _kind(f.read(32)) is not None


def load_torch(path: _PathLike) -> Any:
    """Read a `torch.save` file (zip or legacy format) without executing anything.

    Returns:
        The saved object: containers as pickled, tensors as numcnn Tensors (Parameters where
        torch pickled Parameters); see the module docstring for dtypes, views and sharing.

    Raises:
        TorchFormatError (a ValueError): naming the file, for anything that is not a sound
            checkpoint; RefusedGlobalError (also a pickle.UnpicklingError) for a global outside
            the allow-list.
        FileNotFoundError: if there is no file at `path`.
    """
    source = os.fspath(path)
    file_size = _file_size(path)
    with open(path, "rb") as f:
        kind = _kind(f.read(32))
        f.seek(0)
        if kind == "zip":
            return _load_zip(f, source, file_size)
        if kind == "legacy":
            return _load_legacy(f, source, file_size)
    raise _fail(source, "neither a zip archive nor a legacy torch.save file (bad magic)")


# ----------------------------------------------------------------------------- writing
_NP_STORAGES = {  # numpy dtype -> (storage class, dtype name); v3 for those without one
    np.dtype(np.float32): "FloatStorage", np.dtype(np.float64): "DoubleStorage",
    np.dtype(np.float16): "HalfStorage", np.dtype(np.int8): "CharStorage",
    np.dtype(np.int16): "ShortStorage", np.dtype(np.int32): "IntStorage",
    np.dtype(np.int64): "LongStorage", np.dtype(np.uint8): "ByteStorage",
    np.dtype(np.bool_): "BoolStorage", np.dtype(np.complex64): "ComplexFloatStorage",
    np.dtype(np.complex128): "ComplexDoubleStorage"}
_NP_V3 = {np.dtype(np.uint16): "uint16", np.dtype(np.uint32): "uint32",
          np.dtype(np.uint64): "uint64"}


class _PickleWriter:
    """Emits a protocol-2 pickle of `obj` as torch.save writes one; arrays go to `storages`."""

    def __init__(self) -> None:
        self.out = io.BytesIO()
        self.storages: list[np.ndarray] = []
        self.memo: dict[int, int] = {}          # id(Tensor) -> memo index of its rebuilt form
        self.keep: list[Any] = []               # keeps memoised objects alive
        self.busy: set[int] = set()

    def w(self, data: bytes) -> None:
        self.out.write(data)

    def dump(self, obj: Any) -> bytes:
        self.w(b"\x80\x02")                     # PROTO 2
        self.save(obj, "obj")
        self.w(b".")                            # STOP
        return self.out.getvalue()

    # -- scalars
    def global_(self, module: str, name: str) -> None:
        self.w(b"c" + module.encode() + b"\n" + name.encode() + b"\n")

    def int_(self, value: int) -> None:
        if 0 <= value < 256:
            self.w(b"K" + bytes([value]))
        elif 0 <= value < 65536:
            self.w(b"M" + struct.pack("<H", value))
        elif -(1 << 31) <= value < (1 << 31):
            self.w(b"J" + struct.pack("<i", value))
        else:                                   # LONG1/LONG4: two's complement, little-endian
            data = value.to_bytes(value.bit_length() // 8 + 1, "little", signed=True)
            self.w((b"\x8a" + bytes([len(data)])) if len(data) < 256 else
                   (b"\x8b" + struct.pack("<I", len(data))))
            self.w(data)

    def str_(self, value: str) -> None:
        data = value.encode("utf-8", "surrogatepass")
        self.w(b"X" + struct.pack("<I", len(data)) + data)

    def tuple_(self, items: list[Any] | tuple[Any, ...], where: str) -> None:
        if not items:
            self.w(b")")
            return
        if len(items) > 3:
            self.w(b"(")
        for i, item in enumerate(items):
            self.save(item, f"{where}[{i}]")
        self.w(b"t" if len(items) > 3 else b"\x85\x86\x87"[len(items) - 1:len(items)])

    def reduce(self, module: str, name: str, args: list[Any], where: str) -> None:
        self.global_(module, name)
        self.tuple_(args, where)
        self.w(b"R")

    # -- tensors
    def tensor(self, value: Any, where: str) -> None:
        key = id(value)
        if key in self.memo:
            self.w(b"h" + bytes([self.memo[key]]) if self.memo[key] < 256 else
                   b"j" + struct.pack("<I", self.memo[key]))
            return
        if isinstance(value, Tensor):
            arr, requires_grad = value.array, value.requires_grad
        else:
            arr, requires_grad = np.asarray(value), False
        dtype = arr.dtype.newbyteorder("=")
        if dtype not in _NP_STORAGES and dtype not in _NP_V3:
            raise TypeError(f"cannot save the array at {where}: dtype {arr.dtype} has no "
                            "PyTorch equivalent")
        data = arr.astype(dtype.newbyteorder("<"), order="C", copy=False)
        storage_key = str(len(self.storages))
        self.storages.append(data)
        size = list(arr.shape)
        stride = _contiguous_strides(size)                    # `data` is C-contiguous
        parameter = isinstance(value, Parameter)
        if parameter:
            self.global_("torch._utils", "_rebuild_parameter")
            self.w(b"(")
        v3 = dtype in _NP_V3
        self.global_("torch._utils", "_rebuild_tensor_v3" if v3 else "_rebuild_tensor_v2")
        self.w(b"(")                                            # the arguments
        self.w(b"(")                                            # the persistent id
        self.str_("storage")
        if v3:
            self.global_("torch.storage", "UntypedStorage")
        else:
            self.global_("torch", _NP_STORAGES[dtype])
        self.str_(storage_key)
        self.str_("cpu")
        self.int_(data.nbytes if v3 else data.size)
        self.w(b"tQ")                                           # TUPLE, BINPERSID
        self.int_(0)
        self.tuple_(size, where)
        self.tuple_(stride, where)
        self.w(b"\x88" if requires_grad and not parameter else b"\x89")
        self.reduce("collections", "OrderedDict", [], where)   # backward hooks: none
        if v3:
            self.global_("torch", _NP_V3[dtype])
        self.w(b"tR")
        if parameter:
            self.w(b"\x88" if requires_grad else b"\x89")
            self.reduce("collections", "OrderedDict", [], where)
            self.w(b"tR")
        index = len(self.memo)
        self.memo[key] = index
        self.keep.append(value)
        self.w(b"q" + bytes([index]) if index < 256 else b"r" + struct.pack("<I", index))

    # -- everything
    def save(self, value: Any, where: str) -> None:
        if value is None:
            self.w(b"N")
        elif value is True or value is False:
            self.w(b"\x88" if value else b"\x89")
        elif isinstance(value, (Tensor, np.ndarray, np.generic)):
            if isinstance(value, np.ndarray) and type(value) is not np.ndarray:
                raise TypeError(f"cannot save {type(value).__name__} at {where} "
                                "(only plain np.ndarray)")
            self.tensor(value, where)
        elif type(value) is int:
            self.int_(value)
        elif type(value) is float:
            self.w(b"G" + struct.pack(">d", value))
        elif type(value) is str:
            self.str_(value)
        elif type(value) is bytes:
            self.reduce("_codecs", "encode", [value.decode("latin-1"), "latin1"], where)
        elif type(value) in (list, tuple, dict, OrderedDict, Counter, set, frozenset):
            if id(value) in self.busy:
                raise TypeError(f"cannot save {where}: it contains itself")
            self.busy.add(id(value))
            self.container(value, where)
            self.busy.discard(id(value))
        else:
            raise TypeError(f"cannot save {type(value).__name__} at {where}: a PyTorch "
                            "checkpoint takes Tensors, arrays, dicts, OrderedDicts, Counters, "
                            "lists, tuples, sets, str, bytes, int, float, bool and None")

    def container(self, value: Any, where: str) -> None:
        if type(value) is tuple:
            self.tuple_(value, where)
            return
        if type(value) in (set, frozenset):
            self.global_("builtins", type(value).__name__)
            self.w(b"]")                              # set([items])
            self._items(list(value), where, b"e")
            self.w(b"\x85R")                          # TUPLE1, REDUCE
            return
        if type(value) is list:
            self.w(b"]")
            self._items(value, where, b"e")
            return
        if type(value) is Counter:
            self.global_("collections", "Counter")
            self.w(b"}")                              # Counter({key: count})
            self._items(list(value.items()), where, b"u")
            self.w(b"\x85R")
            return
        if type(value) is OrderedDict:
            self.reduce("collections", "OrderedDict", [], where)
        else:
            self.w(b"}")
        self._items(list(value.items()), where, b"u")
        metadata = getattr(value, "_metadata", None)
        if type(value) is OrderedDict and metadata is not None:
            self.w(b"}")
            self._items([("_metadata", metadata)], where, b"u")
            self.w(b"b")                              # BUILD: the state dict's _metadata

    def _items(self, items: list[Any], where: str, op: bytes) -> None:
        """APPENDS (op e) or SETITEMS (op u) in batches of 1000, as pickle writes them."""
        for begin in range(0, len(items), 1000):
            self.w(b"(")
            for item in items[begin:begin + 1000]:
                if op == b"u":
                    self.save(item[0], f"{where} key")
                    self.save(item[1], f"{where}[{item[0]!r}]")
                else:
                    self.save(item, f"{where}[...]")
            self.w(op)


def _contiguous_strides(size: list[int]) -> list[int]:
    strides, step = [], 1
    for n in reversed(size):
        strides.append(step)
        step *= max(n, 1)
    return strides[::-1]


def _member_info(name: str, offset: int, size: int) -> zipfile.ZipInfo:
    """A STORED member whose data starts 64-byte aligned (padding in a local extra field)."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.file_size = size
    zip64 = 20 if size > _FORCE_ZIP64 else 0                # the zip64 sizes in the header
    base = offset + 30 + len(name.encode()) + zip64 + 4
    pad = -base % _ALIGN
    info.extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad     # id "FB", as torch's
    return info


def save_torch(obj: Any, path: _PathLike) -> None:
    """Write `obj` as torch.save would (zip format), atomically.

    `torch.load(path, weights_only=True)` opens the file.

    Args:
        obj: a state dict, or nested dicts/lists/tuples of Tensors, arrays and numbers (see the
            module docstring for every type accepted).
        path: the file to write (replaced atomically; never left half-written).

    Raises:
        TypeError: for a value torch's format cannot hold (named by its path in `obj`).
    """
    writer = _PickleWriter()
    try:
        data_pkl = writer.dump(obj)
    except RecursionError:
        raise TypeError("cannot save obj: it is nested too deeply") from None
    prefix = "archive/"
    records: list[tuple[str, Any]] = [
        (prefix + "data.pkl", data_pkl), (prefix + ".format_version", b"1"),
        (prefix + ".storage_alignment", str(_ALIGN).encode()), (prefix + "byteorder", b"little")]
    records += [(f"{prefix}data/{i}", arr) for i, arr in enumerate(writer.storages)]
    records.append((prefix + "version", b"3\n"))
    with atomic_write(path) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
        for name, payload in records:
            data = memoryview(payload if isinstance(payload, bytes)
                              else payload.reshape(-1).view(np.uint8))
            info = _member_info(name, f.tell(), data.nbytes)
            with zf.open(info, "w", force_zip64=data.nbytes > _FORCE_ZIP64) as member:
                for begin in range(0, data.nbytes, 1 << 26):
                    member.write(data[begin:begin + (1 << 26)])
