"""The memory store's tables, and how a row becomes a :class:`Memory` and back.

Tables (component ``memory``, in the journal's database): ``memories`` (one row per memory,
JSON in text columns, a write key unique per tenant), ``memory_audit`` (append-only: who
quarantined, released, deleted, forgot, promoted or retired what — ids, kind, subject, never
the content) and ``memory_skill_runs`` (which runs a skill succeeded in: each counts once).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, get_args

from agentplane.errors import ConfigError
from agentplane.journal import canonical_json
from agentplane.knowledge.types import TrustLevel
from agentplane.storage import Migration, Row

from .types import Memory, MemoryKind, MemoryStatus

COMPONENT = "memory"

_V1 = """
CREATE TABLE IF NOT EXISTS memories (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT,
    relation TEXT,
    value TEXT,
    text TEXT NOT NULL,
    source TEXT NOT NULL,
    trust TEXT NOT NULL,
    confidence REAL NOT NULL,
    valid_from TEXT,
    valid_until TEXT,
    status TEXT NOT NULL,
    held_status TEXT,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    supersedes TEXT,
    superseded_by TEXT,
    version INTEGER NOT NULL,
    write_key TEXT,
    meta TEXT NOT NULL,
    PRIMARY KEY (tenant, id),
    UNIQUE (tenant, write_key)
);
CREATE INDEX IF NOT EXISTS memories_subject ON memories(tenant, subject, relation);
CREATE INDEX IF NOT EXISTS memories_kind ON memories(tenant, kind, status, created_at);
CREATE TABLE IF NOT EXISTS memory_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    tenant TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    memory_ids TEXT NOT NULL,
    kind TEXT,
    subject TEXT,
    count INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS memory_audit_tenant ON memory_audit(tenant, seq);
CREATE TABLE IF NOT EXISTS memory_skill_runs (
    tenant TEXT NOT NULL,
    memory_id TEXT NOT NULL,
    run TEXT NOT NULL,
    time TEXT NOT NULL,
    PRIMARY KEY (tenant, memory_id, run)
);
"""

_V1_POSTGRESQL = (_V1.replace("seq INTEGER PRIMARY KEY AUTOINCREMENT", "seq BIGSERIAL PRIMARY KEY")
                  .replace("REAL", "DOUBLE PRECISION"))

MIGRATIONS = (Migration(1, _V1, postgresql=_V1_POSTGRESQL,
                        note="memories, memory_audit, memory_skill_runs"),)

COLUMNS = ("tenant", "id", "kind", "subject", "relation", "value", "text", "source", "trust",
           "confidence", "valid_from", "valid_until", "status", "created_at", "created_by",
           "supersedes", "superseded_by", "version", "meta")
"""The columns a :class:`Memory` is read from, in its field order (``held_status`` and
``write_key`` are the store's own)."""
COLUMN_LIST = ", ".join(COLUMNS)

KINDS: tuple[MemoryKind, ...] = get_args(MemoryKind)
STATUSES: tuple[MemoryStatus, ...] = get_args(MemoryStatus)
TRUST_LEVELS: tuple[TrustLevel, ...] = ("trusted", "untrusted")
AUDIT_ACTIONS = ("quarantine", "release", "delete", "forget", "promote", "retire")
AUDIT_COLUMNS = ("seq", "time", "tenant", "actor", "action", "memory_ids", "kind", "subject",
                 "count", "reason")


class InvalidMemoryError(ConfigError):
    """A memory cannot be kept as given (an unknown kind, a bad time, a value that is not JSON);
    the message says which field and why. Nothing was written."""


def instant(value: str | datetime | date | None, field: str) -> str | None:
    """An ISO-8601 time as the store keeps it: UTC, microseconds, ``Z`` (so text order is time
    order). A date is its midnight UTC; a time without a zone is taken as UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidMemoryError(f"{field} {value!r} is not an ISO-8601 time "
                                     "(e.g. 2026-05-01 or 2026-05-01T09:30:00Z)") from None
    elif isinstance(value, datetime):
        parsed = value
    else:
        parsed = datetime(value.year, value.month, value.day)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def checked(memory: Memory) -> None:
    """Refuse a memory the store could not keep or recall faithfully, saying what is wrong."""
    where = f"memory {memory.id or '(new)'} of tenant {memory.tenant!r}"
    if not memory.tenant:
        raise InvalidMemoryError(f"{where}: tenant is empty")
    if memory.kind not in KINDS:
        raise InvalidMemoryError(f"{where}: kind {memory.kind!r} is not one of {', '.join(KINDS)}")
    if memory.trust not in TRUST_LEVELS:
        raise InvalidMemoryError(f"{where}: trust {memory.trust!r} is not trusted or untrusted")
    if memory.status not in STATUSES:
        raise InvalidMemoryError(f"{where}: status {memory.status!r} is not one of "
                                 f"{', '.join(STATUSES)}")
    if not 0.0 <= memory.confidence <= 1.0:
        raise InvalidMemoryError(f"{where}: confidence {memory.confidence!r} is not between "
                                 "0 and 1")
    if not memory.text.strip():
        raise InvalidMemoryError(f"{where}: text is empty (it is what the model is shown)")
    if memory.kind == "factual" and not (memory.subject and memory.relation):
        raise InvalidMemoryError(f"{where}: a fact needs a subject and a relation")
    for name, value in (("value", memory.value), ("meta", memory.meta)):
        try:
            canonical_json(dict(value) if isinstance(value, Mapping) else value)
        except (TypeError, ValueError) as exc:
            raise InvalidMemoryError(f"{where}: {name} is not JSON ({exc})") from None


def to_row(memory: Memory, held_status: str | None, write_key: str | None) -> tuple[Any, ...]:
    """The ``memories`` row of a (checked) memory, in ``COLUMNS`` order then ``held_status``
    and ``write_key``."""
    value = None if memory.value is None else canonical_json(memory.value)
    return (memory.tenant, memory.id, memory.kind, memory.subject, memory.relation, value,
            memory.text, memory.source, memory.trust, memory.confidence, memory.valid_from,
            memory.valid_until, memory.status, memory.created_at, memory.created_by,
            memory.supersedes, memory.superseded_by, memory.version,
            canonical_json(dict(memory.meta)), held_status, write_key)


def from_row(row: Row) -> Memory:
    """The memory of a row read with ``COLUMN_LIST``."""
    (tenant, id_, kind, subject, relation, value, text, source, trust, confidence, valid_from,
     valid_until, status, created_at, created_by, supersedes, superseded_by, version,
     meta) = row
    return Memory(id=id_, tenant=tenant, kind=kind, text=text, subject=subject,
                  relation=relation, value=None if value is None else json.loads(value),
                  source=source, trust=trust, confidence=float(confidence),
                  valid_from=valid_from, valid_until=valid_until, status=status,
                  created_at=created_at, created_by=created_by, supersedes=supersedes,
                  superseded_by=superseded_by, version=int(version), meta=json.loads(meta))


def audit_json(row: Sequence[Any]) -> dict[str, Any]:
    """An audit row as JSON: ``memory_ids`` a list, ``count`` how many memories it touched."""
    entry = dict(zip(AUDIT_COLUMNS, row, strict=True))
    entry["seq"] = int(entry["seq"])
    entry["count"] = int(entry["count"])
    entry["memory_ids"] = json.loads(entry["memory_ids"])
    return entry
