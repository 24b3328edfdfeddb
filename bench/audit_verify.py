"""``audit verify`` of a large SQLite journal: every run's hash chain recomputed, on both cores.

The journal holds N events (default 1.8 M) in runs of 18 events each, written through the
journal store (so every chain is real). Baseline, measured in the same run: one thread reading
the same rows in the same order and taking the SHA-256 of each event's stored text (the bytes
``verify`` hashes, without checking anything). A second figure is ``verify`` held to one
process, to show what the second core gives.

Run: .venv/bin/python bench/audit_verify.py [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
from pathlib import Path

from _common import Figure, Stopwatch, print_figures, scratch
from agentplane.journal import EventType, NewEvent, SQLiteJournal, verify

EVENTS_PER_RUN = 18
RUNS_PER_COMMIT = 200


def run_events(i: int) -> list[NewEvent]:
    middle = []
    for step in range((EVENTS_PER_RUN - 3) // 3):
        key = f"s{step}"
        middle += [
            NewEvent("model.requested", "agent:clerk", key, {"agent": "clerk", "messages": 3}),
            NewEvent("model.completed", "agent:clerk", key,
                     {"response": {"content": f"answer {step} of run {i}", "tool_calls": []}},
                     usage={"input_tokens": 120 + step, "output_tokens": 30}),
            NewEvent("tool.completed", "agent:clerk", f"{key}/t",
                     {"tool": "lookup", "result": {"rows": [i, step], "ok": True}}),
        ]
    return [NewEvent(EventType.RUN_STARTED, data={"worker": "bench"}), *middle,
            NewEvent(EventType.RUN_COMPLETED, data={"output": f"done {i}"})]


async def build(path: Path, events: int) -> int:
    store = SQLiteJournal(path)
    runs = max(1, events // EVENTS_PER_RUN)
    for i in range(runs):
        await store.create_run(run_id=f"run-{i:07x}", workflow="desk", workflow_hash="h",
                               input={"ticket": i}, meta={}, events=run_events(i)[:1])
        await store.append(f"run-{i:07x}", run_events(i)[1:])
    await store.close()
    return runs


def hash_floor(path: Path) -> tuple[float, int]:
    """One thread: read every event's stored text in write order and hash it."""
    store = SQLiteJournal(path, create=False, readonly=True)
    count = 0
    with Stopwatch() as watch:
        for row in store.database.iterate(
                "SELECT run_id, seq, time, type, actor, step_key, data, usage, prev_hash,"
                " schema FROM events ORDER BY rowid"):
            hashlib.sha256("|".join(map(str, row)).encode()).hexdigest()
            count += 1
    asyncio.run(store.close())
    return watch.seconds, count


async def timed_verify(path: Path, workers: int | None) -> tuple[float, int]:
    store = SQLiteJournal(path, create=False, readonly=True)
    with Stopwatch() as watch:
        report = await verify(store, workers=workers)
    await store.close()
    assert report.ok, report.breaks[:3]
    return watch.seconds, report.events


def run(events: int) -> list[Figure]:
    with scratch() as folder:
        path = folder / "journal.db"
        asyncio.run(build(path, events))
        floor, count = hash_floor(path)
        both, checked = asyncio.run(timed_verify(path, None))
        one, _ = asyncio.run(timed_verify(path, 1))
    assert checked == count
    return [
        Figure("audit", f"audit verify, {count:,} events (both cores)", both, "s", floor,
               "≤ 8 s at 1.8 M events"),
        Figure("audit", "audit verify, one process", one, "s", floor, ""),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_800_000)
    print_figures(run(parser.parse_args().events))
