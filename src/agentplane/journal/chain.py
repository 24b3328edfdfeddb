"""Audit: recompute every run's hash chain and name the first event that does not match."""

from __future__ import annotations

from dataclasses import dataclass, field

from .events import (
    BLOB_KEY,
    GENESIS_HASH,
    Event,
    EventType,
    canonical_json,
    event_hash,
    sha256_hex,
)
from .store import CorruptEventError, JournalStore, RunRecord


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first place a run's recorded history differs from what its hashes promise."""

    run_id: str
    seq: int | None
    """The first event that does not match, or None when the run as a whole is wrong."""
    reason: str


@dataclass(slots=True)
class AuditReport:
    runs: int = 0
    events: int = 0
    breaks: list[ChainBreak] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks


async def verify_run(store: JournalStore, run_id: str) -> tuple[int, ChainBreak | None]:
    """Check one run; returns how many events were checked and the first break, if any."""
    try:
        events = await store.events(run_id, resolve_blobs=False)
    except CorruptEventError as exc:
        return exc.seq, ChainBreak(run_id, exc.seq, exc.reason)
    run = await store.get_run(run_id)
    if run is None and not events:
        return 0, ChainBreak(run_id, None, "no such run")
    checked, brk = await _verify_events(store, run_id, events)
    if brk is not None:
        return checked, brk
    if run is None:
        return len(events), ChainBreak(run_id, None, "events exist but the run record is gone")
    head = events[-1].hash if events else GENESIS_HASH
    if run.last_seq != len(events) or run.head_hash != head:
        change = ("removed" if run.last_seq > len(events) else
                  "added" if run.last_seq < len(events) else "removed or replaced")
        return len(events), ChainBreak(
            run_id, len(events) + 1 if run.last_seq > len(events) else None,
            f"the run record says {run.last_seq} events ending in {run.head_hash[:12]}, "
            f"the journal holds {len(events)} ending in {head[:12]} (events were {change})",
        )
    return len(events), _check_run_record(run, events)


async def _verify_events(store: JournalStore, run_id: str,
                         events: list[Event]) -> tuple[int, ChainBreak | None]:
    prev = GENESIS_HASH
    for expected_seq, event in enumerate(events, start=1):
        if event.seq != expected_seq:
            return expected_seq, ChainBreak(
                run_id, expected_seq,
                f"event {expected_seq} is missing (found seq {event.seq} in its place)",
            )
        if event.prev_hash != prev:
            return expected_seq, ChainBreak(
                run_id, event.seq, "prev_hash does not match the previous event's hash "
                "(an event before it was changed, removed or reordered)",
            )
        recomputed = event_hash(
            run_id=event.run_id, seq=event.seq, time=event.time, type=event.type,
            actor=event.actor, step_key=event.step_key, data=event.data, usage=event.usage,
            prev_hash=event.prev_hash, schema=event.schema,
        )
        if recomputed != event.hash:
            return expected_seq, ChainBreak(
                run_id, event.seq, f"content of the {event.type} event was changed "
                "(its hash does not match its fields)",
            )
        for key, value in event.data.items():
            if isinstance(value, dict) and len(value) == 1 and BLOB_KEY in value:
                text = await store.blob_text(str(value[BLOB_KEY]))
                if text is None or sha256_hex(text) != value[BLOB_KEY]:
                    return expected_seq, ChainBreak(
                        run_id, event.seq, f"blob of data field {key!r} is missing or changed",
                    )
        prev = event.hash
    return len(events), None


def _check_run_record(run: RunRecord, events: list[Event]) -> ChainBreak | None:
    """The run record's identity (which workflow version, what input) must match the chained
    ``run.created`` event: a resume loads the version the record names."""
    created = events[0] if events else None
    if created is None or created.type != EventType.RUN_CREATED:
        return ChainBreak(run.id, 1, "the first event is not run.created")
    recorded = {"workflow": run.workflow, "workflow_hash": run.workflow_hash,
                "input": run.input, "tenant": run.tenant}
    for key, value in recorded.items():
        stored = created.data.get(key, value)
        if isinstance(stored, dict) and len(stored) == 1 and BLOB_KEY in stored:
            matches = stored[BLOB_KEY] == sha256_hex(canonical_json(value))
        else:
            matches = stored == value
        if not matches:
            return ChainBreak(run.id, None, f"the run record's {key} differs from the one in "
                                            "its run.created event (the record was edited)")
    return None


async def verify(store: JournalStore, run_ids: list[str] | None = None) -> AuditReport:
    """Verify the chains of the given runs (default: every run in the store)."""
    report = AuditReport()
    for run_id in run_ids if run_ids is not None else await store.all_run_ids():
        checked, brk = await verify_run(store, run_id)
        report.runs += 1
        report.events += checked
        if brk is not None:
            report.breaks.append(brk)
    return report
