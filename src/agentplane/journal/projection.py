"""What every journal back-end does the same way, whatever its database: how event data is
encoded for storage (large values to blobs), which checks refuse an append before anything is
written, how events move the ``runs`` and ``waits`` projections, and how stored rows read back.

Pure logic only — no database here. ``journal/sqlite.py`` and ``journal/postgres.py`` run the
SQL; both call these functions, so the two stores cannot drift apart in what they decide.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from sys import intern
from typing import Any

from .events import (
    BLOB_KEY,
    STATUS_OF_EVENT,
    WAIT_CLOSE_TYPES,
    WAIT_OPEN_TYPES,
    Event,
    EventType,
    NewEvent,
    canonical_json,
    sha256_hex,
)
from .personal import may_hold, reveal, reveal_text
from .safe import SANITIZED_KEY, EventTooLargeError, Sanitized, check_size, make_safe
from .store import (
    BLOB_THRESHOLD,
    CorruptEventError,
    CorruptRunError,
    CorruptWaitError,
    JournalError,
    OwnerIsDead,
    RunRecord,
    WaitNotOpenError,
    WaitRecord,
)

log = logging.getLogger(__name__)

# Statuses a worker writes itself when it stops driving a run. Not ``cancelled``: a person
# cancels, and the worker keeps its lease until it notices, so the call it has under way is
# still recorded.
LEASE_ENDING_STATUSES = frozenset({"completed", "failed", "waiting", "needs_reconciliation"})

RUN_COLUMNS = (
    "id, workflow, workflow_hash, status, tenant, created_at, updated_at, input, meta,"
    " last_seq, head_hash, lease_owner, lease_until, wake_at"
)
"""The ``runs`` columns in the order :func:`run_from_row` reads them."""
WAIT_COLUMNS = "id, run_id, step_key, kind, status, created_at, deadline, data, resolution"
"""The ``waits`` columns in the order :func:`wait_from_row` reads them."""
EVENT_COLUMNS = "run_id, seq, time, type, actor, step_key, data, usage, prev_hash, hash, schema"
"""The ``events`` columns in the order :func:`event_from_row` reads them."""

_REF_KEY = f'"{BLOB_KEY}":'
"""How a ``$blob`` key appears in canonical JSON: text without it has no reference-shaped
value (inside a string the quotes are escaped), so no value needs a look."""

Blob = tuple[str, str]
"""A blob to write: ``(sha256 hex, canonical JSON body)``."""


def dumps(value: Any) -> str:
    """JSON text of a projection column (not hashed, so not canonical)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def sanitized(fixed: Sanitized) -> dict[str, Any]:
    return {SANITIZED_KEY: fixed.changes} if fixed.changes else {}


def created_event(*, workflow: str, workflow_hash: str, input: Any, meta: dict[str, Any],
                  tenant: str) -> tuple[Any, dict[str, Any], NewEvent]:
    """A new run's input and meta made safe, and its ``run.created`` event."""
    safe_input = make_safe(input, "data.input")
    safe_meta = make_safe(meta, "meta").value
    event = NewEvent(EventType.RUN_CREATED, data={
        "workflow": workflow, "workflow_hash": workflow_hash, "input": safe_input.value,
        "tenant": tenant, **sanitized(safe_input)})
    return safe_input.value, safe_meta, event


def encode(data: dict[str, Any]) -> tuple[dict[str, Any], str, list[Blob]]:
    """Prepare event data for storage: large values become blob references.

    Returns the data as stored, its canonical JSON and the blobs to write. Writes nothing, so a
    value that is not JSON refuses the append before any write.
    """
    try:
        text = canonical_json(data)
        check_size(len(text))
        if len(text) <= BLOB_THRESHOLD and (_REF_KEY not in text or not any(
            isinstance(v, dict) and BLOB_KEY in v for v in data.values()
        )):
            return data, text, []  # nothing can be over the threshold: one encoding does it
        stored: dict[str, Any] = {}
        blobs: list[Blob] = []
        for key, value in data.items():
            # A value shaped like a reference is always offloaded: references stay unambiguous.
            looks_like_ref = isinstance(value, dict) and BLOB_KEY in value
            body = canonical_json(value) if isinstance(value, str | dict | list) else ""
            if looks_like_ref or len(body) > BLOB_THRESHOLD:
                digest = sha256_hex(body)
                blobs.append((digest, body))
                stored[key] = {BLOB_KEY: digest}
            else:
                stored[key] = value
        return stored, canonical_json(stored), blobs
    except EventTooLargeError as exc:
        raise JournalError(str(exc)) from exc
    except (TypeError, ValueError) as exc:
        raise JournalError(f"event data is not JSON: {exc}") from exc


