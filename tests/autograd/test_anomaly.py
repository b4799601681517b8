"""Anomaly detection (numcnn.autograd.detect_anomaly / set_detect_anomaly) against PyTorch's:
the same op named in the same error, the forward call's file and line in the warning, the same
settings after every switch, and nothing recorded while it is off.

numcnn names a node "XBackward" where PyTorch says "XBackward0"; the oracle comparisons strip
PyTorch's digit.
"""

from __future__ import annotations

import gc
import inspect
import re
import types
import warnings
from typing import Any, Callable

import numpy as np
import pytest
import torch
from tests.helpers import assert_close

import numcnn
import numcnn.nn as nn
from numcnn.autograd import (
    Function,
    anomaly_mode,
    detect_anomaly,
    gradcheck,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    set_detect_anomaly,
)

INF, NAN = float("inf"), float("nan")


@pytest.fixture(autouse=True)
def anomaly_off() -> Any:
    """Every test starts and ends with anomaly detection off, in both libraries."""
    set_detect_anomaly(False)
    torch.autograd.set_detect_anomaly(False)
    yield
    set_detect_anomaly(False)
    torch.autograd.set_detect_anomaly(False)


def here() -> int:
    """The line number of the caller's line."""
    frame = inspect.currentframe()
    assert frame is not None and frame.f_back is not None
    return frame.f_back.f_lineno


def backward_outcome(lib: Any, fn: Callable[..., Any], values: list[list[float]],
                     check_nan: bool = True) -> tuple[str | None, list[np.ndarray] | None]:
    """Run fn(*inputs).sum().backward() under `lib`'s detect_anomaly: (error, None) when it
    raises RuntimeError, else (None, the inputs' gradients)."""
    xs = [lib.tensor(v, dtype=lib.float64, requires_grad=True) for v in values]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with lib.autograd.detect_anomaly(check_nan=check_nan):
            try:
                fn(*xs).sum().backward()
            except RuntimeError as exc:
                return re.sub(r"Backward\d+'", "Backward'", str(exc)), None
    return None, [x.grad.detach().numpy() for x in xs]


CASES: list[tuple[str, Callable[..., Any], list[list[float]]]] = [
    ("sqrt of a negative", lambda x: x.sqrt(), [[-1.0, 4.0]]),
    ("0 / 0 in div's backward, 1th output", lambda a, b: a / b, [[0.0, 1.0], [0.0, 2.0]]),
    ("0 * inf in sqrt's backward", lambda x: x.sqrt() * 0, [[0.0, 1.0]]),
    ("0 * inf in mul's backward, 0th output", lambda a, b: a * b * 0, [[1.0], [INF]]),
    ("0 * inf in mul's backward, 1th output", lambda a, b: b * a * 0, [[1.0], [INF]]),
    ("log(0) * 0 in log's backward", lambda x: (x - x).log() * 0, [[1.0, 2.0]]),
]


@pytest.mark.parametrize("name, fn, values", CASES, ids=[c[0] for c in CASES])
def test_nan_gradient_raises_naming_the_op_as_torch(name: str, fn: Callable[..., Any],
                                                    values: list[list[float]]) -> None:
    expected, _ = backward_outcome(torch, fn, values)
    actual, grads = backward_outcome(numcnn, fn, values)
    assert expected is not None and re.fullmatch(
        r"Function '\w+Backward' returned nan values in its \d+th output\.", expected)
    assert actual == expected, grads


