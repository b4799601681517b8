"""Convolution: its geometry, im2col/col2im, and one `Function` per primitive.

Axis legend (the logical layout is PyTorch's: N, C, *S):
    N batch, C input channels, O output channels, G groups (C = G*Cg, O = G*Og),
    S input spatial sizes ((W,), (H, W) or (D, H, W)), Sp padded sizes, So output sizes,
    K kernel sizes, KK = prod(K), s stride, d dilation, p padding as (lo, hi) per spatial dim,
    m = n * prod(So): rows of one GEMM over a chunk of n images.

The lecture's formulas (seeds 000 and 001), written for one spatial dim; every sum over a
spatial index becomes a sum over a tuple of indices in 2-D and 3-D:

    forward    y[n, o, i]   = b[o] + sum_{c, a} w[o, c, a] * xp[n, g*Cg + c, i*s + a*d]
    weight     dw[o, c, a]  = sum_{n, i} gy[n, o, i] * xp[n, g*Cg + c, i*s + a*d]
                              (a cross-correlation of the input with the upstream gradient)
    input      dxp[n, c, j] = sum_{o, a, i : i*s + a*d = j} gy[n, o, i] * w[o, c, a]
                              (a "full" convolution of gy with the flipped kernel)

with g = o // Og the group of output channel o and xp the zero-padded input.

How they are computed.  im2col copies every receptive field into one row, so the forward is a
GEMM  cols (m, KK*Cg) @ W (KK*Cg, Og) = Y (m, Og)  per group (the bias rides along as a column
of ones in cols and a row b in W), and the backward is two more: dW = cols^T @ dY, and
dcols = dY @ W^T summed back into place by col2im.  At stride 1 the input gradient is usually
computed as what it is, a cross-correlation of the zero-padded dY with the flipped,
channel-transposed kernel: one more im2col + GEMM and no scatter at all (col2im stays the
cheaper way when O > 2*C).  Depthwise convolutions (one input channel per group) are too thin
for a GEMM and are computed as one broadcast multiply-add per kernel offset instead.  For
large stride-1 images, im2col runs along W only and the kernel's other offsets become shifted
row ranges of the same matrix (`_row_shifts`): KH times less copying for a few idle rows.

Memory layout.  The kernels work channels-last, (N, *S, C): a row of cols is then a few long
contiguous runs (kw*C values) instead of kw*C scattered ones (2-5x faster im2col on the
development machine).  Results are returned as N, C, *S *views* of channels-last arrays
(np.moveaxis), which is free and lets the next convolution take its input without a copy.  The
batch is processed in chunks so that one chunk's cols stay in cache (`GEMM_ROWS`,
`CHUNK_ELEMENTS`).

Cores.  A large convolution is split over the batch (`_split_batch`): each core runs its share
of the images -- im2col, GEMMs with BLAS at one thread, col2im -- in its own thread, instead of
every small GEMM being shared between the cores and every copy running on one of them.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from numcnn.autograd.function import Context, Function
from numcnn.ops import winograd

__all__ = [
    "conv_output_size",
    "conv_transpose_output_size",
    "same_padding",
    "pad_crop",
    "sliding_windows",
    "clear_scratch",
    "im2col",
    "col2im",
    "ConvNd",
    "ConvTransposeNd",
    "ConvInputGrad",
    "ConvWeightGrad",
    "Unfold",
    "Fold",
]

Pads = Sequence[tuple[int, int]]

#: The batch is processed in chunks of images so that one chunk's cols stay in cache between
#: im2col and the GEMM that reads them.  A chunk holds at least GEMM_ROWS GEMM rows (OpenBLAS
#: ran the conv-shaped GEMMs fastest with about 3000-6000 rows of a few hundred columns here)
#: and at least CHUNK_ELEMENTS cols entries (4 MiB in float32).
GEMM_ROWS = 3136
CHUNK_ELEMENTS = 1 << 20

#: Replace im2col along the leading dims (D, H) by row-shifted GEMMs (`_row_shifts`) where the
#: strides allow, the GEMM is at least ROW_SHIFT_MIN_WIDTH wide and at most a fraction
#: ROW_SHIFT_MAX_WASTE - 1 of its rows fall outside the output.
ROW_SHIFTS = True
ROW_SHIFT_MIN_WIDTH = 32
ROW_SHIFT_MAX_WASTE = 1.1

#: below this many values a copy or elementwise kernel runs in the calling thread only
PARALLEL_MIN_ELEMENTS = 1 << 21


# ----------------------------------------------------------------------------- threads
# BLAS runs the GEMMs on every core, but NumPy's copies and elementwise loops run on one.  They
# release the GIL, so the big ones (padding, im2col, col2im, depthwise) are split over the batch
# across a few worker threads; they never overlap a GEMM, so they do not compete with BLAS.

_POOL: tuple[int, ThreadPoolExecutor] | None = None      # (pid that made it, pool)
_POOL_LOCK = threading.Lock()


def _n_workers() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:                                   # pragma: no cover (macOS, Windows)
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


def _pool() -> ThreadPoolExecutor:
    """The worker threads, made on first use (and again in a forked child, which has none)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL[0] != os.getpid():
            _POOL = (os.getpid(), ThreadPoolExecutor(max_workers=_n_workers(),
                                                     thread_name_prefix="numcnn"))
        return _POOL[1]


