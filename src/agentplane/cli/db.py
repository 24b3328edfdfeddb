"""``agentplane db upgrade|status``: the database's schema, component by component.

Every component keeps its tables in the journal's database and records the version its schema
is at (``schema_versions``). A process that writes brings its own tables up to date when it
opens the database; ``db upgrade`` brings every component's tables up to date at once (before
read-only commands, or ahead of a rollout); ``db status`` compares them with this Agentplane's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.markup import escape

from agentplane.governance import keys
from agentplane.interop import registry
from agentplane.journal import sqlite_schema
from agentplane.metering import ledger
from agentplane.storage import (
    Database,
    Migration,
    SchemaTooNewError,
    migrate,
    open_database,
    schema_versions,
)
from agentplane.telemetry import _cursor

from . import render, settings

DbOption = Annotated[str | None, typer.Option("--db", help="Database URL (default: "
                                              "$AGENTPLANE_DB or a SQLite file in "
                                              "$AGENTPLANE_HOME).", show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]

db_app = typer.Typer(help="The database's schema: upgrade it, show its versions.",
                     no_args_is_help=True)
out = render.console()


def components(dialect: str) -> list[tuple[str, Sequence[Migration]]]:
    """Every component with tables in the database, and its migrations, in upgrade order."""
    found: list[tuple[str, Sequence[Migration]]] = []
    if dialect == "sqlite":  # the PostgreSQL journal store declares its own
        found.append((sqlite_schema.COMPONENT, sqlite_schema.MIGRATIONS))
    found += [(ledger.COMPONENT, ledger.MIGRATIONS), (keys.COMPONENT, keys.MIGRATIONS),
              (registry.COMPONENT, registry.MIGRATIONS), (_cursor.COMPONENT, _cursor.MIGRATIONS)]
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
    recorded = schema_versions(db)
    return [ComponentStatus(name, recorded.get(name, 0), len(steps))
            for name, steps in components(db.dialect)]


def upgrade(db: Database) -> dict[str, list[int]]:
    """Apply every component's pending migrations; returns the versions applied by component.
    Refuses, before changing anything, a database with a component newer than this code."""
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
