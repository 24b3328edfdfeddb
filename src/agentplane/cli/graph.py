"""``agentplane kb graph``: the knowledge graph — ontology checks, entities, facts, paths.

``load`` and ``extract`` save the ontology they used for the tenant, so the queries (``entity``,
``facts``, ``path``) need no ``--ontology`` afterwards. Imports stay inside the commands: the
CLI's start-up is measured.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agentplane.errors import ConfigError, NotFoundError

from . import render, settings
from ._typer import group

if TYPE_CHECKING:
    from agentplane.knowledge.graph import Entity, KnowledgeGraph, Relation, Report
    from agentplane.knowledge.ontology import Ontology
    from agentplane.knowledge.types import Chunk
    from agentplane.storage import Database

graph_app = group("The knowledge graph: check an ontology, load records, query entities.")

DbOption = Annotated[str | None, typer.Option("--db", help="Database URL (default: "
                                              "$AGENTPLANE_DB or a SQLite file in "
                                              "$AGENTPLANE_HOME).", show_default=False)]
TenantOption = Annotated[str, typer.Option("--tenant", help="The tenant whose graph it is.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
OntologyOption = Annotated[Path | None, typer.Option(
    "--ontology", help="The ontology (YAML); default: the one last used for the tenant.",
    show_default=False)]


def _open(db: str | None, *, create: bool) -> Database:
    from agentplane.storage import open_database

    return open_database(settings.database_url(db), create=create)


def _graph(database: Database, tenant: str, ontology: Path | None) -> KnowledgeGraph:
    from agentplane.knowledge.graph import KnowledgeGraph
    from agentplane.knowledge.ontology import load_ontology

    if ontology is not None:
        return KnowledgeGraph(database, load_ontology(ontology))
    stored = KnowledgeGraph.stored_ontology(database, tenant)
    if stored is None:
        raise ConfigError(f"no ontology is saved for tenant {tenant!r} in {database.url}: give "
                          "--ontology FILE (load and extract save the one they use)")
    return KnowledgeGraph(database, stored)


def _taxonomy(onto: Ontology) -> dict[str, Any]:
    return {
        "name": onto.name,
        "entity_types": [{"name": name, "depth": depth,
                          "parent": onto.entity_types[name].parent,
                          "aliases": onto.entity_types[name].aliases,
                          "properties": {k: p.model_dump() for k, p in
                                         onto.properties_of(name).items()}}
                         for depth, name in onto.taxonomy()],
        "relation_types": [{"name": name, **spec.model_dump(exclude={"description"})}
                           for name, spec in onto.relation_types.items()],
    }


@graph_app.command("check")
def check(ontology: Annotated[Path, typer.Argument(help="The ontology file (YAML).")],
          as_json: JsonOption = False) -> None:
    """Validate an ontology and print its taxonomy and relation types."""
    from agentplane.knowledge.ontology import load_ontology

    onto = load_ontology(ontology)
    if as_json:
        print(render.dump_json(_taxonomy(onto)))
        return
    print(f"ontology {onto.name}: {len(onto.entity_types)} entity types, "
          f"{len(onto.relation_types)} relation types")
    for depth, name in onto.taxonomy():
        spec = onto.entity_types[name]
        props = ", ".join(f"{k}: {p.type}{'*' if p.required else ''}"
                          for k, p in spec.properties.items())
        aliases = f" (also {', '.join(spec.aliases)})" if spec.aliases else ""
        print(f"  {'  ' * depth}{name}{aliases}" + (f" — {props}" if props else ""))
    for name, rel in onto.relation_types.items():
        print(f"  {name}: {rel.domain} → {rel.range}"
              + (" (one per subject)" if rel.cardinality == "one" else ""))


def _compact(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _print_report(report: Report, as_json: bool, what: str) -> None:
    if as_json:
        print(render.dump_json(report.to_json()))
        return
    print(f"{what}: {len(report.entities)} entities, {len(report.relations)} relations stored; "
          f"{len(report.rejected)} rejected")
    for r in report.rejected:
        print(f"  rejected {_compact(dict(r.candidate))}: {r.reason}")


def _records(path: Path) -> list[dict[str, Any]]:
    import csv
    import json

    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    if path.suffix.lower() == ".csv":
        return [dict(row) for row in csv.DictReader(text.splitlines())]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}, column "
                          f"{exc.colno})") from exc
    if isinstance(data, dict) and isinstance(data.get("records"), list):
        data = data["records"]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ConfigError(f"{path}: expected a list of objects (or {{\"records\": [...]}})")
    return data


@graph_app.command("load")
def load(ontology: Annotated[Path, typer.Option("--ontology", help="The ontology (YAML).")],
         mapping: Annotated[Path, typer.Option("--mapping", help="How records become "
                                                                 "entities and relations "
                                                                 "(YAML or JSON).")],
         records: Annotated[Path | None, typer.Argument(
             help="Records: a .json list of objects or a .csv file with a header row.",
             show_default=False)] = None,
         source: Annotated[str | None, typer.Option(
             help="Instead of a file: the records the knowledge base keeps from this source "
                  "(one chunk each; facts keep the chunk and its trust).")] = None,
         tenant: TenantOption = "default", db: DbOption = None, as_json: JsonOption = False,
         strict: Annotated[bool, typer.Option(help="Exit 1 if any candidate was rejected.")
                           ] = False) -> None:
    """Load structured records into the graph; rejected candidates are listed with why."""
    from agentplane.knowledge.ontology import load_ontology
    from agentplane.knowledge.records import load_mapping

    if (records is None) == (source is None):
        raise ConfigError("give a records file or --source (records already in the "
                          "knowledge base), not both")
    onto = load_ontology(ontology)
    spec = load_mapping(mapping, onto)
    rows = _records(records) if records is not None else []
    database = _open(db, create=records is not None)
    try:
        graph = _graph(database, tenant, ontology)
        if source is not None:
            chunks = _source_chunks(database, tenant, source)
            report, count = graph.add_record_chunks(tenant, chunks, spec), len(chunks)
        else:
            report, count = graph.add_records(tenant, rows, spec), len(rows)
        graph.save_ontology(tenant, str(ontology))
    finally:
        database.close()
    _print_report(report, as_json, f"loaded {count} records")
    if strict and report.rejected:
        raise typer.Exit(1)


def _source_chunks(database: Database, tenant: str, source: str | None) -> list[Chunk]:
    """The current chunks of the tenant's documents (of one source, when given)."""
    from agentplane.knowledge.store import KnowledgeBase

    kb = KnowledgeBase(database)
    documents = kb.documents(tenant, source=source)
    if source is not None and not documents:
        raise NotFoundError(f"the knowledge base of tenant {tenant!r} has no document from "
                            f"{source!r}")
    return [c for d in documents for c in kb.document_chunks(tenant, d.id)]


