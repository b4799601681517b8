"""numcnn.compress.binary: binary-weight and XNOR-Net layers (Rastegari et al. 2016).

Oracles:
- the packed XNOR + popcount arithmetic against the float dot products / convolutions of the
  +-1 signs (torch.conv2d in float64, whose sums of +-1 are exact integers): equal exactly;
- the straight-through estimator and the alpha term of the weight gradient against a torch
  reimplementation of the same forward with torch's autograd (sign with the STE as a
  torch.autograd.Function, alpha = mean |W| left to autograd); K against torch's unfold;
- the alpha term alone (sign's derivative taken as 0) against finite differences (gradcheck,
  float64, weights away from 0);
- the compressed checkpoint against the model it was saved from (outputs equal bit for bit)
  and the float checkpoint's size.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as tF
from tests.helpers import assert_close

import numcnn
import numcnn.nn as nn
from numcnn.analysis.summary import summary
from numcnn.autograd import gradcheck
from numcnn.compress import binary as B
from numcnn.compress.checkpoint import CompressedCheckpointError
from numcnn.models import fmnist_cnn


# ----------------------------------------------------------------------------- torch reference
class TSignSTE(torch.autograd.Function):
    """sign (+1 for x >= 0) forward, straight-through estimator 1_{|x| <= 1} backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return g * (x.abs() <= 1).to(g.dtype)


def t_binw(w: torch.Tensor) -> torch.Tensor:
    alpha = w.abs().mean(dim=tuple(range(1, w.ndim)), keepdim=True)
    return alpha * TSignSTE.apply(w)


def t_xnor_conv(x, w, b, stride, pads, dilation):
    """(sign(x) (*) alpha sign(W)) * K + b, K = mean over every receptive field of
    mean_c |x| (zeros in the padding), computed with unfold."""
    kh, kw = w.shape[2:]
    y = tF.conv2d(tF.pad(TSignSTE.apply(x), pads), t_binw(w), None, stride, 0, dilation)
    a = tF.pad(x.abs().mean(1, keepdim=True), pads)
    k = tF.unfold(a, (kh, kw), dilation=dilation, stride=stride).mean(1)
    k = k.reshape(x.shape[0], 1, *y.shape[2:])
    y = y * k
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def t_xnor_linear(x, w, b):
    y = tF.linear(TSignSTE.apply(x), t_binw(w)) * x.abs().mean(-1, keepdim=True)
    return y if b is None else y + b


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _layer(kind: str, *args: Any, dtype: Any = np.float64, **kw: Any) -> Any:
    layer = B.LAYERS[kind](*args, dtype=dtype, **kw)
    rng = _rng(1)
    for p in (layer.weight, layer.bias):
        if p is not None:
            p.array[...] = rng.standard_normal(p.shape).astype(dtype) * 0.7
    return layer


def _t(a: Any) -> torch.Tensor:
    return torch.tensor(np.asarray(a.array if isinstance(a, numcnn.Tensor) else a).copy(),
                        requires_grad=True)


# ----------------------------------------------------------------------------- bits
@pytest.mark.parametrize("n", [1, 7, 8, 9, 63, 64, 65, 200])
def test_pack_unpack_rows(n: int) -> None:
    bits = _rng(n).random((5, n)) < 0.5
    for word_bytes in (1, 8):
        packed = B.pack_rows(bits, word_bytes)
        assert packed.dtype == (np.uint8 if word_bytes == 1 else np.uint64)
        assert packed.nbytes == 5 * -(-n // (8 * word_bytes)) * word_bytes
        np.testing.assert_array_equal(B.unpack_rows(packed, n), np.where(bits, 1, -1))


@pytest.mark.parametrize("M,n,O", [(1, 1, 1), (3, 7, 2), (17, 63, 5), (9, 64, 3),
                                   (33, 65, 4), (1100, 577, 6), (5, 1500, 7)])
def test_binary_matmul_equals_float_signs(M: int, n: int, O: int) -> None:
    rng = _rng(M + n)
    a, b = rng.standard_normal((M, n)), rng.standard_normal((O, n))
    sa, sb = np.where(a >= 0, 1.0, -1.0), np.where(b >= 0, 1.0, -1.0)
    got = B.binary_matmul(B.pack_rows(B.sign_bits(a)), B.pack_rows(B.sign_bits(b)), n)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, (sa @ sb.T).astype(np.int64))


