"""Durable steps: the journal is the run's memory.

Every model call, tool call and wait is a step with a stable key ``(run_id, step_key)``. When a
run is resumed after a crash, its code runs again from the top; a step whose result is in the
journal returns that result without being called again. Only the unfinished edge is re-executed,
and a side effect that may have happened but was not confirmed is re-run only if its tool is
safe to repeat — otherwise the run stops for a person to reconcile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from agentplane.errors import AgentplaneError
from agentplane.governance import PastCall, ProvenanceLedger
from agentplane.journal import (
    Event,
    EventType,
    JournalStore,
    NewEvent,
    RunNotActiveError,
    RunRecord,
    sha256_hex,
)
from agentplane.models.base import ModelError, ModelRequest, ModelResponse
from agentplane.models.registry import ModelResolver
from agentplane.tools import Effect, Tool, ToolContext, ToolError

from .workflow import Workflow

if TYPE_CHECKING:
    from .budgeted import RunMetering


class Suspended(Exception):
    """The run must wait for the given waits (approvals, signals, timers); not an error."""

    def __init__(self, wait_ids: Sequence[str]) -> None:
        super().__init__(f"waiting for {', '.join(wait_ids)}")
        self.wait_ids = list(wait_ids)


class NeedsReconciliation(Exception):
    """A non-repeatable call was started but never confirmed: a person must check it."""

    def __init__(self, step_key: str, tool: str, arguments: dict[str, Any]) -> None:
        super().__init__(f"call {step_key} ({tool}) may or may not have happened")
        self.step_key = step_key
        self.tool = tool
        self.arguments = arguments


async def gather_steps(*steps: Awaitable[Any]) -> list[Any]:
    """Run steps concurrently. If some suspend, suspend on all their waits together (after the
    others finish), so a run waiting on several approvals at once remembers every one."""
    results = await asyncio.gather(*steps, return_exceptions=True)
    waits: list[str] = []
    for r in results:
        if isinstance(r, Suspended):
            waits.extend(r.wait_ids)
        elif isinstance(r, BaseException):
            raise r
    if waits:
        raise Suspended(waits)
    return list(results)


class RunFailure(AgentplaneError):
    """The run cannot go on (a model error, a denied escalation, a bad workflow)."""


def idempotency_key(run_id: str, step_key: str) -> str:
    """Stable across retries and recovery: derived from the run and the step only."""
    return "idem-" + sha256_hex(f"{run_id}/{step_key}")[:32]


def wait_id(run_id: str, step_key: str) -> str:
    """Short, stable id of the wait at a step (what people type in `approvals approve ID`)."""
    return "w-" + sha256_hex(f"{run_id}/{step_key}")[:12]


@dataclass(slots=True)
class ToolOutcome:
    """The result of a tool call as the model will see it."""

    ok: bool
    value: Any
    """The JSON result, or the error message when not ``ok``."""


@dataclass
class RunContext:
    """One attempt at executing a run: the journal so far, and the durable primitives."""

    store: JournalStore
    run: RunRecord
    workflow: Workflow
    models: ModelResolver
    owner: str
    _index: dict[tuple[str, str], Event] = field(default_factory=dict)
    _started: dict[str, int] = field(default_factory=dict)
    _model_calls: dict[str, int] = field(default_factory=dict)
    calls: list[PastCall] = field(default_factory=list)
    """Tool calls started so far (for rate, spend and anomaly checks)."""
    tokens: int = 0
    """Input + output tokens of the model calls so far."""
    provenance: ProvenanceLedger = field(default_factory=ProvenanceLedger)
    """Everything the run has seen, by trust."""
    metering: RunMetering | None = None
    """Where budgets are checked; None when the runtime meters nothing."""
    budgets_waived: set[str] = field(default_factory=set)
    """Budgets a person allowed this run to go over."""
    _budget_waits: dict[str, str] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.run.id

    def load(self, events: Sequence[Event]) -> None:
        for event in events:
            self._note(event)

    def _note(self, event: Event) -> None:
        if event.step_key is not None:
            self._index[(event.step_key, event.type)] = event
            if event.type == EventType.TOOL_STARTED:
                self._started[event.step_key] = self._started.get(event.step_key, 0) + 1
                at = datetime.fromisoformat(event.time).timestamp()
                self.calls.append(PastCall(str(event.data.get("tool")),
                                           dict(event.data.get("arguments") or {}), at,
                                           Effect(event.data.get("effect", "write"))))
        if event.type == EventType.APPROVAL_REQUESTED and event.data.get("kind") == "budget":
            self._budget_waits[str(event.data["wait_id"])] = str(event.data.get("budget"))
        elif event.type == EventType.APPROVAL_GRANTED:
            budget = self._budget_waits.get(str(event.data.get("wait_id")))
            if budget is not None:
                self.budgets_waived.add(budget)
        if event.usage:
            self.tokens += event.usage.get("input_tokens", 0) + event.usage.get("output_tokens", 0)

    def recorded(self, step_key: str, event_type: str) -> Event | None:
        return self._index.get((step_key, event_type))

    async def append(self, *events: NewEvent, require_active: bool = False) -> list[Event]:
        written = await self.store.append(self.run_id, events, owner=self.owner,
                                          require_active=require_active)
        for event in written:
            self._note(event)
        return written

    async def record_once(self, step_key: str, event_type: str, data: dict[str, Any],
                          actor: str = "system") -> None:
        """Journal a marker event (agent invoked, hand-off, ...) once per step, not on replay."""
        if self.recorded(step_key, event_type) is None:
            await self.append(NewEvent(event_type, actor=actor, step_key=step_key, data=data))

    async def ensure_active(self) -> None:
        status = await self.store.run_status(self.run_id)
        if status != "running":
            raise RunNotActiveError(self.run_id, status or "gone")

    # -- model steps --------------------------------------------------------------------------

    async def model_step(self, step_key: str, model: str, request: ModelRequest) -> ModelResponse:
        """Call a model once per step key; on replay return the journaled response."""
        index = self._model_calls.get(request.agent, 0)
        self._model_calls[request.agent] = index + 1
        done = self.recorded(step_key, EventType.MODEL_COMPLETED)
        if done is not None:
            return ModelResponse.from_dict(done.data["response"])
        await self.ensure_active()
        provider, model_name = self.models.resolve(model)
        request.model = model_name
        request.call_index = index
        actor = f"agent:{request.agent}"
        requested = {
            "agent": request.agent, "provider": provider.name, "model": model_name,
            "call_index": index, "messages": len(request.messages),
            "tools": [t.name for t in request.tools],
        }
        started = time.perf_counter()
        try:
            response = await provider.complete(request)
        except ModelError as exc:
            await self.append(
                NewEvent(EventType.MODEL_REQUESTED, actor, step_key, requested),
                NewEvent(EventType.MODEL_FAILED, actor, step_key,
                         {"error": str(exc), "retryable": exc.retryable, "status": exc.status}),
            )
            raise RunFailure(f"model call {step_key} ({provider.name}:{model_name}) failed: "
                             f"{exc}") from exc
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        # Requested and completed go in one transaction: a model call is safe to repeat, so
        # there is nothing to protect by committing the request first.
        await self.append(
            NewEvent(EventType.MODEL_REQUESTED, actor, step_key, requested),
            NewEvent(EventType.MODEL_COMPLETED, actor, step_key,
                     {"agent": request.agent, "model": response.model or model_name,
                      "provider_model": f"{provider.name}:{model_name}",
                      "latency_ms": latency_ms, "response": response.to_dict()},
                     usage=response.usage.to_dict()),
        )
        return response

    # -- tool steps ---------------------------------------------------------------------------

    async def tool_step(self, step_key: str, tool: Tool, arguments: dict[str, Any],
                        agent: str, *, journal_first: Sequence[NewEvent] = ()) -> ToolOutcome:
        """Call a tool once per step key, with crash-safe bookkeeping around the side effect.

        ``journal_first``: events (e.g. the guardians' decision) committed in the same
        transaction as the call's start."""
        done = self.recorded(step_key, EventType.TOOL_COMPLETED)
        if done is not None:
            return ToolOutcome(True, done.data.get("result"))
        failed = self.recorded(step_key, EventType.TOOL_FAILED)
        if failed is not None:
            return ToolOutcome(False, failed.data.get("error"))
        attempts = self._started.get(step_key, 0)
        if attempts and not tool.safe_to_repeat and not self._retry_allowed(step_key, attempts):
            raise NeedsReconciliation(step_key, tool.name, arguments)
        key = idempotency_key(self.run_id, step_key)
        actor = f"agent:{agent}"
        if tool.check is not None:
            try:
                tool.check(arguments)
            except ToolError as exc:  # refused before anything could happen: nothing started
                return await self._tool_failed(step_key, tool, actor, str(exc), journal_first)
        # Committed before the side effect: after a crash we know the call may have happened.
        await self.append(
            *journal_first,
            NewEvent(EventType.TOOL_STARTED, actor, step_key,
                     {"tool": tool.name, "agent": agent, "arguments": arguments,
                      "effect": tool.effect.value, "idempotent": tool.idempotent,
                      "idempotency_key": key, "attempt": attempts + 1}),
            require_active=True,
        )
        context = ToolContext(run_id=self.run_id, step_key=step_key, idempotency_key=key,
                              agent=agent, tool=tool.name, attempt=attempts + 1)
        started = time.perf_counter()
        try:
            value = await tool.invoke(arguments, context)
        except ToolError as exc:
            return await self._tool_failed(step_key, tool, actor, str(exc))
        except Exception as exc:  # a tool's own bug is reported to the model, not fatal
            return await self._tool_failed(step_key, tool, actor, f"{type(exc).__name__}: {exc}")
        done_data: dict[str, Any] = {
            "tool": tool.name, "agent": agent, "result": value,
            "latency_ms": round((time.perf_counter() - started) * 1000, 3)}
        if tool.cost_usd:
            done_data["cost_usd"] = tool.cost_usd
        await self.append(NewEvent(EventType.TOOL_COMPLETED, actor, step_key, done_data))
        return ToolOutcome(True, value)

    def _retry_allowed(self, step_key: str, attempts: int) -> bool:
        """A person reconciled the step and said it did not happen: one more attempt is allowed."""
        decision = self.recorded(step_key, EventType.RUN_RECONCILED)
        return decision is not None and decision.data.get("decision") == "retry" and (
            attempts <= int(decision.data.get("attempts_seen", 0))
        )

    async def _tool_failed(self, step_key: str, tool: Tool, actor: str, error: str,
                           journal_first: Sequence[NewEvent] = ()) -> ToolOutcome:
        await self.append(*journal_first, NewEvent(EventType.TOOL_FAILED, actor, step_key, {
            "tool": tool.name, "agent": actor.removeprefix("agent:"), "error": error}))
        return ToolOutcome(False, error)

    # -- waits --------------------------------------------------------------------------------

    async def wait(self, step_key: str, *, kind: str, data: dict[str, Any],
                   deadline: float | None = None, approval: bool = True,
                   actor: str = "system", journal_first: Sequence[NewEvent] = ()
                   ) -> dict[str, Any]:
        """Wait durably for a person (an approval) or a timer; returns the resolution.

        The first time, the wait is journaled and ``Suspended`` is raised: the run stops, holding
        no memory or worker. Once resolved (approve / deny / expiry), the replayed run gets here
        again and receives the resolution.
        """
        wid = wait_id(self.run_id, step_key)
        for close in (EventType.APPROVAL_GRANTED, EventType.APPROVAL_DENIED,
                      EventType.APPROVAL_EXPIRED, EventType.WAIT_RESOLVED):
            resolved = self.recorded(step_key, close)
            if resolved is not None:
                return {"type": close, "actor": resolved.actor, **resolved.data}
        opened = EventType.APPROVAL_REQUESTED if approval else EventType.WAIT_OPENED
        if self.recorded(step_key, opened) is None:
            await self.append(*journal_first,
                              NewEvent(opened, actor, step_key,
                                       {"wait_id": wid, "kind": kind, "deadline": deadline,
                                        **data}), require_active=True)
        raise Suspended([wid])
