"""The console's forms (``POST``): sign in and out, start, cancel, retry and roll back runs,
approve and deny. Each calls the same function in ``server.actions`` as the REST API, then
sends the browser back (303) with a one-line message of what happened or what went wrong."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from agentplane.errors import AgentplaneError, ConfigError
from agentplane.governance.keys import Permission
from agentplane.server import actions
from agentplane.server.auth import COOKIE, plane_of
from agentplane.server.plane import Plane

from .render import page
from .session import Viewer, flash, form_viewer, safe_next, same_origin, set_session

router = APIRouter(include_in_schema=False)


async def _field(request: Request, name: str, default: str = "") -> str:
    value = (await request.form()).get(name)
    return value.strip() if isinstance(value, str) else default


def _back(request: Request, target: str, kind: str, message: str) -> RedirectResponse:
    response = RedirectResponse(safe_next(target, request), status_code=303)
    flash(response, kind, message)
    return response


async def _signed(request: Request, permission: Permission) -> Viewer:
    return await form_viewer(request, permission)


def _plane(request: Request) -> Plane:
    return plane_of(request)


# -- signing in and out -----------------------------------------------------------------------

@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    target = safe_next(await _field(request, "next", "/"))
    if not same_origin(request):
        return await page(request, None, "login.html", title="Sign in", status_code=403,
                          next=target, error="This sign-in did not come from this console.")
    token = await _field(request, "key")
    key = plane_of(request).keys.authenticate(token) if token else None
    if key is None:
        return await page(request, None, "login.html", title="Sign in", status_code=401,
                          next=target, error="That API key is not valid (unknown, mistyped "
                                             "or revoked). Keys look like ap_1a2b3c4d_….")
    response = RedirectResponse(target, status_code=303)
    set_session(response, request, token)
    return response


@router.api_route("/logout", methods=["GET", "POST"])
async def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# -- runs -------------------------------------------------------------------------------------

def _input(text: str) -> Any:
    """The run's input: JSON when it parses as JSON, else the text itself."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


@router.post("/console/runs")
async def start(request: Request) -> Response:
    viewer = await _signed(request, "run")
    workflow = await _field(request, "workflow")
    try:
        run = await actions.start_run(_plane(request), viewer.key, workflow,
                                      _input(await _field(request, "input")))
    except AgentplaneError as exc:
        return _back(request, "/runs", "error", f"Could not start {workflow}: {exc}")
    return _back(request, f"/runs/{run.id}", "ok", f"Started {run.id} ({workflow}).")


@router.post("/console/runs/{run_id}/cancel")
async def cancel(request: Request, run_id: str) -> Response:
    viewer = await _signed(request, "run")
    here = f"/runs/{run_id}"
    try:
        await actions.cancel_run(_plane(request), viewer.key, run_id,
                                 await _field(request, "reason"))
    except AgentplaneError as exc:
        return _back(request, here, "error", f"Could not cancel: {exc}")
    return _back(request, here, "ok", "Run cancelled.")


@router.post("/console/runs/{run_id}/retry")
async def retry(request: Request, run_id: str) -> Response:
    viewer = await _signed(request, "run")
    try:
        run = await actions.retry_run(_plane(request), viewer.key, run_id)
    except AgentplaneError as exc:
        return _back(request, f"/runs/{run_id}", "error", f"Could not retry: {exc}")
    return _back(request, f"/runs/{run.id}", "ok", f"Retrying {run_id} as {run.id}.")


@router.post("/console/runs/{run_id}/rollback")
async def rollback(request: Request, run_id: str) -> Response:
    viewer = await _signed(request, "run")
    here = f"/runs/{run_id}"
    try:
        report = await actions.rollback_run(_plane(request), viewer.key, run_id)
    except AgentplaneError as exc:
        return _back(request, here, "error", f"Could not roll back: {exc}")
    if not report:
        return _back(request, here, "ok", "Nothing to roll back: the run made no reversible "
                                          "write calls that are not reversed yet.")
    done = "; ".join(f"{c.get('tool', '?')}: {c.get('outcome', '?')}" for c in report)
    return _back(request, here, "ok", f"Rolled back {len(report)} call(s) — {done}.")


@router.post("/console/runs/{run_id}/reconcile")
async def reconcile(request: Request, run_id: str) -> Response:
    viewer = await _signed(request, "run")
    here = f"/runs/{run_id}"
    answer = await _field(request, "happened")
    try:
        if answer not in ("yes", "no"):
            raise ConfigError("say whether the call happened (yes or no)")
        text = await _field(request, "result")
        try:
            result = json.loads(text) if text else None
        except ValueError as exc:
            raise ConfigError(f"the result is not JSON ({exc})") from exc
        await actions.reconcile_run(_plane(request), viewer.key, run_id,
                                    step_key=await _field(request, "step_key"),
                                    happened=answer == "yes", result=result,
                                    reason=await _field(request, "reason"))
    except AgentplaneError as exc:
        return _back(request, here, "error", f"Could not reconcile: {exc}")
    done = "recorded as done" if answer == "yes" else "will be made again"
    return _back(request, here, "ok", f"Reconciled: the call {done}; the run goes on.")


# -- approvals --------------------------------------------------------------------------------

async def _decide(request: Request, wait_id: str, *, approve: bool) -> Response:
    viewer = await _signed(request, "approve")
    back = await _field(request, "next", "/approvals")
    verb = "approve" if approve else "deny"
    try:
        run = await actions.decide(_plane(request), viewer.key, wait_id, approve=approve,
                                   reason=await _field(request, "reason"))
    except AgentplaneError as exc:
        return _back(request, back, "error", f"Could not {verb} {wait_id}: {exc}")
    done = "Approved" if approve else "Denied"
    return _back(request, back, "ok", f"{done} {wait_id}; run {run.id} goes on.")


@router.post("/console/approvals/{wait_id}/approve")
async def approve(request: Request, wait_id: str) -> Response:
    return await _decide(request, wait_id, approve=True)


@router.post("/console/approvals/{wait_id}/deny")
async def deny(request: Request, wait_id: str) -> Response:
    return await _decide(request, wait_id, approve=False)
