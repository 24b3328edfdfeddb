"""Agentplane as an MCP server: every workflow is an MCP tool.

Calling a workflow's tool starts a durable run and drives it in this process:

- the run completes: the result is its output (text, and ``{"run_id", "status", "output"}`` as
  structured content);
- the run waits for a person (an approval, an escalation): the result is a reference, status
  ``waiting`` with the pending approvals, to approve with ``agentplane approvals approve ID``
  and then poll with ``agentplane_run_status``;
- the run fails (or is cancelled): a tool error (``isError``) with the run's error.

Calling a workflow's tool again with the ``run_id`` of an existing run starts nothing new: it
drives that run on if it is ready (e.g. approved meanwhile) and reports where it stands, so a
client may retry a call safely. Two utility tools come with the workflows:
``agentplane_run_status`` and ``agentplane_list_workflows``.

Transports: stdio, and streamable HTTP — at ``/mcp`` on ``agentplane serve`` (``front``: the
caller's API key, as ``Authorization: Bearer`` or ``X-API-Key``, must be an operator's or an
admin's; runs belong to its tenant), or on its own (``agentplane mcp serve --transport http``,
127.0.0.1 by default) behind the same front door with the API keys and an optional fixed token
(``AGENTPLANE_MCP_TOKEN``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from starlette.types import ASGIApp

from agentplane.errors import AgentplaneError, ConfigError
from agentplane.governance.keys import ALL_TENANTS, KeyRing
from agentplane.journal import (
    RUN_STATUSES,
    EventType,
    JournalStore,
    RunExistsError,
    RunRecord,
)
from agentplane.runtime import APPROVAL_KINDS, Runtime, Workflow, WorkflowSpec, resolve

from .auth import (
    Authenticator,
    BearerVerifier,
    KeyRingVerifier,
    RequireCaller,
    StaticTokens,
    scope_caller,
)
from .oauth import WELL_KNOWN, OAuthSettings, install_oauth

log = logging.getLogger("agentplane.server.mcp")

TOKEN_ENV = "AGENTPLANE_MCP_TOKEN"
"""Environment variable holding the bearer token HTTP clients must present (optional)."""
STATUS_TOOL = "agentplane_run_status"
LIST_TOOL = "agentplane_list_workflows"
HTTP_PATH = "/mcp"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

_TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_NOT_IN_TOOL_NAME = re.compile(r"[^A-Za-z0-9_.-]")

RUN_ID_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 128}

WORKFLOW_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "input": {"description": "The run's input: text, or any JSON value the workflow "
                                 "expects."},
        "run_id": {**RUN_ID_SCHEMA,
                   "description": "Id for the new run (default: a fresh one). If a run with "
                                  "this id exists, nothing new starts: that run is driven on "
                                  "if it is ready, and its state is returned."},
    },
    "required": ["input"],
    "additionalProperties": False,
}

STATUS_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"run_id": {**RUN_ID_SCHEMA, "description": "The run's id."}},
    "required": ["run_id"],
    "additionalProperties": False,
}

LIST_INPUT_SCHEMA: dict[str, Any] = {"type": "object", "properties": {},
                                     "additionalProperties": False}

APPROVAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "kind": {"type": "string"},
                   "reason": {"type": "string"}, "tool": {"type": "string"},
                   "arguments": {}},
    "required": ["id", "kind", "reason"],
}

RUN_OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "run_id": {"type": "string"},
        "workflow": {"type": "string"},
        "status": {"type": "string", "enum": list(RUN_STATUSES)},
        "output": {"description": "The run's output, once completed."},
        "error": {"type": "string"},
        "reason": {"type": "string"},
        "approvals": {"type": "array", "items": APPROVAL_SCHEMA},
        "hint": {"type": "string", "description": "What to do next."},
    },
    "required": ["run_id", "status"],
}

LIST_OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"workflows": {"type": "array", "items": {
        "type": "object",
        "properties": {"tool": {"type": "string"}, "workflow": {"type": "string"},
                       "agent": {"type": ["string", "null"]},
                       "description": {"type": "string"},
                       "version": {"type": ["string", "integer"]},
                       "hash": {"type": "string"}, "autonomy": {"type": "string"}},
        "required": ["tool", "workflow", "description", "hash"],
    }}},
    "required": ["workflows"],
}


class ToolArgumentError(Exception):
    """The caller's arguments do not fit the tool's input schema (reported as a tool error)."""


def tool_name(name: str) -> str:
    """The MCP tool name for a workflow (or agent) name: characters MCP does not allow in tool
    names (SEP-986: letters, digits, ``_``, ``-``, ``.``; 1 to 128) become ``_``."""
    cleaned = _NOT_IN_TOOL_NAME.sub("_", name)[:128]
    if not _TOOL_NAME.match(cleaned):
        raise ConfigError(f"cannot make an MCP tool name of {name!r}")
    return cleaned


def agent_workflow(workflow: Workflow, agent: str) -> Workflow:
    """A one-step workflow that runs a single agent of ``workflow``, with the workflow's tools,
    guardians, autonomy and budgets (but not its outcome: one agent does not deliver it)."""
    spec = workflow.spec
    agent_spec = spec.agent(agent)
    if agent_spec is None:
        raise ConfigError(f"workflow {spec.name!r} has no agent {agent!r}")
    description = agent_spec.description or (
        f"Agent {agent} of workflow {spec.name}: {agent_spec.instructions}".strip().rstrip(":"))
    data = spec.model_dump(mode="json")
    data.update(name=f"{spec.name}__{agent}"[:64], description=description, outcome=None,
                steps=[{"agent": agent}])
    return resolve(WorkflowSpec.model_validate(data), workflow.base_dir,
                   source=f"{workflow.source}#{agent}")


@dataclass(frozen=True, slots=True)
class ExposedWorkflow:
    """A workflow as an MCP tool."""

    tool: str
    workflow: Workflow
    agent: str | None = None
    """Set when the tool runs one agent of a workflow rather than the whole workflow."""

    @property
    def description(self) -> str:
        spec = self.workflow.spec
        return spec.description or f"Run the Agentplane workflow {spec.name}."

    def as_tool(self) -> types.Tool:
        effects = {t.effect for t in self.workflow.spec.tools}
        return types.Tool(
            name=self.tool,
            title=self.workflow.spec.name,
            description=(f"{self.description}\n\nStarts a durable run. Completed: the run's "
                         "output. Waiting for a person's approval: status `waiting` with the "
                         f"approvals; poll `{STATUS_TOOL}` with the run_id."),
            input_schema=WORKFLOW_INPUT_SCHEMA,
            output_schema=RUN_OUTPUT_SCHEMA,
            annotations=types.ToolAnnotations(
                read_only_hint=effects <= {"read"} and not self.workflow.spec.mcp_servers,
                destructive_hint="irreversible" in effects,
            ),
        )

    def summary(self) -> dict[str, Any]:
        spec = self.workflow.spec
        return {"tool": self.tool, "workflow": spec.name, "agent": self.agent,
                "description": self.description, "version": spec.version,
                "hash": self.workflow.hash, "autonomy": str(spec.autonomy)}


def expose(workflows: Iterable[Workflow], *, agents: bool = False) -> dict[str, ExposedWorkflow]:
    """Tool name → workflow; with ``agents``, also one tool per agent (``WORKFLOW__AGENT``)."""
    exposed: list[ExposedWorkflow] = []
    for workflow in workflows:
        exposed.append(ExposedWorkflow(tool_name(workflow.spec.name), workflow))
        for agent in workflow.spec.agents if agents else ():
            derived = agent_workflow(workflow, agent.name)
            exposed.append(ExposedWorkflow(tool_name(derived.spec.name), derived, agent.name))
    names = [e.tool for e in exposed] + [STATUS_TOOL, LIST_TOOL]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise ConfigError(f"MCP tool name(s) {', '.join(clashes)} would be exposed twice: give "
                          "the workflows distinct names (the utility tools are named "
                          f"{STATUS_TOOL} and {LIST_TOOL})")
    return {e.tool: e for e in exposed}


# -- what a run looks like to an MCP client ---------------------------------------------------


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _approval(wait: Any) -> dict[str, Any]:
    entry = {"id": wait.id, "kind": wait.kind, "reason": str(wait.data.get("reason") or "")}
    if wait.kind == "tool_call":
        entry.update(tool=wait.data.get("tool"), arguments=wait.data.get("arguments"))
    return entry


async def run_state(store: JournalStore, run: RunRecord) -> dict[str, Any]:
    """The run's state for a client: status, and its output, error or pending approvals."""
    state: dict[str, Any] = {"run_id": run.id, "workflow": run.workflow, "status": run.status}
    events = await store.events(run.id)
    last = {e.type: e for e in events}
    if run.status == "completed" and EventType.RUN_COMPLETED in last:
        state["output"] = last[EventType.RUN_COMPLETED].data.get("output")
    elif run.status == "failed" and EventType.RUN_FAILED in last:
        state["error"] = str(last[EventType.RUN_FAILED].data.get("error") or "the run failed")
    elif run.status == "cancelled":
        reason = last[EventType.RUN_CANCELLED].data.get("reason") if (
            EventType.RUN_CANCELLED in last) else ""
        state["error"] = f"run {run.id} was cancelled" + (f": {reason}" if reason else "")
    elif run.status == "waiting":
        waits = await store.waits(run_id=run.id)
        state["approvals"] = [_approval(w) for w in waits if w.kind in APPROVAL_KINDS]
        state["hint"] = (
            "The run waits for a person: approve with `agentplane approvals approve ID` (or deny "
            "with `agentplane approvals deny ID --reason ...`), then poll "
            f"{STATUS_TOOL} with this run_id."
            if state["approvals"] else
            f"The run waits for a timer or a signal; poll {STATUS_TOOL} with this run_id.")
    elif run.status == "needs_reconciliation" and EventType.RUN_NEEDS_RECONCILIATION in last:
        state["reason"] = str(last[EventType.RUN_NEEDS_RECONCILIATION].data.get("reason") or "")
        state["hint"] = "A person must settle an unconfirmed call (`agentplane runs reconcile`)."
    elif run.status == "pending":
        state["hint"] = ("The run is ready to go on: call its workflow's tool again with this "
                         "run_id to drive it here, or let `agentplane worker` pick it up.")
    elif run.status == "running":
        state["hint"] = f"The run is under way; poll {STATUS_TOOL} with this run_id."
    return state


