"""Tensors made from others: `meshgrid`, `normal` (PyTorch's four forms) and the `new_*`
methods (`x.new_zeros(2, 3)` has x's dtype unless one is given)."""

from __future__ import annotations

import builtins
import importlib
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from numcnn import dtypes
from numcnn.devices import check_device
from numcnn.functions._args import check_tensor

# the module, not the `numcnn.tensor` factory that `numcnn` exports under that name
_t = importlib.import_module("numcnn.tensor")

if TYPE_CHECKING:
    from numcnn.tensor import Tensor

_MESHGRID_WARNED = [False]


def meshgrid(*tensors: Any, indexing: str | None = None) -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D tensors x_1..x_n of lengths s_1..s_n.

    indexing 'ij': output k has shape (s_1, ..., s_n) and varies along dim k;
    'xy' swaps the first two dims (shape (s_2, s_1, ...)), as NumPy's default.
    PyTorch's default is 'ij' and it warns when `indexing` is not given; so does numcnn.
    The outputs are differentiable (expanded views of the inputs).
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    ts = [check_tensor(x, "meshgrid", "tensors", 1) for x in tensors]
    if not ts:
        raise RuntimeError("torch.meshgrid: expects a non-empty TensorList")
    if indexing is None:
        if not _MESHGRID_WARNED[0]:
            warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass "
                          "the indexing argument.", UserWarning, stacklevel=2)
            _MESHGRID_WARNED[0] = True
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but "
                           f"received: {indexing}")
    if any(x.ndim > 1 for x in ts):
        raise RuntimeError("torch.meshgrid: Expected 0D or 1D tensor in the tensor list")
    if any(x.dtype != ts[0].dtype for x in ts):
        raise RuntimeError("torch.meshgrid: Expected all tensors to have the same dtype")
    ts = [x.reshape(-1) for x in ts]
    swap = indexing == "xy" and len(ts) >= 2
    order = [1, 0] + list(range(2, len(ts))) if swap else list(range(len(ts)))
    shape = tuple(ts[i].shape[0] for i in order)
    out = []
    for k, x in enumerate(ts):
        pos = order.index(k)                   # the output dim along which x varies
        view = [1] * len(ts)
        view[pos] = x.shape[0]
        out.append(x.reshape(view).expand(shape))
    return tuple(out)


def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, *, generator: Any = None,
           dtype: Any = None, requires_grad: builtins.bool = False) -> Tensor:
    """Normal samples N(mean, std^2), in PyTorch's forms:
    normal(mean: Tensor, std: Tensor) (broadcast), normal(mean: Tensor, std=1.0),
    normal(mean: float, std: Tensor), normal(mean: float, std: float, size).
    The result has the floating dtype of the tensor arguments (default dtype for numbers);
    std must be >= 0.  Draws from the global generator (numcnn.manual_seed), or from
    `generator` (a numcnn.Generator)."""
    from numcnn.random import generator as global_generator

    rng = global_generator(generator, "normal")
    m_t, s_t = isinstance(mean, _t.Tensor), isinstance(std, _t.Tensor)
    if not (m_t or s_t) and size is None:
        raise TypeError("normal() with float mean and std needs a size: normal(mean, std, size)")
    if (m_t or s_t) and size is not None:
        raise TypeError("normal(): size is only accepted when mean and std are numbers")
    for v, name in ((mean, "mean"), (std, "std")):
        if isinstance(v, _t.Tensor) and v.dtype.kind != "f":
            raise RuntimeError(f"normal expects floating-point {name} tensor, got {v.dtype}")
    m = mean.array if m_t else np.asarray(mean, dtype=np.float64)
    s = std.array if s_t else np.asarray(std, dtype=np.float64)
    if np.any(s < 0):
        raise RuntimeError(f"normal expects std >= 0.0, but found std {s.min()}")
    if dtype is not None:
        d = dtypes.as_dtype(dtype)
    elif m_t or s_t:
        d = mean.dtype if m_t else std.dtype
    else:
        d = dtypes.get_default_dtype()
    if size is not None:
        shape = _t._shape_args((size,) if not isinstance(size, (tuple, list)) else tuple(size))
    else:
        shape = np.broadcast_shapes(m.shape, s.shape)
    z = rng.standard_normal(shape)
    out = (m + s * z).astype(d)
    return _t.Tensor(out, requires_grad=requires_grad)


