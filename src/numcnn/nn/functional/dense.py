"""Fully connected maps with torch.nn.functional's names: `linear` and `bilinear`."""

from __future__ import annotations

from typing import Any

from numcnn.nn.functional._checks import check_floating, check_tensor
from numcnn.ops import linear as L
from numcnn.tensor import Tensor

__all__ = ["bilinear", "linear"]


def _check_float_tensor(value: Any, name: str, fn: str, optional: bool = False) -> None:
    check_tensor(value, name, fn, optional)
    if value is not None:
        check_floating(value, name, fn)


def _check_dtypes(fname: str, *tensors: Tensor | None) -> None:
    ts = [t for t in tensors if t is not None]
    if any(t.dtype != ts[0].dtype for t in ts):
        raise RuntimeError(f"{fname}(): expected all arguments to have the same dtype, but got "
                           + ", ".join(str(t.dtype) for t in ts))


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Affine map over the last axis: y = x W^T + b.

    Args:
        input: (*, in_features).
        weight: (out_features, in_features) (or (in_features,), giving y = x . w + b).
        bias: (out_features,) or None.

    Returns:
        (*, out_features).

    Shape:
        input (*, I), weight (O, I), bias (O,) -> output (*, O);
        y[..., o] = sum_i x[..., i] W[o, i] + b[o]  (one GEMM over all leading axes).
    """
    _check_float_tensor(input, "input", "linear")
    _check_float_tensor(weight, "weight", "linear")
    _check_float_tensor(bias, "bias", "linear", optional=True)
    if input.ndim < 1 or weight.ndim < 1 or weight.ndim > 2:
        raise RuntimeError(
            f"linear(): input must be at least 1-D and weight 1-D or 2-D, but they are "
            f"{input.ndim}D and {weight.ndim}D"
        )
    _check_dtypes("linear", input, weight, bias)
    if weight.ndim == 1:          # y = x . w (+ b): a single output feature, squeezed
        out = linear(input, weight.reshape(1, -1), None if bias is None else bias.reshape(-1))
        return out.reshape(input.shape[:-1])
    out_f, in_f = weight.shape
    if input.shape[-1] != in_f:
        m = input.numel() // max(input.shape[-1], 1) if input.shape[-1] else 0
        raise RuntimeError(
            f"linear(): input's last dimension ({input.shape[-1]}) must equal weight's "
            f"in_features ({in_f}): input shape {tuple(input.shape)}, weight shape "
            f"{tuple(weight.shape)} (mat1 and mat2 shapes cannot be multiplied "
            f"({m}x{input.shape[-1]} and {in_f}x{out_f}))"
        )
    if bias is not None and (bias.ndim > 1 or bias.numel() not in (1, out_f)):
        raise RuntimeError(
            f"linear(): bias must have shape ({out_f},) to match weight {tuple(weight.shape)}, "
            f"got {tuple(bias.shape)}"
        )
    return L.Linear.apply(input, weight, bias)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor,
             bias: Tensor | None = None) -> Tensor:
    """Bilinear map: y[..., o] = sum_ij x1[..., i] W[o, i, j] x2[..., j] + b[o].

    Args:
        input1: (*, in1_features).
        input2: (*, in2_features), the same leading dimensions as input1.
        weight: (out_features, in1_features, in2_features).
        bias: (out_features,) or None.

    Shape:
        input1 (*, I1), input2 (*, I2), weight (O, I1, I2) -> output (*, O).
    """
    _check_float_tensor(input1, "input1", "bilinear")
    _check_float_tensor(input2, "input2", "bilinear")
    _check_float_tensor(weight, "weight", "bilinear")
    _check_float_tensor(bias, "bias", "bilinear", optional=True)
    _check_dtypes("bilinear", input1, input2, weight, bias)
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be 3-D (out, in1, in2), got shape "
                           f"{tuple(weight.shape)}")
    if input1.ndim < 1 or input1.ndim != input2.ndim:
        raise RuntimeError(f"bilinear(): input1 and input2 must have the same number of "
                           f"dimensions (>= 1), got {input1.ndim} and {input2.ndim}")
    for d, (a, b) in enumerate(zip(input1.shape[:-1], input2.shape[:-1])):
        if a != b:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {d}: "
                               f"got {a} and {b}")
    if input1.shape[-1] != weight.shape[1]:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got "
                           f"{input1.shape[-1]} but expected {weight.shape[1]}")
    if input2.shape[-1] != weight.shape[2]:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got "
                           f"{input2.shape[-1]} but expected {weight.shape[2]}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got "
                           f"{tuple(bias.shape)} but expected ({weight.shape[0]},)")
    return L.Bilinear.apply(input1, input2, weight, bias)
