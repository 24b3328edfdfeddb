"""Throughput of 1, 2 and 4 `agentplane worker` processes sharing one store: 1,000 runs × 5
model calls (scripted latency 100 ms, and 0 ms), on SQLite and on PostgreSQL.

The runs are created pending; the workers (real processes, each ``--concurrency`` runs at once)
take them. The window is measured from the journal itself: from the first ``run.started`` to the
last ``run.completed`` (so process start-up is not counted). Baseline of each row: the same
workload on one worker. With 100 ms of latency a run needs at least 0.5 s, so one worker's floor
is ``concurrency / 0.5 s`` runs/s; with 0 ms the journal and the CPU are the limit.

Run: .venv/bin/python bench/workers.py [--runs N] [--concurrency C] [--pg URL | --no-pg]
Without --pg, PostgreSQL is started for the run (as the tests do) when its binaries are there.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Protocol

from _common import Figure, print_figures, scratch
from agentplane.journal import EventType, open_store, verify
from agentplane.runtime import Runtime, workflow_from_dict

CALLS = 5
PROCESSES = (1, 2, 4)
CLI = str(Path(sys.executable).with_name("agentplane"))
REPO = Path(__file__).resolve().parents[1]


async def seed(url: str, folder: Path, runs: int, latency_ms: int) -> None:
    """Create ``runs`` pending runs of a 5-call workflow."""
    reply = {"latency_ms": latency_ms, "content": "ok"}
    workflow = workflow_from_dict(
        {"name": f"five-calls-{latency_ms}", "agents": [{"name": "a", "script": [reply] * CALLS}],
         "steps": [{"agent": "a", "input": f"part {i}"} for i in range(CALLS)]}, folder)
    store = open_store(url)
    runtime = Runtime(store)
    for start in range(0, runs, 100):
        await asyncio.gather(*(runtime.start(workflow, f"job {i}")
                               for i in range(start, min(runs, start + 100))))
    await runtime.aclose()
    await store.close()


@contextlib.contextmanager
def fleet(url: str, processes: int, concurrency: int, logs: Path) -> Iterator[None]:
    """``processes`` workers on ``url``; stopped (SIGTERM) afterwards."""
    procs = []
    for i in range(processes):
        log = (logs / f"worker{i}.log").open("wb")
        procs.append(subprocess.Popen(
            [CLI, "worker", "--db", url, "--concurrency", str(concurrency), "--poll", "0.1"],
            stdout=log, stderr=subprocess.STDOUT))
        log.close()
    try:
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=120)


async def measure(url: str, runs: int) -> tuple[float, int]:
    """Wait until every run completed; the window (s) and how many events were journaled."""
    store = open_store(url)
    try:
        while await store.list_runs(statuses=["pending", "running"], limit=1):
            await asyncio.sleep(0.2)
        first, last, events, cursor = None, None, 0, 0
        while True:
            batch, cursor = await store.events_since(cursor, limit=10_000)
            if not batch:
                break
            events += len(batch)
            for event in batch:
                if event.type == EventType.RUN_STARTED:
                    first = min(first or event.time, event.time)
                elif event.type == EventType.RUN_COMPLETED:
                    last = max(last or event.time, event.time)
        report = await verify(store)
        assert report.ok and report.runs == runs, report
        completed = await store.list_runs(statuses=["completed"], limit=runs + 1)
        assert len(completed) == runs, f"{len(completed)} of {runs} runs completed"
    finally:
        await store.close()
    assert first is not None and last is not None
    window = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()
    return window, events


def one(url: str, folder: Path, runs: int, latency_ms: int, processes: int,
        concurrency: int) -> tuple[float, float]:
    """Runs/s and events/s of ``processes`` workers on a fresh store at ``url``."""
    asyncio.run(seed(url, folder, runs, latency_ms))
    with fleet(url, processes, concurrency, folder):
        window, events = asyncio.run(measure(url, runs))
    return runs / window, events / window


class Databases(Protocol):
    def create_database(self) -> str: ...


@contextlib.contextmanager
def postgres(given: str | None, enabled: bool) -> Iterator[Databases | None]:
    """A PostgreSQL server that makes fresh databases: the URL given, or one started here."""
    if not enabled:
        yield None
        return
    if given is not None:
        yield _Given(given)
        return
    sys.path.insert(0, str(REPO))
    from tests.pgserver import PostgresServer, PostgresUnavailable

    try:
        server = PostgresServer()
    except PostgresUnavailable as exc:
        print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
        yield None
        return
    try:
        yield server
    finally:
        server.stop()


class _Given:
    """A server named by URL: each measurement gets a fresh database on it."""

    def __init__(self, url: str) -> None:
        self.url = url

    def create_database(self) -> str:
        import psycopg

        name = f"bench_workers_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        return self.url.rsplit("/", 1)[0] + "/" + name


def _fresh(server: Databases | None) -> str:
    assert server is not None
    return server.create_database()


def run(runs: int, concurrency: int, pg_url: str | None, use_pg: bool) -> list[Figure]:
    figures: list[Figure] = []
    with postgres(pg_url, use_pg) as server:
        stores = ["sqlite"] + (["postgresql"] if server is not None else [])
        for kind in stores:
            for latency in (100, 0):
                base: float | None = None
                for processes in PROCESSES:
                    with scratch() as folder:
                        url = (f"sqlite:///{folder / 'journal.db'}" if kind == "sqlite"
                               else _fresh(server))
                        rate, event_rate = one(url, folder, runs, latency, processes,
                                               concurrency)
                    base = base or rate
                    label = f"{kind} {latency} ms, {processes} worker{'s' * (processes > 1)}"
                    figures.append(Figure("workers", f"{label}: runs/s", rate, "runs/s",
                                           base if processes > 1 else None))
                    figures.append(Figure("workers", f"{label}: events/s", event_rate,
                                          "events/s"))
                    print(figures[-2].row(), flush=True)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16,
                        help="runs each worker drives at once (the worker's default)")
    parser.add_argument("--pg", default=None, help="a PostgreSQL server URL (fresh databases "
                        "are created on it); default: start one when it is installed")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    figures = run(args.runs, args.concurrency, args.pg, not args.no_pg)
    print()
    print_figures(figures)
