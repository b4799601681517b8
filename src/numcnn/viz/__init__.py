"""numcnn.viz: look inside a CNN, as seeds 002-004 do (kernels in NumPy, pictures optional).

Each method is a computing function (arrays in, arrays out, testable) and a `plot_` function
that draws its result with matplotlib (`pip install 'numcnn[viz]'`, Agg backend):

- `feature_maps`, `filters`, `max_activation` (seed 004 "Visualization methods"): what each
  layer computes for an input, its kernels, and the input a channel likes best;
- `grad_cam`, `grad_cam_plus_plus`, `saliency`, `guided_backprop`, `occlusion`: where the
  network looks for a class (Selvaraju 2017, Chattopadhay 2018, Simonyan 2014, Springenberg
  2015, Zeiler & Fergus 2014);
- `loss_landscape` (Li et al. 2018, filter-normalised directions; seed 003);
- `embedding_2d`, `confusion_matrix`, `plot_history`, `plot_misclassified`: what a trained
  classifier confuses;
- `write_report`: one self-contained HTML page for a training run (`numcnn report RUN_DIR`).

Names are imported on first use, so `import numcnn.viz` stays cheap and never loads matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> the module of numcnn.viz that defines it
_NAMES = {
    "feature_maps": "features", "plot_feature_maps": "features",
    "filters": "features", "plot_filters": "features",
    "max_activation": "features", "MaxActivation": "features",
    "plot_max_activation": "features",
    "grad_cam": "attribution", "grad_cam_plus_plus": "attribution",
    "saliency": "attribution", "guided_backprop": "attribution", "occlusion": "attribution",
    "plot_grad_cam": "attribution", "plot_attribution": "attribution",
    "loss_landscape": "landscape", "Landscape": "landscape", "plot_landscape": "landscape",
    "filter_normalized_directions": "landscape",
    "embedding_2d": "evaluation", "Embedding": "evaluation", "plot_embedding": "evaluation",
    "confusion_matrix": "evaluation", "plot_confusion": "evaluation",
    "read_history": "evaluation", "plot_history": "evaluation",
    "misclassified": "evaluation", "Misclassified": "evaluation",
    "plot_misclassified": "evaluation",
    "write_report": "report",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'numcnn.viz' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"numcnn.viz.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_NAMES))
