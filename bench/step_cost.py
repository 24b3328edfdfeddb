"""Durable step cost vs the physical floor: a raw SQLite insert + commit of the same payload.

A durable model step is what the runtime does for every model call: check the journal (replay),
check the run is still active, commit ``model.requested``, call the model (here a provider that
answers at once), and commit ``model.completed`` — two commits, so the events' times bracket the
call and the latency they show is the one that was. A durable write-tool step commits
``tool.started`` before the call; the call's ``tool.completed`` is committed after it, on its
own for a tool that may not be repeated, and with the run's next write (here the next call's
start) for one that may (idempotent, as here): a crash in between repeats the call.

The floor is the same bytes written the cheapest way: the exact event rows the durable steps
wrote (copied from their journal), inserted into a journal file with the same schema, opened
with the same settings (WAL, synchronous=NORMAL), in the same transactions as the runtime made
them (``BEGIN IMMEDIATE`` … ``COMMIT``; learnt from an untimed run of the same steps with
SQLite's statement trace on). What the ratio shows is the runtime's own cost: deciding,
hashing, sanitising, projecting the run's status.

A third figure for each step shows how much of that any hash-chained journal must pay in
Python: the same rows, in the same transactions, written by the least code that keeps a valid
chain (each event's data encoded to canonical JSON, timed and sealed with SHA-256 over the
previous hash; each transaction awaited; the head moved by an ``UPDATE`` that checks it is
still the one the chain continues). The journal it writes passes ``agentplane audit verify``
(tested), so it is a floor for this journal format, not a shortcut; what lies between it and
the durable step is the runtime's deciding, sanitising, projecting and bookkeeping.

Run: .venv/bin/python bench/step_cost.py [--steps N]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import orjson

from _common import EVENT_INSERT, Figure, Stopwatch, print_figures, scratch, transaction_sizes
from agentplane.journal import NewEvent, SQLiteJournal
from agentplane.journal.events import canonical_json, event_body, utc_now
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


async def durable_model_steps(folder: Path, steps: int, *, trace: list[str] | None = None
                              ) -> float:
    """Seconds per durable model step; ``trace``: collect the SQL statements made (untimed)."""
    store, ctx = await _context(folder)
    request = ModelRequest(model="instant:m", messages=[], agent="a")
    _trace(store, trace)
    with Stopwatch() as watch:
        for i in range(steps):
            await ctx.model_step(f"s0/a/m{i}", "instant:m", request)
    await store.close()
    return watch.seconds / steps


async def durable_tool_steps(folder: Path, steps: int, *, trace: list[str] | None = None
                             ) -> float:
    """Seconds per durable write-tool step; ``trace`` as for ``durable_model_steps``."""
    store, ctx = await _context(folder)

    async def write(order_id: str) -> dict[str, Any]:
        return {"order_id": order_id, "status": "refunded"}

    tool = python_tool(write, effect=Effect.WRITE, idempotent=True)
    _trace(store, trace)
    with Stopwatch() as watch:
        for i in range(steps):
            await ctx.tool_step(f"s0/a/m{i}/t0", tool, {"order_id": "A1"}, "a")
        await asyncio.sleep(0)  # the last result, carried, is written once the turn is over
        await asyncio.sleep(0)
    await store.close()
    return watch.seconds / steps


def _trace(store: SQLiteJournal, statements: list[str] | None) -> None:
    if statements is not None:
        store._db.set_trace_callback(statements.append)


def transactions(steps: Any, steps_count: int) -> list[int]:
    """How many events each write transaction of an untimed run of ``steps`` held."""
    statements: list[str] = []
    with scratch() as folder:
        asyncio.run(steps(folder, steps_count, trace=statements))
    return transaction_sizes(statements)


def step_rows(journal: Path) -> list[tuple[Any, ...]]:
    """The event rows the steps wrote (after ``run.created`` and ``run.started``)."""
    with closing(sqlite3.connect(journal)) as db:
        return db.execute("SELECT run_id, seq, time, type, actor, step_key, data, usage,"
                          " prev_hash, hash, schema FROM events WHERE seq > 2 ORDER BY seq"
                          ).fetchall()


def same_bytes_floor(folder: Path, rows: list[tuple[Any, ...]], steps: int,
                     sizes: list[int]) -> float:
    """The floor: the same rows into the same schema with the same settings, in transactions
    of ``sizes`` events as the runtime made them (``BEGIN IMMEDIATE`` … ``COMMIT``), each moving
    the run's head (its ``last_seq``, ``head_hash``, ``updated_at``) once, as the journal must."""
    assert sum(sizes) == len(rows), (sum(sizes), len(rows))
    asyncio.run(_prepared(folder))
    db = connect(str(folder / "journal.db"))
    with Stopwatch() as watch:
        at = 0
        for size in sizes:
            group = rows[at:at + size]
            at += size
            db.execute("BEGIN IMMEDIATE")
            if size == 1:
                db.execute(EVENT_INSERT, group[0])
            else:
                db.executemany(EVENT_INSERT, group)
            last = group[-1]
            db.execute("UPDATE runs SET last_seq = ?, head_hash = ?, updated_at = ? WHERE id = ?",
                       (last[1], last[9], last[2], last[0]))
            db.execute("COMMIT")
    db.close()
    return watch.seconds / steps


