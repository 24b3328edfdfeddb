"""Tools from MCP servers, through the official ``mcp`` SDK.

Each server gets one connection, owned by one task: the SDK's session is entered and left on
that task (as its cancel scopes require), and calls reach it through a queue. A call that fails
on the transport, or times out, fails that call and closes the session; the next call opens a
new one. Tool calls are durable steps like any other (the runtime journals them), their results
are untrusted unless the workflow says otherwise, and governance applies to them unchanged.

Calls on a connection are answered one at a time, so what a server asks during a call belongs
to that call's agent: a completion (``sampling/createMessage``) goes to the agent's model
(``ToolContext.sample``), a question (``elicitation/create``) to a person (``ToolContext.ask``,
a durable wait: the call stops and is made again when the run resumes).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentplane.errors import AgentplaneError
from agentplane.tools import Tool, ToolContext, ToolError
from agentplane.tools.base import Ask, AskRequest, Sample, SampleRequest

from . import mcp_auth
from .base import SourceHost, SourceSite
from .spec import MCPServerSpec, MCPToolSpec

IDEMPOTENCY_META = "io.agentplane/idempotency-key"
"""``_meta`` key carrying the call's idempotency key to the server."""
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class MCPError(AgentplaneError):
    """An MCP server could not be reached or did not answer as the protocol says."""


def expand(value: str, where: str) -> str:
    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise MCPError(f"{where} needs the environment variable {name}, which is not set")
        return os.environ[name]

    return _VAR.sub(sub, value)


@dataclass
class _Call:
    tool: str
    arguments: dict[str, Any]
    meta: dict[str, Any]
    done: asyncio.Future[Any]
    sample: Sample | None = None
    """The calling agent's model, for the server's sampling requests during this call."""
    ask: Ask | None = None
    """A person, for the server's questions (elicitation) during this call."""
    interrupt: BaseException | None = None
    """Why the call stopped on our side (the run waits for a person's answer)."""


