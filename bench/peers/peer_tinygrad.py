"""Peer: tinygrad on its CPU backend, in its own venv (made on first use, pinned below).

    python bench/peers/peer_tinygrad.py [--warmup 2] [--train-reps 10] [--infer-reps 5] [--setup]

The CPU backend compiles its generated C kernels with clang (Debian: `apt-get install -y
clang`). The way tinygrad is meant to be used: the training step and the inference are each a
`TinyJit` function (the first two calls trace and compile, the later ones replay the captured
kernels), so the warm-up here is at least 3 calls. Training mode is `Context(TRAINING=1)`
(dropout on, batch statistics in BatchNorm); the optimiser is `nn.optim.SGD(lr=0.01)`.
"""

from __future__ import annotations

import os
import shutil
from importlib.metadata import version

from _common import LR, data, parse_args, report, setup_done, use_venv

INSTALLS = [["tinygrad==0.14.0", "numpy==2.4.6", "threadpoolctl==3.8.0"]]


def build(nn):
    class Net:
        def __init__(self) -> None:
            self.conv = [nn.Conv2d(1, 32, 3, padding=1), nn.Conv2d(32, 32, 3, padding=1),
                         nn.Conv2d(32, 64, 3, padding=1), nn.Conv2d(64, 64, 3, padding=1)]
            self.bn = [nn.BatchNorm(c) for c in (32, 32, 64, 64, 512)]
            self.fc1, self.fc2 = nn.Linear(64 * 7 * 7, 512), nn.Linear(512, 10)

        def __call__(self, h):
            for i in (0, 2):  # two blocks
                h = self.bn[i](self.conv[i](h).relu())
                h = self.bn[i + 1](self.conv[i + 1](h).relu())
                h = h.max_pool2d(2).dropout(0.25)
            h = self.bn[4](self.fc1(h.flatten(1)).relu()).dropout(0.5)
            return self.fc2(h)

    return Net()


def main() -> None:
    use_venv("tinygrad", INSTALLS)
    args = parse_args()
    if shutil.which("clang") is None:
        raise SystemExit("tinygrad's CPU backend needs clang: apt-get install -y clang")
    os.environ.setdefault("DEV", "CPU")
    from tinygrad import Context, Device, Tensor, TinyJit, nn
    from tinygrad.helpers import NUM_CPU_THREADS

    tg_version = version("tinygrad")
    if args.setup:
        assert (Tensor([1.0, 2.0]) + 1).tolist() == [2.0, 3.0]
        setup_done("tinygrad", tg_version)
        return
    Tensor.manual_seed(0)
    model = build(nn)
    weights = [t for t in nn.state.get_parameters(model) if t.is_param]
    opt = nn.optim.SGD(nn.state.get_parameters(model), lr=LR)
    x, y, xi = (Tensor(a).realize() for a in data())

    @TinyJit
    def jit_step(x: Tensor, y: Tensor) -> Tensor:
        with Context(TRAINING=1):
            opt.zero_grad()
            loss = model(x).sparse_categorical_crossentropy(y)
            loss.backward()
            # One schedule for the loss and the update: realising the loss after opt.step()
            # would compute it again from the updated weights.
            return loss.realize(*opt.schedule_step())

    @TinyJit
    def jit_infer(x: Tensor) -> Tensor:
        return model(x).realize()

    def step() -> float:
        return float(jit_step(x, y).item())

    def infer() -> object:
        return jit_infer(xi).numpy()

    args.warmup = max(args.warmup, 3)  # TinyJit traces on call 1 and captures on call 2
    report("tinygrad", tg_version, sum(t.numel() for t in weights), step, infer, args,
           threads=f"device {Device.DEFAULT}, NUM_CPU_THREADS = {NUM_CPU_THREADS.value}",
           notes="TinyJit for the step and for inference; clang-compiled CPU kernels")


if __name__ == "__main__":
    main()
