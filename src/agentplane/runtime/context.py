"""Durable steps: the journal is the run's memory.

Every model call, tool call and wait is a step with a stable key ``(run_id, step_key)``. When a
run is resumed after a crash, its code runs again from the top; a step whose result is in the
journal returns that result without being called again. Only the unfinished edge is re-executed,
and a side effect that may have happened but was not confirmed is re-run only if its tool is
safe to repeat — otherwise the run stops for a person to reconcile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from agentplane.errors import AgentplaneError
from agentplane.governance import PastCall, ProvenanceLedger
from agentplane.journal import (
    Event,
    EventType,
    JournalStore,
    LeaseLostError,
    NewEvent,
    RunNotActiveError,
    RunNotFoundError,
    RunRecord,
    canonical_json,
    sha256_hex,
)
from agentplane.journal.safe import MAX_EVENT_DATA_CHARS
from agentplane.models.base import ModelError, ModelRequest, ModelResponse
from agentplane.models.registry import ModelResolver
from agentplane.tools import Effect, Tool, ToolContext, ToolCrashedError, ToolError

from . import eager
from .workflow import Workflow

if TYPE_CHECKING:
    from agentplane.tools.base import Ask, Sample

    from .budgeted import RunMetering
    from .personal import PersonalData
    from .perturb import Perturbations

log = logging.getLogger("agentplane.runtime")


class Suspended(Exception):
    """The run must wait for the given waits (approvals, signals, timers); not an error."""

    def __init__(self, wait_ids: Sequence[str]) -> None:
        super().__init__(f"waiting for {', '.join(wait_ids)}")
        self.wait_ids = list(wait_ids)


class NeedsReconciliation(Exception):
    """A non-repeatable call was started but never confirmed: a person must check it."""

    def __init__(self, step_key: str, tool: str, arguments: dict[str, Any],
                 error: str | None = None) -> None:
        super().__init__(f"call {step_key} ({tool}) may or may not have happened")
        self.step_key = step_key
        self.tool = tool
        self.arguments = arguments
        self.error = error
        """What went wrong after the call started (a crash, a timeout), if known."""


class ToolTimeoutError(ToolCrashedError):
    """A tool call did not answer within its timeout (it was abandoned, or its process killed)."""


CARRIED_RESULT_CHARS = MAX_EVENT_DATA_CHARS // 8
"""A call result kept at fewer characters than this may go with the run's next write (see
``RunContext._tool_completed``): even escaped (at most six characters each) and with the rest
of its event it is under the journal's limit for one event, so the write it joins is never
refused for its sake."""

CANCEL_CHECK_S = 1.0
"""While a tool call runs, how often (seconds) the runtime checks that the run was not
cancelled meanwhile; a cancelled run's call is abandoned at the next check."""


async def gather_steps(*steps: Awaitable[Any]) -> list[Any]:
    """Run steps concurrently. If some suspend, suspend on all their waits together (after the
    others finish), so a run waiting on several approvals at once remembers every one. One
    step is simply awaited: no task, and it goes on in the caller's turn of the event loop."""
    if len(steps) == 1:
        return [await steps[0]]
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


class _Declared(Exception):
    """The tool raised a ``ToolError``: it says it failed (the call ends ``tool.failed``)."""


def canonical_json_lenient(value: Any) -> str:
    """JSON text of a value for sizing and truncating (NaN allowed; the journal fixes it)."""
    try:
        return canonical_json(value)
    except (TypeError, ValueError):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          default=lambda o: f"<{type(o).__name__}>")


def refusal_event(step_key: str, tool: str, agent: str, arguments: Any, policy: str,
                  reason: str) -> NewEvent:
    """A refused tool call (not offered to the agent, malformed or invalid arguments) as a
    denied ``guard.decided``: attempted use of a tool is on the audit record and the
    Guardians page even when nothing ran."""
    return NewEvent(EventType.GUARD_DECIDED, "system", f"{step_key}/refused", {
        "guardian": "runtime", "policy_id": policy, "policy_version": 1, "result": "deny",
        "reason": reason, "details": {}, "tool": tool, "agent": agent, "call": step_key,
        "arguments": arguments})


@dataclass(slots=True)
class ToolOutcome:
    """The result of a tool call as the model will see it."""

    ok: bool
    value: Any
    """The JSON result, or the error message when not ``ok``."""


