"""numcnn.optim.lr_scheduler against torch.optim.lr_scheduler 2.13.0.

Every scheduler drives an optimizer with two parameter groups (lr 0.1 and 0.02) in both
libraries; the learning-rate sequences (and OneCycleLR's and CyclicLR's momentum / beta1
sequences) must be
equal number for number (the same float operations in the same order), state dicts must carry
the same entries and round-trip mid-schedule, and bad arguments must raise torch's errors.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy as np
import pytest
import torch

import numcnn
import numcnn.optim as NO
import numcnn.optim.lr_scheduler as NS

TO = torch.optim
TS = torch.optim.lr_scheduler
pytestmark = pytest.mark.filterwarnings(
    "ignore:Detected call of `lr_scheduler.step\\(\\)` before:UserWarning")


def _opt(lib: str, kind: str = "SGD") -> Any:
    mod, mk = (numcnn, numcnn.nn.Parameter) if lib == "nc" else (torch, torch.nn.Parameter)
    a, b = mk(mod.zeros(2)), mk(mod.zeros(3))
    cls = getattr(NO if lib == "nc" else TO, kind)
    extra = {"momentum": 0.9} if kind == "SGD" else {}
    return cls([{"params": [a]}, {"params": [b], "lr": 0.02}], lr=0.1, **extra)


class Warmup:
    """A callable object (its attributes are what a state dict keeps of it): linear warm-up
    over `n` epochs, then a decay by `gamma` per epoch."""

    def __init__(self, n: int, gamma: float) -> None:
        self.n, self.gamma = n, gamma

    def __call__(self, epoch: int) -> float:
        return (epoch + 1) / self.n if epoch < self.n else self.gamma ** (epoch - self.n)


class HalfPerCycle:
    """A callable scale_fn object for CyclicLR: f(k) = base^(k-1)."""

    def __init__(self, base: float) -> None:
        self.base = base

    def __call__(self, k: float) -> float:
        return float(self.base ** (k - 1))


# name -> builder(S, opt): S is the lr_scheduler module of one library
CASES: dict[str, Callable[[Any, Any], Any]] = {
    "step": lambda S, o: S.StepLR(o, step_size=3, gamma=0.5),
    "multistep": lambda S, o: S.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
    "exponential": lambda S, o: S.ExponentialLR(o, gamma=0.9),
    "cosine": lambda S, o: S.CosineAnnealingLR(o, T_max=7),
    "cosine_eta_min": lambda S, o: S.CosineAnnealingLR(o, T_max=5, eta_min=0.003),
    "linear": lambda S, o: S.LinearLR(o, start_factor=0.25, total_iters=6),
    "linear_down": lambda S, o: S.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=4),
    "onecycle_cos": lambda S, o: S.OneCycleLR(o, max_lr=0.5, total_steps=30),
    "onecycle_linear": lambda S, o: S.OneCycleLR(o, max_lr=[0.5, 0.1], epochs=3,
                                                 steps_per_epoch=10, anneal_strategy="linear",
                                                 pct_start=0.4),
    "onecycle_three": lambda S, o: S.OneCycleLR(o, max_lr=0.5, total_steps=30, three_phase=True,
                                                base_momentum=0.8, max_momentum=[0.9, 0.95]),
    "onecycle_nomom": lambda S, o: S.OneCycleLR(o, max_lr=1.0, total_steps=30,
                                                cycle_momentum=False, div_factor=10.0),
    "sequential": lambda S, o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1,
                                                             total_iters=4),
                                                  S.CosineAnnealingLR(o, T_max=10)],
                                              milestones=[4]),
    "sequential3": lambda S, o: S.SequentialLR(o, [S.ExponentialLR(o, gamma=0.5),
                                                   S.StepLR(o, step_size=2, gamma=0.1),
                                                   S.MultiStepLR(o, [3, 4], gamma=0.5)],
                                               milestones=[3, 8]),
    "sequential_onecycle": lambda S, o: S.SequentialLR(
        o, [S.LinearLR(o, start_factor=0.5, total_iters=2),
            S.OneCycleLR(o, max_lr=0.3, total_steps=40)], milestones=[3]),
    "lambda": lambda S, o: S.LambdaLR(o, lambda e: 0.95 ** e),
    "lambda_list": lambda S, o: S.LambdaLR(o, [lambda e: 1 / (e + 1), lambda e: e // 3 + 1]),
    "lambda_object": lambda S, o: S.LambdaLR(o, Warmup(4, 0.8)),
    "lambda_mixed": lambda S, o: S.LambdaLR(o, (Warmup(3, 0.5), lambda e: 0.9 ** e)),
    "multiplicative": lambda S, o: S.MultiplicativeLR(o, lambda e: 0.9),
    "multiplicative_list": lambda S, o: S.MultiplicativeLR(
        o, [lambda e: 0.9 if e % 2 else 1.05, Warmup(2, 0.97)]),
    "constant": lambda S, o: S.ConstantLR(o, factor=0.5, total_iters=4),
    "constant_default": lambda S, o: S.ConstantLR(o),
    "constant_zero_iters": lambda S, o: S.ConstantLR(o, factor=0.25, total_iters=0),
    "constant_factor_one": lambda S, o: S.ConstantLR(o, factor=1.0, total_iters=3),
    "polynomial": lambda S, o: S.PolynomialLR(o, total_iters=8, power=2.0),
    "polynomial_default": lambda S, o: S.PolynomialLR(o),
    "polynomial_sqrt": lambda S, o: S.PolynomialLR(o, total_iters=10, power=0.5),
    "cyclic": lambda S, o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4),
    "cyclic_triangular2": lambda S, o: S.CyclicLR(o, [0.01, 0.002], [0.1, 0.05],
                                                  step_size_up=3, step_size_down=5,
                                                  mode="triangular2"),
    "cyclic_exp_range": lambda S, o: S.CyclicLR(o, 0.01, 0.1, step_size_up=5,
                                                mode="exp_range", gamma=0.9),
    "cyclic_scale_fn": lambda S, o: S.CyclicLR(o, 0.01, 0.1, step_size_up=2,
                                               scale_fn=lambda x: 0.5 ** x,
                                               scale_mode="iterations"),
    "cyclic_scale_object": lambda S, o: S.CyclicLR(o, 0.01, 0.1, step_size_up=3,
                                                   step_size_down=2,
                                                   scale_fn=HalfPerCycle(0.7), mode="bogus"),
    "cyclic_nomom": lambda S, o: S.CyclicLR(o, 0.01, 0.1, step_size_up=4,
                                            cycle_momentum=False),
    "cyclic_momenta": lambda S, o: S.CyclicLR(o, 0.01, 0.1, step_size_up=1, step_size_down=3,
                                              base_momentum=[0.7, 0.75], max_momentum=0.95),
    "warm_restarts": lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=5),
    "warm_restarts_mult": lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2,
                                                                     eta_min=0.001),
    "warm_restarts_one": lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=1, T_mult=3),
    "chained": lambda S, o: S.ChainedScheduler([S.ConstantLR(o, factor=0.1, total_iters=2),
                                                S.ExponentialLR(o, gamma=0.9)]),
    "chained_optimizer": lambda S, o: S.ChainedScheduler(
        [S.LinearLR(o, start_factor=0.2, total_iters=5), S.StepLR(o, 3, gamma=0.5),
         S.CosineAnnealingLR(o, T_max=9)], optimizer=o),
    "chained_in_sequential": lambda S, o: S.SequentialLR(
        o, [S.ChainedScheduler([S.ConstantLR(o, 0.5, 2), S.ExponentialLR(o, 0.9)]),
            S.StepLR(o, 2)], milestones=[5]),
    "sequential_in_chained": lambda S, o: S.ChainedScheduler(
        [S.SequentialLR(o, [S.ConstantLR(o, 0.5, 2), S.ExponentialLR(o, 0.9)], [4]),
         S.StepLR(o, 3)]),
    # SequentialLR's milestone edge cases: a switch at 0, equal and unsorted milestones, a
    # milestone beyond the run, one scheduler and no milestone, SequentialLR inside itself
    "sequential_at_0": lambda S, o: S.SequentialLR(o, [S.ConstantLR(o, 0.5, 2),
                                                       S.ExponentialLR(o, 0.9)], [0]),
    "sequential_equal": lambda S, o: S.SequentialLR(
        o, [S.ConstantLR(o, 0.5, 2), S.ExponentialLR(o, 0.9), S.StepLR(o, 2)], [3, 3]),
    "sequential_unsorted": lambda S, o: S.SequentialLR(
        o, [S.ConstantLR(o, 0.5, 2), S.ExponentialLR(o, 0.9), S.StepLR(o, 2)], [6, 3]),
    "sequential_late": lambda S, o: S.SequentialLR(o, [S.ConstantLR(o, 0.5, 2),
                                                       S.ExponentialLR(o, 0.9)], [50]),
    "sequential_single": lambda S, o: S.SequentialLR(o, [S.ExponentialLR(o, 0.9)], []),
    "sequential_nested": lambda S, o: S.SequentialLR(
        o, [S.SequentialLR(o, [S.ConstantLR(o, 0.5, 2), S.ExponentialLR(o, 0.9)], [2]),
            S.CosineAnnealingLR(o, 5)], [6]),
    "sequential_restarts": lambda S, o: S.SequentialLR(
        o, [S.LinearLR(o, 0.2, total_iters=3), S.CosineAnnealingWarmRestarts(o, 4, 2)], [3]),
    "sequential_cyclic": lambda S, o: S.SequentialLR(
        o, [S.LinearLR(o, 0.2, total_iters=3), S.CyclicLR(o, 0.01, 0.1, 3)], [4]),
    "sequential_lambdas": lambda S, o: S.SequentialLR(
        o, [S.LambdaLR(o, lambda e: 0.5 ** e), S.MultiplicativeLR(o, lambda e: 0.9),
            S.PolynomialLR(o, 4, 2.0)], [3, 6]),
}

STEPS = 29


def _momenta(opt: Any) -> list[Any]:
    return [g.get("momentum", g.get("betas")) for g in opt.param_groups]


def _sequence(lib: str, case: str, kind: str = "SGD", steps: int = STEPS) -> list[Any]:
    S = NS if lib == "nc" else TS
    opt = _opt(lib, kind)
    sched = CASES[case](S, opt)
    out = [(sched.get_last_lr(), [g["lr"] for g in opt.param_groups], _momenta(opt))]
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append((sched.get_last_lr(), [g["lr"] for g in opt.param_groups], _momenta(opt)))
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_lr_sequence_equals_torch(case: str) -> None:
    assert _sequence("nc", case) == _sequence("torch", case)


@pytest.mark.parametrize("kind", ["Adam", "NAdam", "RAdam", "Adamax"])
@pytest.mark.parametrize("case", ["onecycle_cos", "onecycle_three", "onecycle_linear", "cyclic",
                                  "cyclic_triangular2", "cyclic_momenta"])
def test_momentum_cycling_moves_beta1_like_torch(case: str, kind: str) -> None:
    n, t = _sequence("nc", case, kind), _sequence("torch", case, kind)
    assert n == t
    assert len({m[0][0] for _, _, m in n}) > 2    # beta1 really moves
    assert all(m[0][1] == 0.999 for _, _, m in n)  # beta2 does not


def test_chained_schedulers_compose_like_torch() -> None:
    seqs = []
    for lib, S in [("nc", NS), ("torch", TS)]:
        opt = _opt(lib)
        a, b = S.StepLR(opt, 4, gamma=0.5), S.CosineAnnealingLR(opt, T_max=6, eta_min=0.001)
        seq = []
        for _ in range(20):
            opt.step()
            a.step()
            b.step()
            seq.append([g["lr"] for g in opt.param_groups])
        seqs.append(seq)
    assert seqs[0] == seqs[1]


def test_cosine_recursive_form_is_what_torch_does() -> None:
    """Past T_max the recursive form climbs back up (not the closed form's periodic value)."""
    seq = _sequence("nc", "cosine", steps=20)
    lrs = [s[0][0] for s in seq]
    assert lrs == [s[0][0] for s in _sequence("torch", "cosine", steps=20)]
    assert lrs[7] == pytest.approx(0.0, abs=1e-15) and lrs[14] == pytest.approx(0.1)


@pytest.mark.parametrize("case", ["step", "multistep", "exponential", "cosine", "linear",
                                  "constant", "constant_zero_iters", "polynomial",
                                  "polynomial_sqrt", "lambda", "lambda_object",
                                  "multiplicative", "cyclic_triangular2"])
def test_step_with_epoch_uses_closed_form_like_torch(case: str) -> None:
    out = []
    for lib, S in [("nc", NS), ("torch", TS)]:
        opt = _opt(lib)
        sched = CASES[case](S, opt)
        seq = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for e in [3, 1, 8, 6, 12]:
                opt.step()
                sched.step(e)
                seq.append(sched.get_last_lr())
        out.append(seq)
    assert out[0] == out[1]
    with pytest.warns(UserWarning, match="epoch parameter"):
        NS.StepLR(_opt("nc"), 2).step(3)


METRICS = [1.0, 0.9, 0.9, 0.95, 0.91, 0.92, 0.5, 0.5, 0.50004, 0.6, 0.7, 0.8, 0.9, 0.3, 0.3,
           0.3, 0.3, 0.29999, 0.31, 0.4, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2] + [0.25] * 10
PLATEAU = [
    {},
    {"patience": 1},
    {"patience": 0, "factor": 0.5, "cooldown": 2},
    {"mode": "max", "patience": 1, "threshold": 0.05},
    {"mode": "max", "threshold_mode": "abs", "threshold": 0.05, "patience": 2},
    {"threshold_mode": "abs", "threshold": 0.01, "patience": 1, "min_lr": [0.05, 0.001]},
    {"patience": 0, "factor": 0.5, "min_lr": 0.0124, "eps": 1e-3},
]


@pytest.mark.parametrize("kw", PLATEAU, ids=[str(i) for i in range(len(PLATEAU))])
def test_reduce_on_plateau_equals_torch(kw: dict[str, Any]) -> None:
    out = []
    for lib, S in [("nc", NS), ("torch", TS)]:
        opt = _opt(lib)
        sched = S.ReduceLROnPlateau(opt, **kw)
        seq = [sched.get_last_lr()]
        for m in METRICS:
            opt.step()
            sched.step(m)
            seq.append((sched.get_last_lr(), sched.num_bad_epochs, sched.cooldown_counter,
                        sched.best, sched.last_epoch))
        out.append(seq)
    assert out[0] == out[1]
    assert out[0][-1][0] != out[0][0]      # the script does trigger reductions
    n_sd = NS.ReduceLROnPlateau(_opt("nc"), **kw).state_dict()
    t_sd = TS.ReduceLROnPlateau(_opt("torch"), **kw).state_dict()
    assert n_sd == t_sd


@pytest.mark.parametrize("case", list(CASES))
def test_state_dict_entries_equal_torch(case: str) -> None:
    n_opt, t_opt = _opt("nc"), _opt("torch")
    n, t = CASES[case](NS, n_opt), CASES[case](TS, t_opt)
    for _ in range(3):
        n_opt.step()
        t_opt.step()
        n.step()
        t.step()
    n_sd, t_sd = n.state_dict(), t.state_dict()
    assert set(n_sd) == set(t_sd)
    for key, tv in t_sd.items():
        if key != "_schedulers":
            assert n_sd[key] == tv, key
    for ns, ts in zip(n_sd.get("_schedulers", []), t_sd.get("_schedulers", [])):
        assert set(ns) == set(ts)


@pytest.mark.parametrize("case", list(CASES))
def test_state_dict_round_trip_mid_schedule(case: str) -> None:
    """Save optimizer and scheduler at step 11; a fresh pair loaded from them continues with the
    uninterrupted sequence."""
    full = _sequence("nc", case)
    opt = _opt("nc")
    sched = CASES[case](NS, opt)
    for _ in range(11):
        opt.step()
        sched.step()
    o_sd, s_sd = opt.state_dict(), sched.state_dict()
    opt2 = _opt("nc")
    sched2 = CASES[case](NS, opt2)          # construct first, then load (as torch advises)
    sched2.load_state_dict(s_sd)
    opt2.load_state_dict(o_sd)
    rest = []
    for _ in range(11, STEPS):
        opt2.step()
        sched2.step()
        rest.append((sched2.get_last_lr(), [g["lr"] for g in opt2.param_groups], _momenta(opt2)))
    assert rest == full[12:]


def test_reduce_on_plateau_round_trip() -> None:
    full = []
    opt = _opt("nc")
    sched = NS.ReduceLROnPlateau(opt, patience=1, cooldown=1)
    for m in METRICS:
        sched.step(m)
        full.append(sched.get_last_lr())
    opt = _opt("nc")
    sched = NS.ReduceLROnPlateau(opt, patience=1, cooldown=1)
    for m in METRICS[:9]:
        sched.step(m)
    s_sd, o_sd = sched.state_dict(), opt.state_dict()
    opt2 = _opt("nc")
    sched2 = NS.ReduceLROnPlateau(opt2)
    sched2.load_state_dict(s_sd)
    opt2.load_state_dict(o_sd)
    rest = []
    for m in METRICS[9:]:
        sched2.step(m)
        rest.append(sched2.get_last_lr())
    assert rest == full[9:]


def test_onecycle_refuses_to_step_past_total_steps() -> None:
    for S, lib in [(NS, "nc"), (TS, "torch")]:
        opt = _opt(lib)
        sched = S.OneCycleLR(opt, max_lr=0.1, total_steps=3)
        for _ in range(3):
            opt.step()
            sched.step()
        with pytest.raises(ValueError, match="Tried to step 4 times"):
            sched.step()


BAD: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("linear start 0", lambda S, o: S.LinearLR(o, start_factor=0.0)),
    ("linear start > 1", lambda S, o: S.LinearLR(o, start_factor=1.5)),
    ("linear end < 0", lambda S, o: S.LinearLR(o, end_factor=-0.1)),
    ("plateau factor", lambda S, o: S.ReduceLROnPlateau(o, factor=1.0)),
    ("plateau mode", lambda S, o: S.ReduceLROnPlateau(o, mode="avg")),
    ("plateau threshold_mode", lambda S, o: S.ReduceLROnPlateau(o, threshold_mode="pct")),
    ("plateau min_lr len", lambda S, o: S.ReduceLROnPlateau(o, min_lr=[0.1])),
    ("onecycle no steps", lambda S, o: S.OneCycleLR(o, max_lr=0.1)),
    ("onecycle steps 0", lambda S, o: S.OneCycleLR(o, max_lr=0.1, total_steps=0)),
    ("onecycle epochs", lambda S, o: S.OneCycleLR(o, max_lr=0.1, epochs=0, steps_per_epoch=2)),
    ("onecycle spe", lambda S, o: S.OneCycleLR(o, max_lr=0.1, epochs=2, steps_per_epoch=-1)),
    ("onecycle pct", lambda S, o: S.OneCycleLR(o, max_lr=0.1, total_steps=9, pct_start=1.2)),
    ("onecycle pct int", lambda S, o: S.OneCycleLR(o, max_lr=0.1, total_steps=9, pct_start=1)),
    ("onecycle anneal", lambda S, o: S.OneCycleLR(o, 0.1, 9, anneal_strategy="exp")),
    ("onecycle max_lr len", lambda S, o: S.OneCycleLR(o, max_lr=[0.1], total_steps=9)),
    ("sequential empty", lambda S, o: S.SequentialLR(o, [], [])),
    ("sequential milestones", lambda S, o: S.SequentialLR(o, [S.StepLR(o, 2)], [3])),
    ("sequential plateau", lambda S, o: S.SequentialLR(o, [S.StepLR(o, 2),
                                                           S.ReduceLROnPlateau(o)], [3])),
    ("lambda list len", lambda S, o: S.LambdaLR(o, [lambda e: 1.0])),
    ("multiplicative list len", lambda S, o: S.MultiplicativeLR(o, [lambda e: 1.0] * 3)),
    ("constant factor > 1", lambda S, o: S.ConstantLR(o, factor=1.5)),
    ("constant factor < 0", lambda S, o: S.ConstantLR(o, factor=-0.5)),
    ("cyclic mode", lambda S, o: S.CyclicLR(o, 0.01, 0.1, mode="triangle")),
    ("cyclic base_lr len", lambda S, o: S.CyclicLR(o, [0.01], 0.1)),
    ("cyclic max_lr len", lambda S, o: S.CyclicLR(o, 0.01, [0.1, 0.2, 0.3])),
    ("cyclic momentum len", lambda S, o: S.CyclicLR(o, 0.01, 0.1, base_momentum=[0.8])),
    ("restarts T_0 0", lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=0)),
    ("restarts T_0 float", lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=2.0)),
    ("restarts T_mult 0", lambda S, o: S.CosineAnnealingWarmRestarts(o, 2, T_mult=0)),
    ("restarts T_mult float", lambda S, o: S.CosineAnnealingWarmRestarts(o, 2, T_mult=1.5)),
    ("restarts eta_min", lambda S, o: S.CosineAnnealingWarmRestarts(o, 2, eta_min=None)),
    ("chained empty", lambda S, o: S.ChainedScheduler([])),
    ("chained plateau", lambda S, o: S.ChainedScheduler([S.StepLR(o, 2),
                                                         S.ReduceLROnPlateau(o)])),
]


