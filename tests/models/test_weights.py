"""numcnn.models.weights: torchvision's weights API, download/cache/convert, the presets.

Download tests run a local HTTP server (127.0.0.1, port 0, a thread) serving `.pth` files that
torch writes in the test; their names are the real file names with the real SHA-256 prefix of
the test file, so `NUMCNN_WEIGHTS_URL` points the enums at the server.  The real servers
(download.pytorch.org) are not reachable from here.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import re
import threading
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests.models.zoo import random_torchvision_state_dict, trainable_params  # noqa: E402

import numcnn  # noqa: E402
from numcnn.data.download import DownloadError  # noqa: E402
from numcnn.models import (  # noqa: E402
    densenet121,
    get_model,
    get_model_weights,
    get_weight,
    googlenet,
    inception_v3,
    resnet18,
    squeezenet1_1,
)
from numcnn.models import weights as W  # noqa: E402

SHARED = Path(__file__).resolve().parents[3] / "shared" / "zoo"


# ----------------------------------------------------------------------------- a local server
class Server:
    """Serves `files` (name -> bytes); `mode[name]` = "error" (HTTP 500) or "truncate" (sends
    half of the bytes after announcing all); counts requests per name."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.mode: dict[str, str] = {}
        self.requests: list[str] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                name = self.path.lstrip("/")
                owner.requests.append(name)
                body = owner.files.get(name)
                mode = owner.mode.get(name)
                if body is None or mode == "error":
                    self.send_error(404 if body is None else 500)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if mode == "truncate" else body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NUMCNN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("NUMCNN_WEIGHTS_URL", raising=False)
    return tmp_path / "home" / "weights"


