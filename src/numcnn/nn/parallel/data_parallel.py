"""`DataParallel`: on one CPU, a pass-through wrapper (as `torch.nn.DataParallel` without CUDA).

Code written for several GPUs wraps its model as `model = nn.DataParallel(model)` and then
calls, trains and saves the wrapper.  PyTorch without CUDA keeps only `module` and an empty
`device_ids` and calls the module directly; numcnn does the same, so such code runs unchanged
and its `state_dict` keys carry the same "module." prefix.
"""

from __future__ import annotations

from typing import Any, Sequence

from numcnn.nn.module import Module


class DataParallel(Module):
    """Wraps `module`; `forward(*inputs, **kwargs)` is `module(*inputs, **kwargs)`.

    Args:
        module: the module to wrap (registered as the submodule "module").
        device_ids: ignored, as by PyTorch when CUDA is absent (`device_ids` becomes []).
        output_device: ignored likewise.
        dim: ignored likewise (the dimension a GPU run would scatter along).

    Attributes:
        module: the wrapped module.
        device_ids: always [] (no devices to scatter to).
    """

    def __init__(self, module: Module, device_ids: Sequence[Any] | None = None,
                 output_device: Any = None, dim: int = 0) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel expects an nn.Module, got {type(module).__name__}")
        self.module = module
        self.device_ids: list[Any] = []

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)
