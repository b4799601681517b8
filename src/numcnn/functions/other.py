"""Top-level forms of shape methods (`numcnn.transpose(x, 0, 1)` = `x.transpose(0, 1)`),
joining tensors (cat, stack, hstack, vstack), predicates, and the activations PyTorch also
exposes at top level.  Shape functions forward to the Tensor methods, which own the logic.
"""

from __future__ import annotations

import builtins
import importlib
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from numcnn.functions._args import cast, check_tensor, norm_dim, result_dtype
from numcnn.ops import shape as S

# the module, not the `numcnn.tensor` factory that `numcnn` exports under that name
_t = importlib.import_module("numcnn.tensor")

if TYPE_CHECKING:
    from numcnn.tensor import Tensor


# ------------------------------------------------------------------------- shape forwards
def transpose(input: Tensor, dim0: builtins.int, dim1: builtins.int) -> Tensor:
    """input with dims dim0 and dim1 swapped."""
    return check_tensor(input, "transpose").transpose(dim0, dim1)


def swapaxes(input: Tensor, axis0: builtins.int, axis1: builtins.int) -> Tensor:
    """input with dims axis0 and axis1 swapped (`transpose`)."""
    return check_tensor(input, "swapaxes").transpose(axis0, axis1)


def swapdims(input: Tensor, dim0: builtins.int, dim1: builtins.int) -> Tensor:
    """input with dims dim0 and dim1 swapped (`transpose`)."""
    return check_tensor(input, "swapdims").transpose(dim0, dim1)


def permute(input: Tensor, dims: Sequence[builtins.int]) -> Tensor:
    """input with its dims reordered by `dims`."""
    return check_tensor(input, "permute").permute(*dims)


def squeeze(input: Tensor, dim: Any = None) -> Tensor:
    """input without its size-1 dims (only those in `dim` when given)."""
    x = check_tensor(input, "squeeze")
    return x.squeeze() if dim is None else x.squeeze(dim)


def unsqueeze(input: Tensor, dim: builtins.int) -> Tensor:
    """input with a size-1 dim inserted at `dim`."""
    return check_tensor(input, "unsqueeze").unsqueeze(dim)


def t(input: Tensor) -> Tensor:
    """The transpose of a tensor of at most 2 dims."""
    return check_tensor(input, "t").t()


def flatten(input: Tensor, start_dim: builtins.int = 0, end_dim: builtins.int = -1) -> Tensor:
    """input with dims start_dim..end_dim merged into one."""
    return check_tensor(input, "flatten").flatten(start_dim, end_dim)


def reshape(input: Tensor, shape: Sequence[builtins.int]) -> Tensor:
    """input with a new shape of the same number of elements (one entry may be -1)."""
    return check_tensor(input, "reshape").reshape(shape)


def chunk(input: Tensor, chunks: builtins.int, dim: builtins.int = 0) -> tuple[Tensor, ...]:
    """input split into `chunks` near-equal pieces along `dim` (the last may be smaller)."""
    return check_tensor(input, "chunk").chunk(chunks, dim)


def split(tensor: Tensor, split_size_or_sections: Any, dim: builtins.int = 0
          ) -> tuple[Tensor, ...]:
    """tensor split along `dim` into pieces of one size or of the given sizes."""
    return check_tensor(tensor, "split", "tensor").split(split_size_or_sections, dim)


def numel(input: Tensor) -> builtins.int:
    """The number of elements."""
    return check_tensor(input, "numel").numel()


def is_tensor(obj: Any) -> builtins.bool:
    """True when obj is a numcnn Tensor."""
    return isinstance(obj, _t.Tensor)


def is_floating_point(input: Tensor) -> builtins.bool:
    """True when input has a floating dtype."""
    return check_tensor(input, "is_floating_point").is_floating_point()


# ------------------------------------------------------------------------- joining
def _tensor_list(tensors: Any, name: str) -> list[Tensor]:
    if isinstance(tensors, _t.Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{name}(): argument 'tensors' (position 1) must be tuple of Tensors, "
                        f"not {type(tensors).__name__}")
    ts = [check_tensor(x, name, "tensors", 1) for x in tensors]
    if not ts:
        raise RuntimeError(f"{name}(): expected a non-empty list of Tensors")
    return ts


def _promoted(ts: list[Tensor]) -> list[Tensor]:
    """cat/stack promote as arithmetic does, but every tensor counts as dimensioned."""
    d = ts[0].array.dtype
    for x in ts[1:]:
        d = result_dtype(np.empty((1,), d), np.empty((1,), x.dtype))
    return [cast(x, d) for x in ts]


def cat(tensors: Iterable[Tensor], dim: builtins.int = 0) -> Tensor:
    """Tensors joined along an existing dim (sizes must match elsewhere); dtypes promote.
    1-D empty tensors are skipped, as in PyTorch."""
    ts = _tensor_list(tensors, "cat")
    ts = [x for x in ts if not (x.ndim == 1 and x.shape[0] == 0)] or ts[:1]
    if any(x.ndim == 0 for x in ts):
        raise RuntimeError("zero-dimensional tensor cannot be concatenated")
    ref = ts[0]
    d = norm_dim(dim, ref.ndim)
    for i, x in enumerate(ts):
        if x.ndim != ref.ndim or any(a != b for k, (a, b) in enumerate(zip(x.shape, ref.shape))
                                     if k != d):
            raise RuntimeError(
                f"Sizes of tensors must match except in dimension {d}. Expected size "
                f"{ref.shape[0 if d else 1] if ref.ndim > 1 else ref.shape[0]} but got "
                f"sizes {list(ref.shape)} and {list(x.shape)} for tensor number {i} in the list."
            )
    return S.Cat.apply(*_promoted(ts), axis=d)


