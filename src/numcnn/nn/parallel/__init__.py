"""numcnn.nn.parallel: torch.nn.parallel's `DataParallel` (a pass-through on one CPU) and
`DistributedDataParallel` (gradients averaged over MPI ranks)."""

from numcnn.nn.parallel.data_parallel import DataParallel
from numcnn.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]
