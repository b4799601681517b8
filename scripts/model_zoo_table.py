"""Print the README's model-zoo table: every model in numcnn.models, measured by the summary tool.

For each name in `numcnn.models.MODELS` (family by family) the model is built with its
defaults and `numcnn.analysis.summary` runs it once on zeros at its default input size
(batch 1): trainable parameters, multiply-accumulates and forward activation memory (float32).

    python scripts/model_zoo_table.py > /tmp/zoo.md       # a few minutes; progress on stderr
"""

from __future__ import annotations

import sys

from tqdm import tqdm

from numcnn import models
from numcnn.analysis.summary import summary


def main() -> int:
    print("| model | input | parameters | MACs | forward activations |")
    print("|---|---|---:|---:|---:|")
    for name in tqdm(list(models.MODELS), desc="summary", unit="model", file=sys.stderr):
        size = models.input_size(name)
        s = summary(models.MODELS[name](), size)
        shape = "x".join(str(v) for v in size)
        print(f"| `{name}` | {shape} | {s.trainable_params:,} | {s.macs / 1e6:,.1f} M "
              f"| {s.forward_bytes / 2**20:,.1f} MiB |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
