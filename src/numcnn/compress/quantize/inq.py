"""Incremental Network Quantization: weights become zero or +-2^n, a growing share at a time.

Zhou, Yao, Guo, Xu, Chen, "Incremental Network Quantization: Towards Lossless CNNs with
Low-Precision Weights", ICLR 2017 (arXiv 1702.03044), section 2.1. For a layer l with
weights W_l and a bit width b (one bit of which encodes zero):

    P_l = {+-2^n1, ..., +-2^n2, 0}                      (the levels; n2 <= n1 integers)
    n1  = floor(log2(4 s / 3)),  s = max |W_l|
    n2  = n1 + 1 - 2^(b-1) / 2                          (2^(b-2) exponents per sign)
    W^_l(i,j) = beta sgn(W_l(i,j))  if (alpha + beta)/2 <= |W_l(i,j)| < 3 beta / 2
              = 0                   otherwise            (the rule, Eq. 4)

with alpha < beta adjacent elements of the sorted non-negative levels {0, 2^n2, ..., 2^n1}.
The intervals of Eq. 4 tile [2^(n2-1), 3 * 2^(n1-1)): a weight goes to the nearest level,
and a weight exactly half-way between two levels goes to the larger one.

Then (section 2.2, weight partition, group-wise quantisation and re-training): the weights
of each layer are split by an accumulated portion sigma_1 < sigma_2 < ... < 1 (the paper's
default 50%, 75%, 87.5%, 100%); at step k the largest-magnitude weights not yet quantised
("pruning-inspired" strategy; or a random choice) are quantised and frozen, and the others
are retrained with the gradient masked, W <- W - gamma dE/dW * T with T = 0 on frozen weights.
After the last step every weight is on the grid.

    model = incremental_quantize(model, bits=5, fine_tune=lambda m, k: train_one_epoch(m))
    numcnn.compress.save(model, "inq5.safetensors")    # int8 codes and n2, not floats

Axes: a weight array of any shape; codes have the weight's shape.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from numcnn import random as nc_random
from numcnn.compress import checkpoint
from numcnn.nn.module import Module
from numcnn.nn.modules.conv import _ConvNd
from numcnn.nn.modules.linear import Linear
from numcnn.tensor import Tensor

__all__ = ["METHOD", "pow2_levels", "pow2_quantize", "pow2_encode", "pow2_decode",
           "INQSchedule", "incremental_quantize", "quantized_weights", "pack_codes",
           "unpack_codes", "to_checkpoint",
           "from_checkpoint"]

METHOD = "inq"
DEFAULT_PARTITIONS = (0.5, 0.75, 0.875, 1.0)
STRATEGIES = ("magnitude", "random")
MIN_BITS, MAX_BITS = 2, 8          # 2 bits: {0, +-2^n1} (ternary); 8 bits: 64 exponents per sign
_INFO = "_numcnn_inq"              # model attribute: {"bits": b, "layers": {weight name: [n1, n2]}}


# ----------------------------------------------------------------------------- the grid
def _check_bits(bits: Any) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        raise TypeError(f"bits must be an int in [{MIN_BITS}, {MAX_BITS}], got "
                        f"{type(bits).__name__}")
    if not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(f"bits must be an int in [{MIN_BITS}, {MAX_BITS}], got {bits}")
    return int(bits)


def _check_weight(w: Any, name: str = "w") -> np.ndarray:
    if isinstance(w, Tensor):
        w = w.array
    if not isinstance(w, np.ndarray) or w.dtype.kind != "f":
        raise TypeError(f"{name} must be a floating-point ndarray or Tensor, got "
                        f"{getattr(w, 'dtype', type(w).__name__)}")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{name} must be finite (it holds inf or nan)")
    return w


def _exponents_per_sign(bits: int) -> int:
    """2^(b-1) / 2 = 2^(b-2): the number of exponents n2..n1 (sec. 2.1)."""
    return 2 ** (bits - 2)


def _floor_log2_four_thirds(a: np.ndarray) -> np.ndarray:
    """floor(log2(4 a / 3)) for a > 0, exactly (no rounding of log2 or of 4a/3).

    With a = m 2^e, m in [1/2, 1) (frexp): 4a/3 = (4m/3) 2^e and 4m/3 in [2/3, 4/3), so the
    floor is e - 1 when m < 3/4 and e when m >= 3/4 (3/4 is exact in binary).
    """
    m, e = np.frexp(a)
    return e.astype(np.int64) - 1 + (m >= 0.75)


def pow2_levels(w: np.ndarray | Tensor, bits: int = 5) -> tuple[int, int]:
    """The exponent range (n1, n2) of a layer's power-of-two levels (Zhou et al. 2017, sec. 2.1).

    n1 = floor(log2(4 s / 3)) with s = max |w|, and n2 = n1 + 1 - 2^(b-1) / 2, so the levels
    P = {+-2^n1, ..., +-2^n2, 0} spend one of the b bits on zero and 2^(b-2) exponents on each
    sign. n1 is the exponent that Eq. 4 gives the largest weight: 3 * 2^(n1-2) <= s < 3 * 2^(n1-1).

    Args:
        w: the layer's weights (float ndarray or Tensor, any shape), not all zero.
        bits: the bit width b, in [2, 8] (b = 2 gives the ternary {0, +-2^n1}).

    Returns:
        (n1, n2) as Python ints, n2 <= n1.

    Raises:
        TypeError: `w` is not a float array, or `bits` is not an int.
        ValueError: `bits` is outside [2, 8], or `w` is empty, all zero or not finite.
    """
    bits = _check_bits(bits)
    w = _check_weight(w)
    s = float(np.max(np.abs(w))) if w.size else 0.0
    if s == 0.0:
        raise ValueError("w must have a non-zero element (the levels follow from max |w|)")
    n1 = int(_floor_log2_four_thirds(np.float64(s)))
    return n1, n1 + 1 - _exponents_per_sign(bits)


def _levels_of(w: np.ndarray, bits: int) -> tuple[int, int]:
    """pow2_levels, or (0, n2) for an all-zero layer (whose codes are all 0 anyway)."""
    if w.size and np.any(w):
        return pow2_levels(w, bits)
    return 0, 1 - _exponents_per_sign(bits)


def pow2_encode(w: np.ndarray | Tensor, bits: int = 5,
                n1: int | None = None) -> tuple[np.ndarray, int]:
    """The codes of w on the power-of-two grid (Zhou et al. 2017, Eq. 4), and n2.

    code = 0 for 0, and +-k for +-2^(n2 + k - 1), k = 1 .. 2^(b-2), i.e. the level's index
    counted from the smallest. Eq. 4 with adjacent levels alpha < beta in {0, 2^n2, ..., 2^n1}:
    |w| < 2^(n2-1) -> 0; otherwise the exponent n with 3 * 2^(n-2) <= |w| < 3 * 2^(n-1) (its
    interval [(alpha+beta)/2, 3 beta/2)), clipped to [n2, n1]. Half-way ties go to the larger
    level. Clipping below keeps [2^(n2-1), 3 * 2^(n2-2)) at 2^n2 as Eq. 4 says; clipping above
    only acts when `n1` is given and |w| >= 3 * 2^(n1-1): Eq. 4 read literally would send such
    a weight to 0; it saturates to 2^n1 here (with n1 from w itself this never happens).

    Args:
        w: float ndarray or Tensor, any shape.
        bits: the bit width b, in [2, 8].
        n1: the largest exponent; default: pow2_levels(w, bits)[0] (0 for an all-zero w). Give
            it to quantise with levels fixed earlier (INQ fixes them from the trained layer).

    Returns:
        (codes, n2): int8 codes of w's shape, and the smallest exponent n2 = n1 + 1 - 2^(b-2).

    Raises:
        TypeError: `w` is not a float array, `bits` or `n1` not an int.
        ValueError: `bits` outside [2, 8], or `w` not finite.
    """
    bits = _check_bits(bits)
    w = _check_weight(w)
    if n1 is None:
        n1 = _levels_of(w, bits)[0]
    elif isinstance(n1, bool) or not isinstance(n1, (int, np.integer)):
        raise TypeError(f"n1 must be an int or None, got {type(n1).__name__}")
    n1 = int(n1)
    n2 = n1 + 1 - _exponents_per_sign(bits)
    a = np.abs(w)
    with np.errstate(divide="ignore"):
        n = np.clip(_floor_log2_four_thirds(a), n2, n1)
    k = np.where(a >= np.ldexp(a.dtype.type(1), n2 - 1), n - n2 + 1, 0)
    return (np.sign(w).astype(np.int8) * k.astype(np.int8)), n2


def pow2_decode(codes: np.ndarray, n2: int, dtype: Any = np.float32) -> np.ndarray:
    """The weights of int8 `codes` (see pow2_encode): 0 -> 0, +-k -> +-2^(n2 + k - 1).

    Args:
        codes: an integer ndarray.
        n2: the smallest exponent.
        dtype: the float dtype of the result (the values are exact in float32 and float64).

    Raises:
        TypeError: `codes` is not an integer array, or `n2` not an int.
    """
    if not isinstance(codes, np.ndarray) or codes.dtype.kind not in "iu":
        raise TypeError(f"codes must be an integer ndarray, got "
                        f"{getattr(codes, 'dtype', type(codes).__name__)}")
    if isinstance(n2, bool) or not isinstance(n2, (int, np.integer)):
        raise TypeError(f"n2 must be an int, got {type(n2).__name__}")
    k = codes.astype(np.int64)
    one = np.dtype(dtype).type(1)
    mag = np.ldexp(one, int(n2) - 1 + np.abs(k))                # 2^(n2 + |k| - 1)
    return np.where(k == 0, 0, np.sign(k) * mag).astype(dtype)


def pow2_quantize(w: np.ndarray | Tensor, bits: int = 5, n1: int | None = None) -> np.ndarray:
    """w on the power-of-two grid {0, +-2^n2, ..., +-2^n1} by Zhou et al. 2017, Eq. 4 (one shot).

    W^(i,j) = beta sgn(W(i,j)) if (alpha + beta)/2 <= |W(i,j)| < 3 beta / 2, else 0, with alpha <
    beta adjacent levels; n1 = floor(log2(4 max|W| / 3)), n2 = n1 + 1 - 2^(b-1)/2. Boundaries and
    the saturation above 2^n1 (only with a given n1): see pow2_encode.

    Args:
        w: float ndarray or Tensor, any shape.
        bits: the bit width b, in [2, 8].
        n1: the largest exponent; default: from w (pow2_levels).

    Returns:
        A new array of w's shape and dtype whose elements are 0 or +-2^n, n2 <= n <= n1.

    Raises:
        TypeError, ValueError: as pow2_encode.
    """
    w = _check_weight(w)
    codes, n2 = pow2_encode(w, bits, n1)
    return pow2_decode(codes, n2, w.dtype)


# ----------------------------------------------------------------------------- the schedule
def _check_partitions(partitions: Any) -> tuple[float, ...]:
    allowed = "a non-empty increasing sequence of portions in (0, 1] ending with 1.0"
    if isinstance(partitions, (str, bytes)) or not isinstance(partitions, Sequence):
        raise TypeError(f"partitions must be {allowed}, got {type(partitions).__name__}")
    out = []
    for p in partitions:
        if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
            raise TypeError(f"partitions must be {allowed}, got an element {p!r}")
        out.append(float(p))
    if (not out or out[-1] != 1.0 or any(not 0.0 < p <= 1.0 for p in out)
            or any(b <= a for a, b in zip(out, out[1:]))):
        raise ValueError(f"partitions must be {allowed}, got {tuple(partitions)}")
    return tuple(out)


def _quantizable(model: Module, modules: Sequence[str] | None) -> dict[str, Module]:
    """Qualified module name -> module whose `weight` INQ quantises."""
    if modules is None:
        return {name: m for name, m in model.named_modules()
                if isinstance(m, (_ConvNd, Linear)) and getattr(m, "weight", None) is not None}
    if isinstance(modules, str) or not isinstance(modules, Sequence):
        raise TypeError(f"modules must be a sequence of module names or None, got "
                        f"{type(modules).__name__}")
    named = dict(model.named_modules())
    chosen = {}
    for name in modules:
        if not isinstance(name, str) or name not in named:
            raise ValueError(f"modules: the model has no module named {name!r}")
        if not isinstance(getattr(named[name], "weight", None), Tensor):
            raise ValueError(f"modules: {name!r} ({type(named[name]).__name__}) has no weight "
                             "to quantise; allowed: modules with a weight (Conv*d, Linear...)")
        chosen[name] = named[name]
    if not chosen:
        raise ValueError("modules must name at least one module")
    return chosen


def _portion_count(portion: float, size: int) -> int:
    """How many of a layer's `size` weights an accumulated `portion` covers: floor(p N + 1/2)."""
    return min(size, int(math.floor(portion * size + 0.5)))


