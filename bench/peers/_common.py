"""What the peer scripts share: the workload, the timing loop, the JSON line, and the venv.

Every peer script (`peer_<name>.py`) builds seed 004's Fashion-MNIST CNN in its framework
(two blocks of conv3x3(pad 1)-relu-BN-conv3x3-relu-BN-maxpool2-dropout(0.25) with 32 and 64
channels, flatten, linear 3136->512, relu, BN1d, dropout 0.5, linear 512->10; float32;
1,677,674 parameters) and hands `report` three things:

- `step()`: one training step at batch 128 (forward, cross-entropy, backward, plain SGD lr 0.01),
  returning the loss as a Python float (so the step has really finished when it returns);
- `infer()`: eval-mode inference of 1000 images without gradients, returning the logits as an
  ndarray (1000, 10);
- the parameter count, the framework's version and what it says about its threads.

This module imports only the standard library at the top: a peer script imports it before it
re-executes itself in its own venv (`use_venv`), and numpy is imported where it is used.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

PARAMS = 1_677_674  # weights and biases of the model above (BN running statistics excluded)
TRAIN_BATCH, INFER_BATCH, LR = 128, 1000, 0.01

# Peer venvs live outside the repository, one folder per peer.
VENV_ROOT = Path(os.environ.get("NUMCNN_PEERS_VENVS", Path.home() / ".cache" / "numcnn-peers"))

# The environment variables that slow NumPy's OpenBLAS on this machine when set; the driver
# removes them from the environment of every process it starts.
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def use_venv(name: str, installs: list[list[str]]) -> None:
    """Re-execute the calling script with the python of venv VENV_ROOT/name, first making the venv
    (`python -m venv`, then one `pip install` per entry of `installs`) unless it was already made
    with exactly these installs (a stamp file records them). Returns only inside that venv."""
    venv = VENV_ROOT / name
    python = venv / "bin" / "python"
    if Path(sys.prefix).resolve() == venv.resolve():
        return
    stamp = venv / "numcnn-peer-installs.json"
    wanted = json.dumps(installs)
    if not (python.exists() and stamp.exists() and stamp.read_text() == wanted):
        print(f"making the {name} venv in {venv} (once; pip from PyPI)", file=sys.stderr)
        made = subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)],
                              stdout=sys.stderr)
        if made.returncode != 0:
            sys.exit(f"python -m venv {venv} failed")
        for args in installs:
            # pip's own output goes to stderr: stdout carries only the JSON line.
            done = subprocess.run([str(python), "-m", "pip", "install", "-q",
                                   "--disable-pip-version-check", *args], stdout=sys.stderr)
            if done.returncode != 0:
                sys.exit(f"pip install {' '.join(args)} failed in {venv}")
        stamp.write_text(wanted)
    script = os.path.abspath(sys.argv[0])
    os.execv(str(python), [str(python), script, *sys.argv[1:]])


def data() -> tuple[Any, Any, Any]:
    """The same random inputs for every peer: x (128,1,28,28) float32 in [0,1), labels (128,)
    int64, and the inference batch (1000,1,28,28) float32."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((TRAIN_BATCH, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, TRAIN_BATCH).astype(np.int64)
    xi = rng.random((INFER_BATCH, 1, 28, 28), dtype=np.float32)
    return x, y, xi


def blas_info() -> list[dict[str, Any]]:
    """threadpoolctl's view of the BLAS/OpenMP libraries loaded in this process (empty if
    threadpoolctl is missing)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("internal_api", "version", "num_threads", "architecture", "threading_layer")
    return [{k: d[k] for k in keys if d.get(k) is not None}
            | {"library": os.path.basename(d.get("filepath", ""))} for d in threadpool_info()]


def parse_args(argv: list[str] | None = None) -> Any:
    import argparse

    ap = argparse.ArgumentParser(description="Time one peer (see bench/peers/README.md).")
    ap.add_argument("--setup", action="store_true",
                    help="make the venv if needed, check the framework runs, print its version")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps/inferences first")
    ap.add_argument("--train-reps", type=int, default=10, help="timed training steps")
    ap.add_argument("--infer-reps", type=int, default=5, help="timed batch-1000 inferences")
    return ap.parse_args(argv)


def report(framework: str, version: str, params: int, step: Callable[[], float],
           infer: Callable[[], Any], args: Any, versions: dict[str, str] | None = None,
           threads: str = "", notes: str = "") -> None:
    """Warm up, time `args.train_reps` steps then `args.infer_reps` inferences, and print one
    JSON line. The warm-up counts compilation (XLA, TinyJit) and first allocations."""
    import numpy as np

    losses = []
    for _ in range(args.warmup):
        losses.append(step())
    train_ms = []
    for _ in range(args.train_reps):
        t0 = time.perf_counter()
        losses.append(step())
        train_ms.append(1e3 * (time.perf_counter() - t0))
    for _ in range(args.warmup):
        out = infer()
    infer_ms = []
    for _ in range(args.infer_reps):
        t0 = time.perf_counter()
        out = infer()
        infer_ms.append(1e3 * (time.perf_counter() - t0))
    out = np.asarray(out)
    if out.shape != (INFER_BATCH, 10) or not np.all(np.isfinite(out)):
        sys.exit(f"{framework}: inference gave shape {out.shape}, finite {np.isfinite(out).all()}")
    print(json.dumps({
        "framework": framework, "version": version, "versions": versions or {},
        "python": platform.python_version(), "params": params, "losses": losses,
        "train_batch": TRAIN_BATCH, "train_ms": train_ms,
        "infer_batch": INFER_BATCH, "infer_ms": infer_ms,
        "threads": threads, "blas": blas_info(), "notes": notes,
    }))


def setup_done(framework: str, version: str) -> None:
    """What `--setup` prints once the framework has imported and computed something."""
    print(json.dumps({"framework": framework, "version": version, "setup": "ok"}))
