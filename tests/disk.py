"""A full disk for tests: ``fill(ballast)`` writes `ballast` until its file system (a small tmpfs
the test mounted) has no byte left, then gives `room` bytes back by truncating it; unlinking the
ballast frees the disk again."""

from __future__ import annotations

import os
from pathlib import Path


def fill(ballast: Path | str, room: int = 0) -> None:
    with open(ballast, "wb", buffering=0) as f:
        for size in (1 << 20, 4096, 1):  # big writes, then to the last byte
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError:
                pass
    if room:
        os.truncate(ballast, max(0, os.path.getsize(ballast) - room))
