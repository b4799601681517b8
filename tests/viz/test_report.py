"""numcnn.viz.report: the HTML page of a run, checked statically and in headless Chromium.

One small real run (`numcnn train --data synthetic --limit 300 --epochs 1 --report`, with the
small lenet5 so that the file stays well under 30 s) is built once. The browser checks load the
page with Chromium behind a recording proxy while every host name resolves nowhere: the images
must decode, the page must make no request (a control page with a remote image shows that the
proxy does see one), the screenshots at desktop and phone width must not be blank, and at
390 px nothing may overflow sideways.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from numcnn.train.cli import main
from numcnn.viz.report import conv_layer_names, figure_png, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "run"
    assert main(["train", "--data", "synthetic", "--limit", "300", "--epochs", "1",
                 "--model", "lenet5", "--out", str(out), "--report"]) == 0
    return out


def _images(page: str) -> list[bytes]:
    srcs = re.findall(r'<img src="([^"]*)"', page)
    prefix = "data:image/png;base64,"
    assert all(s.startswith(prefix) for s in srcs)
    return [base64.b64decode(s[len(prefix):]) for s in srcs]


# ----------------------------------------------------------------------------- static
def test_conv_layer_names_are_the_conv_modules_in_order() -> None:
    from numcnn.train.models import MODELS

    model = MODELS["fmnist-cnn"]()
    expected = [n for n, m in model.named_modules() if type(m).__name__ == "Conv2d"]
    assert conv_layer_names(model) == expected == ["features.0", "features.3", "features.8",
                                                   "features.11"]
    assert conv_layer_names(MODELS["mlp"]()) == []


def test_figure_png_is_a_png_of_the_figure_size() -> None:
    from PIL import Image

    from numcnn.viz._common import pyplot

    plt = pyplot()
    fig = plt.figure(figsize=(3, 2))
    fig.add_subplot().plot([0, 1], [1, 0])
    data = figure_png(fig, dpi=50)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(fig.number)                  # closed
    img = np.asarray(Image.open(io.BytesIO(data)))
    assert 0 < img.shape[1] <= 150 and 0 < img.shape[0] <= 100   # bbox "tight" only trims
    assert img.std() > 0


def test_train_report_writes_a_self_contained_page(run_dir: Path) -> None:
    from PIL import Image

    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    # every reference is an inline data: URI or an anchor in the page
    refs = re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', page)
    assert refs and all(r.startswith("data:") or r.startswith("#") for r in refs)
    assert "url(" not in page and "@import" not in page
    anchors = {r[1:] for r in refs if r.startswith("#")}
    assert anchors == set(re.findall(r'<section id="([^"]+)"', page))
    # pictures: curves, confusion, misclassified, filters, 2 feature maps, Grad-CAM
    pngs = _images(page)
    assert len(pngs) == 7
    for data in pngs:
        img = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64)
        assert img.shape[0] > 50 and img.shape[1] > 50 and img.std() > 1
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert not [p for p in os.listdir(run_dir) if p.endswith(".tmp")]


def test_report_numbers_match_numcnn_eval(run_dir: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["eval", str(run_dir / "best.safetensors"), "--limit", "300"]) == 0
    out = capsys.readouterr().out
    accuracy = re.search(r"^accuracy\s+(\S+)$", out, re.M)
    assert accuracy is not None
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert f"Accuracy <b>{accuracy.group(1)}</b>" in page
    assert "the first 300 of the 1000 images of the test split" in page
    # per-class rows: the same accuracies and supports `numcnn eval` prints
    for name, acc, n in re.findall(r"^  (\w+)\s+(\S+)\s+\((\d+) images\)$", out, re.M):
        assert re.search(rf"<td>{name}</td><td class=\"num\">{re.escape(acc)}</td>"
                         rf"<td class=\"num\">{n}</td>", page), name


def test_text_is_escaped_and_out_and_checkpoint_are_honoured(run_dir: Path,
                                                             tmp_path: Path) -> None:
    odd = tmp_path / "run <b>&amp;"
    odd.mkdir()
    for name in ("metrics.csv", "config.json"):
        shutil.copy(run_dir / name, odd / name)
    shutil.copy(run_dir / "last.safetensors", odd / "last.safetensors")   # no best: last used
    path = write_report(odd, out=tmp_path / "r.html", num_images=2, limit=50, progress=False)
    assert path == tmp_path / "r.html"
    page = path.read_text(encoding="utf-8")
    assert "run <b>" not in page
    assert html.escape("run <b>&amp;") in page
    assert "<code>last.safetensors</code>" in page
    assert "the first 50 of the 1000 images" in page
    assert len(_images(page)) == 7


def test_write_report_errors(run_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a directory"):
        write_report(tmp_path / "nothing")
    with pytest.raises(ValueError, match="neither best.safetensors nor last.safetensors"):
        write_report(tmp_path)
    with pytest.raises(ValueError, match=r"num_images must be an int in 1\.\.64, got 0"):
        write_report(run_dir, num_images=0)
    with pytest.raises(ValueError, match="limit must be None or a positive int"):
        write_report(run_dir, limit=0)
    with pytest.raises(ValueError, match="checkpoint not found"):
        write_report(run_dir, checkpoint=tmp_path / "x.safetensors")
    with pytest.raises(ValueError, match=r"folder of the report \(out\) does not exist"):
        write_report(run_dir, out=tmp_path / "no" / "r.html")


# ----------------------------------------------------------------------------- browser
# Chromium's own background services, which it contacts whatever page it shows and whatever
# --disable-* flags it gets (component updater, network time, sign-in): requests to these hosts
# are not the page's. Anything else the proxy sees is.
_BROWSER_SERVICES = {"update.googleapis.com", "accounts.google.com", "clients2.google.com",
                     "redirector.gvt1.com"}


def _host(request_line: bytes) -> str:
    """The host of 'GET http://host/path HTTP/1.1' or 'CONNECT host:443 HTTP/1.1'."""
    parts = request_line.decode("latin-1").split()
    target = parts[1] if len(parts) > 1 else ""
    target = target.split("://", 1)[-1]
    return target.split("/", 1)[0].rsplit(":", 1)[0]


class _RecordingProxy:
    """An HTTP proxy that answers nothing and records every connection made to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1.0)
                try:
                    head = conn.recv(4096)
                except OSError:
                    head = b""
                self.requests.append(head.split(b"\r\n", 1)[0] or b"(connection)")
                try:
                    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass

    def page_requests(self) -> list[bytes]:
        return [r for r in self.requests if _host(r) not in _BROWSER_SERVICES]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture()