concat = concatenate = cat


def stack(tensors: Iterable[Tensor], dim: builtins.int = 0) -> Tensor:
    """Equal-shaped tensors joined along a new dim; dtypes promote."""
    ts = _tensor_list(tensors, "stack")
    for i, x in enumerate(ts):
        if x.shape != ts[0].shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(ts[0].shape)} at "
                f"entry 0 and {list(x.shape)} at entry {i}"
            )
    return S.Stack.apply(*_promoted(ts), axis=norm_dim(dim, ts[0].ndim + 1))


def hstack(tensors: Iterable[Tensor]) -> Tensor:
    """Join along dim 1 (along dim 0 for 1-D tensors); 0-d tensors count as 1-D."""
    ts = [x.reshape(1) if x.ndim == 0 else x for x in _tensor_list(tensors, "hstack")]
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors: Iterable[Tensor]) -> Tensor:
    """Join along dim 0, 0-d and 1-D tensors first made rows (1, n)."""
    ts = [x.reshape(1, -1) if x.ndim < 2 else x for x in _tensor_list(tensors, "vstack")]
    return cat(ts, 0)


row_stack = vstack


# ------------------------------------------------------------------------- activations
def relu(input: Tensor) -> Tensor:
    """max(input, 0) (numcnn.nn.functional.relu)."""
    from numcnn.nn import functional as F
    return F.relu(check_tensor(input, "relu"))


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-input)) (numcnn.nn.functional.sigmoid)."""
    from numcnn.nn import functional as F
    return F.sigmoid(check_tensor(input, "sigmoid"))


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent (numcnn.nn.functional.tanh)."""
    from numcnn.nn import functional as F
    return F.tanh(check_tensor(input, "tanh"))


def softmax(input: Tensor, dim: builtins.int, dtype: Any = None) -> Tensor:
    """exp(input) / sum(exp(input)) along dim (numcnn.nn.functional.softmax)."""
    from numcnn.nn import functional as F
    return F.softmax(check_tensor(input, "softmax"), dim, dtype=dtype)


def log_softmax(input: Tensor, dim: builtins.int, dtype: Any = None) -> Tensor:
    """log(softmax(input, dim)), computed stably (numcnn.nn.functional.log_softmax)."""
    from numcnn.nn import functional as F
    return F.log_softmax(check_tensor(input, "log_softmax"), dim, dtype=dtype)


# ------------------------------------------------------------------------- diff, tensor_split
def diff(input: Tensor, n: builtins.int = 1, dim: builtins.int = -1,
         prepend: Tensor | None = None, append: Tensor | None = None) -> Tensor:
    """The n-th forward difference along `dim`: out_i = x_{i+1} - x_i, applied n times, after
    joining `prepend` and `append` (bool inputs: x_{i+1} != x_i).

    Shape:
        length L along dim (prepend and append included) -> max(L - n, 0).
    """
    x = check_tensor(input, "diff")
    if x.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = norm_dim(dim, x.ndim)
    parts = [t for t in (prepend, x, append) if t is not None]
    if len(parts) > 1:
        x = cat(parts, dim=d)
    for _ in range(n):
        length = x.shape[d]
        if length == 0:
            break
        hi, lo = x.narrow(d, 1, length - 1), x.narrow(d, 0, length - 1)
        x = hi != lo if x.dtype == np.bool_ else hi - lo
    return x


def tensor_split(input: Tensor, indices_or_sections: Any, dim: builtins.int = 0
                 ) -> tuple[Tensor, ...]:
    """Views of `input` split along `dim`: an int n gives n parts (the first L % n one longer,
    as numpy.array_split); a list of indices gives the parts between them.

    Returns:
        a tuple of views; parts past the end are empty.
    """
    x = check_tensor(input, "tensor_split")
    if x.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a "
                           "tensor with 0 dims")
    d = norm_dim(dim, x.ndim)
    length = x.shape[d]
    spec = indices_or_sections
    if isinstance(spec, _t.Tensor):
        if spec.dtype.kind not in "iu" or spec.ndim > 1:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to have "
                               "integer dtype and be 0-d or 1-d")
        spec = spec.array.item() if spec.ndim == 0 else spec.array.tolist()
    if isinstance(spec, (builtins.int, np.integer)):
        if spec <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {spec}")
        q, r = divmod(length, builtins.int(spec))
        sizes = [q + 1] * r + [q] * (builtins.int(spec) - r)
        bounds = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    else:
        idx = [builtins.min(builtins.max(builtins.int(i) + (length if i < 0 else 0), 0),
                            length) for i in spec]
        bounds = [0, *idx, length]
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        start = builtins.min(lo, length)
        out.append(x.narrow(d, start, builtins.max(builtins.min(hi, length) - start, 0)))
    return tuple(out)
