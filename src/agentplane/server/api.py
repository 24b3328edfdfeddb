"""The REST API (``/api/v1``) and its Server-Sent Events streams.

Every route but ``/api/v1/health`` needs an API key; what it may do depends on the key's role,
and what it sees on the key's tenant (a run of another tenant is "not found", not "forbidden",
so a key learns nothing about other tenants).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from agentplane.compliance.labels import label_of
from agentplane.errors import NotFoundError
from agentplane.governance.keys import ALL_TENANTS
from agentplane.journal import (
    Event,
    EventType,
    ReportsHealth,
    RunRecord,
    WaitRecord,
    export_run,
)
from agentplane.metering.ledger import Window
from agentplane.tools import trust_label

from . import actions
from .auth import Admin, Approver, Operator, PlaneDep, Reader
from .errors import responses
from .limits import MAX_POSITION, Limits, preview
from .stream import Delivery
from .teams import teams

router = APIRouter(prefix="/api/v1")

# What each kind of route may answer besides its success (the OpenAPI document says the same).
READS = responses(401, 422, 503)
"""A read of lists or the tenant's totals."""
READ_PLAIN = responses(401, 503)
"""A read without parameters."""
KEYS_READ = responses(401, 403, 503)
"""A read only admins may make."""
READ_ONE = responses(401, 404, 422, 503)
"""A read of one object named in the path."""
ACTS = responses(400, 401, 403, 404, 409, 413, 422, 503)
"""An action: a write that may be refused by role, state, size or the journal."""

RunStatus = Literal["pending", "running", "waiting", "completed", "failed", "cancelled",
                   "needs_reconciliation"]
