"""Products of matrices and vectors with PyTorch's signatures: matmul, mm, bmm, mv, dot, outer,
addmm, baddbmm and einsum.

As in PyTorch, matrix products do not promote: both operands must share a dtype (float32 @
float64 raises RuntimeError).  Shapes: mm (n, k) @ (k, m) -> (n, m); bmm (B, n, k) @ (B, k, m)
-> (B, n, m); mv (n, k) @ (k,) -> (n,); dot (k,) . (k,) -> ().
"""

from __future__ import annotations

import string
from typing import TYPE_CHECKING, Any

import numpy as np

from numcnn import dtypes
from numcnn.functions._args import cast, check_tensor, norm_dim, result_dtype
from numcnn.ops import extra as X
from numcnn.ops import linear as L
from numcnn.ops import math as M

if TYPE_CHECKING:
    from numcnn.tensor import Tensor


def _same_dtype(a: Tensor, b: Tensor, what: str) -> None:
    if a.dtype != b.dtype:
        raise RuntimeError(f"{what}, but got: {a.dtype} != {b.dtype}")


def _ndim(x: Tensor, n: int, fn: str, name: str) -> None:
    if x.ndim != n:
        raise RuntimeError(f"{name} must be a {n}D tensor" if fn != "dot" else
                           f"1D tensors expected, but got {x.ndim}D and tensors")


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """The matrix product with NumPy/PyTorch broadcasting: 1-D operands are vectors, leading
    dimensions are batch dimensions."""
    a, b = check_tensor(input, "matmul"), check_tensor(other, "matmul", "other", 2)
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    _same_dtype(a, b, "expected m1 and m2 to have the same dtype")
    k_a, k_b = a.shape[-1], b.shape[-2] if b.ndim > 1 else b.shape[0]
    if k_a != k_b:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                           f"({'x'.join(map(str, a.shape))} and {'x'.join(map(str, b.shape))})")
    return M.MatMul.apply(a, b)


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """(n, k) @ (k, m) -> (n, m), no broadcasting."""
    a, b = check_tensor(input, "mm"), check_tensor(mat2, "mm", "mat2", 2)
    _ndim(a, 2, "mm", "self")
    _ndim(b, 2, "mm", "mat2")
    return matmul(a, b)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """(B, n, k) @ (B, k, m) -> (B, n, m): one matrix product per batch entry, no broadcasting."""
    a, b = check_tensor(input, "bmm"), check_tensor(mat2, "bmm", "mat2", 2)
    _ndim(a, 3, "bmm", "batch1")
    _ndim(b, 3, "bmm", "batch2")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{a.shape[0]}, {a.shape[2]}] but got: [{b.shape[0]}, {b.shape[1]}].")
    _same_dtype(a, b, "expected scalar type to match")
    return M.MatMul.apply(a, b)


def mv(input: Tensor, vec: Tensor) -> Tensor:
    """(n, k) @ (k,) -> (n,)."""
    a, v = check_tensor(input, "mv"), check_tensor(vec, "mv", "vec", 2)
    if a.ndim != 2 or v.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {a.ndim}, {v.ndim}")
    return matmul(a, v)


def dot(input: Tensor, tensor: Tensor) -> Tensor:
    """sum_i input_i * tensor_i of two 1-D tensors of one dtype and length."""
    a, b = check_tensor(input, "dot"), check_tensor(tensor, "dot", "tensor", 2)
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    if a.dtype != b.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                           f"{a.dtype} and {b.dtype}")
    if a.shape != b.shape:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src "
                           f"[{b.shape[0]}] to have the same number of elements, but got "
                           f"{a.shape[0]} and {b.shape[0]} elements respectively")
    return M.MatMul.apply(a, b)




