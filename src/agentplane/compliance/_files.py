"""Appending to the files compliance keeps outside the database (checkpoints, archives)."""

from __future__ import annotations

import os
from pathlib import Path


def append_line(path: str | Path, line: str, *, mode: int = 0o644) -> None:
    """Append one line and flush it to disk before returning (``fsync``): what follows (a
    deletion, the next checkpoint) may rely on it being there."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
