"""torch.load's keywords on numcnn.load: `torch.load(path, map_location="cpu",
weights_only=True)` runs with only the import changed; GPU targets and code are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import numcnn


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
@pytest.mark.parametrize("map_location", [None, "cpu", "cpu:0", {"cuda:0": "cpu"},
                                          lambda storage, loc: storage])
def test_map_location_to_the_cpu_loads_the_same(tmp_path: Path, suffix: str,
                                                map_location: object) -> None:
    path = tmp_path / f"w{suffix}"
    state = {"w": numcnn.arange(6.0).reshape(2, 3)}
    numcnn.save(state, path)
    for weights_only in (True, False, None):
        got = numcnn.load(path, map_location=map_location, weights_only=weights_only,
                          mmap=True)
        np.testing.assert_array_equal(got["w"].array, state["w"].array)
    if map_location is not None and not callable(map_location):
        got = numcnn.load(path, numcnn.device("cpu") if map_location == "cpu" else map_location)
        np.testing.assert_array_equal(got["w"].array, state["w"].array)


@pytest.mark.parametrize("map_location", ["cuda", "cuda:1", {"cpu": "cuda:0"}, "mps"])
def test_map_location_elsewhere_is_refused(tmp_path: Path, map_location: object) -> None:
    path = tmp_path / "w.pt"
    numcnn.save({"w": numcnn.zeros(1)}, path)
    with pytest.raises(ValueError, match="CPU only"):
        numcnn.load(path, map_location=map_location)


def test_weights_only_false_still_refuses_code(tmp_path: Path) -> None:
    import pickle
    import zipfile

    marker = tmp_path / "ran"
    payload = pickle.dumps(
        type("Evil", (), {"__reduce__": lambda self: (eval, (f"open({str(marker)!r}, 'w')",))})(),
        protocol=2)
    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("evil/data.pkl", payload)
        z.writestr("evil/version", "3\n")
    with pytest.raises(ValueError, match="eval"):
        numcnn.load(path, weights_only=False)
    assert not marker.exists()