# ------------------------------------------------------------------------- new_* methods
def _new(self: Tensor, fill: Any, size: tuple[Any, ...], dtype: Any,
         requires_grad: builtins.bool, name: str) -> Tensor:
    x = check_tensor(self, name, "self")
    d = x.dtype if dtype is None else dtypes.as_dtype(dtype)
    shape = _t._shape_args(size)
    arr = np.empty(shape, dtype=d) if fill is None else np.full(shape, fill, dtype=d)
    return _t.Tensor(arr, requires_grad=requires_grad)


def new_zeros(self: Tensor, *size: Any, dtype: Any = None, device: Any = None,
              requires_grad: builtins.bool = False) -> Tensor:
    """Zeros of `size` with self's dtype (unless `dtype` is given)."""
    check_device(device)
    return _new(self, 0, size, dtype, requires_grad, "new_zeros")


def new_ones(self: Tensor, *size: Any, dtype: Any = None, device: Any = None,
             requires_grad: builtins.bool = False) -> Tensor:
    """Ones of `size` with self's dtype (unless `dtype` is given)."""
    check_device(device)
    return _new(self, 1, size, dtype, requires_grad, "new_ones")


def new_empty(self: Tensor, *size: Any, dtype: Any = None, device: Any = None,
              requires_grad: builtins.bool = False) -> Tensor:
    """An uninitialised tensor of `size` with self's dtype (unless `dtype` is given)."""
    check_device(device)
    return _new(self, None, size, dtype, requires_grad, "new_empty")


def new_full(self: Tensor, size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
             requires_grad: builtins.bool = False) -> Tensor:
    """`fill_value` everywhere in `size`, with self's dtype (unless `dtype` is given)."""
    check_device(device)
    return _new(self, fill_value, (size,), dtype, requires_grad, "new_full")


def new_tensor(self: Tensor, data: Any, *, dtype: Any = None, device: Any = None,
               requires_grad: builtins.bool = False) -> Tensor:
    """A copy of `data` with self's dtype (unless `dtype` is given), outside any graph."""
    x = check_tensor(self, "new_tensor", "self")
    check_device(device)
    d = x.dtype if dtype is None else dtypes.as_dtype(dtype)
    src = data.array if isinstance(data, _t.Tensor) else data
    return _t.Tensor(np.array(src, dtype=d), requires_grad=requires_grad)


def _tri_indices(row: builtins.int, col: builtins.int, offset: builtins.int, dtype: Any,
                 upper: builtins.bool) -> Tensor:
    d = dtypes.as_dtype(dtype) if dtype is not None else dtypes.int64
    if d.kind not in "iu":
        raise RuntimeError(f"\"{'triu' if upper else 'tril'}_indices\" not implemented for "
                           f"'{d}'")
    if row < 0 or col < 0:
        raise RuntimeError(f"row must be non-negative, got {row}" if row < 0 else
                           f"col must be non-negative, got {col}")
    pick = np.triu_indices if upper else np.tril_indices
    r, c = pick(row, offset, col)
    return _t.Tensor(np.stack([r, c]).astype(d))


def tril_indices(row: builtins.int, col: builtins.int, offset: builtins.int = 0, *,
                 dtype: Any = None, device: Any = None, layout: Any = None) -> Tensor:
    """The (row, col) coordinates of the lower triangle (col - row <= offset) of a row x col
    matrix, row by row.

    Shape:
        (2, number of entries); int64 unless `dtype` says otherwise.
    """
    check_device(device)
    return _tri_indices(row, col, offset, dtype, False)


def triu_indices(row: builtins.int, col: builtins.int, offset: builtins.int = 0, *,
                 dtype: Any = None, device: Any = None, layout: Any = None) -> Tensor:
    """The (row, col) coordinates of the upper triangle (col - row >= offset), row by row."""
    check_device(device)
    return _tri_indices(row, col, offset, dtype, True)


