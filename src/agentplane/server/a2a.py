"""Agentplane as an A2A server, through the official ``a2a-sdk`` (protocol 1.0, and 0.3 for
older clients on the same endpoints): the request handler of each workflow's agent. The routes
and cards are in ``a2a_app`` (``/agents/<workflow>`` on ``agentplane a2a serve``,
``/a2a/<workflow>`` on ``agentplane serve``), answers to waiting tasks in ``a2a_answers``.

A task is a run: the task id is the run id, and the run's journal is the only record of the
task. The SDK's own task store and executor are not used, because they keep a second copy of
every task's state in memory and in their store; here ``tasks/get``, ``tasks/list`` and the
streams read the journal, so a task outlives the server process, and a run driven elsewhere (a
worker, ``agentplane approvals approve``) shows up as it moves. Sending a message starts a run
whose input is the message's text (or its data, when it carries no text); the id of the run is
derived from the message id, so a client that sends the same message again after losing the
answer gets the same task, not a second run.

Task states come from run statuses (``task_state``):

=====================  =================================================================
run status             A2A task state
=====================  =================================================================
pending (never began)  submitted
pending, running       working
waiting                input-required, the approvals' reasons in the status message
                       (working while it only waits for a timer)
completed              completed, the output as an artifact named ``output``
failed                 failed, the error in the status message
cancelled              canceled
needs_reconciliation   input-required, with the reason: the run is paused, not over — once
                       a person reconciles the call it goes on and may still complete, so
                       the terminal ``failed`` would be untrue; ``metadata.agentplane.
                       runStatus`` tells a client it waits for the agent's own people
=====================  =================================================================

Approvals are decided by the people of the organisation that runs the agent: in the console,
CLI or API, or over A2A by a follow-up message to the waiting task from a key that may approve
on the task's tenant (``a2a_answers``). Any other caller's follow-up is refused with the
approvals' ids. A task is seen by the caller who sent it and by those approvers.

Authentication (``auth.RequireCaller``, the front door of every Agentplane server): every
request but the agent cards and the index must carry a key as ``Authorization: Bearer <key>``
or ``X-API-Key: <key>`` (401 otherwise); the card declares both schemes. Fixed keys
(``AGENTPLANE_A2A_KEYS``) are compared in constant time and never logged; their caller is known
in the journal by a fingerprint (``a2a:key-<8 hex>``), an API key's by its id (``key:ID``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from a2a.helpers import get_data_parts, get_text_parts, new_data_part
from a2a.server.context import ServerCallContext
from a2a.server.request_handlers import RequestHandler, validate_request_params
from a2a.server.routes import (
    DefaultServerCallContextBuilder,
)
from a2a.types import (
    AgentCard,
    Artifact,
    CancelTaskRequest,
    ContentTypeNotSupportedError,
    DeleteTaskPushNotificationConfigRequest,
    GetExtendedAgentCardRequest,
    GetTaskPushNotificationConfigRequest,
    GetTaskRequest,
    InvalidParamsError,
    InvalidRequestError,
    ListTaskPushNotificationConfigsRequest,
    ListTaskPushNotificationConfigsResponse,
    ListTasksRequest,
    ListTasksResponse,
    Message,
    Part,
    PushNotificationNotSupportedError,
    Role,
    SendMessageRequest,
    SubscribeToTaskRequest,
    Task,
    TaskArtifactUpdateEvent,
    TaskNotCancelableError,
    TaskNotFoundError,
    TaskPushNotificationConfig,
    TaskState,
    TaskStatus,
    TaskStatusUpdateEvent,
    UnsupportedOperationError,
)
from a2a.utils.task import apply_history_length
from starlette.requests import Request

from agentplane.governance.keys import ALL_TENANTS, ApiKey
from agentplane.journal import (
    Event,
    EventType,
    JournalStore,
    NewEvent,
    RunExistsError,
    RunRecord,
    WaitRecord,
    sha256_hex,
)
from agentplane.runtime import RunStateError, Runtime, Workflow
from agentplane.tools.sources.a2a_client import camel_case

from .a2a_answers import answer_task
from .auth import (
    refusal,
    scope_caller,
    token_fingerprint,
)

log = logging.getLogger("agentplane.server.a2a")

A2A_RECEIVED = "a2a.received"
"""Journal event written when a message over A2A starts a run: who sent it, its message and
context ids. Only runs with one are A2A tasks."""
KEYS_ENV = "AGENTPLANE_A2A_KEYS"
"""Environment variable with the API keys callers must present (comma-separated)."""
CARD_PATH = "/.well-known/agent-card.json"
CARD_CACHE_CONTROL = "public, max-age=300"
"""How long clients may cache an agent card (it changes only when the server restarts)."""
INPUT_MODES = ("text/plain", "application/json")
"""What a message may carry (the cards' ``defaultInputModes``): text, and JSON data."""
POLL_SECONDS = 0.1
"""How often a stream looks at the journal for news of its run, in seconds."""
LIST_SCAN_LIMIT = 1000
"""``tasks/list`` looks at this many of a workflow's newest runs at most."""
_SECRET_HEADERS = frozenset({"authorization", "x-api-key", "cookie"})
ANONYMOUS = "a2a:anonymous"
"""The caller of a server that asks for no key."""
_TERMINAL = frozenset({TaskState.TASK_STATE_COMPLETED, TaskState.TASK_STATE_FAILED,
                       TaskState.TASK_STATE_CANCELED, TaskState.TASK_STATE_REJECTED})
_FINAL = _TERMINAL | {TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_AUTH_REQUIRED}


# -- from the journal to A2A ------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    from agentplane.journal import canonical_json

    return canonical_json(value)


def _waits_text(waits: Sequence[WaitRecord]) -> str:
    lines = []
    for w in waits:
        what = f" on {w.data['tool']}" if w.data.get("tool") else ""
        lines.append(f"approval {w.id} ({w.kind}{what}): {w.data.get('reason') or w.kind}")
    return "\n".join(lines)


def _last(events: Sequence[Event], kind: str) -> Event | None:
    return next((e for e in reversed(events) if e.type == kind), None)


def task_state(run: RunRecord, events: Sequence[Event], waits: Sequence[WaitRecord]
               ) -> tuple[TaskState, str]:
    """The A2A task state of a run, and the text of its status message ("" for none).

    ``waits``: the run's open waits (used when it is ``waiting``)."""
    status = run.status
    if status == "pending":
        began = any(e.type == EventType.RUN_STARTED for e in events)
        return (TaskState.TASK_STATE_WORKING if began else TaskState.TASK_STATE_SUBMITTED), ""
    if status == "running":
        return TaskState.TASK_STATE_WORKING, ""
    if status == "waiting":
        if waits and all(w.kind == "timer" for w in waits):
            return TaskState.TASK_STATE_WORKING, "waiting for a timer"
        return TaskState.TASK_STATE_INPUT_REQUIRED, _waits_text(waits)
    if status == "completed":
        return TaskState.TASK_STATE_COMPLETED, ""
    if status == "failed":
        failed = _last(events, EventType.RUN_FAILED)
        return TaskState.TASK_STATE_FAILED, str((failed.data if failed else {}).get("error", ""))
    if status == "cancelled":
        cancelled = _last(events, EventType.RUN_CANCELLED)
        reason = str((cancelled.data if cancelled else {}).get("reason") or "cancelled")
        return TaskState.TASK_STATE_CANCELED, reason
    pending = _last(events, EventType.RUN_NEEDS_RECONCILIATION)
    return TaskState.TASK_STATE_INPUT_REQUIRED, str((pending.data if pending else {}).get(
        "reason", "the run waits for a person to reconcile a call"))


def run_usage(events: Sequence[Event]) -> dict[str, int]:
    """Token counts summed over the run's events (what the run reports as its usage), keyed
    in camelCase as A2A metadata is (``inputTokens``, ``outputTokens``)."""
    total: dict[str, int] = {}
    for event in events:
        for key, value in (event.usage or {}).items():
            name = camel_case(key)
            total[name] = total.get(name, 0) + int(value)
    return total


def _output_artifact(events: Sequence[Event]) -> Artifact | None:
    done = _last(events, EventType.RUN_COMPLETED)
    if done is None:
        return None
    output = done.data.get("output")
    part = Part(text=output) if isinstance(output, str) else new_data_part(output)
    return Artifact(artifact_id=f"{done.run_id}-output", name="output", parts=[part])


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _input_parts(value: Any) -> list[Part]:
    if isinstance(value, str):
        return [Part(text=value)]
    return [new_data_part(value)]


def _agent_message(task_id: str, context_id: str, text: str, suffix: str) -> Message:
    return Message(message_id=f"{task_id}-{suffix}", role=Role.ROLE_AGENT, task_id=task_id,
                   context_id=context_id, parts=[Part(text=text)])


@dataclass(frozen=True, slots=True)
class _TaskView:
    """A run as an A2A task: the run, its journal, and how it came in over A2A."""

    run: RunRecord
    events: list[Event]
    received: Event

    @property
    def context_id(self) -> str:
        return str(self.received.data.get("context_id", ""))

    def to_task(self, waits: Sequence[WaitRecord]) -> Task:
        run = self.run
        state, text = task_state(run, self.events, waits)
        status = TaskStatus(state=state, timestamp=_timestamp(run.updated_at))
        if text:
            status.message.CopyFrom(_agent_message(run.id, self.context_id, text,
                                                   f"status-{run.last_seq}"))
        history = [Message(message_id=str(self.received.data.get("message_id", "")),
                           role=Role.ROLE_USER, task_id=run.id, context_id=self.context_id,
                           parts=_input_parts(run.input))]
        artifact = _output_artifact(self.events)
        if artifact is not None:
            history.append(Message(message_id=f"{run.id}-output", role=Role.ROLE_AGENT,
                                   task_id=run.id, context_id=self.context_id,
                                   parts=list(artifact.parts)))
        task = Task(id=run.id, context_id=self.context_id, status=status, history=history,
                    artifacts=[artifact] if artifact is not None else [])
        task.metadata.update({
            "agentplane": {"runStatus": run.status, "workflow": run.workflow,
                           "workflowHash": run.workflow_hash, "events": run.last_seq},
            "usage": run_usage(self.events),
        })
        return task


# -- callers and authentication ---------------------------------------------------------------


def caller_of_key(key: str) -> str:
    """How a caller with a fixed key is named in the journal: a fingerprint, never the key."""
    return token_fingerprint(key, "a2a:")


class _CallContextBuilder(DefaultServerCallContextBuilder):
    """The SDK's call context, with the caller's identity and without its secrets."""

    def build(self, request: Request) -> ServerCallContext:
        context = super().build(request)
        headers = context.state.get("headers", {})
        context.state["headers"] = {k: v for k, v in headers.items()
                                    if k.lower() not in _SECRET_HEADERS}
        key = scope_caller(request.scope)
        context.state["key"] = key
        context.state["caller"] = key.identity if key is not None else ANONYMOUS
        return context


def _caller(context: ServerCallContext) -> str:
    return str(context.state.get("caller", ANONYMOUS))


def _may_see(context: ServerCallContext, run: RunRecord, received: Event) -> bool:
    """A task is seen by the caller who sent it, and by the keys that may approve on its
    tenant (they answer the tasks that wait for a person)."""
    if received.data.get("caller") == _caller(context):
        return True
    key = _key(context)
    return key is not None and key.can("approve") and key.sees(run.tenant)


def _key(context: ServerCallContext) -> ApiKey | None:
    """The caller's identity (None when the server asks for none)."""
    key = context.state.get("key")
    return key if isinstance(key, ApiKey) else None


# -- the agents ---------------------------------------------------------------------------------


@dataclass
class AgentHost:
    """What the agents of one server share: the journal, a runtime, the runs it drives."""

    store: JournalStore
    runtime: Runtime
    tenant: str | None = "default"
    """Tenant of the runs started over A2A (their usage is billed to it); None: the caller's
    key's own tenant (``default`` for a key of every tenant)."""
    owns_runtime: bool = True
    """Close the runtime with the server (it was made for it)."""
    driver: Callable[[str], None] | None = None
    """Hands a run to be driven (the control centre's worker); None: drive it here."""
    drives: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def tenant_of(self, key: ApiKey | None) -> str:
        if self.tenant is not None:
            return self.tenant
        return "default" if key is None or key.tenant == ALL_TENANTS else key.tenant

    def drive(self, run_id: str) -> None:
        """Drive a run in the background (once at a time in this process)."""
        if self.driver is not None:
            self.driver(run_id)
            return
        task = self.drives.get(run_id)
        if task is None or task.done():
            task = asyncio.create_task(self._execute(run_id), name=f"a2a-run:{run_id}")
            self.drives[run_id] = task
            task.add_done_callback(lambda t: self._forget(run_id, t))

    def _forget(self, run_id: str, task: asyncio.Task[None]) -> None:
        if self.drives.get(run_id) is task:
            del self.drives[run_id]

    async def _execute(self, run_id: str) -> None:
        try:
            await self.runtime.execute(run_id)
        except Exception:
            log.exception("driving run %s failed", run_id)

    async def recover(self, workflows: Sequence[Workflow]) -> None:
        """Drive the unfinished runs of these workflows (after a restart, a crash)."""
        for workflow in workflows:
            for run in await self.store.list_runs(statuses=["pending", "running"],
                                                  workflow=workflow.spec.name, limit=10_000):
                self.drive(run.id)

    async def aclose(self) -> None:
        for task in list(self.drives.values()):
            task.cancel()
        for task in list(self.drives.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.owns_runtime:
            await self.runtime.aclose()


def _unsupported_media(message: Message) -> list[str]:
    """The media types of the message's parts a run cannot take: file parts (raw bytes or a
    URL) of any type, text that is not ``text/*``, data that is not JSON."""
    unsupported = []
    for part in message.parts:
        kind, media = part.WhichOneof("content"), part.media_type.lower()
        if kind == "text" and (not media or media.startswith("text/")):
            continue
        if kind == "data" and (not media or media == "application/json"
                               or media.endswith("+json")):
            continue
        unsupported.append(part.media_type or (f"a {kind} part without a media type"
                                               if kind else "an empty part"))
    return unsupported


def _message_input(message: Message) -> Any:
    unsupported = _unsupported_media(message)
    if unsupported:
        raise ContentTypeNotSupportedError(
            message=f"this agent takes text and JSON data ({', '.join(INPUT_MODES)}), not "
                    f"{', '.join(unsupported)}: send the task's input as a text or data part")
    texts = get_text_parts(message.parts)
    if texts:
        return "\n".join(texts)
    data = get_data_parts(message.parts)
    if not data:
        raise InvalidParamsError(message="the message has no text and no data part: send the "
                                         "task's input as text")
    return data[0] if len(data) == 1 else data


def a2a_run_id(agent: str, caller: str, message_id: str) -> str:
    """The run a message starts: the same message (id) from the same caller, the same run."""
    return "run-" + sha256_hex(f"a2a/{agent}/{caller}/{message_id}")[:12]


class WorkflowAgent(RequestHandler):
    """A2A requests for one workflow, answered from its runs' journals."""

    def __init__(self, host: AgentHost, workflow: Workflow) -> None:
        self.host = host
        self.workflow = workflow

    @property
    def name(self) -> str:
        return self.workflow.spec.name

    # -- reading tasks --------------------------------------------------------------------------

    async def _view(self, task_id: str, context: ServerCallContext) -> _TaskView:
        run = await self.host.store.get_run(task_id)
        if run is None or run.workflow != self.name:
            raise TaskNotFoundError(f"no task {task_id!r} at agent {self.name}")
        events = await self.host.store.events(task_id)
        received = _last(events, A2A_RECEIVED)
        if received is None or not _may_see(context, run, received):
            raise TaskNotFoundError(f"no task {task_id!r} at agent {self.name}")
        return _TaskView(run, events, received)

    async def _task(self, view: _TaskView) -> Task:
        waits = (await self.host.store.waits(run_id=view.run.id)
                 if view.run.status == "waiting" else [])
        return view.to_task(waits)

    @validate_request_params
    async def on_get_task(self, params: GetTaskRequest, context: ServerCallContext
                          ) -> Task | None:
        task = await self._task(await self._view(params.id, context))
        return apply_history_length(task, params)

    @validate_request_params
    async def on_list_tasks(self, params: ListTasksRequest, context: ServerCallContext
                            ) -> ListTasksResponse:
        size = params.page_size if params.HasField("page_size") else 50
        if not 1 <= size <= 100:
            raise InvalidParamsError(message="page_size must be between 1 and 100")
        offset = int(params.page_token) if params.page_token.isdigit() else 0
        tasks = []
        for run in await self.host.store.list_runs(workflow=self.name, limit=LIST_SCAN_LIMIT):
            with contextlib.suppress(TaskNotFoundError):
                task = await self._task(await self._view(run.id, context))
                if params.context_id and task.context_id != params.context_id:
                    continue
                if params.status and task.status.state != params.status:
                    continue
                tasks.append(apply_history_length(task, params))
        page = tasks[offset:offset + size]
        after = offset + size
        return ListTasksResponse(tasks=page, page_size=size, total_size=len(tasks),
                                 next_page_token=str(after) if after < len(tasks) else "")

    # -- starting and following tasks -----------------------------------------------------------

    async def _accept(self, params: SendMessageRequest, context: ServerCallContext) -> str:
        """Start the run a message asks for (or find the one it already started)."""
        message = params.message
        if message.task_id:
            return await self._follow_up(message, context)
        key = _key(context)
        if key is not None and not key.can("run"):
            raise InvalidRequestError(message=refusal(key, "run") + ": starting a task needs "
                                      "an operator or admin key")
        caller = _caller(context)
        run_id = a2a_run_id(self.name, caller, message.message_id)
        value = _message_input(message)
        tenant = self.host.tenant_of(key)  # never one a request names (it is billed)
        try:
            await self.host.runtime.start(self.workflow, value, run_id=run_id, tenant=tenant)
        except RunExistsError:
            existing = await self.host.store.require_run(run_id)
            if _last(await self.host.store.events(run_id), A2A_RECEIVED) is None:
                pass  # started, not yet marked received (a crash between): mark it below
            elif existing.input == value and existing.status != "cancelled":
                return existing.id  # the same message again: the same task
            else:
                # the id was reused for another message, or for one whose task the caller
                # cancelled: ids are unique per task, so this is a new task
                run_id = a2a_run_id(self.name, caller, f"{message.message_id}/{uuid.uuid4()}")
                await self.host.runtime.start(self.workflow, value, run_id=run_id,
                                              tenant=tenant)
        await self.host.store.append(run_id, [NewEvent(
            A2A_RECEIVED, actor=caller,
            data={"caller": caller, "agent": self.name, "message_id": message.message_id,
                  "context_id": message.context_id or "ctx-" + run_id.removeprefix("run-")})])
        return run_id

    async def _follow_up(self, message: Message, context: ServerCallContext) -> str:
        """A message to an existing task: the answer to the approval it waits for."""
        view = await self._view(message.task_id, context)
        await answer_task(self.host.store, self.host.runtime, view.run, view.events,
                          _key(context), _caller(context), message)
        return view.run.id

    async def _advance(self, view: _TaskView) -> _TaskView:
        """The view with what the journal has gained since (the run first, then its events,
        so the events are never older than the status)."""
        run = await self.host.store.require_run(view.run.id)
        fresh = await self.host.store.events(run.id, after_seq=view.events[-1].seq)
        return _TaskView(run, view.events + fresh, view.received)

    async def _updates(self, run_id: str, context: ServerCallContext, *, after_seq: int,
                       last: TaskState) -> AsyncIterator[TaskStatusUpdateEvent |
                                                         TaskArtifactUpdateEvent]:
        """Status (and artifact) updates of a run from its journal, until it ends or stops for
        a person."""
        view = await self._view(run_id, context)
        seq = after_seq
        while True:
            for event in view.events:
                if event.seq > seq and event.type == EventType.TOOL_STARTED:
                    last = TaskState.TASK_STATE_WORKING
                    yield self._status(view, event, f"calling {event.data.get('tool')}")
            seq = view.events[-1].seq
            task = await self._task(view)
            state = task.status.state
            if state == TaskState.TASK_STATE_COMPLETED and task.artifacts:
                yield TaskArtifactUpdateEvent(task_id=run_id, context_id=view.context_id,
                                              artifact=task.artifacts[0], last_chunk=True)
            if state != last:
                last = state
                update = TaskStatusUpdateEvent(task_id=run_id, context_id=view.context_id,
                                               status=task.status)
                update.metadata.update({"usage": run_usage(view.events),
                                        "runStatus": view.run.status})
                yield update
            if state in _FINAL:
                return
            await asyncio.sleep(POLL_SECONDS)
            view = await self._advance(view)

    @staticmethod
    def _status(view: _TaskView, event: Event, text: str) -> TaskStatusUpdateEvent:
        """A ``working`` update that tells what the run is doing (from one of its events)."""
        status = TaskStatus(state=TaskState.TASK_STATE_WORKING, timestamp=_timestamp(event.time),
                            message=_agent_message(view.run.id, view.context_id, text,
                                                   f"event-{event.seq}"))
        update = TaskStatusUpdateEvent(task_id=view.run.id, context_id=view.context_id,
                                       status=status)
        update.metadata.update({"event": event.type, "seq": event.seq,
                                "stepKey": event.step_key or ""})
        return update

    @validate_request_params
    async def on_message_send(self, params: SendMessageRequest, context: ServerCallContext
                              ) -> Task | Message:
        run_id = await self._accept(params, context)
        self.host.drive(run_id)
        if not params.configuration.return_immediately:
            # Blocking send: answer once the run ends or stops for a person, even if another
            # process drives it.
            async for _ in self._updates(run_id, context, after_seq=0,
                                         last=TaskState.TASK_STATE_UNSPECIFIED):
                pass
        task = await self._task(await self._view(run_id, context))
        return apply_history_length(task, params.configuration)

    @validate_request_params
    async def on_message_send_stream(self, params: SendMessageRequest,
                                     context: ServerCallContext
                                     ) -> AsyncGenerator[Any, None]:
        run_id = await self._accept(params, context)
        view = await self._view(run_id, context)
        task = await self._task(view)
        yield apply_history_length(task, params.configuration)
        if task.status.state in _FINAL:
            return  # the same message again, for a task that already ended
        self.host.drive(run_id)
        async for update in self._updates(run_id, context, after_seq=view.run.last_seq,
                                          last=task.status.state):
            yield update

    @validate_request_params
    async def on_subscribe_to_task(self, params: SubscribeToTaskRequest,
                                   context: ServerCallContext) -> AsyncGenerator[Any, None]:
        view = await self._view(params.id, context)
        task = await self._task(view)
        if task.status.state in _TERMINAL:
            state = TaskState.Name(task.status.state)
            raise UnsupportedOperationError(message=f"task {params.id} is in terminal state "
                                                    f"{state}: there is nothing to follow")
        yield task
        async for update in self._updates(params.id, context, after_seq=view.run.last_seq,
                                          last=task.status.state):
            yield update

    @validate_request_params
    async def on_cancel_task(self, params: CancelTaskRequest, context: ServerCallContext
                             ) -> Task | None:
        view = await self._view(params.id, context)
        try:
            await self.host.runtime.cancel(params.id, actor=_caller(context),
                                           reason="cancelled over A2A")
        except RunStateError as exc:
            raise TaskNotCancelableError(message=str(exc)) from exc
        return await self._task(await self._view(view.run.id, context))

    # -- what this server does not offer --------------------------------------------------------

    async def on_create_task_push_notification_config(
            self, params: TaskPushNotificationConfig, context: ServerCallContext
    ) -> TaskPushNotificationConfig:
        raise PushNotificationNotSupportedError

    async def on_get_task_push_notification_config(
            self, params: GetTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> TaskPushNotificationConfig:
        raise PushNotificationNotSupportedError

    async def on_list_task_push_notification_configs(
            self, params: ListTaskPushNotificationConfigsRequest, context: ServerCallContext
    ) -> ListTaskPushNotificationConfigsResponse:
        raise PushNotificationNotSupportedError

    async def on_delete_task_push_notification_config(
            self, params: DeleteTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> None:
        raise PushNotificationNotSupportedError

    async def on_get_extended_agent_card(self, params: GetExtendedAgentCardRequest,
                                         context: ServerCallContext) -> AgentCard:
        raise UnsupportedOperationError(message="this agent has no extended card")


__all__ = [
    "A2A_RECEIVED",
    "KEYS_ENV",
    "AgentHost",
    "WorkflowAgent",
    "a2a_run_id",
    "caller_of_key",
    "run_usage",
    "task_state",
]
