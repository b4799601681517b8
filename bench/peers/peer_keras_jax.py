"""Peer: Keras 3 on JAX (XLA on the CPU), in its own venv (made on first use, pinned below).

    python bench/peers/peer_keras_jax.py [--warmup 2] [--train-reps 10] [--infer-reps 5] [--setup]

The way Keras is meant to be used: `model.compile(jit_compile=True)` (XLA), one step is
`train_on_batch` (forward, sparse cross-entropy from logits, backward, SGD lr 0.01, all in one
jit-compiled function), inference is `predict_on_batch` (jit-compiled, training=False). The
first calls compile: they are the warm-up. Keras's default layout, channels-last (N,28,28,1).
BatchNormalization with momentum 0.9 and epsilon 1e-5, which are PyTorch's 0.1 and 1e-5.
"""

from __future__ import annotations

import os

from _common import LR, data, parse_args, report, setup_done, use_venv

INSTALLS = [["keras==3.15.1", "jax==0.10.2", "jaxlib==0.10.2", "numpy==2.4.6",
             "threadpoolctl==3.8.0"]]


def build(keras):
    L = keras.layers

    def bn():
        return L.BatchNormalization(momentum=0.9, epsilon=1e-5)

    def block(c: int) -> list:
        return [L.Conv2D(c, 3, padding="same"), L.ReLU(), bn(),
                L.Conv2D(c, 3, padding="same"), L.ReLU(), bn(), L.MaxPooling2D(2), L.Dropout(0.25)]

    return keras.Sequential([
        keras.Input((28, 28, 1)), *block(32), *block(64),
        L.Flatten(), L.Dense(512), L.ReLU(), bn(), L.Dropout(0.5), L.Dense(10),
    ])


def main() -> None:
    use_venv("keras_jax", INSTALLS)
    os.environ["KERAS_BACKEND"] = "jax"
    args = parse_args()
    import jax
    import keras
    import numpy as np

    if args.setup:
        float(jax.numpy.ones(3).sum())
        setup_done("Keras/JAX", keras.__version__)
        return
    keras.utils.set_random_seed(0)
    model = build(keras)
    model.compile(optimizer=keras.optimizers.SGD(LR), jit_compile=True,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y, xi = data()
    x, xi = x.transpose(0, 2, 3, 1).copy(), xi.transpose(0, 2, 3, 1).copy()  # NCHW -> NHWC

    def step() -> float:
        return float(model.train_on_batch(x, y))

    def infer() -> object:
        return np.asarray(model.predict_on_batch(xi))

    params = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    report("Keras/JAX", keras.__version__, params, step, infer, args,
           versions={"jax": jax.__version__, "numpy": np.__version__},
           threads=f"XLA CPU, devices {jax.devices()}, os.cpu_count() = {os.cpu_count()}, "
                   f"XLA_FLAGS = {os.environ.get('XLA_FLAGS', '')!r}",
           notes="train_on_batch / predict_on_batch, jit_compile=True (XLA); NHWC")


if __name__ == "__main__":
    main()
