"""Sparse weights: iterative magnitude pruning, its accounting, and sparse storage.

Han, Pool, Tran, Dally, "Learning both Weights and Connections for Efficient Neural
Networks", NeurIPS 2015 (seed 004's "set near-zero weights to zero, fix them, retrain"):
train, prune the weights of smallest magnitude, retrain the rest with the pruned ones held
at zero, and repeat with a higher threshold.  `iterative_prune` does this with
`numcnn.nn.utils.prune` masks; the sparsity rises over the steps as

    linear:  s_t = s * t / T                     (equal steps)
    cubic:   s_t = s * (1 - (1 - t / T)^3)       (Zhu & Gupta 2017, "To prune, or not to
                                                  prune": fast while many weights are
                                                  redundant, slow near the end)

for t = 1..T, s the target.  Biases are not pruned (Han et al. prune the connections).

Storage (METHOD = "sparse").  A float tensor with enough zeros is stored as its non-zero
values (same dtype, in C order) plus its non-zero pattern packed 8 per byte (np.packbits):

    bytes = nnz * itemsize + ceil(numel / 8)     vs   numel * itemsize dense

which pays for float32 once more than 1/32 of the entries are zero; a tensor is stored sparse
when that saves more than `_HEADER_BYTES` (what the two extra safetensors entries cost).  The
model comes back as a float model with plain weights (the masks made permanent).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Iterable

import numpy as np

from numcnn import dtypes, nn
from numcnn.autograd.grad_mode import no_grad
from numcnn.compress.checkpoint import CompressedCheckpointError, mark
from numcnn.nn.module import Module
from numcnn.nn.utils import prune
from numcnn.nn.utils._dtype import param_dtype
from numcnn.tensor import Tensor

__all__ = ["METHOD", "SCHEDULES", "iterative_prune", "schedule_sparsity", "sparsity",
           "nonzero_macs", "effective_state", "to_checkpoint", "from_checkpoint"]

METHOD = "sparse"
SCHEDULES = ("linear", "cubic")
_HEADER_BYTES = 64                      # about what one more tensor adds to the file's header
_VALUES, _MASK = ".values", ".nonzero_bits"
_PRUNABLE = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


# ----------------------------------------------------------------------------- the weights


def _pruned_names(model: Module) -> set[str]:
    """Dotted names of the tensors carrying a prune mask ("conv1.weight")."""
    return {f"{prefix}.{hook._tensor_name}" if prefix else str(hook._tensor_name)
            for prefix, m in model.named_modules() for hook in m._forward_pre_hooks.values()
            if isinstance(hook, prune.BasePruningMethod)}


def effective_state(model: Module) -> dict[str, np.ndarray]:
    """`model.state_dict()` as arrays, with each pruned pair `<name>_orig`, `<name>_mask`
    replaced by `<name>` = orig * mask: the state of the same model with the masks removed.
    """
    state = {k: v.array for k, v in model.state_dict().items()}
    pruned = _pruned_names(model)
    out: dict[str, np.ndarray] = {}
    for key, arr in state.items():
        if key.endswith("_orig") and key[:-5] in pruned:
            out[key[:-5]] = arr * state[key[:-5] + "_mask"].astype(arr.dtype)
        elif not (key.endswith("_mask") and key[:-5] in pruned):
            out[key] = arr
    return out


def _effective_parameters(model: Module) -> dict[str, np.ndarray]:
    """The parameters (not buffers) by name, pruned ones as orig * mask."""
    state = effective_state(model)
    names = [k[:-5] if k.endswith("_orig") and k[:-5] in state else k
             for k, _ in model.named_parameters()]
    return {k: state[k] for k in names if k in state}


def _counts(arrays: Iterable[np.ndarray]) -> dict[str, Any]:
    params = nonzero = 0
    for a in arrays:
        params += a.size
        nonzero += int(np.count_nonzero(a))
    return {"params": params, "nonzero": nonzero,
            "sparsity": 1.0 - nonzero / params if params else 0.0}


def sparsity(model: Module) -> dict[str, Any]:
    """Parameters and non-zero parameters of `model`, per parameter, per layer and in total;
    a pruned weight counts as orig * mask.

    Returns:
        {"total": C, "layers": {module name: C}, "parameters": {parameter name: C}} with
        C = {"params": int, "nonzero": int, "sparsity": 1 - nonzero / params}; a layer is a
        module with parameters of its own ("" for the root's own).
    """
    if not isinstance(model, Module):
        raise TypeError(f"model must be a numcnn.nn.Module, got {type(model).__name__}")
    params = _effective_parameters(model)
    layers: dict[str, list[np.ndarray]] = {}
    for name, arr in params.items():
        layers.setdefault(name.rpartition(".")[0], []).append(arr)
    return {"total": _counts(params.values()),
            "layers": {k: _counts(v) for k, v in layers.items()},
            "parameters": {k: _counts([v]) for k, v in params.items()}}


def nonzero_macs(model: Module, input_size: tuple[int, ...]) -> dict[str, Any]:
    """Multiply-adds of the convolutions and Linear layers on one input, dense and those that
    touch a non-zero weight (what a sparse kernel would have to do).

    Each weight entry is used once per output position: a Conv*d with output (N, C_out, *S)
    does N * prod(S) * numel(W) MACs (numcnn.analysis.summary's count), of which
    N * prod(S) * nnz(W) touch a non-zero weight; a Linear with output rows R does
    R * numel(W), of which R * nnz(W).

    Args:
        model: the network (pruned with masks, or with zero weights).
        input_size: one sample's shape, e.g. (1, 28, 28); run as a batch of one, on zeros of
            the model's parameter dtype, in eval mode.

    Returns:
        {"macs": int, "nonzero_macs": int, "layers": {name: {"macs", "nonzero_macs"}}}.
    """
    if not isinstance(input_size, (tuple, list)) or not all(
            isinstance(s, numbers.Integral) and s > 0 for s in input_size):
        raise ValueError(f"input_size must be a tuple of positive ints, got {input_size!r}")
    layers: dict[str, dict[str, int]] = {}

    def count(name: str) -> Callable[[Module, Any, Any], None]:
        def hook(m: Module, args: Any, out: Any) -> None:
            w = m.weight.array
            channels = out.shape[-1] if isinstance(m, nn.Linear) else out.shape[1]
            rows = out.array.size // channels          # output positions per channel
            layers[name] = {"macs": rows * w.size, "nonzero_macs": rows * int(np.count_nonzero(w))}
        return hook

    handles = [m.register_forward_hook(count(n)) for n, m in model.named_modules()
               if isinstance(m, _PRUNABLE)]
    dtype = param_dtype(model, np.float32)
    was_training = model.training
    try:
        model.eval()
        with no_grad():
            model(Tensor(np.zeros((1, *input_size), dtype=dtype)))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return {"macs": sum(v["macs"] for v in layers.values()),
            "nonzero_macs": sum(v["nonzero_macs"] for v in layers.values()), "layers": layers}


# ----------------------------------------------------------------------------- pruning


def _targets(model: Module, modules: Iterable[Module | str] | None,
             structured: bool) -> list[Module]:
    """The layers whose weights are pruned (see iterative_prune's `modules`)."""
    if modules is None:
        kinds = _PRUNABLE[:3] if structured else _PRUNABLE
        return [m for _, m in model.named_modules() if isinstance(m, kinds)]
    named = dict(model.named_modules())
    out = []
    for item in modules:
        if isinstance(item, str):
            if item not in named:
                raise ValueError(f"modules: the model has no layer named {item!r}")
            item = named[item]
        if not isinstance(item, Module) or not any(item is m for m in named.values()):
            raise ValueError(f"modules must hold layers of the model (or their names), got "
                             f"{type(item).__name__}")
        if "weight" not in item._parameters and "weight_orig" not in item._parameters:
            raise ValueError(f"modules: {type(item).__name__} has no weight to prune")
        out.append(item)
    return out


def _weight(m: Module) -> np.ndarray:
    """The layer's weight as the forward sees it: orig * mask when pruned."""
    if "weight_orig" in m._parameters:
        return m.weight_orig.array * m.weight_mask.array.astype(m.weight_orig.array.dtype)
    return m.weight.array


def _masked(m: Module) -> np.ndarray:
    """True where the layer's weight is masked (all False before any pruning)."""
    if "weight_mask" in m._buffers:
        return m.weight_mask.array == 0
    return np.zeros(m.weight.shape, dtype=bool)


def schedule_sparsity(amount: float, step: int, steps: int, schedule: str = "linear") -> float:
    """The sparsity after `step` of `steps`: linear s * t / T, or cubic
    s * (1 - (1 - t / T)^3) (Zhu & Gupta 2017)."""
    frac = step / steps
    return amount * (frac if schedule == "linear" else 1.0 - (1.0 - frac) ** 3)


def _prune_unstructured(layers: list[Module], target: float) -> None:
    """Global magnitude pruning: mask the smallest |w| over all the layers until
    round(target * their weights) are masked."""
    total = sum(m.weight.numel() for m in layers)
    extra = round(target * total) - sum(int(_masked(m).sum()) for m in layers)
    if extra > 0:
        prune.global_unstructured([(m, "weight") for m in layers], prune.L1Unstructured,
                                  amount=extra, importance_scores={
                                      (m, "weight"): Tensor(_weight(m)) for m in layers})


def _prune_filters(layers: list[Module], target: float) -> None:
    """Per layer, mask whole output channels (dim 0) of smallest L1 norm (Li et al. 2017)
    until round(target * channels) are masked."""
    for m in layers:
        masked = _masked(m).reshape(m.weight.shape[0], -1).all(axis=1)
        extra = round(target * masked.size) - int(masked.sum())
        if extra > 0:
            prune.ln_structured(m, "weight", amount=extra, n=1, dim=0,
                                importance_scores=Tensor(_weight(m)))


def _check_fraction(amount: Any) -> float:
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
        raise TypeError(f"amount must be a float in [0, 1), got {type(amount).__name__}")
    if not 0.0 <= float(amount) < 1.0:
        raise ValueError(f"amount must be a float in [0, 1), got {amount}")
    return float(amount)


def iterative_prune(model: Module, amount: float, steps: int = 1,
                    fine_tune: Callable[[Module, int], Any] | None = None,
                    modules: Iterable[Module | str] | None = None, structured: bool = False,
                    schedule: str = "linear", remove_masks: bool = True) -> Module:
    """Han et al. 2015's prune -> retrain loop, to a final sparsity `amount`.

    For t = 1..steps: prune to sparsity s_t (the schedule; s_steps = amount), then call
    `fine_tune(model, t)`.  Unstructured (default): global magnitude pruning, the
    round(s_t * n) smallest |w| over all the pruned weights together are masked (n their
    number of entries).  Structured: in each layer, round(s_t * C_out) whole output filters
    of smallest L1 norm ||W_o||_1 (Li et al. 2017).  Masks only grow: what was pruned stays
    pruned, and the masks keep it at zero while `fine_tune` trains (`numcnn.nn.utils.prune`'s
    re-parameterisation: weight = weight_orig * weight_mask).

    Args:
        model: a trained float model; pruned in place.
        amount: the final fraction of the pruned weights (or filters) that are zero, in [0, 1).
        steps: prune -> fine-tune rounds.
        fine_tune: `fine_tune(model, step)`, step = 1..steps, trains the model after each
            pruning (an optimizer made before the call still works: the weights keep their
            Parameter objects, as weight_orig); None: no retraining.
        modules: the layers (modules or dotted names) whose `weight` is pruned; default every
            Conv1d/2d/3d and Linear (structured: the convolutions only, as zeroing a Linear's
            output rows would drop classes of the last layer).  Biases are never pruned.
        structured: prune whole output filters instead of single weights.
        schedule: "linear" (equal steps) or "cubic" (Zhu & Gupta 2017).
        remove_masks: finally make the pruning permanent (`prune.remove`): plain weights with
            zeros; False keeps weight_orig / weight_mask.

    Returns:
        `model`, pruned and marked "sparse" (numcnn.compress.save stores it sparsely).

    Raises:
        TypeError: amount is not a number, or fine_tune is not callable.
        ValueError: amount outside [0, 1), steps < 1, an unknown schedule, or a `modules`
            entry that is not a layer with a weight of the model.
    """
    if not isinstance(model, Module):
        raise TypeError(f"model must be a numcnn.nn.Module, got {type(model).__name__}")
    amount = _check_fraction(amount)
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if fine_tune is not None and not callable(fine_tune):
        raise TypeError(f"fine_tune must be a callable (model, step) or None, got "
                        f"{type(fine_tune).__name__}")
    layers = _targets(model, modules, structured)
    if not layers:
        raise ValueError("modules: the model has no Conv or Linear layer to prune")
    for step in range(1, int(steps) + 1):
        target = schedule_sparsity(amount, step, int(steps), schedule)
        (_prune_filters if structured else _prune_unstructured)(layers, target)
        if fine_tune is not None:
            fine_tune(model, step)
    for m in layers:
        for _, hook in prune._pruning_hooks(m, "weight"):
            if remove_masks:
                prune.remove(m, "weight")
            else:
                hook(m, ())             # module.weight from the trained weight_orig
    return mark(model, METHOD)


# ----------------------------------------------------------------------------- storage


def _worth_it(arr: np.ndarray) -> bool:
    """Whether values + packed bits beat the dense tensor by more than a header entry."""
    if arr.dtype.kind != "f" or arr.size == 0:
        return False
    sparse = np.count_nonzero(arr) * arr.itemsize + math.ceil(arr.size / 8)
    return sparse + _HEADER_BYTES < arr.nbytes


def to_checkpoint(model: Module) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The model's state (masks applied: `effective_state`), each float tensor with enough
    zeros as `<key>.values` (the non-zeros, C order) and `<key>.nonzero_bits` (np.packbits of
    the non-zero pattern, C order); the others as they are.

    Returns:
        (tensors, spec) with spec = {"sparse": {key: shape}} for the tensors stored sparse.
    """
    state = effective_state(model)
    tensors: dict[str, np.ndarray] = {}
    layout: dict[str, list[int]] = {}
    for key, arr in state.items():
        if not _worth_it(arr):
            tensors[key] = arr
            continue
        if key + _VALUES in state or key + _MASK in state:
            raise ValueError(f"state key {key!r} clashes with the sparse layout's names")
        nz = arr != 0
        tensors[key + _VALUES] = np.ascontiguousarray(arr[nz])
        tensors[key + _MASK] = np.packbits(nz.reshape(-1))
        layout[key] = [int(s) for s in arr.shape]
    return tensors, {"sparse": layout}


def _unpack(key: str, shape: Any, tensors: dict[str, np.ndarray]) -> np.ndarray:
    """The dense tensor `key` from its values and packed non-zero bits, checked."""
    if not (isinstance(shape, list) and all(isinstance(s, int) and s >= 0 for s in shape)):
        raise CompressedCheckpointError(f"sparse checkpoint: the shape of {key!r} is {shape!r}")
    if key + _VALUES not in tensors or key + _MASK not in tensors:
        raise CompressedCheckpointError(f"sparse checkpoint: {key!r} lacks its values or bits")
    values, bits = tensors[key + _VALUES], tensors[key + _MASK]
    n = math.prod(shape)
    if bits.dtype != np.uint8 or bits.shape != (math.ceil(n / 8),):
        raise CompressedCheckpointError(f"sparse checkpoint: {key!r} needs {math.ceil(n / 8)} "
                                        f"uint8 mask bytes, got {bits.dtype} {bits.shape}")
    nz = np.unpackbits(bits, count=n).astype(bool)
    if values.dtype.kind != "f" or values.shape != (int(nz.sum()),):
        raise CompressedCheckpointError(f"sparse checkpoint: {key!r} has {int(nz.sum())} "
                                        f"non-zeros but values {values.dtype} {values.shape}")
    out = np.zeros(n, dtype=values.dtype)
    out[nz] = values
    return out.reshape(shape)


def from_checkpoint(model: Module, tensors: dict[str, np.ndarray],
                    spec: dict[str, Any]) -> Module:
    """Load the state `to_checkpoint` wrote into `model` (a freshly built float model of the
    same architecture; masks it carries are made permanent first, and it is cast to the
    saved floats' dtype when they share one): plain weights, the pruned ones zero, bit for
    bit the saved model's.

    Raises:
        CompressedCheckpointError: a sparse entry is malformed (shape, sizes or dtypes).
        RuntimeError: the state does not fit the model (load_state_dict's message).
    """
    layout = spec.get("sparse", {})
    if not isinstance(layout, dict):
        raise CompressedCheckpointError("sparse checkpoint: spec['sparse'] must be a dict")
    parts = {k + s for k in layout for s in (_VALUES, _MASK)}
    state = {k: v for k, v in tensors.items() if k not in parts}
    state.update({k: _unpack(k, shape, tensors) for k, shape in layout.items()})
    for _, m in model.named_modules():
        for _, hook in list(m._forward_pre_hooks.items()):
            if isinstance(hook, prune.BasePruningMethod):
                prune.remove(m, str(hook._tensor_name))
    float_dtypes = {v.dtype for v in state.values() if v.dtype.kind == "f"}
    if len(float_dtypes) == 1:                  # a float64 model comes back float64
        model.to(dtypes.of(float_dtypes.pop()))
    model.load_state_dict({k: Tensor(np.array(v)) for k, v in state.items()})
    return model