def blob(value: Any) -> Blob:
    """A value as a content-addressed blob."""
    body = canonical_json(value)
    return sha256_hex(body), body


def blob_refs(data: dict[str, Any]) -> list[str]:
    """The blob digests stored event data refers to."""
    return [str(v[BLOB_KEY]) for v in data.values()
            if isinstance(v, dict) and len(v) == 1 and BLOB_KEY in v]


def resolve(data: dict[str, Any], bodies: Mapping[str, str]) -> dict[str, Any]:
    """Event data with blob references replaced by their values (a missing blob, or one whose
    stored text no longer reads as JSON, stays a reference, for audit to report)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        out[key] = value
        if isinstance(value, dict) and len(value) == 1 and BLOB_KEY in value:
            body = bodies.get(str(value[BLOB_KEY]))
            with contextlib.suppress(ValueError):  # edited by hand: the audit names it
                out[key] = value if body is None else reveal_text(body, json.loads(body))
    return out


def blob_json(digest: str, text: str | None, url: str) -> Any:
    """A blob's value as stored; ``JournalError`` saying which blob when it is missing or its
    text does not read as JSON (edited by hand)."""
    if text is None:
        raise JournalError(f"blob {digest} is missing from {url}")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise JournalError(f"blob {digest} in {url} cannot be read: its stored JSON is "
                           "unreadable (the row was edited)") from exc


# -- checks made before any write ---------------------------------------------------------------


def wait_ids(run_id: str, events: Sequence[NewEvent]) -> list[str]:
    """The waits the events open or resolve; refuses such an event without ``data.wait_id``."""
    ids: list[str] = []
    for new in events:
        if new.type in WAIT_OPEN_TYPES or new.type in WAIT_CLOSE_TYPES:
            if "wait_id" not in new.data:
                raise JournalError(f"{new.type} event for run {run_id} has no data.wait_id")
            ids.append(str(new.data["wait_id"]))
    return ids


def check_waits(run_id: str, events: Sequence[NewEvent],
                stored: Callable[[str], tuple[str, str] | None]) -> None:
    """Refuse opening a wait twice, or resolving one that is not open. ``stored(wait_id)``
    gives a stored wait's ``(status, run_id)``, or None."""
    wait_ids(run_id, events)
    opened: set[str] = set()
    closed: set[str] = set()
    for new in events:
        if new.type not in WAIT_OPEN_TYPES and new.type not in WAIT_CLOSE_TYPES:
            continue
        wait_id = str(new.data["wait_id"])
        row = stored(wait_id)
        if new.type in WAIT_OPEN_TYPES:
            if row is not None or wait_id in opened:
                raise JournalError(f"wait {wait_id} of run {run_id} is already open")
            opened.add(wait_id)
            continue
        is_open = (row is not None and row[0] == "open" and row[1] == run_id) or (
            wait_id in opened)
        if not is_open or wait_id in closed:
            raise WaitNotOpenError(f"wait {wait_id} of run {run_id} is not open")
        closed.add(wait_id)


# -- projection rules ---------------------------------------------------------------------------


def opened_wait(run_id: str, new: NewEvent, when: str) -> tuple[Any, ...]:
    """The ``waits`` row a wait-opening event inserts, in ``WAIT_COLUMNS`` order up to
    ``data`` (``resolution`` is left out)."""
    return (str(new.data["wait_id"]), run_id, new.step_key or "",
            str(new.data.get("kind", new.type)), "open", when, new.data.get("deadline"),
            dumps(new.data))


def resolution(new: NewEvent) -> str:
    """The ``resolution`` JSON a wait-closing event stores."""
    return dumps({"type": new.type, "actor": new.actor, **new.data})


def awaited(new: NewEvent) -> list[str]:
    """The waits a ``run.waiting`` event suspends on."""
    return [str(i) for i in new.data.get("waits", [])]


