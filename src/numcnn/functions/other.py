"""Top-level forms of shape methods (`numcnn.transpose(x, 0, 1)` = `x.transpose(0, 1)`),
joining tensors (cat, stack, hstack, vstack), predicates, and the activations PyTorch also
exposes at top level.  Shape functions forward to the Tensor methods, which own the logic.
"""

from __future__ import annotations

import builtins
import importlib
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from numcnn import dtypes
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


def _split_checked(x: Tensor, spec: Any, dim: builtins.int, name: str) -> tuple[Tensor, ...]:
    """tensor_split, where an int number of sections must divide the dim exactly."""
    if isinstance(spec, (builtins.int, np.integer)) and (spec == 0 or x.shape[dim] % spec):
        raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the "
                           f"size of the dimension {x.shape[dim]} is not divisible by the "
                           f"split_size {spec}!")
    return tensor_split(x, spec, dim)


def hsplit(input: Tensor, indices_or_sections: Any) -> tuple[Tensor, ...]:
    """tensor_split along dim 1 (dim 0 for 1-d input); sections must divide it exactly."""
    x = check_tensor(input, "hsplit")
    if x.ndim < 1:
        raise RuntimeError("torch.hsplit requires a tensor with at least 1 dimension, but got "
                           "a tensor with 0 dimensions!")
    return _split_checked(x, indices_or_sections, 0 if x.ndim == 1 else 1, "hsplit")


def vsplit(input: Tensor, indices_or_sections: Any) -> tuple[Tensor, ...]:
    """tensor_split along dim 0 of an at least 2-d tensor; sections must divide it exactly."""
    x = check_tensor(input, "vsplit")
    if x.ndim < 2:
        raise RuntimeError(f"torch.vsplit requires a tensor with at least 2 dimension, but got "
                           f"a tensor with {x.ndim} dimensions!")
    return _split_checked(x, indices_or_sections, 0, "vsplit")


def dsplit(input: Tensor, indices_or_sections: Any) -> tuple[Tensor, ...]:
    """tensor_split along dim 2 of an at least 3-d tensor; sections must divide it exactly."""
    x = check_tensor(input, "dsplit")
    if x.ndim < 3:
        raise RuntimeError(f"torch.dsplit requires a tensor with at least 3 dimension, but got "
                           f"a tensor with {x.ndim} dimensions!")
    return _split_checked(x, indices_or_sections, 2, "dsplit")


# ------------------------------------------------------------------------- more shapes
def ravel(input: Tensor) -> Tensor:
    """input as 1-d (a view when its storage allows)."""
    return check_tensor(input, "ravel").reshape(-1)


def select(input: Tensor, dim: builtins.int, index: builtins.int) -> Tensor:
    """The slice at `index` along `dim`, that dim removed (a view): input[..., index, ...]."""
    x = check_tensor(input, "select")
    if x.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = norm_dim(dim, x.ndim)
    n = x.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(x.shape)} at dimension {d}")
    return x[(slice(None),) * d + (builtins.int(index),)]


def unflatten(input: Tensor, dim: builtins.int, sizes: Sequence[builtins.int]) -> Tensor:
    """Dim `dim` expanded into `sizes` (one entry may be -1)."""
    return check_tensor(input, "unflatten").unflatten(dim, sizes)


def take_along_dim(input: Tensor, indices: Tensor, dim: builtins.int | None = None) -> Tensor:
    """input picked at `indices` along `dim` (input and indices broadcast over the other
    dims); dim None: both flattened.  The gradient goes back to the picked places."""
    from numcnn.functions.indexing import gather
    from numcnn.functions.views import broadcast_to
    x = check_tensor(input, "take_along_dim")
    idx = check_tensor(indices, "take_along_dim", "indices", 2)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be int64 but got "
                           f"{idx.dtype}")
    if dim is None:
        return gather(x.reshape(-1), 0, idx.reshape(-1))
    if x.ndim != idx.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same "
                           f"number of dimensions, but got {x.ndim} dimensions for input, and "
                           f"{idx.ndim} dimensions for indices")
    d = norm_dim(dim, x.ndim)
    shape = list(np.broadcast_shapes(tuple(s for i, s in enumerate(x.shape) if i != d),
                                     tuple(s for i, s in enumerate(idx.shape) if i != d)))
    xs = shape[:d] + [x.shape[d]] + shape[d:]
    js = shape[:d] + [idx.shape[d]] + shape[d:]
    return gather(broadcast_to(x, tuple(xs)), d, broadcast_to(idx, tuple(js)))


