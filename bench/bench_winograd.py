"""Benchmark (not a test): Winograd F(2x2,3x3) and F(4x4,3x3) (numcnn.ops.winograd) against
numcnn's im2col path, on the 3x3 stride-1 convolutions of the seed CNN and of resnet18.

    python bench/bench_winograd.py [--repeats 5] [--only seed|resnet18] [--dtype float32]
                                   [--one-core] [--models]

For each shape N x C x H x W -> O: the forward (padding 1) and the stride-1 input gradient,
which numcnn computes as the same correlation with C and O swapped (dY padded by 1, the
flipped kernel), so its row is "N x O x H x W -> C".  The three algorithms run interleaved
(im2col, F2, F4, im2col, F2, ...) on the same arrays after one warm-up each; times are the
median over --repeats rounds, ratio = Winograd time / im2col time (below 1: Winograd wins),
the median of the per-round ratios, with their min-max spread.  "err" is the largest
|y - y_im2col| / max |y_im2col| of the Winograd result.

--models times whole networks with numcnn.backends.conv.winograd = False and "auto" (after
the autotuner's first calls), interleaved: seed 004's CNN training step (SGD) at batch 128
and resnet18's eval forward under no_grad at batch 8 of 3x224x224; it prints the choices.

--one-core measures the work instead of the wall time: BLAS on one thread, numcnn's copy and
transform threads and its batch split off, each call timed by the CPU time of the calling thread
(time.thread_time), which other processes on a busy machine barely disturb.  It says which
algorithm does less work on one core; the default wall-clock run says which finishes first
with both cores, as a model runs it.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import threadpoolctl

import numcnn.backends.conv as flags
from numcnn.ops import conv, winograd

SHAPES = {
    "seed": [(128, 32, 28, 32), (128, 32, 14, 64), (128, 64, 14, 64),
             (1000, 32, 28, 32), (1000, 32, 14, 64), (1000, 64, 14, 64)],
    "resnet18": [(8, 64, 56, 64), (8, 128, 28, 128), (8, 256, 14, 256), (8, 512, 7, 512)],
}


def run_shape(N: int, C: int, H: int, O: int, repeats: int, dtype, clock=time.perf_counter) -> dict:
    rng = np.random.default_rng(0)
    xp = np.zeros((N, H + 2, H + 2, C), dtype)
    xp[:, 1:-1, 1:-1] = rng.standard_normal((N, H, H, C), dtype=np.float32)
    wk = (rng.standard_normal((1, 9 * C, O), dtype=np.float32) / np.sqrt(9 * C)).astype(dtype)
    b = rng.standard_normal(O, dtype=np.float32).astype(dtype)
    y = {m: np.empty((N, H, H, O), dtype) for m in (2, 4)}
    ref: list[np.ndarray] = []

    def direct() -> None:
        ref[:] = [conv._xcorr(xp, wk, (3, 3), (1, 1), (1, 1), (H, H), b)]

    algos = {"im2col": direct,
             "F2": lambda: winograd.winograd_xcorr(xp, wk, (H, H), y[2], b, 2),
             "F4": lambda: winograd.winograd_xcorr(xp, wk, (H, H), y[4], b, 4)}
    times: dict[str, list[float]] = {k: [] for k in algos}
    for fn in algos.values():
        fn()
    for _ in range(repeats):
        for name, fn in algos.items():
            t = clock()
            fn()
            times[name].append(clock() - t)
    scale = float(np.abs(ref[0]).max())
    row = {"ms": {k: 1e3 * statistics.median(v) for k, v in times.items()}}
    for m in (2, 4):
        ratios = [w / d for w, d in zip(times[f"F{m}"], times["im2col"])]
        row[f"F{m}"] = (statistics.median(ratios), min(ratios), max(ratios),
                        float(np.abs(y[m] - ref[0]).max()) / scale)
    return row


def run_models(repeats: int) -> None:
    import numcnn
    import numcnn.nn.functional as F
    from numcnn.models import fmnist_cnn, resnet18

    rng = np.random.default_rng(0)
    numcnn.manual_seed(0)
    cnn = fmnist_cnn()
    opt = numcnn.optim.SGD(cnn.parameters(), lr=0.01)
    x = numcnn.tensor(rng.standard_normal((128, 1, 28, 28), dtype=np.float32))
    labels = numcnn.tensor(rng.integers(0, 10, 128))

    def train_step() -> None:
        opt.zero_grad()
        F.cross_entropy(cnn(x), labels).backward()
        opt.step()

    net = resnet18().eval()
    xr = numcnn.tensor(rng.standard_normal((8, 3, 224, 224), dtype=np.float32))

    def infer() -> None:
        with numcnn.no_grad():
            net(xr)

    print("| model | winograd=False ms | 'auto' ms | auto/False (spread) |")
    print("|---|---:|---:|---:|")
    for name, fn in (("seed CNN train step, batch 128", train_step),
                     ("resnet18 eval, batch 8", infer)):
        flags.winograd = "auto"
        fn()                                        # the autotuner times its shapes here
        flags.winograd = False
        fn()
        times: dict[object, list[float]] = {False: [], "auto": []}
        for _ in range(repeats):
            for mode in (False, "auto"):
                flags.winograd = mode
                t = time.perf_counter()
                fn()
                times[mode].append(time.perf_counter() - t)
        ratios = [a / f for a, f in zip(times["auto"], times[False])]
        print(f"| {name} | {1e3 * statistics.median(times[False]):.1f} "
              f"| {1e3 * statistics.median(times['auto']):.1f} "
              f"| {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) |",
              flush=True)
    flags.winograd = False
    print("autotuner's choices (N, H, W, C, O, dtype) -> 0 im2col / 2 F2 / 4 F4:")
    for key, m in sorted(winograd.choices().items()):
        print(f"  {key} -> {m}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--only", choices=sorted(SHAPES), default=None)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--models", action="store_true",
                   help="whole networks with winograd False vs 'auto' instead of the shapes")
    p.add_argument("--one-core", action="store_true",
                   help="one BLAS thread, no copy threads, CPU time of the calling thread")
    args = p.parse_args()
    flags.winograd = False                  # the im2col rows must not use Winograd themselves
    clock = time.perf_counter
    if args.one_core:
        threadpoolctl.threadpool_limits(1)
        conv.PARALLEL_MIN_ELEMENTS = 1 << 62
        conv.SPLIT_BATCH = False
        clock = time.thread_time
    info = threadpoolctl.threadpool_info()
    print("BLAS:", ", ".join(f"{i['internal_api']} {i['version']} {i.get('architecture')} "
                             f"{i['num_threads']} threads" for i in info))
    if args.models:
        run_models(args.repeats)
        return
    print("| shape | pass | im2col ms | F2 ms | F4 ms | F2/im2col (spread) | "
          "F4/im2col (spread) | F2 err | F4 err |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for group, shapes in SHAPES.items():
        if args.only and group != args.only:
            continue
        for N, C, H, O in shapes:
            for pass_, (ci, co) in (("forward", (C, O)), ("input grad", (O, C))):
                r = run_shape(N, ci, H, co, args.repeats, np.dtype(args.dtype), clock)
                ms = r["ms"]
                f2, f4 = r["F2"], r["F4"]
                print(f"| {N}x{C}x{H}x{H}->{O} | {pass_} | {ms['im2col']:.1f} | {ms['F2']:.1f} "
                      f"| {ms['F4']:.1f} | {f2[0]:.2f} ({f2[1]:.2f}-{f2[2]:.2f}) "
                      f"| {f4[0]:.2f} ({f4[1]:.2f}-{f4[2]:.2f}) | {f2[3]:.1e} | {f4[3]:.1e} |",
                      flush=True)
                if C == O:                  # the input gradient is the same correlation
                    break


if __name__ == "__main__":
    main()
