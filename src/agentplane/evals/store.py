"""Evaluations kept in the journal's database (component ``evals``): one row per evaluation
(``evals``: its summary) and one per case (``eval_cases``: status, checks, cost, latency), JSON
in text columns; the ``simulations`` table is declared here too (``sim_store.py`` reads it).
What the console's Evaluations page and ``GET /api/v1/evals`` read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentplane.errors import NotFoundError
from agentplane.journal import canonical_json
from agentplane.storage import Database, Migration, open_component

from .evaluate import CaseResult, Evaluation

COMPONENT = "evals"

_V1 = """
CREATE TABLE IF NOT EXISTS evals (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    tenant TEXT NOT NULL,
    dataset TEXT NOT NULL,
    workflow TEXT NOT NULL,
    workflow_hash TEXT NOT NULL,
    model TEXT,
    compared_to TEXT,
    summary TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS evals_tenant_time ON evals(tenant, created_at);
CREATE TABLE IF NOT EXISTS eval_cases (
    eval_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    case_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    status TEXT NOT NULL,
    passed INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    latency_ms REAL NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (eval_id, case_id)
);
"""

_V2 = """
CREATE TABLE IF NOT EXISTS simulations (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    workflow TEXT NOT NULL,
    workflow_hash TEXT NOT NULL,
    compared_to TEXT,
    summary TEXT NOT NULL,
    report TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS simulations_tenant_time ON simulations(tenant, created_at);
"""
"""Version 2: ``agentplane simulate`` reports (``summary``: totals and per-scenario figures;
``report``: everything, every trial's run). The same text on both back-ends."""

MIGRATIONS = (Migration(1, _V1, postgresql=_V1.replace("REAL", "DOUBLE PRECISION"),
                        note="evals, eval_cases"),
              Migration(2, _V2, note="simulations"))

_COLUMNS = "id, created_at, tenant, dataset, workflow, workflow_hash, model, compared_to"


class NoEvaluationError(NotFoundError):
    """No evaluation has the id given (exit code 3)."""


class ComponentStore:
    """The ``evals`` component's tables. ``db``: the journal store's handle (shared), or a URL
    / SQLite path to open one (closed with the store)."""

    def __init__(self, db: Database | str | Path, *, readonly: bool = False) -> None:
        self._db, self._owned = open_component(db, COMPONENT, MIGRATIONS, readonly=readonly)

    def close(self) -> None:
        if self._owned:
            self._db.close()


class EvalStore(ComponentStore):
    """Stored evaluations (see ``ComponentStore`` for ``db``)."""

    def save(self, evaluation: Evaluation) -> None:
        """Store an evaluation and its cases (one transaction; saving again replaces it)."""
        with self._db.transaction() as db:
            db.execute("DELETE FROM eval_cases WHERE eval_id = ?", (evaluation.id,))
            db.execute("DELETE FROM evals WHERE id = ?", (evaluation.id,))
            db.execute(f"INSERT INTO evals({_COLUMNS}, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                       "?)", (evaluation.id, evaluation.created_at, evaluation.tenant,
                              evaluation.dataset, evaluation.workflow, evaluation.workflow_hash,
                              evaluation.model, evaluation.compared_to,
                              canonical_json(evaluation.summary())))
            db.executemany(
                "INSERT INTO eval_cases(eval_id, position, case_id, run_id, status, passed, "
                "cost_usd, latency_ms, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(evaluation.id, i, c.case_id, c.run_id, c.status, int(c.passed), c.cost_usd,
                  c.latency_ms, canonical_json(c.to_json()))
                 for i, c in enumerate(evaluation.cases)])

    def list(self, tenant: str | None = None, *, limit: int = 100) -> list[dict[str, Any]]:
        """Evaluations newest first (of one tenant, or all): ids, workflow and summary."""
        where, args = (" WHERE tenant = ?", [tenant]) if tenant is not None else ("", [])
        rows = self._db.query(f"SELECT {_COLUMNS}, summary FROM evals{where} "
                              f"ORDER BY created_at DESC, id DESC LIMIT {int(limit)}", args)
        return [self._head(r) for r in rows]

    def get(self, eval_id: str, tenant: str | None = None) -> Evaluation:
        """One evaluation with its cases; another tenant's is not found."""
        row = self._db.query_one(f"SELECT {_COLUMNS}, summary FROM evals WHERE id = ?",
                                 (eval_id,))
        if row is None or (tenant is not None and row[2] != tenant):
            raise NoEvaluationError(f"no evaluation {eval_id!r}; `agentplane eval` stores them "
                                    "and the console's Evaluations page lists them")
        head = self._head(row)
        cases = [CaseResult.from_json(json.loads(r[0])) for r in self._db.query(
            "SELECT result FROM eval_cases WHERE eval_id = ? ORDER BY position", (eval_id,))]
        return Evaluation(head["id"], head["dataset"], head["workflow"], head["workflow_hash"],
                          head["created_at"], head["tenant"], head["model"],
                          head["compared_to"], cases)

    @staticmethod
    def _head(row: tuple[Any, ...]) -> dict[str, Any]:
        names = _COLUMNS.split(", ")
        return {**dict(zip(names, row[:len(names)], strict=True)),
                "summary": json.loads(row[len(names)])}
