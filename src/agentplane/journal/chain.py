"""Audit: recompute every run's hash chain and name the first event that does not match.

A whole SQLite journal is first read straight from its tables in the order it was written,
hashing each event over the text it stored; a run that does not check out that way is verified
again event by event through the store (:func:`verify_run`), which names the first break. A
large journal's scan is shared between processes (``audit_workers.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from .events import (
    BLOB_KEY,
    GENESIS_HASH,
    Event,
    EventType,
    canonical_json,
    event_body_json,
    event_hash,
    sha256_hex,
)
from .projection import EVENT_COLUMNS, RUN_COLUMNS, run_from_row
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


class _Chain:
    """A run's chain as a scan of the journal has found it so far."""

    __slots__ = ("count", "created", "head")

    def __init__(self) -> None:
        self.count = 0
        self.head = GENESIS_HASH
        self.created: Event | None = None


def _intact(chain: _Chain, row: Sequence[Any]) -> bool:
    """Whether ``row`` is the next event of ``chain`` and its hash, recomputed over the text it
    stored, matches. Anything unusual (a blob reference, unreadable JSON) is "not intact": the
    run is then verified event by event, which names what is wrong."""
    run_id, seq, time, kind, actor, step_key, data, usage, prev_hash, digest, schema = row
    if seq != chain.count + 1 or prev_hash != chain.head or BLOB_KEY in data:
        return False
    try:
        parsed = orjson.loads(data)  # one whole JSON value: the text hashed is unambiguous
        usage_value = None if usage is None else orjson.loads(usage)
    except orjson.JSONDecodeError:
        return False
    body = event_body_json(run_id=run_id, seq=seq, time=time, type=kind, actor=actor,
                           step_key=step_key, data_json=data, usage=usage_value,
                           prev_hash=prev_hash, schema=schema)
    if sha256_hex(body) != digest:
        return False
    if seq == 1:
        chain.created = Event(run_id, seq, time, kind, actor, step_key,
                              parsed if isinstance(parsed, dict) else {}, None, prev_hash,
                              digest, schema)
    chain.count, chain.head = seq, digest
    return True


def holding_runs(store: JournalStore, share: int = 0, shares: int = 1) -> dict[str, int]:
    """The runs (of one ``share`` of ``shares``, split by run id) whose chains hold as stored,
    with their event counts, from one scan of the journal in the order it was written. The
    others need :func:`verify_run`. Empty where the store's tables are not read directly."""
    db = store.database
    if db.dialect != "sqlite":
        return {}
    mine = f" WHERE unicode(substr(run_id, -1)) % {int(shares)} = {int(share)}" if (
        shares > 1) else ""
    chains: dict[str, _Chain] = {}
    broken: set[str] = set()
    for row in db.iterate(f"SELECT {EVENT_COLUMNS} FROM events{mine} ORDER BY rowid"):
        run_id = row[0]
        if run_id in broken:
            continue
        chain = chains.get(run_id)
        if chain is None:
            chain = chains[run_id] = _Chain()
        if not _intact(chain, row):
            broken.add(run_id)
    mine = mine.replace("run_id", "id")
    out: dict[str, int] = {}
    for row in db.iterate(f"SELECT {RUN_COLUMNS} FROM runs{mine}"):
        chain = chains.get(row[0]) or _Chain()
        if row[0] in broken or chain.created is None:
            continue
        run = run_from_row(row)
        if (run.last_seq == chain.count and run.head_hash == chain.head
                and _check_run_record(run, [chain.created]) is None):
            out[run.id] = chain.count
    return out


async def verify(store: JournalStore, run_ids: list[str] | None = None, *,
                 workers: int | None = None) -> AuditReport:
    """Verify the chains of the given runs (default: every run in the store). The whole of a
    SQLite journal is first scanned in the order it was written (by ``workers`` processes,
    default one per core, when it is large); runs that do not hold there are verified event
    by event, so the report — and the first break it names in each run — is the same."""
    from .audit_workers import holding_in_parallel

    ids = run_ids if run_ids is not None else await store.all_run_ids()
    holding = {} if run_ids is not None else await holding_in_parallel(store, len(ids),
                                                                        workers)
    report = AuditReport()
    for run_id in ids:
        checked, brk = ((holding[run_id], None) if run_id in holding
                        else await verify_run(store, run_id))
        report.runs += 1
        report.events += checked
        if brk is not None:
            report.breaks.append(brk)
    return report