def _summary_text(state: dict[str, Any]) -> str:
    run, status = state["run_id"], state["status"]
    if status == "completed":
        return _as_text(state.get("output"))
    if "error" in state:
        return str(state["error"])
    lines = [f"run {run} ({state.get('workflow')}) is {status}"]
    lines += [f"approval {a['id']} ({a['kind']}): {a['reason']}"
              for a in state.get("approvals", [])]
    lines += [state[k] for k in ("reason", "hint") if state.get(k)]
    return "\n".join(lines)


def run_result(state: dict[str, Any], *, failure_is_error: bool) -> types.CallToolResult:
    """A tool result for a run's state; a failed or cancelled run is a tool error when
    ``failure_is_error`` (the workflow tools), plain data otherwise (the status tool)."""
    is_error = failure_is_error and state["status"] in ("failed", "cancelled")
    return types.CallToolResult(content=[types.TextContent(text=_summary_text(state))],
                                structured_content=state, is_error=is_error)


def tool_error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True)


# -- arguments ----------------------------------------------------------------------------------


def _check_arguments(arguments: dict[str, Any], allowed: set[str], required: set[str]) -> None:
    unknown = sorted(set(arguments) - allowed)
    if unknown:
        raise ToolArgumentError(f"unknown argument(s) {', '.join(unknown)}; this tool takes "
                                f"{', '.join(sorted(allowed)) or 'no arguments'}")
    missing = sorted(required - set(arguments))
    if missing:
        raise ToolArgumentError(f"missing required argument(s) {', '.join(missing)}")


