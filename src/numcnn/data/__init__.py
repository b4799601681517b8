"""numcnn.data: datasets, samplers, the DataLoader, transforms and dataset readers.

The names of `torch.utils.data` (Dataset, IterableDataset, TensorDataset, Subset,
ConcatDataset, ChainDataset, random_split, samplers (incl. SubsetRandomSampler and
WeightedRandomSampler), DataLoader with worker processes, default_collate,
get_worker_info; also reachable as `numcnn.utils.data`) and of torchvision's datasets and transforms
(`numcnn.data.transforms`; `MNIST`, `FashionMNIST` from IDX files; `CIFAR10`, `CIFAR100` from
the official binary archives; `ImageFolder`, `DatasetFolder` for one folder per class, images
read with the optional Pillow), plus the generated `SyntheticShapes`.
"""

from numcnn.data import transforms
from numcnn.data.cifar import CIFAR10, CIFAR100
from numcnn.data.dataloader import DataLoader, default_collate, default_convert, get_worker_info
from numcnn.data.dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    random_split,
)
from numcnn.data.distributed import DistributedSampler
from numcnn.data.folder import DatasetFolder, ImageFolder
from numcnn.data.idx import MNIST, FashionMNIST, read_idx
from numcnn.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from numcnn.data.synthetic import SyntheticShapes

__all__ = [
    "DistributedSampler",
    "Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset",
    "random_split", "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
    "WeightedRandomSampler", "BatchSampler",
    "DataLoader", "default_collate", "default_convert", "get_worker_info",
    "transforms", "MNIST", "FashionMNIST", "read_idx", "CIFAR10", "CIFAR100",
    "ImageFolder", "DatasetFolder", "SyntheticShapes",
]
