"""The result of a call that may be repeated (a read, an idempotent write, free of charge) goes
with the run's next write: one transaction less per tool step, the same events in the same
order. A crash before that write repeats the call; a call that may not be repeated, or that
costs money, still has its result committed before the run goes on."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from agentplane.journal import Event, EventType, NewEvent, SQLiteJournal, verify
from agentplane.models.registry import ModelResolver
from agentplane.runtime import Runtime, workflow_from_dict
from agentplane.runtime.context import RunContext
from agentplane.tools import Effect, ToolContext, python_tool

from . import toolbox
from .conftest import HERE, TOOLS
from .test_carried_markers import CountingJournal

STARTED, COMPLETED = EventType.TOOL_STARTED, EventType.TOOL_COMPLETED
REQUESTED = EventType.MODEL_REQUESTED

EXTRA_TOOLS: list[dict[str, Any]] = [
    {"name": "refund_once", "python": "tests.runtime.toolbox:refund", "effect": "write"},
    {"name": "paid_lookup", "python": "tests.runtime.toolbox:lookup", "effect": "read",
     "cost_usd": 0.01},
]


def _flow(tool: str, arguments: dict[str, Any]) -> Any:
    agent = {"name": "a", "tools": [tool], "script": [
        {"tool_calls": [{"name": tool, "arguments": arguments}]},
        {"tool_calls": [{"name": tool, "arguments": arguments}]},
        {"content": "done"}]}
    return workflow_from_dict({"name": "carry", "tools": [*TOOLS, *EXTRA_TOOLS],
                               "guardians": {"enabled": False},
                               "agents": [agent], "steps": [{"agent": "a"}]}, HERE)


async def _writes(tmp_path: Path, tool: str, arguments: dict[str, Any]
                  ) -> tuple[list[list[str]], list[Event]]:
    store = CountingJournal(tmp_path / "j.db")
    runtime = Runtime(store)
    run = await runtime.run(_flow(tool, arguments), "go")
    assert run.status == "completed"
    events = await store.events(run.id)
    assert (await verify(store)).ok
    await runtime.aclose()
    await store.close()
    return store.writes, events


def _tool_writes(writes: list[list[str]]) -> list[list[str]]:
    """The writes that hold a tool event, model requests kept (what a result rides with)."""
    return [[t for t in w if t in (STARTED, COMPLETED, REQUESTED)] for w in writes
            if STARTED in w or COMPLETED in w]


async def test_a_read_result_goes_with_the_next_model_request(tmp_path: Path) -> None:
    writes, events = await _writes(tmp_path, "lookup", {"order_id": "A1"})
    assert _tool_writes(writes) == [[STARTED], [COMPLETED, REQUESTED]] * 2
    kinds = [e.type for e in events if e.type in (STARTED, COMPLETED, REQUESTED)]
    assert kinds == [REQUESTED, STARTED, COMPLETED] * 2 + [REQUESTED]
    assert [e.data["result"] for e in events if e.type == COMPLETED] == [
        {"order_id": "A1", "total": 35.0}] * 2


async def test_an_idempotent_write_result_is_carried_too(tmp_path: Path) -> None:
    writes, _ = await _writes(tmp_path, "refund", {"order_id": "A1", "amount": 5})
    assert _tool_writes(writes) == [[STARTED], [COMPLETED, REQUESTED]] * 2


async def test_a_write_that_may_not_be_repeated_commits_its_result_first(tmp_path: Path
                                                                         ) -> None:
    writes, _ = await _writes(tmp_path, "refund_once", {"order_id": "A1", "amount": 5})
    assert _tool_writes(writes) == [[STARTED], [COMPLETED]] * 2


async def test_a_paid_call_commits_its_result_first(tmp_path: Path) -> None:
    writes, events = await _writes(tmp_path, "paid_lookup", {"order_id": "A1"})
    assert _tool_writes(writes) == [[STARTED], [COMPLETED]] * 2
    assert [e.data["cost_usd"] for e in events if e.type == COMPLETED] == [0.01, 0.01]


class CrashingJournal(SQLiteJournal):
    """Dies (as a killed process would: nothing of the write lands) at the first write that
    holds a tool's result."""

    crashed_at: list[str] | None = None
    """The event types of the write it died at."""

    async def append(self, run_id: str, events: Any, *, owner: str | None = None,
                     require_active: bool = False) -> list[Event]:
        if self.crashed_at is None and any(isinstance(e, NewEvent) and e.type == COMPLETED
                                           for e in events):
            self.crashed_at = [e.type for e in events]
            raise SystemExit("killed")
        return await super().append(run_id, events, owner=owner,
                                    require_active=require_active)


