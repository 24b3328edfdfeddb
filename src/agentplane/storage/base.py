"""The database handle every component gets its tables and transactions through."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Literal

from agentplane.errors import AgentplaneError, NotFoundError

Row = tuple[Any, ...]
Dialect = Literal["sqlite", "postgresql"]


class DatabaseError(AgentplaneError):
    """The database refused or failed an operation (said without credentials)."""


class DatabaseUnavailableError(DatabaseError):
    """The database cannot take writes now (read-only, disk full, I/O failure, connection
    lost). Nothing was written; the caller may try again once the cause is fixed."""


class DatabaseNotFoundError(NotFoundError):
    """A command that only reads was pointed at a database that does not exist."""


class Database(ABC):
    """A synchronous handle on one database.

    SQL is written once, with ``?`` placeholders and the syntax SQLite and PostgreSQL share
    (``INSERT ... ON CONFLICT ... DO NOTHING / DO UPDATE``, ``CREATE TABLE IF NOT EXISTS``);
    the PostgreSQL handle rewrites the placeholders. Where the dialects differ, branch on
    :attr:`dialect`.

    Outside :meth:`transaction`, each statement commits on its own. Inside it, every statement
    belongs to one transaction that commits when the block ends and rolls back if it raises.
    """

    dialect: Dialect
    url: str
    """The database's URL with any password removed (safe to show)."""
    readonly: bool = False

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the number of rows it changed."""

    @abstractmethod
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run one statement per row of parameters; returns the rows changed in all."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query; returns every row."""

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def iterate(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Row]:
        """Rows of a query, one at a time where the back-end can stream them."""
        return iter(self.query(sql, params))

    @abstractmethod
    def script(self, sql: str) -> None:
        """Run several statements separated by ``;`` (schema definitions; no parameters)."""

    _depth = 0

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """A write transaction (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: ``BEGIN``). Inside
        another, it is part of that one."""
        if self._depth:
            yield self
            return
        self._depth += 1
        try:
            with self._begin():
                yield self
        finally:
            self._depth -= 1

    @abstractmethod
    def _begin(self) -> AbstractContextManager[object]:
        """The outermost transaction: commits when the block ends, rolls back if it raises."""

    @abstractmethod
    def close(self) -> None: ...
