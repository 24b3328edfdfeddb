"""Fixtures of the journal tests."""

from __future__ import annotations

import pytest

from tests.pgserver import PostgresServer

from .pg_helpers import app_database


@pytest.fixture
def app_url(postgres_server: PostgresServer) -> str:
    """A fresh PostgreSQL database owned by an ordinary role (see ``pg_helpers``)."""
    return app_database(postgres_server)
