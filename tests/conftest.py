"""Fixtures every test package may use: a real PostgreSQL server (see ``tests/pgserver.py``)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from agentplane.journal import JournalStore, SQLiteJournal
from agentplane.runtime import Runtime
from agentplane.storage import Database, open_database

from .pgserver import PostgresServer, PostgresUnavailable


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session, started by the tests themselves."""
    try:
        server = PostgresServer()
    except PostgresUnavailable as exc:
        if os.environ.get("AGENTPLANE_REQUIRE_POSTGRES") == "1":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh, empty database on the session's server."""
    return postgres_server.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each back-end in turn: a SQLite file, then a PostgreSQL
    database on the session's server (for the tests of tables kept through ``storage``)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'agentplane.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A :class:`Database` handle on ``database_url`` (closed after the test)."""
    handle = open_database(database_url)
    yield handle
    handle.close()


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[JournalStore]:
    """A journal in a fresh SQLite file."""
    journal = SQLiteJournal(tmp_path / "journal.db")
    yield journal
    await journal.close()


@pytest_asyncio.fixture
async def runtime(store: JournalStore) -> AsyncIterator[Runtime]:
    """A runtime on ``store``, closed afterwards."""
    rt = Runtime(store)
    yield rt
    await rt.aclose()
