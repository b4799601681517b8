"""numcnn.models.alexnet: torchvision's AlexNet (layout, weights, outputs, init), the paper's
AlexNet and ZFNet (counts derived by hand, feature map sizes, LRN, the two-GPU grouping)."""

from __future__ import annotations

from pathlib import Path

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
from numcnn.models.alexnet import (
    MODELS,
    AlexNet,
    AlexNetOriginal,
    ZFNet,
    alexnet,
    alexnet_original,
    krizhevsky_lrn,
    zfnet,
)

# fc6 (on the 256 maps of 6x6), fc7 and fc8, the same in all three networks:
# C_out * C_in weights + C_out biases each
FC6 = 4096 * (256 * 6 * 6) + 4096              # 37,752,832
FC7 = 4096 * 4096 + 4096                       # 16,781,312
FC8 = 1000 * 4096 + 1000                       # 4,097,000


@pytest.fixture(scope="module")
def tv_alexnet() -> AlexNet:
    return alexnet()


@pytest.fixture(scope="module")
def original() -> AlexNetOriginal:
    return alexnet_original()


@pytest.fixture(scope="module")
def zf() -> ZFNet:
    return zfnet()


def test_models_dict_and_registry() -> None:
    assert MODELS == {"alexnet": alexnet, "alexnet_original": alexnet_original, "zfnet": zfnet}
    assert {"alexnet", "alexnet_original", "zfnet"} <= set(list_models())


# ------------------------------------------------------------------ torchvision's AlexNet


def test_alexnet_has_torchvision_layout(tv_alexnet: AlexNet) -> None:
    assert_torchvision_layout(tv_alexnet, "alexnet")


def test_alexnet_count_by_hand(tv_alexnet: AlexNet) -> None:
    conv1 = 64 * (11 * 11 * 3) + 64            # 23,296
    conv2 = 192 * (5 * 5 * 64) + 192           # 307,392
    conv3 = 384 * (3 * 3 * 192) + 384          # 663,936
    conv4 = 256 * (3 * 3 * 384) + 256          # 884,992
    conv5 = 256 * (3 * 3 * 256) + 256          # 590,080
    total = conv1 + conv2 + conv3 + conv4 + conv5 + FC6 + FC7 + FC8
    assert total == 61_100_840
    assert trainable_params(tv_alexnet) == total


