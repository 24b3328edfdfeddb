"""Shared constants and helpers of the journal conformance suite (see the package)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentplane.journal import GENESIS_HASH, Event, EventType, JournalStore, NewEvent, RunRecord
from agentplane.journal.events import event_hash

WORKFLOW_HASH = "ab" * 32
META: dict[str, Any] = {"base_dir": "/srv/flows", "source": "flow.yaml"}
BIG_TEXT = "0123456789" * 1024  # 10 KB: well past the blob threshold
END_EVENTS = (
    EventType.RUN_COMPLETED,
    EventType.RUN_FAILED,
    EventType.RUN_CANCELLED,
    EventType.RUN_NEEDS_RECONCILIATION,
)
CLOSE_EVENTS = (
    EventType.APPROVAL_GRANTED,
    EventType.APPROVAL_DENIED,
    EventType.APPROVAL_EXPIRED,
    EventType.WAIT_RESOLVED,
)


# -- helpers ----------------------------------------------------------------------------------


async def new_run(
    store: JournalStore,
    run_id: str,
    *,
    workflow: str = "flow",
    input: Any = None,
    tenant: str = "default",
    events: Sequence[NewEvent] = (),
) -> RunRecord:
    return await store.create_run(
        run_id=run_id, workflow=workflow, workflow_hash=WORKFLOW_HASH, input=input,
        meta=META, tenant=tenant, events=events,
    )


async def append(store: JournalStore, run_id: str, type: str, **data: Any) -> Event:
    """Append one event with ``data`` and return it."""
    (event,) = await store.append(run_id, [NewEvent(type, data=data)])
    return event


async def status(store: JournalStore, run_id: str) -> str:
    """The run's status, checked to be the same through ``run_status`` and ``get_run``."""
    record = (await store.require_run(run_id)).status
    assert await store.run_status(run_id) == record
    return record


async def last_seq(store: JournalStore, run_id: str) -> int:
    return (await store.require_run(run_id)).last_seq


def recomputed_hash(event: Event) -> str:
    return event_hash(
        run_id=event.run_id, seq=event.seq, time=event.time, type=event.type, actor=event.actor,
        step_key=event.step_key, data=event.data, usage=event.usage, prev_hash=event.prev_hash,
        schema=event.schema,
    )


def open_wait_event(
    wait_id: str,
    *,
    kind: str = "approval",
    deadline: float | None = None,
    type: str = EventType.APPROVAL_REQUESTED,
    step_key: str = "step-1",
) -> NewEvent:
    return NewEvent(type, actor="agent:planner", step_key=step_key,
                    data={"wait_id": wait_id, "kind": kind, "deadline": deadline})


def close_wait_event(
    wait_id: str, type: str = EventType.APPROVAL_GRANTED, actor: str = "user:ana"
) -> NewEvent:
    return NewEvent(type, actor=actor, step_key="step-1",
                    data={"wait_id": wait_id, "reason": "looks fine"})


async def waiting_run(store: JournalStore, run_id: str, wait_id: str) -> None:
    """A run suspended on one open approval."""
    await new_run(store, run_id)
    await store.append(run_id, [
        NewEvent(EventType.RUN_STARTED),
        open_wait_event(wait_id),
        NewEvent(EventType.RUN_WAITING, data={"waits": [wait_id]}),
    ])


def assert_chain(events: Sequence[Event], run_id: str) -> None:
    """Seqs run 1..n without gaps, each prev_hash is the previous hash, each hash recomputes."""
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    prev = GENESIS_HASH
    for event in events:
        assert event.run_id == run_id
        assert event.prev_hash == prev
        assert event.hash == recomputed_hash(event)
        prev = event.hash