def status_after(status: str, new: NewEvent, *, awaited_resolved: bool = False) -> str:
    """The run's status after ``new``. ``awaited_resolved``: for ``run.waiting``, whether one
    of the waits it names was already resolved (the run is then ready again at once)."""
    if new.type in WAIT_OPEN_TYPES:
        return status
    if new.type in WAIT_CLOSE_TYPES:
        return "pending" if status == "waiting" else status
    if new.type == EventType.RUN_WAITING:
        return "pending" if awaited_resolved else "waiting"
    return STATUS_OF_EVENT.get(new.type, status)


def lease_is_free(run: RunRecord, owner: str, now: float,
                  owner_is_dead: OwnerIsDead | None) -> bool:
    """Whether ``owner`` may take the run's lease at Unix time ``now``."""
    return (
        run.lease_owner is None
        or run.lease_owner == owner
        or (run.lease_until or 0) < now
        or (owner_is_dead is not None and owner_is_dead(run.lease_owner))
    )


# -- queries ------------------------------------------------------------------------------------


def runs_query(*, statuses: Sequence[str] | None, workflow: str | None, tenant: str | None,
               search: str | None, limit: int) -> tuple[str, list[Any]]:
    """``list_runs`` as SQL with ``?`` placeholders and its parameters: newest first,
    ``search`` matching part of the id or the workflow name (LIKE wildcards taken literally)."""
    where: list[str] = []
    args: list[Any] = []
    if statuses:
        where.append(f"status IN ({','.join('?' * len(statuses))})")
        args.extend(statuses)
    for column, value in (("workflow", workflow), ("tenant", tenant)):
        if value:
            where.append(f"{column} = ?")
            args.append(value)
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace(
            "_", "\\_") + "%"
        where.append("(id LIKE ? ESCAPE '\\' OR workflow LIKE ? ESCAPE '\\')")
        args.extend((pattern, pattern))
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    return (f"SELECT {RUN_COLUMNS} FROM runs {clause} ORDER BY created_at DESC, id LIMIT ?",
            [*args, limit])


