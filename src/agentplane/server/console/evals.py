"""The console's Evaluations page: stored evaluations (``agentplane eval``) with their pass
rate, cost and latency, and one evaluation's cases — each case's run, the checks that failed,
and, when it was compared with a baseline, what changed (newly failing, newly passing, cost).
Its Simulations section lists stored ``agentplane simulate`` reports per scenario (trials,
success rate, escalations, guardian blocks, cost, latency, got worse); one simulation's page
lists every trial's run and what was perturbed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from agentplane.errors import NotFoundError
from agentplane.server.actions import tenant_for
from agentplane.server.auth import plane_of
from agentplane.server.evals import eval_store, evaluation_json, simulation_store

from .render import page
from .session import Viewer, page_viewer

router = APIRouter(include_in_schema=False)
Signed = Annotated[Viewer, Depends(page_viewer)]


@router.get("/evals", response_class=HTMLResponse)
async def evals(request: Request, viewer: Signed) -> HTMLResponse:
    tenant = tenant_for(viewer.key, None)
    plane = plane_of(request)
    found = eval_store(plane).list(tenant, limit=200)
    simulations = simulation_store(plane).list(tenant, limit=100)
    return await page(request, viewer, "evals.html", active="evals", title="Evaluations",
                      evaluations=found, simulations=simulations, tenant=tenant)


@router.get("/evals/{eval_id}", response_class=HTMLResponse)
async def evaluation(request: Request, eval_id: str, viewer: Signed) -> HTMLResponse:
    try:
        found = evaluation_json(plane_of(request), eval_id, tenant_for(viewer.key, None))
    except NotFoundError as exc:
        return await page(request, viewer, "error.html", title="Not found", status_code=404,
                          heading="Not found", message=str(exc))
    changes = {c["case_id"]: c for c in (found["comparison"] or {}).get("cases", [])}
    return await page(request, viewer, "eval.html", active="evals", title=eval_id,
                      evaluation=found, changes=changes)


@router.get("/simulations/{simulation_id}", response_class=HTMLResponse)
async def simulation(request: Request, simulation_id: str, viewer: Signed) -> HTMLResponse:
    try:
        found = simulation_store(plane_of(request)).get(simulation_id,
                                                        tenant_for(viewer.key, None))
    except NotFoundError as exc:
        return await page(request, viewer, "error.html", title="Not found", status_code=404,
                          heading="Not found", message=str(exc))
    return await page(request, viewer, "simulation.html", active="evals", title=simulation_id,
                      simulation=found)
