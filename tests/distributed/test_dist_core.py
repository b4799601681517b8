"""The autograd hooks DistributedDataParallel is built on, and `numcnn.distributed`'s process group.

Oracles: PyTorch's own hooks and engine callback run on the same graphs (what each hook sees,
how often, in what order relative to the gradients), the values each rank computes for itself
with NumPy (for the collectives under `mpirun -n 2`), and the identity (world size 1).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import numcnn
from numcnn import autograd as nc_autograd


def _queue_torch(fn):
    torch.autograd.Variable._execution_engine.queue_callback(fn)


def _graph(lib, queue, use_callback=True):
    """w1 used three times, w2 twice, b once; every hook records what it saw.

    Returns (events, leaves, loss): events is a list of (kind, name, grad-at-that-time copy).
    """
    rng = np.random.default_rng(0)
    arrays = {"w1": rng.standard_normal((3, 4)), "w2": rng.standard_normal((3, 4)),
              "b": rng.standard_normal(4)}
    leaves = {k: lib.tensor(v, requires_grad=True) for k, v in arrays.items()}
    x = lib.tensor(rng.standard_normal((3, 4)))
    events: list = []

    def snap(t):
        return None if t.grad is None else np.array(t.grad.detach().numpy(), copy=True)

    for name, t in leaves.items():
        t.register_hook(lambda g, name=name: events.append(("pre", name, None)))

        def post(p, name=name):
            events.append(("post", name, snap(p)))
            if use_callback and name == "w1":
                queue(lambda: events.append(
                    ("callback", "all", {k: snap(v) for k, v in leaves.items()})))
        t.register_post_accumulate_grad_hook(post)
    w1, w2, b = leaves["w1"], leaves["w2"], leaves["b"]
    h = (x * w1 + w1 * w1).tanh() * w2 + b
    loss = (h * w1).sum() + (w2 * w2).sum()
    return events, leaves, loss


def test_post_accumulate_hook_and_callback_match_torch():
    nc_events, nc_leaves, nc_loss = _graph(numcnn, nc_autograd.queue_callback)
    t_events, t_leaves, t_loss = _graph(torch, _queue_torch)
    for _ in range(2):          # the second pass accumulates onto the first's .grad
        del nc_events[:], t_events[:]
        nc_loss.backward(retain_graph=True)
        t_loss.backward(retain_graph=True)
        # each leaf: its gradient hook, then once its post-accumulate hook seeing the final .grad
        for name in ("w1", "w2", "b"):
            nc_seq = [(k, g) for k, n, g in nc_events if n == name]
            t_seq = [(k, g) for k, n, g in t_events if n == name]
            assert [k for k, _ in nc_seq] == [k for k, _ in t_seq] == ["pre", "post"]
            np.testing.assert_allclose(nc_seq[1][1], t_seq[1][1], rtol=1e-7, atol=1e-12)
            np.testing.assert_allclose(nc_seq[1][1], nc_leaves[name].grad.numpy(), rtol=0)
        # the callback runs once, last, when every gradient is in
        for events, leaves in ((nc_events, nc_leaves), (t_events, t_leaves)):
            assert [e[0] for e in events].count("callback") == 1
            assert events[-1][0] == "callback"
            for name, g in events[-1][2].items():
                np.testing.assert_array_equal(g, leaves[name].grad.detach().numpy())


def _chain(lib, nn):
    lib.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3), nn.Tanh(),
                          nn.Linear(3, 2)).double()
    return model


def test_post_accumulate_hooks_fire_during_the_pass_as_in_torch():
    """A late layer's parameters are complete (and their hooks run) before an early layer's
    gradient exists: the order DDP's overlap of communication with backward relies on."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 4))
    seen = {}
    for lib, nn in ((numcnn, numcnn.nn), (torch, torch.nn)):
        model = _chain(lib, nn)
        params = dict(model.named_parameters())
        order: list = []
        for name, p in params.items():
            def hook(t, name=name, params=params, order=order):
                order.append((name, tuple(sorted(k for k, q in params.items()
                                                 if q.grad is not None))))
            p.register_post_accumulate_grad_hook(hook)
        model(lib.tensor(x)).sum().backward()
        seen[lib.__name__] = order
    nc, tt = seen["numcnn"], seen["torch"]
    assert len(nc) == len(tt) == 6
    # when the first layer's weight hook runs, which grads existed (torch decides the order
    # among a layer's own weight and bias; the layers' order is the graph's)
    nc_layers = [name.split(".")[0] for name, _ in nc]
    t_layers = [name.split(".")[0] for name, _ in tt]
    assert nc_layers == t_layers == ["4", "4", "2", "2", "0", "0"]
    for (n1, before1), (n2, before2) in zip(sorted(nc), sorted(tt)):
        assert n1 == n2
        layer = n1.split(".")[0]
        assert {b for b in before1 if not b.startswith(layer)} == \
            {b for b in before2 if not b.startswith(layer)}


