"""Remote A2A agents as tools of a workflow: durable, journaled, and balanced over replicas.

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

from dataclasses import dataclass, field
from typing import Any, Protocol

from agentplane.errors import ConfigError, NotFoundError
from agentplane.journal import JournalStore, NewEvent
from agentplane.tools import (
    Effect,
    FieldTrust,
    Tool,
    ToolArgumentsError,
    ToolContext,
    ToolError,
    Trust,
)

from .a2a_client import (
    TASK_FINISHED,
    TASK_ROUTED,
    TASK_STARTED,
    TASK_UPDATED,
    TERMINAL_STATES,
    MessageNotDelivered,
    OnUpdate,
    RemoteAgent,
    RemoteAgentError,
    RemoteResult,
    RemoteUpdate,
    TaskUnreachable,
)
from .registry import TRUST_LEVELS, AgentEntry, Registry, RegistryError, TrustLevel

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
             cost_usd: float = 0.0, trust: Trust | FieldTrust = Trust.UNTRUSTED) -> Tool:
    """A tool that hands a task to a remote A2A agent and returns its result as data.

    ``remote``: one agent at a URL, or ``Replicas`` (a registry entry's replicas: new tasks
    are balanced over them and fail over when a message cannot be delivered; a started task
    stays on its replica). The result is untrusted content. A task that ends failed, canceled
    or rejected is a tool error; one that stops for input is returned (``state:
    input-required``, with the remote's question in ``status``). With ``log`` the call is
    resumable by task id, hence idempotent. ``effect``: what the remote may do on our behalf
    (default ``write``, the careful guess). ``trust``: untrusted unless declared (or per
    field of the task result).
    """
    replicas: Replicas = OneReplica(remote) if isinstance(remote, RemoteAgent) else remote

    async def invoke(arguments: dict[str, Any], context: ToolContext) -> Any:
        try:
            result = await _Call(replicas, log, context, arguments["message"]).run()
        except RemoteAgentError as exc:
            raise ToolError(str(exc)) from exc
        if result.state in TERMINAL_STATES - {"completed"}:
            raise ToolError(f"remote agent {result.agent} ended task {result.task_id} "
                            f"{result.state}" + (f": {result.status}" if result.status else ""))
        return result.to_json()

    return Tool(name=name, description=description or f"Hand a task to {replicas.where}.",
                parameters=_PARAMETERS, invoke=invoke, effect=effect,
                idempotent=log is not None, trust=trust, external=True,
                cost_usd=cost_usd, check=_check)


__all__ = [
    "JournalTaskLog",
    "OneReplica",
    "RegistryReplicas",
    "Replica",
    "Replicas",
    "StepTask",
    "TaskLog",
    "a2a_tool",
]