CONV_CASES = [  # N, C, H, W, O, kernel, stride, padding (F.pad order), dilation
    (2, 3, 7, 6, 4, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),
    (1, 13, 9, 8, 5, (3, 2), (2, 1), (0, 1, 2, 0), (1, 1)),
    (3, 8, 8, 8, 6, (3, 3), (2, 2), (2, 2, 2, 2), (2, 1)),
    (2, 64, 5, 5, 3, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1)),
    (2, 70, 6, 7, 2, (5, 3), (1, 2), (1, 2, 2, 1), (1, 1)),
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_packed_conv_counts_equal_float_sign_conv(case: tuple[Any, ...]) -> None:
    N, C, H, W, O, K, stride, pads, dil = case
    rng = _rng(C)
    x = rng.standard_normal((N, C, H, W))
    x[x > 1.5] = 0.0                                 # sign(0) = +1 on both sides
    w = rng.standard_normal((O, C, *K))
    layer = B.XNORConv2d(C, O, K, stride, 0, dil, dtype=np.float64)
    layer.weight.array[...] = w
    p = layer._packed_weights()
    got = B._xnor_conv_counts(x, p.words, p.ones, K, stride, B._pairs(pads), dil)
    sx = torch.tensor(np.where(x >= 0, 1.0, -1.0))
    sw = torch.tensor(np.where(w >= 0, 1.0, -1.0))
    want = tF.conv2d(tF.pad(sx, pads), sw, None, stride, 0, dil).numpy()
    np.testing.assert_array_equal(got, np.moveaxis(want, 1, -1).astype(np.int64))


# ----------------------------------------------------------------------------- autograd
def test_sign_ste_against_torch() -> None:
    x = _rng().standard_normal((4, 5)) * 1.5
    x[0, 0] = 0.0
    x[1, 1], x[1, 2] = 1.0, -1.0                     # the STE's edges count as inside
    g = _rng(1).standard_normal((4, 5))
    n, t = numcnn.tensor(x, requires_grad=True), _t(x)
    y = B.SignSTE.apply(n)
    ty = TSignSTE.apply(t)
    assert_close(y, ty.detach(), what="sign")
    y.backward(numcnn.tensor(g))
    ty.backward(torch.tensor(g))
    assert_close(n.grad, t.grad, what="STE")


@pytest.mark.parametrize("shape", [(3, 4), (4, 3, 3, 3), (2, 1, 1, 1)])
def test_binarize_weight_against_torch(shape: tuple[int, ...]) -> None:
    w = _rng(len(shape)).standard_normal(shape) * 0.9
    g = _rng(5).standard_normal(shape)
    n, t = numcnn.tensor(w, requires_grad=True), _t(w)
    y, ty = B.BinarizeWeight.apply(n), t_binw(t)
    assert_close(y, ty.detach(), what="alpha sign W")
    alpha = np.abs(w).reshape(shape[0], -1).mean(1)
    np.testing.assert_allclose(np.abs(y.array).reshape(shape[0], -1).max(1), alpha, rtol=1e-15)
    y.backward(numcnn.tensor(g))
    ty.backward(torch.tensor(g))
    assert_close(n.grad, t.grad, what="dW (STE + alpha term)")


def test_binarize_weight_alpha_term_gradcheck() -> None:
    rng = _rng(3)
    w = rng.uniform(0.1, 2.0, (3, 2, 2, 2)) * np.where(rng.random((3, 2, 2, 2)) < 0.5, -1, 1)
    n = numcnn.tensor(w, requires_grad=True)
    assert gradcheck(lambda v: B.BinarizeWeight.apply(v, ste=False), (n,))


