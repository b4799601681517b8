"""Checkpoints: `save(obj, path)` / `load(path)`: safetensors, or PyTorch's format for .pt/.pth.

`save` writes PyTorch's zip format when `path` ends in ".pt" or ".pth" (any case), so that
`torch.load(path, weights_only=True)` opens it (`numcnn.io.torch_format.save_torch`), and the
safetensors encoding below for every other name.  `load` recognises a PyTorch file by its
content (the zip magic, or the legacy format's magic number), whatever its name, and reads it
with `numcnn.io.torch_format.load_torch`, which executes nothing: no pickle is ever loaded with
arbitrary globals.  Anything else is read as safetensors.

    numcnn.save(model.state_dict(), "model.safetensors")            # a PyTorch user opens it
    numcnn.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                 "scheduler": sched.state_dict(), "rng": numcnn.random.get_rng_state(),
                 "loader": loader.state_dict(), "epoch": 3}, "ckpt.safetensors")
    ckpt = numcnn.load("ckpt.safetensors")                          # the same nested structure

The encoding (format version 1).  Every array in `obj` — a `Tensor`, `Parameter`, `np.ndarray`
or NumPy scalar — becomes one safetensors tensor; everything else becomes JSON in the header's
`__metadata__`, whose values must be strings::

    "format":         "pt"            (the tensors are laid out as PyTorch expects)
    "numcnn.format":  "1"
    "numcnn.tree":    JSON of `obj`, each array replaced by a reference to its tensor

Tensor names are the array's path in `obj`, components joined by "/", each component escaped as
in a JSON Pointer (RFC 6901: "~" -> "~0", "/" -> "~1"): `model.state_dict()` saved alone keeps its
keys ("conv1.weight"); in a checkpoint the same tensor is "model/conv1.weight", Adam's first
moment of parameter 0 is "optimizer/state/0/exp_avg".  A name already taken (a dict with both 0
and "0" as keys, or the reserved "__metadata__") gets a suffix "~2", "~3", ...  The names are for
people; `load` follows the references in the tree, never parses names.

The tree is JSON, with Python's types kept explicit:

    ==========================  ===================================================
    None, bool, int, str        null, true/false, integer (any size), string
    float                       number (repr, so exact); nan/inf/-inf as
                                {"$": "float", "value": "nan" | "inf" | "-inf"}
    list                        array
    tuple                       {"$": "tuple", "items": [...]}
    dict, str keys, none        object (key order kept)
      starting with "$"
    any other dict              {"$": "dict", "items": [[key, value], ...]}
                                (keys encoded like values: ints stay ints)
    collections.OrderedDict     {"$": "odict", "items": [[key, value], ...]}
    collections.Counter         {"$": "counter", "items": [[key, count], ...]}
    Tensor                      {"$": "tensor", "name": N} (+ "requires_grad": true)
    nn.Parameter                {"$": "parameter", "name": N, "requires_grad": bool}
    np.ndarray                  {"$": "ndarray", "name": N}
    NumPy scalar (np.float32)   {"$": "scalar", "name": N}  (a 0-d tensor)
    ==========================  ===================================================

An object with the key "$" is always a tag, so a user's dict is never mistaken for one.  Arrays
keep their dtype, shape (0-d stays 0-d) and bits; anything else (a function, a set, a
defaultdict, an object array, bfloat16 ...) is refused with a TypeError naming its path.

A file without "numcnn.tree" (e.g. written by `safetensors.torch.save_file`) loads as a flat
dict name -> Tensor, so a PyTorch `state_dict` loads into the matching numcnn model.

Writes are atomic: the bytes go to a temporary file in the target's directory, which is flushed,
fsync'ed and renamed over the target (`os.replace`), then the directory is fsync'ed; whatever
fails, the previous file is left as it was and the temporary file is removed.  Reads check the
whole header against the file size first (`safetensors_file.read_header`).
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter, OrderedDict
from typing import IO, Any

import numpy as np

from numcnn._atomic import atomic_write
from numcnn.io.safetensors_file import read_header, st_dtype
from numcnn.io.torch_format import is_torch_file, load_torch, save_torch
from numcnn.nn.module import Module
from numcnn.nn.parameter import Parameter
from numcnn.tensor import Tensor

__all__ = ["FORMAT_VERSION", "load", "load_into", "save"]

FORMAT_VERSION = "1"
_TREE_KEY = "numcnn.tree"
_VERSION_KEY = "numcnn.format"
_PathLike = str | os.PathLike[str]
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_MAPPING_TAGS: dict[type, str] = {dict: "dict", OrderedDict: "odict", Counter: "counter"}
_MAPPING_TYPES: dict[str, type] = {tag: cls for cls, tag in _MAPPING_TAGS.items()}


# ----------------------------------------------------------------------------- encoding
def _escape(component: str) -> str:
    return component.replace("~", "~0").replace("/", "~1")


class _Encoder:
    """Walks `obj` once: arrays go to `tensors` under unique names, the rest to a JSON tree."""

    def __init__(self) -> None:
        self.tensors: dict[str, np.ndarray] = {}

    def _name(self, path: tuple[str, ...]) -> str:
        base = "/".join(_escape(c) for c in path) if path else "~root"
        name, k = base, 1
        while name in self.tensors or name == "__metadata__":
            k += 1
            name = f"{base}~{k}"
        return name

    def _array(self, arr: np.ndarray, path: tuple[str, ...]) -> str:
        if st_dtype(arr.dtype) is None:
            raise TypeError(f"cannot save the array at {_where(path)}: dtype {arr.dtype} has no "
                            "safetensors equivalent (bool, (u)int8-64, float16/32/64 can be saved)")
        name = self._name(path)
        # little-endian C order; not np.ascontiguousarray, which turns a 0-d array into 1-d
        self.tensors[name] = arr.astype(arr.dtype.newbyteorder("<"), order="C", copy=False)
        return name

    def encode(self, value: Any, path: tuple[str, ...] = ()) -> Any:
        if value is None or isinstance(value, (bool, str)):
            return value
        if type(value) is int:
            return value
        if isinstance(value, Tensor):
            name = self._array(value.array, path)
            if isinstance(value, Parameter):
                return {"$": "parameter", "name": name, "requires_grad": value.requires_grad}
            return ({"$": "tensor", "name": name, "requires_grad": True} if value.requires_grad
                    else {"$": "tensor", "name": name})
        if isinstance(value, np.ndarray):
            if type(value) is not np.ndarray:
                raise TypeError(f"cannot save {type(value).__name__} at {_where(path)} "
                                "(only plain np.ndarray)")
            return {"$": "ndarray", "name": self._array(value, path)}
        if isinstance(value, np.generic):           # np.float64 is also a float: check first
            return {"$": "scalar", "name": self._array(np.asarray(value), path)}
        if type(value) is float:
            if math.isfinite(value):
                return value
            return {"$": "float", "value": "nan" if math.isnan(value) else
                    ("inf" if value > 0 else "-inf")}
        if type(value) is list:
            return [self.encode(v, path + (str(i),)) for i, v in enumerate(value)]
        if type(value) is tuple:
            return {"$": "tuple", "items": [self.encode(v, path + (str(i),))
                                            for i, v in enumerate(value)]}
        if type(value) in _MAPPING_TAGS:
            items = [(k, self.encode(v, path + (str(k),))) for k, v in value.items()]
            if type(value) is dict and all(isinstance(k, str) and not k.startswith("$")
                                           for k, _ in items):
                return dict(items)
            tag = _MAPPING_TAGS[type(value)]
            return {"$": tag, "items": [[self._key(k, path), v] for k, v in items]}
        raise TypeError(f"cannot save {type(value).__name__} at {_where(path)}: numcnn.save "
                        "takes arrays, Tensors, dicts, lists, tuples, str, int, float, bool "
                        "and None (no pickling)")

    def _key(self, key: Any, path: tuple[str, ...]) -> Any:
        if key is None or type(key) in (bool, int, str, float, tuple):
            if isinstance(key, tuple):
                return {"$": "tuple", "items": [self._key(k, path) for k in key]}
            return self.encode(key, path)
        raise TypeError(f"cannot save a dict key of type {type(key).__name__} at {_where(path)} "
                        "(keys may be str, int, float, bool, None or tuples of them)")


def _where(path: tuple[str, ...]) -> str:
    return "obj" + "".join(f"[{c!r}]" for c in path)


# ----------------------------------------------------------------------------- decoding
class _Decoder:
    """Rebuilds the tree, replacing references by arrays; any inconsistency is a ValueError."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays
        self.used: set[str] = set()

    def _array(self, node: dict[str, Any]) -> np.ndarray:
        name = node["name"]
        if not isinstance(name, str) or name not in self.arrays:
            raise ValueError(f"the tree refers to tensor {name!r}, which is not in the file")
        if name in self.used:
            raise ValueError(f"the tree refers to tensor {name!r} twice")
        self.used.add(name)
        return self.arrays[name]

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict):
            raise ValueError(f"unexpected JSON value {node!r:.100}")
        if "$" not in node:
            return {k: self.decode(v) for k, v in node.items()}
        tag = node["$"]
        if tag == "tensor":
            return Tensor(self._array(node), requires_grad=node.get("requires_grad", False) is True)
        if tag == "parameter":
            return Parameter(self._array(node), requires_grad=node["requires_grad"] is True)
        if tag == "ndarray":
            return self._array(node)
        if tag == "scalar":
            arr = self._array(node)
            if arr.ndim != 0:
                raise ValueError(f"scalar tensor {node['name']!r} has shape {arr.shape}")
            return arr[()]
        if tag == "float" and node["value"] in _NONFINITE:
            return _NONFINITE[node["value"]]
        if tag == "tuple":
            return tuple(self.decode(v) for v in node["items"])
        if tag in _MAPPING_TYPES:
            out = _MAPPING_TYPES[tag]()
            for pair in node["items"]:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise ValueError(f"a {tag} item must be a [key, value] pair, got {pair!r:.100}")
                out[self.decode(pair[0])] = self.decode(pair[1])
            return out
        raise ValueError(f"unknown tag {node!r:.100}")