def torch_file(state: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def serve_weights(monkeypatch: pytest.MonkeyPatch, member: W.WeightsEnum, body: bytes,
                  digest: str | None = None) -> str:
    """Point `member` at a file named like its real one, but with `digest`'s first 8 hex digits
    (default: the real SHA-256 of `body`); return that name."""
    real = member.url.rsplit("/", 1)[1]
    digest = digest or hashlib.sha256(body).hexdigest()
    name = re.sub(r"-[0-9a-f]+\.pth$", f"-{digest[:8]}.pth", real)
    assert name != real
    monkeypatch.setattr(member.value, "url", member.url.rsplit("/", 1)[0] + "/" + name)
    return name


@pytest.fixture(scope="module")
def squeeze_state() -> dict[str, Any]:
    return random_torchvision_state_dict("squeezenet1_1", seed=3)


def assert_same_state(model: numcnn.nn.Module, state: dict[str, Any]) -> None:
    ours = model.state_dict()
    assert list(ours) == list(state)
    for k, v in state.items():
        assert np.array_equal(ours[k].numpy(), v.numpy()), k


# ----------------------------------------------------------------------------- download, cache
def test_download_once_convert_then_offline(server: Server, home: Path, squeeze_state: Any,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capfd: pytest.CaptureFixture[str]) -> None:
    member = W.SqueezeNet1_1_Weights.IMAGENET1K_V1
    body = torch_file(squeeze_state)
    name = serve_weights(monkeypatch, member, body)
    server.files[name] = body
    monkeypatch.setenv("NUMCNN_WEIGHTS_URL", server.url)

    model = squeezenet1_1(weights="DEFAULT")
    assert server.requests == [name]
    assert_same_state(model, squeeze_state)
    err = capfd.readouterr().err
    assert "Downloading" in err and name in err                     # the progress output
    stem = name[: -len(".pth")]
    assert sorted(p.name for p in home.iterdir()) == sorted([name, stem + ".safetensors"])
    copy = numcnn.io.load(home / (stem + ".safetensors"))           # bit-identical copy
    assert list(copy) == list(squeeze_state)
    for k, v in squeeze_state.items():
        assert copy[k].numpy().dtype == v.numpy().dtype
        assert np.array_equal(copy[k].numpy(), v.numpy()), k

    # second use: no request; offline (server gone, .pth removed): the safetensors copy serves
    model2 = get_model("squeezenet1_1", weights=member, progress=False)
    assert server.requests == [name]
    assert_same_state(model2, squeeze_state)
    (home / name).unlink()
    monkeypatch.setenv("NUMCNN_WEIGHTS_URL", "http://127.0.0.1:9")
    assert_same_state(squeezenet1_1(weights="SqueezeNet1_1_Weights.IMAGENET1K_V1"),
                      squeeze_state)
    assert server.requests == [name]


def test_hash_mismatch_leaves_nothing(server: Server, home: Path, squeeze_state: Any,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    member = W.SqueezeNet1_1_Weights.IMAGENET1K_V1
    body = torch_file(squeeze_state)
    wrong = hashlib.sha256(body + b"x").hexdigest()
    name = serve_weights(monkeypatch, member, body, digest=wrong)
    server.files[name] = body
    monkeypatch.setenv("NUMCNN_WEIGHTS_URL", server.url)
    with pytest.raises(DownloadError, match="invalid hash value"):
        squeezenet1_1(weights=member, progress=False)
    assert list(home.iterdir()) == []
    # check_hash=False (torch.hub's switch) accepts it
    state = member.get_state_dict(progress=False, check_hash=False)
    assert list(state) == list(squeeze_state)


@pytest.mark.parametrize("mode", ["error", "truncate", "missing"])
def test_server_failures_leave_nothing(server: Server, home: Path, squeeze_state: Any,
                                       monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    member = W.SqueezeNet1_1_Weights.IMAGENET1K_V1
    body = torch_file(squeeze_state)
    name = serve_weights(monkeypatch, member, body)
    if mode != "missing":
        server.files[name] = body
        server.mode[name] = mode
    monkeypatch.setenv("NUMCNN_WEIGHTS_URL", server.url)
    pattern = {"error": "HTTP error 500", "truncate": "truncated",
               "missing": "HTTP error 404"}[mode]
    with pytest.raises(DownloadError, match=pattern):
        squeezenet1_1(weights=member, progress=False)
    assert list(home.iterdir()) == []


@pytest.mark.parametrize("as_uri", [False, True])
def test_weights_url_local_directory(tmp_path: Path, home: Path, squeeze_state: Any,
                                     monkeypatch: pytest.MonkeyPatch, as_uri: bool) -> None:
    member = W.SqueezeNet1_1_Weights.IMAGENET1K_V1
    body = torch_file(squeeze_state)
    name = serve_weights(monkeypatch, member, body)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / name).write_bytes(body)
    monkeypatch.setenv("NUMCNN_WEIGHTS_URL", mirror.as_uri() if as_uri else str(mirror))
    assert_same_state(squeezenet1_1(weights=member, progress=False), squeeze_state)
    assert (home / name).read_bytes() == body


def test_not_a_state_dict(server: Server, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    member = W.SqueezeNet1_1_Weights.IMAGENET1K_V1
    body = torch_file({"epoch": 3, "lr": [0.1, 0.2]})
    name = serve_weights(monkeypatch, member, body)
    server.files[name] = body
    monkeypatch.setenv("NUMCNN_WEIGHTS_URL", server.url)
    with pytest.raises(ValueError, match=re.escape(name) + ".*not a state dict"):
        squeezenet1_1(weights=member, progress=False)
    assert not any(p.suffix == ".safetensors" for p in home.iterdir())


def test_cache_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NUMCNN_HOME", str(tmp_path))
    assert W.weights_dir() == tmp_path / "weights"
    monkeypatch.delenv("NUMCNN_HOME")
    assert W.weights_dir() == Path.home() / ".cache" / "numcnn" / "weights"


# ----------------------------------------------------------------------------- the enums
def test_every_json_entry_is_an_enum_member() -> None:
    table = json.loads((SHARED / "torchvision_weights.json").read_text())
    assert set(table) == set(W.WEIGHTS)
    for model, entries in table.items():
        enum_cls = get_model_weights(model)
        members = {k for k in entries if k != "DEFAULT"}
        assert set(enum_cls.__members__) == members | {"DEFAULT"}
        assert enum_cls.DEFAULT is enum_cls[entries["DEFAULT"]]
        for m in members:
            assert enum_cls[m].url == entries[m]["url"]
            assert repr(enum_cls[m]) == f"{enum_cls.__name__}.{m}"


def test_shipped_json_equals_shared() -> None:
    shipped = Path(W.__file__).parent / "data"
    for f in ("torchvision_weights.json", "imagenet_categories.json"):
        assert (shipped / f).read_bytes() == (SHARED / f).read_bytes()


def test_meta_against_torchvision_state_dicts() -> None:
    """num_params of every entry equals the trainable count torchvision's model has with the
    layout the weights file holds (googlenet without aux, inception_v3 with its aux)."""
    layouts = json.loads((SHARED / "torchvision_state_dicts.json").read_text())
    categories = json.loads((SHARED / "imagenet_categories.json").read_text())
    for model, enum_cls in W.WEIGHTS.items():
        key = "inception_v3(aux_logits=True)" if model == "inception_v3" else model
        for member in enum_cls:
            assert member.meta["num_params"] == layouts[key]["trainable_params"], member
            if member.name == "IMAGENET1K_FEATURES":
                assert member.meta["categories"] is None and member.meta["_metrics"] == {}
                continue
            assert member.meta["categories"] == categories and len(categories) == 1000
            acc = member.meta["_metrics"]["ImageNet-1K"]
            assert 50 < acc["acc@1"] < acc["acc@5"] < 100


@pytest.mark.parametrize("factory", [squeezenet1_1, resnet18, googlenet])
def test_num_params_equal_factory(factory: Any) -> None:
    member = get_model_weights(factory).DEFAULT
    assert trainable_params(factory()) == member.meta["num_params"]


def test_get_weight_and_get_model_weights() -> None:
    assert get_weight("ResNet50_Weights.IMAGENET1K_V2") is W.ResNet50_Weights.IMAGENET1K_V2
    assert get_weight("ResNet50_Weights.DEFAULT") is W.ResNet50_Weights.IMAGENET1K_V2
    assert W.ResNet50_Weights.DEFAULT.url.endswith("resnet50-11ad3fa6.pth")
    assert get_model_weights("densenet121") is W.DenseNet121_Weights
    assert get_model_weights(resnet18) is W.ResNet18_Weights
    assert get_model_weights("mnasnet1_0") is W.MNASNet1_0_Weights
    for bad in ("ResNet50_Weights", "Nope_Weights.X", "ResNet50_Weights.V9"):
        with pytest.raises(ValueError):
            get_weight(bad)
    with pytest.raises(ValueError, match="no pretrained weights"):
        get_model_weights("lenet5")


def test_weights_argument_rules() -> None:
    e = W.ResNet18_Weights
    assert e.verify(None) is None
    for given in ("DEFAULT", "IMAGENET1K_V1", "ResNet18_Weights.IMAGENET1K_V1", e.IMAGENET1K_V1):
        assert e.verify(given) is e.IMAGENET1K_V1
    with pytest.raises(TypeError, match="expected ResNet18_Weights but received"):
        resnet18(weights=W.ResNet34_Weights.DEFAULT)
    with pytest.raises(ValueError, match="Unknown value 'IMAGENET1K_V7'"):
        resnet18(weights="IMAGENET1K_V7")
    with pytest.raises(ValueError, match="'num_classes' expected value 1000 but got 10"):
        resnet18(num_classes=10, weights="DEFAULT")
    with pytest.raises(ValueError, match="in_channels must be 3"):
        resnet18(in_channels=1, weights="DEFAULT")
    with pytest.raises(ValueError, match="no pretrained weights"):
        get_model("lenet5", weights="DEFAULT")
    with pytest.raises(ValueError, match="'aux_logits' expected value True but got False"):
        inception_v3(aux_logits=False, weights="DEFAULT")
    with pytest.raises(ValueError, match="'init_weights' expected value False but got True"):
        googlenet(init_weights=True, weights="DEFAULT")
    # without weights nothing changes: the factories' defaults are numcnn's
    m = googlenet()
    assert m.aux1 is None and m.transform_input is False
    m2 = inception_v3(num_classes=10)
    assert m2.AuxLogits is None and m2.transform_input is False


# ----------------------------------------------------------------------------- loading, fix-ups
def _serve_state(monkeypatch: pytest.MonkeyPatch, member: W.WeightsEnum,
                 state: dict[str, Any]) -> None:
    """Make `member.get_state_dict` read a torch-written file from a local directory."""
    body = torch_file(state)
    name = serve_weights(monkeypatch, member, body)
    mirror = Path(str(W.weights_dir()) + "-mirror")
    mirror.mkdir(parents=True, exist_ok=True)
    (mirror / name).write_bytes(body)
    monkeypatch.setenv("NUMCNN_WEIGHTS_URL", str(mirror))


def test_densenet_old_keys_fixed(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pre-0.4 DenseNet checkpoint: "norm.1.weight" names, no num_batches_tracked."""
    state = {k: v for k, v in random_torchvision_state_dict("densenet121", seed=1).items()
             if not k.endswith("num_batches_tracked")}
    old = {re.sub(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.", r"\1.\2.", k): v
           for k, v in state.items()}
    assert "features.denseblock1.denselayer1.norm.1.weight" in old
    # per dense layer: norm1/norm2 (weight, bias, running mean, var) and conv1/conv2 weights
    assert sum(k != j for k, j in zip(old, state)) == 10 * (6 + 12 + 24 + 16)
    fixed = W.fix_state_dict("densenet121", old)
    assert list(fixed) == list(state)
    assert W.fix_state_dict("resnet18", {"a.norm.1.weight": 1}) == {"a.norm.1.weight": 1}
    _serve_state(monkeypatch, W.DenseNet121_Weights.IMAGENET1K_V1, old)
    model = densenet121(weights="DEFAULT", progress=False)
    ours = {k: v for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")}
    assert list(ours) == list(state)
    for k, v in state.items():
        assert np.array_equal(ours[k].numpy(), v.numpy()), k


def test_googlenet_flags(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = random_torchvision_state_dict("googlenet(aux_logits=True)", seed=2)
    _serve_state(monkeypatch, W.GoogLeNet_Weights.IMAGENET1K_V1, state)
    m = googlenet(weights="DEFAULT", progress=False)
    assert m.transform_input is True and m.aux_logits is False
    assert m.aux1 is None and m.aux2 is None
    assert not any(k.startswith("aux") for k in m.state_dict())
    assert_same_state(m, {k: v for k, v in state.items() if not k.startswith("aux")})
    with pytest.warns(UserWarning, match="NOT pretrained"):
        m2 = googlenet(weights="DEFAULT", aux_logits=True, transform_input=False,
                       progress=False)
    assert m2.aux1 is not None and m2.transform_input is False
    assert_same_state(m2, state)


def test_inception_keeps_aux(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = random_torchvision_state_dict("inception_v3(aux_logits=True)", seed=4)
    _serve_state(monkeypatch, W.Inception_V3_Weights.IMAGENET1K_V1, state)
    m = inception_v3(weights="DEFAULT", progress=False)
    assert m.transform_input is True and m.aux_logits is True and m.AuxLogits is not None
    assert_same_state(m, state)


# ----------------------------------------------------------------------------- the presets
def torch_preset(x: Any, resize: int, crop: int, mean: Any, std: Any) -> Any:
    """torchvision's ImageClassification, from its documented steps, on a torch (N, C, H, W)
    tensor: shorter side -> resize (antialiased bilinear), centre crop, [0, 1], normalise."""
    tf = torch.nn.functional
    h, w = x.shape[-2:]
    size = (resize, int(resize * w / h)) if h <= w else (int(resize * h / w), resize)
    if x.dtype == torch.uint8:
        y = tf.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        y = y.float() / 255
    else:
        y = tf.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    top, left = int(round((size[0] - crop) / 2.0)), int(round((size[1] - crop) / 2.0))
    y = y[..., top: top + crop, left: left + crop]
    m = torch.tensor(mean, dtype=y.dtype)[:, None, None]
    s = torch.tensor(std, dtype=y.dtype)[:, None, None]
    return (y - m) / s


@pytest.mark.parametrize("member,resize,crop", [
    (W.ResNet18_Weights.IMAGENET1K_V1, 256, 224),
    (W.ResNet50_Weights.IMAGENET1K_V2, 232, 224),
    (W.Inception_V3_Weights.IMAGENET1K_V1, 342, 299),
    (W.VGG16_Weights.IMAGENET1K_FEATURES, 256, 224),
])
@pytest.mark.parametrize("hw", [(300, 400), (523, 350), (240, 240)])
def test_transforms_match_torch(member: W.WeightsEnum, resize: int, crop: int,
                                hw: tuple[int, int]) -> None:
    preset = member.transforms()
    assert (preset.resize_size, preset.crop_size) == (resize, crop)
    if member.name == "IMAGENET1K_FEATURES":
        assert preset.mean == (0.48235, 0.45882, 0.40784) and preset.std == (1 / 255,) * 3
    else:
        assert preset.mean == (0.485, 0.456, 0.406) and preset.std == (0.229, 0.224, 0.225)
    rng = np.random.default_rng(0)
    x = rng.random((2, 3, *hw), dtype=np.float32)
    # torch in float64: its float32 kernel computes the filter weights in float32 and is off by
    # up to 2e-5 for non-integer scales; in float64 it agrees with ours to 1e-15
    want = torch_preset(torch.from_numpy(x.astype(np.float64)), resize, crop, preset.mean,
                        preset.std).numpy()
    scale = 1.0 / min(preset.std)
    got = preset.batch(x).numpy()
    assert got.shape == (2, 3, crop, crop) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * scale)
    one = preset(numcnn.tensor(x[1])).numpy()                        # one (C, H, W) image
    np.testing.assert_allclose(one, got[1], rtol=0, atol=0)


def test_transforms_uint8_within_one_level() -> None:
    preset = W.ResNet18_Weights.DEFAULT.transforms()
    rng = np.random.default_rng(1)
    hwc = rng.integers(0, 256, (2, 300, 410, 3), dtype=np.uint8)     # numcnn's uint8 layout
    nchw = torch.from_numpy(np.ascontiguousarray(hwc.transpose(0, 3, 1, 2)))
    want = torch_preset(nchw, 256, 224, preset.mean, preset.std).numpy()
    got = preset.batch(hwc).numpy()
    # torch's uint8 resize rounds fixed-point weights: one level (1/255) at most
    np.testing.assert_allclose(got, want, rtol=0, atol=1.01 / 255 / min(preset.std))
    assert np.mean(np.abs(got - want)) < 0.2 / 255 / min(preset.std)


def test_resize_weights_naive() -> None:
    """Shrinking 6 -> 2 averages each output's 3-pixel half with a triangle of width 3 (the
    antialias formula written out by hand); 2 -> 4 is plain bilinear with edge clamping."""
    w = W._resize_weights(6, 2)
    tri = np.array([1 - abs(j + 0.5 - 1.5) / 3 for j in range(6)])
    tri = np.clip(tri, 0, None)
    np.testing.assert_allclose(w[0], tri / tri.sum())
    np.testing.assert_allclose(W._resize_weights(2, 4),
                               [[1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]])


def test_module_versions_survive_the_safetensors_copy(tmp_path: Path) -> None:
    """torch's state_dict._metadata (per-module versions; MNASNet reads them) is kept in the
    safetensors copy and comes back attached to the state dict."""
    from collections import OrderedDict

    state: Any = OrderedDict(w=numcnn.tensor(np.arange(3, dtype=np.float32)))
    state._metadata = OrderedDict([("", {"version": 1}), ("layers.0", {"version": 2})])
    W._save_copy(state, tmp_path / "c.safetensors")
    back = W._as_state_dict(numcnn.io.load(tmp_path / "c.safetensors"), tmp_path)
    assert list(back) == ["w"] and np.array_equal(back["w"].numpy(), [0, 1, 2])
    assert dict(back._metadata) == {"": {"version": 1}, "layers.0": {"version": 2}}
    assert W.fix_state_dict("mnasnet0_5", back)._metadata == back._metadata
