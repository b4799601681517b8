"""Inception-v3: torchvision's layout with and without AuxLogits, a torchvision state_dict through
safetensors against an independent torch forward (eval at 80x80; the auxiliary head; training
with the auxiliary head at 299x299), forward+backward, and torchvision's initialisation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from tests.helpers import assert_close
from tests.models.zoo import (
    assert_forward_backward,
    assert_matches_oracle,
    assert_torchvision_layout,
    load_through_safetensors,
    random_torchvision_state_dict,
    trainable_params,
)

import numcnn
from numcnn.models import get_model
from numcnn.models.inception import (
    MODELS,
    Inception3,
    InceptionAux,
    InceptionOutputs,
    inception_v3,
)

TF = torch.nn.functional
AUX = "inception_v3(aux_logits=True)"


@pytest.mark.parametrize("name", ["inception_v3", AUX])
def test_layout_matches_torchvision(name: str) -> None:
    # init_weights=False: the layout does not depend on it, and it spares 24M truncated normals
    assert_torchvision_layout(inception_v3(aux_logits=name == AUX, init_weights=False), name)


def test_parameter_counts() -> None:
    assert trainable_params(inception_v3(init_weights=False)) == 23_834_568
    # AuxLogits by hand: conv0 1x1 768->128 + BN, conv1 5x5 128->768 + BN, fc 768->1000
    aux = (768 * 128 + 2 * 128) + (128 * 768 * 25 + 2 * 768) + (768 * 1000 + 1000)
    assert aux == 3_326_696
    assert trainable_params(inception_v3(aux_logits=True, init_weights=False)) \
        == 23_834_568 + aux == 27_161_264


class TorchInceptionV3:
    """Inception-v3 in torch.nn.functional, block by block as the paper's figures draw them.
    Convolutions pad to keep the size ("same") except the stride-2 ones and the stem's and
    auxiliary head's "valid" ones."""

    def __init__(self, sd: dict[str, torch.Tensor], training: bool = False) -> None:
        self.sd, self.training = sd, training

    def cbr(self, p: str, x: torch.Tensor, stride: int = 1, same: bool = True) -> torch.Tensor:
        sd, w = self.sd, self.sd[p + ".conv.weight"]
        x = TF.conv2d(x, w, stride=stride,
                      padding=(w.shape[2] // 2, w.shape[3] // 2) if same else 0)
        x = TF.batch_norm(x, sd[p + ".bn.running_mean"].clone(),
                          sd[p + ".bn.running_var"].clone(), sd[p + ".bn.weight"],
                          sd[p + ".bn.bias"], training=self.training, eps=1e-3)
        return TF.relu(x)

    def chain(self, p: str, names: list[str], x: torch.Tensor) -> torch.Tensor:
        for n in names:
            x = self.cbr(f"{p}.{n}", x)
        return x

    def pool_branch(self, p: str, x: torch.Tensor) -> torch.Tensor:
        return self.cbr(p + ".branch_pool", TF.avg_pool2d(x, 3, 1, 1))

    def a(self, p: str, x: torch.Tensor) -> torch.Tensor:              # Fig. 5
        return torch.cat([self.cbr(p + ".branch1x1", x),
                          self.chain(p, ["branch5x5_1", "branch5x5_2"], x),
                          self.chain(p, [f"branch3x3dbl_{i}" for i in (1, 2, 3)], x),
                          self.pool_branch(p, x)], 1)

    def b(self, p: str, x: torch.Tensor) -> torch.Tensor:              # 35 -> 17
        dbl = self.chain(p, ["branch3x3dbl_1", "branch3x3dbl_2"], x)
        return torch.cat([self.cbr(p + ".branch3x3", x, 2, same=False),
                          self.cbr(p + ".branch3x3dbl_3", dbl, 2, same=False),
                          TF.max_pool2d(x, 3, 2)], 1)

    def c(self, p: str, x: torch.Tensor) -> torch.Tensor:              # Fig. 6
        return torch.cat([self.cbr(p + ".branch1x1", x),
                          self.chain(p, [f"branch7x7_{i}" for i in (1, 2, 3)], x),
                          self.chain(p, [f"branch7x7dbl_{i}" for i in (1, 2, 3, 4, 5)], x),
                          self.pool_branch(p, x)], 1)

    def d(self, p: str, x: torch.Tensor) -> torch.Tensor:              # 17 -> 8
        b3 = self.cbr(p + ".branch3x3_1", x)
        b7 = self.chain(p, [f"branch7x7x3_{i}" for i in (1, 2, 3)], x)
        return torch.cat([self.cbr(p + ".branch3x3_2", b3, 2, same=False),
                          self.cbr(p + ".branch7x7x3_4", b7, 2, same=False),
                          TF.max_pool2d(x, 3, 2)], 1)

    def e(self, p: str, x: torch.Tensor) -> torch.Tensor:              # Fig. 7
        b3 = self.cbr(p + ".branch3x3_1", x)
        dbl = self.chain(p, ["branch3x3dbl_1", "branch3x3dbl_2"], x)
        return torch.cat([self.cbr(p + ".branch1x1", x),
                          self.cbr(p + ".branch3x3_2a", b3), self.cbr(p + ".branch3x3_2b", b3),
                          self.cbr(p + ".branch3x3dbl_3a", dbl),
                          self.cbr(p + ".branch3x3dbl_3b", dbl),
                          self.pool_branch(p, x)], 1)

    def aux(self, x: torch.Tensor) -> torch.Tensor:                    # Fig. 8
        x = self.cbr("AuxLogits.conv0", TF.avg_pool2d(x, 5, 3))
        x = self.cbr("AuxLogits.conv1", x, same=False).mean(dim=(2, 3))
        return TF.linear(x, self.sd["AuxLogits.fc.weight"], self.sd["AuxLogits.fc.bias"])

    def __call__(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.cbr("Conv2d_1a_3x3", x, 2, same=False)
        x = self.cbr("Conv2d_2a_3x3", x, same=False)
        x = TF.max_pool2d(self.cbr("Conv2d_2b_3x3", x), 3, 2)
        x = self.cbr("Conv2d_4a_3x3", self.cbr("Conv2d_3b_1x1", x), same=False)
        x = TF.max_pool2d(x, 3, 2)
        for name in ("5b", "5c", "5d"):
            x = self.a("Mixed_" + name, x)
        x = self.b("Mixed_6a", x)
        for name in ("6b", "6c", "6d", "6e"):
            x = self.c("Mixed_" + name, x)
        auxes = [self.aux(x)] if self.training and "AuxLogits.fc.weight" in self.sd else []
        x = self.e("Mixed_7c", self.e("Mixed_7b", self.d("Mixed_7a", x)))
        x = TF.linear(x.mean(dim=(2, 3)), self.sd["fc.weight"], self.sd["fc.bias"])
        return [x, *auxes]


def test_torchvision_weights_give_torchs_outputs(tmp_path: Any) -> None:
    sd = random_torchvision_state_dict("inception_v3", seed=1)
    model = load_through_safetensors(inception_v3(init_weights=False), sd, tmp_path).eval()
    x = np.random.default_rng(2).standard_normal((1, 3, 80, 80)).astype(np.float32)
    with numcnn.no_grad():
        ours = model(numcnn.tensor(x))
    (theirs,) = TorchInceptionV3(sd)(torch.from_numpy(x))
    assert_matches_oracle(ours, theirs)


def test_transform_input_matches_torch(tmp_path: Any) -> None:
    sd = random_torchvision_state_dict("inception_v3", seed=3)
    model = inception_v3(transform_input=True, init_weights=False)
    load_through_safetensors(model, sd, tmp_path).eval()
    x = np.random.default_rng(4).standard_normal((1, 3, 75, 75)).astype(np.float32)
    with numcnn.no_grad():
        ours = model(numcnn.tensor(x))
    # ImageNet normalisation undone, then (x - 0.5) / 0.5
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    (theirs,) = TorchInceptionV3(sd)((torch.from_numpy(x) * std + mean - 0.5) / 0.5)
    assert_matches_oracle(ours, theirs)


def test_aux_head_matches_torch(tmp_path: Any) -> None:
    sd = random_torchvision_state_dict(AUX, seed=5)
    model = inception_v3(aux_logits=True, init_weights=False)
    load_through_safetensors(model, sd, tmp_path).eval()
    assert model.AuxLogits is not None
    x = np.random.default_rng(6).standard_normal((2, 768, 17, 17)).astype(np.float32)
    with numcnn.no_grad():
        ours = model.AuxLogits(numcnn.tensor(x))
    assert_matches_oracle(ours, TorchInceptionV3(sd).aux(torch.from_numpy(x)))


@pytest.mark.slow
def test_training_outputs_with_aux_match_torch(tmp_path: Any) -> None:
    """Training mode at 299x299 (batch statistics), dropout off: InceptionOutputs.

    In float64: batch statistics over 2 images of 8x8 maps (Mixed_7) amplify float32 rounding
    to ~2e-4 in numcnn and torch alike."""
    sd = random_torchvision_state_dict(AUX, seed=7)
    model = inception_v3(aux_logits=True, dropout=0.0, init_weights=False)
    load_through_safetensors(model, sd, tmp_path).double().train()
    x = np.random.default_rng(8).standard_normal((2, 3, 299, 299))
    with numcnn.no_grad():
        ours = model(numcnn.tensor(x))
    assert isinstance(ours, InceptionOutputs)
    sd64 = {k: v.double() if v.is_floating_point() else v for k, v in sd.items()}
    theirs = TorchInceptionV3(sd64, training=True)(torch.from_numpy(x))
    for field, a, b in zip(InceptionOutputs._fields, ours, theirs):
        assert_close(a, b, rtol=1e-7, atol=1e-9, what=field)


def test_forward_backward() -> None:
    """The network at 80x80, and its auxiliary head alone on the 17x17 grid it needs (the
    whole model with the head needs 299x299: the slow test below)."""
    assert_forward_backward(get_model("inception_v3", num_classes=6), (2, 3, 80, 80), 6)
    assert_forward_backward(InceptionAux(768, 6), (2, 768, 17, 17), 6)


@pytest.mark.slow
def test_forward_backward_with_aux_at_299() -> None:
    model = get_model("inception_v3", num_classes=6, aux_logits=True)
    assert_forward_backward(model, (2, 3, 299, 299), 6, n_outputs=2)
    with numcnn.no_grad():                                   # eval: logits only, any size >= 75
        assert tuple(model.eval()(numcnn.zeros(1, 3, 75, 75)).shape) == (1, 6)


def test_arguments() -> None:
    model = inception_v3(in_channels=1, init_weights=False)
    assert tuple(model.Conv2d_1a_3x3.conv.weight.shape) == (32, 1, 3, 3)
    assert model.AuxLogits is None and Inception3(init_weights=False).AuxLogits is not None
    with pytest.raises(ValueError, match="transform_input"):
        inception_v3(in_channels=4, transform_input=True)
    assert MODELS["inception_v3"] is inception_v3


def test_initialisation_follows_torchvision() -> None:
    numcnn.manual_seed(0)
    model = inception_v3(aux_logits=True)
    assert model.AuxLogits is not None

    def std(p: numcnn.Tensor) -> float:
        return float(p.detach().numpy().std())

    # N(0, 0.1) for convs and Linears (truncation at +-2 = 20 sigma changes nothing)...
    assert abs(std(model.Mixed_7c.branch3x3dbl_2.conv.weight) / 0.1 - 1) < 0.01
    assert abs(std(model.fc.weight) / 0.1 - 1) < 0.01
    # ... including the auxiliary conv1 (torchvision's 0.01 never reaches it), but not the
    # auxiliary fc: 0.001
    assert abs(std(model.AuxLogits.conv1.conv.weight) / 0.1 - 1) < 0.01
    assert abs(std(model.AuxLogits.fc.weight) / 0.001 - 1) < 0.01
    # Linear biases keep the default U(-1/sqrt(2048), 1/sqrt(2048))
    assert np.abs(model.fc.bias.detach().numpy()).max() <= 1 / np.sqrt(2048)
    for name, p in model.named_parameters():
        if ".bn." in name:
            assert (p.detach().numpy() == (1.0 if name.endswith("weight") else 0.0)).all(), name
