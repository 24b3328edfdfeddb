"""Head to head with DBOS on one PostgreSQL server: workflows of 5 durable steps, each step
returning ~1 KB, run one after another and 200 at once.

DBOS side: an async ``@DBOS.workflow()`` calling an async ``@DBOS.step()`` five times (DBOS
records each step's output in its system database before the next starts).
Agentplane side: the cheapest faithful equivalent driven by the Runtime on the PostgreSQL
journal — a run whose agent makes five durable tool calls one after another (a Python tool
returning 1 KB; a scripted model asks for each, so every step is a model turn *and* a tool call,
both journaled with the guardians' decision, and the run's creation, start and end too) — and,
closer still to a DBOS step, the runtime's durable tool call alone (``RunContext.tool_step``,
the primitive every tool call goes through) five times in a run, with no model turn.

Fairness: the same server, a fresh database each, ``synchronous_commit=on`` and ``fsync=on``
for both (the server started here is switched to full durability), the same connection pool
size, a warm-up round for each before timing, and each side's work checked afterwards (DBOS:
every workflow SUCCESS with its five steps recorded; Agentplane: every run completed and every
chain verified).

Run: .venv/bin/python bench/dbos_compare.py [--workflows 200] [--concurrent 200]
(``pip install -e '.[bench]'`` brings DBOS.)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path
from typing import Any

from _common import Figure, Stopwatch, print_figures, scratch
from _pg import BenchServer, bench_server
from agentplane.journal import EventType, NewEvent, open_store, verify
from agentplane.models.registry import ModelResolver
from agentplane.runtime import Runtime
from agentplane.runtime.context import RunContext
from agentplane.runtime.spec import WorkflowSpec
from agentplane.runtime.workflow import Workflow
from agentplane.tools import Effect, python_tool

STEPS = 5
PAYLOAD = "x" * 1024
POOL = 20
"""Connections each side may hold (DBOS ``sys_db_pool_size``; Agentplane ``?pool_size``)."""


# -- DBOS ---------------------------------------------------------------------------------------

def dbos_side(url: str, sequential: int, concurrent: int) -> tuple[float, float]:
    """Seconds per durable step, one workflow after another and ``concurrent`` at once."""
    from dbos import DBOS

    logging.getLogger("dbos").setLevel(logging.WARNING)
    DBOS(config={"name": "bench", "system_database_url": url, "sys_db_pool_size": POOL,
                 "log_level": "WARNING"})

    @DBOS.step()
    async def produce(i: int) -> str:
        return PAYLOAD

    @DBOS.workflow()
    async def five_steps(n: int) -> int:
        total = 0
        for i in range(STEPS):
            total += len(await produce(i))
        return total

    DBOS.launch()
    try:
        async def one_by_one(count: int) -> None:
            for n in range(count):
                assert await five_steps(n) == STEPS * len(PAYLOAD)

        async def all_at_once(count: int) -> None:
            done = await asyncio.gather(*(five_steps(n) for n in range(count)))
            assert set(done) == {STEPS * len(PAYLOAD)}

        async def timed() -> tuple[float, float]:
            await one_by_one(10)  # warm-up
            await all_at_once(20)
            with Stopwatch() as seq:
                await one_by_one(sequential)
            with Stopwatch() as par:
                await all_at_once(concurrent)
            return seq.seconds, par.seconds

        seq_s, par_s = asyncio.run(timed())
        rows = DBOS.list_workflows()
        total = 10 + 20 + sequential + concurrent
        assert len(rows) == total and {w.status for w in rows} == {"SUCCESS"}, \
            f"DBOS did not finish all {total} workflows"
        steps = DBOS.list_workflow_steps(rows[-1].workflow_id)
        assert len(steps) == STEPS, steps
    finally:
        DBOS.destroy(destroy_registry=True)
    return seq_s / (sequential * STEPS), par_s / (concurrent * STEPS)


# -- Agentplane ---------------------------------------------------------------------------------

def _workflow(folder: Path) -> Workflow:
    async def produce(part: int) -> str:
        return PAYLOAD

    tool = python_tool(produce, effect=Effect.READ)
    script: list[dict[str, Any]] = [
        {"tool_calls": [{"name": tool.name, "arguments": {"part": i}}]} for i in range(STEPS)]
    spec = WorkflowSpec.model_validate({
        "name": "five-steps", "autonomy": "out_of_the_loop",
        "agents": [{"name": "a", "tools": [tool.name], "script": [*script, {"content": "done"}],
                    "max_turns": STEPS + 1}],
        "steps": [{"agent": "a"}]})
    return Workflow(spec=spec, base_dir=folder, tools={tool.name: tool}, source="bench")


async def _agentplane(url: str, folder: Path, sequential: int,
                      concurrent: int) -> tuple[float, float]:
    store = open_store(f"{url}?pool_size={POOL}")
    runtime = Runtime(store)
    workflow = _workflow(folder)

    async def one_by_one(count: int, tag: str) -> None:
        for n in range(count):
            run = await runtime.run(workflow, n, run_id=f"{tag}-{n}")
            assert run.status == "completed", (run.id, run.status)

    async def all_at_once(count: int, tag: str) -> None:
        runs = await asyncio.gather(*(runtime.run(workflow, n, run_id=f"{tag}-{n}")
                                      for n in range(count)))
        assert {r.status for r in runs} == {"completed"}

    try:
        await one_by_one(10, "warm")
        await all_at_once(20, "warm-par")
        with Stopwatch() as seq:
            await one_by_one(sequential, "seq")
        with Stopwatch() as par:
            await all_at_once(concurrent, "par")
        report = await verify(store)
        assert report.ok and report.runs == 10 + 20 + sequential + concurrent, report
        tools = [e for e in await store.events("seq-0") if e.type == "tool.completed"]
        assert len(tools) == STEPS, [e.type for e in await store.events("seq-0")]
    finally:
        await runtime.aclose()
        await store.close()
    return seq.seconds / (sequential * STEPS), par.seconds / (concurrent * STEPS)


def agentplane_side(url: str, sequential: int, concurrent: int) -> tuple[float, float]:
    with scratch() as folder:
        return asyncio.run(_agentplane(url, folder, sequential, concurrent))


async def _tool_steps(url: str, folder: Path, sequential: int,
                      concurrent: int) -> tuple[float, float]:
    """The durable step alone: runs whose five steps are the runtime's own durable tool call
    (``RunContext.tool_step``: ``tool.started`` committed before the call, ``tool.completed``
    after), with no model turn around them — what a DBOS step is."""
    store = open_store(f"{url}?pool_size={POOL}")
    workflow = _workflow(folder)
    tool = workflow.tools["produce"]
    resolver = ModelResolver()

    async def one(run_id: str, n: int) -> None:
        run = await store.create_run(run_id=run_id, workflow=workflow.spec.name,
                                     workflow_hash=workflow.hash, input=n, meta={},
                                     lease_owner="bench", lease_seconds=3600)
        await store.append(run.id, [NewEvent(EventType.RUN_STARTED)], owner="bench")
        ctx = RunContext(store, await store.require_run(run.id), workflow, resolver, "bench")
        for i in range(STEPS):
            await ctx.tool_step(f"s0/a/m{i}/t0", tool, {"part": i}, "a")
        await store.append(run.id, [NewEvent(EventType.RUN_COMPLETED, data={"output": n})],
                           owner="bench")

    async def one_by_one(count: int, tag: str) -> None:
        for n in range(count):
            await one(f"{tag}-{n}", n)

    async def all_at_once(count: int, tag: str) -> None:
        await asyncio.gather(*(one(f"{tag}-{n}", n) for n in range(count)))

    try:
        await one_by_one(10, "warm")
        await all_at_once(20, "warm-par")
        with Stopwatch() as seq:
            await one_by_one(sequential, "seq")
        with Stopwatch() as par:
            await all_at_once(concurrent, "par")
        report = await verify(store)
        assert report.ok and report.runs == 10 + 20 + sequential + concurrent, report
        done = [e for e in await store.events("par-0") if e.type == EventType.TOOL_COMPLETED]
        assert len(done) == STEPS
    finally:
        await store.close()
    return seq.seconds / (sequential * STEPS), par.seconds / (concurrent * STEPS)


def tool_step_side(url: str, sequential: int, concurrent: int) -> tuple[float, float]:
    with scratch() as folder:
        return asyncio.run(_tool_steps(url, folder, sequential, concurrent))


def run(server: BenchServer, sequential: int, concurrent: int) -> list[Figure]:
    print(f"PostgreSQL settings: {server.settings()}")
    agent = agentplane_side(server.create_database("agentplane"), sequential, concurrent)
    steps = tool_step_side(server.create_database("toolsteps"), sequential, concurrent)
    theirs = dbos_side(server.create_database("dbos"), sequential, concurrent)
    goal = "less than DBOS (ratio < 1)"
    figures = []
    for what, ours in (("agent run", agent), ("tool steps", steps)):
        figures += [
            Figure("dbos", f"{what}: per step, {sequential} one by one", ours[0] * 1000, "ms",
                   theirs[0] * 1000, goal),
            Figure("dbos", f"{what}: per step, {concurrent} at once", ours[1] * 1000, "ms",
                   theirs[1] * 1000, goal)]
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=200,
                        help="workflows run one after another (default 200)")
    parser.add_argument("--concurrent", type=int, default=200,
                        help="workflows run at once (default 200)")
    args = parser.parse_args()
    with bench_server() as server:
        figures = run(server, args.workflows, args.concurrent)
    print("value: Agentplane; baseline: DBOS, same server, same run")
    print_figures(figures)
