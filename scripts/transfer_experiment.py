"""The transfer-learning experiment of docs/transfer.md, end to end with `numcnn train`.

1. Pretrain the seed CNN (fmnist-cnn) on Fashion-MNIST classes 0-4 (T-shirt/top, Trouser,
   Pullover, Dress, Coat: 30,000 images).
2. On classes 5-9 (Sandal, Shirt, Sneaker, Bag, Ankle boot), with only N labelled images per
   class (N = 50 and 500), train four ways and test on all 5,000 test images of those classes:
     scratch      the same network from random weights
     linear       pretrained, everything frozen but a new last layer (--freeze backbone)
     head-mlp     pretrained, convolutional features frozen, the classifier MLP trained
                  (--freeze features)
     finetune     pretrained, every layer trained, the pretrained ones at 0.1x the lr
                  (--backbone-lr-scale 0.1)
     finetune-1x  pretrained, every layer trained at the same lr
   each with seeds 0, 1, 2 (the pick of the N images and the initialisation change).

    python scripts/transfer_experiment.py --out runs/transfer      # about 25 min on 2 cores

Prints each command, then a Markdown table of test accuracy (mean and range over seeds) and
wall time per run.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

VARIANTS = {
    "scratch": [],
    "linear": ["--freeze", "backbone"],
    "head-mlp": ["--freeze", "features"],
    "finetune": ["--backbone-lr-scale", "0.1"],
    "finetune-1x": [],
}
EPOCHS = {50: 30, 500: 10}


def numcnn(args: list[str]) -> tuple[float, float]:
    """Run `numcnn train ARGS`; return (test accuracy, wall seconds)."""
    cmd = [sys.executable, "-m", "numcnn", "train", *args]
    print("$ numcnn train " + " ".join(args), flush=True)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    m = re.search(r"test: loss \S+\s+accuracy (\S+)", done.stdout)
    assert m, done.stdout
    print(f"  -> test accuracy {m.group(1)}, {seconds:.0f} s", flush=True)
    return float(m.group(1)), seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/transfer", help="directory for the runs")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--pretrain-epochs", type=int, default=5)
    ap.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS),
                    help="which ways to train (default all)")
    args = ap.parse_args()
    out = Path(args.out)
    pre = out / "pretrain"
    if not (pre / "best.safetensors").exists():
        acc, sec = numcnn(["--classes", "0-4", "--epochs", str(args.pretrain_epochs),
                           "--out", str(pre)])
        print(f"pretrained on classes 0-4: test accuracy {acc:.4f} ({sec:.0f} s)")
    weights = str(pre / "best.safetensors")
    rows = []
    for n, epochs in EPOCHS.items():
        for name in args.variants:
            extra = VARIANTS[name]
            accs, secs = [], []
            for seed in range(args.seeds):
                run = ["--classes", "5-9", "--per-class", str(n), "--epochs", str(epochs),
                       "--seed", str(seed), "--out", str(out / f"{name}-{n}-s{seed}")]
                if name != "scratch":
                    run += ["--weights", weights]
                acc, sec = numcnn(run + extra)
                accs.append(acc)
                secs.append(sec)
            rows.append((n, name, accs, secs))
    print("\n| images per class | start | test accuracy (mean, min-max) | seconds per run |")
    print("|---|---|---|---|")
    for n, name, accs, secs in rows:
        print(f"| {n} | {name} | {statistics.mean(accs):.4f} ({min(accs):.4f}-{max(accs):.4f})"
              f" | {statistics.median(secs):.0f} |")


if __name__ == "__main__":
    main()
