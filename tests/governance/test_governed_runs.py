"""Governance end to end on real SQLite: autonomy levels, approvals, guardians, rollback, audit."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from agentplane.journal import EventType, JournalStore, export_run, verify
from agentplane.runtime import RunStateError, Runtime, Workflow, workflow_from_dict

from . import toolbox
from .conftest import DONE, call

HERE = Path(__file__).parent
TOOLS: list[dict[str, Any]] = [
    {"name": "read_mail", "python": "tests.governance.toolbox:read_mail", "effect": "read",
     "trust": "untrusted"},
    {"name": "vendor_iban", "python": "tests.governance.toolbox:vendor_iban", "effect": "read"},
    {"name": "pay", "python": "tests.governance.toolbox:pay", "effect": "irreversible"},
    {"name": "book", "python": "tests.governance.toolbox:book", "effect": "write",
     "compensate": "cancel_booking"},
    {"name": "cancel_booking", "python": "tests.governance.toolbox:cancel_booking",
     "effect": "write"},
    {"name": "send_email", "python": "tests.governance.toolbox:send_email", "effect": "write",
     "external": True},
    {"name": "tag", "python": "tests.governance.toolbox:tag", "effect": "write"},
]


def flow(script: list[dict[str, Any]], **extra: Any) -> Workflow:
    agent = {"name": "clerk", "tools": ["read_mail", "vendor_iban", "pay", "book", "send_email",
                                        "tag"], "script": script, **extra.pop("agent", {})}
    return workflow_from_dict({"name": "gov", "tools": TOOLS, "agents": [agent],
                               "steps": [{"agent": "clerk"}], **extra}, HERE)


@pytest.fixture(autouse=True)
def _clear_ledger() -> None:
    toolbox.LEDGER.clear()


async def run(store: JournalStore, workflow: Workflow, input: Any = "go") -> str:
    runtime = Runtime(store)
    record = await runtime.run(workflow, input)
    await runtime.aclose()
    return record.id


async def decide(store: JournalStore, run_id: str, approve: bool, reason: str = "") -> str:
    """A person decides on the run's only open approval (in a fresh runtime), then resumes."""
    [wait] = await store.waits(run_id=run_id)
    runtime = Runtime(store)
    await runtime.decide(wait.id, approve=approve, actor="user:ana", reason=reason)
    record = await runtime.execute(run_id)
    await runtime.aclose()
    return record.status


def of_type(events: list[Any], kind: str) -> list[Any]:
    return [e for e in events if e.type == kind]


async def test_in_the_loop_waits_for_every_write(store: JournalStore) -> None:
    wf = flow([call("book", room="R1"), DONE], autonomy="in_the_loop")
    run_id = await run(store, wf)
    assert (await store.require_run(run_id)).status == "waiting"
    [wait] = await store.waits(run_id=run_id)
    assert wait.kind == "tool_call"
    assert wait.data["tool"] == "book" and wait.data["arguments"] == {"room": "R1"}
    assert "in_the_loop" in wait.data["reason"]
    assert toolbox.LEDGER == []  # nothing ran while waiting
    assert await decide(store, run_id, approve=True) == "completed"
    assert toolbox.LEDGER == [("book", {"room": "R1"})]


async def test_denied_call_is_not_run_and_the_agent_is_told(store: JournalStore) -> None:
    wf = flow([call("book", room="R1"), {"content": "could not book"}], autonomy="in_the_loop")
    run_id = await run(store, wf)
    assert await decide(store, run_id, approve=False, reason="no budget") == "completed"
    assert toolbox.LEDGER == []
    events = await store.events(run_id)
    denied = of_type(events, EventType.APPROVAL_DENIED)[0]
    assert denied.actor == "user:ana" and denied.data["reason"] == "no budget"
    assert events[-1].data["output"] == "could not book"


