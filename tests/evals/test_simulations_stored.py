"""Simulation reports stored in the journal's database (component ``evals``, migration 2) on
SQLite and PostgreSQL: saved, listed per tenant with their per-scenario figures and what got
worse than the baseline, read back whole; another tenant's is not found."""

from __future__ import annotations

import pytest

from agentplane.evals.sim_store import NoSimulationError, SimulationStore
from agentplane.evals.simulate import simulate
from agentplane.evals.spec import ScenariosFile
from agentplane.journal import open_store
from agentplane.storage import open_database, schema_versions

from .desk import PATIENT, desk, runtime

SCENARIOS = ScenariosFile.model_validate({
    "name": "desk-stress", "trials": 2, "input": "refund A1", "expect": {"contains": "Refunded"},
    "scenarios": [
        {"name": "calm"},
        {"name": "lookup-errors", "perturb": [{"kind": "tool_error", "tools": ["lookup_order"]}]},
    ]})


async def test_simulations_are_stored_listed_and_read_back(database_url: str) -> None:
    store = open_store(database_url)
    engine, _ = runtime(store)
    try:
        before = await simulate(engine, desk(), SCENARIOS, seed=1, tenant="acme")
        after = await simulate(engine, desk(PATIENT), SCENARIOS, seed=1, tenant="acme",
                               baseline=before)
        other = await simulate(engine, desk(), SCENARIOS, seed=1, tenant="beta")
    finally:
        await engine.aclose()
    results = SimulationStore(store.database)
    try:
        for report in (before, after, other):
            results.save(report)
        results.save(after)  # saving again replaces, never duplicates
        listed = results.list("acme")
        assert [s["id"] for s in listed].count(after.id) == 1
        assert {s["id"] for s in listed} == {before.id, after.id}
        head = {s["id"]: s for s in listed}[after.id]
        assert (head["compared_to"], head["workflow"]) == (before.id, "desk")
        per_scenario = {s["scenario"]: s for s in head["summary"]["per_scenario"]}
        assert per_scenario["calm"]["trials"] == 2
        assert per_scenario["calm"]["success_rate"] == 1.0
        assert per_scenario["lookup-errors"]["escalations"] > 0  # the patient clerk loops
        assert per_scenario["lookup-errors"]["got_worse"] is True
        assert per_scenario["calm"]["got_worse"] is False
        assert head["summary"]["got_worse"] == ["lookup-errors"]
        assert {s["scenario"]: s["got_worse"] for s in
                {x["id"]: x for x in listed}[before.id]["summary"]["per_scenario"]} == {
            "calm": None, "lookup-errors": None}  # not compared with anything
        shown = results.get(after.id, "acme")
        assert shown["trials"] == [t.to_json() for s in after.scenarios for t in s.trials]
        assert shown["got_worse"] == after.worse and shown["seed"] == 1
        assert {s["id"] for s in results.list()} == {before.id, after.id, other.id}
        with pytest.raises(NoSimulationError, match="no simulation"):
            results.get(other.id, "acme")
        with pytest.raises(NoSimulationError):
            results.get("sim-missing")
    finally:
        results.close()
        await store.close()
    handle = open_database(database_url)
    try:
        assert schema_versions(handle)["evals"] == 2
    finally:
        handle.close()