@pytest.mark.parametrize("name,build", BAD, ids=[b[0] for b in BAD])
def test_bad_arguments_raise_like_torch(name: str, build: Callable[[Any, Any], Any]) -> None:
    with pytest.raises(ValueError) as t_err:
        build(TS, _opt("torch"))
    with pytest.raises(ValueError) as n_err:
        build(NS, _opt("nc"))
    # torch's message, or torch's message followed by the value given
    assert str(n_err.value).startswith(str(t_err.value).rstrip("."))


def test_type_errors_and_missing_initial_lr() -> None:
    with pytest.raises(TypeError, match="is not an Optimizer"):
        NS.StepLR(object(), 2)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="is not an Optimizer"):
        NS.ReduceLROnPlateau(object())  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="initial_lr"):
        NS.StepLR(_opt("nc"), 2, last_epoch=3)
    with pytest.raises(ValueError, match="momentum or beta1"):
        NS.OneCycleLR(NO.Adagrad([numcnn.nn.Parameter(numcnn.zeros(1))]), 0.1, 5)


def test_get_lr_outside_step_warns() -> None:
    sched = NS.StepLR(_opt("nc"), 2)
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()
    assert np.allclose(sched.get_last_lr(), [0.1, 0.02])


def test_other_bad_arguments_raise_like_torch() -> None:
    """TypeErrors, the optimizers cyclic momentum cannot drive, and schedulers of another
    optimizer (torch's message names both)."""
    for lib, S, O, mod in [("nc", NS, NO, numcnn), ("torch", TS, TO, torch)]:
        with pytest.raises(TypeError, match="lr_lambda should be a function, but got float"):
            S.MultiplicativeLR(_opt(lib), 0.9)
        with pytest.raises(TypeError, match="is not an Optimizer"):
            S.CyclicLR(object(), 0.01, 0.1)
        param = (numcnn.nn.Parameter if lib == "nc" else torch.nn.Parameter)(mod.zeros(2))
        for no_momentum in (O.Adagrad([param]), O.Adadelta([param])):
            with pytest.raises(ValueError, match="must support momentum or beta1"):
                S.CyclicLR(no_momentum, 0.01, 0.1)
            S.CyclicLR(no_momentum, 0.01, 0.1, cycle_momentum=False)
        with pytest.raises(TypeError, match="index 1 should have `optimizer`"):
            S.ChainedScheduler([S.StepLR(_opt(lib), 2), object()])
    msgs = []
    for lib, S in [("nc", NS), ("torch", TS)]:
        a, b = _opt(lib), _opt(lib)
        with pytest.raises(ValueError) as err:
            S.ChainedScheduler([S.StepLR(a, 2), S.StepLR(b, 2)])
        msgs.append(str(err.value))
        with pytest.raises(ValueError) as err:
            S.SequentialLR(a, [S.StepLR(a, 2), S.StepLR(b, 2)], [2])
        msgs.append(str(err.value))
    assert msgs[:2] == msgs[2:]
    assert "at index 1 has SGD (" in msgs[0]


