"""What the MPI tests share: the `mpirun` fixture, and `run_ranks` to run a script on 2 ranks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest


@pytest.fixture
def mpirun() -> str:
    """The path of Open MPI's mpirun; without it or mpi4py the test is skipped, saying what to
    install (`.ci/run` installs both)."""
    pytest.importorskip("mpi4py", reason="mpi4py missing: pip install 'numcnn[mpi]'")
    path = shutil.which("mpirun")
    if path is None:
        pytest.skip("mpirun not found (Debian: apt-get install openmpi-bin libopenmpi-dev)")
    return path


@pytest.fixture
def run_ranks(mpirun: str, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """run_ranks(script, *args, timeout=120): the Python `script` (its text) as 2 MPI ranks
    sharing the cores (one BLAS thread each), with `args` on its command line; fails the test,
    showing the ranks' output, unless both succeed."""

    def run(script: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        path = tmp_path / "ranks_script.py"
        path.write_text(script)
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        proc = subprocess.run([mpirun, "--allow-run-as-root", "--oversubscribe", "-n", "2",
                               sys.executable, str(path), *args],
                              env=env, capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc

    return run
