"""`numcnn export MODEL|CHECKPOINT --onnx FILE` and `numcnn summary FILE.onnx`.

Oracles: onnx.checker on the written file, ONNX Runtime running it on a fresh input (another
batch size than the traced one, through the dynamic axis) against the numcnn model rebuilt
independently (the same seed for a zoo model, `model_from` for a checkpoint), and `numcnn
summary MODEL`'s totals for the summary of the exported file.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from tests.helpers import run_cli as run
from tests.helpers import train_synthetic

import numcnn
import numcnn.models
import numcnn.nn as nn
from numcnn.train.run import input_shape, model_from, read_checkpoint

RTOL, ATOL = 1e-4, 1e-5           # float32, as DESIGN.md


def onnxruntime_output(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def numcnn_output(model: nn.Module, x: np.ndarray) -> np.ndarray:
    model.eval()
    with numcnn.no_grad():
        return model(numcnn.from_numpy(x)).array


def graph_input_dims(path: Path) -> list[object]:
    dims = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    return [d.dim_param or d.dim_value for d in dims]


def total(out: str, what: str) -> int:
    match = re.search(rf"^{what}: ([0-9,]+)", out, re.M)
    assert match, out
    return int(match.group(1).replace(",", ""))


def one_line_error(code: int, err: str, command: str = "export") -> str:
    assert code == 1, err
    err = err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert err.startswith(f"numcnn {command}: error: ")
    return err


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("exportcli") / "run"
    return train_synthetic(out, limit=200, batch_size=64) / "best.safetensors"


# ---------------------------------------------------------------- export

@pytest.mark.parametrize("name", ["lenet5", "resnet20"])
def test_export_zoo_model_runs_in_onnxruntime_like_numcnn(capsys, tmp_path, name):
    path = tmp_path / f"{name}.onnx"
    numcnn.manual_seed(7)
    code, out, err = run(capsys, "export", name, "--onnx", str(path))
    assert code == 0, err
    onnx.checker.check_model(str(path))
    c, h, w = numcnn.models.input_size(name)
    assert graph_input_dims(path) == ["batch", c, h, w]
    assert f"wrote {path} ({path.stat().st_size:,} bytes, opset ai.onnx 17" in out
    assert re.search(rf"^  input +input +\[batch, {c}, {h}, {w}\]  float32$", out, re.M), out
    assert re.search(r"^  output +output +\[batch, 10\]  float32$", out, re.M), out
    # the command's own comparison, and ours on another batch size through the dynamic axis
    printed = re.search(r"max \|onnxruntime - numcnn\| = (\S+) on a random input of shape "
                        rf"\[1, {c}, {h}, {w}\]", out)
    assert printed and float(printed.group(1)) < 1e-3, out
    numcnn.manual_seed(7)                          # the same seed: the same initial weights
    model = numcnn.models.MODELS[name]()
    x = np.random.default_rng(1).standard_normal((3, c, h, w)).astype(np.float32)
    np.testing.assert_allclose(onnxruntime_output(path, x), numcnn_output(model, x),
                               rtol=RTOL, atol=ATOL)


def test_export_checkpoint_with_static_batch(capsys, tmp_path, ckpt):
    path = tmp_path / "run.onnx"
    code, out, err = run(capsys, "export", str(ckpt), "--onnx", str(path), "--static-batch",
                         "--batch-size", "4", "--opset", "13")
    assert code == 0, err
    onnx.checker.check_model(str(path))
    assert "opset ai.onnx 13" in out
    model, config = model_from(read_checkpoint(str(ckpt)))
    size = input_shape(config)                                  # lenet5 on 28x28 shapes
    assert graph_input_dims(path) == [4, *size]
    x = np.random.default_rng(2).standard_normal((4, *size)).astype(np.float32)
    np.testing.assert_allclose(onnxruntime_output(path, x), numcnn_output(model, x),
                               rtol=RTOL, atol=ATOL)
    with pytest.raises(Exception, match="(?i)dimension|shape"):   # the batch is fixed
        onnxruntime_output(path, x[:2])


def test_export_pruned_checkpoint(capsys, tmp_path, ckpt):
    pruned = tmp_path / "pruned"
    code, _, err = run(capsys, "compress", "prune", "--sparsity", "0.5", "--steps", "1",
                       "--epochs", "0", str(ckpt), "--out", str(pruned), "--test-limit", "32")
    assert code == 0, err
    [saved] = list(pruned.glob("*.safetensors"))
    path = tmp_path / "pruned.onnx"
    code, out, err = run(capsys, "export", str(saved), "--onnx", str(path))
    assert code == 0, err
    model, config = model_from(read_checkpoint(str(saved)))
    x = np.random.default_rng(3).standard_normal((2, *input_shape(config))).astype(np.float32)
    np.testing.assert_allclose(onnxruntime_output(path, x), numcnn_output(model, x),
                               rtol=RTOL, atol=ATOL)
    weights = [onnx.numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer
               if t.name.endswith("weight")]
    zeros = sum(int((w == 0).sum()) for w in weights) / sum(w.size for w in weights)
    assert 0.45 < zeros < 0.55                       # the pruned zeros travel in the file


def test_export_says_when_onnxruntime_is_missing(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)        # import fails
    path = tmp_path / "m.onnx"
    code, out, err = run(capsys, "export", "lenet5", "--onnx", str(path))
    assert code == 0, err
    assert "onnxruntime not installed: not compared" in out
    onnx.checker.check_model(str(path))


def test_export_error_lines(capsys, tmp_path, monkeypatch, ckpt):
    path = str(tmp_path / "m.onnx")
    err = one_line_error(*run(capsys, "export", "no_such_net", "--onnx", path)[::2])
    assert "unknown model 'no_such_net'; known models:" in err
    err = one_line_error(*run(capsys, "export", "lenet5", "--onnx",
                              str(tmp_path / "nowhere" / "m.onnx"))[::2])
    assert "does not exist" in err
    err = one_line_error(*run(capsys, "export", str(ckpt), "--onnx", path,
                              "--num-classes", "3")[::2])
    assert "--input-size and --num-classes apply to zoo models" in err
    code, _, err = run(capsys, "export", "lenet5")                # --onnx is required
    assert code == 2 and "--onnx" in err
    monkeypatch.setitem(sys.modules, "onnx", None)
    err = one_line_error(*run(capsys, "export", "lenet5", "--onnx", path)[::2])
    assert "pip install 'numcnn[onnx]'" in err
    assert not Path(path).exists()


class Cumulative(nn.Module):
    """A model whose forward uses an op with no ONNX form in numcnn's exporter."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.fc = nn.Linear(4, num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1)[:, :4]).cumsum(1)


