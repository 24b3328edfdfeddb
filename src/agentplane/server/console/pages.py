"""The console's pages (``GET``): overview, runs, a run's live timeline, approvals, agents,
usage, guardians and audit. Every query keeps to the signed-in key's tenant."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from agentplane.errors import AgentplaneError, NotFoundError
from agentplane.governance.keys import ApiKey
from agentplane.journal import Event, EventType, RunRecord
from agentplane.journal.events import RUN_STATUSES
from agentplane.metering.ledger import Window
from agentplane.runtime import APPROVAL_KINDS
from agentplane.runtime.spec import WorkflowSpec
from agentplane.server import actions
from agentplane.server.auth import plane_of
from agentplane.server.limits import MAX_POSITION
from agentplane.server.plane import Plane
from agentplane.server.teams import teams
from agentplane.tools import trust_label
from agentplane.tools.sources.registry import registry_for

from . import charts, figures
from .render import SECURITY_HEADERS, page
from .session import Viewer, page_viewer, safe_next
from .timeline import Entry, money, pretty, timeline

router = APIRouter(include_in_schema=False)
Signed = Annotated[Viewer, Depends(page_viewer)]

"""Every event type the live timeline listens for (SSE events are named by type)."""


def _plane(request: Request) -> Plane:
    return plane_of(request)


async def _not_found(request: Request, viewer: Viewer, message: str) -> HTMLResponse:
    return await page(request, viewer, "error.html", title="Not found", status_code=404,
                      heading="Not found", message=message)


# -- overview -----------------------------------------------------------------------------------

@router.get("/", response_class=HTMLResponse)
async def overview(request: Request, viewer: Signed) -> HTMLResponse:
    plane = _plane(request)
    data = await figures.overview(plane, viewer.key)
    times = data.times
    latency = {
        "model": (figures.percentile(times.model_ms, 50), figures.percentile(times.model_ms, 95),
                  len(times.model_ms)),
        "tool": (figures.percentile(times.tool_ms, 50), figures.percentile(times.tool_ms, 95),
                 len(times.tool_ms)),
    }
    return await page(request, viewer, "overview.html", active="overview", title="Overview",
                      data=data, latency=latency)


# -- runs -------------------------------------------------------------------------------------

@router.get("/runs", response_class=HTMLResponse)
async def runs(request: Request, viewer: Signed,
               status: Annotated[list[str] | None, Query()] = None,
               workflow: str | None = None,
               q: Annotated[str | None, Query(max_length=200)] = None) -> HTMLResponse:
    plane = _plane(request)
    statuses = [s for s in (status or []) if s in RUN_STATUSES] or None
    found = await plane.store.list_runs(statuses=statuses, workflow=workflow or None,
                                        search=q or None,
                                        tenant=actions.tenant_filter(viewer.key), limit=200)
    spend = {row["run_id"]: row for row in
             await actions.usage(plane, viewer.key, by=["run_id"])}
    known = sorted({*plane.workflows, *(r.workflow for r in found)})
    return await page(request, viewer, "runs.html", active="runs", title="Runs", runs=found,
                      spend=spend, statuses=RUN_STATUSES, chosen=statuses or [],
                      workflow=workflow or "", q=q or "", workflows=known,
                      servable=sorted(plane.workflows))


async def _pinned(plane: Plane, run: RunRecord) -> WorkflowSpec | None:
    try:
        return WorkflowSpec.model_validate(await plane.store.get_blob(run.workflow_hash))
    except (AgentplaneError, ValueError, KeyError):
        return None


def _autonomy(spec: WorkflowSpec | None) -> dict[str, Any] | None:
    """The workflow's autonomy levels: the workflow's, each agent's and each tool's."""
    if spec is None:
        return None
    return {
        "workflow": spec.autonomy.value,
        "agents": [(a.name, (a.autonomy or spec.autonomy).value, a.autonomy is not None)
                   for a in spec.agents],
        "tools": [(t.name, t.effect.value, trust_label(t.trust),
                   t.autonomy.value if t.autonomy else None, t.compensate)
                  for t in spec.tools],
    }


async def run_panel(plane: Plane, key: ApiKey, run: RunRecord) -> dict[str, Any]:
    """What the run page's side panel shows: status, totals, open approvals, the actions."""
    waits = [w for w in await plane.store.waits(run_id=run.id) if w.kind in APPROVAL_KINDS]
    terminal = run.status in ("completed", "failed", "cancelled")
    return {
        "run": run, "waits": waits, "unconfirmed": await _unconfirmed(plane, run),
        "totals": await figures.run_totals(plane, key, run),
        "can_cancel": not terminal,
        "can_retry": run.status in ("failed", "cancelled"),
        "can_rollback": terminal,
    }


