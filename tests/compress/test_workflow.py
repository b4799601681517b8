"""numcnn.compress.workflow: the counts `numcnn compress` prints, against hand counts and the
files themselves."""

from __future__ import annotations

import os

import numpy as np

import numcnn
import numcnn.compress as C
import numcnn.nn as nn
from numcnn.compress import workflow as W
from numcnn.nn.utils import prune

CONFIG = {"model_args": {"in_channels": 1, "image_size": 8}}


def _net() -> nn.Module:
    numcnn.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4 * 8 * 8, 3))


def test_counts_of_a_float_model_are_its_parameters() -> None:
    net = _net()
    total, nonzero = W.count_parameters(net)
    assert total == sum(p.array.size for p in net.parameters()) == 36 + 4 + 8 + 768 + 3
    assert nonzero == sum(int(np.count_nonzero(p.array)) for p in net.parameters())


def test_counts_and_macs_of_a_pruned_model() -> None:
    net = _net()
    _, nonzero_before = W.count_parameters(net)
    prune.l1_unstructured(net[4], "weight", amount=0.75)          # 576 of 768 zero
    total, nonzero = W.count_parameters(net)
    assert total == 819                                            # masks and stats not counted
    assert nonzero == nonzero_before - 576
    macs = W.model_macs(net, CONFIG)
    # conv: 64 positions x 4 x 9; BN: 256; linear: 768 -> only 192 non-zero weights
    assert macs == 64 * 36 + 256 + 768
    assert W.nonzero_model_macs(net, CONFIG) == 64 * 36 + 256 + 192


def test_file_bytes_are_those_of_the_saved_file(tmp_path: os.PathLike[str]) -> None:
    net = _net()
    path = os.path.join(tmp_path, "f.safetensors")
    numcnn.save({"model": net.state_dict(), "run": CONFIG}, path)
    assert W.file_bytes(net, CONFIG) == os.path.getsize(path)
    C.iterative_prune(net, 0.9)
    path = os.path.join(tmp_path, "s.safetensors")
    C.save(net, path, run=CONFIG)
    assert W.file_bytes(net, CONFIG) == os.path.getsize(path)


def test_summary_counts_the_int8_weights_of_a_quantised_model() -> None:
    from numcnn.analysis import summary
    from numcnn.compress.quantize import quantize_static
    from numcnn.train.models import lenet5

    numcnn.manual_seed(0)
    net = lenet5().eval()
    x = np.random.default_rng(0).standard_normal((16, 1, 28, 28)).astype(np.float32)
    q = quantize_static(net, [x])
    s = summary(q, (1, 28, 28))
    weights = sum(m.weight.array.size for m in net.modules() if hasattr(m, "weight"))
    biases = sum(m.bias.array.size for m in net.modules() if getattr(m, "bias", None) is not None)
    assert s.total_params == weights + biases == 61_706
    assert s.trainable_params == 0
    assert s.param_bytes == weights * 1 + biases * 4            # int8 weights, float32 biases
