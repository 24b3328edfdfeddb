"""Reading the knowledge graph: entities by name, entities a question names, facts,
neighbourhoods, paths, and the chunks behind them (graph expansion for retrieval).

Only current facts are walked: a relation another superseded is kept for the record but no
longer connects anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from agentplane.errors import ConfigError
from agentplane.storage import Database

from ._graph_rows import (
    ENTITY_COLUMNS,
    ENTITY_PREFIX,
    RELATION_COLUMNS,
    Entity,
    Relation,
    entity_from_row,
    normalise,
    spaced,
)
from .ontology import Ontology

MAX_HOPS = 3
"""The deepest neighbourhood or graph expansion."""
MAX_PATH_HOPS = 6
_BATCH = 400
"""Ids per ``IN (...)`` list (well under either back-end's limit on parameters)."""
_CJK_RANGES = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF),
               (0xF900, 0xFAFF), (0x20000, 0x2FA1F))


def _wordy(char: str) -> bool:
    """A letter or digit of a script that separates words by spaces (Latin, Cyrillic...):
    a name may not start or end next to one. Chinese, Japanese and Korean are written without
    spaces, so a name there may sit anywhere."""
    if not char.isalnum():
        return False
    code = ord(char)
    return not any(lo <= code <= hi for lo, hi in _CJK_RANGES)


def _batches(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), _BATCH):
        yield ids[start:start + _BATCH]


def _check_hops(hops: int, limit: int, what: str) -> None:
    if not 0 <= hops <= limit:
        raise ConfigError(f"{what} must be between 0 and {limit} (got {hops})")


