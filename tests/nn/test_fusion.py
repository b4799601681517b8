"""nn.utils.fusion against torch.nn.utils.fusion: the fused layer's output equals the layer
followed by the eval-mode batch norm, the parameters equal torch's, and the errors match."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import numcnn
import numcnn.nn as nn
from numcnn.nn.utils import fusion


def _randomise(bn, rng):
    C = bn.num_features
    bn.running_mean.array[:] = rng.normal(size=C)
    bn.running_var.array[:] = rng.uniform(0.2, 3.0, C)
    if bn.weight is not None:
        bn.weight.array[:] = rng.normal(size=C)
        bn.bias.array[:] = rng.normal(size=C)


def _torch_copy(m, tm):
    """tm (torch) with m's state, in m's float dtype."""
    state = {k: torch.from_numpy(np.array(v.numpy())) for k, v in m.state_dict().items()}
    tm = tm.double() if next(iter(state.values())).dtype == torch.float64 else tm
    tm.load_state_dict(state)
    return tm.eval()


@pytest.mark.parametrize("conv_bias, affine", [(True, True), (False, True), (False, False)])
@pytest.mark.parametrize("transpose", [False, True])
def test_conv_bn(conv_bias, affine, transpose):
    rng = np.random.default_rng(0)
    numcnn.manual_seed(0)
    cls, tcls = (nn.ConvTranspose2d, torch.nn.ConvTranspose2d) if transpose else \
        (nn.Conv2d, torch.nn.Conv2d)
    conv = cls(3, 6, 3, stride=2, bias=conv_bias).double().eval()
    bn = nn.BatchNorm2d(6, eps=1e-3, affine=affine).double().eval()
    _randomise(bn, rng)
    fused = fusion.fuse_conv_bn_eval(conv, bn, transpose=transpose)
    tconv = _torch_copy(conv, tcls(3, 6, 3, stride=2, bias=conv_bias))
    tbn = _torch_copy(bn, torch.nn.BatchNorm2d(6, eps=1e-3, affine=affine))
    tfused = torch.nn.utils.fusion.fuse_conv_bn_eval(tconv, tbn, transpose=transpose)
    x = rng.standard_normal((2, 3, 9, 9))
    with numcnn.no_grad():
        y = fused(numcnn.from_numpy(x)).numpy()
        ref = bn(conv(numcnn.from_numpy(x))).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fused.weight.detach().numpy(), tfused.weight.detach().numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(fused.bias.detach().numpy(), tfused.bias.detach().numpy(),
                               rtol=1e-12, atol=1e-14)
    assert fused.bias.requires_grad == tfused.bias.requires_grad
    assert conv.weight is not fused.weight                 # the original is left alone


def test_linear_bn_and_the_errors():
    rng = np.random.default_rng(1)
    lin = nn.Linear(5, 4).eval()
    bn = nn.BatchNorm1d(4).eval()
    _randomise(bn, rng)
    fused = fusion.fuse_linear_bn_eval(lin, bn)
    tfused = torch.nn.utils.fusion.fuse_linear_bn_eval(
        _torch_copy(lin, torch.nn.Linear(5, 4)), _torch_copy(bn, torch.nn.BatchNorm1d(4)))
    np.testing.assert_allclose(fused.weight.detach().numpy(), tfused.weight.detach().numpy(),
                               rtol=1e-6)
    np.testing.assert_allclose(fused.bias.detach().numpy(), tfused.bias.detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    x = numcnn.from_numpy(rng.standard_normal((3, 5)).astype(np.float32))
    with numcnn.no_grad():
        np.testing.assert_allclose(fused(x).numpy(), bn(lin(x)).numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(AssertionError, match="out_features"):
        fusion.fuse_linear_bn_eval(lin, nn.BatchNorm1d(3).eval())
    with pytest.raises(AssertionError, match="Fusion only for eval!"):
        fusion.fuse_linear_bn_eval(lin.train(), bn)
    with pytest.raises(AssertionError, match="must not be None"):
        fusion.fuse_conv_bn_eval(nn.Conv2d(2, 4, 1).eval(),
                                 nn.BatchNorm2d(4, track_running_stats=False).eval())