def _atleast(n: builtins.int, tensors: tuple[Any, ...]) -> Any:
    single = len(tensors) == 1 and isinstance(tensors[0], _t.Tensor)
    ts = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    out = []
    for x in ts:
        x = check_tensor(x, f"atleast_{n}d")
        if x.ndim < n:
            if x.ndim == 0:
                shape: tuple[builtins.int, ...] = (1,) * n
            elif x.ndim == 1:
                shape = (1, x.shape[0], 1) if n == 3 else (1, x.shape[0])
            else:
                shape = (*x.shape, 1)
            x = x.reshape(shape)
        out.append(x)
    return out[0] if single else tuple(out)


def atleast_1d(*tensors: Any) -> Any:
    """Each tensor with at least 1 dim (0-d -> (1,)); one tensor in, one out."""
    return _atleast(1, tensors)


def atleast_2d(*tensors: Any) -> Any:
    """Each tensor with at least 2 dims: 0-d -> (1, 1), (n,) -> (1, n)."""
    return _atleast(2, tensors)


def atleast_3d(*tensors: Any) -> Any:
    """Each tensor with at least 3 dims: 0-d -> (1, 1, 1), (n,) -> (1, n, 1), (m, n) ->
    (m, n, 1)."""
    return _atleast(3, tensors)


def column_stack(tensors: Iterable[Tensor]) -> Tensor:
    """Join along dim 1, 0-d and 1-d tensors first made columns (n, 1)."""
    ts = [x.reshape(-1, 1) if x.ndim < 2 else x for x in _tensor_list(tensors, "column_stack")]
    return cat(ts, 1)


def dstack(tensors: Iterable[Tensor]) -> Tensor:
    """Join along dim 2 after `atleast_3d`."""
    return cat(list(atleast_3d(_tensor_list(tensors, "dstack"))), 2)


def rot90(input: Tensor, k: builtins.int = 1, dims: Sequence[builtins.int] = (0, 1)) -> Tensor:
    """Rotated by 90 degrees k times in the plane `dims`, from the first dim towards the second:
    k = 1 flips dims[1] then swaps the two."""
    from numcnn.functions.indexing import flip
    x = check_tensor(input, "rot90")
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if x.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {x.ndim}")
    d0, d1 = norm_dim(dims[0], x.ndim), norm_dim(dims[1], x.ndim)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and "
                           f"dim1 = {d1}")
    k %= 4
    if k == 1:
        return flip(x, [d1]).transpose(d0, d1)
    if k == 2:
        return flip(x, [d0, d1])
    if k == 3:
        return flip(x, [d0]).transpose(d0, d1)
    return x.clone()


def diag_embed(input: Tensor, offset: builtins.int = 0, dim1: builtins.int = -2,
               dim2: builtins.int = -1) -> Tensor:
    """Square matrices in dims (dim1, dim2) of the output with the last dim of input on their
    diagonal `offset`: out[..., i, i + offset] = input[..., i].

    Shape:
        (*, L) -> output of ndim + 1 dims, size L + |offset| at dim1 and dim2.
    """
    from numcnn.functions.blas import tensordot
    from numcnn.functions.views import movedim
    x = check_tensor(input, "diag_embed")
    nd = x.ndim + 1
    d1, d2 = norm_dim(dim1, nd), norm_dim(dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    x1 = x.reshape(1) if x.ndim == 0 else x
    length = x1.shape[-1]
    n = length + builtins.abs(offset)
    # E[j, j + r0, j + c0] = 1: a one-hot for each input entry, contracted with input's last dim
    e = np.zeros((length, n, n), dtype=x.dtype)
    j = np.arange(length)
    e[j, j + builtins.max(-offset, 0), j + builtins.max(offset, 0)] = 1
    out = tensordot(x1, _t.Tensor(e), 1)                   # (*, n, n)
    return movedim(out, (-2, -1), (d1, d2))


def diagflat(input: Tensor, offset: builtins.int = 0) -> Tensor:
    """The square matrix with the flattened input on diagonal `offset`."""
    from numcnn.functions.indexing import diag
    return diag(check_tensor(input, "diagflat").reshape(-1), offset)


def block_diag(*tensors: Tensor) -> Tensor:
    """The block-diagonal matrix of the given tensors (0-d as 1x1, 1-d as one row); dtypes
    promote.

    Shape:
        (r_i, c_i) ... -> (sum r_i, sum c_i)
    """
    ts = [check_tensor(x, "block_diag", "tensors").reshape(1, -1) if x.ndim < 2 else x
          for x in tensors]
    for i, x in enumerate(ts):
        if x.ndim != 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer "
                               f"dimensions. Input {i} has {x.ndim} dimensions")
    if not ts:
        return _t.Tensor(np.zeros((1, 0), dtype=np.float32))
    ts = _promoted(ts)
    total = builtins.sum(x.shape[1] for x in ts)
    rows, left = [], 0
    for x in ts:
        r, c = x.shape
        z = [_t.Tensor(np.zeros((r, w), dtype=x.dtype)) for w in (left, total - left - c)]
        rows.append(cat([z[0], x, z[1]], 1))
        left += c
    return cat(rows, 0)


