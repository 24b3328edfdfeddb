"""Numbered schema migrations per component, with the version recorded in the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from .base import Database, DatabaseError

VERSIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_versions (
    component TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    applied_at TEXT NOT NULL
)"""


class SchemaTooNewError(DatabaseError):
    """The database was written by a newer Agentplane than this one."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of a component's schema. ``sql`` serves both dialects unless ``postgresql``
    gives PostgreSQL its own text. Statements are separated by ``;``."""

    version: int
    sql: str
    postgresql: str | None = None
    note: str = ""

    def text(self, dialect: str) -> str:
        return self.postgresql if dialect == "postgresql" and self.postgresql else self.sql


def schema_versions(db: Database) -> dict[str, int]:
    """Each component's recorded schema version (empty for a new database)."""
    if db.dialect == "sqlite":
        exists = db.query_one(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_versions'")
    else:
        exists = db.query_one("SELECT to_regclass('schema_versions') IS NOT NULL")
        exists = exists if exists and exists[0] else None
    if not exists:
        return {}
    return {str(c): int(v) for c, v in db.query("SELECT component, version FROM schema_versions")}


def _check_order(component: str, migrations: Sequence[Migration]) -> None:
    numbers = [m.version for m in migrations]
    if numbers != list(range(1, len(numbers) + 1)):
        raise DatabaseError(f"migrations of {component} must be numbered 1, 2, 3 ... in order "
                            f"(got {numbers})")


def migrate(db: Database, component: str, migrations: Sequence[Migration]) -> list[int]:
    """Bring ``component``'s tables up to the last of ``migrations``; returns the versions
    applied (none when it is current). Each migration commits with its version record, so an
    interrupted upgrade resumes where it stopped. Refuses a database newer than the code."""
    _check_order(component, migrations)
    latest = len(migrations)
    current = schema_versions(db).get(component, 0)
    if current > latest:
        raise SchemaTooNewError(
            f"the database {db.url} has {component} schema version {current}, newer than this "
            f"Agentplane knows (up to {latest}); upgrade Agentplane to use it")
    if current == latest:
        return []
    if db.readonly:
        raise DatabaseError(
            f"the database {db.url} has {component} schema version {current}, older than this "
            f"Agentplane needs ({latest}); run `agentplane db upgrade --db {db.url}` first")
    applied: list[int] = []
    for migration in migrations[current:]:
        with db.transaction():
            if db.dialect == "postgresql":  # one upgrader at a time across every process
                db.query("SELECT pg_advisory_xact_lock(7340129)")
            db.script(VERSIONS_TABLE)
            # Two processes may race to upgrade: the one that finds the version moved on
            # skips (PostgreSQL: the row lock below serialises them).
            row = db.query_one(
                "SELECT version FROM schema_versions WHERE component = ?"
                + (" FOR UPDATE" if db.dialect == "postgresql" else ""), (component,))
            if (row[0] if row else 0) >= migration.version:
                continue
            db.script(migration.text(db.dialect))
            db.execute(
                "INSERT INTO schema_versions(component, version, applied_at) VALUES (?, ?, ?)"
                " ON CONFLICT (component) DO UPDATE SET version = excluded.version,"
                " applied_at = excluded.applied_at",
                (component, migration.version, datetime.now(UTC).isoformat()))
        applied.append(migration.version)
    return applied
