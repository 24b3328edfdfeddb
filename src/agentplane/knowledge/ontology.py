"""The ontology of a knowledge graph: entity types in a taxonomy, relation types with a domain
and a range, and the properties each may carry.

Declared in YAML (``docs/knowledge-graph.md``, ``examples/ontologies/``)::

    name: procurement
    entity_types:
      Organisation: {properties: {country: string}}
      Supplier: {parent: Organisation, aliases: [供应商, vendor],
                 properties: {tax_id: {type: string, required: true}}}
    relation_types:
      supplies: {domain: Supplier, range: Organisation, cardinality: many}

A subtype inherits its parent's properties and satisfies its parent wherever the parent is
allowed (a ``Supplier`` may be the domain of a relation declared from ``Organisation``). Every
candidate entity or relation is checked here before it is stored: what does not fit is a
:class:`Rejected` with the reason, in words a person can act on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from pydantic import ConfigDict, Field

from agentplane._yaml import FileError, FileProblem

from ._files import parse_file, read_file

PropertyType = Literal["string", "number", "date", "boolean"]
Cardinality = Literal["one", "many"]
Name = Annotated[str, Field(min_length=1, pattern=r"^[^\s]+$")]


class OntologyError(FileError):
    """An ontology file is invalid; ``problems`` lists each problem with its line."""

    what = "ontology"


@dataclass(frozen=True, slots=True)
class Rejected:
    """A candidate entity or relation that does not fit the ontology (or the graph), and why.
    Nothing rejected is stored."""

    candidate: Mapping[str, Any]
    reason: str


class _Spec(pydantic.BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PropertySpec(_Spec):
    """One property: ``tax_id: string`` is short for ``tax_id: {type: string}``."""

    type: PropertyType = "string"
    required: bool = False
    description: str = ""

    @pydantic.model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"type": data} if isinstance(data, str) else data


class EntityTypeSpec(_Spec):
    parent: str | None = None
    """The type this one is a kind of (``Supplier`` is-a ``Organisation``)."""
    description: str = ""
    aliases: list[Annotated[str, Field(min_length=1)]] = []
    """Other names of the type (another language, a model's wording): resolved to this one."""
    properties: dict[Name, PropertySpec] = {}


class RelationTypeSpec(_Spec):
    domain: str
    """The type of the subject (or a subtype of it)."""
    range: str
    """The type of the object (or a subtype of it)."""
    cardinality: Cardinality = "many"
    """``one``: a subject has one current object; a newer, trusted one supersedes the old."""
    description: str = ""
    aliases: list[Annotated[str, Field(min_length=1)]] = []
    properties: dict[Name, PropertySpec] = {}


class Ontology(_Spec):
    """A validated ontology. Build it with :func:`load_ontology` or :func:`parse_ontology`
    (which check references and the taxonomy); ``model_validate`` alone checks the shape."""

    name: str = "ontology"
    description: str = ""
    entity_types: Annotated[dict[Name, EntityTypeSpec], Field(min_length=1)]
    relation_types: dict[Name, RelationTypeSpec] = {}

    # -- the taxonomy -------------------------------------------------------------------------

    def ancestors(self, type: str) -> list[str]:
        """``type`` and the types above it, nearest first."""
        out: list[str] = []
        current: str | None = type
        while current is not None and current in self.entity_types and current not in out:
            out.append(current)
            current = self.entity_types[current].parent
        return out

    def is_a(self, type: str, parent: str) -> bool:
        """Whether ``type`` is ``parent`` or one of its subtypes."""
        return parent in self.ancestors(type)

    def subtypes(self, type: str) -> list[str]:
        """``type`` and every type below it."""
        return [t for t in self.entity_types if self.is_a(t, type)]

    def taxonomy(self) -> list[tuple[int, str]]:
        """Every entity type as (depth, name), parents before their children."""
        out: list[tuple[int, str]] = []

        def visit(name: str, depth: int) -> None:
            out.append((depth, name))
            for child, spec in self.entity_types.items():
                if spec.parent == name:
                    visit(child, depth + 1)

        for name, spec in self.entity_types.items():
            if spec.parent is None:
                visit(name, 0)
        return out

    def type_name(self, name: str) -> str | None:
        """The declared entity type ``name`` means (itself or an alias, any case)."""
        return _resolve(name, {t: s.aliases for t, s in self.entity_types.items()})

    def relation_name(self, name: str) -> str | None:
        """The declared relation type ``name`` means (itself or an alias, any case)."""
        return _resolve(name, {r: s.aliases for r, s in self.relation_types.items()})

    def properties_of(self, type: str) -> dict[str, PropertySpec]:
        """The properties of an entity type, its parents' included (a child's own win)."""
        out: dict[str, PropertySpec] = {}
        for t in reversed(self.ancestors(type)):
            out.update(self.entity_types[t].properties)
        return out

    # -- checking candidates ------------------------------------------------------------------

    def check_entity(self, type: str, name: str, properties: Mapping[str, Any]
                     ) -> tuple[str, dict[str, Any]] | str:
        """The declared type and the properties with their values normalised, or the reason
        the candidate does not fit."""
        resolved = self.type_name(type)
        if resolved is None:
            return (f"unknown entity type {type!r}; the ontology declares "
                    f"{', '.join(self.entity_types)}")
        if not name.strip():
            return f"a {resolved} needs a name (got an empty one)"
        values = _check_properties(f"{resolved} {name!r}", self.properties_of(resolved),
                                   properties)
        return (resolved, values) if isinstance(values, dict) else values

    def check_relation(self, relation: str, subject_type: str, object_type: str,
                       properties: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | str:
        """The declared relation name and normalised properties, or the reason the relation is
        not allowed between entities of these types."""
        resolved = self.relation_name(relation)
        if resolved is None:
            declared = ", ".join(self.relation_types) or "none"
            return f"unknown relation {relation!r}; the ontology declares {declared}"
        spec = self.relation_types[resolved]
        if not self.is_a(subject_type, spec.domain) or not self.is_a(object_type, spec.range):
            return (f"relation {resolved!r} goes from {spec.domain} to {spec.range} (or their "
                    f"subtypes); got {subject_type} → {object_type}")
        values = _check_properties(f"relation {resolved!r}", spec.properties, properties)
        return (resolved, values) if isinstance(values, dict) else values


def _resolve(name: str, aliases: Mapping[str, list[str]]) -> str | None:
    if name in aliases:
        return name
    folded = name.strip().casefold()
    for declared, others in aliases.items():
        if folded == declared.casefold() or any(folded == a.casefold() for a in others):
            return declared
    return None


def _number(value: Any) -> int | float:
    if isinstance(value, str):
        try:
            value = float(value.replace(",", "").strip())
        except ValueError:
            raise ValueError("a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError("a number")
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _date(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        try:
            return (date.fromisoformat(text) if len(text) == 10
                    else datetime.fromisoformat(text)).isoformat()
        except ValueError:
            pass
    raise ValueError("an ISO-8601 date (YYYY-MM-DD)")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError("true or false")


def _string(value: Any) -> str:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError("text")


_COERCE = {"string": _string, "number": _number, "date": _date, "boolean": _boolean}


def coerce(kind: PropertyType, value: Any) -> Any:
    """``value`` as a property of this type, or ``ValueError`` saying what was expected.

    Text from records and extraction is accepted where it says the value plainly: ``"12.5"``
    is a number, ``"2026-03-01"`` a date, ``"true"``/``"false"`` a boolean."""
    return _COERCE[kind](value)


def _check_properties(what: str, specs: Mapping[str, PropertySpec],
                      given: Mapping[str, Any]) -> dict[str, Any] | str:
    out: dict[str, Any] = {}
    for key, value in given.items():
        spec = specs.get(key)
        if spec is None:
            declared = ", ".join(specs) or "none"
            return f"{what} has no property {key!r} (declared: {declared})"
        if value is None or value == "":
            continue
        try:
            out[key] = coerce(spec.type, value)
        except ValueError as exc:
            return f"property {key!r} of {what} must be {exc}; got {value!r}"
    missing = [k for k, s in specs.items() if s.required and k not in out]
    if missing:
        return f"{what} needs the required propert{'y' if len(missing) == 1 else 'ies'} " + \
            ", ".join(repr(k) for k in missing)
    return out


# -- loading ------------------------------------------------------------------------------------


def _cross_check(onto: Ontology) -> list[FileProblem]:
    problems: list[FileProblem] = []
    types = onto.entity_types
    for name, spec in types.items():
        if spec.parent is not None and spec.parent not in types:
            problems.append(FileProblem(("entity_types", name, "parent"),
                                        f"unknown parent type {spec.parent!r}; declared: "
                                        f"{', '.join(types)}"))
    for name in types:  # a parent chain that comes back to where it started
        seen: list[str] = []
        current: str | None = name
        while current is not None and current in types and current not in seen:
            seen.append(current)
            current = types[current].parent
        if current == name:
            problems.append(FileProblem(("entity_types", name, "parent"),
                                        "the taxonomy has a cycle: " + " → ".join(
                                            [*seen, name])))
    for name, rel in onto.relation_types.items():
        for end in ("domain", "range"):
            if getattr(rel, end) not in types:
                problems.append(FileProblem(("relation_types", name, end),
                                            f"unknown entity type {getattr(rel, end)!r}; "
                                            f"declared: {', '.join(types)}"))
    problems += _alias_clashes("entity_types", {t: s.aliases for t, s in types.items()})
    problems += _alias_clashes("relation_types",
                               {r: s.aliases for r, s in onto.relation_types.items()})
    return problems


def _alias_clashes(section: str, aliases: Mapping[str, list[str]]) -> list[FileProblem]:
    owner: dict[str, str] = {name.casefold(): name for name in aliases}
    problems = []
    for name, others in aliases.items():
        for i, alias in enumerate(others):
            first = owner.setdefault(alias.casefold(), name)
            if first != name:
                problems.append(FileProblem((section, name, "aliases", i),
                                            f"alias {alias!r} already names {first!r}"))
    return problems


def parse_ontology(text: str, source: str = "<ontology>") -> Ontology:
    """Parse and check ontology YAML; :class:`OntologyError` lists every problem with its
    line and column."""
    return parse_file(text, source, Ontology, OntologyError,
                      shape="entity_types (and relation_types)", check=_cross_check,
                      skip=frozenset({"function-before[_shorthand()]"}))


def load_ontology(path: Path | str) -> Ontology:
    """Load an ontology YAML file (errors name the file, line and field)."""
    return parse_ontology(*read_file(path, OntologyError))
