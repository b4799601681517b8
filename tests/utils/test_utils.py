"""numcnn.utils.data is numcnn.data (torch.utils.data's place), and numcnn.utils is cheap."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

import numcnn.data


def test_utils_data_is_numcnn_data():
    import numcnn.utils.data as ud
    from numcnn.utils.data import DataLoader, Dataset, TensorDataset, get_worker_info, random_split

    assert ud is numcnn.data
    assert DataLoader is numcnn.data.DataLoader and Dataset is numcnn.data.Dataset
    assert get_worker_info is numcnn.data.get_worker_info
    import numcnn.utils as nu

    assert nu.data.DataLoader is numcnn.data.DataLoader
    parts = random_split(TensorDataset(np.arange(10)), [7, 3], generator=0)
    assert [len(p) for p in parts] == [7, 3]
    batches = list(DataLoader(parts[1], batch_size=2))
    assert [len(b[0]) for b in batches] == [2, 1]


def test_import_numcnn_utils_loads_nothing_more():
    code = ("import sys, numcnn; before = set(sys.modules); import numcnn.utils; "
            "new = sorted(set(sys.modules) - before); print(new)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "['numcnn.utils']"
    code = "import numcnn.utils.data as d, numcnn.data; print(d is numcnn.data)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "True"
