"""int8 post-training quantisation of a trained run: accuracy and CPU latency vs float, and the
integer GEMM choice (float64 BLAS vs NumPy's int64 matmul vs float32 BLAS).

    .venv/bin/python bench/bench_int8.py [RUN_CHECKPOINT] [--calib 512] [--test N]

Calibrates `quantize_static` on the first --calib training images (minmax and histogram
observers), evaluates float and int8 on the test set, and times batch 1 and batch 256.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import numcnn
from numcnn.compress.quantize import int8
from numcnn.train import run


def _batches(dataset, n: int, size: int = 256):
    for lo in range(0, n, size):
        items = [dataset[i] for i in range(lo, min(n, lo + size))]
        yield (np.stack([np.asarray(x.array if hasattr(x, "array") else x) for x, _ in items]),
               np.array([int(y) for _, y in items]))


def _accuracy(model, dataset, n: int) -> float:
    hits = 0
    with numcnn.no_grad():
        for x, y in _batches(dataset, n):
            hits += int((model(numcnn.Tensor(x)).array.argmax(1) == y).sum())
    return hits / n


def _latency(model, x: np.ndarray, repeat: int) -> float:
    t = numcnn.Tensor(x)
    with numcnn.no_grad():
        model(t)
        start = time.perf_counter()
        for _ in range(repeat):
            model(t)
    return (time.perf_counter() - start) / repeat


def _gemm_choice() -> None:
    """One conv-shaped GEMM (the 32->32 3x3 layer at batch 32: 25088 x 288 @ 288 x 32)."""
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, (25088, 288))
    b = rng.integers(-128, 128, (288, 32))
    exact = a @ b
    for name, x, w in (("int64 matmul", a, b), ("float64 BLAS", a.astype(np.float64),
                       b.astype(np.float64)), ("float32 BLAS", a.astype(np.float32),
                       b.astype(np.float32))):
        x @ w
        start = time.perf_counter()
        for _ in range(3):
            y = x @ w
        ms = (time.perf_counter() - start) / 3 * 1e3
        print(f"  {name:13s} {ms:8.1f} ms   exact: {bool(np.array_equal(y, exact))}")


def _torch_int8(q):
    """torch's quantised modules holding numcnn's int8 model (None without torch)."""
    try:
        import torch
    except ImportError:
        return None
    nnq, nniq = torch.ao.nn.quantized, torch.ao.nn.intrinsic.quantized

    class BatchNorm(torch.nn.Module):
        """quantized::batch_norm1d/2d(_relu): torch has no eager module for the 1-d one."""

        def __init__(self, layer):
            super().__init__()
            self.args = [torch.from_numpy(getattr(layer, k).array) for k in
                         ("weight", "bias", "running_mean", "running_var")]
            self.eps, self.qp = layer.eps, int8._qp(layer)

        def forward(self, x):
            name = f"batch_norm{'2d' if x.dim() == 4 else '1d'}{'_relu' if self.relu else ''}"
            return getattr(torch.ops.quantized, name)(x, *self.args, self.eps, *self.qp)

    def qweight(layer):
        s = layer.weight_scale.array
        w = layer.weight.array.astype(np.float32) * s.reshape((-1,) + (1,) * (layer.weight.ndim
                                                                             - 1))
        return torch.quantize_per_channel(torch.from_numpy(w),
                                          torch.from_numpy(s.astype(np.float64)),
                                          torch.zeros(len(s), dtype=torch.int64), 0, torch.qint8)

    def convert(layer):
        if isinstance(layer, int8.Quantize):
            return nnq.Quantize(*int8._qp(layer), torch.quint8)
        if isinstance(layer, int8.DeQuantize):
            return nnq.DeQuantize()
        if isinstance(layer, int8.QuantizedConv2d):
            o, c, kh, kw = layer.weight.shape
            m = (nniq.ConvReLU2d if layer.relu else nnq.Conv2d)(
                c * layer.groups, o, (kh, kw), layer.stride, [p[0] for p in layer.padding],
                layer.dilation, layer.groups)
        elif isinstance(layer, int8.QuantizedLinear):
            m = (nniq.LinearReLU if layer.relu else nnq.Linear)(layer.weight.shape[1],
                                                                layer.weight.shape[0])
        elif isinstance(layer, int8.QuantizedBatchNorm):
            m = BatchNorm(layer)
            m.relu = layer.relu
            return m
        elif isinstance(layer, numcnn.nn.MaxPool2d):
            return torch.nn.MaxPool2d(layer.kernel_size, layer.stride, layer.padding)
        elif isinstance(layer, numcnn.nn.Flatten):
            return torch.nn.Flatten()
        elif isinstance(layer, numcnn.nn.Dropout):
            return torch.nn.Identity()
        else:
            raise ValueError(f"no torch module for {type(layer).__name__} in this bench")
        m.set_weight_bias(qweight(layer), torch.from_numpy(layer.bias.array))
        m.scale, m.zero_point = int8._qp(layer)
        return m

    return torch.nn.Sequential(*[convert(layer) for layer in q]).eval()


def _against_torch(q, test, n: int, xs: dict[int, np.ndarray]) -> None:
    """Predictions and latency of torch's fbgemm int8 model holding the same integers."""
    tm = _torch_int8(q)
    if tm is None:
        print("  (torch not installed: no comparison with torch's int8 model)")
        return
    import torch
    old = torch.backends.quantized.engine
    torch.backends.quantized.engine = "fbgemm"
    try:
        differ = 0
        with torch.no_grad(), numcnn.no_grad():
            for x, _ in _batches(test, n):
                ours = q(numcnn.Tensor(x)).array.argmax(1)
                differ += int((tm(torch.from_numpy(x)).numpy().argmax(1) != ours).sum())
            print(f"  torch fbgemm int8: {differ} of {n} predictions differ from numcnn's")
            for b, x in xs.items():
                t = torch.from_numpy(x)
                tm(t)
                start = time.perf_counter()
                for _ in range(20 if b == 1 else 3):
                    tm(t)
                ms = (time.perf_counter() - start) / (20 if b == 1 else 3) * 1e3
                print(f"  batch {b:3d}: torch int8 {ms:8.2f} ms")
    finally:
        torch.backends.quantized.engine = old


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", nargs="?", default="/work/runs/default/best.safetensors")
    p.add_argument("--calib", type=int, default=512)
    p.add_argument("--test", type=int, default=10000)
    args = p.parse_args()
    model, config = run.load_run(args.checkpoint)
    test = run.load_test_set(config)
    train = run.load_split(config, True)
    train.transform = test.transform
    calib = [x for x, _ in _batches(train, args.calib)]
    n = min(args.test, len(test))
    acc_f = _accuracy(model, test, n)
    print(f"float: test accuracy {acc_f:.4f} on {n} images")
    xs = {1: calib[0][:1], 256: calib[0][:256]}
    lat_f = {b: _latency(model, x, 20 if b == 1 else 3) for b, x in xs.items()}
    for observer in ("minmax", "histogram"):
        start = time.perf_counter()
        q = int8.quantize_static(model, calib, observer=observer)
        took = time.perf_counter() - start
        acc_q = _accuracy(q, test, n)
        lat_q = {b: _latency(q, x, 20 if b == 1 else 3) for b, x in xs.items()}
        print(f"int8 ({observer}, {args.calib} calibration images, {took:.1f} s): accuracy "
              f"{acc_q:.4f} ({100 * (acc_q - acc_f):+.2f} points)")
        for b in xs:
            print(f"  batch {b:3d}: float {lat_f[b] * 1e3:8.2f} ms, int8 {lat_q[b] * 1e3:8.2f} ms"
                  f" ({lat_q[b] / lat_f[b]:.2f}x)")
        _against_torch(q, test, n, xs)
    print("integer GEMM 25088x288 @ 288x32:")
    _gemm_choice()


if __name__ == "__main__":
    main()
