"""What the MPI tests share: the `mpirun` fixture."""

from __future__ import annotations

import shutil

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
