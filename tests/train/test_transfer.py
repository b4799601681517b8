"""numcnn.train.transfer: stem adaptation, head replacement, key checks, auxiliary classifiers,
head/stem names, freezing, parameter groups, frozen batch norms.

Oracles: the stem formulas written out channel by channel, the promise they make (a 3-channel
model on a grey image (g, g, g) equals the 1-channel adapted model on g; a constant image keeps
its response for C channels), the state_dicts before and after, and torchvision's key order in
the shared ../shared/zoo/torchvision_state_dicts.json for the head and stem names.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import numcnn
import numcnn.nn as nn
from numcnn.models import googlenet, inception_v3
from numcnn.train import transfer as tl
from numcnn.train.models import build

SHARED = Path(__file__).resolve().parents[3] / "shared" / "zoo"


def arrays(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def randomise_bn(model: nn.Module, seed: int) -> None:
    """Give every batch norm running statistics other than (0, 1), so that eval-mode outputs
    depend on them."""
    rng = np.random.default_rng(seed)
    for mod in model.modules():
        if isinstance(mod, nn.BatchNorm2d):
            c = mod.running_mean.shape[0]
            mod.running_mean.array[...] = rng.normal(0, 0.1, c)
            mod.running_var.array[...] = rng.uniform(0.5, 1.5, c)


# ----------------------------------------------------------------------------- the stem
def test_adapt_stem_weight_formulas() -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 3, 3, 3))
    one = tl.adapt_stem_weight(w, 1)
    assert one.shape == (4, 1, 3, 3)
    np.testing.assert_allclose(one[:, 0], w[:, 0] + w[:, 1] + w[:, 2], rtol=1e-15)
    for c in (2, 5):
        many = tl.adapt_stem_weight(w, c)
        assert many.shape == (4, c, 3, 3) and many.dtype == w.dtype
        mean = (w[:, 0] + w[:, 1] + w[:, 2]) / 3
        for k in range(c):
            np.testing.assert_allclose(many[:, k], mean * 3 / c, rtol=1e-14)
    w32 = w.astype(np.float32)
    assert tl.adapt_stem_weight(w32, 4).dtype == np.float32
    assert tl.adapt_stem_weight(w32, 3) is w32                    # already fits: unchanged


def test_grey_image_gives_the_rgb_models_output() -> None:
    """f3((g, g, g)) == f1(g) for the 1-channel model adapted from the 3-channel one."""
    numcnn.manual_seed(1)
    m3 = build("resnet20", in_channels=3, num_classes=4).double()
    randomise_bn(m3, 1)
    m1 = build("resnet20", in_channels=1, num_classes=4).double()
    notes = tl.transfer(m1, arrays(m3), head="keep")
    assert any(n.startswith("stem conv1: 3 -> 1 input channels") for n in notes), notes
    m3.eval(), m1.eval()
    g = np.random.default_rng(2).uniform(0, 1, (3, 1, 12, 12))
    with numcnn.no_grad():
        y3 = m3(numcnn.tensor(np.repeat(g, 3, axis=1))).numpy()
        y1 = m1(numcnn.tensor(g)).numpy()
    assert y1.dtype == np.float64
    np.testing.assert_allclose(y1, y3, rtol=1e-10, atol=1e-12)
    # and the weights themselves: the sum over the RGB filters
    np.testing.assert_array_equal(m1.conv1.weight.detach().numpy(),
                                  m3.conv1.weight.detach().numpy().sum(axis=1, keepdims=True))


def test_constant_image_keeps_its_response_for_c_channels() -> None:
    numcnn.manual_seed(2)
    m3 = build("resnet20", in_channels=3, num_classes=4).double()
    randomise_bn(m3, 2)
    m5 = build("resnet20", in_channels=5, num_classes=4).double()
    tl.transfer(m5, arrays(m3), head="keep")
    m3.eval(), m5.eval()
    levels = np.array([0.2, 0.7]).reshape(2, 1, 1, 1)
    with numcnn.no_grad():
        y3 = m3(numcnn.tensor(np.broadcast_to(levels, (2, 3, 10, 10)).copy())).numpy()
        y5 = m5(numcnn.tensor(np.broadcast_to(levels, (2, 5, 10, 10)).copy())).numpy()
    np.testing.assert_allclose(y5, y3, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- the head
def test_new_head_keeps_the_models_init_and_copies_the_rest() -> None:
    numcnn.manual_seed(3)
    source = arrays(build("resnet20", in_channels=1, num_classes=10))
    for classes in (10, 3):                         # same class count or another: "new"
        numcnn.manual_seed(100 + classes)
        model = build("resnet20", in_channels=1, num_classes=classes)
        before = arrays(model)
        notes = tl.transfer(model, source, head="new")
        after = arrays(model)
        assert notes == [f"head fc: new, ({classes}, 64)"]
        for k, v in after.items():
            if k.startswith("fc."):
                np.testing.assert_array_equal(v, before[k], err_msg=k)
                assert not np.array_equal(v[:3], source[k][:3]), k
            else:
                np.testing.assert_array_equal(v, source[k], err_msg=k)


def test_keep_head_copies_it_and_refuses_another_class_count() -> None:
    numcnn.manual_seed(4)
    source = arrays(build("resnet20", in_channels=1, num_classes=10))
    model = build("resnet20", in_channels=1, num_classes=10)
    assert tl.transfer(model, source, head="keep") == []
    for k, v in arrays(model).items():
        np.testing.assert_array_equal(v, source[k], err_msg=k)
    other = build("resnet20", in_channels=1, num_classes=3)
    with pytest.raises(tl.TransferError, match=r"--head keep: .*fc .*\(10, 64\).*\(3, 64\)"):
        tl.transfer(other, source, head="keep")
    with pytest.raises(ValueError, match="head must be 'new' or 'keep'"):
        tl.transfer(other, source, head="old")


def test_mismatches_name_the_keys() -> None:
    numcnn.manual_seed(5)
    source = arrays(build("resnet20", in_channels=1, num_classes=10))
    model = build("resnet20", in_channels=1, num_classes=10)
    before = arrays(model)

    missing = {k: v for k, v in source.items() if k != "layer1.0.bn1.running_mean"}
    with pytest.raises(tl.TransferError,
                       match=r"CifarResNet: missing layer1\.0\.bn1\.running_mean"):
        tl.transfer(model, missing)
    extra = {**source, "extra.weight": np.zeros(3, np.float32)}
    with pytest.raises(tl.TransferError, match=r"unexpected extra\.weight"):
        tl.transfer(model, extra)
    bad = dict(source)
    bad["layer2.0.conv1.weight"] = np.zeros((32, 16, 1, 1), np.float32)
    with pytest.raises(tl.TransferError,
                       match=r"shape mismatch layer2\.0\.conv1\.weight \(32, 16, 1, 1\) vs "
                             r"\(32, 16, 3, 3\)"):
        tl.transfer(model, bad)
    # nothing was loaded by the failed calls
    for k, v in arrays(model).items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


@pytest.mark.parametrize("name, make, aux", [
    ("googlenet", lambda: googlenet(aux_logits=True, num_classes=7), ("aux1.", "aux2.")),
    ("inception_v3", lambda: inception_v3(aux_logits=True, num_classes=7), ("AuxLogits.",)),
])
def test_auxiliary_classifiers_are_dropped(name: str, make: object, aux: tuple[str, ...]
                                           ) -> None:
    numcnn.manual_seed(6)
    source = arrays(make())                         # type: ignore[operator]
    n_aux = sum(k.startswith(aux) for k in source)
    assert n_aux > 0
    target = build(name, num_classes=7)             # the command line's: no aux heads
    assert not any(k.startswith(aux) for k in target.state_dict())
    notes = tl.transfer(target, source, head="keep")
    assert notes == [f"dropped {n_aux} auxiliary-classifier tensors"]
    after = arrays(target)
    assert set(after) == {k for k in source if not k.startswith(aux)}
    for k, v in after.items():
        np.testing.assert_array_equal(v, source[k], err_msg=k)


# ----------------------------------------------------------------------------- names
# (model, head, stem) as the architectures define them (torchvision's module names)
NAMES = [("resnet18", "fc", "conv1"), ("alexnet", "classifier.6", "features.0"),
         ("squeezenet1_1", "classifier.1", "features.0"),
         ("mobilenet_v2", "classifier.1", "features.0.0"),
         ("mobilenet_v3_small", "classifier.3", "features.0.0"),
         ("densenet121", "classifier", "features.conv0"),
         ("shufflenet_v2_x0_5", "fc", "conv1.0"), ("googlenet", "fc", "conv1.conv"),
         ("mnasnet0_5", "classifier.1", "layers.0")]


@pytest.mark.parametrize("name, head, stem", NAMES)
def test_head_and_stem_names(name: str, head: str, stem: str) -> None:
    model = build(name, num_classes=1000)
    assert tl.head_name(model) == head
    assert tl.stem_name(model) == stem
    # torchvision's key order: the stem's weight is the first tensor, the head's weight the
    # last matrix / filter bank
    keys = json.loads((SHARED / "torchvision_state_dicts.json").read_text())[name]["state_dict"]
    assert keys[0][0] == stem + ".weight"
    assert [k for k, shape, _ in keys if len(shape) in (2, 4)][-1] == head + ".weight"


def test_names_of_the_command_lines_models() -> None:
    assert (tl.head_name(build("resnet20")), tl.stem_name(build("resnet20"))) == ("fc", "conv1")
    lenet = build("lenet5")
    last = [n for n, m in lenet.named_modules() if isinstance(m, nn.Linear)][-1]
    first = [n for n, m in lenet.named_modules() if isinstance(m, nn.Conv2d)][0]
    assert tl.head_name(lenet) == last and tl.stem_name(lenet) == first
    assert lenet.get_submodule(last).out_features == 10
    assert lenet.get_submodule(first).in_channels == 1
    with pytest.raises(tl.TransferError, match="no Linear or Conv2d head"):
        tl.head_name(nn.Sequential(nn.ReLU()))


# ----------------------------------------------------------------------------- freezing
def test_freeze_backbone_and_prefixes() -> None:
    model = build("resnet20", in_channels=1, num_classes=5)
    names = [n for n, _ in model.named_parameters()]
    frozen = tl.freeze(model, ["backbone"])
    assert frozen == [n for n in names if n not in ("fc.weight", "fc.bias")]
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {"fc.weight", "fc.bias"}

    model = build("resnet20", in_channels=1, num_classes=5)
    frozen = tl.freeze(model, ["layer1.", "conv1"])
    assert frozen == [n for n in names if n.startswith("layer1.") or n == "conv1.weight"]
    assert {n for n, p in model.named_parameters() if not p.requires_grad} == set(frozen)

    with pytest.raises(tl.TransferError,
                       match=r"--freeze layer: no parameter under it; the model's modules: "
                             r"bn1, conv1, fc, layer1, layer2, layer3 \(or 'backbone': all but "
                             r"fc\)"):
        tl.freeze(build("resnet20"), ["layer"])


def test_frozen_norm_layers_are_those_with_every_parameter_frozen() -> None:
    model = build("resnet20", in_channels=1, num_classes=5)
    tl.freeze(model, ["layer1", "layer2.0.bn1.weight"])       # bn1's bias stays trainable
    found = {id(m) for m in tl.frozen_norm_layers(model)}
    expected = {id(m) for n, m in model.named_modules()
                if n.startswith("layer1.") and isinstance(m, nn.BatchNorm2d)}
    assert len(expected) == 6 and found == expected
    tl.freeze(model, ["backbone"])
    assert {id(m) for m in tl.frozen_norm_layers(model)} == \
        {id(m) for m in model.modules() if isinstance(m, nn.BatchNorm2d)}


def test_param_groups_learning_rates() -> None:
    model = build("resnet20", in_channels=1, num_classes=5)
    tl.freeze(model, ["layer1"])
    trainable = [p for n, p in model.named_parameters() if not n.startswith("layer1.")]
    (one,) = tl.param_groups(model, lr=0.01)
    assert one["lr"] == 0.01 and [id(p) for p in one["params"]] == [id(p) for p in trainable]

    body, head = tl.param_groups(model, lr=0.01, backbone_lr_scale=0.25)
    assert body["lr"] == pytest.approx(0.0025, rel=1e-15) and head["lr"] == 0.01
    assert [id(p) for p in head["params"]] == [id(model.fc.weight), id(model.fc.bias)]
    assert [id(p) for p in body["params"]] == [id(p) for p in trainable[:-2]]

    tl.freeze(model, ["backbone"])
    (only_head,) = tl.param_groups(model, lr=0.01, backbone_lr_scale=0.25)
    assert only_head["lr"] == 0.01 and len(only_head["params"]) == 2
    tl.freeze(model, ["fc"])
    with pytest.raises(tl.TransferError, match="every parameter is frozen"):
        tl.param_groups(model, lr=0.01)


def test_transfer_lets_a_module_convert_its_older_layout() -> None:
    """A version-1 MNASNet state (stem 32/16 wide at alpha 0.5, `_metadata` as torch.save
    keeps it) goes into a 1-channel, 5-class version-2 model: the shapes that differ are left
    to MNASNet's own conversion, the stem is summed, every other tensor copied."""
    from collections import OrderedDict

    from numcnn.models.mnasnet import _get_depths, _stem, mnasnet0_5

    numcnn.manual_seed(0)
    source = mnasnet0_5()
    for idx, layer in enumerate(_stem(3, 32, 16, _get_depths(0.5)[2])):
        source.layers[idx] = layer
    state = OrderedDict((k, v.array.copy()) for k, v in source.state_dict().items())
    state._metadata = OrderedDict({"": {"version": 1}})  # type: ignore[attr-defined]
    assert state["layers.0.weight"].shape == (32, 3, 3, 3)

    target = build("mnasnet0_5", in_channels=1, num_classes=5, image_size=64)
    with pytest.warns(UserWarning, match="version 1"):
        notes = tl.transfer(target, state, head="new")
    assert any("older state-dict version" in n for n in notes)
    got = target.state_dict()
    np.testing.assert_array_equal(got["layers.0.weight"].array,
                                  state["layers.0.weight"].sum(axis=1, keepdims=True))
    for key, value in state.items():
        if key != "layers.0.weight" and not key.startswith("classifier.1."):
            np.testing.assert_array_equal(got[key].array, value)
    assert target(numcnn.zeros(2, 1, 64, 64)).shape == (2, 5)

    # without the version, the same shapes are an error naming them, and nothing is loaded
    plain = OrderedDict(state)
    fresh = build("mnasnet0_5", in_channels=1, num_classes=5, image_size=64)
    before = {k: v.array.copy() for k, v in fresh.state_dict().items()}
    with pytest.raises(tl.TransferError, match="shape mismatch layers.0.weight"):
        tl.transfer(fresh, plain, head="new")
    for k, v in fresh.state_dict().items():
        np.testing.assert_array_equal(v.array, before[k])
