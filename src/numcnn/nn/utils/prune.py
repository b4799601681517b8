"""Mask-based pruning, as `torch.nn.utils.prune` (seed 004, "Reduced complexity": pruning).

Pruning a parameter `name` of a module re-parameterises it (Han et al. 2015, "Learning both
Weights and Connections for Efficient Neural Networks"; PyTorch's API and semantics):

    module.<name>_orig   the Parameter that is trained (the weights before pruning)
    module.<name>_mask   a buffer of 0s and 1s, the same shape and dtype
    module.<name>        = <name>_orig * <name>_mask, recomputed by a forward pre-hook

so the pruned entries stay at zero through training: d loss / d orig = mask * d loss / d w.
Pruning the same parameter again composes the masks (a `PruningContainer`): the new method
acts only on what is still unpruned — the remaining entries (unstructured), or the remaining
channels along its `dim` (structured) — and its amount counts from those.  `remove` makes the
pruning permanent: `<name>` becomes a plain Parameter holding orig * mask.

    prune.l1_unstructured(conv, "weight", amount=0.5)      # the 50% smallest |w| -> 0
    prune.ln_structured(conv, "weight", amount=2, n=2, dim=0)  # 2 more output channels -> 0
    prune.remove(conv, "weight")

`amount` is an int (how many entries or channels) or a float in [0, 1] (that fraction of
them, rounded as Python's round). Random methods draw from numcnn's generator
(`numcnn.manual_seed`), so equal seeds give equal masks (not torch's masks).
Ties in magnitude are broken by position (the first entries are pruned first); PyTorch's topk
leaves the order of ties unspecified.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from typing import Any, Iterable, Iterator

import numpy as np

from numcnn import random
from numcnn.nn.module import Module
from numcnn.nn.parameter import Parameter
from numcnn.tensor import Size, Tensor

__all__ = ["BasePruningMethod", "PruningContainer", "Identity", "RandomUnstructured",
           "L1Unstructured", "RandomStructured", "LnStructured", "CustomFromMask", "identity",
           "random_unstructured", "l1_unstructured", "random_structured", "ln_structured",
           "global_unstructured", "custom_from_mask", "remove", "is_pruned"]


class _PruningError(ValueError, AssertionError):
    """A misuse PyTorch reports with AssertionError; a ValueError too, as numcnn's
    user errors are."""


def _array(x: Any) -> np.ndarray:
    return x.array if isinstance(x, Tensor) else np.asarray(x)


# ----------------------------------------------------------------------------- amounts


def _validate_pruning_amount_init(amount: Any) -> None:
    """An int >= 0 or a float in [0, 1] (PyTorch's messages)."""
    if not isinstance(amount, numbers.Real):
        raise TypeError(f"Invalid type for amount: {amount}. Must be int or float.")
    if (isinstance(amount, numbers.Integral) and amount < 0) or (
            not isinstance(amount, numbers.Integral)
            and (float(amount) > 1.0 or float(amount) < 0.0)):
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a "
                         "non-negative integer")


def _compute_nparams_toprune(amount: Any, tensor_size: int) -> int:
    """The number of entries (or channels) to prune: an int as it is, a fraction rounded."""
    if isinstance(amount, numbers.Integral):
        return int(amount)
    return round(amount * tensor_size)


def _validate_pruning_amount(nparams: int, tensor_size: int) -> None:
    if nparams > tensor_size:
        raise ValueError(f"amount={nparams} should be smaller than the number of parameters to "
                         f"prune={tensor_size}")


def _validate_structured(t: np.ndarray, dim: int) -> int:
    """`dim` made non-negative, for a tensor of at least 2 dimensions."""
    if t.ndim <= 1:
        raise ValueError("Structured pruning can only be applied to multidimensional tensors. "
                         f"Found tensor of shape {Size(t.shape)} with {t.ndim} dims")
    if not -t.ndim <= dim < t.ndim:
        raise IndexError(f"Invalid index {dim} for tensor of size {Size(t.shape)}")
    return dim % t.ndim


def _smallest(scores: np.ndarray, k: int) -> np.ndarray:
    """Flat indices of the k smallest scores (ties: the first positions)."""
    return np.argsort(scores.ravel(), kind="stable")[:k]