# ----------------------------------------------------------------------------- layers vs torch
@pytest.mark.parametrize("case", CONV_CASES[:3])
@pytest.mark.parametrize("bias", [True, False])
def test_xnor_conv_train_path_against_torch(case: tuple[Any, ...], bias: bool) -> None:
    N, C, H, W, O, K, stride, pads, dil = case
    if pads[0] != pads[1] or pads[2] != pads[3]:
        return                                        # nn.Conv2d pads symmetrically
    layer = _layer("XNORConv2d", C, O, K, stride, (pads[2], pads[0]), dil, bias=bias)
    x = _rng(2).standard_normal((N, C, H, W))
    n = numcnn.tensor(x, requires_grad=True)
    tx, tw = _t(x), _t(layer.weight)
    tb = _t(layer.bias) if bias else None
    y = layer(n)
    ty = t_xnor_conv(tx, tw, tb, stride, pads, dil)
    assert_close(y, ty.detach(), what="y")
    g = _rng(4).standard_normal(ty.shape)
    y.backward(numcnn.tensor(g))
    ty.backward(torch.tensor(g))
    assert_close(n.grad, tx.grad, what="dx")
    assert_close(layer.weight.grad, tw.grad, what="dW")
    if bias:
        assert_close(layer.bias.grad, tb.grad, what="db")


def test_xnor_conv_same_padding_and_packed_eval_against_torch() -> None:
    layer = _layer("XNORConv2d", 5, 4, (2, 3), padding="same")     # asymmetric 'same'
    x = _rng(6).standard_normal((3, 5, 6, 7))
    want = t_xnor_conv(torch.tensor(x), torch.tensor(layer.weight.array),
                       torch.tensor(layer.bias.array), 1, (1, 1, 0, 1), 1).detach()
    assert_close(layer(numcnn.tensor(x)), want, what="train path")
    layer.eval()
    with numcnn.no_grad():
        assert_close(layer(numcnn.tensor(x)), want, what="packed path")


@pytest.mark.parametrize("kind", ["BinaryLinear", "XNORLinear"])
def test_linear_layers_against_torch(kind: str) -> None:
    layer = _layer(kind, 37, 6)
    x = _rng(7).standard_normal((5, 37))
    n, tx, tw, tb = numcnn.tensor(x, requires_grad=True), _t(x), _t(layer.weight), \
        _t(layer.bias)
    ty = t_xnor_linear(tx, tw, tb) if kind == "XNORLinear" else tF.linear(tx, t_binw(tw), tb)
    y = layer(n)
    assert_close(y, ty.detach(), what="y")
    g = _rng(8).standard_normal(ty.shape)
    y.backward(numcnn.tensor(g))
    ty.backward(torch.tensor(g))
    for a, e, what in ((n.grad, tx.grad, "dx"), (layer.weight.grad, tw.grad, "dW"),
                       (layer.bias.grad, tb.grad, "db")):
        assert_close(a, e, what=what)
    layer.eval()
    with numcnn.no_grad():
        assert_close(layer(numcnn.tensor(x)), ty.detach(), what="packed path")


@pytest.mark.parametrize("groups", [1, 2])
def test_binary_conv_against_torch(groups: int) -> None:
    layer = _layer("BinaryConv2d", 4, 6, 3, 2, 1, groups=groups)
    x = _rng(9).standard_normal((2, 4, 7, 7))
    n, tx, tw, tb = numcnn.tensor(x, requires_grad=True), _t(x), _t(layer.weight), \
        _t(layer.bias)
    ty = tF.conv2d(tx, t_binw(tw), tb, 2, 1, 1, groups)
    y = layer(n)
    assert_close(y, ty.detach(), what="y")
    g = _rng(10).standard_normal(ty.shape)
    y.backward(numcnn.tensor(g))
    ty.backward(torch.tensor(g))
    assert_close(n.grad, tx.grad, what="dx")
    assert_close(layer.weight.grad, tw.grad, what="dW")
    layer.eval()
    with numcnn.no_grad():
        assert_close(layer(numcnn.tensor(x)), ty.detach(), what="packed path")


def test_packed_path_float32_and_unbatched() -> None:
    layer = _layer("XNORConv2d", 3, 4, 3, padding=1, dtype=np.float32).eval()
    x = _rng(11).standard_normal((3, 5, 5)).astype(np.float32)
    want = t_xnor_conv(torch.tensor(x[None]), torch.tensor(layer.weight.array),
                       torch.tensor(layer.bias.array), 1, (1, 1, 1, 1), 1)[0].detach()
    with numcnn.no_grad():
        y = layer(numcnn.tensor(x))
    assert_close(y, want, what="unbatched float32")


