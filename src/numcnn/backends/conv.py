"""`numcnn.backends.conv`: how numcnn computes its convolutions (numcnn's own switches; PyTorch
has none of these names).

`winograd` chooses when a stride-1, dilation-1, ungrouped 3x3 2-D convolution (forward, and the
stride-1 input gradient, which is one too) is computed by Winograd's minimal filtering
(`numcnn.ops.winograd`) instead of im2col + GEMM:

- ``False`` (the default): never.  Results stay bit for bit the same on every run, which
  numcnn promises for equal seeds.  (On the development machine Winograd won on some of the
  seed CNN's and resnet18's shapes by 10-50% and lost on others, and the winner moved with
  the load: `bench/bench_winograd.py`, numbers in `numcnn.ops.winograd`'s docstring.)
- ``"auto"``: a small autotuner, in the spirit of ``torch.backends.cudnn.benchmark = True``:
  the first call of each shape (batch, H, W, C, O, dtype) that is large enough to matter
  (`winograd_min_macs`) times the im2col path, F(2x2,3x3) and F(4x4,3x3) against each other
  and keeps the fastest for that shape for the rest of the process (a tile must take under
  `numcnn.ops.winograd.WIN_MARGIN` = 0.9 of im2col's time).  Which one wins can differ
  between runs on a noisy machine, so results can differ in the last bits between runs (never
  by more than the error bound documented in `numcnn.ops.winograd`).
- ``True``: always, with the tile `winograd_tile` (2: F(2x2,3x3), 4: F(4x4,3x3)).

`winograd_reset()` forgets what the autotuner chose.
"""

from __future__ import annotations

winograd: bool | str = False
winograd_tile: int = 2
#: "auto" leaves convolutions with fewer multiply-adds than this (N*Ho*Wo*C*O*9) to im2col
#: without timing them: their time is too short to measure well and Winograd did not win there.
winograd_min_macs: int = 1 << 27


def winograd_reset() -> None:
    """Forget the autotuner's choices (the next call of each shape times the algorithms again)."""
    from numcnn.ops import winograd as _w

    _w.reset_choices()
