"""``agentplane kb``: the knowledge base of a tenant — add, list, search, remove documents.

Documents live in the journal's database (``--db``), per tenant (``--tenant``). ``add`` takes
files, folders (every readable file in them) and URLs; each document is written whole or not at
all, and re-adding an unchanged one changes nothing. Everything is imported inside the commands:
``agentplane --help`` pays for none of it (no jieba, no PDF reader).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import typer

from . import render, settings
from ._typer import group
from .db import DbOption, JsonOption
from .graph import graph_app

if TYPE_CHECKING:
    from agentplane.knowledge.store import Document, IngestResult, KnowledgeBase
    from agentplane.knowledge.types import Chunk, TrustLevel

T = TypeVar("T")

kb_app = group()  # its help is where the program adds it (app.py)
kb_app.add_typer(graph_app, name="graph")
out = render.lazy_console()

TenantOption = Annotated[str, typer.Option("--tenant", help="Whose knowledge base.")]
TrustOption = Annotated[str | None, typer.Option(
    "--trust", help="trusted or untrusted.", show_default=False)]


def _with_kb(db: str | None, body: Callable[[KnowledgeBase], T], *, create: bool = False) -> T:
    from agentplane.knowledge.store import KnowledgeBase
    from agentplane.storage import open_database

    handle = open_database(settings.database_url(db), create=create)
    try:
        return body(KnowledgeBase(handle))
    finally:
        handle.close()


def _trust(value: str | None) -> TrustLevel | None:
    from agentplane.errors import ConfigError

    if value not in (None, "trusted", "untrusted"):
        raise ConfigError(f"--trust must be trusted or untrusted, not {value!r}")
    return cast("TrustLevel | None", value)


def _inputs(items: list[str]) -> list[str]:
    """Files, URLs, and every readable file under a folder (sorted)."""
    from agentplane.knowledge.loaders import SUFFIXES

    found: list[str] = []
    for item in items:
        path = Path(item)
        if "://" not in item and path.is_dir():
            found += sorted(str(p) for p in path.rglob("*")
                            if p.is_file() and p.suffix.lower() in SUFFIXES)
        else:
            found.append(item)
    return found


def _document_json(d: Document) -> dict[str, Any]:
    return asdict(d)


def _result_json(r: IngestResult) -> dict[str, Any]:
    return {**asdict(r), "document": asdict(r.document)}


def kb_add(
    inputs: Annotated[list[str], typer.Argument(help="Files, folders or http(s) URLs.",
                                                show_default=False)],
    tenant: TenantOption = "default",
    trust: Annotated[str, typer.Option("--trust", help="trusted or untrusted (text from "
                                       "outside that may carry instructions).")] = "trusted",
    owner: Annotated[str | None, typer.Option(help="Who answers for the content.",
                                              show_default=False)] = None,
    valid_from: Annotated[str | None, typer.Option(help="ISO date or time it holds from.",
                                                   show_default=False)] = None,
    valid_until: Annotated[str | None, typer.Option(help="ISO date or time it holds until.",
                                                    show_default=False)] = None,
    source: Annotated[str | None, typer.Option(help="The source name to record (one input "
                                               "only; default: the path or URL).",
                                               show_default=False)] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add documents: text, Markdown, HTML, PDF, CSV and JSON records. A changed document
    supersedes the version added before; an unchanged one is left as it is."""
    from agentplane.errors import ConfigError
    from agentplane.knowledge.loaders import IngestError

    names = _inputs(inputs)
    if source is not None and len(names) != 1:
        raise ConfigError(f"--source names one document, but {len(names)} were given")
    if not names:
        raise ConfigError("no readable files in the folders given")
    options: dict[str, Any] = {"trust": _trust(trust), "owner": owner,
                               "valid_from": valid_from, "valid_until": valid_until}
    if source is not None:
        options["source"] = source

    def body(kb: KnowledgeBase) -> tuple[list[IngestResult], list[str]]:
        results: list[IngestResult] = []
        errors: list[str] = []
        for name in names:
            try:
                add = kb.add_url if "://" in name else kb.add_file
                result = add(tenant, name, **options)
            except IngestError as exc:
                errors.append(str(exc))
                continue
            results.append(result)
            if not as_json:
                _print_result(result)
        return results, errors

    results, errors = _with_kb(db, body, create=True)
    if as_json:
        print(render.dump_json([_result_json(r) for r in results]))
    if errors:
        done = f"\n({len(results)} other documents added or unchanged)" if results else ""
        raise IngestError("\n".join(errors) + done)


def _print_result(r: IngestResult) -> None:
    d = r.document
    if r.unchanged:
        out.print(f"{render.escape(d.source)}: unchanged ({d.id})")
        return
    replaced = (f", superseded {r.superseded} ({r.removed} chunks out of search)"
                if r.superseded else "")
    out.print(f"{render.escape(d.source)}: {d.id}, {r.added} chunks{replaced}")


