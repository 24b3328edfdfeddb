"""bench/step_cost.py's baselines write what they claim: the same rows in the same transactions,
and the bare chained writer a journal whose chain the audit accepts."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import Callable, Coroutine
from contextlib import closing
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import step_cost
from agentplane.journal import SQLiteJournal, verify

STEPS = 12


def _payload_sizes(journal: Path) -> list[tuple[str, int, int]]:
    with closing(sqlite3.connect(journal)) as db:
        return db.execute("SELECT type, length(data), coalesce(length(usage), 0) FROM events"
                          " WHERE seq > 2 ORDER BY seq").fetchall()


async def _audit(journal: Path) -> tuple[bool, int]:
    store = SQLiteJournal(journal)
    try:
        report = await verify(store)
        return report.ok, report.events
    finally:
        await store.close()


@pytest.mark.parametrize("steps", [step_cost.durable_model_steps, step_cost.durable_tool_steps],
                         ids=["model", "write-tool"])
def test_the_bare_chained_writes_make_a_journal_the_audit_accepts(
        tmp_path: Path, steps: Callable[..., Coroutine[object, object, float]]) -> None:
    sizes = step_cost.transactions(steps, STEPS)
    durable, floor, chained = tmp_path / "durable", tmp_path / "floor", tmp_path / "chained"
    for folder in (durable, floor, chained):
        folder.mkdir()
    asyncio.run(steps(durable, STEPS))
    rows = step_cost.step_rows(durable / "journal.db")
    assert sum(sizes) == len(rows) >= 2 * STEPS - 1

    assert step_cost.same_bytes_floor(floor, rows, STEPS, sizes) > 0
    assert step_cost.chained_floor(chained, rows, STEPS, sizes) > 0

    # the same payloads, event for event, in all three journals
    written = _payload_sizes(durable / "journal.db")
    assert _payload_sizes(floor / "journal.db") == written
    assert _payload_sizes(chained / "journal.db") == written
    # the bare writer's chain is a real one: the audit checks every hash and the run's head
    ok, events = asyncio.run(_audit(chained / "journal.db"))
    assert ok and events == len(rows) + 2

