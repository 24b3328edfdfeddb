"""Verification of results: answers checked (schema, grounding, rules, judge) before they go on,
repaired, reassigned or escalated when they fail, and never re-checked on replay."""

from __future__ import annotations

from typing import Any

import pytest

from agentplane.journal import Event, EventType, JournalStore
from agentplane.models.function import FunctionModel, ModelCall, Reply, call
from agentplane.runtime import Runtime, SpecError
from agentplane.runtime.verify import ESCALATION_REASON

from .conftest import make_workflow, run_recorded

SCHEMA = {"type": "object", "required": ["total"], "properties": {"total": {"type": "number"}}}


def checked(events: list[Event]) -> list[Event]:
    return [e for e in events if e.type == EventType.VERIFY_CHECKED]


def _clerk(*replies: dict[str, Any]) -> dict[str, Any]:
    return {"name": "clerk", "tools": ["lookup"], "script": list(replies)}


LOOKUP = {"tool_calls": [{"name": "lookup", "arguments": {"order_id": "A1"}}]}


async def test_schema_failure_is_repaired_then_passes(store: JournalStore) -> None:
    wf = make_workflow([_clerk({"content": "The total is 35."}, {"content": '{"amount": 35}'},
                               {"content": '```json\n{"total": 35}\n```'})],
                       [{"agent": "clerk", "verify": {"schema": SCHEMA, "max_repairs": 2}}])
    run, recorder = await run_recorded(store, wf, "total of A1?")
    assert run.status == "completed"
    events = await store.events(run.id)
    assert events[-1].data["output"] == '```json\n{"total": 35}\n```'
    first, second, third = checked(events)
    assert first.data["findings"] == [
        {"check": "schema", "message": "the answer is not JSON; answer with one JSON value only"}]
    assert first.data["action"] == "repair" and not first.data["passed"]
    assert first.data["reason"] == "repair: schema: the answer is not JSON; answer with one " \
        "JSON value only"  # what `agentplane runs show` prints for the check
    assert second.data["findings"][0]["message"] == "at $: 'total' is a required property"
    assert third.data["passed"] and third.data["action"] == "pass"
    # The agent was told the schema, and each repair sent the findings back in its conversation.
    requests = recorder.requests
    assert '"required": ["total"]' in (requests[0].messages[0].content or "")
    repair = requests[1].messages[-1]
    assert repair.role == "user" and "the answer is not JSON" in (repair.content or "")
    assert requests[1].messages[-2].content == "The total is 35."
    assert "'total' is a required property" in (requests[2].messages[-1].content or "")


def _supervised(worker_script: list[dict[str, Any]], verify: dict[str, Any],
                workers: tuple[str, ...] = ("analyst",),
                extra: list[dict[str, Any]] | None = None) -> Any:
    lead = {"name": "lead", "script": [
        {"tool_calls": [{"name": "assign_task",
                         "arguments": {"worker": workers[0], "task": "What is A1's total?"}}]},
        {"content": "Reported."}]}
    analyst = {"name": workers[0], "tools": ["lookup"], "script": worker_script}
    return make_workflow([lead, analyst, *(extra or [])],
                         [{"supervisor": "lead", "workers": list(workers), "verify": verify}])


async def test_supervisor_sees_only_a_grounded_answer(store: JournalStore) -> None:
    wf = _supervised([LOOKUP, {"content": "The total is 35 EUR."},
                      {"content": "The total is 35 EUR [tool:call_0_0]."}],
                     {"grounding": True})
    run, recorder = await run_recorded(store, wf, "go")
    assert run.status == "completed"
    events = await store.events(run.id)
    first, second = checked(events)
    assert [f["kind"] for f in first.data["findings"]] == ["uncited"]
    assert "35" in first.data["findings"][0]["message"]
    assert second.data["passed"] and second.data["sources"] == ["tool:call_0_0"]
    # The worker saw its tool result labelled with the citation, and was told to cite.
    analyst = [r for r in recorder.requests if r.agent == "analyst"]
    assert "Ground every claim" in (analyst[0].messages[0].content or "")
    tool_message = analyst[1].messages[-1]
    assert tool_message.role == "tool"
    assert (tool_message.content or "").startswith("[tool:call_0_0] {")
    # The supervisor got the grounded answer, never the uncited one.
    lead = [r for r in recorder.requests if r.agent == "lead"]
    assert lead[1].messages[-1].content == "The total is 35 EUR [tool:call_0_0]."
    assert not any(m.content == "The total is 35 EUR." for r in lead for m in r.messages)


async def test_a_misquoted_figure_is_caught(store: JournalStore) -> None:
    wf = _supervised([LOOKUP, {"content": "The total is 53 EUR [tool:call_0_0]."},
                      {"content": "Total: 35 [tool:call_0_0]; it is \"A1\" [tool:call_0_0]."}],
                     {"grounding": True})
    run, _ = await run_recorded(store, wf, "go")
    assert run.status == "completed"
    first, second = checked(await store.events(run.id))
    [finding] = first.data["findings"]
    assert finding["kind"] == "misquoted" and finding["message"].startswith("53 is not in")
    assert second.data["passed"]


