"""Store scale: what a person waits for when the journal holds 1 M events (10 M with
``--events 10000000``), on PostgreSQL and, for comparison, SQLite.

The store is filled quickly but realistically: runs of 21 events (created, started, four model
turns each with a tool call, completed) over twelve months, 20 tenants and 10 workflows,
about 2 % failed, each chain sealed with the journal's own hashing (``event_body_json``), and
the usage ledger's rows for each run (four model calls, four actions, one task) through
``UsageLedger.ingest``. Rows go in by bulk (PostgreSQL ``COPY``, SQLite one transaction) into the
store's own tables, made by its own migrations.

Then each interactive operation is timed (the median of 5, in-process, through the store's
own API): ``runs list`` (first page, and a page filtered by tenant and status), ``runs show``
(the run and its events), a month's invoice, ``audit verify --run``, and the table sizes are
printed. Every figure is measured at a tenth of the size too: a figure that grows with the
number of runs is a finding (the ``growth`` column: 1.0 means flat, 10 means it grows with the
journal). Both sizes have runs at the same rate, up to the same day: the smaller journal is the
last five weeks of the larger one, so the month invoiced holds the same usage in both.

With ``--copy`` it times ``agentplane db copy`` of such a journal instead: SQLite to PostgreSQL,
back, and again (a second copy compares and verifies everything and adds nothing).

Run: .venv/bin/python bench/store_scale.py [--events 1000000] [--only postgresql|sqlite]
     .venv/bin/python bench/store_scale.py --copy [--events 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import scratch
from _pg import bench_server
from agentplane.cli.db import upgrade
from agentplane.journal import GENESIS_HASH, JournalStore, canonical_json, open_store, verify_run
from agentplane.journal.events import SCHEMA_VERSION, event_body_json, sha256_hex
from agentplane.metering.ledger import UsageLedger
from agentplane.metering.plans import invoice, load_plans
from agentplane.metering.usage import ACTION, MODEL, TASK, UsageEvent
from agentplane.storage import Database, open_database

EVENTS_PER_RUN = 21
TENANTS = [f"tenant-{i:02d}" for i in range(20)]
WORKFLOWS = [f"workflow-{i}" for i in range(10)]
END = datetime(2027, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=365)
"""The full journal's runs span a year up to END; the tenth, at the same rate, its last
five weeks — so the month invoiced (the last) holds the same runs in both."""
MONTH = "2026-12"
RUN_COLUMNS = ("id", "workflow", "workflow_hash", "status", "tenant", "created_at",
               "updated_at", "input", "meta", "last_seq", "head_hash")
EVENT_COLUMNS = ("run_id", "seq", "time", "type", "actor", "step_key", "data", "usage",
                 "prev_hash", "hash", "schema")
PLANS = ("plans:\n  - id: flat\n    agents: {price: 400}\n"
         "    usage: [{unit: tokens, price: 0.000002}, {unit: actions, price: 0.01}]\n"
         "tenants: {" + ", ".join(f"{t}: flat" for t in TENANTS) + "}\n")


@dataclass
class Run:
    row: tuple[Any, ...]
    events: list[tuple[Any, ...]]
    usage: list[UsageEvent]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def make_run(n: int, runs: int, every: timedelta) -> Run:
    """One realistic run, sealed: its run row, its events and its usage. Runs start
    ``every`` apart, the last just before END."""
    run_id = f"run-{n:09d}"
    tenant, workflow = TENANTS[n % len(TENANTS)], WORKFLOWS[(n // 7) % len(WORKFLOWS)]
    created = END - every * (runs - n)
    failed = n % 50 == 17
    input_text = f"Ticket T-{n}: the customer asks for a refund of order A{n % 9973}."
    steps: list[tuple[str, str, str | None, dict[str, Any], dict[str, int] | None]] = [
        ("run.created", "system", None, {"workflow": workflow, "workflow_hash": "h" * 64,
                                         "input": input_text, "tenant": tenant}, None),
        ("run.started", "system", None, {}, None),
        ("agent.invoked", "agent:desk", "s0/desk", {"agent": "desk"}, None)]
    for turn in range(4):
        key = f"s0/desk/m{turn}"
        steps += [
            ("model.requested", "agent:desk", key, {"model": "openai:gpt-4o-mini",
                                                    "messages": 3 + 2 * turn}, None),
            ("model.completed", "agent:desk", key,
             {"content": "Looking the order up before refunding it. " * 3,
              "tool_calls": [{"name": "lookup", "arguments": {"order": f"A{n}"}}]},
             {"input_tokens": 812 + turn * 40, "output_tokens": 64}),
            ("tool.started", "agent:desk", f"{key}/t0", {"tool": "lookup",
                                                       "arguments": {"order": f"A{n}"}}, None),
            ("tool.completed", "agent:desk", f"{key}/t0",
             {"tool": "lookup", "result": {"order": f"A{n}", "amount": 20, "status": "paid",
                                           "notes": "x" * 120}}, None)]
    steps += [("agent.completed", "agent:desk", "s0/desk", {"output": "Refunded."}, None),
              ("run.failed" if failed else "run.completed", "system", None,
               {"error": "the payment provider refused"} if failed else {"output": "Refunded."},
               None)]
    events, prev = [], GENESIS_HASH
    for seq, (kind, actor, step_key, data, usage) in enumerate(steps, start=1):
        moment = _iso(created + timedelta(seconds=seq * 0.8))
        data_json = canonical_json(data)
        digest = sha256_hex(event_body_json(
            run_id=run_id, seq=seq, time=moment, type=kind, actor=actor, step_key=step_key,
            data_json=data_json, usage=usage, prev_hash=prev, schema=SCHEMA_VERSION))
        events.append((run_id, seq, moment, kind, actor, step_key, data_json,
                       None if usage is None else canonical_json(usage), prev, digest,
                       SCHEMA_VERSION))
        prev = digest
    ended = events[-1][2]
    row = (run_id, workflow, "h" * 64, "failed" if failed else "completed", tenant,
           _iso(created), ended, canonical_json(input_text), canonical_json({}), len(events),
           prev)
    billed = [UsageEvent(f"{run_id}/m{t}", MODEL, events[4 + 4 * t][2], run_id, tenant,
                        workflow, agent="desk", model="openai:gpt-4o-mini",
                        input_tokens=812 + t * 40, output_tokens=64, cost_usd=0.00016)
             for t in range(4)]
    billed += [UsageEvent(f"{run_id}/a{t}", ACTION, events[6 + 4 * t][2], run_id, tenant,
                         workflow, agent="desk", tool="lookup", outcome="ok")
              for t in range(4)]
    billed.append(UsageEvent(f"{run_id}/task", TASK, ended, run_id, tenant, workflow,
                            agent="desk", outcome="failed" if failed else "completed"))
    return Run(row, events, billed)


def batches(runs: int, every: timedelta, size: int = 2000) -> Iterator[list[Run]]:
    for start in range(0, runs, size):
        yield [make_run(n, runs, every) for n in range(start, min(start + size, runs))]


async def _prepare(url: str) -> None:
    store = open_store(url)
    await store.list_runs(limit=1)
    await store.close()


def fill(url: str, runs: int, every: timedelta) -> float:
    """Fill an empty database; returns the seconds it took."""
    asyncio.run(_prepare(url))
    db = open_database(url)
    upgrade(db)
    ledger = UsageLedger(db)
    began = time.perf_counter()
    for chunk in batches(runs, every):
        if db.dialect == "postgresql":
            _copy_rows(db, chunk)
        else:
            with db.transaction():
                db.executemany(f"INSERT INTO runs({', '.join(RUN_COLUMNS)}) VALUES"
                               f" ({','.join('?' * len(RUN_COLUMNS))})", [r.row for r in chunk])
                db.executemany(f"INSERT INTO events({', '.join(EVENT_COLUMNS)}) VALUES"
                               f" ({','.join('?' * len(EVENT_COLUMNS))})",
                               [e for r in chunk for e in r.events])
        ledger.ingest(u for r in chunk for u in r.usage)
    db.execute("ANALYZE")  # the planner's statistics, as autovacuum would keep them
    db.close()
    return time.perf_counter() - began


def _copy_rows(db: Database, chunk: list[Run]) -> None:
    """PostgreSQL's bulk path (``COPY``), on the handle's own connection."""
    conn = db.connection()  # type: ignore[attr-defined]
    with conn.transaction(), conn.cursor() as cur:
        with cur.copy(f"COPY runs ({', '.join(RUN_COLUMNS)}) FROM STDIN") as copy:
            for r in chunk:
                copy.write_row(r.row)
        with cur.copy(f"COPY events ({', '.join(EVENT_COLUMNS)}, tenant) FROM STDIN") as copy:
            for r in chunk:
                for e in r.events:
                    copy.write_row((*e, r.row[4]))


def sizes(db: Database) -> dict[str, int]:
    names = ("runs", "events", "blobs", "waits", "usage_events")
    if db.dialect == "postgresql":
        return {n: int(db.query("SELECT pg_total_relation_size(to_regclass(?))", (n,))[0][0])
                for n in names}
    rows = db.query("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")
    found = {str(name): int(total) for name, total in rows}
    return {n: sum(v for k, v in found.items()
                   if k == n or k.startswith(f"sqlite_autoindex_{n}_") or k in _indexes(db, n))
            for n in names}


def _indexes(db: Database, table: str) -> set[str]:
    return {str(r[0]) for r in db.query(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,))}


async def _median(action: Callable[[], Awaitable[object]], repeat: int = 5) -> float:
    await action()  # warm the cache: a person's second look, not the disk's first
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        await action()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


async def measure(url: str, runs: int, folder: Path) -> dict[str, float]:
    store: JournalStore = open_store(url)
    plans_file = folder / "plans.yaml"
    plans_file.write_text(PLANS)
    plans = load_plans(plans_file)
    ledger = UsageLedger(store.database)
    middle = f"run-{runs // 2:09d}"
    tenant = TENANTS[7]  # one of the tenants with failed runs (every 50th run fails)

    async def first_page() -> object:
        return await store.list_runs(limit=50)

    async def filtered() -> object:
        found = await store.list_runs(tenant=tenant, statuses=["failed"], limit=50)
        assert found, "no failed run of the tenant"
        return found

    async def show() -> object:
        return (await store.require_run(middle), await store.events(middle))

    async def bill() -> object:
        return invoice(ledger, plans, tenant=tenant, month=MONTH)

    async def audit() -> object:
        checked, brk = await verify_run(store, middle)
        assert brk is None and checked == EVENTS_PER_RUN, brk
        return checked

    try:
        return {"runs list, first page": await _median(first_page),
                "runs list, tenant + failed": await _median(filtered),
                "runs show": await _median(show),
                f"invoice for {MONTH}": await _median(bill),
                "audit verify --run": await _median(audit)}
    finally:
        await store.close()


def scale(make_url: Callable[[str], str], events: int, folder: Path
          ) -> tuple[dict[str, float], dict[str, float], dict[str, int], float]:
    """Figures at a tenth of ``events`` and at ``events``, the sizes, and the fill time."""
    out = []
    seconds = 0.0
    every = SPAN / (events // EVENTS_PER_RUN)
    size: dict[str, int] = {}
    for total in (events // 10, events):
        runs = total // EVENTS_PER_RUN
        url = make_url(f"scale{total}")
        seconds = fill(url, runs, every)
        out.append(asyncio.run(measure(url, runs, folder)))
        db = open_database(url)
        size = sizes(db)
        db.close()
    return out[0], out[1], size, seconds


def report(name: str, events: int, small: dict[str, float], large: dict[str, float],
           size: dict[str, int], seconds: float) -> None:
    print(f"\n{name}: {events:,} events ({events // EVENTS_PER_RUN:,} runs), filled in "
          f"{seconds:.0f} s ({events / seconds:,.0f} events/s)")
    print(f"  {'operation':<30} {'at 1/10 (ms)':>13} {'at full (ms)':>13} {'growth':>7}")
    for op, value in large.items():
        print(f"  {op:<30} {small[op]:13.2f} {value:13.2f} {value / small[op]:7.1f}")
    print("  table sizes (with indexes): " + ", ".join(
        f"{t} {b / 1_048_576:,.0f} MiB" for t, b in size.items()))


def copy_figures(events: int, folder: Path) -> None:
    """``agentplane db copy`` of a filled SQLite journal to PostgreSQL, back, and again (the
    command as a person runs it, every chain verified), with the wall time and peak memory."""
    runs = events // EVENTS_PER_RUN
    source = f"sqlite:///{folder / 'copy-source.db'}"
    fill(source, runs, SPAN / runs)
    agentplane = str(Path(sys.executable).with_name("agentplane"))
    with bench_server() as server:
        target = server.create_database("copy")
        back = f"sqlite:///{folder / 'copy-back.db'}"
        print(f"\nagentplane db copy, {events:,} events ({runs:,} runs):")
        for label, a, b in (("SQLite -> PostgreSQL", source, target),
                            ("PostgreSQL -> SQLite", target, back),
                            ("SQLite -> PostgreSQL again", source, target)):
            began = time.perf_counter()
            done = subprocess.run([agentplane, "db", "copy", a, b, "--json"],
                                  capture_output=True, text=True, check=False)
            seconds = time.perf_counter() - began
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            assert done.returncode == 0, done.stderr[-2000:]
            result = json.loads(done.stdout)
            print(f"  {label:<28} {seconds:7.1f} s  runs {result['runs']}  events added "
                  f"{result['rows']['events']:,}  verified {result['verified']['runs']:,} runs"
                  f"  (peak memory of any copy so far {peak:,.0f} MiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000,
                        help="events in the journal (default 1,000,000; 10,000,000 for the "
                             "big run)")
    parser.add_argument("--only", choices=("postgresql", "sqlite"))
    parser.add_argument("--copy", action="store_true",
                        help="time `agentplane db copy` of the journal instead")
    args = parser.parse_args()
    with scratch() as folder:
        if args.copy:
            copy_figures(args.events, folder)
            return
        if args.only != "sqlite":
            with bench_server() as server:
                print(f"PostgreSQL settings: {server.settings()}")
                found = scale(server.create_database, args.events, folder)
                report("PostgreSQL", args.events, *found)
        if args.only != "postgresql":
            found = scale(lambda name: f"sqlite:///{folder / name}.db", args.events, folder)
            report("SQLite", args.events, *found)


if __name__ == "__main__":
    main()
