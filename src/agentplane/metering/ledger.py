"""The usage ledger: usage events kept in step with the journal, and meters over them.

The ledger lives in the journal's database (SQLite or PostgreSQL), in tables of its own
(component ``usage``). It is kept current as runs happen (the runtime hands it the events it
appends, ``record``) and ``sync`` derives what nobody metered yet (see ``follow.py``); since
every usage event's id comes from its journal event, nothing is ever counted twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from agentplane.errors import ConfigError
from agentplane.journal import Event, JournalStore, RunRecord, canonical_json
from agentplane.storage import Database, Migration, open_component

from .follow import Follower, Row
from .usage import Make, Pricer, RunTags, UsageEvent, unix_time

COMPONENT = "usage"

_FIELDS = """
    type TEXT NOT NULL,
    time TEXT NOT NULL,
    ts REAL NOT NULL,
    run_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    workflow TEXT NOT NULL,
    tags TEXT NOT NULL,
    agent TEXT,
    model TEXT,
    tool TEXT,
    outcome TEXT,
    input_tokens INTEGER NOT NULL,
    cached_input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    quantity REAL NOT NULL,
    cost_usd REAL NOT NULL,
    energy_kwh REAL
);"""
"""Every column of ``usage_events`` after its id (the same in every version)."""

_V1 = """
CREATE TABLE IF NOT EXISTS usage_events (
    id TEXT PRIMARY KEY,
""" + _FIELDS + """
-- Invoices and budgets ask for one tenant's events of one type in a window.
CREATE INDEX IF NOT EXISTS usage_tenant_type_time ON usage_events(tenant, type, ts);
CREATE TABLE IF NOT EXISTS usage_cursor (name TEXT PRIMARY KEY, position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS usage_activity (run_id TEXT PRIMARY KEY, since TEXT NOT NULL);
"""

COLUMNS = ("id", "type", "time", "ts", "run_id", "tenant", "workflow", "tags", "agent", "model",
           "tool", "outcome", "input_tokens", "cached_input_tokens", "output_tokens",
           "reasoning_tokens", "quantity", "cost_usd", "energy_kwh")
_COLUMN_LIST = ", ".join(COLUMNS)

# SQLite: a rowid table (rows appended in rowid order, cheap to insert) with the usage id
# UNIQUE for idempotent ingest, instead of a TEXT primary key that orders the table itself;
# one index by tenant and time for invoices and budgets (type is a cheap filter within it).
_V2_SQLITE = f"""
CREATE TABLE usage_events_v2 (
    id TEXT NOT NULL UNIQUE,
{_FIELDS}
INSERT INTO usage_events_v2({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM usage_events ORDER BY ts;
DROP TABLE usage_events;
ALTER TABLE usage_events_v2 RENAME TO usage_events;
CREATE INDEX usage_tenant_time ON usage_events(tenant, ts);
CREATE TABLE IF NOT EXISTS usage_runs (run_id TEXT PRIMARY KEY, seq INTEGER NOT NULL)
"""
_V2_POSTGRESQL = """
DROP INDEX IF EXISTS usage_tenant_type_time;
CREATE INDEX IF NOT EXISTS usage_tenant_time ON usage_events(tenant, ts);
CREATE TABLE IF NOT EXISTS usage_runs (run_id TEXT PRIMARY KEY, seq BIGINT NOT NULL)
"""

MIGRATIONS = (
    Migration(1, _V1, postgresql=_V1.replace("REAL", "DOUBLE PRECISION")
              .replace("INTEGER NOT NULL", "BIGINT NOT NULL"),
              note="usage_events, usage_cursor, usage_activity"),
    Migration(2, _V2_SQLITE, postgresql=_V2_POSTGRESQL,
              note="usage_events keyed by rowid with a unique id (SQLite), indexed by tenant "
                   "and time; usage_runs: how far each run's journal is metered"),
)
"""``usage_cursor`` and ``usage_activity`` (version 1) are no longer written: ``usage_runs``
keeps each run's place instead (see ``follow.py``)."""

TAG_COLUMNS = ("tenant", "workflow", "agent", "model", "tool", "run_id", "outcome", "type")
NUMERIC_COLUMNS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens",
                   "quantity", "cost_usd", "energy_kwh")
Aggregation = Literal["sum", "count", "unique_count", "max"]

PURPOSE_TAG = "purpose"
"""The run tag that says why a run was made; ``NOT_BILLED`` purposes are work on the product
itself, not for the tenant's customers."""
NOT_BILLED = ("evaluation", "simulation")
"""Purposes whose usage is kept in the ledger (``usage report --by purpose`` shows it) but left
out of invoices and of the spend that workflow, agent and tenant budgets (and their alerts)
count: an ``agentplane eval`` or ``simulate`` run is not the tenant's production spend."""
BIG_BATCH = 10_000
"""Rows from which ``ingest`` writes with a larger page cache (SQLite)."""
BIG_BATCH_CACHE_KIB = 64 * 1024


def _row(e: UsageEvent) -> Row:
    return (e.id, e.type, e.time, e.timestamp, e.run_id, e.tenant, e.workflow,
            canonical_json(e.tags), e.agent, e.model, e.tool, e.outcome,
            e.input_tokens, e.cached_input_tokens, e.output_tokens, e.reasoning_tokens,
            e.quantity, e.cost_usd, e.energy_kwh)


def _rows_of(run: RunTags) -> Make[Row]:
    """What builds a run's usage as ledger rows straight from its journal events: the row
    :func:`_row` makes of the usage event :func:`derive` would give, with the run's tags
    encoded once and no usage event built to be taken apart."""
    tenant, workflow, tags = run.tenant, run.workflow, canonical_json(run.tags)

    def row(event: Event, uid: str, kind: str, *, agent: str | None = None,
            model: str | None = None, tool: str | None = None, outcome: str | None = None,
            input_tokens: int = 0, cached_input_tokens: int = 0, output_tokens: int = 0,
            reasoning_tokens: int = 0, quantity: float = 1.0, cost_usd: float = 0.0,
            energy_kwh: float | None = None) -> Row:
        time = event.time
        return (uid, kind, time, unix_time(time), event.run_id, tenant, workflow, tags, agent,
                model, tool, outcome, input_tokens, cached_input_tokens, output_tokens,
                reasoning_tokens, quantity, cost_usd, energy_kwh)

    return row


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def column(name: str, dialect: str = "sqlite") -> str:
    """SQL for a field: a ledger column, a tag (``department``) or a JSON path into the tags
    (``dialect``: the database's, ``sqlite`` or ``postgresql``)."""
    if name in TAG_COLUMNS or name in NUMERIC_COLUMNS:
        return name
    if name == "tokens":
        return "(input_tokens + output_tokens)"
    path = name.removeprefix("tags.").removeprefix("$.tags.").removeprefix("$.")
    if not path.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise ConfigError(f"cannot meter or group by {name!r}: use a column "
                          f"({', '.join(TAG_COLUMNS + NUMERIC_COLUMNS)}) or a tag name")
    if dialect == "postgresql":
        return f"(tags::jsonb #>> '{{{path.replace('.', ',')}}}')"
    return f"json_extract(tags, '$.{path}')"


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time window [start, end) in Unix seconds; None is unbounded."""

    start: float | None = None
    end: float | None = None

    @classmethod
    def month(cls, year: int, month: int) -> Window:
        start = datetime(year, month, 1, tzinfo=UTC)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        return cls(start.timestamp(), end.timestamp())

    @classmethod
    def parse_month(cls, text: str) -> Window:
        try:
            year, month = (int(p) for p in text.split("-"))
            return cls.month(year, month)
        except ValueError as exc:
            raise ConfigError(f"period {text!r} is not a month like 2026-11") from exc


ALL_TIME = Window()


@dataclass(frozen=True, slots=True)
class Meter:
    """An aggregation over usage events: ``sum``, ``count``, ``unique_count`` or ``max`` of a
    field, for one event type (or all), grouped by any tags."""

    name: str
    aggregation: Aggregation = "sum"
    field: str = "quantity"
    type: str | None = None
    group_by: tuple[str, ...] = ()


class UsageLedger:
    """Usage events in the journal's database, tables of their own.

    ``db``: a :class:`Database` handle (the journal store's, shared), or a database URL or
    SQLite file path to open one (closed with the ledger). Opening brings the ledger's tables
    up to date (a read-only handle refuses an older schema)."""

    def __init__(self, db: Database | str | Path, *, readonly: bool = False) -> None:
        self._db, self._owned = open_component(db, COMPONENT, MIGRATIONS, readonly=readonly)
        self._insert = (f"INSERT INTO usage_events({', '.join(COLUMNS)}) "
                        f"VALUES ({', '.join('?' * len(COLUMNS))}) ON CONFLICT (id) DO NOTHING")
        self._follower = Follower(self._db, self._insert, _rows_of)

    @property
    def dialect(self) -> str:
        return self._db.dialect

    def column(self, name: str) -> str:
        """:func:`column` in this ledger's database's dialect."""
        return column(name, self._db.dialect)

    def close(self) -> None:
        """Write what is buffered; close the handle if the ledger opened it."""
        if not self._db.readonly:
            self._follower.close()
        if self._owned:
            self._db.close()

    # -- writing ------------------------------------------------------------------------------

    def ingest(self, events: Iterable[UsageEvent]) -> int:
        """Store usage events; an id already stored is ignored. Returns how many were new."""
        rows = [_row(e) for e in events]
        if not rows:
            return 0
        with self._roomy_cache(len(rows)), self._db.transaction() as db:
            return db.executemany(self._insert, rows)

    @contextmanager
    def _roomy_cache(self, rows: int) -> Iterator[None]:
        """SQLite: a large batch keeps the ledger's indexes in a larger page cache while it is
        written (about a fifth faster at a million rows); the usual size is restored after, so
        the handle it shares with the journal holds no more memory than before."""
        if self._db.dialect != "sqlite" or rows < BIG_BATCH:
            yield
            return
        [usual] = self._db.query_one("PRAGMA cache_size") or (0,)
        self._db.execute(f"PRAGMA cache_size = -{BIG_BATCH_CACHE_KIB}")
        try:
            yield
        finally:
            self._db.execute(f"PRAGMA cache_size = {int(usual)}")

    async def record(self, store: JournalStore, run: RunRecord, events: Sequence[Event],
                     pricer: Pricer) -> None:
        """Meter events the runtime just appended to ``run`` (buffered; see ``follow.py``)."""
        await self._follower.record(store, run, events, pricer)

    def follow(self, run: RunRecord, events: Sequence[Event], pricer: Pricer) -> bool:
        """:meth:`record` with no await, for a run this ledger follows already (every write of
        a run but its first): False, having done nothing, when it does not follow ``run``."""
        return self._follower.follow(run, events, pricer)

    async def sync(self, store: JournalStore, pricer: Pricer) -> int:
        """Bring the ledger up to date with the journal: what is buffered, then the usage of
        runs nobody metered yet. Returns how many usage events were new."""
        return await self._follower.catch_up(store, pricer)

    # -- reading ------------------------------------------------------------------------------

    def measure(self, meter: Meter, window: Window = ALL_TIME, *,
                where: dict[str, str] | None = None, billable: bool = False
                ) -> list[tuple[tuple[Any, ...], float]]:
        """The meter's value per group: ``[((group values...), value), ...]``; ``billable``:
        without the usage of ``NOT_BILLED`` runs (evaluations, simulations)."""
        expr = self.column(meter.field)
        agg = {"sum": f"COALESCE(SUM({expr}), 0)", "count": "COUNT(*)",
               "unique_count": f"COUNT(DISTINCT {expr})", "max": f"MAX({expr})"}[meter.aggregation]
        groups = [self.column(g) for g in meter.group_by]
        conditions, args = self.where_clause(meter.type, window, where, billable=billable)
        select = ", ".join([*groups, agg])
        sql = f"SELECT {select} FROM usage_events{conditions}"
        if groups:
            sql += f" GROUP BY {', '.join(groups)} ORDER BY {', '.join(groups)}"
        rows = self._db.query(sql, args)
        return [(tuple(r[:-1]), float(r[-1] or 0)) for r in rows]

    def where_clause(self, kind: str | None, window: Window, where: dict[str, str] | None,
                     *, billable: bool = False) -> tuple[str, list[Any]]:
        parts: list[str] = []
        args: list[Any] = []
        if billable:
            parts.append(f"COALESCE({self.column(PURPOSE_TAG)}, '') NOT IN "
                         f"({', '.join('?' * len(NOT_BILLED))})")
            args.extend(NOT_BILLED)
        if kind is not None:
            parts.append("type = ?")
            args.append(kind)
        if window.start is not None:
            parts.append("ts >= ?")
            args.append(window.start)
        if window.end is not None:
            parts.append("ts < ?")
            args.append(window.end)
        for key, value in (where or {}).items():
            parts.append(f"{self.column(key)} = ?")
            args.append(value)
        return (" WHERE " + " AND ".join(parts) if parts else ""), args

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only SQL query over the ledger's tables (for reports). Numbers come back
        as ``int`` and ``float`` on every back-end (PostgreSQL sums integers as ``numeric``)."""
        rows = self._db.query(sql, args)
        if self._db.dialect == "postgresql":
            return [tuple(_plain(v) for v in r) for r in rows]
        return rows

    def events(self, window: Window = ALL_TIME, *, where: dict[str, str] | None = None,
               limit: int | None = None) -> list[dict[str, Any]]:
        conditions, args = self.where_clause(None, window, where)
        sql = f"SELECT {', '.join(COLUMNS)} FROM usage_events{conditions} ORDER BY ts, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [dict(zip(COLUMNS, r, strict=True)) | {"tags": json.loads(r[7])}
                for r in self._db.iterate(sql, args)]

    def spent(self, *, field: str, window: Window, where: dict[str, str],
              billable: bool = False) -> float:
        [(_, value)] = self.measure(Meter("spent", "sum", field), window, where=where,
                                    billable=billable) or [((), 0)]
        return value


def ledger_for(store: JournalStore) -> UsageLedger:
    """The usage ledger in a journal store's database (through the store's handle)."""
    return UsageLedger(store.database)


__all__ = ["ALL_TIME", "MIGRATIONS", "NOT_BILLED", "PURPOSE_TAG", "Meter", "UsageLedger", "Window",
           "column", "ledger_for"]

