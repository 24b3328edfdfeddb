"""Audit: recompute every run's hash chain and name the first event that does not match.

A whole SQLite journal is first read straight from its tables in the order it was written,
hashing each event over the text it stored; a run that does not check out that way is verified
again event by event through the store (:func:`verify_run`), which names the first break. A
large journal's scan is shared between processes (``audit_workers.py``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from .events import (
    BLOB_KEY,
    GENESIS_HASH,
    Event,
    EventType,
    canonical_json,
    event_body,
    event_hash,
    sha256_hex,
    stored_event_body,
)
from .personal import may_hold
from .projection import EVENT_COLUMNS, RUN_COLUMNS, run_from_row
from .store import CorruptEventError, CorruptRunError, JournalStore, RunRecord


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
        return exc.seq or 0, ChainBreak(run_id, exc.seq, exc.reason)
    try:
        run = await store.get_run(run_id)
    except CorruptRunError as exc:
        return len(events), ChainBreak(run_id, None, exc.reason)
    if run is None and not events:
        return 0, ChainBreak(run_id, None, "no such run")
    chained = events[0].data.get("input") if events else None
    if run is not None and chained is not None and (
            BLOB_KEY in (chained if isinstance(chained, dict) else ())
            or may_hold(orjson.dumps(chained).decode())):
        # the record's input as stored (personal values sealed), as it was chained
        stored = store.database.query_one("SELECT input FROM runs WHERE id = ?", (run_id,))
        if stored is not None and may_hold(str(stored[0])):
            run = replace(run, input=json.loads(stored[0]))
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
    stored, matches. Anything unusual (a blob reference, unreadable JSON, a column holding a
    type the journal never writes there) is "not intact": the run is then verified event by
    event, which names what is wrong."""
    run_id, seq, time, kind, actor, step_key, data, usage, prev_hash, digest, schema = row
    if (seq != chain.count + 1 or prev_hash != chain.head or type(schema) is not int
            or (usage is not None and type(usage) is not str)):
        return False
    try:
        if BLOB_KEY in data:
            return False
        parsed = orjson.loads(data)  # one whole JSON value: the text hashed is unambiguous
        # The usage's stored text is embedded as it is: it closes the body, so a matching
        # hash means it is the very text that was hashed, the usage's canonical JSON.
        body = stored_event_body(run_id=run_id, seq=seq, time=time, type=kind, actor=actor,
                                 step_key=step_key, data_json=data, usage_json=usage,
                                 prev_hash=prev_hash, schema=schema)
        if hashlib.sha256(body).hexdigest() != digest:
            if usage is None:
                return False
            # a usage stored in another layout (SQLite journals before 2026-12-03)
            body = event_body(run_id=run_id, seq=seq, time=time, type=kind, actor=actor,
                              step_key=step_key, data_json=data, usage=orjson.loads(usage),
                              prev_hash=prev_hash, schema=schema)
            if hashlib.sha256(body).hexdigest() != digest:
                return False
    except (ValueError, TypeError):  # JSON that does not read; a BLOB where text is written
        return False
    if seq == 1:
        chain.created = Event(run_id, seq, time, kind, actor, step_key,
                              parsed if isinstance(parsed, dict) else {}, None, prev_hash,
                              digest, schema)
    chain.count, chain.head = seq, digest
    return True


def _chains(db: Any, low: int | None, high: int | None) -> tuple[dict[str, _Chain],
                                                                    dict[str, tuple[int, str]],
                                                                    set[str]]:
    """Every run's chain as found in the events with rowid in ``[low, high]`` (all when None),
    read in write order: the chains, where each one starts (first seq, its prev_hash) and the
    runs whose piece is broken."""
    where = "" if low is None else f" WHERE rowid BETWEEN {int(low)} AND {int(high or 0)}"
    chains: dict[str, _Chain] = {}
    starts: dict[str, tuple[int, str]] = {}
    broken: set[str] = set()
    for row in db.iterate(f"SELECT {EVENT_COLUMNS} FROM events{where} ORDER BY rowid"):
        run_id = row[0]
        if run_id in broken:
            continue
        chain = chains.get(run_id)
        if chain is None:
            if type(run_id) is not str:  # a BLOB: the row belongs to no run (its own is short)
                continue
            if type(row[1]) is not int:  # not a seq: verified event by event
                broken.add(run_id)
                continue
            # a piece may begin mid-run: its seam is checked when the pieces are joined
            chain = chains[run_id] = _Chain()
            chain.count, chain.head = row[1] - 1, row[8]
            starts[run_id] = (row[1], row[8])
        if not _intact(chain, row):
            broken.add(run_id)
    return chains, starts, broken


