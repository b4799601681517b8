"""Distances and similarities between batches of vectors, as torch.nn.functional's:
cosine_similarity and pairwise_distance.  Written with differentiable tensor ops (norm,
clamp, sum), so their gradients come from those ops' kernels.
"""

from __future__ import annotations

import numpy as np

from numcnn.nn.functional._checks import check_tensor
from numcnn.tensor import Tensor, _norm_dim

__all__ = ["cosine_similarity", "pairwise_distance", "pdist"]


def _broadcast(x1: Tensor, x2: Tensor, fname: str) -> tuple[Tensor, Tensor]:
    check_tensor(x1, "x1", fname)
    check_tensor(x2, "x2", fname)
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise RuntimeError(
            f"{fname}: the size of x1 {list(x1.shape)} and x2 {list(x2.shape)} must be "
            f"broadcastable"
        ) from None
    return x1.expand(shape), x2.expand(shape)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between x1 and x2 along `dim`:
    y = sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps)) over dim; the gradient treats
    max(., eps) as the identity (as torch's).

    Shape:
        x1, x2 broadcastable to (*, D, *) -> output (*, *) (dim removed).
    """
    a, b = _broadcast(x1, x2, "cosine_similarity")
    d = _norm_dim(dim, a.ndim)
    return ((a / _floored_norm(a, d, eps)) * (b / _floored_norm(b, d, eps))).sum(d)


def _floored_norm(x: Tensor, d: int, eps: float) -> Tensor:
    """max(||x||, eps) along d, kept; the floor is a constant shift, so the gradient flows
    through the norm as if it were not floored (as torch's)."""
    n = x.norm(2, dim=d, keepdim=True)
    return n + (n.clamp_min(eps) - n).detach()


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """The p-norm of x1 - x2 + eps over the last dim: y = ||x1 - x2 + eps||_p.

    Shape:
        x1, x2 broadcastable to (*, D) -> output (*) ((*, 1) with keepdim).
    """
    check_tensor(x1, "x1", "pairwise_distance")
    check_tensor(x2, "x2", "pairwise_distance")
    ndim = max(x1.ndim, x2.ndim)
    diff = x1 - x2 + eps
    if ndim == 0:
        return diff.abs() if p != 0 else (diff != 0).to(diff.dtype)
    return diff.norm(p, dim=ndim - 1, keepdim=keepdim)


def pdist(input: Tensor, p: float = 2) -> Tensor:
    """p-norm distances between all pairs of rows: y = [||x_i - x_j||_p for i < j], in the
    row-major order of the upper triangle (as the rows of scipy's condensed form).

    The gradient of a zero distance is 0 (as torch's).

    Shape:
        input (N, M) -> output (N * (N - 1) / 2,).
    """
    check_tensor(input, "input", "pdist")
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if input.dtype.kind != "f":
        raise RuntimeError(f"pdist only supports floating-point dtypes, got {input.dtype}")
    if p < 0:
        raise RuntimeError(f"pdist only supports non-negative p values, got {p}")
    i, j = np.triu_indices(input.shape[0], k=1)
    diff = input[Tensor(i)] - input[Tensor(j)]                      # (P, M)
    return diff.norm(p, dim=1)
