"""The database drivers' own exception classes, for the layers above that answer them (the
server's 503, the CLI's one-line error) without importing a driver themselves."""

from __future__ import annotations

import importlib
import importlib.util
import sqlite3
import sys


def driver_errors(*, load: bool = False) -> tuple[type[Exception], ...]:
    """The exception classes a database driver may raise past a handle: SQLite's always,
    psycopg's when it is loaded (a PostgreSQL URL was opened) — or, with ``load``, whenever it
    is installed (for a server that registers its handlers before it opens a database)."""
    errors: list[type[Exception]] = [sqlite3.Error]
    psycopg = sys.modules.get("psycopg")
    if psycopg is None and load and importlib.util.find_spec("psycopg") is not None:
        psycopg = importlib.import_module("psycopg")
    if psycopg is not None:
        errors.append(psycopg.Error)
    return tuple(errors)


def is_driver_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a database driver's failure (not one of Agentplane's own errors)."""
    return isinstance(exc, driver_errors())
