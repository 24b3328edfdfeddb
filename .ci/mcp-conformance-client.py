"""The MCP client under test for the official conformance suite's CLIENT scenarios.

Driven by `.ci/mcp-conformance` (``conformance client --command "python THIS"``): the suite
appends the server's URL, names the scenario in MCP_CONFORMANCE_SCENARIO and, for scenarios
with pre-registered credentials, gives them as JSON in MCP_CONFORMANCE_CONTEXT. Everything
goes through Agentplane's own MCP client (``tools.sources.mcp``) and its OAuth
(``tools.sources.mcp_auth``), configured the way a workflow's ``mcp_servers:`` entry is; the
person who would approve in a browser is played by an HTTP client that follows the
authorization server's redirect to the login's loopback callback.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from agentplane.tools.sources.mcp import MCPConnection
from agentplane.tools.sources.mcp_auth import LoopbackLogin
from agentplane.tools.sources.spec import MCPAuthSpec, MCPServerSpec

CIMD_URL = "https://conformance-test.local/client-metadata.json"
TOOL_CALLS = {"tools_call": ("add_numbers", {"a": 5, "b": 3}),
              "sse-retry": ("test_reconnection", {})}


async def browser(url: str) -> None:
    """A person approving: the authorization server redirects to the loopback callback."""
    async with httpx.AsyncClient(follow_redirects=True, timeout=20) as client:
        await client.get(url)


def auth_spec(scenario: str, context: dict[str, Any]) -> MCPAuthSpec | None:
    if not scenario.startswith("auth/"):
        return None
    client_id = context.get("client_id")
    if context.get("client_secret"):
        os.environ["CONFORMANCE_CLIENT_SECRET"] = context["client_secret"]
    if scenario == "auth/cross-app-access-complete-flow":
        os.environ["CONFORMANCE_ID_TOKEN"] = context["idp_id_token"]
        return MCPAuthSpec(flow="identity_assertion", client_id=client_id,
                           client_secret_env="CONFORMANCE_CLIENT_SECRET",
                           issuer=context["auth_issuer"], id_token_env="CONFORMANCE_ID_TOKEN",
                           idp_token_endpoint=context["idp_token_endpoint"],
                           idp_client_id=context.get("idp_client_id"))
    if scenario.startswith("auth/client-credentials"):
        if context.get("private_key_pem"):
            os.environ["CONFORMANCE_CLIENT_KEY"] = context["private_key_pem"]
            return MCPAuthSpec(flow="client_credentials", client_id=client_id,
                               private_key_env="CONFORMANCE_CLIENT_KEY",
                               signing_algorithm=context.get("signing_algorithm", "ES256"))
        return MCPAuthSpec(flow="client_credentials", client_id=client_id,
                           client_secret_env="CONFORMANCE_CLIENT_SECRET")
    return MCPAuthSpec(
        client_id=client_id,
        client_secret_env="CONFORMANCE_CLIENT_SECRET" if context.get("client_secret") else None,
        client_metadata_url=CIMD_URL)


async def issuer_of(url: str) -> str:
    """The authorization server the resource names (a deployment configures it instead)."""
    origin, _, path = url.partition("://")[2].partition("/")
    scheme = url.partition("://")[0]
    async with httpx.AsyncClient(timeout=20) as client:
        metadata = (await client.get(f"{scheme}://{origin}/.well-known/oauth-protected-resource"
                                     f"/{path}")).json()
    found: str = metadata["authorization_servers"][0]
    return found


async def run(url: str, scenario: str, context: dict[str, Any]) -> None:
    if scenario == "auth/cross-app-access-complete-flow":
        context["auth_issuer"] = await issuer_of(url)
    auth = auth_spec(scenario, context)
    tool, arguments = TOOL_CALLS.get(scenario, ("", {}))
    spec = MCPServerSpec(name="conformance", url=url, auth=auth, timeout_s=20,
                         tools=[{"name": tool or "any"}])  # type: ignore[list-item]
    login = None if auth is None or auth.flow == "client_credentials" else \
        LoopbackLogin(browser, timeout_s=20)
    connection = MCPConnection(spec, Path.cwd(), login=login)
    try:
        schemas = await connection.schemas()
        if not tool and scenario.startswith("auth/") and schemas:
            tool, arguments = sorted(schemas)[0], {}
        if tool:
            await connection.request(tool, arguments, {})
    finally:
        await connection.aclose()


def main() -> int:
    url = sys.argv[-1]
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    with tempfile.TemporaryDirectory() as home:  # the encrypted token store of this run
        os.environ["AGENTPLANE_HOME"] = home
        try:
            asyncio.run(run(url, scenario, context))
        except Exception as exc:
            print(f"{scenario}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
