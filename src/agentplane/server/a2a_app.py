"""The A2A agents as HTTP routes: agent cards, JSON-RPC and HTTP+JSON endpoints, on their own
(``build_a2a_app``, what ``agentplane a2a serve`` serves) or on the control centre
(``install_a2a``, what ``agentplane serve`` serves)::

    standalone (a2a serve)                      control centre (serve)
    /agents/<workflow>                          /a2a/<workflow>          JSON-RPC (1.0 and 0.3)
    /agents/<workflow>/rest/...                 /a2a/<workflow>/rest/... HTTP+JSON
    /agents/<workflow>/.well-known/agent-card.json   /a2a/<workflow>/.well-known/agent-card.json
    /agents                                     /a2a                     JSON index (GET)
    /.well-known/agent-card.json (one workflow) /.well-known/agent-card.json  server card
                                                /a2a (POST)              JSON-RPC, any workflow

On the control centre ``/agents`` is the console's page of agents, so the A2A paths start with
``/a2a``. Its server-level card lists every workflow as a skill; a message to its endpoint
(``/a2a``) goes to the workflow named by the message's ``metadata.skill`` (or the only one), a
request about a task to the task's workflow.

Cards are pure A2A 1.0 by default; a client that sends ``A2A-Version: 0.3`` (or a server made
with ``card_version="0.3"``) gets the card with the 0.3 fields added (``url``,
``protocolVersion``, ...). Cards carry ``ETag``, ``Last-Modified`` (when the server started:
they change only then) and ``Cache-Control``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from email.utils import formatdate, parsedate_to_datetime
from typing import Any, Literal

from a2a.server.context import ServerCallContext
from a2a.server.request_handlers import RequestHandler
from a2a.server.request_handlers.response_helpers import agent_card_to_dict
from a2a.server.routes import create_jsonrpc_routes, create_rest_routes
from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentProvider,
    AgentSkill,
    APIKeySecurityScheme,
    CancelTaskRequest,
    DeleteTaskPushNotificationConfigRequest,
    GetExtendedAgentCardRequest,
    GetTaskPushNotificationConfigRequest,
    GetTaskRequest,
    HTTPAuthSecurityScheme,
    InvalidParamsError,
    ListTaskPushNotificationConfigsRequest,
    ListTaskPushNotificationConfigsResponse,
    ListTasksRequest,
    ListTasksResponse,
    Message,
    SecurityRequirement,
    SecurityScheme,
    SendMessageRequest,
    StringList,
    SubscribeToTaskRequest,
    Task,
    TaskNotFoundError,
    TaskPushNotificationConfig,
)
from a2a.utils.constants import PROTOCOL_VERSION_0_3, PROTOCOL_VERSION_1_0, TransportProtocol
from google.protobuf.json_format import MessageToDict  # type: ignore[import-untyped,unused-ignore]
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from agentplane.errors import ConfigError
from agentplane.governance.keys import KeyRing
from agentplane.journal import JournalStore, sha256_hex
from agentplane.runtime import Runtime, Workflow

from .a2a import INPUT_MODES, AgentHost, WorkflowAgent, _CallContextBuilder
from .auth import Authenticator, BearerVerifier, KeyRingVerifier, RequireCaller, StaticTokens

CARD_PATH = "/.well-known/agent-card.json"
CARD_CACHE_CONTROL = "public, max-age=300"
"""How long clients may cache an agent card (it changes only when the server restarts)."""
STANDALONE_PREFIX = "/agents"
PLANE_PREFIX = "/a2a"
CardVersion = Literal["1.0", "0.3"]

# -- cards ----------------------------------------------------------------------------------------


def _interfaces(url: str) -> list[AgentInterface]:
    return [
        AgentInterface(url=url, protocol_binding=TransportProtocol.JSONRPC,
                       protocol_version=PROTOCOL_VERSION_1_0),
        AgentInterface(url=f"{url}/rest", protocol_binding=TransportProtocol.HTTP_JSON,
                       protocol_version=PROTOCOL_VERSION_1_0),
        AgentInterface(url=url, protocol_binding=TransportProtocol.JSONRPC,
                       protocol_version=PROTOCOL_VERSION_0_3),
    ]


def _secure(card: AgentCard) -> AgentCard:
    card.security_schemes["bearer"].CopyFrom(SecurityScheme(
        http_auth_security_scheme=HTTPAuthSecurityScheme(
            scheme="Bearer", description="an Agentplane API key as a bearer token")))
    card.security_schemes["apiKey"].CopyFrom(SecurityScheme(
        api_key_security_scheme=APIKeySecurityScheme(
            location="header", name="X-API-Key", description="an Agentplane API key")))
    card.security_requirements.extend([
        SecurityRequirement(schemes={"bearer": StringList()}),
        SecurityRequirement(schemes={"apiKey": StringList()})])
    return card


def _workflow_skill(workflow: Workflow) -> AgentSkill:
    spec = workflow.spec
    agents = ", ".join(a.name for a in spec.agents)
    description = spec.description or f"Agentplane workflow {spec.name} (agents: {agents})."
    return AgentSkill(id=spec.name, name=spec.name, description=description,
                      tags=["workflow", f"autonomy:{spec.autonomy.value}"])


def agent_card(workflow: Workflow, *, base_url: str, secured: bool,
               prefix: str = STANDALONE_PREFIX) -> AgentCard:
    """The A2A card of a workflow: one skill for the workflow, one per agent in it."""
    spec = workflow.spec
    workflow_skill = _workflow_skill(workflow)
    skills = [workflow_skill]
    skills += [AgentSkill(id=f"{spec.name}.{a.name}", name=a.name,
                          description=a.description or a.instructions or f"agent {a.name}",
                          tags=["agent", *a.tools])
               for a in spec.agents]
    card = _card(spec.name, workflow_skill.description, str(spec.version),
                 f"{base_url.rstrip('/')}{prefix}/{spec.name}", base_url, skills)
    return _secure(card) if secured else card


def server_card(workflows: Sequence[Workflow], *, base_url: str, secured: bool,
                prefix: str = PLANE_PREFIX) -> AgentCard:
    """The server's own card: every workflow a skill, reached at the server's endpoint."""
    skills = [_workflow_skill(w) for w in workflows]
    names = ", ".join(w.spec.name for w in workflows) or "none"
    card = _card("agentplane", f"Agentplane control centre: governed workflows ({names}); "
                 "name one in the message's metadata.skill.", "1",
                 f"{base_url.rstrip('/')}{prefix}", base_url, skills)
    return _secure(card) if secured else card


def _card(name: str, description: str, version: str, url: str, base_url: str,
          skills: list[AgentSkill]) -> AgentCard:
    return AgentCard(
        name=name, description=description, version=version,
        provider=AgentProvider(organization="Agentplane", url=base_url.rstrip("/")),
        supported_interfaces=_interfaces(url),
        capabilities=AgentCapabilities(streaming=True, push_notifications=False,
                                       extended_agent_card=False),
        default_input_modes=list(INPUT_MODES),
        default_output_modes=["text/plain", "application/json"], skills=skills)


def card_json(card: AgentCard, version: CardVersion) -> dict[str, Any]:
    """A card as JSON: pure 1.0, or with the 0.3 fields added."""
    data = agent_card_to_dict(card) if version == "0.3" else MessageToDict(card)
    return data if isinstance(data, dict) else {}


def _origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def card_route(path: str, make: Callable[[str], AgentCard], *, version: CardVersion = "1.0",
               base_url: str | None = None) -> Route:
    """GET ``path``: the card ``make(base_url)`` gives (base URL: the one given, else the
    request's own origin), with caching headers; ``A2A-Version: 0.3`` asks for 0.3 fields."""
    started = time.time()
    modified = formatdate(int(started), usegmt=True)

    async def endpoint(request: Request) -> Response:
        asked = request.headers.get("a2a-version", "").strip()
        wanted: CardVersion = "0.3" if asked.startswith("0.") else version
        data = card_json(make(base_url or _origin(request)), wanted)
        headers = {"ETag": '"' + sha256_hex(str(sorted(data.items())))[:32] + '"',
                   "Last-Modified": modified, "Cache-Control": CARD_CACHE_CONTROL,
                   "Vary": "A2A-Version"}
        if request.headers.get("if-none-match") in (headers["ETag"], "*"):
            return Response(status_code=304, headers=headers)
        since = request.headers.get("if-modified-since")
        if since and "if-none-match" not in request.headers:
            with contextlib.suppress(TypeError, ValueError):
                if parsedate_to_datetime(since).timestamp() >= int(started):
                    return Response(status_code=304, headers=headers)
        return JSONResponse(data, headers=headers)

    return Route(path, endpoint, methods=["GET"])


# -- one endpoint for every workflow ------------------------------------------------------------


class WorkflowRouter(RequestHandler):
    """The server card's endpoint: each request goes to the workflow it is about — a task's
    own, or the one a new message names in ``metadata.skill`` (or the only one)."""

    def __init__(self, agents: Sequence[WorkflowAgent]) -> None:
        self.agents = {a.name: a for a in agents}

    async def _of_task(self, task_id: str) -> WorkflowAgent:
        first = next(iter(self.agents.values()))
        run = await first.host.store.get_run(task_id)
        agent = None if run is None else self.agents.get(run.workflow)
        if agent is None:
            raise TaskNotFoundError(f"no task {task_id!r}")
        return agent

    async def _of_message(self, message: Message) -> WorkflowAgent:
        if message.task_id:
            return await self._of_task(message.task_id)
        named = message.metadata.fields.get("skill") if message.HasField("metadata") else None
        skill = named.string_value if named is not None else ""
        if not skill and len(self.agents) == 1:
            return next(iter(self.agents.values()))
        agent = self.agents.get(skill)
        if agent is None:
            raise InvalidParamsError(
                message=f"name the workflow in the message's metadata.skill: one of "
                        f"{', '.join(sorted(self.agents))}"
                        + (f" (not {skill!r})" if skill else ""))
        return agent

    async def on_get_task(self, params: GetTaskRequest, context: ServerCallContext
                          ) -> Task | None:
        task: Task | None = await (await self._of_task(params.id)).on_get_task(params, context)
        return task

    async def on_list_tasks(self, params: ListTasksRequest, context: ServerCallContext
                            ) -> ListTasksResponse:
        tasks: list[Task] = []
        for agent in self.agents.values():
            tasks += (await agent.on_list_tasks(ListTasksRequest(
                context_id=params.context_id, status=params.status, page_size=100,
                history_length=params.history_length), context)).tasks
        return ListTasksResponse(tasks=tasks[:100], page_size=100, total_size=len(tasks))

    async def on_cancel_task(self, params: CancelTaskRequest, context: ServerCallContext
                             ) -> Task | None:
        agent = await self._of_task(params.id)
        task: Task | None = await agent.on_cancel_task(params, context)
        return task

    async def on_message_send(self, params: SendMessageRequest, context: ServerCallContext
                              ) -> Task | Message:
        agent = await self._of_message(params.message)
        answer: Task | Message = await agent.on_message_send(params, context)
        return answer

    async def on_message_send_stream(self, params: SendMessageRequest,
                                     context: ServerCallContext) -> AsyncGenerator[Any, None]:
        agent = await self._of_message(params.message)
        async for item in agent.on_message_send_stream(params, context):
            yield item

    async def on_subscribe_to_task(self, params: SubscribeToTaskRequest,
                                   context: ServerCallContext) -> AsyncGenerator[Any, None]:
        agent = await self._of_task(params.id)
        async for item in agent.on_subscribe_to_task(params, context):
            yield item

    def _any(self) -> WorkflowAgent:
        return next(iter(self.agents.values()))

    async def on_create_task_push_notification_config(
            self, params: TaskPushNotificationConfig, context: ServerCallContext
    ) -> TaskPushNotificationConfig:
        return await self._any().on_create_task_push_notification_config(params, context)

    async def on_get_task_push_notification_config(
            self, params: GetTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> TaskPushNotificationConfig:
        return await self._any().on_get_task_push_notification_config(params, context)

    async def on_list_task_push_notification_configs(
            self, params: ListTaskPushNotificationConfigsRequest, context: ServerCallContext
    ) -> ListTaskPushNotificationConfigsResponse:
        return await self._any().on_list_task_push_notification_configs(params, context)

    async def on_delete_task_push_notification_config(
            self, params: DeleteTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> None:
        await self._any().on_delete_task_push_notification_config(params, context)

    async def on_get_extended_agent_card(self, params: GetExtendedAgentCardRequest,
                                         context: ServerCallContext) -> AgentCard:
        return await self._any().on_get_extended_agent_card(params, context)


# -- routes and applications ----------------------------------------------------------------------


def _endpoint_routes(handler: RequestHandler, builder: _CallContextBuilder, url: str
                     ) -> list[BaseRoute]:
    return [
        *create_jsonrpc_routes(handler, url, context_builder=builder, enable_v0_3_compat=True),
        # The same endpoint with a trailing slash: clients that join paths to the card's URL
        # (httpx's base_url, the A2A TCK) post there, and a redirect would lose the POST.
        *create_jsonrpc_routes(handler, url.rstrip("/") + "/", context_builder=builder,
                               enable_v0_3_compat=True),
        Mount(url.rstrip("/") + "/rest", routes=create_rest_routes(
            handler, context_builder=builder, enable_v0_3_compat=True)),
    ]


def _agents_routes(agents: Sequence[WorkflowAgent], *, prefix: str, secured: bool,
                   base_url: str | None, version: CardVersion) -> list[BaseRoute]:
    builder = _CallContextBuilder()
    routes: list[BaseRoute] = []
    for agent in agents:
        url = f"{prefix}/{agent.name}"

        def make(base: str, workflow: Workflow = agent.workflow) -> AgentCard:
            return agent_card(workflow, base_url=base, secured=secured, prefix=prefix)

        routes.append(card_route(url + CARD_PATH, make, version=version, base_url=base_url))
        routes += _endpoint_routes(agent, builder, url)

    async def index(request: Request) -> JSONResponse:
        base = base_url or _origin(request)
        return JSONResponse({"agents": [
            {"name": a.name, "description": a.workflow.spec.description or "",
             "card": f"{base.rstrip('/')}{prefix}/{a.name}{CARD_PATH}"} for a in agents]})

    routes.append(Route(prefix, index, methods=["GET"]))
    return routes


def _public(prefix: str, names: Sequence[str]) -> set[str]:
    return {prefix, CARD_PATH} | {f"{prefix}/{n}{CARD_PATH}" for n in names}


def build_a2a_app(store: JournalStore, workflows: list[Workflow], *, base_url: str,
                  api_keys: set[str] | None, runtime: Runtime | None = None,
                  recover: bool = True, tenant: str = "default",
                  keyring: KeyRing | None = None, card_version: CardVersion = "1.0"
                  ) -> Starlette:
    """The A2A server of these workflows, as an ASGI application (``agentplane a2a serve``).

    ``base_url``: where clients reach this server (written into the cards).
    ``api_keys``: keys callers must present; None serves without authentication (only for
    an application put behind its own authentication).
    ``runtime``: drives the runs (default: a new ``Runtime`` on ``store``, closed with the app).
    ``recover``: on startup, drive the unfinished runs of these workflows (after a crash).
    ``tenant``: the tenant runs started here belong to (and are billed to).
    ``keyring``: the server's API keys (``agentplane keys``), accepted besides ``api_keys``
    for ``tenant``: operators and admins start tasks, approvers answer them.
    ``card_version``: what the cards are without an ``A2A-Version`` header.
    """
    if not workflows:
        raise ValueError("build_a2a_app needs at least one workflow")
    names = [w.spec.name for w in workflows]
    if len(set(names)) != len(names):
        raise ValueError(f"two workflows have the same name: {names}")
    host = AgentHost(store, runtime or Runtime(store), tenant, owns_runtime=runtime is None)
    secured = api_keys is not None or keyring is not None
    agents = [WorkflowAgent(host, w) for w in workflows]
    routes = _agents_routes(agents, prefix=STANDALONE_PREFIX, secured=secured,
                            base_url=base_url, version=card_version)
    if len(agents) == 1:
        routes.append(card_route(CARD_PATH, lambda base: agent_card(
            workflows[0], base_url=base, secured=secured), version=card_version,
            base_url=base_url))
        routes += create_jsonrpc_routes(agents[0], "/", context_builder=_CallContextBuilder(),
                                        enable_v0_3_compat=True)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if recover:
            await host.recover(workflows)
        try:
            yield
        finally:
            await host.aclose()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.a2a_host = host
    if secured:
        verifiers: list[BearerVerifier] = [StaticTokens(api_keys or (), tenant=tenant,
                                                        prefix="a2a:")]
        if keyring is not None:
            verifiers.append(KeyRingVerifier(keyring))
        # "read" lets approvers in (to answer a task that waits); sending needs "run"
        app.add_middleware(RequireCaller, authenticator=Authenticator(*verifiers),
                           permission="read", public=_public(STANDALONE_PREFIX, names),
                           tenant=tenant)
    return app


def a2a_routes(host: AgentHost, workflows: Sequence[Workflow], authenticator: Authenticator,
               *, card_version: CardVersion = "1.0") -> list[BaseRoute]:
    """The A2A routes of the control centre (``/a2a/...`` and the server card), each behind
    the server's front door: any key that may read passes; starting a task needs ``run``,
    answering one ``approve``; the caller's tenant is the task's."""
    if any(w.spec.name == "rest" for w in workflows):
        raise ConfigError("a workflow named 'rest' would hide the server endpoint's HTTP+JSON "
                          f"binding at {PLANE_PREFIX}/rest; rename it")
    agents = [WorkflowAgent(host, w) for w in workflows]
    routes = _agents_routes(agents, prefix=PLANE_PREFIX, secured=True, base_url=None,
                            version=card_version)
    routes.append(card_route(CARD_PATH, lambda base: server_card(
        workflows, base_url=base, secured=True), version=card_version))
    if agents:
        routes += _endpoint_routes(WorkflowRouter(agents), _CallContextBuilder(), PLANE_PREFIX)
    public = _public(PLANE_PREFIX, [w.spec.name for w in workflows])
    for route in routes:
        if isinstance(route, Route | Mount):
            route.app = RequireCaller(route.app, authenticator, permission="read",
                                      public=public)
    return routes


__all__ = [
    "CARD_PATH",
    "PLANE_PREFIX",
    "WorkflowRouter",
    "a2a_routes",
    "agent_card",
    "build_a2a_app",
    "card_json",
    "card_route",
    "server_card",
]
