"""The SQLite journal store: the embedded default.

Settings, chosen deliberately:

- ``journal_mode=WAL``: readers (the console, ``runs list``) never block the writer.
- ``synchronous=NORMAL`` by default: in WAL mode a commit is durable against a crash of the
  process (``kill -9``) — what durable runs need — but the last commits may be lost if the
  *machine* loses power before the next checkpoint. Use ``?synchronous=FULL`` in the URL to fsync
  every commit and survive power loss too, at several times the cost per step.
- ``BEGIN IMMEDIATE`` for every write, so concurrent writers (a worker and ``agentplane approvals
  approve`` in another process) serialise on the lock instead of failing mid-transaction, and a
  ``busy_timeout`` so they wait for it.

The connection is used from the event loop's thread only. SQLite calls are short (no network),
so they run inline rather than hopping to a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from agentplane.errors import AgentplaneError
from agentplane.storage import Database, DatabaseNotFoundError, migrate
from agentplane.storage.sqlite import (
    BUSY_TIMEOUT_MS,
    SYNCHRONOUS_MODES,
    SQLiteDatabase,
    connect,
    immediate,
    in_immediate,
)

from . import projection
from .events import (
    GENESIS_HASH,
    TERMINAL_STATUSES,
    WAIT_CLOSE_TYPES,
    WAIT_OPEN_TYPES,
    Event,
    EventType,
    NewEvent,
    canonical_json,
    seal,
    utc_now,
)
from .heads import RunHead, RunHeads, known_applies
from .health import (
    MIN_FREE_BYTES,
    FileIdentity,
    JournalHealth,
    JournalUnavailableError,
    check_same_file,
    free_bytes,
    storage_hint,
)
from .projection import LEASE_ENDING_STATUSES, dumps
from .sqlite_schema import COMPONENT, MIGRATIONS
from .store import (
    JournalError,
    JournalStore,
    LeaseLostError,
    OwnerIsDead,
    RunExistsError,
    RunNotActiveError,
    RunNotFoundError,
    RunRecord,
    WaitRecord,
)

__all__ = ["LEASE_ENDING_STATUSES", "JournalNotFoundError", "SQLiteJournal",
           "checked_write"]


@dataclass(slots=True)
class _Pending:
    """A write waiting for the transaction of its loop tick (see ``SQLiteJournal._flush``)."""

    write: Callable[[sqlite3.Connection], Any]
    done: asyncio.Future[Any]
    isolated: bool
    """Whether ``write`` leaves no trace when it raises anything (a savepoint of its own), not
    only when it refuses with an ``AgentplaneError`` before writing."""


_T = TypeVar("_T")

JournalNotFoundError = DatabaseNotFoundError
"""A command that only reads was pointed at a journal file that does not exist."""


@contextmanager
def checked_write(db: sqlite3.Connection, path: str, opened: FileIdentity | None
                  ) -> Iterator[sqlite3.Connection]:
    """``immediate``, on the file the connection opened (``opened``) — refused if that file was
    removed or replaced, since writes would go to a file nobody reads again; SQLite's
    operational failures (read-only, disk full, I/O) become ``JournalUnavailableError``."""
    check_same_file(path, opened)
    try:
        with immediate(db) as conn:
            yield conn
    except sqlite3.OperationalError as exc:
        raise _unavailable(path, exc) from exc


def write_checked(db: sqlite3.Connection, path: str, opened: FileIdentity | None,
                  write: Callable[[sqlite3.Connection], _T]) -> _T:
    """``write(db)`` under ``checked_write``'s guard, as one plain call: the appends' way."""
    check_same_file(path, opened)
    try:
        return in_immediate(db, write)
    except sqlite3.OperationalError as exc:
        raise _unavailable(path, exc) from exc


def _unavailable(path: str, exc: sqlite3.OperationalError) -> JournalUnavailableError:
    return JournalUnavailableError(f"the journal {path} cannot be written ({exc}): "
                                   f"{storage_hint(str(exc))}")


_MOVE_HEAD = {
    (changed, ended): "UPDATE runs SET last_seq = ?, head_hash = ?, updated_at = ?"
    + (", status = ?" if changed else "")
    + (", lease_owner = NULL, lease_until = NULL" if ended else "")
    + " WHERE id = ? AND last_seq = ? AND head_hash = ? AND status = ? AND lease_owner IS ?"
    for changed in (False, True) for ended in (False, True)}
"""``_append_known``'s head update, by (whether the status changes, whether the lease ends):
it matches only a run still exactly at the remembered head."""


class _SharedDatabase(SQLiteDatabase):
    """The journal's connection as a :class:`Database` for the other components' tables: their
    writes take the same guard as the journal's own (``checked_write``)."""

    def __init__(self, journal: SQLiteJournal) -> None:
        super().__init__(journal.path, readonly=journal.readonly, connection=journal._db)
        self._journal = journal

    def _begin(self) -> contextlib.AbstractContextManager[object]:
        return self._journal._write()

    def close(self) -> None:
        """The journal closes the connection; its users do not."""


