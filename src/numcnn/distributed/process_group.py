"""The default process group: MPI's world communicator, or one process without MPI.

A script starts the same way as with `torch.distributed`:

    import numcnn.distributed as dist
    dist.init_process_group("mpi")           # or dist.init()
    rank, world = dist.get_rank(), dist.get_world_size()

Started by `mpirun -n P` (or `srun --mpi=pmix`), the group is a duplicate of MPI's
COMM_WORLD, reached through mpi4py (`pip install 'numcnn[mpi]'`), imported only here and only
then.  Started by a plain `python`, or without mpi4py, the group is this one process: rank 0,
world size 1, and every collective returns its input (a sum or an average over one process), so
the same script runs unchanged.  Before `init_process_group` a plain process already answers
rank 0 / world size 1; a process that an MPI launcher started as one of several must call it
first (as in PyTorch, asking earlier is a ValueError).

When a rank dies or raises
--------------------------
MPI has no recovery from a lost rank; what happens is the launcher's doing.  With Open MPI, a
rank that is killed (even by SIGKILL) or exits without finalising MPI makes `mpirun` kill every
other rank of the job and exit non-zero ("mpirun noticed that process rank 1 ... exited on
signal 9"), so the survivors never hang in a collective: they are stopped within about a second.
A Python exception is different: the rank would finalise MPI on its way out and could wait
forever for ranks blocked in a collective it never joins.  So, with more than one process,
`init_process_group` installs an exception hook that prints the traceback and then calls
`MPI_Abort` on the world communicator: the launcher stops every rank and the job exits with an
error.  A checkpoint written atomically before that (rank 0 writes a temporary file and renames
it) stays intact.

`timeout` (seconds or a `datetime.timedelta`): without it, a collective blocks in MPI until it
completes (a peer stuck in a loop without dying blocks everyone, as in any MPI program).  With
it, every collective and every `Work.wait()` of this group polls its request and raises
`RuntimeError` naming the operation and the rank when it has not completed within `timeout`;
the exception hook then aborts the job.  Polling costs a little latency per collective, so it
is off by default.
"""

from __future__ import annotations

import datetime
import os
import sys
from typing import Any

__all__ = ["init_process_group", "init", "is_available", "is_initialized", "get_rank",
           "get_world_size", "destroy_process_group", "is_mpi_launched", "MPI_INSTALL_HINT"]

MPI_INSTALL_HINT = "pip install 'numcnn[mpi]'"

# environment variables by which MPI launchers tell a process the job's size (or that it is in
# one): Open MPI's mpirun, MPICH/Hydra and Intel MPI, MVAPICH, and PMIx (srun --mpi=pmix)
_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE")
_RANK_VARS = ("PMIX_RANK", "PMI_RANK")


