"""numcnn.nn.utils: helpers around training (gradient clipping), mask-based pruning
(`numcnn.nn.utils.prune`) and batch-norm folding (`numcnn.nn.utils.fusion`), as
torch.nn.utils."""

from numcnn.nn.utils import fusion, prune
from numcnn.nn.utils.clip_grad import (
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
           "fusion", "prune"]
