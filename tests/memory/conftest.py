"""A memory store on each back-end in turn (a SQLite file, then a PostgreSQL database)."""

from __future__ import annotations

import pytest

from agentplane.memory import MemoryStore, Skills
from agentplane.storage import Database


@pytest.fixture
def memories(database: Database) -> MemoryStore:
    return MemoryStore(database)


@pytest.fixture
def skills(memories: MemoryStore) -> Skills:
    return Skills(memories, promote_after=3)