async def test_a_crash_before_the_carrying_write_repeats_the_read(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    crashing = CrashingJournal(path)
    runtime = Runtime(crashing, lease_seconds=0.05)
    flow = _flow("lookup", {"order_id": "A1"})
    run = await runtime.start(flow, "go")
    try:
        await runtime.execute(run.id)
    except SystemExit:
        pass
    else:
        raise AssertionError("the write holding the result did not crash")
    assert crashing.crashed_at == [COMPLETED, REQUESTED]  # the result rode with the request
    kinds = [e.type for e in await crashing.events(run.id)]
    assert kinds[-1] == STARTED  # the call's result never landed
    await crashing.close()
    assert [c[0] for c in toolbox.CALLS] == ["lookup"]

    store = SQLiteJournal(path)
    again = Runtime(store)
    await asyncio.sleep(0.1)  # the crashed owner's lease expires
    done = await again.execute(run.id)
    assert done.status == "completed"
    assert [c[0] for c in toolbox.CALLS] == ["lookup", "lookup", "lookup"]  # repeated once
    events = await store.events(run.id)
    starts = [e.data["attempt"] for e in events if e.type == STARTED]
    assert starts == [1, 2, 1]  # the first call's second attempt, then the second call
    assert len([e for e in events if e.type == COMPLETED]) == 2
    assert (await verify(store)).ok
    await again.aclose()
    await store.close()


CANCELLER: list[Runtime] = []


async def cancel_then_answer(order_id: str, context: ToolContext) -> dict[str, Any]:
    """Looks an order up; meanwhile a person cancels the run."""
    await CANCELLER[0].cancel(context.run_id, actor="user:ana", reason="no longer needed")
    return {"order_id": order_id, "total": 35.0}


async def test_a_run_stopped_before_the_carrying_write_still_journals_the_result(
        tmp_path: Path) -> None:
    store = SQLiteJournal(tmp_path / "j.db")
    runtime = Runtime(store)
    CANCELLER[:] = [runtime]
    tool = {"name": "cancel_then_answer", "effect": "read",
            "python": "tests.runtime.test_carried_results:cancel_then_answer"}
    flow = workflow_from_dict({"name": "carry", "tools": [tool], "guardians": {"enabled": False},
                               "agents": [{"name": "a", "tools": ["cancel_then_answer"], "script": [
                                   {"tool_calls": [{"name": "cancel_then_answer",
                                                    "arguments": {"order_id": "A1"}}]},
                                   {"content": "done"}]}],
                               "steps": [{"agent": "a"}]}, HERE)
    run = await runtime.run(flow, "go")
    assert run.status == "cancelled"
    events = await store.events(run.id)
    kinds = [e.type for e in events]
    assert kinds[-3:] == [STARTED, EventType.RUN_CANCELLED, COMPLETED]
    assert events[-1].data["result"] == {"order_id": "A1", "total": 35.0}
    assert REQUESTED not in kinds[kinds.index(STARTED):]  # no model call after the stop
    assert (await verify(store)).ok
    await runtime.aclose()
    await store.close()


async def test_results_carried_within_one_turn_share_one_end_of_turn_write(
        tmp_path: Path) -> None:
    """Calls that answer at once, made one after another in one turn of the event loop: each
    result rides with the next call's start, and the last one gets one write of its own when
    the turn is over — one, not one per call that was carried."""
    store = SQLiteJournal(tmp_path / "j.db")
    flow = _flow("lookup", {"order_id": "A1"})
    run = await store.create_run(run_id="one-turn", workflow=flow.spec.name,
                                 workflow_hash=flow.hash, input=None, meta={},
                                 lease_owner="t", lease_seconds=60)
    await store.append(run.id, [NewEvent(EventType.RUN_STARTED)], owner="t")
    ctx = RunContext(store, await store.require_run(run.id), flow, ModelResolver(), "t")

    async def lookup(order_id: str) -> dict[str, Any]:
        return {"order_id": order_id, "total": 35.0}

    tool = python_tool(lookup, effect=Effect.READ)
    before = len(asyncio.all_tasks())
    for i in range(20):  # no await in here suspends: the whole loop is one turn
        await ctx.tool_step(f"s0/a/m{i}/t0", tool, {"order_id": "A1"}, "a")
    kinds = [e.type for e in await store.events(run.id)]
    assert kinds.count(STARTED) == 20 and kinds.count(COMPLETED) == 19
    await asyncio.sleep(0)  # the turn is over: the end-of-turn check runs
    assert len(asyncio.all_tasks()) - before <= 1  # one write of the last result, not 20
    for _ in range(3):
        await asyncio.sleep(0)
    kinds = [e.type for e in await store.events(run.id)]
    assert kinds[-2:] == [STARTED, COMPLETED] and kinds.count(COMPLETED) == 20
    assert (await verify(store)).ok
    await store.close()
