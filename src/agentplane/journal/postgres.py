"""The PostgreSQL journal store: many processes on many machines, one database.

psycopg 3, asynchronous, through a ``psycopg_pool.AsyncConnectionPool`` (``?pool_size=N`` in
the URL, default 10) opened lazily on first use in the running event loop; the schema is
created and upgraded at construction through the synchronous ``storage`` handle.

- **Appends** made while a transaction is in flight are grouped into the next one (group
  commit). A transaction locks the runs it appends to (an advisory lock per run in id order,
  then ``SELECT ... FOR UPDATE``), checks every append against the locked state — a refused one
  writes nothing and the others go on — then writes events, blobs (``ON CONFLICT DO NOTHING``)
  and the projections, and ``NOTIFY agentplane, '<run id>'`` (``postgres_append.py``). An
  append alone to a run whose head this store left is one statement that checks the head is
  still that one. ``(run_id, seq)`` is the primary key, so two writers can never fork a chain.
- **events_since** must not skip an event although transactions commit out of the order they
  began in: each event records its transaction id (``tx``) and an insertion ``position``; only
  events of transactions older than every transaction still running
  (``pg_snapshot_xmin(pg_current_snapshot())``) are read, ordered by ``(tx, position)``, whole
  transactions per page, and the cursor is the last transaction id read.
- **claim** takes runs with ``FOR UPDATE SKIP LOCKED``: many workers never take the same run and
  never wait on each other.
- **wait_for_change** listens on one dedicated connection (``LISTEN agentplane``).
- A broken connection (server restart, killed backend; ``postgres_connections.py``) fails the
  operation with ``JournalUnavailableError`` — an append's transaction rolled back, nothing
  half-written — and the pool drops broken connections so the next operation works once the
  server is back. A failed read is retried once.
- Row-level security: the store's tenant (``*``, every tenant, unless opened for one) is the
  ``agentplane.tenant`` setting of each of its connections, set when the connection is made, so
  no query of the store can run without it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

from agentplane.errors import ConfigError
from agentplane.storage import DatabaseNotFoundError, migrate, parse_url, schema_versions
from agentplane.storage.postgres import PostgresDatabase, to_pyformat

from . import projection
from .events import (
    GENESIS_HASH,
    Event,
    NewEvent,
    utc_now,
)
from .health import JournalHealth, JournalUnavailableError
from .personal import reveal_text
from .postgres_append import (
    Pending,
    RunState,
    append_known,
    apply,
    known_applies,
    lock_and_apply,
)
from .postgres_connections import Conn, Connections
from .postgres_schema import COMPONENT, MIGRATIONS
from .projection import EVENT_COLUMNS, RUN_COLUMNS, WAIT_COLUMNS, dumps
from .store import (
    JournalError,
    JournalStore,
    OwnerIsDead,
    RunExistsError,
    RunRecord,
    WaitRecord,
)

DEFAULT_POOL_SIZE = 10
ALL_TENANTS = "*"
_OPTIONS = {"pool_size", "mode"}


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
        self._db = Connections(dsn, url=self.url, tenant=tenant, readonly=self.readonly,
                               pool_size=self.pool_size)
        self._read = self._db.read
        self._transaction = self._db.transaction
        self._pending: list[Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._heads: dict[str, RunState] = {}
        """Runs as this store's last appends left them (a cache; every use is verified)."""

    @property
    def database(self) -> PostgresDatabase:
        """The synchronous handle on the same database (ledger, keys, registry, migrations)."""
        return self._database

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
        return reveal_text(text, projection.blob_json(digest, text, self.url))

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
                b" ON CONFLICT (id) DO NOTHING RETURNING id",
                (run_id, workflow, workflow_hash, "pending", tenant, now, now, dumps(input),
                 dumps(meta), 0, GENESIS_HASH, lease_owner, lease_owner, lease_seconds))
            if await cur.fetchone() is None:
                raise RunExistsError(
                    f"a run with id {run_id!r} already exists; choose another --run-id "
                    "or resume it with `agentplane resume`")
            state = {run_id: RunState("pending", 0, GENESIS_HASH, lease_owner, tenant)}
            item = Pending(run_id, new, None, False, asyncio.get_running_loop().create_future())
            (outcome,) = await apply(conn, [item], state, self.url)
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
        self._pending.append(Pending(run_id, events, owner, require_active, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        return await done

    async def _flush(self) -> None:
        """Commit the waiting appends, a transaction at a time; appends that arrive while one
        commits go together into the next (group commit). Callers resume after the commit."""
        while self._pending:
            batch, self._pending = self._pending, []
            outcomes: list[list[Event] | BaseException]

            async def commit(conn: Conn, batch: list[Pending] = batch
                             ) -> list[list[Event] | BaseException]:
                return await lock_and_apply(conn, batch, self.url, self._heads)
            try:
                fast = await self._append_known(batch)
                outcomes = [fast] if fast is not None else await self._transaction(commit)
            except Exception as exc:  # the transaction failed: nothing in it was written
                self._heads.clear()
                outcomes = [exc] * len(batch)
            for item, outcome in zip(batch, outcomes, strict=True):
                if item.done.cancelled():
                    continue
                if isinstance(outcome, BaseException):
                    item.done.set_exception(outcome)
                else:
                    item.done.set_result(outcome)

    async def _append_known(self, batch: list[Pending]) -> list[Event] | None:
        """One append alone, to a run this store appended to last: one statement instead of a
        locked transaction (see ``append_known``); None when it must take the locked path."""
        if len(batch) != 1 or not known_applies(batch[0]):
            return None
        known = self._heads.get(batch[0].run_id)
        if known is None:
            return None
        written = await self._db.autocommit(
            lambda conn: append_known(conn, batch[0], known, self.url))
        if written is None:
            del self._heads[batch[0].run_id]
        return written

    async def events(
        self, run_id: str, *, after_seq: int = 0, resolve_blobs: bool = True
    ) -> list[Event]:
        rows = await self._read(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE run_id = %s AND seq > %s ORDER BY seq",
            (run_id, after_seq))
        out = [projection.event_from_row(r, revealed=resolve_blobs) for r in rows]
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
        events = await self._resolve_all([projection.event_from_row(r[1:], revealed=True)
                                          for r in rows])
        return events, (int(rows[-1][0]) if rows else cursor)

    async def recent_events(self, types: Sequence[str], *, window: int = 2_000
                            ) -> list[Event]:
        sql = (f"SELECT {EVENT_COLUMNS} FROM (SELECT * FROM events"  # the order index, backwards
               " ORDER BY tx DESC, position DESC LIMIT %s) AS tail WHERE type = ANY(%s)"
               " ORDER BY tx, position")
        rows = await self._read(sql, (window, list(types)))
        return await self._resolve_all([projection.event_from_row(r) for r in rows])

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
        sql, args = projection.runs_query(statuses=statuses, workflow=workflow, tenant=tenant,
                                          search=search, limit=limit)
        rows = await self._read(to_pyformat(sql), args)
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
        sql, args = projection.waits_query(run_id=run_id, status=status, kind=kind)
        rows = await self._read(to_pyformat(sql), args)
        return [projection.wait_from_row(r) for r in rows]

    async def get_wait(self, wait_id: str) -> WaitRecord | None:
        rows = await self._read(f"SELECT {WAIT_COLUMNS} FROM waits WHERE id = %s", (wait_id,))
        return projection.wait_from_row(rows[0]) if rows else None

    async def due_waits(self, now: float) -> list[WaitRecord]:
        rows = await self._read(
            f"SELECT {WAIT_COLUMNS} FROM waits WHERE status = 'open'"
            " AND deadline IS NOT NULL AND deadline <= %s ORDER BY deadline", (now,))
        return projection.due_from_rows(rows)

    # -- change notifications -----------------------------------------------------------------

    async def wait_for_change(self, timeout: float) -> bool:
        """Wait for a ``NOTIFY agentplane`` (any process's append, new run, resolved wait) or
        ``timeout`` seconds, on one dedicated connection. After that connection was lost and
        made again, returns True at once: changes made meanwhile were not heard."""
        return await self._db.wait_for_change(timeout)

    async def close(self) -> None:
        flusher = self._flusher
        if (flusher is not None and not flusher.done()
                and flusher.get_loop() is asyncio.get_running_loop()):
            await flusher  # appends already accepted are committed before the pool closes
        await self._db.close()
        self._database.close()


async def _now(conn: Conn) -> float:
    """The server's clock (Unix seconds): leases compare against one clock across machines."""
    cur = await conn.execute(b"SELECT extract(epoch FROM clock_timestamp())::float8")
    row = await cur.fetchone()
    assert row is not None
    return float(row[0])
