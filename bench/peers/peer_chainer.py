"""Peer: Chainer (NumPy on the CPU), in its own venv (made on first use, pinned below).

    python bench/peers/peer_chainer.py [--warmup 2] [--train-reps 10] [--infer-reps 5] [--setup]

Chainer 7 needs `numpy<2`, and its sdist needs `setuptools<70` (for pkg_resources) installed
first and built without build isolation. One step: `cleargrads`, forward,
`softmax_cross_entropy`, `backward`, `optimizers.SGD(lr=0.01).update()`. Inference under
`using_config('train', False)` and `no_backprop_mode()`. BatchNormalization with eps 1e-5 and
decay 0.9 (PyTorch's); max pooling with cover_all=False (PyTorch's floor).
"""

from __future__ import annotations

from _common import LR, data, parse_args, report, setup_done, use_venv

INSTALLS = [["numpy==1.26.4", "setuptools==65.5.0", "wheel==0.48.0", "threadpoolctl==3.8.0"],
            ["--no-build-isolation", "chainer==7.8.1"]]


def build(chainer):
    F, L = chainer.functions, chainer.links

    class Net(chainer.Chain):
        def __init__(self) -> None:
            super().__init__()
            with self.init_scope():
                self.conv = chainer.ChainList(
                    L.Convolution2D(1, 32, 3, pad=1), L.Convolution2D(32, 32, 3, pad=1),
                    L.Convolution2D(32, 64, 3, pad=1), L.Convolution2D(64, 64, 3, pad=1))
                self.bn = chainer.ChainList(*(L.BatchNormalization(c, decay=0.9, eps=1e-5)
                                              for c in (32, 32, 64, 64, 512)))
                self.fc1 = L.Linear(64 * 7 * 7, 512)
                self.fc2 = L.Linear(512, 10)

        def forward(self, h):
            for i in (0, 2):  # two blocks
                h = self.bn[i](F.relu(self.conv[i](h)))
                h = self.bn[i + 1](F.relu(self.conv[i + 1](h)))
                h = F.dropout(F.max_pooling_2d(h, 2, cover_all=False), 0.25)
            h = F.dropout(self.bn[4](F.relu(self.fc1(h))), 0.5)  # Linear flattens (N, 3136)
            return self.fc2(h)

    return Net()


def main() -> None:
    use_venv("chainer", INSTALLS)
    args = parse_args()
    import chainer
    import numpy as np

    if args.setup:
        setup_done("Chainer", chainer.__version__)
        return
    np.random.seed(0)  # Chainer's initialisers draw from numpy's global generator
    model = build(chainer)
    opt = chainer.optimizers.SGD(lr=LR)
    opt.setup(model)
    x, y, xi = data()
    y = y.astype(np.int32)  # softmax_cross_entropy wants int32 labels

    def step() -> float:
        with chainer.using_config("train", True):
            model.cleargrads()
            loss = chainer.functions.softmax_cross_entropy(model(x), y)
            loss.backward()
            opt.update()
        return float(loss.array)

    def infer() -> object:
        with chainer.using_config("train", False), chainer.no_backprop_mode():
            return model(xi).array

    report("Chainer", chainer.__version__, sum(p.size for p in model.params()), step, infer, args,
           versions={"numpy": np.__version__},
           threads=f"NumPy's BLAS; chainer.config.use_ideep = {chainer.config.use_ideep!r}",
           notes="eager, NumPy im2col + GEMM")


if __name__ == "__main__":
    main()
