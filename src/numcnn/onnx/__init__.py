"""numcnn.onnx: models travel -- ONNX export and import, as `torch.onnx`.

- `export(model, args, f, opset_version=17, input_names=None, output_names=None,
  dynamic_axes=None)` traces one forward pass of a numcnn model and writes an ONNX model that
  `onnx.checker` accepts and ONNX Runtime runs (`numcnn.onnx.export`).
- `load(path_or_model)` reads an ONNX model (a file, bytes or an `onnx.ModelProto`) into an
  `nn.Module` that runs the graph on numcnn's ops, so it can be inspected, visualised,
  fine-tuned (its float initialisers become parameters) or compressed (`numcnn.onnx.load`).
- `read_model(source)` is the safe reader both use: a malformed or hostile file (truncated
  protobuf, absurd tensor sizes, external data outside the model's folder) is refused with a
  clear `OnnxFileError` before any tensor is allocated (`numcnn.onnx.files`).
- `backend` is an `onnx.backend.base.Backend`, so ONNX's own conformance tests
  (`onnx.backend.test`) run on numcnn.

The `onnx` package (protobuf, checker, shape inference) is an optional extra:
`pip install 'numcnn[onnx]'`. Names are imported on first use, so `import numcnn.onnx` stays
cheap and works without it.
"""

from __future__ import annotations

import importlib
from typing import Any

from numcnn.onnx.errors import (
    OnnxExporterError,
    OnnxFileError,
    OnnxImportError,
    UnsupportedOperatorError,
)

# public name -> the module of numcnn.onnx that defines it
_NAMES = {
    "export": "export",
    "load": "load", "OnnxModule": "load",
    "read_model": "files",
}
_SUBMODULES = ("export", "load", "files", "backend", "errors")

__all__ = sorted([*_NAMES, *_SUBMODULES, "OnnxExporterError", "OnnxFileError",
                  "OnnxImportError", "UnsupportedOperatorError"])


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        value = getattr(importlib.import_module(f"numcnn.onnx.{_NAMES[name]}"), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"numcnn.onnx.{name}")
    raise AttributeError(f"module 'numcnn.onnx' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
