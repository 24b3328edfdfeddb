"""Usage events: what every run consumed, derived from its journal.

One usage event per billable thing — a model call's tokens, a tool call (an action), a finished
run (a task) with the time it was active, a business outcome — shaped like CloudEvents
(``id, source, type, subject, time, data``) and idempotent by id (derived from the journal
event), so deriving twice never counts twice. Each carries the tags reports group by: tenant,
department (and any workflow tag), workflow, agent, model, tool.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from agentplane.journal import Event, EventType

MODEL = "dev.agentplane.usage.model"
ACTION = "dev.agentplane.usage.action"
TASK = "dev.agentplane.usage.task"
ACTIVE = "dev.agentplane.usage.active_time"
OUTCOME = "dev.agentplane.usage.outcome"
ESCALATION = "dev.agentplane.usage.escalation"
"""A router sent a call to a cloud model because its local candidates could not take it."""
USAGE_TYPES = (MODEL, ACTION, TASK, ACTIVE, OUTCOME, ESCALATION)

REMOTE_TASK_FINISHED = "a2a.task.finished"
"""Journaled by the A2A client with the usage the remote agent reported."""
_TASK_ENDS = frozenset({EventType.RUN_COMPLETED, EventType.RUN_FAILED, EventType.RUN_CANCELLED})
ENDS_ACTIVITY = _TASK_ENDS | {EventType.RUN_WAITING, EventType.RUN_NEEDS_RECONCILIATION}
STARTS_ACTIVITY = frozenset({EventType.RUN_STARTED, EventType.RUN_RESUMED})
_ACTIONS = frozenset({EventType.TOOL_COMPLETED, EventType.TOOL_FAILED})
METERED = frozenset({EventType.MODEL_COMPLETED, REMOTE_TASK_FINISHED, EventType.OUTCOME_RECORDED,
                     EventType.MODEL_ROUTED} | _ACTIONS | ENDS_ACTIVITY | STARTS_ACTIVITY)
"""Every journal event type that gives rise to usage or starts a stretch of activity: the
others are skipped without a look."""
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Price:
    """What a model call cost."""

    usd: float
    """Amount in USD (the reporting currency)."""
    energy_kwh: float | None = None
    """Energy, when known (self-hosted models priced by the economics model)."""


Pricer = Callable[[str, Mapping[str, int]], Price]
"""(model reference, usage) → price. Unknown models are priced 0."""
WorstCase = Callable[[str, int, int], float]
"""(model reference, prompt tokens, most output tokens) → the most the call can cost, USD."""


def free(model: str, usage: Mapping[str, int]) -> Price:
    """The price of a model nobody charges for (the scripted model, an unknown one)."""
    return Price(0.0)


def free_worst_case(model: str, prompt_tokens: int, max_output_tokens: int) -> float:
    return 0.0


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One billable unit of consumption."""

    id: str
    type: str
    time: str
    """ISO 8601 UTC time of the journal event it comes from."""
    run_id: str
    tenant: str
    workflow: str
    tags: dict[str, str] = field(default_factory=dict)
    """Workflow tags such as ``department``."""
    agent: str | None = None
    model: str | None = None
    tool: str | None = None
    outcome: str | None = None
    input_tokens: int = 0
    """Prompt tokens, cached ones included."""
    cached_input_tokens: int = 0
    output_tokens: int = 0
    """Completion tokens, reasoning ones included."""
    reasoning_tokens: int = 0
    quantity: float = 1.0
    """Calls, tasks or outcomes (1 each), or seconds for active time."""
    cost_usd: float = 0.0
    energy_kwh: float | None = None

    @property
    def timestamp(self) -> float:
        """Unix time in seconds."""
        return unix_time(self.time)

    def to_cloudevent(self, source: str = "agentplane") -> dict[str, Any]:
        data = {k: v for k, v in {
            "run_id": self.run_id, "tenant": self.tenant, "workflow": self.workflow,
            "agent": self.agent, "model": self.model, "tool": self.tool,
            "outcome": self.outcome, "tags": self.tags, "input_tokens": self.input_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "output_tokens": self.output_tokens, "reasoning_tokens": self.reasoning_tokens,
            "quantity": self.quantity, "cost_usd": self.cost_usd,
            "energy_kwh": self.energy_kwh}.items() if v is not None}
        return {"specversion": "1.0", "id": self.id, "source": f"{source}/runs/{self.run_id}",
                "type": self.type, "subject": self.run_id, "time": self.time,
                "datacontenttype": "application/json", "data": data}