def logspace(start: Any, end: Any, steps: builtins.int, base: builtins.float = 10.0, *,
             dtype: Any = None, requires_grad: builtins.bool = False, device: Any = None,
             **kwargs: Any) -> Tensor:
    """`steps` numbers base ** t for t evenly spaced from start to end (default float dtype)."""
    check_device(device)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    d = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    t = np.linspace(builtins.float(start), builtins.float(end), steps)
    out = np.power(builtins.float(base), t)
    if d.kind in "iu":
        out = np.trunc(out)
    return _t.Tensor(out.astype(d), requires_grad=requires_grad)


# ---------------------------------------------------------------- random draws from a tensor
def _probs(input: Tensor, name: str) -> np.ndarray:
    x = check_tensor(input, name)
    if x.dtype.kind != "f":
        raise RuntimeError(f"\"{name}\" not implemented for '{x.dtype}'")
    return x.array


def bernoulli(input: Tensor, p: Any = None, *, generator: Any = None) -> Tensor:
    """0/1 draws, 1 with probability input (or `p`, a number, when given); input's dtype."""
    from numcnn.random import generator as rng
    prob = _probs(input, "bernoulli") if p is None else np.asarray(p, dtype=np.float64)
    if prob.size and (np.any(prob < 0) or np.any(prob > 1) or np.any(np.isnan(prob))):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    draws = rng(generator, "bernoulli").random(input.shape) < prob
    return _t.Tensor(draws.astype(input.dtype))


def poisson(input: Tensor, generator: Any = None) -> Tensor:
    """Poisson draws with rates `input` (>= 0); input's dtype."""
    from numcnn.random import generator as rng
    lam = _probs(input, "poisson")
    if lam.size and (np.any(lam < 0) or np.any(np.isnan(lam))):
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    return _t.Tensor(rng(generator, "poisson").poisson(lam).astype(input.dtype))


def multinomial(input: Tensor, num_samples: builtins.int, replacement: builtins.bool = False,
                *, generator: Any = None) -> Tensor:
    """Category indices drawn with probabilities proportional to each row of `input`.

    With replacement: inverse-CDF draws (index = number of cdf entries <= u).  Without:
    the Gumbel top-k trick (the k largest of log w + Gumbel noise are k draws without
    replacement, in order).

    Shape:
        (C,) -> (num_samples,);  (R, C) -> (R, num_samples); int64.
    """
    from numcnn.random import generator as rng
    w = _probs(input, "multinomial")
    if w.ndim not in (1, 2):
        raise RuntimeError(f"prob_dist must be 1 or 2 dim, got {w.ndim}")
    rows = w.reshape(-1, w.shape[-1]).astype(np.float64)
    if num_samples <= 0:
        raise RuntimeError(f"cannot sample n_sample <= 0 samples, got {num_samples}")
    if np.any(rows < 0) or not np.all(np.isfinite(rows)):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    total = rows.sum(axis=1, keepdims=True)
    if np.any(total <= 0):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    g = rng(generator, "multinomial")
    if replacement:
        cdf = np.cumsum(rows / total, axis=1)
        u = g.random((rows.shape[0], num_samples))
        idx = (cdf[:, None, :] <= u[:, :, None]).sum(axis=2)
        idx = np.minimum(idx, rows.shape[1] - 1)
    else:
        if num_samples > rows.shape[1]:     # zero weights come last once the others are out
            raise RuntimeError("invalid multinomial distribution (with replacement=False, not "
                               "enough non-negative category to sample)")
        with np.errstate(divide="ignore"):
            keys = np.log(rows) + g.gumbel(size=rows.shape)
        idx = np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    return _t.Tensor(idx.reshape(*w.shape[:-1], num_samples).astype(np.int64))


def randint_like(input: Tensor, low: builtins.int = 0, high: builtins.int | None = None, *,
                 dtype: Any = None, generator: Any = None, requires_grad: builtins.bool = False,
                 device: Any = None, **kwargs: Any) -> Tensor:
    """Integers uniform on [low, high) in input's shape (`randint_like(x, high)` too); input's
    dtype unless `dtype` is given."""
    from numcnn.random import generator as rng
    check_device(device)
    x = check_tensor(input, "randint_like")
    if high is None:
        low, high = 0, low
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} "
                           f">= to={high}")
    d = x.dtype if dtype is None else dtypes.as_dtype(dtype)
    draws = rng(generator, "randint_like").integers(low, high, x.shape)
    return _t.Tensor(draws.astype(d), requires_grad=requires_grad)