def test_packed_weights_follow_training_and_loading() -> None:
    layer = _layer("XNORLinear", 9, 3)
    x = numcnn.tensor(_rng(12).standard_normal((4, 9)))
    layer.eval()
    with numcnn.no_grad():
        before = layer(x).array.copy()
    layer.train()
    layer(x).sum().backward()
    opt = numcnn.optim.SGD(layer.parameters(), lr=1.0)
    opt.step()                                        # in place, no version bump
    layer.eval()
    with numcnn.no_grad():
        after = layer(x).array
    want = t_xnor_linear(torch.tensor(x.array), torch.tensor(layer.weight.array),
                         torch.tensor(layer.bias.array)).detach()
    assert_close(after, want.numpy(), what="after a step")
    assert not np.allclose(after, before)
    layer.load_state_dict({"weight": -layer.weight.array, "bias": layer.bias.array})
    with numcnn.no_grad():
        flipped = layer(x).array
    want = t_xnor_linear(torch.tensor(x.array), torch.tensor(layer.weight.array),
                         torch.tensor(layer.bias.array)).detach()
    assert_close(flipped, want.numpy(), what="after load_state_dict")
    layer.weight.data = numcnn.tensor(_rng(15).standard_normal((3, 9)))   # a new array
    with numcnn.no_grad():
        replaced = layer(x).array
    want = t_xnor_linear(torch.tensor(x.array), torch.tensor(layer.weight.array),
                         torch.tensor(layer.bias.array)).detach()
    assert_close(replaced, want.numpy(), what="after replacing .data")


def test_packed_kernel_has_no_backward() -> None:
    layer = _layer("XNORLinear", 5, 2).eval()
    p = layer._packed_weights()
    x = numcnn.tensor(_rng().standard_normal((2, 5)), requires_grad=True)
    y = B.PackedXNORLinear.apply(x, p.words, p.alpha, None)
    with pytest.raises(RuntimeError, match="inference-only"):
        y.sum().backward()


# ----------------------------------------------------------------------------- binarize
def test_binarize_fmnist_cnn_layers() -> None:
    model = fmnist_cnn()
    w0 = model.features[3].weight.array.copy()
    for mode, conv, lin in (("weights", B.BinaryConv2d, B.BinaryLinear),
                            ("xnor", B.XNORConv2d, B.XNORLinear)):
        bm = B.binarize(model, mode=mode)
        assert numcnn.compress.method_of(bm) == "binary"
        assert type(bm.features[0]) is nn.Conv2d and type(bm.classifier[5]) is nn.Linear
        assert [type(bm.features[i]) for i in (3, 8, 11)] == [conv] * 3
        assert type(bm.classifier[1]) is lin
        np.testing.assert_array_equal(bm.features[3].weight.array, w0)
        if mode == "xnor":   # the convs follow BN in their Sequential; the Linear does not
            assert [bm.features[i].input_norm for i in (3, 8, 11)] == [None] * 3
            assert isinstance(bm.classifier[1].input_norm, nn.BatchNorm1d)
    assert type(model.features[3]) is nn.Conv2d                  # the original is unchanged
    every = B.binarize(model, "xnor", keep_first=False, keep_last=False, input_norm=True)
    assert isinstance(every.features[0], B.XNORConv2d) and every.features[0].input_norm
    assert isinstance(every.classifier[5], B.XNORLinear)
    some = B.binarize(model, "weights", modules=["features.0"])
    assert len(B.binary_layers(some)) == 1 and isinstance(some.features[0], B.BinaryConv2d)


def test_follows_batchnorm_and_grouped_convs() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.MaxPool2d(2),
                          nn.Sequential(nn.Conv2d(8, 8, 3, groups=2), nn.ReLU(),
                                        nn.Conv2d(8, 8, 1)),
                          nn.Conv2d(8, 4, 1))
    assert B.follows_batchnorm(model, "2") and B.follows_batchnorm(model, "3.0")
    assert not B.follows_batchnorm(model, "3.2") and not B.follows_batchnorm(model, "0")
    resnet = numcnn.models.resnet18()
    assert not B.follows_batchnorm(resnet, "layer1.0.conv2")   # a BasicBlock is no Sequential
    xnor = B.binarize(model, "xnor")
    assert type(xnor[3][0]) is nn.Conv2d                        # grouped: kept in float
    assert isinstance(xnor[3][2], B.XNORConv2d) and xnor[3][2].input_norm is not None
    assert isinstance(B.binarize(model, "weights")[3][0], B.BinaryConv2d)
    with pytest.raises(ValueError, match="'3.0' is not a layer that can be binarised"):
        B.binarize(model, "xnor", modules=["3.0"])


