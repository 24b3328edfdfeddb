"""Every write transaction of a SQLite journal checks that its path still names the file it
opened: appends (the first of a loop tick, committed at once, and the others, grouped into the
tick's one transaction) are refused once the file is removed or replaced, and nothing they
carried is written anywhere."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from agentplane.journal import JournalUnavailableError, NewEvent, SQLiteJournal


async def _store_with_runs(path: Path) -> SQLiteJournal:
    store = SQLiteJournal(path)
    for run_id in ("a", "b"):
        await store.create_run(run_id=run_id, workflow="w", workflow_hash="h", input=None,
                               meta={}, lease_owner="me", lease_seconds=600)
        await store.append(run_id, [NewEvent("run.started")], owner="me")
    return store


async def _append_both(store: SQLiteJournal) -> list[BaseException | object]:
    return await asyncio.gather(  # the second append joins the first one's loop tick
        *(store.append(run_id, [NewEvent("model.requested", step_key="s")], owner="me")
          for run_id in ("a", "b")), return_exceptions=True)


async def test_appends_are_refused_once_the_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    store = await _store_with_runs(path)
    assert all(not isinstance(r, BaseException) for r in await _append_both(store))
    other = SQLiteJournal(tmp_path / "other.db")
    await other.close()
    os.replace(other.path, path)
    for suffix in ("-wal", "-shm"):  # the old file's log is not the new file's
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    outcomes = await _append_both(store)
    assert all(isinstance(r, JournalUnavailableError) and "replaced" in str(r)
               for r in outcomes), outcomes
    await store.close()
    reopened = SQLiteJournal(path)
    assert await reopened.list_runs() == []  # the new file got nothing
    await reopened.close()


async def test_appends_are_refused_once_the_file_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    store = await _store_with_runs(path)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    outcomes = await _append_both(store)
    assert all(isinstance(r, JournalUnavailableError) and "removed" in str(r)
               for r in outcomes), outcomes
    with pytest.raises(JournalUnavailableError, match="removed"):
        await store.put_blob({"x": 1})
    await store.close()
    assert not path.exists()
