"""The rows of the knowledge graph as Python values: entities, relations, reports, ids."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agentplane.storage import Row

from .ontology import Rejected
from .types import TrustLevel

ENTITY_COLUMNS = "tenant, id, type, name, aliases, properties, chunk_ids"
RELATION_COLUMNS = ("tenant, id, subject, relation, object, properties, chunk_id, trust, "
                    "created_at, superseded_by")


@dataclass(frozen=True, slots=True)
class Entity:
    """A thing the graph knows, of a declared type; its id is stable from (tenant, type,
    normalised name)."""

    id: str
    tenant: str
    type: str
    name: str
    aliases: tuple[str, ...] = ()
    properties: Mapping[str, Any] = field(default_factory=dict)
    chunk_ids: tuple[str, ...] = ()
    """The chunks the entity was found in (empty for entities from records without one), all
    of them, read from ``kg_mentions``. In a :class:`Report` of a load or an extraction, only
    the chunk of the statement that added or merged it (reading every chunk back at each
    mention would make a large load quadratic)."""


@dataclass(frozen=True, slots=True)
class Relation:
    """A fact: ``subject`` —``relation``→ ``object`` (entity ids)."""

    id: str
    tenant: str
    subject: str
    relation: str
    object: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    chunk_id: str | None = None
    """The chunk the fact came from."""
    trust: TrustLevel = "trusted"
    """The trust of that chunk (``untrusted``: it may carry someone else's instructions)."""
    created_at: str = ""
    superseded_by: str | None = None
    """The relation that replaced this one (cardinality ``one``), or None while current."""


@dataclass(frozen=True, slots=True)
class Report:
    """What a load or an extraction stored, and what it rejected and why."""

    entities: tuple[Entity, ...] = ()
    relations: tuple[Relation, ...] = ()
    rejected: tuple[Rejected, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"entities": len(self.entities), "relations": len(self.relations),
                "rejected": [{"candidate": dict(r.candidate), "reason": r.reason}
                             for r in self.rejected]}


def normalise(name: str) -> str:
    """The form names are compared in: NFKC (full-width → half-width), case-folded, spaces
    collapsed."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def spaced(text: str) -> str:
    """NFKC with spaces collapsed, case kept: :func:`normalise` before case folding."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def is_acronym(spelling: str) -> bool:
    """A name of two to four capitals (``IT``, ``AI``, ``TMT``): many are also short words
    (it, us, or), so it is found in a text only where the text writes it in capitals."""
    return len(spelling) in (2, 3, 4) and spelling.isascii() and spelling.isalpha() \
        and spelling.isupper()


def _digest(prefix: str, *parts: str) -> str:
    return prefix + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:20]


ENTITY_PREFIX = "ent:"


def entity_id(tenant: str, type: str, name: str) -> str:
    return _digest(ENTITY_PREFIX, tenant, type, normalise(name))


def relation_id(tenant: str, subject: str, relation: str, object: str) -> str:
    return _digest("rel:", tenant, subject, relation, object)


def json_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def entity_from_row(row: Row) -> Entity:
    tenant, id, type, name, aliases, properties, chunk_ids = row
    return Entity(str(id), str(tenant), str(type), str(name), tuple(json.loads(aliases)),
                  json.loads(properties), tuple(json.loads(chunk_ids)))


def relation_from_row(row: Row) -> Relation:
    tenant, id, subject, relation, object, properties, chunk_id, trust, created, by = row
    return Relation(str(id), str(tenant), str(subject), str(relation), str(object),
                    json.loads(properties), chunk_id, "untrusted" if trust == "untrusted"
                    else "trusted", str(created), by)


def merge_reports(reports: Iterable[Report]) -> Report:
    items = list(reports)
    return Report(tuple(e for r in items for e in r.entities),
                  tuple(x for r in items for x in r.relations),
                  tuple(x for r in items for x in r.rejected))
