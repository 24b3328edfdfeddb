"""Opening a journal for reading only: a missing file is "not found" and nothing is created;
``?mode=ro`` reads and refuses every write."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentplane.errors import ConfigError, NotFoundError
from agentplane.journal import EventType, NewEvent, open_store
from agentplane.journal.health import JournalUnavailableError

from .conformance import new_run


def test_a_missing_journal_is_not_created_when_only_reading(tmp_path: Path) -> None:
    missing = tmp_path / "missing-dir" / "x.db"
    for url in (f"sqlite:///{missing}", str(missing), f"sqlite:///{missing}?mode=ro"):
        with pytest.raises(NotFoundError, match=f"no journal at {missing}"):
            open_store(url, create=False)
    with pytest.raises(NotFoundError):
        open_store(f"sqlite:///{missing}?mode=ro")  # read-only never creates either
    assert list(tmp_path.iterdir()) == []


async def test_read_only_mode_reads_and_refuses_writes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    store = open_store(url)
    await new_run(store, "r1")
    await store.close()
    readonly = open_store(f"{url}?mode=ro", create=False)
    try:
        assert [r.id for r in await readonly.list_runs()] == ["r1"]
        with pytest.raises(JournalUnavailableError, match="read-only"):
            await readonly.append("r1", [NewEvent(EventType.RUN_STARTED)])
    finally:
        await readonly.close()
    store = open_store(url)
    try:
        assert len(await store.events("r1")) == 1  # nothing was added
    finally:
        await store.close()


def test_unknown_mode(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="use mode=ro"):
        open_store(f"sqlite:///{tmp_path / 'x.db'}?mode=rwc")
