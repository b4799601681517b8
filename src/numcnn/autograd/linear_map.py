"""A linear map as a differentiable op, for the recorded backward passes of linear ops.

Pooling, padding, dropout, indexing and the like are linear in their input: their backward is
the transpose of a fixed map A (fixed by what forward saved: window geometry, max-pool
winners, a dropout mask), gx = A^T gy.  Recorded as `LinearMap(A^T, A)`, that backward can be
differentiated again: the gradient of g -> A^T g is h -> A h, itself a `LinearMap(A, A^T)`,
so any order of derivative works with no further code.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from numcnn.autograd.function import Context, Function

ArrayMap = Callable[[np.ndarray], np.ndarray]


class LinearMap(Function):
    """y = fn(g) for a linear `fn` on arrays;  dg = adjoint(gy), with `adjoint` = fn^T."""

    @staticmethod
    def forward(ctx: Context, g, *, fn: ArrayMap, adjoint: ArrayMap):
        ctx.maps = (fn, adjoint)
        return np.asarray(fn(g))

    @staticmethod
    def backward(ctx: Context, gy):
        return (ctx.maps[1](gy),)

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        fn, adjoint = ctx.maps
        return (LinearMap.apply(gy, fn=adjoint, adjoint=fn),)


def linear_map(g: Any, fn: ArrayMap, adjoint: ArrayMap) -> Any:
    """`fn(g)` on a Tensor `g`, recorded so that its gradient is `adjoint` (see LinearMap)."""
    return LinearMap.apply(g, fn=fn, adjoint=adjoint)


__all__ = ["LinearMap", "linear_map"]