_Piece = tuple[int, str, int, str, bool | None]


@dataclass(slots=True)
class Share:
    """What one scan of a range of the journal found: runs wholly inside it that hold
    (``whole``: their event counts), runs that hold so far but reach outside it or do not
    match their record on their own (``pieces``: first seq, its prev_hash, last seq, head hash,
    whether the run record matches its run.created event — None when that is elsewhere), and
    runs broken inside it."""

    whole: dict[str, int] = field(default_factory=dict)
    pieces: dict[str, _Piece] = field(default_factory=dict)
    broken: list[str] = field(default_factory=list)


def scan_share(store: JournalStore, low: int | None = None, high: int | None = None) -> Share:
    """Scan the events with rowid in ``[low, high]`` (default: all) in write order."""
    chains, starts, broken = _chains(store.database, low, high)
    share = Share(broken=sorted(broken))
    for row in store.database.iterate(f"SELECT {RUN_COLUMNS} FROM runs"):
        chain = chains.get(row[0])
        if chain is None or row[0] in broken:
            continue
        try:
            run = run_from_row(row, revealed=False)  # the input as stored, as it was chained
        except CorruptRunError:  # verified run by run, which names what is wrong
            starts.pop(row[0], None)
            share.broken.append(row[0])
            continue
        first_seq, first_prev = starts.pop(run.id)
        created_ok = (None if chain.created is None
                      else _check_run_record(run, [chain.created]) is None)
        if (first_seq == 1 and first_prev == GENESIS_HASH and created_ok
                and run.last_seq == chain.count and run.head_hash == chain.head):
            share.whole[run.id] = chain.count
        else:
            share.pieces[run.id] = (first_seq, first_prev, chain.count, chain.head, created_ok)
    for run_id, (first_seq, first_prev) in starts.items():  # events with no run record
        if run_id not in broken:
            share.pieces[run_id] = (first_seq, first_prev, chains[run_id].count,
                                    chains[run_id].head, None)
    return share


def _seamless(parts: list[_Piece]) -> tuple[int, str] | None:
    """The last seq and head hash of a run's pieces joined in order, or None when a piece does
    not begin where the one before it ended (the first at seq 1 on the genesis hash) or the
    run record does not match its run.created event."""
    seq, head = 0, GENESIS_HASH
    for first_seq, first_prev, last_seq, last_head, _ in parts:
        if first_seq != seq + 1 or first_prev != head:
            return None
        seq, head = last_seq, last_head
    return (seq, head) if parts[0][4] else None


def join_shares(store: JournalStore, shares: Sequence[Share]) -> dict[str, int]:
    """The runs that hold across ``shares`` (consecutive ranges, in write order) with their
    event counts: a run in several shares holds when each piece begins where the one before
    it ended (seq and hash: the seam) and the joined chain matches its run record."""
    holding: dict[str, int] = {}
    pieces: dict[str, list[_Piece]] = {}
    spoiled: set[str] = set()
    for share in shares:
        for run_id, count in share.whole.items():
            if run_id in holding or run_id in pieces:
                spoiled.add(run_id)
            holding[run_id] = count
        for run_id, piece in share.pieces.items():
            if run_id in holding:
                spoiled.add(run_id)
            pieces.setdefault(run_id, []).append(piece)
        spoiled.update(share.broken)
    for run_id in spoiled:
        holding.pop(run_id, None)
    joined = {run_id: end for run_id, parts in pieces.items()
              if run_id not in spoiled and (end := _seamless(parts)) is not None}
    ids = sorted(joined)
    for at in range(0, len(ids), 500):
        chunk = ids[at:at + 500]
        marks = ", ".join("?" * len(chunk))
        for run_id, last_seq, head_hash in store.database.iterate(
                f"SELECT id, last_seq, head_hash FROM runs WHERE id IN ({marks})", chunk):
            if joined[run_id] == (last_seq, head_hash):
                holding[run_id] = last_seq
    return holding


def holding_runs(store: JournalStore) -> dict[str, int]:
    """The runs whose chains hold as stored, with their event counts, from one scan of the
    journal in the order it was written. The others need :func:`verify_run`. Empty where the
    store's tables are not read directly."""
    if store.database.dialect != "sqlite":
        return {}
    return join_shares(store, [scan_share(store)])


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
