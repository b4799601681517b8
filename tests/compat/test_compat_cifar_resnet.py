"""(b) A CIFAR ResNet as the popular CIFAR model collections write it: a BasicBlock whose
shortcut is an `nn.Sequential` of a 1x1 conv and BN when the shape changes, `out += shortcut`,
`F.relu(..., inplace=True)`, and an init loop over `self.modules()` with
`nn.init.kaiming_normal_`.  Forward and backward (all parameter gradients and the input's) are
compared with PyTorch's, in training and in evaluation mode.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from tests.compat.port import (
    LIBS,
    as_numpy,
    assert_same,
    assert_same_dicts,
    default_dtype_float64,
    grad_arrays,
    load_arrays,
    state_arrays,
)


def build_resnet(lib, num_blocks=(1, 1), num_classes=10):
    nn, F = lib.nn, lib.F

    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, in_planes, planes, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1,
                                   bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1,
                                   bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.shortcut = nn.Sequential()
            if stride != 1 or in_planes != self.expansion * planes:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_planes, self.expansion * planes, kernel_size=1, stride=stride,
                              bias=False),
                    nn.BatchNorm2d(self.expansion * planes),
                )

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)), inplace=True)
            out = self.bn2(self.conv2(out))
            out += self.shortcut(x)
            out = F.relu(out)
            return out

    class ResNet(nn.Module):
        def __init__(self, block, num_blocks, num_classes=10):
            super().__init__()
            self.in_planes = 8
            self.conv1 = nn.Conv2d(3, 8, kernel_size=3, stride=1, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(8)
            self.layer1 = self._make_layer(block, 8, num_blocks[0], stride=1)
            self.layer2 = self._make_layer(block, 16, num_blocks[1], stride=2)
            self.linear = nn.Linear(16 * block.expansion, num_classes)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

        def _make_layer(self, block, planes, num_blocks, stride):
            strides = [stride] + [1] * (num_blocks - 1)
            layers = []
            for stride in strides:
                layers.append(block(self.in_planes, planes, stride))
                self.in_planes = planes * block.expansion
            return nn.Sequential(*layers)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.layer1(out)
            out = self.layer2(out)
            out = F.adaptive_avg_pool2d(out, (1, 1))
            out = out.view(out.size(0), -1)
            out = self.linear(out)
            return out

    return ResNet(BasicBlock, list(num_blocks), num_classes)


def run_resnet(lib, x, y, state=None):
    torch, F = lib.torch, lib.F
    torch.manual_seed(0)
    model = build_resnet(lib)
    init = state_arrays(model)
    if state is not None:
        load_arrays(model, state)
    inputs = torch.tensor(x, requires_grad=True)
    model.train()
    out = model(inputs)
    loss = F.cross_entropy(out, torch.tensor(y))
    loss.backward()
    model.eval()
    with torch.no_grad():
        eval_out = model(torch.tensor(x))
    return dict(init=init, out=out, loss=loss, grads=grad_arrays(model), x_grad=inputs.grad,
                eval_out=eval_out, state=state_arrays(model), modules=list(model.modules()))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cifar_resnet_forward_backward_matches_torch(dtype):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3, 9, 9)).astype(dtype)        # odd size: stride 2 on 9 -> 5
    y = np.array([1, 0, 3, 9])
    with default_dtype_float64() if dtype == np.float64 else contextlib.nullcontext():
        t = run_resnet(LIBS["torch"], x, y)
        n = run_resnet(LIBS["numcnn"], x, y, state=t["init"])
    tol = {} if dtype == np.float64 else {"rtol": 1e-4, "atol": 1e-5}
    assert_same(n["out"], t["out"], "train output", **tol)
    assert_same(n["loss"], t["loss"], "loss", **tol)
    assert_same(n["x_grad"], t["x_grad"], "input gradient", **tol)
    assert_same_dicts(n["grads"], t["grads"], "parameter gradients", **tol)
    assert_same_dicts(n["state"], t["state"], "state after the step (running stats)", **tol)
    assert_same(n["eval_out"], t["eval_out"], "eval output", **tol)


def test_init_loop_runs_in_numcnn():
    """numcnn's own init (before torch's weights are loaded) did what the loop says: BN 1/0,
    conv weights from N(0, 2 / fan_out) (fan_out = out_channels * k * k)."""
    nn = LIBS["numcnn"].nn
    import numcnn
    numcnn.manual_seed(0)
    model = build_resnet(LIBS["numcnn"], num_blocks=(2, 2))
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(convs) == 1 + 4 + 4 + 1 and len(bns) == len(convs)   # one 1x1 shortcut
    for bn in bns:
        assert (as_numpy(bn.weight) == 1).all() and (as_numpy(bn.bias) == 0).all()
    w = np.concatenate([as_numpy(c.weight).ravel() / np.sqrt(2 / (c.out_channels *
                        c.kernel_size[0] * c.kernel_size[1])) for c in convs])
    assert abs(w.mean()) < 0.05 and abs(w.std() - 1) < 0.05      # 9,000+ standard normals
