"""The triggers of some workflows as rows: what each is, whether it fires, its last and next
fire, failures — what ``agentplane triggers list``, ``GET /api/v1/triggers`` and the console's
``/triggers`` page show."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from agentplane.runtime import Workflow
from agentplane.runtime.trigger_spec import TriggerSpec

from .fire import trigger_kind
from .schedule import next_fire, slot_key
from .store import TriggerStore


@dataclass(frozen=True)
class TriggerRow:
    workflow: str
    trigger: str
    kind: str
    enabled: bool
    declared_enabled: bool
    what: str
    """The schedule and its zone, the hook's path, the mailbox."""
    fires: int
    last_fire: str | None
    last_run: str | None
    next_fire: str | None
    failures: int
    last_error: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def describe(workflow: str, trigger: TriggerSpec) -> str:
    if trigger.schedule is not None:
        return f"{trigger.schedule} ({trigger.timezone}, catch-up {trigger.catch_up})"
    if trigger.webhook is not None:
        return f"POST /hooks/{trigger.name} (or /hooks/{workflow}/{trigger.name})"
    if trigger.mail is not None:
        return f"{trigger.mail.host}:{trigger.mail.port} {trigger.mail.mailbox}"
    return "manual"


def trigger_rows(workflows: Iterable[Workflow], store: TriggerStore, *, tenant: str,
                 now: datetime) -> list[TriggerRow]:
    rows = []
    for workflow in sorted(workflows, key=lambda w: w.spec.name):
        name = workflow.spec.name
        for trigger in workflow.spec.triggers or ():
            state = store.state(tenant, name, trigger.name)
            enabled = trigger.enabled if state.enabled is None else state.enabled
            upcoming = next_fire(trigger, now) if enabled else None
            last = state.last_fire
            rows.append(TriggerRow(
                workflow=name, trigger=trigger.name, kind=trigger_kind(trigger),
                enabled=enabled, declared_enabled=trigger.enabled,
                what=describe(name, trigger), fires=state.fires,
                last_fire=last.fired_at if last else None,
                last_run=last.run_id if last else None,
                next_fire=slot_key(upcoming) if upcoming else None,
                failures=state.failures, last_error=state.last_error))
    return rows
