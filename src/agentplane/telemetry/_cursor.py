"""Where a journal follower keeps its place: a row in the journal's SQLite file, or memory."""

from __future__ import annotations

import sqlite3

from agentplane.journal import JournalStore
from agentplane.storage.sqlite import connect

_SCHEMA = ("CREATE TABLE IF NOT EXISTS telemetry_cursor "
           "(name TEXT PRIMARY KEY, position INTEGER NOT NULL)")


def sqlite_path(store: JournalStore) -> str | None:
    """The SQLite file the store lives in, or None (``:memory:`` or another back-end)."""
    path = getattr(store, "path", None)
    return path if isinstance(path, str) and path != ":memory:" else None


class Cursor:
    """A named position in ``events_since`` order.

    Kept in a ``telemetry_cursor`` table next to the journal when the journal is a SQLite file,
    so a restarted follower goes on where it stopped; in memory otherwise.
    """

    def __init__(self, store: JournalStore, name: str) -> None:
        self.store = store
        self.name = name
        self._memory: int | None = None
        path = sqlite_path(store)
        self._db: sqlite3.Connection | None = None
        if path is not None:
            self._db = connect(path)
            self._db.execute(_SCHEMA)

    def get(self) -> int | None:
        """The stored position, or None if this follower never stored one."""
        if self._db is None:
            return self._memory
        row = self._db.execute("SELECT position FROM telemetry_cursor WHERE name = ?",
                               (self.name,)).fetchone()
        return None if row is None else int(row[0])

    def set(self, position: int) -> None:
        if self._db is None:
            self._memory = position
            return
        self._db.execute("INSERT INTO telemetry_cursor(name, position) VALUES (?, ?) "
                         "ON CONFLICT(name) DO UPDATE SET position = excluded.position",
                         (self.name, position))

    async def journal_end(self) -> int:
        """The position after the last event written so far ("now")."""
        if self._db is not None:
            (end,) = self._db.execute("SELECT COALESCE(MAX(rowid), 0) FROM events").fetchone()
            return int(end)
        position = 0
        while True:
            events, after = await self.store.events_since(position, limit=10_000)
            if not events:
                return position
            position = after

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
