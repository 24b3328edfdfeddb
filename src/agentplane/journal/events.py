"""Journal events: the one record of everything a run did.

An event is immutable once written. Its ``hash`` covers every other field, including
``prev_hash`` (the hash of the run's previous event), so the events of a run form a chain: an
edit, deletion or reordering breaks it and ``agentplane audit verify`` names the first event that
does not match.
"""

from __future__ import annotations

import hashlib
import json
import time as _time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from .safe import SANITIZED_KEY, safe_event_data, safe_text

SCHEMA_VERSION = 1
"""Version of the event layout. Readers accept every version up to this one."""

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first event of every run."""

BLOB_KEY = "$blob"
"""A data value replaced by a blob reference is ``{"$blob": "<sha256 hex>"}``."""


class EventType:
    """Event types the platform itself writes. Other packages may add their own (``area.verb``)."""

    RUN_CREATED = "run.created"
    RUN_STARTED = "run.started"
    RUN_RESUMED = "run.resumed"
    RUN_WAITING = "run.waiting"
    RUN_READY = "run.ready"
    RUN_COMPLETED = "run.completed"
    RUN_FAILED = "run.failed"
    RUN_CANCELLED = "run.cancelled"
    RUN_NEEDS_RECONCILIATION = "run.needs_reconciliation"
    RUN_RECONCILED = "run.reconciled"
    AGENT_INVOKED = "agent.invoked"
    AGENT_COMPLETED = "agent.completed"
    MODEL_REQUESTED = "model.requested"
    MODEL_COMPLETED = "model.completed"
    MODEL_FAILED = "model.failed"
    TOOL_PROPOSED = "tool.proposed"
    TOOL_STARTED = "tool.started"
    TOOL_COMPLETED = "tool.completed"
    TOOL_FAILED = "tool.failed"
    TOOL_COMPENSATED = "tool.compensated"
    ROLLBACK_STARTED = "rollback.started"
    ROLLBACK_COMPLETED = "rollback.completed"
    NOTIFICATION = "notification"
    HANDOFF = "handoff"
    WAIT_OPENED = "wait.opened"
    WAIT_RESOLVED = "wait.resolved"
    APPROVAL_REQUESTED = "approval.requested"
    APPROVAL_GRANTED = "approval.granted"
    APPROVAL_DENIED = "approval.denied"
    APPROVAL_EXPIRED = "approval.expired"
    GUARD_DECIDED = "guard.decided"
    MEMORY_WRITTEN = "memory.written"
    MEMORY_RECALLED = "memory.recalled"
    CONTEXT_PACKET = "context.packet"
    """What retrieved context and recalled memory went into a model call, with ids and scores."""
    TOOLS_SELECTED = "tools.selected"
    """Which of an agent's many tools were offered to the model in one turn, and why."""
    OUTCOME_RECORDED = "outcome.recorded"
    MODEL_ROUTED = "model.routed"
    """Which model a router chose for a call, among which candidates, and why."""
    ENSEMBLE_JUDGED = "ensemble.judged"
    """The answers an ensemble gathered and the one its judge kept."""
    VERIFY_CHECKED = "verify.checked"
    """An answer's verification: each check's finding, and what followed (pass, repair...)."""
    SIMULATION_PERTURBED = "simulation.perturbed"
    """A stress scenario changed what a tool or model returned (the runtime did, not the spec)."""
    TRIGGER_FIRED = "trigger.fired"
    """A schedule slot, webhook delivery or mail message that started this run."""
    RUN_DEFERRED = "run.deferred"
    """The run waits for the best window of a price or carbon signal, before its deadline."""
    CONTENT_LABELLED = "content.labelled"
    """A generated output was labelled as AI-made (visible text and metadata)."""