def _run_id(arguments: dict[str, Any], *, required: bool) -> str | None:
    value = arguments.get("run_id")
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= 128:
        raise ToolArgumentError("run_id must be a string of 1 to 128 characters")
    return value


# -- the server ---------------------------------------------------------------------------------


class WorkflowTools:
    """Lists and calls the tools: one per exposed workflow, plus the utility tools."""

    def __init__(self, store: JournalStore, exposed: dict[str, ExposedWorkflow], *,
                 tenant: str | None = "default") -> None:
        self.store = store
        self.exposed = exposed
        self.tenant = tenant
        """The tenant runs started here belong to; runs of other tenants are not seen here.
        None: the caller's (its key's tenant, from the server's front door)."""

    def tenant_for(self, request: Any) -> str:
        """The tenant of a call: the server's, else the caller's key's own."""
        if self.tenant is not None:
            return self.tenant
        key = scope_caller(getattr(request, "scope", {}))
        return "default" if key is None or key.tenant == ALL_TENANTS else key.tenant

    def tools(self) -> list[types.Tool]:
        utility = [
            types.Tool(name=STATUS_TOOL, title="Run status",
                       description="Where an Agentplane run stands: its status, and its output, "
                                   "error or pending approvals.",
                       input_schema=STATUS_INPUT_SCHEMA, output_schema=RUN_OUTPUT_SCHEMA,
                       annotations=types.ToolAnnotations(read_only_hint=True,
                                                         idempotent_hint=True)),
            types.Tool(name=LIST_TOOL, title="Workflows",
                       description="The Agentplane workflows this server exposes as tools.",
                       input_schema=LIST_INPUT_SCHEMA, output_schema=LIST_OUTPUT_SCHEMA,
                       annotations=types.ToolAnnotations(read_only_hint=True,
                                                         idempotent_hint=True)),
        ]
        return [e.as_tool() for e in self.exposed.values()] + utility

    async def call(self, runtime: Runtime, name: str, arguments: dict[str, Any],
                   tenant: str = "default") -> types.CallToolResult:
        try:
            if name == STATUS_TOOL:
                return await self.status(arguments, tenant)
            if name == LIST_TOOL:
                _check_arguments(arguments, set(), set())
                workflows = [e.summary() for e in self.exposed.values()]
                return types.CallToolResult(
                    content=[types.TextContent(text=json.dumps(workflows, ensure_ascii=False))],
                    structured_content={"workflows": workflows})
            exposed = self.exposed.get(name)
            if exposed is None:
                raise MCPError(types.INVALID_PARAMS, f"unknown tool {name!r}")
            return await self.run(runtime, exposed, arguments, tenant)
        except ToolArgumentError as exc:
            return tool_error(f"invalid arguments for {name}: {exc}")
        except AgentplaneError as exc:  # e.g. a budget or journal refusal meant for people
            return tool_error(str(exc))

    async def run(self, runtime: Runtime, exposed: ExposedWorkflow, arguments: dict[str, Any],
                  tenant: str) -> types.CallToolResult:
        _check_arguments(arguments, {"input", "run_id"}, {"input"})
        run_id = _run_id(arguments, required=False)
        # A client hanging up must not stop a run half-way through a step: the run goes on to
        # its end or its next wait, and the client finds it again by its id.
        with anyio.CancelScope(shield=True):
            record = await self._start_or_continue(runtime, exposed, arguments["input"], run_id,
                                                   tenant)
        if record is None:
            # one answer for another workflow's run and another tenant's: nothing about either
            return tool_error(f"run_id {run_id!r} is taken by a run this tool cannot continue; "
                              "pick another run_id")
        return run_result(await run_state(self.store, record), failure_is_error=True)

    async def _start_or_continue(self, runtime: Runtime, exposed: ExposedWorkflow, value: Any,
                                 run_id: str | None, tenant: str) -> RunRecord | None:
        if run_id is not None:
            existing = await self.store.get_run(run_id)
            if existing is not None:
                if (existing.workflow != exposed.workflow.spec.name
                        or existing.tenant != tenant):
                    return None
                return await runtime.execute(run_id)
        try:
            return await runtime.run(exposed.workflow, value, run_id=run_id, tenant=tenant)
        except RunExistsError:  # created by someone else between the look and the start
            assert run_id is not None
            return await self._start_or_continue(runtime, exposed, value, run_id, tenant)

    async def status(self, arguments: dict[str, Any], tenant: str) -> types.CallToolResult:
        _check_arguments(arguments, {"run_id"}, {"run_id"})
        run_id = _run_id(arguments, required=True)
        assert run_id is not None
        record = await self.store.get_run(run_id)
        served = {e.workflow.spec.name for e in self.exposed.values()}
        if record is None or record.workflow not in served or record.tenant != tenant:
            return tool_error(f"no run {run_id!r} of the workflows this server exposes")
        return run_result(await run_state(self.store, record), failure_is_error=False)


