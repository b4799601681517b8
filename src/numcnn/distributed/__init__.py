"""Data-parallel training over MPI, with torch.distributed's names.

    import numcnn.distributed as dist
    dist.init_process_group("mpi")                 # run as: mpirun -n 2 python train.py
    t = numcnn.tensor([float(dist.get_rank())])
    dist.all_reduce(t, op=dist.ReduceOp.SUM)       # every rank: 0 + 1 = 1
    work = dist.all_reduce(t, async_op=True); ...; work.wait()

The group is MPI's COMM_WORLD through mpi4py (the optional extra `pip install 'numcnn[mpi]'`),
imported only when the process was started by an MPI launcher.  Without it (a plain `python`,
or no mpi4py) the world is this one process and the collectives are identities, so a script
written for several processes runs unchanged on one.  What happens when a rank dies, and the
`timeout` option: see `numcnn.distributed.process_group`.

`nn.parallel.DistributedDataParallel`, `nn.SyncBatchNorm` and `data.DistributedSampler` are
built on this package.
"""

from numcnn.distributed.collectives import (
    ReduceOp,
    Work,
    all_gather,
    all_reduce,
    allreduce_array,
    barrier,
    broadcast,
    iallreduce_array,
)
from numcnn.distributed.process_group import (
    MPI_INSTALL_HINT,
    WORLD,
    destroy_process_group,
    get_rank,
    get_world_size,
    init,
    init_process_group,
    is_available,
    is_initialized,
    is_mpi_launched,
)


class group:  # noqa: N801 - torch.distributed.group's spelling
    """`dist.group.WORLD`, the default (and only) group."""

    WORLD = WORLD


__all__ = ["ReduceOp", "Work", "all_gather", "all_reduce", "allreduce_array", "barrier",
           "broadcast", "iallreduce_array", "destroy_process_group", "get_rank",
           "get_world_size", "init", "init_process_group", "is_available", "is_initialized",
           "is_mpi_launched", "group", "MPI_INSTALL_HINT"]
