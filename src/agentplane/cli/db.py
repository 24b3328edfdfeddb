"""``agentplane db upgrade|status|copy``: the database's schema, component by component, and
copying one database into another.

Every component keeps its tables in the journal's database and records the version its schema
is at (``schema_versions``). A process that writes brings its own tables up to date when it
opens the database; ``db upgrade`` brings every component's tables up to date at once (before
read-only commands, or ahead of a rollout); ``db status`` compares them with this Agentplane's.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agentplane.errors import AgentplaneError

from . import render, settings
from ._typer import group
from .render import escape

if TYPE_CHECKING:
    from agentplane.journal.copy import CopyReport
    from agentplane.storage import Database, Migration

DbOption = Annotated[str | None, typer.Option("--db", help="Database URL (default: "
                                              "$AGENTPLANE_DB or a SQLite file in "
                                              "$AGENTPLANE_HOME).", show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]

db_app = group()  # its help is where the program adds it (app.py)
out = render.lazy_console()


def components(dialect: str) -> list[tuple[str, Sequence[Migration]]]:
    """Every component with tables in the database, and its migrations, in upgrade order."""
    from agentplane.compliance import retention_log as compliance
    from agentplane.evals import store as evals
    from agentplane.governance import keys
    from agentplane.journal import sqlite_schema
    from agentplane.knowledge import graph, lexical, store, vectors
    from agentplane.memory import _schema as memory
    from agentplane.metering import ledger
    from agentplane.telemetry import _cursor
    from agentplane.tools.sources import registry
    from agentplane.triggers import store as triggers

    found: list[tuple[str, Sequence[Migration]]] = []
    if dialect == "sqlite":  # the PostgreSQL journal store declares its own
        found.append((sqlite_schema.COMPONENT, sqlite_schema.MIGRATIONS))
    found += [(ledger.COMPONENT, ledger.MIGRATIONS), (keys.COMPONENT, keys.MIGRATIONS),
              (registry.COMPONENT, registry.MIGRATIONS), (_cursor.COMPONENT, _cursor.MIGRATIONS),
              (lexical.COMPONENT, lexical.MIGRATIONS), (store.COMPONENT, store.MIGRATIONS),
              (graph.COMPONENT, graph.MIGRATIONS), (vectors.COMPONENT, vectors.MIGRATIONS),
              (memory.COMPONENT, memory.MIGRATIONS), (evals.COMPONENT, evals.MIGRATIONS),
              (triggers.COMPONENT, triggers.MIGRATIONS),
              (compliance.COMPONENT, compliance.MIGRATIONS)]
    return found


@dataclass(frozen=True, slots=True)
class ComponentStatus:
    component: str
    database: int
    """The version recorded in the database (0: no tables yet)."""
    code: int
    """The latest version this Agentplane knows."""

    @property
    def state(self) -> str:
        if self.database == self.code:
            return "up to date"
        return "older: run `agentplane db upgrade`" if self.database < self.code else \
            "newer than this Agentplane: upgrade Agentplane"

    def to_json(self) -> dict[str, Any]:
        return {"component": self.component, "database": self.database, "code": self.code,
                "state": "current" if self.database == self.code
                else "older" if self.database < self.code else "newer"}


def status_of(db: Database) -> list[ComponentStatus]:
    from agentplane.storage import schema_versions

    recorded = schema_versions(db)
    return [ComponentStatus(name, recorded.get(name, 0), len(steps))
            for name, steps in components(db.dialect)]


def upgrade(db: Database) -> dict[str, list[int]]:
    """Apply every component's pending migrations; returns the versions applied by component.
    Refuses, before changing anything, a database with a component newer than this code."""
    from agentplane.storage import SchemaTooNewError, migrate

    for status in status_of(db):
        if status.database > status.code:
            raise SchemaTooNewError(
                f"the database {db.url} has {status.component} schema version "
                f"{status.database}, newer than this Agentplane knows (up to {status.code}); "
                "upgrade Agentplane to use it")
    return {name: migrate(db, name, steps) for name, steps in components(db.dialect)}


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Bring every component's tables up to this Agentplane's schema."""
    from agentplane.storage import open_database

    handle = open_database(settings.database_url(db), create=False, readonly=False)
    try:
        applied = upgrade(handle)
    finally:
        handle.close()
    if not any(applied.values()):
        out.print(f"{escape(handle.url)}: up to date")
        return
    for name, versions in applied.items():
        done = (f"applied {', '.join(str(v) for v in versions)}" if versions
                else "up to date")
        out.print(f"{name}: {done}")


