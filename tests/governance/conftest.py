"""What the governance tests share: a real SQLite journal and scripted tool calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from agentplane.journal import JournalStore, SQLiteJournal

from . import worldtools


def call(name: str, **arguments: Any) -> dict[str, Any]:
    """A scripted turn that calls one tool."""
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


DONE = {"content": "done"}


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[JournalStore]:
    journal = SQLiteJournal(tmp_path / "governance.db")
    yield journal
    await journal.close()


@pytest.fixture(autouse=True)
def _fresh_world() -> None:
    """The world of worldtools.py, empty for each test."""
    for state in (worldtools.EFFECTS, worldtools.PAGES, worldtools.FILES, worldtools.MAILS,
                  worldtools.CHANNELS):
        state.clear()
