"""Durable step cost vs the physical floor: a raw SQLite insert + commit of the same payload.

A durable model step is what the runtime does for every model call: check the journal (replay),
check the run is still active, commit ``model.requested``, call the model (here a provider that
answers at once), and commit ``model.completed`` — two commits, so the events' times bracket the
call and the latency they show is the one that was. A durable write-tool step commits
``tool.started`` before the call and ``tool.completed`` after it (two commits, so a crash in
between is noticed). Each is compared with two raw commits. Both run on one SQLite file with
WAL and synchronous=NORMAL, and so does the floor.

Run: .venv/bin/python bench/step_cost.py [--steps N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

from _common import Figure, Stopwatch, print_figures, scratch
from agentplane.journal import SQLiteJournal, canonical_json
from agentplane.models.base import ModelRequest, ModelResponse, TextCallback, Usage
from agentplane.models.registry import ModelResolver
from agentplane.runtime import workflow_from_dict
from agentplane.runtime.context import RunContext
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
    await store.append(run.id, [__import__("agentplane.journal", fromlist=["NewEvent"])
                                .NewEvent("run.started")])
    resolver = ModelResolver(overrides={"instant": InstantProvider(RESPONSE)})
    return store, RunContext(store, await store.require_run(run.id), workflow, resolver, "bench")


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


def raw_insert_commit(folder: Path, steps: int, payload: str, per_step: int = 1) -> float:
    """The floor: insert the same payload and commit, with the same settings."""
    db = sqlite3.connect(folder / "raw.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE t (run_id TEXT, seq INTEGER, data TEXT, PRIMARY KEY (run_id, seq))"
               " WITHOUT ROWID")
    with Stopwatch() as watch:
        for i in range(steps):
            for j in range(per_step):
                db.execute("BEGIN")
                db.execute("INSERT INTO t VALUES (?, ?, ?)", ("bench", i * per_step + j, payload))
                db.execute("COMMIT")
    db.close()
    return watch.seconds / steps


def run(steps: int) -> list[Figure]:
    payload = canonical_json({"agent": "a", "model": "instant-1", "latency_ms": 0.01,
                              "response": RESPONSE.to_dict()})
    tool_payload = json.dumps({"tool": "write", "arguments": {"order_id": "A1"}})
    with scratch() as a, scratch() as b, scratch() as c, scratch() as d:
        model = asyncio.run(durable_model_steps(a, steps))
        floor = raw_insert_commit(b, steps, payload, per_step=2)
        tool = asyncio.run(durable_tool_steps(c, steps))
        tool_floor = raw_insert_commit(d, steps, tool_payload, per_step=2)
    return [
        Figure("step_cost", "durable model step (2 commits) vs 2 raw", model * 1e6, "µs/step",
               floor * 1e6, "ratio ≤ 3"),
        Figure("step_cost", "durable write-tool step (2 commits) vs 2 raw", tool * 1e6,
               "µs/step", tool_floor * 1e6, "ratio ≤ 3"),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    print_figures(run(parser.parse_args().steps))
