"""One port, one front door: ``agentplane serve`` answers REST, A2A and MCP with the same API
keys, roles and tenants, over real HTTP on loopback."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from a2a.client import A2ACardResolver, Client, ClientConfig, ClientFactory
from a2a.types import CancelTaskRequest, Message, Part, Role, SendMessageRequest, Task, TaskState
from mcp import Client as MCPClient
from mcp.client.streamable_http import streamable_http_client

from agentplane.server.auth import Authenticator, BearerVerifier, Identity, RequireCaller

from .live import live_server

WORKFLOW = "refund-desk"


def headers(key: str, style: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if style == "bearer" else {"X-API-Key": key}


@asynccontextmanager
async def a2a_client(base: str, key: str, style: str, workflow: str = WORKFLOW
                     ) -> AsyncIterator[Client]:
    async with httpx.AsyncClient(headers=headers(key, style), timeout=30) as http:
        card = await A2ACardResolver(http, f"{base}/a2a/{workflow}").get_agent_card()
        yield ClientFactory(ClientConfig(streaming=False, httpx_client=http)).create(card)


@asynccontextmanager
async def mcp_client(base: str, key: str, style: str) -> AsyncIterator[MCPClient]:
    async with httpx2.AsyncClient(headers=headers(key, style), timeout=30) as http:
        transport = streamable_http_client(f"{base}/mcp", http_client=http)
        async with MCPClient(transport, read_timeout_seconds=30) as client:
            yield client


def message(text: str, **extra: Any) -> SendMessageRequest:
    return SendMessageRequest(message=Message(message_id=str(uuid.uuid4()), role=Role.ROLE_USER,
                                              parts=[Part(text=text)], **extra))


async def send(client: Client, request: SendMessageRequest) -> Task:
    [response] = [r async for r in client.send_message(request)]
    assert response.HasField("task")
    return response.task


@pytest.mark.parametrize("style", ["bearer", "x-api-key"])
async def test_one_key_works_for_rest_a2a_and_mcp(base: str, keys: dict[str, str],
                                                  style: str) -> None:
    key = keys["operator"]
    async with httpx.AsyncClient(base_url=base, headers=headers(key, style), timeout=30) as rest:
        started = await rest.post("/api/v1/runs", json={"workflow": WORKFLOW,
                                                        "input": "Refund order A1"})
        assert started.status_code in (200, 201), started.text
    async with a2a_client(base, key, style) as client:
        task = await send(client, message("Refund order A1"))
        assert task.status.state == TaskState.TASK_STATE_COMPLETED
        assert "Refunded" in task.artifacts[0].parts[0].text
    async with mcp_client(base, key, style) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert WORKFLOW in names
        result = await client.call_tool(WORKFLOW, {"input": "Refund order A1"})
        assert not result.is_error
        assert result.structured_content is not None
        run_id = result.structured_content["run_id"]
    async with httpx.AsyncClient(base_url=base, headers=headers(key, style), timeout=30) as rest:
        run = (await rest.get(f"/api/v1/runs/{run_id}")).json()
        assert run["tenant"] == "acme"  # the key's tenant, whichever door it came in by
        assert (await rest.get(f"/api/v1/runs/{task.id}")).json()["tenant"] == "acme"


async def test_a_key_of_another_tenant_sees_nothing(base: str, keys: dict[str, str]) -> None:
    async with a2a_client(base, keys["operator"], "bearer") as client:
        task = await send(client, message("Refund order A1"))
    async with mcp_client(base, keys["operator"], "bearer") as client:
        result = await client.call_tool(WORKFLOW, {"input": "Refund order A1"})
        assert result.structured_content is not None
        run_id = result.structured_content["run_id"]
    beta = keys["beta operator"]
    async with a2a_client(base, beta, "x-api-key") as client:
        with pytest.raises(Exception, match="no task"):
            await client.get_task(_get(task.id))
    async with mcp_client(base, beta, "bearer") as client:
        status = await client.call_tool("agentplane_run_status", {"run_id": run_id})
        assert status.is_error
        again = await client.call_tool(WORKFLOW, {"input": "x", "run_id": run_id})
        assert again.is_error  # nor continue it
    async with httpx.AsyncClient(base_url=base, headers=headers(beta, "bearer")) as rest:
        assert (await rest.get(f"/api/v1/runs/{task.id}")).status_code == 404


def _get(task_id: str) -> Any:
    from a2a.types import GetTaskRequest

    return GetTaskRequest(id=task_id)


async def test_the_front_door_refuses_the_same_way_everywhere(base: str,
                                                              keys: dict[str, str]) -> None:
    rpc = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for path in ("/api/v1/runs", "/a2a/refund-desk", "/mcp"):
            method = http.get if path.startswith("/api") else http.post
            kwargs: dict[str, Any] = {} if path.startswith("/api") else {"json": rpc}
            assert (await method(path, **kwargs)).status_code == 401, path
            wrong = await method(path, headers={"X-API-Key": "ap_nope_nope"}, **kwargs)
            assert wrong.status_code == 401 and "ap_nope" not in wrong.text, path
        # a viewer may not start runs over MCP, nor over A2A
        viewer = headers(keys["viewer"], "x-api-key")
        assert (await http.post("/mcp", json=rpc, headers=viewer)).status_code == 403
        body = {"jsonrpc": "2.0", "id": "1", "method": "SendMessage", "params": {"message": {
            "messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "Refund order A1"}]}}}
        refused = await http.post("/a2a/refund-desk", json=body,
                                  headers={**viewer, "A2A-Version": "1.0"})
        assert "'run' permission" in refused.json()["error"]["message"]


async def test_paths_do_not_clash_and_cards_are_public(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        console = await http.get("/agents", follow_redirects=False)
        assert "json" not in console.headers.get("content-type", "")  # the console's page
        index = (await http.get("/a2a")).json()
        assert {a["name"] for a in index["agents"]} >= {WORKFLOW, "payment-approval"}
        server = await http.get("/.well-known/agent-card.json")
        card = server.json()
        assert {s["id"] for s in card["skills"]} >= {WORKFLOW, "payment-approval"}
        assert card["supportedInterfaces"][0]["url"] == f"{base}/a2a"
        assert "protocolVersion" not in card and "url" not in card  # pure 1.0
        assert server.headers["last-modified"] and server.headers["etag"]
        legacy = (await http.get("/.well-known/agent-card.json",
                                 headers={"A2A-Version": "0.3"})).json()
        assert legacy["protocolVersion"] == "0.3" and legacy["url"] == f"{base}/a2a"
        cached = await http.get(f"/a2a/{WORKFLOW}/.well-known/agent-card.json",
                                headers={"If-Modified-Since": server.headers["last-modified"]})
        assert cached.status_code == 304


async def test_the_server_endpoint_routes_by_skill(base: str, keys: dict[str, str]) -> None:
    async with httpx.AsyncClient(headers=headers(keys["operator"], "bearer"), timeout=30) as http:
        card = await A2ACardResolver(http, base).get_agent_card()
        client = ClientFactory(ClientConfig(streaming=False, httpx_client=http)).create(card)
        request = message("Refund order A1")
        request.message.metadata.update({"skill": WORKFLOW})
        task = await send(client, request)
        assert task.status.state == TaskState.TASK_STATE_COMPLETED
        with pytest.raises(Exception, match=r"metadata\.skill"):
            await send(client, message("Refund order A1"))


async def test_message_ids_are_unique_per_task_not_globally(base: str,
                                                            keys: dict[str, str]) -> None:
    async with a2a_client(base, keys["operator"], "bearer") as client:
        first = message("Refund order A1")
        task = await send(client, first)
        again = await send(client, first)  # a retry after a lost answer: the same task
        assert again.id == task.id
        reused = message("Refund order B7")
        reused.message.message_id = first.message.message_id  # another message, same id
        other = await send(client, reused)
        assert other.id != task.id
        assert other.status.state == TaskState.TASK_STATE_COMPLETED
    async with a2a_client(base, keys["operator"], "bearer", "payment-approval") as client:
        pay = message("Pay ACME's invoice INV-2041")
        waiting = await send(client, pay)
        await client.cancel_task(CancelTaskRequest(id=waiting.id))
        anew = await send(client, pay)  # sent again after a cancel: a new task
        assert anew.id != waiting.id
        assert anew.status.state == TaskState.TASK_STATE_INPUT_REQUIRED


class IssuerTokens:
    """A stand-in for an OAuth issuer's verifier: knows one token, an operator of acme."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def verify(self, token: str) -> Identity | None:
        self.asked.append(token)
        if token != "issuer-token":
            return None
        return Identity("oauth-alice", "alice", "operator", "acme", "")


