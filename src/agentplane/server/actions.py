"""What a caller may read and do, shared by the REST API and the console: each function takes
the caller's key, keeps to its tenant, and records the key's identity on what it does."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

from agentplane.errors import AgentplaneError, NotFoundError
from agentplane.governance.keys import ALL_TENANTS, ApiKey
from agentplane.journal import RunRecord, WaitRecord, verify
from agentplane.metering.budgets import Scope
from agentplane.metering.ledger import ALL_TIME, Window
from agentplane.metering.reports import usage_report
from agentplane.runtime import APPROVAL_KINDS, RunStateError, Runtime

from .limits import check_input
from .plane import Plane

T = TypeVar("T")


class ActionError(AgentplaneError):
    """The action does not fit the run's state (409)."""


def tenant_filter(key: ApiKey) -> str | None:
    return None if key.tenant == ALL_TENANTS else key.tenant


def tenant_for(key: ApiKey, named: str | None) -> str:
    """The tenant a new object of ``key`` belongs to: the one named, else the key's own
    ('default' for a key of every tenant)."""
    return named or tenant_filter(key) or "default"


async def start_run(plane: Plane, key: ApiKey, workflow: str, input: Any, *,
                    tenant: str | None = None, tags: dict[str, str] | None = None,
                    defer: str | None = None, prefer: str | None = None,
                    sensitivity: str | None = None) -> RunRecord:
    """Start a run of a served workflow for the key's tenant (an all-tenant key may name one);
    deferred when the workflow declares ``defer:`` or ``defer`` (how long it may wait) is
    given (``agentplane.triggers.deferred``)."""
    from agentplane.triggers.deferred import start_run as start_deferrable

    if tenant is not None and not key.sees(tenant):
        raise NotFoundError(f"no tenant {tenant!r} for this key")
    check_input(input, plane.limits)
    run_tenant = tenant_for(key, tenant)
    run, _ = await start_deferrable(plane.runtime, plane.workflow(workflow), input,
                                    triggers=plane.triggers, tenant=run_tenant, tags=tags,
                                    within=defer, prefer=prefer,
                                    sensitivity=sensitivity)
    plane.drive(run.id)
    return run


async def cancel_run(plane: Plane, key: ApiKey, run_id: str, reason: str) -> RunRecord:
    await plane.run_for(key, run_id)
    run = await _state(plane.runtime.cancel(run_id, actor=key.identity, reason=reason))
    plane.broadcaster.poke()
    return run


async def retry_run(plane: Plane, key: ApiKey, run_id: str) -> RunRecord:
    await plane.run_for(key, run_id)
    run = await _state(plane.runtime.retry(run_id, actor=key.identity))
    plane.drive(run.id)
    return run


async def rollback_run(plane: Plane, key: ApiKey, run_id: str, step_key: str | None = None
                       ) -> list[dict[str, Any]]:
    await plane.run_for(key, run_id)
    report = await _state(plane.runtime.rollback(run_id, actor=key.identity, step_key=step_key))
    plane.broadcaster.poke()
    return report


async def approvals(plane: Plane, key: ApiKey, *, run_id: str | None = None
                    ) -> list[tuple[WaitRecord, RunRecord]]:
    """Open approvals (and escalations) the key's tenant may see, oldest first."""
    out = []
    for wait in await plane.store.waits(run_id=run_id):
        if wait.kind not in APPROVAL_KINDS:
            continue
        run = await plane.store.get_run(wait.run_id)
        if run is not None and key.sees(run.tenant):
            out.append((wait, run))
    return out


async def reconcile_run(plane: Plane, key: ApiKey, run_id: str, *, step_key: str,
                        happened: bool, result: Any = None, reason: str = "") -> RunRecord:
    """Settle the unconfirmed call of a ``needs_reconciliation`` run, then drive it on."""
    await plane.run_for(key, run_id)
    run = await _state(plane.runtime.reconcile(run_id, step_key=step_key, happened=happened,
                                               actor=key.identity, result=result,
                                               reason=reason))
    plane.drive(run.id)
    return run


