"""Whether a journal can take writes: its file is still the one it opened, it is writable, and
there is room on its disk.

A SQLite connection keeps writing to the file it opened even after that file was deleted or
replaced on disk; every commit would then succeed and be lost at the next restart. So a store
remembers the identity (device, inode) of the file it opened and refuses writes, loudly, once
the path names another file or none.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .store import JournalError

MIN_FREE_BYTES = 64 * 1024 * 1024
"""Below this much free space (bytes) on the journal's disk, the journal reports unhealthy."""


class JournalUnavailableError(JournalError):
    """The journal cannot take writes now (file removed or replaced, read-only, disk full).
    Nothing was written; the caller may try again once the cause is fixed."""


def storage_hint(reason: str) -> str:
    """What to do about a storage failure, from the database's own ``reason`` text."""
    if "readonly" in reason or "read-only" in reason:
        return ("the journal is read-only (opened with ?mode=ro, or its file or folder cannot "
                "be written); use a writable --db, or only commands that read")
    if "full" in reason:
        return ("the disk holding the journal is full; free space, then `agentplane resume` "
                "finishes the runs that were under way")
    if "no such table" in reason:
        return ("the file lacks tables Agentplane keeps there: it is not a journal, or it is "
                "open read-only (?mode=ro) and nothing has created them yet")
    if "locked" in reason or "busy" in reason:
        return "another process holds the journal's write lock; retry when it is done"
    return "check that --db names an Agentplane journal on a disk that can be written"


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """Which file a path named when it was opened."""

    device: int
    inode: int

    @classmethod
    def of(cls, path: str | Path) -> FileIdentity | None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        return cls(st.st_dev, st.st_ino)


def check_same_file(path: str, opened: FileIdentity | None) -> None:
    """Raise ``JournalUnavailableError`` if ``path`` no longer names the file opened as
    ``opened`` (``None``: an in-memory database, nothing to check)."""
    if opened is None:
        return
    try:  # one stat per write transaction, compared field by field (nothing built)
        now = os.stat(path)
    except FileNotFoundError:
        raise JournalUnavailableError(
            f"the journal file {path} was removed while in use; writes are refused so that "
            "nothing accepted is lost — restore the file (or restart to start a new journal)"
        ) from None
    if now.st_ino != opened.inode or now.st_dev != opened.device:
        raise JournalUnavailableError(
            f"the journal file {path} was replaced by another file while in use; writes are "
            "refused so that nothing accepted is lost — restart to use the new file")


@dataclass(frozen=True, slots=True)
class JournalHealth:
    """What ``/health`` says about the journal."""

    url: str
    present: bool
    """The file the store opened is still at its path."""
    writable: bool
    """A write transaction can be taken (not read-only, not locked out)."""
    free_bytes: int | None
    """Free space on the journal's disk (bytes), or None where unknown (in memory)."""
    problem: str | None = None
    """Why the journal is unhealthy, in words."""

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_json(self) -> dict[str, Any]:
        # not the URL: a database URL may carry a password, and /health needs no key
        return {"ok": self.ok, "present": self.present,
                "writable": self.writable, "free_bytes": self.free_bytes,
                "problem": self.problem}


def free_bytes(path: str) -> int | None:
    try:
        return shutil.disk_usage(Path(path).parent).free
    except OSError:
        return None


@runtime_checkable
class ReportsHealth(Protocol):
    """A store that can say whether it can take writes."""

    async def health(self) -> JournalHealth: ...