@dataclass(frozen=True, slots=True)
class StepRecord:
    """What a run remembers of a journaled step event while it is alive: who wrote it and, for
    the events whose data a step reads back (``DATA_READ_BACK``), its data. Not the whole
    ``Event``: a live run keeps one per step event, and the hashes, the time and the data of
    the other events (a model request, an agent invoked, ...) are the journal's business, not
    the steps'; for those a step only asks whether they happened."""

    actor: str
    data: Mapping[str, Any]


DATA_READ_BACK = frozenset({
    EventType.MODEL_COMPLETED, EventType.TOOL_COMPLETED, EventType.TOOL_FAILED,
    EventType.GUARD_DECIDED, EventType.RUN_RECONCILED, EventType.APPROVAL_GRANTED,
    EventType.APPROVAL_DENIED, EventType.APPROVAL_EXPIRED, EventType.WAIT_RESOLVED,
    EventType.CONTEXT_PACKET, EventType.TOOLS_SELECTED, EventType.VERIFY_CHECKED,
    EventType.ENSEMBLE_JUDGED, EventType.MODEL_ROUTED, EventType.MODEL_FAILED})
"""Step events whose data a run reads back from its ``StepRecord``: results, decisions,
resolutions. A new reader of another type's data must add the type here."""

_NOT_KEPT: Mapping[str, Any] = MappingProxyType({})

_DATALESS: dict[str, StepRecord] = {}
"""One shared (frozen) record per actor for the step events whose data is not kept: most
step events of every live run are these."""


def _step_record(actor: str, data: Mapping[str, Any] | None) -> StepRecord:
    if data is not None:
        return StepRecord(actor, data)
    record = _DATALESS.get(actor)
    if record is None:
        record = StepRecord(actor, _NOT_KEPT)
        if len(_DATALESS) < 1_024:  # actors are few (agents, people): a bounded memo
            _DATALESS[actor] = record
    return record


_STEP_KEYS: dict[tuple[str, str], tuple[str, str]] = {}
"""One shared key per (step key, event type) for the step indexes of every live run: the runs
of a workflow journal the same step keys, so thousands of live runs hold one tuple (and one
string) per step instead of one each. A bounded memo: when full, keys are not shared."""

_MAX_SHARED_STEP_KEYS = 20_000


def _step_index_key(step_key: str, event_type: str) -> tuple[str, str]:
    key = (step_key, event_type)
    shared = _STEP_KEYS.get(key)
    if shared is not None:
        return shared
    key = (sys.intern(step_key), event_type)
    if len(_STEP_KEYS) < _MAX_SHARED_STEP_KEYS:
        _STEP_KEYS[key] = key
    return key


