"""The knowledge base and knowledge graph over REST (``/api/v1/kb``), per the key's tenant.

Readers list documents, search and query the graph; operators add and remove documents. A key
of every tenant names the tenant with ``tenant`` (``default`` otherwise); a document of another
tenant is "not found", as a run is.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile

from agentplane.errors import ConfigError, NotFoundError
from agentplane.governance.keys import ApiKey
from agentplane.knowledge.types import Chunk, Passage, TrustLevel

from .actions import tenant_for
from .api import VISIBLE
from .auth import Operator, PlaneDep, Reader
from .errors import responses
from .plane import Plane

if TYPE_CHECKING:
    from agentplane.knowledge.store import Document

router = APIRouter(prefix="/api/v1/kb", tags=["knowledge"])

READS = responses(401, 404, 422, 503)
SEARCH = responses(400, 401, 404, 422, 503)
ACTS = responses(400, 401, 403, 404, 413, 422, 503)
Mode = Literal["lexical", "graph", "vector"]
TenantQuery = Annotated[str | None, Query(min_length=1, max_length=200,
                                          description="Only for keys of every tenant "
                                                      "(default: 'default').")]
MAX_K = 50
"""The most passages one search returns."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _text_only(value: Any) -> Any:
    if value is not None and not isinstance(value, str):
        raise ValueError("a date or time is written as ISO-8601 text (2026-01-31T09:00:00Z)")
    return value


Moment = Annotated[datetime | date, BeforeValidator(_text_only)]
"""A date or time, given as ISO-8601 text (not as a number of seconds)."""


class NewDocument(Strict):
    """A document to ingest: ``text`` (with a media type) or ``records`` (CSV/JSON rows)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"oneOf": [
        {"required": ["text"], "properties": {"text": {"type": "string"}}},
        {"required": ["records"], "properties": {"records": {"type": "array"}}}]})

    source: str = Field(min_length=1, max_length=2000, pattern=VISIBLE,
                        description="Where it came from (a file name, URL, label); re-adding "
                                    "the same source supersedes the old version.")
    text: str | None = Field(default=None, min_length=1, pattern=VISIBLE,
                             description="The document's content.")
    records: list[Annotated[dict[str, Any], Field(min_length=1)]] | None = Field(
        default=None, min_length=1,
        description="Structured rows, one chunk each (instead of text).")
    key: str | None = Field(default=None, max_length=200,
                            description="For records: the field that names each row.")
    media_type: str | None = Field(default=None, max_length=200,
                                   description="text/plain, text/markdown, text/html, …")
    trust: TrustLevel = "trusted"
    owner: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=2000)
    valid_from: Moment | None = Field(default=None, description="ISO-8601; a time without a "
                                                               "zone is UTC.")
    valid_until: Moment | None = Field(default=None, description="ISO-8601.")
    tenant: str | None = Field(default=None, min_length=1, max_length=200,
                               description="Only for keys of every tenant.")


UPLOAD_FIELDS = ("source", "trust", "owner", "title", "valid_from", "valid_until", "tenant")

ADD_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": NewDocument.model_json_schema()},
    "multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {
            "file": {"type": "string", "format": "binary",
                     "description": "txt, md, html, pdf, csv or json (by its name)"},
            "source": {"type": "string", "description": "Default: the file's name."},
            "trust": {"type": "string", "enum": ["trusted", "untrusted"]},
            "owner": {"type": "string", "maxLength": 200},
            "title": {"type": "string", "maxLength": 2000},
            "valid_from": {"type": "string", "format": "date-time"},
            "valid_until": {"type": "string", "format": "date-time"},
            "tenant": {"type": "string", "maxLength": 200,
                       "description": "Only for keys of every tenant."},
        }}},
}}}


def _iso(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


def scope(key: ApiKey, tenant: str | None) -> str:
    """The tenant a request acts on: the key's own; a key of every tenant may name one."""
    if tenant is not None and not key.sees(tenant):
        raise NotFoundError(f"no tenant {tenant!r} for this key")
    return tenant_for(key, tenant)


def document_json(document: Document) -> dict[str, Any]:
    return asdict(document)


def chunk_json(chunk: Chunk) -> dict[str, Any]:
    return {"id": chunk.id, "document_id": chunk.document_id, "source": chunk.source,
            "title": chunk.title, "position": chunk.position, "text": chunk.text,
            "trust": chunk.trust, "owner": chunk.owner, "ingested_at": chunk.ingested_at,
            "valid_from": chunk.valid_from, "valid_until": chunk.valid_until}


