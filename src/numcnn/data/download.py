"""Downloading dataset files: checked, atomic, from a list of mirrors, with urllib only.

A download streams into a temporary file next to its destination, counts the bytes against
the server's Content-Length and hashes them as they arrive; only when both agree is the file
flushed to disk (fsync) and renamed into place in one step (os.replace). Anything short of
that — a refused connection, an HTTP error, a server that closes early, a checksum that does
not match — raises DownloadError naming the URL and the problem, and leaves no file behind
(a file that was already at the destination stays as it was). A destination that already
holds a file with the expected checksum is not downloaded again.

The progress bar is tqdm's when tqdm is installed (it is optional), else a plain line on stderr.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from numcnn._atomic import atomic_write

__all__ = ["DownloadError", "download_url", "download_from_mirrors", "check_integrity"]

_CHUNK = 1 << 20             # bytes read and written per step
_USER_AGENT = "numcnn"       # some servers refuse urllib's default agent


class DownloadError(RuntimeError):
    """A download failed: the message names the URL(s) and what went wrong."""


def _file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _expected(md5: str | None, sha256: str | None) -> tuple[str, str] | None:
    """(algorithm, lower-case hex digest) to check, sha256 preferred, or None."""
    if md5 is not None and sha256 is not None:
        raise ValueError("download_url: give md5 or sha256, not both")
    if sha256 is not None:
        return "sha256", sha256.lower()
    if md5 is not None:
        return "md5", md5.lower()
    return None


def check_integrity(path: str | os.PathLike[str], md5: str | None = None,
                    sha256: str | None = None) -> bool:
    """Whether `path` is a file with the given checksum (any file, when none is given)."""
    p = Path(path)
    if not p.is_file():
        return False
    want = _expected(md5, sha256)
    return want is None or _file_digest(p, want[0]) == want[1]


# ----------------------------------------------------------------------------- progress
class _LineProgress:
    """tqdm's update/close, written as one line on stderr: redrawn in place on a terminal,
    else a new line every 10% (or every 10 MB when the size is unknown)."""

    def __init__(self, total: int | None, desc: str) -> None:
        self.total, self.desc, self.done = total, desc, 0
        self.tty = sys.stderr.isatty()
        self.last_step = -1
        self.last_draw = 0.0

    def _line(self) -> str:
        mb = self.done / 1e6
        if self.total:
            return (f"{self.desc}: {100 * self.done // self.total:3d}% "
                    f"({mb:.1f}/{self.total / 1e6:.1f} MB)")
        return f"{self.desc}: {mb:.1f} MB"

    def update(self, n: int) -> None:
        self.done += n
        step = (10 * self.done // self.total) if self.total else int(self.done // 10e6)
        now = time.monotonic()
        if self.tty and now - self.last_draw >= 0.1:
            sys.stderr.write("\r" + self._line())
            sys.stderr.flush()
            self.last_draw = now
        elif not self.tty and step != self.last_step:
            sys.stderr.write(self._line() + "\n")
            self.last_step = step

    def close(self) -> None:
        sys.stderr.write(("\r" if self.tty else "") + self._line() + " done\n")
        sys.stderr.flush()


def _progress_bar(total: int | None, desc: str) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return _LineProgress(total, desc)
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
                leave=True)


class _NoProgress:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


# ----------------------------------------------------------------------------- download
def _stream(url: str, out: IO[bytes], algorithm: str, progress: bool, timeout: float,
            desc: str) -> tuple[int, int | None, str]:
    """Copy the body of `url` into `out`: (bytes received, Content-Length or None, digest)."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    h = hashlib.new(algorithm)
    received = 0
    with urllib.request.urlopen(request, timeout=timeout) as response:
        header = response.headers.get("Content-Length")
        length = int(header) if header is not None and header.strip().isdigit() else None
        bar = _progress_bar(length, desc) if progress else _NoProgress()
        try:
            more = True
            while more:
                try:
                    chunk = response.read(_CHUNK)
                except http.client.IncompleteRead as exc:   # some Pythons raise on early close
                    chunk, more = exc.partial, False
                if not chunk:
                    break
                out.write(chunk)
                h.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        finally:
            bar.close()
    return received, length, h.hexdigest()


