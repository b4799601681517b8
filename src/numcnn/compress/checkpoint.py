"""Compressed checkpoints: a compressed model saved in its compact form, and loaded back.

    model = numcnn.compress.prune_channels(model, x, amount=0.3)
    numcnn.compress.save(model, "small.safetensors", run=config)      # + any JSON-able extras
    small = numcnn.compress.load("small.safetensors", fmnist_cnn())   # the same model again

The file is an ordinary numcnn checkpoint (`numcnn.io.save`, safetensors, no pickle)::

    {"compress": {"format": 1, "method": M, "spec": {...}},   # JSON: how to rebuild the model
     "model":    {name: array},                                # the method's compact tensors
     ...}                                                      # extras, e.g. "run"

The tensors are what the method stores instead of float weights: int8 weights and their scales
and zero points (int8), exponents (inq), bits packed 8 per byte (binary), non-zero values and a
packed mask (sparse), or the smaller float tensors of a channel-pruned model (channels).

Each method is a module of numcnn.compress (`METHODS`) with

    METHOD: str
    to_checkpoint(model) -> (tensors: dict[str, np.ndarray], spec: dict)   # spec is JSON-able
    from_checkpoint(model, tensors, spec) -> Module

where `model` in `from_checkpoint` is a freshly built float model of the architecture the
compressed one came from (its weights do not matter); it returns the compressed model, equal
to the one saved, in eval mode. A function that compresses a model marks it with `mark(model,
METHOD)`, so that `save` knows how to store it.

A compressed checkpoint is refused by `numcnn.load_into` and `Module`-level loading of float
weights, and a float checkpoint is refused by `load`: both with a one-line error saying which
loader to use.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

import numpy as np

from numcnn.io import checkpoint as io
from numcnn.nn.module import Module
from numcnn.tensor import Tensor

__all__ = ["METHODS", "FORMAT", "CompressedCheckpointError", "mark", "method_of",
           "method_module", "save", "load", "is_compressed"]

FORMAT = 1
# method name -> the module that stores and rebuilds it
METHODS = {
    "sparse": "numcnn.compress.sparse",
    "channels": "numcnn.compress.channels",
    "int8": "numcnn.compress.quantize.int8",
    "inq": "numcnn.compress.quantize.inq",
    "binary": "numcnn.compress.binary",
}
_MARK = "_numcnn_compression"


class CompressedCheckpointError(ValueError):
    """A checkpoint that is not the kind the loader expects (compressed vs float), or a
    compressed checkpoint whose method or format is unknown."""


def method_module(method: str) -> ModuleType:
    """The module of numcnn.compress that stores and rebuilds `method` (one of METHODS).

    Raises:
        CompressedCheckpointError: `method` is unknown.
    """
    if method not in METHODS:
        raise CompressedCheckpointError(f"unknown compression method {method!r}; known: "
                                        f"{', '.join(METHODS)}")
    return importlib.import_module(METHODS[method])


def mark(model: Module, method: str) -> Module:
    """Record on `model` that it is compressed by `method` (one of METHODS); returns `model`."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    object.__setattr__(model, _MARK, method)
    return model


def method_of(model: Module) -> str | None:
    """The compression method `model` carries (see `mark`); "sparse" for a model with
    `numcnn.nn.utils.prune` masks; None for a plain float model."""
    method = getattr(model, _MARK, None)
    if method is not None:
        return str(method)
    if any(name.endswith("_mask") for name, _ in model.named_buffers()):
        return "sparse"
    return None


def save(model: Module, path: str | os.PathLike[str], method: str | None = None,
         **extra: Any) -> None:
    """Write `model` in its compact form to `path` (atomically, safetensors).

    Args:
        model: a compressed model (see `mark`), or any float model with `method="sparse"` to
            store its zero weights sparsely (e.g. after `prune.remove`).
        path: the file to write.
        method: one of METHODS; default: `method_of(model)`.
        extra: more JSON-able entries or arrays for the checkpoint (e.g. run=config); not
            "compress" or "model".

    Raises:
        ValueError: the model is not compressed and no method is given, or an extra's name is
            reserved.
    """
    method = method or method_of(model)
    if method is None:
        raise ValueError("the model is not compressed; save it with numcnn.save, or pass "
                         "method='sparse' to store its zero weights sparsely")
    for key in ("compress", "model"):
        if key in extra:
            raise ValueError(f"{key!r} is reserved in a compressed checkpoint")
    tensors, spec = method_module(method).to_checkpoint(model)
    io.save({"compress": {"format": FORMAT, "method": method, "spec": spec},
             "model": {k: np.asarray(v) for k, v in tensors.items()}, **extra}, path)


def is_compressed(ckpt: Any) -> bool:
    """True when `ckpt` (a loaded checkpoint) holds a compressed model."""
    return isinstance(ckpt, dict) and isinstance(ckpt.get("compress"), dict)


def load(path_or_ckpt: str | os.PathLike[str] | dict[str, Any], model: Module) -> Module:
    """The compressed model saved at `path_or_ckpt` (a path, or a checkpoint dict already
    loaded by `numcnn.load`), rebuilt on `model`: a freshly built float model of the
    architecture it came from. Returned in eval mode.

    Raises:
        CompressedCheckpointError: the checkpoint is not compressed (it holds float weights:
            load those with `numcnn.load_into`), or names an unknown method or format.
    """
    ckpt = path_or_ckpt if isinstance(path_or_ckpt, dict) else io.load(path_or_ckpt)
    where = "the checkpoint" if isinstance(path_or_ckpt, dict) else os.fspath(path_or_ckpt)
    if not is_compressed(ckpt):
        raise CompressedCheckpointError(f"{where} holds no compressed model (float weights: "
                                        "load them with numcnn.load_into or load_state_dict)")
    info = ckpt["compress"]
    if info.get("format") != FORMAT:
        raise CompressedCheckpointError(f"{where}: compressed-checkpoint format "
                                        f"{info.get('format')!r} is not supported (this numcnn "
                                        f"reads format {FORMAT})")
    tensors = {k: v.array if isinstance(v, Tensor) else np.asarray(v)
               for k, v in dict(ckpt.get("model") or {}).items()}
    out = method_module(str(info.get("method"))).from_checkpoint(model, tensors,
                                                                   info.get("spec") or {})
    mark(out, str(info["method"]))
    out.eval()
    return out
