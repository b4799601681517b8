"""Winograd minimal filtering for stride-1, dilation-1, ungrouped 3x3 2-D convolutions.

`xcorr` is the hook `numcnn.ops.conv._xcorr` calls before its im2col paths: it computes the
convolution into `y` and returns True where Winograd's algorithm is chosen for the shape
(`numcnn.backends.conv.winograd`), and returns False (leaving `y` alone) everywhere else.

The algorithm (Lavin & Gray 2015, "Fast Algorithms for Convolutional Neural Networks").
F(m, r) computes m outputs of a 1-D correlation with an r-tap filter, y_i = sum_k g_k d_{i+k},
from a tile of n = m + r - 1 inputs with n multiplications instead of m*r:

    y = A^T [ (G g) * (B^T d) ]          (* elementwise)

and the 2-D F(m x m, r x r) nests it along H and W: for an n x n input tile d and the 3x3 kernel g,

    Y (m x m) = A^T [ (G g G^T) * (B^T d B) ] A.

Summed over input channels, the elementwise product becomes n*n independent GEMMs, one per
position (xi, nu) of the transformed tile:

    M[xi, nu] (tiles, O) = V[xi, nu] (tiles, C) @ U[xi, nu] (C, O),
    V = B^T d B for every tile,  U = G g G^T for every (c, o).

Where B, G, A come from (Toom-Cook, derived in `_matrices`): the polynomial product h = g q
(deg g = r - 1, deg q = m - 1) is found from its values at n - 1 points a_j and its leading
coefficient ("the point at infinity"): with V_g, V_q the evaluation (Vandermonde) matrices and
L the Lagrange interpolation matrix, h = L [(V_g g) * (V_q q)].  Correlation is the transpose
of that product (sum_t d_t h_t = sum_i q_i y_i), so y = V_q^T [(V_g g) * (L^T d)]:

    A^T = V_q^T,  A^T[i, j] = a_j^i (the infinity column is e_{m-1}),
    G[j] = (1, a_j, a_j^2) / |D_j|,  D_j = prod_{k != j} (a_j - a_k)  (infinity row: (0, 0, 1)),
    B^T[j] = sign(D_j) * coefficients of prod_{k != j} (x - a_k)
             (infinity row: coefficients of prod_k (x - a_k)).

F(2x2,3x3), points 0, 1, -1:                F(4x4,3x3), points 0, 1, -1, 2, -2:

    B^T = [ 1  0 -1  0]                         B^T = [ 4  0 -5  0  1  0]
          [ 0  1  1  0]                               [ 0  4  4 -1 -1  0]
          [ 0 -1  1  0]                               [ 0 -4  4  1 -1  0]
          [ 0 -1  0  1]                               [ 0 -2 -1  2  1  0]
                                                      [ 0  2 -1 -2  1  0]
    G = [ 1    0    0  ]                              [ 0  4  0 -5  0  1]
        [ 1/2  1/2  1/2]
        [ 1/2 -1/2  1/2]                        G = [ 1/4   0     0  ]
        [ 0    0    1  ]                            [ 1/6   1/6   1/6]
                                                    [ 1/6  -1/6   1/6]
    A^T = [ 1  1  1  0]                             [ 1/24  1/12  1/6]
          [ 0  1 -1  1]                             [ 1/24 -1/12  1/6]
                                                    [ 0     0     1  ]
    (Lavin's, up to the signs of the
     infinity row and column)                   A^T = [ 1  1  1  1  1  0]
                                                      [ 0  1 -1  2 -2  0]
                                                      [ 0  1  1  4  4  0]
                                                      [ 0  1 -1  8 -8  1]

Multiplications per output per (c, o): 9 for im2col, 16/4 = 4 for F(2x2,3x3), 36/16 = 2.25 for
F(4x4,3x3); the price is the transforms, elementwise passes over memory.

Accuracy, measured against float64 im2col (tests/ops/test_winograd.py; shapes with C from 32 to
512, standard normal inputs and 1/sqrt(9C)-scaled weights).  Relative to sum_{c,a} |w| |x| over
an output's receptive field, the float32 error stays below

    F(2x2,3x3): 1e-6  (measured up to 9e-8; float32 im2col: 3e-7 on the same shapes),
    F(4x4,3x3): 1e-5  (measured up to 1.7e-6: its transforms scale by up to 8 and 5 and
                       cancel, costing 3-4 bits),

and in float64 below 2e-15 and 2e-14 (measured 4e-16 and 4e-15).  F(2x2,3x3) is as accurate
as im2col (its transforms only add and halve); F(4x4,3x3) is not.

Speed on the development machine (2-core AMD EPYC VM, OpenBLAS 0.3.31 SkylakeX kernels;
`python bench/bench_winograd.py`, 2026-12-03, two runs, other processes busy on both cores):
F(2x2,3x3)'s wall time over im2col's, both split over the batch across the cores --

    seed CNN, batch 128:  32->32 @28x28  1.16 / 1.25     32->64 @14x14  1.06 / 1.15
                          64->32 @14x14  0.77 / 0.85     64->64 @14x14  0.70 / 0.51
    seed CNN, batch 1000: 32->32 @28x28  1.04 / 0.85     32->64 @14x14  1.09 / 0.90
                          64->32 @14x14  0.72 / 0.67     64->64 @14x14  0.42 / 0.82
    resnet18, batch 8:    64 @56x56  0.72 / 1.02   128 @28x28  1.06 / 0.93
                          256 @14x14  0.86 / 0.80  512 @7x7  1.18 / 1.05

(64->32 is the input gradient of the 32->64 layer).  A third run under heavier load (load
average 7-8 on the 2 cores) moved rows by as much again (8x256x14x14 1.15, 1000x32x28x28 0.65).
F(4x4,3x3) did less work than F2 on one core on some shapes (`--one-core`: 8x128x28x28 at 0.63
of im2col against F2's 0.78) but was rarely faster in wall time.  What limits it: OpenBLAS runs
both algorithms' GEMMs at about the same rate here (70-100 GFLOP/s per core for K = C and for
K = 9*C), so Winograd keeps its 2.25x (F2) / 4x (F4) fewer multiplications, but pays for its
transforms, a dozen NumPy passes over the tiles costing O(C + O) per tile value against the
O(C*O) the GEMMs save: with 32 channels they cost about as much as they save (per 28x28 image,
~0.1 ms of GEMM saved against ~0.2 ms of transforms), with 256-512 channels far less, but there
the images are 7x7-14x14 at batch 8 and the weights' transform (n*n*C*O values, every call)
counts.  So Winograd wins on some shapes by 10-50%, loses on others, and which one depends on
the load of the moment: `numcnn.backends.conv.winograd` is False by default (results then never
depend on timing), and "auto" measures per shape in the run's own conditions.

Layout.  The transforms are elementwise passes, which NumPy runs about four times faster over
long contiguous runs than over the C values of one channels-last pixel.  So a chunk of images is
first copied "spatial-major": X[w, h, n, c], and then every pass of the input transform (along
W, then along H), of the output transform, and the GEMMs' operands (tiles = (tw, th, n)) work on
contiguous blocks of n*C (or n*O) values or more.  Partial tiles at the right and bottom edge
read zeros from the margin of X and their outputs past the edge are dropped.  The transforms
of a chunk are split over tile columns across conv's worker threads (`_over_batch`), and each
output value is computed the same way whatever the split, so results do not depend on it.
"""

