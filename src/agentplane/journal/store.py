"""The journal store interface.

One interface, several back-ends (SQLite now, PostgreSQL next), and one conformance suite
(``tests/journal/conformance.py``) that every back-end must pass. A store keeps three things:

- the append-only ``events`` of every run, hash-chained per run;
- content-addressed ``blobs`` for large values, so a run's storage grows with what is new;
- projections kept in the same transaction as the events that drive them: the ``runs`` table
  (status, lease, chain head) and the ``waits`` table (open and resolved durable waits).

The projections are derived from events only: there is no way to change a run's status without
journaling why.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentplane.errors import AgentplaneError, NotFoundError
from agentplane.storage import Database

from .events import Event, NewEvent

BLOB_THRESHOLD = 1024
"""Top-level data values whose JSON is longer than this many characters go to the blob table."""


class JournalError(AgentplaneError):
    """The journal refused a write."""


class RunExistsError(JournalError):
    """A run with this id already exists."""


class RunNotFoundError(NotFoundError):
    """No run with this id."""


class LeaseLostError(JournalError):
    """Another worker holds the run's lease now; this worker must stop working on it."""


class RunNotActiveError(JournalError):
    """The run is finished, cancelled or awaiting reconciliation: no new step may start."""

    def __init__(self, run_id: str, status: str) -> None:
        super().__init__(f"run {run_id} is {status}; no new step may start")
        self.run_id = run_id
        self.status = status


class CorruptRecordError(JournalError):
    """A stored row cannot be read back: it was damaged or edited by hand into something the
    journal never writes (the message names the record and the column)."""

    def __init__(self, record: str, reason: str) -> None:
        super().__init__(f"{record} cannot be read: {reason}")
        self.reason = reason


class CorruptEventError(CorruptRecordError):
    """A stored event cannot be read back."""

    def __init__(self, run_id: str, seq: int | None, reason: str) -> None:
        """``seq``: None when the row's own seq is not a number."""
        super().__init__(f"{'an event' if seq is None else f'event {seq}'} of run {run_id}",
                         reason)
        self.run_id = run_id
        self.seq = seq


class CorruptRunError(CorruptRecordError):
    """A run's record cannot be read back."""

    def __init__(self, run_id: str, reason: str) -> None:
        super().__init__(f"the record of run {run_id}", reason)
        self.run_id = run_id


class CorruptWaitError(CorruptRecordError):
    """A wait's row (an approval, a signal, a timer) cannot be read back."""

    def __init__(self, wait_id: str, reason: str) -> None:
        super().__init__(f"the wait {wait_id}", reason)
        self.wait_id = wait_id


class WaitNotOpenError(JournalError):
    """The wait (e.g. an approval) was already resolved, or never existed."""


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run as the ``runs`` projection shows it."""

    id: str
    workflow: str
    """Workflow name."""
    workflow_hash: str
    """SHA-256 of the workflow version the run is pinned to."""
    status: str
    tenant: str
    created_at: str
    updated_at: str
    input: Any
    meta: dict[str, Any]
    """What the runtime needs to resume the run (pinned spec blob, base folder, ...)."""
    last_seq: int
    head_hash: str
    lease_owner: str | None = None
    lease_until: float | None = None
    """Unix time (seconds) the lease expires."""
    wake_at: float | None = None
    """Unix time (seconds) of the earliest open wait's deadline."""

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "workflow": self.workflow,
            "workflow_hash": self.workflow_hash,
            "status": self.status,
            "tenant": self.tenant,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class WaitRecord:
    """A durable wait (a signal, a timer, an approval) as the ``waits`` projection shows it."""

    id: str
    run_id: str
    step_key: str
    kind: str
    status: str
    """``open`` or ``resolved``."""
    created_at: str
    deadline: float | None
    """Unix time (seconds) after which the wait expires, or None."""
    data: dict[str, Any] = field(default_factory=dict)
    resolution: dict[str, Any] | None = None


OwnerIsDead = Callable[[str], bool]


