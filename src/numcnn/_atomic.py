"""Atomic file writes: a file on disk is either the old one or the complete new one.

Every file numcnn writes (checkpoints, downloaded data) goes through `atomic_write`: the bytes
go to a temporary file beside the target, which is flushed, fsynced and renamed over the
target (`os.replace`, atomic on POSIX and Windows), and the directory is fsynced so that the
rename survives a power cut.  If anything fails on the way -- an exception, Ctrl-C -- the
temporary file is removed and the target is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from typing import IO, Iterator


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Make a rename in `directory` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _create_temporary(directory: str, base: str) -> tuple[int, str]:
    """A new file beside the target, created with mode 0o666 less the umask like any file
    `open` creates (tempfile.mkstemp would make it 0o600, and the final file with it)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """`with atomic_write(path) as f: f.write(...)` replaces `path` only if the block succeeds.

    The directory of `path` must exist.  Raising inside the block (e.g. after a failed
    checksum) discards everything written and leaves `path` untouched.
    """
    target = os.path.abspath(os.fspath(path))
    directory, base = os.path.split(target)
    fd, tmp = _create_temporary(directory, base)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_directory(directory)
