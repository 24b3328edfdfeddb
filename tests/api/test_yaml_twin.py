"""A Python-built workflow and its YAML twin are one workflow: same spec, same pinned hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentplane import Agent, DefinitionError, SpecError, Workflow, parallel, step, supervisor
from agentplane.runtime import load_workflow, parse_spec

from . import desk

HERE = Path(__file__).resolve().parent


def _twin(flow: Workflow, folder: Path) -> Path:
    path = folder / f"{flow.name}.yaml"
    path.write_text(flow.to_yaml())
    return path


@pytest.mark.parametrize("flow", [desk.flow, desk.careful, desk.live],
                         ids=lambda f: f.name)
def test_to_yaml_round_trips_to_the_same_hash(flow: Workflow, tmp_path: Path) -> None:
    spec, _ = parse_spec(flow.to_yaml(), "twin.yaml")
    assert spec == flow.spec
    # loaded from a file, the twin's tools import from the file's folder: put it there
    loaded = load_workflow(_twin(flow, flow.base_dir / "tests" / "api"))
    try:
        assert loaded.hash == flow.hash == flow.resolve().hash
    finally:
        (flow.base_dir / "tests" / "api" / f"{flow.name}.yaml").unlink()


def test_yaml_leaves_defaults_out() -> None:
    text = desk.flow.to_yaml()
    assert "max_turns" not in text and "python: tests.api.desk:issue_refund" in text


def test_patterns_build_the_spec_yaml_would() -> None:
    lead = Agent("lead", script=["plan"])
    a, b = Agent("a", script=["x"]), Agent("b", script=["y"])
    helper = Agent("helper", description="checks things", script=["ok"])
    asker = Agent("asker", tools=[helper], handoffs=[b], script=["z"])
    flow = Workflow("teams", steps=[parallel(a, step(asker, input="about {input}")),
                                    supervisor(lead, [a, b])], agents=[lead])
    spec, _ = parse_spec("""\
        name: teams
        agents:
          - {name: lead, script: [{content: plan}]}
          - {name: a, script: [{content: x}]}
          - {name: asker, tools: [helper], handoffs: [b], script: [{content: z}]}
          - {name: helper, description: checks things, script: [{content: ok}]}
          - {name: b, script: [{content: y}]}
        steps:
          - parallel: [{agent: a}, {agent: asker, input: "about {input}"}]
          - {supervisor: lead, workers: [a, b]}
        """.replace("        ", ""), "teams.yaml")
    assert flow.spec == spec
    assert flow.resolve().hash == flow.hash


def test_two_agents_of_one_name_are_refused() -> None:
    with pytest.raises(DefinitionError, match="two different Agent objects are named 'a'"):
        Workflow("w", steps=[Agent("a", script=["x"]), Agent("a", script=["y"])])


def test_workflow_settings_are_those_of_the_yaml_file() -> None:
    agent = Agent("a", script=["x"])
    flow = Workflow("w", steps=[agent], tags={"department": "finance"},
                    outcome="ticket_resolved", approval_timeout_s=60,
                    budgets=[{"id": "daily", "limit_usd": 5, "period": "day"}])
    spec, _ = parse_spec("""\
        name: w
        tags: {department: finance}
        outcome: ticket_resolved
        approval_timeout_s: 60
        budgets: [{id: daily, limit_usd: 5, period: day}]
        agents: [{name: a, script: [{content: x}]}]
        steps: [{agent: a}]
        """.replace("        ", ""), "w.yaml")
    assert flow.spec == spec


def test_a_bad_workflow_is_refused_with_every_problem_named() -> None:
    with pytest.raises(SpecError) as caught:
        Workflow("bad name", steps=[Agent("a", script=["x"])],
                 tags={"x": 1})  # type: ignore[dict-item]
    problems = {(p.path, p.message.split(" (")[0]) for p in caught.value.problems}
    assert problems == {
        (("name",), "String should match pattern '^[A-Za-z][A-Za-z0-9_\\-]{0,63}$'"),
        (("tags", "x"), "Input should be a valid string")}


def test_references_are_checked_when_the_workflow_is_built() -> None:
    with pytest.raises(SpecError, match="an agent on the scripted model needs a `script:`"):
        Workflow("w", steps=[Agent("a")])


def test_a_yaml_file_runs_from_python(tmp_path: Path) -> None:
    folder = desk.flow.base_dir / "tests" / "api"
    path = _twin(desk.flow, folder)
    try:
        loaded = Workflow.load(path)
        assert (loaded.spec, loaded.hash, loaded.base_dir) == (desk.flow.spec, desk.flow.hash,
                                                               folder)
        result = loaded.run_sync("Refund order A1", db=tmp_path / "r.db")
    finally:
        path.unlink()
    assert (result.status, result.output) == ("completed", "Refunded 20 on order A1.")
    assert result.workflow_hash == desk.flow.hash


def test_a_bad_yaml_file_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: w\nagents: [{name: a, modle: x}]\nsteps: [{agent: a}]\n")
    with pytest.raises(SpecError, match=r"bad.yaml:2:\d+: agents\[0\]\.modle: unknown field"):
        Workflow.load(path)
