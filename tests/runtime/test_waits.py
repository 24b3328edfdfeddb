"""The generic durable wait that approvals are built on: a signal or a timer, holding nothing."""

from __future__ import annotations

import time

import pytest

from agentplane.journal import EventType, JournalStore, NewEvent
from agentplane.models.registry import ModelResolver
from agentplane.runtime import RunStateError, Runtime, Suspended
from agentplane.runtime.context import RunContext, wait_id

from .conftest import make_workflow


async def _context(store: JournalStore, runtime: Runtime) -> RunContext:
    workflow = make_workflow([{"name": "a", "script": [{"content": "x"}]}], [{"agent": "a"}])
    run = await runtime.start(workflow, "go", lease=True)
    await store.append(run.id, [NewEvent(EventType.RUN_STARTED)], owner=runtime.owner)
    ctx = RunContext(store, await store.require_run(run.id), workflow, ModelResolver(),
                     runtime.owner)
    ctx.load(await store.events(run.id))
    return ctx


async def _replayed(store: JournalStore, ctx: RunContext, runtime: Runtime) -> RunContext:
    """A fresh context on the same journal: what a resumed run sees."""
    [claimed] = await store.claim(runtime.owner, lease_seconds=30, run_id=ctx.run_id)
    fresh = RunContext(store, claimed, ctx.workflow, ModelResolver(), runtime.owner)
    fresh.load(await store.events(ctx.run_id))
    return fresh


async def test_timer_wait_fires_at_its_deadline(store: JournalStore, runtime: Runtime) -> None:
    ctx = await _context(store, runtime)
    deadline = time.time() + 3600
    with pytest.raises(Suspended) as suspended:
        await ctx.wait("s0/sleep", kind="timer", data={}, deadline=deadline, approval=False)
    assert suspended.value.wait_ids == [wait_id(ctx.run_id, "s0/sleep")]
    await ctx.append(NewEvent(EventType.RUN_WAITING, data={"waits": suspended.value.wait_ids}))
    run = await store.require_run(ctx.run_id)
    assert run.status == "waiting" and run.wake_at == deadline and run.lease_owner is None
    assert await runtime.expire_due_waits() == []
    [fired] = await runtime.expire_due_waits(now=deadline + 1)
    assert fired.kind == "timer"
    assert (await store.require_run(ctx.run_id)).status == "pending"
    resolution = await (await _replayed(store, ctx, runtime)).wait(
        "s0/sleep", kind="timer", data={}, deadline=deadline, approval=False)
    assert resolution["type"] == EventType.WAIT_RESOLVED
    assert resolution["reason"] == "deadline passed"


async def test_signal_hands_data_to_the_waiting_step(store: JournalStore,
                                                     runtime: Runtime) -> None:
    ctx = await _context(store, runtime)
    with pytest.raises(Suspended) as suspended:
        await ctx.wait("s0/ask", kind="signal", data={"question": "which plan?"},
                       approval=False)
    await ctx.append(NewEvent(EventType.RUN_WAITING, data={"waits": suspended.value.wait_ids}))
    [wid] = suspended.value.wait_ids
    with pytest.raises(RunStateError, match="no signal wait"):
        await runtime.signal("w-nope", actor="user:ana")
    await runtime.signal(wid, actor="user:ana", data={"answer": "gold"})
    with pytest.raises(RunStateError, match="already resolved"):
        await runtime.signal(wid, actor="user:bo", data={"answer": "silver"})
    resolution = await (await _replayed(store, ctx, runtime)).wait(
        "s0/ask", kind="signal", data={}, approval=False)
    assert resolution["answer"] == "gold" and resolution["actor"] == "user:ana"


async def test_approvals_are_not_signalled(store: JournalStore, runtime: Runtime) -> None:
    ctx = await _context(store, runtime)
    with pytest.raises(Suspended) as suspended:
        await ctx.wait("s0/approve", kind="escalation", data={"reason": "stuck"})
    with pytest.raises(RunStateError, match="approve / deny"):
        await runtime.signal(suspended.value.wait_ids[0], actor="user:ana")
