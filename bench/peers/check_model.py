"""Is it the same model everywhere? Start every peer from PyTorch's initial weights, switch
dropout off, take three SGD steps on the benchmark's batch and compare the losses with PyTorch's.

    python bench/peers/check_model.py [--peers numcnn keras_jax chainer tinygrad]

Each peer's model comes from the `build` of its `peer_<name>.py`, so this checks the models the
benchmark times (layer order, shapes, BatchNorm's epsilon, the flatten order, the loss and the
update), not copies of them. Keras is channels-last: its first Dense layer gets PyTorch's
weight with the 3136 inputs reordered from (C, H, W) to (H, W, C). Exits 1 when a loss differs
from PyTorch's by more than 1e-3 (relative): float32 sums in other orders, three steps.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import LR, data, use_venv

HERE = Path(__file__).resolve().parent
STEPS, RTOL = 3, 1e-3
CONV, BN, FC = (0, 3, 8, 11), (2, 5, 10, 13, 19), (17, 21)  # indices in build()'s Sequential


def torch_reference(path: str) -> list[float]:
    """PyTorch's model (seed 0, dropout off): save its initial state_dict, return its losses."""
    import numpy as np
    import torch

    sys.path.insert(0, str(HERE.parent))
    from train_step import build

    torch.manual_seed(0)
    model = build(torch.nn)
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    np.savez(path, **{k: v.numpy() for k, v in model.state_dict().items()})
    x, y, _ = (torch.from_numpy(a) for a in data())
    losses = []
    for _ in range(STEPS):
        model.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p.add_(p.grad, alpha=-LR)
        losses.append(loss.item())
    return losses


def numcnn_losses(sd: dict[str, Any]) -> list[float]:
    import numcnn

    sys.path.insert(0, str(HERE.parent))
    from train_step import build

    model = build(numcnn.nn)
    model.load_state_dict(sd)
    for m in model.modules():
        if isinstance(m, numcnn.nn.Dropout):
            m.p = 0.0
    x, y, _ = (numcnn.from_numpy(a) for a in data())
    losses = []
    for _ in range(STEPS):
        for p in model.parameters():
            p.grad = None
        loss = numcnn.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        with numcnn.no_grad():
            for p in model.parameters():
                p.array -= LR * p.grad.array
        losses.append(float(loss.item()))
    return losses


def keras_losses(sd: dict[str, Any]) -> list[float]:
    os.environ["KERAS_BACKEND"] = "jax"
    import keras
    import numpy as np
    from peer_keras_jax import build

    model = build(keras)
    convs = [m for m in model.layers if isinstance(m, keras.layers.Conv2D)]
    bns = [m for m in model.layers if isinstance(m, keras.layers.BatchNormalization)]
    dense = [m for m in model.layers if isinstance(m, keras.layers.Dense)]
    for layer, i in zip(convs, CONV):  # (out, in, kh, kw) -> (kh, kw, in, out)
        layer.set_weights([sd[f"{i}.weight"].transpose(2, 3, 1, 0), sd[f"{i}.bias"]])
    for layer, i in zip(bns, BN):
        layer.set_weights([sd[f"{i}.{n}"] for n in ("weight", "bias", "running_mean",
                                                     "running_var")])
    w1 = sd["17.weight"].reshape(512, 64, 7, 7).transpose(2, 3, 1, 0).reshape(3136, 512)
    dense[0].set_weights([w1, sd["17.bias"]])
    dense[1].set_weights([sd["21.weight"].T, sd["21.bias"]])
    for m in model.layers:
        if isinstance(m, keras.layers.Dropout):
            m.rate = 0.0
    model.compile(optimizer=keras.optimizers.SGD(LR), jit_compile=True,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y, _ = data()
    x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    return [float(model.train_on_batch(x, y)) for _ in range(STEPS)]


def chainer_losses(sd: dict[str, Any]) -> list[float]:
    import chainer
    import numpy as np
    from peer_chainer import build

    chainer.functions.dropout = lambda x, ratio=0.5, **kw: x  # build's forward looks it up
    model = build(chainer)
    for link, i in zip(model.conv, CONV):
        link.W.array[...], link.b.array[...] = sd[f"{i}.weight"], sd[f"{i}.bias"]
    for link, i in zip(model.bn, BN):
        link.gamma.array[...], link.beta.array[...] = sd[f"{i}.weight"], sd[f"{i}.bias"]
        link.avg_mean[...], link.avg_var[...] = sd[f"{i}.running_mean"], sd[f"{i}.running_var"]
    for link, i in zip((model.fc1, model.fc2), FC):
        link.W.array[...], link.b.array[...] = sd[f"{i}.weight"], sd[f"{i}.bias"]
    opt = chainer.optimizers.SGD(lr=LR)
    opt.setup(model)
    x, y, _ = data()
    losses = []
    for _ in range(STEPS):
        model.cleargrads()
        loss = chainer.functions.softmax_cross_entropy(model(x), y.astype(np.int32))
        loss.backward()
        opt.update()
        losses.append(float(loss.array))
    return losses


def tinygrad_losses(sd: dict[str, Any]) -> list[float]:
    os.environ.setdefault("DEV", "CPU")
    from peer_tinygrad import build
    from tinygrad import Context, Tensor, nn

    Tensor.dropout = lambda self, p=0.5: self  # build's forward calls .dropout on tensors
    model = build(nn)
    mods = dict(zip(CONV, model.conv)) | dict(zip(BN, model.bn)) | dict(zip(FC, (model.fc1,
                                                                                  model.fc2)))
    for key, value in sd.items():
        i, name = key.split(".")
        if name != "num_batches_tracked":
            getattr(mods[int(i)], name).assign(Tensor(value)).realize()
    opt = nn.optim.SGD(nn.state.get_parameters(model), lr=LR)
    x, y, _ = (Tensor(a) for a in data())
    losses = []
    for _ in range(STEPS):
        with Context(TRAINING=1):
            opt.zero_grad()
            loss = model(x).sparse_categorical_crossentropy(y)
            loss.backward()
            losses.append(loss.realize(*opt.schedule_step()).item())
    return losses


PEERS = {"numcnn": (None, numcnn_losses), "keras_jax": ("peer_keras_jax", keras_losses),
         "chainer": ("peer_chainer", chainer_losses), "tinygrad": ("peer_tinygrad",
                                                                   tinygrad_losses)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--peers", nargs="+", choices=list(PEERS), default=list(PEERS))
    ap.add_argument("--worker", nargs=2, metavar=("PEER", "WEIGHTS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        peer, path = args.worker
        module, losses = PEERS[peer]
        if module is not None:
            use_venv(peer, __import__(module).INSTALLS)
        import numpy as np

        with np.load(path) as f:
            sd = {k: f[k] for k in f.files}
        print(json.dumps(losses(sd)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "torch_init.npz")
        ref = torch_reference(path)
        print(f"{'PyTorch':10s} " + "  ".join(f"{v:.5f}" for v in ref))
        bad = 0
        for peer in args.peers:
            done = subprocess.run([sys.executable, __file__, "--worker", peer, path],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                print(f"{peer:10s} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
                bad += 1
                continue
            got = json.loads(done.stdout.strip().splitlines()[-1])
            err = max(abs(g - r) / abs(r) for g, r in zip(got, ref))
            bad += err > RTOL
            print(f"{peer:10s} " + "  ".join(f"{v:.5f}" for v in got)
                  + f"   max rel diff {err:.1e}" + ("" if err <= RTOL else "  DIFFERENT"))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
