"""Where a journal follower keeps its place: a row in the journal's database, or memory."""

from __future__ import annotations

from agentplane.journal import JournalStore
from agentplane.storage import Database, Migration, migrate

COMPONENT = "telemetry"

MIGRATIONS = (Migration(
    1, "CREATE TABLE IF NOT EXISTS telemetry_cursor "
       "(name TEXT PRIMARY KEY, position INTEGER NOT NULL)",
    postgresql="CREATE TABLE IF NOT EXISTS telemetry_cursor "
               "(name TEXT PRIMARY KEY, position BIGINT NOT NULL)",
    note="telemetry_cursor"),)


class Cursor:
    """A named position in ``events_since`` order.

    Kept in a ``telemetry_cursor`` table in the journal's database (through the store's
    handle), so a restarted follower goes on where it stopped; in memory when the database is
    open read-only.
    """

    def __init__(self, store: JournalStore, name: str, *,
                 database: Database | None = None) -> None:
        """``database``: where to keep the position (default: the store's own database)."""
        self.store = store
        self.name = name
        self._memory: int | None = None
        self._db: Database | None = None
        database = database or store.database
        if not database.readonly:
            migrate(database, COMPONENT, MIGRATIONS)
            self._db = database

    def get(self) -> int | None:
        """The stored position, or None if this follower never stored one."""
        if self._db is None:
            return self._memory
        row = self._db.query_one("SELECT position FROM telemetry_cursor WHERE name = ?",
                                 (self.name,))
        return None if row is None else int(row[0])

    def set(self, position: int) -> None:
        if self._db is None:
            self._memory = position
            return
        self._db.execute("INSERT INTO telemetry_cursor(name, position) VALUES (?, ?) "
                         "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                         (self.name, position))

    async def journal_end(self) -> int:
        """The position after the last event written so far ("now")."""
        database = self.store.database
        if database.dialect == "sqlite":  # SQLite's events_since positions are rowids
            row = database.query_one("SELECT COALESCE(MAX(rowid), 0) FROM events")
            return int(row[0]) if row else 0
        position = 0
        while True:
            events, after = await self.store.events_since(position, limit=10_000)
            if not events:
                return position
            position = after

    def close(self) -> None:
        """The handle is the store's: forget it, close nothing."""
        self._db = None
