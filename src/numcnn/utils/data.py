"""`numcnn.utils.data` is `numcnn.data`, as `torch.utils.data` is where PyTorch keeps it.

This module replaces itself in `sys.modules` with `numcnn.data`, so both names are one module:
`numcnn.utils.data.DataLoader is numcnn.data.DataLoader`.
"""

from __future__ import annotations

import sys

import numcnn.data as _data

sys.modules[__name__] = _data