class SQLiteJournal(JournalStore):
    """Journal in one SQLite file (or ``:memory:``)."""

    def __init__(self, path: str | Path, *, synchronous: str = "NORMAL",
                 group_commit: bool = True, create: bool = True,
                 readonly: bool = False) -> None:
        mode = synchronous.upper()
        if mode not in SYNCHRONOUS_MODES:
            raise JournalError(
                f"synchronous={synchronous!r} is not a SQLite synchronous mode; "
                f"use one of {', '.join(SYNCHRONOUS_MODES)}"
            )
        self.path = str(path)
        self.synchronous = mode
        self.group_commit = group_commit
        """Whether appends made in the same event-loop tick share one transaction."""
        self._pending: list[_Pending] = []
        self._heads = RunHeads()
        """The heads of the runs this store last appended to (see ``_append_known``)."""
        self._tick_task: asyncio.Task[Any] | None = None
        self.url = f"sqlite:///{self.path}"
        self.readonly = readonly
        """Opened with ``?mode=ro``: every write fails with SQLite's "readonly database"."""
        self._db = connect(self.path, synchronous=mode, create=create, readonly=readonly)
        self._opened = None if self.path == ":memory:" else FileIdentity.of(self.path)
        self._database = _SharedDatabase(self)
        try:  # a writer brings the tables up to date; a reader refuses an older schema
            migrate(self._database, COMPONENT, MIGRATIONS)
        except BaseException:
            self._db.close()
            raise
        self.min_free_bytes = MIN_FREE_BYTES
        """Less free disk than this (bytes) makes ``health()`` unhealthy."""

    @property
    def database(self) -> Database:
        return self._database

    # -- transactions -------------------------------------------------------------------------

    def _write(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return checked_write(self._db, self.path, self._opened)

    async def health(self) -> JournalHealth:
        """Whether the journal can take writes now, and why not."""
        free = None if self._opened is None else free_bytes(self.path)
        present, writable, problem = True, True, None
        try:
            check_same_file(self.path, self._opened)
        except JournalUnavailableError as exc:
            present, writable, problem = False, False, str(exc)
        else:
            self._db.execute("PRAGMA busy_timeout=2000")  # a probe, not a writer: wait less
            try:
                with immediate(self._db):  # takes the write lock, writes nothing
                    pass
            except sqlite3.Error as exc:
                if "locked" not in str(exc):  # busy with another writer is not broken
                    writable, problem = False, f"the journal {self.url} cannot be written: {exc}"
            finally:
                self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if problem is None and free is not None and free < self.min_free_bytes:
            problem = (f"only {free // 1_048_576} MiB free on the journal's disk (at least "
                       f"{self.min_free_bytes // 1_048_576} MiB needed); free some space")
        return JournalHealth(self.url, present, writable, free, problem)

    # -- blobs --------------------------------------------------------------------------------

    @staticmethod
    def _store_value(db: sqlite3.Connection, value: Any) -> str:
        digest, body = projection.blob(value)
        db.execute("INSERT OR IGNORE INTO blobs(hash, body) VALUES (?, ?)", (digest, body))
        return digest

    def _resolve(self, data: dict[str, Any]) -> dict[str, Any]:
        bodies = {d: t for d in projection.blob_refs(data)
                  if (t := self._blob_text(d)) is not None}
        return projection.resolve(data, bodies)

    async def put_blob(self, value: Any) -> str:
        with self._write() as db:
            return self._store_value(db, value)

    async def get_blob(self, digest: str) -> Any:
        return projection.blob_json(digest, await self.blob_text(digest), self.url)

    async def blob_text(self, digest: str) -> str | None:
        return self._blob_text(digest)

    def _blob_text(self, digest: str) -> str | None:
        row = self._db.execute("SELECT body FROM blobs WHERE hash = ?", (digest,)).fetchone()
        return None if row is None else str(row[0])

    # -- runs and events ----------------------------------------------------------------------

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
        now = utc_now()
        input, meta, created = projection.created_event(
            workflow=workflow, workflow_hash=workflow_hash, input=input, meta=meta, tenant=tenant)
        row = (run_id, workflow, workflow_hash, "pending", tenant, now, now, dumps(input),
               dumps(meta), 0, GENESIS_HASH, lease_owner,
               time.time() + lease_seconds if lease_owner else None)
        # Runs started together (a burst of ``Runtime.start``) share one transaction.
        written = await self._grouped(
            partial(self._create_locked, row=row, events=[created, *events]), isolated=True)
        if events:  # waits among them move the status and wake time: read what they made
            return await self.require_run(run_id)
        # The row as written, with the head its first event moved: what a read would return.
        last = written[-1]
        return self._run((*row[:6], last.time, *row[7:9], last.seq, last.hash, *row[11:], None))

    def _create_locked(self, db: sqlite3.Connection, *, row: tuple[Any, ...],
                       events: Sequence[NewEvent]) -> list[Event]:
        """Insert a run and its first events, in a savepoint: a refused or failed create
        leaves no trace in the transaction it shares with others."""
        run_id = row[0]
        db.execute("SAVEPOINT run_create")
        try:
            try:
                db.execute(
                    "INSERT INTO runs(id, workflow, workflow_hash, status, tenant, created_at,"
                    " updated_at, input, meta, last_seq, head_hash, lease_owner, lease_until)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", row)
            except sqlite3.IntegrityError:
                if db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                    raise RunExistsError(
                        f"a run with id {run_id!r} already exists; choose another --run-id "
                        "or resume it with `agentplane resume`") from None
                raise
            # The run is exactly as just inserted: its first append needs no read of it.
            self._heads.remember(run_id, row[3], row[9], row[10], row[11])
            written = self._append_locked(db, run_id, events, owner=None,
                                          require_active=False)
        except BaseException:
            db.execute("ROLLBACK TO run_create")
            db.execute("RELEASE run_create")
            self._heads.pop(run_id, None)
            raise
        db.execute("RELEASE run_create")
        return written

    async def append(
        self,
        run_id: str,
        events: Sequence[NewEvent],
        *,
        owner: str | None = None,
        require_active: bool = False,
    ) -> list[Event]:
        return await self._grouped(partial(self._append_locked, run_id=run_id, events=events,
                                           owner=owner, require_active=require_active))

    async def _grouped(self, write: Callable[[sqlite3.Connection], _T], *,
                       isolated: bool = False) -> _T:
        """Make ``write`` in a transaction: at once for the first task in a loop tick, else in
        the one transaction of the tick's other writes (``_flush``)."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        if not self.group_commit or self._tick_task is None or self._tick_task is task:
            # The first task to write in a loop tick commits at once (no wait for a flush);
            # writes by other tasks in the same tick are grouped into one transaction.
            if self.group_commit and self._tick_task is None:
                self._tick_task = task
                loop.call_soon(self._end_tick)
            return write_checked(self._db, self.path, self._opened, write)
        done: asyncio.Future[_T] = loop.create_future()
        self._pending.append(_Pending(write, done, isolated))
        if len(self._pending) == 1:
            loop.call_soon(self._flush)
        return await done

    def _end_tick(self) -> None:
        self._tick_task = None

    def _flush(self) -> None:
        """Commit every write (appends, run creations) that arrived in this loop tick in one
        transaction.

        ``_append_locked`` checks everything that can refuse an append before writing any of
        it, and a creation writes in a savepoint, so a refused write (a lost lease, a wait
        already resolved, a run id taken) leaves no trace and the others go on. Callers resume
        only after the commit: a write that returned is durable, exactly as without grouping.
        """
        batch, self._pending = self._pending, []
        outcomes: list[tuple[_Pending, Any]] = []

        def write_all(db: sqlite3.Connection) -> None:
            for item in batch:
                try:
                    outcomes.append((item, item.write(db)))
                except AgentplaneError as exc:  # refused before any write
                    outcomes.append((item, exc))
                except Exception as exc:
                    if not item.isolated:
                        raise
                    outcomes.append((item, exc))

        try:
            write_checked(self._db, self.path, self._opened, write_all)
        except Exception as exc:  # the transaction failed: nothing in the batch was written
            outcomes = [(item, exc) for item in batch]
        for item, outcome in outcomes:
            if item.done.cancelled():
                continue
            if isinstance(outcome, BaseException):
                item.done.set_exception(outcome)
            else:
                item.done.set_result(outcome)

    def _append_locked(
        self,
        db: sqlite3.Connection,
        run_id: str,
        events: Sequence[NewEvent],
        *,
        owner: str | None,
        require_active: bool,
    ) -> list[Event]:
        known = self._heads.get(run_id)
        if known is not None and known_applies(events):
            appended = self._append_known(db, run_id, events, known, owner=owner,
                                          require_active=require_active)
            if appended is not None:
                return appended
            del self._heads[run_id]  # the run moved on (or an append check failed): read it
        # Phase 1 checks and encodes everything; it writes nothing, so a refusal leaves no trace.
        row = db.execute(
            "SELECT status, last_seq, head_hash, lease_owner FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        if row is None:
            raise RunNotFoundError(f"no run with id {run_id!r} in {self.url}")
        status, seq, head, lease_owner = row
        status_before = status
        if owner is not None and lease_owner != owner:
            raise LeaseLostError(f"run {run_id} is now leased by {lease_owner or 'nobody'}")
        if require_active and (status in TERMINAL_STATUSES or status == "needs_reconciliation"):
            raise RunNotActiveError(run_id, status)
        projection.check_waits(run_id, events, lambda wait_id: db.execute(
            "SELECT status, run_id FROM waits WHERE id = ?", (wait_id,)).fetchone())
        encoded = [projection.encode(new.data) for new in events]
        # Phase 2 writes.
        written: list[Event] = []
        waits_touched = False
        for new, (stored, data_json, blobs) in zip(events, encoded, strict=True):
            if blobs:
                db.executemany("INSERT OR IGNORE INTO blobs(hash, body) VALUES (?, ?)", blobs)
            seq += 1
            event = seal(run_id, seq, head, new, stored, data_json)
            head = event.hash
            self._insert_event(db, event, data_json)
            status, touched = self._project(db, run_id, status, new, event.time)
            waits_touched = waits_touched or touched
            written.append(event)
        when = written[-1].time if written else utc_now()
        if status == status_before:  # leave the status index alone when it does not change
            db.execute("UPDATE runs SET last_seq = ?, head_hash = ?, updated_at = ? WHERE id = ?",
                       (seq, head, when, run_id))
        else:
            db.execute("UPDATE runs SET last_seq = ?, head_hash = ?, status = ?, updated_at = ?"
                       " WHERE id = ?", (seq, head, status, when, run_id))
        if status in LEASE_ENDING_STATUSES:
            db.execute("UPDATE runs SET lease_owner = NULL, lease_until = NULL WHERE id = ?",
                       (run_id,))
        if waits_touched:
            db.execute(
                "UPDATE runs SET wake_at = (SELECT MIN(deadline) FROM waits WHERE run_id = ?"
                " AND status = 'open') WHERE id = ?",
                (run_id, run_id),
            )
        self._heads.remember(run_id, status, seq, head,
                             None if status in LEASE_ENDING_STATUSES else lease_owner)
        return written

    def _append_known(
        self,
        db: sqlite3.Connection,
        run_id: str,
        events: Sequence[NewEvent],
        known: RunHead,
        *,
        owner: str | None,
        require_active: bool,
    ) -> list[Event] | None:
        """Append given the run's head as this store last wrote it (``known``), with no read:
        the head ``UPDATE`` is the first write and matches only if the run is still exactly
        that (same ``last_seq``, head hash, status and lease holder), so the lease and the
        status are checked inside the write. Returns None, having written nothing, when it
        does not match or a check refuses on what may be stale: the reading path decides."""
        if owner is not None and known.lease_owner != owner:
            return None
        if require_active and (known.status in TERMINAL_STATUSES
                               or known.status == "needs_reconciliation"):
            return None
        try:
            encoded = [projection.encode(new.data) for new in events]
        except AgentplaneError:  # refused: the reading path refuses it with the run's state
            return None
        status, seq, head = known.status, known.seq, known.head
        written: list[Event] = []
        for new, (stored, data_json, _) in zip(events, encoded, strict=True):
            seq += 1
            event = seal(run_id, seq, head, new, stored, data_json)
            head = event.hash
            status = projection.status_after(status, new)
            written.append(event)
        if not written:
            return None
        ended = status in LEASE_ENDING_STATUSES
        was = (run_id, known.seq, known.head, known.status, known.lease_owner)
        if status == known.status:  # the status index is left alone when it does not change
            moved = db.execute(_MOVE_HEAD[False, ended],
                               (seq, head, written[-1].time, *was)).rowcount
        else:
            moved = db.execute(_MOVE_HEAD[True, ended],
                               (seq, head, written[-1].time, status, *was)).rowcount
        if moved != 1:
            return None
        for event, (_, data_json, blobs) in zip(written, encoded, strict=True):
            if blobs:
                db.executemany("INSERT OR IGNORE INTO blobs(hash, body) VALUES (?, ?)", blobs)
            self._insert_event(db, event, data_json)
        self._heads.remember(run_id, status, seq, head, None if ended else known.lease_owner)
        return written

    @staticmethod
    def _insert_event(db: sqlite3.Connection, event: Event, data_json: str) -> None:
        db.execute(
            "INSERT INTO events(run_id, seq, time, type, actor, step_key, data, usage,"
            " prev_hash, hash, schema) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (event.run_id, event.seq, event.time, event.type, event.actor, event.step_key,
             data_json,
             # the usage's canonical text (orjson), as hashed, instead of a second encoder
             None if event.usage is None else canonical_json(event.usage), event.prev_hash,
             event.hash, event.schema),
        )

    def _project(
        self, db: sqlite3.Connection, run_id: str, status: str, new: NewEvent, when: str
    ) -> tuple[str, bool]:
        """Apply one event to the projections (rules in ``projection``); returns the new run
        status and whether waits changed."""
        if new.type in WAIT_OPEN_TYPES:
            db.execute(
                "INSERT INTO waits(id, run_id, step_key, kind, status, created_at, deadline, data)"
                " VALUES (?,?,?,?,?,?,?,?)", projection.opened_wait(run_id, new, when))
            return status, True
        if new.type in WAIT_CLOSE_TYPES:
            db.execute(
                "UPDATE waits SET status = 'resolved', resolution = ? WHERE id = ? AND run_id = ?"
                " AND status = 'open'",
                (projection.resolution(new), str(new.data["wait_id"]), run_id),
            )
            return projection.status_after(status, new), True
        resolved = False
        if new.type == EventType.RUN_WAITING and (ids := projection.awaited(new)):
            marks = ",".join("?" * len(ids))
            resolved = db.execute(
                f"SELECT 1 FROM waits WHERE id IN ({marks}) AND status = 'resolved' LIMIT 1",
                ids,
            ).fetchone() is not None
        return projection.status_after(status, new, awaited_resolved=resolved), False

    async def events(
        self, run_id: str, *, after_seq: int = 0, resolve_blobs: bool = True
    ) -> list[Event]:
        rows = self._db.execute(
            f"SELECT {projection.EVENT_COLUMNS} FROM events WHERE run_id = ? AND seq > ?"
            " ORDER BY seq",
            (run_id, after_seq),
        ).fetchall()
        out = []
        for r in rows:
            event = projection.event_from_row(r, revealed=resolve_blobs)
            if resolve_blobs:
                event = replace(event, data=self._resolve(event.data))
            out.append(event)
        return out

    _run = staticmethod(projection.run_from_row)
    _RUN_COLUMNS = projection.RUN_COLUMNS

    async def events_since(self, cursor: int, *, limit: int = 10_000
                           ) -> tuple[list[Event], int]:
        rows = self._db.execute(
            f"SELECT rowid, {projection.EVENT_COLUMNS} FROM events WHERE rowid > ?"
            " ORDER BY rowid LIMIT ?", (cursor, limit),
        ).fetchall()
        out = []
        for r in rows:
            event = projection.event_from_row(r[1:], revealed=True)
            out.append(replace(event, data=self._resolve(event.data)))
        return out, (rows[-1][0] if rows else cursor)

    async def recent_events(self, types: Sequence[str], *, window: int = 2_000
                            ) -> list[Event]:
        marks = ", ".join("?" for _ in types)
        rows = self._db.execute(  # a rowid range: at most ``window`` rows are looked at
            f"SELECT {projection.EVENT_COLUMNS} FROM events WHERE rowid > "
            "(SELECT COALESCE(MAX(rowid), 0) FROM events) - ? AND type IN (" + marks + ")"
            " ORDER BY rowid", (window, *types)).fetchall()
        return [replace(e, data=self._resolve(e.data))
                for e in map(projection.event_from_row, rows)]

    async def run_status(self, run_id: str) -> str | None:
        row = self._db.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else str(row[0])

    async def get_run(self, run_id: str) -> RunRecord | None:
        row = self._db.execute(
            f"SELECT {self._RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        return None if row is None else self._run(row)

    async def list_runs(
        self,
        *,
        statuses: Sequence[str] | None = None,
        workflow: str | None = None,
        tenant: str | None = None,
        search: str | None = None,
        limit: int = 100,
    ) -> list[RunRecord]:
        sql, args = projection.runs_query(statuses=statuses, workflow=workflow, tenant=tenant,
                                          search=search, limit=limit)
        rows = self._db.execute(sql, args).fetchall()
        return [self._run(r) for r in rows]

    async def all_run_ids(self) -> list[str]:
        rows = self._db.execute(
            "SELECT id FROM runs UNION SELECT DISTINCT run_id FROM events ORDER BY 1"
        ).fetchall()
        return [str(r[0]) for r in rows]  # (an id edited into a BLOB is named, not crashed on)

    # -- leases -------------------------------------------------------------------------------

    async def claim(
        self,
        owner: str,
        *,
        lease_seconds: float,
        limit: int = 100,
        run_id: str | None = None,
        owner_is_dead: OwnerIsDead | None = None,
    ) -> list[RunRecord]:
        now = time.time()
        with self._write() as db:
            sql = (
                f"SELECT {self._RUN_COLUMNS} FROM runs WHERE status IN ('pending', 'running')"
                + (" AND id = ?" if run_id else "")
                + " ORDER BY created_at"
            )
            candidates = [self._run(r) for r in db.execute(sql, (run_id,) if run_id else ())]
            taken: list[RunRecord] = []
            for run in candidates:
                if not projection.lease_is_free(run, owner, now, owner_is_dead):
                    continue
                until = now + lease_seconds
                db.execute("UPDATE runs SET lease_owner = ?, lease_until = ? WHERE id = ?",
                           (owner, until, run.id))
                taken.append(replace(run, lease_owner=owner, lease_until=until))
                if len(taken) >= limit:
                    break
        return taken

    async def renew(self, owner: str, run_ids: Sequence[str], *, lease_seconds: float) -> None:
        if not run_ids:
            return
        with self._write() as db:
            db.executemany(
                "UPDATE runs SET lease_until = ? WHERE id = ? AND lease_owner = ?",
                [(time.time() + lease_seconds, rid, owner) for rid in run_ids],
            )

    async def release(self, owner: str, run_id: str) -> None:
        self._heads.pop(run_id, None)
        with self._write() as db:
            db.execute(
                "UPDATE runs SET lease_owner = NULL, lease_until = NULL"
                " WHERE id = ? AND lease_owner = ?",
                (run_id, owner),
            )

    # -- waits --------------------------------------------------------------------------------

    _wait = staticmethod(projection.wait_from_row)
    _WAIT_COLUMNS = projection.WAIT_COLUMNS

    async def waits(
        self,
        *,
        run_id: str | None = None,
        status: str | None = "open",
        kind: str | None = None,
    ) -> list[WaitRecord]:
        sql, args = projection.waits_query(run_id=run_id, status=status, kind=kind)
        rows = self._db.execute(sql, args).fetchall()
        return [self._wait(r) for r in rows]

    async def get_wait(self, wait_id: str) -> WaitRecord | None:
        row = self._db.execute(
            f"SELECT {self._WAIT_COLUMNS} FROM waits WHERE id = ?", (wait_id,)
        ).fetchone()
        return None if row is None else self._wait(row)

    async def due_waits(self, now: float) -> list[WaitRecord]:
        rows = self._db.execute(
            f"SELECT {self._WAIT_COLUMNS} FROM waits WHERE status = 'open'"
            " AND deadline IS NOT NULL AND deadline <= ? ORDER BY deadline",
            (now,),
        ).fetchall()
        return projection.due_from_rows(rows)

    async def close(self) -> None:
        self._db.close()