def test_post_accumulate_hook_errors_and_remove_as_torch():
    for lib in (numcnn, torch):
        x = lib.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="non-leaf"):
            (x * 2).register_post_accumulate_grad_hook(lambda t: None)
        with pytest.raises(RuntimeError, match="doesn't require gradient"):
            lib.ones(3).register_post_accumulate_grad_hook(lambda t: None)
        calls: list = []
        h = x.register_post_accumulate_grad_hook(lambda t, calls=calls: calls.append(1))
        x.register_post_accumulate_grad_hook(lambda t, calls=calls: calls.append(2))
        (x * x).sum().backward()
        assert calls == [1, 2]
        h.remove()
        (x * x).sum().backward()
        assert calls == [1, 2, 2]
        np.testing.assert_allclose(np.asarray(x.grad.detach().numpy()), [4.0, 4.0, 4.0])


def test_post_accumulate_hook_with_inputs_and_autograd_grad_as_torch():
    counts = {}
    for lib in (numcnn, torch):
        a = lib.ones(2, requires_grad=True)
        b = lib.ones(2, requires_grad=True)
        calls: list = []
        a.register_post_accumulate_grad_hook(lambda t, calls=calls: calls.append("a"))
        b.register_post_accumulate_grad_hook(lambda t, calls=calls: calls.append("b"))
        (a * b).sum().backward(inputs=[a])        # only a's .grad is accumulated
        lib.autograd.grad((a * b).sum(), [a, b])  # .grad untouched: no post hooks
        counts[lib.__name__] = calls
    assert counts["numcnn"] == counts["torch"] == ["a"]


def test_queue_callback_outside_backward_raises_as_torch():
    for queue in (nc_autograd.queue_callback, _queue_torch):
        with pytest.raises(RuntimeError, match="during backward pass"):
            queue(lambda: None)


def test_queue_callback_chained_and_in_autograd_grad():
    for lib, queue in ((numcnn, nc_autograd.queue_callback), (torch, _queue_torch)):
        log: list = []
        a = lib.ones(2, requires_grad=True)

        def hook(g, queue=queue, log=log):
            queue(lambda: (log.append("first"), queue(lambda: log.append("second"))))
            return None
        m = a * 3
        m.register_hook(hook)
        m.sum().backward(retain_graph=True)
        assert log == ["first", "second"], lib.__name__
        log.clear()
        lib.autograd.grad(m.sum(), [a])   # callbacks run at the end of autograd.grad too
        assert log == ["first", "second"], lib.__name__
    # a callback that raises propagates, and the next backward has a clean queue
    a = numcnn.ones(2, requires_grad=True)
    h = a.register_hook(lambda g: nc_autograd.queue_callback(lambda: 1 / 0))
    with pytest.raises(ZeroDivisionError):
        (a * 3).sum().backward()
    h.remove()
    (a * 3).sum().backward()
    with pytest.raises(RuntimeError):
        nc_autograd.queue_callback(lambda: None)


# ------------------------------------------------------------------ numcnn.distributed
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numcnn.distributed as dist  # noqa: E402
from numcnn.distributed import process_group  # noqa: E402

_LAUNCH_VARS = process_group._SIZE_VARS + process_group._RANK_VARS


@pytest.fixture
def plain_process(monkeypatch):
    """This test process as a plain `python`: no launcher variables, no group left behind."""
    for var in _LAUNCH_VARS:
        monkeypatch.delenv(var, raising=False)
    dist.destroy_process_group()
    yield
    dist.destroy_process_group()


def test_one_process_without_init_is_rank_0_of_1(plain_process):
    assert not dist.is_initialized()
    assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
    x = np.arange(6.0).reshape(2, 3)
    assert dist.allreduce_array(x.copy(), dist.ReduceOp.AVG).tolist() == x.tolist()