def test_state_dict_keeps_callable_objects_not_functions() -> None:
    """LambdaLR/MultiplicativeLR/CyclicLR save a callable object's attributes and None for a
    function or lambda (which cannot be saved), as torch does; loading gives this scheduler's
    own objects the saved attributes, and the schedule continues as before."""
    sds = []
    for lib, S in [("nc", NS), ("torch", TS)]:
        opt = _opt(lib)
        sched = S.LambdaLR(opt, [Warmup(4, 0.8), lambda e: 0.5 ** e])
        for _ in range(6):
            opt.step()
            sched.step()
        sds.append(sched.state_dict())
    assert sds[0]["lr_lambdas"] == sds[1]["lr_lambdas"] == [{"n": 4, "gamma": 0.8}, None]
    full = _sequence("nc", "lambda_object", steps=12)
    opt = _opt("nc")
    sched = NS.LambdaLR(opt, Warmup(4, 0.8))
    for _ in range(6):
        opt.step()
        sched.step()
    saved = sched.state_dict()
    other = Warmup(100, 0.1)                       # loading overwrites its attributes
    opt2 = _opt("nc")
    sched2 = NS.LambdaLR(opt2, other)
    sched2.load_state_dict(saved)
    assert "lr_lambdas" in saved and (other.n, other.gamma) == (4, 0.8)
    assert sched2.lr_lambdas[0] is other
    opt2.load_state_dict(opt.state_dict())
    rest = []
    for _ in range(6):
        opt2.step()
        sched2.step()
        rest.append(sched2.get_last_lr())
    assert rest == [f[0] for f in full[7:]]
    # CyclicLR: the same for a custom scale_fn object; a lambda is saved as None
    n_sd = NS.CyclicLR(_opt("nc"), 0.01, 0.1, scale_fn=HalfPerCycle(0.3)).state_dict()
    t_sd = TS.CyclicLR(_opt("torch"), 0.01, 0.1, scale_fn=HalfPerCycle(0.3)).state_dict()
    assert n_sd["_scale_fn_custom"] == t_sd["_scale_fn_custom"] == {"base": 0.3}
    assert NS.CyclicLR(_opt("nc"), 0.01, 0.1, scale_fn=lambda x: 1.0).state_dict()[
        "_scale_fn_custom"] is None
    obj = HalfPerCycle(0.9)
    sched3 = NS.CyclicLR(_opt("nc"), 0.01, 0.1, scale_fn=obj)
    sched3.load_state_dict(n_sd)
    assert obj.base == 0.3 and sched3._scale_fn_custom is obj