async def test_rules_are_safe_expressions(store: JournalStore) -> None:
    wf = make_workflow([_clerk({"content": "A very long answer about the order total."},
                               {"content": "35"})],
                       [{"agent": "clerk", "verify": {
                           "rules": ["len(answer) < 10", "data == 35", "answer.isdigit()"]}}])
    run, _ = await run_recorded(store, wf, "go")
    assert run.status == "completed"
    first, second = checked(await store.events(run.id))
    assert [f["message"] for f in first.data["findings"]] == [
        "rule 'len(answer) < 10' does not hold", "rule 'data == 35' does not hold",
        "rule 'answer.isdigit()' does not hold"]
    assert second.data["passed"]


async def test_a_rule_cannot_reach_python(store: JournalStore) -> None:
    wf = make_workflow([_clerk({"content": "x"})], [{"agent": "clerk", "verify": {
        "rules": ["answer.__class__.__mro__"], "on_failure": "escalate"}}])
    run, _ = await run_recorded(store, wf, "go")
    assert run.status == "waiting"
    [finding] = checked(await store.events(run.id))[0].data["findings"]
    assert "could not be evaluated" in finding["message"]


def test_bad_schema_and_rule_are_refused_at_load() -> None:
    with pytest.raises(SpecError, match="not a valid JSON Schema"):
        make_workflow([_clerk()], [{"agent": "clerk", "verify": {"schema": {"type": 12}}}])
    with pytest.raises(SpecError, match="is not a valid expression"):
        make_workflow([_clerk()], [{"agent": "clerk", "verify": {"rules": ["len(answer) <"]}}])


def _judged_replies(verdicts: list[str]) -> tuple[FunctionModel, list[str]]:
    """A model whose agent answers and whose judge replies ``verdicts`` in order."""
    asked: list[str] = []

    def reply(c: ModelCall) -> str:
        if c.agent.endswith("-judge"):
            asked.append(c.messages[-1].content or "")
            return verdicts[len(asked) - 1]
        return "vague" if c.index == 0 else "The total is 35."
    return FunctionModel(reply), asked


async def test_judge_model_fails_then_passes_a_repaired_answer(store: JournalStore) -> None:
    model, asked = _judged_replies(['{"pass": false, "reason": "too vague"}',
                                    '{"pass": true, "reason": "answers it"}'])
    wf = make_workflow([{"name": "clerk", "model": "openai:small"}], [{"agent": "clerk", "verify": {
        "judge": {"model": "openai:judge", "rubric": "Does it give the total?"}}}])
    rt = Runtime(store, providers={"*": model})
    run = await rt.run(wf, "total of A1?")
    await rt.aclose()
    assert run.status == "completed"
    assert "Rubric: Does it give the total?" in asked[0] and "vague" in asked[0]
    clerk = [c for c in model.calls if c.agent == "clerk"]
    assert "- judge: too vague" in (clerk[1].messages[-1].content or "")
    events = await store.events(run.id)
    assert events[-1].data["output"] == "The total is 35."
    judge_calls = [e for e in events if e.type == EventType.MODEL_COMPLETED
                   and e.data["agent"] == "clerk-judge"]
    assert [e.step_key for e in judge_calls] == ["s0/clerk/verify0/judge",
                                                 "s0/clerk/verify1/judge"]
    assert all(e.usage for e in judge_calls)  # metered like any model call


async def test_escalation_opens_a_wait_a_person_answers(store: JournalStore) -> None:
    wf = make_workflow([_clerk({"content": "The total is 53 EUR."})],
                       [{"agent": "clerk", "verify": {"grounding": True,
                                                      "on_failure": "escalate"}}])
    rt = Runtime(store)
    run = await rt.run(wf, "go")
    assert run.status == "waiting"
    [wait] = await store.waits(run_id=run.id)
    assert wait.kind == "escalation" and wait.data["reason"] == ESCALATION_REASON
    assert wait.data["answer"] == "The total is 53 EUR."
    assert wait.data["findings"][0]["kind"] == "uncited"
    await rt.decide(wait.id, approve=True, actor="user:ana", reason="checked by hand")
    run = await rt.execute(run.id)
    await rt.aclose()
    assert run.status == "completed"
    assert (await store.events(run.id))[-1].data["output"] == "The total is 53 EUR."


async def test_denied_escalation_fails_the_run_after_repairs_run_out(
        store: JournalStore) -> None:
    wf = make_workflow([_clerk({"content": "53"}, {"content": "still 53"})],
                       [{"agent": "clerk", "verify": {"grounding": True, "max_repairs": 1}}])
    rt = Runtime(store)
    run = await rt.run(wf, "go")
    assert run.status == "waiting"
    assert [e.data["action"] for e in checked(await store.events(run.id))] == [
        "repair", "escalate"]
    [wait] = await store.waits(run_id=run.id)
    await rt.decide(wait.id, approve=False, actor="user:bo", reason="made up")
    run = await rt.execute(run.id)
    await rt.aclose()
    assert run.status == "failed"
    assert "failed verification" in (await store.events(run.id))[-1].data["error"]


