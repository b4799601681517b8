"""Benchmark: one SGD training step, numcnn vs PyTorch, interleaved in one process.

Models (`--model`):
- fmnist_cnn (default): seed 004's block CNN (`fmnist_cnn.py`): two blocks of
  conv-relu-BN-conv-relu-BN-maxpool-dropout with 32 and 64 channels, then 3136 -> 512 (relu,
  BN, dropout) -> 10; batch 128 of 1x28x28.
- resnet20: He et al.'s CIFAR ResNet-20 (`numcnn.models.resnet20`, option-A shortcuts);
  batch 128 of 3x32x32.
- resnet18: torchvision's ResNet-18 (`numcnn.models.resnet18`); batch 16 of 3x224x224.
- mobilenet_v2: torchvision's MobileNetV2 (`numcnn.models.mobilenet_v2`); batch 16 of
  3x224x224 (its torch twin is mirrored from numcnn's module tree, `torch_mirror`).

The fmnist CNN is built from the same code for both frameworks (their `nn` namespaces share the
API).  For the ResNets, torchvision is not installed, so their torch twins are written below in
torch; numcnn's `state_dict` is loaded into the twin and the two outputs (train mode, the same
batch) are checked to agree before anything is timed, so the same network is timed twice.

Timing: after warm-up steps, `--rounds` rounds each run `--per-round` steps of numcnn, then of
torch (the order alternating between rounds, a short pause between frameworks so that one
library's spinning threads have stopped before the other starts).  Each step is forward,
cross-entropy, backward and a plain SGD update.  The report gives each framework's median step,
its spread (the 10th-90th percentile of the steps), and the median over rounds of the ratio of
the two frameworks' round medians (the ratio this noisy shared machine measures best).

`--memory` also runs each framework alone in a subprocess and reports the growth of its peak
RSS over the training steps (from just before the first step).

    python bench/train_step.py [--model fmnist_cnn] [--rounds 7] [--per-round 3] [--batch N]
                               [--threads N] [--memory]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any, Callable

import numpy as np

#: model -> (default batch, input shape of one image)
MODELS = {"fmnist_cnn": (128, (1, 28, 28)), "resnet20": (128, (3, 32, 32)),
          "resnet18": (16, (3, 224, 224)), "mobilenet_v2": (16, (3, 224, 224))}


def build(nn: Any) -> Any:
    """Seed 004's block CNN, written once for any framework with torch.nn's API."""

    def block(c_in: int, c_out: int) -> list[Any]:
        return [
            nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(c_out),
            nn.Conv2d(c_out, c_out, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(c_out),
            nn.MaxPool2d(2), nn.Dropout(0.25),
        ]

    return nn.Sequential(
        *block(1, 32), *block(32, 64),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 512), nn.ReLU(), nn.BatchNorm1d(512), nn.Dropout(0.5),
        nn.Linear(512, 10),
    )


# ----------------------------------------------------------------------------- torch twins


def torch_resnet(name: str) -> Any:
    """The torch twin of numcnn.models.<name> (resnet20 or resnet18): the same layers under the
    same state_dict keys (conv1, bn1, layerK.J.conv1, ..., downsample, fc)."""
    import torch
    from torch import nn

    class ShortcutA(nn.Module):          # stride-s subsampling, then zero channels appended
        def __init__(self, extra: int, stride: int) -> None:
            super().__init__()
            self.extra, self.stride = extra, stride

        def forward(self, x: Any) -> Any:
            x = x[:, :, ::self.stride, ::self.stride]
            return torch.nn.functional.pad(x, (0, 0, 0, 0, 0, self.extra))

    class Block(nn.Module):              # y = relu(bn2(conv2(relu(bn1(conv1 x)))) + short(x))
        def __init__(self, c_in: int, c_out: int, stride: int, down: Any) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c_out)
            self.relu1 = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(c_out)
            self.relu2 = nn.ReLU(inplace=True)
            self.downsample = down

        def forward(self, x: Any) -> Any:
            out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
            short = x if self.downsample is None else self.downsample(x)
            return self.relu2(out + short)

    class Net(nn.Module):
        def __init__(self, cifar: bool) -> None:
            super().__init__()
            widths = (16, 32, 64) if cifar else (64, 128, 256, 512)
            blocks = 3 if cifar else 2
            c = widths[0]
            if cifar:
                self.conv1 = nn.Conv2d(3, c, 3, 1, 1, bias=False)
            else:
                self.conv1 = nn.Conv2d(3, c, 7, 2, 3, bias=False)
                self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.bn1 = nn.BatchNorm2d(c)
            self.relu = nn.ReLU(inplace=True)
            self.stages = []
            for i, w in enumerate(widths):
                layers = []
                for j in range(blocks):
                    stride = 2 if i > 0 and j == 0 else 1
                    down = None
                    if stride != 1 or c != w:
                        down = (ShortcutA(w - c, stride) if cifar else nn.Sequential(
                            nn.Conv2d(c, w, 1, stride, bias=False), nn.BatchNorm2d(w)))
                    layers.append(Block(c, w, stride, down))
                    c = w
                setattr(self, f"layer{i + 1}", nn.Sequential(*layers))
                self.stages.append(f"layer{i + 1}")
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(c, 10 if cifar else 1000)
            self.cifar = cifar

        def forward(self, x: Any) -> Any:
            x = self.relu(self.bn1(self.conv1(x)))
            if not self.cifar:
                x = self.maxpool(x)
            for s in self.stages:
                x = getattr(self, s)(x)
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return Net(name == "resnet20")


def torch_mirror(m: Any) -> Any:
    """A torch module with numcnn module m's layers under the same names (the leaf layers,
    Sequential, and MobileNetV2's InvertedResidual / top level)."""
    import torch
    from torch import nn

    name = type(m).__name__
    if name in ("Sequential", "Conv2dNormActivation"):
        return nn.Sequential(*(torch_mirror(c) for c in m))
    if name == "Conv2d":
        return nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                         m.dilation, m.groups, m.bias is not None)
    if name == "BatchNorm2d":
        return nn.BatchNorm2d(m.num_features, m.eps, m.momentum)
    if name in ("ReLU", "ReLU6"):
        return getattr(nn, name)(inplace=True)
    if name == "Dropout":
        return nn.Dropout(m.p)
    if name == "Linear":
        return nn.Linear(m.in_features, m.out_features)
    if name == "InvertedResidual":
        class Inv(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.conv = torch_mirror(m.conv)
                self.res = m.use_res_connect

            def forward(self, x: Any) -> Any:
                return x + self.conv(x) if self.res else self.conv(x)
        return Inv()
    if name == "MobileNetV2":
        class Net(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.features = torch_mirror(m.features)
                self.classifier = torch_mirror(m.classifier)

            def forward(self, x: Any) -> Any:
                x = nn.functional.adaptive_avg_pool2d(self.features(x), 1)
                return self.classifier(torch.flatten(x, 1))
        return Net()
    raise ValueError(f"no torch mirror for {name}")


def twin_models(name: str) -> tuple[Any, Any]:
    """(numcnn model, its torch twin), each with its own initial weights."""
    import torch

    import numcnn

    numcnn.manual_seed(0)
    torch.manual_seed(0)
    if name == "fmnist_cnn":
        return build(numcnn.nn), build(torch.nn)
    nm = numcnn.models.get_model(name)
    return nm, (torch_mirror(nm) if name == "mobilenet_v2" else torch_resnet(name))


def copy_state(nm: Any, tm: Any) -> None:
    """numcnn model nm's state_dict loaded into its torch twin tm (strict)."""
    import torch

    tm.load_state_dict({k: torch.from_numpy(np.array(v.array)) for k, v in
                        nm.state_dict().items()}, strict=True)


def make_models(name: str) -> tuple[Any, Any]:
    """(numcnn model, torch model) with equal weights."""
    nm, tm = twin_models(name)
    copy_state(nm, tm)
    return nm, tm


def check_same(nm: Any, tm: Any, x: np.ndarray) -> float:
    """Largest |numcnn - torch| / max|torch| of the train-mode outputs (dropout off: the two
    models are compared in train mode for BN, with every Dropout's p set to 0 for this call)."""
    import torch

    import numcnn

    drops = [m for m in list(nm.modules()) + list(tm.modules()) if hasattr(m, "p")
             and type(m).__name__.startswith("Dropout")]
    saved = [m.p for m in drops]
    for m in drops:
        m.p = 0.0
    try:
        with numcnn.no_grad():
            a = nm(numcnn.from_numpy(x)).numpy()
        with torch.no_grad():
            b = tm(torch.from_numpy(x)).numpy()
    finally:
        for m, p in zip(drops, saved):
            m.p = p
    # train-mode forward moved the running statistics of both models by the same step
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def steppers(nm: Any, tm: Any, x: np.ndarray, y: np.ndarray,
             lr: float = 0.01) -> dict[str, Callable[[], float]]:
    """One SGD step of each framework, as a closure."""
    import torch

    import numcnn

    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    xn, yn = numcnn.from_numpy(x), numcnn.from_numpy(y)
    tp, np_ = list(tm.parameters()), list(nm.parameters())

    def torch_step() -> float:
        for p in tp:
            p.grad = None
        loss = torch.nn.functional.cross_entropy(tm(xt), yt)
        loss.backward()
        with torch.no_grad():
            for p in tp:
                p.add_(p.grad, alpha=-lr)
        return float(loss.item())

    def numcnn_step() -> float:
        for p in np_:
            p.grad = None
        loss = numcnn.nn.functional.cross_entropy(nm(xn), yn)
        loss.backward()
        with numcnn.no_grad():
            for p in np_:
                p.array -= lr * p.grad.array
        return float(loss.item())

    nm.train()
    tm.train()
    return {"numcnn": numcnn_step, "torch": torch_step}


def data(name: str, batch: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    shape = MODELS[name][1]
    x = rng.standard_normal((batch, *shape), dtype=np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    return x, y


def interleaved(steps: dict[str, Callable[[], float]], rounds: int, per_round: int,
                warmup: int = 2, pause: float = 0.05) -> dict[str, list[list[float]]]:
    """Seconds of every timed step, per framework and round; the frameworks alternate which
    goes first from round to round."""
    names = list(steps)
    for _ in range(warmup):
        for n in names:
            steps[n]()
    times: dict[str, list[list[float]]] = {n: [] for n in names}
    for r in range(rounds):
        for n in (names if r % 2 == 0 else names[::-1]):
            time.sleep(pause)
            ts = []
            for _ in range(per_round):
                t0 = time.perf_counter()
                steps[n]()
                ts.append(time.perf_counter() - t0)
            times[n].append(ts)
    return times


# ----------------------------------------------------------------------------- memory


def _reset_peak() -> None:
    """Start the peak RSS (VmHWM) afresh from the current RSS (Linux >= 4.0), so that building
    both models before the steps does not count; elsewhere the lifetime peak is used."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _rss_kib() -> int:
    """Peak RSS in KiB: VmHWM where /proc has it, else getrusage's lifetime maximum."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _current_rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024


def worker(framework: str, steps: int, batch: int, threads: int | None,
           model: str = "fmnist_cnn") -> dict[str, Any]:
    """One framework alone in this process: median step time and peak RSS growth."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    if framework == "torch":
        import numcnn  # noqa: F401  (both processes load both libraries: equal baselines)
    nm, tm = make_models(model)
    x, y = data(model, batch)
    step = steppers(nm, tm, x, y)[framework]
    del nm, tm                 # the closure keeps the one model it steps
    _reset_peak()
    base = _current_rss_kib()  # model, data and libraries are in; no step has run yet
    step()  # warm-up (allocations, BLAS threads)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    peak = _rss_kib()
    return {"median_ms": 1e3 * float(np.median(times)), "min_ms": 1e3 * float(np.min(times)),
            "peak_growth_mib": max(peak - base, 0) / 1024, "peak_rss_mib": peak / 1024}


def run_workers(script: str, extra: list[str]) -> dict[str, Any]:
    """Run `script --worker FW *extra` for torch, then numcnn, each in its own process; each
    prints one JSON line last. Returns {framework: that JSON}."""
    results = {}
    for fw in ("torch", "numcnn"):
        cmd = [sys.executable, script, "--worker", fw, *extra]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results[fw] = json.loads(out.strip().splitlines()[-1])
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", choices=list(MODELS), default="fmnist_cnn")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--per-round", type=int, default=3)
    ap.add_argument("--batch", type=int, default=None, help="default: 128 (resnet18: 16)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--memory", action="store_true",
                    help="also measure peak memory, each framework alone in a subprocess")
    ap.add_argument("--steps", type=int, default=10, help="steps of each --memory worker")
    ap.add_argument("--worker", choices=["numcnn", "torch"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    batch = args.batch or MODELS[args.model][0]
    if args.worker:
        print(json.dumps(worker(args.worker, args.steps, batch, args.threads, args.model)))
        return
    import threadpoolctl
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    nm, tm = make_models(args.model)
    x, y = data(args.model, batch)
    err = check_same(nm, tm, x[:8])
    if not err < 1e-3:
        raise SystemExit(f"{args.model}: numcnn and torch outputs differ (rel. {err:.2e})")
    times = interleaved(steppers(nm, tm, x, y), args.rounds, args.per_round)
    blas = [f"{i['internal_api']} {i.get('version')} {i.get('architecture')} "
            f"{i['num_threads']} threads" for i in threadpoolctl.threadpool_info()
            if i["user_api"] == "blas"]
    print(f"{args.model}, one SGD step, batch {batch}: {args.rounds} rounds x {args.per_round} "
          f"steps, interleaved; numpy {np.__version__} ({'; '.join(blas)}), torch "
          f"{torch.__version__} ({torch.get_num_threads()} threads); outputs agree to {err:.1e}")
    print(f"{'':8s} {'median ms':>10s} {'p10 ms':>8s} {'p90 ms':>8s}")
    for fw, rs in times.items():
        flat = 1e3 * np.concatenate(rs)
        print(f"{fw:8s} {np.median(flat):10.1f} {np.percentile(flat, 10):8.1f} "
              f"{np.percentile(flat, 90):8.1f}")
    ratios = [np.median(a) / np.median(b) for a, b in zip(times["numcnn"], times["torch"])]
    print(f"ratio numcnn/torch: median {np.median(ratios):.2f}x over rounds "
          f"(range {min(ratios):.2f}-{max(ratios):.2f}x)")
    if args.memory:
        extra = ["--model", args.model, "--batch", str(batch), "--steps", str(args.steps)]
        extra += ["--threads", str(args.threads)] if args.threads else []
        res = run_workers(__file__, extra)
        n, t = res["numcnn"]["peak_growth_mib"], res["torch"]["peak_growth_mib"]
        print(f"peak RSS growth, each alone: numcnn {n:.1f} MiB, torch {t:.1f} MiB, "
              f"ratio {n / max(t, 1e-9):.2f}x")


if __name__ == "__main__":
    main()
