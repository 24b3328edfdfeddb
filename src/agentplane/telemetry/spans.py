"""A run's journal as an OpenTelemetry trace, following the GenAI semantic conventions.

Spans are derived after the fact from journal events, so their start and end times are the
events' times (a model call's start is its completion minus the latency the runtime measured).
Trace and span ids are derived from the run id, the step key and the event's position, so
exporting the same journal twice yields the same ids, and a restart never opens a second trace.

One run is one trace::

    invoke_workflow {workflow}                  the run, from run.created to its end
      invoke_agent {agent}                      agent.invoked → agent.completed
        chat {model}                            model.requested → model.completed / failed
        apply_guardrail {guardian}                guard.decided (a decision: no duration)
        execute_tool {tool}                     tool.started → tool.completed / failed
          invoke_agent {agent}                  an agent used as a tool, or assigned work

A span's parent is the nearest open span whose step key is a prefix of its own (step keys
nest: ``s0/lead`` → ``s0/lead/m1`` → ``s0/lead/m1/t0``). Other events (approvals, hand-offs,
notifications, budget alerts, waits) become span events on that parent.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event as SpanEvent
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util.types import AttributeValue

from agentplane.journal import Event, EventType

from ._time import time_ns as time_ns  # also read from here (tests, older callers)

SCOPE = InstrumentationScope("agentplane.telemetry", "1")
"""The instrumentation scope every span carries."""

# Guardian verdicts (agentplane.governance.Verdict values) as GenAI guardrail verdicts and the
# action the runtime then takes.
VERDICTS = {"allow": "allow", "deny": "deny", "require_approval": "escalate",
            "redact": "modify"}
ACTIONS = {"allow": "allow", "deny": "block", "require_approval": "escalate",
           "redact": "modify"}

_TOOL_STEP = re.compile(r"^(?P<model_step>.+)/t(?P<index>\d+)$")
_MAX_TEXT = 256
"""Longest string copied into a span event attribute, in characters."""


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(("agentplane", *parts)).encode()).digest()


def trace_id_for(run_id: str) -> int:
    """The trace id of a run: 128 bits derived from its id, never 0."""
    return int.from_bytes(_digest("trace", run_id)[:16], "big") or 1


def span_id_for(run_id: str, *parts: str) -> int:
    """A span id (64 bits, never 0) derived from the run id and what identifies the span."""
    return int.from_bytes(_digest("span", run_id, *parts)[:8], "big") or 1


def _split_model(ref: str) -> tuple[str, str]:
    """``provider:model`` → (provider, model); a bare name is its own provider (``scripted``)."""
    provider, _, model = ref.partition(":")
    return provider, model or provider


def _scalars(data: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """The scalar fields of event data, strings shortened, as span event attributes."""
    out: dict[str, AttributeValue] = {}
    for key, value in data.items():
        if isinstance(value, bool | int | float):
            out[f"agentplane.{key}"] = value
        elif isinstance(value, str):
            out[f"agentplane.{key}"] = value[:_MAX_TEXT]
    return out


@dataclass(slots=True)
class _Open:
    """A span that has started and not yet ended."""

    name: str
    span_id: int
    parent_id: int | None
    step_key: str
    start_ns: int
    kind: SpanKind = SpanKind.INTERNAL
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    events: list[SpanEvent] = field(default_factory=list)
    last_ns: int = 0
    """Time of the latest event inside the span (where it ends if nothing ends it)."""


class RunTrace:
    """The trace of one run, built event by event.

    ``apply`` takes the run's events in order and returns the spans that ended with each one;
    spans still open (an agent waiting for a person) stay here until they end.
    """

    def __init__(self, run_id: str, resource: Resource) -> None:
        self.run_id = run_id
        self.trace_id = trace_id_for(run_id)
        self.resource = resource
        self.root: _Open | None = None
        self.finished = False
        """Whether the run ended (its root span was emitted)."""
        self.workflow = ""
        self._rollback = False
        self._open: dict[str, _Open] = {}
        self._requested: dict[str, Event] = {}
        self._call_ids: dict[str, list[str]] = {}

    # -- building spans -----------------------------------------------------------------------

    def _context(self, span_id: int) -> SpanContext:
        return SpanContext(self.trace_id, span_id, is_remote=False,
                           trace_flags=TraceFlags(TraceFlags.SAMPLED))

    def _span(self, span: _Open, end_ns: int, status: Status | None = None) -> ReadableSpan:
        return ReadableSpan(
            name=span.name, context=self._context(span.span_id),
            parent=None if span.parent_id is None else self._context(span.parent_id),
            resource=self.resource, attributes=span.attributes, events=span.events,
            kind=span.kind, status=status or Status(StatusCode.UNSET),
            start_time=span.start_ns, end_time=max(end_ns, span.start_ns),
            instrumentation_scope=SCOPE)

    def _ensure_root(self, event: Event) -> _Open:
        if self.root is None:
            at = time_ns(event.time)
            workflow = str(event.data.get("workflow", "")) if (
                event.type == EventType.RUN_CREATED) else ""
            self.root = _Open(f"invoke_workflow {workflow}".strip(),
                              span_id_for(self.run_id, "run"), None, "", at, last_ns=at,
                              attributes={"gen_ai.operation.name": "invoke_workflow",
                                          "gen_ai.conversation.id": self.run_id,
                                          "agentplane.run.id": self.run_id})
            if event.type == EventType.RUN_CREATED:
                self.workflow = workflow
                self.root.attributes.update({
                    "gen_ai.workflow.name": workflow,
                    "agentplane.tenant": str(event.data.get("tenant", "default")),
                    "agentplane.workflow.hash": str(event.data.get("workflow_hash", ""))})
        return self.root

    def _parent(self, step_key: str | None) -> _Open:
        """The nearest open span whose step key is a proper prefix of ``step_key``."""
        assert self.root is not None
        best = self.root
        if step_key:
            for key, span in self._open.items():
                if step_key.startswith(key + "/") and len(key) > len(best.step_key):
                    best = span
        return best

    def _new(self, event: Event, name: str, kind: SpanKind, attributes: dict[str, AttributeValue],
             *, start_ns: int | None = None) -> _Open:
        parent = self._parent(event.step_key)
        at = time_ns(event.time) if start_ns is None else start_ns
        attributes.update({"agentplane.run.id": self.run_id,
                           "agentplane.step_key": event.step_key or "",
                           "gen_ai.conversation.id": self.run_id})
        return _Open(name, span_id_for(self.run_id, name, event.step_key or "", str(event.seq)),
                     parent.span_id, event.step_key or "", at, kind, attributes, last_ns=at)

    def _touch(self, step_key: str | None, at: int) -> None:
        """Note that something happened at ``at`` inside every open span above ``step_key``."""
        assert self.root is not None
        self.root.last_ns = max(self.root.last_ns, at)
        if step_key:
            for key, span in self._open.items():
                if step_key == key or step_key.startswith(key + "/"):
                    span.last_ns = max(span.last_ns, at)

    # -- events -------------------------------------------------------------------------------

    def apply(self, event: Event) -> list[ReadableSpan]:
        """Take the run's next event; returns the spans it ended."""
        if self.finished:
            if event.type != EventType.ROLLBACK_STARTED:
                return []
            self._continue(event)
        self._ensure_root(event)
        at = time_ns(event.time)
        self._touch(event.step_key, at)
        handler = _HANDLERS.get(event.type)
        if handler is not None:
            return handler(self, event)
        self._annotate(event)
        return []

    def _continue(self, event: Event) -> None:
        """A rollback of a finished run: a span of its own under the run's span."""
        at = time_ns(event.time)
        self.root = _Open(f"rollback {self.workflow}".strip(),
                          span_id_for(self.run_id, "rollback", str(event.seq)),
                          span_id_for(self.run_id, "run"), "", at, last_ns=at,
                          attributes={"agentplane.run.id": self.run_id,
                                      "gen_ai.conversation.id": self.run_id})
        self.finished = False
        self._rollback = True

    def _rollback_completed(self, event: Event) -> list[ReadableSpan]:
        if not self._rollback:
            self._annotate(event)
            return []
        return self._run_ended(event)

    def _annotate(self, event: Event) -> None:
        """Record an event with no span of its own as a span event on its nearest span."""
        if event.type == EventType.RUN_CREATED:
            return
        attributes = _scalars(event.data)
        attributes.update({"agentplane.actor": event.actor, "agentplane.event.seq": event.seq})
        if event.step_key:
            attributes["agentplane.step_key"] = event.step_key
        self._parent(event.step_key).events.append(
            SpanEvent(event.type, attributes, timestamp=time_ns(event.time)))

    def _agent_invoked(self, event: Event) -> list[ReadableSpan]:
        d = event.data
        agent = str(d.get("agent", ""))
        provider, model = _split_model(str(d.get("model", "")))
        identity = d.get("identity") or {}
        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent,
            "gen_ai.provider.name": provider, "gen_ai.request.model": model}
        if isinstance(identity, dict):
            if identity.get("id"):
                attributes["gen_ai.agent.id"] = str(identity["id"])
            if identity.get("version"):
                attributes["gen_ai.agent.version"] = str(identity["version"])
        self._open[event.step_key or ""] = self._new(event, f"invoke_agent {agent}",
                                                     SpanKind.INTERNAL, attributes)
        return []

    def _agent_completed(self, event: Event) -> list[ReadableSpan]:
        span = self._open.pop(event.step_key or "", None)
        return [] if span is None else [self._span(span, time_ns(event.time))]

    def _model_requested(self, event: Event) -> list[ReadableSpan]:
        self._requested[event.step_key or ""] = event
        return []

    def _chat(self, event: Event, start_ns: int | None) -> _Open:
        """A chat span starting at ``start_ns``, or when the request was journaled."""
        requested = self._requested.pop(event.step_key or "", None)
        asked = requested.data if requested is not None else {}
        provider = str(asked.get("provider") or "")
        model = str(asked.get("model") or "")
        if not provider:
            provider, model = _split_model(str(event.data.get("provider_model") or ""))
        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": provider,
            "gen_ai.system": provider, "gen_ai.request.model": model,
            "gen_ai.agent.name": str(event.data.get("agent") or asked.get("agent") or "")}
        if "call_index" in asked:
            attributes["agentplane.call_index"] = int(asked["call_index"])
        if start_ns is None:
            start_ns = time_ns((requested or event).time)
        return self._new(event, f"chat {model}", SpanKind.CLIENT, attributes,
                         start_ns=start_ns)

    def _model_completed(self, event: Event) -> list[ReadableSpan]:
        end = time_ns(event.time)
        latency = float(event.data.get("latency_ms") or 0.0)
        # The request is journaled with the completion, so the measured latency places the start.
        span = self._chat(event, end - int(latency * 1_000_000) if latency else None)
        response = event.data.get("response") or {}
        usage = event.usage or {}
        span.attributes.update({
            "gen_ai.response.model": str(event.data.get("model") or ""),
            "gen_ai.usage.input_tokens": int(usage.get("input_tokens", 0)),
            "gen_ai.usage.output_tokens": int(usage.get("output_tokens", 0))})
        if usage.get("cached_input_tokens"):
            span.attributes["gen_ai.usage.cache_read.input_tokens"] = int(
                usage["cached_input_tokens"])
        if usage.get("reasoning_tokens"):
            span.attributes["agentplane.usage.reasoning_tokens"] = int(usage["reasoning_tokens"])
        if isinstance(response, dict):
            if response.get("finish_reason"):
                span.attributes["gen_ai.response.finish_reasons"] = [
                    str(response["finish_reason"])]
            calls = [str(c.get("id", "")) for c in response.get("tool_calls") or []
                     if isinstance(c, dict)]
            self._call_ids[event.step_key or ""] = calls
        return [self._span(span, end)]

    def _model_failed(self, event: Event) -> list[ReadableSpan]:
        end = time_ns(event.time)
        span = self._chat(event, None)
        status = event.data.get("status")
        span.attributes["error.type"] = str(status) if status else "_OTHER"
        error = str(event.data.get("error") or "the model call failed")
        return [self._span(span, end, Status(StatusCode.ERROR, error))]

    def _call_id(self, step_key: str | None) -> str | None:
        match = _TOOL_STEP.match(step_key or "")
        if match is None:
            return None
        calls = self._call_ids.get(match["model_step"], [])
        index = int(match["index"])
        return calls[index] if index < len(calls) and calls[index] else None

    def _tool_span(self, event: Event) -> _Open:
        d = event.data
        tool = str(d.get("tool", ""))
        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool,
            "gen_ai.tool.type": "function"}
        if d.get("agent"):
            attributes["gen_ai.agent.name"] = str(d["agent"])
        call_id = self._call_id(event.step_key)
        if call_id:
            attributes["gen_ai.tool.call.id"] = call_id
        for key in ("effect", "idempotent", "attempt"):
            if isinstance(d.get(key), str | bool | int):
                attributes[f"agentplane.tool.{key}"] = d[key]
        return self._new(event, f"execute_tool {tool}", SpanKind.INTERNAL, attributes)

    def _tool_started(self, event: Event) -> list[ReadableSpan]:
        key = event.step_key or ""
        ended = []
        earlier = self._open.pop(key, None)
        if earlier is not None:  # an attempt that was never confirmed, retried after review
            ended.append(self._span(earlier, earlier.last_ns,
                                    Status(StatusCode.ERROR, "the call was never confirmed")))
        self._open[key] = self._tool_span(event)
        return ended

    def _tool_ended(self, event: Event) -> list[ReadableSpan]:
        span = self._open.pop(event.step_key or "", None) or self._tool_span(event)
        end = time_ns(event.time)
        if event.data.get("reconciled"):
            span.attributes["agentplane.tool.reconciled"] = True
        if event.type == EventType.TOOL_FAILED:
            span.attributes["error.type"] = "tool_error"
            error = str(event.data.get("error") or "the tool call failed")
            return [self._span(span, end, Status(StatusCode.ERROR, error))]
        if event.type == EventType.TOOL_COMPENSATED:
            span.attributes["agentplane.tool.compensates"] = str(event.data.get("of") or "")
        return [self._span(span, end)]

    def _guard_decided(self, event: Event) -> list[ReadableSpan]:
        d = event.data
        guardian = str(d.get("guardian", "guardian"))
        result = str(d.get("result", ""))
        on_output = d.get("call") == "output"
        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": "apply_guardrail",
            "gen_ai.guardrail.component.name": guardian,
            "gen_ai.guardrail.security.policy.id": str(d.get("policy_id", "")),
            "agentplane.guardrail.policy_version": int(d.get("policy_version") or 0),
            "gen_ai.guardrail.verdict.type": VERDICTS.get(result, result),
            "gen_ai.guardrail.action.type": ACTIONS.get(result, result),
            "gen_ai.guardrail.verdict.reason": str(d.get("reason", ""))[:_MAX_TEXT],
            "gen_ai.guardrail.target.type": "output" if on_output else "input",
            "gen_ai.guardrail.target.subtype": "message" if on_output else "tool_call",
            "agentplane.guardrail.result": result}
        if d.get("tool"):
            attributes["gen_ai.tool.name"] = str(d["tool"])
        if d.get("agent"):
            attributes["gen_ai.agent.name"] = str(d["agent"])
        call_id = None if on_output else self._call_id(str(d.get("call") or ""))
        if call_id:
            attributes["gen_ai.guardrail.target.id"] = call_id
        span = self._new(event, f"apply_guardrail {guardian}", SpanKind.INTERNAL, attributes)
        return [self._span(span, span.start_ns)]

    def _run_ended(self, event: Event) -> list[ReadableSpan]:
        root = self._ensure_root(event)
        end = time_ns(event.time)
        ended: list[ReadableSpan] = []
        # Deepest first; what never ended (a hand-off's first agent, an unconfirmed call) ends
        # with the last thing that happened inside it.
        for key in sorted(self._open, key=len, reverse=True):
            span = self._open.pop(key)
            unconfirmed = span.attributes.get("gen_ai.operation.name") == "execute_tool"
            ended.append(self._span(span, span.last_ns, Status(
                StatusCode.ERROR, "the call was never confirmed") if unconfirmed else None))
        if event.type.startswith("run."):
            root.attributes["agentplane.run.status"] = event.type.removeprefix("run.")
        status = None
        if event.type == EventType.RUN_FAILED:
            root.attributes["error.type"] = "run_failed"
            status = Status(StatusCode.ERROR, str(event.data.get("error") or "the run failed"))
        elif event.type == EventType.RUN_CANCELLED:
            self._annotate(event)
        ended.append(self._span(root, end, status))
        self.finished = True
        return ended


