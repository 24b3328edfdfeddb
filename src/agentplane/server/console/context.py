"""The console's Knowledge and Memory pages and their forms: the tenant's documents and a
search box that shows passages as an agent would get them; what agents remember, with
quarantine, release, delete and forget for the people who decide approvals, and the audit of
those decisions. The forms call the same stores as the REST API, with the same permissions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from agentplane.errors import AgentplaneError, ConfigError, NotFoundError
from agentplane.knowledge.types import Passage
from agentplane.memory.types import Memory
from agentplane.server.actions import tenant_for
from agentplane.server.auth import plane_of
from agentplane.server.knowledge import retrieve

from .render import page
from .session import Viewer, flash, form_viewer, page_viewer, safe_next

router = APIRouter(include_in_schema=False)
Signed = Annotated[Viewer, Depends(page_viewer)]

KINDS = ("factual", "experiential", "procedural")
STATUSES = ("active", "quarantined", "pending", "superseded", "retired")


def _tenant(viewer: Viewer) -> str:
    """The tenant the pages show: the key's ('default' for a key of every tenant)."""
    return tenant_for(viewer.key, None)


# -- knowledge --------------------------------------------------------------------------------

@router.get("/knowledge", response_class=HTMLResponse)
async def knowledge(request: Request, viewer: Signed,
                    q: Annotated[str, Query(max_length=2000)] = "",
                    k: Annotated[int, Query(ge=1, le=50)] = 5) -> HTMLResponse:
    plane = plane_of(request)
    tenant = _tenant(viewer)
    documents = plane.knowledge.documents(tenant)
    passages: list[Passage] = []
    modes: tuple[str, ...] = ()
    error = None
    if q.strip():
        try:
            modes, passages = await retrieve(plane, tenant, q.strip(), k=k)
        except AgentplaneError as exc:
            error = str(exc)
    return await page(request, viewer, "knowledge.html", active="knowledge", title="Knowledge",
                      documents=documents, q=q, k=k, passages=passages, modes=modes,
                      error=error, tenant=tenant)


def _back(request: Request, target: str, kind: str, message: str) -> RedirectResponse:
    response = RedirectResponse(safe_next(target, request), status_code=303)
    flash(response, kind, message)
    return response


async def _field(request: Request, name: str) -> str:
    value = (await request.form()).get(name)
    return value.strip() if isinstance(value, str) else ""


@router.post("/console/kb/documents")
async def add_document(request: Request) -> Response:
    viewer = await form_viewer(request, "run")
    source = await _field(request, "source")
    text = await _field(request, "text")
    trust = await _field(request, "trust") or "trusted"
    try:
        if not source or not text:
            raise ConfigError("give the document a source and some text")
        if trust not in ("trusted", "untrusted"):
            raise ConfigError(f"trust must be trusted or untrusted, not {trust!r}")
        result = plane_of(request).knowledge.add(
            _tenant(viewer), source, text, media_type="text/markdown",
            trust="trusted" if trust == "trusted" else "untrusted",
            owner=viewer.key.name)
    except AgentplaneError as exc:
        return _back(request, "/knowledge", "error", f"Could not add {source!r}: {exc}")
    if result.unchanged:
        return _back(request, "/knowledge", "ok", f"{source} is unchanged; nothing to do.")
    more = f", superseding {result.superseded}" if result.superseded else ""
    return _back(request, "/knowledge", "ok",
                 f"Added {source}: {result.added} chunk(s){more}.")


@router.post("/console/kb/documents/{document_id}/remove")
async def remove_document(request: Request, document_id: str) -> Response:
    viewer = await form_viewer(request, "run")
    kb = plane_of(request).knowledge
    tenant = _tenant(viewer)
    known = {d.id: d for d in kb.documents(tenant, include_superseded=True)}
    if document_id not in known:
        return _back(request, "/knowledge", "error", f"No document {document_id!r}.")
    removed = kb.remove(tenant, document_id)
    return _back(request, "/knowledge", "ok",
                 f"Removed {known[document_id].source} ({removed} chunk(s)).")


# -- memory -----------------------------------------------------------------------------------

@router.get("/memory", response_class=HTMLResponse)
async def memory(request: Request, viewer: Signed,
                 kind: Annotated[str, Query(max_length=20)] = "",
                 status: Annotated[str, Query(max_length=20)] = "",
                 subject: Annotated[str, Query(max_length=500)] = "") -> HTMLResponse:
    store = plane_of(request).memories
    tenant = _tenant(viewer)
    found: list[Memory] = store.list(
        tenant, kind=kind if kind in KINDS else None,  # type: ignore[arg-type]
        status=status if status in STATUSES else None,  # type: ignore[arg-type]
        subject=subject.strip() or None, limit=200)
    audit: list[dict[str, Any]] = store.audit(tenant, limit=50)
    return await page(request, viewer, "memory.html", active="memory", title="Memory",
                      memories=found, audit=audit, kinds=KINDS, statuses=STATUSES,
                      kind=kind, status=status, subject=subject, tenant=tenant)


async def _memory_action(request: Request, memory_id: str, action: str) -> Response:
    viewer = await form_viewer(request, "approve")
    store = plane_of(request).memories
    tenant = _tenant(viewer)
    reason = await _field(request, "reason")
    back = await _field(request, "next") or "/memory"
    try:
        if not reason:
            raise ConfigError("say why (the reason is kept in the memory audit)")
        if store.get(tenant, memory_id) is None:
            raise NotFoundError(f"no memory {memory_id!r}")
        if action == "quarantine":
            store.quarantine(tenant, memory_id, by=viewer.key.identity, reason=reason)
        elif action == "release":
            store.release(tenant, memory_id, by=viewer.key.identity, reason=reason)
        else:
            store.delete(tenant, memory_id, by=viewer.key.identity, reason=reason)
    except AgentplaneError as exc:
        return _back(request, back, "error", f"Could not {action} {memory_id}: {exc}")
    done = {"quarantine": "Quarantined", "release": "Released", "delete": "Deleted"}[action]
    return _back(request, back, "ok", f"{done} {memory_id}.")


@router.post("/console/memories/{memory_id}/quarantine")
async def quarantine(request: Request, memory_id: str) -> Response:
    return await _memory_action(request, memory_id, "quarantine")


@router.post("/console/memories/{memory_id}/release")
async def release(request: Request, memory_id: str) -> Response:
    return await _memory_action(request, memory_id, "release")


@router.post("/console/memories/{memory_id}/delete")
async def delete(request: Request, memory_id: str) -> Response:
    return await _memory_action(request, memory_id, "delete")


@router.post("/console/memories/forget")
async def forget(request: Request) -> Response:
    viewer = await form_viewer(request, "approve")
    subject = await _field(request, "subject")
    reason = await _field(request, "reason")
    if not subject or not reason:
        return _back(request, "/memory", "error",
                     "Say whom to forget and why (the reason is kept in the memory audit).")
    try:
        count = plane_of(request).memories.forget(_tenant(viewer), subject,
                                                  by=viewer.key.identity, reason=reason)
    except AgentplaneError as exc:
        return _back(request, "/memory", "error", f"Could not forget {subject!r}: {exc}")
    return _back(request, "/memory", "ok", f"Forgot {subject}: {count} memories deleted.")