@graph_app.command("extract")
def extract(ontology: Annotated[Path, typer.Option("--ontology", help="The ontology (YAML).")],
            rules: Annotated[Path, typer.Option("--rules", help="Extraction rules (YAML).")],
            source: Annotated[str | None, typer.Option(
                help="Only the documents from this source.")] = None,
            tenant: TenantOption = "default", db: DbOption = None,
            as_json: JsonOption = False) -> None:
    """Extract entities and relations from the tenant's knowledge base with rules."""
    from agentplane.knowledge.extract import load_rules
    from agentplane.knowledge.ontology import load_ontology

    onto = load_ontology(ontology)
    extractor = load_rules(rules, onto)
    database = _open(db, create=False)
    try:
        chunks = _source_chunks(database, tenant, source)
        graph = _graph(database, tenant, ontology)
        report = graph.extract(tenant, chunks, extractor)
        graph.save_ontology(tenant, str(ontology))
    finally:
        database.close()
    _print_report(report, as_json, f"read {len(chunks)} chunks")


def _names(graph: KnowledgeGraph, tenant: str, relations: list[Relation]) -> dict[str, Entity]:
    return graph.entities(tenant, [i for r in relations for i in (r.subject, r.object)])


def _fact_json(r: Relation, names: dict[str, Entity]) -> dict[str, Any]:
    from dataclasses import asdict

    out = asdict(r)
    out["subject_name"] = names[r.subject].name if r.subject in names else None
    out["object_name"] = names[r.object].name if r.object in names else None
    return out