CHECKED_HEAD_MOVE = ("UPDATE runs SET last_seq = ?, head_hash = ?, updated_at = ?"
                     " WHERE id = ? AND last_seq = ? AND head_hash = ?")


def chained_floor(folder: Path, rows: list[tuple[Any, ...]], steps: int,
                  sizes: list[int]) -> float:
    """The least a hash-chained journal does in Python for the same rows and transactions:
    each event's data (at hand as a value, as the runtime has it) encoded to canonical JSON,
    timed, sealed (SHA-256 of its canonical body over the previous event's hash); each
    transaction awaited, its head moved by an ``UPDATE`` that matches only the head the chain
    continues. Nothing is decided, sanitised or projected. The journal passes the audit."""
    assert sum(sizes) == len(rows), (sum(sizes), len(rows))
    asyncio.run(_prepared(folder))
    db = connect(str(folder / "journal.db"))
    run_id = rows[0][0]
    seq, head = db.execute("SELECT last_seq, head_hash FROM runs WHERE id = ?",
                           (run_id,)).fetchone()
    # (type, actor, step_key, data, usage, schema): what the runtime has before it writes
    events = [(r[3], r[4], r[5], orjson.loads(r[6]), None if r[7] is None else orjson.loads(r[7]),
               r[10]) for r in rows]

    async def write(group: list[tuple[Any, ...]]) -> None:
        nonlocal seq, head
        before_seq, before_head = seq, head
        sealed = []
        for type_, actor, step_key, data, usage, schema in group:
            data_json = canonical_json(data)
            usage_json = None if usage is None else canonical_json(usage)
            seq += 1
            time = utc_now()
            digest = hashlib.sha256(event_body(
                run_id=run_id, seq=seq, time=time, type=type_, actor=actor, step_key=step_key,
                data_json=data_json, usage=usage, prev_hash=head, schema=schema)).hexdigest()
            sealed.append((run_id, seq, time, type_, actor, step_key, data_json, usage_json,
                           head, digest, schema))
            head = digest
        db.execute("BEGIN IMMEDIATE")
        moved = db.execute(CHECKED_HEAD_MOVE, (seq, head, sealed[-1][2], run_id, before_seq,
                                               before_head)).rowcount
        if moved != 1:
            db.execute("ROLLBACK")
            raise RuntimeError("the run's head moved under the bench")
        db.executemany(EVENT_INSERT, sealed)
        db.execute("COMMIT")

    async def all_steps() -> float:
        with Stopwatch() as watch:
            at = 0
            for size in sizes:
                await write(events[at:at + size])
                at += size
        return watch.seconds

    seconds = asyncio.run(all_steps())
    db.close()
    return seconds / steps


def run(steps: int) -> list[Figure]:
    model_sizes = transactions(durable_model_steps, steps)
    tool_sizes = transactions(durable_tool_steps, steps)
    with scratch() as a, scratch() as b, scratch() as c, scratch() as d, scratch() as e, \
            scratch() as f:
        model = asyncio.run(durable_model_steps(a, steps))
        model_rows = step_rows(a / "journal.db")
        floor = same_bytes_floor(b, model_rows, steps, model_sizes)
        model_chained = chained_floor(e, model_rows, steps, model_sizes)
        tool = asyncio.run(durable_tool_steps(c, steps))
        tool_rows = step_rows(c / "journal.db")
        tool_floor = same_bytes_floor(d, tool_rows, steps, tool_sizes)
        tool_chained = chained_floor(f, tool_rows, steps, tool_sizes)
    return [
        Figure("step_cost", "durable model step vs same-bytes floor", model * 1e6, "µs/step",
               floor * 1e6, "ratio ≤ 1.5"),
        Figure("step_cost", "  its rows, bare hash-chained writes, vs the floor",
               model_chained * 1e6, "µs/step", floor * 1e6, "(the chain's own share)"),
        Figure("step_cost", "durable write-tool step vs same-bytes floor", tool * 1e6,
               "µs/step", tool_floor * 1e6, "ratio ≤ 2"),
        Figure("step_cost", "  its rows, bare hash-chained writes, vs the floor",
               tool_chained * 1e6, "µs/step", tool_floor * 1e6, "(the chain's own share)"),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    print_figures(run(parser.parse_args().steps))
