"""numcnn.models.vgg: torchvision's VGGs (layout, weights, outputs, init) and the paper's
configurations A, A-LRN, B, C, D, E (Table 1), with their counts derived by hand (Table 2).

Building a VGG spends ~10 s here in the initialisers (132M+ values, mostly fc6), so tests that
need only shapes, or any finite values, build with the initialisers switched off (`_build`)
and, where values matter, fill the parameters with cheap float32 noise (`_fill`). The
initialisation itself is tested once, on vgg11_bn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as tF
from tests.models.zoo import (
    assert_torchvision_layout,
    load_through_safetensors,
    random_torchvision_state_dict,
    trainable_params,
)

import numcnn
from numcnn import nn
from numcnn.models import list_models
from numcnn.models.vgg import MODELS, VGG, cfgs, make_layers
from numcnn.nn import init

TORCHVISION_NAMES = ["vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
                     "vgg19_bn"]
PAPER_NAMES = ["vgg_a", "vgg_a_lrn", "vgg_b", "vgg_c", "vgg_d", "vgg_e"]


def _build(name: str, skip: tuple[str, ...] | None = None, **kwargs: Any) -> VGG:
    """MODELS[name](**kwargs) with the initialisers in `skip` (default: all) doing nothing, so
    the parameters keep whatever their freshly allocated storage holds."""
    names = [n for n in init.__all__ if n.endswith("_")] if skip is None else skip
    with pytest.MonkeyPatch.context() as mp:
        for fn in names:
            mp.setattr(init, fn, lambda tensor, *args, **kw: tensor)
        model = MODELS[name](**kwargs)
    assert isinstance(model, VGG)
    return model


def _fill(model: nn.Module, seed: int) -> nn.Module:
    """Weights ~ U(-sqrt(6/fan_in), sqrt(6/fan_in)) (variance 2/fan_in), 1-D parameters
    (biases, batch-norm affine) ~ U(0.5, 1), drawn in float32 to stay cheap."""
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        if p.ndim > 1:
            bound = np.float32(np.sqrt(6.0 / np.prod(p.shape[1:])))
            rng.random(out=p.array, dtype=np.float32)     # in place: U(0, 1)
            p.array *= 2 * bound
            p.array -= bound
        else:
            p.array[...] = rng.uniform(0.5, 1.0, p.shape)
    return model


def test_models_dict_and_registry() -> None:
    assert list(MODELS) == TORCHVISION_NAMES + PAPER_NAMES
    assert set(MODELS) <= set(list_models())


# ------------------------------------------------------------------ torchvision's layout


@pytest.mark.parametrize("name", TORCHVISION_NAMES)
def test_torchvision_layout(name: str) -> None:
    assert_torchvision_layout(_build(name), name)


def test_paper_configurations_a_b_d_e_are_torchvisions_11_13_16_19() -> None:
    for paper, tv in (("vgg_a", "vgg11"), ("vgg_b", "vgg13"), ("vgg_d", "vgg16"),
                      ("vgg_e", "vgg19")):
        assert_torchvision_layout(_build(paper), tv)


# ------------------------------------------------------------------ counts by hand


def test_counts_by_hand_and_table_2() -> None:
    # one convolution: C_out kernels of k x k x C_in, one bias each
    c3_3_64 = 64 * (3 * 3 * 3) + 64                # 1,792
    c3_64_64 = 64 * (3 * 3 * 64) + 64              # 36,928
    c3_64_128 = 128 * (3 * 3 * 64) + 128           # 73,856
    c3_128_128 = 128 * (3 * 3 * 128) + 128         # 147,584
    c3_128_256 = 256 * (3 * 3 * 128) + 256         # 295,168
    c3_256_256 = 256 * (3 * 3 * 256) + 256         # 590,080
    c1_256_256 = 256 * (1 * 1 * 256) + 256         # 65,792
    c3_256_512 = 512 * (3 * 3 * 256) + 512         # 1,180,160
    c3_512_512 = 512 * (3 * 3 * 512) + 512         # 2,359,808
    c1_512_512 = 512 * (1 * 1 * 512) + 512         # 262,656
    # FC-4096 on the 512x7x7 maps, FC-4096, FC-1000: the same in every configuration
    fc = (4096 * (512 * 7 * 7) + 4096) + (4096 * 4096 + 4096) + (1000 * 4096 + 1000)
    assert fc == 102_764_544 + 16_781_312 + 4_097_000 == 123_642_856

    blocks = {   # Table 1, block by block
        "A": [[c3_3_64], [c3_64_128], [c3_128_256, c3_256_256],
              [c3_256_512, c3_512_512], [c3_512_512, c3_512_512]],
        "B": [[c3_3_64, c3_64_64], [c3_64_128, c3_128_128], [c3_128_256, c3_256_256],
              [c3_256_512, c3_512_512], [c3_512_512, c3_512_512]],
        "C": [[c3_3_64, c3_64_64], [c3_64_128, c3_128_128],
              [c3_128_256, c3_256_256, c1_256_256],
              [c3_256_512, c3_512_512, c1_512_512], [c3_512_512, c3_512_512, c1_512_512]],
        "D": [[c3_3_64, c3_64_64], [c3_64_128, c3_128_128],
              [c3_128_256, c3_256_256, c3_256_256],
              [c3_256_512, c3_512_512, c3_512_512], [c3_512_512] * 3],
        "E": [[c3_3_64, c3_64_64], [c3_64_128, c3_128_128],
              [c3_128_256] + [c3_256_256] * 3,
              [c3_256_512] + [c3_512_512] * 3, [c3_512_512] * 4],
    }
    blocks["A-LRN"] = blocks["A"]          # LRN has no parameters
    total = {cfg: sum(map(sum, b)) + fc for cfg, b in blocks.items()}
    assert total == {"A": 132_863_336, "A-LRN": 132_863_336, "B": 133_047_848,
                     "C": 133_638_952, "D": 138_357_544, "E": 143_667_240}
    weight_layers = {cfg: sum(map(len, b)) + 3 for cfg, b in blocks.items()}
    assert weight_layers == {"A": 11, "A-LRN": 11, "B": 13, "C": 16, "D": 16, "E": 19}
    # Table 2 (millions): A, A-LRN, B, C, D, E
    assert [round(total[c] / 1e6) for c in ("A", "A-LRN", "B", "C", "D", "E")] == \
        [133, 133, 133, 134, 138, 144]

    # torchvision's _bn variants: batch norm adds a scale and a shift per channel of every
    # convolution (its running statistics are buffers, not trainable)
    bn_extra = {"A": 2 * (64 + 128 + 2 * 256 + 4 * 512),
                "B": 2 * (2 * 64 + 2 * 128 + 2 * 256 + 4 * 512),
                "D": 2 * (2 * 64 + 2 * 128 + 3 * 256 + 6 * 512),
                "E": 2 * (2 * 64 + 2 * 128 + 4 * 256 + 8 * 512)}
    assert bn_extra == {"A": 5_504, "B": 5_888, "D": 8_448, "E": 11_008}

    models = {"vgg_a": "A", "vgg_a_lrn": "A-LRN", "vgg_b": "B", "vgg_c": "C", "vgg_d": "D",
              "vgg_e": "E", "vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}
    for name, cfg in models.items():
        model = _build(name)
        assert trainable_params(model) == total[cfg], name
        n_weight_layers = sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules())
        assert n_weight_layers == weight_layers[cfg], name
    for name, cfg in {"vgg11_bn": "A", "vgg13_bn": "B", "vgg16_bn": "D",
                      "vgg19_bn": "E"}.items():
        assert trainable_params(_build(name)) == total[cfg] + bn_extra[cfg], name


def test_configuration_c_has_1x1_convolutions_closing_the_last_three_blocks() -> None:
    kernels: list[list[int]] = [[]]
    for m in _build("vgg_c").features:
        if isinstance(m, nn.Conv2d):
            kernels[-1].append(m.kernel_size[0])
            assert m.padding == (m.kernel_size[0] // 2,) * 2
        elif isinstance(m, nn.MaxPool2d):
            kernels.append([])
    assert kernels == [[3, 3], [3, 3], [3, 3, 1], [3, 3, 1], [3, 3, 1], []]


def test_configuration_a_lrn_normalises_after_the_first_relu() -> None:
    features = _build("vgg_a_lrn").features
    assert [type(m).__name__ for m in list(features)[:4]] == [
        "Conv2d", "ReLU", "LocalResponseNorm", "MaxPool2d"]
    lrn = features[2]
    assert (lrn.size, lrn.alpha, lrn.beta, lrn.k) == (5, 5e-4, 0.75, 2.0)   # paper's alpha*n
    assert sum(isinstance(m, nn.LocalResponseNorm) for m in features) == 1


def test_make_layers_rejects_unknown_entries() -> None:
    with pytest.raises(ValueError, match="conv5x5"):
        make_layers(["conv3-64", "conv5x5"])


# ------------------------------------------------------------------ numerical oracle

# torchvision's own notation for its configurations: an int is a 3x3 convolution (padding 1)
# with that many channels, "M" a 2x2/2 max pooling; added for the paper's C and A-LRN:
# (c, 1) a 1x1 convolution with c channels, "LRN" Krizhevsky's normalisation.
TORCH_CFGS: dict[str, list[Any]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "A-LRN": [64, "LRN", "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "C": [64, 64, "M", 128, 128, "M", 256, 256, (256, 1), "M", 512, 512, (512, 1), "M",
          512, 512, (512, 1), "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}


def _torch_vgg(sd: dict[str, torch.Tensor], cfg: list[Any], batch_norm: bool,
               x: torch.Tensor) -> torch.Tensor:
    """A VGG forward in eval mode with torch.nn.functional, walking torchvision's indices."""
    i = 0
    for v in cfg:
        if v == "M":
            x, i = tF.max_pool2d(x, kernel_size=2, stride=2), i + 1
        elif v == "LRN":
            # the paper's alpha = 1e-4 on the plain sum = torch's alpha / size with 5e-4
            x, i = tF.local_response_norm(x, size=5, alpha=5e-4, beta=0.75, k=2.0), i + 1
        else:
            channels, k = v if isinstance(v, tuple) else (v, 3)
            w, b = sd[f"features.{i}.weight"], sd[f"features.{i}.bias"]
            assert w.shape == (channels, x.shape[1], k, k)
            x, i = tF.conv2d(x, w, b, padding=k // 2), i + 1
            if batch_norm:
                bn = {k: sd[f"features.{i}.{k}"] for k in ("running_mean", "running_var",
                                                           "weight", "bias")}
                x, i = tF.batch_norm(x, training=False, eps=1e-5, **bn), i + 1
            x, i = tF.relu(x), i + 1
    x = torch.flatten(tF.adaptive_avg_pool2d(x, (7, 7)), 1)
    x = tF.relu(tF.linear(x, sd["classifier.0.weight"], sd["classifier.0.bias"]))
    x = tF.relu(tF.linear(x, sd["classifier.3.weight"], sd["classifier.3.bias"]))
    return tF.linear(x, sd["classifier.6.weight"], sd["classifier.6.bias"])


def _check_against_torch_and_train(model: nn.Module, sd: dict[str, torch.Tensor], cfg: str,
                                   batch_norm: bool) -> None:
    """Eval-mode output equals the torch forward; a train-mode backward reaches every
    parameter with a finite, nonzero gradient."""
    # at 64x64 the features end at 2x2, so the adaptive pooling to 7x7 overlaps its windows
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    with numcnn.no_grad():
        ours = model.eval()(numcnn.tensor(x)).numpy()
    with torch.no_grad():
        want = _torch_vgg(sd, TORCH_CFGS[cfg], batch_norm, torch.from_numpy(x)).numpy()
    assert ours.shape == want.shape == (2, 1000)
    np.testing.assert_allclose(ours, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())

    out = model.train()(numcnn.tensor(x[:, :, :32, :32]))
    assert tuple(out.shape) == (2, 1000)
    (out * numcnn.tensor(np.random.default_rng(1).standard_normal((2, 1000)),
                         dtype=numcnn.float32)).sum().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        g = p.grad.numpy()
        assert np.isfinite(g).all() and np.abs(g).max() > 0, pname


# By default one torchvision network (vgg11_bn, with batch norm) and one of the paper's (vgg_c,
# with 1x1 convolutions); the others, ~10 s each here, differ from these in depth, LRN or
# batch norm only, and are marked slow.
_DEFAULT = ("vgg11_bn", "vgg_c")
_CFG = {"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E", "vgg_a": "A",
        "vgg_a_lrn": "A-LRN", "vgg_b": "B", "vgg_c": "C", "vgg_d": "D", "vgg_e": "E"}


@pytest.mark.parametrize("name", [
    n if n in _DEFAULT else pytest.param(n, marks=pytest.mark.slow)
    for n in TORCHVISION_NAMES + PAPER_NAMES])
def test_matches_torch_forward_and_trains(name: str, tmp_path: Path) -> None:
    """torchvision's names load a random torchvision state_dict through safetensors (strict);
    the paper's configurations are compared with their own weights, copied to torch."""
    if name in TORCHVISION_NAMES:
        sd = random_torchvision_state_dict(name, seed=3)
        model = load_through_safetensors(_build(name), sd, tmp_path)
    else:
        model = _fill(_build(name), seed=4)
        sd = {k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()}
    _check_against_torch_and_train(model, sd, _CFG[name.removesuffix("_bn")],
                                   name.endswith("_bn"))


# ------------------------------------------------------------------ initialisation


def test_default_init_is_torchvisions() -> None:
    # The layers' own default init (kaiming_uniform_ / uniform_) is skipped to save time: VGG's
    # init loop must then overwrite every parameter itself, or the checks below fail.
    numcnn.manual_seed(0)
    model = _build("vgg11_bn", skip=("kaiming_uniform_", "uniform_"))
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            w = m.weight.detach().numpy()
            expected = np.sqrt(2.0 / (m.out_channels * 3 * 3))     # kaiming_normal_, fan_out
            rel = 0.01 if w.size > 1_000_000 else 0.1
            assert w.std() == pytest.approx(expected, rel=rel)
            assert abs(w.mean()) < 4 * expected / np.sqrt(w.size)    # 4 standard errors
            assert (m.bias.detach().numpy() == 0).all()
        elif isinstance(m, nn.BatchNorm2d):
            assert (m.weight.detach().numpy() == 1).all()
            assert (m.bias.detach().numpy() == 0).all()
        elif isinstance(m, nn.Linear):
            assert m.weight.detach().numpy().std() == pytest.approx(0.01, rel=0.01)
            assert (m.bias.detach().numpy() == 0).all()


def test_init_weights_false_skips_the_init_loop() -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("VGG's init loop ran with init_weights=False")

    with pytest.MonkeyPatch.context() as mp:
        for fn in ("kaiming_uniform_", "uniform_"):         # the layers' defaults: skip (time)
            mp.setattr(init, fn, lambda tensor, *args, **kw: tensor)
        for fn in ("kaiming_normal_", "normal_", "constant_"):
            mp.setattr(init, fn, refuse)
        VGG(make_layers(cfgs["A"], batch_norm=True), init_weights=False)
        with pytest.raises(AssertionError, match="init loop ran"):
            VGG(make_layers(cfgs["A"], batch_norm=True), init_weights=True)


def test_in_channels_and_num_classes() -> None:
    model = _build("vgg_c", in_channels=1, num_classes=7)
    assert model.features[0].in_channels == 1
    assert model.classifier[6].out_features == 7


def test_cfgs_are_the_papers_columns() -> None:
    assert set(cfgs) == {"A", "A-LRN", "B", "C", "D", "E"}
    widths = {c: [e for e in col if e.startswith("conv")] for c, col in cfgs.items()}
    assert [len(w) for w in widths.values()] == [8, 8, 10, 13, 13, 16]
    assert all(col.count("maxpool") == 5 for col in cfgs.values())

