"""Benchmark: eval-mode inference, numcnn against PyTorch in the same process.

Rows (issue 15): seed 004's Fashion-MNIST CNN at batch 1000 and at batch 1 (1x28x28),
resnet18 and mobilenet_v2 at batch 8 (3x224x224).  Both frameworks run the same network with
the same weights (numcnn's state_dict loaded into a torch twin; the outputs are compared before
timing), in eval mode under no_grad, interleaved round by round; every figure is a median and
the ratio is numcnn time / torch time (below 1: numcnn is faster).  `--compare-fastpath` adds
numcnn with `numcnn.nn.fastpath` switched off (the layer-by-layer path) to each row.

    python bench/bench_infer.py [--rounds 5] [--rows seed1000 seed1 resnet18 mobilenet_v2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any, Callable

import numpy as np

import numcnn
from numcnn.nn import fastpath
from train_step import copy_state, interleaved, twin_models  # noqa: E402  (bench/ on sys.path)

ROWS = {                       # name: (model, input shape, calls per round)
    "seed1000": ("fmnist_cnn", (1000, 1, 28, 28), 2),
    "seed1": ("fmnist_cnn", (1, 1, 28, 28), 100),
    "resnet18": ("resnet18", (8, 3, 224, 224), 2),
    "mobilenet_v2": ("mobilenet_v2", (8, 3, 224, 224), 2),
}


def make(model: str) -> tuple[Any, Any]:
    """(numcnn model, torch twin), equal weights, random BN statistics, eval mode."""
    nm, tm = twin_models(model)
    rng = np.random.default_rng(1)
    for mod in nm.modules():              # trained-looking BN statistics (fresh ones are 0, 1)
        if isinstance(mod, (numcnn.nn.BatchNorm1d, numcnn.nn.BatchNorm2d)):
            C = mod.num_features
            mod.running_mean.array[:] = rng.normal(0, 0.1, C)
            mod.running_var.array[:] = rng.uniform(0.5, 1.5, C)
    copy_state(nm, tm)
    return nm.eval(), tm.eval()


def callers(nm: Any, tm: Any, x: np.ndarray, with_slow: bool) -> dict[str, Callable[[], Any]]:
    import torch

    xn, xt = numcnn.from_numpy(x), torch.from_numpy(x)

    def run_numcnn() -> Any:
        with numcnn.no_grad():
            return nm(xn)

    def run_slow() -> Any:
        with numcnn.no_grad(), fastpath.disabled():
            return nm(xn)

    def run_torch() -> Any:
        with torch.no_grad():
            return tm(xt)

    calls = {"numcnn": run_numcnn, "torch": run_torch}
    if with_slow:
        calls["numcnn layer by layer"] = run_slow
    return calls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    ap.add_argument("--compare-fastpath", action="store_true")
    args = ap.parse_args()

    import torch

    try:
        from threadpoolctl import threadpool_info
        blas: Any = [(i.get("internal_api"), i.get("architecture"), i.get("num_threads"))
                     for i in threadpool_info() if i.get("user_api") == "blas"]
    except ImportError:
        blas = "kernel unknown: pip install threadpoolctl to see it"
    print(f"numpy {np.__version__} (BLAS {blas}), torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), float32, eval mode under no_grad; "
          f"medians over {args.rounds} rounds")
    print(f"{'row':14s} {'input':18s} {'numcnn ms':>10s} {'torch ms':>9s} {'ratio':>6s} "
          f"{'spread of ratio':>16s} {'max rel diff':>13s}")
    for row in args.rows:
        model, shape, per_round = ROWS[row]
        nm, tm = make(model)
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        calls = callers(nm, tm, x, args.compare_fastpath)
        a, b = calls["numcnn"]().numpy(), calls["torch"]().numpy()
        diff = float(np.abs(a - b).max() / np.abs(b).max())
        t0 = time.perf_counter()
        times = interleaved(calls, args.rounds, per_round, warmup=1)
        med = {k: [statistics.median(r) * 1e3 for r in v] for k, v in times.items()}
        ratios = [n / t for n, t in zip(med["numcnn"], med["torch"])]
        n_ms, t_ms = statistics.median(med["numcnn"]), statistics.median(med["torch"])
        print(f"{row:14s} {'x'.join(map(str, shape)):18s} {n_ms:10.2f} {t_ms:9.2f} "
              f"{n_ms / t_ms:6.2f} {min(ratios):7.2f}-{max(ratios):<8.2f} {diff:13.1e}"
              + (f"   layer by layer {statistics.median(med['numcnn layer by layer']):.2f} ms"
                 if args.compare_fastpath else "")
              + f"   ({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
