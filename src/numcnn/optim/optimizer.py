"""`Optimizer`: the base class of every optimizer — parameter groups, state, `state_dict`.

An optimizer holds `param_groups`, a list of dicts each with a `"params"` list and that group's
options (`lr`, `weight_decay`, ...; missing options take the optimizer's `defaults`), and
`state`, a dict from parameter to that parameter's running buffers (`{"step": ...,
"exp_avg": ...}`).  A subclass writes only `step()`: for every group, for every parameter with a
gradient, the update of its algorithm box, vectorised over the parameter's array and done in
place, so `p.array` keeps its dtype and identity.

`state_dict()` has PyTorch's structure, parameters replaced by their index in group order::

    {"state": {0: {"step": Tensor, "exp_avg": Tensor, ...}, ...},
     "param_groups": [{"lr": 0.01, ..., "params": [0, 1]}, {"lr": 0.1, ..., "params": [2]}]}

Its values are Tensors, Python numbers, bools, strings, None and tuples: nothing that needs
pickling.  `load_state_dict` deep-copies the buffers (ndarrays or Tensors are both accepted, and
string keys such as "0" from a JSON file are read as indices), casts floating buffers to their
parameter's dtype (not `step`, as in PyTorch) and checks the group sizes.
"""

from __future__ import annotations

import copy
import warnings
from collections import defaultdict
from itertools import chain
from typing import Any, Callable, Iterable, Union

import numpy as np

from numcnn import dtypes
from numcnn.autograd import grad_mode
from numcnn.tensor import Tensor

ParamsT = Union[Iterable[Tensor], Iterable[dict[str, Any]], Iterable[tuple[str, Tensor]]]
StateDict = dict[str, Any]

__all__ = ["Optimizer", "ParamsT", "StateDict"]


def _scalar_state(value: float = 0.0) -> Tensor:
    """A scalar state entry (the `step` counter, NAdam's `mu_product`): a 0-d float tensor,
    float32, or float64 if that is the default dtype (PyTorch's scalar dtype for them)."""
    dt = np.float64 if dtypes.get_default_dtype() == np.float64 else np.float32
    return Tensor(np.full((), value, dtype=dt))


def _check_unsupported(**flags: Any) -> None:
    """PyTorch's switches that change what a step computes and that numcnn does not have
    (`differentiable`, `fused`).  `foreach` and `capturable` only choose how PyTorch runs the
    same arithmetic (multi-tensor kernels, CUDA-graph capture); numcnn has one NumPy
    implementation, so the optimizers accept those two and ignore them."""
    for name, value in flags.items():
        if value:
            raise NotImplementedError(f"{name}=True is not supported by numcnn (got {value!r})")


