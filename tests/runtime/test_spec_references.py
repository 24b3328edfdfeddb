"""Workflow specs: references between tools, agents and steps, and model names, checked at load
with the line of the offending name."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentplane.runtime import load_workflow

from .specfiles import listed, only_problem, problems_error, problems_of, write

pytestmark = pytest.mark.usefixtures("keep_sys_path")


# -- references between tools, agents and steps ---------------------------------------------------


def test_unknown_tool_in_an_agent_points_at_the_list_item(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        tools:
          - {name: lookup, python: "tools:lookup"}
          - {name: refund, python: "tools:refund"}
        agents:
          - name: a
            tools: [lookup,
                    lokup]
            script: [{content: x}]
        steps: [{agent: a}]
        """)
    problem = only_problem(path)
    assert (problem.path, problem.position) == (("agents", 0, "tools", 1), (8, 13))
    assert problem.message.startswith("unknown tool 'lokup'; declared tools: ")
    assert {"lookup", "refund"} <= listed(problem.message)
    assert f"{path}:8:13: agents[0].tools[1]: unknown tool 'lokup'" in str(problems_error(path))


def test_unknown_tool_in_a_block_list(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        agents:
          - name: a
            tools:
              - helper
              - nosuch
            script: [{content: x}]
          - name: helper
            script: [{content: x}]
        steps: [{agent: a}]
        """, tools=None)
    problem = only_problem(path)
    assert (problem.path, problem.position) == (("agents", 0, "tools", 1), (6, 9))
    # Agents may be used as tools, so they are listed too.
    assert problem.message.startswith("unknown tool 'nosuch'; declared tools: ")
    assert "helper" in listed(problem.message)



def test_agent_cannot_be_its_own_tool(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        agents:
          - name: a
            tools: [a]
            script: [{content: x}]
        steps: [{agent: a}]
        """, tools=None)
    problem = only_problem(path)
    assert (problem.path, problem.position) == (("agents", 0, "tools", 0), (4, 13))
    assert problem.message == "an agent cannot be its own tool"


def test_unknown_compensate_tool(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        tools:
          - name: refund
            python: tools:refund
            compensate: undo
        agents: [{name: a, tools: [refund], script: [{content: x}]}]
        steps: [{agent: a}]
        """)
    problem = only_problem(path)
    assert (problem.path, problem.position) == (("tools", 0, "compensate"), (5, 5))
    assert problem.message == "unknown tool 'undo'; declared tools: refund"


def test_unknown_agents_in_steps(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        agents:
          - {name: a, script: [{content: x}]}
          - {name: b, script: [{content: x}]}
        steps:
          - agent: zed
          - parallel:
              - agent: a
              - agent: why
              - parallel:
                  - agent: deep
          - supervisor: boss
            workers: [a, w1]
        """, tools=None)
    problems = problems_of(path)
    assert [(p.path, p.position) for p in problems] == [
        (("steps", 0, "agent"), (6, 5)),
        (("steps", 1, "parallel", 1, "agent"), (9, 9)),
        (("steps", 1, "parallel", 2, "parallel", 0, "agent"), (11, 13)),
        (("steps", 2, "supervisor"), (12, 5)),
        (("steps", 2, "workers", 1), (13, 18)),
    ]
    names = ["zed", "why", "deep", "boss", "w1"]
    for problem, name in zip(problems, names, strict=True):
        assert problem.message == f"unknown agent {name!r}; declared agents: a, b"


def test_handoffs_to_unknown_agent_and_to_self(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        agents:
          - name: a
            handoffs: [b,
                       ghost,
                       a]
            script: [{content: x}]
          - {name: b, script: [{content: x}]}
        steps: [{agent: a}]
        """, tools=None)
    problems = problems_of(path)
    assert [(p.path, p.position) for p in problems] == [
        (("agents", 0, "handoffs", 1), (5, 16)),
        (("agents", 0, "handoffs", 2), (6, 16)),
    ]
    assert problems[0].message == "unknown agent 'ghost'; declared agents: b"
    assert problems[1].message == "an agent cannot hand off to itself"


def test_duplicate_names(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        providers:
          - {name: p}
          - {name: p}
        tools:
          - {name: lookup, python: "tools:lookup"}
          - name: lookup
            python: tools:refund
        agents:
          - {name: a, script: [{content: x}]}
          - name: a
            script: [{content: y}]
        steps: [{agent: a}]
        """)
    problems = problems_of(path)
    assert [(p.path, p.position, p.message) for p in problems] == [
        (("tools", 1, "name"), (7, 5), "tool 'lookup' is declared twice"),
        (("agents", 1, "name"), (11, 5), "agent 'a' is declared twice"),
        (("providers", 1, "name"), (4, 6), "provider 'p' is declared twice"),
    ]


