"""Incremental Network Quantization (numcnn.compress.quantize.inq) against the paper's formulas.

Oracles: a per-element loop written straight from Zhou et al. 2017 (Eq. 1-4: levels from
n1 = floor(log2(4 s / 3)), n2 = n1 + 1 - 2^(b-1)/2, and the interval rule with adjacent levels),
analytic values, and direct checks of the partition counts and frozen values.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from safetensors.numpy import load_file

import numcnn
import numcnn.compress
from numcnn import nn
from numcnn.compress import checkpoint
from numcnn.compress.quantize import inq
from numcnn.compress.quantize.inq import (
    INQSchedule,
    incremental_quantize,
    pow2_decode,
    pow2_encode,
    pow2_levels,
    pow2_quantize,
)

PAPER_PARTITIONS = (0.5, 0.75, 0.875, 1.0)


# ----------------------------------------------------------------------------- naive oracle
def naive_levels(w: np.ndarray, bits: int) -> tuple[int, int]:
    """Eq. 3 and Eq. 2 with Python floats."""
    s = max(abs(float(v)) for v in w.ravel())
    n1 = math.floor(math.log2(4.0 * s / 3.0))
    return n1, n1 + 1 - (2 ** (bits - 1)) // 2


def naive_quantize(w: np.ndarray, bits: int, n1: int | None = None) -> np.ndarray:
    """Eq. 4 element by element: beta sgn(w) if (alpha+beta)/2 <= |w| < 3 beta/2 for adjacent
    levels alpha < beta of {0, 2^n2, ..., 2^n1}; else 0."""
    if n1 is None:
        n1 = naive_levels(w, bits)[0]
    n2 = n1 + 1 - (2 ** (bits - 1)) // 2
    levels = [0.0] + [2.0 ** n for n in range(n2, n1 + 1)]
    out = np.zeros(w.shape, dtype=np.float64)
    for idx in np.ndindex(w.shape):
        a = abs(float(w[idx]))
        for alpha, beta in zip(levels, levels[1:]):
            if (alpha + beta) / 2 <= a < 3 * beta / 2:
                out[idx] = math.copysign(beta, float(w[idx]))
    return out.astype(w.dtype)


def on_grid(w: np.ndarray, n1: int, n2: int) -> bool:
    """Every element is 0 or +-2^n with n2 <= n <= n1."""
    nz = np.abs(w[w != 0]).astype(np.float64)
    exps = np.log2(nz)
    return bool(np.all(exps == np.round(exps)) and np.all((exps >= n2) & (exps <= n1)))


def log_uniform(rng: np.random.Generator, shape: tuple[int, ...], dtype: type,
                bits: int = 5) -> np.ndarray:
    """Signed weights spread over more octaves than the 2^(b-2) levels, so that the levels and
    the zero band are hit."""
    mag = 2.0 ** rng.uniform(-(2 ** (bits - 2)) - 4, 1, size=shape)
    return (mag * rng.choice([-1.0, 1.0], size=shape)).astype(dtype)


# ----------------------------------------------------------------------------- levels and rule
@pytest.mark.parametrize(("s", "n1"), [(1.2, 0), (0.75, 0), (0.7499, -1), (1.5, 1), (1.4999, 0),
                                       (3.0, 2), (0.01, -7)])
def test_pow2_levels_analytic(s: float, n1: int) -> None:
    # n1 = floor(log2(4 s/3)): 4*0.75/3 = 1 exactly -> 0; 4*1.5/3 = 2 -> 1
    w = np.array([0.1 * s, -s, 0.5 * s])
    assert pow2_levels(w, 5) == (n1, n1 - 7)      # 5 bits: 2^(4)/2 = 8 exponents n1-7..n1
    assert pow2_levels(w, 3) == (n1, n1 - 1)      # 3 bits: 2 exponents
    assert pow2_levels(w, 2) == (n1, n1)          # 2 bits: ternary {0, +-2^n1}


@pytest.mark.parametrize("bits", [2, 3, 4, 5, 8])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pow2_quantize_matches_naive_eq4(bits: int, dtype: type) -> None:
    rng = np.random.default_rng(bits)
    w = log_uniform(rng, (7, 5, 3), dtype, bits)
    assert pow2_levels(w, bits) == naive_levels(w, bits)
    q = pow2_quantize(w, bits)
    assert q.dtype == dtype and q.shape == w.shape
    np.testing.assert_array_equal(q, naive_quantize(w, bits))
    n1, n2 = pow2_levels(w, bits)
    assert on_grid(q, n1, n2)
    # the zero band and the top level are both used with these spreads
    assert np.any(q == 0) and np.any(np.abs(q) == 2.0 ** n1)


@pytest.mark.parametrize("bits", [3, 5])
def test_pow2_quantize_boundaries(bits: int) -> None:
    # s = 1.2 -> n1 = 0; boundaries (alpha+beta)/2 exactly and one ulp below
    n1 = 0
    n2 = n1 + 1 - 2 ** (bits - 2)
    edges = [2.0 ** (n2 - 1)] + [3 * 2.0 ** (n - 2) for n in range(n2 + 1, n1 + 1)]
    vals = [1.2]
    for e in edges:
        vals += [e, np.nextafter(e, 0), -e, -np.nextafter(e, 0)]
    w = np.array(vals, dtype=np.float64)
    q = pow2_quantize(w, bits)
    np.testing.assert_array_equal(q, naive_quantize(w, bits))
    # half-way ties go to the larger level; 2^(n2-1) itself goes to 2^n2, one ulp below to 0
    assert q[1] == 2.0 ** n2 and q[2] == 0.0 and q[3] == -(2.0 ** n2)
    assert q[5] == 2.0 ** (n2 + 1) and q[6] == 2.0 ** n2


def test_pow2_quantize_given_n1_saturates_above_top_level() -> None:
    w = np.array([5.0, -0.7, 0.2, 0.001])
    q = pow2_quantize(w, 3, n1=-1)                 # levels {0, +-0.25, +-0.5}
    np.testing.assert_array_equal(q, [0.5, -0.5, 0.25, 0.0])
    # below the top interval it is Eq. 4 with the given levels
    np.testing.assert_array_equal(q[1:], naive_quantize(w[1:], 3, n1=-1))


@pytest.mark.parametrize("bits", [2, 3, 5, 8])
def test_codes_round_trip(bits: int) -> None:
    w = log_uniform(np.random.default_rng(10 + bits), (40,), np.float32, bits)
    codes, n2 = pow2_encode(w, bits)
    assert codes.dtype == np.int8 and codes.shape == w.shape
    assert n2 == pow2_levels(w, bits)[1]
    assert np.abs(codes).max() == 2 ** (bits - 2)            # the largest weight: code 2^(b-2)
    q = pow2_quantize(w, bits)
    # code k <-> 2^(n2 + k - 1), code 0 <-> 0, written out element by element
    expect = [0.0 if k == 0 else math.copysign(2.0 ** (n2 + abs(int(k)) - 1), int(k))
              for k in codes]
    np.testing.assert_array_equal(q, np.array(expect, dtype=np.float32))
    np.testing.assert_array_equal(pow2_decode(codes, n2, np.float32), q)


def test_quantize_all_zero_is_zero_and_levels_refuse() -> None:
    z = np.zeros((3, 3), dtype=np.float32)
    np.testing.assert_array_equal(pow2_quantize(z, 5), z)
    with pytest.raises(ValueError, match="non-zero"):
        pow2_levels(z, 5)


@pytest.mark.parametrize(("kwargs", "err", "msg"), [
    ({"bits": 1}, ValueError, "bits must be an int in"),
    ({"bits": 9}, ValueError, "bits must be an int in"),
    ({"bits": True}, TypeError, "bits must be an int in"),
    ({"bits": 5.0}, TypeError, "bits must be an int in"),
])
def test_pow2_bad_bits(kwargs: dict, err: type, msg: str) -> None:
    with pytest.raises(err, match=msg):
        pow2_quantize(np.ones(3), **kwargs)


def test_pow2_bad_weights() -> None:
    with pytest.raises(TypeError, match="w must be a floating-point"):
        pow2_quantize(np.arange(3), 5)
    with pytest.raises(ValueError, match="w must be finite"):
        pow2_quantize(np.array([1.0, np.nan]), 5)
    with pytest.raises(TypeError, match="n1 must be an int"):
        pow2_quantize(np.ones(3), 5, n1=1.5)       # type: ignore[arg-type]
    with pytest.raises(TypeError, match="codes must be an integer"):
        pow2_decode(np.ones(3), 0)


# ----------------------------------------------------------------------------- models
def small_model() -> nn.Module:
    """Conv 72 weights, Linear 512 weights: every paper portion is a whole count."""
    numcnn.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 8))


WEIGHTS = ("0.weight", "4.weight")


def weights_of(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.array.copy() for k, v in model.state_dict().items()}


def batch(seed: int) -> tuple[numcnn.Tensor, numcnn.Tensor]:
    rng = np.random.default_rng(seed)
    x = numcnn.tensor(rng.standard_normal((16, 2, 4, 4)).astype(np.float32))
    y = numcnn.tensor(rng.integers(0, 8, size=16))
    return x, y


def test_one_shot_is_eq4_per_layer_and_rest_untouched() -> None:
    for bits in (5, 3):
        model = small_model()
        before = weights_of(model)
        out = incremental_quantize(model, bits=bits)
        assert out is model and checkpoint.method_of(model) == "inq"
        after = weights_of(model)
        for key in before:
            if key in WEIGHTS:
                np.testing.assert_array_equal(after[key], naive_quantize(before[key], bits))
            else:                                   # biases and BatchNorm stay as they were
                np.testing.assert_array_equal(after[key], before[key])
        assert inq.quantized_weights(model) == {k: naive_levels(before[k], bits)
                                                for k in WEIGHTS}


@pytest.mark.parametrize("strategy", ["magnitude", "random"])
def test_schedule_freezes_exact_portions(strategy: str) -> None:
    model = small_model()
    original = weights_of(model)
    schedule = INQSchedule(model, bits=5, strategy=strategy, generator=numcnn.Generator())
    assert len(schedule) == 4
    previous = {k: np.zeros(original[k].shape, dtype=bool) for k in WEIGHTS}
    for portion in PAPER_PARTITIONS:
        assert schedule.step() == portion
        masks = schedule.masks
        for key in WEIGHTS:
            size = original[key].size
            assert masks[key].sum() == portion * size           # 72 and 512: whole counts
            assert np.all(masks[key][previous[key]])             # once frozen, always frozen
            if strategy == "magnitude":                          # no retraining: the top |w|
                top = np.argsort(-np.abs(original[key].ravel()))[:int(portion * size)]
                np.testing.assert_array_equal(np.flatnonzero(masks[key]), np.sort(top))
            previous[key] = masks[key]
    assert schedule.done
    with pytest.raises(RuntimeError, match="every partition"):
        schedule.step()


def test_random_strategy_differs_from_magnitude_and_is_seeded() -> None:
    def first_mask(seed: int) -> np.ndarray:
        s = INQSchedule(small_model(), strategy="random", generator=numcnn.Generator()
                        .manual_seed(seed))
        s.step()
        return s.masks["4.weight"]
    magnitude = INQSchedule(small_model())
    magnitude.step()
    np.testing.assert_array_equal(first_mask(3), first_mask(3))
    assert not np.array_equal(first_mask(3), first_mask(4))
    assert not np.array_equal(first_mask(3), magnitude.masks["4.weight"])


def test_portion_rounding_of_odd_sizes() -> None:
    numcnn.manual_seed(1)
    model = nn.Linear(7, 3)                         # 21 weights
    schedule = INQSchedule(model, partitions=(0.5, 0.9, 1.0))
    counts = []
    while not schedule.done:
        schedule.step()
        counts.append(int(schedule.masks["weight"].sum()))
    assert counts == [11, 19, 21]                  # floor(p * 21 + 1/2): 10.5 -> 11, 18.9 -> 19


@pytest.mark.parametrize("bits", [5, 3])
def test_frozen_weights_survive_sgd_momentum_and_weight_decay(bits: int) -> None:
    model = small_model()
    original = weights_of(model)
    levels = {k: naive_levels(original[k], bits) for k in WEIGHTS}
    layers = {"0.weight": model[0], "4.weight": model[4]}
    frozen_values: dict[str, dict[int, float]] = {k: {} for k in WEIGHTS}
    moved = dict.fromkeys(WEIGHTS, 0)
    forwards_checked = [0]
    steps_seen: list[int] = []

    def check(keys: tuple[str, ...] = WEIGHTS) -> None:
        for key in keys:
            w = layers[key].weight.array.ravel()
            for i, v in frozen_values[key].items():
                assert w[i] == v, f"{key}[{i}] moved from {v} to {w[i]}"

    def check_forward(module: nn.Module, args: tuple) -> None:
        # runs after INQ's pre-hook: the weight this forward uses
        check(tuple(k for k, m in layers.items() if m is module))
        forwards_checked[0] += 1

    def fine_tune(model: nn.Module, step: int) -> None:
        steps_seen.append(step)
        # frozen = on the grid of the fixed levels (trained floats never land there): exactly
        # sigma_k of each layer, and none moved since it was frozen
        for key in WEIGHTS:
            w = layers[key].weight.array.ravel()
            mask = w == pow2_quantize(w, bits, n1=levels[key][0])
            assert mask.sum() == PAPER_PARTITIONS[step] * w.size
            for i in np.flatnonzero(mask):
                frozen_values[key].setdefault(int(i), float(w[i]))
            assert len(frozen_values[key]) == mask.sum()
        check()
        handles = [m.register_forward_pre_hook(check_forward) for m in layers.values()]
        opt = numcnn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.05)
        for it in range(3):
            x, y = batch(10 * step + it)
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            for key, m in layers.items():        # the paper's T mask: no gradient when frozen
                g = m.weight.grad.array.ravel()
                assert np.all(g[sorted(frozen_values[key])] == 0) and np.any(g != 0)
            before = {k: m.weight.array.copy() for k, m in layers.items()}
            opt.step()
            for key, m in layers.items():
                moved[key] += int(np.sum(m.weight.array != before[key]))
        for h in handles:
            h.remove()

    incremental_quantize(model, bits=bits, fine_tune=fine_tune)
    check()
    assert steps_seen == [0, 1, 2] and forwards_checked[0] == 3 * 3 * 2
    for key in WEIGHTS:
        assert moved[key] > 0                     # the free weights did train
        w = layers[key].weight.array
        assert on_grid(w, *levels[key])           # all on the grid fixed from the trained layer
        assert inq.quantized_weights(model)[key] == levels[key]
    assert checkpoint.method_of(model) == "inq"
    assert not model[0]._forward_pre_hooks and not model[4]._forward_pre_hooks


def test_schedule_restore_undoes_an_optimizer_step_on_frozen_weights() -> None:
    model = small_model()
    schedule = INQSchedule(model, bits=5)
    schedule.step()
    mask = schedule.masks["4.weight"]
    frozen = model[4].weight.array[mask].copy()
    opt = numcnn.optim.SGD(model.parameters(), lr=0.5, momentum=0.9, weight_decay=0.5)
    x, y = batch(0)
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()                                     # weight decay moves frozen entries here...
    assert not np.array_equal(model[4].weight.array[mask], frozen)
    schedule.restore()                             # ...and restore writes them back
    np.testing.assert_array_equal(model[4].weight.array[mask], frozen)


# ----------------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("bits", [5, 3])
def test_checkpoint_round_trip_is_bit_equal_and_smaller(bits: int, tmp_path) -> None:
    def fine_tune(model: nn.Module, step: int) -> None:
        opt = numcnn.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        x, y = batch(step)
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    model = incremental_quantize(small_model(), bits=bits, fine_tune=fine_tune)
    model.eval()
    path, float_path = tmp_path / "inq.safetensors", tmp_path / "float.safetensors"
    numcnn.compress.save(model, path)
    numcnn.save(model.state_dict(), float_path)
    fresh = small_model()
    fresh[0].weight.array[...] = 7.0               # the fresh model's weights must not matter
    loaded = numcnn.compress.load(path, fresh)
    assert checkpoint.method_of(loaded) == "inq" and not loaded.training
    for key, value in model.state_dict().items():
        got = loaded.state_dict()[key].array
        assert got.dtype == value.array.dtype
        np.testing.assert_array_equal(got, value.array)
    x, _ = batch(99)
    with numcnn.no_grad():
        np.testing.assert_array_equal(loaded(x).array, model(x).array)
    assert inq.quantized_weights(loaded) == inq.quantized_weights(model)
    # b-bit codes packed in bytes on disk, not floats: 4 - b/8 bytes saved per weight (the
    # spec's JSON aside)
    raw = load_file(str(path))
    assert [v.dtype for k, v in raw.items() if k.endswith(WEIGHTS)] == [np.uint8, np.uint8]
    assert [v.size for k, v in raw.items() if k.endswith(WEIGHTS)] == [
        -(-72 * bits // 8), -(-512 * bits // 8)]
    saved = float_path.stat().st_size - path.stat().st_size
    assert saved >= (4 - bits / 8) * (72 + 512) - 400
    # saving the loaded model again gives the same tensors
    again, spec = inq.to_checkpoint(loaded)
    assert spec == inq.to_checkpoint(model)[1]
    assert spec["bits"] == bits
    for key, value in inq.to_checkpoint(model)[0].items():
        np.testing.assert_array_equal(again[key], value)


def test_file_of_a_large_layer_is_about_32_over_b_times_smaller(tmp_path) -> None:
    numcnn.manual_seed(2)
    model = incremental_quantize(nn.Linear(256, 128), bits=5)
    numcnn.compress.save(model, tmp_path / "inq.safetensors")
    numcnn.save(model.state_dict(), tmp_path / "float.safetensors")
    ratio = ((tmp_path / "float.safetensors").stat().st_size
             / (tmp_path / "inq.safetensors").stat().st_size)
    # 32768 codes of 5 bits (20,480 bytes) + 128 float biases against 131,584 float bytes
    assert 6.0 < ratio < 6.4


def test_to_checkpoint_refuses_weights_off_the_grid() -> None:
    model = incremental_quantize(small_model(), bits=5)
    model[4].weight.array[0, 0] += 0.001
    with pytest.raises(ValueError, match="4.weight is not on its power-of-two grid"):
        inq.to_checkpoint(model)
    with pytest.raises(ValueError, match="holds no INQ weights"):
        inq.to_checkpoint(small_model())


def test_from_checkpoint_refuses_bad_codes() -> None:
    tensors, spec = inq.to_checkpoint(incremental_quantize(small_model(), bits=3))
    bad = dict(tensors, **{"4.weight": tensors["4.weight"].astype(np.int16)})
    with pytest.raises(checkpoint.CompressedCheckpointError, match="must be 192 uint8 bytes"):
        inq.from_checkpoint(small_model(), bad, spec)
    big = tensors["4.weight"].copy()
    big[0] = 0b11100000                            # code 7 - 2 = 5; 3 bits: codes within +-2
    with pytest.raises(checkpoint.CompressedCheckpointError, match="within \\+-2"):
        inq.from_checkpoint(small_model(), dict(tensors, **{"4.weight": big}), spec)
    with pytest.raises(checkpoint.CompressedCheckpointError, match="bits must be"):
        inq.from_checkpoint(small_model(), tensors, dict(spec, bits=12))
    missing = {k: v for k, v in tensors.items() if k != "0.weight"}
    with pytest.raises(checkpoint.CompressedCheckpointError, match="no codes for 0.weight"):
        inq.from_checkpoint(small_model(), missing, spec)


# ----------------------------------------------------------------------------- arguments
def test_default_partitions_without_fine_tune_equal_one_shot() -> None:
    a = incremental_quantize(small_model(), bits=5)
    b = incremental_quantize(small_model(), bits=5, partitions=(1.0,))
    for key in WEIGHTS:
        np.testing.assert_array_equal(a.state_dict()[key].array, b.state_dict()[key].array)


def test_modules_selects_layers() -> None:
    model = small_model()
    before = weights_of(model)
    incremental_quantize(model, bits=5, modules=["4"])
    assert list(inq.quantized_weights(model)) == ["4.weight"]
    np.testing.assert_array_equal(model[0].weight.array, before["0.weight"])
    tensors, spec = inq.to_checkpoint(model)
    assert tensors["0.weight"].dtype == np.float32 and tensors["4.weight"].dtype == np.uint8


@pytest.mark.parametrize(("kwargs", "err", "msg"), [
    ({"partitions": (0.5, 0.9)}, ValueError, "partitions must be a non-empty increasing"),
    ({"partitions": (0.5, 0.5, 1.0)}, ValueError, "partitions must be a non-empty increasing"),
    ({"partitions": (0.0, 1.0)}, ValueError, "partitions must be a non-empty increasing"),
    ({"partitions": ()}, ValueError, "partitions must be a non-empty increasing"),
    ({"partitions": 1.0}, TypeError, "partitions must be"),
    ({"partitions": ("a", 1.0)}, TypeError, "partitions must be"),
    ({"strategy": "smallest"}, ValueError, "strategy must be one of magnitude, random"),
    ({"modules": ["9"]}, ValueError, "modules: the model has no module named '9'"),
    ({"modules": ["2"]}, ValueError, "modules: '2' \\(ReLU\\) has no weight"),
    ({"modules": "4"}, TypeError, "modules must be a sequence"),
    ({"modules": []}, ValueError, "modules must name at least one"),
    ({"fine_tune": 3}, TypeError, "fine_tune must be a callable"),
    ({"bits": 0}, ValueError, "bits must be an int in \\[2, 8\\]"),
])
def test_incremental_quantize_bad_arguments(kwargs: dict, err: type, msg: str) -> None:
    with pytest.raises(err, match=msg):
        incremental_quantize(small_model(), **kwargs)


def test_lazy_public_names() -> None:
    import numcnn.compress.quantize as q
    for name in ("pow2_levels", "pow2_quantize", "incremental_quantize", "INQSchedule"):
        assert getattr(q, name) is getattr(inq, name)


@pytest.mark.parametrize("bits", [2, 3, 4, 5, 6, 8])
def test_codes_are_stored_in_b_bits_each(bits: int) -> None:
    from numcnn.compress.quantize.inq import pack_codes, unpack_codes

    top = 2 ** (bits - 2) if bits > 2 else 1
    rng = np.random.default_rng(bits)
    codes = rng.integers(-top, top + 1, size=(7, 5, 3)).astype(np.int8)
    packed = pack_codes(codes, bits)
    assert packed.dtype == np.uint8 and packed.size == -(-codes.size * bits // 8)
    np.testing.assert_array_equal(unpack_codes(packed, bits, codes.shape), codes)
    # bit by bit: code k is stored as the unsigned k + top, most significant bit first
    stream = "".join(format(int(k) + top, f"0{bits}b") for k in codes.reshape(-1))
    stream += "0" * (-len(stream) % 8)
    assert bytes(int(stream[i:i + 8], 2) for i in range(0, len(stream), 8)) == packed.tobytes()


def test_unpacked_int8_codes_still_load() -> None:
    model = incremental_quantize(small_model(), bits=5)
    tensors, spec = inq.to_checkpoint(model)
    old = {k: (inq.unpack_codes(v, 5, tuple(model.state_dict()[k].shape))
               if k in spec["n2"] else v) for k, v in tensors.items()}
    old_spec = {k: v for k, v in spec.items() if k != "packed"}
    loaded = inq.from_checkpoint(small_model(), old, old_spec)
    for key in WEIGHTS:
        np.testing.assert_array_equal(loaded.state_dict()[key].array,
                                      model.state_dict()[key].array)


def test_keep_first_leaves_the_first_chosen_layer_float() -> None:
    model = small_model()
    before = weights_of(model)
    incremental_quantize(model, bits=5, keep_first=True)
    assert list(inq.quantized_weights(model)) == [k for k in WEIGHTS if k != "0.weight"]
    np.testing.assert_array_equal(model[0].weight.array, before["0.weight"])
    with pytest.raises(ValueError, match="keep_first leaves no layer"):
        incremental_quantize(small_model(), bits=5, modules=["4"], keep_first=True)
