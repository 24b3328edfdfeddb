"""What process isolation costs: a durable tool step run inline vs in a child process.

The same sync read tool, called as a durable step (``tool.started`` and ``tool.completed``
committed apart): once on a thread of the runtime (``isolation: inline``), once in a fresh child
forked from the forkserver per call (``isolation: process``, which survives ``os._exit``,
segfaults and hangs). The forkserver is started before timing.

Run: .venv/bin/python bench/isolation.py [--steps N]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from _common import Figure, Stopwatch, print_figures, scratch
from agentplane.journal import NewEvent, SQLiteJournal
from agentplane.models.registry import ModelResolver
from agentplane.runtime import workflow_from_dict
from agentplane.runtime.context import RunContext

TOOL = '''
def lookup(order_id: str) -> dict:
    return {"order_id": order_id, "status": "shipped"}
'''


async def durable_steps(folder: Path, steps: int, isolation: str) -> float:
    (folder / "bench_tools.py").write_text(TOOL)
    workflow = workflow_from_dict(
        {"name": "bench", "tool_defaults": {"isolation": isolation},
         "tools": [{"name": "lookup", "python": "bench_tools:lookup", "effect": "read"}],
         "agents": [{"name": "a", "script": [{"content": "x"}]}], "steps": [{"agent": "a"}]},
        folder)
    store = SQLiteJournal(folder / "journal.db")
    run = await store.create_run(run_id="bench", workflow="bench", workflow_hash=workflow.hash,
                                 input=None, meta={}, lease_owner="bench", lease_seconds=3600)
    await store.append(run.id, [NewEvent("run.started")])
    ctx = RunContext(store, await store.require_run(run.id), workflow, ModelResolver(), "bench")
    tool = workflow.tools["lookup"]
    await ctx.tool_step("warm-up", tool, {"order_id": "A0"}, "a")  # starts the forkserver
    with Stopwatch() as watch:
        for i in range(steps):
            await ctx.tool_step(f"s{i}", tool, {"order_id": "A1"}, "a")
    await store.close()
    return watch.seconds / steps


def run(steps: int) -> list[Figure]:
    with scratch() as a, scratch() as b:
        inline = asyncio.run(durable_steps(a, steps, "inline"))
        process = asyncio.run(durable_steps(b, max(steps // 20, 10), "process"))
    return [Figure("isolation", "durable sync tool step, isolation: process vs inline",
                   process * 1e3, "ms/step", inline * 1e3, "the price of surviving os._exit")]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    print_figures(run(parser.parse_args().steps))