def _check_lr(lr: Any) -> None:
    """PyTorch's first two checks of every optimizer: a Tensor lr has one element, lr >= 0."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def _check_adam_like(lr: Any, eps: float, betas: tuple[float, float],
                     weight_decay: float) -> None:
    """The checks shared by Adam, AdamW, NAdam, RAdam and Adamax, in PyTorch's order and words:
    lr >= 0, eps >= 0, each beta in [0, 1), weight_decay >= 0."""
    _check_lr(lr)
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


class Optimizer:
    """Base class for all optimizers.

    Args:
        params: an iterable of Tensors, of `(name, Tensor)` pairs, or of dicts defining
            parameter groups (each dict has `"params"` and may override any default option).
        defaults: the default value of every option, used where a group does not set it.
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got {type(params).__name__}"
            )
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        s = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    s += f"    {key}: {group[key]}\n"
        return s + ")"

    # ----------------------------------------------------------------- groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group (e.g. layers unfrozen while fine-tuning) with its own options.

        Args:
            param_group: `{"params": tensors, option: value, ...}`; options it does not set take
                the optimizer's defaults.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        else:
            params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        tensors = [p[1] if isinstance(p, tuple) else p for p in params]
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names are "
                    "missing"
                )
            param_group["param_names"] = names
        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is "
                    f"{type(p).__name__}"
                )
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            param_group.setdefault(name, default)
        if len({id(p) for p in tensors}) != len(tensors):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, this "
                "will cause an error", stacklevel=3,
            )
        seen: set[int] = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. "
                    f"cannot add param group {which} to the optimizer"
                )
        if any(id(p) in seen for p in tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ----------------------------------------------------------------- stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradient of every optimized tensor: to None (default) or to zeros.

        With `set_to_none=True` a parameter that gets no gradient in the next backward is
        skipped by `step()`; with zeros it takes a step with a zero gradient (which still moves
        it under momentum or weight decay).
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.grad_fn = None
                    p.grad.requires_grad = False
                    p.grad.array[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimisation step: `_update_group` on every parameter group, in place
        and without recording a graph; `closure`, if given, re-evaluates and returns the loss."""
        loss = self._eval_closure(closure)
        with grad_mode.no_grad():
            for group in self.param_groups:
                self._update_group(group)
        return loss

    def _update_group(self, group: dict[str, Any]) -> None:
        """The algorithm's update of one parameter group (each optimizer writes its own)."""
        raise NotImplementedError

    def _eval_closure(self, closure: Callable[[], Any] | None) -> Any:
        if closure is None:
            return None
        with grad_mode.enable_grad():
            return closure()

    @staticmethod
    def _grad_of(p: Tensor, maximize: bool) -> np.ndarray:
        """g = ∇θ f, or -∇θ f when maximizing (a new array: p.grad is never written)."""
        # callers pass only parameters that have a gradient
        g = p.grad.array  # type: ignore[union-attr]
        return -g if maximize else g

    # ----------------------------------------------------------------- state dict
    def state_dict(self) -> StateDict:
        """The state: `{"state": {index: {...}}, "param_groups": [{..., "params": [...]}]}`.

        Parameters are replaced by their position in the concatenated groups; the buffers are
        the optimizer's own Tensors (not copies), as in PyTorch.
        """
        index: dict[int, int] = {}
        start = 0
        groups = []
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            for i, p in enumerate(g["params"], start):
                index.setdefault(id(p), i)
            packed["params"] = [index[id(p)] for p in g["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): v
                 for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: StateDict) -> None:
        """Load a state produced by `state_dict()` (possibly via a file: ndarrays are accepted).

        Raises:
            ValueError: if the number of groups or of parameters in a group differ.
        """
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of "
                "optimizer's group"
            )
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        capturable = {p: bool(g.get("capturable") or g.get("fused"))
                      for g in saved_groups for p in g["params"]}

        def cast(param: Tensor, value: Any, key: Any = None, pid: Any = None) -> Any:
            """A deep copy; floating arrays take the parameter's dtype, except `step` (which
            becomes float32 in a capturable group, as in PyTorch)."""
            if isinstance(value, (Tensor, np.ndarray)):
                arr = np.array(value.array if isinstance(value, Tensor) else value, copy=True)
                if key == "step":
                    if capturable.get(pid):
                        arr = arr.astype(np.float32, copy=False)
                elif param.dtype.kind == "f" and arr.dtype.kind == "f":
                    arr = arr.astype(param.dtype, copy=False)
                return Tensor(arr)
            if isinstance(value, dict):
                return {k: cast(param, v, k, pid) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(cast(param, v, None, pid) for v in value)
            return value

        state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if isinstance(k, str) and k.isdigit():   # JSON object keys are strings
                k = int(k)
            if k in id_map:
                state[id_map[k]] = cast(id_map[k], v, None, k)
            else:
                state[k] = v
        new_groups = []
        for g, ng in zip(groups, saved_groups):
            ng["params"] = g["params"]
            if "param_names" in g and "param_names" not in ng:
                ng["param_names"] = g["param_names"]
            new_groups.append(ng)
        self.state = state
        self.param_groups = new_groups