def test_one_process_collectives_are_identities(plain_process):
    dist.init_process_group("mpi")
    assert dist.is_initialized() and (dist.get_rank(), dist.get_world_size()) == (0, 1)
    x = np.random.default_rng(3).standard_normal((3, 4))
    for op in dist.ReduceOp:           # SUM, AVG, MAX, MIN, PRODUCT over one process: x itself
        t = numcnn.tensor(x.copy())
        assert dist.all_reduce(t, op=op) is None
        np.testing.assert_array_equal(t.numpy(), x)
        work = dist.all_reduce(t, op=op, async_op=True)
        assert work.is_completed() and work.wait()
        np.testing.assert_array_equal(t.numpy(), x)
    t = numcnn.tensor(x.copy())
    dist.broadcast(t, src=0)
    np.testing.assert_array_equal(t.numpy(), x)
    out = [numcnn.zeros(3, 4, dtype=numcnn.float64)]
    dist.all_gather(out, numcnn.tensor(x))
    np.testing.assert_array_equal(out[0].numpy(), x)
    assert dist.barrier() is None
    work = dist.iallreduce_array(x.copy())
    assert isinstance(work, dist.Work) and work.wait()
    dist.init()                         # already initialised: a no-op
    with pytest.raises(RuntimeError, match="twice"):
        dist.init_process_group("mpi")


def test_argument_errors(plain_process):
    with pytest.raises(ValueError, match="backend='mpi'"):
        dist.init_process_group("nccl")
    with pytest.raises(RuntimeError, match="mpirun"):
        dist.init_process_group("mpi", world_size=2)
    with pytest.raises(ValueError, match="timeout"):
        dist.init_process_group("mpi", timeout=-1)
    dist.init_process_group()
    with pytest.raises(ValueError, match="src"):
        dist.broadcast(numcnn.zeros(2), src=1)
    with pytest.raises(ValueError, match="one tensor per rank"):
        dist.all_gather([numcnn.zeros(2)] * 2, numcnn.zeros(2))
    with pytest.raises(ValueError, match="op must be"):
        dist.all_reduce(numcnn.zeros(2), op="mean")
    with pytest.raises(ValueError, match="floating"):
        dist.allreduce_array(np.zeros(2, dtype=np.int64), dist.ReduceOp.AVG)
    with pytest.raises(TypeError, match="Tensor"):
        dist.all_reduce(np.zeros(2))
    with pytest.raises(ValueError, match="one process group"):
        dist.get_rank(group="other")
    assert dist.get_world_size(dist.group.WORLD) == 1


def test_launched_without_mpi4py_says_what_to_install(plain_process, monkeypatch):
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="init_process_group"):
        dist.get_rank()                 # one of two processes must init first, as torch
    monkeypatch.setitem(sys.modules, "mpi4py", None)     # import mpi4py -> ImportError
    with pytest.raises(RuntimeError, match=r"pip install 'numcnn\[mpi\]'"):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()


def _mpirun(mpirun: str, tmp_path: Path, script: str, n: int = 2, timeout: float = 120.0):
    path = tmp_path / "ranks.py"
    path.write_text(textwrap.dedent(script))
    env = {k: v for k, v in os.environ.items() if k not in _LAUNCH_VARS}
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               PYTHONPATH=str(Path(numcnn.__file__).parents[1]))
    cmd = [mpirun, "--allow-run-as-root", "--oversubscribe", "-n", str(n), sys.executable,
           str(path)]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    return proc, time.monotonic() - start


_RANK_DATA = """
import numpy as np

def rank_data(r):
    rng = np.random.default_rng(100 + r)
    return dict(f64=rng.standard_normal((3, 5)), f32=rng.standard_normal(7).astype(np.float32),
                i64=rng.integers(-50, 50, size=6), f16=rng.standard_normal(4).astype(np.float16),
                prod=rng.uniform(0.5, 1.5, size=3), row=rng.standard_normal(2))
"""