def waits_query(*, run_id: str | None, status: str | None, kind: str | None
                ) -> tuple[str, list[Any]]:
    """``waits`` as SQL with ``?`` placeholders and its parameters, oldest first."""
    where: list[str] = []
    args: list[Any] = []
    for column, value in (("run_id", run_id), ("status", status), ("kind", kind)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    return f"SELECT {WAIT_COLUMNS} FROM waits {clause} ORDER BY created_at, id", args


# -- rows read back -----------------------------------------------------------------------------


def run_from_row(row: Sequence[Any], *, revealed: bool = True) -> RunRecord:
    """A run's record; ``CorruptRunError`` when a column holds what the journal never writes
    there or its JSON cannot be read (a hand edit)."""
    if (misfit := _misfit(_RUN_TYPES, row)) is not None:
        raise CorruptRunError(str(row[0]), misfit)
    try:
        stored_input = json.loads(row[7])
        meta = json.loads(row[8])
    except ValueError as exc:
        raise CorruptRunError(row[0], f"its stored JSON is unreadable: {exc}") from exc
    if not isinstance(meta, dict):
        raise CorruptRunError(row[0], "its meta column holds no JSON object (the row was edited)")
    # The texts many runs share (workflow, its hash, status, tenant, lease holder) are
    # interned: a driven run keeps its record for its whole life, and 10 k live runs would
    # otherwise hold 10 k copies of each.
    return RunRecord(
        id=row[0], workflow=intern(row[1]), workflow_hash=intern(row[2]),
        status=intern(row[3]), tenant=intern(row[4]), created_at=row[5], updated_at=row[6],
        input=reveal_text(row[7], stored_input) if revealed else stored_input,
        meta=meta, last_seq=row[9],
        head_hash=row[10], lease_owner=None if row[11] is None else intern(row[11]),
        lease_until=row[12], wake_at=row[13],
    )


def wait_from_row(r: Sequence[Any]) -> WaitRecord:
    """A wait; ``CorruptWaitError`` when a column holds what the journal never writes there or
    its JSON cannot be read (a hand edit)."""
    if (misfit := _misfit(_WAIT_TYPES, r)) is not None:
        raise CorruptWaitError(str(r[0]), misfit)
    try:
        data = json.loads(r[7])
        resolution = None if r[8] is None else json.loads(r[8])
    except ValueError as exc:
        raise CorruptWaitError(r[0], f"its stored JSON is unreadable: {exc}") from exc
    if not isinstance(data, dict):
        raise CorruptWaitError(r[0], "its data column holds no JSON object (the row was edited)")
    return WaitRecord(
        id=r[0], run_id=r[1], step_key=r[2], kind=r[3], status=r[4], created_at=r[5],
        deadline=r[6], data=reveal_text(r[7], data), resolution=resolution)


_unreadable_due: set[str] = set()
"""Due waits this process found unreadable and said so once (see :func:`due_from_rows`)."""


def due_from_rows(rows: Sequence[Sequence[Any]]) -> list[WaitRecord]:
    """The due waits among ``rows`` that can be read. One that cannot (a hand edit) is logged
    once per process and left open for a person: the machine's timers and the worker that
    fires them go on for every other run instead of stopping at one bad row."""
    due = []
    for row in rows:
        try:
            due.append(wait_from_row(row))
        except CorruptWaitError as exc:
            if exc.wait_id not in _unreadable_due:
                _unreadable_due.add(exc.wait_id)
                log.error("%s; its deadline is not acted on (the others are)", exc)
    return due


_TEXT: tuple[type, ...] = (str,)
_TEXT_OR_NULL: tuple[type, ...] = (str, type(None))
_INTEGER: tuple[type, ...] = (int,)
_SECONDS_OR_NULL: tuple[type, ...] = (float, int, type(None))
_RUN_TYPES = tuple(zip(
    RUN_COLUMNS.replace(" ", "").split(","),
    (*[_TEXT] * 9, _INTEGER, _TEXT, _TEXT_OR_NULL, _SECONDS_OR_NULL, _SECONDS_OR_NULL),
    strict=True))
_WAIT_TYPES = tuple(zip(
    WAIT_COLUMNS.replace(" ", "").split(","),
    (_TEXT, _TEXT, _TEXT_OR_NULL, _TEXT, _TEXT, _TEXT, _SECONDS_OR_NULL, _TEXT, _TEXT_OR_NULL),
    strict=True))
_EVENT_TYPES = tuple(zip(
    EVENT_COLUMNS.replace(" ", "").split(","),
    (_TEXT, _INTEGER, _TEXT, _TEXT, _TEXT, _TEXT_OR_NULL, _TEXT, _TEXT_OR_NULL, _TEXT, _TEXT,
     _INTEGER),
    strict=True))
"""Each table's columns as read back, with the types the journal writes there: SQLite keeps
whatever a hand edit stores (a BLOB in a TEXT column stays a BLOB)."""
_KIND_OF: dict[type, str] = {bytes: "a BLOB", int: "an integer", float: "a real",
                             str: "text", type(None): "NULL"}


def _misfit(columns: Sequence[tuple[str, tuple[type, ...]]], row: Sequence[Any]) -> str | None:
    """The first column of ``row`` holding a type the journal never writes there, in words;
    None when every column holds what is written there."""
    for (name, types), value in zip(columns, row, strict=False):
        if type(value) not in types:
            wanted = ("a number (seconds) or NULL" if types is _SECONDS_OR_NULL
                      else " or ".join(_KIND_OF[t] for t in types))
            return (f"its {name} column holds "
                    f"{_KIND_OF.get(type(value), type(value).__name__)} where the journal "
                    f"writes {wanted} (the row was edited)")
    return None


def event_from_row(r: Sequence[Any], *, revealed: bool = False) -> Event:
    """An event as stored (blob references unresolved), or with ``revealed`` its personal
    values in the clear (``"[erased]"`` once erased; see ``personal``); ``CorruptEventError``
    when its JSON cannot be read or a column holds what the journal never writes there."""
    if (misfit := _misfit(_EVENT_TYPES, r)) is not None:
        raise CorruptEventError(str(r[0]), r[1] if type(r[1]) is int else None, misfit)
    try:
        data = json.loads(r[6])
        if revealed and may_hold(r[6]):
            data = reveal(data)
        usage = None if r[7] is None else json.loads(r[7])
    except (TypeError, ValueError) as exc:
        raise CorruptEventError(r[0], r[1], f"its stored JSON is unreadable: {exc}") from exc
    return Event(r[0], r[1], r[2], r[3], r[4], r[5], data, usage, r[8], r[9], r[10])
