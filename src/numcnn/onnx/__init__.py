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
`pip install 'numcnn[onnx]'`. `import numcnn.onnx` works without it; what needs it says so
in one line.
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

# The functions are imported here, not on first use: the modules that define them share their
# names (numcnn.onnx.export, numcnn.onnx.load), and a lazy attribute would be shadowed by the
# submodule as soon as anything imported it.  None of them imports onnx at the top.
from numcnn.onnx.export import export
from numcnn.onnx.files import read_model
from numcnn.onnx.load import OnnxModule, load

__all__ = ["OnnxExporterError", "OnnxFileError", "OnnxImportError", "OnnxModule",
           "UnsupportedOperatorError", "backend", "errors", "export", "files", "load",
           "read_model"]


def __getattr__(name: str) -> Any:
    """`numcnn.onnx.backend` (which needs onnx at import) is imported on first use."""
    if name == "backend":
        return importlib.import_module("numcnn.onnx.backend")
    raise AttributeError(f"module 'numcnn.onnx' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
