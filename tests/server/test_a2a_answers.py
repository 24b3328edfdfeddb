"""Done when: an a2a-sdk client drives a workflow through an approval end to end against
``agentplane serve`` — the approver answers the waiting task over A2A, journaled with its key
exactly like an approval from the console."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from a2a.client import A2ACardResolver, Client, ClientConfig, ClientFactory
from a2a.helpers import new_data_part
from a2a.types import GetTaskRequest, Message, Part, Role, SendMessageRequest, Task, TaskState

WORKFLOW = "payment-approval"


@asynccontextmanager
async def client_of(base: str, key: str) -> AsyncIterator[Client]:
    async with httpx.AsyncClient(headers={"X-API-Key": key}, timeout=30) as http:
        card = await A2ACardResolver(http, f"{base}/a2a/{WORKFLOW}").get_agent_card()
        yield ClientFactory(ClientConfig(streaming=False, httpx_client=http)).create(card)


def message(*parts: Part, task_id: str = "", message_id: str | None = None
            ) -> SendMessageRequest:
    return SendMessageRequest(message=Message(
        message_id=message_id or str(uuid.uuid4()), role=Role.ROLE_USER, task_id=task_id,
        parts=list(parts)))


async def send(client: Client, request: SendMessageRequest) -> Task:
    [response] = [r async for r in client.send_message(request)]
    assert response.HasField("task")
    return response.task


async def waiting_task(base: str, keys: dict[str, str]) -> Task:
    async with client_of(base, keys["operator"]) as client:
        task = await send(client, message(Part(text="Pay ACME's invoice INV-2041")))
    assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    return task


async def events_of(base: str, keys: dict[str, str], run_id: str) -> list[dict[str, object]]:
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": keys["root"]}) as rest:
        events: list[dict[str, object]] = (
            await rest.get(f"/api/v1/runs/{run_id}/events")).json()
        return events


async def test_an_approver_answers_a_waiting_task_over_a2a(base: str,
                                                          keys: dict[str, str]) -> None:
    task = await waiting_task(base, keys)
    # the operator who asked may not decide: a clear error, nothing decided
    async with client_of(base, keys["operator"]) as client:
        with pytest.raises(Exception, match="approver"):
            await send(client, message(Part(text="approve"), task_id=task.id))
    # an approver of another tenant does not even see the task
    async with client_of(base, keys["beta operator"]) as client:
        with pytest.raises(Exception, match="no task"):
            await client.get_task(GetTaskRequest(id=task.id))
    async with client_of(base, keys["approver"]) as client:
        seen = await client.get_task(GetTaskRequest(id=task.id))
        assert seen.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        answer = message(Part(text="Approve: invoice checked"), task_id=task.id)
        done = await send(client, answer)
        assert done.status.state == TaskState.TASK_STATE_COMPLETED
        assert done.artifacts[0].parts[0].text == "Paid ACME 1200.00 EUR for INV-2041."
        # the same message again decides nothing more, and says where the task stands
        again = await send(client, answer)
        assert again.status.state == TaskState.TASK_STATE_COMPLETED
    events = await events_of(base, keys, task.id)
    granted = [e for e in events if e["type"] == "approval.granted"]
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": keys["root"]}) as rest:
        approver_id = next(k["id"] for k in (await rest.get("/api/v1/keys")).json()
                           if k["name"] == "acme approver")
    assert len(granted) == 1
    assert granted[0]["actor"] == f"key:{approver_id}"  # as from the console
    assert granted[0]["data"]["reason"] == "invoice checked"  # type: ignore[index]
    assert [e["type"] for e in events].count("a2a.answered") == 1


async def test_a_deny_with_a_reason_ends_the_task(base: str, keys: dict[str, str]) -> None:
    task = await waiting_task(base, keys)
    async with client_of(base, keys["admin"]) as client:
        with pytest.raises(Exception, match="decision"):
            await send(client, message(Part(text="hmm, not sure"), task_id=task.id))
        decision = new_data_part({"decision": "deny", "reason": "wrong amount"})
        ended = await send(client, message(decision, task_id=task.id))
    # the agent is told the payment was refused and ends its turn: no payment made
    assert ended.status.state == TaskState.TASK_STATE_COMPLETED
    events = await events_of(base, keys, task.id)
    denied = [e for e in events if e["type"] == "approval.denied"]
    assert len(denied) == 1 and denied[0]["data"]["reason"] == "wrong amount"  # type: ignore[index]
    assert not [e for e in events if e["type"] == "tool.completed"
                and e["data"]["tool"] == "pay"]  # type: ignore[index]
