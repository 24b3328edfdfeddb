"""Many runs at once in one process: 1,000 runs × 5 model calls, each call taking 100 ms.

The floor is the latency itself: 5 sequential calls of 100 ms take 0.5 s however many runs go
in parallel. The baseline measured in the same run is that floor (1,000 × 5 sleeps of 100 ms in
plain asyncio, no journal); the figure is the same work through the durable runtime on SQLite.

A second figure is the journal's own floor: the rows a traced run of the same work wrote (its
runs and every event), written again with nothing but ``sqlite3`` in the transactions that run
made them in (learnt from SQLite's statement trace), each moving the heads of the runs it
touched once. The process's one event loop has to fit that SQL and all of its Python into the
wall time, next to the waits; that share is what no runtime above this journal can save.

Run: .venv/bin/python bench/concurrency.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from _common import EVENT_INSERT, Figure, Stopwatch, print_figures, scratch, transaction_sizes
from agentplane.journal import SQLiteJournal, verify
from agentplane.runtime import Runtime, Workflow, workflow_from_dict
from agentplane.storage.sqlite import connect

CALLS = 5
LATENCY_MS = 100


async def floor(runs: int) -> float:
    async def one() -> None:
        for _ in range(CALLS):
            await asyncio.sleep(LATENCY_MS / 1000)

    with Stopwatch() as watch:
        await asyncio.gather(*(one() for _ in range(runs)))
    return watch.seconds


def fan_out(folder: Path) -> Workflow:
    """The workflow every run follows: ``CALLS`` model calls of ``LATENCY_MS`` each."""
    reply = {"latency_ms": LATENCY_MS, "content": "ok"}
    return workflow_from_dict(
        {"name": "fan-out", "agents": [{"name": "a", "script": [reply] * CALLS}],
         "steps": [{"agent": "a", "input": f"part {i}"} for i in range(CALLS)]}, folder)


async def run_all(runtime: Runtime, workflow: Workflow, runs: int) -> float:
    """Seconds to drive ``runs`` runs at once to completion."""
    with Stopwatch() as watch:
        done = await asyncio.gather(*(runtime.run(workflow, f"job {i}") for i in range(runs)))
    assert {r.status for r in done} == {"completed"}
    return watch.seconds


async def durable(folder: Path, runs: int, *, trace: list[str] | None = None
                  ) -> tuple[float, int]:
    """Wall seconds for ``runs`` runs through the runtime, and the events they journaled;
    ``trace``: collect the SQL statements made (slower: for an untimed run)."""
    store = SQLiteJournal(folder / "journal.db")
    if trace is not None:
        store._db.set_trace_callback(trace.append)
    runtime = Runtime(store)
    wall = await run_all(runtime, fan_out(folder), runs)
    report = await verify(store)
    assert report.ok and report.runs == runs
    await runtime.aclose()
    await store.close()
    return wall, report.events


def journal_rows(journal: Path) -> tuple[list[str], list[tuple[Any, ...]],
                                           list[tuple[Any, ...]]]:
    """A journal's ``runs`` columns and rows, and its event rows in the order written."""
    with closing(sqlite3.connect(journal)) as db:
        runs = db.execute("SELECT * FROM runs")
        columns = [d[0] for d in runs.description]
        return (columns, runs.fetchall(),
                db.execute("SELECT run_id, seq, time, type, actor, step_key, data, usage,"
                           " prev_hash, hash, schema FROM events ORDER BY rowid").fetchall())


def journal_floor(folder: Path, source: Path, sizes: list[int]) -> float:
    """Seconds to write ``source``'s runs and events into a new journal of the same schema and
    settings with nothing but ``sqlite3``, in transactions of ``sizes`` events (as the runtime
    made them): a run's row with its first event, each run's head moved once per transaction."""
    columns, run_rows, events = journal_rows(source)
    assert sum(sizes) == len(events), (sum(sizes), len(events))
    SQLiteJournal(folder / "journal.db")  # the schema, made as the runtime makes it
    db = connect(str(folder / "journal.db"))
    insert_run = (f"INSERT INTO runs({', '.join(columns)}) "
                  f"VALUES ({', '.join('?' * len(columns))})")
    by_id = {row[columns.index("id")]: row for row in run_rows}
    created: set[str] = set()
    with Stopwatch() as watch:
        at = 0
        for size in sizes:
            group = events[at:at + size]
            at += size
            heads: dict[str, tuple[Any, ...]] = {}
            db.execute("BEGIN IMMEDIATE")
            for event in group:
                if event[0] not in created:
                    created.add(event[0])
                    db.execute(insert_run, by_id[event[0]])
                heads[event[0]] = event
            db.executemany(EVENT_INSERT, group)
            db.executemany("UPDATE runs SET last_seq = ?, head_hash = ?, updated_at = ?"
                           " WHERE id = ?", [(e[1], e[9], e[2], e[0]) for e in heads.values()])
            db.execute("COMMIT")
    db.close()
    return watch.seconds


def run(runs: int) -> list[Figure]:
    statements: list[str] = []
    with scratch() as folder, scratch() as traced, scratch() as again:
        base = asyncio.run(floor(runs))
        wall, events = asyncio.run(durable(folder, runs))
        asyncio.run(durable(traced, runs, trace=statements))
        sql = journal_floor(again, traced / "journal.db", transaction_sizes(statements))
    return [
        Figure("concurrency", f"{runs} runs × {CALLS} calls of {LATENCY_MS} ms, wall time", wall,
               "s", base, "≤ 1.0 s"),
        Figure("concurrency", "  its journal rows alone, same transactions, raw SQLite", sql,
               "s", None, "(the SQL's own share)"),
        Figure("concurrency", "events journaled per second", events / wall, "events/s"),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    print_figures(run(parser.parse_args().runs))
