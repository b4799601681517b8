"""numcnn.device, numcnn.cuda / accelerator / backends, Tensor.to / cuda / cpu / device and
numcnn.Size, against torch 2.13 (CPU build) as the oracle."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import numpy as np
import pytest
import torch
from tests.helpers import assert_close

import numcnn

# ------------------------------------------------------------------------------- device


@pytest.mark.parametrize("args, kwargs", [
    (("cpu",), {}), (("cpu:0",), {}), (("cpu", 0), {}), (("cpu:3",), {}), ((), {"type": "cpu"}),
    ((), {"type": "cpu", "index": 1}), (("cuda",), {}), (("cuda:1",), {}), (("cuda", 2), {}),
    (("mps",), {}), (("meta",), {}), (("xla:0",), {}),
])
def test_device_construction_as_torch(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    n, t = numcnn.device(*args, **kwargs), torch.device(*args, **kwargs)
    assert (n.type, n.index) == (t.type, t.index)
    assert str(n) == str(t) and repr(n) == repr(t)
    assert numcnn.device(n) == n and numcnn.device(str(n)) == n


@pytest.mark.parametrize("arg", ["foo", "CPU", "cpu:-1", "cuda:x", "cpu:", "cpu:01", "cpu:0:1"])
def test_device_bad_strings_raise_runtime_error_as_torch(arg: str) -> None:
    with pytest.raises(RuntimeError):
        torch.device(arg)
    with pytest.raises(RuntimeError):
        numcnn.device(arg)


def test_device_bad_arguments() -> None:
    for lib in (torch, numcnn):
        with pytest.raises(RuntimeError, match="index"):
            lib.device("cpu", -1)
        with pytest.raises(RuntimeError, match="must not include an index"):
            lib.device("cpu:0", 1)
        with pytest.raises(TypeError):
            lib.device(3.0)
        with pytest.raises(RuntimeError, match="accelerator"):
            lib.device(0)                       # a bare index: the (absent) accelerator


def test_device_equality_and_hash_as_torch() -> None:
    pairs = [("cpu", "cpu"), ("cpu", "cpu:0"), ("cuda", "cuda:0"), ("cuda:1", "cuda:1"),
             ("cpu", "cuda")]
    for a, b in pairs:
        assert (numcnn.device(a) == numcnn.device(b)) == (torch.device(a) == torch.device(b))
        assert (numcnn.device(a) != numcnn.device(b)) == (torch.device(a) != torch.device(b))
    # as torch: a device never equals a string (compare .type or str())
    for s in ("cpu", "cuda"):
        assert (numcnn.device(s) == s) is (torch.device(s) == s) is False
        assert (numcnn.device(s) != s) is (torch.device(s) != s) is True
    assert {numcnn.device("cpu"): 1}[numcnn.device("cpu")] == 1
    assert len({numcnn.device("cpu"), numcnn.device("cpu"), numcnn.device("cpu:0")}) == 2


def test_other_libraries_devices_are_read_by_type_and_index() -> None:
    assert numcnn.device(torch.device("cuda:1")) == numcnn.device("cuda:1")
    n, _ = _pair()
    assert n.to(torch.device("cpu")) is n
    assert n.to(torch.device("cpu"), numcnn.float64).dtype is numcnn.float64
    with pytest.raises(RuntimeError, match="CPU only"):
        n.to(torch.device("cuda"))
    with pytest.raises(TypeError):
        numcnn.device(torch.device("cpu"), 0)


def test_modules_use_the_same_device_check() -> None:
    m = numcnn.nn.Linear(2, 2)
    assert m.to(numcnn.device("cpu")) is m and m.cuda("cpu") is m
    for call in (lambda: m.cuda(), lambda: m.cuda(1), lambda: m.to("cuda:0"),
                 lambda: m.to(numcnn.device("mps")), lambda: m.cuda(numcnn.device("cuda"))):
        with pytest.raises(RuntimeError, match="numcnn runs on the CPU only: device 'cuda"
                           "|numcnn runs on the CPU only: device 'mps'"):
            call()


def test_device_pickles_and_copies() -> None:
    d = numcnn.device("cuda:1")
    assert pickle.loads(pickle.dumps(d)) == d and copy.deepcopy(d) == d


def test_device_context_manager() -> None:
    with numcnn.device("cpu"):
        assert numcnn.zeros(2).device == numcnn.device("cpu")
    with pytest.raises(RuntimeError, match="CPU only"):
        with numcnn.device("cuda"):
            pass


def test_the_usual_device_line_runs() -> None:
    device = numcnn.device("cuda" if numcnn.cuda.is_available() else "cpu")
    x = numcnn.randn(2, 3, device=device).to(device)
    model = numcnn.nn.Linear(3, 1).to(device)
    assert model(x).shape == (2, 1) and x.device.type == "cpu"


# ------------------------------------------------------------------------------- cuda & co


def test_cuda_module_as_torch_cpu_build() -> None:
    assert numcnn.cuda.is_available() is torch.cuda.is_available() is False
    assert numcnn.cuda.device_count() == torch.cuda.device_count() == 0
    assert numcnn.cuda.is_initialized() is False
    assert numcnn.cuda.is_bf16_supported() is torch.cuda.is_bf16_supported() is False
    for f in ("manual_seed", "manual_seed_all"):
        assert getattr(numcnn.cuda, f)(3) is None and getattr(torch.cuda, f)(3) is None
    assert numcnn.cuda.empty_cache() is None and torch.cuda.empty_cache() is None
    for f in ("memory_allocated", "max_memory_allocated", "memory_reserved"):
        assert getattr(numcnn.cuda, f)() == getattr(torch.cuda, f)() == 0


def test_cuda_seeding_does_not_touch_numcnn_generator() -> None:
    numcnn.manual_seed(0)
    a = numcnn.randn(3)
    numcnn.manual_seed(0)
    numcnn.cuda.manual_seed_all(123)
    numcnn.cuda.manual_seed(7)
    np.testing.assert_array_equal(numcnn.randn(3).numpy(), a.numpy())


@pytest.mark.parametrize("name", ["synchronize", "current_device", "get_device_name",
                                  "get_device_capability"])
def test_cuda_functions_needing_a_gpu_raise(name: str) -> None:
    with pytest.raises(AssertionError):           # torch's CPU build
        getattr(torch.cuda, name)()
    with pytest.raises(RuntimeError, match="CPU only"):
        getattr(numcnn.cuda, name)()
    with pytest.raises(RuntimeError, match="CPU only"):
        numcnn.cuda.set_device(0)


def test_accelerator_as_torch_cpu_build() -> None:
    assert numcnn.accelerator.is_available() is torch.accelerator.is_available() is False
    assert numcnn.accelerator.current_accelerator() is torch.accelerator.current_accelerator()
    assert numcnn.accelerator.current_accelerator(check_available=True) is None
    assert numcnn.accelerator.device_count() == torch.accelerator.device_count() == 0
    for name in ("current_device_index", "synchronize", "empty_cache", "memory_allocated"):
        with pytest.raises(RuntimeError, match="Cannot access accelerator") as n_err:
            getattr(numcnn.accelerator, name)()
        with pytest.raises(RuntimeError) as t_err:
            getattr(torch.accelerator, name)()
        assert str(n_err.value) == str(t_err.value)


def test_backends_flags_are_settable_with_torch_defaults() -> None:
    cudnn = numcnn.backends.cudnn
    for flag in ("enabled", "benchmark", "deterministic", "allow_tf32", "benchmark_limit"):
        assert getattr(cudnn, flag) == getattr(torch.backends.cudnn, flag), flag
    assert cudnn.is_available() is torch.backends.cudnn.is_available() is False
    assert cudnn.version() is torch.backends.cudnn.version() is None
    old = cudnn.benchmark, cudnn.deterministic
    try:
        cudnn.benchmark, cudnn.deterministic = True, True
        assert numcnn.backends.cudnn.benchmark is True
        assert numcnn.backends.cudnn.deterministic is True
    finally:
        cudnn.benchmark, cudnn.deterministic = old
    assert numcnn.backends.mps.is_available() is torch.backends.mps.is_available() is False
    assert numcnn.backends.mps.is_built() is False


# ------------------------------------------------------------------------------- factories


FACTORIES = [
    lambda lib, **kw: lib.zeros(2, 3, **kw), lambda lib, **kw: lib.ones((2,), **kw),
    lambda lib, **kw: lib.empty(2, **kw), lambda lib, **kw: lib.full((2,), 1.5, **kw),
    lambda lib, **kw: lib.eye(2, **kw), lambda lib, **kw: lib.arange(3, **kw),
    lambda lib, **kw: lib.linspace(0, 1, 3, **kw), lambda lib, **kw: lib.randn(2, **kw),
    lambda lib, **kw: lib.rand(2, **kw), lambda lib, **kw: lib.randint(0, 3, (2,), **kw),
    lambda lib, **kw: lib.randperm(3, **kw), lambda lib, **kw: lib.tensor([1.0], **kw),
    lambda lib, **kw: lib.as_tensor([1.0], **kw),
    lambda lib, **kw: lib.zeros_like(lib.ones(2), **kw),
    lambda lib, **kw: lib.ones_like(lib.ones(2), **kw),
    lambda lib, **kw: lib.empty_like(lib.ones(2), **kw),
    lambda lib, **kw: lib.full_like(lib.ones(2), 3.0, **kw),
    lambda lib, **kw: lib.rand_like(lib.ones(2), **kw),
    lambda lib, **kw: lib.randn_like(lib.ones(2), **kw),
]


FACTORIES += [
    lambda lib, **kw: lib.ones(2).new_zeros(3, **kw),
    lambda lib, **kw: lib.ones(2).new_ones(3, **kw),
    lambda lib, **kw: lib.ones(2).new_empty(3, **kw),
    lambda lib, **kw: lib.ones(2).new_full((3,), 2.0, **kw),
    lambda lib, **kw: lib.ones(2).new_tensor([1.0, 2.0], **kw),
]


@pytest.mark.parametrize("make", FACTORIES)
def test_factories_accept_cpu_devices(make: Any) -> None:
    for dev in ("cpu", "cpu:0", None):
        t = make(torch, device=dev)
        for d in (dev, None if dev is None else numcnn.device(dev)):
            n = make(numcnn, device=d)
            assert n.shape == tuple(t.shape) and str(n.dtype) == str(t.dtype).replace(
                "torch", "numcnn")
            assert n.device == numcnn.device("cpu")


@pytest.mark.parametrize("make", FACTORIES)
@pytest.mark.parametrize("dev", ["cuda", "cuda:0", "mps", numcnn.device("cuda")])
def test_factories_refuse_other_devices(make: Any, dev: Any) -> None:
    with pytest.raises(RuntimeError, match="numcnn runs on the CPU only"):
        make(numcnn, device=dev)


# ------------------------------------------------------------------------------- Tensor.to


def _pair(dtype: Any = np.float32) -> tuple[numcnn.Tensor, torch.Tensor]:
    a = np.random.default_rng(0).standard_normal((2, 3)).astype(dtype)
    return numcnn.tensor(a), torch.tensor(a)


TO_FORMS = [
    ((lambda L: ("cpu",)), {}), ((lambda L: (L.device("cpu"),)), {}),
    ((lambda L: ("cpu", L.float64)), {}), ((lambda L: (L.device("cpu"), L.float64)), {}),
    ((lambda L: (L.float64,)), {}), ((lambda L: (L.float32,)), {}),
    ((lambda L: (L.int64,)), {}), ((lambda L: (L.float16, True)), {}),
    ((lambda L: (L.float64, False, True)), {}), ((lambda L: ("cpu", L.float64, True, True)), {}),
    ((lambda L: ()), {"dtype": "float64"}), ((lambda L: ()), {"device": "cpu"}),
    ((lambda L: ()), {"device": "cpu", "dtype": "float64", "non_blocking": True}),
    ((lambda L: ("cpu",)), {"dtype": "float64"}), ((lambda L: (L.float32,)), {"copy": True}),
    ((lambda L: ()), {"copy": True}), ((lambda L: (L.zeros(1, dtype=L.int32),)), {}),
    ((lambda L: (L.zeros(1, dtype=L.float32),)), {}),
    ((lambda L: (L.zeros(1, dtype=L.float64), True, True)), {}),
    ((lambda L: (float,)), {}), ((lambda L: (int,)), {}), ((lambda L: (bool,)), {}),
]


@pytest.mark.parametrize("form", range(len(TO_FORMS)))
def test_to_every_form_as_torch(form: int) -> None:
    args, kwargs = TO_FORMS[form]
    n, t = _pair()
    lib_kw = {k: (getattr(numcnn, v) if k == "dtype" else v) for k, v in kwargs.items()}
    tor_kw = {k: (getattr(torch, v) if k == "dtype" else v) for k, v in kwargs.items()}
    n_out, t_out = n.to(*args(numcnn), **lib_kw), t.to(*args(torch), **tor_kw)
    assert str(n_out.dtype) == str(t_out.dtype).replace("torch", "numcnn")
    assert (n_out is n) == (t_out is t)
    np.testing.assert_array_equal(n_out.numpy(), t_out.numpy())   # a cast rounds the same
    if n_out is not n:                         # a new tensor: writing to it leaves self alone
        n_out.array[...] = 0
        assert_close(n, t)


def test_to_is_differentiable_as_torch() -> None:
    n, t = _pair(np.float64)
    n.requires_grad_(), t.requires_grad_()
    for copy_ in (False, True):
        n.grad = t.grad = None
        (n.to(numcnn.float32, copy=copy_) * 3).sum().backward()
        (t.to(torch.float32, copy=copy_) * 3).sum().backward()
        assert_close(n.grad, t.grad)
    n.grad = t.grad = None
    (n.to("cpu", copy=True) ** 2).sum().backward()
    (t.to("cpu", copy=True) ** 2).sum().backward()
    assert_close(n.grad, t.grad)


@pytest.mark.parametrize("bad", [
    lambda L, x: x.to(L.float32, L.float32), lambda L, x: x.to("cpu", "cpu"),
    lambda L, x: x.to(foo=1), lambda L, x: x.to(L.float64, dtype=L.float64),
    lambda L, x: x.to(dtype="float32"), lambda L, x: x.to("cpu", L.float64, 1),
    lambda L, x: x.to(x, dtype=L.float64), lambda L, x: x.to(x, "cpu"),
    lambda L, x: x.to("cpu", L.float64, True, True, True),
])
def test_to_bad_combinations_raise_type_error(bad: Any) -> None:
    n, t = _pair()
    with pytest.raises(TypeError):
        bad(torch, t)
    with pytest.raises(TypeError, match="to\\(\\) received an invalid combination"):
        bad(numcnn, n)


@pytest.mark.parametrize("dev", ["cuda", "cuda:1", "mps", "meta"])
def test_to_another_device_raises_clear_runtime_error(dev: str) -> None:
    n, _ = _pair()
    for d in (dev, numcnn.device(dev)):
        with pytest.raises(RuntimeError, match=f"numcnn runs on the CPU only: device '{dev}'"):
            n.to(d)
        with pytest.raises(RuntimeError, match="CPU only"):
            n.to(d, numcnn.float64)
        with pytest.raises(RuntimeError, match="CPU only"):
            n.to(device=d)
    with pytest.raises(RuntimeError, match="CPU only"):
        n.to(0)                                   # an index: the (absent) accelerator
    with pytest.raises(RuntimeError):
        torch.zeros(1).to(0)


def test_strings_are_devices_in_to_as_torch() -> None:
    n, t = _pair()
    with pytest.raises(RuntimeError, match="Invalid device string|Expected one of"):
        t.to("float64")
    with pytest.raises(RuntimeError, match="Expected one of"):
        n.to("float64")


def test_cuda_raises_and_cpu_is_self() -> None:
    n, t = _pair()
    assert n.cpu() is n and t.cpu() is t
    for args in ((), (0,), (1,), ("cuda:1",), (numcnn.device("cuda"),)):
        with pytest.raises(RuntimeError, match="numcnn runs on the CPU only"):
            n.cuda(*args)
    with pytest.raises(RuntimeError, match="device 'cuda'"):
        n.cuda(non_blocking=True)


def test_device_property() -> None:
    n, t = _pair()
    assert isinstance(n.device, numcnn.device) and n.device == numcnn.device("cpu")
    assert repr(n.device) == repr(t.device) and str(n.device) == str(t.device) == "cpu"
    assert n.device.type == "cpu" and n.device.index is None
    assert (n.device == "cpu") is (t.device == "cpu") is False


# ------------------------------------------------------------------------------- Size


def test_shape_and_size_are_a_size_as_torch() -> None:
    n, t = numcnn.zeros(2, 3, 4), torch.zeros(2, 3, 4)
    for a, b in ((n.shape, t.shape), (n.size(), t.size())):
        assert isinstance(a, numcnn.Size) and isinstance(a, tuple)
        assert repr(a) == repr(b).replace("torch", "numcnn") == "numcnn.Size([2, 3, 4])"
        assert str(a) == str(b).replace("torch", "numcnn")
        assert a == (2, 3, 4) and a == b and a != [2, 3, 4]
        assert hash(a) == hash((2, 3, 4))
        assert a.numel() == b.numel() == 24
    assert n.size(-1) == t.size(-1) == 4 and type(n.size(1)) is int
    assert n.size(dim=0) == 2
    with pytest.raises(IndexError):
        n.size(3)


def test_size_operations_as_torch() -> None:
    n, t = numcnn.Size([2, 3]), torch.Size([2, 3])
    for f in (lambda s: s[1:], lambda s: s[::-1], lambda s: s + (4,), lambda s: (1,) + s,
              lambda s: s + s, lambda s: s * 2, lambda s: 2 * s, lambda s: s[:0]):
        a, b = f(n), f(t)
        assert isinstance(a, numcnn.Size) == isinstance(b, torch.Size), f
        assert tuple(a) == tuple(b)
    assert n[0] == 2 and type(n[0]) is int and n[-1] == 3
    assert numcnn.Size([]).numel() == torch.Size([]).numel() == 1
    assert numcnn.Size([0, 5]).numel() == 0
    assert repr(numcnn.Size([])) == "numcnn.Size([])"
    assert numcnn.Size([np.int64(2), numcnn.tensor(3)]) == (2, 3)
    assert numcnn.Size() == () and numcnn.Size(range(3)) == (0, 1, 2)
    assert pickle.loads(pickle.dumps(n)) == n and isinstance(copy.deepcopy(n), numcnn.Size)
    assert np.zeros(n).shape == (2, 3)


@pytest.mark.parametrize("bad", [[2.5], ["a"], [True], [numcnn.tensor(2.0)]])
def test_size_refuses_non_integers(bad: list[Any]) -> None:
    if not isinstance(bad[0], numcnn.Tensor) and not isinstance(bad[0], bool):
        with pytest.raises(TypeError):
            torch.Size(bad)
    with pytest.raises(TypeError, match="takes an iterable of 'int'"):
        numcnn.Size(bad)