Group = Literal["tenant", "workflow", "agent", "model", "tool", "type", "department"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Defer(Strict):
    within: str = Field(min_length=1, max_length=20, description="How long the run may wait: "
                        "30m, 12h, 2d.")
    prefer: Literal["cheapest", "greenest"] | None = Field(
        default=None, description="Default: the workflow's, else cheapest.")


class StartRun(Strict):
    workflow: str = Field(min_length=1, description="Name of a workflow this server serves.")
    input: Any = Field(default=None, description="The run's input (any JSON).")
    tenant: str | None = Field(default=None, description="Only for keys of every tenant.")
    tags: dict[str, str] = Field(default_factory=dict,
                                 description="Usage tags such as department.")
    defer: Defer | None = Field(default=None, description="Let the run wait for the best "
                                "window of a price / carbon signal (docs/deferral.md).")
    sensitivity: Literal["public", "internal", "personal", "confidential"] | None = Field(
        default=None, description="What the run's data is: personal and confidential data "
                                  "stays on local models or in the workflow's allowed regions.")


class Reason(Strict):
    reason: str = Field(default="", max_length=2000, description="Why; journaled.")


class Rollback(Strict):
    step_key: str | None = Field(default=None, description="Reverse only this step's call.")


class Reconcile(Strict):
    step_key: str = Field(min_length=1, description="The step the run names as unconfirmed.")
    happened: bool = Field(description="Whether the call took effect: true records it as "
                                       "done (with ``result``), false lets the run call again.")
    result: Any = Field(default=None, description="The call's result, when it happened.")
    reason: str = Field(default="", max_length=2000, description="Why; journaled.")


VISIBLE = r"[^\s\x1c-\x1f\x85\ufeff]"
"""Somewhere a character that is not white space (by any reckoning: JSON Schema's and
Python's ``str.strip`` differ on a few), for names a person reads."""


class NewKey(Strict):
    name: str = Field(min_length=1, max_length=200, pattern=VISIBLE)
    role: Literal["viewer", "operator", "approver", "admin"]
    tenant: str | None = Field(default=None, min_length=1, max_length=200, pattern=VISIBLE,
                               description="The key's tenant ('*' for all); by default the "
                                           "calling admin's own (or 'default' for a '*' admin).")


class JournalState(BaseModel):
    ok: bool
    present: bool = Field(description="The file the server opened is still at its path.")
    writable: bool
    free_bytes: int | None = Field(description="Free space on the journal's disk (bytes).")
    problem: str | None


class Health(BaseModel):
    status: Literal["ok", "unhealthy"]
    error: str | None = Field(default=None, description="Why unhealthy.")
    journal: JournalState | None = None


def run_summary(run: RunRecord, limits: Limits) -> dict[str, Any]:
    """A run as lists show it: its input as a preview (``input_truncated`` when cut; the run
    itself, ``GET /runs/{id}``, has all of it)."""
    text, cut = preview(run.input, limits)
    return {**run.summary(), "input_preview": text, "input_truncated": cut,
            "last_seq": run.last_seq, "retry_of": run.meta.get("retry_of"),
            "tags": run.meta.get("tags", {})}


def run_json(run: RunRecord) -> dict[str, Any]:
    return {**run.summary(), "input": run.input, "last_seq": run.last_seq,
            "retry_of": run.meta.get("retry_of"), "tags": run.meta.get("tags", {})}


def wait_json(wait: WaitRecord, run: RunRecord) -> dict[str, Any]:
    return {"id": wait.id, "run_id": wait.run_id, "workflow": run.workflow,
            "tenant": run.tenant, "kind": wait.kind, "step_key": wait.step_key,
            "created_at": wait.created_at, "deadline": wait.deadline, "request": wait.data}


# -- health and workflows ---------------------------------------------------------------------

@router.get("/health", tags=["system"], response_model=Health,
            responses={503: {"model": Health, "description": "The journal cannot be written "
                                                            "(file removed or replaced, "
                                                            "read-only, disk nearly full)."}})
async def health(plane: PlaneDep) -> JSONResponse:
    """Whether the server can do its work: the journal's file is present and writable, with
    room on its disk (503 otherwise). The only route that needs no key."""
    store = plane.store
    if not isinstance(store, ReportsHealth):
        return JSONResponse({"status": "ok"})
    state = await store.health()
    body: dict[str, Any] = {"status": "ok" if state.ok else "unhealthy",
                            "journal": state.to_json()}
    if not state.ok:
        body["error"] = state.problem
    return JSONResponse(body, status_code=200 if state.ok else 503)


@router.get("/whoami", tags=["system"], responses=READ_PLAIN)
async def whoami(key: Reader) -> dict[str, Any]:
    return {**key.to_json(), "identity": key.identity}


@router.get("/workflows", tags=["workflows"], responses=READ_PLAIN)
async def workflows(_: Reader, plane: PlaneDep) -> list[dict[str, Any]]:
    """The workflows this server may start, with their agents, tools and autonomy levels."""
    out = []
    for workflow in plane.workflows.values():
        spec = workflow.spec
        team = teams(spec)
        out.append({
            "name": spec.name, "description": spec.description, "hash": workflow.hash,
            "autonomy": spec.autonomy,
            "agents": [{"name": a.name, "model": a.model, "tools": list(a.tools),
                        "autonomy": a.autonomy, "handoffs": team[a.name].handoffs,
                        "workers": team[a.name].workers,
                        "supervisors": team[a.name].supervisors,
                        "tool_autonomy": dict(team[a.name].tools)} for a in spec.agents],
            "tools": [{"name": name, "effect": tool.effect, "idempotent": tool.idempotent,
                       "trust": trust_label(tool.result_trust),
                       "autonomy": t.autonomy if (t := spec.tool(name)) else None}
                      for name, tool in workflow.tools.items()],
        })
    return out


# -- runs -------------------------------------------------------------------------------------

@router.get("/runs", tags=["runs"], responses=READS)
async def list_runs(
    key: Reader, plane: PlaneDep,
    status: Annotated[list[RunStatus] | None, Query()] = None,
    workflow: str | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Part of a run id or "
                                                                "workflow name.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Runs of the key's tenant, newest first."""
    runs = await plane.store.list_runs(statuses=status, workflow=workflow, search=q,
                                       tenant=actions.tenant_filter(key), limit=limit)
    return [run_summary(r, plane.limits) for r in runs]


@router.post("/runs", status_code=201, tags=["runs"], responses=ACTS)
async def start_run(body: StartRun, key: Operator, plane: PlaneDep) -> dict[str, Any]:
    """Start a run; it goes on in the background (follow it with the events stream)."""
    run = await actions.start_run(plane, key, body.workflow, body.input, tenant=body.tenant,
                                  tags=body.tags, defer=body.defer.within if body.defer else None,
                                  prefer=body.defer.prefer if body.defer else None,
                                  sensitivity=body.sensitivity)
    return run_json(run)


@router.get("/runs/{run_id}", tags=["runs"], responses=READ_ONE)
async def get_run(run_id: str, key: Reader, plane: PlaneDep) -> dict[str, Any]:
    """The run, its open and past waits, and once it completed its output and the output's
    implicit AI-content label (``content.labelled``; null when the workflow labels nothing)."""
    run = await plane.run_for(key, run_id)
    waits = await plane.store.waits(run_id=run_id)
    body = {**run_json(run), "waits": [wait_json(w, run) for w in waits]}
    if run.status == "completed":
        # the label is journaled in the same append as the completion: the last two events
        tail = await plane.store.events(run_id, after_seq=max(0, run.last_seq - 2))
        completed = [e for e in tail if e.type == EventType.RUN_COMPLETED]
        body["output"] = completed[-1].data.get("output") if completed else None
        body["label"] = label_of(tail)
    return body


@router.get("/runs/{run_id}/events", tags=["runs"], responses=READ_ONE)
async def run_events(run_id: str, key: Reader, plane: PlaneDep,
                     after: Annotated[int, Query(ge=0, le=MAX_POSITION)] = 0
                     ) -> list[dict[str, Any]]:
    """The run's journal after sequence number ``after``."""
    await plane.run_for(key, run_id)
    return [e.to_dict() for e in await plane.store.events(run_id, after_seq=after)]


def _sse(batches: AsyncIterator[list[Delivery]], *, run_stream: bool, named: bool = True
         ) -> StreamingResponse:
    """A text/event-stream response: one write per batch; a comment line keeps idle
    connections (and the proxies between) open. ``named``: each message's SSE event name is
    the journal event's type (else they are all plain ``message`` events, for clients that
    want every type without naming them)."""

    async def body() -> AsyncIterator[bytes]:
        async for batch in batches:
            if not batch:
                yield b": keep-alive\n\n"
                continue
            chunk = bytearray()
            for d in batch:
                ident = d.event.seq if run_stream else d.cursor
                chunk += b"id: %d\n" % ident
                if named:
                    chunk += b"event: %s\n" % d.event.type.encode()
                chunk += b"data: "
                chunk += orjson.dumps(d.event.to_dict())
                chunk += b"\n\n"
            yield bytes(chunk)

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _last_id(header: str | None, query: int | None) -> int | None:
    raw = header if header is not None else query
    try:
        return None if raw is None else min(MAX_POSITION, max(0, int(raw)))
    except ValueError:
        return None


@router.get("/runs/{run_id}/stream", tags=["runs"], responses=READ_ONE)
async def stream_run(
    run_id: str, key: Reader, plane: PlaneDep,
    after: Annotated[int | None, Query(ge=0, le=MAX_POSITION,
                                       description="Replay after this seq.")] = None,
    named: Annotated[bool, Query(description="SSE event names = event types (else all are "
                                             "plain messages).")] = True,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Server-Sent Events: the run's events from the start (or after ``Last-Event-ID`` /
    ``after``), then live. Each event's SSE id is its seq."""
    await plane.run_for(key, run_id)
    seq = _last_id(last_event_id, after) or 0
    feed = plane.broadcaster.subscribe(lambda e, _t: e.run_id == run_id, run_id=run_id,
                                       after_seq=seq)
    return _sse(feed, run_stream=True, named=named)


@router.get("/events/stream", tags=["runs"], responses=READS)
async def stream_all(
    key: Reader, plane: PlaneDep,
    after: Annotated[int | None, Query(ge=0, le=MAX_POSITION,
                                       description="Replay after this position.")] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Server-Sent Events: every new event of the key's tenant (from ``Last-Event-ID`` /
    ``after`` when given). SSE ids are journal positions to resume from."""

    def wants(_: Event, tenant: str) -> bool:
        return key.sees(tenant)

    feed = plane.broadcaster.subscribe(wants, after=_last_id(last_event_id, after))
    return _sse(feed, run_stream=False)


@router.post("/runs/{run_id}/cancel", tags=["runs"], responses=ACTS)
async def cancel_run(run_id: str, key: Operator, plane: PlaneDep,
                     body: Reason | None = None) -> dict[str, Any]:
    return run_json(await actions.cancel_run(plane, key, run_id, (body or Reason()).reason))


@router.post("/runs/{run_id}/reconcile", tags=["runs"], responses=ACTS)
async def reconcile_run(run_id: str, body: Reconcile, key: Operator, plane: PlaneDep
                        ) -> dict[str, Any]:
    """Settle a call of a ``needs_reconciliation`` run that was started but never confirmed,
    then resume the run."""
    return run_json(await actions.reconcile_run(
        plane, key, run_id, step_key=body.step_key, happened=body.happened,
        result=body.result, reason=body.reason))


@router.post("/runs/{run_id}/retry", status_code=201, tags=["runs"], responses=ACTS)
async def retry_run(run_id: str, key: Operator, plane: PlaneDep) -> dict[str, Any]:
    """A new run of a failed or cancelled run's workflow version and input."""
    return run_json(await actions.retry_run(plane, key, run_id))


@router.post("/runs/{run_id}/rollback", tags=["runs"], responses=ACTS)
async def rollback_run(run_id: str, key: Operator, plane: PlaneDep,
                       body: Rollback | None = None) -> dict[str, Any]:
    """Reverse the run's completed write calls with their compensations, newest first."""
    report = await actions.rollback_run(plane, key, run_id, (body or Rollback()).step_key)
    return {"run_id": run_id, "calls": report}


@router.get("/runs/{run_id}/audit", tags=["audit"], responses=READ_ONE)
async def export_audit(run_id: str, key: Reader, plane: PlaneDep) -> dict[str, Any]:
    """The run's audit record: events, decisions, the pinned workflow, and the chain check."""
    await plane.run_for(key, run_id)
    return await export_run(plane.store, run_id)


# -- approvals --------------------------------------------------------------------------------

@router.get("/approvals", tags=["approvals"], responses=READ_PLAIN)
async def list_approvals(key: Reader, plane: PlaneDep) -> list[dict[str, Any]]:
    """Approvals and escalations waiting for a person."""
    return [wait_json(w, r) for w, r in await actions.approvals(plane, key)]


@router.post("/approvals/{wait_id}/approve", tags=["approvals"], responses=ACTS)
async def approve(wait_id: str, key: Approver, plane: PlaneDep,
                  body: Reason | None = None) -> dict[str, Any]:
    run = await actions.decide(plane, key, wait_id, approve=True,
                               reason=(body or Reason()).reason)
    return run_json(run)


@router.post("/approvals/{wait_id}/deny", tags=["approvals"], responses=ACTS)
async def deny(wait_id: str, key: Approver, plane: PlaneDep,
               body: Reason | None = None) -> dict[str, Any]:
    run = await actions.decide(plane, key, wait_id, approve=False,
                               reason=(body or Reason()).reason)
    return run_json(run)


# -- usage and audit --------------------------------------------------------------------------

@router.get("/usage", tags=["usage"], responses=READS)
async def usage(
    key: Reader, plane: PlaneDep,
    by: Annotated[list[Group] | None, Query()] = None,
    month: Annotated[str | None, Query(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$",
                                       description="A calendar month, YYYY-MM.")] = None,
) -> list[dict[str, Any]]:
    """Tokens, calls, actions, cost (USD) and energy (kWh), grouped by tags."""
    window = Window.parse_month(month) if month else Window()
    return await actions.usage(plane, key, by=list(by or ["workflow"]), window=window)


@router.get("/budgets", tags=["usage"], responses=READ_PLAIN)
async def budgets(key: Reader, plane: PlaneDep) -> list[dict[str, Any]]:
    """The served workflows' budgets and what is spent against each (per tenant, or per
    recent run for run budgets)."""
    return await actions.budgets(plane, key)


@router.get("/audit/verify", tags=["audit"], responses=READ_PLAIN)
async def audit_verify(key: Reader, plane: PlaneDep) -> dict[str, Any]:
    """Recompute the hash chains of the tenant's runs; name the first break of each."""
    result = await actions.audit(plane, key)
    return {"ok": result.ok, "runs": result.runs, "events": result.events,
            "breaks": result.breaks}


# -- keys -------------------------------------------------------------------------------------

@router.get("/keys", tags=["keys"], responses=KEYS_READ)
async def list_keys(key: Admin, plane: PlaneDep) -> list[dict[str, Any]]:
    """The keys of the admin's tenant (every key, for an admin of every tenant)."""
    return [k.to_json() for k in plane.keys.list(include_revoked=True,
                                                 tenant=actions.tenant_filter(key))]


@router.post("/keys", status_code=201, tags=["keys"], responses=ACTS)
async def create_key(body: NewKey, key: Admin, plane: PlaneDep) -> dict[str, Any]:
    """A new key; its secret is in the answer and nowhere else."""
    tenant = actions.tenant_for(key, body.tenant)
    if not key.sees(tenant) or (tenant == ALL_TENANTS and key.tenant != ALL_TENANTS):
        raise NotFoundError(f"no tenant {tenant!r} for this key")
    created, secret = plane.keys.create(body.name, role=body.role, tenant=tenant)
    return {**created.to_json(), "key": secret}


@router.delete("/keys/{key_id}", tags=["keys"], responses=ACTS)
async def revoke_key(key_id: str, key: Admin, plane: PlaneDep) -> dict[str, Any]:
    target = plane.keys.get(key_id)
    if target is None or not key.sees(target.tenant):
        raise NotFoundError(f"no API key {key_id!r}")
    return plane.keys.revoke(key_id).to_json()

