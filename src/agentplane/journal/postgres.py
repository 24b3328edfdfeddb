"""The PostgreSQL journal store: many processes on many machines, one database.

psycopg 3, asynchronous, through a ``psycopg_pool.AsyncConnectionPool`` (``?pool_size=N`` in
the URL, default 10) opened lazily on first use in the running event loop; the schema is
created and upgraded at construction through the synchronous ``storage`` handle.

- **Appends** made while a transaction is in flight are grouped into the next one (group
  commit). A transaction locks the runs it appends to (``SELECT ... FOR UPDATE``, in id order so
  two writers never deadlock), checks every append against the locked state — a refused one
  writes nothing and the others go on — then writes events, blobs (``ON CONFLICT DO NOTHING``)
  and the projections, and ``NOTIFY agentplane, '<run id>'``. ``(run_id, seq)`` is the primary
  key, so two writers can never fork a chain.
- **events_since** must not skip an event although transactions commit out of the order they
  began in: each event records its transaction id (``tx``) and an insertion ``position``; only
  events of transactions older than every transaction still running
  (``pg_snapshot_xmin(pg_current_snapshot())``) are read, ordered by ``(tx, position)``, whole
  transactions per page, and the cursor is the last transaction id read.
- **claim** takes runs with ``FOR UPDATE SKIP LOCKED``: many workers never take the same run and
  never wait on each other.
- **wait_for_change** listens on one dedicated connection (``LISTEN agentplane``).
- A broken connection (server restart, killed backend) fails the operation with
  ``JournalUnavailableError`` — an append's transaction rolled back, nothing half-written — and
  the pool drops broken connections so the next operation works once the server is back. A
  failed read is retried once.
- Row-level security: the store's tenant (``*``, every tenant, unless opened for one) is the
  ``agentplane.tenant`` setting of each of its connections, set when the connection is made, so
  no query of the store can run without it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

import psycopg
from psycopg_pool import AsyncConnectionPool

from agentplane.errors import AgentplaneError, ConfigError
from agentplane.storage import DatabaseNotFoundError, migrate, parse_url, schema_versions
from agentplane.storage.postgres import PostgresDatabase

from . import projection
from .events import (
    GENESIS_HASH,
    TERMINAL_STATUSES,
    WAIT_CLOSE_TYPES,
    WAIT_OPEN_TYPES,
    Event,
    EventType,
    NewEvent,
    seal,
    utc_now,
)
from .health import JournalHealth, JournalUnavailableError
from .postgres_schema import COMPONENT, MIGRATIONS, TENANT_SETTING
from .projection import EVENT_COLUMNS, LEASE_ENDING_STATUSES, RUN_COLUMNS, WAIT_COLUMNS, dumps
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

T = TypeVar("T")
Conn = psycopg.AsyncConnection[Any]

CHANNEL = "agentplane"
"""The ``LISTEN/NOTIFY`` channel; the payload is the id of the run that changed."""
DEFAULT_POOL_SIZE = 10
POOL_TIMEOUT = 10.0
"""Seconds an operation waits for a connection before failing (server down or pool busy)."""
ALL_TENANTS = "*"
_OPTIONS = {"pool_size", "mode"}
_BROKEN = (psycopg.OperationalError, psycopg.InterfaceError)


@dataclass(slots=True)
class _Pending:
    run_id: str
    events: Sequence[NewEvent]
    owner: str | None
    require_active: bool
    done: asyncio.Future[list[Event]]


@dataclass(slots=True)
class _RunState:
    """A locked run as the appends of one transaction change it."""

    status: str
    seq: int
    head: str
    lease_owner: str | None
    tenant: str
    status_before: str = ""
    lease_ended: bool = False
    waits_touched: bool = False
    updated_at: str = ""

    def __post_init__(self) -> None:
        self.status_before = self.status


@dataclass(slots=True)
class _Writes:
    """Everything one transaction writes, collected after its checks passed."""

    blobs: list[projection.Blob] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    opened: list[tuple[Any, ...]] = field(default_factory=list)
    resolved: list[tuple[Any, ...]] = field(default_factory=list)


def split_url(url: str) -> tuple[str, dict[str, str]]:
    """The libpq connection URL and Agentplane's own options (``pool_size``, ``mode``),
    which libpq would refuse."""
    parsed = urlparse(url)
    query = parse_qsl(parsed.query, keep_blank_values=True)
    ours = {k: v for k, v in query if k in _OPTIONS}
    rest = [(k, v) for k, v in query if k not in _OPTIONS]
    return urlunparse(parsed._replace(query=urlencode(rest))), ours


class PostgresJournal(JournalStore):
    """Journal in one PostgreSQL database, shared by any number of processes."""

    def __init__(self, url: str, *, create: bool = True, readonly: bool = False,
                 tenant: str = ALL_TENANTS, pool_size: int | None = None) -> None:
        dsn, options = split_url(url)
        self._dsn = dsn
        self.url = parse_url(url).safe
        """The URL without its password (safe to show)."""
        size = options.get("pool_size", str(pool_size or DEFAULT_POOL_SIZE))
        if not size.isdigit() or int(size) < 1:
            raise ConfigError(f"pool_size={size!r} in database URL {self.url!r}: use a whole "
                              "number of connections, at least 1")
        self.pool_size = int(size)
        mode = options.get("mode", "rw")
        if mode not in ("ro", "rw"):
            raise ConfigError(f"mode={mode!r} in database URL {self.url!r}: use mode=ro "
                              "(read-only) or mode=rw")
        self.readonly = readonly or mode == "ro"
        self.tenant = tenant
        """Whose rows this store sees (row-level security); ``*`` is every tenant."""
        self._database = PostgresDatabase(dsn, safe_url=self.url, readonly=self.readonly)
        if not create and COMPONENT not in schema_versions(self._database):
            self._database.close()
            raise DatabaseNotFoundError(
                f"no journal in {self.url}: nothing was recorded there yet; check --db or "
                "AGENTPLANE_DB (a command that only reads never creates one)")
        migrate(self._database, COMPONENT, MIGRATIONS)
        self._pool: AsyncConnectionPool[Conn] | None = None
        self._pool_loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._listener: Conn | None = None
        self._listener_lost = False

    @property
    def database(self) -> PostgresDatabase:
        """The synchronous handle on the same database (ledger, keys, registry, migrations)."""
        return self._database

    # -- connections --------------------------------------------------------------------------

    async def _configure(self, conn: Conn) -> None:
        await conn.execute("SELECT set_config(%s, %s, false)", (TENANT_SETTING, self.tenant))
        if self.readonly:
            await conn.execute("SET default_transaction_read_only = on")

    def _pool_here(self) -> AsyncConnectionPool[Conn]:
        """The pool of the running event loop (a store used from a second loop, as by two
        ``asyncio.run`` calls, gets a new one)."""
        loop = asyncio.get_running_loop()
        if self._pool is None or self._pool_loop is not loop:
            self._pool = AsyncConnectionPool(
                self._dsn, min_size=1, max_size=self.pool_size, open=False,
                kwargs={"autocommit": True, "application_name": "agentplane"},
                configure=self._configure, timeout=POOL_TIMEOUT, name="agentplane-journal")
            self._pool_loop = loop
        return self._pool

    async def _connection_pool(self) -> AsyncConnectionPool[Conn]:
        pool = self._pool_here()
        if pool.closed:
            await pool.open()
        return pool

    def _unavailable(self, exc: BaseException, doing: str) -> JournalUnavailableError:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
            return JournalUnavailableError(
                f"the journal {self.url} cannot be written: it is open read-only (?mode=ro); "
                "use a writable --db, or only commands that read")
        return JournalUnavailableError(
            f"the journal {self.url} could not {doing} ({reason}); nothing was written — "
            "retry once the PostgreSQL server is reachable")

    async def _drop_broken(self) -> None:
        """After a connection broke: check the idle ones too, so the next operation gets one
        that works (the pool reconnects in the background)."""
        if self._pool is not None and self._pool_loop is asyncio.get_running_loop():
            with contextlib.suppress(Exception):  # still down: the pool retries on its own
                await self._pool.check()

    async def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one query, retried once on a broken connection."""
        for attempt in (1, 2):
            pool = await self._connection_pool()
            try:
                async with pool.connection() as conn:
                    cur = await conn.execute(sql.encode(), params or None)
                    return await cur.fetchall()
            except _BROKEN as exc:
                await self._drop_broken()
                if attempt == 2:
                    raise self._unavailable(exc, "be read") from exc
        raise AssertionError("unreachable")

    async def _transaction(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        pool = await self._connection_pool()
        try:
            async with pool.connection() as conn, conn.transaction():
                return await work(conn)
        except (*_BROKEN, psycopg.errors.ReadOnlySqlTransaction) as exc:
            await self._drop_broken()
            raise self._unavailable(exc, "be written") from exc

    async def health(self) -> JournalHealth:
        """Whether the journal can be reached now (a ``SELECT 1``), and why not."""
        try:
            await self._read("SELECT 1")
        except JournalUnavailableError as exc:
            return JournalHealth(self.url, False, False, None, str(exc))
        return JournalHealth(self.url, True, not self.readonly, None, None)

    # -- blobs --------------------------------------------------------------------------------

    async def put_blob(self, value: Any) -> str:
        digest, body = projection.blob(value)

        async def write(conn: Conn) -> None:
            await conn.execute(b"INSERT INTO blobs(hash, body) VALUES (%s, %s)"
                               b" ON CONFLICT DO NOTHING", (digest, body))
        await self._transaction(write)
        return digest

    async def get_blob(self, digest: str) -> Any:
        text = await self.blob_text(digest)
        if text is None:
            raise JournalError(f"blob {digest} is missing from {self.url}")
        return projection.resolve({"v": {"$blob": digest}}, {digest: text})["v"]

    async def blob_text(self, digest: str) -> str | None:
        rows = await self._read("SELECT body FROM blobs WHERE hash = %s", (digest,))
        return str(rows[0][0]) if rows else None

    async def _resolve_all(self, events: list[Event]) -> list[Event]:
        refs = sorted({d for e in events for d in projection.blob_refs(e.data)})
        if not refs:
            return events
        rows = await self._read("SELECT hash, body FROM blobs WHERE hash = ANY(%s)", (refs,))
        bodies = {str(h): str(b) for h, b in rows}
        return [replace(e, data=projection.resolve(e.data, bodies))
                if projection.blob_refs(e.data) else e for e in events]

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
        if self.tenant not in (ALL_TENANTS, tenant):
            raise JournalError(f"this store is open for tenant {self.tenant!r}; it cannot "
                               f"create a run of tenant {tenant!r}")
        now = utc_now()
        input, meta, created = projection.created_event(
            workflow=workflow, workflow_hash=workflow_hash, input=input, meta=meta, tenant=tenant)
        new = [created, *events]
        for event in new:  # refuse data that is not JSON before writing anything
            projection.encode(event.data)

        async def write(conn: Conn) -> None:
            cur = await conn.execute(
                b"INSERT INTO runs(id, workflow, workflow_hash, status, tenant, created_at,"
                b" updated_at, input, meta, last_seq, head_hash, lease_owner, lease_until)"
                b" VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s, CASE WHEN %s::text IS NULL"
                b" THEN NULL ELSE extract(epoch FROM clock_timestamp()) + %s END)"
                b" ON CONFLICT (id) DO NOTHING",
                (run_id, workflow, workflow_hash, "pending", tenant, now, now, dumps(input),
                 dumps(meta), 0, GENESIS_HASH, lease_owner, lease_owner, lease_seconds))
            if cur.rowcount == 0:
                raise RunExistsError(
                    f"a run with id {run_id!r} already exists; choose another --run-id "
                    "or resume it with `agentplane resume`")
            state = {run_id: _RunState("pending", 0, GENESIS_HASH, lease_owner, tenant)}
            item = _Pending(run_id, new, None, False, asyncio.get_running_loop().create_future())
            (outcome,) = await self._apply(conn, [item], state)
            if isinstance(outcome, BaseException):
                raise outcome
        await self._transaction(write)
        return await self.require_run(run_id)

    async def append(
        self,
        run_id: str,
        events: Sequence[NewEvent],
        *,
        owner: str | None = None,
        require_active: bool = False,
    ) -> list[Event]:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[list[Event]] = loop.create_future()
        self._pending.append(_Pending(run_id, events, owner, require_active, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        return await done

    async def _flush(self) -> None:
        """Commit the waiting appends, a transaction at a time; appends that arrive while one
        commits go together into the next (group commit). Callers resume after the commit."""
        while self._pending:
            batch, self._pending = self._pending, []
            outcomes: list[list[Event] | BaseException]

            async def commit(conn: Conn, batch: list[_Pending] = batch
                             ) -> list[list[Event] | BaseException]:
                return await self._lock_and_apply(conn, batch)
            try:
                outcomes = await self._transaction(commit)
            except Exception as exc:  # the transaction failed: nothing in it was written
                outcomes = [exc] * len(batch)
            for item, outcome in zip(batch, outcomes, strict=True):
                if item.done.cancelled():
                    continue
                if isinstance(outcome, BaseException):
                    item.done.set_exception(outcome)
                else:
                    item.done.set_result(outcome)

    async def _lock_and_apply(self, conn: Conn, batch: list[_Pending]
                              ) -> list[list[Event] | BaseException]:
        ids = sorted({item.run_id for item in batch})
        cur = await conn.execute(
            b"SELECT id, status, last_seq, head_hash, lease_owner, tenant FROM runs"
            b" WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (ids,))
        state = {r[0]: _RunState(r[1], r[2], r[3], r[4], r[5]) for r in await cur.fetchall()}
        return await self._apply(conn, batch, state)

    async def _apply(self, conn: Conn, batch: list[_Pending], state: dict[str, _RunState]
                     ) -> list[list[Event] | BaseException]:
        """Check and write the appends of ``batch`` on the locked runs ``state``."""
        waits = await self._stored_waits(conn, batch)
        writes = _Writes()
        outcomes: list[list[Event] | BaseException] = []
        for item in batch:
            try:
                outcomes.append(self._append_one(item, state, waits, writes))
            except AgentplaneError as exc:  # refused before anything of it was collected
                outcomes.append(exc)
        await self._write(conn, writes, {rid: s for rid, s in state.items() if s.updated_at})
        return outcomes

    async def _stored_waits(self, conn: Conn, batch: list[_Pending]
                            ) -> dict[str, tuple[str, str]]:
        """``(status, run_id)`` of every stored wait the batch opens, resolves or awaits."""
        ids: set[str] = set()
        for item in batch:
            for new in item.events:
                if new.type in WAIT_OPEN_TYPES or new.type in WAIT_CLOSE_TYPES:
                    if "wait_id" in new.data:
                        ids.add(str(new.data["wait_id"]))
                elif new.type == EventType.RUN_WAITING:
                    ids.update(projection.awaited(new))
        if not ids:
            return {}
        cur = await conn.execute(b"SELECT id, status, run_id FROM waits WHERE id = ANY(%s)",
                                 (sorted(ids),))
        return {r[0]: (r[1], r[2]) for r in await cur.fetchall()}

    def _append_one(self, item: _Pending, state: dict[str, _RunState],
                    waits: dict[str, tuple[str, str]], writes: _Writes) -> list[Event]:
        run_id, events = item.run_id, item.events
        run = state.get(run_id)
        if run is None:
            raise RunNotFoundError(f"no run with id {run_id!r} in {self.url}")
        if item.owner is not None and run.lease_owner != item.owner:
            raise LeaseLostError(f"run {run_id} is now leased by {run.lease_owner or 'nobody'}")
        if item.require_active and (run.status in TERMINAL_STATUSES
                                    or run.status == "needs_reconciliation"):
            raise RunNotActiveError(run_id, run.status)
        projection.check_waits(run_id, events, waits.get)
        encoded = [projection.encode(new.data) for new in events]
        # Checked: from here on nothing refuses, so the item's writes are collected.
        written: list[Event] = []
        status, seq, head = run.status, run.seq, run.head
        for new, (stored, data_json, blobs) in zip(events, encoded, strict=True):
            writes.blobs.extend(blobs)
            seq += 1
            event = seal(run_id, seq, head, new, stored, data_json)
            head = event.hash
            writes.events.append((
                run_id, seq, event.time, event.type, event.actor, event.step_key, data_json,
                None if event.usage is None else dumps(event.usage), event.prev_hash,
                event.hash, event.schema, run.tenant))
            if new.type in WAIT_OPEN_TYPES:
                writes.opened.append((*projection.opened_wait(run_id, new, event.time),
                                      run.tenant))
                waits[str(new.data["wait_id"])] = ("open", run_id)
                run.waits_touched = True
            elif new.type in WAIT_CLOSE_TYPES:
                wait_id = str(new.data["wait_id"])
                writes.resolved.append((projection.resolution(new), wait_id, run_id))
                waits[wait_id] = ("resolved", run_id)
                run.waits_touched = True
            resolved = new.type == EventType.RUN_WAITING and any(
                waits.get(w, ("", ""))[0] == "resolved" for w in projection.awaited(new))
            status = projection.status_after(status, new, awaited_resolved=resolved)
            written.append(event)
        run.status, run.seq, run.head = status, seq, head
        run.updated_at = written[-1].time if written else utc_now()
        if status in LEASE_ENDING_STATUSES:
            run.lease_owner, run.lease_ended = None, True
        return written

    @staticmethod
    async def _write(conn: Conn, writes: _Writes, runs: dict[str, _RunState]) -> None:
        async with conn.cursor() as cur:
            if writes.blobs:
                await cur.executemany(b"INSERT INTO blobs(hash, body) VALUES (%s, %s)"
                                      b" ON CONFLICT DO NOTHING", writes.blobs)
            if writes.events:
                await cur.executemany(
                    b"INSERT INTO events(run_id, seq, time, type, actor, step_key, data, usage,"
                    b" prev_hash, hash, schema, tenant) VALUES"
                    b" (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)", writes.events)
            if writes.opened:
                await cur.executemany(
                    b"INSERT INTO waits(id, run_id, step_key, kind, status, created_at,"
                    b" deadline, data, tenant) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                    writes.opened)
            if writes.resolved:
                await cur.executemany(
                    b"UPDATE waits SET status = 'resolved', resolution = %s WHERE id = %s"
                    b" AND run_id = %s AND status = 'open'", writes.resolved)
            for run_id, run in runs.items():
                await cur.execute(
                    b"UPDATE runs SET last_seq = %s, head_hash = %s, status = %s,"
                    b" updated_at = %s,"
                    b" lease_owner = CASE WHEN %s THEN NULL ELSE lease_owner END,"
                    b" lease_until = CASE WHEN %s THEN NULL ELSE lease_until END,"
                    b" wake_at = CASE WHEN %s THEN (SELECT MIN(deadline) FROM waits"
                    b"   WHERE run_id = %s AND status = 'open') ELSE wake_at END"
                    b" WHERE id = %s",
                    (run.seq, run.head, run.status, run.updated_at, run.lease_ended,
                     run.lease_ended, run.waits_touched, run_id, run_id))
                await cur.execute(b"SELECT pg_notify(%s, %s)", (CHANNEL, run_id))

    async def events(
        self, run_id: str, *, after_seq: int = 0, resolve_blobs: bool = True
    ) -> list[Event]:
        rows = await self._read(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE run_id = %s AND seq > %s ORDER BY seq",
            (run_id, after_seq))
        out = [projection.event_from_row(r) for r in rows]
        return await self._resolve_all(out) if resolve_blobs else out

    async def events_since(self, cursor: int, *, limit: int = 10_000
                           ) -> tuple[list[Event], int]:
        """Events of whole transactions that committed, in ``(tx, position)`` order; the
        cursor is the last transaction id read. Transactions still running (or newer than the
        oldest one still running) wait for the next call, so none is ever skipped."""
        sql = (f"SELECT tx::text::bigint, {EVENT_COLUMNS} FROM events"
               " WHERE tx > %s::text::xid8 AND tx < pg_snapshot_xmin(pg_current_snapshot())"
               " ORDER BY tx, position LIMIT %s")
        rows = await self._read(sql, (str(cursor), limit + 1))
        if len(rows) > limit:
            last = rows[limit][0]
            rows = [r for r in rows if r[0] != last]  # the page ends on a whole transaction
            if not rows:  # one transaction larger than a page: read it whole
                rows = await self._read(
                    f"SELECT tx::text::bigint, {EVENT_COLUMNS} FROM events"
                    " WHERE tx = %s::text::xid8 ORDER BY position", (str(last),))
        events = await self._resolve_all([projection.event_from_row(r[1:]) for r in rows])
        return events, (int(rows[-1][0]) if rows else cursor)

    async def get_run(self, run_id: str) -> RunRecord | None:
        rows = await self._read(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = %s", (run_id,))
        return projection.run_from_row(rows[0]) if rows else None

    async def run_status(self, run_id: str) -> str | None:
        rows = await self._read("SELECT status FROM runs WHERE id = %s", (run_id,))
        return str(rows[0][0]) if rows else None

    async def list_runs(
        self,
        *,
        statuses: Sequence[str] | None = None,
        workflow: str | None = None,
        tenant: str | None = None,
        search: str | None = None,
        limit: int = 100,
    ) -> list[RunRecord]:
        where: list[str] = []
        args: list[Any] = []
        if statuses:
            where.append("status = ANY(%s)")
            args.append(list(statuses))
        for column, value in (("workflow", workflow), ("tenant", tenant)):
            if value:
                where.append(f"{column} = %s")
                args.append(value)
        if search:
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace(
                "_", "\\_") + "%"
            where.append("(id LIKE %s ESCAPE '\\' OR workflow LIKE %s ESCAPE '\\')")
            args.extend((pattern, pattern))
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = await self._read(
            f"SELECT {RUN_COLUMNS} FROM runs {clause} ORDER BY created_at DESC, id LIMIT %s",
            (*args, limit))
        return [projection.run_from_row(r) for r in rows]

    async def all_run_ids(self) -> list[str]:
        rows = await self._read(
            "SELECT id FROM runs UNION SELECT DISTINCT run_id FROM events ORDER BY 1")
        return [str(r[0]) for r in rows]

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
        async def take(conn: Conn) -> list[RunRecord]:
            now = await _now(conn)
            dead: list[str] = []
            if owner_is_dead is not None:  # whose leases may be taken although not expired
                cur = await conn.execute(
                    b"SELECT DISTINCT lease_owner FROM runs WHERE status IN ('pending',"
                    b" 'running') AND lease_owner <> %s AND lease_until >= %s", (owner, now))
                dead = [str(r[0]) for r in await cur.fetchall() if owner_is_dead(str(r[0]))]
            cur = await conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE status IN ('pending', 'running')"
                " AND (lease_owner IS NULL OR lease_owner = %s OR lease_until < %s"
                " OR lease_owner = ANY(%s))" + (" AND id = %s" if run_id else "")
                + " ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED",
                (owner, now, dead, *((run_id,) if run_id else ()), limit))
            candidates = [projection.run_from_row(r) for r in await cur.fetchall()]
            until = now + lease_seconds
            if candidates:
                await conn.execute(
                    b"UPDATE runs SET lease_owner = %s, lease_until = %s WHERE id = ANY(%s)",
                    (owner, until, [r.id for r in candidates]))
            return [replace(r, lease_owner=owner, lease_until=until) for r in candidates]
        return await self._transaction(take)

    async def renew(self, owner: str, run_ids: Sequence[str], *, lease_seconds: float) -> None:
        if not run_ids:
            return

        async def write(conn: Conn) -> None:
            await conn.execute(
                b"UPDATE runs SET lease_until = %s WHERE id = ANY(%s) AND lease_owner = %s",
                (await _now(conn) + lease_seconds, list(run_ids), owner))
        await self._transaction(write)

    async def release(self, owner: str, run_id: str) -> None:
        async def write(conn: Conn) -> None:
            await conn.execute(
                b"UPDATE runs SET lease_owner = NULL, lease_until = NULL"
                b" WHERE id = %s AND lease_owner = %s", (run_id, owner))
        await self._transaction(write)

    # -- waits --------------------------------------------------------------------------------

    async def waits(
        self,
        *,
        run_id: str | None = None,
        status: str | None = "open",
        kind: str | None = None,
    ) -> list[WaitRecord]:
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("run_id", run_id), ("status", status), ("kind", kind)):
            if value is not None:
                where.append(f"{column} = %s")
                args.append(value)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = await self._read(
            f"SELECT {WAIT_COLUMNS} FROM waits {clause} ORDER BY created_at, id", args)
        return [projection.wait_from_row(r) for r in rows]

    async def get_wait(self, wait_id: str) -> WaitRecord | None:
        rows = await self._read(f"SELECT {WAIT_COLUMNS} FROM waits WHERE id = %s", (wait_id,))
        return projection.wait_from_row(rows[0]) if rows else None

    async def due_waits(self, now: float) -> list[WaitRecord]:
        rows = await self._read(
            f"SELECT {WAIT_COLUMNS} FROM waits WHERE status = 'open'"
            " AND deadline IS NOT NULL AND deadline <= %s ORDER BY deadline", (now,))
        return [projection.wait_from_row(r) for r in rows]

    # -- change notifications -----------------------------------------------------------------

    async def wait_for_change(self, timeout: float) -> bool:
        """Wait for a ``NOTIFY agentplane`` (any process's append, new run, resolved wait) or
        ``timeout`` seconds. After the listening connection was lost and made again, returns
        True at once: changes made meanwhile were not heard."""
        try:
            conn = await self._listening()
            if self._listener_lost:
                self._listener_lost = False
                return True
            async for _ in conn.notifies(timeout=timeout, stop_after=1):
                return True
            return False
        except _BROKEN:
            await self._close_listener()
            self._listener_lost = True
            await asyncio.sleep(min(timeout, 1.0))  # the server may be restarting
            return False

    async def _listening(self) -> Conn:
        if self._listener is None or self._listener.closed or self._listener.broken:
            await self._close_listener()
            self._listener = await psycopg.AsyncConnection.connect(
                self._dsn, autocommit=True, application_name="agentplane-listen",
                connect_timeout=10)
            await self._listener.execute(f"LISTEN {CHANNEL}".encode())
        return self._listener

    async def _close_listener(self) -> None:
        if self._listener is not None:
            listener, self._listener = self._listener, None
            with contextlib.suppress(Exception):  # it is already broken
                await listener.close()

    async def close(self) -> None:
        if self._flusher is not None and not self._flusher.done():
            await self._flusher
        await self._close_listener()
        if self._pool is not None and self._pool_loop is asyncio.get_running_loop():
            await self._pool.close()
        self._pool = None
        self._database.close()


async def _now(conn: Conn) -> float:
    """The server's clock (Unix seconds): leases compare against one clock across machines."""
    cur = await conn.execute(b"SELECT extract(epoch FROM clock_timestamp())::float8")
    row = await cur.fetchone()
    assert row is not None
    return float(row[0])