def _channel_norms(t: np.ndarray, n: Any, dim: int) -> np.ndarray:
    """The L_n norm of each slice t[..., c, ...] along `dim` (torch.norm's p = n over the
    other dims): (sum |t|^n)^(1/n); inf: max |t|; -inf: min |t|; 0: non-zero count;
    'fro': n = 2 (also over more than two dims, where torch.norm raises); 'nuc': the sum of
    singular values (the other dims must be exactly 2)."""
    axes = tuple(d for d in range(t.ndim) if d != dim)
    a = np.abs(t)
    if n == "nuc":
        if len(axes) != 2:
            raise ValueError(f"n='nuc' needs a 3-D tensor (a matrix per channel), got "
                             f"{t.ndim} dims")
        return np.linalg.norm(np.moveaxis(t, dim, 0), ord="nuc", axis=(1, 2)).astype(t.dtype)
    p = 2 if n == "fro" else n
    if p == math.inf:
        return a.max(axis=axes)
    if p == -math.inf:
        return a.min(axis=axes)
    if p == 0:
        return np.count_nonzero(t, axis=axes).astype(t.dtype)
    if p == 1:
        return a.sum(axis=axes)
    if p == 2:
        return np.sqrt((a * a).sum(axis=axes))
    return (a ** p).sum(axis=axes) ** (1.0 / p)


def _channel_mask(t: np.ndarray, dim: int, keep: np.ndarray) -> np.ndarray:
    """Zeros like t, with ones in the channels `keep` (indices or booleans) along `dim`."""
    mask = np.zeros_like(t)
    index: list[Any] = [slice(None)] * t.ndim
    index[dim] = keep
    mask[tuple(index)] = 1
    return mask


# ----------------------------------------------------------------------------- methods


