"""numcnn.compress.quantize: weights (and activations) on few bits.

- `int8`: post-training static int8 quantisation as torch.ao.quantization's eager mode on the
  x86/fbgemm engine: BatchNorm folded, conv+ReLU fused, per-channel symmetric int8 weights,
  per-tensor affine activations calibrated by min-max or histogram observers; inference on
  integers (int8 x int8 products summed exactly in int32, then requantised).
- `inq`: Incremental Network Quantization (Zhou et al. 2017): weights become 0 or +-2^n, a
  growing share of them at a time while the rest is retrained; stored as exponents.

Names are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> the module of numcnn.compress.quantize that defines it
_NAMES = {
    "quantize_static": "int8", "fuse_modules": "int8", "fold_bn": "int8",
    "MinMaxObserver": "int8", "PerChannelMinMaxObserver": "int8", "HistogramObserver": "int8",
    "PercentileObserver": "int8",
    "quantize_per_tensor": "int8", "quantize_per_channel": "int8", "dequantize": "int8",
    "ConvReLU2d": "int8", "LinearReLU": "int8",
    "QuantizedConv2d": "int8", "QuantizedLinear": "int8", "QuantizedSequential": "int8",
    "QuantizedBatchNorm": "int8", "QuantizedReLU": "int8", "QuantizedAvgPool2d": "int8",
    "QuantizedAdaptiveAvgPool2d": "int8", "Quantize": "int8", "DeQuantize": "int8",
    "trace_chain": "int8", "requantize": "int8", "conv_accumulate": "int8",
    "pow2_levels": "inq", "pow2_quantize": "inq", "incremental_quantize": "inq",
    "INQSchedule": "inq", "pow2_encode": "inq", "pow2_decode": "inq",
    "quantized_weights": "inq",
}
_SUBMODULES = ("int8", "inq")

__all__ = sorted([*_NAMES, *_SUBMODULES])


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"numcnn.compress.quantize.{name}")
    if name in _NAMES:
        value = getattr(importlib.import_module(f"numcnn.compress.quantize.{_NAMES[name]}"),
                        name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'numcnn.compress.quantize' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
