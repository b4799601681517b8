"""Peers in one run: seed 004's CNN trained and run by PyTorch, numcnn, Keras 3 on JAX, Chainer
and tinygrad on this machine, interleaved.

    python bench/peers/run.py [--rounds 5] [--peers torch numcnn ...] [--markdown]
                              [--train-reps 10] [--infer-reps 5] [--warmup 2]

First every peer's script is run with --setup (it makes its venv on first use: see README.md);
a peer that cannot be installed or started is named with the reason, and the run goes on
without it. Then round r runs every peer once, each in its own subprocess, in an order rotated
by r, so that a slow spell of this shared machine falls on all of them. Each run warms up, times
--train-reps training steps (batch 128) and --infer-reps eval inferences (batch 1000) and prints
one JSON line. The table gives medians over all timed repetitions of all rounds, their spread
(min-max), and the ratio of each median time to PyTorch's median time in the same run.

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE slow NumPy's OpenBLAS here: the subprocesses are started
without them (and the output says so when they were set).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import INFER_BATCH, OPENBLAS_VARS, PARAMS, TRAIN_BATCH

HERE = Path(__file__).resolve().parent
PEERS = ("torch", "numcnn", "keras_jax", "chainer", "tinygrad")
SETUP_TIMEOUT_S = 1800  # the first setup installs from PyPI
RUN_TIMEOUT_S = 1200  # tinygrad's first calls compile for a minute or more on a busy machine


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in OPENBLAS_VARS}


def last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines()
             if ln.strip() and not ln.startswith("WARNING: Location")]
    return lines[-1].strip() if lines else ""


def run_peer(peer: str, extra: list[str], timeout: int) -> tuple[dict[str, Any] | None, str]:
    """Run bench/peers/peer_<peer>.py with `extra`; (its JSON line, "") or (None, why not)."""
    cmd = [sys.executable, str(HERE / f"peer_{peer}.py"), *extra]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(),
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout} s"
    if done.returncode != 0:
        return None, last_line(done.stderr) or f"exit code {done.returncode}"
    try:
        return json.loads(last_line(done.stdout)), ""
    except json.JSONDecodeError:
        return None, f"no JSON line in its output: {last_line(done.stdout)[:200]!r}"


def machine_facts() -> list[str]:
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                if ln.startswith("model name")), platform.processor() or "?")
    facts = [f"CPU: {cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, "
             f"{platform.system()} {platform.release()}"]
    probe = ("import json, numpy; from _common import blas_info; "
             "print(json.dumps([numpy.__version__, blas_info()]))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=HERE, env=clean_env())
    try:
        np_version, blas = json.loads(last_line(done.stdout))
    except json.JSONDecodeError:
        np_version, blas = "?", []
    if not blas:
        facts.append(f"NumPy {np_version}: threadpoolctl is missing from this venv "
                     "(pip install threadpoolctl) - BLAS kernel not read")
    for b in blas:
        facts.append(f"NumPy {np_version}: {describe_blas(b)} (threadpoolctl)")
    set_vars = [f"{k}={os.environ[k]}" for k in OPENBLAS_VARS if k in os.environ]
    if set_vars:
        facts.append(f"WARNING: {' '.join(set_vars)} is set in this environment; it slows "
                     "OpenBLAS here. The peers ran with it unset.")
    else:
        facts.append(f"{' and '.join(OPENBLAS_VARS)} unset (the driver unsets them for the "
                     "peers in any case)")
    return facts


def describe_blas(b: dict[str, Any]) -> str:
    arch = f", kernel {b['architecture']}" if b.get("architecture") else ""
    return (f"{b.get('internal_api', '?')} {b.get('version') or ''}{arch}, "
            f"{b.get('num_threads', '?')} threads").replace(" ,", ",")


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Pool one peer's runs: medians, spreads, the model checks."""
    train = [t for r in runs for t in r["train_ms"]]
    infer = [t for r in runs for t in r["infer_ms"]]
    # The loss falls: the mean of the last third of a run's steps (one batch, seen again and
    # again) below the mean of the first third.
    falls = sum(statistics.mean(r["losses"][-k:]) < statistics.mean(r["losses"][:k])
                for r in runs for k in [max(1, len(r["losses"]) // 3)])
    first = runs[0]
    return {
        "framework": first["framework"], "version": first["version"],
        "versions": first["versions"], "params": {r["params"] for r in runs},
        "train": (statistics.median(train), min(train), max(train)),
        "infer": (statistics.median(infer), min(infer), max(infer)),
        "loss": (first["losses"][0], first["losses"][-1]), "falls": falls, "runs": len(runs),
        "threads": first["threads"], "blas": first["blas"], "notes": first["notes"],
        "reps": (len(train), len(infer)),
    }


def rows(summaries: dict[str, dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the table (the same for text and markdown)."""
    ref = summaries.get("torch")
    header = ["framework", "version", f"train step ms (B={TRAIN_BATCH})", "x PyTorch",
              f"inference img/s (B={INFER_BATCH})", "x PyTorch time", "params",
              "loss (1st run)", "loss falls"]
    cells = []
    for s in summaries.values():
        tm, tlo, thi = s["train"]
        im, ilo, ihi = s["infer"]
        tr = f"{tm / ref['train'][0]:.2f}" if ref else "-"
        ir = f"{im / ref['infer'][0]:.2f}" if ref else "-"
        extra = ", ".join(f"{k} {v}" for k, v in s["versions"].items())
        params = ", ".join(f"{p:,}" + ("" if p == PARAMS else " (!)") for p in sorted(s["params"]))
        cells.append([
            s["framework"], s["version"] + (f" ({extra})" if extra else ""),
            f"{tm:.1f} ({tlo:.1f}-{thi:.1f})", tr,
            f"{1e3 * INFER_BATCH / im:,.0f} ({1e3 * INFER_BATCH / ihi:,.0f}-"
            f"{1e3 * INFER_BATCH / ilo:,.0f})", ir,
            params, f"{s['loss'][0]:.3f} -> {s['loss'][1]:.3f}", f"{s['falls']}/{s['runs']} runs",
        ])
    return header, cells


def print_text(header: list[str], cells: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(len(header))]
    for r in [header, *cells]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def print_markdown(header: list[str], cells: list[list[str]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for r in cells:
        print("| " + " | ".join(c.replace("->", "→") for c in r) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--peers", nargs="+", choices=PEERS, default=list(PEERS))
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--train-reps", type=int, default=10)
    ap.add_argument("--infer-reps", type=int, default=5)
    ap.add_argument("--markdown", action="store_true", help="print the table as markdown")
    args = ap.parse_args()
    t_start = time.perf_counter()

    peers, missing = [], {}
    for peer in args.peers:
        info, why = run_peer(peer, ["--setup"], SETUP_TIMEOUT_S)
        if info is None:
            missing[peer] = why
            print(f"{peer}: not measured: {why}", file=sys.stderr)
        else:
            peers.append(peer)
            print(f"{peer}: {info['framework']} {info['version']} ready", file=sys.stderr)

    extra = ["--warmup", str(args.warmup), "--train-reps", str(args.train_reps),
             "--infer-reps", str(args.infer_reps)]
    results: dict[str, list[dict[str, Any]]] = {p: [] for p in peers}
    for r in range(args.rounds):
        order = peers[r % len(peers):] + peers[:r % len(peers)] if peers else []
        for peer in order:
            t0 = time.perf_counter()
            out, why = run_peer(peer, extra, RUN_TIMEOUT_S)
            if out is None:
                print(f"round {r + 1}: {peer} failed: {why}", file=sys.stderr)
                continue
            results[peer].append(out)
            print(f"round {r + 1}/{args.rounds}: {peer:9s} train "
                  f"{statistics.median(out['train_ms']):8.1f} ms, infer "
                  f"{statistics.median(out['infer_ms']):8.1f} ms  "
                  f"({time.perf_counter() - t0:.0f} s with start-up)", file=sys.stderr)
    summaries = {p: summarise(rs) for p, rs in results.items() if rs}
    for p in peers:
        if p not in summaries and args.rounds > 0:
            missing[p] = "every run failed (see above)"

    header, cells = rows(summaries)
    facts = machine_facts()
    command = "python bench/peers/run.py " + " ".join(sys.argv[1:])
    how = (f"{args.rounds} rounds, each peer once per round in its own process in a rotating "
           f"order; per run {args.warmup} warm-up calls (compilation included), "
           f"{args.train_reps} timed steps, {args.infer_reps} timed inferences. Medians over all "
           "timed repetitions, spread min-max; x PyTorch = median time / PyTorch's median time "
           "in this run (below 1 is faster). Random 1x28x28 inputs, float32.")
    notes = [f"{s['framework']}: {s['notes']}; {s['threads']}; "
             + "; ".join(describe_blas(b) for b in s["blas"]) for s in summaries.values()]
    if args.markdown:
        print(f"`{command.strip()}` ({time.perf_counter() - t_start:.0f} s)\n")
        print_markdown(header, cells)
        print()
        for line in [how, *facts, *notes]:
            print(f"- {line}")
        for p, why in missing.items():
            print(f"- {p}: not measured: {why}")
    else:
        print(how)
        print_text(header, cells)
        for line in [*facts, *notes]:
            print(line)
        for p, why in missing.items():
            print(f"{p}: not measured: {why}")
        print(f"({time.perf_counter() - t_start:.0f} s)")


if __name__ == "__main__":
    main()
