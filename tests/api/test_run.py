"""Running Python-declared workflows: results, approvals, streaming, the default journal."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import agentplane
from agentplane import Runtime
from agentplane.journal import EventType
from agentplane.testing import tool_calls

from . import desk


def test_run_sync_gives_output_status_usage_cost(tmp_path: Path) -> None:
    result = desk.flow.run_sync("Refund order A1", db=tmp_path / "runs.db")
    assert (result.status, result.output) == ("completed", "Refunded 20 on order A1.")
    assert result.run_id.startswith("run-") and result.error is None
    assert result.usage.model_calls == 3 and result.usage.tool_calls == 2
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    assert result.cost == 0.0  # the scripted model is free
    assert result.workflow_hash == desk.flow.hash
    assert [e["order_id"] for e in desk.ledger()] == ["A1"]


def test_default_journal_is_the_clis(tmp_path: Path) -> None:
    result = desk.flow.run_sync("Refund order A1")
    assert (tmp_path / "home" / "agentplane.db").is_file()

    async def look() -> str:
        async with Runtime() as rt:
            return (await rt.result(result.run_id)).status

    assert asyncio.run(look()) == "completed"


def test_run_sync_refuses_a_running_loop(tmp_path: Path) -> None:
    async def inside() -> None:
        desk.flow.run_sync("Refund order A1", db=tmp_path / "runs.db")

    with pytest.raises(RuntimeError, match=r"await flow\.run"):
        asyncio.run(inside())


def test_approval_from_python(database_url: str) -> None:
    """On SQLite and on PostgreSQL alike."""
    async def go() -> None:
        async with Runtime(database_url, actor="user:ana") as rt:
            first = await rt.run(desk.careful, "Refund order A1")
            assert first.status == "waiting" and first.output is None
            (approval,) = first.waiting
            assert approval.kind == "tool_call" and approval.tool == "issue_refund"
            assert approval.data["arguments"] == {"order_id": "A1", "amount": 20}
            assert desk.ledger() == []
            done = await rt.approve(approval.id, reason="fine")
            assert (done.status, done.output) == ("completed", "Refunded 20 on order A1.")
            granted = [e for e in done.events if e.type == EventType.APPROVAL_GRANTED]
            assert [e.actor for e in granted] == ["user:ana"]
    asyncio.run(go())
    assert len(desk.ledger()) == 1


def test_denial_from_python(tmp_path: Path) -> None:
    async def go() -> None:
        async with Runtime(tmp_path / "runs.db") as rt:
            first = await rt.run(desk.careful, "Refund order A1")
            done = await rt.deny(first.waiting[0].id, reason="not today")
            assert done.status == "completed"
            assert [c.tool for c in tool_calls(done)] == ["lookup_order"]
    asyncio.run(go())
    assert desk.ledger() == []


def test_stream_yields_every_event_until_the_run_rests(database_url: str) -> None:
    async def go() -> None:
        async with Runtime(database_url) as rt:
            run_id = await rt.start(desk.flow, "Refund order A1")
            seen = [e async for e in rt.stream(run_id)]
            result = await rt.wait(run_id)
            assert [e.seq for e in seen] == [e.seq for e in result.events]
            assert seen[-1].type == EventType.RUN_COMPLETED
            again = [e async for e in rt.stream(run_id, after_seq=seen[-3].seq)]
            assert again == seen[-2:]
    asyncio.run(go())


def test_top_level_names_are_lazy_and_listed() -> None:
    for name in agentplane.__all__:
        assert getattr(agentplane, name) is not None
    assert set(agentplane.__all__) <= set(dir(agentplane))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        agentplane.Nope  # noqa: B018


def test_an_agent_alone_runs_as_a_workflow_of_its_own(tmp_path: Path) -> None:
    result = desk.clerk.run_sync("Refund order A1", db=tmp_path / "runs.db")
    assert (result.status, result.output) == ("completed", "Refunded 20 on order A1.")
    assert result.workflow_hash == desk.clerk.workflow().hash
    assert desk.clerk.workflow().spec.name == "clerk"
