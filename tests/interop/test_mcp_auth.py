"""MCP authorization end to end, on loopback: a real OAuth authorization server
(``oauth_issuer``), ``agentplane mcp serve`` as a process accepting its JWTs, and Agentplane's
MCP client obtaining them — a person's one-time login (PKCE, dynamic registration), stored
encrypted and refreshed; client credentials for a worker; clear errors when authorization is
missing. Nothing is mocked: every request crosses a socket.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from cryptography.fernet import Fernet

from agentplane.tools.sources import mcp_auth
from agentplane.tools.sources.mcp import MCPConnection, result_value
from agentplane.tools.sources.mcp_auth import (
    EncryptedTokenStorage,
    LoopbackLogin,
    MCPAuthError,
    MCPAuthRequired,
)
from agentplane.tools.sources.spec import MCPServerSpec

from . import oauth_issuer
from .oauth_issuer import WORKER_ID, WORKER_SECRET, Issuer
from .test_mcp_server import _wait_until_listening, serve_command, server_env
from .test_mcp_server import workdir as workdir  # the fixture: workflows to serve

REFUND = {"input": "Refund order A1"}


@pytest.fixture
def stack(workdir: Path) -> Iterator[tuple[Issuer, str]]:
    """An issuer and ``mcp serve`` accepting its tokens for ``http://127.0.0.1:PORT/mcp``."""
    port = oauth_issuer.free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    with oauth_issuer.serving(url) as issuer:
        env = server_env(workdir, AGENTPLANE_OAUTH_ISSUER=issuer.url,
                         AGENTPLANE_OAUTH_RESOURCE=url)
        log = workdir / "oauth-server.log"
        with log.open("w") as out:
            proc = subprocess.Popen(serve_command(workdir, "--transport", "http", "--port",
                                                  str(port)),
                                    env=env, cwd=workdir, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_until_listening(proc, port, log)
            yield issuer, url
        finally:
            proc.terminate()
            proc.wait(timeout=20)
        for token in issuer.issued:
            assert token not in log.read_text()  # tokens are never logged


@pytest.fixture
def client_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "client-home"
    monkeypatch.setenv("AGENTPLANE_HOME", str(home))
    monkeypatch.delenv("AGENTPLANE_SECRET_KEY", raising=False)
    return home


def server(url: str, auth: dict[str, Any] | None) -> MCPServerSpec:
    return MCPServerSpec.model_validate({"name": "desk", "url": url, "timeout_s": 60,
                                         "auth": auth,
                                         "tools": [{"name": "refund-desk"}]})


async def browser(url: str) -> None:
    """The person approves: the issuer redirects the browser to the loopback callback."""
    async with httpx.AsyncClient(follow_redirects=True, timeout=30) as client:
        assert (await client.get(url)).status_code == 200


@pytest_asyncio.fixture
async def connections() -> AsyncIterator[list[MCPConnection]]:
    opened: list[MCPConnection] = []
    yield opened
    for connection in opened:
        await connection.aclose()


async def refund(connections: list[MCPConnection], spec: MCPServerSpec,
                 login: LoopbackLogin | None = None) -> Any:
    connection = MCPConnection(spec, Path.cwd(), login=login)
    connections.append(connection)
    value = result_value(await connection.request("refund-desk", REFUND, {}))
    assert value["status"] == "completed", value
    return value["output"]


async def test_the_server_publishes_its_resource_metadata_and_challenges_with_it(
        stack: tuple[Issuer, str]) -> None:
    issuer, url = stack
    async with httpx.AsyncClient(timeout=30) as raw:
        metadata = (await raw.get(url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp"))
                    ).json()
        assert metadata["resource"] == url
        assert metadata["authorization_servers"] == [issuer.url]
        assert "agentplane:operator" in metadata["scopes_supported"]
        initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
        refused = await raw.post(url, json=initialize)
        assert refused.status_code == 401
        assert 'resource_metadata="' + url.replace("/mcp", "/.well-known/oauth-protected-"
                                                   "resource/mcp") in refused.headers[
            "www-authenticate"]
        for wrong in (issuer.token("alice", aud="https://elsewhere/mcp"),
                      issuer.token("alice", iss="https://impostor"),
                      issuer.token("alice", exp=1),
                      issuer.token("alice", key=oauth_issuer.Issuer("x", "y").key),
                      issuer.token("alice", scope="profile")):  # grants no role
            answer = await raw.post(url, json=initialize, headers={"Authorization":
                                                                   f"Bearer {wrong}"})
            assert answer.status_code == 401
        other_tenant = issuer.token("alice", tenant="acme")
        answer = await raw.post(url, json=initialize,
                                headers={"Authorization": f"Bearer {other_tenant}"})
        assert answer.status_code == 403 and "another tenant" in answer.text


async def test_a_worker_with_client_credentials_runs_a_workflow(
        stack: tuple[Issuer, str], client_home: Path, monkeypatch: pytest.MonkeyPatch,
        connections: list[MCPConnection]) -> None:
    issuer, url = stack
    monkeypatch.setenv("DESK_SECRET", WORKER_SECRET)
    spec = server(url, {"flow": "client_credentials", "client_id": WORKER_ID,
                        "client_secret_env": "DESK_SECRET", "issuer": issuer.url})
    assert await refund(connections, spec) == "Refunded 20 on order A1."
    assert issuer.asked["client_credentials"] == 1 and issuer.asked["authorize"] == 0
    assert not (client_home / "mcp-auth").exists()  # nothing at rest for a worker

    monkeypatch.setenv("DESK_SECRET", "wrong")
    with pytest.raises(MCPAuthError, match="MCP server desk: authorization failed"):
        await refund(connections, spec)


async def test_a_person_logs_in_once_then_runs_use_and_refresh_the_stored_token(
        stack: tuple[Issuer, str], client_home: Path,
        connections: list[MCPConnection]) -> None:
    issuer, url = stack
    spec = server(url, {"scope": "agentplane:operator"})
    with pytest.raises(MCPAuthRequired) as missing:
        await refund(connections, spec)
    assert str(missing.value) == ("MCP server desk needs authorization: run "
                                  "`agentplane mcp login desk`")
    assert issuer.asked["authorize"] == 0

    assert await refund(connections, spec, LoopbackLogin(browser)) == "Refunded 20 on order A1."
    assert issuer.asked["register"] == 1 and issuer.asked["authorize"] == 1
    stored = EncryptedTokenStorage(url)
    assert stored.path.is_file() and stored.path.stat().st_mode & 0o077 == 0
    at_rest = stored.path.read_bytes()
    assert all(token.encode() not in at_rest for token in issuer.issued)
    assert b"refresh_token" not in at_rest and b"access_token" not in at_rest

    # A run (no person): the stored token is used, no new authorization.
    assert await refund(connections, spec) == "Refunded 20 on order A1."
    assert issuer.asked["authorize"] == 1

    # The token expired: the run refreshes it rather than asking the person again.
    tokens = await stored.get_tokens()
    assert tokens is not None
    await stored.set_tokens(tokens.model_copy(update={"expires_in": -60}))
    assert await refund(connections, spec) == "Refunded 20 on order A1."
    assert issuer.asked["refresh_token"] == 1 and issuer.asked["authorize"] == 1


async def test_tokens_under_another_key_are_a_clear_error(
        stack: tuple[Issuer, str], client_home: Path, monkeypatch: pytest.MonkeyPatch,
        connections: list[MCPConnection]) -> None:
    _, url = stack
    spec = server(url, {})
    await refund(connections, spec, LoopbackLogin(browser))
    monkeypatch.setenv("AGENTPLANE_SECRET_KEY", Fernet.generate_key().decode())
    with pytest.raises(MCPAuthError, match="cannot be decrypted with this key"):
        await refund(connections, spec)
    monkeypatch.setenv("AGENTPLANE_SECRET_KEY", "not-a-key")
    with pytest.raises(MCPAuthError, match="AGENTPLANE_SECRET_KEY is not a Fernet key"):
        await refund(connections, spec)


async def test_a_server_needing_authorization_without_auth_declared_says_so(
        stack: tuple[Issuer, str], client_home: Path,
        connections: list[MCPConnection]) -> None:
    _, url = stack
    with pytest.raises(MCPAuthError) as refused:
        await refund(connections, server(url, None))
    assert "ExceptionGroup" not in str(refused.value)
    assert str(refused.value) == (
        "MCP server desk needs authorization (HTTP 401): declare `auth:` for it in the "
        "workflow, then run `agentplane mcp login desk`")


CLI = "from agentplane.cli import main; main()"
BROWSER = """
import sys, httpx
httpx.get(sys.argv[1], follow_redirects=True, timeout=30).raise_for_status()
"""


async def test_mcp_login_authorizes_once_for_later_runs(
        stack: tuple[Issuer, str], client_home: Path, tmp_path: Path,
        connections: list[MCPConnection]) -> None:
    """The command as a person runs it; their browser is a program following the redirect."""
    issuer, url = stack
    (tmp_path / "browser.py").write_text(BROWSER, encoding="utf-8")
    workflow = tmp_path / "desk.yaml"
    workflow.write_text(f"mcp_servers:\n  - name: desk\n    url: {url}\n    auth: {{}}\n"
                        "    tools: [{name: refund-desk}]\n", encoding="utf-8")
    env = dict(os.environ, AGENTPLANE_HOME=str(client_home), COLUMNS="400",
               BROWSER=f"{sys.executable} {tmp_path / 'browser.py'} %s")
    done = await asyncio.to_thread(subprocess.run, [
        sys.executable, "-c", CLI, "mcp", "login", "desk", "--workflow",
        str(workflow)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Authorized at MCP server desk" in done.stderr
    assert issuer.asked["authorize"] == 1
    assert all(token not in done.stdout + done.stderr for token in issuer.issued)
    assert await refund(connections, server(url, {})) == "Refunded 20 on order A1."
    assert issuer.asked["authorize"] == 1

    missing = await asyncio.to_thread(subprocess.run, [
        sys.executable, "-c", CLI, "mcp", "login", "nowhere"], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=120)
    assert missing.returncode != 0
    assert "declares an MCP server 'nowhere'" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_a_step_up_a_run_cannot_do_says_more_scope_is_needed() -> None:
    spec = server("http://127.0.0.1:1/mcp", {})
    group = ExceptionGroup("unhandled errors in a TaskGroup", [MCPAuthRequired("desk")])
    stepped = mcp_auth.explain(group, spec, refused=403)
    assert isinstance(stepped, MCPAuthRequired)
    assert str(stepped) == ("MCP server desk needs authorization with more scope (the server "
                            "answered 403 insufficient_scope): run `agentplane mcp login desk`")
    assert str(mcp_auth.explain(group, spec, refused=401)) == (
        "MCP server desk needs authorization: run `agentplane mcp login desk`")
    assert mcp_auth.explain(ExceptionGroup("x", [ValueError("unrelated")]), spec) is None