def _torch_alexnet(sd: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """torchvision's AlexNet forward (eval mode), written with torch.nn.functional."""
    def conv_relu(x: torch.Tensor, i: int, stride: int, padding: int) -> torch.Tensor:
        w, b = sd[f"features.{i}.weight"], sd[f"features.{i}.bias"]
        return tF.relu(tF.conv2d(x, w, b, stride=stride, padding=padding))

    def fc(x: torch.Tensor, i: int) -> torch.Tensor:
        return tF.linear(x, sd[f"classifier.{i}.weight"], sd[f"classifier.{i}.bias"])

    x = tF.max_pool2d(conv_relu(x, 0, 4, 2), 3, 2)
    x = tF.max_pool2d(conv_relu(x, 3, 1, 2), 3, 2)
    x = conv_relu(conv_relu(x, 6, 1, 1), 8, 1, 1)
    x = tF.max_pool2d(conv_relu(x, 10, 1, 1), 3, 2)
    x = torch.flatten(tF.adaptive_avg_pool2d(x, (6, 6)), 1)
    x = tF.relu(fc(x, 1))
    x = tF.relu(fc(x, 4))
    return fc(x, 6)


def test_alexnet_loads_torchvision_weights_and_matches_torch(tmp_path: Path) -> None:
    sd = random_torchvision_state_dict("alexnet", seed=1)
    model = load_through_safetensors(alexnet(), sd, tmp_path).eval()
    # 99x99: features end at 2x2, so the adaptive pooling to 6x6 uses overlapping windows
    x = np.random.default_rng(0).standard_normal((2, 3, 99, 99)).astype(np.float32)
    with numcnn.no_grad():
        ours = model(numcnn.tensor(x)).numpy()
    with torch.no_grad():
        want = _torch_alexnet(sd, torch.from_numpy(x)).numpy()
    assert ours.shape == (2, 1000)
    np.testing.assert_allclose(ours, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())


def test_alexnet_default_init_is_pytorchs(tv_alexnet: AlexNet) -> None:
    # torchvision's AlexNet keeps the layers' defaults: weight and bias ~ U(-1/sqrt(fan_in), +)
    for w, b in ((tv_alexnet.features[0].weight, tv_alexnet.features[0].bias),
                 (tv_alexnet.classifier[1].weight, tv_alexnet.classifier[1].bias)):
        wv, bv = w.detach().numpy(), b.detach().numpy()
        bound = 1 / np.sqrt(np.prod(wv.shape[1:]))
        top = np.float32(bound) * np.float32(1 + 1e-6)   # samples are rounded to float32
        assert np.abs(wv).max() <= top and np.abs(bv).max() <= top
        assert wv.std() == pytest.approx(bound / np.sqrt(3), rel=0.02)
        assert abs(wv.mean()) < 0.02 * bound


# ------------------------------------------------------------------ the paper's AlexNet


def test_alexnet_original_count_by_hand(original: AlexNetOriginal) -> None:
    # conv1: 96 kernels of 11x11x3, one bias each
    conv1 = 96 * (11 * 11 * 3) + 96            # 34,944
    # conv2: 256 kernels of 5x5x48: each GPU's 128 kernels see only its own 48 maps
    conv2 = 256 * (5 * 5 * 48) + 256           # 307,456
    # conv3: 384 kernels of 3x3x256: this layer connects across the GPUs
    conv3 = 384 * (3 * 3 * 256) + 384          # 885,120
    # conv4, conv5: kernels of 3x3x192, each GPU on its own half of conv3's / conv4's 384 maps
    conv4 = 384 * (3 * 3 * 192) + 384          # 663,936
    conv5 = 256 * (3 * 3 * 192) + 256          # 442,624
    assert conv1 + conv2 + conv3 + conv4 + conv5 == 2_334_080
    total = conv1 + conv2 + conv3 + conv4 + conv5 + FC6 + FC7 + FC8
    assert total == 60_965_224
    assert trainable_params(original) == total
    per_layer = {"conv1": conv1, "conv2": conv2, "conv3": conv3, "conv4": conv4, "conv5": conv5}
    for name, count in per_layer.items():
        assert trainable_params(getattr(original.features, name)) == count, name
    for name, count in {"fc6": FC6, "fc7": FC7, "fc8": FC8}.items():
        assert trainable_params(getattr(original.classifier, name)) == count, name


def _map_sizes(features: nn.Sequential, size: int) -> dict[str, int]:
    """The spatial size after each named layer, running `features` on one zero image."""
    x = numcnn.zeros(1, 3, size, size)
    sizes = {}
    with numcnn.no_grad():
        for name, layer in features.named_children():
            x = layer(x)
            assert x.shape[2] == x.shape[3]
            sizes[name] = x.shape[2]
    return sizes


def test_alexnet_original_feature_map_sizes_are_the_papers(original: AlexNetOriginal) -> None:
    sizes = _map_sizes(original.features, 227)
    assert [sizes[f"conv{i}"] for i in range(1, 6)] == [55, 27, 13, 13, 13]
    assert (sizes["pool1"], sizes["pool2"], sizes["pool5"]) == (27, 13, 6)
    channels = [getattr(original.features, f"conv{i}").out_channels for i in range(1, 6)]
    assert channels == [96, 256, 384, 384, 256]


def test_alexnet_original_two_gpu_split_is_grouped_convolution(
        original: AlexNetOriginal) -> None:
    f = original.features
    assert [getattr(f, f"conv{i}").groups for i in range(1, 6)] == [1, 2, 1, 2, 2]
    assert tuple(f.conv2.weight.shape) == (256, 48, 5, 5)
    assert tuple(f.conv3.weight.shape) == (384, 256, 3, 3)
    assert tuple(f.conv4.weight.shape) == (384, 192, 3, 3)
    # what the grouping means: GPU 2's half of conv2's output (channels 128..255) does not see
    # GPU 1's maps (input channels 0..47), and GPU 1's half does
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 96, 9, 9)).astype(np.float32)
    x2 = x.copy()
    x2[:, :48] += 1.0
    with numcnn.no_grad():
        y, y2 = f.conv2(numcnn.tensor(x)).numpy(), f.conv2(numcnn.tensor(x2)).numpy()
    np.testing.assert_array_equal(y[:, 128:], y2[:, 128:])
    assert np.abs(y[:, :128] - y2[:, :128]).min() > 0


