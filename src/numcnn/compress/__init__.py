"""numcnn.compress: make a trained CNN smaller (seed 004, "Reduced complexity CNN architectures").

The post-training ways to cut a network's cost, after the architectural ones the zoo already has
(depthwise, grouped and 1x1 convolutions, seed 001):

- pruning: `numcnn.nn.utils.prune` (PyTorch's masks) and `iterative_prune` (prune -> retrain,
  Han et al. 2015), stored sparse (`numcnn.compress.sparse`); `prune_channels` removes whole
  channels through residual and concatenation dependencies found by tracing one forward pass
  (Li et al. 2017 filter L1 norms, Liu et al. 2017 network slimming);
- quantisation: `numcnn.compress.quantize` — post-training static int8 computed on integers
  (as torch.ao's fbgemm engine) and Incremental Network Quantization to zero or +-2^n
  (Zhou et al. 2017);
- binarisation: `numcnn.compress.binary` — binary-weight networks and XNOR-Net (Rastegari et
  al. 2016), run on packed bits with XNOR + popcount.

A compressed model is saved and loaded in its compact form (int8 weights, exponents, packed
bits, sparse values) by `numcnn.compress.save` / `numcnn.compress.load`; see
`numcnn.compress.checkpoint`.

Names are imported on first use, so `import numcnn.compress` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> the module of numcnn.compress that defines it
_NAMES = {
    "prune_channels": "channels", "channel_groups": "channels",
    "iterative_prune": "sparse",
    "save": "checkpoint", "load": "checkpoint", "method_of": "checkpoint",
    "CompressedCheckpointError": "checkpoint",
}
_SUBMODULES = ("channels", "sparse", "checkpoint", "quantize", "binary")

__all__ = sorted([*_NAMES, *_SUBMODULES])


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"numcnn.compress.{name}")
    if name in _NAMES:
        value = getattr(importlib.import_module(f"numcnn.compress.{_NAMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'numcnn.compress' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
