"""The first ``usage report`` on a journal of many runs: the ledger is kept current as runs
happen, so the report reads it instead of deriving every run's usage from the journal.

The journal is made by the durable runtime itself (N runs of 3 scripted model calls, 500 at a
time, two tenants), which meters as it goes. Then, as ``agentplane usage report`` does in a new
process: open the ledger, bring it up to date with the journal, and group by tenant.

Baseline, measured in the same run: the report's own query over the same ledger (the floor of
any report). A second figure times the catch-up of runs nobody metered (a journal made before
this release, or by a process that stopped), per 1,000 runs.

Run: .venv/bin/python bench/usage_report.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from _common import Figure, Stopwatch, print_figures, scratch
from agentplane.journal import SQLiteJournal, open_store
from agentplane.metering.ledger import UsageLedger
from agentplane.metering.pricing import catalog_pricing
from agentplane.metering.reports import usage_report
from agentplane.runtime import Runtime, workflow_from_dict

CALLS = 3
AT_ONCE = 500
UNMETERED = 1000
"""Runs whose usage is wiped and derived again, for the catch-up figure."""


async def build(folder: Path, runs: int) -> None:
    reply = {"content": "ok", "usage": {"input_tokens": 100, "output_tokens": 20}}
    workflow = workflow_from_dict(
        {"name": "desk", "tags": {"department": "support"},
         "agents": [{"name": "clerk", "script": [reply] * CALLS}],
         "steps": [{"agent": "clerk", "input": f"part {i}"} for i in range(CALLS)]}, folder)
    store = SQLiteJournal(folder / "journal.db")
    runtime = Runtime(store)
    for start in range(0, runs, AT_ONCE):
        done = await asyncio.gather(*(runtime.run(workflow, f"job {i}", tenant=f"t{i % 2}")
                                      for i in range(start, min(runs, start + AT_ONCE))))
        assert {r.status for r in done} == {"completed"}
    await runtime.aclose()
    await store.close()


async def first_report(url: str) -> tuple[float, float, list[dict[str, object]]]:
    """What ``agentplane usage report`` does: returns its time, its query's time, its rows."""
    with Stopwatch() as whole:
        store = open_store(url, create=False)
        ledger = UsageLedger(url)
        pricer, _ = catalog_pricing(None)
        await ledger.sync(store, pricer)
        rows = usage_report(ledger, by=["tenant"])
        ledger.close()
        await store.close()
    ledger = UsageLedger(url)
    with Stopwatch() as query:
        again = usage_report(ledger, by=["tenant"])
    ledger.close()
    assert again == rows
    return whole.seconds, query.seconds, rows


async def catch_up(url: str, runs: int) -> float:
    """Seconds to derive the usage of ``runs`` runs nobody metered."""
    ledger = UsageLedger(url)
    store = open_store(url, create=False)
    db = store.database
    wiped = [r[0] for r in db.query("SELECT id FROM runs ORDER BY id LIMIT ?", (runs,))]
    with db.transaction():
        db.executemany("DELETE FROM usage_events WHERE run_id = ?", [(r,) for r in wiped])
        db.executemany("DELETE FROM usage_runs WHERE run_id = ?", [(r,) for r in wiped])
    pricer, _ = catalog_pricing(None)
    with Stopwatch() as watch:
        new = await ledger.sync(store, pricer)
    assert new == runs * (CALLS + 2)  # the model calls, the task, the active time
    ledger.close()
    await store.close()
    return watch.seconds


def run(runs: int) -> list[Figure]:
    with scratch() as folder:
        asyncio.run(build(folder, runs))
        url = f"sqlite:///{folder / 'journal.db'}"
        seconds, query, rows = asyncio.run(first_report(url))
        assert sum(int(str(r["model_calls"])) for r in rows) == runs * CALLS
        unmetered = min(UNMETERED, runs)
        catching_up = asyncio.run(catch_up(url, unmetered))
    return [
        Figure("usage", f"first usage report, journal of {runs:,} runs", seconds, "s", query,
               "< 2 s"),
        Figure("usage", "catch-up of runs nobody metered, per 1,000 runs",
               catching_up * 1000 / unmetered, "s", None, ""),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    print_figures(run(parser.parse_args().runs))