def test_binarize_errors() -> None:
    model = fmnist_cnn()
    with pytest.raises(ValueError, match="mode must be one of weights, xnor"):
        B.binarize(model, mode="ternary")
    with pytest.raises(ValueError, match="input_norm must be"):
        B.binarize(model, "xnor", input_norm="yes")
    with pytest.raises(ValueError, match="'features.1' is not a layer"):
        B.binarize(model, modules=["features.1"])
    with pytest.raises(TypeError, match="modules must be a list"):
        B.binarize(model, modules="features.0")
    with pytest.raises(TypeError, match="model must be"):
        B.binarize("fmnist_cnn")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="padding_mode must be 'zeros'"):
        B.BinaryConv2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="groups must be 1"):
        B.XNORConv2d(2, 2, 3, groups=2)


def test_summary_counts_packed_macs() -> None:
    model = fmnist_cnn()
    float_macs = summary(model, (1, 28, 28)).macs
    for mode in ("weights", "xnor"):
        s = summary(B.binarize(model, mode, input_norm=False), (1, 28, 28))
        assert s.macs == float_macs, mode              # binary MACs counted as MACs
        assert not [u for u in s.uncounted if "Packed" in u]


# ----------------------------------------------------------------------------- checkpoint
def _trained_binary(mode: str) -> nn.Module:
    numcnn.manual_seed(0)
    bm = B.binarize(fmnist_cnn(), mode)
    bm.train()
    bm(numcnn.tensor(_rng(13).standard_normal((8, 1, 28, 28)).astype(np.float32)))  # BN stats
    return bm.eval()


@pytest.mark.parametrize("mode", ["weights", "xnor"])
def test_checkpoint_round_trip_and_size(mode: str, tmp_path: Any) -> None:
    bm = _trained_binary(mode)
    x = numcnn.tensor(_rng(14).standard_normal((5, 1, 28, 28)).astype(np.float32))
    with numcnn.no_grad():
        want = bm(x).array
    path, float_path = tmp_path / "bin.safetensors", tmp_path / "float.safetensors"
    numcnn.compress.save(bm, path)
    numcnn.save(bm.state_dict(), float_path)
    loaded = numcnn.compress.load(path, fmnist_cnn())
    assert not loaded.training and numcnn.compress.method_of(loaded) == "binary"
    assert {n: type(m) for n, m in B.binary_layers(loaded).items()} == \
        {n: type(m) for n, m in B.binary_layers(bm).items()}
    with numcnn.no_grad():
        np.testing.assert_array_equal(loaded(x).array, want)
    tensors, _ = B.to_checkpoint(bm)
    w = bm.classifier[1].weight
    assert tensors["classifier.1.weight_bits"].nbytes * 32 == w.array.nbytes
    assert "classifier.1.weight" not in tensors
    # 1.61M of the 1.68M weights are binary: the file is more than 10x smaller
    assert path.stat().st_size * 10 < float_path.stat().st_size


def test_checkpoint_errors() -> None:
    bm = _trained_binary("weights")
    tensors, spec = B.to_checkpoint(bm)
    with pytest.raises(CompressedCheckpointError, match=r"no Conv2d/Linear layer 'features\.\d+'"):
        B.from_checkpoint(numcnn.models.lenet5(), tensors, spec)
    bad = dict(tensors, **{"features.3.weight_bits": tensors["features.3.weight_bits"][:-1]})
    with pytest.raises(CompressedCheckpointError, match="'features.3' needs weight_bits"):
        B.from_checkpoint(fmnist_cnn(), bad, spec)
    with pytest.raises(CompressedCheckpointError, match="unknown layer type 'Ternary'"):
        B.from_checkpoint(fmnist_cnn(), tensors, {"layers": {"features.3": "Ternary"}})