@dataclass(slots=True)
class RunContext:
    """One attempt at executing a run: the journal so far, and the durable primitives."""

    store: JournalStore
    run: RunRecord
    workflow: Workflow
    models: ModelResolver
    owner: str
    _index: dict[tuple[str, str], StepRecord] = field(default_factory=dict)
    _started: dict[str, int] | None = None
    """Tool calls started per step key (made when the run starts its first)."""
    _model_calls: dict[str, int] = field(default_factory=dict)
    _clock: dict[str, float] | None = None
    calls: list[PastCall] = field(default_factory=list)
    """Tool calls started so far (for rate, spend and anomaly checks)."""
    tokens: int = 0
    """Input + output tokens of the model calls so far."""
    provenance: ProvenanceLedger = field(default_factory=ProvenanceLedger)
    """Everything the run has seen, by trust."""
    metering: RunMetering | None = None
    """Where budgets are checked; None when the runtime meters nothing."""
    budgets_waived: Set[str] = frozenset()
    """Budgets a person allowed this run to go over."""
    _budget_waits: dict[str, str] | None = None
    sampling: Callable[[RunContext, str, str], Sample] | None = None
    """Makes the ``ToolContext.sample`` of a tool step (step key, agent): the agent's model
    for servers that ask for completions (``sampling.sampler``)."""
    asking: Callable[[RunContext, str, str], Ask] | None = None
    """Makes the ``ToolContext.ask`` of a tool step: a server's questions to a person
    (``elicitation.asker``); an attempt that asked one ended waiting, not half-done."""
    personal: PersonalData | None = None
    """The run's personal values and subject: what the journal keeps sealed (erasable)."""
    perturb: Perturbations | None = None
    """A simulation's perturbations of this run's tool and model calls (``perturb.py``)."""
    _carried: list[NewEvent] | None = None
    """Events journaled with the run's next write (``_carry``): agent markers
    (``record_once(..., with_next=True)``) and results of calls that may be repeated."""
    _carrier: asyncio.Task[Any] | None = None
    """The write of carried events made on their own (``_carry_alone``), kept referenced so
    the task is not collected before it ends."""
    _carry_check: bool = False
    """A ``_carry_alone`` is scheduled and has not run yet: later carries need no other."""

    @property
    def run_id(self) -> str:
        return self.run.id

    def load(self, events: Sequence[Event]) -> None:
        personal = self.personal
        for event in events:
            if personal is not None:  # a resumed run learns its personal values again
                personal.learn_event(self.workflow.spec, event)
            self._note(event)

    def _note(self, event: Event) -> None:
        if event.step_key is not None:
            self._index[_step_index_key(event.step_key, event.type)] = _step_record(
                event.actor, event.data if event.type in DATA_READ_BACK else None)
            if event.type == EventType.TOOL_STARTED:
                if self._started is None:
                    self._started = {}
                self._started[event.step_key] = self._started.get(event.step_key, 0) + 1
                at = datetime.fromisoformat(event.time).timestamp()
                self.calls.append(PastCall(str(event.data.get("tool")),
                                           dict(event.data.get("arguments") or {}), at,
                                           Effect(event.data.get("effect", "write"))))
        if event.type == EventType.APPROVAL_REQUESTED and event.data.get("kind") == "budget":
            if self._budget_waits is None:
                self._budget_waits = {}
            self._budget_waits[str(event.data["wait_id"])] = str(event.data.get("budget"))
        elif event.type == EventType.APPROVAL_GRANTED and self._budget_waits is not None:
            budget = self._budget_waits.get(str(event.data.get("wait_id")))
            if budget is not None:
                self.budgets_waived = self.budgets_waived | {budget}
        if event.usage:
            self.tokens += event.usage.get("input_tokens", 0) + event.usage.get("output_tokens", 0)

    def recorded(self, step_key: str, event_type: str) -> StepRecord | None:
        return self._index.get((step_key, event_type))

    async def append(self, *events: NewEvent, require_active: bool = False) -> list[Event]:
        carried = self._carried
        if carried is not None:  # markers waiting for this write go first, in their order
            self._carried = None
            events = (*carried, *events)
        elif not events:
            return []
        try:
            return await self._append(events, require_active)
        except RunNotActiveError:
            # Stopped meanwhile (cancelled, ...): what was carried is journaled all the same,
            # as it would have been on its own (a call's result, an agent's end).
            if carried is not None:
                if require_active:
                    await self._write_stopped(carried)
                else:
                    self._keep(carried)
            raise
        except BaseException:
            if carried is not None:
                self._keep(carried)
            raise

    def _keep(self, carried: list[NewEvent]) -> None:
        """Carried events that were not written go with the next write, first."""
        self._carried = [*carried, *(self._carried or ())]

    async def _write_stopped(self, carried: list[NewEvent]) -> None:
        try:
            await self._append(carried, False)
        except AgentplaneError as exc:  # kept for a later write, which meets the same error
            self._keep(carried)
            log.debug("run %s: carried events not written (%s)", self.run_id, exc)

    async def _append(self, events: Sequence[NewEvent], require_active: bool) -> list[Event]:
        personal = self.personal
        if personal is not None:  # personal values go to the journal sealed
            for new in events:
                personal.learn_event(self.workflow.spec, new)
            sealed = tuple(personal.seal_event(new) for new in events)
            written = await self.store.append(self.run_id, sealed, owner=self.owner,
                                              require_active=require_active)
            # the run reads back what it wrote, in the clear (as a replay's reads are)
            written = [w if s is n else replace(w, data=n.data)
                       for w, s, n in zip(written, sealed, events, strict=True)]
        else:
            written = await self.store.append(self.run_id, events, owner=self.owner,
                                              require_active=require_active)
        for event in written:
            self._note(event)
        metering = self.metering
        # the usage ledger is kept current as the run goes (at once, once it follows the run)
        if metering is not None and not metering.ledger.follow(self.run, written,
                                                               metering.pricer):
            await metering.ledger.record(self.store, self.run, written, metering.pricer)
        return written

    async def record_once(self, step_key: str, event_type: str, data: dict[str, Any],
                          actor: str = "system", *, with_next: bool = False) -> None:
        """Journal a marker event (agent invoked, hand-off, ...) once per step, not on replay.

        ``with_next``: journal it in the run's next write, and at the latest once this turn
        of the event loop is over. Only for a marker of the runtime's own bookkeeping that a
        replay makes again the same (an agent invoked or completed): a write always comes
        before anything leaves the process (a model call, a tool call, the run's end), so the
        marker is durable before anything it could be about happened outside, and a crash
        before that write loses nothing the replay does not make again. It saves the run a
        transaction of its own."""
        if self.recorded(step_key, event_type) is not None:
            return
        new = NewEvent(event_type, actor=actor, step_key=step_key, data=data)
        if with_next:
            self._carry(new)
        else:
            await self.append(new)

    def _carry(self, new: NewEvent) -> None:
        """Journal ``new`` in the run's next write, and at the latest once this turn of the
        event loop is over (``_carry_alone``)."""
        if self._carried is not None:
            self._carried.append(new)
            return
        self._carried = [new]
        # One check pending at a time: steps that carry and write within one turn (calls that
        # answer at once) share it, instead of leaving a callback, and a write, per step.
        if not self._carry_check:
            self._carry_check = True
            asyncio.get_running_loop().call_soon(self._carry_alone)

    def _carry_alone(self) -> None:
        """The turn ended with no write of the run: what was carried gets a write of its own."""
        self._carry_check = False
        if self._carried:
            self._carrier = asyncio.ensure_future(self._write_carried())

    async def _write_carried(self) -> None:
        try:
            await self.append()
        except Exception as exc:  # kept for the run's next write, which meets the same error
            log.debug("run %s: carried events kept for the next write (%s)", self.run_id, exc)

    async def refuse(self, step_key: str, tool: str, agent: str, arguments: Any, policy: str,
                     reason: str) -> None:
        """Journal a refused call (once per step, not on replay); see ``refusal_event``."""
        if self.recorded(f"{step_key}/refused", EventType.GUARD_DECIDED) is None:
            await self.append(refusal_event(step_key, tool, agent, arguments, policy, reason))

    async def ensure_active(self) -> None:
        status = await self.store.run_status(self.run_id)
        if status != "running":
            raise RunNotActiveError(self.run_id, status or "gone")

    # -- model steps --------------------------------------------------------------------------

    def model_call_retried(self, agent: str) -> None:
        """The agent's last model call failed and is made again elsewhere (a router's
        fallback): the retry is the same call, with the same ordinal (``call_index``)."""
        self._model_calls[agent] = max(0, self._model_calls.get(agent, 0) - 1)

    async def model_step(self, step_key: str, model: str, request: ModelRequest, *,
                         first: Sequence[NewEvent] = ()) -> ModelResponse:
        """Call a model once per step key; on replay return the journaled response.
        ``first``: events journaled with the request, in one write (a router's decision)."""
        index = self._model_calls.get(request.agent, 0)
        self._model_calls[request.agent] = index + 1
        done = self.recorded(step_key, EventType.MODEL_COMPLETED)
        if done is not None:
            return ModelResponse.from_dict(done.data["response"])
        try:
            provider, model_name = self.models.resolve(model)
        except Exception:
            await self.ensure_active()  # a run no longer active is refused before anything else
            raise
        request.model = model_name
        request.call_index = index
        actor = sys.intern(f"agent:{request.agent}")  # kept per step by every live run
        requested = {
            "agent": request.agent, "provider": provider.name, "model": model_name,
            "call_index": index, "messages": len(request.messages),
            "tools": [t.name for t in request.tools],
        }
        # The request is committed before the call, so the two events' times bracket it:
        # whoever reads the journal (the console, telemetry) sees the latency that was.
        # ``require_active``: the append itself refuses a run that was cancelled, finished or
        # sent to reconciliation meanwhile, so a step needs no status query of its own. Only
        # when the append is refused otherwise is the status read, so that a run no longer
        # running is refused as not active (``RunNotActiveError``), exactly as before.
        try:
            await self.append(*first,
                              NewEvent(EventType.MODEL_REQUESTED, actor, step_key, requested),
                              require_active=True)
        except (LeaseLostError, RunNotFoundError):
            await self.ensure_active()
            raise
        started = time.perf_counter()
        try:
            response = await (provider.complete(request) if self.perturb is None else
                              self.perturb.model_call(self, step_key, provider, request))
        except ModelError as exc:
            await self.append(
                NewEvent(EventType.MODEL_FAILED, actor, step_key,
                         {"error": str(exc), "retryable": exc.retryable, "status": exc.status,
                          "latency_ms": round((time.perf_counter() - started) * 1000, 3)}))
            raise RunFailure(f"model call {step_key} ({provider.name}:{model_name}) failed: "
                             f"{exc}") from exc
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        sent = response.to_dict()
        completed = NewEvent(EventType.MODEL_COMPLETED, actor, step_key,
                             {"agent": request.agent, "model": response.model or model_name,
                              "provider_model": sys.intern(f"{provider.name}:{model_name}"),
                              "latency_ms": latency_ms, "response": sent},
                             usage=response.usage.to_dict())
        await self.append(completed)
        # What the run goes on with is what the journal holds (text made safe at its boundary),
        # so a replay after a crash sees exactly what the first attempt saw. The boundary keeps
        # an unchanged value as the same object: only a changed reply is rebuilt.
        held = completed.data["response"]
        return response if held is sent else ModelResponse.from_dict(held)

    # -- tool steps ---------------------------------------------------------------------------

    async def tool_step(self, step_key: str, tool: Tool, arguments: dict[str, Any],
                        agent: str, *, journal_first: Sequence[NewEvent] = ()) -> ToolOutcome:
        """Call a tool once per step key, with crash-safe bookkeeping around the side effect.

        ``journal_first``: events (e.g. the guardians' decision) committed in the same
        transaction as the call's start.

        After the start is journaled, every way the call can end is recorded: a result
        (``tool.completed``), an error the tool raised as a ``ToolError`` (``tool.failed``), or —
        when nobody knows whether the side effect happened (a crash, a timeout, an unexpected
        exception, a result the journal refused) — a retry per the tool's retry policy if the
        call is safe to repeat, else ``needs_reconciliation`` for a person.
        """
        done = self.recorded(step_key, EventType.TOOL_COMPLETED)
        if done is not None:
            return ToolOutcome(True, done.data.get("result"))
        failed = self.recorded(step_key, EventType.TOOL_FAILED)
        if failed is not None:
            return ToolOutcome(False, failed.data.get("error"))
        attempts = 0 if self._started is None else self._started.get(step_key, 0)
        # (an attempt that ended asking a person did nothing yet)
        if attempts and not tool.safe_to_repeat and not self._retry_allowed(step_key, attempts) \
                and self.recorded(f"{step_key}/ask{attempts}", EventType.APPROVAL_REQUESTED
                                  ) is None:
            raise NeedsReconciliation(step_key, tool.name, arguments)
        actor = f"agent:{agent}"
        if tool.check is not None:
            try:
                tool.check(arguments)
            except ToolError as exc:  # refused before anything could happen: nothing started
                return await self._tool_failed(step_key, tool, actor, str(exc), [
                    *journal_first, refusal_event(step_key, tool.name, agent, arguments,
                                                  "tool-arguments", str(exc))])
        defaults = self.workflow.spec.tool_defaults
        timeout = tool.timeout_s or defaults.timeout_s
        policy = self.workflow.spec.retry_for(tool.name)
        previous_error: str | None = None
        while True:
            attempts += 1
            try:
                value, error = await self._attempt(step_key, tool, arguments, agent, attempts,
                                                   timeout, journal_first, previous_error)
            except _Declared as declared:
                return await self._tool_failed(step_key, tool, actor, str(declared))
            journal_first = ()
            if error is None:
                return await self._tool_completed(step_key, tool, agent, arguments, value)
            if not tool.safe_to_repeat:
                raise NeedsReconciliation(step_key, tool.name, arguments, error=error)
            if attempts >= policy.attempts:
                return await self._tool_failed(step_key, tool, actor,
                                               f"{error} (attempt {attempts} of "
                                               f"{policy.attempts})")
            previous_error = error
            await asyncio.sleep(policy.delay(attempts))

    async def _attempt(self, step_key: str, tool: Tool, arguments: dict[str, Any], agent: str,
                       attempt: int, timeout: float, journal_first: Sequence[NewEvent],
                       previous_error: str | None) -> tuple[Any, str | None]:
        """One attempt at a call: ``(value, None)``, or ``(None, error)`` when it is unknown
        whether the call had its effect (a crash, a timeout; an exception from a tool that is
        not safe to repeat). A ``ToolError`` the tool raised, or an exception from a read or
        idempotent tool, ends the step as ``tool.failed`` (raised as ``_Declared``): retries
        are for faults that may pass, not for bugs."""
        key = idempotency_key(self.run_id, step_key)
        started_data: dict[str, Any] = {
            "tool": tool.name, "agent": agent, "arguments": arguments,
            "effect": tool.effect.value, "idempotent": tool.idempotent,
            "idempotency_key": key, "attempt": attempt, "timeout_s": timeout}
        if previous_error is not None:
            started_data["previous_error"] = previous_error
        # Committed before the side effect: after a crash we know the call may have happened.
        await self.append(*journal_first,
                          NewEvent(EventType.TOOL_STARTED, f"agent:{agent}", step_key,
                                   started_data),
                          require_active=True)
        context = ToolContext(run_id=self.run_id, step_key=step_key, idempotency_key=key,
                              agent=agent, tool=tool.name, attempt=attempt,
                              sample=self.sampling and self.sampling(self, step_key, agent),
                              ask=self.asking and self.asking(self, step_key, agent))
        if self._clock is None:
            self._clock = {}
        self._clock[step_key] = time.perf_counter()
        try:
            return await self._invoke(tool, arguments, context, timeout), None
        except Suspended:  # the tool asked a person (ToolContext.ask): the run waits
            raise
        except ToolCrashedError as exc:
            return None, str(exc)
        except ToolError as exc:
            raise _Declared(str(exc)) from exc
        except (LeaseLostError, RunNotActiveError):
            raise
        except Exception as exc:  # the tool's own bug: it may have failed half-way
            message = f"{type(exc).__name__}: {exc}"
            if tool.safe_to_repeat:  # nothing to reconcile, and a bug does not go away by retrying
                raise _Declared(message) from exc
            return None, message

    async def _invoke(self, tool: Tool, arguments: dict[str, Any], context: ToolContext,
                      timeout: float) -> Any:
        """Await the call, giving up at ``timeout`` seconds or when the run is cancelled
        (checked every ``CANCEL_CHECK_S``); an abandoned call is cancelled, which kills its
        process when it runs in one. A call that answers without waiting is no task at all
        (``eager``): there is nothing to time out or cancel."""
        value, call = eager.start(
            tool.invoke(arguments, context) if self.perturb is None
            else self.perturb.tool_call(self, tool, arguments, context))
        if call is None:
            return value
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise ToolTimeoutError(f"{tool.name} did not answer within {timeout:g} s "
                                           "and was abandoned")
                done, _ = await asyncio.wait({call}, timeout=min(remaining, CANCEL_CHECK_S))
                if done:
                    return call.result()
                await self.ensure_active()
        finally:
            if not call.done():
                call.cancel()
                with contextlib.suppress(BaseException):
                    await call

    async def _tool_completed(self, step_key: str, tool: Tool, agent: str,
                              arguments: dict[str, Any], value: Any) -> ToolOutcome:
        now = time.perf_counter()
        started = now if self._clock is None else self._clock.pop(step_key, now)
        limit = self.workflow.spec.tool_defaults.max_result_chars
        done_data: dict[str, Any] = {
            "tool": tool.name, "agent": agent, "result": value,
            "latency_ms": round((time.perf_counter() - started) * 1000, 3)}
        if isinstance(value, str):
            text, size, storable = value, len(value) + 2, True
        else:
            try:
                text, storable = canonical_json(value), True
            except (TypeError, ValueError):  # not JSON as it is: the journal decides
                text, storable = canonical_json_lenient(value), False
            size = len(text)
        if size > limit:
            done_data["result"] = text[:limit]
            done_data["truncated"] = {"chars": size, "limit": limit,
                                      "reason": "the result was longer than "
                                                "tool_defaults.max_result_chars"}
        if tool.cost_usd:
            done_data["cost_usd"] = tool.cost_usd
        actor = f"agent:{agent}"
        completed = NewEvent(EventType.TOOL_COMPLETED, actor, step_key, done_data)
        if storable and min(size, limit) < CARRIED_RESULT_CHARS and tool.safe_to_repeat \
                and not tool.cost_usd and self.personal is None:
            # A result a replay gets again by repeating the call, which costs nothing and
            # changes nothing: journaled with the run's next write (``_carry``), which comes
            # before anything the run does with it leaves the process. A crash before that
            # write repeats the call; it never loses a side effect's record or a charge.
            self._carry(completed)
            return ToolOutcome(True, completed.data["result"])
        try:
            await self.append(completed)
        except (LeaseLostError, RunNotActiveError):
            raise
        except AgentplaneError as exc:  # the effect happened, but its record was refused
            error = f"the call returned, but its result could not be journaled: {exc}"
            if not tool.safe_to_repeat:
                raise NeedsReconciliation(step_key, tool.name, arguments, error=error) from exc
            return await self._tool_failed(step_key, tool, actor, error)
        # The run goes on with what the journal holds, exactly what a replay will see.
        return ToolOutcome(True, completed.data["result"])

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
