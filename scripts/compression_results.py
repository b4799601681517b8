"""Fill docs/compression.md's tables: run every `numcnn compress` action of the issue on a
trained run and measure the results.

    python scripts/compression_results.py RUN_DIR OUT_DIR [--only NAME ...] [--epochs E]

For RUN_DIR/best.safetensors (a `numcnn train` run) it runs, one after the other, the commands
listed in `EXPERIMENTS` (printed before each starts, so the table can quote them), each writing
OUT_DIR/<name>/model.safetensors and compress.json; then measures every result's CPU latency
at batch 1 and 256 (median of repeated eval-mode forwards, numcnn.compress.workflow.latency)
and prints a Markdown table: parameters, non-zeros, bytes on disk, MACs, test accuracy,
latencies, and the wall time of the command. Already finished experiments (their
compress.json exists) are not run again, so the script can be stopped and restarted.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time

EXPERIMENTS = {
    # name: numcnn compress arguments (CHECKPOINT and --out are added)
    "prune50": "prune --sparsity 0.5 --steps 1 --epochs {e}",
    "prune80": "prune --sparsity 0.8 --steps 2 --epochs {e}",
    "prune90": "prune --sparsity 0.9 --steps 3 --epochs {e}",
    "channels30": "channels --amount 0.3 --epochs {e}",
    "channels50": "channels --amount 0.5 --epochs {e}",
    "channels30-bn": "channels --amount 0.3 --criterion bn_scale --epochs {e}",
    "int8": "int8 --calibration 512",
    "inq5": "inq --bits 5 --epochs {e}",
    "inq3": "inq --bits 3 --epochs {e}",
    "inq5-keep-first": "inq --bits 5 --keep-first --epochs {e}",
    "inq3-keep-first": "inq --bits 3 --keep-first --epochs {e}",
    "binary": "binarize --epochs {b}",
    "xnor": "binarize --xnor --epochs {b}",
}


def _run(cmd: list[str]) -> float:
    print("$ " + shlex.join(cmd), flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - start


def _latencies(path: str) -> tuple[float, float, int]:
    """Median seconds at batch 1 and 256, and the MACs whose weight is not zero."""
    import numpy as np

    import numcnn
    from numcnn.compress.workflow import example_input, latency, nonzero_model_macs
    from numcnn.train.run import input_shape, load_run

    model, config = load_run(path)
    x1 = example_input(config, 1)
    rng = np.random.default_rng(0)
    x256 = numcnn.Tensor(rng.standard_normal((256, *input_shape(config))).astype(np.float32))
    return (latency(model, x1, repeats=50), latency(model, x256, repeats=5),
            nonzero_model_macs(model, config))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir")
    p.add_argument("out_dir")
    p.add_argument("--only", nargs="+", default=None, choices=sorted(EXPERIMENTS))
    p.add_argument("--epochs", type=int, default=1, help="fine-tuning epochs per step")
    p.add_argument("--binary-epochs", type=int, default=3)
    p.add_argument("--train-limit", type=int, default=None)
    p.add_argument("--lr", type=float, default=None,
                   help="fine-tuning learning rate of the prune, channels and inq experiments "
                        "(default: the command's, 1e-4)")
    p.add_argument("--no-latency", action="store_true", help="skip the latency measurements")
    args = p.parse_args()
    ckpt = os.path.join(args.run_dir, "best.safetensors")
    numcnn_cmd = [os.path.join(os.path.dirname(sys.executable), "numcnn")]
    rows = []
    for name, spec in EXPERIMENTS.items():
        if args.only and name not in args.only:
            continue
        out = os.path.join(args.out_dir, name)
        record = os.path.join(out, "compress.json")
        cmd = [*numcnn_cmd, "compress", *spec.format(e=args.epochs,
                                                     b=args.binary_epochs).split(),
               ckpt, "--out", out]
        if args.train_limit and "int8" not in spec:
            cmd += ["--train-limit", str(args.train_limit)]
        if args.lr and spec.split()[0] in ("prune", "channels", "inq"):
            cmd += ["--lr", str(args.lr)]
        if not os.path.exists(record):
            _run(cmd)
        with open(record) as f:
            rows.append((name, cmd, json.load(f)))
    if args.no_latency:
        return 0
    base_lat = _latencies(ckpt)
    print("\n| model | parameters | non-zero | bytes on disk | MACs | MACs, non-zero w. | "
          "test acc. | latency b=1 | latency b=256 | command time |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    first = rows[0][2]["before"] if rows else None
    if first:
        print(f"| float baseline | {first['parameters']:,} | {first['nonzero']:,} | "
              f"{first['bytes']:,} | {first['macs']:,} | {base_lat[2]:,} | "
              f"{100 * first['accuracy']:.2f}% | "
              f"{1e3 * base_lat[0]:.2f} ms | {1e3 * base_lat[1]:.0f} ms | - |")
    for name, _cmd, rec in rows:
        a = rec["after"]
        lat = _latencies(os.path.join(args.out_dir, name, "model.safetensors"))
        print(f"| {name} | {a['parameters']:,} | {a['nonzero']:,} | {a['bytes']:,} | "
              f"{a['macs']:,} | {lat[2]:,} | {100 * a['accuracy']:.2f}% | {1e3 * lat[0]:.2f} ms | "
              f"{1e3 * lat[1]:.0f} ms | {rec['seconds']:.0f} s |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
