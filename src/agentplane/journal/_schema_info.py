"""What a database holds, asked through its :class:`~agentplane.storage.Database` handle:
its tables, their columns and primary keys, and the journal's event order (``events_since``).

Both dialects answer the same questions; only the catalogue queries differ.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentplane.storage import Database

INTERNAL_TABLES = frozenset({"schema_versions"})
"""Tables each database keeps for itself (its own migrations), never copied."""


def tables(db: Database) -> list[str]:
    """The database's own tables (not the engine's catalogue), sorted."""
    if db.dialect == "sqlite":
        rows = db.query("SELECT name FROM sqlite_master WHERE type = 'table'"
                        " AND name NOT LIKE 'sqlite_%' ORDER BY name")
    else:
        rows = db.query("SELECT table_name FROM information_schema.tables"
                        " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
                        " ORDER BY table_name")
    return [str(r[0]) for r in rows]


def columns(db: Database, table: str) -> list[str]:
    """The table's columns, in their declared order."""
    if db.dialect == "sqlite":
        return [str(r[1]) for r in db.query(f'PRAGMA table_info("{table}")')]
    return [str(r[0]) for r in db.query(
        "SELECT column_name FROM information_schema.columns WHERE table_schema ="
        " current_schema() AND table_name = ? ORDER BY ordinal_position", (table,))]


def primary_key(db: Database, table: str) -> list[str]:
    """The table's primary-key columns in key order (empty when it has none)."""
    if db.dialect == "sqlite":
        info = [(int(r[5]), str(r[1])) for r in db.query(f'PRAGMA table_info("{table}")')]
        return [name for pk, name in sorted(info) if pk]
    return [str(r[0]) for r in db.query(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
        " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(?) AND i.indisprimary"
        " ORDER BY array_position(i.indkey::int2[], a.attnum)", (table,))]


def read_order(db: Database, table: str) -> list[str]:
    """Columns to read the table by, in the order its rows were written where the engine
    keeps one (SQLite's ``rowid``, PostgreSQL's ``ctid``), else its primary key: a copy that
    keeps the order keeps sums over floating-point columns equal to the last digit."""
    if db.dialect == "postgresql":
        return ["ctid"]
    row = db.query_one("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                       (table,))
    if row is not None and "WITHOUT ROWID" not in str(row[0]).upper():
        return ["rowid"]
    return primary_key(db, table)


def generated_columns(db: Database, table: str) -> set[str]:
    """Columns the database fills itself (PostgreSQL identity and serial columns, the writing
    transaction's id): a copy leaves them to the target."""
    if db.dialect == "sqlite":
        return set()
    return {str(r[0]) for r in db.query(
        "SELECT column_name FROM information_schema.columns WHERE table_schema ="
        " current_schema() AND table_name = ? AND (is_identity = 'YES'"
        " OR column_default LIKE ? OR column_default LIKE ?)",
        (table, "nextval(%", "pg_current_xact_id(%"))}


@dataclass(frozen=True, slots=True)
class EventOrder:
    """How a database orders the journal's events for ``events_since``."""

    keys: tuple[str, ...]
    """Columns that order them (read in this order, a copy keeps it)."""
    cursor: str
    """SQL for an event's place as an ``events_since`` cursor counts it."""
    unique: str
    """A column that tells apart events at the same cursor place."""


def event_order(db: Database) -> EventOrder:
    """SQLite: the ``rowid``. PostgreSQL: the writing transaction, then the insertion counter
    (a cursor counts whole transactions, see ``journal/postgres.py``)."""
    if db.dialect == "sqlite":
        return EventOrder(("rowid",), "rowid", "rowid")
    return EventOrder(("tx", "position"), "tx::text::bigint", "position")
