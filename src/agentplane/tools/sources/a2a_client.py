"""Remote A2A agents taking part in workflows, through the official ``a2a-sdk`` client.

A ``RemoteAgent`` is an agent at a URL (its card at ``<url>/.well-known/agent-card.json``),
reached with an optional API key read from an environment variable. ``send`` hands it a message
and follows the task to its end — streaming when the card and the agent allow it, else polling
``tasks/get`` — and returns the output text and data, the task id, and the usage the remote
reports in the task's metadata (``metadata.usage``: token counts, as Agentplane servers report).

A remote task is a durable step. What makes it one:

1. the task id is known as soon as the remote accepts the message, and is handed to
   ``on_task`` *before* the result is waited for: the caller journals it there;
2. after a crash (ours or the remote's) the step calls ``resume_or_send`` with the journaled
   task id, which follows the task on (``tasks/get``) instead of sending the message again;
3. the message id is stable (the step's idempotency key), so even a crash between the send and
   journaling the task id does not start a second task at an Agentplane server, which derives
   the task from the message id;
4. a connection lost while following (the remote restarting) is retried, a bounded number of
   times, by task id.

Making a remote agent a tool of a workflow, with its replicas, is ``a2a_tool``'s job
(``agentplane.tools.sources.a2a``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from a2a.client import (
    A2ACardResolver,
    A2AClientError,
    AuthInterceptor,
    Client,
    ClientCallContext,
    ClientCallInterceptor,
    ClientConfig,
    ClientFactory,
    CredentialService,
)
from a2a.helpers import get_data_parts, get_text_parts, new_data_part
from a2a.types import (
    AgentCard,
    Artifact,
    CancelTaskRequest,
    GetTaskRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    StreamResponse,
    Task,
    TaskState,
    TaskStatus,
)
from a2a.utils.errors import A2AError
from google.protobuf.json_format import MessageToDict  # type: ignore[import-untyped,unused-ignore]

from agentplane.errors import AgentplaneError
from agentplane.metering.usage import REMOTE_TASK_FINISHED

TASK_ROUTED = "a2a.task.routed"
"""Journal event: the step's message goes to this replica (``data.url``, ``data.identity``);
journaled before sending, so a resumed step sends to the same replica."""
TASK_STARTED = "a2a.task.started"
"""Journal event: a remote agent accepted the step's message (``data.task_id``)."""
TASK_UPDATED = "a2a.task.updated"
"""Journal event: the remote task moved on (``data.state``, ``data.text``)."""
TASK_FINISHED = REMOTE_TASK_FINISHED
"""Journal event: the remote task ended or stopped for input; ``usage`` is what it reported
(the ledger counts it: the name is metering's, imported, not retyped)."""

TERMINAL_STATES = frozenset({"completed", "failed", "canceled", "rejected"})
_FINAL = TERMINAL_STATES | {"input-required", "auth-required"}


class RemoteAgentError(AgentplaneError):
    """A remote agent could not be reached, or did not answer as A2A says."""


class MessageNotDelivered(RemoteAgentError):
    """The message never reached the remote agent (no connection, or no agent card): nothing
    can have started there, so another replica may be tried."""


class TaskUnreachable(RemoteAgentError):
    """The remote that has a task could not be reached to follow it. The task is never sent to
    another replica instead: it may have had effects where it is."""


def camel_case(name: str) -> str:
    """``input_tokens`` as A2A metadata keys are written: ``inputTokens``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def snake_case(name: str) -> str:
    """A metadata key back to the journal's spelling: ``inputTokens`` -> ``input_tokens``."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def state_name(state: int) -> str:
    """An A2A task state as the protocol's documents write it: ``input-required``."""
    name = str(TaskState.Name(state))
    return name.removeprefix("TASK_STATE_").lower().replace("_", "-")


def _struct(value: Any) -> dict[str, Any]:
    data = MessageToDict(value)
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True, slots=True)
class RemoteUpdate:
    """The remote task moved on (a status update, or a change seen while polling)."""

    task_id: str
    state: str
    text: str
    """The status message's text ("" for none)."""


