"""(d) Grad-CAM as the common hook-based implementations write it: a class that registers a
forward hook (keeps the layer's output, detached) and a full backward hook (keeps the gradient
at the layer's output) on a conv layer, backpropagates one class score, weights each channel by
its spatially averaged gradient, applies ReLU, upsamples bilinearly to the image size and
normalises each map to [0, 1].  The CAM, the hooked tensors and the scores are compared.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from tests.compat.port import LIBS, assert_same, default_dtype_float64, load_arrays, state_arrays


def grad_cam_program(lib, images, target_class=None, init=None):
    torch, nn, F = lib.torch, lib.nn, lib.F

    class SmallCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
                nn.Conv2d(6, 8, 3, padding=1), nn.ReLU())     # not in place: see below
            self.classifier = nn.Linear(8, 5)

        def forward(self, x):
            x = self.features(x)
            x = F.adaptive_avg_pool2d(x, 1).flatten(1)
            return self.classifier(x)

    class GradCAM:
        def __init__(self, model, target_layer):
            self.model = model
            self.activations = None
            self.gradients = None
            self.handles = [
                target_layer.register_forward_hook(self.save_activation),
                target_layer.register_full_backward_hook(self.save_gradient),
            ]

        def save_activation(self, module, input, output):
            self.activations = output.detach()

        def save_gradient(self, module, grad_input, grad_output):
            self.gradients = grad_output[0].detach()

        def remove(self):
            for handle in self.handles:
                handle.remove()

        def __call__(self, x, class_idx=None):
            self.model.eval()
            logits = self.model(x)
            if class_idx is None:
                class_idx = logits.argmax(dim=1)
            score = logits.gather(1, class_idx.view(-1, 1)).sum()
            self.model.zero_grad()
            score.backward()
            weights = self.gradients.mean(dim=(2, 3), keepdim=True)      # (N, C, 1, 1)
            cam = (weights * self.activations).sum(dim=1, keepdim=True)  # (N, 1, h, w)
            cam = F.relu(cam)
            cam = F.interpolate(cam, size=x.shape[2:], mode='bilinear', align_corners=False)
            n = cam.size(0)
            flat = cam.view(n, -1)
            cam_min = flat.min(dim=1, keepdim=True)[0].view(n, 1, 1, 1)
            cam_max = flat.max(dim=1, keepdim=True)[0].view(n, 1, 1, 1)
            cam = (cam - cam_min) / (cam_max - cam_min + 1e-8)
            return cam, logits.detach(), class_idx

    torch.manual_seed(0)
    model = SmallCNN()
    if init is not None:
        init(model)
    cam_maker = GradCAM(model, model.features[4])
    x = torch.from_numpy(images)
    classes = None if target_class is None else torch.full((x.shape[0],), target_class,
                                                            dtype=torch.long)
    cam, logits, class_idx = cam_maker(x, classes)
    cam_maker.remove()
    model(x).sum().backward()                         # hooks removed: nothing is recorded
    return dict(cam=cam, logits=logits, classes=class_idx, acts=cam_maker.activations,
                grads=cam_maker.gradients)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("target_class", [None, 3])
def test_grad_cam_matches_torch(dtype, target_class):
    rng = np.random.default_rng(5)
    images = rng.normal(size=(3, 3, 11, 13)).astype(dtype)   # odd sizes: 11x13 -> 5x6 -> 11x13
    init: dict = {}
    with default_dtype_float64() if dtype == np.float64 else contextlib.nullcontext():
        t = grad_cam_program(LIBS["torch"], images, target_class,
                             init=lambda m: init.update(state_arrays(m)))
        n = grad_cam_program(LIBS["numcnn"], images, target_class,
                             init=lambda m: load_arrays(m, init))
    tol = {} if dtype == np.float64 else {"rtol": 1e-4, "atol": 1e-5}
    assert_same(n["logits"], t["logits"], "logits", **tol)
    assert_same(n["classes"], t["classes"], "explained classes")
    assert_same(n["acts"], t["acts"], "hooked activations", **tol)
    assert_same(n["grads"], t["grads"], "hooked gradients", **tol)
    # the CAM divides by its range: float32 keeps 1e-4 relative, so 1e-4 absolute on [0, 1]
    assert_same(n["cam"], t["cam"], "CAM", **({} if dtype == np.float64 else
                                               {"rtol": 1e-4, "atol": 1e-4}))
    cam = n["cam"].numpy()
    assert cam.shape == (3, 1, 11, 13)
    # each map spans [0, 1] (max = range / (range + 1e-8)), or is all 0 where the class has
    # no positive evidence at the layer (ReLU of a negative map); ranges here are 1e-4..1e-2
    peaks = cam.reshape(3, -1).max(axis=1)
    assert ((np.abs(peaks - 1) < 1e-3) | (peaks == 0)).all() and (peaks > 0).any()
    np.testing.assert_allclose(cam.reshape(3, -1).min(axis=1), 0.0, atol=1e-12)