def test_collectives_over_two_ranks(tmp_path, mpirun):
    script = _RANK_DATA + textwrap.dedent("""
    import json
    import numcnn
    import numcnn.distributed as dist

    dist.init_process_group("mpi")
    r, w = dist.get_rank(), dist.get_world_size()
    d = rank_data(r)
    res = {"rank": r, "world": w}
    t = numcnn.tensor(d["f64"].copy()); dist.all_reduce(t); res["sum"] = t.tolist()
    t = numcnn.tensor(d["f32"].copy()); dist.all_reduce(t, op=dist.ReduceOp.AVG)
    res["avg"] = t.tolist()
    t = numcnn.tensor(d["i64"].copy()); dist.all_reduce(t, op=dist.ReduceOp.MAX)
    res["max"] = t.tolist()
    t = numcnn.tensor(d["i64"].copy()); dist.all_reduce(t, op=dist.ReduceOp.MIN)
    res["min"] = t.tolist()
    t = numcnn.tensor(d["prod"].copy()); dist.all_reduce(t, op=dist.ReduceOp.PRODUCT)
    res["prod"] = t.tolist()
    t = numcnn.tensor(d["f16"].copy()); dist.all_reduce(t); res["f16"] = t.tolist()
    t = numcnn.tensor(d["f64"].copy()).t()             # a non-contiguous view: written through
    dist.all_reduce(t); res["transposed"] = t.tolist()
    t = numcnn.tensor(d["f64"].copy()); dist.broadcast(t, src=1); res["bcast"] = t.tolist()
    outs = [numcnn.zeros(2, dtype=numcnn.float64) for _ in range(w)]
    dist.all_gather(outs, numcnn.tensor(d["row"])); res["gather"] = [o.tolist() for o in outs]
    t = numcnn.tensor(d["f64"].copy())
    work = dist.all_reduce(t, op=dist.ReduceOp.AVG, async_op=True)
    res["async_ok"] = bool(work.wait()) and work.is_completed()
    res["async"] = t.tolist()
    a = d["f32"].copy(); dist.iallreduce_array(a, "sum").wait(); res["iarr"] = a.tolist()
    dist.barrier()
    dist.destroy_process_group()
    print(json.dumps(res), flush=True)
    """)
    proc, _ = _mpirun(mpirun, tmp_path, script)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(s) for s in proc.stdout.splitlines() if s.startswith("{")]
    assert sorted(x["rank"] for x in lines) == [0, 1] and all(x["world"] == 2 for x in lines)
    ns: dict = {}
    exec(textwrap.dedent(_RANK_DATA), ns)
    d0, d1 = ns["rank_data"](0), ns["rank_data"](1)
    for res in lines:
        np.testing.assert_allclose(res["sum"], d0["f64"] + d1["f64"], rtol=1e-15)
        np.testing.assert_allclose(res["avg"], (d0["f32"] + d1["f32"]) / 2, rtol=1e-6)
        assert res["max"] == np.maximum(d0["i64"], d1["i64"]).tolist()
        assert res["min"] == np.minimum(d0["i64"], d1["i64"]).tolist()
        np.testing.assert_allclose(res["prod"], d0["prod"] * d1["prod"], rtol=1e-15)
        np.testing.assert_allclose(res["f16"], (d0["f16"].astype(np.float32)
                                                + d1["f16"].astype(np.float32)), rtol=1e-3)
        np.testing.assert_allclose(res["transposed"], (d0["f64"] + d1["f64"]).T, rtol=1e-15)
        np.testing.assert_array_equal(res["bcast"], d1["f64"])
        np.testing.assert_array_equal(res["gather"], [d0["row"], d1["row"]])
        assert res["async_ok"] is True
        np.testing.assert_allclose(res["async"], (d0["f64"] + d1["f64"]) / 2, rtol=1e-15)
        np.testing.assert_allclose(res["iarr"], d0["f32"] + d1["f32"], rtol=1e-6)


def test_a_rank_that_raises_or_stalls_stops_the_job(tmp_path, mpirun):
    """Rank 1 never joins the collective: with timeout=2 s rank 0's all_reduce raises, the
    exception hook aborts the job, and mpirun exits non-zero well within the bound."""
    script = """
    import time
    import numcnn
    import numcnn.distributed as dist

    dist.init_process_group("mpi", timeout=2.0)
    if dist.get_rank() == 1:
        time.sleep(60)                       # stalled, not dead
    dist.all_reduce(numcnn.ones(3))
    print("unreachable", flush=True)
    """
    proc, took = _mpirun(mpirun, tmp_path, script, timeout=60)
    assert proc.returncode != 0
    assert "unreachable" not in proc.stdout
    assert "did not complete within 2 s" in proc.stderr
    assert "aborting all ranks" in proc.stderr
    assert took < 30, took


def test_a_rank_killed_mid_collective_stops_the_others(tmp_path, mpirun):
    """What the module documents for Open MPI: a rank killed by SIGKILL makes mpirun stop the
    rank blocked in all_reduce (no timeout set), and the job exits non-zero."""
    script = """
    import os, signal
    import numcnn
    import numcnn.distributed as dist

    dist.init_process_group("mpi")
    dist.barrier()
    if dist.get_rank() == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    dist.all_reduce(numcnn.ones(3))
    print("unreachable", flush=True)
    """
    proc, took = _mpirun(mpirun, tmp_path, script, timeout=60)
    assert proc.returncode != 0
    assert "unreachable" not in proc.stdout
    assert took < 30, took
