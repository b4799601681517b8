"""What `numcnn compress` does around a compression method, as library functions: count a
model's parameters and non-zeros, measure its file size, MACs, accuracy and latency, draw
calibration images, and fine-tune it on the run's training data.

    model, config = numcnn.train.run.load_run("runs/x/best.safetensors")
    before = measure(model, config)                      # Stats: params, non-zeros, bytes ...
    small = numcnn.compress.prune_channels(model, example_input(config), 0.3)
    fine_tune(small, config, epochs=1)
    after = measure(small, config)

Axes: N batch, C channels, H height, W width; images are normalised as the run trained them.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from numcnn import random as nc_random
from numcnn.autograd.grad_mode import no_grad
from numcnn.data import DataLoader, Subset
from numcnn.io import save as save_float
from numcnn.nn.module import Module
from numcnn.optim import Adam
from numcnn.tensor import Tensor
from numcnn.train.run import first_n, input_shape, load_split, load_test_set, pipeline
from numcnn.train.trainer import Callback, Trainer, evaluate

__all__ = ["Stats", "count_parameters", "file_bytes", "model_macs", "nonzero_model_macs",
           "test_accuracy",
           "latency", "measure", "example_input", "calibration_batches", "fine_tune"]

# state-dict entries that are bookkeeping, not weights
_NOT_WEIGHTS = ("running_mean", "running_var", "num_batches_tracked", "_mask", "scale",
                "zero_point", "scales", "zero_points")


@dataclass
class Stats:
    """A model's cost and quality, as `numcnn compress` prints them."""

    parameters: int            # weight values (masked ones included; packed bits unpacked)
    nonzero: int               # of those, the ones that are not zero
    bytes: int                 # size of its checkpoint file (weights + run configuration)
    macs: int                  # multiply-adds of one image (numcnn.analysis.summary)
    accuracy: float            # on the run's test split (nan when not measured)
    nonzero_macs: int = -1     # of the MACs, those whose weight is not zero (-1: not measured)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_parameters(model: Module) -> tuple[int, int]:
    """(weight values, non-zero weight values) of `model`.

    Counted over its state dict without the bookkeeping entries (BN running statistics, prune
    masks, quantisation scales and zero points). A pruned weight `w_orig` counts as
    `w_orig * w_mask` (numcnn.compress.sparse.effective_state). A compression method may define
    `count_parameters(model)` in its module (numcnn.compress.checkpoint.method_module) for
    layouts this rule cannot read, e.g. int8 layers.
    """
    from numcnn.compress.checkpoint import method_module, method_of
    from numcnn.compress.sparse import effective_state

    method = method_of(model)
    own = getattr(method_module(method), "count_parameters", None) if method else None
    if own is not None:
        total, nonzero = own(model)
        return int(total), int(nonzero)
    total = nonzero = 0
    for key, arr in effective_state(model).items():          # masks applied, then dropped
        if key.endswith(_NOT_WEIGHTS) or arr.dtype == np.bool_:
            continue
        total += arr.size
        nonzero += int(np.count_nonzero(arr))
    return total, nonzero


def file_bytes(model: Module, config: dict[str, Any] | None = None) -> int:
    """Bytes of the file `model` is saved as, with the run configuration `config`: a
    compressed model through numcnn.compress.save, a float one as {"model": state_dict,
    "run": config} through numcnn.save."""
    from numcnn.compress.checkpoint import method_of, save

    extra: dict[str, Any] = {} if config is None else {"run": config}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.safetensors")
        if method_of(model) is None:
            save_float({"model": model.state_dict(), **extra}, path)
        else:
            save(model, path, **extra)
        return os.path.getsize(path)


def example_input(config: dict[str, Any], batch: int = 1) -> Tensor:
    """Zeros of the run's input shape (batch, C, H, W), float32."""
    return Tensor(np.zeros((batch, *input_shape(config)), np.float32))


def model_macs(model: Module, config: dict[str, Any]) -> int:
    """Multiply-adds of one image through `model` (numcnn.analysis.summary's count)."""
    from numcnn.analysis import summary

    return int(summary(model, input_shape(config)).macs)


def nonzero_model_macs(model: Module, config: dict[str, Any], macs: int | None = None) -> int:
    """Of `model_macs`, those that multiply a non-zero weight: the convolutions' and Linear
    layers' MACs counted by numcnn.compress.sparse.nonzero_macs (what a sparse kernel would
    do), the other layers' as they are. Equals `macs` for a model without zero weights."""
    from numcnn.compress.sparse import nonzero_macs

    total = model_macs(model, config) if macs is None else macs
    dense = nonzero_macs(model, input_shape(config))
    return int(total - dense["macs"] + dense["nonzero_macs"])


