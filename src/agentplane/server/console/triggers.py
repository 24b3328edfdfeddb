"""The console's triggers page: every trigger of the served workflows (kind, switch, last and
next fire, failures) with its recent fires, enable / disable forms for operators, and the
deferred runs with what deferral saved (money and gCO2e against starting at once)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from agentplane.errors import AgentplaneError
from agentplane.server.actions import tenant_for
from agentplane.server.auth import plane_of
from agentplane.triggers.fire import find_trigger
from agentplane.triggers.listing import trigger_rows
from agentplane.triggers.savings import deferral_savings, totals

from .context import Signed
from .render import page
from .session import flash, form_viewer

router = APIRouter(include_in_schema=False)


@router.get("/triggers", response_class=HTMLResponse)
async def triggers(request: Request, viewer: Signed) -> HTMLResponse:
    plane = plane_of(request)
    tenant = tenant_for(viewer.key, None)
    rows = trigger_rows(plane.workflows.values(), plane.triggers, tenant=tenant,
                        now=datetime.now(UTC))
    fires = {(r.workflow, r.trigger): plane.triggers.fires(tenant, r.workflow, r.trigger,
                                                           limit=5) for r in rows}
    saved = await deferral_savings(plane.store, plane.triggers, tenant=tenant,
                                   pricer=plane.runtime.metering.pricer, limit=20)
    return await page(request, viewer, "triggers.html", active="triggers", title="Triggers",
                      rows=rows, fires=fires, saved=saved, total=totals(saved), tenant=tenant)


async def _switch(request: Request, workflow: str, trigger: str, enabled: bool) -> Response:
    viewer = await form_viewer(request, "run")
    plane = plane_of(request)
    word = "Enabled" if enabled else "Disabled"
    response = RedirectResponse("/triggers", status_code=303)
    try:
        find_trigger(plane.workflow(workflow), trigger)
        plane.triggers.set_enabled(tenant_for(viewer.key, None), workflow, trigger, enabled)
    except AgentplaneError as exc:
        flash(response, "error", f"Could not switch {workflow}/{trigger}: {exc}")
        return response
    flash(response, "ok", f"{word} {workflow}/{trigger}.")
    return response


@router.post("/console/triggers/{workflow}/{trigger}/enable")
async def enable(request: Request, workflow: str, trigger: str) -> Response:
    return await _switch(request, workflow, trigger, True)


@router.post("/console/triggers/{workflow}/{trigger}/disable")
async def disable(request: Request, workflow: str, trigger: str) -> Response:
    return await _switch(request, workflow, trigger, False)
