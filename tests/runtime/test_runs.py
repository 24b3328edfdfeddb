"""The runtime end to end on real SQLite: patterns, the agent loop, waits, cancellation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from agentplane.journal import Event, EventType, JournalStore, verify
from agentplane.runtime import Runtime, load_workflow
from agentplane.runtime.context import idempotency_key

from . import toolbox
from .conftest import make_workflow, run_recorded


def types(events: Sequence[Event]) -> list[str]:
    return [e.type for e in events]


async def test_sequential_agent_with_tools(runtime: Runtime, store: JournalStore) -> None:
    wf = make_workflow(
        [{"name": "clerk", "tools": ["lookup", "refund"], "script": [
            {"content": "Looking.", "tool_calls": [{"name": "lookup",
                                                    "arguments": {"order_id": "A1"}}]},
            {"tool_calls": [{"name": "refund", "arguments": {"order_id": "A1", "amount": 20}}]},
            {"content": "Refunded 20."}]}],
        [{"agent": "clerk"}])
    run = await runtime.run(wf, "refund A1")
    assert run.status == "completed"
    events = await store.events(run.id)
    assert events[-1].data["output"] == "Refunded 20."
    assert [c[0] for c in toolbox.CALLS] == ["lookup", "refund"]
    refund = toolbox.CALLS[1][1]
    assert refund["key"] == idempotency_key(run.id, "s0/clerk/m2/t0")
    assert refund["step"] == "s0/clerk/m2/t0"
    assert refund["attempt"] == 1
    assert types(events).count(EventType.MODEL_COMPLETED) == 3
    assert run.workflow_hash == wf.hash
    usage = [e.usage for e in events if e.type == EventType.MODEL_COMPLETED]
    assert all(u and u["output_tokens"] >= 0 and u["input_tokens"] > 0 for u in usage)
    assert (await verify(store)).ok


async def test_tool_calls_of_one_turn_run_in_parallel(runtime: Runtime) -> None:
    toolbox.BARRIER = asyncio.Barrier(2)
    wf = make_workflow(
        [{"name": "a", "tools": ["rendezvous"], "script": [
            {"tool_calls": [{"name": "rendezvous", "arguments": {"name": "x"}},
                            {"name": "rendezvous", "arguments": {"name": "y"}}]},
            {"content": "both met"}]}],
        [{"agent": "a"}])
    run = await runtime.run(wf, "go")
    # Sequential execution would leave the first call waiting at the barrier until timeout.
    assert run.status == "completed"
    assert sorted(c[1]["name"] for c in toolbox.CALLS) == ["x", "y"]


async def test_observations_reach_the_model(store: JournalStore) -> None:
    wf = make_workflow(
        [{"name": "a", "tools": ["lookup", "explode"], "script": [
            {"tool_calls": [{"name": "lookup", "arguments": {"order_id": "Z"}},
                            {"name": "explode", "arguments": {"reason": "disk"}},
                            {"name": "nonesuch", "arguments": {}},
                            {"name": "lookup", "arguments": "{not json"},
                            {"name": "lookup", "arguments": {"order": "Z"}}]},
            {"content": "done"}]}],
        [{"agent": "a"}])
    run, recorder = await run_recorded(store, wf, "go")
    assert run.status == "completed"
    tool_messages = [m for m in recorder.requests[1].messages if m.role == "tool"]
    texts = [m.content or "" for m in tool_messages]
    assert '"total": 35.0' in texts[0]
    assert texts[1].startswith("error: RuntimeError: boom: disk")
    assert "unknown tool 'nonesuch'" in texts[2]
    assert "not valid JSON" in texts[3]
    assert "invalid arguments for lookup" in texts[4] and "order_id" in texts[4]
    assert [m.tool_call_id for m in tool_messages] == [f"call_0_{i}" for i in range(5)]
    events = await store.events(run.id)
    failed = [e for e in events if e.type == EventType.TOOL_FAILED]
    assert sorted(e.data["tool"] for e in failed) == ["explode", "lookup"]


async def test_parallel_steps_then_sequential(runtime: Runtime, store: JournalStore) -> None:
    wf = make_workflow(
        [{"name": "logs", "script": [{"content": "logs say X"}]},
         {"name": "metrics", "script": [{"content": "metrics say Y"}]},
         {"name": "lead", "script": [{"content": "summary"}]}],
        [{"parallel": [{"agent": "logs"}, {"agent": "metrics"}]},
         {"agent": "lead", "input": "Findings: {input}"}])
    run = await runtime.run(wf, "incident")
    assert run.status == "completed"
    events = await store.events(run.id)
    lead = next(e for e in events
                if e.type == EventType.AGENT_INVOKED and e.data["agent"] == "lead")
    assert lead.data["task"] == 'Findings: {"logs": "logs say X", "metrics": "metrics say Y"}'
    keys = {e.step_key for e in events if e.type == EventType.AGENT_INVOKED}
    assert keys == {"s0.0/logs", "s0.1/metrics", "s1/lead"}


async def test_supervisor_assigns_checks_and_reassigns(runtime: Runtime,
                                                       store: JournalStore) -> None:
    wf = make_workflow(
        [{"name": "boss", "script": [
            {"content": "plan", "tool_calls": [
                {"name": "assign_task", "arguments": {"worker": "w1", "task": "draft"}}]},
            {"content": "not good enough", "tool_calls": [
                {"name": "assign_task", "arguments": {"worker": "w1", "task": "again"}}]},
            {"content": "final"}]},
         {"name": "w1", "script": [{"content": "v1"}, {"content": "v2"}]}],
        [{"supervisor": "boss", "workers": ["w1"]}])
    run = await runtime.run(wf, "write it")
    assert run.status == "completed"
    events = await store.events(run.id)
    assigns = [e.data for e in events if e.type == EventType.HANDOFF]
    assert [(a["to"], a["task"], a["mode"]) for a in assigns] == [
        ("w1", "draft", "assign"), ("w1", "again", "assign")]
    outputs = [e.data["output"] for e in events if e.type == EventType.AGENT_COMPLETED]
    assert outputs == ["v1", "v2", "final"]


async def test_handoff_continues_the_conversation(store: JournalStore) -> None:
    wf = make_workflow(
        [{"name": "front", "handoffs": ["billing"], "script": [
            {"tool_calls": [{"name": "transfer_to_billing", "arguments": {"reason": "invoice"}}]}]},
         {"name": "billing", "tools": ["lookup"], "script": [
             {"tool_calls": [{"name": "lookup", "arguments": {"order_id": "B7"}}]},
             {"content": "B7 is 35"}]}],
        [{"agent": "front"}])
    run, recorder = await run_recorded(store, wf, "my invoice?")
    assert run.status == "completed"
    billing_first = recorder.requests[1]
    assert billing_first.agent == "billing"
    assert [m.role for m in billing_first.messages] == ["user", "assistant", "tool"]
    assert billing_first.messages[0].content == "my invoice?"
    events = await store.events(run.id)
    handoff = next(e for e in events if e.type == EventType.HANDOFF)
    assert handoff.data == {"from": "front", "to": "billing", "mode": "handoff",
                            "reason": "invoice"}
    assert events[-1].data["output"] == "B7 is 35"


async def test_agent_as_tool(runtime: Runtime, store: JournalStore) -> None:
    wf = make_workflow(
        [{"name": "main", "tools": ["helper"], "script": [
            {"tool_calls": [{"name": "helper", "arguments": {"task": "sum 2+2"}}]},
            {"content": "helper says 4"}]},
         {"name": "helper", "script": [{"content": "4"}]}],
        [{"agent": "main"}])
    run = await runtime.run(wf, "go")
    assert run.status == "completed"
    events = await store.events(run.id)
    helper = next(e for e in events if e.type == EventType.AGENT_INVOKED
                  and e.data["agent"] == "helper")
    assert helper.step_key == "s0/main/m1/t0/helper"
    assert helper.data["task"] == "sum 2+2"


def _looping_agent(name: str = "looper", timeout: float | None = None) -> dict[str, object]:
    same = {"tool_calls": [{"name": "lookup", "arguments": {"order_id": "A1"}}]}
    agent: dict[str, object] = {"name": name, "tools": ["lookup"], "loop_limit": 3,
                                "script": [same, same, same, {"content": f"{name} gave up"}]}
    if timeout is not None:
        agent["escalation_timeout_s"] = timeout
    return agent


async def test_loop_escalates_and_approval_lets_it_go_on(store: JournalStore) -> None:
    wf = make_workflow([_looping_agent()], [{"agent": "looper"}])
    rt = Runtime(store)
    run = await rt.run(wf, "go")
    assert run.status == "waiting"
    [wait] = await store.waits(run_id=run.id)
    assert wait.kind == "escalation" and wait.data["reason"] == "the same call repeated"
    assert wait.data["tool"] == "lookup" and wait.data["times"] == 3
    assert len(toolbox.CALLS) == 2  # the third identical call was stopped before it ran
    await rt.aclose()
    # A different runtime (another process, days later) decides and resumes.
    rt2 = Runtime(store)
    await rt2.decide(wait.id, approve=True, actor="user:ana", reason="fine")
    run = await rt2.execute(run.id)
    await rt2.aclose()
    assert run.status == "completed"
    assert len(toolbox.CALLS) == 3
    events = await store.events(run.id)
    granted = next(e for e in events if e.type == EventType.APPROVAL_GRANTED)
    assert granted.actor == "user:ana" and granted.data["reason"] == "fine"


async def test_denied_escalation_fails_the_run(runtime: Runtime, store: JournalStore) -> None:
    wf = make_workflow([_looping_agent()], [{"agent": "looper"}])
    run = await runtime.run(wf, "go")
    [wait] = await store.waits(run_id=run.id)
    await runtime.decide(wait.id, approve=False, actor="user:bo", reason="stop it")
    run = await runtime.execute(run.id)
    assert run.status == "failed"
    events = await store.events(run.id)
    assert "stop it" in events[-1].data["error"]


async def test_escalation_expires_as_a_deny(runtime: Runtime, store: JournalStore) -> None:
    wf = make_workflow([_looping_agent(timeout=3600)], [{"agent": "looper"}])
    run = await runtime.run(wf, "go")
    [wait] = await store.waits(run_id=run.id)
    assert wait.deadline is not None and wait.deadline > time.time()
    assert await runtime.expire_due_waits() == []  # not due yet
    expired = await runtime.expire_due_waits(now=wait.deadline + 1)
    assert [w.id for w in expired] == [wait.id]
    [run] = await runtime.resume_all()
    assert run.status == "failed"
    assert EventType.APPROVAL_EXPIRED in types(await store.events(run.id))


async def test_turn_limit_escalates(runtime: Runtime, store: JournalStore) -> None:
    call = {"tool_calls": [{"name": "lookup", "arguments": {"order_id": "A1"}}]}
    calls = [{"tool_calls": [{"name": "lookup", "arguments": {"order_id": f"A{i}"}}]}
             for i in range(3)]
    wf = make_workflow([{"name": "a", "tools": ["lookup"], "max_turns": 2,
                         "script": [*calls, call, {"content": "done"}]}], [{"agent": "a"}])
    run = await runtime.run(wf, "go")
    assert run.status == "waiting"
    [wait] = await store.waits(run_id=run.id)
    assert wait.data["reason"] == "turn limit reached" and wait.data["turns"] == 2


async def test_two_parallel_approvals_are_both_kept(store: JournalStore) -> None:
    wf = make_workflow([_looping_agent("left"), _looping_agent("right")],
                       [{"parallel": [{"agent": "left"}, {"agent": "right"}]}])
    rt = Runtime(store)
    run = await rt.run(wf, "go")
    await rt.aclose()
    assert run.status == "waiting"
    waits = await store.waits(run_id=run.id)
    assert sorted(w.data["agent"] for w in waits) == ["left", "right"]
    left = next(w for w in waits if w.data["agent"] == "left")
    right = next(w for w in waits if w.data["agent"] == "right")
    rt2 = Runtime(store)
    await rt2.decide(left.id, approve=True, actor="user:ana")
    run = await rt2.execute(run.id)
    await rt2.aclose()
    assert run.status == "waiting"  # still waiting for the right branch
    [still] = await store.waits(run_id=run.id)
    assert still.id == right.id
    rt3 = Runtime(store)
    await rt3.decide(right.id, approve=True, actor="user:bo")
    run = await rt3.execute(run.id)
    await rt3.aclose()
    assert run.status == "completed"
    events = await store.events(run.id)
    assert events[-1].data["output"] == {"left": "left gave up", "right": "right gave up"}
    assert types(events).count(EventType.APPROVAL_GRANTED) == 2
    assert len(toolbox.CALLS) == 6  # 2 calls per branch before the loop check, 1 after each
    assert (await verify(store)).ok


async def test_model_error_fails_the_run_with_a_clear_message(runtime: Runtime,
                                                               store: JournalStore) -> None:
    wf = make_workflow([{"name": "a", "script": [{"error": "rate limited upstream"}]}],
                       [{"agent": "a"}])
    run = await runtime.run(wf, "go")
    assert run.status == "failed"
    events = await store.events(run.id)
    assert events[-2].type == EventType.MODEL_FAILED
    assert "rate limited upstream" in events[-1].data["error"]
    assert "s0/a/m1" in events[-1].data["error"]


async def test_script_exhausted_is_reported(runtime: Runtime, store: JournalStore) -> None:
    wf = make_workflow([{"name": "a", "tools": ["lookup"], "script": [
        {"tool_calls": [{"name": "lookup", "arguments": {"order_id": "A1"}}]}]}],
        [{"agent": "a"}])
    run = await runtime.run(wf, "go")
    assert run.status == "failed"
    error = (await store.events(run.id))[-1].data["error"]
    assert "has 1 replies" in error and "reply 2" in error


async def test_runs_are_pinned_to_their_workflow_version(tmp_path: Path,
                                                         store: JournalStore) -> None:
    folder = tmp_path / "flow"
    folder.mkdir()
    (folder / "tools.py").write_text("def ping() -> str:\n    return 'pong'\n")
    path = folder / "wf.yaml"
    path.write_text(
        "name: pinned\ntools:\n  - {name: ping, python: 'tools:ping', effect: read}\n"
        "agents:\n  - name: a\n    tools: [ping]\n    loop_limit: 2\n    script:\n"
        "      - tool_calls: [{name: ping, arguments: {}}]\n"
        "      - tool_calls: [{name: ping, arguments: {}}]\n"
        "      - content: version one\nsteps:\n  - agent: a\n")
    rt = Runtime(store)
    run = await rt.run(load_workflow(path), "go")
    await rt.aclose()
    assert run.status == "waiting"
    path.write_text(path.read_text().replace("version one", "version two"))
    rt2 = Runtime(store)  # knows nothing of the first version but the journal
    [wait] = await store.waits(run_id=run.id)
    await rt2.decide(wait.id, approve=True, actor="user:ana")
    run = await rt2.execute(run.id)
    await rt2.aclose()
    assert run.status == "completed"
    assert (await store.events(run.id))[-1].data["output"] == "version one"


async def test_cancel_a_waiting_run_closes_its_waits(runtime: Runtime,
                                                     store: JournalStore) -> None:
    wf = make_workflow([_looping_agent()], [{"agent": "looper"}])
    run = await runtime.run(wf, "go")
    run = await runtime.cancel(run.id, actor="user:ana", reason="not needed")
    assert run.status == "cancelled"
    assert await store.waits(run_id=run.id) == []
    assert (await runtime.execute(run.id)).status == "cancelled"


async def test_cancel_while_a_call_runs_records_the_call_then_stops(store: JournalStore) -> None:
    wf = make_workflow([{"name": "a", "tools": ["blocking_write", "lookup"], "script": [
        {"tool_calls": [{"name": "blocking_write", "arguments": {"item": "x"}}]},
        {"tool_calls": [{"name": "lookup", "arguments": {"order_id": "A1"}}]},
        {"content": "done"}]}], [{"agent": "a"}])
    rt = Runtime(store)
    run = await rt.start(wf, "go")
    task = asyncio.create_task(rt.execute(run.id))
    await asyncio.to_thread(toolbox.ENTERED.wait, 10)
    other = Runtime(store)
    await other.cancel(run.id, actor="user:ana", reason="changed my mind")
    toolbox.GATE.set()
    final = await task
    await rt.aclose()
    await other.aclose()
    assert final.status == "cancelled"
    events = await store.events(run.id)
    assert EventType.TOOL_COMPLETED in types(events)  # the call under way is not lost
    assert [c[0] for c in toolbox.CALLS] == ["blocking_write"]  # and nothing new started
    after = types(events)[types(events).index(EventType.RUN_CANCELLED):]
    assert EventType.MODEL_REQUESTED not in after  # not even the next model step


async def test_a_run_cancelled_before_it_is_driven_never_starts(runtime: Runtime,
                                                                 store: JournalStore) -> None:
    """Cancelled while it waited to be driven (queued for a place, or just created): driving
    it stops at once, and it stays cancelled."""
    wf = make_workflow([{"name": "a", "tools": ["lookup"], "script": [
        {"tool_calls": [{"name": "lookup", "arguments": {"order_id": "A1"}}]},
        {"content": "done"}]}], [{"agent": "a"}])
    run = await runtime.start(wf, "go")
    await runtime.cancel(run.id, actor="user:ana", reason="not needed")
    assert (await runtime.execute(run.id)).status == "cancelled"
    assert types(await store.events(run.id)) == [EventType.RUN_CREATED, EventType.RUN_CANCELLED]
    assert toolbox.CALLS == []
    # queued behind a run that holds the only place, and cancelled while it waits
    one = Runtime(store, max_active=1)
    holder = make_workflow([{"name": "h", "tools": ["blocking_write"], "script": [
        {"tool_calls": [{"name": "blocking_write", "arguments": {"item": "x"}}]},
        {"content": "done"}]}], [{"agent": "h"}])
    holding = asyncio.create_task(one.run(holder, "hold"))
    await asyncio.to_thread(toolbox.ENTERED.wait, 10)
    queued = asyncio.create_task(one.run(wf, "queued"))
    for _ in range(500):
        if one.admission.waiting:
            break
        await asyncio.sleep(0.01)
    (waiting,) = one.admission.waiting
    await runtime.cancel(waiting, actor="user:ana", reason="not needed")
    toolbox.GATE.set()
    assert (await holding).status == "completed"
    assert (await queued).status == "cancelled"
    assert types(await store.events(waiting)) == [EventType.RUN_CREATED,
                                                  EventType.RUN_CANCELLED]
    assert [c[0] for c in toolbox.CALLS] == ["blocking_write"]
    await one.aclose()


async def test_many_runs_at_once(runtime: Runtime, store: JournalStore) -> None:
    wf = make_workflow([{"name": "a", "tools": ["lookup"], "script": [
        {"latency_ms": 20, "tool_calls": [{"name": "lookup", "arguments": {"order_id": "A"}}]},
        {"latency_ms": 20, "content": "ok"}]}], [{"agent": "a"}])
    runs = await asyncio.gather(*(runtime.run(wf, f"n{i}") for i in range(200)))
    assert {r.status for r in runs} == {"completed"}
    report = await verify(store)
    assert report.ok and report.runs == 200


async def test_invalid_arguments_are_refused_before_the_call_starts(runtime: Runtime,
                                                                    store: JournalStore) -> None:
    wf = make_workflow([{"name": "a", "tools": ["blocking_write"], "script": [
        {"tool_calls": [{"name": "blocking_write", "arguments": {"itemz": "x"}}]},
        {"content": "gave up"}]}], [{"agent": "a"}])
    run = await runtime.run(wf, "go")
    assert run.status == "completed"
    events = await store.events(run.id)
    # No start was journaled, so no crash here could ever need a person to reconcile it.
    assert EventType.TOOL_STARTED not in types(events)
    failed = next(e for e in events if e.type == EventType.TOOL_FAILED)
    assert "invalid arguments for blocking_write" in failed.data["error"]
    assert toolbox.CALLS == []
