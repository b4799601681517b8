"""Distance layers mirroring torch.nn: CosineSimilarity and PairwiseDistance, each calling its
`numcnn.nn.functional` counterpart."""

from __future__ import annotations

from numcnn.nn import functional as F
from numcnn.nn.module import Module
from numcnn.tensor import Tensor

__all__ = ["CosineSimilarity", "PairwiseDistance"]


class CosineSimilarity(Module):
    """y = sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along `dim`.

    Shape:
        x1, x2 broadcastable to (*, D, *) -> output (*, *) (dim removed).
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """y = ||x1 - x2 + eps||_p over the last dim.

    Shape:
        x1, x2 broadcastable to (*, D) -> output (*) ((*, 1) with keepdim).
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