def test_load_state_dict_does_not_change_its_argument() -> None:
    opt = _opt("nc")
    sched = NS.ChainedScheduler([NS.LambdaLR(opt, Warmup(2, 0.5)), NS.StepLR(opt, 2)])
    sd = sched.state_dict()
    keys = set(sd)
    sched.load_state_dict(sd)
    NS.LambdaLR(opt, Warmup(2, 0.5)).load_state_dict(sd["_schedulers"][0])
    assert set(sd) == keys and "lr_lambdas" in sd["_schedulers"][0]


EPOCHS = [0.0, 0.5, 1.25, 2.999, 3.0, 3.2, 7.5, 9.0, 10.0, 20.75, 21.0, 44.9, 45.0, 1.0, 0.1,
          2, 5, 6, 22]


@pytest.mark.parametrize("T_0,T_mult", [(3, 1), (3, 2), (2, 3), (1, 2), (5, 1)])
def test_warm_restarts_fractional_epochs_match_torch(T_0: int, T_mult: int) -> None:
    """step(epoch) with fractional epochs (per-batch use), out of order and interleaved with
    plain step(): lr, T_cur, T_i and last_epoch as torch's, without a deprecation warning."""
    out = []
    for lib, S in [("nc", NS), ("torch", TS)]:
        opt = _opt(lib)
        sched = S.CosineAnnealingWarmRestarts(opt, T_0=T_0, T_mult=T_mult, eta_min=0.001)
        seq = []
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for i, e in enumerate(EPOCHS):
                opt.step()
                sched.step(e)
                seq.append((sched.get_last_lr(), sched.T_cur, sched.T_i, sched.last_epoch))
                if i % 3 == 0:
                    sched.step()
                    seq.append((sched.get_last_lr(), sched.T_cur, sched.T_i, sched.last_epoch))
        out.append(seq)
    assert out[0] == out[1]


