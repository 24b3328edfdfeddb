"""MCP sampling for an agent whose model is a router: the completion is routed (and its
decision journaled) like the agent's own calls."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agentplane.journal import EventType, JournalStore
from agentplane.runtime import Runtime, workflow_from_dict

HERE = Path(__file__).parent
SERVER = str(HERE / "notes_server.py")


@pytest.fixture(autouse=True)
def notes_ledger(ledger: Path) -> Path:
    return ledger


async def test_a_routed_agent_answers_the_servers_completion(store: JournalStore) -> None:
    wf = workflow_from_dict({
        "name": "sampling-routed", "autonomy": "out_of_the_loop",
        "mcp_servers": [{"name": "notes", "command": [sys.executable, SERVER],
                         "tools": [{"name": "summarise", "effect": "read"}]}],
        "routers": [{"name": "desk", "prefer": "first", "candidates": [
            {"model": "scripted:gpt-4o", "tags": ["tools"]},
            {"model": "scripted:gpt-4o-mini"}]}],
        "agents": [{"name": "a", "model": "router:desk", "tools": ["notes_summarise"],
                    "script": [
                        {"tool_calls": [{"name": "notes_summarise",
                                         "arguments": {"text": "launch Friday"}}]},
                        {"content": "Launch is Friday."},
                        {"content": "done"}]}],
        "steps": [{"agent": "a"}]}, HERE)
    runtime = Runtime(store)
    try:
        record = await runtime.run(wf, "summarise the launch note")
    finally:
        await runtime.aclose()
    assert record.status == "completed"
    events = await store.events(record.id)
    routed = {e.step_key: e.data["chosen"] for e in events if e.type == EventType.MODEL_ROUTED}
    # the server's completion is a routed model step of the agent, under the tool call
    assert routed["s0/a/m1/t0/sample1"] == "scripted:gpt-4o"
    done = [e for e in events if e.type == EventType.TOOL_COMPLETED]
    assert "Launch is Friday." in str(done[0].data["result"])
