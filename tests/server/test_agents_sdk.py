"""Done when: an OpenAI Agents SDK program drives a workflow through an approval over MCP
against ``agentplane serve``. The program's model is scripted (no network): it calls the
workflow's tool, a person approves the waiting run through the REST API meanwhile, and the
model asks for the run's status until it completed."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

agents = pytest.importorskip("agents")  # the `openai-agents` package (dev extra)

from agents import Agent, Runner, set_tracing_disabled  # noqa: E402
from agents.items import ModelResponse  # noqa: E402
from agents.mcp import MCPServerStreamableHttp  # noqa: E402
from agents.models.interface import Model  # noqa: E402
from agents.usage import Usage  # noqa: E402
from openai.types.responses import (  # noqa: E402
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

WORKFLOW = "payment-approval"


def _outputs(given: Any) -> list[str]:
    """The tool outputs the SDK handed back to the model so far."""
    items = given if isinstance(given, list) else []
    return [str(i.get("output")) for i in items
            if isinstance(i, dict) and i.get("type") == "function_call_output"]


class ScriptedModel(Model):
    """Plays the model: pay, then (after a person approved) check the run, then report."""

    def __init__(self, base: str, approver: str) -> None:
        self.base, self.approver = base, approver
        self.seen: list[str] = []

    async def get_response(self, system_instructions: str | None, input: Any,
                           model_settings: Any, tools: list[Any], output_schema: Any,
                           handoffs: list[Any], tracing: Any, **_: Any) -> ModelResponse:
        outputs = _outputs(input)
        self.seen = outputs
        if not outputs:
            return self._call(WORKFLOW, {"input": "Pay ACME's invoice INV-2041"})
        last = outputs[-1]
        run_id = re.search(r"run-[0-9a-f]+", outputs[0])
        assert run_id is not None, outputs[0]
        if "is waiting" in last:
            await self._person_approves()
            return self._call("agentplane_run_status", {"run_id": run_id.group(0)})
        if "is running" in last or "is pending" in last:  # the run goes on: look again
            await asyncio.sleep(0.1)
            return self._call("agentplane_run_status", {"run_id": run_id.group(0)})
        return ModelResponse(output=[ResponseOutputMessage(
            id="msg-1", role="assistant", status="completed", type="message",
            content=[ResponseOutputText(text=f"done: {last}", type="output_text",
                                        annotations=[])])],
            usage=Usage(), response_id=None)

    async def _person_approves(self) -> None:
        async with httpx.AsyncClient(base_url=self.base, timeout=30,
                                     headers={"Authorization": f"Bearer {self.approver}"}
                                     ) as rest:
            [pending] = (await rest.get("/api/v1/approvals")).json()
            decided = await rest.post(f"/api/v1/approvals/{pending['id']}/approve",
                                      json={"reason": "invoice checked"})
            assert decided.status_code == 200, decided.text

    @staticmethod
    def _call(name: str, arguments: dict[str, Any]) -> ModelResponse:
        call = ResponseFunctionToolCall(type="function_call",
                                        call_id=f"call-{name}-{uuid.uuid4().hex[:8]}",
                                        name=name, arguments=json.dumps(arguments))
        return ModelResponse(output=[call], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError("the test runs without streaming")


async def test_an_agents_sdk_program_drives_a_workflow_through_an_approval(
        base: str, keys: dict[str, str]) -> None:
    set_tracing_disabled(True)
    model = ScriptedModel(base, keys["approver"])
    params = {"url": f"{base}/mcp", "headers": {"X-API-Key": keys["operator"]}, "timeout": 30}
    async with MCPServerStreamableHttp(params=params,  # type: ignore[arg-type]
                                       client_session_timeout_seconds=30) as server:
        agent = Agent(name="payables", instructions="Pay approved invoices.",
                      mcp_servers=[server], model=model)
        result = await Runner.run(agent, "Pay ACME's invoice INV-2041", max_turns=200)
    assert "is waiting" in model.seen[0]  # the workflow stopped for a person
    assert "Paid ACME 1200.00 EUR for INV-2041." in result.final_output
    run_id = re.search(r"run-[0-9a-f]+", model.seen[0])
    assert run_id is not None
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": keys["operator"]}) as rest:
        run = (await rest.get(f"/api/v1/runs/{run_id.group(0)}")).json()
    assert run["status"] == "completed" and run["tenant"] == "acme"
