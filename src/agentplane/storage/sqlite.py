"""The SQLite back-end: one file (or ``:memory:``) shared by every component."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

from .base import Database, DatabaseError, DatabaseNotFoundError, DatabaseUnavailableError, Row

SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
BUSY_TIMEOUT_MS = 30_000
"""How long a writer waits for another's lock before giving up (milliseconds)."""


def connect(path: str, *, synchronous: str = "NORMAL", create: bool = True,
            readonly: bool = False) -> sqlite3.Connection:
    """A connection with the settings every Agentplane table in the file shares (WAL, the
    ``synchronous`` mode, a busy timeout so writers wait for each other).

    ``create=False`` opens an existing file only: no folder and no empty journal is made for a
    command that only reads. ``readonly`` opens it read-only (SQLite's ``mode=ro``)."""
    memory = path == ":memory:"
    if not memory and not Path(path).is_file() and (readonly or not create):
        raise DatabaseNotFoundError(
            f"no journal at {path}: nothing was recorded there yet; check --db or "
            "AGENTPLANE_DB (a command that only reads never creates one)")
    try:
        if memory or (create and not readonly):
            if not memory:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                 timeout=30.0)
        else:
            uri = f"{Path(path).absolute().as_uri()}?mode={'ro' if readonly else 'rw'}"
            db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False,
                                 timeout=30.0)
        if readonly:
            return db  # the journal mode is the writer's to set
        db.execute("PRAGMA journal_mode=WAL")
    except OSError as exc:
        raise DatabaseError(f"cannot create the journal at {path}: "
                            f"{exc.strerror or exc} ({exc.filename or path})") from exc
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"cannot open the journal at {path}: {exc}; "
                            "is it an Agentplane journal (a SQLite file) in a folder you can "
                            "write?") from exc
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return db


@contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the lock at once (``BEGIN IMMEDIATE``)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


_T = TypeVar("_T")


def in_immediate(db: sqlite3.Connection, write: Callable[[sqlite3.Connection], _T]) -> _T:
    """``write(db)`` in an :func:`immediate` transaction, as one plain call (no context
    manager): what a journal append pays per transaction."""
    db.execute("BEGIN IMMEDIATE")
    try:
        result = write(db)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return result


class SQLiteDatabase(Database):
    """A handle on one SQLite file. Used from one thread (the event loop's)."""

    dialect = "sqlite"

    def __init__(self, path: str, *, synchronous: str = "NORMAL", create: bool = True,
                 readonly: bool = False, connection: sqlite3.Connection | None = None) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self.readonly = readonly
        self.connection = connection or connect(path, synchronous=synchronous, create=create,
                                                readonly=readonly)
        """The underlying connection, for the journal store that shares it."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.connection.execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        return self.connection.executemany(sql, rows).rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self.connection.execute(sql, params).fetchall()

    def iterate(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Row]:
        return iter(self.connection.execute(sql, params))

    def script(self, sql: str) -> None:
        for statement in sql.split(";"):
            if statement.strip():
                self.connection.execute(statement)

    def _begin(self) -> AbstractContextManager[object]:
        return self._immediate()

    @contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        try:
            with immediate(self.connection) as conn:
                yield conn
        except sqlite3.OperationalError as exc:  # read-only, disk full, I/O, locked too long
            raise DatabaseUnavailableError(
                f"the database {self.url} cannot be written now ({exc}); nothing was "
                "written") from exc

    def close(self) -> None:
        self.connection.close()
