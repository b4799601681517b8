"""`numcnn train/eval/predict` for transfer learning, end to end (in-process, tiny runs).

Oracles: the source run's checkpoint (frozen tensors and batch-norm statistics must come back
bit for bit), the labels the run was actually given (its training Subset, recorded), the
optimizer state written in the checkpoint, the weights served by a local HTTP server (a
torch-written .pth), ImageNet's numbers in ../shared/zoo/torchvision_weights.json, NumPy
softmax averages of the members' logits, and torch's bilinear interpolation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from tests.helpers import run_cli as run

torch = pytest.importorskip("torch")

from tests.models.test_weights import Server, serve_weights, torch_file, torch_preset  # noqa: E402
from tests.models.zoo import random_torchvision_state_dict  # noqa: E402

import numcnn  # noqa: E402
import numcnn.cli.train as cli_train  # noqa: E402
from numcnn.data import Subset  # noqa: E402
from numcnn.models import weights as W  # noqa: E402
from numcnn.train.models import build  # noqa: E402
from numcnn.train.run import load_run, load_test_set, run_pipeline  # noqa: E402

SHARED = Path(__file__).resolve().parents[3] / "shared" / "zoo"
FMNIST = Path("/usr/share/datasets/fashion-mnist")
needs_fmnist = pytest.mark.skipif(not (FMNIST / "train-images-idx3-ubyte.gz").is_file(),
                                  reason="Fashion-MNIST is not installed at " + str(FMNIST))
SYN = ["--data", "synthetic", "--epochs", "1"]


def model_arrays(path: Path) -> dict[str, np.ndarray]:
    return {k: np.asarray(v.numpy() if isinstance(v, numcnn.Tensor) else v)
            for k, v in numcnn.load(path)["model"].items()}


def imagenet_numbers() -> tuple[list[float], list[float]]:
    """mean and std of torchvision's ImageNet presets, read from the shared JSON's text."""
    text = json.loads((SHARED / "torchvision_weights.json").read_text())[
        "shufflenet_v2_x0_5"]["IMAGENET1K_V1"]["transforms"]
    mean = re.search(r"mean=\[([^\]]*)\]", text)
    std = re.search(r"std=\[([^\]]*)\]", text)
    assert mean and std
    return ([float(v) for v in mean.group(1).split(",")],
            [float(v) for v in std.group(1).split(",")])


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ----------------------------------------------------------------------------- source runs
@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """resnet20 trained 1 epoch on 200 synthetic images of classes 0-2."""
    out = tmp_path_factory.mktemp("src") / "run"
    from numcnn.train.cli import main
    assert main(["train", *SYN, "--model", "resnet20", "--classes", "0-2", "--limit", "200",
                 "--batch-size", "50", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def source2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """lenet5 on the same classes (another ensemble member)."""
    out = tmp_path_factory.mktemp("src2") / "run"
    from numcnn.train.cli import main
    assert main(["train", *SYN, "--model", "lenet5", "--classes", "0-2", "--limit", "200",
                 "--batch-size", "50", "--out", str(out)]) == 0
    return out


class RecordingSubset(Subset):
    made: list[Any] = []

    def __init__(self, dataset: Any, indices: Any) -> None:
        super().__init__(dataset, indices)
        RecordingSubset.made.append(self)


# ----------------------------------------------------------------------------- fine-tuning
def test_frozen_backbone_fine_tune(source: Path, tmp_path: Path, capsys: Any,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    RecordingSubset.made = []
    monkeypatch.setattr(cli_train, "Subset", RecordingSubset)
    n = 7
    code, out, err = run(capsys, "train", *SYN, "--model", "resnet20", "--weights",
                         str(source / "best.safetensors"), "--classes", "3,4", "--limit", "200",
                         "--per-class", str(n), "--freeze", "backbone", "--batch-size", "4",
                         "--out", str(tmp_path / "ft"))
    assert code == 0, err
    # the labels the run trained on: exactly n per class, the first n of each class in the
    # seeded permutation (seed 0) of the training split
    seen = RecordingSubset.made[0]
    targets = np.asarray(seen.dataset.targets)
    labels = targets[np.asarray(seen.indices)]
    assert np.bincount(labels, minlength=2).tolist() == [n, n]
    perm = np.random.default_rng(0).permutation(len(targets))
    firsts = {c: [int(i) for i in perm if targets[i] == c][:n] for c in (0, 1)}
    assert sorted(seen.indices) == sorted(firsts[0] + firsts[1])
    assert f": {2 * n} training images" in out

    model = build("resnet20", in_channels=1, num_classes=2)
    body = [k for k, _ in model.named_parameters() if not k.startswith("fc.")]
    bns = sum(isinstance(m, numcnn.nn.BatchNorm2d) for m in model.modules())
    assert f"frozen: {len(body)} parameter tensors under backbone ({bns} batch-norm layers " \
           f"in eval mode)" in out
    assert "head fc: new, (2, 64)" in out

    before = model_arrays(source / "best.safetensors")
    after = model_arrays(tmp_path / "ft" / "last.safetensors")
    assert set(after) == set(before)
    for k in after:                         # weights and running statistics, bit for bit
        if not k.startswith("fc."):
            assert after[k].dtype == before[k].dtype and np.array_equal(after[k], before[k]), k
    assert after["fc.weight"].shape == (2, 64) and before["fc.weight"].shape == (3, 64)
    # the head trained: an identical run with a vanishing learning rate keeps its init
    code, _, err = run(capsys, "train", *SYN, "--model", "resnet20", "--weights",
                       str(source / "best.safetensors"), "--classes", "3,4", "--limit", "200",
                       "--per-class", str(n), "--freeze", "backbone", "--batch-size", "4",
                       "--lr", "1e-30", "--out", str(tmp_path / "still"))
    assert code == 0, err
    init = model_arrays(tmp_path / "still" / "last.safetensors")
    for k in ("fc.weight", "fc.bias"):
        assert not np.array_equal(after[k], init[k]), k
        assert np.abs(after[k] - init[k]).max() < 0.1, k           # Adam: ~lr per step
    # the optimizer held the head only: its state has two entries
    opt = numcnn.load(tmp_path / "ft" / "last.safetensors")["optimizer"]
    assert [len(g["params"]) for g in opt["param_groups"]] == [2]

    # --resume keeps --weights and --freeze
    last = str(tmp_path / "ft" / "last.safetensors")
    code, _, err = run(capsys, "train", "--resume", last, "--freeze", "layer1")
    assert code == 1 and err.count("\n") == 1 and "--freeze" in err, err
    code, _, err = run(capsys, "train", "--resume", last, "--weights",
                       str(tmp_path / "still" / "last.safetensors"))
    assert code == 1 and err.count("\n") == 1 and "--weights" in err, err


def test_head_keep_and_backbone_lr_scale(source: Path, tmp_path: Path, capsys: Any) -> None:
    ckpt = str(source / "best.safetensors")
    code, _, err = run(capsys, "train", *SYN, "--model", "resnet20", "--weights", ckpt,
                       "--classes", "3,4", "--limit", "100", "--head", "keep",
                       "--out", str(tmp_path / "keep"))
    assert code == 1 and err.count("\n") == 1, err
    assert "--head keep" in err and "(3, 64)" in err and "(2, 64)" in err
    assert not (tmp_path / "keep" / "last.safetensors").exists()

    code, _, err = run(capsys, "train", *SYN, "--model", "resnet20", "--weights", ckpt,
                       "--classes", "3,4", "--limit", "100", "--per-class", "3",
                       "--backbone-lr-scale", "0.125", "--lr", "0.004", "--scheduler", "none",
                       "--out", str(tmp_path / "scaled"))
    assert code == 0, err
    opt = numcnn.load(tmp_path / "scaled" / "last.safetensors")["optimizer"]
    groups = opt["param_groups"]
    model = build("resnet20", in_channels=1, num_classes=2)
    n_body = sum(1 for k, _ in model.named_parameters() if not k.startswith("fc."))
    assert [len(g["params"]) for g in groups] == [n_body, 2]
    assert float(groups[0]["lr"]) == pytest.approx(0.004 * 0.125, rel=1e-12)
    assert float(groups[1]["lr"]) == pytest.approx(0.004, rel=1e-12)


# ----------------------------------------------------------------------------- DEFAULT weights
@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], Server]]:
    """shufflenet_v2_x0_5's DEFAULT weights: random torchvision-shaped tensors that torch
    writes, served on 127.0.0.1 under a name carrying their real SHA-256 prefix."""
    state = random_torchvision_state_dict("shufflenet_v2_x0_5", seed=5)
    body = torch_file(state)
    server = Server()
    with pytest.MonkeyPatch.context() as mp:
        name = serve_weights(mp, W.ShuffleNet_V2_X0_5_Weights.IMAGENET1K_V1, body)
        server.files[name] = body
        mp.setenv("NUMCNN_HOME", str(tmp_path_factory.mktemp("home")))
        mp.setenv("NUMCNN_WEIGHTS_URL", server.url)
        yield state, server
    server.close()


@pytest.mark.parametrize("how", ["DEFAULT", "file"])
def test_train_from_default_weights(served: Any, tmp_path: Path, capsys: Any, how: str
                                    ) -> None:
    """--weights DEFAULT (downloaded from the local server once), or the .pth file itself
    under its published name (recognised by that name: ImageNet's normalisation)."""
    state, server = served
    spec, before = how, len(server.requests)
    if how == "file":
        url = W.ShuffleNet_V2_X0_5_Weights.IMAGENET1K_V1.url
        spec = str(tmp_path / url.rsplit("/", 1)[1])
        Path(spec).write_bytes(server.files[url.rsplit("/", 1)[1]])
    code, out, err = run(capsys, "train", *SYN, "--model", "shufflenet_v2_x0_5", "--weights",
                         spec, "--image-size", "32", "--limit", "24", "--batch-size", "12",
                         "--freeze", "backbone", "--out", str(tmp_path / "sn"))
    assert code == 0, err
    # DEFAULT: downloaded once (here or by an earlier test), then cached; a file: no request
    assert len(server.requests) == (1 if how == "DEFAULT" else before)
    assert f"weights: {'ShuffleNet_V2_X0_5_Weights.IMAGENET1K_V1' if how == 'DEFAULT' else spec}" \
        in out
    assert "stem conv1.0: 3 -> 1 input channels" in out
    run_cfg = numcnn.load(tmp_path / "sn" / "last.safetensors")["run"]
    mean, std = imagenet_numbers()
    assert mean == [0.485, 0.456, 0.406] and std == [0.229, 0.224, 0.225]
    assert run_cfg["mean"] == pytest.approx([sum(mean) / 3], rel=1e-12)     # 1 channel
    assert run_cfg["std"] == pytest.approx([sum(std) / 3], rel=1e-12)
    assert run_cfg["model_args"] == {"in_channels": 1, "num_classes": 5, "image_size": 32}
    got = model_arrays(tmp_path / "sn" / "last.safetensors")
    assert set(got) == set(state)
    for k, v in state.items():
        if k.startswith("fc."):
            continue
        if k == "conv1.0.weight":           # the RGB filters summed
            want = v.sum(dim=1, keepdim=True).numpy()
            np.testing.assert_allclose(got[k], want, rtol=1e-6, atol=1e-7)
        else:                               # frozen: the served tensors, bit for bit
            assert np.array_equal(got[k], v.numpy()), k


def test_predict_default_weights_prints_imagenet_names(served: Any, tmp_path: Path,
                                                      capsys: Any) -> None:
    from PIL import Image

    state, _ = served
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(pixels).save(path)
    code, out, err = run(capsys, "predict", "--model", "shufflenet_v2_x0_5", "--weights",
                         "DEFAULT", str(path), "--topk", "3")
    assert code == 0, err
    # the oracle: torchvision's preset computed with torch, the served weights in a numcnn model
    mean, std = imagenet_numbers()
    x = torch_preset(torch.from_numpy(pixels.transpose(2, 0, 1)[None].astype(np.float64) / 255),
                     256, 224, mean, std).numpy().astype(np.float32)
    model = build("shufflenet_v2_x0_5", num_classes=1000)
    model.load_state_dict({k: v.numpy() for k, v in state.items()})
    model.eval()
    with numcnn.no_grad():
        p = softmax(model(numcnn.tensor(x)).numpy().astype(np.float64))[0]
    names = json.loads((SHARED / "imagenet_categories.json").read_text())
    top = np.argsort(-p)[:3]
    match = re.fullmatch(rf"{re.escape(str(path))}: (.*) (\S+), (.*) (\S+), (.*) (\S+)\n", out)
    assert match, out
    assert [match.group(i) for i in (1, 3, 5)] == [names[k] for k in top]
    np.testing.assert_allclose([float(match.group(i)) for i in (2, 4, 6)], p[top], atol=2e-4)


# ----------------------------------------------------------------------------- input adaptation
def test_image_size_too_small_for_vgg11(tmp_path: Path, capsys: Any) -> None:
    code, _, err = run(capsys, "train", *SYN, "--model", "vgg11", "--limit", "8",
                       "--out", str(tmp_path / "vgg"))
    assert code == 1 and err.count("\n") == 1, err
    assert "vgg11 cannot take 28x28 images" in err
    assert "pass a larger --image-size (it is made for 224x224)" in err
    assert not (tmp_path / "vgg").exists()


@needs_fmnist
def test_fashion_mnist_as_rgb_at_32(tmp_path: Path, capsys: Any,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NUMCNN_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    code, out, err = run(capsys, "train", "--model", "resnet20", "--in-channels", "3",
                         "--image-size", "32", "--limit", "64", "--epochs", "1",
                         "--out", str(tmp_path / "rgb"))
    assert code == 0, err
    assert "on fashion-mnist at 3x32x32: 64 training images" in out
    _, config = load_run(tmp_path / "rgb" / "last.safetensors")
    assert config["model_args"] == {"in_channels": 3, "num_classes": 10, "image_size": 32}
    assert config["mean"] == pytest.approx([0.2860] * 3) and \
        config["std"] == pytest.approx([0.3530] * 3)
    test = load_test_set(config)                # the run's test images, as the run sees them
    raw = np.asarray(test.data[:5])                                   # uint8 (5, 28, 28)
    grey = torch.from_numpy(raw[:, None].astype(np.float64) / 255)
    up = torch.nn.functional.interpolate(grey, size=(32, 32), mode="bilinear",
                                         align_corners=False).numpy()
    want = (np.repeat(up, 3, axis=1) - 0.2860) / 0.3530
    got = np.asarray(test.get_batch(np.arange(5))[0].numpy())
    assert got.shape == (5, 3, 32, 32)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # the three channels are the grey pipeline's one channel, repeated
    grey_cfg = {**config, "model_args": {**config["model_args"], "in_channels": 1},
                "mean": [0.2860], "std": [0.3530]}
    test.transform = run_pipeline(grey_cfg)
    one = np.asarray(test.get_batch(np.arange(5))[0].numpy())
    assert one.shape == (5, 1, 32, 32)
    np.testing.assert_array_equal(got, np.repeat(one, 3, axis=1))


# ----------------------------------------------------------------------------- ensembles
def test_eval_ensemble_of_two(source: Path, source2: Path, tmp_path: Path, capsys: Any,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = str(source / "best.safetensors"), str(source2 / "best.safetensors")
    code, out, err = run(capsys, "eval", a, b, "--limit", "120")
    assert code == 0, err
    probs, labels = [], None
    for path in (a, b):
        model, config = load_run(path)
        test = load_test_set(config)
        x = np.stack([np.asarray(test[i][0].numpy() if isinstance(test[i][0], numcnn.Tensor)
                                 else test[i][0]) for i in range(120)])
        y = np.array([int(test[i][1]) for i in range(120)])
        with numcnn.no_grad():
            probs.append(softmax(model(numcnn.tensor(x)).numpy().astype(np.float64)))
        if labels is not None:
            assert np.array_equal(labels, y)
        labels = y
        assert f"member {path} ({config['model']}): accuracy " \
               f"{(probs[-1].argmax(1) == y).mean():.4f}" in out
    assert labels is not None
    avg = (probs[0] + probs[1]) / 2
    acc = float((avg.argmax(1) == labels).mean())
    loss = float(-np.log(avg[np.arange(120), labels]).mean())
    assert "ensemble of 2 (resnet20, lenet5)" in out
    printed = dict(re.findall(r"^(loss|accuracy) +(\S+)$", out, re.M))
    assert float(printed["accuracy"]) == pytest.approx(acc, abs=5e-5)
    assert float(printed["loss"]) == pytest.approx(loss, abs=2e-4)

    # members trained on other classes
    other = tmp_path / "other"
    assert run(capsys, "train", *SYN, "--model", "lenet5", "--classes", "1-3", "--limit", "60",
               "--out", str(other))[0] == 0
    code, _, err = run(capsys, "eval", a, str(other / "last.safetensors"), "--limit", "10")
    assert code == 1 and err.count("\n") == 1 and "other classes" in err, err


def test_predict_ensemble_topk(source: Path, source2: Path, tmp_path: Path, capsys: Any
                               ) -> None:
    a, b = str(source / "best.safetensors"), str(source2 / "best.safetensors")
    _, config = load_run(a)
    test = load_test_set(config)
    test.transform = None
    paths = []
    for i in range(3):
        img = np.asarray(test.data[i].numpy() if isinstance(test.data[i], numcnn.Tensor)
                         else test.data[i], np.float32).reshape(28, 28)
        paths.append(tmp_path / f"img{i}.npy")
        np.save(paths[-1], img)
    code, out, err = run(capsys, "predict", a, b, *map(str, paths), "--topk", "3")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 3
    for path, line in zip(paths, lines):
        img = np.load(path)[None, None]
        probs = []
        for ck in (a, b):
            model, cfg = load_run(ck)
            x = (img - np.float32(cfg["mean"][0])) / np.float32(cfg["std"][0])
            with numcnn.no_grad():
                probs.append(softmax(model(numcnn.tensor(x)).numpy().astype(np.float64))[0])
        p = (probs[0] + probs[1]) / 2
        top = np.argsort(-p)[:3]
        want = ", ".join(f"{config['classes'][k]} {p[k]:.4f}" for k in top)
        assert line == f"{path}: {want}"
