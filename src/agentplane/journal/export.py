"""A run's record for compliance review: events, approvals, guardian decisions, who acted, and
whether its hash chain holds — one JSON document."""

from __future__ import annotations

from typing import Any

from .chain import verify_run
from .events import EventType, utc_now
from .store import JournalStore


async def export_run(store: JournalStore, run_id: str) -> dict[str, Any]:
    run = await store.require_run(run_id)
    checked, brk = await verify_run(store, run_id)
    events = await store.events(run_id)
    waits = await store.waits(run_id=run_id, status=None)
    spec = await store.get_blob(run.workflow_hash)
    return {
        "exported_at": utc_now(),
        "run": {**run.summary(), "input": run.input},
        "workflow": spec,
        "verification": {"ok": brk is None, "events_checked": checked,
                         "first_bad_event": None if brk is None else brk.seq,
                         "reason": None if brk is None else brk.reason,
                         "head_hash": run.head_hash},
        "approvals": [{"id": w.id, "kind": w.kind, "step_key": w.step_key, "status": w.status,
                       "requested_at": w.created_at, "request": w.data,
                       "decision": w.resolution} for w in waits],
        "guardian_decisions": [{"seq": e.seq, "time": e.time, "step_key": e.step_key, **e.data}
                               for e in events if e.type == EventType.GUARD_DECIDED],
        "actors": sorted({e.actor for e in events}),
        "events": [e.to_dict() for e in events],
    }