def passage_json(passage: Passage) -> dict[str, Any]:
    return {**chunk_json(passage.chunk), "score": passage.score, "via": list(passage.via)}


# -- documents --------------------------------------------------------------------------------

@router.get("/documents", responses=READS)
async def list_documents(
    key: Reader, plane: PlaneDep, tenant: TenantQuery = None,
    source: Annotated[str | None, Query(max_length=2000)] = None,
    superseded: Annotated[bool, Query(description="Include superseded versions.")] = False,
) -> list[dict[str, Any]]:
    """The tenant's documents: source, trust, owner, chunks, validity, newest first."""
    found = plane.knowledge.documents(scope(key, tenant), source=source,
                                      include_superseded=superseded)
    return [document_json(d) for d in found]


async def _new_document(request: Request) -> tuple[NewDocument, bytes | None]:
    """The body as a ``NewDocument`` (JSON) or an upload's fields and its file's bytes."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise RequestValidationError([{"loc": ("body", "file"), "type": "missing",
                                           "msg": "a multipart upload needs a 'file' part"}])
        fields: dict[str, Any] = {name: value for name in UPLOAD_FIELDS
                                  if isinstance(value := form.get(name), str) and value}
        fields.setdefault("source", upload.filename or "upload")
        declared = upload.content_type
        if declared in (None, "", "application/octet-stream"):
            declared = None
        fields["media_type"] = mimetypes.guess_type(upload.filename or "")[0] or declared
        raw: Any = fields
        data: bytes | None = await upload.read()
    else:
        try:
            raw = await request.json()
        except ValueError as exc:
            raise RequestValidationError([{"loc": ("body",), "type": "json_invalid",
                                           "msg": f"the body is not JSON ({exc})"}]) from exc
        data = None
    try:
        body = NewDocument.model_validate(raw)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])}
                                      for e in exc.errors()]) from exc
    if data is None and (body.text is None) == (body.records is None):
        raise RequestValidationError([{"loc": ("body",), "type": "value_error",
                                       "msg": "give either 'text' or 'records' (not both)"}])
    return body, data


@router.post("/documents", status_code=201, responses=ACTS, openapi_extra=ADD_BODY)
async def add_document(request: Request, key: Operator, plane: PlaneDep) -> dict[str, Any]:
    """Ingest a document (JSON ``text`` or ``records``, or a multipart ``file``). The same
    source with the same content changes nothing (``unchanged``); with new content the old
    version is superseded (``superseded`` names it)."""
    body, data = await _new_document(request)
    tenant = scope(key, body.tenant)
    same: dict[str, Any] = {"trust": body.trust, "owner": body.owner, "title": body.title,
                            "valid_from": _iso(body.valid_from),
                            "valid_until": _iso(body.valid_until)}
    kb = plane.knowledge
    if body.records is not None:
        result = kb.add_records(tenant, body.source, body.records, key=body.key, **same)
    else:
        content: str | bytes = data if data is not None else body.text or ""
        if not content:
            raise ConfigError(f"the document {body.source!r} is empty: nothing to ingest")
        result = kb.add(tenant, body.source, content, media_type=body.media_type, **same)
    return {"document": document_json(result.document), "added": result.added,
            "removed": result.removed, "unchanged": result.unchanged,
            "superseded": result.superseded}


@router.get("/documents/{document_id}", responses=READS)
async def get_document(document_id: str, key: Reader, plane: PlaneDep,
                       tenant: TenantQuery = None) -> dict[str, Any]:
    """A document and its chunks, in order."""
    document = _document(plane, scope(key, tenant), document_id)
    chunks = plane.knowledge.document_chunks(document.tenant, document.id)
    return {**document_json(document), "chunk_list": [chunk_json(c) for c in chunks]}


@router.delete("/documents/{document_id}", responses=ACTS)
async def remove_document(document_id: str, key: Operator, plane: PlaneDep,
                          tenant: TenantQuery = None) -> dict[str, Any]:
    """Remove a document (every version of its source) and its chunks from search."""
    document = _document(plane, scope(key, tenant), document_id)
    removed = plane.knowledge.remove(document.tenant, document.source)
    return {"document": document.id, "source": document.source, "chunks_removed": removed}


def _document(plane: Plane, tenant: str, document_id: str) -> Document:
    for document in plane.knowledge.documents(tenant, include_superseded=True):
        if document.id == document_id:
            return document
    raise NotFoundError(f"no document {document_id!r}")


# -- search -----------------------------------------------------------------------------------

@router.get("/search", responses=SEARCH)
async def search(
    key: Reader, plane: PlaneDep,
    q: Annotated[str, Query(min_length=1, max_length=2000, description="The question.")],
    k: Annotated[int, Query(ge=1, le=MAX_K, description="Passages to return.")] = 5,
    mode: Annotated[list[Mode] | None, Query(description="Retrievers to fuse (default: "
                                                         "lexical and graph).")] = None,
    trust: TrustLevel | None = None,
    source: Annotated[list[str] | None, Query()] = None,
    tenant: TenantQuery = None,
) -> dict[str, Any]:
    """Passages for a question, best first, with their fused score and the retrievers that
    found each (``via``)."""
    modes, passages = await retrieve(plane, scope(key, tenant), q, k=k, modes=mode,
                                     trust=trust, sources=source)
    return {"query": q, "modes": list(modes), "passages": [passage_json(p) for p in passages]}


async def retrieve(plane: Plane, tenant: str, query: str, *, k: int = 5,
                   modes: Sequence[str] | None = None, trust: TrustLevel | None = None,
                   sources: Sequence[str] | None = None
                   ) -> tuple[tuple[str, ...], list[Passage]]:
    """Search the tenant's knowledge as an agent would (the REST route and the console's
    search box); returns the retrievers used and the passages."""
    from agentplane.knowledge.retrieve import Retriever

    used = tuple(modes or ("lexical", "graph"))
    graph = plane.graph_for(tenant) if "graph" in used else None
    if graph is None:
        used = tuple(m for m in used if m != "graph")
    # Vectors need an embeddings endpoint, which only a workflow declares: skipped here, as a
    # run skips a mode its workflow cannot serve (the answer's ``modes`` says what was used).
    used = tuple(m for m in used if m != "vector")
    if not used:
        return used, []
    retriever = Retriever(plane.knowledge, graph)
    return used, await retriever.asearch(tenant, query, k=k, modes=used, trust=trust,
                                         sources=sources)


# -- the graph --------------------------------------------------------------------------------

def _entity_json(entity: Any) -> dict[str, Any]:
    return {"id": entity.id, "type": entity.type, "name": entity.name,
            "aliases": list(entity.aliases), "properties": dict(entity.properties),
            "chunk_ids": list(entity.chunk_ids)}


def _relation_json(relation: Any) -> dict[str, Any]:
    return {"id": relation.id, "subject": relation.subject, "relation": relation.relation,
            "object": relation.object, "properties": dict(relation.properties),
            "chunk_id": relation.chunk_id}


@router.get("/entities/{name}", responses=READS)
async def entity(name: str, key: Reader, plane: PlaneDep,
                 hops: Annotated[int, Query(ge=1, le=3)] = 1,
                 tenant: TenantQuery = None) -> dict[str, Any]:
    """An entity (by name, alias or id) and its neighbourhood within ``hops`` relations."""
    entities, relations = plane.graph.neighbourhood(scope(key, tenant), name, hops=hops)
    if not entities:
        raise NotFoundError(f"no entity {name!r} in the knowledge graph")
    return {"entity": _entity_json(entities[0]),
            "entities": [_entity_json(e) for e in entities],
            "relations": [_relation_json(r) for r in relations]}


@router.get("/entities/{name}/facts", responses=READS)
async def facts(name: str, key: Reader, plane: PlaneDep,
                tenant: TenantQuery = None) -> list[dict[str, Any]]:
    """The relations an entity takes part in, each with the chunk it came from."""
    return [_relation_json(r) for r in plane.graph.facts(scope(key, tenant), name)]


@router.get("/paths", responses=READS)
async def paths(
    key: Reader, plane: PlaneDep,
    from_: Annotated[str, Query(alias="from", min_length=1, max_length=500)],
    to: Annotated[str, Query(min_length=1, max_length=500)],
    max_hops: Annotated[int, Query(ge=1, le=4)] = 3,
    tenant: TenantQuery = None,
) -> list[list[dict[str, Any]]]:
    """Chains of relations linking two entities, shortest first."""
    found = plane.graph.paths(scope(key, tenant), from_, to, max_hops=max_hops)
    return [[_relation_json(r) for r in path] for path in found]
