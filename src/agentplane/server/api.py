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
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from agentplane.errors import NotFoundError
from agentplane.journal import Event, RunRecord, WaitRecord, export_run
from agentplane.metering.ledger import Window
from agentplane.tools import trust_label

from . import actions
from .auth import Admin, Approver, Operator, PlaneDep, Reader
from .stream import Delivery

router = APIRouter(prefix="/api/v1")

RunStatus = Literal["pending", "running", "waiting", "completed", "failed", "cancelled",
                   "needs_reconciliation"]
Group = Literal["tenant", "workflow", "agent", "model", "tool", "type", "department"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartRun(Strict):
    workflow: str = Field(min_length=1, description="Name of a workflow this server serves.")
    input: Any = Field(default=None, description="The run's input (any JSON).")
    tenant: str | None = Field(default=None, description="Only for keys of every tenant.")
    tags: dict[str, str] = Field(default_factory=dict,
                                 description="Usage tags such as department.")


class Reason(Strict):
    reason: str = Field(default="", max_length=2000, description="Why; journaled.")


class Rollback(Strict):
    step_key: str | None = Field(default=None, description="Reverse only this step's call.")


class NewKey(Strict):
    name: str = Field(min_length=1, max_length=200)
    role: Literal["viewer", "operator", "approver", "admin"]
    tenant: str = Field(default="default", min_length=1, max_length=200)


def run_json(run: RunRecord) -> dict[str, Any]:
    return {**run.summary(), "input": run.input, "last_seq": run.last_seq,
            "retry_of": run.meta.get("retry_of"), "tags": run.meta.get("tags", {})}


def wait_json(wait: WaitRecord, run: RunRecord) -> dict[str, Any]:
    return {"id": wait.id, "run_id": wait.run_id, "workflow": run.workflow,
            "tenant": run.tenant, "kind": wait.kind, "step_key": wait.step_key,
            "created_at": wait.created_at, "deadline": wait.deadline, "request": wait.data}


# -- health and workflows ---------------------------------------------------------------------

@router.get("/health", tags=["system"])
async def health() -> dict[str, str]:
    """Liveness; the only route that needs no key."""
    return {"status": "ok"}


@router.get("/whoami", tags=["system"])
async def whoami(key: Reader) -> dict[str, Any]:
    return {**key.to_json(), "identity": key.identity}


@router.get("/workflows", tags=["workflows"])
async def workflows(_: Reader, plane: PlaneDep) -> list[dict[str, Any]]:
    """The workflows this server may start, with their agents, tools and autonomy levels."""
    out = []
    for workflow in plane.workflows.values():
        spec = workflow.spec
        out.append({
            "name": spec.name, "description": spec.description, "hash": workflow.hash,
            "autonomy": spec.autonomy,
            "agents": [{"name": a.name, "model": a.model, "tools": list(a.tools),
                        "autonomy": a.autonomy} for a in spec.agents],
            "tools": [{"name": name, "effect": tool.effect, "idempotent": tool.idempotent,
                       "trust": trust_label(tool.result_trust)}
                      for name, tool in workflow.tools.items()],
        })
    return out


# -- runs -------------------------------------------------------------------------------------

@router.get("/runs", tags=["runs"])
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
    return [run_json(r) for r in runs]


@router.post("/runs", status_code=201, tags=["runs"])
async def start_run(body: StartRun, key: Operator, plane: PlaneDep) -> dict[str, Any]:
    """Start a run; it goes on in the background (follow it with the events stream)."""
    run = await actions.start_run(plane, key, body.workflow, body.input, tenant=body.tenant,
                                  tags=body.tags)
    return run_json(run)


@router.get("/runs/{run_id}", tags=["runs"])
async def get_run(run_id: str, key: Reader, plane: PlaneDep) -> dict[str, Any]:
    run = await plane.run_for(key, run_id)
    waits = await plane.store.waits(run_id=run_id)
    return {**run_json(run), "waits": [wait_json(w, run) for w in waits]}


@router.get("/runs/{run_id}/events", tags=["runs"])
async def run_events(run_id: str, key: Reader, plane: PlaneDep,
                     after: Annotated[int, Query(ge=0)] = 0) -> list[dict[str, Any]]:
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
        return None if raw is None else max(0, int(raw))
    except ValueError:
        return None


@router.get("/runs/{run_id}/stream", tags=["runs"])
async def stream_run(
    run_id: str, key: Reader, plane: PlaneDep,
    after: Annotated[int | None, Query(ge=0, description="Replay after this seq.")] = None,
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


@router.get("/events/stream", tags=["runs"])
async def stream_all(
    key: Reader, plane: PlaneDep,
    after: Annotated[int | None, Query(ge=0, description="Replay after this position.")] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Server-Sent Events: every new event of the key's tenant (from ``Last-Event-ID`` /
    ``after`` when given). SSE ids are journal positions to resume from."""

    def wants(_: Event, tenant: str) -> bool:
        return key.sees(tenant)

    feed = plane.broadcaster.subscribe(wants, after=_last_id(last_event_id, after))
    return _sse(feed, run_stream=False)


@router.post("/runs/{run_id}/cancel", tags=["runs"])
async def cancel_run(run_id: str, key: Operator, plane: PlaneDep,
                     body: Reason | None = None) -> dict[str, Any]:
    return run_json(await actions.cancel_run(plane, key, run_id, (body or Reason()).reason))


@router.post("/runs/{run_id}/retry", status_code=201, tags=["runs"])
async def retry_run(run_id: str, key: Operator, plane: PlaneDep) -> dict[str, Any]:
    """A new run of a failed or cancelled run's workflow version and input."""
    return run_json(await actions.retry_run(plane, key, run_id))


@router.post("/runs/{run_id}/rollback", tags=["runs"])
async def rollback_run(run_id: str, key: Operator, plane: PlaneDep,
                       body: Rollback | None = None) -> dict[str, Any]:
    """Reverse the run's completed write calls with their compensations, newest first."""
    report = await actions.rollback_run(plane, key, run_id, (body or Rollback()).step_key)
    return {"run_id": run_id, "calls": report}


@router.get("/runs/{run_id}/audit", tags=["audit"])
async def export_audit(run_id: str, key: Reader, plane: PlaneDep) -> dict[str, Any]:
    """The run's audit record: events, decisions, the pinned workflow, and the chain check."""
    await plane.run_for(key, run_id)
    return await export_run(plane.store, run_id)


# -- approvals --------------------------------------------------------------------------------

@router.get("/approvals", tags=["approvals"])
async def list_approvals(key: Reader, plane: PlaneDep) -> list[dict[str, Any]]:
    """Approvals and escalations waiting for a person."""
    return [wait_json(w, r) for w, r in await actions.approvals(plane, key)]


@router.post("/approvals/{wait_id}/approve", tags=["approvals"])
async def approve(wait_id: str, key: Approver, plane: PlaneDep,
                  body: Reason | None = None) -> dict[str, Any]:
    run = await actions.decide(plane, key, wait_id, approve=True,
                               reason=(body or Reason()).reason)
    return run_json(run)


@router.post("/approvals/{wait_id}/deny", tags=["approvals"])
async def deny(wait_id: str, key: Approver, plane: PlaneDep,
               body: Reason | None = None) -> dict[str, Any]:
    run = await actions.decide(plane, key, wait_id, approve=False,
                               reason=(body or Reason()).reason)
    return run_json(run)


# -- usage and audit --------------------------------------------------------------------------

@router.get("/usage", tags=["usage"])
async def usage(
    key: Reader, plane: PlaneDep,
    by: Annotated[list[Group] | None, Query()] = None,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
) -> list[dict[str, Any]]:
    """Tokens, calls, actions, cost (USD) and energy (kWh), grouped by tags."""
    window = Window.parse_month(month) if month else Window()
    return await actions.usage(plane, key, by=list(by or ["workflow"]), window=window)


@router.get("/budgets", tags=["usage"])
async def budgets(key: Reader, plane: PlaneDep) -> list[dict[str, Any]]:
    """The served workflows' budgets and what is spent against each (per tenant, or per
    recent run for run budgets)."""
    return await actions.budgets(plane, key)


@router.get("/audit/verify", tags=["audit"])
async def audit_verify(key: Reader, plane: PlaneDep) -> dict[str, Any]:
    """Recompute the hash chains of the tenant's runs; name the first break of each."""
    result = await actions.audit(plane, key)
    return {"ok": result.ok, "runs": result.runs, "events": result.events,
            "breaks": result.breaks}


# -- keys -------------------------------------------------------------------------------------

@router.get("/keys", tags=["keys"])
async def list_keys(_: Admin, plane: PlaneDep) -> list[dict[str, Any]]:
    return [k.to_json() for k in plane.keys.list(include_revoked=True)]


@router.post("/keys", status_code=201, tags=["keys"])
async def create_key(body: NewKey, key: Admin, plane: PlaneDep) -> dict[str, Any]:
    """A new key; its secret is in the answer and nowhere else."""
    if not key.sees(body.tenant) or (body.tenant == "*" and key.tenant != "*"):
        raise NotFoundError(f"no tenant {body.tenant!r} for this key")
    created, secret = plane.keys.create(body.name, role=body.role, tenant=body.tenant)
    return {**created.to_json(), "key": secret}


@router.delete("/keys/{key_id}", tags=["keys"])
async def revoke_key(key_id: str, key: Admin, plane: PlaneDep) -> dict[str, Any]:
    target = plane.keys.get(key_id)
    if target is None or not key.sees(target.tenant):
        raise NotFoundError(f"no API key {key_id!r}")
    return plane.keys.revoke(key_id).to_json()

