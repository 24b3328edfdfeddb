"""What a live run holds: the traced Python heap per run at the peak of N concurrent runs.

The concurrency workload (N runs × 5 calls of 100 ms, all at once, one process) with
``tracemalloc`` on: the heap traced above what existed before the runs started is sampled every
0.25 s while they run, and the highest sample is divided by N. Unlike the peak RSS
(``scale_runs.py``) it leaves out the allocator's slack and what start-up loaded, so it shows a
change to what each run keeps even on a busy machine. The baseline is the heap traced right
after the runs were created (before they advance). Every run is driven at once
(``max_active=None``): the runtime's default admits 1,000 at a time, which would hide what a
live run holds behind the runs still waiting for their turn.

Run: .venv/bin/python bench/live_memory.py [--runs 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import tracemalloc

from _common import Figure, print_figures, scratch
from agentplane.journal import SQLiteJournal
from agentplane.runtime import Runtime
from concurrency import fan_out


async def _traced(runs: int) -> tuple[float, float]:
    """(highest traced bytes per run while running, traced bytes per run once all started)."""
    with scratch() as folder:
        store = SQLiteJournal(folder / "journal.db")
        runtime = Runtime(store, max_active=None)
        workflow = fan_out(folder)
        tracemalloc.start(1)
        base = tracemalloc.get_traced_memory()[0]
        done = asyncio.gather(*(runtime.run(workflow, f"job {i}") for i in range(runs)))
        await asyncio.sleep(0)
        created = tracemalloc.get_traced_memory()[0] - base
        highest = created
        while not done.done():
            await asyncio.sleep(0.25)
            highest = max(highest, tracemalloc.get_traced_memory()[0] - base)
        results = await done
        tracemalloc.stop()
        assert {r.status for r in results} == {"completed"}
        await runtime.aclose()
        await store.close()
    return highest / runs, created / runs


def run(runs: int = 2000) -> list[Figure]:
    highest, created = asyncio.run(_traced(runs))
    return [Figure("live_memory", f"traced heap per live run, peak of {runs} runs",
                   highest / 1024, "KiB/run", created / 1024)]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    print_figures(run(parser.parse_args().runs))
