from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from agentplane.journal import JournalStore, RunRecord, SQLiteJournal
from agentplane.runtime import Runtime, Workflow, workflow_from_dict

HERE = Path(__file__).parent
TOOLS: list[dict[str, Any]] = [
    {"name": "lookup", "python": "tests.telemetry.toolbox:lookup", "effect": "read"},
    {"name": "explode", "python": "tests.telemetry.toolbox:explode", "effect": "read"},
    {"name": "pay", "python": "tests.telemetry.toolbox:pay", "effect": "write",
     "cost_usd": 0.25},
    {"name": "book", "python": "tests.telemetry.toolbox:book", "effect": "write",
     "compensate": "cancel_booking"},
    {"name": "cancel_booking", "python": "tests.telemetry.toolbox:cancel_booking",
     "effect": "write"},
]
CAP = {"policies": [{"id": "cap", "version": 3, "tools": ["pay"],
                     "arguments": {"amount": {"max": 100}}}]}


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def clerk_flow(**extra: Any) -> Workflow:
    """One agent that looks an order up, meets a failing tool, is refused an oversized payment
    by a guardian policy, pays a small amount, and answers."""
    script = [
        {"content": "Looking.", "tool_calls": [
            {"name": "lookup", "arguments": {"order_id": "A1"}},
            {"name": "explode", "arguments": {"reason": "disk"}}]},
        call("pay", order_id="A1", amount=500),
        call("pay", order_id="A1", amount=20),
        {"content": "Paid 20."},
    ]
    return workflow_from_dict({
        "name": "clerk-flow", "autonomy": "out_of_the_loop", "guardians": CAP, "tools": TOOLS,
        "agents": [{"name": "clerk", "model": "scripted", "tools": ["lookup", "explode", "pay"],
                    "script": script}],
        "steps": [{"agent": "clerk"}], **extra}, HERE)


def approval_flow() -> Workflow:
    """A write in the loop: the run waits for a person before paying."""
    return workflow_from_dict({
        "name": "approval-flow", "autonomy": "in_the_loop", "tools": TOOLS,
        "agents": [{"name": "payer", "tools": ["pay"], "script": [
            call("pay", order_id="B2", amount=30), {"content": "Paid 30."}]}],
        "steps": [{"agent": "payer"}]}, HERE)


def handoff_flow() -> Workflow:
    return workflow_from_dict({
        "name": "handoff-flow", "tools": TOOLS,
        "agents": [
            {"name": "front", "handoffs": ["billing"], "script": [
                {"tool_calls": [{"name": "transfer_to_billing",
                                 "arguments": {"reason": "invoice"}}]}]},
            {"name": "billing", "tools": ["lookup"], "script": [
                call("lookup", order_id="C3"), {"content": "C3 costs 35."}]}],
        "steps": [{"agent": "front"}]}, HERE)


def failing_flow() -> Workflow:
    return workflow_from_dict({
        "name": "failing-flow", "tools": TOOLS,
        "agents": [{"name": "a", "script": [{"error": "rate limited upstream"}]}],
        "steps": [{"agent": "a"}]}, HERE)


def booking_flow() -> Workflow:
    return workflow_from_dict({
        "name": "booking-flow", "autonomy": "out_of_the_loop", "tools": TOOLS,
        "agents": [{"name": "b", "tools": ["book"], "script": [
            call("book", room="R1"), {"content": "Booked."}]}],
        "steps": [{"agent": "b"}]}, HERE)


async def run(store: JournalStore, workflow: Workflow, *, tenant: str = "default"
              ) -> RunRecord:
    runtime = Runtime(store)
    record = await runtime.run(workflow, "go", tenant=tenant)
    await runtime.aclose()
    return record


async def approve(store: JournalStore, run_id: str, *, approve: bool = True) -> RunRecord:
    """A person decides on the run's only open approval; the run resumes."""
    [wait] = await store.waits(run_id=run_id)
    runtime = Runtime(store)
    await runtime.decide(wait.id, approve=approve, actor="user:ana", reason="checked")
    record = await runtime.execute(run_id)
    await runtime.aclose()
    return record


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[JournalStore]:
    journal = SQLiteJournal(tmp_path / "journal.db")
    yield journal
    await journal.close()
