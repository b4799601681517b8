"""Draw docs/img/landscape/resnet20_vs_plain20.png: the loss landscapes of ResNet-20 and its
plain twin (no shortcuts), trained with the same recipe, on the same grid and colour levels
(Li et al. 2018, Fig. 5; seed 003's ResNet-56 with/without skip connections).

    numcnn train --model resnet20 --epochs 2 --limit 4000 --out /work/runs/resnet20
    numcnn train --model plain20  --epochs 2 --limit 4000 --out /work/runs/plain20
    python scripts/landscape_figure.py /work/runs/resnet20/last.safetensors \\
        /work/runs/plain20/last.safetensors --steps 15 --limit 200 --npz /work/runs/grids.npz

Both landscapes use the same directions seed, span and the first N training images. The
grids are saved to --npz (outside the repository); with --from-npz the script only draws.
It prints, per model: the centre loss, the loss range, the curvature at the centre (second
differences along each direction) and the fraction of interior grid points where the discrete
2x2 Hessian (second and mixed differences) is positive semidefinite ("convex-looking").
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import numcnn.nn.functional as F
from numcnn.cli.landscape import _training_batches
from numcnn.train.run import model_from, read_checkpoint
from numcnn.viz.landscape import Landscape, loss_landscape, plot_landscape

OUT_DIR = os.path.join(os.path.dirname(__file__), "..", "docs", "img", "landscape")


def curvature(land: Landscape) -> tuple[float, float]:
    """Second differences at the centre: (L(h,0) - 2 L(0,0) + L(-h,0)) / h^2 along each axis
    (the grid's middle point; an odd number of steps puts it at theta*)."""
    i, j = len(land.alphas) // 2, len(land.betas) // 2          # type: ignore[arg-type]
    h = land.alphas[1] - land.alphas[0]
    z = land.losses
    return ((z[i + 1, j] - 2 * z[i, j] + z[i - 1, j]) / h ** 2,
            (z[i, j + 1] - 2 * z[i, j] + z[i, j - 1]) / h ** 2)


def convex_fraction(land: Landscape) -> float:
    """The fraction of interior points whose discrete Hessian [[Laa, Lab], [Lab, Lbb]] is
    positive semidefinite (central second and mixed differences)."""
    z = land.losses
    laa = z[2:, 1:-1] - 2 * z[1:-1, 1:-1] + z[:-2, 1:-1]
    lbb = z[1:-1, 2:] - 2 * z[1:-1, 1:-1] + z[1:-1, :-2]
    lab = (z[2:, 2:] - z[2:, :-2] - z[:-2, 2:] + z[:-2, :-2]) / 4
    convex = (laa >= 0) & (lbb >= 0) & (laa * lbb - lab * lab >= 0)
    return float(convex.mean())


def compute(paths: list[str], steps: int, limit: int, span: float, seed: int
            ) -> list[Landscape]:
    lands = []
    for path in paths:
        model, config = model_from(read_checkpoint(path))
        batches = _training_batches(config, limit, 256, None)
        start = time.perf_counter()
        lands.append(loss_landscape(model, F.cross_entropy, batches, steps=(steps, steps),
                                    span=span, seed=seed, progress=True))
        print(f"{path}: {steps}x{steps} grid on {limit} images in "
              f"{time.perf_counter() - start:.0f}s", file=sys.stderr)
    return lands


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoints", nargs=2, help="the ResNet-20 and the plain-20 checkpoint")
    p.add_argument("--names", nargs=2, default=["ResNet-20", "plain-20"])
    p.add_argument("--steps", type=int, default=15)
    p.add_argument("--limit", type=int, default=200)
    p.add_argument("--span", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--npz", default="/work/runs/landscape_grids.npz")
    p.add_argument("--from-npz", action="store_true", help="draw the saved grids only")
    p.add_argument("--out-dir", default=OUT_DIR)
    args = p.parse_args()

    if args.from_npz:
        saved = np.load(args.npz)
        lands = [Landscape(saved["alphas"], saved["betas"], saved[f"losses{k}"],
                           float(saved[f"center{k}"]), saved[f"accuracies{k}"])
                 for k in range(2)]
    else:
        lands = compute(args.checkpoints, args.steps, args.limit, args.span, args.seed)
        np.savez(args.npz, alphas=lands[0].alphas, betas=lands[0].betas,
                 **{f"losses{k}": x.losses for k, x in enumerate(lands)},
                 **{f"center{k}": x.center_loss for k, x in enumerate(lands)},
                 **{f"accuracies{k}": x.accuracies for k, x in enumerate(lands)})
    for name, land in zip(args.names, lands):
        caa, cbb = curvature(land)
        print(f"{name}: centre loss {land.center_loss:.4f}, range {land.losses.min():.4f} .. "
              f"{land.losses.max():.4f}, curvature at the centre {caa:.3f} (d1) {cbb:.3f} (d2), "
              f"convex-looking {convex_fraction(land):.2f} of interior points")

    os.makedirs(args.out_dir, exist_ok=True)
    fig = plot_landscape(lands, titles=args.names,
                         title=f"Loss landscapes, same directions seed, grid and levels "
                               f"({args.limit} training images)")
    fig.savefig(os.path.join(args.out_dir, "resnet20_vs_plain20.png"), dpi=60)
    for name, land in zip(args.names, lands):
        single = plot_landscape(land, title=name)
        single.savefig(os.path.join(args.out_dir, name.lower().replace("-", "") + ".png"),
                       dpi=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
