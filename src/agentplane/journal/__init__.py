"""The journal: append-only, hash-chained event records of runs, with blobs and projections.

The journal knows nothing of agents: it stores events, keeps a run's status and waits in step
with them, and proves afterwards that nothing was changed.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

from agentplane.errors import ConfigError

from .chain import AuditReport, ChainBreak, verify, verify_run
from .events import (
    GENESIS_HASH,
    RUN_STATUSES,
    SCHEMA_VERSION,
    TERMINAL_STATUSES,
    Event,
    EventType,
    NewEvent,
    canonical_json,
    sha256_hex,
    utc_now,
)
from .export import export_run
from .health import JournalHealth, JournalUnavailableError, ReportsHealth
from .sqlite import SQLiteJournal
from .store import (
    JournalError,
    JournalStore,
    LeaseLostError,
    RunExistsError,
    RunNotActiveError,
    RunNotFoundError,
    RunRecord,
    WaitNotOpenError,
    WaitRecord,
)


def open_store(url: str, *, create: bool = True) -> JournalStore:
    """Open a journal store from a URL, written as SQLAlchemy writes them:
    ``sqlite:///relative.db``, ``sqlite:////absolute/path.db``, ``sqlite:///:memory:``, with
    optional ``?synchronous=FULL`` and ``?mode=ro`` (read-only: every write is refused); or a
    plain file path.

    ``create=False`` is for commands that only read: a missing file is a
    :class:`~agentplane.errors.NotFoundError`, and no folder or empty journal is created."""
    if "://" not in url:
        return SQLiteJournal(Path(url).expanduser(), create=create)
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        if parsed.netloc:
            raise ConfigError(f"database URL {url!r} names a host ({parsed.netloc!r}); SQLite "
                              "URLs have three slashes before a relative path, four before an "
                              "absolute one")
        path = parsed.path[1:] or ":memory:"
        options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        unknown = set(options) - {"synchronous", "mode"}
        if unknown:
            raise ConfigError(
                f"unknown option(s) {', '.join(sorted(unknown))} in database URL {url!r}; "
                "SQLite URLs accept ?synchronous=OFF|NORMAL|FULL|EXTRA and ?mode=ro|rw"
            )
        mode = options.get("mode", "rw")
        if mode not in ("ro", "rw"):
            raise ConfigError(f"mode={mode!r} in database URL {url!r}: use mode=ro (read-only) "
                              "or mode=rw")
        return SQLiteJournal(path, synchronous=options.get("synchronous", "NORMAL"),
                             create=create, readonly=mode == "ro")
    raise ConfigError(
        f"database URL {url!r} has scheme {parsed.scheme!r}; supported: sqlite:///PATH "
        "(PostgreSQL support is planned)"
    )


__all__ = [
    "GENESIS_HASH",
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "TERMINAL_STATUSES",
    "AuditReport",
    "ChainBreak",
    "Event",
    "EventType",
    "JournalError",
    "JournalHealth",
    "JournalStore",
    "JournalUnavailableError",
    "LeaseLostError",
    "NewEvent",
    "ReportsHealth",
    "RunExistsError",
    "RunNotActiveError",
    "RunNotFoundError",
    "RunRecord",
    "SQLiteJournal",
    "WaitNotOpenError",
    "WaitRecord",
    "canonical_json",
    "export_run",
    "open_store",
    "sha256_hex",
    "utc_now",
    "verify",
    "verify_run",
]