def test_warm_restarts_per_batch_against_the_sgdr_formula() -> None:
    """Naive reference from the SGDR paper: T_i = T_0 T_mult^i, and for epoch t (fractional)
    within restart i, T_cur = t - sum of the earlier T_j; lr = η_min + ½(η_max - η_min)(1 +
    cos(π T_cur / T_i))."""
    T_0, T_mult, eta_min, iters = 2, 2, 0.005, 4
    opt = _opt("nc")
    sched = NS.CosineAnnealingWarmRestarts(opt, T_0=T_0, T_mult=T_mult, eta_min=eta_min)
    for epoch in range(14):
        for b in range(iters):
            t = epoch + b / iters
            sched.step(t)
            start, T_i = 0, T_0
            while t >= start + T_i:
                start, T_i = start + T_i, T_i * T_mult
            want = [eta_min + (base - eta_min) * (1 + math.cos(math.pi * (t - start) / T_i)) / 2
                    for base in (0.1, 0.02)]
            assert sched.get_last_lr() == pytest.approx(want, rel=1e-12, abs=1e-15)
    with pytest.raises(ValueError, match="Expected non-negative epoch, but got -1"):
        sched.step(-1)


def test_cyclic_against_the_clr_paper_formula() -> None:
    """Naive reference from Smith (2017): cycle = ⌊1 + e / (2 s)⌋, x = |e / s - 2 cycle + 1|,
    lr = base + (max - base) · max(0, 1 - x) · f(cycle), with f = 1 (triangular) and
    f = 1 / 2^(cycle-1) (triangular2); momentum goes the other way."""
    for mode, f in [("triangular", lambda c: 1.0), ("triangular2", lambda c: 0.5 ** (c - 1))]:
        s = 5
        opt = _opt("nc")
        sched = NS.CyclicLR(opt, 0.01, 0.1, step_size_up=s, mode=mode, base_momentum=0.8,
                            max_momentum=0.9)
        for e in range(1, 40):
            opt.step()
            sched.step()
            cycle = math.floor(1 + e / (2 * s))
            x = abs(e / s - 2 * cycle + 1)
            h = max(0.0, 1 - x) * f(cycle)
            assert sched.get_last_lr() == pytest.approx([0.01 + 0.09 * h] * 2, rel=1e-12)
            assert opt.param_groups[0]["momentum"] == pytest.approx(0.9 - 0.1 * h, rel=1e-12)


