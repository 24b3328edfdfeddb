"""``agentplane serve`` (one port) accepts the configured issuer's OAuth tokens at every door,
next to API keys: MCP clients that speak OAuth, and the REST API, see the token's tenant."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import Client as MCPClient
from mcp.client.streamable_http import streamable_http_client

from tests.server.live import live_server

from . import oauth_issuer
from .oauth_issuer import Issuer

RESOURCE = "https://plane.example/mcp"
"""The resource identifier the issuer's tokens are for (``aud``)."""


@pytest.fixture
def plane(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Issuer, str]]:
    with oauth_issuer.serving(RESOURCE) as issuer:
        monkeypatch.setenv("AGENTPLANE_OAUTH_ISSUER", issuer.url)
        monkeypatch.setenv("AGENTPLANE_OAUTH_RESOURCE", RESOURCE)
        with live_server(tmp_path / "agentplane.db") as base:
            yield issuer, base


async def test_oauth_tokens_work_at_every_door_with_their_tenant(
        plane: tuple[Issuer, str]) -> None:
    issuer, base = plane
    token = issuer.token("alice", tenant="acme", scope="agentplane:operator")
    async with httpx.AsyncClient(base_url=base, timeout=30) as rest:
        metadata = (await rest.get("/.well-known/oauth-protected-resource/mcp")).json()
        assert metadata == {"resource": RESOURCE, "authorization_servers": [issuer.url],
                            "scopes_supported": ["agentplane:viewer", "agentplane:operator",
                                                 "agentplane:approver", "agentplane:admin"],
                            "bearer_methods_supported": ["header"],
                            "resource_name": "Agentplane"}
        refused = await rest.post("/mcp", json={"jsonrpc": "2.0", "id": 1,
                                                "method": "initialize", "params": {}})
        assert refused.status_code == 401
        assert ('resource_metadata="https://plane.example/.well-known/oauth-protected-resource'
                '/mcp"') in refused.headers["www-authenticate"]

    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"},
                                  timeout=30) as http:
        transport = streamable_http_client(f"{base}/mcp", http_client=http)
        async with MCPClient(transport, read_timeout_seconds=30) as client:
            result = await client.call_tool("refund-desk", {"input": "Refund order A1"})
            assert not result.is_error and result.structured_content is not None
            run_id = result.structured_content["run_id"]

    async with httpx.AsyncClient(base_url=base, timeout=30,
                                 headers={"Authorization": f"Bearer {token}"}) as rest:
        run = (await rest.get(f"/api/v1/runs/{run_id}")).json()
        assert run["tenant"] == "acme"
        viewer = issuer.token("bob", tenant="acme", scope="agentplane:viewer")
        started = await rest.post("/api/v1/runs", json={"workflow": "refund-desk",
                                                        "input": "Refund order A2"},
                                  headers={"Authorization": f"Bearer {viewer}"})
        assert started.status_code == 403 and "viewer" in started.text
        other = issuer.token("carol", tenant="beta", scope="agentplane:admin")
        assert (await rest.get(f"/api/v1/runs/{run_id}",
                               headers={"Authorization": f"Bearer {other}"})
                ).status_code == 404
