"""`write_report`: one self-contained HTML page for a run of `numcnn train`.

The page holds the run's settings, its learning curves, the test accuracy with the confusion
matrix and per-class accuracy, a grid of misclassified test images, the first layer's filters,
feature maps and Grad-CAM overlays of a few test images (of different classes), and the model
summary table. Every picture is a PNG inlined as a `data:` URI and the only style is an inline
<style>, so the file can be mailed or archived alone and opening it fetches nothing; it has no
script. The layout is one column of at most 960 px whose pictures shrink to the window and whose
wide tables scroll inside their own box, so it reads on a phone (~390 px) as on a desktop.

    numcnn report runs/fmnist-cnn-20260101-120000      # or: numcnn train ... --report
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from numcnn._atomic import atomic_write
from numcnn.tensor import Tensor
from numcnn.viz._common import conv_layer_names

__all__ = ["write_report", "conv_layer_names", "figure_png"]

_CONFIG_MAX_BYTES = 1 << 20                  # config.json is a few kB; refuse anything huge


def figure_png(fig: Any, dpi: int = 100) -> bytes:
    """A matplotlib figure as PNG bytes; the figure is closed (freed) afterwards."""
    from numcnn.viz._common import pyplot

    try:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
        return buf.getvalue()
    finally:
        pyplot().close(fig)


# ----------------------------------------------------------------------------- HTML pieces
_STYLE = """
*{box-sizing:border-box}
body{margin:0;padding:0 12px;font:16px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;
color:#1d1d1f;background:#fff}
main{max-width:960px;margin:0 auto;padding-bottom:2em}
h1{font-size:1.5em;margin:.8em 0 .2em}
h2{font-size:1.2em;margin:1.6em 0 .4em;border-bottom:1px solid #ddd;padding-bottom:.2em}
p,li,td,h1{overflow-wrap:anywhere}
td:first-child,th{white-space:nowrap}
img{display:block;max-width:100%;height:auto;margin:.4em 0}
nav{display:flex;flex-wrap:wrap;gap:.2em 1em;font-size:.95em}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.9em;margin:.4em 0}
th,td{border:1px solid #d0d0d0;padding:.15em .5em;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{font-size:12px;line-height:1.3;margin:.4em 0}
.note{color:#555;font-size:.9em}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{_esc(alt)}">'


def _figure(fig: Any, alt: str) -> str:
    return _img(figure_png(fig), alt)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[int] = ()
           ) -> str:
    """An HTML table (escaped), in a box that scrolls sideways when the window is narrow."""
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{_esc(v)}</td>' if i in numeric else
                         f"<td>{_esc(v)}</td>" for i, v in enumerate(row)) + "</tr>"
        for row in rows)
    return f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>'


def _value_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, sort_keys=True)
    return "none" if value is None else str(value)


def _number_text(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{int(value)}" if value.is_integer() and abs(value) < 1e15 else f"{value:.4g}"


def _settings_table(settings: dict[str, Any]) -> str:
    return _table(("setting", "value"), [(k, _value_text(v)) for k, v in settings.items()])


def _page(title: str, sections: list[tuple[str, str, str]], intro: str) -> str:
    nav = "".join(f'<a href="#{sid}">{_esc(head)}</a>' for sid, head, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{_esc(head)}</h2>{content}</section>'
                   for sid, head, content in sections)
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_esc(title)}</title><style>{_STYLE}</style></head>"
            f"<body><main><h1>{_esc(title)}</h1>{intro}<nav>{nav}</nav>{body}</main>"
            "</body></html>\n")


