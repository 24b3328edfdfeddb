"""The REST routes of triggers: webhook deliveries (``POST /hooks/NAME``, signed, no API key)
and ``/api/v1/triggers`` (list with last fire, next fire and failures; recent fires;
enable / disable; a manual fire)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from agentplane.runtime import Workflow
from agentplane.triggers.fire import FireResult, find_trigger, fire
from agentplane.triggers.listing import trigger_rows
from agentplane.triggers.webhook import (
    WebhookError,
    check_signature,
    delivery_id,
    find_hook,
    payload,
)

from .auth import Operator, PlaneDep, Reader
from .errors import responses
from .knowledge import TenantQuery, scope
from .limits import check_input
from .plane import Plane
from .problem import problem

router = APIRouter()
hooks = APIRouter(tags=["triggers"])
api = APIRouter(prefix="/api/v1/triggers", tags=["triggers"])

HOOK_TENANT = "default"
"""The tenant webhook runs belong to."""
READS = responses(401, 404, 422, 503)
ACTS = responses(400, 401, 403, 404, 409, 422, 503)


async def _deliver(request: Request, plane: Plane, name: str, workflow: str | None
                   ) -> JSONResponse:
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        hook = find_hook(plane.workflows, name, workflow)
        check_signature(hook.spec, body, headers)
        delivery, header = delivery_id(body, headers)
        data = payload(hook.spec, body)
    except WebhookError as exc:
        extra = {"problems": exc.problems} if exc.problems else {}
        return problem(exc.status, str(exc), **extra)
    flow = hook.workflow.spec.name
    if not plane.triggers.is_enabled(HOOK_TENANT, flow, name, hook.trigger.enabled):
        return problem(409, f"webhook {name} of workflow {flow} is disabled "
                            f"(`agentplane triggers enable {flow} {name}`)")
    check_input(data, plane.limits)
    result = await fire(plane.runtime, hook.workflow, name, delivery, data,
                        store=plane.triggers, tenant=HOOK_TENANT,
                        untrusted=hook.spec.untrusted,
                        detail={"delivery": delivery, "header": header, "bytes": len(body)})
    if result.started:
        plane.drive(result.run_id)
    return JSONResponse({"run_id": result.run_id, "started": result.started,
                         "delivery": delivery}, status_code=202 if result.started else 200)


@hooks.post("/hooks/{name}", responses=responses(400, 401, 404, 409, 413, 422, 503))
async def deliver(name: str, request: Request, plane: PlaneDep) -> JSONResponse:
    """A webhook delivery for trigger ``name``: signed with the trigger's secret
    (``X-Agentplane-Signature: sha256=HEX``); retries with the same delivery id start one run
    (202 when it started one, 200 for a repeat)."""
    return await _deliver(request, plane, name, None)


@hooks.post("/hooks/{workflow}/{name}", responses=responses(400, 401, 404, 409, 413, 422, 503))
async def deliver_to(workflow: str, name: str, request: Request, plane: PlaneDep
                     ) -> JSONResponse:
    """Like ``/hooks/{name}``, for a name several served workflows declare."""
    return await _deliver(request, plane, name, workflow)


# -- /api/v1/triggers ---------------------------------------------------------------------------


class ManualFire(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: Any = Field(default=None, description="The run's input (default: the trigger's).")
    key: str | None = Field(default=None, min_length=1, max_length=200,
                            description="Idempotency key: a second fire with it starts nothing.")
    tenant: str | None = Field(default=None, description="Only for keys of every tenant.")


def _workflow(plane: Plane, name: str, trigger: str) -> Workflow:
    workflow = plane.workflow(name)
    find_trigger(workflow, trigger)
    return workflow


def fire_json(result: FireResult) -> dict[str, Any]:
    return {"run_id": result.run_id, "started": result.started}


@api.get("", responses=READS)
async def list_triggers(key: Reader, plane: PlaneDep, tenant: TenantQuery = None
                        ) -> list[dict[str, Any]]:
    """Every trigger of the served workflows: kind, switch, last fire, next fire, failures."""
    rows = trigger_rows(plane.workflows.values(), plane.triggers, tenant=scope(key, tenant),
                        now=datetime.now(UTC))
    return [r.to_json() for r in rows]


@api.get("/{workflow}/{trigger}/fires", responses=READS)
async def list_fires(workflow: str, trigger: str, key: Reader, plane: PlaneDep,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 50,
                     tenant: TenantQuery = None) -> list[dict[str, Any]]:
    """The trigger's latest fires, newest first (key, run, when, detail)."""
    _workflow(plane, workflow, trigger)
    fires = plane.triggers.fires(scope(key, tenant), workflow, trigger, limit=limit)
    return [{"key": f.key, "run_id": f.run_id, "fired_at": f.fired_at, "detail": f.detail}
            for f in fires]


async def _switch(plane: Plane, key: Any, workflow: str, trigger: str, tenant: str | None,
                  enabled: bool) -> dict[str, Any]:
    _workflow(plane, workflow, trigger)
    plane.triggers.set_enabled(scope(key, tenant), workflow, trigger, enabled)
    return {"workflow": workflow, "trigger": trigger, "enabled": enabled}


@api.post("/{workflow}/{trigger}/enable", responses=ACTS)
async def enable(workflow: str, trigger: str, key: Operator, plane: PlaneDep,
                 tenant: TenantQuery = None) -> dict[str, Any]:
    return await _switch(plane, key, workflow, trigger, tenant, True)


@api.post("/{workflow}/{trigger}/disable", responses=ACTS)
async def disable(workflow: str, trigger: str, key: Operator, plane: PlaneDep,
                  tenant: TenantQuery = None) -> dict[str, Any]:
    return await _switch(plane, key, workflow, trigger, tenant, False)


@api.post("/{workflow}/{trigger}/fire", status_code=201, responses=ACTS)
async def manual_fire(workflow: str, trigger: str, body: ManualFire, key: Operator,
                      plane: PlaneDep) -> dict[str, Any]:
    """Fire a trigger by hand with an input (journaled as ``kind: manual``)."""
    flow = _workflow(plane, workflow, trigger)
    spec = find_trigger(flow, trigger)
    data = body.input if body.input is not None else spec.input
    check_input(data, plane.limits)
    result = await fire(plane.runtime, flow, trigger, body.key or f"manual:{uuid.uuid4().hex}",
                        data, store=plane.triggers, tenant=scope(key, body.tenant),
                        kind="manual", detail={"by": key.identity})
    if result.started:
        plane.drive(result.run_id)
    return fire_json(result)


router.include_router(hooks)
router.include_router(api)