@db_app.command("status")
def db_status(db: DbOption = None, json: JsonOption = False) -> None:
    """Each component's schema version in the database, next to this Agentplane's."""
    from agentplane.storage import open_database

    handle = open_database(settings.database_url(db), create=False, readonly=True)
    try:
        statuses = status_of(handle)
    finally:
        handle.close()
    if json:
        print(render.dump_json({"database": handle.url,
                                "components": [s.to_json() for s in statuses]}))
        return
    out.print(escape(handle.url))
    for s in statuses:
        out.print(f"  {s.component}: {s.database} (this Agentplane: {s.code}) — "
                  f"{escape(s.state)}")


class CopyRefusedError(AgentplaneError):
    """The copy left runs out (another history in the target) or a chain does not verify."""


def _progress() -> Callable[[str], None]:
    """Progress lines on stderr, at most one a second (a big copy takes minutes)."""
    last = [time.monotonic()]  # nothing for a copy done within a second

    def say(text: str) -> None:
        now = time.monotonic()
        if now - last[0] >= 1.0:
            last[0] = now
            print(f"copy: {text}", file=sys.stderr, flush=True)
    return say


def _prepare_target(url: str) -> Database:
    """The target, with every component's tables at this Agentplane's schema."""
    import asyncio

    from agentplane.journal import open_store
    from agentplane.storage import open_database

    async def journal_tables() -> None:  # the journal store creates (migrates) its own
        store = open_store(url)
        try:
            await store.list_runs(limit=1)
        finally:
            await store.close()
    asyncio.run(journal_tables())
    handle = open_database(url)
    upgrade(handle)
    return handle


def _copy_summary(report: CopyReport) -> dict[str, Any]:
    return {"source": report.source, "target": report.target, "ok": report.ok,
            "runs": {"new": report.runs_new, "grown": report.runs_grown,
                     "unchanged": report.runs_unchanged},
            "rows": report.rows,
            "verified": {"runs": report.verified_runs, "events": report.verified_events},
            "breaks": [{"run_id": b.run_id, "seq": b.seq, "reason": b.reason}
                       for b in report.breaks],
            "conflicts": report.conflicts, "dropped_columns": report.dropped_columns}


def _print_copy(report: CopyReport) -> None:
    out.print(f"copied {escape(report.source)} -> {escape(report.target)}")
    out.print(f"  runs: {report.runs_new} new, {report.runs_grown} brought up to date, "
              f"{report.runs_unchanged} already there")
    for table, rows in sorted(report.rows.items()):
        out.print(f"  {table}: {rows} rows added")
    if report.dropped_columns:
        out.print(f"  not copied (the target has no such column): "
                  f"{escape(', '.join(report.dropped_columns))}")
    verdict = "[green]chains verified[/]" if not report.breaks else "[red]chains broken[/]"
    out.print(f"  {verdict}: {report.verified_runs} runs, {report.verified_events} events")
    for brk in report.breaks:
        where = f"event {brk.seq}" if brk.seq is not None else "run record"
        out.print(f"  [red]chain broken[/] in run {escape(brk.run_id)} at {where}: "
                  f"{escape(brk.reason)}")
    for conflict in report.conflicts:
        out.print(f"  [red]refused[/] {escape(conflict)}")


@db_app.command("copy")
def db_copy(
    source: Annotated[str, typer.Argument(help="The database to copy from (not changed).")],
    target: Annotated[str, typer.Argument(help="The database to copy into (created or "
                                          "upgraded; rows already there are kept).")],
    json: JsonOption = False,
) -> None:
    """Copy every table of one database into another (SQLite <-> PostgreSQL), then verify
    every copied run's chain on the target. Safe to run again: it adds only what is new."""
    import asyncio

    from agentplane.journal import open_store
    from agentplane.journal.copy import copy_database, refuse_same, verify_copy
    from agentplane.storage import open_database

    refuse_same(source, target)
    src = open_database(source, create=False, readonly=True)
    try:
        dst = _prepare_target(target)
        try:
            report = copy_database(src, dst, progress=_progress())
        finally:
            dst.close()
    finally:
        src.close()

    async def verify() -> None:
        store = open_store(target, create=False)
        try:
            await verify_copy(store, report, progress=_progress())
        finally:
            await store.close()
    asyncio.run(verify())
    if json:
        print(render.dump_json(_copy_summary(report)))
    else:
        _print_copy(report)
    if not report.ok:
        raise CopyRefusedError(
            f"{len(report.conflicts)} run(s) refused (the target holds another history under "
            f"the same id), {len(report.breaks)} chain(s) broken in the target; see above")
