"""numcnn.viz.evaluation against independent oracles: the confusion matrix against a plain
loop and the Trainer's `evaluate`, the PCA against an eigen-decomposition of the covariance and
torch's SVD, the hooked features and the misclassified images against the same network in
PyTorch, read_history on a metrics.csv the real Trainer wrote; the plots' figures and the
errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import numcnn
import numcnn.nn as nn
from numcnn.data import DataLoader, SyntheticShapes, TensorDataset
from numcnn.optim import Adam
from numcnn.train import Trainer, evaluate
from numcnn.viz import evaluation as ev

matplotlib = pytest.importorskip("matplotlib")
CLASSES = ("circle", "square", "cross")


# ----------------------------------------------------------------------------- fixtures
def tiny_cnn() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(6 * 4 * 4, len(CLASSES)),
    )


def torch_twin(model: nn.Sequential) -> torch.nn.Sequential:
    """The same network in PyTorch, with the numcnn weights and buffers, in eval mode."""
    twin = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 6, 3, padding=1), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Dropout(0.5),
        torch.nn.Linear(6 * 4 * 4, len(CLASSES)),
    )
    twin.load_state_dict({k: torch.from_numpy(np.array(v.array))
                          for k, v in model.state_dict().items()})
    return twin.eval()


def trained_model() -> nn.Sequential:
    """A tiny CNN with non-trivial BatchNorm statistics (a few train-mode forwards)."""
    numcnn.manual_seed(0)
    model = tiny_cnn()
    data = SyntheticShapes(64, size=16, classes=CLASSES, seed=3)
    with numcnn.no_grad():
        for x, _ in DataLoader(data, batch_size=32):
            model(x)
    return model


def val_loader(n: int = 70, batch_size: int = 16) -> DataLoader:
    return DataLoader(SyntheticShapes(n, size=16, classes=CLASSES, seed=5), batch_size=batch_size)


def loader_arrays(loader: DataLoader) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = zip(*[(np.asarray(x.array), np.asarray(y.array)) for x, y in loader])
    return np.concatenate(xs), np.concatenate(ys)


@pytest.fixture(autouse=True)
def _close_figures() -> Any:
    yield
    import matplotlib.pyplot as plt
    plt.close("all")


# ----------------------------------------------------------------------------- confusion matrix
def test_confusion_matrix_against_a_plain_loop() -> None:
    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 5, 300), rng.integers(0, 5, 300)
    expected = np.zeros((5, 5), dtype=np.int64)
    for a, b in zip(t, p):
        expected[a, b] += 1
    cm = ev.confusion_matrix(t, p, 5)
    assert cm.dtype == np.int64 and cm.shape == (5, 5)
    np.testing.assert_array_equal(cm, expected)
    # Tensors, lists and a class nobody predicts (the last row and column stay 0)
    cm7 = ev.confusion_matrix(numcnn.tensor(t), list(p), 7)
    np.testing.assert_array_equal(cm7[:5, :5], expected)
    assert cm7[5:].sum() == 0 and cm7[:, 5:].sum() == 0
    assert ev.confusion_matrix([], [], 3).sum() == 0


def test_confusion_matrix_matches_the_trainers_evaluate() -> None:
    model, loader = trained_model(), val_loader()
    x, y = loader_arrays(loader)
    pred = torch_twin(model)(torch.from_numpy(x)).argmax(1).numpy()
    result = evaluate(model, loader, num_classes=3)
    np.testing.assert_array_equal(ev.confusion_matrix(y, pred, 3), result.confusion_matrix)


@pytest.mark.parametrize("args, message", [
    (([0, 1], [0], 2), r"same length, got 2 and 1"),
    (([0, 2], [0, 1], 2), r"y_true holds class 2, outside \[0, 2\)"),
    (([0, 1], [-1, 1], 2), r"y_pred holds class -1, outside \[0, 2\)"),
    (([[0, 1]], [[0, 1]], 2), r"y_true must be 1-D"),
    (([0.5, 1], [0, 1], 2), r"integer class indices"),
    (([0, 1], [0, 1], 0), r"num_classes must be a positive int, got 0"),
    (([0, 1], [0, 1], 2.0), r"num_classes must be a positive int"),
])
def test_confusion_matrix_errors(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ev.confusion_matrix(*args)


def test_plot_confusion_writes_counts_fractions_and_recall() -> None:
    cm = np.array([[8, 2, 0], [1, 3, 0], [0, 0, 0]])
    fig = ev.plot_confusion(cm, class_names=["circle", "square", "cross"])
    assert isinstance(fig, matplotlib.figure.Figure)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert "8\n80%" in texts and "3\n75%" in texts and "0\n0%" in texts and len(texts) == 9
    assert [t.get_text() for t in ax.get_yticklabels()] == ["circle", "square", "cross"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["circle", "square", "cross"]
    assert "accuracy 78.57% of 14 samples" in ax.get_title()
    (recall,) = ax.child_axes                                        # per-class recall, right
    assert [t.get_text() for t in recall.get_yticklabels()] == ["80.0%", "75.0%", "n/a"]
    assert recall.get_ylabel() == "accuracy of the class (recall)"
    # the colours are the row fractions
    np.testing.assert_allclose(ax.images[0].get_array(), [[0.8, 0.2, 0], [0.25, 0.75, 0],
                                                          [0, 0, 0]])
    counts = ev.plot_confusion(cm, normalize=False).axes[0]
    assert "8" in [t.get_text() for t in counts.texts]
    np.testing.assert_array_equal(counts.images[0].get_array(), cm)


def test_plot_confusion_errors() -> None:
    with pytest.raises(ValueError, match=r"square \(K, K\) matrix, got shape \(2, 3\)"):
        ev.plot_confusion(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="non-negative"):
        ev.plot_confusion(-np.ones((2, 2)))
    with pytest.raises(ValueError, match="name all 3 classes, got 2"):
        ev.plot_confusion(np.eye(3), class_names=["a", "b"])


# ----------------------------------------------------------------------------- embedding
def pca_by_eigh(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Oracle: eigenvectors of the covariance matrix, the two largest eigenvalues first."""
    xc = x - x.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(xc, rowvar=False))
    order = np.argsort(values)[::-1]
    return xc @ vectors[:, order[:2]], values[order[:2]] / values.sum()


