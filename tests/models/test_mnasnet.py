"""MNASNet: torchvision's layout (all four multipliers against the shared json), a torch.nn
mirror written here from the architecture table (eval and train mode, float32 and float64,
gradients, batch-norm statistics), initialisation, version-1 checkpoints."""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests.helpers import assert_close  # noqa: E402
from tests.models.zoo import (  # noqa: E402
    assert_matches_oracle,
    assert_std,
    assert_torchvision_layout,
    conv_linear_macs,
    load_through_safetensors,
    random_torchvision_state_dict,
    torchvision_spec,
    trainable_params,
)

import numcnn  # noqa: E402
from numcnn import nn  # noqa: E402
from numcnn.models.mnasnet import (  # noqa: E402
    MODELS,
    MNASNet,
    _get_depths,
    _round_to_multiple_of,
    mnasnet0_5,
    mnasnet0_75,
    mnasnet1_0,
    mnasnet1_3,
)

NAMES = ["mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3"]
ALPHAS = {"mnasnet0_5": 0.5, "mnasnet0_75": 0.75, "mnasnet1_0": 1.0, "mnasnet1_3": 1.3}

# ---------------------------------------------------------------------------------------------
# The oracle: a torch.nn mirror, from the architecture table (not from torchvision's code)
# ---------------------------------------------------------------------------------------------

# (output width at alpha 1, kernel, expansion t, repeats, stride of the first block)
TABLE = [(24, 3, 3, 3, 2), (40, 5, 3, 3, 2), (80, 5, 6, 3, 2), (96, 3, 6, 2, 1),
         (192, 5, 6, 4, 2), (320, 3, 6, 1, 1)]
TF_DECAY = 0.9997                  # the paper's batch-norm decay, TensorFlow's convention


def mult8(v: float) -> int:
    """Widths: the nearest multiple of 8 (halves up, at least 8), plus 8 if that is below
    90% of v (written out from the rule's description)."""
    m = max(8, 8 * math.floor(v / 8 + 0.5))
    return m + 8 if m < 0.9 * v else m


def bn(c: int) -> torch.nn.BatchNorm2d:
    return torch.nn.BatchNorm2d(c, eps=1e-5, momentum=1 - TF_DECAY)


