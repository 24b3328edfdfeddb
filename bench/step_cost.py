"""Durable step cost vs the physical floor: a raw SQLite insert + commit of the same payload.

A durable model step is what the runtime does for every model call: check the journal (replay),
check the run is still active, commit ``model.requested``, call the model (here a provider that
answers at once), and commit ``model.completed`` — two commits, so the events' times bracket the
call and the latency they show is the one that was. A durable write-tool step commits
``tool.started`` before the call and ``tool.completed`` after it (two commits, so a crash in
between is noticed).

The floor is the same bytes written the cheapest way: the exact event rows the durable steps
wrote (copied from their journal), inserted into a journal file with the same schema, opened
with the same settings (WAL, synchronous=NORMAL), one ``BEGIN IMMEDIATE`` … ``COMMIT`` per
event — two commits per step, as the runtime makes. What the ratio shows is the runtime's own
cost: deciding, hashing, sanitising, projecting the run's status.

Run: .venv/bin/python bench/step_cost.py [--steps N]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from _common import Figure, Stopwatch, print_figures, scratch
from agentplane.journal import NewEvent, SQLiteJournal
from agentplane.models.base import ModelRequest, ModelResponse, TextCallback, Usage
from agentplane.models.registry import ModelResolver
from agentplane.runtime import workflow_from_dict
from agentplane.runtime.context import RunContext
from agentplane.storage.sqlite import connect
from agentplane.tools import Effect, python_tool


class InstantProvider:
    """Answers at once with a fixed response (the model's own time is not what is measured)."""

    name = "instant"

    def __init__(self, response: ModelResponse) -> None:
        self.response = response

    async def complete(self, request: ModelRequest, *,
                       on_text: TextCallback | None = None) -> ModelResponse:
        return self.response

    async def aclose(self) -> None:
        return None


RESPONSE = ModelResponse(content="The order A1 was refunded: 20.00 EUR. " * 6,
                         usage=Usage(812, 64, 512, 0), model="instant-1", finish_reason="stop")


async def _context(folder: Path) -> tuple[SQLiteJournal, RunContext]:
    store = SQLiteJournal(folder / "journal.db")
    workflow = workflow_from_dict(
        {"name": "bench", "agents": [{"name": "a", "script": [{"content": "x"}]}],
         "steps": [{"agent": "a"}]}, folder)
    run = await store.create_run(run_id="bench", workflow="bench",
                                 workflow_hash=workflow.hash, input=None, meta={},
                                 lease_owner="bench", lease_seconds=3600)
    await store.append(run.id, [NewEvent("run.started")])
    resolver = ModelResolver(overrides={"instant": InstantProvider(RESPONSE)})
    return store, RunContext(store, await store.require_run(run.id), workflow, resolver, "bench")


async def _prepared(folder: Path) -> None:
    """A journal with the same schema, run and first events as the durable steps start from."""
    store, _ = await _context(folder)
    await store.close()


async def durable_model_steps(folder: Path, steps: int) -> float:
    store, ctx = await _context(folder)
    request = ModelRequest(model="instant:m", messages=[], agent="a")
    with Stopwatch() as watch:
        for i in range(steps):
            await ctx.model_step(f"s0/a/m{i}", "instant:m", request)
    await store.close()
    return watch.seconds / steps


async def durable_tool_steps(folder: Path, steps: int) -> float:
    store, ctx = await _context(folder)

    async def write(order_id: str) -> dict[str, Any]:
        return {"order_id": order_id, "status": "refunded"}

    tool = python_tool(write, effect=Effect.WRITE, idempotent=True)
    with Stopwatch() as watch:
        for i in range(steps):
            await ctx.tool_step(f"s0/a/m{i}/t0", tool, {"order_id": "A1"}, "a")
    await store.close()
    return watch.seconds / steps


EVENT_INSERT = ("INSERT INTO events(run_id, seq, time, type, actor, step_key, data, usage,"
                " prev_hash, hash, schema) VALUES (?,?,?,?,?,?,?,?,?,?,?)")


def step_rows(journal: Path) -> list[tuple[Any, ...]]:
    """The event rows the steps wrote (after ``run.created`` and ``run.started``)."""
    with closing(sqlite3.connect(journal)) as db:
        return db.execute("SELECT run_id, seq, time, type, actor, step_key, data, usage,"
                          " prev_hash, hash, schema FROM events WHERE seq > 2 ORDER BY seq"
                          ).fetchall()


def same_bytes_floor(folder: Path, rows: list[tuple[Any, ...]], steps: int) -> float:
    """The floor: the same rows into the same schema with the same settings, one
    ``BEGIN IMMEDIATE`` … ``COMMIT`` each (two per step), each moving the run's head (its
    ``last_seq``, ``head_hash``, ``updated_at``) as the journal must."""
    asyncio.run(_prepared(folder))
    db = connect(str(folder / "journal.db"))
    with Stopwatch() as watch:
        for row in rows:
            db.execute("BEGIN IMMEDIATE")
            db.execute(EVENT_INSERT, row)
            db.execute("UPDATE runs SET last_seq = ?, head_hash = ?, updated_at = ? WHERE id = ?",
                       (row[1], row[9], row[2], row[0]))
            db.execute("COMMIT")
    db.close()
    return watch.seconds / steps


def run(steps: int) -> list[Figure]:
    with scratch() as a, scratch() as b, scratch() as c, scratch() as d:
        model = asyncio.run(durable_model_steps(a, steps))
        floor = same_bytes_floor(b, step_rows(a / "journal.db"), steps)
        tool = asyncio.run(durable_tool_steps(c, steps))
        tool_floor = same_bytes_floor(d, step_rows(c / "journal.db"), steps)
    return [
        Figure("step_cost", "durable model step vs same-bytes floor", model * 1e6, "µs/step",
               floor * 1e6, "ratio ≤ 1.5"),
        Figure("step_cost", "durable write-tool step vs same-bytes floor", tool * 1e6,
               "µs/step", tool_floor * 1e6, "ratio ≤ 2"),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    print_figures(run(parser.parse_args().steps))
