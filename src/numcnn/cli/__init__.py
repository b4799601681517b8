"""The `numcnn` command line, one module per command.

Each command module exposes `add_parser(sub, fmt) -> None` (adds its sub-command to the parser
of `numcnn`) and `run(args) -> int` (the exit status); `numcnn.cli.main` builds the parser from
`COMMANDS`, dispatches, and turns errors into one line on stderr. A command only parses, calls
the library and prints or writes files: everything it does, Python can do.

    train      train a model, then evaluate it       eval       accuracy of a checkpoint
    predict    classify image files                  datasets   where the data is found
    summary    layers, parameters, MACs, memory      rf         receptive fields
    viz        feature maps, filters, activation maximisation, Grad-CAM, saliency, occlusion
    landscape  the loss landscape around a trained model's weights
    report     one self-contained HTML page for a training run
    compress   prune, quantise (int8, powers of two) or binarise a trained model

`numcnn.cli.args` holds the argparse pieces every command shares (the one-line-error parser,
argument types that check numbers); this package's `check_png_path` / `write_png` the PNG
output of viz and landscape.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from numcnn._atomic import atomic_write

__all__ = ["check_png_path", "write_png"]


def check_png_path(path: str | os.PathLike[str]) -> Path:
    """`path` as a Path, if it names a .png file in an existing folder.

    Raises:
        ValueError: `path` does not end in .png, or its folder does not exist.
    """
    target = Path(path)
    if target.suffix.lower() != ".png":
        raise ValueError(f"--out must be a .png file, got {str(path)!r}")
    if not target.parent.is_dir():
        raise ValueError(f"the folder of --out does not exist: {target.parent}")
    return target


def write_png(fig: Any, path: str | os.PathLike[str]) -> Path:
    """Save a matplotlib figure as a PNG file, atomically (a temporary file beside `path`,
    renamed over it), and close the figure.

    Raises:
        ValueError: `path` does not end in .png, or its folder does not exist.
    """
    from numcnn.viz.report import figure_png

    data = figure_png(fig)                        # closes the figure, whatever follows
    target = check_png_path(path)
    with atomic_write(target) as f:
        f.write(data)
    return target