def test_accuracy(model: Module, config: dict[str, Any], limit: int | None = None,
                  root: str | None = None, batch_size: int = 256) -> float:
    """Accuracy of `model` on the first `limit` images (default all) of the run's test split."""
    loader = DataLoader(first_n(load_test_set(config, root=root), limit), batch_size=batch_size)
    return float(evaluate(model, loader, num_classes=len(config["classes"])).accuracy)


def latency(model: Module, x: Tensor, repeats: int = 20, warmup: int = 2) -> float:
    """Median seconds of one `model(x)` in eval mode under no_grad, over `repeats` calls."""
    was_training = model.training
    model.eval()
    times = []
    try:
        with no_grad():
            for i in range(warmup + repeats):
                start = time.perf_counter()
                model(x)
                if i >= warmup:
                    times.append(time.perf_counter() - start)
    finally:
        model.train(was_training)
    return float(np.median(times))


def measure(model: Module, config: dict[str, Any], accuracy: bool = True,
            limit: int | None = None, root: str | None = None) -> Stats:
    """`Stats` of `model`: parameters, non-zeros, bytes on disk, MACs and (with `accuracy`)
    test accuracy on the first `limit` test images."""
    total, nonzero = count_parameters(model)
    acc = test_accuracy(model, config, limit, root) if accuracy else math.nan
    macs = model_macs(model, config)
    return Stats(total, nonzero, file_bytes(model, config), macs, acc,
                 nonzero_model_macs(model, config, macs))


def _training_subset(config: dict[str, Any], n: int | None, root: str | None,
                     augment: bool) -> Any:
    """The first `n` images of a seeded permutation of the run's training split (all when
    None), transformed as in training."""
    train = load_split(config, True, root)
    train.transform = pipeline(config["data"], config["mean"], config["std"], augment)
    order = np.random.default_rng(int(config.get("seed", 0))).permutation(len(train))
    return Subset(train, order[:n].tolist() if n is not None else order.tolist())


def calibration_batches(config: dict[str, Any], n: int = 512, batch_size: int = 64,
                        root: str | None = None, progress: bool = False
                        ) -> Iterator[Tensor]:
    """`n` training images (a seeded choice, normalised, not augmented) in batches: the
    inputs an int8 observer sees (torch.ao calibrates on a few hundred)."""
    if n <= 0:
        raise ValueError(f"n must be a positive number of images, got {n}")
    loader = DataLoader(_training_subset(config, n, root, augment=False), batch_size=batch_size)
    batches: Any = loader
    if progress:
        from tqdm import tqdm

        batches = tqdm(loader, desc="calibrating", unit="batch", leave=False)
    for x, _ in batches:
        yield x


def fine_tune(model: Module, config: dict[str, Any], epochs: int, lr: float = 1e-4,
              root: str | None = None, limit: int | None = None, batch_size: int | None = None,
              progress: bool | str = True, callbacks: Sequence[Callback] = ()
              ) -> list[dict[str, Any]]:
    """Train `model` for `epochs` epochs on the run's training split (its augmentation and
    normalisation; the first `limit` images of a seeded permutation) with Adam at a constant
    `lr`, as a compression step's retraining (Han et al. 2015: prune, then retrain).

    Args:
        callbacks: numcnn.train.Callback objects for the Trainer (e.g. one printing each epoch).

    Returns:
        The Trainer's history (one row per epoch: train_loss, train_acc, seconds ...).
    """
    if epochs <= 0:
        return []
    nc_random.manual_seed(int(config.get("seed", 0)))
    subset = _training_subset(config, limit, root, bool(config.get("augment")))
    loader = DataLoader(subset, batch_size=batch_size or int(config.get("batch_size", 128)),
                        shuffle=True, generator=int(config.get("seed", 0)))
    params = [p for p in model.parameters() if p.requires_grad]
    trainer = Trainer(model, Adam(params, lr=lr), train_loader=loader, epochs=epochs,
                      monitor="train_loss", num_classes=len(config["classes"]),
                      progress="always" if progress == "always" else bool(progress),
                      callbacks=callbacks)
    history = trainer.fit()
    model.eval()
    return history
