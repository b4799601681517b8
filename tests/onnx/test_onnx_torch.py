"""Models exported BY torch.onnx.export (TorchScript exporter, dynamo=False, opset 17, dynamic
batch axis) from torchvision-style networks written here in torch, loaded by numcnn.onnx.load:
the outputs agree with torch's and with ONNX Runtime's on the same file (float32 rtol 1e-4,
atol 1e-5) at two batch sizes.

What torch's exporter does to the names: in its default EVAL mode it folds every
BatchNormalization into the preceding Conv and names the folded weights "onnx::Conv_<n>", so
the state_dict keys do not survive; exported with training=TrainingMode.PRESERVE from a model
in eval mode, BatchNormalization nodes stay and every initialiser keeps its state_dict name,
which we check (resnet18).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

import torch.nn.functional as TF  # noqa: E402
from torch import nn  # noqa: E402

import numcnn  # noqa: E402
import numcnn.onnx  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5
ZOO_KEYS = Path(__file__).resolve().parents[2] / ".." / "shared" / "zoo" / \
    "torchvision_state_dicts.json"


# ---------------------------------------------------------------- the networks, in torch


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + idt)


class ResNet18(nn.Module):
    """torchvision's resnet18, with its module (so state_dict) names."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin, layers = 64, []
        for i, width in enumerate((64, 128, 256, 512)):
            stride = 1 if i == 0 else 2
            layers.append(nn.Sequential(BasicBlock(cin, width, stride), BasicBlock(width, width)))
            cin = width
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class InvertedResidual(nn.Module):
    """MobileNetV2's block: 1x1 expand, 3x3 depthwise, 1x1 project, ReLU6 (Clip), residual."""

    def __init__(self, c: int = 16, t: int = 6) -> None:
        super().__init__()
        h = c * t
        self.conv = nn.Sequential(
            nn.Conv2d(c, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU6(inplace=True),
            nn.Conv2d(h, h, 3, 1, 1, groups=h, bias=False), nn.BatchNorm2d(h),
            nn.ReLU6(inplace=True), nn.Conv2d(h, c, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return x + self.conv(x)


class Fire(nn.Module):
    """SqueezeNet's fire module: squeeze 1x1, expand 1x1 and 3x3, concatenated."""

    def __init__(self) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(16, 4, 1)
        self.expand1x1 = nn.Conv2d(4, 8, 1)
        self.expand3x3 = nn.Conv2d(4, 8, 3, padding=1)

    def forward(self, x):
        s = F_relu(self.squeeze(x))
        y = torch.cat([F_relu(self.expand1x1(s)), F_relu(self.expand3x3(s))], 1)
        return TF.max_pool2d(y, 3, 2, ceil_mode=True)


def F_relu(x):
    return torch.relu(x)


class DenseBlock(nn.Module):
    """DenseNet: each layer BN-ReLU-Conv1x1-BN-ReLU-Conv3x3, its output concatenated."""

    def __init__(self, c: int = 8, growth: int = 4, n: int = 3) -> None:
        super().__init__()
        self.layers = nn.ModuleList()
        for i in range(n):
            cin = c + i * growth
            self.layers.append(nn.Sequential(
                nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, 2 * growth, 1, bias=False),
                nn.BatchNorm2d(2 * growth), nn.ReLU(),
                nn.Conv2d(2 * growth, growth, 3, padding=1, bias=False)))
        self.transition = nn.Sequential(nn.BatchNorm2d(c + n * growth), nn.ReLU(),
                                        nn.Conv2d(c + n * growth, c, 1), nn.AvgPool2d(2, 2))

    def forward(self, x):
        feats = [x]
        for layer in self.layers:
            feats.append(layer(torch.cat(feats, 1)))
        return self.transition(torch.cat(feats, 1))


class Inception(nn.Module):
    """GoogLeNet-style branches with max and average pools, concatenated."""

    def __init__(self) -> None:
        super().__init__()
        self.b1 = nn.Conv2d(8, 4, 1)
        self.b2 = nn.Sequential(nn.Conv2d(8, 4, 1), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1))
        self.b3 = nn.Sequential(nn.Conv2d(8, 2, 1), nn.ReLU(), nn.Conv2d(2, 4, 5, padding=2))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), nn.Conv2d(8, 4, 1))
        self.b5 = nn.Sequential(nn.AvgPool2d(3, 1, 1, count_include_pad=False),
                                nn.Conv2d(8, 2, 1))

    def forward(self, x):
        y = torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x), self.b5(x)], 1)
        return TF.avg_pool2d(y, 3, 2, 1, ceil_mode=True)


