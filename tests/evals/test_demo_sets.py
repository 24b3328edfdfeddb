"""The eval sets and stress scenarios shipped for the demo workflows run here, so CI runs them:
every case passes, every scenario perturbs what it declares, and the commands' exit codes and
JUnit / JSON files are what CI gates on."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agentplane.demo import WORKFLOWS_DIR
from agentplane.evals.evaluate import evaluate
from agentplane.evals.sim_store import SimulationStore
from agentplane.evals.simulate import simulate
from agentplane.evals.spec import load_dataset, load_scenarios
from agentplane.journal import JournalStore, open_store
from agentplane.runtime import Runtime, load_workflow
from tests.cli.harness import failed, make_cli

EVALS = sorted((WORKFLOWS_DIR.parent / "evals").glob("*.yaml"))
SCENARIOS = sorted((WORKFLOWS_DIR.parent / "scenarios").glob("*.yaml"))


def test_the_demo_ships_eval_sets_and_scenarios_for_its_workflows() -> None:
    assert [p.stem for p in EVALS] == ["incident-triage", "injected-mail", "refund-desk"]
    assert [p.stem for p in SCENARIOS] == ["injected-mail", "refund-desk"]
    for path in [*EVALS, *SCENARIOS]:
        assert (WORKFLOWS_DIR / path.name).is_file()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[JournalStore]:
    journal = open_store(f"sqlite:///{tmp_path / 'j.db'}")
    yield journal
    await journal.close()


@pytest.mark.parametrize("path", EVALS, ids=[p.stem for p in EVALS])
async def test_every_demo_case_passes(store: JournalStore, path: Path) -> None:
    engine = Runtime(store)
    try:
        evaluation = await evaluate(engine, load_workflow(WORKFLOWS_DIR / path.name),
                                    load_dataset(path))
    finally:
        await engine.aclose()
    assert [(c.case_id, [k.detail for k in c.checks if not k.passed])
            for c in evaluation.failed] == []


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
async def test_every_demo_scenario_perturbs_what_it_declares(store: JournalStore,
                                                            path: Path) -> None:
    file = load_scenarios(path)
    engine = Runtime(store)
    try:
        report = await simulate(engine, load_workflow(WORKFLOWS_DIR / path.name), file,
                                trials=2, seed=1)
    finally:
        await engine.aclose()
    declared = {s.name: {p.kind for p in s.perturb if p.probability == 1.0}
                for s in file.scenarios}
    for scenario in report.scenarios:
        kinds = {c["kind"] for t in scenario.trials for c in t.perturbed}
        assert declared[scenario.name] <= kinds, scenario.name
    baseline = next(s for s in report.scenarios if s.name == "baseline")
    assert baseline.figures()["success_rate"] == 1.0


def test_the_commands_gate_ci_with_exit_codes_junit_and_json(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    refund = WORKFLOWS_DIR / "refund-desk.yaml"
    dataset = WORKFLOWS_DIR.parent / "evals" / "refund-desk.yaml"
    cli.ok("eval", dataset, refund, "--junit", tmp_path / "out.xml", "--json",
           tmp_path / "out.json")
    suite = ET.parse(tmp_path / "out.xml").getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("3", "0")
    stored = json.loads((tmp_path / "out.json").read_text())["evaluations"][0]["id"]
    assert stored.startswith("eval-")
    strict = tmp_path / "strict.yaml"
    strict.write_text("name: strict\ncases:\n  - {id: cheap, input: x, "
                      "expect: {max_cost_usd: 0}}\n")
    result = cli("eval", strict, refund, "--against-model", "scripted:gpt-4o")
    assert result.returncode == 1, result.stderr
    assert "cheap" in result.stdout and "FAIL" in result.stdout
    assert "against eval-" in result.stdout
    assert "none.yaml: (top level): file not found" in failed(
        cli("eval", tmp_path / "none.yaml", refund), 2)
    shown = cli.ok("simulate", WORKFLOWS_DIR.parent / "scenarios" / "refund-desk.yaml", refund,
                   "--trials", "1", "--seed", "2", "--against", refund).stdout
    assert "provider-outage" in shown and "worse than" in shown


def test_simulate_exits_1_naming_the_scenarios_a_new_version_made_worse(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    refund = WORKFLOWS_DIR / "refund-desk.yaml"
    (tmp_path / "tools.py").write_text((WORKFLOWS_DIR / "tools.py").read_text())
    chatty = tmp_path / "chatty.yaml"  # one more model call: more exposed to provider outages
    chatty.write_text(refund.read_text().replace(
        "      - content: Refunded 20.00", "      - content: Let me check the order once more.\n"
        "        tool_calls: [{name: lookup_order, arguments: {order_id: A1}}]\n"
        "      - content: Refunded 20.00"))
    result = cli("simulate", WORKFLOWS_DIR.parent / "scenarios" / "refund-desk.yaml", chatty,
                 "--against", refund, "--seed", "3", "--json", tmp_path / "sim.json")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout.splitlines()[-1].endswith(": provider-outage")
    rows = json.loads((tmp_path / "sim.json").read_text())["comparison"]
    worse = {r["scenario"]: r for r in rows if r["worse"]}
    assert list(worse) == ["provider-outage"]
    assert worse["provider-outage"]["success_rate"] < worse["provider-outage"][
        "success_rate_before"]
    # both reports are stored, the new one against the baseline (console: Simulations)
    reports = json.loads((tmp_path / "sim.json").read_text())["reports"]
    stored = SimulationStore(tmp_path / "x.db")
    try:
        listed = {s["id"]: s for s in stored.list()}
        assert set(listed) == {r["id"] for r in reports}
        assert listed[reports[1]["id"]]["compared_to"] == reports[0]["id"]
        assert listed[reports[1]["id"]]["summary"]["got_worse"] == ["provider-outage"]
    finally:
        stored.close()