@dataclass(frozen=True, slots=True)
class RemoteResult:
    """Where a remote task ended (or stopped for input)."""

    agent: str
    """The remote agent's name (from its card)."""
    task_id: str
    """"" when the remote answered with a message and made no task."""
    context_id: str
    state: str
    """``completed``, ``input-required``, ``failed``, ``canceled``, ``rejected``, ..."""
    text: str
    """The text of the output (artifacts, or the answering message), else of the status."""
    data: list[Any]
    """The data parts of the output (JSON values)."""
    status: str
    """The text of the final status message ("" for none)."""
    usage: dict[str, int]
    """Token counts the remote reported in the task's ``metadata.usage`` ({} for none)."""

    @property
    def finished(self) -> bool:
        """The task is over (not merely waiting for input)."""
        return self.state in TERMINAL_STATES

    def to_json(self) -> dict[str, Any]:
        return {"agent": self.agent, "task_id": self.task_id, "context_id": self.context_id,
                "state": self.state, "text": self.text, "data": self.data,
                "status": self.status, "usage": self.usage}


@dataclass
class _Progress:
    """What is known of a remote task so far, from the events and tasks seen."""

    task_id: str = ""
    context_id: str = ""
    state: str = "unspecified"
    status: str = ""
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    answer: Message | None = None
    usage: dict[str, int] = field(default_factory=dict)

    @property
    def final(self) -> bool:
        return self.state in _FINAL

    def _status(self, status: TaskStatus) -> RemoteUpdate | None:
        state = state_name(status.state)
        text = "\n".join(get_text_parts(status.message.parts)) if status.HasField(
            "message") else ""
        changed = state != self.state or (text and text != self.status)
        self.state, self.status = state, text
        return RemoteUpdate(self.task_id, state, text) if changed else None

    def _usage(self, metadata: Any) -> None:
        usage = _struct(metadata).get("usage")
        if isinstance(usage, dict):  # camelCase on the wire (older servers: snake_case)
            self.usage = {snake_case(str(k)): int(v) for k, v in usage.items()
                          if isinstance(v, int | float)}

    def take_task(self, task: Task) -> RemoteUpdate | None:
        self.task_id, self.context_id = task.id, task.context_id
        for artifact in task.artifacts:
            self.artifacts[artifact.artifact_id] = artifact
        self._usage(task.metadata)
        return self._status(task.status)

    def take(self, response: StreamResponse) -> RemoteUpdate | None:
        if response.HasField("task"):
            return self.take_task(response.task)
        if response.HasField("message"):
            self.answer = response.message
            self.state = "completed"
            return None
        if response.HasField("artifact_update"):
            event = response.artifact_update
            self.task_id = self.task_id or event.task_id
            known = self.artifacts.get(event.artifact.artifact_id)
            if event.append and known is not None:
                known.parts.extend(event.artifact.parts)
            else:
                self.artifacts[event.artifact.artifact_id] = event.artifact
            return None
        if response.HasField("status_update"):
            event = response.status_update
            self.task_id = self.task_id or event.task_id
            self.context_id = self.context_id or event.context_id
            self._usage(event.metadata)
            return self._status(event.status)
        return None

    def result(self, agent: str) -> RemoteResult:
        parts: list[Part] = []
        if self.answer is not None:
            parts = list(self.answer.parts)
        for artifact in self.artifacts.values():
            parts.extend(artifact.parts)
        text = "\n".join(get_text_parts(parts)) or self.status
        return RemoteResult(agent=agent, task_id=self.task_id, context_id=self.context_id,
                            state=self.state, text=text, data=get_data_parts(parts),
                            status=self.status, usage=dict(self.usage))


class _Key(CredentialService):
    """The one key of a remote agent, for whichever scheme its card names."""

    def __init__(self, key: str) -> None:
        self._key = key

    async def get_credentials(self, security_scheme_name: str,
                              context: ClientCallContext | None) -> str | None:
        return self._key


OnTask = Callable[[str], Awaitable[None]]
OnUpdate = Callable[[RemoteUpdate], Awaitable[None]]


def _user_message(content: Any, message_id: str) -> Message:
    part = Part(text=content) if isinstance(content, str) else new_data_part(content)
    return Message(message_id=message_id, role=Role.ROLE_USER, parts=[part])


def _never_reached(exc: BaseException) -> bool:
    """The request did not reach the remote at all (so nothing can have started there): the
    connection was refused, or not made in time."""
    return isinstance(exc.__cause__, httpx.ConnectError | httpx.ConnectTimeout)


