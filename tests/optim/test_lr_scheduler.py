"""numcnn.optim.lr_scheduler against torch.optim.lr_scheduler 2.13.0.

Every scheduler drives an optimizer with two parameter groups (lr 0.1 and 0.02) in both
libraries; the learning-rate sequences (and OneCycleLR's momentum / beta1 sequences) must be
equal number for number (the same float operations in the same order), state dicts must carry
the same entries and round-trip mid-schedule, and bad arguments must raise torch's errors.
"""

from __future__ import annotations

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


def _opt(lib: str, kind: str = "SGD") -> Any:
    mod, mk = (numcnn, numcnn.nn.Parameter) if lib == "nc" else (torch, torch.nn.Parameter)
    a, b = mk(mod.zeros(2)), mk(mod.zeros(3))
    cls = getattr(NO if lib == "nc" else TO, kind)
    extra = {"momentum": 0.9} if kind == "SGD" else {}
    return cls([{"params": [a]}, {"params": [b], "lr": 0.02}], lr=0.1, **extra)


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


@pytest.mark.parametrize("case", ["onecycle_cos", "onecycle_three", "onecycle_linear"])
def test_onecycle_cycles_adam_betas_like_torch(case: str) -> None:
    n, t = _sequence("nc", case, "Adam"), _sequence("torch", case, "Adam")
    assert n == t
    assert len({m[0][0] for _, _, m in n}) > 5    # beta1 really moves


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


@pytest.mark.parametrize("case", ["step", "multistep", "exponential", "cosine", "linear"])
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