def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """y[i, j] = input[i] * vec2[j] (promoted as multiplication)."""
    a, b = check_tensor(input, "outer"), check_tensor(vec2, "outer", "vec2", 2)
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"outer: expected 1-D tensors, got {a.ndim}D and {b.ndim}D")
    d = result_dtype(a, b)
    return M.Mul.apply(cast(a, d).reshape(-1, 1), cast(b, d).reshape(1, -1))


ger = outer


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2); input broadcasts to (n, m)."""
    c, a, b = (check_tensor(input, "addmm"), check_tensor(mat1, "addmm", "mat1", 2),
               check_tensor(mat2, "addmm", "mat2", 3))
    _ndim(a, 2, "addmm", "mat1")
    _ndim(b, 2, "addmm", "mat2")
    return _baddbmm(c, a, b, beta, alpha, "addmm")


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1,
            alpha: Any = 1) -> Tensor:
    """beta * input + alpha * (batch1 @ batch2) per batch entry; input broadcasts to (B, n, m)."""
    c, a, b = (check_tensor(input, "baddbmm"), check_tensor(batch1, "baddbmm", "batch1", 2),
               check_tensor(batch2, "baddbmm", "batch2", 3))
    _ndim(a, 3, "baddbmm", "batch1")
    _ndim(b, 3, "baddbmm", "batch2")
    if a.shape[0] != b.shape[0]:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got "
                           f"{a.shape[0]} and {b.shape[0]}")
    return _baddbmm(c, a, b, beta, alpha, "baddbmm")


def _baddbmm(c: Tensor, a: Tensor, b: Tensor, beta: Any, alpha: Any, name: str) -> Tensor:
    if a.shape[-1] != b.shape[-2]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                           f"({a.shape[-2]}x{a.shape[-1]} and {b.shape[-2]}x{b.shape[-1]})")
    if not (c.dtype == a.dtype == b.dtype):
        raise RuntimeError(f"{name}: expected self, mat1 and mat2 to have the same dtype, got "
                           f"{c.dtype}, {a.dtype} and {b.dtype}")
    out_shape = a.shape[:-1] + b.shape[-1:]
    try:
        if np.broadcast_shapes(c.shape, out_shape) != out_shape:
            raise ValueError
    except ValueError:
        raise RuntimeError(f"The expanded size of the tensor must match the existing size: "
                           f"input {list(c.shape)} does not broadcast to "
                           f"{list(out_shape)}") from None
    return L.Baddbmm.apply(c, a, b, beta=beta, alpha=alpha)


def _parse_einsum(equation: str, operands: list[Tensor]) -> tuple[list[str], str]:
    """Spell out '...' as letters and find the output labels (implicit mode: the ellipsis,
    then the labels used once, in alphabetical order)."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != len(operands):
        raise ValueError("einsum(): more operands were provided than specified in the equation"
                         if len(operands) > len(subs) else
                         "einsum(): fewer operands were provided than specified in the equation")
    for s in subs + ([rhs] if arrow else []):
        body = s.replace("...", "")
        if "." in body or not all(c in string.ascii_letters for c in body):
            raise ValueError(f"einsum(): invalid subscript given at index in the equation "
                             f"string {equation!r}: subscripts must be letters a-z, A-Z "
                             f"or '...'")
    free = [c for c in string.ascii_letters if c not in eq]
    n_ell = 0
    for s, x in zip(subs, operands):
        named = len(s.replace("...", ""))
        if "..." in s:
            n_ell = max(n_ell, x.ndim - named)
            if x.ndim < named:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                                   f"({named}) is more than the number of dimensions "
                                   f"({x.ndim}) for operand")
        elif named != x.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({named}) "
                               f"does not match the number of dimensions ({x.ndim}) for "
                               f"operand and no ellipsis was given")
    ell = "".join(free[:n_ell])
    spelled = []
    for s, x in zip(subs, operands):
        k = x.ndim - len(s.replace("...", ""))
        spelled.append(s.replace("...", ell[n_ell - k:] if k else ""))
    if arrow:
        out = rhs.replace("...", ell)
        for c in out:
            if out.count(c) > 1:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in "
                                   f"the output")
            if not any(c in s for s in spelled):
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                   f"equation for any input operand")
    else:
        joined = "".join(spelled)
        out = ell + "".join(sorted((c for c in set(joined) if joined.count(c) == 1
                                    and c not in ell),
                                   key=lambda c: (c.islower(), c)))
    return spelled, out


