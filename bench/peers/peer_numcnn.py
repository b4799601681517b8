"""Peer: numcnn, from the repository's venv. The model is bench/train_step.py's `build`.

    python bench/peers/peer_numcnn.py [--warmup 2] [--train-reps 10] [--infer-reps 5] [--setup]

Training: forward, cross_entropy, backward, `p.array -= lr * p.grad.array` (plain SGD).
Inference: `model.eval()` and `numcnn.autograd.inference_mode()`; NumPy's OpenBLAS threads as
they are.
"""

from __future__ import annotations

import sys
from importlib.metadata import version
from pathlib import Path

from _common import LR, data, parse_args, report, setup_done

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/, for train_step.build


def main() -> None:
    args = parse_args()
    import numpy as np

    import numcnn
    from train_step import build

    numcnn_version = version("numcnn")
    if args.setup:
        setup_done("numcnn", numcnn_version)
        return
    numcnn.manual_seed(0)
    model = build(numcnn.nn)
    params = list(model.parameters())
    x, y, xi = (numcnn.from_numpy(a) for a in data())

    def step() -> float:
        model.train()
        for p in params:
            p.grad = None
        loss = numcnn.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        with numcnn.no_grad():
            for p in params:
                p.array -= LR * p.grad.array
        return float(loss.item())

    def infer() -> object:
        model.eval()
        with numcnn.autograd.inference_mode():
            return model(xi).numpy()

    report("numcnn", numcnn_version, sum(p.numel() for p in params), step, infer, args,
           versions={"numpy": np.__version__},
           threads=f"numcnn.get_num_threads() = {numcnn.get_num_threads()}",
           notes="eager; inference_mode for inference")


if __name__ == "__main__":
    main()
