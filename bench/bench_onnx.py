"""Inference time of zoo models three ways in the same run: numcnn, the same model exported and
read back by numcnn.onnx.load, and ONNX Runtime on the exported file (medians of 5 calls).

    python bench/bench_onnx.py
"""

from __future__ import annotations

import io

import numpy as np
import onnxruntime as ort

import numcnn
import numcnn.onnx
from _timing import median_ms  # noqa: E402  (bench/ is on sys.path)

CASES = [("resnet18", (8, 3, 224, 224)), ("fmnist_cnn", (1000, 1, 28, 28))]


def bench(name: str, shape: tuple[int, ...]) -> None:
    model = numcnn.models.get_model(name).eval()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    buf = io.BytesIO()
    numcnn.onnx.export(model, numcnn.from_numpy(x[:1]), buf,
                       dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    loaded = numcnn.onnx.load(buf.getvalue())
    with numcnn.no_grad():
        t_numcnn = median_ms(lambda: model(numcnn.from_numpy(x)), 5)
        t_loaded = median_ms(lambda: loaded(numcnn.from_numpy(x)), 5)
    t_ort = median_ms(lambda: session.run(None, {"input": x}), 5)
    print(f"{name} {list(shape)}: numcnn {t_numcnn:.0f} ms, numcnn.onnx.load "
          f"{t_loaded:.0f} ms, onnxruntime {t_ort:.0f} ms "
          f"(onnxruntime / numcnn = {t_ort / t_numcnn:.2f})")


if __name__ == "__main__":
    for case in CASES:
        bench(*case)
