"""Starting a run that may be deferred: the one way ``agentplane run --defer``, the API's
``defer`` field and trigger fires start runs, so a workflow's ``defer:`` (or a run's own) is
honoured alike.

The plan (``defer.plan_deferral``) is made before the run exists; the run is created with
``run.deferred`` and — when it starts later than now — its timer wait, in the one transaction
of its creation; the plan is also kept in the trigger store (``trigger_deferrals``) for the
usage report and the console.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentplane.journal import NewEvent, RunRecord
from agentplane.runtime import Runtime, Workflow
from agentplane.runtime.runner import new_run_id
from agentplane.runtime.trigger_spec import DeferSpec

from .defer import DeferPlan, deferral_events, plan_deferral
from .store import TriggerStore


def defer_spec(workflow: Workflow, *, within: str | None = None, prefer: str | None = None,
               signal: str | None = None) -> DeferSpec | None:
    """The deferral a run gets: its own settings over the workflow's; None when neither
    defers."""
    declared = workflow.spec.defer
    if declared is None and within is None:
        return None
    if declared is None:
        return DeferSpec.model_validate({"within": within, "prefer": prefer or "cheapest",
                                         "signal": signal})
    return declared


async def start_run(runtime: Runtime, workflow: Workflow, input: Any, *,
                    triggers: TriggerStore | None = None, run_id: str | None = None,
                    tenant: str = "default", tags: dict[str, str] | None = None,
                    lease: bool = False, input_trust: str | None = None,
                    events: Sequence[NewEvent] = (), within: str | None = None,
                    prefer: str | None = None, signal: str | None = None,
                    now: float | None = None, sensitivity: str | None = None,
                    ) -> tuple[RunRecord, DeferPlan | None]:
    """Create a run, deferred when the workflow (or ``within``) says so; returns the run and
    the plan (None when not deferred). ``signal`` (a run's own) is a path relative to the
    working directory or a URL; the workflow's is relative to its folder."""
    spec = defer_spec(workflow, within=within, prefer=prefer, signal=signal)
    plan = None
    chosen = run_id or new_run_id()
    extra: list[NewEvent] = []
    if spec is not None:
        own_signal = signal if signal is None or "://" in signal else str(Path(signal).resolve())
        plan = await plan_deferral(spec, workflow.base_dir, now=now, within=within,
                                   prefer=prefer, signal=own_signal)
        extra = deferral_events(chosen, plan, now=now)
        lease = lease and len(extra) == 1  # a run that waits is not driven now
    run = await runtime.start(workflow, input, run_id=chosen, tenant=tenant, lease=lease,
                              tags=tags, input_trust=input_trust, events=[*events, *extra],
                              sensitivity=sensitivity)
    if plan is not None:
        store = triggers or TriggerStore(runtime.store.database)
        store.record_deferral(run.id, tenant, workflow.spec.name, plan.event_data())
    return run, plan
