"""The usage ledger: usage events in SQLite, kept in step with the journal, and meters over them.

The ledger lives in the same database file as the journal, in tables of its own. ``sync``
follows the journal from where it stopped (a cursor in the ledger) and derives usage events;
since every usage event's id comes from its journal event, a sync that is repeated or
interrupted never counts anything twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from agentplane.errors import ConfigError
from agentplane.journal import Event, EventType, JournalStore, canonical_json
from agentplane.storage.sqlite import connect, immediate

from .usage import Pricer, RunTags, UsageEvent, derive, ends_activity, starts_activity

_SCHEMA = """
CREATE TABLE IF NOT EXISTS usage_events (
    id TEXT PRIMARY KEY,
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
);
-- Invoices and budgets ask for one tenant's events of one type in a window.
CREATE INDEX IF NOT EXISTS usage_tenant_type_time ON usage_events(tenant, type, ts);
CREATE TABLE IF NOT EXISTS usage_cursor (name TEXT PRIMARY KEY, position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS usage_activity (run_id TEXT PRIMARY KEY, since TEXT NOT NULL);
"""

COLUMNS = ("id", "type", "time", "ts", "run_id", "tenant", "workflow", "tags", "agent", "model",
           "tool", "outcome", "input_tokens", "cached_input_tokens", "output_tokens",
           "reasoning_tokens", "quantity", "cost_usd", "energy_kwh")
TAG_COLUMNS = ("tenant", "workflow", "agent", "model", "tool", "run_id", "outcome", "type")
NUMERIC_COLUMNS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens",
                   "quantity", "cost_usd", "energy_kwh")
Aggregation = Literal["sum", "count", "unique_count", "max"]


def _row(e: UsageEvent) -> tuple[Any, ...]:
    return (e.id, e.type, e.time, e.timestamp, e.run_id, e.tenant, e.workflow,
            canonical_json(e.tags), e.agent, e.model, e.tool, e.outcome,
            e.input_tokens, e.cached_input_tokens, e.output_tokens, e.reasoning_tokens,
            e.quantity, e.cost_usd, e.energy_kwh)


def column(name: str) -> str:
    """SQL for a field: a ledger column, a tag (``department``) or a JSON path into the tags."""
    if name in TAG_COLUMNS or name in NUMERIC_COLUMNS:
        return name
    if name == "tokens":
        return "(input_tokens + output_tokens)"
    path = name.removeprefix("tags.").removeprefix("$.tags.").removeprefix("$.")
    if not path.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise ConfigError(f"cannot meter or group by {name!r}: use a column "
                          f"({', '.join(TAG_COLUMNS + NUMERIC_COLUMNS)}) or a tag name")
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
    """Usage events in SQLite (the journal's file, tables of their own)."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = str(path)
        self._db = connect(self.path, readonly=readonly)
        if not readonly:
            self._db.executescript(_SCHEMA)
        self._runs: dict[str, RunTags] = {}

    def close(self) -> None:
        self._db.close()

    # -- writing ------------------------------------------------------------------------------

    def ingest(self, events: Iterable[UsageEvent]) -> int:
        """Store usage events; an id already stored is ignored. Returns how many were new."""
        before = self._db.total_changes
        with immediate(self._db) as db:
            db.executemany(
                f"INSERT OR IGNORE INTO usage_events({', '.join(COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(COLUMNS))})", (_row(e) for e in events))
        return self._db.total_changes - before

    async def _run_tags(self, store: JournalStore, run_id: str) -> RunTags:
        tags = self._runs.get(run_id)
        if tags is None:
            run = await store.get_run(run_id)
            meta = run.meta if run is not None else {}
            tags = RunTags(run.tenant if run else "default", run.workflow if run else "?",
                           dict(meta.get("tags") or {}), meta.get("outcome"))
            self._runs[run_id] = tags
        return tags

    async def sync(self, store: JournalStore, pricer: Pricer, *, batch: int = 5000) -> int:
        """Derive usage events from journal events not seen yet. Returns how many were new."""
        new = 0
        while True:
            (cursor,) = self._db.execute(
                "SELECT COALESCE((SELECT position FROM usage_cursor WHERE name = 'journal'), 0)"
            ).fetchone()
            events, after = await store.events_since(cursor, limit=batch)
            if not events:
                return new
            derived = [u for e in events for u in await self._derive(store, e, pricer)]
            new += self.ingest(derived)
            self._db.execute("INSERT INTO usage_cursor(name, position) VALUES ('journal', ?) "
                             "ON CONFLICT(name) DO UPDATE SET position = excluded.position",
                             (after,))

    async def _derive(self, store: JournalStore, event: Event, pricer: Pricer
                      ) -> list[UsageEvent]:
        tags = await self._run_tags(store, event.run_id)
        since = None
        if starts_activity(event):
            self._db.execute("INSERT OR REPLACE INTO usage_activity(run_id, since) VALUES (?, ?)",
                             (event.run_id, event.time))
        elif ends_activity(event):
            row = self._db.execute("SELECT since FROM usage_activity WHERE run_id = ?",
                                   (event.run_id,)).fetchone()
            since = row[0] if row else None
            self._db.execute("DELETE FROM usage_activity WHERE run_id = ?", (event.run_id,))
        if event.type == EventType.RUN_CREATED:
            return []
        return derive(event, tags, pricer, active_since=since)

    # -- reading ------------------------------------------------------------------------------

    def measure(self, meter: Meter, window: Window = ALL_TIME, *,
                where: dict[str, str] | None = None) -> list[tuple[tuple[Any, ...], float]]:
        """The meter's value per group: ``[((group values...), value), ...]``."""
        expr = column(meter.field)
        agg = {"sum": f"COALESCE(SUM({expr}), 0)", "count": "COUNT(*)",
               "unique_count": f"COUNT(DISTINCT {expr})", "max": f"MAX({expr})"}[meter.aggregation]
        groups = [column(g) for g in meter.group_by]
        conditions, args = self.where_clause(meter.type, window, where)
        select = ", ".join([*groups, agg])
        sql = f"SELECT {select} FROM usage_events{conditions}"
        if groups:
            sql += f" GROUP BY {', '.join(groups)} ORDER BY {', '.join(groups)}"
        rows = self._db.execute(sql, args).fetchall()
        return [(tuple(r[:-1]), float(r[-1] or 0)) for r in rows]

    @staticmethod
    def where_clause(kind: str | None, window: Window, where: dict[str, str] | None
                    ) -> tuple[str, list[Any]]:
        parts: list[str] = []
        args: list[Any] = []
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
            parts.append(f"{column(key)} = ?")
            args.append(value)
        return (" WHERE " + " AND ".join(parts) if parts else ""), args

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only SQL query over the ledger's tables (for reports)."""
        return self._db.execute(sql, args).fetchall()

    def events(self, window: Window = ALL_TIME, *, where: dict[str, str] | None = None,
               limit: int | None = None) -> list[dict[str, Any]]:
        conditions, args = self.where_clause(None, window, where)
        sql = f"SELECT {', '.join(COLUMNS)} FROM usage_events{conditions} ORDER BY ts, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [dict(zip(COLUMNS, r, strict=True)) | {"tags": json.loads(r[7])}
                for r in self._db.execute(sql, args)]

    def spent(self, *, field: str, window: Window, where: dict[str, str]) -> float:
        [(_, value)] = self.measure(Meter("spent", "sum", field), window, where=where) or [((), 0)]
        return value


def ledger_for(store: JournalStore) -> UsageLedger:
    """The usage ledger next to a journal store (the same SQLite file)."""
    path = getattr(store, "path", None)
    if not isinstance(path, str) or path == ":memory:":
        raise ConfigError("metering needs the journal in a SQLite file (not :memory:)")
    return UsageLedger(path, readonly=getattr(store, "readonly", False))


__all__ = ["ALL_TIME", "Meter", "UsageLedger", "Window", "column", "ledger_for"]