def einsum(equation: str, *operands: Any) -> Tensor:
    """Sums of products named by subscripts, e.g. 'bij,bjk->bik' (bmm), 'ii->' (trace),
    'nchw,oc->nohw'.  Supports '...', implicit output, repeated labels (diagonals, traces)
    and size-1 broadcasting; all operands must share a dtype.  Differentiable in every operand.
    """
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): argument 'equation' must be str, not "
                        f"{type(equation).__name__}")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    ops = [check_tensor(x, "einsum", "operands", i + 2) for i, x in enumerate(operands)]
    if not ops:
        raise RuntimeError("einsum(): must provide at least one operand")
    if any(x.dtype != ops[0].dtype for x in ops):
        raise RuntimeError(f"einsum(): expected all operands to have the same dtype, got "
                           f"{[str(x.dtype) for x in ops]}")
    subs, out = _parse_einsum(equation, ops)
    sizes: dict[str, int] = {}
    for s, x in zip(subs, ops):
        for c, n in zip(s, x.shape):
            if sizes.get(c, 1) not in (1, n) and n != 1:
                raise RuntimeError(f"einsum(): operands do not broadcast with remapped shapes "
                                   f"(original->remapped): subscript {c} has size {n} for one "
                                   f"operand and {sizes[c]} for another")
            sizes[c] = max(sizes.get(c, 1), n)
    expanded = []
    for s, x in zip(subs, ops):
        target = tuple(sizes[c] for c in s)
        if target != x.shape:
            if len(set(s)) != len(s):
                raise RuntimeError("einsum(): a repeated subscript cannot also be broadcast")
            x = x.expand(target)
        expanded.append(x)
    return L.Einsum.apply(*expanded, subs=subs, out=out)


# ---------------------------------------------------------------- cross, cdist, trace, kron
def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    """The cross product of 3-vectors along `dim` (broadcast; dtypes promote):
    (a1 b2 - a2 b1, a2 b0 - a0 b2, a0 b1 - a1 b0).  dim None: the first dim of size 3, as
    torch.cross does (torch.linalg.cross defaults to -1)."""
    from numcnn.functions.other import stack
    from numcnn.functions.views import broadcast_tensors
    a = check_tensor(input, "cross")
    b = check_tensor(other, "cross", "other", 2)
    if a.ndim != b.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    d_ = result_dtype(a, b)
    a, b = broadcast_tensors(cast(a, d_), cast(b, d_))
    if dim is None:
        sizes = [i for i, n in enumerate(a.shape) if n == 3]
        if not sizes:
            raise RuntimeError("no dimension of size 3 in input")
        dim = sizes[0]
    d = norm_dim(dim, a.ndim)
    if a.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {d} must have length 3. Got "
                           f"{a.shape[d]} and {b.shape[d]}")
    a0, a1, a2 = a.unbind(d)
    b0, b1, b2 = b.unbind(d)
    return stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], dim=d)


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0,
          compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """Pairwise p-norm distances between the rows of x1 and x2:
    d[..., i, j] = ||x1[..., i, :] - x2[..., j, :]||_p  (p >= 0, inf allowed).

    Computed from the differences directly for every p (no |a|^2 + |b|^2 - 2ab shortcut), so
    `compute_mode` is accepted and only validated.

    Shape:
        x1 (*, P, M), x2 (*, R, M) -> (*, P, R), leading dims broadcast.
    """
    from numcnn.functions.views import broadcast_to
    a = check_tensor(x1, "cdist", "x1")
    b = check_tensor(x2, "cdist", "x2", 2)
    if a.ndim < 2 or b.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {a.ndim}D")
    if a.dtype.kind != "f" or b.dtype.kind != "f":
        raise RuntimeError(f"cdist only supports floating-point dtypes, X1 got: "
                           f"{dtypes.torch_type_name(a.dtype)}")
    if a.dtype != b.dtype:
        raise RuntimeError(f"X1 and X2 must have the same dtype, got {a.dtype} and {b.dtype}")
    if a.shape[-1] != b.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{a.shape[-1]} X2: {b.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    if compute_mode not in ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                            "donot_use_mm_for_euclid_dist"):
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    nb = int(np.prod(batch))
    a = broadcast_to(a, batch + a.shape[-2:]).reshape(nb, *a.shape[-2:])
    b = broadcast_to(b, batch + b.shape[-2:]).reshape(nb, *b.shape[-2:])
    out = X.Cdist.apply(a, b, p=float(p))
    return out.reshape(*batch, a.shape[-2], b.shape[-2])


