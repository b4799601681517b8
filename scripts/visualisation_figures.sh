#!/usr/bin/env bash
# The pictures of docs/visualisation.md, from the default Fashion-MNIST run (numcnn train --out
# RUN). Usage: bash scripts/visualisation_figures.sh RUN   (writes docs/img/viz/*.png)
set -euo pipefail
RUN=${1:?usage: visualisation_figures.sh RUN_DIR}
CK="$RUN/best.safetensors"
OUT=docs/img/viz
mkdir -p "$OUT"
# one test image of each class: T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt,
# Sneaker, Bag, Ankle boot
ONE_PER_CLASS="19 2 1 13 6 8 4 9 18 0"
numcnn viz feature-maps "$CK" --test-index 0 --max-channels 16 --out "$OUT/feature_maps.png"
numcnn viz filters "$CK" --out "$OUT/filters.png"
numcnn viz grad-cam "$CK" --test-index $ONE_PER_CLASS --out "$OUT/grad_cam.png"
numcnn viz grad-cam "$CK" --test-index $ONE_PER_CLASS --plus-plus --out "$OUT/grad_cam_pp.png"
numcnn viz saliency "$CK" --test-index 0 4 9 18 --out "$OUT/saliency.png"
numcnn viz occlusion "$CK" --test-index 0 4 9 18 --window 6 --stride 2 --out "$OUT/occlusion.png"
numcnn viz max-activation "$CK" --channel 0 1 2 3 4 5 6 7 --out "$OUT/max_activation.png"
python - "$RUN" "$OUT/confusion.png" <<'PY'
import sys

import numcnn.viz as viz
from numcnn.data import DataLoader
from numcnn.train import evaluate, load_run, load_test_set

model, config = load_run(f"{sys.argv[1]}/best.safetensors")
result = evaluate(model, DataLoader(load_test_set(config), batch_size=256))
viz.plot_confusion(result.confusion_matrix, config["classes"]).savefig(sys.argv[2], dpi=80)
print(f"wrote {sys.argv[2]}: accuracy {result.accuracy:.4f}")
PY
numcnn report "$RUN"