# ----------------------------------------------------------------------------- writing
def _write_bytes(f: IO[bytes], data: bytes) -> None:
    """Write `data` to the open temporary file (a seam where tests inject a failure)."""
    f.write(data)


def _atomic_write(path: _PathLike, data: bytes) -> None:
    """Replace the file at `path` by `data`, or leave it untouched if anything fails."""
    with atomic_write(path) as f:
        _write_bytes(f, data)


def save(obj: Any, path: _PathLike) -> None:
    """Save a state dict or a nested training checkpoint to `path` (atomically): PyTorch's
    zip format if `path` ends in .pt/.pth, safetensors otherwise.

    Args:
        obj: a `state_dict()` (name -> Tensor), or a dict nesting state dicts, optimizer,
            scheduler, RNG and loader states, numbers and strings (see the module docstring for
            the types accepted and how each is encoded; `torch_format` for .pt/.pth).
        path: the file to write; it is replaced atomically (never left half-written).

    Raises:
        TypeError: for a value that has no encoding (named by its path in `obj`).
    """
    if os.fspath(path).lower().endswith((".pt", ".pth")):
        save_torch(obj, path)
        return
    encoder = _Encoder()
    tree = encoder.encode(obj)
    metadata = {"format": "pt", _VERSION_KEY: FORMAT_VERSION,
                _TREE_KEY: json.dumps(tree, allow_nan=False, separators=(",", ":"))}
    import safetensors.numpy  # imported on use: the core of numcnn needs NumPy alone

    data = safetensors.numpy.save(encoder.tensors, metadata=metadata)
    _atomic_write(path, data)


