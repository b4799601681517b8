"""numcnn.analysis.receptive_field, checked three ways: seed 001's closed forms, values worked
by hand (AlexNet, VGG-16, seed 004's pytorch-receptive-field printout), and an empirical oracle:
backpropagate from one output unit through a copy with all-positive weights and read off the
input pixels whose gradient is not zero."""

from __future__ import annotations

import numpy as np
import pytest
from tests.analysis import nets

import numcnn
import numcnn.nn as nn
from numcnn.analysis import receptive_field
from numcnn.tensor import Tensor


# ----------------------------------------------------------------------------- the oracle
def _positive(model: nn.Module) -> nn.Module:
    """float64, every conv/linear weight 1/fan_in, biases 0: every path adds, nothing cancels."""
    model.double().eval()
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            w = m.weight.array
            m.weight.array = np.full_like(w, 1.0 / (w.size // w.shape[0]))
            if m.bias is not None:
                m.bias.array = np.zeros_like(m.bias.array)
    return model


def measured_window(model: nn.Module, size: tuple[int, int], channels: int = 3
                    ) -> tuple[tuple[int, int], list[tuple[int, int]]]:
    """The centre output position and, per axis, the [first, last + 1) input pixels with a
    nonzero gradient of the sum over channels there (the union of every channel's field)."""
    x = numcnn.ones(1, channels, *size, dtype=numcnn.float64, requires_grad=True)
    y = model(x)
    centre = (y.shape[2] // 2, y.shape[3] // 2)
    y[0, :, centre[0], centre[1]].sum().backward()
    g = np.abs(x.grad.array[0]).sum(axis=0)
    assert (g >= 0).all()
    rows, cols = np.nonzero(g.sum(axis=1))[0], np.nonzero(g.sum(axis=0))[0]
    return centre, [(int(rows[0]), int(rows[-1]) + 1), (int(cols[0]), int(cols[-1]) + 1)]


def assert_oracle(model: nn.Module, size: tuple[int, int], channels: int = 3) -> None:
    """The computed window of the model's central output unit is where the gradient lands."""
    model, name = _positive(model), ""
    rf = receptive_field(model, (channels, *size), dtype="float64")
    centre, measured = measured_window(model, size, channels)
    assert [tuple(int(v) for v in w) for w in rf.unit_window(name, centre)] == measured
    # a window inside the image is exactly r wide
    for (lo, hi), a, n in zip(measured, rf.row(name).axes, size):
        if lo > 0 and hi < n:
            assert hi - lo == a.size


# ----------------------------------------------------------------------------- seed 004
def test_seed004_pytorch_receptive_field_example():
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
            self.bn = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        def forward(self, x: Tensor) -> Tensor:
            return self.maxpool(self.relu(self.bn(self.conv(x))))

    rf = receptive_field(Net(), (3, 256, 256))
    # the seed's table: map size, start, jump, receptive field
    expected = {"conv": ((128, 128), 0.5, 2.0, 7.0), "bn": ((128, 128), 0.5, 2.0, 7.0),
                "relu": ((128, 128), 0.5, 2.0, 7.0), "maxpool": ((64, 64), 0.5, 4.0, 11.0)}
    for name, (hw, start, jump, r) in expected.items():
        row = rf.row(name)
        assert row.output_shape[2:] == hw
        assert row.start == (start, start) and row.jump == (jump, jump) and row.size == (r, r)
    # "Receptive field size for layer 2, unit_position (1, 1), is [(0, 6.0), (0, 6.0)]"
    # (layer 2 = the batch norm): centre 0.5 + 1*2 = 2.5, 2.5 -+ 3.5 clipped to the image
    assert rf.unit_window("bn", (1, 1)) == [(0.0, 6.0), (0.0, 6.0)]
    assert_oracle(nn.Sequential(nn.Conv2d(3, 4, 7, stride=2, padding=3), nn.BatchNorm2d(4),
                                nn.ReLU(), nn.AvgPool2d(3, 2, padding=1)), (64, 64))


# ----------------------------------------------------------------------------- seed 001
@pytest.mark.parametrize("F", [3, 5])
def test_seed001_stacked_stride1_convolutions(F):
    # "Each successive convolution adds F - 1 ... With L layers the receptive field size is
    # 1 + L * (F - 1)"
    for L in range(1, 6):
        model = nn.Sequential(*[nn.Conv2d(1, 1, F, padding=F // 2) for _ in range(L)])
        rf = receptive_field(model, (1, 32, 32))
        assert [rf.row(str(i)).size for i in range(L)] == \
            [(1 + l * (F - 1),) * 2 for l in range(1, L + 1)]
        assert rf.row(str(L - 1)).jump == (1.0, 1.0)
    assert_oracle(model, (32, 32), channels=1)


def test_seed001_stride2_convolutions_grow_exponentially():
    # "3x3 convolutions, stride 2 ... receptive field size is given by 2^(L+1) - 1"
    L = 5
    model = nn.Sequential(*[nn.Conv2d(1, 1, 3, stride=2, padding=1) for _ in range(L)])
    rf = receptive_field(model, (1, 96, 96))
    for l in range(1, L + 1):
        row = rf.row(str(l - 1))
        assert row.size == (2 ** (l + 1) - 1,) * 2
        assert row.jump == (2 ** l,) * 2
    assert_oracle(nn.Sequential(*list(model)[:4]), (96, 96), channels=1)


# ----------------------------------------------------------------------------- by hand
def test_vgg16_by_hand():
    # 3x3 stride-1 convs add 2*j, 2x2 stride-2 pools add 1*j and double j; pools move the
    # start by (2-1)/2 * j.  Block by block (r, j):
    #   conv1_1 3, conv1_2 5, pool1 6 (j 2); conv2_x 10, 14, pool2 16 (j 4);
    #   conv3_x 24, 32, 40, pool3 44 (j 8); conv4_x 60, 76, 92, pool4 100 (j 16);
    #   conv5_x 132, 164, 196, pool5 212 (j 32); start 0.5 -> 1 -> 2 -> 4 -> 8 -> 16.
    expected = [(3, 1, .5), (5, 1, .5), (6, 2, 1), (10, 2, 1), (14, 2, 1), (16, 4, 2),
                (24, 4, 2), (32, 4, 2), (40, 4, 2), (44, 8, 4), (60, 8, 4), (76, 8, 4),
                (92, 8, 4), (100, 16, 8), (132, 16, 8), (164, 16, 8), (196, 16, 8),
                (212, 32, 16)]
    features = nets.vgg16(width=1, classifier=False)
    rf = receptive_field(features, (3, 224, 224))
    rows = [r for r in rf.rows if r.kind in ("Conv2d", "MaxPool2d")]
    assert [(r.size[0], r.jump[0], r.start[0]) for r in rows] == expected
    assert all(r.size[0] == r.size[1] for r in rows)
    largest = rf.largest()
    assert largest.name == "30" and largest.size == (212, 212)
    assert rf.path("30")[0] == "0" and len(rf.path("30")) == 18     # 13 convs + 5 pools


def test_alexnet_by_hand():
    # torchvision's AlexNet: conv 11/4 p2: r 11, j 4, start 0.5 + (5 - 2) = 3.5
    # pool 3/2: r 11 + 2*4 = 19, j 8, start 3.5 + 1*4 = 7.5;  conv 5 p2: r 19 + 4*8 = 51
    # pool: r 51 + 2*8 = 67, j 16, start 7.5 + 8 = 15.5;  three conv3: 99, 131, 163
    # pool: r 163 + 2*16 = 195, j 32, start 15.5 + 16 = 31.5
    rf = receptive_field(nets.alexnet_features(width=1), (3, 224, 224))
    rows = [r for r in rf.rows if r.kind in ("Conv2d", "MaxPool2d")]
    assert [(r.size[0], r.jump[0], r.start[0]) for r in rows] == [
        (11, 4, 3.5), (19, 8, 7.5), (51, 8, 7.5), (67, 16, 15.5), (99, 16, 15.5),
        (131, 16, 15.5), (163, 16, 15.5), (195, 32, 31.5)]
    assert [r.output_shape[2] for r in rows] == [55, 27, 27, 13, 13, 13, 13, 6]


def test_alexnet_original_by_hand():
    # the paper's 227x227 input, conv1 without padding: start 0.5 + 5 = 5.5, then as above
    # with every later start 2 pixels further: 9.5, 9.5, 17.5, ..., 33.5; maps 55-27-13-6
    model = nn.Sequential(
        nn.Conv2d(3, 1, 11, stride=4), nn.MaxPool2d(3, 2), nn.Conv2d(1, 1, 5, padding=2),
        nn.MaxPool2d(3, 2), nn.Conv2d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 3, padding=1),
        nn.Conv2d(1, 1, 3, padding=1), nn.MaxPool2d(3, 2))
    rf = receptive_field(model, (3, 227, 227))
    assert [(r.size[0], r.jump[0], r.start[0], r.output_shape[2]) for r in rf.rows[1:]] == [
        (11, 4, 5.5, 55), (19, 8, 9.5, 27), (51, 8, 9.5, 27), (67, 16, 17.5, 13),
        (99, 16, 17.5, 13), (131, 16, 17.5, 13), (163, 16, 17.5, 13), (195, 32, 33.5, 6)]


def test_transposed_convolution_and_upsampling_by_hand():
    # conv 3/2 p1: r 3, j 2, start 0.5.  ConvTranspose k2 s2: each output reads one input
    # unit: r stays 3, j = 2/2 = 1, start 0.5 + (0 - 1/2) * 1 = 0.  Nearest x2: j 1 -> 0.5
    model = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2, padding=1),
                          nn.ConvTranspose2d(1, 1, 2, stride=2),
                          nn.Upsample(scale_factor=2, mode="nearest"),
                          nn.Conv2d(1, 1, 3, padding=1))
    rf = receptive_field(model, (1, 16, 16))
    assert [(r.size[0], r.jump[0], r.start[0]) for r in rf.rows[1:]] == [
        (3, 2, 0.5), (3, 1, 0), (3, 0.5, -0.25), (4, 0.5, -0.25)]


# ----------------------------------------------------------------------------- the oracle
@pytest.mark.parametrize("layer", [1, 4, 9, 16, 23, 30])
def test_vgg16_oracle(layer):
    # VGG-16's geometry at one channel, average pools (same windows) so that every input of a
    # window gets gradient; 256x256 keeps pool5's field (212) inside the image
    features = nets.vgg16(width=1, pool="avg", classifier=False)
    assert_oracle(nn.Sequential(*list(features)[: layer + 1]), (256, 256))


def test_alexnet_oracle():
    assert_oracle(nets.alexnet_features(width=1, pool="avg"), (227, 227))


def test_dilated_and_padded_oracle():
    model = nn.Sequential(nn.Conv2d(1, 1, 3, dilation=2, padding=2), nn.Conv2d(1, 1, (3, 5)),
                          nn.ZeroPad2d((1, 2, 0, 3)), nn.Conv2d(1, 1, 3, stride=2))
    rf = receptive_field(model, (1, 33, 40))
    assert rf.row("0").size == (5, 5)
    assert rf.row("1").size == (7, 9)
    assert_oracle(model, (33, 40), channels=1)


# ----------------------------------------------------------------------------- branching
class ResNetLike(nn.Module):
    """A stem (conv7/2, pool 3/2) and two basic blocks, the second strided with a projection."""

    def __init__(self, pool: str = "max") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 2, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(2)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(3, 2, padding=1) if pool == "max" else nn.AvgPool2d(3, 2, 1)
        self.layer1 = nets.BasicBlock(2, 2)
        self.layer2 = nets.BasicBlock(2, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return self.layer2(self.layer1(self.pool(self.relu(self.bn1(self.conv1(x))))))


def test_resnet_paths_by_hand_and_oracle():
    # stem: conv 7/2 p3 r 7 j 2; pool 3/2 p1 r 11 j 4.  layer1: two 3x3 convs, r 19 then 27,
    # the identity path keeps 11.  layer2: conv 3/2 p1 r 27 + 2*4 = 35 (j 8), conv r 35 + 16 =
    # 51; the 1x1/2 projection keeps 27; the sum takes 51, its smallest path 11.
    rf = receptive_field(ResNetLike(), (3, 64, 64))
    assert rf.row("layer1.conv2").size == (27, 27)
    add1 = rf.row("layer1.add")
    assert add1.size == (27, 27) and add1.axes[0].min_size == 11
    assert add1.via == "layer1.conv2"        # the last layer that changed the field
    assert rf.row("layer2.downsample").size == (27, 27)
    add2 = rf.row("layer2.add")
    assert add2.size == (51, 51) and add2.jump == (8, 8) and add2.axes[0].min_size == 11
    assert rf.row("").size == (51, 51)
    assert rf.path("layer2.add") == ["conv1", "pool", "layer1.conv1", "layer1.conv2",
                                     "layer1.add", "layer2.conv1", "layer2.conv2",
                                     "layer2.add"]
    assert "layer2.add" in str(rf) and "Largest field" in str(rf)
    assert_oracle(ResNetLike(pool="avg"), (96, 96))


def test_inception_and_dense_oracle():
    # inception: the 5x5 branch wins (r 5), the 1x1 branch keeps r 1
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nets.InceptionLike(4, 2, 2, 2, 2, 2, 2))
    rf = receptive_field(model, (3, 16, 16))
    cat = rf.row("1.cat")
    assert cat.size == (7, 7) and cat.axes[0].min_size == 3
    assert cat.via == "1.branch3.2"
    # the dense block: layer i sees the concatenation, so its field grows by 2 per layer
    dense = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), nets.DenseLike(2, 2, 3))
    rf = receptive_field(dense, (3, 16, 16))
    assert [rf.row(f"1.layers.{i}").size[0] for i in range(3)] == [5, 7, 9]
    assert rf.row("").size == (9, 9) and rf.row("").axes[0].min_size == 3
    assert_oracle(dense, (32, 32))
    # the inception oracle with the pooling branch averaging
    incep = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nets.InceptionLike(4, 2, 2, 2, 2, 2, 2))
    incep[1].branch4[0] = nn.AvgPool2d(3, 1, padding=1)
    assert_oracle(incep, (32, 32))


def test_global_pooling_and_flatten_collapse_the_axes():
    model = nn.Sequential(nn.Conv2d(3, 2, 3, stride=2, padding=1), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(2, 3))
    rf = receptive_field(model, (3, 15, 15))
    # conv: 8x8 units, r 3, j 2, start 0.5; the global pool's one unit sees them all:
    # r = 3 + (8 - 1)*2 = 17 (beyond the 15-pixel image: the padding), centre 0.5 + 7 = 7.5
    assert rf.row("1").size == (17, 17) and rf.row("1").start == (7.5, 7.5)
    assert rf.row("3").jump == (None, None) and rf.row("3").size == (17, 17)
    assert rf.largest().name == "0"          # a map of one unit (global pooling) is passed over
    with pytest.raises(ValueError, match="spatial"):
        rf.unit_window("3", (0, 0))
    with pytest.raises(ValueError, match="spatial axes"):
        receptive_field(nn.Linear(4, 2), (4,))
