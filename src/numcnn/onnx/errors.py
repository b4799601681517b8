"""The errors of numcnn.onnx, and the one-line hint when the optional `onnx` package is missing.

As in `torch.onnx.errors`: `OnnxExporterError` (a RuntimeError) for what cannot be exported,
`UnsupportedOperatorError` (one of them) naming every op that has no ONNX form.  Reading:
`OnnxFileError` (a ValueError) for a file that is malformed or hostile, `OnnxImportError`
(a ValueError) for a well-formed graph numcnn cannot run (it names every unsupported operator).
"""

from __future__ import annotations

from types import ModuleType

__all__ = ["OnnxExporterError", "UnsupportedOperatorError", "OnnxFileError", "OnnxImportError",
           "require_onnx"]


class OnnxExporterError(RuntimeError):
    """A model that cannot be exported to ONNX (as torch.onnx.errors.OnnxExporterError)."""


class UnsupportedOperatorError(OnnxExporterError):
    """Ops of the traced forward pass that have no ONNX form; the message lists them all."""


class OnnxFileError(ValueError):
    """An ONNX file that is malformed, truncated or hostile; refused before anything is
    allocated from it."""


class OnnxImportError(ValueError):
    """A well-formed ONNX graph that numcnn cannot run (unsupported operators, opsets or
    types); the message lists every one."""


def require_onnx() -> ModuleType:
    """The `onnx` package, or an ImportError saying in one line how to install it."""
    try:
        import onnx
    except ImportError as e:
        raise ImportError("ONNX export and import need the onnx package: pip install "
                          "'numcnn[onnx]' (or pip install 'onnx>=1.16')") from e
    return onnx