# ----------------------------------------------------------------------------- reading
def _check_map_location(map_location: Any) -> None:
    """torch.load's map_location, where everything loads to the CPU: None, "cpu", a CPU
    device, a dict whose targets are the CPU, or a callable (not called: the storages are
    NumPy memory whatever it would return)."""
    if map_location is None or callable(map_location):
        return
    targets = (list(map_location.values()) if isinstance(map_location, dict)
               else [map_location])
    for target in targets:
        if str(target).split(":")[0] != "cpu":
            raise ValueError(f"map_location={map_location!r}: numcnn runs on the CPU only, "
                             f"so checkpoints load to 'cpu'")


def load(path: _PathLike, map_location: Any = None, *, weights_only: bool | None = None,
         mmap: bool | None = None) -> Any:
    """Load what `save` wrote: the same nested structure, arrays as Tensors/ndarrays.

    A file written by `torch.save` (recognised by content, zip or legacy format, any name) is
    read by `torch_format.load_torch` without executing anything.  A safetensors file written
    by another program (e.g. `safetensors.torch.save_file`) loads as a flat dict name -> Tensor.

    torch.load's keywords are accepted so that scripts run unchanged: `map_location` must send
    everything to the CPU (None, "cpu", a CPU device, such a dict, or a callable, which is not
    called); `weights_only` True or False reads the same way — only tensors, containers and
    numbers, never arbitrary globals (with False, torch would run any pickled code); `mmap` is
    accepted and the file read into memory.

    Raises:
        ValueError: naming the file, if it is not a valid safetensors file (checked before the
            file is handed to the safetensors library) or its numcnn tree is inconsistent, or
            an unreadable or refused PyTorch file (`torch_format.TorchFormatError`).
        FileNotFoundError: if there is no file at `path`.
    """
    _check_map_location(map_location)
    del weights_only, mmap               # see the docstring: the reading is the same
    if is_torch_file(path):
        return load_torch(path)
    header = read_header(path)
    meta = header.metadata
    if _TREE_KEY in meta and meta.get(_VERSION_KEY) != FORMAT_VERSION:
        raise ValueError(f"{os.fspath(path)}: numcnn checkpoint format "
                         f"{meta.get(_VERSION_KEY)!r} is not supported (this numcnn reads "
                         f"{FORMAT_VERSION!r})")
    import safetensors
    import safetensors.numpy

    try:
        loaded = safetensors.numpy.load_file(os.fspath(path))
    except (safetensors.SafetensorError, ValueError, OSError) as e:
        raise ValueError(f"{os.fspath(path)} could not be read by safetensors: {e}") from None
    arrays: dict[str, np.ndarray] = {}
    for name, info in header.tensors.items():
        arr = loaded[name]
        if not arr.flags.writeable:
            arr = arr.copy()
        if arr.dtype != info.dtype or arr.shape != info.shape:   # the file changed under us
            raise ValueError(f"{os.fspath(path)}: tensor {name!r} changed while being read")
        arrays[name] = arr
    if _TREE_KEY not in meta:
        return {name: Tensor(arr) for name, arr in arrays.items()}
    decoder = _Decoder(arrays)
    try:
        obj = decoder.decode(json.loads(meta[_TREE_KEY]))
    except (ValueError, KeyError, TypeError, RecursionError) as e:
        raise ValueError(f"{os.fspath(path)} is not a valid numcnn checkpoint: bad "
                         f"{_TREE_KEY} ({type(e).__name__}: {e})") from None
    unused = set(arrays) - decoder.used
    if unused:
        raise ValueError(f"{os.fspath(path)} is not a valid numcnn checkpoint: tensors "
                         f"{sorted(unused)[:5]} are not referenced by {_TREE_KEY}")
    return obj


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, dict) and all(isinstance(k, str) and isinstance(v, (Tensor, np.ndarray))
                                         for k, v in obj.items())