def test_export_of_an_unsupported_op_is_the_exporters_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(numcnn.models.MODELS, "cumulative", Cumulative)
    monkeypatch.setitem(numcnn.models.INPUT_SIZES, "cumulative", (1, 2, 2))
    path = tmp_path / "m.onnx"
    err = one_line_error(*run(capsys, "export", "cumulative", "--onnx", str(path))[::2])
    assert "UnsupportedOperatorError" in err and "cumsum" in err.lower()
    assert not path.exists()


# ---------------------------------------------------------------- summary FILE.onnx

@pytest.mark.parametrize("name", ["lenet5", "resnet20"])
def test_summary_of_an_exported_file_has_the_models_totals(capsys, tmp_path, name):
    path = tmp_path / f"{name}.onnx"
    assert run(capsys, "export", name, "--onnx", str(path))[0] == 0
    code, from_zoo, err = run(capsys, "summary", name)
    assert code == 0, err
    code, from_file, err = run(capsys, "summary", str(path), "--batch-size", "2")
    assert code == 0, err
    c, h, w = numcnn.models.input_size(name)
    assert f"{path} on input [2, {c}, {h}, {w}]" in from_file
    assert total(from_file, "Total params") == total(from_zoo, "Total params")
    code, from_file_1, err = run(capsys, "summary", str(path))
    assert code == 0, err
    assert total(from_file_1, "MACs") == total(from_zoo, "MACs")
    assert total(from_file, "MACs") == 2 * total(from_zoo, "MACs")    # a batch of two


@pytest.mark.filterwarnings("ignore::DeprecationWarning")       # torch's TorchScript exporter
def test_summary_of_a_file_exported_by_torch(capsys, tmp_path):
    import torch

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(64, 5))
    path = tmp_path / "torch.onnx"
    torch.onnx.export(net, torch.zeros(1, 3, 8, 8), str(path), dynamo=False,
                      input_names=["x"], dynamic_axes={"x": {0: "n"}})
    code, out, err = run(capsys, "summary", str(path), "--batch-size", "3")
    assert code == 0, err
    assert "on input [3, 3, 8, 8]" in out
    assert total(out, "Total params") == sum(p.numel() for p in net.parameters())
    # conv: C_out H W C_in k k per image; linear: in x out per image
    assert total(out, "MACs") == 3 * (4 * 8 * 8 * 3 * 3 * 3 + 64 * 5)


def dynamic_conv_file(path: Path) -> Path:
    """y = Conv(x, w) with x of shape [N, 3, H, W]: H and W dynamic."""
    w = onnx.numpy_helper.from_array(np.ones((2, 3, 3, 3), np.float32), "w")
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Conv", ["x", "w"], ["y"])], "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["N", 2, "A", "B"])],
        [w])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    onnx.save_model(model, str(path))
    return path


def test_summary_of_dynamic_axes_needs_input_size(capsys, tmp_path):
    path = dynamic_conv_file(tmp_path / "conv.onnx")
    err = one_line_error(*run(capsys, "summary", str(path))[::2], command="summary")
    assert "input 'x' is [N, 3, H, W], with dynamic axes other than the batch: give them " \
           "with --input-size C H W" in err
    code, out, err = run(capsys, "summary", str(path), "--input-size", "3", "8", "10")
    assert code == 0, err
    assert "on input [1, 3, 8, 10]" in out
    assert total(out, "Total params") == 54
    assert total(out, "MACs") == 2 * 6 * 8 * 27                  # C_out H_out W_out C_in k k
    err = one_line_error(*run(capsys, "summary", str(path), "--input-size", "1", "8", "8")[::2],
                         command="summary")
    assert "--input-size 1 8 8 disagrees" in err


def test_summary_of_a_static_batch_file_and_a_hostile_one(capsys, tmp_path):
    path = tmp_path / "static.onnx"
    assert run(capsys, "export", "lenet5", "--onnx", str(path), "--static-batch",
               "--batch-size", "3")[0] == 0
    code, out, err = run(capsys, "summary", str(path))
    assert code == 0, err
    assert "on input [3, 1, 32, 32]" in out
    err = one_line_error(*run(capsys, "summary", str(path), "--batch-size", "2")[::2],
                         command="summary")
    assert "a fixed batch of 3; --batch-size 2 disagrees" in err
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(path.read_bytes()[:200])
    err = one_line_error(*run(capsys, "summary", str(broken))[::2], command="summary")
    assert "OnnxFileError" in err and str(broken) in err
