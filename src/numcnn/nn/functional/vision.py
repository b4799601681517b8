"""Spatial transformers with torch.nn.functional's names: affine_grid and grid_sample.

`affine_grid` turns a batch of affine matrices into a sampling grid, and `grid_sample` reads an
input at a grid's points (Jaderberg et al., "Spatial Transformer Networks", NeurIPS 2015).  The
kernels and their coordinate rules are in `numcnn.ops.grid`.
"""

from __future__ import annotations

import warnings
from typing import Sequence

from numcnn.nn.functional._checks import check_bool, check_tensor, is_int
from numcnn.ops import grid as G
from numcnn.tensor import Tensor

__all__ = ["affine_grid", "grid_sample"]

_DEFAULT_CHANGED = ("Default grid_sample and affine_grid behavior has changed to "
                    "align_corners=False since 1.3.0. Please specify align_corners=True if the "
                    "old behavior is desired. See the documentation of grid_sample for details.")


def _align_corners(align_corners: bool | None, fn: str) -> bool:
    """None warns (as PyTorch) and means False."""
    if align_corners is None:
        warnings.warn(_DEFAULT_CHANGED, stacklevel=3)
        return False
    return check_bool(align_corners, "align_corners", fn)


def affine_grid(theta: Tensor, size: Sequence[int], align_corners: bool | None = None) -> Tensor:
    """Sampling grid of a batch of affine transforms, for `grid_sample`.

    Args:
        theta: (N, 2, 3) affine matrices for 2-D, (N, 3, 4) for 3-D; floating point.
        size: the output size (N, C, H, W) or (N, C, D, H, W).
        align_corners: True puts -1 and 1 on the centres of the corner pixels, False (the
            default, with a warning when left as None) on their outer edges.

    Shape:
        theta (N, d, d + 1) -> grid (N, H, W, 2) or (N, D, H, W, 3),
        grid[n, i, j] = theta[n] @ (x_j, y_i, 1), x_j = linspace(-1, 1, W)[j], scaled by
        (W - 1) / W without align_corners (y_i likewise over H, z over D; 0 on a unit axis).
    """
    align = _align_corners(align_corners, "affine_grid")
    check_tensor(theta, "theta", "affine_grid")
    if theta.dtype.kind != "f":
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    if not isinstance(size, Sequence) or not all(is_int(s) for s in size):
        raise TypeError(f"affine_grid(): argument 'size' must be a sequence of ints, got "
                        f"{size!r}")
    size = tuple(int(s) for s in size)
    if len(size) == 4:
        if theta.ndim != 3 or tuple(theta.shape[1:]) != (2, 3):
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size "
                             f"{size}. Got {tuple(theta.shape)}.")
    elif len(size) == 5:
        if theta.ndim != 3 or tuple(theta.shape[1:]) != (3, 4):
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size "
                             f"{size}. Got {tuple(theta.shape)}.")
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    spatial = size[2:]
    if align and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size "
                      "grids when align_corners=True. This is not an intended use case of "
                      "affine_grid. See the documentation of affine_grid for details.",
                      stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if theta.shape[0] != size[0]:
        raise RuntimeError(f"affine_grid(): theta holds {theta.shape[0]} matrices but size "
                           f"asks for a batch of {size[0]}")
    return G.AffineGrid.apply(theta, spatial=spatial, align_corners=align)


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear",
                padding_mode: str = "zeros", align_corners: bool | None = None) -> Tensor:
    """Sample `input` at the (x, y[, z]) locations in `grid` (values in [-1, 1]).

    Args:
        input: (N, C, H, W) or (N, C, D, H, W), floating point.
        grid: (N, H_out, W_out, 2) or (N, D_out, H_out, W_out, 3) of the same dtype; the last
            axis is (x, y[, z]): x indexes W, y indexes H, z indexes D.
        mode: 'bilinear' (trilinear for 5-D), 'nearest' (round half to even) or 'bicubic'
            (4-D only; cubic convolution with A = -0.75).
        padding_mode: what points outside the input read: 'zeros', 'border' (the nearest
            edge pixel) or 'reflection' (the input mirrored at its edges).
        align_corners: True maps -1 and 1 to the centres of the corner pixels, False (the
            default, with a warning when left as None) to their outer edges.

    Shape:
        input (N, C, *S_in), grid (N, *S_out, d) -> output (N, C, *S_out), with
        u = (c + 1)/2 (L - 1) (align_corners) or ((c + 1) L - 1)/2 per axis of length L;
        bilinear: y = sum over the 2^d corners of prod_k (1 - |u_k - i_k|) x[i].
    """
    check_tensor(input, "input", "grid_sample")
    check_tensor(grid, "grid", "grid_sample")
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    align = _align_corners(align_corners, "grid_sample")
    x_shape, g_shape = list(input.shape), list(grid.shape)
    if input.dtype != grid.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have the same dtype, "
                           f"but input has {input.dtype} and grid has {grid.dtype}")
    if input.dtype.kind != "f":
        raise NotImplementedError(f"grid_sampler(): input and grid must be floating point "
                                  f"(float32 or float64), got {input.dtype}")
    if not x_shape or not g_shape or x_shape[0] != g_shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, "
                           f"but got input with sizes {x_shape} and grid with sizes {g_shape}")
    if g_shape[-1] != input.ndim - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {input.ndim - 2} in "
                           f"last dimension, but got grid with sizes {g_shape}")
    if input.ndim not in (4, 5) or grid.ndim != input.ndim:
        raise RuntimeError(f"grid_sampler(): expected 4D or 5D input and grid with same number "
                           f"of dimensions, but got input with sizes {x_shape} and grid with "
                           f"sizes {g_shape}")
    for i in range(2, input.ndim):
        if x_shape[i] == 0:
            raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial "
                               f"dimensions, but input has sizes {x_shape} with dimension {i} "
                               f"being empty")
    if mode == "bicubic" and input.ndim != 4:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    return G.GridSample.apply(input, grid, mode=mode, padding_mode=padding_mode,
                              align_corners=align)
