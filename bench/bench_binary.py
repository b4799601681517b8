"""Benchmark (not a test): packed XNOR + popcount arithmetic vs the float32 GEMM of the same
shape, and binary layers / models vs their float versions (numcnn.compress.binary).

    python bench/bench_binary.py [--repeats 7] [--batch 256]

1. GEMMs.  C = A B^T for A (M, K), B (N, K): the float32 `np.matmul` (OpenBLAS) against
   `binary_matmul` on the same shape with A and B as sign bits packed 64 per word
   (n - 2 popcount(a XOR b), np.bitwise_count); "pack A" is the cost of turning a float
   (M, K) matrix into its packed sign bits (what a layer pays per call for its input).
   Shapes: the conv-like 12544 x 576 x 64 (a 3x3 conv 64 -> 64 on 14x14, batch 64), the
   seed Fashion-MNIST CNN's binarised layers as GEMMs (im2col rows M = N*H*W), batch 16
   for the convs and --batch for the dense layer.
2. Layers.  The seed CNN's binarised layers as modules in eval mode under no_grad: float
   Conv2d/Linear, BinaryConv2d/BinaryLinear (packed weights unpacked to +-1 for a float
   GEMM on every call) and XNORConv2d/XNORLinear (packed XNOR + popcount, including the
   input's packing, im2col on bytes, the padding correction and the K scaling).
3. The whole seed CNN (fmnist_cnn, random weights), float vs binary weights vs XNOR, at
   batch 1 and --batch.

Times are the median of --repeats calls after one warm-up; ratio = float time / binary
time (above 1: the binary version is faster).
"""

from __future__ import annotations

import argparse

import numpy as np

import numcnn
import numcnn.nn as nn
from _timing import median_ms  # noqa: E402  (bench/ is on sys.path)
from numcnn.compress import binary as B
from numcnn.models import fmnist_cnn


def gemms(repeats: int, batch: int) -> None:
    shapes = [
        ("conv 3x3 64->64, 14x14, N=64", 64 * 14 * 14, 9 * 64, 64),
        ("seed features.3 (32->32, 28x28, N=16)", 16 * 28 * 28, 9 * 32, 32),
        ("seed features.8 (32->64, 14x14, N=16)", 16 * 14 * 14, 9 * 32, 64),
        ("seed features.11 (64->64, 14x14, N=16)", 16 * 14 * 14, 9 * 64, 64),
        (f"seed classifier.1 (3136->512, N={batch})", batch, 3136, 512),
    ]
    rng = np.random.default_rng(0)
    print(f"{'GEMM  M x K x N':48} {'float32':>9} {'popcount':>9} {'pack A':>8} {'ratio':>6}")
    for name, M, K, N in shapes:
        a = rng.standard_normal((M, K), dtype=np.float32)
        b = rng.standard_normal((N, K), dtype=np.float32)
        bt = np.ascontiguousarray(b.T)
        pa, pb = B.pack_rows(B.sign_bits(a)), B.pack_rows(B.sign_bits(b))
        sa, sb = np.where(a >= 0, 1.0, -1.0), np.where(b >= 0, 1.0, -1.0)   # sign(0) = +1
        assert np.array_equal(B.binary_matmul(pa, pb, K), (sa @ sb.T).astype(np.int64))
        t_float = median_ms(lambda a=a, bt=bt: np.matmul(a, bt), repeats)
        t_bin = median_ms(lambda pa=pa, pb=pb, K=K: B.binary_matmul(pa, pb, K), repeats)
        t_pack = median_ms(lambda a=a: B.pack_rows(B.sign_bits(a)), repeats)
        print(f"{name + f'  {M}x{K}x{N}':48} {t_float:8.2f}m {t_bin:8.2f}m {t_pack:7.2f}m "
              f"{t_float / t_bin:6.2f}")


def layers(repeats: int, batch: int) -> None:
    rng = np.random.default_rng(1)
    cases = [
        ("features.3 conv 32->32 28x28", nn.Conv2d(32, 32, 3, padding=1), (16, 32, 28, 28)),
        ("features.8 conv 32->64 14x14", nn.Conv2d(32, 64, 3, padding=1), (16, 32, 14, 14)),
        ("features.11 conv 64->64 14x14", nn.Conv2d(64, 64, 3, padding=1), (16, 64, 14, 14)),
        ("classifier.1 linear 3136->512", nn.Linear(3136, 512), (batch, 3136)),
    ]
    print(f"\n{'layer (eval, no_grad)':36} {'input':>16} {'float':>9} {'BWN':>9} {'XNOR':>9} "
          f"{'f/BWN':>6} {'f/XNOR':>6}")
    for name, layer, shape in cases:
        x = numcnn.tensor(rng.standard_normal(shape, dtype=np.float32))
        kind = "Conv2d" if isinstance(layer, nn.Conv2d) else "Linear"
        bwn = B.LAYERS["Binary" + kind].from_float(layer).eval()  # type: ignore[attr-defined]
        xnor = B.LAYERS["XNOR" + kind].from_float(layer).eval()  # type: ignore[attr-defined]
        layer.eval()
        with numcnn.no_grad():
            t = [median_ms(lambda m=m, x=x: m(x), repeats) for m in (layer, bwn, xnor)]
        print(f"{name:36} {'x'.join(map(str, shape)):>16} {t[0]:8.2f}m {t[1]:8.2f}m "
              f"{t[2]:8.2f}m {t[0] / t[1]:6.2f} {t[0] / t[2]:6.2f}")


def models(repeats: int, batch: int) -> None:
    numcnn.manual_seed(0)
    base = fmnist_cnn().eval()
    variants = {"float": base, "binary weights": B.binarize(base, "weights").eval(),
                "XNOR": B.binarize(base, "xnor").eval()}
    rng = np.random.default_rng(2)
    print(f"\n{'seed CNN (eval, no_grad)':24} {'batch 1':>9} {f'batch {batch}':>10}")
    for name, model in variants.items():
        row = []
        for n in (1, batch):
            x = numcnn.tensor(rng.standard_normal((n, 1, 28, 28), dtype=np.float32))
            with numcnn.no_grad():
                row.append(median_ms(lambda model=model, x=x: model(x), repeats))
        print(f"{name:24} {row[0]:8.2f}m {row[1]:9.2f}m")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    print(f"numpy {np.__version__}; times in ms (median of {args.repeats})")
    gemms(args.repeats, args.batch)
    layers(args.repeats, args.batch)
    models(args.repeats, args.batch)


if __name__ == "__main__":
    main()
