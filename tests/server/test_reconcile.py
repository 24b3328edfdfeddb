"""A run that needs reconciliation is settled over the API (``POST /runs/{id}/reconcile``),
as `agentplane runs reconcile` does, and goes on at once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agentplane.journal import open_store
from tests.runtime import toolbox
from tests.runtime.test_recovery import _interrupt_mid_call

from .live import as_, finished, live_server


async def _unconfirmed_run(db: Path) -> str:
    """A run of tenant ``default`` left with a started, unconfirmed, non-idempotent call."""
    store = open_store(f"sqlite:///{db}")
    try:
        return await _interrupt_mid_call(store, "blocking_write")
    finally:
        await store.close()


def make_unconfirmed_run(db: Path) -> str:
    toolbox.reset()
    with ThreadPoolExecutor(1) as pool:  # a loop of its own (the caller may run one)
        return pool.submit(asyncio.run, _unconfirmed_run(db)).result()


@pytest.fixture
def stuck(db: Path, keys: dict[str, str]) -> Iterator[tuple[str, str]]:
    run_id = make_unconfirmed_run(db)
    with live_server(db) as url:
        yield url, run_id


def test_a_run_needing_reconciliation_is_settled_over_the_api(
        stuck: tuple[str, str], keys: dict[str, str]) -> None:
    base, run_id = stuck
    root = as_(base, keys, "root")
    run = root.wait_for(run_id, lambda r: r["status"] == "needs_reconciliation")
    step = [e for e in root.ok("GET", f"/runs/{run_id}/events")
            if e["type"] == "run.needs_reconciliation"][-1]["step_key"]
    # the wrong step, a viewer, an approver: refused with the right status
    wrong = root.post(f"/runs/{run_id}/reconcile", {"step_key": "s9", "happened": True})
    assert wrong.status_code == 409 and step in wrong.json()["error"]
    assert as_(base, keys, "viewer").post(f"/runs/{run_id}/reconcile", {
        "step_key": step, "happened": True}).status_code == 403
    settled = root.ok("POST", f"/runs/{run_id}/reconcile", {
        "step_key": step, "happened": True, "result": "wrote x (checked by hand)",
        "reason": "seen in the ledger"})
    assert settled["id"] == run_id
    done = root.wait_for(run_id, finished)
    assert done["status"] == "completed"
    events = root.ok("GET", f"/runs/{run_id}/events")
    reconciled = [e for e in events if e["type"] == "run.reconciled"]
    assert reconciled[0]["actor"].startswith("key:")
    assert reconciled[0]["data"]["decision"] == "completed"
    assert [c[0] for c in toolbox.CALLS].count("blocking_write") == 1  # not made again
    assert run["status"] == "needs_reconciliation"
