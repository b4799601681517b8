"""numcnn.viz.attribution against PyTorch: Grad-CAM and Grad-CAM++ with torch forward hooks on
the same weights, saliency and guided backpropagation from torch's autograd (guided ReLU as a
custom torch Function), occlusion against a loop with one forward per window position."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests.models.test_resnet import torch_resnet
from tests.models.zoo import random_torchvision_state_dict, randomize_batch_norm
from torch import nn as tnn
from torch.overrides import TorchFunctionMode

import numcnn
import numcnn.nn as nn
import numcnn.nn.functional as F
from numcnn.models import fmnist_cnn, resnet18
from numcnn.ops import activation as A
from numcnn.viz import attribution as at

RTOL64 = 1e-6   # the tolerance for maps built from float64 gradients


# ----------------------------------------------------------------------------- torch oracles
class GuidedReLU(torch.autograd.Function):
    """max(x, 0) whose backward passes gy only where x > 0 and gy > 0."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx: Any, gy: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return gy * (x > 0) * (gy > 0)


class TorchGuidedReLU(tnn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return GuidedReLU.apply(x)


class TorchFashionCNN(tnn.Module):
    """seed 004's Fashion-MNIST CNN written in torch.nn, with numcnn's state_dict keys."""

    def __init__(self, relu: Callable[[], tnn.Module] = tnn.ReLU) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> list[tnn.Module]:
            return [tnn.Conv2d(cin, cout, 3, padding=1), relu(), tnn.BatchNorm2d(cout),
                    tnn.Conv2d(cout, cout, 3, padding=1), relu(), tnn.BatchNorm2d(cout),
                    tnn.MaxPool2d(2), tnn.Dropout(0.25)]

        self.features = tnn.Sequential(*block(1, 32), *block(32, 64))
        self.classifier = tnn.Sequential(tnn.Flatten(), tnn.Linear(64 * 7 * 7, 512), relu(),
                                         tnn.BatchNorm1d(512), tnn.Dropout(0.5),
                                         tnn.Linear(512, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def fmnist_pair(relu: Callable[[], tnn.Module] = tnn.ReLU, seed: int = 0
                ) -> tuple[numcnn.nn.Module, tnn.Module]:
    """numcnn's fmnist_cnn (float64, nontrivial BN statistics) and the torch twin with its
    weights, both in training mode (the functions must switch to eval themselves)."""
    model = fmnist_cnn()
    randomize_batch_norm(model, np.random.default_rng(seed))
    model.double().train()
    twin = TorchFashionCNN(relu).double()
    twin.load_state_dict({k: torch.from_numpy(np.array(v.numpy()))
                          for k, v in model.state_dict().items()})
    return model, twin.eval()


def images(shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def torch_layer_gradient(forward: Callable[[torch.Tensor], torch.Tensor],
                         capture: Callable[[], torch.Tensor], x: np.ndarray, target: Any
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """A and d(sum_n y_{n, c_n})/dA in torch; `capture` returns A after the forward."""
    out = forward(torch.from_numpy(x).requires_grad_(True))
    act = capture()
    t = out.argmax(1) if target is None else torch.as_tensor(target).expand(out.shape[0])
    score = out[torch.arange(out.shape[0]), t].sum()
    (g,) = torch.autograd.grad(score, act)
    return act.detach(), g


def torch_cam(act: torch.Tensor, g: torch.Tensor, plus_plus: bool) -> torch.Tensor:
    """Selvaraju et al. eq. 1-2, or Chattopadhay et al. eq. 19 with alpha = 0 where 0/0."""
    if not plus_plus:
        weights = g.mean(dim=(2, 3))
    else:
        denom = 2 * g**2 + act.sum(dim=(2, 3), keepdim=True) * g**3
        alpha = torch.where(denom != 0, g**2 / torch.where(denom != 0, denom, 1.0), 0.0)
        weights = (alpha * g.clamp(min=0)).sum(dim=(2, 3))
    return (weights[:, :, None, None] * act).sum(1).clamp(min=0)


def torch_upsampled(cam: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """pytorch-grad-cam's scaling (m - min) / (max + 1e-7), then bilinear, half-pixel."""
    flat = cam.flatten(1)
    flat = flat - flat.min(1, keepdim=True).values
    flat = flat / (flat.max(1, keepdim=True).values + 1e-7)
    return TF.interpolate(flat.view_as(cam)[:, None], size=size, mode="bilinear",
                          align_corners=False)[:, 0]


class CaptureGlobalPool(TorchFunctionMode):
    """Records the tensor that torch_resnet averages over (dim 2, 3): layer4's output."""

    def __init__(self) -> None:
        super().__init__()
        self.captured: torch.Tensor | None = None

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None
                           ) -> Any:
        kwargs = kwargs or {}
        if func is torch.Tensor.mean and tuple(kwargs.get("dim", ())) == (2, 3):
            self.captured = args[0]
        return func(*args, **kwargs)


class GuidedFunctionalReLU(TorchFunctionMode):
    """Every TF.relu inside the block becomes GuidedReLU (torch_resnet uses TF.relu only)."""

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None
                           ) -> Any:
        if func is TF.relu:
            return GuidedReLU.apply(args[0])
        return func(*args, **(kwargs or {}))


@pytest.fixture(scope="module")
def fmnist() -> tuple[numcnn.nn.Module, tnn.Module]:
    """One fmnist pair for the module (the functions under test restore the training mode)."""
    return fmnist_pair()


@pytest.fixture(scope="module")
def resnet() -> tuple[numcnn.nn.Module, dict[str, torch.Tensor]]:
    """numcnn's resnet18 (float64, training mode) and the torchvision-keyed state dict."""
    sd = {k: v.double() if v.is_floating_point() else v
          for k, v in random_torchvision_state_dict("resnet18", seed=5).items()}
    model = resnet18()
    model.load_state_dict({k: v.numpy() for k, v in sd.items()})
    return model.double().train(), sd


# ----------------------------------------------------------------------------- Grad-CAM(++)
@pytest.mark.parametrize("plus_plus", [False, True])
@pytest.mark.parametrize("target", [None, 3, [7, 0, 2]])
def test_grad_cam_fmnist_matches_torch_hooks(fmnist: Any, plus_plus: bool, target: Any) -> None:
    model, twin = fmnist
    x = images((3, 1, 28, 28))
    fn = at.grad_cam_plus_plus if plus_plus else at.grad_cam
    grabbed: list[torch.Tensor] = []
    handle = twin.features[11].register_forward_hook(lambda m, i, o: grabbed.append(o))
    act, g = torch_layer_gradient(twin, lambda: grabbed[-1], x, target)
    handle.remove()
    expected = torch_cam(act, g, plus_plus)
    assert expected.shape == (3, 14, 14) and float(expected.max()) > 0
    raw = fn(model, x, "features.11", target=target, upsample=False)
    np.testing.assert_allclose(raw, expected.numpy(), rtol=RTOL64, atol=1e-12)
    up = fn(model, x, "features.11", target=target)
    assert up.shape == (3, 28, 28) and up.dtype == np.float64
    np.testing.assert_allclose(up, torch_upsampled(expected, (28, 28)).numpy(), rtol=RTOL64,
                               atol=1e-12)
    assert model.training                       # eval while computing, mode restored


def test_grad_cam_resnet18_layer4_matches_torch(resnet: Any) -> None:
    model, sd = resnet
    x = images((2, 3, 64, 64), seed=2)
    mode = CaptureGlobalPool()

    def forward(t: torch.Tensor) -> torch.Tensor:
        with mode:
            return torch_resnet(sd, t)

    act, g = torch_layer_gradient(forward, lambda: mode.captured, x, None)
    assert act.shape == (2, 512, 2, 2)
    for fn, plus_plus in ((at.grad_cam, False), (at.grad_cam_plus_plus, True)):
        expected = torch_cam(act, g, plus_plus)
        raw = fn(model, x, "layer4", upsample=False)
        np.testing.assert_allclose(raw, expected.numpy(), rtol=RTOL64, atol=1e-12)
        up = fn(model, x, "layer4")
        np.testing.assert_allclose(up, torch_upsampled(expected, (64, 64)).numpy(),
                                   rtol=RTOL64, atol=1e-12)
    assert model.training


def test_grad_cam_float32_single_image_and_module_argument() -> None:
    model = fmnist_cnn()
    x = images((1, 28, 28)).astype(np.float32)
    twin = TorchFashionCNN().eval()
    twin.load_state_dict({k: torch.from_numpy(np.array(v.numpy()))
                          for k, v in model.state_dict().items()})
    grabbed: list[torch.Tensor] = []
    twin.features[8].register_forward_hook(lambda m, i, o: grabbed.append(o))
    act, g = torch_layer_gradient(twin, lambda: grabbed[-1], x[None], 4)
    cam = at.grad_cam(model, x, model.features[8], target=4, upsample=False)
    assert cam.dtype == np.float32
    np.testing.assert_allclose(cam, torch_cam(act, g, False).numpy(), rtol=1e-4, atol=1e-5)


def test_grad_cam_plus_plus_zero_gradient_channels_give_zero_alpha() -> None:
    # a layer whose channels 2.. do not reach the output: g = 0 there, the 0/0 case
    class TwoPaths(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.head = nn.Linear(2, 3)

        def forward(self, x: numcnn.Tensor) -> numcnn.Tensor:
            return self.head(self.conv(x)[:, :2].mean(dim=(2, 3)))

    model = TwoPaths().double()
    x = images((2, 1, 6, 6), seed=3)
    cam = at.grad_cam_plus_plus(model, x, "conv", upsample=False)
    assert np.isfinite(cam).all()
    # oracle: only channels 0 and 1 count; d y_c / d A_k = W[c, k] / 36, uniform in space
    with numcnn.no_grad():
        act = model.conv(numcnn.tensor(x)).numpy()
        scores = model(numcnn.tensor(x)).numpy()
    w = model.head.weight.detach().numpy()[scores.argmax(1)][:, :, None, None] / 36.0
    alpha = w**2 / (2 * w**2 + act[:, :2].sum(axis=(2, 3), keepdims=True) * w**3)
    weights = (alpha * np.maximum(w, 0)).sum(axis=(2, 3)) * 36     # (N, 2): 36 pixels
    expected = np.maximum((weights[:, :, None, None] * act[:, :2]).sum(1), 0)
    np.testing.assert_allclose(cam, expected, rtol=1e-10, atol=1e-14)


# ----------------------------------------------------------------------------- input gradients
@pytest.mark.parametrize("target", [None, 5])
def test_saliency_matches_torch_input_gradient(fmnist: Any, target: Any) -> None:
    model, twin = fmnist
    x = images((2, 1, 28, 28))
    xt = torch.from_numpy(x).requires_grad_(True)
    out = twin(xt)
    t = out.argmax(1) if target is None else torch.tensor([target, target])
    (g,) = torch.autograd.grad(out[torch.arange(2), t].sum(), xt)
    expected = g.abs().amax(dim=1)
    np.testing.assert_allclose(at.saliency(model, x, target), expected.numpy(), rtol=1e-7,
                               atol=1e-15)
    assert model.training


def test_saliency_max_over_rgb_channels(resnet: Any) -> None:
    model, sd = resnet
    x = images((1, 3, 32, 32), seed=4)
    xt = torch.from_numpy(x).requires_grad_(True)
    out = torch_resnet(sd, xt)
    (g,) = torch.autograd.grad(out[0, 9], xt)
    np.testing.assert_allclose(at.saliency(model, x[0], target=9), g.abs().amax(1).numpy(),
                               rtol=1e-7, atol=1e-15)


def test_guided_backprop_fmnist_matches_guided_torch_relu_modules() -> None:
    model, twin = fmnist_pair(relu=TorchGuidedReLU)
    x = images((2, 1, 28, 28))
    xt = torch.from_numpy(x).requires_grad_(True)
    out = twin(xt)
    (g,) = torch.autograd.grad(out[:, 6].sum(), xt)
    guided = at.guided_backprop(model, x, target=6)
    assert guided.shape == (2, 1, 28, 28)
    np.testing.assert_allclose(guided, g.numpy(), rtol=1e-7, atol=1e-15)
    # and it is not the plain gradient
    plain = at.saliency(model, x, target=6)
    assert not np.allclose(np.abs(guided).max(1), plain)


def test_guided_backprop_covers_inplace_module_relus_of_resnet(resnet: Any) -> None:
    model, sd = resnet     # numcnn's resnet uses nn.ReLU(inplace=True)
    x = images((2, 3, 32, 32), seed=6)
    xt = torch.from_numpy(x).requires_grad_(True)
    with GuidedFunctionalReLU():
        out = torch_resnet(sd, xt)
    t = out.argmax(1)
    (g,) = torch.autograd.grad(out[torch.arange(2), t].sum(), xt)
    np.testing.assert_allclose(at.guided_backprop(model, x), g.numpy(), rtol=1e-7, atol=1e-15)
    (plain,) = torch.autograd.grad(torch_resnet(sd, xt)[torch.arange(2), t].sum(), xt)
    assert not torch.allclose(g, plain)                   # the guided rule made a difference


class FunctionalRelus(nn.Module):
    """ReLUs as F.relu, F.relu(inplace=True), Tensor.relu_ and numcnn.relu, no ReLU modules."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(2, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.conv3 = nn.Conv2d(4, 4, 3, padding=1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x: numcnn.Tensor) -> numcnn.Tensor:
        h = F.relu(self.conv1(x))
        h = F.relu(self.conv2(h), inplace=True)
        h = self.conv3(h).relu_()
        return self.fc(numcnn.relu(h.mean(dim=(2, 3)) - 0.01))


def torch_functional_relus(model: FunctionalRelus, x: torch.Tensor,
                           relu: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    p = {k: torch.from_numpy(np.array(v.numpy())) for k, v in model.state_dict().items()}
    h = relu(TF.conv2d(x, p["conv1.weight"], p["conv1.bias"], padding=1))
    h = relu(TF.conv2d(h, p["conv2.weight"], p["conv2.bias"], padding=1))
    h = relu(TF.conv2d(h, p["conv3.weight"], p["conv3.bias"], padding=1))
    return TF.linear(relu(h.mean(dim=(2, 3)) - 0.01), p["fc.weight"], p["fc.bias"])


def test_guided_backprop_covers_functional_and_inplace_relus() -> None:
    numcnn.manual_seed(0)
    model = FunctionalRelus().double()
    x = images((3, 2, 8, 8), seed=7)
    target = [0, 1, 2]
    xt = torch.from_numpy(x).requires_grad_(True)
    out = torch_functional_relus(model, xt, GuidedReLU.apply)
    (g,) = torch.autograd.grad(out[torch.arange(3), torch.tensor(target)].sum(), xt)
    np.testing.assert_allclose(at.guided_backprop(model, x, target), g.numpy(), rtol=1e-7,
                               atol=1e-15)
    out = torch_functional_relus(model, xt, TF.relu)
    (plain,) = torch.autograd.grad(out[torch.arange(3), torch.tensor(target)].sum(), xt)
    assert not torch.allclose(g, plain)


def assert_plain_relu_backward() -> None:
    """ReLU's kernel backward is the original one and passes negative gradients."""
    assert A.ReLU.__dict__["backward"] is ORIGINAL_RELU_BACKWARD
    x = numcnn.tensor(np.array([-1.0, 2.0, 3.0]), requires_grad=True)
    (F.relu(x) * numcnn.tensor(np.array([5.0, -4.0, 1.0]))).sum().backward()
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, -4.0, 1.0])


ORIGINAL_RELU_BACKWARD = A.ReLU.__dict__["backward"]


def test_guided_backprop_leaves_plain_backward_unchanged(fmnist: Any) -> None:
    model, twin = fmnist
    x = images((2, 1, 28, 28))
    at.guided_backprop(model, x)
    assert_plain_relu_backward()
    # saliency after guided backprop is torch's plain gradient again
    xt = torch.from_numpy(x).requires_grad_(True)
    (g,) = torch.autograd.grad(twin(xt)[:, 1].sum(), xt)
    np.testing.assert_allclose(at.saliency(model, x, 1), g.abs().amax(1).numpy(), rtol=1e-7,
                               atol=1e-15)


def test_guided_backprop_restores_backward_after_an_error_inside(fmnist: Any) -> None:
    class Broken(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)

        def forward(self, x: numcnn.Tensor) -> numcnn.Tensor:
            F.relu(self.conv(x))
            raise RuntimeError("broken on purpose")

    with pytest.raises(RuntimeError, match="broken on purpose"):
        at.guided_backprop(Broken(), images((1, 1, 5, 5)).astype(np.float32))
    assert_plain_relu_backward()
    model, _ = fmnist
    with pytest.raises(ValueError, match="out of range"):      # raised inside, after forward
        at.guided_backprop(model, images((1, 1, 28, 28)), target=10)
    assert_plain_relu_backward()
    assert model.training


# ----------------------------------------------------------------------------- occlusion
def occlusion_loop(model: nn.Module, x: np.ndarray, target: list[int], window: tuple[int, int],
                   stride: tuple[int, int], fill: float) -> np.ndarray:
    """One forward per window position; softmax by torch."""
    model.eval()

    def prob(img: np.ndarray, c: int) -> float:
        with numcnn.no_grad():
            out = model(numcnn.tensor(img[None])).numpy()
        return float(torch.softmax(torch.from_numpy(out), dim=1)[0, c])

    n, _, h, w = x.shape
    rows, cols = (h - window[0]) // stride[0] + 1, (w - window[1]) // stride[1] + 1
    result = np.zeros((n, rows, cols))
    for i in range(n):
        base = prob(x[i], target[i])
        for r in range(rows):
            for s in range(cols):
                img = x[i].copy()
                img[:, r * stride[0]:r * stride[0] + window[0],
                    s * stride[1]:s * stride[1] + window[1]] = fill
                result[i, r, s] = base - prob(img, target[i])
    model.train()
    return result


def test_occlusion_matches_one_forward_per_position(fmnist: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(at, "_OCCLUSION_MAX_CHUNK", 5)     # chunks that split images unevenly
    model, _ = fmnist
    x = images((2, 1, 28, 28))
    got = at.occlusion(model, x, target=[2, 8], window=(8, 6), stride=(7, 6), fill=0.5)
    assert got.shape == (2, 3, 4)                          # (28-8)//7+1, (28-6)//6+1
    expected = occlusion_loop(model, x, [2, 8], (8, 6), (7, 6), 0.5)
    np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-14)
    assert model.training and np.abs(expected).max() > 1e-6


def test_occlusion_defaults_and_predicted_target() -> None:
    numcnn.manual_seed(1)
    model = FunctionalRelus().double()
    x = images((2, 16, 16), seed=8) + 1.0
    with numcnn.no_grad():
        pred = int(model(numcnn.tensor(x[None])).numpy().argmax())
    got = at.occlusion(model, x)
    assert got.shape == (1, 3, 3)                          # (16 - 8) // 4 + 1
    expected = occlusion_loop(model, x[None], [pred], (8, 8), (4, 4), 0.0)
    np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-14)
    assert np.abs(expected).max() > 1e-6


# ----------------------------------------------------------------------------- errors
def test_errors() -> None:
    model = fmnist_cnn()
    x = images((2, 1, 28, 28)).astype(np.float32)
    with pytest.raises(ValueError, match=r"no layer 'features\.99'.*layers: features, "
                                         r"features\.0"):
        at.grad_cam(model, x, "features.99")
    with pytest.raises(ValueError, match=r"target 10 is out of range.*10 classes"):
        at.grad_cam(model, x, "features.11", target=10)
    with pytest.raises(ValueError, match=r"one int per image \(2\)"):
        at.grad_cam_plus_plus(model, x, "features.11", target=[1, 2, 3])
    with pytest.raises(ValueError, match=r"target -1 is out of range"):
        at.saliency(model, x, target=-1)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\) or \(C, H, W\), got shape \(28, 28\)"):
        at.saliency(model, x[0, 0])
    with pytest.raises(ValueError, match=r"got shape \(1, 2, 1, 28, 28\)"):
        at.guided_backprop(model, x[None])
    with pytest.raises(ValueError, match=r"must output feature maps \(N, K, h, w\), got shape "
                                         r"\(2, 512\)"):
        at.grad_cam(model, x, "classifier.1")
    with pytest.raises(ValueError, match=r"window \(30, 30\) is larger than the image"):
        at.occlusion(model, x, window=30)
    with pytest.raises(ValueError, match="stride must be a positive int or a pair"):
        at.occlusion(model, x, stride=0)
    with pytest.raises(ValueError, match="window must be a positive int or a pair"):
        at.occlusion(model, x, window=(3, 3, 3))
    assert model.training


def test_unused_layer_is_an_error() -> None:
    class Unused(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used = nn.Conv2d(1, 3, 3)
            self.spare = nn.Conv2d(1, 3, 3)

        def forward(self, x: numcnn.Tensor) -> numcnn.Tensor:
            return self.used(x).mean(dim=(2, 3))

    with pytest.raises(ValueError, match="'spare' is not called"):
        at.grad_cam(Unused(), images((1, 1, 5, 5)), "spare")


# ----------------------------------------------------------------------------- pictures
def test_plot_grad_cam_overlays_the_resized_map() -> None:
    x = images((2, 1, 8, 8))
    cams = np.random.default_rng(3).uniform(size=(2, 4, 4))
    fig = at.plot_grad_cam(x, cams, titles=["a", "b"], alpha=0.4)
    ax = fig.axes[0]
    base, overlay = ax.images
    np.testing.assert_allclose(base.get_array(), (x[0, 0] - x[0, 0].min())
                               / (x[0, 0].max() - x[0, 0].min()), rtol=1e-12)
    resized = TF.interpolate(torch.from_numpy(cams)[:, None], size=(8, 8), mode="bilinear",
                             align_corners=False)[:, 0]
    np.testing.assert_allclose(overlay.get_array(), resized[0].numpy(), rtol=1e-12)
    assert overlay.get_alpha() == 0.4 and ax.get_title() == "a"
    with pytest.raises(ValueError, match="alpha must be in"):
        at.plot_grad_cam(x, cams, alpha=2.0)
    with pytest.raises(ValueError, match="cams must be"):
        at.plot_grad_cam(x, cams[:1])


def test_plot_attribution_rows() -> None:
    x = images((3, 3, 6, 6))
    guided = images((3, 3, 6, 6), seed=9)
    fig = at.plot_attribution(x, guided, titles=["p", "q", "r"])
    assert len(fig.axes) == 6
    rgb = x[1].transpose(1, 2, 0)
    np.testing.assert_allclose(fig.axes[2].images[0].get_array(),
                               (rgb - rgb.min()) / (rgb.max() - rgb.min()), rtol=1e-12)
    sal = np.abs(guided).max(1)
    fig = at.plot_attribution(x, sal, cmap="viridis")
    np.testing.assert_allclose(fig.axes[5].images[0].get_array(), sal[2], rtol=1e-12)
    assert fig.axes[5].images[0].get_cmap().name == "viridis"
    with pytest.raises(ValueError, match="titles must give one title per image"):
        at.plot_attribution(x, sal, titles=["one"])
    with pytest.raises(ValueError, match="maps must be"):
        at.plot_attribution(x, sal[:2])
