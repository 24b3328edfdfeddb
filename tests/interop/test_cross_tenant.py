"""Cross-tenant answers over the protocol servers, as over the REST API (tests/server/
test_tenancy.py): an MCP or A2A request naming another tenant's (or another caller's) run gets
exactly the answer a run that does not exist gets, and touches nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from a2a.types import CancelTaskRequest, GetTaskRequest, TaskNotFoundError
from mcp import Client

from agentplane.journal import JournalStore
from agentplane.runtime import Runtime, load_workflow
from agentplane.server.mcp import STATUS_TOOL, build_mcp_server

from . import test_a2a as a2a
from . import test_mcp_server as mcp

# the fixtures of those modules: the A2A server and its clients, a journal
server, sdk, store = a2a.server, a2a.sdk, mcp.store


async def test_mcp_answers_another_tenants_run_as_a_missing_one(store: JournalStore) -> None:
    refund = load_workflow(mcp.REFUND)
    runtime = Runtime(store)
    try:
        theirs = await runtime.run(refund, "Refund order A1", tenant="acme")
    finally:
        await runtime.aclose()
    missing = "run-" + "0" * 12
    tools = build_mcp_server(store, [refund])  # the server's tenant: default
    async with Client(tools) as client:
        for tool, extra in ((STATUS_TOOL, {}), ("refund-desk", {"input": "x"})):
            def arguments(run_id: str, extra: dict[str, str] = extra) -> dict[str, str]:
                return {**extra, "run_id": run_id}

            foreign = await client.call_tool(tool, arguments(theirs.id))
            assert foreign.is_error, tool
            if tool == STATUS_TOOL:
                absent = await client.call_tool(tool, arguments(missing))
                assert mcp.text_of(absent).replace(missing, "ID") == mcp.text_of(foreign).replace(
                    theirs.id, "ID"), tool
            assert "acme" not in mcp.text_of(foreign) and "completed" not in mcp.text_of(foreign)
    after = await store.require_run(theirs.id)
    assert after.last_seq == theirs.last_seq  # not driven, not touched


async def test_a2a_answers_another_callers_task_as_a_missing_one(sdk: Any) -> None:
    mine = await a2a.send(await sdk("refund-desk"), "Refund order A1")
    other_http = httpx.AsyncClient(headers={"X-API-Key": a2a.KEY_B}, timeout=30)
    theirs = await sdk("refund-desk", http_client=other_http)
    missing = "run-" + "0" * 12
    try:
        for method in ("get", "cancel"):
            answers = []
            for ident in (mine.id, missing):
                call = (theirs.get_task(GetTaskRequest(id=ident)) if method == "get"
                        else theirs.cancel_task(CancelTaskRequest(id=ident)))
                with pytest.raises(TaskNotFoundError) as raised:
                    await call
                answers.append((type(raised.value).__name__,
                                str(raised.value).replace(ident, "ID")))
            assert answers[0] == answers[1]
    finally:
        await theirs.close()
        await other_http.aclose()
