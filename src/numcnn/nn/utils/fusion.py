"""Folding an eval-mode batch norm into the convolution or linear layer before it, as
`torch.nn.utils.fusion`.

In eval mode a batch norm is an affine map per channel,

    BN(z) = a * z + t,    a = gamma / sqrt(running_var + eps),  t = beta - running_mean * a,

so BN(conv(x)) = conv'(x) with the kernel of output channel o scaled by a[o] and the bias
b'[o] = (b[o] - running_mean[o]) * a[o] + beta[o] (the same for a linear layer's rows).  The
fused layer computes the same function with one pass fewer over memory; `numcnn.nn.fastpath`
does this on the fly at inference time, these functions give the folded layer to keep.
"""

from __future__ import annotations

import copy
from typing import TypeVar

import numpy as np

from numcnn.nn.module import Module
from numcnn.nn.parameter import Parameter
from numcnn.tensor import Tensor

__all__ = ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval",
           "fuse_linear_bn_weights"]

ConvT = TypeVar("ConvT", bound=Module)
LinearT = TypeVar("LinearT", bound=Module)


def _arr(t: Tensor | None) -> np.ndarray | None:
    return None if t is None else t.array


def _check_eval(layer: Module, bn: Module) -> None:
    if layer.training or bn.training:
        raise AssertionError("Fusion only for eval!")
    if bn.running_mean is None or bn.running_var is None:
        raise AssertionError("bn.running_mean and bn.running_var must not be None")


def fuse_conv_bn_eval(conv: ConvT, bn: Module, transpose: bool = False) -> ConvT:
    """A copy of `conv` (eval mode) computing bn(conv(x)); `transpose` for ConvTranspose,
    whose output channels are the weight's dim 1.  Raises AssertionError (as torch) when
    either module is training or bn has no running statistics."""
    _check_eval(conv, bn)
    fused = copy.deepcopy(conv)
    fused.weight, fused.bias = fuse_conv_bn_weights(
        fused.weight, fused.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias,
        transpose)
    return fused


def fuse_conv_bn_weights(conv_w: Tensor, conv_b: Tensor | None, bn_rm: Tensor, bn_rv: Tensor,
                         bn_eps: float, bn_w: Tensor | None, bn_b: Tensor | None,
                         transpose: bool = False) -> tuple[Parameter, Parameter]:
    """(w', b') with w'[o] = w[o] * a[o] and b' = (b - running_mean) * a + beta, a = gamma /
    sqrt(running_var + eps); missing conv bias / gamma / beta count as 0 / 1 / 0.  The results
    keep the conv weight's (and bias's) dtype and requires_grad (a new bias: no grad)."""
    w = conv_w.array
    rm, rv = bn_rm.array, bn_rv.array
    b = np.zeros_like(rm) if conv_b is None else conv_b.array
    gamma = np.ones_like(rm) if bn_w is None else bn_w.array
    beta = np.zeros_like(rm) if bn_b is None else bn_b.array
    scale = gamma / np.sqrt(rv + bn_eps)
    shape = [1, -1] if transpose else [-1, 1]
    fw = (w * scale.reshape(shape + [1] * (w.ndim - 2))).astype(w.dtype)
    fb = ((b - rm) * scale + beta).astype(w.dtype if conv_b is None else conv_b.array.dtype)
    return (Parameter(Tensor(fw), conv_w.requires_grad),
            Parameter(Tensor(fb), False if conv_b is None else conv_b.requires_grad))


def fuse_linear_bn_eval(linear: LinearT, bn: Module) -> LinearT:
    """A copy of `linear` (eval mode) computing bn(linear(x)).  bn.num_features must equal
    linear.out_features or be 1 (AssertionError otherwise, as torch)."""
    _check_eval(linear, bn)
    if linear.out_features != bn.num_features and bn.num_features != 1:
        raise AssertionError(
            "To fuse, linear.out_features == bn.num_features or bn.num_features == 1, got "
            f"linear.out_features={linear.out_features} and bn.num_features={bn.num_features}")
    fused = copy.deepcopy(linear)
    fused.weight, fused.bias = fuse_linear_bn_weights(
        fused.weight, fused.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias)
    return fused


def fuse_linear_bn_weights(linear_w: Tensor, linear_b: Tensor | None, bn_rm: Tensor,
                           bn_rv: Tensor, bn_eps: float, bn_w: Tensor, bn_b: Tensor
                           ) -> tuple[Parameter, Parameter]:
    """(W', b') with row j of W scaled by a[j] and b' = (b - running_mean) * a + beta."""
    w, rm = linear_w.array, bn_rm.array
    b = np.zeros_like(rm) if linear_b is None else linear_b.array
    scale = bn_w.array / np.sqrt(bn_rv.array + bn_eps)
    fw = (w * scale[:, None].astype(w.dtype)).astype(w.dtype)
    fb = ((b - rm) * scale + bn_b.array).astype(w.dtype if linear_b is None
                                                else linear_b.array.dtype)
    return (Parameter(Tensor(fw), linear_w.requires_grad),
            Parameter(Tensor(fb), False if linear_b is None else linear_b.requires_grad))
