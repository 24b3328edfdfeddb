"""Storage: the one box that talks to a database.

Every table Agentplane keeps — the journal's, the usage ledger's, the API keys', the registry's,
the telemetry cursors' and anything later — lives in one database reached through a
:class:`Database` handle. No module outside this box imports ``sqlite3`` or ``psycopg``.

Two back-ends: SQLite (the embedded default, one file) and PostgreSQL (many processes on many
machines). Each component declares its tables as numbered :class:`Migration` s; the version each
component's schema is at is recorded in the database (``schema_versions``), applied by
:func:`migrate` on open or by ``agentplane db upgrade``, and a database newer than this
Agentplane is refused with a clear message (:class:`SchemaTooNewError`).
"""

from __future__ import annotations

from .base import (
    Database,
    DatabaseError,
    DatabaseNotFoundError,
    DatabaseUnavailableError,
    Row,
)
from .drivers import driver_errors, is_driver_error
from .migrations import Migration, SchemaTooNewError, migrate, schema_versions
from .urls import DatabaseURL, as_database, open_component, open_database, parse_url

__all__ = [
    "Database",
    "DatabaseError",
    "DatabaseNotFoundError",
    "DatabaseURL",
    "DatabaseUnavailableError",
    "Migration",
    "Row",
    "SchemaTooNewError",
    "as_database",
    "driver_errors",
    "is_driver_error",
    "migrate",
    "open_component",
    "open_database",
    "parse_url",
    "schema_versions",
]
