"""The safetensors file layout, read and checked with plain file reads before anything trusts it.

A safetensors file is::

    [8 bytes]  n, the header length, unsigned little-endian
    [n bytes]  the header: a UTF-8 JSON object (padded with spaces)
                 {"__metadata__": {str: str, ...},                      (optional)
                  name: {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
    [rest]     the data buffer; tensor `name` is bytes [begin, end) of it, C order, little-endian

`read_header(path)` checks all of it against the file's size — the length field, the JSON, every
entry's dtype, shape and offsets (the byte count must be prod(shape) · itemsize, and the tensors
must tile the buffer exactly, with no overlap, gap or trailing bytes, as the safetensors library
itself requires) — and raises a `ValueError` naming the file and the problem.  Only then is the
file handed to `safetensors.numpy`.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DTYPES", "MAX_HEADER_BYTES", "Header", "TensorInfo", "read_header", "st_dtype"]

#: A header longer than this is refused as absurd (safetensors' own limit is 100 MB too).
MAX_HEADER_BYTES = 100_000_000

#: safetensors dtype names that NumPy can hold, and their NumPy dtypes (little-endian).
DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype("?"),
    "U8": np.dtype("u1"), "I8": np.dtype("i1"),
    "U16": np.dtype("<u2"), "I16": np.dtype("<i2"),
    "U32": np.dtype("<u4"), "I32": np.dtype("<i4"),
    "U64": np.dtype("<u8"), "I64": np.dtype("<i8"),
    "F16": np.dtype("<f2"), "F32": np.dtype("<f4"), "F64": np.dtype("<f8"),
}
_NAMES = {dt.newbyteorder("<"): name for name, dt in DTYPES.items()}


def st_dtype(dtype: np.dtype) -> str | None:
    """The safetensors name of a NumPy dtype ('F32' for float32), None if it has none."""
    return _NAMES.get(np.dtype(dtype).newbyteorder("<"))


@dataclass(frozen=True)
class TensorInfo:
    """One header entry: `dtype` (NumPy), `shape`, and bytes [begin, end) of the data buffer."""

    dtype: np.dtype
    shape: tuple[int, ...]
    begin: int
    end: int


@dataclass(frozen=True)
class Header:
    """A checked header: the `__metadata__` strings and the tensors, in header order."""

    metadata: dict[str, str]
    tensors: dict[str, TensorInfo]


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def read_header(path: str | os.PathLike[str]) -> Header:
    """Read and check the header of the safetensors file at `path`.

    Raises:
        ValueError: "<path> is not a valid safetensors file: <problem>" for a file too short,
            a header length that is absurd (> 100 MB) or runs past the end of the file, a header
            that is not a JSON object, a malformed entry, an unsupported dtype, a shape that does
            not match its byte count, or tensors that overlap, leave gaps or run past the end.
    """
    def bad(problem: str) -> ValueError:
        return ValueError(f"{os.fspath(path)} is not a valid safetensors file: {problem}")

    size = os.path.getsize(path)
    with open(path, "rb") as f:
        if size < 8:
            raise bad(f"file too short ({size} bytes; it must start with an 8-byte header "
                      "length)")
        (n,) = struct.unpack("<Q", f.read(8))
        if n > MAX_HEADER_BYTES:
            raise bad(f"header length {n} is absurd (more than {MAX_HEADER_BYTES} bytes)")
        if 8 + n > size:
            raise bad(f"header length {n} runs past the end of the file ({size} bytes)")
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise bad(f"header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise bad(f"header is a JSON {type(header).__name__}, not an object")

    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise bad("__metadata__ must be an object of strings")

    data_size = size - 8 - n
    tensors: dict[str, TensorInfo] = {}
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise bad(f"tensor {name!r}: entry must be an object with exactly dtype, shape and "
                      f"data_offsets, got {entry!r:.200}")
        dt, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dt not in DTYPES:
            raise bad(f"tensor {name!r} has unsupported dtype {dt!r} (numcnn reads "
                      f"{', '.join(DTYPES)})")
        if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
            raise bad(f"tensor {name!r}: shape must be a list of non-negative ints, got "
                      f"{shape!r:.200}")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(_is_int(o) for o in offsets) or not 0 <= offsets[0] <= offsets[1]):
            raise bad(f"tensor {name!r}: data_offsets must be [begin, end] with "
                      f"0 <= begin <= end, got {offsets!r:.200}")
        begin, end = offsets
        if end > data_size:
            raise bad(f"tensor {name!r}: data_offsets [{begin}, {end}] run past the end of the "
                      f"data ({data_size} bytes)")
        nbytes = math.prod(shape) * DTYPES[dt].itemsize
        if nbytes != end - begin:
            raise bad(f"tensor {name!r}: shape {shape} of {dt} needs {nbytes} bytes, but "
                      f"data_offsets [{begin}, {end}] hold {end - begin}")
        tensors[name] = TensorInfo(DTYPES[dt], tuple(shape), begin, end)

    # The tensors must tile the data buffer [0, data_size) exactly.
    position, previous = 0, None
    for name, info in sorted(tensors.items(), key=lambda item: (item[1].begin, item[1].end)):
        if info.begin < position:
            raise bad(f"tensors {previous!r} and {name!r} overlap (bytes {info.begin} to "
                      f"{min(info.end, position)})")
        if info.begin > position:
            raise bad(f"gap in the data before tensor {name!r} (bytes {position} to "
                      f"{info.begin} belong to no tensor)")
        position, previous = info.end, name
    if position != data_size:
        raise bad(f"{data_size - position} trailing bytes after the last tensor")
    return Header(metadata, tensors)
