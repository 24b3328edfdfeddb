"""Fixtures every test package may use: a real PostgreSQL server (see ``tests/pgserver.py``)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

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