def trace(input: Tensor) -> Tensor:
    """The sum of the main diagonal of a 2-d tensor (integers and bools sum in int64)."""
    from numcnn.functions.reduce import sum as _sum
    from numcnn.functions.views import diagonal
    x = check_tensor(input, "trace")
    if x.ndim != 2:
        raise RuntimeError("trace: expected a matrix, but got tensor with dim "
                           f"{x.ndim}")
    return _sum(diagonal(x))


def kron(input: Tensor, other: Tensor) -> Tensor:
    """The Kronecker product: out[i*m + k, ...] = input[i, ...] * other[k, ...] on every dim
    (the lower-rank operand gets leading dims of size 1).

    Shape:
        (a0, a1, ...) x (b0, b1, ...) -> (a0*b0, a1*b1, ...)
    """
    a = check_tensor(input, "kron")
    b = check_tensor(other, "kron", "other", 2)
    n = max(a.ndim, b.ndim)
    sa = (1,) * (n - a.ndim) + tuple(a.shape)
    sb = (1,) * (n - b.ndim) + tuple(b.shape)
    # a as (a0, 1, a1, 1, ...), b as (1, b0, 1, b1, ...): the product interleaves the dims
    ia = [s for k in sa for s in (k, 1)]
    ib = [s for k in sb for s in (1, k)]
    prod = a.reshape(ia) * b.reshape(ib)
    return prod.reshape([x * y for x, y in zip(sa, sb)])


# ---------------------------------------------------------------- more products
def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * (mat @ vec); input broadcasts to (n,).

    Shape:
        mat (n, m), vec (m,) -> (n,)
    """
    c, a, v = (check_tensor(input, "addmv"), check_tensor(mat, "addmv", "mat", 2),
               check_tensor(vec, "addmv", "vec", 3))
    _ndim(a, 2, "addmv", "mat")
    _ndim(v, 1, "addmv", "vec")
    c2 = c.reshape(-1, 1) if c.ndim == 1 else c
    return _baddbmm(c2, a, v.reshape(-1, 1), beta, alpha, "addmv").reshape(a.shape[0])


def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * outer(vec1, vec2); input broadcasts to (n, m)."""
    c, a, b = (check_tensor(input, "addr"), check_tensor(vec1, "addr", "vec1", 2),
               check_tensor(vec2, "addr", "vec2", 3))
    _ndim(a, 1, "addr", "vec1")
    _ndim(b, 1, "addr", "vec2")
    return _baddbmm(c, a.reshape(-1, 1), b.reshape(1, -1), beta, alpha, "addr")


