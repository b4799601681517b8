"""Benchmark: one training epoch of seed 004's Fashion-MNIST CNN, numcnn vs PyTorch.

Both frameworks train the same model (`build` from bench/train_step.py) on the real
Fashion-MNIST training split (60,000 images; found as `numcnn train` finds it), with Adam
(lr 0.001) and batch 128, for one full epoch, each in its own subprocess:

- numcnn: exactly the input pipeline `numcnn train` uses — `numcnn.data.DataLoader` (shuffled,
  batched transforms ToTensor + Normalize) — and a plain loop of forward, cross-entropy,
  backward and `Adam.step`.
- PyTorch: its best case on CPU — the whole split normalised once into a tensor, each batch a
  slice of a `torch.randperm` permutation (no DataLoader), the same loop.

Each epoch is timed from its first batch to its last `step` (the model is built and the data
read before the clock starts). `--epochs 2` times a second epoch too (warm caches); the
report uses the fastest epoch per framework. Then numcnn's DataLoader runs one more epoch
alone, synchronously (no prefetch), with the plain and with the `--augment` pipeline (random
crop with padding 2, horizontal flip): its cost as a share of the training epoch.
`--limit N` trains on the first N images only (for a quick look; the recorded numbers use the
full split).

    python bench/train_epoch.py [--epochs 1] [--batch 128] [--limit N] [--data DIR]
                                [--interleave B]

`--interleave B` runs both in one process instead, their epochs in lockstep, alternating blocks
of B batches (see `interleaved`): the fair comparison on a shared, loaded machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_step import build, run_workers  # noqa: E402  (shared with the step benchmark)

MEAN, STD = 0.2860, 0.3530     # Fashion-MNIST training split, as `numcnn train` uses


def _dataset(data: str | None, limit: int | None) -> Any:
    from numcnn.data import FashionMNIST

    ds = FashionMNIST(root=data, train=True)
    if limit is not None:
        ds.data, ds.targets = ds.data[:limit], ds.targets[:limit]
    return ds


def worker(framework: str, epochs: int, batch: int, data: str | None,
           limit: int | None) -> dict[str, Any]:
    ds = _dataset(data, limit)
    times, losses = [], []
    if framework == "torch":
        import torch

        torch.manual_seed(0)
        model = build(torch.nn)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        x_all = (torch.from_numpy(ds.data).float().div_(255).unsqueeze(1) - MEAN) / STD
        y_all = torch.from_numpy(ds.targets)
        model.train()
        for _ in range(epochs):
            t0 = time.perf_counter()
            order = torch.randperm(len(y_all))
            for i in range(0, len(order), batch):
                idx = order[i:i + batch]
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(x_all[idx]), y_all[idx])
                loss.backward()
                opt.step()
            times.append(time.perf_counter() - t0)
            losses.append(float(loss))
    else:
        import numcnn
        from numcnn.data import DataLoader
        from numcnn.data import transforms as T

        numcnn.manual_seed(0)
        model = build(numcnn.nn)
        opt = numcnn.optim.Adam(model.parameters(), lr=1e-3)
        ds.transform = T.Compose([T.ToTensor(), T.Normalize([MEAN], [STD])])
        loader = DataLoader(ds, batch_size=batch, shuffle=True,
                            generator=np.random.default_rng(0))
        model.train()
        for _ in range(epochs):
            t0 = time.perf_counter()
            for x, y in loader:
                opt.zero_grad()
                loss = numcnn.nn.functional.cross_entropy(model(x), y)
                loss.backward()
                opt.step()
            times.append(time.perf_counter() - t0)
            losses.append(float(loss.item()))
        # the loader alone, synchronous (no prefetch): its whole cost inside the epoch above
        loader_s = {}
        for name, extra in (("plain", []), ("augmented", [T.RandomCrop(28, padding=2),
                                                            T.RandomHorizontalFlip()])):
            ds.transform = T.Compose([T.ToTensor(), *extra, T.Normalize([MEAN], [STD])])
            t0 = time.perf_counter()
            for _batch in loader:
                pass
            loader_s[name] = time.perf_counter() - t0
        return {"epoch_s": times, "last_loss": losses, "images": len(ds), "loader_s": loader_s}
    return {"epoch_s": times, "last_loss": losses, "images": len(ds)}


def interleaved(epochs: int, batch: int, data: str | None, limit: int | None,
                block: int) -> dict[str, Any]:
    """Both frameworks in this process, their epochs run in lockstep: `block` batches of
    numcnn (through its DataLoader), then `block` of torch, and so on, each framework's clock
    running only over its own blocks; so both see the same machine load.  Returns
    {framework: epoch seconds}."""
    import torch

    import numcnn
    from numcnn.data import DataLoader
    from numcnn.data import transforms as T

    ds = _dataset(data, limit)
    torch.manual_seed(0)
    numcnn.manual_seed(0)
    tm, nm = build(torch.nn), build(numcnn.nn)
    t_opt = torch.optim.Adam(tm.parameters(), lr=1e-3)
    n_opt = numcnn.optim.Adam(nm.parameters(), lr=1e-3)
    x_all = (torch.from_numpy(ds.data).float().div_(255).unsqueeze(1) - MEAN) / STD
    y_all = torch.from_numpy(ds.targets)
    ds.transform = T.Compose([T.ToTensor(), T.Normalize([MEAN], [STD])])
    loader = DataLoader(ds, batch_size=batch, shuffle=True, generator=np.random.default_rng(0))
    tm.train()
    nm.train()

    def torch_batches() -> Any:
        order = torch.randperm(len(y_all))
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            t_opt.zero_grad()
            torch.nn.functional.cross_entropy(tm(x_all[idx]), y_all[idx]).backward()
            t_opt.step()
            yield

    def numcnn_batches() -> Any:
        for x, y in loader:
            n_opt.zero_grad()
            numcnn.nn.functional.cross_entropy(nm(x), y).backward()
            n_opt.step()
            yield

    out: dict[str, list[float]] = {"numcnn": [], "torch": []}
    for _ in range(epochs):
        its = {"numcnn": numcnn_batches(), "torch": torch_batches()}
        spent = {"numcnn": 0.0, "torch": 0.0}
        live = ["numcnn", "torch"]
        r = 0
        while live:
            for fw in (live if r % 2 == 0 else live[::-1]):
                time.sleep(0.02)                 # let the other library's threads go idle
                t0 = time.perf_counter()
                for _ in range(block):
                    if next(its[fw], StopIteration) is StopIteration:
                        live.remove(fw)
                        break
                spent[fw] += time.perf_counter() - t0
            r += 1
        for fw in out:
            out[fw].append(spent[fw])
    return {"epoch_s": out, "images": len(ds)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    ap.add_argument("--data", default=None, help="Fashion-MNIST directory (default: as numcnn "
                                                  "train finds it)")
    ap.add_argument("--interleave", type=int, default=0, metavar="B",
                    help="run both frameworks in this process, alternating blocks of B "
                         "batches (fair on a loaded machine); default: one process each")
    ap.add_argument("--worker", choices=["numcnn", "torch"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.interleave:
        res = interleaved(args.epochs, args.batch, args.data, args.limit, args.interleave)
        n, t = res["epoch_s"]["numcnn"], res["epoch_s"]["torch"]
        print(f"seed-004 Fashion-MNIST CNN, {args.epochs} epoch(s) of {res['images']} images, "
              f"Adam, batch {args.batch}, interleaved in blocks of {args.interleave} batches")
        for fw, secs in (("numcnn", n), ("torch", t)):
            print(f"{fw:10s} epoch s: {' '.join(f'{x:.1f}' for x in secs)}  "
                  f"({res['images'] / min(secs):.0f} images/s)")
        print(f"ratio numcnn/torch (fastest epochs): {min(n) / min(t):.2f}x")
        return
    if args.worker:
        print(json.dumps(worker(args.worker, args.epochs, args.batch, args.data, args.limit)))
        return
    extra = ["--epochs", str(args.epochs), "--batch", str(args.batch)]
    extra += ["--limit", str(args.limit)] if args.limit else []
    extra += ["--data", args.data] if args.data else []
    results = run_workers(__file__, extra)
    n, t = results["numcnn"], results["torch"]
    print(f"seed-004 Fashion-MNIST CNN, one epoch of {n['images']} images, Adam, "
          f"batch {args.batch}")
    print(f"{'':10s} {'epoch seconds':>30s} {'images/s':>10s} {'last loss':>10s}")
    for fw in ("numcnn", "torch"):
        r = results[fw]
        secs = " ".join(f"{s:.1f}" for s in r["epoch_s"])
        print(f"{fw:10s} {secs:>30s} {r['images'] / min(r['epoch_s']):10.0f} "
              f"{r['last_loss'][-1]:10.4f}")
    print(f"ratio numcnn/torch (fastest epochs): {min(n['epoch_s']) / min(t['epoch_s']):.2f}x")
    for name, secs in n["loader_s"].items():
        print(f"numcnn DataLoader alone, {name} pipeline: {secs:.3f} s per epoch = "
              f"{100 * secs / min(n['epoch_s']):.2f}% of the numcnn epoch")


if __name__ == "__main__":
    main()