async def test_reassign_gives_the_task_to_another_worker(store: JournalStore) -> None:
    checker = {"name": "checker", "tools": ["lookup"], "script": [
        LOOKUP, {"content": "A1 totals 35 [tool:call_0_0]."}]}
    wf = _supervised([{"content": "About 40."}], {"grounding": True, "on_failure": "reassign"},
                     workers=("analyst", "checker"), extra=[checker])
    run, recorder = await run_recorded(store, wf, "go")
    assert run.status == "completed"
    events = await store.events(run.id)
    first, second = checked(events)
    assert first.data["agent"] == "analyst" and first.data["action"] == "reassign:checker"
    assert second.data["agent"] == "checker" and second.data["passed"]
    handoff = next(e for e in events if e.type == EventType.HANDOFF
                   and e.data["mode"] == "reassign")
    assert (handoff.data["from"], handoff.data["to"]) == ("analyst", "checker")
    lead = [r for r in recorder.requests if r.agent == "lead"]
    assert "A1 totals 35 [tool:call_0_0]." in (lead[1].messages[-1].content or "")
    assert "reassigned to checker" in (lead[1].messages[-1].content or "")


async def test_replay_reuses_verdicts_and_never_asks_the_judge_again(
        store: JournalStore) -> None:
    looper = {"name": "looper", "tools": ["lookup"], "loop_limit": 2}

    def reply(c: ModelCall) -> str | Reply:
        if c.agent == "looper":  # repeats a call until the run escalates (a person must act)
            return "done" if c.index >= 2 else Reply(tool_calls=[call("lookup", order_id="A1")])
        if c.agent == "clerk-judge":
            return '{"pass": true, "reason": "fine"}'
        return "The total is 35."

    wf = make_workflow([{"name": "clerk", "model": "openai:m"}, {**looper, "model": "openai:m"}],
                       [{"agent": "clerk", "verify": {"judge": {"model": "openai:j",
                                                                "rubric": "ok?"}}},
                        {"agent": "looper"}])
    first = FunctionModel(reply)
    rt = Runtime(store, providers={"*": first})
    run = await rt.run(wf, "go")
    await rt.aclose()
    assert run.status == "waiting"
    assert [c.agent for c in first.calls][:2] == ["clerk", "clerk-judge"]
    # Another process picks the run up after a person's answer: it replays from the journal.
    again = FunctionModel(reply)
    rt2 = Runtime(store, providers={"*": again})
    [wait] = await store.waits(run_id=run.id)
    await rt2.decide(wait.id, approve=True, actor="user:ana")
    run = await rt2.execute(run.id)
    await rt2.aclose()
    assert run.status == "completed"
    assert {c.agent for c in again.calls} == {"looper"}  # neither the clerk nor its judge
    assert len(checked(await store.events(run.id))) == 1


def test_a_verify_section_is_pinned_as_written() -> None:
    from agentplane.runtime.spec import WorkflowSpec

    spec = make_workflow([_clerk({"content": "35"})], [{"agent": "clerk", "verify": {
        "schema": SCHEMA, "rules": ["len(answer) < 9"]}}]).spec
    dumped = spec.model_dump(mode="json")
    assert dumped["steps"][0]["verify"]["schema"] == SCHEMA
    assert WorkflowSpec.model_validate(dumped) == spec


async def test_when_every_worker_fails_a_person_decides(store: JournalStore) -> None:
    checker = {"name": "checker", "script": [{"content": "Roughly 40."}]}
    wf = _supervised([{"content": "About 40."}], {"grounding": True, "on_failure": "reassign"},
                     workers=("analyst", "checker"), extra=[checker])
    rt = Runtime(store)
    run = await rt.run(wf, "go")
    await rt.aclose()
    assert run.status == "waiting"
    assert [(e.data["agent"], e.data["action"]) for e in checked(await store.events(run.id))] \
        == [("analyst", "reassign:checker"), ("checker", "escalate")]
    [wait] = await store.waits(run_id=run.id)
    assert wait.data["agent"] == "checker" and wait.data["answer"] == "Roughly 40."


async def test_a_scripted_judge_replays_the_script_of_agent_name_judge(
        store: JournalStore) -> None:
    judge = {"name": "clerk-judge", "script": [{"content": '{"pass": false, "reason": "no"}'},
                                               {"content": '{"pass": true, "reason": "ok"}'}]}
    wf = make_workflow([_clerk({"content": "first"}, {"content": "second"}), judge],
                       [{"agent": "clerk", "verify": {"judge": {"model": "scripted",
                                                                "rubric": "good?"}}}])
    run, _ = await run_recorded(store, wf, "go")
    assert run.status == "completed"
    assert (await store.events(run.id))[-1].data["output"] == "second"
