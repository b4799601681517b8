"""Module backward hooks and in-place ops, against torch 2.13: a full backward hook (or a
backward pre-hook) wraps the module's inputs and outputs in a custom node whose outputs are
views, and PyTorch refuses to modify those in place; the deprecated non-full hook does not."""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest
import torch

import numcnn

MSG = "Output 0 of BackwardHookFunction is a view and is being modified inplace"

INPLACE: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("relu_module", lambda lib, y: lib.nn.ReLU(inplace=True)(y)),
    ("mul_", lambda lib, y: y.mul_(2)),
    ("view_mul_", lambda lib, y: y[0].mul_(2)),
    ("setitem", lambda lib, y: y.__setitem__((0, 0), 1.0)),
]


def _conv(lib: Any, hook: str) -> Any:
    lib.manual_seed(0)
    conv = lib.nn.Conv2d(2, 3, 3)
    if hook == "full":
        conv.register_full_backward_hook(lambda m, gi, go: None)
    elif hook == "pre":
        conv.register_full_backward_pre_hook(lambda m, go: None)
    else:
        conv.register_backward_hook(lambda m, gi, go: None)
    return conv


@pytest.mark.parametrize("name,op", INPLACE, ids=[n for n, _ in INPLACE])
@pytest.mark.parametrize("hook", ["full", "pre"])
@pytest.mark.parametrize("input_grad", [True, False])
def test_inplace_on_hooked_output_raises_as_torch(name: str, op: Callable[[Any, Any], Any],
                                                  hook: str, input_grad: bool) -> None:
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 5)).astype(np.float32)
    for lib in (torch, numcnn):
        y = _conv(lib, hook)(lib.tensor(x, requires_grad=input_grad))
        assert y._is_view()
        with pytest.raises(RuntimeError, match="Output 0 of .* is a view and is being modified"):
            op(lib, y)
    with pytest.raises(RuntimeError, match=MSG):                 # numcnn names the node
        op(numcnn, _conv(numcnn, hook)(numcnn.tensor(x, requires_grad=input_grad)))


def test_hooked_module_modifying_its_input_in_place_raises_as_torch() -> None:
    x = np.array([-1.0, 0.5, 2.0])
    for lib in (torch, numcnn):
        relu = lib.nn.ReLU(inplace=True)
        relu.register_full_backward_hook(lambda m, gi, go: None)
        with pytest.raises(RuntimeError, match="Output 0 of BackwardHookFunction is a view"):
            relu(lib.tensor(x, requires_grad=True) * 1.0)


def test_clone_no_grad_and_non_full_hook_are_allowed_and_gradients_match() -> None:
    """What torch allows: cloning first, no grad mode, and the deprecated non-full hook; the
    gradients (and what the hooks saw) match torch's."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, 5, 5))
    params = [rng.standard_normal(s) for s in ((3, 2, 3, 3), (3,), (3, 2, 3, 3), (3,))]

    def conv2d(lib: Any, w: np.ndarray, b: np.ndarray) -> Any:
        conv = lib.nn.Conv2d(2, 3, 3).double()
        with lib.no_grad():
            conv.weight.copy_(lib.tensor(w))
            conv.bias.copy_(lib.tensor(b))
        return conv
    results: dict[str, list[Any]] = {"torch": [], "numcnn": []}
    for lib in (torch, numcnn):
        out = results[lib.__name__]
        seen: list[Any] = []
        conv = conv2d(lib, params[0], params[1])
        conv.register_full_backward_hook(lambda m, gi, go, s=seen: s.append(go[0].clone()))
        xt = lib.tensor(x, requires_grad=True)
        y = conv(xt).clone()
        lib.nn.ReLU(inplace=True)(y)
        (y * y).sum().backward()
        out += [xt.grad, conv.weight.grad, seen[0]]
        with lib.no_grad():
            z = conv(xt)
            z.relu_()
        out.append(z)
        legacy = conv2d(lib, params[2], params[3])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            legacy.register_backward_hook(lambda m, gi, go, s=seen: s.append(go[0]))
            xt.grad = None
            y = legacy(xt)
            y.relu_()
            (y * y).sum().backward()
        out += [xt.grad, seen[-1]]
    for a, b in zip(results["numcnn"], results["torch"]):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-7, atol=1e-12)
