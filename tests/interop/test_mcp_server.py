"""Agentplane's workflows as MCP tools, served by real processes over stdio and streamable HTTP
on loopback and called with the official MCP client.

The servers are started as ``agentplane mcp serve`` would start them (``cli.mcp.main``), each
on a database of its own, and stopped at the end of each test. Every workflow runs on the
scripted model: nothing leaves the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import mcp_types as types
import pytest
import pytest_asyncio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from agentplane.errors import ConfigError
from agentplane.governance.keys import KeyRing
from agentplane.journal import EventType, JournalStore, SQLiteJournal, open_store, verify
from agentplane.runtime import Runtime, Workflow, load_workflow
from agentplane.server.mcp import (
    LIST_TOOL,
    STATUS_TOOL,
    build_mcp_server,
    token_guard,
    tool_name,
)

REPO = Path(__file__).resolve().parents[2]
REFUND = REPO / "examples" / "refund-desk" / "workflow.yaml"
SERVE = "from agentplane.cli.mcp import main; main()"
TOKEN = "s3cret-token-for-tests"
TIMEOUT = 60.0
"""Seconds any one MCP request may take before the test fails (a bound, never asserted)."""

PAY_TOOLS = '''
def pay(invoice: str, amount: float) -> dict[str, object]:
    """Pay an invoice."""
    return {"paid": invoice, "amount": amount}
'''
PAY_DESK = """
name: pay-desk
description: Pays an invoice once a person approves the payment.
autonomy: in_the_loop
tools:
  - {name: pay, python: "tools:pay", effect: irreversible}
agents:
  - name: payer
    tools: [pay]
    script:
      - tool_calls: [{name: pay, arguments: {invoice: INV-1, amount: 12}}]
      - content: "Paid INV-1."
steps:
  - agent: payer
"""
BROKEN_DESK = """
name: broken-desk
description: A desk whose model provider is down.
agents:
  - name: clerk
    script:
      - error: "the model provider is down"
steps:
  - agent: clerk
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "tools.py").write_text(PAY_TOOLS, encoding="utf-8")
    (tmp_path / "pay.yaml").write_text(PAY_DESK, encoding="utf-8")
    (tmp_path / "broken.yaml").write_text(BROKEN_DESK, encoding="utf-8")
    return tmp_path


def db_url(workdir: Path) -> str:
    return f"sqlite:///{workdir / 'agentplane.db'}"


