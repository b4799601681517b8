"""numcnn.analysis: exact accounting of a network, as the lectures do it by hand.

- `summary(model, input_size)`: per-layer output shapes, parameters, MACs and activation memory,
  with totals (`numcnn summary MODEL`);
- `receptive_field(model, input_size)`: per-layer receptive field size, jump and start on each
  spatial axis, following every path of a branching network (`numcnn rf MODEL`).
"""

from numcnn.analysis.receptive_field import ReceptiveField, receptive_field
from numcnn.analysis.summary import LayerRow, ModelSummary, summary

__all__ = ["summary", "ModelSummary", "LayerRow", "receptive_field", "ReceptiveField"]