# Run statuses, and the event types that move a run into each. The store keeps the ``runs``
# table (a projection of the journal) in step with these in the same transaction as the event.
RUN_STATUSES = (
    "pending",
    "running",
    "waiting",
    "completed",
    "failed",
    "cancelled",
    "needs_reconciliation",
)
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
APPROVAL_KINDS = frozenset({"escalation", "tool_call", "budget", "answer_review", "elicitation"})
"""Kinds of waits a person answers (the inbox); other waits (signals, timers) are answered by
code. Here, next to the statuses, so a reader of the inbox needs no runtime."""
STATUS_OF_EVENT: dict[str, str] = {
    EventType.RUN_CREATED: "pending",
    EventType.RUN_STARTED: "running",
    EventType.RUN_RESUMED: "running",
    EventType.RUN_WAITING: "waiting",
    EventType.RUN_READY: "pending",
    EventType.RUN_COMPLETED: "completed",
    EventType.RUN_FAILED: "failed",
    EventType.RUN_CANCELLED: "cancelled",
    EventType.RUN_NEEDS_RECONCILIATION: "needs_reconciliation",
    EventType.RUN_RECONCILED: "pending",
}
WAIT_OPEN_TYPES = frozenset({EventType.WAIT_OPENED, EventType.APPROVAL_REQUESTED})
WAIT_CLOSE_TYPES = frozenset(
    {
        EventType.WAIT_RESOLVED,
        EventType.APPROVAL_GRANTED,
        EventType.APPROVAL_DENIED,
        EventType.APPROVAL_EXPIRED,
    }
)


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string with microseconds."""
    return utc_text(_time.time_ns() // 1000)


_second: tuple[int, str] = (-1, "")
"""The last second :func:`utc_text` formatted, and its text up to the microseconds."""


def utc_text(micros: int) -> str:
    """Unix time in microseconds as ``utc_now`` writes it (``2026-01-31T12:00:00.000001Z``):
    the text ``datetime.isoformat`` gives, the date and time formatted once a second."""
    global _second
    second, micro = divmod(micros, 1_000_000)
    known = _second
    if known[0] != second:
        known = _second = (second, datetime.fromtimestamp(second, UTC).replace(
            tzinfo=None).isoformat(timespec="seconds") + ".")
    return f"{known[1]}{micro:06d}Z"


def canonical_json(value: Any) -> str:
    """JSON with sorted keys, no spaces and UTF-8 text: the form that is stored and hashed.

    Encoded with orjson; values it refuses (integers beyond 64 bits, non-string keys) fall back
    to the standard library with the same layout. Writing and verifying both go through here,
    so every hash is recomputed from exactly the text that was hashed.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event about to be appended; the store assigns ``seq``, ``time`` and the hashes."""

    type: str
    actor: str = "system"
    """Identity of who caused the event: ``agent:<name>``, ``user:<id>``, ``system``."""
    step_key: str | None = None
    """Stable key of the durable step the event belongs to, if any."""
    data: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, int] | None = None
    """Token counts for model events (``input_tokens``, ``output_tokens``, ...)."""

    def __post_init__(self) -> None:
        # The journal's one boundary for untrusted text (see ``safe``): whatever a tool, a
        # model, a person or a remote agent sent is stored JSON- and UTF-8-safe, and the
        # event says what was replaced.
        data = safe_event_data(self.data)
        actor, step_key = self.actor, self.step_key
        if type(actor) is str and actor.isascii() and (
                step_key is None or (type(step_key) is str and step_key.isascii())):
            if data is not self.data:  # the common case: ASCII names, nothing to check
                object.__setattr__(self, "data", data)
            return
        changes: list[dict[str, str]] = []
        for name in ("actor", "step_key"):
            text = getattr(self, name)
            fixed = safe_text(text) if isinstance(text, str) else None
            if fixed is not None:
                object.__setattr__(self, name, fixed)
                changes.append({"path": name, "change": "lone surrogates replaced by U+FFFD"})
        if changes:
            data = {**data, SANITIZED_KEY: [*data.get(SANITIZED_KEY, []), *changes]}
        if data is not self.data:
            object.__setattr__(self, "data", data)


@dataclass(frozen=True, slots=True)
class Event:
    """A journaled event, as stored and hashed."""

    run_id: str
    seq: int
    """Position in the run's journal, from 1 with no gaps."""
    time: str
    """ISO 8601 UTC time the event was appended."""
    type: str
    actor: str
    step_key: str | None
    data: dict[str, Any]
    usage: dict[str, int] | None
    prev_hash: str
    hash: str
    schema: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "seq": self.seq,
            "time": self.time,
            "type": self.type,
            "actor": self.actor,
            "step_key": self.step_key,
            "data": self.data,
            "usage": self.usage,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
            "schema": self.schema,
        }


