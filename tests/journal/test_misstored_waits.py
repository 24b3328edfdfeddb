"""A wait's row (an approval, a signal, a timer) edited by hand into something the journal never
writes there: every reader of waits says which wait and which column, instead of failing on the
type or the JSON (waits are a projection of the chained events, so ``audit verify`` is not
where this shows)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from agentplane.journal import EventType, NewEvent, SQLiteJournal
from agentplane.journal.store import CorruptWaitError

from .conformance import new_run

EDITS = [("run_id", "x'00'", "its run_id column holds a BLOB"),
         ("created_at", "x'00'", "its created_at column holds a BLOB"),
         ("deadline", "'soon'", "its deadline column holds text"),
         ("data", "x'7b7d'", "its data column holds a BLOB"),
         ("data", "'nope'", "its stored JSON is unreadable"),
         ("data", "'[1]'", "its data column holds no JSON object"),
         ("resolution", "'nope'", "its stored JSON is unreadable"),
         ("step_key", "x'00'", "its step_key column holds a BLOB")]


@pytest.mark.parametrize(("column", "value", "said"), EDITS)
async def test_a_wait_edited_out_of_shape_is_named(tmp_path: Path, column: str, value: str,
                                                   said: str) -> None:
    path = tmp_path / "j.db"
    store = SQLiteJournal(path)
    await new_run(store, "run-1", events=[
        NewEvent(EventType.RUN_STARTED),
        NewEvent(EventType.APPROVAL_REQUESTED, step_key="s1",
                 data={"wait_id": "w-1", "kind": "tool_call", "deadline": 4_000_000_000.0})])
    assert [w.id for w in await store.waits()] == ["w-1"]
    await store.close()
    with sqlite3.connect(path) as raw:
        raw.execute(f"UPDATE waits SET {column} = {value} WHERE id = 'w-1'")
    store = SQLiteJournal(path, create=False)
    reads: list[Callable[[], Awaitable[object]]] = [
        store.waits, lambda: store.get_wait("w-1")]
    for read in reads:
        with pytest.raises(CorruptWaitError, match=f"the wait w-1 cannot be read: {said}"):
            await read()
    await store.close()


async def test_an_unreadable_due_wait_is_said_once_and_the_other_timers_fire(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The machine's way to due waits (the worker's timers) leaves a wait it cannot read open
    for a person, says so once, and still returns the others: one bad row does not stop every
    timer, nor the worker that fires them."""
    path = tmp_path / "j.db"
    store = SQLiteJournal(path)
    for run_id, wait_id in (("run-1", "w-1"), ("run-2", "w-2")):
        await new_run(store, run_id, events=[
            NewEvent(EventType.RUN_STARTED),
            NewEvent(EventType.APPROVAL_REQUESTED, step_key="s1",
                     data={"wait_id": wait_id, "kind": "tool_call", "deadline": 1_000.0})])
    await store.close()
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE waits SET data = x'00' WHERE id = 'w-1'")
    store = SQLiteJournal(path, create=False)
    with caplog.at_level(logging.ERROR, logger="agentplane.journal.projection"):
        for _ in range(3):
            assert [w.id for w in await store.due_waits(5e9)] == ["w-2"]
    said = [r.getMessage() for r in caplog.records if "w-1" in r.getMessage()]
    assert len(said) == 1 and "its data column holds a BLOB" in said[0]
    await store.close()
