"""Winograd minimal filtering for stride-1 3x3 convolutions (work in progress: not used yet).

`xcorr` is the hook `numcnn.ops.conv._xcorr` calls before its im2col paths: it computes the
convolution into `y` and returns True where the Winograd algorithm is chosen for the shape,
and returns False (leaving `y` alone) everywhere else.
"""

from __future__ import annotations

import numpy as np


def xcorr(xp: np.ndarray, wk: np.ndarray, kernel_size, stride, dilation, out_size,
          y: np.ndarray, bias: np.ndarray | None) -> bool:
    """Compute y = xcorr(xp, wk) + bias by Winograd's algorithm where it is chosen; else False.

    Shapes are `_xcorr`'s: xp (N, *Sp, C) channels-last, wk (G, KK*Cg, Og), y (N, *So, G*Og).
    """
    return False
