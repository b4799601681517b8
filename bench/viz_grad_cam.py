"""Benchmark (not a test): Grad-CAM of 64 Fashion-MNIST-shaped images, numcnn vs PyTorch.

    python bench/viz_grad_cam.py [--repeats 9] [--batch 64]

numcnn: `numcnn.viz.grad_cam(fmnist_cnn(), x, "features.11")` (the last convolution; one
forward, one backward of the summed class scores, the weighted sum, min-max scaling, bilinear
resizing to 28x28).  PyTorch: the same steps written with a forward hook and
`torch.autograd.grad` on seed 004's CNN in torch.nn with the same weights (bench/train_step.py's
`build`), as pytorch-grad-cam does them.  Both float32, alternating in blocks with pauses (see
bench/ops.py), median of the runs; the two maps are checked to agree before timing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as TF

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numcnn  # noqa: E402
from numcnn.models import fmnist_cnn  # noqa: E402
from numcnn.viz import grad_cam  # noqa: E402
from train_step import build  # noqa: E402  (seed 004's CNN for any torch.nn-like namespace)

LAYER = 11          # features.11 in fmnist_cnn, module 11 of `build`'s Sequential


def torch_twin(model: numcnn.nn.Module) -> torch.nn.Module:
    """`build(torch.nn)` with fmnist_cnn's weights (features.i -> i, classifier.j -> 16 + j)."""
    twin = build(torch.nn)
    state = {}
    for key, value in model.state_dict().items():
        part, index, rest = key.split(".", 2)
        position = int(index) + (16 if part == "classifier" else 0)
        state[f"{position}.{rest}"] = torch.from_numpy(np.array(value.numpy()))
    twin.load_state_dict(state)
    return twin.eval()


def torch_grad_cam(twin: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    """Grad-CAM in torch with a forward hook: predicted class, normalised, upsampled."""
    grabbed: list[torch.Tensor] = []
    handle = twin[LAYER].register_forward_hook(lambda m, i, o: grabbed.append(o))
    try:
        out = twin(x)
        act = grabbed[-1]
        score = out.gather(1, out.argmax(1, keepdim=True)).sum()
        (g,) = torch.autograd.grad(score, act)
    finally:
        handle.remove()
    with torch.no_grad():
        cam = (g.mean(dim=(2, 3), keepdim=True) * act).sum(1).clamp(min=0).flatten(1)
        cam = cam - cam.min(1, keepdim=True).values
        cam = cam / (cam.max(1, keepdim=True).values + 1e-7)
        cam = TF.interpolate(cam.view(-1, 1, *act.shape[2:]), size=x.shape[2:],
                             mode="bilinear", align_corners=False)
    return cam[:, 0].numpy()


def median_ms(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median wall time of each function, run in blocks (two rounds, opposite orders)."""
    samples: dict[str, list[float]] = {k: [] for k in fns}
    half = max(1, (repeats + 1) // 2)
    for order in (list(fns), list(fns)[::-1]):
        for k in order:
            time.sleep(0.3)                        # let the other framework's threads sleep
            fns[k]()                               # warm-up
            for _ in range(half):
                t0 = time.perf_counter()
                fns[k]()
                samples[k].append(time.perf_counter() - t0)
    return {k: 1e3 * statistics.median(v) for k, v in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()

    numcnn.manual_seed(0)
    model = fmnist_cnn()
    twin = torch_twin(model)
    x = np.random.default_rng(0).random((args.batch, 1, 28, 28), dtype=np.float32)
    xt = torch.from_numpy(x)
    ours, theirs = grad_cam(model, x, "features.11"), torch_grad_cam(twin, xt)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)

    times = median_ms({"numcnn": lambda: grad_cam(model, x, "features.11"),
                       "torch": lambda: torch_grad_cam(twin, xt)}, args.repeats)
    print(f"Grad-CAM, fmnist_cnn features.11, {args.batch}x1x28x28 float32, "
          f"median of {args.repeats + args.repeats % 2} runs (torch threads: "
          f"{torch.get_num_threads()})")
    print(f"  numcnn  {times['numcnn']:8.1f} ms")
    print(f"  torch   {times['torch']:8.1f} ms")
    print(f"  ratio   {times['numcnn'] / times['torch']:8.2f} x")


if __name__ == "__main__":
    main()