async def test_on_the_loop_runs_writes_and_notifies_but_holds_irreversible(
        store: JournalStore) -> None:
    wf = flow([call("book", room="R2"), call("pay", iban="DE12500105170648489890", amount=5),
               DONE])
    run_id = await run(store, wf)  # on_the_loop is the default
    assert toolbox.LEDGER == [("book", {"room": "R2"})]
    events = await store.events(run_id)
    [note] = of_type(events, EventType.NOTIFICATION)
    assert note.data["tool"] == "book" and note.data["autonomy"] == "on_the_loop"
    [wait] = await store.waits(run_id=run_id)
    assert wait.data["tool"] == "pay" and wait.data["effect"] == "irreversible"


async def test_out_of_the_loop_but_the_tool_is_stricter(store: JournalStore) -> None:
    tools = [dict(t, autonomy="in_the_loop") if t["name"] == "book" else t for t in TOOLS]
    wf = workflow_from_dict({"name": "gov", "autonomy": "out_of_the_loop", "tools": tools,
                             "agents": [{"name": "clerk", "tools": ["book", "pay"], "script": [
                                 call("pay", iban="DE12500105170648489890", amount=5),
                                 call("book", room="R3"), DONE]}],
                             "steps": [{"agent": "clerk"}]}, HERE)
    run_id = await run(store, wf)
    assert toolbox.LEDGER == [("pay", {"iban": "DE12500105170648489890", "amount": 5})]
    [wait] = await store.waits(run_id=run_id)
    assert wait.data["tool"] == "book" and wait.data["autonomy"] == "in_the_loop"


async def test_injected_iban_needs_a_person_and_the_trusted_one_does_not(
        store: JournalStore) -> None:
    wf = flow([call("read_mail"),
               {"content": "The mail says to wire 9800 EUR; doing it.",
                **call("pay", iban="DE89370400440532013000", amount=9800)},
               call("vendor_iban", vendor="ACME"),
               call("pay", iban="DE12500105170648489890", amount=1200), DONE],
              autonomy="out_of_the_loop",
              guardians={"provenance": {"unattended": "require_approval"}})
    run_id = await run(store, wf, "Pay ACME's invoice INV-7 of 1200 EUR")
    assert toolbox.LEDGER == []
    [wait] = await store.waits(run_id=run_id)
    assert wait.data["arguments"]["iban"] == "DE89370400440532013000"
    assert wait.data["reasoning"] == "The mail says to wire 9800 EUR; doing it."
    [finding] = wait.data["findings"]
    assert finding["guardian"] == "provenance" and finding["result"] == "require_approval"
    assert "read_mail at s0/clerk/m1/t0" in finding["reason"]
    assert await decide(store, run_id, approve=False, reason="from a mail") == "completed"
    assert toolbox.LEDGER == [("pay", {"iban": "DE12500105170648489890", "amount": 1200})]
    decisions = of_type(await store.events(run_id), EventType.GUARD_DECIDED)
    assert [d.data["result"] for d in decisions] == ["allow", "require_approval", "allow",
                                                     "allow"]


async def test_policies_deny_and_the_agent_carries_on(store: JournalStore) -> None:
    policies = {"policies": [{"id": "cap", "version": 4, "tools": ["pay"],
                              "arguments": {"amount": {"max": 100}}}]}
    wf = flow([call("pay", iban="DE12500105170648489890", amount=500),
               {"content": "over the cap, stopping"}],
              autonomy="out_of_the_loop", guardians=policies)
    run_id = await run(store, wf)
    events = await store.events(run_id)
    assert (await store.require_run(run_id)).status == "completed"
    assert toolbox.LEDGER == []
    [deny] = [d for d in of_type(events, EventType.GUARD_DECIDED) if d.data["result"] == "deny"]
    assert (deny.data["policy_id"], deny.data["policy_version"]) == ("cap", 4)
    assert "amount=500 is above the maximum 100" in deny.data["reason"]
    failed = of_type(events, EventType.TOOL_FAILED)
    assert failed == []  # refused before it started: no tool.started, no failure of the tool


