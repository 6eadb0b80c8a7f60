"""Small files written so that a crash leaves the old content or the new, never half.

Key files, a client's outbox of signed envelopes, receipts and an import's
resume file are told to their owner only once they are on disk. The recipe
(POSIX): write a temporary file in the same directory, ``fsync`` it, rename
it over the target (atomic within one file system), then ``fsync`` the
directory so the rename itself survives a power cut. :func:`remove_durably`
is the same for a deletion.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_atomically", "remove_durably", "fsync_directory"]


def fsync_directory(path: str | os.PathLike) -> None:
    """Flush a directory's entries (a rename or unlink in it) to disk.

    Some file systems refuse to open a directory for this; there the rename is
    as durable as they make it, so that case is not an error."""
    try:
        fd = os.open(os.fspath(path) or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomically(path: str | os.PathLike, data: bytes, *, mode: int = 0o644) -> None:
    """Replace `path` with `data`, durably (module doc); the file gets `mode`.

    The parent directory must exist. On any error the target is untouched and
    the temporary file removed."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_directory(parent)


def remove_durably(path: str | os.PathLike) -> None:
    """Delete `path` (absent is fine) and flush its directory."""
    path = Path(path)
    try:
        os.unlink(path)
    except FileNotFoundError:
        return
    fsync_directory(path.parent if str(path.parent) else Path("."))