class ShuffleUnit(nn.Module):
    """ShuffleNet's channel shuffle (view / transpose / view) between grouped convs."""

    def __init__(self, c: int = 12, groups: int = 3) -> None:
        super().__init__()
        self.g = groups
        self.gconv1 = nn.Conv2d(c, c, 1, groups=groups)
        self.dw = nn.Conv2d(c, c, 3, 1, 1, groups=c)
        self.gconv2 = nn.Conv2d(c, c, 1, groups=groups)

    def forward(self, x):
        y = torch.relu(self.gconv1(x))
        n, c, h, w = y.size()
        y = y.view(n, self.g, c // self.g, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
        return torch.relu(x + self.gconv2(self.dw(y)))


class AlexNetLike(nn.Module):
    """AlexNet / VGG style: conv, ReLU, LRN, max pool, adaptive average pool, dropout,
    flatten, linear."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 5, 2, 2), nn.ReLU(inplace=True), nn.LocalResponseNorm(5, 1e-3),
            nn.MaxPool2d(3, 2), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(inplace=True),
            nn.LocalResponseNorm(4, 2e-3, 0.7, 1.5), nn.MaxPool2d(2, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Linear(16, 20),
                                        nn.ReLU(inplace=True), nn.Dropout(), nn.Linear(20, 10))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class VGGLike(nn.Module):
    """VGG style with AdaptiveAvgPool2d((2, 2)): torch exports an adaptive pool to a size other
    than 1 only with static spatial AND batch sizes (as an AveragePool), so this one is
    exported without a dynamic axis and checked at its one batch size."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True),
                                      nn.MaxPool2d(2, 2), nn.Conv2d(8, 8, 3, padding=1),
                                      nn.ReLU(inplace=True))
        self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        self.classifier = nn.Sequential(nn.Linear(32, 10), nn.ReLU(True), nn.Dropout(),
                                        nn.Linear(10, 5))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class Decoder(nn.Module):
    """An upsampling decoder: ConvTranspose (output_padding), interpolate nearest, bilinear
    (align_corners False and True), bicubic, and a softmax head."""

    def __init__(self) -> None:
        super().__init__()
        self.up1 = nn.ConvTranspose2d(8, 6, 3, stride=2, padding=1, output_padding=1)
        self.up2 = nn.ConvTranspose2d(6, 4, 4, stride=2, padding=1, groups=2, dilation=1)
        self.head = nn.Conv2d(4, 3, 3, padding=1)

    def forward(self, x):
        y = torch.relu(self.up1(x))
        y = TF.interpolate(y, scale_factor=2, mode="nearest")
        y = torch.relu(self.up2(y))
        y = TF.interpolate(y, scale_factor=0.5, mode="bilinear", align_corners=False)
        y = TF.interpolate(y, size=(21, 19), mode="bilinear", align_corners=True)
        y = TF.interpolate(y, scale_factor=1.5, mode="bicubic", align_corners=False)
        return torch.softmax(self.head(y), dim=1)


# name -> (network factory, input (C, H, W))
NETWORKS = {
    "resnet18": (ResNet18, (3, 64, 64)),
    "inverted_residual": (InvertedResidual, (16, 12, 12)),
    "fire": (Fire, (16, 15, 15)),
    "dense_block": (DenseBlock, (8, 10, 10)),
    "inception": (Inception, (8, 13, 13)),
    "shuffle_unit": (ShuffleUnit, (12, 9, 9)),
    "alexnet_like": (AlexNetLike, (3, 38, 38)),
    "decoder": (Decoder, (8, 5, 6)),
}
STATIC_NETWORKS = {"vgg_like": (VGGLike, (3, 16, 16))}


# ---------------------------------------------------------------- helpers


