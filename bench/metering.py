"""Metering at volume: ingest 1,000,000 usage events, then a month's invoice and a department
breakdown.

Baseline, measured in the same run: the same rows inserted with a bare ``executemany`` into a
table with no key and no index (the floor for getting the rows on disk).

Run: .venv/bin/python bench/metering.py [--events N]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
from pathlib import Path

from _common import Figure, Stopwatch, print_figures, scratch
from agentplane.metering.ledger import COLUMNS, UsageLedger, _row
from agentplane.metering.plans import PlansFile, invoice
from agentplane.metering.reports import usage_report
from agentplane.metering.usage import ACTION, MODEL, OUTCOME, TASK, UsageEvent

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


def run(count: int) -> list[Figure]:
    events = make_events(count)
    rows = [_row(e) for e in events]
    with scratch() as folder:
        raw = sqlite3.connect(folder / "raw.db", isolation_level=None)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=NORMAL")
        raw.execute(f"CREATE TABLE t ({', '.join(COLUMNS)})")
        with Stopwatch() as floor:
            for start in range(0, count, 50_000):
                raw.execute("BEGIN")
                raw.executemany(f"INSERT INTO t VALUES ({', '.join('?' * len(COLUMNS))})",
                                rows[start:start + 50_000])
                raw.execute("COMMIT")
        raw.close()
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
               "events/s", count / floor.seconds, "≥ 100,000 events/s"),
        Figure("metering", "a month's invoice for one tenant", billing.seconds, "s", None,
               "< 1 s"),
        Figure("metering", "department breakdown, all tenants", breakdown.seconds, "s", None,
               ""),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    print_figures(run(parser.parse_args().events))