class JournalStore(ABC):
    """Where events, blobs and their projections live."""

    url: str

    @property
    @abstractmethod
    def database(self) -> Database:
        """The store's synchronous handle on the same database, through which the other
        components (usage ledger, API keys, registry, telemetry cursors) keep their tables and
        transactions. It belongs to the store: its users never close it."""

    @abstractmethod
    async def create_run(
        self,
        *,
        run_id: str,
        workflow: str,
        workflow_hash: str,
        input: Any,
        meta: dict[str, Any],
        tenant: str = "default",
        events: Sequence[NewEvent] = (),
        lease_owner: str | None = None,
        lease_seconds: float = 0.0,
    ) -> RunRecord:
        """Create a run and append its first events in one transaction.

        With ``lease_owner`` the new run is leased to that worker at once (for ``lease_seconds``).
        Raises ``RunExistsError`` if the id is taken.
        """

    @abstractmethod
    async def append(
        self,
        run_id: str,
        events: Sequence[NewEvent],
        *,
        owner: str | None = None,
        require_active: bool = False,
    ) -> list[Event]:
        """Append events to a run's journal atomically and update the projections.

        ``owner``: refuse (``LeaseLostError``) unless this worker holds the run's lease.
        ``require_active``: refuse (``RunNotActiveError``) if the run is finished, cancelled or
        awaiting reconciliation — used for events that start new work, never for completions.
        """

    @abstractmethod
    async def events(
        self, run_id: str, *, after_seq: int = 0, resolve_blobs: bool = True
    ) -> list[Event]:
        """A run's events in order; ``resolve_blobs`` replaces blob references by their values."""

    @abstractmethod
    async def events_since(self, cursor: int, *, limit: int = 10_000
                           ) -> tuple[list[Event], int]:
        """Events of every run in the order they were committed, after ``cursor`` (0 = from
        the start); returns them and the cursor to pass next time. For consumers that follow
        the journal, such as metering."""

    async def recent_events(self, types: Sequence[str], *, window: int = 2_000
                            ) -> list[Event]:
        """The events of ``types`` among the last ``window`` committed (oldest first): a
        bounded look at the tail, never a scan (e.g. the router's view of models' health).
        A store that cannot look cheaply gives none."""
        return []

    @abstractmethod
    async def get_run(self, run_id: str) -> RunRecord | None: ...

    @abstractmethod
    async def run_status(self, run_id: str) -> str | None:
        """Just the run's status (cheap: checked before every model call)."""

    @abstractmethod
    async def list_runs(
        self,
        *,
        statuses: Sequence[str] | None = None,
        workflow: str | None = None,
        tenant: str | None = None,
        search: str | None = None,
        limit: int = 100,
    ) -> list[RunRecord]:
        """Runs, newest first; ``search`` matches part of the run id or the workflow name."""

    @abstractmethod
    async def all_run_ids(self) -> list[str]:
        """Every run id, including ids that have events but no ``runs`` row (for audit)."""

    @abstractmethod
    async def put_blob(self, value: Any) -> str:
        """Store a JSON value; returns its SHA-256 (of the canonical JSON)."""

    @abstractmethod
    async def get_blob(self, digest: str) -> Any: ...

    @abstractmethod
    async def blob_text(self, digest: str) -> str | None:
        """The stored canonical JSON of a blob, or None (for audit)."""

    @abstractmethod
    async def claim(
        self,
        owner: str,
        *,
        lease_seconds: float,
        limit: int = 100,
        run_id: str | None = None,
        owner_is_dead: OwnerIsDead | None = None,
    ) -> list[RunRecord]:
        """Lease runnable runs (``pending``, or ``running`` with an expired or dead lease)."""

    @abstractmethod
    async def renew(self, owner: str, run_ids: Sequence[str], *, lease_seconds: float) -> None: ...

    @abstractmethod
    async def release(self, owner: str, run_id: str) -> None: ...

    @abstractmethod
    async def waits(
        self,
        *,
        run_id: str | None = None,
        status: str | None = "open",
        kind: str | None = None,
    ) -> list[WaitRecord]: ...

    @abstractmethod
    async def get_wait(self, wait_id: str) -> WaitRecord | None: ...

    @abstractmethod
    async def due_waits(self, now: float) -> list[WaitRecord]:
        """Open waits whose deadline has passed."""

    @abstractmethod
    async def close(self) -> None: ...

    async def wait_for_change(self, timeout: float) -> bool:
        """Wait until another process may have changed the journal (a run created or made
        runnable, a wait resolved, events appended), or ``timeout`` seconds; returns whether it
        was woken. Stores that cannot be told (SQLite) sleep the whole timeout and return
        False, so callers poll; PostgreSQL is woken by ``LISTEN/NOTIFY``."""
        await asyncio.sleep(timeout)
        return False

    async def require_run(self, run_id: str) -> RunRecord:
        run = await self.get_run(run_id)
        if run is None:
            raise RunNotFoundError(
                f"no run with id {run_id!r} in {self.url}; `agentplane runs list` shows the runs"
            )
        return run
