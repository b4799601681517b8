"""Downloads against a local HTTP server on 127.0.0.1 (started here, port 0): tiny but valid
gzipped IDX files, a missing mirror, a refused connection, a server that closes early and one
that serves corrupted bytes. Nothing leaves this machine."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import socket
import struct
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from numcnn.data import MNIST, FashionMNIST
from numcnn.data.download import DownloadError, download_from_mirrors, download_url

N_TRAIN, N_TEST = 5, 3


def idx_gz(arr: np.ndarray) -> bytes:
    """A gzipped unsigned-byte IDX file holding `arr` (written from the format, not read_idx)."""
    header = struct.pack(">I", 0x0800 | arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return gzip.compress(header + arr.astype(np.uint8).tobytes(), mtime=0)


def make_dataset(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (N_TRAIN, 28, 28)),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, N_TRAIN),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (N_TEST, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, N_TEST),
    }


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the directory; /truncated/<f> announces 100 bytes more than it sends and closes,
    /corrupt/<f> sends <f> with one byte flipped (right length, wrong checksum)."""

    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        kind, _, rest = self.path.lstrip("/").partition("/")
        if kind in ("truncated", "corrupt"):
            body = (Path(self.directory) / "good" / rest).read_bytes()
            if kind == "corrupt":
                body = body[:20] + bytes([body[20] ^ 0xFF]) + body[21:]
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body) + 100 * (kind == "truncated")))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:   # keep the test output clean
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(base URL, served folder, list of request paths, {dataset: {file: bytes}})."""
    folder = tmp_path_factory.mktemp("www")
    files = {}
    for name, seed in (("FashionMNIST", 0), ("MNIST", 1)):
        files[name] = {f: idx_gz(a) for f, a in make_dataset(seed).items()}
        for f, data in files[name].items():
            (folder / "good" / name).mkdir(parents=True, exist_ok=True)
            (folder / "good" / name / f).write_bytes(data)
    requests: list[str] = []
    handler = type("H", (Handler,), {"requests": requests})
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", folder, requests, files
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def srv(server, monkeypatch, tmp_path):
    """The server with an emptied request log, checksums patched to the tiny files, no
    NUMCNN_MIRROR / NUMCNN_DATA from outside and HOME moved into tmp_path."""
    base, folder, requests, files = server
    requests.clear()
    for cls in (FashionMNIST, MNIST):
        monkeypatch.setattr(cls, "resources",
                            [(f, md5(data)) for f, data in files[cls.__name__].items()])
        monkeypatch.setattr(cls, "mirrors", [f"{base}/nowhere/"])     # never the internet
        monkeypatch.setattr(cls, "debian_dir", str(tmp_path / "no-debian"))
    monkeypatch.delenv("NUMCNN_MIRROR", raising=False)
    monkeypatch.delenv("NUMCNN_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return base, folder, requests, files


def refused_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (a port just bound and released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/"


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ----------------------------------------------------------------------------- datasets
@pytest.mark.parametrize("cls", [FashionMNIST, MNIST])
def test_download_then_read(srv, tmp_path, cls, monkeypatch):
    base, _, requests, files = srv
    monkeypatch.setattr(cls, "mirrors", [f"{base}/good/{cls.__name__}/"])
    ds = cls(root=tmp_path / "data", download=True)
    raw = tmp_path / "data" / cls.__name__ / "raw"
    assert listing(raw) == sorted(files[cls.__name__])          # the four files, no leftovers
    for f, data in files[cls.__name__].items():
        assert (raw / f).read_bytes() == data
    expected = make_dataset(0 if cls is FashionMNIST else 1)
    np.testing.assert_array_equal(ds.data, expected["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(ds.targets, expected["train-labels-idx1-ubyte.gz"])
    assert ds.targets.dtype == np.int64 and ds.root == str(raw)
    test = cls(root=tmp_path / "data", train=False, download=True)
    np.testing.assert_array_equal(test.data, expected["t10k-images-idx3-ubyte.gz"])
    assert len(requests) == 4                                   # the test split came along


def test_second_call_does_not_download_again(srv, tmp_path, monkeypatch):
    base, _, requests, _ = srv
    monkeypatch.setattr(FashionMNIST, "mirrors", [f"{base}/good/FashionMNIST/"])
    FashionMNIST(root=tmp_path, download=True)
    assert len(requests) == 4
    for train in (True, False):
        assert len(FashionMNIST(root=tmp_path, train=train, download=True)) == \
            (N_TRAIN if train else N_TEST)
    assert len(requests) == 4
    # a missing file is fetched alone; files already there with the right md5 are kept
    raw = tmp_path / "FashionMNIST" / "raw"
    (raw / "t10k-labels-idx1-ubyte.gz").unlink()
    FashionMNIST(root=tmp_path, train=False, download=True)
    assert requests[4:] == ["/good/FashionMNIST/t10k-labels-idx1-ubyte.gz"]


def test_default_root_is_numcnn_data_then_cache(srv, tmp_path, monkeypatch):
    base, _, requests, _ = srv
    monkeypatch.setenv("NUMCNN_MIRROR", f"{base}/good/{{dataset}}/")
    ds = MNIST(download=True)                          # no root, no $NUMCNN_DATA: the cache
    assert ds.root == str(tmp_path / "home" / ".cache" / "numcnn" / "MNIST" / "raw")
    monkeypatch.setenv("NUMCNN_DATA", str(tmp_path / "env"))
    ds = FashionMNIST(download=True)
    assert ds.root == str(tmp_path / "env" / "FashionMNIST" / "raw")
    assert all(r.startswith(("/good/MNIST/", "/good/FashionMNIST/")) for r in requests)


def test_first_mirrors_failing_fall_through(srv, tmp_path, capsys, monkeypatch):
    base, _, requests, _ = srv
    monkeypatch.setattr(FashionMNIST, "mirrors",
                        [f"{base}/missing/", refused_url(), f"{base}/good/FashionMNIST"])
    ds = FashionMNIST(root=tmp_path, download=True)
    assert len(ds) == N_TRAIN
    assert requests.count("/missing/train-images-idx3-ubyte.gz") == 1        # 404, then
    assert "/good/FashionMNIST/train-images-idx3-ubyte.gz" in requests       # the third
    err = capsys.readouterr().err
    assert "HTTP error 404" in err and "cannot connect" in err and "trying the next" in err


def test_numcnn_mirror_env_replaces_the_mirror_list(srv, tmp_path, monkeypatch):
    base, _, requests, _ = srv
    monkeypatch.setenv("NUMCNN_MIRROR", f"{refused_url()}, {base}/good/{{dataset}}/")
    FashionMNIST(root=tmp_path, download=True)
    assert not any(r.startswith("/nowhere/") for r in requests)   # the class list unused
    assert len(requests) == 4


def test_every_mirror_failing_names_each_url(srv, tmp_path, monkeypatch):
    base, _, _, _ = srv
    bad = refused_url()
    monkeypatch.setattr(FashionMNIST, "mirrors", [f"{base}/missing/", bad])
    with pytest.raises(DownloadError) as info:
        FashionMNIST(root=tmp_path, download=True)
    msg = str(info.value)
    assert "train-images-idx3-ubyte.gz" in msg and "2 mirror(s)" in msg
    assert f"{base}/missing/train-images-idx3-ubyte.gz: HTTP error 404" in msg
    assert f"{bad}train-images-idx3-ubyte.gz: cannot connect" in msg
    assert listing(tmp_path / "FashionMNIST" / "raw") == []


def test_dataset_rejects_a_corrupt_mirror(srv, tmp_path, monkeypatch):
    base, _, _, _ = srv
    monkeypatch.setattr(FashionMNIST, "mirrors", [f"{base}/corrupt/FashionMNIST/"])
    with pytest.raises(DownloadError, match="md5 checksum mismatch"):
        FashionMNIST(root=tmp_path, download=True)
    assert listing(tmp_path / "FashionMNIST" / "raw") == []


def test_not_found_message_lists_the_ways(srv, tmp_path):
    with pytest.raises(RuntimeError) as info:
        FashionMNIST(root=tmp_path)
    msg = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "download=True" in msg and "--download" in msg
    assert "root=" in msg and "--data" in msg
    assert "not implemented" not in msg


# ----------------------------------------------------------------------------- download_url
def test_truncated_response_leaves_no_file(srv, tmp_path):
    base, _, _, files = srv
    f = "train-images-idx3-ubyte.gz"
    url = f"{base}/truncated/FashionMNIST/{f}"
    dest = tmp_path / "dl" / f
    size = len(files["FashionMNIST"][f])
    with pytest.raises(DownloadError) as info:
        download_url(url, dest, md5=md5(files["FashionMNIST"][f]), progress=False, timeout=5)
    msg = str(info.value)
    assert url in msg and "truncated" in msg and f"{size + 100} bytes" in msg and \
        f"sent {size}" in msg
    assert listing(tmp_path / "dl") == []                   # neither the file nor a .part
    with pytest.raises(DownloadError, match="truncated"):   # without a checksum as well
        download_url(url, dest, progress=False, timeout=5)
    assert listing(tmp_path / "dl") == []


def test_checksum_mismatch_keeps_the_previous_file(srv, tmp_path):
    base, _, requests, files = srv
    f = "train-labels-idx1-ubyte.gz"
    good = files["FashionMNIST"][f]
    dest = tmp_path / f
    url = f"{base}/corrupt/FashionMNIST/{f}"
    with pytest.raises(DownloadError) as info:                       # nothing there before
        download_url(url, dest, md5=md5(good), progress=False, timeout=5)
    assert url in str(info.value) and f"expected {md5(good)}" in str(info.value)
    assert listing(tmp_path) == []
    previous = files["MNIST"][f]                                     # a file there before
    dest.write_bytes(previous)
    with pytest.raises(DownloadError, match="md5 checksum mismatch"):
        download_url(url, dest, md5=md5(good), progress=False, timeout=5)
    assert listing(tmp_path) == [f] and dest.read_bytes() == previous
    # sha256 works the same way; the good file then replaces the stale one
    sha = hashlib.sha256(good).hexdigest()
    with pytest.raises(DownloadError, match="sha256 checksum mismatch"):
        download_url(url, dest, sha256=sha, progress=False, timeout=5)
    download_url(f"{base}/good/FashionMNIST/{f}", dest, sha256=sha.upper(), progress=False)
    assert dest.read_bytes() == good and listing(tmp_path) == [f]
    n = len(requests)
    download_url(f"{base}/good/FashionMNIST/{f}", dest, sha256=sha, progress=False)
    assert len(requests) == n                                        # already there
    with pytest.raises(ValueError, match="not both"):
        download_url(url, dest, md5=md5(good), sha256=sha)


def test_http_error_and_refused_connection(srv, tmp_path):
    base, _, _, _ = srv
    with pytest.raises(DownloadError, match=r"/missing/x\.gz: HTTP error 404"):
        download_url(f"{base}/missing/x.gz", tmp_path / "x.gz", progress=False)
    url = refused_url() + "x.gz"
    with pytest.raises(DownloadError, match="cannot connect") as info:
        download_url(url, tmp_path / "x.gz", progress=False, timeout=5)
    assert url in str(info.value)
    assert listing(tmp_path) == []
    with pytest.raises(ValueError, match="no mirrors"):
        download_from_mirrors([], "x.gz", tmp_path / "x.gz")


@pytest.mark.parametrize("with_tqdm", [True, False])
def test_progress_is_shown_on_stderr(srv, tmp_path, capsys, monkeypatch, with_tqdm):
    base, _, _, files = srv
    if with_tqdm:
        pytest.importorskip("tqdm")
    else:
        monkeypatch.setitem(sys.modules, "tqdm", None)        # `import tqdm` now fails
    f = "train-images-idx3-ubyte.gz"
    url = f"{base}/good/FashionMNIST/{f}"
    download_url(url, tmp_path / f, md5=md5(files["FashionMNIST"][f]), progress=True)
    err = capsys.readouterr().err
    assert f"Downloading {url}" in err
    assert "100%" in err
    download_url(url, tmp_path / "quiet", progress=False)
    assert capsys.readouterr().err == ""


def test_sha256_prefix_is_checked_as_the_file_streams(srv, tmp_path):
    """torch.hub's convention (the hex digits in "resnet18-f37072fd.pth" begin its SHA-256):
    a wrong prefix leaves nothing, the right one (any case) keeps the file, and it cannot be
    combined with a full checksum."""
    base, _, _, files = srv
    f = "train-labels-idx1-ubyte.gz"
    good = files["FashionMNIST"][f]
    digest = hashlib.sha256(good).hexdigest()
    url = f"{base}/good/FashionMNIST/{f}"
    dest = tmp_path / "dl" / f
    wrong = hashlib.sha256(good + b"x").hexdigest()[:8]
    with pytest.raises(DownloadError, match=f"starts with '{wrong}', got '{digest}'"):
        download_url(url, dest, sha256_prefix=wrong, progress=False, timeout=5)
    assert listing(tmp_path / "dl") == []
    download_url(url, dest, sha256_prefix=digest[:8].upper(), progress=False, timeout=5)
    assert dest.read_bytes() == good
    with pytest.raises(ValueError, match="not both"):
        download_url(url, dest, sha256=digest, sha256_prefix=digest[:8], progress=False)