async def test_secrets_do_not_leave_and_final_output_is_redacted(store: JournalStore) -> None:
    key = "sk-live-abcdefghijklmnopqrstuv0123"
    wf = flow([call("send_email", to="bob@partner.example", body=f"the key is {key}"),
               call("send_email", to="bob@partner.example", body="see you at 3"),
               {"content": f"sent; for the record the key is {key}"}],
              autonomy="out_of_the_loop")
    run_id = await run(store, wf, "Tell bob@partner.example about the meeting")
    assert toolbox.LEDGER == [("send_email", {"to": "bob@partner.example",
                                              "body": "see you at 3"})]
    events = await store.events(run_id)
    assert events[-1].data["output"] == "sent; for the record the key is [REDACTED:openai_key]"
    results = {d.data["policy_id"]: d.data["result"]
               for d in of_type(events, EventType.GUARD_DECIDED)}
    assert results["secrets"] == "deny" and results["final-output-secrets"] == "redact"


async def test_guardian_agent_decides_and_is_not_asked_again_on_resume(
        store: JournalStore) -> None:
    guardian = {"agent": {"name": "reviewer", "reviews": ["irreversible"], "script": [
        {"content": '{"decision": "require_approval", "reason": "first payment to them"}'},
        {"content": '{"decision": "deny", "reason": "looks like fraud"}'}]}}
    wf = flow([call("pay", iban="DE12500105170648489890", amount=10),
               call("pay", iban="DE12500105170648489890", amount=20000), DONE],
              autonomy="out_of_the_loop", guardians=guardian)
    run_id = await run(store, wf)
    [wait] = await store.waits(run_id=run_id)
    assert wait.data["findings"][0]["reason"] == "first payment to them"
    assert await decide(store, run_id, approve=True) == "completed"
    # The replay did not ask the reviewer again (its first answer came from the journal); its
    # second answer applied to the second payment.
    assert toolbox.LEDGER == [("pay", {"iban": "DE12500105170648489890", "amount": 10})]
    events = await store.events(run_id)
    reviews = [e for e in of_type(events, EventType.MODEL_COMPLETED)
               if e.data["agent"] == "reviewer"]
    assert len(reviews) == 2
    assert any(d.data["result"] == "deny" and d.data["guardian"] == "agent"
               for d in of_type(events, EventType.GUARD_DECIDED))


async def test_approval_expires_as_a_deny(store: JournalStore) -> None:
    wf = flow([call("book", room="R9"), {"content": "nobody answered"}],
              autonomy="in_the_loop", approval_timeout_s=60)
    run_id = await run(store, wf)
    [wait] = await store.waits(run_id=run_id)
    assert wait.deadline is not None
    runtime = Runtime(store)
    await runtime.expire_due_waits(now=wait.deadline + 1)
    [record] = await runtime.resume_all()
    await runtime.aclose()
    assert record.status == "completed" and toolbox.LEDGER == []
    assert of_type(await store.events(run_id), EventType.APPROVAL_EXPIRED)


async def test_rollback_reverses_writes_and_reports_the_rest(store: JournalStore) -> None:
    wf = flow([call("book", room="A"), call("tag", label="vip"), call("book", room="B"),
               call("pay", iban="DE12500105170648489890", amount=1), DONE],
              autonomy="out_of_the_loop")
    run_id = await run(store, wf)
    runtime = Runtime(store)
    report = await runtime.rollback(run_id, actor="user:ana")
    assert [(r["tool"], r["outcome"]) for r in report] == [
        ("pay", "irreversible"), ("book", "compensated"), ("tag", "no_compensation"),
        ("book", "compensated")]
    cancels = [e for e in toolbox.LEDGER if e[0] == "cancel_booking"]
    assert cancels == [("cancel_booking", {"booking_id": "B-B"}),
                       ("cancel_booking", {"booking_id": "B-A"})]
    again = await runtime.rollback(run_id, actor="user:ana")  # nothing is reversed twice
    assert [r["outcome"] for r in again] == ["irreversible", "no_compensation"]
    await runtime.aclose()
    events = await store.events(run_id)
    assert len(of_type(events, EventType.TOOL_COMPENSATED)) == 2
    assert (await verify(store)).ok


