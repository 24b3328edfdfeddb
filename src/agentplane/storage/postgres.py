"""The PostgreSQL back-end's synchronous handle (psycopg 3).

The journal store has its own asynchronous pool (``journal/postgres.py``); this handle serves
the components whose interfaces are synchronous (ledger, keys, registry, cursors) and schema
migrations. ``psycopg`` is imported only when a PostgreSQL URL is opened: the SQLite default
never loads it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from .base import Database, DatabaseError, DatabaseUnavailableError, Row

if TYPE_CHECKING:
    import psycopg

_TOKENS = re.compile(r"'(?:[^']|'')*'|\?|%")


def to_pyformat(sql: str) -> str:
    """``?`` placeholders to psycopg's ``%s`` (and a literal ``%`` to ``%%``), leaving quoted
    string literals as they are."""
    def swap(match: re.Match[str]) -> str:
        token = match.group(0)
        return "%s" if token == "?" else "%%" if token == "%" else token
    return _TOKENS.sub(swap, sql)


_NOT_REACHABLE = ("connection refused", "starting up", "not yet accepting connections",
                  "shutting down", "timeout expired", "server closed the connection",
                  "no such file or directory", "could not receive data")
"""What libpq says when the server is not there now (down, restarting, still starting):
worth trying again, unlike a wrong password or a database that does not exist."""


def not_reachable_now(reason: str) -> bool:
    """Whether a connection failure (libpq's message) says the server may answer later."""
    reason = reason.lower()
    return any(words in reason for words in _NOT_REACHABLE)


def import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise DatabaseError(
            "PostgreSQL needs the psycopg package: pip install 'agentplane[postgres]'") from exc
    return psycopg


class PostgresDatabase(Database):
    """A handle on one PostgreSQL database (one connection, autocommit outside transactions;
    a broken connection — a server restart, a killed backend — is replaced on next use)."""

    dialect = "postgresql"

    def __init__(self, dsn: str, *, safe_url: str, readonly: bool = False,
                 application_name: str = "agentplane") -> None:
        self._dsn = dsn
        self.url = safe_url
        self.readonly = readonly
        self.application_name = application_name
        self._psycopg = import_psycopg()
        self._conn: psycopg.Connection[Any] | None = None
        self.connection()  # fail now, with a clear message, if the server cannot be reached

    def connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                self._conn = self._psycopg.connect(
                    self._dsn, autocommit=True, application_name=self.application_name,
                    connect_timeout=10)
            except self._psycopg.OperationalError as exc:
                reason = str(exc).strip().splitlines()[0]
                error = DatabaseUnavailableError if not_reachable_now(reason) else DatabaseError
                raise error(f"cannot connect to {self.url}: {reason}") from None
            if self.readonly:
                self._conn.execute("SET default_transaction_read_only = on")
        return self._conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cur = self.connection().execute(to_pyformat(sql).encode(), params or None)
        return cur.rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        with self.connection().cursor() as cur:
            cur.executemany(to_pyformat(sql).encode(), rows)
            return cur.rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(self.connection().execute(to_pyformat(sql).encode(), params or None)
                    .fetchall())

    def script(self, sql: str) -> None:
        for statement in sql.split(";"):
            if statement.strip():
                self.connection().execute(statement.encode())

    def _begin(self) -> AbstractContextManager[object]:
        return self.connection().transaction()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
