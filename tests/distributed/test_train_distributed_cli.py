"""`numcnn train --nproc 2` / `mpirun -n 2 numcnn train --distributed`: one log (rank 0's),
metrics over the global batch, and issue 17's failure drill: kill -9 one rank mid-epoch, the
other stops with an error within a bounded time, the last checkpoint stays intact, and
resuming with 2 ranks ends bit-identical to a 2-rank run never interrupted."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import numcnn

# a killed rank's partner must be gone within this many seconds (Open MPI's mpirun notices
# the dead process and terminates the job; measured: about 1-2 s)
STOP_BOUND_S = 30
JOB = ["--data", "synthetic", "--model", "lenet5", "--limit", "1024", "--batch-size", "16",
       "--epochs", "2", "--augment", "--checkpoint-every", "5"]


def _env() -> dict[str, str]:
    src = str(Path(__file__).parents[2] / "src")
    return dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                PYTHONPATH=os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))


def _mpirun_cmd(mpirun: str, *args: str) -> list[str]:
    return [mpirun, "-n", "2", "--oversubscribe", "--allow-run-as-root", sys.executable,
            "-m", "numcnn", "train", "--distributed", *args]


def _rank_pids(root: int) -> dict[int, int]:
    """rank -> pid of the MPI processes below `root` (their OMPI_COMM_WORLD_RANK)."""
    out: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ppid = int(stat[1])
        if ppid != root:
            continue
        for item in environ:
            if item.startswith(b"OMPI_COMM_WORLD_RANK="):
                out[int(item.split(b"=", 1)[1])] = int(entry.name)
    return out


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv") as f:
        return list(csv.DictReader(f))


def test_two_processes_log_once_and_average_over_the_global_batch(tmp_path: Path,
                                                                 mpirun: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "numcnn", "train", "--nproc", "2", *JOB,
                           "--out", str(tmp_path / "run")], env=_env(), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert out.count("epoch 1/2") == 1 and out.count("test: loss") == 1     # rank 0 only
    assert "on 2 processes (batch 8 each): 1024 training images" in out
    rows = _rows(tmp_path / "run")
    assert [r["epoch"] for r in rows] == ["1", "2"]
    # 1024 images per epoch over both ranks (no padding: 1024 / 2 = 512 each): the printed
    # accuracy is a count over all 1024
    for row in rows:
        assert float(row["train_acc"]) * 1024 == pytest.approx(round(float(row["train_acc"])
                                                                     * 1024), abs=1e-6)
    ckpt = numcnn.load(tmp_path / "run" / "last.safetensors")
    assert ckpt["run"]["world_size"] == 2
    assert all(not k.startswith("module.") for k in ckpt["model"])      # the bare model
    # the same checkpoint loads in one process (eval)
    ev = subprocess.run([sys.executable, "-m", "numcnn", "eval",
                         str(tmp_path / "run" / "last.safetensors")], env=_env(),
                        capture_output=True, text=True, timeout=120)
    assert ev.returncode == 0, ev.stderr
    # resuming with another number of processes is refused (it would not continue exactly)
    one = subprocess.run([sys.executable, "-m", "numcnn", "train", "--resume",
                          str(tmp_path / "run" / "last.safetensors"), "--epochs", "3"],
                         env=_env(), capture_output=True, text=True, timeout=120)
    assert one.returncode == 1 and "resume it with as many (this is 1)" in one.stderr


def test_kill_9_one_rank_then_resume_with_two(tmp_path: Path, mpirun: str) -> None:
    ref = subprocess.run(_mpirun_cmd(mpirun, *JOB, "--out", str(tmp_path / "ref")),
                         env=_env(), capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stdout[-3000:] + ref.stderr[-3000:]

    killed = tmp_path / "killed"
    proc = subprocess.Popen(_mpirun_cmd(mpirun, *JOB, "--out", str(killed)), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (killed / "last.safetensors").exists():   # the first mid-epoch checkpoint
            if proc.poll() is not None:
                pytest.fail(f"training ended before a rank was killed: {proc.stderr.read()!r}")
            if time.monotonic() > deadline:
                pytest.fail("no checkpoint within 120 s")
            time.sleep(0.005)
        pids = _rank_pids(proc.pid)
        assert sorted(pids) == [0, 1], pids
        os.kill(pids[1], 9)                                # rank 1 dies, nothing runs after
        killed_at = time.monotonic()
        code = proc.wait(timeout=STOP_BOUND_S + 30)
        stopped_after = time.monotonic() - killed_at
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code != 0                                       # an error, not a silent success
    assert stopped_after < STOP_BOUND_S, stopped_after
    for pid in pids.values():                              # no rank left behind
        assert not Path(f"/proc/{pid}").exists() or \
            (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z")

    at_kill = numcnn.load(killed / "last.safetensors")     # intact, mid-epoch
    assert at_kill["epoch"] == 0 and at_kill["partial"] is not None
    resumed = subprocess.run([sys.executable, "-m", "numcnn", "train", "--nproc", "2",
                              "--resume", str(killed / "last.safetensors")], env=_env(),
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "resuming" in resumed.stdout
    final = numcnn.load(killed / "last.safetensors")
    expected = numcnn.load(tmp_path / "ref" / "last.safetensors")
    assert final["epoch"] == expected["epoch"] == 2
    assert final["model"].keys() == expected["model"].keys()
    for key, value in expected["model"].items():
        assert np.array_equal(final["model"][key].numpy(), value.numpy()), key
    # the metrics too: accuracy counts exactly, the loss sums up to their order of addition
    got, want = _rows(killed), _rows(tmp_path / "ref")
    assert [r["train_acc"] for r in got] == [r["train_acc"] for r in want]
    np.testing.assert_allclose([float(r["train_loss"]) for r in got],
                               [float(r["train_loss"]) for r in want], rtol=1e-12)