from __future__ import annotations

import math
import threading
import time
from fractions import Fraction

import numpy as np

from numcnn.backends import conv as _flags

#: A chunk of images holds at least MIN_TILES tiles (GEMM rows) and, above that, as many as
#: fit CHUNK_BYTES of transformed tiles (V and M: n*n*(C + O) values per tile).  The buffers
#: of a chunk (reused, one set per thread) come to about 4x CHUNK_BYTES.  2-32 MiB measured
#: alike here (within this busy machine's noise), so the smaller.
MIN_TILES = 512
CHUNK_BYTES = 8 << 20


def _matrices(m: int, points) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """B^T (n, n), G (n, 3), A^T (m, n) of F(m, 3) from the n - 1 finite points (see module doc)."""
    r, n = 3, m + 2
    a = [Fraction(p) for p in points]
    if len(a) != n - 1 or len(set(a)) != len(a):
        raise ValueError(f"F({m}, 3) needs {n - 1} distinct points, got {points}")

    def times_linear(p: list[Fraction], root: Fraction) -> list[Fraction]:  # p(x) * (x - root)
        return [-root * p[0]] + [p[i - 1] - root * p[i] for i in range(1, len(p))] + [p[-1]]

    bt, g = [], []
    for j in range(n - 1):
        num, den = [Fraction(1)], Fraction(1)
        for k in range(n - 1):
            if k != j:
                num, den = times_linear(num, a[k]), den * (a[j] - a[k])
        sign = 1 if den > 0 else -1
        bt.append([sign * c for c in num] + [Fraction(0)] * (n - len(num)))
        g.append([a[j] ** e / abs(den) for e in range(r)])
    whole = [Fraction(1)]
    for k in range(n - 1):
        whole = times_linear(whole, a[k])
    bt.append(whole)
    g.append([Fraction(0)] * (r - 1) + [Fraction(1)])
    at = [[a[j] ** i for j in range(n - 1)] + [Fraction(int(i == m - 1))] for i in range(m)]
    bt_, g_, at_ = (np.array([[float(v) for v in row] for row in mat]) for mat in (bt, g, at))
    return bt_, g_, at_