class BasePruningMethod(ABC):
    """A pruning method: `compute_mask` says which entries to keep; `apply` installs it on a
    module as `<name>_orig`, `<name>_mask` and a forward pre-hook (the method itself, which
    sets `module.<name> = orig * mask` before each forward).

    Subclasses set `PRUNING_TYPE` ("unstructured", "structured" with a `dim` attribute, or
    "global"), which tells a `PruningContainer` which part of the tensor a later pruning
    may act on.
    """

    PRUNING_TYPE: str = "unstructured"
    _tensor_name: str | None = None

    def __call__(self, module: Module, inputs: Any) -> None:
        """The forward pre-hook: module.<name> = <name>_orig * <name>_mask."""
        object.__setattr__(module, self._name(module), self.apply_mask(module))

    def _name(self, module: Module) -> str:
        if self._tensor_name is None:
            raise _PruningError(f"Module {module} has to be pruned")
        return self._tensor_name

    @abstractmethod
    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """The mask for importance scores `t`, on top of `default_mask` (the mask of earlier
        prunings, ones if none): entries it zeroes stay zero."""

    def apply_mask(self, module: Module) -> Tensor:
        """The pruned tensor: <name>_mask * <name>_orig (differentiable in orig)."""
        name = self._name(module)
        orig = getattr(module, name + "_orig")
        mask = getattr(module, name + "_mask")
        return mask.to(dtype=orig.dtype) * orig

    @classmethod
    def apply(cls, module: Module, name: str, *args: Any,
              importance_scores: Tensor | None = None, **kwargs: Any) -> BasePruningMethod:
        """Prune parameter `name` of `module` with `cls(*args, **kwargs)`, composing with any
        earlier pruning of it; returns the method installed as the hook (a PruningContainer
        when composed).

        Args:
            module: the module that holds the parameter.
            name: the parameter's name in `module` (e.g. "weight").
            importance_scores: scores of the parameter's shape that rank the entries
                (default: the parameter itself, as pruned so far).

        Raises:
            AttributeError: `module` has no attribute `name`.
            TypeError: `name` is not a parameter of `module`.
            ValueError (also an AssertionError, as PyTorch's): importance_scores has another
                shape, or `name` carries two pruning hooks.
        """
        method = cls(*args, **kwargs)
        method._tensor_name = name
        old = _pruning_hooks(module, name)
        if len(old) > 1:
            raise _PruningError(f"Avoid adding multiple pruning hooks to the same tensor {name} "
                                f"of module {module}. Use a PruningContainer.")
        orig = getattr(module, name)
        scores = orig if importance_scores is None else importance_scores
        if tuple(scores.shape) != tuple(orig.shape):
            raise _PruningError(f"importance_scores should have the same shape as parameter "
                                f"{name} of {module}, got {tuple(scores.shape)} vs "
                                f"{tuple(orig.shape)}")
        if not old:
            if not isinstance(orig, Parameter):
                raise TypeError(f"name must name a parameter of {type(module).__name__}; "
                                f"{name!r} is a {type(orig).__name__}")
            default = Tensor(np.ones_like(orig.array))
            mask = _array(method.compute_mask(Tensor(_array(scores)), default))
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
            hook: BasePruningMethod = method
        else:
            key, previous = old[0]
            default = Tensor(np.array(getattr(module, name + "_mask").array))
            mask = _combine_masks(method, _array(scores), default.array)
            hook = previous if isinstance(previous, PruningContainer) else \
                PruningContainer(previous)
            hook.add_pruning_method(method)
            del module._forward_pre_hooks[key]
        module.register_buffer(name + "_mask", Tensor(mask))
        object.__setattr__(module, name, hook.apply_mask(module))
        module.register_forward_pre_hook(hook)
        return hook

    def prune(self, t: Tensor, default_mask: Tensor | None = None,
              importance_scores: Tensor | None = None) -> Tensor:
        """`t` times the mask this method computes for it (from `importance_scores`, by
        default `t` itself), without touching any module."""
        scores = t if importance_scores is None else importance_scores
        if tuple(scores.shape) != tuple(t.shape):
            raise _PruningError(f"importance_scores should have the same shape as tensor t, "
                                f"got {tuple(scores.shape)} vs {tuple(t.shape)}")
        default = Tensor(np.ones_like(_array(t))) if default_mask is None else default_mask
        return t * self.compute_mask(Tensor(_array(scores)), default)

    def remove(self, module: Module) -> None:
        """Make the pruning permanent: `<name>` becomes the Parameter `<name>_orig` (the same
        object) holding orig * mask; `<name>_orig` and `<name>_mask` are dropped."""
        name = self._name(module)
        weight = self.apply_mask(module)
        module.__dict__.pop(name, None)
        orig = module._parameters.pop(name + "_orig")
        orig.data = Tensor(np.array(weight.array))
        del module._buffers[name + "_mask"]
        setattr(module, name, orig)


def _pruning_hooks(module: Module, name: str) -> list[tuple[int, BasePruningMethod]]:
    """The (key, method) pruning hooks of `module` that act on `name`."""
    return [(k, h) for k, h in module._forward_pre_hooks.items()
            if isinstance(h, BasePruningMethod) and h._tensor_name == name]


