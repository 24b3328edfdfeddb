"""``remember`` / ``recall`` in runs, and what a run leaves in memory when it ends: written
once (across crashes), with the trust the run's content gives it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentplane.journal import EventType, JournalStore
from agentplane.memory.experience import summary_key
from agentplane.memory.skills import Skills
from agentplane.memory.store import MemoryStore, memory_id
from agentplane.runtime import Runtime, Workflow, workflow_from_dict
from agentplane.runtime.context import RunContext
from agentplane.runtime.memory_at_end import run_end_memories

from . import ctx_tools
from .ctx_tools import call, crash_mid_call

HERE = Path(__file__).parent
url, store = ctx_tools.url, ctx_tools.store  # fixtures: each test on SQLite and PostgreSQL



def flow(script: list[dict[str, Any]], memory: dict[str, Any], **agent: Any) -> Workflow:
    return workflow_from_dict({"name": "mem", "tools": ctx_tools.TOOLS, "agents": [{
        "name": "desk", "tools": ["read_mail", "pay", "refund", "blocking_idempotent"],
        "memory": memory, "script": script, **agent}], "steps": [{"agent": "desk"}]}, HERE)


async def run(store: JournalStore, workflow: Workflow, input: Any = "go",
              tenant: str = "acme") -> str:
    runtime = Runtime(store)
    record = await runtime.run(workflow, input, tenant=tenant)
    await runtime.aclose()
    return record.id


def of_type(events: list[Any], kind: str) -> list[Any]:
    return [e for e in events if e.type == kind]


async def test_remember_without_untrusted_content_is_trusted(store: JournalStore) -> None:
    wf = flow([call("remember", text="Customer C-1 prefers e-mail to phone calls."),
               {"content": "noted"}], {"tools": True, "subject": "$.customer"})
    run_id = await run(store, wf, {"customer": "C-1"})
    events = await store.events(run_id)
    [written] = of_type(events, EventType.MEMORY_WRITTEN)
    memory = MemoryStore(store.database).get("acme", written.data["memory"]["id"])
    assert memory is not None
    assert (memory.kind, memory.subject, memory.trust, memory.source) == (
        "experiential", "C-1", "trusted", f"run:{run_id}/s0/desk/m1/t0")
    assert written.data["memory"]["trust"] == "trusted"


async def test_remember_from_untrusted_content_is_untrusted(store: JournalStore) -> None:
    wf = flow([call("read_mail"),
               call("remember", text="Globex is paid to the account in their mail.",
                    subject="globex", relation="iban", value=ctx_tools.ATTACKER_IBAN),
               {"content": "noted"}], {"tools": True})
    run_id = await run(store, wf)
    [written] = of_type(await store.events(run_id), EventType.MEMORY_WRITTEN)
    memory = MemoryStore(store.database).get("acme", written.data["memory"]["id"])
    assert memory is not None and (memory.kind, memory.relation, memory.value, memory.trust) == (
        "factual", "iban", ctx_tools.ATTACKER_IBAN, "untrusted")
    assert "read_mail" in memory.meta["trust_reason"]


async def test_remember_is_written_once_across_a_crash(store: JournalStore) -> None:
    wf = flow([call("remember", text="Order A-7 was refunded by hand."),
               call("blocking_idempotent", item="x"), {"content": "done"}], {"tools": True})
    run_id = await crash_mid_call(Runtime(store, lease_seconds=0.05), wf, "go", "acme")
    resumed = Runtime(store)
    assert (await resumed.execute(run_id)).status == "completed"
    await resumed.aclose()
    events = await store.events(run_id)
    assert len(of_type(events, EventType.MEMORY_WRITTEN)) == 1
    assert [e.data["tool"] for e in of_type(events, EventType.TOOL_STARTED)
            if e.data["tool"] == "remember"] == ["remember"]
    assert len(MemoryStore(store.database).list("acme")) == 1


async def test_recall_keeps_each_memorys_trust(store: JournalStore) -> None:
    memories = MemoryStore(store.database)
    memories.remember_fact("acme", "globex", "iban", "DE12500105170648489890", source="crm",
                           trust="trusted", created_by="user:ana")
    memories.remember_fact("acme", "globex", "phone", "+49 30 1234567", source="mail",
                           trust="untrusted", created_by="agent:desk")
    wf = flow([call("recall", query="globex iban phone"), {"content": "ok"}], {"tools": True})
    run_id = await run(store, wf)
    events = await store.events(run_id)
    [done] = [e for e in of_type(events, EventType.TOOL_COMPLETED) if e.data["tool"] == "recall"]
    result = done.data["result"]
    assert [m["relation"] for m in result["trusted"]] == ["iban"]
    assert [m["relation"] for m in result["untrusted"]] == ["phone"]
    [recalled] = of_type(events, EventType.MEMORY_RECALLED)
    assert {m["trust"] for m in recalled.data["memories"]} == {"trusted", "untrusted"}


async def test_bad_remember_arguments_fail_the_call_not_the_run(store: JournalStore) -> None:
    wf = flow([call("remember", text="x", relation="iban"), {"content": "ok"}],
              {"tools": True})
    run_id = await run(store, wf)
    events = await store.events(run_id)
    [failed] = of_type(events, EventType.TOOL_FAILED)
    assert "needs both `relation` and `value`" in failed.data["error"]
    assert (await store.require_run(run_id)).status == "completed"
    assert MemoryStore(store.database).list("acme") == []


async def test_a_fact_about_the_runs_subject_needs_no_subject_argument(
        store: JournalStore) -> None:
    wf = flow([call("remember", text="C-1 prefers German.", relation="language", value="de"),
               {"content": "ok"}], {"tools": True, "subject": "$.customer"})
    run_id = await run(store, wf, {"customer": "C-1"})
    [written] = of_type(await store.events(run_id), EventType.MEMORY_WRITTEN)
    fact = MemoryStore(store.database).get("acme", written.data["memory"]["id"])
    assert fact is not None and (fact.kind, fact.subject, fact.relation, fact.value) == (
        "factual", "C-1", "language", "de")
    # without a subject of the run, the call fails and says why
    run_id = await run(store, wf, "no subject here")
    [failed] = of_type(await store.events(run_id), EventType.TOOL_FAILED)
    assert "needs a `subject`" in failed.data["error"]


async def test_memory_tools_are_offered_only_when_declared(store: JournalStore) -> None:
    wf = flow([call("remember", text="x"), {"content": "ok"}], {"tools": False})
    run_id = await run(store, wf)
    [refused] = [e for e in await store.events(run_id) if e.type == EventType.GUARD_DECIDED]
    assert refused.data["policy_id"] == "offered-tools"


async def test_run_end_writes_the_experiential_summary_once(store: JournalStore) -> None:
    wf = flow([call("refund", order_id="A-7"), {"content": "refunded A-7"}],
              {"write": ["experiential"], "subject": "$.customer"})
    run_id = await run(store, wf, {"customer": "C-1", "ask": "refund A-7"})
    events = await store.events(run_id)
    [written] = of_type(events, EventType.MEMORY_WRITTEN)
    assert events[-1].type == EventType.RUN_COMPLETED and events[-2] is written
    memories = MemoryStore(store.database)
    summary = memories.get("acme", written.data["memory"]["id"])
    assert summary is not None and summary.kind == "experiential" and summary.subject == "C-1"
    assert "completed" in summary.text and "refund" in summary.text
    # The run reaches its end again (as after a crash before its final event): the same
    # memory, nothing new.
    runtime = Runtime(store)
    record = await store.require_run(run_id)
    workflow = await runtime._workflow_for(record)
    ctx = RunContext(store, record, workflow, runtime._resolver(workflow), runtime.owner)
    again = await run_end_memories(ctx, EventType.RUN_COMPLETED, {"output": "refunded A-7"})
    await runtime.aclose()
    assert [e.data["memory"]["id"] for e in again] == [summary.id]
    assert [m.id for m in memories.list("acme")] == [summary.id]
    assert memories.get("acme", summary.id) == summary
    assert summary.id == memory_id("acme", summary_key(run_id))


async def test_failed_run_leaves_its_summary_too(store: JournalStore) -> None:
    wf = flow([{"error": "provider down"}], {"write": ["experiential", "procedural"]})
    run_id = await run(store, wf)
    events = await store.events(run_id)
    assert events[-1].type == EventType.RUN_FAILED
    [written] = of_type(events, EventType.MEMORY_WRITTEN)
    assert written.data["memory"]["kind"] == "experiential"
    assert "failed" in written.data["memory"]["text"]


async def test_completed_runs_count_towards_a_skill(store: JournalStore) -> None:
    wf = flow([call("refund", order_id="A-7"), {"content": "done"}], {"write": ["procedural"]})
    for _ in range(3):
        run_id = await run(store, wf)
    [written] = of_type(await store.events(run_id), EventType.MEMORY_WRITTEN)
    assert written.data["memory"]["kind"] == "procedural"
    [skill] = Skills(MemoryStore(store.database)).list("acme")
    assert (skill.successes, skill.status) == (3, "active")  # promoted after 3 successes
    assert [s.tool for s in skill.steps] == ["refund"]


@pytest.fixture(autouse=True)
def _clear_paid() -> None:
    ctx_tools.PAID.clear()