async def _unconfirmed(plane: Plane, run: RunRecord) -> Event | None:
    """The call a ``needs_reconciliation`` run asks a person to settle (else None)."""
    if run.status != "needs_reconciliation":
        return None
    events = await plane.store.events(run.id)
    return next((e for e in reversed(events) if e.type == EventType.RUN_NEEDS_RECONCILIATION),
                None)


async def _entries(plane: Plane, run: RunRecord, after: int = 0) -> list[Entry]:
    events = await plane.store.events(run.id, after_seq=after)
    return timeline(events, await figures.step_costs(plane, run.id))


@router.get("/runs/{run_id}", response_class=HTMLResponse)
async def run_page(request: Request, run_id: str, viewer: Signed) -> HTMLResponse:
    plane = _plane(request)
    try:
        run = await plane.run_for(viewer.key, run_id)
    except NotFoundError as exc:
        return await _not_found(request, viewer, str(exc))
    entries = await _entries(plane, run)
    spec = await _pinned(plane, run)
    return await page(request, viewer, "run.html", active="runs", title=run.id,
                      entries=entries, last_seq=entries[-1].seq if entries else 0,
                      spec=spec, autonomy=_autonomy(spec),
                      **await run_panel(plane, viewer.key, run))


@router.get("/console/runs/{run_id}/timeline", response_class=HTMLResponse)
async def run_timeline(request: Request, run_id: str, viewer: Signed,
                       after: Annotated[int, Query(ge=0, le=MAX_POSITION)] = 0) -> HTMLResponse:
    """The run's timeline entries after seq ``after`` (the live page appends them)."""
    plane = _plane(request)
    try:
        run = await plane.run_for(viewer.key, run_id)
    except NotFoundError as exc:
        return await _not_found(request, viewer, str(exc))
    return await page(request, viewer, "_entries.html", entries=await _entries(plane, run, after))


@router.get("/console/runs/{run_id}/panel", response_class=HTMLResponse)
async def run_panel_fragment(request: Request, run_id: str, viewer: Signed) -> HTMLResponse:
    """The run page's side panel, as it is now (the live page swaps it in)."""
    plane = _plane(request)
    try:
        run = await plane.run_for(viewer.key, run_id)
    except NotFoundError as exc:
        return await _not_found(request, viewer, str(exc))
    return await page(request, viewer, "_panel.html", **await run_panel(plane, viewer.key, run))


@router.get("/console/runs/{run_id}/events/{seq}", response_class=PlainTextResponse)
async def event_value(request: Request, run_id: str,
                      seq: Annotated[int, Path(ge=1, le=MAX_POSITION)], viewer: Signed
                      ) -> Response:
    """One event in full, as JSON (what a page shows in part links here)."""
    plane = _plane(request)
    try:
        run = await plane.run_for(viewer.key, run_id)
    except NotFoundError as exc:
        return await _not_found(request, viewer, str(exc))
    found = [e for e in await plane.store.events(run.id, after_seq=seq - 1) if e.seq == seq]
    if not found:
        return await _not_found(request, viewer, f"no event #{seq} in run {run.id!r}")
    return PlainTextResponse(pretty(found[0].to_dict()), headers=SECURITY_HEADERS)


# -- approvals --------------------------------------------------------------------------------

@router.get("/approvals", response_class=HTMLResponse)
async def approvals(request: Request, viewer: Signed) -> HTMLResponse:
    waiting = await actions.approvals(_plane(request), viewer.key)
    return await page(request, viewer, "approvals.html", active="approvals", title="Approvals",
                      waiting=waiting)


# -- agents -----------------------------------------------------------------------------------