#: tile size m -> (B^T, G, A^T) of F(m x m, 3 x 3)
MATRICES = {2: _matrices(2, (0, 1, -1)), 4: _matrices(4, (0, 1, -1, 2, -2))}

#: tile size m -> the indices (p, q) of the points +a and -a whose transform rows/columns share
#: their work (`_rows`, `_cols`).  Only F(4x4,3x3): in F(2x2,3x3) sharing saves no pass.
PAIRS: dict[int, tuple[tuple[int, int], ...]] = {2: (), 4: ((1, 2), (3, 4))}


def _split_even_odd(row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    even, odd = row.copy(), row.copy()
    even[1::2] = 0
    odd[0::2] = 0
    return even, odd


for _m, _pairs in PAIRS.items():         # the structure `_rows` and `_cols` rely on
    _BT, _, _AT = MATRICES[_m]
    for _p, _q in _pairs:
        _e, _o = _split_even_odd(_BT[_p])
        _sign = (-1.0) ** np.arange(_m)
        if not (np.array_equal(_BT[_q], _e - _o)
                and np.array_equal(_AT[:, _q], _sign * _AT[:, _p])):
            raise AssertionError(f"F({_m}, 3): points {_p} and {_q} do not pair")


# ----------------------------------------------------------------------------- kernel

def _lincomb(out: np.ndarray, coeffs, terms, tmp: np.ndarray) -> None:
    """out = sum_k coeffs[k] * terms[k], in as few passes over memory as NumPy allows: the zero
    coefficients skipped, a term scaled by c != +-1 first (out = c*t, one pass), else the first
    two +-1 terms in one pass (out = t0 +- t1); tmp (out's shape) holds the other scaled terms."""
    pairs = [(float(c), t) for c, t in zip(coeffs, terms) if c != 0]
    pairs.sort(key=lambda p: abs(p[0]) == 1)                 # a scaled term first, if any
    (c0, t0), rest = pairs[0], pairs[1:]
    if abs(c0) != 1:
        np.multiply(t0, c0, out=out)
    elif rest:
        (c1, t1), rest = rest[0], rest[1:]
        if c0 == 1:
            (np.add if c1 == 1 else np.subtract)(t0, t1, out=out)
        elif c1 == 1:
            np.subtract(t1, t0, out=out)
        else:
            np.add(t0, t1, out=out)
            np.negative(out, out=out)
    elif c0 == 1:
        np.copyto(out, t0)
    else:
        np.negative(t0, out=out)
    for c, t in rest:
        if c == 1:
            np.add(out, t, out=out)
        elif c == -1:
            np.subtract(out, t, out=out)
        else:
            np.multiply(t, c, out=tmp)
            np.add(out, tmp, out=out)


def _rows(outs, R: np.ndarray, terms, pairs, tmp: np.ndarray, tmp2: np.ndarray) -> None:
    """outs[r] = sum_k R[r, k] terms[k] for every row r of R.

    Rows paired as (p, q) are R[p] = E + O and R[q] = E - O, E and O R[p]'s even- and
    odd-indexed entries (the points +a and -a): E.t and O.t are computed once for both.
    """
    paired = {r for pq in pairs for r in pq}
    for r in range(len(R)):
        if r not in paired:
            _lincomb(outs[r], R[r], terms, tmp)
    for p, q in pairs:
        even, odd = _split_even_odd(R[p])
        _lincomb(outs[p], even, terms, tmp)
        _lincomb(tmp2, odd, terms, tmp)
        np.subtract(outs[p], tmp2, out=outs[q])
        np.add(outs[p], tmp2, out=outs[p])


def _cols(outs, R: np.ndarray, terms, pairs, tmp: np.ndarray, sums: np.ndarray) -> None:
    """outs[i] = sum_k R[i, k] terms[k] for every row i of R.

    Columns paired as (p, q) have R[i, q] = (-1)^i R[i, p] (a^i and (-a)^i), so
    R[i, p] t_p + R[i, q] t_q = R[i, p] (t_p + t_q) for even i and R[i, p] (t_p - t_q) for odd
    i: the sum and the difference (into `sums`, two per pair) are computed once for all rows.
    """
    terms, R = list(terms), R.copy()
    for idx, (p, q) in enumerate(pairs):
        plus, minus = sums[2 * idx], sums[2 * idx + 1]
        np.add(terms[p], terms[q], out=plus)
        np.subtract(terms[p], terms[q], out=minus)
        terms[p], terms[q] = plus, minus
        R[1::2, q], R[1::2, p] = R[1::2, p], 0
        R[0::2, q] = 0
    for i in range(len(R)):
        _lincomb(outs[i], R[i], terms, tmp)


def _view(buf: np.ndarray, shape) -> np.ndarray:
    """The first prod(shape) values of a contiguous buffer, viewed as `shape`."""
    return buf.reshape(-1)[:math.prod(shape)].reshape(shape)


def _weights(wk: np.ndarray, m: int) -> np.ndarray:
    """U[nu, xi] (C, O) = (G g G^T)[xi, nu] for every (c, o), from wk (1, 9*C, O), as one GEMM:

        U (n*n, C*O) = K (n*n, 9) @ wk (9, C*O),  K[(nu, xi), (a, b)] = G[xi, a] G[nu, b]

    (a the kernel row, b its column), into a reused buffer.
    """
    from numcnn.ops.conv import _scratch

    n = m + 2
    _, KC, O = wk.shape
    C = KC // 9
    K = _KRON[m].astype(wk.dtype)
    U = _scratch("wino_u", (n * n, C, O), wk.dtype)
    np.matmul(K, wk.reshape(9, C * O), out=U.reshape(n * n, C * O))
    return U


#: tile size m -> K of `_weights`, K[(nu, xi), (a, b)] = G[xi, a] G[nu, b]
_KRON = {m: np.einsum("xa,yb->yxab", G, G).reshape((m + 2) ** 2, 9)
         for m, (_, G, _) in MATRICES.items()}


def winograd_xcorr(xp: np.ndarray, wk: np.ndarray, out_size, y: np.ndarray,
                   bias: np.ndarray | None, m: int) -> None:
    """y = xcorr(xp, w) + bias by F(m x m, 3 x 3), chunk by chunk.

    Large calls are split over the batch like conv's (`_split_batch`): one share of the images
    per core, each with its own chunks, transforms and GEMMs, BLAS at one thread meanwhile;
    the weights are transformed once, before the split.

    Shape:
        xp (N, Ho + 2, Wo + 2, C) channels-last, any strides; wk (1, 9*C, O) (row (a, b, c));
        y (N, Ho, Wo, O), written in place.
    """
    from numcnn.ops.conv import _split_batch

    n = m + 2
    N, C = xp.shape[0], xp.shape[-1]
    O = wk.shape[-1]
    Ho, Wo = out_size
    th, tw = -(-Ho // m), -(-Wo // m)                         # tiles down and across
    U = _weights(wk, m)                                       # (n*n, C, O)
    tiles = max(MIN_TILES, CHUNK_BYTES // (n * n * (C + O) * y.itemsize))

    def part(lo: int, hi: int) -> None:
        nb = max(1, min(hi - lo, tiles // (th * tw)))
        for n0 in range(lo, hi, nb):
            n1 = min(hi, n0 + nb)
            _chunk(xp[n0:n1], U, y[n0:n1], bias, m)

    if _split_batch(part, N, y.size * 9 * C) is None:
        part(0, N)


def _chunk(xc: np.ndarray, U: np.ndarray, yc: np.ndarray, bias: np.ndarray | None,
           m: int) -> None:
    """One chunk of `winograd_xcorr`: xc (k, Ho + 2, Wo + 2, C) -> yc (k, Ho, Wo, O).

    Outside a batch split, the transforms are split over tile columns across the worker
    threads and the GEMMs use BLAS's; inside one, everything runs in the calling thread.
    """
    from numcnn.ops.conv import _over_batch, _scratch

    BT, _, AT = MATRICES[m]
    pairs = PAIRS[m]
    n = m + 2
    k, Hp, Wp, C = xc.shape
    _, Ho, Wo, O = yc.shape
    th, tw = -(-Ho // m), -(-Wo // m)                         # tiles down and across
    Hn, Wn = th * m + 2, tw * m + 2                           # input rows/cols the tiles read
    dt = yc.dtype
    T = tw * th * k                                           # tiles in this chunk: (tw, th, k)
    X = _scratch("wino_x", (Wn, Hn, k, C), dt)
    T1 = _scratch("wino_t1", (n, tw, Hn, k, C), dt)
    V = _scratch("wino_v", (n, n, tw, th, k, C), dt)
    M = _scratch("wino_m", (n, n, tw, th, k, O), dt)
    Z = _scratch("wino_z", (m, n, tw, th, k, O), dt)
    Yt = _scratch("wino_y", (m, m, tw, th, k, O), dt)

    def copy_in(w0: int, w1: int) -> None:
        # X[w, h, n, c] = xp[n, h, w, c]: the chunk, spatial-major, zero past the input
        np.copyto(X[w0:min(w1, Wp), :Hp], xc[:, :, w0:w1].transpose(2, 1, 0, 3))
        X[max(w0, Wp):w1] = 0
        X[w0:min(w1, Wp), Hp:] = 0

    def transform_in(t0: int, t1: int) -> None:
        c = t1 - t0
        a_shape, b_shape = (c, Hn, k, C), (n, c, th, k, C)
        size = max(math.prod(a_shape), math.prod(b_shape))
        tmp, tmp2 = _scratch("wino_tmp", (size,), dt), _scratch("wino_tmp2", (size,), dt)
        # along W: T1[nu, tj, h, n, c] = sum_b BT[nu, b] X[tj*m + b, h, n, c]
        _rows(T1[:, t0:t1], BT, [X[t0 * m + b:t1 * m + b:m] for b in range(n)], pairs,
              _view(tmp, a_shape), _view(tmp2, a_shape))
        # along H: V[nu, xi, tj, ti, n, c] = sum_a BT[xi, a] T1[nu, tj, ti*m + a, n, c]
        _rows(V.transpose(1, 0, 2, 3, 4, 5)[:, :, t0:t1], BT,
              [T1[:, t0:t1, a:a + th * m:m] for a in range(n)], pairs,
              _view(tmp, b_shape), _view(tmp2, b_shape))

    def transform_out(t0: int, t1: int) -> None:
        c = t1 - t0
        tmp = _scratch("wino_tmp", (n, c, th, k, O), dt)
        sums = _scratch("wino_sums", (2 * len(pairs), n, c, th, k, O), dt)
        # back along W: Z[j, xi] = sum_nu AT[j, nu] M[nu, xi]
        _cols(Z[:, :, t0:t1], AT, [M[nu, :, t0:t1] for nu in range(n)], pairs, tmp, sums)
        # back along H: Yt[j, i] = sum_xi AT[i, xi] Z[j, xi]
        sub = (m, c, th, k, O)
        _cols(Yt.transpose(1, 0, 2, 3, 4, 5)[:, :, t0:t1], AT,
              [Z[:, xi, t0:t1] for xi in range(n)], pairs, _view(tmp, sub),
              _view(sums, (2 * len(pairs), *sub)))
        # y[n, ti*m + i, tj*m + j] = Yt[j, i, tj, ti, n] (+ bias); tiles past the edge dropped
        for i in range(min(m, Ho)):
            for j in range(min(m, Wo)):
                dst = yc[:, i::m, j::m][:, :, t0:t1]      # (k, th_i, tw_j, O)
                src = Yt[j, i, t0:t0 + dst.shape[2], :dst.shape[1]].transpose(2, 1, 0, 3)
                if bias is None:
                    np.copyto(dst, src)
                else:
                    np.add(src, bias, out=dst)

    _over_batch(copy_in, Wn, Hn * k * C)
    _over_batch(transform_in, tw, T // tw * C * n * 4)
    # n*n GEMMs: M[pos] (T, O) = V[pos] (T, C) @ U[pos] (C, O)
    np.matmul(V.reshape(n * n, T, C), U, out=M.reshape(n * n, T, O))
    _over_batch(transform_out, tw, T // tw * O * n * 4)


# ----------------------------------------------------------------------------- choice

#: the autotuner chooses Winograd only where it takes less than this fraction of im2col's time
WIN_MARGIN = 0.9

#: (N, Ho, Wo, C, O, dtype) -> 0 (im2col), 2 or 4: what the autotuner chose
_CHOICES: dict[tuple, int] = {}
_LOCK = threading.Lock()
_STATE = threading.local()                # .tuning: True while timing the im2col path


def reset_choices() -> None:
    """Forget every autotuned choice."""
    with _LOCK:
        _CHOICES.clear()


def choices() -> dict[tuple, int]:
    """A copy of the autotuner's choices: (N, Ho, Wo, C, O, dtype name) -> 0 (im2col) or m."""
    with _LOCK:
        return dict(_CHOICES)


def _tune(xp, wk, out_size, y, bias, key) -> int:
    """Time im2col, F(2x2,3x3) and F(4x4,3x3) on this call (interleaved, best of two each),
    leave the fastest's result in y (im2col unless a tile beats it by WIN_MARGIN) and return
    its tile size (0: im2col)."""
    from numcnn.ops.conv import _xcorr

    def direct() -> np.ndarray:
        _STATE.tuning = True
        try:
            return _xcorr(xp, wk, (3, 3), (1, 1), (1, 1), out_size, bias)
        finally:
            _STATE.tuning = False

    best: dict[int, float] = {0: math.inf, 2: math.inf, 4: math.inf}
    ref = np.empty(0)
    for _ in range(2):
        for m in (0, 2, 4):
            t = time.perf_counter()
            if m:
                winograd_xcorr(xp, wk, out_size, y, bias, m)
            else:
                ref = direct()
            best[m] = min(best[m], time.perf_counter() - t)
    # a Winograd tile must beat im2col by WIN_MARGIN: near-ties, which the noise of a shared
    # machine decides, stay with im2col (so runs agree more often, and on the plainer path)
    best[0] *= WIN_MARGIN
    choice = min(best, key=best.__getitem__)
    if choice == 0:
        np.copyto(y, ref)
    elif choice == 2:                      # y holds F(4,3)'s result from the last run
        winograd_xcorr(xp, wk, out_size, y, bias, 2)
    with _LOCK:
        _CHOICES[key] = choice
    return choice


def xcorr(xp: np.ndarray, wk: np.ndarray, kernel_size, stride, dilation, out_size,
          y: np.ndarray, bias: np.ndarray | None) -> bool:
    """Compute y = xcorr(xp, wk) + bias by Winograd's algorithm where it is chosen; else False.

    Shapes are `_xcorr`'s: xp (N, *Sp, C) channels-last, wk (G, KK*Cg, Og), y (N, *So, G*Og).
    """
    mode = _flags.winograd
    if mode is False or tuple(kernel_size) != (3, 3) or tuple(stride) != (1, 1) \
            or tuple(dilation) != (1, 1) or wk.shape[0] != 1 \
            or getattr(_STATE, "tuning", False):
        return False
    dt = y.dtype
    if dt not in (np.float32, np.float64) or xp.dtype != dt or wk.dtype != dt \
            or (bias is not None and bias.dtype != dt):
        return False
    if mode is True:
        m = _flags.winograd_tile
        if m not in MATRICES:
            raise ValueError(f"numcnn.backends.conv.winograd_tile must be 2 or 4, got {m!r}")
        winograd_xcorr(xp, wk, out_size, y, bias, m)
        return True
    if mode != "auto":
        raise ValueError("numcnn.backends.conv.winograd must be False, True or 'auto', "
                         f"got {mode!r}")
    N, C, O = xp.shape[0], xp.shape[-1], wk.shape[-1]
    if N * math.prod(out_size) * C * O * 9 < _flags.winograd_min_macs:
        return False
    key = (N, *out_size, C, O, dt.name)
    with _LOCK:
        chosen = _CHOICES.get(key)
    if chosen is None:
        _tune(xp, wk, out_size, y, bias, key)
        return True
    if chosen == 0:
        return False
    winograd_xcorr(xp, wk, out_size, y, bias, chosen)
    return True
