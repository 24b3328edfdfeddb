"""The context settings of a workflow file: knowledge, memory and tool limits on agents, the
knowledge layer on the workflow; and the errors a bad setting gets, with its line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentplane.runtime import load_workflow

from .specfiles import DESK_ONTOLOGY as ONTOLOGY
from .specfiles import MINIMAL, only_problem, problems_of, write

pytestmark = pytest.mark.usefixtures("keep_sys_path")


FLOW = """\
name: ctx-flow
knowledge:
  ontology: ontology.yaml
  embeddings: {base_url: "http://127.0.0.1:9/v1", model: toy, api_key_env: EMB_KEY}
tools:
  - {name: lookup, python: "tools:lookup", effect: read}
agents:
  - name: a
    tools: [lookup]
    knowledge: {k: 3, budget_tokens: 800, modes: [lexical, graph], trust: trusted,
                sources: [handbook.md], per_turn: true}
    memory: {recall: [factual, experiential], k: 4, write: [experiential, procedural],
             tools: true, subject: "$.customer_id"}
    max_tools: 7
    script: [{content: done}]
steps: [{agent: a}]
"""


def test_context_settings_load(tmp_path: Path) -> None:
    (tmp_path / "ontology.yaml").write_text(ONTOLOGY, encoding="utf-8")
    spec = load_workflow(write(tmp_path, FLOW)).spec
    agent = spec.agents[0]
    assert agent.knowledge is not None and agent.memory is not None
    assert (agent.knowledge.k, agent.knowledge.budget_tokens, agent.knowledge.modes,
            agent.knowledge.trust, agent.knowledge.sources, agent.knowledge.per_turn,
            agent.knowledge.auto) == (3, 800, ["lexical", "graph"], "trusted", ["handbook.md"],
                                      True, True)
    assert (agent.memory.recall, agent.memory.k, agent.memory.write, agent.memory.tools,
            agent.memory.subject) == (["factual", "experiential"], 4,
                                      ["experiential", "procedural"], True, "$.customer_id")
    assert agent.max_tools == 7
    assert spec.knowledge is not None and spec.knowledge.embeddings is not None
    assert (spec.knowledge.ontology, spec.knowledge.embeddings.model,
            spec.knowledge.tenant_scope) == ("ontology.yaml", "toy", "run")


def test_unset_context_settings_leave_the_spec_as_before(tmp_path: Path) -> None:
    """A workflow that uses none of them dumps (and so hashes and pins runs) as before."""
    spec = load_workflow(write(tmp_path, MINIMAL)).spec
    dumped = spec.model_dump(mode="json")
    assert "knowledge" not in dumped
    assert not {"knowledge", "memory", "max_tools"} & set(dumped["agents"][0])


@pytest.mark.parametrize(("setting", "path", "expected"), [
    ("knowledge: {modes: [lexical, lexical]}", ("agents", 0, "knowledge", "modes"),
     "mode lexical listed twice"),
    ("knowledge: {modes: [telepathy]}", ("agents", 0, "knowledge", "modes", 0),
     "'lexical', 'graph' or 'vector'"),
    ("knowledge: {budget_tokens: 10}", ("agents", 0, "knowledge", "budget_tokens"), "50"),
    ("memory: {recall: [gossip]}", ("agents", 0, "memory", "recall", 0), "'factual'"),
    ("memory: {subject: 'customer id['}", ("agents", 0, "memory", "subject"),
     "e.g. $.customer_id"),
    ("memory: {write: [factual]}", ("agents", 0, "memory", "write", 0), "'experiential'"),
    ("max_tools: 0", ("agents", 0, "max_tools"), "greater than or equal to 1"),
    ("knowledge: {auto: true, kk: 3}", ("agents", 0, "knowledge", "kk"), "unknown field"),
])
def test_bad_agent_setting_is_reported_where_it_is(tmp_path: Path, setting: str,
                                                    path: tuple[str | int, ...],
                                                    expected: str) -> None:
    text = f"""\
name: bad
agents:
  - name: a
    {setting}
    script: [{{content: x}}]
steps: [{{agent: a}}]
"""
    problem = only_problem(write(tmp_path, text))
    assert problem.path == path
    assert problem.position is not None and problem.position[0] == 4
    assert expected in problem.message


def test_memory_tools_may_not_clash_with_a_declared_tool(tmp_path: Path) -> None:
    text = """\
name: clash
tools: [{name: recall, python: "tools:lookup", effect: read}]
agents:
  - name: a
    tools: [recall]
    memory: {tools: true}
    script: [{content: x}]
steps: [{agent: a}]
"""
    problem = only_problem(write(tmp_path, text))
    assert problem.path == ("agents", 0, "memory", "tools")
    assert problem.position is not None and problem.position[0] == 6
    assert "'recall'" in problem.message and "memory.tools: false" in problem.message


def test_workflow_knowledge_errors(tmp_path: Path) -> None:
    text = """\
name: bad-kb
knowledge: {ontology: missing.yaml, tenant_scope: everyone, embeddings: {model: m}}
agents: [{name: a, script: [{content: x}]}]
steps: [{agent: a}]
"""
    problems = {p.path: p.message for p in problems_of(write(tmp_path, text))}
    assert "'run'" in problems[("knowledge", "tenant_scope")]
    assert "required" in problems[("knowledge", "embeddings", "base_url")]


def test_missing_ontology_file_is_reported(tmp_path: Path) -> None:
    text = """\
name: no-onto
knowledge: {ontology: missing.yaml}
agents: [{name: a, script: [{content: x}]}]
steps: [{agent: a}]
"""
    problem = only_problem(write(tmp_path, text))
    assert problem.path == ("knowledge", "ontology")
    assert problem.position is not None and problem.position[0] == 2
    assert "file not found" in problem.message and "missing.yaml" in problem.message
