"""numcnn.nn.parallel: the names of torch.nn.parallel that CPU code meets (`DataParallel`)."""

from numcnn.nn.parallel.data_parallel import DataParallel

__all__ = ["DataParallel"]
