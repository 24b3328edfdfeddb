"""How the PostgreSQL journal appends: one transaction locks the runs a batch of appends
touches, checks every append against the locked state (a refused one writes nothing and the
others go on), then writes events, blobs, the projections and a ``NOTIFY`` for each run."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from agentplane.errors import AgentplaneError

from . import heads, projection
from .events import (
    TERMINAL_STATUSES,
    WAIT_CLOSE_TYPES,
    WAIT_OPEN_TYPES,
    Event,
    EventType,
    NewEvent,
    seal,
    utc_now,
)
from .postgres_connections import CHANNEL, Conn
from .projection import LEASE_ENDING_STATUSES, dumps
from .store import LeaseLostError, RunNotActiveError, RunNotFoundError

MAX_HEADS = 10_000
"""How many runs' heads a store remembers for :func:`append_known`."""
RUN_LOCKS = 0x41504A
"""The advisory-lock class of run locks (``pg_advisory_xact_lock(RUN_LOCKS, hashtext(id))``)."""


@dataclass(slots=True)
class Pending:
    """An append waiting for its transaction; ``done`` gets its events or its refusal."""

    run_id: str
    events: Sequence[NewEvent]
    owner: str | None
    require_active: bool
    done: asyncio.Future[list[Event]]


@dataclass(slots=True)
class RunState:
    """A locked run as the appends of one transaction change it."""

    status: str
    seq: int
    head: str
    lease_owner: str | None
    tenant: str
    lease_ended: bool = False
    waits_touched: bool = False
    updated_at: str = ""
    """When an append last changed it (empty: not changed in this transaction)."""


@dataclass(slots=True)
class _Writes:
    """Everything one transaction writes, collected after its checks passed."""

    blobs: list[projection.Blob] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    opened: list[tuple[Any, ...]] = field(default_factory=list)
    resolved: list[tuple[Any, ...]] = field(default_factory=list)


async def lock_and_apply(conn: Conn, batch: list[Pending], url: str,
                         heads: dict[str, RunState]) -> list[list[Event] | BaseException]:
    """Lock the runs ``batch`` appends to, then check and write its appends; ``heads`` gets
    the runs as the appends leave them (for :func:`append_known`)."""
    ids = sorted({item.run_id for item in batch})
    # The run lock is an advisory lock taken before anything gives the transaction an id
    # (a row lock would: FOR UPDATE takes the id before it waits). So of two transactions
    # appending to one run, the later has the larger id, and events_since, which reads in
    # transaction-id order, hands out every run's events in seq order.
    # One statement: the sort makes every advisory lock come before the first row lock.
    cur = await conn.execute(
        b"SELECT r.id, r.status, r.last_seq, r.head_hash, r.lease_owner, r.tenant"
        b" FROM (SELECT id, pg_advisory_xact_lock(%s, hashtext(id)) FROM unnest(%s::text[])"
        b" AS id ORDER BY id) AS locked JOIN runs AS r ON r.id = locked.id"
        b" ORDER BY r.id FOR UPDATE OF r", (RUN_LOCKS, ids))
    state = {r[0]: RunState(r[1], r[2], r[3], r[4], r[5]) for r in await cur.fetchall()}
    outcomes = await apply(conn, batch, state, url)
    if len(heads) > MAX_HEADS:  # a cache: forgetting only sends appends the locked way
        heads.clear()
    heads.update(state)
    return outcomes


async def apply(conn: Conn, batch: list[Pending], state: dict[str, RunState], url: str
                ) -> list[list[Event] | BaseException]:
    """Check and write the appends of ``batch`` on the locked runs ``state``."""
    waits = await _stored_waits(conn, batch)
    writes = _Writes()
    outcomes: list[list[Event] | BaseException] = []
    for item in batch:
        try:
            outcomes.append(_append_one(item, state, waits, writes, url))
        except AgentplaneError as exc:  # refused before anything of it was collected
            outcomes.append(exc)
    await _write(conn, writes, {rid: s for rid, s in state.items() if s.updated_at})
    return outcomes


