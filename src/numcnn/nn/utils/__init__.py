"""numcnn.nn.utils: helpers around training (gradient clipping) and mask-based pruning
(`numcnn.nn.utils.prune`), as torch.nn.utils."""

from numcnn.nn.utils import prune
from numcnn.nn.utils.clip_grad import (
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
           "prune"]