def build_mcp_server(store: JournalStore, workflows: list[Workflow], *, name: str = "agentplane",
                     agents: bool = False, version: str = "", runtime: Runtime | None = None,
                     tenant: str | None = "default") -> Server[Runtime]:
    """An MCP server exposing ``workflows`` as tools, running them on ``store``.

    With ``agents``, each agent of each workflow is a tool too (``WORKFLOW__AGENT``). The server
    holds a ``Runtime`` for as long as it serves (its lifespan), or uses ``runtime`` (left
    open). ``tenant``: of the runs it starts and sees; None: the caller's key's own.
    """
    if not version:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as package_version

        with contextlib.suppress(PackageNotFoundError):
            version = package_version("agentplane")
    toolset = WorkflowTools(store, expose(workflows, agents=agents), tenant=tenant)

    @contextlib.asynccontextmanager
    async def lifespan(_: Server[Runtime]) -> AsyncIterator[Runtime]:
        if runtime is not None:
            yield runtime
            return
        own = Runtime(store)
        try:
            yield own
        finally:
            await own.aclose()

    async def list_tools(ctx: ServerRequestContext[Runtime],
                         params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=toolset.tools())

    async def call_tool(ctx: ServerRequestContext[Runtime], params: types.CallToolRequestParams
                        ) -> types.CallToolResult:
        return await toolset.call(ctx.lifespan_context, params.name, params.arguments or {},
                                  toolset.tenant_for(ctx.request))

    server: Server[Runtime] = Server(
        name, version=version, title="Agentplane",
        description="Durable, governed multi-agent workflows as tools.",
        instructions=(f"Each workflow tool starts a durable run. A run that waits for a person's "
                      f"approval returns status `waiting` with a run_id: poll {STATUS_TOOL} with "
                      "it until the run completes."),
        lifespan=lifespan, on_list_tools=list_tools, on_call_tool=call_tool,
        get_tool_input_schema=lambda tool: next(
            (t.input_schema for t in toolset.tools() if t.name == tool), None),
    )
    return server


