"""The knowledge graph of a tenant: entities and relations admitted by an ontology.

Every fact is checked against the :class:`~agentplane.knowledge.ontology.Ontology` before it is
stored (what does not fit comes back as a :class:`Rejected` with the reason) and keeps the chunk
it came from, with that chunk's trust. A relation of cardinality ``one`` has one current object
per subject: a newer, trusted statement supersedes the old one, which is kept (marked
``superseded_by``), never deleted; an untrusted statement never displaces a trusted one.

Tables (component ``knowledge_graph``, declared in :mod:`._graph_schema`): ``kg_entities``,
``kg_names`` (names and aliases, for finding entities named in a question), ``kg_mentions``
(one row per chunk an entity was found in), ``kg_relations``, ``kg_ontology`` (the ontology last
used per tenant, so queries need not be given it again). Queries are in :mod:`._graph_query`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from agentplane.errors import ConfigError
from agentplane.storage import Database, DatabaseError, migrate

from ._graph_query import GraphQueries
from ._graph_rows import (
    RELATION_COLUMNS,
    Entity,
    Relation,
    Report,
    entity_id,
    is_acronym,
    json_text,
    merge_reports,
    normalise,
    now_iso,
    relation_from_row,
    relation_id,
)
from ._graph_schema import COMPONENT, MIGRATIONS
from .extract import Candidates, EntityCandidate, Extractor, RelationCandidate
from .ontology import Ontology, Rejected
from .records import RecordMapping, record_candidates
from .types import Chunk, TrustLevel

EXTRACT_BATCH = 100
"""Chunks whose facts :meth:`KnowledgeGraph.extract` writes in one transaction."""


class KnowledgeGraph(GraphQueries):
    """Entities and relations of every tenant, admitted by ``ontology``, in ``db``."""

    def __init__(self, db: Database, ontology: Ontology) -> None:
        migrate(db, COMPONENT, MIGRATIONS)
        super().__init__(db)
        self.ontology = ontology

    # -- the ontology a tenant's graph was built with -----------------------------------------

    def save_ontology(self, tenant: str, source: str = "") -> None:
        """Record this graph's ontology as the tenant's (what later queries load)."""
        self._db.execute(
            "INSERT INTO kg_ontology (tenant, source, document, saved_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (tenant) DO UPDATE SET source = excluded.source, "
            "document = excluded.document, saved_at = excluded.saved_at",
            (tenant, source, self.ontology.model_dump_json(), now_iso()))

    @staticmethod
    def stored_ontology(db: Database, tenant: str) -> Ontology | None:
        """The ontology last saved for ``tenant``, or None."""
        migrate(db, COMPONENT, MIGRATIONS)
        row = db.query_one("SELECT document FROM kg_ontology WHERE tenant = ?", (tenant,))
        return Ontology.model_validate_json(row[0]) if row else None

    # -- entities -------------------------------------------------------------------------------

    def add_entity(self, tenant: str, type: str, name: str,
                   properties: Mapping[str, Any] | None = None, *, aliases: Iterable[str] = (),
                   chunk_id: str | None = None) -> Entity | Rejected:
        """Add an entity, or merge into the one it already is (same type and normalised name,
        or the same name on an entity of a subtype): aliases, properties (new values win) and
        chunk ids are merged. The entity comes back with every chunk it was found in."""
        with self._db.transaction():
            added = self._add_entity(tenant, type, name, properties, aliases, chunk_id)
            if isinstance(added, Entity):
                added = replace(added, chunk_ids=self.mentions(tenant, [added.id])[added.id])
        return added

    def _add_entity(self, tenant: str, type: str, name: str,
                    properties: Mapping[str, Any] | None, aliases: Iterable[str],
                    chunk_id: str | None) -> Entity | Rejected:
        """:meth:`add_entity` inside the caller's transaction; the entity comes back with
        ``chunk_id`` alone as its chunks (reading them all back would make a load quadratic).

        Two writers merging into one entity at once (two processes) must not lose each
        other's aliases or properties: on PostgreSQL the existing row is read ``FOR UPDATE``
        (the second writer waits, then merges into the first's row), and a new entity is
        inserted ``ON CONFLICT DO NOTHING`` — if another writer created it meanwhile, the
        merge is done again over theirs. SQLite's write transactions already take turns."""
        name = " ".join(name.split())
        aliases = [" ".join(a.split()) for a in aliases]
        candidate = {"type": type, "name": name, "properties": dict(properties or {}),
                     "aliases": list(aliases)}
        resolved = self.ontology.type_name(type)
        for _ in range(3):
            existing = self._existing(tenant, resolved, name) if resolved else None
            merged = {**(existing.properties if existing else {}), **(properties or {})}
            checked = self.ontology.check_entity(existing.type if existing else type, name,
                                                 merged)
            if isinstance(checked, str):
                return Rejected(candidate, checked)
            kind, values = checked
            stored = existing.name if existing is not None else name
            # one spelling per alias, but an acronym's lower-case twin ("AI", "ai") is kept:
            # it lets prose without capitals find the entity (see entities_in)
            spellings = {(normalise(stored), is_acronym(stored)): stored}
            for alias in [*(existing.aliases if existing else ()), *aliases]:
                spellings.setdefault((normalise(alias), is_acronym(alias)), alias)
            all_aliases = tuple(a for a in list(spellings.values())[1:] if a)
            entity = Entity(entity_id(tenant, kind, stored), tenant, kind, stored, all_aliases,
                            values, (chunk_id,) if chunk_id else ())
            if existing is None:
                if not self._insert_entity(entity):
                    continue  # another writer created it since we looked: merge into theirs
            elif all_aliases != existing.aliases or values != dict(existing.properties):
                self._db.execute(
                    "UPDATE kg_entities SET aliases = ?, properties = ?, updated_at = ? "
                    "WHERE tenant = ? AND id = ?",
                    (json_text(list(all_aliases)), json_text(values), now_iso(), tenant,
                     entity.id))
                self._write_names(entity)
            if chunk_id:
                self._db.execute(
                    "INSERT INTO kg_mentions (tenant, entity_id, chunk_id, added_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (tenant, entity_id, chunk_id) DO NOTHING",
                    (tenant, entity.id, chunk_id, now_iso()))
            return entity
        raise DatabaseError(f"entity {kind} {name!r} of tenant {tenant!r} kept changing under "
                            "concurrent writers; try again")

    def _insert_entity(self, entity: Entity) -> bool:
        """Insert a new entity and its names; False if it exists (a concurrent writer)."""
        now = now_iso()
        inserted = self._db.execute(
            "INSERT INTO kg_entities (tenant, id, type, name, norm, aliases, properties, "
            "chunk_ids, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, '[]', ?, ?) "
            "ON CONFLICT (tenant, id) DO NOTHING",
            (entity.tenant, entity.id, entity.type, entity.name, normalise(entity.name),
             json_text(list(entity.aliases)), json_text(dict(entity.properties)), now, now))
        if inserted:
            self._write_names(entity)
        return bool(inserted)

    def _write_names(self, entity: Entity) -> None:
        cased: dict[str, int] = {}  # 1: every spelling of this name is an acronym
        for spelling in (entity.name, *entity.aliases):
            key = normalise(spelling)
            cased[key] = min(cased.get(key, 1), int(is_acronym(spelling)))
        self._db.executemany(  # one statement text, so PostgreSQL prepares it once
            "INSERT INTO kg_names (tenant, norm, entity_id, cased) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (tenant, norm, entity_id) DO UPDATE SET cased = excluded.cased",
            [(entity.tenant, key, entity.id, flag) for key, flag in cased.items()])

    def _existing(self, tenant: str, type: str, name: str) -> Entity | None:
        """The entity an addition of (type, name) merges into: the same one, or the one entity
        of a subtype with that name."""
        named = self._find(tenant, name, lock=True)
        same = entity_id(tenant, type, name)
        for e in named:
            if e.id == same:
                return e
        below = [e for e in named if self.ontology.is_a(e.type, type) and
                 normalise(e.name) == normalise(name)]
        return below[0] if len(below) == 1 else None

    # -- relations ------------------------------------------------------------------------------

    def add_relation(self, tenant: str, subject: str | Entity, relation: str,
                     object: str | Entity, properties: Mapping[str, Any] | None = None, *,
                     chunk_id: str | None = None, trust: TrustLevel = "trusted",
                     subject_type: str | None = None, object_type: str | None = None
                     ) -> Relation | Rejected:
        """Add a fact between two entities the graph knows (by id, name or alias; a type
        picks among several of one name). For a relation of cardinality ``one``, a trusted
        fact (or one over only untrusted ones) supersedes the subject's current object; an
        untrusted one over a trusted one is kept, superseded from the start."""
        candidate = {"subject": _label(subject), "relation": relation, "object": _label(object),
                     "properties": dict(properties or {}), "chunk_id": chunk_id}
        with self._db.transaction():
            s = self._one(tenant, subject, subject_type)
            o = self._one(tenant, object, object_type)
            for what, found in (("subject", s), ("object", o)):
                if isinstance(found, str):
                    return Rejected(candidate, f"{what}: {found}")
            assert isinstance(s, Entity) and isinstance(o, Entity)
            checked = self.ontology.check_relation(relation, s.type, o.type, properties or {})
            if isinstance(checked, str):
                return Rejected(candidate, checked)
            name, values = checked
            return self._store_relation(tenant, s.id, name, o.id, values, chunk_id, trust)

    def _one(self, tenant: str, ref: str | Entity, type: str | None) -> Entity | str:
        if isinstance(ref, Entity):
            return ref
        resolved = self.ontology.type_name(type) if type else None
        found = [e for e in self._lookup(tenant, ref, mentions=False) if resolved is None or
                 self.ontology.is_a(e.type, resolved)]
        if not found:
            return f"no entity {ref!r}" + (f" of type {resolved}" if resolved else "") + \
                " in the graph; add it first"
        if len(found) > 1:
            exact = [e for e in found if normalise(e.name) == normalise(ref)]
            if len(exact) == 1:
                return exact[0]
            listed = ", ".join(f"{e.type} {e.name!r} ({e.id})" for e in found[:5])
            return f"{ref!r} names {len(found)} entities ({listed}); give the type or the id"
        return found[0]

    def _store_relation(self, tenant: str, subject: str, relation: str, object: str,
                        values: dict[str, Any], chunk_id: str | None, trust: TrustLevel
                        ) -> Relation:
        one = self.ontology.relation_types[relation].cardinality == "one"
        if one and self._db.dialect == "postgresql":
            # two writers of one subject's `one` relation take turns (SQLite's write
            # transactions already do): each sees the other's fact and supersedes it
            key = int(relation_id(tenant, subject, relation, "")[4:19], 16)
            self._db.query("SELECT pg_advisory_xact_lock(?)", (key,))
        id = relation_id(tenant, subject, relation, object)
        old = self._relation(tenant, id)
        if old is not None:
            values = {**old.properties, **values}
            chunk_id = old.chunk_id or chunk_id
            trust = "trusted" if "trusted" in (old.trust, trust) else "untrusted"
        superseded_by: str | None = None
        rivals: list[Relation] = []
        if one:
            rivals = [relation_from_row(r) for r in self._db.query(
                f"SELECT {RELATION_COLUMNS} FROM kg_relations WHERE tenant = ? AND subject = ? "
                "AND relation = ? AND id <> ? AND superseded_by IS NULL",
                (tenant, subject, relation, id))]
            trusted_rival = next((r for r in rivals if r.trust == "trusted"), None)
            if trusted_rival is not None and trust == "untrusted":
                superseded_by, rivals = trusted_rival.id, []
        created = old.created_at if old else now_iso()
        self._db.execute(
            f"INSERT INTO kg_relations ({RELATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (tenant, id) DO UPDATE SET properties = excluded.properties, "
            "chunk_id = excluded.chunk_id, trust = excluded.trust, "
            "superseded_by = excluded.superseded_by",
            (tenant, id, subject, relation, object, json_text(values), chunk_id, trust, created,
             superseded_by))
        if rivals:
            self._db.executemany(
                "UPDATE kg_relations SET superseded_by = ? WHERE tenant = ? AND id = ?",
                [(id, tenant, r.id) for r in rivals])
        return Relation(id, tenant, subject, relation, object, values, chunk_id, trust, created,
                        superseded_by)

    def _relation(self, tenant: str, id: str) -> Relation | None:
        row = self._db.query_one(f"SELECT {RELATION_COLUMNS} FROM kg_relations WHERE tenant = ? "
                                 "AND id = ?", (tenant, id))
        return relation_from_row(row) if row else None

    # -- many at once ---------------------------------------------------------------------------

    @contextmanager
    def _bulk(self) -> Iterator[None]:
        """One transaction for many facts (one commit, not one per fact). On PostgreSQL each
        statement is planned for the tables as they are now: a plan cached while they were
        small (a scan) would be kept as they grow inside the transaction, making a large load
        quadratic."""
        with self._db.transaction():
            if self._db.dialect == "postgresql":
                self._db.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            yield

    def apply(self, tenant: str, candidates: Candidates, *, chunk_id: str | None = None,
              trust: TrustLevel = "trusted") -> Report:
        """Check and store candidates (entities first, then the relations between them)."""
        entities: list[Entity] = []
        relations: list[Relation] = []
        rejected = list(candidates.rejected)
        for e in candidates.entities:
            added = self._add_entity(tenant, e.type, e.name, e.properties, e.aliases, chunk_id)
            if isinstance(added, Rejected):
                rejected.append(added)
            else:
                entities.append(added)
        for r in candidates.relations:
            fact = self.add_relation(tenant, r.subject, r.relation, r.object, r.properties,
                                     chunk_id=chunk_id, trust=trust,
                                     subject_type=r.subject_type, object_type=r.object_type)
            if isinstance(fact, Rejected):
                rejected.append(fact)
            else:
                relations.append(fact)
        return Report(tuple(entities), tuple(relations), tuple(rejected))

    def add_records(self, tenant: str, records: Iterable[Mapping[str, Any]],
                    mapping: RecordMapping | Mapping[str, Any]) -> Report:
        """Entities and relations from structured records, as ``mapping`` says."""
        if not isinstance(mapping, RecordMapping):
            mapping = RecordMapping.model_validate(mapping)
        reports = []
        with self._bulk():
            for record in records:
                candidates, chunk = record_candidates(record, mapping)
                reports.append(self.apply(tenant, candidates, chunk_id=chunk))
        return merge_reports(reports)

    def add_record_chunks(self, tenant: str, chunks: Sequence[Chunk],
                          mapping: RecordMapping | Mapping[str, Any]) -> Report:
        """Records the knowledge base keeps one per chunk (its ``meta``): facts keep the
        chunk's id and trust, so graph expansion leads back to the record."""
        if not isinstance(mapping, RecordMapping):
            mapping = RecordMapping.model_validate(mapping)
        reports = []
        with self._bulk():
            for chunk in chunks:
                candidates, _ = record_candidates(chunk.meta, mapping)
                reports.append(self.apply(tenant, candidates, chunk_id=chunk.id,
                                          trust=chunk.trust))
        return merge_reports(reports)

    async def aextract(self, tenant: str, chunks: Sequence[Chunk], extractor: Extractor, *,
                       batch: int = EXTRACT_BATCH) -> Report:
        """Run ``extractor`` over ``chunks`` and store what fits; facts keep their chunk and
        its trust. The facts of ``batch`` chunks are written in one transaction (one commit,
        the same statements each time), never held open across the extractor's awaits."""
        if batch < 1:
            raise ConfigError(f"batch must be at least 1 (got {batch})")
        reports = []
        for start in range(0, len(chunks), batch):
            part = chunks[start:start + batch]
            found = [await extractor(chunk, self.ontology) for chunk in part]
            with self._bulk():
                reports += [self.apply(tenant, candidates, chunk_id=chunk.id, trust=chunk.trust)
                            for chunk, candidates in zip(part, found, strict=True)]
        return merge_reports(reports)

    def extract(self, tenant: str, chunks: Sequence[Chunk], extractor: Extractor, *,
                batch: int = EXTRACT_BATCH) -> Report:
        """:meth:`aextract` for code without an event loop of its own."""
        return asyncio.run(self.aextract(tenant, chunks, extractor, batch=batch))


def _label(ref: str | Entity) -> str:
    return ref.id if isinstance(ref, Entity) else ref


__all__ = ["COMPONENT", "EXTRACT_BATCH", "MIGRATIONS", "Candidates", "Entity", "EntityCandidate",
           "GraphQueries", "KnowledgeGraph", "Rejected", "Relation", "RelationCandidate", "Report",
           "normalise"]
