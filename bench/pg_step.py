"""Durable model step on PostgreSQL vs the floor: a raw INSERT + COMMIT of the same payload.

A durable model step is what the runtime does for every model call (see ``step_cost.py``):
check the run is still active, commit ``model.requested``, call the model (here one that answers
at once), commit ``model.completed`` — two commits. The floor is two raw ``INSERT`` + ``COMMIT``
of the same payload, with psycopg async on the same server and the same connection settings.

The server is ``AGENTPLANE_BENCH_PG`` (a ``postgresql://`` URL of a database the bench may
create tables in), or one started here with the tests' ``PostgresServer`` (Debian's
``postgresql`` package; fsync off, as in the tests — say so when quoting the figures).

Run: .venv/bin/python bench/pg_step.py [--steps N] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from _common import Figure, Stopwatch, print_figures, scratch
from agentplane.journal import EventType, JournalStore, NewEvent, canonical_json, open_store
from agentplane.journal.postgres import split_url
from agentplane.models.base import ModelRequest
from agentplane.models.registry import ModelResolver
from agentplane.runtime import workflow_from_dict
from agentplane.runtime.context import RunContext
from step_cost import RESPONSE, InstantProvider


@contextmanager
def server_url() -> Iterator[str]:
    """``AGENTPLANE_BENCH_PG``, or a database on a PostgreSQL server started for the bench."""
    given = os.environ.get("AGENTPLANE_BENCH_PG")
    if given:
        yield given
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.pgserver import PostgresServer

    server = PostgresServer()
    try:
        yield server.create_database()
    finally:
        server.stop()


async def measure(url: str, folder: Path, steps: int, rounds: int) -> tuple[float, float]:
    """Median seconds per durable model step, and per two raw commits, over ``rounds``
    alternating rounds of ``steps`` each (alternating, so a busy machine slows both alike)."""
    store: JournalStore = open_store(url)
    workflow = workflow_from_dict(
        {"name": "bench", "agents": [{"name": "a", "script": [{"content": "x"}]}],
         "steps": [{"agent": "a"}]}, folder)
    run_id = f"bench-{os.getpid()}"
    await store.create_run(run_id=run_id, workflow="bench", workflow_hash=workflow.hash,
                           input=None, meta={}, lease_owner="bench", lease_seconds=3600)
    await store.append(run_id, [NewEvent(EventType.RUN_STARTED)])
    resolver = ModelResolver(overrides={"instant": InstantProvider(RESPONSE)})
    ctx = RunContext(store, await store.require_run(run_id), workflow, resolver, "bench")
    request = ModelRequest(model="instant:m", messages=[], agent="a")
    payload = canonical_json({"agent": "a", "model": "instant-1", "latency_ms": 0.01,
                              "response": RESPONSE.to_dict()})
    dsn, _ = split_url(url)
    step_times: list[float] = []
    floor_times: list[float] = []
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS bench_floor (run_id TEXT, seq BIGINT,"
                           " data TEXT, PRIMARY KEY (run_id, seq))")
        await conn.commit()
        seq = 0
        for r in range(rounds + 1):  # round 0 warms the pool and the server's caches
            with Stopwatch() as watch:
                for i in range(steps):
                    await ctx.model_step(f"s{r}/a/m{i}", "instant:m", request)
            step_times.append(watch.seconds / steps)
            with Stopwatch() as watch:
                for _ in range(steps * 2):  # the floor: the same payload, two commits a step
                    seq += 1
                    await conn.execute("INSERT INTO bench_floor VALUES (%s, %s, %s)",
                                       (run_id, seq, payload))
                    await conn.commit()
            floor_times.append(watch.seconds / steps)
    await store.close()
    return statistics.median(step_times[1:]), statistics.median(floor_times[1:])


def run(steps: int, rounds: int) -> list[Figure]:
    with server_url() as url, scratch() as folder:
        model, floor = asyncio.run(measure(url, folder, steps, rounds))
    return [Figure("pg_step", "durable model step (2 commits) vs 2 raw", model * 1e6,
                   "µs/step", floor * 1e6, "ratio ≤ 3")]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="steps per round")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    print_figures(run(args.steps, args.rounds))