async def _stored_waits(conn: Conn, batch: list[Pending]) -> dict[str, tuple[str, str]]:
    """``(status, run_id)`` of every stored wait the batch opens, resolves or awaits."""
    ids: set[str] = set()
    for item in batch:
        for new in item.events:
            if new.type in WAIT_OPEN_TYPES or new.type in WAIT_CLOSE_TYPES:
                if "wait_id" in new.data:
                    ids.add(str(new.data["wait_id"]))
            elif new.type == EventType.RUN_WAITING:
                ids.update(projection.awaited(new))
    if not ids:
        return {}
    cur = await conn.execute(b"SELECT id, status, run_id FROM waits WHERE id = ANY(%s)",
                             (sorted(ids),))
    return {r[0]: (r[1], r[2]) for r in await cur.fetchall()}


def _append_one(item: Pending, state: dict[str, RunState],
                waits: dict[str, tuple[str, str]], writes: _Writes, url: str) -> list[Event]:
    run_id, events = item.run_id, item.events
    run = state.get(run_id)
    if run is None:
        raise RunNotFoundError(f"no run with id {run_id!r} in {url}")
    if item.owner is not None and run.lease_owner != item.owner:
        raise LeaseLostError(f"run {run_id} is now leased by {run.lease_owner or 'nobody'}")
    if item.require_active and (run.status in TERMINAL_STATUSES
                                or run.status == "needs_reconciliation"):
        raise RunNotActiveError(run_id, run.status)
    projection.check_waits(run_id, events, waits.get)
    encoded = [projection.encode(new.data) for new in events]
    # Checked: from here on nothing refuses, so the item's writes are collected.
    written: list[Event] = []
    status, seq, head = run.status, run.seq, run.head
    for new, (stored, data_json, blobs) in zip(events, encoded, strict=True):
        writes.blobs.extend(blobs)
        seq += 1
        event = seal(run_id, seq, head, new, stored, data_json)
        head = event.hash
        writes.events.append((
            run_id, seq, event.time, event.type, event.actor, event.step_key, data_json,
            None if event.usage is None else dumps(event.usage), event.prev_hash,
            event.hash, event.schema, run.tenant))
        if new.type in WAIT_OPEN_TYPES:
            writes.opened.append((*projection.opened_wait(run_id, new, event.time),
                                  run.tenant))
            waits[str(new.data["wait_id"])] = ("open", run_id)
            run.waits_touched = True
        elif new.type in WAIT_CLOSE_TYPES:
            wait_id = str(new.data["wait_id"])
            writes.resolved.append((projection.resolution(new), wait_id, run_id))
            waits[wait_id] = ("resolved", run_id)
            run.waits_touched = True
        resolved = new.type == EventType.RUN_WAITING and any(
            waits.get(w, ("", ""))[0] == "resolved" for w in projection.awaited(new))
        status = projection.status_after(status, new, awaited_resolved=resolved)
        written.append(event)
    run.status, run.seq, run.head = status, seq, head
    run.updated_at = written[-1].time if written else utc_now()
    if status in LEASE_ENDING_STATUSES:
        run.lease_owner, run.lease_ended = None, True
    return written