def download_url(url: str, path: str | os.PathLike[str], md5: str | None = None,
                 sha256: str | None = None, progress: bool = True,
                 timeout: float = 60.0, sha256_prefix: str | None = None) -> Path:
    """Download `url` to the file `path`, checked and atomically, unless it is already there.

    Args:
        url: what to fetch (http, https, file).
        path: the destination file; its directory is created if needed.
        md5: the expected hex MD5 of the file, or None.
        sha256: the expected hex SHA-256 (instead of md5), or None.
        progress: show a progress bar on stderr (tqdm's if installed).
        timeout: seconds to wait for the connection and for each read.
        sha256_prefix: hex digits the file's SHA-256 must begin with (torch.hub's convention:
            the "f37072fd" of "resnet18-f37072fd.pth"), instead of md5/sha256.

    Returns:
        The destination path.

    Raises:
        DownloadError: naming the URL and the problem (unreachable, HTTP error, fewer bytes
            than the server announced, checksum mismatch). No file is left behind; a file
            already at `path` is kept unchanged.
    """
    dest = Path(path).expanduser()
    want = _expected(md5, sha256)
    prefix = None if sha256_prefix is None else sha256_prefix.lower()
    if prefix is not None and want is not None:
        raise ValueError("download_url: give sha256_prefix or md5/sha256, not both")
    if dest.is_file() and (want is None or _file_digest(dest, want[0]) == want[1]) and (
            prefix is None or _file_digest(dest, "sha256").startswith(prefix)):
        return dest
    algorithm = want[0] if want is not None else "sha256"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(dest) as out:
        try:
            received, length, digest = _stream(url, out, algorithm, progress, timeout,
                                                desc=f"Downloading {url}")
        except urllib.error.HTTPError as exc:
            raise DownloadError(f"{url}: HTTP error {exc.code} {exc.reason}") from exc
        except urllib.error.URLError as exc:
            raise DownloadError(f"{url}: cannot connect ({exc.reason})") from exc
        except (OSError, http.client.HTTPException) as exc:   # timeouts, resets
            raise DownloadError(f"{url}: download failed ({type(exc).__name__}: "
                                f"{exc})") from exc
        if length is not None and received != length:
            raise DownloadError(f"{url}: truncated download, the server announced "
                                f"{length} bytes (Content-Length) and sent {received}")
        if want is not None and digest != want[1]:
            raise DownloadError(f"{url}: {algorithm} checksum mismatch, expected {want[1]}, "
                                f"got {digest} ({received} bytes): corrupt download or "
                                f"changed file")
        if prefix is not None and not digest.startswith(prefix):
            raise DownloadError(f"{url}: invalid hash value (the file name says its sha256 "
                                f"starts with {prefix!r}, got {digest!r})")
    return dest


def download_from_mirrors(mirrors: Sequence[str], filename: str,
                          path: str | os.PathLike[str], md5: str | None = None,
                          sha256: str | None = None, progress: bool = True,
                          timeout: float = 60.0) -> Path:
    """Download `filename` from the first of `mirrors` (base URLs) that serves it intact.

    Each mirror is tried in order with download_url(base + filename, ...); a mirror that
    fails in any way (unreachable, HTTP error, truncated, wrong checksum) moves on to the next.

    Raises:
        DownloadError: when every mirror failed, listing each URL and its problem.
        ValueError: when `mirrors` is empty.
    """
    if not mirrors:
        raise ValueError(f"download_from_mirrors: no mirrors given for {filename}")
    dest = Path(path).expanduser()
    if check_integrity(dest, md5, sha256):
        return dest
    failures = []
    for i, base in enumerate(mirrors):
        url = base if base.endswith("/") else base + "/"
        try:
            return download_url(url + filename, dest, md5=md5, sha256=sha256,
                                progress=progress, timeout=timeout)
        except DownloadError as exc:
            failures.append(str(exc))
            if progress and i + 1 < len(mirrors):
                print(f"{exc} (trying the next mirror)", file=sys.stderr)
    lines = "\n  ".join(failures)
    raise DownloadError(f"could not download {filename} from any of {len(mirrors)} "
                        f"mirror(s):\n  {lines}")