class TorchBlock(torch.nn.Module):
    def __init__(self, cin: int, cout: int, k: int, s: int, t: int) -> None:
        super().__init__()
        mid = cin * t
        self.layers = torch.nn.Sequential(
            torch.nn.Conv2d(cin, mid, 1, bias=False), bn(mid), torch.nn.ReLU(),
            torch.nn.Conv2d(mid, mid, k, s, k // 2, groups=mid, bias=False), bn(mid),
            torch.nn.ReLU(),
            torch.nn.Conv2d(mid, cout, 1, bias=False), bn(cout))
        self.skip = s == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.layers(x)
        return y + x if self.skip else y


class TorchMNASNet(torch.nn.Module):
    """`stem` = (c0, c1) fixes the stem's widths (version-1 checkpoints: 32, 16)."""

    def __init__(self, alpha: float, num_classes: int = 1000,
                 stem: tuple[int, int] | None = None) -> None:
        super().__init__()
        c0, c1 = stem if stem is not None else (mult8(32 * alpha), mult8(16 * alpha))
        mods: list[torch.nn.Module] = [
            torch.nn.Conv2d(3, c0, 3, 2, 1, bias=False), bn(c0), torch.nn.ReLU(),
            torch.nn.Conv2d(c0, c0, 3, 1, 1, groups=c0, bias=False), bn(c0), torch.nn.ReLU(),
            torch.nn.Conv2d(c0, c1, 1, bias=False), bn(c1)]
        cin = c1
        for width, k, t, n, s in TABLE:
            cout = mult8(width * alpha)
            mods.append(torch.nn.Sequential(*[TorchBlock(cin if i == 0 else cout, cout, k,
                                                         s if i == 0 else 1, t)
                                              for i in range(n)]))
            cin = cout
        mods += [torch.nn.Conv2d(cin, 1280, 1, bias=False), bn(1280), torch.nn.ReLU()]
        self.layers = torch.nn.Sequential(*mods)
        self.classifier = torch.nn.Sequential(torch.nn.Dropout(0.0),
                                              torch.nn.Linear(1280, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.layers(x).mean((2, 3)))


def randomise(model: torch.nn.Module, seed: int) -> None:
    """Weights ~ N(0, 2 / fan_in), BN affine and running statistics away from 1/0."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.weight.normal_(0, math.sqrt(2.0 / m.weight[0].numel()), generator=g)
            elif isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.normal_(0, 0.1, generator=g)
                m.running_mean.normal_(0, 0.1, generator=g)
                m.running_var.uniform_(0.5, 1.5, generator=g)
            elif isinstance(m, torch.nn.Linear):
                m.weight.normal_(0, math.sqrt(1.0 / m.in_features), generator=g)
                m.bias.normal_(0, 0.1, generator=g)


def twins(alpha: float, dtype: torch.dtype, seed: int = 0) -> tuple[MNASNet, torch.nn.Module]:
    """A numcnn MNASNet (dropout 0) and the torch mirror, with the mirror's random weights
    copied numcnn -> torch (strict on both sides: same keys and shapes)."""
    ours = MNASNet(alpha, num_classes=10, dropout=0.0)
    ref = TorchMNASNet(alpha, num_classes=10)
    randomise(ref, seed)
    ours.load_state_dict({k: v.numpy().copy() for k, v in ref.state_dict().items()})
    if dtype == torch.float64:
        ours.double()
        ref.double()
    ref.load_state_dict({k: torch.from_numpy(np.array(v.numpy()))
                         for k, v in ours.state_dict().items()})
    return ours, ref


def tol(dtype: torch.dtype) -> tuple[float, float]:
    """(rtol, atol relative to the largest magnitude): the project's float32 / float64 ones."""
    return (1e-4, 1e-5) if dtype == torch.float32 else (1e-7, 1e-10)


def assert_near(ours: numcnn.Tensor | np.ndarray, theirs: torch.Tensor, dtype: torch.dtype,
                what: str, atol: float | None = None) -> None:
    rtol, default_atol = tol(dtype)
    atol = default_atol if atol is None else atol
    scale = max(1.0, float(theirs.detach().abs().max()))
    assert_close(ours, theirs.detach(), rtol=rtol, atol=atol * scale, what=what)


def batch(dtype: torch.dtype, seed: int = 1) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((2, 3, 64, 64))
    return x.astype(np.float32 if dtype == torch.float32 else np.float64)


# ---------------------------------------------------------------------------------------------
# Layout against torchvision's published state_dicts
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_torchvision_layout(name: str) -> None:
    """Keys in order, shapes, dtypes (num_batches_tracked int64) and trainable count."""
    assert_torchvision_layout(MODELS[name](), name)


def test_trainable_counts_match_the_json() -> None:
    for name, factory in zip(NAMES, (mnasnet0_5, mnasnet0_75, mnasnet1_0, mnasnet1_3)):
        count, _ = torchvision_spec(name)
        assert trainable_params(factory()) == count, name
    assert trainable_params(mnasnet1_0()) == 4_383_312


def test_multiply_adds_are_torchvisions() -> None:
    """Conv and Linear multiply-adds of one 224x224 image, counted from the shapes the layers
    see, round to torchvision's published GFLOPS (its `_ops` metadata: 0.104, 0.215, 0.314,
    0.526)."""
    for factory, gmacs in ((mnasnet0_5, 0.104), (mnasnet0_75, 0.215), (mnasnet1_0, 0.314),
                           (mnasnet1_3, 0.526)):
        assert round(conv_linear_macs(factory()) / 1e9, 3) == gmacs, factory.__name__


def test_round_to_multiple_of() -> None:
    assert _round_to_multiple_of(83, 8) == 80
    assert _round_to_multiple_of(84, 8) == 88
    assert _round_to_multiple_of(9, 8) == 16            # 8 is more than 10% below 9
    assert _round_to_multiple_of(2, 8) == 8
    for v in np.linspace(0.5, 500, 997):
        assert _round_to_multiple_of(float(v), 8) == mult8(float(v)), v
    with pytest.raises(ValueError, match="round_up_bias"):
        _round_to_multiple_of(10, 8, round_up_bias=1.0)


@pytest.mark.parametrize("name", NAMES)
def test_depths_are_the_json_widths(name: str) -> None:
    _, rows = torchvision_spec(name)
    shapes = dict((k, s) for k, s, _ in rows)
    seen = [shapes["layers.0.weight"][0], shapes["layers.6.weight"][0]]
    seen += [shapes[f"layers.{i}.0.layers.6.weight"][0] for i in range(8, 14)]
    assert _get_depths(ALPHAS[name]) == seen


def test_torchvision_weights_load_and_match_the_mirror(tmp_path: Path) -> None:
    """A state_dict with torchvision's keys (random values), saved by safetensors.torch, loads
    with strict=True and gives the mirror's eval outputs."""
    sd = random_torchvision_state_dict("mnasnet0_5", seed=3)
    ours = load_through_safetensors(mnasnet0_5(), sd, tmp_path).eval()
    ref = TorchMNASNet(0.5).eval()
    ref.load_state_dict(sd)
    x = batch(torch.float32)
    with numcnn.no_grad():
        y = ours(numcnn.tensor(x))
    with torch.no_grad():
        assert_matches_oracle(y, ref(torch.from_numpy(x)))


# ---------------------------------------------------------------------------------------------
# Forward and backward against the mirror
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("alpha", [0.5, 0.75])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_eval_forward(alpha: float, dtype: torch.dtype) -> None:
    ours, ref = twins(alpha, dtype)
    ours.eval()
    ref.eval()
    x = batch(dtype)
    with torch.no_grad():
        want = ref(torch.from_numpy(x))
    assert want.abs().max() > 1e-2
    with numcnn.no_grad():                              # the fast path (BNs folded)
        assert_near(ours(numcnn.tensor(x)), want, dtype, "eval, no_grad")
    assert_near(ours(numcnn.tensor(x)), want, dtype, "eval, with grad")


@pytest.mark.parametrize("alpha,dtype", [(0.5, torch.float32), (0.5, torch.float64),
                                         (0.75, torch.float32)])
def test_train_step(alpha: float, dtype: torch.dtype) -> None:
    """Train mode: outputs, input and parameter gradients, the running statistics (momentum
    1 - 0.9997), num_batches_tracked, then one SGD step and a second train-mode forward.

    Train-mode results in float32 get atol 1e-3 of their largest magnitude instead of 1e-5: 52
    train-mode batch norms, the last ones over 8 values per channel (2 images of 2x2), amplify
    rounding.  Measured against the float64 result, torch's own float32 output is off by up to
    3.6e-5 of its scale (numcnn's 4.3e-5), its input gradient by 6e-5 (numcnn's 1e-4),
    parameter gradients up to 1.8e-4 (numcnn's 2.5e-4).  The forward after the SGD step
    amplifies them further (torch float32 against float64: 0.7-1.2e-3 of the scale, numcnn's
    2.4-2.7e-3), so it gets atol 1e-2 in float32.  float64 keeps rtol 1e-7 throughout.
    """
    ours, ref = twins(alpha, dtype, seed=5)
    ours.train()
    ref.train()
    before = {k: v.clone() for k, v in ref.state_dict().items()}
    x = batch(dtype, seed=6)
    r = np.random.default_rng(7).standard_normal((2, 10)).astype(x.dtype)
    xn = numcnn.tensor(x.copy(), requires_grad=True)
    xt = torch.tensor(x.copy(), requires_grad=True)
    yn = ours(xn)
    yt = ref(xt)
    f32 = 1e-3 if dtype == torch.float32 else None
    assert_near(yn, yt, dtype, "train output", f32)
    (yn * numcnn.tensor(r)).sum().backward()
    (yt * torch.from_numpy(r)).sum().backward()
    assert xn.grad is not None and xt.grad is not None
    assert_near(xn.grad, xt.grad, dtype, "input gradient", f32)
    theirs = dict(ref.named_parameters())
    named = dict(ours.named_parameters())
    assert set(named) == set(theirs)
    for k, p in named.items():
        assert p.grad is not None, k
        assert_near(p.grad, theirs[k].grad, dtype, f"gradient of {k}", f32)
    ref_state = ref.state_dict()
    our_state = ours.state_dict()
    n_bn = 0
    for k, v in ref_state.items():
        if k.endswith("num_batches_tracked"):
            assert int(our_state[k].item()) == int(v) == int(before[k]) + 1, k
        elif k.endswith(("running_mean", "running_var")):
            n_bn += 1
            assert_near(our_state[k], v, dtype, k)
            if dtype == torch.float64:                  # the small update itself
                step = v - before[k]
                assert step.abs().max() > 0, k
                assert_close(our_state[k].numpy() - before[k].numpy(), step, rtol=1e-6,
                             atol=1e-12, what=f"update of {k}")
    assert n_bn == 2 * 52                               # 52 batch norms, 2 statistics each
    lr = 0.01
    opt = numcnn.optim.SGD(ours.parameters(), lr=lr)
    opt.step()
    with torch.no_grad():
        for p in ref.parameters():
            p -= lr * p.grad
    x2 = batch(dtype, seed=8)
    with torch.no_grad():
        want = ref(torch.from_numpy(x2))
    with numcnn.no_grad():
        assert_near(ours(numcnn.tensor(x2)), want, dtype, "train forward after one step",
                    1e-2 if dtype == torch.float32 else None)


def test_momentum_eps_dropout_in_channels() -> None:
    model = mnasnet0_75(num_classes=7, dropout=0.3, in_channels=1)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 52
    assert all(m.momentum == pytest.approx(3e-4, abs=1e-15) and m.eps == 1e-5 for m in bns)
    assert model.classifier[0].p == 0.3
    assert tuple(model.layers[0].weight.shape) == (24, 1, 3, 3)
    model.eval()
    with numcnn.no_grad():
        assert tuple(model(numcnn.zeros(3, 1, 40, 40)).shape) == (3, 7)
    with pytest.raises(ValueError, match="alpha"):
        MNASNet(0.0)


def test_residuals_where_shapes_agree() -> None:
    """One shortcut in each of the 10 blocks after a stage's first (3+3+3+2+4+1 - 6)."""
    blocks = [m for m in mnasnet0_5().modules() if hasattr(m, "apply_residual")]
    assert len(blocks) == 16
    assert sum(b.apply_residual for b in blocks) == 10


# ---------------------------------------------------------------------------------------------
# Initialisation
# ---------------------------------------------------------------------------------------------

def test_initialisation() -> None:
    """Conv2d: N(0, 2 / fan_out), fan_out = C_out k k (torch's fan of a weight (C_out, C_in/g,
    k, k)); BN weight 1, bias 0; Linear: U(-b, b), b = sqrt(3 / out_features), bias 0."""
    numcnn.manual_seed(0)
    model = mnasnet1_0()
    w = model.layers[14].weight                                     # (1280, 320, 1, 1)
    assert_std(w, math.sqrt(2.0 / 1280))
    dw = model.layers[12][1].layers[3].weight                       # (1152, 1, 5, 5)
    assert tuple(dw.shape) == (1152, 1, 5, 5)
    assert_std(dw, math.sqrt(2.0 / (1152 * 25)))
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert m.weight is not None and m.bias is not None
            assert np.all(m.weight.detach().numpy() == 1) and np.all(m.bias.detach().numpy() == 0)
    lin = model.classifier[1]
    bound = math.sqrt(3.0 / 1000)
    a = lin.weight.detach().numpy()
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.99 * bound
    assert_std(lin.weight, bound / math.sqrt(3))
    assert np.all(lin.bias.detach().numpy() == 0)


# ---------------------------------------------------------------------------------------------
# Version-1 checkpoints (stem fixed at 32 / 16 channels)
# ---------------------------------------------------------------------------------------------

def with_version(state: dict[str, torch.Tensor], version: int) -> OrderedDict:
    out: OrderedDict = OrderedDict((k, v.numpy().copy()) for k, v in state.items())
    out._metadata = OrderedDict({"": {"version": version}})  # type: ignore[attr-defined]
    return out


def test_version1_checkpoint_rebuilds_the_stem() -> None:
    ref = TorchMNASNet(0.5, num_classes=1000, stem=(32, 16)).eval()
    randomise(ref, 11)
    sd = with_version(ref.state_dict(), 1)
    model = mnasnet0_5()
    with pytest.warns(UserWarning, match="version 1"):
        model.load_state_dict(sd)
    assert tuple(model.layers[0].weight.shape) == (32, 3, 3, 3)
    assert tuple(model.layers[8][0].layers[0].weight.shape) == (48, 16, 1, 1)
    x = batch(torch.float32, seed=12)
    model.eval()
    with numcnn.no_grad():
        y = model(numcnn.tensor(x))
    with torch.no_grad():
        assert_matches_oracle(y, ref(torch.from_numpy(x)))
    saved = model.state_dict()
    assert saved._metadata[""]["version"] == 1  # type: ignore[attr-defined]
    assert [(k, tuple(v.shape)) for k, v in saved.items()] == \
        [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]
    again = mnasnet0_5()                                # its own save loads the same way
    with pytest.warns(UserWarning, match="version 1"):
        again.load_state_dict(saved)


def test_version1_torch_file(tmp_path: Path) -> None:
    """A torch.save file of a version-1 model (torch writes each module's `_version` into
    `_metadata`), read by numcnn.load, loads into mnasnet0_75 in the old layout."""

    class OldMirror(TorchMNASNet):
        _version = 1

    ref = OldMirror(0.75, stem=(32, 16)).eval()
    randomise(ref, 31)
    torch.save(ref.state_dict(), tmp_path / "old.pth")
    model = mnasnet0_75()
    with pytest.warns(UserWarning, match="version 1"):
        model.load_state_dict(numcnn.load(tmp_path / "old.pth"))
    x = batch(torch.float32, seed=32)
    model.eval()
    with numcnn.no_grad():
        y = model(numcnn.tensor(x))
    with torch.no_grad():
        assert_matches_oracle(y, ref(torch.from_numpy(x)))


def test_version1_at_alpha_1_and_bad_versions() -> None:
    sd = mnasnet1_0().state_dict()
    v1 = OrderedDict(sd)
    v1._metadata = OrderedDict({"": {"version": 1}})  # type: ignore[attr-defined]
    model = mnasnet1_0()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.load_state_dict(v1)                       # the layouts agree at alpha 1
    assert model.state_dict()._metadata[""]["version"] == 2  # type: ignore[attr-defined]
    v3 = OrderedDict(sd)
    v3._metadata = OrderedDict({"": {"version": 3}})  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="version must be 1 or 2, got 3"):
        mnasnet1_0().load_state_dict(v3)
    with pytest.raises(RuntimeError, match="size mismatch"):   # no metadata: version 2
        mnasnet0_5().load_state_dict({k: v.numpy() for k, v in
                                      TorchMNASNet(0.5, stem=(32, 16)).state_dict().items()})


def test_pretrained_weights_from_the_cache(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """weights="DEFAULT" reads the cached safetensors copy of the published file (written here
    by safetensors.torch from the mirror: no network) and gives the mirror's outputs."""
    import safetensors.torch

    from numcnn.models.weights import MNASNet0_5_Weights

    monkeypatch.setenv("NUMCNN_HOME", str(tmp_path))
    ref = TorchMNASNet(0.5).eval()
    randomise(ref, 21)
    name = MNASNet0_5_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[-1]
    assert name.endswith(".pth")
    (tmp_path / "weights").mkdir()
    safetensors.torch.save_file({k: v.contiguous() for k, v in ref.state_dict().items()},
                                str(tmp_path / "weights" / (name[:-4] + ".safetensors")))
    model = mnasnet0_5(weights="DEFAULT", progress=False).eval()
    x = batch(torch.float32, seed=22)
    with numcnn.no_grad():
        y = model(numcnn.tensor(x))
    with torch.no_grad():
        assert_matches_oracle(y, ref(torch.from_numpy(x)))
    assert isinstance(mnasnet0_5(weights=None), MNASNet)
    with pytest.raises(ValueError, match="num_classes"):
        mnasnet0_5(num_classes=10, weights=MNASNet0_5_Weights.IMAGENET1K_V1)
    with pytest.raises(ValueError, match="in_channels"):
        mnasnet0_5(in_channels=1, weights="DEFAULT")
    with pytest.raises(ValueError, match="IMAGENET1K_V9"):
        mnasnet0_5(weights="IMAGENET1K_V9")
    with pytest.raises(TypeError, match="MNASNet0_75_Weights"):
        mnasnet0_75(weights=MNASNet0_5_Weights.IMAGENET1K_V1)


def test_registered_in_the_zoo() -> None:
    from numcnn.models import get_model, get_model_weights, list_models

    for name in NAMES:
        assert name in list_models() and numcnn.models.MODELS[name] is MODELS[name]
    model = get_model("mnasnet1_0", num_classes=5)
    assert isinstance(model, MNASNet) and model.alpha == 1.0
    model.eval()
    with numcnn.no_grad():
        assert tuple(model(numcnn.zeros(1, 3, 32, 32)).shape) == (1, 5)
    assert get_model_weights("mnasnet1_3").__name__ == "MNASNet1_3_Weights"