@dataclass
class MCPConnection:
    """One MCP server, reached through a task that owns its session."""

    spec: MCPServerSpec
    base_dir: Path
    login: mcp_auth.LoopbackLogin | None = None
    """A person at hand to authorize (``mcp login``); a run has none and fails clearly."""
    _auth: Any = None
    """The OAuth provider of the current session, if any."""
    _refused: int | None = None
    """The last 401 or 403 of the current session."""
    _queue: asyncio.Queue[_Call | None] = field(default_factory=asyncio.Queue)
    _task: asyncio.Task[None] | None = None
    _schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    _current: _Call | None = None
    """The call in flight (calls are answered one at a time): its agent samples."""
    connects: int = 0
    """How many sessions were opened (reconnects show here)."""

    async def _transport(self, redirect_uri: str | None) -> Any:
        from mcp import StdioServerParameters
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client

        where = f"MCP server {self.spec.name}"
        if self.spec.command is not None:
            command = [expand(part, where) for part in self.spec.command]
            env = {k: expand(v, where) for k, v in self.spec.env.items()}
            return StdioServerParameters(command=command[0], args=command[1:],
                                         env=env or None, cwd=str(self.base_dir))
        assert self.spec.url is not None
        headers = {k: expand(v, where) for k, v in self.spec.headers.items()}
        auth = self._auth = await mcp_auth.provider(self.spec, login=self.login,
                                                    redirect_uri=redirect_uri)
        http = create_mcp_http_client(headers=headers, auth=auth)
        self._refused = None

        async def note_refusal(response: Any) -> None:  # the transport hides the status
            if response.status_code in (401, 403):
                self._refused = response.status_code

        http.event_hooks["response"].append(note_refusal)
        return streamable_http_client(self.spec.url, http_client=http)

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[Any]:
        from mcp import Client

        with contextlib.ExitStack() as stack:
            redirect_uri = None if self.login is None else stack.enter_context(
                self.login.listening())
            try:
                async with Client(await self._transport(redirect_uri),
                                  read_timeout_seconds=self.spec.timeout_s,
                                  sampling_callback=self._sample,
                                  elicitation_callback=self._elicit) as client:
                    self.connects += 1
                    listed = await client.list_tools()
                    self._schemas = {t.name: dict(t.input_schema or {}) for t in listed.tools}
                    yield client
            except Exception as exc:
                clear = mcp_auth.explain(exc, self.spec, self._auth, self._refused)
                if clear is None:
                    raise
                raise clear from exc

    async def _serve(self) -> None:
        call = await self._queue.get()
        while call is not None:
            try:
                async with self._session() as client:
                    while call is not None:
                        if call.tool:
                            await self._answer(client, call)
                        elif not call.done.done():
                            call.done.set_result(None)  # a "connect" request
                        call = await self._queue.get()
            except Exception as exc:  # the session broke: fail this call, reconnect for the next
                if call is not None and not call.done.done():
                    call.done.set_exception(exc if isinstance(exc, mcp_auth.MCPAuthError) else
                                            MCPError(f"MCP server {self.spec.name} failed: "
                                                     f"{type(exc).__name__}: {exc}"))
                call = await self._queue.get()

    async def _sample(self, context: Any, params: Any) -> Any:
        """``sampling/createMessage``: answered by the model of the agent whose call is in
        flight (``ToolContext.sample``); refused outside a call, or when that is refused."""
        from mcp import types

        call = self._current
        if call is None or call.sample is None:
            return types.ErrorData(code=types.INVALID_REQUEST, message=(
                "sampling is answered only during a tool call made by an agent"))
        if params.tools:
            return types.ErrorData(code=types.INVALID_PARAMS, message=(
                "sampling with tools is not supported by this client"))
        asked = SampleRequest(tuple((m.role, _text(m.content)) for m in params.messages),
                              system=params.system_prompt, max_tokens=params.max_tokens,
                              asked_by=f"MCP server {self.spec.name}")
        try:
            reply = await call.sample(asked)
        except ToolError as exc:
            return types.ErrorData(code=types.INVALID_REQUEST, message=str(exc))
        return types.CreateMessageResult(role="assistant", model=reply.model,
                                         content=types.TextContent(type="text", text=reply.text),
                                         stop_reason="endTurn")

    async def _elicit(self, context: Any, params: Any) -> Any:
        """``elicitation/create``: the question goes to a person (``ToolContext.ask``); until
        answered the call stops and the run waits (``interrupt``)."""
        from mcp import types

        call = self._current
        schema = getattr(params, "requested_schema", None)
        if call is None or call.ask is None or schema is None:
            return types.ErrorData(code=types.INVALID_REQUEST, message=(
                "only form questions during a tool call made by an agent are answered"))
        try:
            answer = await call.ask(AskRequest(params.message, dict(schema),
                                               asked_by=f"MCP server {self.spec.name}"))
        except ToolError as exc:
            return types.ErrorData(code=types.INVALID_PARAMS, message=str(exc))
        except Exception as exc:  # the runtime's suspension: a person has not answered yet
            call.interrupt = exc
            return types.ErrorData(code=types.INVALID_REQUEST,
                                   message="waiting for a person's answer")
        return types.ElicitResult(action=answer["action"], content=answer.get("content"))

    async def _answer(self, client: Any, call: _Call) -> None:
        self._current = call
        try:
            result = await client.call_tool(call.tool, call.arguments,
                                            read_timeout_seconds=self.spec.timeout_s,
                                            meta=call.meta or None)
        except Exception as exc:
            if call.interrupt is not None:  # stopped for a person's answer: the session is fine
                call.done.set_exception(call.interrupt)
                return
            if not call.done.done():
                call.done.set_exception(ToolError(
                    f"{self.spec.name}.{call.tool} did not answer: {type(exc).__name__}: {exc}"))
            raise  # close this session; the next call opens a fresh one
        finally:
            self._current = None
        if not call.done.done():
            if call.interrupt is not None:
                call.done.set_exception(call.interrupt)
            else:
                call.done.set_result(result)

    async def request(self, tool: str, arguments: dict[str, Any], meta: dict[str, Any],
                      sample: Sample | None = None, ask: Ask | None = None) -> Any:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._serve(), name=f"mcp:{self.spec.name}")
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Call(tool, arguments, meta, done, sample, ask))
        return await done

    async def schemas(self) -> dict[str, dict[str, Any]]:
        """The servers' tools' input schemas (connecting if needed)."""
        if not self._schemas:
            await self.request("", {}, {})
        return self._schemas

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            await self._queue.put(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, timeout=10)
        self._task = None


