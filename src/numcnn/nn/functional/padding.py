"""`pad`: constant, reflect, replicate and circular padding, with torch.nn.functional's rules.

The math (and the backward) lives in `numcnn.ops.pad`.  Errors mirror PyTorch's types:
TypeError for a wrong type, NotImplementedError for an unknown mode or an unsupported
(input rank, pad length) combination, RuntimeError for bad sizes.
"""

from __future__ import annotations

import numbers
from typing import Sequence

import numpy as np

from numcnn.ops.pad import Pad, pad_pairs
from numcnn.tensor import Tensor

__all__ = ["pad"]

_MODES = ("constant", "reflect", "replicate", "circular")


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant",
        value: float | None = None) -> Tensor:
    """Pad (or, with negative entries, crop) the last len(pad)//2 dimensions of `input`.

    `pad` lists (left, right) amounts starting from the LAST dimension:
    (W_left, W_right, H_top, H_bottom, D_front, D_back).  Along one dim of size n, output
    position j reads input coordinate t = j - left:

    - 'constant': x[t] inside, `value` (default 0) outside;
    - 'reflect':  mirror about the edge, edge not repeated: x[-t] left, x[2(n-1) - t] right
      (every pad < n);
    - 'replicate': the edge value, x[clip(t, 0, n-1)];
    - 'circular': wrap around, x[t mod n] (every pad <= n).

    Non-constant modes pad the last 1, 2 or 3 dims of a 2-D/3-D, 3-D/4-D or 4-D/5-D input.

    Shape:
        input (*, S_1, ..., S_k) -> output (*, S_1 + lo_1 + hi_1, ..., S_k + lo_k + hi_k)
    """
    fn = "pad"
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}(): argument 'input' must be a Tensor, not {type(input).__name__}")
    if not isinstance(pad, (tuple, list)) or not all(
            isinstance(p, (numbers.Integral, np.integer)) and not isinstance(p, bool)
            for p in pad):
        raise TypeError(f"{fn}(): argument 'pad' must be a tuple of ints, but got {pad!r}")
    if not isinstance(mode, str):
        raise TypeError(f"{fn}(): argument 'mode' must be str, not {type(mode).__name__}")
    if mode not in _MODES:
        raise NotImplementedError(f"{fn}(): unrecognised padding mode {mode!r}, expected one "
                                  f"of {_MODES}")
    if value is not None and not isinstance(value, (numbers.Number, np.number)):
        raise TypeError(f"{fn}(): argument 'value' must be a number, not "
                        f"{type(value).__name__}")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError(f"{fn}(): padding length must be divisible by 2, got pad={pad}")
    k = len(pad) // 2
    if k > input.ndim:
        raise RuntimeError(f"{fn}(): padding length should be less than or equal to two times "
                           f"the input dimension but got padding length {len(pad)} and input "
                           f"of dimension {input.ndim}")
    pairs = pad_pairs(pad)
    sizes = input.shape[input.ndim - k:]
    if mode == "constant":
        for n, (lo, hi) in zip(sizes, pairs):
            if n + min(lo, 0) + min(hi, 0) < 0:
                raise RuntimeError(f"{fn}(): negative padding {(lo, hi)} removes more than the "
                                   f"dimension's size {n}")
        return Pad.apply(input, pad=pad, mode="constant", value=0.0 if value is None else value)
    if value is not None and value != 0:
        raise RuntimeError(f"{fn}(): padding mode {mode!r} doesn't take in value argument "
                           f"(got value={value})")
    if k not in (1, 2, 3) or input.ndim not in (k + 1, k + 2):
        raise NotImplementedError(
            f"{fn}(): padding size {len(pad)} is not supported for {input.ndim}D input tensor "
            f"in mode {mode!r}. Supported combinations for non-constant padding: 2D or 3D input "
            f"with padding size 2, 3D or 4D input with 4, 4D or 5D input with 6"
        )
    if mode in ("reflect", "replicate") and any(n == 0 for n in input.shape[1:]):
        raise RuntimeError(f"{fn}(): mode {mode!r} expects non-zero dimensions other than the "
                           f"batch, but got input of size {list(input.shape)}")
    for n, (lo, hi) in zip(sizes, pairs):
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(f"{fn}(): padding size should be less than the corresponding "
                               f"input dimension in mode 'reflect', but got padding {(lo, hi)} "
                               f"for a dimension of size {n}")
        if mode == "circular" and (lo > n or hi > n):
            raise RuntimeError(f"{fn}(): padding {(lo, hi)} wraps around more than once a "
                               f"dimension of size {n} in mode 'circular' (need pad <= size)")
        if n + lo + hi < 0 or (k == 1 and mode != "circular" and n + lo + hi == 0):
            # (PyTorch's 1-D reflect/replicate kernels also refuse an empty result)
            raise RuntimeError(f"{fn}(): padding {(lo, hi)} gives a negative size for a "
                               f"dimension of size {n}")
        if mode == "circular" and n + lo + hi > 0 and n + min(lo, 0) + min(hi, 0) <= 0:
            raise RuntimeError(f"{fn}(): padding {(lo, hi)} in mode 'circular' crops away the "
                               f"whole dimension of size {n} and then pads it")
    return Pad.apply(input, pad=pad, mode=mode)