def identity_net(d: int) -> nn.Sequential:
    return nn.Sequential(nn.Identity(), nn.Flatten(), nn.Linear(d, 3)).double()


def test_embedding_2d_is_the_pca_of_the_covariance() -> None:
    rng = np.random.default_rng(1)
    # anisotropic data: well separated eigenvalues so the components are well defined
    x = rng.normal(size=(90, 1, 3, 4)) * np.linspace(3.0, 0.2, 12).reshape(1, 1, 3, 4)
    y = rng.integers(0, 3, 90)
    loader = DataLoader(TensorDataset(x, y), batch_size=32)
    emb = ev.embedding_2d(identity_net(12), loader, "0")
    points, ratio = pca_by_eigh(x.reshape(90, -1))
    assert emb.points.shape == (90, 2) and emb.points.dtype == np.float64
    np.testing.assert_array_equal(emb.labels, y)
    np.testing.assert_allclose(emb.explained_variance_ratio, ratio, rtol=1e-7)
    for i in range(2):                                   # eigenvectors are defined up to sign
        sign = np.sign(points[:, i] @ emb.points[:, i])
        np.testing.assert_allclose(emb.points[:, i], sign * points[:, i], rtol=1e-7, atol=1e-10)


def test_embedding_2d_against_torch_svd_and_its_sign_convention() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 2, 2, 2)) @ np.diag([4.0, 1.0])
    loader = DataLoader(TensorDataset(x, np.zeros(40, np.int64)), batch_size=7)
    emb = ev.embedding_2d(identity_net(8), loader, "1")
    xc = torch.from_numpy(x.reshape(40, -1))
    xc = xc - xc.mean(dim=0)
    _, s, vh = torch.linalg.svd(xc, full_matrices=False)
    axes = vh[:2].numpy()
    lead = axes[np.arange(2), np.abs(axes).argmax(axis=1)]
    axes = axes * np.sign(lead)[:, None]                 # documented: largest loading positive
    np.testing.assert_allclose(emb.points, xc.numpy() @ axes.T, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(emb.explained_variance_ratio, (s[:2] ** 2 / (s ** 2).sum()).numpy(),
                               rtol=1e-7)
    # the projection on an axis whose largest loading is positive: that feature's sign wins
    big = np.abs(axes[0]).argmax()
    assert np.corrcoef(emb.points[:, 0], x.reshape(40, -1)[:, big])[0, 1] > 0


def test_embedding_2d_uses_the_hooked_layer_in_eval_mode() -> None:
    model, loader = trained_model(), val_loader()
    model.train()
    before = {k: np.array(v.array) for k, v in model.state_dict().items()}
    emb = ev.embedding_2d(model, loader, "6", limit=50)         # the second max-pool
    assert model.training and all(m.training for m in model.modules())
    for k, v in model.state_dict().items():                     # BatchNorm stats untouched
        np.testing.assert_array_equal(v.array, before[k])
    x, y = loader_arrays(loader)
    with torch.no_grad():
        feats = torch_twin(model)[:7](torch.from_numpy(x[:50])).reshape(50, -1).double().numpy()
    points, ratio = pca_by_eigh(feats)
    np.testing.assert_array_equal(emb.labels, y[:50])
    # float32 features: the components agree to float32 accuracy
    np.testing.assert_allclose(emb.explained_variance_ratio, ratio, rtol=1e-4)
    for i in range(2):
        sign = np.sign(points[:, i] @ emb.points[:, i])
        np.testing.assert_allclose(emb.points[:, i], sign * points[:, i], rtol=1e-3, atol=1e-4)


class WithSpareLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.used, self.spare = nn.Flatten(), nn.ReLU()

    def forward(self, x: Any) -> Any:
        return self.used(x)


def test_embedding_2d_small_inputs_and_errors() -> None:
    x = np.arange(6.0).reshape(3, 1, 1, 2)
    emb = ev.embedding_2d(identity_net(2), DataLoader(TensorDataset(x, np.arange(3)),
                                                      batch_size=2), "0")
    # the three points lie on one line: the second component has no variance
    np.testing.assert_allclose(emb.explained_variance_ratio, [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(emb.points[:, 0], [-np.sqrt(8), 0, np.sqrt(8)], rtol=1e-12)
    np.testing.assert_allclose(emb.points[:, 1], 0, atol=1e-12)
    model, loader = trained_model(), val_loader()
    with pytest.raises(ValueError, match=r"no layer 'conv9' in Sequential; layers: 0, 1"):
        ev.embedding_2d(model, loader, "conv9")
    with pytest.raises(ValueError, match="limit must be a positive int or None, got 0"):
        ev.embedding_2d(model, loader, "0", limit=0)
    with pytest.raises(ValueError, match="no images"):
        ev.embedding_2d(model, [], "0")
    with pytest.raises(ValueError, match="did not run"):
        ev.embedding_2d(WithSpareLayer(), [(np.ones((2, 1, 2, 2)), [0, 1])], "spare")
    with pytest.raises(ValueError, match="2 inputs but 3 labels"):
        ev.embedding_2d(model, [(np.ones((2, 1, 16, 16), np.float32), [0, 1, 2])], "0")


def test_plot_embedding_has_one_scatter_per_class_and_a_legend() -> None:
    rng = np.random.default_rng(3)
    emb = ev.Embedding(points=rng.normal(size=(30, 2)), labels=np.repeat([0, 2, 1], 10),
                       explained_variance_ratio=np.array([0.5, 0.25]))
    fig = ev.plot_embedding(emb, class_names=list(CLASSES))
    (ax,) = fig.axes
    assert len(ax.collections) == 3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(CLASSES)
    np.testing.assert_array_equal(ax.collections[2].get_offsets(), emb.points[10:20])
    assert "50.0%" in ax.get_xlabel() and "25.0%" in ax.get_ylabel()
    with pytest.raises(ValueError, match="must be an Embedding"):
        ev.plot_embedding(emb.points)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name all 3 classes"):
        ev.plot_embedding(emb, class_names=["a"])


# ----------------------------------------------------------------------------- history
def run_trainer(out: Path, validate: bool) -> list[dict[str, Any]]:
    numcnn.manual_seed(0)
    data = SyntheticShapes(64, size=16, classes=CLASSES, seed=1)
    model = tiny_cnn()
    trainer = Trainer(model, Adam(model.parameters(), lr=0.01),
                      train_loader=DataLoader(data, batch_size=32),
                      val_loader=DataLoader(data, batch_size=32) if validate else None,
                      monitor="val_accuracy" if validate else "train_loss",
                      out_dir=out, epochs=2, progress=False)
    return trainer.fit()


@pytest.mark.parametrize("validate", [True, False])
def test_read_history_of_a_real_trainer_run(tmp_path: Path, validate: bool) -> None:
    rows = run_trainer(tmp_path, validate)
    history = ev.read_history(tmp_path / "metrics.csv")
    assert list(history) == ["epoch", "step", "train_loss", "train_acc", "val_loss", "val_acc",
                             "lr", "seconds"]
    np.testing.assert_array_equal(history["epoch"], [1, 2])
    np.testing.assert_array_equal(history["step"], [2, 4])
    assert history["epoch"].dtype == np.int64 and history["train_loss"].dtype == np.float64
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"):
        np.testing.assert_array_equal(history[key], [row[key] for row in rows])
    assert np.all(np.isnan(history["val_loss"])) != validate

    fig = ev.plot_history(tmp_path / "metrics.csv")
    loss_ax, acc_ax = fig.axes
    assert (loss_ax.get_title(), acc_ax.get_title()) == ("loss", "accuracy")
    assert len(loss_ax.get_lines()) == (2 if validate else 1)
    np.testing.assert_array_equal(loss_ax.get_lines()[0].get_ydata(), history["train_loss"])
    np.testing.assert_array_equal(acc_ax.get_lines()[0].get_xdata(), [1, 2])
    if validate:
        np.testing.assert_array_equal(acc_ax.get_lines()[1].get_ydata(), history["val_acc"])


def test_read_history_empty_cells_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,step,train_loss,train_acc,val_loss,val_acc,lr,seconds\n"
                    "1,5,0.9,0.5,,,0.1,2.5\n")
    history = ev.read_history(path)
    assert np.isnan(history["val_acc"][0]) and history["train_acc"][0] == 0.5
    assert len(ev.plot_history(history).axes[0].get_lines()) == 1
    with pytest.raises(ValueError, match=r"missing.csv: no such metrics file"):
        ev.read_history(tmp_path / "missing.csv")
    for text, message in [("", "no 'epoch' column"), ("a,b\n1,2\n", "no 'epoch' column"),
                          ("epoch,train_loss\n1,0.5,3\n", "line 2 has 3 fields, the header 2"),
                          ("epoch,train_loss\n1,abc\n", "'train_loss': 'abc' is not a number"),
                          ("epoch,train_loss\n,0.5\n", "'epoch' has an empty value")]:
        path.write_text(text)
        with pytest.raises(ValueError, match=f"metrics.csv: .*{message}"):
            ev.read_history(path)
    with pytest.raises(ValueError, match="metrics.csv path or a dict"):
        ev.plot_history(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs 'epoch' and 'train_loss'"):
        ev.plot_history({"epoch": [1]})


# ----------------------------------------------------------------------------- misclassified
def test_misclassified_against_torch() -> None:
    model, loader = trained_model(), val_loader()
    model.train()
    x, y = loader_arrays(loader)
    with torch.no_grad():
        prob = torch.softmax(torch_twin(model)(torch.from_numpy(x)).double(), dim=1).numpy()
    pred = prob.argmax(axis=1)
    wrong = np.flatnonzero(pred != y)
    assert 0 < len(wrong) < len(y)                       # an untrained net gets some right
    result = ev.misclassified(model, loader)
    assert model.training
    np.testing.assert_array_equal(result.index, wrong)
    np.testing.assert_array_equal(result.true, y[wrong])
    np.testing.assert_array_equal(result.predicted, pred[wrong])
    np.testing.assert_allclose(result.probability, prob[wrong, pred[wrong]], rtol=1e-4)
    np.testing.assert_array_equal(result.images, x[wrong])
    assert result.true.dtype == result.index.dtype == np.int64

    first = ev.misclassified(model, loader, limit=3)
    np.testing.assert_array_equal(first.index, wrong[:3])
    assert first.images.shape == (3, 1, 16, 16)


def test_misclassified_none_and_errors() -> None:
    net = nn.Sequential(nn.Flatten(), nn.Linear(2, 2))
    net[1].weight.array[...] = np.eye(2)
    net[1].bias.array[...] = 0
    x = np.array([[[[2.0, 0.0]]], [[[0.0, 1.0]]]], dtype=np.float32)
    none = ev.misclassified(net, [(x, [0, 1])])
    assert none.images.shape == (0, 1, 1, 2) and none.index.shape == (0,)
    wrong = ev.misclassified(net, [(x, [1, 1])])
    np.testing.assert_allclose(wrong.probability, [np.exp(2) / (np.exp(2) + 1)], rtol=1e-6)
    with pytest.raises(ValueError, match="no images"):
        ev.misclassified(net, [])
    with pytest.raises(ValueError, match=r"logits \(N, K\) for the 3 labels"):
        ev.misclassified(net, [(x, [0, 1, 1])])
    with pytest.raises(ValueError, match="limit must be a positive int"):
        ev.misclassified(net, [(x, [0, 1])], limit=-1)
    with pytest.raises(ValueError, match=r"\(inputs, labels\) batches"):
        ev.misclassified(net, [x])


def test_plot_misclassified_grid_titles_and_unnormalisation() -> None:
    images = np.full((5, 3, 4, 4), -1.0)                 # normalised: (0.25 - 0.5) / 0.25
    result = ev.Misclassified(images=images, true=np.array([0, 1, 2, 0, 1]),
                              predicted=np.array([1, 2, 0, 2, 0]),
                              probability=np.array([0.9, 0.5, 0.61, 0.7, 0.8]),
                              index=np.arange(5))
    fig = ev.plot_misclassified(result, class_names=list(CLASSES), max_images=4,
                                mean=[0.5, 0.5, 0.5], std=0.25)
    assert len(fig.axes) == 4
    assert fig.axes[0].get_title() == "circle / square (0.90)"
    assert fig.axes[2].get_title() == "cross / circle (0.61)"
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), 0.25)    # x * std + mean
    grey = ev.Misclassified(images=np.linspace(-2, 2, 16).reshape(1, 1, 4, 4),
                            true=np.array([1]), predicted=np.array([0]),
                            probability=np.array([0.5]), index=np.array([7]))
    shown = ev.plot_misclassified(grey).axes[0]
    assert shown.get_title() == "1 / 0 (0.50)"
    np.testing.assert_allclose(shown.images[0].get_array().ravel(), np.linspace(0, 1, 16))
    empty = ev.Misclassified(np.zeros((0, 1, 4, 4)), *(np.zeros(0, np.int64),) * 4)
    assert ev.plot_misclassified(empty).axes[0].get_title() == "no misclassified images"
    with pytest.raises(ValueError, match="max_images must be a positive int"):
        ev.plot_misclassified(result, max_images=0)
    with pytest.raises(ValueError, match=r"mean must be a number or 3 numbers"):
        ev.plot_misclassified(result, mean=[0.5, 0.5])
    with pytest.raises(ValueError, match="must be a Misclassified"):
        ev.plot_misclassified(images)  # type: ignore[arg-type]


def test_public_names_resolve() -> None:
    import numcnn.viz as viz
    assert viz.confusion_matrix is ev.confusion_matrix and viz.Embedding is ev.Embedding
    assert viz.plot_misclassified is ev.plot_misclassified
