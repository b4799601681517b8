"""Reading ONNX files safely: `read_model(source)` refuses a malformed or hostile model with one
clear `OnnxFileError` before any tensor is allocated from it.

An ONNX model is a protobuf `ModelProto`; its weights are `TensorProto`s (graph initialisers,
the `value` of Constant nodes, the tensors of subgraphs and functions, sparse initialisers)
whose bytes sit either inside the protobuf (`raw_data` or a typed field such as `float_data`)
or in a side file named by `external_data` ("location", "offset", "length"), as the ONNX spec
(onnx.proto, docs/ExternalData.md) lays out.  A tensor's header (`dims`, `data_type`) says how
big it is; nothing forces a file to tell the truth, so a 12-byte tensor may claim 10^12
elements, and an external "location" may point at ../../etc/passwd.

What is checked, in this order, before anything is built from the file:

1. the file's size (a stat, before reading it) is at most `max_bytes` (default protobuf's
   2 GiB limit), and it is a regular file;
2. it parses as a ModelProto that has a graph (a truncated or corrupt file does not);
3. every TensorProto anywhere in the model has a known `data_type`, non-negative `dims`, an
   element count n = prod(dims) <= MAX_ELEMENTS, and stores exactly the bytes n elements need:
   len(raw_data) = ceil(n * bits / 8), or the typed field holds the entries the spec gives
   (e.g. n floats in float_data, 2n for COMPLEX64, ceil(n / 2) int32 entries for INT4);
4. external data: the location is a relative path that stays inside the model's folder once
   ".." and symlinks are resolved (os.path.realpath), names an existing regular file, and
   0 <= offset, offset + length <= the file's size, length = the tensor's byte count; the
   bytes read from one file never exceed its size (so overlapping claims cannot multiply one
   file in memory).  Only then is each region read, bounded, into the tensor's raw_data;
5. with check=True, `onnx.checker.check_model` accepts the result (given the bytes that were
   read when no external data changed the model, so nothing is serialised twice).

So every allocation is bounded by bytes that are really on disk: the protobuf parse by
`max_bytes`, each tensor by its own stored data.  A ModelProto given directly goes through
steps 2-5 the same way (its external data is refused: it has no folder to be relative to).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Iterator, Union

from numcnn.onnx.errors import OnnxFileError, require_onnx

if TYPE_CHECKING:
    import onnx

__all__ = ["read_model", "MAX_PROTOBUF_BYTES", "MAX_ELEMENTS"]

# protobuf cannot serialise a message of 2 GiB or more (onnx.checker.MAXIMUM_PROTOBUF)
MAX_PROTOBUF_BYTES = 2**31 - 1
# the most elements one tensor may claim (16 GiB of float32): far above any CNN's largest
# weight, far below what would overflow a byte count or an ndarray's size
MAX_ELEMENTS = 2**32

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, "onnx.ModelProto"]

_BYTES_LABEL = "<bytes>"
_PROTO_LABEL = "<ModelProto>"
_EXTERNAL = 1                                  # TensorProto.DataLocation.EXTERNAL
_EXTERNAL_KEYS = ("location", "offset", "length", "checksum", "basepath")


@dataclass(frozen=True)
class _Storage:
    """How a data_type is stored: `bits` per element in raw_data (packed, little-endian), and
    the typed field holding ceil(n * num / den) entries instead (onnx.proto's TensorProto)."""
    bits: int
    field: str
    num: int = 1
    den: int = 1

    def raw_bytes(self, n: int) -> int:
        return -(-n * self.bits // 8)

    def entries(self, n: int) -> int:
        return -(-n * self.num // self.den)


_INT32 = "int32_data"
# data_type name -> storage, per onnx.proto (TensorProto.DataType and the typed fields' notes)
_STORAGE = {
    "FLOAT": _Storage(32, "float_data"),
    "DOUBLE": _Storage(64, "double_data"),
    "COMPLEX64": _Storage(64, "float_data", num=2),        # (re, im) pairs
    "COMPLEX128": _Storage(128, "double_data", num=2),
    "INT64": _Storage(64, "int64_data"),
    "UINT32": _Storage(32, "uint64_data"),
    "UINT64": _Storage(64, "uint64_data"),
    "INT32": _Storage(32, _INT32),
    "INT16": _Storage(16, _INT32), "UINT16": _Storage(16, _INT32),
    "FLOAT16": _Storage(16, _INT32), "BFLOAT16": _Storage(16, _INT32),
    "INT8": _Storage(8, _INT32), "UINT8": _Storage(8, _INT32), "BOOL": _Storage(8, _INT32),
    "FLOAT8E4M3FN": _Storage(8, _INT32), "FLOAT8E4M3FNUZ": _Storage(8, _INT32),
    "FLOAT8E5M2": _Storage(8, _INT32), "FLOAT8E5M2FNUZ": _Storage(8, _INT32),
    "FLOAT8E8M0": _Storage(8, _INT32),
    "FLOAT6E2M3": _Storage(6, _INT32), "FLOAT6E3M2": _Storage(6, _INT32),
    "INT4": _Storage(4, _INT32, den=2), "UINT4": _Storage(4, _INT32, den=2),  # 2 per entry
    "FLOAT4E2M1": _Storage(4, _INT32, den=2),
    "INT2": _Storage(2, _INT32, den=4), "UINT2": _Storage(2, _INT32, den=4),
    "STRING": _Storage(0, "string_data"),                   # no raw_data form
}
_TYPED_FIELDS = ("float_data", "double_data", "int32_data", "int64_data", "uint64_data",
                 "string_data")


def read_model(source: Source, *, check: bool = True,
               max_bytes: int = MAX_PROTOBUF_BYTES) -> onnx.ModelProto:
    """Read an ONNX model, refusing a malformed or hostile one before allocating from it.

    Args:
        source: a path (str or os.PathLike) to a .onnx file, the serialised bytes of one, or
            an `onnx.ModelProto` (validated the same way; not modified).
        check: also run `onnx.checker.check_model` on the result.
        max_bytes: the largest protobuf accepted, in bytes (default 2**31 - 1, protobuf's
            limit); a file is stat-ed and refused before it is read.

    Returns:
        The `onnx.ModelProto`, every external tensor's bytes read into its raw_data.

    Raises:
        OnnxFileError: one line naming the file and what is wrong with it (see the module
            docstring for every check).
        TypeError: `source` or `max_bytes` of the wrong type.
        ValueError: `max_bytes` < 1.
        ImportError: the onnx package is missing (pip install 'numcnn[onnx]').
    """
    onnx = require_onnx()
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int):
        raise TypeError(f"max_bytes must be an int, got {type(max_bytes).__name__}")
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be a positive number of bytes, got {max_bytes}")
    folder: str | None = None
    # the serialised model, kept for onnx.checker (which would otherwise serialise it again)
    data: bytes
    if isinstance(source, onnx.ModelProto):
        label, model = _PROTO_LABEL, source
        data = _serialise(source, label)
        _check_size(len(data), max_bytes, label)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        label = _BYTES_LABEL
        _check_size(len(source), max_bytes, label)
        data = bytes(source)
        model = _parse(data, label)
    elif isinstance(source, (str, os.PathLike)):
        label = os.fspath(source)
        data = _read_file(label, max_bytes)
        model = _parse(data, label)
        folder = os.path.realpath(os.path.dirname(os.path.abspath(label)))
    else:
        raise TypeError("source must be a path (str or os.PathLike), bytes or an "
                        f"onnx.ModelProto, got {type(source).__name__}")
    _check_structure(model, label)
    external = []
    for where, tensor in _tensors(model, label):
        if _check_tensor(tensor, where, label):
            external.append((where, tensor))
    if external:
        if folder is None:
            raise OnnxFileError(f"{label}: {external[0][0]} keeps its data in an external "
                                "file, which needs a model read from a path (its folder)")
        _load_external(external, folder, label)
        data = b""                             # the model changed: the checker serialises it
    if check:
        _run_checker(onnx, data or model, label)
    return model


# ---------------------------------------------------------------- the file and the protobuf

def _check_size(size: int, max_bytes: int, label: str) -> None:
    if size > max_bytes:
        raise OnnxFileError(f"{label}: {size} bytes is more than max_bytes={max_bytes}")


def _read_file(path: str, max_bytes: int) -> bytes:
    """The bytes of the regular file `path`, its size checked (stat) before it is opened (so a
    FIFO or a device is refused, not waited on) and read."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise OnnxFileError(f"{path}: not a regular file")
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            _check_size(size, max_bytes, path)
            # read(n) allocates n bytes up front: ask for the stat-ed size (+1 to see growth)
            data = f.read(size + 1)
    except OSError as e:
        raise OnnxFileError(f"{path}: cannot read the file ({e.strerror or e})") from None
    if len(data) != size:
        raise OnnxFileError(f"{path}: the file changed while it was read")
    return data


def _serialise(model: onnx.ModelProto, label: str) -> bytes:
    """model.SerializeToString() (the size check and the checker's input at once; protobuf's
    ByteSize costs the same encoding); one that protobuf cannot encode (2 GiB or more) is
    refused."""
    from google.protobuf.message import EncodeError  # protobuf comes with onnx

    try:
        return model.SerializeToString()
    except (EncodeError, ValueError) as e:
        raise OnnxFileError(f"{label}: protobuf cannot serialise this model (2 GiB or more, "
                            f"or invalid: {str(e).splitlines()[0] if str(e) else type(e).__name__})"
                            ) from None


def _parse(data: bytes, label: str) -> onnx.ModelProto:
    """ModelProto.ParseFromString, its errors (truncated, corrupt) as OnnxFileError."""
    onnx = require_onnx()
    from google.protobuf.message import DecodeError  # protobuf comes with onnx

    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise OnnxFileError(f"{label}: not a valid ONNX protobuf, truncated or corrupt "
                            f"({first})") from None
    return model


def _check_structure(model: onnx.ModelProto, label: str) -> None:
    """A parse of random or truncated bytes often 'succeeds' with no graph or no version."""
    if not model.HasField("graph"):
        raise OnnxFileError(f"{label}: not an ONNX model (no graph): truncated or not a "
                            ".onnx file")
    if model.ir_version <= 0:
        raise OnnxFileError(f"{label}: not an ONNX model (no ir_version)")


# ---------------------------------------------------------------- every tensor of the model

def _tensors(model: onnx.ModelProto, label: str) -> Iterator[tuple[str, onnx.TensorProto]]:
    """(where, TensorProto) for every tensor of the model: the graph's, its subgraphs', the
    functions' and training graphs', sparse tensors' values and indices (their dims checked
    on the way).  Iterative, so a deeply nested file cannot exhaust Python's stack."""
    graphs = [("graph", model.graph)]
    graphs += [(f"training_info[{i}].initialization", t.initialization)
               for i, t in enumerate(model.training_info) if t.HasField("initialization")]
    graphs += [(f"training_info[{i}].algorithm", t.algorithm)
               for i, t in enumerate(model.training_info) if t.HasField("algorithm")]
    attributes = []
    for f in model.functions:
        attributes += [(f"function {f.name!r} node {n.name or n.op_type!r}", n.attribute)
                       for n in f.node]
        attributes.append((f"function {f.name!r}", f.attribute_proto))
    while graphs or attributes:
        if graphs:
            where, g = graphs.pop()
            for t in g.initializer:
                yield f"{where} initializer {t.name!r}", t
            for s in g.sparse_initializer:
                yield from _sparse(f"{where} sparse initializer {s.values.name!r}", s, label)
            attributes += [(f"{where} node {n.name or n.op_type!r}", n.attribute)
                           for n in g.node]
            continue
        where, attrs = attributes.pop()
        for a in attrs:
            at = f"{where} attribute {a.name!r}"
            if a.HasField("t"):
                yield at, a.t
            yield from ((f"{at}[{i}]", t) for i, t in enumerate(a.tensors))
            if a.HasField("sparse_tensor"):
                yield from _sparse(at, a.sparse_tensor, label)
            for i, s in enumerate(a.sparse_tensors):
                yield from _sparse(f"{at}[{i}]", s, label)
            if a.HasField("g"):
                graphs.append((f"{at} subgraph", a.g))
            graphs += [(f"{at} subgraph[{i}]", g) for i, g in enumerate(a.graphs)]


def _sparse(where: str, s: onnx.SparseTensorProto,
            label: str) -> Iterator[tuple[str, onnx.TensorProto]]:
    """A sparse tensor (onnx.proto): dense shape `dims`, `values` of shape [NNZ] and int64
    `indices` of shape [NNZ] (linear) or [NNZ, rank]."""
    count = _element_count(s.dims, where, f"{label}: ")
    nnz = list(s.values.dims)
    if len(nnz) != 1 or nnz[0] > count:
        raise OnnxFileError(f"{label}: {where}: values must be 1-D with at most prod(dims)={count} "
                           f"entries, got dims {nnz}")
    if list(s.indices.dims) not in ([nnz[0]], [nnz[0], len(s.dims)]):
        raise OnnxFileError(f"{label}: {where}: indices must have dims [{nnz[0]}] or "
                           f"[{nnz[0]}, {len(s.dims)}], got {list(s.indices.dims)}")
    yield f"{where} values", s.values
    yield f"{where} indices", s.indices


def _element_count(dims: object, where: str, label: str) -> int:
    count = 1
    for d in dims:                                           # type: ignore[attr-defined]
        if d < 0:
            raise OnnxFileError(f"{label}{where}: negative dimension in dims "
                                f"{_short(dims)}")
        count *= d
        if count > MAX_ELEMENTS:
            raise OnnxFileError(f"{label}{where}: dims {_short(dims)} claim more than "
                                f"{MAX_ELEMENTS} elements")
    return count


def _short(dims: object) -> str:
    values = list(dims)                                      # type: ignore[call-overload]
    return str(values) if len(values) <= 8 else f"[{', '.join(map(str, values[:8]))}, ...]"


def _check_tensor(t: onnx.TensorProto, where: str, label: str) -> bool:
    """Check one tensor's header against the data it stores; True when that data is
    external (to be checked against its file and read by _load_external)."""
    onnx = require_onnx()
    prefix = f"{label}: "
    try:
        type_name = onnx.TensorProto.DataType.Name(t.data_type)
    except ValueError:
        type_name = ""
    storage = _STORAGE.get(type_name)
    if storage is None:
        raise OnnxFileError(f"{prefix}{where}: unknown or unsupported data_type "
                            f"{t.data_type}{f' ({type_name})' if type_name else ''}")
    if t.HasField("segment"):
        raise OnnxFileError(f"{prefix}{where}: segmented tensors are not supported")
    count = _element_count(t.dims, where, prefix)
    stored = [f for f in _TYPED_FIELDS if len(getattr(t, f))]
    if t.HasField("raw_data"):
        stored.append("raw_data")
    if t.data_location == _EXTERNAL:
        if stored:
            raise OnnxFileError(f"{prefix}{where}: external tensor also stores {stored[0]}")
        return True
    if len(t.external_data):
        raise OnnxFileError(f"{prefix}{where}: external_data given but data_location is "
                            "not EXTERNAL")
    if len(stored) > 1:
        raise OnnxFileError(f"{prefix}{where}: data stored twice ({' and '.join(stored)})")
    if not stored:
        if count:
            raise OnnxFileError(f"{prefix}{where}: dims {_short(t.dims)} claim {count} "
                                f"elements of {type_name} but the tensor stores no data")
        return False
    field = stored[0]
    if field == "raw_data":
        want, have, unit = storage.raw_bytes(count), len(t.raw_data), "bytes"
        if type_name == "STRING":
            raise OnnxFileError(f"{prefix}{where}: a STRING tensor cannot use raw_data")
    elif field == storage.field:
        want, have, unit = storage.entries(count), len(getattr(t, field)), "entries"
    else:
        raise OnnxFileError(f"{prefix}{where}: a {type_name} tensor stores its data in "
                            f"{field}, expected raw_data or {storage.field}")
    if want != have:
        raise OnnxFileError(f"{prefix}{where}: dims {_short(t.dims)} claim {count} elements "
                            f"of {type_name} ({want} {unit} of {field}) but it stores {have}")
    return False


# ---------------------------------------------------------------- external data

@dataclass
class _Region:
    """One external tensor's bytes: [offset, offset + length) of the file at `path`."""
    where: str
    tensor: onnx.TensorProto
    path: str
    offset: int
    length: int


def _load_external(external: list[tuple[str, onnx.TensorProto]], folder: str,
                   label: str) -> None:
    """Check every external tensor against its file, then read each region into raw_data."""
    regions = [_region(where, t, folder, label) for where, t in external]
    used: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for r in regions:                          # every check before the first read
        size = sizes.setdefault(r.path, _file_size(r.path, r.where, label))
        if r.offset > size or r.length > size - r.offset:
            raise OnnxFileError(f"{label}: {r.where}: external data [{r.offset}, "
                                f"{r.offset + r.length}) runs past the end of "
                                f"{os.path.basename(r.path)} ({size} bytes)")
        used[r.path] = used.get(r.path, 0) + r.length
        if used[r.path] > size:
            raise OnnxFileError(f"{label}: {r.where}: the external tensors claim more bytes "
                                f"of {os.path.basename(r.path)} than its {size}")
    files: dict[str, IO[bytes]] = {}
    try:
        for r in regions:
            if r.path not in files:
                files[r.path] = open(r.path, "rb")   # noqa: SIM115 -- closed below
            f = files[r.path]
            f.seek(r.offset)
            data = f.read(r.length)
            if len(data) != r.length:
                raise OnnxFileError(f"{label}: {r.where}: external file "
                                    f"{os.path.basename(r.path)} changed while reading")
            r.tensor.raw_data = data
            r.tensor.data_location = r.tensor.DEFAULT   # the bytes are now in raw_data
            del r.tensor.external_data[:]
    except OSError as e:
        raise OnnxFileError(f"{label}: cannot read external data ({e.strerror or e})") from None
    finally:
        for f in files.values():
            f.close()


def _region(where: str, t: onnx.TensorProto, folder: str, label: str) -> _Region:
    """Parse and check one tensor's external_data entries (onnx's ExternalData.md)."""
    onnx = require_onnx()
    info: dict[str, str] = {}
    for entry in t.external_data:
        if entry.key not in _EXTERNAL_KEYS:
            raise OnnxFileError(f"{label}: {where}: unknown external_data key "
                                f"{entry.key[:40]!r}; allowed: {', '.join(_EXTERNAL_KEYS)}")
        info[entry.key] = entry.value
    location = info.get("location", "")
    path = _inside(location, folder, where, label)
    offset = _external_int(info, "offset", 0, where, label)
    count = _element_count(t.dims, where, f"{label}: ")
    want = _STORAGE[onnx.TensorProto.DataType.Name(t.data_type)].raw_bytes(count)
    length = _external_int(info, "length", want, where, label)
    if length != want:
        raise OnnxFileError(f"{label}: {where}: external data length {length} disagrees with "
                            f"dims {_short(t.dims)} ({want} bytes)")
    return _Region(where, t, path, offset, length)


def _external_int(info: dict[str, str], key: str, default: int, where: str,
                  label: str) -> int:
    if key not in info:
        return default
    text = info[key].strip()
    if not text.isdigit() or len(text) > 20:
        raise OnnxFileError(f"{label}: {where}: external data {key} must be a non-negative "
                            f"integer, got {info[key][:40]!r}")
    return int(text)


def _inside(location: str, folder: str, where: str, label: str) -> str:
    """The real path of `location`, which must be relative and stay inside `folder`."""
    if not location or "\0" in location:
        raise OnnxFileError(f"{label}: {where}: external data has no valid location")
    if os.path.isabs(location) or os.path.splitdrive(location)[0]:
        raise OnnxFileError(f"{label}: {where}: external data location {location!r} is an "
                            "absolute path; only paths relative to the model's folder are read")
    path = os.path.realpath(os.path.join(folder, location))
    if os.path.commonpath([folder, path]) != folder:
        raise OnnxFileError(f"{label}: {where}: external data location {location!r} leaves "
                            "the model's folder")
    return path


def _file_size(path: str, where: str, label: str) -> int:
    try:
        info = os.stat(path)
    except OSError:
        raise OnnxFileError(f"{label}: {where}: external data file "
                            f"{os.path.basename(path)!r} does not exist") from None
    if not stat.S_ISREG(info.st_mode):
        raise OnnxFileError(f"{label}: {where}: external data {os.path.basename(path)!r} is "
                            "not a regular file")
    return info.st_size


# ---------------------------------------------------------------- onnx.checker

def _run_checker(onnx: object, model: onnx.ModelProto | bytes, label: str) -> None:
    """onnx.checker.check_model on the model or its serialised bytes (the same check, without
    serialising it again); its error's first line as an OnnxFileError."""
    checker = onnx.checker                                   # type: ignore[attr-defined]
    try:
        checker.check_model(model)
    except (checker.ValidationError, ValueError) as e:
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        raise OnnxFileError(f"{label}: onnx.checker: "
                            f"{lines[0] if lines else type(e).__name__}") from None

