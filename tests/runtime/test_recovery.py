"""Recovery: an interrupted run is resumed from its journal, never repeating a completed step,
re-running an unconfirmed call only when that is safe, and asking a person otherwise."""

from __future__ import annotations

import asyncio

import pytest

from agentplane.journal import EventType, JournalStore
from agentplane.runtime import RunStateError, Runtime

from . import toolbox
from .conftest import make_workflow
from .ctx_tools import crash_mid_call


def _writer(tool: str) -> list[dict[str, object]]:
    return [{"name": "a", "tools": ["lookup", tool], "script": [
        {"tool_calls": [{"name": "lookup", "arguments": {"order_id": "A1"}}]},
        {"tool_calls": [{"name": tool, "arguments": {"item": "x"}}]},
        {"content": "done"}]}]


async def _interrupt_mid_call(store: JournalStore, tool: str) -> str:
    """Start a run and abandon it while ``tool`` is running: what a crash leaves behind."""
    wf = make_workflow(_writer(tool), [{"agent": "a"}])
    run_id = await crash_mid_call(Runtime(store, lease_seconds=0.05), wf, "go", "default")
    toolbox.ENTERED.clear()
    events = await store.events(run_id)
    assert events[-1].type == EventType.TOOL_STARTED
    return run_id


async def test_unconfirmed_non_idempotent_call_needs_a_person(store: JournalStore) -> None:
    run_id = await _interrupt_mid_call(store, "blocking_write")
    rt = Runtime(store)
    run = await rt.execute(run_id)
    assert run.status == "needs_reconciliation"
    last = (await store.events(run_id))[-1]
    assert last.step_key == "s0/a/m2/t0" and last.data["tool"] == "blocking_write"
    assert "agentplane runs reconcile" in last.data["reason"]
    assert [c[0] for c in toolbox.CALLS] == ["lookup", "blocking_write"]  # not repeated
    # The person checks: it did happen. The run goes on without calling it again.
    await rt.reconcile(run_id, step_key="s0/a/m2/t0", happened=True, actor="user:ana",
                       result="wrote x (checked by hand)")
    run = await rt.execute(run_id)
    await rt.aclose()
    assert run.status == "completed"
    assert [c[0] for c in toolbox.CALLS] == ["lookup", "blocking_write"]


async def test_reconciled_as_not_happened_runs_the_call_again(store: JournalStore) -> None:
    run_id = await _interrupt_mid_call(store, "blocking_write")
    rt = Runtime(store)
    assert (await rt.execute(run_id)).status == "needs_reconciliation"
    with pytest.raises(RunStateError, match="s0/a/m2/t0"):
        await rt.reconcile(run_id, step_key="s0/a/m1/t0", happened=False, actor="user:ana")
    await rt.reconcile(run_id, step_key="s0/a/m2/t0", happened=False, actor="user:ana")
    run = await rt.execute(run_id)
    await rt.aclose()
    assert run.status == "completed"
    writes = [c[1] for c in toolbox.CALLS if c[0] == "blocking_write"]
    assert [w["attempt"] for w in writes] == [1, 2]
    lookups = [c for c in toolbox.CALLS if c[0] == "lookup"]
    assert len(lookups) == 1  # the completed step before it was not called again


async def test_unconfirmed_idempotent_call_is_rerun_with_the_same_key(store: JournalStore) -> None:
    run_id = await _interrupt_mid_call(store, "blocking_idempotent")
    rt = Runtime(store)
    run = await rt.execute(run_id)
    await rt.aclose()
    assert run.status == "completed"
    writes = [c[1] for c in toolbox.CALLS if c[0] == "blocking_write"]
    assert [w["attempt"] for w in writes] == [1, 2]
    started = [e for e in await store.events(run_id) if e.type == EventType.TOOL_STARTED
               and e.step_key == "s0/a/m2/t0"]
    assert len({e.data["idempotency_key"] for e in started}) == 1


async def test_resume_all_takes_over_expired_leases(store: JournalStore) -> None:
    run_id = await _interrupt_mid_call(store, "blocking_idempotent")
    rt = Runtime(store)
    [run] = await rt.resume_all()
    await rt.aclose()
    assert run.id == run_id and run.status == "completed"
    assert EventType.RUN_RESUMED in [e.type for e in await store.events(run_id)]


async def test_a_live_lease_is_not_taken(store: JournalStore) -> None:
    wf = make_workflow(_writer("blocking_idempotent"), [{"agent": "a"}])
    first = Runtime(store)
    run = await first.start(wf, "go")
    task = asyncio.create_task(first.execute(run.id))
    await asyncio.to_thread(toolbox.ENTERED.wait, 10)
    second = Runtime(store)
    assert await second.resume_all() == []
    toolbox.GATE.set()
    assert (await task).status == "completed"
    await first.aclose()
    await second.aclose()
    assert len([c for c in toolbox.CALLS if c[0] == "blocking_write"]) == 1


async def test_one_runtime_never_drives_a_run_twice_at_once(store: JournalStore) -> None:
    """A server's worker round and a request may both ask to drive the same run."""
    wf = make_workflow(_writer("blocking_write"), [{"agent": "a"}])
    runtime = Runtime(store)
    run = await runtime.start(wf, "go")
    first = asyncio.create_task(runtime.execute(run.id))
    await asyncio.to_thread(toolbox.ENTERED.wait, 10)  # the first drive is inside the write
    assert [r.id for r in await runtime.claim_runnable()] == []  # not handed out again
    await runtime.execute(run.id)  # a second request returns at once
    toolbox.GATE.set()
    record = await first
    toolbox.ENTERED.clear()
    assert record.status == "completed"
    events = await store.events(run.id)
    assert sum(e.type == EventType.RUN_STARTED for e in events) == 1
    assert sum(e.type == EventType.RUN_RESUMED for e in events) == 0
    assert sum(e.type == EventType.TOOL_STARTED and e.data.get("tool") == "blocking_write"
               for e in events) == 1
    await runtime.aclose()