def kb_list(
    tenant: TenantOption = "default",
    source: Annotated[str | None, typer.Option(help="Only this source.",
                                               show_default=False)] = None,
    all_versions: Annotated[bool, typer.Option("--all", help="Superseded versions too.")]
    = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List a tenant's documents (current versions unless --all)."""
    docs = _with_kb(db, lambda kb: kb.documents(tenant, source=source,
                                                include_superseded=all_versions))
    if as_json:
        print(render.dump_json([_document_json(d) for d in docs]))
        return
    if not docs:
        out.print(f"no documents in tenant {render.escape(tenant)}")
        return
    from ._tables import Column, fitted

    columns = [Column("ID"), Column("SOURCE", wrap=True), Column("CHUNKS"), Column("TRUST"),
               Column("OWNER", drop=3), Column("INGESTED", drop=2),
               Column("SUPERSEDED BY", drop=1)]
    rows = [[d.id, d.source, str(d.chunks), d.trust, d.owner or "", d.ingested_at[:19],
             d.superseded_by or ""] for d in docs]
    out.print(fitted(columns, rows, out.width))


def _search(kb: KnowledgeBase, tenant: str, query: str, k: int,
            filters: dict[str, Any]) -> list[tuple[Chunk, float, tuple[str, ...]]]:
    """The Retriever (lexical, plus the graph when the tenant has an ontology) where it is
    installed; the knowledge base's own lexical search otherwise."""
    try:
        from agentplane.knowledge.retrieve import Retriever
    except ImportError:
        return [(c, s, ("lexical",)) for c, s in kb.lexical(tenant, query, limit=k, **filters)]
    graph = None
    modes: tuple[str, ...] = ("lexical",)
    try:
        from agentplane.knowledge.graph import KnowledgeGraph
    except ImportError:
        KnowledgeGraph = None  # type: ignore[assignment,misc]  # noqa: N806
    if KnowledgeGraph is not None:
        ontology = KnowledgeGraph.stored_ontology(kb.db, tenant)
        if ontology is not None:
            graph = KnowledgeGraph(kb.db, ontology)
            modes = ("lexical", "graph")
    passages = Retriever(kb, graph).search(tenant, query, k=k, modes=modes, **filters)
    return [(p.chunk, p.score, p.via) for p in passages]


def kb_search(
    query: Annotated[str, typer.Argument(help="What to look for (Chinese or English).",
                                         show_default=False)],
    k: Annotated[int, typer.Option("--k", min=1, help="How many passages.")] = 5,
    tenant: TenantOption = "default",
    trust: TrustOption = None,
    source: Annotated[list[str] | None, typer.Option(
        "--source", help="Only these sources (repeatable).", show_default=False)] = None,
    valid_at: Annotated[str | None, typer.Option(help="Only what is valid at this ISO time.",
                                                 show_default=False)] = None,
    since: Annotated[str | None, typer.Option(help="Only what was added after this ISO "
                                              "time.", show_default=False)] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Search a tenant's knowledge base: the best passages, each with its chunk id (what
    context packets cite), source and trust."""
    filters: dict[str, Any] = {"trust": _trust(trust), "sources": source or None,
                               "valid_at": valid_at, "since": since}
    found = _with_kb(db, lambda kb: _search(kb, tenant, query, k, filters))
    if as_json:
        print(render.dump_json([{"score": score, "via": list(via),
                                 "chunk": {**asdict(chunk), "meta": dict(chunk.meta)}}
                                for chunk, score, via in found]))
        return
    if not found:
        out.print(f"nothing found for {render.escape(query)!r} in tenant {render.escape(tenant)}")
        return
    for chunk, score, via in found:
        where = chunk.source + (f" › {chunk.title}" if chunk.title else "")
        out.print(f"[bold]{chunk.id}[/] {score:.3f} {'+'.join(via)} {chunk.trust} "
                  f"{render.escape(where)}")
        out.print(render.escape(" ".join(chunk.text.split())[:300]))
        out.print()


def kb_remove(
    document: Annotated[str, typer.Argument(help="A document id (doc:...) or a source: "
                                            "every version of it.", show_default=False)],
    tenant: TenantOption = "default",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete a document, or every version of a source, with its chunks."""
    from agentplane.errors import NotFoundError

    removed = _with_kb(db, lambda kb: kb.remove(tenant, document))
    if not removed:
        raise NotFoundError(f"no document or source {document!r} in tenant {tenant!r}; "
                            "`agentplane kb list` shows them")
    if as_json:
        print(render.dump_json({"removed": document, "chunks": removed}))
    else:
        out.print(f"removed {render.escape(document)} ({removed} chunks)")


def kb_embed(
    base_url: Annotated[str, typer.Option(
        "--base-url", help="An OpenAI-compatible endpoint (e.g. https://api.example.com/v1).",
        show_default=False)],
    model: Annotated[str, typer.Option("--model", help="The embedding model.",
                                       show_default=False)],
    api_key_env: Annotated[str | None, typer.Option(
        "--api-key-env", help="The environment variable holding the key (never the key "
        "itself).", show_default=False)] = None,
    tenant: TenantOption = "default",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Embed the tenant's current chunks that have no vector yet (run after `kb add`; the
    workflow's `knowledge.embeddings` must name the same endpoint and model)."""
    from agentplane.knowledge.embeddings import Embeddings
    from agentplane.knowledge.retrieve import Retriever

    embeddings = Embeddings(base_url, model, api_key_env=api_key_env)
    done = _with_kb(db, lambda kb: Retriever(kb, embeddings=embeddings).index_vectors(tenant))
    if as_json:
        print(render.dump_json({"tenant": tenant, "model": model, "embedded": done}))
    else:
        out.print(f"embedded {done} chunks of tenant {render.escape(tenant)} with "
                  f"{render.escape(model)}")


kb_app.command("add")(kb_add)
kb_app.command("list")(kb_list)
kb_app.command("search")(kb_search)
kb_app.command("remove")(kb_remove)
kb_app.command("embed")(kb_embed)
