"""What the hot path saves must not change what a run does: a model step on a run cancelled
meanwhile is refused by the append itself, the workflow hash is the spec's, the collector
settings apply once per process."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import threading

import pydantic
import pytest

from agentplane.journal import EventType, JournalStore, NewEvent, RunNotActiveError
from agentplane.models.base import ModelRequest
from agentplane.runtime import Runtime
from agentplane.runtime.context import RunContext
from agentplane.runtime.workflow import spec_hash
from agentplane.tools import Effect, ToolArgumentsError, ToolContext, isolation, python_tool
from agentplane.tools.isolation import run_in_thread

from .conftest import make_workflow


@pytest.mark.parametrize("status_event", [EventType.RUN_CANCELLED, EventType.RUN_FAILED,
                                          EventType.RUN_COMPLETED])
async def test_a_model_step_on_a_finished_run_is_refused_as_not_active(
        store: JournalStore, status_event: str) -> None:
    wf = make_workflow([{"name": "a", "script": [{"content": "x"}]}], [{"agent": "a"}])
    rt = Runtime(store)
    run = await rt.start(wf, "go", lease=True)
    await store.append(run.id, [NewEvent(EventType.RUN_STARTED)])
    # a cancel keeps the lease (the status refuses); completing or failing ends it
    await store.append(run.id, [NewEvent(status_event)])
    ctx = RunContext(store, await store.require_run(run.id), wf, rt._resolver(wf), rt.owner)
    before = len(await store.events(run.id))
    with pytest.raises(RunNotActiveError):
        await ctx.model_step("s0/a/m1", "scripted",
                             ModelRequest(model="scripted", messages=[], agent="a"))
    assert len(await store.events(run.id)) == before  # nothing written
    await rt.aclose()


def test_the_workflow_hash_is_the_spec_hash_and_computed_once() -> None:
    wf = make_workflow([{"name": "a", "script": [{"content": "x"}]}], [{"agent": "a"}])
    first = wf.hash
    assert first == spec_hash(wf.spec)
    assert wf.hash is first


def test_a_workflows_agents_are_looked_up_in_an_index_made_once() -> None:
    wf = make_workflow([{"name": "a", "script": [{"content": "x"}]},
                        {"name": "b", "script": [{"content": "y"}]}], [{"agent": "a"}])
    assert wf.agent("b") is wf.spec.agent("b") is wf.spec.agents[1]
    assert wf.agent("nobody") is None
    index = wf._agents
    assert wf.agent("a") is wf.spec.agents[0] and wf._agents is index
    bound = dataclasses.replace(wf, tools={})  # a new version of the object: its own index
    assert bound._agents is None and bound.agent("a") is wf.spec.agents[0]


def _collector_settings(env: dict[str, str]) -> dict[str, int | list[int]]:
    code = ("import gc, json\n"
            "from agentplane.journal import SQLiteJournal\n"
            "from agentplane.runtime import Runtime\n"
            "default = list(gc.get_threshold())\n"
            "Runtime(SQLiteJournal(':memory:')); Runtime(SQLiteJournal(':memory:'))\n"
            "print(json.dumps({'threshold': list(gc.get_threshold()), 'default': default,"
            " 'frozen': gc.get_freeze_count()}))\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, env={**os.environ, **env})
    result: dict[str, int | list[int]] = json.loads(out.stdout)
    return result


def test_a_runtime_sets_the_collector_for_many_runs_once() -> None:
    from agentplane.runtime.gcpolicy import THRESHOLDS
    tuned = _collector_settings({})
    assert tuned["threshold"] == list(THRESHOLDS)
    assert isinstance(tuned["frozen"], int) and tuned["frozen"] > 0
    kept = _collector_settings({"AGENTPLANE_GC": "default"})
    assert kept["threshold"] == kept["default"] != list(THRESHOLDS)
    assert kept["frozen"] == 0


async def test_sync_tool_threads_are_reused_and_a_hung_call_holds_only_its_own() -> None:
    gate = threading.Event()

    def hang() -> str:
        gate.wait(30)
        return "late"

    def where() -> int:
        return threading.get_ident()

    def tool_threads() -> set[int | None]:
        return {t.ident for t in threading.enumerate() if t.name == "agentplane-tool"}

    async def one_idle() -> None:
        for _ in range(1000):
            if isolation._THREADS._idle:
                return
            await asyncio.sleep(0.01)

    hung = asyncio.ensure_future(run_in_thread(hang, {}))
    await asyncio.wait_for(run_in_thread(where, {}), 10)
    await one_idle()
    kept = tool_threads()
    used = set()
    for _ in range(20):  # while one call hangs, the others run at once, on kept threads
        used.add(await asyncio.wait_for(run_in_thread(where, {}), 10))
        await one_idle()
    assert used <= kept
    assert not hung.done()
    gate.set()
    assert await asyncio.wait_for(hung, 10) == "late"


_SEEN: list[str] = []


class _Order(pydantic.BaseModel):
    """An argument whose validation is counted."""

    id: str

    @pydantic.field_validator("id")
    @classmethod
    def _counted(cls, value: str) -> str:
        _SEEN.append(value)
        return value.upper()


async def test_a_tool_step_validates_its_arguments_once(store: JournalStore) -> None:
    seen = _SEEN
    seen.clear()

    async def refund(order: _Order) -> str:
        return f"refunded {order.id}"

    tool = python_tool(refund, effect=Effect.WRITE, idempotent=True)
    wf = make_workflow([{"name": "a", "script": [{"content": "x"}]}], [{"agent": "a"}])
    rt = Runtime(store)
    run = await rt.start(wf, "go", lease=True)
    await store.append(run.id, [NewEvent(EventType.RUN_STARTED)])
    ctx = RunContext(store, await store.require_run(run.id), wf, rt._resolver(wf), rt.owner)
    outcome = await ctx.tool_step("s0/a/m1/t0", tool, {"order": {"id": "a1"}}, "a")
    assert (outcome.ok, outcome.value) == (True, "refunded A1")
    assert seen == ["a1"]  # checked before the start was journaled, not again by the call
    # a call that was not checked first (or with other arguments) is still validated
    context = ToolContext(run_id=run.id, step_key="k", idempotency_key="i", agent="a",
                          tool="refund", attempt=1)
    assert await tool.invoke({"order": {"id": "b2"}}, context) == "refunded B2"
    with pytest.raises(ToolArgumentsError, match=r"order\.id"):
        await tool.invoke({"order": {"id": 3}}, context)
    assert seen == ["a1", "b2"]
    await rt.aclose()