_HANDLERS = {
    EventType.AGENT_INVOKED: RunTrace._agent_invoked,
    EventType.AGENT_COMPLETED: RunTrace._agent_completed,
    EventType.MODEL_REQUESTED: RunTrace._model_requested,
    EventType.MODEL_COMPLETED: RunTrace._model_completed,
    EventType.MODEL_FAILED: RunTrace._model_failed,
    EventType.TOOL_STARTED: RunTrace._tool_started,
    EventType.TOOL_COMPLETED: RunTrace._tool_ended,
    EventType.TOOL_FAILED: RunTrace._tool_ended,
    EventType.TOOL_COMPENSATED: RunTrace._tool_ended,
    EventType.GUARD_DECIDED: RunTrace._guard_decided,
    EventType.RUN_COMPLETED: RunTrace._run_ended,
    EventType.RUN_FAILED: RunTrace._run_ended,
    EventType.RUN_CANCELLED: RunTrace._run_ended,
    EventType.ROLLBACK_COMPLETED: RunTrace._rollback_completed,
}


def default_resource() -> Resource:
    """The resource spans are reported under: ``OTEL_RESOURCE_ATTRIBUTES`` and
    ``OTEL_SERVICE_NAME`` as the SDK reads them, with ``service.name=agentplane`` unless set."""
    resource = Resource.create()
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": "agentplane"}))
    return resource


def trace_of(events: list[Event], resource: Resource | None = None) -> list[ReadableSpan]:
    """Every span one run's events give, in the order they ended (for export and tests)."""
    if not events:
        return []
    trace = RunTrace(events[0].run_id, resource or default_resource())
    return [span for event in events for span in trace.apply(event)]
