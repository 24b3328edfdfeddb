"""The worker loop: runs taken as soon as there is room, a concurrency bound, due waits expired
once across workers, and a graceful stop that hands leases back."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from agentplane.journal import EventType, JournalStore, open_store, verify
from agentplane.runtime import Runtime, Worker, Workflow, workflow_from_dict

from . import ctx_tools, toolbox
from .conftest import HERE, TOOLS, make_workflow

url, store = ctx_tools.url, ctx_tools.store  # fixtures: each test on SQLite and PostgreSQL
GUARD_S = 30.0
"""How long a test waits for what must happen much sooner (a hang guard, not a measurement)."""




def _lookups(n: int = 1) -> list[dict[str, Any]]:
    return [{"name": "a", "tools": ["lookup"], "script": [
        *({"tool_calls": [{"name": "lookup", "arguments": {"order_id": f"A{i}"}}]}
          for i in range(n)),
        {"content": "done"}]}]


async def _until(condition: Any, what: str) -> None:
    async def poll() -> None:
        while not await condition():
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(poll(), GUARD_S)
    except TimeoutError:
        raise AssertionError(f"not within {GUARD_S} s: {what}") from None


async def _all_end(store: JournalStore, run_ids: list[str], statuses: set[str]) -> None:
    async def done() -> bool:
        return {await store.run_status(r) for r in run_ids} <= statuses

    await _until(done, f"runs {run_ids} end")


async def _drive_four(store: JournalStore, agents: list[dict[str, Any]], *, concurrency: int,
                      poll_s: float) -> tuple[Worker, int]:
    """Start four runs, let one worker drive them all to completion; returns the worker and
    the most runs it drove at once."""
    runtime = Runtime(store)
    wf = make_workflow(agents, [{"agent": "a"}])
    ids = [(await runtime.start(wf, "go")).id for _ in range(4)]
    worker = Worker(runtime, concurrency=concurrency, poll_s=poll_s)
    most = 0

    def seen() -> None:
        nonlocal most
        most = max(most, len(worker.active))

    worker.poke = seen
    loop = asyncio.create_task(worker.run())
    await _all_end(store, ids, {"completed"})
    worker.stop()
    await loop
    await runtime.aclose()
    return worker, most


async def test_a_run_is_taken_as_soon_as_one_ends_not_at_the_next_poll(
        store: JournalStore) -> None:
    # a poll of an hour: only the worker's own wake-up can take the queued runs
    worker, most = await _drive_four(store, _lookups(2), concurrency=1, poll_s=3600)
    assert most == 1 and worker.driven == 4


async def test_runs_are_driven_at_once_up_to_the_concurrency(store: JournalStore) -> None:
    toolbox.BARRIER = asyncio.Barrier(2)  # each call completes only while another one runs
    agents = [{"name": "a", "tools": ["rendezvous"], "script": [
        {"tool_calls": [{"name": "rendezvous", "arguments": {"name": "x"}}]},
        {"content": "met"}]}]
    worker, most = await _drive_four(store, agents, concurrency=2, poll_s=0.05)
    assert most == 2 and worker.driven == 4


def _approval_flow(timeout_s: float) -> Workflow:
    agents = [{"name": "a", "tools": ["refund"], "script": [
        {"tool_calls": [{"name": "refund", "arguments": {"order_id": "A1", "amount": 5}}]},
        {"content": "nobody answered"}]}]
    return workflow_from_dict({"name": "asks", "tools": TOOLS, "agents": agents,
                               "steps": [{"agent": "a"}], "autonomy": "in_the_loop",
                               "approval_timeout_s": timeout_s}, HERE)


async def test_due_approvals_expire_once_across_workers(url: str) -> None:
    stores = [open_store(url) for _ in range(3)]
    starter = Runtime(stores[0])
    wf = _approval_flow(0.2)
    ids = [(await starter.start(wf, "go")).id for _ in range(12)]
    runtimes = [Runtime(s) for s in stores]
    workers = [Worker(r, concurrency=4, poll_s=0.02) for r in runtimes]
    loops = [asyncio.create_task(w.run()) for w in workers]
    await _all_end(stores[0], ids, {"completed"})
    for worker in workers:
        worker.stop()
    await asyncio.gather(*loops)
    expired: Counter[str] = Counter()
    owners: set[str] = set()
    for run_id in ids:
        events = await stores[0].events(run_id)
        expired.update(e.data["wait_id"] for e in events
                       if e.type == EventType.APPROVAL_EXPIRED)
        owners.update(e.data["worker"] for e in events
                      if e.type in (EventType.RUN_STARTED, EventType.RUN_RESUMED))
    assert len(expired) == 12 and set(expired.values()) == {1}, expired
    assert toolbox.CALLS == []  # expiry is a deny
    assert len(owners) > 1  # the three workers shared the runs
    assert (await verify(stores[0])).ok
    for runtime in [starter, *runtimes]:
        await runtime.aclose()
    for store in stores:
        await store.close()


async def test_a_stopping_worker_hands_back_the_lease_of_a_run_still_going(
        store: JournalStore) -> None:
    agents = [{"name": "a", "tools": ["blocking_idempotent"], "script": [
        {"tool_calls": [{"name": "blocking_idempotent", "arguments": {"item": "x"}}]},
        {"content": "done"}]}]
    first = Runtime(store)
    run = await first.start(make_workflow(agents, [{"agent": "a"}]), "go")
    worker = Worker(first, concurrency=2, poll_s=0.05, grace_s=0.05)
    loop = asyncio.create_task(worker.run())
    await asyncio.to_thread(toolbox.ENTERED.wait, GUARD_S)
    worker.stop()
    await loop  # returns although the call is still blocked: it was cut after grace_s
    record = await store.require_run(run.id)
    assert (record.status, record.lease_owner) == ("running", None)
    toolbox.GATE.set()  # the cut call's thread ends; its result is never journaled
    await first.aclose()

    second = Runtime(store)  # takes it at once (no lease to wait for) and repeats the call
    [done] = await Worker(second).once()
    await second.aclose()
    assert done.status == "completed"
    assert [c[1]["attempt"] for c in toolbox.CALLS if c[0] == "blocking_write"] == [1, 2]


async def test_once_drives_each_runnable_run_once_and_reports_it(store: JournalStore) -> None:
    runtime = Runtime(store)
    wf = make_workflow(_lookups(), [{"agent": "a"}])
    ids = {(await runtime.start(wf, "go")).id for _ in range(5)}
    reported: list[str] = []
    worker = Worker(runtime, concurrency=2, report=lambda r: reported.append(r.id))
    records = await worker.once()
    assert {r.id for r in records} == ids == set(reported)
    assert {r.status for r in records} == {"completed"}
    assert await worker.once() == []
    await runtime.aclose()


def test_backoff_doubles_up_to_a_minute(store: JournalStore) -> None:
    worker = Worker(Runtime(store), poll_s=0.5)
    assert [worker.backoff_s(n) for n in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert worker.backoff_s(1000) == 60.0
    with pytest.raises(ValueError, match="concurrency"):
        Worker(Runtime(store), concurrency=0)


async def test_a_run_is_claimed_beside_the_runs_already_driven(store: JournalStore) -> None:
    """The store renews a worker's own leases in a claim; they must not crowd out new runs."""
    agents = [{"name": "a", "tools": ["blocking_idempotent"], "script": [
        {"tool_calls": [{"name": "blocking_idempotent", "arguments": {"item": "x"}}]},
        {"content": "done"}]}]
    runtime = Runtime(store)
    wf = make_workflow(agents, [{"agent": "a"}])
    first = await runtime.start(wf, "go")
    [claimed] = await runtime.claim_runnable(limit=1)
    going = asyncio.create_task(runtime.drive(claimed))
    await asyncio.to_thread(toolbox.ENTERED.wait, GUARD_S)
    second, third = [await runtime.start(wf, "go") for _ in range(2)]
    assert [r.id for r in await runtime.claim_runnable(limit=1)] == [second.id]
    assert (await store.require_run(third.id)).lease_owner is None  # not held back unasked
    toolbox.GATE.set()
    assert (await going).id == first.id
    await runtime.aclose()