class _Group:
    """The state of the default group: the communicator (None for one process without MPI)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.comm: Any = None
        self.rank = 0
        self.size = 1
        self.timeout: float | None = None
        self.initialized = False
        self.previous_excepthook: Any = None


_group = _Group()


def is_available() -> bool:
    """Whether the MPI backend can be used: mpi4py can be imported.  (Without it numcnn still
    runs everything as one process.)"""
    import importlib.util

    return importlib.util.find_spec("mpi4py") is not None


def is_mpi_launched() -> int | None:
    """The world size an MPI launcher announced to this process (-1 when it announced only a
    rank), or None when no launcher started it."""
    for var in _SIZE_VARS:
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    for var in _RANK_VARS:
        if os.environ.get(var, "").isdigit():
            return -1
    return None


def _seconds(timeout: Any) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, datetime.timedelta):
        timeout = timeout.total_seconds()
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds or a timedelta, "
                         f"got {timeout!r}")
    return float(timeout)


def _abort_on_exception(exc_type: Any, exc: Any, tb: Any) -> None:
    """sys.excepthook while a multi-process group exists: report, then stop the whole job."""
    hook = _group.previous_excepthook or sys.__excepthook__
    hook(exc_type, exc, tb)
    if _group.initialized and _group.comm is not None:
        sys.stderr.write(f"numcnn.distributed: rank {_group.rank} raised {exc_type.__name__}; "
                         "aborting all ranks (MPI_Abort)\n")
        sys.stderr.flush()
        from mpi4py import MPI

        MPI.COMM_WORLD.Abort(1)


def init_process_group(backend: str | None = "mpi", init_method: str | None = None,
                       timeout: Any = None, world_size: int = -1, rank: int = -1,
                       store: Any = None, group_name: str = "", pg_options: Any = None,
                       device_id: Any = None, abort_on_exception: bool = True) -> None:
    """Join the default process group (torch.distributed.init_process_group; the backend is MPI).

    Args:
        backend: "mpi" (or None); NCCL and Gloo are PyTorch's and are refused.
        init_method, store, group_name, pg_options, device_id: accepted for PyTorch's signature;
            MPI's launcher already says who the peers are, so they are not used.
        timeout: seconds (or a timedelta) after which a collective that has not completed raises
            RuntimeError (see the module's notes); None: wait as long as MPI does.
        world_size, rank: if given, checked against what the launcher started.
        abort_on_exception: with more than one process, an uncaught exception on any rank calls
            MPI_Abort, so the others stop instead of waiting in a collective.

    Raises:
        RuntimeError: called twice; or more than one process is wanted but mpi4py is missing
            (the message says what to install) or the script was not started by mpirun.
        ValueError: an unknown backend, or world_size/rank that differ from the launcher's.
    """
    if _group.initialized:
        raise RuntimeError("trying to initialize the default process group twice!")
    if backend is not None and str(backend).lower() != "mpi":
        raise ValueError(f"numcnn.distributed supports backend='mpi' only (over mpi4py), "
                         f"got backend={backend!r}")
    seconds = _seconds(timeout)
    launched = is_mpi_launched()
    wants_many = (world_size not in (-1, 1)) or (rank not in (-1, 0))
    if launched is None or launched == 1:
        if not (launched == 1 and is_available()):
            if wants_many:
                raise RuntimeError(
                    f"world_size={world_size}, rank={rank} asked for, but this process was not "
                    f"started by an MPI launcher: run it as `mpirun -n N python ...` "
                    f"(and {MPI_INSTALL_HINT})")
            _group.comm, _group.rank, _group.size = None, 0, 1
            _group.timeout, _group.initialized = seconds, True
            return
    try:
        from mpi4py import MPI
    except ImportError:
        raise RuntimeError(
            f"this process is one of {launched if launched and launched > 0 else 'several'} "
            f"started by an MPI launcher, and numcnn.distributed needs mpi4py for that: "
            f"{MPI_INSTALL_HINT}") from None
    comm = MPI.COMM_WORLD.Dup()
    size, me = comm.Get_size(), comm.Get_rank()
    if world_size not in (-1, size) or rank not in (-1, me):
        comm.Free()
        raise ValueError(f"world_size={world_size}, rank={rank} given, but MPI started this "
                         f"process as rank {me} of {size}")
    _group.comm, _group.rank, _group.size = comm, me, size
    _group.timeout, _group.initialized = seconds, True
    if abort_on_exception and size > 1 and sys.excepthook is not _abort_on_exception:
        _group.previous_excepthook = sys.excepthook
        sys.excepthook = _abort_on_exception


def init(timeout: Any = None) -> None:
    """`init_process_group("mpi")`, the short spelling the issue names; a second call is a
    no-op (so library code may call it to make sure)."""
    if not _group.initialized:
        init_process_group("mpi", timeout=timeout)


def is_initialized() -> bool:
    """Whether `init_process_group` has been called (and not undone by
    `destroy_process_group`)."""
    return _group.initialized


def _check_group(group: Any) -> None:
    if group is not None and group is not WORLD:
        raise ValueError("numcnn.distributed has one process group (the world); pass group=None")


def _default() -> _Group:
    """The group collectives run on; a plain process needs no init, a launched one does."""
    if not _group.initialized:
        launched = is_mpi_launched()
        if launched is not None and launched != 1:
            raise ValueError("Default process group has not been initialized, please make sure "
                             "to call init_process_group.")
    return _group


def get_rank(group: Any = None) -> int:
    """This process's rank in the group (0 for a single process)."""
    _check_group(group)
    return _default().rank


def get_world_size(group: Any = None) -> int:
    """The number of processes in the group (1 for a single process)."""
    _check_group(group)
    return _default().size


def destroy_process_group(group: Any = None) -> None:
    """Leave the default group (frees its communicator; MPI itself is finalised at exit, by
    mpi4py).  `init_process_group` may be called again afterwards."""
    _check_group(group)
    if _group.comm is not None:
        _group.comm.Free()
    if sys.excepthook is _abort_on_exception:
        sys.excepthook = _group.previous_excepthook or sys.__excepthook__
    _group.reset()


class _World:
    """`dist.group.WORLD`: the only group there is."""

    def __repr__(self) -> str:
        return "<numcnn.distributed.group.WORLD>"


WORLD = _World()
