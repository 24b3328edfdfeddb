"""MCP elicitation: a real stdio MCP server's question during a tool call becomes an
approval-like wait; the run waits holding nothing, and after a restart the answer goes back
to the server, which then acts once."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from agentplane.journal import EventType, JournalStore, RunRecord
from agentplane.runtime import APPROVAL_KINDS, Runtime, Workflow, workflow_from_dict
from agentplane.runtime.elicitation import ELICITATION

HERE = Path(__file__).parent
SERVER = str(HERE / "notes_server.py")


def paying(tool: str = "pay", script: list[dict[str, Any]] | None = None) -> Workflow:
    return workflow_from_dict({
        "name": "paying", "autonomy": "out_of_the_loop",
        "mcp_servers": [{"name": "notes", "command": [sys.executable, SERVER],
                         "env": {"NOTES_LEDGER": "${NOTES_LEDGER}"},
                         "tools": [{"name": tool, "effect": "write"}]}],
        "agents": [{"name": "a", "tools": [f"notes_{tool}"], "script": script or [
            {"tool_calls": [{"name": f"notes_{tool}", "arguments": {"to": "ACME"}}]},
            {"content": "done"}]}],
        "steps": [{"agent": "a"}]}, HERE)


async def asked(store: JournalStore, workflow: Workflow | None = None) -> tuple[str, str]:
    """Start a run until the server's question makes it wait; the runtime is then closed
    (as a process that stops). Returns (run id, wait id)."""
    first = Runtime(store)
    try:
        record = await first.run(workflow or paying(), "pay ACME")
    finally:
        await first.aclose()
    assert record.status == "waiting"
    waits = await store.waits(run_id=record.id)
    assert len(waits) == 1 and waits[0].kind == ELICITATION in APPROVAL_KINDS  # the inbox
    assert waits[0].data["message"].endswith(" ACME?")
    assert waits[0].data["schema"]["properties"]["amount"]["type"] == "integer"
    return record.id, waits[0].id


async def answer(store: JournalStore, run_id: str, wait_id: str, *, approve: bool,
                 reason: str) -> RunRecord:
    """A person answers in a new process, which then drives the run on."""
    second = Runtime(store)
    try:
        await second.decide(wait_id, approve=approve, actor="user:ops", reason=reason)
        return await second.execute(run_id)
    finally:
        await second.aclose()


async def test_the_answer_reaches_the_server_after_a_restart(store: JournalStore,
                                                            ledger: Path) -> None:
    run_id, wait_id = await asked(store)
    assert not ledger.exists()  # nothing was paid while waiting
    record = await answer(store, run_id, wait_id, approve=True, reason="500")
    assert record.status == "completed"
    assert ledger.read_text().splitlines() == ["pay ACME 500"]  # once
    events = await store.events(run_id)
    done = [e for e in events if e.type == EventType.TOOL_COMPLETED]
    assert [d.data["result"] for d in done] == [{"result": "paid ACME 500"}]
    assert sum(e.type == EventType.APPROVAL_REQUESTED for e in events) == 1  # asked once


async def test_a_declined_question_pays_nothing(store: JournalStore, ledger: Path) -> None:
    run_id, wait_id = await asked(store)
    record = await answer(store, run_id, wait_id, approve=False, reason="not today")
    assert record.status == "completed"  # the agent is told the call failed, and answers
    assert not ledger.exists()
    failed = [e for e in await store.events(run_id) if e.type == EventType.TOOL_FAILED]
    assert len(failed) == 1


async def test_a_completion_before_the_question_is_not_paid_twice(store: JournalStore,
                                                                  ledger: Path) -> None:
    call = {"tool_calls": [{"name": "notes_pay_noted", "arguments": {"to": "ACME"}}]}
    run_id, wait_id = await asked(store, paying("pay_noted", [
        call, {"content": "ACME invoice 7."}, {"content": "done"}]))
    waits = await store.waits(run_id=run_id)
    assert waits[0].data["message"] == "ACME invoice 7. How much to ACME?"
    record = await answer(store, run_id, wait_id, approve=True, reason="70")
    assert record.status == "completed"
    assert ledger.read_text().splitlines() == ["pay ACME 70"]
    events = await store.events(run_id)
    sampled = [e for e in events if e.type == EventType.MODEL_COMPLETED
               and "/sample" in (e.step_key or "")]
    assert len(sampled) == 1  # the call made again got the journaled completion