def test_polynomial_and_constant_closed_forms() -> None:
    """The recursive updates reach the closed forms: base · (1 - e/n)^p, and base · factor
    before total_iters, base after."""
    opt = _opt("nc")
    poly = NS.PolynomialLR(opt, total_iters=7, power=3.0)
    for e in range(1, 12):
        opt.step()
        poly.step()
        assert poly.get_last_lr() == pytest.approx(
            [b * (1 - min(e, 7) / 7) ** 3 for b in (0.1, 0.02)], rel=1e-12, abs=1e-18)
    opt = _opt("nc")
    const = NS.ConstantLR(opt, factor=0.2, total_iters=3)
    lrs = [const.get_last_lr()[0]]
    for _ in range(5):
        opt.step()
        const.step()
        lrs.append(const.get_last_lr()[0])
    assert lrs == pytest.approx([0.02, 0.02, 0.02, 0.1, 0.1, 0.1], rel=1e-12)


def _signature(f: Any) -> list[tuple[str, Any, Any]]:
    import inspect
    return [(p.name, p.kind, p.default) for p in inspect.signature(f).parameters.values()]


@pytest.mark.parametrize("name", NS.__all__)
def test_signature_matches_torch(name: str) -> None:
    """Constructor and step() argument names, order, defaults and kinds are torch's."""
    ours, theirs = getattr(NS, name), getattr(TS, name)
    assert _signature(ours) == _signature(theirs)
    assert _signature(ours.step) == _signature(theirs.step)
