"""Saving and loading: checkpoints in the safetensors format, and PyTorch's `torch.save`
format (.pt/.pth), read without executing anything (`save`, `load`, `load_into`, `load_torch`,
`save_torch`)."""

from numcnn.io.checkpoint import load, load_into, save
from numcnn.io.torch_format import (
    RefusedGlobalError,
    TorchFormatError,
    is_torch_file,
    load_torch,
    save_torch,
)

__all__ = ["RefusedGlobalError", "TorchFormatError", "is_torch_file", "load", "load_into",
           "load_torch", "save", "save_torch"]