def test_a_name_cannot_be_both_tool_and_agent(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        tools: [{name: helper, python: "tools:lookup"}]
        agents:
          - {name: a, tools: [helper], script: [{content: x}]}
          - {name: helper, script: [{content: x}]}
        steps: [{agent: a}]
        """)
    problem = only_problem(path)
    assert (problem.path, problem.position) == (("agents",), (3, 1))
    assert problem.message == "'helper' names both a tool and an agent"


def test_scripted_agent_needs_a_script(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        agents:
          - name: a
            instructions: I have nothing to say.
          - name: b
            model: scripted
            script: []
        steps: [{agent: a}, {agent: b}]
        """, tools=None)
    problems = problems_of(path)
    # No `script:` key to point at in agent a: the problem points at the agent.
    assert [(p.path, p.position) for p in problems] == [
        (("agents", 0, "script"), (3, 5)),
        (("agents", 1, "script"), (7, 5)),
    ]
    assert all(p.message == "an agent on the scripted model needs a `script:`"
               for p in problems)


@pytest.mark.parametrize("model", ["openai:gpt-4o-mini", "anthropic:claude-3-5-haiku-latest",
                                   "local", "local:llama3.1:8b", "openai:"])
def test_model_forms_that_load(tmp_path: Path, model: str) -> None:
    path = write(tmp_path, f"""\
        name: t
        providers: [{{name: local, base_url: "http://127.0.0.1:9/v1"}}]
        agents:
          - name: a
            model: "{model}"
        steps: [{{agent: a}}]
        """, tools=None)
    wf = load_workflow(path)
    agent = wf.spec.agent("a")
    assert agent is not None
    assert agent.model == model


@pytest.mark.parametrize(("model", "message"), [
    ("nosuch:model", "unknown provider 'nosuch'; declared providers: anthropic, local, openai"),
    ("gpt-4o-mini", "model 'gpt-4o-mini' is neither `scripted`, a `provider:model` pair such as "
                    "openai:gpt-4o-mini, nor a declared provider"),
    ("openai", "model 'openai' is neither `scripted`, a `provider:model` pair such as "
               "openai:gpt-4o-mini, nor a declared provider"),
])
def test_model_forms_that_do_not(tmp_path: Path, model: str, message: str) -> None:
    path = write(tmp_path, f"""\
        name: t
        providers: [{{name: local}}]
        agents:
          - name: a
            instructions: hi
            model: {model}
        steps: [{{agent: a}}]
        """, tools=None)
    problem = only_problem(path)
    assert (problem.path, problem.position) == (("agents", 0, "model"), (6, 5))
    assert problem.message == message


def test_ensemble_judge_and_guardian_models_are_checked_at_load(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        providers: [{name: local}]
        routers: [{name: cheap, candidates: [{model: local}]}]
        guardians:
          agent: {name: guard, model: "nosuch:m", script: [{content: "{}"}]}
        agents:
          - name: a
            instructions: hi
            model: local
          - name: b
            instructions: hi
            model: local
        steps:
          - agent: a
            ensemble:
              models: ["openai:gpt-4o-mini", "gpt-4o", "router:cheap", "router:none"]
              judge: {model: "mystery:judge"}
          - agent: b
            verify: {judge: {model: "local:llama3", rubric: "ok?"}}
          - agent: b
            verify: {judge: {model: "other", rubric: "ok?"}}
        """, tools=None)
    found = {p.path: p.message for p in problems_of(path)}
    assert found == {
        ("steps", 0, "ensemble", "models", 1):
            "model 'gpt-4o' is neither `scripted`, a `provider:model` pair such as "
            "openai:gpt-4o-mini, nor a declared provider",
        ("steps", 0, "ensemble", "models", 3):
            "unknown router 'none'; declared routers: cheap",
        ("steps", 0, "ensemble", "judge", "model"):
            "unknown provider 'mystery'; declared providers: anthropic, local, openai",
        ("steps", 2, "verify", "judge", "model"):
            "model 'other' is neither `scripted`, a `provider:model` pair such as "
            "openai:gpt-4o-mini, nor a declared provider",
        ("guardians", "agent", "model"):
            "unknown provider 'nosuch'; declared providers: anthropic, local, openai",
    }