def _text(content: Any) -> str:
    """The text of a sampling message's content (one block or a list); other blocks are
    named, not sent (the model gets text)."""
    blocks = content if isinstance(content, list) else [content]
    return "\n".join(b.text if getattr(b, "type", "") == "text" else f"[{b.type} omitted]"
                     for b in blocks)


def result_value(result: Any) -> Any:
    """An MCP tool result as a JSON value: structured content, else the text, else the blocks."""
    if getattr(result, "structured_content", None) is not None:
        return result.structured_content
    texts = [getattr(block, "text", None) for block in result.content]
    if texts and all(isinstance(t, str) for t in texts):
        return "\n".join(t for t in texts if t is not None)
    # Images and resources stay MCP content blocks (as on the wire): models that take
    # images get them as images (models/rich.py), others read the JSON.
    return [block.model_dump(mode="json", by_alias=True, exclude_none=True)
            for block in result.content]


def mcp_tool(connection: MCPConnection, declared: MCPToolSpec,
             parameters: dict[str, Any] | None = None) -> Tool:
    """A ``Tool`` that calls ``declared`` on the connection's server."""
    spec = connection.spec

    async def invoke(arguments: dict[str, Any], context: ToolContext) -> Any:
        result = await connection.request(declared.name, arguments,
                                          {IDEMPOTENCY_META: context.idempotency_key},
                                          context.sample, context.ask)
        if getattr(result, "is_error", False):
            raise ToolError(f"{spec.name}.{declared.name}: {result_value(result)}")
        return result_value(result)

    return Tool(
        name=spec.exposed(declared.name),
        description=f"{declared.name} (from MCP server {spec.name})",
        parameters=parameters or {"type": "object"},
        invoke=invoke, effect=declared.effect, idempotent=declared.idempotent,
        trust=declared.trust or spec.trust, external=declared.external,
        cost_usd=declared.cost_usd,
        composed=None if declared.composed is None else tuple(declared.composed),
        destination=None if declared.destination is None else tuple(declared.destination),
    )


@dataclass
class MCPPool:
    """The MCP connections of a runtime, one per (workflow folder, server), closed together."""

    _connections: dict[tuple[str, str], MCPConnection] = field(default_factory=dict)

    def connection(self, spec: MCPServerSpec, base_dir: Path) -> MCPConnection:
        key = (str(base_dir), spec.model_dump_json())
        if key not in self._connections:
            self._connections[key] = MCPConnection(spec, base_dir)
        return self._connections[key]

    async def tools(self, specs: list[MCPServerSpec], base_dir: Path) -> dict[str, Tool]:
        """The declared tools of these servers, with the input schemas the servers list."""
        tools: dict[str, Tool] = {}
        for spec in specs:
            connection = self.connection(spec, base_dir)
            schemas = await connection.schemas()
            for declared in spec.tools:
                if declared.name not in schemas:
                    raise MCPError(
                        f"MCP server {spec.name} has no tool {declared.name!r}; it lists: "
                        f"{', '.join(sorted(schemas)) or 'none'}")
                tools[spec.exposed(declared.name)] = mcp_tool(connection, declared,
                                                              schemas[declared.name])
        return tools

    async def open(self, declared: Sequence[Any], site: SourceSite) -> dict[str, Tool]:
        """``ToolSource.open``: the tools of a workflow's ``mcp_servers``."""
        return await self.tools(list(declared), site.base_dir)

    async def aclose(self) -> None:
        for connection in self._connections.values():
            await connection.aclose()
        self._connections.clear()


def source(host: SourceHost) -> MCPPool:
    """The MCP tool source of a runtime (``base.SOURCES``)."""
    return MCPPool()


__all__ = ["MCPConnection", "MCPError", "MCPPool", "mcp_tool", "result_value", "source"]
