"""Benchmark (not a test): single ops, numcnn vs PyTorch, timed in the same run.

    python bench/ops.py [--repeats 7] [--only conv2d] [--rows 0,3]

Every row runs one op on the same float32 arrays in both frameworks (torch at its default
thread count), forward alone (no graph) and forward + backward (the gradients of every input
in the row's `grad` list, from one fixed random upstream gradient).  Each time is the median of
about `--repeats` runs, taken in two rounds of blocks after warm-up calls (see `time_row`).
GFLOP/s is numcnn's forward FLOP count (2 x multiply-adds) over its forward time, and 3x that
count over its forward+backward time (the two convolution gradients cost one forward each).
The machine's float32 GEMM rate (np.matmul on large square matrices) is printed for scale.

To add an op, append a `Row` to ROWS: `make(rng)` returns the input arrays by name, and
`call(F, t)` runs the op given `numcnn.nn.functional` or `torch.nn.functional` as F and a dict
of tensors.  E.g. max_pool2d:

    Row("max_pool2d", "128x32x28x28 k2", lambda r: {"x": _randn(r, 128, 32, 28, 28)},
        lambda F, t: F.max_pool2d(t["x"], 2), flops=0, grad=("x",))
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

import numcnn
import numcnn.nn.functional as NF

TF = torch.nn.functional


@dataclass
class Row:
    op: str
    shape: str
    make: Callable[[np.random.Generator], dict[str, np.ndarray]]
    call: Callable[[Any, dict[str, Any]], Any]
    flops: float                       # of the forward; 0 when not meaningful
    grad: tuple[str, ...] = ()         # inputs whose gradient forward+backward computes


def _randn(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32)


def conv2d_row(n: int, c_in: int, c_out: int, size: int, k: int, stride: int = 1,
               padding: int = 0, groups: int = 1, note: str = "") -> Row:
    out = (size + 2 * padding - k) // stride + 1
    flops = 2.0 * n * c_out * out * out * (c_in // groups) * k * k
    shape = f"{n}x{c_in}x{size}x{size} -> {c_out}, {k}x{k}"
    shape += f" s{stride}" if stride != 1 else ""
    shape += f" p{padding}" if padding else ""
    shape += f" g{groups}" if groups != 1 else ""
    shape += f" {note}" if note else ""

    def make(rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"x": _randn(rng, n, c_in, size, size),
                "w": _randn(rng, c_out, c_in // groups, k, k) * np.float32(0.1),
                "b": _randn(rng, c_out)}

    return Row("conv2d", shape, make,
               lambda F, t: F.conv2d(t["x"], t["w"], t["b"], stride, padding, 1, groups),
               flops, ("x", "w", "b"))


ROWS: list[Row] = [
    conv2d_row(128, 1, 32, 28, 3, padding=1),
    conv2d_row(128, 32, 32, 28, 3, padding=1),
    conv2d_row(128, 32, 64, 14, 3, padding=1),
    conv2d_row(128, 64, 64, 14, 3, padding=1),
    conv2d_row(128, 32, 64, 28, 3, stride=2, padding=1),
    conv2d_row(128, 64, 128, 14, 1),
    conv2d_row(128, 64, 64, 28, 3, padding=1, groups=64, note="(depthwise)"),
    conv2d_row(8, 3, 64, 224, 7, stride=2, padding=3, note="(batch 8)"),
    Row("max_pool2d", "128x32x28x28 k2", lambda r: {"x": _randn(r, 128, 32, 28, 28)},
        lambda F, t: F.max_pool2d(t["x"], 2), flops=0, grad=("x",)),
    Row("max_pool2d", "128x64x14x14 k3 s2 p1", lambda r: {"x": _randn(r, 128, 64, 14, 14)},
        lambda F, t: F.max_pool2d(t["x"], 3, 2, 1), flops=0, grad=("x",)),
    Row("batch_norm", "128x32x28x28 train",
        lambda r: {"x": _randn(r, 128, 32, 28, 28), "w": _randn(r, 32), "b": _randn(r, 32),
                   "rm": np.zeros(32, np.float32), "rv": np.ones(32, np.float32)},
        lambda F, t: F.batch_norm(t["x"], t["rm"], t["rv"], t["w"], t["b"], training=True),
        flops=0, grad=("x", "w", "b")),
    Row("batch_norm", "128x512 train (BatchNorm1d)",
        lambda r: {"x": _randn(r, 128, 512), "w": _randn(r, 512), "b": _randn(r, 512),
                   "rm": np.zeros(512, np.float32), "rv": np.ones(512, np.float32)},
        lambda F, t: F.batch_norm(t["x"], t["rm"], t["rv"], t["w"], t["b"], training=True),
        flops=0, grad=("x", "w", "b")),
    Row("linear", "128x3136 -> 512",
        lambda r: {"x": _randn(r, 128, 3136), "w": _randn(r, 512, 3136) * np.float32(0.02),
                   "b": _randn(r, 512)},
        lambda F, t: F.linear(t["x"], t["w"], t["b"]), flops=2.0 * 128 * 3136 * 512,
        grad=("x", "w", "b")),
    Row("cross_entropy", "128x10",
        lambda r: {"x": _randn(r, 128, 10), "y": r.integers(0, 10, 128)},
        lambda F, t: F.cross_entropy(t["x"], t["y"]), flops=0, grad=("x",)),
    Row("cross_entropy", "128x1000",
        lambda r: {"x": _randn(r, 128, 1000), "y": r.integers(0, 1000, 128)},
        lambda F, t: F.cross_entropy(t["x"], t["y"]), flops=0, grad=("x",)),
    # ResNet-20 on CIFAR (batch 128) and ResNet-18 at 224x224 (batch 16): the issue-15 training
    # targets' convolutions and normalisation
    conv2d_row(128, 16, 16, 32, 3, padding=1, note="(resnet20)"),
    conv2d_row(128, 32, 32, 16, 3, padding=1, note="(resnet20)"),
    conv2d_row(128, 64, 64, 8, 3, padding=1, note="(resnet20)"),
    Row("batch_norm", "128x16x32x32 train (resnet20)",
        lambda r: {"x": _randn(r, 128, 16, 32, 32), "w": _randn(r, 16), "b": _randn(r, 16),
                   "rm": np.zeros(16, np.float32), "rv": np.ones(16, np.float32)},
        lambda F, t: F.batch_norm(t["x"], t["rm"], t["rv"], t["w"], t["b"], training=True),
        flops=0, grad=("x", "w", "b")),
    conv2d_row(16, 64, 64, 56, 3, padding=1, note="(resnet18)"),
    conv2d_row(16, 128, 128, 28, 3, padding=1, note="(resnet18)"),
]


# ----------------------------------------------------------------------------- timing


def _tensors(lib: str, arrays: dict[str, np.ndarray], grad: tuple[str, ...]) -> dict[str, Any]:
    if lib == "numcnn":
        return {k: numcnn.tensor(v.copy(), requires_grad=k in grad) for k, v in arrays.items()}
    return {k: torch.tensor(v.copy(), requires_grad=k in grad) for k, v in arrays.items()}


def _runners(lib: str, row: Row, arrays: dict[str, np.ndarray],
             upstream: np.ndarray | None) -> tuple[Callable[[], Any], Callable[[], Any]]:
    F = NF if lib == "numcnn" else TF
    t = _tensors(lib, arrays, row.grad)
    nograd = numcnn.no_grad if lib == "numcnn" else torch.no_grad
    g = None
    if upstream is not None:
        g = numcnn.tensor(upstream) if lib == "numcnn" else torch.tensor(upstream)

    def forward() -> Any:
        with nograd():
            return row.call(F, t)

    def forward_backward() -> Any:
        for k in row.grad:
            t[k].grad = None
        out = row.call(F, t)
        out.backward(g if out.ndim else None)
        return out

    return forward, forward_backward


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def time_row(row: Row, repeats: int, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    arrays = row.make(rng)
    with numcnn.no_grad():
        out = row.call(NF, _tensors("numcnn", arrays, ()))
    upstream = rng.standard_normal(out.shape).astype(np.float32) if out.ndim else None
    fns = {}
    for lib in ("numcnn", "torch"):
        fns[lib + " fwd"], fns[lib + " f+b"] = _runners(lib, row, arrays, upstream)
    # Each framework runs in blocks of calls, not call by call: a framework's worker threads
    # keep spinning after a call (OpenBLAS's for up to ~0.1 s, OpenMP's briefly) and would
    # steal the cores from the other one.  The pause lets them go to sleep; the two rounds in
    # opposite orders even out slow drifts of the machine's load.
    samples: dict[str, list[float]] = {k: [] for k in fns}
    half = max(1, (repeats + 1) // 2)
    for order in (list(fns), list(fns)[::-1]):
        for k in order:
            f = fns[k]
            time.sleep(0.3)
            f()                                   # warm-up (allocator, oneDNN primitive cache)
            for _ in range(half):
                t0 = time.perf_counter()
                f()
                samples[k].append(time.perf_counter() - t0)
    return {k: _median_ms(v) for k, v in samples.items()}


def gemm_peak(sizes: tuple[int, ...] = (2048, 4096), repeats: int = 3) -> tuple[int, float]:
    """Best float32 np.matmul rate on square matrices: (size, GFLOP/s)."""
    best = (0, 0.0)
    rng = np.random.default_rng(0)
    for n in sizes:
        a, b = _randn(rng, n, n), _randn(rng, n, n)
        c = np.empty_like(a)
        np.matmul(a, b, out=c)
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            np.matmul(a, b, out=c)
            ts.append(time.perf_counter() - t0)
        rate = 2.0 * n**3 / min(ts) / 1e9
        if rate > best[1]:
            best = (n, rate)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--only", default=None, help="run only rows of this op")
    parser.add_argument("--rows", default=None, help="comma-separated row numbers")
    args = parser.parse_args(argv)
    rows = list(enumerate(ROWS))
    if args.only:
        rows = [(i, r) for i, r in rows if r.op == args.only]
    if args.rows:
        keep = {int(v) for v in args.rows.split(",")}
        rows = [(i, r) for i, r in rows if i in keep]
    n, peak = gemm_peak()
    print(f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} "
          f"threads), float32; median of {args.repeats} runs")
    print(f"float32 GEMM peak (np.matmul {n}x{n}): {peak:.0f} GFLOP/s\n")
    head = (f"{'#':>2} {'op':<13} {'shape':<40} {'fwd ms':>8} {'torch':>8} {'ratio':>6} "
            f"{'f+b ms':>8} {'torch':>8} {'ratio':>6} {'GFLOP/s fwd':>11} {'f+b':>5}")
    print(head)
    print("-" * len(head))
    for i, row in rows:
        r = time_row(row, args.repeats)
        nf, tf, nb, tb = r["numcnn fwd"], r["torch fwd"], r["numcnn f+b"], r["torch f+b"]
        gf = f"{row.flops / nf / 1e6:11.0f} {3 * row.flops / nb / 1e6:5.0f}" if row.flops \
            else f"{'-':>11} {'-':>5}"
        print(f"{i:>2} {row.op:<13} {row.shape:<40} {nf:8.2f} {tf:8.2f} {nf / tf:6.2f} "
              f"{nb:8.2f} {tb:8.2f} {nb / tb:6.2f} {gf}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