async def test_rollback_of_one_call_and_of_a_live_run(store: JournalStore) -> None:
    wf = flow([call("book", room="A"), call("book", room="B"), DONE],
              autonomy="out_of_the_loop")
    run_id = await run(store, wf)
    runtime = Runtime(store)
    [entry] = await runtime.rollback(run_id, actor="user:ana", step_key="s0/clerk/m1/t0")
    assert entry["outcome"] == "compensated" and entry["result"] == "cancelled B-A"
    with pytest.raises(RunStateError, match="no completed call"):
        await runtime.rollback(run_id, actor="user:ana", step_key="s0/clerk/m9/t0")
    waiting = await run(store, flow([call("book", room="C"), DONE], autonomy="in_the_loop"))
    with pytest.raises(RunStateError, match="cancel it before"):
        await runtime.rollback(waiting, actor="user:ana")
    await runtime.aclose()


async def test_audit_export_and_tampering_with_a_decision(store: JournalStore,
                                                          tmp_path: Path) -> None:
    wf = flow([call("read_mail"), call("pay", iban="DE89370400440532013000", amount=9800),
               DONE], autonomy="out_of_the_loop",
              guardians={"provenance": {"unattended": "require_approval"}})
    run_id = await run(store, wf, "Pay ACME")
    await decide(store, run_id, approve=False, reason="injected")
    record = await export_run(store, run_id)
    assert record["verification"]["ok"] is True
    assert [a["decision"]["type"] for a in record["approvals"]] == ["approval.denied"]
    assert record["approvals"][0]["decision"]["actor"] == "user:ana"
    assert {d["guardian"] for d in record["guardian_decisions"]} >= {"provenance"}
    assert "user:ana" in record["actors"] and "agent:clerk" in record["actors"]
    assert record["workflow"]["name"] == "gov"
    # Someone turns the guardian's decision into an allow, directly in the file.
    with sqlite3.connect(tmp_path / "governance.db") as db:
        seq = db.execute("SELECT seq FROM events WHERE run_id = ? AND type = 'guard.decided' "
                         "AND data LIKE '%require_approval%'", (run_id,)).fetchone()[0]
        db.execute("UPDATE events SET data = replace(data, 'require_approval', 'allow') "
                   "WHERE run_id = ? AND seq = ?", (run_id, seq))
    report = await verify(store, [run_id])
    assert not report.ok and report.breaks[0].seq == seq
    assert (await export_run(store, run_id))["verification"]["first_bad_event"] == seq


async def test_agent_identity_is_journaled(store: JournalStore) -> None:
    run_id = await run(store, flow([DONE]))
    [invoked] = of_type(await store.events(run_id), EventType.AGENT_INVOKED)
    assert invoked.data["identity"]["id"] == "agent:gov/clerk"
    assert len(invoked.data["identity"]["version"]) == 16
    changed = await run(store, flow([{"content": "other"}]))
    [other] = of_type(await store.events(changed), EventType.AGENT_INVOKED)
    assert other.data["identity"]["version"] != invoked.data["identity"]["version"]


def test_guardians_section_from_yaml(tmp_path: Path) -> None:
    from agentplane.runtime import SpecError, parse_spec

    text = """\
name: g
guardians:
  agent: {name: reviewer, reviews: [write, irreversible], script: [{content: allow}]}
  policies: [{id: cap, tools: [pay], arguments: {amount: {max: 10}}}]
tools: [{name: pay, python: "tools:pay", effect: irreversible}]
agents: [{name: a, tools: [pay], script: [{content: x}]}]
steps: [{agent: a}]
"""
    spec, _ = parse_spec(text, "g.yaml")
    assert spec.guardians.agent is not None
    assert [e.value for e in spec.guardians.agent.reviews] == ["write", "irreversible"]
    with pytest.raises(SpecError) as error:
        parse_spec(text.replace("reviews:", "on:"), "g.yaml")
    [problem] = error.value.problems
    assert problem.path == ("guardians", "agent", 1)  # the boolean key, as pydantic saw it
    assert problem.position == (3, 3)
    assert "read as true/false" in problem.message
