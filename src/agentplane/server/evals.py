"""Stored evaluations over REST (``/api/v1/evals``): the list, and one evaluation with its
cases and, when it was compared with a baseline, the per-case differences; and stored
simulations (``/api/v1/simulations``): the list, and one report with every trial's run.
Read-only: they are made by ``agentplane eval`` and ``agentplane simulate``. Another tenant's
evaluation or simulation is "not found"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query

from .auth import PlaneDep, Reader
from .errors import responses
from .knowledge import TenantQuery, scope
from .plane import Plane

if TYPE_CHECKING:
    from agentplane.evals.sim_store import SimulationStore
    from agentplane.evals.store import EvalStore

router = APIRouter(prefix="/api/v1/evals", tags=["evals"])
simulations_router = APIRouter(prefix="/api/v1/simulations", tags=["evals"])
READS = responses(401, 404, 422, 503)


def eval_store(plane: Plane) -> EvalStore:
    """The evaluations in the journal's database, opened once per server."""
    from agentplane.evals.store import EvalStore

    return plane._handle("evals", lambda: EvalStore(plane.store.database))


def simulation_store(plane: Plane) -> SimulationStore:
    """The simulations in the journal's database, opened once per server."""
    from agentplane.evals.sim_store import SimulationStore

    return plane._handle("simulations", lambda: SimulationStore(plane.store.database))


def evaluation_json(plane: Plane, eval_id: str, tenant: str) -> dict[str, Any]:
    """One evaluation with its cases, and ``comparison`` with its baseline (or None)."""
    from agentplane.evals.compare import compare

    store = eval_store(plane)
    evaluation = store.get(eval_id, tenant)
    comparison = None
    if evaluation.compared_to is not None:
        comparison = compare(store.get(evaluation.compared_to, tenant), evaluation).to_json()
    return {**evaluation.to_json(), "comparison": comparison}


@router.get("", responses=READS)
async def list_evals(key: Reader, plane: PlaneDep, tenant: TenantQuery = None,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100
                     ) -> list[dict[str, Any]]:
    """The tenant's evaluations, newest first: dataset, workflow version, model, summary
    (pass rate, cost, latency)."""
    return eval_store(plane).list(scope(key, tenant), limit=limit)


@router.get("/{eval_id}", responses=READS)
async def get_eval(eval_id: str, key: Reader, plane: PlaneDep,
                   tenant: TenantQuery = None) -> dict[str, Any]:
    """One evaluation: every case's run, checks, cost and latency, and the comparison with
    its baseline when it has one (newly failing, newly passing, cost delta)."""
    return evaluation_json(plane, eval_id, scope(key, tenant))


@simulations_router.get("", responses=READS)
async def list_simulations(key: Reader, plane: PlaneDep, tenant: TenantQuery = None,
                           limit: Annotated[int, Query(ge=1, le=1000)] = 100
                           ) -> list[dict[str, Any]]:
    """The tenant's simulations, newest first: scenarios file, workflow version, baseline, and
    the summary (totals, and per scenario: trials, success rate, escalations, guardian blocks,
    cost, latency, whether it got worse than the baseline)."""
    return simulation_store(plane).list(scope(key, tenant), limit=limit)


@simulations_router.get("/{simulation_id}", responses=READS)
async def get_simulation(simulation_id: str, key: Reader, plane: PlaneDep,
                         tenant: TenantQuery = None) -> dict[str, Any]:
    """One simulation: per scenario figures, every trial (its run, seed, status, what was
    perturbed) and the comparison with its baseline (``got_worse``)."""
    return simulation_store(plane).get(simulation_id, scope(key, tenant))