def _combine_masks(method: BasePruningMethod, t: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`mask` with `method` applied to the part still unpruned: the entries where mask == 1
    (unstructured), the channels along method.dim with any non-zero (structured), or all of
    it (global)."""
    new_mask = mask.astype(t.dtype, copy=True)
    kind = method.PRUNING_TYPE
    part: Any
    if kind == "unstructured":
        part = mask == 1
    elif kind == "structured":
        if not hasattr(method, "dim"):
            raise AttributeError('Pruning methods of PRUNING_TYPE "structured" need to have '
                                 "the attribute `dim` defined.")
        dim = method.dim + t.ndim if method.dim < 0 else method.dim
        if dim < 0:
            raise IndexError(f"Index is out of bounds for tensor with dimensions {t.ndim}")
        others = tuple(d for d in range(t.ndim) if d != dim)
        index: list[Any] = [slice(None)] * t.ndim
        index[dim] = mask.sum(axis=others) != 0
        part = tuple(index)
    elif kind == "global":
        part = (slice(None),) * t.ndim
    else:
        raise ValueError(f"Unrecognized PRUNING_TYPE {kind}")
    partial = method.compute_mask(Tensor(t[part]), default_mask=Tensor(mask[part]))
    new_mask[part] = _array(partial).astype(new_mask.dtype)
    return new_mask


class PruningContainer(BasePruningMethod):
    """The pruning methods applied one after another to one parameter; its mask is the last
    method's, computed on what the earlier ones left (see `_combine_masks`).

    Args:
        *args: pruning methods, all acting on the same parameter name.
    """

    def __init__(self, *args: BasePruningMethod) -> None:
        self._pruning_methods: tuple[BasePruningMethod, ...] = ()
        if args:
            self._tensor_name = args[0]._tensor_name
        for method in args:
            self.add_pruning_method(method)

    def add_pruning_method(self, method: BasePruningMethod) -> None:
        """Append `method`, which must act on this container's parameter name."""
        if not isinstance(method, BasePruningMethod) and method is not None:
            raise TypeError(f"{type(method)} is not a BasePruningMethod subclass")
        if method is not None and self._tensor_name != method._tensor_name:
            raise ValueError("Can only add pruning methods acting on the parameter named "
                             f"'{self._tensor_name}' to PruningContainer {self}. Found "
                             f"'{method._tensor_name}'")
        self._pruning_methods += (method,)

    def __len__(self) -> int:
        return len(self._pruning_methods)

    def __iter__(self) -> Iterator[BasePruningMethod]:
        return iter(self._pruning_methods)

    def __getitem__(self, idx: int) -> BasePruningMethod:
        return self._pruning_methods[idx]

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """`default_mask` combined with the latest method's mask on the still-unpruned part."""
        return Tensor(_combine_masks(self._pruning_methods[-1], _array(t), _array(default_mask)))


class Identity(BasePruningMethod):
    """Prunes nothing: installs the re-parameterisation with a mask of ones."""

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        return default_mask

    @classmethod
    def apply(cls, module: Module, name: str) -> BasePruningMethod:  # type: ignore[override]
        return super().apply(module, name)


class _AmountMethod(BasePruningMethod):
    """A method with an `amount` (an int >= 0, or a float in [0, 1])."""

    def __init__(self, amount: int | float) -> None:
        _validate_pruning_amount_init(amount)
        self.amount = amount

    def _count(self, size: int) -> int:
        k = _compute_nparams_toprune(self.amount, size)
        _validate_pruning_amount(k, size)
        return k


class RandomUnstructured(_AmountMethod):
    """Prunes `amount` of the (still unpruned) entries, chosen uniformly at random from
    numcnn's generator.

    Args:
        amount: how many entries (int) or which fraction of them (float in [0, 1]).
    """

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        k = self._count(t.numel())
        mask = np.array(_array(default_mask))
        if k:
            mask.reshape(-1)[random.generator().permutation(t.numel())[:k]] = 0
        return Tensor(mask)

    @classmethod
    def apply(cls, module: Module, name: str,  # type: ignore[override]
              amount: int | float) -> BasePruningMethod:
        return super().apply(module, name, amount=amount)


class L1Unstructured(_AmountMethod):
    """Prunes the `amount` (still unpruned) entries of smallest magnitude |w| (Han et al.
    2015): mask[i] = 0 for the k smallest importance scores |s_i|.

    Args:
        amount: how many entries (int) or which fraction of them (float in [0, 1]).
    """

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        k = self._count(t.numel())
        mask = np.array(_array(default_mask))
        if k:
            mask.reshape(-1)[_smallest(np.abs(_array(t)), k)] = 0
        return Tensor(mask)

    @classmethod
    def apply(cls, module: Module, name: str, amount: int | float,  # type: ignore[override]
              importance_scores: Tensor | None = None) -> BasePruningMethod:
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


class RandomStructured(_AmountMethod):
    """Prunes `amount` whole (still unpruned) channels along `dim`, chosen at random.

    Args:
        amount: how many channels (int) or which fraction of them (float in [0, 1]).
        dim: the dimension whose slices are the channels (0: a conv's output channels).
    """

    PRUNING_TYPE = "structured"

    def __init__(self, amount: int | float, dim: int = -1) -> None:
        super().__init__(amount)
        self.dim = dim

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        x = _array(t)
        dim = _validate_structured(x, self.dim)
        k = self._count(x.shape[dim])
        if k == 0:
            return default_mask
        keep = np.ones(x.shape[dim], dtype=bool)
        keep[random.generator().permutation(x.shape[dim])[:k]] = False
        return Tensor(_channel_mask(x, dim, keep) * _array(default_mask).astype(x.dtype))

    @classmethod
    def apply(cls, module: Module, name: str, amount: int | float,  # type: ignore[override]
              dim: int = -1) -> BasePruningMethod:
        return super().apply(module, name, amount=amount, dim=dim)


class LnStructured(_AmountMethod):
    """Prunes the `amount` (still unpruned) channels along `dim` of smallest L_n norm
    ||t[..., c, ...]||_n (Li et al. 2017 use n = 1 on a conv's output filters, dim = 0).

    Args:
        amount: how many channels (int) or which fraction of them (float in [0, 1]).
        n: the norm's order: a number, inf, -inf, 'fro' (= 2) or 'nuc' (torch.norm's p).
        dim: the dimension whose slices are the channels.
    """

    PRUNING_TYPE = "structured"

    def __init__(self, amount: int | float, n: Any, dim: int = -1) -> None:
        super().__init__(amount)
        if isinstance(n, bool) or not (isinstance(n, numbers.Real) or n in ("fro", "nuc")):
            raise ValueError(f"n must be a number, inf, -inf, 'fro' or 'nuc', got {n!r}")
        self.n = n
        self.dim = dim

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        x = _array(t)
        dim = _validate_structured(x, self.dim)
        k = self._count(x.shape[dim])
        if k == 0:
            return default_mask
        norms = _channel_norms(x, self.n, dim)
        keep = _smallest(-norms, x.shape[dim] - k)   # the largest norms, first ones on ties
        return Tensor(_channel_mask(x, dim, keep) * _array(default_mask).astype(x.dtype))

    @classmethod
    def apply(cls, module: Module, name: str, amount: int | float,  # type: ignore[override]
              n: Any, dim: int, importance_scores: Tensor | None = None
              ) -> BasePruningMethod:
        return super().apply(module, name, amount=amount, n=n, dim=dim,
                             importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    """Prunes where the given `mask` is 0 (on top of earlier masks).

    Args:
        mask: 0s and 1s, the parameter's shape (a Tensor or an ndarray).
    """

    PRUNING_TYPE = "global"

    def __init__(self, mask: Tensor | np.ndarray) -> None:
        self.mask = mask

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        d, m = _array(default_mask), _array(self.mask)
        if d.shape != m.shape:
            raise _PruningError(f"default_mask shape {tuple(d.shape)} must match self.mask "
                                f"shape {tuple(m.shape)}")
        return Tensor(d * m.astype(d.dtype))

    @classmethod
    def apply(cls, module: Module, name: str,  # type: ignore[override]
              mask: Tensor | np.ndarray) -> BasePruningMethod:
        return super().apply(module, name, mask=mask)


# ----------------------------------------------------------------------------- functions


def identity(module: Module, name: str) -> Module:
    """Install the pruning re-parameterisation of `module.<name>` with a mask of ones.

    Returns:
        module, with `<name>_orig`, `<name>_mask` (ones) and the pre-hook.
    """
    Identity.apply(module, name)
    return module


def random_unstructured(module: Module, name: str, amount: int | float) -> Module:
    """Prune `amount` of the still-unpruned entries of `module.<name>` at random (numcnn's
    generator: `numcnn.manual_seed` makes it repeatable).

    Args:
        module: the module holding the parameter.
        name: the parameter's name, e.g. "weight".
        amount: how many entries (int >= 0) or which fraction of the unpruned ones (float
            in [0, 1]).

    Returns:
        module, pruned in place.
    """
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module: Module, name: str, amount: int | float,
                    importance_scores: Tensor | None = None) -> Module:
    """Prune the `amount` still-unpruned entries of `module.<name>` with the smallest
    magnitude |s| of the importance scores (default: the weights), as Han et al. 2015.

    Args:
        module: the module holding the parameter.
        name: the parameter's name, e.g. "weight".
        amount: how many entries (int >= 0) or which fraction of the unpruned ones (float
            in [0, 1], rounded).
        importance_scores: scores of the parameter's shape; default the parameter.

    Returns:
        module, pruned in place.
    """
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module: Module, name: str, amount: int | float, dim: int) -> Module:
    """Prune `amount` whole still-unpruned channels of `module.<name>` along `dim`, at random.

    Args:
        module: the module holding the parameter (of at least 2 dimensions).
        name: the parameter's name.
        amount: how many channels (int) or which fraction of the unpruned ones (float).
        dim: the channels' dimension (0: a conv's output channels, 1: its input channels).

    Returns:
        module, pruned in place.
    """
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module: Module, name: str, amount: int | float, n: Any, dim: int,
                  importance_scores: Tensor | None = None) -> Module:
    """Prune the `amount` still-unpruned channels of `module.<name>` along `dim` with the
    smallest L_n norm: ||s_c||_n = (sum over the other dims |s|^n)^(1/n) (Li et al. 2017).

    Args:
        module: the module holding the parameter (of at least 2 dimensions).
        name: the parameter's name.
        amount: how many channels (int) or which fraction of the unpruned ones (float).
        n: the norm: a number, inf, -inf, 'fro' or 'nuc'.
        dim: the channels' dimension.
        importance_scores: scores of the parameter's shape; default the parameter.

    Returns:
        module, pruned in place.
    """
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def global_unstructured(parameters: Iterable[tuple[Module, str]], pruning_method: type,
                        importance_scores: dict[tuple[Module, str], Tensor] | None = None,
                        **kwargs: Any) -> None:
    """Prune several parameters together: the method ranks all their (still unpruned)
    entries as one vector, e.g. the `amount` smallest |w| over the whole network.

    Args:
        parameters: (module, name) pairs.
        pruning_method: an "unstructured" method class, e.g. `L1Unstructured`.
        importance_scores: {(module, name): scores} for some of the pairs (the others use
            the parameter itself).
        **kwargs: the method's arguments, e.g. amount=0.2 (of all the unpruned entries).

    Raises:
        TypeError: parameters is not an iterable of (module, name), importance_scores is
            not a dict, or the method is not unstructured.
    """
    if not isinstance(parameters, Iterable):
        raise TypeError("global_unstructured(): parameters is not an Iterable")
    pairs = list(parameters)
    if not all(isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], Module)
               and isinstance(p[1], str) for p in pairs):
        raise TypeError("global_unstructured(): parameters must be (module, name) pairs")
    scores = {} if importance_scores is None else importance_scores
    if not isinstance(scores, dict):
        raise TypeError("global_unstructured(): importance_scores must be of type dict")
    method = pruning_method(**kwargs)
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError('Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. '
                        f"Found method {pruning_method} of type {method.PRUNING_TYPE}")
    method._tensor_name = "temp"
    values = [_array(scores.get((m, n), getattr(m, n))).ravel() for m, n in pairs]
    masks = [_array(getattr(m, n + "_mask")).ravel() if hasattr(m, n + "_mask")
             else np.ones(getattr(m, n).numel(), getattr(m, n).array.dtype) for m, n in pairs]
    final = _combine_masks(method, np.concatenate(values), np.concatenate(masks))
    start = 0
    for m, n in pairs:
        shape = tuple(getattr(m, n).shape)
        size = math.prod(shape)
        custom_from_mask(m, n, mask=Tensor(final[start:start + size].reshape(shape)))
        start += size


def custom_from_mask(module: Module, name: str, mask: Tensor | np.ndarray) -> Module:
    """Prune `module.<name>` where `mask` is 0 (composed with any earlier mask).

    Returns:
        module, pruned in place.
    """
    CustomFromMask.apply(module, name, mask)
    return module


def remove(module: Module, name: str) -> Module:
    """Make the pruning of `module.<name>` permanent: `<name>` becomes a plain Parameter
    holding orig * mask, and `<name>_orig`, `<name>_mask` and the hook go.

    Raises:
        ValueError: `module.<name>` is not pruned.
    """
    for key, hook in _pruning_hooks(module, name):
        hook.remove(module)
        del module._forward_pre_hooks[key]
        return module
    raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before pruning "
                     "can be removed")


def is_pruned(module: Module) -> bool:
    """Whether `module` or any submodule carries a pruning pre-hook."""
    return any(isinstance(h, BasePruningMethod)
               for _, m in module.named_modules() for h in m._forward_pre_hooks.values())
