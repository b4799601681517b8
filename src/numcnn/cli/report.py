"""`numcnn report RUN_DIR [--out FILE.html]`: one self-contained HTML page for a training run
(`numcnn.viz.write_report`); `numcnn train --report` writes it when training ends.

    numcnn report runs/fmnist-cnn-20260101-120000           # -> runs/.../report.html
    numcnn report runs/lenet --checkpoint runs/lenet/last.safetensors --out lenet.html
"""

from __future__ import annotations

import argparse
from typing import Any

from numcnn.cli.args import int_at_least, positive_int

__all__ = ["add_parser", "run"]


def add_parser(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add `numcnn report` to the sub-command parsers `sub`."""
    rp = sub.add_parser(
        "report", formatter_class=fmt, help="write one self-contained HTML page for a run",
        description="Write one HTML file describing a run of 'numcnn train': its settings, "
                    "learning curves,\ntest accuracy, confusion matrix and per-class accuracy, "
                    "misclassified test images,\nfirst-layer filters, feature maps, Grad-CAM "
                    "overlays and the model summary. Pictures are\ninlined, so the file stands "
                    "alone. The test split is read as 'numcnn eval' reads it\n(the whole split "
                    "unless --limit).")
    rp.add_argument("run_dir", metavar="RUN_DIR", help="a run directory of 'numcnn train'")
    rp.add_argument("--out", metavar="FILE.html", default=None,
                    help="the HTML file (default RUN_DIR/report.html)")
    rp.add_argument("--checkpoint", metavar="CHECKPOINT", default=None,
                    help="default RUN_DIR/best.safetensors, else RUN_DIR/last.safetensors")
    rp.add_argument("--num-images", type=int_at_least(1, "an integer in 1..64"), default=8,
                    metavar="N", help="test images in the Grad-CAM grid (default 8)")
    rp.add_argument("--limit", type=positive_int, default=None, metavar="N",
                    help="evaluate only the first N test images (default: all)")
    rp.add_argument("--root", metavar="DIR", default=None,
                    help="directory holding the dataset's IDX files (as 'numcnn eval')")


def run(args: argparse.Namespace) -> int:
    """Write the report and print its path."""
    from numcnn.viz.report import write_report

    path = write_report(args.run_dir, out=args.out, checkpoint=args.checkpoint,
                        num_images=args.num_images, limit=args.limit, root=args.root)
    print(f"wrote {path}")
    return 0
