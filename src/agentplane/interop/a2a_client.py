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

``a2a_tool`` makes a remote agent a ``Tool`` an agent can call (trust ``untrusted``: what another
organisation's agent says is traced by the provenance guardian like any outside content). With a
``TaskLog`` — ``JournalTaskLog`` keeps it in the run's journal — the tool journals the task id
(``a2a.task.started``), the remote's progress (``a2a.task.updated``) and its end with the usage
it reported (``a2a.task.finished``, usage in the event's ``usage``), and resumes by task id
when the runtime calls it again after a crash; that makes it safe to repeat, so it is declared
idempotent.

A remote agent may run as several replicas (``Replicas``; ``RegistryReplicas`` are those of a
registry entry). Then the tool journals the replica it chose (``a2a.task.routed``) before
sending, and a message that never reached a replica (no connection, no agent card:
``MessageNotDelivered``) fails over to the next healthy one. Once a replica may have the
message, the step stays with it: after a crash the task is followed by id (or, if its id was
never journaled, the same message id is sent again) on that replica, never on another, since
the task may have had effects there. Every ``a2a.task.*`` event carries the remote's
``identity``: the registry entry's id, version, owner, trust and replica, or ``{"url": ...}``
for an agent named by URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

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

from agentplane.errors import AgentplaneError, ConfigError, NotFoundError
from agentplane.journal import JournalStore, NewEvent
from agentplane.tools import Effect, Tool, ToolArgumentsError, ToolContext, ToolError, Trust

from .registry import TRUST_LEVELS, AgentEntry, Registry, RegistryError, TrustLevel

TASK_ROUTED = "a2a.task.routed"
"""Journal event: the step's message goes to this replica (``data.url``, ``data.identity``);
journaled before sending, so a resumed step sends to the same replica."""
TASK_STARTED = "a2a.task.started"
"""Journal event: a remote agent accepted the step's message (``data.task_id``)."""
TASK_UPDATED = "a2a.task.updated"
"""Journal event: the remote task moved on (``data.state``, ``data.text``)."""
TASK_FINISHED = "a2a.task.finished"
"""Journal event: the remote task ended or stopped for input; ``usage`` is what it reported."""

_TERMINAL = frozenset({"completed", "failed", "canceled", "rejected"})
_FINAL = _TERMINAL | {"input-required", "auth-required"}


class RemoteAgentError(AgentplaneError):
    """A remote agent could not be reached, or did not answer as A2A says."""


class MessageNotDelivered(RemoteAgentError):
    """The message never reached the remote agent (no connection, or no agent card): nothing
    can have started there, so another replica may be tried."""


class TaskUnreachable(RemoteAgentError):
    """The remote that has a task could not be reached to follow it. The task is never sent to
    another replica instead: it may have had effects where it is."""


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
        return self.state in _TERMINAL

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
        if isinstance(usage, dict):
            self.usage = {str(k): int(v) for k, v in usage.items()
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
        progress = _Progress(task_id=task_id)
        async with self._client() as (client, card):
            try:
                progress.take_task(await client.get_task(GetTaskRequest(id=task_id)))
            except A2AError as exc:
                raise RemoteAgentError(f"remote agent {self.url}, task {task_id}: "
                                       f"{exc}") from exc
        return progress.result(card.name)

    async def cancel(self, task_id: str) -> RemoteResult:
        """Ask the remote to cancel a task."""
        progress = _Progress(task_id=task_id)
        async with self._client() as (client, card):
            try:
                progress.take_task(await client.cancel_task(CancelTaskRequest(id=task_id)))
            except A2AError as exc:
                raise RemoteAgentError(f"remote agent {self.url} did not cancel task "
                                       f"{task_id}: {exc}") from exc
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


# -- replicas -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Replica:
    """One place a remote agent runs, and who the agent there is."""

    url: str
    """Base URL of the replica: its card is at ``<url>/.well-known/agent-card.json``."""
    identity: dict[str, str]
    """What the journal records about the agent: a registry entry's ``id``, ``version``,
    ``owner``, ``trust`` and ``replica`` (``AgentEntry.identity``); ``{"url": ...}`` for an
    agent named by URL."""


class Replicas(Protocol):
    """Where a remote agent's tasks go: one URL (``OneReplica``), or the replicas of a registry
    entry (``RegistryReplicas``)."""

    @property
    def where(self) -> str:
        """The agent in words, for tool descriptions and errors."""

    @property
    def balanced(self) -> bool:
        """Whether a new task may go to one of several replicas. Then the replica chosen is
        journaled before sending, and a message that does not reach it fails over."""

    def pick(self) -> Replica:
        """The replica to send a new task to; ``RemoteAgentError`` if there is none."""

    def failover(self, failed: Replica, error: str) -> Replica:
        """Record that ``failed`` could not be reached, and return the replica to try next
        (never ``failed``); ``RemoteAgentError`` if there is none."""

    def reached(self, replica: Replica) -> None:
        """``replica`` answered (its health may be recorded)."""

    def unreachable(self, replica: Replica, error: str) -> None:
        """``replica`` has a task but could not be reached to follow it (recorded; no
        failover)."""

    def agent(self, replica: Replica) -> RemoteAgent:
        """The client for a replica."""


@dataclass
class OneReplica:
    """A remote agent named by URL: every task goes there, and nothing fails over."""

    remote: RemoteAgent

    @property
    def where(self) -> str:
        return f"the remote A2A agent at {self.remote.url}"

    @property
    def balanced(self) -> bool:
        return False

    def pick(self) -> Replica:
        return Replica(self.remote.url, {"url": self.remote.url})

    def failover(self, failed: Replica, error: str) -> Replica:
        raise MessageNotDelivered(error)

    def reached(self, replica: Replica) -> None:
        pass

    def unreachable(self, replica: Replica, error: str) -> None:
        pass

    def agent(self, replica: Replica) -> RemoteAgent:
        if replica.url == self.remote.url:
            return self.remote
        # a task journaled at another URL is followed where it is
        return RemoteAgent(replica.url, key_env=self.remote.key_env,
                           timeout_s=self.remote.timeout_s, poll_s=self.remote.poll_s,
                           retries=self.remote.retries, streaming=self.remote.streaming,
                           read_timeout_s=self.remote.read_timeout_s)


@dataclass
class RegistryReplicas:
    """The replicas of a registry entry, as the places a remote agent's tasks go.

    ``pick`` uses ``Registry.pick`` (round robin over the replicas that are up, shared by
    every process on the database); ``failover`` uses ``Registry.failover`` (the failure
    counts in the replica's health); a replica that answers after failing is recorded healthy
    again. The entry is named by ``id``, or found by ``capability`` (``Registry.find``: the
    best-ranked entry with a replica up); ``min_trust`` refuses less trusted entries. Each
    replica's client uses ``key_env``, ``timeout_s`` and ``retries`` (for following a task).
    """

    registry: Registry
    id: str | None = None
    capability: str | None = None
    min_trust: TrustLevel | None = None
    key_env: str | None = None
    timeout_s: float = 600.0
    """How long to follow a task before giving up on it, seconds."""
    retries: int = 8
    """Consecutive failed attempts to reach the replica that has a task before giving up."""
    _agents: dict[str, RemoteAgent] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if (self.id is None) == (self.capability is None):
            raise ConfigError("name a registry entry by exactly one of id and capability")

    @property
    def where(self) -> str:
        if self.id is not None:
            return f"the registry's agent {self.id}"
        return f"the registry's agent with capability {self.capability}"

    @property
    def balanced(self) -> bool:
        return True

    def _usable(self, entry: AgentEntry) -> str | None:
        """Why the entry cannot take tasks over A2A, or None if it can."""
        if entry.kind != "a2a":
            return (f"registry agent {entry.id} is a local agent ({', '.join(entry.replicas)}), "
                    "not reachable over A2A: use it as an agent of the workflow")
        if self.min_trust is not None and (
                TRUST_LEVELS.index(entry.trust) < TRUST_LEVELS.index(self.min_trust)):
            return (f"registry agent {entry.id} is {entry.trust}, and the workflow asks for "
                    f"at least {self.min_trust}")
        return None

    def _entry(self) -> AgentEntry:
        if self.id is not None:
            try:
                entry = self.registry.require(self.id)
            except NotFoundError as exc:
                raise RemoteAgentError(str(exc)) from exc
            problem = self._usable(entry)
            if problem is not None:
                raise RemoteAgentError(problem)
            return entry
        assert self.capability is not None
        found = [e for e in self.registry.find(self.capability, min_trust=self.min_trust)
                 if self._usable(e) is None]
        for entry in found:
            if any(self.registry.is_up(url) for url in entry.replicas):
                return entry
        trust = f" at least {self.min_trust}," if self.min_trust else ""
        raise RemoteAgentError(
            f"no registry agent with capability {self.capability!r},{trust} reachable over "
            f"A2A has a replica up"
            + (f" ({', '.join(e.id for e in found)} have none)" if found else "")
            + "; see `agentplane registry find` and `agentplane registry check`")

    def _replica(self, entry: AgentEntry, url: str) -> Replica:
        return Replica(url, entry.identity(replica=url))

    def pick(self) -> Replica:
        entry = self._entry()
        try:
            return self._replica(entry, self.registry.pick(entry.id))
        except (RegistryError, NotFoundError) as exc:
            raise RemoteAgentError(str(exc)) from exc

    def failover(self, failed: Replica, error: str) -> Replica:
        # the entry that served ``failed`` (its id is in the identity), not a new search
        entry_id = failed.identity.get("id", "").removeprefix("agent:")
        try:
            entry = self.registry.get(entry_id, failed.identity.get("version"))
            entry = entry or self.registry.require(entry_id)
            return self._replica(entry, self.registry.failover(entry.id, failed.url, error))
        except (RegistryError, NotFoundError) as exc:
            raise MessageNotDelivered(str(exc)) from exc

    def reached(self, replica: Replica) -> None:
        if self.registry.health(replica.url).ok is not True:
            self.registry.record_health(replica.url, True, None, None)

    def unreachable(self, replica: Replica, error: str) -> None:
        self.registry.record_health(replica.url, False, None, error)

    def agent(self, replica: Replica) -> RemoteAgent:
        remote = self._agents.get(replica.url)
        if remote is None:
            remote = RemoteAgent(replica.url, key_env=self.key_env, timeout_s=self.timeout_s,
                                 retries=self.retries)
            self._agents[replica.url] = remote
        return remote


# -- remote agents as tools ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StepTask:
    """What the journal says an earlier attempt of a step did with its remote task."""

    replica: Replica
    """Where the step's message went."""
    task_id: str | None
    """The remote task's id; None if the replica was chosen but no task id was journaled (the
    caller crashed while sending)."""


class TaskLog(Protocol):
    """Where a tool keeps its remote task's replica, id and progress (the run's journal)."""

    async def recall(self, context: ToolContext) -> StepTask | None:
        """Where this step sent its message before (a previous attempt), if anywhere."""

    async def routed(self, context: ToolContext, replica: Replica,
                     failed: tuple[Replica, str] | None = None) -> None:
        """The step's message is about to go to ``replica`` (after ``failed`` and its error,
        when failing over)."""

    async def started(self, context: ToolContext, task_id: str, replica: Replica) -> None: ...

    async def updated(self, context: ToolContext, update: RemoteUpdate,
                      replica: Replica) -> None: ...

    async def finished(self, context: ToolContext, result: RemoteResult,
                       replica: Replica) -> None: ...


def _replica_of(data: dict[str, Any], fallback: str | None) -> Replica:
    url = str(data.get("url") or fallback or "")
    identity = data.get("identity")
    return Replica(url, dict(identity) if isinstance(identity, dict) else {"url": url})


@dataclass
class JournalTaskLog:
    """A ``TaskLog`` in the run's journal: events keyed by the tool call's step key, each
    naming the replica (``url``) and the remote's ``identity``."""

    store: JournalStore
    url: str | None = None
    """The URL of an agent named by URL: where a task is followed if its event names none."""

    async def recall(self, context: ToolContext) -> StepTask | None:
        for event in reversed(await self.store.events(context.run_id)):
            if event.step_key != context.step_key:
                continue
            if event.type == TASK_STARTED:
                return StepTask(_replica_of(event.data, self.url), str(event.data["task_id"]))
            if event.type == TASK_ROUTED:
                return StepTask(_replica_of(event.data, self.url), None)
        return None

    async def _append(self, context: ToolContext, kind: str, replica: Replica,
                      data: dict[str, Any], usage: dict[str, int] | None = None) -> None:
        await self.store.append(context.run_id, [NewEvent(
            kind, actor=f"agent:{context.agent}", step_key=context.step_key,
            data={"tool": context.tool, **data, "url": replica.url,
                  "identity": replica.identity}, usage=usage)])

    async def routed(self, context: ToolContext, replica: Replica,
                     failed: tuple[Replica, str] | None = None) -> None:
        data: dict[str, Any] = {"attempt": context.attempt}
        if failed is not None:
            data |= {"failed_over_from": failed[0].url, "error": failed[1]}
        await self._append(context, TASK_ROUTED, replica, data)

    async def started(self, context: ToolContext, task_id: str, replica: Replica) -> None:
        await self._append(context, TASK_STARTED, replica,
                           {"task_id": task_id, "attempt": context.attempt})

    async def updated(self, context: ToolContext, update: RemoteUpdate,
                      replica: Replica) -> None:
        await self._append(context, TASK_UPDATED, replica, {
            "task_id": update.task_id, "state": update.state, "text": update.text})

    async def finished(self, context: ToolContext, result: RemoteResult,
                       replica: Replica) -> None:
        # ``agent`` stays the card's name: metering reads it as the usage's agent
        await self._append(context, TASK_FINISHED, replica,
                           {"task_id": result.task_id, "state": result.state,
                            "agent": result.agent}, usage=result.usage or None)


_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"message": {"type": "string",
                               "description": "What to ask the remote agent to do."}},
    "required": ["message"],
    "additionalProperties": False,
}


def _check(arguments: dict[str, Any]) -> None:
    message = arguments.get("message")
    if not isinstance(message, str) or not message.strip() or set(arguments) - {"message"}:
        raise ToolArgumentsError("call the remote agent with one argument, `message`: the "
                                 "text of the task to hand it")


@dataclass
class _Call:
    """One call of a remote agent's tool: which replica gets the task, and what the journal
    learns of it."""

    replicas: Replicas
    log: TaskLog | None
    context: ToolContext
    message: str

    async def run(self) -> RemoteResult:
        before = await self.log.recall(self.context) if self.log is not None else None
        if before is not None and before.task_id:
            return await self._follow(before.replica, before.task_id)
        if before is not None:
            # Chosen before a crash, task id unknown: the message may be there already. Send
            # it to the same replica with the same message id (an Agentplane server finds the
            # task it made of it), and never to another.
            try:
                return await self._send(before.replica, retries=None)
            except MessageNotDelivered as exc:
                self.replicas.unreachable(before.replica, str(exc))
                raise MessageNotDelivered(
                    f"{exc}; the step's message may have reached {before.replica.url} before "
                    "the crash, so it is not sent to another replica") from exc
        return await self._send_new()

    async def _send_new(self) -> RemoteResult:
        replica = self.replicas.pick()
        failed: tuple[Replica, str] | None = None
        tried: dict[str, str] = {}
        while True:
            if self.replicas.balanced and self.log is not None:
                await self.log.routed(self.context, replica, failed)
            try:
                # with replicas to fail over to, a dead one is not retried: the next is tried
                return await self._send(replica, retries=0 if self.replicas.balanced else None)
            except MessageNotDelivered as exc:
                tried[replica.url] = str(exc)
                failed = (replica, str(exc))
                replica = self.replicas.failover(replica, str(exc))
                if replica.url in tried:  # round the replicas once per call, not forever
                    raise MessageNotDelivered(
                        f"no replica of {self.replicas.where} could be reached: " + "; ".join(
                            f"{url} ({error})" for url, error in tried.items())) from exc

    async def _send(self, replica: Replica, *, retries: int | None) -> RemoteResult:
        async def on_task(task_id: str) -> None:
            if self.log is not None:
                await self.log.started(self.context, task_id, replica)

        try:
            result = await self.replicas.agent(replica).send(
                self.message, message_id=self.context.idempotency_key, on_task=on_task,
                on_update=self._on_update(replica), retries=retries)
        except TaskUnreachable as exc:
            self.replicas.unreachable(replica, str(exc))
            raise
        return await self._done(replica, result)

    async def _follow(self, replica: Replica, task_id: str) -> RemoteResult:
        try:
            result = await self.replicas.agent(replica).follow(
                task_id, on_update=self._on_update(replica))
        except TaskUnreachable as exc:
            self.replicas.unreachable(replica, str(exc))
            raise TaskUnreachable(f"{exc}; the task is not sent to another replica, since it "
                                  "may have had effects there") from exc
        return await self._done(replica, result)

    def _on_update(self, replica: Replica) -> OnUpdate:
        async def on_update(update: RemoteUpdate) -> None:
            if self.log is not None:
                await self.log.updated(self.context, update, replica)
        return on_update

    async def _done(self, replica: Replica, result: RemoteResult) -> RemoteResult:
        self.replicas.reached(replica)
        if self.log is not None:
            await self.log.finished(self.context, result, replica)
        return result


def a2a_tool(remote: RemoteAgent | Replicas, name: str, *, description: str | None = None,
             log: TaskLog | None = None, effect: Effect = Effect.WRITE,
             cost_usd: float = 0.0) -> Tool:
    """A tool that hands a task to a remote A2A agent and returns its result as data.

    ``remote``: one agent at a URL, or ``Replicas`` (a registry entry's replicas: new tasks
    are balanced over them and fail over when a message cannot be delivered; a started task
    stays on its replica). The result is untrusted content. A task that ends failed, canceled
    or rejected is a tool error; one that stops for input is returned (``state:
    input-required``, with the remote's question in ``status``). With ``log`` the call is
    resumable by task id, hence idempotent. ``effect``: what the remote may do on our behalf
    (default ``write``, the careful guess).
    """
    replicas: Replicas = OneReplica(remote) if isinstance(remote, RemoteAgent) else remote

    async def invoke(arguments: dict[str, Any], context: ToolContext) -> Any:
        try:
            result = await _Call(replicas, log, context, arguments["message"]).run()
        except RemoteAgentError as exc:
            raise ToolError(str(exc)) from exc
        if result.state in _TERMINAL - {"completed"}:
            raise ToolError(f"remote agent {result.agent} ended task {result.task_id} "
                            f"{result.state}" + (f": {result.status}" if result.status else ""))
        return result.to_json()

    return Tool(name=name, description=description or f"Hand a task to {replicas.where}.",
                parameters=_PARAMETERS, invoke=invoke, effect=effect,
                idempotent=log is not None, trust=Trust.UNTRUSTED, external=True,
                cost_usd=cost_usd, check=_check)


__all__ = [
    "TASK_FINISHED",
    "TASK_ROUTED",
    "TASK_STARTED",
    "TASK_UPDATED",
    "JournalTaskLog",
    "MessageNotDelivered",
    "OneReplica",
    "RegistryReplicas",
    "RemoteAgent",
    "RemoteAgentError",
    "RemoteResult",
    "RemoteUpdate",
    "Replica",
    "Replicas",
    "StepTask",
    "TaskLog",
    "TaskUnreachable",
    "a2a_tool",
    "resume_or_send",
    "state_name",
]