@dataclass
class RemoteAgent:
    """An A2A agent at ``url``, called with the API key in ``$key_env`` (if set)."""

    url: str
    """Base URL of the agent: its card is at ``<url>/.well-known/agent-card.json``."""
    key_env: str | None = None
    """Name of the environment variable holding the API key (the key never goes in a file)."""
    timeout_s: float = 600.0
    """How long to follow a task before giving up (it goes on; resume it by task id), seconds."""
    poll_s: float = 0.5
    """Seconds between ``tasks/get`` calls while polling."""
    retries: int = 8
    """Consecutive failed attempts to reach the remote before giving up (with backoff)."""
    streaming: bool = True
    """Stream the task's updates when the card says the agent can."""
    read_timeout_s: float = 60.0
    """Seconds without a byte from the remote before a request is abandoned."""
    _card: AgentCard | None = field(default=None, repr=False)

    def _key(self) -> str | None:
        if self.key_env is None:
            return None
        key = os.environ.get(self.key_env, "").strip()
        if not key:
            raise RemoteAgentError(f"remote agent {self.url} needs an API key in the "
                                   f"environment variable {self.key_env}, which is not set")
        return key

    async def card(self) -> AgentCard:
        """The remote's agent card (fetched once)."""
        if self._card is None:
            async with httpx.AsyncClient(timeout=self.read_timeout_s) as http:
                try:
                    self._card = await A2ACardResolver(http, self.url).get_agent_card()
                except A2AClientError as exc:
                    if _never_reached(exc):
                        raise  # retried by the caller, like any request that never arrived
                    # nothing was sent yet: another replica may be tried
                    raise MessageNotDelivered(f"no A2A agent card at {self.url}: {exc}") from exc
        return self._card

    @contextlib.asynccontextmanager
    async def _client(self) -> AsyncIterator[tuple[Client, AgentCard]]:
        key = self._key()
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        timeout = httpx.Timeout(30.0, read=self.read_timeout_s)
        async with httpx.AsyncClient(headers=headers, timeout=timeout) as http:
            card = await self.card()
            # polling: a non-streaming send returns at once with the task, then we poll.
            config = ClientConfig(streaming=self.streaming, polling=True, httpx_client=http)
            interceptors: list[ClientCallInterceptor] = [AuthInterceptor(_Key(key))] if key else []
            client = ClientFactory(config).create(card, interceptors)
            try:
                yield client, card
            finally:
                await client.close()

    def _backoff(self, failures: int) -> float:
        return float(min(self.poll_s * 2 ** max(failures - 1, 0), 5.0))

    async def send(self, content: Any, *, message_id: str | None = None,
                   on_task: OnTask | None = None, on_update: OnUpdate | None = None,
                   retries: int | None = None) -> RemoteResult:
        """Send a message (text, or a JSON value) and follow its task to its end.

        ``message_id``: a stable id (e.g. the step's idempotency key) makes a repeated send
        recognisable at the remote. ``on_task`` gets the task id as soon as it is known, before
        the result is awaited: journal it there, to resume with ``follow`` after a crash.
        ``retries``: attempts after the first to deliver a message that did not reach the remote
        (default ``self.retries``; 0 when another replica can be tried instead). When none
        reached it, ``MessageNotDelivered`` is raised.
        """
        request = SendMessageRequest(message=_user_message(content, message_id or
                                                           str(uuid.uuid4())))
        progress = _Progress()
        attempts = self.retries if retries is None else retries
        for failures in range(attempts + 1):
            try:
                async with asyncio.timeout(self.timeout_s):
                    result = await self._stream(request, progress, on_task, on_update)
                if result is not None:
                    return result
                break  # the stream ended early: follow the task by id
            except TimeoutError as exc:
                raise RemoteAgentError(
                    f"remote task {progress.task_id or '(not yet accepted)'} at {self.url} is "
                    f"still {progress.state} after {self.timeout_s:g} s; it goes on there: "
                    "resume following it by its task id") from exc
            except A2AClientError as exc:
                if progress.task_id:
                    break  # the task exists: follow it, never send again
                if not _never_reached(exc):
                    raise RemoteAgentError(f"remote agent {self.url}: {exc}") from exc
                if failures == attempts:
                    raise MessageNotDelivered(f"remote agent {self.url} cannot be reached: "
                                            f"{exc}") from exc
                await asyncio.sleep(self._backoff(failures + 1))
            except A2AError as exc:
                raise RemoteAgentError(f"remote agent {self.url} refused the message: "
                                       f"{exc}") from exc
        if not progress.task_id:
            raise RemoteAgentError(f"remote agent {self.url} answered with neither a task "
                                   "nor a message")
        return await self.follow(progress.task_id, on_update=on_update, _progress=progress)

    async def _stream(self, request: SendMessageRequest, progress: _Progress,
                      on_task: OnTask | None, on_update: OnUpdate | None
                      ) -> RemoteResult | None:
        """Send, and take what the remote answers until the task ends or stops for input;
        None if the answer stops before that."""
        async with self._client() as (client, card):
            async for response in client.send_message(request):
                known = bool(progress.task_id)
                update = progress.take(response)
                if progress.task_id and not known and on_task is not None:
                    await on_task(progress.task_id)
                if update is not None and on_update is not None:
                    await on_update(update)
                if progress.final:
                    return progress.result(card.name)
        return None

    async def follow(self, task_id: str, *, on_update: OnUpdate | None = None,
                     _progress: _Progress | None = None) -> RemoteResult:
        """Follow a task the remote already has (polling ``tasks/get``) to its end, or until
        it stops for input. Connection failures are retried ``retries`` times in a row."""
        progress = _progress or _Progress(task_id=task_id)
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        failures = 0
        while True:
            try:
                async with self._client() as (client, card):
                    while True:
                        task = await client.get_task(GetTaskRequest(id=task_id))
                        failures = 0
                        update = progress.take_task(task)
                        if update is not None and on_update is not None:
                            await on_update(update)
                        if progress.final:
                            return progress.result(card.name)
                        if asyncio.get_running_loop().time() > deadline:
                            raise RemoteAgentError(
                                f"remote task {task_id} at {self.url} is still "
                                f"{progress.state} after {self.timeout_s:g} s; it goes on "
                                "there: resume following it by its task id")
                        await asyncio.sleep(self.poll_s)
            except (A2AClientError, MessageNotDelivered) as exc:
                failures += 1
                if failures > self.retries:
                    raise TaskUnreachable(f"remote agent {self.url} unreachable while "
                                          f"following task {task_id}: {exc}") from exc
                await asyncio.sleep(self._backoff(failures))
            except A2AError as exc:
                raise RemoteAgentError(f"remote agent {self.url} cannot report task "
                                       f"{task_id}: {exc}") from exc

    async def get(self, task_id: str) -> RemoteResult:
        """The task as the remote reports it now (one ``tasks/get``)."""
        return await self._task_call(task_id, "get", f"remote agent {self.url}, task {task_id}")

    async def cancel(self, task_id: str) -> RemoteResult:
        """Ask the remote to cancel a task."""
        return await self._task_call(task_id, "cancel",
                                     f"remote agent {self.url} did not cancel task {task_id}")

    async def _task_call(self, task_id: str, method: Literal["get", "cancel"],
                         failure: str) -> RemoteResult:
        """One ``tasks/get`` or ``tasks/cancel``; an A2A error becomes ``failure: error``."""
        progress = _Progress(task_id=task_id)
        async with self._client() as (client, card):
            try:
                task = (await client.get_task(GetTaskRequest(id=task_id)) if method == "get"
                        else await client.cancel_task(CancelTaskRequest(id=task_id)))
                progress.take_task(task)
            except A2AError as exc:
                raise RemoteAgentError(f"{failure}: {exc}") from exc
        return progress.result(card.name)


async def resume_or_send(remote: RemoteAgent, content: Any, *, task_id: str | None,
                         message_id: str | None = None, on_task: OnTask | None = None,
                         on_update: OnUpdate | None = None) -> RemoteResult:
    """Follow ``task_id`` if the step already started a remote task, else send ``content``.

    How a runtime makes a remote task a durable step: before calling, look in the journal for
    the step's task id (``a2a.task.started`` with the step's key); pass it as ``task_id``; and
    journal the task id ``on_task`` gives, at once, as that event. ``JournalTaskLog`` does
    exactly this.
    """
    if task_id:
        return await remote.follow(task_id, on_update=on_update)
    return await remote.send(content, message_id=message_id, on_task=on_task,
                             on_update=on_update)


__all__ = [
    "TASK_FINISHED",
    "TASK_ROUTED",
    "TASK_STARTED",
    "TASK_UPDATED",
    "TERMINAL_STATES",
    "MessageNotDelivered",
    "OnUpdate",
    "RemoteAgent",
    "RemoteAgentError",
    "RemoteResult",
    "RemoteUpdate",
    "TaskUnreachable",
    "resume_or_send",
    "state_name",
]