def server_env(workdir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AGENTPLANE_") and k != "REFUND_LEDGER"}
    env.update(AGENTPLANE_HOME=str(workdir / "home"), REFUND_LEDGER=str(workdir / "ledger.jsonl"),
               AGENTPLANE_USER="mcp-tester", **extra)
    return env


def serve_command(workdir: Path, *options: str) -> list[str]:
    return [sys.executable, "-c", SERVE, str(REFUND), str(workdir / "pay.yaml"),
            str(workdir / "broken.yaml"), "--db", db_url(workdir), *options]


def text_of(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


def structured(result: types.CallToolResult) -> dict[str, Any]:
    assert isinstance(result.structured_content, dict), result
    return result.structured_content


@contextlib.asynccontextmanager
async def journal(workdir: Path) -> AsyncIterator[JournalStore]:
    store = open_store(db_url(workdir))
    try:
        yield store
    finally:
        await store.close()


# -- the server as a process --------------------------------------------------------------------


@contextlib.asynccontextmanager
async def stdio_client_for(workdir: Path, mode: str = "auto") -> AsyncIterator[Client]:
    """A client of ``mcp serve`` over stdio; the SDK stops the process when the client exits."""
    params = StdioServerParameters(command=sys.executable, args=serve_command(workdir)[1:],
                                   env=server_env(workdir), cwd=str(workdir))
    with (workdir / "stdio-server.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode=mode,
                          read_timeout_seconds=TIMEOUT) as client:
            yield client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_until_listening(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    for _ in range(600):  # a bound on the wait, not a timing assertion
        if proc.poll() is not None:
            pytest.fail(f"the MCP server exited ({proc.returncode}):\n{log.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port),
                                                                    timeout=1):
            return
        time.sleep(0.1)
    pytest.fail(f"the MCP server never listened on port {port}:\n{log.read_text()}")


@contextlib.contextmanager
def http_server(workdir: Path, *, token: str | None = None) -> Iterator[str]:
    """``mcp serve --transport http`` on a free loopback port; yields its MCP URL."""
    port = free_port()
    env = server_env(workdir, **({"AGENTPLANE_MCP_TOKEN": token} if token else {}))
    log = workdir / "http-server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(serve_command(workdir, "--transport", "http", "--port", str(port)),
                                env=env, cwd=workdir, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_until_listening(proc, port, log)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)
    assert TOKEN not in log.read_text()  # the token is never logged


@contextlib.asynccontextmanager
async def http_client(url: str, *, mode: str = "auto", token: str | None = None
                      ) -> AsyncIterator[Client]:
    """A client of the server at ``url``, sending ``token`` as a bearer token if given."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(TIMEOUT)) as http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode=mode, read_timeout_seconds=TIMEOUT) as client:
            yield client


# -- over stdio ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "revision"), [("auto", "2026-07-28"), ("legacy", "2025-11-25")])
async def test_stdio_lists_the_workflows_and_runs_one_to_its_output(
        workdir: Path, mode: str, revision: str) -> None:
    async with stdio_client_for(workdir, mode) as client:
        assert client.protocol_version == revision
        listing = await client.list_tools()
        tools = {t.name: t for t in listing.tools}
        assert set(tools) == {"refund-desk", "pay-desk", "broken-desk", STATUS_TOOL, LIST_TOOL}
        pay = tools["pay-desk"]
        assert pay.description is not None
        assert pay.description.startswith("Pays an invoice once a person approves")
        assert pay.input_schema["required"] == ["input"]
        assert set(pay.input_schema["properties"]) == {"input", "run_id"}

        result = await client.call_tool("refund-desk", {"input": "Refund order A1"})
        assert not result.is_error, text_of(result)
        assert text_of(result) == "Refunded 20 on order A1."
        state = structured(result)
        assert state["status"] == "completed" and state["output"] == "Refunded 20 on order A1."

        listed = structured(await client.call_tool(LIST_TOOL, {}))
        assert [w["workflow"] for w in listed["workflows"]] == ["refund-desk", "pay-desk",
                                                                "broken-desk"]

    async with journal(workdir) as store:  # the run is in the journal, its chain intact
        run = await store.require_run(state["run_id"])
        assert run.workflow == "refund-desk" and run.status == "completed"
        assert run.input == "Refund order A1"
        events = await store.events(run.id)
        assert events[-1].type == EventType.RUN_COMPLETED
        assert (await verify(store, [run.id])).ok
    [refund] = [json.loads(line) for line in
                (workdir / "ledger.jsonl").read_text().splitlines()]
    assert refund["order_id"] == "A1" and refund["amount"] == 20


async def test_stdio_a_run_waiting_for_approval_is_a_reference_to_poll(workdir: Path) -> None:
    async with stdio_client_for(workdir) as client:
        result = await client.call_tool("pay-desk", {"input": "Pay INV-1", "run_id": "pay-1"})
        assert not result.is_error, text_of(result)
        state = structured(result)
        assert state["run_id"] == "pay-1" and state["status"] == "waiting"
        [approval] = state["approvals"]
        assert approval["kind"] == "tool_call" and approval["tool"] == "pay"
        assert approval["arguments"] == {"invoice": "INV-1", "amount": 12}
        assert "in_the_loop" in approval["reason"]
        assert "agentplane approvals approve" in state["hint"]
        assert approval["id"] in text_of(result)

        polled = structured(await client.call_tool(STATUS_TOOL, {"run_id": "pay-1"}))
        assert polled["status"] == "waiting"
        assert [a["id"] for a in polled["approvals"]] == [approval["id"]]

        async with journal(workdir) as store:  # a person approves, from another process
            runtime = Runtime(store)
            try:
                await runtime.decide(approval["id"], approve=True, actor="user:ana")
                assert (await runtime.execute("pay-1")).status == "completed"
            finally:
                await runtime.aclose()

        done = await client.call_tool(STATUS_TOOL, {"run_id": "pay-1"})
        assert not done.is_error
        assert structured(done) == {"run_id": "pay-1", "workflow": "pay-desk",
                                    "status": "completed", "output": "Paid INV-1."}
        # Calling again with the same run id starts nothing new: it reports the run.
        again = await client.call_tool("pay-desk", {"input": "Pay INV-1", "run_id": "pay-1"})
        assert structured(again)["status"] == "completed" and text_of(again) == "Paid INV-1."

    async with journal(workdir) as store:
        assert [r.id for r in await store.list_runs()] == ["pay-1"]


async def test_stdio_a_run_approved_meanwhile_goes_on_when_called_again(workdir: Path) -> None:
    async with stdio_client_for(workdir) as client:
        waiting = structured(await client.call_tool("pay-desk", {"input": "x", "run_id": "p2"}))
        async with journal(workdir) as store:  # approved without resuming the run
            runtime = Runtime(store)
            try:
                await runtime.decide(waiting["approvals"][0]["id"], approve=True,
                                     actor="user:ana")
            finally:
                await runtime.aclose()
        pending = structured(await client.call_tool(STATUS_TOOL, {"run_id": "p2"}))
        assert pending["status"] == "pending" and "run_id" in pending["hint"]
        resumed = await client.call_tool("pay-desk", {"input": "x", "run_id": "p2"})
        assert structured(resumed)["status"] == "completed"
        assert text_of(resumed) == "Paid INV-1."


async def test_stdio_a_failed_run_is_a_tool_error(workdir: Path) -> None:
    async with stdio_client_for(workdir) as client:
        result = await client.call_tool("broken-desk", {"input": "help"})
        assert result.is_error
        assert "the model provider is down" in text_of(result)
        state = structured(result)
        assert state["status"] == "failed"
        status = await client.call_tool(STATUS_TOOL, {"run_id": state["run_id"]})
        assert not status.is_error and structured(status)["status"] == "failed"

        unknown = await client.call_tool(STATUS_TOOL, {"run_id": "run-nope"})
        assert unknown.is_error and "run-nope" in text_of(unknown)
        bad = await client.call_tool("refund-desk", {"inptu": "typo"})
        assert bad.is_error and "inptu" in text_of(bad)
        other = await client.call_tool("refund-desk", {"input": "x", "run_id": state["run_id"]})
        assert other.is_error and "taken by a run this tool cannot continue" in text_of(other)
        with pytest.raises(MCPError, match="unknown tool"):
            await client.call_tool("no-such-desk", {"input": "x"})


# -- over streamable HTTP -----------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "revision"), [("auto", "2026-07-28"), ("legacy", "2025-11-25")])
async def test_http_runs_a_workflow(workdir: Path, mode: str, revision: str) -> None:
    with http_server(workdir) as url:
        async with http_client(url, mode=mode) as client:
            assert client.protocol_version == revision
            result = await client.call_tool("refund-desk", {"input": "Refund order A1",
                                                            "run_id": "refund-1"})
            assert not result.is_error, text_of(result)
            assert text_of(result) == "Refunded 20 on order A1."
            waiting = structured(await client.call_tool("pay-desk", {"input": "Pay"}))
            assert waiting["status"] == "waiting" and len(waiting["approvals"]) == 1
    async with journal(workdir) as store:
        assert (await store.require_run("refund-1")).status == "completed"


async def test_http_with_a_token_refuses_requests_without_it(workdir: Path) -> None:
    with http_server(workdir, token=TOKEN) as url:
        async with httpx.AsyncClient(timeout=TIMEOUT) as raw:
            initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                refused = await raw.post(url, json=initialize, headers=headers)
                assert refused.status_code == 401
                assert refused.headers["www-authenticate"].startswith("Bearer")
                assert TOKEN not in refused.text

        for wrong in (None, "wrong"):
            with pytest.raises(ExceptionGroup) as no_entry:
                async with http_client(url, token=wrong) as client:
                    await client.list_tools()
            assert no_entry.group_contains(MCPError)

        async with http_client(url, token=TOKEN) as client:
            result = await client.call_tool("refund-desk", {"input": "Refund order A1"})
            assert text_of(result) == "Refunded 20 on order A1."


async def test_http_takes_the_servers_api_keys_by_role(workdir: Path) -> None:
    ring = KeyRing(db_url(workdir).removeprefix("sqlite:///"))
    operator = ring.create("mcp client", role="operator")[1]
    viewer = ring.create("dashboard", role="viewer")[1]
    ring.close()
    with http_server(workdir) as url:  # no AGENTPLANE_MCP_TOKEN: the key ring guards it
        initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
        async with httpx.AsyncClient(timeout=TIMEOUT) as raw:
            for key, code in ((None, 401), ("ap_wrong_key", 401), (viewer, 403)):
                headers = {"Authorization": f"Bearer {key}"} if key else {}
                assert (await raw.post(url, json=initialize, headers=headers)).status_code == code
            refused = await raw.post(url, json=initialize, headers={"X-API-Key": viewer})
            assert refused.status_code == 403 and "'run' permission" in refused.text
        async with http_client(url, token=operator) as client:
            result = await client.call_tool("refund-desk", {"input": "Refund order A1"})
            assert text_of(result) == "Refunded 20 on order A1."


# -- in process ---------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[JournalStore]:
    journal = SQLiteJournal(tmp_path / "inproc.db")
    yield journal
    await journal.close()


def workflows(workdir: Path) -> list[Workflow]:
    return [load_workflow(REFUND), load_workflow(workdir / "pay.yaml")]


async def test_each_agent_can_be_a_tool_of_its_own(workdir: Path, store: JournalStore,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFUND_LEDGER", str(workdir / "ledger.jsonl"))
    server = build_mcp_server(store, workflows(workdir), agents=True)
    async with Client(server, read_timeout_seconds=TIMEOUT) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        assert names == ["refund-desk", "refund-desk__clerk", "pay-desk", "pay-desk__payer",
                         STATUS_TOOL, LIST_TOOL]
        result = await client.call_tool("refund-desk__clerk", {"input": "Refund order A1"})
        assert text_of(result) == "Refunded 20 on order A1."
        run_id = structured(result)["run_id"]
        assert structured(await client.call_tool(STATUS_TOOL, {"run_id": run_id}))[
            "workflow"] == "refund-desk__clerk"
        listed = structured(await client.call_tool(LIST_TOOL, {}))["workflows"]
        assert [w["agent"] for w in listed] == [None, "clerk", None, "payer"]


async def test_status_shows_only_runs_of_the_exposed_workflows(workdir: Path,
                                                               store: JournalStore) -> None:
    runtime = Runtime(store)
    try:
        other = await runtime.run(load_workflow(workdir / "broken.yaml"), "x")
    finally:
        await runtime.aclose()
    async with Client(build_mcp_server(store, workflows(workdir))) as client:
        hidden = await client.call_tool(STATUS_TOOL, {"run_id": other.id})
        assert hidden.is_error and "no run" in text_of(hidden)
        assert (await client.call_tool(STATUS_TOOL, {})).is_error
        assert (await client.call_tool(LIST_TOOL, {"x": 1})).is_error


def test_tool_names_follow_the_mcp_rules(store: JournalStore) -> None:
    assert tool_name("refund-desk") == "refund-desk"
    assert tool_name("caf\u00e9 desk") == "caf__desk"
    refund = load_workflow(REFUND)
    with pytest.raises(ConfigError, match="exposed twice"):
        build_mcp_server(store, [refund, refund])


def test_the_token_guard_never_shows_the_token() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    guard = token_guard(app, TOKEN)
    assert TOKEN not in repr(guard) and TOKEN not in str(vars(guard).get("app"))
    with pytest.raises(ConfigError):
        token_guard(app, "")


def test_the_command_reports_a_bad_workflow_file_without_a_traceback(workdir: Path) -> None:
    result = subprocess.run([sys.executable, "-c", SERVE, str(workdir / "missing.yaml")],
                            env=server_env(workdir), capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 2
    assert "missing.yaml" in result.stderr and "Traceback" not in result.stderr
    empty_token = subprocess.run(serve_command(workdir, "--transport", "http"),
                                 env=server_env(workdir, AGENTPLANE_MCP_TOKEN=" "),
                                 capture_output=True, text=True, timeout=120, check=False)
    assert empty_token.returncode == 2 and "AGENTPLANE_MCP_TOKEN" in empty_token.stderr
