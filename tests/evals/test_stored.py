"""Evaluations stored in the journal's database on SQLite and PostgreSQL, and evaluation runs
kept in the usage ledger but out of invoices and of the spend budgets count."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agentplane.evals.evaluate import evaluate
from agentplane.evals.spec import Dataset
from agentplane.evals.store import EvalStore, NoEvaluationError
from agentplane.journal import open_store
from agentplane.metering.budgets import BudgetBook, Scope
from agentplane.metering.ledger import ALL_TIME, UsageLedger
from agentplane.metering.plans import PlansFile, invoice
from agentplane.metering.reports import usage_report
from agentplane.metering.spec import BudgetSpec

from .desk import desk, runtime

CASES = Dataset.model_validate({"name": "desk", "cases": [
    {"id": "ok", "input": "refund A1", "expect": {"contains": "Refunded"}},
    {"id": "fails", "input": "refund A1", "expect": {"contains": "nope"}}]})


async def test_evaluations_are_stored_and_read_back(database_url: str) -> None:
    store = open_store(database_url)
    engine, _ = runtime(store)
    try:
        first = await evaluate(engine, desk(), CASES, tenant="acme")
        second = await evaluate(engine, desk(), CASES, tenant="acme", compared_to=first.id)
        other = await evaluate(engine, desk(), CASES, tenant="beta")
    finally:
        await engine.aclose()
    results = EvalStore(store.database)
    try:
        for e in (first, second, other):
            results.save(e)
        results.save(second)  # saving again replaces, never duplicates
        back = results.get(second.id, "acme")
        assert back.to_json() == second.to_json()
        assert back.compared_to == first.id
        assert [c.checks for c in back.cases] == [c.checks for c in second.cases]
        listed = results.list("acme")
        assert {e["id"] for e in listed} == {first.id, second.id}
        assert {e["id"]: e["summary"] for e in listed}[second.id] == second.summary()
        assert {e["id"] for e in results.list()} == {first.id, second.id, other.id}
        with pytest.raises(NoEvaluationError, match="no evaluation"):
            results.get(other.id, "acme")  # another tenant's is not found
        with pytest.raises(NoEvaluationError):
            results.get("eval-missing")
    finally:
        results.close()
        await store.close()


async def test_evaluation_runs_are_metered_but_never_invoiced(database_url: str) -> None:
    store = open_store(database_url)
    engine, _ = runtime(store)
    try:
        await evaluate(engine, desk(), CASES, tenant="acme")
        await engine.run(desk(), "refund A1", tenant="acme")  # production work
    finally:
        await engine.aclose()
    ledger = UsageLedger(store.database)
    try:
        from agentplane.metering.pricing import catalog_pricing

        await ledger.sync(store, catalog_pricing()[0])
        by_purpose = {r["purpose"]: r for r in usage_report(ledger, by=("purpose",))}
        assert by_purpose["evaluation"]["tasks"] == 2  # visible in usage, as evaluation
        assert by_purpose[None]["tasks"] == 1
        assert by_purpose["evaluation"]["cost_usd"] > 0
        plans = PlansFile.model_validate({"plans": [{"id": "p", "usage": [
            {"unit": "tasks", "price": 1.0}, {"unit": "actions", "price": 0.5},
            {"unit": "model_cost_usd", "price": 1.0}]}], "tenants": {"acme": "p"}})
        bill = invoice(ledger, plans, tenant="acme",
                       month=datetime.now(UTC).strftime("%Y-%m"))
        lines = {line.description: line.quantity for line in bill.lines}
        assert lines["tasks"] == 1 and lines["actions"] == 2  # the production run's only
        assert lines["model_cost_usd"] == pytest.approx(by_purpose[None]["cost_usd"])
        book = BudgetBook(ledger)
        tenant_budget = BudgetSpec(id="t", scope="tenant", period="total", limit_usd=10)
        spent = book.state(tenant_budget, Scope("run-x", "acme", "desk", "clerk"), 0).spent
        assert spent == pytest.approx(by_purpose[None]["cost_usd"])
        run_budget = BudgetSpec(id="r", scope="run", period="run", limit_usd=10)
        evaluated = ledger.events(ALL_TIME, where={"purpose": "evaluation"})
        own = book.state(run_budget, Scope(evaluated[0]["run_id"], "acme", "desk", "clerk"),
                         0).spent
        assert own > 0  # an evaluation run's own budget still counts its own spend
    finally:
        ledger.close()
        await store.close()
