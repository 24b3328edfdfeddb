"""Structured records (CSV rows, JSON objects) → candidate entities and relations.

A mapping says how a record becomes graph facts (YAML or JSON, ``docs/knowledge-graph.md``)::

    type: Supplier            # the entity type of every record (or type_field: kind)
    name: name                # the field holding the entity's name
    aliases: [short_name]     # fields holding other names
    properties: {tax_id: tax_id, country: country}    # property ← field
    chunk: chunk_id           # a field holding the chunk the record came from (optional)
    relations:
      - {field: customers, relation: supplies, object_type: Customer, split: ";"}

Each relation's object is the entity named in the field (made, with ``object_type``, when the
graph does not know it yet).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pydantic
from pydantic import ConfigDict

from agentplane._yaml import FileError, FileProblem

from ._files import parse_file, read_file
from .extract import Candidates, EntityCandidate, RelationCandidate
from .ontology import Ontology, Rejected


class MappingError(FileError):
    """A record mapping is invalid; ``problems`` lists each with its line."""

    what = "record mapping"


class _Spec(pydantic.BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RelationField(_Spec):
    field: str
    """The record field holding the object's name (or a list of names)."""
    relation: str
    object_type: str | None = None
    """The object's type: picks among entities of one name, and makes a missing one."""
    split: str | None = None
    """Split a text field into several names at this separator (``";"``)."""
    reverse: bool = False
    """The record's entity is the object, the field's entity the subject."""


class RecordMapping(_Spec):
    type: str | None = None
    type_field: str | None = None
    name: str = "name"
    aliases: list[str] = []
    properties: dict[str, str] = {}
    """Ontology property → record field."""
    chunk: str | None = None
    relations: list[RelationField] = []

    @pydantic.model_validator(mode="after")
    def _one_type(self) -> RecordMapping:
        if (self.type is None) == (self.type_field is None):
            raise ValueError("give either type (every record's entity type) or type_field "
                             "(the field that holds it)")
        return self


def check_mapping(mapping: RecordMapping, ontology: Ontology) -> list[FileProblem]:
    """Types and relations the mapping names that the ontology does not declare."""
    problems = []
    if mapping.type is not None and ontology.type_name(mapping.type) is None:
        problems.append(FileProblem(("type",), f"unknown entity type {mapping.type!r}; the "
                                               f"ontology declares "
                                               f"{', '.join(ontology.entity_types)}"))
    for i, rel in enumerate(mapping.relations):
        if ontology.relation_name(rel.relation) is None:
            problems.append(FileProblem(("relations", i, "relation"),
                                        f"unknown relation {rel.relation!r}"))
        if rel.object_type is not None and ontology.type_name(rel.object_type) is None:
            problems.append(FileProblem(("relations", i, "object_type"),
                                        f"unknown entity type {rel.object_type!r}"))
    return problems


def parse_mapping(text: str, source: str = "<mapping>", ontology: Ontology | None = None
                  ) -> RecordMapping:
    """Parse a mapping (YAML, of which JSON is a part); every problem with its line."""
    return parse_file(text, source, RecordMapping, MappingError, shape="type and name",
                      check=None if ontology is None else lambda m: check_mapping(m, ontology))


def load_mapping(path: Path | str, ontology: Ontology | None = None) -> RecordMapping:
    """Load a record mapping file (checked against ``ontology`` when given)."""
    text, source = read_file(path, MappingError)
    return parse_mapping(text, source, ontology)


def _names(value: Any, split: str | None) -> list[str]:
    values = value if isinstance(value, list) else [value]
    out: list[str] = []
    for v in values:
        if v is None:
            continue
        text = str(v)
        out += [p.strip() for p in (text.split(split) if split else [text]) if p.strip()]
    return out


def record_candidates(record: Mapping[str, Any], mapping: RecordMapping
                      ) -> tuple[Candidates, str | None]:
    """The candidates one record gives, and the chunk it names (if any)."""
    type = mapping.type if mapping.type is not None else str(
        record.get(mapping.type_field or "", "") or "")
    name = record.get(mapping.name)
    if name is None or not str(name).strip():
        return Candidates(rejected=(Rejected(dict(record), f"the record has no "
                                                           f"{mapping.name!r} (the name "
                                                           "field)"),)), None
    if not type:
        return Candidates(rejected=(Rejected(dict(record), f"the record has no "
                                                           f"{mapping.type_field!r} (the "
                                                           "type field)"),)), None
    name = str(name).strip()
    aliases = tuple(a for field in mapping.aliases for a in _names(record.get(field), None))
    properties = {prop: record[field] for prop, field in mapping.properties.items()
                  if field in record and record[field] not in (None, "")}
    entities = [EntityCandidate(type, name, properties, aliases)]
    relations = []
    for rel in mapping.relations:
        for other in _names(record.get(rel.field), rel.split):
            if rel.object_type is not None:
                entities.append(EntityCandidate(rel.object_type, other))
            if rel.reverse:
                relations.append(RelationCandidate(other, rel.relation, name,
                                                   subject_type=rel.object_type,
                                                   object_type=type))
            else:
                relations.append(RelationCandidate(name, rel.relation, other,
                                                   subject_type=type,
                                                   object_type=rel.object_type))
    chunk = record.get(mapping.chunk) if mapping.chunk else None
    return Candidates(tuple(entities), tuple(relations)), (str(chunk) if chunk else None)
