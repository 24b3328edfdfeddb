"""Firing a trigger: claim its key, then start the run — at most once per key.

The key is claimed in the trigger store *before* the run exists, and the run id is derived from
the key: a process that dies between the claim and the run's creation leaves a claim without a
run, which the next fire of the same key (a retried delivery, the scheduler after a restart)
repairs by creating the run under the same id — creation is refused for an id that exists, so
the repair can never start two. The run journals ``trigger.fired`` {trigger, kind, key, detail}
with its creation; it is metered like every run, as a task (usage tagged ``trigger``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentplane.errors import NotFoundError
from agentplane.journal import EventType, NewEvent
from agentplane.journal.store import RunExistsError
from agentplane.runtime import Runtime, Workflow
from agentplane.runtime.trigger_spec import TriggerSpec

from .deferred import start_run
from .store import TriggerStore

log = logging.getLogger("agentplane.triggers")


@dataclass(frozen=True)
class FireResult:
    run_id: str
    started: bool
    """False: the key had fired before (a duplicate); ``run_id`` is the run it started."""


def trigger_kind(trigger: TriggerSpec) -> str:
    if trigger.schedule is not None:
        return "schedule"
    if trigger.webhook is not None:
        return "webhook"
    return "mail" if trigger.mail is not None else "manual"


def find_trigger(workflow: Workflow, name: str) -> TriggerSpec:
    """The workflow's trigger called ``name``; a not-found error naming the ones it has."""
    for trigger in workflow.spec.triggers or ():
        if trigger.name == name:
            return trigger
    known = ", ".join(t.name for t in workflow.spec.triggers or ()) or "none"
    raise NotFoundError(f"workflow {workflow.spec.name!r} has no trigger {name!r} "
                        f"(its triggers: {known})")


def fire_run_id(tenant: str, workflow: str, trigger: str, key: str) -> str:
    """The id of the run a key starts: the same for every retry of the same key."""
    digest = hashlib.sha256("\x00".join((tenant, workflow, trigger, key)).encode()).hexdigest()
    return f"run-{digest[:16]}"


async def fire(runtime: Runtime, workflow: Workflow, trigger: str, key: str, input: Any, *,
               store: TriggerStore, tenant: str = "default", untrusted: bool = False,
               detail: Mapping[str, Any] | None = None, drive: bool = False,
               kind: str | None = None) -> FireResult:
    """Start the run of one fire of ``trigger``, unless ``key`` fired before.

    ``untrusted``: the input comes from outside (a mail, a webhook's body): the run's
    ``meta.input_trust`` says so and the guardians treat it as such. ``drive``: drive the run
    in this process now (else a worker takes it). ``kind`` overrides the trigger's own
    (``manual`` for a person's fire). A workflow that declares ``defer:`` starts deferred.
    """
    spec = find_trigger(workflow, trigger)
    name = workflow.spec.name
    run_id = fire_run_id(tenant, name, trigger, key)
    details = dict(detail or {})
    if not store.claim(tenant, name, trigger, key, run_id=run_id, detail=details):
        claimed = store.fire(tenant, name, trigger, key)
        run_id = claimed.run_id if claimed is not None else run_id
        if await runtime.store.get_run(run_id) is not None:
            return FireResult(run_id, started=False)
        log.warning("trigger %s/%s: key %s was claimed but its run %s does not exist; "
                    "creating it now", name, trigger, key, run_id)
    fired = NewEvent(EventType.TRIGGER_FIRED, actor=f"trigger:{trigger}", data={
        "trigger": trigger, "kind": kind or trigger_kind(spec), "key": key, "detail": details})
    try:
        await start_run(runtime, workflow, input, triggers=store, run_id=run_id, tenant=tenant,
                        tags={"trigger": trigger},
                        input_trust="untrusted" if untrusted else None, events=[fired])
    except RunExistsError:
        return FireResult(run_id, started=False)  # a concurrent repair made it first
    except Exception as exc:
        store.record_failure(tenant, name, trigger, key, str(exc))
        raise
    if drive:
        await runtime.execute(run_id)
    return FireResult(run_id, started=True)
