"""numcnn.analysis.summary against the lectures' own tables (seeds 000/002, 001, 004) and
closed forms worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tests.analysis import nets

import numcnn
import numcnn.nn as nn
from numcnn.analysis import summary
from numcnn.analysis.summary import trace
from numcnn.autograd.function import Function
from numcnn.tensor import Tensor

# ----------------------------------------------------------------------------- seed 000/002: VGG-16
# The lecture's table: (layer, output [H, W, C], "memory" = values of the output, weights
# "not counting biases").
VGG16_TABLE = [
    ("CONV3-64", (224, 224, 64), 1_728), ("CONV3-64", (224, 224, 64), 36_864),
    ("POOL2", (112, 112, 64), 0),
    ("CONV3-128", (112, 112, 128), 73_728), ("CONV3-128", (112, 112, 128), 147_456),
    ("POOL2", (56, 56, 128), 0),
    ("CONV3-256", (56, 56, 256), 294_912), ("CONV3-256", (56, 56, 256), 589_824),
    ("CONV3-256", (56, 56, 256), 589_824), ("POOL2", (28, 28, 256), 0),
    ("CONV3-512", (28, 28, 512), 1_179_648), ("CONV3-512", (28, 28, 512), 2_359_296),
    ("CONV3-512", (28, 28, 512), 2_359_296), ("POOL2", (14, 14, 512), 0),
    ("CONV3-512", (14, 14, 512), 2_359_296), ("CONV3-512", (14, 14, 512), 2_359_296),
    ("CONV3-512", (14, 14, 512), 2_359_296), ("POOL2", (7, 7, 512), 0),
    ("FC", (1, 1, 4096), 102_760_448), ("FC", (1, 1, 4096), 16_777_216),
    ("FC", (1, 1, 1000), 4_096_000),
]


@pytest.fixture(scope="module")
def vgg16_summary():
    numcnn.manual_seed(0)
    return summary(nets.vgg16(), (3, 224, 224))


def test_vgg16_per_layer_memory_and_weights(vgg16_summary):
    s = vgg16_summary
    rows = [r for r in s.leaf_rows() if r.kind in ("Conv2d", "MaxPool2d", "Linear")]
    assert len(rows) == len(VGG16_TABLE)
    for row, (name, (h, w, c), weights) in zip(rows, VGG16_TABLE):
        assert row.activation_values == h * w * c, name
        bias = c if weights else 0
        assert row.params - bias == weights, name          # the table leaves biases out
        assert row.activation_bytes == 4 * h * w * c
    assert s.total_params == s.trainable_params == 138_357_544
    assert s.non_trainable_params == 0
    assert "138,357,544" in str(s)


def test_vgg16_forward_activation_total(vgg16_summary):
    # The rows of the seed's table, input included, add up to 15,237,608 values (60.95 MB in
    # float32).  The seed's "TOTAL memory: 24M * 4 bytes ~= 93MB / image" is not the sum of its
    # own rows; what the table lists (and what the summary counts with in-place ReLUs, views
    # for Flatten and Dropout in eval) is 15.24M.
    table_sum = 224 * 224 * 3 + sum(math.prod(shape) for _, shape, _ in VGG16_TABLE)
    assert table_sum == 15_237_608
    s = vgg16_summary
    assert s.forward_values == table_sum
    assert s.forward_bytes == 4 * table_sum
    assert s.forward_backward_bytes == 2 * 4 * table_sum      # "~*2 for bwd"
    assert s.param_bytes == 4 * 138_357_544


def test_vgg16_macs(vgg16_summary):
    # per conv: H*W*C_out*(3*3*C_in); per FC: in*out
    convs = [(224, 3, 64), (224, 64, 64), (112, 64, 128), (112, 128, 128), (56, 128, 256),
             (56, 256, 256), (56, 256, 256), (28, 256, 512), (28, 512, 512), (28, 512, 512),
             (14, 512, 512), (14, 512, 512), (14, 512, 512)]
    macs = sum(h * h * co * 9 * ci for h, ci, co in convs) + 25088 * 4096 + 4096 * 4096 \
        + 4096 * 1000
    assert macs == 15_470_264_320
    assert vgg16_summary.macs == macs
    # FLOPs: 2 per MAC, + one per ReLU output, + 3 comparisons per 2x2 max-pool output
    relus = sum(h * h * co for h, _, co in convs) + 4096 * 2
    pools = 3 * (112 * 112 * 64 + 56 * 56 * 128 + 28 * 28 * 256 + 14 * 14 * 512 + 7 * 7 * 512)
    assert vgg16_summary.flops == 2 * macs + relus + pools


# ----------------------------------------------------------------------------- seed 004: Keras
# model.summary() of fmnist_cnn.py: (layer, Keras output shape (H, W, C) or (F,), Param #)
KERAS_FMNIST = [
    ("conv2d", (28, 28, 32), 320), ("activation", (28, 28, 32), 0),
    ("batch_normalization", (28, 28, 32), 128), ("conv2d_1", (28, 28, 32), 9248),
    ("activation_1", (28, 28, 32), 0), ("batch_normalization_1", (28, 28, 32), 128),
    ("max_pooling2d", (14, 14, 32), 0), ("dropout", (14, 14, 32), 0),
    ("conv2d_2", (14, 14, 64), 18496), ("activation_2", (14, 14, 64), 0),
    ("batch_normalization_2", (14, 14, 64), 256), ("conv2d_3", (14, 14, 64), 36928),
    ("activation_3", (14, 14, 64), 0), ("batch_normalization_3", (14, 14, 64), 256),
    ("max_pooling2d_1", (7, 7, 64), 0), ("dropout_1", (7, 7, 64), 0),
    ("flatten", (3136,), 0), ("dense", (512,), 1606144), ("activation_4", (512,), 0),
    ("batch_normalization_4", (512,), 2048), ("dropout_2", (512,), 0),
    ("dense_1", (10,), 5130), ("activation_5", (10,), 0),
]


def test_seed004_fmnist_keras_table():
    s = summary(nets.fmnist_keras_cnn(), (1, 28, 28))
    rows = s.leaf_rows()
    assert len(rows) == len(KERAS_FMNIST)
    for row, (name, shape, params) in zip(rows, KERAS_FMNIST):
        ours = row.output_shape[1:]
        if len(ours) == 3:                      # NCHW -> Keras's NHWC
            ours = (ours[1], ours[2], ours[0])
        assert ours == shape, name
        assert row.params + row.buffers == params, name     # Keras counts BN's moving stats
    assert s.total_params_with_buffers == 1_679_082          # Keras "Total params"
    assert s.trainable_params == 1_677_674
    assert s.buffer_count == 1_679_082 - 1_677_674 == 2 * (32 + 32 + 64 + 64 + 512)
    text = str(s)
    assert "1,679,082" in text and "1,677,674" in text


# torchsummary table of the dogs-vs-cats notebook: (row, [C, H, W] or [F], Param #)
DOGS_CATS = [
    ("Conv2d-1", (32, 150, 150), 896), ("Conv2d-2", (64, 150, 150), 18_496),
    ("MaxPool2d-3", (64, 75, 75), 0), ("Conv2d-4", (128, 75, 75), 73_856),
    ("Conv2d-5", (128, 75, 75), 147_584), ("MaxPool2d-6", (128, 37, 37), 0),
    ("Conv2d-7", (256, 37, 37), 295_168), ("Conv2d-8", (512, 37, 37), 1_180_160),
    ("MaxPool2d-9", (512, 18, 18), 0), ("Conv2d-10", (512, 18, 18), 2_359_808),
    ("Conv2d-11", (512, 18, 18), 2_359_808), ("MaxPool2d-12", (512, 8, 8), 0),
    ("Dropout2d-13", (32768,), 0), ("Linear-14", (512,), 16_777_728), ("Linear-15", (1,), 513),
]


def test_seed004_dogs_vs_cats_table():
    numcnn.manual_seed(0)
    s = summary(nets.DogsCatsCNN(), (3, 150, 150))
    modules = [r for r in s.leaf_rows() if not r.functional]
    assert [(r.output_shape[1:], r.params) for r in modules] == [(sh, p) for _, sh, p in DOGS_CATS]
    assert [r.kind for r in modules] == [n.split("-")[0].replace("Dropout2d", "Dropout")
                                         for n, _, _ in DOGS_CATS]
    assert s.total_params == s.trainable_params == 23_214_017
    assert s.non_trainable_params == 0
    # the functional ReLUs written in forward are rows of their own, and counted
    relus = [r for r in s.leaf_rows() if r.functional and r.kind == "relu"]
    assert len(relus) == 9
    assert relus[0].flops == 32 * 150 * 150


def test_seed004_conv_vs_depthwise_separable():
    standard = summary(nn.Conv2d(16, 32, 3, padding=1), (16, 64, 64))
    assert standard.total_params == 32 * (3 * 3 * 16) + 32 == 4_640
    assert standard.rows[0].activation_values == 32 * 64 * 64 == 131_072
    # seed 004: "16, 3x3 depth-wise kernels" (144), "32, 1x1 point-wise filters: 512",
    # "32, biases: 32" -> 688
    separable = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False),
                              nn.Conv2d(16, 32, 1))
    s = summary(separable, (16, 64, 64))
    assert [r.params for r in s.leaf_rows()] == [144, 544]
    assert s.total_params == 688
    assert s.rows[0].output_shape == standard.rows[0].output_shape == (1, 32, 64, 64)


def test_seed001_depthwise_separable_cost_ratio():
    # 3x3 conv 256 -> 256: 9*256*256 = 589,824 (~590,000) operations per location; depthwise
    # 9*256 = 2,304 (~2,300) + pointwise 256*256 = 65,536 (~65,500) = 67,840 (~67,800): 8.7x.
    hw = 4 * 4
    standard = summary(nn.Conv2d(256, 256, 3, padding=1, bias=False), (256, 4, 4))
    dw = nn.Conv2d(256, 256, 3, padding=1, groups=256, bias=False)
    pw = nn.Conv2d(256, 256, 1, bias=False)
    separable = summary(nn.Sequential(dw, pw), (256, 4, 4))
    assert standard.macs == hw * 589_824
    assert [r.macs for r in separable.leaf_rows()] == [hw * 2_304, hw * 65_536]
    assert separable.macs == hw * 67_840
    ratio = standard.macs / separable.macs
    assert ratio == pytest.approx(8.69, abs=0.01)
    assert round(ratio, 1) == 8.7
    assert standard.total_params == 589_824 and separable.total_params == 67_840


def test_seed001_bottleneck_savings():
    # Option 1: 3x3, 256 -> 256: 256*256*3*3 = 589,824 (~600,000) weights and operations per
    # location; option 2: 1x1 256->64 (16,384), 3x3 64->64 (36,864), 1x1 64->256 (16,384):
    # 69,632 (~70,000).
    plain = summary(nn.Conv2d(256, 256, 3, padding=1, bias=False), (256, 1, 1))
    bottleneck = summary(nn.Sequential(nn.Conv2d(256, 64, 1, bias=False), nn.ReLU(),
                                       nn.Conv2d(64, 64, 3, padding=1, bias=False), nn.ReLU(),
                                       nn.Conv2d(64, 256, 1, bias=False)), (256, 1, 1))
    assert plain.total_params == plain.macs == 589_824
    convs = [r for r in bottleneck.leaf_rows() if r.kind == "Conv2d"]
    assert [r.params for r in convs] == [16_384, 36_864, 16_384]
    assert [r.macs for r in convs] == [16_384, 36_864, 16_384]
    assert bottleneck.total_params == bottleneck.macs == 69_632
    assert plain.macs / bottleneck.macs == pytest.approx(8.47, abs=0.01)


# ----------------------------------------------------------------------------- closed forms
def test_conv_macs_closed_form():
    # Conv2d(3, 8, 5, stride 2, padding 1) on 17x19: H_out = floor((17 + 2 - 5)/2) + 1 = 8,
    # W_out = floor((19 + 2 - 5)/2) + 1 = 9; MACs = N*C_out*H_out*W_out * C_in*5*5
    s = summary(nn.Conv2d(3, 8, 5, stride=2, padding=1), (3, 17, 19), batch_size=2)
    assert s.rows[0].output_shape == (2, 8, 8, 9)
    assert s.macs == 2 * 8 * 8 * 9 * 3 * 25 == 86_400
    assert s.flops == 2 * s.macs
    # grouped: C_in/G inputs per output: Conv2d(8, 12, 3, groups=4) on 10x10 -> 8x8
    assert summary(nn.Conv2d(8, 12, 3, groups=4), (8, 10, 10)).macs == 12 * 64 * 2 * 9
    # dilated: the taps count, not the span: 3x3 dilation 2 on 9x9 -> 5x5
    assert summary(nn.Conv2d(2, 4, 3, dilation=2), (2, 9, 9)).macs == 4 * 25 * 2 * 9
    # transposed: every input value scatters C_out/G * K*K products: 4x5x5 -> 6, k2 s2
    t = summary(nn.ConvTranspose2d(4, 6, 2, stride=2), (4, 5, 5))
    assert t.rows[0].output_shape == (1, 6, 10, 10)
    assert t.macs == 4 * 25 * 6 * 4 == 2_400
    # linear: rows * in * out; batch norm: one multiply-add per value
    assert summary(nn.Linear(20, 7), (20,), batch_size=3).macs == 3 * 20 * 7
    assert summary(nn.BatchNorm2d(4), (4, 5, 5), batch_size=2).macs == 2 * 4 * 25


def test_parameter_free_operations_are_counted():
    s = summary(nn.Sequential(nn.ReLU(), nn.MaxPool2d(3, 2), nn.AvgPool2d(2),
                              nn.AdaptiveAvgPool2d(1)), (2, 9, 9))
    relu, mp, ap, gap = s.leaf_rows()
    assert relu.flops == 2 * 81 and relu.macs == 0
    assert mp.output_shape == (1, 2, 4, 4) and mp.flops == 2 * 16 * 8      # 9 - 1 comparisons
    assert ap.output_shape == (1, 2, 2, 2) and ap.flops == 2 * 4 * 4       # 4 adds-and-divide
    assert gap.flops == 2 * 4                                              # one per input
    assert s.flops == relu.flops + mp.flops + ap.flops + gap.flops
    assert s.uncounted == []


# ----------------------------------------------------------------------------- branching
def test_resnet_block_counts_the_addition():
    numcnn.manual_seed(0)
    block = nets.BasicBlock(8, 16, stride=2)
    s = summary(block, (8, 16, 16))
    add = [r for r in s.rows if r.functional and r.kind == "add"]
    assert len(add) == 1 and add[0].name == "add"
    assert add[0].output_shape == (1, 16, 8, 8) and add[0].flops == 16 * 64
    assert add[0].new_bytes == 4 * 16 * 64
    assert s.total_params == sum(p.numel() for p in block.parameters()) \
        == 8 * 16 * 9 + 16 * 16 * 9 + 8 * 16 + 3 * 2 * 16
    assert s.buffer_count == 3 * 2 * 16
    # totals are the sum of the leaf rows
    assert s.macs == sum(r.macs for r in s.leaf_rows())
    assert s.flops == sum(r.flops for r in s.leaf_rows())
    assert s.forward_bytes == s.input_bytes + sum(r.new_bytes for r in s.leaf_rows())
    downsample = s.row("downsample")
    assert not downsample.is_leaf and downsample.macs == 16 * 64 * 8 + 16 * 64


def test_inception_and_dense_concatenations():
    numcnn.manual_seed(0)
    s = summary(nets.InceptionLike(16, 8, 4, 12, 2, 4, 4), (16, 10, 10))
    (cat,) = [r for r in s.rows if r.kind == "cat"]
    assert cat.output_shape == (1, 8 + 12 + 4 + 4, 10, 10)
    assert cat.flops == 0 and cat.new_bytes == 4 * 28 * 100     # a copy: memory, no arithmetic
    assert s.rows[0].output_shape == (1, 28, 10, 10)
    conv_macs = 100 * (16 * 8 + 16 * 4 + 4 * 12 * 9 + 16 * 2 + 2 * 4 * 25 + 16 * 4)
    assert s.macs == conv_macs
    d = summary(nets.DenseLike(4, 3, 3), (4, 6, 6))
    cats = [r for r in d.rows if r.kind == "cat"]
    assert [r.output_shape[1] for r in cats] == [4, 7, 10, 13]
    assert d.rows[0].output_shape == (1, 13, 6, 6)
    assert d.total_params == sum(3 * c * 9 + 2 * c for c in (4, 7, 10))


def test_inplace_addition_and_shared_module():
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 3, padding=1)
            self.relu = nn.ReLU()

        def forward(self, x: Tensor) -> Tensor:
            out = self.relu(self.conv(x))
            out += x                                  # torchvision's in-place form
            return self.relu(out)                     # the same ReLU twice

    s = summary(Net(), (2, 4, 4))
    (add,) = [r for r in s.rows if r.kind == "add_"]
    assert add.flops == 32 and add.new_bytes == 0
    relus = [r for r in s.rows if r.kind == "ReLU"]
    assert [r.shared for r in relus] == [False, True]
    assert "(shared)" in str(s)


# ----------------------------------------------------------------------------- mechanics
def test_modes_and_patches_are_restored():
    model = nets.fmnist_keras_cnn()
    model.train()
    apply_before = Function.__dict__["apply"]
    iadd_before = Tensor.__dict__["__iadd__"]
    summary(model, (1, 28, 28))
    assert all(m.training for m in model.modules())
    model.eval()
    summary(model, (1, 28, 28), mode="train", batch_size=2)
    assert not any(m.training for m in model.modules())

    class Broken(nn.Module):
        def forward(self, x: Tensor) -> Tensor:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        summary(Broken(), (1, 4, 4))
    assert Function.__dict__["apply"] is apply_before
    assert Tensor.__dict__["__iadd__"] is iadd_before
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())
    # gradients still work after the trace
    x = numcnn.ones(1, 1, 28, 28, requires_grad=True)
    model(x).sum().backward()
    assert x.grad is not None and np.isfinite(x.grad.array).all()


def test_trace_records_owner_and_order():
    tr, out = trace(nets.BasicBlock(2, 2), numcnn.zeros(1, 2, 5, 5))
    assert out.shape == (1, 2, 5, 5)
    assert [c.name for c in tr.calls] == ["", "conv1", "bn1", "relu1", "conv2", "bn2", "relu2"]
    assert [o.op for o in tr.ops] == ["ConvNd", "BatchNorm", "ReLU", "ConvNd", "BatchNorm",
                                      "Add", "ReLU"]
    assert tr.ops[5].owner is tr.root


def test_arguments_and_table():
    with pytest.raises(ValueError, match="input_size"):
        summary(nn.ReLU(), (0, 3))
    with pytest.raises(ValueError, match="batch_size"):
        summary(nn.ReLU(), (3, 4, 4), batch_size=0)
    s = summary(nets.BasicBlock(2, 4).double(), (1, 2, 6, 6), dtype="float64")  # full shape
    assert s.input_shape == (1, 2, 6, 6) and s.input_bytes == 8 * 72
    shallow = summary(nets.BasicBlock(2, 4), (2, 6, 6), depth=0)
    assert len(shallow.visible_rows()) == 1
    text = str(shallow)
    assert "BasicBlock" in text and f"{shallow.macs:,}" in text
    assert "Trainable params" in str(s) and "Forward+backward" in str(s)


# ----------------------------------------------------------------------------- the zoo
# torchvision's model table lists "GFLOPS" at 224x224 that are in fact multiply-adds of the
# convolutions and linear layers, to two decimals.
TORCHVISION_GMACS = {"alexnet": 0.71, "squeezenet1_1": 0.35, "mobilenet_v2": 0.30,
                     "mobilenet_v3_small": 0.06, "shufflenet_v2_x0_5": 0.04}


@pytest.mark.parametrize("name", sorted(TORCHVISION_GMACS))
def test_zoo_macs_match_torchvision_table(name):
    import numcnn.models

    if name not in numcnn.models.list_models():
        pytest.skip(f"{name} is not in numcnn.models yet")
    s = summary(numcnn.models.get_model(name), (3, 224, 224))
    conv_linear = sum(r.macs for r in s.leaf_rows() if r.kind in ("Conv2d", "Linear"))
    assert round(conv_linear / 1e9, 2) == TORCHVISION_GMACS[name]
    assert s.macs >= conv_linear and s.uncounted == []