async def test_a_pluggable_bearer_verifier_opens_every_door(db: Path,
                                                            keys: dict[str, str]) -> None:
    issuer = IssuerTokens()
    assert isinstance(issuer, BearerVerifier)
    with live_server(db, verifiers=[issuer]) as url:
        for style in ("bearer", "x-api-key"):
            async with httpx.AsyncClient(base_url=url, headers=headers("issuer-token", style),
                                         timeout=30) as rest:
                assert (await rest.get("/api/v1/runs")).status_code == 200
            async with a2a_client(url, "issuer-token", style) as client:
                task = await send(client, message("Refund order A1"))
                assert task.status.state == TaskState.TASK_STATE_COMPLETED
            async with mcp_client(url, "issuer-token", style) as client:
                assert not (await client.call_tool(WORKFLOW, {"input": "Refund A1"})).is_error
        # API keys are asked first: the issuer never sees them
        async with httpx.AsyncClient(base_url=url, headers=headers(keys["viewer"], "bearer"),
                                     timeout=30) as rest:
            assert (await rest.get("/api/v1/runs")).status_code == 200
        assert keys["viewer"] not in issuer.asked
        async with httpx.AsyncClient(base_url=url, timeout=30) as rest:
            wrong = await rest.get("/api/v1/runs", headers=headers("other-token", "bearer"))
            assert wrong.status_code == 401 and "other-token" not in wrong.text


async def test_a_door_may_have_its_own_challenge() -> None:
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("a caller without a token got through")

    issuer = IssuerTokens()
    door = RequireCaller(inner, Authenticator(issuer), permission="run",
                         challenge='Bearer resource_metadata="https://x.example/prm"')
    plain = RequireCaller(inner, Authenticator(issuer), permission="run")
    for app, expected in ((door, "resource_metadata"), (plain, 'realm="agentplane"')):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            refused = await http.post("/mcp", json={})
            assert refused.status_code == 401
            assert expected in refused.headers["www-authenticate"]
