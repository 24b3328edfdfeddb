"""Stored simulations over REST (``/api/v1/simulations``) and in the console from a real server
on loopback: the Evaluations page's Simulations section (per scenario: trials, success rate,
escalations, guardian blocks, cost, latency, got worse), one simulation's trials, and a trial
run's timeline showing what the runtime perturbed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentplane.evals.sim_store import SimulationStore
from agentplane.evals.simulate import SimulationReport, simulate
from agentplane.evals.spec import ScenariosFile
from agentplane.journal import open_store
from tests.server.live import Api, live_server

from .desk import PATIENT, desk, runtime

SCENARIOS = ScenariosFile.model_validate({
    "name": "desk-stress", "trials": 2, "input": "refund A1", "expect": {"contains": "Refunded"},
    "scenarios": [
        {"name": "lookup-errors", "perturb": [{"kind": "tool_error", "tools": ["lookup_order"],
                                               "text": "lookup service down"}]},
        {"name": "lossy", "perturb": [{"kind": "drop_fields", "tools": ["lookup_order"],
                                       "fields": ["total"]}]},
    ]})


@pytest.fixture
async def simulations(db: Path, keys: dict[str, str]) -> dict[str, SimulationReport]:
    store = open_store(f"sqlite:///{db}")
    engine, _ = runtime(store)
    try:
        before = await simulate(engine, desk(), SCENARIOS, seed=3, tenant="acme")
        after = await simulate(engine, desk(PATIENT), SCENARIOS, seed=3, tenant="acme",
                               baseline=before)
        beta = await simulate(engine, desk(), SCENARIOS, seed=3, tenant="beta")
    finally:
        await engine.aclose()
    results = SimulationStore(store.database)
    for report in (before, after, beta):
        results.save(report)
    results.close()
    await store.close()
    return {"before": before, "after": after, "beta": beta}


@pytest.fixture
def base(db: Path, simulations: dict[str, SimulationReport]) -> Iterator[str]:
    with live_server(db, worker=False) as url:
        yield url


def test_the_rest_api_lists_and_shows_simulations(
        base: str, keys: dict[str, str], simulations: dict[str, SimulationReport]) -> None:
    acme = Api(base, keys["acme"])
    after = simulations["after"]
    listed = acme.ok("GET", "/simulations")
    assert [s["id"] for s in listed] in ([after.id, simulations["before"].id],
                                         [simulations["before"].id, after.id])
    head = {s["id"]: s for s in listed}[after.id]
    assert head["summary"]["got_worse"] == ["lookup-errors"]
    assert [s["scenario"] for s in head["summary"]["per_scenario"]] == ["lookup-errors", "lossy"]
    shown = acme.ok("GET", f"/simulations/{after.id}")
    assert shown["compared_to"] == simulations["before"].id
    assert len(shown["trials"]) == 4
    assert shown["scenarios"] == [s.figures() for s in after.scenarios]
    beta = acme.get(f"/simulations/{simulations['beta'].id}")
    assert beta.status_code == acme.get("/simulations/sim-nothing").status_code == 404
    assert "no simulation" in beta.text
    assert Api(base, None).get("/simulations").status_code == 401
    assert [s["id"] for s in Api(base, keys["beta"]).ok("GET", "/simulations")] == [
        simulations["beta"].id]


def test_the_console_shows_simulations_and_what_was_perturbed_in_a_run(
        base: str, keys: dict[str, str], simulations: dict[str, SimulationReport]) -> None:
    after, before = simulations["after"], simulations["before"]
    with httpx.Client(base_url=base, timeout=30) as browser:
        signed = browser.post("/login", data={"key": keys["acme"], "next": "/evals"},
                              headers={"Origin": base}, follow_redirects=True)
        assert signed.status_code == 200, signed.text
        listing = signed.text
        assert 'data-testid="simulations"' in listing
        assert f'data-simulation="{after.id}" data-scenario="lookup-errors"' in listing
        assert f'data-simulation="{before.id}" data-scenario="lossy"' in listing
        assert simulations["beta"].id not in listing
        row = listing.split(f'data-simulation="{after.id}" data-scenario="lookup-errors"')[1]
        row = row.split("</tr>")[0]
        figures = after.scenarios[0].figures()
        assert f'<td class="num">{figures["trials"]}</td>' in row
        assert f'<td class="num">{figures["escalations"]}</td>' in row
        assert "badge bad\">worse</span>" in row and f'href="/simulations/{before.id}"' in row

        page = browser.get(f"/simulations/{after.id}")
        assert page.status_code == 200
        trial = after.scenarios[0].trials[0]
        assert f'data-run="{trial.run_id}"' in page.text
        assert 'data-testid="got-worse">lookup-errors<' in page.text
        assert browser.get(f"/simulations/{simulations['beta'].id}").status_code == 404

        failed = browser.get(f"/runs/{before.scenarios[0].trials[0].run_id}").text
        perturbed = failed.split('data-type="simulation.perturbed"')
        assert len(perturbed) > 1  # an entry of its own, not a raw event
        entry = perturbed[1].split("</li>")[0]
        assert "Simulation made lookup_order fail" in entry
        assert "<dt>perturbation</dt><dd>tool_error</dd>" in entry
        assert "<dt>scenario</dt><dd>lookup-errors</dd>" in entry
        assert "<dt>trial</dt><dd>1</dd>" in entry
        assert "lookup service down" in entry
        lossy = browser.get(f"/runs/{before.scenarios[1].trials[0].run_id}").text
        entry = lossy.split('data-type="simulation.perturbed"')[1].split("</li>")[0]
        assert "<dt>perturbation</dt><dd>drop_fields</dd>" in entry
        assert "<dt>dropped</dt><dd>total</dd>" in entry
        assert "<dt>scenario</dt><dd>lossy</dd>" in entry