class GraphQueries:
    """The read side of :class:`~agentplane.knowledge.graph.KnowledgeGraph`."""

    ontology: Ontology

    def __init__(self, db: Database) -> None:
        self._db = db
        self._names: dict[str, tuple[str, dict[str, list[tuple[str, bool]]], list[int]]] = {}
        """Per tenant: (the latest entity update when read, normalised name → entity ids,
        name lengths longest first), for :meth:`entities_in`."""

    # -- entities ---------------------------------------------------------------------------

    def get(self, tenant: str, id: str) -> Entity | None:
        found = self.entities(tenant, [id])
        return found.get(id)

    def entities(self, tenant: str, ids: Iterable[str]) -> dict[str, Entity]:
        """The entities with these ids (those that exist), by id, each with every chunk it
        was found in."""
        return self._entities(tenant, ids, mentions=True)

    def _entities(self, tenant: str, ids: Iterable[str], *, mentions: bool
                  ) -> dict[str, Entity]:
        wanted = list(dict.fromkeys(ids))
        out: dict[str, Entity] = {}
        for batch in _batches(wanted):
            rows = self._db.query(
                f"SELECT {ENTITY_COLUMNS} FROM kg_entities WHERE tenant = ? AND id IN "
                f"({', '.join('?' * len(batch))})", (tenant, *batch))
            out.update((e.id, e) for e in map(entity_from_row, rows))
        found = [out[i] for i in wanted if i in out]
        return {e.id: e for e in (self._with_mentions(tenant, found) if mentions else found)}

    def mentions(self, tenant: str, ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """The chunks each entity was found in, in the order they were first found (one
        index range of ``kg_mentions`` each); every id asked is a key."""
        out: dict[str, list[str]] = {i: [] for i in ids}
        for batch in _batches(list(out)):
            for entity, chunk in self._db.query(
                    "SELECT entity_id, chunk_id FROM kg_mentions WHERE tenant = ? AND entity_id "
                    f"IN ({', '.join('?' * len(batch))}) ORDER BY entity_id, added_at, chunk_id",
                    (tenant, *batch)):
                out[str(entity)].append(str(chunk))
        return {i: tuple(chunks) for i, chunks in out.items()}

    def mention_counts(self, tenant: str, ids: Sequence[str], *, cap: int | None = None
                       ) -> dict[str, int]:
        """How many chunks each entity was found in, counting at most ``cap`` each (an index
        range read no further than ``cap`` rows: a generic entity found in tens of thousands
        of chunks costs no more than a rare one); every id asked is a key."""
        limit = "" if cap is None else f" LIMIT {max(int(cap), 0)}"
        counts: dict[str, int] = {}
        for i in dict.fromkeys(ids):
            row = self._db.query_one(
                "SELECT COUNT(*) FROM (SELECT 1 FROM kg_mentions WHERE tenant = ? AND "
                f"entity_id = ?{limit}) AS m", (tenant, i))
            counts[i] = int(row[0]) if row else 0
        return counts

    def _with_mentions(self, tenant: str, entities: Sequence[Entity]) -> list[Entity]:
        found = self.mentions(tenant, [e.id for e in entities])
        return [replace(e, chunk_ids=found[e.id]) for e in entities]

    def lookup(self, tenant: str, ref: str) -> list[Entity]:
        """The entity with id ``ref``, else every entity ``ref`` names (name or alias)."""
        return self._lookup(tenant, ref, mentions=True)

    def _lookup(self, tenant: str, ref: str, *, mentions: bool) -> list[Entity]:
        if ref.startswith(ENTITY_PREFIX):
            by_id = self._entities(tenant, [ref], mentions=mentions).get(ref)
            if by_id is not None:
                return [by_id]
        return self._find(tenant, ref, mentions=mentions)

    def find(self, tenant: str, name: str, *, type: str | None = None) -> list[Entity]:
        """Entities named ``name`` (or with it as an alias), optionally of ``type`` or a
        subtype of it; exact names before aliases."""
        return self._find(tenant, name, type=type, mentions=True)

    def _find(self, tenant: str, name: str, *, type: str | None = None, mentions: bool = False,
              lock: bool = False) -> list[Entity]:
        """:meth:`find`; ``lock``: on PostgreSQL, lock the rows found until the transaction
        ends (``FOR UPDATE``: a writer merging into them waits for another's merge)."""
        # IN (subquery), not a join: SQLite would walk every entity of the tenant in id order
        locking = " FOR UPDATE" if lock and self._db.dialect == "postgresql" else ""
        rows = self._db.query(
            f"SELECT {ENTITY_COLUMNS} FROM kg_entities WHERE tenant = ? AND id IN (SELECT "
            f"entity_id FROM kg_names WHERE tenant = ? AND norm = ?) ORDER BY id{locking}",
            (tenant, tenant, normalise(name)))
        found = [entity_from_row(r) for r in rows]
        if type is not None:
            found = [e for e in found if self.ontology.is_a(e.type, type)]
        found.sort(key=lambda e: normalise(e.name) != normalise(name))
        return self._with_mentions(tenant, found) if mentions else found

    def _name_index(self, tenant: str) -> tuple[dict[str, list[tuple[str, bool]]], list[int]]:
        # every change of a name or alias updates its entity's updated_at (an index answers)
        row = self._db.query_one("SELECT MAX(updated_at) FROM kg_entities WHERE tenant = ?",
                                 (tenant,))
        stamp = str(row[0]) if row and row[0] is not None else ""
        cached = self._names.get(tenant)
        if cached is not None and cached[0] == stamp:
            return cached[1], cached[2]
        names: dict[str, list[tuple[str, bool]]] = {}
        for norm, entity, cased in self._db.query(
                "SELECT norm, entity_id, cased FROM kg_names WHERE tenant = ? ORDER BY "
                "entity_id", (tenant,)):
            names.setdefault(str(norm), []).append((str(entity), bool(cased)))
        lengths = sorted({len(n) for n in names}, reverse=True)
        self._names[tenant] = (stamp, names, lengths)
        return names, lengths

    def entities_in(self, tenant: str, text: str, *, mentions: bool = True) -> list[Entity]:
        """The entities ``text`` names (by name or alias), in the order they appear.

        Longer names are matched first and claim their characters (``Acme Holdings`` before
        ``Acme``); in Latin text a name must be a whole word (``Acme`` is not found in
        ``Acmeville``); Chinese names are found anywhere (no spaces between words). Case does
        not matter, except for acronyms of two to four capitals (``IT``), which are found only
        in capitals (not in "it"); give an entity a lower-case alias to find it either way.
        ``mentions=False``: without their chunk ids (``chunk_ids`` empty) — a question naming
        an entity found in many thousands of chunks then reads none of them."""
        names, lengths = self._name_index(tenant)
        original = spaced(text)
        folded = original.casefold()
        aligned = len(folded) == len(original)  # casefold can lengthen a few letters (ß)
        claimed = bytearray(len(folded))
        hits: list[tuple[int, str]] = []
        for length in lengths:
            for start in range(len(folded) - length + 1):
                end = start + length
                entries = names.get(folded[start:end])
                if entries is None or any(claimed[start:end]):
                    continue
                if (_wordy(folded[start]) and start > 0 and _wordy(folded[start - 1])) or (
                        _wordy(folded[end - 1]) and end < len(folded) and _wordy(folded[end])):
                    continue
                capitals = not aligned or original[start:end].isupper()
                ids = [i for i, cased in entries if capitals or not cased]
                if ids:
                    claimed[start:end] = b"\x01" * length
                    hits += [(start, i) for i in ids]
        hits.sort()
        found = self._entities(tenant, [i for _, i in hits], mentions=mentions)
        return list(found.values())

    # -- facts --------------------------------------------------------------------------------

    def _ids(self, tenant: str, ref: str | Entity) -> list[str]:
        if isinstance(ref, Entity):
            return [ref.id]
        return [e.id for e in self._lookup(tenant, ref, mentions=False)]

    def _edges(self, tenant: str, nodes: Sequence[str], *, superseded: bool = False
               ) -> list[Relation]:
        from ._graph_rows import relation_from_row

        out: dict[str, Relation] = {}
        current = "" if superseded else " AND superseded_by IS NULL"
        for batch in _batches(list(nodes)):
            marks = ", ".join("?" * len(batch))
            for end in ("subject", "object"):  # one indexed lookup each (an OR scans)
                rows = self._db.query(
                    f"SELECT {RELATION_COLUMNS} FROM kg_relations WHERE tenant = ? AND "
                    f"{end} IN ({marks}){current}", (tenant, *batch))
                out.update((r.id, r) for r in map(relation_from_row, rows))
        return sorted(out.values(), key=lambda r: (r.created_at, r.id))

    def facts(self, tenant: str, entity: str | Entity, *, include_superseded: bool = False
              ) -> list[Relation]:
        """The relations an entity (id, name or alias) takes part in, oldest first; current
        ones only unless ``include_superseded``."""
        return self._edges(tenant, self._ids(tenant, entity), superseded=include_superseded)

    def _walk(self, tenant: str, start: Sequence[str], hops: int
              ) -> tuple[dict[str, int], list[Relation]]:
        """Breadth-first from ``start``: each entity reached with its distance, and the
        relations walked."""
        distance = {i: 0 for i in start}
        relations: dict[str, Relation] = {}
        frontier = list(start)
        for depth in range(1, hops + 1):
            if not frontier:
                break
            reached: list[str] = []
            for rel in self._edges(tenant, frontier):
                relations.setdefault(rel.id, rel)
                for node in (rel.subject, rel.object):
                    if node not in distance:
                        distance[node] = depth
                        reached.append(node)
            frontier = reached
        return distance, list(relations.values())

    def neighbourhood(self, tenant: str, entity: str | Entity, hops: int = 1
                      ) -> tuple[list[Entity], list[Relation]]:
        """The entities within ``hops`` (≤ 3) relations of ``entity`` (itself first, then by
        distance) and the relations between them."""
        _check_hops(hops, MAX_HOPS, "hops")
        distance, relations = self._walk(tenant, self._ids(tenant, entity), hops)
        order = sorted(distance, key=lambda i: distance[i])
        inside = [r for r in relations if r.subject in distance and r.object in distance]
        return list(self.entities(tenant, order).values()), inside

    def paths(self, tenant: str, a: str | Entity, b: str | Entity, max_hops: int = 3, *,
              limit: int = 10) -> list[list[Relation]]:
        """Paths from ``a`` to ``b`` along current relations (either direction), shortest
        first, each visiting an entity once; at most ``limit``."""
        _check_hops(max_hops, MAX_PATH_HOPS, "max_hops")
        sources, targets = self._ids(tenant, a), set(self._ids(tenant, b))
        found: list[list[Relation]] = []
        partial: list[tuple[str, list[Relation], frozenset[str]]] = [
            (s, [], frozenset([s])) for s in sources]
        for _ in range(max_hops):
            if not partial or len(found) >= limit:
                break
            edges: dict[str, list[Relation]] = {}
            for rel in self._edges(tenant, list({end for end, _, _ in partial})):
                edges.setdefault(rel.subject, []).append(rel)
                edges.setdefault(rel.object, []).append(rel)
            grown: list[tuple[str, list[Relation], frozenset[str]]] = []
            for end, path, seen in partial:
                for rel in edges.get(end, []):
                    nxt = rel.object if rel.subject == end else rel.subject
                    if nxt in seen:
                        continue
                    if nxt in targets:
                        found.append([*path, rel])
                    else:
                        grown.append((nxt, [*path, rel], seen | {nxt}))
            partial = grown[:10_000]  # a dense graph: enough partial paths to find short ones
        return found[:limit]

    def chunks_for(self, tenant: str, entity_ids: Sequence[str], hops: int = 1, *,
                   max_mentions: int | None = None) -> list[tuple[str, float]]:
        """Chunks behind the entities and their neighbours within ``hops``: where each entity
        was found and where each current fact came from, scored 1 / (1 + distance) (a fact
        scored by its nearer end), best first — graph expansion for retrieval.

        ``max_mentions``: an entity (asked or reached) found in more chunks than that is too
        general to point anywhere: its mentions are not read (counted only up to the limit),
        though the facts it takes part in still bring their chunks."""
        _check_hops(hops, MAX_HOPS, "hops")
        if max_mentions is not None and max_mentions < 0:
            raise ConfigError(f"max_mentions must be at least 0 (got {max_mentions})")
        distance, relations = self._walk(tenant, list(entity_ids), hops)
        scores: dict[str, float] = {}

        def add(chunk: str | None, d: int) -> None:
            if chunk:
                scores[chunk] = max(scores.get(chunk, 0.0), 1.0 / (1 + d))

        for rel in relations:
            add(rel.chunk_id, min(distance.get(rel.subject, hops), distance.get(rel.object, hops)))
        read = list(distance)
        if max_mentions is not None:
            counts = self.mention_counts(tenant, read, cap=max_mentions + 1)
            read = [i for i in read if counts[i] <= max_mentions]
        for entity, chunks in self.mentions(tenant, read).items():
            for chunk in chunks:
                add(chunk, distance[entity])
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