@dataclass(frozen=True, slots=True)
class RunTags:
    """What every usage event of a run carries."""

    tenant: str
    workflow: str
    tags: dict[str, str]
    outcome: str | None = None


def unix_time(text: str) -> float:
    """Unix time in seconds of an ISO 8601 time (``2026-11-02T10:00:00.000001Z``)."""
    return datetime.fromisoformat(text).timestamp()


def _seconds(start: str, end: str) -> float:
    return max(0.0, unix_time(end) - unix_time(start))


Make = Callable[..., T]
"""Builds one usage item of a journal event: ``make(event, id, type, **fields)``, the fields
those of :class:`UsageEvent` after ``tags`` (a ``UsageEvent``, or a ledger row)."""


def derive(event: Event, run: RunTags, pricer: Pricer, *,
           active_since: str | None = None) -> list[UsageEvent]:
    """The usage events one journal event gives rise to (often none).

    ``active_since``: for events that end a stretch of activity, when it began.
    """
    def make(event: Event, uid: str, kind: str, **fields: Any) -> UsageEvent:
        return UsageEvent(uid, kind, event.time, event.run_id, run.tenant, run.workflow,
                          dict(run.tags), **fields)

    out: list[UsageEvent] = []
    derive_into(out, event, make, pricer, active_since=active_since)
    return out


def derive_into(out: list[T], event: Event, make: Make[T], pricer: Pricer, *,
                active_since: str | None = None) -> None:
    """:func:`derive` with each usage item built by ``make`` and appended to ``out`` (the
    ledger's rows are built this way, with no usage event made to be taken apart again)."""
    kind, d = event.type, event.data
    uid = f"{event.run_id}:{event.seq}"
    if kind == EventType.MODEL_COMPLETED:
        usage = event.usage or {}
        model = str(d.get("provider_model") or d.get("model") or "")
        price = pricer(model, usage)
        out.append(make(event, uid, MODEL, agent=d.get("agent"), model=model,
                        input_tokens=usage.get("input_tokens", 0),
                        cached_input_tokens=usage.get("cached_input_tokens", 0),
                        output_tokens=usage.get("output_tokens", 0),
                        reasoning_tokens=usage.get("reasoning_tokens", 0),
                        cost_usd=price.usd, energy_kwh=price.energy_kwh))
    elif kind in _ACTIONS:
        if not d.get("reconciled"):
            out.append(make(event, uid, ACTION, tool=d.get("tool"), agent=d.get("agent"),
                            cost_usd=float(d.get("cost_usd") or 0.0)))
    elif kind == REMOTE_TASK_FINISHED:
        usage = event.usage or {}
        if usage:
            out.append(make(event, uid, MODEL, agent=d.get("agent") or d.get("tool"),
                            model=f"a2a:{d.get('tool')}",
                            input_tokens=usage.get("input_tokens", 0),
                            cached_input_tokens=usage.get("cached_input_tokens", 0),
                            output_tokens=usage.get("output_tokens", 0),
                            reasoning_tokens=usage.get("reasoning_tokens", 0)))
    elif kind == EventType.MODEL_ROUTED:
        if d.get("escalated"):
            model = str(d.get("provider_model") or d.get("chosen") or "")
            out.append(make(event, uid, ESCALATION, agent=d.get("agent"), model=model,
                            quantity=1.0))
    elif kind == EventType.OUTCOME_RECORDED:
        out.append(make(event, uid, OUTCOME, outcome=str(d.get("outcome")),
                        quantity=float(d.get("quantity", 1))))
    elif kind in ENDS_ACTIVITY:
        if active_since is not None:
            out.append(make(event, f"{uid}:active", ACTIVE,
                            quantity=_seconds(active_since, event.time)))
        if kind in _TASK_ENDS:
            out.append(make(event, f"{uid}:task", TASK, outcome=kind.split(".")[1]))


def ends_activity(event: Event) -> bool:
    return event.type in ENDS_ACTIVITY
