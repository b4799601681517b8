"""Benchmark: the memory that `ReLU(inplace=True)` saves in a training step.

The zoo's ResNets build their ReLUs with `inplace=True`, as torchvision does.  Since numcnn
records in-place ops in the graph (version counters, issue 11), the ReLU writes into the
batch-norm output it reads, so that array is not kept twice.  This script builds each model
twice — ReLUs in place and not — from the same weights, runs one forward and backward on the
same batch, and reports, from NumPy's allocations (tracemalloc follows them): the memory the
forward leaves held for backward (the activations), and the peak of the whole step.  A warm-up
step runs first, so one-time allocations count for neither.  Both must give the same loss and
gradients.

    python bench/inplace_memory.py [--models resnet18 resnet56] [--batch 8]
"""

from __future__ import annotations

import argparse
import tracemalloc

import numpy as np

import numcnn
import numcnn.nn.functional as F
from numcnn import models, nn


def step_memory(model: nn.Module, x: numcnn.Tensor,
                y: numcnn.Tensor) -> tuple[float, float, float, list[np.ndarray]]:
    """MiB held after the forward, peak MiB of forward + backward, the loss, the gradients."""
    model.zero_grad(set_to_none=True)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    loss = F.cross_entropy(model(x), y)
    held = tracemalloc.get_traced_memory()[0] - base
    loss.backward()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    return held / 2**20, peak / 2**20, loss.item(), grads


def set_inplace(model: nn.Module, flag: bool) -> int:
    count = 0
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = flag
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet18", "resnet56"])
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    print(f"{'model':<10} {'ReLUs':>5} | held after forward MiB: {'in place':>8} {'copies':>8} "
          f"{'saved':>6} | step peak MiB: {'in place':>8} {'copies':>8} {'saved':>6}")
    for name in args.models:
        numcnn.manual_seed(0)
        model = models.get_model(name)
        model.train()
        c, h, w = models.input_size(name)
        rng = np.random.default_rng(0)
        x = numcnn.tensor(rng.standard_normal((args.batch, c, h, w)).astype(np.float32))
        y = numcnn.tensor(rng.integers(0, 10, args.batch))
        state = {k: v.clone() for k, v in model.state_dict().items()}
        n = set_inplace(model, True)
        step_memory(model, x, y)                         # warm-up
        results = {}
        for flag in (True, False):
            model.load_state_dict(state)                 # BN running stats as before
            set_inplace(model, flag)
            results[flag] = step_memory(model, x, y)
        (h_in, p_in, loss_in, g_in), (h_out, p_out, loss_out, g_out) = results[True], results[False]
        assert loss_in == loss_out and all(np.array_equal(a, b) for a, b in zip(g_in, g_out))
        print(f"{name:<10} {n:>5} | {'':>23}{h_in:>8.1f} {h_out:>8.1f} {1 - h_in / h_out:>6.1%} "
              f"| {'':>14}{p_in:>8.1f} {p_out:>8.1f} {1 - p_in / p_out:>6.1%}")


if __name__ == "__main__":
    main()
