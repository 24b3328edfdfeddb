"""MCP servers' tools in workflows, over real stdio and streamable-HTTP servers on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentplane.journal import EventType, JournalStore
from agentplane.runtime import Runtime, SpecError, Workflow, workflow_from_dict
from agentplane.runtime.context import idempotency_key
from agentplane.server.plane import Plane
from agentplane.tools.sources.mcp import MCPError, MCPPool

HERE = Path(__file__).parent
SERVER = str(HERE / "notes_server.py")


def stdio_server(ledger: Path, **extra: Any) -> dict[str, Any]:
    return {"name": "notes", "command": [sys.executable, SERVER],
            "env": {"NOTES_LEDGER": str(ledger)},
            "tools": [{"name": "read_note", "effect": "read"},
                      {"name": "write_note", "effect": "write", "idempotent": True},
                      {"name": "fetch_page", "effect": "read"},
                      {"name": "slow", "effect": "read"},
                      {"name": "crash", "effect": "read"}], **extra}


def flow(server: dict[str, Any], script: list[dict[str, Any]], **extra: Any) -> Workflow:
    tools = [server["name"] + "_" + t["name"] for t in server["tools"]]
    return workflow_from_dict({"name": "mcp-flow", "autonomy": "out_of_the_loop",
                               "mcp_servers": [server],
                               "agents": [{"name": "a", "tools": tools, "script": script}],
                               "steps": [{"agent": "a"}], **extra}, HERE)


def call(tool: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": tool, "arguments": arguments}]}


async def run(store: JournalStore, wf: Workflow, input: Any = "go") -> tuple[str, list[Any]]:
    runtime = Runtime(store)
    record = await runtime.run(wf, input)
    await runtime.aclose()
    return record.status, await store.events(record.id)


async def test_stdio_server_tools_are_durable_steps(store: JournalStore, ledger: Path) -> None:
    wf = flow(stdio_server(ledger), [call("notes_read_note", name="launch"),
                                     call("notes_write_note", name="todo", text="ship"),
                                     {"content": "noted"}])
    status, events = await run(store, wf, "Read the launch note, then note a todo: ship")
    assert status == "completed"
    done = [e for e in events if e.type == EventType.TOOL_COMPLETED]
    assert done[0].data["result"] == {"result": "note launch: the launch is on Friday"}
    assert done[1].data["result"]["written"] == "todo"
    key = idempotency_key(events[0].run_id, "s0/a/m2/t0")
    assert ledger.read_text().splitlines() == [f"write todo {key}"]  # key reached the server


async def test_results_are_untrusted_and_governed(store: JournalStore, ledger: Path) -> None:
    server = stdio_server(ledger)
    wf = flow(server, [call("notes_fetch_page", url="https://example.com/notes"),
                       call("notes_write_note", name="DE89370400440532013000", text="pay"),
                       {"content": "done"}])
    status, events = await run(store, wf, "Summarise the release notes")
    assert status == "completed"  # out of the loop: the injected IBAN is refused, the agent told
    decision = next(e for e in events if e.type == EventType.GUARD_DECIDED
                    and e.data["result"] != "allow")
    assert decision.data["guardian"] == "provenance" and decision.data["result"] == "deny"
    assert "notes_fetch_page" in decision.data["reason"]
    assert not ledger.exists()


async def test_a_server_that_dies_mid_call_is_reconnected(store: JournalStore,
                                                          ledger: Path) -> None:
    wf = flow(stdio_server(ledger), [call("notes_crash"), call("notes_read_note", name="x"),
                                     {"content": "recovered"}])
    runtime = Runtime(store)
    record = await runtime.run(wf, "go")
    pool = runtime.sources.source("mcp_servers")
    assert isinstance(pool, MCPPool)
    [connection] = pool._connections.values()
    connects = connection.connects
    await runtime.aclose()
    events = await store.events(record.id)
    assert record.status == "completed"
    failed = next(e for e in events if e.type == EventType.TOOL_FAILED)
    assert "notes.crash did not answer" in failed.data["error"]
    assert [e.data["result"] for e in events if e.type == EventType.TOOL_COMPLETED] == [
        {"result": "note x: the launch is on Friday"}]
    assert connects == 2  # a fresh session after the crash
    assert ledger.read_text().splitlines() == ["crash"]


async def test_a_slow_call_times_out_cleanly(store: JournalStore, ledger: Path) -> None:
    wf = flow(stdio_server(ledger, timeout_s=0.5), [call("notes_slow", seconds=5),
                                                     {"content": "gave up"}])
    status, events = await run(store, wf)
    assert status == "completed"
    failed = next(e for e in events if e.type == EventType.TOOL_FAILED)
    assert "notes.slow did not answer" in failed.data["error"]


async def test_an_undeclared_or_missing_tool_is_a_clear_error(store: JournalStore,
                                                              ledger: Path) -> None:
    server = stdio_server(ledger)
    server["tools"] = [*server["tools"], {"name": "nonesuch", "effect": "read"}]
    wf = flow(server, [{"content": "x"}])
    runtime = Runtime(store)
    try:  # at load time, before any run is created, naming what the server does offer
        with pytest.raises(MCPError, match=r"MCP server notes has no tool 'nonesuch'; it "
                                           r"lists: crash, fetch_page, pay, pay_noted, "
                                           r"read_note, slow, summarise, write_note"):
            await runtime.run(wf, "go")
        with pytest.raises(MCPError, match="has no tool 'nonesuch'"):
            await runtime.start(wf, "go")
    finally:
        await runtime.aclose()
    assert await store.list_runs() == []
    plane = Plane.open(store, runtime=Runtime(store), worker=False)
    plane.workflows[wf.spec.name] = wf
    with pytest.raises(MCPError, match="has no tool 'nonesuch'"):  # serve refuses to start
        await plane.start()
    await plane.runtime.aclose()
    plane.keys.close()
    assert await store.list_runs() == []
    with pytest.raises(SpecError, match="unknown tool 'notes_delete'"):
        workflow_from_dict({"name": "f", "mcp_servers": [stdio_server(ledger)],
                            "agents": [{"name": "a", "tools": ["notes_delete"],
                                        "script": [{"content": "x"}]}],
                            "steps": [{"agent": "a"}]}, HERE)
    with pytest.raises(SpecError, match="exactly one of command"):
        workflow_from_dict({"name": "f", "mcp_servers": [{"name": "x", "tools": [
            {"name": "t"}]}], "agents": [{"name": "a", "script": [{"content": "x"}]}],
            "steps": [{"agent": "a"}]}, HERE)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def http_server(ledger: Path) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, SERVER, "http", str(port)],
                            env={**os.environ, "NOTES_LEDGER": str(ledger)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        else:
            raise AssertionError("the MCP HTTP server did not start")
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.kill()
        proc.wait(timeout=10)


async def test_streamable_http_server(store: JournalStore, ledger: Path, http_server: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTES_TOKEN", "s3cret-token")
    server = {"name": "remote", "url": http_server, "trust": "trusted",
              "headers": {"Authorization": "Bearer ${NOTES_TOKEN}"},
              "tools": [{"name": "read_note", "effect": "read"},
                        {"name": "write_note", "effect": "write"}]}
    wf = flow(server, [call("remote_read_note", name="plan"),
                       call("remote_write_note", name="plan", text="go"), {"content": "ok"}])
    status, events = await run(store, wf)
    assert status == "completed"
    results = [e.data["result"] for e in events if e.type == EventType.TOOL_COMPLETED]
    assert results[0] == {"result": "note plan: the launch is on Friday"}
    assert ledger.read_text().startswith("write plan idem-")
    assert not any("s3cret-token" in str(e.data) for e in events)
