"""`Module`: the base class of every layer and network.

A module owns parameters (`Parameter`), buffers (tensors that are state but not trained, such
as batch norm's running mean) and submodules, all registered by plain attribute assignment.
"""

from __future__ import annotations

import copy
import itertools
import warnings
from collections import OrderedDict
from typing import Any, Callable, Iterator, Mapping, NamedTuple

import numpy as np

from numcnn import dtypes
from numcnn.autograd.function import Context, Function
from numcnn.autograd.grad_mode import is_grad_enabled
from numcnn.devices import check_device
from numcnn.nn.parameter import Parameter, is_lazy
from numcnn.tensor import CustomView, Tensor, _RemovableHandle

_hook_ids = itertools.count()      # one sequence for every module, so copies never collide


class _IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"_IncompatibleKeys(missing_keys={self.missing_keys}, "
                f"unexpected_keys={self.unexpected_keys})")



#: how many attribute assignments modules have seen, all modules together: a module's layer
#: settings (stride, padding, eps, a replaced Parameter ...) can only change through one
_ATTRIBUTE_WRITES = [0]

class Module:
    """Base class for all neural network modules (as `torch.nn.Module`)."""

    training: bool
    _version = 1

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks_with_kwargs", set())
        object.__setattr__(self, "_forward_hooks_always_called", set())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks_with_kwargs", set())
        object.__setattr__(self, "_backward_hooks", OrderedDict())
        object.__setattr__(self, "_backward_pre_hooks", OrderedDict())
        # None: no backward hook yet; True: full hooks; False: the deprecated non-full ones
        object.__setattr__(self, "_is_full_backward_hook", None)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    # ----------------------------------------------------------------- registration
    def __setattr__(self, name: str, value: Any) -> None:
        _ATTRIBUTE_WRITES[0] += 1             # nn.fastpath's cached plans check this count
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                "cannot assign attributes before Module.__init__() call"
            )
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            for store in (self.__dict__, buffers, modules):
                store.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            for store in (self.__dict__, params, buffers):
                store.pop(name, None)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                    "(numcnn.nn.Parameter or None expected)"
                )
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as child module '{name}' "
                    "(numcnn.nn.Module or None expected)"
                )
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                    "(numcnn.Tensor or None expected)"
                )
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        _check_name(self, name, "parameter", self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                "(numcnn.nn.Parameter or None required)"
            )
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        _check_name(self, name, "buffer", self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                "(numcnn.Tensor or None required)"
            )
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def register_module(self, name: str, module: Module | None) -> None:
        self.add_module(name, module)

    def add_module(self, name: str, module: Module | None) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        _check_name(self, name, "module", self._modules)
        self.__dict__.pop(name, None)
        self._modules[name] = module

    def get_submodule(self, target: str) -> Module:
        mod: Module = self
        for part in target.split(".") if target else []:
            if part not in mod._modules:
                raise AttributeError(f"{type(mod).__name__} has no attribute `{part}`")
            mod = mod._modules[part]
        return mod

    def set_submodule(self, target: str, module: Module, strict: bool = False) -> None:
        """Replace (or, unless `strict`, add) the submodule at dotted path `target`."""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        if not isinstance(module, Module):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        parent_path, _, name = target.rpartition(".")
        parent = self.get_submodule(parent_path)
        if strict and not hasattr(parent, name):
            raise AttributeError(f"{parent._get_name()} has no attribute `{name}`")
        if hasattr(parent, name) and not isinstance(getattr(parent, name), Module):
            raise AttributeError(f"`{name}` is not an nn.Module")
        setattr(parent, name, module)

    def get_buffer(self, target: str) -> Tensor:
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._buffers:
            raise AttributeError(f"{type(mod).__name__} has no buffer `{name}`")
        return mod._buffers[name]

    def get_parameter(self, target: str) -> Parameter:
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._parameters:
            raise AttributeError(f"{type(mod).__name__} has no parameter `{name}`")
        return mod._parameters[name]

    # ----------------------------------------------------------------- traversal
    def named_modules(self, memo: set[int] | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        memo = set() if memo is None else memo
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, mod = stack.pop()
            if remove_duplicate:
                if id(mod) in memo:
                    continue
                memo.add(id(mod))
            yield name, mod
            children = [(name + ("." if name else "") + n, m)
                        for n, m in mod._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self, remove_duplicate: bool = True) -> Iterator[Module]:
        for _, m in self.named_modules(remove_duplicate=remove_duplicate):
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, store: str, prefix: str, recurse: bool,
                       remove_duplicate: bool = True) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for mod_prefix, mod in mods:
            for name, value in getattr(mod, store).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield mod_prefix + ("." if mod_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ----------------------------------------------------------------- modes and updates
    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every parameter: to None (default) or, in place, to zeros."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.grad_fn = None
                p.grad.requires_grad = False
                p.grad.array[...] = 0

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call `fn` on every submodule (children first) and then on self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _cast(self, dtype: np.dtype, floating_only: bool = True) -> None:
        for m in self.modules():
            for store in (m._parameters, m._buffers):
                for t in store.values():
                    if t is None or (floating_only and t.dtype.kind != "f") or t.dtype == dtype:
                        continue
                    if is_lazy(t):
                        t._set_dtype(dtype)          # type: ignore[attr-defined]
                        continue
                    t.array = t.array.astype(dtype)
                    if t.grad is not None:
                        t.grad.array = t.grad.array.astype(dtype)

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Cast floating parameters and buffers in place, as `torch.nn.Module.to`.

        Accepts `to(device)`, `to(dtype)`, `to(device, dtype)`, `to(tensor)` and the keywords
        `device`, `dtype`, `non_blocking`, `memory_format`.  The device must be the CPU ("cpu",
        "cpu:0", or an object whose `.type` is "cpu"); anything else raises RuntimeError.

        Raises:
            TypeError: for a dtype that is not floating point, or an unknown argument.
        """
        unknown = set(kwargs) - {"device", "dtype", "non_blocking", "memory_format", "copy"}
        if unknown:
            raise TypeError(f"to() got an unexpected keyword argument '{sorted(unknown)[0]}'")
        dtype = kwargs.get("dtype")
        if kwargs.get("device") is not None:
            check_device(kwargs["device"])
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, bool):
                continue                            # non_blocking given positionally
            elif _is_device(a):
                check_device(a)
            else:
                dtype = a
        if dtype is not None:
            d = dtypes.as_dtype(dtype)
            if d.kind not in "fc":
                raise TypeError("nn.Module.to only accepts floating point or complex dtypes, "
                                f"but got desired dtype={d}")
            self._cast(d)
        return self

    def type(self, dst_type: Any) -> Module:
        """Cast every parameter and buffer (integer ones too) to `dst_type`."""
        self._cast(dtypes.as_dtype(dst_type), floating_only=False)
        return self

    def float(self) -> Module:
        return self.to(dtypes.float32)

    def double(self) -> Module:
        return self.to(dtypes.float64)

    def half(self) -> Module:
        return self.to(dtypes.float16)

    def cpu(self) -> Module:
        return self

    def cuda(self, device: Any = None) -> Module:
        """numcnn has no CUDA backend: always raises RuntimeError (use `.cpu()` or `.to("cpu")`)."""
        check_device(f"cuda:{device}" if isinstance(device, int) else device or "cuda")
        return self                          # reached only for device="cpu": nothing to do

    def share_memory(self) -> Module:
        """A no-op: numcnn tensors live in ordinary process memory."""
        return self

    # ----------------------------------------------------------------- state dict
    def state_dict(self, *args: Any, destination: OrderedDict[str, Tensor] | None = None,
                   prefix: str = "", keep_vars: bool = False) -> OrderedDict[str, Tensor]:
        """Every parameter and persistent buffer by dotted name (values share memory).

        As in PyTorch, the arguments are keyword-only; the deprecated positional form
        (destination, prefix, keep_vars) still works, with PyTorch's FutureWarning.  The result
        carries `_metadata` ({module prefix: {"version": v}}), which `load_state_dict` reads
        (batch norm: a checkpoint older than version 2 has no `num_batches_tracked`).
        An uninitialised parameter of a lazy module appears as itself.
        """
        if args:
            warnings.warn("Positional args are being deprecated, use kwargs instead.",
                          FutureWarning, stacklevel=2)
            if destination is None:
                destination = args[0]
            if len(args) > 1 and prefix == "":
                prefix = args[1]
            if len(args) > 2 and keep_vars is False:
                keep_vars = args[2]
        out: OrderedDict[str, Tensor] = OrderedDict() if destination is None else destination
        if destination is None:
            out._metadata = OrderedDict()  # type: ignore[attr-defined]
        for name, mod in self.named_modules(prefix=prefix.rstrip("."), remove_duplicate=False):
            pre = name + "." if name else ""
            if hasattr(out, "_metadata"):
                out._metadata[name] = {"version": mod._version}
            for k, p in mod._parameters.items():
                if p is not None:
                    out[pre + k] = p if keep_vars or is_lazy(p) else p.detach()
            for k, b in mod._buffers.items():
                if b is not None and k not in mod._non_persistent_buffers:
                    out[pre + k] = b if keep_vars or is_lazy(b) else b.detach()
        return out

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str,
                              local_metadata: dict[str, Any], strict: bool,
                              missing_keys: list[str], unexpected_keys: list[str],
                              error_msgs: list[str], assign: bool = False) -> None:
        """Copy this module's own entries of `state_dict` (keys `prefix + name`) in place.

        Subclasses override it to adapt old checkpoints (see `local_metadata["version"]`); a
        lazy module materialises its parameters here first.
        """
        local = [(k, p) for k, p in self._parameters.items() if p is not None]
        local += [(k, b) for k, b in self._buffers.items()
                  if b is not None and k not in self._non_persistent_buffers]
        for name, target in local:
            key = prefix + name
            if key not in state_dict:
                missing_keys.append(key)
                continue
            value = state_dict[key]
            if is_lazy(value):
                error_msgs.append(f'While copying the parameter named "{key}", the checkpoint '
                                  "holds an uninitialized parameter; run a forward first.")
                continue
            try:
                src = value.array if isinstance(value, Tensor) else np.asarray(value)
            except (TypeError, ValueError):
                error_msgs.append(f'While copying the parameter named "{key}", expected Tensor '
                                  f"or array-like object from checkpoint but received "
                                  f"{type(value)}")
                continue
            if src.shape != target.shape:
                error_msgs.append(
                    f"size mismatch for {key}: copying a param with shape {tuple(src.shape)} "
                    f"from checkpoint, the shape in current model is {tuple(target.shape)}."
                )
                continue
            if assign:
                target.array = np.array(src, copy=True)
            elif target.array.flags.writeable:
                target.array[...] = src              # in place, as PyTorch's copy_
            else:
                target.array = np.array(src, dtype=target.dtype, copy=True)
        if strict:
            for key in state_dict:
                if key.startswith(prefix):
                    head = key[len(prefix):].split(".", 1)[0]
                    if head not in self._modules and not any(head == n for n, _ in local):
                        unexpected_keys.append(key)

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True,
                        assign: bool = False) -> _IncompatibleKeys:
        """Copy values into the parameters and buffers; with `strict` every key must match.

        Values may be Tensors or arrays.  Each module loads its own entries
        (`_load_from_state_dict`), so a module can adapt an older checkpoint.

        Raises:
            TypeError: if `state_dict` is not a mapping.
            RuntimeError: listing missing keys, unexpected keys (with `strict`) and shape
                mismatches (always).
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        metadata = getattr(state_dict, "_metadata", None)
        missing: list[str] = []
        unexpected: list[str] = []
        errors: list[str] = []
        own = OrderedDict(state_dict)                # hooks may add keys; the caller's stays
        stack: list[tuple[Module, dict[str, Any], str]] = [(self, own, "")]
        while stack:
            mod, local_sd, pre = stack.pop()
            local_meta = {} if metadata is None else dict(metadata.get(pre[:-1], {}))
            mod._load_from_state_dict(local_sd, pre, local_meta, True, missing, unexpected,
                                      errors, assign)
            children = []
            for name, child in mod._modules.items():
                if child is not None:
                    cp = pre + name + "."
                    children.append((child, {k: v for k, v in local_sd.items()
                                             if k.startswith(cp)}, cp))
            stack.extend(reversed(children))
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(errors)
            )
        return _IncompatibleKeys(missing, unexpected)

    def __copy__(self) -> Module:
        """A shallow copy (as `copy.copy` of a torch module): the same parameter, buffer and
        submodule dicts."""
        cls = type(self)
        new = cls.__new__(cls)
        new.__dict__.update(self.__dict__)
        return new

    def __deepcopy__(self, memo: dict[int, Any]) -> Module:
        """An independent copy: new parameters (values copied, gradients not, as PyTorch),
        new buffers, submodules and hook dicts; the hook functions themselves are shared."""
        if id(self) in memo:
            return memo[id(self)]
        cls = type(self)
        new = cls.__new__(cls)
        memo[id(self)] = new
        for k, v in self.__dict__.items():
            object.__setattr__(new, k, copy.deepcopy(v, memo))
        return new

    # ----------------------------------------------------------------- hooks and call
    def _add_hook(self, store: OrderedDict, hook: Callable[..., Any],
                  prepend: bool = False) -> tuple[int, _RemovableHandle]:
        key = next(_hook_ids)
        store[key] = hook
        if prepend:
            store.move_to_end(key, last=False)
        return key, _RemovableHandle(store, key)

    def register_forward_pre_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                                  with_kwargs: bool = False) -> _RemovableHandle:
        """`hook(module, args)` before forward; a non-None return replaces the args.

        With `with_kwargs`, `hook(module, args, kwargs)` may return `(args, kwargs)`.  With
        `prepend`, the hook runs before those already registered.
        """
        key, handle = self._add_hook(self._forward_pre_hooks, hook, prepend)
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs.add(key)
        return handle

    def register_forward_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                              with_kwargs: bool = False,
                              always_call: bool = False) -> _RemovableHandle:
        """`hook(module, args, output)` after forward; a non-None return replaces the output.

        With `with_kwargs`, `hook(module, args, kwargs, output)`.  With `prepend`, the hook runs
        before those already registered; with `always_call`, it runs (with output None) even
        when forward raises, before the error propagates.
        """
        key, handle = self._add_hook(self._forward_hooks, hook, prepend)
        if with_kwargs:
            self._forward_hooks_with_kwargs.add(key)
        if always_call:
            self._forward_hooks_always_called.add(key)
        return handle

    def _set_backward_kind(self, full: bool) -> None:
        if self._is_full_backward_hook is (not full):
            raise RuntimeError("Cannot use both regular backward hooks and full backward hooks "
                               "on a single Module. Please use only one of them.")
        object.__setattr__(self, "_is_full_backward_hook", full)

    def register_full_backward_hook(self, hook: Callable[..., Any],
                                    prepend: bool = False) -> _RemovableHandle:
        """`hook(module, grad_input, grad_output)` once the gradients w.r.t. the module's tensor
        inputs are computed; a non-None return (a tuple) replaces grad_input.

        As in PyTorch, grad_input has one entry per positional input: the gradient, zeros for a
        tensor that needs none, None for a non-tensor.  When no input requires grad, the hook
        fires (with a UserWarning) once grad_output is known, with grad_input all None.
        """
        self._set_backward_kind(True)
        return self._add_hook(self._backward_hooks, hook, prepend)[1]

    def register_full_backward_pre_hook(self, hook: Callable[..., Any],
                                        prepend: bool = False) -> _RemovableHandle:
        """`hook(module, grad_output)` when the gradient w.r.t. the module's output is known,
        before grad_input is computed; a non-None return (a tuple) replaces grad_output."""
        return self._add_hook(self._backward_pre_hooks, hook, prepend)[1]

    def register_backward_hook(self, hook: Callable[..., Any]) -> _RemovableHandle:
        """Deprecated (as in PyTorch): use `register_full_backward_hook`.

        `hook(module, grad_input, grad_output)`.  In PyTorch grad_input is the gradient w.r.t.
        the inputs of the last autograd node of the forward, which for a one-op module on
        non-leaf inputs is its inputs' gradient; numcnn always gives the module's inputs'
        gradients (None for a tensor that needs none).  Calling the module warns (FutureWarning)
        where PyTorch does: when the forward is not one node fed by the inputs.
        """
        self._set_backward_kind(False)
        return self._add_hook(self._backward_hooks, hook)[1]

    def _call_forward_hook(self, key: int, hook: Callable[..., Any], args: tuple[Any, ...],
                           kwargs: dict[str, Any], out: Any) -> Any:
        if key in self._forward_hooks_with_kwargs:
            return hook(self, args, kwargs, out)
        return hook(self, args, out)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        for key, hook in list(self._forward_pre_hooks.items()):
            if key in self._forward_pre_hooks_with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError("forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {result}.")
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        bw = None
        if is_grad_enabled() and (self._backward_hooks or self._backward_pre_hooks):
            bw = _BackwardHookState(self, args)
            args = bw.wrap_inputs(args)
        try:
            out = self.forward(*args, **kwargs)
        except Exception:
            for key, hook in list(self._forward_hooks.items()):
                if key in self._forward_hooks_always_called:
                    try:
                        self._call_forward_hook(key, hook, args, kwargs, None)
                    except Exception as e:  # noqa: BLE001 - forward's error wins, as in torch
                        warnings.warn("module forward hook with ``always_call=True`` raised an "
                                      "exception that was silenced as another error was raised "
                                      f"in forward: {e}", stacklevel=2)
            raise
        for key, hook in list(self._forward_hooks.items()):
            result = self._call_forward_hook(key, hook, args, kwargs, out)
            if result is not None:
                out = result
        if bw is not None:
            if self._is_full_backward_hook is False and self._backward_hooks:
                self._warn_non_full_backward_hook(bw.inputs, args, out)
            out = bw.wrap_outputs(out)
        return out

    def _warn_non_full_backward_hook(self, inputs: tuple[Any, ...], wrapped: tuple[Any, ...],
                                     out: Any) -> None:
        """PyTorch's FutureWarning for the deprecated hook, under PyTorch's conditions."""
        tail = " Please use register_full_backward_hook to get the documented behavior."
        if not isinstance(out, Tensor):
            msg = ("Using non-full backward hooks on a Module that does not return a single "
                   "Tensor or a tuple of Tensors is deprecated and will be removed in future "
                   "versions. This hook will be missing some of the grad_output.")
        elif not all(isinstance(a, Tensor) for a in inputs):
            msg = ("Using non-full backward hooks on a Module that does not take as input a "
                   "single Tensor or a tuple of Tensors is deprecated and will be removed in "
                   "future versions. This hook will be missing some of the grad_input.")
        elif out.grad_fn is None:
            return
        else:
            # the nodes feeding the output's node must be exactly the inputs' own nodes
            fed = {("leaf", id(e)) if e is None or isinstance(e, Tensor) else id(e)
                   for e in out.grad_fn.inputs}
            own = {id(w.grad_fn) for a, w in zip(inputs, wrapped) if a.grad_fn is not None}
            if fed == own:
                return
            msg = ("Using a non-full backward hook when the forward contains multiple autograd "
                   "Nodes is deprecated and will be removed in future versions. This hook will "
                   "be missing some grad_input.")
        warnings.warn(msg + tail, FutureWarning, stacklevel=3)

    # ----------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {sub}")
        main = self._get_name() + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                return main + lines[0] + ")"
            return main + "\n  " + "\n  ".join(lines) + "\n)"
        return main + ")"

    def __dir__(self) -> list[str]:
        return sorted(set(object.__dir__(self)) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    def __getstate__(self) -> Any:
        raise TypeError("numcnn modules are saved with numcnn.save (safetensors), not pickle")


def _is_device(value: Any) -> bool:
    """A device argument of `to`: a device string or index, or an object with a `.type` string
    (a dtype name such as "float64" is a dtype)."""
    if isinstance(value, str):
        try:
            dtypes.as_dtype(value)
        except (TypeError, ValueError, KeyError):
            return True
        return False
    if isinstance(value, int):
        return True
    return isinstance(getattr(value, "type", None), str)


def _check_name(module: Module, name: str, what: str, own: Mapping[str, Any]) -> None:
    """PyTorch's checks: a string without dots, and not the name of another attribute (a plain
    one, or a parameter/buffer/submodule when registering another kind): KeyError."""
    if not isinstance(name, str):
        raise TypeError(f"{what} name should be a string. Got {type(name).__name__}")
    if "." in name:
        raise KeyError(f'{what} name can\'t contain ".", got: {name}')
    if name == "":
        raise KeyError(f'{what} name can\'t be empty string ""')
    if hasattr(module, name) and name not in own:
        raise KeyError(f"attribute '{name}' already exists")


_HOOK_VIEW = "BackwardHookFunction"     # PyTorch's name for the node around hooked tensors


class _BackwardHookState:
    """Wires the backward hooks of one module call with identity nodes around its tensors.

    The identity on the output sees grad_output: the full backward pre-hooks run there (and may
    replace it).  The inputs that need a gradient are packed into one flat array by one node
    (`_HookInputs`), so that its backward receives every input's gradient at once, calls the
    backward hooks with the whole grad_input tuple, and hands on what they return.  As in
    PyTorch, for a full hook a tensor input that needs no gradient appears in grad_input as
    zeros (None for the deprecated non-full hook), a non-tensor input as None, and if no input
    needs a gradient the hooks fire at the output with grad_input all None.
    """

    def __init__(self, module: Module, args: tuple[Any, ...]) -> None:
        self.module = module
        self.inputs = args
        self.n_in = len(args)
        self.full = module._is_full_backward_hook is not False
        self.grad_output: tuple[Any, ...] | None = None
        self.slots = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        # tensor inputs that need no gradient show zeros in a full hook's grad_input
        self.constants = {i: a for i, a in enumerate(args)
                          if isinstance(a, Tensor) and not a.requires_grad} if self.full else {}

    def wrap_inputs(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        if not self.slots:
            return args
        inputs = [args[i] for i in self.slots]
        packed = _HookInputs.apply(*inputs, cb=self._input_grads)
        out, start = list(args), 0
        for i, a in zip(self.slots, inputs):
            piece = packed[start:start + a.numel()].reshape(a.shape)
            if self.full and piece._view_fn is not None:   # views made inside the hooks' node
                piece._view_fn = CustomView(piece._view_fn, _HOOK_VIEW)
            out[i] = piece if piece.dtype == a.dtype else piece.to(a.dtype)
            start += a.numel()
        return tuple(out)

    def wrap_outputs(self, out: Any) -> Any:
        if isinstance(out, Tensor) and out.requires_grad:
            identity = _HookIdentity if self.full else _LegacyHookIdentity
            return identity.apply(out, cb=self._output_grad)
        return out

    def _output_grad(self, g: np.ndarray) -> np.ndarray:
        mod = self.module
        for hook in list(mod._backward_pre_hooks.values()):
            result = hook(mod, (Tensor(g),))
            if result is not None:
                r = result[0] if isinstance(result, (tuple, list)) else result
                g = np.asarray(r.array if isinstance(r, Tensor) else r, dtype=g.dtype)
        self.grad_output = (Tensor(g),)
        if not self.slots:
            if self.full:
                warnings.warn(
                    "Full backward hook is firing when gradients are computed with respect to "
                    "module outputs since no inputs require gradients. See the documentation of "
                    "numcnn.nn.Module.register_full_backward_hook for more details.",
                    stacklevel=2,
                )
            for hook in list(mod._backward_hooks.values()):
                hook(mod, (None,) * self.n_in, self.grad_output)
        return g

    def _input_grads(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        gin: list[Any] = [None] * self.n_in
        for i, a in self.constants.items():
            gin[i] = Tensor(np.zeros(a.shape, dtype=a.dtype))
        for i, g in zip(self.slots, grads):
            gin[i] = Tensor(g)
        grad_input = tuple(gin)
        for hook in list(self.module._backward_hooks.values()):
            result = hook(self.module, grad_input, self.grad_output)
            if result is not None:
                grad_input = tuple(result) if isinstance(result, (tuple, list)) else (result,)
                if len(grad_input) != self.n_in:
                    raise RuntimeError(
                        f"backward hook returned {len(grad_input)} gradients, "
                        f"expected {self.n_in} (one per module input)"
                    )
        out = []
        for i, g in zip(self.slots, grads):
            r = grad_input[i]
            out.append(np.zeros_like(g) if r is None
                       else np.asarray(r.array if isinstance(r, Tensor) else r))
        return out


class _HookIdentity(Function):
    """y = a;  da = cb(gy) (the module's output: records grad_output).

    y is a view of a made inside this custom node: modifying it in place is refused, as in
    PyTorch (an in-place rebase would go around the hooks)."""

    may_return_view = True
    view_forbids_inplace = _HOOK_VIEW

    @staticmethod
    def forward(ctx: Context, a, *, cb):
        ctx.cb = cb
        return a

    @staticmethod
    def backward(ctx: Context, gy):
        return (ctx.cb(gy),)


class _LegacyHookIdentity(_HookIdentity):
    """`_HookIdentity` for the deprecated non-full hooks, which PyTorch puts on the output's own
    node: the output stays a tensor of its own that may be modified in place."""

    may_return_view = False


class _HookInputs(Function):
    """y = concat(a_1.reshape(-1), ..., a_k.reshape(-1));  (da_1..da_k) = cb(split gy)."""

    @staticmethod
    def forward(ctx: Context, *arrays, cb):
        ctx.cb = cb
        ctx.shapes = [a.shape for a in arrays]
        dtype = np.result_type(*arrays)
        return np.concatenate([np.asarray(a, dtype=dtype).reshape(-1) for a in arrays])

    @staticmethod
    def backward(ctx: Context, gy):
        sizes = [int(np.prod(s)) for s in ctx.shapes]
        parts = np.split(gy, np.cumsum(sizes)[:-1])
        grads = [p.reshape(s) for p, s in zip(parts, ctx.shapes)]
        return tuple(ctx.cb(grads))