def _fact_line(r: Relation, names: dict[str, Entity]) -> str:
    def label(i: str) -> str:
        return f"{names[i].name} ({names[i].type})" if i in names else i

    props = f" {_compact(dict(r.properties))}" if r.properties else ""
    where = ", ".join(x for x in (r.chunk_id, r.trust) if x)
    old = f", superseded by {r.superseded_by}" if r.superseded_by else ""
    return f"{label(r.subject)} —{r.relation}→ {label(r.object)}{props} [{where}{old}]"


def _found(graph: KnowledgeGraph, tenant: str, name: str) -> list[Entity]:
    found = graph.lookup(tenant, name)
    if not found:
        raise NotFoundError(f"no entity named {name!r} in the graph of tenant {tenant!r}")
    return found


@graph_app.command("entity")
def entity(name: Annotated[str, typer.Argument(help="A name, alias or entity id.")],
           ontology: OntologyOption = None, tenant: TenantOption = "default",
           db: DbOption = None, as_json: JsonOption = False) -> None:
    """Show the entities a name (or alias, or id) denotes, with their properties."""
    from dataclasses import asdict

    database = _open(db, create=False)
    try:
        graph = _graph(database, tenant, ontology)
        found = _found(graph, tenant, name)
        counts = {e.id: len(graph.facts(tenant, e)) for e in found}
    finally:
        database.close()
    if as_json:
        print(render.dump_json([{**asdict(e), "facts": counts[e.id]} for e in found]))
        return
    for e in found:
        print(f"{e.name} ({e.type}) {e.id}")
        if e.aliases:
            print(f"  aliases: {', '.join(e.aliases)}")
        for key, value in e.properties.items():
            print(f"  {key}: {value}")
        if e.chunk_ids:
            print(f"  found in: {', '.join(e.chunk_ids)}")
        print(f"  facts: {counts[e.id]}")


@graph_app.command("facts")
def facts(name: Annotated[str, typer.Argument(help="A name, alias or entity id.")],
          ontology: OntologyOption = None, tenant: TenantOption = "default",
          db: DbOption = None, as_json: JsonOption = False,
          all_: Annotated[bool, typer.Option("--all", help="Include superseded facts.")
                          ] = False) -> None:
    """The facts an entity takes part in, each with the chunk it came from and its trust."""
    database = _open(db, create=False)
    try:
        graph = _graph(database, tenant, ontology)
        found = _found(graph, tenant, name)
        relations = graph.facts(tenant, name if len(found) > 1 else found[0],
                                include_superseded=all_)
        names = _names(graph, tenant, relations)
    finally:
        database.close()
    if as_json:
        print(render.dump_json([_fact_json(r, names) for r in relations]))
        return
    if not relations:
        print(f"no facts about {name}")
    for r in relations:
        print(_fact_line(r, names))


@graph_app.command("path")
def path(a: Annotated[str, typer.Argument(help="From: a name, alias or id.")],
         b: Annotated[str, typer.Argument(help="To: a name, alias or id.")],
         max_hops: Annotated[int, typer.Option("--max-hops", help="Longest path (1–6).")] = 3,
         ontology: OntologyOption = None, tenant: TenantOption = "default",
         db: DbOption = None, as_json: JsonOption = False) -> None:
    """Paths between two entities along current facts, shortest first."""
    database = _open(db, create=False)
    try:
        graph = _graph(database, tenant, ontology)
        _found(graph, tenant, a), _found(graph, tenant, b)
        paths = graph.paths(tenant, a, b, max_hops)
        names = _names(graph, tenant, [r for p in paths for r in p])
    finally:
        database.close()
    if as_json:
        print(render.dump_json([[_fact_json(r, names) for r in p] for p in paths]))
        return
    if not paths:
        print(f"no path from {a} to {b} within {max_hops} hops")
    for n, p in enumerate(paths, 1):
        print(f"{n}. " + "\n   ".join(_fact_line(r, names) for r in p))
