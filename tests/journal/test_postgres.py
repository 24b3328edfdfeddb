"""PostgresJournal: the conformance suite on a real PostgreSQL server.

The stores connect as an ordinary role that owns its database (as a deployment should: a
superuser is never subject to row-level security), so the suite also proves the policies let an
unrestricted store (tenant ``*``) see everything.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from agentplane.journal import JournalStore
from agentplane.journal.postgres import PostgresJournal

from .conformance import JournalStoreConformance


@pytest_asyncio.fixture
async def store(app_url: str) -> AsyncIterator[JournalStore]:
    journal = PostgresJournal(app_url)
    yield journal
    await journal.close()


@pytest_asyncio.fixture
async def second_store(store: JournalStore, app_url: str) -> AsyncIterator[JournalStore]:
    journal = PostgresJournal(app_url)  # another pool on the same database, as another process
    yield journal
    await journal.close()


class TestPostgresJournal(JournalStoreConformance):
    """PostgresJournal passes the back-end conformance suite unchanged."""
