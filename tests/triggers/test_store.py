"""The trigger store and ``fire``: at most once per key, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agentplane.errors import NotFoundError
from agentplane.journal import EventType, JournalStore
from agentplane.runtime import Runtime, Workflow
from agentplane.triggers.fire import fire, fire_run_id
from agentplane.triggers.store import TriggerStore


def test_a_key_is_claimed_once_and_switches_and_failures_are_kept(
        triggers: TriggerStore) -> None:
    assert triggers.claim("default", "wf", "hourly", "k1", run_id="run-1", detail={"a": 1})
    assert not triggers.claim("default", "wf", "hourly", "k1", run_id="run-2")
    assert triggers.claim("default", "wf", "hourly", "k2", run_id="run-3")
    assert triggers.claim("acme", "wf", "hourly", "k1", run_id="run-4")  # another tenant
    fires = triggers.fires("default", "wf", "hourly")
    assert {(f.key, f.run_id) for f in fires} == {("k1", "run-1"), ("k2", "run-3")}
    assert triggers.fire("default", "wf", "hourly", "k1").detail == {"a": 1}  # type: ignore[union-attr]
    triggers.record_failure("default", "wf", "hourly", "k9", "boom")
    triggers.set_enabled("default", "wf", "hourly", False)
    state = triggers.state("default", "wf", "hourly")
    assert (state.enabled, state.fires, state.failures) == (False, 2, 1)
    assert state.last_error == "k9: boom"
    assert not triggers.is_enabled("default", "wf", "hourly", declared=True)
    assert triggers.is_enabled("default", "wf", "other", declared=True)
    assert triggers.advance("default", "wf", "hourly", "2026-01-01T01:00:00Z") is None
    assert triggers.advance("default", "wf", "hourly", "2026-01-01T00:00:00Z") \
        == "2026-01-01T01:00:00Z"
    assert triggers.checked_until("default", "wf", "hourly") == "2026-01-01T01:00:00Z"


async def test_fire_starts_one_run_per_key_even_when_raced(
        runtime: Runtime, journal: JournalStore, workflow: Workflow,
        triggers: TriggerStore) -> None:
    results = await asyncio.gather(*(fire(runtime, workflow, "hourly", "slot-1", {"n": i},
                                          store=triggers, untrusted=True,
                                          detail={"why": "test"}) for i in range(5)))
    assert sum(r.started for r in results) == 1
    assert len({r.run_id for r in results}) == 1
    runs = await journal.list_runs()
    assert [r.id for r in runs] == [results[0].run_id]
    run = runs[0]
    assert run.meta["input_trust"] == "untrusted"
    assert run.meta["tags"]["trigger"] == "hourly"
    events = await journal.events(run.id)
    fired = [e for e in events if e.type == EventType.TRIGGER_FIRED]
    assert fired[0].data == {"trigger": "hourly", "kind": "schedule", "key": "slot-1",
                             "detail": {"why": "test"}}


async def test_a_claim_without_its_run_is_repaired_by_the_next_fire(
        runtime: Runtime, journal: JournalStore, workflow: Workflow,
        triggers: TriggerStore) -> None:
    run_id = fire_run_id("default", workflow.spec.name, "hourly", "slot-2")
    # a process claimed the key, then died before creating the run
    assert triggers.claim("default", workflow.spec.name, "hourly", "slot-2", run_id=run_id)
    result = await fire(runtime, workflow, "hourly", "slot-2", None, store=triggers,
                        drive=True)
    assert result.run_id == run_id and result.started
    assert (await journal.require_run(run_id)).status == "completed"
    again = await fire(runtime, workflow, "hourly", "slot-2", None, store=triggers)
    assert (again.run_id, again.started) == (run_id, False)
    assert len(await journal.list_runs()) == 1


async def test_an_unknown_trigger_is_refused_with_the_names_it_has(
        runtime: Runtime, workflow: Workflow, triggers: TriggerStore) -> None:
    with pytest.raises(NotFoundError, match="its triggers: hourly"):
        await fire(runtime, workflow, "nope", "k", None, store=triggers)


def test_a_trigger_is_one_kind(tmp_path: Path) -> None:
    from agentplane.errors import AgentplaneError
    from agentplane.runtime import load_workflow

    from .conftest import write_workflow

    path = write_workflow(tmp_path, name="two", triggers=[
        {"name": "both", "schedule": "0 * * * *", "webhook": {"secret_env": "S"}}])
    with pytest.raises(AgentplaneError, match="trigger both declares schedule and webhook"):
        load_workflow(path)


def test_two_triggers_of_a_workflow_may_not_share_a_name(tmp_path: Path) -> None:
    from agentplane.errors import AgentplaneError
    from agentplane.runtime import load_workflow

    from .conftest import write_workflow

    path = write_workflow(tmp_path, name="twice", triggers=[
        {"name": "inbox", "schedule": "0 * * * *"},
        {"name": "inbox", "webhook": {"secret_env": "S"}}])
    with pytest.raises(AgentplaneError, match=r"triggers.*two triggers are named 'inbox'"):
        load_workflow(path)
    write_workflow(tmp_path, name="twice", triggers=[
        {"name": "inbox", "schedule": "0 * * * *"},
        {"name": "hook", "webhook": {"secret_env": "S"}}])
    assert [t.name for t in load_workflow(path).spec.triggers] == ["inbox", "hook"]