def event_body(
    *,
    run_id: str,
    seq: int,
    time: str,
    type: str,
    actor: str,
    step_key: str | None,
    data_json: str,
    usage: dict[str, int] | None,
    prev_hash: str,
    schema: int,
) -> bytes:
    """The canonical JSON of every field but ``hash``, as the UTF-8 bytes that are hashed,
    given the data's canonical JSON.

    Equal to ``canonical_json`` of the whole body (keys in sorted order) with the data encoded
    once for storage and hashing alike: one orjson call, the data embedded as the text it
    already is. Values orjson refuses (an integer beyond 64 bits in ``usage``) take the same
    layout assembled field by field.
    """
    try:
        return orjson.dumps(
            {"actor": actor, "data": orjson.Fragment(data_json), "prev_hash": prev_hash,
             "run_id": run_id, "schema": int(schema), "seq": int(seq), "step_key": step_key,
             "time": time, "type": type, "usage": usage},
            option=orjson.OPT_SORT_KEYS)
    except TypeError:  # the same layout, field by field (what raises here raises again)
        s = _json_text
        return (f'{{"actor":{s(actor)},"data":{data_json},"prev_hash":{s(prev_hash)},'
                f'"run_id":{s(run_id)},"schema":{int(schema)},"seq":{int(seq)},'
                f'"step_key":{s(step_key)},"time":{s(time)},"type":{s(type)},'
                f'"usage":{"null" if usage is None else canonical_json(usage)}}}').encode()


def stored_event_body(*, run_id: str, seq: int, time: str, type: str, actor: str,
                      step_key: str | None, data_json: str, usage_json: str | None,
                      prev_hash: str, schema: int) -> bytes:
    """:func:`event_body` from an event's stored columns, the usage as its stored text too:
    both texts embedded as they are, the fields given in sorted order (so no sort). The same
    bytes as ``event_body`` when ``usage_json`` is the usage's canonical JSON, which is what
    the SQLite journal stores; a verifier that finds another hash re-encodes the usage."""
    return orjson.dumps(
        {"actor": actor, "data": orjson.Fragment(data_json), "prev_hash": prev_hash,
         "run_id": run_id, "schema": schema, "seq": seq, "step_key": step_key, "time": time,
         "type": type, "usage": None if usage_json is None else orjson.Fragment(usage_json)})


def event_body_json(**fields: Any) -> str:
    """:func:`event_body` as text."""
    return event_body(**fields).decode()


def _json_text(value: str | None) -> str:
    """A string (or null) as JSON, exactly as ``canonical_json`` writes it."""
    return "null" if value is None else orjson.dumps(value).decode()


def event_hash(
    *,
    run_id: str,
    seq: int,
    time: str,
    type: str,
    actor: str,
    step_key: str | None,
    data: dict[str, Any],
    usage: dict[str, int] | None,
    prev_hash: str,
    schema: int,
) -> str:
    """The hash of an event: SHA-256 of the canonical JSON of every field but ``hash``.

    ``data`` is hashed as stored, i.e. with large values replaced by blob references; the blob
    references are themselves content hashes, so the chain covers the blobs too.
    """
    return hashlib.sha256(event_body(
        run_id=run_id, seq=seq, time=time, type=type, actor=actor, step_key=step_key,
        data_json=canonical_json(data), usage=usage, prev_hash=prev_hash,
        schema=schema)).hexdigest()


def seal(run_id: str, seq: int, prev_hash: str, new: NewEvent, data: dict[str, Any],
         data_json: str) -> Event:
    """Turn a ``NewEvent`` into an ``Event`` with its place in the chain.

    ``data`` is the event's data as stored (large values already moved to blobs) and
    ``data_json`` its canonical JSON.
    """
    time = utc_now()
    digest = hashlib.sha256(event_body(
        run_id=run_id, seq=seq, time=time, type=new.type, actor=new.actor,
        step_key=new.step_key, data_json=data_json, usage=new.usage, prev_hash=prev_hash,
        schema=SCHEMA_VERSION)).hexdigest()
    return Event(run_id, seq, time, new.type, new.actor, new.step_key, data, new.usage,
                 prev_hash, digest)
