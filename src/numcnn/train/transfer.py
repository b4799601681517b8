"""Transfer learning: start a model from pretrained weights, adapt its stem and head, freeze
part of it, and give the pretrained layers a smaller learning rate.

Seed 004's recipe ("using fixed CNN layers for a different CV task: reuse all or part of the
feature extraction network"), as `numcnn train --weights ... --freeze ... --head new
--backbone-lr-scale ...` does it, and from Python:

    model = build("resnet18", in_channels=1, num_classes=5, image_size=64)
    source = pretrained("resnet18", "DEFAULT")          # or a file: .pth, .safetensors, a run
    notes = transfer(model, source.state_dict, head="new")
    frozen = freeze(model, ["backbone"])                 # everything but the head
    groups = param_groups(model, lr=1e-3, backbone_lr_scale=0.1)

The two adaptations, each exact where it can be:

- stem: the first convolution's filters were learnt on 3 (RGB) channels. For 1 input channel
  they are summed over the channels (a grey image g given as RGB (g, g, g) meets
  sum_c w_c * g: summing gives the same response); for C channels, each new channel gets the
  mean filter times 3 / C (a constant image keeps its response).
- head: the last classification layer (the last Linear, or SqueezeNet's final 1x1
  convolution) is replaced by the model's own freshly initialised one when the class count
  differs or `head="new"`; `head="keep"` keeps the pretrained one (same classes).

Everything else must match the model's state_dict key for key and shape; auxiliary classifiers
of GoogLeNet and Inception-v3 in the source are dropped (the command line trains without
them).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

import numcnn.nn as nn
from numcnn.nn.module import Module
from numcnn.nn.modules.norm import _BatchNorm
from numcnn.tensor import Tensor

__all__ = ["Pretrained", "pretrained", "head_name", "stem_name", "transfer", "freeze",
           "frozen_norm_layers", "param_groups", "adapt_stem_weight", "TransferError"]

# state_dict prefixes of auxiliary classifiers, dropped when the target has none
_AUX_PREFIXES = ("AuxLogits.", "aux1.", "aux2.")


class TransferError(ValueError):
    """Pretrained weights that do not fit the model (a one-line message naming what)."""


@dataclass
class Pretrained:
    """Pretrained weights and what is known about them.

    Attributes:
        state_dict: name -> array.
        source: where they came from (a weights name such as "ResNet18_Weights.IMAGENET1K_V1",
            or a file path).
        mean, std: the per-channel normalisation the weights expect (None: unknown).
        categories: the class names of their head (None: unknown).
        run: the run configuration when the file was written by `numcnn train`.
    """

    state_dict: dict[str, np.ndarray]
    source: str
    mean: list[float] | None = None
    std: list[float] | None = None
    categories: list[str] | None = None
    run: dict[str, Any] | None = field(default=None)


def _arrays(state: Any, where: str) -> dict[str, np.ndarray]:
    if not isinstance(state, dict) or not state or not all(
            isinstance(k, str) and isinstance(v, (Tensor, np.ndarray)) for k, v in state.items()):
        raise TransferError(f"{where} holds no state dict (name -> tensor)")
    out: dict[str, np.ndarray] = OrderedDict(
        (k, np.asarray(v.array if isinstance(v, Tensor) else v)) for k, v in state.items())
    _keep_metadata(state, out)
    return out


def _keep_metadata(source: Any, target: dict[str, Any]) -> None:
    """Carry a state dict's per-module versions (`_metadata`, as torch.save keeps them), which
    a module may need to read an older layout (e.g. MNASNet version 1)."""
    metadata = getattr(source, "_metadata", None)
    if metadata is not None:
        target._metadata = metadata  # type: ignore[attr-defined]


def _weights_entry(model: str, spec: str) -> Any:
    """The zoo's weights entry `spec` ("DEFAULT", "IMAGENET1K_V1" or
    "ResNet18_Weights.IMAGENET1K_V1") of `model`, or None when the model has none."""
    from numcnn.models import weights as zoo_weights

    try:
        enum = zoo_weights.get_model_weights(model)
    except ValueError:
        return None
    try:
        return enum.verify(spec)
    except ValueError:
        known = ", ".join(enum.__members__)
        raise TransferError(f"{model} has no weights {spec!r}; known: {known}") from None


def _entry_normalisation(entry: Any) -> tuple[list[float], list[float]]:
    t = entry.transforms()
    return [float(v) for v in t.mean], [float(v) for v in t.std]


def _entry_for_file(path: str) -> Any:
    """The zoo weights entry whose published file name is `path`'s (e.g. a torchvision file a
    user downloaded themselves), or None."""
    from numcnn.models import weights as zoo_weights

    base = os.path.basename(path)
    for enum in zoo_weights.WEIGHTS.values():
        for entry in enum:
            if entry.url.rsplit("/", 1)[-1] == base:
                return entry
    return None


def pretrained(model: str, spec: str, progress: bool = True) -> Pretrained:
    """The pretrained weights `spec` for zoo model `model`.

    `spec` is a weights name of the zoo ("DEFAULT", "IMAGENET1K_V1",
    "ResNet18_Weights.IMAGENET1K_V1"; downloaded once into the cache, see
    `numcnn.models.weights`), or a file: a `.pth`/`.pt` PyTorch checkpoint or a `.safetensors`
    file holding a state dict, or a checkpoint written by `numcnn train` (its model's weights,
    with its normalisation and class names). A file named as a published torchvision file
    (e.g. resnet18-f37072fd.pth) gets that entry's normalisation and categories.

    Raises:
        TransferError: an unknown weights name, or a file without a state dict.
        FileNotFoundError: `spec` looks like a path and there is no file.
    """
    from numcnn.io import load

    if os.path.exists(spec) or os.sep in spec or spec.endswith((".pth", ".pt", ".safetensors")):
        if not os.path.isfile(spec):
            raise FileNotFoundError(f"weights file not found: {spec}")
        try:
            obj = load(spec)
        except ValueError as exc:
            raise TransferError(f"cannot read weights {spec}: {exc}") from None
        run = obj.get("run") if isinstance(obj, dict) and isinstance(obj.get("run"), dict) \
            else None
        state = obj
        if isinstance(obj, dict) and not all(isinstance(v, (Tensor, np.ndarray))
                                             for v in obj.values()):
            state = next((obj[k] for k in ("model", "state_dict") if isinstance(obj.get(k), dict)),
                         obj)
        result = Pretrained(_arrays(state, spec), spec)
        if run is not None:
            result.run = run
            result.mean, result.std = list(run["mean"]), list(run["std"])
            result.categories = list(run["classes"])
        else:
            entry = _entry_for_file(spec)
            if entry is not None:
                result.mean, result.std = _entry_normalisation(entry)
                result.categories = entry.meta["categories"]
        return result
    entry = _weights_entry(model, spec)
    if entry is None:
        raise TransferError(f"{model} has no published weights; give --weights a file")
    state = entry.get_state_dict(progress=progress)
    result = Pretrained(_arrays(state, repr(entry)), repr(entry))
    result.mean, result.std = _entry_normalisation(entry)
    result.categories = entry.meta["categories"]
    return result


# ----------------------------------------------------------------------------- adaptation
def head_name(model: Module) -> str:
    """The module path of the classification head: the last Linear or Conv2d in the model's
    module order (a Linear for most models; SqueezeNet's and NiN's final 1x1 convolution).

    Raises:
        TransferError: the model has neither.
    """
    layers = [n for n, m in model.named_modules() if n and isinstance(m, (nn.Linear, nn.Conv2d))]
    if not layers:
        raise TransferError(f"{type(model).__name__} has no Linear or Conv2d head")
    return layers[-1]


def stem_name(model: Module) -> str:
    """The module path of the first layer that sees the image (the first Conv2d or Linear)."""
    for name, mod in model.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)) and name:
            return name
    raise TransferError(f"{type(model).__name__} has no Conv2d or Linear layer")


def adapt_stem_weight(weight: np.ndarray, channels: int) -> np.ndarray:
    """A (O, C0, kH, kW) stem filter bank for `channels` input channels: summed over C0 for 1
    channel; else each channel gets the mean filter times C0 / channels (so a constant image
    gives the same response)."""
    if weight.shape[1] == channels:
        return weight
    if channels == 1:
        return weight.sum(axis=1, keepdims=True)
    mean = weight.mean(axis=1, keepdims=True) * (weight.shape[1] / channels)
    return np.repeat(mean, channels, axis=1).astype(weight.dtype)


def transfer(model: Module, state: dict[str, np.ndarray], head: str = "new") -> list[str]:
    """Load pretrained `state` into `model`, adapting the stem's input channels and replacing
    (`head="new"`, or when the class count differs) or keeping (`head="keep"`) the head.

    Returns:
        One line per adaptation made (for the log).

    A tensor whose shape differs is an error, unless it lies under a module whose saved
    state-dict version differs from the module's own (`state._metadata`, as torch.save keeps
    it): that module converts its older layout as it loads (e.g. MNASNet version 1, whose stem
    is wider at small alpha), and only a failure there is an error (the model may then be
    partly loaded).

    Raises:
        TransferError: keys or shapes that do not match beyond the stem and head (the first few
            named), or head="keep" with another class count.
    """
    if head not in ("new", "keep"):
        raise ValueError(f"head must be 'new' or 'keep', got {head!r}")
    own = model.state_dict()
    hname, sname = head_name(model), stem_name(model)
    notes: list[str] = []
    new: dict[str, np.ndarray] = OrderedDict()
    _keep_metadata(state, new)
    unexpected: list[str] = []
    mismatched: list[str] = []
    aux: list[str] = []
    deferred: list[str] = []            # shapes of an older layout the model converts itself
    for key, value in state.items():
        if key not in own:
            (aux if key.startswith(_AUX_PREFIXES) else unexpected).append(key)
            continue
        want = tuple(own[key].shape)
        arr = np.asarray(value)
        if (key == sname + ".weight" and arr.ndim == len(want) and arr.ndim > 1
                and arr.shape[1] != want[1]):
            old = arr.shape[1]
            arr = adapt_stem_weight(arr, want[1])
            notes.append(f"stem {sname}: {old} -> {want[1]} input channels ("
                         f"{'filters summed over the channels' if want[1] == 1 else 'mean filter'}"
                         f")")
        if key.startswith(hname + "."):
            if head == "new":
                continue
            if arr.shape != want:
                raise TransferError(f"--head keep: the pretrained head {hname} has shape "
                                    f"{arr.shape}, the model's {want} (another class count)")
        if arr.shape != want:
            if not _older_layout(model, new, key):
                mismatched.append(f"{key} {tuple(arr.shape)} vs {want}")
                continue
            deferred.append(key)
        new[key] = arr
    missing = [k for k in own if k not in new and not k.startswith(hname + ".")]
    if unexpected or mismatched or missing:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:4])}"
                         f"{' ...' if len(unexpected) > 4 else ''}")
        if mismatched:
            parts.append(f"shape mismatch {', '.join(mismatched[:3])}")
        raise TransferError(f"the weights do not fit {type(model).__name__}: "
                            + "; ".join(parts))
    try:
        model.load_state_dict(new, strict=False)
    except RuntimeError as exc:           # only possible with `deferred` keys
        raise TransferError(f"the weights do not fit {type(model).__name__}: "
                            f"{str(exc).splitlines()[0]}") from None
    if deferred:
        notes.append(f"{len(deferred)} tensors of an older state-dict version, converted by "
                     f"the model as it loads them")
    if head == "new":
        notes.append(f"head {hname}: new, {tuple(own[hname + '.weight'].shape)}")
    if aux:
        notes.append(f"dropped {len(aux)} auxiliary-classifier tensors")
    return notes


def _older_layout(model: Module, state: Any, key: str) -> bool:
    """Whether `key` lies under a module whose saved state-dict version (torch.save keeps each
    module's `_version` in `state._metadata`) differs from the module's own: its
    `_load_from_state_dict` then converts the older layout (e.g. MNASNet version 1), so a
    shape that differs now is not an error yet."""
    metadata = getattr(state, "_metadata", None)
    if not metadata:
        return False
    parts = key.split(".")[:-1]
    for i in range(len(parts) + 1):
        path = ".".join(parts[:i])
        saved = metadata.get(path, {}).get("version")
        try:
            module = model.get_submodule(path) if path else model
        except AttributeError:
            return False
        if saved is not None and saved != getattr(module, "_version", 1):
            return True
    return False


def freeze(model: Module, prefixes: Sequence[str]) -> list[str]:
    """Stop training the parameters under `prefixes` (module paths such as "features" or
    "layer1"; "backbone" means everything but the head): requires_grad = False.

    Returns:
        The frozen parameter names.

    Raises:
        TransferError: a prefix that matches no parameter (the top-level modules are named).
    """
    hname = head_name(model)
    names = [n for n, _ in model.named_parameters()]
    frozen: set[str] = set()
    for prefix in prefixes:
        if prefix == "backbone":
            hit = {n for n in names if not n.startswith(hname + ".")}
        else:
            p = prefix.rstrip(".")
            hit = {n for n in names if n == p or n.startswith(p + ".")}
        if not hit:
            tops = sorted({n.split(".")[0] for n in names})
            raise TransferError(f"--freeze {prefix}: no parameter under it; the model's modules: "
                                f"{', '.join(tops)} (or 'backbone': all but {hname})")
        frozen |= hit
    for n, param in model.named_parameters():
        if n in frozen:
            param.requires_grad_(False)
    return [n for n in names if n in frozen]


def frozen_norm_layers(model: Module) -> list[Module]:
    """The normalisation layers all of whose parameters are frozen: these run in eval mode
    during training (their running statistics stay the pretrained ones), as Keras does for a
    layer with trainable = False."""
    out: list[Module] = []
    for _, mod in model.named_modules():
        if isinstance(mod, _BatchNorm):
            params = list(mod.parameters(recurse=False))
            if params and not any(p.requires_grad for p in params):
                out.append(mod)
    return out


def param_groups(model: Module, lr: float, backbone_lr_scale: float = 1.0
                 ) -> list[dict[str, Any]]:
    """The optimizer's parameter groups: the head at `lr`, the rest (the pretrained layers) at
    lr * backbone_lr_scale; frozen parameters are left out. One group when the scale is 1."""
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not trainable:
        raise TransferError("every parameter is frozen: nothing to train")
    if backbone_lr_scale == 1.0:
        return [{"params": [p for _, p in trainable], "lr": lr}]
    hname = head_name(model)
    head = [p for n, p in trainable if n.startswith(hname + ".")]
    body = [p for n, p in trainable if not n.startswith(hname + ".")]
    groups = []
    if body:
        groups.append({"params": body, "lr": lr * backbone_lr_scale})
    if head:
        groups.append({"params": head, "lr": lr})
    return groups