def _randomise_bn(model: nn.Module) -> None:
    """Non-trivial BN statistics and affine terms, so folding or ignoring them would show."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)


def _export(model: nn.Module, shape: tuple[int, ...], preserve: bool = False,
            dynamic: bool = True) -> bytes:
    buf = io.BytesIO()
    kwargs: dict = {"training": torch.onnx.TrainingMode.PRESERVE} if preserve else {}
    if dynamic:
        kwargs["dynamic_axes"] = {"input": {0: "batch"}, "output": {0: "batch"}}
    torch.onnx.export(model, (torch.randn(2, *shape),), buf, dynamo=False, opset_version=17,
                      input_names=["input"], output_names=["output"], **kwargs)
    return buf.getvalue()


def _build(name: str) -> tuple[nn.Module, tuple[int, ...]]:
    torch.manual_seed(0)
    factory, shape = {**NETWORKS, **STATIC_NETWORKS}[name]
    model = factory()
    _randomise_bn(model)
    return model.eval(), shape


# ---------------------------------------------------------------- the tests


@pytest.mark.parametrize("name", sorted(NETWORKS) + sorted(STATIC_NETWORKS))
def test_torch_export_loads_and_agrees(name: str) -> None:
    """numcnn's output on torch's ONNX file = torch's output = ONNX Runtime's, batch 1 and 3
    (batch 2 only for the static export)."""
    model, shape = _build(name)
    dynamic = name in NETWORKS
    data = _export(model, shape, dynamic=dynamic)
    loaded = numcnn.onnx.load(data)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    assert loaded.input_names == ["input"]
    assert loaded.input_shapes == [(None if dynamic else 2, *shape)]
    rng = np.random.default_rng(3)
    for batch in (1, 3) if dynamic else (2,):
        x = rng.standard_normal((batch, *shape)).astype(np.float32)
        with torch.no_grad():
            want = model(torch.from_numpy(x)).numpy()
        with numcnn.no_grad():
            got = loaded(x).numpy()
        (ort_out,) = session.run(None, {"input": x})
        assert got.shape == want.shape == ort_out.shape
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(got, ort_out, rtol=RTOL, atol=ATOL)


def test_default_export_folds_batchnorm() -> None:
    """torch's EVAL-mode export folds BatchNorm into Conv: no BatchNormalization node, the
    convolution weights renamed, so their state_dict names do not survive."""
    model, shape = _build("inverted_residual")
    loaded = numcnn.onnx.load(_export(model, shape))
    ops = {node.op_type for node in loaded.nodes}
    assert "BatchNormalization" not in ops and "Conv" in ops
    assert not any(k.startswith("conv.") for k in loaded.state_dict())


def _resnet_preserved() -> tuple[nn.Module, numcnn.onnx.OnnxModule]:
    model, shape = _build("resnet18")
    return model, numcnn.onnx.load(_export(model, shape, preserve=True))


def test_resnet18_names_survive_and_load_into_the_zoo_model() -> None:
    """Exported with TrainingMode.PRESERVE, every parameter and BN statistic keeps its
    torchvision name: the loaded module's state_dict has exactly torchvision's resnet18 keys
    (bar num_batches_tracked, which ONNX does not carry), with torch's values; it loads into
    numcnn.models.resnet18, which then gives torch's output."""
    model, loaded = _resnet_preserved()
    torch_sd = {k: v.numpy() for k, v in model.state_dict().items()
                if not k.endswith("num_batches_tracked")}
    ours = loaded.state_dict()
    zoo = json.loads(ZOO_KEYS.read_text())["resnet18"]["state_dict"]
    zoo_keys = {k for k, _, _ in zoo if not k.endswith("num_batches_tracked")}
    assert set(ours) == set(torch_sd) == zoo_keys
    for k, v in torch_sd.items():
        np.testing.assert_array_equal(ours[k].numpy(), v)
    params = {k for k, _ in loaded.named_parameters()}
    assert {k for k in torch_sd if "running_" in k}.isdisjoint(params)
    assert {k for k in torch_sd if "running_" not in k} == params

    net = numcnn.models.resnet18()
    result = net.load_state_dict(loaded.state_dict(), strict=False)
    assert all(k.endswith("num_batches_tracked") for k in result.missing_keys)
    assert not result.unexpected_keys
    x = np.random.default_rng(5).standard_normal((2, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    with numcnn.no_grad():
        got_zoo = net.eval()(numcnn.from_numpy(x)).numpy()
        got_onnx = loaded(x).numpy()
    np.testing.assert_allclose(got_zoo, want, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got_onnx, want, rtol=RTOL, atol=ATOL)
