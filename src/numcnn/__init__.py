"""numcnn: convolutional networks on NumPy, with PyTorch's API and hand-derived gradients."""

import builtins
import importlib
from typing import TYPE_CHECKING

from numcnn import (
    autograd,
    nn,  # noqa: E402  (after the core, as torch.nn after torch)
    random,
)
from numcnn.autograd import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from numcnn.dtypes import (
    bool,
    double,
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    set_default_dtype,
    short,
    uint8,
)
from numcnn.factory import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from numcnn.functions import *  # noqa: E402,F403  (each listed in functions.__all__)
from numcnn.random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from numcnn.tensor import Tensor

__version__ = "0.1.0"

from numcnn import (  # noqa: E402  (after the core, as torch.optim / torch.utils.data)
    data,
    optim,
)
from numcnn.io import load, save  # noqa: E402

if TYPE_CHECKING:
    from numcnn import analysis, models, utils  # noqa: F401

_LAZY_SUBMODULES = ("models", "analysis", "utils", "onnx")   # zoo, summary, utils.data, ONNX


def __getattr__(name: str) -> object:
    """`numcnn.models` and `numcnn.analysis` are imported on first use, so that `import
    numcnn` (and every `numcnn` command) does not pay for the model zoo it may not need."""
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"numcnn.{name}")
    raise AttributeError(f"module 'numcnn' has no attribute {name!r}")

# devices and dtype objects as torch's (numcnn runs on the CPU only; see docs/compat.md)
from numcnn import accelerator, backends, cuda  # noqa: E402
from numcnn.devices import device  # noqa: E402
from numcnn.dtypes import (  # noqa: E402
    cdouble,
    cfloat,
    complex64,
    complex128,
    dtype,
    finfo,
    iinfo,
    uint16,
    uint32,
    uint64,
)
from numcnn.tensor import Size  # noqa: E402