def test_lrn_is_the_papers_formula() -> None:
    """Sec. 3.3: b[i] = a[i] / (k + alpha * sum_{j = max(0, i-n/2)}^{min(N-1, i+n/2)} a[j]^2)^beta
    with k = 2, n = 5, alpha = 1e-4, beta = 0.75, written as a loop over channels."""
    a = np.random.default_rng(0).uniform(-40, 40, (2, 12, 3, 3))
    k, n, alpha, beta = 2.0, 5, 1e-4, 0.75
    channels = a.shape[1]
    want = np.empty_like(a)
    for i in range(channels):
        lo, hi = max(0, i - n // 2), min(channels - 1, i + n // 2)
        s = (a[:, lo:hi + 1] ** 2).sum(axis=1)
        want[:, i] = a[:, i] / (k + alpha * s) ** beta
    got = krizhevsky_lrn()(numcnn.tensor(a)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert np.abs(want / a - 2.0 ** -beta).max() > 0.05   # the sum does matter at this scale


def test_alexnet_original_paper_init() -> None:
    model = alexnet_original(paper_init=True)
    biases = {name: m.bias.detach().numpy() for name, m in model.named_modules()
              if isinstance(m, (nn.Conv2d, nn.Linear))}
    assert sorted(n for n, b in biases.items() if (b == 1).all()) == [
        "classifier.fc6", "classifier.fc7", "features.conv2", "features.conv4",
        "features.conv5"]
    assert sorted(n for n, b in biases.items() if (b == 0).all()) == [
        "classifier.fc8", "features.conv1", "features.conv3"]
    for w in (model.features.conv1.weight, model.classifier.fc6.weight):
        assert w.detach().numpy().std() == pytest.approx(0.01, rel=0.02)
        assert abs(w.detach().numpy().mean()) < 1e-3


# ------------------------------------------------------------------ ZFNet


def test_zfnet_count_by_hand(zf: ZFNet) -> None:
    conv1 = 96 * (7 * 7 * 3) + 96              # 14,208
    conv2 = 256 * (5 * 5 * 96) + 256           # 614,656  (dense: all 96 maps)
    conv3 = 384 * (3 * 3 * 256) + 384          # 885,120
    conv4 = 384 * (3 * 3 * 384) + 384          # 1,327,488
    conv5 = 256 * (3 * 3 * 384) + 256          # 884,992
    assert conv1 + conv2 + conv3 + conv4 + conv5 == 3_726_464
    total = conv1 + conv2 + conv3 + conv4 + conv5 + FC6 + FC7 + FC8
    assert total == 62_357_608
    assert trainable_params(zf) == total


def test_zfnet_feature_map_sizes_are_the_papers(zf: ZFNet) -> None:
    # Fig. 3: 224 -> 110 (conv1) -> 55 (pool) -> 26 (conv2) -> 13 (pool) -> 13 -> 13 -> 13 -> 6
    sizes = _map_sizes(zf.features, 224)
    assert [sizes[n] for n in ("conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5",
                               "pool5")] == [110, 55, 26, 13, 13, 13, 13, 6]
    assert [getattr(zf.features, f"conv{i}").groups for i in range(1, 6)] == [1] * 5


def test_zfnet_paper_init() -> None:
    model = zfnet(paper_init=True)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            assert (m.bias.detach().numpy() == 0).all()
    assert model.features.conv1.weight.detach().numpy().std() == pytest.approx(0.01, rel=0.05)
    assert model.classifier.fc6.weight.detach().numpy().std() == pytest.approx(0.01, rel=0.01)


# ------------------------------------------------------------------ every model trains


@pytest.mark.parametrize("name, size", [("alexnet", 64), ("alexnet_original", 227),
                                        ("zfnet", 224)])
def test_forward_backward(name: str, size: int) -> None:
    numcnn.manual_seed(0)
    model = MODELS[name](num_classes=10)
    x = numcnn.randn(2, 3, size, size)
    out = model(x)
    assert tuple(out.shape) == (2, 10)
    (out * numcnn.randn(2, 10)).sum().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        assert np.isfinite(p.grad.numpy()).all(), pname
        assert np.abs(p.grad.numpy()).max() > 0, pname


def test_in_channels_and_num_classes() -> None:
    for factory in MODELS.values():
        model = factory(in_channels=1, num_classes=7)
        first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
        last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
        assert first.in_channels == 1 and last.out_features == 7