def cartesian_prod(*tensors: Tensor) -> Tensor:
    """All tuples taking one entry of each 1-d tensor, in row-major order (the last varies
    fastest).  One tensor: itself.

    Shape:
        (n_1,), ..., (n_k,) -> (n_1 * ... * n_k, k)
    """
    from numcnn.functions.creation import meshgrid
    ts = [check_tensor(x, "cartesian_prod", "tensors") for x in tensors]
    for x in ts:
        if x.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(x.shape)}")
    if len(ts) == 1:
        return ts[0]
    grids = meshgrid(*ts, indexing="ij")
    return stack([g.reshape(-1) for g in grids], 1)


def combinations(input: Tensor, r: builtins.int = 2,
                 with_replacement: builtins.bool = False) -> Tensor:
    """All length-r combinations of the entries of a 1-d tensor, in itertools' order.

    Shape:
        (n,) -> (C(n, r), r)  (C(n + r - 1, r) with replacement)
    """
    import itertools
    x = check_tensor(input, "combinations")
    if x.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(x.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return _t.Tensor(np.zeros(0, dtype=x.dtype))
    pick = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    idx = np.array(list(pick(range(x.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    return x[_t.Tensor(idx)]


def is_nonzero(input: Tensor) -> builtins.bool:
    """Whether a one-element tensor is nonzero (more or fewer elements raise, as bool(x))."""
    x = check_tensor(input, "is_nonzero")
    if x.numel() == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if x.numel() > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return builtins.bool(x.array.reshape(()).item() != 0)


# ------------------------------------------------------------------------- Tensor-only methods
# torch has these as Tensor methods only (no torch.* function); tensor.py's table uses them.
def unfold(input: Tensor, dimension: builtins.int, size: builtins.int,
           step: builtins.int) -> Tensor:
    """Every window of `size` consecutive entries along `dimension`, `step` apart, as a new
    last dim (a copy here; torch returns a view).

    Shape:
        (*, L, *) -> (*, (L - size) // step + 1, *, size)
    """
    x = check_tensor(input, "unfold")
    x1 = x.reshape(1) if x.ndim == 0 else x
    d = norm_dim(dimension, x1.ndim)
    length = x1.shape[d]
    if size < 0 or size > length:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {length} but size is "
                           f"{size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    n = (length - size) // step + 1
    idx = (np.arange(n)[:, None] * step + np.arange(size)[None, :]).reshape(-1)
    picked = x1.index_select(d, _t.Tensor(idx.astype(np.int64)))          # (*, n*size, *)
    out = picked.reshape(*x1.shape[:d], n, size, *x1.shape[d + 1:])
    out = out.movedim(d + 1, -1)
    return out.reshape(size) if x.ndim == 0 else out


def adjoint(input: Tensor) -> Tensor:
    """The conjugate transpose of the last two dims (real tensors: their transpose), a view."""
    x = check_tensor(input, "adjoint")
    if x.ndim < 2:
        raise RuntimeError("tensor.adjoint() is only supported on matrices or batches of "
                           "matrices. Got 1-D tensor." if x.ndim == 1 else
                           "tensor.adjoint() is only supported on matrices or batches of "
                           "matrices. Got 0-D tensor.")
    return x.transpose(-2, -1)


def matrix_h(input: Tensor) -> Tensor:
    """`Tensor.H`: the conjugate transpose of a matrix (0-d and 1-d tensors: themselves)."""
    if input.ndim > 2:
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got "
                           f"{input.ndim}-D tensor.")
    return input.transpose(0, 1) if input.ndim == 2 else input


def is_signed(input: Tensor) -> builtins.bool:
    """Whether the dtype holds negative numbers (not uint8, not bool)."""
    return input.dtype.kind in "ifc"


def sum_to_size(input: Tensor, *size: Any) -> Tensor:
    """input summed down to `size`, which must broadcast to input's shape (the reverse of
    expand)."""
    shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
    x = check_tensor(input, "sum_to_size")
    try:
        ok = np.broadcast_shapes(tuple(shape), x.shape) == x.shape
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(f"size {{{', '.join(map(str, shape))}}} is not expandable to size "
                           f"{{{', '.join(map(str, x.shape))}}}.")
    lead = x.ndim - len(shape)
    dims = list(range(lead)) + [lead + i for i, s in enumerate(shape)
                                if s == 1 and x.shape[lead + i] != 1]
    if not dims:
        return x
    from numcnn.functions.reduce import sum as _sum
    return _sum(x, tuple(dims), keepdim=True).reshape(tuple(shape))


def index_fill(input: Tensor, dim: builtins.int, index: Tensor, value: Any) -> Tensor:
    """A copy of input with the slices `index` along `dim` set to `value` (a number or 0-d
    tensor); no gradient flows to the filled places."""
    from numcnn.functions.math import where
    x = check_tensor(input, "index_fill")
    idx = check_tensor(index, "index_fill", "index", 3)
    if idx.dtype != np.int64:
        raise RuntimeError("index_fill_(): Expected dtype int64 for index.")
    if idx.ndim > 1:
        raise IndexError("Index has to be a vector/scalar")
    if isinstance(value, _t.Tensor) and value.ndim:
        raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got "
                           f"tensor with {value.ndim} dimension(s).")
    x1 = x.reshape(1) if x.ndim == 0 else x
    d = norm_dim(dim, x1.ndim)
    n = x1.shape[d]
    i = idx.array.reshape(-1)
    if i.size and (i.min() < -n or i.max() >= n):
        raise IndexError(f"index out of range in self (size {n} along dim {d})")
    mask = np.zeros(n, dtype=bool)
    mask[i] = True
    mask = mask.reshape([n if k == d else 1 for k in range(x1.ndim)])
    v = value.to(x.dtype) if isinstance(value, _t.Tensor) else cast(value, x.dtype)
    out = where(_t.Tensor(np.broadcast_to(mask, x1.shape)), v, x1)
    return out.reshape(()) if x.ndim == 0 else out.to(x.dtype)


def put(input: Tensor, index: Tensor, source: Tensor, accumulate: builtins.bool = False
        ) -> Tensor:
    """A copy of input, seen as 1-d, with source written (or added, with accumulate) at the
    flat positions `index`."""
    from numcnn.functions.indexing import index_add, index_copy
    x = check_tensor(input, "put")
    idx = check_tensor(index, "put", "index", 2)
    src = check_tensor(source, "put", "source", 3)
    if idx.dtype != np.int64:
        raise RuntimeError(f"put_(): Expected a long tensor for index, but got {idx.dtype}")
    if idx.numel() != src.numel():
        raise RuntimeError(f"put_(): Expected source and index to have the same number of "
                           f"elements, but got source.numel() = {src.numel()}, index.numel() = "
                           f"{idx.numel()}")
    if src.dtype != x.dtype:
        raise RuntimeError(f"put_(): self and source expected to have the same dtype, but "
                           f"got self.dtype = {x.dtype} and source.dtype = {src.dtype}")
    n = x.numel()
    i = idx.array.reshape(-1)
    if i.size and (i.min() < -n or i.max() >= n):
        bad = i.max() if i.max() >= n else i.min()
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} "
                         f"elements.")
    flat_idx = _t.Tensor(np.where(i < 0, i + n, i).astype(np.int64))
    flat = x.reshape(-1)
    op = index_add if accumulate else index_copy
    return op(flat, 0, flat_idx, src.reshape(-1)).reshape(x.shape)


def fill_diagonal(input: Tensor, fill_value: Any, wrap: builtins.bool = False) -> Tensor:
    """A copy of input with its main diagonal (all dims equal beyond 2-d) set to fill_value;
    with wrap, a tall matrix's diagonal starts again after N + 1 rows, as NumPy's."""
    from numcnn.functions.math import where
    x = check_tensor(input, "fill_diagonal_")
    if x.ndim < 2:
        raise RuntimeError("dimensions must larger than 1")
    if x.ndim > 2 and len(set(x.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    mask = np.zeros(x.shape, dtype=bool)
    np.fill_diagonal(mask, True, wrap=wrap)
    return where(_t.Tensor(mask), cast(fill_value, x.dtype), x).to(x.dtype)


fill_diagonal.__name__ = "fill_diagonal"


def renorm(input: Tensor, p: Any, dim: builtins.int, maxnorm: Any) -> Tensor:
    """Each slice along `dim` whose p-norm (over all other dims) exceeds maxnorm scaled down to
    norm maxnorm: x * maxnorm / (norm + 1e-7) there, x elsewhere."""
    from numcnn.functions.math import where
    from numcnn.functions.reduce import norm
    x = check_tensor(input, "renorm")
    if x.dtype.kind != "f":
        raise RuntimeError(f"renorm: Expected a floating point or complex tensor as input. "
                           f"Got {dtypes.torch_type_name(x.dtype)}")
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if x.ndim <= 1:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {x.ndim} "
                           f"dimensions")
    d = norm_dim(dim, x.ndim)
    others = tuple(k for k in range(x.ndim) if k != d)
    nrm = norm(x, p, others, keepdim=True)
    factor = where(nrm > maxnorm, maxnorm / (nrm + 1e-7), cast(1.0, x.dtype))
    return x * factor


def unravel_index(indices: Tensor, shape: Any) -> tuple[Tensor, ...]:
    """The coordinates in a tensor of `shape` of each flat (row-major) index, taken modulo the
    number of elements as torch does (-1 is the last, N the first).

    Returns:
        one int64 tensor of indices' shape per dim of `shape`.
    """
    i = check_tensor(indices, "unravel_index", "indices")
    if i.dtype.kind not in "iu" or i.dtype == np.bool_:
        raise TypeError(f"expected 'indices' to be integer dtype, but got {i.dtype}")
    dims = (builtins.int(shape),) if isinstance(shape, (builtins.int, np.integer)) else \
        tuple(builtins.int(s) for s in shape)
    if any(s < 0 for s in dims):
        raise ValueError("'shape' cannot have negative values, but got " + str(dims))
    total = builtins.int(np.prod(dims))
    a = i.array.astype(np.int64)
    if a.size and total == 0:
        raise ValueError("'indices' cannot index a tensor of no elements")
    coords = np.unravel_index(a % builtins.max(total, 1), dims)       # wraps around, as torch
    return tuple(_t.Tensor(np.asarray(c, dtype=np.int64)) for c in coords)


def relu_(input: Tensor) -> Tensor:
    """max(input, 0) written into input (numcnn.nn.functional.relu_)."""
    from numcnn.nn import functional as F
    return F.relu(check_tensor(input, "relu_"), inplace=True)


def hardshrink(input: Tensor, lambd: builtins.float = 0.5) -> Tensor:
    """input where |input| > lambd, else 0 (numcnn.nn.functional.hardshrink)."""
    from numcnn.nn import functional as F
    return F.hardshrink(check_tensor(input, "hardshrink"), lambd)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """max(0, x) + weight * min(0, x), weight per channel (numcnn.nn.functional.prelu)."""
    from numcnn.nn import functional as F
    return F.prelu(check_tensor(input, "prelu"), weight)


def contains(input: Tensor, element: Any) -> builtins.bool:
    """`element in tensor`: whether some entry equals element (a number or a tensor)."""
    if not isinstance(element, (_t.Tensor, builtins.int, builtins.float, builtins.bool,
                                np.generic)):
        raise RuntimeError(f"Tensor.__contains__ only supports Tensor or scalar, but you passed "
                           f"in a {type(element)}.")
    return builtins.bool((input == element).any().item())
