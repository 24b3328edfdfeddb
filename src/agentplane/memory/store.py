"""The memory store: what agents remember across runs, per tenant, governed.

Memories live in the journal's database (component ``memory``, see ``_schema``) and are found
again by lexical similarity (a :class:`~agentplane.knowledge.lexical.LexicalIndex` named
``memory``, Chinese and English alike) among those that are ``active``, valid now and not
quarantined. A write with a key (``run:<id>/<step>``) happens once: a run replayed after a
crash gets the memory it wrote the first time.

Facts (``remember_fact``) about the same subject and relation supersede one another explicitly
(the old one ``superseded``, pointing to the new one) — except that an untrusted fact never
replaces a trusted one: it is kept alongside as an untrusted candidate, and context shaping,
which sees both, keeps the trusted one and tells the model the sources disagree.

People quarantine (out of recall until released), delete (one memory) and forget (everything
about a subject); each is one row in the append-only ``memory_audit`` saying who, when, why and
which ids, kind and subject — never the content, which is erased (the row stays, blanked, with
status ``deleted``, so a replayed write with the same key does not bring it back).
"""

from __future__ import annotations

import builtins
import hashlib
import uuid
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from agentplane.errors import NotFoundError
from agentplane.journal import canonical_json, utc_now
from agentplane.knowledge.lexical import LexicalIndex
from agentplane.knowledge.types import TrustLevel
from agentplane.storage import Database, migrate

from ._schema import (
    AUDIT_COLUMNS,
    COLUMN_LIST,
    COLUMNS,
    COMPONENT,
    KINDS,
    MIGRATIONS,
    STATUSES,
    InvalidMemoryError,
    audit_json,
    checked,
    from_row,
    instant,
    to_row,
)
from .types import Memory, MemoryKind, MemoryStatus

INDEX_NAME = "memory"
"""The name of the memory store's lexical index."""
EXACT_AMONG = 500
"""Up to this many qualifying memories, recall has the index score exactly those."""
POOL_FACTOR, POOL_MIN, POOL_MAX = 8, 50, 3200
"""Beyond, recall asks the index for the best ``max(limit × POOL_FACTOR, POOL_MIN)`` items of
the tenant, then ``POOL_FACTOR`` times more, up to ``POOL_MAX``, until ``limit`` qualify."""
_INSERT = (f"INSERT INTO memories({COLUMN_LIST}, held_status, write_key) VALUES "
           f"({', '.join('?' * (len(COLUMNS) + 2))}) "
           "ON CONFLICT DO NOTHING")
_BLANK = ("UPDATE memories SET status = 'deleted', held_status = NULL, subject = NULL, "
          "relation = NULL, value = NULL, text = '', source = '', meta = '{}' "
          "WHERE tenant = ? AND id = ?")

Time = str | datetime | date | None


def memory_id(tenant: str, key: str | None = None) -> str:
    """A new memory id; with a write key, always the same one for that tenant and key."""
    if key is None:
        return f"mem:{uuid.uuid4().hex}"
    digest = hashlib.sha256(canonical_json([tenant, key]).encode()).hexdigest()
    return f"mem:{digest[:32]}"


def fact_text(subject: str, relation: str, value: Any) -> str:
    """How a fact reads when it was given no text: ``subject relation: value``."""
    shown = value if isinstance(value, str) else canonical_json(value)
    return f"{subject} {relation}: {shown}"