@router.get("/agents", response_class=HTMLResponse)
async def agents(request: Request, viewer: Signed) -> HTMLResponse:
    plane = _plane(request)
    usage = {(row["workflow"], row["agent"]): row for row in
             await actions.usage(plane, viewer.key, by=["workflow", "agent"])}
    entries = []
    try:
        registry = registry_for(plane.store)
    except AgentplaneError:
        registry = None
    if registry is not None:
        try:
            entries = [(e, [registry.health(url) for url in e.replicas])
                       for e in registry.list()]
        finally:
            registry.close()
    workflows = sorted(plane.workflows.values(), key=lambda w: w.spec.name)
    return await page(request, viewer, "agents.html", active="agents", title="Agents",
                      workflows=workflows, usage=usage, registry=entries,
                      teams={w.spec.name: teams(w.spec) for w in workflows})


# -- usage ------------------------------------------------------------------------------------

def _usd(value: float) -> str:
    return money(value)


def _tokens(value: float) -> str:
    return f"{value:,.0f}"


@router.get("/usage", response_class=HTMLResponse)
async def usage(request: Request, viewer: Signed,
                month: Annotated[str | None, Query(pattern=r"^(\d{4}-\d{2})?$")] = None
                ) -> HTMLResponse:
    plane = _plane(request)
    window = Window.parse_month(month) if month else Window()
    by_agent = [r for r in await actions.usage(plane, viewer.key, by=["agent"], window=window)
                if r["agent"]]
    by_model = [r for r in await actions.usage(plane, viewer.key, by=["model"], window=window)
                if r["model"]]
    by_workflow = await actions.usage(plane, viewer.key, by=["workflow"], window=window)
    total = (await actions.usage(plane, viewer.key, by=[], window=window) or [{}])[0]
    days = await figures.spend_per_day(plane, viewer.key)

    def tokens(row: dict[str, Any]) -> float:
        return float(row["input_tokens"] + row["output_tokens"])

    chart = {
        "spend_agent": charts.bars("Spend by agent (USD)",
                                   [(r["agent"], float(r["cost_usd"])) for r in by_agent],
                                   formatter=_usd),
        "spend_model": charts.bars("Spend by model (USD)",
                                   [(r["model"], float(r["cost_usd"])) for r in by_model],
                                   formatter=_usd),
        "tokens_agent": charts.bars("Tokens by agent",
                                    [(r["agent"], tokens(r)) for r in by_agent],
                                    formatter=_tokens),
        "tokens_model": charts.bars("Tokens by model",
                                    [(r["model"], tokens(r)) for r in by_model],
                                    formatter=_tokens),
        "per_day": charts.line("Spend per day, last 30 days (USD)", [d.day for d in days],
                               [d.cost_usd for d in days], formatter=_usd),
    }
    return await page(request, viewer, "usage.html", active="usage", title="Usage & spend",
                      by_agent=by_agent, by_model=by_model, by_workflow=by_workflow,
                      total=total, chart=chart, month=month or "",
                      days_tokens=sum(d.tokens for d in days))


# -- guardians --------------------------------------------------------------------------------

@router.get("/guardians", response_class=HTMLResponse)
async def guardians(request: Request, viewer: Signed) -> HTMLResponse:
    plane = _plane(request)
    recent = await figures.runs_of(plane, viewer.key)
    found = await figures.guard_events(plane, recent)
    by_policy = Counter((str(g.data.get("policy_id")), str(g.data.get("result"))) for g in found)
    return await page(request, viewer, "guardians.html", active="guardians",
                      title="Guardians & security", found=found, scanned=len(recent),
                      by_policy=sorted(by_policy.items(), key=lambda kv: -kv[1]),
                      workflows=sorted(plane.workflows.values(), key=lambda w: w.spec.name))


# -- audit ------------------------------------------------------------------------------------

@router.get("/audit", response_class=HTMLResponse)
async def audit(request: Request, viewer: Signed, verify: bool = False) -> HTMLResponse:
    plane = _plane(request)
    result = await actions.audit(plane, viewer.key) if verify else None
    recent = await figures.runs_of(plane, viewer.key, limit=100)
    return await page(request, viewer, "audit.html", active="audit", title="Audit",
                      result=result, runs=recent)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return await page(request, None, "login.html", title="Sign in",
                      next=safe_next(next), error=None)
