"""int8 post-training quantisation of a trained run: accuracy and CPU latency vs float, and the
integer GEMM choice (float64 BLAS vs NumPy's int64 matmul vs float32 BLAS).

    .venv/bin/python bench/bench_int8.py [RUN_CHECKPOINT] [--calib 512] [--test N]

Calibrates `quantize_static` on the first --calib training images (minmax and histogram
observers), evaluates float and int8 on the test set, and times batch 1 and batch 256.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import numcnn
from numcnn.compress.quantize import int8
from numcnn.train import run


def _batches(dataset, n: int, size: int = 256):
    for lo in range(0, n, size):
        items = [dataset[i] for i in range(lo, min(n, lo + size))]
        yield (np.stack([np.asarray(x.array if hasattr(x, "array") else x) for x, _ in items]),
               np.array([int(y) for _, y in items]))


def _accuracy(model, dataset, n: int) -> float:
    hits = 0
    with numcnn.no_grad():
        for x, y in _batches(dataset, n):
            hits += int((model(numcnn.Tensor(x)).array.argmax(1) == y).sum())
    return hits / n


def _latency(model, x: np.ndarray, repeat: int) -> float:
    t = numcnn.Tensor(x)
    with numcnn.no_grad():
        model(t)
        start = time.perf_counter()
        for _ in range(repeat):
            model(t)
    return (time.perf_counter() - start) / repeat


def _gemm_choice() -> None:
    """One conv-shaped GEMM (the 32->32 3x3 layer at batch 32: 25088 x 288 @ 288 x 32)."""
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, (25088, 288))
    b = rng.integers(-128, 128, (288, 32))
    exact = a @ b
    for name, x, w in (("int64 matmul", a, b), ("float64 BLAS", a.astype(np.float64),
                       b.astype(np.float64)), ("float32 BLAS", a.astype(np.float32),
                       b.astype(np.float32))):
        x @ w
        start = time.perf_counter()
        for _ in range(3):
            y = x @ w
        ms = (time.perf_counter() - start) / 3 * 1e3
        print(f"  {name:13s} {ms:8.1f} ms   exact: {bool(np.array_equal(y, exact))}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", nargs="?", default="/work/runs/default/best.safetensors")
    p.add_argument("--calib", type=int, default=512)
    p.add_argument("--test", type=int, default=10000)
    args = p.parse_args()
    model, config = run.load_run(args.checkpoint)
    test = run.load_test_set(config)
    train = run.load_split(config, True)
    train.transform = test.transform
    calib = [x for x, _ in _batches(train, args.calib)]
    n = min(args.test, len(test))
    acc_f = _accuracy(model, test, n)
    print(f"float: test accuracy {acc_f:.4f} on {n} images")
    xs = {1: calib[0][:1], 256: calib[0][:256]}
    lat_f = {b: _latency(model, x, 20 if b == 1 else 3) for b, x in xs.items()}
    for observer in ("minmax", "histogram"):
        start = time.perf_counter()
        q = int8.quantize_static(model, calib, observer=observer)
        took = time.perf_counter() - start
        acc_q = _accuracy(q, test, n)
        lat_q = {b: _latency(q, x, 20 if b == 1 else 3) for b, x in xs.items()}
        print(f"int8 ({observer}, {args.calib} calibration images, {took:.1f} s): accuracy "
              f"{acc_q:.4f} ({100 * (acc_q - acc_f):+.2f} points)")
        for b in xs:
            print(f"  batch {b:3d}: float {lat_f[b] * 1e3:8.2f} ms, int8 {lat_q[b] * 1e3:8.2f} ms"
                  f" ({lat_q[b] / lat_f[b]:.2f}x)")
    print("integer GEMM 25088x288 @ 288x32:")
    _gemm_choice()


if __name__ == "__main__":
    main()