def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1,
           alpha: Any = 1) -> Tensor:
    """beta * input + alpha * sum_b batch1[b] @ batch2[b]: one (n, B k) @ (B k, m) product.

    Shape:
        batch1 (B, n, k), batch2 (B, k, m), input broadcasting to (n, m) -> (n, m)
    """
    c, a, b = (check_tensor(input, "addbmm"), check_tensor(batch1, "addbmm", "batch1", 2),
               check_tensor(batch2, "addbmm", "batch2", 3))
    _ndim(a, 3, "addbmm", "batch1")
    _ndim(b, 3, "addbmm", "batch2")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise RuntimeError(f"addbmm: batch1 {list(a.shape)} and batch2 {list(b.shape)} cannot "
                           f"be multiplied")
    n, k = a.shape[1], a.shape[0] * a.shape[2]
    return _baddbmm(c, a.permute(1, 0, 2).reshape(n, k), b.reshape(k, b.shape[2]), beta,
                    alpha, "addbmm")


def tensordot(a: Tensor, b: Tensor, dims: Any = 2) -> Tensor:
    """Sum of products over dims of a paired with dims of b: an int n pairs the last n dims of
    a with the first n of b; a pair of lists names them.  One matrix product underneath.

    Shape:
        a (free_a..., contracted...) , b (contracted..., free_b...) -> (free_a..., free_b...)
    """
    x = check_tensor(a, "tensordot", "a")
    y = check_tensor(b, "tensordot", "b", 2)
    _same_dtype(x, y, "tensordot expects both inputs to have the same dtype")
    if isinstance(dims, (int, np.integer)):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        da, db = list(range(x.ndim - int(dims), x.ndim)), list(range(int(dims)))
    else:
        da, db = ([int(d) for d in dims[0]], [int(d) for d in dims[1]]) \
            if isinstance(dims[0], (list, tuple)) else ([int(dims[0])], [int(dims[1])])
    if len(da) != len(db):
        raise RuntimeError("both dimension lists should have same length")
    da = [norm_dim(d, x.ndim) for d in da]
    db = [norm_dim(d, y.ndim) for d in db]
    for i, j in zip(da, db):
        if x.shape[i] != y.shape[j]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{x.shape[i]} in dim {i} and second has size {y.shape[j]} in "
                               f"dim {j}")
    fa = [d for d in range(x.ndim) if d not in da]
    fb = [d for d in range(y.ndim) if d not in db]
    k = int(np.prod([x.shape[d] for d in da]))
    xs = x.permute(*fa, *da).reshape(-1, k) if x.ndim else x.reshape(1, 1)
    ys = y.permute(*db, *fb).reshape(k, -1) if y.ndim else y.reshape(1, 1)
    out = mm(xs, ys)
    return out.reshape(*[x.shape[d] for d in fa], *[y.shape[d] for d in fb])


def inner(input: Tensor, other: Tensor) -> Tensor:
    """Sum of products over the last dims (a 0-d operand multiplies).

    Shape:
        (*a, k), (*b, k) -> (*a, *b)
    """
    x, y = check_tensor(input, "inner"), check_tensor(other, "inner", "other", 2)
    if x.ndim == 0 or y.ndim == 0:
        d = result_dtype(x, y)
        return M.Mul.apply(cast(x, d), cast(y, d))
    if x.shape[-1] != y.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(x.shape)} and {list(y.shape)}")
    return tensordot(x, y, ([-1], [-1]))


def vdot(input: Tensor, other: Tensor) -> Tensor:
    """The dot product of two 1-d tensors (real tensors: the same as `dot`)."""
    x, y = check_tensor(input, "vdot"), check_tensor(other, "vdot", "other", 2)
    if x.ndim != 1 or y.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {x.ndim}D and {y.ndim}D tensors")
    return dot(x, y)


def dist(input: Tensor, other: Tensor, p: Any = 2) -> Tensor:
    """The p-norm of input - other (broadcast): (sum |input - other|^p)^(1/p)."""
    from numcnn.functions.math import sub
    from numcnn.functions.reduce import norm
    x, y = check_tensor(input, "dist"), check_tensor(other, "dist", "other", 2)
    return norm(sub(x, y), p)
