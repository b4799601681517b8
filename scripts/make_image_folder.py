"""Write a small image folder of generated colour photos-to-be, for trying
`numcnn train --data imagefolder` without real photos.

    python scripts/make_image_folder.py runs/shapes-folder --per-class 60
    numcnn train --model resnet18 --data imagefolder --root runs/shapes-folder --image-size 64

Three classes (circle, square, triangle), each image a shape of random colour, size and
position on a noisy background of another colour, with its own width and height (64-128
pixels), saved as PNG in `ROOT/<class>/<index>.png` (needs Pillow: pip install
'numcnn[image]'). The folder has no train/ and test/ sub-folders, so `numcnn train` tests on
every fifth image of each class and trains on the rest.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

CLASSES = ("circle", "square", "triangle")


def shape_mask(kind: str, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A boolean (h, w) mask of one shape of random size and position."""
    r = rng.uniform(0.2, 0.4) * min(h, w)
    cy, cx = rng.uniform(r, h - r), rng.uniform(r, w - r)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    if kind == "circle":
        return np.asarray((y - cy) ** 2 + (x - cx) ** 2 <= r * r)
    if kind == "square":
        return np.asarray((np.abs(y - cy) <= r * 0.85) & (np.abs(x - cx) <= r * 0.85))
    # an upward triangle: below the two slanted edges, above the base
    top = cy - r
    return np.asarray((y <= cy + r * 0.7) & (np.abs(x - cx) <= (y - top) * 0.6) & (y >= top))


def image(kind: str, rng: np.random.Generator) -> np.ndarray:
    h, w = (int(v) for v in rng.integers(64, 129, size=2))
    background = rng.uniform(0, 255, size=3)
    colour = rng.uniform(0, 255, size=3)
    img = background + rng.normal(0, 25, size=(h, w, 3))
    img[shape_mask(kind, h, w, rng)] = colour + rng.normal(0, 10, size=3)
    return np.clip(img, 0, 255).astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", help="the folder to write")
    ap.add_argument("--per-class", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    try:
        from PIL import Image
    except ImportError:
        raise SystemExit("writing PNG files needs Pillow: pip install 'numcnn[image]'") from None
    rng = np.random.default_rng(args.seed)
    for kind in CLASSES:
        folder = Path(args.root) / kind
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(args.per_class):
            Image.fromarray(image(kind, rng)).save(folder / f"{i:04d}.png")
    print(f"wrote {len(CLASSES) * args.per_class} images in {len(CLASSES)} classes to "
          f"{args.root}")


if __name__ == "__main__":
    main()