class _Layer:
    """One quantised weight: its module, fixed levels, frozen mask and frozen values."""

    def __init__(self, module: Module, bits: int) -> None:
        self.module = module
        w = module.weight.array
        self.n1, self.n2 = _levels_of(w, bits)
        self.frozen = np.zeros(w.shape, dtype=bool)
        self.values = np.zeros_like(w)          # the quantised values where frozen

    def restore(self) -> None:
        """Write the frozen values back into the weight (undoes any optimizer step on them)."""
        w = self.module.weight.array
        w[self.frozen] = self.values[self.frozen].astype(w.dtype, copy=False)


class INQSchedule:
    """Incremental Network Quantization driven by a training loop (Zhou et al. 2017, sec. 2.2).

    Each `step()` quantises (Eq. 4, levels fixed from the weights given) and freezes the next
    share of each chosen layer's weights, up to the accumulated portion partitions[k]; in
    between, the user retrains the rest. Frozen weights are kept fixed against any optimizer:
    their gradient is masked to zero (a tensor hook on the weight, the paper's mask T_l),
    and, since momentum or weight decay may still move them, a forward pre-hook writes the
    frozen values back into the weight before every forward, and `step()`/`restore()` do so
    too. So no forward ever sees a moved frozen weight; only between an optimizer.step() and the
    next forward (or restore()) may the stored array hold one. The last step quantises every
    remaining weight, removes the hooks and marks the model with checkpoint.mark(model, "inq").

        schedule = INQSchedule(model, bits=5)
        while not schedule.done:
            schedule.step()                        # freeze 50%, 75%, 87.5%, 100%
            if not schedule.done:
                train_one_epoch(model, optimizer)  # any optimizer; frozen weights stay put

    Args:
        model: the trained float model; changed in place.
        bits: the bit width b, in [2, 8]: levels {0, +-2^n2, ..., +-2^n1} (pow2_levels), fixed
            per layer from its weights now.
        partitions: the accumulated portions sigma_k, increasing in (0, 1], ending with 1.0.
        strategy: "magnitude" (the largest |w| not yet frozen first: the paper's default,
            pruning-inspired) or "random".
        modules: names of the modules (model.named_modules) whose `weight` is quantised;
            default every Conv*d, ConvTranspose*d and Linear. Biases and BatchNorm stay float.
        generator: a numcnn.Generator for the "random" strategy (default the global one).

    Attributes:
        step_index: how many steps are done.
        levels: weight name ("conv1.weight") -> (n1, n2).

    Raises:
        TypeError, ValueError: a bad bits, partitions, strategy or modules, naming it.
    """

    def __init__(self, model: Module, bits: int = 5,
                 partitions: Sequence[float] = DEFAULT_PARTITIONS,
                 strategy: str = "magnitude", modules: Sequence[str] | None = None,
                 generator: nc_random.Generator | None = None) -> None:
        if not isinstance(model, Module):
            raise TypeError(f"model must be a numcnn.nn.Module, got {type(model).__name__}")
        self.bits = _check_bits(bits)
        self.partitions = _check_partitions(partitions)
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
        self.strategy = strategy
        self._rng = nc_random.generator(generator)
        self.model = model
        self._layers = {f"{name}.weight" if name else "weight": _Layer(m, self.bits)
                        for name, m in _quantizable(model, modules).items()}
        self.levels = {name: (layer.n1, layer.n2) for name, layer in self._layers.items()}
        self.step_index = 0
        self._handles: list[Any] = []
        for layer in self._layers.values():
            self._handles.append(layer.module.register_forward_pre_hook(
                lambda module, args, layer=layer: layer.restore()))
            if layer.module.weight.requires_grad:
                self._handles.append(layer.module.weight.register_hook(
                    lambda g, layer=layer: Tensor(np.where(layer.frozen, 0, g.array)
                                                  .astype(g.array.dtype, copy=False))))

    def __len__(self) -> int:
        return len(self.partitions)

    @property
    def done(self) -> bool:
        """Whether every step is done (every weight quantised, hooks removed)."""
        return self.step_index == len(self.partitions)

    @property
    def masks(self) -> dict[str, np.ndarray]:
        """Weight name -> a copy of its frozen mask (True = quantised and fixed)."""
        return {name: layer.frozen.copy() for name, layer in self._layers.items()}

    def restore(self) -> None:
        """Write every frozen value back into its weight (e.g. right after optimizer.step())."""
        for layer in self._layers.values():
            layer.restore()

    def step(self) -> float:
        """Quantise and freeze the next partition of each layer; returns its portion sigma_k.

        In each layer of N weights, floor(sigma_k N + 1/2) weights are frozen afterwards: those
        frozen before, plus the largest |w| of the others (ties: the first in row-major order)
        or a random choice of them. They get Eq. 4's value with the layer's fixed (n1, n2).

        Raises:
            RuntimeError: every step is done already.
        """
        if self.done:
            raise RuntimeError("INQSchedule: every partition is quantised already")
        portion = self.partitions[self.step_index]
        for layer in self._layers.values():
            layer.restore()
            self._freeze_next(layer, portion)
            layer.restore()
        self.step_index += 1
        if self.done:
            self._finish()
        return portion

    def _freeze_next(self, layer: _Layer, portion: float) -> None:
        w = layer.module.weight.array.reshape(-1)
        frozen = layer.frozen.reshape(-1)
        need = _portion_count(portion, w.size) - int(frozen.sum())
        free = np.flatnonzero(~frozen)
        if self.strategy == "magnitude":
            chosen = free[np.argsort(-np.abs(w[free]), kind="stable")[:need]]
        else:
            chosen = self._rng.permutation(free)[:need]
        codes, n2 = pow2_encode(w[chosen], self.bits, layer.n1)
        layer.values.reshape(-1)[chosen] = pow2_decode(codes, n2, w.dtype)
        frozen[chosen] = True

    def _finish(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        object.__setattr__(self.model, _INFO, {
            "bits": self.bits, "layers": {name: list(lv) for name, lv in self.levels.items()}})
        checkpoint.mark(self.model, METHOD)


def incremental_quantize(model: Module, bits: int = 5,
                         partitions: Sequence[float] = DEFAULT_PARTITIONS,
                         fine_tune: Callable[[Module, int], Any] | None = None,
                         strategy: str = "magnitude", modules: Sequence[str] | None = None,
                         generator: nc_random.Generator | None = None,
                         keep_first: bool = False) -> Module:
    """Incremental Network Quantization (Zhou et al. 2017): every chosen weight becomes 0 or
    +-2^n, n2 <= n <= n1, a growing share at a time, the others retrained in between.

    For k = 0 .. len(partitions)-1: freeze the next share of each layer's weights on the grid
    (INQSchedule.step: the largest |w| not yet frozen, Eq. 4 with levels fixed from the trained
    layer: n1 = floor(log2(4 max|W| / 3)), n2 = n1 + 1 - 2^(b-1)/2), then, unless it was the
    last step, call fine_tune(model, k) to retrain the rest; frozen weights stay fixed whatever
    the optimizer (masked gradient + rewrite before every forward, see INQSchedule). With
    fine_tune None this is one-shot quantisation by Eq. 4 (partitions=(1.0,) does the same).

    Args:
        model: the trained float model; changed in place and returned.
        bits: the bit width b, in [2, 8] (one bit codes zero: 2^(b-2) exponents per sign).
        partitions: accumulated portions, increasing in (0, 1], ending with 1.0; the paper's
            default (0.5, 0.75, 0.875, 1.0).
        fine_tune: `fine_tune(model, k)` retrains the unfrozen weights after step k (0-based;
            not called after the last step); its return value is ignored.
        strategy: "magnitude" (the paper's pruning-inspired default) or "random".
        modules: names of the modules whose weight is quantised; default every Conv*d,
            ConvTranspose*d and Linear. Biases and BatchNorm stay float.
        generator: a numcnn.Generator for strategy="random".
        keep_first: leave the first of the chosen layers (in module order) in float, as
            binary.binarize does (on the seed CNN its few weights hold most of the loss).

    Returns:
        `model`, every chosen weight on its grid, marked with checkpoint.mark(model, "inq") so
        that numcnn.compress.save stores b-bit codes and n2 (see to_checkpoint).

    Raises:
        TypeError, ValueError: a bad argument, naming it.
    """
    if fine_tune is not None and not callable(fine_tune):
        raise TypeError(f"fine_tune must be a callable (model, step) or None, got "
                        f"{type(fine_tune).__name__}")
    if not isinstance(keep_first, bool):
        raise TypeError(f"keep_first must be a bool, got {type(keep_first).__name__}")
    if keep_first:
        modules = list(_quantizable(model, modules))[1:]
        if not modules:
            raise ValueError("keep_first leaves no layer to quantise")
    schedule = INQSchedule(model, bits, partitions, strategy, modules, generator)
    while not schedule.done:
        k = schedule.step_index
        schedule.step()
        if fine_tune is not None and not schedule.done:
            fine_tune(model, k)
            schedule.restore()
    return model


# ----------------------------------------------------------------------------- checkpoints
def quantized_weights(model: Module) -> dict[str, tuple[int, int]]:
    """Weight name -> (n1, n2) of each weight an INQ model holds on a power-of-two grid.

    Raises:
        ValueError: `model` was not quantised by incremental_quantize (or loaded as INQ).
    """
    info = getattr(model, _INFO, None)
    if not isinstance(info, dict):
        raise ValueError("model holds no INQ weights; quantise it with incremental_quantize")
    return {name: (int(n1), int(n2)) for name, (n1, n2) in info["layers"].items()}


def pack_codes(codes: np.ndarray, bits: int) -> np.ndarray:
    """`bits` bits per code, packed 8 to a byte: the codes k in [-E, E], E = 2^(b-2)
    (pow2_encode), stored as the unsigned k + E < 2^b, most significant bit first (np.packbits).
    A b-bit model's weights take b/8 bytes each, as the paper's bit width says."""
    offset = _exponents_per_sign(bits)
    u = (codes.astype(np.int16).reshape(-1) + offset).astype(np.uint8)
    planes = np.unpackbits(u[:, None], axis=1)[:, 8 - bits:]          # (n, bits)
    return np.packbits(planes.reshape(-1))


def unpack_codes(packed: np.ndarray, bits: int, shape: tuple[int, ...]) -> np.ndarray:
    """The int8 codes of `shape` that `pack_codes` packed."""
    n = int(np.prod(shape, dtype=np.int64))
    planes = np.unpackbits(packed, count=n * bits).reshape(n, bits)
    u = np.packbits(np.pad(planes, ((0, 0), (8 - bits, 0))), axis=1).reshape(-1)
    return (u.astype(np.int16) - _exponents_per_sign(bits)).astype(np.int8).reshape(shape)


def to_checkpoint(model: Module) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The compact form of an INQ model: per quantised weight its codes (pow2_encode: 0 for 0,
    +-k for +-2^(n2 + k - 1)) in b bits each (`pack_codes`), every other state_dict entry
    (biases, BatchNorm, the weights left out) as it is; spec = {"bits": b, "packed": true,
    "n2": {weight name: n2}}.

    Raises:
        ValueError: the model is not an INQ model, or a quantised weight left its grid (it was
            trained after quantisation).
    """
    levels = quantized_weights(model)
    bits = int(getattr(model, _INFO)["bits"])
    state = model.state_dict()
    tensors: dict[str, np.ndarray] = {}
    for key, value in state.items():
        w = value.array
        if key in levels:
            codes, n2 = pow2_encode(w, bits, levels[key][0])
            if not np.array_equal(pow2_decode(codes, n2, w.dtype), w):
                raise ValueError(f"weight {key} is not on its power-of-two grid (was it trained "
                                 "after incremental_quantize?)")
            tensors[key] = pack_codes(codes, bits)
        else:
            tensors[key] = np.array(w, copy=True)
    spec = {"bits": bits, "packed": True,
            "n2": {name: n2 for name, (_, n2) in levels.items()}}
    return tensors, spec


def from_checkpoint(model: Module, tensors: dict[str, np.ndarray],
                    spec: dict[str, Any]) -> Module:
    """Rebuild the INQ model saved by to_checkpoint on `model` (a fresh float model of the same
    architecture): codes decoded to +-2^(n2 + k - 1) in the weight's dtype (bit-equal to the
    saved weights), the other tensors loaded as they are. Returns `model`, marked "inq".

    Raises:
        checkpoint.CompressedCheckpointError: the spec or a code tensor is malformed (wrong
            type, shape or range), or a state_dict entry is missing or extra.
    """
    bad = checkpoint.CompressedCheckpointError
    n2s = spec.get("n2")
    try:
        bits = _check_bits(spec.get("bits"))
    except (TypeError, ValueError) as e:
        raise bad(f"inq checkpoint: {e}") from None
    if not isinstance(n2s, dict):
        raise bad("inq checkpoint: spec 'n2' must map weight names to ints")
    params = dict(model.state_dict())
    state: dict[str, np.ndarray] = {}
    for key, value in tensors.items():
        if key not in n2s:
            state[key] = value
            continue
        n2 = n2s[key]
        if key not in params or isinstance(n2, bool) or not isinstance(n2, int):
            raise bad(f"inq checkpoint: {key!r} is not a weight of the model or its n2 "
                      f"{n2!r} is not an int")
        target = params[key].array
        if spec.get("packed") is True:             # b bits per code (older files: int8)
            size = -(-target.size * bits // 8)
            if value.dtype != np.uint8 or value.shape != (size,):
                raise bad(f"inq checkpoint: packed codes of {key!r} must be {size} uint8 "
                          f"bytes, got {value.dtype} {tuple(value.shape)}")
            value = unpack_codes(value, bits, tuple(target.shape))
        if (value.dtype != np.int8 or value.shape != target.shape
                or np.abs(value.astype(np.int64)).max(initial=0) > _exponents_per_sign(bits)):
            raise bad(f"inq checkpoint: codes of {key!r} must be int8 of shape "
                      f"{tuple(target.shape)} within +-{_exponents_per_sign(bits)}")
        state[key] = pow2_decode(value, n2, target.dtype)
    missing = set(n2s) - set(tensors)
    if missing:
        raise bad(f"inq checkpoint: no codes for {', '.join(sorted(missing))}")
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise bad(f"inq checkpoint does not fit the model: {e}") from None
    n1_of = _exponents_per_sign(bits) - 1
    object.__setattr__(model, _INFO, {
        "bits": bits, "layers": {k: [int(n2) + n1_of, int(n2)] for k, n2 in n2s.items()}})
    return checkpoint.mark(model, METHOD)