# ----------------------------------------------------------------------------- the run
class _Run:
    """What the sections need: the model rebuilt from the checkpoint, the run's settings, and
    the test split read as `numcnn eval` reads it."""

    def __init__(self, run_dir: Path, checkpoint: Path, root: str | None,
                 limit: int | None) -> None:
        from numcnn.train.run import (
            first_n,
            input_shape,
            load_test_set,
            model_from,
            read_checkpoint,
        )

        self.run_dir, self.checkpoint = run_dir, checkpoint
        ckpt = read_checkpoint(checkpoint)
        self.model, self.config = model_from(ckpt)
        self.epoch = ckpt.get("epoch")
        self.classes = [str(c) for c in self.config["classes"]]
        self.input_size = input_shape(self.config)
        self.test = load_test_set(self.config, root=root)
        self.subset = first_n(self.test, limit)
        self.n_test = len(self.subset)
        self.whole = self.n_test == len(self.test)

    def loader(self, batch_size: int = 256) -> Any:
        from numcnn.data import DataLoader

        return DataLoader(self.subset, batch_size=batch_size)

    def images(self, indices: np.ndarray) -> tuple[Tensor, np.ndarray, np.ndarray]:
        """Test images `indices`: the normalised batch, the pixels for drawing, the labels."""
        from numcnn.train.run import pick_images

        return pick_images(self.test, self.config, indices)

    def one_per_class(self, count: int) -> np.ndarray:
        """`count` test indices (among the evaluated ones): the first image of each class in
        turn, then the following images."""
        targets = np.asarray(self.test.targets)[:self.n_test].astype(np.int64)
        _, first = np.unique(targets, return_index=True)
        chosen = [int(i) for i in np.sort(first)[:count]]
        taken = set(chosen)
        rest = [i for i in range(min(self.n_test, 2 * count)) if i not in taken]
        return np.asarray(chosen + rest[:count - len(chosen)], dtype=np.int64)