# -- transports ---------------------------------------------------------------------------------


async def serve_stdio(server: Server[Runtime]) -> None:
    """Serve one client over this process's stdin and stdout until it hangs up."""
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def token_guard(app: ASGIApp, token: str | None, keyring: KeyRing | None = None,
                tenant: str = "default") -> RequireCaller:
    """``app`` behind the server's fixed token and API keys (operator or admin of ``tenant``),
    presented as ``Authorization: Bearer`` or ``X-API-Key`` — the front door of every other
    Agentplane server. The token is compared in constant time and never logged nor shown."""
    if token is not None and not token:
        raise ConfigError(f"{TOKEN_ENV} is set but empty")
    verifiers: list[BearerVerifier] = [StaticTokens([token] if token else [], tenant=tenant,
                                                    prefix="mcp:")]
    if keyring is not None:
        verifiers.append(KeyRingVerifier(keyring))
    return RequireCaller(app, Authenticator(*verifiers), permission="run", tenant=tenant)


def http_app(server: Server[Runtime], *, host: str = "127.0.0.1", token: str | None = None,
             keyring: KeyRing | None = None) -> ASGIApp:
    """The streamable HTTP app (MCP at ``/mcp``), behind the bearer token and the server's
    API keys (operator or admin) when either is given."""
    app = server.streamable_http_app(streamable_http_path=HTTP_PATH, host=host)
    oauth = OAuthSettings.from_env()  # OAuth tokens too, when an issuer is configured
    if token is None and keyring is None and oauth is None:
        return app
    guard = token_guard(app, token, keyring)
    if oauth is not None:
        install_oauth(app, guard.authenticator, oauth)
        guard.public = frozenset({oauth.metadata_path, WELL_KNOWN})
    return guard


async def serve_http(server: Server[Runtime], *, host: str = "127.0.0.1", port: int = 8765,
                     token: str | None = None, keyring: KeyRing | None = None) -> None:
    """Serve streamable HTTP on ``host:port`` until interrupted."""
    import uvicorn

    if host not in LOOPBACK_HOSTS and token is None and keyring is None:
        log.warning("serving MCP on %s without a token: anyone who can reach it can start "
                    "runs; set %s or create an API key", host, TOKEN_ENV)
    config = uvicorn.Config(http_app(server, host=host, token=token, keyring=keyring),
                            host=host, port=port, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve()
