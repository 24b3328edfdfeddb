"""Metering at volume: ingest 1,000,000 usage events, then a month's invoice and a department
breakdown; and usage recorded the way the runtime records it, from the journal events of runs
as they are appended.

Baseline, measured in the same run: the same rows inserted with a bare ``executemany`` into a
table with no key and no index (the floor for getting the rows on disk).

The runtime's way in: the events of many runs (each starts, makes ``CALLS`` priced model calls
and a paid tool call, and completes), handed to ``UsageLedger.record`` a write at a time and
``AT_ONCE`` runs at a time, as the runtime does; the ledger derives, prices and buffers the
usage and writes it every ``FLUSH_ROWS`` rows. Baseline: the rows it wrote, inserted bare.

Run: .venv/bin/python bench/metering.py [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import Figure, Stopwatch, print_figures, scratch
from agentplane.journal import Event, EventType, RunRecord, SQLiteJournal
from agentplane.journal.events import utc_text
from agentplane.metering.ledger import COLUMNS, UsageLedger, _row, ledger_for
from agentplane.metering.plans import PlansFile, invoice
from agentplane.metering.pricing import catalog_pricing
from agentplane.metering.reports import usage_report
from agentplane.metering.usage import ACTION, MODEL, OUTCOME, TASK, UsageEvent

CALLS = 5
AT_ONCE = 1000
RUN_START = 1_796_000_000_000_000
"""Unix time in microseconds of the first journal event."""

PLANS = PlansFile.model_validate({
    "plans": [{"id": "team", "seats": {"count": 50, "price": 30},
               "usage": [{"unit": "tokens", "included": 10_000_000,
                          "tiers": [{"up_to": 1_000_000_000, "price": 0.000002},
                                    {"price": 0.0000015}]},
                         {"unit": "actions", "price": 0.01},
                         {"unit": "active_minutes", "price": 0.05}],
               "agents": {"price": 400},
               "outcomes": [{"outcome": "ticket_resolved", "price": 1.5}]}],
    "tenants": {f"tenant-{i}": "team" for i in range(20)}})


def make_events(count: int, seed: int = 7) -> list[UsageEvent]:
    rng = random.Random(seed)
    departments = ["support", "sales", "finance", "legal", "ops", "hr"]
    events = []
    for i in range(count):
        kind = rng.choices([MODEL, ACTION, TASK, OUTCOME], [70, 22, 5, 3])[0]
        day, second = rng.randrange(1, 31), rng.randrange(86400)
        time = f"2026-11-{day:02d}T{second // 3600:02d}:{second // 60 % 60:02d}:" \
               f"{second % 60:02d}Z"
        model = kind == MODEL
        events.append(UsageEvent(
            f"run-{i // 20}:{i}", kind, time, f"run-{i // 20}", f"tenant-{i % 20}",
            f"workflow-{i % 7}", {"department": departments[i % len(departments)]},
            agent=f"agent-{i % 13}", model="openai:gpt-4o-mini" if model else None,
            tool=None if model else f"tool-{i % 5}",
            outcome="ticket_resolved" if kind == OUTCOME else None,
            input_tokens=rng.randrange(200, 4000) if model else 0,
            output_tokens=rng.randrange(20, 800) if model else 0,
            cost_usd=rng.random() / 1000))
    return events


def bare_insert(path: Path, rows: Sequence[Sequence[Any]]) -> float:
    """Seconds to insert ``rows`` with a bare ``executemany`` (no key, no index): the floor."""
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=NORMAL")
    raw.execute(f"CREATE TABLE t ({', '.join(COLUMNS)})")
    with Stopwatch() as floor:
        for start in range(0, len(rows), 50_000):
            raw.execute("BEGIN")
            raw.executemany(f"INSERT INTO t VALUES ({', '.join('?' * len(COLUMNS))})",
                            rows[start:start + 50_000])
            raw.execute("COMMIT")
    raw.close()
    return floor.seconds


def journal_writes(run: int) -> tuple[RunRecord, list[list[Event]]]:
    """A run and its journal events after ``run.created``, grouped in the writes the runtime
    makes: start; per call, invoked with requested, then completed; a paid tool call; done."""
    run_id = f"run-{run:024x}"
    seq = 1

    def event(kind: str, data: dict[str, Any], usage: dict[str, int] | None = None) -> Event:
        nonlocal seq
        seq += 1
        return Event(run_id, seq, utc_text(RUN_START + run * 1_000 + seq), kind, "system",
                     None, data, usage, "", "")

    writes = [[event(EventType.RUN_STARTED, {})]]
    for call in range(CALLS):
        writes.append([event(EventType.AGENT_INVOKED, {"agent": "clerk"}),
                       event(EventType.MODEL_REQUESTED, {"agent": "clerk"})])
        writes.append([event(EventType.MODEL_COMPLETED,
                             {"agent": "clerk", "model": "openai:gpt-4o-mini"},
                             {"input_tokens": 1_000 + call * 250, "output_tokens": 120 + run % 90,
                              "cached_input_tokens": 400 if call else 0})])
    writes.append([event(EventType.TOOL_STARTED, {"tool": "send_sms"})])
    writes.append([event(EventType.TOOL_COMPLETED, {"tool": "send_sms", "agent": "clerk",
                                                    "cost_usd": 0.01})])
    writes.append([event(EventType.AGENT_COMPLETED, {"agent": "clerk"}),
                   event(EventType.RUN_COMPLETED, {})])
    record = RunRecord(run_id, "desk", "", "running", f"tenant-{run % 20}", "", "", None,
                       {"tags": {"department": "support"}}, 1, "")
    return record, writes


async def record_runs(folder: Path, runs: int) -> tuple[float, list[tuple[Any, ...]]]:
    """Seconds to record the usage of ``runs`` runs as the runtime does (``AT_ONCE`` runs
    taking turns, a write each), the ledger's buffer written at the end included; and the
    rows it wrote."""
    store = SQLiteJournal(folder / "journal.db")
    ledger = ledger_for(store)
    pricer, _ = catalog_pricing(None)
    journal = [journal_writes(i) for i in range(runs)]
    with Stopwatch() as watch:
        for start in range(0, runs, AT_ONCE):
            group = journal[start:start + AT_ONCE]
            for turn in range(len(group[0][1])):
                for run, writes in group:
                    await ledger.record(store, run, writes[turn], pricer)
        ledger.close()
    rows = ledger.query(f"SELECT {', '.join(COLUMNS)} FROM usage_events")
    await store.close()
    return watch.seconds, rows


def run(count: int) -> list[Figure]:
    events = make_events(count)
    rows = [_row(e) for e in events]
    with scratch() as folder:
        floor = bare_insert(folder / "raw.db", rows)
        recording, recorded = asyncio.run(record_runs(folder, max(1, count // 80)))
        recorded_floor = bare_insert(folder / "raw-recorded.db", recorded)
        ledger = UsageLedger(Path(folder) / "ledger.db")
        with Stopwatch() as ingest:
            for start in range(0, count, 50_000):
                ledger.ingest(events[start:start + 50_000])
        with Stopwatch() as billing:
            bill = invoice(ledger, PLANS, tenant="tenant-3", month="2026-11")
        with Stopwatch() as breakdown:
            by_department = usage_report(ledger, by=["department"])
        ledger.close()
    assert bill.total > 0 and len(by_department) == 6
    return [
        Figure("metering", f"ingest {count:,} usage events", count / ingest.seconds,
               "events/s", count / floor, "≥ 100,000 events/s"),
        Figure("metering", f"record {len(recorded):,} as runs append (derive, price, write)",
               len(recorded) / recording, "events/s", len(recorded) / recorded_floor, ""),
        Figure("metering", "a month's invoice for one tenant", billing.seconds, "s", None,
               "< 1 s"),
        Figure("metering", "department breakdown, all tenants", breakdown.seconds, "s", None,
               ""),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    print_figures(run(parser.parse_args().events))