def load_into(model: Module, path: _PathLike, strict: bool = True) -> Any:
    """Load the weights saved at `path` into `model` and return `model.load_state_dict`'s result.

    The file holds a state dict, or a checkpoint dict whose "model" (or "state_dict") entry is
    one.  With `strict`, keys must match exactly; shape mismatches are reported by key.

    Raises:
        ValueError: if the file is invalid or holds no state dict.
        RuntimeError: from `Module.load_state_dict` (missing/unexpected keys, size mismatch).
    """
    if not isinstance(model, Module):
        raise TypeError(f"load_into expects an nn.Module, got {type(model).__name__}")
    obj = load(path)
    if isinstance(obj, dict) and isinstance(obj.get("compress"), dict):
        raise ValueError(f"{os.fspath(path)} holds a compressed model "
                         f"({obj['compress'].get('method')}); load it with "
                         "numcnn.compress.load(path, model)")
    if not _is_state_dict(obj):
        inner = [obj[k] for k in ("model", "state_dict")
                 if isinstance(obj, dict) and _is_state_dict(obj.get(k))]
        if not inner:
            raise ValueError(f"{os.fspath(path)} holds neither a state dict (name -> tensor) nor "
                             "a checkpoint with one under 'model' or 'state_dict'")
        obj = inner[0]
    return model.load_state_dict(obj, strict=strict)
