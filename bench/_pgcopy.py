"""Fill a PostgreSQL database with the rows of a SQLite one the benchmark built, so query
figures at 100 k chunks can be measured on PostgreSQL without ingesting 100 k chunks through
PostgreSQL again (an hour and more on the shared machine). The tables are created by the
components' own migrations on the PostgreSQL side first; rows go in by ``COPY``, then the
database is ``ANALYZE``d, as a long-lived database would be."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

SKIP = frozenset({"schema_versions", "bench_bare"})
"""Tables not copied: the migrations' own record (written by the migrations on each side) and
the benchmark's bare-insert baseline."""


def copy_tables(sqlite_path: Path, url: str) -> dict[str, int]:
    """Every table both databases hold (but :data:`SKIP`), from the SQLite file into the
    (empty) PostgreSQL database at ``url``; returns the rows copied per table."""
    import psycopg

    source = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    copied: dict[str, int] = {}
    try:
        with psycopg.connect(url) as conn:
            target = {str(r[0]) for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
            tables = [str(r[0]) for r in source.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
            for table in [t for t in tables if t in target and t not in SKIP]:
                copied[table] = _copy(source, conn, table)
            conn.commit()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE")
    finally:
        source.close()
    return copied


def _copy(source: sqlite3.Connection, conn: object, table: str) -> int:
    columns: Sequence[str] = [str(r[1]) for r in source.execute(f"PRAGMA table_info({table})")]
    names = ", ".join(columns)
    rows = 0
    with conn.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute(f"DELETE FROM {table}")
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in source.execute(f"SELECT {names} FROM {table}"):
                copy.write_row(row)
                rows += 1
    return rows
