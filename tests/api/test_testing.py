"""``agentplane.testing``: the function model (a reply per call, computed from the
conversation) and the journal helpers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agentplane import Runtime, Workflow
from agentplane.journal import EventType
from agentplane.testing import FunctionModel, ModelCall, Reply, approvals, events, tool_calls

from . import desk


def test_one_workflow_branches_on_the_input(tmp_path: Path) -> None:
    model = FunctionModel(desk.triage)
    refund = desk.live.run_sync("Please refund order B7", db=tmp_path / "r.db", model=model)
    other = desk.live.run_sync("Where is my parcel?", db=tmp_path / "r.db", model=model)
    assert (refund.status, refund.output) == ("completed", "Refunded order B7.")
    assert [(c.tool, c.arguments, c.status) for c in tool_calls(refund)] == [
        ("lookup_order", {"order_id": "B7"}, "completed"),
        ("issue_refund", {"order_id": "B7", "amount": 120.0}, "completed")]
    assert tool_calls(refund, "issue_refund")[0].result == {"status": "refunded",
                                                            "amount": 120.0}
    assert (other.output, tool_calls(other)) == ("Only refunds are handled here.", [])
    assert [c.agent for c in model.calls] == ["clerk"] * 4
    assert model.calls[0].tools == ["lookup_order", "issue_refund"]
    # the workflow kept its production model: the journal says which one was stood in for
    (completed, *_) = events(refund, EventType.MODEL_COMPLETED)
    assert completed.data["provider_model"] == "function:gpt-4o-mini"
    assert refund.workflow_hash == desk.live.hash


def test_a_resumed_run_replays_replies_instead_of_asking_again(tmp_path: Path) -> None:
    careful = FunctionModel(desk.triage)

    async def go() -> None:
        async with Runtime(tmp_path / "r.db", model=careful) as rt:
            flow = Workflow("careful-live", steps=[desk.live_clerk], autonomy="in_the_loop")
            first = await rt.run(flow, "refund A1")
            assert first.status == "waiting"
            asked = len(careful.calls)
            done = await rt.approve(first.waiting[0].id)
            assert done.output == "Refunded order A1."
            assert len(careful.calls) == asked + 1  # only the call after the approval
            (record,) = approvals(done)
            assert (record.kind, record.decision, record.actor) == ("tool_call", "granted",
                                                                   "user:python")
            assert record.data["tool"] == "issue_refund"
    asyncio.run(go())


def test_async_reply_functions_and_declared_errors(tmp_path: Path) -> None:
    async def failing(call: ModelCall) -> Reply:
        return Reply(error="the model is down")

    result = desk.live.run_sync("refund A1", db=tmp_path / "r.db",
                                model=FunctionModel(failing))
    assert result.status == "failed" and "the model is down" in (result.error or "")


def test_a_wrong_return_type_says_what_to_return(tmp_path: Path) -> None:
    def wrong(call: ModelCall) -> object:
        return 42

    result = desk.live.run_sync("refund A1", db=tmp_path / "r.db",
                                model=FunctionModel(wrong))  # type: ignore[arg-type]
    assert result.status == "failed"
    assert "returned int; return text, a Reply or a ModelResponse" in (result.error or "")


@pytest.mark.parametrize("kind", ["run.started", "run.completed"])
def test_events_filters_by_type(tmp_path: Path, kind: str) -> None:
    result = desk.flow.run_sync("Refund order A1", db=tmp_path / "r.db")
    assert [e.type for e in events(result, kind)] == [kind]
    assert events(result) == list(result.events)