def _read_config_json(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / "config.json"
    if not path.is_file() or path.stat().st_size > _CONFIG_MAX_BYTES:
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


# ----------------------------------------------------------------------------- sections
def _settings_section(run: _Run) -> str:
    parts = [f"<p>Checkpoint <code>{_esc(run.checkpoint.name)}</code>"
             + ("" if run.epoch is None else f", written after epoch {_esc(run.epoch)}")
             + ". The run's configuration, as stored in the checkpoint:</p>",
             _settings_table(run.config)]
    trainer = _read_config_json(run.run_dir)
    if trainer is not None:
        shown = {k: v for k, v in trainer.items() if k != "config"}   # "config" = the above
        parts += ["<p>The trainer's settings (config.json):</p>", _settings_table(shown)]
    else:
        parts.append('<p class="note">No readable config.json in the run directory.</p>')
    return "".join(parts)


def _curves_section(run: _Run) -> str:
    from numcnn.viz.evaluation import plot_history, read_history

    path = run.run_dir / "metrics.csv"
    if not path.is_file():
        return '<p class="note">No metrics.csv in the run directory.</p>'
    history = read_history(path)
    if len(history.get("epoch", ())) == 0:
        return '<p class="note">metrics.csv has no finished epoch yet.</p>'
    rows = [(k, _number_text(float(v[-1]))) for k, v in history.items()]
    return (_figure(plot_history(history), "loss and accuracy per epoch")
            + "<p>The last epoch's row of metrics.csv:</p>" + _table(("column", "value"), rows,
                                                                     numeric=(1,)))


def _test_section(run: _Run) -> str:
    from numcnn.train.trainer import evaluate
    from numcnn.viz.evaluation import plot_confusion

    r = evaluate(run.model, run.loader(), num_classes=len(run.classes))
    scope = ("the whole test split" if run.whole
             else f"the first {run.n_test} of the {len(run.test)} images of the test split")
    support = r.confusion_matrix.sum(axis=1)
    rows = [(k, name, "n/a" if math.isnan(acc) else f"{acc:.4f}", int(n))
            for k, (name, acc, n) in enumerate(zip(run.classes, r.per_class_accuracy,
                                                    support))]
    return (f"<p>Accuracy <b>{r.accuracy:.4f}</b>, mean cross-entropy loss {r.loss:.4f}, on "
            f"{_esc(scope)} of {_esc(run.config['data'])} ({r.num_samples} images).</p>"
            + _figure(plot_confusion(r.confusion_matrix, run.classes, normalize=True),
                      "confusion matrix, rows true class, columns predicted")
            + "<p>Per-class accuracy (recall): the share of each class's images predicted "
              "as that class.</p>"
            + _table(("#", "class", "accuracy", "images"), rows, numeric=(0, 2, 3)))


def _misclassified_section(run: _Run, count: int = 25) -> str:
    from numcnn.viz.evaluation import misclassified, plot_misclassified

    result = misclassified(run.model, run.loader(64), limit=count)   # small batches: stops early
    if len(result.true) == 0:
        return f"<p>No test image of the {run.n_test} is misclassified.</p>"
    fig = plot_misclassified(result, run.classes, max_images=count, mean=run.config["mean"],
                             std=run.config["std"])
    return (f"<p>The first {len(result.true)} misclassified test images, titled true / "
            f"predicted (probability of the prediction).</p>"
            + _figure(fig, "misclassified test images"))


def _no_conv(run: _Run) -> str:
    return (f'<p class="note">{_esc(type(run.model).__name__)} has no convolution layer: '
            f"nothing to show here.</p>")


def _filters_section(run: _Run) -> str:
    from numcnn.viz.features import plot_filters

    names = conv_layer_names(run.model)
    if not names:
        return _no_conv(run)
    layer = dict(run.model.named_modules())[names[0]]
    return (f"<p>The kernels of <code>{_esc(names[0])}</code>, the first convolution layer, "
            f"all scaled together (grey is 0).</p>"
            + _figure(plot_filters(layer), f"filters of {names[0]}"))


def _feature_maps_section(run: _Run, indices: np.ndarray) -> str:
    from numcnn.viz.features import feature_maps, plot_feature_maps

    if not conv_layer_names(run.model):
        return _no_conv(run)
    x, _, labels = run.images(indices)
    maps = feature_maps(run.model, x)
    parts = [f"<p>The outputs of the convolution and pooling layers ({_esc(', '.join(maps))}) "
             f"for {len(indices)} test image(s), at most 16 channels per layer.</p>"]
    for i, (index, label) in enumerate(zip(indices, labels)):
        fig = plot_feature_maps(maps, index=i, max_channels=16)
        parts.append(f"<p>Test image {int(index)} (class {_esc(run.classes[label])}):</p>"
                     + _figure(fig, f"feature maps of test image {int(index)}"))
    return "".join(parts)


def _grad_cam_section(run: _Run, indices: np.ndarray) -> str:
    from numcnn.viz._common import eval_scores
    from numcnn.viz.attribution import grad_cam, plot_grad_cam

    names = conv_layer_names(run.model)
    if not names:
        return _no_conv(run)
    x, pixels, labels = run.images(indices)
    cams = grad_cam(run.model, x, names[-1])                     # for the predicted class
    predicted = eval_scores(run.model, x).argmax(axis=1)
    titles = [f"#{int(i)} true {run.classes[t]}, predicted {run.classes[p]}"
              for i, t, p in zip(indices, labels, predicted)]
    return (f"<p>Grad-CAM (Selvaraju et al. 2017) of <code>{_esc(names[-1])}</code>, the last "
            f"convolution layer, for the predicted class of {len(indices)} test images of "
            f"different classes: ReLU(sum_k a_k A^k) with a_k the spatial mean of d score / "
            f"d A^k.</p>" + _figure(plot_grad_cam(pixels, cams, titles=titles),
                                     "Grad-CAM heat maps over test images"))


def _summary_section(run: _Run) -> str:
    from numcnn.analysis import summary

    table = str(summary(run.model, run.input_size))
    return (f"<p>{_esc(run.config['model'])} on input {_esc(list(run.input_size))} (batch "
            f"1):</p><div class=\"scroll\"><pre>{_esc(table)}</pre></div>")


# ----------------------------------------------------------------------------- the page
def _pick_checkpoint(run_dir: Path, checkpoint: str | os.PathLike[str] | None) -> Path:
    if checkpoint is not None:
        path = Path(checkpoint)
        if not path.is_file():
            raise ValueError(f"checkpoint not found: {path}")
        return path
    for name in ("best.safetensors", "last.safetensors"):
        if (run_dir / name).is_file():
            return run_dir / name
    raise ValueError(f"{run_dir} has neither best.safetensors nor last.safetensors; give "
                     f"checkpoint=")


def write_report(run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None,
                 checkpoint: str | os.PathLike[str] | None = None, num_images: int = 8,
                 limit: int | None = None, root: str | None = None,
                 progress: bool = True) -> Path:
    """Write one self-contained HTML page describing a run of `numcnn train`.

    The page shows the run's settings (the checkpoint's "run" entry and config.json), the
    learning curves of metrics.csv, the test loss and accuracy with the confusion matrix and
    per-class accuracy (`numcnn.train.trainer.evaluate`), up to 25 misclassified test images,
    the first convolution layer's filters, the feature maps of two test images, Grad-CAM
    (Selvaraju et al. 2017) overlays of `num_images` test images of different classes, and the
    model summary table. Pictures are PNGs inlined as data: URIs; nothing is fetched when the
    page is opened. The file is written atomically.

    Args:
        run_dir: the run directory (config.json, metrics.csv, *.safetensors).
        out: the HTML file (default run_dir/report.html).
        checkpoint: the checkpoint to describe (default best.safetensors if present, else
            last.safetensors).
        num_images: test images in the Grad-CAM grid (1..64).
        limit: evaluate only the first `limit` test images (default: the whole test split,
            as `numcnn eval` does; the page says which).
        root: where the dataset's IDX files are (as `numcnn eval --root`).
        progress: show a progress bar on stderr.

    Returns:
        The path of the HTML file.

    Raises:
        ValueError: run_dir is not a directory, has no checkpoint, or a bad num_images/limit.
    """
    from tqdm import tqdm

    run_path = Path(run_dir)
    if not run_path.is_dir():
        raise ValueError(f"run_dir is not a directory: {run_path}")
    if isinstance(num_images, bool) or not isinstance(num_images, int) \
            or not 1 <= num_images <= 64:
        raise ValueError(f"num_images must be an int in 1..64, got {num_images!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or limit < 1):
        raise ValueError(f"limit must be None or a positive int, got {limit!r}")
    target = Path(out) if out is not None else run_path / "report.html"
    if not target.parent.is_dir():
        raise ValueError(f"the folder of the report (out) does not exist: {target.parent}")
    run = _Run(run_path, _pick_checkpoint(run_path, checkpoint), root, limit)
    chosen = run.one_per_class(num_images)
    steps: list[tuple[str, str, Callable[[], str]]] = [
        ("settings", "Settings", lambda: _settings_section(run)),
        ("curves", "Learning curves", lambda: _curves_section(run)),
        ("test", "Test accuracy and confusion matrix", lambda: _test_section(run)),
        ("misclassified", "Misclassified test images", lambda: _misclassified_section(run)),
        ("filters", "First-layer filters", lambda: _filters_section(run)),
        ("feature-maps", "Feature maps", lambda: _feature_maps_section(run, chosen[:2])),
        ("grad-cam", "Grad-CAM", lambda: _grad_cam_section(run, chosen)),
        ("summary", "Model summary", lambda: _summary_section(run)),
    ]
    sections = []
    with tqdm(total=len(steps), desc="report", unit="section", disable=not progress,
              leave=False) as bar:
        for sid, head, make in steps:
            bar.set_postfix_str(sid)
            sections.append((sid, head, make()))
            bar.update()
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    intro = (f'<p class="note">Run directory <code>{_esc(run_path.resolve())}</code>; model '
             f"{_esc(run.config['model'])} on {_esc(run.config['data'])}; written by numcnn "
             f"on {_esc(when)}. This page is one file: its pictures are inlined PNGs.</p>")
    page = _page(f"numcnn run report: {run_path.resolve().name}", sections, intro)
    with atomic_write(target) as f:
        f.write(page.encode("utf-8"))
    return target
