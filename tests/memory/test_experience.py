"""Experiential memory: a run's journal summarised (task, outcome, cost, tools, refusals,
approvals, errors), written once, recalled for a similar task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentplane.journal import Event, EventType, NewEvent, RunRecord, open_store
from agentplane.memory import MemoryStore, summarise_run, summary_key

E = EventType


async def _journaled(url: str, run_id: str, input: Any, events: list[NewEvent]
                     ) -> tuple[RunRecord, list[Event]]:
    """A run written to a real journal, read back as the runtime would at run end."""
    store = open_store(url)
    try:
        await store.create_run(run_id=run_id, workflow="invoices", workflow_hash="h" * 64,
                               input=input, meta={}, tenant="acme",
                               events=[NewEvent(E.RUN_CREATED), NewEvent(E.RUN_STARTED)])
        await store.append(run_id, events)
        run = await store.get_run(run_id)
        assert run is not None
        return run, await store.events(run_id)
    finally:
        await store.close()


def _approved_invoice() -> list[NewEvent]:
    pay = "call.2"
    return [
        NewEvent(E.MODEL_COMPLETED, "agent:clerk", "model.1", {"agent": "clerk"},
                 usage={"input_tokens": 1200, "output_tokens": 300}),
        NewEvent(E.TOOL_STARTED, "agent:clerk", "call.1",
                 {"tool": "lookup_supplier", "arguments": {"supplier_id": "globex"}}),
        NewEvent(E.TOOL_COMPLETED, "agent:clerk", "call.1",
                 {"tool": "lookup_supplier", "result": {"iban": "DE01"}, "cost_usd": 0.002}),
        NewEvent(E.GUARD_DECIDED, "system", "call.9/guard.0",
                 {"guardian": "policy", "policy_id": "no-new-iban", "policy_version": 1,
                  "result": "deny", "reason": "IBAN came from an email", "tool": "set_iban"}),
        NewEvent(E.APPROVAL_REQUESTED, "agent:clerk", f"{pay}/approval",
                 {"wait_id": "w1", "kind": "tool_call", "tool": "pay_invoice",
                  "reason": "amount 12000 EUR is over the 10000 EUR limit"}),
        NewEvent(E.APPROVAL_GRANTED, "user:fin-lead", f"{pay}/approval",
                 {"wait_id": "w1", "reason": "contract checked"}),
        NewEvent(E.TOOL_STARTED, "agent:clerk", pay,
                 {"tool": "pay_invoice", "arguments": {"amount": 12000}}),
        NewEvent(E.TOOL_FAILED, "agent:clerk", pay,
                 {"tool": "pay_invoice", "error": "bank timeout"}),
        NewEvent(E.TOOL_COMPLETED, "agent:clerk", pay, {"tool": "pay_invoice", "result": "ok"}),
        NewEvent(E.MODEL_COMPLETED, "agent:clerk", "model.2", {"agent": "clerk"},
                 usage={"input_tokens": 800, "output_tokens": 100}),
        NewEvent(E.RUN_COMPLETED, data={"output": "Paid Globex invoice 4411 (12000 EUR)."}),
    ]


async def test_a_run_summary_says_what_happened(tmp_path: Path) -> None:
    run, events = await _journaled(
        f"sqlite:///{tmp_path / 'j.db'}", "r-1",
        {"task": "Pay Globex invoice 4411", "supplier_id": "globex"}, _approved_invoice())
    memory = summarise_run(run, events, subject_field="supplier_id")
    assert (memory.kind, memory.tenant, memory.subject, memory.trust) == (
        "experiential", "acme", "globex", "trusted")
    assert memory.source == "run:r-1"
    lines = memory.text.splitlines()
    assert lines[0].startswith('Task: {"supplier_id":"globex","task":"Pay Globex invoice 4411"}')
    assert lines[1] == "Outcome: completed — Paid Globex invoice 4411 (12000 EUR)."
    assert lines[2] == "Cost: 2400 tokens (2000 in, 400 out), $0.0020."
    assert lines[3] == "Tools: lookup_supplier, pay_invoice ×2 (1 failed)."
    assert lines[4] == "Refused: set_iban by policy — IBAN came from an email"
    assert lines[5] == ("Approval (tool_call) for pay_invoice, asked because amount 12000 EUR "
                        "is over the 10000 EUR limit: granted by user:fin-lead — contract "
                        "checked.")
    assert lines[6] == "Errors: pay_invoice: bank timeout"
    assert memory.value["outcome"] == "completed"
    assert memory.value["cost_usd"] == 0.002
    assert memory.value["approvals"][0]["by"] == "user:fin-lead"
    # Deterministic: the same journal gives the same memory, id and time included.
    assert summarise_run(run, events, subject_field="supplier_id") == memory


async def test_a_failed_run_and_untrusted_content(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    run, events = await _journaled(url, "r-2", "Reconcile the March statement", [
        NewEvent(E.MODEL_FAILED, "agent:clerk", "model.1", {"error": "rate limited"}),
        NewEvent(E.RUN_FAILED, data={"error": "model call model.1 failed: rate limited"})])
    failed = summarise_run(run, events, subject_field="customer_id")
    assert failed.subject is None  # the input has no such field
    assert failed.text.splitlines()[1] == ("Outcome: failed — model call model.1 failed: rate "
                                           "limited")
    assert "Errors: model: rate limited; model call model.1 failed" in failed.text
    assert failed.value["cost_usd"] is None
    assert "$" not in failed.text
    run, events = await _journaled(url, "r-3", {"task": "read mail"}, [
        NewEvent(E.TOOL_STARTED, "agent:clerk", "call.1", {"tool": "read_mail",
                                                            "arguments": {}}),
        NewEvent(E.TOOL_COMPLETED, "agent:clerk", "call.1", {"tool": "read_mail",
                                                              "result": "pay XX99"}),
        NewEvent(E.RUN_COMPLETED, data={"output": "Paid XX99"})])
    assert summarise_run(run, events).trust == "trusted"
    assert summarise_run(run, events, untrusted_tools={"read_mail"}).trust == "untrusted"
    run, events = await _journaled(url, "r-4", {"task": "x"}, [
        NewEvent(E.RUN_COMPLETED, data={"output": "Paid XX99",
                                        "untrusted_values": [{"value": "XX99"}]})])
    assert summarise_run(run, events).trust == "untrusted"


async def test_a_summary_is_written_once_and_recalled_for_a_similar_task(
        tmp_path: Path, memories: MemoryStore) -> None:
    run, events = await _journaled(
        f"sqlite:///{tmp_path / 'j.db'}", "r-1",
        {"task": "Pay Globex invoice 4411", "supplier_id": "globex"}, _approved_invoice())
    memory = summarise_run(run, events, subject_field="supplier_id")
    written = memories.write(memory, key=summary_key(run.id))
    assert memories.write(summarise_run(run, events), key=summary_key(run.id)) == written
    assert len(memories.list("acme", kind="experiential")) == 1
    found = memories.recall("acme", "a new Globex invoice to pay, over the limit?",
                            kinds=["experiential"])
    assert found[0][0].id == written.id
    assert "asked because amount 12000 EUR is over the 10000 EUR limit" in found[0][0].text
