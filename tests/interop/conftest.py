"""Fixtures of the MCP client tests: the notes server's ledger and a journal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from agentplane.journal import JournalStore, SQLiteJournal


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the notes server (notes_server.py) writes what it did."""
    path = tmp_path / "notes.txt"
    monkeypatch.setenv("NOTES_LEDGER", str(path))
    return path


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[JournalStore]:
    journal = SQLiteJournal(tmp_path / "mcp.db")
    yield journal
    await journal.close()
