"""Benchmark: one DataLoader epoch with num_workers 0 and 2, numcnn vs PyTorch, same run.

The data are CIFAR-shaped uint8 (N, 32, 32, 3) images (random pixels; `--n`, default 10,000)
and a transform-heavy, torchvision-order pipeline on each image:

    RandomRotation(15) -> RandomCrop(32, padding=4) -> RandomHorizontalFlip -> ToTensor
    -> Normalize

numcnn runs it two ways: the per-item path (`collate_fn=default_collate`: one image at a
time, as torchvision does) and the batched fast path (no collate_fn: each transform's `.batch`
on the whole batch). PyTorch (torchvision is not installed here) runs the same steps written
with torch tensor ops per item: `affine_grid` + `grid_sample` (nearest) for the rotation,
`F.pad` + a slice for the crop, `flip`, the /255 and the normalisation.

Also printed: what moving one batch (float32 (128, 3, 32, 32), 1.5 MB) from a worker costs
through a multiprocessing queue (a pipe: what numcnn's workers use) and through a
`multiprocessing.shared_memory` block, each round trip measured in this run.

    python bench/dataloader_workers.py [--n 10000] [--batch 128] [--epochs 2]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import time
from multiprocessing import resource_tracker, shared_memory
from typing import Any

import numpy as np

MEAN, STD = [0.49, 0.48, 0.45], [0.25, 0.24, 0.26]


class TorchImages:
    """The same images and steps for torch.utils.data (module level: picklable)."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> Any:
        import torch
        import torch.nn.functional as F

        x = torch.from_numpy(self.data[i]).permute(2, 0, 1).float()             # (C, H, W)
        a = math.radians(float(torch.empty(1).uniform_(-15, 15)))
        theta = torch.tensor([[[math.cos(a), -math.sin(a), 0.0],
                               [math.sin(a), math.cos(a), 0.0]]])
        grid = F.affine_grid(theta, [1, 3, 32, 32], align_corners=False)
        x = F.grid_sample(x[None], grid, mode="nearest", align_corners=False)[0]
        x = F.pad(x, (4, 4, 4, 4))
        top, left = (int(v) for v in torch.randint(0, 9, (2,)))
        x = x[:, top:top + 32, left:left + 32]
        if torch.rand(1).item() < 0.5:
            x = x.flip(-1)
        x = x / 255
        m, s = torch.tensor(MEAN)[:, None, None], torch.tensor(STD)[:, None, None]
        return (x - m) / s, i % 10


def numcnn_epoch(data: np.ndarray, batch: int, workers: int, per_item: bool,
                 epochs: int) -> float:
    from numcnn.data import DataLoader, default_collate
    from numcnn.data import transforms as T
    from numcnn.data.dataset import LabelledImages

    class Images(LabelledImages):
        def __init__(self) -> None:
            self.data, self.targets = data, np.arange(len(data), dtype=np.int64) % 10
            self.transform = T.Compose([
                T.RandomRotation(15), T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(),
                T.ToTensor(), T.Normalize(MEAN, STD)])
            self.target_transform = None

    loader = DataLoader(Images(), batch_size=batch, shuffle=True, generator=0,
                        num_workers=workers, persistent_workers=workers > 0,
                        collate_fn=default_collate if per_item else None)
    return _best(loader, epochs)


def torch_epoch(data: np.ndarray, batch: int, workers: int, epochs: int) -> float:
    import torch
    from torch.utils.data import DataLoader

    torch.set_num_threads(1)
    loader = DataLoader(TorchImages(data), batch_size=batch, shuffle=True,
                        num_workers=workers, persistent_workers=workers > 0)
    return _best(loader, epochs)


def _best(loader: Any, epochs: int) -> float:
    best = math.inf
    for _ in range(epochs):
        t0 = time.perf_counter()
        for _batch in loader:
            pass
        best = min(best, time.perf_counter() - t0)
    return best


# ----------------------------------------------------------------------------- transfer
def _pipe_child(q: Any, n: int, shape: tuple[int, ...]) -> None:
    x = np.ones(shape, np.float32)
    for _ in range(n):
        q.put(x)


def _shm_child(q: Any, n: int, shape: tuple[int, ...]) -> None:
    x = np.ones(shape, np.float32)
    for _ in range(n):
        block = shared_memory.SharedMemory(create=True, size=x.nbytes)
        np.ndarray(shape, np.float32, buffer=block.buf)[...] = x
        q.put(block.name)
        resource_tracker.unregister(block._name, "shared_memory")   # the receiver unlinks it
        block.close()


def transfer(shape: tuple[int, ...], n: int = 50) -> dict[str, float]:
    """Seconds per batch moved from a child process, by pipe and by shared memory."""
    out = {}
    for name, child in (("pipe", _pipe_child), ("shared memory", _shm_child)):
        q: Any = mp.Queue()
        p = mp.Process(target=child, args=(q, n, shape))
        p.start()
        first = q.get()                                   # start-up excluded
        _receive(name, first, shape)
        t0 = time.perf_counter()
        for _ in range(n - 1):
            _receive(name, q.get(), shape)
        out[name] = (time.perf_counter() - t0) / (n - 1)
        p.join()
    return out


def _receive(kind: str, msg: Any, shape: tuple[int, ...]) -> np.ndarray:
    if kind == "pipe":
        return np.asarray(msg)
    block = shared_memory.SharedMemory(name=msg)
    x = np.array(np.ndarray(shape, np.float32, buffer=block.buf))     # own copy, then free
    block.close()
    block.unlink()
    return x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=2, help="epochs per setting (best kept)")
    args = ap.parse_args()
    data = np.random.default_rng(0).integers(0, 256, (args.n, 32, 32, 3)).astype(np.uint8)
    print(f"{args.n} uint8 (32, 32, 3) images, batch {args.batch}, best of {args.epochs} "
          f"epochs, seconds per epoch")
    rows = []
    for workers in (0, 2):
        t_torch = torch_epoch(data, args.batch, workers, args.epochs)
        t_item = numcnn_epoch(data, args.batch, workers, True, args.epochs)
        t_fast = numcnn_epoch(data, args.batch, workers, False, args.epochs)
        rows.append((workers, t_torch, t_item, t_fast))
    print(f"{'num_workers':>11} {'torch':>8} {'numcnn per-item':>16} {'numcnn batched':>15} "
          f"{'per-item/torch':>15}")
    for workers, t_torch, t_item, t_fast in rows:
        print(f"{workers:>11} {t_torch:>8.3f} {t_item:>16.3f} {t_fast:>15.3f} "
              f"{t_item / t_torch:>15.2f}")
    shape = (args.batch, 3, 32, 32)
    cost = transfer(shape)
    mb = np.prod(shape) * 4 / 2**20
    print(f"moving one float32 {shape} batch ({mb:.1f} MB) from a worker: "
          + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in cost.items()))


if __name__ == "__main__":
    main()
