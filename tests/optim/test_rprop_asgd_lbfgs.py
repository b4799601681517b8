"""Rprop, ASGD and LBFGS against torch.optim 2.13.0, as tests/optim/test_optimizers.py does:
the same gradient stream, the same trajectory for 100 steps (float64 rtol 1e-10, float32
rtol 1e-4), state dicts with torch's keys and values, a mid-run save/load; LBFGS with a
closure on a least-squares and a Rosenbrock problem, its stopping rules and counters; bad
options raise torch's errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from tests.helpers import assert_close
from tests.optim.test_optimizers import _compare_state, _compare_traj, _grads, _run, _set_grads

import numcnn
import numcnn.optim as NO

GRID: list[tuple[str, dict[str, Any]]] = [
    ("Rprop", {}),
    ("Rprop", {"lr": 0.05, "etas": (0.3, 1.5)}),
    ("Rprop", {"lr": 0.1, "step_sizes": (1e-3, 0.2), "maximize": True}),
    ("Rprop", {"lr": 1e-7, "etas": (0.7, 1.01), "step_sizes": (1e-6, 1e-5)}),
    ("ASGD", {}),
    ("ASGD", {"lr": 0.05, "lambd": 0.1, "alpha": 0.5, "t0": 10}),
    ("ASGD", {"lr": 0.02, "weight_decay": 0.1, "maximize": True, "t0": 0}),
    ("ASGD", {"lr": 0.03, "lambd": 0.0, "t0": 50.5}),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,opts", GRID, ids=[f"{n}-{i}" for i, (n, _) in enumerate(GRID)])
def test_trajectory_matches_torch(name: str, opts: dict[str, Any], dtype: Any) -> None:
    nc_traj, nc_opt, _ = _run("nc", name, opts, dtype)
    t_traj, t_opt, _ = _run("torch", name, opts, dtype)
    _compare_traj(nc_traj, t_traj, dtype)
    _compare_state(nc_opt, t_opt, dtype)


@pytest.mark.parametrize("name,opts", [GRID[1], GRID[5]])
def test_two_groups_and_mid_run_state(name: str, opts: dict[str, Any]) -> None:
    dtype = np.float64
    grads = _grads(dtype, 60)

    def make(lib: str, params: list[Any]) -> Any:
        cls = getattr(NO if lib == "nc" else torch.optim, name)
        extra = {"foreach": False} if lib == "torch" else {}   # torch's reference loop
        return cls([{"params": params[:2]}, {"params": params[2:], "lr": 0.003}], **opts,
                   **extra)

    def run(lib: str, opt: Any, params: list[Any], ks: range) -> list[list[np.ndarray]]:
        out = []
        for k in ks:
            _set_grads(params, grads[k], lib)
            opt.step()
            out.append([p.detach().numpy().copy() for p in params])
        return out

    rng = np.random.default_rng(0)
    init = [rng.standard_normal(s) for s in [(3, 4), (5,), (2, 3, 2)]]

    def interrupted(lib: str) -> list[list[np.ndarray]]:
        """30 steps, a save (through ndarrays), a load into a fresh optimizer on fresh
        parameters, 30 more steps.  (The load casts eta and mu to the parameters' float64
        in both libraries, so this is compared with torch doing the same.)"""
        mod = numcnn if lib == "nc" else torch
        params = [mod.nn.Parameter(mod.tensor(a)) for a in init]
        first = make(lib, params)
        half = run(lib, first, params, range(30))
        saved = first.state_dict()
        fresh = [mod.nn.Parameter(mod.tensor(a.copy())) for a in half[-1]]
        second = make(lib, fresh)
        second.load_state_dict(saved)
        return half + run(lib, second, fresh, range(30, 60))

    _compare_traj(interrupted("nc"), interrupted("torch"), dtype)


def test_option_errors() -> None:
    p = [numcnn.nn.Parameter(numcnn.ones(2))]
    tp = [torch.nn.Parameter(torch.ones(2))]
    for name, opts in [("Rprop", {"lr": -1}), ("Rprop", {"etas": (1.0, 1.2)}),
                       ("Rprop", {"etas": (0.5, 1.0)}), ("ASGD", {"lr": -0.1}),
                       ("ASGD", {"weight_decay": -1}), ("LBFGS", {"lr": -1})]:
        with pytest.raises(ValueError):
            getattr(torch.optim, name)(tp, **opts)
        with pytest.raises(ValueError):
            getattr(NO, name)(p, **opts)
    with pytest.raises(ValueError):
        torch.optim.LBFGS([{"params": tp}, {"params": [torch.nn.Parameter(torch.ones(1))]}])
    with pytest.raises(ValueError):
        NO.LBFGS([{"params": p}, {"params": [numcnn.nn.Parameter(numcnn.ones(1))]}])
    for lib, ps in [(torch, tp), (numcnn, p)]:
        opt = (NO if lib is numcnn else torch.optim).LBFGS(ps, line_search_fn="armijo")
        with pytest.raises(RuntimeError, match="strong_wolfe"):
            opt.step(lambda ps=ps: (ps[0] ** 2).sum().backward() or (ps[0] ** 2).sum())
    with pytest.raises(NotImplementedError, match="strong_wolfe"):
        NO.LBFGS(p, line_search_fn="strong_wolfe")
    with pytest.raises(RuntimeError, match="closure"):
        NO.LBFGS(p).step()
    with pytest.raises(NotImplementedError):
        NO.Rprop(p, differentiable=True)


# ------------------------------------------------------------------------------- LBFGS
def _problem(lib: Any, kind: str, dtype: Any) -> tuple[list[Any], Any]:
    """Parameters and a loss function: a least-squares fit w x + b ~ y (two parameters, one
    of them sometimes without a gradient) or the 2-D Rosenbrock function."""
    rng = np.random.default_rng(5)

    def mk(a: np.ndarray) -> Any:
        return lib.nn.Parameter(lib.tensor(a.astype(dtype)))

    if kind == "rosenbrock":
        xy = mk(np.array([-1.2, 1.0]))
        return [xy], lambda: (1 - xy[0]) ** 2 + 100 * (xy[1] - xy[0] ** 2) ** 2
    x, y = lib.tensor(rng.standard_normal((20, 3)).astype(dtype)), \
        lib.tensor(rng.standard_normal((20, 2)).astype(dtype))
    w, b, unused = mk(rng.standard_normal((3, 2))), mk(np.zeros(2)), mk(np.ones(2))
    return [w, b, unused], lambda: (((x @ w + b - y) ** 2).mean() + 0.1 * (w ** 2).sum())


def _lbfgs_run(lib: Any, kind: str, opts: dict[str, Any], steps: int, dtype: Any
               ) -> tuple[list[list[np.ndarray]], list[float], Any]:
    params, f = _problem(lib, kind, dtype)
    opt = (NO if lib is numcnn else torch.optim).LBFGS(params, **opts)

    def closure() -> Any:
        opt.zero_grad()
        loss = f()
        loss.backward()
        return loss

    traj, losses = [], []
    for _ in range(steps):
        losses.append(float(opt.step(closure).detach()))
        traj.append([p.detach().numpy().copy() for p in params])
    return traj, losses, opt


LBFGS_GRID = [
    ("lsq", {}),
    ("lsq", {"lr": 0.5, "max_iter": 5, "history_size": 3}),
    ("lsq", {"max_iter": 3, "max_eval": 2}),
    ("rosenbrock", {"lr": 0.1, "max_iter": 7}),
    ("rosenbrock", {"lr": 0.05, "history_size": 2, "tolerance_change": 1e-6}),
    ("rosenbrock", {"lr": 1.0, "max_iter": 1}),
    ("lsq", {"tolerance_grad": 1e-2}),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind,opts", LBFGS_GRID, ids=[str(i) for i in range(len(LBFGS_GRID))])
def test_lbfgs_matches_torch(kind: str, opts: dict[str, Any], dtype: Any) -> None:
    # float32: two steps only, and no counters: the stopping rules compare float32 changes
    # with tolerance_change (1e-9), which a different rounding order can flip later on
    steps = 6 if dtype == np.float64 else 2
    n_traj, n_loss, n_opt = _lbfgs_run(numcnn, kind, opts, steps, dtype)
    t_traj, t_loss, t_opt = _lbfgs_run(torch, kind, opts, steps, dtype)
    tol = {"rtol": 1e-9, "atol": 1e-12} if dtype == np.float64 else {"rtol": 1e-3, "atol": 1e-4}
    if kind == "rosenbrock" and dtype == np.float64:
        # the curved valley amplifies last-bit differences of the gradient (op order) over
        # ~100 quasi-Newton iterations to ~1e-8 relative by step 5
        tol = {"rtol": 1e-7, "atol": 1e-10}
    for k, (a, b) in enumerate(zip(n_traj, t_traj)):
        for x, y in zip(a, b):
            assert x.dtype == dtype
            np.testing.assert_allclose(x, y, **tol, err_msg=f"step {k + 1}")
    np.testing.assert_allclose(n_loss, t_loss, **tol)
    ns, ts = n_opt.state[n_opt._params[0]], t_opt.state[t_opt._params[0]]
    if dtype == np.float64:
        assert (ns["func_evals"], ns["n_iter"]) == (ts["func_evals"], ts["n_iter"])
    if dtype == np.float64 and "d" in ts:
        assert set(ns) == set(ts)
        assert_close(ns["d"], ts["d"], **tol)
        assert len(ns["old_dirs"]) == len(ts["old_dirs"])
        assert ns["t"] == pytest.approx(float(ts["t"]), rel=1e-12)


def test_lbfgs_converges_on_least_squares_and_resumes() -> None:
    """Naive oracle: the normal equations' solution; and a state_dict saved after one step
    continues as the uninterrupted run."""
    tight = {"max_iter": 200, "max_eval": 400, "tolerance_change": 1e-15,
             "tolerance_grad": 1e-12}
    traj, losses, opt = _lbfgs_run(numcnn, "lsq", tight, 2, np.float64)
    params, f = _problem(numcnn, "lsq", np.float64)
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((20, 3)), rng.standard_normal((20, 2))
    xa = np.hstack([x, np.ones((20, 1))])
    reg = np.diag([0.1 * 20 / 2 * 2] * 3 + [0.0])     # d/dw 0.1|w|^2 = 0.2 w vs mean over 40
    sol = np.linalg.solve(xa.T @ xa / 40 * 2 + reg * 2 / 20, xa.T @ y / 40 * 2)
    np.testing.assert_allclose(traj[-1][0], sol[:3], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(traj[-1][1], sol[3], rtol=1e-6, atol=1e-8)
    assert traj[-1][2].tolist() == [1.0, 1.0]          # no gradient: never moves

    full, _, _ = _lbfgs_run(numcnn, "rosenbrock", {"lr": 0.1, "max_iter": 4}, 3, np.float64)
    first_traj, _, first = _lbfgs_run(numcnn, "rosenbrock", {"lr": 0.1, "max_iter": 4}, 1,
                                      np.float64)
    params, f = _problem(numcnn, "rosenbrock", np.float64)
    params[0].array[...] = first_traj[-1][0]
    second = NO.LBFGS(params, lr=0.1, max_iter=4)
    second.load_state_dict(first.state_dict())

    def closure() -> Any:
        second.zero_grad()
        loss = f()
        loss.backward()
        return loss

    for k in (1, 2):
        second.step(closure)
        np.testing.assert_array_equal(params[0].array, full[k][0])
