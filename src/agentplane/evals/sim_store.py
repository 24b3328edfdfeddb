"""Simulations kept in the journal's database (component ``evals``, table ``simulations``, see
``store.py``): one row per ``agentplane simulate`` report — its totals and per-scenario figures
(``summary``) and the whole report with every trial's run (``report``), JSON in text columns.
What the console's Evaluations page (section Simulations) and ``GET /api/v1/simulations``
read."""

from __future__ import annotations

import json
from typing import Any

from agentplane.errors import NotFoundError
from agentplane.journal import canonical_json

from .simulate import SimulationReport
from .store import ComponentStore

_COLUMNS = "id, created_at, tenant, name, workflow, workflow_hash, compared_to"


class NoSimulationError(NotFoundError):
    """No simulation has the id given (exit code 3)."""


def stored_summary(report: SimulationReport) -> dict[str, Any]:
    """What a list shows of a simulation: its totals, and per scenario trials, success rate,
    escalations, guardian blocks, cost, mean latency and whether it got worse than the
    baseline (None when not compared)."""
    worse = {r["scenario"]: bool(r["worse"]) for r in report.worse}
    compared = report.compared_to is not None
    return {**report.summary(), "per_scenario": [
        {**s.figures(), "got_worse": worse.get(s.name, False) if compared else None}
        for s in report.scenarios]}


class SimulationStore(ComponentStore):
    """Stored simulations (see ``ComponentStore`` for ``db``)."""

    def save(self, report: SimulationReport) -> None:
        """Store a simulation report (saving again replaces it)."""
        with self._db.transaction() as db:
            db.execute("DELETE FROM simulations WHERE id = ?", (report.id,))
            db.execute(f"INSERT INTO simulations({_COLUMNS}, summary, report) VALUES "
                       "(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (report.id, report.created_at, report.tenant, report.name,
                        report.workflow, report.workflow_hash, report.compared_to,
                        canonical_json(stored_summary(report)), canonical_json(report.record())))

    def list(self, tenant: str | None = None, *, limit: int = 100) -> list[dict[str, Any]]:
        """Simulations newest first (of one tenant, or all): ids, workflow and summary."""
        where, args = (" WHERE tenant = ?", [tenant]) if tenant is not None else ("", [])
        rows = self._db.query(f"SELECT {_COLUMNS}, summary FROM simulations{where} "
                              f"ORDER BY created_at DESC, id DESC LIMIT {int(limit)}", args)
        names = _COLUMNS.split(", ")
        return [{**dict(zip(names, r[:len(names)], strict=True)),
                 "summary": json.loads(r[len(names)])} for r in rows]

    def get(self, simulation_id: str, tenant: str | None = None) -> dict[str, Any]:
        """One simulation's whole report (every trial's run); another tenant's is not found."""
        row = self._db.query_one("SELECT tenant, summary, report FROM simulations WHERE id = ?",
                                 (simulation_id,))
        if row is None or (tenant is not None and row[0] != tenant):
            raise NoSimulationError(f"no simulation {simulation_id!r}; `agentplane simulate` "
                                    "stores them and the console's Evaluations page lists them")
        return {**json.loads(row[2]), "summary": json.loads(row[1])}
