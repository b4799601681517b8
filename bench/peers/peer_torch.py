"""Peer: PyTorch (CPU), from the repository's venv. The model is bench/train_step.py's `build`.

    python bench/peers/peer_torch.py [--warmup 2] [--train-reps 10] [--infer-reps 5] [--setup]

Training: forward, cross_entropy, backward, `p -= lr * p.grad` under no_grad (plain SGD).
Inference: `model.eval()` and `torch.inference_mode()`, torch's default thread count.
"""

from __future__ import annotations

import sys
from pathlib import Path

from _common import LR, data, parse_args, report, setup_done

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/, for train_step.build


def main() -> None:
    args = parse_args()
    import torch

    from train_step import build

    if args.setup:
        setup_done("PyTorch", torch.__version__)
        return
    torch.manual_seed(0)
    model = build(torch.nn)
    params = list(model.parameters())
    x, y, xi = (torch.from_numpy(a) for a in data())

    def step() -> float:
        model.train()
        for p in params:
            p.grad = None
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        with torch.no_grad():
            for p in params:
                p.add_(p.grad, alpha=-LR)
        return loss.item()

    def infer() -> object:
        model.eval()
        with torch.inference_mode():
            return model(xi).numpy()

    report("PyTorch", torch.__version__, sum(p.numel() for p in params), step, infer, args,
           threads=f"torch.get_num_threads() = {torch.get_num_threads()}",
           notes="eager; inference_mode for inference")


if __name__ == "__main__":
    main()