class MemoryStore:
    """Memories of every kind for every tenant, in one database (see the module's doc)."""

    def __init__(self, db: Database) -> None:
        """``db``: the journal's database handle (shared; the caller closes it). The store's
        tables are brought up to date."""
        migrate(db, COMPONENT, MIGRATIONS)
        self.db = db
        # An index built by another tokeniser rebuilds itself from the memories it holds.
        self.index = LexicalIndex(db, INDEX_NAME, texts=self._indexed_texts)

    # -- writing ------------------------------------------------------------------------------

    def write(self, memory: Memory, *, key: str | None = None) -> Memory:
        """Keep ``memory`` (an empty id or ``created_at`` is filled in; validity times are
        normalised to UTC) and index it for recall. With ``key``, the write happens once per
        tenant: a second write with the same key returns the first memory unchanged. An active
        fact supersedes as ``remember_fact`` says."""
        if memory.kind == "factual" and memory.status == "active":
            return self._remember(memory, key)
        with self.db.transaction():
            first = self._by_key(memory.tenant, key)
            if first is not None:
                return first
            kept = self._prepared(memory, key)
            return self._insert(kept, key) or self._required_key(memory.tenant, key)

    def remember_fact(self, tenant: str, subject: str, relation: str, value: Any, *,
                      text: str | None = None, source: str, trust: TrustLevel,
                      confidence: float = 1.0, valid_from: Time = None,
                      valid_until: Time = None, created_by: str, key: str | None = None,
                      meta: dict[str, Any] | None = None) -> Memory:
        """Remember that ``subject``'s ``relation`` is ``value``, superseding what was active
        for the same subject and relation: a trusted fact supersedes every active one, an
        untrusted fact only earlier untrusted ones — beside an active trusted fact it is kept
        as an untrusted candidate (both are recalled; context shaping keeps the trusted one
        and says there is a conflict)."""
        if not subject or not relation:
            raise InvalidMemoryError(f"a fact of tenant {tenant!r} needs a subject and a "
                                     f"relation (got {subject!r}, {relation!r})")
        fact = Memory(id="", tenant=tenant, kind="factual",
                      text=text or fact_text(subject, relation, value), subject=subject,
                      relation=relation, value=value, source=source, trust=trust,
                      confidence=confidence, valid_from=instant(valid_from, "valid_from"),
                      valid_until=instant(valid_until, "valid_until"), created_by=created_by,
                      meta=meta or {})
        return self._remember(fact, key)

    def _remember(self, fact: Memory, key: str | None) -> Memory:
        tenant, subject, relation = fact.tenant, fact.subject or "", fact.relation or ""
        fact = replace(fact, valid_from=instant(fact.valid_from, "valid_from"),
                       valid_until=instant(fact.valid_until, "valid_until"))
        with self.db.transaction():
            first = self._by_key(tenant, key)
            if first is not None:
                return first
            self._lock(tenant, subject, relation)
            rows = self.db.query(
                f"SELECT {COLUMN_LIST} FROM memories WHERE tenant = ? AND kind = 'factual' AND "
                "subject = ? AND relation = ? AND status = 'active' ORDER BY created_at, id",
                (tenant, subject, relation))
            active = [from_row(r) for r in rows]
            same = [m for m in active if _same_fact(m, fact)]
            if same:  # already known, from as trusted a source: nothing changes
                return same[-1]
            replaced = [m for m in active if fact.trust == "trusted" or m.trust == "untrusted"]
            named = [m for m in replaced if m.trust == "trusted"] or replaced
            kept = self._prepared(replace(fact, supersedes=named[-1].id if named else None),
                                  key)
            inserted = self._insert(kept, key)
            if inserted is None:  # another writer took the key first
                return self._required_key(tenant, key)
            self.supersede(tenant, [m.id for m in replaced], by=inserted.id)
            return inserted

    def supersede(self, tenant: str, ids: Sequence[str], *, by: str) -> None:
        """Mark memories ``superseded`` by memory ``by``; they leave the lexical index (recall
        never returns them; a skill version promoted again is indexed again)."""
        if ids:
            self.db.executemany("UPDATE memories SET status = 'superseded', superseded_by = ? "
                                "WHERE tenant = ? AND id = ?", [(by, tenant, i) for i in ids])
            self.index.remove(tenant, ids)

    def _prepared(self, memory: Memory, key: str | None) -> Memory:
        kept = replace(memory, id=memory.id or memory_id(memory.tenant, key),
                       created_at=memory.created_at or utc_now(),
                       valid_from=instant(memory.valid_from, "valid_from"),
                       valid_until=instant(memory.valid_until, "valid_until"))
        checked(kept)
        return kept

    def _insert(self, memory: Memory, key: str | None) -> Memory | None:
        """Insert and index; None when the key (or id) is taken already."""
        if not self.db.execute(_INSERT, to_row(memory, None, key)):
            return None
        self.index.add(memory.tenant, [(memory.id, indexed_text(memory))])
        return memory

    def _indexed_texts(self, tenant: str) -> list[tuple[str, str]]:
        """What the lexical index holds for ``tenant``: every memory not superseded, retired
        or deleted."""
        rows = self.db.query(f"SELECT {COLUMN_LIST} FROM memories WHERE tenant = ? AND status "
                             "NOT IN ('superseded', 'retired', 'deleted')", (tenant,))
        return [(m.id, indexed_text(m)) for m in map(from_row, rows)]

    def _by_key(self, tenant: str, key: str | None) -> Memory | None:
        if key is None:
            return None
        row = self.db.query_one(f"SELECT {COLUMN_LIST} FROM memories WHERE tenant = ? AND "
                                "write_key = ?", (tenant, key))
        return None if row is None else from_row(row)

    def _required_key(self, tenant: str, key: str | None) -> Memory:
        found = self._by_key(tenant, key)
        if found is None:
            raise InvalidMemoryError(f"memory id already taken in tenant {tenant!r} by another "
                                     "memory: give each memory its own id (or none)")
        return found

    def _lock(self, tenant: str, subject: str, relation: str) -> None:
        """PostgreSQL: one writer at a time per subject and relation, so two facts written at
        once cannot both stay active (SQLite's write transaction serialises already)."""
        if self.db.dialect == "postgresql":
            self.db.query("SELECT pg_advisory_xact_lock(hashtext(?))",
                          (canonical_json(["memory", tenant, subject, relation]),))

    # -- reading ------------------------------------------------------------------------------

    def get(self, tenant: str, id: str) -> Memory | None:
        row = self.db.query_one(f"SELECT {COLUMN_LIST} FROM memories WHERE tenant = ? AND "
                                "id = ?", (tenant, id))
        return None if row is None else from_row(row)

    def list(self, tenant: str, *, kind: MemoryKind | None = None, subject: str | None = None,
             status: MemoryStatus | None = None, limit: int = 100) -> list[Memory]:
        """The tenant's memories, newest first; without ``status``, every one that still has
        content (deleted ones only when ``status="deleted"``)."""
        where, params = ["tenant = ?"], [tenant]
        if kind is not None:
            _known(kind, KINDS, "kind")
            where.append("kind = ?")
            params.append(kind)
        if subject is not None:
            where.append("subject = ?")
            params.append(subject)
        if status is not None:
            _known(status, STATUSES, "status")
            where.append("status = ?")
            params.append(status)
        else:
            where.append("status <> 'deleted'")
        rows = self.db.query(f"SELECT {COLUMN_LIST} FROM memories WHERE {' AND '.join(where)} "
                             "ORDER BY created_at DESC, id DESC LIMIT ?", (*params, int(limit)))
        return [from_row(r) for r in rows]

    def recall(self, tenant: str, query: str, *, kinds: Collection[MemoryKind] | None = None,
               subject: str | None = None, limit: int = 5, include_untrusted: bool = True,
               now: Time = None) -> builtins.list[tuple[Memory, float]]:
        """The memories most similar to ``query`` (lexical, best first, with their scores)
        among the tenant's ``active`` ones valid at ``now`` (default: now). Untrusted memories
        are returned too, with ``trust="untrusted"``: whoever shows them to a model treats
        them as untrusted tool output. An empty query gives the newest, with score 0."""
        at = instant(now, "now") or utc_now()
        where = ["tenant = ?", "status = 'active'", "(valid_from IS NULL OR valid_from <= ?)",
                 "(valid_until IS NULL OR valid_until > ?)"]
        params: builtins.list[Any] = [tenant, at, at]
        if kinds is not None:
            for k in kinds:
                _known(k, KINDS, "kind")
            where.append(f"kind IN ({', '.join('?' * len(kinds))})" if kinds else "1 = 0")
            params += list(kinds)
        if subject is not None:
            where.append("subject = ?")
            params.append(subject)
        if not include_untrusted:
            where.append("trust = 'trusted'")
        clause = " AND ".join(where)
        if not query.strip():
            rows = self.db.query(f"SELECT {COLUMN_LIST} FROM memories WHERE {clause} "
                                 "ORDER BY created_at DESC, id DESC LIMIT ?", (*params, limit))
            return [(from_row(r), 0.0) for r in rows]
        # Few qualify (a subject, a rare kind): the index scores exactly those. Many do: the
        # best of everything indexed, widened until `limit` of them qualify — those are then
        # the best that qualify, since nothing else scores higher.
        among = [str(r[0]) for r in self.db.query(
            f"SELECT id FROM memories WHERE {clause} LIMIT ?", (*params, EXACT_AMONG + 1))]
        if len(among) <= EXACT_AMONG:
            hits = self.index.search(tenant, query, limit=limit, among=among) if among else []
            found = {m.id: m for m in self._many(tenant, [i for i, _ in hits], clause, params)}
            return [(found[i], score) for i, score in hits if i in found]
        pool = max(limit * POOL_FACTOR, POOL_MIN)
        while True:
            hits = self.index.search(tenant, query, limit=pool)
            found = {m.id: m for m in self._many(tenant, [i for i, _ in hits], clause, params)}
            best = [(found[i], score) for i, score in hits if i in found][:limit]
            if len(best) == limit or len(hits) < pool or pool >= POOL_MAX:
                return best
            pool = min(pool * POOL_FACTOR, POOL_MAX)

    def _many(self, tenant: str, ids: Sequence[str], clause: str, params: Sequence[Any]
              ) -> builtins.list[Memory]:
        """The memories among ``ids`` that meet ``clause`` (the tenant's, with ``params``)."""
        found: builtins.list[Memory] = []
        for start in range(0, len(ids), EXACT_AMONG):
            batch = ids[start:start + EXACT_AMONG]
            rows = self.db.query(f"SELECT {COLUMN_LIST} FROM memories WHERE {clause} AND id "
                                 f"IN ({', '.join('?' * len(batch))})", (*params, *batch))
            found += [from_row(r) for r in rows]
        return found

    def audit(self, tenant: str, limit: int = 100) -> builtins.list[dict[str, Any]]:
        """Who quarantined, released, deleted, forgot, promoted or retired what and when,
        newest first: ``seq, time, tenant, actor, action, memory_ids, kind, subject, count,
        reason`` (never the content)."""
        rows = self.db.query(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM memory_audit WHERE "
                             "tenant = ? ORDER BY seq DESC LIMIT ?", (tenant, int(limit)))
        return [audit_json(r) for r in rows]

    # -- governing ----------------------------------------------------------------------------

    def quarantine(self, tenant: str, id: str, *, by: str, reason: str) -> Memory:
        """Keep a memory out of recall until a person releases it."""
        with self.db.transaction():
            memory = self._existing(tenant, id)
            if memory.status != "quarantined":
                self.db.execute("UPDATE memories SET status = 'quarantined', held_status = ? "
                                "WHERE tenant = ? AND id = ?", (memory.status, tenant, id))
            self.record(tenant, by, "quarantine", [memory], reason)
            return replace(memory, status="quarantined")

    def release(self, tenant: str, id: str, *, by: str, reason: str = "") -> Memory:
        """Give a quarantined memory back the status it had (``active`` for most)."""
        with self.db.transaction():
            memory = self._existing(tenant, id)
            if memory.status != "quarantined":
                raise InvalidMemoryError(f"memory {id} of tenant {tenant!r} is "
                                         f"{memory.status}, not quarantined: nothing to release")
            row = self.db.query_one("SELECT held_status FROM memories WHERE tenant = ? AND "
                                    "id = ?", (tenant, id))
            status: MemoryStatus = (row[0] if row and row[0] else "active")
            self.db.execute("UPDATE memories SET status = ?, held_status = NULL WHERE "
                            "tenant = ? AND id = ?", (status, tenant, id))
            self.record(tenant, by, "release", [memory], reason)
            return replace(memory, status=status)

    def delete(self, tenant: str, id: str, *, by: str, reason: str) -> Memory:
        """Erase one memory's content (it leaves recall, lists and the index); the audit keeps
        its id, kind and subject. Returns the blanked memory."""
        with self.db.transaction():
            memory = self._existing(tenant, id)
            self._erase(tenant, [memory.id])
            self.record(tenant, by, "delete", [memory], reason)
        found = self.get(tenant, id)
        assert found is not None
        return found

    def forget(self, tenant: str, subject: str, *, by: str, reason: str) -> int:
        """Erase everything remembered about ``subject`` (every kind and status); returns how
        many memories. One audit row says who, why, the ids and kinds — not the content."""
        if not subject:
            raise InvalidMemoryError("forget needs a subject")
        with self.db.transaction():
            rows = self.db.query(f"SELECT {COLUMN_LIST} FROM memories WHERE tenant = ? AND "
                                 "subject = ? ORDER BY created_at, id", (tenant, subject))
            memories = [from_row(r) for r in rows]
            self._erase(tenant, [m.id for m in memories])
            self.record(tenant, by, "forget", memories, reason, subject=subject)
        return len(memories)

    def _erase(self, tenant: str, ids: Sequence[str]) -> None:
        if ids:
            self.db.executemany(_BLANK, [(tenant, i) for i in ids])
            self.index.remove(tenant, ids)

    def _existing(self, tenant: str, id: str) -> Memory:
        memory = self.get(tenant, id)
        if memory is None or memory.status == "deleted":
            raise NotFoundError(f"no memory {id!r} in tenant {tenant!r}"
                                + (" (it was deleted)" if memory else ""))
        return memory

    def record(self, tenant: str, actor: str, action: str, memories: Sequence[Memory],
               reason: str, *, subject: str | None = None) -> None:
        """Append one audit row (ids, kind and subject of ``memories``; no content)."""
        kinds = sorted({m.kind for m in memories})
        subjects = sorted({m.subject for m in memories if m.subject})
        about = subject if subject is not None else (subjects[0] if len(subjects) == 1
                                                     else None)
        self.db.execute(
            "INSERT INTO memory_audit(time, tenant, actor, action, memory_ids, kind, subject, "
            "count, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (utc_now(), tenant, actor, action, canonical_json([m.id for m in memories]),
             ",".join(kinds) or None, about, len(memories), reason))


def _same_fact(known: Memory, new: Memory) -> bool:
    """Whether a new fact only repeats an active one (same value and validity, and the known
    one at least as trusted)."""
    return (canonical_json(known.value) == canonical_json(new.value)
            and (known.trust == "trusted" or new.trust == "untrusted")
            and (known.valid_from, known.valid_until) == (new.valid_from, new.valid_until))


def indexed_text(memory: Memory) -> str:
    """What recall matches a query against: the text, with the subject and relation."""
    return " ".join(p for p in (memory.text, memory.subject, memory.relation) if p)


def _known(value: str, allowed: Sequence[str], name: str) -> None:
    if value not in allowed:
        raise InvalidMemoryError(f"{name} {value!r} is not one of {', '.join(allowed)}")
