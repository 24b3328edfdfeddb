"""Many runs at once in one process: 1,000 runs × 5 model calls, each call taking 100 ms.

The floor is the latency itself: 5 sequential calls of 100 ms take 0.5 s however many runs go
in parallel. The baseline measured in the same run is that floor (1,000 × 5 sleeps of 100 ms in
plain asyncio, no journal); the figure is the same work through the durable runtime on SQLite.

Run: .venv/bin/python bench/concurrency.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from _common import Figure, Stopwatch, print_figures, scratch
from agentplane.journal import SQLiteJournal, verify
from agentplane.runtime import Runtime, Workflow, workflow_from_dict

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


async def durable(folder: Path, runs: int) -> tuple[float, int]:
    store = SQLiteJournal(folder / "journal.db")
    runtime = Runtime(store)
    wall = await run_all(runtime, fan_out(folder), runs)
    report = await verify(store)
    assert report.ok and report.runs == runs
    await runtime.aclose()
    await store.close()
    return wall, report.events


def run(runs: int) -> list[Figure]:
    with scratch() as folder:
        base = asyncio.run(floor(runs))
        wall, events = asyncio.run(durable(folder, runs))
    return [
        Figure("concurrency", f"{runs} runs × {CALLS} calls of {LATENCY_MS} ms, wall time", wall,
               "s", base, "well under 2 s"),
        Figure("concurrency", "events journaled per second", events / wall, "events/s"),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    print_figures(run(parser.parse_args().runs))