def proxy() -> Iterator[_RecordingProxy]:
    p = _RecordingProxy()
    yield p
    p.close()


def _chromium(proxy: _RecordingProxy, profile: Path, *args: str) -> str:
    """Run headless Chromium with every request sent to `proxy` and every host name mapped
    nowhere; kill its whole process group if it takes longer than 25 s."""
    assert CHROMIUM is not None
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           f"--user-data-dir={profile}", f"--proxy-server=http://127.0.0.1:{proxy.port}",
           "--proxy-bypass-list=<-loopback>",
           "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-extensions", "--disable-default-apps",
           "--virtual-time-budget=5000", "--timeout=10000", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=25)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"chromium did not finish in 25 s: {' '.join(args)}")
    return out.decode("utf-8", "replace")


# runs inside the report, which sits in an iframe of the width to test (Chromium's headless
# window is at least 500 px wide, so a 390 px viewport needs a frame); the result goes into the
# top document, which --dump-dom prints
_PROBE = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var result = {images: imgs.length,
                decoded: imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; })
                             .length,
                scrollWidth: document.documentElement.scrollWidth,
                bodyScrollWidth: document.body.scrollWidth,
                innerWidth: window.innerWidth};
  var pre = parent.document.createElement("pre");
  pre.id = "probe-result";
  pre.textContent = JSON.stringify(result);
  parent.document.body.appendChild(pre);
});
</script>"""


def _probe(proxy: _RecordingProxy, tmp_path: Path, page: str, width: int) -> dict[str, int]:
    probed = page.replace("</body>", _PROBE + "</body>")
    wrapper = tmp_path / f"probe-{width}.html"
    wrapper.write_text(f'<!DOCTYPE html><html><body style="margin:0"><iframe '
                       f'style="width:{width}px;height:844px;border:0" '
                       f'srcdoc="{html.escape(probed, quote=True)}"></iframe></body></html>',
                       encoding="utf-8")
    dom = _chromium(proxy, tmp_path / "profile", f"--window-size={width + 100},900",
                    "--dump-dom", wrapper.as_uri())
    found = re.search(r'<pre id="probe-result">(.*?)</pre>', dom, re.S)
    assert found is not None, dom[-500:]
    return dict(json.loads(html.unescape(found.group(1))))


def _screenshot(proxy: _RecordingProxy, tmp_path: Path, page_path: Path, width: int,
                height: int) -> np.ndarray:
    from PIL import Image

    shot = tmp_path / f"shot-{width}.png"
    _chromium(proxy, tmp_path / "profile", f"--window-size={width},{height}",
              f"--screenshot={shot}", page_path.as_uri())
    return np.asarray(Image.open(shot).convert("RGB"), dtype=np.float64)


@pytest.mark.skipif(CHROMIUM is None, reason="the chromium binary is not installed "
                                             "(apt-get install chromium)")
def test_report_in_headless_chromium(run_dir: Path, tmp_path: Path,
                                     proxy: _RecordingProxy) -> None:
    page_path = run_dir / "report.html"
    page = page_path.read_text(encoding="utf-8")
    n_images = len(_images(page))

    # (a) every image decodes; (d) nothing overflows sideways at phone width
    phone = _probe(proxy, tmp_path, page, 390)
    assert phone["innerWidth"] == 390
    assert phone["images"] == phone["decoded"] == n_images
    assert phone["scrollWidth"] <= phone["innerWidth"]
    assert phone["bodyScrollWidth"] <= phone["innerWidth"]

    # (c) the screenshots show something
    for width, height in ((1280, 900), (390, 844)):
        img = _screenshot(proxy, tmp_path, page_path, width, height)
        assert img.shape[:2] == (height, width)
        assert img.std() > 10

    # (b) the page made no request at all ...
    assert proxy.page_requests() == []
    # ... and the proxy does see one when a page asks for a remote image
    control = tmp_path / "control.html"
    control.write_text('<!DOCTYPE html><html><body><img src="http://example.com/x.png">'
                       "</body></html>", encoding="utf-8")
    _chromium(proxy, tmp_path / "profile", "--dump-dom", control.as_uri())
    assert [_host(r) for r in proxy.page_requests()] == ["example.com"], proxy.requests
