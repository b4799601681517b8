"""`numcnn.train.cli`: where the `numcnn` command line used to live; it is now `numcnn.cli`
(one module per command, `numcnn.cli.main` parses and dispatches). These names stay for code
that imported them from here.
"""

from __future__ import annotations

from numcnn.cli.main import CLIError, build_parser, main

__all__ = ["main", "build_parser", "CLIError"]
