"""The cost model of docs/distributed.md: data-parallel scaling efficiency on a cluster.

Ring allreduce of S bytes over p nodes on a link of bandwidth B (bytes/s) with per-message
latency a takes

    T_comm(S) = 2 (p - 1) / p * S / B  +  2 (p - 1) * a

(each node sends and receives 2(p-1)/p of the data in 2(p-1) steps). A step computes for T_c
(fixed batch per node: weak scaling), of which the backward pass is about 2/3. Then

    no overlap:  E = T_c / (T_c + T_comm(S))
    bucketed:    the gradients are cut into n buckets of about b bytes that become ready in
                 turn during the backward pass; each bucket's allreduce starts when it is
                 ready, one after the other on the link, so only what is left after the
                 backward shows:  exposed = max(T_comm(S/n), n T_comm(S/n) - T_b (1 - 1/n)),
                 E = T_c / (T_c + exposed), with T_b = 2/3 T_c.

With a global batch split over the nodes (strong scaling) the compute per node is T_c / p.

    python scripts/allreduce_model.py                     # the tables of docs/distributed.md
"""

from __future__ import annotations

import math

GBIT = 1e9 / 8                      # bytes per second in one Gbit/s
LATENCY = 20e-6                     # seconds per message step (TCP over Ethernet: 10-50 us)
BUCKET = 25 * 2**20                 # DDP's default bucket_cap_mb = 25
NODES = (2, 4, 8, 16, 32, 64)
LINKS = (10, 25, 100)               # Gbit/s

# (name, gradient bytes, compute seconds per step, where the time comes from, strong): with
# `strong`, the step's batch is global and split over the p nodes (compute / p per node);
# else every node computes a step of its own batch (weak scaling)
CASES = [
    ("seed CNN, batch 128 per node", 6_710_696, 0.35,
     "measured: numcnn step on the 2-core VM (docs/benchmarks.md)", False),
    ("seed CNN, global batch 128 split over the nodes", 6_710_696, 0.35,
     "measured: numcnn step on the 2-core VM, divided by p", True),
    ("ResNet-50, batch 32 per node", 102_228_128, 12.0,
     "measured: numcnn, 0.37 s per image on the 2-core VM", False),
    ("ResNet-50, global batch 256 split over the nodes", 102_228_128, 95.0,
     "measured: 0.37 s per image x 256, divided by p", True),
    ("ResNet-50, batch 32 per node, 0.1 s step", 102_228_128, 0.1,
     "assumed: a modern accelerator (not measured here)", False),
]


def t_comm(size: float, p: int, bandwidth: float, latency: float = LATENCY) -> float:
    return 2 * (p - 1) / p * size / bandwidth + 2 * (p - 1) * latency


def efficiency(size: float, compute: float, p: int, bandwidth: float,
               bucketed: bool) -> float:
    if not bucketed:
        return compute / (compute + t_comm(size, p, bandwidth))
    n = max(1, math.ceil(size / BUCKET))
    one = t_comm(size / n, p, bandwidth)
    backward = 2 / 3 * compute
    exposed = max(one, n * one - backward * (1 - 1 / n))
    return compute / (compute + exposed)


def main() -> None:
    for name, size, compute, source, strong in CASES:
        print(f"\n{name}: {size / 1e6:.1f} MB of gradients, {compute:g} s compute per step "
              f"({source})\n")
        print("| link | " + " | ".join(f"p={p}" for p in NODES) + " | below 80% from |")
        print("|---|" + "---:|" * len(NODES) + "---|")
        for gbit in LINKS:
            for bucketed in (False, True):
                effs = [efficiency(size, compute / p if strong else compute, p, gbit * GBIT,
                                   bucketed) for p in NODES]
                low = next((p for p, e in zip(NODES, effs) if e < 0.8), None)
                label = f"{gbit} Gbit/s, {'bucketed + overlap' if bucketed else 'no overlap'}"
                print(f"| {label} | " + " | ".join(f"{e:.0%}" for e in effs)
                      + f" | {'p=' + str(low) if low else 'never (to 64)'} |")


if __name__ == "__main__":
    main()