def test_sqrt_negative_error_message_and_forward_traceback() -> None:
    x = numcnn.tensor([4.0, -1.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with detect_anomaly():
            with np.errstate(invalid="ignore"):
                y = x.sqrt()
                line = here() - 1
            loss = (y * 3).sum()
            backward_line = here() + 2
            with pytest.raises(RuntimeError) as info:
                loss.backward()
    assert str(info.value) == "Function 'SqrtBackward' returned nan values in its 0th output."
    errors = [w for w in caught if "Error detected in" in str(w.message)]
    assert len(errors) == 1
    text = str(errors[0].message)
    assert text.startswith("Error detected in SqrtBackward. Traceback of forward call that "
                           "caused the error:\n")
    # the trace ends at the line of this file that called sqrt, with its source text
    assert text.rstrip().endswith(f'File "{__file__}", line {line}, in '
                                  f"test_sqrt_negative_error_message_and_forward_traceback\n"
                                  f"    y = x.sqrt()")
    assert "numcnn/ops" not in text and "numcnn/tensor.py" not in text
    assert errors[0].category is UserWarning
    # the warning itself points at the line that called backward()
    assert errors[0].filename == __file__ and errors[0].lineno == backward_line
    # detect_anomaly announces itself with a UserWarning, as torch's does
    assert any("anomaly detection is on" in str(w.message) for w in caught)


def test_forward_trace_goes_through_a_users_module() -> None:
    class Head(nn.Module):
        def forward(self, x: numcnn.Tensor) -> numcnn.Tensor:
            h = x - 1.0
            return h.sqrt()                      # NaN gradient for x < 1

    lines = {"sqrt": here() - 2}
    model = nn.Sequential(nn.Identity(), Head())
    x = numcnn.tensor([[0.5, 2.0]], requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with detect_anomaly(), np.errstate(invalid="ignore"):
            out = model(x)
            lines["call"] = here() - 1
            with pytest.raises(RuntimeError, match="Function 'SqrtBackward' returned nan"):
                out.sum().backward()
    text = next(str(w.message) for w in caught if "Error detected in SqrtBack" in str(w.message))
    # outermost first: this test's call of the model, the Module machinery, then Head.forward
    call = text.index(f'line {lines["call"]}, in test_forward_trace_goes_through_a_users_module')
    sqrt = text.index(f'line {lines["sqrt"]}, in forward\n    return h.sqrt()')
    assert call < text.index("numcnn/nn/module.py") < sqrt
    assert text.rstrip().endswith("return h.sqrt()                      # NaN gradient for x < 1")


def test_inf_gradients_are_not_flagged_as_torch() -> None:
    # sqrt'(0) = inf and 1/0: torch checks NaN only
    for fn, values in [(lambda x: x.sqrt(), [[0.0, 4.0]]), (lambda a, b: a / b, [[1.0], [0.0]])]:
        t_err, t_grads = backward_outcome(torch, fn, values)
        n_err, n_grads = backward_outcome(numcnn, fn, values)
        assert t_err is None and n_err is None
        assert t_grads is not None and n_grads is not None
        assert any(np.isinf(g).any() for g in t_grads)
        for n, t in zip(n_grads, t_grads):
            np.testing.assert_array_equal(n, t)


def test_check_nan_false_records_but_lets_nan_through() -> None:
    fn = CASES[0][1]
    t_err, t_grads = backward_outcome(torch, fn, [[-1.0, 4.0]], check_nan=False)
    n_err, n_grads = backward_outcome(numcnn, fn, [[-1.0, 4.0]], check_nan=False)
    assert t_err is None and n_err is None and t_grads is not None and n_grads is not None
    np.testing.assert_array_equal(n_grads[0], t_grads[0])          # [nan, 0.25]
    assert np.isnan(n_grads[0][0]) and n_grads[0][1] == 0.25
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with detect_anomaly(check_nan=False):
            y = numcnn.tensor([1.0], requires_grad=True) * 2
    assert anomaly_mode.forward_trace(y.grad_fn) is not None


def test_backward_errors_other_than_nan_show_the_forward_trace() -> None:
    class Broken(Function):
        on_arrays = True      # numcnn's contract: forward/backward on ndarrays

        @staticmethod
        def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
            return x * 2

        @staticmethod
        def backward(ctx: Any, gy: np.ndarray) -> Any:
            raise ValueError("broken backward")

    x = numcnn.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with detect_anomaly():
            y = Broken.apply(x)
            line = here() - 1
            with pytest.raises(ValueError, match="broken backward"):
                y.sum().backward()
    text = next(str(w.message) for w in caught if "Error detected in" in str(w.message))
    assert text.startswith("Error detected in BrokenBackward.")
    assert f"line {line}, in test_backward_errors_other_than_nan_show_the_forward_trace\n" \
           f"    y = Broken.apply(x)" in text


def test_node_recorded_before_anomaly_mode_says_so() -> None:
    x = numcnn.tensor([-1.0], requires_grad=True)
    with np.errstate(invalid="ignore"):
        y = x.sqrt().sum()                     # recorded with anomaly detection off
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with detect_anomaly(), pytest.raises(RuntimeError, match="'SqrtBackward' returned nan"):
            y.backward()
    text = next(str(w.message) for w in caught if "Error detected in" in str(w.message))
    assert text.startswith("Error detected in SqrtBackward. No forward call stack")


def test_off_by_default_records_nothing_and_checks_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert is_anomaly_enabled() is torch.is_anomaly_enabled() is False
    assert is_anomaly_check_nan_enabled() is torch.is_anomaly_check_nan_enabled() is True

    def must_not_run(*args: Any) -> None:
        raise AssertionError("anomaly machinery ran while anomaly detection was off")

    monkeypatch.setattr(anomaly_mode, "record_forward", must_not_run)
    monkeypatch.setattr(anomaly_mode, "checked_backward", must_not_run)
    # anomaly_mode's own view of the traceback module, not the module itself: pytest and
    # xdist format their reports with traceback.StackSummary while this test runs
    monkeypatch.setattr(anomaly_mode, "traceback", types.SimpleNamespace(
        StackSummary=must_not_run, extract_stack=must_not_run))
    gc.collect()                                 # earlier tests' nodes leave the weak dict now
    before = len(anomaly_mode._forward_stacks)
    x = numcnn.tensor([-1.0, 4.0], dtype=numcnn.float64, requires_grad=True)
    with np.errstate(invalid="ignore"):
        y = x.sqrt()
    y.sum().backward()                           # NaN gradient, no error: as torch
    t = torch.tensor([-1.0, 4.0], dtype=torch.float64, requires_grad=True)
    t.sqrt().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())
    assert len(anomaly_mode._forward_stacks) == before
    assert anomaly_mode.forward_trace(y.grad_fn) is None


def test_trace_lives_as_long_as_its_node() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with detect_anomaly():
            y = numcnn.tensor([1.0], requires_grad=True) * 2
    before = len(anomaly_mode._forward_stacks)
    assert before >= 1
    del y
    assert len(anomaly_mode._forward_stacks) == before - 1


def test_finite_gradients_are_unchanged_under_anomaly_mode() -> None:
    rng = np.random.default_rng(0)
    a, w = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))

    def fn(lib: Any, x: Any, y: Any) -> Any:
        return ((x @ y).tanh() * x.sum(1, keepdim=True)).exp().sum()

    results = []
    for lib in (numcnn, torch):
        x = lib.tensor(a.copy(), requires_grad=True)
        y = lib.tensor(w.copy(), requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with lib.autograd.detect_anomaly():
                out = fn(lib, x, y)
                out.backward()
        results.append((out, x.grad, y.grad))
    for n, t in zip(*results):
        assert_close(n, t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with detect_anomaly():
            x = numcnn.tensor(a.copy(), requires_grad=True)
            y = numcnn.tensor(w.copy(), requires_grad=True)
            assert gradcheck(lambda p, q: fn(numcnn, p, q), (x, y))


def test_switches_follow_torch() -> None:
    """The same sequence of switches gives the same (enabled, check_nan) in both libraries."""
    def state(lib: Any) -> tuple[bool, bool]:
        if lib is torch:
            return torch.is_anomaly_enabled(), torch.is_anomaly_check_nan_enabled()
        return is_anomaly_enabled(), is_anomaly_check_nan_enabled()

    def script(lib: Any) -> list[tuple[bool, bool]]:
        seen = [state(lib)]
        lib.autograd.set_detect_anomaly(True, check_nan=False)      # as a function: at once
        seen.append(state(lib))
        with lib.autograd.set_detect_anomaly(False):
            seen.append(state(lib))
            with lib.autograd.detect_anomaly():
                seen.append(state(lib))
                with lib.autograd.detect_anomaly(check_nan=False):
                    seen.append(state(lib))
                seen.append(state(lib))
            seen.append(state(lib))
        seen.append(state(lib))                                      # restored: (True, False)
        try:
            with lib.autograd.detect_anomaly():
                raise KeyError("x")
        except KeyError:
            pass
        seen.append(state(lib))                                      # restored on an error
        lib.autograd.set_detect_anomaly(False)
        seen.append(state(lib))
        return seen

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected, actual = script(torch), script(numcnn)
    assert actual == expected
    assert expected[1] == (True, False) and expected[-1] == (False, True)


def test_bad_arguments_are_type_errors_as_torch() -> None:
    for bad in ("yes", 1, None):
        with pytest.raises(TypeError):
            torch.autograd.set_detect_anomaly(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="mode must be a bool"):
            set_detect_anomaly(bad)  # type: ignore[arg-type]
        assert is_anomaly_enabled() is False
    with pytest.raises(TypeError, match="check_nan must be a bool"):
        set_detect_anomaly(True, check_nan="no")  # type: ignore[arg-type]
    assert is_anomaly_enabled() is False
    with pytest.raises(TypeError, match="check_nan must be a bool"):
        with pytest.warns(UserWarning, match="anomaly detection is on"):
            manager = detect_anomaly(check_nan="no")  # type: ignore[arg-type]
        manager.__enter__()
    assert is_anomaly_enabled() is False


def test_detect_anomaly_as_a_decorator() -> None:
    with pytest.warns(UserWarning, match="anomaly detection is on"):
        @detect_anomaly(check_nan=False)
        def inside() -> tuple[bool, bool]:
            return is_anomaly_enabled(), is_anomaly_check_nan_enabled()

    assert is_anomaly_enabled() is False                 # decorating changes nothing yet
    assert inside() == (True, False)
    assert (is_anomaly_enabled(), is_anomaly_check_nan_enabled()) == (False, True)

    with pytest.warns(UserWarning, match="anomaly detection is on"):
        @detect_anomaly()
        def fails() -> None:
            x = numcnn.tensor([-4.0], requires_grad=True)
            with np.errstate(invalid="ignore"):
                x.sqrt().sum().backward()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="Function 'SqrtBackward' returned nan"):
            fails()
    assert is_anomaly_enabled() is False


def test_exported_where_torch_has_them() -> None:
    for name in ("detect_anomaly", "set_detect_anomaly"):
        assert getattr(numcnn.autograd, name) is getattr(anomaly_mode, name)
        assert hasattr(torch.autograd, name)
    assert list(inspect.signature(detect_anomaly).parameters) == ["check_nan"]
    assert list(inspect.signature(set_detect_anomaly).parameters) == ["mode", "check_nan"]
    assert inspect.signature(set_detect_anomaly).parameters["check_nan"].default is True