async def decide(plane: Plane, key: ApiKey, wait_id: str, *, approve: bool, reason: str
                 ) -> RunRecord:
    run = await decide_approval(plane.runtime, key, wait_id, approve=approve, reason=reason)
    plane.drive(run.id)
    return run


async def decide_approval(runtime: Runtime, key: ApiKey, wait_id: str, *, approve: bool,
                          reason: str) -> RunRecord:
    """Approve or deny an approval of the key's tenant, journaled with the key's identity —
    from the console, the API or an A2A answer alike (the caller drives the run on)."""
    wait = await runtime.store.get_wait(wait_id)
    run = None if wait is None else await runtime.store.get_run(wait.run_id)
    if wait is None or wait.kind not in APPROVAL_KINDS or run is None or not key.sees(run.tenant):
        # One answer for "not yours" and "does not exist": nothing about another tenant's run.
        raise NotFoundError(f"no approval {wait_id!r}")
    if not key.can("approve"):
        raise ActionError(f"{key.described} may not decide approvals (it needs the "
                          "'approve' permission)")
    return await _state(runtime.decide(wait_id, approve=approve, actor=key.identity,
                                       reason=reason))


async def _state(work: Awaitable[T]) -> T:
    """Await a runtime action; a state conflict becomes an ``ActionError`` (409)."""
    try:
        result = await work
    except RunStateError as exc:
        raise ActionError(str(exc)) from exc
    return result


@dataclass(frozen=True, slots=True)
class AuditResult:
    ok: bool
    runs: int
    events: int
    breaks: list[dict[str, Any]]


async def audit(plane: Plane, key: ApiKey) -> AuditResult:
    """Verify the hash chains of every run the key's tenant may see."""
    tenant = tenant_filter(key)
    run_ids = None if tenant is None else [
        r.id for r in await plane.store.list_runs(tenant=tenant, limit=1_000_000)]
    report = await verify(plane.store, run_ids)
    return AuditResult(report.ok, report.runs, report.events,
                       [{"run_id": b.run_id, "seq": b.seq, "reason": b.reason}
                        for b in report.breaks])


async def usage(plane: Plane, key: ApiKey, *, by: list[str], window: Window = ALL_TIME
                ) -> list[dict[str, Any]]:
    """Usage and spend grouped by tags, for the key's tenant."""
    metering = plane.runtime.metering
    await metering.ledger.sync(plane.store, metering.pricer)
    tenant = tenant_filter(key)
    return usage_report(metering.ledger, window, by=by,
                        where=None if tenant is None else {"tenant": tenant})


async def budgets(plane: Plane, key: ApiKey, *, recent_runs: int = 10) -> list[dict[str, Any]]:
    """The budgets the served workflows declare, with what is spent against each now: one row
    per tenant the key sees for workflow, agent and tenant budgets, and one per recent run for
    per-run budgets."""
    metering = plane.runtime.metering
    await metering.ledger.sync(plane.store, metering.pricer)
    book, now, rows = metering.book, time.time(), []
    for workflow in plane.workflows.values():
        declared = workflow.spec.budgets
        if not declared:
            continue
        runs = await plane.store.list_runs(workflow=workflow.spec.name,
                                           tenant=tenant_filter(key), limit=recent_runs)
        tenants = sorted({r.tenant for r in runs} or {key.tenant if key.tenant != ALL_TENANTS
                                                      else "default"})
        for budget in declared:
            per_run = budget.scope == "run" or budget.period == "run"
            scopes = ([Scope(r.id, r.tenant, r.workflow, budget.agent or "") for r in runs]
                      if per_run else
                      [Scope("", t, workflow.spec.name, budget.agent or "") for t in tenants])
            for scope in scopes:
                state = book.state(budget, scope, now)
                rows.append({
                    "workflow": workflow.spec.name, "budget": budget.id,
                    "scope": budget.scope, "agent": budget.agent, "period": state.period,
                    "tenant": scope.tenant, "run_id": scope.run_id or None,
                    "unit": state.unit, "limit": state.limit, "spent": state.spent,
                    "used": state.spent / state.limit if state.limit else None,
                    "on_exceed": budget.on_exceed})
    return rows
