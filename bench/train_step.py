"""Benchmark: one SGD training step of seed 004's Fashion-MNIST CNN, numcnn vs PyTorch.

The model (seed 004, `fmnist_cnn.py`): two blocks of conv-relu-BN-conv-relu-BN-maxpool-dropout
with 32 and 64 channels, then 3136 -> 512 (relu, BN, dropout) -> 10.  Batch 128, 1x28x28.

Both frameworks build the model from the same code (their `nn` namespaces share the API), start
from the same weights, and do forward, cross-entropy, backward and a plain SGD update.  Each
framework runs in its own subprocess so that peak memory can be read as the growth of the
process's peak RSS over the training steps (from just before the first step).

    python bench/train_step.py [--steps 20] [--batch 128] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np


def build(nn: Any) -> Any:
    """Seed 004's block CNN, written once for any framework with torch.nn's API."""

    def block(c_in: int, c_out: int) -> list[Any]:
        return [
            nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(c_out),
            nn.Conv2d(c_out, c_out, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(c_out),
            nn.MaxPool2d(2), nn.Dropout(0.25),
        ]

    return nn.Sequential(
        *block(1, 32), *block(32, 64),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 512), nn.ReLU(), nn.BatchNorm1d(512), nn.Dropout(0.5),
        nn.Linear(512, 10),
    )


def _rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _current_rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024


def worker(framework: str, steps: int, batch: int, threads: int | None) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    x = rng.random((batch, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    lr = 0.01
    if framework == "torch":
        import torch

        if threads:
            torch.set_num_threads(threads)
        torch.manual_seed(0)
        model = build(torch.nn)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        params = list(model.parameters())

        def step() -> float:
            for p in params:
                p.grad = None
            loss = torch.nn.functional.cross_entropy(model(xt), yt)
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p.add_(p.grad, alpha=-lr)
            return float(loss)
    else:
        import numcnn

        numcnn.manual_seed(0)
        model = build(numcnn.nn)
        xt, yt = numcnn.from_numpy(x), numcnn.from_numpy(y)
        params = list(model.parameters())

        def step() -> float:
            for p in params:
                p.grad = None
            loss = numcnn.nn.functional.cross_entropy(model(xt), yt)
            loss.backward()
            with numcnn.no_grad():
                for p in params:
                    p.array -= lr * p.grad.array
            return float(loss.item())

    model.train()
    base = _current_rss_kib()  # model, data and libraries are in; no step has run yet
    step()  # warm-up (allocations, BLAS threads)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    peak = _rss_kib()
    return {"median_ms": 1e3 * float(np.median(times)), "min_ms": 1e3 * float(np.min(times)),
            "peak_growth_mib": max(peak - base, 0) / 1024, "peak_rss_mib": peak / 1024}



def run_workers(script: str, extra: list[str]) -> dict[str, Any]:
    """Run `script --worker FW *extra` for torch, then numcnn, each in its own process; each
    prints one JSON line last. Returns {framework: that JSON}."""
    results = {}
    for fw in ("torch", "numcnn"):
        cmd = [sys.executable, script, "--worker", fw, *extra]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results[fw] = json.loads(out.strip().splitlines()[-1])
    return results

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--worker", choices=["numcnn", "torch"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.steps, args.batch, args.threads)))
        return
    results = run_workers(__file__, ["--steps", str(args.steps), "--batch", str(args.batch)]
                          + (["--threads", str(args.threads)] if args.threads else []))
    n, t = results["numcnn"], results["torch"]
    print(f"seed-004 Fashion-MNIST CNN, one SGD step, batch {args.batch}, "
          f"median of {args.steps} steps")
    print(f"{'':10s} {'median ms':>10s} {'min ms':>8s} {'peak growth MiB':>16s}")
    for fw in ("numcnn", "torch"):
        r = results[fw]
        print(f"{fw:10s} {r['median_ms']:10.1f} {r['min_ms']:8.1f} {r['peak_growth_mib']:16.1f}")
    print(f"ratio numcnn/torch: time {n['median_ms'] / t['median_ms']:.2f}x, "
          f"peak memory growth {n['peak_growth_mib'] / max(t['peak_growth_mib'], 1e-9):.2f}x")


if __name__ == "__main__":
    main()
