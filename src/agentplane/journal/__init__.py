"""The journal: append-only, hash-chained event records of runs, with blobs and projections.

The journal knows nothing of agents: it stores events, keeps a run's status and waits in step
with them, and proves afterwards that nothing was changed.
"""

from __future__ import annotations

from agentplane.errors import ConfigError
from agentplane.storage import parse_url

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


def open_store(url: str, *, create: bool = True, tenant: str | None = None) -> JournalStore:
    """Open a journal store from a URL, written as SQLAlchemy writes them:
    ``sqlite:///relative.db``, ``sqlite:////absolute/path.db``, ``sqlite:///:memory:``, with
    optional ``?synchronous=FULL`` and ``?mode=ro`` (read-only: every write is refused); a plain
    file path; or ``postgresql://USER:PASSWORD@HOST:PORT/DATABASE`` (also ``postgres://``) with
    optional ``?pool_size=N`` (connections, default 10), ``?mode=ro`` and any libpq parameter.

    ``create=False`` is for commands that only read: a missing file (or a PostgreSQL database
    without a journal) is a :class:`~agentplane.errors.NotFoundError`, and nothing is created.
    ``tenant`` (PostgreSQL only) opens the store for one tenant: row-level security then hides
    every other tenant's runs, events and waits, whatever a query asks for."""
    parsed = parse_url(url)
    if parsed.scheme == "postgresql":
        from .postgres import ALL_TENANTS, PostgresJournal

        return PostgresJournal(parsed.raw, create=create, tenant=tenant or ALL_TENANTS)
    if tenant is not None:
        raise ConfigError(f"a journal for one tenant ({tenant!r}) needs PostgreSQL's row-level "
                          f"security; {parsed.safe} is SQLite")
    if "://" not in url:
        return SQLiteJournal(parsed.path, create=create)
    return SQLiteJournal(parsed.path, synchronous=parsed.options.get("synchronous", "NORMAL"),
                         create=create, readonly=parsed.options.get("mode") == "ro")


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
