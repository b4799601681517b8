"""torchvision's deprecated `pretrained=` argument (seed 004 writes
`models.resnet18(pretrained=True)`): True loads the IMAGENET1K_V1 weights, False none, both
warn; served from a local folder (NUMCNN_WEIGHTS_URL), the real server being unreachable."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

import numcnn
import numcnn.models as M
from numcnn.models import SqueezeNet1_1_Weights
from numcnn.models.squeezenet import squeezenet1_1 as family_factory


def _serve_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, np.ndarray]:
    """A squeezenet1_1 state dict in torch's format, in a mirror folder, named with the real
    SHA-256 prefix of its bytes; the enum member's URL renamed to it."""
    numcnn.manual_seed(3)
    state = M.squeezenet1_1().state_dict()
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    raw = mirror / "raw.pth"
    numcnn.save(state, raw)
    prefix = hashlib.sha256(raw.read_bytes()).hexdigest()[:8]
    name = f"squeezenet1_1-{prefix}.pth"
    raw.rename(mirror / name)
    member = SqueezeNet1_1_Weights.IMAGENET1K_V1
    monkeypatch.setattr(member.value, "url", member.url.rsplit("/", 1)[0] + "/" + name)
    monkeypatch.setenv("NUMCNN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NUMCNN_WEIGHTS_URL", str(mirror))
    return {k: v.array.copy() for k, v in state.items()}


def test_pretrained_true_loads_imagenet1k_v1_with_a_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served = _serve_weights(tmp_path, monkeypatch)
    with pytest.warns(UserWarning, match=r"pretrained=True\) is deprecated.*IMAGENET1K_V1"):
        model = M.squeezenet1_1(pretrained=True, progress=False)
    got = model.state_dict()
    assert set(got) == set(served)
    for k, v in served.items():
        np.testing.assert_array_equal(got[k].array, v)
    # the same through the family module and the registry
    for factory in (family_factory, M.MODELS["squeezenet1_1"], M.get_model):
        with pytest.warns(UserWarning):
            args = ("squeezenet1_1",) if factory is M.get_model else ()
            other = factory(*args, pretrained=True, progress=False)
        np.testing.assert_array_equal(other.state_dict()["features.0.weight"].array,
                                      served["features.0.weight"])


def test_pretrained_false_is_random_with_a_warning() -> None:
    with pytest.warns(UserWarning, match=r"use weights=None"):
        model = M.resnet18(pretrained=False, num_classes=7)
    assert model.fc.out_features == 7


def test_pretrained_and_weights_together_is_an_error() -> None:
    with pytest.raises(TypeError, match="not both"):
        M.resnet18(pretrained=True, weights="DEFAULT")
