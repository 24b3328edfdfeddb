"""MCP sampling: a real stdio MCP server asks the calling agent's model for a completion
during a tool call; it is journaled, metered, budgeted and reviewed like the agent's own."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from agentplane.journal import EventType, JournalStore
from agentplane.runtime import Runtime, workflow_from_dict
from agentplane.runtime.sampling import SAMPLING_REFUSED

HERE = Path(__file__).parent
SERVER = str(HERE / "notes_server.py")
SUMMARISE = {"tool_calls": [{"name": "notes_summarise", "arguments": {"text": "launch Friday"}}]}


@pytest.fixture(autouse=True)
def notes_ledger(ledger: Path) -> Path:
    return ledger


async def run(store: JournalStore, script: list[dict[str, Any]], **extra: Any
              ) -> tuple[str, list[Any]]:
    wf = workflow_from_dict({
        "name": "sampling", "autonomy": "out_of_the_loop",
        "mcp_servers": [{"name": "notes", "command": [sys.executable, SERVER],
                         "tools": [{"name": "summarise", "effect": "read"}]}],
        "agents": [{"name": "a", "tools": ["notes_summarise"], "max_output_tokens": 50,
                    "script": script}],
        "steps": [{"agent": "a"}], **extra}, HERE)
    runtime = Runtime(store)
    try:
        record = await runtime.run(wf, "summarise the launch note")
    finally:
        await runtime.aclose()
    return record.status, await store.events(record.id)


def tool_result(events: list[Any]) -> Any:
    done = [e for e in events if e.type in (EventType.TOOL_COMPLETED, EventType.TOOL_FAILED)]
    assert len(done) == 1
    return done[0].data.get("result", done[0].data.get("error"))


async def test_the_agents_model_answers_metered_and_journaled(store: JournalStore) -> None:
    status, events = await run(store, [SUMMARISE,
                                       {"content": "Launch is Friday.",
                                        "usage": {"input_tokens": 30, "output_tokens": 5}},
                                       {"content": "done"}])
    assert status == "completed"
    assert "summary by " in str(tool_result(events))
    assert "Launch is Friday." in str(tool_result(events))
    sampled = [e for e in events if e.type == EventType.MODEL_COMPLETED
               and e.step_key.endswith("/t0/sample1")]
    assert len(sampled) == 1  # a model step of the agent, under the tool call's step
    assert sampled[0].actor == "agent:a"
    assert sampled[0].usage is not None
    assert (sampled[0].usage["input_tokens"], sampled[0].usage["output_tokens"]) == (30, 5)
    asked = next(e for e in events if e.type == EventType.MODEL_REQUESTED
                 and e.step_key == sampled[0].step_key)
    assert asked.data["messages"] == 2  # the server's system prompt and its message


async def test_the_guardians_redact_what_leaves_for_the_server(store: JournalStore) -> None:
    secret = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"
    status, events = await run(store, [SUMMARISE, {"content": f"The key is {secret}"},
                                       {"content": "done"}])
    assert status == "completed"
    assert secret not in str(tool_result(events))
    guarded = [e for e in events if e.type == EventType.GUARD_DECIDED
               and e.data.get("call") == "sampling"]
    assert guarded and guarded[0].data["asked_by"] == "MCP server notes"


async def test_over_budget_the_completion_is_refused(store: JournalStore) -> None:
    budget = {"id": "run-tokens", "scope": "run", "period": "run", "limit_tokens": 1000,
              "on_exceed": "wait"}
    status, events = await run(store, [
        {**SUMMARISE, "usage": {"input_tokens": 900, "output_tokens": 60}},
        {"content": "not reached"}], budgets=[budget])
    refused = [e for e in events if e.type == SAMPLING_REFUSED]
    assert len(refused) == 1 and "run-tokens" in refused[0].data["reason"]
    assert "completion refused" in str(tool_result(events))
    assert not any(e.type == EventType.MODEL_REQUESTED and "/sample" in (e.step_key or "")
                   for e in events)
    assert status == "waiting"  # the agent's own next turn waits for a person, as declared