def _over_batch(fn: Callable[[int, int], Any], N: int, per_image: int) -> list[Any]:
    """Run fn(n0, n1) over a split of range(N), in parallel threads when the work is large
    (N * per_image >= PARALLEL_MIN_ELEMENTS); returns the results in order.  Inside a part of
    `_split_batch` everything runs in the calling thread (the other cores are busy already)."""
    workers = min(_n_workers(), N)
    if workers <= 1 or N * per_image < PARALLEL_MIN_ELEMENTS or getattr(_INLINE, "on", False):
        return [fn(0, N)]
    pool = _pool()
    bounds = [N * i // workers for i in range(workers + 1)]
    futures = [pool.submit(fn, bounds[i], bounds[i + 1]) for i in range(1, workers)]
    results = [fn(bounds[0], bounds[1])]
    return results + [f.result() for f in futures]


# Whole convolutions split over the batch.  OpenBLAS parallelises each GEMM on its own, with a
# barrier at the end of every call: a chunked convolution makes hundreds of GEMM calls of a
# fraction of a millisecond, each paying that synchronisation, and the im2col copies between
# them run on one core while the other waits.  When the work is large, `_split_batch` instead
# gives each core a share of the images -- its own im2col, GEMMs (BLAS set to one thread
# meanwhile) and scratch buffers -- so both cores run whole chunks with nothing to wait for.
# (Measured here on the 3x3 convolutions of seed 004's CNN and ResNet-20: 1.3-4x less wall time
# for the forward and the weight gradient, the more so the busier the machine.)

#: split a convolution over the batch across the cores (False: BLAS threads each GEMM)
SPLIT_BATCH = True
#: ... when it has at least this many multiply-adds
SPLIT_MIN_MACS = 1 << 24

_INLINE = threading.local()             # .on: this thread runs one part of a _split_batch


class _Blas:
    """OpenBLAS's thread count, read and set through its C API (found among the loaded
    libraries, as NumPy's wheels bundle it); `ok` is False where it cannot be found, and then
    nothing is split."""

    def __init__(self) -> None:
        self.ok = False
        self.lock = threading.Lock()
        try:
            import ctypes

            with open("/proc/self/maps") as f:
                paths = sorted({line.split()[-1] for line in f
                                if "openblas" in line.rsplit("/", 1)[-1].lower()})
            for path in paths:
                lib = ctypes.CDLL(path)
                for suffix in ("64_", "", "_64"):
                    for prefix in ("scipy_openblas", "openblas"):
                        get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                        put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                        if get is not None and put is not None:
                            get.restype, put.argtypes = ctypes.c_int, [ctypes.c_int]
                            self.get, self.put, self.ok = get, put, True
                            return
        except (OSError, AttributeError, ValueError, IndexError):   # pragma: no cover
            self.ok = False


_BLAS: _Blas | None = None


def _blas() -> _Blas:
    global _BLAS
    if _BLAS is None:
        _BLAS = _Blas()
    return _BLAS


def _split_batch(fn: Callable[[int, int], Any], N: int, macs: float) -> list[Any] | None:
    """Run fn(n0, n1) on one share of range(N) per core, each in its own thread with BLAS at
    one thread, and return the results in order; None (nothing run) where the work is too
    small (macs < SPLIT_MIN_MACS), there is one core or image, this thread is already a part
    of a split, or BLAS's threads cannot be controlled.  It uses as many threads as BLAS was
    set to (and none where BLAS was limited to one thread, e.g. by OPENBLAS_NUM_THREADS=1 in
    each of several processes), at most one per core."""
    if not SPLIT_BATCH or N <= 1 or macs < SPLIT_MIN_MACS or getattr(_INLINE, "on", False):
        return None
    blas = _blas()
    if not blas.ok or not blas.lock.acquire(blocking=False):  # another split is running
        return None
    threads = blas.get()
    workers = min(_n_workers(), N, threads)
    if workers <= 1:
        blas.lock.release()
        return None
    try:
        blas.put(1)
        bounds = [N * i // workers for i in range(workers + 1)]

        def part(lo: int, hi: int) -> Any:
            _INLINE.on = True
            try:
                return fn(lo, hi)
            finally:
                _INLINE.on = False

        futures = [_pool().submit(part, bounds[i], bounds[i + 1]) for i in range(1, workers)]
        try:
            results = [part(bounds[0], bounds[1])]
        finally:
            results_rest = [f.result() for f in futures]
        return results + results_rest
    finally:
        blas.put(threads)
        blas.lock.release()


def _copy(dst: np.ndarray, src: np.ndarray) -> None:
    """np.copyto(dst, src) (same shapes), split over the leading axis (or the next one, for a
    single image) across the worker threads."""
    ax = 0 if dst.shape[0] > 1 or dst.ndim == 1 else 1
    n = dst.shape[ax]

    def part(lo: int, hi: int) -> None:
        sl = (slice(None),) * ax + (slice(lo, hi),)
        np.copyto(dst[sl], src[sl])

    _over_batch(part, n, dst.size // max(n, 1))


def _contiguous(a: np.ndarray, slot: str | None = None) -> np.ndarray:
    """np.ascontiguousarray(a), with the copy split across the worker threads (into a
    `_scratch` buffer when `slot` is given)."""
    if a.flags.c_contiguous:
        return a
    out = np.empty(a.shape, dtype=a.dtype) if slot is None else _scratch(slot, a.shape, a.dtype)
    _copy(out, a)
    return out


_SCRATCH = threading.local()
_SCRATCH_POOLS: list[dict[str, np.ndarray]] = []    # every thread's pool, for clear_scratch


def _scratch(slot: str, shape: Sequence[int], dtype) -> np.ndarray:
    """A reusable temporary, one per thread and slot, never returned to a caller.

    Fresh arrays of tens of MB cost page faults on every call (kernel time comparable to the
    copies that fill them), so the large temporaries -- cols, padded gradients, accumulators --
    live in buffers that grow to the largest size seen.  `clear_scratch` frees them.
    """
    pool = _SCRATCH.__dict__.get("pool")
    if pool is None:
        pool = _SCRATCH.pool = {}
        with _POOL_LOCK:
            _SCRATCH_POOLS.append(pool)
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    buf = pool.get(slot)
    if buf is None or buf.nbytes < nbytes:
        buf = pool[slot] = np.empty(max(nbytes, 1), dtype=np.uint8)
    return buf[:nbytes].view(dtype).reshape(shape)


def clear_scratch() -> None:
    """Free the reusable convolution buffers of every thread (see `_scratch`): the calling
    thread's and the worker threads' of `_split_batch`.  Call it between convolutions, not
    while one runs in another thread."""
    with _POOL_LOCK:
        for pool in _SCRATCH_POOLS:          # each thread keeps its (now empty) pool
            pool.clear()


# ----------------------------------------------------------------------------- geometry


def conv_output_size(size: int, kernel_size: int, stride: int = 1,
                     padding: int | tuple[int, int] = 0, dilation: int = 1) -> int:
    """Number of window positions along one dim (lecture: (N - F) / S + 1, floored).

    size_out = floor((size + lo + hi - dilation*(kernel_size - 1) - 1) / stride) + 1

    With N=7, F=3: stride 1 -> 5, stride 2 -> 3, stride 3 -> floor(4/3) + 1 = 2 (the last input
    column is never visited).  The result is <= 0 when the kernel does not fit.
    """
    lo, hi = (padding, padding) if isinstance(padding, int) else padding
    return (size + lo + hi - dilation * (kernel_size - 1) - 1) // stride + 1


def conv_transpose_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0,
                               output_padding: int = 0, dilation: int = 1) -> int:
    """Output size of a transposed convolution along one dim.

    size_out = (size - 1)*stride - 2*padding + dilation*(kernel_size - 1) + output_padding + 1
    """
    return (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1


def same_padding(kernel_size: int, dilation: int = 1) -> tuple[int, int]:
    """(lo, hi) zero padding that keeps the size at stride 1: dilation*(kernel_size - 1) in total.

    An odd total puts the extra element on the right/bottom (hi), as PyTorch does.
    """
    total = dilation * (kernel_size - 1)
    return total // 2, total - total // 2


# ----------------------------------------------------------------------------- im2col / col2im


def pad_crop(x: np.ndarray, pads: Pads, axis: int, slot: str | None = None) -> np.ndarray:
    """`x` zero-padded by pads[i] = (lo, hi) on axis `axis + i`; a negative entry crops instead.

    Returns a new C-contiguous array (a `_scratch` buffer when `slot` is given), or `x` itself
    when nothing changes and it is contiguous.
    """
    if all(lo == 0 and hi == 0 for lo, hi in pads) and x.flags.c_contiguous:
        return x
    shape = list(x.shape)
    src = [slice(None)] * x.ndim
    dst = [slice(None)] * x.ndim
    for i, (lo, hi) in enumerate(pads):
        ax, n = axis + i, x.shape[axis + i]
        shape[ax] = n + lo + hi
        start, stop = max(-lo, 0), n - max(-hi, 0)
        src[ax] = slice(start, stop)
        dst[ax] = slice(max(lo, 0), max(lo, 0) + max(stop - start, 0))
    out = np.empty(shape, dtype=x.dtype) if slot is None else _scratch(slot, shape, x.dtype)
    if any(s.stop <= s.start for s in dst[axis:axis + len(pads)]):
        out.fill(0)
        return out
    for i, (lo, hi) in enumerate(pads):       # zero only the border slabs, not the interior
        ax = axis + i
        lead = (slice(None),) * ax
        if lo > 0:
            out[lead + (slice(0, lo),)] = 0
        if hi > 0:
            out[lead + (slice(shape[ax] - hi, None),)] = 0
    _copy(out[tuple(dst)], x[tuple(src)])
    return out


def sliding_windows(xp: np.ndarray, kernel_size: Sequence[int], stride: Sequence[int],
                    dilation: Sequence[int], out_size: Sequence[int], axis: int,
                    writeable: bool = False) -> np.ndarray:
    """A strided view of every receptive field (no copy).

    win[..., i_1..i_nd, a_1..a_nd, ...] = xp[..., i_1*s_1 + a_1*d_1, ..., i_nd*s_nd + a_nd*d_nd,
                                             ...]

    Shape:
        xp (*lead, *Sp, *trail) with the spatial axes starting at `axis`
        -> (*lead, *So, *K, *trail)
    """
    nd = len(kernel_size)
    st = xp.strides
    shape = xp.shape[:axis] + tuple(out_size) + tuple(kernel_size) + xp.shape[axis + nd:]
    strides = (st[:axis] + tuple(st[axis + i] * stride[i] for i in range(nd))
               + tuple(st[axis + i] * dilation[i] for i in range(nd)) + st[axis + nd:])
    return as_strided(xp, shape, strides, writeable=writeable)


def _offsets(kernel_size: Sequence[int]) -> itertools.product:
    """Every kernel offset (a_1, ..., a_nd)."""
    return itertools.product(*(range(k) for k in kernel_size))


def im2col(xp: np.ndarray, kernel_size: Sequence[int], stride: Sequence[int],
           dilation: Sequence[int], out_size: Sequence[int], axis: int,
           out: np.ndarray | None = None, per_offset: bool = False) -> np.ndarray:
    """Copy every receptive field of `xp` into `out` (the lecture's "reshape all image
    neighbourhoods into columns").

    cols[..., i, a, ...] = xp[..., i*s + a*d, ...]

    NumPy copies in the destination's memory order, so one copy of the whole window view is
    fast whenever the destination's innermost run is long.  When it is tiny (a channels-last
    input with one or two channels) `per_offset` copies one kernel offset at a time instead,
    each a strided copy running along the output rows.

    Shape:
        xp (*lead, *Sp, *trail) -> cols (*lead, *So, *K, *trail); `out` may be any view of that
        shape (e.g. a transposed buffer).
    """
    win = sliding_windows(xp, kernel_size, stride, dilation, out_size, axis)
    if out is None:
        out = np.empty(win.shape, dtype=xp.dtype)
    if not per_offset:
        _copy(out, win)
        return out
    lead = (slice(None),) * (axis + len(kernel_size))

    def part(lo: int, hi: int) -> None:
        for off in _offsets(kernel_size):
            out[lo:hi][lead + off] = win[lo:hi][lead + off]

    _over_batch(part, out.shape[0], out[0].size)
    return out


def col2im(cols: np.ndarray, xp: np.ndarray, kernel_size: Sequence[int], stride: Sequence[int],
           dilation: Sequence[int], out_size: Sequence[int], axis: int) -> np.ndarray:
    """Add every column back where im2col took it from (the adjoint of im2col), in place.

    xp[..., i*s + a*d, ...] += cols[..., i, a, ...]   for every window i and offset a

    One strided slice-add per kernel offset: the windows of a single offset never overlap, so
    no np.add.at is needed.

    Shape:
        cols (*lead, *So, *K, *trail) (any strides) added into xp (*lead, *Sp, *trail).
    """
    win = sliding_windows(xp, kernel_size, stride, dilation, out_size, axis, writeable=True)
    lead = (slice(None),) * (axis + len(kernel_size))
    ax = 0 if xp.shape[0] > 1 or axis < 2 else 1        # split the images (or channels)

    def part(lo: int, hi: int) -> None:
        sl = (slice(None),) * ax + (slice(lo, hi),)
        w_part, c_part = win[sl], cols[sl]
        for off in _offsets(kernel_size):
            w = w_part[lead + off]
            np.add(w, c_part[lead + off], out=w)

    _over_batch(part, xp.shape[ax], cols.size // max(xp.shape[ax], 1))
    return xp


# ----------------------------------------------------------------------------- GEMM kernels
# All three work on channels-last arrays and weights in "GEMM form" wk (G, KK*Cg, Og), whose row
# (a, c) holds w[g*Og + o, c, a]: the layout a row of cols multiplies.


def _gemm_weight(w: np.ndarray, groups: int) -> np.ndarray:
    """w (O, Cg, *K) -> wk (G, KK*Cg, Og), wk[g, (a, c), o] = w[g*Og + o, c, a]."""
    O, Cg, *K = w.shape
    nd = len(K)
    wg = w.reshape(groups, O // groups, Cg, *K)
    wk = wg.transpose(0, *range(3, 3 + nd), 2, 1)          # (G, *K, Cg, Og)
    return np.ascontiguousarray(wk).reshape(groups, math.prod(K) * Cg, O // groups)


def _gemm_weight_flipped(w: np.ndarray, groups: int) -> np.ndarray:
    """The kernel of the input gradient: spatially flipped, in and out channels swapped.

    w (O, Cg, *K) -> wf (G, KK*Og, Cg), wf[g, (a, o), c] = w[g*Og + o, c, K-1-a].
    """
    O, Cg, *K = w.shape
    nd = len(K)
    wg = w.reshape(groups, O // groups, Cg, *K)[(Ellipsis,) + (slice(None, None, -1),) * nd]
    wf = wg.transpose(0, *range(3, 3 + nd), 1, 2)          # (G, *K, Og, Cg)
    return np.ascontiguousarray(wf).reshape(groups, math.prod(K) * (O // groups), Cg)


def _weight_from_gemm(gwk: np.ndarray, w_shape: Sequence[int], groups: int) -> np.ndarray:
    """Inverse of `_gemm_weight`: gwk (G, KK*Cg, Og) -> (O, Cg, *K)."""
    O, Cg, *K = w_shape
    nd = len(K)
    g = gwk.reshape(groups, *K, Cg, O // groups)            # (G, *K, Cg, Og)
    g = g.transpose(0, nd + 2, nd + 1, *range(1, nd + 1))    # (G, Og, Cg, *K)
    return np.ascontiguousarray(g).reshape(O, Cg, *K)


def _chunk(n: int, per_image: int, rows: int = 0) -> int:
    """Images per chunk: enough for GEMM_ROWS GEMM rows, or for CHUNK_ELEMENTS cols entries
    when that is more (thin GEMMs, e.g. one input channel, gain nothing from splitting)."""
    by_rows = -(-GEMM_ROWS // rows) if rows else 1
    return max(1, min(n, max(by_rows, CHUNK_ELEMENTS // max(per_image, 1))))


def _cols_buffer(n: int, out_size, groups: int, kernel_size, Cg: int, dtype,
                 ones: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A GEMM operand (n*prod(So), G, KK*Cg [+1]) and its im2col view (n, *So, G, *K, Cg).

    With `ones`, every row ends in a 1, so that the GEMM adds the bias stored as the weight's
    last row (the lecture's "x . K' + bias" as one dot product: [x, 1] . [K'; b]).
    """
    rows, KC = math.prod(out_size), math.prod(kernel_size) * Cg
    width = KC + ones
    buf = _scratch("cols", (n * rows, groups, width), dtype)
    if ones:
        buf[:, :, KC] = 1
    it = buf.itemsize
    so_strides = [math.prod(out_size[i + 1:]) * groups * width * it for i in range(len(out_size))]
    k_strides = [math.prod(kernel_size[i + 1:]) * Cg * it for i in range(len(kernel_size))]
    view = as_strided(buf, (n, *out_size, groups, *kernel_size, Cg),
                      (rows * groups * width * it, *so_strides, width * it, *k_strides, it))
    return buf, view


def _fill_cols(xp: np.ndarray, cols: np.ndarray, kernel_size, stride, dilation, out_size,
               groups: int) -> None:
    """im2col of a channels-last chunk into a view laid out (n, *So, G, *K, Cg).

    xp (n, *Sp, C) is viewed as (n, *Sp, G, Cg), whose windows are (n, *So, *K, G, Cg); the
    destination is transposed to that order so each group's row (a, c) ends up contiguous.
    """
    nd = len(kernel_size)
    C = xp.shape[-1]
    Cg = C // groups
    xg = xp.reshape(*xp.shape[:-1], groups, Cg)
    # the destination's innermost contiguous run: kw*C values when the kernel's adjacent
    # columns are adjacent in memory (one group, dilation 1), otherwise Cg
    run = C * kernel_size[-1] if groups == 1 and dilation[-1] == 1 else Cg
    # cols axes: 0, 1..nd (So), nd+1 (G), nd+2..2nd+1 (K), 2nd+2 (Cg) -> window order
    perm = (0, *range(1, nd + 1), *range(nd + 2, 2 * nd + 2), nd + 1, 2 * nd + 2)
    im2col(xg, kernel_size, stride, dilation, out_size, 1, out=cols.transpose(perm),
           per_offset=run < 4 and out_size[-1] > run)


def _sum_rows(a: np.ndarray) -> np.ndarray:
    """db = sum over the rows of a (m, O), summing several rows at a time so that NumPy's inner
    loop is long.  (A GEMV with ones is as fast but wakes BLAS's threads, which then spin for a
    while and slow down the threaded NumPy kernels that follow, such as depthwise.)"""
    m, O = a.shape
    reps = max(1, 1024 // max(O, 1))
    if m % reps or not a.flags.c_contiguous:
        return a.sum(axis=0)
    return a.reshape(-1, reps * O).sum(axis=0).reshape(reps, O).sum(axis=0)


def _add_bias(y: np.ndarray, bias: np.ndarray) -> None:
    """y (..., O) += bias, C-contiguous y: several rows at a time so NumPy's inner loop is long."""
    O = bias.shape[0]
    reps = max(1, 1024 // max(O, 1))
    rows = y.size // max(O, 1)
    if O and rows % reps == 0 and y.flags.c_contiguous:
        y2 = y.reshape(-1, reps * O)
        y2 += np.tile(bias, reps)
    else:
        y += bias


def _grouped_matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """out[:, g, :] = a[:, g, :] @ b[g] for every group g.

    Shape:
        a (m, G, k), b (G, k, o) -> out (m, G, o), written in place (any strides BLAS takes)
    """
    if b.shape[0] == 1:
        np.matmul(a[:, 0, :], b[0], out=out[:, 0, :])
    else:
        np.matmul(a.transpose(1, 0, 2), b, out=out.transpose(1, 0, 2))


def _row_shifts(kernel_size, stride, dilation, padded, out_size, Cg: int) -> list[int] | None:
    """Row shifts that replace im2col along every dim but the last, or None where they do not
    pay (measured here: they win when the GEMMs stay wide and few rows are wasted).

    Flatten a chunk's positions (n, p_1..p_{nd-1}, j) -- every padded position p of the leading
    dims (D, H) and every output column j -- into rows r.  At stride 1 in the leading dims, the
    kernel's leading offset a moves the window by a fixed number of rows,
    shift(a) = sum_t a_t * d_t * (rows per step of dim t), so those offsets need no copies.
    """
    nd = len(kernel_size)
    if not ROW_SHIFTS or nd < 2 or any(s != 1 for s in stride[:-1]) \
            or math.prod(kernel_size[:-1]) == 1 or kernel_size[-1] * Cg < ROW_SHIFT_MIN_WIDTH \
            or math.prod(padded[:-1]) > ROW_SHIFT_MAX_WASTE * math.prod(out_size[:-1]):
        return None
    lead, wo = padded[:-1], out_size[-1]
    step = [math.prod(lead[t + 1:]) * wo for t in range(nd - 1)]
    return [sum(a[t] * dilation[t] * step[t] for t in range(nd - 1))
            for a in _offsets(kernel_size[:-1])]


def _xcorr_shifted(xp, wk, kernel_size, stride, dilation, out_size, y, bias, shifts) -> None:
    """`_xcorr` with im2col along the last dim only, the other kernel offsets as row shifts.

    cols_w[r, (b, c)] = xp[n, p, j*s_w + b*d_w, c]          (kw*C values per row r = (n, p, j))
    y[r] = b + sum_a cols_w[r + shift(a)] @ W_a              (one GEMM per leading offset a)

    Rows whose p lies past the output (p >= So) are computed and dropped: a few per cent more
    GEMM rows buy a copy KH (or KD*KH) times smaller than full im2col.
    """
    N, C = xp.shape[0], xp.shape[-1]
    G, _, Og = wk.shape
    Cg, nd, kw = C // G, len(kernel_size), kernel_size[-1]
    lead = xp.shape[1:nd]                                    # padded leading sizes
    So = tuple(out_size)
    R = math.prod(lead) * So[-1]                             # rows per image
    width = kw * Cg
    k_w = (1,) * (nd - 1) + (kw,)                            # im2col along W only
    s_w = (1,) * (nd - 1) + (stride[-1],)
    d_w = (1,) * (nd - 1) + (dilation[-1],)
    rows_size = (*lead, So[-1])
    weights = []                                             # W_a (G, kw*Cg [+1], Og)
    for i in range(len(shifts)):
        w_a = wk[:, i * width:(i + 1) * width, :]
        if bias is not None:                                 # the bias rides on the first
            b = bias.reshape(G, 1, Og) if i == 0 else np.zeros((G, 1, Og), wk.dtype)
            w_a = np.concatenate([w_a, b.astype(wk.dtype)], axis=1)
        weights.append(np.ascontiguousarray(w_a))
    nb = _chunk(N, R * width * G, R)
    buf, cols = _cols_buffer(nb, rows_size, G, k_w, Cg, xp.dtype, ones=bias is not None)
    acc = _scratch("acc", (nb * R, G, Og), y.dtype)
    tmp = _scratch("tmp", (nb * R, G, Og), y.dtype)
    inside = (slice(None),) + tuple(slice(0, o) for o in So[:-1])
    for n0 in range(0, N, nb):
        n1 = min(N, n0 + nb)
        m = (n1 - n0) * R
        L = m - shifts[-1]                                   # rows every shift can reach
        _fill_cols(xp[n0:n1], cols[:n1 - n0], k_w, s_w, d_w, rows_size, G)
        for i, sh in enumerate(shifts):
            _grouped_matmul(buf[sh:sh + L], weights[i], acc[:L] if i == 0 else tmp[:L])
            if i:
                acc[:L] += tmp[:L]
        y[n0:n1] = acc[:m].reshape(n1 - n0, *rows_size, G * Og)[inside]


def _weight_grad_shifted(xp, gy, kernel_size, stride, dilation, gwk, shifts) -> None:
    """`_xcorr_weight_grad` with the row shifts of `_xcorr_shifted`:

    dW_a = sum_r cols_w[r + shift(a)]^T @ dy[r],  dy zero on the rows past the output.
    """
    N, C = xp.shape[0], xp.shape[-1]
    G, _, Og = gwk.shape
    Cg, nd, kw = C // G, len(kernel_size), kernel_size[-1]
    lead = xp.shape[1:nd]
    So = gy.shape[1:-1]
    R = math.prod(lead) * So[-1]
    width = kw * Cg
    k_w = (1,) * (nd - 1) + (kw,)
    s_w = (1,) * (nd - 1) + (stride[-1],)
    d_w = (1,) * (nd - 1) + (dilation[-1],)
    rows_size = (*lead, So[-1])
    gy_rows = pad_crop(gy, [(0, p - o) for p, o in zip(lead, So)] + [(0, 0)], 1, "gy_rows")
    nb = _chunk(N, R * width * G, R)
    buf, cols = _cols_buffer(nb, rows_size, G, k_w, Cg, xp.dtype)
    part = np.empty((G, width, Og), dtype=gwk.dtype)
    for n0 in range(0, N, nb):
        n1 = min(N, n0 + nb)
        m = (n1 - n0) * R
        L = m - shifts[-1]
        _fill_cols(xp[n0:n1], cols[:n1 - n0], k_w, s_w, d_w, rows_size, G)
        g = gy_rows[n0:n1].reshape(m, G, Og)[:L].transpose(1, 0, 2)      # (G, L, Og)
        for i, sh in enumerate(shifts):
            np.matmul(buf[sh:sh + L].transpose(1, 2, 0), g, out=part)   # (G, kw*Cg, Og)
            gwk[:, i * width:(i + 1) * width, :] += part


def _xcorr(xp: np.ndarray, wk: np.ndarray, kernel_size, stride, dilation, out_size,
           bias: np.ndarray | None = None) -> np.ndarray:
    """The forward GEMM, chunk by chunk:

    y[n, i, g*Og + o] = b[g*Og + o] + sum_{a, c} xp[n, i*s + a*d, g*Cg + c] * wk[g, (a, c), o]

    Shape:
        xp (N, *Sp, C) channels-last, wk (G, KK*Cg, Og) -> y (N, *So, G*Og) channels-last.
    """
    N, C = xp.shape[0], xp.shape[-1]
    G, KC, Og = wk.shape
    So = tuple(out_size)
    y = np.empty((N, *So, G * Og), dtype=np.result_type(xp, wk))
    if y.size == 0:
        return y
    if C // G == 1 and G > 1:
        _xcorr_depthwise(xp, wk, kernel_size, stride, dilation, So, y, bias)
        return y
    if winograd.xcorr(xp, wk, kernel_size, stride, dilation, So, y, bias):
        return y

    def part(lo: int, hi: int) -> None:
        _xcorr_gemm(xp[lo:hi], wk, kernel_size, stride, dilation, So, y[lo:hi], bias)

    if _split_batch(part, N, y.size * KC) is None:
        part(0, N)
    return y


def _xcorr_gemm(xp: np.ndarray, wk: np.ndarray, kernel_size, stride, dilation, So,
                y: np.ndarray, bias: np.ndarray | None) -> None:
    """`_xcorr`'s GEMM paths (1x1, row shifts, im2col), writing into y (N, *So, G*Og)."""
    N, C = xp.shape[0], xp.shape[-1]
    G, KC, Og = wk.shape
    KK, rows = math.prod(kernel_size), math.prod(So)
    if KK == 1 and G == 1 and all(s == 1 for s in stride):
        # 1x1 convolution at stride 1: the input already is the cols matrix
        np.matmul(xp.reshape(N * rows, C), wk[0], out=y.reshape(N * rows, Og))
        if bias is not None:
            _add_bias(y, bias)
        return
    shifts = _row_shifts(kernel_size, stride, dilation, xp.shape[1:-1], So, C // G)
    if shifts is not None:
        _xcorr_shifted(xp, wk, kernel_size, stride, dilation, So, y, bias, shifts)
        return
    if bias is not None:                   # [cols, 1] @ [W; b]: the GEMM adds the bias
        wk = np.concatenate([wk, bias.reshape(G, 1, Og).astype(wk.dtype)], axis=1)
    nb = _chunk(N, rows * KK * C, rows)
    buf, cols = _cols_buffer(nb, So, G, kernel_size, C // G, xp.dtype, ones=bias is not None)
    for n0 in range(0, N, nb):
        n1 = min(N, n0 + nb)
        m = (n1 - n0) * rows
        _fill_cols(xp[n0:n1], cols[:n1 - n0], kernel_size, stride, dilation, So, G)
        _grouped_matmul(buf[:m], wk, y[n0:n1].reshape(m, G, Og))


def _xcorr_weight_grad(xp: np.ndarray, gy: np.ndarray, kernel_size, stride, dilation,
                       groups: int) -> np.ndarray:
    """dW as a cross-correlation of the input with dY: gwk[g] = sum over chunks of cols_g^T @ gy_g.

    Shape:
        xp (N, *Sp, C), gy (N, *So, O) channels-last -> gwk (G, KK*Cg, Og)
    """
    N, C = xp.shape[0], xp.shape[-1]
    So, O = gy.shape[1:-1], gy.shape[-1]
    G, Cg, Og, KK = groups, C // groups, O // groups, math.prod(kernel_size)
    rows = math.prod(So)
    gwk = np.zeros((G, KK * Cg, Og), dtype=np.result_type(xp, gy))
    if N * rows == 0:
        return gwk
    if Cg == 1 and G > 1:
        return _xcorr_depthwise_weight_grad(xp, gy, kernel_size, stride, dilation, gwk)

    def part(lo: int, hi: int) -> np.ndarray:
        g = np.zeros_like(gwk)
        _weight_grad_gemm(xp[lo:hi], gy[lo:hi], kernel_size, stride, dilation, g)
        return g

    parts = _split_batch(part, N, gy.size * KK * Cg)
    if parts is None:
        _weight_grad_gemm(xp, gy, kernel_size, stride, dilation, gwk)
        return gwk
    return np.sum(parts, axis=0, dtype=gwk.dtype)


def _weight_grad_gemm(xp: np.ndarray, gy: np.ndarray, kernel_size, stride, dilation,
                      gwk: np.ndarray) -> None:
    """`_xcorr_weight_grad`'s GEMM paths (1x1, row shifts, im2col), added into gwk."""
    N, C = xp.shape[0], xp.shape[-1]
    So, O = gy.shape[1:-1], gy.shape[-1]
    G, Og = gwk.shape[0], gwk.shape[2]
    Cg, KK, rows = C // G, math.prod(kernel_size), math.prod(So)
    if KK == 1 and G == 1 and all(s == 1 for s in stride):
        gwk[0] += xp.reshape(-1, C).T @ gy.reshape(-1, O)
        return
    shifts = _row_shifts(kernel_size, stride, dilation, xp.shape[1:-1], So, Cg)
    if shifts is not None:
        _weight_grad_shifted(xp, gy, kernel_size, stride, dilation, gwk, shifts)
        return
    nb = _chunk(N, rows * KK * C, rows)
    buf, cols = _cols_buffer(nb, So, G, kernel_size, Cg, xp.dtype)
    part = np.empty_like(gwk)
    for n0 in range(0, N, nb):
        n1 = min(N, n0 + nb)
        _fill_cols(xp[n0:n1], cols[:n1 - n0], kernel_size, stride, dilation, So, G)
        m = (n1 - n0) * rows
        a = buf[:m].transpose(1, 2, 0)                              # (G, KK*Cg, m)
        b = gy[n0:n1].reshape(m, G, Og).transpose(1, 0, 2)        # (G, m, Og)
        np.matmul(a, b, out=part)
        gwk += part


def _xcorr_input_grad(gy: np.ndarray, w: np.ndarray, kernel_size, stride, dilation,
                      padding: Pads, in_size: Sequence[int], groups: int) -> np.ndarray:
    """dX of `_xcorr`, cropped to the unpadded input: the adjoint of pad -> xcorr.

    stride 1: dX = xcorr(dY zero-padded by d*(k-1) - p, flipped kernel)     (no scatter)
    else:     dcols = dY @ W^T, then col2im sums every column back into place
              (also at stride 1 when O > 2*C, where dcols is the smaller array).

    `padding` may hold negative entries (used by the transposed convolution): the padded input
    is then smaller than the input, whose uncovered border gets zero gradient.

    Shape:
        gy (N, *So, O) channels-last, w (O, Cg, *K) -> gx (N, *S, C) channels-last
    """
    N, So, O = gy.shape[0], gy.shape[1:-1], gy.shape[-1]
    Cg, K = w.shape[1], tuple(kernel_size)
    G, Og, KK = groups, O // groups, math.prod(K)
    C = G * Cg
    nd = len(K)
    dtype = np.result_type(gy, w)
    # The flipped-kernel xcorr copies KK*O values per input pixel, col2im adds KK*C (an add
    # costs about twice a copy): choose the cheaper one.
    if all(s == 1 for s in stride) and O <= 2 * C:
        reach = [d * (k - 1) for k, d in zip(K, dilation)]
        gyp = pad_crop(gy, [(r - lo, r - hi) for r, (lo, hi) in zip(reach, padding)], 1, "gyp")
        return _xcorr(gyp, _gemm_weight_flipped(w, G), K, stride, dilation, in_size)
    Sp = [s + lo + hi for s, (lo, hi) in zip(in_size, padding)]
    crop = [(-lo, -hi) for lo, hi in padding]
    rows = math.prod(So)
    if G == 1 and C < 8:
        return _col2im_input_grad_cf(gy, w, K, stride, dilation, Sp, crop)
    gxp = np.zeros((N, *Sp, C), dtype=dtype)
    if N * rows > 0 and C > 0:
        if Cg == 1 and G > 1:
            _depthwise_input_grad(gy, w, K, stride, dilation, gxp)
        else:
            wk = _gemm_weight(w, G)
            perm = (0, *range(1, nd + 1), *range(nd + 2, 2 * nd + 2), nd + 1, 2 * nd + 2)

            def part(lo: int, hi: int) -> None:
                nb = _chunk(hi - lo, rows * KK * C, rows)
                cols = _scratch("cols", (nb, *So, G, *K, Cg), dtype)
                for n0 in range(lo, hi, nb):
                    n1 = min(hi, n0 + nb)
                    c = cols[:n1 - n0]
                    m = (n1 - n0) * rows
                    # dcols (m, G, KK*Cg) = dY_g (m, Og) @ W_g^T (Og, KK*Cg)
                    _grouped_matmul(gy[n0:n1].reshape(m, G, Og), wk.transpose(0, 2, 1),
                                    c.reshape(m, G, KK * Cg))
                    xg = gxp[n0:n1].reshape(n1 - n0, *Sp, G, Cg)
                    col2im(c.transpose(perm), xg, K, stride, dilation, So, 1)

            if _split_batch(part, N, gy.size * KK * Cg) is None:
                part(0, N)
    return pad_crop(gxp, crop, axis=1)


def _col2im_input_grad_cf(gy: np.ndarray, w: np.ndarray, kernel_size, stride, dilation, Sp,
                          crop: Pads) -> np.ndarray:
    """col2im for few input channels (groups 1, C < 8), done channels-first.

    Channels-last, every slice-add of col2im would run along C (one to seven values); with
    dcols^T (KK*C, m) = W (KK*C, O) @ dY^T (O, m) each add runs along an output row instead.

    Shape:
        gy (N, *So, O), w (O, C, *K) -> gx (N, *S, C), a view of a (C, N, *S) array
    """
    N, So, O = gy.shape[0], gy.shape[1:-1], gy.shape[-1]
    C, K = w.shape[1], tuple(kernel_size)
    nd, KK, rows = len(K), math.prod(K), math.prod(So)
    dtype = np.result_type(gy, w)
    wk = _gemm_weight(w, 1)[0]                                           # (KK*C, O)
    gxp = np.zeros((C, N, *Sp), dtype=dtype)                             # (C, N, *Sp)
    nb = _chunk(N, rows * KK * C, rows)
    buf = _scratch("cols", (nb * rows * KK * C,), dtype)
    for n0 in range(0, N, nb):
        n1 = min(N, n0 + nb)
        m = (n1 - n0) * rows
        cols = buf[:KK * C * m].reshape(KK * C, m)
        np.matmul(wk, gy[n0:n1].reshape(m, O).T, out=cols)              # (KK*C, m)
        c = cols.reshape(*K, C, n1 - n0, *So)
        c = c.transpose(nd, nd + 1, *range(nd + 2, 2 * nd + 2), *range(nd))  # (C, n, *So, *K)
        col2im(c, gxp[:, n0:n1], K, stride, dilation, So, 2)
    return np.moveaxis(pad_crop(gxp, crop, axis=2), 0, -1)


# ----------------------------------------------------------------------------- depthwise
# Cg == 1 (groups == C): every GEMM would be (m, KK) @ (KK, Og), far too thin for BLAS.  The
# same formulas are computed as one broadcast multiply-add per kernel offset instead, on chunks
# of images that stay in cache, with the batch split across the worker threads.

def _merge_last(a: np.ndarray) -> np.ndarray:
    """View (..., W, C) as (..., W*C); the caller guarantees the two axes are contiguous."""
    return as_strided(a, (*a.shape[:-2], a.shape[-2] * a.shape[-1]),
                      (*a.strides[:-2], a.strides[-1]))


def _phase_views(xp: np.ndarray, kernel_size, stride, dilation, out_size) -> list[np.ndarray]:
    """Every kernel offset's window view of xp (N, *Sp, G), each with unit stride, for a
    strided convolution: xp is split into its stride phases (one copy of the input),

        xp[n, i*s + a*d] = P_{(a*d) mod s}[n, i + (a*d) div s],  P_p = xp[n, p::s],

    so that offset a reads a contiguous run of its phase P_p where it would otherwise read
    every s-th pixel.

    Shape:
        xp (N, *Sp, G) -> a list over offsets a of (N, *So, G) views
    """
    phases: dict[tuple[int, ...], np.ndarray] = {}
    views = []
    for off in _offsets(kernel_size):
        ph = tuple(a * d % s for a, d, s in zip(off, dilation, stride))
        q = tuple(a * d // s for a, d, s in zip(off, dilation, stride))
        if ph not in phases:
            src = xp[(slice(None),) + tuple(slice(p, None, s) for p, s in zip(ph, stride))]
            phases[ph] = np.empty(src.shape, dtype=xp.dtype)
            _copy(phases[ph], src)
        views.append(phases[ph][(slice(None),) + tuple(slice(b, b + o) for b, o
                                                        in zip(q, out_size))])
    return views


def _xcorr_depthwise(xp, wk, kernel_size, stride, dilation, out_size, y, bias) -> None:
    """y[n, i, g, o] = b + sum_a xp[n, i*s + a*d, g] * wk[g, a, o]   (into y (N, *So, G*Og)).

    With one output per channel and stride 1 along W, a window row (W_out, G) is contiguous in
    xp, so each multiply-add runs over W_out*G values against the kernel tap tiled W_out times.
    """
    N, G = xp.shape[0], xp.shape[-1]
    Og = wk.shape[2]
    nd = len(kernel_size)
    per_image = math.prod(out_size) * G * Og
    if Og == 1 and any(st > 1 for st in stride):
        views = _phase_views(xp, kernel_size, stride, dilation, out_size)    # (N, *So, G)
    else:
        win = sliding_windows(xp, kernel_size, stride, dilation, out_size, 1)  # (N,*So,*K,G)
        lead = (slice(None),) * (1 + nd)
        # every offset's window view over the whole batch, made once (as_strided is slow)
        views = [win[lead + off] for off in _offsets(kernel_size)]           # (N, *So, G)
    flat = Og == 1 and views[0].strides[-2] == G * xp.itemsize
    taps = [np.tile(wk[:, i, 0], out_size[-1]) if flat else wk[:, i, :]
            for i in range(wk.shape[1])]
    views = [_merge_last(v) if flat else v[..., None] for v in views]
    ys = y.reshape(N, *out_size, G, Og)
    ys = _merge_last(ys[..., 0]) if flat else ys                      # (N, *So[:-1], Wo*G)

    def work(lo: int, hi: int) -> None:
        nb = _chunk(hi - lo, per_image * 4)
        tmp = _scratch("depthwise", (nb, *out_size, G, Og), y.dtype)
        tmp = _merge_last(tmp[..., 0]) if flat else tmp
        for n0 in range(lo, hi, nb):
            n1 = min(hi, n0 + nb)
            yc, t = ys[n0:n1], tmp[:n1 - n0]
            for i, xw in enumerate(views):
                np.multiply(xw[n0:n1], taps[i], out=yc if i == 0 else t)
                if i:
                    np.add(yc, t, out=yc)
            if bias is not None:
                _add_bias(y[n0:n1], bias)

    _over_batch(work, N, per_image * len(wk[0]))


def _xcorr_depthwise_weight_grad(xp, gy, kernel_size, stride, dilation, gwk) -> np.ndarray:
    """gwk[g, a, o] = sum_{n, i} xp[n, i*s + a*d, g] * gy[n, i, g, o]."""
    N, G = xp.shape[0], xp.shape[-1]
    So = gy.shape[1:-1]
    Og, KK = gwk.shape[2], gwk.shape[1]
    nd = len(kernel_size)
    per_image = math.prod(So) * G * Og
    win = sliding_windows(xp, kernel_size, stride, dilation, So, 1)          # (N, *So, *K, G)
    g = gy.reshape(N, *So, G, Og)
    lead = (slice(None),) * (1 + nd)
    flat = Og == 1 and stride[-1] == 1       # rows of W_out*G values, as in _xcorr_depthwise
    rows = "nxyz"[:nd if flat else 1 + nd]   # einsum letters of the summed axes
    spec = f"{rows}j,{rows}j->j" if flat else f"{rows}g,{rows}go->go"
    views = [win[lead + off] for off in _offsets(kernel_size)]                # (N, *So, G)
    views = [_merge_last(v) for v in views] if flat else views
    gs = _merge_last(g[..., 0]) if flat else g

    def work(lo: int, hi: int) -> np.ndarray:
        part = np.zeros((KK, So[-1] * G) if flat else (KK, G, Og), dtype=gwk.dtype)
        nb = _chunk(hi - lo, per_image * 4)
        for n0 in range(lo, hi, nb):
            n1 = min(hi, n0 + nb)
            gc = gs[n0:n1]
            for i, xw in enumerate(views):
                part[i] += np.einsum(spec, xw[n0:n1], gc)
        if flat:                                        # fold the W_out copies of each tap
            return part.reshape(KK, So[-1], G).sum(axis=1).T[:, :, None]
        return part.transpose(1, 0, 2)

    for part in _over_batch(work, N, per_image * gwk.shape[1]):
        gwk += part
    return gwk


def _depthwise_input_grad(gy, w, kernel_size, stride, dilation, gxp) -> None:
    """gxp[n, i*s + a*d, g] += sum_o gy[n, i, g, o] * w[g*Og + o, 0, a]   (col2im, fused)."""
    N, So, O = gy.shape[0], gy.shape[1:-1], gy.shape[-1]
    G = gxp.shape[-1]
    Og = O // G
    nd = len(kernel_size)
    per_image = math.prod(So) * O
    wg = w.reshape(G, Og, -1)                                               # (G, Og, KK)
    win = sliding_windows(gxp, kernel_size, stride, dilation, So, 1, writeable=True)
    g = gy.reshape(N, *So, G, Og)
    lead = (slice(None),) * (1 + nd)

    def work(lo: int, hi: int) -> None:
        nb = _chunk(hi - lo, per_image * 4)
        tmp = _scratch("depthwise", (nb, *So, G), gxp.dtype)
        for n0 in range(lo, hi, nb):
            n1 = min(hi, n0 + nb)
            t = tmp[:n1 - n0]
            for i, off in enumerate(_offsets(kernel_size)):
                dst = win[n0:n1][lead + off]                                # (n, *So, G)
                if Og == 1:
                    np.multiply(g[n0:n1, ..., 0], wg[:, 0, i], out=t)
                else:
                    np.einsum("...go,go->...g", g[n0:n1], wg[:, :, i], out=t)
                np.add(dst, t, out=dst)

    _over_batch(work, N, per_image * wg.shape[2])


# ----------------------------------------------------------------------------- Functions


def _channels_last(x: np.ndarray) -> np.ndarray:
    """(N, C, *S) -> (N, *S, C), a view."""
    return np.moveaxis(x, 1, -1)


def _channels_first(x: np.ndarray) -> np.ndarray:
    """(N, *S, C) -> (N, C, *S), a view."""
    return np.moveaxis(x, -1, 1)


class ConvNd(Function):
    """N-D convolution (a cross-correlation, as in PyTorch) with stride, padding, dilation, groups.

    y[n, o, i] = b[o] + sum_{c, a} w[o, c, a] * xp[n, g*Cg + c, i*s + a*d],   g = o // Og
    db[o] = sum_{n, i} gy[n, o, i]
    dW    = xcorr(Xp, dY)               -> cols^T @ dY
    dX    = full conv(dY, flipped W)    -> xcorr of the padded dY with the flipped kernel at
                                           stride 1, col2im(dY @ W^T) otherwise

    Shape:
        x (N, C, *S) or unbatched (C, *S), weight (O, C/G, *K), bias (O,) or None
        -> y (N, O, *So) (or (O, *So)),  So = floor((S + lo + hi - d*(K - 1) - 1) / s) + 1
    `padding` is a (lo, hi) pair per spatial dim.
    """

    @staticmethod
    def forward(ctx: Context, x, weight, bias, *, stride, padding, dilation, groups):
        nd = weight.ndim - 2
        x_in = x
        batched = x.ndim == nd + 2
        if not batched:
            x = x[None]
        K = weight.shape[2:]
        S = x.shape[2:]
        So = tuple(conv_output_size(S[i], K[i], stride[i], padding[i], dilation[i])
                   for i in range(nd))
        xp = pad_crop(_channels_last(x), padding, axis=1)               # (N, *Sp, C)
        wk = _gemm_weight(weight, groups)                                # (G, KK*Cg, Og)
        y = _xcorr(xp, wk, K, stride, dilation, So, bias)                # (N, *So, O)
        # x itself, not its padded copy, is saved (and padded again in backward): then a
        # recorded backward (create_graph) sees x with its history, as torch's saved input
        ctx.save_for_backward(x_in if ctx.needs_input_grad[1] else None,
                              weight if ctx.needs_input_grad[0] else None)
        ctx.cfg = (K, S, stride, padding, dilation, groups, batched)
        y = _channels_first(y)                                           # (N, O, *So) view
        return y if batched else y[0]

    @staticmethod
    def backward(ctx: Context, gy):
        x, weight = ctx.saved
        K, S, stride, padding, dilation, groups, batched = ctx.cfg
        if not batched:
            gy = gy[None]
            x = None if x is None else x[None]
        gy = _contiguous(_channels_last(gy), "gy")                        # (N, *So, O)
        gx = gw = gb = None
        if ctx.needs_input_grad[2]:
            gb = _sum_rows(gy.reshape(-1, gy.shape[-1]))
        if ctx.needs_input_grad[1]:
            xp = pad_crop(_channels_last(x), padding, axis=1)           # (N, *Sp, C)
            gwk = _xcorr_weight_grad(xp, gy, K, stride, dilation, groups)
            C = xp.shape[-1]
            gw = _weight_from_gemm(gwk, (gy.shape[-1], C // groups, *K), groups)
        if ctx.needs_input_grad[0]:
            gx = _xcorr_input_grad(gy, weight, K, stride, dilation, padding, S, groups)
            gx = _channels_first(gx)
            if not batched:
                gx = gx[0]
        return gx, gw, gb

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        # the same three formulas as recorded ops: gx = ConvInputGrad(gy, W),
        # gW = ConvWeightGrad(x, gy), gb = sum of gy over N and space
        x, weight = saved
        K, S, stride, padding, dilation, groups, batched = ctx.cfg
        geo = dict(kernel_size=K, stride=stride, padding=padding, dilation=dilation,
                   groups=groups)
        if not batched:
            gy = gy.unsqueeze(0)
            x = None if x is None else x.unsqueeze(0)
        gx = gw = gb = None
        if ctx.needs_input_grad[2]:
            gb = gy.sum((0, *range(2, gy.ndim)))
        if ctx.needs_input_grad[1]:
            gw = ConvWeightGrad.apply(x, gy, **geo)
        if ctx.needs_input_grad[0]:
            gx = ConvInputGrad.apply(gy, weight, in_size=S, **geo)
            if not batched:
                gx = gx.squeeze(0)
        return gx, gw, gb


def _conv_kw(geo: dict[str, Any]) -> dict[str, Any]:
    """ConvNd's keyword arguments out of a geometry dict (its kernel size comes from w)."""
    return {k: v for k, v in geo.items() if k != "kernel_size"}


class ConvInputGrad(Function):
    """The input gradient of `ConvNd` as an op of its own (for create_graph backward passes):

    gx[n, c, j] = sum_{o, a, i : i*s + a*d - p_lo = j} gy[n, o, i] * w[o, c, a]

    It is bilinear in (gy, w): d/dgy of <ggx, gx> is ConvNd(ggx, w) (the forward conv: the
    input gradient is its adjoint), d/dw is ConvWeightGrad(ggx, gy).

    Shape:
        gy (N, O, *So), w (O, C/G, *K) -> gx (N, C, *in_size)
    """

    @staticmethod
    def forward(ctx: Context, gy, w, *, kernel_size, stride, padding, dilation, groups,
                in_size):
        ctx.save_for_backward(gy if ctx.needs_input_grad[1] else None,
                              w if ctx.needs_input_grad[0] else None)
        ctx.geo = dict(kernel_size=kernel_size, stride=stride, padding=padding,
                       dilation=dilation, groups=groups)
        g = _contiguous(_channels_last(gy))                              # (N, *So, O)
        gx = _xcorr_input_grad(g, w, kernel_size, stride, dilation, padding, in_size, groups)
        return _channels_first(gx)                                       # (N, C, *S)

    @staticmethod
    def backward(ctx: Context, ggx):
        gy, w = ctx.saved
        geo = ctx.geo
        K, stride, padding, dilation, groups = (geo["kernel_size"], geo["stride"],
                                                geo["padding"], geo["dilation"], geo["groups"])
        ggxp = pad_crop(_channels_last(ggx), padding, axis=1)          # (N, *Sp, C)
        g_gy = g_w = None
        if ctx.needs_input_grad[0]:
            So = gy.shape[2:] if gy is not None else tuple(
                conv_output_size(ggx.shape[2 + i], K[i], stride[i], padding[i], dilation[i])
                for i in range(len(K)))
            g_gy = _channels_first(_xcorr(ggxp, _gemm_weight(w, groups), K, stride, dilation,
                                          So))
        if ctx.needs_input_grad[1]:
            gwk = _xcorr_weight_grad(ggxp, _contiguous(_channels_last(gy)), K, stride,
                                     dilation, groups)
            g_w = _weight_from_gemm(gwk, (gy.shape[1], ggx.shape[1] // groups, *K), groups)
        return g_gy, g_w

    @staticmethod
    def backward_graph(ctx: Context, ggx, saved):
        gy, w = saved
        g_gy = ConvNd.apply(ggx, w, None, **_conv_kw(ctx.geo)) if ctx.needs_input_grad[0] else None
        g_w = ConvWeightGrad.apply(ggx, gy, **ctx.geo) if ctx.needs_input_grad[1] else None
        return g_gy, g_w


class ConvWeightGrad(Function):
    """The weight gradient of `ConvNd` as an op of its own (for create_graph backward passes):

    gw[o, c, a] = sum_{n, i} gy[n, o, i] * xp[n, g*Cg + c, i*s + a*d]   (xp: x zero-padded)

    Bilinear in (x, gy): d/dx of <ggw, gw> is ConvInputGrad(gy, ggw), d/dgy is ConvNd(x, ggw).

    Shape:
        x (N, C, *S), gy (N, O, *So) -> gw (O, C/G, *K)
    """

    @staticmethod
    def forward(ctx: Context, x, gy, *, kernel_size, stride, padding, dilation, groups):
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None,
                              gy if ctx.needs_input_grad[0] else None)
        ctx.geo = dict(kernel_size=kernel_size, stride=stride, padding=padding,
                       dilation=dilation, groups=groups)
        ctx.in_size = x.shape[2:]
        xp = pad_crop(_channels_last(x), padding, axis=1)                # (N, *Sp, C)
        gwk = _xcorr_weight_grad(xp, _contiguous(_channels_last(gy)), kernel_size, stride,
                                 dilation, groups)
        return _weight_from_gemm(gwk, (gy.shape[1], x.shape[1] // groups, *kernel_size),
                                 groups)

    @staticmethod
    def backward(ctx: Context, ggw):
        x, gy = ctx.saved
        geo = ctx.geo
        K, stride, padding, dilation, groups = (geo["kernel_size"], geo["stride"],
                                                geo["padding"], geo["dilation"], geo["groups"])
        g_x = g_gy = None
        if ctx.needs_input_grad[0]:
            g = _contiguous(_channels_last(gy))
            g_x = _channels_first(_xcorr_input_grad(g, ggw, K, stride, dilation, padding,
                                                    ctx.in_size, groups))
        if ctx.needs_input_grad[1]:
            xp = pad_crop(_channels_last(x), padding, axis=1)
            So = tuple(conv_output_size(ctx.in_size[i], K[i], stride[i], padding[i],
                                        dilation[i]) for i in range(len(K)))
            g_gy = _channels_first(_xcorr(xp, _gemm_weight(ggw, groups), K, stride, dilation,
                                          So))
        return g_x, g_gy

    @staticmethod
    def backward_graph(ctx: Context, ggw, saved):
        x, gy = saved
        g_x = g_gy = None
        if ctx.needs_input_grad[0]:
            g_x = ConvInputGrad.apply(gy, ggw, in_size=ctx.in_size, **ctx.geo)
        if ctx.needs_input_grad[1]:
            g_gy = ConvNd.apply(x, ggw, None, **_conv_kw(ctx.geo))
        return g_x, g_gy


class ConvTransposeNd(Function):
    """N-D transposed convolution: the adjoint of `ConvNd` with respect to its input.

    Each input pixel scatters a copy of the kernel, scaled by its value, into the output:
    y[n, g*Og + o, i*s + a*d - p] += x[n, g*Cg + c, i] * w[g*Cg + c, o, a],  plus b[o];
    output_padding adds `op` extra rows at the high end of each dim.
    Forward is ConvNd's input gradient (col2im, or the flipped-kernel xcorr at stride 1);
    dX is ConvNd's forward of dY, and dW = xcorr(dY_padded, X).

    Shape:
        x (N, Cin, *S) or (Cin, *S), weight (Cin, Cout/G, *K), bias (Cout,) or None
        -> y (N, Cout, *So),  So = (S - 1)*s - 2p + d*(K - 1) + op + 1
    """

    @staticmethod
    def forward(ctx: Context, x, weight, bias, *, stride, padding, output_padding, dilation,
                groups):
        nd = weight.ndim - 2
        x_in = x
        batched = x.ndim == nd + 2
        if not batched:
            x = x[None]
        K = weight.shape[2:]
        So = tuple(conv_transpose_output_size(x.shape[2 + i], K[i], stride[i], padding[i],
                                              output_padding[i], dilation[i])
                   for i in range(nd))
        # the convolution this is the transpose of maps Cout -> Cin with the same weight, pads
        # (p, p - op) and the same stride/dilation; its padded input is x's full output
        pads = tuple((p, p - op) for p, op in zip(padding, output_padding))
        x_cl = _contiguous(_channels_last(x))                            # (N, *S, Cin)
        y = _xcorr_input_grad(x_cl, weight, K, stride, dilation, pads, So, groups)
        if bias is not None:
            _add_bias(y, bias)
        # x itself is saved (see ConvNd.forward)
        ctx.save_for_backward(x_in if ctx.needs_input_grad[1] else None,
                              weight if ctx.needs_input_grad[0] else None)
        ctx.cfg = (K, stride, pads, dilation, groups, batched, weight.shape)
        y = _channels_first(y)                                           # (N, Cout, *So)
        return y if batched else y[0]

    @staticmethod
    def backward(ctx: Context, gy):
        x, weight = ctx.saved
        K, stride, pads, dilation, groups, batched, w_shape = ctx.cfg
        if not batched:
            gy = gy[None]
            x = None if x is None else x[None]
        gyp = pad_crop(_channels_last(gy), pads, 1, "gy")                # (N, *Sp, Cout)
        gx = gw = gb = None
        if ctx.needs_input_grad[2]:
            gb = _sum_rows(_contiguous(_channels_last(gy)).reshape(-1, gy.shape[1]))
        if ctx.needs_input_grad[1]:
            x_cl = _contiguous(_channels_last(x))                        # (N, *S, Cin)
            gwk = _xcorr_weight_grad(gyp, x_cl, K, stride, dilation, groups)
            gw = _weight_from_gemm(gwk, w_shape, groups)
        if ctx.needs_input_grad[0]:
            S = tuple(conv_output_size(gyp.shape[1 + i], K[i], stride[i], 0, dilation[i])
                      for i in range(len(K)))
            gx = _channels_first(_xcorr(gyp, _gemm_weight(weight, groups), K, stride,
                                        dilation, S))
            if not batched:
                gx = gx[0]
        return gx, gw, gb

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        # y = ConvInputGrad(x, W) of the convolution with pads (p, p - op): gx = ConvNd(gy, W),
        # gW = ConvWeightGrad(gy, x), gb = sum of gy
        x, weight = saved
        K, stride, pads, dilation, groups, batched, w_shape = ctx.cfg
        geo = dict(kernel_size=K, stride=stride, padding=pads, dilation=dilation,
                   groups=groups)
        if not batched:
            gy = gy.unsqueeze(0)
            x = None if x is None else x.unsqueeze(0)
        gx = gw = gb = None
        if ctx.needs_input_grad[2]:
            gb = gy.sum((0, *range(2, gy.ndim)))
        if ctx.needs_input_grad[1]:
            gw = ConvWeightGrad.apply(gy, x, **geo)
        if ctx.needs_input_grad[0]:
            gx = ConvNd.apply(gy, weight, None, **_conv_kw(geo))
            if not batched:
                gx = gx.squeeze(0)
        return gx, gw, gb


class Unfold(Function):
    """Extract sliding local blocks (im2col in PyTorch's layout).

    y[n, (c, a), l] = xp[n, c, i*s + a*d]   with l the flat index of window position i

    Shape:
        x (N, C, *S) or (C, *S) -> y (N, C*KK, L) or (C*KK, L),  L = prod(So)
    """

    @staticmethod
    def forward(ctx: Context, x, *, kernel_size, dilation, padding, stride):
        nd = len(kernel_size)
        batched = x.ndim == nd + 2
        if not batched:
            x = x[None]
        N, C, S = x.shape[0], x.shape[1], x.shape[2:]
        So = tuple(conv_output_size(S[i], kernel_size[i], stride[i], padding[i], dilation[i])
                   for i in range(nd))
        xp = pad_crop(x, [(p, p) for p in padding], axis=2)              # (N, C, *Sp)
        cols = np.empty((N, C, *kernel_size, *So), dtype=x.dtype)        # (N, C, *K, *So)
        perm = (0, 1, *range(2 + nd, 2 + 2 * nd), *range(2, 2 + nd))
        im2col(xp, kernel_size, stride, dilation, So, 2, out=cols.transpose(perm))
        ctx.cfg = (xp.shape, S, So, kernel_size, dilation, padding, stride, batched)
        y = cols.reshape(N, C * math.prod(kernel_size), math.prod(So))
        return y if batched else y[0]

    @staticmethod
    def backward(ctx: Context, gy):
        xp_shape, S, So, K, dilation, padding, stride, batched = ctx.cfg
        if not batched:
            gy = gy[None]
        nd = len(K)
        gxp = np.zeros(xp_shape, dtype=gy.dtype)
        g = gy.reshape(xp_shape[0], xp_shape[1], *K, *So)
        perm = (0, 1, *range(2 + nd, 2 + 2 * nd), *range(2, 2 + nd))
        col2im(g.transpose(perm), gxp, K, stride, dilation, So, 2)
        gx = pad_crop(gxp, [(-p, -p) for p in padding], axis=2)
        return (gx if batched else gx[0]),

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        # unfold is linear and fold is its adjoint: dx = fold(dy), recorded (any order)
        _, S, _, K, dilation, padding, stride, _ = ctx.cfg
        return (Fold.apply(gy, output_size=S, kernel_size=K, dilation=dilation,
                           padding=padding, stride=stride),)


class Fold(Function):
    """Combine sliding local blocks into a tensor, summing overlaps (col2im; Unfold's adjoint).

    y[n, c, j] = sum over (a, i) with i*s + a*d - p = j of x[n, (c, a), l(i)]

    Shape:
        x (N, C*KK, L) or (C*KK, L) -> y (N, C, *output_size) or (C, *output_size)
    """

    @staticmethod
    def forward(ctx: Context, x, *, output_size, kernel_size, dilation, padding, stride):
        nd = len(kernel_size)
        batched = x.ndim == 3
        if not batched:
            x = x[None]
        N, CK = x.shape[0], x.shape[1]
        C = CK // math.prod(kernel_size)
        Sp = tuple(o + 2 * p for o, p in zip(output_size, padding))
        So = tuple(conv_output_size(output_size[i], kernel_size[i], stride[i], padding[i],
                                    dilation[i]) for i in range(nd))
        ypad = np.zeros((N, C, *Sp), dtype=x.dtype)
        cols = x.reshape(N, C, *kernel_size, *So)
        perm = (0, 1, *range(2 + nd, 2 + 2 * nd), *range(2, 2 + nd))
        col2im(cols.transpose(perm), ypad, kernel_size, stride, dilation, So, 2)
        ctx.cfg = (kernel_size, dilation, padding, stride, So, batched)
        y = pad_crop(ypad, [(-p, -p) for p in padding], axis=2)
        return y if batched else y[0]

    @staticmethod
    def backward(ctx: Context, gy):
        K, dilation, padding, stride, So, batched = ctx.cfg
        if not batched:
            gy = gy[None]
        nd = len(K)
        N, C = gy.shape[:2]
        gyp = pad_crop(gy, [(p, p) for p in padding], axis=2)
        cols = np.empty((N, C, *K, *So), dtype=gy.dtype)
        perm = (0, 1, *range(2 + nd, 2 + 2 * nd), *range(2, 2 + nd))
        im2col(gyp, K, stride, dilation, So, 2, out=cols.transpose(perm))
        gx = cols.reshape(N, C * math.prod(K), math.prod(So))
        return (gx if batched else gx[0]),

    @staticmethod
    def backward_graph(ctx: Context, gy, saved):
        # fold is linear and unfold is its adjoint: dx = unfold(dy), recorded (any order)
        K, dilation, padding, stride, _, _ = ctx.cfg
        return (Unfold.apply(gy, kernel_size=K, dilation=dilation, padding=padding,
                             stride=stride),)