async def _write(conn: Conn, writes: _Writes, runs: dict[str, RunState]) -> None:
    async with conn.cursor() as cur:
        if writes.blobs:
            await cur.executemany(b"INSERT INTO blobs(hash, body) VALUES (%s, %s)"
                                  b" ON CONFLICT DO NOTHING", writes.blobs)
        if writes.events:
            sql = (b"INSERT INTO events(run_id, seq, time, type, actor, step_key, data,"
                   b" usage, prev_hash, hash, schema, tenant) VALUES"
                   b" (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)")
            if len(writes.events) == 1:
                await cur.execute(sql, writes.events[0])
            else:
                await cur.executemany(sql, writes.events)
        if writes.opened:
            await cur.executemany(
                b"INSERT INTO waits(id, run_id, step_key, kind, status, created_at,"
                b" deadline, data, tenant) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                writes.opened)
        if writes.resolved:
            await cur.executemany(
                b"UPDATE waits SET status = 'resolved', resolution = %s WHERE id = %s"
                b" AND run_id = %s AND status = 'open'", writes.resolved)
        for run_id, run in runs.items():
            await cur.execute(
                b"WITH changed AS (UPDATE runs SET last_seq = %s, head_hash = %s,"
                b" status = %s, updated_at = %s,"
                b" lease_owner = CASE WHEN %s THEN NULL ELSE lease_owner END,"
                b" lease_until = CASE WHEN %s THEN NULL ELSE lease_until END,"
                b" wake_at = CASE WHEN %s THEN (SELECT MIN(deadline) FROM waits"
                b"   WHERE run_id = %s AND status = 'open') ELSE wake_at END"
                b" WHERE id = %s RETURNING id)"
                b" SELECT pg_notify(%s, id) FROM changed",
                (run.seq, run.head, run.status, run.updated_at, run.lease_ended,
                 run.lease_ended, run.waits_touched, run_id, run_id, CHANNEL))



_KNOWN = (
    b"WITH locked AS (SELECT pg_advisory_xact_lock(%s, hashtext(%s))),"
    b" changed AS (UPDATE runs SET last_seq = %s, head_hash = %s, status = %s, updated_at = %s,"
    b"  lease_owner = CASE WHEN %s THEN NULL ELSE lease_owner END,"
    b"  lease_until = CASE WHEN %s THEN NULL ELSE lease_until END"
    b"  WHERE id = %s AND last_seq = %s AND head_hash = %s AND status = %s"
    b"  AND lease_owner IS NOT DISTINCT FROM %s::text AND EXISTS (SELECT FROM locked)"
    b"  RETURNING id),"
    b" written AS (INSERT INTO events(run_id, seq, time, type, actor, step_key, data, usage,"
    b"  prev_hash, hash, schema, tenant) SELECT * FROM unnest(%s::text[], %s::bigint[],"
    b"  %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],"
    b"  %s::text[], %s::int[], %s::text[]) WHERE EXISTS (SELECT FROM changed))"
    b" SELECT pg_notify(%s, id) FROM changed"
)


def known_applies(item: Pending) -> bool:
    """Whether :func:`append_known` may take ``item``: no event of it opens, resolves or
    awaits a wait (those need the stored waits)."""
    return heads.known_applies(item.events)


async def append_known(conn: Conn, item: Pending, known: RunState, url: str
                       ) -> list[Event] | None:
    """Append in one statement on a connection in autocommit, given the run as this process
    last left it (``known``): the run row is updated only if it is still exactly that — same
    head, status and lease holder — and the events are inserted only if it was. Returns None,
    having written nothing, when the run moved on or an append check or a blob needs the
    locked path (:func:`lock_and_apply`), which then decides. The run lock is the same advisory
    lock, taken before the update gives the statement a transaction id."""
    run = replace(known, lease_ended=False, waits_touched=False, updated_at="")
    writes = _Writes()
    try:
        written = _append_one(item, {item.run_id: run}, {}, writes, url)
    except AgentplaneError:  # judged on what may be stale: the locked path decides
        return None
    if writes.blobs or not written:
        return None
    columns = [list(column) for column in zip(*writes.events, strict=True)]
    cur = await conn.execute(_KNOWN, (
        RUN_LOCKS, item.run_id, run.seq, run.head, run.status, run.updated_at, run.lease_ended,
        run.lease_ended, item.run_id, known.seq, known.head, known.status, known.lease_owner,
        *columns, CHANNEL))
    if not await cur.fetchall():
        return None
    known.status, known.seq, known.head = run.status, run.seq, run.head
    known.lease_owner = run.lease_owner
    return written
