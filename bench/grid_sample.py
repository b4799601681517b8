"""Benchmark (not a test): F.grid_sample and F.affine_grid, numcnn vs PyTorch in the same run.

    python bench/grid_sample.py [--repeats 7]

A spatial-transformer-sized workload: (N, C, H, W) float32 features sampled at an affine grid
(a random rotation, scale and shift per image, about a tenth of the points outside the input),
for each mode and padding mode; forward alone and forward + backward (gradients of the input
and of the grid).  Timing is `bench/ops.py`'s `time_row` (median of blocks of calls, both
frameworks alternating, pauses between blocks).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ops import Row, time_row  # noqa: E402  (one timing loop for every op benchmark)

N, C, H, W = 16, 32, 32, 32


def _make(rng: np.random.Generator, n: int = N, c: int = C, h: int = H, w: int = W,
          out: tuple[int, int] = (H, W)) -> dict[str, np.ndarray]:
    """Input features and the grid of a random similarity transform per image."""
    angle = rng.uniform(-0.5, 0.5, n)
    scale = rng.uniform(0.8, 1.2, n)
    theta = np.zeros((n, 2, 3))
    theta[:, 0, 0] = theta[:, 1, 1] = scale * np.cos(angle)
    theta[:, 0, 1] = -scale * np.sin(angle)
    theta[:, 1, 0] = scale * np.sin(angle)
    theta[:, :, 2] = rng.uniform(-0.15, 0.15, (n, 2))
    ys, xs = np.meshgrid(np.linspace(-1, 1, out[0]), np.linspace(-1, 1, out[1]), indexing="ij")
    base = np.stack([xs, ys, np.ones_like(xs)], axis=-1).reshape(-1, 3)
    grid = (base @ theta.transpose(0, 2, 1)).reshape(n, out[0], out[1], 2)
    return {"x": rng.standard_normal((n, c, h, w), dtype=np.float32),
            "g": grid.astype(np.float32)}


def _row(mode: str, padding: str) -> Row:
    return Row("grid_sample", f"{N}x{C}x{H}x{W} {mode} {padding}", _make,
               lambda F, t: F.grid_sample(t["x"], t["g"], mode, padding, False),
               flops=0, grad=("x", "g"))


ROWS = [
    _row("bilinear", "zeros"),
    _row("bilinear", "border"),
    _row("bilinear", "reflection"),
    _row("nearest", "zeros"),
    _row("bicubic", "zeros"),
    _row("bicubic", "reflection"),
    Row("grid_sample", "2x16x8x32x32 trilinear zeros",
        lambda r: {"x": r.standard_normal((2, 16, 8, 32, 32), dtype=np.float32),
                   "g": r.uniform(-1.1, 1.1, (2, 8, 32, 32, 3)).astype(np.float32)},
        lambda F, t: F.grid_sample(t["x"], t["g"], "bilinear", "zeros", False),
        flops=0, grad=("x", "g")),
    Row("affine_grid", f"{N}x2x3 -> {N}x{H}x{W}",
        lambda r: {"t": r.standard_normal((N, 2, 3), dtype=np.float32)},
        lambda F, t: F.affine_grid(t["t"], (N, C, H, W), False), flops=0, grad=("t",)),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} "
          f"threads), float32; median of {args.repeats} runs\n")
    head = (f"{'op':<12} {'shape':<34} {'fwd ms':>8} {'torch':>8} {'ratio':>6} "
            f"{'f+b ms':>8} {'torch':>8} {'ratio':>6}")
    print(head)
    print("-" * len(head))
    for row in ROWS:
        r = time_row(row, args.repeats)
        nf, tf, nb, tb = r["numcnn fwd"], r["torch fwd"], r["numcnn f+b"], r["torch f+b"]
        print(f"{row.op:<12} {row.shape:<34} {nf:8.2f} {tf:8.2f} {nf / tf:6.2f} "
              f"{nb:8.2f} {tb:8.2f} {nb / tb:6.2f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
