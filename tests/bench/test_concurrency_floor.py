"""bench/concurrency.py's journal floor writes the traced run's rows, all of them, in the
transactions the runtime made them in."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import concurrency
from _common import transaction_sizes
from agentplane.journal import SQLiteJournal, verify

RUNS = 12


async def _audit(journal: Path) -> tuple[bool, int, int]:
    store = SQLiteJournal(journal)
    try:
        report = await verify(store)
        return report.ok, report.runs, report.events
    finally:
        await store.close()


def test_the_journal_floor_writes_every_row_of_the_traced_run(tmp_path: Path) -> None:
    traced, again = tmp_path / "traced", tmp_path / "again"
    traced.mkdir()
    again.mkdir()
    statements: list[str] = []
    _, events = asyncio.run(concurrency.durable(traced, RUNS, trace=statements))
    sizes = transaction_sizes(statements)
    assert sum(sizes) == events
    assert len(sizes) < events  # the runs' writes were grouped, not one transaction each

    assert concurrency.journal_floor(again, traced / "journal.db", sizes) > 0

    source = concurrency.journal_rows(traced / "journal.db")
    copy = concurrency.journal_rows(again / "journal.db")
    assert copy[1:] == source[1:]  # the same runs (as they ended) and events, in order
    assert asyncio.run(_audit(again / "journal.db")) == (True, RUNS, events)
