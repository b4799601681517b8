"""Benchmark: how long `numcnn.viz.write_report` takes on a finished run (the issue asks for
under a minute on the default fmnist-cnn Fashion-MNIST run, whole test split).

    python bench/viz_report.py [RUN_DIR] [--limit N] [--repeat R]

RUN_DIR defaults to the newest directory under runs/. The page is written to a temporary file
(the run's own report.html is left alone); the time printed is the wall-clock time of the whole
call: reading the checkpoint, evaluating the test split, the misclassified scan, the pictures
and the summary; the CPU time (all threads) and the load average say how busy the machine was.
There is no PyTorch row: PyTorch has no such report.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def newest_run(root: Path) -> Path:
    runs = [d for d in root.iterdir() if d.is_dir()] if root.is_dir() else []
    if not runs:
        sys.exit(f"no run directory under {root}/; give RUN_DIR")
    return max(runs, key=lambda d: d.stat().st_mtime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", nargs="?", default=None, help="default: newest in runs/")
    parser.add_argument("--limit", type=int, default=None,
                        help="evaluate only the first N test images (default: all)")
    parser.add_argument("--repeat", type=int, default=1, help="timed calls (default 1)")
    args = parser.parse_args()

    from numcnn.viz.report import write_report

    run_dir = Path(args.run_dir) if args.run_dir else newest_run(Path("runs"))
    times, cpu = [], []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.html"
        for _ in range(args.repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            write_report(run_dir, out=out, limit=args.limit, progress=False)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        size = os.path.getsize(out)
    scope = "whole test split" if args.limit is None else f"first {args.limit} test images"
    print(f"write_report({run_dir}): {min(times):.1f} s wall, {min(cpu):.1f} s CPU (best of "
          f"{len(times)}; {scope}; page {size / 1e6:.2f} MB; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
